//! Image access for sealwatch.
//!
//! Every byte that comes from an image source is hostile: manifests and blobs are checked against their
//! descriptor's digest *and* size while they stream, decompressed sizes are bounded, and layer paths are
//! never written to the host filesystem.

pub mod digest;
mod error;
mod archive;
pub mod cache;
mod docker_archive;
mod image;
mod layout;
pub mod manifest;
mod rootfs;
pub mod source;
mod spec;
pub mod squash;
mod writer;
pub mod reference;
pub mod registry;

pub use digest::{Digest, VerifyingReader};
pub use error::{Error, Result};
pub use manifest::{Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, Platform};
pub use cache::{BlobCache, CachingSource};
pub use docker_archive::DockerArchiveSource;
pub use image::{CacheSetting, Image, LayerInfo, Limits, OpenOptions};
pub use layout::OciLayoutSource;
pub use source::{BlobSource, RootManifest};
pub use spec::ImageSpec;
pub use squash::{EntryKind, FileEntry, FileRequest, SquashedFs};
pub use writer::OciLayoutWriter;
pub use reference::Reference;

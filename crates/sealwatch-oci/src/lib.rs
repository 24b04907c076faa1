//! Image access for sealwatch.
//!
//! Every byte that comes from an image source is hostile: manifests and blobs are checked against their
//! descriptor's digest *and* size while they stream, decompressed sizes are bounded, and layer paths are
//! never written to the host filesystem.
//!
//! # Using it
//!
//! ```no_run
//! use sealwatch_oci::{FileRequest, Image, ImageSpec, OpenOptions};
//! # fn main() -> sealwatch_oci::Result<()> {
//! let spec: ImageSpec = "oci:/images/alpine:3.20.3".parse()?; // or ImageSpec::detect(path)
//! let image = Image::open(&spec, &OpenOptions::default())?;
//! let request = FileRequest::new().path("etc/os-release").glob("var/lib/dpkg/status.d/*")?;
//! let files = image.read_files(&request)?; // metadata of every entry, content of requested ones
//! let os_release = files.read("etc/os-release")?; // follows symlinks inside the image root
//! # let _ = os_release; Ok(()) }
//! ```
//!
//! # How it is put together
//!
//! - [`ImageSpec`] names an image (`docker-archive:`, `oci:`, `oci-archive:`, `rootfs:`/`dir:`, or a
//!   registry [`Reference`]).
//! - A [`BlobSource`] serves the root manifest and blobs: [`OciLayoutSource`] (folder or archive),
//!   [`DockerArchiveSource`] (synthesizes a manifest whose layers are the `layer.tar` files keyed by
//!   diff_id), `registry::RegistrySource`; [`CachingSource`] puts a [`BlobCache`] in front of one.
//! - [`Image::from_source`] does everything format-independent: media types, platform selection,
//!   [`Limits`], config verification. [`Image::read_files`] streams every layer once, in parallel,
//!   through `VerifyingReader` (digest + size) → decompressor → diff_id hash → tar walker, then
//!   merges layers into a [`SquashedFs`] (see [`squash`] for how symlinked requests are served).
//! - Manifest types are our own serde types, not `oci-spec`'s: see [`manifest`] for why.
//!
//! Invariants: no layer path is ever written to disk (archives are indexed by offset; a gzip'd
//! archive is inflated into an anonymous temp file); every blob is verified by digest *and* size
//! before its content is trusted; symlink resolution never leaves the image root.

mod archive;
pub mod cache;
pub mod digest;
mod docker_archive;
mod error;
mod image;
mod layer_cache;
mod layout;
pub mod manifest;
pub mod reference;
pub mod registry;
mod rootfs;
pub mod source;
mod spec;
pub mod squash;
mod writer;

pub use cache::{BlobCache, CachingSource};
pub use digest::{Digest, VerifyingReader};
pub use docker_archive::DockerArchiveSource;
pub use error::{Error, Result};
pub use image::{CacheSetting, Image, LayerInfo, Limits, OpenOptions};
pub use layout::OciLayoutSource;
pub use manifest::{Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, Platform};
pub use reference::Reference;
pub use source::{BlobSource, RootManifest};
pub use spec::ImageSpec;
pub use squash::{EntryKind, FileEntry, FileRequest, SquashedFs};
pub use writer::OciLayoutWriter;

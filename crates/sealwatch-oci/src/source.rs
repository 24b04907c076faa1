//! Where an image's bytes come from. Each source (OCI layout, oci-archive, docker-archive, registry)
//! implements [`BlobSource`]; [`crate::Image::open`] does the rest (media types, platform selection,
//! verification, limits) the same way for all of them.

use std::io::Read;

use crate::manifest::Descriptor;
use crate::{Digest, Result};

/// The manifest or index a user's image reference names.
#[derive(Debug, Clone)]
pub struct RootManifest {
    /// The document's bytes, exactly as stored or served.
    pub bytes: Vec<u8>,
    /// Media type from the descriptor or the registry's `Content-Type`, if known.
    pub media_type: Option<String>,
    /// The document's digest, if it is content-addressed (registry or OCI layout). A source that
    /// knows it must have verified `bytes` against it.
    pub digest: Option<Digest>,
    /// True when the source made the manifest up because its format has none (docker-archive):
    /// the image then has no manifest digest.
    pub synthesized: bool,
}

/// A source of manifests and blobs for one image reference.
///
/// Implementations return bytes as they are stored; callers verify digests and sizes
/// (`manifest` is the exception: it returns bytes already verified against `desc`, so that a
/// registry can verify at the place where it knows what it fetched).
pub trait BlobSource: Send + Sync {
    /// The manifest or index the user's reference names.
    fn root_manifest(&self) -> Result<RootManifest>;

    /// A child manifest of an index, verified against `desc` (digest + size).
    fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>>;

    /// A blob stream (config or layer); the caller wraps it in [`crate::VerifyingReader`].
    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>>;

    /// A short human description for messages, e.g. `oci:/path/to/layout:tag`.
    fn describe(&self) -> String;
}

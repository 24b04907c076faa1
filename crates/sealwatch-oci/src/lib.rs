//! Image access for sealwatch.
//!
//! Every byte that comes from an image source is hostile: manifests and blobs are checked against their
//! descriptor's digest *and* size while they stream, decompressed sizes are bounded, and layer paths are
//! never written to the host filesystem.

pub mod digest;
mod error;

pub use digest::{Digest, VerifyingReader};
pub use error::{Error, Result};

use std::path::PathBuf;

/// Everything that can go wrong while reading an image. Each variant names what it was about
/// (digest, path, reference) so that the message alone tells the user what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest { digest: String, reason: &'static str },

    #[error("blob {expected} failed verification: content hashes to {actual}")]
    DigestMismatch { expected: String, actual: String },

    #[error("blob {digest} failed verification: descriptor says {expected} bytes, got {actual}")]
    SizeMismatch { digest: String, expected: u64, actual: u64 },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

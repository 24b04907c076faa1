//! The crate's error type. Loading problems are [`crate::Diagnostic`]s and verdicts are
//! [`crate::Decision`]s; this enum is for calls whose input cannot be processed at all.

/// Errors of `sealwatch-policy`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference that cannot be parsed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidImageReference { reference: String, reason: String },
}

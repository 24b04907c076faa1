//! The crate's error type: problems that stop the server or a load from happening at all.
//! Bad admission requests are HTTP responses and verdicts are decisions, not errors.

use std::path::PathBuf;

/// Errors of `sealwatch-admission`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy or resource file or folder could not be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be used.
    #[error("invalid TLS material in {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    /// The TLS configuration was rejected by rustls.
    #[error("cannot configure TLS")]
    TlsConfig(#[source] tokio_rustls::rustls::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The body is not an AdmissionReview v1 request.
    #[error("invalid AdmissionReview: {reason}")]
    InvalidReview { reason: String },
    /// The Kubernetes API client could not be set up.
    #[error("Kubernetes API: {reason}")]
    KubeApi { reason: String },
    /// The labels of a namespace could not be looked up.
    #[error("cannot look up the labels of namespace {namespace}: {reason}")]
    NamespaceLookup { namespace: String, reason: String },
    /// A Kyverno CLI values file is invalid or uses what sealwatch does not read.
    #[error("{file}:{line}:{column}: {message}")]
    Values {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A resource manifest could not be parsed.
    #[error("{file}:{line}:{column}: {message}")]
    Manifest {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

use std::path::PathBuf;

/// Everything that can go wrong while reading an image. Each variant names what it was about
/// (digest, path, reference) so that the message alone tells the user what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        digest: String,
        reason: &'static str,
    },

    #[error("blob {expected} failed verification: content hashes to {actual}")]
    DigestMismatch { expected: String, actual: String },

    #[error("blob {digest} failed verification: descriptor says {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },

    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },

    // ----- registry client -----
    #[error("docker config {path}: {reason}")]
    DockerConfig { path: PathBuf, reason: String },

    #[error("CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },

    #[error("cannot set up the HTTP client: {source}")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },

    #[error("authentication failed for {registry}/{repository}: {detail}")]
    AuthenticationFailed {
        registry: String,
        repository: String,
        detail: String,
    },

    #[error("access denied to {registry}/{repository}: {message}")]
    AccessDenied {
        registry: String,
        repository: String,
        message: String,
    },

    #[error("manifest unknown: {reference}")]
    ManifestUnknown { reference: String },

    #[error("repository unknown: {registry}/{repository}")]
    NameUnknown {
        registry: String,
        repository: String,
    },

    #[error("blob unknown: {registry}/{repository}@{digest}")]
    BlobUnknown {
        registry: String,
        repository: String,
        digest: String,
    },

    /// `detail` is the distribution error code and message (`DIGEST_INVALID: …`), or the body's start.
    #[error("registry {registry}: {what} in {repository} failed with HTTP {status}: {detail}")]
    RegistryStatus {
        registry: String,
        repository: String,
        what: String,
        status: u16,
        detail: String,
    },

    #[error("registry {registry} did not answer {what} in {repository} within {timeout:?}")]
    RegistryTimeout {
        registry: String,
        repository: String,
        what: String,
        timeout: std::time::Duration,
        #[source]
        source: reqwest::Error,
    },

    #[error("registry {registry}: {what} in {repository} failed: {source}")]
    RegistryTransport {
        registry: String,
        repository: String,
        what: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("registry {registry}: reading the answer to {what} in {repository} failed: {source}")]
    RegistryRead {
        registry: String,
        repository: String,
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error("registry {registry}: unexpected answer to {what}: {reason}")]
    RegistryProtocol {
        registry: String,
        what: String,
        reason: String,
    },

    #[error("manifest {reference} is larger than the limit of {limit} bytes")]
    ManifestTooLarge { reference: String, limit: u64 },

    #[error(
        "manifest {reference} failed verification: expected {expected}, content hashes to {actual}"
    )]
    ManifestDigestMismatch {
        reference: String,
        expected: String,
        actual: String,
    },

    #[error("writing blob {digest} failed: {source}")]
    BlobWrite {
        digest: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{what} {digest}: {source}")]
    BadJson {
        /// What the document is: "manifest", "index", "image config", "index.json", "manifest.json".
        what: &'static str,
        /// Digest, or path when the document has no digest.
        digest: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("{what} {digest} has unsupported media type {media_type:?}")]
    UnsupportedMediaType {
        what: &'static str,
        digest: String,
        media_type: String,
    },

    #[error("{what} {digest} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        digest: String,
        size: u64,
        limit: u64,
    },

    #[error("image has {count} layers, over the limit of {limit}")]
    TooManyLayers { count: usize, limit: usize },

    #[error("image {source_name}: {reason}")]
    InvalidImage { source_name: String, reason: String },

    #[error("no manifest for platform {platform} in index {index} (available: {available})")]
    NoMatchingPlatform {
        platform: String,
        index: String,
        available: String,
    },

    #[error("invalid platform {platform:?}: expected os/arch[/variant]")]
    InvalidPlatform { platform: String },

    #[error("blob {digest} not found in {source_name}")]
    BlobNotFound { source_name: String, digest: String },

    #[error("layer {layer}: {reason}")]
    BadLayer { layer: String, reason: String },

    #[error("layer {layer}: reading the layer failed: {source}")]
    LayerRead {
        layer: String,
        #[source]
        source: std::io::Error,
    },

    #[error("layer {layer}: entry {entry:?} escapes the image root")]
    UnsafeLayerPath { layer: String, entry: String },

    #[error(
        "layer {layer}: uncompressed content {diff_id_actual} does not match diff_id {diff_id}"
    )]
    DiffIdMismatch {
        layer: String,
        diff_id: String,
        diff_id_actual: String,
    },

    #[error("decompressed image content is over the limit of {limit} bytes (at layer {layer})")]
    DecompressedTooLarge { layer: String, limit: u64 },

    #[error("{path}: too many symbolic links (loop?) while resolving")]
    SymlinkLoop { path: String },

    #[error("{path}: file content was not requested, so it was not kept")]
    ContentNotKept { path: String },

    #[error("invalid glob pattern {pattern:?}: {source}")]
    BadGlob {
        pattern: String,
        #[source]
        source: globset::Error,
    },

    #[error("cache {path}: {reason}")]
    Cache { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

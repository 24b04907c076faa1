//! Kyverno-compatible admission webhook: the only sealwatch crate that knows Kubernetes JSON.
//!
//! - [`review`]: AdmissionReview v1 decoding and responses (uid echo, 403 denials with a
//!   message, warnings cut to 120 characters, base64 `JSONPatch` on the mutating path only).
//! - [`engine::Admission`]: policies in force, [`verify::ImageVerifier`] calls through a
//!   bounded TTL cache with single-flight, bounded by the request's `?timeout=`, and
//!   `sealwatch_policy::decide`.
//! - [`server`]: HTTPS (hyper 1 + tokio-rustls, HTTP/1.1) with `/mutate`, `/validate`,
//!   `/healthz`, `/readyz`, `/metrics`, body limits, graceful shutdown and policy reload.
//! - [`files`]: policy and manifest loading for `serve` and `policy apply`.
//! - [`namespaces`]: namespace labels for `namespaceSelector` (manifests, values files, and
//!   a TTL-cached Kubernetes API lookup).
//!
//! hyper is used directly rather than axum: five fixed routes do not need a router, and the
//! webhook's latency budget is in the low milliseconds. The server keeps no state that
//! replicas would have to share (the cache is an optimisation), so it scales out as a plain
//! Deployment.
#![forbid(unsafe_code)]

pub mod engine;
mod error;
pub mod files;
pub mod metrics;
pub mod namespaces;
pub mod registry;
pub mod review;
pub mod server;
pub mod verify;

pub use engine::{evaluate_offline, Admission, ReviewOutcome};
pub use error::Error;
pub use registry::RegistryVerifier;
pub use review::{decode_review, Phase, ReviewRequest};
pub use server::{ServerConfig, Webhook};
pub use verify::{CacheConfig, ImageVerifier, UnavailableVerifier};

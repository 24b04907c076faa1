//! sealwatch-trust: cosign key formats, simple-signing payloads, DSSE and in-toto statements,
//! signature checks, and Sigstore bundle verification. Pure: no file or network I/O; callers pass
//! bytes (and, for key generation, a random number generator).
//!
//! * [`keys`]: [`PrivateKey`] / [`PublicKey`] for ECDSA P-256 / P-384, Ed25519 and RSA, read from
//!   and written to the PEM files cosign uses; [`cosign_key`] is cosign's encrypted key envelope.
//! * [`payload`]: the simple-signing payload, byte-compatible with cosign's JSON.
//! * [`dsse`]: DSSE envelopes, PAE, in-toto statements and predicate types.
//! * [`cosign`]: media types, annotation keys and tag names of cosign's registry layout.
//! * [`verify`]: signature checks producing [`VerifiedSignature`] / [`VerifiedEnvelope`], and the
//!   claim checks (payload digest == image digest, repository match).
//! * [`bundle`]: Sigstore bundle verification on top of the `sigstore-verify` crates, which are
//!   used instead of hand-written X.509 / transparency-log / timestamp checks because they pass
//!   the whole sigstore-conformance suite offline. Legacy cosign `.sig` layers with a Rekor bundle
//!   are restated as bundle v0.1 and go through the same checks ([`bundle::verify_cosign_layer`]).
//! * [`keyless`]: Fulcio / Rekor request and answer JSON for keyless signing, and writing Sigstore
//!   bundles v0.3 and cosign's certificate / Rekor-bundle annotations from them.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod cosign;
pub mod cosign_key;
pub mod digest;
pub mod dsse;
pub mod error;
pub mod keyless;
pub mod keys;
pub mod payload;
pub mod verify;

pub use digest::{Digest, DigestAlgorithm};
pub use error::{Error, Result};
pub use keys::{KeyType, PrivateKey, PublicKey};
pub use payload::SimpleSigningPayload;
pub use verify::{verify_envelope, verify_signature, VerifiedEnvelope, VerifiedSignature};

//! sealwatch-sign: sign, attest and verify container images in an OCI registry, in cosign's
//! registry layout, so that cosign verifies what sealwatch signs and the other way round.
//!
//! # API (stable; the admission webhook builds on it)
//!
//! ```text
//! resolve_digest(&RegistryClient, &Reference) -> Result<Digest, SignError>
//! sign_image(&RegistryClient, &Reference, &PrivateKey, &SignOptions) -> Result<Signed, SignError>
//! attest_image(&RegistryClient, &Reference, &PrivateKey, &AttestOptions) -> Result<Signed, SignError>
//! verify_image(&RegistryClient, &Reference, &VerifyOptions) -> Result<VerifiedImage, SignError>
//!     VerifiedImage { digest, signatures: Vec<VerifiedSignature { key_index, key_id, location,
//!                     payload_bytes, payload: SimpleSigningPayload }> }
//! verify_attestations(&RegistryClient, &Reference, &VerifyOptions, predicate_type: Option<&str>)
//!     -> Result<VerifiedAttestations, SignError>
//!     VerifiedAttestations { digest, attestations: Vec<VerifiedAttestation { key_index, key_id,
//!                     location, statement: Statement, predicate: serde_json::Value }> }
//! SignError::is_not_verified()  // true: evidence does not verify (exit 1 / deny with reason)
//!                                // false: could not check (exit 2 / fail closed)
//! ```
//!
//! `verify_*` succeed only when at least one signature verifies; otherwise they return
//! [`SignError::NoSignatures`] or [`SignError::NotVerified`] carrying one [`Rejection`] (place +
//! reason) per signature found.
//!
//! # Layout (see the signing reference, sections 1.1–1.4)
//!
//! * Signatures: an OCI image manifest at tag `sha256-<hex>.sig` of the image's repository; one
//!   layer per signature, media type `application/vnd.dev.cosign.simplesigning.v1+json`, blob =
//!   simple-signing payload, annotation `dev.cosignproject.cosign/signature` = base64 signature.
//!   A new signature is appended to the existing manifest (read-modify-write, as cosign does).
//! * Attestations: the same at `sha256-<hex>.att`, layers `application/vnd.dsse.envelope.v1+json`
//!   holding a DSSE envelope of an in-toto statement, annotation `predicateType`.
//! * Discovery when verifying: the OCI 1.1 referrers API first (or, when the registry has none,
//!   the referrers tag schema `sha256-<hex>`), then the legacy tags. Referrers holding Sigstore
//!   bundles (cosign v3) are verified like the legacy layers.
//! * Bundles ([`SignatureFormat::Bundle`]): an OCI 1.1 artifact manifest (`artifactType` and the
//!   one layer `application/vnd.dev.sigstore.bundle.v0.3+json`, empty config, `subject` = the image
//!   manifest) pushed by digest; when the registry has no referrers API it is also appended to
//!   the OCI index at tag `sha256-<hex>` (read-modify-write, entries kept).
//! * Keyless ([`Signer::Keyless`]): the signature carries the Fulcio leaf (and chain) and the
//!   Rekor entry — as `dev.sigstore.cosign/{certificate,chain,bundle}` annotations in the legacy
//!   layout, inside the bundle otherwise — and verifies against a Sigstore trusted root.
//!
//! Why not the `sigstore` crate's `cosign` module: it brings its own registry client (oci-client)
//! and 267–335 crates, while sealwatch already has a digest-verifying registry client
//! (`sealwatch-oci`) and the cosign payload / DSSE / key code (`sealwatch-trust`); what is left
//! here is the layout glue, which is small.
//!
//! Everything read from the registry is hostile: manifests and blobs are digest- and
//! size-verified by the registry client, layer counts and blob sizes are bounded before anything
//! is downloaded, and payloads are verified over the exact bytes received.
#![forbid(unsafe_code)]

mod blob;
mod discover;
mod error;
mod keyless;
mod predicate;
mod store;
mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use blob::sign_blob_keyless;
pub use error::{with_causes, SignError};
pub use keyless::{KeylessConfig, KeylessSigner};
pub use predicate::{predicate_type_for, vuln_predicate, ScannerInfo};
pub use sealwatch_oci::registry::RegistryClient;
pub use sealwatch_oci::{Digest, Reference};
pub use sealwatch_trust::bundle::{Matcher, TrustedRoot};
pub use sealwatch_trust::dsse::Statement;
pub use sealwatch_trust::keyless::IdentityToken;
pub use sealwatch_trust::{PrivateKey, PublicKey, SimpleSigningPayload};
pub use store::{attest_image, attest_image_with, resolve_digest, sign_image, sign_image_with};
pub use verify::{verify_attestations, verify_image};

/// Most layers read from one signature or attestation manifest. cosign writes one layer per
/// signature; a manifest with more than this is refused rather than downloaded layer by layer.
pub const MAX_SIGNATURE_LAYERS: usize = 1000;
/// Largest simple-signing payload blob downloaded (cosign's are a few hundred bytes).
pub const MAX_PAYLOAD_SIZE: u64 = 1 << 20;
/// Largest DSSE envelope blob downloaded (an SBOM predicate can be several MiB).
pub const MAX_ENVELOPE_SIZE: u64 = 64 << 20;

/// How a signature or attestation is stored in the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SignatureFormat {
    /// cosign's legacy layout: one layer per signature in the manifest at `sha256-<hex>.sig`
    /// (`.att` for attestations).
    #[default]
    Legacy,
    /// cosign v3's layout: a Sigstore bundle v0.3 (DSSE of an in-toto v1 statement) in an OCI 1.1
    /// referrer manifest whose subject is the image; on registries without the referrers API the
    /// referrer is also listed in the index at tag `sha256-<hex>` (the referrers tag schema).
    Bundle,
}

/// Who signs: a managed key, or an ephemeral key certified by Fulcio and logged in Rekor.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A private key the user holds (no transparency-log upload).
    Key(&'a PrivateKey),
    /// Keyless: the signature carries a Fulcio certificate and a Rekor entry.
    Keyless(&'a KeylessSigner),
}

/// What `sign_image` needs besides the signer.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// `-a key=value` annotations, written into the payload's `optional` object (legacy) or the
    /// statement subject's `annotations` (bundle).
    pub annotations: BTreeMap<String, String>,
    /// Where and how the signature is stored.
    pub format: SignatureFormat,
}

/// What `attest_image` signs.
#[derive(Debug, Clone)]
pub struct AttestOptions {
    /// The predicate type URI (see [`predicate_type_for`] for cosign's short names).
    pub predicate_type: String,
    /// The predicate, put into the statement unchanged.
    pub predicate: serde_json::Value,
    /// Where and how the attestation is stored.
    pub format: SignatureFormat,
}

/// The result of `sign_image` / `attest_image`.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The image manifest digest that was signed.
    pub digest: Digest,
    /// Where the signature manifest was pushed (`…:sha256-<hex>.sig` or `.att`, or the referrer
    /// manifest by digest).
    pub location: Reference,
    /// Digest of the signature manifest as pushed.
    pub manifest_digest: Digest,
    /// Number of signatures stored there now: layers of the legacy manifest, or referrers listed
    /// in the tag-schema index (1 when the registry indexes referrers itself).
    pub layer_count: usize,
    /// The blob that was signed: simple-signing payload, or DSSE envelope JSON.
    pub blob: Vec<u8>,
    /// True when the registry had no manifest at that tag before.
    pub created: bool,
}

/// Keyless verification: who must hold the Fulcio certificate, and the trust material.
#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    /// The certificate's SAN identity.
    pub identity: Matcher,
    /// The certificate's OIDC issuer.
    pub issuer: Matcher,
    /// Fulcio roots, CT logs and Rekor keys (the embedded production root or a custom one).
    pub trusted_root: Arc<TrustedRoot>,
}

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Trusted public keys: a signature verifying with any of them counts.
    pub keys: Vec<PublicKey>,
    /// Keyless signatures (a Fulcio certificate with a Rekor entry) count when they match this.
    pub keyless: Option<KeylessPolicy>,
    /// Also check that the payload's `docker-reference` names the image's repository (the CLI
    /// turns this off with `--skip-reference-check`). The digest claim is always checked.
    pub check_reference: bool,
}

/// Why one signature or attestation layer did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Where it was found, e.g. `host/repo:sha256-<hex>.sig layer 0`.
    pub location: String,
    /// Why it was rejected, as a sentence.
    pub reason: String,
}

/// An image with at least one verified signature.
#[derive(Debug, Clone)]
pub struct VerifiedImage {
    /// The manifest digest the signatures are about.
    pub digest: Digest,
    /// Every signature that verified (at least one).
    pub signatures: Vec<VerifiedSignature>,
    /// Signatures that were found but did not verify (for diagnostics; not an error when at least
    /// one verified).
    pub rejections: Vec<Rejection>,
}

/// Who made a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// One of [`VerifyOptions::keys`].
    Key {
        /// Index into [`VerifyOptions::keys`].
        index: usize,
        /// `sha256:<hex>` of the key's SubjectPublicKeyInfo DER.
        key_id: String,
    },
    /// A Fulcio certificate matching [`VerifyOptions::keyless`].
    Certificate {
        /// The certificate's SAN identity.
        identity: String,
        /// The certificate's OIDC issuer.
        issuer: String,
    },
}

/// One verified image signature.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The key or certificate identity that verified it.
    pub signer: SignedBy,
    /// Where it was found.
    pub location: String,
    /// The exact payload bytes that were signed (print these; never re-serialise); for a bundle,
    /// the in-toto statement.
    pub payload_bytes: Vec<u8>,
    /// The simple-signing payload, parsed (`None` for a bundle, whose statement names the digest).
    pub payload: Option<SimpleSigningPayload>,
}

/// Attestations of an image, at least one verified.
#[derive(Debug, Clone)]
pub struct VerifiedAttestations {
    /// The manifest digest the statements are about.
    pub digest: Digest,
    /// Every attestation that verified (at least one).
    pub attestations: Vec<VerifiedAttestation>,
    /// Attestations that were found but did not verify or had another predicate type.
    pub rejections: Vec<Rejection>,
}

/// One verified in-toto attestation.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    /// The key or certificate identity that verified it.
    pub signer: SignedBy,
    /// Where it was found.
    pub location: String,
    /// The DSSE envelope JSON exactly as stored (what cosign prints); for a bundle, the bundle.
    pub envelope_bytes: Vec<u8>,
    /// The verified statement.
    pub statement: Statement,
    /// The statement's predicate.
    pub predicate: serde_json::Value,
}

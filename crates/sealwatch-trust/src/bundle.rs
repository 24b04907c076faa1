//! Sigstore bundle verification (bundle v0.1–v0.3, message signatures and DSSE, Rekor v1 and v2,
//! RFC 3161 timestamps, SCTs, keyless and managed keys).
//!
//! This is a thin layer over the `sigstore-verify` crate family (sigstore/sigstore-rust), which
//! passes all 140 offline sigstore-conformance checks; the cryptography and the X.509 / Merkle /
//! checkpoint / timestamp checks are theirs. What this module adds: cosign's regular-expression
//! identity and issuer matching, the `FILE | sha256:<hex>` artifact forms, and this crate's error
//! type. Nothing here touches the network: the production trusted root is the copy embedded in
//! `sigstore-trust-root`, and a custom one is passed in as JSON.

use regex::Regex;
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

use crate::digest::{Digest, DigestAlgorithm};
use crate::error::{Error, Result};
use crate::keys::PublicKey;

/// The verification material of one Sigstore instance (`trusted_root.json`).
pub struct TrustedRoot {
    verifier: sigstore_verify::Verifier,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoot").finish_non_exhaustive()
    }
}

impl TrustedRoot {
    /// The Sigstore public-good production root embedded in this build (no network).
    pub fn production() -> Result<Self> {
        Self::from_json(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
    }

    /// A root from `trusted_root.json` text; malformed or unusable trust material is rejected here.
    pub fn from_json(json: &str) -> Result<Self> {
        let root = sigstore_trust_root::TrustedRoot::from_json(json).map_err(|e| {
            Error::InvalidTrustedRoot {
                reason: e.to_string(),
            }
        })?;
        let verifier =
            sigstore_verify::Verifier::new(&root).map_err(|e| Error::InvalidTrustedRoot {
                reason: e.to_string(),
            })?;
        Ok(TrustedRoot { verifier })
    }
}

/// How a certificate's identity or issuer must match.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Exactly this string.
    Exact(String),
    /// A regular expression, unanchored like cosign's `--certificate-identity-regexp` (Go's
    /// `regexp.MatchString`): add `^…$` to match the whole value.
    Regex(Regex),
}

impl Matcher {
    /// Compile a regular-expression matcher; `what` ("identity" / "issuer") names it in errors.
    pub fn regex(what: &'static str, pattern: &str) -> Result<Self> {
        Regex::new(pattern)
            .map(Matcher::Regex)
            .map_err(|source| Error::InvalidRegex {
                what,
                pattern: pattern.to_string(),
                source,
            })
    }

    fn check(&self, what: &'static str, actual: Option<&str>) -> Result<()> {
        match self {
            // Exact matches are enforced inside sigstore-verify's policy.
            Matcher::Exact(_) => Ok(()),
            Matcher::Regex(re) => match actual {
                Some(value) if re.is_match(value) => Ok(()),
                _ => Err(Error::IdentityRegexMismatch {
                    what,
                    pattern: re.as_str().to_string(),
                    actual: actual.map(str::to_string),
                }),
            },
        }
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum BundlePolicy {
    /// A Fulcio certificate whose SAN identity and OIDC issuer match.
    Keyless {
        /// The certificate identity (email, URI, ...).
        identity: Matcher,
        /// The OIDC issuer.
        issuer: Matcher,
    },
    /// A managed key: the bundle carries a key hint and the signature must verify with this key.
    PublicKey(PublicKey),
}

/// What was signed: the bytes themselves, or their SHA-256 digest.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact bytes.
    Bytes(&'a [u8]),
    /// The artifact's SHA-256 digest (only the digest form works for non-prehash schemes such as
    /// Ed25519 message signatures).
    Digest(&'a Digest),
}

/// A bundle that verified. Built only by [`verify_bundle`].
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    identity: Option<String>,
    issuer: Option<String>,
    integrated_time: Option<i64>,
}

impl VerifiedBundle {
    /// The certificate's SAN identity (keyless bundles).
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// The certificate's OIDC issuer (keyless bundles).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The Rekor integrated time, in seconds since the Unix epoch, when the bundle has one.
    pub fn integrated_time(&self) -> Option<i64> {
        self.integrated_time
    }
}

/// Verify the Sigstore bundle `bundle_json` for `artifact` under `policy` and `root`.
///
/// A bundle that does not parse is [`Error::MalformedBundle`]; a bundle that parses but does not
/// verify is [`Error::BundleRejected`] with sigstore-verify's exact reason, or
/// [`Error::IdentityRegexMismatch`]. All of these are [`Error::is_not_verified`].
pub fn verify_bundle(
    bundle_json: &str,
    artifact: Artifact<'_>,
    policy: &BundlePolicy,
    root: &TrustedRoot,
) -> Result<VerifiedBundle> {
    let bundle =
        sigstore_types::Bundle::from_json(bundle_json).map_err(|e| Error::MalformedBundle {
            reason: e.to_string(),
        })?;
    let artifact = match artifact {
        Artifact::Bytes(bytes) => sigstore_types::Artifact::Blob(bytes),
        Artifact::Digest(digest) => {
            if digest.algorithm() != DigestAlgorithm::Sha256 {
                return Err(Error::MalformedDigest {
                    input: digest.to_string(),
                    reason: "Sigstore bundles are verified against SHA-256 digests",
                });
            }
            let hash = sigstore_types::Sha256Hash::from_hex(digest.hex()).map_err(|_| {
                Error::MalformedDigest {
                    input: digest.to_string(),
                    reason: "not a SHA-256 digest",
                }
            })?;
            sigstore_types::Artifact::from_digest(hash)
        }
    };
    let rejected = |source| Error::BundleRejected { source };
    let result = match policy {
        BundlePolicy::Keyless { identity, issuer } => {
            let mut sigstore_policy = VerificationPolicy::any_identity();
            if let Matcher::Exact(value) = identity {
                sigstore_policy = sigstore_policy.require_identity(value.as_str());
            }
            if let Matcher::Exact(value) = issuer {
                sigstore_policy = sigstore_policy.require_issuer(value.as_str());
            }
            let result = root
                .verifier
                .verify(artifact, &bundle, &sigstore_policy)
                .map_err(rejected)?;
            identity.check("identity", result.identity().map(|san| san.as_str()))?;
            issuer.check("issuer", result.issuer())?;
            result
        }
        BundlePolicy::PublicKey(key) => {
            let der = key.to_spki_der()?;
            let sigstore_policy =
                PublicKeyVerificationPolicy::new(sigstore_types::DerPublicKey::new(der));
            root.verifier
                .verify(artifact, &bundle, &sigstore_policy)
                .map_err(rejected)?
        }
    };
    Ok(VerifiedBundle {
        identity: result.identity().map(|san| san.as_str().to_string()),
        issuer: result.issuer().map(str::to_string),
        integrated_time: result.integrated_time().map(|t| t.as_second()),
    })
}

/// One signature layer of cosign's legacy `.sig` manifest: the payload blob and its annotations.
#[derive(Debug, Clone, Copy)]
pub struct CosignLayer<'a> {
    /// The layer blob: the exact simple-signing payload bytes.
    pub payload: &'a [u8],
    /// `dev.cosignproject.cosign/signature`: base64 of the signature over the payload.
    pub signature: &'a str,
    /// `dev.sigstore.cosign/certificate`: PEM leaf certificate (keyless signing).
    pub certificate: Option<&'a str>,
    /// `dev.sigstore.cosign/bundle`: the Rekor bundle JSON (SET and entry).
    pub rekor_bundle: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(serde::Deserialize)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

#[derive(serde::Deserialize)]
struct RekorEntryHeader {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
}

/// Restate a legacy cosign signature layer as a Sigstore bundle v0.1 (message signature over the
/// payload, the leaf certificate or a public-key hint, the Rekor entry with its SET), so that
/// [`verify_bundle`] applies every keyless check (chain to Fulcio at the integrated time, SCT,
/// SET, entry consistency) to it. cosign's chain annotation is deliberately left out: the
/// intermediates come from the trusted root, and a root inside a bundle is refused.
///
/// A layer without a Rekor bundle cannot be restated (bundle v0.1 requires the SET); verify such
/// key-signed layers with [`crate::verify::verify_signature_annotation`].
pub fn cosign_layer_to_bundle(layer: &CosignLayer<'_>) -> Result<String> {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use serde_json::json;

    let signature: String = layer
        .signature
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let digest = {
        use sha2::Digest as _;
        BASE64.encode(sha2::Sha256::digest(layer.payload))
    };
    restate_as_bundle(
        layer.certificate,
        layer.rekor_bundle,
        "messageSignature",
        json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": digest},
            "signature": signature,
        }),
    )
}

/// The bundle v0.1 equivalent of a legacy attestation layer (`.att`, a DSSE envelope blob with
/// the certificate and Rekor-bundle annotations; the Rekor entry is cosign's `intoto` 0.0.2).
pub fn cosign_attestation_layer_to_bundle(
    envelope_json: &[u8],
    certificate: Option<&str>,
    rekor_bundle: Option<&str>,
) -> Result<String> {
    let envelope: serde_json::Value =
        serde_json::from_slice(envelope_json).map_err(|e| Error::MalformedBundle {
            reason: format!("attestation layer is not a DSSE envelope: {e}"),
        })?;
    restate_as_bundle(certificate, rekor_bundle, "dsseEnvelope", envelope)
}

fn restate_as_bundle(
    certificate: Option<&str>,
    rekor_bundle: Option<&str>,
    content_field: &str,
    content: serde_json::Value,
) -> Result<String> {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use serde_json::json;

    let malformed = |reason: String| Error::MalformedBundle { reason };
    let rekor_json = rekor_bundle
        .ok_or_else(|| malformed("the layer has no Rekor bundle annotation".to_string()))?;
    let rekor: RekorBundle = serde_json::from_str(rekor_json)
        .map_err(|e| malformed(format!("Rekor bundle annotation: {e}")))?;
    let body = BASE64
        .decode(&rekor.payload.body)
        .map_err(|e| malformed(format!("Rekor entry body is not base64: {e}")))?;
    let header: RekorEntryHeader =
        serde_json::from_slice(&body).map_err(|e| malformed(format!("Rekor entry body: {e}")))?;
    let log_id = hex::decode(&rekor.payload.log_id)
        .map_err(|e| malformed(format!("Rekor logID is not hex: {e}")))?;

    let mut material = match certificate {
        Some(pem) => {
            let (label, der) = crate::keys::decode_pem(pem)
                .map_err(|e| malformed(format!("certificate annotation: {e}")))?;
            if label != "CERTIFICATE" {
                return Err(malformed(format!(
                    "certificate annotation has PEM label `{label}`"
                )));
            }
            json!({"x509CertificateChain": {"certificates": [{"rawBytes": BASE64.encode(der)}]}})
        }
        None => json!({"publicKey": {"hint": ""}}),
    };
    material["tlogEntries"] = json!([{
        "logIndex": rekor.payload.log_index.to_string(),
        "logId": {"keyId": BASE64.encode(log_id)},
        "kindVersion": {"kind": header.kind, "version": header.api_version},
        "integratedTime": rekor.payload.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": rekor.signed_entry_timestamp},
        "canonicalizedBody": rekor.payload.body,
    }]);
    let mut bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
    });
    bundle[content_field] = content;
    Ok(bundle.to_string())
}

/// Verify a legacy cosign signature layer that carries a Rekor bundle (keyless, or key-signed
/// with transparency-log upload) by restating it with [`cosign_layer_to_bundle`]. On success the
/// payload is the verified simple-signing payload; check its claims with
/// [`crate::payload::SimpleSigningPayload::parse`] and the image digest.
pub fn verify_cosign_layer(
    layer: &CosignLayer<'_>,
    policy: &BundlePolicy,
    root: &TrustedRoot,
) -> Result<VerifiedBundle> {
    let bundle = cosign_layer_to_bundle(layer)?;
    verify_bundle(&bundle, Artifact::Bytes(layer.payload), policy, root)
}

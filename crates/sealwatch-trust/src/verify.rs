//! Signature checks with a known public key: raw signatures over simple-signing payloads, and
//! DSSE envelopes. The `Verified*` types can only be built here, by a successful verification, so
//! holding one is proof that the check ran.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::digest::Digest;
use crate::dsse::{Envelope, Statement, IN_TOTO_PAYLOAD_TYPE};
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::payload::SimpleSigningPayload;

/// A payload whose signature verified with a public key. The payload bytes are kept exactly as
/// received: they are what was signed.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    payload: Vec<u8>,
    signature: Vec<u8>,
    key: PublicKey,
}

impl VerifiedSignature {
    /// The exact payload bytes that were signed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The raw signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The key that verified it.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Read the verified payload as a simple-signing payload and check it is about
    /// `image_digest` (cosign's `--check-claims`) and, when given, about repository
    /// `expected_repository` (see [`repository_matches`]).
    pub fn check_image(
        &self,
        image_digest: &Digest,
        expected_repository: Option<&str>,
    ) -> Result<SimpleSigningPayload> {
        check_payload_claims(&self.payload, image_digest, expected_repository)
    }
}

/// Read a simple-signing payload whose signature was verified (by a key here, or by a keyless
/// bundle check) and check its claims: about `image_digest` (cosign's `--check-claims`) and,
/// when given, about repository `expected_repository` (see [`repository_matches`]).
pub fn check_payload_claims(
    payload_bytes: &[u8],
    image_digest: &Digest,
    expected_repository: Option<&str>,
) -> Result<SimpleSigningPayload> {
    let payload = SimpleSigningPayload::parse(payload_bytes)?;
    if payload.manifest_digest != image_digest.to_string() {
        return Err(Error::DigestMismatch {
            signed: payload.manifest_digest,
            image: image_digest.to_string(),
        });
    }
    if let Some(expected) = expected_repository {
        if !repository_matches(&payload.docker_reference, expected) {
            return Err(Error::ReferenceMismatch {
                signed: payload.docker_reference,
                expected: expected.to_string(),
            });
        }
    }
    Ok(payload)
}

/// Verify a raw `signature` over `payload` with `key`.
pub fn verify_signature(
    key: &PublicKey,
    payload: &[u8],
    signature: &[u8],
) -> Result<VerifiedSignature> {
    key.verify_message(payload, signature, "payload")?;
    Ok(VerifiedSignature {
        payload: payload.to_vec(),
        signature: signature.to_vec(),
        key: key.clone(),
    })
}

/// Verify the base64 text of a `dev.cosignproject.cosign/signature` annotation over `payload`.
pub fn verify_signature_annotation(
    key: &PublicKey,
    payload: &[u8],
    annotation: &str,
) -> Result<VerifiedSignature> {
    // cosign accepts base64 wrapped over several lines; drop all whitespace before decoding.
    let compact: String = annotation
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let signature = BASE64
        .decode(compact)
        .map_err(|e| Error::MalformedSignature {
            key_type: key.key_type(),
            reason: format!("signature annotation is not base64: {e}"),
        })?;
    verify_signature(key, payload, &signature)
}

/// A DSSE envelope with at least one signature that verified with a public key.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope {
    envelope: Envelope,
    key: PublicKey,
}

impl VerifiedEnvelope {
    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The key that verified it.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Read the verified payload as an in-toto statement (the payload type must be
    /// `application/vnd.in-toto+json`) and check that a subject has `image_digest`.
    pub fn check_statement(&self, image_digest: &Digest) -> Result<Statement> {
        if self.envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(Error::WrongEnvelopePayloadType {
                found: self.envelope.payload_type.clone(),
                expected: IN_TOTO_PAYLOAD_TYPE,
            });
        }
        let statement = Statement::from_json(&self.envelope.payload)?;
        statement.check_subject(image_digest)?;
        Ok(statement)
    }
}

/// Verify a DSSE envelope: succeeds when any of its signatures verifies over the PAE with `key`.
pub fn verify_envelope(key: &PublicKey, envelope: &Envelope) -> Result<VerifiedEnvelope> {
    let pae = envelope.pae();
    let mut last = None;
    for signature in &envelope.signatures {
        match key.verify_message(&pae, &signature.sig, "DSSE PAE of the envelope") {
            Ok(()) => {
                return Ok(VerifiedEnvelope {
                    envelope: envelope.clone(),
                    key: key.clone(),
                })
            }
            Err(err) => last = Some(Box::new(err)),
        }
    }
    Err(Error::NoValidEnvelopeSignature {
        count: envelope.signatures.len(),
        last,
    })
}

/// Compare a payload's `docker-reference` with the repository being verified, after reducing both
/// to a canonical repository name: tag and digest removed, Docker Hub's spellings
/// (`alpine`, `docker.io/library/alpine`, `index.docker.io/library/alpine`) made equal.
pub fn repository_matches(signed: &str, expected: &str) -> bool {
    canonical_repository(signed) == canonical_repository(expected)
}

/// The canonical repository name of an image reference, as go-containerregistry's
/// `Reference.Context().Name()` spells it (`index.docker.io/library/alpine`).
pub fn canonical_repository(reference: &str) -> String {
    let without_digest = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name);
    // A tag is a ':' after the last '/', so a registry port ("host:5000/app") is kept.
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let name = match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("index.docker.io", name),
    };
    let registry = if registry == "docker.io" {
        "index.docker.io"
    } else {
        registry
    };
    if registry == "index.docker.io" && !path.contains('/') {
        format!("{registry}/library/{path}")
    } else {
        format!("{registry}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dsse::{predicate_type, Subject};
    use crate::keys::{KeyType, PrivateKey};

    fn key() -> PrivateKey {
        PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng).expect("key")
    }

    #[test]
    fn simple_signing_signature_and_claims() {
        let key = key();
        let image = Digest::sha256_of(b"manifest");
        let payload = SimpleSigningPayload::new("index.docker.io/library/alpine", &image).to_json();
        let annotation = BASE64.encode(key.sign(&payload).expect("signs"));

        let verified = verify_signature_annotation(&key.public_key(), &payload, &annotation)
            .expect("verifies");
        assert_eq!(verified.payload(), payload.as_slice());
        let claims = verified
            .check_image(&image, Some("alpine:3.20"))
            .expect("claims hold");
        assert_eq!(claims.manifest_digest, image.to_string());

        let other_image = Digest::sha256_of(b"other manifest");
        assert!(matches!(
            verified.check_image(&other_image, None),
            Err(Error::DigestMismatch { .. })
        ));
        assert!(matches!(
            verified.check_image(&image, Some("ghcr.io/someone/alpine")),
            Err(Error::ReferenceMismatch { .. })
        ));

        // Tampering: one byte of the payload, a signature from another key, a non-base64 annotation.
        let mut tampered = payload.clone();
        tampered[10] ^= 1;
        assert!(matches!(
            verify_signature_annotation(&key.public_key(), &tampered, &annotation),
            Err(Error::SignatureMismatch {
                what: "payload",
                ..
            })
        ));
        let other_key = self::key();
        assert!(matches!(
            verify_signature_annotation(&other_key.public_key(), &payload, &annotation),
            Err(Error::SignatureMismatch { .. })
        ));
        assert!(matches!(
            verify_signature_annotation(&key.public_key(), &payload, "not base64!"),
            Err(Error::MalformedSignature { .. })
        ));
    }

    #[test]
    fn dsse_attestation_verification() {
        let key = key();
        let image = Digest::sha256_of(b"manifest");
        let statement = Statement::new(
            Subject::new("registry.example/app", &image),
            predicate_type::VULN,
            serde_json::json!({"scanner": {"uri": "pkg:github/example/sealwatch"}}),
        );
        let envelope =
            Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_json(), &key).expect("signs");
        let parsed = Envelope::from_json(&envelope.to_json()).expect("round trip");

        let verified = verify_envelope(&key.public_key(), &parsed).expect("verifies");
        assert_eq!(
            verified.check_statement(&image).expect("subject matches"),
            statement
        );
        assert!(matches!(
            verified.check_statement(&Digest::sha256_of(b"x")),
            Err(Error::SubjectMismatch { .. })
        ));

        // The signature covers the PAE: changing the payload type or one payload byte breaks it.
        let mut retyped = parsed.clone();
        retyped.payload_type = "application/json".to_string();
        assert!(matches!(
            verify_envelope(&key.public_key(), &retyped),
            Err(Error::NoValidEnvelopeSignature { count: 1, .. })
        ));
        let mut tampered = parsed.clone();
        tampered.payload[0] ^= 1;
        assert!(verify_envelope(&key.public_key(), &tampered).is_err());
        let mut unsigned = parsed.clone();
        unsigned.signatures.clear();
        assert!(matches!(
            verify_envelope(&key.public_key(), &unsigned),
            Err(Error::NoValidEnvelopeSignature {
                count: 0,
                last: None
            })
        ));

        // A verified envelope with another payload type is not read as a statement.
        let other = Envelope::sign("application/json", b"{}".to_vec(), &key).expect("signs");
        let verified = verify_envelope(&key.public_key(), &other).expect("verifies");
        assert!(matches!(
            verified.check_statement(&image),
            Err(Error::WrongEnvelopePayloadType { .. })
        ));
    }

    #[test]
    fn canonical_repositories() {
        let check =
            |input: &str, expect: &str| assert_eq!(canonical_repository(input), expect, "{input}");
        check("alpine", "index.docker.io/library/alpine");
        check("alpine:3.20", "index.docker.io/library/alpine");
        check(
            "docker.io/library/alpine@sha256:abc",
            "index.docker.io/library/alpine",
        );
        check(
            "index.docker.io/library/alpine",
            "index.docker.io/library/alpine",
        );
        check("user/app:v1", "index.docker.io/user/app");
        check("localhost:5000/app:v1", "localhost:5000/app");
        check("localhost/app", "localhost/app");
        check("ghcr.io/org/app@sha256:abc", "ghcr.io/org/app");
        check(
            "registry.example:443/a/b/c:tag",
            "registry.example:443/a/b/c",
        );
    }

    #[test]
    fn repository_matching() {
        assert!(repository_matches(
            "index.docker.io/library/alpine",
            "alpine:latest"
        ));
        assert!(repository_matches("ghcr.io/org/app", "ghcr.io/org/app:v2"));
        assert!(!repository_matches("ghcr.io/org/app", "ghcr.io/org/other"));
        assert!(!repository_matches("ghcr.io/org/app", "quay.io/org/app"));
    }
}

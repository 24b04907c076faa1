//! Verification: discover layers, download each (bounded, digest-checked), verify it with the
//! given keys, check what it claims against the image, and say exactly why each one failed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sealwatch_oci::{Digest, Reference};
use sealwatch_trust::cosign::{
    ATTESTATION_TAG_SUFFIX, DSSE_ENVELOPE_MEDIA_TYPE, SIGNATURE_ANNOTATION, SIGNATURE_TAG_SUFFIX,
    SIGSTORE_BUNDLE_V03_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE,
};
use sealwatch_trust::dsse::Envelope;
use sealwatch_trust::verify::{verify_envelope, verify_signature};
use sealwatch_trust::PublicKey;

use crate::discover::{discover, FoundLayer};
use crate::store::{docker_reference, resolve_digest, trust_digest};
use crate::{
    RegistryClient, Rejection, SignError, VerifiedAttestation, VerifiedAttestations, VerifiedImage,
    VerifiedSignature, VerifyOptions, MAX_ENVELOPE_SIZE, MAX_PAYLOAD_SIZE,
};

/// Verify the image signatures of `reference` with `options.keys`. Succeeds when at least one
/// signature verifies and claims the image's digest (and repository, with
/// `options.check_reference`).
pub fn verify_image(
    client: &RegistryClient,
    reference: &Reference,
    options: &VerifyOptions,
) -> Result<VerifiedImage, SignError> {
    let digest = resolve_digest(client, reference)?;
    let image_digest = trust_digest(&digest)?;
    let expected_repository = options.check_reference.then(|| docker_reference(reference));
    let discovery = discover(client, reference, &digest, SIGNATURE_TAG_SUFFIX)?;
    let key_ids = key_ids(&options.keys);

    let mut rejections = discovery.rejections;
    let mut signatures = Vec::new();
    for layer in &discovery.layers {
        match layer.media_type.as_str() {
            SIMPLE_SIGNING_MEDIA_TYPE => {}
            media_type if is_bundle(media_type) => {
                rejections.push(bundle_not_supported(layer));
                continue;
            }
            // Attestations and other artifacts reached through referrers are not signatures.
            _ => continue,
        }
        let outcome = match fetch_layer(client, reference, layer, MAX_PAYLOAD_SIZE)? {
            Err(reason) => Err(reason),
            Ok(payload) => check_simple_signing(
                layer,
                payload,
                &options.keys,
                &image_digest,
                expected_repository.as_deref(),
            ),
        };
        match outcome {
            Ok((key_index, payload_bytes, payload)) => signatures.push(VerifiedSignature {
                key_index,
                key_id: key_ids.get(key_index).cloned().unwrap_or_default(),
                location: layer.location.clone(),
                payload_bytes,
                payload,
            }),
            Err(reason) => rejections.push(Rejection {
                location: layer.location.clone(),
                reason,
            }),
        }
    }
    let (signatures, rejections) = finish(
        "signatures",
        reference,
        &digest,
        discovery.looked,
        rejections,
        signatures,
    )?;
    Ok(VerifiedImage {
        digest,
        signatures,
        rejections,
    })
}

/// Verify the in-toto attestations of `reference` with `options.keys`; with `predicate_type`,
/// only attestations of that predicate type count.
pub fn verify_attestations(
    client: &RegistryClient,
    reference: &Reference,
    options: &VerifyOptions,
    predicate_type: Option<&str>,
) -> Result<VerifiedAttestations, SignError> {
    let digest = resolve_digest(client, reference)?;
    let image_digest = trust_digest(&digest)?;
    let discovery = discover(client, reference, &digest, ATTESTATION_TAG_SUFFIX)?;
    let key_ids = key_ids(&options.keys);

    let mut rejections = discovery.rejections;
    let mut attestations = Vec::new();
    for layer in &discovery.layers {
        match layer.media_type.as_str() {
            DSSE_ENVELOPE_MEDIA_TYPE => {}
            media_type if is_bundle(media_type) => {
                rejections.push(bundle_not_supported(layer));
                continue;
            }
            _ => continue,
        }
        let outcome = match fetch_layer(client, reference, layer, MAX_ENVELOPE_SIZE)? {
            Err(reason) => Err(reason),
            Ok(envelope_bytes) => {
                check_envelope(envelope_bytes, &options.keys, &image_digest, predicate_type)
            }
        };
        match outcome {
            Ok((key_index, envelope_bytes, statement)) => attestations.push(VerifiedAttestation {
                key_index,
                key_id: key_ids.get(key_index).cloned().unwrap_or_default(),
                location: layer.location.clone(),
                envelope_bytes,
                predicate: statement.predicate.clone(),
                statement,
            }),
            Err(reason) => rejections.push(Rejection {
                location: layer.location.clone(),
                reason,
            }),
        }
    }
    let (attestations, rejections) = finish(
        "attestations",
        reference,
        &digest,
        discovery.looked,
        rejections,
        attestations,
    )?;
    Ok(VerifiedAttestations {
        digest,
        attestations,
        rejections,
    })
}

type Verdict<T> = Result<(Vec<T>, Vec<Rejection>), SignError>;

fn finish<T>(
    kind: &'static str,
    reference: &Reference,
    digest: &Digest,
    looked: Vec<String>,
    rejections: Vec<Rejection>,
    verified: Vec<T>,
) -> Verdict<T> {
    if !verified.is_empty() {
        return Ok((verified, rejections));
    }
    if rejections.is_empty() {
        return Err(SignError::NoSignatures {
            kind,
            image: reference.to_string(),
            digest: digest.to_string(),
            looked,
        });
    }
    Err(SignError::NotVerified {
        kind,
        image: reference.to_string(),
        digest: digest.to_string(),
        rejections,
    })
}

/// Download one layer blob. The outer error is a registry failure (the check could not be made);
/// the inner one a reason to reject this layer (too large, content does not match its descriptor).
fn fetch_layer(
    client: &RegistryClient,
    reference: &Reference,
    layer: &FoundLayer,
    limit: u64,
) -> Result<Result<Vec<u8>, String>, SignError> {
    if layer.size > limit {
        return Ok(Err(format!(
            "layer is {} bytes, over the limit of {limit} bytes",
            layer.size
        )));
    }
    let mut blob = Vec::new();
    match client.pull_blob(reference, &layer.digest, layer.size, &mut blob) {
        Ok(_) => Ok(Ok(blob)),
        Err(
            e @ (sealwatch_oci::Error::BlobUnknown { .. }
            | sealwatch_oci::Error::DigestMismatch { .. }
            | sealwatch_oci::Error::SizeMismatch { .. }),
        ) => Ok(Err(format!("layer blob: {e}"))),
        Err(source) => Err(SignError::registry(
            format!("downloading {} ({})", layer.location, layer.digest),
            source,
        )),
    }
}

type CheckedPayload = (usize, Vec<u8>, sealwatch_trust::SimpleSigningPayload);

/// The verified payload of a simple-signing layer, or why it does not count. A signature that
/// verifies but claims something else is reported with the claim (more useful than "does not
/// verify" from the other keys).
fn check_simple_signing(
    layer: &FoundLayer,
    payload: Vec<u8>,
    keys: &[PublicKey],
    image_digest: &sealwatch_trust::Digest,
    expected_repository: Option<&str>,
) -> Result<CheckedPayload, String> {
    let Some(annotation) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
        return Err(format!("layer has no `{SIGNATURE_ANNOTATION}` annotation"));
    };
    // cosign accepts base64 wrapped over lines; drop whitespace before decoding.
    let compact: String = annotation
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let signature = BASE64
        .decode(compact)
        .map_err(|e| format!("signature annotation is not base64: {e}"))?;
    if signature.is_empty() {
        return Err("signature annotation is empty".into());
    }
    let mut claim_failure = None;
    let mut malformed = None;
    for (index, key) in keys.iter().enumerate() {
        match verify_signature(key, &payload, &signature) {
            Ok(verified) => match verified.check_image(image_digest, expected_repository) {
                Ok(parsed) => return Ok((index, payload, parsed)),
                Err(e) => claim_failure = Some(describe_claim(&e)),
            },
            Err(e @ sealwatch_trust::Error::MalformedSignature { .. }) => {
                malformed.get_or_insert_with(|| e.to_string());
            }
            Err(_) => {}
        }
    }
    Err(claim_failure
        .or(malformed)
        .unwrap_or_else(|| not_verified_with(keys.len())))
}

type CheckedStatement = (usize, Vec<u8>, sealwatch_trust::dsse::Statement);

fn check_envelope(
    envelope_bytes: Vec<u8>,
    keys: &[PublicKey],
    image_digest: &sealwatch_trust::Digest,
    predicate_type: Option<&str>,
) -> Result<CheckedStatement, String> {
    let envelope = Envelope::from_json(&envelope_bytes)
        .map_err(|e| format!("layer is not a DSSE envelope: {e}"))?;
    let mut claim_failure = None;
    for (index, key) in keys.iter().enumerate() {
        let Ok(verified) = verify_envelope(key, &envelope) else {
            continue;
        };
        match verified.check_statement(image_digest) {
            Ok(statement) => match predicate_type {
                Some(wanted) if statement.predicate_type != wanted => {
                    claim_failure = Some(format!(
                        "predicate type {} is not the requested {wanted}",
                        statement.predicate_type
                    ));
                }
                _ => return Ok((index, envelope_bytes, statement)),
            },
            Err(sealwatch_trust::Error::SubjectMismatch { digest }) => {
                claim_failure = Some(format!(
                    "no subject of the signed statement has the image digest {digest}"
                ));
            }
            Err(e) => claim_failure = Some(e.to_string()),
        }
    }
    Err(claim_failure.unwrap_or_else(|| not_verified_with(keys.len())))
}

fn describe_claim(error: &sealwatch_trust::Error) -> String {
    match error {
        sealwatch_trust::Error::DigestMismatch { signed, image } => {
            format!("payload digest {signed} != image digest {image}")
        }
        sealwatch_trust::Error::ReferenceMismatch { signed, expected } => format!(
            "payload docker-reference {signed} != image repository {expected} \
             (skip this check with --skip-reference-check)"
        ),
        other => format!("signed payload is not usable: {other}"),
    }
}

fn not_verified_with(key_count: usize) -> String {
    match key_count {
        0 => "no public key given".into(),
        1 => "signature does not verify with the given key".into(),
        n => format!("signature does not verify with any of the {n} given keys"),
    }
}

fn is_bundle(media_type: &str) -> bool {
    media_type == SIGSTORE_BUNDLE_V03_MEDIA_TYPE
        || media_type.starts_with("application/vnd.dev.sigstore.bundle")
}

fn bundle_not_supported(layer: &FoundLayer) -> Rejection {
    Rejection {
        location: layer.location.clone(),
        reason: format!(
            "Sigstore bundle ({}) signatures are not supported yet",
            layer.media_type
        ),
    }
}

/// `sha256:<hex>` of each key's SubjectPublicKeyInfo DER (empty when a key cannot be encoded).
fn key_ids(keys: &[PublicKey]) -> Vec<String> {
    keys.iter()
        .map(|key| {
            key.to_spki_der()
                .map(|der| Digest::sha256_of(&der).to_string())
                .unwrap_or_default()
        })
        .collect()
}

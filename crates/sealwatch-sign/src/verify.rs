//! Verification: discover layers, download each (bounded, digest-checked), verify it with the
//! given keys, check what it claims against the image, and say exactly why each one failed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sealwatch_oci::{Digest, Reference};
use sealwatch_trust::bundle::{
    cosign_attestation_layer_to_bundle, verify_bundle, verify_cosign_layer, Artifact, BundlePolicy,
    CosignLayer, VerifiedBundle,
};
use sealwatch_trust::cosign::{
    ATTESTATION_TAG_SUFFIX, BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, DSSE_ENVELOPE_MEDIA_TYPE,
    SIGNATURE_ANNOTATION, SIGNATURE_TAG_SUFFIX, SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
};
use sealwatch_trust::dsse::predicate_type::COSIGN_SIGN_V1;
use sealwatch_trust::dsse::{Envelope, Statement, IN_TOTO_PAYLOAD_TYPE};
use sealwatch_trust::keyless::bundle_envelope;
use sealwatch_trust::verify::{check_payload_claims, verify_envelope, verify_signature};
use sealwatch_trust::PublicKey;

use crate::discover::{discover_legacy, discover_referrers, FoundLayer};
use crate::error::with_causes;
use crate::store::{docker_reference, resolve_digest, trust_digest};
use crate::{
    KeylessPolicy, RegistryClient, Rejection, SignError, SignedBy, VerifiedAttestation,
    VerifiedAttestations, VerifiedImage, VerifiedSignature, VerifyOptions, MAX_ENVELOPE_SIZE,
    MAX_PAYLOAD_SIZE,
};

/// Verify the image signatures of `reference` with `options.keys`. Succeeds when at least one
/// signature verifies and claims the image's digest (and repository, with
/// `options.check_reference`).
pub fn verify_image(
    client: &RegistryClient,
    reference: &Reference,
    options: &VerifyOptions,
) -> Result<VerifiedImage, SignError> {
    let digest = digest_to_verify(client, reference)?;
    let image_digest = trust_digest(&digest)?;
    let expected_repository = options.check_reference.then(|| docker_reference(reference));
    let key_ids = key_ids(&options.keys);

    let (signatures, rejections) = verify_discovered(
        "signatures",
        client,
        reference,
        &digest,
        SIGNATURE_TAG_SUFFIX,
        |layer| {
            Ok(match layer.media_type.as_str() {
                SIMPLE_SIGNING_MEDIA_TYPE => Some(
                    fetch_layer(client, reference, layer, MAX_PAYLOAD_SIZE)?.and_then(|payload| {
                        check_simple_signing(
                            layer,
                            payload,
                            options,
                            &key_ids,
                            &image_digest,
                            expected_repository.as_deref(),
                        )
                    }),
                ),
                media_type if is_bundle(media_type) => {
                    match fetch_layer(client, reference, layer, MAX_ENVELOPE_SIZE)? {
                        Err(reason) => Some(Err(reason)),
                        // An attestation bundle among the referrers is not a signature (`None`).
                        Ok(bundle) => check_bundle(
                            bundle,
                            options,
                            &key_ids,
                            &image_digest,
                            Wanted::Signature,
                        )
                        .map(|found| {
                            found.map(|checked| VerifiedSignature {
                                signer: checked.signer,
                                location: layer.location.clone(),
                                payload_bytes: checked.statement.to_json(),
                                payload: None,
                            })
                        })
                        .transpose(),
                    }
                }
                // Attestations and other artifacts reached through referrers are not signatures.
                _ => None,
            })
        },
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
    let digest = digest_to_verify(client, reference)?;
    let image_digest = trust_digest(&digest)?;
    let key_ids = key_ids(&options.keys);

    let (attestations, rejections) = verify_discovered(
        "attestations",
        client,
        reference,
        &digest,
        ATTESTATION_TAG_SUFFIX,
        |layer| {
            Ok(match layer.media_type.as_str() {
                DSSE_ENVELOPE_MEDIA_TYPE => Some(
                    fetch_layer(client, reference, layer, MAX_ENVELOPE_SIZE)?.and_then(
                        |envelope_bytes| {
                            check_envelope(
                                layer,
                                envelope_bytes,
                                options,
                                &key_ids,
                                &image_digest,
                                predicate_type,
                            )
                        },
                    ),
                ),
                media_type if is_bundle(media_type) => {
                    match fetch_layer(client, reference, layer, MAX_ENVELOPE_SIZE)? {
                        Err(reason) => Some(Err(reason)),
                        // A signature bundle (cosign sign/v1) is not an attestation (`None`).
                        Ok(bundle) => check_bundle(
                            bundle.clone(),
                            options,
                            &key_ids,
                            &image_digest,
                            Wanted::Attestation(predicate_type),
                        )
                        .map(|found| {
                            found.map(|checked| VerifiedAttestation {
                                signer: checked.signer,
                                location: layer.location.clone(),
                                envelope_bytes: bundle,
                                predicate: checked.statement.predicate.clone(),
                                statement: checked.statement,
                            })
                        })
                        .transpose(),
                    }
                }
                _ => None,
            })
        },
    )?;
    Ok(VerifiedAttestations {
        digest,
        attestations,
        rejections,
    })
}

/// The digest whose signatures are looked up: the reference's own digest (no request: the
/// signatures are about that digest whether or not the registry still serves the image, as in
/// cosign), or what its tag points at now.
fn digest_to_verify(client: &RegistryClient, reference: &Reference) -> Result<Digest, SignError> {
    match reference.digest() {
        Some(digest) => Ok(digest.clone()),
        None => resolve_digest(client, reference),
    }
}

type Verdict<T> = Result<(Vec<T>, Vec<Rejection>), SignError>;

/// Checks every layer cosign v3 would look at, in its order: each referrer, then the legacy
/// `suffix` tag only when the referrers gave nothing that verified (one registry request fewer
/// for bundle-signed images). `check` says `None` for a layer that is not the kind asked for,
/// else the verified item or why it was rejected.
fn verify_discovered<T>(
    kind: &'static str,
    client: &RegistryClient,
    reference: &Reference,
    digest: &Digest,
    suffix: &str,
    mut check: impl FnMut(&FoundLayer) -> Result<Option<Result<T, String>>, SignError>,
) -> Verdict<T> {
    let mut discovery = discover_referrers(client, reference, digest)?;
    let mut rejections = std::mem::take(&mut discovery.rejections);
    let mut verified = Vec::new();
    let mut start = 0;
    for legacy in [false, true] {
        if legacy {
            if !verified.is_empty() {
                break;
            }
            start = discovery.layers.len();
            discover_legacy(client, reference, digest, suffix, &mut discovery)?;
            rejections.append(&mut discovery.rejections);
        }
        for layer in &discovery.layers[start..] {
            match check(layer)? {
                None => {}
                Some(Ok(item)) => verified.push(item),
                Some(Err(reason)) => rejections.push(Rejection {
                    location: layer.location.clone(),
                    reason,
                }),
            }
        }
    }
    finish(
        kind,
        reference,
        digest,
        discovery.looked,
        rejections,
        verified,
    )
}

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

/// The verified payload of a simple-signing layer, or why it does not count. A signature that
/// verifies but claims something else is reported with the claim (more useful than "does not
/// verify" from the other keys).
fn check_simple_signing(
    layer: &FoundLayer,
    payload: Vec<u8>,
    options: &VerifyOptions,
    key_ids: &[String],
    image_digest: &sealwatch_trust::Digest,
    expected_repository: Option<&str>,
) -> Result<VerifiedSignature, String> {
    let Some(annotation) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
        return Err(format!("layer has no `{SIGNATURE_ANNOTATION}` annotation"));
    };
    let verified = |signer: SignedBy, parsed| VerifiedSignature {
        signer,
        location: layer.location.clone(),
        payload_bytes: payload.clone(),
        payload: Some(parsed),
    };
    let mut keyless_failure = None;
    if let Some(policy) = &options.keyless {
        match layer.annotations.get(CERTIFICATE_ANNOTATION) {
            Some(certificate) => {
                let cosign_layer = CosignLayer {
                    payload: &payload,
                    signature: annotation,
                    certificate: Some(certificate),
                    rekor_bundle: layer.annotations.get(BUNDLE_ANNOTATION).map(String::as_str),
                };
                match verify_cosign_layer(
                    &cosign_layer,
                    &bundle_policy(policy),
                    &policy.trusted_root,
                ) {
                    Ok(bundle) => {
                        return check_payload_claims(&payload, image_digest, expected_repository)
                            .map(|parsed| verified(certificate_signer(&bundle), parsed))
                            .map_err(|e| describe_claim(&e))
                    }
                    Err(e) => keyless_failure = Some(format!("keyless: {}", with_causes(&e))),
                }
            }
            None => {
                keyless_failure = Some(format!(
                    "keyless: the layer has no `{CERTIFICATE_ANNOTATION}` annotation"
                ))
            }
        }
    }
    if options.keys.is_empty() {
        return Err(keyless_failure.unwrap_or_else(|| not_verified_with(0)));
    }
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
    for (index, key) in options.keys.iter().enumerate() {
        match verify_signature(key, &payload, &signature) {
            Ok(checked) => match checked.check_image(image_digest, expected_repository) {
                Ok(parsed) => return Ok(verified(key_signer(index, key_ids), parsed)),
                Err(e) => claim_failure = Some(describe_claim(&e)),
            },
            Err(e @ sealwatch_trust::Error::MalformedSignature { .. }) => {
                malformed.get_or_insert_with(|| e.to_string());
            }
            Err(_) => {}
        }
    }
    Err(join_reasons(
        claim_failure
            .or(malformed)
            .unwrap_or_else(|| not_verified_with(options.keys.len())),
        keyless_failure,
    ))
}

fn check_envelope(
    layer: &FoundLayer,
    envelope_bytes: Vec<u8>,
    options: &VerifyOptions,
    key_ids: &[String],
    image_digest: &sealwatch_trust::Digest,
    predicate_type: Option<&str>,
) -> Result<VerifiedAttestation, String> {
    let envelope = Envelope::from_json(&envelope_bytes)
        .map_err(|e| format!("layer is not a DSSE envelope: {e}"))?;
    let verified = |signer: SignedBy, statement: Statement| VerifiedAttestation {
        signer,
        location: layer.location.clone(),
        envelope_bytes: envelope_bytes.clone(),
        predicate: statement.predicate.clone(),
        statement,
    };
    let mut keyless_failure = None;
    if let Some(policy) = &options.keyless {
        let certificate = layer.annotations.get(CERTIFICATE_ANNOTATION);
        let outcome = match certificate {
            None => Err(format!(
                "the layer has no `{CERTIFICATE_ANNOTATION}` annotation"
            )),
            Some(certificate) => cosign_attestation_layer_to_bundle(
                &envelope_bytes,
                Some(certificate),
                layer.annotations.get(BUNDLE_ANNOTATION).map(String::as_str),
            )
            .and_then(|bundle| {
                verify_bundle(
                    &bundle,
                    Artifact::Digest(image_digest),
                    &bundle_policy(policy),
                    &policy.trusted_root,
                )
            })
            .map_err(|e| with_causes(&e)),
        };
        match outcome {
            Ok(bundle) => {
                return statement_claims(&envelope, image_digest, predicate_type)
                    .map(|statement| verified(certificate_signer(&bundle), statement))
            }
            Err(reason) => keyless_failure = Some(format!("keyless: {reason}")),
        }
    }
    if options.keys.is_empty() {
        return Err(keyless_failure.unwrap_or_else(|| not_verified_with(0)));
    }
    let mut claim_failure = None;
    for (index, key) in options.keys.iter().enumerate() {
        if verify_envelope(key, &envelope).is_err() {
            continue;
        }
        match statement_claims(&envelope, image_digest, predicate_type) {
            Ok(statement) => return Ok(verified(key_signer(index, key_ids), statement)),
            Err(reason) => claim_failure = Some(reason),
        }
    }
    Err(join_reasons(
        claim_failure.unwrap_or_else(|| not_verified_with(options.keys.len())),
        keyless_failure,
    ))
}

/// What a bundle referrer must be to count.
#[derive(Clone, Copy)]
enum Wanted<'a> {
    /// An image signature: a statement of predicate type `https://sigstore.dev/cosign/sign/v1`.
    Signature,
    /// An attestation (any other predicate type), optionally of this type.
    Attestation(Option<&'a str>),
}

struct CheckedBundle {
    signer: SignedBy,
    statement: Statement,
}

/// Verify a Sigstore bundle found as a referrer. `Ok(None)`: the bundle is of the other kind
/// (an attestation while looking for signatures, or the other way round) and is not counted.
fn check_bundle(
    bundle: Vec<u8>,
    options: &VerifyOptions,
    key_ids: &[String],
    image_digest: &sealwatch_trust::Digest,
    wanted: Wanted<'_>,
) -> Result<Option<CheckedBundle>, String> {
    let envelope =
        match bundle_envelope(&bundle) {
            Ok(Some(envelope)) => envelope,
            Ok(None) => return Err(
                "bundle holds a message signature, not the DSSE statement cosign stores for images"
                    .into(),
            ),
            Err(e) => return Err(format!("unreadable bundle: {e}")),
        };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "bundle envelope has payload type {}, expected {IN_TOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    // Read (not yet trusted) only to tell signatures from attestations; the verdict below
    // re-reads the statement after its signature verified.
    let claimed =
        Statement::from_json(&envelope.payload).map_err(|e| format!("bundle statement: {e}"))?;
    let is_signature = claimed.predicate_type == COSIGN_SIGN_V1;
    let predicate_type = match wanted {
        Wanted::Signature if !is_signature => return Ok(None),
        Wanted::Attestation(_) if is_signature => return Ok(None),
        Wanted::Signature => None,
        Wanted::Attestation(wanted) => wanted,
    };
    let Ok(bundle_json) = std::str::from_utf8(&bundle) else {
        return Err("bundle is not UTF-8 text".into());
    };

    let mut keyless_failure = None;
    if let Some(policy) = &options.keyless {
        match verify_bundle(
            bundle_json,
            Artifact::Digest(image_digest),
            &bundle_policy(policy),
            &policy.trusted_root,
        ) {
            Ok(verified) => {
                return statement_claims(&envelope, image_digest, predicate_type).map(|statement| {
                    Some(CheckedBundle {
                        signer: certificate_signer(&verified),
                        statement,
                    })
                })
            }
            Err(e) => keyless_failure = Some(format!("keyless: {}", with_causes(&e))),
        }
    }
    if options.keys.is_empty() {
        return Err(keyless_failure.unwrap_or_else(|| not_verified_with(0)));
    }
    // Managed keys: the DSSE signature is checked with the key (as for legacy layers, a
    // transparency-log entry in the bundle is not required or checked).
    let mut claim_failure = None;
    for (index, key) in options.keys.iter().enumerate() {
        if verify_envelope(key, &envelope).is_err() {
            continue;
        }
        match statement_claims(&envelope, image_digest, predicate_type) {
            Ok(statement) => {
                return Ok(Some(CheckedBundle {
                    signer: key_signer(index, key_ids),
                    statement,
                }))
            }
            Err(reason) => claim_failure = Some(reason),
        }
    }
    Err(join_reasons(
        claim_failure.unwrap_or_else(|| not_verified_with(options.keys.len())),
        keyless_failure,
    ))
}

/// The statement of an envelope whose signature verified, checked against the image digest and
/// the requested predicate type.
fn statement_claims(
    envelope: &Envelope,
    image_digest: &sealwatch_trust::Digest,
    predicate_type: Option<&str>,
) -> Result<Statement, String> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "envelope payload type {} is not {IN_TOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    let statement = Statement::from_json(&envelope.payload).map_err(|e| e.to_string())?;
    if statement.check_subject(image_digest).is_err() {
        return Err(format!(
            "no subject of the signed statement has the image digest {image_digest}"
        ));
    }
    if let Some(wanted) = predicate_type {
        if statement.predicate_type != wanted {
            return Err(format!(
                "predicate type {} is not the requested {wanted}",
                statement.predicate_type
            ));
        }
    }
    Ok(statement)
}

fn bundle_policy(policy: &KeylessPolicy) -> BundlePolicy {
    BundlePolicy::Keyless {
        identity: policy.identity.clone(),
        issuer: policy.issuer.clone(),
    }
}

fn certificate_signer(bundle: &VerifiedBundle) -> SignedBy {
    SignedBy::Certificate {
        identity: bundle.identity().unwrap_or_default().to_owned(),
        issuer: bundle.issuer().unwrap_or_default().to_owned(),
    }
}

fn key_signer(index: usize, key_ids: &[String]) -> SignedBy {
    SignedBy::Key {
        index,
        key_id: key_ids.get(index).cloned().unwrap_or_default(),
    }
}

fn join_reasons(key_reason: String, keyless_reason: Option<String>) -> String {
    match keyless_reason {
        Some(keyless) => format!("{key_reason}; {keyless}"),
        None => key_reason,
    }
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
        0 => "no public key or certificate identity given".into(),
        1 => "signature does not verify with the given key".into(),
        n => format!("signature does not verify with any of the {n} given keys"),
    }
}

fn is_bundle(media_type: &str) -> bool {
    media_type == SIGSTORE_BUNDLE_V03_MEDIA_TYPE
        || media_type.starts_with("application/vnd.dev.sigstore.bundle")
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

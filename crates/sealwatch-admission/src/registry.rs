//! The production [`ImageVerifier`]: cosign signatures and attestations in an OCI registry,
//! through `sealwatch-sign`.
//!
//! Supported: static-key attestors (`keys.publicKeys`, several PEM blocks expanded by the
//! policy loader), attestor `count`, attestations signed by static keys, digest resolution for
//! `mutateDigest`. Keyless, certificate, secret and KMS attestors, nested attestor sets and
//! signature repository overrides are reported as verification errors, never skipped: under
//! `failurePolicy: Fail` they deny (fail closed). Transparency-log (Rekor) checks of keyed
//! signatures are not made yet: a key attestor that requires them (Kyverno's default) is a
//! verification error; with `rekor.ignoreTlog: true` the signature alone is checked.

use std::time::Instant;

use sealwatch_policy::model::{AttestorKind, AttestorSet, KeySource};
use sealwatch_policy::{
    AttestationEvidence, AttestorSetResult, SignerIdentity, VerificationOutcome,
    VerificationRequest, VerifiedImage,
};
use sealwatch_sign::{
    resolve_digest, verify_attestations, verify_image, PublicKey, Reference, RegistryClient,
    SignError, VerifyOptions,
};

use crate::verify::ImageVerifier;

/// Verifies with `sealwatch-sign` against the image's registry.
pub struct RegistryVerifier {
    client: RegistryClient,
}

impl RegistryVerifier {
    pub fn new(client: RegistryClient) -> Self {
        RegistryVerifier { client }
    }
}

/// Why a verification could not be made (an error, not a verdict).
struct CannotVerify(String);

/// An error with its causes, `outer: inner: innermost` (the registry's answer is usually in
/// a cause, and the message is all a denied user sees).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}

fn static_key(source: &KeySource) -> Result<PublicKey, CannotVerify> {
    match source {
        KeySource::Pem(pem) => PublicKey::from_pem(pem)
            .map_err(|e| CannotVerify(format!("invalid public key in policy: {e}"))),
        KeySource::Secret { namespace, name } => Err(CannotVerify(format!(
            "key secrets are not supported yet (secret {namespace}/{name})"
        ))),
        KeySource::Kms(uri) => Err(CannotVerify(format!(
            "KMS keys are not supported yet ({uri})"
        ))),
    }
}

/// The keys of one attestor set, or why they cannot be used.
fn set_keys(set: &AttestorSet) -> Result<Vec<PublicKey>, CannotVerify> {
    set.entries
        .iter()
        .map(|entry| {
            if entry.repository.is_some() {
                return Err(CannotVerify(
                    "attestor repository overrides are not supported yet".into(),
                ));
            }
            match &entry.kind {
                // Kyverno checks the Rekor entry of a keyed signature unless `rekor.ignoreTlog` is
                // set; sealwatch cannot check transparency-log entries yet, so such an attestor fails
                // closed instead of accepting signatures Kyverno would refuse.
                AttestorKind::Key(key) if !key.rekor.ignore_tlog => Err(CannotVerify(format!(
                    "transparency-log (Rekor) verification is not supported yet and the policy \
                     requires it ({}); set `rekor.ignoreTlog: true` on the key to accept signatures \
                     without a log entry",
                    key.rekor.url
                ))),
                AttestorKind::Key(key) => static_key(&key.source),
                AttestorKind::Keyless(_) => Err(CannotVerify(
                    "keyless attestors are not supported yet".into(),
                )),
                AttestorKind::Certificate(_) => Err(CannotVerify(
                    "certificate attestors are not supported yet".into(),
                )),
                AttestorKind::Nested(_) => Err(CannotVerify(
                    "nested attestor sets are not supported yet".into(),
                )),
            }
        })
        .collect()
}

/// Runs `check` once per key of the set and applies the set's `count`.
fn verify_set<T>(
    set: &AttestorSet,
    mut check: impl FnMut(PublicKey) -> Result<T, SignError>,
    mut on_pass: impl FnMut(usize, T),
) -> Result<AttestorSetResult, CannotVerify> {
    let keys = set_keys(set)?;
    let required = set.required_count();
    let mut passed = 0;
    let mut signers = Vec::new();
    let mut reasons = Vec::new();
    for (index, key) in keys.into_iter().enumerate() {
        match check(key) {
            Ok(found) => {
                passed += 1;
                signers.push(SignerIdentity {
                    key: Some(format!("entries[{index}]")),
                    ..SignerIdentity::default()
                });
                on_pass(index, found);
                if passed >= required {
                    return Ok(AttestorSetResult::Passed { signers });
                }
            }
            Err(error) if error.is_not_verified() => reasons.push(with_causes(&error)),
            Err(error) => return Err(CannotVerify(with_causes(&error))),
        }
    }
    Ok(AttestorSetResult::Failed {
        message: format!(
            "{passed} of {required} required attestor(s) verified: {}",
            reasons.join("; ")
        ),
    })
}

impl RegistryVerifier {
    fn run(&self, request: &VerificationRequest<'_>) -> Result<VerifiedImage, CannotVerify> {
        if request.check.repository.is_some() {
            return Err(CannotVerify(
                "signature repository overrides are not supported yet".into(),
            ));
        }
        let text = request.image.normalized();
        let reference: Reference = text
            .parse()
            .map_err(|e| CannotVerify(format!("cannot use image reference {text}: {e}")))?;
        let digest =
            resolve_digest(&self.client, &reference).map_err(|e| CannotVerify(with_causes(&e)))?;
        let options = |key| VerifyOptions {
            keys: vec![key],
            keyless: None,
            check_reference: true,
        };
        let mut attestor_sets = Vec::new();
        for set in &request.check.attestor_sets {
            let result = verify_set(
                set,
                |key| verify_image(&self.client, &reference, &options(key)),
                |_, _| {},
            )?;
            let failed = matches!(result, AttestorSetResult::Failed { .. });
            attestor_sets.push(result);
            if failed {
                // Kyverno stops at the first failing set.
                break;
            }
        }
        let mut attestations = Vec::new();
        for attestation in &request.check.attestations {
            let mut evidence = AttestationEvidence {
                attestor_sets: Vec::new(),
                predicates: Vec::new(),
            };
            for set in &attestation.attestor_sets {
                let result = verify_set(
                    set,
                    |key| {
                        verify_attestations(
                            &self.client,
                            &reference,
                            &options(key),
                            Some(&attestation.predicate_type),
                        )
                    },
                    |_, found| {
                        evidence
                            .predicates
                            .extend(found.attestations.into_iter().map(|a| a.predicate))
                    },
                )?;
                evidence.attestor_sets.push(result);
            }
            attestations.push(evidence);
        }
        Ok(VerifiedImage {
            digest: digest.to_string(),
            attestor_sets,
            attestations,
        })
    }
}

impl ImageVerifier for RegistryVerifier {
    fn verify(&self, request: &VerificationRequest<'_>, _deadline: Instant) -> VerificationOutcome {
        // The registry client bounds each request with its own timeouts; the caller stops
        // waiting at the deadline.
        match self.run(request) {
            Ok(verified) => VerificationOutcome::Completed(verified),
            Err(CannotVerify(message)) => VerificationOutcome::Error { message },
        }
    }
}

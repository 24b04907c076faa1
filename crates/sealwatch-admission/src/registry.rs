//! The production [`ImageVerifier`]: cosign signatures and attestations in an OCI registry,
//! through `sealwatch-sign`.
//!
//! Supported: static-key attestors (`keys.publicKeys`, several PEM blocks expanded by the
//! policy loader), keyless attestors (`issuer`/`subject` exact or with Kyverno's `*`/`?`
//! wildcards, `issuerRegExp`/`subjectRegExp`), attestor `count`, attestations signed either way,
//! digest resolution for `mutateDigest`.
//!
//! Keyless signatures are verified offline against a Sigstore trusted root — the production root
//! embedded in the binary, or the one given with [`RegistryVerifier::with_trusted_root`]: Fulcio
//! chain, SCT against the root's CT logs, Rekor SET (and inclusion proof in bundles) against the
//! root's log keys. `rekor.url` is therefore not contacted; the log key comes from the root.
//!
//! Certificate, secret and KMS attestors, nested attestor sets, signature repository overrides,
//! and keyless settings that would need other trust material (`roots`, `rekor.pubkey`,
//! `ctlog.pubkey`, `additionalExtensions`, `rekor.ignoreTlog`) are reported as verification
//! errors, never skipped: under `failurePolicy: Fail` they deny (fail closed). Transparency-log
//! (Rekor) checks of keyed signatures are not made yet: a key attestor that requires them
//! (Kyverno's default) is a verification error; with `rekor.ignoreTlog: true` the signature
//! alone is checked.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sealwatch_policy::model::{AttestorKind, AttestorSet, KeySource, KeylessAttestor};
use sealwatch_policy::{
    AttestationEvidence, AttestorSetResult, SignerIdentity, VerificationOutcome,
    VerificationRequest, VerifiedImage,
};
use sealwatch_sign::with_causes;
use sealwatch_sign::{
    resolve_digest, verify_attestations, verify_image, KeylessPolicy, Matcher, PublicKey,
    Reference, RegistryClient, SignError, SignedBy, TrustedRoot, VerifyOptions,
};

use crate::verify::ImageVerifier;

/// Verifies with `sealwatch-sign` against the image's registry.
pub struct RegistryVerifier {
    client: RegistryClient,
    /// Trust material for keyless attestors; the embedded production root is loaded on first use
    /// when none was given.
    trusted_root: OnceLock<Arc<TrustedRoot>>,
}

impl RegistryVerifier {
    pub fn new(client: RegistryClient) -> Self {
        RegistryVerifier {
            client,
            trusted_root: OnceLock::new(),
        }
    }

    /// Verify keyless attestors against `root` (a `trusted_root.json` of a private Sigstore
    /// instance) instead of the public-good production root.
    pub fn with_trusted_root(self, root: TrustedRoot) -> Self {
        let trusted_root = OnceLock::new();
        let _ = trusted_root.set(Arc::new(root));
        RegistryVerifier {
            trusted_root,
            ..self
        }
    }

    fn trusted_root(&self) -> Result<Arc<TrustedRoot>, CannotVerify> {
        if let Some(root) = self.trusted_root.get() {
            return Ok(root.clone());
        }
        let root = TrustedRoot::production()
            .map_err(|e| CannotVerify(format!("cannot load the embedded Sigstore root: {e}")))?;
        Ok(self.trusted_root.get_or_init(|| Arc::new(root)).clone())
    }
}

/// Why a verification could not be made (an error, not a verdict).
struct CannotVerify(String);

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

/// What one attestor entry accepts: a public key, or a keyless certificate identity.
enum EntryCheck {
    Key(PublicKey),
    Keyless(KeylessPolicy),
}

impl EntryCheck {
    fn options(self) -> VerifyOptions {
        match self {
            EntryCheck::Key(key) => VerifyOptions {
                keys: vec![key],
                keyless: None,
                check_reference: true,
            },
            EntryCheck::Keyless(policy) => VerifyOptions {
                keys: Vec::new(),
                keyless: Some(policy),
                check_reference: true,
            },
        }
    }
}

/// Kyverno's `subject` / `issuer`: exact, or with `*` / `?` wildcards over the whole value.
fn wildcard_matcher(what: &'static str, pattern: &str) -> Result<Matcher, CannotVerify> {
    if !pattern.contains(['*', '?']) {
        return Ok(Matcher::Exact(pattern.to_owned()));
    }
    let mut regex = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            other => regex.push_str(&regex_escape(other)),
        }
    }
    regex.push('$');
    Matcher::regex(what, &regex)
        .map_err(|e| CannotVerify(format!("keyless {what} `{pattern}`: {e}")))
}

fn regex_escape(c: char) -> String {
    if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() {
        c.to_string()
    } else {
        format!("\\{c}")
    }
}

fn keyless_matcher(
    what: &'static str,
    exact_or_wildcard: &Option<String>,
    regexp: &Option<String>,
) -> Result<Matcher, CannotVerify> {
    match (exact_or_wildcard, regexp) {
        (Some(value), _) => wildcard_matcher(what, value),
        (None, Some(pattern)) => Matcher::regex(what, pattern)
            .map_err(|e| CannotVerify(format!("keyless {what}RegExp: {e}"))),
        // Kyverno requires one of them; an attestor that names no identity must not accept any.
        (None, None) => Err(CannotVerify(format!(
            "keyless attestor without {what} or {what}RegExp"
        ))),
    }
}

fn keyless_policy(
    attestor: &KeylessAttestor,
    trusted_root: Arc<TrustedRoot>,
) -> Result<KeylessPolicy, CannotVerify> {
    let unsupported = |what: &str| {
        Err(CannotVerify(format!(
            "keyless attestor with {what} is not supported; give the instance's trust material with --trusted-root"
        )))
    };
    if attestor.roots.is_some() {
        return unsupported("custom `roots`");
    }
    if attestor.rekor.pubkey.is_some() {
        return unsupported("`rekor.pubkey`");
    }
    if attestor.ctlog.pubkey.is_some() {
        return unsupported("`ctlog.pubkey`");
    }
    if attestor.rekor.ignore_tlog {
        return Err(CannotVerify(
            "keyless attestor with `rekor.ignoreTlog: true`: a short-lived certificate needs the \
             transparency-log time to be verified"
                .into(),
        ));
    }
    if !attestor.additional_extensions.is_empty() {
        return Err(CannotVerify(
            "keyless `additionalExtensions` are not supported yet".into(),
        ));
    }
    Ok(KeylessPolicy {
        identity: keyless_matcher("subject", &attestor.subject, &attestor.subject_regexp)?,
        issuer: keyless_matcher("issuer", &attestor.issuer, &attestor.issuer_regexp)?,
        trusted_root,
    })
}

/// The checks of one attestor set, or why they cannot be made.
fn set_checks(
    set: &AttestorSet,
    trusted_root: &dyn Fn() -> Result<Arc<TrustedRoot>, CannotVerify>,
) -> Result<Vec<EntryCheck>, CannotVerify> {
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
                AttestorKind::Key(key) => static_key(&key.source).map(EntryCheck::Key),
                AttestorKind::Keyless(keyless) => {
                    keyless_policy(keyless, trusted_root()?).map(EntryCheck::Keyless)
                }
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

/// Runs `check` once per entry of the set and applies the set's `count`. `signer_of` names who
/// signed what passed.
fn verify_set<T>(
    set: &AttestorSet,
    checks: Vec<EntryCheck>,
    mut check: impl FnMut(VerifyOptions) -> Result<T, SignError>,
    signer_of: impl Fn(&T) -> Option<SignedBy>,
    mut on_pass: impl FnMut(usize, T),
) -> Result<AttestorSetResult, CannotVerify> {
    let required = set.required_count();
    let mut passed = 0;
    let mut signers = Vec::new();
    let mut reasons = Vec::new();
    for (index, entry) in checks.into_iter().enumerate() {
        match check(entry.options()) {
            Ok(found) => {
                passed += 1;
                signers.push(match signer_of(&found) {
                    Some(SignedBy::Certificate { identity, issuer }) => SignerIdentity {
                        issuer: Some(issuer),
                        subject: Some(identity),
                        key: None,
                    },
                    _ => SignerIdentity {
                        key: Some(format!("entries[{index}]")),
                        ..SignerIdentity::default()
                    },
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
        let trusted_root = || self.trusted_root();
        let mut attestor_sets = Vec::new();
        for set in &request.check.attestor_sets {
            let checks = set_checks(set, &trusted_root)?;
            let result = verify_set(
                set,
                checks,
                |options| verify_image(&self.client, &reference, &options),
                |found| found.signatures.first().map(|s| s.signer.clone()),
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
                let checks = set_checks(set, &trusted_root)?;
                let result = verify_set(
                    set,
                    checks,
                    |options| {
                        verify_attestations(
                            &self.client,
                            &reference,
                            &options,
                            Some(&attestation.predicate_type),
                        )
                    },
                    |found| found.attestations.first().map(|a| a.signer.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(matcher: &Matcher, value: &str) -> bool {
        match matcher {
            Matcher::Exact(exact) => exact == value,
            Matcher::Regex(re) => re.is_match(value),
        }
    }

    #[test]
    fn kyverno_wildcards_match_the_whole_value() {
        let check = |pattern: &str, value: &str, expect: bool| {
            let matcher =
                wildcard_matcher("subject", pattern).unwrap_or_else(|e| panic!("{}", e.0));
            assert_eq!(matches(&matcher, value), expect, "{pattern} vs {value}");
        };
        check(
            "https://github.com/acme/*",
            "https://github.com/acme/app/.github/x@refs/heads/main",
            true,
        );
        check(
            "https://github.com/acme/*",
            "https://github.com/acmeX/app",
            false,
        );
        check(
            "https://github.com/acme/*",
            "xhttps://github.com/acme/app",
            false,
        );
        check("user?@example.com", "user1@example.com", true);
        check("user?@example.com", "user12@example.com", false);
        // Regex metacharacters in the pattern are literal.
        check("a.b*", "a.bc", true);
        check("a.b*", "axbc", false);
        check("exact@example.com", "exact@example.com", true);
        assert!(matches!(
            wildcard_matcher("subject", "exact@example.com"),
            Ok(Matcher::Exact(_))
        ));
    }

    #[test]
    fn keyless_settings_needing_other_trust_material_fail_closed() {
        let root = Arc::new(TrustedRoot::production().unwrap_or_else(|e| panic!("{e}")));
        let base = KeylessAttestor {
            issuer: Some("https://issuer".into()),
            issuer_regexp: None,
            subject: Some("s".into()),
            subject_regexp: None,
            roots: None,
            additional_extensions: Default::default(),
            rekor: Default::default(),
            ctlog: Default::default(),
        };
        assert!(keyless_policy(&base, root.clone()).is_ok());
        let refused =
            |attestor: KeylessAttestor, needle: &str| match keyless_policy(&attestor, root.clone())
            {
                Err(CannotVerify(message)) => assert!(message.contains(needle), "{message}"),
                Ok(_) => panic!("{needle}: accepted"),
            };
        refused(
            KeylessAttestor {
                roots: Some("PEM".into()),
                ..base.clone()
            },
            "roots",
        );
        let mut rekor = base.rekor.clone();
        rekor.ignore_tlog = true;
        refused(
            KeylessAttestor {
                rekor,
                ..base.clone()
            },
            "ignoreTlog",
        );
        refused(
            KeylessAttestor {
                subject: None,
                ..base.clone()
            },
            "without subject",
        );
        refused(
            KeylessAttestor {
                subject: None,
                subject_regexp: Some("(".into()),
                ..base.clone()
            },
            "subjectRegExp",
        );
    }
}

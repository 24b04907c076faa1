//! The admission decision: signed, unsigned, wrong key, errors and timeouts; Enforce vs Audit;
//! failurePolicy; digest pinning patches applied to the object; attestation conditions.

use std::collections::BTreeMap;

use sealwatch_policy::model::Operation;
use sealwatch_policy::{
    decide, load_policies, plan, AdmissionRequestView, AttestationEvidence, AttestorSetResult,
    Decision, PolicySet, RuleStatus, SignerIdentity, UserInfo, VerificationKey,
    VerificationOutcome, VerifiedImage,
};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const DIGEST: &str = "sha256:4a2b6f2c0a3f6a1e4f5d9b8c7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e";

/// A policy like the seed, with the action, failure policy and extra entry fields given.
fn policy(spec_extra: &str, entry_extra: &str) -> PolicySet {
    let text = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signatures
spec:
{spec_extra}
  rules:
    - name: verify-cosign-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["ghcr.io/your-org/*"]
{entry_extra}
          attestors:
            - entries:
                - keyless:
                    issuer: "https://token.actions.githubusercontent.com"
                    subject: "https://github.com/your-org/*"
                    rekor: {{url: "https://rekor.sigstore.dev"}}
"#
    );
    let (set, diagnostics) = load_policies("policy.yaml", text.as_bytes());
    assert_eq!(diagnostics, vec![], "{text}");
    set
}

fn enforce() -> PolicySet {
    policy("  validationFailureAction: Enforce", "")
}

fn audit() -> PolicySet {
    policy(
        "  validationFailureAction: Audit",
        "          failureAction: Audit\n          mutateDigest: false\n          verifyDigest: false",
    )
}

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-27T12:00:00Z", &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn view<'a>(kind: &str, object: &'a Value) -> AdmissionRequestView<'a> {
    AdmissionRequestView {
        group: if kind == "Pod" { "" } else { "apps" }.to_owned(),
        version: "v1".to_owned(),
        kind: kind.to_owned(),
        subresource: String::new(),
        namespace: "prod".to_owned(),
        name: "web".to_owned(),
        operation: Operation::Create,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        namespace_labels: None,
        user: UserInfo::default(),
        object,
        now: now(),
    }
}

fn pod(image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
           "spec": {"containers": [{"name": "app", "image": image}]}})
}

fn signer() -> SignerIdentity {
    SignerIdentity {
        issuer: Some("https://token.actions.githubusercontent.com".into()),
        subject: Some(
            "https://github.com/your-org/app/.github/workflows/release.yml@refs/heads/main".into(),
        ),
        key: None,
    }
}

fn signed() -> VerificationOutcome {
    VerificationOutcome::Completed(VerifiedImage {
        digest: DIGEST.into(),
        attestor_sets: vec![AttestorSetResult::Passed {
            signers: vec![signer()],
        }],
        attestations: vec![],
    })
}

fn rejected(message: &str) -> VerificationOutcome {
    VerificationOutcome::Completed(VerifiedImage {
        digest: DIGEST.into(),
        attestor_sets: vec![AttestorSetResult::Failed {
            message: message.into(),
        }],
        attestations: vec![],
    })
}

/// Runs both phases, answering every planned verification with `outcome`.
fn run(
    set: &PolicySet,
    view: &AdmissionRequestView<'_>,
    outcome: Option<VerificationOutcome>,
) -> Decision {
    let mut results: BTreeMap<VerificationKey, VerificationOutcome> = BTreeMap::new();
    if let Some(outcome) = outcome {
        for request in plan(set, view) {
            results.insert(request.key, outcome.clone());
        }
    }
    decide(set, view, &results)
}

/// A small RFC 6902 applier (add/replace) for checking patches.
fn apply(document: &Value, patch: &Value) -> Value {
    let mut document = document.clone();
    for op in patch.as_array().cloned().unwrap_or_default() {
        let path = op["path"].as_str().unwrap_or_default();
        let tokens: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let Some((last, parents)) = tokens.split_last() else {
            panic!("empty path in {op}")
        };
        let mut target = &mut document;
        for token in parents {
            target = match target {
                Value::Object(map) => map
                    .get_mut(token)
                    .unwrap_or_else(|| panic!("missing {token} for {path}")),
                Value::Array(items) => {
                    let index: usize = token.parse().unwrap_or(usize::MAX);
                    items
                        .get_mut(index)
                        .unwrap_or_else(|| panic!("missing index {token} for {path}"))
                }
                _ => panic!("cannot descend into {token} for {path}"),
            };
        }
        let value = op["value"].clone();
        match (op["op"].as_str(), target) {
            (Some("add"), Value::Object(map)) => {
                map.insert(last.clone(), value);
            }
            (Some("replace"), Value::Object(map)) => {
                assert!(map.contains_key(last), "replace of missing {path}");
                map.insert(last.clone(), value);
            }
            (Some("replace"), Value::Array(items)) => {
                let index: usize = last.parse().unwrap_or(usize::MAX);
                let slot = items
                    .get_mut(index)
                    .unwrap_or_else(|| panic!("replace of missing {path}"));
                *slot = value;
            }
            (other, _) => panic!("unsupported op {other:?} at {path}"),
        }
    }
    document
}

fn statuses(decision: &Decision) -> Vec<(String, RuleStatus)> {
    decision
        .results
        .iter()
        .map(|r| (r.image.clone(), r.status))
        .collect()
}

#[test]
fn signed_image_is_allowed_and_pinned_to_its_digest() {
    let set = enforce();
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    let decision = run(&set, &view, Some(signed()));
    assert!(decision.allowed, "{decision:#?}");
    assert_eq!(
        statuses(&decision),
        vec![("ghcr.io/your-org/app:v1".to_owned(), RuleStatus::Pass)]
    );
    assert_eq!(
        decision.results[0].message,
        "verified image signatures for ghcr.io/your-org/app:v1"
    );
    assert_eq!(decision.results[0].signers, vec![signer()]);
    assert!(decision.warnings.is_empty());
    let patch = decision.patch_json().unwrap_or_default();
    let patched = apply(&object, &patch);
    assert_eq!(
        patched["spec"]["containers"][0]["image"],
        json!(format!("ghcr.io/your-org/app:v1@{DIGEST}"))
    );
    let annotation = patched["metadata"]["annotations"]["kyverno.io/verify-images"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(annotation).ok(),
        Some(json!({"ghcr.io/your-org/app:v1": "pass"}))
    );
    // Annotation patches come before digest patches; the annotations map is created first.
    let paths: Vec<&str> = decision.patch.iter().map(|op| op.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/metadata/annotations",
            "/metadata/annotations/kyverno.io~1verify-images",
            "/spec/containers/0/image"
        ]
    );
}

#[test]
fn pinning_follows_the_template_path_of_controllers() {
    let set = enforce();
    let deployment = json!({"kind": "Deployment", "metadata": {"name": "web", "annotations": {"a": "b"}},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": "ghcr.io/your-org/init:1"}],
            "containers": [{"name": "app", "image": "ghcr.io/your-org/app:v1"},
                           {"name": "pinned", "image": format!("ghcr.io/your-org/app@{DIGEST}")},
                           {"name": "other", "image": "nginx:1.27"}]}}}});
    let view = view("Deployment", &deployment);
    let decision = run(&set, &view, Some(signed()));
    assert!(decision.allowed);
    let patched = apply(&deployment, &decision.patch_json().unwrap_or_default());
    let images: Vec<String> = ["initContainers", "containers"]
        .iter()
        .flat_map(|list| {
            patched["spec"]["template"]["spec"][list]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| c["image"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        images,
        [
            format!("ghcr.io/your-org/init:1@{DIGEST}"),
            format!("ghcr.io/your-org/app:v1@{DIGEST}"),
            format!("ghcr.io/your-org/app@{DIGEST}"),
            "nginx:1.27".to_owned(),
        ]
    );
    // Existing annotations are kept; no `add /metadata/annotations {}` over them.
    assert_eq!(patched["metadata"]["annotations"]["a"], json!("b"));
    assert!(decision
        .results
        .iter()
        .all(|r| r.rule == "autogen-verify-cosign-signature"));
}

#[test]
fn unsigned_or_wrong_key_is_denied_under_enforce() {
    let set = enforce();
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    for reason in [
        "no signatures found",
        "no matching signatures: invalid signature when validating ASN.1 encoded signature",
    ] {
        let decision = run(&set, &view, Some(rejected(reason)));
        assert!(!decision.allowed);
        assert_eq!(
            statuses(&decision),
            vec![("ghcr.io/your-org/app:v1".to_owned(), RuleStatus::Fail)]
        );
        assert!(decision.patch.is_empty(), "a denied request is not patched");
        assert!(
            decision
                .message
                .contains("resource Pod/prod/web was blocked due to the following policies"),
            "{}",
            decision.message
        );
        assert!(decision.message.contains("verify-image-signatures:\n  verify-cosign-signature: 'failed to verify image ghcr.io/your-org/app:v1: .attestors[0]: "), "{}", decision.message);
        assert!(decision.message.contains(reason));
    }
}

#[test]
fn audit_allows_failures_with_a_warning() {
    let set = audit();
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    let decision = run(&set, &view, Some(rejected("no signatures found")));
    assert!(decision.allowed);
    assert_eq!(
        statuses(&decision),
        vec![("ghcr.io/your-org/app:v1".to_owned(), RuleStatus::Fail)]
    );
    assert_eq!(decision.warnings.len(), 1);
    assert!(decision.warnings[0].starts_with(
        "policy verify-image-signatures.verify-cosign-signature: failed to verify image"
    ));
    // The failure is recorded in the annotation; no digest pin in Audit (mutateDigest: false).
    let paths: Vec<&str> = decision.patch.iter().map(|op| op.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/metadata/annotations",
            "/metadata/annotations/kyverno.io~1verify-images"
        ]
    );
    assert_eq!(
        decision.patch[1].value,
        json!("{\"ghcr.io/your-org/app:v1\":\"fail\"}")
    );
    assert_eq!(
        decision.verify_images_annotation.as_deref(),
        Some("{\"ghcr.io/your-org/app:v1\":\"fail\"}")
    );
    // Signed under Audit: pass, no warning.
    let decision = run(&set, &view, Some(signed()));
    assert!(decision.allowed && decision.warnings.is_empty());
}

#[test]
fn errors_and_timeouts_follow_the_failure_policy() {
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    let outcomes = [
        Some(VerificationOutcome::Error {
            message: "GET https://ghcr.io/v2/: TOOMANYREQUESTS".into(),
        }),
        Some(VerificationOutcome::Timeout),
        None, // the caller never answered
    ];
    for outcome in outcomes {
        // failurePolicy Fail (the default) denies, even under Audit (Kyverno's BlockRequest).
        for set in [enforce(), audit()] {
            let decision = run(&set, &view, outcome.clone());
            assert!(!decision.allowed, "{outcome:?}");
            assert_eq!(decision.results[0].status, RuleStatus::Error);
        }
        // failurePolicy Ignore allows with a warning.
        let ignore = policy("  validationFailureAction: Enforce\n  webhookConfiguration:\n    failurePolicy: Ignore", "");
        let decision = run(&ignore, &view, outcome.clone());
        assert!(decision.allowed, "{outcome:?}");
        assert_eq!(decision.results[0].status, RuleStatus::Error);
        assert_eq!(decision.warnings.len(), 1);
        assert!(
            decision.patch.is_empty(),
            "no verdict, nothing to record or pin"
        );
    }
    let decision = run(&enforce(), &view, Some(VerificationOutcome::Timeout));
    assert!(
        decision
            .message
            .contains("verification timed out after 10s"),
        "{}",
        decision.message
    );
}

#[test]
fn images_outside_the_references_or_skipped_are_not_verified() {
    let set = policy(
        "  validationFailureAction: Enforce",
        "          skipImageReferences: [\"ghcr.io/your-org/debug*\"]",
    );
    let object = json!({"metadata": {}, "spec": {"containers": [
        {"name": "a", "image": "nginx"},
        {"name": "b", "image": "ghcr.io/your-org/debug:1"}]}});
    let view = view("Pod", &object);
    assert!(plan(&set, &view).is_empty());
    // Even with every verification failing, nothing is denied.
    let decision = run(&set, &view, Some(rejected("no signatures found")));
    assert!(decision.allowed);
    assert_eq!(
        statuses(&decision),
        vec![("ghcr.io/your-org/debug:1".to_owned(), RuleStatus::Skip)]
    );
    assert_eq!(
        decision.patch.last().map(|op| op.value.clone()),
        Some(json!("{\"ghcr.io/your-org/debug:1\":\"skip\"}"))
    );
}

#[test]
fn verify_digest_without_mutation_requires_a_digest_in_the_spec() {
    let set = policy(
        "  validationFailureAction: Enforce",
        "          mutateDigest: false",
    );
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    let decision = run(&set, &view, Some(signed()));
    assert!(!decision.allowed);
    assert_eq!(
        decision.results[0].message,
        "missing digest for ghcr.io/your-org/app:v1"
    );
    let pinned = pod(&format!("ghcr.io/your-org/app:v1@{DIGEST}"));
    let view = self::view("Pod", &pinned);
    let decision = run(&set, &view, Some(signed()));
    assert!(decision.allowed, "{decision:#?}");
    assert_eq!(
        decision.results[0].image,
        format!("ghcr.io/your-org/app@{DIGEST}")
    );
}

#[test]
fn one_enforcing_failure_among_passes_denies() {
    let mut set = enforce();
    let (other, diagnostics) = load_policies(
        "other.yaml",
        br#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: digests-only}
spec:
  rules:
    - name: need-digest
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["*"]
          failureAction: Enforce
          mutateDigest: false
"#,
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    set.extend(other);
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    let decision = run(&set, &view, Some(signed()));
    assert!(!decision.allowed);
    let got: Vec<(&str, RuleStatus)> = decision
        .results
        .iter()
        .map(|r| (r.policy.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        vec![
            ("verify-image-signatures", RuleStatus::Pass),
            ("digests-only", RuleStatus::Fail)
        ]
    );
    assert!(decision
        .message
        .contains("digests-only:\n  need-digest: 'missing digest for ghcr.io/your-org/app:v1'"));
    assert!(!decision.message.contains("verify-image-signatures:"));
}

const VULN_POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: scanned}
spec:
  rules:
    - name: fresh-scan-no-fixable-critical
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["ghcr.io/your-org/*"]
          failureAction: Enforce
          attestations:
            - type: https://cosign.sigstore.dev/attestation/vuln/v1
              attestors:
                - entries:
                    - keyless: {subject: "https://github.com/your-org/*", issuer: "https://token.actions.githubusercontent.com", rekor: {url: "https://rekor.sigstore.dev"}}
              conditions:
                - all:
                    - key: "{{ time_since('','{{ metadata.scanFinishedOn }}','') }}"
                      operator: LessThanOrEquals
                      value: "24h"
                    - key: "{{ scanner.result.Results[].Vulnerabilities[] | [?Severity == 'CRITICAL' && FixedVersion] | length(@) }}"
                      operator: Equals
                      value: 0
                      message: "image has fixable CRITICAL vulnerabilities"
"#;

fn vuln(finished: &str, critical_fixed: &str) -> VerificationOutcome {
    VerificationOutcome::Completed(VerifiedImage {
        digest: DIGEST.into(),
        attestor_sets: vec![],
        attestations: vec![AttestationEvidence {
            attestor_sets: vec![AttestorSetResult::Passed {
                signers: vec![signer()],
            }],
            predicates: vec![json!({
                "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished},
                "scanner": {"uri": "pkg:github/aquasecurity/trivy@0.59.1", "result": {"Results": [{"Vulnerabilities": [
                    {"VulnerabilityID": "CVE-2026-1", "Severity": "CRITICAL", "FixedVersion": critical_fixed},
                    {"VulnerabilityID": "CVE-2026-2", "Severity": "HIGH", "FixedVersion": "2.0"}]}]}}
            })],
        }],
    })
}

#[test]
fn attestation_conditions_require_a_fresh_scan_without_fixable_critical() {
    let (set, diagnostics) = load_policies("vuln.yaml", VULN_POLICY.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let object = pod("ghcr.io/your-org/app:v1");
    let view = view("Pod", &object);
    let cases: &[(VerificationOutcome, bool, &str)] = &[
        (
            vuln("2026-11-27T02:00:00Z", ""),
            true,
            "verified image signatures",
        ),
        (vuln("2026-11-25T02:00:00Z", ""), false, "condition failed"),
        (
            vuln("2026-11-27T02:00:00Z", "1.2.3"),
            false,
            "image has fixable CRITICAL vulnerabilities",
        ),
        (
            vuln("yesterday", ""),
            false,
            "failed to evaluate attestation conditions",
        ),
        (
            VerificationOutcome::Completed(VerifiedImage {
                digest: DIGEST.into(),
                attestor_sets: vec![],
                attestations: vec![AttestationEvidence {
                    attestor_sets: vec![],
                    predicates: vec![],
                }],
            }),
            false,
            "attestation type https://cosign.sigstore.dev/attestation/vuln/v1 not found",
        ),
    ];
    for (outcome, allowed, message) in cases {
        let decision = run(&set, &view, Some(outcome.clone()));
        assert_eq!(decision.allowed, *allowed, "{decision:#?}");
        assert!(
            decision.results[0].message.contains(message),
            "{} vs {message}",
            decision.results[0].message
        );
    }
}

#[test]
fn unparseable_images_are_errors_that_fail_closed() {
    let object = pod("ghcr.io/your-org/App:v1");
    let view = view("Pod", &object);
    let decision = run(&enforce(), &view, Some(signed()));
    assert!(!decision.allowed);
    assert_eq!(decision.results[0].status, RuleStatus::Error);
    assert!(
        decision.results[0]
            .message
            .starts_with("failed to parse image \"ghcr.io/your-org/App:v1\""),
        "{}",
        decision.results[0].message
    );
    assert!(
        plan(&enforce(), &view).is_empty(),
        "nothing to verify for an invalid reference"
    );
}

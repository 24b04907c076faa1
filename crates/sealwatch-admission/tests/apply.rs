//! Offline evaluation (`sealwatch policy apply`): manifests from a folder, policies from the
//! keyed example, verification through a verifier that knows one signed image.

use std::time::{Duration, Instant};

use sealwatch_admission::files::{load_policy_path, load_resources};
use sealwatch_admission::{evaluate_offline, ImageVerifier, UnavailableVerifier};
use sealwatch_policy::{
    AttestorSetResult, RuleStatus, VerificationOutcome, VerificationRequest, VerifiedImage,
};

const KEYED_POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/policies/verify-image-signatures-keyed.yaml"
);
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// Signed: `ghcr.io/your-org/app`; anything else has no signatures.
struct OneSignedImage;

impl ImageVerifier for OneSignedImage {
    fn verify(&self, request: &VerificationRequest<'_>, _deadline: Instant) -> VerificationOutcome {
        let result = if request.image.repository() == "ghcr.io/your-org/app" {
            AttestorSetResult::Passed {
                signers: Vec::new(),
            }
        } else {
            AttestorSetResult::Failed {
                message: "no signatures found".into(),
            }
        };
        VerificationOutcome::Completed(VerifiedImage {
            digest: DIGEST.into(),
            attestor_sets: vec![result],
            attestations: Vec::new(),
        })
    }
}

const MANIFESTS: &str = "apiVersion: v1
kind: Pod
metadata: {name: signed, namespace: apps}
spec:
  containers:
    - {name: app, image: ghcr.io/your-org/app:v1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: unsigned, namespace: apps}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - {name: app, image: ghcr.io/your-org/other:v1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {image: ghcr.io/your-org/other:v1}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: elsewhere}
spec:
  schedule: '@daily'
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {name: app, image: docker.io/library/busybox:1.36}
";

#[test]
fn apply_reports_each_resource_like_admission() {
    let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(folder.path().join("all.yaml"), MANIFESTS).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(folder.path().join(".hidden.yaml"), "kind: [").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(folder.path().join("notes.txt"), "kind: [").unwrap_or_else(|e| panic!("{e}"));
    let (resources, errors) = load_resources(folder.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(resources.len(), 4);
    let loaded =
        load_policy_path(std::path::Path::new(KEYED_POLICY)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);

    // (allowed, statuses, patched image)
    let expect: [(bool, Vec<RuleStatus>, Option<String>); 4] = [
        (
            true,
            vec![RuleStatus::Pass],
            Some(format!("ghcr.io/your-org/app:v1@{DIGEST}")),
        ),
        (false, vec![RuleStatus::Fail], None),
        (true, vec![], None),
        (true, vec![], None),
    ];
    for (resource, (allowed, statuses, pinned)) in resources.iter().zip(expect) {
        let decision = evaluate_offline(
            &loaded.set,
            &resource.object,
            None,
            &OneSignedImage,
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("{}: not evaluated", resource.source));
        assert_eq!(
            decision.allowed, allowed,
            "{}: {decision:?}",
            resource.source
        );
        let got: Vec<RuleStatus> = decision.results.iter().map(|r| r.status).collect();
        assert_eq!(got, statuses, "{}", resource.source);
        let patched = decision
            .patch
            .iter()
            .find(|op| op.path.ends_with("/image"))
            .and_then(|op| op.value.as_str().map(str::to_owned));
        assert_eq!(patched, pinned, "{}", resource.source);
    }

    // Without registry access, verification is an error: denied (failurePolicy Fail).
    let decision = resources
        .first()
        .and_then(|r| {
            evaluate_offline(
                &loaded.set,
                &r.object,
                None,
                &UnavailableVerifier,
                Duration::from_secs(5),
            )
        })
        .unwrap_or_else(|| panic!("not evaluated"));
    assert!(!decision.allowed);
    assert_eq!(
        decision.results.first().map(|r| r.status),
        Some(RuleStatus::Error)
    );
}

/// `namespaceSelector` in `policy apply`: labels from Namespace manifests (and values files)
/// decide whether the rule applies; a namespace whose labels are unknown matches no selector.
#[test]
fn namespace_selector_uses_labels_from_namespace_manifests() {
    let policy = std::fs::read_to_string(KEYED_POLICY).unwrap_or_else(|e| panic!("{e}"));
    let policy = policy.replace(
        "              kinds:\n                - Pod\n",
        "              kinds:\n                - Pod\n              namespaceSelector:\n                matchLabels:\n                  env: prod\n",
    );
    assert!(policy.contains("namespaceSelector"), "policy not rewritten");
    let (set, diagnostics) = sealwatch_policy::load_policies("selector.yaml", policy.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let manifests = "apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: v1
kind: Pod
metadata: {name: in-prod, namespace: prod}
spec: {containers: [{name: app, image: ghcr.io/your-org/other:v1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: in-dev, namespace: dev}
spec: {containers: [{name: app, image: ghcr.io/your-org/other:v1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: unknown}
spec: {containers: [{name: app, image: ghcr.io/your-org/other:v1}]}
";
    let (resources, errors) =
        sealwatch_admission::files::parse_resources("all.yaml", manifests.as_bytes());
    assert!(errors.is_empty(), "{errors:?}");
    let namespaces = sealwatch_admission::files::namespace_labels_from_resources(&resources);
    assert_eq!(
        namespaces.keys().collect::<Vec<_>>(),
        vec!["dev", "prod"],
        "{namespaces:?}"
    );
    // (pod, allowed, rule results): the unsigned image is denied only where the rule applies.
    let expect = [
        ("in-prod", false, vec![RuleStatus::Fail]),
        ("in-dev", true, vec![]),
        ("elsewhere", true, vec![]),
    ];
    for (name, allowed, statuses) in expect {
        let resource = resources
            .iter()
            .find(|r| r.object["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let namespace = resource.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        let decision = evaluate_offline(
            &set,
            &resource.object,
            namespaces.get(namespace),
            &OneSignedImage,
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("{name}: not evaluated"));
        assert_eq!(decision.allowed, allowed, "{name}: {decision:?}");
        let got: Vec<RuleStatus> = decision.results.iter().map(|r| r.status).collect();
        assert_eq!(got, statuses, "{name}");
    }
    // The same labels from a Kyverno CLI values file; `NotIn` also matches a namespace whose
    // labels are known to lack the key.
    let values = "apiVersion: cli.kyverno.io/v1alpha1
kind: Values
namespaceSelector:
  - name: unknown
    labels: {team: a}
";
    let from_values =
        sealwatch_admission::files::parse_values_file("values.yaml", values.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    let not_in = policy.replace(
        "                matchLabels:\n                  env: prod\n",
        "                matchExpressions:\n                  - {key: env, operator: NotIn, values: [dev]}\n",
    );
    let (set, diagnostics) = sealwatch_policy::load_policies("not-in.yaml", not_in.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let elsewhere = resources
        .iter()
        .find(|r| r.object["metadata"]["name"] == "elsewhere")
        .unwrap_or_else(|| panic!("elsewhere missing"));
    for (labels, allowed) in [(from_values.get("unknown"), false), (None, true)] {
        let decision = evaluate_offline(
            &set,
            &elsewhere.object,
            labels,
            &OneSignedImage,
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("not evaluated"));
        assert_eq!(decision.allowed, allowed, "labels {labels:?}: {decision:?}");
    }
}

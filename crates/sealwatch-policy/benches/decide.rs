//! Whole-decision cost with verification results already known (the "verification cached"
//! budget: p99 under 2 ms). Run with `cargo bench -p sealwatch-policy`; prints p50/p99/max.

use std::collections::HashMap;
use std::time::Instant;

use sealwatch_policy::model::Operation;
use sealwatch_policy::{
    decide, load_policies, plan, AdmissionRequestView, AttestationEvidence, AttestorSetResult,
    SignerIdentity, UserInfo, VerificationKey, VerificationOutcome, VerifiedImage,
};
use serde_json::json;
use time::OffsetDateTime;

const POLICIES: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: verify-image-signatures}
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: verify-cosign-signature
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude: {any: [{resources: {namespaces: [kube-system]}}]}
      verifyImages:
        - imageReferences: ["ghcr.io/your-org/*"]
          attestors:
            - entries:
                - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/your-org/*", rekor: {url: "https://rekor.sigstore.dev"}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: scanned}
spec:
  rules:
    - name: fresh-scan
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["ghcr.io/your-org/*"]
          failureAction: Enforce
          mutateDigest: false
          verifyDigest: false
          attestations:
            - type: https://cosign.sigstore.dev/attestation/vuln/v1
              conditions:
                - all:
                    - key: "{{ time_since('','{{ metadata.scanFinishedOn }}','') }}"
                      operator: LessThanOrEquals
                      value: "24h"
                    - key: "{{ scanner.result.Results[].Vulnerabilities[] | [?Severity == 'CRITICAL' && FixedVersion] | length(@) }}"
                      operator: Equals
                      value: 0
"#;

fn main() {
    let (set, diagnostics) = load_policies("bench.yaml", POLICIES.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let object = json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": "ghcr.io/your-org/init:1.0"}],
            "containers": [{"name": "app", "image": "ghcr.io/your-org/app:2.3"},
                           {"name": "proxy", "image": "docker.io/envoyproxy/envoy:v1.31"}]}}}});
    let now = OffsetDateTime::now_utc();
    let view = AdmissionRequestView {
        group: "apps".into(),
        version: "v1".into(),
        kind: "Deployment".into(),
        subresource: String::new(),
        namespace: "prod".into(),
        name: "web".into(),
        operation: Operation::Create,
        labels: Default::default(),
        annotations: Default::default(),
        namespace_labels: None,
        user: UserInfo::default(),
        object: &object,
        now,
    };
    let finished = (now - time::Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let predicate = json!({"metadata": {"scanFinishedOn": finished}, "scanner": {"result": {"Results": [
        {"Vulnerabilities": (0..200).map(|i| json!({"VulnerabilityID": format!("CVE-2026-{i}"), "Severity": if i % 3 == 0 { "HIGH" } else { "LOW" }, "FixedVersion": "1.0"})).collect::<Vec<_>>()}]}}});
    let mut results: HashMap<VerificationKey, VerificationOutcome> = HashMap::new();
    for request in plan(&set, &view) {
        results.insert(
            request.key,
            VerificationOutcome::Completed(VerifiedImage {
                digest: "sha256:4a2b6f2c0a3f6a1e4f5d9b8c7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e"
                    .into(),
                attestor_sets: vec![AttestorSetResult::Passed {
                    signers: vec![SignerIdentity::default()],
                }],
                attestations: vec![AttestationEvidence {
                    attestor_sets: vec![],
                    predicates: vec![predicate.clone()],
                }],
            }),
        );
    }
    let decision = decide(&set, &view, &results);
    assert!(decision.allowed, "{decision:#?}");
    assert_eq!(decision.results.len(), 4);

    let timed = |label: &str, iterations: usize, run: &dyn Fn()| {
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let start = Instant::now();
            run();
            samples.push(start.elapsed());
        }
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
        println!(
            "{label}: p50 {:?} p99 {:?} max {:?} over {iterations}",
            at(0.5),
            at(0.99),
            at(1.0)
        );
    };
    timed(
        "plan+decide (Deployment, 3 images, 2 policies, 200-vuln predicate)",
        20_000,
        &|| {
            std::hint::black_box((plan(&set, &view), decide(&set, &view, &results)));
        },
    );
    let conditions_only = sealwatch_policy::PolicySet {
        policies: set.policies.iter().skip(1).cloned().collect(),
    };
    let signatures_only = sealwatch_policy::PolicySet {
        policies: set.policies.iter().take(1).cloned().collect(),
    };
    timed("decide, signatures only", 5_000, &|| {
        std::hint::black_box(decide(&signatures_only, &view, &results));
    });
    timed("decide, attestation conditions only", 5_000, &|| {
        std::hint::black_box(decide(&conditions_only, &view, &results));
    });
    let start = Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(load_policies("bench.yaml", POLICIES.as_bytes()));
    }
    println!(
        "load_policies (2 policies): {:?} per load",
        start.elapsed() / 1000
    );
}

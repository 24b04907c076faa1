//! The AdmissionReview decoder and everything behind it on the webhook's request path
//! (request view, plan, decide, response) never panic on any body, and every response
//! echoes the request's uid in an `admission.k8s.io/v1` AdmissionReview.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealwatch_admission::review::{decision_response, Phase};
use sealwatch_admission::decode_review;
use sealwatch_policy::{decide, load_policies, plan, AdmissionRequestView, PolicySet, VerificationOutcome};

/// Digest-only and keyed checks, so that both the no-lookup and the lookup paths run.
const POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: fuzz}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["*"]
          verifyDigest: true
          mutateDigest: true
          attestors:
            - entries:
                - keys:
                    publicKeys: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvwCAFUj8qi04VPWd1HQ8yeQjvsoj\nkBToZDx6jIW2Vyk9dA6EjLbtU79o1xs+5yIbFeFg0fttu/+GNV2CykBdkQ==\n-----END PUBLIC KEY-----"
"#;

fn policies() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| load_policies("fuzz.yaml", POLICY.as_bytes()).0)
}

fuzz_target!(|data: &[u8]| {
    let Ok(review) = decode_review(data) else {
        return;
    };
    let Some(view) = AdmissionRequestView::from_request_json(&review.request, time::OffsetDateTime::UNIX_EPOCH) else {
        return;
    };
    let outcomes: HashMap<_, _> = plan(policies(), &view)
        .into_iter()
        .map(|request| (request.key, VerificationOutcome::Timeout))
        .collect();
    let decision = decide(policies(), &view, &outcomes);
    for phase in [Phase::Mutate, Phase::Validate] {
        let response = decision_response(&review.uid, phase, &decision);
        assert_eq!(response["response"]["uid"].as_str(), Some(review.uid.as_str()));
        assert_eq!(response["apiVersion"], "admission.k8s.io/v1");
        if phase == Phase::Validate {
            assert!(response["response"].get("patch").is_none());
        }
    }
});

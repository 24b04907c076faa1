//! `namespaceSelector` in the webhook: namespace labels come from the Kubernetes API, here a
//! loopback stand-in for it (`sealwatch_test::kube_api`: real Namespace JSON, bearer-token
//! check, its own certificate trusted through the CA file as in a Pod).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealwatch_admission::namespaces::{KubeApiConfig, KubeApiNamespaces, NamespaceLabels};
use sealwatch_admission::{decode_review, Admission, CacheConfig, ImageVerifier, Phase};
use sealwatch_policy::{
    load_policies, AttestorSetResult, PolicySet, VerificationOutcome, VerificationRequest,
    VerifiedImage,
};
use sealwatch_test::kube_api::StandInApiServer;
use serde_json::{json, Value};

const TOKEN: &str = "stand-in-service-account-token";

fn stand_in(namespaces: &[(&str, &[(&str, &str)])]) -> StandInApiServer {
    StandInApiServer::start(namespaces, TOKEN).unwrap_or_else(|e| panic!("stand-in API: {e}"))
}

/// No image in these tests is signed: a rule that applies denies (Enforce).
struct NothingSigned;

impl ImageVerifier for NothingSigned {
    fn verify(
        &self,
        _request: &VerificationRequest<'_>,
        _deadline: Instant,
    ) -> VerificationOutcome {
        VerificationOutcome::Completed(VerifiedImage {
            digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222"
                .into(),
            attestor_sets: vec![AttestorSetResult::Failed {
                message: "no signatures found".into(),
            }],
            attestations: Vec::new(),
        })
    }
}

fn policy(failure_policy: &str) -> PolicySet {
    let text = format!(
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: prod-images}}
spec:
  failurePolicy: {failure_policy}
  rules:
    - name: signed-in-prod
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaceSelector:
                matchLabels: {{env: prod}}
      verifyImages:
        - imageReferences: ['ghcr.io/your-org/*']
          failureAction: Enforce
          mutateDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
                      -----BEGIN PUBLIC KEY-----
                      MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvwCAFUj8qi04VPWd1HQ8yeQjvsoj
                      kBToZDx6jIW2Vyk9dA6EjLbtU79o1xs+5yIbFeFg0fttu/+GNV2CykBdkQ==
                      -----END PUBLIC KEY-----
                    rekor: {{url: https://rekor.sigstore.dev, ignoreTlog: true}}
"
    );
    let (set, diagnostics) = load_policies("prod-images.yaml", text.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    set
}

fn review(uid: &str, kind: &str, namespace: &str) -> sealwatch_admission::ReviewRequest {
    review_of("CREATE", uid, kind, namespace)
}

fn review_of(
    operation: &str,
    uid: &str,
    kind: &str,
    namespace: &str,
) -> sealwatch_admission::ReviewRequest {
    let object = match kind {
        "Pod" => json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {"containers": [{"name": "app", "image": "ghcr.io/your-org/app:v1"}]},
        }),
        _ => json!({
            "apiVersion": "v1", "kind": kind,
            "metadata": {"name": "settings", "namespace": namespace},
            "data": {"image": "ghcr.io/your-org/app:v1"},
        }),
    };
    // DELETE carries the object as `oldObject` only.
    let (object, old_object) = if operation == "DELETE" {
        (Value::Null, object)
    } else {
        (object, Value::Null)
    };
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "name": old_object["metadata"]["name"].as_str().or(object["metadata"]["name"].as_str()),
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": old_object,
        },
    });
    decode_review(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn admission(
    api: &StandInApiServer,
    failure_policy: &str,
    token: &str,
    dir: &Path,
    ttl: Duration,
) -> Admission {
    let token_file = dir.join("token");
    let ca_file = dir.join("ca.crt");
    std::fs::write(&token_file, format!("{token}\n")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&ca_file, api.ca_pem()).unwrap_or_else(|e| panic!("{e}"));
    let lookup = KubeApiNamespaces::new(KubeApiConfig {
        server: api.url(),
        token_file,
        ca_file,
        timeout: Duration::from_secs(5),
    })
    .unwrap_or_else(|e| panic!("client: {e}"));
    Admission::new(
        policy(failure_policy),
        Arc::new(NothingSigned),
        CacheConfig::default(),
    )
    .with_namespace_labels(NamespaceLabels::new(Box::new(lookup), ttl, 100))
}

const BUDGET: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_selector_uses_labels_from_the_api_server() {
    let api = stand_in(&[("prod", &[("env", "prod")]), ("dev", &[("env", "dev")])]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let admission = admission(&api, "Fail", TOKEN, dir.path(), Duration::from_secs(60));

    // (namespace, kind, allowed, API requests made so far)
    let steps = [
        ("prod", "Pod", false, 1),
        ("dev", "Pod", true, 2),
        // Cached for the TTL: no new API request.
        ("prod", "Pod", false, 2),
        ("dev", "Pod", true, 2),
        // No policy selects ConfigMaps by namespace: no lookup at all.
        ("prod", "ConfigMap", true, 2),
    ];
    for (index, (namespace, kind, allowed, api_requests)) in steps.into_iter().enumerate() {
        let uid = format!("uid-{index}");
        let outcome = admission
            .review(Phase::Mutate, &review(&uid, kind, namespace), BUDGET)
            .await;
        let response = &outcome.response["response"];
        assert_eq!(response["uid"], uid.as_str());
        assert_eq!(
            response["allowed"], allowed,
            "{kind} in {namespace}: {response}"
        );
        if !allowed {
            assert_eq!(response["status"]["code"], 403, "{response}");
            let message = response["status"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("signed-in-prod"), "{message}");
        }
        assert_eq!(api.requests(), api_requests, "after {kind} in {namespace}");
    }
    let metrics = admission.metrics().render(1);
    for line in [
        "sealwatch_admission_namespace_lookups_total{result=\"hit\"} 2\n",
        "sealwatch_admission_namespace_lookups_total{result=\"miss\"} 2\n",
        "sealwatch_admission_namespace_lookups_total{result=\"error\"} 0\n",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_labels_are_looked_up_again() {
    let api = stand_in(&[("prod", &[("env", "prod")])]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let admission = admission(&api, "Fail", TOKEN, dir.path(), Duration::ZERO);
    for round in 1..=3 {
        let outcome = admission
            .review(Phase::Mutate, &review("u", "Pod", "prod"), BUDGET)
            .await;
        assert_eq!(outcome.response["response"]["allowed"], false);
        assert_eq!(api.requests(), round);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lookup_follows_the_failure_policy() {
    let api = stand_in(&[("prod", &[("env", "prod")])]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    // A token the API server refuses: under failurePolicy Fail the request is denied with 500
    // and a message naming the namespace and the cause.
    let refused = admission(
        &api,
        "Fail",
        "wrong-token",
        dir.path(),
        Duration::from_secs(60),
    );
    for namespace in ["prod", "dev"] {
        let outcome = refused
            .review(Phase::Mutate, &review("u1", "Pod", namespace), BUDGET)
            .await;
        let response = &outcome.response["response"];
        assert_eq!(response["allowed"], false, "{response}");
        assert_eq!(response["status"]["code"], 500, "{response}");
        let message = response["status"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("namespace {namespace}"))
                && message.contains("401")
                && message.contains("prod-images"),
            "{message}"
        );
    }
    // Failures are not cached: every request asks again.
    assert_eq!(api.requests(), 2);
    // DELETE verifies nothing, so it needs no labels and is not denied for the lookup.
    let outcome = refused
        .review(
            Phase::Mutate,
            &review_of("DELETE", "u0", "Pod", "prod"),
            BUDGET,
        )
        .await;
    assert_eq!(
        outcome.response["response"]["allowed"], true,
        "{}",
        outcome.response
    );
    assert_eq!(api.requests(), 2);

    // Under failurePolicy Ignore the request goes on with unknown labels (the selector does not
    // match, so the rule does not apply) and the problem is a warning.
    let ignored = admission(
        &api,
        "Ignore",
        "wrong-token",
        dir.path(),
        Duration::from_secs(60),
    );
    let outcome = ignored
        .review(Phase::Mutate, &review("u2", "Pod", "prod"), BUDGET)
        .await;
    let response = &outcome.response["response"];
    assert_eq!(response["allowed"], true, "{response}");
    let warning = response["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("namespace prod"), "{response}");

    // A namespace the API server does not know.
    let missing = admission(&api, "Fail", TOKEN, dir.path(), Duration::from_secs(60));
    let outcome = missing
        .review(Phase::Mutate, &review("u3", "Pod", "ghost"), BUDGET)
        .await;
    let message = outcome.response["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("404") && message.contains("no such namespace"),
        "{message}"
    );

    // No Kubernetes API at all (not in a Pod): the same failure handling.
    let unconfigured = Admission::new(
        policy("Fail"),
        Arc::new(NothingSigned),
        CacheConfig::default(),
    );
    let outcome = unconfigured
        .review(Phase::Mutate, &review("u4", "Pod", "prod"), BUDGET)
        .await;
    let response = &outcome.response["response"];
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no Kubernetes API is configured"),
        "{message}"
    );

    // An API server that does not answer in time (a listener that never accepts TLS) is a
    // timeout within the review's budget, not a hang.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let silent_port = silent.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    let lookup = KubeApiNamespaces::new(KubeApiConfig {
        server: format!("https://127.0.0.1:{silent_port}"),
        token_file: dir.path().join("token"),
        ca_file: dir.path().join("ca.crt"),
        timeout: Duration::from_secs(30),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let slow = Admission::new(
        policy("Fail"),
        Arc::new(NothingSigned),
        CacheConfig::default(),
    )
    .with_namespace_labels(NamespaceLabels::new(
        Box::new(lookup),
        Duration::from_secs(60),
        10,
    ));
    let outcome = slow
        .review(
            Phase::Mutate,
            &review("u5", "Pod", "prod"),
            Duration::from_millis(300),
        )
        .await;
    // The client's own timeout is 30 s: "timed out" here is the review's deadline.
    let message = outcome.response["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("timed out"), "{message}");
    drop(silent);
}

//! `namespaceSelector` in the webhook: namespace labels come from the Kubernetes API.
//!
//! There is no kube-apiserver on the test machine, so `StandInApiServer` below is a stand-in
//! for it: an HTTPS server on loopback (its own CA-less self-signed certificate, which the
//! client must trust through the CA file, as in a Pod) answering
//! `GET /api/v1/namespaces/NAME` with the Namespace JSON the real API server returns, and
//! refusing requests without the expected bearer token with 401, as the real one does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use sealwatch_admission::namespaces::{
    KubeApiConfig, KubeApiNamespaces, NamespaceLabels, NAME_LABEL,
};
use sealwatch_admission::{decode_review, Admission, CacheConfig, ImageVerifier, Phase};
use sealwatch_policy::{
    load_policies, AttestorSetResult, PolicySet, VerificationOutcome, VerificationRequest,
    VerifiedImage,
};
use serde_json::{json, Value};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

const TOKEN: &str = "stand-in-service-account-token";

/// The stand-in API server (see the module comment).
struct StandInApiServer {
    address: std::net::SocketAddr,
    cert_pem: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl StandInApiServer {
    async fn start(namespaces: &[(&str, &[(&str, &str)])]) -> StandInApiServer {
        let namespaces: Arc<HashMap<String, Value>> = Arc::new(
            namespaces
                .iter()
                .map(|(name, labels)| {
                    let mut labels: serde_json::Map<String, Value> = labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                        .collect();
                    labels.insert(NAME_LABEL.into(), Value::String((*name).to_owned()));
                    // The shape of a real `kubectl get ns NAME -o json`.
                    let object = json!({
                        "kind": "Namespace",
                        "apiVersion": "v1",
                        "metadata": {
                            "name": name,
                            "uid": "0b7c5e7e-5f6c-4a43-9d0e-6f1f0f3e6c11",
                            "resourceVersion": "512",
                            "creationTimestamp": "2026-11-27T10:00:00Z",
                            "labels": labels,
                            "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1"}],
                        },
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    });
                    ((*name).to_owned(), object)
                })
                .collect(),
        );
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let cert_pem = certified.cert.pem();
        let key_pem = certified.signing_key.serialize_pem();
        let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("cert: {e}"))];
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("key: {e}"));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("tls: {e}"))
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap_or_else(|e| panic!("tls: {e}"));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let namespaces = Arc::clone(&namespaces);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            counter.fetch_add(1, Ordering::SeqCst);
                            let authorized = request
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                == Some(&format!("Bearer {TOKEN}"));
                            let name = request
                                .uri()
                                .path()
                                .strip_prefix("/api/v1/namespaces/")
                                .map(str::to_owned);
                            let (status, body) = match (authorized, name) {
                                (false, _) => (
                                    StatusCode::UNAUTHORIZED,
                                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
                                ),
                                (true, Some(name)) => match namespaces.get(&name) {
                                    Some(object) => (StatusCode::OK, object.clone()),
                                    None => (
                                        StatusCode::NOT_FOUND,
                                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("namespaces \"{name}\" not found"), "reason": "NotFound", "code": 404}),
                                    ),
                                },
                                (true, None) => (
                                    StatusCode::NOT_FOUND,
                                    json!({"kind": "Status", "code": 404}),
                                ),
                            };
                            let mut response =
                                Response::new(Full::new(Bytes::from(body.to_string())));
                            *response.status_mut() = status;
                            async move { Ok::<_, Infallible>(response) }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        StandInApiServer {
            address,
            cert_pem,
            requests,
            task,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for StandInApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
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
    std::fs::write(&ca_file, &api.cert_pem).unwrap_or_else(|e| panic!("{e}"));
    let lookup = KubeApiNamespaces::new(KubeApiConfig {
        server: format!("https://127.0.0.1:{}", api.address.port()),
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
    let api =
        StandInApiServer::start(&[("prod", &[("env", "prod")]), ("dev", &[("env", "dev")])]).await;
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
    let api = StandInApiServer::start(&[("prod", &[("env", "prod")])]).await;
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
    let api = StandInApiServer::start(&[("prod", &[("env", "prod")])]).await;
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

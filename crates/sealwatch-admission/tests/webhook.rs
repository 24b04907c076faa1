//! The webhook over real HTTPS on loopback, with real AdmissionReview bodies, checked the way
//! the Kubernetes API server checks webhook responses.
//!
//! Signature verification goes through `ImageVerifier`; `sealwatch-sign` (the registry-backed
//! verifier) does not exist yet, so `RegistryDouble` below stands in for it: it knows which key
//! signed which repository and answers each attestor set from the policy's own public keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sealwatch_admission::files::load_policy_path;
use sealwatch_admission::server::{tls_config, ServerConfig, Webhook};
use sealwatch_admission::{Admission, CacheConfig, ImageVerifier};
use sealwatch_policy::model::{AttestorKind, KeySource};
use sealwatch_policy::{
    load_policies, AttestorSetResult, PolicySet, Severity, SignerIdentity, VerificationOutcome,
    VerificationRequest, VerifiedImage,
};
use serde_json::{json, Value};

const KEYED_POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/policies/verify-image-signatures-keyed.yaml"
);
/// The public key in the keyed example policy (its second line is enough to recognise it).
const POLICY_KEY_LINE: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvwCAFUj8qi04VPWd1HQ8yeQjvsoj";
const DIGEST: &str = "sha256:4d2b1ca36f0e2c1b3e6a1d3bbf2b1a0c9e8d7f6a5b4c3d2e1f0a9b8c7d6e5f4a";

/// How the double's registry answers for a repository.
#[derive(Clone)]
enum Registry {
    /// Signed with a key whose PEM contains this text.
    SignedWith(&'static str),
    Unsigned,
    Down,
    Slow(Duration),
}

struct RegistryDouble {
    repositories: HashMap<String, Registry>,
    calls: AtomicUsize,
}

impl RegistryDouble {
    fn new(entries: &[(&str, Registry)]) -> Arc<Self> {
        Arc::new(RegistryDouble {
            repositories: entries
                .iter()
                .map(|(repo, registry)| ((*repo).to_owned(), registry.clone()))
                .collect(),
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl ImageVerifier for RegistryDouble {
    fn verify(&self, request: &VerificationRequest<'_>, deadline: Instant) -> VerificationOutcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let signer = match self.repositories.get(&request.image.repository()) {
            None | Some(Registry::Down) => {
                return VerificationOutcome::Error {
                    message: "registry unavailable: connection refused".into(),
                }
            }
            Some(Registry::Slow(delay)) => {
                std::thread::sleep(*delay);
                if Instant::now() > deadline {
                    return VerificationOutcome::Timeout;
                }
                Some(POLICY_KEY_LINE)
            }
            Some(Registry::SignedWith(key)) => Some(*key),
            Some(Registry::Unsigned) => None,
        };
        let attestor_sets = request
            .check
            .attestor_sets
            .iter()
            .map(|set| {
                let passed = set
                    .entries
                    .iter()
                    .filter(|entry| match (&entry.kind, signer) {
                        (AttestorKind::Key(key), Some(signer)) => {
                            matches!(&key.source, KeySource::Pem(pem) if pem.contains(signer))
                        }
                        _ => false,
                    })
                    .count();
                if signer.is_none() {
                    AttestorSetResult::Failed {
                        message: "no signatures found".into(),
                    }
                } else if passed >= set.required_count() {
                    AttestorSetResult::Passed {
                        signers: vec![SignerIdentity {
                            key: Some("policy key".into()),
                            ..SignerIdentity::default()
                        }],
                    }
                } else {
                    AttestorSetResult::Failed {
                        message: "no matching signatures: invalid signature".into(),
                    }
                }
            })
            .collect();
        VerificationOutcome::Completed(VerifiedImage {
            digest: DIGEST.into(),
            attestor_sets,
            attestations: Vec::new(),
        })
    }
}

fn policies_from(file: &str, text: &str) -> PolicySet {
    let (set, diagnostics) = load_policies(file, text.as_bytes());
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{file}: {errors:?}");
    assert!(!set.policies.is_empty(), "{file}: no policy");
    set
}

fn keyed_policy_text() -> String {
    std::fs::read_to_string(KEYED_POLICY).unwrap_or_else(|e| panic!("{KEYED_POLICY}: {e}"))
}

struct Server {
    address: std::net::SocketAddr,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    admission: Arc<Admission>,
}

impl Server {
    async fn start(set: PolicySet, verifier: Arc<dyn ImageVerifier>) -> Server {
        Server::start_with(set, verifier, ServerConfig::default()).await
    }

    async fn start_with(
        set: PolicySet,
        verifier: Arc<dyn ImageVerifier>,
        mut config: ServerConfig,
    ) -> Server {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let cert_pem = certified.cert.pem();
        let key_pem = certified.signing_key.serialize_pem();
        let tls = tls_config(
            cert_pem.as_bytes(),
            key_pem.as_bytes(),
            Path::new("test.crt"),
            Path::new("test.key"),
        )
        .unwrap_or_else(|e| panic!("tls: {e}"));
        config.listen = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
        config.log_requests = false;
        let admission = Arc::new(Admission::new(set, verifier, CacheConfig::default()));
        let webhook = Webhook::bind(config, tls, Arc::clone(&admission))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let address = webhook
            .local_addr()
            .unwrap_or_else(|| panic!("no local address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(webhook.run(async {
            let _ = stopped.await;
        }));
        let certificate = reqwest::Certificate::from_pem(cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("client certificate: {e}"));
        let client = reqwest::Client::builder()
            .add_root_certificate(certificate)
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Server {
            address,
            client,
            stop: Some(stop),
            task,
            admission,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.address.port())
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, text)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// Sends `review` to `path` and applies the API server's response checks. Returns the
    /// response and the object after the patch (unchanged when there is none).
    async fn review(&self, path: &str, review: &Value) -> (Value, Value) {
        let body = serde_json::to_vec(review).unwrap_or_default();
        let (status, text) = self.post(path, "application/json", body).await;
        assert_eq!(status, 200, "{path}: {text}");
        let response: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        let object = api_server_checks(path == "/mutate", review, &response);
        (response, object)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// What the API server verifies on a webhook response (`VerifyAdmissionResponse` and the
/// patch handling of the mutating dispatcher).
fn api_server_checks(mutating: bool, review: &Value, response: &Value) -> Value {
    assert_eq!(response["apiVersion"], "admission.k8s.io/v1", "{response}");
    assert_eq!(response["kind"], "AdmissionReview", "{response}");
    let inner = &response["response"];
    assert!(inner.is_object(), "no response: {response}");
    assert_eq!(inner["uid"], review["request"]["uid"], "uid not echoed");
    assert!(inner["allowed"].is_boolean(), "{response}");
    if let Some(warnings) = inner.get("warnings").and_then(Value::as_array) {
        for warning in warnings {
            let length = warning.as_str().map(|w| w.chars().count()).unwrap_or(0);
            assert!(length > 0 && length <= 120, "warning of {length} chars");
        }
    }
    if inner["allowed"] == false {
        assert!(inner["status"]["code"].as_u64().is_some(), "{response}");
        assert!(inner["status"]["message"].as_str().is_some(), "{response}");
    }
    let mut object = review["request"]["object"].clone();
    match (inner.get("patch"), inner.get("patchType")) {
        (None, None) => {}
        (Some(patch), Some(patch_type)) => {
            assert!(
                mutating,
                "a validating webhook returned a patch: {response}"
            );
            assert_eq!(patch_type, "JSONPatch");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(
                    patch
                        .as_str()
                        .unwrap_or_else(|| panic!("patch is not a string")),
                )
                .unwrap_or_else(|e| panic!("patch is not base64: {e}"));
            let patch: json_patch::Patch = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("patch is not a JSON patch: {e}"));
            json_patch::patch(&mut object, &patch)
                .unwrap_or_else(|e| panic!("patch does not apply: {e}"));
        }
        (patch, patch_type) => panic!("patch {patch:?} without patchType {patch_type:?}"),
    }
    object
}

fn real_review() -> Option<Value> {
    let path =
        sealwatch_test::require_shared("conformance/kyverno/admissionreview/pod-create.raw.json")?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}")))
}

/// The real review with the Pod's image replaced, and a fresh uid.
fn pod_review(base: &Value, image: &str, uid: &str) -> Value {
    let mut review = base.clone();
    review["request"]["uid"] = json!(uid);
    review["request"]["object"]["spec"]["containers"][0]["image"] = json!(image);
    review
}

/// The real review's Pod spec wrapped as a Deployment or a CronJob.
fn controller_review(base: &Value, kind: &str, image: &str) -> Value {
    let mut review = pod_review(base, image, &format!("{kind}-uid"));
    let pod = review["request"]["object"].clone();
    let template = json!({"metadata": {"labels": pod["metadata"]["labels"]}, "spec": pod["spec"]});
    let (group, spec) = match kind {
        "Deployment" => (
            "apps",
            json!({"replicas": 1, "selector": {"matchLabels": pod["metadata"]["labels"]}, "template": template}),
        ),
        _ => (
            "batch",
            json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}),
        ),
    };
    let resource = if kind == "Deployment" {
        "deployments"
    } else {
        "cronjobs"
    };
    let object = json!({
        "apiVersion": format!("{group}/v1"),
        "kind": kind,
        "metadata": {"name": "echo", "namespace": "colin-coder"},
        "spec": spec,
    });
    let request = &mut review["request"];
    request["kind"] = json!({"group": group, "version": "v1", "kind": kind});
    request["requestKind"] = request["kind"].clone();
    request["resource"] = json!({"group": group, "version": "v1", "resource": resource});
    request["requestResource"] = request["resource"].clone();
    request["name"] = json!("echo");
    request["object"] = object;
    review
}

const SIGNED: &str = "ghcr.io/your-org/app:v1";

fn signed_registry() -> Arc<RegistryDouble> {
    RegistryDouble::new(&[
        (
            "ghcr.io/your-org/app",
            Registry::SignedWith(POLICY_KEY_LINE),
        ),
        (
            "ghcr.io/your-org/tools",
            Registry::SignedWith(POLICY_KEY_LINE),
        ),
        ("ghcr.io/your-org/unsigned", Registry::Unsigned),
        (
            "ghcr.io/your-org/other-key",
            Registry::SignedWith("another key"),
        ),
        ("ghcr.io/your-org/down", Registry::Down),
        (
            "ghcr.io/your-org/slow",
            Registry::Slow(Duration::from_millis(1500)),
        ),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_policy_admits_the_real_review_unchanged() {
    let Some(review) = real_review() else { return };
    let Some(seed) = sealwatch_test::require_shared("conformance/kyverno/seed-policy.yaml") else {
        return;
    };
    let loaded = load_policy_path(&seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let registry = signed_registry();
    let server = Server::start(loaded.set, registry.clone()).await;
    for path in ["/mutate", "/validate"] {
        let (response, object) = server.review(path, &review).await;
        assert_eq!(response["response"]["allowed"], true, "{path}: {response}");
        // docker.io/jmalloc/echo-server:latest is outside ghcr.io/your-org/*: nothing to do.
        assert!(response["response"].get("patch").is_none(), "{response}");
        assert_eq!(object, review["request"]["object"]);
    }
    assert_eq!(registry.calls(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_policy_verifies_and_pins_digests() {
    let Some(base) = real_review() else { return };
    let registry = signed_registry();
    let set = policies_from("keyed.yaml", &keyed_policy_text());
    let server = Server::start(set, registry.clone()).await;

    let pinned = format!("{SIGNED}@{DIGEST}");
    let pod = pod_review(&base, SIGNED, "pod-uid");
    let (response, object) = server.review("/mutate", &pod).await;
    assert_eq!(response["response"]["allowed"], true, "{response}");
    assert_eq!(object["spec"]["containers"][0]["image"], json!(pinned));
    let annotation = object["metadata"]["annotations"]["kyverno.io/verify-images"]
        .as_str()
        .unwrap_or_default();
    let annotation: Value = serde_json::from_str(annotation).unwrap_or(Value::Null);
    assert_eq!(annotation[SIGNED], "pass", "{annotation}");

    // The validating webhook sees the mutated object: allowed, never a patch.
    let mut mutated = pod.clone();
    mutated["request"]["object"] = object.clone();
    let (response, after) = server.review("/validate", &mutated).await;
    assert_eq!(response["response"]["allowed"], true, "{response}");
    assert_eq!(after, object);
    // Also for a tag the validating webhook would otherwise pin.
    let (response, _) = server.review("/validate", &pod).await;
    assert!(response["response"].get("patch").is_none(), "{response}");

    for kind in ["Deployment", "CronJob"] {
        let review = controller_review(&base, kind, SIGNED);
        let (response, object) = server.review("/mutate", &review).await;
        assert_eq!(response["response"]["allowed"], true, "{kind}: {response}");
        let pointer = if kind == "Deployment" {
            "/spec/template/spec/containers/0/image"
        } else {
            "/spec/jobTemplate/spec/template/spec/containers/0/image"
        };
        assert_eq!(
            object.pointer(pointer),
            Some(&json!(pinned)),
            "{kind}: {object}"
        );
    }

    // Init and ephemeral containers are verified and pinned too, and an unsigned one denies.
    let mut review = pod_review(&base, "docker.io/library/busybox:1.36", "init-uid");
    let spec = &mut review["request"]["object"]["spec"];
    spec["initContainers"] = json!([{"name": "init", "image": SIGNED}]);
    spec["ephemeralContainers"] = json!([{"name": "debug", "image": "ghcr.io/your-org/tools:v2"}]);
    let (response, object) = server.review("/mutate", &review).await;
    assert_eq!(response["response"]["allowed"], true, "{response}");
    assert_eq!(object["spec"]["initContainers"][0]["image"], json!(pinned));
    assert_eq!(
        object["spec"]["ephemeralContainers"][0]["image"],
        json!(format!("ghcr.io/your-org/tools:v2@{DIGEST}"))
    );
    assert_eq!(
        object["spec"]["containers"][0]["image"],
        "docker.io/library/busybox:1.36"
    );
    review["request"]["object"]["spec"]["ephemeralContainers"][0]["image"] =
        json!("ghcr.io/your-org/unsigned:v1");
    let (response, _) = server.review("/mutate", &review).await;
    assert_eq!(response["response"]["allowed"], false, "{response}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_wrong_key_and_errors_are_denied_in_enforce() {
    let Some(base) = real_review() else { return };
    let set = policies_from("keyed.yaml", &keyed_policy_text());
    let server = Server::start(set, signed_registry()).await;
    let cases = [
        ("ghcr.io/your-org/unsigned:v1", "no signatures found"),
        ("ghcr.io/your-org/other-key:v1", "invalid signature"),
        ("ghcr.io/your-org/down:v1", "registry unavailable"),
    ];
    for (image, reason) in cases {
        for path in ["/mutate", "/validate"] {
            let (response, _) = server.review(path, &pod_review(&base, image, image)).await;
            let inner = &response["response"];
            assert_eq!(inner["allowed"], false, "{image} {path}: {response}");
            assert_eq!(inner["status"]["code"], 403, "{response}");
            let message = inner["status"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(image) && message.contains(reason),
                "{image}: {message}"
            );
            assert!(
                message.contains("verify-image-signatures-keyed"),
                "{message}"
            );
        }
    }
    // The API server's timeout bounds the work: a verification that outlasts it is an
    // error, and errors deny under failurePolicy Fail.
    let review = pod_review(&base, "ghcr.io/your-org/slow:v1", "slow");
    let body = serde_json::to_vec(&review).unwrap_or_default();
    let (status, text) = server
        .post("/mutate?timeout=1s", "application/json", body)
        .await;
    assert_eq!(status, 200);
    let response: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    api_server_checks(true, &review, &response);
    assert_eq!(response["response"]["allowed"], false, "{response}");
    let message = response["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("timed out"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_ignore_allow_with_warnings() {
    let Some(base) = real_review() else { return };
    let audit = keyed_policy_text().replace(
        "validationFailureAction: Enforce",
        "validationFailureAction: Audit\n  failurePolicy: Ignore",
    );
    assert_ne!(audit, keyed_policy_text());
    let set = policies_from("audit.yaml", &audit);
    let server = Server::start(set, signed_registry()).await;
    for image in [
        "ghcr.io/your-org/unsigned:v1",
        "ghcr.io/your-org/other-key:v1",
        "ghcr.io/your-org/down:v1",
    ] {
        let (response, object) = server
            .review("/mutate", &pod_review(&base, image, image))
            .await;
        let inner = &response["response"];
        assert_eq!(inner["allowed"], true, "{image}: {response}");
        let warnings = inner["warnings"].as_array().cloned().unwrap_or_default();
        assert_eq!(warnings.len(), 1, "{image}: {response}");
        assert!(
            warnings[0]
                .as_str()
                .unwrap_or_default()
                .contains("verify-image-signatures-keyed"),
            "{warnings:?}"
        );
        // Nothing verified, so nothing pinned.
        assert_eq!(object["spec"]["containers"][0]["image"], json!(image));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_identical_pods_verifies_once() {
    let Some(base) = real_review() else { return };
    let registry = RegistryDouble::new(&[(
        "ghcr.io/your-org/slow",
        Registry::Slow(Duration::from_millis(300)),
    )]);
    let set = policies_from("keyed.yaml", &keyed_policy_text());
    let server = Arc::new(Server::start(set, registry.clone()).await);
    let review = pod_review(&base, "ghcr.io/your-org/slow:v1", "burst");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let server = Arc::clone(&server);
        let review = review.clone();
        tasks.push(tokio::spawn(async move {
            server.review("/mutate", &review).await.0
        }));
    }
    for task in tasks {
        let response = task.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response["response"]["allowed"], true, "{response}");
    }
    assert_eq!(registry.calls(), 1, "a burst must verify once");
    // Later requests are answered from the cache.
    server.review("/validate", &review).await;
    assert_eq!(registry.calls(), 1);
    assert!(server.admission.metrics().cache_hits() >= 1);
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("sealwatch_admission_verification_cache_total{result=\"miss\"} 1\n"),
        "{metrics}"
    );
    // A new policy version does not reuse the outcome.
    let set = policies_from("keyed.yaml", &keyed_policy_text());
    server.admission.replace_policies(set);
    server.review("/mutate", &review).await;
    assert_eq!(registry.calls(), 2);
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_answers() {
    let Some(base) = real_review() else { return };
    let set = policies_from("keyed.yaml", &keyed_policy_text());
    let config = ServerConfig {
        max_body_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let server = Server::start_with(set, signed_registry(), config).await;
    let valid = serde_json::to_vec(&base).unwrap_or_default();
    let mut oversized = base.clone();
    oversized["request"]["object"]["metadata"]["annotations"]["big"] = json!("x".repeat(100_000));
    let oversized = serde_json::to_vec(&oversized).unwrap_or_default();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "/mutate",
            "application/json",
            b"{\"apiVersion\":".to_vec(),
            400,
            "malformed JSON",
        ),
        (
            "/validate",
            "application/json",
            b"[1,2]".to_vec(),
            400,
            "not a JSON object",
        ),
        (
            "/mutate",
            "application/json",
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{}}"#.to_vec(),
            400,
            "expected apiVersion admission.k8s.io/v1 kind AdmissionReview",
        ),
        (
            "/mutate",
            "application/json",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            400,
            "missing request object",
        ),
        (
            "/mutate",
            "text/plain",
            valid.clone(),
            415,
            "unsupported Content-Type \"text/plain\"",
        ),
        (
            "/mutate",
            "application/yaml",
            valid.clone(),
            415,
            "expected application/json",
        ),
        (
            "/mutate",
            "application/json",
            oversized,
            413,
            "over the limit of 65536 bytes",
        ),
        (
            "/nowhere",
            "application/json",
            valid.clone(),
            404,
            "no such path",
        ),
    ];
    for (path, content_type, body, status, fragment) in cases {
        let (got, text) = server.post(path, content_type, body).await;
        assert_eq!(got, status, "{path} {content_type}: {text}");
        assert!(text.contains(fragment), "{path} {content_type}: {text}");
    }
    // A charset parameter is fine.
    let (status, _) = server
        .post("/mutate", "application/json; charset=utf-8", valid)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server.get("/mutate").await;
    assert_eq!(status, 405);

    // A kind without Pod templates has no images: allowed, nothing patched.
    let mut config_map = base.clone();
    config_map["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    config_map["request"]["object"] = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": SIGNED}});
    let (response, _) = server.review("/mutate", &config_map).await;
    assert_eq!(response["response"]["allowed"], true, "{response}");
    assert!(response["response"].get("patch").is_none());
    // An operation sealwatch does not know is a deny with code 400, not a crash.
    let mut odd = base.clone();
    odd["request"]["operation"] = json!("TELEPORT");
    let (response, _) = server.review("/validate", &odd).await;
    assert_eq!(response["response"]["allowed"], false);
    assert_eq!(response["response"]["status"]["code"], 400);

    assert_eq!(server.get("/healthz").await.0, 200);
    assert_eq!(server.get("/readyz").await.0, 200);
    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "sealwatch_admission_rejected_requests_total{code=\"415\"} 2\n",
        "sealwatch_admission_rejected_requests_total{code=\"413\"} 1\n",
        "sealwatch_admission_rejected_requests_total{code=\"400\"} 4\n",
        "sealwatch_admission_decisions_total{webhook=\"validate\",allowed=\"false\"} 1\n",
        "sealwatch_admission_review_duration_seconds_count 3\n",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_folder_reload_keeps_the_last_good_set() {
    let Some(base) = real_review() else { return };
    let folder = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let policy_file: PathBuf = folder.path().join("policy.yaml");
    std::fs::write(&policy_file, keyed_policy_text()).unwrap_or_else(|e| panic!("{e}"));
    let loaded = load_policy_path(folder.path()).unwrap_or_else(|e| panic!("{e}"));
    let config = ServerConfig {
        policy_path: Some(folder.path().to_owned()),
        reload_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    };
    let server = Server::start_with(loaded.set, signed_registry(), config).await;
    let unsigned = pod_review(&base, "ghcr.io/your-org/unsigned:v1", "reload");
    let allowed = |response: &Value| response["response"]["allowed"] == true;
    assert!(!allowed(&server.review("/validate", &unsigned).await.0));

    // A broken file is reported; the last good set stays active.
    std::fs::write(
        folder.path().join("broken.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules: [\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let failed = "sealwatch_admission_policy_reloads_total{result=\"failed\"} 1\n";
    wait_for(|| async { server.get("/metrics").await.1.contains(failed) }).await;
    assert!(!allowed(&server.review("/validate", &unsigned).await.0));

    // Fixed and switched to Audit: the new set takes over.
    std::fs::remove_file(folder.path().join("broken.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let audit = keyed_policy_text().replace(
        "validationFailureAction: Enforce",
        "validationFailureAction: Audit",
    );
    std::fs::write(&policy_file, audit).unwrap_or_else(|e| panic!("{e}"));
    let ok = "sealwatch_admission_policy_reloads_total{result=\"ok\"} 1\n";
    wait_for(|| async { server.get("/metrics").await.1.contains(ok) }).await;
    assert!(allowed(&server.review("/validate", &unsigned).await.0));
    server.stop().await;
}

/// Polls `condition` until it holds (the reloader runs on its own schedule); gives up after
/// a generous bound so that a broken reloader fails instead of hanging.
async fn wait_for<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition never held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests() {
    let Some(base) = real_review() else { return };
    let registry = RegistryDouble::new(&[(
        "ghcr.io/your-org/slow",
        Registry::Slow(Duration::from_millis(500)),
    )]);
    let set = policies_from("keyed.yaml", &keyed_policy_text());
    let mut server = Server::start(set, registry.clone()).await;
    let review = pod_review(&base, "ghcr.io/your-org/slow:v1", "in-flight");
    let client = server.client.clone();
    let url = server.url("/mutate");
    let body = serde_json::to_vec(&review).unwrap_or_default();
    let request = tokio::spawn(async move {
        let response = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await?;
        response.json::<Value>().await
    });
    // Shut down once the verification is running.
    wait_for(|| async { registry.calls() == 1 }).await;
    if let Some(stop) = server.stop.take() {
        let _ = stop.send(());
    }
    let response = request
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("in-flight request failed: {e}"));
    assert_eq!(response["response"]["uid"], "in-flight");
    assert_eq!(response["response"]["allowed"], true, "{response}");
    let _ = (&mut server.task).await;
    // Stopped: no new connections.
    assert!(server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .is_err());
}

/// The production verifier (`sealwatch-sign`) against a real local registry (Debian's
/// `docker-registry`) holding the alpine fixture image under three names: signed with the
/// policy's key, signed with another key, and unsigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_verifier_admits_signed_and_denies_the_rest() {
    use sealwatch_admission::RegistryVerifier;
    use sealwatch_oci::registry::{RegistryClient, RegistryOptions};
    use sealwatch_oci::Reference;
    use sealwatch_trust::{KeyType, PrivateKey};

    let Some(base) = real_review() else { return };
    let Some(layout) = sealwatch_test::require_shared("fixtures/images/alpine-3.20") else {
        return;
    };
    let Some(registry) = sealwatch_test::registry::TestRegistry::start_plain() else {
        return;
    };
    let host = registry.host();
    let setup = {
        let host = host.clone();
        tokio::task::spawn_blocking(move || {
            let client = RegistryClient::new(RegistryOptions::default())
                .unwrap_or_else(|e| panic!("client: {e}"));
            let mut rng = rand_core::OsRng;
            let policy_key = PrivateKey::generate(KeyType::EcdsaP256, &mut rng)
                .unwrap_or_else(|e| panic!("key: {e}"));
            let other_key = PrivateKey::generate(KeyType::EcdsaP256, &mut rng)
                .unwrap_or_else(|e| panic!("key: {e}"));
            let mut digest = None;
            for (repo, key) in [
                ("signed", Some(&policy_key)),
                ("other-key", Some(&other_key)),
                ("unsigned", None),
            ] {
                let reference: Reference = format!("{host}/your-org/{repo}:v1")
                    .parse()
                    .unwrap_or_else(|e| panic!("reference: {e}"));
                let pushed = sealwatch_test::push::push_oci_layout(&client, &layout, &reference)
                    .unwrap_or_else(|e| panic!("push: {e}"));
                digest = Some(pushed.to_string());
                if let Some(key) = key {
                    sealwatch_sign::sign_image(&client, &reference, key, &Default::default())
                        .unwrap_or_else(|e| panic!("sign: {e}"));
                }
            }
            let public = policy_key
                .public_key()
                .to_pem()
                .unwrap_or_else(|e| panic!("pem: {e}"));
            (client, public, digest.unwrap_or_default())
        })
    };
    let (client, public_pem, digest) = setup.await.unwrap_or_else(|e| panic!("{e}"));
    let indented: String = public_pem
        .lines()
        .map(|line| format!("                      {line}\n"))
        .collect();
    let policy = format!(
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-local
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: verify-cosign-signature
      match:
        any:
          - resources:
              kinds:
                - Pod
      verifyImages:
        - imageReferences:
            - \"{host}/your-org/*\"
          attestors:
            - entries:
                - keys:
                    rekor:
                      ignoreTlog: true
                    publicKeys: |-
{indented}"
    );
    let set = policies_from("local.yaml", &policy);
    let server = Server::start(set, Arc::new(RegistryVerifier::new(client))).await;

    let signed = format!("{host}/your-org/signed:v1");
    let (response, object) = server
        .review("/mutate", &pod_review(&base, &signed, "signed"))
        .await;
    assert_eq!(response["response"]["allowed"], true, "{response}");
    assert_eq!(
        object["spec"]["containers"][0]["image"],
        json!(format!("{signed}@{digest}"))
    );
    for (repo, reason) in [
        ("other-key", "verified"),
        ("unsigned", "no signatures found"),
    ] {
        let image = format!("{host}/your-org/{repo}:v1");
        let (response, _) = server
            .review("/validate", &pod_review(&base, &image, repo))
            .await;
        let inner = &response["response"];
        assert_eq!(inner["allowed"], false, "{repo}: {response}");
        let message = inner["status"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&image) && message.contains(reason),
            "{repo}: {message}"
        );
    }
    // An image the registry does not have is an error: denied under failurePolicy Fail.
    let missing = format!("{host}/your-org/missing:v1");
    let (response, _) = server
        .review("/mutate", &pod_review(&base, &missing, "missing"))
        .await;
    assert_eq!(response["response"]["allowed"], false, "{response}");
    server.stop().await;
    drop(registry);
}

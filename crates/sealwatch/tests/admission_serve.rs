//! `sealwatch admission serve` start-up: Kubernetes API settings for namespace labels are
//! checked before serving, and a bad one stops the server with a message naming the file.

use std::process::{Command, Stdio};

#[test]
fn serve_refuses_an_unreadable_kubernetes_ca_bundle() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .unwrap_or_else(|e| panic!("certificate: {e}"));
    std::fs::write(d.join("tls.crt"), certified.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.join("tls.key"), certified.signing_key.serialize_pem())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(d.join("policies")).unwrap_or_else(|e| panic!("{e}"));
    let serve = |ca: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_sealwatch"))
            .args([
                "admission",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--kube-api",
            ])
            // Never contacted: the server stops before it serves.
            .arg("https://127.0.0.1:1")
            .arg("--kube-ca")
            .arg(ca)
            .arg("--kube-token")
            .arg(d.join("token"))
            .arg("--policies")
            .arg(d.join("policies"))
            .arg("--tls-cert")
            .arg(d.join("tls.crt"))
            .arg("--tls-key")
            .arg(d.join("tls.key"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run sealwatch: {e}"))
    };
    let missing = d.join("missing-ca.crt");
    let out = serve(&missing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing-ca.crt"), "{stderr}");

    let not_pem = d.join("not-pem.crt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap_or_else(|e| panic!("{e}"));
    let out = serve(&not_pem);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not-pem.crt") && stderr.contains("certificate"),
        "{stderr}"
    );
}

/// Kills the server process when the test ends, whatever happens.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The whole path: `admission serve` with `--kube-api`/`--kube-token`/`--kube-ca` pointing at
/// the loopback stand-in API server, a policy that selects namespaces by label, and reviews
/// over HTTPS. The policy's images live on a closed loopback port, so where the rule applies
/// the verification fails (denied) and where it does not the Pod is admitted.
#[test]
fn serve_selects_namespaces_by_labels_from_the_kubernetes_api() {
    const TOKEN: &str = "serve-test-token";
    let api = sealwatch_test::kube_api::StandInApiServer::start(
        &[("prod", &[("env", "prod")]), ("dev", &[("env", "dev")])],
        TOKEN,
    )
    .unwrap_or_else(|e| panic!("stand-in API: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("token"), TOKEN).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.join("kube-ca.crt"), api.ca_pem()).unwrap_or_else(|e| panic!("{e}"));
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .unwrap_or_else(|e| panic!("certificate: {e}"));
    std::fs::write(d.join("tls.crt"), certified.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.join("tls.key"), certified.signing_key.serialize_pem())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(d.join("policies")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        d.join("policies/prod.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: prod-only\nspec:\n  rules:\n    - name: verify-in-prod\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n              namespaceSelector:\n                matchLabels: {env: prod}\n      verifyImages:\n        - imageReferences: ['127.0.0.1:9/*']\n          failureAction: Enforce\n          attestors:\n            - entries:\n                - keys:\n                    rekor: {ignoreTlog: true}\n                    publicKeys: |-\n                      -----BEGIN PUBLIC KEY-----\n                      MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvwCAFUj8qi04VPWd1HQ8yeQjvsoj\n                      kBToZDx6jIW2Vyk9dA6EjLbtU79o1xs+5yIbFeFg0fttu/+GNV2CykBdkQ==\n                      -----END PUBLIC KEY-----\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let _server = Child(
        Command::new(env!("CARGO_BIN_EXE_sealwatch"))
            .args(["admission", "serve", "--quiet", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--policies")
            .arg(d.join("policies"))
            .arg("--tls-cert")
            .arg(d.join("tls.crt"))
            .arg("--tls-key")
            .arg(d.join("tls.key"))
            .arg("--kube-api")
            .arg(api.url())
            .arg("--kube-token")
            .arg(d.join("token"))
            .arg("--kube-ca")
            .arg(d.join("kube-ca.crt"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start sealwatch: {e}")),
    );
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let base = format!("https://127.0.0.1:{port}");
    let ready = (0..200).any(|_| {
        let ok = client
            .get(format!("{base}/readyz"))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ok
    });
    assert!(ready, "the server did not become ready");

    for (namespace, allowed) in [("prod", false), ("dev", true)] {
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": format!("uid-{namespace}"),
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": namespace,
                "name": "app",
                "operation": "CREATE",
                "userInfo": {"username": "alice"},
                "object": {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "app", "namespace": namespace},
                    "spec": {"containers": [{"name": "app", "image": "127.0.0.1:9/team/app:v1"}]},
                },
            },
        });
        let response: serde_json::Value = client
            .post(format!("{base}/mutate?timeout=10s"))
            .header("Content-Type", "application/json")
            .body(review.to_string())
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("review in {namespace}: {e}"));
        let response = &response["response"];
        assert_eq!(response["uid"], format!("uid-{namespace}").as_str());
        assert_eq!(response["allowed"], allowed, "{namespace}: {response}");
        if !allowed {
            let message = response["status"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("verify-in-prod"), "{message}");
        }
    }
    assert_eq!(api.requests(), 2, "one lookup per namespace");
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("metrics: {e}"));
    assert!(
        metrics.contains("sealwatch_admission_namespace_lookups_total{result=\"miss\"} 2\n"),
        "{metrics}"
    );
}

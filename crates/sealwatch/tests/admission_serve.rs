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

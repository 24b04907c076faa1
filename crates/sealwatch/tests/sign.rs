//! `sealwatch sign` / `attest` / `verify` / `verify-attestation` against a real local registry
//! (Debian's `docker-registry`), with the alpine fixture image pushed into it. The registry's
//! manifests are read back as plain JSON (`serde_json::Value`), not with sealwatch's own types, to
//! check that what we write is cosign's layout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use sealwatch_oci::registry::{BlobContent, RegistryClient, RegistryOptions};
use sealwatch_oci::{Digest, Reference};
use sealwatch_test::registry::TestRegistry;
use serde_json::Value;

const PASSWORD: &str = "correct horse";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE_KEY: &str = "dev.cosignproject.cosign/signature";

struct Env {
    _registry: TestRegistry,
    client: RegistryClient,
    dir: tempfile::TempDir,
    /// `host/test/<repo>:v1`
    image: String,
    reference: Reference,
    digest: Digest,
}

fn setup(repo: &str) -> Option<Env> {
    let layout = sealwatch_test::require_shared("fixtures/images/alpine-3.20")?;
    let registry = TestRegistry::start_plain()?;
    let client = RegistryClient::new(RegistryOptions::default()).expect("client");
    let image = format!("{}/test/{repo}:v1", registry.host());
    let reference: Reference = image.parse().expect("reference");
    let digest =
        sealwatch_test::push::push_oci_layout(&client, &layout, &reference).expect("push image");
    Some(Env {
        _registry: registry,
        client,
        dir: tempfile::tempdir().expect("tempdir"),
        image,
        reference,
        digest,
    })
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_password(args, Some(PASSWORD))
    }

    fn run_with_password(&self, args: &[&str], password: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealwatch"));
        cmd.args(args)
            .stdin(Stdio::null())
            .env_remove("COSIGN_PASSWORD")
            .env_remove("SEALWATCH_PASSWORD")
            .env("SEALWATCH_CACHE_DIR", self.dir.path().join("cache"));
        if let Some(password) = password {
            cmd.env("COSIGN_PASSWORD", password);
        }
        cmd.output().expect("sealwatch runs")
    }

    /// `sealwatch keygen` a key pair; returns (private, public) paths.
    fn keypair(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.dir.path().join(name);
        let out = self.run(&["keygen", "--output-key-prefix", path_str(&prefix)]);
        assert_success(&out, "keygen");
        (
            self.dir.path().join(format!("{name}.key")),
            self.dir.path().join(format!("{name}.pub")),
        )
    }

    fn sign(&self, key: &Path) -> Output {
        self.run(&["sign", "--key", path_str(key), &self.image])
    }

    fn verify(&self, public: &Path) -> Output {
        self.run(&["verify", "--key", path_str(public), &self.image])
    }

    fn tag_reference(&self, suffix: &str) -> Reference {
        let tag = format!("sha256-{}.{suffix}", self.digest.hex());
        self.reference.with_tag(&tag).expect("tag")
    }

    /// The manifest at `sha256-<hex>.<suffix>`, as plain JSON.
    fn raw_manifest(&self, suffix: &str) -> Value {
        let fetched = self
            .client
            .fetch_manifest(&self.tag_reference(suffix))
            .expect("signature manifest exists");
        serde_json::from_slice(&fetched.bytes).expect("manifest is JSON")
    }

    fn blob(&self, descriptor: &Value) -> Vec<u8> {
        let digest: Digest = descriptor["digest"]
            .as_str()
            .expect("digest")
            .parse()
            .expect("valid digest");
        let size = descriptor["size"].as_u64().expect("size");
        let mut out = Vec::new();
        self.client
            .pull_blob(&self.reference, &digest, size, &mut out)
            .expect("blob");
        out
    }

    fn push_blob(&self, bytes: &[u8]) -> Value {
        let digest = Digest::sha256_of(bytes);
        self.client
            .push_blob(
                &self.reference,
                &digest,
                &BlobContent::Bytes(Arc::from(bytes.to_vec())),
            )
            .expect("push blob");
        serde_json::json!({"digest": digest.to_string(), "size": bytes.len()})
    }

    fn push_raw_manifest(&self, reference: &Reference, manifest: &Value) {
        let bytes = serde_json::to_vec(manifest).expect("json");
        self.client
            .push_manifest(
                reference,
                &bytes,
                "application/vnd.oci.image.manifest.v1+json",
            )
            .expect("push manifest");
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_success(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed: {}\nstdout: {}",
        stderr(out),
        String::from_utf8_lossy(&out.stdout)
    );
}

fn assert_exit(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(
        err.contains(needle),
        "stderr should contain {needle:?}: {err}"
    );
}

/// The verified payloads `verify` printed, one JSON document per line.
fn printed_payloads(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect()
}

#[test]
fn sign_then_verify_writes_cosign_layout() {
    let Some(env) = setup("layout") else { return };
    let (key, public) = env.keypair("k1");
    let out = env.run(&[
        "sign",
        "--key",
        path_str(&key),
        "-a",
        "env=prod",
        &env.image,
    ]);
    assert_success(&out, "sign");
    assert!(
        stderr(&out).contains("uses a tag, not a digest"),
        "a tag gives a warning: {}",
        stderr(&out)
    );

    let out = env.verify(&public);
    assert_success(&out, "verify");
    let payloads = printed_payloads(&out);
    assert_eq!(payloads.len(), 1);
    let payload = &payloads[0];
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        env.digest.to_string()
    );
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        env.reference.name()
    );
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payload["optional"]["env"], "prod");

    // The manifest itself, read as plain JSON.
    let manifest = env.raw_manifest("sig");
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    let layer = &layers[0];
    assert_eq!(layer["mediaType"], SIMPLE_SIGNING);
    let signature = layer["annotations"][SIGNATURE_KEY]
        .as_str()
        .expect("signature annotation");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .expect("base64");
    assert!(
        raw.len() > 60,
        "an ECDSA DER signature: {} bytes",
        raw.len()
    );
    // The layer blob is the payload verify printed, byte for byte.
    let blob = env.blob(layer);
    assert_eq!(
        String::from_utf8_lossy(&blob).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let parsed: Value = serde_json::from_slice(&blob).expect("payload JSON");
    let critical = parsed["critical"].as_object().expect("critical");
    assert_eq!(critical.len(), 3, "identity, image, type: {critical:?}");

    // The config blob is a JSON image config listing the layer.
    let config: Value = serde_json::from_slice(&env.blob(&manifest["config"])).expect("config");
    assert_eq!(config["rootfs"]["diff_ids"][0], layer["digest"]);
}

#[test]
fn two_keys_append_layers_and_each_verifies() {
    let Some(env) = setup("twokeys") else { return };
    let (k1, p1) = env.keypair("k1");
    let (k2, p2) = env.keypair("k2");
    let (_, p3) = env.keypair("k3");
    assert_success(&env.sign(&k1), "sign k1");
    assert_success(&env.sign(&k2), "sign k2");
    let manifest = env.raw_manifest("sig");
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 2);
    assert_ne!(
        layers[0]["annotations"][SIGNATURE_KEY],
        layers[1]["annotations"][SIGNATURE_KEY]
    );
    for public in [&p1, &p2] {
        let out = env.verify(public);
        assert_success(&out, "verify");
        assert_eq!(printed_payloads(&out).len(), 1, "one signature per key");
    }
    let out = env.run(&[
        "verify",
        "--key",
        path_str(&p1),
        "--key",
        path_str(&p2),
        &env.image,
    ]);
    assert_success(&out, "verify with both keys");
    assert_eq!(printed_payloads(&out).len(), 2);

    let out = env.verify(&p3);
    assert_exit(&out, 1, "signature does not verify with the given key");
    assert!(out.stdout.is_empty());
}

#[test]
fn attest_then_verify_attestation() {
    let Some(env) = setup("attest") else { return };
    let (key, public) = env.keypair("k1");
    let scan = serde_json::json!({
        "SchemaVersion": 2,
        "CreatedAt": "2026-11-27T10:00:00Z",
        "ArtifactName": env.image,
        "Results": [{"Target": "alpine", "Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001", "Severity": "HIGH"}]}]
    });
    let predicate = env.dir.path().join("scan.json");
    std::fs::write(&predicate, serde_json::to_vec(&scan).expect("json")).expect("write");
    let out = env.run(&[
        "attest",
        "--key",
        path_str(&key),
        "--predicate",
        path_str(&predicate),
        "--type",
        "vuln",
        &env.image,
    ]);
    assert_success(&out, "attest");

    let manifest = env.raw_manifest("att");
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
    assert_eq!(
        layer["annotations"]["predicateType"],
        "https://cosign.sigstore.dev/attestation/vuln/v1"
    );
    assert_eq!(layer["annotations"][SIGNATURE_KEY], "");

    let out = env.run(&[
        "verify-attestation",
        "--key",
        path_str(&public),
        "--type",
        "vuln",
        &env.image,
    ]);
    assert_success(&out, "verify-attestation");
    let envelopes = printed_payloads(&out);
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0]["payloadType"], "application/vnd.in-toto+json");
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelopes[0]["payload"].as_str().expect("payload"))
            .expect("base64"),
    )
    .expect("statement");
    assert_eq!(
        statement["predicateType"],
        "https://cosign.sigstore.dev/attestation/vuln/v1"
    );
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        env.digest.hex()
    );
    assert_eq!(statement["predicate"]["scanner"]["result"], scan);
    assert_eq!(
        statement["predicate"]["metadata"]["scanFinishedOn"],
        "2026-11-27T10:00:00Z"
    );

    let out = env.run(&[
        "verify-attestation",
        "--key",
        path_str(&public),
        "--type",
        "cyclonedx",
        &env.image,
    ]);
    assert_exit(&out, 1, "is not the requested https://cyclonedx.org/bom");

    // Signatures and attestations are separate: there is no signature yet.
    assert_exit(&env.verify(&public), 1, "no signatures found");
}

#[test]
fn attest_real_scan_output() {
    let Some(secdb) = sealwatch_test::require_shared("fixtures/advisories/alpine-secdb") else {
        return;
    };
    let Some(env) = setup("attestscan") else {
        return;
    };
    let (key, public) = env.keypair("k1");
    let db = env.dir.path().join("db.redb");
    let db_arg = path_str(&db);
    assert_success(
        &env.run(&["db", "import", "--db", db_arg, path_str(&secdb)]),
        "db import",
    );
    let out = env.run(&[
        "scan",
        "--offline",
        "--db",
        db_arg,
        "--format",
        "json",
        &env.image,
    ]);
    assert_success(&out, "scan");
    let scan: Value = serde_json::from_slice(&out.stdout).expect("scan JSON");
    let predicate = env.dir.path().join("scan.json");
    std::fs::write(&predicate, &out.stdout).expect("write");
    let out = env.run(&[
        "attest",
        "--key",
        path_str(&key),
        "--predicate",
        path_str(&predicate),
        "--type",
        "vuln",
        &env.image,
    ]);
    assert_success(&out, "attest");
    let out = env.run(&[
        "verify-attestation",
        "--key",
        path_str(&public),
        "--type",
        "vuln",
        &env.image,
    ]);
    assert_success(&out, "verify-attestation");
    let envelope = &printed_payloads(&out)[0];
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("base64"),
    )
    .expect("statement");
    assert_eq!(statement["predicate"]["scanner"]["result"], scan);
    assert_eq!(
        statement["predicate"]["metadata"]["scanStartedOn"],
        scan["scanner"]["scanned_at"]
    );
}

#[test]
fn retagged_image_does_not_verify() {
    let Some(env) = setup("retag") else { return };
    let (key, public) = env.keypair("k1");
    assert_success(&env.sign(&key), "sign");
    assert_success(&env.verify(&public), "verify before tampering");

    // Push a different manifest (same layers, one more annotation) under the same tag.
    let fetched = env.client.fetch_manifest(&env.reference).expect("manifest");
    let mut manifest: Value = serde_json::from_slice(&fetched.bytes).expect("json");
    manifest["annotations"] = serde_json::json!({"tampered": "yes"});
    env.push_raw_manifest(&env.reference, &manifest);

    let out = env.verify(&public);
    assert_exit(&out, 1, "no signatures found");
    assert!(out.stdout.is_empty());
}

/// Replace the single layer of the `.sig` manifest with `layer`, then verify.
fn verify_with_layer(env: &Env, public: &Path, layer: Value) -> Output {
    let mut manifest = env.raw_manifest("sig");
    manifest["layers"] = Value::Array(vec![layer]);
    env.push_raw_manifest(&env.tag_reference("sig"), &manifest);
    env.verify(public)
}

#[test]
fn tampered_signature_manifests_fail_with_precise_reasons() {
    let Some(env) = setup("tamper") else { return };
    let (key, public) = env.keypair("k1");
    assert_success(&env.sign(&key), "sign");
    let original = env.raw_manifest("sig")["layers"][0].clone();
    let payload = env.blob(&original);

    // One payload byte changed (a space added inside the JSON keeps it valid JSON).
    let mut changed = payload.clone();
    let at = changed.iter().position(|&b| b == b',').expect("a comma");
    changed.insert(at + 1, b' ');
    let mut layer = original.clone();
    let pushed = env.push_blob(&changed);
    layer["digest"] = pushed["digest"].clone();
    layer["size"] = pushed["size"].clone();
    let out = verify_with_layer(&env, &public, layer);
    assert_exit(&out, 1, "signature does not verify with the given key");

    // One signature byte changed.
    let signature = original["annotations"][SIGNATURE_KEY]
        .as_str()
        .expect("signature");
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .expect("base64");
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let mut layer = original.clone();
    layer["annotations"][SIGNATURE_KEY] =
        Value::String(base64::engine::general_purpose::STANDARD.encode(&raw));
    let out = verify_with_layer(&env, &public, layer);
    assert_exit(&out, 1, "signature does not verify with the given key");

    // The digest in the payload changed and the payload re-signed with the same key: the
    // signature is good, the claim is not.
    let other = format!("sha256:{}", "ab".repeat(32));
    let forged = String::from_utf8(payload.clone())
        .expect("utf-8")
        .replace(&env.digest.to_string(), &other);
    let pem = std::fs::read_to_string(&key).expect("key");
    let private =
        sealwatch_trust::PrivateKey::from_pem(&pem, PASSWORD.as_bytes()).expect("key opens");
    let forged_signature = private.sign(forged.as_bytes()).expect("sign");
    let mut layer = original.clone();
    let pushed = env.push_blob(forged.as_bytes());
    layer["digest"] = pushed["digest"].clone();
    layer["size"] = pushed["size"].clone();
    layer["annotations"][SIGNATURE_KEY] =
        Value::String(base64::engine::general_purpose::STANDARD.encode(forged_signature));
    let out = verify_with_layer(&env, &public, layer);
    assert_exit(
        &out,
        1,
        &format!("payload digest {other} != image digest {}", env.digest),
    );

    // The signature annotation removed.
    let mut layer = original.clone();
    layer["annotations"] = serde_json::json!({});
    let out = verify_with_layer(&env, &public, layer);
    assert_exit(
        &out,
        1,
        "has no `dev.cosignproject.cosign/signature` annotation",
    );

    // The original layer back: verifies again (the test above failed for the stated reasons only).
    assert_success(&verify_with_layer(&env, &public, original), "restored");
}

#[test]
fn every_conformance_key_signs_and_verifies() {
    let Some(keys) = sealwatch_test::require_shared("conformance/cosign-keys") else {
        return;
    };
    let Some(env) = setup("conformance") else {
        return;
    };
    let cases = [
        ("cosign_generated_encrypted_empty_private.key", ""),
        ("ecdsa_encrypted_private.key", "123"),
        ("ed25519_encrypted_private.key", "123"),
        ("rsa_encrypted_private.key", "123"),
        ("ecdsa_private.key", ""),
    ];
    for (file, password) in cases {
        let key_path = keys.join(file);
        let pem = std::fs::read_to_string(&key_path).expect("key file");
        let public_pem = sealwatch_trust::PrivateKey::from_pem(&pem, password.as_bytes())
            .expect("key opens")
            .public_key()
            .to_pem()
            .expect("public pem");
        let public = env.dir.path().join(format!("{file}.pub"));
        std::fs::write(&public, public_pem).expect("write pub");
        let out = env.run_with_password(
            &["sign", "--key", path_str(&key_path), &env.image],
            Some(password),
        );
        assert_success(&out, file);
        let out = env.verify(&public);
        assert_success(&out, file);
    }
    // Five keys, five signatures in one manifest.
    assert_eq!(
        env.raw_manifest("sig")["layers"].as_array().map(Vec::len),
        Some(cases.len())
    );
}

#[test]
fn bad_input_is_a_tool_error() {
    let Some(env) = setup("bad") else { return };
    let (key, public) = env.keypair("k1");

    let garbage = env.dir.path().join("garbage.key");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnot base64!\n").expect("write");
    assert_exit(&env.sign(&garbage), 2, "error: reading the private key");

    let out = env.run_with_password(&["sign", "--key", path_str(&key), &env.image], Some("nope"));
    assert_exit(&out, 2, "wrong password");
    let out = env.run_with_password(&["sign", "--key", path_str(&key), &env.image], None);
    assert_exit(&out, 2, "COSIGN_PASSWORD");

    let garbage_pub = env.dir.path().join("garbage.pub");
    std::fs::write(
        &garbage_pub,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .expect("write");
    assert_exit(
        &env.verify(&garbage_pub),
        2,
        "error: reading the public key",
    );

    let unknown = env.image.replace(":v1", ":does-not-exist");
    let out = env.run(&["verify", "--key", path_str(&public), &unknown]);
    assert_exit(&out, 2, "not found");
    let out = env.run(&["sign", "--key", path_str(&key), &unknown]);
    assert_exit(&out, 2, "not found");

    // A `.sig` manifest with 10,000 layers is refused, not downloaded layer by layer.
    let blob = env.push_blob(b"{}");
    let layer = serde_json::json!({
        "mediaType": SIMPLE_SIGNING,
        "digest": blob["digest"],
        "size": blob["size"],
        "annotations": {SIGNATURE_KEY: "MEUCIQ=="},
    });
    let config = env.push_blob(b"{}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config["digest"], "size": config["size"]},
        "layers": vec![layer; 10_000],
    });
    env.push_raw_manifest(&env.tag_reference("sig"), &manifest);
    let out = env.verify(&public);
    assert_exit(&out, 2, "10000 layers, over the limit of 1000");
    // Signing onto it is refused the same way.
    assert_exit(&env.sign(&key), 2, "over the limit of 1000");
}

//! `sealwatch sign` / `attest` with `--bundle-format` (cosign v3: Sigstore bundle v0.3 as an OCI
//! 1.1 referrer, with the referrers tag schema on Debian's registry, which has no referrers API),
//! and keyless signing against the loopback Sigstore stand-in (Fulcio + Rekor from
//! `@sigstore/mock`), verified with `--certificate-identity` / `--certificate-oidc-issuer` /
//! `--trusted-root`. What the registry holds is read back as plain JSON, not with sealwatch's types.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use sealwatch_oci::registry::{RegistryClient, RegistryOptions};
use sealwatch_oci::{Digest, Reference};
use sealwatch_test::registry::TestRegistry;
use sealwatch_test::standin::TestStandIn;
use serde_json::Value;

const PASSWORD: &str = "bundle password";
const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const EMPTY_CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
const SUBJECT: &str = "alice@example.invalid";
const ISSUER: &str = "https://oidc.example.invalid";

struct Env {
    _registry: TestRegistry,
    client: RegistryClient,
    dir: tempfile::TempDir,
    image: String,
    reference: Reference,
    digest: Digest,
}

fn setup(repo: &str) -> Option<Env> {
    let layout = sealwatch_test::require_shared("fixtures/images/alpine-3.20")?;
    let registry = TestRegistry::start_plain()?;
    let client =
        RegistryClient::new(RegistryOptions::default()).unwrap_or_else(|e| panic!("client: {e}"));
    let image = format!("{}/test/{repo}:v1", registry.host());
    let reference: Reference = image.parse().unwrap_or_else(|e| panic!("{e}"));
    let digest = sealwatch_test::push::push_oci_layout(&client, &layout, &reference)
        .unwrap_or_else(|e| panic!("push image: {e}"));
    Some(Env {
        _registry: registry,
        client,
        dir: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        image,
        reference,
        digest,
    })
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sealwatch"))
            .args(args)
            .stdin(Stdio::null())
            .env_remove("SEALWATCH_PASSWORD")
            .env("COSIGN_PASSWORD", PASSWORD)
            .env("SEALWATCH_CACHE_DIR", self.dir.path().join("cache"))
            .output()
            .unwrap_or_else(|e| panic!("sealwatch runs: {e}"))
    }

    fn keypair(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.dir.path().join(name);
        let out = self.run(&["keygen", "--output-key-prefix", path_str(&prefix)]);
        assert_success(&out, "keygen");
        (
            self.dir.path().join(format!("{name}.key")),
            self.dir.path().join(format!("{name}.pub")),
        )
    }

    fn manifest_at(&self, reference: &Reference) -> Option<Value> {
        match self.client.fetch_manifest(reference) {
            Ok(fetched) => {
                Some(serde_json::from_slice(&fetched.bytes).unwrap_or_else(|e| panic!("{e}")))
            }
            Err(sealwatch_oci::Error::ManifestUnknown { .. }) => None,
            Err(e) => panic!("reading {reference}: {e}"),
        }
    }

    fn tag(&self, tag: &str) -> Reference {
        self.reference
            .with_tag(tag)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The referrers tag-schema index at `sha256-<hex>`.
    fn referrers_index(&self) -> Value {
        self.manifest_at(&self.tag(&format!("sha256-{}", self.digest.hex())))
            .unwrap_or_else(|| panic!("no referrers index at sha256-{}", self.digest.hex()))
    }

    fn manifest_by_digest(&self, digest: &str) -> Value {
        let digest: Digest = digest.parse().unwrap_or_else(|e| panic!("{e}"));
        let fetched = self
            .client
            .fetch_manifest_by_digest(&self.reference, &digest, None)
            .unwrap_or_else(|e| panic!("referrer {digest}: {e}"));
        serde_json::from_slice(&fetched.bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    fn blob(&self, descriptor: &Value) -> Vec<u8> {
        let digest: Digest = descriptor["digest"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let size = descriptor["size"].as_u64().unwrap_or_default();
        let mut out = Vec::new();
        self.client
            .pull_blob(&self.reference, &digest, size, &mut out)
            .unwrap_or_else(|e| panic!("blob {digest}: {e}"));
        out
    }

    /// The image tag still names the image (a referrer pushed with the tag would move it).
    fn assert_tag_unchanged(&self) {
        let head = self
            .client
            .head_manifest(&self.reference)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(head.digest, self.digest, "the image tag moved");
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
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

fn printed(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON: {e}: {l}"))
        })
        .collect()
}

/// The in-toto statement inside a bundle's DSSE envelope.
fn bundle_statement(bundle: &Value) -> Value {
    assert_eq!(
        bundle["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    let payload = base64::engine::general_purpose::STANDARD
        .decode(
            bundle["dsseEnvelope"]["payload"]
                .as_str()
                .unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("payload base64: {e}"));
    serde_json::from_slice(&payload).unwrap_or_else(|e| panic!("statement JSON: {e}"))
}

/// Check one referrer manifest against cosign v3's layout; returns the bundle JSON.
fn check_referrer(env: &Env, entry: &Value, predicate_type: &str) -> Value {
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(entry["artifactType"], BUNDLE_MEDIA_TYPE);
    let manifest = env.manifest_by_digest(entry["digest"].as_str().unwrap_or_default());
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["artifactType"], BUNDLE_MEDIA_TYPE);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(manifest["config"]["digest"], EMPTY_CONFIG_DIGEST);
    assert_eq!(manifest["config"]["size"], 2);
    assert_eq!(manifest["subject"]["digest"], env.digest.to_string());
    assert_eq!(
        manifest["subject"]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert!(manifest["subject"]["size"].as_u64().is_some_and(|s| s > 0));
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["dev.sigstore.bundle.content"], "dsse-envelope");
    assert_eq!(
        annotations["dev.sigstore.bundle.predicateType"],
        predicate_type
    );
    assert!(annotations["org.opencontainers.image.created"]
        .as_str()
        .is_some_and(|t| t.len() >= 20 && t.ends_with('Z')));
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], BUNDLE_MEDIA_TYPE);
    let bundle: Value = serde_json::from_slice(&env.blob(&layers[0]))
        .unwrap_or_else(|e| panic!("bundle JSON: {e}"));
    assert_eq!(bundle["mediaType"], BUNDLE_MEDIA_TYPE);
    let statement = bundle_statement(&bundle);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], predicate_type);
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        env.digest.hex()
    );
    bundle
}

#[test]
fn bundle_format_with_key_writes_cosign_v3_referrers_and_verifies() {
    let Some(env) = setup("bundle-key") else {
        return;
    };
    let (key, public) = env.keypair("release");
    let (_, other_public) = env.keypair("other");

    let out = env.run(&[
        "sign",
        "--bundle-format",
        "--key",
        path_str(&key),
        "-a",
        "team=core",
        &env.image,
    ]);
    assert_success(&out, "sign --bundle-format");
    env.assert_tag_unchanged();
    let index = env.referrers_index();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(index["schemaVersion"], 2);
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{index}");
    let bundle = check_referrer(&env, &entries[0], SIGN_PREDICATE);
    // A managed key: the bundle names it by hint only, no certificate, no log entry.
    assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"],
        serde_json::json!([])
    );
    assert_eq!(
        bundle_statement(&bundle)["subject"][0]["annotations"]["team"],
        "core"
    );
    // No legacy signature was written.
    assert!(env
        .manifest_at(&env.tag(&format!("sha256-{}.sig", env.digest.hex())))
        .is_none());

    let out = env.run(&["verify", "--key", path_str(&public), &env.image]);
    assert_success(&out, "verify of a bundle referrer");
    let statements = printed(&out);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["predicateType"], SIGN_PREDICATE);
    let out = env.run(&["verify", "--key", path_str(&other_public), &env.image]);
    assert_exit(&out, 1, "does not verify with the given key");

    // A second signature and an attestation are appended to the index; nothing is replaced.
    let out = env.run(&[
        "sign",
        "--bundle-format",
        "--key",
        path_str(&key),
        &env.image,
    ]);
    assert_success(&out, "second sign");
    let predicate = env.dir.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"builder": "ci"}"#).unwrap_or_else(|e| panic!("{e}"));
    let out = env.run(&[
        "attest",
        "--bundle-format",
        "--key",
        path_str(&key),
        "--predicate",
        path_str(&predicate),
        "--type",
        "https://example.com/build/v1",
        &env.image,
    ]);
    assert_success(&out, "attest --bundle-format");
    env.assert_tag_unchanged();
    let entries = env.referrers_index()["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 3);
    let digests: std::collections::HashSet<_> =
        entries.iter().map(|e| e["digest"].clone()).collect();
    assert_eq!(digests.len(), 3, "entries are distinct referrers");
    check_referrer(&env, &entries[2], "https://example.com/build/v1");

    let out = env.run(&["verify", "--key", path_str(&public), &env.image]);
    assert_success(&out, "verify after attest");
    assert_eq!(
        printed(&out).len(),
        2,
        "two signatures; the attestation is not one"
    );
    let out = env.run(&[
        "verify-attestation",
        "--key",
        path_str(&public),
        "--type",
        "https://example.com/build/v1",
        &env.image,
    ]);
    assert_success(&out, "verify-attestation of a bundle");
    let printed_bundles = printed(&out);
    assert_eq!(printed_bundles.len(), 1);
    assert_eq!(
        bundle_statement(&printed_bundles[0])["predicate"]["builder"],
        "ci"
    );
    let out = env.run(&[
        "verify-attestation",
        "--key",
        path_str(&public),
        "--type",
        "vuln",
        &env.image,
    ]);
    assert_exit(
        &out,
        1,
        "is not the requested https://cosign.sigstore.dev/attestation/vuln/v1",
    );
}

#[test]
fn keyless_legacy_signature_verifies_against_the_stand_in_root() {
    let Some(env) = setup("keyless-legacy") else {
        return;
    };
    let Some(stand_in) = TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let url = stand_in.url();
    let token = stand_in.token_file();
    let root = stand_in.trusted_root();

    let out = env.run(&[
        "sign",
        "--identity-token-file",
        path_str(&token),
        "--fulcio-url",
        &url,
        "--rekor-url",
        &url,
        &env.image,
    ]);
    assert_success(&out, "keyless sign");
    let log = stand_in.log();
    assert!(
        log.contains("POST /api/v2/signingCert") && log.contains("POST /api/v1/log/entries"),
        "{log}"
    );

    let manifest = env
        .manifest_at(&env.tag(&format!("sha256-{}.sig", env.digest.hex())))
        .unwrap_or_else(|| panic!("no .sig manifest"));
    let annotations = &manifest["layers"][0]["annotations"];
    assert!(annotations["dev.cosignproject.cosign/signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(annotations["dev.sigstore.cosign/certificate"]
        .as_str()
        .is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----")));
    assert!(annotations["dev.sigstore.cosign/chain"]
        .as_str()
        .is_some_and(|pem| pem.contains("-----BEGIN CERTIFICATE-----")));
    let rekor: Value = serde_json::from_str(
        annotations["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("Rekor bundle annotation: {e}"));
    assert!(rekor["SignedEntryTimestamp"].is_string());
    assert!(rekor["Payload"]["integratedTime"].is_i64());
    assert!(rekor["Payload"]["logID"]
        .as_str()
        .is_some_and(|id| id.len() == 64));

    let verify = |identity: &str, issuer: &str, root: &Path| {
        env.run(&[
            "verify",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            path_str(root),
            "--offline",
            &env.image,
        ])
    };
    let out = verify(SUBJECT, ISSUER, &root);
    assert_success(&out, "keyless verify");
    assert!(stderr(&out).contains(SUBJECT), "{}", stderr(&out));
    assert_eq!(
        printed(&out)[0]["critical"]["image"]["docker-manifest-digest"],
        env.digest.to_string()
    );

    let out = env.run(&[
        "verify",
        "--certificate-identity-regexp",
        "^alice@",
        "--certificate-oidc-issuer-regexp",
        "example\\.invalid$",
        "--trusted-root",
        path_str(&root),
        &env.image,
    ]);
    assert_success(&out, "keyless verify with regular expressions");

    let out = verify("mallory@example.invalid", ISSUER, &root);
    assert_exit(&out, 1, "mallory@example.invalid");
    let out = verify(SUBJECT, "https://other.example.invalid", &root);
    assert_exit(&out, 1, "https://other.example.invalid");
    let out = env.run(&[
        "verify",
        "--certificate-identity-regexp",
        "^bob@",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        path_str(&root),
        &env.image,
    ]);
    assert_exit(&out, 1, "does not match the regular expression `^bob@`");
    // The embedded production root does not know the stand-in's CA.
    let out = env.run(&[
        "verify",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        &env.image,
    ]);
    assert_exit(&out, 1, "keyless:");
    // A signing key instead of a certificate identity: the keyless signature does not count.
    let (_, public) = env.keypair("unrelated");
    let out = env.run(&["verify", "--key", path_str(&public), &env.image]);
    assert_exit(&out, 1, "does not verify with the given key");
}

#[test]
fn keyless_bundles_and_attestations_verify_and_wrong_identities_fail() {
    let Some(env) = setup("keyless-bundle") else {
        return;
    };
    let Some(stand_in) = TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let token = stand_in.token_file();
    let root = stand_in.trusted_root();
    let signing_config = stand_in.dir().join("signing_config.json");
    let keyless = [
        "--identity-token-file",
        path_str(&token),
        "--signing-config",
        path_str(&signing_config),
    ];

    let mut args = vec!["sign", "--bundle-format"];
    args.extend(keyless);
    args.push(&env.image);
    assert_success(&env.run(&args), "keyless sign --bundle-format");

    let predicate = env.dir.path().join("vuln.json");
    std::fs::write(&predicate, br#"{"SchemaVersion": 2, "Results": []}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let root_path = root.clone();
    let verify_attestation = |identity: &str| {
        env.run(&[
            "verify-attestation",
            "--type",
            "vuln",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            path_str(&root_path),
            &env.image,
        ])
    };
    // The legacy `.att` layer first: with no attestation bundle yet, verification falls back to
    // the `.att` tag (the sign/v1 bundle is not an attestation) and checks its Rekor bundle.
    // Then a bundle attestation, which is found first among the referrers.
    for (format, found_at) in [
        (&[][..], ".att layer 0"),
        (&["--bundle-format"][..], "(referrer)"),
    ] {
        let mut args = vec!["attest"];
        args.extend(format);
        args.extend(keyless);
        args.extend([
            "--predicate",
            path_str(&predicate),
            "--type",
            "vuln",
            &env.image,
        ]);
        assert_success(&env.run(&args), &format!("keyless attest {format:?}"));
        let out = verify_attestation(SUBJECT);
        assert_success(
            &out,
            &format!("keyless verify-attestation after {format:?}"),
        );
        assert_eq!(printed(&out).len(), 1);
        let mallory = verify_attestation("mallory@example.invalid");
        assert_exit(&mallory, 1, "mallory@example.invalid");
        assert!(stderr(&mallory).contains(found_at), "{}", stderr(&mallory));
    }

    let entries = env.referrers_index()["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 2);
    let bundle = check_referrer(&env, &entries[0], SIGN_PREDICATE);
    let material = &bundle["verificationMaterial"];
    assert!(material["certificate"]["rawBytes"].is_string());
    let tlog = &material["tlogEntries"][0];
    assert_eq!(tlog["kindVersion"]["kind"], "dsse");
    assert!(tlog["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(tlog["inclusionProof"]["checkpoint"]["envelope"].is_string());

    let root = path_str(&root);
    let out = env.run(&[
        "verify",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        root,
        &env.image,
    ]);
    assert_success(&out, "keyless verify of a bundle");
    assert_eq!(printed(&out)[0]["predicateType"], SIGN_PREDICATE);

    let out = env.run(&[
        "verify",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        "https://evil.example.invalid",
        "--trusted-root",
        root,
        &env.image,
    ]);
    assert_exit(&out, 1, "https://evil.example.invalid");
}

#[test]
fn keyless_usage_errors_exit_2() {
    let Some(env) = setup("keyless-usage") else {
        return;
    };
    let garbage = env.dir.path().join("token.txt");
    std::fs::write(&garbage, "not-a-jwt").unwrap_or_else(|e| panic!("{e}"));
    let out = env.run(&[
        "sign",
        "--identity-token-file",
        path_str(&garbage),
        "--fulcio-url",
        "http://127.0.0.1:9",
        &env.image,
    ]);
    assert_exit(&out, 2, "malformed identity token");
    let out = env.run(&["verify", "--certificate-identity", SUBJECT, &env.image]);
    assert_exit(&out, 2, "--certificate-oidc-issuer");
    let bad_root = env.dir.path().join("root.json");
    std::fs::write(&bad_root, "{}").unwrap_or_else(|e| panic!("{e}"));
    let out = env.run(&[
        "verify",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        path_str(&bad_root),
        &env.image,
    ]);
    assert_exit(&out, 2, "root.json");
    // Fulcio unreachable: a tool error naming the service, and nothing is written.
    let token = format!(
        "e30.{}.sig",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#)
    );
    let out = env.run(&[
        "sign",
        "--identity-token",
        &token,
        "--fulcio-url",
        "http://127.0.0.1:9",
        &env.image,
    ]);
    assert_exit(&out, 2, "Fulcio at http://127.0.0.1:9");
    assert!(env
        .manifest_at(&env.tag(&format!("sha256-{}.sig", env.digest.hex())))
        .is_none());
}

//! Interop with sigstore-python (PyPI `sigstore` 4.5.1, installed by `scripts/setup.sh` into
//! `~/.cache/sealwatch/peers/sigstore-venv`), fully on loopback against the Sigstore stand-in:
//!
//! * sigstore-python verifies bundles sealwatch produced keylessly — a file bundle from
//!   `sealwatch sign-blob` and the cosign-v3 image bundle `sealwatch sign --bundle-format` stores
//!   as a referrer (its artifact is the image manifest);
//! * sealwatch `verify-blob` verifies a bundle sigstore-python signed (with its RFC 3161 timestamp).
//!
//! sigstore-python's CLI has no managed-key verification, so the shared instance is the keyless
//! one. Without the tool the tests skip locally and fail under CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealwatch_oci::registry::{RegistryClient, RegistryOptions};
use sealwatch_oci::{Digest, Reference};
use sealwatch_test::registry::TestRegistry;
use sealwatch_test::standin::TestStandIn;
use serde_json::Value;

const SUBJECT: &str = "alice@example.invalid";
const ISSUER: &str = "https://oidc.example.invalid";

fn sigstore_python() -> Option<PathBuf> {
    let candidates = std::env::var_os("SEALWATCH_SIGSTORE_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("SEALWATCH_PEERS")
                .map(|peers| PathBuf::from(peers).join("sigstore-venv/bin/sigstore")),
        )
        .chain(std::env::var_os("HOME").map(|home| {
            PathBuf::from(home).join(".cache/sealwatch/peers/sigstore-venv/bin/sigstore")
        }))
        .chain(std::env::var_os("PATH").into_iter().flat_map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("sigstore"))
                .collect::<Vec<_>>()
        }));
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        let msg = "sigstore-python not found (scripts/setup.sh installs it)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI is set, so this is a failure, not a skip");
        }
        eprintln!("skipping: {msg}");
    }
    found
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

fn sealwatch(args: &[&str]) -> Output {
    run(Path::new(env!("CARGO_BIN_EXE_sealwatch")), args)
}

fn utf8(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `sigstore --trust-config … verify identity --offline` of `artifact` with `bundle`.
fn python_verify(
    tool: &Path,
    stand_in: &TestStandIn,
    bundle: &Path,
    artifact: &Path,
    identity: &str,
) -> Output {
    let trust_config = stand_in.dir().join("trust_config.json");
    run(
        tool,
        &[
            "--trust-config",
            utf8(&trust_config),
            "verify",
            "identity",
            "--offline",
            "--bundle",
            utf8(bundle),
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            ISSUER,
            utf8(artifact),
        ],
    )
}

#[test]
fn sigstore_python_verifies_a_sealwatch_blob_bundle_and_sealwatch_verifies_theirs() {
    let Some(tool) = sigstore_python() else {
        return;
    };
    let Some(stand_in) = TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let artifact = dir.path().join("release.tar");
    std::fs::write(&artifact, b"release contents\n").unwrap_or_else(|e| panic!("{e}"));
    let token = stand_in.token_file();
    let signing_config = stand_in.dir().join("signing_config.json");

    // sealwatch signs, sigstore-python verifies.
    let ours = dir.path().join("ours.sigstore.json");
    let out = sealwatch(&[
        "sign-blob",
        "--identity-token-file",
        utf8(&token),
        "--signing-config",
        utf8(&signing_config),
        "--bundle",
        utf8(&ours),
        utf8(&artifact),
    ]);
    assert_eq!(out.status.code(), Some(0), "sign-blob: {}", describe(&out));
    let out = python_verify(&tool, &stand_in, &ours, &artifact, SUBJECT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "sigstore-python verifies ours: {}",
        describe(&out)
    );
    let out = python_verify(
        &tool,
        &stand_in,
        &ours,
        &artifact,
        "mallory@example.invalid",
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "wrong identity must fail: {}",
        describe(&out)
    );
    let tampered = dir.path().join("tampered.tar");
    std::fs::write(&tampered, b"release contents!\n").unwrap_or_else(|e| panic!("{e}"));
    let out = python_verify(&tool, &stand_in, &ours, &tampered, SUBJECT);
    assert_ne!(
        out.status.code(),
        Some(0),
        "tampered artifact must fail: {}",
        describe(&out)
    );

    // sigstore-python signs (bundle with an RFC 3161 timestamp), sealwatch verifies.
    let theirs = dir.path().join("theirs.sigstore.json");
    let token_text = std::fs::read_to_string(&token).unwrap_or_else(|e| panic!("{e}"));
    let trust_config = stand_in.dir().join("trust_config.json");
    let out = run(
        &tool,
        &[
            "--trust-config",
            utf8(&trust_config),
            "sign",
            "--identity-token",
            token_text.trim(),
            "--bundle",
            utf8(&theirs),
            utf8(&artifact),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "sigstore-python sign: {}",
        describe(&out)
    );
    let bundle: Value = serde_json::from_slice(&std::fs::read(&theirs).unwrap_or_default())
        .unwrap_or_else(|e| panic!("their bundle: {e}"));
    assert!(
        bundle
            .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0")
            .is_some(),
        "sigstore-python's bundle carries a TSA timestamp: {bundle}"
    );
    let root = stand_in.trusted_root();
    let verify = |identity: &str, file: &Path| {
        sealwatch(&[
            "verify-blob",
            "--bundle",
            utf8(&theirs),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            utf8(&root),
            utf8(file),
        ])
    };
    let out = verify(SUBJECT, &artifact);
    assert_eq!(
        out.status.code(),
        Some(0),
        "sealwatch verifies theirs: {}",
        describe(&out)
    );
    let out = verify("mallory@example.invalid", &artifact);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let out = verify(SUBJECT, &tampered);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // The same bundle by digest.
    let digest = Digest::sha256_of(b"release contents\n").to_string();
    let out = sealwatch(&[
        "verify-blob",
        "--bundle",
        utf8(&theirs),
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        utf8(&root),
        &digest,
    ]);
    assert_eq!(out.status.code(), Some(0), "by digest: {}", describe(&out));
}

#[test]
fn sigstore_python_verifies_the_image_bundle_sealwatch_stored() {
    let Some(tool) = sigstore_python() else {
        return;
    };
    let Some(layout) = sealwatch_test::require_shared("fixtures/images/alpine-3.20") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let Some(stand_in) = TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let client = RegistryClient::new(RegistryOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let image = format!("{}/interop/app:v1", registry.host());
    let reference: Reference = image.parse().unwrap_or_else(|e| panic!("{e}"));
    let digest = sealwatch_test::push::push_oci_layout(&client, &layout, &reference)
        .unwrap_or_else(|e| panic!("push: {e}"));
    let token = stand_in.token_file();
    let signing_config = stand_in.dir().join("signing_config.json");
    let out = sealwatch(&[
        "sign",
        "--bundle-format",
        "--identity-token-file",
        utf8(&token),
        "--signing-config",
        utf8(&signing_config),
        &image,
    ]);
    assert_eq!(out.status.code(), Some(0), "sign: {}", describe(&out));

    // Read the bundle back from the referrers tag schema with plain JSON.
    let index_ref = reference
        .with_tag(&format!("sha256-{}", digest.hex()))
        .unwrap_or_else(|e| panic!("{e}"));
    let index: Value = serde_json::from_slice(
        &client
            .fetch_manifest(&index_ref)
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let referrer: Digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let manifest: Value = serde_json::from_slice(
        &client
            .fetch_manifest_by_digest(&reference, &referrer, None)
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let layer = &manifest["layers"][0];
    let layer_digest: Digest = layer["digest"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut bundle = Vec::new();
    client
        .pull_blob(
            &reference,
            &layer_digest,
            layer["size"].as_u64().unwrap_or_default(),
            &mut bundle,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let bundle_path = dir.path().join("image.sigstore.json");
    std::fs::write(&bundle_path, &bundle).unwrap_or_else(|e| panic!("{e}"));
    // The signed artifact is the image manifest (the statement's subject digest).
    let image_manifest = dir.path().join("manifest.json");
    let fetched = client
        .fetch_manifest_by_digest(&reference, &digest, None)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&image_manifest, &fetched.bytes).unwrap_or_else(|e| panic!("{e}"));

    let out = python_verify(&tool, &stand_in, &bundle_path, &image_manifest, SUBJECT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "sigstore-python verifies the image bundle: {}",
        describe(&out)
    );
    let out = python_verify(
        &tool,
        &stand_in,
        &bundle_path,
        &image_manifest,
        "mallory@example.invalid",
    );
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
}

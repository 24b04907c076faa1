//! `sealwatch verify-blob` against the sigstore-conformance bundles in shared/, offline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases() -> Option<PathBuf> {
    sealwatch_test::require_shared("conformance/sigstore/assets/bundle-verify")
}

fn sealwatch(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("sealwatch runs")
}

fn sha256_arg(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("artifact");
    sealwatch_trust::Digest::sha256_of(&bytes).to_string()
}

#[derive(Clone, Copy)]
enum Signer<'a> {
    /// The case's key.pub, or the default identity and issuer.
    Default,
    Identity(&'a str, &'a str),
    IdentityRegexp(&'a str, &'a str),
}

/// Arguments for one case, built as the conformance protocol builds them.
fn args_for(dir: &Path, case: &str, signer: Signer<'_>, digest: bool) -> Vec<String> {
    let case_dir = dir.join(case);
    let mut args = vec![
        "verify-blob".to_string(),
        "--bundle".into(),
        case_dir.join("bundle.sigstore.json").display().to_string(),
    ];
    match signer {
        Signer::Default if case_dir.join("key.pub").exists() => {
            args.extend([
                "--key".into(),
                case_dir.join("key.pub").display().to_string(),
            ]);
        }
        Signer::Default => args.extend([
            "--certificate-identity".into(),
            IDENTITY.into(),
            "--certificate-oidc-issuer".into(),
            ISSUER.into(),
        ]),
        Signer::Identity(identity, issuer) => args.extend([
            "--certificate-identity".into(),
            identity.into(),
            "--certificate-oidc-issuer".into(),
            issuer.into(),
        ]),
        Signer::IdentityRegexp(identity, issuer) => args.extend([
            "--certificate-identity-regexp".into(),
            identity.into(),
            "--certificate-oidc-issuer-regexp".into(),
            issuer.into(),
        ]),
    }
    if case_dir.join("trusted_root.json").exists() {
        args.extend([
            "--trusted-root".into(),
            case_dir.join("trusted_root.json").display().to_string(),
        ]);
    }
    let artifact = if case_dir.join("artifact").exists() {
        case_dir.join("artifact")
    } else {
        dir.join("a.txt")
    };
    args.push(if digest {
        sha256_arg(&artifact)
    } else {
        artifact.display().to_string()
    });
    args
}

/// Run one case and check the exit code and that stderr names the reason.
fn check(dir: &Path, case: &str, signer: Signer<'_>, expect_code: i32, expect_reason: &str) {
    for digest in [false, true] {
        let output = sealwatch(&args_for(dir, case, signer, digest));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(expect_code),
            "{case} (digest form: {digest}): {stderr}"
        );
        assert!(
            stderr.contains(expect_reason),
            "{case}: expected `{expect_reason}` in: {stderr}"
        );
    }
}

#[test]
fn accepted_bundles() {
    let Some(dir) = cases() else { return };
    for case in [
        "happy-path-v0.1",
        "happy-path-v0.3",
        "happy-path-intoto-in-dsse-v3",
        "rekor2-happy-path",
        "managed-key-happy-path",
    ] {
        check(&dir, case, Signer::Default, 0, "Verified OK");
    }
    check(
        &dir,
        "happy-path-v0.3",
        Signer::IdentityRegexp("^https://github\\.com/sigstore-conformance/", "actions"),
        0,
        "Verified OK",
    );
}

#[test]
fn rejected_bundles_name_the_reason() {
    let Some(dir) = cases() else { return };
    check(
        &dir,
        "signature-mismatch_fail",
        Signer::Default,
        1,
        "invalid signature",
    );
    check(
        &dir,
        "set-invalid-signature_fail",
        Signer::Default,
        1,
        "SET verification failed",
    );
    check(
        &dir,
        "checkpoint-wrong-roothash_fail",
        Signer::Default,
        1,
        "not verified",
    );
    check(
        &dir,
        "bundle-malformed-json_fail",
        Signer::Default,
        1,
        "malformed Sigstore bundle",
    );
    check(
        &dir,
        "happy-path-v0.3",
        Signer::Identity("someone@example.com", ISSUER),
        1,
        "identity mismatch",
    );
    check(
        &dir,
        "happy-path-v0.3",
        Signer::Identity(IDENTITY, "https://accounts.google.com"),
        1,
        "issuer mismatch",
    );
    check(
        &dir,
        "happy-path-v0.3",
        Signer::IdentityRegexp("^https://gitlab\\.com/", "."),
        1,
        "does not match the regular expression",
    );
}

#[test]
fn tampered_artifact_is_not_verified() {
    let Some(dir) = cases() else { return };
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut bytes = std::fs::read(dir.join("a.txt")).expect("a.txt");
    bytes[0] ^= 1;
    let tampered = scratch.path().join("a.txt");
    std::fs::write(&tampered, &bytes).expect("write");
    let mut args = args_for(&dir, "happy-path-v0.3", Signer::Default, false);
    let last = args.len() - 1;
    args[last] = tampered.display().to_string();
    let output = sealwatch(&args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let Some(dir) = cases() else { return };
    let bundle = dir
        .join("happy-path-v0.3/bundle.sigstore.json")
        .display()
        .to_string();
    let artifact = dir.join("a.txt").display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for args in [
        // No signer given.
        s(&["verify-blob", "--bundle", &bundle, &artifact]),
        // Identity without issuer.
        s(&[
            "verify-blob",
            "--bundle",
            &bundle,
            "--certificate-identity",
            IDENTITY,
            &artifact,
        ]),
        // Key and identity together.
        s(&[
            "verify-blob",
            "--bundle",
            &bundle,
            "--key",
            &bundle,
            "--certificate-identity",
            IDENTITY,
            &artifact,
        ]),
        // A regular expression that does not compile.
        s(&[
            "verify-blob",
            "--bundle",
            &bundle,
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            ISSUER,
            &artifact,
        ]),
        // Missing artifact and missing bundle files.
        s(&[
            "verify-blob",
            "--bundle",
            &bundle,
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            "/nonexistent/artifact",
        ]),
        s(&[
            "verify-blob",
            "--bundle",
            "/nonexistent/bundle.json",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            &artifact,
        ]),
    ] {
        let output = sealwatch(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The whole suite through the repository's protocol wrapper, as CI runs it.
#[test]
fn conformance_suite_passes_through_the_wrapper() {
    let Some(run_sh) = sealwatch_test::require_shared("conformance/sigstore/run.sh") else {
        return;
    };
    let wrapper =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/sigstore-client.sh");
    let output = Command::new("bash")
        .arg(run_sh)
        .arg(&wrapper)
        .env("SEALWATCH_BIN", env!("CARGO_BIN_EXE_sealwatch"))
        .stdin(Stdio::null())
        .output()
        .expect("run.sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        stdout.lines().last(),
        Some("140 passed, 0 failed"),
        "{stdout}"
    );
    assert!(output.status.success());
}

//! `sealwatch policy apply` with a keyless attestor shaped like the seed policy
//! (`shared/conformance/kyverno/seed-policy.yaml`: issuer + wildcard subject + `rekor.url`), against
//! images keyless-signed through the loopback Sigstore stand-in and verified with its trusted root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealwatch_test::standin::TestStandIn;

const SUBJECT: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn sealwatch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(args)
        .env("SEALWATCH_CACHE_DIR", dir.join("cache"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run sealwatch: {e}"))
}

fn utf8(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
}

fn pod(dir: &Path, name: &str, image: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let body = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  containers:\n    - name: main\n      image: {image}\n"
    );
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("write pod: {e}"));
    path
}

fn policy(dir: &Path, name: &str, host: &str, subject: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let body = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\nspec:\n  validationFailureAction: Enforce\n  webhookTimeoutSeconds: 30\n  rules:\n    - name: verify-cosign-signature\n      match:\n        any:\n          - resources:\n              kinds:\n                - Pod\n      verifyImages:\n        - imageReferences:\n            - \"{host}/acme/*\"\n          attestors:\n            - entries:\n                - keyless:\n                    issuer: \"{ISSUER}\"\n                    subject: \"{subject}\"\n                    rekor:\n                      url: https://rekor.sigstore.dev\n"
    );
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("write policy: {e}"));
    path
}

#[test]
fn keyless_policy_admits_the_signing_identity_and_denies_others() {
    let Some(alpine) = sealwatch_test::require_shared("fixtures/images/alpine-3.20") else {
        return;
    };
    let Some(registry) = sealwatch_test::registry::TestRegistry::start_plain() else {
        return;
    };
    let Some(stand_in) = TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let host = registry.host();
    let client = sealwatch_oci::registry::RegistryClient::new(Default::default())
        .unwrap_or_else(|e| panic!("client: {e}"));
    for repo in ["legacy", "bundle", "unsigned"] {
        let target: sealwatch_oci::Reference = format!("{host}/acme/{repo}:1.0")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        sealwatch_test::push::push_oci_layout(&client, &alpine, &target)
            .unwrap_or_else(|e| panic!("push: {e}"));
    }
    let token = stand_in.token_file();
    let signing_config = stand_in.dir().join("signing_config.json");
    for (repo, format) in [("legacy", None), ("bundle", Some("--bundle-format"))] {
        let image = format!("{host}/acme/{repo}:1.0");
        let mut args = vec![
            "sign",
            "--identity-token-file",
            utf8(&token),
            "--signing-config",
            utf8(&signing_config),
        ];
        args.extend(format);
        args.push(&image);
        let out = sealwatch(d, &args);
        assert!(
            out.status.success(),
            "keyless sign {repo}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let root = stand_in.trusted_root();
    let apply = |policy: &Path, image: &str, with_root: bool| {
        let resource = pod(d, "p", image);
        let mut args = vec![
            "policy",
            "apply",
            "--policy",
            utf8(policy),
            "--resource",
            utf8(&resource),
        ];
        if with_root {
            args.extend(["--trusted-root", utf8(&root)]);
        }
        let out = sealwatch(d, &args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let seed_like = policy(d, "seed-like", &host, "https://github.com/acme/*");
    for repo in ["legacy", "bundle"] {
        let (code, text) = apply(&seed_like, &format!("{host}/acme/{repo}:1.0"), true);
        assert_eq!(
            code,
            Some(0),
            "{repo}: keyless-signed image admitted: {text}"
        );
    }
    let (code, text) = apply(&seed_like, &format!("{host}/acme/unsigned:1.0"), true);
    assert_eq!(code, Some(1), "unsigned image denied: {text}");
    assert!(text.contains("DENIED"), "{text}");

    // Another subject: the certificate's identity does not match, denied with that reason.
    let other = policy(d, "other-subject", &host, "https://github.com/evil/*");
    for repo in ["legacy", "bundle"] {
        let (code, text) = apply(&other, &format!("{host}/acme/{repo}:1.0"), true);
        assert_eq!(code, Some(1), "{repo}: other subject denied: {text}");
        assert!(text.contains("DENIED") && text.contains("evil"), "{text}");
    }

    // Without --trusted-root the embedded production root does not know the stand-in's CA.
    let (code, text) = apply(&seed_like, &format!("{host}/acme/legacy:1.0"), false);
    assert_eq!(code, Some(1), "unknown CA denied: {text}");
    assert!(text.contains("DENIED"), "{text}");
}

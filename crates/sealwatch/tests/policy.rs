//! `sealwatch policy apply` end to end: a keyed `verifyImages` policy against Pods whose images live in a
//! real local registry, signed (or not) by `sealwatch sign`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "policy test";

fn sealwatch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(args)
        .env("SEALWATCH_CACHE_DIR", dir.join("cache"))
        .env("COSIGN_PASSWORD", PASSWORD)
        .env_remove("SEALWATCH_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run sealwatch")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pod(dir: &Path, name: &str, image: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let body = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  containers:\n    - name: main\n      image: {image}\n"
    );
    std::fs::write(&path, body).expect("write pod");
    path
}

#[test]
fn keyed_policy_admits_signed_and_denies_unsigned_images() {
    let Some(alpine) = sealwatch_test::require_shared("fixtures/images/alpine-3.20") else {
        return;
    };
    let Some(registry) = sealwatch_test::registry::TestRegistry::start_plain() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let host = registry.host();
    let client = sealwatch_oci::registry::RegistryClient::new(Default::default()).expect("client");
    for repo in ["signed", "unsigned"] {
        let target: sealwatch_oci::Reference = format!("{host}/team/{repo}:1.0")
            .parse()
            .expect("reference");
        sealwatch_test::push::push_oci_layout(&client, &alpine, &target).expect("push");
    }
    // Same content, so the unsigned repository differs only in having no signature of its own.
    let prefix = d.join("cosign");
    ok(
        &sealwatch(
            d,
            &[
                "keygen",
                "--output-key-prefix",
                prefix.to_str().expect("utf-8"),
            ],
        ),
        "keygen",
    );
    let key = d.join("cosign.key");
    let signed = format!("{host}/team/signed:1.0");
    ok(
        &sealwatch(d, &["sign", "--key", key.to_str().expect("utf-8"), &signed]),
        "sign",
    );

    let public = std::fs::read_to_string(d.join("cosign.pub")).expect("public key");
    let indented: String = public
        .lines()
        .map(|l| format!("                      {l}\n"))
        .collect();
    let policy = d.join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: verify-team\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: verify-signature\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      verifyImages:\n        - imageReferences:\n            - \"{host}/team/*\"\n          mutateDigest: true\n          attestors:\n            - entries:\n                - keys:\n                    rekor:\n                      ignoreTlog: true\n                    publicKeys: |-\n{indented}"
        ),
    )
    .expect("write policy");
    let apply = |resource: &Path| {
        sealwatch(
            d,
            &[
                "policy",
                "apply",
                "--policy",
                policy.to_str().expect("utf-8"),
                "--resource",
                resource.to_str().expect("utf-8"),
            ],
        )
    };

    let out = apply(&pod(d, "good", &signed));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "signed image admitted: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("sha256:"),
        "the patch pins the digest: {text}"
    );

    let out = apply(&pod(d, "bad", &format!("{host}/team/unsigned:1.0")));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "unsigned image denied: {text}");
    assert!(text.contains("DENIED"), "{text}");

    // Audit: the same unsigned Pod is allowed, with the failure reported.
    let audit = d.join("audit.yaml");
    let text = std::fs::read_to_string(&policy).expect("read policy");
    std::fs::write(
        &audit,
        text.replace(
            "validationFailureAction: Enforce",
            "validationFailureAction: Audit",
        ),
    )
    .expect("write");
    let out = sealwatch(
        d,
        &[
            "policy",
            "apply",
            "--policy",
            audit.to_str().expect("utf-8"),
            "--resource",
            pod(d, "bad-audit", &format!("{host}/team/unsigned:1.0"))
                .to_str()
                .expect("utf-8"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "Audit allows: {text}");
    assert!(
        !text.contains("DENIED") && (text.contains("FAIL") || text.contains("WARN")),
        "the failure is still reported: {text}"
    );

    // Tampered: another image pushed under the signed tag has no signature of its own.
    let Some(distroless) = sealwatch_test::require_shared("fixtures/images/distroless-base") else {
        return;
    };
    let tampered: sealwatch_oci::Reference = format!("{host}/team/signed:1.0")
        .parse()
        .expect("reference");
    sealwatch_test::push::push_oci_layout(&client, &distroless, &tampered)
        .expect("push over the tag");
    let out = apply(&pod(d, "tampered", &signed));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "tampered image denied: {text}");
    assert!(text.contains("DENIED"), "{text}");

    // Without `ignoreTlog` the key attestor requires a Rekor entry (Kyverno's default), which sealwatch cannot
    // check yet: it refuses (fails closed) rather than accept a signature Kyverno would refuse.
    let strict = d.join("strict.yaml");
    let text = std::fs::read_to_string(&policy).expect("read policy");
    std::fs::write(
        &strict,
        text.replace(
            "                    rekor:\n                      ignoreTlog: true\n",
            "",
        ),
    )
    .expect("write");
    let out = sealwatch(
        d,
        &[
            "policy",
            "apply",
            "--policy",
            strict.to_str().expect("utf-8"),
            "--resource",
            pod(d, "good2", &signed).to_str().expect("utf-8"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("transparency-log"), "says why: {text}");

    // A policy with a mistake: every problem with file:line:column, exit 2.
    let broken = d.join("broken.yaml");
    std::fs::write(&broken, "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  bogusField: 1\n  rules: []\n")
        .expect("write");
    let out = sealwatch(
        d,
        &[
            "policy",
            "apply",
            "--policy",
            broken.to_str().expect("utf-8"),
            "--resource",
            pod(d, "any", "nginx").to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("broken.yaml:5:3")
            || String::from_utf8_lossy(&out.stderr).contains("broken.yaml:5:3")
    );
}

/// `namespaceSelector` needs namespace labels: `policy apply` takes them from `Namespace` objects
/// among the resources and from a Kyverno CLI values file. The image lives on a closed loopback
/// port, so a rule that applies ends in a verification error (denied, exit 1) and a rule that
/// does not apply prints nothing for the Pod (exit 0); no registry is needed to tell them apart.
#[test]
fn policy_apply_reads_namespace_labels_from_manifests_and_values_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let policy = d.join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: prod-only\nspec:\n  rules:\n    - name: verify-in-prod\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n              namespaceSelector:\n                matchLabels: {env: prod}\n      verifyImages:\n        - imageReferences: ['127.0.0.1:9/*']\n          failureAction: Enforce\n          attestors:\n            - entries:\n                - keys:\n                    rekor: {ignoreTlog: true}\n                    publicKeys: |-\n                      -----BEGIN PUBLIC KEY-----\n                      MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvwCAFUj8qi04VPWd1HQ8yeQjvsoj\n                      kBToZDx6jIW2Vyk9dA6EjLbtU79o1xs+5yIbFeFg0fttu/+GNV2CykBdkQ==\n                      -----END PUBLIC KEY-----\n",
    )
    .expect("write policy");
    let pod_in = |namespace: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: app, namespace: {namespace}}}\nspec:\n  containers:\n    - {{name: app, image: '127.0.0.1:9/team/app:v1'}}\n")
    };
    let namespace = |name: &str, env: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{env: {env}}}}}\n---\n")
    };
    let apply = |resources: &str, values: Option<&str>| {
        let resource = d.join("resources.yaml");
        std::fs::write(&resource, resources).expect("write resources");
        let mut args = vec![
            "policy".to_owned(),
            "apply".into(),
            "--timeout".into(),
            "5".into(),
            "--policy".into(),
            policy.display().to_string(),
            "--resource".into(),
            resource.display().to_string(),
        ];
        if let Some(values) = values {
            let file = d.join("values.yaml");
            std::fs::write(&file, values).expect("write values");
            args.extend(["--values-file".into(), file.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sealwatch(d, &args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Labelled prod by its Namespace manifest: the rule applies.
    let (code, stdout, _) = apply(&(namespace("shop", "prod") + &pod_in("shop")), None);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("ERROR: Pod/shop/app prod-only/verify-in-prod"),
        "{stdout}"
    );
    // Labelled dev: it does not.
    let (code, stdout, _) = apply(&(namespace("shop", "dev") + &pod_in("shop")), None);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(!stdout.contains("verify-in-prod"), "{stdout}");
    // Unknown labels: no selector matches, and stderr says why.
    let (code, stdout, stderr) = apply(&pod_in("shop"), None);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stderr.contains("labels of namespace shop are unknown"),
        "{stderr}"
    );
    // A values file gives the labels (and overrides a Namespace manifest).
    let values = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nnamespaceSelector:\n  - name: shop\n    labels:\n      env: prod\n";
    let (code, stdout, _) = apply(&(namespace("shop", "dev") + &pod_in("shop")), Some(values));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("ERROR: Pod/shop/app"), "{stdout}");
    // A values file with a section sealwatch does not read: exit 2, file:line:column.
    let (code, _, stderr) = apply(&pod_in("shop"), Some("policies:\n  - name: x\n"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("values.yaml:1:1:"), "{stderr}");
}

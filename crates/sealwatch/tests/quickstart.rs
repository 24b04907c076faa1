//! `scripts/quickstart.sh`, the README's first command, run end to end with the binary under test
//! against a registry the harness starts: every step of the chain shows in its output, and what each
//! step reports agrees with the others (the digest built is the one attested, signed, admitted and
//! named in the alert; the signed Pod passes and the unsigned rebuild is denied).
//!
//! The script downloads a handful of Debian packages with `apt-get download` on its first run (the
//! package archive is the one network source the project allows) and keeps them in a cache.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sealwatch_test::registry::TestRegistry;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The tools the script calls, or a skip (a failure under `CI`) naming the missing one.
fn tools_present() -> bool {
    for tool in [
        "skopeo", "apt-get", "dpkg-deb", "jq", "python3", "curl", "gzip",
    ] {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
        if !found {
            let msg = format!("{tool} not found (run scripts/setup.sh)");
            assert!(
                std::env::var_os("CI").is_none(),
                "{msg}; CI is set, so this is a failure, not a skip"
            );
            eprintln!("skipping: {msg}");
            return false;
        }
    }
    true
}

/// The value after `prefix` where it first occurs, up to the next space, `,` or `)`.
fn word_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let start = text
        .find(prefix)
        .map(|i| i + prefix.len())
        .unwrap_or_else(|| panic!("no `{prefix}` in the output:\n{text}"));
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ')' || c == ',')
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn quickstart_runs_the_whole_chain() {
    if !tools_present() {
        return;
    }
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut command = Command::new("bash");
    command
        .arg(repo_root().join("scripts/quickstart.sh"))
        .env("SEALWATCH_BIN", env!("CARGO_BIN_EXE_sealwatch"))
        .env("SEALWATCH_SKIP_SETUP", "1")
        .env("QUICKSTART_REGISTRY", registry.host())
        .env("TMPDIR", home.path())
        .env_remove("QUICKSTART_KEEP")
        .stdin(Stdio::null());
    if std::env::var_os("QUICKSTART_DEBS").is_none() {
        // Reuse the user's package cache so repeated runs download nothing.
        if let Some(cache) = std::env::var_os("HOME") {
            command.env(
                "QUICKSTART_DEBS",
                Path::new(&cache).join(".cache/sealwatch/quickstart-debs"),
            );
        }
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running scripts/quickstart.sh: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quickstart failed ({:?})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    let text = format!("{stdout}\n{stderr}");

    // Every step, in order.
    let mut at = 0;
    for step in 1..=7 {
        let marker = format!("==> {step}/7 ");
        let found = text[at..]
            .find(&marker)
            .unwrap_or_else(|| panic!("step {step} missing or out of order:\n{text}"));
        at += found + marker.len();
    }

    // 1: a distroless image: no shell, dpkg database only, non-root, one layer per package.
    let digest = word_after(&stdout, " layers  ").to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let layers: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("layer "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for package in ["base-files", "ca-certificates", "libc6", "tzdata"] {
        assert!(layers.contains(&package), "no {package} layer: {layers:?}");
    }
    assert!(stdout.contains("shells:           none"), "{stdout}");
    assert!(
        stdout.contains("dpkg (database only: /var/lib/dpkg/status.d)"),
        "{stdout}"
    );
    assert!(stdout.contains("runs as root: no"), "{stdout}");
    assert!(stdout.contains(&format!("Manifest:       {digest}")));

    // 2: pushed to the harness's registry.
    let image = format!("{}/quickstart/app", registry.host());
    assert!(stdout.contains(&format!("pushed {image}:1.0 ({digest})")));
    let unsigned = word_after(&stdout, &format!("pushed {image}:1.0-rc (")).to_owned();
    assert_ne!(unsigned, digest, "the unsigned rebuild has its own digest");

    // 3: the scan found something, and only in packages the image was built from.
    let total: usize = word_after(&stdout, "Total: ")
        .parse()
        .unwrap_or_else(|e| panic!("scan total: {e}\n{stdout}"));
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" CVE-") || l.contains(" DEBIAN-"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(rows.len(), total, "one table row per finding:\n{stdout}");
    assert!(
        total > 0,
        "the sample advisories match this image:\n{stdout}"
    );
    for package in &rows {
        assert!(
            layers.contains(package),
            "finding for {package} not in the image"
        );
    }

    // 3, 4 and 5: the scan attested and the image signed, beside the digest that was built; the
    // verified attestation carries the same findings the table showed.
    let hex = digest.trim_start_matches("sha256:");
    assert!(
        stdout.contains(&format!("subject   {image}@{digest}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("scanner   pkg:cargo/sealwatch@"),
        "{stdout}"
    );
    let attested: usize = word_after(&stdout, "findings  ")
        .parse()
        .unwrap_or_else(|e| panic!("attested findings: {e}\n{stdout}"));
    assert_eq!(attested, total, "the attestation holds the scan's findings");
    // (sealwatch reports these on stderr, as cosign does.)
    assert!(text.contains(&format!("Pushing attestation to: {image}:sha256-{hex}.att")));
    assert!(text.contains(&format!("Pushing signature to: {image}:sha256-{hex}.sig")));

    // 6: admitted (pinned to the digest) and denied.
    for rule in [
        "verify-image-signatures-keyed/verify-cosign-signature",
        "require-fresh-clean-vuln-attestation-keyed/require-signature-and-scan",
    ] {
        assert!(
            stdout.contains(&format!("PASS: Pod/default/signed {rule} {image}:1.0: ")),
            "{rule} does not pass the signed Pod:\n{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "FAIL: Pod/default/unsigned {rule} {image}:1.0-rc: "
            )),
            "{rule} does not fail the unsigned Pod:\n{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("{image}:1.0@{digest}")),
        "tag pinned"
    );
    assert!(stdout.contains("DENIED: Pod/default/unsigned"), "{stdout}");
    assert!(stdout.contains(&format!(
        "no signatures found for {image}:1.0-rc ({unsigned})"
    )));
    assert!(
        stdout.contains("pass: 2, fail: 2, warn: 0, error: 0, skip: 0; 2 resource(s), 1 denied")
    );

    // 7: the terminal shell alert, naming the image by the digest that was built and signed.
    let alerts: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ALERT ")).collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let shell = alerts
        .iter()
        .find(|l| l.starts_with("ALERT Terminal shell in container [Notice]: "))
        .unwrap_or_else(|| panic!("no terminal shell alert: {alerts:?}"));
    assert!(shell.contains(&format!("digest={digest}")), "{shell}");
    assert!(shell.contains("cmdline=sh -i"), "{shell}");
    // Provenance: signed by the CI key, with the scan's CRITICAL/HIGH counts from its attestation.
    let fingerprint = word_after(&stdout, "ci key fingerprint ");
    let critical = word_after(&stdout, "CRITICAL: ");
    let high = word_after(&stdout, "HIGH: ");
    for field in [
        format!("sealwatch.image.digest={digest}"),
        "sealwatch.signature=verified".to_owned(),
        format!("sealwatch.signer={fingerprint}"),
        format!("sealwatch.cves.critical={critical}"),
        format!("sealwatch.cves.high={high}"),
    ] {
        assert!(shell.contains(&field), "no {field} in {shell}");
    }
    assert!(
        stderr.contains("6 event(s), 2 alert(s), 2 delivered"),
        "{stderr}"
    );

    // Clean-up: the temporary folder is gone.
    let removed = word_after(&stdout, "removed ");
    assert!(!Path::new(removed).exists(), "{removed} left behind");
    let leftovers = std::fs::read_dir(home.path())
        .unwrap_or_else(|e| panic!("listing the temp dir: {e}"))
        .count();
    assert_eq!(leftovers, 0, "the script leaves nothing in TMPDIR");
}

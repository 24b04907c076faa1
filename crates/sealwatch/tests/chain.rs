//! The trust chain end to end, against a real local registry: `scan --attest` / `sbom --attest`
//! sign their results as attestations; `admission serve` (over HTTPS) admits an image only with
//! a signature and a fresh, clean vuln attestation; `watch` adds the image's provenance to alerts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use sealwatch_oci::registry::{RegistryClient, RegistryOptions};
use sealwatch_oci::{Digest, Reference};
use sealwatch_test::registry::TestRegistry;
use serde_json::Value;

const PASSWORD: &str = "chain test";
const VULN_TYPE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

struct Env {
    registry: TestRegistry,
    client: RegistryClient,
    dir: tempfile::TempDir,
    alpine: PathBuf,
    db: PathBuf,
}

fn setup() -> Option<Env> {
    let alpine = sealwatch_test::require_shared("fixtures/images/alpine-3.20")?;
    let secdb = sealwatch_test::require_shared("fixtures/advisories/alpine-secdb")?;
    let registry = TestRegistry::start_plain()?;
    let client = RegistryClient::new(RegistryOptions::default())
        .unwrap_or_else(|e| panic!("registry client: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let env = Env {
        registry,
        client,
        db: dir.path().join("db.redb"),
        dir,
        alpine,
    };
    let out = env.run(&["db", "import", "--db", path_str(&env.db), path_str(&secdb)]);
    assert_success(&out, "db import");
    Some(env)
}

impl Env {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sealwatch"))
            .args(args)
            .stdin(Stdio::null())
            .env("COSIGN_PASSWORD", PASSWORD)
            .env_remove("SEALWATCH_PASSWORD")
            .env_remove("SEALWATCH_DB")
            .env("SEALWATCH_CACHE_DIR", self.path("cache"))
            .output()
            .unwrap_or_else(|e| panic!("running sealwatch: {e}"))
    }

    /// Push the alpine fixture as `host/<repo>:1.0`; returns the reference text and its digest.
    fn push(&self, repo: &str) -> (String, Digest) {
        let image = format!("{}/{repo}:1.0", self.registry.host());
        let reference: Reference = image
            .parse()
            .unwrap_or_else(|e| panic!("reference {image}: {e}"));
        let digest = sealwatch_test::push::push_oci_layout(&self.client, &self.alpine, &reference)
            .unwrap_or_else(|e| panic!("push {image}: {e}"));
        (image, digest)
    }

    /// `sealwatch keygen`; returns (private, public) key paths.
    fn keypair(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.path(name);
        assert_success(
            &self.run(&["keygen", "--output-key-prefix", path_str(&prefix)]),
            "keygen",
        );
        (
            self.path(&format!("{name}.key")),
            self.path(&format!("{name}.pub")),
        )
    }

    /// The verified in-toto statements of `image` of type `kind`, as `verify-attestation` prints them.
    fn verified_statements(&self, public: &Path, kind: &str, image: &str) -> Vec<Value> {
        let out = self.run(&[
            "verify-attestation",
            "--key",
            path_str(public),
            "--type",
            kind,
            image,
        ]);
        assert_success(&out, "verify-attestation");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let envelope: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("envelope is JSON: {e}: {line}"));
                let payload = base64::engine::general_purpose::STANDARD
                    .decode(envelope["payload"].as_str().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("payload is base64: {e}"));
                serde_json::from_slice(&payload)
                    .unwrap_or_else(|e| panic!("statement is JSON: {e}"))
            })
            .collect()
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("not UTF-8: {}", path.display()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed: {}\nstdout: {}",
        text(&out.stderr),
        text(&out.stdout)
    );
}

fn parse_time(value: &Value) -> time::OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

#[test]
fn scan_and_sbom_attest_their_results() {
    let Some(env) = setup() else { return };
    let (image, digest) = env.push("team/app");
    let (key, public) = env.keypair("ci");
    let before = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|e| panic!("{e}"));

    let out = env.run(&[
        "scan",
        "--offline",
        "--db",
        path_str(&env.db),
        "--format",
        "json",
        "--attest",
        "--key",
        path_str(&key),
        &image,
    ]);
    assert_success(&out, "scan --attest");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("report is JSON: {e}"));
    assert_eq!(report["manifest_digest"], digest.to_string());

    let statements = env.verified_statements(&public, "vuln", &image);
    assert_eq!(statements.len(), 1, "{statements:?}");
    let statement = &statements[0];
    assert_eq!(statement["predicateType"], VULN_TYPE);
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        digest.hex(),
        "bound to the image digest"
    );
    let predicate = &statement["predicate"];
    assert_eq!(
        predicate["scanner"]["result"], report,
        "the report, unchanged"
    );
    assert_eq!(predicate["scanner"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        predicate["scanner"]["uri"],
        format!("pkg:cargo/sealwatch@{}", env!("CARGO_PKG_VERSION"))
    );
    // The database's update time (from its metadata) and where it came from.
    let db_updated = parse_time(&predicate["scanner"]["db"]["version"]);
    assert_eq!(
        predicate["scanner"]["db"]["version"],
        report["scanner"]["db_updated_at"]
    );
    assert!(
        predicate["scanner"]["db"]["uri"]
            .as_str()
            .is_some_and(|uri| uri.contains("alpine-secdb")),
        "{predicate}"
    );
    let started = parse_time(&predicate["metadata"]["scanStartedOn"]);
    let finished = parse_time(&predicate["metadata"]["scanFinishedOn"]);
    assert!(db_updated <= started, "the database predates the scan");
    assert!(
        before <= started && started <= finished,
        "{started} {finished}"
    );
    assert_eq!(
        predicate["metadata"]["scanFinishedOn"],
        report["scanner"]["scanned_at"]
    );

    // The SBOM as a CycloneDX attestation.
    let out = env.run(&["sbom", "--attest", "--key", path_str(&key), &image]);
    assert_success(&out, "sbom --attest");
    let bom: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("SBOM is JSON: {e}"));
    let statements = env.verified_statements(&public, "cyclonedx", &image);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["predicate"], bom);
    assert_eq!(
        statements[0]["subject"][0]["digest"]["sha256"],
        digest.hex()
    );
    assert!(
        bom["components"].as_array().is_some_and(|c| !c.is_empty()),
        "the SBOM lists packages"
    );

    // A local source has no registry digest to bind evidence to: exit 2, nothing printed.
    let layout = format!("oci:{}", path_str(&env.alpine));
    let out = env.run(&[
        "scan",
        "--offline",
        "--db",
        path_str(&env.db),
        "--attest",
        "--key",
        path_str(&key),
        &layout,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("registry image"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "no report: {}", text(&out.stdout));
    // --key alone is a usage mistake, not a silent no-op.
    let out = env.run(&["sbom", "--key", path_str(&key), &image]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--attest"),
        "{}",
        text(&out.stderr)
    );
    // A table cannot be attested.
    let out = env.run(&[
        "sbom",
        "--attest",
        "--key",
        path_str(&key),
        "--format",
        "table",
        &image,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cyclonedx"),
        "{}",
        text(&out.stderr)
    );
}

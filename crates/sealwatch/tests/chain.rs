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

    // Another predicate type: the report itself is the predicate.
    let custom = "https://sealwatch.example/scan-report/v1";
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
        "--attest-type",
        custom,
        &image,
    ]);
    assert_success(&out, "scan --attest --attest-type URI");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("report is JSON: {e}"));
    let statements = env.verified_statements(&public, custom, &image);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["predicate"], report);
    // A mistyped type name is refused before anything is scanned.
    let out = env.run(&[
        "scan",
        "--offline",
        "--db",
        path_str(&env.db),
        "--attest",
        "--key",
        path_str(&key),
        "--attest-type",
        "vulm",
        &image,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--attest-type"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());

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

    // SPDX as an spdxjson attestation.
    let out = env.run(&[
        "sbom",
        "--attest",
        "--key",
        path_str(&key),
        "--format",
        "spdx-json",
        &image,
    ]);
    assert_success(&out, "sbom --attest --format spdx-json");
    let spdx: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("SPDX is JSON: {e}"));
    let statements = env.verified_statements(&public, "spdxjson", &image);
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["predicate"], spdx);
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");

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

/// The keyed evidence policy for `host/team/*`, with the CI key for image signatures and the
/// scanner key for vuln attestations in place of the example's keys (in that order).
fn evidence_policy(host: &str, ci_public: &Path, scanner_public: &Path, action: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/require-fresh-clean-vuln-attestation-keyed.yaml");
    let example =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let keys: Vec<String> = [ci_public, scanner_public]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    let mut keys = keys.iter();
    let mut out = String::new();
    let mut skipping = false;
    for line in example.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("-----BEGIN PUBLIC KEY-----") {
            let indent = &line[..line.len() - trimmed.len()];
            let key = keys
                .next()
                .unwrap_or_else(|| panic!("more than two keys in the example"));
            for key_line in key.lines() {
                out.push_str(&format!("{indent}{key_line}\n"));
            }
            skipping = true;
        } else if skipping {
            skipping = !trimmed.starts_with("-----END PUBLIC KEY-----");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(keys.next().is_none(), "the example has two keys");
    let out = out.replace("ghcr.io/your-org/*", &format!("{host}/team/*"));
    assert!(out.contains(&format!("{host}/team/*")));
    out.replace(
        "validationFailureAction: Enforce",
        &format!("validationFailureAction: {action}"),
    )
}

/// `sealwatch admission serve` over HTTPS on a loopback port, stopped (by its PID) on drop.
struct Webhook {
    child: std::process::Child,
    port: u16,
    client: reqwest::blocking::Client,
}

impl Webhook {
    fn start(dir: &Path, policy: &str) -> Webhook {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        let policies = dir.join("policies");
        std::fs::create_dir_all(&policies).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(policies.join("evidence.yaml"), policy).unwrap_or_else(|e| panic!("{e}"));
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let cert_pem = certified.cert.pem();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &cert_pem).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&key, certified.signing_key.serialize_pem())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_sealwatch"))
            .args([
                "admission",
                "serve",
                "--policies",
                path_str(&policies),
                "--tls-cert",
                path_str(&cert),
                "--tls-key",
                path_str(&key),
                "--listen",
                "127.0.0.1:0",
                "--quiet",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the webhook: {e}"));
        // The first log line says where it listens; read it on a thread so a silent server
        // cannot hang the test.
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut port = None;
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while port.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the webhook did not report its address: {seen:?}");
            };
            if let Ok(log) = serde_json::from_str::<Value>(&line) {
                port = log["listen"]
                    .as_str()
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok());
            }
            seen.push(line);
        }
        let certificate = reqwest::Certificate::from_pem(cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let client = reqwest::blocking::Client::builder()
            .add_root_certificate(certificate)
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Webhook {
            child,
            port: port.unwrap_or_default(),
            client,
        }
    }

    /// POST the conformance AdmissionReview with its container image replaced; the response.
    fn review(&self, review: &Value, image: &str) -> Value {
        let mut review = review.clone();
        review["request"]["object"]["spec"]["containers"][0]["image"] = Value::from(image);
        let response = self
            .client
            .post(format!("https://127.0.0.1:{}/mutate", self.port))
            .header("Content-Type", "application/json")
            .body(review.to_string())
            .send()
            .unwrap_or_else(|e| panic!("POST /mutate for {image}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "{image}");
        let body: Value = response
            .json()
            .unwrap_or_else(|e| panic!("response for {image} is JSON: {e}"));
        assert_eq!(body["response"]["uid"], review["request"]["uid"]);
        body["response"].clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_denied(response: &Value, image: &str, because: &str) {
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert_eq!(
        response["allowed"], false,
        "{image} must be denied: {response}"
    );
    assert_eq!(response["status"]["code"], 403, "{response}");
    assert!(
        message.contains(because),
        "{image}: the deny message should say {because:?}: {message}"
    );
}

#[test]
fn admission_demands_a_signature_and_fresh_clean_scan_evidence() {
    let Some(review) =
        sealwatch_test::require_shared("conformance/kyverno/admissionreview/pod-create.json")
    else {
        return;
    };
    let review: Value = serde_json::from_slice(
        &std::fs::read(&review).unwrap_or_else(|e| panic!("{}: {e}", review.display())),
    )
    .unwrap_or_else(|e| panic!("the AdmissionReview is JSON: {e}"));
    let Some(env) = setup() else { return };
    let (ci_key, ci_public) = env.keypair("ci");
    let (scanner_key, scanner_public) = env.keypair("scanner");
    let (rogue_key, _) = env.keypair("rogue");
    let db = path_str(&env.db);
    let sign = |image: &str| {
        assert_success(
            &env.run(&["sign", "--key", path_str(&ci_key), image]),
            "sign",
        )
    };
    let scan_attest = |image: &str, key: &Path| {
        let out = env.run(&[
            "scan",
            "--offline",
            "--db",
            db,
            "--format",
            "json",
            "--attest",
            "--key",
            path_str(key),
            image,
        ]);
        assert_success(&out, "scan --attest");
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("report is JSON: {e}"))
    };
    // `attest --type vuln` with a hand-made report: how the too-old and critical cases are built.
    let attest_report = |image: &str, report: &Value, name: &str| {
        let file = env.path(name);
        std::fs::write(&file, report.to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_success(
            &env.run(&[
                "attest",
                "--key",
                path_str(&scanner_key),
                "--type",
                "vuln",
                "--predicate",
                path_str(&file),
                image,
            ]),
            "attest",
        );
    };

    let (good, good_digest) = env.push("team/good");
    sign(&good);
    let report = scan_attest(&good, &scanner_key);

    let (unsigned, _) = env.push("team/unsigned");
    scan_attest(&unsigned, &scanner_key);

    let (no_scan, _) = env.push("team/no-scan");
    sign(&no_scan);

    let (stale, _) = env.push("team/stale");
    sign(&stale);
    let mut old = report.clone();
    let thirty_days_ago = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    old["scanner"]["scanned_at"] = Value::from(
        thirty_days_ago
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    attest_report(&stale, &old, "old.json");

    let (rogue, _) = env.push("team/rogue-scan");
    sign(&rogue);
    scan_attest(&rogue, &rogue_key);

    let (critical, _) = env.push("team/critical");
    sign(&critical);
    let mut with_critical = report.clone();
    let finding = serde_json::json!({
        "id": "CVE-2099-0001", "aliases": [], "package_name": "musl", "installed_version": "1.2.5-r0",
        "fixed_versions": ["1.2.5-r1"], "severity": "CRITICAL", "references": [],
        "purl": "pkg:apk/alpine/musl@1.2.5-r0", "path": "lib/apk/db/installed", "layer": null
    });
    with_critical["results"] = serde_json::json!([{
        "target": "alpine (alpine 3.20)", "class": "os-pkgs", "type": "apk",
        "vulnerabilities": [finding]
    }]);
    with_critical["scanner"]["scanned_at"] = report["scanner"]["scanned_at"].clone();
    attest_report(&critical, &with_critical, "critical.json");

    let host = env.registry.host();
    let enforce = Webhook::start(
        &env.path("enforce"),
        &evidence_policy(&host, &ci_public, &scanner_public, "Enforce"),
    );

    // Signed + fresh clean scan: admitted, the image pinned to the digest it was verified at.
    let response = enforce.review(&review, &good);
    assert_eq!(response["allowed"], true, "{response}");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("patch is base64: {e}"));
    let patch = text(&patch);
    assert!(
        patch.contains(&format!("{good}@{good_digest}"))
            || patch.contains(&format!("team/good@{good_digest}")),
        "{patch}"
    );

    // The verdict admission wrote on the Pod is what `watch` reports for its containers later.
    let patch: Value =
        serde_json::from_str(&patch).unwrap_or_else(|e| panic!("patch is JSON: {e}: {patch}"));
    let verdict = patch
        .as_array()
        .and_then(|ops| {
            ops.iter()
                .find(|op| op["path"] == "/metadata/annotations/kyverno.io~1verify-images")
        })
        .and_then(|op| op["value"].as_str())
        .unwrap_or_else(|| panic!("no verify-images annotation in {patch}"))
        .to_owned();
    if let Some(rules) = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")
    {
        let container = serde_json::json!({"kind": "container", "id": "cccccccccccc",
            "name": "echo-server", "image": good, "image_digest": good_digest.to_string(),
            "k8s_pod_annotations": [["kyverno.io/verify-images", verdict]]});
        let events = format!(
            "{}\n{container}\n{}\n{}\n{}\n",
            r#"{"kind":"header","format":"sealwatch-events","version":1,"hostname":"node-1"}"#,
            r#"{"kind":"process","pid":700,"ppid":1,"name":"runc","exepath":"/usr/bin/runc","container_id":"cccccccccccc"}"#,
            r#"{"type":"clone","ts":1714564800000000000,"pid":700,"res":701}"#,
            r#"{"type":"execve","ts":1714564800000100000,"pid":701,"res":0,"proc":{"name":"bash","exepath":"/bin/bash","tty":34816,"user":"root","uid":0}}"#,
        );
        let replay = env.path("admitted.jsonl");
        std::fs::write(&replay, events).unwrap_or_else(|e| panic!("{e}"));
        // No keys: the signature verdict can only come from the annotation.
        let out = env.run(&[
            "watch",
            "-r",
            path_str(&rules),
            "--replay",
            path_str(&replay),
            "--output",
            "json",
            "--provenance",
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let alert: Value = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}")))
            .find(|a| a["rule"] == "Terminal shell in container")
            .unwrap_or_else(|| panic!("a shell alert: {}", text(&out.stdout)));
        assert_eq!(
            alert["output_fields"]["sealwatch.signature"], "verified",
            "{alert}"
        );
        assert_eq!(
            alert["output_fields"]["sealwatch.image.digest"],
            good_digest.to_string()
        );
    }

    assert_denied(
        &enforce.review(&review, &unsigned),
        &unsigned,
        ".attestors[0]: 0 of 1 required attestor(s) verified: no signatures found",
    );
    assert_denied(
        &enforce.review(&review, &no_scan),
        &no_scan,
        ".attestations[0].attestors[0]: 0 of 1 required attestor(s) verified: no attestations found",
    );
    assert_denied(&enforce.review(&review, &stale), &stale, "older than 168h");
    assert_denied(
        &enforce.review(&review, &rogue),
        &rogue,
        "signature does not verify with the given key",
    );
    assert_denied(
        &enforce.review(&review, &critical),
        &critical,
        "CRITICAL vulnerabilities that have a fix",
    );
    drop(enforce);

    // Audit: the unsigned image is let in, with the reason as a warning.
    let audit = Webhook::start(
        &env.path("audit"),
        &evidence_policy(&host, &ci_public, &scanner_public, "Audit"),
    );
    for image in [&unsigned, &stale] {
        let response = audit.review(&review, image);
        assert_eq!(response["allowed"], true, "{image}: {response}");
        let warnings = response["warnings"].as_array().cloned().unwrap_or_default();
        assert!(
            warnings.iter().any(|w| w
                .as_str()
                .is_some_and(|w| w.contains("require-fresh-clean-vuln-attestation"))),
            "{image}: a warning names the policy: {response}"
        );
    }
}

/// A replayed terminal shell in each of two containers: one runs an image that was signed and
/// attested, the other one that was not. Alerts carry the provenance of the first and say
/// "unknown"/"unverified" (never a guess) for the second.
#[test]
fn watch_alerts_carry_the_image_provenance() {
    let Some(rules) = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")
    else {
        return;
    };
    let Some(env) = setup() else { return };
    let (ci_key, ci_public) = env.keypair("ci");
    let (scanner_key, scanner_public) = env.keypair("scanner");
    let (signed, signed_digest) = env.push("team/signed");
    let (unsigned, unsigned_digest) = env.push("team/unsigned");
    assert_success(
        &env.run(&["sign", "--key", path_str(&ci_key), &signed]),
        "sign",
    );
    // A scan that found one CRITICAL and two HIGH: the alert's counts must come from it.
    let finding = |id: &str, severity: &str| {
        serde_json::json!({"id": id, "aliases": [], "package_name": "musl",
            "installed_version": "1.2.5-r0", "fixed_versions": [], "severity": severity,
            "references": [], "purl": "pkg:apk/alpine/musl@1.2.5-r0",
            "path": "lib/apk/db/installed", "layer": null})
    };
    let report = serde_json::json!({
        "schema_version": 1, "image": signed, "manifest_digest": signed_digest.to_string(),
        "scanner": {"name": "sealwatch", "version": env!("CARGO_PKG_VERSION"),
                    "scanned_at": "2026-01-01T00:00:00Z", "db_updated_at": null},
        "results": [{"target": "alpine", "class": "os-pkgs", "type": "apk", "vulnerabilities": [
            finding("CVE-2099-0001", "CRITICAL"), finding("CVE-2099-0002", "HIGH"),
            finding("CVE-2099-0003", "HIGH"), finding("CVE-2099-0004", "LOW")]}],
        "summary": {}
    });
    let report_file = env.path("report.json");
    std::fs::write(&report_file, report.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_success(
        &env.run(&[
            "attest",
            "--key",
            path_str(&scanner_key),
            "--type",
            "vuln",
            "--predicate",
            path_str(&report_file),
            &signed,
        ]),
        "attest",
    );

    let container = |id: &str, image: &str, digest: &Digest| {
        serde_json::json!({"kind": "container", "id": id, "name": id, "image": image,
                           "image_digest": digest.to_string()})
        .to_string()
    };
    let shell = |pid: u32, ts: u64, id: &str| {
        format!(
            "{{\"kind\":\"process\",\"pid\":{runc},\"ppid\":1,\"name\":\"runc\",\"exepath\":\"/usr/bin/runc\",\"container_id\":\"{id}\"}}\n\
             {{\"type\":\"clone\",\"ts\":{ts},\"pid\":{runc},\"res\":{pid}}}\n\
             {{\"type\":\"execve\",\"ts\":{},\"pid\":{pid},\"res\":0,\"proc\":{{\"name\":\"bash\",\"exepath\":\"/bin/bash\",\"tty\":34816,\"user\":\"root\",\"uid\":0}}}}",
            ts + 100,
            runc = pid - 1,
        )
    };
    let events = [
        r#"{"kind":"header","format":"sealwatch-events","version":1,"hostname":"node-1"}"#
            .to_owned(),
        container("aaaaaaaaaaaa", &signed, &signed_digest),
        container("bbbbbbbbbbbb", &unsigned, &unsigned_digest),
        shell(4201, 1_714_564_800_000_000_000, "aaaaaaaaaaaa"),
        shell(4301, 1_714_564_801_000_000_000, "bbbbbbbbbbbb"),
    ]
    .join("\n");
    let replay = env.path("events.jsonl");
    std::fs::write(&replay, events + "\n").unwrap_or_else(|e| panic!("{e}"));

    let out = env.run(&[
        "watch",
        "-r",
        path_str(&rules),
        "--replay",
        path_str(&replay),
        "--output",
        "json",
        "--verify-key",
        path_str(&ci_public),
        "--attestation-key",
        path_str(&scanner_public),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "alerts fired: {}",
        text(&out.stderr)
    );
    let alerts: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("alert is JSON: {e}: {l}")))
        .filter(|a: &Value| a["rule"] == "Terminal shell in container")
        .collect();
    // The stable rule's output has no container fields; the shells ran a second apart.
    let by_container = |id: &str| {
        let second = if id == "aaaaaaaaaaaa" {
            "12:00:00"
        } else {
            "12:00:01"
        };
        alerts
            .iter()
            .find(|a| a["time"].as_str().is_some_and(|t| t.contains(second)))
            .unwrap_or_else(|| panic!("no shell alert for {id}: {}", text(&out.stdout)))
            .clone()
    };
    let key_id = |public: &Path| {
        let pem = std::fs::read_to_string(public).unwrap_or_else(|e| panic!("{e}"));
        let key = sealwatch_trust::PublicKey::from_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
        let der = key.to_spki_der().unwrap_or_else(|e| panic!("{e}"));
        Digest::sha256_of(&der).to_string()
    };

    let fields = by_container("aaaaaaaaaaaa")["output_fields"].clone();
    assert_eq!(fields["sealwatch.image.digest"], signed_digest.to_string());
    assert_eq!(fields["sealwatch.signature"], "verified");
    assert_eq!(fields["sealwatch.signer"], key_id(&ci_public));
    assert_eq!(fields["sealwatch.cves.critical"], 1);
    assert_eq!(fields["sealwatch.cves.high"], 2);
    let output = by_container("aaaaaaaaaaaa")["output"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(output.contains("sealwatch.signature=verified"), "{output}");

    let fields = by_container("bbbbbbbbbbbb")["output_fields"].clone();
    assert_eq!(
        fields["sealwatch.image.digest"],
        unsigned_digest.to_string()
    );
    assert_eq!(fields["sealwatch.signature"], "unverified");
    assert_eq!(fields["sealwatch.signer"], Value::Null);
    assert_eq!(
        fields["sealwatch.cves.critical"],
        Value::Null,
        "no attestation: unknown, not 0"
    );
    assert_eq!(fields["sealwatch.cves.high"], Value::Null);

    // Without keys nothing is looked up: the digest is known, the rest unknown.
    let out = env.run(&[
        "watch",
        "-r",
        path_str(&rules),
        "--replay",
        path_str(&replay),
        "--output",
        "json",
        "--provenance",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let first: Value = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}")))
        .find(|a| a["time"].as_str().is_some_and(|t| t.contains("12:00:00")))
        .unwrap_or_else(|| panic!("an alert: {}", text(&out.stdout)));
    assert_eq!(
        first["output_fields"]["sealwatch.image.digest"],
        signed_digest.to_string()
    );
    assert_eq!(first["output_fields"]["sealwatch.signature"], "unknown");
    assert_eq!(first["output_fields"]["sealwatch.signer"], Value::Null);
}

const SUBJECT: &str = "alice@example.invalid";
const ISSUER: &str = "https://oidc.example.invalid";

/// The stand-in's identity token with another subject: the mock Fulcio certifies whatever
/// identity an (unsigned) token names, so two identities share one CA and one trusted root.
fn token_for(
    stand_in: &sealwatch_test::standin::TestStandIn,
    subject: &str,
    dir: &Path,
) -> PathBuf {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = std::fs::read_to_string(stand_in.token_file()).unwrap_or_else(|e| panic!("{e}"));
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    let mut claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap_or_else(|e| panic!("claims are base64url: {e}")),
    )
    .unwrap_or_else(|e| panic!("claims are JSON: {e}"));
    claims["sub"] = Value::from(subject);
    claims["email"] = Value::from(subject);
    let token = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let path = dir.join(format!("token-{subject}.txt"));
    std::fs::write(&path, token).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// `scan --attest` signed keylessly (legacy `.att` with Fulcio + Rekor, and a Sigstore bundle
/// from a signing config): `verify-attestation` accepts it for the token's identity only.
#[test]
fn keyless_scan_attest_verifies_for_its_identity_only() {
    let Some(env) = setup() else { return };
    let Some(stand_in) = sealwatch_test::standin::TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let url = stand_in.url();
    let token = stand_in.token_file();
    let root = stand_in.trusted_root();
    let signing_config = stand_in.dir().join("signing_config.json");
    let (legacy, legacy_digest) = env.push("team/keyless-legacy");
    let (bundled, bundled_digest) = env.push("team/keyless-bundle");

    let scan = |image: &str, how: &[&str]| {
        let mut args = vec![
            "scan",
            "--offline",
            "--db",
            path_str(&env.db),
            "--format",
            "json",
            "--attest",
            "--identity-token-file",
            path_str(&token),
        ];
        args.extend_from_slice(how);
        args.push(image);
        let out = env.run(&args);
        assert_success(&out, "keyless scan --attest");
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("report is JSON: {e}"))
    };
    let verify = |identity: &str, image: &str| {
        env.run(&[
            "verify-attestation",
            "--type",
            "vuln",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            path_str(&root),
            image,
        ])
    };
    let legacy_report = scan(&legacy, &["--fulcio-url", &url, "--rekor-url", &url]);
    let bundled_report = scan(
        &bundled,
        &[
            "--bundle-format",
            "--signing-config",
            path_str(&signing_config),
        ],
    );
    let log = stand_in.log();
    assert!(
        log.contains("POST /api/v2/signingCert") && log.contains("POST /api/v1/log/entries"),
        "Fulcio and Rekor were asked: {log}"
    );

    for (image, digest, report) in [
        (&legacy, &legacy_digest, &legacy_report),
        (&bundled, &bundled_digest, &bundled_report),
    ] {
        let out = verify(SUBJECT, image);
        assert_success(&out, "keyless verify-attestation");
        let envelopes: Vec<Value> = text(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(envelopes.len(), 1, "{image}: {envelopes:?}");
        // A legacy attestation prints as its DSSE envelope, a bundle as the bundle (like cosign).
        let envelope = envelopes[0].get("dsseEnvelope").unwrap_or(&envelopes[0]);
        let payload = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("payload is base64: {e}"));
        let statement: Value =
            serde_json::from_slice(&payload).unwrap_or_else(|e| panic!("statement: {e}"));
        assert_eq!(statement["predicateType"], VULN_TYPE);
        assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.hex());
        assert_eq!(
            &statement["predicate"]["scanner"]["result"], report,
            "{image}: the report, unchanged"
        );
        assert!(text(&out.stderr).contains(SUBJECT), "{}", text(&out.stderr));

        let out = verify("mallory@example.invalid", image);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{image}: another identity must not verify: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("mallory@example.invalid"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// `watch` with a keyless signer identity: an image signed by that identity shows it (and its
/// issuer) as signer, with CVE counts from its keyless scan attestation; an image signed by
/// another identity of the same CA is `unverified`.
#[test]
fn watch_provenance_names_the_keyless_signer() {
    let Some(rules) = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")
    else {
        return;
    };
    let Some(env) = setup() else { return };
    let Some(stand_in) = sealwatch_test::standin::TestStandIn::start(SUBJECT, ISSUER) else {
        return;
    };
    let url = stand_in.url();
    let alice = stand_in.token_file();
    let bob = token_for(&stand_in, "bob@example.invalid", env.dir.path());
    let root = stand_in.trusted_root();
    let (ours, ours_digest) = env.push("team/by-alice");
    let (theirs, theirs_digest) = env.push("team/by-bob");
    let keyless = |token: &Path| -> Vec<String> {
        [
            "--identity-token-file",
            path_str(token),
            "--fulcio-url",
            &url,
            "--rekor-url",
            &url,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    for (token, image) in [(&alice, &ours), (&bob, &theirs)] {
        let mut sign = vec!["sign".to_owned()];
        sign.extend(keyless(token));
        sign.push(image.clone());
        let sign: Vec<&str> = sign.iter().map(String::as_str).collect();
        assert_success(&env.run(&sign), "keyless sign");
        let mut scan = [
            "scan",
            "--offline",
            "--db",
            path_str(&env.db),
            "-q",
            "--format",
            "json",
            "--attest",
        ]
        .map(str::to_owned)
        .to_vec();
        scan.extend(keyless(token));
        scan.push(image.clone());
        let scan: Vec<&str> = scan.iter().map(String::as_str).collect();
        assert_success(&env.run(&scan), "keyless scan --attest");
    }
    // The counts the alert must carry: the scan's own, read back with verify-attestation's
    // view of the same report.
    let report = env.run(&[
        "scan",
        "--offline",
        "--db",
        path_str(&env.db),
        "--format",
        "json",
        &ours,
    ]);
    let report: Value =
        serde_json::from_slice(&report.stdout).unwrap_or_else(|e| panic!("report: {e}"));
    let count = |severity: &str| {
        report["results"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["vulnerabilities"].as_array().into_iter().flatten())
            .filter(|v| v["severity"] == severity)
            .count()
    };

    let container = |id: &str, image: &str, digest: &Digest| {
        serde_json::json!({"kind": "container", "id": id, "name": id, "image": image,
                           "image_digest": digest.to_string()})
        .to_string()
    };
    let shell = |pid: u32, ts: u64, id: &str| {
        format!(
            "{{\"kind\":\"process\",\"pid\":{runc},\"ppid\":1,\"name\":\"runc\",\"exepath\":\"/usr/bin/runc\",\"container_id\":\"{id}\"}}\n\
             {{\"type\":\"clone\",\"ts\":{ts},\"pid\":{runc},\"res\":{pid}}}\n\
             {{\"type\":\"execve\",\"ts\":{},\"pid\":{pid},\"res\":0,\"proc\":{{\"name\":\"bash\",\"exepath\":\"/bin/bash\",\"tty\":34816,\"user\":\"root\",\"uid\":0}}}}",
            ts + 100,
            runc = pid - 1,
        )
    };
    let events = [
        r#"{"kind":"header","format":"sealwatch-events","version":1,"hostname":"node-1"}"#
            .to_owned(),
        container("aaaaaaaaaaaa", &ours, &ours_digest),
        container("bbbbbbbbbbbb", &theirs, &theirs_digest),
        shell(4201, 1_714_564_800_000_000_000, "aaaaaaaaaaaa"),
        shell(4301, 1_714_564_801_000_000_000, "bbbbbbbbbbbb"),
    ]
    .join("\n");
    let replay = env.path("events.jsonl");
    std::fs::write(&replay, events + "\n").unwrap_or_else(|e| panic!("{e}"));

    let out = env.run(&[
        "watch",
        "-r",
        path_str(&rules),
        "--replay",
        path_str(&replay),
        "--output",
        "json",
        "--verify-certificate-identity",
        SUBJECT,
        "--verify-certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        path_str(&root),
    ]);
    assert_eq!(out.status.code(), Some(1), "alerts: {}", text(&out.stderr));
    let alerts: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("alert is JSON: {e}: {l}")))
        .filter(|a: &Value| a["rule"] == "Terminal shell in container")
        .collect();
    let fields_at = |second: &str| {
        alerts
            .iter()
            .find(|a| a["time"].as_str().is_some_and(|t| t.contains(second)))
            .unwrap_or_else(|| panic!("no shell alert at {second}: {}", text(&out.stdout)))
            ["output_fields"]
            .clone()
    };
    let fields = fields_at("12:00:00");
    assert_eq!(fields["sealwatch.image.digest"], ours_digest.to_string());
    assert_eq!(fields["sealwatch.signature"], "verified");
    assert_eq!(fields["sealwatch.signer"], SUBJECT);
    assert_eq!(fields["sealwatch.signer.issuer"], ISSUER);
    assert_eq!(fields["sealwatch.cves.critical"], count("CRITICAL"));
    assert_eq!(fields["sealwatch.cves.high"], count("HIGH"));

    let fields = fields_at("12:00:01");
    assert_eq!(fields["sealwatch.image.digest"], theirs_digest.to_string());
    assert_eq!(fields["sealwatch.signature"], "unverified", "signed by bob");
    assert_eq!(fields["sealwatch.signer"], Value::Null);
    assert_eq!(fields["sealwatch.signer.issuer"], Value::Null);
    assert_eq!(
        fields["sealwatch.cves.critical"],
        Value::Null,
        "bob's scan does not count"
    );

    // Half a keyless identity is an error naming the missing flag.
    let out = env.run(&[
        "watch",
        "-r",
        path_str(&rules),
        "--replay",
        path_str(&replay),
        "--verify-certificate-identity",
        SUBJECT,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--verify-certificate-oidc-issuer"),
        "{}",
        text(&out.stderr)
    );
}

//! `sealwatch db update|status|push|pull` and a scan's automatic download, end to end: a real HTTP server on
//! 127.0.0.1 serves OSV zips the test builds, and a real registry stores the database artifact.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sealwatch_test::http::FileServer;
use sealwatch_test::registry::TestRegistry;
use serde_json::Value;

fn sealwatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealwatch"));
    cmd.env(
        "SEALWATCH_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("sealwatch-cache"),
    )
    // Never the real feeds: every download in these tests names a loopback server.
    .env("SEALWATCH_DB_BASE_URL", "http://127.0.0.1:9/unused")
    .env_remove("SEALWATCH_DB")
    .env_remove("SEALWATCH_DB_ECOSYSTEMS")
    .env_remove("SEALWATCH_DB_MAX_AGE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("run sealwatch: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn osv(id: &str, eco: &str, name: &str, fixed: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z","aliases":["CVE-{id}"],"affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
    )
}

fn zip_of(records: &[(&str, String)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in records {
        zip.start_file(format!("{name}.json"), options)
            .unwrap_or_else(|e| panic!("zip: {e}"));
        zip.write_all(body.as_bytes())
            .unwrap_or_else(|e| panic!("zip: {e}"));
    }
    zip.finish().unwrap_or_else(|e| panic!("zip: {e}"));
    out.into_inner()
}

fn debian_zip() -> Vec<u8> {
    zip_of(&[
        (
            "DEBIAN-2024-0001",
            osv(
                "DEBIAN-2024-0001",
                "Debian:12",
                "openssl",
                "3.0.13-1~deb12u1",
            ),
        ),
        (
            "DEBIAN-2024-0002",
            osv("DEBIAN-2024-0002", "Debian:12", "openssl", "3.0.9-1"),
        ),
    ])
}

/// A Debian 12 root filesystem with one package, `libssl3` built from `openssl` 3.0.11-1~deb12u2.
fn debian_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(&root))
            .unwrap_or_else(|e| panic!("mkdir: {e}"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    };
    write(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
    );
    write(
        "var/lib/dpkg/status",
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n",
    );
    root
}

fn finding_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["vulnerabilities"].as_array().into_iter().flatten())
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn sha256_file(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .to_vec()
}

#[test]
fn first_scan_downloads_the_database_then_refreshes_it_conditionally() {
    let server = FileServer::start().unwrap_or_else(|e| panic!("server: {e}"));
    server.put("/Debian/all.zip", debian_zip());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let rootfs = debian_rootfs(dir.path());
    let db = dir.path().join("cache/advisories.redb");
    let base = server.base_url();
    let env = [
        ("SEALWATCH_DB_BASE_URL", base.as_str()),
        ("SEALWATCH_DB_ECOSYSTEMS", "Debian"),
    ];
    let image = format!("rootfs:{}", rootfs.display());
    let db_arg = db.to_str().unwrap_or_default();

    // Offline with no database: a clear error that says how to get one, and no download.
    let out = sealwatch(&["scan", "--offline", "--db", db_arg, &image], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    for hint in ["--offline", "db update", "db pull", "db import"] {
        assert!(message.contains(hint), "missing {hint:?} in: {message}");
    }
    assert!(server.log().is_empty(), "offline touched the network");
    assert!(!db.exists());

    // Online: the first scan downloads the database, then finds the one affecting version.
    let out = sealwatch(&["scan", "--format", "json", "--db", db_arg, &image], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("downloading"), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(finding_ids(&report), ["CVE-DEBIAN-2024-0001"]);
    assert_eq!(server.log().len(), 1);

    // A fresh database is used as it is: no request.
    server.clear_log();
    let out = sealwatch(&["scan", "-q", "--db", db_arg, &image], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(server.log().is_empty(), "{:?}", server.log());

    // Older than --db-max-age: offline only warns; online asks the server conditionally (304).
    let out = sealwatch(
        &[
            "scan",
            "-q",
            "--offline",
            "--db-max-age",
            "0s",
            "--db",
            db_arg,
            &image,
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("--db-max-age"), "{}", stderr(&out));
    assert!(server.log().is_empty());
    let out = sealwatch(
        &["scan", "-q", "--db-max-age", "0s", "--db", db_arg, &image],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = server.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].conditional && log[0].status == 304, "{log:?}");

    // `db status` shows the source, its hash, validators and age.
    let out = sealwatch(&["db", "status", "--json", "--db", db_arg], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let source = &status["sources"][0];
    assert_eq!(
        source["location"].as_str(),
        Some(format!("{base}/Debian/all.zip").as_str())
    );
    assert_eq!(source["records"], 2);
    assert!(source["etag"].is_string() && source["sha256"].as_str().map(str::len) == Some(64));
    let out = sealwatch(&["db", "status", "--db", db_arg], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Refreshed:") && text.contains("ETag"),
        "{text}"
    );
}

#[test]
fn update_with_a_corrupt_zip_exits_2_naming_the_url_and_keeps_the_old_database() {
    let server = FileServer::start().unwrap_or_else(|e| panic!("server: {e}"));
    server.put("/Debian/all.zip", debian_zip());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = dir.path().join("advisories.redb");
    let db_arg = db.to_str().unwrap_or_default();
    let base = server.base_url();
    let update = |extra: &[&str]| {
        let mut args = vec!["db", "update", "--db", db_arg, "--base-url", &base];
        args.extend_from_slice(extra);
        sealwatch(&args, &[])
    };
    let out = update(&["--ecosystems", "Debian"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = sha256_file(&db);

    server.put("/Debian/all.zip", b"PK\x03\x04 not a zip at all".to_vec());
    let out = update(&["--ecosystems", "Debian"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{base}/Debian/all.zip")),
        "{}",
        stderr(&out)
    );
    assert_eq!(sha256_file(&db), before, "old database intact");

    // Unknown ecosystem and malformed --source: usage errors, nothing fetched.
    server.clear_log();
    let out = update(&["--ecosystems", "Debain"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Debain"), "{}", stderr(&out));
    let out = update(&["--source", "Debian"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ECOSYSTEM=URL"), "{}", stderr(&out));
    assert!(server.log().is_empty());
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mounted = is_root
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
        if !mounted {
            let msg = "cannot mount a tmpfs (needs root) for the disk-full test";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}; CI is set, so this is a failure, not a skip");
            }
            eprintln!("skipping: {msg}");
            return None;
        }
        Some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_during_update_keeps_the_old_database() {
    let Some(tmpfs) = Tmpfs::mount("4m") else {
        return;
    };
    let server = FileServer::start().unwrap_or_else(|e| panic!("server: {e}"));
    server.put("/Debian/all.zip", debian_zip());
    let db = tmpfs.dir.path().join("advisories.redb");
    let db_arg = db.to_str().unwrap_or_default();
    let base = server.base_url();
    let args = [
        "db",
        "update",
        "--db",
        db_arg,
        "--base-url",
        &base,
        "--ecosystems",
        "Debian",
    ];
    let out = sealwatch(&args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = sha256_file(&db);

    // Many records with incompressible text: far more than the tmpfs can hold.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let records: Vec<(String, String)> = (0..3000)
        .map(|i| {
            let noise: String = (0..2000)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    char::from(b'a' + (seed % 26) as u8)
                })
                .collect();
            let id = format!("DEBIAN-BIG-{i}");
            let record = osv(&id, "Debian:12", &format!("pkg{i}"), "1.0-1").replacen(
                "\"modified\"",
                &format!("\"details\":\"{noise}\",\"modified\""),
                1,
            );
            (id, record)
        })
        .collect();
    let refs: Vec<(&str, String)> = records
        .iter()
        .map(|(id, r)| (id.as_str(), r.clone()))
        .collect();
    server.put("/Debian/all.zip", zip_of(&refs));
    let out = sealwatch(&args, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sha256_file(&db), before, "old database intact");
    let out = sealwatch(&["db", "status", "--json", "--db", db_arg], &[]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(status["records"], 2, "{}", stderr(&out));
}

#[test]
fn push_and_pull_the_database_through_a_real_registry() {
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-advisories/osv");
    let db = dir.path().join("built/advisories.redb");
    let out = sealwatch(
        &[
            "db",
            "import",
            "--db",
            db.to_str().unwrap_or_default(),
            sample.to_str().unwrap_or_default(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("warning"),
        "sample imports cleanly: {}",
        stderr(&out)
    );
    let reference = format!("{}/security/sealwatch-db:latest", registry.host());
    let out = sealwatch(
        &[
            "db",
            "push",
            &reference,
            "--db",
            db.to_str().unwrap_or_default(),
        ],
        &[],
    );
    assert!(out.status.success(), "push: {}", stderr(&out));

    let pulled = dir.path().join("runner/advisories.redb");
    let out = sealwatch(
        &[
            "db",
            "pull",
            &reference,
            "--db",
            pulled.to_str().unwrap_or_default(),
        ],
        &[],
    );
    assert!(out.status.success(), "pull: {}", stderr(&out));
    assert_eq!(
        sha256_file(&pulled),
        sha256_file(&db),
        "the same bytes arrive"
    );
    let status = |p: &Path| -> Value {
        let out = sealwatch(
            &[
                "db",
                "status",
                "--json",
                "--db",
                p.to_str().unwrap_or_default(),
            ],
            &[],
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    assert_eq!(status(&pulled)["records"], 23);

    // An image that is not a database artifact is refused, and the installed database is kept.
    let client = sealwatch_oci::registry::RegistryClient::new(Default::default())
        .unwrap_or_else(|e| panic!("client: {e}"));
    let not_db: sealwatch_oci::Reference =
        format!("{}/security/sealwatch-db:not-a-db", registry.host())
            .parse()
            .unwrap_or_else(|e| panic!("reference: {e}"));
    let config = b"{}".to_vec();
    let config_digest = sealwatch_oci::Digest::sha256_of(&config);
    client
        .push_blob(
            &not_db,
            &config_digest,
            &sealwatch_oci::registry::BlobContent::Bytes(config.clone().into()),
        )
        .unwrap_or_else(|e| panic!("push config: {e}"));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": 2},
        "layers": [],
    });
    client
        .push_manifest(
            &not_db,
            &serde_json::to_vec(&manifest).unwrap_or_default(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap_or_else(|e| panic!("push manifest: {e}"));
    let before = sha256_file(&pulled);
    let out = sealwatch(
        &[
            "db",
            "pull",
            &not_db.to_string(),
            "--db",
            pulled.to_str().unwrap_or_default(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a sealwatch database artifact"),
        "{}",
        stderr(&out)
    );

    // A database artifact from a newer schema is refused before its layer is downloaded.
    let newer: sealwatch_oci::Reference =
        format!("{}/security/sealwatch-db:from-the-future", registry.host())
            .parse()
            .unwrap_or_else(|e| panic!("reference: {e}"));
    let fetched = client
        .fetch_manifest(
            &reference
                .parse()
                .unwrap_or_else(|e| panic!("reference: {e}")),
        )
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    let mut manifest: Value = serde_json::from_slice(&fetched.bytes).unwrap_or(Value::Null);
    manifest["annotations"]["dev.sealwatch.db.schema-version"] = Value::from("99");
    client
        .push_manifest(
            &newer,
            &serde_json::to_vec(&manifest).unwrap_or_default(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap_or_else(|e| panic!("push manifest: {e}"));
    let out = sealwatch(
        &[
            "db",
            "pull",
            &newer.to_string(),
            "--db",
            pulled.to_str().unwrap_or_default(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("schema version 99"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sha256_file(&pulled), before, "installed database kept");
}

#[test]
fn an_update_killed_mid_download_loses_nothing() {
    let server = FileServer::start().unwrap_or_else(|e| panic!("server: {e}"));
    server.put("/Debian/all.zip", debian_zip());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = dir.path().join("advisories.redb");
    let db_arg = db.to_str().unwrap_or_default();
    let base = server.base_url();
    let args = [
        "db",
        "update",
        "--db",
        db_arg,
        "--base-url",
        &base,
        "--ecosystems",
        "Debian",
    ];
    let out = sealwatch(&args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = sha256_file(&db);

    // A new, larger archive served slowly; kill the update while it downloads.
    let records: Vec<(String, String)> = (0..2000)
        .map(|i| {
            let id = format!("DEBIAN-NEW-{i}");
            let record = osv(&id, "Debian:12", &format!("pkg{i}"), "1.0-1");
            (id, record)
        })
        .collect();
    let refs: Vec<(&str, String)> = records
        .iter()
        .map(|(id, r)| (id.as_str(), r.clone()))
        .collect();
    server.put("/Debian/all.zip", zip_of(&refs));
    server.throttle(Some(std::time::Duration::from_millis(200)));
    server.clear_log();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    // Wait (bounded) until the download has started, then a little longer so bytes are on disk.
    for _ in 0..200 {
        if !server.log().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let still_running = child.try_wait().ok().flatten().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        still_running,
        "the update finished before it could be killed"
    );
    assert_eq!(sha256_file(&db), before, "old database intact");
    let out = sealwatch(&["db", "status", "--json", "--db", db_arg], &[]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(status["records"], 2, "{}", stderr(&out));

    // The next update completes and clears the killed one's partial download.
    server.throttle(None);
    let out = sealwatch(&args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let partial: Vec<String> = std::fs::read_dir(dir.path().join("advisories.redb.archives"))
        .unwrap_or_else(|e| panic!("read_dir: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
    let out = sealwatch(&["db", "status", "--json", "--db", db_arg], &[]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(status["records"], 2000);
}

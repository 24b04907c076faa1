//! `db update` against a real HTTP server on 127.0.0.1 that serves zips the test builds: conditional
//! requests, archive reuse, atomic rebuilds, and damaged downloads.

use std::io::Write;
use std::path::Path;

use sealwatch_db::update::{self, Quiet, UpdateSource};
use sealwatch_db::AdvisoryDb;
use sealwatch_test::http::{FileServer, Served};
use sha2::{Digest, Sha256};

fn osv(id: &str, eco: &str, name: &str, fixed: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
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

fn sources(server: &FileServer, ecosystems: &[&str]) -> Vec<UpdateSource> {
    let names: Vec<String> = ecosystems.iter().map(|e| (*e).to_owned()).collect();
    update::sources(&server.base_url(), &names, &[]).unwrap_or_else(|e| panic!("sources: {e}"))
}

fn ids(db: &Path, eco: &str, name: &str) -> Vec<String> {
    let mut ids: Vec<String> = AdvisoryDb::open(db)
        .unwrap_or_else(|e| panic!("open: {e}"))
        .lookup(eco, name)
        .unwrap_or_else(|e| panic!("lookup: {e}"))
        .into_iter()
        .map(|v| v.id)
        .collect();
    ids.sort();
    ids
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    ))
}

#[test]
fn downloads_then_asks_conditionally_and_rebuilds_only_on_change() {
    let server = FileServer::start().unwrap_or_else(|e| panic!("server: {e}"));
    let debian_v1 = zip_of(&[(
        "DEBIAN-CVE-2024-1",
        osv(
            "DEBIAN-CVE-2024-1",
            "Debian:12",
            "openssl",
            "3.0.14-1~deb12u1",
        ),
    )]);
    server.put("/Debian/all.zip", debian_v1.clone());
    server.put(
        "/Red Hat/all.zip",
        zip_of(&[(
            "RHSA-2024:1",
            osv(
                "RHSA-2024:1",
                "Red Hat:enterprise_linux:9::baseos",
                "openssl",
                "1:3.0.7-27.el9",
            ),
        )]),
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = dir.path().join("advisories.redb");
    let srcs = sources(&server, &["Debian", "Red Hat"]);

    // First update: plain GETs, everything imported.
    let report = update::update(&db, &srcs, &Quiet).unwrap_or_else(|e| panic!("update: {e}"));
    assert!(report.rebuilt);
    assert_eq!(report.changed.len(), 2);
    assert!(server
        .log()
        .iter()
        .all(|s| !s.conditional && s.status == 200));
    assert_eq!(ids(&db, "Debian:12", "openssl"), ["DEBIAN-CVE-2024-1"]);
    assert_eq!(ids(&db, "Red Hat", "openssl"), ["RHSA-2024:1"]);
    let status = AdvisoryDb::open(&db)
        .unwrap_or_else(|e| panic!("open: {e}"))
        .status()
        .unwrap_or_else(|e| panic!("status: {e}"));
    let debian = status
        .sources
        .iter()
        .find(|s| s.location.ends_with("/Debian/all.zip"))
        .unwrap_or_else(|| panic!("Debian source recorded: {status:?}"));
    assert_eq!(debian.sha256, hex::encode(Sha256::digest(&debian_v1)));
    assert!(debian.etag.is_some() && debian.last_modified.is_some());
    assert_eq!(debian.records, 1);
    assert!(debian.fetched_at.is_some());
    let archive = update::archive_dir(&db).join(debian.archive.as_deref().unwrap_or_default());
    assert_eq!(sha256_file(&archive), debian.sha256, "archive kept");

    // Second update, nothing changed: conditional requests, 304s, and the database is not rewritten.
    server.clear_log();
    let before = sha256_file(&db);
    let report = update::update(&db, &srcs, &Quiet).unwrap_or_else(|e| panic!("update: {e}"));
    assert!(!report.rebuilt);
    assert_eq!(report.unchanged.len(), 2);
    assert_eq!(
        server.log(),
        vec![
            Served {
                path: "/Debian/all.zip".into(),
                status: 304,
                conditional: true
            },
            Served {
                path: "/Red Hat/all.zip".into(),
                status: 304,
                conditional: true
            },
        ]
    );
    assert_eq!(sha256_file(&db), before, "database untouched");

    // Debian changes: only Debian is downloaded; Red Hat comes from the kept archive.
    server.put(
        "/Debian/all.zip",
        zip_of(&[
            (
                "DEBIAN-CVE-2024-1",
                osv(
                    "DEBIAN-CVE-2024-1",
                    "Debian:12",
                    "openssl",
                    "3.0.14-1~deb12u1",
                ),
            ),
            (
                "DEBIAN-CVE-2024-2",
                osv(
                    "DEBIAN-CVE-2024-2",
                    "Debian:12",
                    "openssl",
                    "3.0.15-1~deb12u1",
                ),
            ),
        ]),
    );
    server.clear_log();
    let report = update::update(&db, &srcs, &Quiet).unwrap_or_else(|e| panic!("update: {e}"));
    assert!(report.rebuilt);
    assert_eq!(report.changed.len(), 1);
    let statuses: Vec<u16> = server.log().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 304]);
    assert_eq!(
        ids(&db, "Debian:12", "openssl"),
        ["DEBIAN-CVE-2024-1", "DEBIAN-CVE-2024-2"]
    );
    assert_eq!(ids(&db, "Red Hat", "openssl"), ["RHSA-2024:1"]);
    // The replaced Debian archive was removed; exactly the two current ones remain.
    let zips = std::fs::read_dir(update::archive_dir(&db))
        .unwrap_or_else(|e| panic!("read_dir: {e}"))
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".zip"))
        .count();
    assert_eq!(zips, 2);
}

#[test]
fn a_damaged_download_leaves_the_old_database_and_names_the_url() {
    let server = FileServer::start().unwrap_or_else(|e| panic!("server: {e}"));
    server.put(
        "/PyPI/all.zip",
        zip_of(&[("PYSEC-1", osv("PYSEC-1", "PyPI", "django", "4.2.1"))]),
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = dir.path().join("advisories.redb");
    let srcs = sources(&server, &["PyPI"]);
    update::update(&db, &srcs, &Quiet).unwrap_or_else(|e| panic!("update: {e}"));
    let before = sha256_file(&db);

    server.put("/PyPI/all.zip", b"PK\x03\x04 truncated, not a zip".to_vec());
    let err = update::update(&db, &srcs, &Quiet).expect_err("a damaged zip fails the update");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}/PyPI/all.zip", server.base_url())),
        "{message}"
    );
    assert_eq!(sha256_file(&db), before, "old database intact");
    assert_eq!(ids(&db, "PyPI", "Django"), ["PYSEC-1"]);
    let leftovers: Vec<String> = std::fs::read_dir(update::archive_dir(&db))
        .unwrap_or_else(|e| panic!("read_dir: {e}"))
        .chain(std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("read_dir: {e}")))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files removed: {leftovers:?}"
    );

    // A missing archive on the server is an HTTP error naming the URL, too.
    let err =
        update::update(&db, &sources(&server, &["npm"]), &Quiet).expect_err("404 fails the update");
    assert!(
        err.to_string().contains("/npm/all.zip") && err.to_string().contains("404"),
        "{err}"
    );
}

#[test]
fn sources_check_ecosystems_and_urls() {
    let ok = update::sources(
        "https://mirror.example/osv/",
        &["Rocky Linux".to_owned(), "crates.io".to_owned()],
        &[("Go".to_owned(), "http://127.0.0.1:1/go.zip".to_owned())],
    )
    .unwrap_or_else(|e| panic!("sources: {e}"));
    let urls: Vec<&str> = ok.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://mirror.example/osv/Rocky%20Linux/all.zip",
            "https://mirror.example/osv/crates.io/all.zip",
            "http://127.0.0.1:1/go.zip"
        ]
    );
    let err = update::sources("https://x", &["Debain".to_owned()], &[]).expect_err("typo refused");
    assert!(err.to_string().contains("Debain"), "{err}");
    let err = update::sources("file:///srv/osv", &["Debian".to_owned()], &[])
        .expect_err("file URL refused");
    assert!(err.to_string().contains("file:///srv/osv"), "{err}");
    for eco in update::DEFAULT_ECOSYSTEMS {
        update::sources("https://x", &[(*eco).to_owned()], &[])
            .unwrap_or_else(|e| panic!("default ecosystem {eco}: {e}"));
    }
}

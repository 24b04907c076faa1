//! End to end on real data: the 2019 `alpine:3.9` (3.9.4) and `alpine:3.10` (3.10.2) images
//! from Trivy's repository against the Alpine secdb of the same period.
//!
//! The test reads `lib/apk/db/installed` out of each docker-archive itself (a plain
//! gzip + tar walk; cataloguing is another crate's job), imports both secdb files of the
//! image's branch, matches, and compares with a hand-derived expectation.

use std::collections::BTreeSet;
use std::io::Read;

use sealwatch_advisory::matching::{AdvisoryIndex, InstalledPackage};
use sealwatch_advisory::secdb;

/// `lib/apk/db/installed` of the image's (last) layer that has one.
fn installed_db(archive: &std::path::Path) -> String {
    let file =
        std::fs::File::open(archive).unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
    let mut outer = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut found = None;
    for entry in outer
        .entries()
        .unwrap_or_else(|e| panic!("{}: {e}", archive.display()))
    {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !path.ends_with("layer.tar") {
            continue;
        }
        let mut layer = tar::Archive::new(entry);
        for inner in layer.entries().unwrap_or_else(|e| panic!("{path}: {e}")) {
            let mut inner = inner.unwrap_or_else(|e| panic!("{path}: {e}"));
            let name = inner
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.trim_start_matches("./") == "lib/apk/db/installed" {
                let mut text = String::new();
                inner
                    .read_to_string(&mut text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                found = Some(text);
            }
        }
    }
    found.unwrap_or_else(|| panic!("{}: no lib/apk/db/installed", archive.display()))
}

/// The apk database's `P:` / `V:` / `o:` fields, one package per blank-line-separated block.
fn packages(db: &str, release: &str) -> Vec<InstalledPackage> {
    let mut out = Vec::new();
    for block in db.split("\n\n") {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_owned)
        };
        let (Some(name), Some(version)) = (field("P:"), field("V:")) else {
            continue;
        };
        out.push(InstalledPackage {
            name,
            version,
            ecosystem: format!("Alpine:{release}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            source_name: field("o:"),
            source_version: None,
        });
    }
    out
}

fn run(image: &str, release: &str) -> Option<BTreeSet<(String, String, String)>> {
    let archive = sealwatch_test::require_shared(&format!("fixtures/images/{image}"))?;
    let mut vulns = Vec::new();
    for repo in ["main", "community"] {
        let rel = format!("fixtures/advisories/alpine-secdb/{release}/{repo}.yaml");
        let path = sealwatch_test::require_shared(&rel)?;
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let (db, _diagnostics) = secdb::parse(&rel, &text).unwrap_or_else(|e| panic!("{e}"));
        vulns.extend(db.to_osv());
    }
    let index = AdvisoryIndex::new(vulns);
    let pkgs = packages(&installed_db(&archive), release);
    assert_eq!(pkgs.len(), 14, "{image}: the image has 14 apk packages");
    let (findings, diagnostics) = index.match_packages(&pkgs);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    // Each CVE is reported once per package.
    let mut seen = BTreeSet::new();
    for f in &findings {
        assert!(
            seen.insert((f.package_name.clone(), f.id.clone())),
            "duplicate finding {f:?}"
        );
        assert_eq!(f.fixed_versions.len(), 1, "{f:?}");
    }
    Some(
        findings
            .into_iter()
            .map(|f| {
                (
                    f.package_name,
                    f.id,
                    f.fixed_versions.into_iter().next().unwrap_or_default(),
                )
            })
            .collect(),
    )
}

fn set(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(p, i, v)| (p.to_string(), i.to_string(), v.to_string()))
        .collect()
}

/// alpine 3.9.4 against the v3.9 secdb. Derivation, origin by origin (installed version ->
/// secfixes entries of that origin in `v3.9/main.yaml`; `community.yaml` names none of them):
/// - musl 1.1.20-r4 (musl, musl-utils): 1.1.20-r5 CVE-2019-14697 -> affected (r4 < r5);
///   1.1.15-r4 CVE-2016-8859 -> fixed long before.
/// - openssl 1.1.1b-r1 (libcrypto1.1, libssl1.1): 1.1.1d-r0 CVE-2019-1547, -1549, -1563 ->
///   affected (b < d); 1.1.1b-r1 CVE-2019-1543 -> not (installed = fix); 1.1.1a-r0 -> not.
/// - busybox 1.29.3-r10 (busybox, ssl_client): 1.29.3-r10 CVE-2018-20679, CVE-2019-5747 ->
///   not (installed = fix); 1.27.2-r4 -> not.
/// - alpine-baselayout, alpine-keys, ca-certificates, libtls-standalone, zlib, apk-tools,
///   pax-utils (scanelf), libc-dev (libc-utils): no secdb entry.
#[test]
fn alpine_3_9_4() {
    let Some(found) = run("alpine-3.9.4.docker-archive.tar.gz", "v3.9") else {
        return;
    };
    let expected = set(&[
        ("musl", "CVE-2019-14697", "1.1.20-r5"),
        ("musl-utils", "CVE-2019-14697", "1.1.20-r5"),
        ("libcrypto1.1", "CVE-2019-1547", "1.1.1d-r0"),
        ("libcrypto1.1", "CVE-2019-1549", "1.1.1d-r0"),
        ("libcrypto1.1", "CVE-2019-1563", "1.1.1d-r0"),
        ("libssl1.1", "CVE-2019-1547", "1.1.1d-r0"),
        ("libssl1.1", "CVE-2019-1549", "1.1.1d-r0"),
        ("libssl1.1", "CVE-2019-1563", "1.1.1d-r0"),
    ]);
    assert_eq!(found, expected);
}

/// alpine 3.10.2 against the v3.10 secdb. Derivation as above, from `v3.10/main.yaml`
/// (`community.yaml` names none of the image's origins):
/// - openssl 1.1.1c-r0 (libcrypto1.1, libssl1.1): 1.1.1d-r0 CVE-2019-1547, -1549, -1563 ->
///   affected (c < d); 1.1.1b-r1 and 1.1.1a-r0 -> not.
/// - musl 1.1.22-r3: 1.1.22-r3 CVE-2019-14697 -> not (installed = fix).
/// - busybox 1.30.1-r2: 1.30.1-r2 CVE-2019-5747 -> not (installed = fix); the same CVE is also
///   listed under 1.29.3-r10, which is lower -> still not; 1.27.2-r4 -> not.
/// - the other origins: no secdb entry.
#[test]
fn alpine_3_10_2() {
    let Some(found) = run("alpine-3.10.2.docker-archive.tar.gz", "v3.10") else {
        return;
    };
    let expected = set(&[
        ("libcrypto1.1", "CVE-2019-1547", "1.1.1d-r0"),
        ("libcrypto1.1", "CVE-2019-1549", "1.1.1d-r0"),
        ("libcrypto1.1", "CVE-2019-1563", "1.1.1d-r0"),
        ("libssl1.1", "CVE-2019-1547", "1.1.1d-r0"),
        ("libssl1.1", "CVE-2019-1549", "1.1.1d-r0"),
        ("libssl1.1", "CVE-2019-1563", "1.1.1d-r0"),
    ]);
    assert_eq!(found, expected);
}

/// The v3.9 image matched against the v3.10 secdb finds nothing: advisories carry their
/// release and must not leak into another branch.
#[test]
fn other_release_does_not_match() {
    let Some(archive) =
        sealwatch_test::require_shared("fixtures/images/alpine-3.9.4.docker-archive.tar.gz")
    else {
        return;
    };
    let Some(path) =
        sealwatch_test::require_shared("fixtures/advisories/alpine-secdb/v3.10/main.yaml")
    else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let (db, _) = secdb::parse("v3.10/main.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let index = AdvisoryIndex::new(db.to_osv());
    let db = installed_db(&archive);
    let (findings, _) = index.match_packages(&packages(&db, "v3.9"));
    assert!(findings.is_empty(), "{findings:?}");
    // Control: the same packages declared as v3.10 do match the v3.10 advisories.
    let (findings, _) = index.match_packages(&packages(&db, "v3.10"));
    assert!(!findings.is_empty());
}

/// Negative control: the last patch releases of the same branches (minirootfs databases from
/// `fixtures/pkgdb/apk/`) against the same secdb. Reading the advisories: in 3.9.6 musl is
/// 1.1.20-r5 (= the CVE-2019-14697 fix), openssl 1.1.1g-r0 (above 1.1.1d-r0), busybox
/// 1.29.3-r10 (= its fix); in 3.10.9 musl 1.1.22-r4, openssl 1.1.1k-r0 and busybox 1.30.1-r5
/// are all above every fix listed for them; no other origin has an entry. So: no findings.
#[test]
fn later_patch_releases_are_clean() {
    for (db_file, release) in [("installed-3.9.6", "v3.9"), ("installed-3.10.9", "v3.10")] {
        let Some(db_path) =
            sealwatch_test::require_shared(&format!("fixtures/pkgdb/apk/{db_file}"))
        else {
            return;
        };
        let db = std::fs::read_to_string(&db_path)
            .unwrap_or_else(|e| panic!("{}: {e}", db_path.display()));
        let mut vulns = Vec::new();
        for repo in ["main", "community"] {
            let rel = format!("fixtures/advisories/alpine-secdb/{release}/{repo}.yaml");
            let Some(path) = sealwatch_test::require_shared(&rel) else {
                return;
            };
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
            vulns.extend(
                secdb::parse(&rel, &text)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .0
                    .to_osv(),
            );
        }
        let index = AdvisoryIndex::new(vulns);
        let pkgs = packages(&db, release);
        assert_eq!(pkgs.len(), 14, "{db_file}");
        let (findings, diagnostics) = index.match_packages(&pkgs);
        assert!(
            findings.is_empty() && diagnostics.is_empty(),
            "{db_file}: {findings:?} {diagnostics:?}"
        );
    }
}

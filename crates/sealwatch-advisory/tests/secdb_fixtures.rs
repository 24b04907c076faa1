//! The 2019 Alpine secdb files in `shared/fixtures/advisories/alpine-secdb`, parsed whole.

use sealwatch_advisory::secdb::{self, SecDb};

fn load(rel: &str) -> Option<(SecDb, Vec<secdb::Diagnostic>)> {
    let path = sealwatch_test::require_shared(&format!("fixtures/advisories/alpine-secdb/{rel}"))?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(secdb::parse(rel, &text).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

fn ids_of<'a>(db: &'a SecDb, pkg: &str, version: &str) -> Vec<&'a str> {
    db.packages
        .iter()
        .filter(|p| p.name == pkg)
        .flat_map(|p| &p.secfixes)
        .filter(|(v, _)| v == version)
        .flat_map(|(_, ids)| ids.iter().map(String::as_str))
        .collect()
}

#[test]
fn counts_match_the_fixture_readme() {
    // (file, distroversion, reponame, packages) from the fixture README's table.
    for (file, release, repo, packages) in [
        ("v3.9/main.yaml", "v3.9", "main", 161),
        ("v3.9/community.yaml", "v3.9", "community", 58),
        ("v3.10/main.yaml", "v3.10", "main", 166),
        ("v3.10/community.yaml", "v3.10", "community", 73),
    ] {
        let Some((db, _)) = load(file) else { return };
        assert_eq!(db.distroversion, release, "{file}");
        assert_eq!(db.reponame, repo, "{file}");
        assert_eq!(db.packages.len(), packages, "{file}");
        assert_eq!(db.ecosystem(), format!("Alpine:{release}"));
    }
}

#[test]
fn known_entries_and_quirks() {
    let Some((main310, diags)) = load("v3.10/main.yaml") else {
        return;
    };
    assert_eq!(
        ids_of(&main310, "openssl", "1.1.1d-r0"),
        ["CVE-2019-1547", "CVE-2019-1549", "CVE-2019-1563"]
    );
    assert_eq!(ids_of(&main310, "musl", "1.1.22-r3"), ["CVE-2019-14697"]);
    // Every diagnostic names a position inside the file.
    let lines = sealwatch_test::require_shared("fixtures/advisories/alpine-secdb/v3.10/main.yaml")
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| t.lines().count())
                .unwrap_or(0)
        })
        .unwrap_or(0);
    for d in &diags {
        assert!(d.line >= 1 && d.line <= lines && d.column >= 1, "{d}");
        assert_eq!(d.origin, "v3.10/main.yaml");
    }

    // `CVE 2018-16859` (a space for the dash) is read as the CVE, with a diagnostic on its line.
    let Some((main39, diags39)) = load("v3.9/main.yaml") else {
        return;
    };
    let all39: Vec<&str> = main39
        .packages
        .iter()
        .flat_map(|p| &p.secfixes)
        .flat_map(|(_, i)| i)
        .map(String::as_str)
        .collect();
    assert!(all39.contains(&"CVE-2018-16859"));
    let text39 = std::fs::read_to_string(
        sealwatch_test::require_shared("fixtures/advisories/alpine-secdb/v3.9/main.yaml")
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let typo_line = text39
        .lines()
        .position(|l| l.contains("CVE 2018-16859"))
        .map(|i| i + 1);
    let d = diags39
        .iter()
        .find(|d| d.message.contains("CVE 2018-16859"))
        .unwrap_or_else(|| panic!("no diagnostic for the typo"));
    assert_eq!(Some(d.line), typo_line, "{d}");
    // Strings with two IDs give both; free text after an ID is dropped.
    assert!(all39.iter().any(|i| i.starts_with("XSA-")));
    assert!(!all39.iter().any(|i| i.contains(' ') || i.contains('(')));

    // `CVE_2019-2426` in both community files.
    for file in ["v3.9/community.yaml", "v3.10/community.yaml"] {
        let Some((db, diags)) = load(file) else {
            return;
        };
        let all: Vec<&str> = db
            .packages
            .iter()
            .flat_map(|p| &p.secfixes)
            .flat_map(|(_, i)| i)
            .map(String::as_str)
            .collect();
        assert!(all.contains(&"CVE-2019-2426"), "{file}");
        assert!(!all.iter().any(|i| i.contains('_')), "{file}");
        assert!(
            diags.iter().any(|d| d.message.contains("CVE_2019-2426")),
            "{file}"
        );
    }
}

#[test]
fn every_id_string_is_accounted_for() {
    // The README counts the ID strings per file; each string yields at least one ID unless a
    // diagnostic says why not.
    for (file, strings) in [
        ("v3.9/main.yaml", 1121),
        ("v3.9/community.yaml", 601),
        ("v3.10/main.yaml", 1182),
        ("v3.10/community.yaml", 720),
    ] {
        let Some((db, diags)) = load(file) else {
            return;
        };
        let ids: usize = db
            .packages
            .iter()
            .flat_map(|p| &p.secfixes)
            .map(|(_, i)| i.len())
            .sum();
        assert!(
            ids >= strings,
            "{file}: {ids} IDs from {strings} strings; diagnostics: {diags:?}"
        );
        let osv = db.to_osv();
        assert!(!osv.is_empty());
        assert!(osv
            .iter()
            .all(|v| v.affected.len() == 1 && !v.affected[0].ranges.is_empty()));
    }
}

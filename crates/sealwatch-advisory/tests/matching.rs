//! Matching on synthetic OSV records: every ecosystem sealwatch orders, every range kind,
//! source-package lookup, release suffixes, alias merging, withdrawn records.

use sealwatch_advisory::cvss::Severity;
use sealwatch_advisory::matching::{AdvisoryIndex, Finding, InstalledPackage};
use sealwatch_advisory::osv::Vulnerability;

fn record(json: &str) -> Vulnerability {
    Vulnerability::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

fn pkg(ecosystem: &str, name: &str, version: &str) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        ecosystem: ecosystem
            .parse()
            .unwrap_or_else(|e| panic!("{ecosystem}: {e}")),
        source_name: None,
        source_version: None,
    }
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

/// One record per ecosystem with an `ECOSYSTEM` range [introduced, fixed); each package is
/// probed just below the fix (affected) and at the fix (not affected), with versions whose
/// order only that ecosystem's rules get right.
#[test]
fn every_ecosystem() {
    let cases = [
        (
            "Alpine:v3.20",
            "openssl",
            "3.3.0-r0",
            "3.3.2-r1",
            "3.3.2_rc1-r9",
        ),
        (
            "Debian:12",
            "openssl",
            "3.0.0-1",
            "3.0.15-1~deb12u1",
            "3.0.15-1~deb12u1~pre",
        ),
        (
            "Ubuntu:22.04:LTS",
            "curl",
            "7.81.0-1",
            "7.81.0-1ubuntu1.16",
            "7.81.0-1ubuntu1.15",
        ),
        (
            "Red Hat",
            "openssl",
            "1:3.0.1-1.el9",
            "1:3.0.7-25.el9_3",
            "1:3.0.7-24.el9",
        ),
        (
            "Rocky Linux:9",
            "bash",
            "5.1-1.el9",
            "5.1.8-9.el9",
            "5.1.8-9.el9~rc",
        ),
        (
            "AlmaLinux:9",
            "bash",
            "5.1-1.el9",
            "5.1.8-9.el9",
            "5.1.8-8.el9",
        ),
        (
            "SUSE",
            "glibc",
            "2.31-1",
            "2.31-150300.63.1",
            "2.31-150300.9.1",
        ),
        (
            "openSUSE",
            "glibc",
            "2.31-1",
            "2.31-150300.63.1",
            "2.31-150300.63.0",
        ),
        ("PyPI", "jinja2", "2.0", "3.1.4", "3.1.4rc1"),
        ("npm", "lodash", "4.0.0", "4.17.21", "4.17.21-beta.1"),
        (
            "Go",
            "golang.org/x/net",
            "v0.0.0-20200101000000-aaaaaaaaaaaa",
            "v0.23.0",
            "v0.23.0-rc.1",
        ),
        ("crates.io", "hyper", "0.14.0", "0.14.10", "0.14.9"),
        ("Hex", "plug", "1.0.0", "1.10.0", "1.9.99"),
        (
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            "2.0-beta9",
            "2.15.0",
            "2.15.0-rc2",
        ),
        ("RubyGems", "rails", "6.0.0", "6.1.7.1", "6.1.7.1.rc1"),
        (
            "NuGet",
            "Newtonsoft.Json",
            "9.0.0",
            "13.0.1",
            "13.0.1-BETA1",
        ),
        (
            "Packagist",
            "symfony/http-kernel",
            "4.0.0",
            "4.4.50",
            "4.4.50-RC1",
        ),
        ("Pub", "http", "0.12.0", "0.13.3", "0.13.3-dev"),
        ("CRAN", "commonmark", "0.2", "1.8", "1.7-1"),
        ("Hackage", "aeson", "0.4", "2.0.1.0", "2.0.0.9"),
    ];
    let vulns: Vec<Vulnerability> = cases
        .iter()
        .enumerate()
        .map(|(i, (eco, name, introduced, fixed, _))| {
            record(&format!(
                r#"{{"id":"TEST-{i}","modified":"2024-01-01T00:00:00Z","summary":"{eco} {name}",
                    "affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},
                    "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"{introduced}"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
            ))
        })
        .collect();
    let index = AdvisoryIndex::new(vulns);
    for (i, (eco, name, _, fixed, below)) in cases.iter().enumerate() {
        let (f, d) = index.match_package(&pkg(eco, name, below));
        assert!(d.is_empty(), "{eco}: {d:?}");
        assert_eq!(
            ids(&f),
            [format!("TEST-{i}")],
            "{eco} {name} {below} should be affected"
        );
        assert_eq!(f[0].fixed_versions, [fixed.to_string()], "{eco}");
        assert_eq!(f[0].installed_version, *below);
        assert_eq!(
            f[0].title.as_deref(),
            Some(format!("{eco} {name}").as_str())
        );
        let (f, _) = index.match_package(&pkg(eco, name, fixed));
        assert!(f.is_empty(), "{eco} {name} {fixed} is the fix: {f:?}");
    }
}

#[test]
fn range_kinds_and_versions_lists() {
    let vulns = vec![
        record(
            r#"{"id":"SEMVER-1","modified":"m","affected":[{"package":{"ecosystem":"npm","name":"a"},
                "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"last_affected":"1.4.2"}]}]}]}"#,
        ),
        record(
            r#"{"id":"GIT-1","modified":"m","affected":[{"package":{"ecosystem":"PyPI","name":"b"},
                "ranges":[{"type":"GIT","repo":"https://example.invalid/b","events":[{"introduced":"0"},{"fixed":"abc123"}]}],
                "versions":["1.0","1.1"]}]}"#,
        ),
        record(
            r#"{"id":"LIMIT-1","modified":"m","affected":[{"package":{"ecosystem":"crates.io","name":"c"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"0.5.0"}]}]}]}"#,
        ),
    ];
    let index = AdvisoryIndex::new(vulns);
    let check = |eco: &str, name: &str, version: &str, expect: &[&str]| {
        let (f, d) = index.match_package(&pkg(eco, name, version));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(ids(&f), expect, "{eco} {name} {version}");
    };
    check("npm", "a", "0.9.0", &[]);
    check("npm", "a", "1.4.2", &["SEMVER-1"]);
    check("npm", "a", "1.4.3", &[]);
    check("PyPI", "b", "1.1", &["GIT-1"]);
    check("PyPI", "b", "1.1.0", &["GIT-1"]);
    check("PyPI", "b", "1.2", &[]);
    check("crates.io", "c", "0.4.9", &["LIMIT-1"]);
    check("crates.io", "c", "0.5.0", &[]);
    // last_affected gives no fixed version.
    let (f, _) = index.match_package(&pkg("npm", "a", "1.2.0"));
    assert!(f[0].fixed_versions.is_empty());
}

#[test]
fn os_packages_match_by_source_and_release() {
    let vulns = vec![
        record(
            r#"{"id":"DSA-1","modified":"m","aliases":["CVE-2024-1"],"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.14-1~deb12u1"}]}]}]}"#,
        ),
        record(
            r#"{"id":"DSA-2","modified":"m","affected":[{"package":{"ecosystem":"Debian:11","name":"openssl"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
        ),
        record(
            r#"{"id":"ANY-1","modified":"m","affected":[{"package":{"ecosystem":"Debian","name":"openssl"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.20-1"}]}]}]}"#,
        ),
    ];
    let index = AdvisoryIndex::new(vulns);
    let mut libssl = pkg("Debian:12", "libssl3", "3.0.13-1~deb12u1+b1");
    // Without the source name the binary package matches nothing.
    assert!(index.match_package(&libssl).0.is_empty());
    libssl.source_name = Some("openssl".into());
    libssl.source_version = Some("3.0.13-1~deb12u1".into());
    let (f, _) = index.match_package(&libssl);
    // DSA-2 is for Debian 11 only; the CVE alias becomes the reported ID.
    assert_eq!(ids(&f), ["ANY-1", "CVE-2024-1"]);
    assert_eq!(f[1].aliases, ["DSA-1"]);
    assert_eq!(f[1].package_name, "libssl3");
    assert_eq!(f[1].installed_version, "3.0.13-1~deb12u1+b1");
}

#[test]
fn a_single_upstream_is_the_same_vulnerability_and_several_are_not() {
    let affected = r#""affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.15-1~deb12u1"}]}]}]"#;
    let vulns = vec![
        record(&format!(
            r#"{{"id":"DEBIAN-CVE-2024-5535","modified":"m","upstream":["CVE-2024-5535"],{affected}}}"#
        )),
        record(&format!(
            r#"{{"id":"CVE-2024-5535","modified":"m","summary":"SSL_select_next_proto buffer overread",{affected}}}"#
        )),
        record(&format!(
            r#"{{"id":"DSA-5757-1","modified":"m","upstream":["CVE-2024-5535","CVE-2024-6119"],{affected}}}"#
        )),
    ];
    let index = AdvisoryIndex::new(vulns);
    let (f, d) = index.match_package(&pkg("Debian:12", "openssl", "3.0.13-1~deb12u1"));
    assert!(d.is_empty(), "{d:?}");
    // The per-CVE Debian record and the CVE record are one finding, reported by its CVE; the
    // DSA that covers two CVEs stays its own finding rather than being folded into one of them.
    assert_eq!(ids(&f), ["CVE-2024-5535", "DSA-5757-1"], "{f:?}");
    assert_eq!(f[0].aliases, ["DEBIAN-CVE-2024-5535"]);
    assert_eq!(
        f[0].title.as_deref(),
        Some("SSL_select_next_proto buffer overread")
    );
}

#[test]
fn aliases_merge_to_one_finding_per_cve() {
    let vulns = vec![
        record(
            r#"{"id":"GHSA-aaaa","modified":"m","aliases":["CVE-2024-9"],"summary":"from GHSA",
                "database_specific":{"severity":"HIGH"},
                "references":[{"type":"ADVISORY","url":"https://example.invalid/ghsa"}],
                "affected":[{"package":{"ecosystem":"PyPI","name":"Django"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"4.2.1"}]}]}]}"#,
        ),
        record(
            r#"{"id":"PYSEC-1","modified":"m","aliases":["CVE-2024-9","GHSA-aaaa"],
                "references":[{"type":"WEB","url":"https://example.invalid/pysec"}],
                "affected":[{"package":{"ecosystem":"PyPI","name":"django"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"4.2.1"},{"introduced":"5.0"},{"fixed":"5.0.2"}]}]}]}"#,
        ),
        record(
            r#"{"id":"CVE-2024-9","modified":"m","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N"}],
                "affected":[{"package":{"ecosystem":"PyPI","name":"DJANGO"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"4.2.1"}]}]}]}"#,
        ),
        record(
            r#"{"id":"GHSA-gone","modified":"m","withdrawn":"2024-02-01T00:00:00Z","aliases":["CVE-2024-10"],
                "affected":[{"package":{"ecosystem":"PyPI","name":"django"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
        ),
        record(
            r#"{"id":"OSV-OTHER","modified":"m","affected":[{"package":{"ecosystem":"Linux","name":"django"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
        ),
    ];
    let index = AdvisoryIndex::new(vulns);
    assert_eq!(index.skipped_ecosystems().collect::<Vec<_>>(), ["Linux"]);
    // PEP 503: `Django`, `django`, `DJANGO` and `dJango_` spellings are one project.
    let (f, d) = index.match_package(&pkg("PyPI", "DJango", "4.1"));
    assert!(d.is_empty());
    assert_eq!(f.len(), 1, "{f:?}");
    let f = &f[0];
    assert_eq!(f.id, "CVE-2024-9");
    assert_eq!(f.aliases, ["GHSA-aaaa", "PYSEC-1"]);
    // Fixed versions above 4.1 from every merged record: 4.2.1 and (from PYSEC) 5.0.2.
    assert_eq!(f.fixed_versions, ["4.2.1", "5.0.2"]);
    // The highest of the merged severities (GHSA's vendor HIGH over the CVE's LOW CVSS).
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.title.as_deref(), Some("from GHSA"));
    assert_eq!(
        f.references,
        [
            "https://example.invalid/ghsa",
            "https://example.invalid/pysec"
        ]
    );
    // In the second interval only PYSEC-1 applies, still reported under the CVE.
    let (f, _) = index.match_package(&pkg("PyPI", "django", "5.0.1"));
    assert_eq!(ids(&f), ["CVE-2024-9"]);
    assert_eq!(f[0].fixed_versions, ["5.0.2"]);
}

#[test]
fn unorderable_versions_are_diagnostics() {
    let index = AdvisoryIndex::new(vec![record(
        r#"{"id":"BAD-1","modified":"m","affected":[{"package":{"ecosystem":"npm","name":"x"},
            "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}"#,
    )]);
    let (f, d) = index.match_package(&pkg("npm", "x", "latest"));
    assert!(f.is_empty());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].vulnerability_id, "BAD-1");
    assert!(d[0].message.contains("latest"), "{}", d[0].message);
}

#[test]
fn releases_compare_by_their_advisory_key() {
    use sealwatch_advisory::matching::normalize_release;
    use sealwatch_version::Ecosystem;
    let check = |eco: Ecosystem, release: &str, expect: &str| {
        assert_eq!(normalize_release(eco, release), expect, "{eco} {release}");
    };
    check(Ecosystem::Alpine, "3.20.3", "v3.20");
    check(Ecosystem::Alpine, "v3.20", "v3.20");
    check(Ecosystem::Alpine, "3.9", "v3.9");
    check(Ecosystem::Alpine, "3.21.0_alpha20240923", "v3.21");
    check(Ecosystem::Alpine, "edge", "edge");
    check(Ecosystem::Debian, "12.15", "12");
    check(Ecosystem::Debian, "12", "12");
    check(Ecosystem::Ubuntu, "22.04:LTS", "22.04");
    check(Ecosystem::Ubuntu, "24.10", "24.10");

    // A package whose release was read from /etc/alpine-release matches `Alpine:v3.20`.
    let index = AdvisoryIndex::new(vec![record(
        r#"{"id":"CVE-2024-5","modified":"m","affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"busybox"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.36.1-r30"}]}]}]}"#,
    )]);
    assert_eq!(
        ids(&index
            .match_package(&pkg("Alpine:3.20.3", "busybox", "1.36.1-r29"))
            .0),
        ["CVE-2024-5"]
    );
    assert!(index
        .match_package(&pkg("Alpine:3.19.4", "busybox", "1.36.1-r29"))
        .0
        .is_empty());
}

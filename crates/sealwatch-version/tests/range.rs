//! OSV range evaluation, per the schema's "Evaluation" pseudocode, on hand-made ranges.

use sealwatch_version::{
    check_affected, is_affected, AffectedVersions, Ecosystem, Range, VersionError,
};

fn affected(ranges_json: &str, versions: &[&str]) -> AffectedVersions {
    let ranges: Vec<Range> =
        serde_json::from_str(ranges_json).unwrap_or_else(|e| panic!("{ranges_json}: {e}"));
    AffectedVersions {
        ranges,
        versions: versions.iter().map(|v| v.to_string()).collect(),
    }
}

/// `cases`: (installed version, expected affected).
fn check(ecosystem: Ecosystem, ranges_json: &str, versions: &[&str], cases: &[(&str, bool)]) {
    let a = affected(ranges_json, versions);
    for (version, expect) in cases {
        assert_eq!(
            check_affected(ecosystem, version, &a),
            Ok(*expect),
            "{ecosystem} {version} against {ranges_json} / {versions:?}"
        );
    }
}

#[test]
fn introduced_fixed_per_ecosystem() {
    // One [introduced, fixed) range per ecosystem, probed below, at, inside, at the fix and
    // above, with versions whose order only that ecosystem's rules get right.
    let cases: &[(Ecosystem, &str, &str, [&str; 5])] = &[
        (
            Ecosystem::Alpine,
            "1.1.1a-r0",
            "1.1.1d-r0",
            [
                "1.1.1_rc1-r0",
                "1.1.1a-r0",
                "1.1.1c-r9",
                "1.1.1d-r0",
                "1.1.1d-r1",
            ],
        ),
        (
            Ecosystem::Debian,
            "1:2.0-1",
            "1:2.0-3",
            [
                "2.9-1",
                "1:2.0-1",
                "1:2.0-2~deb12u1",
                "1:2.0-3",
                "1:2.0-3+b1",
            ],
        ),
        (
            Ecosystem::Ubuntu,
            "2.0",
            "2.0-1ubuntu2",
            [
                "2.0~rc1",
                "2.0",
                "2.0-1ubuntu1",
                "2.0-1ubuntu2",
                "2.0-1ubuntu10",
            ],
        ),
        (
            Ecosystem::RedHat,
            "0:1.0-1.el9",
            "0:1.0-5.el9",
            [
                "1.0-0.el9",
                "1.0-1.el9",
                "1.0-4.el9_2",
                "1.0-5.el9",
                "1.0-10.el9",
            ],
        ),
        (
            Ecosystem::RockyLinux,
            "2.0",
            "2.1",
            ["2.0~rc1", "2.0", "2.0^git1", "2.1", "2.10"],
        ),
        (
            Ecosystem::Suse,
            "1.5",
            "1.10",
            ["1.4.9", "1.5", "1.9", "1.10", "1.11"],
        ),
        (
            Ecosystem::PyPI,
            "1.0",
            "1.2",
            ["1.0rc1", "1.0.0", "1.2.dev0", "1.2.0", "1.2.post1"],
        ),
        (
            Ecosystem::Npm,
            "1.0.0",
            "1.2.0",
            ["1.0.0-beta.11", "1.0.0", "1.2.0-rc.1", "1.2.0", "1.10.0"],
        ),
        (
            Ecosystem::CratesIo,
            "0.9.0",
            "0.10.0",
            ["0.8.99", "0.9.0", "0.9.10", "0.10.0", "0.10.1"],
        ),
        (
            Ecosystem::Go,
            "v1.2.0",
            "v1.4.0",
            [
                "v1.1.9",
                "v1.2.0",
                "v1.3.1-0.20230101120000-abcdef123456",
                "v1.4.0",
                "v1.4.0+incompatible",
            ],
        ),
        (
            Ecosystem::Maven,
            "2.0",
            "2.0.1",
            [
                "2.0-rc1",
                "2.0.0",
                "2.0.1-SNAPSHOT",
                "2.0.1.Final",
                "2.0.1-sp1",
            ],
        ),
        (
            Ecosystem::RubyGems,
            "5.0",
            "5.2.1",
            ["5.0.rc1", "5.0.0", "5.2.1.beta", "5.2.1", "5.10"],
        ),
        (
            Ecosystem::NuGet,
            "4.0.0",
            "4.1.0",
            ["4.0.0-preview", "4.0.0.0", "4.1.0-RC", "4.1.0", "4.1.0.1"],
        ),
        (
            Ecosystem::Packagist,
            "3.0.0",
            "3.4.5",
            ["3.0.0-RC1", "v3.0.0", "3.4.5-beta2", "3.4.5", "3.4.5pl1"],
        ),
        (
            Ecosystem::Pub,
            "1.0.0",
            "1.3.0",
            ["1.0.0-dev", "1.0.0", "1.3.0-pre", "1.3.0", "1.3.0+1"],
        ),
        (
            Ecosystem::Cran,
            "1.0-1",
            "1.2-0",
            ["1.0", "1.0-1", "1.1-9", "1.2-0", "1.10"],
        ),
        (
            Ecosystem::Hackage,
            "0.5",
            "0.9.1",
            ["0.4.9.9", "0.5", "0.9", "0.9.1", "0.10"],
        ),
    ];
    for (eco, introduced, fixed, [below, at, inside, at_fix, above]) in cases {
        let json = format!(
            r#"[{{"type":"ECOSYSTEM","events":[{{"introduced":"{introduced}"}},{{"fixed":"{fixed}"}}]}}]"#
        );
        check(
            *eco,
            &json,
            &[],
            &[
                (below, false),
                (at, true),
                (inside, true),
                (at_fix, false),
                (above, false),
            ],
        );
    }
}

#[test]
fn last_affected_is_inclusive() {
    let json = r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"last_affected":"2.3.4"}]}]"#;
    check(
        Ecosystem::Npm,
        json,
        &[],
        &[
            ("0.0.1", true),
            ("2.3.4", true),
            ("2.3.5-alpha", false),
            ("2.3.5", false),
        ],
    );
}

#[test]
fn introduced_zero_and_no_fix_means_every_version() {
    let json = r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#;
    check(
        Ecosystem::Debian,
        json,
        &[],
        &[("0~~", true), ("99:1", true)],
    );
    check(
        Ecosystem::Maven,
        json,
        &[],
        &[("0-alpha", true), ("1", true)],
    );
}

#[test]
fn several_intervals_in_one_range_and_events_out_of_order() {
    // Events listed out of order still form [1.0.0, 1.0.2) and [3.0.0, 3.2.5).
    let json = r#"[{"type":"SEMVER","events":[{"fixed":"3.2.5"},{"introduced":"1.0.0"},{"introduced":"3.0.0"},{"fixed":"1.0.2"}]}]"#;
    check(
        Ecosystem::CratesIo,
        json,
        &[],
        &[
            ("0.9.0", false),
            ("1.0.1", true),
            ("1.0.2", false),
            ("2.5.0", false),
            ("3.0.0", true),
            ("3.2.4", true),
            ("3.2.5", false),
        ],
    );
}

#[test]
fn several_ranges_any_match() {
    let json = r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]},
                   {"type":"ECOSYSTEM","events":[{"introduced":"2.0"},{"fixed":"2.1"}]}]"#;
    check(
        Ecosystem::PyPI,
        json,
        &[],
        &[
            ("0.9", true),
            ("1.0", false),
            ("2.0.5", true),
            ("2.1", false),
        ],
    );
}

#[test]
fn limit_bounds_the_range() {
    let json = r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"limit":"1.5"}]}]"#;
    check(
        Ecosystem::RubyGems,
        json,
        &[],
        &[
            ("0.9", false),
            ("1.0", true),
            ("1.4.9", true),
            ("1.5", false),
            ("2.0", false),
        ],
    );
    let star = r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"limit":"*"}]}]"#;
    check(
        Ecosystem::RubyGems,
        star,
        &[],
        &[("0.9", false), ("99", true)],
    );
    // With two limits, being below either is enough.
    let two =
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"limit":"1.0"},{"limit":"3.0"}]}]"#;
    check(
        Ecosystem::RubyGems,
        two,
        &[],
        &[("2.0", true), ("3.0", false)],
    );
}

#[test]
fn explicit_versions_and_git_ranges() {
    // A GIT range cannot place an installed version; only the versions list can match.
    let json = r#"[{"type":"GIT","repo":"https://example.invalid/repo","events":[{"introduced":"0"},{"fixed":"deadbeef"}]}]"#;
    check(
        Ecosystem::PyPI,
        json,
        &["1.0", "1.1"],
        &[
            ("1.0", true),
            ("1.0.0", true),
            ("1.1", true),
            ("1.2", false),
            ("0.9", false),
        ],
    );
    // Without versions the GIT range matches nothing.
    check(Ecosystem::PyPI, json, &[], &[("1.0", false)]);
}

#[test]
fn empty_range_when_introduced_equals_fixed() {
    let json = r#"[{"type":"ECOSYSTEM","events":[{"fixed":"1.0"},{"introduced":"1.0"}]}]"#;
    check(
        Ecosystem::PyPI,
        json,
        &[],
        &[("0.9", false), ("1.0", false), ("1.1", false)],
    );
}

#[test]
fn semver_ranges_use_semver_even_in_other_ecosystems() {
    // In PEP 440, 1.0.0-1 is a post release (above 1.0.0); in SemVer it is a pre-release.
    let json = r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]"#;
    check(Ecosystem::PyPI, json, &[], &[("1.0.0-1", true)]);
    let eco = r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]"#;
    check(Ecosystem::PyPI, eco, &[], &[("1.0.0-1", false)]);
}

#[test]
fn go_stdlib_spellings() {
    let json = r#"[{"type":"SEMVER","events":[{"introduced":"1.21.0-0"},{"fixed":"1.21.5"}]}]"#;
    let a = affected(json, &[]);
    // Syft reports `go1.21.4`, Trivy `v1.21.4`, OSV writes `1.21.4`: all three place the same.
    for (v, expect) in [
        ("go1.21rc2", true),
        ("go1.21.4", true),
        ("v1.21.4", true),
        ("1.21.5", false),
        ("go1.20", false),
    ] {
        assert_eq!(check_affected(Ecosystem::Go, v, &a), Ok(expect), "{v}");
    }
    // Outside Go the toolchain spelling is not SemVer.
    assert!(check_affected(Ecosystem::Npm, "go1.21.4", &a).is_err());
    assert_eq!(
        sealwatch_version::semver::go_toolchain_to_semver("go1.21rc2"),
        "1.21.0-rc.2"
    );
    assert_eq!(
        sealwatch_version::semver::go_toolchain_to_semver("go1.20"),
        "1.20.0"
    );
    assert_eq!(
        sealwatch_version::semver::go_toolchain_to_semver("go1.19.13"),
        "1.19.13"
    );
}

#[test]
fn unorderable_versions_are_errors_not_matches() {
    let json = r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"not-a-version"}]}]"#;
    let a = affected(json, &[]);
    match check_affected(Ecosystem::Npm, "1.0.0", &a) {
        Err(VersionError::Invalid { version, .. }) => assert_eq!(version, "not-a-version"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(!is_affected(Ecosystem::Npm, "1.0.0", &a));
}

#[test]
fn malformed_events_are_rejected() {
    for bad in [
        r#"[{"type":"SEMVER","events":[{"introduced":"1.0.0","fixed":"1.0.2"}]}]"#,
        r#"[{"type":"SEMVER","events":[{}]}]"#,
        r#"[{"type":"SEMVER"}]"#,
    ] {
        assert!(
            serde_json::from_str::<Vec<Range>>(bad).is_err(),
            "{bad} should not parse"
        );
    }
    // Unknown range types and unknown fields are tolerated (and such ranges are skipped).
    let future = r#"[{"type":"FUTURE","events":[{"introduced":"0"}],"database_specific":{"x":1}}]"#;
    check(Ecosystem::Npm, future, &[], &[("1.0.0", false)]);
}

//! The evidence policies in examples/policies: they load with no diagnostics, and their
//! attestation conditions admit a fresh scan without fixable CRITICAL findings and refuse the rest,
//! saying why.

use sealwatch_policy::conditions::{evaluate_blocks, ConditionOutcome};
use sealwatch_policy::load_policies;
use sealwatch_policy::model::{AttestationCheck, AttestorKind};
use serde_json::{json, Value};
use time::OffsetDateTime;

const VULN_TYPE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The single `vuln` attestation check of an example policy (its first, hand-written rule).
fn vuln_check(name: &str) -> (AttestationCheck, Vec<AttestorKind>) {
    let (set, diagnostics) = load_policies(name, example(name).as_bytes());
    assert_eq!(diagnostics, vec![], "{name} loads cleanly");
    let [policy] = set.policies.as_slice() else {
        panic!("{name}: one policy expected")
    };
    let check = &policy.rules[0].image_checks[0];
    assert_eq!(
        check.attestor_sets.len(),
        1,
        "the image signature is required"
    );
    let [attestation] = check.attestations.as_slice() else {
        panic!("{name}: one attestation expected")
    };
    assert_eq!(attestation.predicate_type, VULN_TYPE);
    let image_attestors = check.attestor_sets[0]
        .entries
        .iter()
        .map(|e| e.kind.clone())
        .collect();
    (attestation.clone(), image_attestors)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap_or_else(|e| panic!("{e}"))
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn finding(id: &str, severity: &str, fixed: &[&str]) -> Value {
    json!({"id": id, "aliases": [], "package_name": "openssl", "installed_version": "3.0.0-r0",
           "fixed_versions": fixed, "severity": severity, "references": [],
           "purl": "pkg:apk/alpine/openssl@3.0.0-r0", "path": "lib/apk/db/installed", "layer": null})
}

/// A cosign vuln predicate around a sealwatch report, finished `age` before [`now`].
fn predicate(age: time::Duration, findings: Vec<Value>) -> Value {
    let finished = rfc3339(now() - age);
    json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {
            "uri": "pkg:cargo/sealwatch@0.1.0", "version": "0.1.0",
            "db": {"uri": "alpine-secdb:main.json", "version": "2026-01-01T00:00:00Z"},
            "result": {
                "schema_version": 1, "image": "ghcr.io/your-org/app:1", "manifest_digest": null,
                "results": [
                    {"target": "app (alpine 3.20)", "class": "os-pkgs", "type": "apk",
                     "vulnerabilities": findings},
                    {"target": "usr/lib/app/package-lock.json", "class": "lang-pkgs", "type": "npm",
                     "vulnerabilities": [finding("CVE-2024-0002", "LOW", &["1.2.4"])]}
                ],
                "summary": {}
            }
        },
        "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished}
    })
}

fn outcome(check: &AttestationCheck, predicate: &Value) -> ConditionOutcome {
    evaluate_blocks(&check.conditions, predicate, now())
}

fn assert_fails(check: &AttestationCheck, predicate: &Value, needle: &str) {
    match outcome(check, predicate) {
        ConditionOutcome::Fail(message) => {
            assert!(message.contains(needle), "{needle:?} not in {message:?}")
        }
        other => panic!("expected a failure mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn evidence_policies_admit_only_fresh_clean_scans() {
    for name in [
        "require-fresh-clean-vuln-attestation.yaml",
        "require-fresh-clean-vuln-attestation-keyed.yaml",
    ] {
        let (check, image_attestors) = vuln_check(name);
        let hours = time::Duration::hours;
        // Fresh, and the only CRITICAL has no fix yet: admitted.
        let clean = predicate(
            hours(1),
            vec![
                finding("CVE-2024-0001", "CRITICAL", &[]),
                finding("CVE-2024-0003", "HIGH", &["3.0.1-r0"]),
            ],
        );
        assert_eq!(outcome(&check, &clean), ConditionOutcome::Pass, "{name}");
        // No findings at all: admitted.
        assert_eq!(
            outcome(&check, &predicate(hours(1), vec![])),
            ConditionOutcome::Pass
        );
        // Six days old is still fresh; eight days is not.
        assert_eq!(
            outcome(&check, &predicate(hours(6 * 24), vec![])),
            ConditionOutcome::Pass
        );
        assert_fails(&check, &predicate(hours(8 * 24), vec![]), "older than 168h");
        // A CRITICAL with a fixed version: refused.
        let fixable = predicate(
            hours(1),
            vec![
                finding("CVE-2024-0001", "CRITICAL", &[]),
                finding("CVE-2024-0004", "CRITICAL", &["3.0.2-r0"]),
            ],
        );
        assert_fails(&check, &fixable, "CRITICAL vulnerabilities that have a fix");
        // A predicate without the sealwatch report (e.g. another scanner's) cannot be judged:
        // an error, which fails closed, not a pass.
        let foreign = json!({"scanner": {"uri": "x", "result": {"Results": []}},
                             "metadata": {"scanFinishedOn": rfc3339(now())}});
        assert!(
            matches!(
                outcome(&check, &foreign),
                ConditionOutcome::Error(_) | ConditionOutcome::Fail(_)
            ),
            "{:?}",
            outcome(&check, &foreign)
        );
        // The image attestor: keyless CI identity, or the CI key in the keyed variant.
        let keyless = matches!(image_attestors.as_slice(), [AttestorKind::Keyless(_)]);
        assert_eq!(
            keyless,
            !name.contains("keyed"),
            "{name}: {image_attestors:?}"
        );
    }
}

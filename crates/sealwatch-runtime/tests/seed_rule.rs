//! The seed rule (loaded after the stable ruleset) fires for bash spawned in a container, with
//! Falco's exact output line, and stays silent on the host and for a non-shell process.

use std::path::Path;

use sealwatch_rules::loader::{load_and_compile, Ruleset, Selection};
use sealwatch_rules::output::Alert;
use sealwatch_runtime::replay::ReplayReader;

fn ruleset() -> Option<Ruleset> {
    let stable = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")?;
    let seed = sealwatch_test::require_shared("conformance/falco/seed-rule.yaml")?;
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let (stable, seed) = (read(&stable), read(&seed));
    let (ruleset, diags) = load_and_compile(
        [
            ("falco_rules.yaml", stable.as_slice()),
            ("seed-rule.yaml", seed.as_slice()),
        ],
        &Selection::default(),
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    Some(ruleset)
}

fn alerts(ruleset: &Ruleset, file: &str) -> Vec<Alert> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for event in ReplayReader::new(file, input.as_slice()) {
        let event = event.unwrap_or_else(|e| panic!("{e}"));
        ruleset.matching(&event, |rule| {
            out.push(ruleset.alert(rule, &event, "fallback-host"))
        });
    }
    out
}

#[test]
fn fires_for_bash_in_a_container_with_falcos_output() {
    let Some(ruleset) = ruleset() else { return };
    let got = alerts(&ruleset, "seed_container_shell.jsonl");
    assert_eq!(got.len(), 1, "{got:#?}");
    let alert = &got[0];
    assert_eq!(
        alert.text_line(),
        "13:44:05.478445995: Warning Shell spawned in container (user=root container=<NA> shell=bash parent=runc)"
    );
    let json = alert.to_json();
    assert_eq!(
        json,
        serde_json::json!({
            "hostname": "node-1",
            "output": "13:44:05.478445995: Warning Shell spawned in container (user=root container=<NA> shell=bash parent=runc)",
            "output_fields": {"container.name": null, "proc.name": "bash", "proc.pname": "runc", "user.name": "root"},
            "priority": "Warning",
            "rule": "Terminal shell in container",
            "source": "syscall",
            "tags": [],
            "time": "2023-05-25T13:44:05.478445995Z"
        })
    );
}

#[test]
fn silent_on_the_host_and_for_other_processes() {
    let Some(ruleset) = ruleset() else { return };
    let got: Vec<String> = alerts(&ruleset, "seed_no_alert.jsonl")
        .iter()
        .map(Alert::text_line)
        .collect();
    assert!(got.is_empty(), "{got:#?}");
}

//! Every rule of the upstream stable ruleset fires on a JSONL event stream written to trigger it,
//! and no rule fires on a benign stream. The list of rules comes from the rules file itself, so a
//! rule added upstream without a trigger (or an explicit reason) fails the test.

use std::path::{Path, PathBuf};

use sealwatch_rules::diagnostic::Diagnostic;
use sealwatch_rules::loader::{load_and_compile, Ruleset, Selection};
use sealwatch_rules::output::Alert;
use sealwatch_runtime::replay::ReplayReader;

/// Rules with no trigger, and why. (None today: `Contact K8S API Server From Container` needs
/// `fd.sip.name`, which a replay file records as `fd.sip_name`.)
const UNTRIGGERABLE: &[(&str, &str)] = &[];

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// `Terminal shell in container` → `terminal_shell_in_container`.
fn slug(rule: &str) -> String {
    let mut out = String::new();
    for c in rule.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn stable() -> Option<(Ruleset, Vec<Diagnostic>)> {
    let path = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let selection = Selection {
        match_all: true,
        ..Selection::default()
    };
    Some(load_and_compile(
        [("falco_rules.yaml", bytes.as_slice())],
        &selection,
    ))
}

fn replay(ruleset: &Ruleset, path: &Path) -> Vec<Alert> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = ReplayReader::new(path.display().to_string(), std::io::BufReader::new(file));
    let mut alerts = Vec::new();
    while let Some(event) = reader.next_event().unwrap_or_else(|e| panic!("{e}")) {
        ruleset.matching(&event, |rule| {
            alerts.push(ruleset.alert(rule, &event, "test-host"))
        });
    }
    alerts
}

#[test]
fn every_stable_rule_fires_on_its_trigger() {
    let Some((ruleset, diags)) = stable() else {
        return;
    };
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    assert_eq!(ruleset.rules().len(), 25);
    let mut failures = Vec::new();
    let mut fired = 0;
    for rule in ruleset.rules() {
        if let Some((_, why)) = UNTRIGGERABLE.iter().find(|(name, _)| *name == rule.name) {
            eprintln!("skipped: {}: {why}", rule.name);
            continue;
        }
        let path = data(&format!("stable/{}.jsonl", slug(&rule.name)));
        if !path.exists() {
            failures.push(format!("{}: no trigger file {}", rule.name, path.display()));
            continue;
        }
        let alerts = replay(&ruleset, &path);
        match alerts.iter().find(|a| a.rule == rule.name) {
            Some(alert) => {
                fired += 1;
                // The alert is Falco's: its priority and the rule's output with fields filled in.
                assert_eq!(alert.priority, rule.priority);
                let json = alert.to_json();
                assert!(
                    json["output_fields"]
                        .as_object()
                        .is_some_and(|o| !o.is_empty()),
                    "{json}"
                );
            }
            None => failures.push(format!(
                "{}: did not fire on {} (fired: {:?})",
                rule.name,
                path.display(),
                alerts.iter().map(|a| a.rule.as_str()).collect::<Vec<_>>()
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(fired + UNTRIGGERABLE.len(), 25);
}

#[test]
fn untriggerable_rules_exist_in_the_file() {
    let Some((ruleset, _)) = stable() else { return };
    for (name, _) in UNTRIGGERABLE {
        assert!(
            ruleset.rules().iter().any(|r| r.name == *name),
            "{name} is not in the stable file any more"
        );
    }
}

#[test]
fn benign_stream_raises_no_alert() {
    let Some((ruleset, _)) = stable() else { return };
    let alerts = replay(&ruleset, &data("benign.jsonl"));
    let lines: Vec<String> = alerts.iter().map(Alert::text_line).collect();
    assert!(lines.is_empty(), "{lines:#?}");
}

#[test]
fn trigger_files_are_not_orphans() {
    let Some((ruleset, _)) = stable() else { return };
    let names: Vec<String> = ruleset.rules().iter().map(|r| slug(&r.name)).collect();
    let dir = data("stable");
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            names.contains(&stem),
            "{} triggers no stable rule",
            path.display()
        );
    }
}

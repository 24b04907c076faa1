//! The upstream rulesets compile: every condition parses, every macro resolves, every output
//! names known fields; the seed rule replaces its namesake and compiles.

use sealwatch_rules::diagnostic::{Code, Diagnostic};
use sealwatch_rules::loader::{load_and_compile, Ruleset, Selection};

fn read(rel: &str) -> Option<(String, Vec<u8>)> {
    let path = sealwatch_test::require_shared(rel)?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Some((rel.to_string(), bytes))
}

fn compile(files: &[(String, Vec<u8>)]) -> (Ruleset, Vec<Diagnostic>) {
    load_and_compile(
        files.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
        &Selection::default(),
    )
}

fn errors(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect()
}

const STABLE: &str = "conformance/falco/rules/falco_rules.yaml";
const INCUBATING: &str = "conformance/falco/rules/falco-incubating_rules.yaml";
const SANDBOX: &str = "conformance/falco/rules/falco-sandbox_rules.yaml";
const SEED: &str = "conformance/falco/seed-rule.yaml";

#[test]
fn stable_compiles_with_zero_errors_and_every_rule_runs() {
    let Some(stable) = read(STABLE) else { return };
    let (ruleset, diags) = compile(&[stable]);
    assert!(errors(&diags).is_empty(), "{:#?}", errors(&diags));
    assert_eq!(ruleset.rules().len(), 25);
    assert_eq!(ruleset.active(), 25);
    // No macro of the stable file is left unused, and no rule is too broad.
    let noisy: Vec<_> = diags
        .iter()
        .filter(|d| matches!(d.code, Code::NoEvttype))
        .collect();
    assert!(noisy.is_empty(), "{noisy:#?}");
}

#[test]
fn incubating_and_sandbox_compile_after_stable() {
    for other in [INCUBATING, SANDBOX] {
        let (Some(stable), Some(extra)) = (read(STABLE), read(other)) else {
            return;
        };
        let (ruleset, diags) = compile(&[stable, extra]);
        assert!(errors(&diags).is_empty(), "{other}: {:#?}", errors(&diags));
        assert!(ruleset.rules().len() > 25);
    }
}

#[test]
fn all_three_compile_and_disabled_rules_do_not_run() {
    let (Some(a), Some(b), Some(c)) = (read(STABLE), read(INCUBATING), read(SANDBOX)) else {
        return;
    };
    let (ruleset, diags) = compile(&[a, b, c]);
    assert!(errors(&diags).is_empty(), "{:#?}", errors(&diags));
    assert_eq!(ruleset.rules().len(), 93);
    assert_eq!(ruleset.active(), 81);
}

#[test]
fn seed_rule_alone_fails_with_undefined_macro() {
    let Some(seed) = read(SEED) else { return };
    let (_, diags) = compile(&[seed]);
    let errs = errors(&diags);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("Undefined macro 'spawned_process' used in filter."),
        "{}",
        errs[0]
    );
    assert!(
        errs[0].starts_with("conformance/falco/seed-rule.yaml:4:"),
        "{}",
        errs[0]
    );
}

#[test]
fn seed_rule_after_stable_compiles() {
    let (Some(stable), Some(seed)) = (read(STABLE), read(SEED)) else {
        return;
    };
    let (ruleset, diags) = compile(&[stable, seed]);
    assert!(errors(&diags).is_empty(), "{:#?}", errors(&diags));
    let rule = ruleset
        .rules()
        .iter()
        .find(|r| r.name == "Terminal shell in container")
        .expect("seed rule");
    assert_eq!(rule.priority.as_str(), "Warning");
    assert_eq!(
        rule.output.field_names(),
        &["user.name", "container.name", "proc.name", "proc.pname"].map(String::from)
    );
}

#[test]
fn selection_filters_by_priority_name_and_tag() {
    let Some(stable) = read(STABLE) else { return };
    let files = [stable];
    let count = |selection: Selection| {
        load_and_compile(
            files.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
            &selection,
        )
        .0
        .active()
    };
    let critical = count(Selection {
        min_priority: sealwatch_rules::loader::Priority::parse("critical"),
        ..Default::default()
    });
    assert_eq!(critical, 3);
    let no_shell = count(Selection {
        disabled_rules: vec!["Terminal shell*".into()],
        ..Default::default()
    });
    assert_eq!(no_shell, 24);
    let only_network = count(Selection {
        enabled_tags: vec!["network".into()],
        ..Default::default()
    });
    assert!(only_network > 0 && only_network < 25, "{only_network}");
    let no_maturity = count(Selection {
        disabled_tags: vec!["maturity_stable".into()],
        ..Default::default()
    });
    assert_eq!(no_maturity, 0);
}

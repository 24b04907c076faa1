//! The three upstream rulesets load unchanged: alone and in Falco's order, with zero errors.

use sealwatch_rules::diagnostic::{Code, Diagnostic};
use sealwatch_rules::loader::{Loaded, Loader, Priority};

fn read(rel: &str) -> Option<(String, Vec<u8>)> {
    let path = sealwatch_test::require_shared(rel)?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Some((rel.to_string(), bytes))
}

fn load(files: &[(String, Vec<u8>)]) -> Loaded {
    let mut loader = Loader::new();
    for (name, bytes) in files {
        loader.load(name, bytes);
    }
    loader.finish()
}

fn errors(loaded: &Loaded) -> Vec<&Diagnostic> {
    loaded.diagnostics.iter().filter(|d| d.is_error()).collect()
}

const STABLE: &str = "conformance/falco/rules/falco_rules.yaml";
const INCUBATING: &str = "conformance/falco/rules/falco-incubating_rules.yaml";
const SANDBOX: &str = "conformance/falco/rules/falco-sandbox_rules.yaml";
const SEED: &str = "conformance/falco/seed-rule.yaml";

#[test]
fn stable_ruleset_loads_alone_with_the_documented_counts() {
    let Some(stable) = read(STABLE) else { return };
    let loaded = load(&[stable]);
    assert!(errors(&loaded).is_empty(), "{:#?}", errors(&loaded));
    assert_eq!(loaded.files.rules.len(), 25);
    assert_eq!(loaded.files.macros.len(), 87);
    assert_eq!(loaded.files.lists.len(), 49);
    assert!(loaded
        .files
        .rules
        .iter()
        .all(|r| r.enabled && r.source == "syscall"));
    assert_eq!(
        loaded
            .files
            .required_engine_version
            .map(|v| v.to_string())
            .as_deref(),
        Some("0.57.0")
    );
    // The container plugin requirement is met by sealwatch itself.
    assert_eq!(loaded.files.required_plugins.len(), 1);
    let count = |p: Priority| {
        loaded
            .files
            .rules
            .iter()
            .filter(|r| r.priority == p)
            .count()
    };
    assert_eq!(
        [
            count(Priority::Warning),
            count(Priority::Notice),
            count(Priority::Critical),
            count(Priority::Informational)
        ],
        [14, 7, 3, 1]
    );
}

#[test]
fn incubating_and_sandbox_each_load_after_stable() {
    for other in [INCUBATING, SANDBOX] {
        let (Some(stable), Some(other_file)) = (read(STABLE), read(other)) else {
            return;
        };
        let loaded = load(&[stable, other_file]);
        assert!(
            errors(&loaded).is_empty(),
            "{other}: {:#?}",
            errors(&loaded)
        );
    }
}

#[test]
fn all_three_together_give_93_rules_and_distinct_macros_and_lists() {
    let (Some(a), Some(b), Some(c)) = (read(STABLE), read(INCUBATING), read(SANDBOX)) else {
        return;
    };
    let loaded = load(&[a, b, c]);
    assert!(errors(&loaded).is_empty(), "{:#?}", errors(&loaded));
    assert_eq!(loaded.files.rules.len(), 93);
    assert_eq!(loaded.files.rules.iter().filter(|r| r.enabled).count(), 81);
    assert_eq!(loaded.files.macros.len(), 315);
    assert_eq!(loaded.files.lists.len(), 118);
}

#[test]
fn seed_rule_replaces_the_stable_rule_in_place() {
    let (Some(stable), Some(seed)) = (read(STABLE), read(SEED)) else {
        return;
    };
    let before = load(std::slice::from_ref(&stable));
    let position = |l: &Loaded| {
        l.files
            .rules
            .iter()
            .position(|r| r.name == "Terminal shell in container")
    };
    let loaded = load(&[stable, seed]);
    assert!(errors(&loaded).is_empty(), "{:#?}", errors(&loaded));
    assert_eq!(position(&loaded), position(&before));
    let rule = loaded
        .files
        .rule("Terminal shell in container")
        .expect("seed rule");
    assert_eq!(
        rule.condition,
        "spawned_process and container and proc.name in (bash, sh, zsh)\n"
    );
    assert_eq!(
        rule.output,
        "Shell spawned in container (user=%user.name container=%container.name shell=%proc.name parent=%proc.pname)"
    );
    assert_eq!(rule.priority, Priority::Warning);
    assert!(rule.tags.is_empty());
}

#[test]
fn no_unknown_keys_or_items_in_upstream_files() {
    let (Some(a), Some(b), Some(c)) = (read(STABLE), read(INCUBATING), read(SANDBOX)) else {
        return;
    };
    let loaded = load(&[a, b, c]);
    let unexpected: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| {
            matches!(
                d.code,
                Code::UnknownKey | Code::UnknownItem | Code::DeprecatedItem
            )
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[test]
fn truncated_and_mangled_upstream_files_never_panic() {
    let Some((_, bytes)) = read(STABLE) else {
        return;
    };
    let text = String::from_utf8(bytes).unwrap_or_default();
    let cuts: Vec<usize> = (1..200)
        .map(|i| i * text.len() / 200)
        .filter(|c| text.is_char_boundary(*c))
        .collect();
    for (n, cut) in cuts.iter().enumerate() {
        let prefix = &text[..*cut];
        let loaded = load(&[("cut.yaml".to_string(), prefix.as_bytes().to_vec())]);
        for d in &loaded.diagnostics {
            assert_eq!(d.location.file, "cut.yaml");
            assert!(d.location.line >= 1 && d.location.column >= 1, "{d}");
        }
        // Compile a sample too: conditions cut mid-way must be diagnostics, not panics.
        if n % 20 == 0 {
            let selection = sealwatch_rules::loader::Selection::default();
            let _ = sealwatch_rules::loader::load_and_compile(
                [("cut.yaml", prefix.as_bytes())],
                &selection,
            );
        }
        // Mangle indentation and quoting after the cut point as well.
        let mangled = format!("{prefix}\n  - ]]: '\n\t{{");
        let _ = load(&[("mangled.yaml".to_string(), mangled.into_bytes())]);
    }
}

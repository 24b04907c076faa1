//! Every case of `conformance/falco/compiler-cases.jsonl` (extracted from libsinsp's filter
//! compiler tests): compile success/failure and warning counts on the real field table, and
//! evaluation of boolean logic on the README's mock fields.

use sealwatch_rules::compile::{compile, CompileOptions, CustomField};
use sealwatch_rules::condition::{parse_with, ParseOptions};
use sealwatch_rules::event::{Event, EventType};
use sealwatch_rules::fields::{FieldType, FieldValue};
use serde_json::Value;

/// The README's mock factory: `c.true` is "1" (so `c.true=1` holds), `c.false` is "0",
/// `c.buffer` never extracts, and the quote fields hold the exact strings the escape cases
/// compare with.
fn mock_fields() -> Vec<CustomField> {
    fn t(_: &Event) -> Option<FieldValue<'_>> {
        Some(FieldValue::Str("1"))
    }
    fn f(_: &Event) -> Option<FieldValue<'_>> {
        Some(FieldValue::Str("0"))
    }
    fn none(_: &Event) -> Option<FieldValue<'_>> {
        None
    }
    fn dq(_: &Event) -> Option<FieldValue<'_>> {
        Some(FieldValue::Str("hello \"quoted\""))
    }
    fn sq(_: &Event) -> Option<FieldValue<'_>> {
        Some(FieldValue::Str("hello 'quoted'"))
    }
    vec![
        CustomField { name: "c.true".into(), ftype: FieldType::CharBuf, extract: t },
        CustomField { name: "c.false".into(), ftype: FieldType::CharBuf, extract: f },
        CustomField { name: "c.buffer".into(), ftype: FieldType::ByteBuf, extract: none },
        CustomField { name: "c.doublequote".into(), ftype: FieldType::CharBuf, extract: dq },
        CustomField { name: "c.singlequote".into(), ftype: FieldType::CharBuf, extract: sq },
    ]
}

#[test]
fn compiler_cases() {
    let Some(path) = sealwatch_test::require_shared("conformance/falco/compiler-cases.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read compiler cases");
    let mock = CompileOptions { custom_fields: mock_fields() };
    let sinsp = CompileOptions::default();
    let event = Event::new(EventType::from_name("open").expect("open is known"));
    let mut failures = Vec::new();
    let (mut count, mut runs, mut compiles) = (0, 0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        let case: Value = serde_json::from_str(line).expect("case is JSON");
        let cond = case["condition"].as_str().expect("condition");
        let where_ = format!("line {} ({} @{})", i + 1, case["test"], case["line"]);
        let options = if case["factory"] == "mock" { &mock } else { &sinsp };
        let compiled = parse_with(cond, &ParseOptions::FALCO_RULES)
            .map_err(|e| e.to_string())
            .and_then(|p| compile(&p.ast, options).map_err(|e| e.to_string()));
        match case["kind"].as_str() {
            Some("compile") => {
                compiles += 1;
                let expect_ok = case["expect"] == "ok";
                match (&compiled, expect_ok) {
                    (Ok(f), true) => {
                        let want = case["expected_warnings"].as_u64().unwrap_or(0) as usize;
                        if f.warnings().len() != want {
                            failures.push(format!(
                                "{where_}: {cond:?}: {} warnings {:?}, expected {want}",
                                f.warnings().len(),
                                f.warnings()
                            ));
                        }
                    }
                    (Err(_), false) => {}
                    (Ok(_), false) => failures.push(format!("{where_}: {cond:?} compiled, expected failure")),
                    (Err(e), true) => failures.push(format!("{where_}: {cond:?} failed: {e}")),
                }
            }
            Some("run") => {
                runs += 1;
                let expect = case["expect"].as_bool().expect("run expectation is a bool");
                match &compiled {
                    Ok(f) => {
                        if f.matches(&event) != expect {
                            failures.push(format!("{where_}: {cond:?} evaluated to {}", !expect));
                        }
                    }
                    Err(e) => failures.push(format!("{where_}: {cond:?} failed: {e}")),
                }
            }
            other => failures.push(format!("{where_}: unknown kind {other:?}")),
        }
    }
    assert_eq!((count, compiles, runs), (365, 325, 40), "case counts");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Loads rules files through the loader, resolves macros in definition order and compiles
/// every enabled rule, returning (rule name, filter).
fn compile_ruleset(
    files: &[(&str, Vec<u8>)],
) -> Vec<(String, sealwatch_rules::compile::CompiledFilter)> {
    use sealwatch_rules::condition::Ast;
    use std::collections::HashMap;
    let loaded = sealwatch_rules::loader::load_all(files.iter().map(|(n, b)| (*n, b.as_slice())));
    assert!(!loaded.has_errors(), "loader errors: {:?}", loaded.diagnostics);
    let mut macros: HashMap<String, Ast> = HashMap::new();
    for (m, cond) in loaded.files.macros.iter().zip(&loaded.macro_conditions) {
        let mut ast = parse_with(cond, &ParseOptions::FALCO_RULES)
            .unwrap_or_else(|e| panic!("macro {}: {cond:?}: {e}", m.name))
            .ast;
        ast.substitute_identifiers(&mut |name, _| macros.get(name).cloned());
        macros.insert(m.name.clone(), ast);
    }
    let mut out = Vec::new();
    for (r, cond) in loaded.files.rules.iter().zip(&loaded.rule_conditions) {
        if !r.enabled {
            continue;
        }
        let mut ast = parse_with(cond, &ParseOptions::FALCO_RULES)
            .unwrap_or_else(|e| panic!("rule {}: {e}", r.name))
            .ast;
        ast.substitute_identifiers(&mut |name, _| macros.get(name).cloned());
        let filter = compile(&ast, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("rule {}: {e}", r.name));
        out.push((r.name.clone(), filter));
    }
    out
}

#[test]
fn upstream_rulesets_compile() {
    let mut files = Vec::new();
    for name in ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"] {
        let Some(path) = sealwatch_test::require_shared(&format!("conformance/falco/rules/{name}")) else {
            return;
        };
        files.push((name, std::fs::read(&path).expect("read rules")));
    }
    let stable = compile_ruleset(&files[..1]);
    assert_eq!(stable.len(), 25, "the stable file has 25 enabled rules");
    // Every stable rule is restricted by event type except none: Falco warns about
    // unrestricted rules, and the stable set is written to avoid them.
    for (name, f) in &stable {
        assert!(!f.event_types().is_empty(), "{name} can never match");
        assert!(!f.matches_all_event_types(), "{name} matches every event type");
    }
    let all = compile_ruleset(&files);
    assert_eq!(all.len(), 81, "81 enabled rules across the three files");
}

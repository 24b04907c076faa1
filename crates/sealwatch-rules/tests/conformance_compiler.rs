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
        CustomField {
            name: "c.true".into(),
            ftype: FieldType::CharBuf,
            extract: t,
        },
        CustomField {
            name: "c.false".into(),
            ftype: FieldType::CharBuf,
            extract: f,
        },
        CustomField {
            name: "c.buffer".into(),
            ftype: FieldType::ByteBuf,
            extract: none,
        },
        CustomField {
            name: "c.doublequote".into(),
            ftype: FieldType::CharBuf,
            extract: dq,
        },
        CustomField {
            name: "c.singlequote".into(),
            ftype: FieldType::CharBuf,
            extract: sq,
        },
    ]
}

#[test]
fn compiler_cases() {
    let Some(path) = sealwatch_test::require_shared("conformance/falco/compiler-cases.jsonl")
    else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read compiler cases");
    let mock = CompileOptions {
        custom_fields: mock_fields(),
    };
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
        let options = if case["factory"] == "mock" {
            &mock
        } else {
            &sinsp
        };
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
                    (Ok(_), false) => {
                        failures.push(format!("{where_}: {cond:?} compiled, expected failure"))
                    }
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
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Loads rules files through the loader, resolves macros in definition order and compiles
/// every enabled rule, returning (rule name, filter).
fn compile_ruleset(
    files: &[(&str, Vec<u8>)],
) -> Vec<(String, sealwatch_rules::compile::CompiledFilter)> {
    use sealwatch_rules::condition::Ast;
    use std::collections::HashMap;
    let loaded = sealwatch_rules::loader::load_all(files.iter().map(|(n, b)| (*n, b.as_slice())));
    assert!(
        !loaded.has_errors(),
        "loader errors: {:?}",
        loaded.diagnostics
    );
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
    for name in [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ] {
        let Some(path) = sealwatch_test::require_shared(&format!("conformance/falco/rules/{name}"))
        else {
            return;
        };
        files.push((name, std::fs::read(&path).expect("read rules")));
    }
    let stable = compile_ruleset(&files[..1]);
    assert_eq!(stable.len(), 25, "the stable file has 25 enabled rules");
    // Falco warns about rules without an event-type restriction; the stable set has none,
    // and none of its rules is unsatisfiable.
    for (name, f) in &stable {
        assert!(!f.event_types().is_empty(), "{name} can never match");
        assert!(
            !f.matches_all_event_types(),
            "{name} matches every event type"
        );
    }
    let all = compile_ruleset(&files);
    assert_eq!(all.len(), 81, "81 enabled rules across the three files");
}

fn shell_event(tty: u32, parent: &str) -> Event {
    use sealwatch_rules::event::{ContainerInfo, ThreadInfo};
    use std::sync::Arc;
    let mut p = ThreadInfo {
        name: parent.to_owned(),
        exe: parent.to_owned(),
        pid: 10,
        ..ThreadInfo::default()
    };
    p.refresh_derived();
    let mut t = ThreadInfo {
        name: "bash".to_owned(),
        exe: "bash".to_owned(),
        exepath: "/usr/bin/bash".to_owned(),
        pid: 11,
        ppid: 10,
        tty,
        loginuid: -1,
        container_id: "4f1d2c3b4a59".to_owned(),
        container: Some(Arc::new(ContainerInfo {
            id: "4f1d2c3b4a59".to_owned(),
            name: "web".to_owned(),
            ..ContainerInfo::default()
        })),
        parent: Some(Arc::new(p)),
        ..ThreadInfo::default()
    };
    t.refresh_derived();
    let mut e = Event::new(EventType::from_name("execve").expect("execve"));
    e.num = 1;
    e.res = Some(0);
    e.thread = Some(Arc::new(t));
    e.refresh_derived();
    e
}

fn read_event(process: &str, path: &str) -> Event {
    use sealwatch_rules::event::{FdInfo, FdType, ThreadInfo};
    use std::sync::Arc;
    let mut t = ThreadInfo {
        name: process.to_owned(),
        exe: process.to_owned(),
        exepath: format!("/usr/bin/{process}"),
        pid: 20,
        loginuid: -1,
        container_id: "host".to_owned(),
        ..ThreadInfo::default()
    };
    t.refresh_derived();
    let mut e = Event::new(EventType::from_name("openat").expect("openat"))
        .with_arg("name", path)
        .with_arg("flags", "O_RDONLY");
    e.num = 2;
    e.res = Some(3);
    e.open_flags.read = true;
    e.thread = Some(Arc::new(t));
    e.fd = Some(FdInfo {
        num: 3,
        fd_type: FdType::File,
        name: path.to_owned(),
        nameraw: path.to_owned(),
        ..FdInfo::default()
    });
    e.refresh_derived();
    e
}

#[test]
fn stable_rules_fire_on_matching_events() {
    use sealwatch_rules::compile::RuleIndex;
    let Some(path) = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")
    else {
        return;
    };
    let rules = compile_ruleset(&[(
        "falco_rules.yaml",
        std::fs::read(&path).expect("read rules"),
    )]);
    let names: Vec<String> = rules.iter().map(|(n, _)| n.clone()).collect();
    let mut index = RuleIndex::new();
    for (id, (_, filter)) in rules.into_iter().enumerate() {
        index.add(id, filter);
    }
    let fired = |e: &Event| -> Vec<String> {
        let mut hits = Vec::new();
        index.evaluate(e, &mut |id| hits.push(id));
        // The per-type specialised conditions agree with evaluating every rule in full.
        let direct: Vec<usize> = index
            .rules()
            .filter(|(_, f)| f.matches(e))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(hits, direct, "index and direct evaluation disagree");
        hits.iter().map(|&i| names[i].clone()).collect()
    };
    let shell = "Terminal shell in container".to_owned();
    let read = "Read sensitive file untrusted".to_owned();
    assert!(fired(&shell_event(34816, "containerd-shim")).contains(&shell));
    assert!(
        !fired(&shell_event(0, "containerd-shim")).contains(&shell),
        "no tty"
    );
    assert!(
        !fired(&shell_event(34816, "nginx")).contains(&shell),
        "not an entrypoint"
    );
    assert!(fired(&read_event("python3", "/etc/shadow")).contains(&read));
    assert!(
        !fired(&read_event("passwd", "/etc/shadow")).contains(&read),
        "trusted program"
    );
    assert!(
        !fired(&read_event("python3", "/etc/hosts")).contains(&read),
        "not sensitive"
    );
}

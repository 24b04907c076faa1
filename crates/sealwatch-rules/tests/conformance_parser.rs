//! Every case of `conformance/falco/parser-cases.jsonl` (extracted from libsinsp's parser tests),
//! plus the generated 100,000-`(` depth case.

use sealwatch_rules::condition::{parse, parse_with, Ast, Operand, ParseOptions};
use serde_json::{json, Value};

fn operand_json(o: &Operand) -> Value {
    match o {
        Operand::Field(f) => match &f.arg {
            Some(a) => json!({"field": f.name, "arg": a}),
            None => json!({"field": f.name}),
        },
        Operand::Transform {
            transformer, args, ..
        } => {
            if args.len() == 1 {
                json!({"transform": transformer.as_str(), "arg": operand_json(&args[0])})
            } else {
                json!({"transform": transformer.as_str(), "args": args.iter().map(operand_json).collect::<Vec<_>>()})
            }
        }
        Operand::Value { text, .. } => json!({ "value": text }),
        Operand::List { items, .. } => json!({ "list": items }),
        Operand::TransformerList { items, .. } => {
            json!({"transformer_list": items.iter().map(operand_json).collect::<Vec<_>>()})
        }
    }
}

/// The README's JSON rendering of an AST.
fn ast_json(a: &Ast) -> Value {
    match a {
        Ast::And { children, .. } => {
            json!({"and": children.iter().map(ast_json).collect::<Vec<_>>()})
        }
        Ast::Or { children, .. } => {
            json!({"or": children.iter().map(ast_json).collect::<Vec<_>>()})
        }
        Ast::Not { child, .. } => json!({ "not": ast_json(child) }),
        Ast::Identifier { name, .. } => json!({ "identifier": name }),
        Ast::Check(c) => match &c.right {
            None => json!({"check": {"left": operand_json(&c.left), "op": c.op_text()}}),
            Some(r) => {
                json!({"check": {"left": operand_json(&c.left), "op": c.op_text(), "right": operand_json(r)}})
            }
        },
    }
}

#[test]
fn parser_cases() {
    let Some(path) = sealwatch_test::require_shared("conformance/falco/parser-cases.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read parser cases");
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        let case: Value = serde_json::from_str(line).expect("case is JSON");
        let cond = case["condition"].as_str().expect("condition");
        let expect = case["expect"].as_str().expect("expect");
        let where_ = format!("line {} ({} @{})", i + 1, case["test"], case["line"]);
        let result = parse_with(cond, &ParseOptions::default());
        match (expect, &result) {
            ("accept", Ok(parsed)) => {
                if let Some(ast) = case.get("ast") {
                    let got = ast_json(&parsed.ast);
                    if &got != ast {
                        failures.push(format!("{where_}: {cond:?}: ast {got} != {ast}"));
                    }
                }
                if let Some(end) = case.get("end_pos") {
                    let got = json!({"idx": parsed.end.offset, "line": parsed.end.line, "col": parsed.end.col});
                    if &got != end {
                        failures.push(format!("{where_}: {cond:?}: end {got} != {end}"));
                    }
                }
                if case["whitespace_variants"].as_bool() == Some(true) {
                    let padded = format!(" {cond} ");
                    for variant in [
                        padded.clone(),
                        padded.replace(' ', "\n"),
                        padded.replace(' ', "\t"),
                    ] {
                        if let Err(e) = parse(&variant) {
                            failures.push(format!("{where_}: variant {variant:?} rejected: {e}"));
                        }
                    }
                }
            }
            ("reject", Err(e)) => {
                if let Some(msg) = case.get("msg").and_then(Value::as_str) {
                    if e.message != msg {
                        failures.push(format!(
                            "{where_}: {cond:?}: message {:?} != {msg:?}",
                            e.message
                        ));
                    }
                }
            }
            ("accept", Err(e)) => failures.push(format!("{where_}: {cond:?} rejected: {e}")),
            ("reject", Ok(p)) => failures.push(format!("{where_}: {cond:?} accepted: {:?}", p.ast)),
            _ => failures.push(format!("{where_}: unknown expectation {expect}")),
        }
    }
    assert_eq!(count, 545, "the file has 545 cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn deep_nesting_hits_the_depth_limit() {
    let input = "(".repeat(100_000);
    let err = parse(&input).expect_err("must be rejected");
    assert_eq!(err.message, "exceeded max depth limit of 100");
    // Falco's rule depth accepts what 100 rejects.
    let nested = format!("{}a{}", "(".repeat(50), ")".repeat(50));
    assert!(parse(&nested).is_err());
    assert!(parse_with(&nested, &ParseOptions::FALCO_RULES).is_ok());
    // Close to Falco's limit the recursion still fits a test thread's stack, and compiles.
    let deepest = format!("{}proc.name = a{}", "(".repeat(190), ")".repeat(190));
    let parsed = parse_with(&deepest, &ParseOptions::FALCO_RULES).expect("190 levels parse");
    sealwatch_rules::compile::compile(&parsed.ast, &Default::default()).expect("and compile");
    let too_deep = format!("{}a{}", "(".repeat(250), ")".repeat(250));
    let err = parse_with(&too_deep, &ParseOptions::FALCO_RULES).expect_err("250 levels");
    assert_eq!(err.message, "exceeded max depth limit of 1000");
}

/// Random token soup (a fixed-seed generator, so failures reproduce): the parser, compiler and
/// evaluator must return errors, never panic, whatever they are given.
#[test]
fn random_input_never_panics() {
    use sealwatch_rules::compile::{compile, CompileOptions};
    use sealwatch_rules::event::{Event, EventType};
    const TOKENS: &[&str] = &[
        "proc.name",
        "proc.aname[2]",
        "evt.arg.flags",
        "evt.arg[",
        "fd.sip",
        "fd.net",
        "evt.type",
        "evt.num",
        "evt.buffer",
        "container.mount.dest[/proc*]",
        "tolower(",
        "val(",
        "join(",
        "b64(",
        "len(",
        "(",
        ")",
        "[",
        "]",
        ",",
        " ",
        "\t",
        "\n",
        "and",
        "or",
        "not",
        "not(",
        "=",
        "==",
        "!=",
        "<",
        ">=",
        "in",
        "pmatch",
        "intersects",
        "contains",
        "icontains",
        "glob",
        "iglob",
        "regex",
        "bcontains",
        "startswith",
        "exists",
        "oneof",
        "anyof",
        "allof",
        "'",
        "\"",
        "\\",
        "\\x4",
        "bash",
        "0",
        "-1",
        "0x1f",
        "1.5e+3",
        "10.0.0.0/8",
        "127.0.0.1",
        "*",
        "[a-",
        "é",
        "\u{0}",
        "execve",
        "macro_name",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const FIELDS: &[&str] = &[
        "proc.name",
        "proc.aname[2]",
        "proc.aname",
        "evt.arg.flags",
        "evt.arg[0]",
        "fd.sip",
        "fd.net",
        "fd.sport",
        "evt.type",
        "evt.num",
        "evt.buffer",
        "proc.pid",
        "user.uid",
        "container.mount.dest[/proc*]",
        "tolower(proc.name)",
        "len(fd.name)",
        "b64(proc.cmdline)",
        "proc.env[HOME]",
        "evt.is_open_read",
    ];
    const OPS: &[&str] = &[
        "=",
        "!=",
        "<",
        ">=",
        "in",
        "pmatch",
        "intersects",
        "contains",
        "icontains",
        "glob",
        "iglob",
        "regex",
        "bcontains",
        "startswith",
        "exists",
        "= anyof",
        "startswith allof",
    ];
    const VALUES: &[&str] = &[
        "bash",
        "0",
        "-1",
        "(bash, sh)",
        "()",
        "10.0.0.0/8",
        "127.0.0.1",
        "'a*[b-'",
        "true",
        "val(proc.pname)",
        "48545450",
        "'(unclosed'",
        "\"\\x41\"",
        "/etc",
        "https",
        "1.5",
    ];
    let event = Event::new(EventType::from_name("execve").expect("execve"));
    let (mut parsed, mut compiled) = (0, 0);
    for i in 0..20_000 {
        let input = if i % 2 == 0 {
            let len = 1 + (next() % 12) as usize;
            (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(if next() % 2 == 0 { " " } else { "" })
        } else {
            let checks = 1 + (next() % 4) as usize;
            let mut text = String::new();
            for c in 0..checks {
                if c > 0 {
                    text.push_str(if next() % 2 == 0 { " and " } else { " or " });
                }
                if next() % 3 == 0 {
                    text.push_str("not ");
                }
                let pick = |n: u64, list: &[&'static str]| list[(n % list.len() as u64) as usize];
                text.push_str(pick(next(), FIELDS));
                text.push(' ');
                let op = pick(next(), OPS);
                text.push_str(op);
                if op != "exists" {
                    text.push(' ');
                    text.push_str(pick(next(), VALUES));
                }
            }
            text
        };
        if let Ok(p) = parse_with(&input, &ParseOptions::FALCO_RULES) {
            parsed += 1;
            if let Ok(f) = compile(&p.ast, &CompileOptions::default()) {
                compiled += 1;
                let _ = f.matches(&event);
                let _ = f.event_types();
            }
        }
    }
    // The generator must reach the compiler and the evaluator, or this test proves little.
    assert!(parsed > 3000, "only {parsed} inputs parsed");
    assert!(compiled > 1000, "only {compiled} inputs compiled");
}

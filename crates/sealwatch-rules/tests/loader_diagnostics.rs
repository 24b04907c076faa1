//! Rules files with each kind of mistake give Falco's diagnostics, with file:line:column, and
//! every one of them at once.

use sealwatch_rules::diagnostic::{Code, Diagnostic};
use sealwatch_rules::loader::{load_all, Loaded};

fn load(files: &[(&str, &str)]) -> Loaded {
    load_all(files.iter().map(|(n, t)| (*n, t.as_bytes())))
}

/// `expect`: (code, line, column, a fragment of the message). Unused-list warnings are ignored
/// unless the case asks for them.
fn check(files: &[(&str, &str)], expect: &[(Code, u32, u32, &str)]) {
    let loaded = load(files);
    let got: Vec<&Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.code != Code::UnusedList || expect.iter().any(|e| e.0 == Code::UnusedList))
        .collect();
    let shown: Vec<String> = got.iter().map(|d| d.to_string()).collect();
    assert_eq!(got.len(), expect.len(), "diagnostics: {shown:#?}");
    for (d, (code, line, column, fragment)) in got.iter().zip(expect) {
        assert_eq!(
            (d.code, d.location.line, d.location.column),
            (*code, *line, *column),
            "{d} (all: {shown:#?})"
        );
        assert!(d.message.contains(fragment), "{d}: expected {fragment:?}");
    }
}

const BASE: &str = "\
- macro: spawned_process
  condition: evt.type in (execve, execveat)
- rule: Base
  desc: d
  condition: spawned_process
  output: o %proc.name
  priority: NOTICE
";

#[test]
fn clean_file_has_no_diagnostics() {
    check(&[("base.yaml", BASE)], &[]);
}

#[test]
fn yaml_syntax_error_names_the_place() {
    check(
        &[("bad.yaml", "- rule: x\n  desc: [unclosed\n- list: y\n")],
        &[(Code::ErrYamlParse, 3, 7, "")],
    );
}

#[test]
fn not_a_sequence_of_maps() {
    check(
        &[("a.yaml", "rule: x\n")],
        &[(
            Code::ErrYamlValidate,
            1,
            1,
            "Rules content is not yaml array of objects",
        )],
    );
    check(
        &[("a.yaml", "- just a string\n")],
        &[(Code::ErrYamlValidate, 1, 3, "Unexpected element type")],
    );
}

#[test]
fn every_error_of_a_file_at_once() {
    let text = "\
- rule: No priority
  desc: d
  condition: evt.type=open
  output: o
- rule: Bad priority
  desc: d
  condition: evt.type=open
  output: o
  priority: SEVERE
- list: l
  items: [a, b]
  colour: red
- macro: m
  condition: evt.type=open
  override:
    condition: prepend
- what: is this
- rule: Bad enabled
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  enabled: maybe
";
    check(
        &[("many.yaml", text)],
        &[
            (
                Code::ErrYamlValidate,
                1,
                3,
                "Item has no mapping for key 'priority'",
            ),
            (Code::ErrYamlValidate, 9, 13, "Invalid priority"),
            (Code::UnknownKey, 12, 3, "Unknown key 'colour'"),
            (
                Code::ErrYamlValidate,
                16,
                16,
                "Invalid override operation for key 'condition': 'prepend'",
            ),
            (Code::UnknownItem, 17, 3, "Unknown top level item"),
            (
                Code::ErrYamlValidate,
                23,
                12,
                "Can't decode YAML scalar value",
            ),
            (Code::UnusedList, 10, 3, "List not referred to"),
        ],
    );
}

#[test]
fn empty_and_non_scalar_values() {
    check(
        &[(
            "a.yaml",
            "- macro: m\n  condition:\n- macro: n\n  condition: [a]\n",
        )],
        &[
            (
                Code::ErrYamlValidate,
                2,
                12,
                "Mapping for key 'condition' is empty",
            ),
            (Code::ErrYamlValidate, 4, 14, "is not a scalar value"),
        ],
    );
}

#[test]
fn override_rules_follow_falco() {
    let text = "\
- rule: Base
  priority: WARNING
  override:
    priority: append
- rule: Base
  condition: and proc.name=x
  output: more
  override:
    condition: append
- rule: Base
  enabled: false
  override:
    enabled: replace
    desc: replace
- rule: Base
  condition: and proc.name=y
  append: true
  override:
    condition: append
- rule: Missing
  condition: and x
  override:
    condition: append
- rule: Missing too
  priority: ERROR
  override:
    priority: replace
- macro: nowhere
  condition: x
  override:
    condition: append
- list: nolist
  items: [x]
  append: true
- rule: Base
  source: k8s_audit
  desc: d
  condition: x
  output: o
  priority: INFO
";
    check(
        &[("base.yaml", BASE), ("override.yaml", text)],
        &[
            (
                Code::ErrYamlValidate,
                4,
                5,
                "Key 'priority' cannot be appended to, use 'replace' instead",
            ),
            (
                Code::ErrYamlValidate,
                7,
                11,
                "Unexpected key 'output': no corresponding entry under 'override' is defined.",
            ),
            (
                Code::ErrYamlValidate,
                13,
                5,
                "An replace override for 'desc' was specified but 'desc' is not defined",
            ),
            (Code::DeprecatedItem, 15, 3, "'append' key is deprecated"),
            (
                Code::ErrYamlValidate,
                15,
                3,
                "Keys 'override' and 'append: true' cannot be used together",
            ),
            (
                Code::ErrValidate,
                20,
                3,
                "Rule uses 'append' or 'override.<key>: append' but no rule by that name",
            ),
            (
                Code::ErrValidate,
                24,
                3,
                "An 'override.<key>: replace' to a rule was requested but no rule by that name",
            ),
            (
                Code::ErrValidate,
                28,
                3,
                "Macro uses 'append' or 'override.condition: append' but no macro by that name",
            ),
            (Code::DeprecatedItem, 32, 3, "'append' key is deprecated"),
            (
                Code::ErrValidate,
                32,
                3,
                "List uses 'append' or 'override.items: append' but no list by that name",
            ),
            (
                Code::UnknownSource,
                35,
                3,
                "Unknown source k8s_audit, skipping",
            ),
            (
                Code::ErrValidate,
                35,
                3,
                "Rule has been re-defined with a different source",
            ),
        ],
    );
}

#[test]
fn appends_concatenate_text_and_order_matters_across_files() {
    let text = "\
- macro: spawned_process
  condition: or evt.type=clone
  override:
    condition: append
- rule: Base
  condition: and proc.name=bash
  output: (more)
  tags: [extra]
  override:
    condition: append
    output: append
    tags: append
- rule: Base
  priority: critical
  override:
    priority: replace
- rule: Base
  enabled: false
";
    let loaded = load(&[("base.yaml", BASE), ("local.yaml", text)]);
    let codes: Vec<Code> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        vec![Code::DeprecatedItem],
        "{:#?}",
        loaded.diagnostics
    );
    let rule = loaded.files.rule("Base").expect("rule");
    assert_eq!(rule.condition, "spawned_process and proc.name=bash");
    assert_eq!(rule.output, "o %proc.name (more)");
    assert_eq!(rule.priority.as_str(), "Critical");
    assert!(!rule.enabled);
    assert!(rule.tags.contains("extra"));
    assert_eq!(
        loaded.macro_conditions[0],
        "evt.type in (execve, execveat) or evt.type=clone"
    );

    // The same override before the definition fails: order matters.
    let reversed = load(&[("local.yaml", text), ("base.yaml", BASE)]);
    assert!(reversed.has_errors());
}

#[test]
fn engine_and_plugin_requirements() {
    check(
        &[(
            "req.yaml",
            "- required_engine_version: 0.57.0\n- required_engine_version: 99\n- required_engine_version: 1.x\n\
             - required_plugin_versions:\n  - name: container\n    version: 0.4.0\n  - name: k8saudit\n    version: 0.1.0\n  - name: json\n    version: one\n",
        )],
        &[
            (Code::ErrValidate, 2, 28, "Rules require engine version 0.99.0, but engine version is 0.57.0"),
            (Code::ErrYamlValidate, 3, 28, "Unable to parse engine version '1.x'"),
            (Code::ErrValidate, 7, 5, "Plugin requirement not satisfied: k8saudit 0.1.0"),
            (Code::ErrYamlValidate, 9, 5, "invalid version 'one'"),
        ],
    );
    // An alternative naming the container plugin is satisfied.
    check(
        &[(
            "alt.yaml",
            "- required_plugin_versions:\n  - name: k8smeta\n    version: 0.1.0\n    alternatives:\n    - name: container\n      version: 0.4.0\n",
        )],
        &[],
    );
}

#[test]
fn invalid_names_and_legacy_enabled_are_warnings() {
    check(
        &[("base.yaml", BASE), ("n.yaml", "- macro: 1bad\n  condition: x\n- list: 'a b'\n  items: []\n- rule: Base\n  enabled: false\n- rule: Nope\n  enabled: false\n")],
        &[
            (Code::InvalidMacroName, 1, 3, "Macro has an invalid name"),
            (Code::InvalidListName, 3, 3, "List has an invalid name"),
            (Code::DeprecatedItem, 5, 3, "The standalone 'enabled' key usage is deprecated"),
            (Code::DeprecatedItem, 7, 3, "The standalone 'enabled' key usage is deprecated"),
            (Code::ErrValidate, 7, 3, "Rule has 'enabled' key but no rule by that name already exists"),
        ],
    );
}

#[test]
fn exceptions_are_validated_and_compiled() {
    let text = "\
- rule: With exceptions
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
  - name: by_proc
    fields: proc.name
    values: [cat, my tool]
  - name: by_pair
    fields: [proc.name, fd.directory]
    comps: [=, startswith]
    values:
    - [vi, /etc]
  - name: by_proc
    fields: proc.pname
- rule: Bad exceptions
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
  - name: len_mismatch
    fields: [proc.name, fd.name]
    comps: [=]
  - name: bad_op
    fields: proc.name
    comps: '='
  - name: no_fields
    values: [x]
";
    check(
        &[("ex.yaml", text)],
        &[
            (
                Code::ExceptionNameNotUnique,
                15,
                5,
                "Multiple definitions of exception 'by_proc'",
            ),
            (
                Code::ErrYamlValidate,
                29,
                5,
                "item has no mapping for key 'fields'",
            ),
        ],
    );
    let ok = text
        .split("- rule: Bad exceptions")
        .next()
        .unwrap_or_default();
    let loaded = load(&[("ex.yaml", ok)]);
    assert_eq!(
        loaded.rule_conditions[0],
        "(evt.type=open) and not (proc.name in (cat, \"my tool\")) and not ((proc.name = vi and fd.directory startswith /etc))"
    );
    let bad = format!(
        "{}{}",
        "- rule: Bad exceptions",
        text.split("- rule: Bad exceptions")
            .nth(1)
            .unwrap_or_default()
    )
    .replace("  - name: no_fields\n    values: [x]\n", "");
    check(
        &[("bad.yaml", &bad)],
        &[
            (
                Code::ErrValidate,
                7,
                5,
                "fields and comps lists must have equal length",
            ),
            (
                Code::ErrValidate,
                10,
                5,
                "comps must be one of (in, pmatch, intersects)",
            ),
        ],
    );
}

#[test]
fn lists_of_lists_and_redefinitions_keep_position() {
    let text = "\
- list: shells
  items: [bash, sh]
- list: all_shells
  items: [shells, zsh]
- macro: shell_proc
  condition: proc.name in (all_shells)
- list: shells
  items: [ash]
";
    let loaded = load(&[("l.yaml", text)]);
    // all_shells was defined after the first `shells`, so it expands it; the redefinition of
    // `shells` keeps its position and the earlier expansion stays as Falco computes it.
    assert_eq!(loaded.lists[1].items, vec!["ash", "zsh"]);
    assert_eq!(loaded.files.lists[0].items, vec!["ash"]);
    assert_eq!(loaded.files.lists.len(), 2);
    assert_eq!(loaded.macro_conditions[0], "proc.name in ( ash, zsh )");
}

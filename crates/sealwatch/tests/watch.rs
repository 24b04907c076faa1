//! `sealwatch watch` and `sealwatch rules validate`, run as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sealwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running sealwatch: {e}"))
}

fn runtime_data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sealwatch-runtime/tests/data")
        .join(file)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn rules() -> Option<(PathBuf, PathBuf)> {
    Some((
        sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")?,
        sealwatch_test::require_shared("conformance/falco/seed-rule.yaml")?,
    ))
}

const SEED_LINE: &str =
    "13:44:05.478445995: Warning Shell spawned in container (user=root container=<NA> shell=bash parent=runc)";

#[test]
fn watch_prints_the_seed_alert_as_text() {
    let Some((stable, seed)) = rules() else {
        return;
    };
    let replay = runtime_data("seed_container_shell.jsonl");
    let out = sealwatch(&[
        "watch",
        "-r",
        &stable.display().to_string(),
        "--rules",
        &seed.display().to_string(),
        "--replay",
        &replay.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{SEED_LINE}\n"));
    assert!(
        text(&out.stderr).contains("1 alert(s), 1 delivered, 0 dropped"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn watch_writes_json_alerts_to_a_file() {
    let Some((stable, seed)) = rules() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let alerts = dir.path().join("alerts.jsonl");
    let replay = runtime_data("seed_container_shell.jsonl");
    let out = sealwatch(&[
        "watch",
        "-r",
        &stable.display().to_string(),
        "-r",
        &seed.display().to_string(),
        "--replay",
        &replay.display().to_string(),
        "--output",
        "json",
        "--file",
        &alerts.display().to_string(),
        "--no-stdout",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let written = std::fs::read_to_string(&alerts).unwrap_or_default();
    let json: serde_json::Value =
        serde_json::from_str(written.trim()).unwrap_or_else(|e| panic!("{e}: {written}"));
    assert_eq!(json["rule"], "Terminal shell in container");
    assert_eq!(json["output"], SEED_LINE);
    assert_eq!(json["time"], "2023-05-25T13:44:05.478445995Z");
    assert_eq!(json["hostname"], "node-1");
    assert_eq!(
        json["output_fields"]["container.name"],
        serde_json::Value::Null
    );
    assert_eq!(json["output_fields"]["proc.pname"], "runc");
}

#[test]
fn watch_exits_0_without_alerts_and_honours_rule_selection() {
    let Some((stable, seed)) = rules() else {
        return;
    };
    let replay = runtime_data("seed_container_shell.jsonl");
    let out = sealwatch(&[
        "watch",
        "-r",
        &stable.display().to_string(),
        "-r",
        &seed.display().to_string(),
        "--replay",
        &replay.display().to_string(),
        "--disable-rule",
        "Terminal shell*",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let out = sealwatch(&[
        "watch",
        "-r",
        &stable.display().to_string(),
        "-r",
        &seed.display().to_string(),
        "--replay",
        &replay.display().to_string(),
        "--priority",
        "error",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
}

#[test]
fn malformed_replay_names_file_and_line_and_exits_2() {
    let Some((stable, _)) = rules() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let replay = dir.path().join("bad.jsonl");
    std::fs::write(
        &replay,
        "{\"type\":\"execve\",\"pid\":1}\n{\"type\":\"execve\",\"pid\":\n",
    )
    .unwrap_or_default();
    let out = sealwatch(&[
        "watch",
        "-r",
        &stable.display().to_string(),
        "--replay",
        &replay.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2: invalid JSON", replay.display())),
        "{stderr}"
    );
}

#[test]
fn rules_validate_reports_every_error_with_place_and_exits_1() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad_rules.yaml");
    std::fs::write(
        &bad,
        "- macro: m\n  condition: evt.type=execve\n- rule: r1\n  desc: d\n  condition: m and undefined_macro\n  output: x\n  priority: WARNING\n- rule: r2\n  desc: d\n  condition: m\n  output: x\n  priority: LOUD\n",
    )
    .unwrap_or_default();
    let out = sealwatch(&["rules", "validate", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let name = bad.display().to_string();
    assert!(
        stdout.contains(&format!("{name}:12:13: error: Invalid priority")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{name}:5:14: error: Undefined macro 'undefined_macro' used in filter."
        )),
        "{stdout}"
    );
}

#[test]
fn rules_validate_accepts_the_stable_ruleset_folder_order() {
    let Some((stable, seed)) = rules() else {
        return;
    };
    let out = sealwatch(&[
        "rules",
        "validate",
        &stable.display().to_string(),
        &seed.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("rules ok: 25 rule(s)"),
        "{}",
        text(&out.stderr)
    );
    // Alone, the seed rule misses its macros.
    let out = sealwatch(&["rules", "validate", &seed.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn rules_folders_load_their_files_in_name_order() {
    let base = "- rule: Shell\n  desc: d\n  condition: evt.type = execve and proc.name = bash\n  output: shell %proc.name\n  priority: NOTICE\n";
    let local =
        "- rule: Shell\n  condition: and user.name != root\n  override:\n    condition: append\n";
    let check = |first: (&str, &str), second: (&str, &str), expect: i32| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (name, body) in [first, second] {
            std::fs::write(dir.path().join(name), body).unwrap_or_else(|e| panic!("{e}"));
        }
        let out = sealwatch(&["rules", "validate", &dir.path().display().to_string()]);
        assert_eq!(
            out.status.code(),
            Some(expect),
            "stdout: {}",
            text(&out.stdout)
        );
    };
    check(("10-base.yaml", base), ("20-local.yaml", local), 0);
    // The override's file sorts first: there is no rule to append to yet, as in Falco.
    check(("20-base.yaml", base), ("10-local.yaml", local), 1);
}

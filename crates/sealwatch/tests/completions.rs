//! `sealwatch completions` and `sealwatch man`: the generated scripts and pages cover every
//! subcommand the binary's own `--help` lists, are valid for their consumers (`bash -n`, groff), and
//! a bad output folder is a clear error.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sealwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running sealwatch {args:?}: {e}"))
}

fn stdout_of(args: &[&str]) -> String {
    let output = sealwatch(args);
    assert!(
        output.status.success(),
        "sealwatch {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap_or_else(|e| panic!("non-UTF-8 output: {e}"))
}

/// The subcommands `sealwatch [SUB] --help` lists under "Commands:", except clap's `help`.
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let help = stdout_of(&args);
    let section = help
        .split("Commands:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no Commands section in {path:?} --help:\n{help}"));
    section
        .lines()
        .take_while(|line| !line.trim().is_empty())
        // Command lines are indented by two; wrapped descriptions by more.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_names_every_subcommand_and_parses() {
    let top = subcommands(&[]);
    assert!(
        top.len() >= 15 && top.iter().any(|c| c == "scan") && top.iter().any(|c| c == "man"),
        "unexpected subcommand list {top:?}"
    );
    let script = stdout_of(&["completions", "bash"]);
    for name in &top {
        assert!(
            script.contains(&format!("sealwatch,{name})")),
            "bash completion does not complete `{name}`"
        );
    }
    for nested in ["db", "policy", "rules", "admission"] {
        for name in subcommands(&[nested]) {
            assert!(
                script.contains(&format!("sealwatch__{nested},{name})"))
                    || script.contains(&format!("sealwatch__subcmd__{nested},{name})")),
                "bash completion does not complete `{nested} {name}`"
            );
        }
    }
    // Flags of a subcommand are offered too.
    assert!(script.contains("--ignore-unfixed"), "scan flags missing");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("sealwatch.bash");
    std::fs::write(&file, &script).unwrap_or_else(|e| panic!("writing the script: {e}"));
    let check = Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("running bash -n: {e}"));
    assert!(
        check.status.success(),
        "bash -n rejects the completion script: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn other_shells_get_their_own_syntax() {
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef sealwatch"),
        "zsh header: {zsh:.40}"
    );
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c sealwatch"), "fish script");
    assert!(
        fish.contains("-a \"verify-attestation\""),
        "fish subcommands"
    );
    let elvish = stdout_of(&["completions", "elvish"]);
    assert!(elvish.contains("edit:completion:arg-completer[sealwatch]"));
    let powershell = stdout_of(&["completions", "powershell"]);
    assert!(powershell.contains("Register-ArgumentCompleter"));

    let unknown = sealwatch(&["completions", "tcsh"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "unknown shell is a usage error"
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("tcsh"));
}

fn assert_man_page(path: &Path, title: &str) {
    let page =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        page.contains(&format!(".TH {title} 1 ")),
        "{} has no .TH header for {title}",
        path.display()
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS"] {
        assert!(page.contains(section), "{} lacks {section}", path.display());
    }
}

/// groff renders the page without warnings, and the text names the command.
fn assert_groff_renders(path: &Path, title: &str) {
    let Ok(output) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(path)
        .output()
    else {
        // groff is not part of every minimal image; the roff structure was checked above.
        return;
    };
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "groff warns on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = Command::new("groff")
        .args(["-man", "-Tascii"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("groff: {e}"));
    let rendered = String::from_utf8_lossy(&text.stdout);
    assert!(
        rendered.contains(title),
        "rendered page does not name {title}"
    );
}

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("man1");
    let output = sealwatch(&["man", "--out", out.to_str().unwrap_or_default()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut expected = vec!["sealwatch".to_owned()];
    for name in subcommands(&[]) {
        expected.push(format!("sealwatch-{name}"));
        if ["db", "policy", "rules", "admission"].contains(&name.as_str()) {
            for nested in subcommands(&[&name]) {
                expected.push(format!("sealwatch-{name}-{nested}"));
            }
        }
    }
    for title in &expected {
        let page = out.join(format!("{title}.1"));
        assert_man_page(&page, title);
        assert_groff_renders(&page, title);
    }
    let written = std::fs::read_dir(&out)
        .unwrap_or_else(|e| panic!("listing {}: {e}", out.display()))
        .count();
    assert_eq!(written, expected.len(), "exactly one page per command");

    // A flag documented in the scan page is the flag the binary accepts.
    let scan = std::fs::read_to_string(out.join("sealwatch-scan.1"))
        .unwrap_or_else(|e| panic!("reading the scan page: {e}"));
    assert!(
        scan.contains("ignore\\-unfixed"),
        "scan page lists its flags"
    );
}

#[test]
fn man_without_out_prints_the_top_page() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH sealwatch 1 "));
    assert!(page.contains(".SH SUBCOMMANDS"));
    assert!(page.contains("verify\\-attestation"));
}

#[test]
fn man_into_a_file_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap_or_else(|e| panic!("writing: {e}"));
    let output = sealwatch(&["man", "--out", blocker.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not-a-folder"),
        "error names the path: {stderr}"
    );
    assert_eq!(
        std::fs::read(&blocker).unwrap_or_default(),
        b"x",
        "the file is left alone"
    );
}

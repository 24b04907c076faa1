//! `sealwatch rules validate FILE_OR_DIR…`: load Falco rules files in order and print every
//! diagnostic as `file:line:column: severity: message [CODE] (item)`. Exit 1 when any is an error.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use sealwatch_rules::diagnostic::{Code, Diagnostic};
use sealwatch_rules::loader::{load_and_compile, Ruleset, Selection};

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Load rules files (and folders, files in name order) in order, like Falco's `-V`, and
    /// report every error and warning with its file, line and column.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Rules files or folders, loaded in the order given.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    paths: Vec<PathBuf>,
    /// Also report unused macros and lists.
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(args: RulesArgs) -> anyhow::Result<u8> {
    match args.command {
        RulesCommand::Validate(v) => validate(v),
    }
}

/// The files named by `-r` paths, in load order: a folder gives its regular files in name
/// order (not recursive), as Falco does.
pub fn expand_rules_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("reading rules path {}", path.display()))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("listing rules folder {}", path.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Read and compile rules files; returns the rule set and all diagnostics.
pub fn load_rules(
    paths: &[PathBuf],
    selection: &Selection,
) -> anyhow::Result<(Ruleset, Vec<Diagnostic>)> {
    let files = expand_rules_paths(paths)?;
    let mut contents: Vec<(String, Vec<u8>)> = Vec::with_capacity(files.len());
    for file in &files {
        let bytes = std::fs::read(file)
            .with_context(|| format!("reading rules file {}", file.display()))?;
        contents.push((display(file), bytes));
    }
    Ok(load_and_compile(
        contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
        selection,
    ))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let (ruleset, diagnostics) = load_rules(&args.paths, &Selection::default())?;
    let shown: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| args.verbose || !matches!(d.code, Code::UnusedMacro | Code::UnusedList))
        .collect();
    for d in &shown {
        println!("{d}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = shown.len() - shown.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!("rules invalid: {errors} error(s), {warnings} warning(s)");
        Ok(1)
    } else {
        eprintln!(
            "rules ok: {} rule(s), {warnings} warning(s)",
            ruleset.rules().len()
        );
        Ok(0)
    }
}

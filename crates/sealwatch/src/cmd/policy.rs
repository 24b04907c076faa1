//! `sealwatch policy apply`: evaluate Kyverno policies against manifests offline, like
//! `kyverno apply`: a result per rule, resource and image, the JSON patch that admission would
//! apply, exit 1 when something would be denied.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use sealwatch_admission::evaluate_offline;
use sealwatch_admission::files::{
    load_policy_path, load_resources, load_values_file, namespace_labels_from_resources,
};
use sealwatch_admission::namespaces::{label_need, LabelNeed};
use sealwatch_policy::{PolicySet, RuleStatus};
use serde_json::{json, Value};

use super::admission::RegistryAccess;

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Evaluate policies against resource manifests, as admission would.
    Apply(ApplyArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// Kyverno policy file or folder (repeatable).
    #[arg(long, value_name = "FILE_OR_DIR", required = true)]
    policy: Vec<PathBuf>,
    /// Resource manifest file or folder, YAML or JSON (repeatable).
    #[arg(long, value_name = "FILE_OR_DIR", required = true)]
    resource: Vec<PathBuf>,
    /// Kyverno CLI values file; its `namespaceSelector: [{name, labels}]` gives namespace
    /// labels (besides `Namespace` objects among the resources, which it overrides).
    #[arg(long, value_name = "FILE")]
    values_file: Option<PathBuf>,
    /// Time allowed for one image verification, seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    registry: RegistryAccess,
}

pub fn run(args: PolicyArgs) -> anyhow::Result<u8> {
    match args.command {
        PolicyCommand::Apply(args) => apply(args),
    }
}

fn status_name(status: RuleStatus) -> &'static str {
    match status {
        RuleStatus::Pass => "pass",
        RuleStatus::Fail => "fail",
        RuleStatus::Warn => "warn",
        RuleStatus::Error => "error",
        RuleStatus::Skip => "skip",
    }
}

fn apply(args: ApplyArgs) -> anyhow::Result<u8> {
    let mut set = PolicySet::default();
    let mut policy_errors = false;
    for path in &args.policy {
        let loaded = load_policy_path(path)?;
        for diagnostic in &loaded.diagnostics {
            eprintln!("{diagnostic}");
        }
        policy_errors |= loaded.has_errors();
        set.extend(loaded.set);
    }
    let mut resources = Vec::new();
    let mut resource_errors = false;
    for path in &args.resource {
        let (found, errors) = load_resources(path)?;
        for error in &errors {
            eprintln!("{error}");
        }
        resource_errors |= !errors.is_empty();
        resources.extend(found);
    }
    if policy_errors || resource_errors {
        bail!("policy or resource errors (listed above)");
    }
    let mut namespaces = namespace_labels_from_resources(&resources);
    if let Some(values) = &args.values_file {
        namespaces.extend(load_values_file(values)?);
    }
    let verifier = args.registry.verifier()?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut counts = [0usize; 5];
    let mut denied = 0;
    let mut report = Vec::new();
    for resource in &resources {
        let object = &resource.object;
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let labels = namespaces.get(text("/metadata/namespace"));
        if labels.is_none() {
            if let LabelNeed::Lookup(namespace) =
                label_need(&set, text("/kind"), text("/metadata/namespace"))
            {
                eprintln!(
                    "{}: labels of namespace {namespace} are unknown (no Namespace manifest or \
                     --values-file entry); no namespaceSelector matches it",
                    resource.source
                );
            }
        }
        let Some(decision) = evaluate_offline(&set, object, labels, &verifier, timeout) else {
            continue;
        };
        let name = match text("/metadata/namespace") {
            "" => format!("{}/{}", text("/kind"), text("/metadata/name")),
            namespace => format!("{}/{namespace}/{}", text("/kind"), text("/metadata/name")),
        };
        for result in &decision.results {
            let index = match result.status {
                RuleStatus::Pass => 0,
                RuleStatus::Fail => 1,
                RuleStatus::Warn => 2,
                RuleStatus::Error => 3,
                RuleStatus::Skip => 4,
            };
            if let Some(count) = counts.get_mut(index) {
                *count += 1;
            }
            if matches!(args.format, Format::Text) {
                println!(
                    "{}: {} {}/{} {}: {}",
                    status_name(result.status).to_uppercase(),
                    name,
                    result.policy,
                    result.rule,
                    result.image,
                    result.message
                );
            }
        }
        if !decision.allowed {
            denied += 1;
        }
        match args.format {
            Format::Text => {
                for warning in &decision.warnings {
                    println!("WARNING: {name}: {warning}");
                }
                if !decision.allowed {
                    println!("DENIED: {name}: {}", decision.message.trim());
                } else if let Some(patch) = decision.patch_json() {
                    println!("PATCH: {name} ({}): {patch}", resource.source);
                }
            }
            Format::Json => report.push(json!({
                "resource": name,
                "source": resource.source,
                "allowed": decision.allowed,
                "message": decision.message.trim(),
                "results": decision.results,
                "patch": decision.patch_json(),
                "warnings": decision.warnings,
            })),
        }
    }
    let [pass, fail, warn, error, skip] = counts;
    match args.format {
        Format::Text => println!(
            "\npass: {pass}, fail: {fail}, warn: {warn}, error: {error}, skip: {skip}; {} resource(s), {denied} denied",
            resources.len()
        ),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "resources": report,
                "summary": {"pass": pass, "fail": fail, "warn": warn, "error": error, "skip": skip, "denied": denied},
            }))?
        ),
    }
    Ok(u8::from(denied > 0))
}

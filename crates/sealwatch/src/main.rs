//! The `sealwatch` command line: argument parsing, dispatch, printing and exit codes.
//!
//! Exit codes follow ripgrep and Trivy: 0 clean, 1 findings or a policy failure (configurable per
//! command with `--exit-code`), 2 usage or tool error.

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

mod cmd;
mod image;

/// Carry trust in container images from the build to the running process.
#[derive(Debug, Parser)]
#[command(name = "sealwatch", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // Each subcommand lives in its own module under `cmd/`; its `run` returns the exit code.
    /// Show what an image is made of: manifest, layers, config, OS, shells, package managers, setuid and
    /// world-writable files, whether it runs as root.
    Inspect(cmd::inspect::InspectArgs),
    /// List every package in an image as CycloneDX 1.6, SPDX 2.3, sealwatch JSON or a table.
    Sbom(cmd::sbom::SbomArgs),
    /// Scan an image for known vulnerabilities; `--exit-code` makes it a build gate.
    Scan(cmd::scan::ScanArgs),
    /// Manage the vulnerability database (update, import, status, push, pull).
    Db(cmd::db::DbArgs),
    /// Compare two images side by side: OS, size, packages, shells, package managers, setuid files, user,
    /// known vulnerabilities.
    Compare(cmd::compare::CompareArgs),
    /// Generate a cosign-compatible key pair (cosign.key / cosign.pub).
    Keygen(cmd::keygen::KeygenArgs),
    /// Verify a Sigstore bundle or a key signature for a file or sha256 digest, offline.
    VerifyBlob(cmd::verify_blob::VerifyBlobArgs),
    /// Sign an image with a cosign key; the signature goes to the registry as cosign stores it.
    Sign(cmd::sign::SignArgs),
    /// Sign a file: a base64 signature with a key, or a Sigstore bundle keylessly.
    SignBlob(cmd::sign_blob::SignBlobArgs),
    /// Sign an in-toto attestation (vuln scan, SBOM, provenance, …) about an image.
    Attest(cmd::attest::AttestArgs),
    /// Verify an image's cosign signatures with a public key.
    Verify(cmd::verify::VerifyArgs),
    /// Verify an image's in-toto attestations with a public key.
    VerifyAttestation(cmd::verify::VerifyAttestationArgs),
    /// Work with Falco rules files: `rules validate` reports every error with file:line:column.
    Rules(cmd::rules::RulesArgs),
    /// Evaluate Falco rules over events (a JSONL replay) and emit Falco-format alerts.
    Watch(cmd::watch::WatchArgs),
    /// Evaluate Kyverno policies offline: `policy apply --policy P --resource R`.
    Policy(cmd::policy::PolicyArgs),
    /// Kubernetes admission webhook enforcing Kyverno verifyImages policies.
    Admission(cmd::admission::AdmissionArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::CompletionsArgs),
    /// Write man pages generated from this command line: sealwatch(1) and one per subcommand.
    Man(cmd::completions::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Sbom(args) => cmd::sbom::run(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Db(args) => cmd::db::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::VerifyBlob(args) => cmd::verify_blob::run(args),
        Command::Sign(args) => cmd::sign::run(args),
        Command::SignBlob(args) => cmd::sign_blob::run(args),
        Command::Attest(args) => cmd::attest::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::VerifyAttestation(args) => cmd::verify::run_attestation(args),
        Command::Rules(args) => cmd::rules::run(args),
        Command::Watch(args) => cmd::watch::run(args),
        Command::Policy(args) => cmd::policy::run(args),
        Command::Admission(args) => cmd::admission::run(args),
        Command::Completions(args) => cmd::completions::run_completions(args, Cli::command()),
        Command::Man(args) => cmd::completions::run_man(args, Cli::command()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                // Like ripgrep: a closed pipe (`sealwatch … | head`) is not a failure.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        // JSON output fails inside serde_json, which keeps the I/O error kind.
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind);
        io.or(json) == Some(std::io::ErrorKind::BrokenPipe)
    })
}

//! The `sealwatch` command line: argument parsing, dispatch, printing and exit codes.
//!
//! Exit codes follow ripgrep and Trivy: 0 clean, 1 findings or a policy failure (configurable per
//! command with `--exit-code`), 2 usage or tool error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

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
}

/// An error that already carries the exit code the process should end with.
#[derive(Debug)]
pub struct Exit(pub u8);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {};
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
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

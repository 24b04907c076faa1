//! `sealwatch verify` and `sealwatch verify-attestation`: find an image's signatures or
//! attestations (referrers, then cosign's `.sig` / `.att` tags), verify them with public keys,
//! and print what verified, one JSON document per line, like cosign.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use sealwatch_sign::VerifyOptions;

use super::sign::{not_verified, parse_image, read_public_keys};
use crate::image::RegistryArgs;

/// Verify an image's signatures (cosign-compatible).
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key PEM to verify with (repeatable: any of them may have signed).
    #[arg(long, value_name = "FILE", required = true)]
    key: Vec<PathBuf>,
    /// Don't check that the signed docker-reference names the image's repository (the digest is
    /// always checked).
    #[arg(long)]
    skip_reference_check: bool,
    /// The image: `host/repo:tag` or `host/repo@sha256:…`.
    #[arg(value_name = "IMAGE")]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Verify an image's in-toto attestations (cosign-compatible).
#[derive(Debug, Args)]
pub struct VerifyAttestationArgs {
    /// Public key PEM to verify with (repeatable).
    #[arg(long, value_name = "FILE", required = true)]
    key: Vec<PathBuf>,
    /// Only attestations of this predicate type count: vuln, cyclonedx, spdxjson,
    /// slsaprovenance, custom, … or a URI. Default: any type.
    #[arg(long = "type", value_name = "TYPE")]
    predicate_type: Option<String>,
    /// The image: `host/repo:tag` or `host/repo@sha256:…`.
    #[arg(value_name = "IMAGE")]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let keys = read_public_keys(&args.key)?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let options = VerifyOptions {
        keys,
        check_reference: !args.skip_reference_check,
    };
    let verified = match sealwatch_sign::verify_image(&client, &reference, &options) {
        Ok(verified) => verified,
        Err(err) => return not_verified(err),
    };
    eprintln!(
        "\nVerification for {}@{} --\nThe following checks were performed on each of these signatures:\n  \
         - The cosign claims were validated\n  - The signatures were verified against the specified public key",
        reference.name(),
        verified.digest
    );
    let mut out = std::io::stdout().lock();
    for signature in &verified.signatures {
        out.write_all(&signature.payload_bytes)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(0)
}

pub fn run_attestation(args: VerifyAttestationArgs) -> anyhow::Result<u8> {
    let predicate_type = match &args.predicate_type {
        None => None,
        Some(name) => match sealwatch_sign::predicate_type_for(name) {
            Some(uri) => Some(uri),
            None => bail!("--type {name:?}: not a known predicate type name or a URI"),
        },
    };
    let keys = read_public_keys(&args.key)?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let options = VerifyOptions {
        keys,
        check_reference: false,
    };
    let verified = match sealwatch_sign::verify_attestations(
        &client,
        &reference,
        &options,
        predicate_type.as_deref(),
    ) {
        Ok(verified) => verified,
        Err(err) => return not_verified(err),
    };
    eprintln!(
        "\nVerification for {}@{} --\nThe following checks were performed on each of these attestations:\n  \
         - The statement subject matches the image digest\n  - The signatures were verified against the specified public key",
        reference.name(),
        verified.digest
    );
    let mut out = std::io::stdout().lock();
    for attestation in &verified.attestations {
        out.write_all(&attestation.envelope_bytes)
            .context("writing the attestation")?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(0)
}

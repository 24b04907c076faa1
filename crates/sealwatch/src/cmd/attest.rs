//! `sealwatch attest`: wrap a predicate in an in-toto statement about an image digest, sign it
//! as a DSSE envelope, and store it at `sha256-<hex>.att` (cosign's legacy layout).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use sealwatch_sign::{AttestOptions, ScannerInfo};

use super::sign::{parse_image, resolve_and_warn, FormatArgs, KeylessArgs, SigningIdentity};
use crate::image::RegistryArgs;

/// Attest an image (cosign-compatible).
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The private key (see `sealwatch sign --help`); without it, attest keylessly.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["identity_token", "identity_token_file"])]
    key: Option<PathBuf>,
    #[command(flatten)]
    keyless: KeylessArgs,
    #[command(flatten)]
    format: FormatArgs,
    /// The predicate JSON file. `sealwatch scan --format json` output is accepted for `vuln` (it
    /// is wrapped in cosign's vuln predicate) and `sealwatch sbom --format cyclonedx` for `cyclonedx`.
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// Predicate type: vuln, cyclonedx, spdx, spdxjson, slsaprovenance, slsaprovenance1, link,
    /// openvex, custom, or a URI.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    predicate_type: String,
    /// The image: `host/repo:tag` (resolved to its digest now) or `host/repo@sha256:…`.
    #[arg(value_name = "IMAGE")]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: AttestArgs) -> anyhow::Result<u8> {
    let Some(predicate_type) = sealwatch_sign::predicate_type_for(&args.predicate_type) else {
        bail!(
            "--type {:?}: not a known predicate type name or a URI",
            args.predicate_type
        );
    };
    let text = std::fs::read(&args.predicate)
        .with_context(|| format!("reading the predicate {}", args.predicate.display()))?;
    let mut predicate: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("the predicate {} is not JSON", args.predicate.display()))?;
    if args.predicate_type == "vuln" {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .context("formatting the time")?;
        // A sealwatch report (`scanner.scanned_at`) or a Trivy one (`CreatedAt`) says when it
        // was made; use that rather than now.
        let created = predicate
            .pointer("/scanner/scanned_at")
            .or_else(|| predicate.get("CreatedAt"))
            .and_then(|v| v.as_str())
            .map_or_else(|| now.clone(), str::to_owned);
        let version = predicate
            .pointer("/scanner/version")
            .and_then(|v| v.as_str())
            .unwrap_or(env!("CARGO_PKG_VERSION"))
            .to_owned();
        let scanner = ScannerInfo {
            uri: format!("pkg:cargo/sealwatch@{version}"),
            version,
            ..ScannerInfo::default()
        };
        predicate = sealwatch_sign::vuln_predicate(predicate, &scanner, &created, &created);
    }
    let signing = SigningIdentity::load(
        args.key.as_deref(),
        &args.keyless,
        args.format.format() == sealwatch_sign::SignatureFormat::Bundle,
    )?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let digest = resolve_and_warn(&client, &reference)?;
    let pinned = reference.with_digest(digest);
    let signed = sealwatch_sign::attest_image_with(
        &client,
        &pinned,
        signing.signer(),
        &AttestOptions {
            predicate_type,
            predicate,
            format: args.format.format(),
        },
    )
    .with_context(|| format!("attesting {}", args.image))?;
    eprintln!(
        "Pushing attestation to: {} ({} attestation{} now)",
        signed.location,
        signed.layer_count,
        if signed.layer_count == 1 { "" } else { "s" }
    );
    Ok(0)
}

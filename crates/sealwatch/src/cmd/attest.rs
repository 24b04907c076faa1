//! `sealwatch attest`: wrap a predicate in an in-toto statement about an image digest, sign it
//! as a DSSE envelope, and store it at `sha256-<hex>.att` (cosign's legacy layout). Also the
//! signing half `scan --attest` and `sbom --attest` share with it.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use sealwatch_sign::{AttestOptions, Reference, RegistryClient, ScannerInfo, SignatureFormat};

use super::sign::{parse_image, resolve_and_warn, FormatArgs, KeylessArgs, SigningIdentity};
use crate::image::{ImageArgs, RegistryArgs};
use sealwatch_oci::ImageSpec;

/// How an attestation is signed. `attest`, `scan --attest` and `sbom --attest` take the same
/// options, so a signing method added here reaches all three.
#[derive(Debug, Clone, Args)]
pub struct SigningArgs {
    /// The private key (see `sealwatch sign --help`); without it, sign keylessly (see
    /// --identity-token).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    keyless: KeylessArgs,
    #[command(flatten)]
    format: FormatArgs,
}

impl SigningArgs {
    /// The signing identity: the key read (and its password asked for), or a Fulcio certificate
    /// obtained for the identity token — before any slow work starts.
    pub(crate) fn signer(&self) -> anyhow::Result<SigningIdentity> {
        SigningIdentity::load(self.key.as_deref(), &self.keyless)
    }

    /// Whether any way of signing was given.
    fn given(&self) -> bool {
        self.key.is_some() || self.keyless.given()
    }

    /// Legacy `.att` layer or Sigstore bundle referrer.
    pub(crate) fn format(&self) -> SignatureFormat {
        self.format.format()
    }
}

/// Attest an image (cosign-compatible).
#[derive(Debug, Args)]
pub struct AttestArgs {
    #[command(flatten)]
    signing: SigningArgs,
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
    let predicate_type = predicate_type_uri(&args.predicate_type, "--type")?;
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
    let identity = args.signing.signer()?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let digest = resolve_and_warn(&client, &reference)?;
    let pinned = reference.with_digest(digest);
    attest_pinned(
        &identity,
        &client,
        &pinned,
        AttestOptions {
            predicate_type,
            predicate,
            format: args.signing.format(),
        },
    )
    .with_context(|| format!("attesting {}", args.image))
}

/// The predicate type URI for a `--type`/`--attest-type` value, or a usage error naming `flag`.
pub(crate) fn predicate_type_uri(name: &str, flag: &str) -> anyhow::Result<String> {
    sealwatch_sign::predicate_type_for(name)
        .with_context(|| format!("{flag} {name:?}: not a known predicate type name or a URI"))
}

/// Sign `attestation` about the image `pinned` (a digest reference) and push it; reports where
/// it went on standard error. Returns exit code 0.
pub(crate) fn attest_pinned(
    identity: &SigningIdentity,
    client: &RegistryClient,
    pinned: &Reference,
    attestation: AttestOptions,
) -> anyhow::Result<u8> {
    let signed =
        sealwatch_sign::attest_image_with(client, pinned, identity.signer(), &attestation)?;
    eprintln!(
        "Pushing attestation to: {} ({} attestation{} now)",
        signed.location,
        signed.layer_count,
        if signed.layer_count == 1 { "" } else { "s" }
    );
    Ok(0)
}

/// `--attest` on `scan` and `sbom`: sign the result as an attestation about the image.
#[derive(Debug, Clone, Args)]
pub struct AttestFlags {
    /// Also sign the result as an in-toto attestation bound to the image's digest and push it
    /// next to the image, as `attest` does (registry images only).
    #[arg(long)]
    pub attest: bool,
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// Where `--attest` will put the attestation, settled before the image is read.
pub(crate) struct AttestTarget {
    identity: SigningIdentity,
    format: SignatureFormat,
    client: RegistryClient,
    pinned: Reference,
}

impl AttestFlags {
    /// With `--attest`: check the image is a registry image, read the key, resolve the tag to a
    /// digest and pin `image` to it, so the result and the attestation are about the same
    /// manifest even if the tag moves meanwhile. `None` without `--attest`.
    pub(crate) fn prepare(&self, image: &mut ImageArgs) -> anyhow::Result<Option<AttestTarget>> {
        if !self.attest {
            if self.signing.given() {
                bail!("--key / --identity-token sign an attestation: add --attest");
            }
            return Ok(None);
        }
        let spec = image.spec()?;
        let ImageSpec::Registry(reference) = spec else {
            bail!(
                "--attest needs a registry image (host/repo:tag or host/repo@sha256:…) to bind the \
                 attestation to; {spec} is a local source: push it and name the registry image"
            );
        };
        let identity = self.signing.signer()?;
        let client = image.registry.client()?;
        let digest = resolve_and_warn(&client, &reference)
            .with_context(|| format!("resolving {reference} to a digest"))?;
        let pinned = reference.with_digest(digest);
        image.image = Some(pinned.to_string());
        Ok(Some(AttestTarget {
            identity,
            format: self.signing.format(),
            client,
            pinned,
        }))
    }
}

impl AttestTarget {
    /// The image the attestation is about, `host/repo[:tag]@sha256:…`.
    pub(crate) fn image(&self) -> &Reference {
        &self.pinned
    }

    /// Where and how the attestation will be stored.
    pub(crate) fn format(&self) -> SignatureFormat {
        self.format
    }

    /// Sign and push the attestation.
    pub(crate) fn attest(&self, attestation: AttestOptions) -> anyhow::Result<()> {
        attest_pinned(&self.identity, &self.client, &self.pinned, attestation)
            .with_context(|| format!("attesting {}", self.pinned))?;
        Ok(())
    }
}

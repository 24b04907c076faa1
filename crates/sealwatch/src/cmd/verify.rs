//! `sealwatch verify` and `sealwatch verify-attestation`: find an image's signatures or
//! attestations (referrers, then cosign's `.sig` / `.att` tags), verify them with public keys,
//! and print what verified, one JSON document per line, like cosign.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use sealwatch_sign::{KeylessPolicy, Matcher, SignedBy, TrustedRoot, VerifyOptions};

use super::sign::{not_verified, parse_image, read_public_keys};
use crate::image::RegistryArgs;

/// Keyless verification: which certificate identity must have signed, and the trust root.
#[derive(Debug, Args)]
pub(crate) struct KeylessVerifyArgs {
    /// Certificate identity (SAN: email, URI, …) that must have signed, exactly.
    #[arg(long, value_name = "ID")]
    certificate_identity: Option<String>,
    /// Certificate identity as a regular expression (unanchored, like cosign).
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_identity")]
    certificate_identity_regexp: Option<String>,
    /// OIDC issuer of the certificate, exactly.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// OIDC issuer as a regular expression (unanchored, like cosign).
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_oidc_issuer")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// `trusted_root.json` (Fulcio CAs, CT logs, Rekor keys) instead of the embedded Sigstore
    /// production root.
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Accepted for cosign compatibility: verification never contacts Rekor or a TUF repository
    /// (the registry is the only network peer), so it is always offline.
    #[arg(long)]
    offline: bool,
}

impl KeylessVerifyArgs {
    /// The keyless policy, when an identity or issuer was given (both are then required).
    pub(crate) fn policy(&self) -> anyhow::Result<Option<KeylessPolicy>> {
        let policy = keyless_policy(
            "",
            [
                &self.certificate_identity,
                &self.certificate_identity_regexp,
                &self.certificate_oidc_issuer,
                &self.certificate_oidc_issuer_regexp,
            ],
            self.trusted_root.as_deref(),
        )?;
        if policy.is_none() && self.trusted_root.is_some() {
            bail!("--trusted-root needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]");
        }
        Ok(policy)
    }
}

/// A keyless policy from the four `--<prefix>certificate-identity[-regexp]` /
/// `--<prefix>certificate-oidc-issuer[-regexp]` values (in that order) and `--trusted-root`;
/// `None` when none of the four was given. `prefix` names the flags in messages (`verify-`, …).
pub(crate) fn keyless_policy(
    prefix: &str,
    [identity_exact, identity_regexp, issuer_exact, issuer_regexp]: [&Option<String>; 4],
    trusted_root: Option<&Path>,
) -> anyhow::Result<Option<KeylessPolicy>> {
    let matcher =
        |what: &'static str, exact: &Option<String>, regexp: &Option<String>| match (exact, regexp)
        {
            (Some(exact), _) => Ok(Some(Matcher::Exact(exact.clone()))),
            (None, Some(pattern)) => Matcher::regex(what, pattern).map(Some),
            (None, None) => Ok(None),
        };
    let identity = matcher("identity", identity_exact, identity_regexp)?;
    let issuer = matcher("issuer", issuer_exact, issuer_regexp)?;
    let (identity, issuer) = match (identity, issuer) {
        (None, None) => return Ok(None),
        (Some(identity), Some(issuer)) => (identity, issuer),
        (Some(_), None) => bail!(
            "--{prefix}certificate-oidc-issuer or --{prefix}certificate-oidc-issuer-regexp is required with a certificate identity"
        ),
        (None, Some(_)) => bail!(
            "--{prefix}certificate-identity or --{prefix}certificate-identity-regexp is required with a certificate issuer"
        ),
    };
    let trusted_root = match trusted_root {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            TrustedRoot::from_json(&json).with_context(|| format!("loading {}", path.display()))?
        }
        None => {
            TrustedRoot::production().context("loading the embedded Sigstore production root")?
        }
    };
    Ok(Some(KeylessPolicy {
        identity,
        issuer,
        trusted_root: Arc::new(trusted_root),
    }))
}

/// Verify an image's signatures (cosign-compatible).
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key PEM to verify with (repeatable: any of them may have signed).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["certificate_identity", "certificate_identity_regexp"])]
    key: Vec<PathBuf>,
    #[command(flatten)]
    keyless: KeylessVerifyArgs,
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
    #[arg(long, value_name = "FILE", required_unless_present_any = ["certificate_identity", "certificate_identity_regexp"])]
    key: Vec<PathBuf>,
    #[command(flatten)]
    keyless: KeylessVerifyArgs,
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
    let keyless = args.keyless.policy()?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let options = VerifyOptions {
        keys,
        keyless,
        check_reference: !args.skip_reference_check,
    };
    let verified = match sealwatch_sign::verify_image(&client, &reference, &options) {
        Ok(verified) => verified,
        Err(err) => return not_verified(err),
    };
    eprintln!(
        "\nVerification for {}@{} --\nThe following checks were performed on each of these signatures:\n  \
         - The cosign claims were validated\n  - {}",
        reference.name(),
        verified.digest,
        checks_line(verified.signatures.iter().map(|s| &s.signer))
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
    let keyless = args.keyless.policy()?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let options = VerifyOptions {
        keys,
        keyless,
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
         - The statement subject matches the image digest\n  - {}",
        reference.name(),
        verified.digest,
        checks_line(verified.attestations.iter().map(|a| &a.signer))
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

/// The "what was checked" line, after cosign's wording, with the certificate identities that
/// verified.
fn checks_line<'a>(signers: impl Iterator<Item = &'a SignedBy>) -> String {
    let mut keyed = false;
    let mut identities = Vec::new();
    for signer in signers {
        match signer {
            SignedBy::Key { .. } => keyed = true,
            SignedBy::Certificate { identity, issuer } => {
                let line = format!("{identity} (issuer {issuer})");
                if !identities.contains(&line) {
                    identities.push(line);
                }
            }
        }
    }
    let mut lines = Vec::new();
    if keyed {
        lines.push("The signatures were verified against the specified public key".to_owned());
    }
    if !identities.is_empty() {
        lines.push(format!(
            "The code-signing certificate was verified using trusted certificate authority \
             certificates, the transparency-log entry was verified offline, and the certificate \
             identity matched: {}",
            identities.join(", ")
        ));
    }
    lines.join("\n  - ")
}

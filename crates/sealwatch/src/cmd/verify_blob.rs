//! `sealwatch verify-blob`: verify a Sigstore bundle (or a raw signature made with a key) for a
//! file or a `sha256:<hex>` digest, offline. Arguments follow cosign's `verify-blob` and the
//! sigstore-conformance CLI protocol's `verify-bundle`.
//!
//! Exit codes: 0 verified, 1 not verified (the reason is printed), 2 usage or tool error.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use base64::Engine as _;
use clap::Args;
use sealwatch_trust::bundle::{self, BundlePolicy, Matcher, TrustedRoot};
use sealwatch_trust::{Digest, DigestAlgorithm, PublicKey};

/// Verify a Sigstore bundle or a signature for a file or digest.
#[derive(Debug, Args)]
pub struct VerifyBlobArgs {
    /// Sigstore bundle (`*.sigstore.json`, v0.1 to v0.3).
    #[arg(long, value_name = "FILE", required_unless_present = "signature")]
    bundle: Option<PathBuf>,
    /// Instead of a bundle: a raw signature (base64 or binary) made with --key; no transparency-log check.
    #[arg(long, value_name = "FILE", conflicts_with = "bundle", requires = "key")]
    signature: Option<PathBuf>,
    /// Public key (PEM `PUBLIC KEY`) the signature must verify with (managed-key bundles).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Certificate identity (SAN) that must have signed, exactly.
    #[arg(long, value_name = "ID", conflicts_with = "key")]
    certificate_identity: Option<String>,
    /// Certificate identity as a regular expression (unanchored, like cosign).
    #[arg(long, value_name = "REGEX", conflicts_with_all = ["key", "certificate_identity"])]
    certificate_identity_regexp: Option<String>,
    /// OIDC issuer of the certificate, exactly.
    #[arg(long, value_name = "URL", conflicts_with = "key")]
    certificate_oidc_issuer: Option<String>,
    /// OIDC issuer as a regular expression (unanchored, like cosign).
    #[arg(long, value_name = "REGEX", conflicts_with_all = ["key", "certificate_oidc_issuer"])]
    certificate_oidc_issuer_regexp: Option<String>,
    /// `trusted_root.json` to verify against instead of the embedded Sigstore production root.
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// The artifact: a file, or `sha256:<hex>` (taken as a digest only when no such file exists).
    #[arg(value_name = "FILE_OR_DIGEST")]
    file_or_digest: String,
}

enum Input {
    File(Vec<u8>),
    Digest(Digest),
}

pub fn run(args: VerifyBlobArgs) -> anyhow::Result<u8> {
    let input = read_input(&args.file_or_digest)?;
    let outcome = match (&args.bundle, &args.signature) {
        (Some(bundle_path), _) => verify_with_bundle(&args, bundle_path, &input)?,
        (None, Some(signature_path)) => verify_with_signature(&args, signature_path, &input)?,
        (None, None) => bail!("give --bundle, or --signature with --key"),
    };
    match outcome {
        Ok(summary) => {
            eprintln!("Verified OK{summary}");
            Ok(0)
        }
        Err(err) => {
            eprintln!("not verified: {}", error_chain(&err));
            Ok(1)
        }
    }
}

/// `Ok(Ok(summary))` verified, `Ok(Err(reason))` not verified, `Err` usage or tool error.
type Outcome = anyhow::Result<Result<String, sealwatch_trust::Error>>;

fn verify_with_bundle(args: &VerifyBlobArgs, bundle_path: &Path, input: &Input) -> Outcome {
    let policy = if let Some(key_path) = &args.key {
        BundlePolicy::PublicKey(read_public_key(key_path)?)
    } else {
        let identity = match (&args.certificate_identity, &args.certificate_identity_regexp) {
            (Some(exact), _) => Matcher::Exact(exact.clone()),
            (None, Some(pattern)) => Matcher::regex("identity", pattern)?,
            (None, None) => bail!("give --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]"),
        };
        let issuer = match (&args.certificate_oidc_issuer, &args.certificate_oidc_issuer_regexp) {
            (Some(exact), _) => Matcher::Exact(exact.clone()),
            (None, Some(pattern)) => Matcher::regex("issuer", pattern)?,
            (None, None) => bail!("--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required with a certificate identity"),
        };
        BundlePolicy::Keyless { identity, issuer }
    };
    let root = match &args.trusted_root {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            TrustedRoot::from_json(&json).with_context(|| format!("loading {}", path.display()))?
        }
        None => {
            TrustedRoot::production().context("loading the embedded Sigstore production root")?
        }
    };
    let bundle_bytes =
        std::fs::read(bundle_path).with_context(|| format!("reading {}", bundle_path.display()))?;
    let Ok(bundle_json) = String::from_utf8(bundle_bytes) else {
        return Ok(Err(sealwatch_trust::Error::MalformedBundle {
            reason: "not UTF-8 text".to_string(),
        }));
    };
    let artifact = match input {
        Input::File(bytes) => bundle::Artifact::Bytes(bytes),
        Input::Digest(digest) => bundle::Artifact::Digest(digest),
    };
    match bundle::verify_bundle(&bundle_json, artifact, &policy, &root) {
        Ok(verified) => {
            let mut summary = String::new();
            if let Some(identity) = verified.identity() {
                summary.push_str(&format!(": identity {identity}"));
            }
            if let Some(issuer) = verified.issuer() {
                summary.push_str(&format!(", issuer {issuer}"));
            }
            Ok(Ok(summary))
        }
        Err(err) if err.is_not_verified() => Ok(Err(err)),
        Err(err) => Err(err.into()),
    }
}

fn verify_with_signature(args: &VerifyBlobArgs, signature_path: &Path, input: &Input) -> Outcome {
    let Some(key_path) = &args.key else {
        bail!("--signature needs --key")
    };
    let key = read_public_key(key_path)?;
    let Input::File(artifact) = input else {
        bail!("--signature verifies over the artifact bytes: give the file, not a digest");
    };
    let raw = std::fs::read(signature_path)
        .with_context(|| format!("reading {}", signature_path.display()))?;
    // cosign sign-blob writes base64 text; accept raw bytes as well.
    let signature = std::str::from_utf8(&raw)
        .ok()
        .and_then(|text| {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()
        })
        .unwrap_or(raw);
    match sealwatch_trust::verify_signature(&key, artifact, &signature) {
        Ok(_) => Ok(Ok(format!(
            ": {} signature with {}",
            key.key_type(),
            key_path.display()
        ))),
        Err(err) if err.is_not_verified() => Ok(Err(err)),
        Err(err) => Err(err.into()),
    }
}

fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    PublicKey::from_pem(&pem).with_context(|| format!("reading the public key {}", path.display()))
}

fn read_input(file_or_digest: &str) -> anyhow::Result<Input> {
    let path = Path::new(file_or_digest);
    if !path.exists() {
        if let Ok(digest) = Digest::parse(file_or_digest) {
            if digest.algorithm() == DigestAlgorithm::Sha256 {
                return Ok(Input::Digest(digest));
            }
        }
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the artifact {file_or_digest}"))?;
    Ok(Input::File(bytes))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    // The top-level message already embeds its direct source for most variants; only add
    // causes whose text is not yet in the message.
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

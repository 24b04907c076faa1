//! `sealwatch sign`: sign an image's manifest digest with a cosign key and store the signature
//! next to the image, in cosign's `sha256-<hex>.sig` layout. Also the helpers the other signing
//! commands share: reading keys and passwords, naming the image.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Args;
use sealwatch_sign::{PrivateKey, PublicKey, Reference, RegistryClient, SignError, SignOptions};
use zeroize::Zeroizing;

use crate::image::RegistryArgs;

/// Environment variables read for the key password, in this order (cosign reads COSIGN_PASSWORD).
const PASSWORD_VARS: [&str; 2] = ["COSIGN_PASSWORD", "SEALWATCH_PASSWORD"];

/// Sign an image (cosign-compatible).
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key: cosign's encrypted PEM (password from COSIGN_PASSWORD or SEALWATCH_PASSWORD,
    /// or asked on a terminal) or an unencrypted PKCS#8 PEM.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Annotation `key=value` to put in the signed payload's `optional` object (repeatable).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// The image: `host/repo:tag` (resolved to its digest now) or `host/repo@sha256:…`.
    #[arg(value_name = "IMAGE")]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(args: SignArgs) -> anyhow::Result<u8> {
    let mut annotations = BTreeMap::new();
    for item in &args.annotations {
        let Some((name, value)) = item.split_once('=') else {
            bail!("-a {item:?}: expected key=value");
        };
        if name.is_empty() {
            bail!("-a {item:?}: empty annotation name");
        }
        annotations.insert(name.to_owned(), value.to_owned());
    }
    let key = read_private_key(&args.key)?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let digest = resolve_and_warn(&client, &reference)?;
    let pinned = reference.with_digest(digest);
    let signed = sealwatch_sign::sign_image(&client, &pinned, &key, &SignOptions { annotations })
        .with_context(|| format!("signing {}", args.image))?;
    eprintln!(
        "Pushing signature to: {} ({} signature{} now)",
        signed.location,
        signed.layer_count,
        if signed.layer_count == 1 { "" } else { "s" }
    );
    Ok(0)
}

/// Parse the IMAGE argument as a registry reference.
pub(crate) fn parse_image(image: &str) -> anyhow::Result<Reference> {
    image
        .parse::<Reference>()
        .with_context(|| format!("image `{image}`"))
}

/// Resolve a reference to its digest; warn (like cosign) when the user named a tag, since the
/// tag may move between resolving and signing.
pub(crate) fn resolve_and_warn(
    client: &RegistryClient,
    reference: &Reference,
) -> anyhow::Result<sealwatch_sign::Digest> {
    let digest = sealwatch_sign::resolve_digest(client, reference)?;
    if reference.digest().is_none() {
        eprintln!(
            "WARNING: Image reference {reference} uses a tag, not a digest, to identify the image \
             to sign; using {}@{digest}.",
            reference.name()
        );
    }
    Ok(digest)
}

/// Read a private key, asking for its password only when it is encrypted.
pub(crate) fn read_private_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let pem = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the private key {}", path.display()))?,
    );
    let password = if sealwatch_trust::keys::pem_needs_password(&pem) {
        read_password()?
    } else {
        Zeroizing::new(String::new())
    };
    PrivateKey::from_pem(&pem, password.as_bytes())
        .with_context(|| format!("reading the private key {}", path.display()))
}

fn read_password() -> anyhow::Result<Zeroizing<String>> {
    for var in PASSWORD_VARS {
        if let Some(value) = std::env::var_os(var) {
            let value = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{var} is not valid UTF-8"))?;
            return Ok(Zeroizing::new(value));
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!("the private key is encrypted: set COSIGN_PASSWORD (or SEALWATCH_PASSWORD)");
    }
    Ok(Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .context("reading the password from the terminal (or set COSIGN_PASSWORD)")?,
    ))
}

/// Read the `--key` public keys.
pub(crate) fn read_public_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|path| {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the public key {}", path.display()))?;
            PublicKey::from_pem(&pem)
                .with_context(|| format!("reading the public key {}", path.display()))
        })
        .collect()
}

/// Exit code 1 with the reasons for "not verified"; anything else is a tool error (exit 2).
pub(crate) fn not_verified(err: SignError) -> anyhow::Result<u8> {
    match &err {
        SignError::NotVerified { rejections, .. } => {
            eprintln!("Error: {}", first_line(&err));
            for rejection in rejections {
                eprintln!("  {}: {}", rejection.location, rejection.reason);
            }
            Ok(1)
        }
        _ if err.is_not_verified() => {
            eprintln!("Error: {err}");
            Ok(1)
        }
        _ => Err(err.into()),
    }
}

fn first_line(err: &SignError) -> String {
    match err {
        SignError::NotVerified {
            kind,
            image,
            digest,
            ..
        } => format!("no {kind} of {image} ({digest}) verified"),
        other => other.to_string(),
    }
}

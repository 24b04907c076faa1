//! `sealwatch sign`: sign an image's manifest digest with a cosign key and store the signature
//! next to the image, in cosign's `sha256-<hex>.sig` layout. Also the helpers the other signing
//! commands share: reading keys and passwords, naming the image.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Args;
use sealwatch_sign::{
    IdentityToken, KeylessConfig, KeylessSigner, PrivateKey, PublicKey, Reference, RegistryClient,
    SignError, SignOptions, SignatureFormat,
};
use zeroize::Zeroizing;

use crate::image::RegistryArgs;

/// Environment variables read for the key password, in this order (cosign reads COSIGN_PASSWORD).
const PASSWORD_VARS: [&str; 2] = ["COSIGN_PASSWORD", "SEALWATCH_PASSWORD"];

/// Sign an image (cosign-compatible).
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key: cosign's encrypted PEM (password from COSIGN_PASSWORD or SEALWATCH_PASSWORD,
    /// or asked on a terminal) or an unencrypted PKCS#8 PEM. Without it, sign keylessly (see
    /// --identity-token).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["identity_token", "identity_token_file"])]
    key: Option<PathBuf>,
    /// Annotation `key=value` to put in the signed payload's `optional` object (repeatable).
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    #[command(flatten)]
    keyless: KeylessArgs,
    #[command(flatten)]
    format: FormatArgs,
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
    let signing = SigningIdentity::load(args.key.as_deref(), &args.keyless)?;
    let reference = parse_image(&args.image)?;
    let client = args.registry.client()?;
    let digest = resolve_and_warn(&client, &reference)?;
    let pinned = reference.with_digest(digest);
    let options = SignOptions {
        annotations,
        format: args.format.format(),
    };
    let signed = sealwatch_sign::sign_image_with(&client, &pinned, signing.signer(), &options)
        .with_context(|| format!("signing {}", args.image))?;
    eprintln!(
        "Pushing signature to: {} ({} signature{} now)",
        signed.location,
        signed.layer_count,
        if signed.layer_count == 1 { "" } else { "s" }
    );
    Ok(0)
}

/// Keyless signing: an OIDC token for Fulcio, and where Fulcio and Rekor are.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeylessArgs {
    /// Sign keylessly with this OIDC identity token (a JWT): an ephemeral key gets a Fulcio
    /// certificate for the token's identity and the signature is logged in Rekor.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["key", "identity_token_file"])]
    identity_token: Option<String>,
    /// Read the identity token from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    identity_token_file: Option<PathBuf>,
    /// Fulcio base URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://fulcio.sigstore.dev"
    )]
    fulcio_url: String,
    /// Rekor base URL.
    #[arg(long, value_name = "URL", default_value = "https://rekor.sigstore.dev")]
    rekor_url: String,
    /// A Sigstore `signing_config.json` (v0.2): its first `caUrls` and `rekorTlogUrls` entries
    /// replace --fulcio-url and --rekor-url.
    #[arg(long, value_name = "FILE")]
    signing_config: Option<PathBuf>,
}

/// Storage format of the signature.
#[derive(Debug, Clone, Args)]
pub(crate) struct FormatArgs {
    /// Store a Sigstore bundle v0.3 as an OCI 1.1 referrer of the image (cosign v3's layout;
    /// the `sha256-<hex>` referrers tag is maintained on registries without the referrers API)
    /// instead of a layer of the `sha256-<hex>.sig` / `.att` manifest.
    #[arg(long)]
    bundle_format: bool,
}

impl KeylessArgs {
    /// Whether an identity token was given (keyless signing asked for).
    pub(crate) fn given(&self) -> bool {
        self.identity_token.is_some() || self.identity_token_file.is_some()
    }
}

impl FormatArgs {
    pub(crate) fn format(&self) -> SignatureFormat {
        if self.bundle_format {
            SignatureFormat::Bundle
        } else {
            SignatureFormat::Legacy
        }
    }
}

/// A managed key, or a keyless signer holding a fresh Fulcio certificate.
pub(crate) enum SigningIdentity {
    Key(Box<PrivateKey>),
    Keyless(Box<KeylessSigner>),
}

impl SigningIdentity {
    pub(crate) fn load(key: Option<&Path>, keyless: &KeylessArgs) -> anyhow::Result<Self> {
        if let Some(path) = key {
            return Ok(SigningIdentity::Key(Box::new(read_private_key(path)?)));
        }
        let raw = match (&keyless.identity_token, &keyless.identity_token_file) {
            (Some(token), _) => token.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the identity token {}", path.display()))?,
            (None, None) => bail!("give --key, or --identity-token / --identity-token-file"),
        };
        let token = IdentityToken::parse(&raw).context("reading the identity token")?;
        let (mut fulcio_url, mut rekor_url) =
            (keyless.fulcio_url.clone(), keyless.rekor_url.clone());
        if let Some(path) = &keyless.signing_config {
            (fulcio_url, rekor_url) = read_signing_config(path)?;
        }
        let config = KeylessConfig {
            fulcio_url,
            rekor_url,
            token,
            timeout: std::time::Duration::from_secs(30),
        };
        let signer = KeylessSigner::obtain(&config).context("obtaining a signing certificate")?;
        eprintln!(
            "Signing as {} with a Fulcio certificate from {}",
            config.token.subject(),
            config.fulcio_url
        );
        Ok(SigningIdentity::Keyless(Box::new(signer)))
    }

    pub(crate) fn signer(&self) -> sealwatch_sign::Signer<'_> {
        match self {
            SigningIdentity::Key(key) => sealwatch_sign::Signer::Key(key),
            SigningIdentity::Keyless(keyless) => sealwatch_sign::Signer::Keyless(keyless),
        }
    }
}

/// The Fulcio and Rekor URLs of a `signing_config.json`.
fn read_signing_config(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let first_url = |field: &str| -> anyhow::Result<String> {
        doc.get(field)
            .and_then(|v| v.as_array())
            .and_then(|entries| entries.first())
            .and_then(|entry| entry.get("url"))
            .and_then(|url| url.as_str())
            .map(str::to_owned)
            .with_context(|| format!("{}: no `{field}[0].url`", path.display()))
    };
    Ok((first_url("caUrls")?, first_url("rekorTlogUrls")?))
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

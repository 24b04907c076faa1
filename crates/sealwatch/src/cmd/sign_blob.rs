//! `sealwatch sign-blob`: sign a file. With `--key`, the base64 signature goes to
//! `--output-signature` (what `cosign sign-blob --key` writes and `verify-blob --signature`
//! reads); keylessly, a Sigstore bundle v0.3 goes to `--bundle` (what `cosign sign-blob --bundle`
//! and `sigstore sign` write: message signature, Fulcio certificate, Rekor entry).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use clap::Args;

use super::keygen::write_atomically;
use super::sign::{KeylessArgs, SigningIdentity};

/// Sign a file with a key or keylessly.
#[derive(Debug, Args)]
pub struct SignBlobArgs {
    /// The private key (see `sealwatch sign --help`); without it, sign keylessly.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["identity_token", "identity_token_file"], requires = "output_signature")]
    key: Option<PathBuf>,
    /// Where to write the base64 signature (with --key).
    #[arg(long, value_name = "FILE")]
    output_signature: Option<PathBuf>,
    /// Where to write the Sigstore bundle (keyless).
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    keyless: KeylessArgs,
    /// The file to sign.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(args: SignBlobArgs) -> anyhow::Result<u8> {
    if args.key.is_none() && args.bundle.is_none() {
        bail!("keyless signing writes a bundle: give --bundle FILE");
    }
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let signing = SigningIdentity::load(args.key.as_deref(), &args.keyless)?;
    let (path, output) = match &signing {
        SigningIdentity::Key(key) => {
            let signature = key.sign(&bytes).context("signing the file")?;
            let path = args
                .output_signature
                .as_ref()
                .context("--key writes the signature to --output-signature FILE")?;
            (
                path,
                base64::engine::general_purpose::STANDARD.encode(signature),
            )
        }
        SigningIdentity::Keyless(keyless) => {
            let bundle = sealwatch_sign::sign_blob_keyless(keyless, &bytes)
                .with_context(|| format!("signing {}", args.file.display()))?;
            let path = args
                .bundle
                .as_ref()
                .context("keyless signing needs --bundle FILE")?;
            (path, bundle)
        }
    };
    write_atomically(path, output.as_bytes(), 0o644, true)?;
    eprintln!("Wrote {}", path.display());
    Ok(0)
}

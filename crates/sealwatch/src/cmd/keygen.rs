//! `sealwatch keygen`: write a cosign-compatible key pair, `PREFIX.key` (cosign's encrypted
//! `ENCRYPTED SIGSTORE PRIVATE KEY` PEM) and `PREFIX.pub` (`PUBLIC KEY` PEM).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use sealwatch_trust::{KeyType, PrivateKey};
use zeroize::Zeroizing;

/// Environment variables read for the password, in this order (cosign reads COSIGN_PASSWORD).
const PASSWORD_VARS: [&str; 2] = ["SEALWATCH_PASSWORD", "COSIGN_PASSWORD"];

/// Generate a key pair in cosign's format.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    output_key_prefix: PathBuf,
    /// Key algorithm.
    #[arg(long = "type", value_enum, default_value_t = KeyTypeArg::EcdsaP256)]
    key_type: KeyTypeArg,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KeyTypeArg {
    /// ECDSA on P-256 with SHA-256 (cosign's default).
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA 3072 bits, signing with PKCS#1 v1.5 and SHA-256.
    Rsa,
    /// RSA 2048 bits.
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// RSA 4096 bits.
    #[value(name = "rsa-4096")]
    Rsa4096,
}

impl KeyTypeArg {
    fn key_type(self) -> KeyType {
        match self {
            KeyTypeArg::EcdsaP256 => KeyType::EcdsaP256,
            KeyTypeArg::EcdsaP384 => KeyType::EcdsaP384,
            KeyTypeArg::Ed25519 => KeyType::Ed25519,
            KeyTypeArg::Rsa => KeyType::Rsa { bits: 3072 },
            KeyTypeArg::Rsa2048 => KeyType::Rsa { bits: 2048 },
            KeyTypeArg::Rsa4096 => KeyType::Rsa { bits: 4096 },
        }
    }
}

pub fn run(args: KeygenArgs) -> anyhow::Result<u8> {
    let key_path = with_suffix(&args.output_key_prefix, "key");
    let pub_path = with_suffix(&args.output_key_prefix, "pub");
    if !args.force {
        for path in [&key_path, &pub_path] {
            if path.exists() {
                bail!(
                    "refusing to overwrite {} (use --force to replace it)",
                    path.display()
                );
            }
        }
    }

    let password = read_password()?;
    let mut rng = rand_core::OsRng;
    let key =
        PrivateKey::generate(args.key_type.key_type(), &mut rng).context("generating the key")?;
    let private_pem = Zeroizing::new(
        key.to_cosign_pem(password.as_bytes(), &mut rng)
            .context("encrypting the key")?,
    );
    let public_pem = key
        .public_key()
        .to_pem()
        .context("encoding the public key")?;

    write_atomically(&key_path, private_pem.as_bytes(), 0o600, args.force)?;
    if let Err(err) = write_atomically(&pub_path, public_pem.as_bytes(), 0o644, args.force) {
        // Leave no half pair behind: the private key without its public key is of no use.
        let _ = std::fs::remove_file(&key_path);
        return Err(err);
    }
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(0)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// The password from the environment, or typed twice at the terminal (never echoed).
fn read_password() -> anyhow::Result<Zeroizing<String>> {
    for var in PASSWORD_VARS {
        if let Some(value) = std::env::var_os(var) {
            let value = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{var} is not valid UTF-8"))?;
            return Ok(Zeroizing::new(value));
        }
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .context("reading the password from the terminal (or set COSIGN_PASSWORD)")?,
    );
    let second = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key again: ")
            .context("reading the password from the terminal")?,
    );
    if *first != *second {
        bail!("the two passwords differ");
    }
    Ok(first)
}

/// Write `bytes` to a temporary file beside `path`, then move it into place, so `path` is either
/// absent or complete. Without `replace`, an existing `path` is never overwritten, even one
/// created since the first check.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    replace: bool,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    file.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    set_mode(file.path(), mode)?;
    if replace {
        file.persist(path)
            .with_context(|| format!("writing {}", path.display()))?;
    } else {
        file.persist_noclobber(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

//! What every image-taking command shares: the image argument, registry and cache flags, opening the
//! image, and the adapters that let the pure crates read its squashed view.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use sealwatch_catalog::facts::{self, PathResolver};
use sealwatch_catalog::FileTree;
use sealwatch_oci::registry::{Credentials, RegistryClient, RegistryOptions};
use sealwatch_oci::{CacheSetting, Image, ImageSpec, OpenOptions, Platform, SquashedFs};

/// Naming an image, and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// The image: a registry reference (`alpine:3.20`, `host:5000/app@sha256:…`), `docker-archive:PATH`,
    /// `oci:PATH[:REF]`, `oci-archive:PATH`, `rootfs:PATH` or `dir:PATH`.
    #[arg(
        value_name = "IMAGE",
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    pub image: Option<String>,

    /// Read the image from a file or folder, detecting its format by content (docker save tar, plain or
    /// gzip; OCI layout folder or tar; a plain folder as a root filesystem).
    #[arg(long, value_name = "PATH")]
    pub input: Option<PathBuf>,

    /// Platform to pick from a multi-platform image, `os/arch[/variant]` (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Registry access flags, shared with the signing commands.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry user name; the password is read from standard input with `--password-stdin`.
    #[arg(long, requires = "password_stdin", global = true)]
    pub username: Option<String>,

    /// Read the registry password from standard input (one line).
    #[arg(long, requires = "username", global = true)]
    pub password_stdin: bool,

    /// Extra CA certificate(s), PEM, to trust for registry TLS besides the system roots.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_file: Vec<PathBuf>,

    /// Registry host[:port] that may be used over plain HTTP (loopback hosts always may).
    #[arg(long, value_name = "HOST", global = true)]
    pub insecure_registry: Vec<String>,

    /// Blob cache folder (default: the user cache folder, e.g. ~/.cache/sealwatch).
    #[arg(long, value_name = "DIR", global = true, env = "SEALWATCH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Don't read or write the blob cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

impl RegistryArgs {
    /// Registry client settings: the environment and docker config, plus these flags.
    pub fn options(&self) -> anyhow::Result<RegistryOptions> {
        let mut options = RegistryOptions::from_environment();
        if let Some(user) = &self.username {
            let mut password = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut password)
                .context("reading the registry password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                bail!("--password-stdin: standard input held no password");
            }
            options.credentials = Some(Credentials::new(user.clone(), password));
        }
        options.ca_files.clone_from(&self.ca_file);
        options
            .insecure_registries
            .clone_from(&self.insecure_registry);
        Ok(options)
    }

    pub fn client(&self) -> anyhow::Result<RegistryClient> {
        RegistryClient::new(self.options()?).context("setting up the registry client")
    }

    /// Blob and layer-result cache, per `--cache-dir` / `--no-cache`.
    pub fn cache_setting(&self) -> CacheSetting {
        match (&self.cache_dir, self.no_cache) {
            (_, true) => CacheSetting::Disabled,
            (Some(dir), false) => CacheSetting::Dir(dir.clone()),
            (None, false) => CacheSetting::Default,
        }
    }
}

impl ImageArgs {
    /// The image spec as the user gave it.
    pub fn spec(&self) -> anyhow::Result<ImageSpec> {
        match (&self.image, &self.input) {
            (_, Some(path)) => {
                ImageSpec::detect(path).with_context(|| format!("--input {}", path.display()))
            }
            (Some(image), None) => image
                .parse::<ImageSpec>()
                .with_context(|| format!("image `{image}`")),
            (None, None) => bail!("name an image, or give --input PATH"),
        }
    }

    pub fn open(&self) -> anyhow::Result<Image> {
        let spec = self.spec()?;
        let platform = match &self.platform {
            Some(p) => Some(parse_platform(p)?),
            None => None,
        };
        let registry = match &spec {
            ImageSpec::Registry(_) => Some(self.registry.options()?),
            _ => None,
        };
        let options = OpenOptions {
            platform,
            quiet: self.quiet,
            registry,
            cache: self.registry.cache_setting(),
            ..OpenOptions::default()
        };
        Image::open(&spec, &options).with_context(|| format!("opening {spec}"))
    }
}

fn parse_platform(text: &str) -> anyhow::Result<Platform> {
    let mut parts = text.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
            Ok(Platform::new(os, arch, variant.filter(|v| !v.is_empty())))
        }
        _ => bail!("--platform {text:?}: expected os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7"),
    }
}

/// The squashed view of an image, as the pure crates see it.
pub struct ImageTree<'a> {
    fs: &'a SquashedFs,
    layer_digests: Vec<String>,
}

impl<'a> ImageTree<'a> {
    pub fn new(image: &Image, fs: &'a SquashedFs) -> Self {
        let layer_digests = image
            .layers()
            .iter()
            .map(|l| l.digest.to_string())
            .collect();
        ImageTree { fs, layer_digests }
    }

    /// Every entry's metadata in the form the base-image facts take.
    pub fn fact_entries(&self) -> impl Iterator<Item = facts::FsEntry<'_>> {
        self.fs.entries().map(|e| facts::FsEntry {
            path: e.path.as_str(),
            kind: match e.kind {
                sealwatch_oci::EntryKind::File | sealwatch_oci::EntryKind::HardLink => {
                    facts::EntryKind::File
                }
                sealwatch_oci::EntryKind::Dir => facts::EntryKind::Dir,
                sealwatch_oci::EntryKind::Symlink => facts::EntryKind::Symlink,
                _ => facts::EntryKind::Other,
            },
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            link_target: e.link_target.as_deref(),
        })
    }
}

impl FileTree for ImageTree<'_> {
    fn read(&self, path: &str) -> Option<&[u8]> {
        // A file that exists but was not requested reads as absent: analyzers only see what they asked for.
        self.fs.read(path).ok().flatten()
    }

    fn files(&self) -> Box<dyn Iterator<Item = sealwatch_catalog::FileEntry<'_>> + '_> {
        Box::new(
            self.fs
                .entries()
                .filter(|e| e.content().is_some())
                .map(|e| sealwatch_catalog::FileEntry {
                    path: e.path.as_str(),
                    mode: e.mode,
                    layer: e
                        .layer
                        .and_then(|i| self.layer_digests.get(i))
                        .map(String::as_str),
                }),
        )
    }

    fn layer_of(&self, path: &str) -> Option<&str> {
        let entry = self.fs.entry(path)?;
        entry
            .layer
            .and_then(|i| self.layer_digests.get(i))
            .map(String::as_str)
    }
}

impl PathResolver for ImageTree<'_> {
    fn is_file(&self, path: &str) -> bool {
        matches!(
            self.fs.resolve(path),
            Ok(Some(e)) if matches!(e.kind, sealwatch_oci::EntryKind::File | sealwatch_oci::EntryKind::HardLink)
        )
    }
}

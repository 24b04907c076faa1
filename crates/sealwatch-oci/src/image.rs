//! The opened image: manifest, config and layers, and the entry point to its squashed file view.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::cache::BlobCache;
use crate::docker_archive::DockerArchiveSource;
use crate::layout::OciLayoutSource;
use crate::manifest::{Compression, Descriptor, ImageConfig, Manifest, Platform};
use crate::registry::{RegistryClient, RegistryOptions, RegistrySource};
use crate::source::BlobSource;
use crate::spec::ImageSpec;
use crate::{Digest, Error, Result, VerifyingReader};

/// Bounds on what an image may make sealwatch read or hold. The defaults are generous for real
/// images and stop decompression bombs and manifest floods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest, index, `index.json`, `manifest.json` or image config accepted.
    pub max_manifest_bytes: u64,
    /// Most layers an image may have.
    pub max_layers: usize,
    /// Most bytes all layers (and a gzip'd archive) may decompress to, together.
    pub max_total_bytes: u64,
    /// Largest single file whose content is kept in memory.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: 4 << 20,
            max_layers: 1000,
            max_total_bytes: 16 << 30,
            max_file_bytes: 256 << 20,
        }
    }
}

/// Where registry blobs are cached (`--cache-dir`, `--no-cache`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheSetting {
    /// The user cache dir ([`BlobCache::default_root`]); no cache if there is none.
    Default,
    /// `--cache-dir DIR`.
    Dir(PathBuf),
    /// `--no-cache`. The library default: caching (of registry blobs and of per-layer results, which are
    /// trusted by digest once made) is the application's decision, and tests of verification must see
    /// every byte.
    #[default]
    Disabled,
}

/// How to open an image.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Platform to select from an index; `None` = the host's ([`Platform::host`]).
    pub platform: Option<Platform>,
    pub limits: Limits,
    /// No progress bars even on a terminal.
    pub quiet: bool,
    /// Registry client settings; `None` = [`RegistryOptions::from_environment`].
    pub registry: Option<RegistryOptions>,
    /// Blob cache for registry images (local layouts and archives are read in place).
    pub cache: CacheSetting,
}

/// One layer of an image.
#[derive(Debug)]
pub struct LayerInfo {
    /// Digest of the blob as stored (for docker-archive: of the uncompressed `layer.tar`, which is
    /// its diff_id).
    pub digest: Digest,
    /// Size of the blob as stored.
    pub size: u64,
    pub media_type: String,
    /// The config's `rootfs.diff_ids` entry for this layer.
    pub diff_id: Option<Digest>,
    pub(crate) compression: Compression,
    pub(crate) uncompressed_size: OnceLock<u64>,
}

impl LayerInfo {
    /// Size of the layer's tar, known once the layer has been read.
    pub fn uncompressed_size(&self) -> Option<u64> {
        self.uncompressed_size.get().copied()
    }

    pub(crate) fn descriptor(&self) -> Descriptor {
        Descriptor::new(self.media_type.clone(), self.digest.clone(), self.size)
    }
}

pub(crate) enum Backing {
    Blobs(Arc<dyn BlobSource>),
    RootFs(PathBuf),
}

/// An opened image.
pub struct Image {
    pub(crate) backing: Backing,
    description: String,
    manifest_digest: Option<Digest>,
    manifest_media_type: Option<String>,
    config_digest: Option<Digest>,
    platform: Platform,
    config: ImageConfig,
    pub(crate) layers: Vec<LayerInfo>,
    pub(crate) options: OpenOptions,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("description", &self.description)
            .field("manifest_digest", &self.manifest_digest)
            .field("config_digest", &self.config_digest)
            .field("platform", &self.platform)
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

impl Image {
    /// Open an image: a local layout, archive or rootfs, or a registry image (through the registry
    /// client, with blobs cached per [`OpenOptions::cache`]).
    pub fn open(spec: &ImageSpec, options: &OpenOptions) -> Result<Image> {
        let limits = &options.limits;
        let source: Arc<dyn BlobSource> =
            match spec {
                ImageSpec::OciLayout { path, reference } => Arc::new(OciLayoutSource::open_dir(
                    path,
                    reference.as_deref(),
                    limits,
                )?),
                ImageSpec::OciArchive { path, reference } => Arc::new(
                    OciLayoutSource::open_archive(path, reference.as_deref(), limits)?,
                ),
                ImageSpec::DockerArchive { path, reference } => Arc::new(
                    DockerArchiveSource::open(path, reference.as_deref(), limits)?,
                ),
                ImageSpec::RootFs { path } => return Image::open_rootfs(path, options),
                ImageSpec::Registry(reference) => {
                    let registry = options
                        .registry
                        .clone()
                        .unwrap_or_else(RegistryOptions::from_environment);
                    let client = RegistryClient::new(registry)?;
                    let cache = match &options.cache {
                        CacheSetting::Default => BlobCache::open_default().ok(),
                        CacheSetting::Dir(dir) => Some(BlobCache::new(dir)?),
                        CacheSetting::Disabled => None,
                    };
                    RegistrySource::new(Arc::new(client), reference.clone()).into_blob_source(cache)
                }
            };
        Image::from_source(source, options)
    }

    /// Where cached layer results live, per [`OpenOptions::cache`].
    pub(crate) fn layer_cache(&self) -> Option<crate::layer_cache::LayerCache> {
        let root = match &self.options.cache {
            CacheSetting::Default => BlobCache::default_root()?,
            CacheSetting::Dir(dir) => dir.clone(),
            CacheSetting::Disabled => return None,
        };
        Some(crate::layer_cache::LayerCache::new(
            crate::layer_cache::dir_under(&root),
        ))
    }

    /// A host folder as an image with no layers.
    fn open_rootfs(path: &std::path::Path, options: &OpenOptions) -> Result<Image> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(Error::InvalidImage {
                source_name: format!("rootfs:{}", path.display()),
                reason: "not a directory".into(),
            });
        }
        Ok(Image {
            backing: Backing::RootFs(path.to_owned()),
            description: format!("rootfs:{}", path.display()),
            manifest_digest: None,
            manifest_media_type: None,
            config_digest: None,
            platform: Platform::host(),
            config: ImageConfig::default(),
            layers: Vec::new(),
            options: options.clone(),
        })
    }

    /// Open the image a [`BlobSource`] names: resolve an index to the requested platform, check
    /// media types and limits, fetch and verify the config.
    pub fn from_source(source: Arc<dyn BlobSource>, options: &OpenOptions) -> Result<Image> {
        let limits = &options.limits;
        let description = source.describe();
        let root = source.root_manifest()?;
        let root_name = root
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_else(|| description.clone());
        if root.bytes.len() as u64 > limits.max_manifest_bytes {
            return Err(Error::TooLarge {
                what: "manifest",
                digest: root_name,
                size: root.bytes.len() as u64,
                limit: limits.max_manifest_bytes,
            });
        }
        let platform = options.platform.clone().unwrap_or_else(Platform::host);
        let mut parsed = Manifest::parse(&root.bytes, root.media_type.as_deref(), &root_name)?;
        let mut manifest_digest = if root.synthesized {
            None
        } else {
            root.digest.clone()
        };
        let mut manifest_media_type = root.media_type.clone();
        // Follow indexes down to an image manifest (nested indexes are legal; bound the depth).
        let mut depth = 0;
        let manifest = loop {
            match parsed {
                Manifest::Image(m) => break *m,
                Manifest::Index(index) => {
                    depth += 1;
                    if depth > 4 {
                        return Err(Error::InvalidImage {
                            source_name: description,
                            reason: "indexes nested more than 4 deep".into(),
                        });
                    }
                    let name = manifest_digest
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| description.clone());
                    let desc = index.select(&platform, &name)?.clone();
                    if desc.size > limits.max_manifest_bytes {
                        return Err(Error::TooLarge {
                            what: "manifest",
                            digest: desc.digest.to_string(),
                            size: desc.size,
                            limit: limits.max_manifest_bytes,
                        });
                    }
                    let bytes = source.manifest(&desc)?;
                    desc.digest.verify_bytes(&bytes, Some(desc.size))?;
                    parsed =
                        Manifest::parse(&bytes, Some(&desc.media_type), &desc.digest.to_string())?;
                    manifest_digest = Some(desc.digest.clone());
                    manifest_media_type = Some(desc.media_type.clone()).filter(|m| !m.is_empty());
                }
            }
        };
        if manifest_media_type.is_none() {
            manifest_media_type = manifest.media_type.clone();
        }
        if manifest.layers.len() > limits.max_layers {
            return Err(Error::TooManyLayers {
                count: manifest.layers.len(),
                limit: limits.max_layers,
            });
        }

        let config_desc = &manifest.config;
        if config_desc.size > limits.max_manifest_bytes {
            return Err(Error::TooLarge {
                what: "image config",
                digest: config_desc.digest.to_string(),
                size: config_desc.size,
                limit: limits.max_manifest_bytes,
            });
        }
        let mut config_bytes = Vec::new();
        let reader = source.open_blob(config_desc)?;
        VerifyingReader::new(reader, config_desc.digest.clone(), config_desc.size)
            .read_to_end(&mut config_bytes)
            .map_err(|e| blob_error(e, &config_desc.digest, &description))?;
        let config = ImageConfig::parse(&config_bytes, &config_desc.digest.to_string())?;

        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != manifest.layers.len() {
            return Err(Error::InvalidImage {
                source_name: description,
                reason: format!(
                    "manifest has {} layers but config {} has {} diff_ids",
                    manifest.layers.len(),
                    config_desc.digest,
                    diff_ids.len()
                ),
            });
        }
        let layers = manifest
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(d, diff_id)| {
                // Parse already rejected unknown layer media types.
                let compression =
                    Compression::of_layer_media_type(&d.media_type).unwrap_or(Compression::None);
                LayerInfo {
                    digest: d.digest.clone(),
                    size: d.size,
                    media_type: d.media_type.clone(),
                    diff_id: Some(diff_id.clone()),
                    compression,
                    uncompressed_size: OnceLock::new(),
                }
            })
            .collect();
        let image_platform = if config.os.is_empty() {
            platform
        } else {
            config.platform()
        };
        Ok(Image {
            backing: Backing::Blobs(source),
            description,
            manifest_digest,
            manifest_media_type,
            config_digest: Some(config_desc.digest.clone()),
            platform: image_platform,
            config,
            layers,
            options: options.clone(),
        })
    }

    /// Where the image came from, e.g. `oci:/path:tag`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The image manifest's digest; None for docker-archive (no registry manifest) and rootfs.
    pub fn manifest_digest(&self) -> Option<&Digest> {
        self.manifest_digest.as_ref()
    }

    pub fn manifest_media_type(&self) -> Option<&str> {
        self.manifest_media_type.as_deref()
    }

    /// The config blob's digest (for docker-archive: the Docker image ID). None for rootfs.
    pub fn config_digest(&self) -> Option<&Digest> {
        self.config_digest.as_ref()
    }

    /// The image's platform (from its config; the host's for a rootfs).
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The parsed image config (empty for a rootfs).
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// Layers, bottom first. Empty for a rootfs.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    /// True for `rootfs:`/`dir:` images.
    pub fn is_rootfs(&self) -> bool {
        matches!(self.backing, Backing::RootFs(_))
    }
}

/// Turn an I/O error from a verifying stream back into our error if it carries one
/// (verification and limit failures travel through `io::Read` as `InvalidData` errors).
pub(crate) fn blob_error(e: std::io::Error, digest: &Digest, source_name: &str) -> Error {
    stream_error(e, format!("{digest} in {source_name}"))
}

/// Like [`blob_error`], naming the layer with `layer`.
pub(crate) fn stream_error(e: std::io::Error, layer: String) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        match e.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(err)) => *err,
            Some(Err(other)) => Error::LayerRead {
                layer,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, other),
            },
            None => Error::BadLayer {
                layer,
                reason: "verification failed".into(),
            },
        }
    } else {
        Error::LayerRead { layer, source: e }
    }
}

//! `docker save` archives (`docker-archive:PATH[:REPO:TAG]`), plain or gzip.
//!
//! Such an archive has no registry manifest: we synthesize a Docker schema 2 manifest whose config
//! descriptor is the config file (its digest is the image ID) and whose layers are the
//! *uncompressed* `layer.tar` files with digest = the config's `rootfs.diff_ids` entry. Streaming a
//! layer through `VerifyingReader` therefore checks each `layer.tar` against its diff_id. The
//! synthesized manifest is marked so that the image has no manifest digest.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::archive::ArchiveFile;
use crate::image::Limits;
use crate::manifest::{media_type, Descriptor, ImageConfig, ImageManifest};
use crate::source::{BlobSource, RootManifest};
use crate::{Digest, Error, Result};

#[derive(Deserialize)]
struct SaveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// A `docker save` archive.
pub struct DockerArchiveSource {
    archive: ArchiveFile,
    root: RootManifest,
    /// Archive path of each blob the synthesized manifest names.
    blobs: HashMap<Digest, String>,
    reference: Option<String>,
}

impl DockerArchiveSource {
    /// Open `path`; `reference` (`repo:tag` from `RepoTags`) picks one image when the archive
    /// holds several.
    pub fn open(path: &Path, reference: Option<&str>, limits: &Limits) -> Result<Self> {
        let archive = ArchiveFile::open(path, limits.max_total_bytes)?;
        let name = format!("docker-archive:{}", path.display());
        let invalid = |reason: String| Error::InvalidImage {
            source_name: name.clone(),
            reason,
        };
        let manifest_bytes = archive
            .read_entry("manifest.json", limits.max_manifest_bytes, "manifest.json")?
            .ok_or_else(|| invalid("no manifest.json: not a `docker save` archive".into()))?;
        let entries: Vec<SaveEntry> =
            serde_json::from_slice(&manifest_bytes).map_err(|source| Error::BadJson {
                what: "manifest.json",
                digest: name.clone(),
                source,
            })?;
        let entry = match reference {
            Some(r) => entries
                .iter()
                .find(|e| e.repo_tags.iter().flatten().any(|t| same_tag(t, r)))
                .ok_or_else(|| invalid(format!("no image tagged {r:?} in manifest.json")))?,
            None => match entries.as_slice() {
                [one] => one,
                [] => return Err(invalid("manifest.json lists no images".into())),
                _ => {
                    let tags: Vec<&str> = entries
                        .iter()
                        .flat_map(|e| e.repo_tags.iter().flatten())
                        .map(String::as_str)
                        .collect();
                    return Err(invalid(format!(
                        "archive holds {} images; name one with docker-archive:PATH:REPO:TAG ({})",
                        entries.len(),
                        tags.join(", ")
                    )));
                }
            },
        };

        let config_bytes = archive
            .read_entry(&entry.config, limits.max_manifest_bytes, "image config")?
            .ok_or_else(|| {
                invalid(format!(
                    "config {} named in manifest.json is missing",
                    entry.config
                ))
            })?;
        let config_digest = Digest::sha256_of(&config_bytes);
        let config = ImageConfig::parse(&config_bytes, &config_digest.to_string())?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(invalid(format!(
                "manifest.json lists {} layers but the config has {} diff_ids",
                entry.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        if entry.layers.len() > limits.max_layers {
            return Err(Error::TooManyLayers {
                count: entry.layers.len(),
                limit: limits.max_layers,
            });
        }
        let mut blobs = HashMap::new();
        blobs.insert(config_digest.clone(), entry.config.clone());
        let mut layers = Vec::with_capacity(entry.layers.len());
        for (layer_path, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
            let size = archive.size_of(layer_path).ok_or_else(|| {
                invalid(format!(
                    "layer {layer_path} named in manifest.json is missing"
                ))
            })?;
            // `docker save` writes uncompressed layer tars (blob digest = diff_id). Docker 25+
            // with the containerd image store writes the stored, compressed blobs under
            // `blobs/sha256/<digest>`: then the path names the blob digest, and the diff_id is
            // checked after decompression like any registry layer.
            let magic = archive.head(layer_path, 4).unwrap_or_default();
            let compressed = if magic.starts_with(&[0x1f, 0x8b]) {
                Some(media_type::DOCKER_LAYER_GZIP)
            } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                Some(media_type::OCI_LAYER_ZSTD)
            } else {
                None
            };
            let desc = match compressed {
                None => Descriptor::new(media_type::DOCKER_LAYER_TAR, diff_id.clone(), size),
                Some(mt) => {
                    let digest = blob_digest_of_path(layer_path).ok_or_else(|| {
                        invalid(format!(
                            "layer {layer_path} is compressed but its path does not name its digest"
                        ))
                    })?;
                    Descriptor::new(mt, digest, size)
                }
            };
            blobs.insert(desc.digest.clone(), layer_path.clone());
            layers.push(desc);
        }
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::DOCKER_MANIFEST.to_owned()),
            config: Descriptor::new(
                media_type::DOCKER_CONFIG,
                config_digest,
                config_bytes.len() as u64,
            ),
            layers,
            annotations: Default::default(),
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|source| Error::BadJson {
            what: "manifest",
            digest: name.clone(),
            source,
        })?;
        Ok(DockerArchiveSource {
            archive,
            root: RootManifest {
                bytes,
                media_type: Some(media_type::DOCKER_MANIFEST.to_owned()),
                digest: None,
                synthesized: true,
            },
            blobs,
            reference: reference.map(str::to_owned),
        })
    }
}

/// The digest a content-addressed path names: `blobs/sha256/<hex>`.
fn blob_digest_of_path(path: &str) -> Option<Digest> {
    let key = crate::archive::archive_key(path)?;
    let rest = key.strip_prefix("blobs/")?;
    let (algorithm, hex) = rest.split_once('/')?;
    format!("{algorithm}:{hex}").parse().ok()
}

/// `RepoTags` hold normalized names (`docker.io/library/alpine:3`); users write `alpine:3`.
fn same_tag(stored: &str, wanted: &str) -> bool {
    if stored == wanted {
        return true;
    }
    match (
        stored.parse::<crate::Reference>(),
        wanted.parse::<crate::Reference>(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl BlobSource for DockerArchiveSource {
    fn root_manifest(&self) -> Result<RootManifest> {
        Ok(self.root.clone())
    }

    fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        Err(Error::BlobNotFound {
            source_name: self.describe(),
            digest: desc.digest.to_string(),
        })
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>> {
        let not_found = || Error::BlobNotFound {
            source_name: self.describe(),
            digest: desc.digest.to_string(),
        };
        let path = self.blobs.get(&desc.digest).ok_or_else(not_found)?;
        let reader = self.archive.open_entry(path).ok_or_else(not_found)?;
        Ok(Box::new(reader))
    }

    fn describe(&self) -> String {
        match &self.reference {
            Some(r) => format!("docker-archive:{}:{r}", self.archive.path().display()),
            None => format!("docker-archive:{}", self.archive.path().display()),
        }
    }
}

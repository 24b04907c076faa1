//! OCI image layouts: a folder (`oci:PATH[:REF]`) or a tar of one (`oci-archive:PATH[:REF]`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::archive::ArchiveFile;
use crate::image::Limits;
use crate::manifest::{media_type, Descriptor, ImageIndex};
use crate::source::{BlobSource, RootManifest};
use crate::{Error, Result};

enum Store {
    Dir(PathBuf),
    Archive(ArchiveFile),
}

impl Store {
    fn name(&self) -> String {
        match self {
            Store::Dir(p) => format!("oci:{}", p.display()),
            Store::Archive(a) => format!("oci-archive:{}", a.path().display()),
        }
    }

    /// Read a small file of the layout (index.json, a manifest), bounded by `limit`.
    fn read(&self, rel: &str, limit: u64, what: &'static str) -> Result<Option<Vec<u8>>> {
        match self {
            Store::Dir(root) => {
                let path = root.join(rel);
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(source) => return Err(Error::Io { path, source }),
                };
                let mut buf = Vec::new();
                file.take(limit.saturating_add(1))
                    .read_to_end(&mut buf)
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                if buf.len() as u64 > limit {
                    return Err(Error::TooLarge {
                        what,
                        digest: path.display().to_string(),
                        size: buf.len() as u64,
                        limit,
                    });
                }
                Ok(Some(buf))
            }
            Store::Archive(a) => a.read_entry(rel, limit, what),
        }
    }

    fn open(&self, rel: &str) -> Result<Option<Box<dyn Read + Send>>> {
        match self {
            Store::Dir(root) => {
                let path = root.join(rel);
                match File::open(&path) {
                    Ok(f) => Ok(Some(Box::new(f))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(Error::Io { path, source }),
                }
            }
            Store::Archive(a) => Ok(a
                .open_entry(rel)
                .map(|r| Box::new(r) as Box<dyn Read + Send>)),
        }
    }
}

/// An OCI image layout, in a folder or a tar archive.
pub struct OciLayoutSource {
    store: Store,
    root: RootManifest,
    max_manifest_bytes: u64,
    reference: Option<String>,
}

impl OciLayoutSource {
    /// Open the layout folder `dir`; `reference` selects a manifest by its
    /// `org.opencontainers.image.ref.name` annotation.
    pub fn open_dir(dir: &Path, reference: Option<&str>, limits: &Limits) -> Result<Self> {
        Self::open(Store::Dir(dir.to_owned()), reference, limits)
    }

    /// Open an oci-archive (a tar of a layout, plain or gzip).
    pub fn open_archive(path: &Path, reference: Option<&str>, limits: &Limits) -> Result<Self> {
        let archive = ArchiveFile::open(path, limits.max_total_bytes)?;
        Self::open(Store::Archive(archive), reference, limits)
    }

    fn open(store: Store, reference: Option<&str>, limits: &Limits) -> Result<Self> {
        let name = store.name();
        let invalid = |reason: String| Error::InvalidImage {
            source_name: name.clone(),
            reason,
        };
        let layout = store
            .read("oci-layout", limits.max_manifest_bytes, "oci-layout")?
            .ok_or_else(|| invalid("no `oci-layout` file: not an OCI image layout".into()))?;
        let layout: serde_json::Value =
            serde_json::from_slice(&layout).map_err(|source| Error::BadJson {
                what: "oci-layout",
                digest: name.clone(),
                source,
            })?;
        if layout
            .get("imageLayoutVersion")
            .and_then(|v| v.as_str())
            .is_none()
        {
            return Err(invalid("`oci-layout` has no imageLayoutVersion".into()));
        }
        let index_bytes = store
            .read("index.json", limits.max_manifest_bytes, "index.json")?
            .ok_or_else(|| invalid("no index.json".into()))?;
        let index: ImageIndex =
            serde_json::from_slice(&index_bytes).map_err(|source| Error::BadJson {
                what: "index.json",
                digest: name.clone(),
                source,
            })?;

        // Pick the manifest the user named; with no name, a single entry is the image, and several
        // entries are treated as an index (platform selection happens in Image::open).
        let chosen: Option<&Descriptor> = match reference {
            Some(r) => {
                let found = index.manifests.iter().find(|d| d.ref_name() == Some(r));
                let found =
                    found.or_else(|| index.manifests.iter().find(|d| d.digest.to_string() == r));
                Some(found.ok_or_else(|| {
                    let names: Vec<&str> = index
                        .manifests
                        .iter()
                        .filter_map(Descriptor::ref_name)
                        .collect();
                    invalid(format!(
                        "no manifest named {r:?} in index.json (names: {})",
                        names.join(", ")
                    ))
                })?)
            }
            None if index.manifests.len() == 1 => index.manifests.first(),
            None if index.manifests.is_empty() => {
                return Err(invalid("index.json lists no manifests".into()))
            }
            // Several images for different platforms: select by platform like any index.
            None if index.manifests.iter().all(|d| d.platform.is_some()) => None,
            None => {
                let names: Vec<&str> = index
                    .manifests
                    .iter()
                    .map(|d| d.ref_name().unwrap_or("(unnamed)"))
                    .collect();
                return Err(invalid(format!(
                    "index.json lists {} manifests; name one with oci:PATH:REF ({})",
                    index.manifests.len(),
                    names.join(", ")
                )));
            }
        };
        let root = match chosen {
            Some(desc) => {
                let bytes = read_verified(&store, desc, limits.max_manifest_bytes)?;
                RootManifest {
                    bytes,
                    media_type: Some(desc.media_type.clone()).filter(|m| !m.is_empty()),
                    digest: Some(desc.digest.clone()),
                    synthesized: false,
                }
            }
            None => RootManifest {
                bytes: index_bytes,
                media_type: Some(media_type::OCI_INDEX.to_owned()),
                digest: None,
                synthesized: false,
            },
        };
        Ok(OciLayoutSource {
            store,
            root,
            max_manifest_bytes: limits.max_manifest_bytes,
            reference: reference.map(str::to_owned),
        })
    }
}

fn blob_path(desc: &Descriptor) -> String {
    format!(
        "blobs/{}/{}",
        desc.digest.algorithm().as_str(),
        desc.digest.hex()
    )
}

fn read_verified(store: &Store, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
    if desc.size > limit {
        return Err(Error::TooLarge {
            what: "manifest",
            digest: desc.digest.to_string(),
            size: desc.size,
            limit,
        });
    }
    let bytes = store
        .read(&blob_path(desc), limit, "manifest")?
        .ok_or_else(|| Error::BlobNotFound {
            source_name: store.name(),
            digest: desc.digest.to_string(),
        })?;
    desc.digest.verify_bytes(&bytes, Some(desc.size))?;
    Ok(bytes)
}

impl BlobSource for OciLayoutSource {
    fn root_manifest(&self) -> Result<RootManifest> {
        Ok(self.root.clone())
    }

    fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        read_verified(&self.store, desc, self.max_manifest_bytes)
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>> {
        self.store
            .open(&blob_path(desc))?
            .ok_or_else(|| Error::BlobNotFound {
                source_name: self.describe(),
                digest: desc.digest.to_string(),
            })
    }

    fn describe(&self) -> String {
        match &self.reference {
            Some(r) => format!("{}:{r}", self.store.name()),
            None => self.store.name(),
        }
    }
}

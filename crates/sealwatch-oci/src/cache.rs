//! A content-addressed blob cache: `<root>/blobs/<alg>/<hex>`, root defaulting to
//! `dirs::cache_dir()/sealwatch`.
//!
//! Invariant: a file at its final name was verified (digest and size) before it was renamed there,
//! so a cached blob is trusted by its name alone. Writers stream into a temp file in the same
//! directory (`.tmp-*`), verify while writing, fsync, then rename atomically; two processes
//! inserting the same blob both succeed (the second rename replaces identical bytes), and a
//! writer killed halfway leaves only a `.tmp-*` file, which lookups never read.
//!
//! `<root>/layers/` is reserved for per-layer *results* (e.g. the package list of a layer, keyed by
//! its digest) so that scanning the same image again needs no layer reads.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::manifest::Descriptor;
use crate::source::{BlobSource, RootManifest};
use crate::{Digest, Error, Result, VerifyingReader};

/// The blob cache.
#[derive(Debug, Clone)]
pub struct BlobCache {
    root: PathBuf,
}

impl BlobCache {
    /// The default cache root, `$XDG_CACHE_HOME/sealwatch` (or the platform's equivalent).
    pub fn default_root() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("sealwatch"))
    }

    /// A cache rooted at `root` (`--cache-dir`), created if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("blobs")).map_err(|source| Error::Io {
            path: root.clone(),
            source,
        })?;
        Ok(BlobCache { root })
    }

    /// The cache at the default location.
    pub fn open_default() -> Result<Self> {
        let root = Self::default_root().ok_or_else(|| Error::Cache {
            path: PathBuf::new(),
            reason: "no user cache directory (set --cache-dir)".into(),
        })?;
        Self::new(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob with this digest lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// The folder reserved for cached per-layer results.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// The cached blob for `desc`, if present with the right size.
    pub fn get(&self, desc: &Descriptor) -> Result<Option<File>> {
        let path = self.blob_path(&desc.digest);
        match File::open(&path) {
            Ok(f) => {
                let len = f
                    .metadata()
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?
                    .len();
                // The name is the proof of verification; a size mismatch means a descriptor that
                // lies about the size (the registry accepts those), so treat it as a miss.
                Ok((len == desc.size).then_some(f))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Stream `reader` into the cache, verifying it against `desc`; returns the final path.
    pub fn insert(&self, desc: &Descriptor, reader: impl Read) -> Result<PathBuf> {
        let dest = self.blob_path(&desc.digest);
        let dir = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(io_err(&dir))?;
        let mut verifying = VerifyingReader::new(reader, desc.digest.clone(), desc.size);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match verifying.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(crate::image::blob_error(
                        e,
                        &desc.digest,
                        "blob cache insert",
                    ))
                }
            };
            let chunk = buf.get(..n).unwrap_or_default();
            tmp.write_all(chunk).map_err(io_err(tmp.path()))?;
        }
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        tmp.persist(&dest).map_err(|e| Error::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(dest)
    }

    /// The cached blob, or fetch it with `fetch`, cache it (verified), and open it.
    pub fn get_or_insert(
        &self,
        desc: &Descriptor,
        fetch: impl FnOnce() -> Result<Box<dyn Read + Send>>,
    ) -> Result<File> {
        if let Some(f) = self.get(desc)? {
            return Ok(f);
        }
        let path = self.insert(desc, fetch()?)?;
        File::open(&path).map_err(|source| Error::Io { path, source })
    }
}

/// A [`BlobSource`] that serves blobs from a [`BlobCache`] and fills it from an inner source
/// (for registry images; local layouts and archives need no cache).
pub struct CachingSource {
    inner: Arc<dyn BlobSource>,
    cache: BlobCache,
}

impl CachingSource {
    pub fn new(inner: Arc<dyn BlobSource>, cache: BlobCache) -> Self {
        CachingSource { inner, cache }
    }
}

impl BlobSource for CachingSource {
    fn root_manifest(&self) -> Result<RootManifest> {
        self.inner.root_manifest()
    }

    fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        self.inner.manifest(desc)
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>> {
        let file = self
            .cache
            .get_or_insert(desc, || self.inner.open_blob(desc))?;
        Ok(Box::new(file))
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc_of(data: &[u8]) -> Descriptor {
        Descriptor::new(
            "application/octet-stream",
            Digest::sha256_of(data),
            data.len() as u64,
        )
    }

    #[test]
    fn inserts_verified_blobs_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = BlobCache::new(dir.path()).expect("cache");
        let data = b"layer bytes";
        let desc = desc_of(data);
        assert!(cache.get(&desc).expect("get").is_none());
        let path = cache.insert(&desc, &data[..]).expect("insert");
        assert_eq!(std::fs::read(&path).expect("read"), data);
        assert!(cache.get(&desc).expect("get").is_some());

        let other = desc_of(b"something else");
        let err = cache
            .insert(&other, &b"tampered bytes"[..])
            .expect_err("must fail");
        assert!(
            matches!(
                err,
                Error::SizeMismatch { .. } | Error::DigestMismatch { .. }
            ),
            "{err}"
        );
        assert!(!cache.blob_path(&other.digest).exists());
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "failed insert left a temp file");
    }
}

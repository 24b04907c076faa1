//! Per-layer results, cached by layer digest, so reading the same image (or another image sharing its
//! layers) again costs a file read instead of a decompression.
//!
//! A result is keyed by the layer's digest *and* the file request (the same layer read for other files
//! gives another result). It is trusted by its key: it was made from bytes that were verified against that
//! digest, and like any content-addressed store it never needs the blob again. Files are written to a
//! temporary name and renamed into place, so a killed writer leaves nothing a reader could pick up, and a
//! trailing sha256 rejects a damaged file (a miss, then a rewrite). Writing is best effort: a cache that
//! cannot be written only costs speed.
//!
//! The encoding is our own, small and versioned ([`FORMAT`]): a cache file is never shared between
//! sealwatch versions that disagree on it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::squash::{EntryKind, FileEntry, FileRequest, LayerScan};
use crate::Digest;

/// Bumped whenever the encoding or the meaning of a scan changes.
const FORMAT: &str = "sealwatch-layer-scan-v1";

/// A folder of cached layer results.
#[derive(Debug, Clone)]
pub(crate) struct LayerCache {
    dir: PathBuf,
}

/// A layer result as cached: the scan and the layer's uncompressed size.
pub(crate) struct CachedLayer {
    pub(crate) scan: LayerScan,
    pub(crate) uncompressed_size: u64,
}

impl LayerCache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        LayerCache { dir }
    }

    /// The cache key of `layer` read for `request`.
    pub(crate) fn key(layer: &Digest, request: &FileRequest) -> String {
        let mut h = Sha256::new();
        h.update(FORMAT.as_bytes());
        h.update([0]);
        h.update(layer.to_string().as_bytes());
        h.update([0]);
        h.update(request.fingerprint().as_bytes());
        hex::encode(h.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The cached result, or None (absent, unreadable, damaged: all a miss). Entries get `layer_index`.
    pub(crate) fn load(&self, key: &str, layer_index: usize) -> Option<CachedLayer> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if Sha256::digest(body).as_slice() != sum {
            return None;
        }
        decode(body, layer_index)
    }

    /// Store a result; failures are ignored (see the module docs).
    pub(crate) fn store(&self, key: &str, scan: &LayerScan, uncompressed_size: u64) {
        let _ = self.try_store(key, scan, uncompressed_size);
    }

    fn try_store(
        &self,
        key: &str,
        scan: &LayerScan,
        uncompressed_size: u64,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut body = encode(scan, uncompressed_size);
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)?;
        tmp.write_all(&body)?;
        tmp.persist(self.path(key)).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The layer cache folder under a cache root.
pub(crate) fn dir_under(root: &Path) -> PathBuf {
    root.join("layers")
}

fn encode(scan: &LayerScan, uncompressed_size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * scan.entries.len() + 1024);
    put_u64(&mut out, uncompressed_size);
    put_strings(&mut out, &scan.opaque);
    put_strings(&mut out, &scan.whiteouts);
    put_u64(&mut out, scan.entries.len() as u64);
    for e in &scan.entries {
        put_bytes(&mut out, e.path.as_bytes());
        out.push(kind_code(e.kind));
        put_u64(&mut out, u64::from(e.mode));
        put_u64(&mut out, e.uid);
        put_u64(&mut out, e.gid);
        put_u64(&mut out, e.size);
        match &e.link_target {
            Some(t) => {
                out.push(1);
                put_bytes(&mut out, t.as_bytes());
            }
            None => out.push(0),
        }
        match e.content() {
            Some(c) => {
                out.push(1);
                put_bytes(&mut out, c);
            }
            None => out.push(0),
        }
        out.push(u8::from(e.is_oversize()));
    }
    out
}

fn decode(bytes: &[u8], layer_index: usize) -> Option<CachedLayer> {
    let mut r = Reader { bytes, pos: 0 };
    let uncompressed_size = r.u64()?;
    let opaque = r.strings()?;
    let whiteouts = r.strings()?;
    let count = usize::try_from(r.u64()?).ok()?;
    // Each entry takes at least 40 bytes: a count above that is a damaged file, not an allocation.
    if count > bytes.len() / 40 + 1 {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let path = r.string()?;
        let kind = kind_from(r.u8()?)?;
        let mode = u32::try_from(r.u64()?).ok()?;
        let uid = r.u64()?;
        let gid = r.u64()?;
        let size = r.u64()?;
        let link_target = if r.u8()? == 1 {
            Some(r.string()?)
        } else {
            None
        };
        let content: Option<Arc<[u8]>> = if r.u8()? == 1 {
            Some(r.bytes()?.into())
        } else {
            None
        };
        let oversize = r.u8()? == 1;
        entries.push(FileEntry::from_cache(
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            link_target,
            layer_index,
            content,
            oversize,
        ));
    }
    (r.pos == bytes.len()).then_some(CachedLayer {
        scan: LayerScan::from_parts(entries, opaque, whiteouts),
        uncompressed_size,
    })
}

fn kind_code(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::File => 0,
        EntryKind::Dir => 1,
        EntryKind::Symlink => 2,
        EntryKind::HardLink => 3,
        EntryKind::CharDevice => 4,
        EntryKind::BlockDevice => 5,
        EntryKind::Fifo => 6,
        EntryKind::Socket => 7,
        EntryKind::Other => 8,
    }
}

fn kind_from(code: u8) -> Option<EntryKind> {
    Some(match code {
        0 => EntryKind::File,
        1 => EntryKind::Dir,
        2 => EntryKind::Symlink,
        3 => EntryKind::HardLink,
        4 => EntryKind::CharDevice,
        5 => EntryKind::BlockDevice,
        6 => EntryKind::Fifo,
        7 => EntryKind::Socket,
        8 => EntryKind::Other,
        _ => return None,
    })
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_strings(out: &mut Vec<u8>, items: &[String]) {
    put_u64(out, items.len() as u64);
    for s in items {
        put_bytes(out, s.as_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn strings(&mut self) -> Option<Vec<String>> {
        let n = usize::try_from(self.u64()?).ok()?;
        if n > self.bytes.len() {
            return None;
        }
        (0..n).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LayerScan {
        let entries = vec![
            FileEntry::from_cache(
                "etc/os-release".into(),
                EntryKind::File,
                0o644,
                0,
                0,
                5,
                None,
                3,
                Some(b"ID=x\n"[..].into()),
                false,
            ),
            FileEntry::from_cache(
                "bin/sh".into(),
                EntryKind::Symlink,
                0o777,
                0,
                0,
                0,
                Some("busybox".into()),
                3,
                None,
                false,
            ),
            FileEntry::from_cache(
                "big".into(),
                EntryKind::File,
                0o4755,
                1,
                2,
                1 << 40,
                None,
                3,
                None,
                true,
            ),
        ];
        LayerScan::from_parts(entries, vec!["opt".into()], vec!["var/gone".into()])
    }

    #[test]
    fn round_trips_and_reindexes_layers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = LayerCache::new(dir.path().to_owned());
        cache.store("k", &sample(), 1234);
        let got = cache.load("k", 7).expect("hit");
        assert_eq!(got.uncompressed_size, 1234);
        let original = sample();
        assert_eq!(got.scan.entries.len(), original.entries.len());
        for (a, b) in got.scan.entries.iter().zip(&original.entries) {
            assert_eq!(
                (&a.path, a.kind, a.mode, a.uid, a.gid, a.size),
                (&b.path, b.kind, b.mode, b.uid, b.gid, b.size)
            );
            assert_eq!(a.link_target, b.link_target);
            assert_eq!(a.content(), b.content());
            assert_eq!(a.is_oversize(), b.is_oversize());
            assert_eq!(
                a.layer,
                Some(7),
                "the layer index is the one of the image being read"
            );
        }
        assert_eq!(got.scan.opaque, vec!["opt".to_owned()]);
        assert_eq!(got.scan.whiteouts, vec!["var/gone".to_owned()]);
    }

    #[test]
    fn damaged_or_truncated_files_are_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = LayerCache::new(dir.path().to_owned());
        cache.store("k", &sample(), 1);
        let path = dir.path().join("k");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(cache.load("k", 0).is_none(), "checksum mismatch is a miss");
        std::fs::write(&path, &bytes[..20]).expect("write");
        assert!(cache.load("k", 0).is_none());
        assert!(cache.load("absent", 0).is_none());
    }

    #[test]
    fn key_depends_on_layer_and_request() {
        let d1 = Digest::sha256_of(b"a");
        let d2 = Digest::sha256_of(b"b");
        let r1 = FileRequest::new().path("etc/os-release");
        let r2 = FileRequest::new().path("etc/passwd");
        assert_ne!(LayerCache::key(&d1, &r1), LayerCache::key(&d2, &r1));
        assert_ne!(LayerCache::key(&d1, &r1), LayerCache::key(&d1, &r2));
        assert_eq!(
            LayerCache::key(&d1, &r1),
            LayerCache::key(&d1, &FileRequest::new().path("/etc/os-release"))
        );
    }
}

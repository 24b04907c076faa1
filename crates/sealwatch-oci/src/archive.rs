//! A tar archive on disk (oci-archive, docker-archive), indexed once by entry offset so that
//! blobs inside it can be streamed by several threads at once without extracting anything.
//! A gzip'd archive is first decompressed into an anonymous temporary file (deleted by the OS
//! when closed), bounded by the decompressed-size limit.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

#[derive(Debug, Clone)]
struct ArchiveEntry {
    offset: u64,
    size: u64,
    /// Target of a symlink or hard link entry (docker save links duplicate layers).
    link: Option<String>,
}

/// An indexed tar archive.
pub(crate) struct ArchiveFile {
    path: PathBuf,
    file: Arc<File>,
    entries: HashMap<String, ArchiveEntry>,
}

/// Whether the first bytes of `path` are the gzip magic.
pub(crate) fn is_gzip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let n = read_up_to(&mut f, &mut magic).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(n == 2 && magic == GZIP_MAGIC)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Normalize a path inside an archive: no leading `./` or `/`, no empty or `.` components.
/// Returns None for paths with `..` (an archive index never needs them).
pub(crate) fn archive_key(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl ArchiveFile {
    /// Open and index `path`; `max_decompressed` bounds the size of a gzip'd archive's content.
    pub(crate) fn open(path: &Path, max_decompressed: u64) -> Result<ArchiveFile> {
        let io_err = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = if is_gzip(path)? {
            let src = File::open(path).map_err(io_err)?;
            let mut decoder =
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, src));
            let mut tmp = tempfile::tempfile().map_err(io_err)?;
            let copied = io::copy(
                &mut (&mut decoder).take(max_decompressed.saturating_add(1)),
                &mut tmp,
            )
            .map_err(io_err)?;
            if copied > max_decompressed {
                return Err(Error::TooLarge {
                    what: "decompressed archive",
                    digest: path.display().to_string(),
                    size: copied,
                    limit: max_decompressed,
                });
            }
            tmp
        } else {
            File::open(path).map_err(io_err)?
        };
        let file = Arc::new(file);
        let entries = index_tar(&file).map_err(io_err)?;
        Ok(ArchiveFile {
            path: path.to_owned(),
            file,
            entries,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn lookup(&self, name: &str) -> Option<&ArchiveEntry> {
        let mut key = archive_key(name)?;
        // Follow a few links (docker save uses symlinks for layers shared between images).
        for _ in 0..8 {
            let entry = self.entries.get(&key)?;
            match &entry.link {
                None => return Some(entry),
                Some(target) => {
                    let joined = if target.starts_with('/') {
                        target.clone()
                    } else {
                        let parent = key.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                        format!("{parent}/{target}")
                    };
                    key = normalize_clamped(&joined);
                }
            }
        }
        None
    }

    /// The size of an entry, if present.
    pub(crate) fn size_of(&self, name: &str) -> Option<u64> {
        self.lookup(name).map(|e| e.size)
    }

    /// The first `n` bytes of an entry (fewer if it is shorter).
    pub(crate) fn head(&self, name: &str, n: usize) -> Option<Vec<u8>> {
        let mut reader = self.open_entry(name)?;
        let mut buf = vec![0u8; n];
        let got = read_up_to(&mut reader, &mut buf).ok()?;
        buf.truncate(got);
        Some(buf)
    }

    /// A reader over one entry's content.
    pub(crate) fn open_entry(&self, name: &str) -> Option<EntryReader> {
        let e = self.lookup(name)?;
        Some(EntryReader {
            file: Arc::clone(&self.file),
            pos: e.offset,
            end: e.offset + e.size,
        })
    }

    /// Read a whole entry of at most `limit` bytes; `what` names the document in errors.
    pub(crate) fn read_entry(
        &self,
        name: &str,
        limit: u64,
        what: &'static str,
    ) -> Result<Option<Vec<u8>>> {
        let Some(e) = self.lookup(name) else {
            return Ok(None);
        };
        if e.size > limit {
            return Err(Error::TooLarge {
                what,
                digest: format!("{}:{name}", self.path.display()),
                size: e.size,
                limit,
            });
        }
        let mut buf = Vec::with_capacity(e.size as usize);
        let mut r = EntryReader {
            file: Arc::clone(&self.file),
            pos: e.offset,
            end: e.offset + e.size,
        };
        r.read_to_end(&mut buf).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(Some(buf))
    }
}

/// `..` resolved lexically, never above the root.
fn normalize_clamped(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn index_tar(file: &Arc<File>) -> io::Result<HashMap<String, ArchiveEntry>> {
    let reader = EntryReader {
        file: Arc::clone(file),
        pos: 0,
        end: file.metadata()?.len(),
    };
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 16, reader));
    let mut entries = HashMap::new();
    for entry in archive.entries()? {
        let entry = entry?;
        let raw_path = entry.path()?.to_string_lossy().into_owned();
        let Some(key) = archive_key(&raw_path) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let link = if kind.is_symlink() || kind.is_hard_link() {
            entry.link_name()?.map(|l| l.to_string_lossy().into_owned())
        } else {
            None
        };
        if !(kind.is_file() || link.is_some()) {
            continue;
        }
        // A hard link in a tar names another entry by its archive path, not relative to the link.
        let link = match (link, kind.is_hard_link()) {
            (Some(target), true) => Some(format!("/{target}")),
            (other, _) => other,
        };
        entries.insert(
            key,
            ArchiveEntry {
                offset: entry.raw_file_position(),
                size: entry.size(),
                link,
            },
        );
    }
    Ok(entries)
}

/// Reads a byte range of a shared file with positioned reads, so many readers can share one file.
pub(crate) struct EntryReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive entry is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_keys() {
        let check = |input: &str, expect: Option<&str>| {
            assert_eq!(archive_key(input).as_deref(), expect, "{input}")
        };
        check("./index.json", Some("index.json"));
        check("/blobs//sha256/ab", Some("blobs/sha256/ab"));
        check("a/../b", None);
        assert_eq!(normalize_clamped("a/../../b/./c"), "b/c");
    }
}

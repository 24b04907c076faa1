//! `rootfs:PATH` / `dir:PATH`: a host folder read as an image with one view and no layers.
//! Symlinks are recorded, never followed on the host; `/proc`, `/sys` and `/dev` are skipped when
//! the root is `/` (they are not files of the "image" and reading them can block).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::image::Limits;
use crate::squash::{
    from_entries, host_entry, rootfs_missing, set_content, EntryKind, FileRequest, SquashedFs,
};
use crate::{Error, Result};

const PSEUDO_FS: [&str; 3] = ["proc", "sys", "dev"];

pub(crate) fn read_rootfs(
    root: &Path,
    request: &FileRequest,
    limits: &Limits,
) -> Result<SquashedFs> {
    let is_host_root = root
        .canonicalize()
        .map(|p| p == Path::new("/"))
        .unwrap_or(false);
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .same_file_system(false)
        .into_iter();
    let walker = walker.filter_entry(|e| {
        !(is_host_root
            && e.depth() == 1
            && PSEUDO_FS
                .iter()
                .any(|p| e.file_name() == std::ffi::OsStr::new(p)))
    });
    for item in walker {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                warnings.push(format!("skipped: {e}"));
                continue;
            }
        };
        if item.depth() == 0 {
            continue;
        }
        let Ok(rel) = item.path().strip_prefix(root) else {
            continue;
        };
        let Some(path) = rel.to_str().map(str::to_owned) else {
            warnings.push(format!("skipped non-UTF-8 path {}", rel.display()));
            continue;
        };
        let meta = match item.metadata() {
            Ok(m) => m,
            Err(e) => {
                warnings.push(format!("{path}: {e}"));
                continue;
            }
        };
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            EntryKind::File
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else if ft.is_char_device() {
            EntryKind::CharDevice
        } else if ft.is_block_device() {
            EntryKind::BlockDevice
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else if ft.is_socket() {
            EntryKind::Socket
        } else {
            EntryKind::Other
        };
        let link_target = if kind == EntryKind::Symlink {
            std::fs::read_link(item.path())
                .ok()
                .and_then(|t| t.to_str().map(str::to_owned))
        } else {
            None
        };
        let size = if kind == EntryKind::File {
            meta.len()
        } else {
            0
        };
        let mut content = None;
        let mut oversize = false;
        if kind == EntryKind::File && request.wants(&path) {
            if size > limits.max_file_bytes {
                oversize = true;
            } else {
                match read_limited(item.path(), limits.max_file_bytes) {
                    Ok(c) => content = Some(c),
                    Err(e) => warnings.push(e.to_string()),
                }
            }
        } else if kind == EntryKind::File
            && request.wants_executables()
            && meta.mode() & 0o111 != 0
            && size <= limits.max_file_bytes
            && starts_with_elf_magic(item.path())
        {
            match read_limited(item.path(), limits.max_file_bytes) {
                Ok(c) if request.keeps_executable(meta.mode(), &c) => content = Some(c),
                Ok(_) => {}
                Err(e) => warnings.push(e.to_string()),
            }
        }
        entries.push(host_entry(
            path,
            kind,
            meta.mode() & 0o7777,
            u64::from(meta.uid()),
            u64::from(meta.gid()),
            size,
            link_target,
            content,
            oversize,
        ));
    }
    let mut fs = from_entries(entries, warnings, limits);
    // Requested symlinks whose targets were not requested themselves.
    for path in rootfs_missing(&fs, request) {
        match read_limited(&root.join(&path), limits.max_file_bytes) {
            Ok(c) => set_content(&mut fs, &path, c),
            Err(e) => return Err(e),
        }
    }
    Ok(fs)
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io_err = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        // Something changed under us (or a component became a symlink): do not follow it.
        return Err(Error::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file"),
        });
    }
    let mut buf = Vec::new();
    File::open(path)
        .map_err(io_err)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: "file",
            digest: path.display().to_string(),
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// Whether a host file starts with the ELF magic (read four bytes, not the file).
fn starts_with_elf_magic(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

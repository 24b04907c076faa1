//! The squashed file view: every layer read once (in parallel), whiteouts and opaque directories
//! applied, metadata kept for every entry and content kept only for the files callers asked for.
//!
//! # Symlinks in requests
//!
//! Analyzers ask for paths such as `etc/os-release`, which in most Debian-based images is a
//! symlink (`../usr/lib/os-release`). Three steps make such a request return content:
//! 1. *request expansion inside a layer*: when a layer walk meets a requested symlink, its target
//!    (resolved lexically against the link's directory, clamped at `/`) joins that walk's request
//!    set. Tar entries are sorted in practice, and `etc/` sorts before `usr/`, so the common case
//!    costs nothing.
//! 2. after merging, [`SquashedFs::resolve`] follows each requested symlink inside the image root;
//! 3. when the target's content is still missing (it sits in another layer, or behind a symlinked
//!    directory like `/lib -> usr/lib`, or a hard link points to an earlier unrequested entry), a
//!    *second pass* re-reads only the layers that hold those targets, asking for exact paths. Most
//!    images never need it.
//!
//! Prefix and glob requests match the paths as stored: `lib/apk/db/*` does not look through a
//! symlinked `lib -> usr/lib` (exact paths do, via step 3). Ask for the `usr/` path as well when
//! an image may be usr-merged.
//!
//! # Hostile entries
//!
//! A tar entry whose name climbs above the root (`../../etc/passwd`), or a hard link to such a
//! path, fails the read with [`Error::UnsafeLayerPath`] naming the layer and the entry, rather than
//! being skipped: no legitimate image contains one, and containerd refuses to apply such a layer
//! too. Paths are otherwise normalized (`./etc/x`, `/etc/x` and `etc/x` are one path), and entries
//! are only ever held in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::digest::Hasher;
use crate::image::{blob_error, stream_error, Backing, Image, LayerInfo, Limits};
use crate::layer_cache::LayerCache;
use crate::manifest::Compression;
use crate::{Digest, Error, Result, VerifyingReader};

/// Symlink hops allowed while resolving one path (Linux allows 40).
const MAX_SYMLINK_HOPS: usize = 40;
const READ_BUFFER: usize = 1 << 20;

/// Which files' contents a caller wants. Paths are image paths with or without a leading `/`
/// (`etc/os-release`, `/etc/os-release` and `./etc/os-release` are the same).
#[derive(Debug, Clone, Default)]
pub struct FileRequest {
    exact: BTreeSet<String>,
    prefixes: Vec<String>,
    patterns: Vec<String>,
    globs: Option<GlobSet>,
    /// Executables (ELF, any `x` bit) are read and kept when this accepts their bytes: binary
    /// analyzers (Go build info, cargo-auditable) need whole files, but only a few executables carry
    /// such metadata, so the rest are dropped as soon as they have been looked at.
    executable_filter: Option<(&'static str, ExecutableFilter)>,
}

/// Decides, from its bytes, whether an executable is worth keeping (see [`FileRequest::add_executables`]).
pub type ExecutableFilter = fn(&[u8]) -> bool;

/// The first bytes of every ELF file.
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

impl FileRequest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Request one exact path.
    pub fn path(mut self, path: &str) -> Self {
        self.add_path(path);
        self
    }

    /// Request every file under a directory (or whose path starts with `prefix`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.add_prefix(prefix);
        self
    }

    /// Request files matching a glob; `*` stays within one path component, `**` crosses them.
    pub fn glob(mut self, pattern: &str) -> Result<Self> {
        self.add_glob(pattern)?;
        Ok(self)
    }

    pub fn add_path(&mut self, path: &str) {
        self.exact.insert(normalize(path));
    }

    /// Also keep every ELF executable (a regular file with an `x` bit) that `filter` accepts.
    /// Non-ELF executables are skipped after their first four bytes; rejected ones are not kept.
    ///
    /// `id` names the filter's meaning (e.g. `catalog-binaries-v1`): cached layer results are keyed by it,
    /// so change it whenever the filter accepts different files.
    pub fn add_executables(&mut self, id: &'static str, filter: ExecutableFilter) {
        self.executable_filter = Some((id, filter));
    }

    /// A stable text naming exactly what this request keeps (for cache keys).
    pub(crate) fn fingerprint(&self) -> String {
        let mut prefixes = self.prefixes.clone();
        prefixes.sort();
        let mut patterns = self.patterns.clone();
        patterns.sort();
        let exact: Vec<&str> = self.exact.iter().map(String::as_str).collect();
        format!(
            "exact={}\nprefix={}\nglob={}\nexec={}",
            exact.join("\0"),
            prefixes.join("\0"),
            patterns.join("\0"),
            self.executable_filter.map_or("", |(id, _)| id)
        )
    }

    /// Whether an executable with these bytes is kept (false when no filter was registered).
    pub fn keeps_executable(&self, mode: u32, bytes: &[u8]) -> bool {
        mode & 0o111 != 0
            && bytes.starts_with(ELF_MAGIC)
            && self.executable_filter.is_some_and(|(_, f)| f(bytes))
    }

    pub(crate) fn wants_executables(&self) -> bool {
        self.executable_filter.is_some()
    }

    pub fn add_prefix(&mut self, prefix: &str) {
        let trailing = prefix.ends_with('/');
        let mut p = normalize(prefix);
        if trailing && !p.is_empty() {
            p.push('/');
        }
        self.prefixes.push(p);
    }

    pub fn add_glob(&mut self, pattern: &str) -> Result<()> {
        let normalized = pattern
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        self.patterns.push(normalized);
        let mut builder = GlobSetBuilder::new();
        for p in &self.patterns {
            let glob = GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map_err(|source| Error::BadGlob {
                    pattern: p.clone(),
                    source,
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|source| Error::BadGlob {
            pattern: pattern.to_owned(),
            source,
        })?;
        self.globs = Some(set);
        Ok(())
    }

    /// Whether the content of `path` (normalized) is wanted.
    pub fn wants(&self, path: &str) -> bool {
        self.exact.contains(path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || self.globs.as_ref().is_some_and(|g| g.is_match(path))
    }

    /// The exact paths requested.
    pub fn exact_paths(&self) -> impl Iterator<Item = &str> {
        self.exact.iter().map(String::as_str)
    }
}

/// The type of a file system entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A tar hard link; its content is the content of `link_target`.
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

/// One entry of the squashed view.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileEntry {
    /// Normalized path: no leading `/` or `./`, e.g. `etc/os-release`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Size in bytes (regular files; 0 for others).
    pub size: u64,
    /// Target of a symlink (as written) or hard link (normalized image path).
    pub link_target: Option<String>,
    /// Index of the layer this entry comes from (bottom = 0); None for a rootfs.
    pub layer: Option<usize>,
    content: Option<Arc<[u8]>>,
    /// Requested but over [`Limits::max_file_bytes`].
    oversize: bool,
}

impl FileEntry {
    /// An entry as the layer cache stored it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_cache(
        path: String,
        kind: EntryKind,
        mode: u32,
        uid: u64,
        gid: u64,
        size: u64,
        link_target: Option<String>,
        layer: usize,
        content: Option<Arc<[u8]>>,
        oversize: bool,
    ) -> Self {
        FileEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            link_target,
            layer: Some(layer),
            content,
            oversize,
        }
    }

    /// Requested, but larger than the limit on kept files.
    pub fn is_oversize(&self) -> bool {
        self.oversize
    }

    /// The content, when it was requested and kept.
    pub fn content(&self) -> Option<&[u8]> {
        self.content.as_deref()
    }

    pub fn is_setuid(&self) -> bool {
        self.mode & 0o4000 != 0
    }

    pub fn is_setgid(&self) -> bool {
        self.mode & 0o2000 != 0
    }

    /// World-writable (o+w) regular file or directory.
    pub fn is_world_writable(&self) -> bool {
        self.mode & 0o002 != 0
            && matches!(
                self.kind,
                EntryKind::File | EntryKind::Dir | EntryKind::HardLink
            )
    }
}

/// The merged file system of an image.
#[derive(Debug, Default)]
pub struct SquashedFs {
    entries: BTreeMap<String, FileEntry>,
    warnings: Vec<String>,
    second_pass_layers: usize,
    max_file_bytes: u64,
}

impl SquashedFs {
    /// All entries, sorted by path.
    pub fn entries(&self) -> impl Iterator<Item = &FileEntry> {
        self.entries.values()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `path` itself, not following a final symlink (like `lstat`). Symlinked
    /// parent directories are not followed either; use [`SquashedFs::resolve`] for that.
    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        self.entries.get(&normalize(path))
    }

    /// Follow symlinks (in every component) inside the image root: an absolute target is relative
    /// to the image root, `..` stops at `/`. Ok(None) when the path does not exist.
    pub fn resolve(&self, path: &str) -> Result<Option<&FileEntry>> {
        Ok(self.resolve_path(path)?.and_then(|p| self.entries.get(&p)))
    }

    /// The resolved (symlink-free) path of `path`, if it exists.
    pub fn resolve_path(&self, path: &str) -> Result<Option<String>> {
        let mut pending: Vec<String> = components(path)
            .into_iter()
            .rev()
            .map(str::to_owned)
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(component);
            let here = resolved.join("/");
            let Some(entry) = self.entries.get(&here) else {
                // Layers may omit directory entries: a missing intermediate component is an
                // implicit directory; a missing final one means "not found".
                if pending.is_empty() {
                    return Ok(None);
                }
                continue;
            };
            if entry.kind == EntryKind::Symlink {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::SymlinkLoop {
                        path: path.to_owned(),
                    });
                }
                resolved.pop();
                let target = entry.link_target.as_deref().unwrap_or("");
                if target.starts_with('/') {
                    resolved.clear();
                }
                for c in components(target).into_iter().rev() {
                    pending.push(c.to_owned());
                }
            } else if !pending.is_empty() && entry.kind != EntryKind::Dir {
                return Ok(None);
            }
        }
        Ok(Some(resolved.join("/")))
    }

    /// The content of `path` after following symlinks. Ok(None) when it does not exist or is not
    /// a regular file; an error when it exists but was not requested (or was too large to keep).
    pub fn read(&self, path: &str) -> Result<Option<&[u8]>> {
        let Some(entry) = self.resolve(path)? else {
            return Ok(None);
        };
        if !matches!(entry.kind, EntryKind::File | EntryKind::HardLink) {
            return Ok(None);
        }
        if entry.oversize {
            return Err(Error::TooLarge {
                what: "file",
                digest: entry.path.clone(),
                size: entry.size,
                limit: self.max_file_bytes,
            });
        }
        match entry.content() {
            Some(c) => Ok(Some(c)),
            None => Err(Error::ContentNotKept {
                path: entry.path.clone(),
            }),
        }
    }

    /// Requested regular files whose content was kept, with their paths.
    pub fn files_with_content(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries
            .values()
            .filter_map(|e| e.content().map(|c| (e.path.as_str(), c)))
    }

    /// Things skipped while reading (e.g. unreadable host files for a rootfs).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many layers had to be read a second time for symlink or hard-link targets.
    pub fn second_pass_layers(&self) -> usize {
        self.second_pass_layers
    }
}

/// Split a path into its non-empty components.
fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// Normalize a lookup path: no leading `/` or `./`, `..` resolved lexically and clamped at `/`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in components(path) {
        if c == ".." {
            parts.pop();
        } else {
            parts.push(c);
        }
    }
    parts.join("/")
}

/// Normalize a tar entry name; None when it climbs above the root (`../../etc/passwd`).
fn normalize_entry(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in components(path) {
        if c == ".." {
            parts.pop()?;
        } else {
            parts.push(c);
        }
    }
    Some(parts.join("/"))
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// The lexical target of a symlink at `link_path` pointing to `target`, clamped at the root.
fn lexical_target(link_path: &str, target: &str) -> String {
    if target.starts_with('/') {
        normalize(target)
    } else {
        normalize(&join(parent_of(link_path), target))
    }
}

/// What one layer walk produced.
#[derive(Debug, Default)]
pub(crate) struct LayerScan {
    pub(crate) entries: Vec<FileEntry>,
    /// Directories with an opaque marker in this layer.
    pub(crate) opaque: Vec<String>,
    /// Paths whited out by this layer.
    pub(crate) whiteouts: Vec<String>,
}

impl LayerScan {
    pub(crate) fn from_parts(
        entries: Vec<FileEntry>,
        opaque: Vec<String>,
        whiteouts: Vec<String>,
    ) -> Self {
        LayerScan {
            entries,
            opaque,
            whiteouts,
        }
    }
}

/// What a walk keeps content for.
pub(crate) enum Want<'a> {
    Request(&'a FileRequest),
    Exact(&'a HashSet<String>),
}

impl Want<'_> {
    fn wants(&self, path: &str) -> bool {
        match self {
            Want::Request(r) => r.wants(path),
            Want::Exact(set) => set.contains(path),
        }
    }

    /// The request, when it asks for executables by content.
    fn executables(&self) -> Option<&FileRequest> {
        match self {
            Want::Request(r) if r.wants_executables() => Some(r),
            _ => None,
        }
    }
}

/// Counts decompressed bytes against the image-wide budget and hashes them for the diff_id.
struct Tally<R> {
    inner: R,
    /// None when the diff_id need not be computed (it is the verified blob digest).
    hasher: Option<Hasher>,
    total: u64,
    used: Arc<AtomicU64>,
    limit: u64,
    layer: String,
}

impl<R> Tally<R> {
    fn new(
        inner: R,
        algorithm: crate::digest::Algorithm,
        ctx: &WalkContext<'_>,
        layer: &str,
    ) -> Self {
        Tally {
            inner,
            hasher: Some(Hasher::new(algorithm)),
            total: 0,
            used: Arc::clone(&ctx.used),
            limit: ctx.limits.max_total_bytes,
            layer: layer.to_owned(),
        }
    }
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(h) = self.hasher.as_mut() {
                h.update(buf.get(..n).unwrap_or_default());
            }
            self.total += n as u64;
            let used = self.used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
            if used > self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    Error::DecompressedTooLarge {
                        layer: self.layer.clone(),
                        limit: self.limit,
                    },
                ));
            }
        }
        Ok(n)
    }
}

struct Progress<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Parameters shared by all walks of one `read_files` call.
pub(crate) struct WalkContext<'a> {
    pub(crate) limits: &'a Limits,
    pub(crate) used: Arc<AtomicU64>,
    pub(crate) cancelled: &'a AtomicBool,
}

/// Read one layer blob: verify digest and size, decompress, check the diff_id, walk the tar.
pub(crate) fn scan_layer(
    blob: Box<dyn Read + Send>,
    layer: &LayerInfo,
    index: usize,
    want: &Want<'_>,
    ctx: &WalkContext<'_>,
    bar: ProgressBar,
    source_name: &str,
) -> Result<LayerScan> {
    let verified = VerifyingReader::new(
        Progress { inner: blob, bar },
        layer.digest.clone(),
        layer.size,
    );
    let buffered = BufReader::with_capacity(READ_BUFFER, verified);
    let name = layer.digest.to_string();
    let err = |e: io::Error| blob_error(e, &layer.digest, source_name);
    let algorithm = layer
        .diff_id
        .as_ref()
        .map(Digest::algorithm)
        .unwrap_or(crate::digest::Algorithm::Sha256);
    // Walk, then drain what follows the tar's end marker so the diff_id covers the whole stream,
    // then drain the compressed stream so the verifying reader sees end-of-blob (which is when it
    // checks the digest): a decoder may stop reading right after its trailer.
    let (scan, hasher, total) = match layer.compression {
        Compression::None => {
            let mut t = Tally::new(buffered, algorithm, ctx, &name);
            // An uncompressed layer's diff_id is its digest, already verified while streaming
            // (always so for docker-archive layers): don't hash the bytes twice.
            if layer.diff_id.as_ref() == Some(&layer.digest) {
                t.hasher = None;
            }
            let scan = walk_tar(&mut t, &name, index, want, ctx)?;
            io::copy(&mut t, &mut io::sink()).map_err(err)?;
            (scan, t.hasher, t.total)
        }
        Compression::Gzip => {
            let mut t = Tally::new(
                flate2::bufread::MultiGzDecoder::new(buffered),
                algorithm,
                ctx,
                &name,
            );
            let scan = walk_tar(&mut t, &name, index, want, ctx)?;
            io::copy(&mut t, &mut io::sink()).map_err(err)?;
            let Tally {
                inner,
                hasher,
                total,
                ..
            } = t;
            io::copy(&mut inner.into_inner(), &mut io::sink()).map_err(err)?;
            (scan, hasher, total)
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(buffered).map_err(err)?;
            let mut t = Tally::new(decoder, algorithm, ctx, &name);
            let scan = walk_tar(&mut t, &name, index, want, ctx)?;
            io::copy(&mut t, &mut io::sink()).map_err(err)?;
            let Tally {
                inner,
                hasher,
                total,
                ..
            } = t;
            io::copy(&mut inner.finish(), &mut io::sink()).map_err(err)?;
            (scan, hasher, total)
        }
    };
    if let (Some(diff_id), Some(hasher)) = (&layer.diff_id, hasher) {
        let actual = hasher.finish();
        if &actual != diff_id {
            return Err(Error::DiffIdMismatch {
                layer: name,
                diff_id: diff_id.to_string(),
                diff_id_actual: actual.to_string(),
            });
        }
    }
    let _ = layer.uncompressed_size.set(total);
    Ok(scan)
}

/// Read one layer tar (no digest to check: e.g. a layer file given directly, or fuzzing) as a
/// one-layer image: whiteout markers are dropped, symlinks resolve inside the layer.
pub fn read_layer<R: Read>(
    reader: R,
    compression: Compression,
    request: &FileRequest,
    limits: &Limits,
) -> Result<SquashedFs> {
    let cancelled = AtomicBool::new(false);
    let ctx = WalkContext {
        limits,
        used: Arc::new(AtomicU64::new(0)),
        cancelled: &cancelled,
    };
    let name = "layer";
    let algorithm = crate::digest::Algorithm::Sha256;
    let want = Want::Request(request);
    let buffered = BufReader::with_capacity(READ_BUFFER, reader);
    let scan = match compression {
        Compression::None => walk_tar(
            &mut Tally::new(buffered, algorithm, &ctx, name),
            name,
            0,
            &want,
            &ctx,
        )?,
        Compression::Gzip => {
            let decoder = flate2::bufread::MultiGzDecoder::new(buffered);
            walk_tar(
                &mut Tally::new(decoder, algorithm, &ctx, name),
                name,
                0,
                &want,
                &ctx,
            )?
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(buffered).map_err(|source| {
                Error::LayerRead {
                    layer: name.to_owned(),
                    source,
                }
            })?;
            walk_tar(
                &mut Tally::new(decoder, algorithm, &ctx, name),
                name,
                0,
                &want,
                &ctx,
            )?
        }
    };
    Ok(SquashedFs {
        entries: merge(vec![scan]),
        max_file_bytes: limits.max_file_bytes,
        ..SquashedFs::default()
    })
}

/// Walk a layer's tar stream. `layer_name` goes into errors.
pub(crate) fn walk_tar<R: Read>(
    reader: &mut R,
    layer_name: &str,
    index: usize,
    want: &Want<'_>,
    ctx: &WalkContext<'_>,
) -> Result<LayerScan> {
    let read_err = |e: io::Error| stream_error(e, layer_name.to_owned());
    let mut archive = tar::Archive::new(reader);
    let mut scan = LayerScan::default();
    // Targets of requested symlinks met in this layer (expansion step 1, see module docs).
    let mut extra: HashSet<String> = HashSet::new();
    let mut kept: HashMap<String, Arc<[u8]>> = HashMap::new();
    for entry in archive.entries().map_err(read_err)? {
        if ctx.cancelled.load(Ordering::Relaxed) {
            return Err(Error::BadLayer {
                layer: layer_name.to_owned(),
                reason: "cancelled".into(),
            });
        }
        let mut entry = entry.map_err(read_err)?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(path) = normalize_entry(&raw_path) else {
            return Err(Error::UnsafeLayerPath {
                layer: layer_name.to_owned(),
                entry: raw_path,
            });
        };
        if path.is_empty() {
            continue; // the root directory itself
        }
        let base = path.rsplit('/').next().unwrap_or(&path);
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                scan.opaque.push(parent_of(&path).to_owned());
            } else if !hidden.starts_with(".wh.") {
                scan.whiteouts.push(join(parent_of(&path), hidden));
            }
            // Other `.wh..wh.` names are aufs bookkeeping, not files.
            continue;
        }
        let header = entry.header();
        let tar_kind = header.entry_type();
        let kind = match tar_kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                EntryKind::File
            }
            // A pax global header (e.g. from `git archive`) describes the archive, not a file.
            tar::EntryType::XGlobalHeader => continue,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::HardLink,
            tar::EntryType::Char => EntryKind::CharDevice,
            tar::EntryType::Block => EntryKind::BlockDevice,
            tar::EntryType::Fifo => EntryKind::Fifo,
            // PAX/GNU extension headers are consumed by the tar crate; anything else is unusual.
            _ => EntryKind::Other,
        };
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let size = if kind == EntryKind::File {
            entry.size()
        } else {
            0
        };
        let link_raw = match kind {
            EntryKind::Symlink | EntryKind::HardLink => entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        };
        let link_target = match (kind, link_raw) {
            (EntryKind::HardLink, Some(t)) => {
                Some(normalize_entry(&t).ok_or_else(|| Error::UnsafeLayerPath {
                    layer: layer_name.to_owned(),
                    entry: format!("{raw_path} (hard link to {t})"),
                })?)
            }
            (_, t) => t,
        };
        let wanted = want.wants(&path) || extra.contains(&path);
        let mut content: Option<Arc<[u8]>> = None;
        let mut oversize = false;
        if wanted {
            match kind {
                EntryKind::File if size > ctx.limits.max_file_bytes => oversize = true,
                EntryKind::File => {
                    // The header's size is a claim: reserve at most 1 MiB up front.
                    let mut buf =
                        Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
                    entry.read_to_end(&mut buf).map_err(read_err)?;
                    if buf.len() as u64 != size {
                        return Err(Error::BadLayer {
                            layer: layer_name.to_owned(),
                            reason: format!(
                                "entry {path:?} is truncated ({} of {size} bytes)",
                                buf.len()
                            ),
                        });
                    }
                    let data: Arc<[u8]> = buf.into();
                    kept.insert(path.clone(), Arc::clone(&data));
                    content = Some(data);
                }
                EntryKind::Symlink => {
                    if let Some(t) = &link_target {
                        extra.insert(lexical_target(&path, t));
                    }
                }
                EntryKind::HardLink => {
                    content = link_target.as_ref().and_then(|t| kept.get(t)).cloned();
                }
                _ => {}
            }
        } else if let Some(request) = want.executables() {
            let candidate = kind == EntryKind::File
                && mode & 0o111 != 0
                && size >= ELF_MAGIC.len() as u64
                && size <= ctx.limits.max_file_bytes;
            if candidate {
                // Look at the magic first: most executables in an image are scripts or not worth a copy.
                let mut magic = [0u8; 4];
                entry.read_exact(&mut magic).map_err(read_err)?;
                if &magic == ELF_MAGIC {
                    let mut buf =
                        Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
                    buf.extend_from_slice(&magic);
                    entry.read_to_end(&mut buf).map_err(read_err)?;
                    if buf.len() as u64 == size && request.keeps_executable(mode, &buf) {
                        let data: Arc<[u8]> = buf.into();
                        kept.insert(path.clone(), Arc::clone(&data));
                        content = Some(data);
                    }
                }
            }
        }
        scan.entries.push(FileEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            link_target,
            layer: Some(index),
            content,
            oversize,
        });
    }
    Ok(scan)
}

/// Remove `path`'s descendants (not `path` itself).
fn remove_children(map: &mut BTreeMap<String, FileEntry>, path: &str) {
    if path.is_empty() {
        map.clear();
        return;
    }
    let start = format!("{path}/");
    // '0' is the character after '/', so this range is exactly the descendants.
    let end = format!("{path}0");
    let doomed: Vec<String> = map.range(start..end).map(|(k, _)| k.clone()).collect();
    for k in doomed {
        map.remove(&k);
    }
}

/// Apply layer scans in order (bottom first).
pub(crate) fn merge(scans: Vec<LayerScan>) -> BTreeMap<String, FileEntry> {
    let mut map: BTreeMap<String, FileEntry> = BTreeMap::new();
    for scan in scans {
        // Whiteouts and opaque markers hide lower layers only, so apply them before this layer's
        // own entries.
        for dir in &scan.opaque {
            remove_children(&mut map, dir);
        }
        for path in &scan.whiteouts {
            map.remove(path);
            remove_children(&mut map, path);
        }
        for entry in scan.entries {
            if entry.kind != EntryKind::Dir {
                // A file replacing a directory hides everything under it.
                remove_children(&mut map, &entry.path);
            }
            map.insert(entry.path.clone(), entry);
        }
    }
    map
}

fn progress_bars(quiet: bool) -> MultiProgress {
    use std::io::IsTerminal;
    if quiet || !io::stderr().is_terminal() {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    } else {
        MultiProgress::new()
    }
}

impl Image {
    /// Read the image's files: metadata for every entry, content for the requested ones.
    ///
    /// Each layer is read once, layers in parallel (at most one thread per core); a second
    /// pass re-reads only the layers holding symlink or hard-link targets that were not kept in
    /// the first (see the module docs).
    pub fn read_files(&self, request: &FileRequest) -> Result<SquashedFs> {
        match &self.backing {
            Backing::RootFs(root) => {
                crate::rootfs::read_rootfs(root, request, &self.options.limits)
            }
            Backing::Blobs(_) => {
                // Layers read before (for the same request) come from the layer cache; the rest are
                // decompressed, in parallel, and stored for next time.
                let cache = self.layer_cache();
                let keys: Vec<String> = self
                    .layers
                    .iter()
                    .map(|l| LayerCache::key(&l.digest, request))
                    .collect();
                let mut scans: Vec<Option<LayerScan>> = Vec::with_capacity(self.layers.len());
                for (i, (layer, key)) in self.layers.iter().zip(&keys).enumerate() {
                    let hit = cache.as_ref().and_then(|c| c.load(key, i));
                    scans.push(hit.map(|hit| {
                        let _ = layer.uncompressed_size.set(hit.uncompressed_size);
                        hit.scan
                    }));
                }
                let jobs: Vec<(usize, Want<'_>)> = (0..self.layers.len())
                    .filter(|i| scans.get(*i).is_some_and(Option::is_none))
                    .map(|i| (i, Want::Request(request)))
                    .collect();
                let missed: Vec<usize> = jobs.iter().map(|(i, _)| *i).collect();
                let fresh = self.scan_layers(jobs, &Arc::new(AtomicU64::new(0)))?;
                for (i, scan) in missed.into_iter().zip(fresh) {
                    if let (Some(cache), Some(layer), Some(key)) =
                        (&cache, self.layers.get(i), keys.get(i))
                    {
                        cache.store(key, &scan, layer.uncompressed_size().unwrap_or(0));
                    }
                    if let Some(slot) = scans.get_mut(i) {
                        *slot = Some(scan);
                    }
                }
                let scans: Vec<LayerScan> = scans.into_iter().flatten().collect();
                let mut fs = SquashedFs {
                    entries: merge(scans),
                    max_file_bytes: self.options.limits.max_file_bytes,
                    ..SquashedFs::default()
                };
                self.second_pass(&mut fs, request)?;
                Ok(fs)
            }
        }
    }

    /// Read several layers in parallel; results in job order.
    fn scan_layers(
        &self,
        jobs: Vec<(usize, Want<'_>)>,
        used: &Arc<AtomicU64>,
    ) -> Result<Vec<LayerScan>> {
        let Backing::Blobs(source) = &self.backing else {
            return Ok(Vec::new());
        };
        let bars = progress_bars(self.options.quiet);
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let cancelled = AtomicBool::new(false);
        let ctx = WalkContext {
            limits: &self.options.limits,
            used: Arc::clone(used),
            cancelled: &cancelled,
        };
        // Largest layers first, so one big layer does not start last.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&j| {
            std::cmp::Reverse(
                jobs.get(j)
                    .and_then(|(i, _)| self.layers.get(*i))
                    .map_or(0, |l| l.size),
            )
        });
        let results: Vec<Mutex<Option<Result<LayerScan>>>> =
            jobs.iter().map(|_| Mutex::new(None)).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(jobs.len())
            .max(1);
        let description = source.describe();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&j) = order.get(k) else { break };
                    let Some((layer_index, want)) = jobs.get(j) else {
                        break;
                    };
                    let Some(layer) = self.layers.get(*layer_index) else {
                        break;
                    };
                    let bar = bars.add(ProgressBar::new(layer.size));
                    bar.set_style(style.clone());
                    bar.set_prefix(format!(
                        "layer {}/{} {:.19}",
                        layer_index + 1,
                        self.layers.len(),
                        layer.digest.to_string()
                    ));
                    let result = source.open_blob(&layer.descriptor()).and_then(|blob| {
                        scan_layer(
                            blob,
                            layer,
                            *layer_index,
                            want,
                            &ctx,
                            bar.clone(),
                            &description,
                        )
                    });
                    bar.finish_and_clear();
                    if result.is_err() {
                        cancelled.store(true, Ordering::Relaxed);
                    }
                    if let Some(slot) = results.get(j) {
                        if let Ok(mut slot) = slot.lock() {
                            *slot = Some(result);
                        }
                    }
                });
            }
        });
        let mut scans = Vec::with_capacity(results.len());
        let mut first_error: Option<Error> = None;
        for slot in results {
            let result = slot.into_inner().ok().flatten();
            match result {
                Some(Ok(scan)) => scans.push(scan),
                // Report the real failure, not a "cancelled" of a layer stopped because of it.
                Some(Err(Error::BadLayer { reason, .. })) if reason == "cancelled" => {}
                Some(Err(e)) if first_error.is_none() => first_error = Some(e),
                Some(Err(_)) | None => {}
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if scans.len() != jobs.len() {
            return Err(Error::InvalidImage {
                source_name: description,
                reason: "a layer worker stopped early".into(),
            });
        }
        Ok(scans)
    }

    /// Expansion step 3 (module docs): fetch content of requested symlink/hard-link targets not
    /// kept in the first pass.
    fn second_pass(&self, fs: &mut SquashedFs, request: &FileRequest) -> Result<()> {
        let missing = missing_targets(fs, request)?;
        if missing.is_empty() {
            return Ok(());
        }
        let mut by_layer: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
        for (layer, path) in missing {
            by_layer.entry(layer).or_default().insert(path);
        }
        let layer_ids: Vec<usize> = by_layer.keys().copied().collect();
        let jobs: Vec<(usize, Want<'_>)> = by_layer
            .iter()
            .map(|(i, set)| (*i, Want::Exact(set)))
            .collect();
        // The first pass already counted these bytes against the limit; these layers passed it.
        let scans = self.scan_layers(jobs, &Arc::new(AtomicU64::new(0)))?;
        fs.second_pass_layers = layer_ids.len();
        for (layer, scan) in layer_ids.into_iter().zip(scans) {
            for found in scan.entries.into_iter().filter(|e| e.content.is_some()) {
                for e in fs.entries.values_mut() {
                    let same_file = e.layer == Some(layer)
                        && e.content.is_none()
                        && ((e.kind == EntryKind::File && e.path == found.path)
                            || (e.kind == EntryKind::HardLink
                                && e.link_target.as_deref() == Some(found.path.as_str())));
                    if same_file {
                        e.content.clone_from(&found.content);
                    }
                }
            }
        }
        Ok(())
    }
}

/// (layer, path) pairs whose content a request needs but the first pass did not keep.
fn missing_targets(fs: &SquashedFs, request: &FileRequest) -> Result<Vec<(usize, String)>> {
    let mut out = Vec::new();
    let mut candidates: Vec<String> = request.exact_paths().map(str::to_owned).collect();
    candidates.extend(
        fs.entries
            .values()
            .filter(|e| {
                matches!(e.kind, EntryKind::Symlink | EntryKind::HardLink) && request.wants(&e.path)
            })
            .map(|e| e.path.clone()),
    );
    for path in candidates {
        // A loop in an unrelated requested path should not fail the whole read: `read` reports it.
        let Ok(Some(entry)) = fs.resolve(&path) else {
            continue;
        };
        if entry.content.is_some() || entry.oversize {
            continue;
        }
        let Some(layer) = entry.layer else { continue };
        match entry.kind {
            EntryKind::File => out.push((layer, entry.path.clone())),
            EntryKind::HardLink => {
                if let Some(t) = &entry.link_target {
                    out.push((layer, t.clone()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Build a [`SquashedFs`] from entries (rootfs reader).
pub(crate) fn from_entries(
    entries: Vec<FileEntry>,
    warnings: Vec<String>,
    limits: &Limits,
) -> SquashedFs {
    SquashedFs {
        entries: entries.into_iter().map(|e| (e.path.clone(), e)).collect(),
        warnings,
        second_pass_layers: 0,
        max_file_bytes: limits.max_file_bytes,
    }
}

/// A new entry for the rootfs reader.
#[allow(clippy::too_many_arguments)]
pub(crate) fn host_entry(
    path: String,
    kind: EntryKind,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    link_target: Option<String>,
    content: Option<Vec<u8>>,
    oversize: bool,
) -> FileEntry {
    FileEntry {
        path,
        kind,
        mode,
        uid,
        gid,
        size,
        link_target,
        layer: None,
        content: content.map(Into::into),
        oversize,
    }
}

/// Set content on a rootfs entry (second pass for symlink targets).
pub(crate) fn set_content(fs: &mut SquashedFs, path: &str, content: Vec<u8>) {
    if let Some(e) = fs.entries.get_mut(path) {
        e.content = Some(content.into());
    }
}

/// Paths whose resolved target is a regular file without content (rootfs second pass).
pub(crate) fn rootfs_missing(fs: &SquashedFs, request: &FileRequest) -> Vec<String> {
    let mut out = Vec::new();
    let mut candidates: Vec<String> = request.exact_paths().map(str::to_owned).collect();
    candidates.extend(
        fs.entries
            .values()
            .filter(|e| e.kind == EntryKind::Symlink && request.wants(&e.path))
            .map(|e| e.path.clone()),
    );
    for path in candidates {
        if let Ok(Some(e)) = fs.resolve(&path) {
            if e.kind == EntryKind::File && e.content.is_none() && !e.oversize {
                out.push(e.path.clone());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind, link: Option<&str>, content: Option<&str>) -> FileEntry {
        FileEntry {
            path: path.to_owned(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: content.map_or(0, |c| c.len() as u64),
            link_target: link.map(str::to_owned),
            layer: Some(0),
            content: content.map(|c| Arc::from(c.as_bytes())),
            oversize: false,
        }
    }

    fn file(path: &str, content: &str) -> FileEntry {
        entry(path, EntryKind::File, None, Some(content))
    }

    fn dir(path: &str) -> FileEntry {
        entry(path, EntryKind::Dir, None, None)
    }

    fn link(path: &str, target: &str) -> FileEntry {
        entry(path, EntryKind::Symlink, Some(target), None)
    }

    fn layer(entries: Vec<FileEntry>, opaque: &[&str], whiteouts: &[&str]) -> LayerScan {
        LayerScan {
            entries,
            opaque: opaque.iter().map(|s| s.to_string()).collect(),
            whiteouts: whiteouts.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn normalizes_paths() {
        let check = |input: &str, lookup: &str, entry: Option<&str>| {
            assert_eq!(normalize(input), lookup, "{input}");
            assert_eq!(normalize_entry(input).as_deref(), entry, "{input}");
        };
        check("./etc/x", "etc/x", Some("etc/x"));
        check("/etc//x/", "etc/x", Some("etc/x"));
        check("etc/./x", "etc/x", Some("etc/x"));
        check("a/../b", "b", Some("b"));
        check("../../etc/passwd", "etc/passwd", None);
        check("a/../../x", "x", None);
        check("./", "", Some(""));
    }

    #[test]
    fn merge_applies_whiteouts_and_opaque_dirs() {
        let lower = layer(
            vec![
                dir("a"),
                file("a/1", "1"),
                file("a/2", "2"),
                dir("b"),
                file("b/x", "x"),
                file("c", "c"),
                dir("d"),
                file("d/y", "y"),
            ],
            &[],
            &[],
        );
        let upper = layer(
            vec![
                file("a/3", "3"),
                file("d", "now a file"),
                file("b/new", "n"),
            ],
            &["a"],
            &["c", "b/x"],
        );
        let fs = SquashedFs {
            entries: merge(vec![lower, upper]),
            ..Default::default()
        };
        let paths: Vec<&str> = fs.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "a/3", "b", "b/new", "d"]);
        assert_eq!(fs.read("d").expect("ok"), Some(&b"now a file"[..]));
    }

    #[test]
    fn opaque_marker_keeps_same_layer_entries() {
        let lower = layer(vec![dir("etc"), file("etc/old", "o")], &[], &[]);
        let upper = layer(vec![dir("etc"), file("etc/new", "n")], &["etc"], &[]);
        let fs = SquashedFs {
            entries: merge(vec![lower, upper]),
            ..Default::default()
        };
        let paths: Vec<&str> = fs.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["etc", "etc/new"]);
    }

    #[test]
    fn resolves_symlinks_inside_the_root() {
        let fs = SquashedFs {
            entries: merge(vec![layer(
                vec![
                    dir("etc"),
                    link("etc/os-release", "../usr/lib/os-release"),
                    dir("usr"),
                    dir("usr/lib"),
                    file("usr/lib/os-release", "ID=debian"),
                    link("lib", "usr/lib"),
                    link("escape", "../../../../usr/lib/os-release"),
                    link("abs", "/lib/os-release"),
                    link("loop1", "loop2"),
                    link("loop2", "/loop1"),
                    link("dangling", "/nope"),
                    link("host", "/etc/shadow"),
                ],
                &[],
                &[],
            )]),
            ..Default::default()
        };
        let check = |path: &str, expect: Option<&str>| {
            assert_eq!(
                fs.resolve_path(path).expect("no loop").as_deref(),
                expect,
                "{path}"
            );
        };
        check("etc/os-release", Some("usr/lib/os-release"));
        check("/lib/os-release", Some("usr/lib/os-release"));
        check("escape", Some("usr/lib/os-release"));
        check("abs", Some("usr/lib/os-release"));
        check("dangling", None);
        check("host", None);
        check("usr/lib/os-release/x", None);
        assert_eq!(
            fs.read("etc/os-release").expect("ok"),
            Some(&b"ID=debian"[..])
        );
        let err = fs.resolve("loop1/x").expect_err("must fail");
        assert!(
            matches!(&err, Error::SymlinkLoop { path } if path == "loop1/x"),
            "{err}"
        );
    }

    #[test]
    fn requests_match_exact_prefix_and_glob() {
        let req = FileRequest::new()
            .path("/etc/os-release")
            .prefix("lib/apk/db/")
            .glob("var/lib/dpkg/status.d/*")
            .expect("valid glob");
        let check = |path: &str, expect: bool| assert_eq!(req.wants(path), expect, "{path}");
        check("etc/os-release", true);
        check("etc/os-release2", false);
        check("lib/apk/db/installed", true);
        check("lib/apk/dbx", false);
        check("var/lib/dpkg/status.d/libc6", true);
        check("var/lib/dpkg/status.d/sub/control", false);
        assert!(FileRequest::new().glob("a/[").is_err());
    }
}

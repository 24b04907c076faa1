//! The read-only filesystem view analyzers work on, and the requests that say which files they need.
//!
//! The image layer (a squashed OCI view) or a host folder implements [`FileTree`]; it first asks
//! [`PathRequest::wants`] for every entry it streams past, keeps only the wanted files' bytes, and then
//! hands the tree to [`crate::catalog`]. [`MemoryTree`] is the in-memory implementation used by tests and
//! by callers that already hold the bytes.

use std::collections::BTreeMap;

use globset::{GlobSet, GlobSetBuilder};

use crate::CatalogError;

/// Normalises a path to the form every tree uses: no leading `/` or `./`, no empty or `.` segments.
pub fn normalize_path(path: &str) -> String {
    path.split('/')
        .filter(|seg| !seg.is_empty() && *seg != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// One regular file of the view, as [`FileTree::files`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileEntry<'a> {
    /// Normalised path (see [`normalize_path`]).
    pub path: &'a str,
    /// Unix mode bits (permission bits; the file type is always "regular").
    pub mode: u32,
    /// Digest of the layer the file came from (`sha256:…`), when the tree knows it.
    pub layer: Option<&'a str>,
}

/// A read-only view of an image filesystem (or part of it).
///
/// Only regular files are listed; symlinks are the implementer's business (resolve them or leave them
/// out). Analyzers look up the well-known locations under every name a distribution uses, so a tree that
/// omits symlinks still works.
pub trait FileTree {
    /// The bytes of the file at `path` (normalised), if the view has it.
    fn read(&self, path: &str) -> Option<&[u8]>;
    /// Every file of the view, sorted by path.
    fn files(&self) -> Box<dyn Iterator<Item = FileEntry<'_>> + '_>;
    /// The layer digest the file at `path` came from.
    fn layer_of(&self, path: &str) -> Option<&str> {
        self.files().find(|e| e.path == path).and_then(|e| e.layer)
    }
}

/// One thing an analyzer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// Exactly this path.
    Exact(String),
    /// Every file below this folder (given without a trailing `/`).
    Prefix(String),
    /// A glob over the whole path (`**` crosses folders, `*` does not).
    Glob(String),
    /// Every regular file with an executable bit (binary analyzers: Go build info, cargo-auditable).
    Executable,
}

/// The union of the paths all analyzers want, compiled for fast matching while streaming layers.
#[derive(Debug, Clone)]
pub struct PathRequest {
    patterns: Vec<PathPattern>,
    exact: Vec<String>,
    prefixes: Vec<String>,
    globs: GlobSet,
    executables: bool,
}

impl PathRequest {
    /// Compiles a list of patterns. A malformed glob is an error naming it.
    pub fn new(patterns: Vec<PathPattern>) -> Result<Self, CatalogError> {
        let mut exact = Vec::new();
        let mut prefixes = Vec::new();
        let mut globs = GlobSetBuilder::new();
        let mut executables = false;
        for pattern in &patterns {
            match pattern {
                PathPattern::Exact(p) => exact.push(normalize_path(p)),
                PathPattern::Prefix(p) => prefixes.push(format!("{}/", normalize_path(p))),
                PathPattern::Glob(g) => {
                    let glob = globset::GlobBuilder::new(g)
                        .literal_separator(true)
                        .build()
                        .map_err(|source| CatalogError::BadGlob {
                            glob: g.clone(),
                            source,
                        })?;
                    globs.add(glob);
                }
                PathPattern::Executable => executables = true,
            }
        }
        let globs = globs.build().map_err(|source| CatalogError::BadGlob {
            glob: "<set>".into(),
            source,
        })?;
        exact.sort();
        Ok(Self {
            patterns,
            exact,
            prefixes,
            globs,
            executables,
        })
    }

    /// The patterns this request was built from.
    pub fn patterns(&self) -> &[PathPattern] {
        &self.patterns
    }

    /// Whether a regular file at `path` (any form; normalised here) with `mode` is wanted.
    pub fn wants(&self, path: &str, mode: u32) -> bool {
        let path = normalize_path(path);
        if self.executables && mode & 0o111 != 0 {
            return true;
        }
        self.exact.binary_search(&path).is_ok()
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || self.globs.is_match(&path)
    }
}

/// An in-memory [`FileTree`]: path -> (bytes, mode, layer).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    files: BTreeMap<String, MemoryFile>,
}

#[derive(Debug, Clone)]
struct MemoryFile {
    bytes: Vec<u8>,
    mode: u32,
    layer: Option<String>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces, as a later layer would) a regular file with mode 0644.
    pub fn insert(&mut self, path: &str, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.insert_with(path, bytes, 0o644, None)
    }

    /// Adds (or replaces) a file with an explicit mode and layer digest.
    pub fn insert_with(
        &mut self,
        path: &str,
        bytes: impl Into<Vec<u8>>,
        mode: u32,
        layer: Option<&str>,
    ) -> &mut Self {
        self.files.insert(
            normalize_path(path),
            MemoryFile {
                bytes: bytes.into(),
                mode,
                layer: layer.map(str::to_owned),
            },
        );
        self
    }

    /// Removes a file (an overlay whiteout `.wh.<name>` in a later layer).
    pub fn remove(&mut self, path: &str) -> &mut Self {
        let path = normalize_path(path);
        self.files.remove(&path);
        let prefix = format!("{path}/");
        self.files.retain(|p, _| !p.starts_with(&prefix));
        self
    }

    /// Removes everything below a folder (an opaque whiteout `.wh..wh..opq`).
    pub fn clear_dir(&mut self, dir: &str) -> &mut Self {
        let prefix = format!("{}/", normalize_path(dir));
        self.files.retain(|p, _| !p.starts_with(&prefix));
        self
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FileTree for MemoryTree {
    fn read(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|f| f.bytes.as_slice())
    }

    fn files(&self) -> Box<dyn Iterator<Item = FileEntry<'_>> + '_> {
        Box::new(self.files.iter().map(|(path, f)| FileEntry {
            path,
            mode: f.mode,
            layer: f.layer.as_deref(),
        }))
    }

    fn layer_of(&self, path: &str) -> Option<&str> {
        self.files.get(path).and_then(|f| f.layer.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_paths() {
        for (input, expect) in [
            ("/etc/os-release", "etc/os-release"),
            ("./var//lib/dpkg/status", "var/lib/dpkg/status"),
            ("usr/lib/", "usr/lib"),
        ] {
            assert_eq!(normalize_path(input), expect, "{input}");
        }
    }

    #[test]
    fn request_matches_exact_prefix_glob_and_executables() {
        let request = PathRequest::new(vec![
            PathPattern::Exact("/lib/apk/db/installed".into()),
            PathPattern::Prefix("var/lib/dpkg/status.d".into()),
            PathPattern::Glob("**/*.dist-info/METADATA".into()),
            PathPattern::Glob("**/node_modules/**/package.json".into()),
            PathPattern::Executable,
        ])
        .expect("valid patterns");
        let check = |path: &str, mode: u32, expect: bool| {
            assert_eq!(request.wants(path, mode), expect, "{path} {mode:o}");
        };
        check("lib/apk/db/installed", 0o644, true);
        check("lib/apk/db/installed.old", 0o644, false);
        check("var/lib/dpkg/status.d/libc6", 0o644, true);
        check("var/lib/dpkg/status.d2/libc6", 0o644, false);
        check(
            "usr/lib/python3/dist-packages/six-1.16.dist-info/METADATA",
            0o644,
            true,
        );
        check("six-1.16.dist-info/METADATA", 0o644, true);
        check(
            "app/node_modules/@scope/x/node_modules/y/package.json",
            0o644,
            true,
        );
        check("app/package.json", 0o644, false);
        check("usr/bin/docker", 0o755, true);
        check("etc/passwd", 0o600, false);
    }

    #[test]
    fn whiteouts_remove_files_and_folders() {
        let mut tree = MemoryTree::new();
        tree.insert("a/b/c", "1")
            .insert("a/bc", "2")
            .insert("a/b2", "3")
            .insert("d", "4");
        tree.remove("a/b");
        let left: Vec<&str> = tree.files().map(|e| e.path).collect();
        assert_eq!(left, ["a/b2", "a/bc", "d"]);
        tree.clear_dir("a");
        let left: Vec<&str> = tree.files().map(|e| e.path).collect();
        assert_eq!(left, ["d"]);
    }

    #[test]
    fn bad_glob_is_an_error() {
        let err = PathRequest::new(vec![PathPattern::Glob("a/[b".into())]).expect_err("bad glob");
        assert!(err.to_string().contains("a/[b"), "{err}");
    }
}

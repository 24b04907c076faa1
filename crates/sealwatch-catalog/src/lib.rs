//! Package databases and lockfiles to packages with PURLs, over a filesystem trait; base-image facts.
//! Pure: analyzers receive file contents and metadata, they never touch the host filesystem.
//!
//! Use: build a [`FileTree`] holding the files [`path_request`] asks for, then call [`catalog`]. It detects
//! the OS, reads the apk/dpkg/rpm databases and language package files, fills in PURLs and SPDX license
//! ids, and returns a [`Catalog`] with every problem as a [`Diagnostic`] (bad input never aborts the run).
//!
//! What is read ([`path_request`] lists the exact paths and globs):
//! - OS: `etc/os-release`, `usr/lib/os-release`, `etc/alpine-release`, `etc/debian_version`,
//!   `etc/redhat-release`; an image with dpkg `status.d` and no `status` is Debian-based distroless.
//! - [`apk`]: `lib/apk/db/installed`; [`dpkg`]: `var/lib/dpkg/status` (+ `info/*.list`, `*.md5sums`) and
//!   `status.d/` in both layouts; [`rpm`]: SQLite, NDB and BerkeleyDB databases, parsed from bytes.
//! - [`lang`]: Python, npm, Go and cargo-auditable binaries, `Cargo.lock`, Java archives, gemspecs,
//!   `.deps.json`, Composer `installed.json`.
//!
//! Every package gets a PURL ([`purl`]), an SPDX expression when its declared license maps to one
//! ([`license`]), and the file and layer it was read from. The same package read twice from the same
//! file is reported once; an image with several rpm databases is read from one of them.
//!
//! Files owned by an OS package: language packages found in them are **not** reported (Trivy's choice,
//! see `reference/scanner.md` §2): the distribution's advisories already cover them, and matching them
//! against upstream advisories yields false positives from back-ported fixes. Their number is kept in
//! [`Catalog::skipped_os_owned`].

pub mod apk;
mod catalog;
pub mod dpkg;
pub mod facts;
pub mod lang;
pub mod license;
mod model;
pub mod os;
pub mod purl;
pub mod rpm;
mod text;
mod tree;

pub use catalog::{catalog, path_request};
pub use model::{Catalog, Diagnostic, Location, OsInfo, Package, PackageKind};
pub use tree::{normalize_path, FileEntry, FileTree, MemoryTree, PathPattern, PathRequest};

/// Errors of this crate. Bad package data is never an error (it is a [`Diagnostic`]); these are mistakes
/// in how the crate is driven.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("invalid path glob `{glob}`")]
    BadGlob {
        glob: String,
        #[source]
        source: globset::Error,
    },
}

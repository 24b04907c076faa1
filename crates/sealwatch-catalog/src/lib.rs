//! Package databases and lockfiles to packages with PURLs, over a filesystem trait; base-image facts.
//! Pure: analyzers receive file contents and metadata, they never touch the host filesystem.
//!
//! Use: build a [`FileTree`] holding the files [`path_request`] asks for, then call [`catalog`]. It detects
//! the OS, reads the apk/dpkg/rpm databases and language package files, fills in PURLs and SPDX license
//! ids, and returns a [`Catalog`] with every problem as a [`Diagnostic`] (bad input never aborts the run).
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

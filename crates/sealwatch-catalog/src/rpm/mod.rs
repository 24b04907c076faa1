//! rpm databases in all three on-disk formats, read from bytes.
//!
//! The `rpmdb` crate (0.1.1, a go-rpmdb port) was evaluated and not used: it opens files by path (this
//! crate gets bytes and must not touch the filesystem) and links `libsqlite3-sys`. The formats are small
//! and documented, so each backend here is a bounded reader over a byte slice: [`sqlite`] (rpm 4.16+,
//! Fedora/RHEL 9/Mariner), [`ndb`] (SUSE), [`bdb`] (RHEL ≤ 8), all yielding [`header`] blobs.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::{Diagnostic, FileTree, Location, Package, PackageKind};

const DIRS: &[&str] = &["var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"];

/// Every database location, newest format first.
pub const DB_PATHS: &[&str] = &[
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/share/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages.db",
    "usr/share/rpm/Packages.db",
    "var/lib/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages",
    "usr/share/rpm/Packages",
];

/// Which backend a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sqlite,
    Ndb,
    BerkeleyDb,
}

impl Format {
    pub fn of_path(path: &str) -> Self {
        if path.ends_with(".sqlite") {
            Self::Sqlite
        } else if path.ends_with(".db") {
            Self::Ndb
        } else {
            Self::BerkeleyDb
        }
    }
}

/// Reads the first rpm database found. An image converted from BerkeleyDB to SQLite can carry both;
/// reading one avoids counting every package twice, and the newest format is the live one.
pub fn analyze(tree: &dyn FileTree, diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    debug_assert_eq!(DB_PATHS.len(), DIRS.len() * 3);
    let Some((path, bytes)) = DB_PATHS.iter().find_map(|p| tree.read(p).map(|b| (*p, b))) else {
        return Vec::new();
    };
    let location = Location {
        path: path.to_owned(),
        layer: tree.layer_of(path).map(str::to_owned),
    };
    parse(&location, Format::of_path(path), bytes, diagnostics)
}

/// Header blobs read from a database (borrowed where the format allows), and per-record problems.
type RawRecords<'a> = (Vec<Cow<'a, [u8]>>, Vec<String>);

/// Parses one database of the given format into packages (PURLs are filled in by the catalog).
pub fn parse(
    location: &Location,
    format: Format,
    bytes: &[u8],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Package> {
    let path = location.path.as_str();
    let result: Result<RawRecords<'_>, String> = match format {
        Format::Sqlite => sqlite::table_blobs(bytes, "Packages")
            .map(|(b, p)| (b.into_iter().map(Cow::Owned).collect(), p)),
        // NDB blobs are slices of the file: no copies.
        Format::Ndb => ndb::blobs(bytes).map(|(b, p)| {
            (
                b.into_iter().map(|(_, blob)| Cow::Borrowed(blob)).collect(),
                p,
            )
        }),
        Format::BerkeleyDb => {
            bdb::blobs(bytes).map(|(b, p)| (b.into_iter().map(Cow::Owned).collect(), p))
        }
    };
    let (blobs, problems) = match result {
        Ok(found) => found,
        Err(e) => {
            diagnostics.push(Diagnostic::new(
                path,
                None,
                format!("cannot read rpm database: {e}"),
            ));
            return Vec::new();
        }
    };
    diagnostics.extend(problems.into_iter().map(|p| Diagnostic::new(path, None, p)));

    let mut packages = Vec::new();
    let mut seen: BTreeMap<(String, String, Option<String>), usize> = BTreeMap::new();
    for (record, blob) in blobs.iter().enumerate() {
        let header = match header::parse(blob) {
            Ok(h) => h,
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    path,
                    None,
                    format!("record {}: {e}", record + 1),
                ));
                continue;
            }
        };
        // Imported signing keys are stored as pseudo-packages.
        if header.name == "gpg-pubkey" {
            continue;
        }
        let version = match header.epoch {
            Some(epoch) if epoch != 0 => format!("{epoch}:{}-{}", header.version, header.release),
            _ => format!("{}-{}", header.version, header.release),
        };
        let key = (header.name.clone(), version.clone(), header.arch.clone());
        if let Some(first) = seen.get(&key) {
            diagnostics.push(Diagnostic::new(
                path,
                None,
                format!(
                    "record {}: duplicate of record {first} ({} {version})",
                    record + 1,
                    header.name
                ),
            ));
            continue;
        }
        seen.insert(key, record + 1);
        let mut pkg = Package::new(PackageKind::Rpm, header.name, version, location.clone());
        pkg.epoch = header.epoch;
        pkg.release = Some(header.release);
        pkg.arch = header.arch;
        pkg.license_spdx = header.license.as_deref().and_then(crate::license::to_spdx);
        pkg.license_declared = header.license;
        pkg.supplier = header.vendor;
        pkg.modularity_label = header.modularity_label.filter(|m| !m.is_empty());
        if let Some((name, version)) = header.source_rpm.as_deref().and_then(split_source_rpm) {
            pkg.source_name = Some(name);
            pkg.source_version = Some(version);
        }
        pkg.provides = header
            .provides
            .into_iter()
            .filter(|p| *p != pkg.name)
            .collect();
        pkg.depends = header
            .requires
            .into_iter()
            .filter(|r| !r.starts_with("rpmlib("))
            .map(|r| vec![r])
            .collect();
        pkg.depends.dedup();
        pkg.files = header.files;
        packages.push(pkg);
    }
    packages
}

/// `util-linux-2.32.1-42.el8_8.src.rpm` -> (`util-linux`, `2.32.1-42.el8_8`).
pub fn split_source_rpm(srpm: &str) -> Option<(String, String)> {
    let base = srpm.strip_suffix(".rpm")?;
    let base = base.rsplit_once('.').map_or(base, |(b, _arch)| b);
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_owned(), format!("{version}-{release}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names() {
        for (input, expect) in [
            (
                "util-linux-2.32.1-42.el8_8.src.rpm",
                Some(("util-linux", "2.32.1-42.el8_8")),
            ),
            ("bash-5.1.8-2.cm2.src.rpm", Some(("bash", "5.1.8-2.cm2"))),
            ("garbage", None),
        ] {
            let got = split_source_rpm(input);
            assert_eq!(
                got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                expect,
                "{input}"
            );
        }
    }

    #[test]
    fn garbage_database_is_a_diagnostic() {
        let location = Location {
            path: "var/lib/rpm/Packages".into(),
            layer: None,
        };
        for format in [Format::Sqlite, Format::Ndb, Format::BerkeleyDb] {
            let mut diags = Vec::new();
            assert!(parse(&location, format, b"\x00garbage", &mut diags).is_empty());
            assert_eq!(diags.len(), 1, "{format:?}");
            assert_eq!(diags[0].path, "var/lib/rpm/Packages");
        }
    }
}

//! Language package analyzers: files that language package managers leave in an image.

pub mod dotnet;
pub mod elf;
pub mod golang;
pub mod java;
pub mod node;
pub mod php;
pub mod python;
pub mod ruby;
pub mod rust;

use crate::purl::{pypi_name, split_last, Purl};
use crate::{Diagnostic, FileTree, Location, Package, PackageKind, PathPattern};

/// Largest file a language analyzer reads (bigger files are skipped with a diagnostic).
pub const MAX_FILE: usize = 256 * 1024 * 1024;

/// Globs of the files the language analyzers read, plus executables for binary analyzers.
pub fn patterns() -> Vec<PathPattern> {
    [
        "**/*.dist-info/METADATA",
        "**/*.egg-info/PKG-INFO",
        "**/*.egg-info",
        "**/node_modules/**/package.json",
        "**/Cargo.lock",
        "**/*.jar",
        "**/*.war",
        "**/*.ear",
        "**/*.par",
        "**/specifications/*.gemspec",
        "**/*.deps.json",
        "**/composer/installed.json",
    ]
    .iter()
    .map(|g| PathPattern::Glob((*g).to_owned()))
    .chain([PathPattern::Executable])
    .collect()
}

/// Which analyzer reads a file, decided from its path (and, for binaries, its first bytes).
fn dispatch(path: &str, mode: u32, bytes: &[u8]) -> Option<Analyzer> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let parent = path.rsplit('/').nth(1).unwrap_or("");
    Some(
        if file == "METADATA" && parent.ends_with(".dist-info")
            || file == "PKG-INFO" && parent.ends_with(".egg-info")
        // distutils installs write the metadata as a single `<name>-<version>.egg-info` file.
        || file.ends_with(".egg-info")
        {
            Analyzer::Python
        } else if file == "package.json" && is_npm_package_root(path) {
            Analyzer::Node
        } else if file == "Cargo.lock" {
            Analyzer::CargoLock
        } else if [".jar", ".war", ".ear", ".par"]
            .iter()
            .any(|ext| file.ends_with(ext))
        {
            Analyzer::Java
        } else if file.ends_with(".gemspec") && parent == "specifications" {
            Analyzer::Gem
        } else if file.ends_with(".deps.json") {
            Analyzer::Dotnet
        } else if file == "installed.json" && parent == "composer" {
            Analyzer::Composer
        } else if mode & 0o111 != 0 && bytes.starts_with(b"\x7fELF") {
            Analyzer::Binary
        } else {
            return None;
        },
    )
}

/// `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`: the manifest
/// of an installed package, not a `package.json` deeper inside one (test fixtures, examples).
fn is_npm_package_root(path: &str) -> bool {
    let mut parts = path.rsplit('/').skip(1); // package.json
    let (_name, parent) = (parts.next(), parts.next());
    match parent {
        Some("node_modules") => true,
        Some(scope) if scope.starts_with('@') => parts.next() == Some("node_modules"),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Analyzer {
    Python,
    Node,
    CargoLock,
    Java,
    Gem,
    Dotnet,
    Composer,
    Binary,
}

/// Whether an executable's bytes carry package metadata a binary analyzer reads: Go build info or a
/// cargo-auditable dependency list. The image layer calls this on every ELF executable it streams past and
/// keeps only those that pass, so a large image's binaries are never all held in memory.
pub fn is_package_binary(bytes: &[u8]) -> bool {
    if !bytes.starts_with(b"\x7fELF") {
        return false;
    }
    if !elf::has_section_headers(bytes) {
        // Stripped of section headers: the Go analyzer finds build info by its magic.
        return true;
    }
    elf::section(bytes, ".go.buildinfo").is_some() || elf::section(bytes, ".dep-v0").is_some()
}

/// Runs every language analyzer over the files of `tree` it recognises.
pub fn analyze(tree: &dyn FileTree, diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let mut packages = Vec::new();
    for entry in tree.files() {
        let Some(bytes) = tree.read(entry.path) else {
            continue;
        };
        let Some(analyzer) = dispatch(entry.path, entry.mode, bytes) else {
            continue;
        };
        if bytes.len() > MAX_FILE {
            diagnostics.push(Diagnostic::new(
                entry.path,
                None,
                format!("skipped: larger than {MAX_FILE} bytes"),
            ));
            continue;
        }
        let location = Location {
            path: entry.path.to_owned(),
            layer: entry.layer.map(str::to_owned),
        };
        let found = match analyzer {
            Analyzer::Python => python::parse(&location, bytes, diagnostics),
            Analyzer::Node => node::parse(&location, bytes, diagnostics),
            Analyzer::CargoLock => rust::parse_lock(&location, bytes, diagnostics),
            Analyzer::Java => java::parse(&location, bytes, diagnostics),
            Analyzer::Gem => ruby::parse(&location, bytes, diagnostics),
            Analyzer::Dotnet => dotnet::parse(&location, bytes, diagnostics),
            Analyzer::Composer => php::parse(&location, bytes, diagnostics),
            Analyzer::Binary => {
                let mut found = golang::parse(&location, bytes, diagnostics);
                found.extend(rust::parse_auditable(&location, bytes, diagnostics));
                found
            }
        };
        packages.extend(found);
    }
    for pkg in &mut packages {
        if pkg.license_spdx.is_none() {
            pkg.license_spdx = pkg
                .license_declared
                .as_deref()
                .and_then(crate::license::to_spdx);
        }
    }
    packages
}

/// PURL of a language package.
pub fn purl(pkg: &Package) -> String {
    let v = pkg.version.as_str();
    match pkg.kind {
        PackageKind::Python => Purl::new("pypi", &pypi_name(&pkg.name)).version(v).build(),
        PackageKind::Npm => {
            let (ns, name) = if pkg.name.starts_with('@') {
                split_last(&pkg.name)
            } else {
                ("", pkg.name.as_str())
            };
            Purl::new("npm", name).namespace(ns).version(v).build()
        }
        PackageKind::Go => {
            let (ns, name) = split_last(&pkg.name);
            Purl::new("golang", name).namespace(ns).version(v).build()
        }
        PackageKind::Maven => {
            let (group, artifact) = pkg.name.split_once(':').unwrap_or(("", pkg.name.as_str()));
            Purl::new("maven", artifact)
                .namespace(group)
                .version(v)
                .build()
        }
        PackageKind::Composer => {
            let lower = pkg.name.to_ascii_lowercase();
            let (ns, name) = split_last(&lower);
            Purl::new("composer", name).namespace(ns).version(v).build()
        }
        kind => Purl::new(kind.purl_type(), &pkg.name).version(v).build(),
    }
}

/// A `serde_json` error as a diagnostic with its line.
pub(crate) fn json_diagnostic(path: &str, error: &serde_json::Error) -> Diagnostic {
    Diagnostic::new(
        path,
        Some(error.line()),
        format!("invalid JSON at column {}: {error}", error.column()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_purls() {
        let loc = Location {
            path: "x".into(),
            layer: None,
        };
        for (kind, name, version, expect) in [
            (
                PackageKind::Python,
                "Flask_SQLAlchemy",
                "3.0",
                "pkg:pypi/flask-sqlalchemy@3.0",
            ),
            (
                PackageKind::Npm,
                "@types/node",
                "20.1.0",
                "pkg:npm/%40types/node@20.1.0",
            ),
            (
                PackageKind::Npm,
                "lodash",
                "4.17.21",
                "pkg:npm/lodash@4.17.21",
            ),
            (
                PackageKind::Go,
                "github.com/docker/distribution",
                "v2.8.2+incompatible",
                "pkg:golang/github.com/docker/distribution@v2.8.2%2Bincompatible",
            ),
            (
                PackageKind::Maven,
                "org.apache.logging.log4j:log4j-core",
                "2.14.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ),
            (
                PackageKind::Composer,
                "Symfony/Console",
                "v6.0.0",
                "pkg:composer/symfony/console@v6.0.0",
            ),
            (
                PackageKind::Nuget,
                "Newtonsoft.Json",
                "13.0.1",
                "pkg:nuget/Newtonsoft.Json@13.0.1",
            ),
            (
                PackageKind::Cargo,
                "serde",
                "1.0.0",
                "pkg:cargo/serde@1.0.0",
            ),
            (PackageKind::Gem, "rails", "7.0.0", "pkg:gem/rails@7.0.0"),
        ] {
            assert_eq!(
                purl(&Package::new(kind, name, version, loc.clone())),
                expect
            );
        }
    }

    #[test]
    fn dispatches_by_path() {
        for (path, mode, bytes, expect) in [
            (
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                0o644,
                &b""[..],
                Some(Analyzer::Python),
            ),
            (
                "app/node_modules/a/package.json",
                0o644,
                b"",
                Some(Analyzer::Node),
            ),
            ("app/package.json", 0o644, b"", None),
            (
                "app/node_modules/@types/node/package.json",
                0o644,
                b"",
                Some(Analyzer::Node),
            ),
            (
                "app/node_modules/a/node_modules/b/package.json",
                0o644,
                b"",
                Some(Analyzer::Node),
            ),
            (
                "app/node_modules/a/test/fixture/package.json",
                0o644,
                b"",
                None,
            ),
            ("app/node_modules/package.json", 0o644, b"", None),
            ("usr/bin/app", 0o755, b"\x7fELF", Some(Analyzer::Binary)),
            ("usr/bin/script", 0o755, b"#!/bin/sh", None),
            (
                "usr/share/gems/specifications/rake-13.0.gemspec",
                0o644,
                b"",
                Some(Analyzer::Gem),
            ),
            (
                "var/www/vendor/composer/installed.json",
                0o644,
                b"",
                Some(Analyzer::Composer),
            ),
        ] {
            assert_eq!(dispatch(path, mode, bytes), expect, "{path}");
        }
    }
}

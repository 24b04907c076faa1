//! Rust: `Cargo.lock` files and binaries built with `cargo auditable`.
//!
//! cargo-auditable (rust-secure-code/cargo-auditable, `PARSING.md`) stores the dependency tree in the
//! `.dep-v0` ELF section as zlib-compressed JSON: `{"packages": [{"name", "version", "source", "kind",
//! "dependencies": [indices], "root": bool}]}`. Decompression is capped, because the section is input.

use std::io::Read;

use serde::Deserialize;

use crate::text::lines;
use crate::{Diagnostic, Location, Package, PackageKind};

/// Upper bound on the decompressed audit data (real ones are a few KiB).
const MAX_AUDIT_JSON: u64 = 8 * 1024 * 1024;

#[derive(Deserialize)]
struct Audit {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    dependencies: Vec<usize>,
}

/// Crates compiled into a binary. Build-only dependencies (`kind: build`) are not in the binary and are
/// left out.
pub fn parse_auditable(
    location: &Location,
    bytes: &[u8],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Package> {
    let Some(section) = super::elf::section(bytes, ".dep-v0") else {
        return Vec::new();
    };
    let mut json = Vec::new();
    let read = flate2::read::ZlibDecoder::new(section)
        .take(MAX_AUDIT_JSON + 1)
        .read_to_end(&mut json);
    if let Err(e) = read {
        diagnostics.push(Diagnostic::new(
            &location.path,
            None,
            format!("cargo-auditable data: {e}"),
        ));
        return Vec::new();
    }
    if json.len() as u64 > MAX_AUDIT_JSON {
        diagnostics.push(Diagnostic::new(
            &location.path,
            None,
            "cargo-auditable data larger than 8 MiB",
        ));
        return Vec::new();
    }
    let audit: Audit = match serde_json::from_slice(&json) {
        Ok(a) => a,
        Err(e) => {
            diagnostics.push(Diagnostic::new(
                &location.path,
                None,
                format!("cargo-auditable JSON: {e}"),
            ));
            return Vec::new();
        }
    };
    let names: Vec<String> = audit.packages.iter().map(|p| p.name.clone()).collect();
    audit
        .packages
        .iter()
        .filter(|p| p.kind.as_deref() != Some("build"))
        .map(|p| {
            let mut pkg = Package::new(PackageKind::Cargo, &p.name, &p.version, location.clone());
            pkg.depends = p
                .dependencies
                .iter()
                .filter_map(|i| names.get(*i))
                .map(|n| vec![n.clone()])
                .collect();
            pkg
        })
        .collect()
}

/// Packages of a `Cargo.lock` (any version of the format: `[[package]]` tables with `name`, `version`).
/// Read line by line: the file is machine-written TOML with one `key = "value"` per line.
pub fn parse_lock(
    location: &Location,
    bytes: &[u8],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Package> {
    let path = location.path.as_str();
    let mut packages = Vec::new();
    let mut current: Option<LockEntry> = None;
    let mut in_deps = false;
    let mut flush = |current: &mut Option<LockEntry>, diagnostics: &mut Vec<Diagnostic>| {
        if let Some((line, name, version, deps)) = current.take() {
            match (name, version) {
                (Some(name), Some(version)) => {
                    let mut pkg = Package::new(PackageKind::Cargo, name, version, location.clone());
                    pkg.depends = deps.into_iter().map(|d| vec![d]).collect();
                    packages.push(pkg);
                }
                _ => diagnostics.push(Diagnostic::new(
                    path,
                    Some(line),
                    "[[package]] without name or version",
                )),
            }
        }
    };
    for (number, line) in lines(path, bytes, diagnostics) {
        let line = line.trim();
        if line.starts_with('[') {
            flush(&mut current, diagnostics);
            in_deps = false;
            if line == "[[package]]" {
                current = Some((number, None, None, Vec::new()));
            }
            continue;
        }
        let Some((_, name, version, deps)) = current.as_mut() else {
            continue;
        };
        if in_deps {
            if line.starts_with(']') {
                in_deps = false;
            } else if let Some(dep) = unquote(line.trim_end_matches(',')) {
                // "name 1.0.0 (registry+...)" -> name
                deps.push(dep.split_whitespace().next().unwrap_or(dep).to_owned());
            }
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) => match key.trim() {
                "name" => *name = unquote(value.trim()).map(str::to_owned),
                "version" => *version = unquote(value.trim()).map(str::to_owned),
                "dependencies" => in_deps = !value.contains(']'),
                _ => {}
            },
            None if line.is_empty() || line.starts_with('#') => {}
            None => diagnostics.push(Diagnostic::new(
                path,
                Some(number),
                "expected `key = value`",
            )),
        }
    }
    flush(&mut current, diagnostics);
    packages
}

/// A `[[package]]` being read: its line, name, version and dependency names.
type LockEntry = (usize, Option<String>, Option<String>, Vec<String>);

fn unquote(value: &str) -> Option<&str> {
    value.trim().strip_prefix('"')?.strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn loc(path: &str) -> Location {
        Location {
            path: path.into(),
            layer: None,
        }
    }

    #[test]
    fn cargo_lock() {
        let input = "# This file is automatically @generated by Cargo.\nversion = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"serde\",\n \"libc 0.2.1\",\n]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"broken\"\n";
        let mut d = Vec::new();
        let got = parse_lock(&loc("Cargo.lock"), input.as_bytes(), &mut d);
        let names: Vec<String> = got
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(names, ["app@0.1.0", "serde@1.0.200"]);
        assert_eq!(
            got[0].depends,
            [vec!["serde".to_owned()], vec!["libc".to_owned()]]
        );
        assert_eq!(d.iter().map(|d| d.line).collect::<Vec<_>>(), [Some(17)]);
    }

    #[test]
    fn auditable_section() {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1],"root":true},{"name":"serde","version":"1.0.200","source":"crates.io"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).expect("compress");
        let section = z.finish().expect("compress");
        let elf = super::super::elf::tests::build_elf(&[(".dep-v0", &section)]);
        let mut d = Vec::new();
        let got = parse_auditable(&loc("usr/bin/app"), &elf, &mut d);
        let names: Vec<String> = got
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(names, ["app@0.1.0", "serde@1.0.200"]);
        assert_eq!(got[0].depends, [vec!["serde".to_owned()]]);
        assert!(d.is_empty());

        let garbage = super::super::elf::tests::build_elf(&[(".dep-v0", b"not zlib")]);
        assert!(parse_auditable(&loc("x"), &garbage, &mut d).is_empty());
        assert_eq!(d.len(), 1);
    }
}

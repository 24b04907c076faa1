//! Alpine `lib/apk/db/installed`: stanzas of `K:value` lines separated by blank lines.

use std::collections::BTreeMap;

use crate::text::{lines, truncate};
use crate::{Diagnostic, Location, Package, PackageKind};

/// Where apk keeps its database (`usr/lib/apk` on newer releases, `lib/apk` usually a symlink to it).
pub const APK_DB_PATHS: &[&str] = &["lib/apk/db/installed", "usr/lib/apk/db/installed"];

/// Parses an apk `installed` database. PURLs are filled in later, when the OS is known.
///
/// Every stanza needs `P:` and `V:`; a stanza without them, a line that is not `K:value`, a line that is
/// not UTF-8, and a second stanza for the same package name each give a diagnostic with the line number.
pub fn parse(location: &Location, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let path = location.path.as_str();
    let mut packages = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Option<(usize, Package)> = None;
    let mut dir = String::new();

    let mut finish = |current: &mut Option<(usize, Package)>, diagnostics: &mut Vec<Diagnostic>| {
        let Some((line, pkg)) = current.take() else {
            return;
        };
        if pkg.name.is_empty() || pkg.version.is_empty() {
            diagnostics.push(Diagnostic::new(
                path,
                Some(line),
                "package entry without a P: name or V: version",
            ));
            return;
        }
        if let Some(first) = seen.get(&pkg.name) {
            diagnostics.push(Diagnostic::new(
                path,
                Some(line),
                format!(
                    "duplicate entry for package {} (first at line {first}); keeping the first",
                    pkg.name
                ),
            ));
            return;
        }
        seen.insert(pkg.name.clone(), line);
        packages.push(pkg);
    };

    for (number, line) in lines(path, bytes, diagnostics) {
        if line.trim().is_empty() {
            finish(&mut current, diagnostics);
            continue;
        }
        let (_, pkg) = current.get_or_insert_with(|| {
            (
                number,
                Package::new(PackageKind::Apk, "", "", location.clone()),
            )
        });
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes.get(1) != Some(&b':') {
            diagnostics.push(Diagnostic::new(
                path,
                Some(number),
                format!("expected `K:value`, found {:?}", truncate(&line, 60)),
            ));
            continue;
        }
        let value = line.get(2..).unwrap_or("");
        match bytes.first().copied().unwrap_or(b' ') {
            b'P' => pkg.name = value.to_owned(),
            b'V' => pkg.version = value.to_owned(),
            b'A' => pkg.arch = Some(value.to_owned()),
            b'L' => pkg.license_declared = Some(value.to_owned()),
            b'o' => pkg.source_name = Some(value.to_owned()),
            b'm' => pkg.supplier = Some(value.to_owned()),
            b'C' => pkg.checksum = Some(value.to_owned()),
            b'D' => {
                pkg.depends = value
                    .split_whitespace()
                    // `!name` is a conflict, not a dependency.
                    .filter(|d| !d.starts_with('!'))
                    .map(|d| vec![strip_constraint(d).to_owned()])
                    .collect()
            }
            b'p' => {
                pkg.provides = value
                    .split_whitespace()
                    .map(|p| strip_constraint(p).to_owned())
                    .collect()
            }
            b'F' => dir = value.to_owned(),
            b'R' => pkg.files.push(if dir.is_empty() {
                value.to_owned()
            } else {
                format!("{dir}/{value}")
            }),
            _ => {}
        }
    }
    finish(&mut current, diagnostics);
    for pkg in &mut packages {
        // The source package shares the binary's version in apk.
        if pkg.source_name.is_some() {
            pkg.source_version = Some(pkg.version.clone());
        }
        pkg.license_spdx = pkg
            .license_declared
            .as_deref()
            .and_then(crate::license::to_spdx);
    }
    packages
}

/// `so:libc.musl-x86_64.so.1`, `musl>=1.2`, `cmd:ls=1.36` -> the part before the version operator.
fn strip_constraint(dep: &str) -> &str {
    let end = dep.find(['<', '>', '=', '~']).unwrap_or(dep.len());
    dep.get(..end).unwrap_or(dep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        Location {
            path: "lib/apk/db/installed".into(),
            layer: None,
        }
    }

    /// (input, expected `name@version origin arch files`, expected diagnostic lines)
    fn check(input: &[u8], expect: &[&str], expect_diag_lines: &[usize]) {
        let mut diags = Vec::new();
        let got: Vec<String> = parse(&loc(), input, &mut diags)
            .iter()
            .map(|p| {
                format!(
                    "{}@{} {} {} {}",
                    p.name,
                    p.version,
                    p.source_name.as_deref().unwrap_or("-"),
                    p.arch.as_deref().unwrap_or("-"),
                    p.files.join(",")
                )
            })
            .collect();
        assert_eq!(got, expect);
        let lines: Vec<usize> = diags.iter().filter_map(|d| d.line).collect();
        assert_eq!(lines, expect_diag_lines, "{diags:?}");
    }

    #[test]
    fn parses_stanzas_and_reports_bad_input() {
        check(
            b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\nD:so:libc.so !foo bar>=1\nF:lib\nR:ld-musl.so.1\nR:libc.so\n\nP:x\nV:1\n",
            &["musl@1.2.5-r0 musl x86_64 lib/ld-musl.so.1,lib/libc.so", "x@1 - - "],
            &[],
        );
        // duplicate, missing version, garbage line, not UTF-8
        check(
            b"P:a\nV:1\n\nP:a\nV:2\n\nP:b\n\ngarbage\nP:c\nV:\xff\n",
            &["a@1 - - ", "c@\u{fffd} - - "],
            &[11, 4, 7, 9],
        );
        // truncated in the middle of a stanza: what was read is kept
        check(b"P:a\nV:1\n\nP:b\nV", &["a@1 - - "], &[5, 4]);
        check(b"", &[], &[]);
    }

    #[test]
    fn dependencies_and_provides() {
        let mut diags = Vec::new();
        let got = parse(
            &loc(),
            b"P:a\nV:1\nD:so:libc.so !c b>=1 /bin/sh\np:so:liba.so=1 cmd:a\n",
            &mut diags,
        );
        let deps: Vec<_> = got[0].depends.iter().map(|d| d[0].as_str()).collect();
        assert_eq!(deps, ["so:libc.so", "b", "/bin/sh"]);
        assert_eq!(got[0].provides, ["so:liba.so", "cmd:a"]);
    }
}

//! dpkg databases: `var/lib/dpkg/status` and the distroless `var/lib/dpkg/status.d/` in both layouts.

use std::collections::BTreeMap;

use crate::text::{lines, stanzas};
use crate::{Diagnostic, Location, Package, PackageKind};

pub const STATUS_PATH: &str = "var/lib/dpkg/status";
pub const STATUS_D: &str = "var/lib/dpkg/status.d";
pub const INFO_DIR: &str = "var/lib/dpkg/info";

/// Parses control stanzas (a `status` file or one `status.d` control file).
///
/// With `require_installed`, a stanza counts only when its `Status` ends in `installed` (`install ok
/// installed`; `deinstall ok config-files` does not). `status.d` control files have no `Status` at all,
/// so there a missing `Status` means installed. A second stanza for the same package and architecture,
/// or one without `Package`/`Version`, gives a diagnostic with its line.
pub fn parse_control(
    location: &Location,
    bytes: &[u8],
    require_installed: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Package> {
    let path = location.path.as_str();
    let mut packages = Vec::new();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for stanza in stanzas(path, bytes, false, diagnostics) {
        let status = stanza.get("Status");
        let installed = match status {
            Some(status) => status.split_whitespace().last() == Some("installed"),
            None => !require_installed,
        };
        if !installed {
            continue;
        }
        let (Some(name), Some(version)) = (stanza.get("Package"), stanza.get("Version")) else {
            diagnostics.push(Diagnostic::new(
                path,
                Some(stanza.line),
                "stanza without Package or Version",
            ));
            continue;
        };
        let arch = stanza.get("Architecture").unwrap_or("");
        let key = (name.to_owned(), arch.to_owned());
        if let Some(first) = seen.get(&key) {
            diagnostics.push(Diagnostic::new(
                path,
                Some(stanza.line),
                format!(
                    "duplicate entry for package {name} (first at line {first}); keeping the first"
                ),
            ));
            continue;
        }
        seen.insert(key, stanza.line);
        let mut pkg = Package::new(PackageKind::Deb, name, version, location.clone());
        pkg.arch = (!arch.is_empty()).then(|| arch.to_owned());
        match stanza.get("Source") {
            Some(source) => {
                let (source_name, source_version) = parse_source(source);
                pkg.source_name = Some(source_name.to_owned());
                pkg.source_version = Some(source_version.unwrap_or(version).to_owned());
            }
            None => {
                pkg.source_name = Some(name.to_owned());
                pkg.source_version = Some(version.to_owned());
            }
        }
        pkg.supplier = stanza.get("Maintainer").map(str::to_owned);
        pkg.multi_arch = stanza.get("Multi-Arch").map(str::to_owned);
        pkg.depends = stanza
            .get_all("Pre-Depends")
            .chain(stanza.get_all("Depends"))
            .flat_map(parse_depends)
            .collect();
        pkg.provides = stanza
            .get("Provides")
            .map(parse_depends)
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect();
        packages.push(pkg);
    }
    packages
}

/// `foo (1.2-3)` -> (`foo`, Some(`1.2-3`)).
fn parse_source(source: &str) -> (&str, Option<&str>) {
    match source.split_once('(') {
        Some((name, rest)) => (
            name.trim(),
            rest.split(')')
                .next()
                .map(str::trim)
                .filter(|v| !v.is_empty()),
        ),
        None => (source.trim(), None),
    }
}

/// `libc6 (>= 2.34), a | b:any, c [amd64]` -> [[libc6], [a, b], [c]].
fn parse_depends(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt.split(['(', '[', '<']).next().unwrap_or("").trim();
                    let name = name.split(':').next().unwrap_or(name);
                    (!name.is_empty()).then(|| name.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|alts| !alts.is_empty())
        .collect()
}

/// Paths from an `md5sums` file (`<md5>  <path>`), normalised without a leading `/`.
pub fn parse_md5sums(path: &str, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<String> {
    let mut files = Vec::new();
    for (number, line) in lines(path, bytes, diagnostics) {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once(char::is_whitespace) {
            Some((_, file)) if !file.trim().is_empty() => {
                files.push(file.trim().trim_start_matches('/').to_owned())
            }
            _ => diagnostics.push(Diagnostic::new(
                path,
                Some(number),
                "expected `<md5>  <path>`",
            )),
        }
    }
    files
}

/// Paths from an `info/<pkg>.list` file (one absolute path per line; `/.` is the root).
pub fn parse_list(path: &str, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<String> {
    lines(path, bytes, diagnostics)
        .into_iter()
        .map(|(_, line)| line.trim().trim_start_matches('/').to_owned())
        .filter(|p| !p.is_empty() && p != ".")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        Location {
            path: STATUS_PATH.into(),
            layer: None,
        }
    }

    fn check(input: &str, require_installed: bool, expect: &[&str], expect_diag_lines: &[usize]) {
        let mut diags = Vec::new();
        let got: Vec<String> =
            parse_control(&loc(), input.as_bytes(), require_installed, &mut diags)
                .iter()
                .map(|p| {
                    format!(
                        "{}@{} {}@{} {} {:?}",
                        p.name,
                        p.version,
                        p.source_name.as_deref().unwrap_or("-"),
                        p.source_version.as_deref().unwrap_or("-"),
                        p.arch.as_deref().unwrap_or("-"),
                        p.depends
                    )
                })
                .collect();
        assert_eq!(got, expect);
        let lines: Vec<usize> = diags.iter().filter_map(|d| d.line).collect();
        assert_eq!(lines, expect_diag_lines, "{diags:?}");
    }

    #[test]
    fn status_entries() {
        check(
            "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl (3.0.22-1~deb12u2)\nVersion: 3.0.22-1~deb12u2+b1\nDepends: libc6 (>= 2.34), a | b:any\n\n\
             Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
             Package: bash\nStatus: install ok installed\nVersion: 5.2-1\nArchitecture: amd64\n",
            true,
            &[
                "libssl3@3.0.22-1~deb12u2+b1 openssl@3.0.22-1~deb12u2 amd64 [[\"libc6\"], [\"a\", \"b\"]]",
                "bash@5.2-1 bash@5.2-1 amd64 []",
            ],
            &[],
        );
    }

    #[test]
    fn missing_status_counts_only_in_status_d() {
        check("Package: a\nVersion: 1\n", true, &[], &[]);
        check("Package: a\nVersion: 1\n", false, &["a@1 a@1 - []"], &[]);
    }

    #[test]
    fn bad_input_gives_diagnostics() {
        check(
            "Package: a\nVersion: 1\nArchitecture: amd64\n\nPackage: a\nVersion: 2\nArchitecture: amd64\n\nVersion: 3\n\nnot a field\n",
            false,
            &["a@1 a@1 amd64 []"],
            &[11, 5, 9],
        );
    }

    #[test]
    fn file_lists() {
        let mut diags = Vec::new();
        assert_eq!(
            parse_md5sums(
                "x",
                b"d41d8cd98f00b204e9800998ecf8427e  usr/lib/x.so\nbad\n",
                &mut diags
            ),
            ["usr/lib/x.so"]
        );
        assert_eq!(diags.len(), 1);
        assert_eq!(
            parse_list("x", b"/.\n/usr\n/usr/bin/bash\n", &mut diags),
            ["usr", "usr/bin/bash"]
        );
    }
}

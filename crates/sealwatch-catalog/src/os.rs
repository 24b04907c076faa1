//! Operating-system detection from the release files distributions ship.

use crate::text::lines;
use crate::{Diagnostic, FileTree, OsInfo};

/// Files read for OS detection, in the order they are consulted.
pub const OS_FILES: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
];

/// Detects the OS. `os-release` gives the identity; `alpine-release` and `debian_version` refine the
/// version (Trivy reports `debian 12.15`, not `12`); `redhat-release` is the fallback for old RHEL-family
/// images without `os-release`. `distroless` is decided by the caller, which knows the package databases.
pub fn detect(tree: &dyn FileTree, diagnostics: &mut Vec<Diagnostic>) -> Option<OsInfo> {
    let mut os = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|path| {
            tree.read(path)
                .map(|bytes| parse_os_release(path, bytes, diagnostics))
        })
        .flatten();

    if let Some(release) = tree.read("etc/alpine-release").and_then(first_line) {
        let os = os.get_or_insert_with(|| bare("alpine"));
        if os.id == "alpine" {
            os.version = Some(release);
        }
    }
    if let Some(release) = tree.read("etc/debian_version").and_then(first_line) {
        let os = os.get_or_insert_with(|| bare("debian"));
        // Ubuntu's debian_version says `bookworm/sid`; only trust it for Debian itself.
        if os.id == "debian" && release.starts_with(|c: char| c.is_ascii_digit()) {
            os.version = Some(release);
        }
    }
    if os.is_none() {
        if let Some(release) = tree.read("etc/redhat-release").and_then(first_line) {
            os = Some(parse_redhat_release(&release));
        }
    }
    os
}

fn bare(id: &str) -> OsInfo {
    OsInfo {
        id: id.to_owned(),
        version: None,
        version_id: None,
        pretty_name: None,
        codename: None,
        id_like: Vec::new(),
        distroless: false,
    }
}

fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// Parses `os-release` (KEY=value, optionally quoted). Returns `None` without an `ID`.
pub fn parse_os_release(
    path: &str,
    bytes: &[u8],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<OsInfo> {
    let mut os = bare("");
    for (number, line) in lines(path, bytes, diagnostics) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            diagnostics.push(Diagnostic::new(path, Some(number), "expected KEY=value"));
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => os.id = value.to_ascii_lowercase(),
            "VERSION_ID" => os.version_id = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            "VERSION_CODENAME" => os.codename = Some(value),
            "ID_LIKE" => os.id_like = value.split_whitespace().map(str::to_owned).collect(),
            _ => {}
        }
    }
    if os.id.is_empty() {
        diagnostics.push(Diagnostic::new(path, None, "no ID= line"));
        return None;
    }
    os.version = os.version_id.clone();
    Some(os)
}

fn unquote(value: &str) -> String {
    let stripped = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    stripped.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// `Red Hat Enterprise Linux release 8.9 (Ootpa)`, `CentOS Linux release 7.9.2009 (Core)`.
fn parse_redhat_release(line: &str) -> OsInfo {
    let lower = line.to_ascii_lowercase();
    let id = if lower.starts_with("centos") {
        "centos"
    } else if lower.starts_with("rocky") {
        "rocky"
    } else if lower.starts_with("almalinux") {
        "almalinux"
    } else if lower.starts_with("fedora") {
        "fedora"
    } else {
        "rhel"
    };
    let version = line
        .split_once(" release ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_owned);
    OsInfo {
        version_id: version.clone(),
        version,
        pretty_name: Some(line.to_owned()),
        ..bare(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryTree;

    fn check(files: &[(&str, &str)], expect: Option<(&str, &str, &str)>) {
        let mut tree = MemoryTree::new();
        for (path, body) in files {
            tree.insert(path, *body);
        }
        let mut diags = Vec::new();
        let got = detect(&tree, &mut diags);
        let got = got.as_ref().map(|os| {
            (
                os.id.as_str(),
                os.version.as_deref().unwrap_or(""),
                os.distro_qualifier().unwrap_or_default(),
            )
        });
        let expect = expect.map(|(a, b, c)| (a, b, c.to_owned()));
        assert_eq!(got, expect, "{files:?}");
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn detects_release_files() {
        check(
            &[(
                "etc/os-release",
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
            )],
            Some(("alpine", "3.20.3", "alpine-3.20.3")),
        );
        check(
            &[("etc/alpine-release", "3.21.0_alpha20240923\n")],
            Some((
                "alpine",
                "3.21.0_alpha20240923",
                "alpine-3.21.0_alpha20240923",
            )),
        );
        check(
            &[
                (
                    "usr/lib/os-release",
                    "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
                ),
                ("etc/debian_version", "12.15\n"),
            ],
            Some(("debian", "12.15", "debian-12")),
        );
        check(
            &[
                ("etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n"),
                ("etc/debian_version", "bookworm/sid\n"),
            ],
            Some(("ubuntu", "22.04", "ubuntu-22.04")),
        );
        check(
            &[(
                "etc/redhat-release",
                "CentOS Linux release 7.9.2009 (Core)\n",
            )],
            Some(("centos", "7.9.2009", "centos-7.9.2009")),
        );
        check(&[("etc/hostname", "x")], None);
    }
}

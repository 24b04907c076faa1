//! The analyzers against the real package databases in `shared/fixtures/pkgdb`.
//!
//! Expected values come from the fixture files themselves and from the counts in each folder's README,
//! read at test time, never from lists copied into this file.

use std::path::Path;

use sealwatch_catalog::{catalog, MemoryTree, PackageKind};

/// Builds a tree from `(path in image, file on disk)` pairs, each file tagged with a fake layer digest.
fn tree_from(files: &[(&str, &Path)]) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for (i, (image_path, disk)) in files.iter().enumerate() {
        let bytes = std::fs::read(disk).unwrap_or_else(|e| panic!("read {}: {e}", disk.display()));
        tree.insert_with(image_path, bytes, 0o644, Some(&format!("sha256:{i:064x}")));
    }
    tree
}

/// Builds a tree from a folder: every file below `dir` appears under `mount` in the image.
fn tree_from_dir(dir: &Path, mount: &str) -> MemoryTree {
    let mut tree = MemoryTree::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("below dir")
                    .to_string_lossy()
                    .into_owned();
                let bytes = std::fs::read(&path).expect("read");
                tree.insert_with(
                    &format!("{mount}/{rel}"),
                    bytes,
                    0o644,
                    Some("sha256:layer"),
                );
            }
        }
    }
    tree
}

/// The value of `key` in an RFC 822 / apk stanza, read the plain way.
fn field<'a>(stanza: &'a str, key: &str) -> Option<&'a str> {
    stanza
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

/// Rows of the README table whose first cell is a back-quoted file name: (file, cells).
fn readme_rows(readme: &str) -> Vec<(String, Vec<String>)> {
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect();
            (cells.first().cloned().unwrap_or_default(), cells)
        })
        .collect()
}

#[test]
fn alpine_databases_match_the_files_and_readme_counts() {
    let Some(dir) = sealwatch_test::require_shared("fixtures/pkgdb/apk") else {
        return;
    };
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let rows = readme_rows(&readme);
    let mut checked = 0;
    for (file, cells) in rows.iter().filter(|(f, _)| f.starts_with("installed-")) {
        let release = cells
            .get(1)
            .expect("release cell")
            .split_whitespace()
            .next()
            .expect("release");
        let count: usize = cells.get(3).expect("count cell").parse().expect("count");
        let db = dir.join(file);
        let mut tree = tree_from(&[("lib/apk/db/installed", &db)]);
        tree.insert("etc/alpine-release", format!("{release}\n"));
        let result = catalog(&tree);
        assert!(
            result.diagnostics.is_empty(),
            "{file}: {:?}",
            result.diagnostics
        );
        assert_eq!(result.packages.len(), count, "{file}");
        let os = result.os.as_ref().expect("os detected");
        assert_eq!(
            (os.id.as_str(), os.version.as_deref()),
            ("alpine", Some(release))
        );

        let text = std::fs::read_to_string(&db).expect("utf-8 db");
        for stanza in text
            .split("\n\n")
            .filter(|s| s.lines().any(|l| l.starts_with("P:")))
        {
            let name = field(stanza, "P:").expect("P");
            let pkg = result
                .packages
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("{file}: {name} missing"));
            assert_eq!(
                Some(pkg.version.as_str()),
                field(stanza, "V:"),
                "{file} {name}"
            );
            assert_eq!(
                pkg.source_name.as_deref(),
                field(stanza, "o:"),
                "{file} {name}"
            );
            assert_eq!(pkg.arch.as_deref(), field(stanza, "A:"), "{file} {name}");
            assert_eq!(
                pkg.license_declared.as_deref(),
                field(stanza, "L:"),
                "{file} {name}"
            );
            // apk declares SPDX expressions; each one the spdx crate accepts must be carried over.
            let declared = field(stanza, "L:").unwrap_or("");
            if spdx::Expression::parse(declared).is_ok() {
                assert!(pkg.license_spdx.is_some(), "{file} {name}: {declared}");
            }
            let files = stanza.lines().filter(|l| l.starts_with("R:")).count();
            assert_eq!(pkg.files.len(), files, "{file} {name}");
            assert_eq!(
                pkg.purl,
                format!(
                    "pkg:apk/alpine/{name}@{}?arch={}&distro=alpine-{release}",
                    pkg.version.replace('+', "%2B"),
                    pkg.arch.as_deref().unwrap_or("")
                )
            );
            assert_eq!(pkg.location.path, "lib/apk/db/installed");
            assert!(pkg.location.layer.is_some());
        }
        checked += 1;
    }
    assert_eq!(checked, 16, "README lists 16 databases");
}

#[test]
fn alpine_3_20_purl_with_os_release() {
    let Some(db) = sealwatch_test::require_shared("fixtures/pkgdb/apk/installed-3.20.3") else {
        return;
    };
    let mut tree = tree_from(&[("lib/apk/db/installed", &db)]);
    tree.insert(
        "etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n",
    );
    let result = catalog(&tree);
    let musl = result
        .packages
        .iter()
        .find(|p| p.name == "musl")
        .expect("musl");
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
    );
    // busybox declares GPL-2.0-only, which is an SPDX id.
    let busybox = result
        .packages
        .iter()
        .find(|p| p.name == "busybox")
        .expect("busybox");
    assert_eq!(busybox.license_spdx.as_deref(), Some("GPL-2.0-only"));
}

#[test]
fn dpkg_status_matches_the_file() {
    let Some(status) = sealwatch_test::require_shared("fixtures/pkgdb/dpkg/status") else {
        return;
    };
    let readme = std::fs::read_to_string(status.with_file_name("README.md")).expect("README");
    // "## `status` — classic dpkg status file (88 packages)"
    let count: usize = readme
        .lines()
        .find(|l| l.starts_with("## `status`"))
        .and_then(|l| {
            l.rsplit_once('(')?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("count in README");
    let mut tree = tree_from(&[("var/lib/dpkg/status", &status)]);
    tree.insert(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    tree.insert("etc/debian_version", "12.15\n");
    let result = catalog(&tree);
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
    assert_eq!(result.packages.len(), count);
    let os = result.os.as_ref().expect("os");
    assert_eq!(
        (os.id.as_str(), os.version.as_deref(), os.distroless),
        ("debian", Some("12.15"), false)
    );

    let text = std::fs::read_to_string(&status).expect("utf-8");
    let mut with_source = 0;
    for stanza in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
        let name = field(stanza, "Package:").expect("Package");
        let pkg = result
            .packages
            .iter()
            .find(|p| p.name == name)
            .expect("listed");
        assert_eq!(pkg.kind, PackageKind::Deb);
        assert_eq!(Some(pkg.version.as_str()), field(stanza, "Version:"));
        assert_eq!(pkg.arch.as_deref(), field(stanza, "Architecture:"));
        match field(stanza, "Source:") {
            Some(source) => {
                with_source += 1;
                let source_name = source.split(" (").next().expect("name");
                assert_eq!(pkg.source_name.as_deref(), Some(source_name), "{name}");
                let expect_version = source
                    .split_once(" (")
                    .map_or(field(stanza, "Version:"), |(_, v)| v.strip_suffix(')'));
                assert_eq!(pkg.source_version.as_deref(), expect_version, "{name}");
            }
            None => assert_eq!(pkg.source_name.as_deref(), Some(name)),
        }
        assert!(
            pkg.purl
                .starts_with(&format!("pkg:deb/debian/{}@", name.replace('+', "%2B"))),
            "{}",
            pkg.purl
        );
        assert!(pkg.purl.ends_with("&distro=debian-12"), "{}", pkg.purl);
    }
    assert_eq!(with_source, 65, "README: 65 stanzas carry Source:");
}

#[test]
fn distroless_status_d_both_layouts() {
    let Some(dir) = sealwatch_test::require_shared("fixtures/pkgdb/dpkg/status.d") else {
        return;
    };
    let readme = std::fs::read_to_string(dir.with_file_name("README.md")).expect("README");
    let section = readme
        .split("## `status.d/`")
        .nth(1)
        .expect("status.d section");
    let expect: Vec<(String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| package"))
        .filter_map(|l| {
            let mut cells = l.trim_matches('|').split('|').map(str::trim);
            Some((cells.next()?.to_owned(), cells.next()?.to_owned()))
        })
        .collect();
    assert_eq!(expect.len(), 9);

    // Layout 1, as shipped: status.d/<pkg> + <pkg>.md5sums.
    let flat = tree_from_dir(&dir, "var/lib/dpkg/status.d");
    // Layout 2 (rules_distroless): status.d/<pkg>/control + status.d/<pkg>/md5sums.
    let mut nested = MemoryTree::new();
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).expect("read");
        match name.strip_suffix(".md5sums") {
            Some(pkg) => nested.insert(&format!("var/lib/dpkg/status.d/{pkg}/md5sums"), bytes),
            None => nested.insert(&format!("var/lib/dpkg/status.d/{name}/control"), bytes),
        };
    }
    for tree in [flat, nested] {
        let result = catalog(&tree);
        assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
        let got: Vec<(String, String)> = result
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        assert_eq!(got, expect);
        let os = result.os.as_ref().expect("distroless detected");
        assert!(os.distroless);
        assert_eq!(os.id, "debian");
        // Every package owns the files its md5sums lists.
        for pkg in &result.packages {
            assert!(!pkg.files.is_empty(), "{} has md5sums", pkg.name);
        }
    }
}

#[test]
fn garbage_databases_give_diagnostics_and_other_analyzers_still_run() {
    let Some(status) = sealwatch_test::require_shared("fixtures/pkgdb/dpkg/status") else {
        return;
    };
    let mut tree = tree_from(&[("var/lib/dpkg/status", &status)]);
    // A truncated, non-UTF-8 apk database beside a good dpkg one.
    tree.insert(
        "lib/apk/db/installed",
        b"P:musl\nV:1.2\xff\n\n\x00\x01garbage\nP:x".to_vec(),
    );
    let result = catalog(&tree);
    assert!(result.packages.iter().any(|p| p.kind == PackageKind::Deb));
    let apk_lines: Vec<Option<usize>> = result
        .diagnostics
        .iter()
        .filter(|d| d.path == "lib/apk/db/installed")
        .map(|d| d.line)
        .collect();
    assert_eq!(
        apk_lines,
        vec![Some(2), Some(4), Some(4)],
        "{:?}",
        result.diagnostics
    );
}

#[test]
fn rpm_databases_in_all_three_formats() {
    let Some(dir) = sealwatch_test::require_shared("fixtures/pkgdb/rpm") else {
        return;
    };
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let rows = readme_rows(&readme);
    let mut checked = 0;
    for (file, cells) in rows.iter().filter(|(_, cells)| cells.len() == 5) {
        // "| file | format | upstream path | names in an image | **35** |"
        let count: usize = cells[4].trim_matches('*').parse().expect("count");
        let image_path = cells[3]
            .split('`')
            .find(|s| s.contains("/rpm/"))
            .expect("an image path");
        let bytes = std::fs::read(dir.join(file)).expect("read");
        let tree = tree_from(&[(image_path, &dir.join(file))]);
        let result = catalog(&tree);
        let strings: std::collections::HashSet<&[u8]> = bytes.split(|b| *b == 0).collect();
        let in_file = |needle: &str| strings.contains(needle.as_bytes());
        assert!(
            result.diagnostics.is_empty(),
            "{file}: {:?}",
            result.diagnostics
        );
        assert_eq!(result.packages.len(), count, "{file}");
        for pkg in &result.packages {
            assert_eq!(pkg.kind, PackageKind::Rpm);
            if let Some(license) = &pkg.license_spdx {
                let mode = spdx::ParseMode {
                    allow_deprecated: true,
                    allow_postfix_plus_on_gpl: true,
                    ..spdx::ParseMode::STRICT
                };
                assert!(
                    spdx::Expression::parse_mode(license, mode).is_ok(),
                    "{file}: {license}"
                );
            }
            assert!(!pkg.name.is_empty() && pkg.release.is_some(), "{pkg:?}");
            // The name and the source rpm read back must be in the file as NUL-terminated strings.
            assert!(in_file(&pkg.name), "{file}: {}", pkg.name);
            let srpm = format!(
                "{}-{}.src.rpm",
                pkg.source_name.as_deref().expect("source rpm"),
                pkg.source_version.as_deref().expect("source version")
            );
            assert!(in_file(&srpm), "{file}: {srpm}");
            assert!(
                pkg.purl
                    .starts_with(&format!("pkg:rpm/{}@", pkg.name.replace('+', "%2B"))),
                "{}",
                pkg.purl
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

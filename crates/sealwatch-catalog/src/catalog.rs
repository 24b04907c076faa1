//! Runs every analyzer over a tree and puts the results together.

use std::collections::{BTreeMap, BTreeSet};

use crate::purl::Purl;
use crate::{apk, dpkg, lang, os, rpm};
use crate::{
    Catalog, CatalogError, Diagnostic, FileTree, Location, OsInfo, Package, PackageKind,
    PathPattern, PathRequest,
};

/// Every path the analyzers of this crate read: hand it to the image layer so it keeps only these files.
pub fn path_request() -> Result<PathRequest, CatalogError> {
    let mut patterns: Vec<PathPattern> = Vec::new();
    patterns.extend(os::OS_FILES.iter().map(|p| PathPattern::Exact((*p).into())));
    patterns.extend(
        apk::APK_DB_PATHS
            .iter()
            .map(|p| PathPattern::Exact((*p).into())),
    );
    patterns.push(PathPattern::Exact(dpkg::STATUS_PATH.into()));
    patterns.push(PathPattern::Prefix(dpkg::STATUS_D.into()));
    patterns.push(PathPattern::Glob(format!("{}/*.list", dpkg::INFO_DIR)));
    patterns.push(PathPattern::Glob(format!("{}/*.md5sums", dpkg::INFO_DIR)));
    patterns.extend(
        rpm::DB_PATHS
            .iter()
            .map(|p| PathPattern::Exact((*p).into())),
    );
    patterns.extend(lang::patterns());
    PathRequest::new(patterns)
}

fn location(tree: &dyn FileTree, path: &str) -> Location {
    Location {
        path: path.to_owned(),
        layer: tree.layer_of(path).map(str::to_owned),
    }
}

/// Catalogs every package in `tree`.
pub fn catalog(tree: &dyn FileTree) -> Catalog {
    let mut diagnostics = Vec::new();
    let mut os = os::detect(tree, &mut diagnostics);
    let mut packages = Vec::new();

    // apk: the first database found (`lib/apk` is usually a symlink to `usr/lib/apk`).
    if let Some(path) = apk::APK_DB_PATHS.iter().find(|p| tree.read(p).is_some()) {
        if let Some(bytes) = tree.read(path) {
            packages.extend(apk::parse(&location(tree, path), bytes, &mut diagnostics));
        }
    }

    // dpkg status, with owned files from info/*.list (or *.md5sums).
    let has_status = tree.read(dpkg::STATUS_PATH).is_some();
    if let Some(bytes) = tree.read(dpkg::STATUS_PATH) {
        let mut found = dpkg::parse_control(
            &location(tree, dpkg::STATUS_PATH),
            bytes,
            true,
            &mut diagnostics,
        );
        for pkg in &mut found {
            pkg.files = dpkg_info_files(tree, pkg, &mut diagnostics);
        }
        packages.extend(found);
    }
    let status_d = status_d_packages(tree, &mut diagnostics);
    let has_status_d = !status_d.is_empty();
    packages.extend(status_d);

    if has_status_d && !has_status {
        // Distroless: packages only in status.d, no dpkg. Report it as Debian-based distroless.
        let os = os.get_or_insert_with(|| OsInfo {
            id: "debian".into(),
            version: None,
            version_id: None,
            pretty_name: None,
            codename: None,
            id_like: Vec::new(),
            distroless: true,
        });
        os.distroless = true;
    }

    packages.extend(rpm::analyze(tree, &mut diagnostics));

    // Language packages, minus those in files an OS package owns.
    let owned: BTreeSet<&str> = packages
        .iter()
        .filter(|p| p.kind.is_os())
        .flat_map(|p| p.files.iter().map(String::as_str))
        .collect();
    let mut skipped_os_owned = 0;
    let mut language = Vec::new();
    for pkg in lang::analyze(tree, &mut diagnostics) {
        if owned.contains(pkg.location.path.as_str()) {
            skipped_os_owned += 1;
        } else {
            language.push(pkg);
        }
    }
    packages.extend(language);

    for pkg in &mut packages {
        pkg.purl = purl_for(pkg, os.as_ref());
    }
    let packages = dedupe(packages);
    diagnostics.sort();
    diagnostics.dedup();
    Catalog {
        os,
        packages,
        skipped_os_owned,
        diagnostics,
    }
}

/// Sorts, and drops a package reported twice for the same file (e.g. a jar listed by two analyzers, or
/// the same module in a binary twice). Two copies of a library in different folders stay two packages.
fn dedupe(mut packages: Vec<Package>) -> Vec<Package> {
    packages.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.location.path, &a.arch).cmp(&(
            b.kind,
            &b.name,
            &b.version,
            &b.location.path,
            &b.arch,
        ))
    });
    packages.dedup_by(|b, a| {
        a.kind == b.kind
            && a.name == b.name
            && a.version == b.version
            && a.location.path == b.location.path
            && a.arch == b.arch
    });
    packages
}

fn dpkg_info_files(
    tree: &dyn FileTree,
    pkg: &Package,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let arch = pkg.arch.as_deref().unwrap_or("");
    for base in [format!("{}:{}", pkg.name, arch), pkg.name.clone()] {
        let list = format!("{}/{base}.list", dpkg::INFO_DIR);
        if let Some(bytes) = tree.read(&list) {
            return dpkg::parse_list(&list, bytes, diagnostics);
        }
        let sums = format!("{}/{base}.md5sums", dpkg::INFO_DIR);
        if let Some(bytes) = tree.read(&sums) {
            return dpkg::parse_md5sums(&sums, bytes, diagnostics);
        }
    }
    Vec::new()
}

/// Both distroless layouts: `status.d/<pkg>` (+ `<pkg>.md5sums`) and `status.d/<pkg>/control` (+ `md5sums`).
fn status_d_packages(tree: &dyn FileTree, diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let prefix = format!("{}/", dpkg::STATUS_D);
    let mut controls: BTreeMap<String, String> = BTreeMap::new(); // control path -> md5sums path
    for entry in tree.files() {
        let Some(rest) = entry.path.strip_prefix(&prefix) else {
            continue;
        };
        match rest.split_once('/') {
            None if !rest.ends_with(".md5sums") => {
                controls.insert(entry.path.to_owned(), format!("{}.md5sums", entry.path));
            }
            Some((dir, "control")) if !dir.contains('/') => {
                controls.insert(entry.path.to_owned(), format!("{prefix}{dir}/md5sums"));
            }
            _ => {}
        }
    }
    let mut packages = Vec::new();
    let mut seen: BTreeMap<(String, Option<String>), String> = BTreeMap::new();
    for (control, sums) in controls {
        let Some(bytes) = tree.read(&control) else {
            continue;
        };
        let files = tree
            .read(&sums)
            .map(|b| dpkg::parse_md5sums(&sums, b, diagnostics))
            .unwrap_or_default();
        for mut pkg in dpkg::parse_control(&location(tree, &control), bytes, false, diagnostics) {
            let key = (pkg.name.clone(), pkg.arch.clone());
            if let Some(first) = seen.get(&key) {
                diagnostics.push(Diagnostic::new(
                    &control,
                    None,
                    format!(
                        "duplicate entry for package {} (also in {first}); keeping the first",
                        pkg.name
                    ),
                ));
                continue;
            }
            seen.insert(key, control.clone());
            pkg.files = files.clone();
            packages.push(pkg);
        }
    }
    packages
}

/// The PURL of a package, with the OS as namespace and `distro` qualifier for OS packages.
pub(crate) fn purl_for(pkg: &Package, os: Option<&OsInfo>) -> String {
    let distro = os.and_then(OsInfo::distro_qualifier);
    let os_id = os.map(|o| o.id.as_str());
    match pkg.kind {
        PackageKind::Apk => Purl::new("apk", &pkg.name)
            .namespace(os_id.unwrap_or("alpine"))
            .version(&pkg.version)
            .qualifier("arch", pkg.arch.clone())
            .qualifier("distro", distro)
            .build(),
        PackageKind::Deb => Purl::new("deb", &pkg.name)
            .namespace(os_id.unwrap_or("debian"))
            .version(&pkg.version)
            .qualifier("arch", pkg.arch.clone())
            .qualifier("distro", distro)
            .build(),
        PackageKind::Rpm => {
            // The PURL carries version-release; the epoch is a qualifier (purl-spec rpm definition).
            let version = match pkg.version.split_once(':') {
                Some((_, rest)) => rest,
                None => &pkg.version,
            };
            Purl::new("rpm", &pkg.name)
                .namespace(os_id.unwrap_or(""))
                .version(version)
                .qualifier("arch", pkg.arch.clone())
                .qualifier(
                    "epoch",
                    pkg.epoch.filter(|e| *e != 0).map(|e| e.to_string()),
                )
                .qualifier("distro", distro)
                .build()
        }
        _ => lang::purl(pkg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryTree;

    const STATUS: &str = "Package: python3-six\nStatus: install ok installed\nVersion: 1.16.0-4\nArchitecture: all\n\n";
    const METADATA: &str = "Name: six\nVersion: 1.16.0\n";

    #[test]
    fn language_packages_in_os_owned_files_are_skipped() {
        let owned = "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA";
        let own = "app/venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA";
        let mut tree = MemoryTree::new();
        tree.insert(dpkg::STATUS_PATH, STATUS)
            .insert(
                "var/lib/dpkg/info/python3-six.list",
                format!("/.\n/{owned}\n"),
            )
            .insert(owned, METADATA)
            .insert_with(own, METADATA, 0o644, Some("sha256:app"));
        let result = catalog(&tree);
        let got: Vec<(PackageKind, &str, &str)> = result
            .packages
            .iter()
            .map(|p| (p.kind, p.name.as_str(), p.location.path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (PackageKind::Deb, "python3-six", dpkg::STATUS_PATH),
                (PackageKind::Python, "six", own)
            ]
        );
        assert_eq!(result.skipped_os_owned, 1);
        let six = &result.packages[1];
        assert_eq!(six.purl, "pkg:pypi/six@1.16.0");
        assert_eq!(six.location.layer.as_deref(), Some("sha256:app"));
    }

    #[test]
    fn one_rpm_database_even_when_several_formats_exist() {
        // Both files are garbage, so each read gives one diagnostic: only the SQLite one may be read.
        let mut tree = MemoryTree::new();
        tree.insert("var/lib/rpm/Packages", "x")
            .insert("usr/lib/sysimage/rpm/rpmdb.sqlite", "x");
        let result = catalog(&tree);
        let paths: Vec<&str> = result.diagnostics.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["usr/lib/sysimage/rpm/rpmdb.sqlite"]);
    }

    #[test]
    fn duplicate_status_d_packages_are_reported_once() {
        let control = "Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\n";
        let mut tree = MemoryTree::new();
        tree.insert("var/lib/dpkg/status.d/libc6", control)
            .insert("var/lib/dpkg/status.d/libc6-copy/control", control)
            .insert(
                "etc/os-release",
                "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Distroless\"\n",
            );
        let result = catalog(&tree);
        assert_eq!(result.packages.len(), 1);
        assert_eq!(result.diagnostics.len(), 1, "{:?}", result.diagnostics);
        assert_eq!(
            result.packages[0].purl,
            "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12"
        );
        assert!(result.os.as_ref().is_some_and(|os| os.distroless));
    }

    #[test]
    fn path_request_covers_every_analyzer_input() {
        let request = path_request().expect("constant patterns compile");
        for path in [
            "etc/os-release",
            "lib/apk/db/installed",
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/libc6",
            "var/lib/dpkg/info/bash.list",
            "usr/lib/sysimage/rpm/rpmdb.sqlite",
            "var/lib/rpm/Packages",
            "usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            "app/node_modules/a/package.json",
            "opt/app/lib/log4j-core.jar",
            "usr/share/gems/specifications/rake-13.0.gemspec",
            "app/app.deps.json",
            "var/www/vendor/composer/installed.json",
            "src/Cargo.lock",
        ] {
            assert!(request.wants(path, 0o644), "{path}");
        }
        assert!(request.wants("usr/local/bin/app", 0o755));
        assert!(!request.wants("var/lib/dpkg/status-old", 0o644));
        assert!(!request.wants("etc/passwd", 0o644));
    }
}

//! SBOM documents from a catalog: CycloneDX 1.6 JSON ([`cyclonedx`]) and SPDX 2.3 JSON ([`spdx`]).
//!
//! Both put the image at the root (CycloneDX `metadata.component`, SPDX the package the document
//! `DESCRIBES`), the operating system under it, OS packages under the OS and language packages under the
//! image, and add package-to-package dependencies where the package database records them (apk `D:`,
//! dpkg `Depends`/`Pre-Depends`, rpm requires, npm/composer/Cargo dependencies), resolved to installed
//! packages by name or by a provided capability.
//!
//! Output is deterministic: the catalog is sorted, identifiers derive from the sort order and PURLs, JSON
//! objects are written with sorted keys, and the two values that would differ between runs (the serial
//! number and the creation time) come from [`SbomOptions`].

pub mod cyclonedx;
pub mod spdx;

use std::collections::{BTreeMap, BTreeSet};

use sealwatch_catalog::{Catalog, Package};

/// The image the SBOM describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSubject {
    /// What the user named (`alpine:3.20`, `registry.example/app:1.2`, an archive file name).
    pub name: String,
    /// Manifest digest (`sha256:…`), when known.
    pub digest: Option<String>,
}

/// Values that vary between runs, injected so that output is reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomOptions {
    /// A UUID (`8-4-4-4-12` lower-case hex) naming this document: CycloneDX `serialNumber` is
    /// `urn:uuid:<uuid>`, the SPDX namespace ends with it.
    pub uuid: String,
    /// RFC 3339 UTC timestamp, e.g. `2026-11-27T16:00:00Z`.
    pub created: String,
    /// The sealwatch version recorded as the creating tool.
    pub tool_version: String,
}

/// Resolves each package's declared dependencies to other packages of the same catalog.
///
/// Returns, per package index, the sorted indices it depends on. An alternative group (`a | b`) resolves
/// to its first installed member; names are looked up among packages of the same kind, first by name,
/// then among provided capabilities. Unresolvable dependencies are dropped (not installed, or virtual).
pub fn resolve_dependencies(packages: &[Package]) -> Vec<Vec<usize>> {
    let mut by_name: BTreeMap<(sealwatch_catalog::PackageKind, &str), usize> = BTreeMap::new();
    let mut by_provide: BTreeMap<(sealwatch_catalog::PackageKind, &str), usize> = BTreeMap::new();
    for (i, pkg) in packages.iter().enumerate() {
        by_name.entry((pkg.kind, pkg.name.as_str())).or_insert(i);
        for provided in &pkg.provides {
            by_provide.entry((pkg.kind, provided.as_str())).or_insert(i);
        }
    }
    packages
        .iter()
        .enumerate()
        .map(|(i, pkg)| {
            let mut deps = BTreeSet::new();
            for group in &pkg.depends {
                let found = group.iter().find_map(|name| {
                    by_name
                        .get(&(pkg.kind, name.as_str()))
                        .or_else(|| by_provide.get(&(pkg.kind, name.as_str())))
                        .copied()
                });
                if let Some(dep) = found.filter(|d| *d != i) {
                    deps.insert(dep);
                }
            }
            deps.into_iter().collect()
        })
        .collect()
}

/// The `pkg:oci` PURL of the image (purl-spec `oci` type): name is the last path segment, the digest
/// is the version, the repository the `repository_url` qualifier.
pub fn image_purl(image: &ImageSubject) -> Option<String> {
    let digest = image.digest.as_deref()?;
    let without_tag = match image.name.rsplit_once('@') {
        Some((name, _)) => name,
        None => &image.name,
    };
    // A tag follows the last ':' after the last '/'.
    let repo = match without_tag.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_tag,
    };
    let name = repo.rsplit('/').next().unwrap_or(repo).to_ascii_lowercase();
    let mut purl = format!("pkg:oci/{name}@{}", digest.replace(':', "%3A"));
    if repo.contains('/') {
        purl.push_str("?repository_url=");
        purl.push_str(
            &repo
                .replace('%', "%25")
                .replace('+', "%2B")
                .replace(' ', "%20"),
        );
    }
    Some(purl)
}

/// Packages of a catalog that an SBOM lists: all of them, in catalog order.
pub(crate) fn packages(catalog: &Catalog) -> &[Package] {
    &catalog.packages
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwatch_catalog::{Location, PackageKind};

    fn pkg(kind: PackageKind, name: &str, depends: &[&[&str]], provides: &[&str]) -> Package {
        let mut p = Package::new(
            kind,
            name,
            "1",
            Location {
                path: "x".into(),
                layer: None,
            },
        );
        p.depends = depends
            .iter()
            .map(|g| g.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        p.provides = provides.iter().map(|s| (*s).to_owned()).collect();
        p
    }

    #[test]
    fn resolves_names_provides_and_alternatives() {
        let packages = vec![
            pkg(
                PackageKind::Apk,
                "busybox",
                &[&["so:libc.musl-x86_64.so.1"], &["busybox"]],
                &[],
            ),
            pkg(PackageKind::Apk, "musl", &[], &["so:libc.musl-x86_64.so.1"]),
            pkg(
                PackageKind::Deb,
                "bash",
                &[&["missing", "base-files"], &["libc6"]],
                &[],
            ),
            pkg(PackageKind::Deb, "base-files", &[], &[]),
            // Same name, other ecosystem: never linked across kinds.
            pkg(PackageKind::Npm, "musl", &[&["busybox"]], &[]),
        ];
        assert_eq!(
            resolve_dependencies(&packages),
            vec![vec![1], vec![], vec![3], vec![], vec![]]
        );
    }

    #[test]
    fn oci_purls() {
        for (name, digest, expect) in [
            (
                "alpine:3.20",
                Some("sha256:ab"),
                Some("pkg:oci/alpine@sha256%3Aab"),
            ),
            (
                "127.0.0.1:5000/fixtures/App:1",
                Some("sha256:ab"),
                Some("pkg:oci/app@sha256%3Aab?repository_url=127.0.0.1:5000/fixtures/App"),
            ),
            ("alpine", None, None),
        ] {
            let image = ImageSubject {
                name: name.into(),
                digest: digest.map(str::to_owned),
            };
            assert_eq!(image_purl(&image).as_deref(), expect, "{name}");
        }
    }
}

//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>).

use sealwatch_catalog::{Catalog, Package};
use serde_json::{json, Map, Value};

use super::{image_purl, packages, resolve_dependencies, ImageSubject, SbomOptions};

const NOASSERTION: &str = "NOASSERTION";

/// SPDX identifiers allow `[A-Za-z0-9.-]` only.
fn spdx_id(kind: &str, index: usize, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{index}-{clean}")
}

/// `Name <mail>` -> `Person: Name (mail)`; anything else is an organisation.
fn supplier(text: &str) -> String {
    match text.split_once('<') {
        Some((name, rest)) if rest.ends_with('>') => {
            format!(
                "Person: {} ({})",
                name.trim(),
                rest.trim_end_matches('>').trim()
            )
        }
        _ => format!("Organization: {}", text.trim()),
    }
}

fn package(pkg: &Package, id: &str) -> Value {
    let mut p = Map::new();
    p.insert("SPDXID".into(), json!(id));
    p.insert("name".into(), json!(pkg.name));
    p.insert("versionInfo".into(), json!(pkg.version));
    p.insert("downloadLocation".into(), json!(NOASSERTION));
    p.insert("filesAnalyzed".into(), json!(false));
    p.insert("licenseConcluded".into(), json!(NOASSERTION));
    p.insert(
        "licenseDeclared".into(),
        json!(pkg.license_spdx.as_deref().unwrap_or(NOASSERTION)),
    );
    p.insert("copyrightText".into(), json!(NOASSERTION));
    p.insert(
        "supplier".into(),
        json!(pkg
            .supplier
            .as_deref()
            .map_or(NOASSERTION.to_owned(), supplier)),
    );
    p.insert("primaryPackagePurpose".into(), json!("LIBRARY"));
    if let Some(source) = &pkg.source_name {
        let version = pkg.source_version.as_deref().unwrap_or("");
        p.insert(
            "sourceInfo".into(),
            json!(format!("built from source package {source} {version}")
                .trim_end()
                .to_owned()),
        );
    }
    let mut comment = format!("found in {}", pkg.location.path);
    if let Some(layer) = &pkg.location.layer {
        comment.push_str(&format!(" (layer {layer})"));
    }
    p.insert("comment".into(), json!(comment));
    p.insert(
        "externalRefs".into(),
        json!([{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": pkg.purl }]),
    );
    Value::Object(p)
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to })
}

/// The SPDX 2.3 document of an image.
pub fn document(catalog: &Catalog, image: &ImageSubject, options: &SbomOptions) -> Value {
    let packages = packages(catalog);
    let ids: Vec<String> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            spdx_id(
                if p.kind.is_os() {
                    "OSPackage"
                } else {
                    "Package"
                },
                i + 1,
                &p.name,
            )
        })
        .collect();
    let image_id = spdx_id("Image", 0, &image.name);

    let mut image_pkg = Map::new();
    image_pkg.insert("SPDXID".into(), json!(image_id));
    image_pkg.insert("name".into(), json!(image.name));
    if let Some(digest) = &image.digest {
        image_pkg.insert("versionInfo".into(), json!(digest));
    }
    image_pkg.insert("downloadLocation".into(), json!(NOASSERTION));
    image_pkg.insert("filesAnalyzed".into(), json!(false));
    image_pkg.insert("licenseConcluded".into(), json!(NOASSERTION));
    image_pkg.insert("licenseDeclared".into(), json!(NOASSERTION));
    image_pkg.insert("copyrightText".into(), json!(NOASSERTION));
    image_pkg.insert("primaryPackagePurpose".into(), json!("CONTAINER"));
    if let Some(purl) = image_purl(image) {
        image_pkg.insert(
            "externalRefs".into(),
            json!([{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl }]),
        );
    }
    let mut spdx_packages = vec![Value::Object(image_pkg)];
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", &image_id)];

    let os_id = catalog.os.as_ref().map(|os| {
        let id = spdx_id("OperatingSystem", 0, &os.id);
        let mut p = Map::new();
        p.insert("SPDXID".into(), json!(id));
        p.insert("name".into(), json!(os.id));
        if let Some(version) = &os.version {
            p.insert("versionInfo".into(), json!(version));
        }
        p.insert("downloadLocation".into(), json!(NOASSERTION));
        p.insert("filesAnalyzed".into(), json!(false));
        p.insert("licenseConcluded".into(), json!(NOASSERTION));
        p.insert("licenseDeclared".into(), json!(NOASSERTION));
        p.insert("copyrightText".into(), json!(NOASSERTION));
        p.insert("primaryPackagePurpose".into(), json!("OPERATING-SYSTEM"));
        if os.distroless {
            p.insert(
                "comment".into(),
                json!("distroless: Debian packages without a package manager"),
            );
        }
        spdx_packages.push(Value::Object(p));
        relationships.push(relationship(&image_id, "CONTAINS", &id));
        id
    });

    for (pkg, id) in packages.iter().zip(&ids) {
        spdx_packages.push(package(pkg, id));
        let parent = match (&os_id, pkg.kind.is_os()) {
            (Some(os_id), true) => os_id,
            _ => &image_id,
        };
        relationships.push(relationship(parent, "CONTAINS", id));
    }
    for (i, deps) in resolve_dependencies(packages).iter().enumerate() {
        for dep in deps {
            if let (Some(from), Some(to)) = (ids.get(i), ids.get(*dep)) {
                relationships.push(relationship(from, "DEPENDS_ON", to));
            }
        }
    }

    let namespace_name: String = image
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": image.name,
        "documentNamespace": format!("https://sealwatch.invalid/spdx/{namespace_name}-{}", options.uuid),
        "creationInfo": {
            "created": options.created,
            "creators": [format!("Tool: sealwatch-{}", options.tool_version)],
        },
        "packages": spdx_packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_suppliers() {
        for (kind, index, name, expect) in [
            ("Package", 3, "libstdc++6", "SPDXRef-Package-3-libstdc--6"),
            (
                "Image",
                0,
                "127.0.0.1:5000/app:1",
                "SPDXRef-Image-0-127.0.0.1-5000-app-1",
            ),
        ] {
            assert_eq!(spdx_id(kind, index, name), expect);
        }
        assert_eq!(
            supplier("Natanael Copa <ncopa@alpinelinux.org>"),
            "Person: Natanael Copa (ncopa@alpinelinux.org)"
        );
        assert_eq!(
            supplier("Microsoft Corporation"),
            "Organization: Microsoft Corporation"
        );
    }
}

//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>).

use std::collections::BTreeMap;

use sealwatch_catalog::{Catalog, Package};
use serde_json::{json, Map, Value};

use super::{image_purl, packages, resolve_dependencies, ImageSubject, SbomOptions};

/// `bom-ref`s: the PURL, made unique with the file path when the same PURL appears in several files.
fn bom_refs(packages: &[Package]) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for pkg in packages {
        *count.entry(pkg.purl.as_str()).or_default() += 1;
    }
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    packages
        .iter()
        .map(|pkg| {
            let base = if count.get(pkg.purl.as_str()).copied().unwrap_or(0) > 1 {
                format!("{}#{}", pkg.purl, pkg.location.path)
            } else {
                pkg.purl.clone()
            };
            // Still a clash (same PURL twice in one file): number the later ones.
            let n = used.entry(base.clone()).or_default();
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base}#{n}")
            }
        })
        .collect()
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn component(pkg: &Package, bom_ref: &str) -> Value {
    let mut c = Map::new();
    c.insert("bom-ref".into(), json!(bom_ref));
    c.insert("type".into(), json!("library"));
    c.insert("name".into(), json!(pkg.name));
    c.insert("version".into(), json!(pkg.version));
    c.insert("purl".into(), json!(pkg.purl));
    if let Some(supplier) = &pkg.supplier {
        c.insert("supplier".into(), json!({ "name": supplier }));
    }
    match (&pkg.license_spdx, &pkg.license_declared) {
        (Some(expression), _) => {
            c.insert("licenses".into(), json!([{ "expression": expression }]));
        }
        (None, Some(declared)) => {
            c.insert(
                "licenses".into(),
                json!([{ "license": { "name": declared } }]),
            );
        }
        (None, None) => {}
    }
    let mut props = vec![
        property("sealwatch:package:type", pkg.kind.purl_type()),
        property("sealwatch:file:path", &pkg.location.path),
    ];
    if let Some(layer) = &pkg.location.layer {
        props.push(property("sealwatch:layer:digest", layer));
    }
    if let Some(name) = &pkg.source_name {
        props.push(property("sealwatch:source:name", name));
    }
    if let Some(version) = &pkg.source_version {
        props.push(property("sealwatch:source:version", version));
    }
    if let Some(label) = &pkg.modularity_label {
        props.push(property("sealwatch:rpm:modularitylabel", label));
    }
    props.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    c.insert("properties".into(), Value::Array(props));
    Value::Object(c)
}

/// The CycloneDX 1.6 BOM of an image.
pub fn document(catalog: &Catalog, image: &ImageSubject, options: &SbomOptions) -> Value {
    let packages = packages(catalog);
    let refs = bom_refs(packages);
    let image_ref = image_purl(image).unwrap_or_else(|| format!("image:{}", image.name));

    let mut root = Map::new();
    root.insert("bom-ref".into(), json!(image_ref));
    root.insert("type".into(), json!("container"));
    root.insert("name".into(), json!(image.name));
    if let Some(digest) = &image.digest {
        root.insert("version".into(), json!(digest));
    }
    if let Some(purl) = image_purl(image) {
        root.insert("purl".into(), json!(purl));
    }

    let mut components = Vec::new();
    let os_ref = catalog.os.as_ref().map(|os| {
        let version = os.version.clone().unwrap_or_default();
        let bom_ref = format!("os:{}@{}", os.id, version);
        let mut c = Map::new();
        c.insert("bom-ref".into(), json!(bom_ref));
        c.insert("type".into(), json!("operating-system"));
        c.insert("name".into(), json!(os.id));
        if !version.is_empty() {
            c.insert("version".into(), json!(version));
        }
        if let Some(pretty) = &os.pretty_name {
            c.insert("description".into(), json!(pretty));
        }
        if os.distroless {
            c.insert(
                "properties".into(),
                json!([property("sealwatch:os:distroless", "true")]),
            );
        }
        components.push(Value::Object(c));
        bom_ref
    });
    components.extend(packages.iter().zip(&refs).map(|(pkg, r)| component(pkg, r)));

    // Dependency graph: image -> OS + language packages; OS -> OS packages; package -> its dependencies.
    let deps = resolve_dependencies(packages);
    let mut image_deps: Vec<&str> = os_ref.iter().map(String::as_str).collect();
    let mut os_deps: Vec<&str> = Vec::new();
    for (pkg, r) in packages.iter().zip(&refs) {
        if pkg.kind.is_os() && os_ref.is_some() {
            os_deps.push(r);
        } else {
            image_deps.push(r);
        }
    }
    let mut dependencies = vec![json!({ "ref": image_ref, "dependsOn": sorted(image_deps) })];
    if let Some(os_ref) = &os_ref {
        dependencies.push(json!({ "ref": os_ref, "dependsOn": sorted(os_deps) }));
    }
    for (i, r) in refs.iter().enumerate() {
        let on: Vec<&str> = deps
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(|d| refs.get(*d).map(String::as_str))
            .collect();
        dependencies.push(json!({ "ref": r, "dependsOn": sorted(on) }));
    }

    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", options.uuid),
        "version": 1,
        "metadata": {
            "timestamp": options.created,
            "tools": { "components": [{ "type": "application", "name": "sealwatch", "version": options.tool_version }] },
            "component": Value::Object(root),
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn sorted(mut refs: Vec<&str>) -> Vec<&str> {
    refs.sort_unstable();
    refs.dedup();
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwatch_catalog::{Location, PackageKind};

    #[test]
    fn duplicate_purls_get_distinct_refs() {
        let mk = |path: &str| {
            let mut p = Package::new(
                PackageKind::Npm,
                "a",
                "1",
                Location {
                    path: path.into(),
                    layer: None,
                },
            );
            p.purl = "pkg:npm/a@1".into();
            p
        };
        let refs = bom_refs(&[
            mk("x/package.json"),
            mk("y/package.json"),
            mk("y/package.json"),
            {
                let mut p = mk("z");
                p.purl = "pkg:npm/b@1".into();
                p
            },
        ]);
        assert_eq!(
            refs,
            [
                "pkg:npm/a@1#x/package.json",
                "pkg:npm/a@1#y/package.json",
                "pkg:npm/a@1#y/package.json#2",
                "pkg:npm/b@1"
            ]
        );
    }
}

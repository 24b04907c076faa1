//! SBOM documents built from real package databases, checked against the official CycloneDX 1.6 schema
//! (`shared/conformance/schemas`) and against the catalog they came from.

use std::collections::BTreeSet;

use sealwatch_advisory::sbom::{cyclonedx, spdx, ImageSubject, SbomOptions};
use sealwatch_catalog::{catalog, Catalog, MemoryTree};
use serde_json::Value;

fn options() -> SbomOptions {
    SbomOptions {
        uuid: "3e671687-395b-41f5-a30f-a58921a69b79".into(),
        created: "2026-11-27T16:00:00Z".into(),
        tool_version: "0.1.0".into(),
    }
}

fn image() -> ImageSubject {
    ImageSubject {
        name: "127.0.0.1:5000/fixtures/mixed:1".into(),
        digest: Some(format!("sha256:{}", "ab".repeat(32))),
    }
}

/// An image with apk, dpkg and language packages, from the shared fixtures.
fn mixed_catalog() -> Option<Catalog> {
    let apk = sealwatch_test::require_shared("fixtures/pkgdb/apk/installed-3.20.3")?;
    let status = sealwatch_test::require_shared("fixtures/pkgdb/dpkg/status")?;
    let mut tree = MemoryTree::new();
    tree.insert_with(
        "lib/apk/db/installed",
        std::fs::read(apk).ok()?,
        0o644,
        Some("sha256:one"),
    );
    tree.insert_with(
        "var/lib/dpkg/status",
        std::fs::read(status).ok()?,
        0o644,
        Some("sha256:two"),
    );
    tree.insert(
        "etc/os-release",
        "ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    );
    tree.insert(
        "app/node_modules/a/package.json",
        r#"{"name":"a","version":"1.0.0","license":"MIT","dependencies":{"b":"^2"}}"#,
    );
    tree.insert(
        "app/node_modules/b/package.json",
        r#"{"name":"b","version":"2.0.0","license":"Apache 2.0"}"#,
    );
    tree.insert(
        "app/other/node_modules/b/package.json",
        r#"{"name":"b","version":"2.0.0"}"#,
    );
    let result = catalog(&tree);
    assert!(result.diagnostics.is_empty(), "{:?}", result.diagnostics);
    Some(result)
}

/// Validates documents against the CycloneDX 1.6 schema; per document, its schema errors.
fn cyclonedx_errors(docs: &[&Value]) -> Option<Vec<Vec<String>>> {
    let dir = sealwatch_test::require_shared("conformance/schemas")?;
    let load = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).expect("schema file"))
            .expect("schema JSON")
    };
    // The BOM schema's $refs name its siblings relative to its $id.
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            load("spdx.SNAPSHOT.schema.json"),
        )
        .and_then(|r| {
            r.add(
                "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
                load("jsf-0.82.SNAPSHOT.schema.json"),
            )
        })
        .and_then(|r| r.prepare())
        .expect("registry");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_registry(&registry)
        .build(&load("bom-1.6.SNAPSHOT.schema.json"))
        .expect("CycloneDX schema compiles");
    Some(
        docs.iter()
            .map(|doc| {
                validator
                    .iter_errors(doc)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect()
            })
            .collect(),
    )
}

#[test]
fn cyclonedx_validates_and_lists_every_package() {
    let Some(catalog) = mixed_catalog() else {
        return;
    };
    let doc = cyclonedx::document(&catalog, &image(), &options());
    let Some(errors) = cyclonedx_errors(&[&doc]) else {
        return;
    };
    assert_eq!(errors, vec![Vec::<String>::new()]);

    // Deterministic: the same input gives byte-identical output.
    let again = cyclonedx::document(&catalog, &image(), &options());
    assert_eq!(
        serde_json::to_string(&doc).ok(),
        serde_json::to_string(&again).ok()
    );

    let components = doc["components"].as_array().expect("components");
    // One operating-system component plus one per package.
    assert_eq!(components.len(), catalog.packages.len() + 1);
    let purls: BTreeSet<&str> = components
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    for pkg in &catalog.packages {
        assert!(purls.contains(pkg.purl.as_str()), "{}", pkg.purl);
    }
    let refs: Vec<&str> = components
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    assert_eq!(
        refs.len(),
        refs.iter().collect::<BTreeSet<_>>().len(),
        "bom-refs are unique"
    );

    // Every dependency target is a component or the root; musl is a dependency of busybox via so:.
    let root = doc["metadata"]["component"]["bom-ref"]
        .as_str()
        .expect("root ref");
    let known: BTreeSet<&str> = refs.iter().copied().chain([root]).collect();
    let deps = doc["dependencies"].as_array().expect("dependencies");
    for entry in deps {
        assert!(known.contains(entry["ref"].as_str().expect("ref")));
        for target in entry["dependsOn"].as_array().expect("dependsOn") {
            assert!(known.contains(target.as_str().expect("str")), "{target}");
        }
    }
    let depends_of = |purl_prefix: &str| -> Vec<&str> {
        deps.iter()
            .find(|d| {
                d["ref"]
                    .as_str()
                    .is_some_and(|r| r.starts_with(purl_prefix))
            })
            .map(|d| {
                d["dependsOn"]
                    .as_array()
                    .expect("array")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(depends_of("pkg:apk/alpine/busybox@")
        .iter()
        .any(|r| r.starts_with("pkg:apk/alpine/musl@")));
    assert!(depends_of("pkg:npm/a@1.0.0")
        .iter()
        .any(|r| r.starts_with("pkg:npm/b@2.0.0")));
}

#[test]
fn cyclonedx_schema_rejects_a_broken_document() {
    let Some(catalog) = mixed_catalog() else {
        return;
    };
    // The validator is live: a BOM with a bad serial number and a component without a name fails.
    let mut bad_serial = cyclonedx::document(&catalog, &image(), &options());
    bad_serial["serialNumber"] = Value::from("not-a-urn");
    let mut no_name = cyclonedx::document(&catalog, &image(), &options());
    if let Some(first) = no_name["components"]
        .get_mut(1)
        .and_then(Value::as_object_mut)
    {
        first.remove("name");
    }
    let Some(errors) = cyclonedx_errors(&[&bad_serial, &no_name]) else {
        return;
    };
    assert!(errors.iter().all(|e| !e.is_empty()), "{errors:?}");
}

#[test]
fn spdx_document_is_complete_and_consistent() {
    let Some(catalog) = mixed_catalog() else {
        return;
    };
    let doc = spdx::document(&catalog, &image(), &options());
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert!(doc["documentNamespace"]
        .as_str()
        .expect("ns")
        .ends_with(&options().uuid));
    let packages = doc["packages"].as_array().expect("packages");
    // image + OS + every package
    assert_eq!(packages.len(), catalog.packages.len() + 2);
    let ids: Vec<&str> = packages
        .iter()
        .map(|p| p["SPDXID"].as_str().expect("id"))
        .collect();
    let id_set: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), id_set.len(), "SPDXIDs are unique");
    for (id, p) in ids.iter().zip(packages) {
        assert!(
            id.starts_with("SPDXRef-")
                && id[8..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        );
        for field in [
            "name",
            "downloadLocation",
            "licenseConcluded",
            "licenseDeclared",
            "copyrightText",
        ] {
            assert!(p[field].is_string(), "{id} lacks {field}");
        }
    }
    // Every package's PURL is recorded; every relationship names known elements.
    let purls: BTreeSet<&str> = packages
        .iter()
        .filter_map(|p| p["externalRefs"].as_array())
        .flatten()
        .filter_map(|r| r["referenceLocator"].as_str())
        .collect();
    for pkg in &catalog.packages {
        assert!(purls.contains(pkg.purl.as_str()), "{}", pkg.purl);
    }
    let rels = doc["relationships"].as_array().expect("relationships");
    let describes: Vec<&Value> = rels
        .iter()
        .filter(|r| r["relationshipType"] == "DESCRIBES")
        .collect();
    assert_eq!(describes.len(), 1);
    for r in rels {
        for end in ["spdxElementId", "relatedSpdxElement"] {
            let id = r[end].as_str().expect("id");
            assert!(id == "SPDXRef-DOCUMENT" || id_set.contains(id), "{id}");
        }
    }
    // Each package is contained exactly once.
    let contained: Vec<&str> = rels
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .filter_map(|r| r["relatedSpdxElement"].as_str())
        .collect();
    assert_eq!(contained.len(), catalog.packages.len() + 1);
    assert!(rels.iter().any(|r| r["relationshipType"] == "DEPENDS_ON"));
    // Declared licenses are SPDX expressions or NOASSERTION.
    for p in packages {
        let declared = p["licenseDeclared"].as_str().expect("license");
        assert!(
            declared == "NOASSERTION" || spdx_expression_ok(declared),
            "{declared}"
        );
    }
}

/// A light check that a license string looks like an SPDX expression (ids, operators, parentheses).
fn spdx_expression_ok(text: &str) -> bool {
    text.split_whitespace().all(|t| {
        let t = t.trim_matches(|c| c == '(' || c == ')');
        matches!(t, "AND" | "OR" | "WITH")
            || t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
    })
}

//! OpenVEX statements that suppress findings: "this image / package is `not_affected` by (or has `fixed`)
//! this vulnerability".
//!
//! Reads OpenVEX v0.2 (`vulnerability` and `products` as objects with `@id`/`name`) and the older v0.0.x
//! shape (plain strings). A statement applies to a finding when the vulnerability matches the finding's id
//! or one of its aliases, and a product matches the package's PURL (qualifiers ignored, as the package
//! version must still agree) or the image itself — then, if the product lists `subcomponents`, one of those
//! must match the package. When several statements apply, the last one in the document wins (OpenVEX
//! statements are a history). Only `not_affected` and `fixed` suppress; `affected` and
//! `under_investigation` keep the finding.

use serde::Deserialize;
use serde_json::Value;

use crate::AdvisoryError;

/// A parsed OpenVEX document.
#[derive(Debug, Clone, Default)]
pub struct VexDocument {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    /// The vulnerability's name and aliases.
    vulnerability: Vec<String>,
    products: Vec<Product>,
    status: Status,
}

#[derive(Debug, Clone)]
struct Product {
    id: String,
    subcomponents: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(default)]
    statements: Vec<RawStatement>,
}

#[derive(Deserialize)]
struct RawStatement {
    vulnerability: Value,
    #[serde(default)]
    products: Vec<Value>,
    status: String,
}

impl VexDocument {
    /// Parse an OpenVEX JSON document. `origin` names it in errors.
    pub fn parse(origin: &str, bytes: &[u8]) -> Result<VexDocument, AdvisoryError> {
        let bad = |message: String| AdvisoryError::Vex {
            origin: origin.to_owned(),
            message,
        };
        let raw: RawDocument = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not an OpenVEX document: {e}")))?;
        let mut statements = Vec::with_capacity(raw.statements.len());
        for (i, s) in raw.statements.into_iter().enumerate() {
            let status = match s.status.as_str() {
                "not_affected" => Status::NotAffected,
                "affected" => Status::Affected,
                "fixed" => Status::Fixed,
                "under_investigation" => Status::UnderInvestigation,
                other => return Err(bad(format!("statements[{i}]: unknown status {other:?}"))),
            };
            let vulnerability = match &s.vulnerability {
                Value::String(name) => vec![name.clone()],
                Value::Object(map) => {
                    let mut names: Vec<String> = ["name", "@id"]
                        .iter()
                        .filter_map(|k| map.get(*k).and_then(Value::as_str).map(str::to_owned))
                        .collect();
                    if let Some(aliases) = map.get("aliases").and_then(Value::as_array) {
                        names.extend(aliases.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    names
                }
                _ => Vec::new(),
            };
            if vulnerability.is_empty() {
                return Err(bad(format!("statements[{i}]: no vulnerability name")));
            }
            let products = s
                .products
                .iter()
                .filter_map(|p| match p {
                    Value::String(id) => Some(Product {
                        id: id.clone(),
                        subcomponents: Vec::new(),
                    }),
                    Value::Object(map) => {
                        let id = map.get("@id").and_then(Value::as_str)?.to_owned();
                        let subcomponents = map
                            .get("subcomponents")
                            .and_then(Value::as_array)
                            .map(|subs| {
                                subs.iter()
                                    .filter_map(|s| match s {
                                        Value::String(id) => Some(id.clone()),
                                        Value::Object(m) => {
                                            m.get("@id").and_then(Value::as_str).map(str::to_owned)
                                        }
                                        _ => None,
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        Some(Product { id, subcomponents })
                    }
                    _ => None,
                })
                .collect();
            statements.push(Statement {
                vulnerability,
                products,
                status,
            });
        }
        Ok(VexDocument { statements })
    }

    /// Whether the document says this finding does not apply: `ids` are the finding's id and aliases,
    /// `package_purl` the package's PURL, `image_ids` the names the image goes by (reference, digest,
    /// `pkg:oci/…` PURL).
    pub fn suppresses(&self, ids: &[&str], package_purl: &str, image_ids: &[&str]) -> bool {
        let package = strip_qualifiers(package_purl);
        let applies = |st: &&Statement| -> bool {
            st.vulnerability.iter().any(|v| ids.contains(&v.as_str()))
                && st.products.iter().any(|p| {
                    let product = strip_qualifiers(&p.id);
                    if product == package {
                        return true;
                    }
                    let is_image = image_ids
                        .iter()
                        .any(|i| *i == p.id || strip_qualifiers(i) == product);
                    is_image
                        && (p.subcomponents.is_empty()
                            || p.subcomponents
                                .iter()
                                .any(|s| strip_qualifiers(s) == package))
                })
        };
        self.statements
            .iter()
            .rev()
            .find(applies)
            .is_some_and(|st| matches!(st.status, Status::NotAffected | Status::Fixed))
    }
}

/// A PURL without `?qualifiers` and `#subpath`.
fn strip_qualifiers(purl: &str) -> &str {
    let end = purl.find(['?', '#']).unwrap_or(purl.len());
    &purl[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUSL: &str = "pkg:apk/alpine/musl@1.1.20-r4?arch=x86_64&distro=alpine-3.9.4";
    const UTILS: &str = "pkg:apk/alpine/musl-utils@1.1.20-r4?arch=x86_64&distro=alpine-3.9.4";
    const IMAGE: &str = "pkg:oci/alpine@sha256%3Aabc";

    fn doc(statements: &str) -> VexDocument {
        let json = format!(
            r#"{{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{statements}]}}"#
        );
        VexDocument::parse("test.vex.json", json.as_bytes()).expect("valid document")
    }

    #[test]
    fn package_statement_suppresses_only_that_package() {
        let d = doc(
            r#"{"vulnerability":{"name":"CVE-2019-14697"},"products":[{"@id":"pkg:apk/alpine/musl@1.1.20-r4"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}"#,
        );
        assert!(d.suppresses(&["CVE-2019-14697"], MUSL, &[IMAGE]));
        assert!(
            !d.suppresses(&["CVE-2019-14697"], UTILS, &[IMAGE]),
            "another package"
        );
        assert!(
            !d.suppresses(&["CVE-2019-1547"], MUSL, &[IMAGE]),
            "another vulnerability"
        );
        assert!(
            !d.suppresses(
                &["CVE-2019-14697"],
                "pkg:apk/alpine/musl@1.1.20-r5",
                &[IMAGE]
            ),
            "another version"
        );
    }

    #[test]
    fn image_statement_with_and_without_subcomponents() {
        let all = doc(&format!(
            r#"{{"vulnerability":"CVE-1","products":["{IMAGE}"],"status":"fixed"}}"#
        ));
        assert!(all.suppresses(&["CVE-1"], MUSL, &[IMAGE]));
        assert!(all.suppresses(&["CVE-1"], UTILS, &[IMAGE]));
        assert!(!all.suppresses(&["CVE-1"], MUSL, &["pkg:oci/other@sha256%3Adef"]));
        let sub = doc(&format!(
            r#"{{"vulnerability":{{"name":"CVE-1"}},"products":[{{"@id":"{IMAGE}","subcomponents":[{{"@id":"pkg:apk/alpine/musl-utils@1.1.20-r4"}}]}}],"status":"not_affected","justification":"component_not_present"}}"#
        ));
        assert!(sub.suppresses(&["CVE-1"], UTILS, &[IMAGE]));
        assert!(!sub.suppresses(&["CVE-1"], MUSL, &[IMAGE]));
    }

    #[test]
    fn aliases_and_later_statements() {
        let d = doc(
            r#"{"vulnerability":{"name":"GHSA-x","aliases":["CVE-9"]},"products":["pkg:apk/alpine/musl@1.1.20-r4"],"status":"not_affected","justification":"inline_mitigations_already_exist"},
                      {"vulnerability":"CVE-9","products":["pkg:apk/alpine/musl@1.1.20-r4"],"status":"affected"}"#,
        );
        // The later `affected` statement wins over the earlier `not_affected`.
        assert!(!d.suppresses(&["CVE-9"], MUSL, &[]));
        let d = doc(
            r#"{"vulnerability":{"name":"GHSA-x","aliases":["CVE-9"]},"products":["pkg:apk/alpine/musl@1.1.20-r4"],"status":"not_affected","justification":"inline_mitigations_already_exist"}"#,
        );
        assert!(d.suppresses(&["CVE-9", "ALPINE-9"], MUSL, &[]));
        let d = doc(
            r#"{"vulnerability":"CVE-9","products":["pkg:apk/alpine/musl@1.1.20-r4"],"status":"under_investigation"}"#,
        );
        assert!(!d.suppresses(&["CVE-9"], MUSL, &[]));
    }

    #[test]
    fn bad_documents_are_errors_naming_the_file() {
        for bad in [
            &b"not json"[..],
            br#"{"statements":[{"vulnerability":"CVE-1","products":[],"status":"maybe"}]}"#,
        ] {
            let err = VexDocument::parse("team.vex.json", bad).expect_err("rejected");
            assert!(err.to_string().contains("team.vex.json"), "{err}");
        }
    }
}

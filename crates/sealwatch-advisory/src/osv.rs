//! The OSV record model (ossf/osv-schema 1.7): serde types that accept unknown fields (the
//! schema grows) and reject records without the required `id` and `modified`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use sealwatch_version::{Event, Range, RangeKind};

use crate::AdvisoryError;

/// One OSV vulnerability record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    pub id: String,
    /// RFC 3339 time of the last change (kept as text: it is compared, never computed with).
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was withdrawn; such records match nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

impl Vulnerability {
    /// Parse one OSV JSON record.
    pub fn from_json(bytes: &[u8]) -> Result<Vulnerability, AdvisoryError> {
        serde_json::from_slice(bytes).map_err(|source| AdvisoryError::OsvJson {
            // Name the record in the error when at least its id is readable.
            id: serde_json::from_slice::<IdOnly>(bytes).ok().map(|r| r.id),
            source,
        })
    }

    /// Whether the record was withdrawn and must not be matched.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// `severity[]` entry: `score` is a CVSS vector string (or a label for type `Ubuntu`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: SeverityType,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeverityType {
    #[serde(rename = "CVSS_V2")]
    CvssV2,
    #[serde(rename = "CVSS_V3")]
    CvssV3,
    #[serde(rename = "CVSS_V4")]
    CvssV4,
    Ubuntu,
    /// A type newer than this code.
    #[serde(other)]
    Other,
}

/// One `affected[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// OSV ecosystem, possibly with a release suffix (`Alpine:v3.20`).
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// `references[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_record_with_unknown_fields() {
        let json = r#"{
            "schema_version": "1.7.4", "id": "GHSA-abcd-efgh-ijkl", "modified": "2024-05-01T00:00:00Z",
            "published": "2024-04-01T00:00:00Z", "aliases": ["CVE-2024-0001"],
            "summary": "Bad thing", "details": "Long text",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}],
                            "database_specific": {"source": "x"}}],
                "versions": ["2.30.0"],
                "ecosystem_specific": {"affected_functions": ["f"]},
                "some_future_field": 1
            }],
            "references": [{"type": "ADVISORY", "url": "https://example.invalid/a"}],
            "credits": [{"name": "someone"}],
            "future_top_level": {"x": 1}
        }"#;
        let v = Vulnerability::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.id, "GHSA-abcd-efgh-ijkl");
        assert_eq!(v.aliases, ["CVE-2024-0001"]);
        assert!(!v.is_withdrawn());
        let a = &v.affected[0];
        assert_eq!(
            a.package.as_ref().map(|p| p.name.as_str()),
            Some("requests")
        );
        assert_eq!(
            a.ranges[0].events,
            [Event::Introduced("0".into()), Event::Fixed("2.31.0".into())]
        );
        assert_eq!(a.versions, ["2.30.0"]);
        assert_eq!(v.references[0].url, "https://example.invalid/a");
    }

    #[test]
    fn required_fields_and_withdrawn() {
        let missing_modified = br#"{"id": "OSV-1"}"#;
        match Vulnerability::from_json(missing_modified) {
            Err(AdvisoryError::OsvJson { id, .. }) => assert_eq!(id.as_deref(), Some("OSV-1")),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(Vulnerability::from_json(br#"{"modified": "x"}"#).is_err());
        assert!(Vulnerability::from_json(b"not json").is_err());
        // An event with two keys is invalid per the schema.
        let two_keys =
            br#"{"id":"A","modified":"m","affected":[{"package":{"ecosystem":"npm","name":"x"},
            "ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}"#;
        assert!(Vulnerability::from_json(two_keys).is_err());
        let withdrawn = Vulnerability::from_json(
            br#"{"id":"A","modified":"m","withdrawn":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(withdrawn.is_withdrawn());
    }
}

//! Predicates: cosign's `--type` names, and cosign's vulnerability-scan predicate
//! (sigstore/cosign `pkg/cosign/attestation`, `CosignVulnPredicate`):
//!
//! ```json
//! {"invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
//!  "scanner": {"uri": "…", "version": "…", "db": {"uri": "", "version": ""}, "result": {…}},
//!  "metadata": {"scanStartedOn": "<RFC 3339>", "scanFinishedOn": "<RFC 3339>"}}
//! ```

use sealwatch_trust::dsse::predicate_type;
use serde_json::{json, Value};

/// The predicate type URI for a `--type` argument: one of cosign's short names (`vuln`,
/// `cyclonedx`, `spdxjson`, `slsaprovenance`, …) or a URI given as is. `None` for anything else.
pub fn predicate_type_for(name: &str) -> Option<String> {
    if let Some(uri) = predicate_type::from_cosign_name(name) {
        return Some(uri.to_owned());
    }
    // cosign accepts any URI; require a scheme so that a typo of a short name is not taken as one.
    let (scheme, rest) = name.split_once("://").or_else(|| name.split_once(':'))?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (scheme_ok && !rest.is_empty() && !name.contains(char::is_whitespace)).then(|| name.to_owned())
}

/// Who produced a scan result, for the `scanner` part of the vuln predicate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScannerInfo {
    /// e.g. `pkg:cargo/sealwatch@0.1.0`.
    pub uri: String,
    /// Scanner version.
    pub version: String,
    /// Where the vulnerability database came from.
    pub db_uri: String,
    /// Version of the vulnerability database.
    pub db_version: String,
}

/// A cosign vuln predicate around a scan result. A document that already has the predicate's
/// shape (`scanner.result` and `metadata`) is returned unchanged, so a predicate written by cosign
/// or by hand is not wrapped twice.
pub fn vuln_predicate(
    result: Value,
    scanner: &ScannerInfo,
    scan_started_on: &str,
    scan_finished_on: &str,
) -> Value {
    let already_wrapped = result
        .get("scanner")
        .is_some_and(|s| s.get("result").is_some())
        && result.get("metadata").is_some();
    if already_wrapped {
        return result;
    }
    json!({
        "invocation": { "parameters": null, "uri": "", "event_id": "", "builder.id": "" },
        "scanner": {
            "uri": scanner.uri,
            "version": scanner.version,
            "db": { "uri": scanner.db_uri, "version": scanner.db_version },
            "result": result,
        },
        "metadata": { "scanStartedOn": scan_started_on, "scanFinishedOn": scan_finished_on },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        let check = |input: &str, expect: Option<&str>| {
            assert_eq!(predicate_type_for(input).as_deref(), expect, "{input}");
        };
        check(
            "vuln",
            Some("https://cosign.sigstore.dev/attestation/vuln/v1"),
        );
        check("cyclonedx", Some("https://cyclonedx.org/bom"));
        check("spdxjson", Some("https://spdx.dev/Document"));
        check("slsaprovenance", Some("https://slsa.dev/provenance/v0.2"));
        check("https://example.com/p/v1", Some("https://example.com/p/v1"));
        check("urn:example:x", Some("urn:example:x"));
        check("vulm", None);
        check("", None);
        check("://x", None);
        check("https://a b", None);
    }

    #[test]
    fn vuln_wraps_once() {
        let scanner = ScannerInfo {
            uri: "pkg:cargo/sealwatch@1".into(),
            version: "1".into(),
            ..ScannerInfo::default()
        };
        let scan = json!({"SchemaVersion": 2, "Results": []});
        let wrapped = vuln_predicate(scan.clone(), &scanner, "t0", "t1");
        assert_eq!(wrapped["scanner"]["result"], scan);
        assert_eq!(wrapped["scanner"]["uri"], "pkg:cargo/sealwatch@1");
        assert_eq!(wrapped["scanner"]["db"]["uri"], "");
        assert_eq!(wrapped["metadata"]["scanStartedOn"], "t0");
        assert_eq!(wrapped["metadata"]["scanFinishedOn"], "t1");
        assert_eq!(wrapped["invocation"]["parameters"], Value::Null);
        assert!(wrapped["invocation"].get("builder.id").is_some());
        // Wrapping the result again changes nothing.
        assert_eq!(vuln_predicate(wrapped.clone(), &scanner, "x", "y"), wrapped);
    }
}

//! Severity: CVSS v3.0/3.1/v4.0 vectors scored with RustSec's `cvss` crate, bucketed into
//! UNKNOWN / LOW / MEDIUM / HIGH / CRITICAL, with the vendor's own rating preferred when the
//! advisory carries one (as Trivy does: a distribution's "low" beats NVD's "high").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::osv::{Affected, SeverityScore, SeverityType, Vulnerability};
use crate::AdvisoryError;

/// A severity level, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The CVSS v3/v4 qualitative rating of a score (0.0 has no rating, so UNKNOWN).
    pub fn from_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Unknown
        }
    }

    /// A vendor's label: GHSA (`MODERATE`), Red Hat (`Important`), Debian/Ubuntu urgencies
    /// (`negligible`, `unimportant`), CVSS names. Unrecognised labels give `None`.
    pub fn from_label(label: &str) -> Option<Severity> {
        Some(match label.trim().to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" | "unimportant" => Severity::Low,
            "unknown" | "none" | "not yet assigned" => Severity::Unknown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_label(s).ok_or_else(|| format!("unknown severity `{s}`"))
    }
}

/// A scored CVSS vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvssScore {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: &'static str,
    pub score: f64,
    pub severity: Severity,
}

/// Parse and score a CVSS vector (`CVSS:3.1/AV:N/...`, `CVSS:4.0/...`, or a v2 vector).
pub fn score_vector(vector: &str) -> Result<CvssScore, AdvisoryError> {
    let parsed = cvss::Cvss::from_str(vector.trim()).map_err(|source| AdvisoryError::Cvss {
        vector: vector.to_owned(),
        source,
    })?;
    let version = match &parsed {
        cvss::Cvss::CvssV20(_) => "2.0",
        cvss::Cvss::CvssV30(_) => "3.0",
        cvss::Cvss::CvssV31(_) => "3.1",
        cvss::Cvss::CvssV40(_) => "4.0",
        _ => "unknown",
    };
    let score = parsed.score();
    // v2 has its own bands (no CRITICAL): 0-3.9 LOW, 4-6.9 MEDIUM, 7-10 HIGH.
    let severity = if version == "2.0" {
        Severity::from_score(score).min(Severity::High)
    } else {
        Severity::from_score(score)
    };
    Ok(CvssScore {
        version,
        score,
        severity,
    })
}

/// The best CVSS score among `scores`: the newest CVSS version present wins (v4, then v3,
/// then v2); vectors that do not parse are skipped.
pub fn best_cvss(scores: &[SeverityScore]) -> Option<CvssScore> {
    let rank = |k: &SeverityType| match k {
        SeverityType::CvssV4 => 3,
        SeverityType::CvssV3 => 2,
        SeverityType::CvssV2 => 1,
        _ => 0,
    };
    let mut best: Option<(u8, CvssScore)> = None;
    for s in scores.iter().filter(|s| rank(&s.kind) > 0) {
        if let Ok(scored) = score_vector(&s.score) {
            let r = rank(&s.kind);
            if best
                .as_ref()
                .is_none_or(|(br, b)| r > *br || (r == *br && scored.score > b.score))
            {
                best = Some((r, scored));
            }
        }
    }
    best.map(|(_, s)| s)
}

fn label_in(value: Option<&Value>) -> Option<Severity> {
    let v = value?.get("severity")?;
    match v {
        Value::String(s) => Severity::from_label(s),
        _ => None,
    }
}

/// The severity sealwatch reports for `vuln` as it affects `affected`:
/// 1. the vendor's label: `affected[].ecosystem_specific.severity`, then
///    `affected[].database_specific.severity`, then the record's `database_specific.severity`,
///    then a `severity[]` entry of type `Ubuntu`;
/// 2. else the CVSS rating of `affected[].severity`, else of the record's `severity`;
/// 3. else UNKNOWN.
pub fn severity_of(vuln: &Vulnerability, affected: Option<&Affected>) -> Severity {
    let vendor = affected
        .and_then(|a| {
            label_in(a.ecosystem_specific.as_ref())
                .or_else(|| label_in(a.database_specific.as_ref()))
        })
        .or_else(|| label_in(vuln.database_specific.as_ref()))
        .or_else(|| {
            affected
                .map(|a| a.severity.as_slice())
                .unwrap_or_default()
                .iter()
                .chain(&vuln.severity)
                .find(|s| s.kind == SeverityType::Ubuntu)
                .and_then(|s| Severity::from_label(&s.score))
        });
    if let Some(s) = vendor {
        return s;
    }
    affected
        .and_then(|a| best_cvss(&a.severity))
        .or_else(|| best_cvss(&vuln.severity))
        .map_or(Severity::Unknown, |s| s.severity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Vulnerability;

    #[test]
    fn vectors_score_and_bucket() {
        // (vector, version, score, severity): scores from the FIRST calculators' reference
        // examples.
        let check = |vector: &str, version: &str, score: f64, severity: Severity| {
            let s = score_vector(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert_eq!((s.version, s.severity), (version, severity), "{vector}");
            assert!(
                (s.score - score).abs() < 1e-9,
                "{vector}: {} != {score}",
                s.score
            );
        };
        check(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "3.1",
            9.8,
            Severity::Critical,
        );
        check(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
            "3.1",
            7.5,
            Severity::High,
        );
        check(
            "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
            "3.0",
            5.9,
            Severity::Medium,
        );
        check(
            "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
            "3.1",
            3.3,
            Severity::Low,
        );
        check(
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
            "3.1",
            0.0,
            Severity::Unknown,
        );
        check(
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "4.0",
            9.3,
            Severity::Critical,
        );
        // Temporal metrics (as some vendors publish) still give the base score's rating.
        let temporal = score_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C");
        assert_eq!(temporal.map(|s| s.severity).ok(), Some(Severity::Critical));
        assert!(score_vector("CVSS:3.1/AV:X").is_err());
        assert!(score_vector("not a vector").is_err());
    }

    #[test]
    fn score_bands() {
        for (score, expect) in [
            (0.0, Severity::Unknown),
            (0.1, Severity::Low),
            (3.9, Severity::Low),
            (4.0, Severity::Medium),
            (6.9, Severity::Medium),
            (7.0, Severity::High),
            (8.9, Severity::High),
            (9.0, Severity::Critical),
            (10.0, Severity::Critical),
        ] {
            assert_eq!(Severity::from_score(score), expect, "{score}");
        }
    }

    fn record(json: &str) -> Vulnerability {
        Vulnerability::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn vendor_severity_beats_cvss() {
        let critical_cvss =
            r#"{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}"#;
        let check = |json: String, expect: Severity| {
            let v = record(&json);
            assert_eq!(severity_of(&v, v.affected.first()), expect, "{json}");
        };
        // GHSA's database_specific.severity.
        check(
            format!(
                r#"{{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","severity":[{critical_cvss}],"database_specific":{{"severity":"MODERATE"}}}}"#
            ),
            Severity::Medium,
        );
        // A distribution's per-package rating.
        check(
            format!(
                r#"{{"id":"X-1","modified":"m","severity":[{critical_cvss}],"affected":[{{"package":{{"ecosystem":"Debian:12","name":"a"}},"ecosystem_specific":{{"severity":"low"}}}}]}}"#
            ),
            Severity::Low,
        );
        // Ubuntu's severity type carries a label.
        check(
            r#"{"id":"UBUNTU-1","modified":"m","severity":[{"type":"Ubuntu","score":"high"}]}"#
                .into(),
            Severity::High,
        );
        // No vendor rating: the CVSS bucket; v4 preferred over v3.
        check(
            format!(r#"{{"id":"CVE-1","modified":"m","severity":[{critical_cvss}]}}"#),
            Severity::Critical,
        );
        check(
            format!(
                r#"{{"id":"CVE-2","modified":"m","severity":[{critical_cvss},{{"type":"CVSS_V4","score":"CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}}]}}"#
            ),
            Severity::Low,
        );
        // Unparsable vectors and nothing else: UNKNOWN.
        check(
            r#"{"id":"CVE-3","modified":"m","severity":[{"type":"CVSS_V3","score":"garbage"}]}"#
                .into(),
            Severity::Unknown,
        );
    }
}

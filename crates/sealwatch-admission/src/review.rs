//! AdmissionReview v1: decoding requests and encoding responses (the Kubernetes JSON contract).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use sealwatch_policy::Decision;

use crate::Error;

/// `apiVersion` of the only AdmissionReview version sealwatch speaks.
pub const ADMISSION_API_VERSION: &str = "admission.k8s.io/v1";
/// `kind` of an AdmissionReview.
pub const ADMISSION_KIND: &str = "AdmissionReview";
/// Kubernetes asks webhooks to keep warnings this short.
pub const WARNING_LIMIT: usize = 120;

/// Which webhook path a review arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `/mutate`: may return a JSON patch (digest pinning, verify-images annotation).
    Mutate,
    /// `/validate`: never returns a patch; the API server rejects one from a validating webhook.
    Validate,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Mutate => "mutate",
            Phase::Validate => "validate",
        }
    }
}

/// A decoded AdmissionReview request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRequest {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.dryRun`: the request must have no side effects (sealwatch has none to skip,
    /// but logs it).
    pub dry_run: bool,
    /// The whole `request` object.
    pub request: Value,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidReview {
        reason: reason.into(),
    }
}

/// Decodes an AdmissionReview v1 body. Anything else (malformed JSON, another kind or version,
/// no `request`, no `uid`) is [`Error::InvalidReview`] with the reason.
pub fn decode_review(body: &[u8]) -> Result<ReviewRequest, Error> {
    let mut document: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(object) = document.as_object_mut() else {
        return Err(invalid("body is not a JSON object"));
    };
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != ADMISSION_KIND || api_version != ADMISSION_API_VERSION {
        return Err(invalid(format!(
            "expected apiVersion {ADMISSION_API_VERSION} kind {ADMISSION_KIND}, got apiVersion {api_version:?} kind {kind:?}"
        )));
    }
    let request = match object.remove("request") {
        Some(request @ Value::Object(_)) => request,
        Some(_) | None => return Err(invalid("missing request object")),
    };
    let uid = match request.get("uid").and_then(Value::as_str) {
        Some(uid) if !uid.is_empty() => uid.to_owned(),
        _ => return Err(invalid("missing request.uid")),
    };
    let dry_run = request
        .get("dryRun")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ReviewRequest {
        uid,
        dry_run,
        request,
    })
}

/// Shortens a warning to [`WARNING_LIMIT`] characters, on a character boundary.
pub fn short_warning(warning: &str) -> String {
    if warning.chars().count() <= WARNING_LIMIT {
        return warning.to_owned();
    }
    let mut short: String = warning.chars().take(WARNING_LIMIT - 3).collect();
    short.push_str("...");
    short
}

fn envelope(response: Map<String, Value>) -> Value {
    json!({
        "apiVersion": ADMISSION_API_VERSION,
        "kind": ADMISSION_KIND,
        "response": Value::Object(response),
    })
}

/// A response that denies with an explicit HTTP-style `code` (403 for policy denials, 400 for
/// requests sealwatch cannot evaluate), so that the API server's message is deterministic.
pub fn deny_response(uid: &str, code: u16, message: &str, warnings: &[String]) -> Value {
    let reason = match code {
        400 => "BadRequest",
        403 => "Forbidden",
        _ => "InternalError",
    };
    let mut response = Map::new();
    response.insert("uid".into(), Value::String(uid.to_owned()));
    response.insert("allowed".into(), Value::Bool(false));
    response.insert(
        "status".into(),
        json!({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}),
    );
    if !warnings.is_empty() {
        response.insert("warnings".into(), json!(warnings));
    }
    envelope(response)
}

/// The response for a [`Decision`]: a deny with code 403, or an allow with the warnings and,
/// on the mutating path only, `patchType: JSONPatch` with the base64 patch.
pub fn decision_response(uid: &str, phase: Phase, decision: &Decision) -> Value {
    let warnings: Vec<String> = decision.warnings.iter().map(|w| short_warning(w)).collect();
    if !decision.allowed {
        return deny_response(uid, 403, decision.message.trim(), &warnings);
    }
    let mut response = Map::new();
    response.insert("uid".into(), Value::String(uid.to_owned()));
    response.insert("allowed".into(), Value::Bool(true));
    if phase == Phase::Mutate {
        if let Some(patch) = decision.patch_json() {
            let bytes = patch.to_string();
            response.insert("patchType".into(), Value::String("JSONPatch".into()));
            response.insert(
                "patch".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
    }
    if !warnings.is_empty() {
        response.insert("warnings".into(), json!(warnings));
    }
    envelope(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_decode(body: &str, expect: Result<(&str, bool), &str>) {
        let got = decode_review(body.as_bytes());
        match (got, expect) {
            (Ok(review), Ok((uid, dry_run))) => {
                assert_eq!(
                    (review.uid.as_str(), review.dry_run),
                    (uid, dry_run),
                    "{body}"
                )
            }
            (Err(error), Err(fragment)) => {
                assert!(error.to_string().contains(fragment), "{body}: {error}")
            }
            (got, expect) => panic!("{body}: got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn decodes_reviews_and_rejects_everything_else() {
        let ok = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","dryRun":true}}"#;
        check_decode(ok, Ok(("u1", true)));
        check_decode(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2"}}"#,
            Ok(("u2", false)),
        );
        check_decode("{", Err("malformed JSON"));
        check_decode("[]", Err("not a JSON object"));
        check_decode(
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}"#,
            Err("admission.k8s.io/v1beta1"),
        );
        check_decode(r#"{"apiVersion":"v1","kind":"Pod"}"#, Err("kind \"Pod\""));
        check_decode(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
            Err("missing request object"),
        );
        check_decode(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}"#,
            Err("missing request.uid"),
        );
    }

    #[test]
    fn warnings_are_cut_to_the_kubernetes_limit() {
        let check = |text: &str, expect_len: usize, expect_suffix: bool| {
            let short = short_warning(text);
            assert_eq!(short.chars().count(), expect_len, "{text}");
            assert_eq!(
                short.ends_with("...") && text.chars().count() > WARNING_LIMIT,
                expect_suffix
            );
        };
        check("short", 5, false);
        check(&"x".repeat(WARNING_LIMIT), WARNING_LIMIT, false);
        check(&"é".repeat(300), WARNING_LIMIT, true);
    }

    fn decision(allowed: bool, patch: bool) -> Decision {
        Decision {
            allowed,
            message: if allowed {
                String::new()
            } else {
                "\n\nblocked: reason\n".into()
            },
            results: Vec::new(),
            patch: if patch {
                vec![sealwatch_policy::PatchOperation {
                    op: "replace",
                    path: "/spec/containers/0/image".into(),
                    value: json!("a@sha256:00"),
                }]
            } else {
                Vec::new()
            },
            verify_images_annotation: None,
            warnings: vec!["w".repeat(200)],
        }
    }

    #[test]
    fn responses_follow_the_contract() {
        let mutate = decision_response("u", Phase::Mutate, &decision(true, true));
        assert_eq!(mutate["response"]["patchType"], "JSONPatch");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(mutate["response"]["patch"].as_str().unwrap_or_default())
            .unwrap_or_default();
        let patch: Value = serde_json::from_slice(&patch).unwrap_or(Value::Null);
        assert_eq!(patch[0]["path"], "/spec/containers/0/image");
        assert_eq!(
            mutate["response"]["warnings"][0]
                .as_str()
                .map(|w| w.chars().count()),
            Some(WARNING_LIMIT)
        );
        let validate = decision_response("u", Phase::Validate, &decision(true, true));
        assert!(validate["response"].get("patch").is_none());
        assert!(validate["response"].get("patchType").is_none());
        let deny = decision_response("u", Phase::Mutate, &decision(false, true));
        assert_eq!(deny["response"]["allowed"], false);
        assert_eq!(deny["response"]["status"]["code"], 403);
        assert_eq!(deny["response"]["status"]["message"], "blocked: reason");
        assert!(deny["response"].get("patch").is_none());
        assert_eq!(deny["apiVersion"], ADMISSION_API_VERSION);
        assert_eq!(deny["kind"], ADMISSION_KIND);
        assert_eq!(deny["response"]["uid"], "u");
    }
}

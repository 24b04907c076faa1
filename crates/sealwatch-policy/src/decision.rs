//! The admission decision, in two pure phases.
//!
//! 1. [`plan`] lists the verifications a request needs (one per policy, rule, `verifyImages`
//!    entry and distinct image).
//! 2. The caller performs them (registry, signatures, transparency log: other crates) and
//!    passes the outcomes to [`decide`], which returns allowed/denied, per-rule results, the
//!    JSON patch (digest pinning and the `kyverno.io/verify-images` annotation) and warnings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{json, Value};

use crate::conditions::{evaluate_blocks, ConditionOutcome};
use crate::extract::{escape_pointer_token, extract_images, ContainerImage};
use crate::image::{matches_any, ImageReference};
use crate::model::{FailureAction, FailurePolicy, ImageCheck, Operation, Policy, PolicySet, Rule};
use crate::request::{rule_applies, AdmissionRequestView};

/// The annotation that carries per-image results from the mutating to the validating phase.
pub const VERIFY_IMAGES_ANNOTATION: &str = "kyverno.io/verify-images";

/// Identifies one verification: `decide` looks outcomes up by this key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VerificationKey {
    /// `ns/name` for namespaced policies.
    pub policy: String,
    pub rule: String,
    /// Index of the `verifyImages` entry in the rule.
    pub check_index: usize,
    /// The normalised image reference.
    pub image: String,
}

/// A verification the caller must perform before calling [`decide`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerificationRequest<'p> {
    pub key: VerificationKey,
    pub image: ImageReference,
    /// What to verify: attestor sets, attestations, repository override, verifier type.
    pub check: &'p ImageCheck,
    /// Deadline for this verification (the policy's webhook timeout).
    pub timeout_seconds: u32,
}

/// The identity that produced a verified signature.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SignerIdentity {
    /// Keyless: certificate issuer and subject.
    pub issuer: Option<String>,
    pub subject: Option<String>,
    /// Keyed: a key fingerprint or name.
    pub key: Option<String>,
}

/// Result of one attestor set (the verifier applies the set's `count`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AttestorSetResult {
    Passed { signers: Vec<SignerIdentity> },
    Failed { message: String },
}

/// The verified in-toto statements for one `attestations` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttestationEvidence {
    /// The outcome of the entry's attestor sets (empty when the entry has none).
    pub attestor_sets: Vec<AttestorSetResult>,
    /// Predicates of the verified statements whose type is the entry's `type`.
    pub predicates: Vec<Value>,
}

/// What verification established about an image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifiedImage {
    /// The manifest digest the signatures cover (`sha256:…`).
    pub digest: String,
    /// One per attestor set of the check, in order.
    pub attestor_sets: Vec<AttestorSetResult>,
    /// One per `attestations` entry of the check, in order.
    pub attestations: Vec<AttestationEvidence>,
}

/// The outcome of one verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum VerificationOutcome {
    /// Verification ran to completion; attestor sets and attestations carry their results.
    Completed(VerifiedImage),
    /// The registry, transparency log or similar could not be reached or answered badly.
    Error { message: String },
    /// The verification deadline passed.
    Timeout,
}

/// Where [`decide`] finds verification outcomes.
pub trait VerificationResults {
    fn outcome(&self, key: &VerificationKey) -> Option<&VerificationOutcome>;
}

impl<S: std::hash::BuildHasher> VerificationResults
    for HashMap<VerificationKey, VerificationOutcome, S>
{
    fn outcome(&self, key: &VerificationKey) -> Option<&VerificationOutcome> {
        self.get(key)
    }
}

impl VerificationResults for BTreeMap<VerificationKey, VerificationOutcome> {
    fn outcome(&self, key: &VerificationKey) -> Option<&VerificationOutcome> {
        self.get(key)
    }
}

/// Status of one rule for one image (Kyverno's rule statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

/// One rule's result for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub policy: String,
    pub rule: String,
    /// The normalised image.
    pub image: String,
    pub status: RuleStatus,
    pub message: String,
    /// The action that applies to this rule.
    pub action: FailureAction,
    pub failure_policy: FailurePolicy,
    /// Verified signers, when the signature check passed.
    pub signers: Vec<SignerIdentity>,
}

/// One RFC 6902 operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOperation {
    pub op: &'static str,
    pub path: String,
    pub value: Value,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// Why the request was denied (Kyverno's block message); empty when allowed.
    pub message: String,
    pub results: Vec<RuleResult>,
    /// JSON patch to apply (empty when nothing changes).
    pub patch: Vec<PatchOperation>,
    /// The value of the `kyverno.io/verify-images` annotation (`{"<image>":"pass|fail|skip"}`),
    /// when any image got a verdict. Also part of `patch` when the request is allowed.
    pub verify_images_annotation: Option<String>,
    pub warnings: Vec<String>,
}

impl Decision {
    /// The patch as RFC 6902 JSON, or `None` when there is nothing to patch.
    pub fn patch_json(&self) -> Option<Value> {
        if self.patch.is_empty() {
            return None;
        }
        Some(Value::Array(
            self.patch
                .iter()
                .map(|op| json!({"op": op.op, "path": op.path, "value": op.value}))
                .collect(),
        ))
    }
}

/// Kyverno's action resolution for a verifyImages rule: Enforce if any entry enforces, else
/// the first explicit entry action, else the policy's.
pub fn rule_action(policy: &Policy, rule: &Rule) -> FailureAction {
    let actions: Vec<FailureAction> = rule
        .image_checks
        .iter()
        .filter_map(|check| check.failure_action)
        .collect();
    if actions.contains(&FailureAction::Enforce) {
        FailureAction::Enforce
    } else {
        actions.first().copied().unwrap_or(policy.failure_action)
    }
}

/// One container image of the request, parsed once.
struct ParsedImage {
    container: ContainerImage,
    image: Result<ImageReference, String>,
    /// The normalised reference patterns are matched against.
    normalized: String,
}

fn parse_images(request: &AdmissionRequestView<'_>) -> Vec<ParsedImage> {
    if request.operation == Operation::Delete {
        return Vec::new();
    }
    extract_images(request.object)
        .into_iter()
        .map(|container| {
            let image = ImageReference::parse(&container.image).map_err(|e| e.to_string());
            let normalized = match &image {
                Ok(reference) => reference.normalized(),
                Err(_) => container.image.clone(),
            };
            ParsedImage {
                container,
                image,
                normalized,
            }
        })
        .collect()
}

/// One image of the request matched against one check.
struct Applicable<'p, 'c> {
    policy: &'p Policy,
    rule: &'p Rule,
    check_index: usize,
    check: &'p ImageCheck,
    parsed: &'c ParsedImage,
}

fn applicable<'p, 'c>(
    set: &'p PolicySet,
    request: &AdmissionRequestView<'_>,
    images: &'c [ParsedImage],
) -> Vec<Applicable<'p, 'c>> {
    let mut out = Vec::new();
    if images.is_empty() {
        return out;
    }
    for policy in set.policies.iter().filter(|p| p.admission) {
        for rule in &policy.rules {
            if rule.image_checks.is_empty() || !rule_applies(policy, rule, request) {
                continue;
            }
            for (check_index, check) in rule.image_checks.iter().enumerate() {
                for parsed in images {
                    // An image that cannot be parsed applies to every check: it is an error,
                    // and errors fail closed under failurePolicy Fail.
                    if parsed.image.is_ok()
                        && !matches_any(&check.image_references, &parsed.normalized)
                    {
                        continue;
                    }
                    out.push(Applicable {
                        policy,
                        rule,
                        check_index,
                        check,
                        parsed,
                    });
                }
            }
        }
    }
    out
}

/// Signatures or attestations to check, or a digest to resolve for pinning. A digest-only
/// check on an image that already has a digest needs nothing from the registry.
fn needs_lookup(check: &ImageCheck, image: &ImageReference) -> bool {
    !check.attestor_sets.is_empty()
        || !check.attestations.is_empty()
        || (check.mutate_digest && image.digest.is_none())
}

fn is_skipped(check: &ImageCheck, image: &ImageReference) -> bool {
    matches_any(&check.skip_image_references, &image.normalized())
}

/// Phase 1: the verifications `request` needs, deduplicated.
pub fn plan<'p>(
    set: &'p PolicySet,
    request: &AdmissionRequestView<'_>,
) -> Vec<VerificationRequest<'p>> {
    let mut seen = BTreeSet::new();
    let mut requests = Vec::new();
    let images = parse_images(request);
    for item in applicable(set, request, &images) {
        let Ok(image) = &item.parsed.image else {
            continue;
        };
        if is_skipped(item.check, image) || !needs_lookup(item.check, image) {
            continue;
        }
        let key = VerificationKey {
            policy: item.policy.qualified_name(),
            rule: item.rule.name.clone(),
            check_index: item.check_index,
            image: item.parsed.normalized.clone(),
        };
        if seen.insert(key.clone()) {
            requests.push(VerificationRequest {
                key,
                image: image.clone(),
                check: item.check,
                timeout_seconds: item.policy.timeout_seconds,
            });
        }
    }
    requests
}

struct CheckOutcome {
    status: RuleStatus,
    message: String,
    digest: Option<String>,
    signers: Vec<SignerIdentity>,
}

fn fail(message: String) -> CheckOutcome {
    CheckOutcome {
        status: RuleStatus::Fail,
        message,
        digest: None,
        signers: Vec::new(),
    }
}

fn error(message: String) -> CheckOutcome {
    CheckOutcome {
        status: RuleStatus::Error,
        message,
        digest: None,
        signers: Vec::new(),
    }
}

fn evaluate_check(
    item: &Applicable<'_, '_>,
    image: &ImageReference,
    results: &dyn VerificationResults,
    request: &AdmissionRequestView<'_>,
) -> CheckOutcome {
    let name = image.normalized();
    if is_skipped(item.check, image) {
        return CheckOutcome {
            status: RuleStatus::Skip,
            message: format!(
                "skipping image reference image {name}, policy {} ruleName {}",
                item.policy.qualified_name(),
                item.rule.name
            ),
            digest: None,
            signers: Vec::new(),
        };
    }
    let mut digest = image.digest.clone();
    let mut signers = Vec::new();
    if needs_lookup(item.check, image) {
        let key = VerificationKey {
            policy: item.policy.qualified_name(),
            rule: item.rule.name.clone(),
            check_index: item.check_index,
            image: name.clone(),
        };
        let verified = match results.outcome(&key) {
            None => {
                return error(format!(
                    "failed to verify image {name}: no verification result"
                ))
            }
            Some(VerificationOutcome::Timeout) => {
                return error(format!(
                    "failed to verify image {name}: verification timed out after {}s",
                    item.policy.timeout_seconds
                ))
            }
            Some(VerificationOutcome::Error { message }) => {
                return error(format!("failed to verify image {name}: {message}"))
            }
            Some(VerificationOutcome::Completed(verified)) => verified,
        };
        if verified.attestor_sets.len() < item.check.attestor_sets.len() {
            return error(format!(
                "failed to verify image {name}: {} attestor set result(s) for {} attestor set(s)",
                verified.attestor_sets.len(),
                item.check.attestor_sets.len()
            ));
        }
        for (index, set) in verified
            .attestor_sets
            .iter()
            .enumerate()
            .take(item.check.attestor_sets.len())
        {
            match set {
                AttestorSetResult::Passed {
                    signers: set_signers,
                } => signers.extend(set_signers.iter().cloned()),
                AttestorSetResult::Failed { message } => {
                    return fail(format!(
                        "failed to verify image {name}: .attestors[{index}]: {message}"
                    ))
                }
            }
        }
        for (index, attestation) in item.check.attestations.iter().enumerate() {
            let Some(evidence) = verified.attestations.get(index) else {
                return error(format!(
                    "failed to verify image {name}: no result for attestation {}",
                    attestation.predicate_type
                ));
            };
            for (set_index, set) in evidence.attestor_sets.iter().enumerate() {
                if let AttestorSetResult::Failed { message } = set {
                    return fail(format!("failed to verify image {name}: .attestations[{index}].attestors[{set_index}]: {message}"));
                }
            }
            if evidence.predicates.is_empty() {
                return fail(format!(
                    "failed to verify image {name}: attestation type {} not found",
                    attestation.predicate_type
                ));
            }
            for predicate in &evidence.predicates {
                match evaluate_blocks(&attestation.conditions, predicate, request.now) {
                    ConditionOutcome::Pass => {}
                    ConditionOutcome::Fail(message) => {
                        return fail(format!("failed to verify image {name}: attestation checks failed for {} and predicate {}: {message}", image.original, attestation.predicate_type))
                    }
                    ConditionOutcome::Error(message) => {
                        return error(format!("failed to evaluate attestation conditions for {name} ({}): {message}", attestation.predicate_type))
                    }
                }
            }
        }
        if digest.is_none() && !verified.digest.is_empty() {
            digest = Some(verified.digest.clone());
        }
    }
    let will_have_digest = image.digest.is_some() || (item.check.mutate_digest && digest.is_some());
    if item.check.verify_digest && !will_have_digest {
        return CheckOutcome {
            status: RuleStatus::Fail,
            message: format!("missing digest for {name}"),
            digest,
            signers,
        };
    }
    let message = if item.check.attestor_sets.is_empty() && item.check.attestations.is_empty() {
        format!("image {name} has a digest")
    } else {
        format!("verified image signatures for {name}")
    };
    CheckOutcome {
        status: RuleStatus::Pass,
        message,
        digest,
        signers,
    }
}

/// Phase 2: the decision for `request`, given the outcomes of [`plan`]'s verifications.
///
/// A `fail` blocks when the rule's action is Enforce; an `error` (including a timeout or a
/// missing outcome) blocks when the policy's `failurePolicy` is Fail, as in Kyverno.
/// Otherwise the request is allowed and the problem becomes a warning.
pub fn decide(
    set: &PolicySet,
    request: &AdmissionRequestView<'_>,
    results: &dyn VerificationResults,
) -> Decision {
    let mut rule_results = Vec::new();
    // Image pointer -> pinned value, first pin wins.
    let mut pins: BTreeMap<String, String> = BTreeMap::new();
    let mut annotation: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut blocked: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut seen = BTreeSet::new();

    let images = parse_images(request);
    for item in applicable(set, request, &images) {
        let action = rule_action(item.policy, item.rule);
        let policy_name = item.policy.qualified_name();
        let image_name = item.parsed.normalized.clone();
        let outcome = match &item.parsed.image {
            Ok(image) => evaluate_check(&item, image, results, request),
            Err(message) => error(format!("failed to parse image {image_name:?}: {message}")),
        };
        if let (Some(digest), Ok(image)) = (&outcome.digest, &item.parsed.image) {
            if outcome.status == RuleStatus::Pass
                && item.check.mutate_digest
                && image.digest.is_none()
            {
                pins.entry(item.parsed.container.pointer.clone())
                    .or_insert_with(|| image.pinned(digest));
            }
        }
        let mark = match outcome.status {
            RuleStatus::Pass => Some("pass"),
            RuleStatus::Fail => Some("fail"),
            RuleStatus::Skip => Some("skip"),
            RuleStatus::Warn | RuleStatus::Error => None,
        };
        if let Some(mark) = mark {
            // A failure for an image is never overwritten by a later pass.
            let entry = annotation.entry(image_name.clone()).or_insert(mark);
            if mark == "fail" {
                *entry = "fail";
            }
        }
        // The same image in several containers gives one result per rule and entry.
        if !seen.insert((
            policy_name.clone(),
            item.rule.name.clone(),
            item.check_index,
            image_name.clone(),
        )) {
            continue;
        }
        let blocks = match outcome.status {
            RuleStatus::Fail => action == FailureAction::Enforce,
            RuleStatus::Error => item.policy.failure_policy == FailurePolicy::Fail,
            _ => false,
        };
        if blocks {
            blocked
                .entry(policy_name.clone())
                .or_default()
                .entry(item.rule.name.clone())
                .and_modify(|message| {
                    message.push_str("; ");
                    message.push_str(&outcome.message);
                })
                .or_insert_with(|| outcome.message.clone());
        } else if matches!(outcome.status, RuleStatus::Fail | RuleStatus::Error) {
            let mut warning = format!(
                "policy {policy_name}.{}: {}",
                item.rule.name, outcome.message
            );
            truncate_warning(&mut warning);
            warnings.push(warning);
        }
        rule_results.push(RuleResult {
            policy: policy_name,
            rule: item.rule.name.clone(),
            image: image_name,
            status: outcome.status,
            message: outcome.message,
            action,
            failure_policy: item.policy.failure_policy,
            signers: outcome.signers,
        });
    }

    let allowed = blocked.is_empty();
    let message = if allowed {
        String::new()
    } else {
        block_message(request, &blocked)
    };
    // The map holds strings only, so serialising cannot fail.
    let verify_images_annotation =
        (!annotation.is_empty()).then(|| serde_json::to_string(&annotation).unwrap_or_default());
    let mut patch = Vec::new();
    if allowed {
        if let Some(value) = &verify_images_annotation {
            annotation_patch(request.object, value, &mut patch);
        }
        for (pointer, value) in pins {
            patch.push(PatchOperation {
                op: "replace",
                path: pointer,
                value: Value::String(value),
            });
        }
    }
    Decision {
        allowed,
        message,
        results: rule_results,
        patch,
        verify_images_annotation,
        warnings,
    }
}

/// Kubernetes truncates warnings over 256 characters; keep ours inside that.
fn truncate_warning(warning: &mut String) {
    const LIMIT: usize = 256;
    if warning.len() > LIMIT {
        let mut end = LIMIT - 3;
        while !warning.is_char_boundary(end) {
            end -= 1;
        }
        warning.truncate(end);
        warning.push_str("...");
    }
}

fn annotation_patch(object: &Value, value: &str, patch: &mut Vec<PatchOperation>) {
    let metadata = object.get("metadata");
    if metadata.is_none_or(|m| !m.is_object()) {
        patch.push(PatchOperation {
            op: "add",
            path: "/metadata".to_owned(),
            value: json!({}),
        });
    }
    if metadata
        .and_then(|m| m.get("annotations"))
        .is_none_or(|a| !a.is_object())
    {
        patch.push(PatchOperation {
            op: "add",
            path: "/metadata/annotations".to_owned(),
            value: json!({}),
        });
    }
    patch.push(PatchOperation {
        op: "add",
        path: format!(
            "/metadata/annotations/{}",
            escape_pointer_token(VERIFY_IMAGES_ANNOTATION)
        ),
        value: Value::String(value.to_owned()),
    });
}

/// Kyverno's block message: the resource, then `policy: {rule: message}` as YAML.
fn block_message(
    request: &AdmissionRequestView<'_>,
    blocked: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let resource = if request.namespace.is_empty() {
        format!("{}/{}", request.kind, request.name)
    } else {
        format!("{}/{}/{}", request.kind, request.namespace, request.name)
    };
    let mut message =
        format!("\n\nresource {resource} was blocked due to the following policies \n\n");
    for (policy, rules) in blocked {
        message.push_str(policy);
        message.push_str(":\n");
        for (rule, text) in rules {
            message.push_str(&format!("  {rule}: '{}'\n", text.replace('\'', "''")));
        }
    }
    message
}

//! The admission engine: active policies, verification (cached, single-flight, bounded by the
//! request's deadline), the decision and its AdmissionReview response.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sealwatch_policy::model::{FailurePolicy, Operation};
use sealwatch_policy::{
    decide, plan, AdmissionRequestView, Decision, PolicySet, VerificationKey, VerificationOutcome,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::metrics::Metrics;
use crate::namespaces::{
    label_need, policies_with_namespace_selector, LabelNeed, LookupEvent, NamespaceLabels,
};
use crate::review::{decision_response, deny_response, Phase, ReviewRequest};
use crate::verify::{
    verify_with_deadline, CacheConfig, CacheEvent, CacheKey, ImageVerifier, OwnedRequest,
    VerificationCache,
};

/// A policy set in force, with a version that changes on every reload (it is part of every
/// cache key, so a policy edit never reuses an outcome verified under the old policy).
#[derive(Debug, Default)]
pub struct ActivePolicies {
    pub set: PolicySet,
    pub version: u64,
}

/// Namespace labels a review needed but could not get.
struct NamespaceProblem {
    message: String,
    /// A policy that needs the labels has `failurePolicy: Fail`.
    blocks: bool,
}

/// Everything a review needs; shared by all connections.
pub struct Admission {
    policies: RwLock<Arc<ActivePolicies>>,
    verifier: Arc<dyn ImageVerifier>,
    cache: Arc<VerificationCache>,
    /// Where namespace labels come from (`None`: nowhere, so every lookup fails).
    namespaces: Option<NamespaceLabels>,
    metrics: Metrics,
}

/// What one review did, for logs and tests.
#[derive(Debug, Clone)]
pub struct ReviewOutcome {
    /// The AdmissionReview response document.
    pub response: Value,
    /// `None` when the request could not be evaluated (denied with code 400).
    pub decision: Option<Decision>,
    pub verifications: usize,
    pub cache_hits: usize,
}

impl Admission {
    pub fn new(set: PolicySet, verifier: Arc<dyn ImageVerifier>, cache: CacheConfig) -> Self {
        Admission {
            policies: RwLock::new(Arc::new(ActivePolicies { set, version: 1 })),
            verifier,
            cache: Arc::new(VerificationCache::new(cache)),
            namespaces: None,
            metrics: Metrics::default(),
        }
    }

    /// Looks namespace labels up with `namespaces` (for policies with a `namespaceSelector`).
    /// Without it, such policies see a lookup failure, handled per their `failurePolicy`.
    pub fn with_namespace_labels(mut self, namespaces: NamespaceLabels) -> Self {
        self.namespaces = Some(namespaces);
        self
    }

    /// Fills in `view.namespace_labels` when a policy needs them. On failure, the problem
    /// blocks when a policy that needs the labels has `failurePolicy: Fail` (the same rule as
    /// for a verification error); otherwise the labels stay unknown (no selector matches) and
    /// the problem becomes a warning. DELETE requests verify nothing, so they need no labels.
    async fn resolve_namespace_labels(
        &self,
        set: &PolicySet,
        view: &mut AdmissionRequestView<'_>,
        deadline: Instant,
    ) -> Option<NamespaceProblem> {
        if view.operation == Operation::Delete {
            return None;
        }
        let namespace = match label_need(set, &view.kind, &view.namespace) {
            LabelNeed::None => return None,
            LabelNeed::Empty => {
                view.namespace_labels = Some(BTreeMap::new());
                return None;
            }
            LabelNeed::Lookup(namespace) => namespace,
        };
        let (result, event) = match &self.namespaces {
            Some(namespaces) => namespaces.get(&namespace, deadline).await,
            None => (
                Err(crate::Error::NamespaceLookup {
                    namespace: namespace.clone(),
                    reason: "no Kubernetes API is configured".into(),
                }),
                LookupEvent::Error,
            ),
        };
        self.metrics.namespace_lookup(event);
        let error = match result {
            Ok(labels) => {
                view.namespace_labels = Some(labels);
                return None;
            }
            Err(error) => error,
        };
        let needers = policies_with_namespace_selector(set, &view.kind, &view.namespace);
        let blocking: Vec<String> = needers
            .iter()
            .filter(|policy| policy.failure_policy == FailurePolicy::Fail)
            .map(|policy| policy.qualified_name())
            .collect();
        let message = if blocking.is_empty() {
            let names: Vec<String> = needers.iter().map(|p| p.qualified_name()).collect();
            format!(
                "{error}; namespaceSelector of {} not evaluated (failurePolicy Ignore)",
                names.join(", ")
            )
        } else {
            format!(
                "{error}; policies {} select namespaces by label and have failurePolicy Fail",
                blocking.join(", ")
            )
        };
        Some(NamespaceProblem {
            blocks: !blocking.is_empty(),
            message,
        })
    }

    /// The policies in force.
    pub fn policies(&self) -> Arc<ActivePolicies> {
        match self.policies.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the policies in force; returns the new version.
    pub fn replace_policies(&self, set: PolicySet) -> u64 {
        let mut guard = match self.policies.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let version = guard.version + 1;
        *guard = Arc::new(ActivePolicies { set, version });
        version
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn cache(&self) -> &VerificationCache {
        &self.cache
    }

    /// Decides one review. `budget` is the time left before the API server gives up (from the
    /// `?timeout=` parameter, less a margin); verifications still running then are timeouts.
    pub async fn review(
        &self,
        phase: Phase,
        review: &ReviewRequest,
        budget: Duration,
    ) -> ReviewOutcome {
        let started = Instant::now();
        self.metrics.request(phase);
        let policies = self.policies();
        let Some(mut view) =
            AdmissionRequestView::from_request_json(&review.request, OffsetDateTime::now_utc())
        else {
            let operation = review
                .request
                .get("operation")
                .cloned()
                .unwrap_or(Value::Null);
            self.metrics.decision(phase, false, started.elapsed());
            return ReviewOutcome {
                response: deny_response(
                    &review.uid,
                    400,
                    &format!("sealwatch cannot evaluate operation {operation}"),
                    &[],
                ),
                decision: None,
                verifications: 0,
                cache_hits: 0,
            };
        };
        let deadline = started + budget;
        let namespace_problem = self
            .resolve_namespace_labels(&policies.set, &mut view, deadline)
            .await;
        if let Some(problem) = namespace_problem.as_ref().filter(|p| p.blocks) {
            self.metrics.decision(phase, false, started.elapsed());
            return ReviewOutcome {
                response: deny_response(&review.uid, 500, &problem.message, &[]),
                decision: None,
                verifications: 0,
                cache_hits: 0,
            };
        }
        let requests = plan(&policies.set, &view);
        let mut outcomes: HashMap<VerificationKey, VerificationOutcome> = HashMap::new();
        let mut cache_hits = 0;
        let mut pending = tokio::task::JoinSet::new();
        for request in &requests {
            let key = CacheKey {
                policy_version: policies.version,
                key: request.key.clone(),
            };
            if request.check.use_cache {
                if let Some(outcome) = self.cache.lookup(&key) {
                    self.metrics.cache(CacheEvent::Hit);
                    cache_hits += 1;
                    outcomes.insert(request.key.clone(), outcome);
                    continue;
                }
            }
            let own_deadline = deadline
                .min(started + Duration::from_secs(u64::from(request.timeout_seconds.max(1))));
            let cache = Arc::clone(&self.cache);
            let verifier = Arc::clone(&self.verifier);
            let owned = OwnedRequest::from_request(request);
            let store = request.check.use_cache;
            pending.spawn(async move {
                let verification_key = owned.key.clone();
                let (outcome, event) = cache
                    .get_or_verify(key, store, || {
                        verify_with_deadline(verifier, owned, own_deadline)
                    })
                    .await;
                (verification_key, outcome, event)
            });
        }
        let spawned = pending.len();
        while let Some(joined) = pending.join_next().await {
            // A panicking task leaves its key without an outcome; `decide` treats a missing
            // outcome as an error (fail closed under failurePolicy Fail).
            if let Ok((key, outcome, event)) = joined {
                self.metrics.cache(event);
                if event == CacheEvent::Hit {
                    cache_hits += 1;
                }
                if matches!(
                    outcome,
                    VerificationOutcome::Error { .. } | VerificationOutcome::Timeout
                ) {
                    self.metrics.verification_error();
                }
                outcomes.insert(key, outcome);
            }
        }
        let mut decision = decide(&policies.set, &view, &outcomes);
        if let Some(problem) = namespace_problem {
            decision.warnings.push(problem.message);
        }
        let response = decision_response(&review.uid, phase, &decision);
        self.metrics
            .decision(phase, decision.allowed, started.elapsed());
        ReviewOutcome {
            response,
            decision: Some(decision),
            verifications: spawned,
            cache_hits,
        }
    }
}

/// The AdmissionReview `request` sealwatch would receive for creating `object`; used to
/// evaluate manifests offline (`sealwatch policy apply`).
pub fn create_request_for(object: &Value) -> Value {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    json!({
        "uid": "sealwatch-policy-apply",
        "kind": {"group": group, "version": version, "kind": text("/kind")},
        "name": text("/metadata/name"),
        "namespace": text("/metadata/namespace"),
        "operation": "CREATE",
        "object": object,
        "dryRun": true,
    })
}

/// Evaluates policies against one resource offline: plans, verifies with `verifier` one after
/// another (no cache), and decides. `namespace_labels` are the labels of the resource's
/// namespace when known (for `namespaceSelector`; unknown labels match no selector).
pub fn evaluate_offline(
    set: &PolicySet,
    object: &Value,
    namespace_labels: Option<&BTreeMap<String, String>>,
    verifier: &dyn ImageVerifier,
    timeout: Duration,
) -> Option<Decision> {
    let request = create_request_for(object);
    let mut view = AdmissionRequestView::from_request_json(&request, OffsetDateTime::now_utc())?;
    view.namespace_labels = match label_need(set, &view.kind, &view.namespace) {
        LabelNeed::None => None,
        LabelNeed::Empty => Some(BTreeMap::new()),
        LabelNeed::Lookup(_) => namespace_labels.cloned(),
    };
    let mut outcomes: HashMap<VerificationKey, VerificationOutcome> = HashMap::new();
    for planned in plan(set, &view) {
        let deadline = Instant::now() + timeout;
        let outcome = verifier.verify(&planned, deadline);
        outcomes.insert(planned.key.clone(), outcome);
    }
    Some(decide(set, &view, &outcomes))
}

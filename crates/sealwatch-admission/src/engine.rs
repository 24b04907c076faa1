//! The admission engine: active policies, verification (cached, single-flight, bounded by the
//! request's deadline), the decision and its AdmissionReview response.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sealwatch_policy::{
    decide, plan, AdmissionRequestView, Decision, PolicySet, VerificationKey, VerificationOutcome,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::metrics::Metrics;
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

/// Everything a review needs; shared by all connections.
pub struct Admission {
    policies: RwLock<Arc<ActivePolicies>>,
    verifier: Arc<dyn ImageVerifier>,
    cache: Arc<VerificationCache>,
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
            metrics: Metrics::default(),
        }
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
        let Some(view) =
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
        let requests = plan(&policies.set, &view);
        let deadline = started + budget;
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
        let decision = decide(&policies.set, &view, &outcomes);
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
/// another (no cache), and decides.
pub fn evaluate_offline(
    set: &PolicySet,
    object: &Value,
    verifier: &dyn ImageVerifier,
    timeout: Duration,
) -> Option<Decision> {
    let request = create_request_for(object);
    let view = AdmissionRequestView::from_request_json(&request, OffsetDateTime::now_utc())?;
    let mut outcomes: HashMap<VerificationKey, VerificationOutcome> = HashMap::new();
    for planned in plan(set, &view) {
        let deadline = Instant::now() + timeout;
        let outcome = verifier.verify(&planned, deadline);
        outcomes.insert(planned.key.clone(), outcome);
    }
    Some(decide(set, &view, &outcomes))
}

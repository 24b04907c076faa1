//! Image verification behind a trait, with a bounded TTL cache and single-flight.
//!
//! Verifications are blocking calls (registry and transparency-log clients); they run on
//! tokio's blocking pool and are abandoned at the deadline, which becomes
//! [`VerificationOutcome::Timeout`]. Only successful verifications are cached: an error, a
//! timeout or a failed attestor set is tried again on the next request, so a signature pushed
//! after a denial is seen at once. Identical verifications that overlap in time run once: the
//! first caller verifies and the others wait for its outcome (a burst of identical Pods
//! costs one registry round trip, compare kyverno/kyverno#16997).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sealwatch_policy::model::ImageCheck;
use sealwatch_policy::{
    AttestorSetResult, ImageReference, VerificationKey, VerificationOutcome, VerificationRequest,
};
use tokio::sync::watch;

/// Verifies one image against one `verifyImages` entry.
///
/// Implementations must return by `deadline` where they can (the caller stops waiting then
/// anyway), and must report registry or network problems as [`VerificationOutcome::Error`].
pub trait ImageVerifier: Send + Sync + 'static {
    fn verify(&self, request: &VerificationRequest<'_>, deadline: Instant) -> VerificationOutcome;
}

/// A verifier for builds without registry access: every lookup is an error, which denies
/// under `failurePolicy: Fail` and warns under `Ignore` (fail closed).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnavailableVerifier;

impl ImageVerifier for UnavailableVerifier {
    fn verify(&self, request: &VerificationRequest<'_>, _deadline: Instant) -> VerificationOutcome {
        VerificationOutcome::Error {
            message: format!(
                "no signature verifier is configured, cannot look up {}",
                request.image.normalized()
            ),
        }
    }
}

/// What the cache contributed to one verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEvent {
    /// A stored outcome was used.
    Hit,
    /// Another request was already verifying the same thing; its outcome was shared.
    Coalesced,
    /// This request ran the verification.
    Miss,
}

/// Cache bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most successful outcomes kept.
    pub capacity: usize,
    /// How long a successful outcome is trusted (tags can move; keys can be revoked).
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        // Kyverno's defaults: 1000 entries, 60 minutes.
        CacheConfig {
            capacity: 1000,
            ttl: Duration::from_secs(3600),
        }
    }
}

/// Identifies a cacheable verification: the policy-set version (a policy edit invalidates all
/// entries), and policy, rule, entry and image (normalised; with its digest when it has one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub policy_version: u64,
    pub key: VerificationKey,
}

enum Slot {
    Ready {
        outcome: VerificationOutcome,
        stored: Instant,
    },
    Pending(watch::Receiver<Option<VerificationOutcome>>),
}

/// Bounded TTL cache of successful verifications, with single-flight for concurrent misses.
pub struct VerificationCache {
    config: CacheConfig,
    slots: Mutex<HashMap<CacheKey, Slot>>,
}

/// A verification outcome counts as success (cacheable) when every attestor set passed.
pub fn is_success(outcome: &VerificationOutcome) -> bool {
    let passed = |sets: &[AttestorSetResult]| {
        sets.iter()
            .all(|set| matches!(set, AttestorSetResult::Passed { .. }))
    };
    match outcome {
        VerificationOutcome::Completed(image) => {
            passed(&image.attestor_sets)
                && image
                    .attestations
                    .iter()
                    .all(|evidence| passed(&evidence.attestor_sets))
        }
        VerificationOutcome::Error { .. } | VerificationOutcome::Timeout => false,
    }
}

/// Removes the pending slot if the verifying request goes away before it finishes, so that
/// waiters retry instead of waiting for an outcome that never comes.
struct PendingGuard<'c> {
    cache: &'c VerificationCache,
    key: Option<CacheKey>,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut slots = self.cache.lock();
            if matches!(slots.get(&key), Some(Slot::Pending(_))) {
                slots.remove(&key);
            }
        }
    }
}

impl VerificationCache {
    pub fn new(config: CacheConfig) -> Self {
        VerificationCache {
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Slot>> {
        // The map stays consistent even if a holder panicked: every update is one call.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of stored (not pending) outcomes.
    pub fn len(&self) -> usize {
        self.lock()
            .values()
            .filter(|slot| matches!(slot, Slot::Ready { .. }))
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh stored outcome, without waiting for pending ones.
    pub fn lookup(&self, key: &CacheKey) -> Option<VerificationOutcome> {
        let slots = self.lock();
        match slots.get(key) {
            Some(Slot::Ready { outcome, stored }) if stored.elapsed() < self.config.ttl => {
                Some(outcome.clone())
            }
            _ => None,
        }
    }

    /// The outcome for `key`: stored, shared with a concurrent caller, or computed by `run`.
    /// With `store` false (the policy's `useCache: false`) nothing is stored, but concurrent
    /// identical calls still share one run.
    pub async fn get_or_verify<F, Fut>(
        &self,
        key: CacheKey,
        store: bool,
        run: F,
    ) -> (VerificationOutcome, CacheEvent)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = VerificationOutcome>,
    {
        let sender = loop {
            let waiting = {
                let mut slots = self.lock();
                match slots.get(&key) {
                    Some(Slot::Ready { outcome, stored }) => {
                        if stored.elapsed() < self.config.ttl && store {
                            return (outcome.clone(), CacheEvent::Hit);
                        }
                        None
                    }
                    Some(Slot::Pending(receiver)) => Some(receiver.clone()),
                    None => None,
                }
                .map_or_else(
                    || {
                        let (sender, receiver) = watch::channel(None);
                        slots.insert(key.clone(), Slot::Pending(receiver));
                        Err(sender)
                    },
                    Ok,
                )
            };
            match waiting {
                Err(sender) => break sender,
                Ok(mut receiver) => {
                    if let Ok(outcome) = receiver.wait_for(Option::is_some).await {
                        if let Some(outcome) = outcome.as_ref() {
                            return (outcome.clone(), CacheEvent::Coalesced);
                        }
                    }
                    // The verifying request was cancelled: try again (maybe as the leader).
                }
            }
        };
        let mut guard = PendingGuard {
            cache: self,
            key: Some(key.clone()),
        };
        let outcome = run().await;
        {
            let mut slots = self.lock();
            if store && is_success(&outcome) {
                self.make_room(&mut slots);
                slots.insert(
                    key,
                    Slot::Ready {
                        outcome: outcome.clone(),
                        stored: Instant::now(),
                    },
                );
            } else {
                slots.remove(&key);
            }
        }
        guard.key = None;
        // Waiters may all have gone; that is fine.
        let _ = sender.send(Some(outcome.clone()));
        (outcome, CacheEvent::Miss)
    }

    fn make_room(&self, slots: &mut HashMap<CacheKey, Slot>) {
        let ready = slots
            .values()
            .filter(|slot| matches!(slot, Slot::Ready { .. }))
            .count();
        if ready < self.config.capacity.max(1) {
            return;
        }
        let ttl = self.config.ttl;
        slots.retain(|_, slot| match slot {
            Slot::Ready { stored, .. } => stored.elapsed() < ttl,
            Slot::Pending(_) => true,
        });
        let ready: Vec<(&CacheKey, Instant)> = slots
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Ready { stored, .. } => Some((key, *stored)),
                Slot::Pending(_) => None,
            })
            .collect();
        if ready.len() >= self.config.capacity.max(1) {
            if let Some(oldest) = ready
                .iter()
                .min_by_key(|(_, stored)| *stored)
                .map(|(key, _)| (*key).clone())
            {
                slots.remove(&oldest);
            }
        }
    }
}

/// An owned copy of a [`VerificationRequest`], so it can move to the blocking pool.
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    pub key: VerificationKey,
    pub image: ImageReference,
    pub check: ImageCheck,
    pub timeout_seconds: u32,
}

impl OwnedRequest {
    pub fn from_request(request: &VerificationRequest<'_>) -> Self {
        OwnedRequest {
            key: request.key.clone(),
            image: request.image.clone(),
            check: request.check.clone(),
            timeout_seconds: request.timeout_seconds,
        }
    }

    pub fn as_request(&self) -> VerificationRequest<'_> {
        VerificationRequest {
            key: self.key.clone(),
            image: self.image.clone(),
            check: &self.check,
            timeout_seconds: self.timeout_seconds,
        }
    }
}

/// Runs `verifier` on the blocking pool and stops waiting at `deadline`.
pub async fn verify_with_deadline(
    verifier: Arc<dyn ImageVerifier>,
    request: OwnedRequest,
    deadline: Instant,
) -> VerificationOutcome {
    let task = tokio::task::spawn_blocking(move || {
        let borrowed = request.as_request();
        verifier.verify(&borrowed, deadline)
    });
    match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), task).await {
        Err(_) => VerificationOutcome::Timeout,
        Ok(Ok(outcome)) => outcome,
        Ok(Err(join_error)) => VerificationOutcome::Error {
            message: format!("verifier failed: {join_error}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwatch_policy::VerifiedImage;

    fn key(image: &str, version: u64) -> CacheKey {
        CacheKey {
            policy_version: version,
            key: VerificationKey {
                policy: "p".into(),
                rule: "r".into(),
                check_index: 0,
                image: image.into(),
            },
        }
    }

    fn passed() -> VerificationOutcome {
        VerificationOutcome::Completed(VerifiedImage {
            digest: "sha256:ab".into(),
            attestor_sets: vec![AttestorSetResult::Passed {
                signers: Vec::new(),
            }],
            attestations: Vec::new(),
        })
    }

    fn failed() -> VerificationOutcome {
        VerificationOutcome::Completed(VerifiedImage {
            digest: "sha256:ab".into(),
            attestor_sets: vec![AttestorSetResult::Failed {
                message: "no signature".into(),
            }],
            attestations: Vec::new(),
        })
    }

    #[tokio::test]
    async fn caches_successes_only() {
        let cases = [
            (passed(), true, CacheEvent::Hit),
            (failed(), true, CacheEvent::Miss),
            (VerificationOutcome::Timeout, true, CacheEvent::Miss),
            (
                VerificationOutcome::Error {
                    message: "registry down".into(),
                },
                true,
                CacheEvent::Miss,
            ),
            (passed(), false, CacheEvent::Miss),
        ];
        for (outcome, store, expect_second) in cases {
            let cache = VerificationCache::new(CacheConfig::default());
            let first = cache
                .get_or_verify(key("a", 1), store, || async { outcome.clone() })
                .await;
            assert_eq!(first, (outcome.clone(), CacheEvent::Miss));
            let second = cache
                .get_or_verify(key("a", 1), store, || async { outcome.clone() })
                .await;
            assert_eq!(second.1, expect_second, "{outcome:?} store={store}");
        }
    }

    #[tokio::test]
    async fn policy_version_and_capacity_bound_the_cache() {
        let cache = VerificationCache::new(CacheConfig {
            capacity: 2,
            ttl: Duration::from_secs(60),
        });
        for image in ["a", "b", "c"] {
            cache
                .get_or_verify(key(image, 1), true, || async { passed() })
                .await;
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.lookup(&key("c", 1)).is_some());
        assert!(cache.lookup(&key("c", 2)).is_none());
    }

    #[tokio::test]
    async fn expired_entries_are_verified_again() {
        let cache = VerificationCache::new(CacheConfig {
            capacity: 10,
            ttl: Duration::ZERO,
        });
        cache
            .get_or_verify(key("a", 1), true, || async { passed() })
            .await;
        assert!(cache.lookup(&key("a", 1)).is_none());
        let again = cache
            .get_or_verify(key("a", 1), true, || async { passed() })
            .await;
        assert_eq!(again.1, CacheEvent::Miss);
    }
}

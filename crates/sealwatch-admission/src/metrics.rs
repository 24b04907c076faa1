//! Prometheus text-format metrics, kept in atomics (no registry crate needed for a handful of
//! counters and one histogram).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::review::Phase;

/// Upper bounds (seconds) of the review latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Default)]
struct PhaseCounters {
    requests: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
}

/// Counters exported on `/metrics`.
#[derive(Default)]
pub struct Metrics {
    mutate: PhaseCounters,
    validate: PhaseCounters,
    /// Responses other than a review: (status code, count).
    rejected_400: AtomicU64,
    rejected_404: AtomicU64,
    rejected_405: AtomicU64,
    rejected_408: AtomicU64,
    rejected_413: AtomicU64,
    rejected_415: AtomicU64,
    bucket_counts: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    cache_hits: AtomicU64,
    cache_coalesced: AtomicU64,
    cache_misses: AtomicU64,
    verification_errors: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    namespace_hits: AtomicU64,
    namespace_misses: AtomicU64,
    namespace_errors: AtomicU64,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    fn phase(&self, phase: Phase) -> &PhaseCounters {
        match phase {
            Phase::Mutate => &self.mutate,
            Phase::Validate => &self.validate,
        }
    }

    pub fn request(&self, phase: Phase) {
        add(&self.phase(phase).requests);
    }

    pub fn decision(&self, phase: Phase, allowed: bool, elapsed: Duration) {
        let counters = self.phase(phase);
        add(if allowed {
            &counters.allowed
        } else {
            &counters.denied
        });
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.bucket_counts) {
            if seconds <= *bound {
                add(count);
            }
        }
        add(&self.latency_count);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A request answered with an HTTP error instead of a review.
    pub fn rejected(&self, status: u16) {
        match status {
            400 => add(&self.rejected_400),
            404 => add(&self.rejected_404),
            405 => add(&self.rejected_405),
            408 => add(&self.rejected_408),
            413 => add(&self.rejected_413),
            415 => add(&self.rejected_415),
            _ => {}
        }
    }

    pub fn cache(&self, event: crate::verify::CacheEvent) {
        use crate::verify::CacheEvent;
        add(match event {
            CacheEvent::Hit => &self.cache_hits,
            CacheEvent::Coalesced => &self.cache_coalesced,
            CacheEvent::Miss => &self.cache_misses,
        });
    }

    pub fn verification_error(&self) {
        add(&self.verification_errors);
    }

    pub fn namespace_lookup(&self, event: crate::namespaces::LookupEvent) {
        use crate::namespaces::LookupEvent;
        add(match event {
            LookupEvent::Hit => &self.namespace_hits,
            LookupEvent::Miss => &self.namespace_misses,
            LookupEvent::Error => &self.namespace_errors,
        });
    }

    pub fn reload(&self, ok: bool) {
        add(if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        });
    }

    /// Verifications run by this process (cache misses).
    pub fn verifications(&self) -> u64 {
        get(&self.cache_misses)
    }

    /// Cache hits (stored outcomes used).
    pub fn cache_hits(&self) -> u64 {
        get(&self.cache_hits)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, policies: usize) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(out, "# HELP sealwatch_admission_requests_total AdmissionReview requests received.\n# TYPE sealwatch_admission_requests_total counter");
        for phase in [Phase::Mutate, Phase::Validate] {
            let _ = writeln!(
                out,
                "sealwatch_admission_requests_total{{webhook=\"{}\"}} {}",
                phase.as_str(),
                get(&self.phase(phase).requests)
            );
        }
        let _ = writeln!(out, "# HELP sealwatch_admission_decisions_total Admission decisions.\n# TYPE sealwatch_admission_decisions_total counter");
        for phase in [Phase::Mutate, Phase::Validate] {
            let counters = self.phase(phase);
            for (allowed, counter) in [("true", &counters.allowed), ("false", &counters.denied)] {
                let _ = writeln!(
                    out,
                    "sealwatch_admission_decisions_total{{webhook=\"{}\",allowed=\"{allowed}\"}} {}",
                    phase.as_str(),
                    get(counter)
                );
            }
        }
        let _ = writeln!(out, "# HELP sealwatch_admission_rejected_requests_total Requests answered with an HTTP error.\n# TYPE sealwatch_admission_rejected_requests_total counter");
        for (code, counter) in [
            (400, &self.rejected_400),
            (404, &self.rejected_404),
            (405, &self.rejected_405),
            (408, &self.rejected_408),
            (413, &self.rejected_413),
            (415, &self.rejected_415),
        ] {
            let _ = writeln!(
                out,
                "sealwatch_admission_rejected_requests_total{{code=\"{code}\"}} {}",
                get(counter)
            );
        }
        let _ = writeln!(out, "# HELP sealwatch_admission_review_duration_seconds Time to decide one AdmissionReview.\n# TYPE sealwatch_admission_review_duration_seconds histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.bucket_counts) {
            let _ = writeln!(
                out,
                "sealwatch_admission_review_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(count)
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "sealwatch_admission_review_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "sealwatch_admission_review_duration_seconds_sum {}",
            get(&self.latency_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "sealwatch_admission_review_duration_seconds_count {count}"
        );
        let _ = writeln!(out, "# HELP sealwatch_admission_verification_cache_total Verification lookups by cache result.\n# TYPE sealwatch_admission_verification_cache_total counter");
        for (result, counter) in [
            ("hit", &self.cache_hits),
            ("coalesced", &self.cache_coalesced),
            ("miss", &self.cache_misses),
        ] {
            let _ = writeln!(
                out,
                "sealwatch_admission_verification_cache_total{{result=\"{result}\"}} {}",
                get(counter)
            );
        }
        let _ = writeln!(out, "# HELP sealwatch_admission_verification_errors_total Verifications that ended in an error or timeout.\n# TYPE sealwatch_admission_verification_errors_total counter\nsealwatch_admission_verification_errors_total {}", get(&self.verification_errors));
        let _ = writeln!(out, "# HELP sealwatch_admission_policy_reloads_total Policy folder reloads.\n# TYPE sealwatch_admission_policy_reloads_total counter\nsealwatch_admission_policy_reloads_total{{result=\"ok\"}} {}\nsealwatch_admission_policy_reloads_total{{result=\"failed\"}} {}", get(&self.reloads_ok), get(&self.reloads_failed));
        let _ = writeln!(out, "# HELP sealwatch_admission_namespace_lookups_total Namespace label lookups (for namespaceSelector) by result.\n# TYPE sealwatch_admission_namespace_lookups_total counter");
        for (result, counter) in [
            ("hit", &self.namespace_hits),
            ("miss", &self.namespace_misses),
            ("error", &self.namespace_errors),
        ] {
            let _ = writeln!(
                out,
                "sealwatch_admission_namespace_lookups_total{{result=\"{result}\"}} {}",
                get(counter)
            );
        }
        let _ = writeln!(out, "# HELP sealwatch_admission_policies Policies in the active set.\n# TYPE sealwatch_admission_policies gauge\nsealwatch_admission_policies {policies}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.decision(Phase::Mutate, true, Duration::from_micros(300));
        metrics.decision(Phase::Mutate, false, Duration::from_millis(3));
        let text = metrics.render(1);
        let check = |line: &str| assert!(text.contains(line), "missing {line:?} in\n{text}");
        check("sealwatch_admission_review_duration_seconds_bucket{le=\"0.0005\"} 1\n");
        check("sealwatch_admission_review_duration_seconds_bucket{le=\"0.002\"} 1\n");
        check("sealwatch_admission_review_duration_seconds_bucket{le=\"0.005\"} 2\n");
        check("sealwatch_admission_review_duration_seconds_bucket{le=\"+Inf\"} 2\n");
        check("sealwatch_admission_decisions_total{webhook=\"mutate\",allowed=\"false\"} 1\n");
        check("sealwatch_admission_policies 1\n");
    }
}

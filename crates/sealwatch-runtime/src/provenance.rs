//! Provenance for alerts: which image a container runs (by digest), whether that image's
//! signature verified, who signed it, and how many CRITICAL/HIGH vulnerabilities its signed scan
//! lists — added to each alert as extra `output_fields` (`sealwatch.image.digest`,
//! `sealwatch.signature`, `sealwatch.signer`, `sealwatch.signer.issuer`, `sealwatch.cves.critical`,
//! `sealwatch.cves.high`),
//! which falcosidekick forwards untouched.
//!
//! Nothing is guessed: a container whose runtime did not report an image digest gets no registry
//! lookup (a tag may have moved since the container started), and whatever could not be
//! established is `unknown` or absent (`<NA>` in text, `null` in JSON).
//!
//! The registry work is behind [`EvidenceLookup`] (the binary implements it with
//! `sealwatch-sign`). [`ProvenanceCache`] runs at most one lookup per image digest, on its own
//! thread. The event path never waits for it: [`ProvenanceCache::begin`] hands out a
//! [`PendingProvenance`] that travels with the alert, and the output path
//! (`outputs::Dispatcher`) waits for the answer at most until a bounded time after the lookup
//! began; an alert still waiting then says `unknown`, later alerts get the cached answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sealwatch_rules::event::{ContainerInfo, Event};
use sealwatch_rules::output::{Alert, FieldValue};
use serde_json::Value;

/// The annotation Kyverno (and `sealwatch admission`) write with per-image verification results.
pub const VERIFY_IMAGES_ANNOTATION: &str = "kyverno.io/verify-images";

pub const FIELD_DIGEST: &str = "sealwatch.image.digest";
pub const FIELD_SIGNATURE: &str = "sealwatch.signature";
pub const FIELD_SIGNER: &str = "sealwatch.signer";
pub const FIELD_SIGNER_ISSUER: &str = "sealwatch.signer.issuer";
pub const FIELD_CVES_CRITICAL: &str = "sealwatch.cves.critical";
pub const FIELD_CVES_HIGH: &str = "sealwatch.cves.high";

/// Whether the running image's signature verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Admission said `pass`, or a trusted key verified a signature of this digest.
    Verified,
    /// Admission said `fail`, or signatures were checked and none verified with a trusted key.
    Unverified,
    /// Not established: no digest, no admission verdict, no key to check with, registry
    /// unreachable, or the lookup is still running.
    Unknown,
}

impl SignatureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::Verified => "verified",
            SignatureStatus::Unverified => "unverified",
            SignatureStatus::Unknown => "unknown",
        }
    }
}

/// Vulnerability counts from a verified scan attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CveCounts {
    pub critical: u64,
    pub high: u64,
}

/// What the registry says about one image digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEvidence {
    pub signature: SignatureStatus,
    /// The identity that signed: a key fingerprint (`sha256:…` of the public key) or a
    /// certificate identity (keyless).
    pub signer: Option<String>,
    /// The OIDC issuer of the signing certificate (keyless only).
    pub signer_issuer: Option<String>,
    /// From the newest verified `vuln` attestation; `None` when there is none.
    pub cves: Option<CveCounts>,
    /// The registry could not be asked (unreachable, timeout, bad answer): the answer is
    /// incomplete and is asked again after [`RETRY_AFTER`] rather than kept for the whole run.
    pub retry: bool,
}

impl RegistryEvidence {
    /// Nothing known (no lookup made, or it has not finished).
    pub fn unknown() -> RegistryEvidence {
        RegistryEvidence {
            signature: SignatureStatus::Unknown,
            signer: None,
            signer_issuer: None,
            cves: None,
            retry: false,
        }
    }
}

/// How long an incomplete lookup (see [`RegistryEvidence::retry`]) is kept before the next alert
/// for that image asks the registry again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Looks up the evidence for `repository@digest` in its registry. Implementations bound their
/// own network time (timeouts on every request), so a lookup always returns.
pub trait EvidenceLookup: Send + Sync + 'static {
    fn lookup(&self, repository: &str, digest: &str) -> RegistryEvidence;
}

/// The provenance fields of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProvenance {
    pub digest: Option<String>,
    pub signature: SignatureStatus,
    pub signer: Option<String>,
    pub signer_issuer: Option<String>,
    pub cves: Option<CveCounts>,
}

impl ImageProvenance {
    /// The extra output fields, in a fixed order.
    pub fn output_fields(&self) -> Vec<(String, Option<FieldValue>)> {
        let count =
            |pick: fn(&CveCounts) -> u64| self.cves.as_ref().map(|c| FieldValue::Uint(pick(c)));
        vec![
            (
                FIELD_DIGEST.to_owned(),
                self.digest.clone().map(FieldValue::Str),
            ),
            (
                FIELD_SIGNATURE.to_owned(),
                Some(FieldValue::Str(self.signature.as_str().to_owned())),
            ),
            (
                FIELD_SIGNER.to_owned(),
                self.signer.clone().map(FieldValue::Str),
            ),
            (
                FIELD_SIGNER_ISSUER.to_owned(),
                self.signer_issuer.clone().map(FieldValue::Str),
            ),
            (FIELD_CVES_CRITICAL.to_owned(), count(|c| c.critical)),
            (FIELD_CVES_HIGH.to_owned(), count(|c| c.high)),
        ]
    }

    /// Add the fields to `alert`, and to its message in `name=value` form (as Falco's
    /// `append_output` does), so text output shows them too.
    pub fn apply(&self, alert: &mut Alert) {
        let fields = self.output_fields();
        let text: Vec<String> = fields
            .iter()
            .map(|(name, value)| {
                let value = value
                    .as_ref()
                    .map_or_else(|| "<NA>".to_owned(), FieldValue::to_text);
                format!("{name}={value}")
            })
            .collect();
        alert.message = format!("{} {}", alert.message, text.join(" "));
        alert
            .output_fields
            .retain(|(name, _)| !name.starts_with("sealwatch."));
        alert.output_fields.extend(fields);
    }
}

/// The repository and the digest the runtime reported for a container's image: `image_digest`,
/// else a digest in the image reference itself. `None` when the runtime gave no digest.
pub fn running_digest(container: &ContainerInfo) -> Option<(String, String)> {
    let from_reference = container.image.split_once('@').map(|(_, d)| d);
    let digest = Some(container.image_digest.as_str())
        .filter(|d| !d.is_empty())
        .or(from_reference)?;
    let valid = digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        return None;
    }
    let repository = if container.image_repository.is_empty() {
        repository_of(&container.image)
    } else {
        container.image_repository.clone()
    };
    (!repository.is_empty()).then(|| (repository, digest.to_owned()))
}

/// `host/repo:tag@sha256:…` → `host/repo`.
fn repository_of(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest
        .get(last_slash..)
        .and_then(|tail| tail.rfind(':'))
    {
        Some(colon) => without_digest
            .get(..last_slash + colon)
            .unwrap_or(without_digest)
            .to_owned(),
        None => without_digest.to_owned(),
    }
}

/// `nginx`, `library/nginx` and `docker.io/library/nginx` are one repository.
fn normalize_repository(repository: &str) -> String {
    let mut parts: Vec<&str> = repository.split('/').collect();
    let has_host = parts.len() > 1
        && parts
            .first()
            .is_some_and(|p| p.contains('.') || p.contains(':') || *p == "localhost");
    if !has_host {
        parts.insert(0, "docker.io");
    }
    if matches!(
        parts.first(),
        Some(&"index.docker.io" | &"registry-1.docker.io")
    ) {
        parts[0] = "docker.io";
    }
    if parts.len() == 2 && parts.first() == Some(&"docker.io") {
        parts.insert(1, "library");
    }
    parts.join("/")
}

/// What admission decided for this image, from the Pod's `kyverno.io/verify-images` annotation
/// (`{"<image>": "pass" | "fail" | "skip"}`). Entries for other repositories, or pinned to another
/// digest, do not count; `skip` says nothing about the signature.
pub fn admission_verdict(
    annotations: &[(String, String)],
    repository: &str,
    digest: &str,
) -> Option<SignatureStatus> {
    let (_, text) = annotations
        .iter()
        .find(|(name, _)| name == VERIFY_IMAGES_ANNOTATION)?;
    let Ok(Value::Object(results)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let wanted = normalize_repository(repository);
    let mut verdict = None;
    for (image, result) in &results {
        if normalize_repository(&repository_of(image)) != wanted {
            continue;
        }
        if image.split_once('@').is_some_and(|(_, d)| d != digest) {
            continue;
        }
        match result.as_str() {
            Some("pass") => verdict = verdict.or(Some(SignatureStatus::Verified)),
            // One failing entry for this image outweighs a passing one.
            Some("fail") => verdict = Some(SignatureStatus::Unverified),
            _ => {}
        }
    }
    verdict
}

/// CRITICAL and HIGH counts from a `vuln` predicate: a sealwatch report in `scanner.result`
/// (`results[].vulnerabilities[].severity`) or a Trivy one (`Results[].Vulnerabilities[].Severity`).
/// `None` when the predicate holds neither.
pub fn cve_counts(predicate: &Value) -> Option<CveCounts> {
    let result = predicate.pointer("/scanner/result")?;
    let (targets, list, severity) = if let Some(t) = result.get("results") {
        (t, "vulnerabilities", "severity")
    } else {
        (result.get("Results")?, "Vulnerabilities", "Severity")
    };
    let mut counts = CveCounts::default();
    for target in targets.as_array()? {
        let Some(findings) = target.get(list) else {
            continue;
        };
        // Trivy writes `null` for a target without findings.
        for finding in findings.as_array().map(Vec::as_slice).unwrap_or_default() {
            match finding.get(severity).and_then(Value::as_str) {
                Some("CRITICAL") => counts.critical += 1,
                Some("HIGH") => counts.high += 1,
                _ => {}
            }
        }
    }
    Some(counts)
}

/// The predicate whose scan finished last (`metadata.scanFinishedOn`, RFC 3339); predicates
/// without a readable time come last.
pub fn newest_scan(predicates: &[Value]) -> Option<&Value> {
    let finished = |p: &Value| {
        p.pointer("/metadata/scanFinishedOn")
            .and_then(Value::as_str)
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
    };
    predicates.iter().max_by_key(|p| finished(p))
}

/// One image digest's lookup: empty until it finishes, then the answer and when it came.
struct Slot {
    /// When the lookup began: alerts wait for it until `started + wait`, not longer.
    started: Instant,
    result: Mutex<Option<(RegistryEvidence, Instant)>>,
    done: Condvar,
}

impl Slot {
    /// An incomplete answer at least `retry_after` old.
    fn stale(&self, retry_after: Duration) -> bool {
        let result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        result
            .as_ref()
            .is_some_and(|(evidence, at)| evidence.retry && at.elapsed() >= retry_after)
    }

    fn answer(&self) -> Option<RegistryEvidence> {
        let result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        result.as_ref().map(|(evidence, _)| evidence.clone())
    }
}

/// An alert's provenance whose registry lookup may still be running. Taking one never waits
/// (the event path calls [`ProvenanceCache::begin`]); the output path waits for it, at most until
/// [`PendingProvenance::deadline`], and then [`PendingProvenance::resolve`]s it with what is known.
pub struct PendingProvenance {
    digest: Option<String>,
    verdict: Option<SignatureStatus>,
    lookup: Option<(Arc<Slot>, Instant)>,
}

impl std::fmt::Debug for PendingProvenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingProvenance")
            .field("digest", &self.digest)
            .field("verdict", &self.verdict)
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl PendingProvenance {
    /// Nothing more to wait for: no lookup, its answer is in, or its deadline has passed.
    pub fn is_ready(&self) -> bool {
        match &self.lookup {
            None => true,
            Some((slot, deadline)) => {
                Instant::now() >= *deadline
                    || slot
                        .result
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_some()
            }
        }
    }

    /// The latest time worth waiting for the lookup; `None` when there is no lookup.
    pub fn deadline(&self) -> Option<Instant> {
        self.lookup.as_ref().map(|(_, deadline)| *deadline)
    }

    /// Wait until the lookup's answer is in, its deadline passes, or `until` comes, whichever is
    /// first. Returns [`PendingProvenance::is_ready`].
    pub fn wait(&self, until: Instant) -> bool {
        let Some((slot, deadline)) = &self.lookup else {
            return true;
        };
        let until = until.min(*deadline);
        let mut result = slot.result.lock().unwrap_or_else(PoisonError::into_inner);
        while result.is_none() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            result = slot
                .done
                .wait_timeout(result, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let answered = result.is_some();
        drop(result);
        answered || Instant::now() >= *deadline
    }

    /// The fields with what is known now: a lookup still running counts as `unknown`.
    pub fn resolve(&self) -> ImageProvenance {
        let evidence = self
            .lookup
            .as_ref()
            .and_then(|(slot, _)| slot.answer())
            .unwrap_or_else(RegistryEvidence::unknown);
        let verified = evidence.signature == SignatureStatus::Verified;
        ImageProvenance {
            signature: self.verdict.unwrap_or(evidence.signature),
            signer: evidence.signer.filter(|_| verified),
            signer_issuer: evidence.signer_issuer.filter(|_| verified),
            cves: evidence.cves,
            digest: self.digest.clone(),
        }
    }
}

/// Provenance per container image, one registry lookup per image digest.
pub struct ProvenanceCache {
    lookup: Option<Arc<dyn EvidenceLookup>>,
    wait: Duration,
    capacity: usize,
    retry_after: Duration,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// Containers whose image lookup [`ProvenanceCache::prefetch`] has started (bounded by
    /// `capacity`; beyond it the first alert starts the lookup).
    prefetched: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ProvenanceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvenanceCache")
            .field("lookup", &self.lookup.is_some())
            .field("wait", &self.wait)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl ProvenanceCache {
    /// `lookup`: `None` when there is nothing to verify with (no trusted keys or identities);
    /// then only the digest and admission's verdict are reported. `wait`: longest alerts wait for
    /// an image's lookup, counted from when it began. `capacity`: most image digests remembered;
    /// images beyond it are reported without a lookup, so a host with endless images cannot grow
    /// memory or threads unbounded.
    pub fn new(
        lookup: Option<Arc<dyn EvidenceLookup>>,
        wait: Duration,
        capacity: usize,
    ) -> ProvenanceCache {
        ProvenanceCache {
            lookup,
            wait,
            capacity,
            retry_after: RETRY_AFTER,
            slots: Mutex::new(HashMap::new()),
            prefetched: Mutex::new(HashSet::new()),
        }
    }

    /// Ask again after `retry_after` (instead of [`RETRY_AFTER`]) when a lookup was incomplete.
    pub fn with_retry_after(mut self, retry_after: Duration) -> ProvenanceCache {
        self.retry_after = retry_after;
        self
    }

    /// Start (or join) the lookup for the image `container` runs, without waiting for it; `None`
    /// for a container without an image.
    pub fn begin(&self, container: &ContainerInfo) -> Option<PendingProvenance> {
        if container.image.is_empty() && container.image_digest.is_empty() {
            return None;
        }
        let Some((repository, digest)) = running_digest(container) else {
            return Some(PendingProvenance {
                digest: None,
                verdict: None,
                lookup: None,
            });
        };
        let verdict = admission_verdict(&container.k8s_pod_annotations, &repository, &digest);
        let lookup = self.slot(&repository, &digest).map(|slot| {
            let deadline = slot.started + self.wait;
            (slot, deadline)
        });
        Some(PendingProvenance {
            digest: Some(digest),
            verdict,
            lookup,
        })
    }

    /// [`ProvenanceCache::begin`] for the container of the thread that raised `event`.
    pub fn begin_for(&self, event: &Event) -> Option<PendingProvenance> {
        let container = event.thread.as_ref().and_then(|t| t.container.as_ref())?;
        self.begin(container)
    }

    /// Start the image lookup for the container of `event` the first time the container is seen
    /// with an image, so the answer is usually in before its first alert. Never waits; one set
    /// lookup per event otherwise.
    pub fn prefetch(&self, event: &Event) {
        if self.lookup.is_none() {
            return;
        }
        let Some(container) = event.thread.as_ref().and_then(|t| t.container.as_ref()) else {
            return;
        };
        // Runtimes report the image a moment after the container id (CRI lookups run in the
        // background): only a container with an image counts as seen.
        if container.image.is_empty() && container.image_digest.is_empty() {
            return;
        }
        {
            let mut prefetched = self
                .prefetched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if prefetched.contains(&container.id) || prefetched.len() >= self.capacity {
                return;
            }
            prefetched.insert(container.id.clone());
        }
        drop(self.begin(container));
    }

    /// The provenance of the image `container` runs, waiting for its lookup as long as allowed;
    /// `None` for a container without an image (and for events outside containers).
    pub fn provenance(&self, container: &ContainerInfo) -> Option<ImageProvenance> {
        let pending = self.begin(container)?;
        if let Some(deadline) = pending.deadline() {
            pending.wait(deadline);
        }
        Some(pending.resolve())
    }

    /// The lookup of `repository@digest`: the one already running or done, or a new one started
    /// on its own thread. `None` without a lookup (nothing to verify with, or cache full).
    fn slot(&self, repository: &str, digest: &str) -> Option<Arc<Slot>> {
        let lookup = self.lookup.as_ref()?;
        let key = format!("{repository}@{digest}");
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots
                .get(&key)
                .is_some_and(|slot| slot.stale(self.retry_after))
            {
                slots.remove(&key);
            }
            if let Some(slot) = slots.get(&key) {
                return Some(Arc::clone(slot));
            }
            if slots.len() >= self.capacity {
                return None;
            }
            let slot = Arc::new(Slot {
                started: Instant::now(),
                result: Mutex::new(None),
                done: Condvar::new(),
            });
            slots.insert(key, Arc::clone(&slot));
            slot
        };
        let lookup = Arc::clone(lookup);
        let running = Arc::clone(&slot);
        let (repository, digest) = (repository.to_owned(), digest.to_owned());
        std::thread::spawn(move || {
            let evidence = lookup.lookup(&repository, &digest);
            let mut result = running
                .result
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *result = Some((evidence, Instant::now()));
            running.done.notify_all();
        });
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DIGEST: &str = "sha256:256b0065328fcc3d0e07603b61bd417843ffa8add4911e16b248592ca4d5bd64";
    const OTHER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn container(image: &str, digest: &str, annotations: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            id: "abc".into(),
            image: image.into(),
            image_digest: digest.into(),
            k8s_pod_annotations: annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..ContainerInfo::default()
        }
    }

    #[test]
    fn digest_comes_only_from_the_runtime() {
        let c = container("reg.example:5000/team/app:1.0", DIGEST, &[]);
        assert_eq!(
            running_digest(&c),
            Some(("reg.example:5000/team/app".into(), DIGEST.into()))
        );
        let pinned = container(&format!("team/app@{DIGEST}"), "", &[]);
        assert_eq!(
            running_digest(&pinned),
            Some(("team/app".into(), DIGEST.into()))
        );
        // A tag alone is not a digest, and neither is garbage.
        assert_eq!(running_digest(&container("team/app:1.0", "", &[])), None);
        assert_eq!(
            running_digest(&container("team/app:1.0", "sha256:xyz", &[])),
            None
        );
    }

    #[test]
    fn admission_annotation_is_read_for_this_image_only() {
        let pass = format!(r#"{{"docker.io/library/nginx@{DIGEST}":"pass"}}"#);
        let annotations = [(VERIFY_IMAGES_ANNOTATION.to_owned(), pass)];
        assert_eq!(
            admission_verdict(&annotations, "nginx", DIGEST),
            Some(SignatureStatus::Verified)
        );
        assert_eq!(
            admission_verdict(&annotations, "nginx", OTHER),
            None,
            "another digest"
        );
        assert_eq!(
            admission_verdict(&annotations, "httpd", DIGEST),
            None,
            "another image"
        );
        let fail = [(
            VERIFY_IMAGES_ANNOTATION.to_owned(),
            r#"{"ghcr.io/o/app:1":"fail","ghcr.io/o/app:2":"pass"}"#.to_owned(),
        )];
        assert_eq!(
            admission_verdict(&fail, "ghcr.io/o/app", DIGEST),
            Some(SignatureStatus::Unverified)
        );
        let skip = [(
            VERIFY_IMAGES_ANNOTATION.to_owned(),
            r#"{"ghcr.io/o/app:1":"skip"}"#.to_owned(),
        )];
        assert_eq!(admission_verdict(&skip, "ghcr.io/o/app", DIGEST), None);
        let broken = [(VERIFY_IMAGES_ANNOTATION.to_owned(), "not json".to_owned())];
        assert_eq!(admission_verdict(&broken, "ghcr.io/o/app", DIGEST), None);
    }

    #[test]
    fn counts_sealwatch_and_trivy_reports() {
        let sealwatch = json!({"scanner": {"result": {"results": [
            {"vulnerabilities": [{"severity": "CRITICAL"}, {"severity": "HIGH"}, {"severity": "HIGH"}]},
            {"vulnerabilities": [{"severity": "LOW"}, {"severity": "CRITICAL"}]}
        ]}}});
        assert_eq!(
            cve_counts(&sealwatch),
            Some(CveCounts {
                critical: 2,
                high: 2
            })
        );
        let trivy = json!({"scanner": {"result": {"Results": [
            {"Vulnerabilities": [{"Severity": "HIGH"}]}, {"Vulnerabilities": null}
        ]}}});
        assert_eq!(
            cve_counts(&trivy),
            Some(CveCounts {
                critical: 0,
                high: 1
            })
        );
        assert_eq!(cve_counts(&json!({"scanner": {"result": {}}})), None);
        assert_eq!(cve_counts(&json!({})), None);
    }

    #[test]
    fn newest_scan_wins() {
        let old = json!({"metadata": {"scanFinishedOn": "2026-01-01T00:00:00Z"}, "n": 1});
        let new = json!({"metadata": {"scanFinishedOn": "2026-03-01T00:00:00+01:00"}, "n": 2});
        let none = json!({"n": 3});
        let list = [old, new.clone(), none];
        assert_eq!(newest_scan(&list), Some(&new));
    }

    struct Counting {
        calls: AtomicUsize,
        delay: Duration,
        incomplete: bool,
    }

    impl EvidenceLookup for Counting {
        fn lookup(&self, _: &str, _: &str) -> RegistryEvidence {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            RegistryEvidence {
                signature: SignatureStatus::Verified,
                signer: Some("sha256:key".into()),
                signer_issuer: None,
                cves: Some(CveCounts {
                    critical: 1,
                    high: 3,
                }),
                retry: self.incomplete,
            }
        }
    }

    #[test]
    fn prefetch_starts_the_lookup_once_per_container_with_an_image() {
        let lookup = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(0),
            incomplete: false,
        });
        let cache = ProvenanceCache::new(Some(lookup.clone()), Duration::from_secs(30), 10);
        let event_in = |container: ContainerInfo| {
            let mut event = Event::new(
                sealwatch_rules::event::EventType::from_name("execve")
                    .unwrap_or_else(|| panic!("execve is an event type")),
            );
            event.thread = Some(Arc::new(sealwatch_rules::event::ThreadInfo {
                container_id: container.id.clone(),
                container: Some(Arc::new(container)),
                ..Default::default()
            }));
            event
        };
        // The runtime has not named the image yet: nothing to look up, and the container is
        // not marked as done.
        cache.prefetch(&event_in(container("", "", &[])));
        cache.prefetch(&event_in(container("r.example/a:1", DIGEST, &[])));
        cache.prefetch(&event_in(container("r.example/a:1", DIGEST, &[])));
        // The lookup ran before any alert asked; the alert then finds the answer.
        let p = cache
            .provenance(&container("r.example/a:1", DIGEST, &[]))
            .unwrap_or_else(|| panic!("has an image"));
        assert_eq!(p.signature, SignatureStatus::Verified);
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn one_lookup_per_digest_and_a_bounded_wait() {
        let lookup = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(0),
            incomplete: false,
        });
        let cache = ProvenanceCache::new(Some(lookup.clone()), Duration::from_secs(30), 10);
        let c = container("r.example/a:1", DIGEST, &[]);
        for _ in 0..3 {
            let p = cache
                .provenance(&c)
                .unwrap_or_else(|| panic!("has an image"));
            assert_eq!(p.signature, SignatureStatus::Verified);
            assert_eq!(p.signer.as_deref(), Some("sha256:key"));
            assert_eq!(
                p.cves,
                Some(CveCounts {
                    critical: 1,
                    high: 3
                })
            );
        }
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);

        // An incomplete answer (registry unreachable) is asked for again once it is old enough.
        let flaky = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(0),
            incomplete: true,
        });
        let cache = ProvenanceCache::new(Some(flaky.clone()), Duration::from_secs(30), 10)
            .with_retry_after(Duration::ZERO);
        for _ in 0..3 {
            cache.provenance(&c);
        }
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);

        // A lookup slower than the wait: reported unknown, not waited for.
        let slow = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(500),
            incomplete: false,
        });
        let cache = ProvenanceCache::new(Some(slow), Duration::from_millis(10), 10);
        let p = cache
            .provenance(&c)
            .unwrap_or_else(|| panic!("has an image"));
        assert_eq!(p.signature, SignatureStatus::Unknown);
        assert_eq!(p.signer, None);
        assert_eq!(
            p.digest.as_deref(),
            Some(DIGEST),
            "the digest is still known"
        );

        // Admission's verdict wins over "unknown"; no digest means no lookup at all.
        let cache = ProvenanceCache::new(None, Duration::from_secs(1), 10);
        let annotated = container(
            "r.example/a:1",
            DIGEST,
            &[(VERIFY_IMAGES_ANNOTATION, r#"{"r.example/a:1":"pass"}"#)],
        );
        let p = cache
            .provenance(&annotated)
            .unwrap_or_else(|| panic!("has an image"));
        assert_eq!(p.signature, SignatureStatus::Verified);
        assert_eq!(p.signer, None, "admission does not say who signed");
        let p = cache
            .provenance(&container("r.example/a:1", "", &[]))
            .unwrap_or_else(|| panic!("has an image"));
        assert_eq!(p.digest, None);
        assert_eq!(p.signature, SignatureStatus::Unknown);
        assert_eq!(cache.provenance(&container("", "", &[])), None);
    }
}

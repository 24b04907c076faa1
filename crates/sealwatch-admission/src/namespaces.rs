//! Namespace labels for `namespaceSelector`.
//!
//! An AdmissionReview names the request's namespace but does not carry its labels, so a policy
//! that selects namespaces by label needs them from elsewhere: from `Namespace` manifests (or a
//! Kyverno CLI values file) for `policy apply`, and from the Kubernetes API for `admission
//! serve`. The API lookup is a `GET /api/v1/namespaces/NAME` with the Pod's service-account
//! token, cached per namespace for a short TTL (labels change rarely, and a stale answer is
//! bounded by the TTL). Kyverno keeps an informer (list + watch) instead; a cached GET needs
//! only the `get` verb and no memory for namespaces nobody deploys to.
//!
//! Only requests that a namespaceSelector could see pay for a lookup: the policies in force must
//! use one, and the object must be namespaced and not a Namespace itself (like Kyverno, which
//! evaluates a Namespace's own selector against no labels).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sealwatch_policy::model::{MatchResources, Policy};
use sealwatch_policy::{wildcard_match, PolicySet};
use serde_json::Value;

use crate::Error;

/// Labels of one namespace.
pub type Labels = BTreeMap<String, String>;

/// The label the API server puts on every namespace (Kubernetes 1.21+), so selectors can name
/// namespaces; offline sources add it too.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where the service-account token and CA are mounted in a Pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Does a filter of `resources` have a namespaceSelector (for an object of `kind`, if given)?
fn uses_selector(resources: &MatchResources, kind: Option<&str>) -> bool {
    resources.any.iter().chain(&resources.all).any(|filter| {
        filter.namespace_selector.is_some()
            && (filter.kinds.is_empty()
                || kind.is_none_or(|kind| {
                    filter
                        .kinds
                        .iter()
                        .any(|selector| wildcard_match(&selector.kind, kind))
                }))
    })
}

fn policy_uses_selector(policy: &Policy, kind: Option<&str>) -> bool {
    policy.rules.iter().any(|rule| {
        uses_selector(&rule.match_resources, kind)
            || rule
                .exclude_resources
                .as_ref()
                .is_some_and(|exclude| uses_selector(exclude, kind))
    })
}

/// The policies with a `namespaceSelector` anywhere (whatever the kind).
pub fn policies_selecting_namespaces(set: &PolicySet) -> Vec<&Policy> {
    set.policies
        .iter()
        .filter(|policy| policy_uses_selector(policy, None))
        .collect()
}

/// The policies whose `namespaceSelector` could decide whether a rule applies to an object of
/// `kind` in `namespace`: a `match` or `exclude` filter with a selector and a kind that fits.
pub fn policies_with_namespace_selector<'p>(
    set: &'p PolicySet,
    kind: &str,
    namespace: &str,
) -> Vec<&'p Policy> {
    set.policies
        .iter()
        .filter(|policy| policy.namespace.as_deref().is_none_or(|ns| ns == namespace))
        .filter(|policy| policy_uses_selector(policy, Some(kind)))
        .collect()
}

/// What a request needs for its namespace labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelNeed {
    /// No policy looks at namespace labels, or the object is a Namespace: leave them unknown.
    None,
    /// A cluster-scoped object: its namespace has no labels (an empty set, as in Kyverno).
    Empty,
    /// Look up the labels of this namespace.
    Lookup(String),
}

/// Decides whether the labels of a request's namespace are needed.
pub fn label_need(set: &PolicySet, kind: &str, namespace: &str) -> LabelNeed {
    if kind == "Namespace" || policies_with_namespace_selector(set, kind, namespace).is_empty() {
        LabelNeed::None
    } else if namespace.is_empty() {
        LabelNeed::Empty
    } else {
        LabelNeed::Lookup(namespace.to_owned())
    }
}

/// The labels of a `Namespace` object, with [`NAME_LABEL`] added when missing (the API server
/// always sets it). `None` when `object` is not a Namespace.
pub fn namespace_object_labels(object: &Value) -> Option<(String, Labels)> {
    if object.get("kind").and_then(Value::as_str) != Some("Namespace") {
        return None;
    }
    let name = object.pointer("/metadata/name").and_then(Value::as_str)?;
    let mut labels: Labels = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    labels
        .entry(NAME_LABEL.to_owned())
        .or_insert_with(|| name.to_owned());
    Some((name.to_owned(), labels))
}

/// A future returned by [`NamespaceLookup::labels`].
pub type LabelsFuture<'a> = Pin<Box<dyn Future<Output = Result<Labels, Error>> + Send + 'a>>;

/// Looks up the labels of a namespace (the Kubernetes API in production).
pub trait NamespaceLookup: Send + Sync + 'static {
    fn labels<'a>(&'a self, namespace: &'a str) -> LabelsFuture<'a>;
}

/// How to reach the Kubernetes API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeApiConfig {
    /// `https://host:port`.
    pub server: String,
    /// Bearer token file; read again on every lookup because the kubelet rotates it.
    pub token_file: PathBuf,
    /// PEM bundle that signs the API server's certificate.
    pub ca_file: PathBuf,
    /// Bound on one lookup (the admission deadline may cut it shorter).
    pub timeout: Duration,
}

impl KubeApiConfig {
    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT` from
    /// `env`, token and CA under `account_dir`. `None` when not running in a Pod.
    pub fn in_cluster(
        env: impl Fn(&str) -> Option<String>,
        account_dir: &Path,
    ) -> Option<KubeApiConfig> {
        let host = env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty())?;
        let port = env("KUBERNETES_SERVICE_PORT")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "443".into());
        // An IPv6 service address needs brackets in a URL.
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        Some(KubeApiConfig {
            server: format!("https://{host}:{port}"),
            token_file: account_dir.join("token"),
            ca_file: account_dir.join("ca.crt"),
            timeout: Duration::from_secs(5),
        })
    }
}

/// Namespace lookups against the Kubernetes API.
pub struct KubeApiNamespaces {
    config: KubeApiConfig,
    client: reqwest::Client,
}

impl KubeApiNamespaces {
    /// Builds the client; the CA file must be readable and hold at least one certificate.
    pub fn new(config: KubeApiConfig) -> Result<Self, Error> {
        let pem = std::fs::read(&config.ca_file).map_err(|source| Error::Read {
            path: config.ca_file.clone(),
            source,
        })?;
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::KubeApi {
                reason: format!("invalid CA bundle {}: {e}", config.ca_file.display()),
            })?;
        if certificates.is_empty() {
            return Err(Error::KubeApi {
                reason: format!("no certificate in CA bundle {}", config.ca_file.display()),
            });
        }
        let mut builder = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .timeout(config.timeout)
            .connect_timeout(config.timeout);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
        let client = builder.build().map_err(|e| Error::KubeApi {
            reason: format!("cannot build the API client: {e}"),
        })?;
        Ok(KubeApiNamespaces { config, client })
    }

    async fn fetch(&self, namespace: &str) -> Result<Labels, Error> {
        let fail = |reason: String| Error::NamespaceLookup {
            namespace: namespace.to_owned(),
            reason,
        };
        // Namespace names are DNS labels; anything else would change the URL's path.
        if namespace.is_empty()
            || !namespace
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(fail("not a valid namespace name".into()));
        }
        let token = std::fs::read_to_string(&self.config.token_file).map_err(|e| {
            fail(format!(
                "cannot read the service-account token {}: {e}",
                self.config.token_file.display()
            ))
        })?;
        let url = format!("{}/api/v1/namespaces/{namespace}", self.config.server);
        let response = self
            .client
            .get(&url)
            .bearer_auth(token.trim())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| fail(format!("GET {url}: {}", error_chain(&e))))?;
        let status = response.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => " (the service-account token was not accepted)",
                403 => " (RBAC: the service account needs `get` on namespaces)",
                404 => " (no such namespace)",
                _ => "",
            };
            return Err(fail(format!("GET {url}: HTTP {status}{hint}")));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| fail(format!("GET {url}: invalid JSON: {e}")))?;
        namespace_object_labels(&body)
            .filter(|(name, _)| name == namespace)
            .map(|(_, labels)| labels)
            .ok_or_else(|| {
                fail(format!(
                    "GET {url}: the answer is not Namespace {namespace}"
                ))
            })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

impl NamespaceLookup for KubeApiNamespaces {
    fn labels<'a>(&'a self, namespace: &'a str) -> LabelsFuture<'a> {
        Box::pin(self.fetch(namespace))
    }
}

/// Whether a label lookup was answered from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupEvent {
    Hit,
    Miss,
    Error,
}

/// Labels per namespace for `ttl`; failures are not stored, so the next request asks again.
pub struct NamespaceLabels {
    lookup: Box<dyn NamespaceLookup>,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Labels, Instant)>>,
}

impl NamespaceLabels {
    pub fn new(lookup: Box<dyn NamespaceLookup>, ttl: Duration, capacity: usize) -> Self {
        NamespaceLabels {
            lookup,
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, namespace: &str) -> Option<Labels> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(namespace)
            .filter(|(_, stored)| stored.elapsed() < self.ttl)
            .map(|(labels, _)| labels.clone())
    }

    /// The labels of `namespace`, from the cache or the lookup, by `deadline`.
    pub async fn get(
        &self,
        namespace: &str,
        deadline: Instant,
    ) -> (Result<Labels, Error>, LookupEvent) {
        if let Some(labels) = self.cached(namespace) {
            return (Ok(labels), LookupEvent::Hit);
        }
        let lookup = self.lookup.labels(namespace);
        let result =
            match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), lookup).await {
                Ok(result) => result,
                Err(_) => Err(Error::NamespaceLookup {
                    namespace: namespace.to_owned(),
                    reason: "timed out".into(),
                }),
            };
        match result {
            Ok(labels) => {
                let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
                if entries.len() >= self.capacity && !entries.contains_key(namespace) {
                    let ttl = self.ttl;
                    entries.retain(|_, (_, stored)| stored.elapsed() < ttl);
                    if entries.len() >= self.capacity {
                        if let Some(oldest) = entries
                            .iter()
                            .min_by_key(|(_, (_, stored))| *stored)
                            .map(|(name, _)| name.clone())
                        {
                            entries.remove(&oldest);
                        }
                    }
                }
                entries.insert(namespace.to_owned(), (labels.clone(), Instant::now()));
                (Ok(labels), LookupEvent::Miss)
            }
            Err(error) => (Err(error), LookupEvent::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn in_cluster_configuration_comes_from_the_environment() {
        let dir = Path::new("/sa");
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = KubeApiConfig::in_cluster(
            env(&[
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("KUBERNETES_SERVICE_PORT", "6443"),
            ]),
            dir,
        );
        assert_eq!(
            config.as_ref().map(|c| c.server.as_str()),
            Some("https://10.96.0.1:6443")
        );
        assert_eq!(
            config.map(|c| (c.token_file, c.ca_file)),
            Some((dir.join("token"), dir.join("ca.crt")))
        );
        let v6 = KubeApiConfig::in_cluster(env(&[("KUBERNETES_SERVICE_HOST", "fd00::1")]), dir);
        assert_eq!(
            v6.map(|c| c.server),
            Some("https://[fd00::1]:443".to_owned())
        );
        assert_eq!(KubeApiConfig::in_cluster(env(&[]), dir), None);
    }

    #[test]
    fn namespace_objects_give_labels_with_the_name_label() {
        let check = |object: Value, expect: Option<(&str, &[(&str, &str)])>| {
            let expect = expect.map(|(name, labels)| {
                (
                    name.to_owned(),
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect::<Labels>(),
                )
            });
            assert_eq!(namespace_object_labels(&object), expect, "{object}");
        };
        check(
            json!({"kind": "Namespace", "metadata": {"name": "prod", "labels": {"env": "prod"}}}),
            Some(("prod", &[("env", "prod"), (NAME_LABEL, "prod")])),
        );
        check(
            json!({"kind": "Namespace", "metadata": {"name": "bare"}}),
            Some(("bare", &[(NAME_LABEL, "bare")])),
        );
        check(
            json!({"kind": "Namespace", "metadata": {"name": "a", "labels": {NAME_LABEL: "a"}}}),
            Some(("a", &[(NAME_LABEL, "a")])),
        );
        check(json!({"kind": "Pod", "metadata": {"name": "p"}}), None);
        check(json!({"kind": "Namespace", "metadata": {}}), None);
    }
}

//! The part of an admission request that policies look at, and `match`/`exclude` evaluation.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::image::wildcard_match;
use crate::model::{
    KindSelector, LabelOperator, LabelSelector, MatchResources, Operation, Policy, ResourceFilter,
    Rule,
};

/// The user who made the request, with the RBAC roles the caller resolved for them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
    /// `ns:role` names bound to the user (resolved by the caller; empty if unknown).
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
}

/// What `plan` and `decide` need to know about one admission request.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionRequestView<'a> {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Empty unless the request is for a subresource.
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub operation: Operation,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Labels of the request's namespace, if the caller looked them up (needed by
    /// `namespaceSelector`; a selector never matches when they are unknown).
    pub namespace_labels: Option<BTreeMap<String, String>>,
    pub user: UserInfo,
    /// The object being admitted (`request.object`).
    pub object: &'a Value,
    /// When the request arrived; attestation conditions such as `time_since` use it.
    pub now: OffsetDateTime,
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn string_at<'v>(value: &'v Value, keys: &[&str]) -> &'v str {
    keys.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl<'a> AdmissionRequestView<'a> {
    /// Builds a view of an AdmissionReview v1 `request` object. Returns `None` when the
    /// operation is missing or unknown. Names fall back to `object.metadata.name` (CREATE with
    /// `generateName` has an empty `request.name`).
    pub fn from_request_json(request: &'a Value, now: OffsetDateTime) -> Option<Self> {
        let operation = Operation::parse(string_at(request, &["operation"]))?;
        static NULL: Value = Value::Null;
        let object = match request.get("object") {
            Some(object) if !object.is_null() => object,
            _ => request.get("oldObject").unwrap_or(&NULL),
        };
        let metadata = object.get("metadata");
        let mut name = string_at(request, &["name"]).to_owned();
        if name.is_empty() {
            name = string_at(object, &["metadata", "name"]).to_owned();
        }
        Some(AdmissionRequestView {
            group: string_at(request, &["kind", "group"]).to_owned(),
            version: string_at(request, &["kind", "version"]).to_owned(),
            kind: string_at(request, &["kind", "kind"]).to_owned(),
            subresource: string_at(request, &["subResource"]).to_owned(),
            namespace: string_at(request, &["namespace"]).to_owned(),
            name,
            operation,
            labels: string_map(metadata.and_then(|m| m.get("labels"))),
            annotations: string_map(metadata.and_then(|m| m.get("annotations"))),
            namespace_labels: None,
            user: UserInfo {
                username: string_at(request, &["userInfo", "username"]).to_owned(),
                groups: request
                    .get("userInfo")
                    .and_then(|u| u.get("groups"))
                    .and_then(Value::as_array)
                    .map(|groups| {
                        groups
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                roles: Vec::new(),
                cluster_roles: Vec::new(),
            },
            object,
            now,
        })
    }
}

/// Does `rule` of `policy` apply to the request (match, minus exclude, policy namespace)?
pub fn rule_applies(policy: &Policy, rule: &Rule, request: &AdmissionRequestView<'_>) -> bool {
    if let Some(namespace) = &policy.namespace {
        if *namespace != request.namespace {
            return false;
        }
    }
    if !match_resources(&rule.match_resources, request) {
        return false;
    }
    match &rule.exclude_resources {
        Some(exclude) => !match_resources(exclude, request),
        None => true,
    }
}

fn match_resources(resources: &MatchResources, request: &AdmissionRequestView<'_>) -> bool {
    if resources.any.is_empty() && resources.all.is_empty() {
        // An empty `match` matches nothing; an empty `exclude` excludes nothing.
        return false;
    }
    let any_ok = resources.any.is_empty()
        || resources
            .any
            .iter()
            .any(|filter| filter_matches(filter, request));
    let all_ok = resources
        .all
        .iter()
        .all(|filter| filter_matches(filter, request));
    any_ok && all_ok
}

fn filter_matches(filter: &ResourceFilter, request: &AdmissionRequestView<'_>) -> bool {
    if !filter.kinds.is_empty() && !filter.kinds.iter().any(|k| kind_matches(k, request)) {
        return false;
    }
    if !filter.names.is_empty()
        && !filter
            .names
            .iter()
            .any(|n| wildcard_match(n, &request.name))
    {
        return false;
    }
    if !filter.namespaces.is_empty()
        && !filter
            .namespaces
            .iter()
            .any(|n| wildcard_match(n, &request.namespace))
    {
        return false;
    }
    if !filter.annotations.iter().all(|(key, pattern)| {
        request
            .annotations
            .get(key)
            .is_some_and(|value| wildcard_match(pattern, value))
    }) {
        return false;
    }
    if let Some(selector) = &filter.selector {
        if !selector_matches(selector, &request.labels) {
            return false;
        }
    }
    if let Some(selector) = &filter.namespace_selector {
        match &request.namespace_labels {
            Some(labels) if selector_matches(selector, labels) => {}
            _ => return false,
        }
    }
    if !filter.operations.is_empty() && !filter.operations.contains(&request.operation) {
        return false;
    }
    let has_user_filter =
        !filter.subjects.is_empty() || !filter.roles.is_empty() || !filter.cluster_roles.is_empty();
    if has_user_filter {
        let subject_ok = filter
            .subjects
            .iter()
            .any(|subject| match subject.kind.as_str() {
                "User" => wildcard_match(&subject.name, &request.user.username),
                "Group" => request
                    .user
                    .groups
                    .iter()
                    .any(|g| wildcard_match(&subject.name, g)),
                "ServiceAccount" => {
                    let namespace = subject.namespace.as_deref().unwrap_or_default();
                    request.user.username
                        == format!("system:serviceaccount:{namespace}:{}", subject.name)
                }
                _ => false,
            });
        let role_ok = filter.roles.iter().any(|r| request.user.roles.contains(r));
        let cluster_role_ok = filter
            .cluster_roles
            .iter()
            .any(|r| request.user.cluster_roles.contains(r));
        if !(subject_ok || role_ok || cluster_role_ok) {
            return false;
        }
    }
    true
}

fn kind_matches(selector: &KindSelector, request: &AdmissionRequestView<'_>) -> bool {
    let part = |pattern: &Option<String>, value: &str| {
        pattern.as_deref().is_none_or(|p| wildcard_match(p, value))
    };
    let subresource_ok = match &selector.subresource {
        Some(sub) => wildcard_match(sub, &request.subresource),
        // `kubectl debug` adds containers through the `pods/ephemeralcontainers` subresource;
        // like Kyverno for image rules, a plain `Pod` selector covers it, or debug containers
        // would bypass verification.
        None => {
            request.subresource.is_empty()
                || (request.kind == "Pod" && request.subresource == "ephemeralcontainers")
        }
    };
    wildcard_match(&selector.kind, &request.kind)
        && part(&selector.group, &request.group)
        && part(&selector.version, &request.version)
        && subresource_ok
}

/// Kubernetes label-selector semantics; `matchLabels` values may be wildcards (Kyverno).
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector.match_labels.iter().all(|(key, pattern)| {
        labels
            .get(key)
            .is_some_and(|value| wildcard_match(pattern, value))
    });
    labels_ok
        && selector.match_expressions.iter().all(|expression| {
            let value = labels.get(&expression.key);
            match expression.operator {
                LabelOperator::In => value.is_some_and(|v| expression.values.contains(v)),
                LabelOperator::NotIn => value.is_none_or(|v| !expression.values.contains(v)),
                LabelOperator::Exists => value.is_some(),
                LabelOperator::DoesNotExist => value.is_none(),
            }
        })
}

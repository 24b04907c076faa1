//! Loader for Kyverno `ClusterPolicy` and `Policy` (`kyverno.io/v1`) YAML.
//!
//! Every document of a stream is read field by field against the Kyverno schema. Unknown
//! fields, wrong types, bad values, and Kyverno features sealwatch does not implement are all
//! reported as diagnostics with file:line:column; loading continues so that one run reports
//! every problem.

use std::collections::{BTreeMap, BTreeSet};

use crate::autogen;
use crate::conditions::{check_template, Condition, ConditionBlock, Operator};
use crate::diag::{Diagnostic, Severity};
use crate::model::{
    AttestationCheck, Attestor, AttestorKind, AttestorSet, CertificateAttestor, CtLog,
    FailureAction, FailurePolicy, ImageCheck, KeyAttestor, KeySource, KeylessAttestor,
    KindSelector, LabelExpression, LabelOperator, LabelSelector, MatchResources, Operation, Policy,
    PolicySet, PolicySource, Rekor, ResourceFilter, Rule, Subject, VerifierType,
};
use crate::yaml::{parse_stream, Node, NodeValue, Pos};

/// Loads every policy document in `bytes`. `file` is only used in diagnostics.
///
/// Documents that are not policies, or not valid enough to evaluate, are left out of the set
/// and reported; invalid fields inside an otherwise usable policy are reported and left at
/// their defaults.
pub fn load_policies(file: &str, bytes: &[u8]) -> (PolicySet, Vec<Diagnostic>) {
    let mut loader = Loader {
        file,
        diagnostics: Vec::new(),
    };
    let mut set = PolicySet::default();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            loader.error(
                Pos { line: 1, column: 1 },
                format!("file is not UTF-8: {error}"),
            );
            return (set, loader.diagnostics);
        }
    };
    let (documents, syntax_error) = parse_stream(text);
    for document in &documents {
        if document.root.is_null() {
            continue;
        }
        if let Some(policy) = loader.policy(&document.root) {
            set.policies.push(policy);
        }
    }
    if let Some(error) = syntax_error {
        loader.error(error.pos, format!("YAML syntax error: {}", error.message));
    }
    loader
        .diagnostics
        .sort_by(|a, b| (a.line, a.column, &a.message).cmp(&(b.line, b.column, &b.message)));
    (set, loader.diagnostics)
}

struct Loader<'f> {
    file: &'f str,
    diagnostics: Vec<Diagnostic>,
}

/// The fields of one mapping, consumed one by one; whatever is left is unknown.
struct Fields<'n> {
    path: String,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
    taken: Vec<bool>,
}

impl<'n> Fields<'n> {
    fn take(&mut self, name: &str) -> Option<&'n Node> {
        let mut found = None;
        for (index, (key, _, value)) in self.entries.iter().enumerate() {
            if *key == name && !self.taken.get(index).copied().unwrap_or(true) {
                if let Some(taken) = self.taken.get_mut(index) {
                    *taken = true;
                }
                // The first occurrence wins; duplicates are reported by `Loader::fields`.
                if found.is_none() {
                    found = Some(*value);
                }
            }
        }
        found.filter(|node| !node.is_null())
    }

    /// Where the key `name` is written.
    fn key_pos(&self, name: &str) -> Option<Pos> {
        self.entries
            .iter()
            .find(|(key, _, _)| *key == name)
            .map(|(_, key, _)| key.pos)
    }

    fn child(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }
}

fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

impl Loader<'_> {
    fn error(&mut self, pos: Pos, message: String) {
        self.diagnostics
            .push(Diagnostic::new(self.file, pos, Severity::Error, message));
    }

    fn warning(&mut self, pos: Pos, message: String) {
        self.diagnostics
            .push(Diagnostic::new(self.file, pos, Severity::Warning, message));
    }

    fn type_error(&mut self, node: &Node, path: &str, expected: &str) {
        self.error(
            node.pos,
            format!("{path}: expected {expected}, found {}", node.type_name()),
        );
    }

    /// Opens a mapping; reports a type error (and returns `None`) for anything else.
    fn fields<'n>(&mut self, node: &'n Node, path: &str) -> Option<Fields<'n>> {
        let NodeValue::Map(entries) = &node.value else {
            self.type_error(node, path, "a mapping");
            return None;
        };
        let mut seen = BTreeSet::new();
        let mut fields = Fields {
            path: path.to_owned(),
            entries: Vec::with_capacity(entries.len()),
            taken: Vec::with_capacity(entries.len()),
        };
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                self.error(key.pos, format!("{path}: mapping keys must be strings"));
                continue;
            };
            if !seen.insert(name) {
                self.error(key.pos, format!("{}: duplicate field", fields.child(name)));
                continue;
            }
            fields.entries.push((name, key, value));
            fields.taken.push(false);
        }
        Some(fields)
    }

    /// Reports every field nobody took. `ignored` fields are accepted without effect.
    fn finish(&mut self, fields: Fields<'_>, ignored: &[&str]) {
        for (index, (name, key, _)) in fields.entries.iter().enumerate() {
            if fields.taken.get(index).copied().unwrap_or(false) || ignored.contains(name) {
                continue;
            }
            self.error(key.pos, format!("{}: unknown field", fields.child(name)));
        }
    }

    /// Reports a field that is valid Kyverno but not implemented here.
    fn unsupported(&mut self, fields: &mut Fields<'_>, name: &str, why: &str) {
        if let Some(node) = fields.take(name) {
            let path = fields.child(name);
            self.error(
                fields.key_pos(name).unwrap_or(node.pos),
                format!("{path}: not supported by sealwatch ({why})"),
            );
        }
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            NodeValue::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.type_error(node, path, "a string");
                None
            }
        }
    }

    fn opt_string(&mut self, fields: &mut Fields<'_>, name: &str) -> Option<String> {
        let node = fields.take(name)?;
        let path = fields.child(name);
        self.string(node, &path)
    }

    fn bool_field(&mut self, fields: &mut Fields<'_>, name: &str, default: bool) -> bool {
        let Some(node) = fields.take(name) else {
            return default;
        };
        match node.to_json() {
            serde_json::Value::Bool(value)
                if !matches!(&node.value, NodeValue::Scalar { quoted: true, .. }) =>
            {
                value
            }
            _ => {
                let path = fields.child(name);
                self.type_error(node, &path, "a boolean");
                default
            }
        }
    }

    fn integer(&mut self, node: &Node, path: &str) -> Option<i64> {
        match (&node.value, node.to_json()) {
            (NodeValue::Scalar { quoted: false, .. }, serde_json::Value::Number(n))
                if n.is_i64() =>
            {
                n.as_i64()
            }
            _ => {
                self.type_error(node, path, "an integer");
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, path: &str) -> Vec<String> {
        let NodeValue::Seq(items) = &node.value else {
            self.type_error(node, path, "a list of strings");
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.string(item, &index_path(path, index)))
            .collect()
    }

    fn opt_string_list(&mut self, fields: &mut Fields<'_>, name: &str) -> Vec<String> {
        match fields.take(name) {
            Some(node) => {
                let path = fields.child(name);
                self.string_list(node, &path)
            }
            None => Vec::new(),
        }
    }

    fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let NodeValue::Map(entries) = &node.value else {
            self.type_error(node, path, "a mapping of strings");
            return map;
        };
        for (key, value) in entries {
            let Some(key_text) = key.as_scalar() else {
                self.error(key.pos, format!("{path}: mapping keys must be strings"));
                continue;
            };
            let child = format!("{path}.{key_text}");
            // Kubernetes label and annotation values are strings; accept plain scalars
            // (numbers, booleans) in their written form, as `kubectl` does not.
            if let Some(text) = self.string(value, &child) {
                map.insert(key_text.to_owned(), text);
            }
        }
        map
    }

    fn list<'n>(&mut self, node: &'n Node, path: &str) -> &'n [Node] {
        match &node.value {
            NodeValue::Seq(items) => items,
            _ => {
                self.type_error(node, path, "a list");
                &[]
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Documents

    fn policy(&mut self, root: &Node) -> Option<Policy> {
        let mut fields = self.fields(root, "")?;
        let api_version = self.opt_string(&mut fields, "apiVersion");
        let kind = self.opt_string(&mut fields, "kind");
        let source = match kind.as_deref() {
            Some("ClusterPolicy") => PolicySource::KyvernoClusterPolicy,
            Some("Policy") => PolicySource::KyvernoPolicy,
            Some(other @ ("ImageValidatingPolicy" | "NamespacedImageValidatingPolicy")) => {
                self.error(
                    root.pos,
                    format!("kind {other} (policies.kyverno.io) is not supported yet; only kyverno.io/v1 ClusterPolicy and Policy are"),
                );
                return None;
            }
            Some(other) => {
                self.error(
                    root.pos,
                    format!(
                        "kind {other:?} is not a Kyverno ClusterPolicy or Policy; document skipped"
                    ),
                );
                return None;
            }
            None => {
                self.error(root.pos, "document has no kind; skipped".to_owned());
                return None;
            }
        };
        match api_version.as_deref() {
            Some("kyverno.io/v1") => {}
            Some(version @ ("kyverno.io/v2beta1" | "kyverno.io/v2")) => self.warning(
                root.pos,
                format!("apiVersion {version}: loaded with kyverno.io/v1 semantics"),
            ),
            Some(other) => {
                self.error(
                    root.pos,
                    format!("apiVersion {other:?} is not kyverno.io/v1; document skipped"),
                );
                return None;
            }
            None => {
                self.error(root.pos, "document has no apiVersion; skipped".to_owned());
                return None;
            }
        }

        let (name, namespace, annotations) = match fields.take("metadata") {
            Some(metadata) => self.metadata(metadata),
            None => (None, None, BTreeMap::new()),
        };
        let Some(name) = name else {
            self.error(root.pos, "policy has no metadata.name; skipped".to_owned());
            return None;
        };
        let namespace = match source {
            PolicySource::KyvernoClusterPolicy => {
                if namespace.is_some() {
                    self.warning(
                        root.pos,
                        format!("ClusterPolicy {name}: metadata.namespace is ignored for a cluster-scoped policy"),
                    );
                }
                None
            }
            PolicySource::KyvernoPolicy => Some(namespace.unwrap_or_else(|| {
                self.warning(
                    root.pos,
                    format!("Policy {name} has no metadata.namespace; using \"default\""),
                );
                "default".to_owned()
            })),
        };
        let Some(spec) = fields.take("spec") else {
            self.error(root.pos, format!("policy {name} has no spec; skipped"));
            return None;
        };
        self.finish(fields, &["status"]);
        let mut policy = self.spec(spec, name, namespace, source)?;
        let controllers = annotations
            .get(autogen::AUTOGEN_ANNOTATION)
            .map(String::as_str);
        let generated = autogen::generate_rules(&policy.rules, controllers);
        policy.rules.extend(generated);
        Some(policy)
    }

    fn metadata(
        &mut self,
        node: &Node,
    ) -> (Option<String>, Option<String>, BTreeMap<String, String>) {
        let Some(mut fields) = self.fields(node, "metadata") else {
            return (None, None, BTreeMap::new());
        };
        let name = self.opt_string(&mut fields, "name");
        let namespace = self.opt_string(&mut fields, "namespace");
        let annotations = match fields.take("annotations") {
            Some(node) => self.string_map(node, "metadata.annotations"),
            None => BTreeMap::new(),
        };
        if let Some(labels) = fields.take("labels") {
            self.string_map(labels, "metadata.labels");
        }
        self.finish(
            fields,
            &[
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "managedFields",
                "finalizers",
                "ownerReferences",
                "generateName",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ],
        );
        (name, namespace, annotations)
    }

    fn spec(
        &mut self,
        node: &Node,
        name: String,
        namespace: Option<String>,
        source: PolicySource,
    ) -> Option<Policy> {
        let mut fields = self.fields(node, "spec")?;
        let failure_action = match fields.take("validationFailureAction") {
            Some(node) => {
                let value = self.string(node, "spec.validationFailureAction");
                match value.as_deref() {
                    Some("Enforce" | "enforce") => FailureAction::Enforce,
                    Some("Audit" | "audit") => FailureAction::Audit,
                    Some(other) => {
                        self.error(
                            node.pos,
                            format!(
                                "spec.validationFailureAction: {other:?} is not Audit or Enforce"
                            ),
                        );
                        FailureAction::Audit
                    }
                    None => FailureAction::Audit,
                }
            }
            None => FailureAction::Audit,
        };
        self.unsupported(
            &mut fields,
            "validationFailureActionOverrides",
            "per-namespace overrides; use verifyImages[].failureAction",
        );
        let background = self.bool_field(&mut fields, "background", true);
        let admission = self.bool_field(&mut fields, "admission", true);
        let emit_warning = self.bool_field(&mut fields, "emitWarning", false);

        let mut failure_policy = None;
        let mut timeout_seconds = None;
        let legacy_failure_policy = fields
            .take("failurePolicy")
            .map(|n| (n, "spec.failurePolicy"));
        let legacy_timeout = fields
            .take("webhookTimeoutSeconds")
            .map(|n| (n, "spec.webhookTimeoutSeconds"));
        let mut webhook_failure_policy = None;
        let mut webhook_timeout = None;
        if let Some(webhook) = fields.take("webhookConfiguration") {
            if let Some(mut webhook_fields) = self.fields(webhook, "spec.webhookConfiguration") {
                webhook_failure_policy = webhook_fields
                    .take("failurePolicy")
                    .map(|n| (n, "spec.webhookConfiguration.failurePolicy"));
                webhook_timeout = webhook_fields
                    .take("timeoutSeconds")
                    .map(|n| (n, "spec.webhookConfiguration.timeoutSeconds"));
                self.unsupported(
                    &mut webhook_fields,
                    "matchConditions",
                    "CEL match conditions",
                );
                self.finish(webhook_fields, &[]);
            }
        }
        for (legacy, current) in [
            (legacy_failure_policy, webhook_failure_policy),
            (legacy_timeout, webhook_timeout),
        ] {
            if let (Some((node, legacy_path)), Some((_, current_path))) = (legacy, current) {
                self.error(
                    node.pos,
                    format!(
                        "{legacy_path} and {current_path} are both set; use only {current_path}"
                    ),
                );
            }
        }
        if let Some((node, path)) = webhook_failure_policy.or(legacy_failure_policy) {
            failure_policy = match self.string(node, path).as_deref() {
                Some("Fail") => Some(FailurePolicy::Fail),
                Some("Ignore") => Some(FailurePolicy::Ignore),
                Some(other) => {
                    self.error(node.pos, format!("{path}: {other:?} is not Fail or Ignore"));
                    None
                }
                None => None,
            };
        }
        if let Some((node, path)) = webhook_timeout.or(legacy_timeout) {
            if let Some(seconds) = self.integer(node, path) {
                match u32::try_from(seconds) {
                    Ok(seconds @ 1..=30) => timeout_seconds = Some(seconds),
                    _ => self.error(
                        node.pos,
                        format!("{path}: {seconds} is outside 1..30 seconds"),
                    ),
                }
            }
        }
        if let Some(node) = fields.take("applyRules") {
            if self.string(node, "spec.applyRules").as_deref() == Some("One") {
                self.error(
                    node.pos,
                    "spec.applyRules: One is not supported by sealwatch (all matching rules apply)"
                        .to_owned(),
                );
            }
        }
        let mut rules = Vec::new();
        match fields.take("rules") {
            Some(rules_node) => {
                let mut names = BTreeSet::new();
                for (index, rule_node) in self.list(rules_node, "spec.rules").iter().enumerate() {
                    let path = format!("spec.rules[{index}]");
                    if let Some(rule) = self.rule(rule_node, &path) {
                        if !names.insert(rule.name.clone()) {
                            self.error(
                                rule_node.pos,
                                format!("{path}: duplicate rule name {:?}", rule.name),
                            );
                            continue;
                        }
                        rules.push(rule);
                    }
                }
            }
            None => self.error(node.pos, "spec.rules: required".to_owned()),
        }
        self.finish(
            fields,
            &[
                "schemaValidation",
                "useServerSideApply",
                "mutateExistingOnPolicyUpdate",
                "generateExisting",
                "generateExistingOnPolicyUpdate",
            ],
        );
        Some(Policy {
            name,
            namespace,
            source,
            file: self.file.to_owned(),
            failure_action,
            failure_policy: failure_policy.unwrap_or(FailurePolicy::Fail),
            timeout_seconds: timeout_seconds.unwrap_or(10),
            emit_warning,
            admission,
            background,
            rules,
        })
    }

    // ------------------------------------------------------------------------------------------
    // Rules

    fn rule(&mut self, node: &Node, path: &str) -> Option<Rule> {
        let mut fields = self.fields(node, path)?;
        let name = self.opt_string(&mut fields, "name");
        let match_resources = match fields.take("match") {
            Some(node) => self.match_resources(node, &fields.child("match")),
            None => {
                self.error(node.pos, format!("{path}.match: required"));
                None
            }
        };
        let exclude_resources = match fields.take("exclude") {
            Some(node) => self.match_resources(node, &fields.child("exclude")),
            None => None,
        };
        let mut unsupported_kind = false;
        for other in ["mutate", "validate", "generate"] {
            if let Some(node) = fields.take(other) {
                unsupported_kind = true;
                self.error(
                    node.pos,
                    format!("{}: {other} rules are not supported by sealwatch (only verifyImages); rule skipped", fields.child(other)),
                );
            }
        }
        for (field, why) in [
            ("context", "context variables and API lookups"),
            ("preconditions", "rule preconditions"),
            ("celPreconditions", "CEL preconditions"),
            ("imageExtractors", "custom image extractors"),
        ] {
            self.unsupported(&mut fields, field, why);
        }
        let mut image_checks = Vec::new();
        match fields.take("verifyImages") {
            Some(list) => {
                let list_path = fields.child("verifyImages");
                for (index, item) in self.list(list, &list_path).iter().enumerate() {
                    if let Some(check) = self.image_check(item, &index_path(&list_path, index)) {
                        image_checks.push(check);
                    }
                }
            }
            None if !unsupported_kind => {
                self.error(node.pos, format!("{path}: a rule needs verifyImages"));
            }
            None => {}
        }
        self.finish(fields, &["skipBackgroundRequests", "reportProperties"]);
        let Some(name) = name else {
            self.error(node.pos, format!("{path}.name: required"));
            return None;
        };
        if name.len() > 63 {
            self.error(node.pos, format!("{path}.name: longer than 63 characters"));
        }
        if unsupported_kind {
            return None;
        }
        Some(Rule {
            name,
            match_resources: match_resources?,
            exclude_resources,
            image_checks,
            generated_from: None,
        })
    }

    fn match_resources(&mut self, node: &Node, path: &str) -> Option<MatchResources> {
        let mut fields = self.fields(node, path)?;
        let mut result = MatchResources::default();
        for (block, target) in [("any", &mut result.any), ("all", &mut result.all)] {
            if let Some(list) = fields.take(block) {
                let list_path = fields.child(block);
                for (index, item) in self.list(list, &list_path).iter().enumerate() {
                    let item_path = index_path(&list_path, index);
                    if let Some(mut item_fields) = self.fields(item, &item_path) {
                        let filter = self.resource_filter(&mut item_fields);
                        self.finish(item_fields, &[]);
                        target.push(filter);
                    }
                }
            }
        }
        // The legacy form puts `resources`/`subjects`/… directly under match/exclude.
        let has_legacy = ["resources", "subjects", "roles", "clusterRoles"]
            .iter()
            .any(|name| fields.entries.iter().any(|(key, _, _)| key == name));
        if has_legacy {
            if !result.any.is_empty() || !result.all.is_empty() {
                self.error(
                    node.pos,
                    format!("{path}: use either any/all or resources, not both"),
                );
            }
            let filter = self.resource_filter(&mut fields);
            result.any.push(filter);
        }
        self.finish(fields, &[]);
        if result.any.is_empty() && result.all.is_empty() {
            self.error(node.pos, format!("{path}: needs any, all or resources"));
            return None;
        }
        Some(result)
    }

    fn resource_filter(&mut self, fields: &mut Fields<'_>) -> ResourceFilter {
        let mut filter = ResourceFilter::default();
        if let Some(resources) = fields.take("resources") {
            let path = fields.child("resources");
            if let Some(mut r) = self.fields(resources, &path) {
                filter.kinds = self
                    .opt_string_list(&mut r, "kinds")
                    .iter()
                    .map(|kind| KindSelector::parse(kind))
                    .collect();
                filter.names = self.opt_string_list(&mut r, "names");
                if let Some(name_node) = r.take("name") {
                    let name_path = r.child("name");
                    if let Some(name) = self.string(name_node, &name_path) {
                        self.warning(name_node.pos, format!("{name_path}: deprecated; use names"));
                        filter.names.push(name);
                    }
                }
                filter.namespaces = self.opt_string_list(&mut r, "namespaces");
                if let Some(node) = r.take("annotations") {
                    filter.annotations = self.string_map(node, &r.child("annotations"));
                }
                if let Some(node) = r.take("selector") {
                    filter.selector = self.label_selector(node, &r.child("selector"));
                }
                if let Some(node) = r.take("namespaceSelector") {
                    filter.namespace_selector =
                        self.label_selector(node, &r.child("namespaceSelector"));
                }
                if let Some(node) = r.take("operations") {
                    let ops_path = r.child("operations");
                    let NodeValue::Seq(items) = &node.value else {
                        self.type_error(node, &ops_path, "a list of operations");
                        return filter;
                    };
                    for (index, item) in items.iter().enumerate() {
                        let item_path = index_path(&ops_path, index);
                        if let Some(text) = self.string(item, &item_path) {
                            match Operation::parse(&text) {
                                Some(op) => filter.operations.push(op),
                                None => self.error(
                                    item.pos,
                                    format!("{item_path}: {text:?} is not CREATE, UPDATE, DELETE or CONNECT"),
                                ),
                            }
                        }
                    }
                }
                self.finish(r, &[]);
            }
        }
        if let Some(subjects) = fields.take("subjects") {
            let path = fields.child("subjects");
            for (index, item) in self.list(subjects, &path).iter().enumerate() {
                let item_path = index_path(&path, index);
                if let Some(mut s) = self.fields(item, &item_path) {
                    let kind = self.opt_string(&mut s, "kind");
                    let name = self.opt_string(&mut s, "name");
                    let namespace = self.opt_string(&mut s, "namespace");
                    s.take("apiGroup");
                    self.finish(s, &[]);
                    match (kind, name) {
                        (Some(kind), Some(name))
                            if matches!(kind.as_str(), "User" | "Group" | "ServiceAccount") =>
                        {
                            filter.subjects.push(Subject {
                                kind,
                                name,
                                namespace,
                            });
                        }
                        (Some(kind), Some(_)) => self.error(
                            item.pos,
                            format!(
                                "{item_path}.kind: {kind:?} is not User, Group or ServiceAccount"
                            ),
                        ),
                        _ => {
                            self.error(item.pos, format!("{item_path}: kind and name are required"))
                        }
                    }
                }
            }
        }
        filter.roles = self.opt_string_list(fields, "roles");
        filter.cluster_roles = self.opt_string_list(fields, "clusterRoles");
        filter
    }

    fn label_selector(&mut self, node: &Node, path: &str) -> Option<LabelSelector> {
        let mut fields = self.fields(node, path)?;
        let mut selector = LabelSelector::default();
        if let Some(labels) = fields.take("matchLabels") {
            selector.match_labels = self.string_map(labels, &fields.child("matchLabels"));
        }
        if let Some(expressions) = fields.take("matchExpressions") {
            let list_path = fields.child("matchExpressions");
            for (index, item) in self.list(expressions, &list_path).iter().enumerate() {
                let item_path = index_path(&list_path, index);
                let Some(mut e) = self.fields(item, &item_path) else {
                    continue;
                };
                let key = self.opt_string(&mut e, "key");
                let operator_node = e.take("operator");
                let values = self.opt_string_list(&mut e, "values");
                self.finish(e, &[]);
                let operator = operator_node.and_then(|op| {
                    match self.string(op, &format!("{item_path}.operator")).as_deref() {
                        Some("In") => Some(LabelOperator::In),
                        Some("NotIn") => Some(LabelOperator::NotIn),
                        Some("Exists") => Some(LabelOperator::Exists),
                        Some("DoesNotExist") => Some(LabelOperator::DoesNotExist),
                        Some(other) => {
                            self.error(op.pos, format!("{item_path}.operator: {other:?} is not In, NotIn, Exists or DoesNotExist"));
                            None
                        }
                        None => None,
                    }
                });
                let (Some(key), Some(operator)) = (key, operator) else {
                    self.error(
                        item.pos,
                        format!("{item_path}: key and operator are required"),
                    );
                    continue;
                };
                let needs_values = matches!(operator, LabelOperator::In | LabelOperator::NotIn);
                if needs_values == values.is_empty() {
                    self.error(
                        item.pos,
                        format!(
                            "{item_path}: values must be {} for {operator:?}",
                            if needs_values { "non-empty" } else { "empty" }
                        ),
                    );
                    continue;
                }
                selector.match_expressions.push(LabelExpression {
                    key,
                    operator,
                    values,
                });
            }
        }
        self.finish(fields, &[]);
        Some(selector)
    }

    // ------------------------------------------------------------------------------------------
    // verifyImages

    fn image_check(&mut self, node: &Node, path: &str) -> Option<ImageCheck> {
        let mut fields = self.fields(node, path)?;
        let failure_action = match fields.take("failureAction") {
            Some(action) => match self
                .string(action, &fields.child("failureAction"))
                .as_deref()
            {
                Some("Enforce") => Some(FailureAction::Enforce),
                Some("Audit") => Some(FailureAction::Audit),
                Some(other) => {
                    self.error(
                        action.pos,
                        format!("{path}.failureAction: {other:?} is not Audit or Enforce"),
                    );
                    None
                }
                None => None,
            },
            None => None,
        };
        let verifier = match fields.take("type") {
            Some(kind) => match self.string(kind, &fields.child("type")).as_deref() {
                Some("Cosign") => VerifierType::Cosign,
                Some("SigstoreBundle") => VerifierType::SigstoreBundle,
                Some("Notary") => VerifierType::Notary,
                Some(other) => {
                    self.error(
                        kind.pos,
                        format!("{path}.type: {other:?} is not Cosign, SigstoreBundle or Notary"),
                    );
                    VerifierType::Cosign
                }
                None => VerifierType::Cosign,
            },
            None => VerifierType::Cosign,
        };
        let mut image_references = self.opt_string_list(&mut fields, "imageReferences");
        if let Some(image_node) = fields.take("image") {
            let image_path = fields.child("image");
            if let Some(image) = self.string(image_node, &image_path) {
                self.warning(
                    image_node.pos,
                    format!("{image_path}: deprecated; use imageReferences"),
                );
                image_references.push(image);
            }
        }
        let skip_image_references = self.opt_string_list(&mut fields, "skipImageReferences");
        for (index, reference) in image_references
            .iter()
            .chain(&skip_image_references)
            .enumerate()
        {
            if reference.contains("{{") {
                self.error(
                    node.pos,
                    format!("{path}: image reference {reference:?} (#{index}) uses variables, which Kyverno does not allow"),
                );
            }
        }
        if image_references.is_empty() {
            self.error(node.pos, format!("{path}.imageReferences: required"));
        }
        let mut attestor_sets = Vec::new();
        if let Some(sets) = fields.take("attestors") {
            let sets_path = fields.child("attestors");
            attestor_sets = self.attestor_sets(sets, &sets_path, verifier);
        }
        if let Some(key) = fields.take("key") {
            let key_path = fields.child("key");
            if let Some(pem) = self.string(key, &key_path) {
                self.warning(
                    key.pos,
                    format!("{key_path}: deprecated; use attestors[].entries[].keys.publicKeys"),
                );
                let entries = expand_public_keys(&pem)
                    .into_iter()
                    .map(|source| Attestor {
                        kind: AttestorKind::Key(KeyAttestor {
                            source,
                            signature_algorithm: None,
                            rekor: Rekor::default(),
                            ctlog: CtLog::default(),
                        }),
                        annotations: BTreeMap::new(),
                        repository: None,
                        signature_algorithm: None,
                    })
                    .collect();
                attestor_sets.push(AttestorSet {
                    count: None,
                    entries,
                });
            }
        }
        for deprecated in [
            "roots",
            "subject",
            "issuer",
            "additionalExtensions",
            "annotations",
        ] {
            self.unsupported(
                &mut fields,
                deprecated,
                "deprecated top-level attestor field; use attestors[].entries[]",
            );
        }
        let mut attestations = Vec::new();
        if let Some(list) = fields.take("attestations") {
            let list_path = fields.child("attestations");
            for (index, item) in self.list(list, &list_path).iter().enumerate() {
                if let Some(check) =
                    self.attestation(item, &index_path(&list_path, index), verifier)
                {
                    attestations.push(check);
                }
            }
        }
        let repository = self.opt_string(&mut fields, "repository");
        let mutate_digest = self.bool_field(&mut fields, "mutateDigest", true);
        let verify_digest = self.bool_field(&mut fields, "verifyDigest", true);
        let required = self.bool_field(&mut fields, "required", true);
        let use_cache = self.bool_field(&mut fields, "useCache", true);
        let cosign_oci11 = self.bool_field(&mut fields, "cosignOCI11", false);
        if let Some(credentials) = fields.take("imageRegistryCredentials") {
            self.warning(
                credentials.pos,
                format!("{path}.imageRegistryCredentials: registry credentials are configured on the sealwatch webhook, not per policy; ignored"),
            );
        }
        self.unsupported(&mut fields, "validate", "validate.deny on verifyImages");
        self.finish(fields, &[]);
        if mutate_digest && failure_action == Some(FailureAction::Audit) {
            self.error(
                node.pos,
                format!("{path}: mutateDigest must be set to false for 'Audit' failure action"),
            );
        }
        Some(ImageCheck {
            failure_action,
            verifier,
            image_references,
            skip_image_references,
            attestor_sets,
            attestations,
            repository,
            mutate_digest,
            verify_digest,
            required,
            use_cache,
            cosign_oci11,
        })
    }

    fn attestor_sets(
        &mut self,
        node: &Node,
        path: &str,
        verifier: VerifierType,
    ) -> Vec<AttestorSet> {
        let mut sets = Vec::new();
        for (index, item) in self.list(node, path).iter().enumerate() {
            if let Some(set) = self.attestor_set(item, &index_path(path, index), verifier) {
                sets.push(set);
            }
        }
        sets
    }

    fn attestor_set(
        &mut self,
        node: &Node,
        path: &str,
        verifier: VerifierType,
    ) -> Option<AttestorSet> {
        let mut fields = self.fields(node, path)?;
        let count_node = fields.take("count");
        let mut entries = Vec::new();
        match fields.take("entries") {
            Some(list) => {
                let list_path = fields.child("entries");
                for (index, item) in self.list(list, &list_path).iter().enumerate() {
                    entries.extend(self.attestor(item, &index_path(&list_path, index), verifier));
                }
            }
            None => self.error(node.pos, format!("{path}.entries: required")),
        }
        self.finish(fields, &[]);
        let count = match count_node {
            Some(count_node) => {
                let count_path = format!("{path}.count");
                match self.integer(count_node, &count_path) {
                    Some(count) if count < 0 => {
                        self.error(
                            count_node.pos,
                            format!("{count_path}: must not be negative"),
                        );
                        None
                    }
                    Some(count) => {
                        let count = usize::try_from(count).unwrap_or(usize::MAX);
                        if count > entries.len() {
                            self.error(
                                count_node.pos,
                                format!("{count_path}: {count} is greater than the number of entries ({})", entries.len()),
                            );
                        }
                        Some(count)
                    }
                    None => None,
                }
            }
            None => None,
        };
        Some(AttestorSet { count, entries })
    }

    /// One entry; `keys.publicKeys` with several PEM blocks yields several entries.
    fn attestor(&mut self, node: &Node, path: &str, verifier: VerifierType) -> Vec<Attestor> {
        let Some(mut fields) = self.fields(node, path) else {
            return Vec::new();
        };
        let annotations = match fields.take("annotations") {
            Some(n) => self.string_map(n, &fields.child("annotations")),
            None => BTreeMap::new(),
        };
        let repository = self.opt_string(&mut fields, "repository");
        let signature_algorithm = self.opt_string(&mut fields, "signatureAlgorithm");
        let present: Vec<&str> = ["keys", "keyless", "certificates", "attestor"]
            .into_iter()
            .filter(|name| {
                fields
                    .entries
                    .iter()
                    .any(|(key, _, value)| key == name && !value.is_null())
            })
            .collect();
        if present.len() != 1 {
            self.error(
                node.pos,
                format!("{path}: exactly one of keys, keyless, certificates or attestor is required (found {})", if present.is_empty() { "none".to_owned() } else { present.join(", ") }),
            );
        }
        if verifier == VerifierType::Notary
            && (present.contains(&"keys") || present.contains(&"keyless"))
        {
            self.error(
                node.pos,
                format!("{path}: Notary verification accepts only certificates"),
            );
        }
        let mut kinds = Vec::new();
        if let Some(keys) = fields.take("keys") {
            kinds.extend(self.keys(keys, &fields.child("keys"), signature_algorithm.clone()));
        }
        if let Some(keyless) = fields.take("keyless") {
            kinds.extend(
                self.keyless(keyless, &fields.child("keyless"))
                    .map(AttestorKind::Keyless),
            );
        }
        if let Some(certificates) = fields.take("certificates") {
            kinds.extend(
                self.certificates(certificates, &fields.child("certificates"))
                    .map(AttestorKind::Certificate),
            );
        }
        if let Some(nested) = fields.take("attestor") {
            let nested_path = fields.child("attestor");
            if let Some(set) = self.attestor_set(nested, &nested_path, verifier) {
                kinds.push(AttestorKind::Nested(set));
            }
        }
        self.finish(fields, &[]);
        if present.len() != 1 {
            return Vec::new();
        }
        kinds
            .into_iter()
            .map(|kind| Attestor {
                kind,
                annotations: annotations.clone(),
                repository: repository.clone(),
                signature_algorithm: signature_algorithm.clone(),
            })
            .collect()
    }

    fn keys(
        &mut self,
        node: &Node,
        path: &str,
        entry_algorithm: Option<String>,
    ) -> Vec<AttestorKind> {
        let Some(mut fields) = self.fields(node, path) else {
            return Vec::new();
        };
        let public_keys = self.opt_string(&mut fields, "publicKeys");
        let secret = match fields.take("secret") {
            Some(secret) => {
                let secret_path = fields.child("secret");
                self.fields(secret, &secret_path).and_then(|mut s| {
                    let name = self.opt_string(&mut s, "name");
                    let namespace = self.opt_string(&mut s, "namespace");
                    self.finish(s, &[]);
                    match (name, namespace) {
                        (Some(name), Some(namespace)) => {
                            Some(KeySource::Secret { namespace, name })
                        }
                        _ => {
                            self.error(
                                secret.pos,
                                format!("{secret_path}: name and namespace are required"),
                            );
                            None
                        }
                    }
                })
            }
            None => None,
        };
        let kms = self.opt_string(&mut fields, "kms").map(KeySource::Kms);
        let signature_algorithm = self.opt_string(&mut fields, "signatureAlgorithm");
        if let (Some(algorithm), Some(algorithm_node)) =
            (&signature_algorithm, node_of(node, "signatureAlgorithm"))
        {
            if !matches!(
                algorithm.as_str(),
                "sha224" | "sha256" | "sha384" | "sha512"
            ) {
                self.error(algorithm_node.pos, format!("{path}.signatureAlgorithm: {algorithm:?} is not sha224, sha256, sha384 or sha512"));
            }
        }
        let rekor = self.rekor(&mut fields, path, false);
        let ctlog = self.ctlog(&mut fields);
        self.finish(fields, &[]);
        let mut sources = Vec::new();
        let public_keys_given = public_keys.is_some();
        if let Some(pem) = public_keys {
            if pem.contains("{{") {
                self.error(
                    node.pos,
                    format!("{path}.publicKeys: variables are not supported by sealwatch"),
                );
            } else if let Some(reference) = pem.trim().strip_prefix("k8s://") {
                match reference.split_once('/') {
                    Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
                        sources.push(KeySource::Secret {
                            namespace: namespace.to_owned(),
                            name: name.to_owned(),
                        });
                    }
                    _ => self.error(
                        node.pos,
                        format!("{path}.publicKeys: {pem:?} is not k8s://<namespace>/<secret>"),
                    ),
                }
            } else {
                let expanded = expand_public_keys(&pem);
                if expanded.is_empty() {
                    self.error(
                        node.pos,
                        format!("{path}.publicKeys: no PEM public key block found"),
                    );
                }
                sources.extend(expanded);
            }
        }
        sources.extend(secret);
        sources.extend(kms);
        if sources.is_empty() && !public_keys_given {
            self.error(
                node.pos,
                format!("{path}: one of publicKeys, secret or kms is required"),
            );
        }
        let signature_algorithm = signature_algorithm.or(entry_algorithm);
        sources
            .into_iter()
            .map(|source| {
                AttestorKind::Key(KeyAttestor {
                    source,
                    signature_algorithm: signature_algorithm.clone(),
                    rekor: rekor.clone(),
                    ctlog: ctlog.clone(),
                })
            })
            .collect()
    }

    fn keyless(&mut self, node: &Node, path: &str) -> Option<KeylessAttestor> {
        let mut fields = self.fields(node, path)?;
        let issuer = self.opt_string(&mut fields, "issuer");
        let issuer_regexp = self.opt_string(&mut fields, "issuerRegExp");
        let subject = self.opt_string(&mut fields, "subject");
        let subject_regexp = self.opt_string(&mut fields, "subjectRegExp");
        let roots = self.opt_string(&mut fields, "roots");
        let additional_extensions = match fields.take("additionalExtensions") {
            Some(n) => self.string_map(n, &fields.child("additionalExtensions")),
            None => BTreeMap::new(),
        };
        let rekor_given = fields
            .entries
            .iter()
            .any(|(key, _, value)| *key == "rekor" && !value.is_null());
        let rekor = self.rekor(&mut fields, path, true);
        let ctlog = self.ctlog(&mut fields);
        self.finish(fields, &[]);
        if !rekor_given && roots.is_none() {
            self.error(
                node.pos,
                format!("{path}: either rekor or roots is required"),
            );
        }
        if issuer.is_some() && issuer_regexp.is_some() {
            self.error(
                node.pos,
                format!("{path}: issuer and issuerRegExp are mutually exclusive"),
            );
        }
        if subject.is_some() && subject_regexp.is_some() {
            self.error(
                node.pos,
                format!("{path}: subject and subjectRegExp are mutually exclusive"),
            );
        }
        Some(KeylessAttestor {
            issuer,
            issuer_regexp,
            subject,
            subject_regexp,
            roots,
            additional_extensions,
            rekor,
            ctlog,
        })
    }

    fn certificates(&mut self, node: &Node, path: &str) -> Option<CertificateAttestor> {
        let mut fields = self.fields(node, path)?;
        let cert = self.opt_string(&mut fields, "cert");
        let cert_chain = self.opt_string(&mut fields, "certChain");
        let rekor = self.rekor(&mut fields, path, false);
        let ctlog = self.ctlog(&mut fields);
        self.finish(fields, &[]);
        if cert.is_none() && cert_chain.is_none() {
            self.error(
                node.pos,
                format!("{path}: one of cert or certChain is required"),
            );
        }
        Some(CertificateAttestor {
            cert,
            cert_chain,
            rekor,
            ctlog,
        })
    }

    fn rekor(&mut self, fields: &mut Fields<'_>, path: &str, url_required: bool) -> Rekor {
        let mut rekor = Rekor::default();
        let Some(node) = fields.take("rekor") else {
            return rekor;
        };
        let rekor_path = format!("{path}.rekor");
        let Some(mut r) = self.fields(node, &rekor_path) else {
            return rekor;
        };
        match self.opt_string(&mut r, "url") {
            Some(url) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    self.error(
                        node.pos,
                        format!("{rekor_path}.url: {url:?} is not an http(s) URL"),
                    );
                }
                rekor.url = url;
            }
            None if url_required => self.error(node.pos, format!("{rekor_path}.url: required")),
            None => {}
        }
        rekor.pubkey = self.opt_string(&mut r, "pubkey");
        rekor.ignore_tlog = self.bool_field(&mut r, "ignoreTlog", false);
        self.finish(r, &[]);
        rekor
    }

    fn ctlog(&mut self, fields: &mut Fields<'_>) -> CtLog {
        let mut ctlog = CtLog::default();
        let Some(node) = fields.take("ctlog") else {
            return ctlog;
        };
        let path = fields.child("ctlog");
        let Some(mut c) = self.fields(node, &path) else {
            return ctlog;
        };
        ctlog.ignore_sct = self.bool_field(&mut c, "ignoreSCT", false);
        ctlog.pubkey = self.opt_string(&mut c, "pubkey");
        ctlog.tsa_cert_chain = self.opt_string(&mut c, "tsaCertChain");
        self.finish(c, &[]);
        ctlog
    }

    fn attestation(
        &mut self,
        node: &Node,
        path: &str,
        verifier: VerifierType,
    ) -> Option<AttestationCheck> {
        let mut fields = self.fields(node, path)?;
        let name = self.opt_string(&mut fields, "name");
        let mut predicate_type = self.opt_string(&mut fields, "type");
        if let Some(deprecated) = fields.take("predicateType") {
            let deprecated_path = fields.child("predicateType");
            if let Some(value) = self.string(deprecated, &deprecated_path) {
                if predicate_type.is_some() {
                    self.error(
                        deprecated.pos,
                        format!("{deprecated_path}: set only one of type and predicateType"),
                    );
                } else {
                    self.warning(
                        deprecated.pos,
                        format!("{deprecated_path}: deprecated; use type"),
                    );
                    predicate_type = Some(value);
                }
            }
        }
        let attestor_sets = match fields.take("attestors") {
            Some(sets) => {
                let sets_path = fields.child("attestors");
                self.attestor_sets(sets, &sets_path, verifier)
            }
            None => Vec::new(),
        };
        let mut conditions = Vec::new();
        if let Some(list) = fields.take("conditions") {
            let list_path = fields.child("conditions");
            for (index, item) in self.list(list, &list_path).iter().enumerate() {
                if let Some(block) = self.condition_block(item, &index_path(&list_path, index)) {
                    conditions.push(block);
                }
            }
        }
        self.finish(fields, &[]);
        let Some(predicate_type) = predicate_type else {
            self.error(node.pos, format!("{path}.type: required"));
            return None;
        };
        Some(AttestationCheck {
            name,
            predicate_type,
            attestor_sets,
            conditions,
        })
    }

    fn condition_block(&mut self, node: &Node, path: &str) -> Option<ConditionBlock> {
        let mut fields = self.fields(node, path)?;
        let mut block = ConditionBlock::default();
        for (name, target) in [("any", &mut block.any), ("all", &mut block.all)] {
            if let Some(list) = fields.take(name) {
                let list_path = fields.child(name);
                for (index, item) in self.list(list, &list_path).iter().enumerate() {
                    if let Some(condition) = self.condition(item, &index_path(&list_path, index)) {
                        target.push(condition);
                    }
                }
            }
        }
        self.finish(fields, &[]);
        Some(block)
    }

    fn condition(&mut self, node: &Node, path: &str) -> Option<Condition> {
        let mut fields = self.fields(node, path)?;
        let key = fields.take("key");
        let operator_node = fields.take("operator");
        let value = fields.take("value");
        let message = self.opt_string(&mut fields, "message");
        self.finish(fields, &[]);
        let mut ok = true;
        for (field, child) in [("key", key), ("value", value)] {
            if let Some(child) = child {
                if let NodeValue::Scalar { text, .. } = &child.value {
                    if let Err(message) = check_template(text) {
                        self.error(child.pos, format!("{path}.{field}: {message}"));
                        ok = false;
                    }
                }
            }
        }
        let operator = match operator_node {
            Some(op) => match self.string(op, &format!("{path}.operator")) {
                Some(name) => match Operator::parse(&name) {
                    Some(operator) => {
                        let replacement = match name.as_str() {
                            "Equal" => Some("Equals"),
                            "NotEqual" => Some("NotEquals"),
                            "In" => Some("AllIn or AnyIn"),
                            "NotIn" => Some("AllNotIn or AnyNotIn"),
                            _ => None,
                        };
                        if let Some(replacement) = replacement {
                            self.warning(
                                op.pos,
                                format!("{path}.operator: {name} is deprecated; use {replacement}"),
                            );
                        }
                        Some(operator)
                    }
                    None => {
                        self.error(
                            op.pos,
                            format!("{path}.operator: unknown operator {name:?}"),
                        );
                        None
                    }
                },
                None => None,
            },
            None => {
                self.error(node.pos, format!("{path}.operator: required"));
                None
            }
        };
        let Some(key) = key else {
            self.error(node.pos, format!("{path}.key: required"));
            return None;
        };
        if !ok {
            return None;
        }
        Some(Condition {
            key: key.to_json(),
            operator: operator?,
            value: value.map(Node::to_json).unwrap_or(serde_json::Value::Null),
            message,
        })
    }
}

fn node_of<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
    match &node.value {
        NodeValue::Map(entries) => entries
            .iter()
            .find(|(key, _)| key.as_scalar() == Some(name))
            .map(|(_, value)| value),
        _ => None,
    }
}

/// Splits a `publicKeys` value holding several PEM blocks into one key each (Kyverno's
/// `ExpandStaticKeys`: split after every `-----END PUBLIC KEY-----`).
pub fn expand_public_keys(pem: &str) -> Vec<KeySource> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut keys = Vec::new();
    let mut rest = pem;
    while let Some(end) = rest.find(END) {
        let (block, tail) = rest.split_at(end + END.len());
        let block = block.trim();
        if block.contains("-----BEGIN PUBLIC KEY-----") {
            keys.push(KeySource::Pem(format!("{block}\n")));
        }
        rest = tail;
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_pem_blocks_become_several_keys() {
        let pem = "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----\n";
        let keys = expand_public_keys(pem);
        assert_eq!(
            keys,
            vec![
                KeySource::Pem(
                    "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n".into()
                ),
                KeySource::Pem(
                    "-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----\n".into()
                ),
            ]
        );
        assert!(expand_public_keys("not a key").is_empty());
    }
}

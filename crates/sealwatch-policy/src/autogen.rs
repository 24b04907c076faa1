//! Rules for Pod controllers generated from rules on Pods, as Kyverno's autogen does.
//!
//! A rule whose `match` and `exclude` name only the `Pod` kind, with no names, selectors or
//! annotations, gets `autogen-<rule>` (DaemonSet, Deployment, Job, StatefulSet, ReplicaSet,
//! ReplicationController: images under `spec/template`) and `autogen-cronjob-<rule>` (CronJob:
//! `spec/jobTemplate/spec/template`). The policy annotation
//! `pod-policies.kyverno.io/autogen-controllers` (`none`, `all`, or a comma list) selects the
//! controllers. Image paths need no rewriting here: [`crate::extract_images`] looks at all three
//! Pod-spec locations.

use crate::model::{KindSelector, MatchResources, ResourceFilter, Rule, POD_CONTROLLERS};

/// The policy annotation that selects controllers.
pub const AUTOGEN_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

/// Kubernetes' limit on names, which Kyverno applies to generated rule names.
const MAX_RULE_NAME: usize = 63;

fn is_pod_selector(selector: &KindSelector) -> bool {
    selector.kind == "Pod"
        && selector.subresource.is_none()
        && selector
            .group
            .as_deref()
            .is_none_or(|g| g.is_empty() || g == "*")
        && selector
            .version
            .as_deref()
            .is_none_or(|v| v == "v1" || v == "*")
}

fn filter_allows_autogen(filter: &ResourceFilter, require_pod: bool) -> bool {
    let kinds_ok = if filter.kinds.is_empty() {
        !require_pod
    } else {
        filter.kinds.iter().all(is_pod_selector)
    };
    kinds_ok
        && filter.names.is_empty()
        && filter.selector.is_none()
        && filter.annotations.is_empty()
}

fn resources_allow_autogen(resources: &MatchResources, require_pod: bool) -> bool {
    resources
        .any
        .iter()
        .chain(&resources.all)
        .all(|filter| filter_allows_autogen(filter, require_pod))
}

/// Whether Kyverno would generate controller rules for `rule`.
pub fn can_autogen(rule: &Rule) -> bool {
    rule.generated_from.is_none()
        && resources_allow_autogen(&rule.match_resources, true)
        && rule
            .exclude_resources
            .as_ref()
            .is_none_or(|exclude| resources_allow_autogen(exclude, false))
}

/// The controllers selected by the annotation value (`None` when the annotation is absent).
pub fn selected_controllers(annotation: Option<&str>) -> Vec<&'static str> {
    match annotation.map(str::trim) {
        None | Some("all") => POD_CONTROLLERS.to_vec(),
        Some("none") => Vec::new(),
        Some(list) => POD_CONTROLLERS
            .into_iter()
            .filter(|controller| list.split(',').any(|item| item.trim() == *controller))
            .collect(),
    }
}

fn with_kinds(resources: &MatchResources, kinds: &[&str]) -> MatchResources {
    let rewrite = |filter: &ResourceFilter| {
        let mut filter = filter.clone();
        if !filter.kinds.is_empty() {
            filter.kinds = kinds.iter().map(|kind| KindSelector::parse(kind)).collect();
        }
        filter
    };
    MatchResources {
        any: resources.any.iter().map(rewrite).collect(),
        all: resources.all.iter().map(rewrite).collect(),
    }
}

fn truncate_name(name: String) -> String {
    if name.len() <= MAX_RULE_NAME {
        return name;
    }
    let mut end = MAX_RULE_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.get(..end).unwrap_or_default().to_owned()
}

/// The generated rules for `rules`, given the policy's autogen annotation.
pub fn generate_rules(rules: &[Rule], annotation: Option<&str>) -> Vec<Rule> {
    let controllers = selected_controllers(annotation);
    let template_controllers: Vec<&str> = controllers
        .iter()
        .copied()
        .filter(|controller| *controller != "CronJob")
        .collect();
    let cronjob = controllers.contains(&"CronJob");
    let mut generated = Vec::new();
    for rule in rules.iter().filter(|rule| can_autogen(rule)) {
        let make = |prefix: &str, kinds: &[&str]| Rule {
            name: truncate_name(format!("{prefix}{}", rule.name)),
            match_resources: with_kinds(&rule.match_resources, kinds),
            exclude_resources: rule
                .exclude_resources
                .as_ref()
                .map(|exclude| with_kinds(exclude, kinds)),
            image_checks: rule.image_checks.clone(),
            generated_from: Some(rule.name.clone()),
        };
        if !template_controllers.is_empty() {
            generated.push(make("autogen-", &template_controllers));
        }
        if cronjob {
            generated.push(make("autogen-cronjob-", &["CronJob"]));
        }
    }
    generated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_selects_controllers() {
        let cases: &[(Option<&str>, &[&str])] = &[
            (None, &POD_CONTROLLERS),
            (Some("all"), &POD_CONTROLLERS),
            (Some("none"), &[]),
            (Some("Deployment, CronJob"), &["Deployment", "CronJob"]),
            (Some("StatefulSet,Bogus"), &["StatefulSet"]),
        ];
        for (annotation, expect) in cases {
            assert_eq!(
                selected_controllers(*annotation),
                expect.to_vec(),
                "{annotation:?}"
            );
        }
    }

    #[test]
    fn long_names_are_truncated() {
        let name = "x".repeat(80);
        assert_eq!(truncate_name(format!("autogen-{name}")).len(), 63);
    }
}

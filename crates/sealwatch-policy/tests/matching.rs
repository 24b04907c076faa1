//! `match`/`exclude`, autogen for Pod controllers, and image extraction from real requests.

use std::collections::BTreeMap;

use sealwatch_policy::model::Operation;
use sealwatch_policy::{
    extract_images, load_policies, plan, rule_applies, AdmissionRequestView, PolicySet, UserInfo,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

fn load(text: &str) -> PolicySet {
    let (set, diagnostics) = load_policies("test.yaml", text.as_bytes());
    assert_eq!(diagnostics, vec![], "test policy must load cleanly");
    set
}

struct Req {
    kind: &'static str,
    group: &'static str,
    subresource: &'static str,
    namespace: &'static str,
    name: &'static str,
    operation: Operation,
    labels: &'static [(&'static str, &'static str)],
    annotations: &'static [(&'static str, &'static str)],
    namespace_labels: Option<&'static [(&'static str, &'static str)]>,
    username: &'static str,
    groups: &'static [&'static str],
}

const POD: Req = Req {
    kind: "Pod",
    group: "",
    subresource: "",
    namespace: "prod",
    name: "web-1",
    operation: Operation::Create,
    labels: &[],
    annotations: &[],
    namespace_labels: None,
    username: "alice",
    groups: &[],
};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn view<'a>(req: &Req, object: &'a Value) -> AdmissionRequestView<'a> {
    AdmissionRequestView {
        group: req.group.to_owned(),
        version: "v1".to_owned(),
        kind: req.kind.to_owned(),
        subresource: req.subresource.to_owned(),
        namespace: req.namespace.to_owned(),
        name: req.name.to_owned(),
        operation: req.operation,
        labels: map(req.labels),
        annotations: map(req.annotations),
        namespace_labels: req.namespace_labels.map(map),
        user: UserInfo {
            username: req.username.to_owned(),
            groups: req.groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        },
        object,
        now: OffsetDateTime::UNIX_EPOCH,
    }
}

fn policy_with(match_block: &str, exclude_block: &str) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: p}}
spec:
  rules:
    - name: r
      match:
{match_block}
{exclude_block}
      verifyImages:
        - imageReferences: ["*"]
"#
    )
}

/// The names of the rules that apply to `req`.
fn applying(set: &PolicySet, req: &Req) -> Vec<String> {
    let object = json!({});
    let view = view(req, &object);
    set.policies
        .iter()
        .flat_map(|p| p.rules.iter().map(move |r| (p, r)))
        .filter(|(p, r)| rule_applies(p, r, &view))
        .map(|(_, r)| r.name.clone())
        .collect()
}

fn check(match_block: &str, exclude_block: &str, req: Req, expect: bool) {
    let set = load(&policy_with(match_block, exclude_block));
    let got = applying(&set, &req).iter().any(|r| r == "r");
    assert_eq!(
        got, expect,
        "match:\n{match_block}\nexclude:\n{exclude_block}"
    );
}

#[test]
fn match_and_exclude() {
    let pods = "        any:\n          - resources: {kinds: [Pod]}";
    check(pods, "", POD, true);
    check(
        pods,
        "",
        Req {
            kind: "ConfigMap",
            ..POD
        },
        false,
    );
    check(
        pods,
        "",
        Req {
            subresource: "status",
            ..POD
        },
        false,
    );
    // Debug containers come through a subresource and must still be verified.
    check(
        pods,
        "",
        Req {
            subresource: "ephemeralcontainers",
            operation: Operation::Update,
            ..POD
        },
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [Pod/status]}",
        "",
        Req {
            subresource: "status",
            ..POD
        },
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [v1/Pod]}",
        "",
        POD,
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [apps/v1/Deployment]}",
        "",
        Req {
            kind: "Deployment",
            group: "apps",
            ..POD
        },
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [apps/v1/Deployment]}",
        "",
        Req {
            kind: "Deployment",
            group: "extensions",
            ..POD
        },
        false,
    );
    check(
        "        any:\n          - resources: {kinds: ['*']}",
        "",
        Req {
            kind: "Secret",
            ..POD
        },
        true,
    );
    // names and namespaces with wildcards
    check(
        "        any:\n          - resources: {kinds: [Pod], names: ['web-*']}",
        "",
        POD,
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [Pod], names: ['api-?']}",
        "",
        POD,
        false,
    );
    check(
        "        any:\n          - resources: {kinds: [Pod], namespaces: ['pr*']}",
        "",
        POD,
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [Pod], namespaces: [dev]}",
        "",
        POD,
        false,
    );
    // operations
    check(
        "        any:\n          - resources: {kinds: [Pod], operations: [UPDATE]}",
        "",
        POD,
        false,
    );
    check(
        "        any:\n          - resources: {kinds: [Pod], operations: [CREATE, UPDATE]}",
        "",
        POD,
        true,
    );
    // label selectors
    let selector = "        any:\n          - resources:\n              kinds: [Pod]\n              selector:\n                matchLabels: {app: 'web*'}\n                matchExpressions:\n                  - {key: tier, operator: In, values: [front, edge]}\n                  - {key: debug, operator: DoesNotExist}";
    check(
        selector,
        "",
        Req {
            labels: &[("app", "webshop"), ("tier", "front")],
            ..POD
        },
        true,
    );
    check(
        selector,
        "",
        Req {
            labels: &[("app", "webshop"), ("tier", "back")],
            ..POD
        },
        false,
    );
    check(
        selector,
        "",
        Req {
            labels: &[("app", "api"), ("tier", "front")],
            ..POD
        },
        false,
    );
    check(
        selector,
        "",
        Req {
            labels: &[("app", "web"), ("tier", "edge"), ("debug", "1")],
            ..POD
        },
        false,
    );
    check(
        selector,
        "",
        Req {
            labels: &[("tier", "front")],
            ..POD
        },
        false,
    );
    // namespace selectors need the namespace's labels
    let ns_selector = "        any:\n          - resources:\n              kinds: [Pod]\n              namespaceSelector:\n                matchExpressions:\n                  - {key: env, operator: NotIn, values: [dev]}";
    check(
        ns_selector,
        "",
        Req {
            namespace_labels: Some(&[("env", "prod")]),
            ..POD
        },
        true,
    );
    check(
        ns_selector,
        "",
        Req {
            namespace_labels: Some(&[("env", "dev")]),
            ..POD
        },
        false,
    );
    check(
        ns_selector,
        "",
        Req {
            namespace_labels: None,
            ..POD
        },
        false,
    );
    // annotations
    check(
        "        any:\n          - resources: {kinds: [Pod], annotations: {team: 'pay*'}}",
        "",
        Req {
            annotations: &[("team", "payments")],
            ..POD
        },
        true,
    );
    check(
        "        any:\n          - resources: {kinds: [Pod], annotations: {team: 'pay*'}}",
        "",
        POD,
        false,
    );
    // any vs all
    let any = "        any:\n          - resources: {kinds: [Pod], namespaces: [dev]}\n          - resources: {kinds: [Pod], names: ['web-*']}";
    let all = "        all:\n          - resources: {kinds: [Pod], namespaces: [dev]}\n          - resources: {kinds: [Pod], names: ['web-*']}";
    check(any, "", POD, true);
    check(all, "", POD, false);
    check(
        all,
        "",
        Req {
            namespace: "dev",
            ..POD
        },
        true,
    );
    // legacy form directly under match
    check("        resources: {kinds: [Pod]}", "", POD, true);
    // subjects
    check("        any:\n          - resources: {kinds: [Pod]}\n            subjects: [{kind: User, name: alice}]", "", POD, true);
    check("        any:\n          - resources: {kinds: [Pod]}\n            subjects: [{kind: Group, name: 'ops*'}]", "", POD, false);
    check("        any:\n          - resources: {kinds: [Pod]}\n            subjects: [{kind: Group, name: 'ops*'}]", "", Req { groups: &["ops-admins"], ..POD }, true);
    check("        any:\n          - resources: {kinds: [Pod]}\n            subjects: [{kind: ServiceAccount, name: ci, namespace: build}]", "", Req { username: "system:serviceaccount:build:ci", ..POD }, true);
    // exclude
    let exclude_system =
        "      exclude:\n        any:\n          - resources: {namespaces: [kube-system]}";
    check(pods, exclude_system, POD, true);
    check(
        pods,
        exclude_system,
        Req {
            namespace: "kube-system",
            ..POD
        },
        false,
    );
    let exclude_sa =
        "      exclude:\n        any:\n          - subjects: [{kind: User, name: 'system:*'}]";
    check(
        pods,
        exclude_sa,
        Req {
            username: "system:admin",
            ..POD
        },
        false,
    );
    check(pods, exclude_sa, POD, true);
}

#[test]
fn namespaced_policies_only_apply_in_their_namespace() {
    let set = load("apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {name: p, namespace: prod}\nspec:\n  rules:\n    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages: [{imageReferences: ['*']}]\n");
    assert_eq!(applying(&set, &POD), vec!["r".to_owned()]);
    assert!(applying(
        &set,
        &Req {
            namespace: "dev",
            ..POD
        }
    )
    .is_empty());
}

const SEED_LIKE: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: seed-like
spec:
  rules:
    - name: verify
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["ghcr.io/your-org/*"]
          attestors:
            - entries:
                - keyless: {subject: "https://github.com/your-org/*", issuer: "https://token.actions.githubusercontent.com", rekor: {url: "https://rekor.sigstore.dev"}}
"#;

#[test]
fn autogen_rules_apply_to_pod_controllers() {
    let set = load(SEED_LIKE);
    let cases: &[(&str, &str, &[&str])] = &[
        ("Pod", "", &["verify"]),
        ("Deployment", "apps", &["autogen-verify"]),
        ("StatefulSet", "apps", &["autogen-verify"]),
        ("DaemonSet", "apps", &["autogen-verify"]),
        ("ReplicaSet", "apps", &["autogen-verify"]),
        ("Job", "batch", &["autogen-verify"]),
        ("ReplicationController", "", &["autogen-verify"]),
        ("CronJob", "batch", &["autogen-cronjob-verify"]),
        ("ConfigMap", "", &[]),
    ];
    for (kind, group, expect) in cases {
        let got = applying(&set, &Req { kind, group, ..POD });
        assert_eq!(got, *expect, "{kind}");
    }
    // Restricting controllers with the annotation.
    let restricted = load(&SEED_LIKE.replace(
        "  name: seed-like\n",
        "  name: seed-like\n  annotations:\n    pod-policies.kyverno.io/autogen-controllers: Deployment\n",
    ));
    assert_eq!(
        applying(
            &restricted,
            &Req {
                kind: "Deployment",
                group: "apps",
                ..POD
            }
        ),
        vec!["autogen-verify"]
    );
    assert!(applying(
        &restricted,
        &Req {
            kind: "CronJob",
            group: "batch",
            ..POD
        }
    )
    .is_empty());
    assert!(applying(
        &restricted,
        &Req {
            kind: "StatefulSet",
            group: "apps",
            ..POD
        }
    )
    .is_empty());
}

/// Planned verifications, as (rule, image) pairs.
fn planned(set: &PolicySet, req: &Req, object: &Value) -> Vec<(String, String)> {
    let view = view(req, object);
    plan(set, &view)
        .into_iter()
        .map(|r| (r.key.rule, r.key.image))
        .collect()
}

fn pair(rule: &str, image: &str) -> (String, String) {
    (rule.to_owned(), image.to_owned())
}

#[test]
fn autogen_finds_images_in_templates_including_init_and_ephemeral_containers() {
    let set = load(SEED_LIKE);
    let pod = json!({"spec": {
        "initContainers": [{"name": "i", "image": "ghcr.io/your-org/init:1"}],
        "containers": [{"name": "a", "image": "ghcr.io/your-org/app:2"}, {"name": "b", "image": "nginx"}],
        "ephemeralContainers": [{"name": "e", "image": "ghcr.io/your-org/debug"}]}});
    assert_eq!(
        planned(&set, &POD, &pod),
        vec![
            pair("verify", "ghcr.io/your-org/init:1"),
            pair("verify", "ghcr.io/your-org/app:2"),
            pair("verify", "ghcr.io/your-org/debug:latest"),
        ]
    );
    let deployment = json!({"spec": {"template": {"spec": {
        "initContainers": [{"name": "i", "image": "ghcr.io/your-org/init:1"}],
        "containers": [{"name": "a", "image": "ghcr.io/your-org/app:2"}]}}}});
    assert_eq!(
        planned(
            &set,
            &Req {
                kind: "Deployment",
                group: "apps",
                ..POD
            },
            &deployment
        ),
        vec![
            pair("autogen-verify", "ghcr.io/your-org/init:1"),
            pair("autogen-verify", "ghcr.io/your-org/app:2")
        ]
    );
    let cronjob = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "a", "image": "ghcr.io/your-org/app:2"}, {"name": "dup", "image": "ghcr.io/your-org/app:2"}]}}}}}});
    assert_eq!(
        planned(
            &set,
            &Req {
                kind: "CronJob",
                group: "batch",
                ..POD
            },
            &cronjob
        ),
        vec![pair("autogen-cronjob-verify", "ghcr.io/your-org/app:2")]
    );
    // DELETE is never verified.
    assert!(planned(
        &set,
        &Req {
            operation: Operation::Delete,
            ..POD
        },
        &pod
    )
    .is_empty());
}

#[test]
fn skip_image_references_are_not_planned() {
    let set = load(&SEED_LIKE.replace(
        "        - imageReferences: [\"ghcr.io/your-org/*\"]\n",
        "        - imageReferences: [\"ghcr.io/your-org/*\"]\n          skipImageReferences: [\"ghcr.io/your-org/debug*\"]\n",
    ));
    let pod = json!({"spec": {"containers": [
        {"name": "a", "image": "ghcr.io/your-org/app:2"},
        {"name": "d", "image": "ghcr.io/your-org/debug:1"}]}});
    assert_eq!(
        planned(&set, &POD, &pod),
        vec![pair("verify", "ghcr.io/your-org/app:2")]
    );
}

#[test]
fn real_admission_review_gives_images_pointers_and_no_verification_for_the_seed() {
    let Some(review_path) =
        sealwatch_test::require_shared("conformance/kyverno/admissionreview/pod-create.json")
    else {
        return;
    };
    let Some(seed_path) = sealwatch_test::require_shared("conformance/kyverno/seed-policy.yaml")
    else {
        return;
    };
    let review: Value =
        serde_json::from_slice(&std::fs::read(review_path).unwrap_or_default()).unwrap_or_default();
    let request = &review["request"];
    let Some(view) = AdmissionRequestView::from_request_json(request, OffsetDateTime::UNIX_EPOCH)
    else {
        panic!("request view")
    };
    assert_eq!(
        (
            view.kind.as_str(),
            view.namespace.as_str(),
            view.name.as_str(),
            view.operation
        ),
        ("Pod", "colin-coder", "echo-pod", Operation::Create)
    );
    assert_eq!(
        view.labels.get("app").map(String::as_str),
        Some("echo-server")
    );
    assert_eq!(view.user.username, "colin@coder.com");
    let images = extract_images(view.object);
    let found: Vec<(&str, &str, &str)> = images
        .iter()
        .map(|i| {
            (
                i.container_name.as_str(),
                i.image.as_str(),
                i.pointer.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![(
            "echo-server",
            "jmalloc/echo-server",
            "/spec/containers/0/image"
        )]
    );
    let normalized =
        sealwatch_policy::ImageReference::parse(&images[0].image).map(|i| i.normalized());
    assert_eq!(
        normalized.ok().as_deref(),
        Some("docker.io/jmalloc/echo-server:latest")
    );

    let (seed, diagnostics) = load_policies(
        "seed-policy.yaml",
        &std::fs::read(seed_path).unwrap_or_default(),
    );
    assert!(diagnostics.is_empty());
    // The seed rule matches the Pod, but its image is not under ghcr.io/your-org: nothing to
    // verify, nothing to patch, allowed.
    assert!(rule_applies(
        &seed.policies[0],
        &seed.policies[0].rules[0],
        &view
    ));
    assert!(plan(&seed, &view).is_empty());
    let decision = sealwatch_policy::decide(
        &seed,
        &view,
        &BTreeMap::<sealwatch_policy::VerificationKey, sealwatch_policy::VerificationOutcome>::new(
        ),
    );
    assert!(decision.allowed);
    assert!(decision.results.is_empty());
    assert_eq!(decision.patch_json(), None);
}

#[test]
fn request_views_fall_back_to_object_name_and_old_object() {
    let create = json!({"operation": "CREATE", "namespace": "prod", "name": "",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "object": {"metadata": {"name": "web-7f9c", "generateName": "web-", "labels": {"app": "web", "n": 5}}}});
    let Some(view) = AdmissionRequestView::from_request_json(&create, OffsetDateTime::UNIX_EPOCH)
    else {
        panic!("view")
    };
    assert_eq!(
        (view.group.as_str(), view.kind.as_str(), view.name.as_str()),
        ("apps", "Deployment", "web-7f9c")
    );
    // Non-string label values are not labels.
    assert_eq!(view.labels, map(&[("app", "web")]));
    let delete = json!({"operation": "DELETE", "name": "web", "object": null,
        "oldObject": {"metadata": {"labels": {"app": "old"}}}});
    let Some(view) = AdmissionRequestView::from_request_json(&delete, OffsetDateTime::UNIX_EPOCH)
    else {
        panic!("view")
    };
    assert_eq!(view.operation, Operation::Delete);
    assert_eq!(view.labels, map(&[("app", "old")]));
    for bad in [
        json!({}),
        json!({"operation": "PATCH"}),
        json!(null),
        json!([1]),
    ] {
        assert!(
            AdmissionRequestView::from_request_json(&bad, OffsetDateTime::UNIX_EPOCH).is_none(),
            "{bad}"
        );
    }
}

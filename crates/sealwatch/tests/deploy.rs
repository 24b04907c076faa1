//! The deployment manifests: `deploy/admission.yaml` (the Helm chart rendered by hand) is
//! checked for what the API server and a cluster operator rely on, and against the chart's
//! templates and default values, so that the two cannot drift apart unnoticed. There is no
//! `helm` binary on the build machines (Debian and the reachable package indexes ship none), so
//! the chart itself is not rendered here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (documents, error) = sealwatch_policy::yaml::parse_stream(&text);
    assert!(error.is_none(), "{}: {error:?}", path.display());
    documents
        .iter()
        .map(|d| d.root.to_json())
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind<'v>(documents: &'v [Value], kind: &str) -> Vec<&'v Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'v>(documents: &'v [Value], kind: &str) -> &'v Value {
    match of_kind(documents, kind).as_slice() {
        [only] => only,
        found => panic!("expected one {kind}, found {}", found.len()),
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The `--flag` names of a container's args.
fn flag_names<'a>(args: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    args.into_iter()
        .filter_map(|arg| arg.strip_prefix("--"))
        .map(|arg| arg.split('=').next().unwrap_or(arg).to_owned())
        .collect()
}

#[test]
fn plain_manifests_meet_the_webhook_requirements() {
    let documents = yaml_documents(&repo().join("deploy/admission.yaml"));
    let namespace = one(&documents, "Namespace")["metadata"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("Namespace without a name"));
    let service = one(&documents, "Service");
    let deployment = one(&documents, "Deployment");
    let pod = &deployment["spec"]["template"];
    let pod_labels = pod["metadata"]["labels"]
        .as_object()
        .unwrap_or_else(|| panic!("pod template without labels"));

    // Two or more replicas, a PodDisruptionBudget that leaves one up, limits on every container.
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1);
    assert!(replicas >= 2, "replicas {replicas}");
    let pdb = one(&documents, "PodDisruptionBudget");
    let min_available = pdb["spec"]["minAvailable"].as_u64().unwrap_or(0);
    assert!(
        (1..replicas).contains(&min_available),
        "PDB minAvailable {min_available} with {replicas} replicas"
    );
    let selects_pods = |selector: &Value| {
        selector
            .as_object()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| pod_labels.get(k) == Some(v)))
    };
    assert!(
        selects_pods(&pdb["spec"]["selector"]["matchLabels"]),
        "PDB selector"
    );
    assert!(
        selects_pods(&service["spec"]["selector"]),
        "Service selector"
    );
    assert!(selects_pods(&deployment["spec"]["selector"]["matchLabels"]));
    let containers = pod["spec"]["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("no containers"));
    for container in containers {
        for field in ["limits", "requests"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    container["resources"][field][resource].is_string(),
                    "container {} has no {field}.{resource}",
                    container["name"]
                );
            }
        }
    }
    let webhook_container = &containers[0];
    let container_ports: Vec<&Value> = webhook_container["ports"]
        .as_array()
        .map(|ports| ports.iter().map(|p| &p["name"]).collect())
        .unwrap_or_default();
    let service_port = &service["spec"]["ports"][0];
    assert!(
        container_ports.contains(&&service_port["targetPort"]),
        "Service targetPort"
    );

    // TLS: the certificate is for the Service's DNS name and lands in the mounted secret.
    let certificate = one(&documents, "Certificate");
    let service_dns = format!(
        "{}.{namespace}.svc",
        service["metadata"]["name"].as_str().unwrap_or_default()
    );
    assert!(strings(&certificate["spec"]["dnsNames"]).contains(&service_dns.as_str()));
    let tls_volume = pod["spec"]["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["secret"].is_object()))
        .unwrap_or_else(|| panic!("no secret volume"));
    assert_eq!(
        tls_volume["secret"]["secretName"],
        certificate["spec"]["secretName"]
    );

    // Namespace labels: the Pod's service account may get namespaces.
    assert_eq!(pod["spec"]["automountServiceAccountToken"], true);
    let account = pod["spec"]["serviceAccountName"]
        .as_str()
        .unwrap_or_default();
    assert!(of_kind(&documents, "ServiceAccount")
        .iter()
        .any(|sa| sa["metadata"]["name"] == account && sa["metadata"]["namespace"] == namespace));
    let binding = of_kind(&documents, "ClusterRoleBinding")
        .into_iter()
        .find(|b| {
            b["subjects"].as_array().is_some_and(|subjects| {
                subjects.iter().any(|s| {
                    s["kind"] == "ServiceAccount"
                        && s["name"] == account
                        && s["namespace"] == namespace
                })
            })
        })
        .unwrap_or_else(|| panic!("no ClusterRoleBinding for the service account"));
    let role = of_kind(&documents, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == binding["roleRef"]["name"])
        .unwrap_or_else(|| panic!("the binding's ClusterRole is missing"));
    assert!(
        role["rules"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|rule| {
                strings(&rule["apiGroups"]).contains(&"")
                    && strings(&rule["resources"]).contains(&"namespaces")
                    && strings(&rule["verbs"]).contains(&"get")
            })),
        "{role}"
    );

    // Both webhook configurations, as the issue lists them.
    for (kind, path) in [
        ("MutatingWebhookConfiguration", "/mutate"),
        ("ValidatingWebhookConfiguration", "/validate"),
    ] {
        let configuration = one(&documents, kind);
        let webhooks = configuration["webhooks"]
            .as_array()
            .unwrap_or_else(|| panic!("{kind} without webhooks"));
        assert!(!webhooks.is_empty(), "{kind}");
        for webhook in webhooks {
            let name = &webhook["name"];
            assert!(
                matches!(webhook["failurePolicy"].as_str(), Some("Fail" | "Ignore")),
                "{kind} {name}: failurePolicy"
            );
            let timeout = webhook["timeoutSeconds"].as_u64().unwrap_or(0);
            assert!(
                (1..=30).contains(&timeout),
                "{kind} {name}: timeoutSeconds {timeout}"
            );
            assert_eq!(webhook["sideEffects"], "None", "{kind} {name}");
            assert_eq!(
                strings(&webhook["admissionReviewVersions"]),
                ["v1"],
                "{kind} {name}"
            );
            let client = &webhook["clientConfig"]["service"];
            assert_eq!(client["name"], service["metadata"]["name"], "{kind} {name}");
            assert_eq!(client["namespace"], namespace, "{kind} {name}");
            assert_eq!(client["path"], path, "{kind} {name}");
            assert_eq!(client["port"], service_port["port"], "{kind} {name}");
            let excluded: Vec<&str> = webhook["namespaceSelector"]["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn")
                .flat_map(|e| strings(&e["values"]))
                .collect();
            for must in ["kube-system", namespace] {
                assert!(
                    excluded.contains(&must),
                    "{kind} {name}: {must} not excluded"
                );
            }
            let resources: Vec<&str> = webhook["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| strings(&r["resources"]))
                .collect();
            for must in [
                "pods",
                "pods/ephemeralcontainers",
                "deployments",
                "cronjobs",
                "jobs",
            ] {
                assert!(resources.contains(&must), "{kind} {name}: {must} not sent");
            }
        }
        if kind == "ValidatingWebhookConfiguration" {
            assert!(webhooks
                .iter()
                .all(|w| w.get("reinvocationPolicy").is_none()));
        }
    }
}

#[test]
fn plain_manifests_match_the_chart_templates_and_defaults() {
    let chart = repo().join("deploy/helm/sealwatch-admission");
    let documents = yaml_documents(&repo().join("deploy/admission.yaml"));
    let values = yaml_documents(&chart.join("values.yaml"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("empty values.yaml"));

    // Every kind a template can produce is rendered, and nothing else (the Namespace is
    // Helm's `--create-namespace`; the generated TLS Secret is the non-cert-manager branch).
    let mut template_kinds = BTreeSet::new();
    for entry in std::fs::read_dir(chart.join("templates")).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        template_kinds.extend(
            text.lines()
                .filter_map(|line| line.strip_prefix("kind: "))
                .map(|kind| kind.trim().to_owned()),
        );
    }
    let rendered_kinds: BTreeSet<String> = documents
        .iter()
        .filter_map(|d| d["kind"].as_str().map(str::to_owned))
        .collect();
    let only_in_templates: Vec<&String> = template_kinds
        .difference(&rendered_kinds)
        .filter(|k| *k != "Secret")
        .collect();
    let only_rendered: Vec<&String> = rendered_kinds
        .difference(&template_kinds)
        .filter(|k| *k != "Namespace")
        .collect();
    assert!(
        only_in_templates.is_empty(),
        "not rendered: {only_in_templates:?}"
    );
    assert!(
        only_rendered.is_empty(),
        "not in the chart: {only_rendered:?}"
    );

    // The same server flags in the template and in the rendered Deployment.
    let template = std::fs::read_to_string(chart.join("templates/deployment.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let template_flags = flag_names(
        template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- ")),
    );
    let deployment = one(&documents, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args = strings(&container["args"]);
    assert_eq!(flag_names(args.iter().copied()), template_flags);

    // Default values, rendered.
    assert_eq!(deployment["spec"]["replicas"], values["replicaCount"]);
    assert_eq!(container["resources"], values["resources"]);
    assert_eq!(
        one(&documents, "PodDisruptionBudget")["spec"]["minAvailable"],
        values["podDisruptionBudget"]["minAvailable"]
    );
    let arg = |flag: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{flag}=")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no --{flag}"))
    };
    assert_eq!(arg("cache-size"), values["cache"]["size"].to_string());
    assert_eq!(arg("cache-ttl"), values["cache"]["ttlSeconds"].to_string());
    assert_eq!(
        arg("namespace-label-ttl"),
        values["namespaceLabels"]["ttlSeconds"].to_string()
    );
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        for webhook in one(&documents, kind)["webhooks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(webhook["failurePolicy"], values["webhook"]["failurePolicy"]);
            assert_eq!(
                webhook["timeoutSeconds"],
                values["webhook"]["timeoutSeconds"]
            );
            let excluded = &webhook["namespaceSelector"]["matchExpressions"][0]["values"];
            for namespace in strings(&values["webhook"]["excludedNamespaces"]) {
                assert!(
                    strings(excluded).contains(&namespace),
                    "{kind}: {namespace}"
                );
            }
        }
    }

    // And the binary accepts every flag the Deployment passes.
    let help = Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        .args(["admission", "serve", "--help"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run sealwatch: {e}"));
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in flag_names(args.iter().copied()) {
        assert!(help.contains(&format!("--{flag}")), "serve has no --{flag}");
    }
}

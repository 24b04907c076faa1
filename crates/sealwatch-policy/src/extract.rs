//! Finding container images in a resource, with the JSON pointer of each `image` field.
//!
//! Kyverno's standard extractors look at `initContainers`, `containers` and
//! `ephemeralContainers` under `spec` (Pod), `spec/template/spec` (Deployment, StatefulSet,
//! DaemonSet, Job, ReplicaSet, ReplicationController) and `spec/jobTemplate/spec/template/spec`
//! (CronJob).

use serde::Serialize;
use serde_json::Value;

/// Which list a container came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ContainerKind {
    InitContainer,
    Container,
    EphemeralContainer,
}

impl ContainerKind {
    fn field(self) -> &'static str {
        match self {
            ContainerKind::InitContainer => "initContainers",
            ContainerKind::Container => "containers",
            ContainerKind::EphemeralContainer => "ephemeralContainers",
        }
    }
}

/// One image found in a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    pub container_kind: ContainerKind,
    pub container_name: String,
    /// The `image` value as written.
    pub image: String,
    /// RFC 6901 pointer to the `image` field, e.g. `/spec/template/spec/containers/0/image`.
    pub pointer: String,
}

/// Pod spec locations, as pointer prefixes and key paths.
const POD_SPEC_PATHS: [(&str, &[&str]); 3] = [
    ("/spec", &["spec"]),
    ("/spec/template/spec", &["spec", "template", "spec"]),
    (
        "/spec/jobTemplate/spec/template/spec",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

/// All container images of a Pod or Pod controller, in Kyverno's order (init containers,
/// containers, ephemeral containers). Containers without a string `image` are left out.
pub fn extract_images(object: &Value) -> Vec<ContainerImage> {
    let mut images = Vec::new();
    for (prefix, keys) in POD_SPEC_PATHS {
        let Some(pod_spec) = keys.iter().try_fold(object, |value, key| value.get(key)) else {
            continue;
        };
        for kind in [
            ContainerKind::InitContainer,
            ContainerKind::Container,
            ContainerKind::EphemeralContainer,
        ] {
            let Some(Value::Array(containers)) = pod_spec.get(kind.field()) else {
                continue;
            };
            for (index, container) in containers.iter().enumerate() {
                let Some(Value::String(image)) = container.get("image") else {
                    continue;
                };
                let container_name = container
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                images.push(ContainerImage {
                    container_kind: kind,
                    container_name,
                    image: image.clone(),
                    pointer: format!("{prefix}/{}/{index}/image", kind.field()),
                });
            }
        }
    }
    images
}

/// Escapes one RFC 6901 reference token (`~` -> `~0`, `/` -> `~1`).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(object: &Value) -> Vec<(String, String)> {
        extract_images(object)
            .into_iter()
            .map(|image| (image.image, image.pointer))
            .collect()
    }

    fn pair(image: &str, pointer: &str) -> (String, String) {
        (image.to_owned(), pointer.to_owned())
    }

    #[test]
    fn pod_with_init_and_ephemeral_containers() {
        let pod = json!({"kind": "Pod", "spec": {
            "containers": [{"name": "app", "image": "ghcr.io/org/app:v1"}, {"name": "side", "image": "busybox"}],
            "initContainers": [{"name": "init", "image": "ghcr.io/org/init:v1"}],
            "ephemeralContainers": [{"name": "debug", "image": "ghcr.io/org/debug"}]
        }});
        assert_eq!(
            summary(&pod),
            vec![
                pair("ghcr.io/org/init:v1", "/spec/initContainers/0/image"),
                pair("ghcr.io/org/app:v1", "/spec/containers/0/image"),
                pair("busybox", "/spec/containers/1/image"),
                pair("ghcr.io/org/debug", "/spec/ephemeralContainers/0/image"),
            ]
        );
    }

    #[test]
    fn deployment_and_cronjob_templates() {
        let deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"name": "i", "image": "a"}],
            "containers": [{"name": "c", "image": "b"}]}}}});
        assert_eq!(
            summary(&deployment),
            vec![
                pair("a", "/spec/template/spec/initContainers/0/image"),
                pair("b", "/spec/template/spec/containers/0/image"),
            ]
        );
        let cronjob = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "c"}]}}}}}});
        assert_eq!(
            summary(&cronjob),
            vec![pair(
                "c",
                "/spec/jobTemplate/spec/template/spec/containers/0/image"
            )]
        );
    }

    #[test]
    fn hostile_shapes_are_skipped() {
        for object in [
            json!(null),
            json!({"spec": []}),
            json!({"spec": {"containers": {"image": "x"}}}),
            json!({"spec": {"containers": [1, {"image": 5}, {"name": "no-image"}]}}),
        ] {
            assert!(extract_images(&object).is_empty(), "{object}");
        }
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(
            escape_pointer_token("kyverno.io/verify-images"),
            "kyverno.io~1verify-images"
        );
        assert_eq!(escape_pointer_token("a~b"), "a~0b");
    }
}

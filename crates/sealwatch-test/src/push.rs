//! Put fixture images into a [`TestRegistry`]: with sealwatch's own client, or with `skopeo` as an
//! independent cross-check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sealwatch_oci::registry::{BlobContent, RegistryClient};
use sealwatch_oci::{Digest, Reference};

use crate::registry::TestRegistry;

/// Why a fixture could not be pushed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid OCI document: {reason}")]
    Layout { path: PathBuf, reason: String },
    #[error(transparent)]
    Registry(#[from] sealwatch_oci::Error),
    #[error("skopeo copy failed: {0}")]
    Skopeo(String),
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Desc>>,
    #[serde(default)]
    config: Option<Desc>,
    #[serde(default)]
    layers: Option<Vec<Desc>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Desc {
    #[serde(default)]
    media_type: Option<String>,
    digest: Digest,
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn read_doc(path: &Path) -> Result<(Vec<u8>, Doc), PushError> {
    let bytes = std::fs::read(path).map_err(|source| PushError::Read {
        path: path.to_owned(),
        source,
    })?;
    let doc = serde_json::from_slice(&bytes).map_err(|e| PushError::Layout {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((bytes, doc))
}

fn blob_path(layout: &Path, digest: &Digest) -> PathBuf {
    layout
        .join("blobs")
        .join(digest.algorithm().as_str())
        .join(digest.hex())
}

/// Push the image of an OCI layout to `target` (its tag, or its digest when it has no tag) with
/// [`RegistryClient`]. A layout whose `index.json` names one manifest pushes that manifest; one that
/// names several pushes `index.json` itself as an image index. Returns the pushed root digest.
pub fn push_oci_layout(
    client: &RegistryClient,
    layout: &Path,
    target: &Reference,
) -> Result<Digest, PushError> {
    let index_path = layout.join("index.json");
    let (index_bytes, index) = read_doc(&index_path)?;
    match index.manifests.as_deref() {
        Some([only]) => push_tree(
            client,
            layout,
            target,
            &only.digest,
            only.media_type.as_deref(),
            true,
        ),
        Some(children) => {
            for child in children {
                push_tree(
                    client,
                    layout,
                    target,
                    &child.digest,
                    child.media_type.as_deref(),
                    false,
                )?;
            }
            let media_type = index.media_type.as_deref().unwrap_or(OCI_INDEX);
            Ok(client.push_manifest(target, &index_bytes, media_type)?)
        }
        None => Err(PushError::Layout {
            path: index_path,
            reason: "no `manifests`".into(),
        }),
    }
}

/// Push the manifest `digest` of `layout` and everything it refers to; at `target`'s tag when
/// `tagged`, else by digest.
fn push_tree(
    client: &RegistryClient,
    layout: &Path,
    target: &Reference,
    digest: &Digest,
    media_type: Option<&str>,
    tagged: bool,
) -> Result<Digest, PushError> {
    let path = blob_path(layout, digest);
    let (bytes, doc) = read_doc(&path)?;
    for child in doc.manifests.iter().flatten() {
        push_tree(
            client,
            layout,
            target,
            &child.digest,
            child.media_type.as_deref(),
            false,
        )?;
    }
    for blob in doc.config.iter().chain(doc.layers.iter().flatten()) {
        client.push_blob(
            target,
            &blob.digest,
            &BlobContent::File(blob_path(layout, &blob.digest)),
        )?;
    }
    let default_type = if doc.manifests.is_some() {
        OCI_INDEX
    } else {
        OCI_MANIFEST
    };
    let media_type = doc
        .media_type
        .as_deref()
        .or(media_type)
        .unwrap_or(default_type);
    let at = if tagged {
        target.clone()
    } else {
        by_digest(target, digest)?
    };
    Ok(client.push_manifest(&at, &bytes, media_type)?)
}

fn by_digest(target: &Reference, digest: &Digest) -> Result<Reference, PushError> {
    Ok(Reference::from_parts(
        target.registry(),
        target.repository(),
        None,
        Some(digest.clone()),
    )?)
}

/// `skopeo copy --preserve-digests oci:LAYOUT docker://REGISTRY/REPO_AND_TAG`: an independent
/// implementation to cross-check sealwatch's pushes and pulls against.
pub fn skopeo_push_layout(
    layout: &Path,
    registry: &TestRegistry,
    repo_and_tag: &str,
) -> Result<(), PushError> {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--quiet", "--preserve-digests"]);
    match registry.ca_cert_dir() {
        Some(cert_dir) => {
            cmd.arg("--dest-cert-dir").arg(cert_dir);
        }
        None => {
            cmd.arg("--dest-tls-verify=false");
        }
    }
    if let Some(creds) = registry.credentials() {
        cmd.arg("--dest-creds")
            .arg(format!("{}:{}", creds.username, creds.password));
    }
    let output = cmd
        .arg(format!("oci:{}", layout.display()))
        .arg(format!("docker://{}/{repo_and_tag}", registry.host()))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| PushError::Skopeo(format!("cannot run skopeo: {e}")))?;
    if !output.status.success() {
        return Err(PushError::Skopeo(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    Ok(())
}

//! Finding signature and attestation layers for a digest: OCI 1.1 referrers (API, or the
//! `sha256-<hex>` tag schema when the registry has no API), then cosign's legacy tag.

use std::collections::{BTreeMap, HashSet};

use sealwatch_oci::{Descriptor, Digest, Reference};
use serde::Deserialize;

use crate::store::digest_tag_reference;
use crate::{RegistryClient, Rejection, SignError, MAX_SIGNATURE_LAYERS};

/// One layer found in a signature, attestation or referrer manifest. Nothing of it is trusted.
#[derive(Debug, Clone)]
pub(crate) struct FoundLayer {
    /// Human-readable place, e.g. `host/repo:sha256-….sig layer 0`.
    pub location: String,
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub(crate) struct Discovery {
    pub layers: Vec<FoundLayer>,
    /// The places looked at, for "no signatures found" messages.
    pub looked: Vec<String>,
    /// Manifests that were found but could not be read.
    pub rejections: Vec<Rejection>,
}

/// Every layer of every referrer manifest of `digest` (the referrers API, or the `sha256-<hex>`
/// tag schema when the registry has none). Callers that find nothing usable there go on with
/// [`discover_legacy`].
pub(crate) fn discover_referrers(
    client: &RegistryClient,
    reference: &Reference,
    digest: &Digest,
) -> Result<Discovery, SignError> {
    let mut discovery = Discovery::default();

    let referrers = match client.referrers(reference, digest, None) {
        Ok(Some(referrers)) => {
            discovery
                .looked
                .push(format!("referrers API of {}", reference.name()));
            referrers
                .manifests
                .into_iter()
                .map(|r| Descriptor::new(r.media_type, r.digest, r.size))
                .collect()
        }
        Ok(None) => {
            let schema_tag = digest_tag_reference(reference, digest, "")?;
            discovery.looked.push(schema_tag.to_string());
            match fetch_optional(client, &schema_tag)? {
                Some(bytes) => match serde_json::from_slice::<Document>(&bytes) {
                    Ok(Document {
                        manifests: Some(manifests),
                        ..
                    }) => manifests,
                    Ok(_) => {
                        discovery.rejections.push(Rejection {
                            location: schema_tag.to_string(),
                            reason: "referrers tag holds an image manifest, not an index".into(),
                        });
                        Vec::new()
                    }
                    Err(e) => {
                        discovery.rejections.push(Rejection {
                            location: schema_tag.to_string(),
                            reason: format!("unreadable referrers index: {e}"),
                        });
                        Vec::new()
                    }
                },
                None => Vec::new(),
            }
        }
        Err(source) => {
            return Err(SignError::registry(
                format!("listing referrers of {digest} in {}", reference.name()),
                source,
            ))
        }
    };
    if referrers.len() > MAX_SIGNATURE_LAYERS {
        return Err(SignError::TooManyLayers {
            location: format!("referrers of {digest}"),
            count: referrers.len(),
            limit: MAX_SIGNATURE_LAYERS,
        });
    }
    for referrer in referrers {
        let location = format!("{}@{} (referrer)", reference.name(), referrer.digest);
        let fetched =
            match client.fetch_manifest_by_digest(reference, &referrer.digest, Some(referrer.size))
            {
                Ok(fetched) => fetched.bytes,
                Err(
                    e @ (sealwatch_oci::Error::ManifestUnknown { .. }
                    | sealwatch_oci::Error::DigestMismatch { .. }
                    | sealwatch_oci::Error::ManifestDigestMismatch { .. }
                    | sealwatch_oci::Error::SizeMismatch { .. }),
                ) => {
                    discovery.rejections.push(Rejection {
                        location,
                        reason: e.to_string(),
                    });
                    continue;
                }
                Err(source) => {
                    return Err(SignError::registry(format!("reading {location}"), source))
                }
            };
        add_layers(&mut discovery, &fetched, &location)?;
    }

    dedupe(&mut discovery);
    Ok(discovery)
}

/// The layers of cosign's legacy manifest at `sha256-<hex>.<suffix>` (`sig` or `att`), added to
/// `discovery`; a layer already found as a referrer is listed once.
pub(crate) fn discover_legacy(
    client: &RegistryClient,
    reference: &Reference,
    digest: &Digest,
    suffix: &str,
    discovery: &mut Discovery,
) -> Result<(), SignError> {
    let legacy = digest_tag_reference(reference, digest, suffix)?;
    discovery.looked.push(legacy.to_string());
    if let Some(bytes) = fetch_optional(client, &legacy)? {
        add_layers(discovery, &bytes, &legacy.to_string())?;
    }
    dedupe(discovery);
    Ok(())
}

fn dedupe(discovery: &mut Discovery) {
    let mut seen = HashSet::new();
    discovery.layers.retain(|layer| {
        seen.insert((
            layer.digest.clone(),
            layer
                .annotations
                .get(sealwatch_trust::cosign::SIGNATURE_ANNOTATION)
                .cloned(),
        ))
    });
}

/// A manifest at a tag, or `None` when the tag does not exist.
fn fetch_optional(
    client: &RegistryClient,
    location: &Reference,
) -> Result<Option<Vec<u8>>, SignError> {
    match client.fetch_manifest(location) {
        Ok(fetched) => Ok(Some(fetched.bytes)),
        Err(sealwatch_oci::Error::ManifestUnknown { .. }) => Ok(None),
        Err(source) => Err(SignError::registry(format!("reading {location}"), source)),
    }
}

fn add_layers(discovery: &mut Discovery, bytes: &[u8], location: &str) -> Result<(), SignError> {
    // Our own minimal reading, not `sealwatch_oci::Manifest`: that one checks layer media types
    // for image content, and signature layers are not image layers.
    let layers = match serde_json::from_slice::<Document>(bytes) {
        Ok(Document {
            layers: Some(layers),
            manifests: None,
        }) => layers,
        Ok(_) => {
            discovery.rejections.push(Rejection {
                location: location.to_owned(),
                reason: "not a signature manifest (an index, or no layers)".into(),
            });
            return Ok(());
        }
        Err(e) => {
            discovery.rejections.push(Rejection {
                location: location.to_owned(),
                reason: format!("unreadable signature manifest: {e}"),
            });
            return Ok(());
        }
    };
    if layers.len() > MAX_SIGNATURE_LAYERS {
        return Err(SignError::TooManyLayers {
            location: location.to_owned(),
            count: layers.len(),
            limit: MAX_SIGNATURE_LAYERS,
        });
    }
    for (index, layer) in layers.into_iter().enumerate() {
        discovery.layers.push(FoundLayer {
            location: format!("{location} layer {index}"),
            media_type: layer.media_type,
            digest: layer.digest,
            size: layer.size,
            annotations: layer.annotations,
        });
    }
    Ok(())
}

/// The parts of a manifest or index that discovery reads.
#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

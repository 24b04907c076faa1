//! Writing: resolve the image, build what is signed, and append it as one layer to the
//! signature (`.sig`) or attestation (`.att`) manifest, the way cosign's legacy layout does.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sealwatch_oci::manifest::media_type;
use sealwatch_oci::registry::BlobContent;
use sealwatch_oci::{Digest, Reference};
use sealwatch_trust::cosign::{
    self, ATTESTATION_TAG_SUFFIX, BUNDLE_ANNOTATION, BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_PREDICATE_TYPE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION,
    DSSE_ENVELOPE_MEDIA_TYPE, OCI_EMPTY_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION, SIGNATURE_TAG_SUFFIX, SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
};
use sealwatch_trust::dsse::predicate_type::COSIGN_SIGN_V1;
use sealwatch_trust::dsse::{Envelope, Statement, Subject, IN_TOTO_PAYLOAD_TYPE};
use sealwatch_trust::keyless::{
    bundle_v03, dsse_entry, hashedrekord_entry, intoto_entry, BundleContent, BundleSigner, LogEntry,
};
use sealwatch_trust::{PrivateKey, SimpleSigningPayload};
use serde_json::{json, Value};

use crate::{
    AttestOptions, KeylessSigner, RegistryClient, SignError, SignOptions, SignatureFormat, Signed,
    Signer, MAX_SIGNATURE_LAYERS,
};

/// The manifest digest `reference` names: its digest when it has one (checked to exist), else
/// what its tag points at now.
pub fn resolve_digest(client: &RegistryClient, reference: &Reference) -> Result<Digest, SignError> {
    match client.head_manifest(reference) {
        Ok(head) => Ok(head.digest),
        Err(
            source @ (sealwatch_oci::Error::ManifestUnknown { .. }
            | sealwatch_oci::Error::NameUnknown { .. }),
        ) => Err(SignError::ImageNotFound {
            image: reference.to_string(),
            source: Box::new(source),
        }),
        Err(source) => Err(SignError::registry(
            format!("resolving {reference} to a digest"),
            source,
        )),
    }
}

/// Sign `reference`'s manifest digest with `key` and append the signature to
/// `sha256-<hex>.sig` (or store it as a bundle referrer, per `options.format`).
pub fn sign_image(
    client: &RegistryClient,
    reference: &Reference,
    key: &PrivateKey,
    options: &SignOptions,
) -> Result<Signed, SignError> {
    sign_image_with(client, reference, Signer::Key(key), options)
}

/// Sign `reference`'s manifest digest with a key or keylessly, stored per `options.format`.
pub fn sign_image_with(
    client: &RegistryClient,
    reference: &Reference,
    signer: Signer<'_>,
    options: &SignOptions,
) -> Result<Signed, SignError> {
    let subject = resolve_subject(client, reference)?;
    let trust_digest = trust_digest(&subject.digest)?;
    if options.format == SignatureFormat::Bundle {
        let mut statement_subject = Subject::new(docker_reference(reference), &trust_digest);
        statement_subject.annotations = options
            .annotations
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let statement = Statement::new(statement_subject, COSIGN_SIGN_V1, json!({}));
        return push_bundle(client, reference, &subject, signer, &statement);
    }
    let mut payload = SimpleSigningPayload::new(docker_reference(reference), &trust_digest);
    for (name, value) in &options.annotations {
        payload = payload.with_annotation(name.clone(), value.clone());
    }
    let bytes = payload.to_json();
    let signature = signing_key(signer).sign(&bytes).map_err(|source| {
        SignError::trust(format!("signing the payload for {reference}"), source)
    })?;
    let mut annotations =
        BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), BASE64.encode(&signature))]);
    if let Signer::Keyless(keyless) = signer {
        let chain = keyless.chain();
        let entry = keyless.log(hashedrekord_entry(&bytes, &signature, &chain.leaf_pem()))?;
        add_keyless_annotations(&mut annotations, keyless, &entry);
    }
    append_layer(
        client,
        reference,
        &subject.digest,
        SIGNATURE_TAG_SUFFIX,
        SIMPLE_SIGNING_MEDIA_TYPE,
        bytes,
        annotations,
    )
}

/// Wrap the predicate in an in-toto statement about `reference`'s digest, sign it as a DSSE
/// envelope, and append it to `sha256-<hex>.att` (or store it as a bundle referrer).
pub fn attest_image(
    client: &RegistryClient,
    reference: &Reference,
    key: &PrivateKey,
    options: &AttestOptions,
) -> Result<Signed, SignError> {
    attest_image_with(client, reference, Signer::Key(key), options)
}

/// [`attest_image`] with a key or keylessly.
pub fn attest_image_with(
    client: &RegistryClient,
    reference: &Reference,
    signer: Signer<'_>,
    options: &AttestOptions,
) -> Result<Signed, SignError> {
    if options.predicate_type.is_empty() {
        return Err(SignError::InvalidPredicate {
            reason: "empty predicate type".into(),
        });
    }
    let subject = resolve_subject(client, reference)?;
    let trust_digest = trust_digest(&subject.digest)?;
    let statement = Statement::new(
        Subject::new(docker_reference(reference), &trust_digest),
        options.predicate_type.clone(),
        options.predicate.clone(),
    );
    if options.format == SignatureFormat::Bundle {
        return push_bundle(client, reference, &subject, signer, &statement);
    }
    let envelope = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        statement.to_json(),
        signing_key(signer),
    )
    .map_err(|source| {
        SignError::trust(format!("signing the attestation for {reference}"), source)
    })?;
    let mut annotations = BTreeMap::from([
        (
            PREDICATE_TYPE_ANNOTATION.to_owned(),
            options.predicate_type.clone(),
        ),
        // cosign writes the signature annotation on attestation layers too, empty.
        (SIGNATURE_ANNOTATION.to_owned(), String::new()),
    ]);
    if let Signer::Keyless(keyless) = signer {
        let entry = keyless.log(intoto_entry(&envelope, &keyless.chain().leaf_pem()))?;
        add_keyless_annotations(&mut annotations, keyless, &entry);
    }
    append_layer(
        client,
        reference,
        &subject.digest,
        ATTESTATION_TAG_SUFFIX,
        DSSE_ENVELOPE_MEDIA_TYPE,
        envelope.to_json(),
        annotations,
    )
}

fn signing_key<'a>(signer: Signer<'a>) -> &'a PrivateKey {
    match signer {
        Signer::Key(key) => key,
        Signer::Keyless(keyless) => keyless.key(),
    }
}

fn add_keyless_annotations(
    annotations: &mut BTreeMap<String, String>,
    keyless: &KeylessSigner,
    entry: &LogEntry,
) {
    let chain = keyless.chain();
    annotations.insert(CERTIFICATE_ANNOTATION.to_owned(), chain.leaf_pem());
    annotations.insert(CHAIN_ANNOTATION.to_owned(), chain.chain_pem());
    annotations.insert(
        BUNDLE_ANNOTATION.to_owned(),
        entry.cosign_bundle_annotation(),
    );
}

/// The image manifest a signature is about: digest, media type and size (the referrer's
/// `subject` descriptor needs all three).
struct SubjectManifest {
    digest: Digest,
    media_type: String,
    size: u64,
}

fn resolve_subject(
    client: &RegistryClient,
    reference: &Reference,
) -> Result<SubjectManifest, SignError> {
    let head = match client.head_manifest(reference) {
        Ok(head) => head,
        Err(
            source @ (sealwatch_oci::Error::ManifestUnknown { .. }
            | sealwatch_oci::Error::NameUnknown { .. }),
        ) => {
            return Err(SignError::ImageNotFound {
                image: reference.to_string(),
                source: Box::new(source),
            })
        }
        Err(source) => {
            return Err(SignError::registry(
                format!("resolving {reference} to a digest"),
                source,
            ))
        }
    };
    if let (Some(media_type), Some(size)) = (head.media_type.clone(), head.size) {
        return Ok(SubjectManifest {
            digest: head.digest,
            media_type,
            size,
        });
    }
    // Some registries leave out Content-Type or Content-Length on HEAD: read the manifest.
    let fetched = client
        .fetch_manifest_by_digest(reference, &head.digest, None)
        .map_err(|source| SignError::registry(format!("reading {reference}"), source))?;
    let media_type = serde_json::from_slice::<Value>(&fetched.bytes)
        .ok()
        .and_then(|doc| {
            doc.get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| media_type::OCI_MANIFEST.to_owned());
    Ok(SubjectManifest {
        digest: head.digest,
        media_type,
        size: fetched.bytes.len() as u64,
    })
}

/// Sign `statement` as DSSE, wrap it in a bundle v0.3 and push it as a referrer of the image.
fn push_bundle(
    client: &RegistryClient,
    reference: &Reference,
    subject: &SubjectManifest,
    signer: Signer<'_>,
    statement: &Statement,
) -> Result<Signed, SignError> {
    let envelope = Envelope::sign(
        IN_TOTO_PAYLOAD_TYPE,
        statement.to_json(),
        signing_key(signer),
    )
    .map_err(|source| SignError::trust(format!("signing the statement for {reference}"), source))?;
    let bundle = match signer {
        Signer::Key(key) => {
            let hint = key
                .public_key()
                .to_spki_der()
                .map(|der| Digest::sha256_of(&der).hex().to_owned())
                .map_err(|source| SignError::trust("encoding the public key", source))?;
            bundle_v03(
                BundleContent::Dsse(&envelope),
                BundleSigner::PublicKeyHint(&hint),
                None,
            )
        }
        Signer::Keyless(keyless) => {
            let entry = keyless.log(dsse_entry(&envelope, &keyless.chain().leaf_pem()))?;
            bundle_v03(
                BundleContent::Dsse(&envelope),
                BundleSigner::Certificate(keyless.chain().leaf()),
                Some(&entry),
            )
        }
    }
    .into_bytes();
    push_referrer(
        client,
        reference,
        subject,
        bundle,
        &statement.predicate_type,
    )
}

/// The empty JSON object, the config of OCI 1.1 artifacts.
const EMPTY_CONFIG: &[u8] = b"{}";

fn push_referrer(
    client: &RegistryClient,
    reference: &Reference,
    subject: &SubjectManifest,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> Result<Signed, SignError> {
    let bundle_digest = Digest::sha256_of(&bundle);
    let bundle_size = bundle.len() as u64;
    client
        .push_blob(
            reference,
            &bundle_digest,
            &BlobContent::Bytes(Arc::from(bundle.clone())),
        )
        .map_err(|source| {
            SignError::registry(format!("pushing bundle blob {bundle_digest}"), source)
        })?;
    let config_digest = Digest::sha256_of(EMPTY_CONFIG);
    client
        .push_blob(
            reference,
            &config_digest,
            &BlobContent::Bytes(Arc::from(EMPTY_CONFIG)),
        )
        .map_err(|source| {
            SignError::registry(format!("pushing config blob {config_digest}"), source)
        })?;
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let annotations = json!({
        BUNDLE_CONTENT_ANNOTATION: "dsse-envelope",
        BUNDLE_PREDICATE_TYPE_ANNOTATION: predicate_type,
        "org.opencontainers.image.created": created,
    });
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
        "config": {
            "mediaType": OCI_EMPTY_MEDIA_TYPE,
            "digest": config_digest.to_string(),
            "size": EMPTY_CONFIG.len(),
        },
        "layers": [{
            "mediaType": SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
            "digest": bundle_digest.to_string(),
            "size": bundle_size,
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest.to_string(),
            "size": subject.size,
        },
        "annotations": annotations,
    });
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(|e| SignError::MalformedSignatureManifest {
            location: reference.to_string(),
            reason: e.to_string(),
        })?;
    let manifest_digest = Digest::sha256_of(&manifest_bytes);
    // By digest only: pushing with the image's tag would move the tag to the referrer.
    let location = Reference::from_parts(
        reference.registry(),
        reference.repository(),
        None,
        Some(manifest_digest.clone()),
    )
    .map_err(|source| {
        SignError::registry(format!("naming the referrer {manifest_digest}"), source)
    })?;
    client
        .push_manifest(&location, &manifest_bytes, media_type::OCI_MANIFEST)
        .map_err(|source| SignError::registry(format!("pushing referrer {location}"), source))?;

    // A registry with the referrers API indexes the subject itself; one without it needs the
    // tag-schema index (the registry may also not echo OCI-Subject, so ask the API directly).
    let referrer_count = match client.referrers(reference, &subject.digest, None) {
        Ok(Some(referrers)) => referrers.manifests.len().max(1),
        Ok(None) => {
            let descriptor = json!({
                "mediaType": media_type::OCI_MANIFEST,
                "digest": manifest_digest.to_string(),
                "size": manifest_bytes.len(),
                "artifactType": SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
                "annotations": annotations,
            });
            update_referrers_index(client, reference, &subject.digest, descriptor)?
        }
        Err(source) => {
            return Err(SignError::registry(
                format!("listing referrers of {}", subject.digest),
                source,
            ))
        }
    };
    Ok(Signed {
        digest: subject.digest.clone(),
        location,
        manifest_digest,
        layer_count: referrer_count,
        blob: bundle,
        created: true,
    })
}

/// Read-modify-write of the referrers tag-schema index at `sha256-<hex>`: the new descriptor is
/// appended, existing entries are kept as they are. Returns the number of entries.
fn update_referrers_index(
    client: &RegistryClient,
    reference: &Reference,
    subject: &Digest,
    descriptor: Value,
) -> Result<usize, SignError> {
    let location = digest_tag_reference(reference, subject, "")?;
    let malformed = |reason: String| SignError::MalformedSignatureManifest {
        location: location.to_string(),
        reason,
    };
    let mut manifests = match client.fetch_manifest(&location) {
        Ok(fetched) => {
            let doc: Value =
                serde_json::from_slice(&fetched.bytes).map_err(|e| malformed(e.to_string()))?;
            match doc.get("manifests") {
                Some(Value::Array(entries)) => entries.clone(),
                None | Some(Value::Null) if doc.get("layers").is_none() => Vec::new(),
                _ => {
                    return Err(malformed(
                        "the referrers tag holds something other than an OCI index".into(),
                    ))
                }
            }
        }
        Err(sealwatch_oci::Error::ManifestUnknown { .. }) => Vec::new(),
        Err(source) => {
            return Err(SignError::registry(
                format!("reading the referrers index {location}"),
                source,
            ))
        }
    };
    if manifests.len() >= MAX_SIGNATURE_LAYERS {
        return Err(SignError::TooManyLayers {
            location: location.to_string(),
            count: manifests.len() + 1,
            limit: MAX_SIGNATURE_LAYERS,
        });
    }
    let new_digest = descriptor.get("digest").cloned();
    if !manifests
        .iter()
        .any(|m| m.get("digest") == new_digest.as_ref())
    {
        manifests.push(descriptor);
    }
    let count = manifests.len();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": manifests,
    });
    let bytes = serde_json::to_vec(&index).map_err(|e| malformed(e.to_string()))?;
    client
        .push_manifest(&location, &bytes, media_type::OCI_INDEX)
        .map_err(|source| SignError::registry(format!("pushing {location}"), source))?;
    Ok(count)
}

/// `critical.identity.docker-reference` / the statement subject name: the repository as
/// go-containerregistry names it (`index.docker.io/library/alpine`, `127.0.0.1:5000/app`).
pub(crate) fn docker_reference(reference: &Reference) -> String {
    sealwatch_trust::verify::canonical_repository(&reference.name())
}

/// The same digest in the trust crate's type.
pub(crate) fn trust_digest(digest: &Digest) -> Result<sealwatch_trust::Digest, SignError> {
    sealwatch_trust::Digest::parse(&digest.to_string())
        .map_err(|source| SignError::trust(format!("image digest {digest}"), source))
}

/// The `sha256-<hex>.<suffix>` tag of `digest` in `reference`'s repository.
pub(crate) fn digest_tag_reference(
    reference: &Reference,
    digest: &Digest,
    suffix: &str,
) -> Result<Reference, SignError> {
    let tag = cosign::digest_tag(&trust_digest(digest)?, suffix);
    reference
        .with_tag(&tag)
        .map_err(|source| SignError::registry(format!("building tag {tag}"), source))
}

/// Read-modify-write of the manifest at `sha256-<hex>.<suffix>`: push the blob, add one layer for
/// it (unless an identical layer is there already), push the manifest back.
fn append_layer(
    client: &RegistryClient,
    reference: &Reference,
    digest: &Digest,
    suffix: &str,
    layer_media_type: &str,
    blob: Vec<u8>,
    annotations: BTreeMap<String, String>,
) -> Result<Signed, SignError> {
    let location = digest_tag_reference(reference, digest, suffix)?;
    let blob_digest = Digest::sha256_of(&blob);
    let blob_size = blob.len() as u64;
    let content = BlobContent::Bytes(Arc::from(blob.clone()));
    client
        .push_blob(&location, &blob_digest, &content)
        .map_err(|source| SignError::registry(format!("pushing blob {blob_digest}"), source))?;

    let existing = match client.fetch_manifest(&location) {
        Ok(fetched) => Some(fetched),
        Err(sealwatch_oci::Error::ManifestUnknown { .. }) => None,
        Err(source) => {
            return Err(SignError::registry(
                format!("reading the existing {location}"),
                source,
            ))
        }
    };
    let created = existing.is_none();
    let mut layers = match &existing {
        Some(fetched) => existing_layers(&fetched.bytes, &location)?,
        None => Vec::new(),
    };
    let new_layer = json!({
        "mediaType": layer_media_type,
        "size": blob_size,
        "digest": blob_digest.to_string(),
        "annotations": annotations,
    });
    if !layers.contains(&new_layer) {
        if layers.len() >= MAX_SIGNATURE_LAYERS {
            return Err(SignError::TooManyLayers {
                location: location.to_string(),
                count: layers.len() + 1,
                limit: MAX_SIGNATURE_LAYERS,
            });
        }
        layers.push(new_layer);
    }

    let config = config_for(&layers);
    let config_digest = Digest::sha256_of(&config);
    let config_size = config.len() as u64;
    client
        .push_blob(
            &location,
            &config_digest,
            &BlobContent::Bytes(Arc::from(config)),
        )
        .map_err(|source| {
            SignError::registry(format!("pushing config blob {config_digest}"), source)
        })?;
    let layer_count = layers.len();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {
            "mediaType": media_type::OCI_CONFIG,
            "size": config_size,
            "digest": config_digest.to_string(),
        },
        "layers": layers,
    });
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(|e| SignError::MalformedSignatureManifest {
            location: location.to_string(),
            reason: e.to_string(),
        })?;
    let manifest_digest = client
        .push_manifest(&location, &manifest_bytes, media_type::OCI_MANIFEST)
        .map_err(|source| SignError::registry(format!("pushing {location}"), source))?;
    Ok(Signed {
        digest: digest.clone(),
        location,
        manifest_digest,
        layer_count,
        blob,
        created,
    })
}

/// The layer descriptors of an existing signature manifest, kept as JSON so that fields we do
/// not model (certificates, bundles written by cosign) survive the rewrite unchanged.
fn existing_layers(bytes: &[u8], location: &Reference) -> Result<Vec<Value>, SignError> {
    let malformed = |reason: String| SignError::MalformedSignatureManifest {
        location: location.to_string(),
        reason,
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    if doc.get("manifests").is_some() || doc.get("config").is_none() {
        return Err(malformed("it is an index, not an image manifest".into()));
    }
    let layers = match doc.get("layers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(layers)) => layers.clone(),
        Some(_) => return Err(malformed("`layers` is not an array".into())),
    };
    if layers.len() > MAX_SIGNATURE_LAYERS {
        return Err(SignError::TooManyLayers {
            location: location.to_string(),
            count: layers.len(),
            limit: MAX_SIGNATURE_LAYERS,
        });
    }
    if let Some(bad) = layers
        .iter()
        .position(|l| l.get("digest").and_then(Value::as_str).is_none())
    {
        return Err(malformed(format!("layer {bad} has no digest")));
    }
    Ok(layers)
}

/// An image config like go-containerregistry's empty image after appending the layers (which is
/// what cosign pushes): no OS or architecture, zero times, one diff_id per (uncompressed) layer.
fn config_for(layers: &[Value]) -> Vec<u8> {
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    let diff_ids: Vec<&str> = layers
        .iter()
        .filter_map(|l| l.get("digest").and_then(Value::as_str))
        .collect();
    let history: Vec<Value> = diff_ids
        .iter()
        .map(|_| json!({ "created": ZERO_TIME }))
        .collect();
    let config = json!({
        "architecture": "",
        "created": ZERO_TIME,
        "history": history,
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "config": {},
    });
    serde_json::to_vec(&config).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location() -> Reference {
        "127.0.0.1:5000/app:sha256-00.sig"
            .parse()
            .expect("reference")
    }

    #[test]
    fn existing_layers_are_kept_or_refused() {
        let layer = json!({"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "digest": "sha256:aa", "size": 1,
                           "annotations": {"dev.sigstore.cosign/bundle": "{}"}});
        let check = |doc: Value, expect: Result<usize, &str>| {
            let bytes = serde_json::to_vec(&doc).expect("json");
            match (existing_layers(&bytes, &location()), expect) {
                (Ok(layers), Ok(count)) => {
                    assert_eq!(layers.len(), count, "{doc}");
                    // Unknown annotations survive untouched.
                    if count > 0 {
                        assert_eq!(layers[0], layer);
                    }
                }
                (Err(err), Err(needle)) => {
                    assert!(
                        err.to_string().contains(needle),
                        "{err} should say {needle}"
                    )
                }
                (got, want) => panic!("{doc}: got {got:?}, want {want:?}"),
            }
        };
        check(json!({"config": {}, "layers": [layer]}), Ok(1));
        check(json!({"config": {}, "layers": null}), Ok(0));
        check(json!({"config": {}}), Ok(0));
        check(json!({"manifests": []}), Err("an index"));
        check(json!({"config": {}, "layers": {}}), Err("not an array"));
        check(
            json!({"config": {}, "layers": [{"size": 1}]}),
            Err("layer 0 has no digest"),
        );
        let many = vec![layer.clone(); MAX_SIGNATURE_LAYERS + 1];
        check(
            json!({"config": {}, "layers": many}),
            Err("over the limit of 1000"),
        );
        assert!(matches!(
            existing_layers(b"not json", &location()),
            Err(SignError::MalformedSignatureManifest { .. })
        ));
    }

    #[test]
    fn config_lists_each_layer() {
        let layers = vec![
            json!({"digest": "sha256:aa"}),
            json!({"digest": "sha256:bb"}),
        ];
        let config: Value = serde_json::from_slice(&config_for(&layers)).expect("json");
        assert_eq!(
            config["rootfs"]["diff_ids"],
            json!(["sha256:aa", "sha256:bb"])
        );
        assert_eq!(config["history"].as_array().map(Vec::len), Some(2));
        assert_eq!(config["os"], "");
    }

    #[test]
    fn docker_reference_matches_go_containerregistry_names() {
        let check = |input: &str, expect: &str| {
            let reference: Reference = input.parse().expect("reference");
            assert_eq!(docker_reference(&reference), expect, "{input}");
        };
        check("alpine:3.20", "index.docker.io/library/alpine");
        check("docker.io/user/app", "index.docker.io/user/app");
        check("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app");
        check("ghcr.io/org/app:latest", "ghcr.io/org/app");
    }
}

//! `db push` / `db pull`: the database as an OCI artifact, so a fleet of CI runners pulls one artifact
//! from its own registry instead of each downloading the feeds.
//!
//! Layout (OCI image spec 1.1 artifact guidance): an image manifest with `artifactType`
//! [`ARTIFACT_TYPE`], the empty config `{}`, and one layer — the redb file itself, media type
//! [`LAYER_MEDIA_TYPE`]. Annotations carry the schema version, the build time and the record count, so
//! a client can refuse a database it cannot read before downloading it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealwatch_oci::manifest::media_type;
use sealwatch_oci::registry::{BlobContent, RegistryClient};
use sealwatch_oci::{Digest, Reference};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::{AdvisoryDb, DbError, DbStatus, Result, SCHEMA_VERSION};

pub const ARTIFACT_TYPE: &str = "application/vnd.sealwatch.db.v1";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.sealwatch.db.layer.v1.redb";
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const ANNOTATION_SCHEMA: &str = "dev.sealwatch.db.schema-version";
pub const ANNOTATION_RECORDS: &str = "dev.sealwatch.db.records";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";

/// Largest database accepted from a registry (today's full OSV set is far below this).
pub const MAX_DB_BYTES: u64 = 16 << 30;

/// What was pushed or pulled.
#[derive(Debug, Clone)]
pub struct Published {
    pub reference: String,
    pub manifest_digest: Digest,
    pub layer_digest: Digest,
    pub size: u64,
    pub schema_version: u32,
    pub created: Option<String>,
}

fn registry_err(reference: &Reference) -> impl Fn(sealwatch_oci::Error) -> DbError + '_ {
    move |source| DbError::Registry {
        reference: reference.to_string(),
        source: Box::new(source),
    }
}

/// Publish the database at `db_path` as `reference` (a tag or digest reference).
pub fn push(client: &RegistryClient, db_path: &Path, reference: &Reference) -> Result<Published> {
    // Validate before publishing: never push a foreign file or a half-built one.
    let status: DbStatus = AdvisoryDb::open(db_path)?.status()?;
    let (layer_digest, size) = sha256_file(db_path)?;
    let err = registry_err(reference);
    client
        .push_blob(
            reference,
            &layer_digest,
            &BlobContent::File(db_path.to_owned()),
        )
        .map_err(&err)?;
    let config = b"{}".to_vec();
    let config_digest = Digest::sha256_of(&config);
    client
        .push_blob(
            reference,
            &config_digest,
            &BlobContent::Bytes(Arc::from(config.clone())),
        )
        .map_err(&err)?;
    let created = status.updated_at.clone().unwrap_or_default();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_CONFIG_MEDIA_TYPE,
            "digest": config_digest.to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest.to_string(),
            "size": size,
            "annotations": { ANNOTATION_TITLE: "advisories.redb" },
        }],
        "annotations": {
            ANNOTATION_SCHEMA: status.schema_version.to_string(),
            ANNOTATION_RECORDS: status.records.to_string(),
            ANNOTATION_CREATED: created,
        },
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| DbError::NotAnArtifact {
        reference: reference.to_string(),
        reason: e.to_string(),
    })?;
    let manifest_digest = client
        .push_manifest(reference, &bytes, media_type::OCI_MANIFEST)
        .map_err(&err)?;
    Ok(Published {
        reference: reference.to_string(),
        manifest_digest,
        layer_digest,
        size,
        schema_version: status.schema_version,
        created: status.updated_at,
    })
}

/// Fetch the database artifact `reference` and install it at `db_path` atomically. The manifest and the
/// layer are verified against their digests and sizes, a newer schema is refused before the download, and
/// the downloaded file must open as a database before it replaces the current one.
pub fn pull(client: &RegistryClient, reference: &Reference, db_path: &Path) -> Result<Published> {
    let err = registry_err(reference);
    let fetched = client.fetch_manifest(reference).map_err(&err)?;
    let not_ours = |reason: String| DbError::NotAnArtifact {
        reference: reference.to_string(),
        reason,
    };
    let manifest: Value = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| not_ours(format!("manifest is not JSON: {e}")))?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let is_ours = manifest["artifactType"].as_str() == Some(ARTIFACT_TYPE)
        || layers
            .iter()
            .any(|l| l["mediaType"].as_str() == Some(LAYER_MEDIA_TYPE));
    if !is_ours {
        return Err(not_ours(format!(
            "artifactType is {}, expected {ARTIFACT_TYPE}",
            manifest["artifactType"].as_str().unwrap_or("absent")
        )));
    }
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(manifest["annotations"].clone()).unwrap_or_default();
    let schema_version: u32 = annotations
        .get(ANNOTATION_SCHEMA)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| not_ours(format!("no valid {ANNOTATION_SCHEMA} annotation")))?;
    if schema_version > SCHEMA_VERSION {
        return Err(DbError::NewerSchema {
            path: PathBuf::from(reference.to_string()),
            found: schema_version,
        });
    }
    let [layer] = layers.as_slice() else {
        return Err(not_ours(format!(
            "{} layers, expected exactly one",
            layers.len()
        )));
    };
    if layer["mediaType"].as_str() != Some(LAYER_MEDIA_TYPE) {
        return Err(not_ours(format!(
            "layer media type {}, expected {LAYER_MEDIA_TYPE}",
            layer["mediaType"].as_str().unwrap_or("absent")
        )));
    }
    let layer_digest: Digest = layer["digest"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| not_ours("layer has no valid digest".into()))?;
    let size = layer["size"]
        .as_u64()
        .ok_or_else(|| not_ours("layer has no size".into()))?;
    if size > MAX_DB_BYTES {
        return Err(not_ours(format!(
            "layer is {size} bytes, more than the {MAX_DB_BYTES} accepted"
        )));
    }

    let dir = db_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DbError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".advisories-pull-")
        .suffix(".redb.tmp")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    // `pull_blob` checks the digest and size while streaming; a mismatch fails here and the temporary
    // file goes away with `temp`.
    client
        .pull_blob(reference, &layer_digest, size, temp.as_file_mut())
        .map_err(&err)?;
    temp.as_file().sync_all().map_err(io(temp.path()))?;
    let temp = temp.into_temp_path();
    // The content decides, not the annotation: open it as a database (schema check included).
    AdvisoryDb::open(&temp)?.status()?;
    temp.persist(db_path).map_err(|e| DbError::Io {
        path: db_path.to_owned(),
        source: e.error,
    })?;
    Ok(Published {
        reference: reference.to_string(),
        manifest_digest: fetched.digest,
        layer_digest,
        size,
        schema_version,
        created: annotations.get(ANNOTATION_CREATED).cloned(),
    })
}

fn sha256_file(path: &Path) -> Result<(Digest, u64)> {
    let io = |source| DbError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        size += n as u64;
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()))
        .parse()
        .map_err(|e: sealwatch_oci::Error| DbError::Registry {
            reference: path.display().to_string(),
            source: Box::new(e),
        })?;
    Ok((digest, size))
}

//! Writes OCI image layouts: used by tests to build (also deliberately broken) images, and by
//! sealwatch when it writes images of its own.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::manifest::{
    media_type, Compression, Descriptor, ImageIndex, ImageManifest, REF_NAME_ANNOTATION,
};
use crate::{Digest, Error, Result};

/// Builds an OCI image layout folder blob by blob; [`OciLayoutWriter::finish`] writes `index.json`.
#[derive(Debug)]
pub struct OciLayoutWriter {
    dir: PathBuf,
    manifests: Vec<Descriptor>,
}

impl OciLayoutWriter {
    /// Start a layout in `dir` (created if missing).
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|source| Error::Io {
            path: blobs.clone(),
            source,
        })?;
        write_file(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(OciLayoutWriter {
            dir,
            manifests: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store `bytes` as a blob; returns its descriptor.
    pub fn write_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let digest = Digest::sha256_of(bytes);
        write_file(&self.blob_path(&digest), bytes)?;
        Ok(Descriptor::new(media_type, digest, bytes.len() as u64))
    }

    /// Where the blob `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Compress a layer tar and store it; returns the layer descriptor and its diff_id.
    pub fn write_layer(
        &self,
        tar: &[u8],
        compression: Compression,
    ) -> Result<(Descriptor, Digest)> {
        let diff_id = Digest::sha256_of(tar);
        let io_err = |source| Error::Io {
            path: self.dir.clone(),
            source,
        };
        let (media_type, blob) = match compression {
            Compression::None => (media_type::OCI_LAYER_TAR, tar.to_vec()),
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(tar).map_err(io_err)?;
                (media_type::OCI_LAYER_GZIP, enc.finish().map_err(io_err)?)
            }
            Compression::Zstd => (
                media_type::OCI_LAYER_ZSTD,
                zstd::encode_all(tar, 3).map_err(io_err)?,
            ),
        };
        Ok((self.write_blob(media_type, &blob)?, diff_id))
    }

    /// Write a config and a manifest for `layers` (with their diff_ids) and add the manifest to
    /// the index under `ref_name`. `config` is the JSON config; its `rootfs` is filled in.
    pub fn write_image(
        &mut self,
        mut config: serde_json::Value,
        layers: &[(Descriptor, Digest)],
        ref_name: Option<&str>,
    ) -> Result<Descriptor> {
        let diff_ids: Vec<String> = layers.iter().map(|(_, d)| d.to_string()).collect();
        if let Some(obj) = config.as_object_mut() {
            obj.insert(
                "rootfs".into(),
                serde_json::json!({"type": "layers", "diff_ids": diff_ids}),
            );
        }
        let config_bytes = to_json(&config, &self.dir)?;
        let config_desc = self.write_blob(media_type::OCI_CONFIG, &config_bytes)?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_owned()),
            config: config_desc,
            layers: layers.iter().map(|(d, _)| d.clone()).collect(),
            annotations: BTreeMap::new(),
        };
        self.add_manifest(&manifest, ref_name)
    }

    /// Store a manifest (as given, e.g. a deliberately inconsistent one) and add it to the index.
    pub fn add_manifest(
        &mut self,
        manifest: &ImageManifest,
        ref_name: Option<&str>,
    ) -> Result<Descriptor> {
        let bytes = to_json(manifest, &self.dir)?;
        let mut desc = self.write_blob(media_type::OCI_MANIFEST, &bytes)?;
        if let Some(r) = ref_name {
            desc.annotations
                .insert(REF_NAME_ANNOTATION.to_owned(), r.to_owned());
        }
        self.manifests.push(desc.clone());
        Ok(desc)
    }

    /// Add an existing descriptor (e.g. an index, or one with a platform) to `index.json`.
    pub fn add_descriptor(&mut self, desc: Descriptor) {
        self.manifests.push(desc);
    }

    /// Write `index.json`; returns the layout folder.
    pub fn finish(self) -> Result<PathBuf> {
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_owned()),
            manifests: self.manifests,
            annotations: BTreeMap::new(),
        };
        let bytes = to_json(&index, &self.dir)?;
        write_file(&self.dir.join("index.json"), &bytes)?;
        Ok(self.dir)
    }
}

fn to_json<T: serde::Serialize>(value: &T, dir: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|source| Error::BadJson {
        what: "manifest",
        digest: dir.display().to_string(),
        source,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

//! [`RegistrySource`]: a [`BlobSource`] reading one image from a registry.

use std::io::Read;
use std::sync::Arc;

use crate::cache::{BlobCache, CachingSource};
use crate::manifest::Descriptor;
use crate::source::{BlobSource, RootManifest};
use crate::{Reference, Result};

use super::RegistryClient;

/// One image reference in a registry, read through a shared [`RegistryClient`].
#[derive(Debug, Clone)]
pub struct RegistrySource {
    client: Arc<RegistryClient>,
    reference: Reference,
}

impl RegistrySource {
    pub fn new(client: Arc<RegistryClient>, reference: Reference) -> Self {
        RegistrySource { client, reference }
    }

    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    pub fn client(&self) -> &Arc<RegistryClient> {
        &self.client
    }

    /// This source as a [`BlobSource`] for [`crate::Image::from_source`]; with a cache, blobs are
    /// downloaded into it (temp file, verified, renamed) and read from there.
    pub fn into_blob_source(self, cache: Option<BlobCache>) -> Arc<dyn BlobSource> {
        match cache {
            Some(cache) => Arc::new(CachingSource::new(Arc::new(self), cache)),
            None => Arc::new(self),
        }
    }
}

impl BlobSource for RegistrySource {
    fn root_manifest(&self) -> Result<RootManifest> {
        let fetched = self.client.fetch_manifest(&self.reference)?;
        Ok(RootManifest {
            bytes: fetched.bytes,
            media_type: fetched.media_type,
            digest: Some(fetched.digest),
            synthesized: false,
        })
    }

    fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        Ok(self
            .client
            .fetch_manifest_by_digest(&self.reference, &desc.digest, Some(desc.size))?
            .bytes)
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>> {
        // The caller verifies (trait contract); the response is returned as it streams.
        Ok(Box::new(
            self.client.get_blob(&self.reference, &desc.digest)?,
        ))
    }

    fn describe(&self) -> String {
        format!("registry:{}", self.reference)
    }
}

//! The registry side of `watch`'s provenance fields: verify an image digest's signature and read
//! its newest `vuln` attestation with `sealwatch-sign`, within the `--provenance-timeout` bound.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sealwatch_oci::registry::RegistryOptions;
use sealwatch_runtime::provenance::{
    cve_counts, newest_scan, EvidenceLookup, ProvenanceCache, RegistryEvidence, SignatureStatus,
};
use sealwatch_sign::{PublicKey, Reference, RegistryClient, SignedBy, VerifyOptions};

use super::sign::read_public_keys;

/// cosign's vulnerability-scan predicate type.
const VULN_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// Image digests remembered (and looked up) at most.
const CACHE_CAPACITY: usize = 4096;

/// `watch` flags for the provenance fields.
#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// Add the image's provenance to every alert from a container: `sealwatch.image.digest`,
    /// `sealwatch.signature`, `sealwatch.signer`, `sealwatch.cves.critical`, `sealwatch.cves.high`
    /// (docs/provenance-fields.md). Implied by --verify-key and --attestation-key.
    #[arg(long)]
    provenance: bool,
    /// Public key trusted for image signatures (repeatable): each running image digest is
    /// verified once against these, and the signer is the verifying key's fingerprint.
    #[arg(long, value_name = "FILE")]
    verify_key: Vec<PathBuf>,
    /// Public key trusted for `vuln` attestations, the source of the CVE counts (repeatable;
    /// default: the --verify-key keys).
    #[arg(long, value_name = "FILE")]
    attestation_key: Vec<PathBuf>,
    /// Longest an alert waits for an image's first registry lookup, in seconds (also each
    /// registry request's timeout). A slower lookup finishes in the background; alerts meanwhile
    /// say `unknown`.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    provenance_timeout: u64,
    /// Extra CA certificate(s), PEM, for registry TLS.
    #[arg(long, value_name = "FILE")]
    registry_ca: Vec<PathBuf>,
    /// Registry host[:port] that may be used over plain HTTP (loopback hosts always may).
    #[arg(long, value_name = "HOST")]
    insecure_registry: Vec<String>,
}

impl ProvenanceArgs {
    /// The provenance cache, or `None` when provenance was not asked for.
    pub fn cache(&self) -> anyhow::Result<Option<Arc<ProvenanceCache>>> {
        if !self.provenance && self.verify_key.is_empty() && self.attestation_key.is_empty() {
            return Ok(None);
        }
        let timeout = Duration::from_secs(self.provenance_timeout.max(1));
        let signature_keys = read_public_keys(&self.verify_key)?;
        let attestation_keys = if self.attestation_key.is_empty() {
            signature_keys.clone()
        } else {
            read_public_keys(&self.attestation_key)?
        };
        let lookup: Option<Arc<dyn EvidenceLookup>> = if signature_keys.is_empty()
            && attestation_keys.is_empty()
        {
            None
        } else {
            let mut options = RegistryOptions::from_environment();
            options.ca_files.clone_from(&self.registry_ca);
            options
                .insecure_registries
                .clone_from(&self.insecure_registry);
            options.connect_timeout = timeout;
            options.request_timeout = timeout;
            options.blob_timeout = timeout;
            options.max_retries = 1;
            let client = RegistryClient::new(options).context("setting up the registry client")?;
            Some(Arc::new(RegistryLookup {
                client,
                signature_keys,
                attestation_keys,
            }))
        };
        Ok(Some(Arc::new(ProvenanceCache::new(
            lookup,
            timeout,
            CACHE_CAPACITY,
        ))))
    }
}

/// Signatures and vuln attestations from the image's registry.
struct RegistryLookup {
    client: RegistryClient,
    signature_keys: Vec<PublicKey>,
    attestation_keys: Vec<PublicKey>,
}

impl EvidenceLookup for RegistryLookup {
    fn lookup(&self, repository: &str, digest: &str) -> RegistryEvidence {
        let text = format!("{repository}@{digest}");
        let Ok(reference) = text.parse::<Reference>() else {
            eprintln!("warning: provenance: {text} is not an image reference");
            return RegistryEvidence::unknown();
        };
        let options = |keys: &[PublicKey]| VerifyOptions {
            keys: keys.to_vec(),
            keyless: None,
            check_reference: true,
        };
        let mut retry = false;
        let (signature, signer) = if self.signature_keys.is_empty() {
            (SignatureStatus::Unknown, None)
        } else {
            match sealwatch_sign::verify_image(
                &self.client,
                &reference,
                &options(&self.signature_keys),
            ) {
                Ok(verified) => (
                    SignatureStatus::Verified,
                    verified.signatures.first().map(|s| match &s.signer {
                        SignedBy::Key { key_id, .. } => key_id.clone(),
                        SignedBy::Certificate { identity, .. } => identity.clone(),
                    }),
                ),
                Err(e) if e.is_not_verified() => (SignatureStatus::Unverified, None),
                Err(e) => {
                    eprintln!("warning: provenance: verifying {text}: {e}");
                    retry = true;
                    (SignatureStatus::Unknown, None)
                }
            }
        };
        let cves = if self.attestation_keys.is_empty() {
            None
        } else {
            match sealwatch_sign::verify_attestations(
                &self.client,
                &reference,
                &options(&self.attestation_keys),
                Some(VULN_PREDICATE),
            ) {
                Ok(found) => {
                    let predicates: Vec<serde_json::Value> = found
                        .attestations
                        .into_iter()
                        .map(|a| a.predicate)
                        .collect();
                    newest_scan(&predicates).and_then(cve_counts)
                }
                // No verified scan: the counts are unknown (not zero).
                Err(e) if e.is_not_verified() => None,
                Err(e) => {
                    eprintln!("warning: provenance: reading the vuln attestation of {text}: {e}");
                    retry = true;
                    None
                }
            }
        };
        RegistryEvidence {
            signature,
            signer,
            cves,
            retry,
        }
    }
}

//! The registry side of `watch`'s provenance fields: verify an image digest's signature and read
//! its newest `vuln` attestation with `sealwatch-sign` (trusted keys and/or keyless certificate
//! identities), within the `--provenance-timeout` bound.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sealwatch_oci::registry::RegistryOptions;
use sealwatch_runtime::provenance::{
    cve_counts, newest_scan, EvidenceLookup, ProvenanceCache, RegistryEvidence, SignatureStatus,
};
use sealwatch_sign::{
    KeylessPolicy, PublicKey, Reference, RegistryClient, SignedBy, VerifyOptions,
};

use super::sign::read_public_keys;
use super::verify::keyless_policy;

/// cosign's vulnerability-scan predicate type.
const VULN_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// Image digests remembered (and looked up) at most.
const CACHE_CAPACITY: usize = 4096;

/// `watch` flags for the provenance fields.
#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// Add the image's provenance to every alert from a container: `sealwatch.image.digest`,
    /// `sealwatch.signature`, `sealwatch.signer`, `sealwatch.cves.critical`, `sealwatch.cves.high`
    /// (docs/provenance-fields.md). Implied by --verify-key, --attestation-key and the
    /// certificate identity flags.
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
    /// Keyless image signatures: the certificate identity (SAN) that must have signed, exactly;
    /// the signer is then that identity (and `sealwatch.signer.issuer` its OIDC issuer).
    #[arg(long, value_name = "ID")]
    verify_certificate_identity: Option<String>,
    /// Keyless image signatures: the certificate identity as a regular expression.
    #[arg(
        long,
        value_name = "REGEX",
        conflicts_with = "verify_certificate_identity"
    )]
    verify_certificate_identity_regexp: Option<String>,
    /// Keyless image signatures: the certificate's OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    verify_certificate_oidc_issuer: Option<String>,
    /// Keyless image signatures: the OIDC issuer as a regular expression.
    #[arg(
        long,
        value_name = "REGEX",
        conflicts_with = "verify_certificate_oidc_issuer"
    )]
    verify_certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless `vuln` attestations: the certificate identity, exactly (default, with neither
    /// this nor --attestation-key: the image-signature keys and identity).
    #[arg(long, value_name = "ID")]
    attestation_certificate_identity: Option<String>,
    /// Keyless `vuln` attestations: the certificate identity as a regular expression.
    #[arg(
        long,
        value_name = "REGEX",
        conflicts_with = "attestation_certificate_identity"
    )]
    attestation_certificate_identity_regexp: Option<String>,
    /// Keyless `vuln` attestations: the certificate's OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    attestation_certificate_oidc_issuer: Option<String>,
    /// Keyless `vuln` attestations: the OIDC issuer as a regular expression.
    #[arg(
        long,
        value_name = "REGEX",
        conflicts_with = "attestation_certificate_oidc_issuer"
    )]
    attestation_certificate_oidc_issuer_regexp: Option<String>,
    /// `trusted_root.json` for the keyless checks instead of the embedded Sigstore production
    /// root.
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// Longest alerts wait (in the output path; the event loop never waits) for an image's
    /// registry lookup, counted from its start, in seconds (also each registry request's
    /// timeout). A slower lookup finishes in the background; alerts meanwhile say `unknown`.
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
        let signature_keyless = keyless_policy(
            "verify-",
            [
                &self.verify_certificate_identity,
                &self.verify_certificate_identity_regexp,
                &self.verify_certificate_oidc_issuer,
                &self.verify_certificate_oidc_issuer_regexp,
            ],
            self.trusted_root.as_deref(),
        )?;
        let attestation_keyless = keyless_policy(
            "attestation-",
            [
                &self.attestation_certificate_identity,
                &self.attestation_certificate_identity_regexp,
                &self.attestation_certificate_oidc_issuer,
                &self.attestation_certificate_oidc_issuer_regexp,
            ],
            self.trusted_root.as_deref(),
        )?;
        if self.trusted_root.is_some()
            && signature_keyless.is_none()
            && attestation_keyless.is_none()
        {
            anyhow::bail!(
                "--trusted-root needs --verify-certificate-identity[-regexp] and --verify-certificate-oidc-issuer[-regexp] (or the --attestation-certificate-… pair)"
            );
        }
        if !self.provenance
            && self.verify_key.is_empty()
            && self.attestation_key.is_empty()
            && signature_keyless.is_none()
            && attestation_keyless.is_none()
        {
            return Ok(None);
        }
        let timeout = Duration::from_secs(self.provenance_timeout.max(1));
        let signature = Trust {
            keys: read_public_keys(&self.verify_key)?,
            keyless: signature_keyless,
        };
        let attestation = if self.attestation_key.is_empty() && attestation_keyless.is_none() {
            signature.clone()
        } else {
            Trust {
                keys: read_public_keys(&self.attestation_key)?,
                keyless: attestation_keyless,
            }
        };
        let lookup: Option<Arc<dyn EvidenceLookup>> = if signature.is_empty()
            && attestation.is_empty()
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
                signature,
                attestation,
            }))
        };
        Ok(Some(Arc::new(ProvenanceCache::new(
            lookup,
            timeout,
            CACHE_CAPACITY,
        ))))
    }
}

/// What a signature or attestation must verify with: any of the keys, or a certificate for the
/// keyless identity.
#[derive(Debug, Clone)]
struct Trust {
    keys: Vec<PublicKey>,
    keyless: Option<KeylessPolicy>,
}

impl Trust {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.keyless.is_none()
    }

    fn options(&self) -> VerifyOptions {
        VerifyOptions {
            keys: self.keys.clone(),
            keyless: self.keyless.clone(),
            check_reference: true,
        }
    }
}

/// Signatures and vuln attestations from the image's registry.
struct RegistryLookup {
    client: RegistryClient,
    signature: Trust,
    attestation: Trust,
}

impl EvidenceLookup for RegistryLookup {
    fn lookup(&self, repository: &str, digest: &str) -> RegistryEvidence {
        let text = format!("{repository}@{digest}");
        let Ok(reference) = text.parse::<Reference>() else {
            eprintln!("warning: provenance: {text} is not an image reference");
            return RegistryEvidence::unknown();
        };
        let mut retry = false;
        let (signature, signer) = if self.signature.is_empty() {
            (SignatureStatus::Unknown, None)
        } else {
            match sealwatch_sign::verify_image(&self.client, &reference, &self.signature.options())
            {
                Ok(verified) => (
                    SignatureStatus::Verified,
                    verified.signatures.first().map(|s| match &s.signer {
                        SignedBy::Key { key_id, .. } => (key_id.clone(), None),
                        SignedBy::Certificate { identity, issuer } => {
                            (identity.clone(), Some(issuer.clone()))
                        }
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
        let (signer, signer_issuer) = signer.unzip();
        let cves = if self.attestation.is_empty() {
            None
        } else {
            match sealwatch_sign::verify_attestations(
                &self.client,
                &reference,
                &self.attestation.options(),
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
            signer_issuer: signer_issuer.flatten(),
            cves,
            retry,
        }
    }
}

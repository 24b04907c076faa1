//! Names cosign uses in registries: media types, annotation keys, tag suffixes
//! (sigstore/cosign `pkg/types`, `pkg/oci/static`, `pkg/oci/remote`; see the signing reference,
//! sections 1 and 2). Only the signature annotation has the `dev.cosignproject.cosign` prefix.

use crate::digest::Digest;

/// Layer media type of a simple-signing payload in a `.sig` manifest.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer media type of a DSSE envelope in a `.att` manifest.
pub const DSSE_ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Sigstore bundle v0.3 media type (also the artifact type of cosign v3 referrers).
pub const SIGSTORE_BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Config media type of OCI 1.1 artifacts (the empty descriptor).
pub const OCI_EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// Base64 of the raw signature over the layer blob (empty on attestation layers).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// PEM leaf certificate (keyless or certificate-based signing).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// PEM chain: intermediates and possibly the root, concatenated.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// JSON Rekor bundle (`SignedEntryTimestamp` + `Payload`).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// JSON `{"SignedRFC3161Timestamp": "<b64>"}`.
pub const RFC3161_TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Predicate type of a legacy attestation layer.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// cosign v3 referrer manifests: `dsse-envelope` or `message-signature`.
pub const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// cosign v3 referrer manifests: the predicate type of the bundled statement.
pub const BUNDLE_PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// Tag suffix of signature manifests.
pub const SIGNATURE_TAG_SUFFIX: &str = "sig";
/// Tag suffix of attestation manifests.
pub const ATTESTATION_TAG_SUFFIX: &str = "att";
/// Tag suffix of SBOM attachments.
pub const SBOM_TAG_SUFFIX: &str = "sbom";

/// The tag cosign derives from an image digest: `sha256-<hex>.<suffix>`, or `sha256-<hex>`
/// (the OCI referrers tag schema) when `suffix` is empty.
pub fn digest_tag(digest: &Digest, suffix: &str) -> String {
    if suffix.is_empty() {
        format!("{}-{}", digest.algorithm().name(), digest.hex())
    } else {
        format!("{}-{}.{suffix}", digest.algorithm().name(), digest.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_from_digest() {
        let digest = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).expect("valid");
        let hex = "ab".repeat(32);
        assert_eq!(
            digest_tag(&digest, SIGNATURE_TAG_SUFFIX),
            format!("sha256-{hex}.sig")
        );
        assert_eq!(
            digest_tag(&digest, ATTESTATION_TAG_SUFFIX),
            format!("sha256-{hex}.att")
        );
        assert_eq!(digest_tag(&digest, ""), format!("sha256-{hex}"));
    }
}

//! The one error type of this crate.

use crate::Rejection;

/// Everything that can go wrong while signing, attesting or verifying an image in a registry.
///
/// [`SignError::is_not_verified`] separates "the evidence does not verify" (a caller reports
/// *not verified*: exit code 1, admission denies with that reason) from "the check could not run"
/// (registry unreachable, image unknown, bad input: exit code 2, admission fails closed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The image reference names no manifest in the registry.
    #[error("image {image} not found in the registry")]
    ImageNotFound {
        /// The reference as given.
        image: String,
        /// The registry's answer.
        #[source]
        source: Box<sealwatch_oci::Error>,
    },

    /// A registry request failed (network, auth, protocol, a blob that fails its digest check).
    #[error("{what}")]
    Registry {
        /// What was being done, e.g. "pushing signature manifest registry/repo:sha256-….sig".
        what: String,
        /// The registry client's error.
        #[source]
        source: Box<sealwatch_oci::Error>,
    },

    /// Signing, or reading what we are about to sign, failed in the crypto layer.
    #[error("{what}")]
    Trust {
        /// What was being done.
        what: String,
        /// The trust crate's error.
        #[source]
        source: Box<sealwatch_trust::Error>,
    },

    /// A Sigstore service (Fulcio, Rekor) refused the request or could not be reached.
    #[error("{service} at {url}: {reason}")]
    Service {
        /// "Fulcio" or "Rekor".
        service: &'static str,
        /// The URL requested.
        url: String,
        /// The HTTP status and answer, or the transport error.
        reason: String,
    },

    /// A signature or attestation manifest with more layers than we are willing to look at.
    #[error("{location} has {count} layers, over the limit of {limit}: refusing to read it")]
    TooManyLayers {
        /// The manifest (reference) that was read.
        location: String,
        /// Its number of layers.
        count: usize,
        /// [`crate::MAX_SIGNATURE_LAYERS`].
        limit: usize,
    },

    /// The existing signature manifest we would append to cannot be read as an image manifest.
    #[error("existing {location} is not an image manifest we can append to: {reason}")]
    MalformedSignatureManifest {
        /// The manifest reference.
        location: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A predicate that cannot be used (not JSON, wrong shape).
    #[error("invalid predicate: {reason}")]
    InvalidPredicate {
        /// What is wrong with it.
        reason: String,
    },

    /// Neither discovery path found any signature or attestation for the digest.
    #[error("no {kind} found for {image} ({digest}); looked at {}", .looked.join(", "))]
    NoSignatures {
        /// "signatures" or "attestations".
        kind: &'static str,
        /// The image as given.
        image: String,
        /// The resolved manifest digest.
        digest: String,
        /// The places looked at.
        looked: Vec<String>,
    },

    /// Signatures exist, but none verified; each one says why.
    #[error("no {kind} of {image} ({digest}) verified: {}", describe(.rejections))]
    NotVerified {
        /// "signatures" or "attestations".
        kind: &'static str,
        /// The image as given.
        image: String,
        /// The resolved manifest digest.
        digest: String,
        /// One entry per signature (layer) found, with the reason it was rejected.
        rejections: Vec<Rejection>,
    },
}

impl SignError {
    /// True when the evidence was read and does not verify (exit 1), false when the check could
    /// not be made at all (exit 2).
    pub fn is_not_verified(&self) -> bool {
        matches!(
            self,
            SignError::NoSignatures { .. } | SignError::NotVerified { .. }
        )
    }

    pub(crate) fn registry(what: impl Into<String>, source: sealwatch_oci::Error) -> Self {
        SignError::Registry {
            what: what.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn trust(what: impl Into<String>, source: sealwatch_trust::Error) -> Self {
        SignError::Trust {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

fn describe(rejections: &[Rejection]) -> String {
    rejections
        .iter()
        .map(|r| format!("{}: {}", r.location, r.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An error with its causes, `outer: inner: innermost`, each cause added unless its text is
/// already there: sigstore-verify's exact reason and the registry's answer are usually causes,
/// and the message is all a denied user sees.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}

//! Signing a file (not an image) into a Sigstore bundle, as `cosign sign-blob --bundle` and
//! `sigstore sign` do: a message signature over the bytes, the Fulcio leaf, a `hashedrekord`
//! Rekor entry, and an RFC 3161 timestamp when a timestamp authority is configured.

use sealwatch_trust::keyless::{
    add_rfc3161_timestamp, blob_bundle_v03, hashedrekord_entry, BundleSigner,
};

use crate::{KeylessSigner, SignError};

/// A bundle v0.3 (JSON text) for `bytes`, signed keylessly and logged in Rekor.
pub fn sign_blob_keyless(signer: &KeylessSigner, bytes: &[u8]) -> Result<String, SignError> {
    let signature = signer
        .key()
        .sign(bytes)
        .map_err(|source| SignError::trust("signing the file", source))?;
    let chain = signer.chain();
    let entry = signer.log(hashedrekord_entry(bytes, &signature, &chain.leaf_pem()))?;
    let bundle = blob_bundle_v03(
        bytes,
        &signature,
        BundleSigner::Certificate(chain.leaf()),
        Some(&entry),
    );
    match signer.timestamp(&signature)? {
        Some(token) => add_rfc3161_timestamp(&bundle, &token)
            .map_err(|source| SignError::trust("adding the timestamp", source)),
        None => Ok(bundle),
    }
}

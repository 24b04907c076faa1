//! Signing a file (not an image) into a Sigstore bundle, as `cosign sign-blob --bundle` and
//! `sigstore sign` do: a message signature over the bytes, the Fulcio leaf, a `hashedrekord`
//! Rekor entry.

use sealwatch_trust::keyless::{blob_bundle_v03, hashedrekord_entry, BundleSigner};

use crate::{KeylessSigner, SignError};

/// A bundle v0.3 (JSON text) for `bytes`, signed keylessly and logged in Rekor.
pub fn sign_blob_keyless(signer: &KeylessSigner, bytes: &[u8]) -> Result<String, SignError> {
    let signature = signer
        .key()
        .sign(bytes)
        .map_err(|source| SignError::trust("signing the file", source))?;
    let chain = signer.chain();
    let entry = signer.log(hashedrekord_entry(bytes, &signature, &chain.leaf_pem()))?;
    Ok(blob_bundle_v03(
        bytes,
        &signature,
        BundleSigner::Certificate(chain.leaf()),
        Some(&entry),
    ))
}

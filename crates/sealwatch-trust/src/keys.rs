//! Signing keys in the formats cosign reads and writes.
//!
//! * private keys: cosign's encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`, legacy
//!   `ENCRYPTED COSIGN PRIVATE KEY`; see [`crate::cosign_key`]), and unencrypted PKCS#8
//!   (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`) PEM;
//! * public keys: PEM `PUBLIC KEY` (SubjectPublicKeyInfo), plus PKCS#1 `RSA PUBLIC KEY` on input.
//!
//! Signatures are made as cosign makes them: ECDSA with the curve's hash (SHA-256 for P-256,
//! SHA-384 for P-384) encoded as ASN.1 DER, pure Ed25519, RSA PKCS#1 v1.5 with SHA-256.
//! Verification also accepts Ed25519ph (cosign v3 loads Ed25519 keys that way) and RSA-PSS.

use std::fmt;

use p256::ecdsa::signature;
use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::der::Decode;
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256, Sha512};
use spki::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// PEM label of an unencrypted PKCS#8 private key.
pub const PKCS8_PEM_LABEL: &str = "PRIVATE KEY";
/// PEM label of a SEC1 EC private key.
pub const SEC1_PEM_LABEL: &str = "EC PRIVATE KEY";
/// PEM label of a PKCS#1 RSA private key.
pub const PKCS1_PEM_LABEL: &str = "RSA PRIVATE KEY";
/// PEM label of a SubjectPublicKeyInfo public key.
pub const PUBLIC_KEY_PEM_LABEL: &str = "PUBLIC KEY";
/// PEM label of a PKCS#1 RSA public key (read only).
pub const RSA_PUBLIC_KEY_PEM_LABEL: &str = "RSA PUBLIC KEY";

/// The key algorithms cosign generates and verifies (ECDSA P-521 is not supported here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA on NIST P-256 with SHA-256: cosign's default.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA with the given modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyType::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyType::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyType::Ed25519 => f.write_str("Ed25519"),
            KeyType::Rsa { bits } => write!(f, "RSA-{bits}"),
        }
    }
}

/// Smallest RSA modulus this crate generates or accepts (cosign's smallest is 2048 as well).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus this crate generates or accepts, a bound on verification cost.
pub const MAX_RSA_BITS: usize = 8192;

enum Secret {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A private signing key. Its secret material is zeroized on drop by the underlying crates.
pub struct PrivateKey {
    secret: Secret,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secret material.
        f.debug_struct("PrivateKey")
            .field("key_type", &self.key_type())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generate a new key of `key_type` with randomness from `rng`.
    pub fn generate(key_type: KeyType, rng: &mut impl CryptoRngCore) -> Result<Self> {
        let secret = match key_type {
            KeyType::EcdsaP256 => Secret::P256(p256::ecdsa::SigningKey::random(rng)),
            KeyType::EcdsaP384 => Secret::P384(p384::ecdsa::SigningKey::random(rng)),
            KeyType::Ed25519 => Secret::Ed25519(ed25519_dalek::SigningKey::generate(rng)),
            KeyType::Rsa { bits } => {
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(Error::UnsupportedKeyType {
                        algorithm: format!(
                            "RSA-{bits} (supported: {MIN_RSA_BITS} to {MAX_RSA_BITS} bits)"
                        ),
                    });
                }
                let key = rsa::RsaPrivateKey::new(rng, bits).map_err(|e| Error::Crypto {
                    operation: "RSA key generation",
                    reason: e.to_string(),
                })?;
                Secret::Rsa(Box::new(key))
            }
        };
        Ok(PrivateKey { secret })
    }

    /// The algorithm of this key.
    pub fn key_type(&self) -> KeyType {
        match &self.secret {
            Secret::P256(_) => KeyType::EcdsaP256,
            Secret::P384(_) => KeyType::EcdsaP384,
            Secret::Ed25519(_) => KeyType::Ed25519,
            Secret::Rsa(key) => KeyType::Rsa {
                bits: rsa::traits::PublicKeyParts::size(key.as_ref()) * 8,
            },
        }
    }

    /// Read a PKCS#8 `PrivateKeyInfo` (DER), dispatching on its algorithm identifier.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let malformed = |e: &dyn fmt::Display| Error::MalformedKey {
            what: "PKCS#8 private key",
            reason: e.to_string(),
        };
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| malformed(&e))?;
        let algorithm = info.algorithm.oid;
        let secret = if algorithm == OID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|e| malformed(&e))?;
            if curve == OID_P256 {
                Secret::P256(
                    p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| malformed(&e))?,
                )
            } else if curve == OID_P384 {
                Secret::P384(
                    p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| malformed(&e))?,
                )
            } else {
                return Err(Error::UnsupportedKeyType {
                    algorithm: describe_curve(curve),
                });
            }
        } else if algorithm == OID_ED25519 {
            Secret::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| malformed(&e))?,
            )
        } else if algorithm == OID_RSA {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| malformed(&e))?;
            check_rsa_size(rsa::traits::PublicKeyParts::size(&key) * 8)?;
            Secret::Rsa(Box::new(key))
        } else {
            return Err(Error::UnsupportedKeyType {
                algorithm: format!("algorithm OID {algorithm}"),
            });
        };
        Ok(PrivateKey { secret })
    }

    /// Read a SEC1 `ECPrivateKey` (DER) on P-256 or P-384.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self> {
        // The curve decoders check the named-curve parameter themselves, so trying each in turn
        // picks the right one; a key on any other curve fails both.
        if let Ok(key) = p256::SecretKey::from_sec1_der(der) {
            return Ok(PrivateKey {
                secret: Secret::P256(key.into()),
            });
        }
        match p384::SecretKey::from_sec1_der(der) {
            Ok(key) => Ok(PrivateKey {
                secret: Secret::P384(key.into()),
            }),
            Err(e) => Err(Error::MalformedKey {
                what: "SEC1 EC private key (P-256 or P-384)",
                reason: e.to_string(),
            }),
        }
    }

    /// Read a PKCS#1 `RSAPrivateKey` (DER).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| Error::MalformedKey {
            what: "PKCS#1 RSA private key",
            reason: e.to_string(),
        })?;
        check_rsa_size(rsa::traits::PublicKeyParts::size(&key) * 8)?;
        Ok(PrivateKey {
            secret: Secret::Rsa(Box::new(key)),
        })
    }

    /// Read any private-key PEM cosign reads. Encrypted cosign keys are opened with `password`
    /// (which may be empty); for unencrypted keys the password is ignored.
    pub fn from_pem(pem: &str, password: &[u8]) -> Result<Self> {
        let (label, der) = decode_pem(pem)?;
        let der = Zeroizing::new(der);
        match label.as_str() {
            crate::cosign_key::PEM_LABEL | crate::cosign_key::LEGACY_PEM_LABEL => {
                let pkcs8 = crate::cosign_key::decrypt_envelope(&der, password)?;
                Self::from_pkcs8_der(&pkcs8)
            }
            PKCS8_PEM_LABEL => Self::from_pkcs8_der(&der),
            SEC1_PEM_LABEL => Self::from_sec1_der(&der),
            PKCS1_PEM_LABEL => Self::from_pkcs1_der(&der),
            _ => Err(Error::UnsupportedPemLabel {
                label,
                expected: "ENCRYPTED SIGSTORE PRIVATE KEY, ENCRYPTED COSIGN PRIVATE KEY, PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY",
            }),
        }
    }

    /// Encrypt this key in cosign's format (scrypt N=65536, r=8, p=1 + NaCl secretbox) and
    /// return the `ENCRYPTED SIGSTORE PRIVATE KEY` PEM text.
    pub fn to_cosign_pem(&self, password: &[u8], rng: &mut impl CryptoRngCore) -> Result<String> {
        let pkcs8 = self.to_pkcs8_der()?;
        crate::cosign_key::encrypt_to_pem(
            &pkcs8,
            password,
            crate::cosign_key::ScryptCost::Standard,
            rng,
        )
    }

    /// The PKCS#8 `PrivateKeyInfo` DER of this key (zeroized on drop).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = match &self.secret {
            Secret::P256(key) => key.to_pkcs8_der(),
            Secret::P384(key) => key.to_pkcs8_der(),
            Secret::Ed25519(key) => key.to_pkcs8_der(),
            Secret::Rsa(key) => key.to_pkcs8_der(),
        }
        .map_err(|e| Error::Crypto {
            operation: "PKCS#8 encoding",
            reason: e.to_string(),
        })?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let key = match &self.secret {
            Secret::P256(key) => Public::P256(*key.verifying_key()),
            Secret::P384(key) => Public::P384(*key.verifying_key()),
            Secret::Ed25519(key) => Public::Ed25519(key.verifying_key()),
            Secret::Rsa(key) => Public::Rsa(Box::new(key.to_public_key())),
        };
        PublicKey { key }
    }

    /// Sign `message` the way cosign does; the result is what goes, base64-encoded, into the
    /// `dev.cosignproject.cosign/signature` annotation.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        use signature::Signer;
        Ok(match &self.secret {
            Secret::P256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign(message).map_err(sign_error)?;
                sig.to_der().as_bytes().to_vec()
            }
            Secret::P384(key) => {
                let sig: p384::ecdsa::Signature = key.try_sign(message).map_err(sign_error)?;
                sig.to_der().as_bytes().to_vec()
            }
            Secret::Ed25519(key) => key
                .try_sign(message)
                .map_err(sign_error)?
                .to_bytes()
                .to_vec(),
            Secret::Rsa(key) => {
                use signature::SignatureEncoding;
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.as_ref().clone());
                signer.try_sign(message).map_err(sign_error)?.to_vec()
            }
        })
    }
}

fn sign_error(e: signature::Error) -> Error {
    Error::Crypto {
        operation: "signing",
        reason: e.to_string(),
    }
}

fn describe_curve(curve: ObjectIdentifier) -> String {
    if curve == OID_P521 {
        "ECDSA P-521".to_string()
    } else {
        format!("ECDSA on curve OID {curve}")
    }
}

fn check_rsa_size(bits: usize) -> Result<()> {
    if (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(Error::UnsupportedKeyType {
            algorithm: format!("RSA-{bits} (supported: {MIN_RSA_BITS} to {MAX_RSA_BITS} bits)"),
        })
    }
}

#[derive(Clone)]
enum Public {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(Box<rsa::RsaPublicKey>),
}

/// A public key that checks signatures.
#[derive(Clone)]
pub struct PublicKey {
    key: Public,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type())
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        // Two keys are the same key when their SubjectPublicKeyInfo encodings are.
        matches!((self.to_spki_der(), other.to_spki_der()), (Ok(a), Ok(b)) if a == b)
    }
}

impl PublicKey {
    /// The algorithm of this key.
    pub fn key_type(&self) -> KeyType {
        match &self.key {
            Public::P256(_) => KeyType::EcdsaP256,
            Public::P384(_) => KeyType::EcdsaP384,
            Public::Ed25519(_) => KeyType::Ed25519,
            Public::Rsa(key) => KeyType::Rsa {
                bits: rsa::traits::PublicKeyParts::size(key.as_ref()) * 8,
            },
        }
    }

    /// Read a SubjectPublicKeyInfo (DER), dispatching on its algorithm identifier.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let malformed = |e: &dyn fmt::Display| Error::MalformedKey {
            what: "SubjectPublicKeyInfo",
            reason: e.to_string(),
        };
        let info = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| malformed(&e))?;
        let algorithm = info.algorithm.oid;
        let key = if algorithm == OID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|e| malformed(&e))?;
            if curve == OID_P256 {
                Public::P256(
                    p256::ecdsa::VerifyingKey::from_public_key_der(der)
                        .map_err(|e| malformed(&e))?,
                )
            } else if curve == OID_P384 {
                Public::P384(
                    p384::ecdsa::VerifyingKey::from_public_key_der(der)
                        .map_err(|e| malformed(&e))?,
                )
            } else {
                return Err(Error::UnsupportedKeyType {
                    algorithm: describe_curve(curve),
                });
            }
        } else if algorithm == OID_ED25519 {
            Public::Ed25519(
                ed25519_dalek::VerifyingKey::from_public_key_der(der).map_err(|e| malformed(&e))?,
            )
        } else if algorithm == OID_RSA {
            let key = rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| malformed(&e))?;
            check_rsa_size(rsa::traits::PublicKeyParts::size(&key) * 8)?;
            Public::Rsa(Box::new(key))
        } else {
            return Err(Error::UnsupportedKeyType {
                algorithm: format!("algorithm OID {algorithm}"),
            });
        };
        Ok(PublicKey { key })
    }

    /// Read a `PUBLIC KEY` (or PKCS#1 `RSA PUBLIC KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let (label, der) = decode_pem(pem)?;
        match label.as_str() {
            PUBLIC_KEY_PEM_LABEL => Self::from_spki_der(&der),
            RSA_PUBLIC_KEY_PEM_LABEL => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                let key =
                    rsa::RsaPublicKey::from_pkcs1_der(&der).map_err(|e| Error::MalformedKey {
                        what: "PKCS#1 RSA public key",
                        reason: e.to_string(),
                    })?;
                check_rsa_size(rsa::traits::PublicKeyParts::size(&key) * 8)?;
                Ok(PublicKey {
                    key: Public::Rsa(Box::new(key)),
                })
            }
            _ => Err(Error::UnsupportedPemLabel {
                label,
                expected: "PUBLIC KEY or RSA PUBLIC KEY",
            }),
        }
    }

    /// The SubjectPublicKeyInfo DER of this key.
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        let doc = match &self.key {
            Public::P256(key) => key.to_public_key_der(),
            Public::P384(key) => key.to_public_key_der(),
            Public::Ed25519(key) => key.to_public_key_der(),
            Public::Rsa(key) => key.to_public_key_der(),
        }
        .map_err(|e| Error::Crypto {
            operation: "SubjectPublicKeyInfo encoding",
            reason: e.to_string(),
        })?;
        Ok(doc.into_vec())
    }

    /// The `PUBLIC KEY` PEM of this key, as cosign writes `cosign.pub`.
    pub fn to_pem(&self) -> Result<String> {
        let der = self.to_spki_der()?;
        pem_rfc7468::encode_string(PUBLIC_KEY_PEM_LABEL, pem_rfc7468::LineEnding::LF, &der).map_err(
            |e| Error::Crypto {
                operation: "PEM encoding",
                reason: e.to_string(),
            },
        )
    }

    /// Check `signature` over `message`. `what` names the message in the error ("payload", ...).
    ///
    /// ECDSA signatures must be ASN.1 DER (what cosign writes); Ed25519 is tried pure, then as
    /// Ed25519ph; RSA is tried as PKCS#1 v1.5 with SHA-256, then PSS with SHA-256 (salt length
    /// equal to the hash, then the maximum, which is what Go's signer picks by default).
    pub(crate) fn verify_message(
        &self,
        message: &[u8],
        signature: &[u8],
        what: &'static str,
    ) -> Result<()> {
        use signature::Verifier;
        let key_type = self.key_type();
        let mismatch = || Error::SignatureMismatch { key_type, what };
        let malformed = |reason: String| Error::MalformedSignature { key_type, reason };
        match &self.key {
            Public::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|e| malformed(format!("not an ASN.1 DER ECDSA signature ({e})")))?;
                key.verify(message, &sig).map_err(|_| mismatch())
            }
            Public::P384(key) => {
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|e| malformed(format!("not an ASN.1 DER ECDSA signature ({e})")))?;
                key.verify(message, &sig).map_err(|_| mismatch())
            }
            Public::Ed25519(key) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| {
                    malformed(format!("expected 64 bytes, got {}", signature.len()))
                })?;
                if key.verify_strict(message, &sig).is_ok() {
                    return Ok(());
                }
                let prehash = Sha512::new_with_prefix(message);
                key.verify_prehashed_strict(prehash, None, &sig)
                    .map_err(|_| mismatch())
            }
            Public::Rsa(key) => {
                let size = rsa::traits::PublicKeyParts::size(key.as_ref());
                if signature.len() != size {
                    return Err(malformed(format!(
                        "expected {size} bytes, got {}",
                        signature.len()
                    )));
                }
                let pkcs1 = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.as_ref().clone());
                let sig = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|e| malformed(e.to_string()))?;
                if pkcs1.verify(message, &sig).is_ok() {
                    return Ok(());
                }
                let pss_sig = rsa::pss::Signature::try_from(signature)
                    .map_err(|e| malformed(e.to_string()))?;
                let hash_len = <Sha256 as Digest>::output_size();
                let max_salt = size.saturating_sub(hash_len + 2);
                for salt_len in [hash_len, max_salt] {
                    let pss = rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(
                        key.as_ref().clone(),
                        salt_len,
                    );
                    if pss.verify(message, &pss_sig).is_ok() {
                        return Ok(());
                    }
                }
                Err(mismatch())
            }
        }
    }
}

/// Decode one PEM block, tolerating surrounding whitespace.
pub(crate) fn decode_pem(pem: &str) -> Result<(String, Vec<u8>)> {
    let text = pem.trim();
    match pem_rfc7468::decode_vec(text.as_bytes()) {
        Ok((label, der)) => Ok((label.to_string(), der)),
        Err(source) => {
            let label = pem_rfc7468::decode_label(text.as_bytes())
                .ok()
                .map(str::to_string);
            Err(Error::MalformedPem { label, source })
        }
    }
}

/// True when `pem` is a cosign encrypted private key, i.e. reading it needs a password.
pub fn pem_needs_password(pem: &str) -> bool {
    matches!(
        pem_rfc7468::decode_label(pem.trim().as_bytes()),
        Ok(crate::cosign_key::PEM_LABEL | crate::cosign_key::LEGACY_PEM_LABEL)
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::verify::verify_signature;

    const ALL_TYPES: [KeyType; 4] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
        KeyType::Rsa { bits: 2048 },
    ];

    fn generate(key_type: KeyType) -> PrivateKey {
        PrivateKey::generate(key_type, &mut rand_core::OsRng).expect("key generation")
    }

    /// RSA generation is slow in debug builds; tests that only need "an RSA key" share one.
    fn shared_rsa() -> PrivateKey {
        static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let der = DER.get_or_init(|| {
            generate(KeyType::Rsa { bits: 2048 })
                .to_pkcs8_der()
                .expect("der")
                .to_vec()
        });
        PrivateKey::from_pkcs8_der(der).expect("shared RSA key")
    }

    fn key_of(key_type: KeyType) -> PrivateKey {
        match key_type {
            KeyType::Rsa { .. } => shared_rsa(),
            other => generate(other),
        }
    }

    #[test]
    fn generated_keys_round_trip_through_cosign_format() {
        for key_type in ALL_TYPES {
            let key = key_of(key_type);
            let pem = key
                .to_cosign_pem(b"s3cret", &mut rand_core::OsRng)
                .expect("encrypts");

            // Read it back as cosign would see it, with plain PEM/base64/JSON, not our types.
            let (label, body) = pem_rfc7468::decode_vec(pem.as_bytes()).expect("PEM");
            assert_eq!(label, "ENCRYPTED SIGSTORE PRIVATE KEY");
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
            assert_eq!(json["kdf"]["name"], "scrypt");
            assert_eq!(json["kdf"]["params"]["N"], 65536);
            assert_eq!(json["kdf"]["params"]["r"], 8);
            assert_eq!(json["kdf"]["params"]["p"], 1);
            assert_eq!(json["cipher"]["name"], "nacl/secretbox");
            let b64 = |v: &serde_json::Value| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().expect("string"))
                    .expect("base64")
            };
            assert_eq!(b64(&json["kdf"]["salt"]).len(), 32);
            assert_eq!(b64(&json["cipher"]["nonce"]).len(), 24);
            // secretbox adds a 16-byte tag to the PKCS#8 DER.
            assert_eq!(
                b64(&json["ciphertext"]).len(),
                key.to_pkcs8_der().expect("der").len() + 16
            );

            let reread = PrivateKey::from_pem(&pem, b"s3cret").expect("decrypts");
            assert_eq!(reread.key_type(), key_type);
            assert_eq!(reread.public_key(), key.public_key(), "{key_type}");
            assert!(matches!(
                PrivateKey::from_pem(&pem, b"s3cret!"),
                Err(Error::WrongPassword)
            ));

            // A signature by the re-read key verifies with the original public key.
            let sig = reread.sign(b"payload").expect("signs");
            verify_signature(&key.public_key(), b"payload", &sig).expect("verifies");
        }
    }

    #[test]
    fn unencrypted_pems_read() {
        for key_type in ALL_TYPES {
            let key = key_of(key_type);
            let der = key.to_pkcs8_der().expect("der");
            let pem =
                pem_rfc7468::encode_string(PKCS8_PEM_LABEL, pem_rfc7468::LineEnding::LF, &der)
                    .expect("pem");
            assert!(!pem_needs_password(&pem));
            assert_eq!(
                PrivateKey::from_pem(&pem, b"ignored")
                    .expect("reads")
                    .public_key(),
                key.public_key()
            );
        }
        // SEC1 and PKCS#1 forms.
        let p256 = p256::SecretKey::random(&mut rand_core::OsRng);
        let sec1 = p256
            .to_sec1_pem(pem_rfc7468::LineEnding::LF)
            .expect("sec1 pem");
        assert_eq!(
            PrivateKey::from_pem(&sec1, b"").expect("sec1").key_type(),
            KeyType::EcdsaP256
        );
        let p384 = p384::SecretKey::random(&mut rand_core::OsRng);
        let sec1 = p384
            .to_sec1_pem(pem_rfc7468::LineEnding::LF)
            .expect("sec1 pem");
        assert_eq!(
            PrivateKey::from_pem(&sec1, b"").expect("sec1").key_type(),
            KeyType::EcdsaP384
        );
        let rsa_key =
            rsa::RsaPrivateKey::from_pkcs8_der(&shared_rsa().to_pkcs8_der().expect("der"))
                .expect("rsa");
        let pkcs1 =
            rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(&rsa_key, pem_rfc7468::LineEnding::LF)
                .expect("pkcs1");
        assert_eq!(
            PrivateKey::from_pem(&pkcs1, b"").expect("pkcs1").key_type(),
            KeyType::Rsa { bits: 2048 }
        );
    }

    #[test]
    fn signature_tampering_is_caught_for_every_key_type() {
        for key_type in ALL_TYPES {
            let key = key_of(key_type);
            let public = key.public_key();
            let sig = key.sign(b"payload").expect("signs");
            // Flip one byte at several places: each must be refused, as mismatch or malformed.
            for index in [0, sig.len() / 2, sig.len() - 1] {
                let mut bad = sig.clone();
                bad[index] ^= 0x01;
                let err = verify_signature(&public, b"payload", &bad)
                    .expect_err("tampered signature accepted");
                assert!(
                    matches!(
                        err,
                        Error::SignatureMismatch { .. } | Error::MalformedSignature { .. }
                    ),
                    "{key_type}: {err}"
                );
                assert!(err.is_not_verified());
            }
            let err =
                verify_signature(&public, b"payloaD", &sig).expect_err("tampered payload accepted");
            assert!(
                matches!(
                    err,
                    Error::SignatureMismatch {
                        what: "payload",
                        ..
                    }
                ),
                "{key_type}: {err}"
            );
            // A signature from another key of the same type does not verify.
            let other = generate(key_type).sign(b"payload").expect("signs");
            assert!(
                verify_signature(&public, b"payload", &other).is_err(),
                "{key_type}"
            );
        }
    }

    #[test]
    fn ed25519ph_signatures_verify() {
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let sig = key
            .sign_prehashed(Sha512::new_with_prefix(b"payload"), None)
            .expect("signs");
        let public = PublicKey {
            key: Public::Ed25519(key.verifying_key()),
        };
        public
            .verify_message(b"payload", &sig.to_bytes(), "payload")
            .expect("Ed25519ph accepted");
        assert!(public
            .verify_message(b"other", &sig.to_bytes(), "payload")
            .is_err());
    }

    #[test]
    fn rsa_pss_signatures_verify() {
        use signature::{RandomizedSigner, SignatureEncoding};
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&shared_rsa().to_pkcs8_der().expect("der"))
            .expect("rsa");
        let public = PublicKey {
            key: Public::Rsa(Box::new(key.to_public_key())),
        };
        let max_salt = 256 - 32 - 2;
        for salt_len in [32, max_salt] {
            let signer = rsa::pss::SigningKey::<Sha256>::new_with_salt_len(key.clone(), salt_len);
            let sig = signer
                .sign_with_rng(&mut rand_core::OsRng, b"payload")
                .to_vec();
            public
                .verify_message(b"payload", &sig, "payload")
                .expect("PSS accepted");
            assert!(public.verify_message(b"other", &sig, "payload").is_err());
        }
    }

    #[test]
    fn bad_key_input_gives_clear_errors() {
        let check = |pem: &str, expect: fn(&Error) -> bool| {
            let err = PrivateKey::from_pem(pem, b"123").expect_err("must fail");
            assert!(expect(&err), "{pem:?} gave {err}");
        };
        check("not a pem", |e| matches!(e, Error::MalformedPem { .. }));
        check(
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            |e| matches!(e, Error::MalformedPem { label: Some(l), .. } if l == "PRIVATE KEY"),
        );
        check(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            |e| matches!(e, Error::MalformedKey { .. }),
        );
        check(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            |e| matches!(e, Error::UnsupportedPemLabel { label, .. } if label == "CERTIFICATE"),
        );

        // An unknown algorithm: an Ed25519 PKCS#8 with its OID changed to X25519 (1.3.101.110).
        let mut der = generate(KeyType::Ed25519)
            .to_pkcs8_der()
            .expect("der")
            .to_vec();
        let oid = [0x06, 0x03, 0x2b, 0x65, 0x70];
        let at = der
            .windows(oid.len())
            .position(|w| w == oid)
            .expect("Ed25519 OID present");
        der[at + 4] = 0x6e;
        let err = PrivateKey::from_pkcs8_der(&der).expect_err("X25519 is not a signing key");
        assert!(
            matches!(&err, Error::UnsupportedKeyType { algorithm } if algorithm.contains("1.3.101.110")),
            "{err}"
        );

        // Encrypted envelopes with parameters cosign refuses.
        let envelope = |kdf: &str, n: u64, cipher: &str| {
            let json = format!(
                r#"{{"kdf":{{"name":"{kdf}","params":{{"N":{n},"r":8,"p":1}},"salt":"AAAA"}},"cipher":{{"name":"{cipher}","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},"ciphertext":"AAAA"}}"#
            );
            pem_rfc7468::encode_string(
                crate::cosign_key::PEM_LABEL,
                pem_rfc7468::LineEnding::LF,
                json.as_bytes(),
            )
            .expect("pem")
        };
        check(
            &envelope("scrypt", 1 << 30, "nacl/secretbox"),
            |e| matches!(e, Error::UnsupportedScryptParams { n, .. } if *n == 1 << 30),
        );
        check(&envelope("pbkdf2", 65536, "nacl/secretbox"), |e| {
            matches!(e, Error::UnsupportedKeyEncryption { what: "kdf", .. })
        });
        check(&envelope("scrypt", 65536, "aes-gcm"), |e| {
            matches!(e, Error::UnsupportedKeyEncryption { what: "cipher", .. })
        });
        let not_json = pem_rfc7468::encode_string(
            crate::cosign_key::PEM_LABEL,
            pem_rfc7468::LineEnding::LF,
            b"{oops",
        )
        .expect("pem");
        check(&not_json, |e| {
            matches!(e, Error::MalformedEncryptedKey { .. })
        });

        // Public keys.
        assert!(matches!(
            PublicKey::from_pem("garbage"),
            Err(Error::MalformedPem { .. })
        ));
        assert!(matches!(
            PublicKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(Error::UnsupportedPemLabel { .. })
        ));
    }
}

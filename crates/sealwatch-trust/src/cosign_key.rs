//! cosign's encrypted private-key format.
//!
//! The PEM body (label [`PEM_LABEL`], or [`LEGACY_PEM_LABEL`] from older cosign) is a JSON envelope
//! (secure-systems-lab/go-securesystemslib `encrypted`):
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64, 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64, 24 bytes>"},
//!  "ciphertext":"<b64 secretbox(PKCS#8 DER)>"}
//! ```
//!
//! The secretbox key is `scrypt(password, salt, N, r, p, 32)`. Like cosign, only N ∈ {2^15, 2^16,
//! 2^17} with r = 8 and p = 1 are accepted: the parameters come from the file, and unbounded ones
//! would let a hostile key file exhaust memory.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// PEM label cosign writes today.
pub const PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign releases wrote; still read.
pub const LEGACY_PEM_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The only key-derivation function cosign uses.
pub const KDF_NAME: &str = "scrypt";
/// The only cipher cosign uses (XSalsa20-Poly1305).
pub const CIPHER_NAME: &str = "nacl/secretbox";

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// The scrypt work factors cosign accepts (go-securesystemslib names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScryptCost {
    /// N = 32768, written by older cosign releases.
    Legacy,
    /// N = 65536, what cosign writes today.
    Standard,
    /// N = 131072.
    Owasp,
}

impl ScryptCost {
    fn log_n(self) -> u8 {
        match self {
            ScryptCost::Legacy => 15,
            ScryptCost::Standard => 16,
            ScryptCost::Owasp => 17,
        }
    }

    /// The cost parameter N.
    pub fn n(self) -> u64 {
        1u64 << self.log_n()
    }

    fn from_params(n: u64, r: u64, p: u64) -> Result<Self> {
        let cost = match n {
            32768 => ScryptCost::Legacy,
            65536 => ScryptCost::Standard,
            131072 => ScryptCost::Owasp,
            _ => return Err(Error::UnsupportedScryptParams { n, r, p }),
        };
        if r != u64::from(SCRYPT_R) || p != u64::from(SCRYPT_P) {
            return Err(Error::UnsupportedScryptParams { n, r, p });
        }
        Ok(cost)
    }
}

// Field order matches what cosign writes, so our files look like cosign's.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn derive_key(password: &[u8], salt: &[u8], cost: ScryptCost) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let params = scrypt::Params::new(cost.log_n(), SCRYPT_R, SCRYPT_P, KEY_LEN).map_err(|e| {
        Error::Crypto {
            operation: "scrypt parameter setup",
            reason: e.to_string(),
        }
    })?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(password, salt, &params, key.as_mut()).map_err(|e| Error::Crypto {
        operation: "scrypt key derivation",
        reason: e.to_string(),
    })?;
    Ok(key)
}

fn decode_b64(field: &str, value: &str, expected_len: Option<usize>) -> Result<Vec<u8>> {
    let bytes = BASE64
        .decode(value)
        .map_err(|e| Error::MalformedEncryptedKey {
            reason: format!("`{field}` is not base64: {e}"),
        })?;
    if let Some(len) = expected_len {
        if bytes.len() != len {
            return Err(Error::MalformedEncryptedKey {
                reason: format!("`{field}` has {} bytes, expected {len}", bytes.len()),
            });
        }
    }
    Ok(bytes)
}

/// Open the JSON envelope (the PEM body) with `password` and return the PKCS#8 DER inside.
pub fn decrypt_envelope(envelope_json: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let envelope: Envelope =
        serde_json::from_slice(envelope_json).map_err(|e| Error::MalformedEncryptedKey {
            reason: e.to_string(),
        })?;
    if envelope.kdf.name != KDF_NAME {
        return Err(Error::UnsupportedKeyEncryption {
            what: "kdf",
            name: envelope.kdf.name,
            expected: KDF_NAME,
        });
    }
    if envelope.cipher.name != CIPHER_NAME {
        return Err(Error::UnsupportedKeyEncryption {
            what: "cipher",
            name: envelope.cipher.name,
            expected: CIPHER_NAME,
        });
    }
    let KdfParams { n, r, p } = envelope.kdf.params;
    let cost = ScryptCost::from_params(n, r, p)?;
    let salt = decode_b64("kdf.salt", &envelope.kdf.salt, None)?;
    let nonce = decode_b64("cipher.nonce", &envelope.cipher.nonce, Some(NONCE_LEN))?;
    let ciphertext = decode_b64("ciphertext", &envelope.ciphertext, None)?;

    let key = derive_key(password, &salt, cost)?;
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()));
    let plaintext = cipher
        .decrypt(
            crypto_secretbox::Nonce::from_slice(&nonce),
            ciphertext.as_slice(),
        )
        .map_err(|_| Error::WrongPassword)?;
    Ok(Zeroizing::new(plaintext))
}

/// Encrypt PKCS#8 DER into cosign's JSON envelope (the PEM body).
pub fn encrypt_envelope(
    pkcs8_der: &[u8],
    password: &[u8],
    cost: ScryptCost,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);

    let key = derive_key(password, &salt, cost)?;
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()));
    let ciphertext = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), pkcs8_der)
        .map_err(|e| Error::Crypto {
            operation: "secretbox encryption",
            reason: e.to_string(),
        })?;

    let envelope = Envelope {
        kdf: Kdf {
            name: KDF_NAME.to_string(),
            params: KdfParams {
                n: cost.n(),
                r: u64::from(SCRYPT_R),
                p: u64::from(SCRYPT_P),
            },
            salt: BASE64.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.to_string(),
            nonce: BASE64.encode(nonce),
        },
        ciphertext: BASE64.encode(ciphertext),
    };
    serde_json::to_vec(&envelope).map_err(|e| Error::Crypto {
        operation: "envelope encoding",
        reason: e.to_string(),
    })
}

/// Encrypt PKCS#8 DER and wrap it in an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM block.
pub fn encrypt_to_pem(
    pkcs8_der: &[u8],
    password: &[u8],
    cost: ScryptCost,
    rng: &mut impl CryptoRngCore,
) -> Result<String> {
    let envelope = encrypt_envelope(pkcs8_der, password, cost, rng)?;
    pem_rfc7468::encode_string(PEM_LABEL, pem_rfc7468::LineEnding::LF, &envelope).map_err(|e| {
        Error::Crypto {
            operation: "PEM encoding",
            reason: e.to_string(),
        }
    })
}

//! Content digests as OCI writes them: `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.

use std::fmt;

use crate::error::{Error, Result};

/// Digest algorithms accepted for images and artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The name used before the colon.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// A validated digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    /// Parse `algorithm:hex`; the hex must be lowercase and of the algorithm's length.
    pub fn parse(input: &str) -> Result<Self> {
        let malformed = |reason| Error::MalformedDigest {
            input: input.to_string(),
            reason,
        };
        let (name, hex) = input
            .split_once(':')
            .ok_or_else(|| malformed("expected `<algorithm>:<hex>`"))?;
        let algorithm = match name {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            _ => {
                return Err(malformed(
                    "unsupported algorithm (expected sha256 or sha512)",
                ))
            }
        };
        if hex.len() != algorithm.hex_len() {
            return Err(malformed("wrong hex length for the algorithm"));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(malformed("not lowercase hex"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            hex: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The raw digest bytes.
    pub fn bytes(&self) -> Vec<u8> {
        // The hex was validated on construction, so decoding cannot fail; an empty vector would
        // only ever compare unequal.
        hex::decode(&self.hex).unwrap_or_default()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl std::str::FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_digests() {
        let check = |input: &str, ok: bool| {
            let parsed = Digest::parse(input);
            assert_eq!(parsed.is_ok(), ok, "{input}: {parsed:?}");
            if let Ok(d) = parsed {
                assert_eq!(d.to_string(), input);
            }
        };
        let hex64 = "a".repeat(64);
        check(&format!("sha256:{hex64}"), true);
        check(&format!("sha512:{}", "0".repeat(128)), true);
        check(&format!("sha256:{}", "A".repeat(64)), false);
        check(&format!("sha256:{}", "a".repeat(63)), false);
        check(&format!("md5:{hex64}"), false);
        check(&hex64, false);
        check("", false);
        check("sha256:", false);
    }

    #[test]
    fn sha256_of_known_input() {
        // SHA-256 of the empty string, from FIPS 180-2 test vectors.
        assert_eq!(
            Digest::sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

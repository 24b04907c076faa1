//! Content digests and a reader that verifies digest and size while bytes stream through it.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

use crate::Error;

/// The hash algorithms of the OCI image spec that sealwatch accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

/// A validated content digest such as `sha256:0123…`. The hex part is always lowercase.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part, without the `algorithm:` prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// Check `bytes` (already fully in memory, e.g. a manifest) against this digest and a size.
    pub fn verify_bytes(&self, bytes: &[u8], expected_size: Option<u64>) -> Result<(), Error> {
        if let Some(size) = expected_size {
            if size != bytes.len() as u64 {
                return Err(Error::SizeMismatch {
                    digest: self.to_string(),
                    expected: size,
                    actual: bytes.len() as u64,
                });
            }
        }
        let mut hasher = Hasher::new(self.algorithm);
        hasher.update(bytes);
        let actual = hasher.finish();
        if &actual != self {
            return Err(Error::DigestMismatch {
                expected: self.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidDigest {
            digest: s.to_owned(),
            reason,
        };
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| invalid("missing `algorithm:` prefix"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(invalid("unsupported algorithm (expected sha256 or sha512)")),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(invalid("wrong length for the algorithm"));
        }
        // The OCI spec allows only lowercase hex for sha256/sha512.
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid("encoded part is not lowercase hex"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hashing for either algorithm.
pub struct Hasher {
    inner: HasherInner,
}

enum HasherInner {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        let inner = match algorithm {
            Algorithm::Sha256 => HasherInner::Sha256(Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(Sha512::new()),
        };
        Hasher { inner }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.inner {
            HasherInner::Sha256(h) => h.update(bytes),
            HasherInner::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        match self.inner {
            HasherInner::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            HasherInner::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

/// Wraps a blob stream and checks it against a descriptor's digest and size.
///
/// Reading past the declared size is an error at once (so a hostile source cannot make us hash
/// gigabytes); the digest is checked when the inner reader reports end of stream, and a mismatch
/// surfaces as an `io::Error` of kind `InvalidData` wrapping [`Error::DigestMismatch`] so that
/// decompressors and tar readers stacked on top fail instead of accepting the bytes.
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    expected_size: u64,
    seen: u64,
    hasher: Option<Hasher>,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, expected_size: u64) -> Self {
        let hasher = Some(Hasher::new(expected.algorithm()));
        VerifyingReader {
            inner,
            expected,
            expected_size,
            seen: 0,
            hasher,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.seen
    }

    /// Read the remainder (so the digest is checked) and return the inner reader.
    pub fn finish(mut self) -> io::Result<R> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.inner)
    }

    fn fail(&self, err: Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, err)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for at most one byte beyond the declared size: enough to detect an overlong blob.
        let remaining = self
            .expected_size
            .saturating_sub(self.seen)
            .saturating_add(1);
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.seen += n as u64;
        if self.seen > self.expected_size {
            return Err(self.fail(Error::SizeMismatch {
                digest: self.expected.to_string(),
                expected: self.expected_size,
                actual: self.seen,
            }));
        }
        if n > 0 {
            if let Some(h) = self.hasher.as_mut() {
                h.update(&buf[..n]);
            }
            return Ok(n);
        }
        // End of stream: check size and digest exactly once.
        if let Some(h) = self.hasher.take() {
            if self.seen != self.expected_size {
                return Err(self.fail(Error::SizeMismatch {
                    digest: self.expected.to_string(),
                    expected: self.expected_size,
                    actual: self.seen,
                }));
            }
            let actual = h.finish();
            if actual != self.expected {
                return Err(self.fail(Error::DigestMismatch {
                    expected: self.expected.to_string(),
                    actual: actual.to_string(),
                }));
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn read_all(data: &[u8], digest: &Digest, size: u64) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        VerifyingReader::new(data, digest.clone(), size)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn parses_and_rejects_digests() {
        let d: Digest = EMPTY_SHA256.parse().expect("valid digest");
        assert_eq!(d.to_string(), EMPTY_SHA256);
        for bad in [
            "sha256:abc",
            "md5:00",
            "e3b0c442",
            &EMPTY_SHA256.to_uppercase().replace("SHA256", "sha256"),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn verifying_reader_accepts_matching_blob() {
        let data = b"hello";
        let d = Digest::sha256_of(data);
        assert_eq!(read_all(data, &d, 5).expect("verifies"), data);
    }

    #[test]
    fn verifying_reader_rejects_wrong_digest_and_size() {
        let d = Digest::sha256_of(b"hello");
        let err = read_all(b"hellO", &d, 5).expect_err("must fail");
        assert!(err.contains("hashes to"), "{err}");
        let err = read_all(b"hello", &d, 4).expect_err("must fail");
        assert!(err.contains("descriptor says 4 bytes"), "{err}");
        let err = read_all(b"hello", &d, 6).expect_err("must fail");
        assert!(err.contains("descriptor says 6 bytes, got 5"), "{err}");
    }
}

//! The one error type of this crate.

/// Everything that can go wrong while reading keys, building or parsing payloads, and verifying.
///
/// Variants for which [`Error::is_not_verified`] is true mean "the evidence does not verify" (a
/// caller reports *not verified*, exit code 1); the others mean the input or the configuration
/// could not be used at all (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a PEM block (bad armor, bad base64, missing end line).
    #[error("malformed PEM{}", describe_label(.label))]
    MalformedPem {
        /// The label, when the BEGIN line could be read.
        label: Option<String>,
        /// What the PEM decoder found wrong.
        #[source]
        source: pem_rfc7468::Error,
    },

    /// A PEM block with a label this crate does not read in that place.
    #[error("unsupported PEM label `{label}` (expected {expected})")]
    UnsupportedPemLabel {
        /// The label found.
        label: String,
        /// The labels accepted here.
        expected: &'static str,
    },

    /// The JSON body of an encrypted cosign key is malformed.
    #[error("malformed encrypted cosign key: {reason}")]
    MalformedEncryptedKey {
        /// What is wrong with the envelope.
        reason: String,
    },

    /// The encrypted cosign key names a key-derivation function or cipher that cosign does not write.
    #[error("unsupported {what} `{name}` in encrypted cosign key (expected `{expected}`)")]
    UnsupportedKeyEncryption {
        /// `kdf` or `cipher`.
        what: &'static str,
        /// The name found.
        name: String,
        /// The only name accepted.
        expected: &'static str,
    },

    /// scrypt parameters outside what cosign accepts (a guard against memory exhaustion).
    #[error("unsupported scrypt parameters N={n} r={r} p={p} (cosign accepts N in {{32768, 65536, 131072}}, r=8, p=1)")]
    UnsupportedScryptParams {
        /// Cost parameter.
        n: u64,
        /// Block size.
        r: u64,
        /// Parallelism.
        p: u64,
    },

    /// The password does not open the encrypted key (the secretbox authentication tag does not match).
    #[error("wrong password for the encrypted private key (or the key file is corrupted)")]
    WrongPassword,

    /// A key whose algorithm (or curve) is not one of ECDSA P-256/P-384, Ed25519, RSA.
    #[error("unsupported key type: {algorithm}")]
    UnsupportedKeyType {
        /// The algorithm (and curve) OID or name found.
        algorithm: String,
    },

    /// Key bytes that do not decode as the key type they claim to be.
    #[error("malformed {what}: {reason}")]
    MalformedKey {
        /// Which structure (e.g. "PKCS#8 private key", "SubjectPublicKeyInfo").
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },

    /// Key generation, encryption or signing failed inside the crypto library.
    #[error("{operation} failed: {reason}")]
    Crypto {
        /// What was being done.
        operation: &'static str,
        /// The library's message.
        reason: String,
    },

    /// A signature that cannot even be decoded for the key type (wrong length, not DER, bad base64).
    #[error("malformed {key_type} signature: {reason}")]
    MalformedSignature {
        /// The key type the signature was read for.
        key_type: crate::keys::KeyType,
        /// What is wrong with it.
        reason: String,
    },

    /// The signature is well formed but does not verify over the payload with the key.
    #[error("{key_type} signature does not verify over the {what} with the given public key")]
    SignatureMismatch {
        /// The key type used.
        key_type: crate::keys::KeyType,
        /// What was signed: "payload", "DSSE PAE of the envelope", ...
        what: &'static str,
    },

    /// A simple-signing payload that is not the JSON cosign writes.
    #[error("malformed simple-signing payload")]
    MalformedPayload {
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// `critical.type` is not `cosign container image signature`.
    #[error(
        "simple-signing payload has critical.type `{found}`, expected `{}`",
        crate::payload::SIMPLE_SIGNING_TYPE
    )]
    WrongPayloadType {
        /// The type found.
        found: String,
    },

    /// A digest string that is not `<algorithm>:<hex>` of a known algorithm.
    #[error("malformed digest `{input}`: {reason}")]
    MalformedDigest {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The signed payload names another image digest than the one being verified.
    #[error("signed payload is for digest {signed}, not for the image digest {image}")]
    DigestMismatch {
        /// Digest in the signed payload.
        signed: String,
        /// Digest of the image being verified.
        image: String,
    },

    /// The signed payload names another repository than the one expected.
    #[error("signed payload is for repository `{signed}`, expected `{expected}`")]
    ReferenceMismatch {
        /// `critical.identity.docker-reference` of the payload.
        signed: String,
        /// The repository being verified.
        expected: String,
    },

    /// A DSSE envelope or in-toto statement that does not parse.
    #[error("malformed {what}: {reason}")]
    MalformedEnvelope {
        /// "DSSE envelope" or "in-toto statement".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A DSSE envelope with a payload type other than the one required.
    #[error("DSSE payload type is `{found}`, expected `{expected}`")]
    WrongEnvelopePayloadType {
        /// The payload type found.
        found: String,
        /// The payload type required.
        expected: &'static str,
    },

    /// No signature of the DSSE envelope verifies with the key.
    #[error("none of the {count} DSSE signature(s) verifies with the given public key{}", describe_last(.last))]
    NoValidEnvelopeSignature {
        /// How many signatures the envelope carries.
        count: usize,
        /// Why the last one failed.
        last: Option<Box<Error>>,
    },

    /// No subject of an in-toto statement has the image digest.
    #[error("no subject of the in-toto statement has digest {digest}")]
    SubjectMismatch {
        /// The digest looked for.
        digest: String,
    },

    /// A trusted_root.json that cannot be used.
    #[error("invalid trusted root: {reason}")]
    InvalidTrustedRoot {
        /// What the Sigstore library found wrong.
        reason: String,
    },

    /// A regular expression given for an identity or issuer that does not compile.
    #[error("invalid {what} regular expression `{pattern}`")]
    InvalidRegex {
        /// "identity" or "issuer".
        what: &'static str,
        /// The pattern given.
        pattern: String,
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },

    /// The Sigstore bundle does not parse (malformed JSON, unknown media type, missing fields).
    #[error("malformed Sigstore bundle: {reason}")]
    MalformedBundle {
        /// The parser's message.
        reason: String,
    },

    /// The Sigstore bundle was rejected by verification.
    #[error("Sigstore bundle does not verify")]
    BundleRejected {
        /// The exact reason from sigstore-verify.
        #[source]
        source: sigstore_verify::Error,
    },

    /// The bundle verified, but its certificate identity or issuer does not match a regular expression.
    #[error("certificate {what} {} does not match the regular expression `{pattern}`", describe_actual(.actual))]
    IdentityRegexMismatch {
        /// "identity" or "issuer".
        what: &'static str,
        /// The pattern required.
        pattern: String,
        /// The value in the certificate, if any.
        actual: Option<String>,
    },

    /// An OIDC identity token that cannot be read (for keyless signing).
    #[error("malformed identity token: {reason}")]
    MalformedToken {
        /// What is wrong with it.
        reason: String,
    },

    /// An answer from a Sigstore service (Fulcio, Rekor, a timestamp authority) that cannot be read.
    #[error("malformed {service} response: {reason}")]
    MalformedServiceResponse {
        /// Which service answered.
        service: &'static str,
        /// What is wrong with the answer.
        reason: String,
    },
}

impl Error {
    /// True when the error means "the evidence does not verify" rather than "the input or the
    /// configuration is unusable".
    pub fn is_not_verified(&self) -> bool {
        matches!(
            self,
            Error::MalformedSignature { .. }
                | Error::SignatureMismatch { .. }
                | Error::MalformedPayload { .. }
                | Error::WrongPayloadType { .. }
                | Error::DigestMismatch { .. }
                | Error::ReferenceMismatch { .. }
                | Error::MalformedEnvelope { .. }
                | Error::WrongEnvelopePayloadType { .. }
                | Error::NoValidEnvelopeSignature { .. }
                | Error::SubjectMismatch { .. }
                | Error::MalformedBundle { .. }
                | Error::BundleRejected { .. }
                | Error::IdentityRegexMismatch { .. }
        )
    }
}

fn describe_label(label: &Option<String>) -> String {
    match label {
        Some(label) => format!(" (label `{label}`)"),
        None => String::new(),
    }
}

fn describe_last(last: &Option<Box<Error>>) -> String {
    match last {
        Some(err) => format!(" (last: {err})"),
        None => String::new(),
    }
}

fn describe_actual(actual: &Option<String>) -> String {
    match actual {
        Some(value) => format!("`{value}`"),
        None => "(absent)".to_string(),
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

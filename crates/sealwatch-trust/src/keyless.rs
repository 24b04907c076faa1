//! Keyless signing material, without I/O: the JSON sent to and received from Fulcio
//! (`/api/v2/signingCert`) and Rekor v1 (`/api/v1/log/entries`), and what is written from their
//! answers — a Sigstore bundle v0.3, or cosign's legacy `dev.sigstore.cosign/*` annotations.
//!
//! The HTTP calls themselves live in `sealwatch-sign`; everything here takes and returns bytes,
//! so the formats are unit-tested without a server. Formats: sigstore/fulcio
//! `fulcio.proto` (`CreateSigningCertificateRequest`, `publicKeyRequest` form), Rekor's
//! OpenAPI (`LogEntry`), sigstore/protobuf-specs `sigstore_bundle.proto` /
//! `sigstore_rekor.proto`, and cosign's `pkg/cosign/bundle/rekor.go` for the annotation.

use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64_URL};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::cosign::SIGSTORE_BUNDLE_V03_MEDIA_TYPE;
use crate::dsse::Envelope;
use crate::error::{Error, Result};
use crate::keys::{decode_pem, PublicKey};

/// An OIDC identity token, read (not verified: Fulcio verifies it) for the identity that the
/// proof of possession signs.
#[derive(Clone)]
pub struct IdentityToken {
    raw: String,
    subject: String,
    issuer: Option<String>,
}

impl std::fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The raw token is a bearer credential: never print it.
        f.debug_struct("IdentityToken")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenClaims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    iss: Option<String>,
}

impl IdentityToken {
    /// Read a compact JWT (`header.payload.signature`). The subject is the `email` claim when
    /// present, else `sub` — the value Fulcio expects the proof of possession to sign (cosign's
    /// `SubjectFromToken`).
    pub fn parse(raw: &str) -> Result<Self> {
        let malformed = |reason: &str| Error::MalformedToken {
            reason: reason.to_string(),
        };
        let raw = raw.trim();
        let mut parts = raw.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not a compact JWT (three dot-separated parts)"));
        };
        let json = BASE64_URL
            .decode(payload.trim_end_matches('='))
            .map_err(|_| malformed("the payload part is not base64url"))?;
        let claims: TokenClaims = serde_json::from_slice(&json)
            .map_err(|_| malformed("the payload part is not a JSON object of claims"))?;
        let subject = claims
            .email
            .filter(|e| !e.is_empty())
            .or(claims.sub.filter(|s| !s.is_empty()))
            .ok_or_else(|| malformed("the token has neither an `email` nor a `sub` claim"))?;
        Ok(IdentityToken {
            raw: raw.to_string(),
            subject,
            issuer: claims.iss,
        })
    }

    /// The token as given (a bearer credential).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The identity the certificate will be issued to (`email` or `sub`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The `iss` claim, when present.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
}

/// The body of `POST /api/v2/signingCert` in its `publicKeyRequest` form: the token, the
/// ephemeral public key (PEM) and `proof` = the key's signature over [`IdentityToken::subject`].
pub fn fulcio_request(
    token: &IdentityToken,
    public_key: &PublicKey,
    proof: &[u8],
) -> Result<Vec<u8>> {
    let algorithm = match public_key.key_type() {
        crate::KeyType::EcdsaP256 | crate::KeyType::EcdsaP384 => "ECDSA",
        crate::KeyType::Ed25519 => "ED25519",
        crate::KeyType::Rsa { .. } => "RSA_PSS",
    };
    let body = json!({
        "credentials": {"oidcIdentityToken": token.raw()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": algorithm, "content": public_key.to_pem()?},
            "proofOfPossession": BASE64.encode(proof),
        },
    });
    Ok(body.to_string().into_bytes())
}

/// A certificate chain from Fulcio, DER, leaf first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChain {
    certificates: Vec<Vec<u8>>,
}

impl CertificateChain {
    /// The signing (leaf) certificate, DER.
    pub fn leaf(&self) -> &[u8] {
        &self.certificates[0]
    }

    /// The leaf as PEM (the `dev.sigstore.cosign/certificate` annotation, Rekor's verifier).
    pub fn leaf_pem(&self) -> String {
        certificate_pem(self.leaf())
    }

    /// Intermediates and root as concatenated PEM (the `dev.sigstore.cosign/chain` annotation).
    pub fn chain_pem(&self) -> String {
        self.certificates[1..]
            .iter()
            .map(|der| certificate_pem(der))
            .collect()
    }
}

fn certificate_pem(der: &[u8]) -> String {
    // Encoding bytes as PEM with a fixed, valid label cannot fail.
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

/// Read Fulcio's answer: `signedCertificateEmbeddedSct.chain.certificates` (or the detached-SCT
/// form), PEM strings, leaf first.
pub fn parse_fulcio_response(bytes: &[u8]) -> Result<CertificateChain> {
    let malformed = |reason: String| Error::MalformedServiceResponse {
        service: "Fulcio",
        reason,
    };
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let chain = doc
        .pointer("/signedCertificateEmbeddedSct/chain/certificates")
        .or_else(|| doc.pointer("/signedCertificateDetachedSct/chain/certificates"))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `signedCertificate…Sct.chain.certificates` array".into()))?;
    let mut certificates = Vec::with_capacity(chain.len());
    for (index, pem) in chain.iter().enumerate() {
        let pem = pem
            .as_str()
            .ok_or_else(|| malformed(format!("certificate {index} is not a string")))?;
        let der = match decode_pem(pem) {
            Ok((label, der)) if label == "CERTIFICATE" => der,
            Ok((label, _)) => {
                return Err(malformed(format!(
                    "certificate {index} has PEM label `{label}`"
                )))
            }
            // Some CAs (sigstore-js's mock among them) put the base64 on one long line, which
            // RFC 7468's strict form refuses; the content is what matters.
            Err(strict) => unwrapped_certificate_pem(pem)
                .ok_or_else(|| malformed(format!("certificate {index}: {strict}")))?,
        };
        certificates.push(der);
    }
    if certificates.is_empty() {
        return Err(malformed("the certificate chain is empty".into()));
    }
    Ok(CertificateChain { certificates })
}

/// A `CERTIFICATE` PEM block read leniently: any line lengths, surrounding whitespace.
fn unwrapped_certificate_pem(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN CERTIFICATE-----")?
        .strip_suffix("-----END CERTIFICATE-----")?;
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok().filter(|der| !der.is_empty())
}

/// Rekor v1 proposed entry `hashedrekord` 0.0.1: the SHA-256 of the signed bytes, the signature
/// and the signing certificate (PEM).
pub fn hashedrekord_entry(signed_bytes: &[u8], signature: &[u8], certificate_pem: &str) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(signed_bytes))}},
            "signature": {
                "content": BASE64.encode(signature),
                "publicKey": {"content": BASE64.encode(certificate_pem)},
            },
        },
    })
    .to_string()
    .into_bytes()
}

/// Rekor v1 proposed entry `intoto` 0.0.2 for a DSSE envelope, as cosign's `attest` uploads it:
/// the envelope with payload and signatures base64-encoded once more, the verifier PEM, and the
/// hashes of the envelope JSON and of the payload.
pub fn intoto_entry(envelope: &Envelope, certificate_pem: &str) -> Vec<u8> {
    let envelope_json = envelope.to_json();
    let signatures: Vec<Value> = envelope
        .signatures
        .iter()
        .map(|s| {
            json!({
                "keyid": s.keyid,
                "sig": BASE64.encode(BASE64.encode(&s.sig)),
                "publicKey": BASE64.encode(certificate_pem),
            })
        })
        .collect();
    json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": {
                "payloadType": envelope.payload_type,
                "payload": BASE64.encode(BASE64.encode(&envelope.payload)),
                "signatures": signatures,
            },
            "hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope_json))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope.payload))},
        }},
    })
    .to_string()
    .into_bytes()
}

/// Rekor v1 proposed entry `dsse` 0.0.1 for a DSSE envelope (what cosign v3 / sigstore-go and
/// sigstore-python upload for bundles): `proposedContent` (the envelope JSON and the verifier
/// PEM). The canonical fields Rekor derives from it (`envelopeHash`, `payloadHash`,
/// `signatures`) are sent along, computed the same way; Rekor recomputes them from
/// `proposedContent`, and a log that records the request verbatim (the loopback stand-in) then
/// holds the same body Rekor would.
pub fn dsse_entry(envelope: &Envelope, certificate_pem: &str) -> Vec<u8> {
    let envelope_json = envelope.to_json();
    let verifier = BASE64.encode(certificate_pem);
    let signatures: Vec<Value> = envelope
        .signatures
        .iter()
        .map(|s| json!({"signature": BASE64.encode(&s.sig), "verifier": verifier}))
        .collect();
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": String::from_utf8_lossy(&envelope_json),
                "verifiers": [verifier],
            },
            "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope_json))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&envelope.payload))},
            "signatures": signatures,
        },
    })
    .to_string()
    .into_bytes()
}

/// One Rekor v1 log entry as returned by `POST /api/v1/log/entries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Base64 of the canonicalized entry body.
    pub body: String,
    /// Seconds since the Unix epoch.
    pub integrated_time: i64,
    /// Index in the log.
    pub log_index: i64,
    /// Hex SHA-256 of the log's public key (SPKI DER).
    pub log_id: String,
    /// Base64 signed entry timestamp.
    pub signed_entry_timestamp: String,
    /// The inclusion proof, when the log returned one.
    pub inclusion_proof: Option<InclusionProof>,
    /// `kind` of the body (`hashedrekord`, `intoto`, …).
    pub kind: String,
    /// `apiVersion` of the body.
    pub api_version: String,
}

/// A Merkle inclusion proof with its signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the entry in the tree the proof is for.
    pub log_index: i64,
    /// Hex root hash.
    pub root_hash: String,
    /// Tree size.
    pub tree_size: i64,
    /// Hex sibling hashes.
    pub hashes: Vec<String>,
    /// The signed-note checkpoint text.
    pub checkpoint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
    verification: WireVerification,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireVerification {
    signed_entry_timestamp: String,
    #[serde(default)]
    inclusion_proof: Option<WireProof>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireProof {
    log_index: i64,
    root_hash: String,
    tree_size: i64,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: String,
}

#[derive(Deserialize)]
struct BodyHeader {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
}

/// Read Rekor's answer to an entry upload: an object with one member, UUID → entry.
pub fn parse_rekor_response(bytes: &[u8]) -> Result<LogEntry> {
    let malformed = |reason: String| Error::MalformedServiceResponse {
        service: "Rekor",
        reason,
    };
    let doc: serde_json::Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("not a JSON object: {e}")))?;
    let mut entries = doc.into_iter();
    let (Some((_uuid, entry)), None) = (entries.next(), entries.next()) else {
        return Err(malformed("expected exactly one log entry".into()));
    };
    let entry: WireEntry =
        serde_json::from_value(entry).map_err(|e| malformed(format!("log entry: {e}")))?;
    let body = BASE64
        .decode(&entry.body)
        .map_err(|e| malformed(format!("entry body is not base64: {e}")))?;
    let header: BodyHeader = serde_json::from_slice(&body)
        .map_err(|e| malformed(format!("entry body has no kind/apiVersion: {e}")))?;
    hex::decode(&entry.log_id).map_err(|e| malformed(format!("logID is not hex: {e}")))?;
    let inclusion_proof = match entry.verification.inclusion_proof {
        None => None,
        Some(proof) => {
            for hash in std::iter::once(&proof.root_hash).chain(&proof.hashes) {
                hex::decode(hash)
                    .map_err(|e| malformed(format!("inclusion proof hash {hash:?}: {e}")))?;
            }
            Some(InclusionProof {
                log_index: proof.log_index,
                root_hash: proof.root_hash,
                tree_size: proof.tree_size,
                hashes: proof.hashes,
                checkpoint: proof.checkpoint,
            })
        }
    };
    Ok(LogEntry {
        body: entry.body,
        integrated_time: entry.integrated_time,
        log_index: entry.log_index,
        log_id: entry.log_id,
        signed_entry_timestamp: entry.verification.signed_entry_timestamp,
        inclusion_proof,
        kind: header.kind,
        api_version: header.api_version,
    })
}

impl LogEntry {
    /// cosign's `dev.sigstore.cosign/bundle` annotation (`SignedEntryTimestamp` + `Payload`).
    pub fn cosign_bundle_annotation(&self) -> String {
        json!({
            "SignedEntryTimestamp": self.signed_entry_timestamp,
            "Payload": {
                "body": self.body,
                "integratedTime": self.integrated_time,
                "logIndex": self.log_index,
                "logID": self.log_id,
            },
        })
        .to_string()
    }

    /// The `TransparencyLogEntry` of a bundle (protobuf JSON: 64-bit integers as strings,
    /// bytes as base64).
    fn to_bundle_json(&self) -> Value {
        let hex_to_b64 = |hex_text: &str| BASE64.encode(hex::decode(hex_text).unwrap_or_default());
        let mut entry = json!({
            "logIndex": self.log_index.to_string(),
            "logId": {"keyId": hex_to_b64(&self.log_id)},
            "kindVersion": {"kind": self.kind, "version": self.api_version},
            "integratedTime": self.integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": self.signed_entry_timestamp},
            "canonicalizedBody": self.body,
        });
        if let Some(proof) = &self.inclusion_proof {
            entry["inclusionProof"] = json!({
                "logIndex": proof.log_index.to_string(),
                "rootHash": hex_to_b64(&proof.root_hash),
                "treeSize": proof.tree_size.to_string(),
                "hashes": proof.hashes.iter().map(|h| hex_to_b64(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": proof.checkpoint},
            });
        }
        entry
    }
}

/// What a bundle carries as signature content.
#[derive(Debug, Clone, Copy)]
pub enum BundleContent<'a> {
    /// A signature over the SHA-256 digest of an artifact (`messageSignature`).
    MessageSignature {
        /// The artifact's SHA-256 digest.
        digest: &'a [u8; 32],
        /// The raw signature.
        signature: &'a [u8],
    },
    /// A DSSE envelope (`dsseEnvelope`).
    Dsse(&'a Envelope),
}

/// Who signed, as a bundle records it.
#[derive(Debug, Clone, Copy)]
pub enum BundleSigner<'a> {
    /// A Fulcio leaf certificate (DER).
    Certificate(&'a [u8]),
    /// A managed key, named only by a hint; the verifier supplies the key.
    PublicKeyHint(&'a str),
}

/// A Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) as JSON text.
///
/// `tlog_entry` is required for keyless bundles (verifiers need a verified time); a managed-key
/// bundle without one is what cosign writes with `--tlog-upload=false`.
pub fn bundle_v03(
    content: BundleContent<'_>,
    signer: BundleSigner<'_>,
    tlog_entry: Option<&LogEntry>,
) -> String {
    let mut material = match signer {
        BundleSigner::Certificate(der) => json!({"certificate": {"rawBytes": BASE64.encode(der)}}),
        BundleSigner::PublicKeyHint(hint) => json!({"publicKey": {"hint": hint}}),
    };
    material["tlogEntries"] = Value::Array(
        tlog_entry
            .map(LogEntry::to_bundle_json)
            .into_iter()
            .collect(),
    );
    let mut bundle = json!({
        "mediaType": SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": material,
    });
    match content {
        BundleContent::MessageSignature { digest, signature } => {
            bundle["messageSignature"] = json!({
                "messageDigest": {"algorithm": "SHA2_256", "digest": BASE64.encode(digest)},
                "signature": BASE64.encode(signature),
            });
        }
        BundleContent::Dsse(envelope) => {
            bundle["dsseEnvelope"] =
                serde_json::from_slice(&envelope.to_json()).unwrap_or(Value::Null);
        }
    }
    bundle.to_string()
}

/// The bundle of a signed file (`cosign sign-blob --bundle`, `sigstore sign`): a message signature
/// over `artifact`'s SHA-256 digest.
pub fn blob_bundle_v03(
    artifact: &[u8],
    signature: &[u8],
    signer: BundleSigner<'_>,
    tlog_entry: Option<&LogEntry>,
) -> String {
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    bundle_v03(
        BundleContent::MessageSignature {
            digest: &digest,
            signature,
        },
        signer,
        tlog_entry,
    )
}

/// The DSSE envelope inside a bundle (`Ok(None)` for a message signature; an error when the
/// bundle has neither).
pub fn bundle_envelope(bundle_json: &[u8]) -> Result<Option<Envelope>> {
    let doc: Value = serde_json::from_slice(bundle_json).map_err(|e| Error::MalformedBundle {
        reason: e.to_string(),
    })?;
    match (doc.get("dsseEnvelope"), doc.get("messageSignature")) {
        (Some(envelope), _) if !envelope.is_null() => {
            Envelope::from_json(envelope.to_string().as_bytes()).map(Some)
        }
        (_, Some(message)) if !message.is_null() => Ok(None),
        _ => Err(Error::MalformedBundle {
            reason: "neither `dsseEnvelope` nor `messageSignature`".into(),
        }),
    }
}

/// True when the bundle records at least one transparency-log entry.
pub fn bundle_has_tlog_entry(bundle_json: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bundle_json)
        .ok()
        .and_then(|doc| {
            doc.pointer("/verificationMaterial/tlogEntries")
                .and_then(Value::as_array)
                .map(|entries| !entries.is_empty())
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
    use crate::{KeyType, PrivateKey};

    fn jwt(claims: Value) -> String {
        format!(
            "{}.{}.sig",
            BASE64_URL.encode(br#"{"alg":"none"}"#),
            BASE64_URL.encode(claims.to_string())
        )
    }

    #[test]
    fn token_subject_prefers_email_and_rejects_garbage() {
        let token = IdentityToken::parse(&jwt(
            json!({"sub": "123", "email": "a@example.invalid", "iss": "https://issuer"}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(token.subject(), "a@example.invalid");
        assert_eq!(token.issuer(), Some("https://issuer"));
        let token =
            IdentityToken::parse(&jwt(json!({"sub": "repo:x"}))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(token.subject(), "repo:x");
        assert!(
            !format!("{token:?}").contains("sig"),
            "Debug must not print the token"
        );
        for bad in ["", "a.b", "a.b.c.d", "a.!!.c", &jwt(json!({"iss": "x"}))] {
            let err = IdentityToken::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(matches!(err, Error::MalformedToken { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn fulcio_round_trip_shapes() {
        let key = PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng)
            .unwrap_or_else(|e| panic!("{e}"));
        let token =
            IdentityToken::parse(&jwt(json!({"sub": "s"}))).unwrap_or_else(|e| panic!("{e}"));
        let body: Value = serde_json::from_slice(
            &fulcio_request(&token, &key.public_key(), b"proof").unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["credentials"]["oidcIdentityToken"], token.raw());
        assert_eq!(body["publicKeyRequest"]["publicKey"]["algorithm"], "ECDSA");
        assert!(body["publicKeyRequest"]["publicKey"]["content"]
            .as_str()
            .is_some_and(|pem| pem.starts_with("-----BEGIN PUBLIC KEY-----")));
        assert_eq!(
            body["publicKeyRequest"]["proofOfPossession"],
            BASE64.encode(b"proof")
        );

        let pem = |bytes: &[u8]| certificate_pem(bytes);
        let one_line = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            BASE64.encode([7u8; 100])
        );
        let answer =
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [one_line]}}});
        let chain =
            parse_fulcio_response(answer.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chain.leaf(), [7u8; 100]);
        let answer = json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [pem(b"leaf"), pem(b"root")]}}});
        let chain =
            parse_fulcio_response(answer.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chain.leaf(), b"leaf");
        assert_eq!(chain.chain_pem(), pem(b"root"));
        for bad in [
            json!({}),
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": []}}}),
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": ["junk"]}}}),
        ] {
            assert!(
                matches!(
                    parse_fulcio_response(bad.to_string().as_bytes()),
                    Err(Error::MalformedServiceResponse {
                        service: "Fulcio",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    fn rekor_answer(body: &Value) -> Value {
        json!({"24296fb24b8ad77a": {
            "body": BASE64.encode(body.to_string()),
            "integratedTime": 1_700_000_000,
            "logIndex": 42,
            "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
            "verification": {
                "signedEntryTimestamp": "c2V0",
                "inclusionProof": {"logIndex": 0, "rootHash": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "treeSize": 1, "hashes": [], "checkpoint": "rekor.example - 1\n1\nqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=\n\n— rekor.example AAAAAAAAAAAA\n"},
            },
        }})
    }

    #[test]
    fn rekor_entry_becomes_annotation_and_bundle_entry() {
        let key = PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng)
            .unwrap_or_else(|e| panic!("{e}"));
        let signature = key.sign(b"payload").unwrap_or_else(|e| panic!("{e}"));
        let proposed: Value =
            serde_json::from_slice(&hashedrekord_entry(b"payload", &signature, "PEM"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            proposed["spec"]["data"]["hash"]["value"],
            hex::encode(Sha256::digest(b"payload"))
        );
        assert_eq!(
            proposed["spec"]["signature"]["publicKey"]["content"],
            BASE64.encode("PEM")
        );

        let entry = parse_rekor_response(rekor_answer(&proposed).to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (entry.kind.as_str(), entry.api_version.as_str()),
            ("hashedrekord", "0.0.1")
        );
        let annotation: Value = serde_json::from_str(&entry.cosign_bundle_annotation())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(annotation["Payload"]["logIndex"], 42);
        assert_eq!(annotation["SignedEntryTimestamp"], "c2V0");

        let digest: [u8; 32] = Sha256::digest(b"payload").into();
        let bundle = bundle_v03(
            BundleContent::MessageSignature {
                digest: &digest,
                signature: &signature,
            },
            BundleSigner::Certificate(b"cert"),
            Some(&entry),
        );
        let doc: Value = serde_json::from_str(&bundle).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["mediaType"], SIGSTORE_BUNDLE_V03_MEDIA_TYPE);
        let tlog = &doc["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(tlog["logIndex"], "42");
        assert_eq!(
            tlog["inclusionProof"]["rootHash"],
            BASE64.encode([0xaa; 32])
        );
        assert_eq!(tlog["kindVersion"]["kind"], "hashedrekord");
        // The shape is one sigstore's own parser accepts.
        sigstore_types::Bundle::from_json(&bundle).unwrap_or_else(|e| panic!("{e}: {bundle}"));

        for bad in [
            json!({}),
            json!({"a": {}, "b": {}}),
            json!({"a": {"body": "!!"}}),
        ] {
            assert!(
                matches!(
                    parse_rekor_response(bad.to_string().as_bytes()),
                    Err(Error::MalformedServiceResponse {
                        service: "Rekor",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn dsse_bundle_and_intoto_entry() {
        let key = PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng)
            .unwrap_or_else(|e| panic!("{e}"));
        let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"{}".to_vec(), &key)
            .unwrap_or_else(|e| panic!("{e}"));
        let entry: Value = serde_json::from_slice(&intoto_entry(&envelope, "PEM"))
            .unwrap_or_else(|e| panic!("{e}"));
        let content = &entry["spec"]["content"];
        assert_eq!(
            content["payloadHash"]["value"],
            hex::encode(Sha256::digest(b"{}"))
        );
        let double = content["envelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap_or_default();
        let once = BASE64.decode(double).unwrap_or_default();
        assert_eq!(
            BASE64.decode(once).unwrap_or_default(),
            envelope.signatures[0].sig
        );

        let bundle = bundle_v03(
            BundleContent::Dsse(&envelope),
            BundleSigner::PublicKeyHint("hint"),
            None,
        );
        assert!(!bundle_has_tlog_entry(bundle.as_bytes()));
        let back = bundle_envelope(bundle.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.as_ref(), Some(&envelope));
        assert!(bundle_envelope(b"{}").is_err());
        assert!(bundle_envelope(br#"{"messageSignature": {}}"#).is_ok_and(|e| e.is_none()));
        sigstore_types::Bundle::from_json(&bundle).unwrap_or_else(|e| panic!("{e}: {bundle}"));
    }
}

//! DSSE envelopes (secure-systems-lab/dsse `envelope.md`, `protocol.md`) and in-toto statements.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::keys::PrivateKey;

/// Payload type of an in-toto statement inside DSSE.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto v1 statement.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of an in-toto v0.1 statement (written by cosign's legacy `attest`).
pub const STATEMENT_TYPE_V01: &str = "https://in-toto.io/Statement/v0.1";

/// Predicate type URIs, and cosign's `--type` short names for them
/// (sigstore/cosign `cmd/cosign/cli/options/predicate.go`, `pkg/cosign/attestation`).
pub mod predicate_type {
    /// cosign's generic predicate (`--type custom`, the default).
    pub const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";
    /// cosign vulnerability scan record (`--type vuln`).
    pub const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
    /// CycloneDX BOM (`--type cyclonedx`).
    pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
    /// SPDX document (`--type spdx` and `--type spdxjson`).
    pub const SPDX: &str = "https://spdx.dev/Document";
    /// SLSA provenance v0.2 (`--type slsaprovenance`, `slsaprovenance02`).
    pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
    /// SLSA provenance v1 (`--type slsaprovenance1`).
    pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
    /// in-toto link (`--type link`).
    pub const LINK: &str = "https://in-toto.io/Link/v1";
    /// OpenVEX (`--type openvex`).
    pub const OPENVEX: &str = "https://openvex.dev/ns";
    /// The statement cosign v3 signs for a plain image signature in the bundle format.
    pub const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

    /// The URI for one of cosign's `--type` names; `None` for an unknown name (cosign then takes
    /// the argument itself as the URI, when it is one).
    pub fn from_cosign_name(name: &str) -> Option<&'static str> {
        Some(match name {
            "custom" => CUSTOM,
            "vuln" => VULN,
            "cyclonedx" => CYCLONEDX,
            "spdx" | "spdxjson" => SPDX,
            "slsaprovenance" | "slsaprovenance02" => SLSA_PROVENANCE_V02,
            "slsaprovenance1" => SLSA_PROVENANCE_V1,
            "link" => LINK,
            "openvex" => OPENVEX,
            _ => return None,
        })
    }
}

/// DSSE's pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// lengths as ASCII decimal. This, not the payload, is what DSSE signatures cover.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// One signature of a DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Optional key hint; cosign writes an empty string.
    pub keyid: String,
    /// Raw signature bytes over [`pae`].
    pub sig: Vec<u8>,
}

/// A DSSE envelope with its payload decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// How to interpret the payload, e.g. [`IN_TOTO_PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The payload bytes (base64-encoded in JSON).
    pub payload: Vec<u8>,
    /// The signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    payload_type: String,
    payload: String,
    signatures: Vec<WireSignature>,
}

#[derive(Serialize, Deserialize)]
struct WireSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

impl Envelope {
    /// Sign `payload` with `key` into a one-signature envelope (cosign writes `keyid: ""`).
    pub fn sign(payload_type: &str, payload: Vec<u8>, key: &PrivateKey) -> Result<Self> {
        let sig = key.sign(&pae(payload_type, &payload))?;
        Ok(Envelope {
            payload_type: payload_type.to_string(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig,
            }],
        })
    }

    /// The envelope JSON (`payloadType`, `payload`, `signatures[{keyid, sig}]`, standard base64).
    pub fn to_json(&self) -> Vec<u8> {
        let wire = WireEnvelope {
            payload_type: self.payload_type.clone(),
            payload: BASE64.encode(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSignature {
                    keyid: s.keyid.clone(),
                    sig: BASE64.encode(&s.sig),
                })
                .collect(),
        };
        // Serialising plain strings cannot fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Parse envelope JSON, decoding the base64 fields.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let malformed = |reason: String| Error::MalformedEnvelope {
            what: "DSSE envelope",
            reason,
        };
        let wire: WireEnvelope =
            serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let payload = BASE64
            .decode(&wire.payload)
            .map_err(|e| malformed(format!("payload is not base64: {e}")))?;
        let signatures = wire
            .signatures
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let sig = BASE64
                    .decode(&s.sig)
                    .map_err(|e| malformed(format!("signatures[{i}].sig is not base64: {e}")))?;
                Ok(EnvelopeSignature {
                    keyid: s.keyid,
                    sig,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Envelope {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }

    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// One subject of an in-toto statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Name of the artifact (for images: the repository).
    #[serde(default)]
    pub name: String,
    /// Algorithm name -> lowercase hex.
    pub digest: BTreeMap<String, String>,
    /// in-toto v1 resource-descriptor annotations (cosign v3 puts `-a key=value` here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

impl Subject {
    /// A subject naming `digest`.
    pub fn new(name: impl Into<String>, digest: &Digest) -> Self {
        Subject {
            name: name.into(),
            digest: BTreeMap::from([(
                digest.algorithm().name().to_string(),
                digest.hex().to_string(),
            )]),
            annotations: BTreeMap::new(),
        }
    }

    /// True when this subject carries `digest`.
    pub fn has_digest(&self, digest: &Digest) -> bool {
        self.digest
            .get(digest.algorithm().name())
            .is_some_and(|hex| hex == digest.hex())
    }
}

/// An in-toto statement (v1 written; v0.1 and v1 read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE_V1`] or [`STATEMENT_TYPE_V01`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// URI saying how to read `predicate` (see [`predicate_type`]).
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claim itself.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A v1 statement about `subject`.
    pub fn new(
        subject: Subject,
        predicate_type: impl Into<String>,
        predicate: serde_json::Value,
    ) -> Self {
        Statement {
            statement_type: STATEMENT_TYPE_V1.to_string(),
            subject: vec![subject],
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// The statement JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // A Value predicate and strings always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse statement JSON; `_type` must be an in-toto statement type.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let malformed = |reason: String| Error::MalformedEnvelope {
            what: "in-toto statement",
            reason,
        };
        let statement: Statement =
            serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        if statement.statement_type != STATEMENT_TYPE_V1
            && statement.statement_type != STATEMENT_TYPE_V01
        {
            return Err(malformed(format!(
                "unknown _type `{}`",
                statement.statement_type
            )));
        }
        Ok(statement)
    }

    /// Succeeds when some subject carries `digest`.
    pub fn check_subject(&self, digest: &Digest) -> Result<()> {
        if self.subject.iter().any(|s| s.has_digest(digest)) {
            Ok(())
        } else {
            Err(Error::SubjectMismatch {
                digest: digest.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_spec_example() {
        // secure-systems-lab/dsse protocol.md, "Test vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
        // Lengths count bytes, not characters.
        assert_eq!(
            pae("é", "ü".as_bytes()),
            "DSSEv1 2 é 2 ü".as_bytes().to_vec()
        );
    }

    #[test]
    fn envelope_json_round_trip_and_wire_names() {
        let envelope = Envelope {
            payload_type: IN_TOTO_PAYLOAD_TYPE.to_string(),
            payload: b"{}".to_vec(),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: vec![1, 2, 3],
            }],
        };
        let json = envelope.to_json();
        let value: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(value["payloadType"], IN_TOTO_PAYLOAD_TYPE);
        assert_eq!(value["payload"], "e30=");
        assert_eq!(value["signatures"][0]["keyid"], "");
        assert_eq!(value["signatures"][0]["sig"], "AQID");
        assert_eq!(Envelope::from_json(&json).expect("parses"), envelope);
    }

    #[test]
    fn envelope_parse_errors() {
        for bad in [
            &b"{"[..],
            br#"{"payloadType":"t","payload":"!!","signatures":[]}"#,
            br#"{"payloadType":"t","payload":"","signatures":[{"sig":"%"}]}"#,
        ] {
            assert!(
                matches!(
                    Envelope::from_json(bad),
                    Err(Error::MalformedEnvelope {
                        what: "DSSE envelope",
                        ..
                    })
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn statement_subjects() {
        let digest = Digest::sha256_of(b"image");
        let other = Digest::sha256_of(b"other");
        let statement = Statement::new(
            Subject::new("registry.example/app", &digest),
            predicate_type::VULN,
            serde_json::json!({}),
        );
        let parsed = Statement::from_json(&statement.to_json()).expect("own statement parses");
        assert_eq!(parsed, statement);
        assert!(parsed.check_subject(&digest).is_ok());
        assert!(matches!(
            parsed.check_subject(&other),
            Err(Error::SubjectMismatch { .. })
        ));
        assert!(
            Statement::from_json(br#"{"_type":"x","subject":[],"predicateType":"p"}"#).is_err()
        );
    }

    #[test]
    fn cosign_type_names() {
        for (name, uri) in [
            ("vuln", Some(predicate_type::VULN)),
            ("cyclonedx", Some(predicate_type::CYCLONEDX)),
            ("spdxjson", Some(predicate_type::SPDX)),
            ("slsaprovenance", Some(predicate_type::SLSA_PROVENANCE_V02)),
            ("custom", Some(predicate_type::CUSTOM)),
            ("nope", None),
        ] {
            assert_eq!(predicate_type::from_cosign_name(name), uri, "{name}");
        }
    }
}

//! cosign's simple-signing payload (sigstore/sigstore `pkg/signature/payload`).
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"registry.example/repo"},"image":{"docker-manifest-digest":"sha256:<hex>"},"type":"cosign container image signature"},"optional":null}
//! ```
//!
//! [`SimpleSigningPayload::to_json`] writes exactly the bytes Go's `encoding/json` writes for it
//! (field order, no whitespace, `null` for no annotations, map keys sorted, HTML-safe escaping),
//! so a payload we build is byte-identical to cosign's. Signatures are over the exact bytes: a
//! verifier keeps the bytes it received and never re-serialises them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The only accepted `critical.type`.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

/// A simple-signing payload: what a cosign signature of a container image says.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleSigningPayload {
    /// `critical.identity.docker-reference`: the repository (without tag or digest) that was signed.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`: the manifest digest that was signed.
    pub manifest_digest: String,
    /// `optional`: the `-a key=value` annotations; `None` serialises as `null` like cosign.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Wire {
    critical: WireCritical,
    #[serde(default)]
    optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct WireCritical {
    identity: WireIdentity,
    image: WireImage,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WireIdentity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
struct WireImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl SimpleSigningPayload {
    /// A payload for `manifest_digest` in repository `docker_reference`, without annotations.
    pub fn new(docker_reference: impl Into<String>, manifest_digest: &Digest) -> Self {
        SimpleSigningPayload {
            docker_reference: docker_reference.into(),
            manifest_digest: manifest_digest.to_string(),
            optional: None,
        }
    }

    /// Add one `optional` annotation (cosign's `-a key=value`).
    pub fn with_annotation(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.optional
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Parse payload bytes. Unknown fields are ignored (as Go's decoder does); `critical.type`
    /// must be exactly [`SIMPLE_SIGNING_TYPE`].
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|source| Error::MalformedPayload { source })?;
        if wire.critical.kind != SIMPLE_SIGNING_TYPE {
            return Err(Error::WrongPayloadType {
                found: wire.critical.kind,
            });
        }
        Ok(SimpleSigningPayload {
            docker_reference: wire.critical.identity.docker_reference,
            manifest_digest: wire.critical.image.docker_manifest_digest,
            optional: wire.optional,
        })
    }

    /// The payload bytes, byte-identical to cosign's `json.Marshal` output.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str(r#"{"critical":{"identity":{"docker-reference":"#);
        go_json_string(&mut out, &self.docker_reference);
        out.push_str(r#"},"image":{"docker-manifest-digest":"#);
        go_json_string(&mut out, &self.manifest_digest);
        out.push_str(r#"},"type":"#);
        go_json_string(&mut out, SIMPLE_SIGNING_TYPE);
        out.push_str(r#"},"optional":"#);
        match &self.optional {
            None => out.push_str("null"),
            Some(map) => go_json_object(&mut out, map),
        }
        out.push('}');
        out.into_bytes()
    }
}

/// Write `value` as Go's `encoding/json` does (HTML-safe escaping, sorted object keys).
/// Numbers are written as serde_json prints them, which equals Go's output for integers.
pub(crate) fn go_json_value(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go sorts map keys by their bytes; collect into a BTreeMap to get that order
            // whatever order serde_json's map keeps.
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, key);
                out.push(':');
                go_json_value(out, item);
            }
            out.push('}');
        }
    }
}

fn go_json_object(out: &mut String, map: &BTreeMap<String, serde_json::Value>) {
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_string(out, key);
        out.push(':');
        go_json_value(out, item);
    }
    out.push('}');
}

/// A JSON string literal as Go's `encoding/json` writes it: `<`, `>`, `&`, U+2028 and U+2029
/// are escaped as `\u003c`-style sequences; control characters use `\b \f \n \r \t` or `\u00XX`.
pub(crate) fn go_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[(b >> 4) & 0xf]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:4a1c4c3b6d2b1e2f0e7a5c3d9b8f7e6d5c4b3a29180706050403020100ffeedd";

    fn digest() -> Digest {
        Digest::parse(DIGEST).expect("test digest is valid")
    }

    fn check_bytes(payload: &SimpleSigningPayload, expect: &str) {
        let bytes = payload.to_json();
        assert_eq!(String::from_utf8_lossy(&bytes), expect);
        // And what we write, we read back to the same value.
        assert_eq!(
            &SimpleSigningPayload::parse(&bytes).expect("own payload parses"),
            payload
        );
    }

    #[test]
    fn payload_bytes_match_cosign_layout() {
        check_bytes(
            &SimpleSigningPayload::new("registry.example/repo", &digest()),
            &format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"registry.example/repo"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}},"optional":null}}"#
            ),
        );
        check_bytes(
            &SimpleSigningPayload::new("index.docker.io/library/alpine", &digest())
                .with_annotation("z", "last")
                .with_annotation("a", "first")
                .with_annotation("n", 3),
            &format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"index.docker.io/library/alpine"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}},"optional":{{"a":"first","n":3,"z":"last"}}}}"#
            ),
        );
    }

    #[test]
    fn payload_bytes_match_real_cosign_output() {
        // Output of `cosign generate xianpengshen/cosign-demo:latest` quoted in a public cosign
        // tutorial: the exact bytes cosign signs for that image.
        let cosign = r#"{"critical":{"identity":{"docker-reference":"index.docker.io/xianpengshen/cosign-demo"},"image":{"docker-manifest-digest":"sha256:d61c17b6aa49def5e3a654258592829a7fdec3387436c4f93cd0dcfb4c7f01e6"},"type":"cosign container image signature"},"optional":null}"#;
        let digest = Digest::parse(
            "sha256:d61c17b6aa49def5e3a654258592829a7fdec3387436c4f93cd0dcfb4c7f01e6",
        )
        .expect("valid digest");
        let built = SimpleSigningPayload::new(
            crate::verify::canonical_repository("xianpengshen/cosign-demo:latest"),
            &digest,
        );
        assert_eq!(String::from_utf8_lossy(&built.to_json()), cosign);
    }

    #[test]
    fn go_string_escaping() {
        let check = |input: &str, expect: &str| {
            let mut out = String::new();
            go_json_string(&mut out, input);
            assert_eq!(out, expect, "escaping {input:?}");
        };
        check("plain", r#""plain""#);
        check("a<b>&c", r#""a\u003cb\u003e\u0026c""#);
        check("q\"b\\", r#""q\"b\\""#);
        check("\n\r\t\u{8}\u{c}\u{1}\u{1f}", r#""\n\r\t\b\f\u0001\u001f""#);
        check("\u{2028}\u{2029}é", "\"\\u2028\\u2029é\"");
    }

    #[test]
    fn parse_accepts_null_and_empty_optional() {
        let base = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r/x"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}}"#
        );
        for (tail, expect) in [
            (r#","optional":null}"#, None),
            (r#","optional":{}}"#, Some(BTreeMap::new())),
            ("}", None),
        ] {
            let parsed = SimpleSigningPayload::parse(format!("{base}{tail}").as_bytes())
                .expect("valid payload");
            assert_eq!(parsed.optional, expect, "tail {tail}");
            assert_eq!(parsed.docker_reference, "r/x");
        }
    }

    #[test]
    fn parse_rejects_wrong_type_and_garbage() {
        let wrong = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"something else"}},"optional":null}}"#
        );
        assert!(matches!(
            SimpleSigningPayload::parse(wrong.as_bytes()),
            Err(Error::WrongPayloadType { found }) if found == "something else"
        ));
        for garbage in [&b""[..], b"{", b"[]", br#"{"critical":{}}"#, b"\xff\xfe"] {
            assert!(matches!(
                SimpleSigningPayload::parse(garbage),
                Err(Error::MalformedPayload { .. })
            ));
        }
    }
}

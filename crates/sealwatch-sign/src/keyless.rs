//! Keyless signing, the HTTP part: an ephemeral P-256 key, a short-lived certificate for it from
//! Fulcio (`POST /api/v2/signingCert`, proof of possession = the key's signature over the token's
//! subject), and uploads to Rekor v1 (`POST /api/v1/log/entries`). The request and answer formats
//! are built and read by `sealwatch_trust::keyless`; this module only moves bytes.

use std::time::Duration;

use sealwatch_trust::keyless::{
    fulcio_request, parse_fulcio_response, parse_rekor_response, CertificateChain, IdentityToken,
    LogEntry,
};
use sealwatch_trust::{KeyType, PrivateKey};

use crate::SignError;

/// Largest answer read from Fulcio or Rekor (a chain or an entry is a few KiB).
const MAX_ANSWER_SIZE: u64 = 1 << 20;

/// Where the Sigstore services are and who is signing.
#[derive(Debug, Clone)]
pub struct KeylessConfig {
    /// Fulcio base URL, e.g. `https://fulcio.sigstore.dev`.
    pub fulcio_url: String,
    /// Rekor base URL, e.g. `https://rekor.sigstore.dev`.
    pub rekor_url: String,
    /// The OIDC identity token.
    pub token: IdentityToken,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// An ephemeral key with its Fulcio certificate, able to sign and to log what it signed.
pub struct KeylessSigner {
    key: PrivateKey,
    chain: CertificateChain,
    rekor_url: String,
    http: reqwest::blocking::Client,
}

impl std::fmt::Debug for KeylessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSigner")
            .field("rekor_url", &self.rekor_url)
            .finish_non_exhaustive()
    }
}

impl KeylessSigner {
    /// Generate the ephemeral key and obtain its certificate from Fulcio.
    pub fn obtain(config: &KeylessConfig) -> Result<Self, SignError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| SignError::Service {
                service: "Fulcio",
                url: config.fulcio_url.clone(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        let key = PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng)
            .map_err(|source| SignError::trust("generating the ephemeral signing key", source))?;
        let proof = key
            .sign(config.token.subject().as_bytes())
            .map_err(|source| SignError::trust("signing the proof of possession", source))?;
        let body = fulcio_request(&config.token, &key.public_key(), &proof)
            .map_err(|source| SignError::trust("building the Fulcio request", source))?;
        let url = format!(
            "{}/api/v2/signingCert",
            config.fulcio_url.trim_end_matches('/')
        );
        let answer = post_json(&http, "Fulcio", &url, body)?;
        let chain = parse_fulcio_response(&answer)
            .map_err(|source| SignError::trust(format!("reading the answer of {url}"), source))?;
        Ok(KeylessSigner {
            key,
            chain,
            rekor_url: config.rekor_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The ephemeral key (never written anywhere).
    pub(crate) fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The certificate chain Fulcio issued, leaf first.
    pub fn chain(&self) -> &CertificateChain {
        &self.chain
    }

    /// Upload a proposed entry to Rekor and read back the log entry (SET, inclusion proof).
    pub(crate) fn log(&self, proposed_entry: Vec<u8>) -> Result<LogEntry, SignError> {
        let url = format!("{}/api/v1/log/entries", self.rekor_url);
        let answer = post_json(&self.http, "Rekor", &url, proposed_entry)?;
        parse_rekor_response(&answer)
            .map_err(|source| SignError::trust(format!("reading the answer of {url}"), source))
    }
}

fn post_json(
    http: &reqwest::blocking::Client,
    service: &'static str,
    url: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, SignError> {
    let failed = |reason: String| SignError::Service {
        service,
        url: url.to_string(),
        reason,
    };
    let response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .map_err(|e| failed(format!("request failed: {e}")))?;
    let status = response.status();
    let mut bytes = Vec::new();
    use std::io::Read as _;
    response
        .take(MAX_ANSWER_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(format!("reading the answer: {e}")))?;
    if bytes.len() as u64 > MAX_ANSWER_SIZE {
        return Err(failed(format!(
            "answer larger than {MAX_ANSWER_SIZE} bytes"
        )));
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        let text: String = text.chars().take(300).collect();
        return Err(failed(format!("HTTP {status}: {}", text.trim())));
    }
    Ok(bytes)
}

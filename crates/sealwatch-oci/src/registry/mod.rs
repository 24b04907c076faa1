//! A blocking client for the OCI distribution API: pull and push manifests and blobs, tags, referrers.
//!
//! # Why not `oci-client`
//!
//! `oci-client` is async (tokio) while the rest of sealwatch's I/O is blocking and streams blobs into
//! synchronous decompressors, so using it would mean a runtime and a bridge around every call. More
//! importantly it does not check blob sizes (the registry does not either, so a hostile registry can
//! stream without end), and its referrers fallback reports "no referrers" when the lookup failed,
//! which a verifier must not confuse with "unsigned". A small client on `reqwest::blocking` verifies
//! digest *and* size of everything it reads, bounds manifests while reading, and keeps
//! "absent" (`None`) apart from "failed" (`Err`).
//!
//! # Behaviour
//!
//! - **Transport**: HTTPS with the system roots plus [`RegistryOptions::ca_files`]. Plain HTTP only
//!   for `localhost`, `127.0.0.0/8`, `[::1]` and [`RegistryOptions::insecure_registries`]; for those
//!   HTTPS is tried first and HTTP is used when the TLS connection fails (not when it times out).
//! - **Auth**: anonymous until the registry answers 401; then a bearer token from the challenge's
//!   realm (cached per registry and scope until it expires) or basic auth. Credentials, first match
//!   wins: [`RegistryOptions::credentials`] (CLI `--username`/`--password-stdin`), then
//!   [`RegistryOptions::env_credentials`] (`SEALWATCH_USERNAME`/`SEALWATCH_PASSWORD`), then the
//!   `auths` of the docker `config.json` (`$DOCKER_CONFIG`, else `~/.docker`). Credentials are only
//!   ever sent in answer to a challenge, and never printed.
//! - **Retries**: 429, 502, 503, 504 and connection failures are retried up to
//!   [`RegistryOptions::max_retries`] times with exponential backoff, honouring `Retry-After`
//!   (capped at [`RegistryOptions::max_retry_delay`]). Timeouts are not retried, so a hanging
//!   registry fails after one timeout.
//! - **Verification**: manifests are bounded by [`RegistryOptions::max_manifest_size`] while read and
//!   checked against the requested digest, or against `Docker-Content-Digest` when fetched by tag;
//!   blobs stream through [`VerifyingReader`] (digest and size).

mod auth;
mod retry;
mod source;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::header::{
    HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::StatusCode;
use serde::Deserialize;

pub use auth::{default_docker_config_dir, Credentials, DockerConfig};
pub use source::RegistrySource;

use crate::digest::Hasher;
use crate::{Digest, Error, Reference, VerifyingReader};
use auth::{parse_challenge, Challenge, TokenResponse};

/// The manifest media types sealwatch asks for. Debian's registry answers 404 for an OCI manifest
/// unless the OCI types are listed.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
/// Error bodies and token answers are small; never buffer more of them than this.
const MAX_SMALL_BODY: u64 = 1 << 20;
/// `tags/list` pages to follow at most (`Link: rel="next"`).
const MAX_TAG_PAGES: usize = 1000;

/// Settings of a [`RegistryClient`]. `Default` is anonymous and reads nothing from the environment;
/// [`RegistryOptions::from_environment`] adds the environment variables and the docker config.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Explicit credentials (CLI `--username` + `--password-stdin`), used for any registry that asks.
    pub credentials: Option<Credentials>,
    /// Credentials from `SEALWATCH_USERNAME` / `SEALWATCH_PASSWORD`.
    pub env_credentials: Option<Credentials>,
    /// Folder holding a docker `config.json`; `None` means don't read one.
    pub docker_config_dir: Option<PathBuf>,
    /// Extra PEM files with CA certificates to trust besides the system roots (`--ca-file`).
    pub ca_files: Vec<PathBuf>,
    /// Registries (`host[:port]`) that may be spoken to over plain HTTP (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// Time allowed to establish a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for one API request, body included (manifests, tags, uploads' control requests).
    pub request_timeout: Duration,
    /// Time allowed for one blob transfer, body included.
    pub blob_timeout: Duration,
    /// Largest manifest or index accepted (the distribution registry's own limit is 4 MiB).
    pub max_manifest_size: u64,
    /// Retries after the first attempt for retryable failures.
    pub max_retries: u32,
    /// First backoff delay; doubled on each retry.
    pub retry_base_delay: Duration,
    /// Upper bound for any wait between retries, `Retry-After` included.
    pub max_retry_delay: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            credentials: None,
            env_credentials: None,
            docker_config_dir: None,
            ca_files: Vec::new(),
            insecure_registries: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            blob_timeout: Duration::from_secs(600),
            max_manifest_size: 4 << 20,
            max_retries: 3,
            retry_base_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(10),
        }
    }
}

impl RegistryOptions {
    /// Defaults plus `SEALWATCH_USERNAME`/`SEALWATCH_PASSWORD` and the docker config folder.
    pub fn from_environment() -> Self {
        let env_credentials = match (
            std::env::var("SEALWATCH_USERNAME"),
            std::env::var("SEALWATCH_PASSWORD"),
        ) {
            (Ok(user), Ok(pass)) if !user.is_empty() => Some(Credentials::new(user, pass)),
            _ => None,
        };
        RegistryOptions {
            env_credentials,
            docker_config_dir: default_docker_config_dir(),
            ..Default::default()
        }
    }
}

/// A manifest or index as the registry served it, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    /// `Content-Type` of the answer, or the document's `mediaType`.
    pub media_type: Option<String>,
    /// The digest of `bytes` (computed here, and equal to what was asked for or announced).
    pub digest: Digest,
}

/// What a `HEAD` of a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: Digest,
    pub size: Option<u64>,
    pub media_type: Option<String>,
}

/// Bytes to upload as a blob. Both forms can be re-sent when a request is retried.
#[derive(Debug, Clone)]
pub enum BlobContent {
    Bytes(Arc<[u8]>),
    File(PathBuf),
}

/// One entry of a referrers answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// The answer of the native referrers API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrers {
    /// The index document exactly as served.
    pub bytes: Vec<u8>,
    pub manifests: Vec<Referrer>,
}

#[derive(Deserialize)]
struct ReferrersIndex {
    #[serde(default)]
    manifests: Option<Vec<Referrer>>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Pull,
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

/// What a request is about, for auth scopes and error messages.
struct Target<'a> {
    reference: &'a Reference,
    access: Access,
    /// e.g. "GET manifest 3.20.3"
    what: String,
    timeout: Duration,
    /// Whether to attach (and answer challenges with) the registry's credentials.
    send_auth: bool,
}

/// A cached `Authorization` value.
#[derive(Clone)]
struct CachedAuth {
    header: String,
    expires: Option<Instant>,
}

/// A blocking OCI distribution client. Cheap to share (`Arc`) between threads.
pub struct RegistryClient {
    http: Client,
    options: RegistryOptions,
    docker_config: DockerConfig,
    /// `host` -> `https://host` or `http://host`, decided once per host.
    base_urls: Mutex<HashMap<String, String>>,
    /// (`host`, scope) -> Authorization header; scope `*` is basic auth for the whole host.
    auth_cache: Mutex<HashMap<(String, String), CachedAuth>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// Build a client: reads the CA files and the docker config now, so that a bad one fails early.
    pub fn new(options: RegistryOptions) -> Result<RegistryClient, Error> {
        let mut builder = Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(concat!("sealwatch/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(10));
        for path in &options.ca_files {
            let pem = std::fs::read(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::CaFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if certs.is_empty() {
                return Err(Error::CaFile {
                    path: path.clone(),
                    reason: "no PEM certificate in the file".into(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let docker_config = match &options.docker_config_dir {
            Some(dir) => DockerConfig::load(dir)?,
            None => DockerConfig::default(),
        };
        Ok(RegistryClient {
            http,
            options,
            docker_config,
            base_urls: Mutex::new(HashMap::new()),
            auth_cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn options(&self) -> &RegistryOptions {
        &self.options
    }

    /// The manifest or index `reference` names (by digest if it has one, else by tag), verified.
    pub fn fetch_manifest(&self, reference: &Reference) -> Result<FetchedManifest, Error> {
        self.get_manifest(
            reference,
            &reference.manifest_reference(),
            reference.digest(),
            None,
        )
    }

    /// A manifest of `reference`'s repository by digest, verified against digest and (if given) size.
    pub fn fetch_manifest_by_digest(
        &self,
        reference: &Reference,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<FetchedManifest, Error> {
        self.get_manifest(reference, &digest.to_string(), Some(digest), size)
    }

    fn get_manifest(
        &self,
        reference: &Reference,
        tag_or_digest: &str,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<FetchedManifest, Error> {
        let shown = display_at(reference, tag_or_digest);
        let target = self.target(
            reference,
            Access::Pull,
            format!("GET manifest {tag_or_digest}"),
        );
        let path = format!("/v2/{}/manifests/{tag_or_digest}", reference.repository());
        let resp = self.send(&target, &|http, base| {
            http.get(format!("{base}{path}"))
                .header(ACCEPT, MANIFEST_ACCEPT)
        })?;
        let resp = self.check(resp, &target, Subject::Manifest(&shown))?;
        let headers = resp.headers().clone();
        let limit = self.options.max_manifest_size;
        if content_length(&headers).is_some_and(|len| len > limit) {
            return Err(Error::ManifestTooLarge {
                reference: shown,
                limit,
            });
        }
        let bytes = read_bounded(resp, limit).map_err(|e| self.read_error(&target, e))?;
        let bytes = bytes.ok_or_else(|| Error::ManifestTooLarge {
            reference: shown.clone(),
            limit,
        })?;
        let media_type = media_type_of(&headers, &bytes);
        let digest = match expected {
            Some(expected) => {
                verify_manifest(&bytes, expected, &shown)?;
                if let Some(size) = size {
                    if size != bytes.len() as u64 {
                        return Err(Error::SizeMismatch {
                            digest: expected.to_string(),
                            expected: size,
                            actual: bytes.len() as u64,
                        });
                    }
                }
                expected.clone()
            }
            None => match header_str(&headers, DOCKER_CONTENT_DIGEST) {
                Some(announced) => {
                    let announced: Digest =
                        announced.parse().map_err(|_| Error::RegistryProtocol {
                            registry: reference.registry().to_owned(),
                            what: target.what.clone(),
                            reason: format!("invalid Docker-Content-Digest {announced:?}"),
                        })?;
                    verify_manifest(&bytes, &announced, &shown)?;
                    announced
                }
                None => Digest::sha256_of(&bytes),
            },
        };
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// `HEAD` a manifest: its digest (what a tag points at), size and media type. When the registry
    /// sends no `Docker-Content-Digest`, the manifest is fetched and hashed instead.
    pub fn head_manifest(&self, reference: &Reference) -> Result<ManifestHead, Error> {
        let tag_or_digest = reference.manifest_reference();
        let shown = display_at(reference, &tag_or_digest);
        let target = self.target(
            reference,
            Access::Pull,
            format!("HEAD manifest {tag_or_digest}"),
        );
        let path = format!("/v2/{}/manifests/{tag_or_digest}", reference.repository());
        let resp = self.send(&target, &|http, base| {
            http.head(format!("{base}{path}"))
                .header(ACCEPT, MANIFEST_ACCEPT)
        })?;
        let resp = self.check(resp, &target, Subject::Manifest(&shown))?;
        let headers = resp.headers();
        match header_str(headers, DOCKER_CONTENT_DIGEST).and_then(|d| d.parse::<Digest>().ok()) {
            Some(digest) => Ok(ManifestHead {
                digest,
                size: content_length(headers),
                media_type: header_str(headers, CONTENT_TYPE.as_str()).map(str::to_owned),
            }),
            None => {
                let fetched = self.fetch_manifest(reference)?;
                Ok(ManifestHead {
                    digest: fetched.digest,
                    size: Some(fetched.bytes.len() as u64),
                    media_type: fetched.media_type,
                })
            }
        }
    }

    /// Open a blob of `reference`'s repository as a stream that verifies digest and size; read it to
    /// the end (a mismatch surfaces as an `InvalidData` I/O error at the end).
    pub fn open_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        size: u64,
    ) -> Result<VerifyingReader<impl Read + Send + 'static>, Error> {
        let resp = self.get_blob(reference, digest)?;
        Ok(VerifyingReader::new(resp, digest.clone(), size))
    }

    fn get_blob(&self, reference: &Reference, digest: &Digest) -> Result<Response, Error> {
        let mut target = self.target(reference, Access::Pull, format!("GET blob {digest}"));
        target.timeout = self.options.blob_timeout;
        let path = format!("/v2/{}/blobs/{digest}", reference.repository());
        let timeout = target.timeout;
        let resp = self.send(&target, &|http, base| {
            http.get(format!("{base}{path}")).timeout(timeout)
        })?;
        self.check(resp, &target, Subject::Blob(digest))
    }

    /// Download a blob into `out`, verifying digest and size; returns the number of bytes written.
    pub fn pull_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        size: u64,
        out: &mut dyn Write,
    ) -> Result<u64, Error> {
        let resp = self.get_blob(reference, digest)?;
        let target = self.target(reference, Access::Pull, format!("GET blob {digest}"));
        let mut reader = VerifyingReader::new(resp, digest.clone(), size);
        let mut buf = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(&target, e)),
            };
            let chunk = buf.get(..n).unwrap_or_default();
            out.write_all(chunk).map_err(|source| Error::BlobWrite {
                digest: digest.to_string(),
                source,
            })?;
            written += n as u64;
        }
        Ok(written)
    }

    /// Whether the repository already has a blob (`HEAD`).
    pub fn blob_exists(&self, reference: &Reference, digest: &Digest) -> Result<bool, Error> {
        let target = self.target(reference, Access::Pull, format!("HEAD blob {digest}"));
        let path = format!("/v2/{}/blobs/{digest}", reference.repository());
        let resp = self.send(&target, &|http, base| http.head(format!("{base}{path}")))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.check(resp, &target, Subject::Blob(digest))?;
        Ok(true)
    }

    /// Upload a blob unless the repository has it already. Returns `true` when it was uploaded.
    ///
    /// A monolithic upload: `POST` opens a session, `PUT <Location>&digest=…` sends the bytes.
    pub fn push_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        content: &BlobContent,
    ) -> Result<bool, Error> {
        if self.blob_exists(reference, digest)? {
            return Ok(false);
        }
        // Fail before opening an upload session if the content cannot be read.
        drop(blob_body(content)?);
        let target = self.target(
            reference,
            Access::Push,
            format!("POST blob upload for {digest}"),
        );
        let path = format!("/v2/{}/blobs/uploads/", reference.repository());
        let resp = self.send(&target, &|http, base| {
            http.post(format!("{base}{path}"))
                .header(CONTENT_LENGTH, "0")
        })?;
        let resp = self.check(resp, &target, Subject::Other)?;
        let location = header_str(resp.headers(), LOCATION.as_str()).ok_or_else(|| {
            Error::RegistryProtocol {
                registry: reference.registry().to_owned(),
                what: target.what.clone(),
                reason: "upload answer has no Location header".into(),
            }
        })?;
        let base = self.base_url(reference, &target)?;
        let upload_url =
            upload_url(&base, &format!("{base}{path}"), location, digest).ok_or_else(|| {
                Error::RegistryProtocol {
                    registry: reference.registry().to_owned(),
                    what: target.what.clone(),
                    reason: format!("invalid upload Location {location:?}"),
                }
            })?;
        let mut put = self.target(reference, Access::Push, format!("PUT blob {digest}"));
        put.timeout = self.options.blob_timeout;
        // Registry credentials go only to the registry itself, not to an upload URL elsewhere.
        put.send_auth = same_origin(&upload_url, &base);
        let timeout = put.timeout;
        let body_error = Mutex::new(None);
        let resp = self.send(&put, &|http, _base| {
            let req = http
                .put(upload_url.as_str())
                .timeout(timeout)
                .header(CONTENT_TYPE, "application/octet-stream");
            match blob_body(content) {
                Ok(body) => req.body(body),
                Err(e) => {
                    *body_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    req
                }
            }
        });
        if let Some(e) = body_error
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(e);
        }
        self.check(resp?, &put, Subject::Blob(digest))?;
        Ok(true)
    }

    /// Upload a manifest at `reference`'s tag (or digest), with `Content-Type` = `media_type`.
    /// Returns the manifest's digest.
    pub fn push_manifest(
        &self,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, Error> {
        let digest = match reference.digest() {
            Some(d) => {
                verify_manifest(bytes, d, &reference.to_string())?;
                d.clone()
            }
            None => Digest::sha256_of(bytes),
        };
        let tag_or_digest = reference
            .tag()
            .map_or_else(|| digest.to_string(), str::to_owned);
        let shown = display_at(reference, &tag_or_digest);
        let target = self.target(
            reference,
            Access::Push,
            format!("PUT manifest {tag_or_digest}"),
        );
        let path = format!("/v2/{}/manifests/{tag_or_digest}", reference.repository());
        let body = bytes.to_vec();
        let resp = self.send(&target, &|http, base| {
            http.put(format!("{base}{path}"))
                .header(CONTENT_TYPE, media_type)
                .body(body.clone())
        })?;
        let resp = self.check(resp, &target, Subject::Manifest(&shown))?;
        if let Some(announced) = header_str(resp.headers(), DOCKER_CONTENT_DIGEST) {
            if announced.parse::<Digest>().ok().as_ref() != Some(&digest)
                && announced.starts_with("sha256:")
            {
                return Err(Error::RegistryProtocol {
                    registry: reference.registry().to_owned(),
                    what: target.what,
                    reason: format!(
                        "registry stored the manifest as {announced}, expected {digest}"
                    ),
                });
            }
        }
        Ok(digest)
    }

    /// All tags of `reference`'s repository (following `Link: rel="next"` pages).
    pub fn list_tags(&self, reference: &Reference) -> Result<Vec<String>, Error> {
        let target = self.target(reference, Access::Pull, "GET tags/list".to_owned());
        let mut path = format!("/v2/{}/tags/list", reference.repository());
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let page_path = path.clone();
            let resp = self.send(&target, &|http, base| {
                http.get(format!("{base}{page_path}"))
            })?;
            let resp = self.check(resp, &target, Subject::Other)?;
            let next = header_str(resp.headers(), "link").and_then(next_link);
            let body = read_bounded(resp, self.options.max_manifest_size)
                .map_err(|e| self.read_error(&target, e))?
                .ok_or_else(|| self.protocol(&target, "tags/list answer too large"))?;
            let list: TagList = serde_json::from_slice(&body).map_err(|e| {
                self.protocol(&target, &format!("tags/list answer is not valid JSON: {e}"))
            })?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(next) => path = next,
                None => return Ok(tags),
            }
        }
        Err(self.protocol(&target, "too many tags/list pages"))
    }

    /// Delete a manifest by digest (registries refuse deletion by tag).
    pub fn delete_manifest(&self, reference: &Reference, digest: &Digest) -> Result<(), Error> {
        let shown = display_at(reference, &digest.to_string());
        let target = self.target(reference, Access::Push, format!("DELETE manifest {digest}"));
        let path = format!("/v2/{}/manifests/{digest}", reference.repository());
        let resp = self.send(&target, &|http, base| http.delete(format!("{base}{path}")))?;
        self.check(resp, &target, Subject::Manifest(&shown))?;
        Ok(())
    }

    /// The native OCI 1.1 referrers API for `digest`, optionally filtered by `artifact_type`.
    ///
    /// `Ok(None)` means the registry has no referrers API (it answered 404), so the caller should use
    /// the tag schema (`sha256-<hex>`). Any other failure is an error, never "no referrers".
    pub fn referrers(
        &self,
        reference: &Reference,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Referrers>, Error> {
        let target = self.target(reference, Access::Pull, format!("GET referrers {digest}"));
        let mut path = format!("/v2/{}/referrers/{digest}", reference.repository());
        if let Some(t) = artifact_type {
            path.push_str("?artifactType=");
            path.push_str(&percent_encode(t));
        }
        let resp = self.send(&target, &|http, base| {
            http.get(format!("{base}{path}"))
                .header(ACCEPT, "application/vnd.oci.image.index.v1+json")
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            // A registry with the API answers 200 even for unknown digests; an error envelope naming
            // the repository is a real failure, anything else (Debian: "404 page not found") is absence.
            let body = read_bounded(resp, MAX_SMALL_BODY)
                .ok()
                .flatten()
                .unwrap_or_default();
            let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&body).ok();
            if envelope.is_some_and(|env| env.errors.iter().any(|e| e.code == "NAME_UNKNOWN")) {
                return Err(Error::NameUnknown {
                    registry: reference.registry().to_owned(),
                    repository: reference.repository().to_owned(),
                });
            }
            return Ok(None);
        }
        let resp = self.check(resp, &target, Subject::Other)?;
        let bytes = read_bounded(resp, self.options.max_manifest_size)
            .map_err(|e| self.read_error(&target, e))?
            .ok_or_else(|| Error::ManifestTooLarge {
                reference: format!(
                    "{}/{}/referrers/{digest}",
                    reference.registry(),
                    reference.repository()
                ),
                limit: self.options.max_manifest_size,
            })?;
        let index: ReferrersIndex = serde_json::from_slice(&bytes).map_err(|e| {
            self.protocol(
                &target,
                &format!("referrers answer is not an OCI index: {e}"),
            )
        })?;
        Ok(Some(Referrers {
            manifests: index.manifests.unwrap_or_default(),
            bytes,
        }))
    }

    // ----- plumbing -----

    fn target<'a>(&self, reference: &'a Reference, access: Access, what: String) -> Target<'a> {
        Target {
            reference,
            access,
            what,
            timeout: self.options.request_timeout,
            send_auth: true,
        }
    }

    fn protocol(&self, target: &Target<'_>, reason: &str) -> Error {
        Error::RegistryProtocol {
            registry: target.reference.registry().to_owned(),
            what: target.what.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Whether plain HTTP is allowed for `host` (`host[:port]`).
    fn plain_http_allowed(&self, registry: &str) -> bool {
        if self
            .options
            .insecure_registries
            .iter()
            .any(|r| r.eq_ignore_ascii_case(registry))
        {
            return true;
        }
        is_loopback_registry(registry)
    }

    /// `https://host` or, for registries that allow it and don't speak TLS, `http://host`.
    fn base_url(&self, reference: &Reference, target: &Target<'_>) -> Result<String, Error> {
        let host = reference.registry_api_host().to_owned();
        if let Some(base) = self
            .base_urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&host)
        {
            return Ok(base.clone());
        }
        let https = format!("https://{host}");
        let base = if self.plain_http_allowed(reference.registry()) {
            match self.http.get(format!("{https}/v2/")).send() {
                Ok(_) => https,
                Err(e) if e.is_timeout() => return Err(self.probe_error(target, e)),
                Err(tls_error) => {
                    // Use plain HTTP only if a registry answers there (200 or 401 on `/v2/`);
                    // otherwise the HTTPS failure (e.g. an untrusted certificate) is the real error.
                    let http = format!("http://{host}");
                    match self.http.get(format!("{http}/v2/")).send() {
                        Ok(resp) if matches!(resp.status().as_u16(), 200 | 401) => http,
                        Err(e) if e.is_timeout() => return Err(self.probe_error(target, e)),
                        _ => return Err(self.probe_error(target, tls_error)),
                    }
                }
            }
        } else {
            https
        };
        self.base_urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host, base.clone());
        Ok(base)
    }

    fn scope(target: &Target<'_>) -> String {
        format!(
            "repository:{}:{}",
            target.reference.repository(),
            target.access.actions()
        )
    }

    fn cached_auth(&self, host: &str, scope: &str) -> Option<String> {
        let cache = self
            .auth_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let fresh = |a: &CachedAuth| a.expires.is_none_or(|t| t > Instant::now());
        // A push token also allows pull, so use it for a pull request too.
        let push_scope = scope
            .strip_suffix(":pull")
            .map(|s| format!("{s}:pull,push"));
        [Some(scope.to_owned()), push_scope, Some("*".to_owned())]
            .into_iter()
            .flatten()
            .find_map(|s| {
                cache
                    .get(&(host.to_owned(), s))
                    .filter(|a| fresh(a))
                    .map(|a| a.header.clone())
            })
    }

    fn credentials_for(&self, registry: &str) -> Option<&Credentials> {
        self.options
            .credentials
            .as_ref()
            .or(self.options.env_credentials.as_ref())
            .or_else(|| self.docker_config.credentials_for(registry))
    }

    /// Send a request built by `build` (called again for each attempt), handling auth and retries.
    ///
    /// Besides connection failures, a request that died because the server closed a pooled keep-alive
    /// connection just as it was reused is retried: the server never saw it (seen with Debian's registry
    /// on a manifest PUT).
    fn send(
        &self,
        target: &Target<'_>,
        build: &dyn Fn(&Client, &str) -> RequestBuilder,
    ) -> Result<Response, Error> {
        let base = self.base_url(target.reference, target)?;
        let host = target.reference.registry_api_host().to_owned();
        let scope = Self::scope(target);
        // Answer at most one challenge per call: a second 401 means the credentials are wrong.
        let mut answered_challenge = false;
        let mut attempt = 0u32;
        loop {
            let mut request = build(&self.http, &base);
            if let Some(header) = self.cached_auth(&host, &scope).filter(|_| target.send_auth) {
                request = request.header(AUTHORIZATION, header);
            }
            let resp = match request.send() {
                Ok(resp) => resp,
                Err(e)
                    if (e.is_connect() || is_stale_connection(&e))
                        && !e.is_timeout()
                        && attempt < self.options.max_retries =>
                {
                    std::thread::sleep(self.backoff(attempt));
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(self.transport_error(target, e)),
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                if answered_challenge || !target.send_auth {
                    return Err(self.auth_failed(target, "the registry rejected the credentials"));
                }
                let challenge =
                    header_str(resp.headers(), WWW_AUTHENTICATE.as_str()).and_then(parse_challenge);
                self.authenticate(target, &host, &scope, challenge)?;
                answered_challenge = true;
                continue;
            }
            if retry::is_retryable_status(status.as_u16()) && attempt < self.options.max_retries {
                let wait = header_str(resp.headers(), "retry-after")
                    .and_then(|v| {
                        retry::parse_retry_after(v, SystemTime::now(), self.options.max_retry_delay)
                    })
                    .unwrap_or_else(|| self.backoff(attempt));
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            return Ok(resp);
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        retry::backoff(
            attempt,
            self.options.retry_base_delay,
            self.options.max_retry_delay,
        )
    }

    /// Answer a 401 challenge: fetch a bearer token, or arm basic auth. Fills the auth cache.
    fn authenticate(
        &self,
        target: &Target<'_>,
        host: &str,
        scope: &str,
        challenge: Option<Challenge>,
    ) -> Result<(), Error> {
        let credentials = self.credentials_for(target.reference.registry());
        match challenge {
            Some(Challenge::Basic) => {
                let creds = credentials
                    .ok_or_else(|| self.auth_failed(target, "the registry requires credentials"))?;
                let entry = CachedAuth {
                    header: creds.basic_header(),
                    expires: None,
                };
                self.auth_cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((host.to_owned(), "*".to_owned()), entry);
                Ok(())
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope: _,
            }) => {
                // Our own scope, not the challenge's: a token for exactly this repository and access.
                let mut url = reqwest::Url::parse(&realm).map_err(|_| {
                    self.protocol(target, &format!("invalid token realm {realm:?}"))
                })?;
                if url.scheme() != "https" && !url.host_str().is_some_and(is_loopback_registry) {
                    return Err(
                        self.protocol(target, &format!("token realm {realm:?} is not HTTPS"))
                    );
                }
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = &service {
                        query.append_pair("service", service);
                    }
                    query.append_pair("scope", scope);
                }
                let mut request = self.http.get(url);
                if let Some(creds) = credentials {
                    request = request.header(AUTHORIZATION, creds.basic_header());
                }
                let resp = request
                    .send()
                    .map_err(|e| self.transport_error(target, e))?;
                if matches!(
                    resp.status(),
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ) {
                    return Err(
                        self.auth_failed(target, "the token service rejected the credentials")
                    );
                }
                if !resp.status().is_success() {
                    let status = resp.status().as_u16();
                    return Err(
                        self.protocol(target, &format!("token service answered HTTP {status}"))
                    );
                }
                let body = read_bounded(resp, MAX_SMALL_BODY)
                    .map_err(|e| self.read_error(target, e))?
                    .ok_or_else(|| self.protocol(target, "token answer too large"))?;
                let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                    self.protocol(target, &format!("token answer is not JSON: {e}"))
                })?;
                let value = token
                    .token
                    .or(token.access_token)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| self.protocol(target, "token answer has no token"))?;
                // The token spec: missing or under 60 s means 60 s. Renew a little early.
                let lifetime =
                    Duration::from_secs(token.expires_in.unwrap_or(60).max(60).saturating_sub(5));
                let entry = CachedAuth {
                    header: format!("Bearer {value}"),
                    expires: Instant::now().checked_add(lifetime),
                };
                self.auth_cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((host.to_owned(), scope.to_owned()), entry);
                Ok(())
            }
            None => {
                Err(self.auth_failed(target, "unsupported or missing WWW-Authenticate challenge"))
            }
        }
    }

    fn auth_failed(&self, target: &Target<'_>, detail: &str) -> Error {
        Error::AuthenticationFailed {
            registry: target.reference.registry().to_owned(),
            repository: target.reference.repository().to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// An error of the `/v2/` probe, which runs with the client's default (request) timeout.
    fn probe_error(&self, target: &Target<'_>, source: reqwest::Error) -> Error {
        let probe = Target {
            reference: target.reference,
            access: target.access,
            what: format!("GET /v2/ (before {})", target.what),
            timeout: self.options.request_timeout,
            send_auth: false,
        };
        self.transport_error(&probe, source)
    }

    fn transport_error(&self, target: &Target<'_>, source: reqwest::Error) -> Error {
        let registry = target.reference.registry().to_owned();
        let repository = target.reference.repository().to_owned();
        if source.is_timeout() {
            Error::RegistryTimeout {
                registry,
                repository,
                what: target.what.clone(),
                timeout: target.timeout,
                source,
            }
        } else {
            Error::RegistryTransport {
                registry,
                repository,
                what: target.what.clone(),
                source,
            }
        }
    }

    /// An error while reading a body: verification failures keep their own variant.
    fn read_error(&self, target: &Target<'_>, err: io::Error) -> Error {
        let timed_out = err.kind() == io::ErrorKind::TimedOut;
        let inner = match err.into_inner() {
            Some(inner) => inner,
            None => {
                return Error::RegistryRead {
                    registry: target.reference.registry().to_owned(),
                    repository: target.reference.repository().to_owned(),
                    what: target.what.clone(),
                    source: io::Error::other("read failed"),
                }
            }
        };
        let inner = match inner.downcast::<Error>() {
            Ok(ours) => return *ours,
            Err(other) => other,
        };
        match inner.downcast::<reqwest::Error>() {
            Ok(e) => self.transport_error(target, *e),
            Err(other) => {
                let kind = if timed_out {
                    io::ErrorKind::TimedOut
                } else {
                    io::ErrorKind::Other
                };
                Error::RegistryRead {
                    registry: target.reference.registry().to_owned(),
                    repository: target.reference.repository().to_owned(),
                    what: target.what.clone(),
                    source: io::Error::new(kind, other),
                }
            }
        }
    }

    /// Turn a non-success status into an error; `shown` is the manifest reference for 404s.
    /// Turn a non-success status into an error naming `subject` (what a 404 means depends on it).
    fn check(
        &self,
        resp: Response,
        target: &Target<'_>,
        subject: Subject<'_>,
    ) -> Result<Response, Error> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let is_head = target.what.starts_with("HEAD");
        let body = if is_head {
            Vec::new()
        } else {
            read_bounded(resp, MAX_SMALL_BODY)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&body).ok();
        let first = envelope.as_ref().and_then(|e| e.errors.first());
        let code = first.map(|e| e.code.as_str()).unwrap_or_default();
        let message = first.map(|e| e.message.clone()).unwrap_or_else(|| {
            String::from_utf8_lossy(body.get(..200).unwrap_or(&body))
                .trim()
                .to_owned()
        });
        let registry = target.reference.registry().to_owned();
        let repository = target.reference.repository().to_owned();
        let not_found = status == StatusCode::NOT_FOUND && code.is_empty();
        Err(match (status.as_u16(), code, subject) {
            (_, "UNAUTHORIZED", _) | (401, _, _) => self.auth_failed(target, &message),
            (_, "DENIED", _) | (403, _, _) => Error::AccessDenied {
                registry,
                repository,
                message,
            },
            (_, "NAME_UNKNOWN", _) => Error::NameUnknown {
                registry,
                repository,
            },
            (_, "MANIFEST_UNKNOWN", Subject::Manifest(shown)) => Error::ManifestUnknown {
                reference: shown.to_owned(),
            },
            (_, _, Subject::Manifest(shown)) if not_found => Error::ManifestUnknown {
                reference: shown.to_owned(),
            },
            (_, "BLOB_UNKNOWN", Subject::Blob(digest)) => Error::BlobUnknown {
                registry,
                repository,
                digest: digest.to_string(),
            },
            (_, _, Subject::Blob(digest)) if not_found => Error::BlobUnknown {
                registry,
                repository,
                digest: digest.to_string(),
            },
            _ => Error::RegistryStatus {
                registry,
                repository,
                what: target.what.clone(),
                status: status.as_u16(),
                detail: if code.is_empty() {
                    message
                } else {
                    format!("{code}: {message}")
                },
            },
        })
    }
}

/// What a checked request was about.
#[derive(Clone, Copy)]
enum Subject<'a> {
    /// A manifest, shown as `registry/repo:tag` or `registry/repo@digest`.
    Manifest(&'a str),
    Blob(&'a Digest),
    Other,
}

fn display_at(reference: &Reference, tag_or_digest: &str) -> String {
    let sep = if tag_or_digest.contains(':') && tag_or_digest.parse::<Digest>().is_ok() {
        '@'
    } else {
        ':'
    };
    format!(
        "{}/{}{sep}{tag_or_digest}",
        reference.registry(),
        reference.repository()
    )
}

fn verify_manifest(bytes: &[u8], expected: &Digest, shown: &str) -> Result<(), Error> {
    let mut hasher = Hasher::new(expected.algorithm());
    hasher.update(bytes);
    let actual = hasher.finish();
    if &actual != expected {
        return Err(Error::ManifestDigestMismatch {
            reference: shown.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Read at most `limit` bytes; `Ok(None)` when the body is longer.
fn read_bounded(resp: impl Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    resp.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.trim().parse().ok())
}

/// `Content-Type` without parameters, else the document's `mediaType`.
fn media_type_of(headers: &HeaderMap, bytes: &[u8]) -> Option<String> {
    let from_header = header_str(headers, CONTENT_TYPE.as_str())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .filter(|v| !v.is_empty() && v != "application/json" && v != "text/plain");
    from_header.or_else(|| {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "mediaType")]
            media_type: Option<String>,
        }
        serde_json::from_slice::<Probe>(bytes)
            .ok()
            .and_then(|p| p.media_type)
    })
}

fn blob_body(content: &BlobContent) -> Result<Body, Error> {
    match content {
        BlobContent::Bytes(bytes) => {
            let len = bytes.len() as u64;
            Ok(Body::sized(io::Cursor::new(Arc::clone(bytes)), len))
        }
        BlobContent::File(path) => {
            let file = std::fs::File::open(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let len = file
                .metadata()
                .map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?
                .len();
            Ok(Body::sized(file, len))
        }
    }
}

/// The URL for the final `PUT` of an upload: the `Location` as given (absolute, or resolved
/// against the POST URL), with `digest=` appended to its query rather than rebuilt.
fn upload_url(base: &str, post_url: &str, location: &str, digest: &Digest) -> Option<String> {
    let absolute = if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        reqwest::Url::parse(post_url)
            .ok()?
            .join(location)
            .ok()?
            .to_string()
    };
    let sep = if absolute.contains('?') { '&' } else { '?' };
    Some(format!(
        "{absolute}{sep}digest={}",
        percent_encode(&digest.to_string())
    ))
}

/// Whether `url` has the scheme, host and port of `base` (`scheme://host[:port]`).
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path+query of a `Link: </v2/…?n=…&last=…>; rel="next"` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") && !params.contains("rel=next") {
            return None;
        }
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        if url.starts_with('/') {
            Some(url.to_owned())
        } else {
            let parsed = reqwest::Url::parse(url).ok()?;
            Some(match parsed.query() {
                Some(q) => format!("{}?{q}", parsed.path()),
                None => parsed.path().to_owned(),
            })
        }
    })
}

/// `localhost`, `127.0.0.0/8` or `::1`, with or without a port.
fn is_loopback_registry(registry: &str) -> bool {
    if let Ok(ip) = registry.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                registry
            }
        })
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `e` is the keep-alive race: the connection was closed before any response arrived.
fn is_stale_connection(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        let text = err.to_string();
        if text.contains("connection closed before message completed")
            || text.contains("IncompleteMessage")
            || text.contains("connection reset")
        {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        let cases = [
            ("localhost", true),
            ("localhost:5000", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("[::1]:5000", true),
            ("::1", true),
            ("128.0.0.1:5000", false),
            ("localhost.evil.io", false),
            ("docker.io", false),
            ("10.0.0.1:80", false),
        ];
        for (host, want) in cases {
            assert_eq!(is_loopback_registry(host), want, "{host}");
        }
    }

    #[test]
    fn upload_locations() {
        let d: Digest = "sha256:256b0065328fcc3d0e07603b61bd417843ffa8add4911e16b248592ca4d5bd64"
            .parse()
            .expect("d");
        let q = "digest=sha256%3A256b0065328fcc3d0e07603b61bd417843ffa8add4911e16b248592ca4d5bd64";
        let base = "http://127.0.0.1:5000";
        let post = "http://127.0.0.1:5000/v2/a/b/blobs/uploads/";
        let cases = [
            (
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=xyz",
                format!("http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=xyz&{q}"),
            ),
            (
                "/v2/a/b/blobs/uploads/u2",
                format!("http://127.0.0.1:5000/v2/a/b/blobs/uploads/u2?{q}"),
            ),
            (
                "u3?s=1",
                format!("http://127.0.0.1:5000/v2/a/b/blobs/uploads/u3?s=1&{q}"),
            ),
            (
                "https://cdn.example/up?sig=a%2Bb",
                format!("https://cdn.example/up?sig=a%2Bb&{q}"),
            ),
        ];
        for (location, want) in cases {
            assert_eq!(
                upload_url(base, post, location, &d).as_deref(),
                Some(want.as_str()),
                "{location}"
            );
        }
    }

    #[test]
    fn link_headers() {
        let cases = [
            (
                r#"</v2/a/tags/list?n=2&last=b>; rel="next""#,
                Some("/v2/a/tags/list?n=2&last=b"),
            ),
            (
                r#"<https://r.io/v2/a/tags/list?last=c>; rel="next""#,
                Some("/v2/a/tags/list?last=c"),
            ),
            (r#"</x>; rel="prev""#, None),
            ("garbage", None),
        ];
        for (header, want) in cases {
            assert_eq!(next_link(header).as_deref(), want, "{header}");
        }
    }

    #[test]
    fn media_type_from_header_or_body() {
        let mut headers = HeaderMap::new();
        let body = br#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#;
        assert_eq!(
            media_type_of(&headers, body).as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        headers.insert(
            CONTENT_TYPE,
            "application/vnd.oci.image.manifest.v1+json; charset=x"
                .parse()
                .expect("hv"),
        );
        assert_eq!(
            media_type_of(&headers, body).as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(media_type_of(&HeaderMap::new(), b"{}"), None);
    }

    #[test]
    fn credential_precedence_and_plain_http() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = r#"{"auths":{"r.io":{"username":"cfg","password":"p"},"other.io":{"username":"o","password":"p"}}}"#;
        std::fs::write(dir.path().join("config.json"), config).expect("write");
        let options = |explicit: Option<&str>, env: Option<&str>| RegistryOptions {
            credentials: explicit.map(|u| Credentials::new(u, "hidden-pw")),
            env_credentials: env.map(|u| Credentials::new(u, "hidden-pw")),
            docker_config_dir: Some(dir.path().to_owned()),
            insecure_registries: vec!["lab.internal:5000".into()],
            ..Default::default()
        };
        let user = |c: &RegistryClient, registry: &str| {
            c.credentials_for(registry).map(|c| c.username.clone())
        };
        let all = RegistryClient::new(options(Some("cli"), Some("env"))).expect("client");
        assert_eq!(user(&all, "r.io").as_deref(), Some("cli"));
        let env = RegistryClient::new(options(None, Some("env"))).expect("client");
        assert_eq!(user(&env, "r.io").as_deref(), Some("env"));
        let cfg = RegistryClient::new(options(None, None)).expect("client");
        assert_eq!(user(&cfg, "r.io").as_deref(), Some("cfg"));
        assert_eq!(user(&cfg, "other.io").as_deref(), Some("o"));
        assert_eq!(user(&cfg, "third.io"), None);
        assert!(cfg.plain_http_allowed("lab.internal:5000"));
        assert!(cfg.plain_http_allowed("127.0.0.1:5000"));
        assert!(!cfg.plain_http_allowed("lab.internal:5001"));
        assert!(!cfg.plain_http_allowed("r.io"));
        // Nothing secret in Debug output.
        let debug = format!("{all:?} {cfg:?}");
        assert!(
            !debug.contains("hidden-pw") && !debug.contains("\"p\""),
            "{debug}"
        );
    }

    #[test]
    fn bad_ca_file_fails_at_construction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").expect("write");
        for path in [not_pem, dir.path().join("missing.pem")] {
            let err = RegistryClient::new(RegistryOptions {
                ca_files: vec![path.clone()],
                ..Default::default()
            })
            .expect_err("bad CA file");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
    }

    #[test]
    fn client_is_shareable_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RegistryClient>();
    }

    #[test]
    fn origins() {
        let base = "http://127.0.0.1:5000";
        let cases = [
            ("http://127.0.0.1:5000/v2/a/blobs/uploads/u?x=1", true),
            ("http://127.0.0.1:5001/v2/a/blobs/uploads/u", false),
            ("https://127.0.0.1:5000/v2/", false),
            ("http://storage.example/obj", false),
            ("not a url", false),
        ];
        for (url, want) in cases {
            assert_eq!(same_origin(url, base), want, "{url}");
        }
        assert!(same_origin("https://r.io:443/x", "https://r.io"));
    }
}

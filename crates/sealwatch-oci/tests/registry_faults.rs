//! Registry failures a real registry won't produce on demand: a server that hangs, 503s with
//! `Retry-After`, lying digests, oversized answers, a bearer-token realm, relative upload locations,
//! a native referrers API. Each is a tiny HTTP/1.1 responder on a loopback port, owned by the test.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sealwatch_oci::registry::{BlobContent, Credentials, RegistryClient, RegistryOptions};
use sealwatch_oci::{Digest, Error, Reference};

/// The longest a fake server runs, whatever the test does (keeps every loop bounded).
const SERVER_LIFETIME_POLLS: usize = 6000; // x 5 ms = 30 s
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// Path and query, as sent.
    path: String,
    head: String,
    /// How many earlier requests had the same method and path.
    nth: usize,
}

enum Reply {
    Raw(Vec<u8>),
    /// Keep the connection open and never answer.
    Hang,
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Raw(bytes)
}

/// A loopback HTTP responder; stops (and closes every connection) when dropped.
struct FakeRegistry {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRegistry {
    fn start(respond: impl Fn(&Request) -> Reply + Send + 'static) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop2, log2) = (Arc::clone(&stop), Arc::clone(&log));
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let mut counts: HashMap<String, usize> = HashMap::new();
            for _ in 0..SERVER_LIFETIME_POLLS {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(POLL);
                    continue;
                };
                let Some(request) = read_request(&stream, &mut counts) else {
                    continue;
                };
                log2.lock().expect("log").push(request.clone());
                match respond(&request) {
                    Reply::Raw(bytes) => {
                        let mut stream = stream;
                        let _ = stream.write_all(&bytes);
                    }
                    Reply::Hang => held.push(stream),
                }
            }
            drop(held);
        });
        FakeRegistry {
            addr,
            stop,
            log,
            thread: Some(thread),
        }
    }

    fn reference(&self, repo_and_tag: &str) -> Reference {
        format!("{}/{repo_and_tag}", self.addr)
            .parse()
            .expect("reference")
    }

    fn hits(&self, method: &str, path_prefix: &str) -> Vec<Request> {
        let log = self.log.lock().expect("log");
        log.iter()
            .filter(|r| r.method == method && r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read one request head (bounded); `None` for anything that is not HTTP (e.g. a TLS hello, which
/// makes the client's HTTPS probe fail and fall back to plain HTTP on loopback).
fn read_request(mut stream: &TcpStream, counts: &mut HashMap<String, usize>) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if !head.starts_with(b"GET ")
            && !head.starts_with(b"HEAD ")
            && !head.starts_with(b"PUT ")
            && !head.starts_with(b"POST ")
            && !head.starts_with(b"DELETE ")
            && head.len() >= 7
        {
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut first = text.lines().next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    // Drain a request body (uploads), bounded, so the client is not reset mid-send.
    if let Some(len) = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
    {
        let split = text.find("\r\n\r\n").map_or(head.len(), |i| i + 4);
        let mut remaining = len.saturating_sub(head.len() - split).min(16 << 20);
        while remaining > 0 {
            let n = stream.read(&mut buf[..remaining.min(4096)]).ok()?;
            if n == 0 {
                break;
            }
            remaining -= n;
        }
    }
    let key = format!("{method} {path}");
    let nth = *counts.get(&key).unwrap_or(&0);
    counts.insert(key, nth + 1);
    Some(Request {
        method,
        path,
        head: text,
        nth,
    })
}

fn fast_options() -> RegistryOptions {
    RegistryOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry_base_delay: Duration::from_millis(10),
        max_retry_delay: Duration::from_millis(100),
        ..Default::default()
    }
}

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn v2_ok(req: &Request) -> Option<Reply> {
    (req.path == "/v2/").then(|| response("200 OK", &[], b"{}"))
}

#[test]
fn retries_503_with_retry_after_then_succeeds() {
    let digest = Digest::sha256_of(MANIFEST).to_string();
    let server = FakeRegistry::start(move |req| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        if req.nth < 2 {
            return response("503 Service Unavailable", &[("Retry-After", "0")], b"");
        }
        response(
            "200 OK",
            &[
                ("Content-Type", OCI_MANIFEST),
                ("Docker-Content-Digest", &digest),
            ],
            MANIFEST,
        )
    });
    let client = RegistryClient::new(fast_options()).expect("client");
    let fetched = client
        .fetch_manifest(&server.reference("x/y:1"))
        .expect("third attempt succeeds");
    assert_eq!(fetched.digest, Digest::sha256_of(MANIFEST));
    assert_eq!(fetched.media_type.as_deref(), Some(OCI_MANIFEST));
    assert_eq!(server.hits("GET", "/v2/x/y/manifests/1").len(), 3);
}

#[test]
fn gives_up_after_the_retry_bound() {
    let server = FakeRegistry::start(|req| {
        v2_ok(req).unwrap_or_else(|| {
            response("503 Service Unavailable", &[("Retry-After", "0")], b"busy")
        })
    });
    let client = RegistryClient::new(RegistryOptions {
        max_retries: 2,
        ..fast_options()
    })
    .expect("client");
    let err = client
        .fetch_manifest(&server.reference("x/y:1"))
        .expect_err("always 503");
    assert!(
        matches!(err, Error::RegistryStatus { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(
        server.hits("GET", "/v2/x/y/manifests/1").len(),
        3,
        "one try and two retries"
    );
}

#[test]
fn hanging_registry_times_out() {
    let server = FakeRegistry::start(|_| Reply::Hang);
    let timeout = Duration::from_millis(700);
    let client = RegistryClient::new(RegistryOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        ..fast_options()
    })
    .expect("client");
    let err = client
        .fetch_manifest(&server.reference("x/y:1"))
        .expect_err("hangs");
    match &err {
        Error::RegistryTimeout {
            timeout: t,
            registry,
            ..
        } => {
            assert_eq!(*t, timeout);
            assert_eq!(registry, &server.addr.to_string());
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("did not answer"), "{err}");
}

#[test]
fn lying_registry_is_caught() {
    let blob = b"ten bytes!".to_vec();
    let blob_digest = Digest::sha256_of(&blob);
    let wrong = Digest::sha256_of(b"something else").to_string();
    let server = FakeRegistry::start(move |req| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        match req.path.as_str() {
            // A manifest whose announced digest is not its content's.
            "/v2/x/y/manifests/lies" => response(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST),
                    ("Docker-Content-Digest", &wrong),
                ],
                MANIFEST,
            ),
            // A manifest with no Content-Length and a body over the limit (read until close).
            "/v2/x/y/manifests/huge" => {
                let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\r\n".to_vec();
                raw.extend(std::iter::repeat_n(b' ', 64 * 1024));
                Reply::Raw(raw)
            }
            // A blob far longer than its descriptor says.
            p if p.starts_with("/v2/x/y/blobs/") => response("200 OK", &[], &vec![b'z'; 1 << 20]),
            _ => response("404 Not Found", &[], b"404 page not found"),
        }
    });
    let client = RegistryClient::new(RegistryOptions {
        max_manifest_size: 4096,
        ..fast_options()
    })
    .expect("client");
    let err = client
        .fetch_manifest(&server.reference("x/y:lies"))
        .expect_err("announced digest lies");
    assert!(
        matches!(err, Error::ManifestDigestMismatch { .. }),
        "{err:?}"
    );
    let err = client
        .fetch_manifest(&server.reference("x/y:huge"))
        .expect_err("too large");
    assert!(
        matches!(err, Error::ManifestTooLarge { limit: 4096, .. }),
        "{err:?}"
    );
    let mut out = Vec::new();
    let err = client
        .pull_blob(&server.reference("x/y:1"), &blob_digest, 10, &mut out)
        .expect_err("overlong blob");
    assert!(
        matches!(err, Error::SizeMismatch { expected: 10, .. }),
        "{err:?}"
    );
    // The reader stopped one byte past the declared size, long before the megabyte.
    assert!(out.len() <= 64 * 1024, "wrote {} bytes", out.len());
}

#[test]
fn bearer_token_flow_with_basic_credentials() {
    let digest = Digest::sha256_of(MANIFEST).to_string();
    let server_addr = Arc::new(Mutex::new(String::new()));
    let addr_for_server = Arc::clone(&server_addr);
    let server = FakeRegistry::start(move |req| {
        let realm = format!("http://{}/token", addr_for_server.lock().expect("addr"));
        let auth = req
            .head
            .lines()
            .find_map(|l| {
                l.strip_prefix("authorization: ")
                    .or_else(|| l.strip_prefix("Authorization: "))
            })
            .unwrap_or("")
            .to_owned();
        if req.path.starts_with("/token?") {
            // "alice:s3cret"
            if auth == "Basic YWxpY2U6czNjcmV0"
                && req.path.contains("scope=repository%3Ax%2Fy%3Apull")
            {
                return response(
                    "200 OK",
                    &[("Content-Type", "application/json")],
                    br#"{"token":"tok123","expires_in":300}"#,
                );
            }
            return response("401 Unauthorized", &[], b"");
        }
        if auth == "Bearer tok123" {
            return response(
                "200 OK",
                &[
                    ("Content-Type", OCI_MANIFEST),
                    ("Docker-Content-Digest", &digest),
                ],
                MANIFEST,
            );
        }
        let challenge =
            format!(r#"Bearer realm="{realm}",service="fake",scope="repository:x/y:pull""#);
        response(
            "401 Unauthorized",
            &[
                ("WWW-Authenticate", &challenge),
                ("Content-Type", "application/json"),
            ],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
    });
    *server_addr.lock().expect("addr") = server.addr.to_string();

    let client = RegistryClient::new(RegistryOptions {
        credentials: Some(Credentials::new("alice", "s3cret")),
        ..fast_options()
    })
    .expect("client");
    let target = server.reference("x/y:1");
    assert_eq!(
        client
            .fetch_manifest(&target)
            .expect("with token")
            .digest
            .to_string(),
        Digest::sha256_of(MANIFEST).to_string()
    );
    client.fetch_manifest(&target).expect("again");
    assert_eq!(
        server.hits("GET", "/token?").len(),
        1,
        "the token is cached per scope"
    );

    let wrong = RegistryClient::new(RegistryOptions {
        credentials: Some(Credentials::new("alice", "nope")),
        ..fast_options()
    })
    .expect("client");
    let err = wrong.fetch_manifest(&target).expect_err("token refused");
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("authentication failed for {}/x/y", server.addr)),
        "{err}"
    );
}

#[test]
fn upload_with_relative_location_appends_the_digest() {
    let server = FakeRegistry::start(|req| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        match req.method.as_str() {
            "HEAD" => response("404 Not Found", &[], b""),
            "POST" => response(
                "202 Accepted",
                &[("Location", "/v2/x/y/blobs/uploads/u1?_state=abc")],
                b"",
            ),
            "PUT"
                if req
                    .path
                    .starts_with("/v2/x/y/blobs/uploads/u1?_state=abc&digest=sha256%3A") =>
            {
                response("201 Created", &[], b"")
            }
            _ => response(
                "400 Bad Request",
                &[],
                br#"{"errors":[{"code":"DIGEST_INVALID","message":"bad"}]}"#,
            ),
        }
    });
    let client = RegistryClient::new(fast_options()).expect("client");
    let bytes: Arc<[u8]> = Arc::from(&b"layer bytes"[..]);
    let digest = Digest::sha256_of(&bytes);
    assert!(client
        .push_blob(
            &server.reference("x/y:1"),
            &digest,
            &BlobContent::Bytes(bytes)
        )
        .expect("upload"));
    let puts = server.hits("PUT", "/v2/x/y/blobs/uploads/u1");
    assert_eq!(puts.len(), 1);
    assert!(
        puts[0]
            .path
            .ends_with(&format!("digest=sha256%3A{}", digest.hex())),
        "{}",
        puts[0].path
    );
    assert!(puts[0]
        .head
        .to_ascii_lowercase()
        .contains("content-type: application/octet-stream"));
}

#[test]
fn native_referrers_api_and_its_failures() {
    let subject = Digest::sha256_of(MANIFEST);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":10,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}]}}"#,
        Digest::sha256_of(b"sig")
    );
    let server = FakeRegistry::start(move |req| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        if req.path.starts_with("/v2/with/api/referrers/") {
            return response(
                "200 OK",
                &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                index.as_bytes(),
            );
        }
        if req.path.starts_with("/v2/broken/referrers/") {
            return response("500 Internal Server Error", &[], b"oops");
        }
        response("404 Not Found", &[], b"404 page not found")
    });
    let client = RegistryClient::new(RegistryOptions {
        max_retries: 0,
        ..fast_options()
    })
    .expect("client");
    let found = client
        .referrers(&server.reference("with/api:1"), &subject, None)
        .expect("referrers")
        .expect("some");
    assert_eq!(found.manifests.len(), 1);
    assert_eq!(
        found.manifests[0].artifact_type.as_deref(),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    assert_eq!(
        client
            .referrers(&server.reference("no/api:1"), &subject, None)
            .expect("absent"),
        None
    );
    let err = client
        .referrers(&server.reference("broken:1"), &subject, None)
        .expect_err("a failure is not 'none'");
    assert!(
        matches!(err, Error::RegistryStatus { status: 500, .. }),
        "{err:?}"
    );
}

#[test]
fn blob_redirect_to_another_host_is_followed_without_credentials() {
    let blob = b"blob behind a redirect".to_vec();
    let digest = Digest::sha256_of(&blob);
    let storage = FakeRegistry::start(move |_| response("200 OK", &[], &blob));
    let location = format!("http://{}/storage/object?sig=abc", storage.addr);
    let registry = FakeRegistry::start(move |req| {
        if let Some(r) = v2_ok(req) {
            return r;
        }
        if !req
            .head
            .to_ascii_lowercase()
            .contains("authorization: basic")
        {
            return response(
                "401 Unauthorized",
                &[("WWW-Authenticate", r#"Basic realm="fake""#)],
                b"",
            );
        }
        response("307 Temporary Redirect", &[("Location", &location)], b"")
    });
    let client = RegistryClient::new(RegistryOptions {
        credentials: Some(Credentials::new("bob", "pw")),
        ..fast_options()
    })
    .expect("client");
    let mut out = Vec::new();
    let n = client
        .pull_blob(&registry.reference("x/y:1"), &digest, 22, &mut out)
        .expect("pull through redirect");
    assert_eq!(n, 22);
    let fetched = storage.hits("GET", "/storage/object?sig=abc");
    assert_eq!(fetched.len(), 1);
    assert!(
        !fetched[0]
            .head
            .to_ascii_lowercase()
            .contains("authorization"),
        "credentials leaked to the redirect target: {}",
        fetched[0].head
    );
}

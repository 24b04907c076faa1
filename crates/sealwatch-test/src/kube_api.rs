//! A stand-in for the Kubernetes API server, for the one call sealwatch makes to it:
//! `GET /api/v1/namespaces/NAME` (namespace labels for `namespaceSelector`).
//!
//! There is no kube-apiserver on the build machines (reference/admission.md §2.4), so this
//! loopback HTTPS server answers that request the way the real one does: the Namespace JSON
//! for a known namespace, a `Status` with 404 for an unknown one, and 401 unless the request
//! carries the expected bearer token. Its certificate is self-signed for 127.0.0.1; clients
//! trust it through [`StandInApiServer::ca_pem`], as a Pod trusts the cluster CA. One thread
//! serves connections one at a time (`Connection: close`) and is stopped and joined on drop.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The label the API server puts on every namespace.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A running stand-in API server (see the module comment).
pub struct StandInApiServer {
    address: SocketAddr,
    ca_pem: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("listen on 127.0.0.1: {0}")]
    Listen(#[from] std::io::Error),
}

/// The Namespace object the real API server returns for `kubectl get ns NAME -o json`.
pub fn namespace_json(name: &str, labels: &BTreeMap<String, String>) -> Value {
    let mut labels = labels.clone();
    labels.insert(NAME_LABEL.to_owned(), name.to_owned());
    json!({
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": "0b7c5e7e-5f6c-4a43-9d0e-6f1f0f3e6c11",
            "resourceVersion": "512",
            "creationTimestamp": "2026-11-27T10:00:00Z",
            "labels": labels,
            "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1"}],
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

impl StandInApiServer {
    /// Starts the server with `namespaces` (name → labels) and the token it accepts.
    pub fn start(
        namespaces: &[(&str, &[(&str, &str)])],
        token: &str,
    ) -> Result<StandInApiServer, StandInError> {
        let namespaces: BTreeMap<String, Value> = namespaces
            .iter()
            .map(|(name, labels)| {
                let labels = labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                ((*name).to_owned(), namespace_json(name, &labels))
            })
            .collect();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .map_err(|e| StandInError::Certificate(e.to_string()))?;
        let ca_pem = certified.cert.pem();
        let certificate = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| StandInError::Certificate(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(certified.signing_key.serialize_pem().as_bytes())
            .map_err(|e| StandInError::Certificate(e.to_string()))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)?;
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let expected = format!("Bearer {token}");
        let thread = {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    requests.fetch_add(1, Ordering::SeqCst);
                    // A client that goes away mid-request is its own problem, not the server's.
                    let _ = serve(stream, Arc::clone(&config), &namespaces, &expected);
                }
            })
        };
        Ok(StandInApiServer {
            address,
            ca_pem,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.address.port())
    }

    /// The PEM certificate clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Connections accepted so far (each carries one request).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for StandInApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    namespaces: &BTreeMap<String, Value>,
    expected_authorization: &str,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    // The request head; bodies are not expected on GET.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if tls.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let authorized = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("authorization") && value.trim() == expected_authorization
        })
    });
    let path = request_line.split(' ').nth(1).unwrap_or_default();
    let (code, body) = match (request_line.starts_with("GET "), authorized) {
        (_, false) => (401, status(401, "Unauthorized", "Unauthorized")),
        (false, true) => (405, status(405, "MethodNotAllowed", "only GET")),
        (true, true) => match path
            .strip_prefix("/api/v1/namespaces/")
            .and_then(|name| namespaces.get(name).map(|object| (name, object)))
        {
            Some((_, object)) => (200, object.clone()),
            None => (
                404,
                status(404, "NotFound", &format!("namespaces {path:?} not found")),
            ),
        },
    };
    let body = body.to_string();
    let reason = match code {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    write!(
        tls,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}

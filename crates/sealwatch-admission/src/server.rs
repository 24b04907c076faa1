//! The HTTPS server: routes, request limits, TLS, graceful shutdown and policy reload.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::engine::Admission;
use crate::files::{fingerprint, load_policy_path};
use crate::review::{decode_review, Phase};
use crate::Error;

/// Server settings (TLS material is passed separately, see [`tls_config`]).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest request body accepted (413 above). The API server sends at most a few MiB.
    pub max_body_bytes: usize,
    /// Budget when the request has no `?timeout=` (the Kubernetes default webhook timeout).
    pub default_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Policy file or folder to watch for changes, and how often to look.
    pub policy_path: Option<PathBuf>,
    pub reload_interval: Duration,
    /// Write one JSON log line per review to stderr.
    pub log_requests: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            max_body_bytes: 4 * 1024 * 1024,
            default_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(25),
            policy_path: None,
            reload_interval: Duration::from_secs(3),
            log_requests: true,
        }
    }
}

/// One structured (JSON) log line on stderr.
pub fn log(level: &str, message: &str, fields: Value) {
    let mut line = json!({
        "ts": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "level": level,
        "msg": message,
    });
    if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    eprintln!("{line}");
}

/// A rustls server configuration from PEM certificate chain and private key (HTTP/1.1 only).
pub fn tls_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Tls {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Tls {
            path: cert_path.to_owned(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| Error::Tls {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::TlsConfig)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(Error::TlsConfig)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads the certificate and key files and builds the TLS configuration.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, Error> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
    };
    tls_config(&read(cert)?, &read(key)?, cert, key)
}

struct State {
    admission: Arc<Admission>,
    config: ServerConfig,
    shutting_down: AtomicBool,
}

/// A bound webhook server; [`Webhook::run`] serves until the shutdown future completes.
pub struct Webhook {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
}

impl Webhook {
    pub async fn bind(
        config: ServerConfig,
        tls: Arc<rustls::ServerConfig>,
        admission: Arc<Admission>,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                address: config.listen.to_string(),
                source,
            })?;
        Ok(Webhook {
            listener,
            acceptor: TlsAcceptor::from(tls),
            state: Arc::new(State {
                admission,
                config,
                shutting_down: AtomicBool::new(false),
            }),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then stops accepting, reports not-ready, and waits
    /// up to the grace period for in-flight requests to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Webhook {
            listener,
            acceptor,
            state,
        } = self;
        let reloader = state
            .config
            .policy_path
            .clone()
            .map(|path| tokio::spawn(watch_policies(Arc::clone(&state), path)));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _peer)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let state = Arc::clone(&state);
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                        let Ok(Ok(tls)) = handshake.await else { return };
                        let service = hyper::service::service_fn(move |request| {
                            let state = Arc::clone(&state);
                            async move { Ok::<_, Infallible>(handle(request, &state).await) }
                        });
                        // A client that trickles its headers must not hold a connection forever.
                        let connection = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(10))
                            .serve_connection(TokioIo::new(tls), service);
                        let _ = watcher.watch(connection).await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        state.shutting_down.store(true, Ordering::SeqCst);
        drop(listener);
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        let in_flight = graceful.count();
        let finished = tokio::time::timeout(state.config.shutdown_grace, graceful.shutdown())
            .await
            .is_ok();
        log(
            "info",
            "shut down",
            json!({"connections": in_flight, "graceful": finished}),
        );
    }
}

async fn watch_policies(state: Arc<State>, path: PathBuf) {
    let mut last = fingerprint(&path).ok();
    loop {
        tokio::time::sleep(state.config.reload_interval).await;
        let probe = path.clone();
        let current = tokio::task::spawn_blocking(move || fingerprint(&probe).ok())
            .await
            .ok()
            .flatten();
        if current == last {
            continue;
        }
        last = current;
        let probe = path.clone();
        let loaded = match tokio::task::spawn_blocking(move || load_policy_path(&probe)).await {
            Ok(loaded) => loaded,
            Err(_) => continue,
        };
        let metrics = state.admission.metrics();
        match loaded {
            Ok(loaded) if !loaded.has_errors() => {
                for diagnostic in &loaded.diagnostics {
                    log(
                        "warn",
                        "policy diagnostic",
                        json!({"diagnostic": diagnostic.to_string()}),
                    );
                }
                let policies = loaded.set.policies.len();
                let version = state.admission.replace_policies(loaded.set);
                metrics.reload(true);
                log(
                    "info",
                    "policies reloaded",
                    json!({"path": path.display().to_string(), "policies": policies, "version": version}),
                );
            }
            Ok(loaded) => {
                metrics.reload(false);
                for diagnostic in &loaded.diagnostics {
                    log(
                        "error",
                        "policy diagnostic",
                        json!({"diagnostic": diagnostic.to_string()}),
                    );
                }
                log(
                    "error",
                    "policy reload rejected, the previous policies stay active",
                    json!({"path": path.display().to_string()}),
                );
            }
            Err(error) => {
                metrics.reload(false);
                log(
                    "error",
                    "policy reload failed, the previous policies stay active",
                    json!({"error": error.to_string()}),
                );
            }
        }
    }
}

/// Parses a Go duration as the API server writes it in `?timeout=` (`10s`, `1m30s`, `500ms`).
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest.get(..unit_len)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = rest.get(unit_len..)?;
        total += Duration::try_from_secs_f64(number * scale).ok()?;
    }
    Some(total)
}

/// The time left for the work: the API server's timeout less a margin to send the answer.
fn budget_for(query: Option<&str>, default: Duration) -> Duration {
    let timeout = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("timeout="))
        .and_then(parse_go_duration)
        .unwrap_or(default);
    let margin = (timeout / 10).min(Duration::from_secs(1));
    timeout.saturating_sub(margin)
}

fn text_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn rejected(state: &State, status: StatusCode, message: String) -> Response<Full<Bytes>> {
    state.admission.metrics().rejected(status.as_u16());
    text_response(status, format!("{message}\n"))
}

/// Largest rejected body that is still read to the end so that the client gets its 413.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Read and discard at most `max` bytes of `body`, within `budget`.
async fn drain(mut body: Incoming, max: u64, budget: Duration) {
    let _ = tokio::time::timeout(budget, async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen >= max {
                break;
            }
        }
    })
    .await;
}

async fn handle(request: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let phase = match request.uri().path() {
        "/mutate" => Phase::Mutate,
        "/validate" => Phase::Validate,
        "/healthz" if request.method() == Method::GET => {
            return text_response(StatusCode::OK, "ok\n".into())
        }
        "/readyz" if request.method() == Method::GET => {
            return if state.shutting_down.load(Ordering::SeqCst) {
                text_response(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into())
            } else {
                text_response(StatusCode::OK, "ready\n".into())
            };
        }
        "/metrics" if request.method() == Method::GET => {
            let policies = state.admission.policies().set.policies.len();
            let mut response =
                text_response(StatusCode::OK, state.admission.metrics().render(policies));
            response.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return response;
        }
        "/healthz" | "/readyz" | "/metrics" => {
            return rejected(state, StatusCode::METHOD_NOT_ALLOWED, "use GET".into())
        }
        path => {
            return rejected(
                state,
                StatusCode::NOT_FOUND,
                format!("no such path {path:?}"),
            )
        }
    };
    if request.method() != Method::POST {
        return rejected(
            state,
            StatusCode::METHOD_NOT_ALLOWED,
            "AdmissionReview requests use POST".into(),
        );
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return rejected(
            state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {content_type:?}, expected application/json"),
        );
    }
    let limit = state.config.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let budget = budget_for(request.uri().query(), state.config.default_timeout);
    if let Some(length) = declared.filter(|length| *length > limit as u64) {
        // Read (and drop) a moderately oversized body before answering: a client still sending would
        // otherwise see the connection reset instead of our 413. Huge ones are refused at once.
        if length <= DRAIN_LIMIT {
            drain(request.into_body(), length, budget).await;
        }
        return rejected(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over the limit of {limit} bytes"),
        );
    }
    let collected =
        tokio::time::timeout(budget, Limited::new(request.into_body(), limit).collect()).await;
    let Ok(collected) = collected else {
        return rejected(
            state,
            StatusCode::REQUEST_TIMEOUT,
            "request body not received in time".into(),
        );
    };
    let body = match collected {
        Ok(body) => body.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return rejected(
                state,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over the limit of {limit} bytes"),
            )
        }
        Err(error) => {
            return rejected(
                state,
                StatusCode::BAD_REQUEST,
                format!("cannot read request body: {error}"),
            )
        }
    };
    let review = match decode_review(&body) {
        Ok(review) => review,
        Err(error) => return rejected(state, StatusCode::BAD_REQUEST, error.to_string()),
    };
    let started = Instant::now();
    let outcome = state.admission.review(phase, &review, budget).await;
    if state.config.log_requests {
        let request = &review.request;
        let field = |pointer: &str| request.pointer(pointer).cloned().unwrap_or(Value::Null);
        log(
            "info",
            "admission review",
            json!({
                "webhook": phase.as_str(),
                "uid": review.uid,
                "kind": field("/kind/kind"),
                "namespace": field("/namespace"),
                "name": field("/name"),
                "operation": field("/operation"),
                "dryRun": review.dry_run,
                "allowed": outcome.response.pointer("/response/allowed").cloned().unwrap_or(Value::Null),
                "verifications": outcome.verifications,
                "cacheHits": outcome.cache_hits,
                "durationMs": started.elapsed().as_secs_f64() * 1e3,
            }),
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(outcome.response.to_string())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let check = |text: &str, expect: Option<Duration>| {
            assert_eq!(parse_go_duration(text), expect, "{text}")
        };
        check("10s", Some(Duration::from_secs(10)));
        check("1m30s", Some(Duration::from_secs(90)));
        check("500ms", Some(Duration::from_millis(500)));
        check("1.5s", Some(Duration::from_millis(1500)));
        check("", None);
        check("10", None);
        check("s", None);
        check("10x", None);
    }

    #[test]
    fn budget_keeps_a_margin_inside_the_api_server_timeout() {
        let default = Duration::from_secs(10);
        let check = |query: Option<&str>, expect: Duration| {
            assert_eq!(budget_for(query, default), expect, "{query:?}")
        };
        check(Some("timeout=10s"), Duration::from_secs(9));
        check(Some("a=b&timeout=30s"), Duration::from_secs(29));
        check(Some("timeout=2s"), Duration::from_millis(1800));
        check(None, Duration::from_secs(9));
        check(Some("timeout=bogus"), Duration::from_secs(9));
    }
}

//! Throwaway local registries: Debian's `docker-registry` (CNCF distribution 2.8) started on a free
//! 127.0.0.1 port with its own temp dir, stopped by PID (and process group) when dropped.
//!
//! The registry runs in its own process group, so stopping it takes any child with it, and `Drop`
//! runs on panic too; a test that fails leaves nothing running.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The registry binary (Debian package `docker-registry`).
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
/// How long a registry may take to answer `/v2/` after launch (it needs 0.04–0.2 s here).
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a stopping registry gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Attempts at a free port (another process may take the port between our probe and the launch).
const START_ATTEMPTS: usize = 3;

/// Runs the registry (`$2…`) and stops it when the test process (`$1`) is gone, so that even a test
/// binary killed with SIGKILL (where no `Drop` runs) leaves no registry behind. The registry shares
/// the watchdog's process group, which is what `Drop` signals.
const WATCHDOG: &str = r#"owner=$1; shift
"$@" & registry=$!
trap 'kill "$registry" 2>/dev/null; wait "$registry"; exit 0' TERM INT
while kill -0 "$owner" 2>/dev/null && kill -0 "$registry" 2>/dev/null; do sleep 0.2; done
kill "$registry" 2>/dev/null
wait "$registry""#;

/// Basic-auth credentials of a [`TestRegistry`] started with htpasswd.
#[derive(Clone, PartialEq, Eq)]
pub struct TestCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for TestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A running `docker-registry serve` on 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct TestRegistry {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    ca_cert: Option<PathBuf>,
    credentials: Option<TestCredentials>,
}

/// Skip (return `None` with a message) locally, fail under CI: the same rule as `require_shared`.
fn missing_tool(what: &str) -> Option<TestRegistry> {
    let msg = format!("{what} not found (apt-get install docker-registry apache2-utils openssl)");
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI is set, so this is a failure, not a skip");
    }
    eprintln!("skipping: {msg}");
    None
}

fn tool_exists(name: &str) -> bool {
    if name.contains('/') {
        return Path::new(name).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

impl TestRegistry {
    /// A plain-HTTP registry without auth. `None` (skip) when the binary is missing and `CI` is unset.
    pub fn start_plain() -> Option<TestRegistry> {
        if !tool_exists(REGISTRY_BINARY) {
            return missing_tool(REGISTRY_BINARY);
        }
        Some(Self::start(None))
    }

    /// A TLS registry (self-signed certificate for `localhost` and `127.0.0.1`, see
    /// [`TestRegistry::ca_cert_path`]) that requires basic auth with `username`/`password`.
    pub fn start_tls_htpasswd(username: &str, password: &str) -> Option<TestRegistry> {
        for tool in [REGISTRY_BINARY, "openssl", "htpasswd"] {
            if !tool_exists(tool) {
                return missing_tool(tool);
            }
        }
        let creds = TestCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        Some(Self::start(Some(creds)))
    }

    fn start(credentials: Option<TestCredentials>) -> TestRegistry {
        let dir = tempfile::Builder::new()
            .prefix("sealwatch-registry-")
            .tempdir()
            .expect("create a temp dir");
        let mut ca_cert = None;
        let mut tls_and_auth = String::new();
        if let Some(creds) = &credentials {
            let (cert, key) = make_certificate(dir.path());
            let ca_dir = dir.path().join("ca");
            std::fs::create_dir(&ca_dir).expect("create ca dir");
            std::fs::copy(&cert, ca_dir.join("ca.crt")).expect("copy certificate");
            let htpasswd = make_htpasswd(dir.path(), creds);
            tls_and_auth = format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: sealwatch-test\n    path: {}\n",
                cert.display(),
                key.display(),
                htpasswd.display()
            );
            ca_cert = Some(cert);
        }
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match launch(dir.path(), &tls_and_auth, ca_cert.is_some()) {
                Ok((child, addr)) => {
                    return TestRegistry {
                        child,
                        addr,
                        dir,
                        ca_cert,
                        credentials,
                    }
                }
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "docker-registry did not start after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT` as a registry name for image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// A folder holding only `ca.crt` (a copy of [`TestRegistry::ca_cert_path`]), the layout that
    /// skopeo's `--dest-cert-dir` and docker's `certs.d` expect (a `.key` there would be taken
    /// for a client certificate).
    pub fn ca_cert_dir(&self) -> Option<PathBuf> {
        self.ca_cert.as_ref().map(|_| self.dir.path().join("ca"))
    }

    /// The self-signed certificate to trust (`--ca-file`), for TLS registries.
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    pub fn credentials(&self) -> Option<&TestCredentials> {
        self.credentials.as_ref()
    }

    /// The registry's config file (its path is unique to this registry).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    /// The registry's storage root (`storage.filesystem.rootdirectory`).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps a blob's bytes (distribution's filesystem layout), e.g. to corrupt it.
    pub fn blob_data_path(&self, algorithm: &str, hex: &str) -> PathBuf {
        let prefix = hex.get(..2).unwrap_or(hex);
        self.storage_dir().join(format!(
            "docker/registry/v2/blobs/{algorithm}/{prefix}/{hex}/data"
        ))
    }

    /// The registry's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// PID of the watchdog shell that leads the registry's process group.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// Start `docker-registry serve` on a free port with a config in `dir`; wait until it answers.
fn launch(dir: &Path, tls_and_auth: &str, tls: bool) -> Result<(Child, SocketAddr), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.join("config.yml");
    let yaml = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: sealwatch-test-secret\n{tls_and_auth}",
        dir.join("storage").display(),
    );
    std::fs::write(&config, yaml).map_err(|e| format!("write {}: {e}", config.display()))?;
    let log_path = dir.join("registry.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("clone log handle: {e}"))?;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("sealwatch-registry-watchdog")
        .arg(std::process::id().to_string())
        .arg(REGISTRY_BINARY)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Own process group: stopping the group leaves nothing behind.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn {REGISTRY_BINARY}: {e}"))?;
    match wait_ready(&mut child, addr, tls) {
        Ok(()) => Ok((child, addr)),
        Err(why) => {
            stop_child(&mut child);
            Err(format!(
                "{why}; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            ))
        }
    }
}

/// Poll until `/v2/` answers (plain: 200; TLS: the listener accepts while our process lives), the
/// process exits, or the bound passes.
fn wait_ready(child: &mut Child, addr: SocketAddr, tls: bool) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited with {status}"));
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            // A foreign listener on the port would make our registry exit ("address in use"), so
            // a connection while our child is alive is ours.
            if tls || http_get_v2(stream).is_some_and(|status| status == 200) {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("docker-registry exited with {status}"));
                }
                return Ok(());
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Err(format!(
        "docker-registry did not answer on {addr} within {READY_TIMEOUT:?}"
    ))
}

/// SIGTERM the child's process group, SIGKILL after a bound, reap the child.
fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = child.id();
    // Signal the group only while the PID is still our registry (it cannot be reused before we
    // reap it, but a wrong group kill would hit unrelated processes, so check anyway).
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains("docker-registry") {
        let group = format!("-{pid}");
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Send `GET /v2/` over a fresh plain connection and return the status code.
fn http_get_v2(mut stream: TcpStream) -> Option<u16> {
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream
        .write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(head.get(..n)?).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A self-signed P-256 certificate for `localhost` and `127.0.0.1`: (cert, key).
fn make_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("registry.crt");
    let key = dir.join("registry.key");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        // A leaf, not a CA: rustls (webpki) refuses a CA certificate as the server's own certificate.
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A bcrypt htpasswd file (the registry rejects MD5 entries).
fn make_htpasswd(dir: &Path, creds: &TestCredentials) -> PathBuf {
    let path = dir.join("htpasswd");
    let out = Command::new("htpasswd")
        .arg("-Bbn")
        .arg(&creds.username)
        .arg(&creds.password)
        .stdin(Stdio::null())
        .output()
        .expect("run htpasswd");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&path, &out.stdout).expect("write htpasswd");
    path
}

//! The loopback Sigstore stand-in (`shared/conformance/sigstore/stand-in/server.js`: Fulcio, Rekor
//! v1 and a TSA around the npm package `@sigstore/mock`), started on a free 127.0.0.1 port for
//! keyless-signing tests and stopped by PID when dropped. Every start makes a new CA and log, so
//! its `trusted_root.json` is only good for what was signed while it ran.
//!
//! Needs `node` and `@sigstore/mock@0.12.1` installed where `NODE_PATH` points, or in
//! `$HOME/.cache/sealwatch/stand-in-npm/node_modules` (what `scripts/setup.sh` does).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::registry::free_port;

/// How long the stand-in may take to write `server.pid` (start-up is well under a second).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The stand-in ends itself after this many seconds even if nothing stops it.
const LIFETIME_SECONDS: u32 = 600;
const START_ATTEMPTS: usize = 3;

/// A running stand-in; the trust files are in [`TestStandIn::dir`].
#[derive(Debug)]
pub struct TestStandIn {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// The folder holding `node_modules/@sigstore/mock`, if installed.
fn node_path() -> Option<PathBuf> {
    let candidates = std::env::var_os("NODE_PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/sealwatch/stand-in-npm/node_modules")),
        );
    candidates
        .into_iter()
        .find(|dir| dir.join("@sigstore/mock/package.json").is_file())
}

fn skip_or_fail(msg: &str) -> Option<TestStandIn> {
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI is set, so this is a failure, not a skip");
    }
    eprintln!("skipping: {msg}");
    None
}

impl TestStandIn {
    /// Start it with the given token subject and issuer. `None` (skip) when node, the npm
    /// package or `shared/` is missing and `CI` is unset.
    pub fn start(subject: &str, issuer: &str) -> Option<TestStandIn> {
        let server = crate::require_shared("conformance/sigstore/stand-in/server.js")?;
        let Some(node_path) = node_path() else {
            return skip_or_fail(
                "@sigstore/mock not installed (npm install --prefix ~/.cache/sealwatch/stand-in-npm @sigstore/mock@0.12.1)",
            );
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match launch(&server, &node_path, subject, issuer) {
                Ok(stand_in) => return Some(stand_in),
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "the Sigstore stand-in did not start after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// `http://127.0.0.1:PORT`: the Fulcio and Rekor base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The folder with `trusted_root.json`, `signing_config.json`, `trust_config.json`, `token.txt`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `trusted_root.json` of this instance.
    pub fn trusted_root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    /// The identity token file (an unsigned JWT the mock Fulcio accepts).
    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("token.txt")
    }

    /// The server's log (one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

fn launch(
    server: &Path,
    node_path: &Path,
    subject: &str,
    issuer: &str,
) -> Result<TestStandIn, String> {
    let dir = tempfile::Builder::new()
        .prefix("sealwatch-stand-in-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let port = free_port();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("create log: {e}"))?;
    let out = dir.path().to_path_buf();
    let mut child = Command::new("node")
        .arg(server)
        .args([
            "--port",
            &port.to_string(),
            "--lifetime",
            &LIFETIME_SECONDS.to_string(),
        ])
        .arg("--out")
        .arg(&out)
        .args(["--subject", subject, "--issuer", issuer])
        .env("NODE_PATH", node_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn node: {e}"))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "stand-in exited with {status}; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            ));
        }
        // server.pid is written last: every trust file is complete once it exists.
        if std::fs::metadata(out.join("server.pid")).is_ok_and(|m| m.len() > 0) {
            return Ok(TestStandIn { child, port, dir });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(&mut child);
    Err("stand-in did not write server.pid in time".into())
}

/// SIGTERM by PID (the server removes server.pid and exits), SIGKILL after a bound; reap.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for TestStandIn {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

//! The registry harness itself: it starts real registries that answer, and leaves nothing running.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sealwatch_test::registry::TestRegistry;

/// PIDs of live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            // Zombies are dead, only waiting to be reaped.
            String::from_utf8_lossy(&cmdline).contains(needle) && !status.contains("State:\tZ")
        })
        .collect()
}

fn is_running_registry(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("docker-registry"))
}

fn get_v2_status(registry: &TestRegistry) -> Option<u16> {
    let mut stream = TcpStream::connect(registry.addr()).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /v2/ HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    std::str::from_utf8(head.get(..n)?)
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn plain_registry_answers_and_is_stopped_on_drop() {
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let pid = registry.pid();
    assert!(registry.addr().ip().is_loopback());
    assert!(is_running_registry(pid));
    assert_eq!(
        get_v2_status(&registry),
        Some(200),
        "log: {}",
        registry.log()
    );
    assert!(registry.ca_cert_path().is_none());
    let config = std::fs::read_to_string(registry.config_path()).expect("config");
    assert!(config.contains("delete:\n    enabled: true"), "{config}");
    drop(registry);
    assert!(
        !is_running_registry(pid),
        "registry {pid} still running after drop"
    );
}

#[test]
fn two_registries_get_different_ports() {
    let (Some(a), Some(b)) = (TestRegistry::start_plain(), TestRegistry::start_plain()) else {
        return;
    };
    assert_ne!(a.addr(), b.addr());
    assert_eq!(
        (get_v2_status(&a), get_v2_status(&b)),
        (Some(200), Some(200))
    );
}

#[test]
fn tls_registry_has_a_certificate_and_bcrypt_htpasswd() {
    let Some(registry) = TestRegistry::start_tls_htpasswd("user", "pass") else {
        return;
    };
    let pid = registry.pid();
    let cert = std::fs::read_to_string(registry.ca_cert_path().expect("cert")).expect("read cert");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    let htpasswd = std::fs::read_to_string(registry.storage_dir().with_file_name("htpasswd"))
        .expect("htpasswd");
    assert!(
        htpasswd.starts_with("user:$2y$"),
        "bcrypt entry expected: {htpasswd}"
    );
    // Plain HTTP to the TLS port is refused by the server (it speaks TLS only).
    assert_ne!(get_v2_status(&registry), Some(200));
    assert_eq!(
        registry.credentials().map(|c| c.username.as_str()),
        Some("user")
    );
    assert!(!format!("{:?}", registry.credentials()).contains("pass"));
    drop(registry);
    assert!(!is_running_registry(pid));
}

#[test]
fn a_panicking_test_still_stops_its_registry() {
    let Some(probe) = TestRegistry::start_plain() else {
        return;
    };
    drop(probe);
    let pid = std::sync::Arc::new(std::sync::Mutex::new(None));
    let pid_in_thread = std::sync::Arc::clone(&pid);
    let outcome = std::thread::spawn(move || {
        let registry = TestRegistry::start_plain().expect("binary present");
        *pid_in_thread.lock().expect("lock") = Some(registry.pid());
        panic!("simulated test failure");
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked");
    let pid = pid.lock().expect("lock").expect("registry started");
    assert!(
        !is_running_registry(pid),
        "registry {pid} survived the panic"
    );
}

/// Child mode of the next test: start a registry, print its config path, then wait to be killed.
const CHILD_ENV: &str = "SEALWATCH_TEST_HARNESS_CHILD";

#[test]
fn registry_dies_with_a_killed_test_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let registry = TestRegistry::start_plain().expect("binary present");
        println!("CONFIG={}", registry.config_path().display());
        std::io::stdout().flush().expect("flush");
        // Bounded: the parent kills us long before this ends.
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    if TestRegistry::start_plain().is_none() {
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe)
        .args([
            "--exact",
            "registry_dies_with_a_killed_test_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child test");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    // libtest may print "test NAME ... " before our line, so look for the marker anywhere.
    let config = loop {
        if let Some((_, rest)) = seen.split_once("CONFIG=") {
            if let Some((path, _)) = rest.split_once('\n') {
                break path.trim().to_owned();
            }
        }
        let n = stdout.read(&mut buf).expect("read child output");
        assert!(n > 0, "child ended before starting a registry: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    };
    assert!(
        !processes_mentioning(&config).is_empty(),
        "registry of the child is running"
    );
    child.kill().expect("SIGKILL the child test process");
    child.wait().expect("reap child");
    // The watchdog polls every 0.2 s; allow it a bounded number of polls.
    for _ in 0..100 {
        if processes_mentioning(&config).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "registry processes {:?} survived their test process",
        processes_mentioning(&config)
    );
}

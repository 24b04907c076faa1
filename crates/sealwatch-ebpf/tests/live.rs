//! Live acceptance tests: real kernel events from real processes.
//!
//! They need root and kernel BTF; without them they skip with a message (also under CI, since a
//! machine without them cannot run the source at all). Each wait is bounded (5 s per event);
//! child processes are reaped and test cgroups removed, also when an assertion fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sealwatch_ebpf::source::ActiveSource;
use sealwatch_ebpf::{LiveConfig, LiveSource, SourceKind};
use sealwatch_rules::event::{Event, ThreadInfo};
use sealwatch_rules::loader::{load_and_compile, Ruleset, Selection};

/// Live sources see the whole machine; one at a time keeps tests from seeing each other.
static SERIAL: Mutex<()> = Mutex::new(());

const WAIT: Duration = Duration::from_secs(5);

fn can_run(kind: SourceKind) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    let ok = root && (btf || kind == SourceKind::CnProc);
    if !ok {
        eprintln!("skipping live test: needs root and kernel BTF (root={root}, btf={btf})");
        return false;
    }
    if kind == SourceKind::Ebpf {
        if let Some(reason) = sealwatch_ebpf::ebpf::unavailable_reason() {
            // This machine could run eBPF but the build could not compile the programs
            // (clang/bpftool missing): a local skip, a CI failure.
            assert!(
                std::env::var_os("CI").is_none(),
                "root and BTF present but eBPF unavailable under CI: {reason}"
            );
            eprintln!("skipping live eBPF test: {reason}");
            return false;
        }
    }
    true
}

fn start(kind: SourceKind) -> LiveSource {
    let config = LiveConfig {
        kind,
        hostname: "test-host".into(),
        ..LiveConfig::default()
    };
    let source = LiveSource::start(&config).unwrap_or_else(|e| panic!("{kind:?} source: {e:?}"));
    match (kind, source.active()) {
        (SourceKind::Ebpf, ActiveSource::Ebpf)
        | (SourceKind::CnProc, ActiveSource::CnProc { .. }) => {}
        (k, a) => panic!("asked for {k:?}, got {a:?}"),
    }
    source
}

/// Reads events until `pred` holds for one, for at most `WAIT`; every event read is passed to
/// `seen` too.
fn wait_for(
    source: &mut LiveSource,
    what: &str,
    mut seen: impl FnMut(&Event),
    mut pred: impl FnMut(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match source.next_event(left) {
            Ok(Some(e)) => {
                seen(&e);
                if pred(&e) {
                    return e;
                }
            }
            Ok(None) => break,
            Err(e) => panic!("reading events: {e:?}"),
        }
    }
    panic!(
        "no event for {what} within {WAIT:?}; stats {:?}",
        source.stats()
    );
}

fn thread(e: &Event) -> &ThreadInfo {
    e.thread
        .as_deref()
        .unwrap_or_else(|| panic!("event without thread: {e:?}"))
}

fn is_exec_of(e: &Event, pid: u32, name: &str) -> bool {
    e.event_type.name() == "execve"
        && e.thread
            .as_deref()
            .is_some_and(|t| t.pid == i64::from(pid) && t.name == name)
}

fn ruleset() -> Option<Ruleset> {
    let stable = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")?;
    let seed = sealwatch_test::require_shared("conformance/falco/seed-rule.yaml")?;
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let (stable, seed) = (read(&stable), read(&seed));
    let (ruleset, diags) = load_and_compile(
        [
            ("falco_rules.yaml", stable.as_slice()),
            ("seed-rule.yaml", seed.as_slice()),
        ],
        &Selection::default(),
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    Some(ruleset)
}

/// A cgroup v2 directory named like a containerd container, removed on drop.
struct FakeContainer {
    parent: PathBuf,
    scope: PathBuf,
    id: String,
}

impl FakeContainer {
    fn create() -> FakeContainer {
        // The cgroup v2 hierarchy: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let root = mounts
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.get(2) == Some(&"cgroup2"))
            .and_then(|f| f.get(1).map(PathBuf::from))
            .unwrap_or_else(|| panic!("no cgroup2 mount in /proc/mounts"));
        let root = root.as_path();
        let me = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let id = format!(
            "{:016x}{:016x}{:016x}{:016x}",
            me,
            nanos as u64,
            0x5ea1u64,
            nanos as u64 ^ 0xabc
        );
        let parent = root.join(format!("sealwatch-test-{me}.slice"));
        let scope = parent.join(format!("cri-containerd-{id}.scope"));
        std::fs::create_dir_all(&scope)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", scope.display()));
        FakeContainer { parent, scope, id }
    }

    fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        // The processes inside have been reaped; an empty cgroup can be removed.
        let _ = std::fs::remove_dir(&self.scope);
        let _ = std::fs::remove_dir(&self.parent);
    }
}

/// Runs `script` under `sh`, reaped at the end of the test.
fn run(script: &str) -> u32 {
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn sh: {e}"));
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    pid
}

// A shell that lives a moment: cn_proc reads /proc after the exec, which loses processes that
// exited already.
const SHELL: &str = "bash -c 'sleep 1; exit 0'";

#[derive(Debug, Clone)]
struct SeenAlert {
    rule: String,
    container_id: String,
    pid: i64,
    line: String,
}

fn shell_in_container_alerts(kind: SourceKind) {
    if !can_run(kind) {
        return;
    }
    let Some(rules) = ruleset() else { return };
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut source = start(kind);
    let container = FakeContainer::create();

    let alerts: Mutex<Vec<SeenAlert>> = Mutex::default();
    let collect = |e: &Event| {
        rules.matching(e, |rule| {
            let alert = rules.alert(rule, e, "test-host");
            let t = e.thread.as_deref();
            alerts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(SeenAlert {
                    rule: rule.name.clone(),
                    container_id: t.map(|t| t.container_id.clone()).unwrap_or_default(),
                    pid: t.map_or(0, |t| t.pid),
                    line: alert.text_line(),
                });
        })
    };

    // In the container: sh moves itself into the cgroup, then becomes unshare, whose child
    // runs the shell in new mount, pid and uts namespaces.
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec unshare --mount --pid --uts --fork {SHELL}",
        container.scope.display()
    );
    run(&script);
    let exec = wait_for(&mut source, "bash in the container", collect, |e| {
        e.event_type.name() == "execve"
            && e.thread
                .as_deref()
                .is_some_and(|t| t.name == "bash" && t.container_id == container.short_id())
    });
    let t = thread(&exec);
    assert_eq!(
        t.container.as_ref().map(|c| c.runtime.as_str()),
        Some("containerd")
    );
    assert_eq!(t.exepath.rsplit('/').next(), Some("bash"), "{t:?}");
    assert_eq!(t.args, ["-c", "sleep 1; exit 0"]);
    let got = alerts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let fired: Vec<_> = got
        .iter()
        .filter(|a| a.rule == "Terminal shell in container" && a.pid == t.pid)
        .collect();
    assert_eq!(fired.len(), 1, "{got:#?}");
    assert_eq!(fired[0].container_id, container.short_id());
    assert!(fired[0].line.contains("shell=bash"), "{}", fired[0].line);

    // The same command on the host: the exec arrives, the rule stays silent.
    alerts.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let sh = run(&format!("exec {SHELL}"));
    let host = wait_for(&mut source, "bash on the host", collect, |e| {
        is_exec_of(e, sh, "bash")
    });
    assert_eq!(thread(&host).container_id, "host");
    let got = alerts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        got.iter()
            .all(|a| a.rule != "Terminal shell in container" || a.pid != i64::from(sh)),
        "{got:#?}"
    );
    // Let the container's processes finish so the cgroup can be removed.
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn ebpf_shell_in_container_alerts_and_host_does_not() {
    shell_in_container_alerts(SourceKind::Ebpf);
}

#[test]
fn cn_proc_shell_in_container_alerts_and_host_does_not() {
    shell_in_container_alerts(SourceKind::CnProc);
}

fn process_tree_three_deep(kind: SourceKind) {
    if !can_run(kind) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut source = start(kind);
    // sh (this test's child) -> bash -> sleep: the sleep's chain ends at this test process.
    let outer = run("bash -c 'sleep 1; exit 0'; exit 0");
    let exec = wait_for(
        &mut source,
        "sleep three deep",
        |_| {},
        |e| {
            e.event_type.name() == "execve"
                && e.thread.as_deref().is_some_and(|t| {
                    t.name == "sleep" && t.ancestor(2).is_some_and(|a| a.pid == i64::from(outer))
                })
        },
    );
    let t = thread(&exec);
    let me = std::process::id();
    let my_comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    let names: Vec<(&str, i64)> = (0..4)
        .filter_map(|n| t.ancestor(n))
        .map(|a| (a.name.as_str(), a.pid))
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[0].0, "sleep");
    assert_eq!(names[1].0, "bash");
    assert_eq!(names[2], ("sh", i64::from(outer)));
    assert_eq!(names[3], (my_comm.trim(), i64::from(me)));
    assert_eq!(t.ppid, names[1].1);
    assert_eq!(t.args, ["1"]);
    assert_eq!(t.uid, 0);
    assert_eq!(t.user_name.as_deref(), Some("root"));
    assert_eq!(t.container_id, "host");
}

#[test]
fn ebpf_process_tree_three_deep() {
    process_tree_three_deep(SourceKind::Ebpf);
}

#[test]
fn cn_proc_process_tree_three_deep() {
    process_tree_three_deep(SourceKind::CnProc);
}

#[test]
fn ebpf_open_of_etc_shadow() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut source = start(SourceKind::Ebpf);
    let sh = run("exec head -c 1 /etc/shadow");
    let open = wait_for(
        &mut source,
        "open of /etc/shadow",
        |_| {},
        |e| {
            matches!(e.event_type.name(), "openat" | "open" | "openat2")
                && e.fd.as_ref().is_some_and(|f| f.name == "/etc/shadow")
                && e.thread.as_deref().is_some_and(|t| t.pid == i64::from(sh))
        },
    );
    let t = thread(&open);
    assert_eq!(t.name, "head");
    assert_eq!(t.args, ["-c", "1", "/etc/shadow"]);
    assert!(open.res.is_some_and(|r| r >= 0), "{open:?}");
    assert!(open.open_flags.read && !open.open_flags.write, "{open:?}");
    assert!(
        open.arg("flags").is_some_and(|f| f.starts_with("O_RDONLY")),
        "{open:?}"
    );
    assert_eq!(open.arg("name"), Some("/etc/shadow"));
    assert_eq!(open.res_text.as_deref(), Some("SUCCESS"));
}

#[test]
fn ebpf_connect_to_loopback() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut source = start(SourceKind::Ebpf);
    let bash = run(&format!("exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'"));
    let connect = wait_for(
        &mut source,
        "connect to 127.0.0.1",
        |_| {},
        |e| {
            // glibc may first connect to nscd's unix socket; the TCP connect is the one asked for.
            e.event_type.name() == "connect"
                && e.fd.as_ref().is_some_and(|f| f.tuple.is_some())
                && e.thread
                    .as_deref()
                    .is_some_and(|t| t.pid == i64::from(bash))
        },
    );
    let fd = connect
        .fd
        .as_ref()
        .unwrap_or_else(|| panic!("no fd: {connect:?}"));
    let tuple = fd.tuple.unwrap_or_else(|| panic!("no tuple: {fd:?}"));
    assert_eq!(
        tuple.remote(),
        ("127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}")), port)
    );
    assert_eq!(connect.res, Some(0));
    assert!(
        fd.name.ends_with(&format!("->127.0.0.1:{port}")),
        "{}",
        fd.name
    );
    assert_eq!(thread(&connect).name, "bash");
    drop(listener);
}

#[test]
fn ebpf_connect_to_unix_socket_names_its_path() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("sealwatch-live-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("listener.sock");
    let listener =
        std::os::unix::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind: {e}"));
    let mut source = start(SourceKind::Ebpf);
    let py = run(&format!(
        "exec python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"{}\")'",
        path.display()
    ));
    let want = path.display().to_string();
    let connect = wait_for(
        &mut source,
        "connect to a unix socket",
        |_| {},
        |e| {
            e.event_type.name() == "connect"
                && e.fd.as_ref().is_some_and(|f| f.name == want)
                && e.thread.as_deref().is_some_and(|t| t.pid == i64::from(py))
        },
    );
    let fd = connect.fd.as_ref().unwrap_or_else(|| panic!("no fd"));
    assert_eq!(fd.fd_type.name(), "unix");
    assert_eq!(connect.res, Some(0));
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ebpf_ring_buffer_overflow_is_counted_and_the_source_keeps_working() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // One page holds two records: a burst of opens nobody reads must overflow it.
    let config = LiveConfig {
        kind: SourceKind::Ebpf,
        ring_buffer_bytes: 4096,
        ..LiveConfig::default()
    };
    let mut source = LiveSource::start(&config).unwrap_or_else(|e| panic!("{e:?}"));
    // The machine's own activity may have filled the page already (seeding /proc takes time).
    let before = source.stats().kernel_drops;
    let status = Command::new("sh")
        .args([
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do : < /etc/hostname; done",
        ])
        .status()
        .unwrap_or_else(|e| panic!("sh: {e}"));
    assert!(status.success());
    let drops = source.stats().kernel_drops;
    assert!(drops > before, "{before} then {:?}", source.stats());
    // After the overflow, records still flow (which ones depends on the machine's load: with
    // a two-record buffer on a busy machine any given event may be among the dropped).
    let records = source.stats().records;
    for _ in 0..3 {
        let got = source.next_event(WAIT).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            got.is_some(),
            "no event after overflow: {:?}",
            source.stats()
        );
    }
    assert!(source.stats().records > records);
    assert!(source.stats().kernel_drops >= drops);
}

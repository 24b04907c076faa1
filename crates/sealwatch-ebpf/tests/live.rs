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
        // The clock leads: ids are told apart by their first 12 characters (`container.id`), so
        // two containers of one test process must differ there.
        let id = format!(
            "{:016x}{:016x}{:016x}{:016x}",
            nanos as u64,
            me,
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
    // One page holds seven short records: a burst of opens nobody reads must overflow it.
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
            "i=0; while [ $i -lt 64 ]; do : < /etc/hostname; i=$((i+1)); done",
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

// ---------------------------------------------------------------------------------------------
// The other syscalls the stable ruleset looks at. Each test makes a python3 process do the
// call and checks the event's arguments and fd against what the script did.

/// Runs `code` with python3 (its pid is the process making the calls), reaped in the background.
fn run_python(code: &str) -> u32 {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn python3: {e}"));
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    pid
}

/// The names of the rules `e` fires.
fn fired(rules: &Ruleset, e: &Event) -> Vec<String> {
    let mut names = Vec::new();
    rules.matching(e, |rule| names.push(rule.name.clone()));
    names
}

fn of_pid(e: &Event, pid: u32, event_type: &str) -> bool {
    e.event_type.name() == event_type
        && e.thread.as_deref().is_some_and(|t| t.pid == i64::from(pid))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sealwatch-live-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[test]
fn ebpf_execveat_and_failed_exec() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut source = start(SourceKind::Ebpf);
    // A failing execve first (the process survives it), then fexecve, which glibc implements
    // with execveat(fd, "", ..., AT_EMPTY_PATH).
    let py = run_python(
        "import os\n\
         try:\n    os.execv('/nonexistent/sealwatch-nothing', ['x'])\n\
         except OSError:\n    pass\n\
         fd = os.open('/bin/sleep', os.O_RDONLY)\n\
         os.execve(fd, ['sleep', '0.5'], {})\n",
    );
    let failed = wait_for(
        &mut source,
        "failed execve",
        |_| {},
        |e| {
            // (Spawning python3 itself tried PATH entries that failed too: match the file.)
            of_pid(e, py, "execve") && e.arg("filename") == Some("/nonexistent/sealwatch-nothing")
        },
    );
    assert_eq!(failed.res, Some(-2));
    assert_eq!(failed.res_text.as_deref(), Some("ENOENT"));
    assert_eq!(
        failed.arg("filename"),
        Some("/nonexistent/sealwatch-nothing")
    );
    assert_eq!(
        thread(&failed).name,
        "python3",
        "the caller keeps its image"
    );
    let exec = wait_for(
        &mut source,
        "execveat of sleep",
        |_| {},
        |e| of_pid(e, py, "execveat"),
    );
    let t = thread(&exec);
    assert_eq!(t.name, "sleep");
    assert_eq!(t.args, ["0.5"]);
    assert_eq!(exec.res, Some(0));
}

#[test]
fn ebpf_accept_and_connect_name_both_ends() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port();
    let mut source = start(SourceKind::Ebpf);
    let py = run_python(&format!(
        "import socket\n\
         l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         l.bind(('127.0.0.1', {port})); l.listen(1)\n\
         c = socket.create_connection(('127.0.0.1', {port}))\n\
         a, _ = l.accept()\n"
    ));
    let mut connect = None;
    let accept = wait_for(
        &mut source,
        "accept",
        |e| {
            if of_pid(e, py, "connect") && e.fd.as_ref().is_some_and(|f| f.tuple.is_some()) {
                connect = Some(e.clone());
            }
        },
        |e| (of_pid(e, py, "accept") || of_pid(e, py, "accept4")) && e.res.is_some_and(|r| r >= 0),
    );
    let fd = accept
        .fd
        .as_ref()
        .unwrap_or_else(|| panic!("no fd: {accept:?}"));
    let tuple = fd.tuple.unwrap_or_else(|| panic!("no tuple: {fd:?}"));
    let loopback: std::net::IpAddr = [127, 0, 0, 1].into();
    assert!(tuple.is_server);
    assert_eq!(tuple.local(), (loopback, port));
    assert_eq!(tuple.remote().0, loopback);
    assert_ne!(tuple.remote().1, 0);
    assert_eq!(fd.num, accept.res.unwrap_or(-1));
    assert_eq!(fd.fd_type.name(), "ipv4");
    assert!(fd.connected);
    assert_eq!(
        fd.name,
        format!("127.0.0.1:{}->127.0.0.1:{port}", tuple.remote().1)
    );
    assert_eq!(accept.arg("tuple"), Some(fd.name.as_str()));
    // The client's connect, seen before, names the same connection from its side.
    let connect = connect.unwrap_or_else(|| panic!("no connect event before the accept"));
    let cfd = connect.fd.as_ref().unwrap_or_else(|| panic!("no fd"));
    assert_eq!(cfd.name, fd.name);
    let ct = cfd.tuple.unwrap_or_else(|| panic!("no tuple"));
    assert_eq!((ct.local(), ct.is_server), (tuple.remote(), false));
    assert_eq!(ct.l4proto.name(), "tcp");
}

#[test]
fn ebpf_ptrace_requests_fire_the_ptrace_rules() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let Some(rules) = ruleset() else { return };
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut source = start(SourceKind::Ebpf);
    let py = run_python(
        "import ctypes, os, signal, time\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]\n\
         first = os.fork()\n\
         if first == 0:\n    libc.ptrace(0, 0, None, None)\n    os._exit(0)\n\
         os.waitpid(first, 0)\n\
         child = os.fork()\n\
         if child == 0:\n    time.sleep(3)\n    os._exit(0)\n\
         time.sleep(0.2)\n\
         libc.ptrace(16, child, None, None)\n\
         os.waitpid(child, 0)\n\
         libc.ptrace(17, child, None, None)\n\
         os.kill(child, signal.SIGKILL)\n\
         os.waitpid(child, 0)\n",
    );
    let mut traceme = None;
    let mut forked = Vec::new();
    let attach = wait_for(
        &mut source,
        "PTRACE_ATTACH",
        |e| {
            // (A python3 found through a wrapper script forks before it is python3.)
            if of_pid(e, py, "clone") && thread(e).name == "python3" {
                forked.extend(e.res);
            }
            if e.event_type.name() == "ptrace" && e.arg("request") == Some("PTRACE_TRACEME") {
                let parent = e.thread.as_deref().map_or(0, |t| t.ppid);
                if parent == i64::from(py) {
                    traceme = Some(e.clone());
                }
            }
        },
        |e| of_pid(e, py, "ptrace") && e.arg("request") == Some("PTRACE_ATTACH"),
    );
    let child: i64 = attach
        .arg("pid")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid arg: {attach:?}"));
    assert_eq!(attach.res, Some(0), "{attach:?}");
    assert!(fired(&rules, &attach).contains(&"PTRACE attached to process".to_owned()));
    let traceme = traceme.unwrap_or_else(|| panic!("no PTRACE_TRACEME from the child"));
    // Both are the script's children: the first asked to be traced, the second was attached.
    assert_eq!(forked.len(), 2, "{forked:?}");
    assert_eq!((thread(&traceme).pid, child), (forked[0], forked[1]));
    assert!(fired(&rules, &traceme).contains(&"PTRACE anti-debug attempt".to_owned()));
}

#[test]
fn ebpf_link_symlink_rename_unlink_arguments() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let Some(rules) = ruleset() else { return };
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("links");
    let d = dir.display();
    let mut source = start(SourceKind::Ebpf);
    let py = run_python(&format!(
        "import os\n\
         dfd = os.open('{d}', os.O_RDONLY)\n\
         os.symlink('/etc/shadow', '{d}/s1')\n\
         os.symlink('/etc/shadow', 's2', dir_fd=dfd)\n\
         open('{d}/f', 'w').close()\n\
         os.link('{d}/f', 'h1', src_dir_fd=dfd, dst_dir_fd=dfd)\n\
         os.rename('{d}/h1', '{d}/h2')\n\
         os.rename('h2', 'h3', src_dir_fd=dfd, dst_dir_fd=dfd)\n\
         os.unlink('{d}/h3')\n\
         os.unlink('s2', dir_fd=dfd)\n\
         try:\n    os.link('/etc/shadow', '{d}/h4')\n\
         except OSError:\n    pass\n"
    ));
    let mut seen: Vec<Event> = Vec::new();
    wait_for(
        &mut source,
        "the last link",
        |e| {
            if e.thread.as_deref().is_some_and(|t| t.pid == i64::from(py)) {
                seen.push(e.clone());
            }
        },
        |e| {
            (of_pid(e, py, "link") || of_pid(e, py, "linkat"))
                && e.arg("oldpath") == Some("/etc/shadow")
        },
    );
    let find = |ty: &str| {
        seen.iter()
            .find(|e| e.event_type.name() == ty)
            .unwrap_or_else(|| {
                panic!(
                    "no {ty} event among {:?}",
                    seen.iter().map(|e| e.event_type.name()).collect::<Vec<_>>()
                )
            })
    };
    let symlink = find("symlink");
    assert_eq!(symlink.arg("target"), Some("/etc/shadow"));
    assert_eq!(symlink.arg("linkpath"), Some(format!("{d}/s1").as_str()));
    assert_eq!(symlink.res, Some(0));
    assert!(fired(&rules, symlink).contains(&"Create Symlink Over Sensitive Files".to_owned()));
    let symlinkat = find("symlinkat");
    assert_eq!(symlinkat.arg("linkpath"), Some("s2"));
    assert_ne!(
        symlinkat.arg("linkdirfd"),
        Some("-100"),
        "a real directory fd"
    );
    let linkat = find("linkat");
    assert_eq!(linkat.arg("oldpath"), Some(format!("{d}/f").as_str()));
    assert_eq!(linkat.arg("newpath"), Some("h1"));
    let rename = find("rename");
    assert_eq!(rename.arg("oldpath"), Some(format!("{d}/h1").as_str()));
    assert_eq!(rename.arg("newpath"), Some(format!("{d}/h2").as_str()));
    let renameat = find("renameat");
    assert_eq!(
        (renameat.arg("oldpath"), renameat.arg("newpath")),
        (Some("h2"), Some("h3"))
    );
    let unlink = find("unlink");
    assert_eq!(unlink.arg("path"), Some(format!("{d}/h3").as_str()));
    let unlinkat = find("unlinkat");
    assert_eq!(
        (unlinkat.arg("name"), unlinkat.arg("flags")),
        (Some("s2"), Some("0"))
    );
    let hard = seen.last().unwrap_or_else(|| panic!("no events"));
    assert!(fired(&rules, hard).contains(&"Create Hardlink Over Sensitive Files".to_owned()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ebpf_packet_socket_and_dup_to_network_in_container() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let Some(rules) = ruleset() else { return };
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut source = start(SourceKind::Ebpf);
    let container = FakeContainer::create();
    // A reverse-shell pattern: connect, then duplicate the socket onto stdin and stdout.
    let code = format!(
        "import ctypes, os, socket\n\
         libc = ctypes.CDLL(None)\n\
         p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)\n\
         c = socket.create_connection(('127.0.0.1', {port}))\n\
         libc.dup(c.fileno())\n\
         libc.dup2(c.fileno(), 1)\n\
         os.dup2(c.fileno(), 0, inheritable=False)\n"
    );
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec python3 -c \"$0\"",
        container.scope.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script, &code])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let py = child.id();
    let mut seen: Vec<Event> = Vec::new();
    wait_for(
        &mut source,
        "dup3 onto stdin",
        |e| {
            // Only python's calls: the shell before it redirects with dup2 too.
            if e.thread
                .as_deref()
                .is_some_and(|t| t.pid == i64::from(py) && t.name == "python3")
            {
                seen.push(e.clone());
            }
        },
        |e| of_pid(e, py, "dup3") && thread(e).name == "python3",
    );
    let _ = child.wait();
    let find = |ty: &str| {
        seen.iter()
            .find(|e| e.event_type.name() == ty)
            .unwrap_or_else(|| panic!("no {ty} event"))
    };
    let socket = find("socket");
    assert_eq!(socket.arg("domain"), Some("AF_PACKET"));
    // The type is printed as the number passed, flags included (python adds SOCK_CLOEXEC).
    let sock_type: i32 = socket
        .arg("type")
        .and_then(|t| t.parse().ok())
        .unwrap_or(-1);
    assert_eq!(sock_type & 0xf, libc::SOCK_RAW, "{socket:?}");
    assert!(socket.res.is_some_and(|r| r >= 0), "{socket:?}");
    assert_eq!(thread(socket).container_id, container.short_id());
    assert!(fired(&rules, socket).contains(&"Packet socket created in container".to_owned()));
    let want_name = format!("->127.0.0.1:{port}");
    let dup = find("dup");
    assert_eq!(
        dup.arg("oldfd"),
        find("connect")
            .fd
            .as_ref()
            .map(|f| f.num.to_string())
            .as_deref()
    );
    let dup2 = find("dup2");
    assert_eq!((dup2.res, dup2.arg("newfd")), (Some(1), Some("1")));
    let dup3 = find("dup3");
    assert_eq!(
        (dup3.res, dup3.arg("flags")),
        (Some(0), Some("O_RDONLY|O_CLOEXEC"))
    );
    for e in [dup, dup2, dup3] {
        let fd = e.fd.as_ref().unwrap_or_else(|| panic!("no fd: {e:?}"));
        assert_eq!(fd.fd_type.name(), "ipv4", "{e:?}");
        assert!(fd.name.ends_with(&want_name), "{}", fd.name);
        assert_eq!(fd.tuple.map(|t| t.l4proto.name()), Some("tcp"));
    }
    let redirect = "Redirect STDOUT/STDIN to Network Connection in Container".to_owned();
    assert!(fired(&rules, dup2).contains(&redirect));
    assert!(fired(&rules, dup3).contains(&redirect));
    assert!(
        !fired(&rules, dup).contains(&redirect),
        "dup returned a descriptor above 2"
    );
    drop(listener);
}

#[test]
fn ebpf_module_loading_calls_are_seen_even_when_refused() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut source = start(SourceKind::Ebpf);
    // Invalid arguments (a NULL image, fd -1): the kernel refuses, the hook still sees the call.
    let py = run_python(
        "import ctypes\n\
         libc = ctypes.CDLL(None)\n\
         libc.syscall(175, None, 0, b'sealwatch=1')\n\
         libc.syscall(313, -1, b'sealwatch=2', 0)\n",
    );
    let mut init = None;
    let finit = wait_for(
        &mut source,
        "finit_module",
        |e| {
            if of_pid(e, py, "init_module") {
                init = Some(e.clone());
            }
        },
        |e| of_pid(e, py, "finit_module"),
    );
    let init = init.unwrap_or_else(|| panic!("no init_module event"));
    assert!(init.res.is_some_and(|r| r < 0), "{init:?}");
    assert_eq!(
        (init.arg("uargs"), init.arg("length")),
        (Some("sealwatch=1"), Some("0"))
    );
    assert!(finit.res.is_some_and(|r| r < 0), "{finit:?}");
    assert_eq!(
        (finit.arg("uargs"), finit.arg("fd")),
        (Some("sealwatch=2"), Some("-1"))
    );
}

#[test]
fn ebpf_sendto_and_sendmsg_with_a_destination() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = receiver
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut source = start(SourceKind::Ebpf);
    // A connected send names no destination: it is not followed. Then two addressed sends.
    let py = run_python(&format!(
        "import socket\n\
         k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         k.connect(('127.0.0.1', {port})); k.send(b'connected')\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.sendto(b'abc', ('127.0.0.1', {port}))\n\
         s.sendmsg([b'defg'], [], 0, ('127.0.0.1', {port}))\n"
    ));
    let mut sends: Vec<Event> = Vec::new();
    wait_for(
        &mut source,
        "sendmsg",
        |e| {
            if of_pid(e, py, "sendto") || of_pid(e, py, "sendmsg") {
                sends.push(e.clone());
            }
        },
        |e| of_pid(e, py, "sendmsg"),
    );
    assert_eq!(sends.len(), 2, "only the addressed sends: {sends:#?}");
    let (sendto, sendmsg) = (&sends[0], &sends[1]);
    assert_eq!(sendto.event_type.name(), "sendto");
    assert_eq!((sendto.res, sendto.arg("size")), (Some(3), Some("3")));
    assert_eq!(sendmsg.res, Some(4));
    for e in [sendto, sendmsg] {
        let fd = e.fd.as_ref().unwrap_or_else(|| panic!("no fd: {e:?}"));
        let t = fd.tuple.unwrap_or_else(|| panic!("no tuple"));
        assert_eq!(t.l4proto.name(), "udp");
        assert_eq!(t.remote(), ([127, 0, 0, 1].into(), port));
        assert!(!fd.connected && fd.name_changed, "{fd:?}");
        assert!(
            fd.name.ends_with(&format!("->127.0.0.1:{port}")),
            "{}",
            fd.name
        );
    }
    drop(receiver);
}

// ---------------------------------------------------------------------------------------------
// Container metadata from a CRI runtime: a stand-in runtime (tonic, on a unix socket in a
// temp dir) answers ContainerStatus and PodSandboxStatus for the test's container.

mod stand_in_cri {
    use std::path::Path;
    use std::task::{Context, Poll};

    use sealwatch_ebpf::cri::proto;
    use tonic::codegen::{http, BoxFuture, Service, StdError};

    pub const SANDBOX: &str = "sandbox-0001";
    pub const DIGEST: &str =
        "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    /// Knows one container (by full id) and its pod; anything else is NotFound.
    #[derive(Clone)]
    pub struct Runtime {
        pub container_id: String,
    }

    impl tonic::server::NamedService for Runtime {
        const NAME: &'static str = "runtime.v1.RuntimeService";
    }

    struct ContainerStatus(Runtime);

    impl tonic::server::UnaryService<proto::ContainerStatusRequest> for ContainerStatus {
        type Response = proto::ContainerStatusResponse;
        type Future = BoxFuture<tonic::Response<Self::Response>, tonic::Status>;
        fn call(&mut self, req: tonic::Request<proto::ContainerStatusRequest>) -> Self::Future {
            let known = self.0.container_id.clone();
            Box::pin(async move {
                let req = req.into_inner();
                if req.container_id != known || req.verbose {
                    return Err(tonic::Status::not_found(format!(
                        "container {} not found (verbose={})",
                        req.container_id, req.verbose
                    )));
                }
                let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
                Ok(tonic::Response::new(proto::ContainerStatusResponse {
                    status: Some(proto::ContainerStatus {
                        id: known,
                        metadata: Some(proto::ContainerMetadata {
                            name: "web".into(),
                            attempt: 0,
                        }),
                        created_at: 1_700_000_000_000_000_000,
                        image: Some(proto::ImageSpec {
                            image: "sha256:1111".into(),
                            user_specified_image: "registry.example/shop/web:1.4".into(),
                        }),
                        image_ref: format!("registry.example/shop/web@{DIGEST}"),
                        labels: [
                            kv("io.kubernetes.pod.name", "web-7f9c"),
                            kv("io.kubernetes.pod.namespace", "shop"),
                            kv("io.kubernetes.container.name", "web"),
                        ]
                        .into(),
                        annotations: [kv("io.kubernetes.cri.sandbox-id", SANDBOX)].into(),
                        mounts: vec![],
                    }),
                }))
            })
        }
    }

    struct PodSandboxStatus;

    impl tonic::server::UnaryService<proto::PodSandboxStatusRequest> for PodSandboxStatus {
        type Response = proto::PodSandboxStatusResponse;
        type Future = BoxFuture<tonic::Response<Self::Response>, tonic::Status>;
        fn call(&mut self, req: tonic::Request<proto::PodSandboxStatusRequest>) -> Self::Future {
            Box::pin(async move {
                let req = req.into_inner();
                if req.pod_sandbox_id != SANDBOX {
                    return Err(tonic::Status::not_found("no such sandbox"));
                }
                Ok(tonic::Response::new(proto::PodSandboxStatusResponse {
                    status: Some(proto::PodSandboxStatus {
                        id: SANDBOX.into(),
                        metadata: Some(proto::PodSandboxMetadata {
                            name: "web-7f9c".into(),
                            uid: "6b0f3c8e-uid".into(),
                            namespace: "shop".into(),
                            attempt: 0,
                        }),
                        labels: [("app".to_owned(), "web".to_owned())].into(),
                        ..Default::default()
                    }),
                }))
            })
        }
    }

    impl<B> Service<http::Request<B>> for Runtime
    where
        B: tonic::codegen::Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = BoxFuture<Self::Response, Self::Error>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<B>) -> Self::Future {
            let me = self.clone();
            match req.uri().path() {
                proto::CONTAINER_STATUS => Box::pin(async move {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    Ok(grpc.unary(ContainerStatus(me), req).await)
                }),
                proto::POD_SANDBOX_STATUS => Box::pin(async move {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    Ok(grpc.unary(PodSandboxStatus, req).await)
                }),
                other => {
                    let status = tonic::Status::unimplemented(format!("{other} not served"));
                    Box::pin(async move { Ok(status.into_http()) })
                }
            }
        }
    }

    /// The server, on its own thread and runtime; stopped (and joined) on drop.
    pub struct Server {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Server {
        pub fn start(socket: &Path, runtime: Runtime) -> Server {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
            let listener = {
                let _guard = rt.enter();
                tokio::net::UnixListener::bind(socket)
                    .unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()))
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::spawn(move || {
                let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
                let served = rt.block_on(
                    tonic::transport::Server::builder()
                        .add_service(runtime)
                        .serve_with_incoming_shutdown(incoming, async {
                            let _ = stopped.await;
                        }),
                );
                if let Err(e) = served {
                    eprintln!("stand-in CRI server: {e}");
                }
            });
            Server {
                stop: Some(stop),
                thread: Some(thread),
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[test]
fn ebpf_alerts_carry_cri_metadata_of_the_container() {
    if !can_run(SourceKind::Ebpf) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let container = FakeContainer::create();
    let dir = temp_dir("cri");
    let socket = dir.join("cri.sock");
    let _server = stand_in_cri::Server::start(
        &socket,
        stand_in_cri::Runtime {
            container_id: container.id.clone(),
        },
    );
    let rule = b"- rule: exec in a pod\n  desc: test\n  condition: evt.type in (execve, execveat) and container.id != host and proc.name = sleep\n  output: image=%container.image.repository tag=%container.image.tag name=%container.name pod=%k8s.pod.name ns=%k8s.ns.name app=%k8s.pod.label[app]\n  priority: NOTICE\n";
    let (rules, diags) = load_and_compile([("pod.yaml", rule.as_slice())], &Selection::default());
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    let config = LiveConfig {
        kind: SourceKind::Ebpf,
        hostname: "test-host".into(),
        cri_socket: Some(socket.clone()),
        ..LiveConfig::default()
    };
    let mut source = LiveSource::start(&config).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(source.cri_socket(), Some(socket.as_path()));
    // A few short processes in the container: the first is seen before the runtime has
    // answered (its metadata is <NA>), later ones carry the answer.
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2; done'",
        container.scope.display()
    );
    let sh = run(&script);
    let mut lines: Vec<String> = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(e) = source.next_event(left).unwrap_or_else(|e| panic!("{e:?}")) else {
            break;
        };
        let ours = e
            .thread
            .as_deref()
            .is_some_and(|t| t.container_id == container.short_id());
        if !ours {
            continue;
        }
        rules.matching(&e, |rule| {
            lines.push(rules.alert(rule, &e, "test-host").text_line());
        });
        if lines.last().is_some_and(|l| !l.contains("<NA>")) {
            found = Some(e);
        }
    }
    let e = found.unwrap_or_else(|| {
        panic!(
            "no alert with container metadata within {WAIT:?}: {lines:#?}; stats {:?}; last CRI error {:?}",
            source.stats(),
            source.last_cri_error()
        )
    });
    let line = lines.last().cloned().unwrap_or_default();
    assert!(
        line.ends_with(
            "image=registry.example/shop/web tag=1.4 name=web pod=web-7f9c ns=shop app=web"
        ),
        "{line}"
    );
    // Every earlier alert either has the full metadata or none of it: never a guess.
    for l in &lines {
        assert!(
            l.ends_with("image=<NA> tag=<NA> name=<NA> pod=<NA> ns=<NA> app=<NA>")
                || l.ends_with(
                    "image=registry.example/shop/web tag=1.4 name=web pod=web-7f9c ns=shop app=web"
                ),
            "{l}"
        );
    }
    let c = thread(&e)
        .container
        .clone()
        .unwrap_or_else(|| panic!("no container"));
    assert_eq!(c.image_digest, stand_in_cri::DIGEST);
    assert_eq!(c.k8s_pod_uid.as_deref(), Some("6b0f3c8e-uid"));
    assert_eq!(c.runtime, "containerd");
    let stats = source.stats();
    assert!(
        stats.cri_lookups >= 1 && stats.cri_answers >= 1,
        "{stats:?}"
    );
    let _ = sh;
    drop(source);
    // Let the container's processes finish so the cgroup can be removed.
    std::thread::sleep(Duration::from_millis(2200));
    let _ = std::fs::remove_dir_all(&dir);
}

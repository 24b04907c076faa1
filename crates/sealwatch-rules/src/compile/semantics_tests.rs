//! Operator and field semantics on real event values.

use std::net::IpAddr;
use std::sync::Arc;

use super::{compile, CompileOptions, RuleIndex};
use crate::condition::parse;
use crate::event::{
    ContainerInfo, Event, EventType, FdInfo, FdType, L4Proto, Mount, SocketTuple, ThreadInfo,
};

fn thread(name: &str, pid: i64, parent: Option<Arc<ThreadInfo>>) -> ThreadInfo {
    let mut t = ThreadInfo {
        name: name.to_owned(),
        exe: name.to_owned(),
        exepath: format!("/usr/bin/{name}"),
        pid,
        tid: pid,
        vpid: pid,
        ppid: parent.as_ref().map_or(0, |p| p.pid),
        parent,
        container_id: "host".to_owned(),
        loginuid: -1,
        ..ThreadInfo::default()
    };
    t.refresh_derived();
    t
}

/// `bash -c ls` run by sshd (run by systemd) in an nginx container, as root.
fn exec_event() -> Event {
    let systemd = Arc::new(thread("systemd", 1, None));
    let sshd = Arc::new(thread("sshd", 800, Some(systemd)));
    let mut bash = thread("bash", 4242, Some(sshd));
    bash.args = vec!["-c".to_owned(), "ls".to_owned()];
    bash.env = vec!["HOME=/root".to_owned(), "B64=aGVsbG8=".to_owned()];
    bash.cwd = "/root".to_owned();
    bash.tty = 34816;
    bash.user_name = Some("root".to_owned());
    bash.container_id = "0123456789ab".to_owned();
    bash.container = Some(Arc::new(ContainerInfo {
        id: "0123456789ab".to_owned(),
        name: "web".to_owned(),
        image_repository: "docker.io/library/nginx".to_owned(),
        privileged: Some(true),
        mounts: vec![Mount {
            source: "/var/run/docker.sock".to_owned(),
            dest: "/var/run/docker.sock".to_owned(),
            ..Mount::default()
        }],
        k8s_ns_name: Some("default".to_owned()),
        ..ContainerInfo::default()
    }));
    bash.refresh_derived();
    let mut e = Event::new(EventType::from_name("execve").expect("execve"));
    e.num = 7;
    e.ts = 1_700_000_000_000_000_000;
    e.res = Some(0);
    e.thread = Some(Arc::new(bash));
    e.buffer = Some(b"GET / HTTP/1.1".to_vec());
    e.refresh_derived();
    e
}

fn open_event() -> Event {
    let mut e = Event::new(EventType::from_name("openat").expect("openat"))
        .with_arg("fd", "3")
        .with_arg("name", "/etc/shadow")
        .with_arg("flags", "O_RDWR|O_CREAT");
    e.thread = exec_event().thread;
    e.fd = Some(FdInfo {
        num: 3,
        fd_type: FdType::File,
        name: "/etc/shadow".to_owned(),
        nameraw: "/etc/shadow".to_owned(),
        ..FdInfo::default()
    });
    e.open_flags.write = true;
    e.res = Some(-13);
    e.refresh_derived();
    e
}

fn connect_event() -> Event {
    let mut e = Event::new(EventType::from_name("connect").expect("connect"));
    e.thread = exec_event().thread;
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    e.fd = Some(FdInfo {
        num: 5,
        fd_type: FdType::Ipv4Socket,
        name: "10.1.2.3:40000->192.168.7.9:443".to_owned(),
        tuple: Some(SocketTuple {
            client_ip: ip("10.1.2.3"),
            client_port: 40000,
            server_ip: ip("192.168.7.9"),
            server_port: 443,
            l4proto: L4Proto::Tcp,
            is_server: false,
        }),
        connected: true,
        ..FdInfo::default()
    });
    e.res = Some(0);
    e.refresh_derived();
    e
}

fn check(event: &Event, cond: &str, expect: bool) {
    let ast = parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
    let filter =
        compile(&ast, &CompileOptions::default()).unwrap_or_else(|e| panic!("{cond}: {e}"));
    assert_eq!(filter.matches(event), expect, "{cond}");
}

#[test]
fn process_fields_and_string_operators() {
    let e = exec_event();
    for (cond, expect) in [
        ("proc.name = bash", true),
        ("proc.name == bash", true),
        ("proc.name != bash", false),
        ("proc.name = sh", false),
        ("proc.name in (sh, bash, zsh)", true),
        ("proc.name in (sh, zsh)", false),
        ("proc.name in (a, b, c, d, e, f, g, h, i, bash)", true),
        ("proc.name in (a, b, c, d, e, f, g, h, i, j)", false),
        ("proc.name intersects (bash)", true),
        ("proc.name contains as", true),
        ("proc.name contains xy", false),
        ("proc.name icontains BAS", true),
        ("proc.name startswith ba", true),
        ("proc.name startswith as", false),
        ("proc.name endswith sh", true),
        ("proc.name glob 'b*h'", true),
        ("proc.name glob 'B*'", false),
        ("proc.name iglob 'B*'", true),
        ("proc.name regex 'ba.h'", true),
        ("proc.name regex 'ba'", false),
        ("proc.name > 1", true),
        ("proc.name < 1", false),
        ("proc.exepath pmatch (/usr/bin)", true),
        ("proc.exepath pmatch (/usr/bi)", false),
        ("proc.cmdline = 'bash -c ls'", true),
        ("proc.args = '-c ls'", true),
        ("proc.args[0] = -c", true),
        ("proc.args[1] = ls", true),
        // Past the end / unset: an empty string, as libsinsp extracts.
        ("proc.args[2] = ''", true),
        ("proc.env[HOME] = /root", true),
        ("proc.env[NOPE] = ''", true),
        ("proc.aenv[HOME] = /root", true),
        ("proc.env icontains 'b64=AGV'", true),
        ("proc.env = 'HOME=/root B64=aGVsbG8='", true),
        ("proc.cwd = /root", true),
        ("proc.pname = sshd", true),
        ("proc.pcmdline = sshd", true),
        ("proc.aname[0] = bash", true),
        ("proc.aname[1] = sshd", true),
        ("proc.aname[2] = systemd", true),
        ("proc.aname = systemd", true),
        ("proc.aname = sshd", true),
        // Without index, the process itself is not an ancestor.
        ("proc.aname = bash", false),
        ("proc.aname in (sshd, containerd)", true),
        ("proc.aname[3] = systemd", false),
        // Not extractable: every comparison is false, even !=.
        ("proc.aname[3] != systemd", false),
        ("not proc.aname[3] = systemd", true),
        ("proc.apid[2] = 1", true),
        ("proc.pid = 4242", true),
        ("proc.pid > 4000", true),
        ("proc.pid <= 4000", false),
        ("proc.ppid = 800", true),
        ("proc.tty != 0", true),
        ("user.uid = 0", true),
        ("user.name = root", true),
        ("user.loginuid = -1", true),
        ("proc.is_exe_upper_layer = false", true),
        ("thread.ismain = true", true),
    ] {
        check(&e, cond, expect);
    }
}

#[test]
fn modifiers_and_transformers() {
    let e = exec_event();
    for (cond, expect) in [
        ("proc.name = anyof (sh, bash)", true),
        ("proc.name = oneof (bash, bash)", false),
        ("proc.name = oneof (bash, sh)", true),
        ("proc.name startswith allof (b, ba, bas)", true),
        ("proc.name startswith allof (b, x)", false),
        ("proc.name != anyof (bash, sh)", true),
        ("proc.name != allof (bash, sh)", false),
        ("proc.name != allof (sh, zsh)", true),
        ("proc.name = allof ()", false),
        ("proc.name != anyof ()", false),
        ("proc.name regex anyof ('b.*', 'x')", true),
        ("toupper(proc.name) = BASH", true),
        ("tolower(toupper(proc.name)) = bash", true),
        ("basename(proc.exepath) = bash", true),
        ("len(proc.name) = 4", true),
        ("len(proc.name) > 4", false),
        ("b64(proc.env[B64]) = hello", true),
        ("proc.name = val(proc.exe)", true),
        ("proc.pname = val(proc.name)", false),
        ("proc.pname != val(proc.name)", true),
        ("proc.pid > val(proc.ppid)", true),
        ("join('-', (proc.name, proc.pname)) = bash-sshd", true),
        ("join(',', (proc.name, proc.pid)) = 'bash,4242'", true),
        (
            "join('-', (proc.name, 'x', toupper(proc.pname))) = bash-x-SSHD",
            true,
        ),
        ("join('-', (proc.name, proc.aname[9])) exists", false),
        ("concat(proc.name, '@', proc.cwd) = bash@/root", true),
    ] {
        check(&e, cond, expect);
    }
}

#[test]
fn event_fields() {
    let e = exec_event();
    for (cond, expect) in [
        ("evt.type = execve", true),
        ("evt.type in (execve, execveat)", true),
        ("evt.type != execve", false),
        ("evt.type = open", false),
        ("evt.num = 7", true),
        ("evt.num = 0", false),
        ("evt.dir = <", true),
        ("evt.dir = >", false),
        ("evt.res = SUCCESS", true),
        ("evt.rawres >= 0", true),
        ("evt.failed = false", true),
        ("evt.buffer contains HTTP", true),
        ("evt.buffer bcontains 48545450", true),
        ("evt.buffer bstartswith 474554", true),
        ("evt.buffer bstartswith 48545450", false),
        ("evt.buffer startswith GET", true),
        // No fd on this event: not extractable.
        ("fd.name = /etc", false),
        ("fd.name != /etc", false),
        ("not fd.name = /etc", true),
        ("fd.name exists", false),
        ("container.id != host", true),
        ("container.name = web", true),
        ("container.image.repository = docker.io/library/nginx", true),
        ("container.privileged = true", true),
        (
            "container.mount.dest[/var/run/docker.sock] = /var/run/docker.sock",
            true,
        ),
        ("container.mount.dest[/var/run/*] exists", true),
        ("container.mount.dest[/proc*] exists", false),
        ("k8s.ns.name = default", true),
        ("k8s.pod.name exists", false),
    ] {
        check(&e, cond, expect);
    }
}

#[test]
fn file_and_network_fields() {
    let open = open_event();
    for (cond, expect) in [
        ("fd.name = /etc/shadow", true),
        ("fd.directory = /etc", true),
        ("fd.filename = shadow", true),
        ("fd.typechar = f", true),
        ("fd.type = file", true),
        ("fd.num >= 0", true),
        ("evt.is_open_write = true", true),
        ("evt.is_open_read = true", false),
        ("evt.arg.flags contains O_CREAT", true),
        ("evt.arg[2] contains O_RDWR", true),
        ("evt.arg.name = /etc/shadow", true),
        ("evt.arg.nope exists", false),
        ("evt.rawres < 0", true),
        ("evt.res = EACCES", true),
        ("fd.sip exists", false),
        ("fd.name pmatch (/etc)", true),
        ("fd.name pmatch (/et)", false),
        ("fd.name glob /etc/*", true),
    ] {
        check(&open, cond, expect);
    }
    let conn = connect_event();
    for (cond, expect) in [
        ("fd.sip = 192.168.7.9", true),
        ("fd.cip = 10.1.2.3", true),
        ("fd.rip = 192.168.7.9", true),
        ("fd.lip = 10.1.2.3", true),
        ("fd.ip = 10.1.2.3", true),
        ("fd.ip = 10.1.2.4", false),
        ("fd.sip in (1.1.1.1, 192.168.7.9)", true),
        ("fd.net = 192.168.0.0/16", true),
        ("fd.net = 10.0.0.0/8", true),
        ("fd.snet = 10.0.0.0/8", false),
        ("fd.snet in (172.16.0.0/12, 192.168.0.0/16)", true),
        ("fd.rnet != 192.168.0.0/16", false),
        ("fd.sport = 443", true),
        ("fd.sport in (80, 443)", true),
        ("fd.port = 40000", true),
        ("fd.rport = https", true),
        ("fd.lport > 1024", true),
        ("fd.l4proto = tcp", true),
        ("fd.sockfamily = ip", true),
        ("fd.typechar = 4", true),
        ("fd.connected = true", true),
        ("fd.directory exists", false),
    ] {
        check(&conn, cond, expect);
    }
}

#[test]
fn compile_errors_carry_libsinsp_messages() {
    for (cond, message) in [
        (
            "proc.nme = x",
            "filter_check called with nonexistent field proc.nme",
        ),
        (
            "proc.pid contains 1",
            "filter error: 'contains' operator not supported for numeric filters",
        ),
        ("proc.pid = abc", "abc is not a valid number"),
        (
            "evt.is_open_read = yes",
            "filter error: unrecognized boolean value yes",
        ),
        (
            "toupper(fd.name)[x] = foo",
            "filter error: transformer 'toupper' does not support field arguments",
        ),
        (
            "some_macro",
            "filter error: unexpected identifier 'some_macro'",
        ),
        (
            "evt.buffer bcontains xyz",
            "filter error: bcontains and bstartswith operator support hex strings only",
        ),
    ] {
        let ast = parse(cond).expect("parses");
        let err = compile(&ast, &CompileOptions::default()).expect_err(cond);
        assert_eq!(err.message, message, "{cond}");
    }
}

#[test]
fn rule_index_buckets_by_event_type() {
    let rules = [
        "evt.type = execve and proc.name = bash",
        "evt.type in (open, openat) and fd.name startswith /etc",
        "evt.type = execve and proc.name = sh",
        "proc.name = bash",
        "evt.num = 0",
    ];
    let mut index = RuleIndex::new();
    for (id, cond) in rules.iter().enumerate() {
        let filter =
            compile(&parse(cond).expect("parses"), &CompileOptions::default()).expect("compiles");
        index.add(id, filter);
    }
    let execve = EventType::from_name("execve").expect("execve");
    let openat = EventType::from_name("openat").expect("openat");
    // rules 0, 2 and the unrestricted 3; never rule 4.
    assert_eq!(index.candidates(execve), 3);
    assert_eq!(index.candidates(openat), 2);
    let mut hits = Vec::new();
    index.evaluate(&exec_event(), &mut |id| hits.push(id));
    assert_eq!(hits, vec![0, 3]);
    hits.clear();
    index.evaluate(&open_event(), &mut |id| hits.push(id));
    assert_eq!(hits, vec![1, 3]);
    assert_eq!(index.first_match(&open_event()), Some(1));
    assert_eq!(index.first_match(&connect_event()), Some(3));
}

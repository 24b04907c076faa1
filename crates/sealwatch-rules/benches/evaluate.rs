//! Rule evaluation throughput: the upstream stable ruleset (`falco_rules.yaml`, loaded and
//! compiled like `watch` does) over a realistic mix of benign events — mostly execs, then file
//! opens and connects. Falls back to a synthetic ruleset when the shared data is absent.
//!
//! Run: `cargo bench -p sealwatch-rules --bench evaluate`.
//!
//! On a shared machine wall time understates the rate; for events per CPU-second run
//! `perf stat -e task-clock <bench binary> --bench --profile-time 10`: the bench prints the
//! number of events it evaluated on stderr.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealwatch_rules::compile::{compile, CompileOptions, CompiledFilter, RuleIndex};
use sealwatch_rules::condition::{parse_with, Ast, ParseOptions};
use sealwatch_rules::event::{
    ContainerInfo, Event, EventType, FdInfo, FdType, L4Proto, SocketTuple, ThreadInfo,
};

fn stable_ruleset() -> Option<Vec<CompiledFilter>> {
    let path = sealwatch_test::require_shared("conformance/falco/rules/falco_rules.yaml")?;
    let bytes = std::fs::read(path).ok()?;
    let loaded = sealwatch_rules::loader::load_all([("falco_rules.yaml", bytes.as_slice())]);
    let mut macros: HashMap<String, Ast> = HashMap::new();
    for (m, cond) in loaded.files.macros.iter().zip(&loaded.macro_conditions) {
        let mut ast = parse_with(cond, &ParseOptions::FALCO_RULES).ok()?.ast;
        ast.substitute_identifiers(&mut |name, _| macros.get(name).cloned());
        macros.insert(m.name.clone(), ast);
    }
    let mut out = Vec::new();
    for (r, cond) in loaded.files.rules.iter().zip(&loaded.rule_conditions) {
        if !r.enabled {
            continue;
        }
        let mut ast = parse_with(cond, &ParseOptions::FALCO_RULES).ok()?.ast;
        ast.substitute_identifiers(&mut |name, _| macros.get(name).cloned());
        out.push(compile(&ast, &CompileOptions::default()).ok()?);
    }
    Some(out)
}

fn synthetic_ruleset() -> Vec<CompiledFilter> {
    [
        "evt.type in (execve, execveat) and container.id != host and proc.name in (bash, sh, zsh, dash)",
        "evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.name startswith /etc/shadow",
        "evt.type = connect and fd.sip in (1.2.3.4, 5.6.7.8) and not proc.name in (curl, wget)",
        "evt.type in (execve, execveat) and proc.pname in (nginx, httpd) and proc.cmdline contains '-c'",
        "evt.type in (open, openat) and fd.directory in (/bin, /sbin, /usr/bin) and evt.is_open_write = true",
    ]
    .iter()
    .map(|c| {
        let ast = parse_with(c, &ParseOptions::FALCO_RULES).expect("parses").ast;
        compile(&ast, &CompileOptions::default()).expect("compiles")
    })
    .collect()
}

fn proc(
    name: &str,
    args: &[&str],
    parent: Option<Arc<ThreadInfo>>,
    container: Option<Arc<ContainerInfo>>,
) -> Arc<ThreadInfo> {
    let mut t = ThreadInfo {
        name: name.to_owned(),
        exe: name.to_owned(),
        exepath: format!("/usr/bin/{name}"),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        pid: 1000,
        vpid: 1000,
        tid: 1000,
        cwd: "/app".to_owned(),
        user_name: Some("app".to_owned()),
        uid: 1000,
        loginuid: -1,
        container_id: container
            .as_ref()
            .map_or("host".to_owned(), |c| c.id.clone()),
        container,
        parent,
        cap_effective: String::new(),
        ..ThreadInfo::default()
    };
    t.refresh_derived();
    Arc::new(t)
}

/// A benign workload: 60 % execs, 25 % opens, 15 % connects, in and out of containers.
fn event_mix() -> Vec<Event> {
    let container = Arc::new(ContainerInfo {
        id: "3ad7b1c9e0f2".to_owned(),
        name: "api".to_owned(),
        image_repository: "registry.example/team/api".to_owned(),
        image_tag: "1.4.2".to_owned(),
        privileged: Some(false),
        ..ContainerInfo::default()
    });
    let init = proc("systemd", &[], None, None);
    let shim = proc(
        "containerd-shim",
        &["-namespace", "k8s.io"],
        Some(init.clone()),
        None,
    );
    let app = proc(
        "python3",
        &["/app/server.py"],
        Some(shim.clone()),
        Some(container.clone()),
    );
    let cron = proc("cron", &["-f"], Some(init.clone()), None);
    let execs = [
        proc(
            "ls",
            &["-la", "/app"],
            Some(app.clone()),
            Some(container.clone()),
        ),
        proc(
            "cat",
            &["/app/config.yaml"],
            Some(app.clone()),
            Some(container.clone()),
        ),
        proc("git", &["status"], Some(cron.clone()), None),
        proc(
            "nginx",
            &["-g", "daemon off;"],
            Some(shim.clone()),
            Some(container.clone()),
        ),
        proc(
            "logrotate",
            &["/etc/logrotate.conf"],
            Some(cron.clone()),
            None,
        ),
        proc(
            "python3",
            &["-m", "pip", "--version"],
            Some(app.clone()),
            Some(container.clone()),
        ),
    ];
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    let execve = EventType::from_name("execve").expect("execve");
    let openat = EventType::from_name("openat").expect("openat");
    let connect = EventType::from_name("connect").expect("connect");
    let files = [
        "/app/data/cache.db",
        "/usr/lib/python3/json.py",
        "/tmp/upload.tmp",
        "/var/log/app.log",
        "/proc/self/status",
    ];
    let mut events = Vec::new();
    for i in 0..1000usize {
        let slot = i % 20;
        let mut e = if slot < 12 {
            let mut e = Event::new(execve);
            e.thread = Some(execs[i % execs.len()].clone());
            e
        } else if slot < 17 {
            let name = files[i % files.len()];
            let mut e = Event::new(openat).with_arg("name", name).with_arg(
                "flags",
                if i % 3 == 0 {
                    "O_RDWR|O_CREAT"
                } else {
                    "O_RDONLY"
                },
            );
            e.thread = Some(app.clone());
            e.open_flags.read = true;
            e.open_flags.write = i % 3 == 0;
            e.fd = Some(FdInfo {
                num: 7,
                fd_type: FdType::File,
                name: name.to_owned(),
                nameraw: name.to_owned(),
                ..FdInfo::default()
            });
            e
        } else {
            let mut e = Event::new(connect);
            e.thread = Some(app.clone());
            e.fd = Some(FdInfo {
                num: 9,
                fd_type: FdType::Ipv4Socket,
                name: "10.0.3.4:51000->10.0.9.20:5432".to_owned(),
                tuple: Some(SocketTuple {
                    client_ip: ip("10.0.3.4"),
                    client_port: 51000,
                    server_ip: ip("10.0.9.20"),
                    server_port: 5432,
                    l4proto: L4Proto::Tcp,
                    is_server: false,
                }),
                connected: true,
                ..FdInfo::default()
            });
            e
        };
        e.num = i as u64 + 1;
        e.ts = 1_700_000_000_000_000_000 + i as u64 * 1000;
        e.res = Some(0);
        e.refresh_derived();
        events.push(e);
    }
    events
}

fn bench(c: &mut Criterion) {
    let (name, rules) = match stable_ruleset() {
        Some(r) => ("falco_rules.yaml", r),
        None => ("synthetic", synthetic_ruleset()),
    };
    let mut index = RuleIndex::new();
    for (id, f) in rules.into_iter().enumerate() {
        index.add(id, f);
    }
    let events = event_mix();
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(events.len() as u64));
    let evaluated = AtomicU64::new(0);
    group.bench_function(format!("{name}/benign-mix"), |b| {
        b.iter(|| {
            evaluated.fetch_add(events.len() as u64, Ordering::Relaxed);
            let mut matches = 0usize;
            for e in &events {
                index.evaluate(black_box(e), &mut |_| matches += 1);
            }
            black_box(matches)
        })
    });
    group.finish();
    eprintln!(
        "evaluated {} events against {} rules",
        evaluated.load(Ordering::Relaxed),
        index.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

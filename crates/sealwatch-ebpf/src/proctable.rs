//! The process table: what the agent knows about every live process, seeded from /proc and kept
//! up to date by fork/exec/exit records, turned into `sealwatch_rules` events.
//!
//! Each entry holds an `Arc<ThreadInfo>` whose `parent` points at the parent's entry as it was
//! when the child was forked or exec'd: building an event clones one `Arc`, never the chain.
//! Entries are freed on exit; a dead parent stays reachable only through its children's chains.
//! The table is bounded ([`ProcessTable::with_capacity`]); processes past the bound are counted
//! and get no state.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use sealwatch_rules::event::{
    ContainerInfo, Event, EventType, FdInfo, FdType, L4Proto, OpenFlags, SocketTuple, ThreadInfo,
};

use crate::container::{
    container_from_cgroup_path, container_from_component, container_from_proc_cgroup,
};
use crate::wire::{PeerAddr, Record, SockFacts, Syscall, TaskFacts};

/// What /proc says about a process (all fields best effort: a process can exit mid-read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSnapshot {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub exepath: String,
    pub argv: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: Option<u32>,
    pub sid: u32,
    pub pgid: u32,
    pub tty: u32,
    pub cgroup: String,
}

/// Reads `/proc/<pid>` under `proc_root`. `None` when the process is gone.
pub fn read_proc(proc_root: &Path, pid: u32) -> Option<ProcSnapshot> {
    let dir = proc_root.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let mut snap = parse_stat(&stat)?;
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    snap.argv = crate::wire::split_argv(&cmdline);
    snap.exepath = std::fs::read_link(dir.join("exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    snap.cwd = std::fs::read_link(dir.join("cwd"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
        let (uid, gid) = parse_status_ids(&status);
        snap.uid = uid;
        snap.gid = gid;
    }
    snap.loginuid = std::fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    snap.cgroup = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
    Some(snap)
}

/// Parses `/proc/<pid>/stat`: the comm is between the first `(` and the last `)`.
pub fn parse_stat(stat: &str) -> Option<ProcSnapshot> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat.get(..open)?.trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the comm: state ppid pgrp session tty_nr ...
    let num = |i: usize| rest.get(i).and_then(|s| s.parse::<i64>().ok());
    Some(ProcSnapshot {
        pid,
        comm,
        ppid: u32::try_from(num(1)?).ok()?,
        pgid: u32::try_from(num(2)?).unwrap_or(0),
        sid: u32::try_from(num(3)?).unwrap_or(0),
        tty: u32::try_from(num(4)?).unwrap_or(0),
        ..ProcSnapshot::default()
    })
}

/// The real uid and gid from `/proc/<pid>/status`.
pub fn parse_status_ids(status: &str) -> (u32, u32) {
    let first = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (first("Uid:"), first("Gid:"))
}

/// A user from `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    pub home: String,
    pub shell: String,
}

/// Parses `/etc/passwd` into uid → user (malformed lines are skipped).
pub fn parse_passwd(text: &str) -> HashMap<u32, UserEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let uid = f.get(2)?.parse().ok()?;
            Some((
                uid,
                UserEntry {
                    name: (*f.first()?).to_owned(),
                    home: (*f.get(5)?).to_owned(),
                    shell: (*f.get(6)?).to_owned(),
                },
            ))
        })
        .collect()
}

/// Counters of the table's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    pub entries: usize,
    /// Processes not tracked because the table was full.
    pub table_full: u64,
    /// cn_proc execs whose /proc entry was gone before it could be read.
    pub proc_read_misses: u64,
}

/// Live processes by pid.
pub struct ProcessTable {
    procs: HashMap<u32, Arc<ThreadInfo>>,
    capacity: usize,
    users: HashMap<u32, UserEntry>,
    containers: HashMap<String, Arc<ContainerInfo>>,
    /// Full ids of containers seen for the first time, for the metadata lookup.
    new_containers: Vec<String>,
    hostname: String,
    next_num: u64,
    stats: TableStats,
}

const ARGV_MAX: usize = 256;

impl ProcessTable {
    /// An empty table holding at most `capacity` processes.
    pub fn with_capacity(
        capacity: usize,
        users: HashMap<u32, UserEntry>,
        hostname: String,
    ) -> Self {
        ProcessTable {
            procs: HashMap::new(),
            capacity,
            users,
            containers: HashMap::new(),
            new_containers: Vec::new(),
            hostname,
            next_num: 0,
            stats: TableStats::default(),
        }
    }

    pub fn stats(&self) -> TableStats {
        TableStats {
            entries: self.procs.len(),
            ..self.stats
        }
    }

    /// The current state of `pid`.
    pub fn get(&self, pid: u32) -> Option<&Arc<ThreadInfo>> {
        self.procs.get(&pid)
    }

    /// Seeds the table from snapshots (any order: parents are inserted before children).
    pub fn seed(&mut self, snapshots: Vec<ProcSnapshot>) {
        let mut by_pid: HashMap<u32, ProcSnapshot> =
            snapshots.into_iter().map(|s| (s.pid, s)).collect();
        let mut pids: Vec<u32> = by_pid.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            // Walk up to the first ancestor already inserted (or missing), then insert downwards.
            let mut chain = vec![pid];
            let mut cur = pid;
            while let Some(s) = by_pid.get(&cur) {
                if s.ppid == 0 || s.ppid == cur || self.procs.contains_key(&s.ppid) {
                    break;
                }
                if !by_pid.contains_key(&s.ppid) || chain.contains(&s.ppid) {
                    break;
                }
                cur = s.ppid;
                chain.push(cur);
            }
            for p in chain.into_iter().rev() {
                if let Some(s) = by_pid.remove(&p) {
                    self.insert_snapshot(&s, 0);
                }
            }
        }
    }

    /// Scans `/proc` (under `proc_root`) and seeds the table.
    pub fn seed_from_proc(&mut self, proc_root: &Path) -> Result<(), crate::EbpfError> {
        let dir = std::fs::read_dir(proc_root).map_err(|source| crate::EbpfError::Proc {
            path: proc_root.to_path_buf(),
            source,
        })?;
        let snaps = dir
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .filter_map(|pid| read_proc(proc_root, pid))
            .collect();
        self.seed(snaps);
        Ok(())
    }

    fn container_for(
        &mut self,
        found: Option<crate::container::ContainerRef>,
    ) -> (String, Option<Arc<ContainerInfo>>) {
        match found {
            None => ("host".to_owned(), None),
            Some(c) => {
                let info = match self.containers.entry(c.short_id.clone()) {
                    std::collections::hash_map::Entry::Occupied(o) => o.get().clone(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        self.new_containers.push(c.full_id.clone());
                        v.insert(Arc::new(ContainerInfo {
                            id: c.short_id.clone(),
                            runtime: c.runtime.to_owned(),
                            ..ContainerInfo::default()
                        }))
                        .clone()
                    }
                };
                (c.short_id, Some(info))
            }
        }
    }

    /// Full ids of the containers seen since the last call (each container once).
    pub fn take_new_containers(&mut self) -> Vec<String> {
        std::mem::take(&mut self.new_containers)
    }

    /// Merges what the runtime said about container `full_id`. Threads pick the new state up
    /// at their next event.
    pub fn set_container_metadata(&mut self, full_id: &str, metadata: &crate::cri::CriMetadata) {
        let short = full_id.get(..12).unwrap_or(full_id);
        if let Some(old) = self.containers.get(short) {
            let mut info = (**old).clone();
            metadata.apply_to(&mut info);
            self.containers.insert(short.to_owned(), Arc::new(info));
        }
    }

    /// `thread` with its container's current metadata (which may have arrived since the
    /// thread's state was built); the table's entry is updated too, so this copies a thread at
    /// most once per metadata update.
    fn with_current_container(&mut self, thread: Arc<ThreadInfo>) -> Arc<ThreadInfo> {
        let Some(current) = &thread.container else {
            return thread;
        };
        let Some(latest) = self.containers.get(&current.id) else {
            return thread;
        };
        if Arc::ptr_eq(current, latest) {
            return thread;
        }
        let mut updated = (*thread).clone();
        updated.container = Some(latest.clone());
        let updated = Arc::new(updated);
        if let Ok(pid) = u32::try_from(thread.pid) {
            if self
                .procs
                .get(&pid)
                .is_some_and(|p| Arc::ptr_eq(p, &thread))
            {
                self.procs.insert(pid, updated.clone());
            }
        }
        updated
    }

    fn fill_user(&self, t: &mut ThreadInfo) {
        if let Some(u) = self.users.get(&t.uid) {
            t.user_name = Some(u.name.clone());
            t.user_homedir = Some(u.home.clone());
            t.user_shell = Some(u.shell.clone());
        } else {
            t.user_name = None;
            t.user_homedir = None;
            t.user_shell = None;
        }
        t.loginname = u32::try_from(t.loginuid)
            .ok()
            .and_then(|l| self.users.get(&l))
            .map(|u| u.name.clone());
    }

    fn insert(&mut self, pid: u32, info: ThreadInfo) -> Option<Arc<ThreadInfo>> {
        if !self.procs.contains_key(&pid) && self.procs.len() >= self.capacity {
            self.stats.table_full += 1;
            return None;
        }
        let arc = Arc::new(info);
        self.procs.insert(pid, arc.clone());
        Some(arc)
    }

    fn set_argv(t: &mut ThreadInfo, argv: &[String], exepath: &str) {
        let mut argv = argv.iter().take(ARGV_MAX);
        t.exe = argv.next().cloned().unwrap_or_else(|| exepath.to_owned());
        t.args = argv.cloned().collect();
    }

    fn insert_snapshot(&mut self, s: &ProcSnapshot, start_ts: u64) -> Option<Arc<ThreadInfo>> {
        let mut t = ThreadInfo {
            tid: i64::from(s.pid),
            pid: i64::from(s.pid),
            ppid: i64::from(s.ppid),
            vtid: i64::from(s.pid),
            vpid: i64::from(s.pid),
            sid: i64::from(s.sid),
            pgid: i64::from(s.pgid),
            vpgid: i64::from(s.pgid),
            name: s.comm.clone(),
            exepath: s.exepath.clone(),
            cwd: s.cwd.clone(),
            tty: s.tty,
            uid: s.uid,
            gid: s.gid,
            loginuid: s.loginuid.filter(|&l| l != u32::MAX).map_or(-1, i64::from),
            start_ts,
            parent: self.procs.get(&s.ppid).cloned(),
            ..ThreadInfo::default()
        };
        Self::set_argv(&mut t, &s.argv, &s.exepath);
        let (id, container) = self.container_for(container_from_proc_cgroup(&s.cgroup));
        t.container_id = id;
        t.container = container;
        self.fill_user(&mut t);
        t.refresh_derived();
        self.insert(s.pid, t)
    }

    /// A new event; `None` only if `event_type` were missing from the rules' catalogue (every
    /// name used here is in it, which the tests check).
    fn new_event(
        &mut self,
        event_type: &str,
        ts: u64,
        thread: Option<Arc<ThreadInfo>>,
    ) -> Option<Event> {
        let mut e = Event::new(EventType::from_name(event_type)?);
        self.next_num += 1;
        e.num = self.next_num;
        e.ts = ts;
        e.hostname = Some(self.hostname.clone());
        e.thread = thread.map(|t| self.with_current_container(t));
        Some(e)
    }

    /// Refreshes a task's credentials and container from kernel facts, keeping the rest.
    fn thread_for_task(&mut self, task: &TaskFacts) -> Option<Arc<ThreadInfo>> {
        let current = self.procs.get(&task.pid).cloned();
        match current {
            Some(t) if t.uid == task.uid && t.gid == task.gid => Some(t),
            Some(t) => {
                let mut n = (*t).clone();
                n.uid = task.uid;
                n.gid = task.gid;
                self.fill_user(&mut n);
                self.insert(task.pid, n)
            }
            None => {
                // Unknown process (table was full, or it predates a missed fork): build a
                // minimal entry from what the kernel told us.
                let mut n = ThreadInfo {
                    tid: i64::from(task.pid),
                    pid: i64::from(task.pid),
                    ppid: i64::from(task.ppid),
                    vtid: i64::from(task.pid),
                    vpid: i64::from(task.pid),
                    name: task.comm.clone(),
                    exe: task.comm.clone(),
                    uid: task.uid,
                    gid: task.gid,
                    loginuid: if task.loginuid == u32::MAX {
                        -1
                    } else {
                        i64::from(task.loginuid)
                    },
                    parent: self.procs.get(&task.ppid).cloned(),
                    ..ThreadInfo::default()
                };
                let (id, c) = self.container_for(container_from_component(&task.cgroup_leaf));
                n.container_id = id;
                n.container = c;
                self.fill_user(&mut n);
                n.refresh_derived();
                self.insert(task.pid, n)
            }
        }
    }

    /// Applies one kernel record (timestamps already in epoch ns) and returns the rule event
    /// it produces, if any. `proc_root` is read for cn_proc execs, which carry only a pid.
    pub fn apply(&mut self, record: Record, proc_root: &Path) -> Option<Event> {
        match record {
            Record::Fork {
                ts,
                parent_pid,
                child_pid,
                parent,
            } => {
                let parent_info = match &parent {
                    Some(task) => self.thread_for_task(task),
                    None => self.procs.get(&parent_pid).cloned(),
                };
                let mut child = match &parent_info {
                    Some(p) => (**p).clone(),
                    None => ThreadInfo::default(),
                };
                child.tid = i64::from(child_pid);
                child.pid = i64::from(child_pid);
                child.vtid = i64::from(child_pid);
                child.vpid = i64::from(child_pid);
                child.ppid = i64::from(parent_pid);
                child.start_ts = ts;
                child.parent = parent_info.clone();
                self.insert(child_pid, child);
                let mut e = self.new_event("clone", ts, parent_info)?;
                e.res = Some(i64::from(child_pid));
                e = e.with_arg("res", &child_pid.to_string());
                e.refresh_derived();
                Some(e)
            }
            Record::Exit { ts, pid, code } => {
                let thread = self.procs.remove(&pid);
                let mut e = self.new_event("procexit", ts, thread)?;
                e = e.with_arg("status", &code.to_string());
                e.refresh_derived();
                Some(e)
            }
            Record::ExecPid { ts, pid } => {
                let Some(snap) = read_proc(proc_root, pid) else {
                    self.stats.proc_read_misses += 1;
                    return None;
                };
                let start = self.procs.get(&pid).map_or(ts, |t| t.start_ts);
                let thread = self.insert_snapshot(&snap, start);
                self.exec_event(ts, thread, &snap.exepath)
            }
            Record::Exec {
                ts,
                task,
                syscall,
                filename,
                argv,
            } => {
                let previous = self.procs.get(&task.pid).cloned();
                let mut t = ThreadInfo {
                    tid: i64::from(task.tid),
                    pid: i64::from(task.pid),
                    ppid: i64::from(task.ppid),
                    vtid: i64::from(task.tid),
                    vpid: i64::from(task.pid),
                    name: task.comm.clone(),
                    exepath: filename.clone(),
                    uid: task.uid,
                    gid: task.gid,
                    loginuid: if task.loginuid == u32::MAX {
                        -1
                    } else {
                        i64::from(task.loginuid)
                    },
                    start_ts: ts,
                    parent: self.procs.get(&task.ppid).cloned(),
                    ..ThreadInfo::default()
                };
                if let Some(p) = &previous {
                    t.sid = p.sid;
                    t.pgid = p.pgid;
                    t.vpgid = p.vpgid;
                    t.tty = p.tty;
                    t.cwd = p.cwd.clone();
                    t.start_ts = p.start_ts;
                    t.env = p.env.clone();
                }
                if t.cwd.is_empty() {
                    t.cwd = std::fs::read_link(proc_root.join(task.pid.to_string()).join("cwd"))
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                }
                Self::set_argv(&mut t, &argv, &filename);
                // The kernel gives the cgroup's leaf name; a bare-hex leaf needs the full path.
                let found = container_from_component(&task.cgroup_leaf).or_else(|| {
                    std::fs::read_to_string(proc_root.join(task.pid.to_string()).join("cgroup"))
                        .ok()
                        .and_then(|c| container_from_proc_cgroup(&c))
                        .or_else(|| container_from_cgroup_path(&task.cgroup_leaf))
                });
                let (id, c) = self.container_for(found);
                t.container_id = id;
                t.container = c;
                self.fill_user(&mut t);
                t.refresh_derived();
                let thread = self
                    .insert(task.pid, t.clone())
                    .or_else(|| Some(Arc::new(t)));
                let mut e = self.exec_event(ts, thread, &filename)?;
                e.event_type = EventType::from_name(syscall)?;
                Some(e)
            }
            Record::ExecFailed {
                ts,
                task,
                syscall,
                filename,
                res,
            } => {
                // The caller keeps its image: the event describes the caller and the file tried.
                let thread = self.thread_for_task(&task);
                let mut e = self.new_event(syscall, ts, thread)?;
                e.res = Some(res);
                e = e
                    .with_arg("res", &res.to_string())
                    .with_arg("filename", &filename);
                e.refresh_derived();
                Some(e)
            }
            Record::Syscall {
                ts,
                task,
                call,
                res,
            } => {
                let thread = self.thread_for_task(&task);
                syscall_event(self, ts, thread, call, res)
            }
            Record::Open {
                ts,
                task,
                syscall,
                path,
                flags,
                mode,
                res,
            } => {
                let thread = self.thread_for_task(&task);
                let name = match (&thread, path.starts_with('/')) {
                    (Some(t), false) if !t.cwd.is_empty() => {
                        format!("{}/{}", t.cwd.trim_end_matches('/'), path)
                    }
                    _ => path.clone(),
                };
                let mut e = self.new_event(syscall, ts, thread)?;
                e.res = Some(res);
                e.open_flags = open_flags(flags);
                e = e
                    .with_arg("fd", &res.to_string())
                    .with_arg("name", &path)
                    .with_arg("flags", &render_open_flags(flags))
                    .with_arg("mode", &format!("0{mode:o}"));
                e.fd = Some(FdInfo {
                    num: res,
                    fd_type: FdType::File,
                    name,
                    nameraw: path,
                    ..FdInfo::default()
                });
                e.refresh_derived();
                Some(e)
            }
            Record::Connect {
                ts,
                task,
                fd,
                addr,
                sock,
                res,
            } => {
                let thread = self.thread_for_task(&task);
                let mut e = self.new_event("connect", ts, thread)?;
                e.res = Some(res);
                e = e
                    .with_arg("res", &res.to_string())
                    .with_arg("fd", &fd.to_string());
                match addr {
                    Some(PeerAddr::Inet(addr)) => {
                        if let Some(mut info) = inet_fd_info(fd, sock.as_ref(), Some(addr), false) {
                            // A connect that returned 0 is connected whatever state was read.
                            info.connected |= res == 0;
                            e = e.with_arg("tuple", &info.name);
                            e.fd = Some(info);
                        }
                    }
                    Some(PeerAddr::Unix(path)) => {
                        e = e.with_arg("tuple", &path);
                        e.fd = Some(FdInfo {
                            num: fd,
                            fd_type: FdType::UnixSocket,
                            name: path.clone(),
                            nameraw: path,
                            connected: res == 0,
                            ..FdInfo::default()
                        });
                    }
                    None => {}
                }
                e.refresh_derived();
                Some(e)
            }
        }
    }

    fn exec_event(
        &mut self,
        ts: u64,
        thread: Option<Arc<ThreadInfo>>,
        filename: &str,
    ) -> Option<Event> {
        let (args, tid, ptid, cwd) = thread.as_ref().map_or_else(Default::default, |t| {
            (t.args_joined.clone(), t.tid, t.ppid, t.cwd.clone())
        });
        let mut e = self.new_event("execve", ts, thread)?;
        e.res = Some(0);
        e = e
            .with_arg("res", "0")
            .with_arg("exe", filename)
            .with_arg("args", &args)
            .with_arg("tid", &tid.to_string())
            .with_arg("ptid", &ptid.to_string())
            .with_arg("cwd", &cwd);
        e.refresh_derived();
        Some(e)
    }
}

/// `ip:port` as libsinsp prints endpoints (no brackets around IPv6 addresses).
fn endpoint(addr: &SocketAddr) -> String {
    format!("{}:{}", addr.ip(), addr.port())
}

fn unspecified_like(addr: &SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

/// `fd.l4proto` from the socket's protocol, else its type.
fn l4proto(sock: &SockFacts) -> L4Proto {
    match (i32::from(sock.proto), i32::from(sock.sock_type)) {
        (libc::IPPROTO_TCP, _) => L4Proto::Tcp,
        (libc::IPPROTO_UDP, _) => L4Proto::Udp,
        (libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6, _) => L4Proto::Icmp,
        (_, libc::SOCK_RAW) => L4Proto::Raw,
        (_, libc::SOCK_DGRAM) => L4Proto::Udp,
        _ => L4Proto::Tcp,
    }
}

/// An IPv4/IPv6 socket descriptor: `peer` (the address a call named) overrides the socket's
/// remote end. `fd.name` is `cip:cport->sip:sport`, as libsinsp prints it. Without kernel
/// socket facts the protocol is taken to be TCP, the common case for connect.
fn inet_fd_info(
    num: i64,
    sock: Option<&SockFacts>,
    peer: Option<SocketAddr>,
    is_server: bool,
) -> Option<FdInfo> {
    let remote = peer.or_else(|| sock.and_then(|s| s.remote))?;
    let local = sock
        .and_then(|s| s.local)
        .unwrap_or_else(|| unspecified_like(&remote));
    let (client, server) = if is_server {
        (remote, local)
    } else {
        (local, remote)
    };
    Some(FdInfo {
        num,
        fd_type: if remote.is_ipv4() {
            FdType::Ipv4Socket
        } else {
            FdType::Ipv6Socket
        },
        name: format!("{}->{}", endpoint(&client), endpoint(&server)),
        tuple: Some(SocketTuple {
            client_ip: client.ip(),
            client_port: client.port(),
            server_ip: server.ip(),
            server_port: server.port(),
            l4proto: sock.map_or(L4Proto::Tcp, l4proto),
            is_server,
        }),
        connected: sock.is_some_and(|s| s.state == 1),
        ..FdInfo::default()
    })
}

/// `fd.type` for a socket family.
fn socket_fd_type(family: i32) -> FdType {
    match family {
        libc::AF_INET => FdType::Ipv4Socket,
        libc::AF_INET6 => FdType::Ipv6Socket,
        libc::AF_UNIX => FdType::UnixSocket,
        libc::AF_NETLINK => FdType::Netlink,
        _ => FdType::Unknown,
    }
}

/// A socket descriptor from kernel facts. Unix and other sockets get their type only: the
/// kernel side does not read their addresses.
fn sock_fd_info(num: i64, sock: &SockFacts, is_server: bool) -> FdInfo {
    inet_fd_info(num, Some(sock), None, is_server).unwrap_or_else(|| FdInfo {
        num,
        fd_type: socket_fd_type(i32::from(sock.family)),
        connected: sock.state == 1,
        ..FdInfo::default()
    })
}

/// Names of set bits, `|`-joined (`0` when none is set), as libsinsp renders flag arguments.
fn render_bits(value: u32, names: &[(u32, &str)]) -> String {
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| value & bit == *bit && *bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        value.to_string()
    } else {
        set.join("|")
    }
}

const SOCKET_FAMILIES: &[&str] = &[
    "AF_UNSPEC",
    "AF_UNIX",
    "AF_INET",
    "AF_AX25",
    "AF_IPX",
    "AF_APPLETALK",
    "AF_NETROM",
    "AF_BRIDGE",
    "AF_ATMPVC",
    "AF_X25",
    "AF_INET6",
    "AF_ROSE",
    "AF_DECnet",
    "AF_NETBEUI",
    "AF_SECURITY",
    "AF_KEY",
    "AF_NETLINK",
    "AF_PACKET",
    "AF_ASH",
    "AF_ECONET",
    "AF_ATMSVC",
    "AF_RDS",
    "AF_SNA",
    "AF_IRDA",
    "AF_PPPOX",
    "AF_WANPIPE",
    "AF_LLC",
    "AF_IB",
    "AF_MPLS",
    "AF_CAN",
    "AF_TIPC",
    "AF_BLUETOOTH",
    "AF_IUCV",
    "AF_RXRPC",
    "AF_ISDN",
    "AF_PHONET",
    "AF_IEEE802154",
    "AF_CAIF",
    "AF_ALG",
    "AF_NFC",
    "AF_VSOCK",
    "AF_KCM",
    "AF_QIPCRTR",
    "AF_SMC",
    "AF_XDP",
];

/// `evt.arg.domain` of socket(2): the family name (`AF_PACKET`), or the number if unknown.
pub fn render_socket_family(domain: u32) -> String {
    usize::try_from(domain)
        .ok()
        .and_then(|i| SOCKET_FAMILIES.get(i))
        .map_or_else(|| domain.to_string(), |n| (*n).to_owned())
}

/// `evt.arg.request` of ptrace(2): `PTRACE_ATTACH` etc., or the number if unknown.
pub fn render_ptrace_request(request: u64) -> String {
    const NAMES: &[(u64, &str)] = &[
        (0, "PTRACE_TRACEME"),
        (1, "PTRACE_PEEKTEXT"),
        (2, "PTRACE_PEEKDATA"),
        (3, "PTRACE_PEEKUSR"),
        (4, "PTRACE_POKETEXT"),
        (5, "PTRACE_POKEDATA"),
        (6, "PTRACE_POKEUSR"),
        (7, "PTRACE_CONT"),
        (8, "PTRACE_KILL"),
        (9, "PTRACE_SINGLESTEP"),
        (12, "PTRACE_GETREGS"),
        (13, "PTRACE_SETREGS"),
        (14, "PTRACE_GETFPREGS"),
        (15, "PTRACE_SETFPREGS"),
        (16, "PTRACE_ATTACH"),
        (17, "PTRACE_DETACH"),
        (18, "PTRACE_GETFPXREGS"),
        (19, "PTRACE_SETFPXREGS"),
        (24, "PTRACE_SYSCALL"),
        (31, "PTRACE_SYSEMU"),
        (32, "PTRACE_SYSEMU_SINGLESTEP"),
        (0x4200, "PTRACE_SETOPTIONS"),
        (0x4201, "PTRACE_GETEVENTMSG"),
        (0x4202, "PTRACE_GETSIGINFO"),
        (0x4203, "PTRACE_SETSIGINFO"),
        (0x4204, "PTRACE_GETREGSET"),
        (0x4205, "PTRACE_SETREGSET"),
        (0x4206, "PTRACE_SEIZE"),
        (0x4207, "PTRACE_INTERRUPT"),
        (0x4208, "PTRACE_LISTEN"),
        (0x4209, "PTRACE_PEEKSIGINFO"),
        (0x420a, "PTRACE_GETSIGMASK"),
        (0x420b, "PTRACE_SETSIGMASK"),
        (0x420c, "PTRACE_SECCOMP_GET_FILTER"),
    ];
    NAMES
        .iter()
        .find(|(n, _)| *n == request)
        .map_or_else(|| request.to_string(), |(_, name)| (*name).to_owned())
}

const AT_FLAGS: &[(u32, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x1000, "AT_EMPTY_PATH"),
];
const RENAME_FLAGS: &[(u32, &str)] = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];
const SOCK_FLAGS: &[(u32, &str)] = &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")];
const MODULE_FLAGS: &[(u32, &str)] = &[
    (1, "MODULE_INIT_IGNORE_MODVERSIONS"),
    (2, "MODULE_INIT_IGNORE_VERMAGIC"),
    (4, "MODULE_INIT_COMPRESSED_FILE"),
];

/// The rule event for one of the other followed syscalls, with the argument names libsinsp
/// gives its exit event (enter arguments appended, as libs 0.22+ does).
fn syscall_event(
    table: &mut ProcessTable,
    ts: u64,
    thread: Option<Arc<ThreadInfo>>,
    call: Syscall,
    res: i64,
) -> Option<Event> {
    let name = match &call {
        Syscall::Accept { syscall, .. }
        | Syscall::Dup { syscall, .. }
        | Syscall::PathPair { syscall, .. }
        | Syscall::Unlink { syscall, .. }
        | Syscall::Module { syscall, .. }
        | Syscall::Send { syscall, .. } => syscall,
        Syscall::Socket { .. } => "socket",
        Syscall::Ptrace { .. } => "ptrace",
    };
    let mut e = table.new_event(name, ts, thread)?;
    e.res = Some(res);
    let res_s = res.to_string();
    match call {
        Syscall::Accept { flags, sock, .. } => {
            let fd = sock
                .filter(|_| res >= 0)
                .map(|s| sock_fd_info(res, &s, true));
            e = e
                .with_arg("fd", &res_s)
                .with_arg("tuple", fd.as_ref().map_or("", |f| f.name.as_str()));
            if let Some(flags) = flags {
                e = e.with_arg("flags", &render_bits(flags, SOCK_FLAGS));
            }
            e.fd = fd;
        }
        Syscall::Socket {
            domain,
            sock_type,
            proto,
        } => {
            e = e
                .with_arg("fd", &res_s)
                .with_arg("domain", &render_socket_family(domain))
                .with_arg("type", &sock_type.to_string())
                .with_arg("proto", &proto.to_string());
            if res >= 0 {
                e.fd = Some(FdInfo {
                    num: res,
                    fd_type: socket_fd_type(i32::try_from(domain).unwrap_or(-1)),
                    ..FdInfo::default()
                });
            }
        }
        Syscall::Dup {
            oldfd,
            newfd,
            flags,
            sock,
            ..
        } => {
            e = e
                .with_arg("res", &res_s)
                .with_arg("oldfd", &oldfd.to_string());
            if let Some(newfd) = newfd {
                e = e.with_arg("newfd", &newfd.to_string());
            }
            if let Some(flags) = flags {
                e = e.with_arg("flags", &render_open_flags(flags));
            }
            // The event's fd is the one duplicated (what the redirect rule inspects); only
            // sockets are described, other descriptors stay unknown (<NA>).
            e.fd = sock.map(|s| sock_fd_info(oldfd, &s, false));
        }
        Syscall::Ptrace {
            request,
            pid,
            addr,
            data,
        } => {
            e = e
                .with_arg("res", &res_s)
                .with_arg("addr", &format!("{addr:#x}"))
                .with_arg("data", &format!("{data:#x}"))
                .with_arg("request", &render_ptrace_request(request))
                .with_arg("pid", &pid.to_string());
        }
        Syscall::PathPair {
            syscall,
            olddirfd,
            oldpath,
            newdirfd,
            newpath,
            flags,
        } => {
            e = e.with_arg("res", &res_s);
            e = match syscall {
                "symlink" => e
                    .with_arg("target", &oldpath)
                    .with_arg("linkpath", &newpath),
                "symlinkat" => e
                    .with_arg("target", &oldpath)
                    .with_arg("linkdirfd", &newdirfd.unwrap_or(-100).to_string())
                    .with_arg("linkpath", &newpath),
                "linkat" => e
                    .with_arg("olddir", &olddirfd.unwrap_or(-100).to_string())
                    .with_arg("oldpath", &oldpath)
                    .with_arg("newdir", &newdirfd.unwrap_or(-100).to_string())
                    .with_arg("newpath", &newpath)
                    .with_arg("flags", &render_bits(flags.unwrap_or(0), AT_FLAGS)),
                "renameat" | "renameat2" => {
                    let e = e
                        .with_arg("olddirfd", &olddirfd.unwrap_or(-100).to_string())
                        .with_arg("oldpath", &oldpath)
                        .with_arg("newdirfd", &newdirfd.unwrap_or(-100).to_string())
                        .with_arg("newpath", &newpath);
                    match flags {
                        Some(f) => e.with_arg("flags", &render_bits(f, RENAME_FLAGS)),
                        None => e,
                    }
                }
                _ => e
                    .with_arg("oldpath", &oldpath)
                    .with_arg("newpath", &newpath),
            };
        }
        Syscall::Unlink {
            dirfd, path, flags, ..
        } => {
            e = e.with_arg("res", &res_s);
            e = match dirfd {
                Some(dirfd) => e
                    .with_arg("dirfd", &dirfd.to_string())
                    .with_arg("name", &path)
                    .with_arg("flags", &render_bits(flags.unwrap_or(0), AT_FLAGS)),
                None => e.with_arg("path", &path),
            };
        }
        Syscall::Module {
            fd,
            length,
            uargs,
            flags,
            ..
        } => {
            e = e.with_arg("res", &res_s);
            if let Some(length) = length {
                e = e.with_arg("length", &length.to_string());
            }
            if let Some(fd) = fd {
                e = e.with_arg("fd", &fd.to_string());
            }
            e = e.with_arg("uargs", &uargs);
            if let Some(flags) = flags {
                e = e.with_arg("flags", &render_bits(flags, MODULE_FLAGS));
            }
        }
        Syscall::Send {
            fd,
            size,
            dest,
            sock,
            ..
        } => {
            let info = match dest {
                Some(PeerAddr::Inet(addr)) => {
                    inet_fd_info(fd, sock.as_ref(), Some(addr), false).map(|mut f| {
                        // The call named its own destination: the descriptor's name is
                        // this tuple now (Falco's fd.name_changed).
                        f.name_changed = true;
                        f
                    })
                }
                Some(PeerAddr::Unix(path)) => Some(FdInfo {
                    num: fd,
                    fd_type: FdType::UnixSocket,
                    name: path.clone(),
                    nameraw: path,
                    name_changed: true,
                    connected: sock.is_some_and(|s| s.state == 1),
                    ..FdInfo::default()
                }),
                None => sock.map(|s| sock_fd_info(fd, &s, false)),
            };
            e = e.with_arg("res", &res_s).with_arg("fd", &fd.to_string());
            if let Some(size) = size {
                e = e.with_arg("size", &size.to_string());
            }
            e = e.with_arg("tuple", info.as_ref().map_or("", |f| f.name.as_str()));
            e.fd = info;
        }
    }
    e.refresh_derived();
    Some(e)
}

/// `evt.is_open_read` and friends from open(2) flags.
pub fn open_flags(flags: u32) -> OpenFlags {
    let acc = flags & 0o3;
    OpenFlags {
        read: acc == 0 || acc == 2,
        write: acc == 1 || acc == 2,
        exec: false,
        create: flags & 0o100 != 0,
    }
}

/// Renders open(2) flags the way libsinsp prints them (`O_RDONLY|O_CLOEXEC`).
pub fn render_open_flags(flags: u32) -> String {
    let mut parts = vec![match flags & 0o3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    }];
    const NAMED: &[(u32, &str)] = &[
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o40000, "O_DIRECT"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
        (0o20000000, "O_TMPFILE"),
    ];
    for (bit, name) in NAMED {
        if flags & bit == *bit {
            parts.push(name);
        }
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TaskFacts;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const NO_PROC: &str = "/nonexistent-proc-root";

    fn snap(pid: u32, ppid: u32, comm: &str, cgroup: &str) -> ProcSnapshot {
        ProcSnapshot {
            pid,
            ppid,
            comm: comm.into(),
            exepath: format!("/usr/bin/{comm}"),
            argv: vec![comm.into(), "--flag".into()],
            cwd: "/work".into(),
            cgroup: cgroup.into(),
            ..ProcSnapshot::default()
        }
    }

    fn table(capacity: usize) -> ProcessTable {
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/zsh\n",
        );
        ProcessTable::with_capacity(capacity, users, "node-1".into())
    }

    fn task(pid: u32, ppid: u32, comm: &str, uid: u32) -> TaskFacts {
        TaskFacts {
            pid,
            tid: pid,
            ppid,
            uid,
            gid: uid,
            loginuid: u32::MAX,
            comm: comm.into(),
            cgroup_leaf: "session-1.scope".into(),
            cgroup_id: 1,
        }
    }

    #[test]
    fn parses_proc_files() {
        let s = parse_stat("123 (my (odd) comm) S 1 120 110 34816 0 0").unwrap_or_default();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.ppid, s.pgid, s.sid, s.tty),
            (123, "my (odd) comm", 1, 120, 110, 34816)
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("12 (x) S"), None);
        assert_eq!(
            parse_status_ids("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t50\t0\t0\t0\n"),
            (1000, 50)
        );
        assert_eq!(parse_status_ids(""), (0, 0));
        let users =
            parse_passwd("root:x:0:0:root:/root:/bin/bash\nbad line\nbob:x:notanumber:1::/:/\n");
        assert_eq!(users.len(), 1);
        assert_eq!(users.get(&0).map(|u| u.name.as_str()), Some("root"));
    }

    #[test]
    fn seeding_builds_parent_chains_in_any_order() {
        let mut t = table(100);
        let cg = format!("0::/kubepods/cri-containerd-{ID}.scope\n");
        t.seed(vec![
            snap(5, 20, "sh", &cg),
            snap(20, 1, "containerd-shim", "0::/system.slice\n"),
            snap(1, 0, "init", "0::/init.scope\n"),
        ]);
        let sh = t.get(5).cloned().unwrap_or_default();
        assert_eq!(sh.ancestor(1).map(|a| a.pid), Some(20));
        assert_eq!(sh.ancestor(2).map(|a| a.name.as_str()), Some("init"));
        assert_eq!(sh.container_id, "0123456789ab");
        assert_eq!(sh.cmdline, "sh --flag");
        assert_eq!(sh.user_name.as_deref(), Some("root"));
        assert_eq!(t.get(20).map(|p| p.container_id.as_str()), Some("host"));
    }

    #[test]
    fn table_is_bounded() {
        let mut t = table(2);
        t.seed(vec![
            snap(1, 0, "init", ""),
            snap(2, 1, "a", ""),
            snap(3, 1, "b", ""),
        ]);
        let stats = t.stats();
        assert_eq!((stats.entries, stats.table_full), (2, 1));
    }

    #[test]
    fn fork_exec_exit_update_the_table() {
        let root = Path::new(NO_PROC);
        let mut t = table(100);
        t.seed(vec![snap(1, 0, "init", ""), snap(10, 1, "bash", "")]);
        let clone = t.apply(
            Record::Fork {
                ts: 5,
                parent_pid: 10,
                child_pid: 11,
                parent: Some(task(10, 1, "bash", 0)),
            },
            root,
        );
        assert_eq!(
            clone.as_ref().map(|e| (e.event_type.name(), e.res)),
            Some(("clone", Some(11)))
        );
        // The child starts as a copy of its parent.
        assert_eq!(
            t.get(11).map(|c| (c.name.as_str(), c.ppid)),
            Some(("bash", 10))
        );

        let mut facts = task(11, 10, "cat", 1000);
        facts.cgroup_leaf = format!("docker-{ID}.scope");
        let exec = t
            .apply(
                Record::Exec {
                    ts: 6,
                    task: facts,
                    syscall: "execve",
                    filename: "/usr/bin/cat".into(),
                    argv: vec!["cat".into(), "/etc/shadow".into()],
                },
                root,
            )
            .unwrap_or_else(|| panic!("no exec event"));
        assert_eq!(exec.event_type.name(), "execve");
        let th = exec.thread.clone().unwrap_or_default();
        assert_eq!(
            (th.name.as_str(), th.exe.as_str(), th.exepath.as_str()),
            ("cat", "cat", "/usr/bin/cat")
        );
        assert_eq!(th.cmdline, "cat /etc/shadow");
        assert_eq!(th.parent.as_ref().map(|p| p.name.as_str()), Some("bash"));
        assert_eq!(th.container_id, "0123456789ab");
        assert_eq!(
            th.container.as_ref().map(|c| c.runtime.as_str()),
            Some("docker")
        );
        assert_eq!(th.user_name.as_deref(), Some("alice"));
        assert_eq!(th.cwd, "/work", "inherited from the parent");
        assert_eq!(exec.res_text.as_deref(), Some("SUCCESS"));

        let exit = t.apply(
            Record::Exit {
                ts: 7,
                pid: 11,
                code: 0,
            },
            root,
        );
        assert_eq!(exit.as_ref().map(|e| e.event_type.name()), Some("procexit"));
        assert_eq!(exit.and_then(|e| e.thread).map(|t| t.pid), Some(11));
        assert!(t.get(11).is_none(), "exit frees the entry");
    }

    #[test]
    fn open_events_resolve_relative_paths_and_flags() {
        let root = Path::new(NO_PROC);
        let mut t = table(100);
        t.seed(vec![snap(10, 1, "app", "")]);
        let check = |t: &mut ProcessTable,
                     path: &str,
                     flags: u32,
                     res: i64,
                     name: &str,
                     text: &str,
                     rw: (bool, bool)| {
            let e = t
                .apply(
                    Record::Open {
                        ts: 1,
                        task: task(10, 1, "app", 0),
                        syscall: "openat",
                        path: path.into(),
                        flags,
                        mode: 0,
                        res,
                    },
                    root,
                )
                .unwrap_or_else(|| panic!("no event"));
            assert_eq!(e.fd.as_ref().map(|f| f.name.as_str()), Some(name));
            assert_eq!(e.arg("flags"), Some(text));
            assert_eq!((e.open_flags.read, e.open_flags.write), rw);
            e
        };
        check(
            &mut t,
            "/etc/passwd",
            0o2000000,
            3,
            "/etc/passwd",
            "O_RDONLY|O_CLOEXEC",
            (true, false),
        );
        check(
            &mut t,
            "out.log",
            0o1101,
            4,
            "/work/out.log",
            "O_WRONLY|O_CREAT|O_TRUNC",
            (false, true),
        );
        let e = check(&mut t, "/nope", 2, -2, "/nope", "O_RDWR", (true, true));
        assert_eq!(e.res_text.as_deref(), Some("ENOENT"));
    }

    #[test]
    fn unix_connect_names_the_socket_path() {
        let mut t = table(100);
        let e = t
            .apply(
                Record::Connect {
                    ts: 1,
                    task: task(10, 1, "getent", 0),
                    fd: 4,
                    addr: Some(PeerAddr::Unix("/run/nscd/socket".into())),
                    sock: None,
                    res: -2,
                },
                Path::new(NO_PROC),
            )
            .unwrap_or_else(|| panic!("no event"));
        let fd = e.fd.unwrap_or_default();
        assert_eq!(fd.fd_type, FdType::UnixSocket);
        assert_eq!(fd.name, "/run/nscd/socket");
        assert!(fd.tuple.is_none());
        assert!(!fd.connected);
    }

    #[test]
    fn connect_event_has_the_remote_endpoint() {
        let mut t = table(100);
        let addr: SocketAddr = "10.1.2.3:443".parse().unwrap_or_else(|e| panic!("{e}"));
        let e = t
            .apply(
                Record::Connect {
                    ts: 1,
                    task: task(10, 1, "curl", 0),
                    fd: 5,
                    addr: Some(PeerAddr::Inet(addr)),
                    sock: None,
                    res: 0,
                },
                Path::new(NO_PROC),
            )
            .unwrap_or_else(|| panic!("no event"));
        let fd = e.fd.unwrap_or_default();
        assert_eq!(fd.name, "0.0.0.0:0->10.1.2.3:443");
        assert_eq!(fd.tuple.map(|t| t.remote()), Some((addr.ip(), 443)));
        assert_eq!(fd.num, 5);
        // An unknown process gets a minimal entry from the kernel's facts.
        assert_eq!(
            e.thread.map(|t| (t.name.clone(), t.container_id.clone())),
            Some(("curl".into(), "host".into()))
        );
    }

    fn syscall(t: &mut ProcessTable, call: Syscall, res: i64) -> Event {
        t.apply(
            Record::Syscall {
                ts: 1,
                task: task(10, 1, "nc", 0),
                call,
                res,
            },
            Path::new(NO_PROC),
        )
        .unwrap_or_else(|| panic!("no event"))
    }

    fn tcp(local: &str, remote: &str) -> SockFacts {
        SockFacts {
            family: libc::AF_INET as u16,
            sock_type: libc::SOCK_STREAM as u16,
            proto: libc::IPPROTO_TCP as u16,
            state: 1,
            local: local.parse().ok(),
            remote: remote.parse().ok(),
        }
    }

    #[test]
    fn accept_and_dup_describe_the_socket_from_each_side() {
        let mut t = table(100);
        let sock = tcp("10.0.0.1:22", "10.0.0.9:50000");
        let e = syscall(
            &mut t,
            Syscall::Accept {
                syscall: "accept4",
                flags: Some(0o2000000),
                sock: Some(sock),
            },
            7,
        );
        let fd = e.fd.clone().unwrap_or_default();
        assert_eq!(fd.name, "10.0.0.9:50000->10.0.0.1:22");
        assert_eq!((fd.num, fd.connected), (7, true));
        let tuple = fd.tuple.unwrap_or_else(|| panic!("no tuple"));
        assert!(tuple.is_server);
        assert_eq!(tuple.local().1, 22);
        assert_eq!(e.arg("flags"), Some("SOCK_CLOEXEC"));
        assert_eq!(e.arg("tuple"), Some("10.0.0.9:50000->10.0.0.1:22"));

        let e = syscall(
            &mut t,
            Syscall::Dup {
                syscall: "dup2",
                oldfd: 3,
                newfd: Some(1),
                flags: None,
                sock: Some(tcp("10.0.0.1:40000", "203.0.113.5:4444")),
            },
            1,
        );
        assert_eq!(e.event_type.name(), "dup2");
        assert_eq!(e.args_text, "res=1 oldfd=3 newfd=1");
        let fd = e.fd.unwrap_or_default();
        assert_eq!((fd.num, fd.fd_type), (3, FdType::Ipv4Socket));
        assert_eq!(fd.name, "10.0.0.1:40000->203.0.113.5:4444");
        // A descriptor that is not a socket stays unknown.
        let e = syscall(
            &mut t,
            Syscall::Dup {
                syscall: "dup",
                oldfd: 5,
                newfd: None,
                flags: None,
                sock: None,
            },
            6,
        );
        assert!(e.fd.is_none());
    }

    #[test]
    fn sendto_names_its_destination_and_marks_the_name_changed() {
        let mut t = table(100);
        let mut udp = tcp("0.0.0.0:5353", "0.0.0.0:0");
        udp.proto = libc::IPPROTO_UDP as u16;
        udp.sock_type = libc::SOCK_DGRAM as u16;
        udp.state = 7; // TCP_CLOSE: an unconnected datagram socket
        let dest: SocketAddr = "[2001:db8::1]:53".parse().unwrap_or_else(|e| panic!("{e}"));
        let e = syscall(
            &mut t,
            Syscall::Send {
                syscall: "sendmsg",
                fd: 4,
                size: None,
                dest: Some(PeerAddr::Inet(dest)),
                sock: Some(udp),
            },
            40,
        );
        let fd = e.fd.unwrap_or_default();
        assert!(fd.name_changed && !fd.connected);
        assert_eq!(fd.fd_type, FdType::Ipv6Socket, "the destination's family");
        assert_eq!(fd.tuple.map(|t| t.l4proto), Some(L4Proto::Udp));
        assert!(fd.name.ends_with("->2001:db8::1:53"), "{}", fd.name);
    }

    #[test]
    fn ptrace_socket_link_and_module_arguments_are_rendered() {
        let mut t = table(100);
        let e = syscall(
            &mut t,
            Syscall::Ptrace {
                request: 0x4206,
                pid: 99,
                addr: 0,
                data: 0x10,
            },
            0,
        );
        assert_eq!(
            e.args_text,
            "res=0 addr=0x0 data=0x10 request=PTRACE_SEIZE pid=99"
        );
        let e = syscall(
            &mut t,
            Syscall::Socket {
                domain: 17,
                sock_type: 3,
                proto: 768,
            },
            3,
        );
        assert_eq!(e.arg("domain"), Some("AF_PACKET"));
        assert_eq!(e.fd.map(|f| f.fd_type), Some(FdType::Unknown));
        assert_eq!(render_socket_family(2), "AF_INET");
        assert_eq!(render_socket_family(4096), "4096");
        assert_eq!(render_ptrace_request(77), "77");
        let e = syscall(
            &mut t,
            Syscall::PathPair {
                syscall: "symlinkat",
                olddirfd: None,
                oldpath: "/etc/shadow".into(),
                newdirfd: Some(-100),
                newpath: "s".into(),
                flags: None,
            },
            0,
        );
        assert_eq!(
            e.args_text,
            "res=0 target=/etc/shadow linkdirfd=-100 linkpath=s"
        );
        let e = syscall(
            &mut t,
            Syscall::PathPair {
                syscall: "renameat2",
                olddirfd: Some(3),
                oldpath: "a".into(),
                newdirfd: Some(3),
                newpath: "b".into(),
                flags: Some(3),
            },
            -17,
        );
        assert_eq!(e.arg("flags"), Some("RENAME_NOREPLACE|RENAME_EXCHANGE"));
        assert_eq!(e.res_text.as_deref(), Some("EEXIST"));
        let e = syscall(
            &mut t,
            Syscall::Module {
                syscall: "init_module",
                fd: None,
                length: Some(0),
                uargs: "x=1".into(),
                flags: None,
            },
            -38,
        );
        assert_eq!(e.args_text, "res=-38 length=0 uargs=x=1");
    }

    #[test]
    fn container_metadata_arriving_later_reaches_existing_threads() {
        let root = Path::new(NO_PROC);
        let mut t = table(100);
        let cg = format!("0::/kubepods/cri-containerd-{ID}.scope\n");
        t.seed(vec![
            snap(1, 0, "init", ""),
            snap(5, 1, "sh", &cg),
            snap(6, 5, "sh", &cg),
        ]);
        // Each container is asked about once, however many processes it has.
        assert_eq!(t.take_new_containers(), [ID.to_owned()]);
        assert!(t.take_new_containers().is_empty());
        let open = |t: &mut ProcessTable| {
            t.apply(
                Record::Open {
                    ts: 1,
                    task: task(5, 1, "sh", 0),
                    syscall: "openat",
                    path: "/etc/hosts".into(),
                    flags: 0,
                    mode: 0,
                    res: 3,
                },
                root,
            )
            .and_then(|e| e.thread)
            .and_then(|th| th.container.clone())
            .unwrap_or_else(|| panic!("no container"))
        };
        let before = open(&mut t);
        assert_eq!(
            (before.id.as_str(), before.name.as_str()),
            ("0123456789ab", "")
        );
        t.set_container_metadata(
            ID,
            &crate::cri::CriMetadata {
                name: "web".into(),
                image_repository: "registry.example/web".into(),
                pod_name: Some("web-1".into()),
                ..Default::default()
            },
        );
        let after = open(&mut t);
        assert_eq!(after.name, "web");
        assert_eq!(after.image_repository, "registry.example/web");
        assert_eq!(after.k8s_pod_name.as_deref(), Some("web-1"));
        assert_eq!(after.runtime, "containerd", "kept from the cgroup");
        // The table's own entry was updated, not only the event's copy.
        assert_eq!(
            t.get(5)
                .and_then(|p| p.container.as_ref())
                .map(|c| c.name.as_str()),
            Some("web")
        );
        // An answer for a container never seen changes nothing.
        t.set_container_metadata(&"f".repeat(64), &crate::cri::CriMetadata::default());
        assert!(t.take_new_containers().is_empty());
    }
    #[test]
    fn every_event_type_used_is_in_the_rules_catalogue() {
        for name in [
            "execve",
            "execveat",
            "clone",
            "procexit",
            "open",
            "openat",
            "openat2",
            "creat",
            "connect",
            "accept",
            "accept4",
            "socket",
            "dup",
            "dup2",
            "dup3",
            "ptrace",
            "link",
            "linkat",
            "symlink",
            "symlinkat",
            "unlink",
            "unlinkat",
            "rename",
            "renameat",
            "renameat2",
            "init_module",
            "finit_module",
            "sendto",
            "sendmsg",
        ] {
            assert!(EventType::from_name(name).is_some(), "{name}");
        }
    }
}

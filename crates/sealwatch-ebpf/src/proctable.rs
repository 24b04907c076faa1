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
use crate::wire::{PeerAddr, Record, TaskFacts};

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
                let info = self
                    .containers
                    .entry(c.short_id.clone())
                    .or_insert_with(|| {
                        Arc::new(ContainerInfo {
                            id: c.short_id.clone(),
                            runtime: c.runtime.to_owned(),
                            ..ContainerInfo::default()
                        })
                    })
                    .clone();
                (c.short_id, Some(info))
            }
        }
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
        e.thread = thread;
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
                self.exec_event(ts, thread, &filename)
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
                        let unspecified = match addr.ip() {
                            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                        };
                        let local = SocketAddr::new(unspecified, 0);
                        let name = format!("{local}->{addr}");
                        e = e.with_arg("tuple", &name);
                        e.fd = Some(FdInfo {
                            num: fd,
                            fd_type: if addr.is_ipv4() {
                                FdType::Ipv4Socket
                            } else {
                                FdType::Ipv6Socket
                            },
                            name,
                            // The kernel side does not read the socket type; TCP is the common
                            // case for connect and what the network rules look for.
                            tuple: Some(SocketTuple {
                                client_ip: local.ip(),
                                client_port: 0,
                                server_ip: addr.ip(),
                                server_port: addr.port(),
                                l4proto: L4Proto::Tcp,
                                is_server: false,
                            }),
                            connected: res == 0,
                            ..FdInfo::default()
                        });
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

    #[test]
    fn every_event_type_used_is_in_the_rules_catalogue() {
        for name in [
            "execve", "clone", "procexit", "open", "openat", "openat2", "creat", "connect",
        ] {
            assert!(EventType::from_name(name).is_some(), "{name}");
        }
    }
}

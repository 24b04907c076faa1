//! Replay of recorded events: the sealwatch events JSON Lines format, version 1.
//!
//! The format is documented in `docs/events-jsonl.md`. One JSON object per line; `kind` says what
//! the line is (`event` when absent):
//!
//! - `header`: `{"kind":"header","format":"sealwatch-events","version":1,"hostname":"node-1"}`
//!   (optional, first line);
//! - `container`: container metadata by id, referenced by processes' `container_id`;
//! - `process`: the state of a process that existed before the recording (like a capture's
//!   process list);
//! - `event`: one system call exit (or meta) event, with the calling process given by `pid`
//!   and/or an inline `proc` object that updates the process table.
//!
//! The process table follows the stream: `execve`/`execveat` update the caller, `clone`/`fork`/
//! `vfork`/`clone3` with a positive result create the child as a copy of the parent, `procexit`
//! removes the process after its event. Each event's thread carries its ancestor chain from the
//! table, so `proc.pname` and `proc.aname[N]` work on streams that describe each process once.

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use sealwatch_rules::event::{
    ContainerInfo, Event, EventArg, EventType, FdInfo, FdType, L4Proto, LeaderInfo, Mount,
    OpenFlags, SocketTuple, ThreadInfo,
};

use crate::error::RuntimeError;

/// The format name in the header line.
pub const FORMAT_NAME: &str = "sealwatch-events";
/// The format version this reader understands.
pub const FORMAT_VERSION: u64 = 1;
/// Longest accepted line; longer lines are an error, so a hostile file cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Most processes kept in the table; past it the oldest entries are forgotten.
pub const MAX_PROCESSES: usize = 1 << 18;
/// Deepest `parent` nesting and ancestor chain followed.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderJson {
    #[allow(dead_code)]
    kind: String,
    format: String,
    version: u64,
    hostname: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaderJson {
    name: Option<String>,
    exe: Option<String>,
    exepath: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MountJson {
    source: Option<String>,
    dest: String,
    mode: Option<String>,
    rdwr: Option<bool>,
    propagation: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerJson {
    #[serde(default)]
    #[allow(dead_code)]
    kind: Option<String>,
    id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    runtime: Option<String>,
    image: Option<String>,
    image_id: Option<String>,
    image_repository: Option<String>,
    image_tag: Option<String>,
    image_digest: Option<String>,
    privileged: Option<bool>,
    #[serde(default)]
    mounts: Vec<MountJson>,
    #[serde(default)]
    labels: Vec<(String, String)>,
    start_ts: Option<u64>,
    ip: Option<String>,
    k8s_ns_name: Option<String>,
    k8s_pod_name: Option<String>,
    k8s_pod_uid: Option<String>,
    #[serde(default)]
    k8s_pod_labels: Vec<(String, String)>,
    #[serde(default)]
    k8s_pod_annotations: Vec<(String, String)>,
}

/// Process state; every field is optional and overrides what the table already holds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcJson {
    #[serde(default)]
    #[allow(dead_code)]
    kind: Option<String>,
    pid: Option<i64>,
    tid: Option<i64>,
    ppid: Option<i64>,
    vpid: Option<i64>,
    vtid: Option<i64>,
    sid: Option<i64>,
    pgid: Option<i64>,
    vpgid: Option<i64>,
    name: Option<String>,
    exe: Option<String>,
    exepath: Option<String>,
    args: Option<Vec<String>>,
    env: Option<Vec<String>>,
    cwd: Option<String>,
    tty: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    loginuid: Option<i64>,
    user: Option<String>,
    homedir: Option<String>,
    shell: Option<String>,
    loginname: Option<String>,
    group: Option<String>,
    cap_permitted: Option<String>,
    cap_effective: Option<String>,
    cap_inheritable: Option<String>,
    is_exe_writable: Option<bool>,
    is_exe_upper_layer: Option<bool>,
    is_exe_lower_layer: Option<bool>,
    is_exe_from_memfd: Option<bool>,
    exe_ino: Option<i64>,
    exe_ino_ctime: Option<u64>,
    exe_ino_mtime: Option<u64>,
    pidns_init_start_ts: Option<u64>,
    start_ts: Option<u64>,
    container_id: Option<String>,
    container: Option<ContainerJson>,
    session_leader: Option<LeaderJson>,
    vpgid_leader: Option<LeaderJson>,
    parent: Option<Box<ProcJson>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TupleJson {
    cip: IpAddr,
    cport: u16,
    sip: IpAddr,
    sport: u16,
    #[serde(default = "default_proto")]
    proto: String,
    #[serde(default)]
    server: bool,
}

fn default_proto() -> String {
    "tcp".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FdJson {
    num: Option<i64>,
    #[serde(rename = "type")]
    fd_type: Option<String>,
    name: Option<String>,
    nameraw: Option<String>,
    tuple: Option<TupleJson>,
    connected: Option<bool>,
    name_changed: Option<bool>,
    dev: Option<i32>,
    ino: Option<i64>,
    upper_layer: Option<bool>,
    lower_layer: Option<bool>,
    /// `fd.sip.name` / `fd.cip.name`: DNS names of the server and client addresses, when recorded.
    sip_name: Option<String>,
    cip_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenJson {
    #[serde(default)]
    read: bool,
    #[serde(default)]
    write: bool,
    #[serde(default)]
    exec: bool,
    #[serde(default)]
    create: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventJson {
    #[serde(default)]
    #[allow(dead_code)]
    kind: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    ts: Option<u64>,
    time: Option<String>,
    num: Option<u64>,
    dir: Option<String>,
    cpu: Option<i16>,
    pid: Option<i64>,
    tid: Option<i64>,
    proc: Option<ProcJson>,
    child: Option<ProcJson>,
    args: Option<Value>,
    res: Option<i64>,
    res_text: Option<String>,
    buffer: Option<String>,
    fd: Option<FdJson>,
    open: Option<OpenJson>,
    hostname: Option<String>,
    source: Option<String>,
}

/// Process state by pid, built from the stream.
#[derive(Debug, Default)]
pub struct ProcessTable {
    procs: HashMap<i64, ThreadInfo>,
    order: VecDeque<i64>,
    /// Linked chains handed out since the last change; most events come from a process that did
    /// not change since its previous event, and relinking clones the whole ancestry.
    linked_cache: HashMap<i64, Arc<ThreadInfo>>,
}

impl ProcessTable {
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn get(&self, pid: i64) -> Option<&ThreadInfo> {
        self.procs.get(&pid)
    }

    fn insert(&mut self, info: ThreadInfo) {
        self.linked_cache.clear();
        let pid = info.pid;
        if self.procs.insert(pid, info).is_none() {
            self.order.push_back(pid);
            while self.procs.len() > MAX_PROCESSES {
                let Some(oldest) = self.order.pop_front() else {
                    break;
                };
                self.procs.remove(&oldest);
            }
        }
    }

    fn remove(&mut self, pid: i64) {
        self.linked_cache.clear();
        if self.procs.remove(&pid).is_some() {
            self.order.retain(|p| *p != pid);
        }
    }

    /// The process with its ancestors linked, as the rules see it.
    pub fn linked(&mut self, pid: i64) -> Option<Arc<ThreadInfo>> {
        if let Some(cached) = self.linked_cache.get(&pid) {
            return Some(Arc::clone(cached));
        }
        let linked = self.link(pid)?;
        if self.linked_cache.len() >= MAX_PROCESSES {
            self.linked_cache.clear();
        }
        self.linked_cache.insert(pid, Arc::clone(&linked));
        Some(linked)
    }

    fn link(&self, pid: i64) -> Option<Arc<ThreadInfo>> {
        let mut chain: Vec<&ThreadInfo> = Vec::new();
        let mut cur = self.procs.get(&pid);
        while let Some(t) = cur {
            if chain.len() >= MAX_DEPTH || chain.iter().any(|c| c.pid == t.pid) {
                break;
            }
            chain.push(t);
            cur = if t.ppid == t.pid {
                None
            } else {
                self.procs.get(&t.ppid)
            };
        }
        let mut parent: Option<Arc<ThreadInfo>> = None;
        for t in chain.into_iter().rev() {
            let mut linked = t.clone();
            linked.parent = parent;
            parent = Some(Arc::new(linked));
        }
        parent
    }
}

/// Reads events from a JSONL stream, keeping the process table.
pub struct ReplayReader<R> {
    file: String,
    input: R,
    line: u64,
    buf: Vec<u8>,
    table: ProcessTable,
    containers: HashMap<String, Arc<ContainerInfo>>,
    hostname: Option<String>,
    next_num: u64,
    /// A `procexit` removes its process only after the event was handed out.
    pending_exit: Option<i64>,
}

impl<R: BufRead> ReplayReader<R> {
    /// `file` names the input in error messages.
    pub fn new(file: impl Into<String>, input: R) -> Self {
        ReplayReader {
            file: file.into(),
            input,
            line: 0,
            buf: Vec::new(),
            table: ProcessTable::default(),
            containers: HashMap::new(),
            hostname: None,
            next_num: 1,
            pending_exit: None,
        }
    }

    pub fn process_table(&self) -> &ProcessTable {
        &self.table
    }

    /// The hostname from the header, if any.
    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_deref()
    }

    fn error(&self, message: impl Into<String>) -> RuntimeError {
        RuntimeError::Replay {
            file: self.file.clone(),
            line: self.line,
            message: message.into(),
        }
    }

    /// Read one line into `buf`, bounded; false at end of input.
    fn read_line(&mut self) -> Result<bool, RuntimeError> {
        self.buf.clear();
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(RuntimeError::ReplayRead {
                        file: self.file.clone(),
                        line: self.line + 1,
                        source,
                    })
                }
            };
            if available.is_empty() {
                return Ok(!self.buf.is_empty());
            }
            let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (available.get(..i).unwrap_or_default(), Some(i + 1)),
                None => (available, None),
            };
            if self.buf.len() + chunk.len() > MAX_LINE_BYTES {
                self.line += 1;
                return Err(self.error(format!("line longer than {MAX_LINE_BYTES} bytes")));
            }
            self.buf.extend_from_slice(chunk);
            let consumed = done.unwrap_or(available.len());
            self.input.consume(consumed);
            if done.is_some() {
                return Ok(true);
            }
        }
    }

    /// The next event, `None` at the end of the stream.
    pub fn next_event(&mut self) -> Result<Option<Event>, RuntimeError> {
        if let Some(pid) = self.pending_exit.take() {
            self.table.remove(pid);
        }
        while self.read_line()? {
            self.line += 1;
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim().to_string(),
                Err(e) => return Err(self.error(format!("not UTF-8: {e}"))),
            };
            if text.is_empty() {
                continue;
            }
            if let Some(event) = self.parse_line(&text)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    fn parse_line(&mut self, text: &str) -> Result<Option<Event>, RuntimeError> {
        // Most lines are events without `kind`: parse those straight into the event record.
        if !text.contains("\"kind\"") {
            let e: EventJson = serde_json::from_str(text).map_err(|e| {
                if e.is_syntax() || e.is_eof() {
                    self.error(format!("invalid JSON: {e}"))
                } else {
                    self.error(format!("bad event: {e}"))
                }
            })?;
            return self.build_event(e).map(Some);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| self.error(format!("invalid JSON: {e}")))?;
        let kind = match value.get("kind") {
            None => "event".to_string(),
            Some(Value::String(k)) => k.clone(),
            Some(_) => return Err(self.error("'kind' must be a string")),
        };
        match kind.as_str() {
            "header" => {
                if self.line != 1 {
                    return Err(self.error("the header must be the first line"));
                }
                let header: HeaderJson = serde_json::from_value(value)
                    .map_err(|e| self.error(format!("bad header: {e}")))?;
                if header.format != FORMAT_NAME {
                    return Err(self.error(format!(
                        "format is '{}', expected '{FORMAT_NAME}'",
                        header.format
                    )));
                }
                if header.version != FORMAT_VERSION {
                    return Err(self.error(format!(
                        "format version {} is not supported (this reader reads version {FORMAT_VERSION})",
                        header.version
                    )));
                }
                self.hostname = header.hostname;
                Ok(None)
            }
            "container" => {
                let c: ContainerJson = serde_json::from_value(value)
                    .map_err(|e| self.error(format!("bad container: {e}")))?;
                let info = container_info(c);
                self.containers.insert(info.id.clone(), Arc::new(info));
                Ok(None)
            }
            "process" => {
                let p: ProcJson = serde_json::from_value(value)
                    .map_err(|e| self.error(format!("bad process: {e}")))?;
                let pid = p.pid.ok_or_else(|| self.error("a process needs a 'pid'"))?;
                self.merge_proc(pid, p, 0)?;
                Ok(None)
            }
            "event" => {
                let e: EventJson = serde_json::from_value(value)
                    .map_err(|e| self.error(format!("bad event: {e}")))?;
                self.build_event(e).map(Some)
            }
            other => Err(self.error(format!("unknown line kind '{other}'"))),
        }
    }

    /// A successful exec replaces the program: the name, executable and arguments a forked child
    /// copied from its parent no longer hold, so the ones the event does not give are derived
    /// afresh (from `exepath`/`exe`) instead of staying the parent's.
    fn forget_old_image(&mut self, pid: i64, p: &ProcJson) {
        if p.exe.is_none() && p.exepath.is_none() && p.name.is_none() {
            return;
        }
        let Some(mut info) = self.table.get(pid).cloned() else {
            return;
        };
        if p.name.is_none() {
            info.name.clear();
        }
        if p.exe.is_none() {
            info.exe.clear();
        }
        if p.exepath.is_none() {
            info.exepath.clear();
        }
        if p.args.is_none() {
            info.args.clear();
        }
        self.table.insert(info);
    }

    /// Apply a process object to the table (and its nested parents first).
    fn merge_proc(&mut self, pid: i64, mut p: ProcJson, depth: usize) -> Result<(), RuntimeError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("'parent' nested deeper than {MAX_DEPTH}")));
        }
        if let Some(parent) = p.parent.take() {
            let ppid = match (parent.pid, p.ppid) {
                (Some(a), _) => a,
                (None, Some(b)) => b,
                (None, None) => {
                    return Err(self.error("a 'parent' needs a 'pid' (or the child a 'ppid')"))
                }
            };
            p.ppid = Some(ppid);
            self.merge_proc(ppid, *parent, depth + 1)?;
        }
        // A process first seen here starts in its parent's container, as a forked child does.
        let inherited_container = p
            .ppid
            .and_then(|ppid| self.table.get(ppid))
            .map_or_else(|| "host".to_string(), |parent| parent.container_id.clone());
        let mut info = self.table.get(pid).cloned().unwrap_or_else(|| ThreadInfo {
            pid,
            tid: pid,
            vpid: pid,
            vtid: pid,
            loginuid: -1,
            container_id: inherited_container,
            ..ThreadInfo::default()
        });
        if let Some(c) = p.container.take() {
            let c = container_info(c);
            info.container_id = c.id.clone();
            let c = Arc::new(c);
            self.containers
                .insert(info.container_id.clone(), Arc::clone(&c));
        }
        apply_proc(&mut info, p);
        info.container = if info.container_id == "host" {
            None
        } else {
            self.containers.get(&info.container_id).cloned()
        };
        info.refresh_derived();
        self.table.insert(info);
        Ok(())
    }

    fn build_event(&mut self, e: EventJson) -> Result<Event, RuntimeError> {
        let event_type = EventType::from_name(&e.event_type)
            .ok_or_else(|| self.error(format!("unknown event type '{}'", e.event_type)))?;
        let mut event = Event::new(event_type);
        event.num = e.num.unwrap_or(self.next_num);
        self.next_num = event.num.saturating_add(1);
        event.ts = match (e.ts, &e.time) {
            (Some(ts), _) => ts,
            (None, Some(t)) => {
                parse_time(t).ok_or_else(|| self.error(format!("'time' is not RFC 3339: {t}")))?
            }
            (None, None) => 0,
        };
        event.direction = match e.dir.as_deref() {
            None | Some("<") => sealwatch_rules::event::Direction::Exit,
            Some(">") => sealwatch_rules::event::Direction::Enter,
            Some(other) => {
                return Err(self.error(format!("'dir' must be '<' or '>', not '{other}'")))
            }
        };
        event.cpu = e.cpu.unwrap_or(0);
        event.args = match e.args {
            None => Vec::new(),
            Some(v) => parse_args(v).map_err(|m| self.error(m))?,
        };
        event.res = e.res;
        event.res_text = e.res_text;
        event.buffer = e.buffer.map(String::into_bytes);
        event.hostname = e.hostname.or_else(|| self.hostname.clone());
        if let Some(source) = e.source {
            event.source = source;
        }
        event.open_flags = match e.open {
            Some(o) => OpenFlags {
                read: o.read,
                write: o.write,
                exec: o.exec,
                create: o.create,
            },
            None => open_flags_from_args(&event),
        };
        let pid = e.pid.or_else(|| e.proc.as_ref().and_then(|p| p.pid));
        if let Some(p) = e.proc {
            let pid =
                pid.ok_or_else(|| self.error("'proc' needs a 'pid' (or the event a 'pid')"))?;
            let exec_succeeded =
                matches!(event_type.name(), "execve" | "execveat") && e.res.is_none_or(|r| r >= 0);
            if exec_succeeded {
                self.forget_old_image(pid, &p);
            }
            self.merge_proc(pid, p, 0)?;
        }
        if let Some(pid) = pid {
            let name = event_type.name();
            let succeeded = e.res.is_none_or(|r| r > 0);
            if matches!(name, "clone" | "clone3" | "fork" | "vfork") && succeeded {
                if let (Some(parent), Some(child_pid)) = (self.table.get(pid).cloned(), e.res) {
                    let mut child = parent;
                    child.pid = child_pid;
                    child.tid = child_pid;
                    child.vpid = child_pid;
                    child.vtid = child_pid;
                    child.ppid = pid;
                    child.start_ts = event.ts;
                    self.table.insert(child);
                }
                if let (Some(c), Some(child_pid)) = (e.child, e.res) {
                    self.merge_proc(child_pid, c, 0)?;
                }
            }
            event.thread = self.table.linked(pid);
            if let (Some(tid), Some(thread)) = (e.tid, event.thread.as_mut()) {
                Arc::make_mut(thread).tid = tid;
            }
            if name == "procexit" {
                self.pending_exit = Some(pid);
            }
        }
        if let Some(fd) = e.fd {
            event.fd = Some(fd_info(fd).map_err(|m| self.error(m))?);
        }
        event.refresh_derived();
        Ok(event)
    }
}

impl<R: BufRead> Iterator for ReplayReader<R> {
    type Item = Result<Event, RuntimeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

fn parse_time(text: &str) -> Option<u64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos()).ok()
}

fn parse_args(v: Value) -> Result<Vec<EventArg>, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        // Pairs keep kernel order, which `evt.arg[N]` needs.
        Value::Array(pairs) => pairs
            .iter()
            .map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(name), value]) => scalar(value)
                    .map(|value| EventArg {
                        name: name.clone(),
                        value,
                    })
                    .ok_or_else(|| format!("argument '{name}' must be a string, number or bool")),
                _ => Err("'args' as an array must hold [name, value] pairs".to_string()),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(name, value)| {
                scalar(value)
                    .map(|value| EventArg {
                        name: name.clone(),
                        value,
                    })
                    .ok_or_else(|| format!("argument '{name}' must be a string, number or bool"))
            })
            .collect(),
        _ => Err("'args' must be an object or an array of [name, value] pairs".to_string()),
    }
}

/// `evt.is_open_*` from the `flags` argument as libsinsp renders it (`O_RDWR|O_CREAT`).
fn open_flags_from_args(event: &Event) -> OpenFlags {
    let Some(flags) = event.arg("flags") else {
        return OpenFlags::default();
    };
    if !matches!(
        event.event_type.name(),
        "open" | "openat" | "openat2" | "creat" | "open_by_handle_at"
    ) {
        return OpenFlags::default();
    }
    let has = |f: &str| flags.split('|').any(|x| x.trim() == f);
    OpenFlags {
        read: has("O_RDONLY") || has("O_RDWR"),
        write: has("O_WRONLY") || has("O_RDWR"),
        exec: has("O_EXEC") || has("FMODE_EXEC"),
        create: has("O_CREAT"),
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn apply_proc(info: &mut ThreadInfo, p: ProcJson) {
    macro_rules! set {
        ($($field:ident => $target:ident),* $(,)?) => {
            $(if let Some(v) = p.$field { info.$target = v; })*
        };
    }
    set!(
        tid => tid, ppid => ppid, vpid => vpid, vtid => vtid, sid => sid, pgid => pgid,
        vpgid => vpgid, name => name, exe => exe, exepath => exepath, args => args, env => env,
        cwd => cwd, tty => tty, uid => uid, gid => gid, loginuid => loginuid,
        cap_permitted => cap_permitted, cap_effective => cap_effective,
        cap_inheritable => cap_inheritable, is_exe_writable => is_exe_writable,
        is_exe_upper_layer => is_exe_upper_layer, is_exe_lower_layer => is_exe_lower_layer,
        is_exe_from_memfd => is_exe_from_memfd, exe_ino => exe_ino,
        exe_ino_ctime => exe_ino_ctime, exe_ino_mtime => exe_ino_mtime,
        pidns_init_start_ts => pidns_init_start_ts, start_ts => start_ts,
        container_id => container_id,
    );
    if let Some(v) = p.user {
        info.user_name = Some(v);
    }
    if let Some(v) = p.homedir {
        info.user_homedir = Some(v);
    }
    if let Some(v) = p.shell {
        info.user_shell = Some(v);
    }
    if let Some(v) = p.loginname {
        info.loginname = Some(v);
    }
    if let Some(v) = p.group {
        info.group_name = Some(v);
    }
    let leader = |l: LeaderJson| LeaderInfo {
        name: l.name.unwrap_or_default(),
        exe: l.exe.unwrap_or_default(),
        exepath: l.exepath.unwrap_or_default(),
    };
    if let Some(l) = p.session_leader {
        info.session_leader = Some(leader(l));
    }
    if let Some(l) = p.vpgid_leader {
        info.vpgid_leader = Some(leader(l));
    }
    // Fill the names from each other, the way the kernel state relates them.
    if info.exepath.is_empty() && info.exe.starts_with('/') {
        info.exepath = info.exe.clone();
    }
    if info.exe.is_empty() {
        info.exe = if info.exepath.is_empty() {
            info.name.clone()
        } else {
            info.exepath.clone()
        };
    }
    if info.name.is_empty() {
        let from = if info.exepath.is_empty() {
            &info.exe
        } else {
            &info.exepath
        };
        // comm is at most 15 bytes in the kernel.
        info.name = basename(from).chars().take(15).collect();
    }
}

fn container_info(c: ContainerJson) -> ContainerInfo {
    let mounts: Vec<Mount> = c
        .mounts
        .into_iter()
        .map(|m| Mount {
            source: m.source.unwrap_or_default(),
            dest: m.dest,
            mode: m.mode.unwrap_or_default(),
            rdwr: m.rdwr.unwrap_or(true),
            propagation: m.propagation.unwrap_or_default(),
        })
        .collect();
    let (repo_from_image, tag_from_image) = match &c.image {
        Some(image) => split_image(image),
        None => (String::new(), String::new()),
    };
    let mut info = ContainerInfo {
        id: c.id,
        name: c.name.unwrap_or_default(),
        runtime: c.runtime.unwrap_or_else(|| "docker".to_string()),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        image_repository: c.image_repository.unwrap_or(repo_from_image),
        image_tag: c.image_tag.unwrap_or(tag_from_image),
        image_digest: c.image_digest.unwrap_or_default(),
        privileged: c.privileged,
        labels: c.labels,
        start_ts: c.start_ts,
        ip: c.ip,
        k8s_ns_name: c.k8s_ns_name,
        k8s_pod_name: c.k8s_pod_name,
        k8s_pod_uid: c.k8s_pod_uid,
        k8s_pod_labels: c.k8s_pod_labels,
        k8s_pod_annotations: c.k8s_pod_annotations,
        ..ContainerInfo::default()
    };
    info.set_mounts(mounts);
    info
}

/// `docker.io/library/nginx:1.25` → (`docker.io/library/nginx`, `1.25`); a digest is not a tag.
fn split_image(image: &str) -> (String, String) {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest
        .get(last_slash..)
        .and_then(|tail| tail.rfind(':'))
    {
        Some(colon) => {
            let at = last_slash + colon;
            (
                without_digest.get(..at).unwrap_or_default().to_string(),
                without_digest.get(at + 1..).unwrap_or_default().to_string(),
            )
        }
        None => (without_digest.to_string(), String::new()),
    }
}

fn fd_info(f: FdJson) -> Result<FdInfo, String> {
    let tuple = match f.tuple {
        None => None,
        Some(t) => {
            let l4proto = match t.proto.as_str() {
                "tcp" => L4Proto::Tcp,
                "udp" => L4Proto::Udp,
                "icmp" => L4Proto::Icmp,
                "raw" => L4Proto::Raw,
                other => return Err(format!("unknown fd tuple proto '{other}'")),
            };
            Some(SocketTuple {
                client_ip: t.cip,
                client_port: t.cport,
                server_ip: t.sip,
                server_port: t.sport,
                l4proto,
                is_server: t.server,
            })
        }
    };
    let fd_type = match (&f.fd_type, &tuple) {
        (Some(name), _) => {
            FdType::from_name(name).ok_or_else(|| format!("unknown fd type '{name}'"))?
        }
        (None, Some(t)) if t.server_ip.is_ipv6() => FdType::Ipv6Socket,
        (None, Some(_)) => FdType::Ipv4Socket,
        (None, None) => FdType::File,
    };
    let name = match (f.name, &tuple) {
        (Some(n), _) => n,
        (None, Some(t)) => {
            let ip = |ip: IpAddr| match ip {
                IpAddr::V4(v) => v.to_string(),
                IpAddr::V6(v) => v.to_string(),
            };
            format!(
                "{}:{}->{}:{}",
                ip(t.client_ip),
                t.client_port,
                ip(t.server_ip),
                t.server_port
            )
        }
        (None, None) => String::new(),
    };
    Ok(FdInfo {
        num: f.num.unwrap_or(3),
        fd_type,
        nameraw: f.nameraw.unwrap_or_else(|| name.clone()),
        name,
        connected: f.connected.unwrap_or(tuple.is_some()),
        tuple,
        name_changed: f.name_changed.unwrap_or(false),
        dev: f.dev.unwrap_or(0),
        ino: f.ino.unwrap_or(0),
        is_upper_layer: f.upper_layer.unwrap_or(false),
        is_lower_layer: f.lower_layer.unwrap_or(false),
        server_name: f.sip_name,
        client_name: f.cip_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Result<Vec<Event>, RuntimeError> {
        ReplayReader::new("t.jsonl", text.as_bytes()).collect()
    }

    #[test]
    fn exec_without_a_name_takes_it_from_the_new_program_not_the_parent() {
        let text = r#"{"kind":"process","pid":100,"ppid":1,"name":"containerd-shim","exepath":"/usr/bin/containerd-shim","args":["-namespace","k8s.io"]}
{"type":"clone","ts":5,"pid":100,"res":200}
{"type":"execve","ts":6,"pid":200,"res":0,"proc":{"exepath":"/bin/bash"}}
"#;
        let events: Vec<Event> = ReplayReader::new("t.jsonl", text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let thread = events[1]
            .thread
            .as_deref()
            .unwrap_or_else(|| panic!("thread"));
        assert_eq!(thread.name, "bash");
        assert_eq!(thread.exe, "/bin/bash");
        assert!(thread.args.is_empty(), "{:?}", thread.args);
        assert_eq!(thread.ppid, 100);
    }

    #[test]
    fn exec_after_clone_builds_the_process_tree() {
        let text = r#"{"kind":"header","format":"sealwatch-events","version":1,"hostname":"node-1"}
{"kind":"container","id":"c0ffee","name":"web","image":"docker.io/library/nginx:1.25"}
{"kind":"process","pid":100,"ppid":1,"name":"containerd-shim","exepath":"/usr/bin/containerd-shim"}
{"type":"clone","ts":5,"pid":100,"res":200}
{"type":"execve","ts":6,"pid":200,"res":0,"proc":{"exepath":"/bin/bash","name":"bash","args":["-i"],"container_id":"c0ffee","tty":34816}}
{"type":"procexit","ts":7,"pid":200}
{"type":"openat","ts":8,"pid":200,"args":[["fd","3"],["name","/etc/shadow"],["flags","O_RDONLY"]],"fd":{"name":"/etc/shadow"}}
"#;
        let events = read_all(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(events.len(), 4);
        let exec = &events[1];
        let thread = exec.thread.as_deref().expect("thread");
        assert_eq!(
            (thread.name.as_str(), thread.cmdline.as_str(), thread.tty),
            ("bash", "bash -i", 34816)
        );
        assert_eq!(
            thread.parent.as_deref().map(|p| p.name.as_str()),
            Some("containerd-shim")
        );
        let container = thread.container.as_deref().expect("container");
        assert_eq!(
            (container.name.as_str(), container.image_repository.as_str()),
            ("web", "docker.io/library/nginx")
        );
        assert_eq!(exec.hostname.as_deref(), Some("node-1"));
        // After procexit the process is gone: a later event of that pid has no thread.
        assert!(events[3].thread.is_none());
        assert!(events[3].open_flags.read && !events[3].open_flags.write);
        assert_eq!(events[3].arg("name"), Some("/etc/shadow"));
        assert_eq!(events[3].num, 4);
    }

    #[test]
    fn nested_parents_give_ancestors() {
        let text = r#"{"type":"execve","pid":30,"proc":{"name":"sh","parent":{"pid":20,"name":"node","parent":{"pid":10,"name":"sshd"}}}}"#;
        let events = read_all(text).unwrap_or_else(|e| panic!("{e}"));
        let t = events[0].thread.as_deref().expect("thread");
        let names: Vec<&str> = std::iter::once(t)
            .chain(t.ancestors())
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, vec!["sh", "node", "sshd"]);
        assert_eq!(t.container_id, "host");
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let check = |text: &str, line: u64, fragment: &str| match read_all(text) {
            Err(RuntimeError::Replay {
                file,
                line: l,
                message,
            }) => {
                assert_eq!((file.as_str(), l), ("t.jsonl", line), "{message}");
                assert!(message.contains(fragment), "{message}");
            }
            other => panic!("{text}: expected a replay error, got {other:?}"),
        };
        check("{\"type\":\"execve\"}\n\n{not json", 3, "invalid JSON");
        check(
            "{\"type\":\"nosuchcall\"}",
            1,
            "unknown event type 'nosuchcall'",
        );
        check(
            "{\"type\":\"execve\",\"colour\":1}",
            1,
            "unknown field `colour`",
        );
        check(
            "{\"kind\":\"header\",\"format\":\"sealwatch-events\",\"version\":2}",
            1,
            "version 2 is not supported",
        );
        check("{\"type\":\"open\"}\n{\"kind\":\"header\",\"format\":\"sealwatch-events\",\"version\":1}", 2, "first line");
        check("{\"kind\":\"blob\"}", 1, "unknown line kind");
        check(
            "{\"type\":\"execve\",\"args\":[[\"a\"]]}",
            1,
            "[name, value] pairs",
        );
        let long = format!(
            "{{\"type\":\"open\",\"args\":{{\"x\":\"{}\"}}}}",
            "a".repeat(MAX_LINE_BYTES)
        );
        check(&long, 1, "line longer than");
    }

    #[test]
    fn images_split_into_repository_and_tag() {
        let check = |image: &str, repo: &str, tag: &str| {
            assert_eq!(
                split_image(image),
                (repo.to_string(), tag.to_string()),
                "{image}"
            );
        };
        check("nginx", "nginx", "");
        check("registry:5000/team/app:v2", "registry:5000/team/app", "v2");
        check("alpine@sha256:abc", "alpine", "");
    }
}

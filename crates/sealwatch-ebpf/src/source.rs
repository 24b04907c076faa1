//! [`LiveSource`]: one live event stream over eBPF or cn_proc, with the process table.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sealwatch_rules::event::Event;

use crate::cnproc::CnProcSource;
use crate::cri::CriResolver;
use crate::ebpf::EbpfSource;
use crate::proctable::{parse_passwd, ProcessTable, TableStats};
use crate::wire::Record;
use crate::EbpfError;

/// Which kernel interface to read (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    Ebpf,
    CnProc,
    /// eBPF, else cn_proc.
    #[default]
    Auto,
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ebpf" => Ok(SourceKind::Ebpf),
            "cn_proc" | "cnproc" => Ok(SourceKind::CnProc),
            "auto" => Ok(SourceKind::Auto),
            other => Err(format!("unknown source '{other}' (ebpf, cn_proc, auto)")),
        }
    }
}

/// Settings of a live source.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub kind: SourceKind,
    /// eBPF ring buffer size in bytes (a power of two, page multiple).
    pub ring_buffer_bytes: u32,
    /// Processes tracked at most.
    pub max_processes: usize,
    /// Drop the agent's own syscalls (its /proc reads would otherwise be events).
    pub ignore_self: bool,
    /// Where procfs is mounted (`/proc`; `/host/proc` in a container).
    pub proc_root: PathBuf,
    /// `evt.hostname`.
    pub hostname: String,
    /// Path of the passwd file for `user.name`.
    pub passwd: PathBuf,
    /// The CRI runtime socket asked for container metadata (None: container ids only).
    pub cri_socket: Option<PathBuf>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            kind: SourceKind::Auto,
            ring_buffer_bytes: 8 * 1024 * 1024,
            max_processes: 65536,
            ignore_self: true,
            proc_root: PathBuf::from("/proc"),
            hostname: String::new(),
            passwd: PathBuf::from("/etc/passwd"),
            cri_socket: None,
        }
    }
}

/// Which backend runs, and what it cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveSource {
    Ebpf,
    /// The fallback; `ebpf_error` says why eBPF is not used (None when cn_proc was asked for).
    CnProc {
        ebpf_error: Option<String>,
    },
}

impl ActiveSource {
    /// A one-line description for the operator.
    pub fn describe(&self) -> String {
        match self {
            ActiveSource::Ebpf => {
                "eBPF (execve, execveat, fork, exit, open, openat, openat2, creat, connect, accept, accept4, socket, dup, dup2, dup3, ptrace, link, linkat, symlink, symlinkat, unlink, unlinkat, rename, renameat, renameat2, init_module, finit_module, sendto and sendmsg with a destination)".into()
            }
            ActiveSource::CnProc { ebpf_error } => {
                let why = ebpf_error
                    .as_deref()
                    .map(|e| format!(" because {e}"))
                    .unwrap_or_default();
                format!("cn_proc (reduced coverage: exec, fork and exit only, details read from /proc){why}")
            }
        }
    }
}

/// Counters for the operator and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Kernel records decoded.
    pub records: u64,
    /// Rule events produced.
    pub events: u64,
    /// eBPF records lost because the ring buffer was full (kernel-side counter).
    pub kernel_drops: u64,
    /// cn_proc socket overruns (ENOBUFS: an unknown number of events lost each time).
    pub netlink_overruns: u64,
    /// Records that did not decode.
    pub decode_errors: u64,
    /// Container metadata lookups asked of the CRI runtime, answered with metadata, failed
    /// (the container keeps `<NA>` metadata), and refused because the lookup queue was full.
    pub cri_lookups: u64,
    pub cri_answers: u64,
    pub cri_failures: u64,
    pub cri_refused: u64,
    pub table: TableStats,
}

enum Backend {
    Ebpf(Box<EbpfSource>),
    CnProc(CnProcSource),
}

/// Records decoded per wake-up at most: bounds the events buffered in user space.
const BATCH: usize = 512;

/// A live event stream.
pub struct LiveSource {
    backend: Backend,
    active: ActiveSource,
    table: ProcessTable,
    queue: VecDeque<Event>,
    batch: Vec<Record>,
    proc_root: PathBuf,
    /// Wall clock minus the backend's kernel clock, in ns.
    clock_offset: i128,
    self_pid: Option<u32>,
    records: u64,
    events: u64,
    cri: Option<CriResolver>,
    cri_lookups: u64,
    cri_answers: u64,
    cri_failures: u64,
    last_cri_error: Option<String>,
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    // SAFETY: all-zero is a valid timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable timespec for clock_gettime to fill.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl LiveSource {
    /// Attaches to the kernel first, then seeds the process table from /proc, so no process
    /// started in between is missed.
    pub fn start(config: &LiveConfig) -> Result<LiveSource, EbpfError> {
        let self_pid = std::process::id();
        let ignore = if config.ignore_self { self_pid } else { 0 };
        let (backend, active) = match config.kind {
            SourceKind::Ebpf => (
                Backend::Ebpf(Box::new(EbpfSource::open(
                    config.ring_buffer_bytes,
                    ignore,
                )?)),
                ActiveSource::Ebpf,
            ),
            SourceKind::CnProc => (
                Backend::CnProc(CnProcSource::open()?),
                ActiveSource::CnProc { ebpf_error: None },
            ),
            SourceKind::Auto => match EbpfSource::open(config.ring_buffer_bytes, ignore) {
                Ok(s) => (Backend::Ebpf(Box::new(s)), ActiveSource::Ebpf),
                Err(ebpf) => {
                    let ebpf = error_chain(&ebpf);
                    match CnProcSource::open() {
                        Ok(s) => (
                            Backend::CnProc(s),
                            ActiveSource::CnProc {
                                ebpf_error: Some(ebpf),
                            },
                        ),
                        Err(cn) => {
                            return Err(EbpfError::NoSource {
                                ebpf,
                                cn_proc: error_chain(&cn),
                            })
                        }
                    }
                }
            },
        };
        let kernel_clock = match backend {
            Backend::Ebpf(_) => libc::CLOCK_BOOTTIME,
            Backend::CnProc(_) => libc::CLOCK_MONOTONIC,
        };
        let clock_offset = clock_ns(libc::CLOCK_REALTIME) - clock_ns(kernel_clock);
        let users = std::fs::read_to_string(&config.passwd)
            .map(|t| parse_passwd(&t))
            .unwrap_or_default();
        let mut table =
            ProcessTable::with_capacity(config.max_processes, users, config.hostname.clone());
        table.seed_from_proc(&config.proc_root)?;
        let cri = match &config.cri_socket {
            Some(socket) => Some(CriResolver::start(socket)?),
            None => None,
        };
        Ok(LiveSource {
            backend,
            active,
            table,
            queue: VecDeque::new(),
            batch: Vec::with_capacity(BATCH),
            proc_root: config.proc_root.clone(),
            clock_offset,
            self_pid: config.ignore_self.then_some(self_pid),
            records: 0,
            events: 0,
            cri,
            cri_lookups: 0,
            cri_answers: 0,
            cri_failures: 0,
            last_cri_error: None,
        })
    }

    /// The CRI socket in use, if any.
    pub fn cri_socket(&self) -> Option<&std::path::Path> {
        self.cri.as_ref().map(CriResolver::socket)
    }

    /// The last failed container metadata lookup, for the operator.
    pub fn last_cri_error(&self) -> Option<&str> {
        self.last_cri_error.as_deref()
    }

    /// Takes in the runtime's answers and asks about containers seen since the last call.
    fn exchange_container_metadata(&mut self) {
        let new = self.table.take_new_containers();
        let Some(cri) = &mut self.cri else { return };
        while let Some(answer) = cri.try_answer() {
            match answer.result {
                Ok(metadata) => {
                    self.cri_answers += 1;
                    self.table
                        .set_container_metadata(&answer.container_id, &metadata);
                }
                Err(e) => {
                    self.cri_failures += 1;
                    self.last_cri_error = Some(e);
                }
            }
        }
        for id in new {
            self.cri_lookups += 1;
            cri.request(id);
        }
    }

    /// The backend in use.
    pub fn active(&self) -> &ActiveSource {
        &self.active
    }

    /// The process table (for inspection).
    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    pub fn stats(&self) -> SourceStats {
        let (kernel_drops, netlink_overruns, decode_errors) = match &self.backend {
            Backend::Ebpf(s) => (s.kernel_drops(), 0, s.decode_errors),
            Backend::CnProc(s) => (0, s.overruns, s.decode_errors),
        };
        SourceStats {
            records: self.records,
            events: self.events,
            kernel_drops,
            netlink_overruns,
            decode_errors,
            cri_lookups: self.cri_lookups,
            cri_answers: self.cri_answers,
            cri_failures: self.cri_failures,
            cri_refused: self.cri.as_ref().map_or(0, |c| c.refused),
            table: self.table.stats(),
        }
    }

    fn wall(&self, kernel_ns: u64) -> u64 {
        u64::try_from(i128::from(kernel_ns) + self.clock_offset).unwrap_or(0)
    }

    /// The next event, waiting at most `timeout`; `None` when none arrived in time.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, EbpfError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            let fd = match &self.backend {
                Backend::Ebpf(s) => s.raw_fd(),
                Backend::CnProc(s) => s.raw_fd(),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: `pfd` is one valid pollfd and the count passed is 1.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EINTR) {
                    return Err(EbpfError::Sys {
                        call: "poll",
                        context: "event source".into(),
                        source: err,
                    });
                }
            }
            self.exchange_container_metadata();
            self.batch.clear();
            match &mut self.backend {
                Backend::Ebpf(s) => s.drain(BATCH, &mut self.batch),
                Backend::CnProc(s) => s.drain(BATCH / 8, &mut self.batch)?,
            }
            let records = std::mem::take(&mut self.batch);
            for record in records.iter().cloned() {
                self.records += 1;
                let record = self.to_wall_clock(record);
                if let Some(e) = self.table.apply(record, &self.proc_root) {
                    let own = self.self_pid.is_some_and(|me| {
                        e.thread.as_ref().is_some_and(|t| t.pid == i64::from(me))
                            && e.event_type.name() != "clone"
                    });
                    if !own {
                        self.events += 1;
                        self.queue.push_back(e);
                    }
                }
            }
            self.batch = records;
            if self.queue.is_empty() && Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    fn to_wall_clock(&self, mut r: Record) -> Record {
        match &mut r {
            Record::Exec { ts, .. }
            | Record::ExecPid { ts, .. }
            | Record::Fork { ts, .. }
            | Record::Exit { ts, .. }
            | Record::Open { ts, .. }
            | Record::Connect { ts, .. }
            | Record::ExecFailed { ts, .. }
            | Record::Syscall { ts, .. } => *ts = self.wall(*ts),
        }
        r
    }
}

/// An error with its causes, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

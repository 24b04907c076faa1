//! The in-memory event the evaluator reads.
//!
//! Events are built by the event sources (the JSONL replay reader, the live eBPF source). The
//! evaluator only borrows from them: every string a field can return is stored in the event (or
//! in the shared process/container state it points to), so evaluating a condition never
//! allocates. Values Falco derives by concatenation (`proc.cmdline`, `proc.args`) are
//! precomputed by [`ThreadInfo::refresh_derived`], which sources call after filling a thread.

use std::net::IpAddr;
use std::sync::Arc;

/// Event type names, in a fixed order: the index is the [`EventType`] id. Syscall names as
/// libsinsp prints them in `evt.type`, followed by the meta events.
const EVENT_TYPE_NAMES: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "acct",
    "add_key",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "bind",
    "bpf",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chroot",
    "clock_adjtime",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "clock_settime",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "delete_module",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_init",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "finit_module",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsconfig",
    "fsetxattr",
    "fsmount",
    "fsopen",
    "fspick",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "init_module",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "ioperm",
    "iopl",
    "ioprio_get",
    "ioprio_set",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "modify_ldt",
    "mount",
    "mount_setattr",
    "move_mount",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "open_by_handle_at",
    "open_tree",
    "openat",
    "openat2",
    "pause",
    "perf_event_open",
    "personality",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pivot_root",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit",
    "prlimit64",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "pselect6",
    "ptrace",
    "pwrite",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "quotactl",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "reboot",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "request_key",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_mempolicy",
    "set_robust_list",
    "set_tid_address",
    "setdomainname",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "sethostname",
    "setitimer",
    "setns",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "setsid",
    "setsockopt",
    "settimeofday",
    "setuid",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statx",
    "swapoff",
    "swapon",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "syslog",
    "tee",
    "tgkill",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "umount",
    "umount2",
    "uname",
    "unlink",
    "unlinkat",
    "unshare",
    "userfaultfd",
    "ustat",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vhangup",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
    // meta events
    "procexit",
    "signaldeliver",
    "switch",
    "container",
    "procinfo",
    "cpu_hotplug",
    "drop",
    "infra",
    "notification",
    "page_fault",
    "pluginevent",
    "asyncevent",
    "k8s",
    "mesos",
    "scapevent",
    "tracer",
    "useradded",
    "userdeleted",
    "groupadded",
    "groupdeleted",
];

/// Maximum number of event types (the width of [`EventTypeSet`]).
pub const MAX_EVENT_TYPES: usize = 512;

const _: () = assert!(EVENT_TYPE_NAMES.len() <= MAX_EVENT_TYPES);

/// An event type: an index into the catalogue of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(u16);

impl EventType {
    /// Looks an event type up by its `evt.type` name.
    pub fn from_name(name: &str) -> Option<EventType> {
        EVENT_TYPE_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| u16::try_from(i).ok())
            .map(EventType)
    }

    /// The `evt.type` name.
    pub fn name(self) -> &'static str {
        EVENT_TYPE_NAMES
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("unknown")
    }

    /// The index of this type, below [`MAX_EVENT_TYPES`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// Every known event type.
    pub fn all() -> impl Iterator<Item = EventType> {
        (0..EVENT_TYPE_NAMES.len()).filter_map(|i| u16::try_from(i).ok().map(EventType))
    }

    /// Number of known event types.
    pub fn count() -> usize {
        EVENT_TYPE_NAMES.len()
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of event types (a bitset).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventTypeSet([u64; MAX_EVENT_TYPES / 64]);

impl EventTypeSet {
    pub const EMPTY: EventTypeSet = EventTypeSet([0; MAX_EVENT_TYPES / 64]);

    /// All known event types.
    pub fn all() -> EventTypeSet {
        let mut s = EventTypeSet::EMPTY;
        for t in EventType::all() {
            s.insert(t);
        }
        s
    }

    pub fn insert(&mut self, t: EventType) {
        if let Some(w) = self.0.get_mut(t.index() / 64) {
            *w |= 1 << (t.index() % 64);
        }
    }

    pub fn contains(&self, t: EventType) -> bool {
        self.0
            .get(t.index() / 64)
            .is_some_and(|w| w & (1 << (t.index() % 64)) != 0)
    }

    pub fn union(&self, other: &EventTypeSet) -> EventTypeSet {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0.iter()) {
            *a |= *b;
        }
        out
    }

    pub fn intersection(&self, other: &EventTypeSet) -> EventTypeSet {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0.iter()) {
            *a &= *b;
        }
        out
    }

    /// The known event types not in this set.
    pub fn complement(&self) -> EventTypeSet {
        let all = EventTypeSet::all();
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(all.0.iter()) {
            *a = !*a & *b;
        }
        out
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// Whether every known event type is in the set.
    pub fn is_all(&self) -> bool {
        *self == EventTypeSet::all()
    }

    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        EventType::all().filter(|t| self.contains(*t))
    }
}

impl std::fmt::Debug for EventTypeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(EventType::name))
            .finish()
    }
}

/// Event direction. libs 0.22+ (Falco 0.42+) only emit exit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    Enter,
    #[default]
    Exit,
}

/// One event argument, as libsinsp renders it (`flags` as `O_RDWR|O_CREAT`, `res` as a number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventArg {
    pub name: String,
    pub value: String,
}

/// A system-call event with the state the rules read.
#[derive(Debug, Clone)]
pub struct Event {
    /// `evt.num`: sequence number.
    pub num: u64,
    /// `evt.rawtime`: nanoseconds since the epoch.
    pub ts: u64,
    pub event_type: EventType,
    pub direction: Direction,
    /// `evt.cpu`.
    pub cpu: i16,
    /// Arguments in kernel order (`evt.arg[0]`, `evt.arg.name`, `evt.args`).
    pub args: Vec<EventArg>,
    /// `evt.args`: the arguments rendered `name=value ...` (precomputed by the source, or by
    /// [`Event::refresh_derived`]).
    pub args_text: String,
    /// `evt.rawres`: the return value, if the event has one.
    pub res: Option<i64>,
    /// `evt.res`: `SUCCESS` or the errno name (`ENOENT`), precomputed by the source.
    pub res_text: Option<String>,
    /// `evt.buffer`: I/O data, when captured.
    pub buffer: Option<Vec<u8>>,
    /// `evt.is_open_read`/`write`/`exec`/`create`, computed by the source from the open flags.
    pub open_flags: OpenFlags,
    /// `evt.hostname`.
    pub hostname: Option<String>,
    /// `evt.source`: `syscall` for kernel events.
    pub source: String,
    /// The thread that made the call, with its ancestors.
    pub thread: Option<Arc<ThreadInfo>>,
    /// The file descriptor the call used or created.
    pub fd: Option<FdInfo>,
}

/// What an open-family call asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenFlags {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub create: bool,
}

impl Event {
    /// A syscall exit event of type `event_type` with no state.
    pub fn new(event_type: EventType) -> Event {
        Event {
            num: 0,
            ts: 0,
            event_type,
            direction: Direction::Exit,
            cpu: 0,
            args: Vec::new(),
            args_text: String::new(),
            res: None,
            res_text: None,
            buffer: None,
            open_flags: OpenFlags::default(),
            hostname: None,
            source: "syscall".to_owned(),
            thread: None,
            fd: None,
        }
    }

    /// The value of argument `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Adds an argument (builder style).
    pub fn with_arg(mut self, name: &str, value: &str) -> Event {
        self.args.push(EventArg {
            name: name.to_owned(),
            value: value.to_owned(),
        });
        self
    }

    /// Recomputes `args_text` from `args`, and `res_text` from `res` when it is unset.
    pub fn refresh_derived(&mut self) {
        let mut text = String::new();
        for a in &self.args {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&a.name);
            text.push('=');
            text.push_str(&a.value);
        }
        self.args_text = text;
        if self.res_text.is_none() {
            if let Some(res) = self.res {
                self.res_text = Some(if res >= 0 {
                    "SUCCESS".to_owned()
                } else {
                    errno_name(-res).map_or_else(|| res.to_string(), str::to_owned)
                });
            }
        }
    }
}

/// The errno names Falco prints in `evt.res` for the common errors.
pub fn errno_name(errno: i64) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
        "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV",
        "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG",
        "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE",
    ];
    usize::try_from(errno)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .filter(|n| !n.is_empty())
}

/// A process (thread) with the state Falco keeps for it.
#[derive(Debug, Clone, Default)]
pub struct ThreadInfo {
    pub tid: i64,
    pub pid: i64,
    pub ppid: i64,
    pub vtid: i64,
    pub vpid: i64,
    pub sid: i64,
    pub vpgid: i64,
    pub pgid: i64,
    /// `proc.name`: the command name (comm, or the basename of the executable).
    pub name: String,
    /// `proc.exe`: argv\[0\].
    pub exe: String,
    /// `proc.exepath`: the full executable path.
    pub exepath: String,
    /// The arguments after argv\[0\].
    pub args: Vec<String>,
    /// `proc.env` entries, `NAME=value`.
    pub env: Vec<String>,
    pub cwd: String,
    /// `proc.tty`: the controlling terminal, 0 for none.
    pub tty: u32,
    pub uid: u32,
    pub gid: u32,
    /// `user.loginuid`: -1 when unset.
    pub loginuid: i64,
    pub user_name: Option<String>,
    pub user_homedir: Option<String>,
    pub user_shell: Option<String>,
    pub loginname: Option<String>,
    pub group_name: Option<String>,
    /// Capability sets as Falco renders them (`CAP_CHOWN CAP_KILL ...`).
    pub cap_permitted: String,
    pub cap_effective: String,
    pub cap_inheritable: String,
    pub is_exe_writable: bool,
    pub is_exe_upper_layer: bool,
    pub is_exe_lower_layer: bool,
    pub is_exe_from_memfd: bool,
    pub exe_ino: i64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub pidns_init_start_ts: u64,
    /// When the process started (ns since the epoch), for `proc.duration`.
    pub start_ts: u64,
    /// `container.id`: `host` for processes outside containers.
    pub container_id: String,
    pub container: Option<Arc<ContainerInfo>>,
    /// `proc.sname`, `proc.sid.exe`, `proc.sid.exepath`: the session leader.
    pub session_leader: Option<LeaderInfo>,
    /// `proc.vpgid.name` etc.: the process group leader.
    pub vpgid_leader: Option<LeaderInfo>,
    /// The parent (`proc.pname`, `proc.aname[1]`); the chain ends at init or where the process
    /// table has no state.
    pub parent: Option<Arc<ThreadInfo>>,
    /// `proc.cmdline` (`name arg1 arg2`), precomputed by [`ThreadInfo::refresh_derived`].
    pub cmdline: String,
    /// `proc.args` without index (`arg1 arg2`), precomputed.
    pub args_joined: String,
    /// `proc.exeline` (`exe arg1 arg2`), precomputed.
    pub exeline: String,
    /// `proc.env` without argument (`A=1 B=2`), precomputed.
    pub env_joined: String,
}

/// The few facts kept about a session or process-group leader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderInfo {
    pub name: String,
    pub exe: String,
    pub exepath: String,
}

impl ThreadInfo {
    /// Recomputes the derived strings (`cmdline`, `args_joined`, `exeline`, `env_joined`) after
    /// the name, exe, args or environment changed.
    pub fn refresh_derived(&mut self) {
        self.args_joined = self.args.join(" ");
        self.env_joined = self.env.join(" ");
        self.cmdline = if self.args.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, self.args_joined)
        };
        self.exeline = if self.args.is_empty() {
            self.exe.clone()
        } else {
            format!("{} {}", self.exe, self.args_joined)
        };
    }

    /// The `n`-th ancestor: 0 is this thread, 1 the parent.
    pub fn ancestor(&self, n: usize) -> Option<&ThreadInfo> {
        let mut cur = self;
        for _ in 0..n {
            cur = cur.parent.as_deref()?;
        }
        Some(cur)
    }

    /// The ancestors, parent first (this thread excluded).
    pub fn ancestors(&self) -> impl Iterator<Item = &ThreadInfo> {
        let mut cur = self.parent.as_deref();
        std::iter::from_fn(move || {
            let t = cur?;
            cur = t.parent.as_deref();
            Some(t)
        })
    }

    /// The value of environment variable `name`.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// File descriptor types, with the character `fd.typechar` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FdType {
    #[default]
    File,
    Directory,
    Ipv4Socket,
    Ipv6Socket,
    UnixSocket,
    Pipe,
    Event,
    Signalfd,
    EventPoll,
    Inotify,
    Timerfd,
    Netlink,
    Bpf,
    Userfaultfd,
    IoUring,
    Memfd,
    Pidfd,
    Unknown,
}

impl FdType {
    /// `fd.type`.
    pub fn name(self) -> &'static str {
        match self {
            FdType::File => "file",
            FdType::Directory => "directory",
            FdType::Ipv4Socket => "ipv4",
            FdType::Ipv6Socket => "ipv6",
            FdType::UnixSocket => "unix",
            FdType::Pipe => "pipe",
            FdType::Event => "event",
            FdType::Signalfd => "signalfd",
            FdType::EventPoll => "eventpoll",
            FdType::Inotify => "inotify",
            FdType::Timerfd => "timerfd",
            FdType::Netlink => "netlink",
            FdType::Bpf => "bpf",
            FdType::Userfaultfd => "userfaultfd",
            FdType::IoUring => "io_uring",
            FdType::Memfd => "memfd",
            FdType::Pidfd => "pidfd",
            FdType::Unknown => "unknown",
        }
    }

    /// `fd.typechar`.
    pub fn typechar(self) -> &'static str {
        match self {
            FdType::File => "f",
            FdType::Directory => "d",
            FdType::Ipv4Socket => "4",
            FdType::Ipv6Socket => "6",
            FdType::UnixSocket => "u",
            FdType::Pipe => "p",
            FdType::Event => "e",
            FdType::Signalfd => "s",
            FdType::EventPoll => "l",
            FdType::Inotify => "i",
            FdType::Timerfd => "t",
            FdType::Netlink => "n",
            FdType::Bpf => "b",
            FdType::Userfaultfd => "u",
            FdType::IoUring => "r",
            FdType::Memfd => "m",
            FdType::Pidfd => "P",
            FdType::Unknown => "o",
        }
    }

    /// Parses `fd.type` names.
    pub fn from_name(name: &str) -> Option<FdType> {
        [
            FdType::File,
            FdType::Directory,
            FdType::Ipv4Socket,
            FdType::Ipv6Socket,
            FdType::UnixSocket,
            FdType::Pipe,
            FdType::Event,
            FdType::Signalfd,
            FdType::EventPoll,
            FdType::Inotify,
            FdType::Timerfd,
            FdType::Netlink,
            FdType::Bpf,
            FdType::Userfaultfd,
            FdType::IoUring,
            FdType::Memfd,
            FdType::Pidfd,
            FdType::Unknown,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    pub fn is_socket(self) -> bool {
        matches!(
            self,
            FdType::Ipv4Socket | FdType::Ipv6Socket | FdType::UnixSocket
        )
    }
}

/// Layer-4 protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Proto {
    Tcp,
    Udp,
    Icmp,
    Raw,
}

impl L4Proto {
    pub fn name(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
        }
    }
}

/// A socket's tuple: client and server endpoints, and which side this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketTuple {
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub l4proto: L4Proto,
    /// This process is the server (it accepted the connection).
    pub is_server: bool,
}

impl SocketTuple {
    /// Local endpoint (`fd.lip`, `fd.lport`).
    pub fn local(&self) -> (IpAddr, u16) {
        if self.is_server {
            (self.server_ip, self.server_port)
        } else {
            (self.client_ip, self.client_port)
        }
    }

    /// Remote endpoint (`fd.rip`, `fd.rport`).
    pub fn remote(&self) -> (IpAddr, u16) {
        if self.is_server {
            (self.client_ip, self.client_port)
        } else {
            (self.server_ip, self.server_port)
        }
    }
}

/// A file descriptor.
#[derive(Debug, Clone, Default)]
pub struct FdInfo {
    pub num: i64,
    pub fd_type: FdType,
    /// `fd.name`: the path, or `cip:cport->sip:sport` for sockets.
    pub name: String,
    /// `fd.nameraw`: the name before path resolution.
    pub nameraw: String,
    pub tuple: Option<SocketTuple>,
    pub connected: bool,
    pub name_changed: bool,
    pub dev: i32,
    pub ino: i64,
    pub is_upper_layer: bool,
    pub is_lower_layer: bool,
    /// `fd.sip.name`: the DNS name the server address was resolved from, when the source knows it
    /// (Falco learns it from its DNS cache; a replay file records it).
    pub server_name: Option<String>,
    /// `fd.cip.name`: the DNS name of the client address, when known.
    pub client_name: Option<String>,
}

impl FdInfo {
    /// `fd.lip.name` / `fd.rip.name`: the local and remote names, by the socket's role.
    fn endpoint_names(&self) -> Option<(Option<&str>, Option<&str>)> {
        let t = self.tuple?;
        let (server, client) = (self.server_name.as_deref(), self.client_name.as_deref());
        Some(if t.is_server {
            (server, client)
        } else {
            (client, server)
        })
    }

    pub fn local_name(&self) -> Option<&str> {
        self.endpoint_names()?.0
    }

    pub fn remote_name(&self) -> Option<&str> {
        self.endpoint_names()?.1
    }

    /// `fd.directory`: the directory of a file, or the name of a directory.
    pub fn directory(&self) -> Option<&str> {
        match self.fd_type {
            FdType::Directory => Some(self.name.as_str()),
            FdType::File => {
                let idx = self.name.rfind('/')?;
                Some(if idx == 0 { "/" } else { &self.name[..idx] })
            }
            _ => None,
        }
    }

    /// `fd.filename`: the last path component of a file.
    pub fn filename(&self) -> Option<&str> {
        match self.fd_type {
            FdType::File => Some(match self.name.rfind('/') {
                Some(idx) => &self.name[idx + 1..],
                None => self.name.as_str(),
            }),
            _ => None,
        }
    }
}

/// A mount of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    pub source: String,
    pub dest: String,
    pub mode: String,
    pub rdwr: bool,
    pub propagation: String,
}

/// Container and Kubernetes metadata (Falco's container plugin fields).
#[derive(Debug, Clone, Default)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// `container.type`: `docker`, `containerd`, `cri-o`, ...
    pub runtime: String,
    pub image: String,
    pub image_id: String,
    pub image_repository: String,
    pub image_tag: String,
    pub image_digest: String,
    pub privileged: Option<bool>,
    pub mounts: Vec<Mount>,
    /// `container.mounts`, precomputed by the source.
    pub mounts_text: String,
    pub labels: Vec<(String, String)>,
    pub start_ts: Option<u64>,
    pub ip: Option<String>,
    pub k8s_ns_name: Option<String>,
    pub k8s_pod_name: Option<String>,
    pub k8s_pod_uid: Option<String>,
    pub k8s_pod_labels: Vec<(String, String)>,
    /// The Pod's annotations (for `kyverno.io/verify-images`, admission's verdict on the image).
    pub k8s_pod_annotations: Vec<(String, String)>,
}

impl ContainerInfo {
    /// Sets `mounts` and the `container.mounts` text Falco prints for them
    /// (`source:dest:mode:rdwr:propagation`, comma-separated).
    pub fn set_mounts(&mut self, mounts: Vec<Mount>) {
        self.mounts_text = mounts
            .iter()
            .map(|m| {
                format!(
                    "{}:{}:{}:{}:{}",
                    m.source, m.dest, m.mode, m.rdwr, m.propagation
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        self.mounts = mounts;
    }
}

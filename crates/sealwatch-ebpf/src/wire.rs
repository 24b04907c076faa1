//! Decoding of the records the kernel side writes (`struct sw_event` in
//! `src/bpf/sealwatch.bpf.c`) and of cn_proc netlink messages into [`Record`]s.
//!
//! Both decoders are pure and bounds-checked: a short or odd record is an error value, never a
//! panic, since a layout mismatch must not take the agent down.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Facts about the task that made a call, as the kernel saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFacts {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// `u32::MAX` when unset.
    pub loginuid: u32,
    pub comm: String,
    /// Leaf name of the task's cgroup v2 directory.
    pub cgroup_leaf: String,
    pub cgroup_id: u64,
}

/// One decoded kernel record. Timestamps are kernel clock nanoseconds (boot time for eBPF,
/// monotonic for cn_proc); the source converts them to wall time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A successful execve/execveat, with what the kernel knew (eBPF).
    Exec {
        ts: u64,
        task: TaskFacts,
        /// `execve` or `execveat`.
        syscall: &'static str,
        filename: String,
        argv: Vec<String>,
    },
    /// An execve/execveat that failed (the process keeps its old image).
    ExecFailed {
        ts: u64,
        task: TaskFacts,
        syscall: &'static str,
        filename: String,
        res: i64,
    },
    /// An exec known only by pid (cn_proc): the rest must come from /proc.
    ExecPid { ts: u64, pid: u32 },
    /// A new process (thread group).
    Fork {
        ts: u64,
        parent_pid: u32,
        child_pid: u32,
        parent: Option<TaskFacts>,
    },
    /// A process (thread group leader) exited.
    Exit { ts: u64, pid: u32, code: i64 },
    /// An open-family call returned.
    Open {
        ts: u64,
        task: TaskFacts,
        syscall: &'static str,
        path: String,
        flags: u32,
        mode: u32,
        res: i64,
    },
    /// A connect call returned.
    Connect {
        ts: u64,
        task: TaskFacts,
        fd: i64,
        addr: Option<PeerAddr>,
        /// The socket after the call (local address, protocol).
        sock: Option<SockFacts>,
        res: i64,
    },
    /// Any other followed syscall returned.
    Syscall {
        ts: u64,
        task: TaskFacts,
        call: Syscall,
        res: i64,
    },
}

/// The arguments of the other followed syscalls, by call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Syscall {
    /// accept/accept4: `sock` is the accepted connection (the fd is the result).
    Accept {
        syscall: &'static str,
        flags: Option<u32>,
        sock: Option<SockFacts>,
    },
    Socket {
        domain: u32,
        sock_type: u32,
        proto: u32,
    },
    /// dup/dup2/dup3: `sock` describes `oldfd` when it is a socket.
    Dup {
        syscall: &'static str,
        oldfd: i64,
        newfd: Option<i64>,
        flags: Option<u32>,
        sock: Option<SockFacts>,
    },
    Ptrace {
        request: u64,
        pid: i64,
        addr: u64,
        data: u64,
    },
    /// link/linkat/symlink/symlinkat/rename/renameat/renameat2: a source and a destination
    /// path, with directory fds for the `*at` forms.
    PathPair {
        syscall: &'static str,
        olddirfd: Option<i64>,
        oldpath: String,
        newdirfd: Option<i64>,
        newpath: String,
        flags: Option<u32>,
    },
    /// unlink/unlinkat.
    Unlink {
        syscall: &'static str,
        dirfd: Option<i64>,
        path: String,
        flags: Option<u32>,
    },
    /// init_module (image length) or finit_module (fd, flags), with the module parameters.
    Module {
        syscall: &'static str,
        fd: Option<i64>,
        length: Option<u64>,
        uargs: String,
        flags: Option<u32>,
    },
    /// sendto/sendmsg naming a destination address.
    Send {
        syscall: &'static str,
        fd: i64,
        size: Option<u64>,
        dest: Option<PeerAddr>,
        sock: Option<SockFacts>,
    },
}

/// What the kernel knows about a socket descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFacts {
    /// `AF_INET`, `AF_INET6`, `AF_UNIX`, ...
    pub family: u16,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ...
    pub sock_type: u16,
    /// `IPPROTO_TCP`, `IPPROTO_UDP`, ...
    pub proto: u16,
    /// `sk_state`: 1 (`TCP_ESTABLISHED`) for connected TCP and UDP sockets.
    pub state: u8,
    /// Local and remote endpoints (IPv4/IPv6 only; unspecified address and port 0 when unset).
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
}

/// The address a socket call named, as far as sealwatch decodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAddr {
    /// IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A unix-domain path; abstract names start with `@`, as `ss` and Falco print them.
    Unix(String),
}

/// A record that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Size of `struct sw_event`.
pub const SW_EVENT_SIZE: usize = 1568;
/// Size of a record without `str2` (the last field), which most kinds are.
pub const SW_EVENT_SHORT: usize = 544;
const OFF_COMM: usize = 80;
const OFF_CGROUP: usize = 96;
const OFF_STR1: usize = 224;
const OFF_STR2: usize = 544;
const LEN_STR1: usize = 256;
const LEN_STR2: usize = 1024;
const OFF_ARG2: usize = 480;
const OFF_ARG3: usize = 488;
const OFF_SOCK: usize = 496;

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_ne_bytes)
}

/// Decodes `struct sw_sock` at `off` (None unless the kernel marked it valid).
fn decode_sock(b: &[u8], off: usize) -> Option<SockFacts> {
    if *b.get(off + 11)? == 0 {
        return None;
    }
    let family = u16_at(b, off);
    let addr = |at: usize, port: u16| -> Option<SocketAddr> {
        let ip = match i32::from(family) {
            libc::AF_INET => {
                let v4: [u8; 4] = b.get(off + at..off + at + 4)?.try_into().ok()?;
                IpAddr::V4(Ipv4Addr::from(v4))
            }
            libc::AF_INET6 => {
                let v6: [u8; 16] = b.get(off + at..off + at + 16)?.try_into().ok()?;
                IpAddr::V6(Ipv6Addr::from(v6))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    };
    Some(SockFacts {
        family,
        sock_type: u16_at(b, off + 2),
        proto: u16_at(b, off + 4),
        state: *b.get(off + 10)?,
        local: addr(16, u16_at(b, off + 6)),
        remote: addr(32, u16_at(b, off + 8)),
    })
}

/// A directory-fd argument (`AT_FDCWD` is -100): the low 32 bits as a signed int.
fn dirfd(v: u64) -> i64 {
    i64::from(v as u32 as i32)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

/// The text of a NUL-terminated buffer (lossy UTF-8; Falco also replaces invalid bytes).
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
}

fn field(b: &[u8], off: usize, len: usize) -> &[u8] {
    b.get(off..off + len).unwrap_or_default()
}

/// Splits NUL-separated argv bytes (a trailing NUL ends the last argument).
pub fn split_argv(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&c| c == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Decodes a `struct sockaddr` (IPv4, IPv6 or unix; other families give `None`).
pub fn decode_sockaddr(b: &[u8]) -> Option<PeerAddr> {
    let family = u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?);
    match i32::from(family) {
        libc::AF_INET => {
            let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(PeerAddr::Inet(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(ip)),
                port,
            )))
        }
        libc::AF_INET6 => {
            let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(PeerAddr::Inet(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(ip)),
                port,
            )))
        }
        libc::AF_UNIX => {
            let path = b.get(2..)?;
            // An abstract name starts with a NUL and is not NUL-terminated; a path name is.
            let (prefix, raw) = match path.split_first() {
                Some((0, rest)) => ("@", rest),
                _ => ("", path),
            };
            let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
            let name = String::from_utf8_lossy(&raw[..end]);
            (!name.is_empty()).then(|| PeerAddr::Unix(format!("{prefix}{name}")))
        }
        _ => None,
    }
}

/// Decodes one ring-buffer record.
pub fn decode_bpf(b: &[u8]) -> Result<Record, WireError> {
    // A short record has no str2: `field` then reads it as empty whatever its length says.
    if b.len() < SW_EVENT_SHORT {
        return Err(WireError(format!(
            "record of {} bytes, expected {SW_EVENT_SHORT} or {SW_EVENT_SIZE}",
            b.len()
        )));
    }
    let kind = u32_at(b, 0);
    let task = TaskFacts {
        pid: u32_at(b, 4),
        tid: u32_at(b, 8),
        ppid: u32_at(b, 12),
        uid: u32_at(b, 16),
        gid: u32_at(b, 20),
        loginuid: u32_at(b, 76),
        comm: c_str(field(b, OFF_COMM, 16)),
        cgroup_leaf: c_str(field(b, OFF_CGROUP, OFF_STR1 - OFF_CGROUP)),
        cgroup_id: u64_at(b, 32),
    };
    let ts = u64_at(b, 24);
    let res = u64_at(b, 40) as i64;
    let arg0 = u64_at(b, 48);
    let arg1 = u64_at(b, 56);
    let nr = u32_at(b, 64);
    let str1_len = (u32_at(b, 68) as usize).min(LEN_STR1);
    let str2_len = (u32_at(b, 72) as usize).min(LEN_STR2);
    let str1 = field(b, OFF_STR1, str1_len);
    let str2 = field(b, OFF_STR2, str2_len);
    Ok(match kind {
        1 => Record::Exec {
            ts,
            syscall: if nr == 322 { "execveat" } else { "execve" },
            filename: c_str(str1),
            argv: split_argv(field(b, OFF_STR2, str2_len)),
            task,
        },
        2 => Record::Fork {
            ts,
            parent_pid: task.pid,
            child_pid: u32::try_from(res).unwrap_or(0),
            parent: Some(task),
        },
        3 => Record::Exit {
            ts,
            pid: task.pid,
            code: res,
        },
        4 => Record::Open {
            ts,
            syscall: match nr {
                2 => "open",
                85 => "creat",
                437 => "openat2",
                _ => "openat",
            },
            path: c_str(str1),
            flags: arg0 as u32,
            mode: arg1 as u32,
            res,
            task,
        },
        5 => Record::Connect {
            ts,
            fd: arg0 as i64,
            addr: decode_sockaddr(str1),
            sock: decode_sock(b, OFF_SOCK),
            res,
            task,
        },
        6 => {
            let arg2 = u64_at(b, OFF_ARG2);
            let arg3 = u64_at(b, OFF_ARG3);
            let sock = decode_sock(b, OFF_SOCK);
            let call = match nr {
                43 | 288 => Syscall::Accept {
                    syscall: if nr == 43 { "accept" } else { "accept4" },
                    flags: (nr == 288).then_some(arg1 as u32),
                    sock,
                },
                41 => Syscall::Socket {
                    domain: arg0 as u32,
                    sock_type: arg1 as u32,
                    proto: arg2 as u32,
                },
                32 | 33 | 292 => Syscall::Dup {
                    syscall: match nr {
                        32 => "dup",
                        33 => "dup2",
                        _ => "dup3",
                    },
                    oldfd: dirfd(arg0),
                    newfd: (nr != 32).then(|| dirfd(arg1)),
                    flags: (nr == 292).then_some(arg2 as u32),
                    sock,
                },
                101 => Syscall::Ptrace {
                    request: arg0,
                    pid: dirfd(arg1),
                    addr: arg2,
                    data: arg3,
                },
                86 | 82 | 88 => Syscall::PathPair {
                    syscall: match nr {
                        86 => "link",
                        82 => "rename",
                        _ => "symlink",
                    },
                    olddirfd: None,
                    oldpath: c_str(str1),
                    newdirfd: None,
                    newpath: c_str(str2),
                    flags: None,
                },
                266 => Syscall::PathPair {
                    syscall: "symlinkat",
                    olddirfd: None,
                    oldpath: c_str(str1),
                    newdirfd: Some(dirfd(arg1)),
                    newpath: c_str(str2),
                    flags: None,
                },
                265 | 264 | 316 => Syscall::PathPair {
                    syscall: match nr {
                        265 => "linkat",
                        264 => "renameat",
                        _ => "renameat2",
                    },
                    olddirfd: Some(dirfd(arg0)),
                    oldpath: c_str(str1),
                    newdirfd: Some(dirfd(arg1)),
                    newpath: c_str(str2),
                    flags: (nr != 264).then_some(arg2 as u32),
                },
                87 => Syscall::Unlink {
                    syscall: "unlink",
                    dirfd: None,
                    path: c_str(str1),
                    flags: None,
                },
                263 => Syscall::Unlink {
                    syscall: "unlinkat",
                    dirfd: Some(dirfd(arg0)),
                    path: c_str(str1),
                    flags: Some(arg2 as u32),
                },
                175 => Syscall::Module {
                    syscall: "init_module",
                    fd: None,
                    length: Some(arg1),
                    uargs: c_str(str1),
                    flags: None,
                },
                313 => Syscall::Module {
                    syscall: "finit_module",
                    fd: Some(dirfd(arg0)),
                    length: None,
                    uargs: c_str(str1),
                    flags: Some(arg2 as u32),
                },
                44 | 46 => Syscall::Send {
                    syscall: if nr == 44 { "sendto" } else { "sendmsg" },
                    fd: dirfd(arg0),
                    size: (nr == 44).then_some(arg1),
                    dest: decode_sockaddr(str1),
                    sock,
                },
                59 | 322 => {
                    return Ok(Record::ExecFailed {
                        ts,
                        syscall: if nr == 59 { "execve" } else { "execveat" },
                        filename: c_str(str1),
                        res,
                        task,
                    })
                }
                other => return Err(WireError(format!("unknown syscall number {other}"))),
            };
            Record::Syscall {
                ts,
                task,
                call,
                res,
            }
        }
        other => return Err(WireError(format!("unknown record kind {other}"))),
    })
}

/// The kinds of cn_proc events (`enum what` in `linux/cn_proc.h`).
const PROC_EVENT_FORK: u32 = 0x1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDR: usize = 16;
const CN_MSG_HDR: usize = 20;

/// Decodes one datagram from the process connector (one or more netlink messages, each a
/// `cn_msg` carrying a `proc_event`). Events other than fork/exec/exit are skipped.
pub fn decode_cn_proc(datagram: &[u8]) -> Result<Vec<Record>, WireError> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= NLMSG_HDR {
        let len = u32_at(rest, 0) as usize;
        if len < NLMSG_HDR || len > rest.len() {
            return Err(WireError(format!(
                "netlink message length {len} outside 16..={}",
                rest.len()
            )));
        }
        let msg = rest.get(..len).unwrap_or_default();
        let payload = msg.get(NLMSG_HDR..).unwrap_or_default();
        let data_len = payload
            .get(16..18)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u16::from_ne_bytes) as usize;
        let ev = payload
            .get(CN_MSG_HDR..CN_MSG_HDR + data_len)
            .ok_or_else(|| WireError(format!("cn_msg data of {data_len} bytes truncated")))?;
        if ev.len() >= 16 {
            let what = u32_at(ev, 0);
            let ts = u64_at(ev, 8);
            let u = ev.get(16..).unwrap_or_default();
            match what {
                // Only new thread groups: a child whose pid equals its tgid.
                PROC_EVENT_FORK if u.len() >= 16 && u32_at(u, 8) == u32_at(u, 12) => {
                    out.push(Record::Fork {
                        ts,
                        parent_pid: u32_at(u, 4),
                        child_pid: u32_at(u, 12),
                        parent: None,
                    });
                }
                PROC_EVENT_EXEC if u.len() >= 8 => out.push(Record::ExecPid {
                    ts,
                    pid: u32_at(u, 4),
                }),
                // Only the thread group leader's exit ends the process.
                PROC_EVENT_EXIT if u.len() >= 12 && u32_at(u, 0) == u32_at(u, 4) => {
                    out.push(Record::Exit {
                        ts,
                        pid: u32_at(u, 4),
                        code: i64::from(u32_at(u, 8)),
                    });
                }
                _ => {}
            }
        }
        // Messages are padded to 4 bytes.
        let next = (len + 3) & !3;
        rest = rest.get(next..).unwrap_or_default();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bpf_record(kind: u32, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut b = vec![0u8; SW_EVENT_SIZE];
        b[0..4].copy_from_slice(&kind.to_ne_bytes());
        b[4..8].copy_from_slice(&100u32.to_ne_bytes());
        b[8..12].copy_from_slice(&101u32.to_ne_bytes());
        b[12..16].copy_from_slice(&7u32.to_ne_bytes());
        b[16..20].copy_from_slice(&1000u32.to_ne_bytes());
        b[24..32].copy_from_slice(&55u64.to_ne_bytes());
        b[OFF_COMM..OFF_COMM + 4].copy_from_slice(b"bash");
        f(&mut b);
        b
    }

    #[test]
    fn decodes_exec_with_argv() {
        let b = bpf_record(1, |b| {
            b[OFF_STR1..OFF_STR1 + 9].copy_from_slice(b"/bin/bash");
            b[68..72].copy_from_slice(&10u32.to_ne_bytes());
            let argv = b"bash\0-c\0true\0";
            b[OFF_STR2..OFF_STR2 + argv.len()].copy_from_slice(argv);
            b[72..76].copy_from_slice(&(argv.len() as u32).to_ne_bytes());
        });
        match decode_bpf(&b) {
            Ok(Record::Exec {
                ts,
                task,
                syscall: "execve",
                filename,
                argv,
            }) => {
                assert_eq!(
                    (ts, task.pid, task.tid, task.ppid, task.uid),
                    (55, 100, 101, 7, 1000)
                );
                assert_eq!(task.comm, "bash");
                assert_eq!(filename, "/bin/bash");
                assert_eq!(argv, ["bash", "-c", "true"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_open_and_connect() {
        let b = bpf_record(4, |b| {
            b[OFF_STR1..OFF_STR1 + 11].copy_from_slice(b"/etc/shadow");
            b[68..72].copy_from_slice(&12u32.to_ne_bytes());
            b[40..48].copy_from_slice(&(-13i64).to_ne_bytes());
            b[64..68].copy_from_slice(&257u32.to_ne_bytes());
            b[48..56].copy_from_slice(&0o2000000u64.to_ne_bytes());
        });
        let got = decode_bpf(&b);
        assert!(
            matches!(&got, Ok(Record::Open { syscall: "openat", path, res: -13, flags: 0o2000000, .. }) if path == "/etc/shadow"),
            "{got:?}"
        );
        let b = bpf_record(5, |b| {
            let mut sa = [0u8; 16];
            sa[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            sa[2..4].copy_from_slice(&8080u16.to_be_bytes());
            sa[4..8].copy_from_slice(&[127, 0, 0, 1]);
            b[OFF_STR1..OFF_STR1 + 16].copy_from_slice(&sa);
            b[68..72].copy_from_slice(&16u32.to_ne_bytes());
            b[48..56].copy_from_slice(&3u64.to_ne_bytes());
        });
        let got = decode_bpf(&b);
        let want: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
        assert!(
            matches!(&got, Ok(Record::Connect { fd: 3, addr: Some(PeerAddr::Inet(a)), res: 0, .. }) if *a == want),
            "{got:?}"
        );
    }

    #[test]
    fn decodes_unix_socket_paths_and_abstract_names() {
        let mut sa = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        sa.extend_from_slice(b"/run/nscd/socket\0garbage");
        assert_eq!(
            decode_sockaddr(&sa),
            Some(PeerAddr::Unix("/run/nscd/socket".into()))
        );
        let mut sa = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        sa.extend_from_slice(b"\0dbus-abc");
        assert_eq!(
            decode_sockaddr(&sa),
            Some(PeerAddr::Unix("@dbus-abc".into()))
        );
        // An unnamed socket has nothing to report.
        let sa = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        assert_eq!(decode_sockaddr(&sa), None);
        let sa = (libc::AF_NETLINK as u16).to_ne_bytes().to_vec();
        assert_eq!(decode_sockaddr(&sa), None);
    }

    fn syscall_record(nr: u32, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        bpf_record(6, |b| {
            b[64..68].copy_from_slice(&nr.to_ne_bytes());
            f(b)
        })
    }

    fn put_str(b: &mut [u8], off: usize, len_off: usize, text: &[u8]) {
        b[off..off + text.len()].copy_from_slice(text);
        b[len_off..len_off + 4].copy_from_slice(&((text.len() + 1) as u32).to_ne_bytes());
    }

    fn put_u64(b: &mut [u8], off: usize, v: u64) {
        b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }

    fn call_of(b: &[u8]) -> Syscall {
        match decode_bpf(b) {
            Ok(Record::Syscall { call, .. }) => call,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_path_pair_calls_with_directory_fds() {
        let b = syscall_record(265, |b| {
            put_u64(b, 48, (-100i64) as u64);
            put_u64(b, 56, 7);
            put_u64(b, OFF_ARG2, 0x400);
            put_str(b, OFF_STR1, 68, b"/etc/shadow");
            put_str(b, OFF_STR2, 72, b"copy");
        });
        assert_eq!(
            call_of(&b),
            Syscall::PathPair {
                syscall: "linkat",
                olddirfd: Some(-100),
                oldpath: "/etc/shadow".into(),
                newdirfd: Some(7),
                newpath: "copy".into(),
                flags: Some(0x400),
            }
        );
        let b = syscall_record(88, |b| {
            put_str(b, OFF_STR1, 68, b"/etc");
            put_str(b, OFF_STR2, 72, b"/tmp/l");
        });
        assert!(
            matches!(call_of(&b), Syscall::PathPair { syscall: "symlink", olddirfd: None, ref newpath, .. } if newpath == "/tmp/l")
        );
        let b = syscall_record(263, |b| {
            put_u64(b, 48, 3);
            put_u64(b, OFF_ARG2, 0x200);
            put_str(b, OFF_STR1, 68, b"dir");
        });
        assert_eq!(
            call_of(&b),
            Syscall::Unlink {
                syscall: "unlinkat",
                dirfd: Some(3),
                path: "dir".into(),
                flags: Some(0x200)
            }
        );
    }

    #[test]
    fn decodes_socket_facts_for_dup_and_send() {
        let b = syscall_record(292, |b| {
            put_u64(b, 48, 4);
            put_u64(b, 56, 1);
            put_u64(b, OFF_ARG2, 0o2000000);
            let s = OFF_SOCK;
            b[s..s + 2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[s + 2..s + 4].copy_from_slice(&1u16.to_ne_bytes());
            b[s + 4..s + 6].copy_from_slice(&6u16.to_ne_bytes());
            b[s + 6..s + 8].copy_from_slice(&40000u16.to_ne_bytes());
            b[s + 8..s + 10].copy_from_slice(&443u16.to_ne_bytes());
            b[s + 10] = 1;
            b[s + 11] = 1;
            b[s + 16 + 15] = 1; // ::1
            b[s + 32..s + 34].copy_from_slice(&[0x20, 0x01]); // 2001::
        });
        let Syscall::Dup {
            syscall,
            oldfd,
            newfd,
            flags,
            sock: Some(sock),
        } = call_of(&b)
        else {
            panic!("not a dup with socket facts")
        };
        assert_eq!(
            (syscall, oldfd, newfd, flags),
            ("dup3", 4, Some(1), Some(0o2000000))
        );
        assert_eq!(sock.local, "[::1]:40000".parse().ok());
        assert_eq!(sock.remote, "[2001::]:443".parse().ok());
        assert_eq!((sock.proto, sock.state, sock.sock_type), (6, 1, 1));
        // Not marked valid: no facts, whatever the bytes say.
        let b = syscall_record(32, |b| b[OFF_SOCK] = 2);
        assert!(matches!(
            call_of(&b),
            Syscall::Dup {
                sock: None,
                newfd: None,
                flags: None,
                ..
            }
        ));

        let b = syscall_record(44, |b| {
            put_u64(b, 48, 5);
            put_u64(b, 56, 12);
            let mut sa = [0u8; 16];
            sa[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            sa[2..4].copy_from_slice(&53u16.to_be_bytes());
            sa[4..8].copy_from_slice(&[8, 8, 8, 8]);
            b[OFF_STR1..OFF_STR1 + 16].copy_from_slice(&sa);
            b[68..72].copy_from_slice(&16u32.to_ne_bytes());
        });
        assert!(
            matches!(call_of(&b), Syscall::Send { syscall: "sendto", fd: 5, size: Some(12), dest: Some(PeerAddr::Inet(a)), sock: None } if a.port() == 53)
        );
    }

    #[test]
    fn decodes_ptrace_socket_module_and_failed_exec() {
        let b = syscall_record(101, |b| {
            put_u64(b, 48, 16);
            put_u64(b, 56, 4242);
            put_u64(b, OFF_ARG2, 0x10);
            put_u64(b, OFF_ARG3, 0x20);
        });
        assert_eq!(
            call_of(&b),
            Syscall::Ptrace {
                request: 16,
                pid: 4242,
                addr: 0x10,
                data: 0x20
            }
        );
        let b = syscall_record(41, |b| {
            put_u64(b, 48, 17);
            put_u64(b, 56, 3);
            put_u64(b, OFF_ARG2, 768);
        });
        assert_eq!(
            call_of(&b),
            Syscall::Socket {
                domain: 17,
                sock_type: 3,
                proto: 768
            }
        );
        let b = syscall_record(313, |b| {
            put_u64(b, 48, u64::MAX);
            put_str(b, OFF_STR1, 68, b"debug=1");
        });
        assert!(
            matches!(call_of(&b), Syscall::Module { syscall: "finit_module", fd: Some(-1), ref uargs, .. } if uargs == "debug=1")
        );
        let b = syscall_record(322, |b| {
            b[40..48].copy_from_slice(&(-2i64).to_ne_bytes());
            put_str(b, OFF_STR1, 68, b"/nope");
        });
        assert!(
            matches!(decode_bpf(&b), Ok(Record::ExecFailed { syscall: "execveat", res: -2, ref filename, .. }) if filename == "/nope")
        );
        // A successful exec record says which call it was.
        let b = bpf_record(1, |b| b[64..68].copy_from_slice(&322u32.to_ne_bytes()));
        assert!(matches!(
            decode_bpf(&b),
            Ok(Record::Exec {
                syscall: "execveat",
                ..
            })
        ));
        assert!(decode_bpf(&syscall_record(9999, |_| {})).is_err());
    }

    #[test]
    fn short_records_decode_without_str2() {
        let mut b = bpf_record(4, |b| {
            put_str(b, OFF_STR1, 68, b"/etc/hosts");
            // A length claimed for the absent str2 must not be trusted.
            b[72..76].copy_from_slice(&100u32.to_ne_bytes());
        });
        b.truncate(SW_EVENT_SHORT);
        assert!(
            matches!(decode_bpf(&b), Ok(Record::Open { ref path, .. }) if path == "/etc/hosts")
        );
        let mut b = bpf_record(1, |b| b[72..76].copy_from_slice(&8u32.to_ne_bytes()));
        b.truncate(SW_EVENT_SHORT);
        assert!(matches!(decode_bpf(&b), Ok(Record::Exec { ref argv, .. }) if argv.is_empty()));
        b.truncate(SW_EVENT_SHORT - 1);
        assert!(decode_bpf(&b).is_err());
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        assert!(decode_bpf(&[0u8; 10]).is_err());
        assert!(decode_bpf(&bpf_record(99, |_| {})).is_err());
        // Lengths beyond the buffers are clamped, not trusted.
        let b = bpf_record(1, |b| b[72..76].copy_from_slice(&u32::MAX.to_ne_bytes()));
        assert!(decode_bpf(&b).is_ok());
    }

    #[test]
    fn argv_splitting() {
        let check = |input: &[u8], expect: &[&str]| assert_eq!(split_argv(input), expect);
        check(b"", &[]);
        check(b"true\0", &["true"]);
        check(b"a\0\0b\0", &["a", "", "b"]);
        check(b"a\0b", &["a", "b"]);
    }

    fn cn_message(what: u32, union: &[u32]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes());
        ev.extend_from_slice(&99u64.to_ne_bytes());
        for v in union {
            ev.extend_from_slice(&v.to_ne_bytes());
        }
        let mut cn = vec![0u8; CN_MSG_HDR];
        cn[0..4].copy_from_slice(&1u32.to_ne_bytes());
        cn[16..18].copy_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&ev);
        let mut msg = vec![0u8; NLMSG_HDR];
        msg[0..4].copy_from_slice(&((NLMSG_HDR + cn.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&cn);
        msg
    }

    #[test]
    fn decodes_cn_proc_messages() {
        let mut dgram = cn_message(PROC_EVENT_FORK, &[10, 10, 20, 20]);
        dgram.extend(cn_message(PROC_EVENT_FORK, &[10, 10, 21, 20])); // a thread: skipped
        dgram.extend(cn_message(PROC_EVENT_EXEC, &[20, 20]));
        dgram.extend(cn_message(PROC_EVENT_EXIT, &[20, 20, 256, 17]));
        dgram.extend(cn_message(0x4, &[20, 20, 0, 0])); // uid change: skipped
        let got = decode_cn_proc(&dgram);
        assert_eq!(
            got,
            Ok(vec![
                Record::Fork {
                    ts: 99,
                    parent_pid: 10,
                    child_pid: 20,
                    parent: None
                },
                Record::ExecPid { ts: 99, pid: 20 },
                Record::Exit {
                    ts: 99,
                    pid: 20,
                    code: 256
                },
            ])
        );
    }

    #[test]
    fn rejects_bad_netlink_lengths() {
        let mut m = cn_message(PROC_EVENT_EXEC, &[1, 1]);
        m[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(decode_cn_proc(&m).is_err());
        let mut m = cn_message(PROC_EVENT_EXEC, &[1, 1]);
        m[NLMSG_HDR + 16..NLMSG_HDR + 18].copy_from_slice(&500u16.to_ne_bytes());
        assert!(decode_cn_proc(&m).is_err());
        assert_eq!(decode_cn_proc(&[1, 2, 3]), Ok(vec![]));
    }
}

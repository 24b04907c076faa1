//! Reading field values out of an event without allocating.

use std::net::IpAddr;

use super::{FieldArg, FieldId, ResolvedField};
use crate::compile::glob::fnmatch;
use crate::event::{ContainerInfo, Direction, Event, FdType, Mount, ThreadInfo};

/// One extracted value, borrowed from the event. `Owned` is only produced for values built on
/// the fly (`evt.time`, transformer results, container mounts rendered whole).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Double(f64),
    Ip(IpAddr),
    Owned(String),
}

impl FieldValue<'_> {
    /// The value as a string slice when it is textual.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            FieldValue::Owned(s) => Some(s),
            _ => None,
        }
    }
}

impl std::fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Owned(s) => f.write_str(s),
            FieldValue::Bytes(b) => f.write_str(&String::from_utf8_lossy(b)),
            FieldValue::Int(v) => write!(f, "{v}"),
            FieldValue::Uint(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => f.write_str(if *v { "true" } else { "false" }),
            FieldValue::Double(v) => write!(f, "{v}"),
            FieldValue::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// An IP network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// Parses `addr/prefix`; a bare address is a host network.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Extracts a single value of a field, for output formatting. Fields that match any of several
/// values in conditions (`proc.aname` without index) print them joined by spaces.
pub fn extract<'e>(event: &'e Event, field: &ResolvedField) -> Option<FieldValue<'e>> {
    let mut first: Option<FieldValue<'e>> = None;
    let mut joined: Option<String> = None;
    extract_with(event, field, |v| {
        match (&mut first, &mut joined) {
            (None, _) => first = Some(v),
            (Some(f), None) => joined = Some(format!("{f} {v}")),
            (Some(_), Some(j)) => {
                j.push(' ');
                j.push_str(&v.to_string());
            }
        }
        false
    });
    match joined {
        Some(j) => Some(FieldValue::Owned(j)),
        None => first,
    }
}

fn thread(e: &Event) -> Option<&ThreadInfo> {
    e.thread.as_deref()
}

fn parent(e: &Event) -> Option<&ThreadInfo> {
    thread(e)?.parent.as_deref()
}

fn container(e: &Event) -> Option<&ContainerInfo> {
    thread(e)?.container.as_deref()
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Finds a mount by number or by a glob over `key_of` (source or destination).
fn find_mount<'c>(c: &'c ContainerInfo, arg: &FieldArg, by_dest: bool) -> Option<&'c Mount> {
    match arg {
        FieldArg::Index(i) => c.mounts.get(*i),
        FieldArg::Key(k) => {
            if let Ok(i) = k.parse::<usize>() {
                return c.mounts.get(i);
            }
            c.mounts.iter().find(|m| {
                let key = if by_dest { &m.dest } else { &m.source };
                fnmatch(k.as_bytes(), key.as_bytes(), false)
            })
        }
        FieldArg::None => None,
    }
}

fn key_lookup<'c>(pairs: &'c [(String, String)], arg: &FieldArg) -> Option<&'c str> {
    match arg {
        FieldArg::Key(k) => pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// Calls `visit` with each value the field extracts from `event`, until it returns true.
/// Returns whether `visit` returned true. Single-valued fields extract at most one value;
/// `proc.aname`/`apid`/`aexe`/... without index extract every ancestor's, and `fd.ip`/`fd.port`/
/// `fd.net` both endpoints'. A field that cannot be extracted calls `visit` zero times.
pub fn extract_with<'e, F>(event: &'e Event, field: &ResolvedField, mut visit: F) -> bool
where
    F: FnMut(FieldValue<'e>) -> bool,
{
    use FieldValue as V;
    let e = event;
    let arg = &field.arg;

    // Multi-valued fields first.
    match field.info.id {
        FieldId::ProcAName
        | FieldId::ProcAExe
        | FieldId::ProcAExePath
        | FieldId::ProcACmdline
        | FieldId::ProcAPid => {
            let Some(t) = thread(e) else { return false };
            let get = |a: &'e ThreadInfo| ancestor_value(field.info.id, a);
            return match arg {
                FieldArg::Index(n) => t.ancestor(*n).and_then(get).is_some_and(&mut visit),
                _ => t.ancestors().filter_map(get).any(&mut visit),
            };
        }
        FieldId::FdIp | FieldId::FdNet | FieldId::FdPort => {
            let Some(tuple) = e.fd.as_ref().and_then(|f| f.tuple) else {
                return false;
            };
            return if field.info.id == FieldId::FdPort {
                visit(V::Uint(u64::from(tuple.client_port)))
                    || visit(V::Uint(u64::from(tuple.server_port)))
            } else {
                visit(V::Ip(tuple.client_ip)) || visit(V::Ip(tuple.server_ip))
            };
        }
        _ => {}
    }

    single_value(event, field).is_some_and(visit)
}

/// Whether the field can extract several values (`proc.aname` without index, `fd.ip`).
pub(crate) fn is_multi_valued(field: &ResolvedField) -> bool {
    match field.info.id {
        FieldId::ProcAName
        | FieldId::ProcAExe
        | FieldId::ProcAExePath
        | FieldId::ProcACmdline
        | FieldId::ProcAPid => !matches!(field.arg, FieldArg::Index(_)),
        FieldId::FdIp | FieldId::FdNet | FieldId::FdPort => true,
        _ => false,
    }
}

/// The value of a single-valued field (`None` for multi-valued ones and when the event does
/// not have it).
pub(crate) fn single_value<'e>(event: &'e Event, field: &ResolvedField) -> Option<FieldValue<'e>> {
    use FieldValue as V;
    let e = event;
    let arg = &field.arg;
    match field.info.id {
        FieldId::Unsupported => None,
        // evt
        FieldId::EvtNum => Some(V::Uint(e.num)),
        FieldId::EvtTime => Some(V::Owned(format_time(e.ts))),
        FieldId::EvtRawTime => Some(V::Uint(e.ts)),
        FieldId::EvtRawTimeS => Some(V::Uint(e.ts / 1_000_000_000)),
        FieldId::EvtRawTimeNs => Some(V::Uint(e.ts % 1_000_000_000)),
        FieldId::EvtDir => Some(V::Str(match e.direction {
            Direction::Enter => ">",
            Direction::Exit => "<",
        })),
        FieldId::EvtType | FieldId::SyscallType => Some(V::Str(e.event_type.name())),
        FieldId::EvtTypeIs => match arg {
            FieldArg::Key(k) => Some(V::Uint(u64::from(e.event_type.name() == k))),
            _ => None,
        },
        FieldId::EvtCpu => Some(V::Int(i64::from(e.cpu))),
        FieldId::EvtArgs => Some(V::Str(&e.args_text)),
        FieldId::EvtArg | FieldId::EvtRawArg => match arg {
            FieldArg::Index(i) => e.args.get(*i).map(|a| V::Str(&a.value)),
            FieldArg::Key(k) => e.arg(k).map(V::Str),
            FieldArg::None => None,
        },
        FieldId::EvtBuffer => e.buffer.as_deref().map(V::Bytes),
        FieldId::EvtBufLen => e.buffer.as_ref().map(|b| V::Uint(b.len() as u64)),
        FieldId::EvtRes => e.res_text.as_deref().map(V::Str),
        FieldId::EvtRawRes => e.res.map(V::Int),
        FieldId::EvtFailed => e.res.map(|r| V::Bool(r < 0)),
        FieldId::EvtIsOpenRead => Some(V::Bool(e.open_flags.read)),
        FieldId::EvtIsOpenWrite => Some(V::Bool(e.open_flags.write)),
        FieldId::EvtIsOpenExec => Some(V::Bool(e.open_flags.exec)),
        FieldId::EvtIsOpenCreate => Some(V::Bool(e.open_flags.create)),
        FieldId::EvtSource => Some(V::Str(&e.source)),
        FieldId::EvtHostname => e.hostname.as_deref().map(V::Str),
        FieldId::EvtPluginName | FieldId::EvtPluginInfo => None,
        FieldId::EvtIsAsync => Some(V::Bool(false)),
        // proc
        FieldId::ProcName => thread(e).map(|t| V::Str(&t.name)),
        FieldId::ProcPName => parent(e).map(|t| V::Str(&t.name)),
        FieldId::ProcExe => thread(e).map(|t| V::Str(&t.exe)),
        FieldId::ProcPExe => parent(e).map(|t| V::Str(&t.exe)),
        FieldId::ProcExePath => thread(e).map(|t| V::Str(&t.exepath)),
        FieldId::ProcPExePath => parent(e).map(|t| V::Str(&t.exepath)),
        // As libsinsp: an index past the end extracts an empty string.
        FieldId::ProcArgs => thread(e).map(|t| match arg {
            FieldArg::Index(i) => V::Str(t.args.get(*i).map_or("", String::as_str)),
            _ => V::Str(&t.args_joined),
        }),
        FieldId::ProcCmdline => thread(e).map(|t| V::Str(&t.cmdline)),
        FieldId::ProcPCmdline => parent(e).map(|t| V::Str(&t.cmdline)),
        FieldId::ProcCmdNArgs => thread(e).map(|t| V::Uint(t.args.len() as u64)),
        FieldId::ProcCmdLenArgs => {
            thread(e).map(|t| V::Uint(t.args.iter().map(|a| a.len() as u64).sum()))
        }
        FieldId::ProcExeline => thread(e).map(|t| V::Str(&t.exeline)),
        // A missing variable extracts an empty string, as in libsinsp.
        FieldId::ProcEnv => thread(e).map(|t| match arg {
            FieldArg::Key(k) => V::Str(t.env_var(k).unwrap_or("")),
            _ => V::Str(&t.env_joined),
        }),
        // proc.aenv[NAME]: the variable as set in the nearest process (self first) that has it.
        FieldId::ProcAEnv => thread(e).map(|t| match arg {
            FieldArg::Key(k) => V::Str(
                std::iter::once(t)
                    .chain(t.ancestors())
                    .find_map(|a| a.env_var(k))
                    .unwrap_or(""),
            ),
            _ => V::Str(&t.env_joined),
        }),
        FieldId::ProcCwd => thread(e).map(|t| V::Str(&t.cwd)),
        FieldId::ProcTty => thread(e).map(|t| V::Uint(u64::from(t.tty))),
        FieldId::ProcPid => thread(e).map(|t| V::Int(t.pid)),
        FieldId::ProcPPid => thread(e).map(|t| V::Int(t.ppid)),
        FieldId::ProcVPid => thread(e).map(|t| V::Int(t.vpid)),
        FieldId::ProcPVPid => parent(e).map(|t| V::Int(t.vpid)),
        FieldId::ProcSid => thread(e).map(|t| V::Int(t.sid)),
        FieldId::ProcSName => thread(e)
            .and_then(|t| t.session_leader.as_ref())
            .map(|l| V::Str(&l.name)),
        FieldId::ProcSidExe => thread(e)
            .and_then(|t| t.session_leader.as_ref())
            .map(|l| V::Str(&l.exe)),
        FieldId::ProcSidExePath => thread(e)
            .and_then(|t| t.session_leader.as_ref())
            .map(|l| V::Str(&l.exepath)),
        FieldId::ProcVPgid => thread(e).map(|t| V::Int(t.vpgid)),
        FieldId::ProcVPgidName => thread(e)
            .and_then(|t| t.vpgid_leader.as_ref())
            .map(|l| V::Str(&l.name)),
        FieldId::ProcVPgidExe => thread(e)
            .and_then(|t| t.vpgid_leader.as_ref())
            .map(|l| V::Str(&l.exe)),
        FieldId::ProcVPgidExePath => thread(e)
            .and_then(|t| t.vpgid_leader.as_ref())
            .map(|l| V::Str(&l.exepath)),
        FieldId::ProcPgid => thread(e).map(|t| V::Int(t.pgid)),
        FieldId::ProcDuration => thread(e)
            .filter(|t| t.start_ts > 0)
            .map(|t| V::Uint(e.ts.saturating_sub(t.start_ts))),
        FieldId::ProcPPidDuration => parent(e)
            .filter(|t| t.start_ts > 0)
            .map(|t| V::Uint(e.ts.saturating_sub(t.start_ts))),
        FieldId::ProcPidTs => thread(e).map(|t| V::Uint(t.start_ts)),
        FieldId::ProcPPidTs => parent(e).map(|t| V::Uint(t.start_ts)),
        FieldId::ProcIsExeWritable => thread(e).map(|t| V::Bool(t.is_exe_writable)),
        FieldId::ProcIsExeUpperLayer => thread(e).map(|t| V::Bool(t.is_exe_upper_layer)),
        FieldId::ProcIsExeLowerLayer => thread(e).map(|t| V::Bool(t.is_exe_lower_layer)),
        FieldId::ProcIsExeFromMemfd => thread(e).map(|t| V::Bool(t.is_exe_from_memfd)),
        FieldId::ProcIsSidLeader => thread(e).map(|t| V::Bool(t.sid == t.vpid)),
        FieldId::ProcIsVPgidLeader => thread(e).map(|t| V::Bool(t.vpgid == t.vpid)),
        FieldId::ProcIsPgidLeader => thread(e).map(|t| V::Bool(t.pgid == t.pid)),
        FieldId::ProcExeIno => thread(e).map(|t| V::Int(t.exe_ino)),
        FieldId::ProcExeInoCtime => thread(e)
            .filter(|t| t.exe_ino_ctime > 0)
            .map(|t| V::Uint(t.exe_ino_ctime)),
        FieldId::ProcExeInoMtime => thread(e)
            .filter(|t| t.exe_ino_mtime > 0)
            .map(|t| V::Uint(t.exe_ino_mtime)),
        FieldId::ProcExeInoCtimeDurationProcStart => thread(e)
            .filter(|t| t.exe_ino_ctime > 0 && t.start_ts > 0)
            .map(|t| V::Uint(t.start_ts.saturating_sub(t.exe_ino_ctime))),
        FieldId::ProcPidnsInitStartTs => thread(e).map(|t| V::Uint(t.pidns_init_start_ts)),
        FieldId::ThreadCapPermitted => thread(e).map(|t| V::Str(&t.cap_permitted)),
        FieldId::ThreadCapInheritable => thread(e).map(|t| V::Str(&t.cap_inheritable)),
        FieldId::ThreadCapEffective => thread(e).map(|t| V::Str(&t.cap_effective)),
        FieldId::ThreadTid => thread(e).map(|t| V::Int(t.tid)),
        FieldId::ThreadVTid => thread(e).map(|t| V::Int(t.vtid)),
        FieldId::ThreadIsMain => thread(e).map(|t| V::Bool(t.tid == t.pid)),
        // user / group
        FieldId::UserUid => thread(e).map(|t| V::Uint(u64::from(t.uid))),
        FieldId::UserName => thread(e).and_then(|t| t.user_name.as_deref()).map(V::Str),
        FieldId::UserHomedir => thread(e)
            .and_then(|t| t.user_homedir.as_deref())
            .map(V::Str),
        FieldId::UserShell => thread(e).and_then(|t| t.user_shell.as_deref()).map(V::Str),
        FieldId::UserLoginUid => thread(e).map(|t| V::Int(t.loginuid)),
        FieldId::UserLoginName => thread(e).and_then(|t| t.loginname.as_deref()).map(V::Str),
        FieldId::GroupGid => thread(e).map(|t| V::Uint(u64::from(t.gid))),
        FieldId::GroupName => thread(e).and_then(|t| t.group_name.as_deref()).map(V::Str),
        // fd
        FieldId::FdNum => e.fd.as_ref().map(|f| V::Int(f.num)),
        FieldId::FdType => e.fd.as_ref().map(|f| V::Str(f.fd_type.name())),
        FieldId::FdTypeChar => e.fd.as_ref().map(|f| V::Str(f.fd_type.typechar())),
        FieldId::FdName => e.fd.as_ref().map(|f| V::Str(&f.name)),
        FieldId::FdNameRaw => e.fd.as_ref().map(|f| V::Str(&f.nameraw)),
        FieldId::FdDirectory => e.fd.as_ref().and_then(|f| f.directory()).map(V::Str),
        FieldId::FdFilename => e.fd.as_ref().and_then(|f| f.filename()).map(V::Str),
        FieldId::FdCip | FieldId::FdCNet => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Ip(t.client_ip))
        }
        FieldId::FdSip | FieldId::FdSNet => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Ip(t.server_ip))
        }
        FieldId::FdLip | FieldId::FdLNet => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Ip(t.local().0))
        }
        FieldId::FdRip | FieldId::FdRNet => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Ip(t.remote().0))
        }
        FieldId::FdCPort => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Uint(u64::from(t.client_port)))
        }
        FieldId::FdSPort => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Uint(u64::from(t.server_port)))
        }
        FieldId::FdLPort => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Uint(u64::from(t.local().1)))
        }
        FieldId::FdRPort => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Uint(u64::from(t.remote().1)))
        }
        FieldId::FdL4Proto => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Str(t.l4proto.name()))
        }
        FieldId::FdSockFamily => e.fd.as_ref().and_then(|f| match f.fd_type {
            FdType::Ipv4Socket | FdType::Ipv6Socket => Some(V::Str("ip")),
            FdType::UnixSocket => Some(V::Str("unix")),
            _ => None,
        }),
        FieldId::FdIsServer => {
            e.fd.as_ref()
                .and_then(|f| f.tuple)
                .map(|t| V::Bool(t.is_server))
        }
        FieldId::FdConnected => e.fd.as_ref().map(|f| V::Bool(f.connected)),
        FieldId::FdNameChanged => e.fd.as_ref().map(|f| V::Bool(f.name_changed)),
        FieldId::FdSipName => {
            e.fd.as_ref()
                .and_then(|f| f.server_name.as_deref())
                .map(V::Str)
        }
        FieldId::FdCipName => {
            e.fd.as_ref()
                .and_then(|f| f.client_name.as_deref())
                .map(V::Str)
        }
        FieldId::FdLipName => e.fd.as_ref().and_then(|f| f.local_name()).map(V::Str),
        FieldId::FdRipName => e.fd.as_ref().and_then(|f| f.remote_name()).map(V::Str),
        FieldId::FdDev => e.fd.as_ref().map(|f| V::Int(i64::from(f.dev))),
        FieldId::FdIno => e.fd.as_ref().map(|f| V::Int(f.ino)),
        FieldId::FdIsUpperLayer => e.fd.as_ref().map(|f| V::Bool(f.is_upper_layer)),
        FieldId::FdIsLowerLayer => e.fd.as_ref().map(|f| V::Bool(f.is_lower_layer)),
        // container plugin
        FieldId::ContainerId => thread(e)
            .and_then(|t| nonempty(&t.container_id))
            .map(V::Str),
        FieldId::ContainerName => match (container(e), thread(e)) {
            (Some(c), _) => nonempty(&c.name).map(V::Str),
            (None, Some(t)) if t.container_id == "host" => Some(V::Str("host")),
            _ => None,
        },
        FieldId::ContainerType => container(e).and_then(|c| nonempty(&c.runtime)).map(V::Str),
        FieldId::ContainerImage => container(e).and_then(|c| nonempty(&c.image)).map(V::Str),
        FieldId::ContainerImageId => container(e).and_then(|c| nonempty(&c.image_id)).map(V::Str),
        FieldId::ContainerImageRepository => container(e)
            .and_then(|c| nonempty(&c.image_repository))
            .map(V::Str),
        FieldId::ContainerImageTag => container(e)
            .and_then(|c| nonempty(&c.image_tag))
            .map(V::Str),
        FieldId::ContainerImageDigest => container(e)
            .and_then(|c| nonempty(&c.image_digest))
            .map(V::Str),
        FieldId::ContainerPrivileged => container(e).and_then(|c| c.privileged).map(V::Bool),
        FieldId::ContainerMounts => container(e).map(|c| V::Str(&c.mounts_text)),
        FieldId::ContainerMount => container(e)
            .and_then(|c| find_mount(c, arg, false))
            .map(|m| {
                V::Owned(format!(
                    "{}:{}:{}:{}:{}",
                    m.source, m.dest, m.mode, m.rdwr, m.propagation
                ))
            }),
        FieldId::ContainerMountSource => container(e)
            .and_then(|c| find_mount(c, arg, true))
            .map(|m| V::Str(&m.source)),
        FieldId::ContainerMountDest => container(e)
            .and_then(|c| find_mount(c, arg, false))
            .map(|m| V::Str(&m.dest)),
        FieldId::ContainerMountMode => container(e)
            .and_then(|c| find_mount(c, arg, false))
            .map(|m| V::Str(&m.mode)),
        FieldId::ContainerMountRdwr => container(e)
            .and_then(|c| find_mount(c, arg, false))
            .map(|m| V::Str(if m.rdwr { "true" } else { "false" })),
        FieldId::ContainerMountPropagation => container(e)
            .and_then(|c| find_mount(c, arg, false))
            .map(|m| V::Str(&m.propagation)),
        FieldId::ContainerLabel => container(e)
            .and_then(|c| key_lookup(&c.labels, arg))
            .map(V::Str),
        FieldId::ContainerStartTs => container(e).and_then(|c| c.start_ts).map(V::Uint),
        FieldId::ContainerDuration => container(e)
            .and_then(|c| c.start_ts)
            .map(|s| V::Uint(e.ts.saturating_sub(s))),
        FieldId::ContainerIp => container(e).and_then(|c| c.ip.as_deref()).map(V::Str),
        FieldId::K8sNsName => container(e)
            .and_then(|c| c.k8s_ns_name.as_deref())
            .map(V::Str),
        FieldId::K8sPodName => container(e)
            .and_then(|c| c.k8s_pod_name.as_deref())
            .map(V::Str),
        FieldId::K8sPodUid => container(e)
            .and_then(|c| c.k8s_pod_uid.as_deref())
            .map(V::Str),
        FieldId::K8sPodLabel => container(e)
            .and_then(|c| key_lookup(&c.k8s_pod_labels, arg))
            .map(V::Str),
        // An ancestor by index; without index these are multi-valued.
        FieldId::ProcAName
        | FieldId::ProcAExe
        | FieldId::ProcAExePath
        | FieldId::ProcACmdline
        | FieldId::ProcAPid => match arg {
            FieldArg::Index(n) => thread(e)
                .and_then(|t| t.ancestor(*n))
                .and_then(|a| ancestor_value(field.info.id, a)),
            _ => None,
        },
        FieldId::FdIp | FieldId::FdNet | FieldId::FdPort => None,
    }
}

/// The value of an ancestor field (`proc.aname` etc.) for one ancestor.
fn ancestor_value(id: FieldId, a: &ThreadInfo) -> Option<FieldValue<'_>> {
    match id {
        FieldId::ProcAName => nonempty(&a.name).map(FieldValue::Str),
        FieldId::ProcAExe => nonempty(&a.exe).map(FieldValue::Str),
        FieldId::ProcAExePath => nonempty(&a.exepath).map(FieldValue::Str),
        FieldId::ProcACmdline => nonempty(&a.cmdline).map(FieldValue::Str),
        FieldId::ProcAPid => Some(FieldValue::Int(a.pid)),
        _ => None,
    }
}

/// `evt.time`: `HH:MM:SS.nnnnnnnnn` (UTC).
fn format_time(ts: u64) -> String {
    let secs = ts / 1_000_000_000;
    let nanos = ts % 1_000_000_000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        day / 3600,
        (day / 60) % 60,
        day % 60,
        nanos
    )
}

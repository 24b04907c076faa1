//! The field table.

use super::flags::*;

/// libsinsp parameter types of fields (`PT_*`), the ones fields use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    Int16,
    Int32,
    Int64,
    Uint32,
    Uint64,
    AbsTime,
    RelTime,
    Bool,
    CharBuf,
    ByteBuf,
    Double,
    IpAddr,
    IpNet,
    Port,
    /// `evt.rawarg`: the type of the argument.
    Dyn,
}

impl FieldType {
    /// The libsinsp name (`PT_CHARBUF`).
    pub fn pt_name(self) -> &'static str {
        match self {
            FieldType::Int16 => "PT_INT16",
            FieldType::Int32 => "PT_INT32",
            FieldType::Int64 => "PT_INT64",
            FieldType::Uint32 => "PT_UINT32",
            FieldType::Uint64 => "PT_UINT64",
            FieldType::AbsTime => "PT_ABSTIME",
            FieldType::RelTime => "PT_RELTIME",
            FieldType::Bool => "PT_BOOL",
            FieldType::CharBuf => "PT_CHARBUF",
            FieldType::ByteBuf => "PT_BYTEBUF",
            FieldType::Double => "PT_DOUBLE",
            FieldType::IpAddr => "PT_IPADDR",
            FieldType::IpNet => "PT_IPNET",
            FieldType::Port => "PT_PORT",
            FieldType::Dyn => "PT_DYN",
        }
    }

    /// The lower-case name libsinsp uses in error messages (`param_type_to_string`).
    pub fn display_name(self) -> &'static str {
        match self {
            FieldType::Int16 => "INT16",
            FieldType::Int32 => "INT32",
            FieldType::Int64 => "INT64",
            FieldType::Uint32 => "UINT32",
            FieldType::Uint64 => "UINT64",
            FieldType::AbsTime => "ABSTIME",
            FieldType::RelTime => "RELTIME",
            FieldType::Bool => "BOOL",
            FieldType::CharBuf => "CHARBUF",
            FieldType::ByteBuf => "BYTEBUF",
            FieldType::Double => "DOUBLE",
            FieldType::IpAddr => "IPADDR",
            FieldType::IpNet => "IPNET",
            FieldType::Port => "PORT",
            FieldType::Dyn => "DYN",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int16
                | FieldType::Int32
                | FieldType::Int64
                | FieldType::Uint32
                | FieldType::Uint64
                | FieldType::AbsTime
                | FieldType::RelTime
                | FieldType::Double
                | FieldType::Port
        )
    }
}

/// What our event model extracts for a field. `Unsupported` fields are known to libsinsp and
/// type-check, but never extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldId {
    Unsupported,
    // evt
    EvtNum,
    EvtTime,
    EvtRawTime,
    EvtRawTimeS,
    EvtRawTimeNs,
    EvtDir,
    EvtType,
    EvtTypeIs,
    SyscallType,
    EvtCpu,
    EvtArgs,
    EvtArg,
    EvtRawArg,
    EvtBuffer,
    EvtBufLen,
    EvtRes,
    EvtRawRes,
    EvtFailed,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtIsOpenCreate,
    EvtSource,
    EvtHostname,
    EvtPluginName,
    EvtPluginInfo,
    EvtIsAsync,
    // proc / thread
    ProcName,
    ProcPName,
    ProcAName,
    ProcExe,
    ProcPExe,
    ProcAExe,
    ProcExePath,
    ProcPExePath,
    ProcAExePath,
    ProcArgs,
    ProcCmdline,
    ProcPCmdline,
    ProcACmdline,
    ProcCmdNArgs,
    ProcCmdLenArgs,
    ProcExeline,
    ProcEnv,
    ProcAEnv,
    ProcCwd,
    ProcTty,
    ProcPid,
    ProcPPid,
    ProcAPid,
    ProcVPid,
    ProcPVPid,
    ProcSid,
    ProcSName,
    ProcSidExe,
    ProcSidExePath,
    ProcVPgid,
    ProcVPgidName,
    ProcVPgidExe,
    ProcVPgidExePath,
    ProcPgid,
    ProcDuration,
    ProcPPidDuration,
    ProcPidTs,
    ProcPPidTs,
    ProcIsExeWritable,
    ProcIsExeUpperLayer,
    ProcIsExeLowerLayer,
    ProcIsExeFromMemfd,
    ProcIsSidLeader,
    ProcIsVPgidLeader,
    ProcIsPgidLeader,
    ProcExeIno,
    ProcExeInoCtime,
    ProcExeInoMtime,
    ProcExeInoCtimeDurationProcStart,
    ProcPidnsInitStartTs,
    ThreadCapPermitted,
    ThreadCapInheritable,
    ThreadCapEffective,
    ThreadTid,
    ThreadVTid,
    ThreadIsMain,
    // user / group
    UserUid,
    UserName,
    UserHomedir,
    UserShell,
    UserLoginUid,
    UserLoginName,
    GroupGid,
    GroupName,
    // fd
    FdNum,
    FdType,
    FdTypeChar,
    FdName,
    FdDirectory,
    FdFilename,
    FdIp,
    FdCip,
    FdSip,
    FdLip,
    FdRip,
    FdPort,
    FdCPort,
    FdSPort,
    FdLPort,
    FdRPort,
    FdL4Proto,
    FdSockFamily,
    FdIsServer,
    FdNet,
    FdCNet,
    FdSNet,
    FdLNet,
    FdRNet,
    FdConnected,
    FdNameChanged,
    FdCipName,
    FdSipName,
    FdLipName,
    FdRipName,
    FdDev,
    FdIno,
    FdNameRaw,
    FdIsUpperLayer,
    FdIsLowerLayer,
    // container plugin
    ContainerId,
    ContainerName,
    ContainerType,
    ContainerImage,
    ContainerImageId,
    ContainerImageRepository,
    ContainerImageTag,
    ContainerImageDigest,
    ContainerPrivileged,
    ContainerMounts,
    ContainerMount,
    ContainerMountSource,
    ContainerMountDest,
    ContainerMountMode,
    ContainerMountRdwr,
    ContainerMountPropagation,
    ContainerLabel,
    ContainerStartTs,
    ContainerDuration,
    ContainerIp,
    K8sNsName,
    K8sPodName,
    K8sPodUid,
    K8sPodLabel,
}

/// One field of the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: &'static str,
    pub ftype: FieldType,
    /// `super::flags` bits.
    pub flags: u16,
    pub id: FieldId,
}

impl FieldInfo {
    pub fn takes_arg(&self) -> bool {
        self.flags & (ARG_REQUIRED | ARG_ALLOWED) != 0
    }

    pub fn arg_required(&self) -> bool {
        self.flags & ARG_REQUIRED != 0
    }

    pub fn is_list(&self) -> bool {
        self.flags & IS_LIST != 0
    }

    /// Whether `val(field)` may reference it.
    pub fn allowed_on_rhs(&self) -> bool {
        self.flags & NO_RHS == 0
    }

    pub fn allows_transformers(&self) -> bool {
        self.flags & NO_TRANSFORMER == 0
    }

    /// The argument is an index (`proc.aname[2]`, `proc.args[1]`).
    pub(crate) fn numeric_arg(&self) -> bool {
        matches!(
            self.id,
            FieldId::ProcAName
                | FieldId::ProcAExe
                | FieldId::ProcAExePath
                | FieldId::ProcACmdline
                | FieldId::ProcAPid
                | FieldId::ProcArgs
        )
    }

    /// The argument is an index or a name (`evt.arg[0]`, `evt.arg.flags`).
    pub(crate) fn index_or_key_arg(&self) -> bool {
        matches!(self.id, FieldId::EvtArg | FieldId::EvtRawArg)
    }
}

macro_rules! fields {
    ($( $name:literal, $ty:ident, $flags:expr, $id:ident; )*) => {
        static FIELDS: &[FieldInfo] = &[
            $( FieldInfo { name: $name, ftype: FieldType::$ty, flags: $flags, id: FieldId::$id }, )*
        ];
    };
}

const FO_RHS: u16 = FILTER_ONLY | NO_RHS | NO_TRANSFORMER;
const ANCESTOR: u16 = ARG_ALLOWED | NO_RHS | NO_TRANSFORMER;

fields! {
    "evt.latency", RelTime, DEPRECATED, Unsupported;
    "evt.latency.s", RelTime, DEPRECATED, Unsupported;
    "evt.latency.ns", RelTime, DEPRECATED, Unsupported;
    "evt.latency.quantized", Uint64, TABLE_ONLY | DEPRECATED, Unsupported;
    "evt.latency.human", CharBuf, DEPRECATED, Unsupported;
    "evt.deltatime", RelTime, NONE, Unsupported;
    "evt.deltatime.s", RelTime, NONE, Unsupported;
    "evt.deltatime.ns", RelTime, NONE, Unsupported;
    "evt.outputtime", CharBuf, PRINT_ONLY, Unsupported;
    "evt.dir", CharBuf, DEPRECATED, EvtDir;
    "evt.type", CharBuf, NONE, EvtType;
    "evt.type.is", Uint32, ARG_REQUIRED | DOTTED_ARG, EvtTypeIs;
    "syscall.type", CharBuf, NONE, SyscallType;
    "evt.category", CharBuf, NONE, Unsupported;
    "evt.cpu", Int16, NONE, EvtCpu;
    "evt.args", CharBuf, NONE, EvtArgs;
    "evt.arg", CharBuf, ARG_REQUIRED | DOTTED_ARG, EvtArg;
    "evt.rawarg", Dyn, ARG_REQUIRED | DOTTED_ARG | NO_RHS | NO_TRANSFORMER, EvtRawArg;
    "evt.info", CharBuf, NONE, Unsupported;
    "evt.buffer", ByteBuf, NONE, EvtBuffer;
    "evt.buflen", Uint64, NONE, EvtBufLen;
    "evt.res", CharBuf, NONE, EvtRes;
    "evt.rawres", Int64, NONE, EvtRawRes;
    "evt.failed", Bool, NONE, EvtFailed;
    "evt.is_io", Bool, NONE, Unsupported;
    "evt.is_io_read", Bool, NONE, Unsupported;
    "evt.is_io_write", Bool, NONE, Unsupported;
    "evt.io_dir", CharBuf, NONE, Unsupported;
    "evt.is_wait", Bool, NONE, Unsupported;
    "evt.wait_latency", RelTime, DEPRECATED, Unsupported;
    "evt.is_syslog", Bool, NONE, Unsupported;
    "evt.count", Uint32, NONE, Unsupported;
    "evt.count.error", Uint32, NONE, Unsupported;
    "evt.count.error.file", Uint32, NONE, Unsupported;
    "evt.count.error.net", Uint32, NONE, Unsupported;
    "evt.count.error.memory", Uint32, NONE, Unsupported;
    "evt.count.error.other", Uint32, NONE, Unsupported;
    "evt.count.exit", Uint32, NONE, Unsupported;
    "evt.count.procinfo", Uint32, TABLE_ONLY, Unsupported;
    "evt.count.threadinfo", Uint32, TABLE_ONLY, Unsupported;
    "evt.around", Uint64, FILTER_ONLY | ARG_REQUIRED | NO_RHS | NO_TRANSFORMER, Unsupported;
    "evt.abspath", CharBuf, ARG_REQUIRED, Unsupported;
    "evt.buflen.in", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.out", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.file", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.file.in", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.file.out", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.net", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.net.in", Uint64, TABLE_ONLY, Unsupported;
    "evt.buflen.net.out", Uint64, TABLE_ONLY, Unsupported;
    "evt.is_open_read", Bool, NONE, EvtIsOpenRead;
    "evt.is_open_write", Bool, NONE, EvtIsOpenWrite;
    "evt.is_open_exec", Bool, NONE, EvtIsOpenExec;
    "evt.is_open_create", Bool, NONE, EvtIsOpenCreate;
    "evt.num", Uint64, NONE, EvtNum;
    "evt.time", CharBuf, NONE, EvtTime;
    "evt.time.s", CharBuf, NONE, Unsupported;
    "evt.time.iso8601", CharBuf, NONE, Unsupported;
    "evt.datetime", CharBuf, NONE, Unsupported;
    "evt.datetime.s", CharBuf, NONE, Unsupported;
    "evt.rawtime", AbsTime, NONE, EvtRawTime;
    "evt.rawtime.s", AbsTime, NONE, EvtRawTimeS;
    "evt.rawtime.ns", AbsTime, NONE, EvtRawTimeNs;
    "evt.reltime", RelTime, NONE, Unsupported;
    "evt.reltime.s", RelTime, NONE, Unsupported;
    "evt.reltime.ns", RelTime, NONE, Unsupported;
    "evt.pluginname", CharBuf, NONE, EvtPluginName;
    "evt.plugininfo", CharBuf, NONE, EvtPluginInfo;
    "evt.source", CharBuf, NONE, EvtSource;
    "evt.is_async", Bool, NONE, EvtIsAsync;
    "evt.asynctype", CharBuf, NONE, Unsupported;
    "evt.hostname", CharBuf, NONE, EvtHostname;
    "fd.num", Int64, NONE, FdNum;
    "fd.type", CharBuf, NONE, FdType;
    "fd.typechar", CharBuf, NONE, FdTypeChar;
    "fd.name", CharBuf, NONE, FdName;
    "fd.directory", CharBuf, NONE, FdDirectory;
    "fd.filename", CharBuf, NONE, FdFilename;
    "fd.ip", IpAddr, FO_RHS, FdIp;
    "fd.cip", IpAddr, NONE, FdCip;
    "fd.sip", IpAddr, NONE, FdSip;
    "fd.lip", IpAddr, NONE, FdLip;
    "fd.rip", IpAddr, NONE, FdRip;
    "fd.port", Port, FO_RHS, FdPort;
    "fd.cport", Port, NONE, FdCPort;
    "fd.sport", Port, NONE, FdSPort;
    "fd.lport", Port, NONE, FdLPort;
    "fd.rport", Port, NONE, FdRPort;
    "fd.l4proto", CharBuf, NONE, FdL4Proto;
    "fd.sockfamily", CharBuf, NONE, FdSockFamily;
    "fd.is_server", Bool, NONE, FdIsServer;
    "fd.uid", CharBuf, NONE, Unsupported;
    "fd.containername", CharBuf, NONE, Unsupported;
    "fd.containerdirectory", CharBuf, NONE, Unsupported;
    "fd.proto", Port, FO_RHS, Unsupported;
    "fd.cproto", CharBuf, NONE, Unsupported;
    "fd.sproto", CharBuf, NONE, Unsupported;
    "fd.lproto", CharBuf, NONE, Unsupported;
    "fd.rproto", CharBuf, NONE, Unsupported;
    "fd.net", IpNet, FO_RHS, FdNet;
    "fd.cnet", IpNet, FO_RHS, FdCNet;
    "fd.snet", IpNet, FO_RHS, FdSNet;
    "fd.lnet", IpNet, FO_RHS, FdLNet;
    "fd.rnet", IpNet, FO_RHS, FdRNet;
    "fd.connected", Bool, NONE, FdConnected;
    "fd.name_changed", Bool, NONE, FdNameChanged;
    "fd.cip.name", CharBuf, NO_RHS | NO_TRANSFORMER, FdCipName;
    "fd.sip.name", CharBuf, NO_RHS | NO_TRANSFORMER, FdSipName;
    "fd.lip.name", CharBuf, NO_RHS | NO_TRANSFORMER, FdLipName;
    "fd.rip.name", CharBuf, NO_RHS | NO_TRANSFORMER, FdRipName;
    "fd.dev", Int32, NONE, FdDev;
    "fd.dev.major", Int32, NONE, Unsupported;
    "fd.dev.minor", Int32, NONE, Unsupported;
    "fd.ino", Int64, NONE, FdIno;
    "fd.nameraw", CharBuf, NONE, FdNameRaw;
    "fd.types", CharBuf, IS_LIST | ARG_ALLOWED | NO_RHS, Unsupported;
    "fd.is_upper_layer", Bool, NONE, FdIsUpperLayer;
    "fd.is_lower_layer", Bool, NONE, FdIsLowerLayer;
    "fdlist.nums", CharBuf, NONE, Unsupported;
    "fdlist.names", CharBuf, NONE, Unsupported;
    "fdlist.cips", CharBuf, NONE, Unsupported;
    "fdlist.sips", CharBuf, NONE, Unsupported;
    "fdlist.cports", CharBuf, NONE, Unsupported;
    "fdlist.sports", CharBuf, NONE, Unsupported;
    "fs.path.name", CharBuf, NONE, Unsupported;
    "fs.path.nameraw", CharBuf, NONE, Unsupported;
    "fs.path.source", CharBuf, NONE, Unsupported;
    "fs.path.sourceraw", CharBuf, NONE, Unsupported;
    "fs.path.target", CharBuf, NONE, Unsupported;
    "fs.path.targetraw", CharBuf, NONE, Unsupported;
    "group.gid", Uint32, NONE, GroupGid;
    "group.name", CharBuf, NONE, GroupName;
    "proc.exe", CharBuf, NONE, ProcExe;
    "proc.pexe", CharBuf, NONE, ProcPExe;
    "proc.aexe", CharBuf, ANCESTOR, ProcAExe;
    "proc.exepath", CharBuf, NONE, ProcExePath;
    "proc.pexepath", CharBuf, NONE, ProcPExePath;
    "proc.aexepath", CharBuf, ANCESTOR, ProcAExePath;
    "proc.name", CharBuf, NONE, ProcName;
    "proc.pname", CharBuf, NONE, ProcPName;
    "proc.aname", CharBuf, ANCESTOR, ProcAName;
    "proc.args", CharBuf, ARG_ALLOWED, ProcArgs;
    "proc.aargs", CharBuf, ARG_ALLOWED, Unsupported;
    "proc.cmdline", CharBuf, NONE, ProcCmdline;
    "proc.pcmdline", CharBuf, NONE, ProcPCmdline;
    "proc.acmdline", CharBuf, ANCESTOR, ProcACmdline;
    "proc.cmdnargs", Uint64, NONE, ProcCmdNArgs;
    "proc.cmdlenargs", Uint64, NONE, ProcCmdLenArgs;
    "proc.exeline", CharBuf, NONE, ProcExeline;
    "proc.env", CharBuf, ARG_ALLOWED, ProcEnv;
    "proc.aenv", CharBuf, ANCESTOR, ProcAEnv;
    "proc.cwd", CharBuf, NONE, ProcCwd;
    "proc.loginshellid", Int64, NONE, Unsupported;
    "proc.tty", Uint32, NONE, ProcTty;
    "proc.pid", Int64, NONE, ProcPid;
    "proc.ppid", Int64, NONE, ProcPPid;
    "proc.apid", Int64, ANCESTOR, ProcAPid;
    "proc.vpid", Int64, NONE, ProcVPid;
    "proc.pvpid", Int64, NONE, ProcPVPid;
    "proc.sid", Int64, NONE, ProcSid;
    "proc.sname", CharBuf, NONE, ProcSName;
    "proc.sid.exe", CharBuf, NONE, ProcSidExe;
    "proc.sid.exepath", CharBuf, NONE, ProcSidExePath;
    "proc.vpgid", Int64, NONE, ProcVPgid;
    "proc.vpgid.name", CharBuf, NONE, ProcVPgidName;
    "proc.vpgid.exe", CharBuf, NONE, ProcVPgidExe;
    "proc.vpgid.exepath", CharBuf, NONE, ProcVPgidExePath;
    "proc.pgid", Int64, NONE, ProcPgid;
    "proc.pgid.name", CharBuf, NONE, Unsupported;
    "proc.pgid.exe", CharBuf, NONE, Unsupported;
    "proc.pgid.exepath", CharBuf, NONE, Unsupported;
    "proc.duration", RelTime, NONE, ProcDuration;
    "proc.ppid.duration", RelTime, NONE, ProcPPidDuration;
    "proc.pid.ts", RelTime, NONE, ProcPidTs;
    "proc.ppid.ts", RelTime, NONE, ProcPPidTs;
    "proc.is_exe_writable", Bool, NONE, ProcIsExeWritable;
    "proc.is_exe_upper_layer", Bool, NONE, ProcIsExeUpperLayer;
    "proc.is_exe_lower_layer", Bool, NONE, ProcIsExeLowerLayer;
    "proc.is_exe_from_memfd", Bool, NONE, ProcIsExeFromMemfd;
    "proc.is_sid_leader", Bool, NONE, ProcIsSidLeader;
    "proc.is_vpgid_leader", Bool, NONE, ProcIsVPgidLeader;
    "proc.is_pgid_leader", Bool, NONE, ProcIsPgidLeader;
    "proc.exe_ino", Int64, NONE, ProcExeIno;
    "proc.exe_ino.ctime", AbsTime, NONE, ProcExeInoCtime;
    "proc.exe_ino.mtime", AbsTime, NONE, ProcExeInoMtime;
    "proc.exe_ino.ctime_duration_proc_start", AbsTime, NONE, ProcExeInoCtimeDurationProcStart;
    "proc.exe_ino.ctime_duration_pidns_start", AbsTime, NONE, Unsupported;
    "proc.pidns_init_start_ts", Uint64, NONE, ProcPidnsInitStartTs;
    "thread.cap_permitted", CharBuf, NONE, ThreadCapPermitted;
    "thread.cap_inheritable", CharBuf, NONE, ThreadCapInheritable;
    "thread.cap_effective", CharBuf, NONE, ThreadCapEffective;
    "proc.fdopencount", Uint64, NONE, Unsupported;
    "proc.fdlimit", Int64, NONE, Unsupported;
    "proc.fdusage", Double, NONE, Unsupported;
    "proc.vmsize", Uint64, NONE, Unsupported;
    "proc.vmrss", Uint64, NONE, Unsupported;
    "proc.vmswap", Uint64, NONE, Unsupported;
    "thread.pfmajor", Uint64, NONE, Unsupported;
    "thread.pfminor", Uint64, NONE, Unsupported;
    "thread.tid", Int64, NONE, ThreadTid;
    "thread.ismain", Bool, NONE, ThreadIsMain;
    "thread.vtid", Int64, NONE, ThreadVTid;
    "thread.nametid", CharBuf, TABLE_ONLY, Unsupported;
    "thread.exectime", RelTime, NONE, Unsupported;
    "thread.totexectime", RelTime, NONE, Unsupported;
    "thread.cgroups", CharBuf, NONE, Unsupported;
    "thread.cgroup", CharBuf, ARG_REQUIRED, Unsupported;
    "proc.nthreads", Uint64, NONE, Unsupported;
    "proc.nchilds", Uint64, NONE, Unsupported;
    "thread.cpu", Double, NONE, Unsupported;
    "thread.cpu.user", Double, NONE, Unsupported;
    "thread.cpu.system", Double, NONE, Unsupported;
    "thread.vmsize", Uint64, NONE, Unsupported;
    "thread.vmrss", Uint64, NONE, Unsupported;
    "thread.vmsize.b", Uint64, TABLE_ONLY, Unsupported;
    "thread.vmrss.b", Uint64, TABLE_ONLY, Unsupported;
    "proc.stdin.type", CharBuf, NONE, Unsupported;
    "proc.stdout.type", CharBuf, NONE, Unsupported;
    "proc.stderr.type", CharBuf, NONE, Unsupported;
    "proc.stdin.name", CharBuf, NONE, Unsupported;
    "proc.stdout.name", CharBuf, NONE, Unsupported;
    "proc.stderr.name", CharBuf, NONE, Unsupported;
    "user.uid", Uint32, NONE, UserUid;
    "user.name", CharBuf, NONE, UserName;
    "user.homedir", CharBuf, NONE, UserHomedir;
    "user.shell", CharBuf, NONE, UserShell;
    "user.loginuid", Int64, NONE, UserLoginUid;
    "user.loginname", CharBuf, NONE, UserLoginName;
    // container plugin (container 0.4)
    "container.id", CharBuf, NONE, ContainerId;
    "container.full_id", CharBuf, NONE, ContainerId;
    "container.name", CharBuf, NONE, ContainerName;
    "container.type", CharBuf, NONE, ContainerType;
    "container.image", CharBuf, NONE, ContainerImage;
    "container.image.id", CharBuf, NONE, ContainerImageId;
    "container.image.repository", CharBuf, NONE, ContainerImageRepository;
    "container.image.tag", CharBuf, NONE, ContainerImageTag;
    "container.image.digest", CharBuf, NONE, ContainerImageDigest;
    "container.privileged", Bool, NONE, ContainerPrivileged;
    "container.mounts", CharBuf, NONE, ContainerMounts;
    "container.mount", CharBuf, ARG_REQUIRED, ContainerMount;
    "container.mount.source", CharBuf, ARG_REQUIRED, ContainerMountSource;
    "container.mount.dest", CharBuf, ARG_REQUIRED, ContainerMountDest;
    "container.mount.mode", CharBuf, ARG_REQUIRED, ContainerMountMode;
    "container.mount.rdwr", CharBuf, ARG_REQUIRED, ContainerMountRdwr;
    "container.mount.propagation", CharBuf, ARG_REQUIRED, ContainerMountPropagation;
    "container.label", CharBuf, ARG_REQUIRED, ContainerLabel;
    "container.labels", CharBuf, NONE, Unsupported;
    "container.ip", CharBuf, NONE, ContainerIp;
    "container.cni.json", CharBuf, NONE, Unsupported;
    "container.start_ts", AbsTime, NONE, ContainerStartTs;
    "container.duration", RelTime, NONE, ContainerDuration;
    "container.healthcheck", CharBuf, NONE, Unsupported;
    "container.liveness_probe", CharBuf, NONE, Unsupported;
    "container.readiness_probe", CharBuf, NONE, Unsupported;
    "container.host_pid", Bool, NONE, Unsupported;
    "container.host_network", Bool, NONE, Unsupported;
    "container.host_ipc", Bool, NONE, Unsupported;
    "k8s.ns.name", CharBuf, NONE, K8sNsName;
    "k8s.pod.name", CharBuf, NONE, K8sPodName;
    "k8s.pod.id", CharBuf, NONE, K8sPodUid;
    "k8s.pod.uid", CharBuf, NONE, K8sPodUid;
    "k8s.pod.sandbox_id", CharBuf, NONE, Unsupported;
    "k8s.pod.full_sandbox_id", CharBuf, NONE, Unsupported;
    "k8s.pod.label", CharBuf, ARG_REQUIRED, K8sPodLabel;
    "k8s.pod.labels", CharBuf, NONE, Unsupported;
    "k8s.pod.ip", CharBuf, NONE, Unsupported;
    "k8s.pod.cni.json", CharBuf, NONE, Unsupported;
}

/// Every field of the catalogue.
pub fn all() -> &'static [FieldInfo] {
    FIELDS
}

/// Looks a field up by its exact name (`proc.aname`), or by a name with a dotted argument
/// (`evt.arg.flags` finds `evt.arg`).
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    lookup_with_suffix(name).map(|(info, _)| info)
}

/// Like [`lookup`], also returning the dotted argument.
pub(crate) fn lookup_with_suffix(name: &str) -> Option<(&'static FieldInfo, Option<&str>)> {
    if let Some(info) = FIELDS.iter().find(|f| f.name == name) {
        return Some((info, None));
    }
    FIELDS
        .iter()
        .filter(|f| f.flags & DOTTED_ARG != 0)
        .filter_map(|f| {
            let rest = name.strip_prefix(f.name)?.strip_prefix('.')?;
            (!rest.is_empty()).then_some((f, Some(rest)))
        })
        .max_by_key(|(f, _)| f.name.len())
}

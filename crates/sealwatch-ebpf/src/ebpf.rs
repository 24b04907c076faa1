//! The eBPF source: loads the object `build.rs` compiled, attaches its `tp_btf` programs and
//! drains the ring buffer.

use std::os::fd::RawFd;

use crate::wire::Record;
use crate::EbpfError;

/// Why the eBPF source cannot start on this machine, checked before loading anything.
pub fn unavailable_reason() -> Option<String> {
    #[cfg(not(sealwatch_bpf))]
    {
        Some(format!(
            "built without the BPF object ({})",
            env!("SEALWATCH_BPF_UNAVAILABLE")
        ))
    }
    #[cfg(sealwatch_bpf)]
    {
        if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Some("kernel has no BTF (/sys/kernel/btf/vmlinux missing)".into());
        }
        None
    }
}

#[cfg(sealwatch_bpf)]
mod imp {
    use super::*;
    use aya::maps::{Array, MapData, RingBuf};
    use aya::programs::BtfTracePoint;
    use aya::{Btf, Ebpf, EbpfLoader};
    use std::os::fd::AsRawFd;

    static OBJECT: &[u8] = include_bytes!(env!("SEALWATCH_BPF_OBJECT"));

    /// (program name in the object, kernel tracepoint it attaches to)
    const PROGRAMS: &[(&str, &str)] = &[
        ("sw_exec", "sched_process_exec"),
        ("sw_fork", "sched_process_fork"),
        ("sw_exit", "sched_process_exit"),
        ("sw_sys_enter", "sys_enter"),
        ("sw_sys_exit", "sys_exit"),
    ];

    fn bpf_err(
        stage: &'static str,
        what: &str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> EbpfError {
        EbpfError::Bpf {
            stage,
            what: what.to_owned(),
            source: Box::new(e),
        }
    }

    /// The loaded, attached programs and their ring buffer.
    pub struct EbpfSource {
        // Keeps the programs (and so their attachments) alive.
        ebpf: Ebpf,
        ring: RingBuf<MapData>,
        pub decode_errors: u64,
    }

    impl EbpfSource {
        /// Loads and attaches everything. `ignore_tgid`'s syscalls are not reported (the agent's
        /// own /proc reads); `ring_bytes` must be a power of two multiple of the page size.
        pub fn open(ring_bytes: u32, ignore_tgid: u32) -> Result<EbpfSource, EbpfError> {
            if let Some(reason) = unavailable_reason() {
                return Err(EbpfError::Unavailable { reason });
            }
            let btf = Btf::from_sys_fs()
                .map_err(|e| bpf_err("BTF parse", "/sys/kernel/btf/vmlinux", e))?;
            let mut ebpf = EbpfLoader::new()
                .btf(Some(&btf))
                .override_global("self_tgid", &ignore_tgid, true)
                .map_max_entries("events", ring_bytes)
                .load(OBJECT)
                .map_err(|e| bpf_err("load", "sealwatch.bpf.o", e))?;
            for (name, tracepoint) in PROGRAMS {
                let program: &mut BtfTracePoint = ebpf
                    .program_mut(name)
                    .ok_or_else(|| EbpfError::Unavailable {
                        reason: format!("program {name} missing from the object"),
                    })?
                    .try_into()
                    .map_err(|e| bpf_err("program type", name, e))?;
                program
                    .load(tracepoint, &btf)
                    .map_err(|e| bpf_err("verify", name, e))?;
                program
                    .attach()
                    .map_err(|e| bpf_err("attach", tracepoint, e))?;
            }
            let map = ebpf
                .take_map("events")
                .ok_or_else(|| EbpfError::Unavailable {
                    reason: "map events missing from the object".into(),
                })?;
            let ring = RingBuf::try_from(map).map_err(|e| bpf_err("map", "events", e))?;
            drop(btf);
            // Parsing the kernel's BTF (several MB) leaves tens of MB of freed heap; hand it
            // back so the agent's steady RSS reflects what it uses.
            // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
            #[cfg(target_env = "gnu")]
            unsafe {
                libc::malloc_trim(0);
            }
            Ok(EbpfSource {
                ebpf,
                ring,
                decode_errors: 0,
            })
        }

        pub fn raw_fd(&self) -> RawFd {
            self.ring.as_raw_fd()
        }

        /// Decodes up to `max` waiting records.
        pub fn drain(&mut self, max: usize, out: &mut Vec<Record>) {
            for _ in 0..max {
                let Some(item) = self.ring.next() else { return };
                match crate::wire::decode_bpf(&item) {
                    Ok(r) => out.push(r),
                    Err(_) => self.decode_errors += 1,
                }
            }
        }

        /// Records the kernel side could not write because the ring buffer was full.
        pub fn kernel_drops(&self) -> u64 {
            self.ebpf
                .map("drops")
                .and_then(|m| Array::<_, u64>::try_from(m).ok())
                .and_then(|a| a.get(&0, 0).ok())
                .unwrap_or(0)
        }
    }
}

#[cfg(not(sealwatch_bpf))]
mod imp {
    use super::*;

    /// Stand-in when the crate was built without the BPF object: never opens.
    pub struct EbpfSource {
        pub decode_errors: u64,
    }

    impl EbpfSource {
        pub fn open(_ring_bytes: u32, _ignore_tgid: u32) -> Result<EbpfSource, EbpfError> {
            Err(EbpfError::Unavailable {
                reason: unavailable_reason().unwrap_or_default(),
            })
        }
        pub fn raw_fd(&self) -> RawFd {
            -1
        }
        pub fn drain(&mut self, _max: usize, _out: &mut Vec<Record>) {}
        pub fn kernel_drops(&self) -> u64 {
            0
        }
    }
}

pub use imp::EbpfSource;

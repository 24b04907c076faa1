//! The crate's error type.

use std::path::PathBuf;

/// Errors from starting or reading a live event source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EbpfError {
    /// The eBPF source cannot run here (no BPF object compiled in, no BTF, no privilege).
    #[error("eBPF not available: {reason}")]
    Unavailable { reason: String },
    /// Loading or attaching the BPF object failed.
    #[error("eBPF {stage} failed for {what}")]
    Bpf {
        stage: &'static str,
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A netlink or poll system call failed.
    #[error("{call} failed ({context})")]
    Sys {
        call: &'static str,
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Neither eBPF nor cn_proc could start (`--source auto`).
    #[error("no live event source: eBPF: {ebpf}; cn_proc: {cn_proc}")]
    NoSource { ebpf: String, cn_proc: String },
    /// A /proc file could not be read while seeding the process table.
    #[error("reading {path}")]
    Proc {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

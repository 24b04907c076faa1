//! Live kernel events for the rules engine.
//!
//! Kernel events come from eBPF programs (`src/bpf/sealwatch.bpf.c`, `tp_btf` only: they attach
//! without tracefs and under lockdown=integrity) through one ring buffer, or — with reduced
//! coverage: exec/fork/exit only, details read racily from /proc — from the netlink process
//! connector (cn_proc). [`source::LiveSource`] hides which, decodes records ([`wire`]), keeps
//! the [`proctable::ProcessTable`] and yields `sealwatch_rules::event::Event`s.
//!
//! The BPF object is compiled by `build.rs` with clang; aya loads it (pure Rust, no libbpf
//! build). When clang, bpftool or kernel BTF are missing at build time the crate builds without
//! the object and the eBPF source reports "eBPF not available: <reason>".
//!
//! Container image, name and Kubernetes pod come from the CRI runtime socket ([`cri`]), asked
//! once per new container from a background thread.

pub mod cnproc;
pub mod container;
pub mod cri;
pub mod ebpf;
pub mod error;
pub mod proctable;
pub mod source;
pub mod wire;

pub use error::EbpfError;
pub use source::{LiveConfig, LiveSource, SourceKind, SourceStats};

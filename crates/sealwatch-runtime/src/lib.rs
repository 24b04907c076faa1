//! Event sources for the rules engine (replay files, later live eBPF), process table, alert outputs
//!
//! - [`replay`]: the sealwatch events JSON Lines format (`docs/events-jsonl.md`) and its reader,
//!   which keeps a process table and builds `sealwatch_rules::event::Event`s.
//! - [`outputs`]: alert outputs (stdout, file, HTTP to falcosidekick) behind a bounded queue with
//!   rate limiting; dropped alerts are counted, never buffered without bound.
//! - [`provenance`]: image digest, signature, signer and CVE counts added to alerts, one bounded
//!   registry lookup per image digest.

pub mod error;
pub mod outputs;
pub mod provenance;
pub mod replay;

pub use error::RuntimeError;

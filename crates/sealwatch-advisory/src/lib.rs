//! OSV advisory model, CVSS to severity, matching packages to advisories, report model and SBOM/SARIF
//! serialisers. Pure: no I/O.
//!
//! - [`osv`]: the OSV record model (serde, tolerant of unknown fields).
//! - [`cvss`]: CVSS v3.x / v4.0 scoring and the severity sealwatch reports.
//! - [`secdb`]: Alpine secdb files into OSV records.
//! - [`sbom`]: CycloneDX 1.6 and SPDX 2.3 JSON documents from a `sealwatch_catalog::Catalog`.
//! - [`matching`]: installed packages against an [`matching::AdvisoryIndex`] -> findings.
//! - [`vex`]: OpenVEX statements that suppress findings.
#![forbid(unsafe_code)]

pub mod cvss;
mod error;
pub mod matching;
pub mod osv;
pub mod sbom;
pub mod secdb;
pub mod vex;

pub use error::AdvisoryError;

//! The crate's error type.

/// Everything that can go wrong while reading advisory data. Findings are not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdvisoryError {
    /// An OSV record that is not valid JSON or lacks a required field.
    #[error("invalid OSV record{}: {source}", id.as_deref().map(|i| format!(" `{i}`")).unwrap_or_default())]
    OsvJson {
        /// The record's `id`, when it could be read.
        id: Option<String>,
        #[source]
        source: serde_json::Error,
    },
    /// A CVSS vector string that the `cvss` crate rejects.
    #[error("invalid CVSS vector `{vector}`: {source}")]
    Cvss {
        vector: String,
        #[source]
        source: cvss::Error,
    },
    /// A secdb file that is not YAML at all (problems inside it are diagnostics).
    #[error("{origin}:{line}:{column}: invalid YAML: {message}")]
    SecdbYaml {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// An OpenVEX document that cannot be read.
    #[error("{origin}: {message}")]
    Vex { origin: String, message: String },
    /// A version comparison failed while evaluating an advisory.
    #[error("advisory `{id}` for `{package}`: {source}")]
    Version {
        id: String,
        package: String,
        #[source]
        source: sealwatch_version::VersionError,
    },
}

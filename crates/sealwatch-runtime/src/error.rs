//! The one error type of sealwatch-runtime.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A line of a replay file is not a valid event record.
    #[error("{file}:{line}: {message}")]
    Replay {
        file: String,
        line: u64,
        message: String,
    },

    /// Reading a replay file failed.
    #[error("reading {file} at line {line}")]
    ReplayRead {
        file: String,
        line: u64,
        #[source]
        source: std::io::Error,
    },

    /// An alert output could not be opened.
    #[error("opening alert output {path}")]
    OutputOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The HTTP alert output could not be set up.
    #[error("setting up HTTP alert output {url}")]
    HttpSetup {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// An alert output failed while writing.
    #[error("writing alerts to {output}")]
    OutputWrite {
        output: String,
        #[source]
        source: std::io::Error,
    },
}

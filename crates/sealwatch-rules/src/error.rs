//! The crate's error type, for callers that handle every failure of this crate in one place.
//! The detailed errors (message and position) are the variants' sources.

use crate::compile::CompileError;
use crate::condition::ParseError;
use crate::fields::FieldError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A condition does not parse.
    #[error("invalid condition syntax")]
    Parse(#[from] ParseError),
    /// A condition parses but does not compile (unknown field, operator and type mismatch).
    #[error("condition does not compile")]
    Compile(#[from] CompileError),
    /// A field reference does not resolve.
    #[error("invalid field reference")]
    Field(#[from] FieldError),
}

//! The Falco rules language: loader with diagnostics, condition compiler, evaluator, output formatting

pub mod compile;
pub mod condition;
pub mod diagnostic;
pub mod error;
pub mod event;
pub mod fields;
pub mod loader;
pub mod output;

pub use error::Error;

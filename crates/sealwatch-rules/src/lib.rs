//! The Falco rules language: loader with diagnostics, condition compiler, evaluator, output formatting

pub mod compile;
pub mod condition;
pub mod diagnostic;
pub mod event;
pub mod fields;
pub mod loader;
pub mod output;

//! The Falco rules language: loader with diagnostics, condition compiler, evaluator, output formatting

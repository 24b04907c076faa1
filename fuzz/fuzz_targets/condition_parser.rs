//! The condition parser and compiler on arbitrary text: never panics, at Falco's rule depth.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_rules::compile::{compile, CompileOptions};
use sealwatch_rules::condition::{parse_with, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = parse_with(text, &ParseOptions::FALCO_RULES) {
        let _ = compile(&parsed.ast, &CompileOptions::default());
    }
});

//! The Falco rules loader on arbitrary bytes: never panics; whatever loads can be compiled, and
//! every diagnostic has a place in the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_rules::loader::{load_and_compile, Selection};

fuzz_target!(|data: &[u8]| {
    let (ruleset, diagnostics) = load_and_compile([("fuzz.yaml", data)], &Selection::default());
    for d in &diagnostics {
        assert_eq!(d.location.file, "fuzz.yaml");
        let _ = d.to_string();
    }
    let _ = ruleset.active();
});

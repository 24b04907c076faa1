//! apk `installed` parser on arbitrary bytes: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_catalog::{apk, Location};

fuzz_target!(|data: &[u8]| {
    let location = Location { path: "lib/apk/db/installed".into(), layer: None };
    let mut diagnostics = Vec::new();
    let _ = apk::parse(&location, data, &mut diagnostics);
});

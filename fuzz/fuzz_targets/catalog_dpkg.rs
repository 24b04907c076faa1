//! dpkg status / status.d / md5sums parsers on arbitrary bytes: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_catalog::{dpkg, Location};

fuzz_target!(|data: &[u8]| {
    let location = Location { path: "var/lib/dpkg/status".into(), layer: None };
    let mut diagnostics = Vec::new();
    let _ = dpkg::parse_control(&location, data, true, &mut diagnostics);
    let _ = dpkg::parse_control(&location, data, false, &mut diagnostics);
    let _ = dpkg::parse_md5sums("x.md5sums", data, &mut diagnostics);
    let _ = dpkg::parse_list("x.list", data, &mut diagnostics);
});

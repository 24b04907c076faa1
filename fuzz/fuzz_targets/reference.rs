//! Image reference parsing never panics, and the canonical form of anything it accepts parses back
//! to the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_oci::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reference) = text.parse::<Reference>() else {
        return;
    };
    let canonical = reference.to_string();
    let again: Reference = match canonical.parse() {
        Ok(r) => r,
        Err(e) => panic!("canonical form {canonical:?} of {text:?} does not parse: {e}"),
    };
    assert_eq!(again, reference, "round trip of {text:?}");
    assert!(!reference.registry_api_host().is_empty());
    assert!(reference.tag().is_some() || reference.digest().is_some());
});

//! Manifest, index and config parsing on arbitrary bytes: never panics, and whatever parses as an
//! index can be asked for a platform.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_oci::manifest::{media_type, Manifest};
use sealwatch_oci::{ImageConfig, Platform};

fuzz_target!(|data: &[u8]| {
    let declared = [
        None,
        Some(media_type::OCI_MANIFEST),
        Some(media_type::OCI_INDEX),
        Some(media_type::DOCKER_MANIFEST),
        Some(media_type::DOCKER_LIST),
        Some("application/x-unknown"),
    ];
    for mt in declared {
        if let Ok(Manifest::Index(index)) = Manifest::parse(data, mt, "fuzz") {
            let _ = index.select(&Platform::host(), "fuzz");
            let _ = index.select(&Platform::new("linux", "arm64", Some("v8")), "fuzz");
        }
    }
    if let Ok(config) = ImageConfig::parse(data, "fuzz") {
        let _ = config.platform().to_string();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<Platform>();
    }
});

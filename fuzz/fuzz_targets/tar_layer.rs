//! The layer walker on arbitrary bytes, as a plain and as a gzip'd tar: never panics, never escapes
//! the root, and symlink resolution always terminates (loops are errors).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_oci::manifest::Compression;
use sealwatch_oci::squash::read_layer;
use sealwatch_oci::{FileRequest, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_total_bytes: 64 << 20,
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    let request = FileRequest::new().path("etc/os-release").prefix("etc/");
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let Ok(fs) = read_layer(data, compression, &request, &limits) else {
            continue;
        };
        for entry in fs.entries() {
            assert!(
                !entry.path.split('/').any(|c| c == ".." || c.is_empty()),
                "{}",
                entry.path
            );
            if let Ok(Some(resolved)) = fs.resolve_path(&entry.path) {
                assert!(!resolved.split('/').any(|c| c == ".."), "{resolved}");
            }
            let _ = fs.read(&entry.path);
        }
    }
});

//! rpm database readers (SQLite, NDB, BerkeleyDB) and the header parser on arbitrary bytes: must never
//! panic, loop, or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwatch_catalog::rpm::{self, Format};
use sealwatch_catalog::Location;

fuzz_target!(|data: &[u8]| {
    let location = Location { path: "var/lib/rpm/Packages".into(), layer: None };
    let mut diagnostics = Vec::new();
    for format in [Format::Sqlite, Format::Ndb, Format::BerkeleyDb] {
        let _ = rpm::parse(&location, format, data, &mut diagnostics);
    }
    let _ = rpm::header::parse(data);
});

//! Mutated real databases through every parser: no panic, bounded work, and damage is reported.
//!
//! A deterministic stand-in for the fuzz targets in `fuzz/fuzz_targets/catalog_*.rs`, so that every
//! `cargo test` run exercises the same entry points on hostile input.

use sealwatch_catalog::rpm::{self, Format};
use sealwatch_catalog::{apk, catalog, dpkg, Location, MemoryTree};

/// xorshift64*: a fixed-seed generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Truncations, byte flips and spliced garbage of `input`.
fn mutations(input: &[u8], seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| {
            let mut data = input.to_vec();
            match i % 3 {
                0 => data.truncate(rng.below(input.len())),
                1 => {
                    for _ in 0..=rng.below(16) {
                        let at = rng.below(data.len());
                        if let Some(b) = data.get_mut(at) {
                            *b ^= 1 << rng.below(8);
                        }
                    }
                }
                _ => {
                    let at = rng.below(data.len());
                    let garbage: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                    data.splice(at..at, garbage);
                }
            }
            data
        })
        .collect()
}

fn location(path: &str) -> Location {
    Location {
        path: path.into(),
        layer: None,
    }
}

#[test]
fn apk_and_dpkg_survive_mutation() {
    let (Some(apk_db), Some(status)) = (
        sealwatch_test::require_shared("fixtures/pkgdb/apk/installed-3.20.3"),
        sealwatch_test::require_shared("fixtures/pkgdb/dpkg/status"),
    ) else {
        return;
    };
    let apk_db = std::fs::read(apk_db).expect("read");
    let status = std::fs::read(status).expect("read");
    let mut damaged = 0;
    for data in mutations(&apk_db, 1, 300) {
        let mut diagnostics = Vec::new();
        let found = apk::parse(&location("lib/apk/db/installed"), &data, &mut diagnostics);
        // Mutations can split a stanza in two, never create more than one extra package per change.
        assert!(found.len() <= 14 + 17, "{}", found.len());
        damaged += usize::from(!diagnostics.is_empty());
    }
    for data in mutations(&status, 2, 300) {
        let mut diagnostics = Vec::new();
        let found = dpkg::parse_control(
            &location("var/lib/dpkg/status"),
            &data,
            true,
            &mut diagnostics,
        );
        assert!(found.len() <= 88 + 17, "{}", found.len());
        damaged += usize::from(!diagnostics.is_empty());
    }
    // Most damage is visible as a diagnostic (some flips land in free text and are harmless).
    assert!(
        damaged > 100,
        "only {damaged} of 600 damaged inputs were reported"
    );
}

#[test]
fn rpm_backends_survive_mutation() {
    let Some(dir) = sealwatch_test::require_shared("fixtures/pkgdb/rpm") else {
        return;
    };
    for (file, format, count) in [
        ("libuuid-Packages", Format::BerkeleyDb, 1),
        ("sle15-bci-Packages.db", Format::Ndb, 35),
        ("mariner2-rpmdb.sqlite", Format::Sqlite, 129),
    ] {
        let bytes = std::fs::read(dir.join(file)).expect("read");
        // Truncation at half must be reported, not silently give a short list.
        let mut diagnostics = Vec::new();
        let half = rpm::parse(
            &location(file),
            format,
            &bytes[..bytes.len() / 2],
            &mut diagnostics,
        );
        assert!(half.len() < count || count == 1, "{file}");
        assert!(!diagnostics.is_empty(), "{file}: truncation not reported");
        for data in mutations(&bytes, 3, 40) {
            let mut diagnostics = Vec::new();
            let found = rpm::parse(&location(file), format, &data, &mut diagnostics);
            assert!(
                found.len() <= count,
                "{file}: {} packages from a damaged copy",
                found.len()
            );
        }
    }
}

#[test]
fn catalog_of_garbage_everywhere_reports_every_file() {
    let mut tree = MemoryTree::new();
    let garbage = b"\xff\xfe\x00garbage\n\x01:\n".to_vec();
    for path in [
        "lib/apk/db/installed",
        "var/lib/dpkg/status",
        "var/lib/rpm/rpmdb.sqlite",
        "app/node_modules/x/package.json",
        "usr/lib/python3/site-packages/x.dist-info/METADATA",
        "app/lib/x.jar",
        "app/x.deps.json",
        "vendor/composer/installed.json",
    ] {
        tree.insert(path, garbage.clone());
    }
    let result = catalog(&tree);
    assert!(result.packages.is_empty(), "{:?}", result.packages);
    let mut reported: Vec<&str> = result.diagnostics.iter().map(|d| d.path.as_str()).collect();
    reported.dedup();
    assert_eq!(
        reported,
        [
            "app/lib/x.jar",
            "app/node_modules/x/package.json",
            "app/x.deps.json",
            "lib/apk/db/installed",
            "usr/lib/python3/site-packages/x.dist-info/METADATA",
            "var/lib/dpkg/status",
            "var/lib/rpm/rpmdb.sqlite",
            "vendor/composer/installed.json",
        ]
    );
}

//! Whole-pipeline timing of the pure matching path at full advisory scale (run with
//! `cargo bench -p sealwatch-advisory --bench matching`): 100,000 synthetic OSV records in the
//! shape of Debian's (one source package, one `ECOSYSTEM` range, aliases), 2,000 source
//! packages; then 100 installed packages (a Debian minbase image has 88-96) matched against it.
//! Prints wall times; no assertions (benchmarks measure, tests assert).

use std::hint::black_box;
use std::time::Instant;

use sealwatch_advisory::matching::{AdvisoryIndex, InstalledPackage};
use sealwatch_advisory::osv::Vulnerability;

const RECORDS: usize = 100_000;
const SOURCES: usize = 2_000;
const INSTALLED: usize = 100;

fn main() {
    let json: Vec<String> = (0..RECORDS)
        .map(|i| {
            let src = i % SOURCES;
            format!(
                r#"{{"id":"DEBIAN-CVE-2024-{i}","modified":"2024-06-01T00:00:00Z","aliases":["CVE-2024-{i}"],
                "summary":"synthetic","severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}],
                "affected":[{{"package":{{"ecosystem":"Debian:12","name":"src{src}"}},
                "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"1.{}.{}-{}+deb12u1"}}]}}],
                "ecosystem_specific":{{"urgency":"low"}}}}],
                "references":[{{"type":"ADVISORY","url":"https://example.invalid/{i}"}}]}}"#,
                i % 7,
                i % 13,
                i % 3
            )
        })
        .collect();

    let start = Instant::now();
    let vulns: Vec<Vulnerability> = json
        .iter()
        .map(|j| Vulnerability::from_json(j.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let parsed = start.elapsed();

    let start = Instant::now();
    let index = AdvisoryIndex::new(vulns);
    let indexed = start.elapsed();

    let pkgs: Vec<InstalledPackage> = (0..INSTALLED)
        .map(|i| InstalledPackage {
            name: format!("lib{i}"),
            version: "1.3.5-1+deb12u1".to_owned(),
            ecosystem: "Debian:12".parse().unwrap_or_else(|e| panic!("{e}")),
            source_name: Some(format!("src{}", i * 7)),
            source_version: None,
        })
        .collect();
    let mut best = std::time::Duration::MAX;
    let mut findings = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let (f, d) = index.match_packages(black_box(&pkgs));
        best = best.min(start.elapsed());
        findings = f.len();
        assert!(d.is_empty());
    }
    println!("parse {RECORDS} OSV records: {parsed:?}");
    println!("index them: {indexed:?}");
    println!("match {INSTALLED} packages (best of 5): {best:?}, {findings} findings");
}

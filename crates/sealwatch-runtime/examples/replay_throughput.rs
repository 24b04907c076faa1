//! Measure replay throughput: JSONL parsing and process-table upkeep alone, then with rule
//! evaluation. Usage: `cargo run --release -p sealwatch-runtime --example replay_throughput --
//! EVENTS.jsonl RULES.yaml...`

use std::time::Instant;

use sealwatch_rules::loader::{load_and_compile, Selection};
use sealwatch_runtime::replay::ReplayReader;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(events_path) = args.next() else {
        eprintln!("usage: replay_throughput EVENTS.jsonl RULES.yaml...");
        std::process::exit(2);
    };
    let rules: Vec<(String, Vec<u8>)> = args
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
            (p, bytes)
        })
        .collect();
    let input = std::fs::read(&events_path).unwrap_or_else(|e| panic!("{events_path}: {e}"));

    let started = Instant::now();
    let (ruleset, diags) = load_and_compile(
        rules.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
        &Selection::default(),
    );
    let load_time = started.elapsed();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    println!(
        "load+compile: {} rules, {errors} errors, {:.1} ms",
        ruleset.active(),
        load_time.as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let mut events = Vec::new();
    for event in ReplayReader::new(&events_path, input.as_slice()) {
        events.push(event.unwrap_or_else(|e| panic!("{e}")));
    }
    let read_time = started.elapsed();
    println!(
        "replay read: {} events in {:.1} ms ({:.0} events/s)",
        events.len(),
        read_time.as_secs_f64() * 1e3,
        events.len() as f64 / read_time.as_secs_f64()
    );

    let started = Instant::now();
    let mut matches = 0u64;
    for event in &events {
        ruleset.matching(event, |_| matches += 1);
    }
    let eval_time = started.elapsed();
    println!(
        "evaluation: {} events, {matches} matches, {:.1} ms ({:.0} events/s)",
        events.len(),
        eval_time.as_secs_f64() * 1e3,
        events.len() as f64 / eval_time.as_secs_f64()
    );
}

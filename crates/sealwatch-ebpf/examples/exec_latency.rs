//! Measures exec-to-event latency of the live source: spawns `/bin/true` N times and times
//! from just before `spawn` until its execve event leaves `LiveSource::next_event`.
//!
//! `cargo run --release -p sealwatch-ebpf --example exec_latency -- [ebpf|cn_proc] [N]` (root).

use std::process::Command;
use std::time::{Duration, Instant};

use sealwatch_ebpf::{LiveConfig, LiveSource, SourceKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let kind: SourceKind = args.next().as_deref().unwrap_or("ebpf").parse()?;
    let n: usize = args.next().as_deref().unwrap_or("200").parse()?;
    let mut source = LiveSource::start(&LiveConfig {
        kind,
        ..LiveConfig::default()
    })?;
    println!("source: {}", source.active().describe());
    let mut samples = Vec::with_capacity(n);
    let mut missed = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let mut child = Command::new("/bin/sleep").arg("0.05").spawn()?;
        let pid = i64::from(child.id());
        let deadline = t0 + Duration::from_secs(2);
        let mut got = None;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(e) = source.next_event(left)? {
                if e.event_type.name() == "execve"
                    && e.thread.as_ref().is_some_and(|t| t.pid == pid)
                {
                    got = Some(t0.elapsed());
                    break;
                }
            }
        }
        child.wait()?;
        match got {
            Some(d) => samples.push(d),
            None => missed += 1,
        }
    }
    samples.sort();
    let pct = |p: usize| {
        samples
            .get((samples.len().saturating_sub(1)) * p / 100)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{} execs, {missed} missed; spawn-to-event ms: p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
        samples.len(),
        pct(50),
        pct(90),
        pct(99),
        pct(100)
    );
    println!("stats: {:?}", source.stats());
    Ok(())
}

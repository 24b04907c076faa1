//! `sealwatch watch --live`: evaluate Falco rules over live kernel events (eBPF, or cn_proc
//! with reduced coverage) until SIGINT/SIGTERM or `--duration`, printing Falco-format alerts.
//!
//! Exit code: 0 when no rule fired, 1 when alerts were emitted, 2 when no source could start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sealwatch_ebpf::source::{error_chain, ActiveSource};
use sealwatch_ebpf::{LiveConfig, LiveSource, SourceKind};
use sealwatch_rules::loader::Ruleset;
use sealwatch_runtime::outputs::{self, Dispatcher, Sink};
use sealwatch_runtime::provenance::ProvenanceCache;

/// How to run the live source.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub source: SourceKind,
    /// Stop after this long (tests, demos); run until a signal otherwise.
    pub duration: Option<Duration>,
    pub hostname: String,
    /// CRI socket for container metadata; None: container ids only.
    pub cri_socket: Option<std::path::PathBuf>,
    /// Adds image provenance to alerts from containers (`--provenance`).
    pub provenance: Option<Arc<ProvenanceCache>>,
}

/// How often the loop wakes to check for signals and the end of `--duration`.
const TICK: Duration = Duration::from_millis(200);

pub fn run_live(
    ruleset: Ruleset,
    sinks: Vec<Box<dyn Sink>>,
    config: &outputs::Config,
    options: LiveOptions,
) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .with_context(|| format!("installing handler for signal {signal}"))?;
    }
    let live_config = LiveConfig {
        kind: options.source,
        hostname: options.hostname.clone(),
        cri_socket: options.cri_socket.clone(),
        ..LiveConfig::default()
    };
    let mut source = LiveSource::start(&live_config)
        .map_err(|e| anyhow::anyhow!(error_chain(&e)))
        .context("starting the live event source")?;
    let active = source.active().clone();
    eprintln!("sealwatch watch: live source {}", active.describe());
    match source.cri_socket() {
        Some(socket) if !socket.exists() => eprintln!(
            "warning: CRI runtime socket {} does not exist (yet): container metadata stays <NA> until it answers",
            socket.display()
        ),
        Some(socket) => eprintln!(
            "sealwatch watch: container metadata from the CRI runtime at {} (a container's first events carry its id only)",
            socket.display()
        ),
        None => eprintln!(
            "sealwatch watch: no CRI runtime socket: container image, name and pod fields are <NA>"
        ),
    }
    if let ActiveSource::CnProc { .. } = active {
        eprintln!("warning: reduced coverage: no file or network events; short-lived processes may be missed");
    }

    let started = Instant::now();
    let mut dispatcher = Dispatcher::start(sinks, config);
    let mut reported_drops = 0u64;
    let result: anyhow::Result<()> = (|| {
        while !stop.load(Ordering::Relaxed) {
            if options.duration.is_some_and(|d| started.elapsed() >= d) {
                break;
            }
            let event = source
                .next_event(TICK)
                .map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
            if let Some(event) = event {
                if let Some(cache) = &options.provenance {
                    cache.prefetch(&event);
                }
                ruleset.matching(&event, |rule| {
                    let alert = ruleset.alert(rule, &event, &options.hostname);
                    dispatcher.submit_with(
                        alert,
                        options
                            .provenance
                            .as_ref()
                            .and_then(|cache| cache.begin_for(&event)),
                    )
                });
            }
            let stats = source.stats();
            let lost = stats.kernel_drops + stats.netlink_overruns;
            if lost > reported_drops {
                eprintln!(
                    "warning: kernel events lost: {} ring-buffer drop(s), {} netlink overrun(s)",
                    stats.kernel_drops, stats.netlink_overruns
                );
                reported_drops = lost;
            }
        }
        Ok(())
    })();
    let stats = dispatcher.finish();
    let src = source.stats();
    result?;
    eprintln!(
        "sealwatch watch: {} kernel record(s), {} event(s), {} dropped in kernel, {} netlink overrun(s), {} undecodable, {} process(es) tracked ({} not tracked: table full, {} exec(s) gone before /proc could be read); {} container lookup(s), {} answered, {} failed, {} refused; {} alert(s), {} delivered, {} dropped",
        src.records,
        src.events,
        src.kernel_drops,
        src.netlink_overruns,
        src.decode_errors,
        src.table.entries,
        src.table.table_full,
        src.table.proc_read_misses,
        src.cri_lookups,
        src.cri_answers,
        src.cri_failures,
        src.cri_refused,
        stats.submitted,
        stats.delivered,
        stats.dropped(),
    );
    for e in &stats.errors {
        eprintln!("alert output error: {e}");
    }
    if let Some(e) = source.last_cri_error() {
        eprintln!("last container metadata lookup error: {e}");
    }
    Ok(if stats.submitted > 0 { 1 } else { 0 })
}

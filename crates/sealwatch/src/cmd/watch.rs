//! `sealwatch watch --rules FILE_OR_DIR… --replay EVENTS.jsonl`: evaluate Falco rules over a
//! recorded event stream and emit Falco-format alerts to stdout, a file and/or falcosidekick.
//!
//! Exit code: 0 when no rule fired, 1 when alerts were emitted, 2 when the rules do not load or
//! the replay file is malformed (the message names the file and line).

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use sealwatch_rules::loader::{Priority, Selection};
use sealwatch_runtime::outputs::{self, Dispatcher, FileSink, HttpSink, Sink, StdoutSink};
use sealwatch_runtime::replay::ReplayReader;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputKind {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Rules file or folder (files in name order); repeat to load several, in order.
    #[arg(
        short = 'r',
        long = "rules",
        required = true,
        value_name = "FILE_OR_DIR"
    )]
    rules: Vec<PathBuf>,
    /// Events to replay, in the sealwatch events JSONL format (docs/events-jsonl.md); `-` reads
    /// standard input.
    #[arg(
        long,
        required_unless_present = "live",
        conflicts_with = "live",
        value_name = "EVENTS.jsonl"
    )]
    replay: Option<PathBuf>,
    /// Watch live kernel events instead of a replay file (needs root; see --source).
    #[arg(long)]
    live: bool,
    /// Live event source: ebpf, cn_proc (exec/fork/exit only) or auto (eBPF, else cn_proc).
    #[arg(long, default_value = "auto", value_parser = ["ebpf", "cn_proc", "auto"], requires = "live")]
    source: String,
    /// CRI runtime socket asked for container image, name and Kubernetes pod (default: the
    /// first of /run/containerd/containerd.sock and /var/run/crio/crio.sock that exists).
    #[arg(
        long,
        value_name = "PATH",
        requires = "live",
        conflicts_with = "no_cri"
    )]
    cri_socket: Option<PathBuf>,
    /// Do not ask a CRI runtime for container metadata (container ids only).
    #[arg(long, requires = "live")]
    no_cri: bool,
    /// Stop live watching after this many seconds (default: until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECS", requires = "live")]
    duration: Option<u64>,
    /// Alert format on stdout and in the file (HTTP always sends JSON).
    #[arg(long, value_enum, default_value = "text")]
    output: OutputKind,
    /// POST each alert as JSON to this URL (falcosidekick listens on http://HOST:2801/).
    #[arg(long, value_name = "URL")]
    http: Option<String>,
    /// Append alerts to this file.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Do not print alerts on stdout.
    #[arg(long)]
    no_stdout: bool,
    /// Only run rules at least this severe (emergency … debug).
    #[arg(long, value_name = "MIN")]
    priority: Option<String>,
    /// Disable rules by name (`*` and `?` match any text); repeatable.
    #[arg(long = "disable-rule", value_name = "NAME")]
    disable_rule: Vec<String>,
    /// Only run rules with one of these tags; repeatable.
    #[arg(long = "enable-tag", value_name = "TAG")]
    enable_tag: Vec<String>,
    /// Do not run rules with this tag; repeatable.
    #[arg(long = "disable-tag", value_name = "TAG")]
    disable_tag: Vec<String>,
    /// Alert for every matching rule, not only the first (Falco's `rule_matching: all`).
    #[arg(long)]
    match_all: bool,
    /// Hostname in alerts, for events that carry none (default: this machine's).
    #[arg(long)]
    hostname: Option<String>,
    /// Alerts waiting for the outputs, at most.
    #[arg(long, default_value_t = 1024)]
    queue_capacity: usize,
    /// Drop alerts (and count them) when the queue is full instead of waiting.
    #[arg(long)]
    drop_when_full: bool,
    /// Alerts per second allowed on average; alerts over the limit are dropped and counted.
    #[arg(long)]
    rate: Option<f64>,
    /// Alerts allowed at once above --rate.
    #[arg(long, default_value_t = 1000)]
    max_burst: u32,
    #[command(flatten)]
    provenance: super::provenance::ProvenanceArgs,
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

pub fn run(args: WatchArgs) -> anyhow::Result<u8> {
    let min_priority = match &args.priority {
        None => None,
        Some(p) => Some(Priority::parse(p).with_context(|| {
            format!("unknown priority '{p}' (emergency, alert, critical, error, warning, notice, informational, debug)")
        })?),
    };
    let selection = Selection {
        min_priority,
        disabled_rules: args.disable_rule.clone(),
        enabled_tags: args.enable_tag.clone(),
        disabled_tags: args.disable_tag.clone(),
        match_all: args.match_all,
    };
    let (ruleset, diagnostics) = super::rules::load_rules(&args.rules, &selection)?;
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in &errors {
            eprintln!("{d}");
        }
        bail!("rules failed to load: {} error(s)", errors.len());
    }

    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if !args.no_stdout {
        sinks.push(Box::new(StdoutSink::new()));
    }
    if let Some(path) = &args.file {
        sinks.push(Box::new(FileSink::open(path)?));
    }
    if let Some(url) = &args.http {
        sinks.push(Box::new(HttpSink::new(url)?));
    }
    let config = outputs::Config {
        format: match args.output {
            OutputKind::Text => outputs::Format::Text,
            OutputKind::Json => outputs::Format::Json,
        },
        queue_capacity: args.queue_capacity,
        overflow: if args.drop_when_full {
            outputs::Overflow::Drop
        } else {
            outputs::Overflow::Block
        },
        rate: args.rate,
        max_burst: args.max_burst,
        // Live: the event loop must never wait for a registry (the kernel's ring buffer keeps
        // filling); replay: every alert may wait for its image's lookup.
        when_waiting_full: if args.live {
            outputs::WhenWaitingFull::WriteNow
        } else {
            outputs::WhenWaitingFull::Wait
        },
    };
    let hostname = args.hostname.clone().unwrap_or_else(machine_hostname);
    let provenance = args.provenance.cache()?;
    if args.live {
        let options = super::watch_live::LiveOptions {
            source: args.source.parse().map_err(anyhow::Error::msg)?,
            duration: args.duration.map(std::time::Duration::from_secs),
            hostname,
            cri_socket: if args.no_cri {
                None
            } else {
                args.cri_socket
                    .clone()
                    .or_else(sealwatch_ebpf::cri::find_default_socket)
            },
            provenance,
        };
        return super::watch_live::run_live(ruleset, sinks, &config, options);
    }
    let replay = args
        .replay
        .clone()
        .context("--replay or --live is required")?;

    let (name, input): (String, Box<dyn std::io::BufRead>) = if replay.as_os_str() == "-" {
        (
            "<stdin>".to_string(),
            Box::new(BufReader::new(std::io::stdin())),
        )
    } else {
        let file = std::fs::File::open(&replay)
            .with_context(|| format!("opening replay file {}", replay.display()))?;
        (replay.display().to_string(), Box::new(BufReader::new(file)))
    };
    let mut reader = ReplayReader::new(name, input);
    let mut dispatcher = Dispatcher::start(sinks, &config);
    let mut events = 0u64;
    let result: anyhow::Result<()> = (|| {
        while let Some(event) = reader.next_event()? {
            events += 1;
            if let Some(cache) = &provenance {
                cache.prefetch(&event);
            }
            ruleset.matching(&event, |rule| {
                let alert = ruleset.alert(rule, &event, &hostname);
                dispatcher.submit_with(
                    alert,
                    provenance
                        .as_ref()
                        .and_then(|cache| cache.begin_for(&event)),
                )
            });
        }
        Ok(())
    })();
    let stats = dispatcher.finish();
    result?;
    eprintln!(
        "sealwatch watch: {events} event(s), {} alert(s), {} delivered, {} dropped ({} queue full, {} rate limited), {} failed write(s)",
        stats.submitted,
        stats.delivered,
        stats.dropped(),
        stats.dropped_queue_full,
        stats.dropped_rate_limited,
        stats.failed_writes
    );
    for e in &stats.errors {
        eprintln!("alert output error: {e}");
    }
    if stats.failed_writes > 0 && stats.delivered == 0 && stats.submitted > 0 {
        bail!(
            "no alert could be delivered ({} failed write(s))",
            stats.failed_writes
        );
    }
    Ok(if stats.submitted > 0 { 1 } else { 0 })
}

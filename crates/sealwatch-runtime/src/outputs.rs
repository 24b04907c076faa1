//! Alert outputs: stdout, a file, and HTTP POST to falcosidekick (or any JSON receiver).
//!
//! Alerts go through a bounded queue to one worker thread that writes to every output, so a slow
//! output never makes memory grow: when the queue is full the producer either waits (replay,
//! where every alert matters and there is no kernel buffer to overrun) or drops the alert and
//! counts it (live sources). An optional token bucket limits the alert rate like Falco's
//! `outputs.rate` / `outputs.max_burst`; alerts over the limit are dropped and counted.
//!
//! An alert may carry a [`PendingProvenance`] whose registry lookup is still running. The worker
//! (never the producer) waits for it, at most until the lookup's deadline, and keeps taking
//! alerts off the queue meanwhile into a waiting room as large as the queue, so alerts stay in
//! order and a slow registry does not push back on the event loop. When the waiting room is full,
//! [`WhenWaitingFull`] decides: the producer waits (replay), or the oldest alert is written with
//! what is known so far (live: the kernel's ring buffer must keep draining).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sealwatch_rules::output::Alert;

use crate::error::RuntimeError;
use crate::provenance::PendingProvenance;

/// How alerts are printed on stdout and in files. HTTP always sends JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// What to do with an alert when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wait for room (replay).
    #[default]
    Block,
    /// Drop the alert and count it (live sources).
    Drop,
}

/// What the output worker does when every place in its waiting room is taken by alerts waiting
/// for their image's provenance lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenWaitingFull {
    /// Stop taking alerts off the queue until the oldest one's lookup answers or times out, so the
    /// producer waits in turn (replay: every alert gets the full wait).
    #[default]
    Wait,
    /// Write the oldest alert now with what is known (`unknown` for a lookup still running), so
    /// the producer is never held up by a registry (live sources).
    WriteNow,
}

/// How often a worker whose oldest alert waits for a lookup looks for new alerts on the queue.
const WAITING_POLL: Duration = Duration::from_millis(10);

/// Settings of the alert pipeline.
#[derive(Debug, Clone)]
pub struct Config {
    pub format: Format,
    /// Alerts waiting for the outputs, at most.
    pub queue_capacity: usize,
    pub overflow: Overflow,
    /// Alerts per second allowed on average; `None` for no limit.
    pub rate: Option<f64>,
    /// Alerts allowed at once above the rate.
    pub max_burst: u32,
    pub when_waiting_full: WhenWaitingFull,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: Format::Text,
            queue_capacity: 1024,
            overflow: Overflow::Block,
            rate: None,
            max_burst: 1000,
            when_waiting_full: WhenWaitingFull::Wait,
        }
    }
}

/// One place alerts go.
pub trait Sink: Send {
    /// For messages: `stdout`, the file path, the URL.
    fn describe(&self) -> String;
    fn write(&mut self, alert: &Alert, format: Format) -> Result<(), String>;
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
}

fn render(alert: &Alert, format: Format) -> String {
    match format {
        Format::Text => alert.text_line(),
        Format::Json => alert.to_json().to_string(),
    }
}

/// Writes one alert per line to standard output.
pub struct StdoutSink {
    out: BufWriter<std::io::Stdout>,
}

impl StdoutSink {
    pub fn new() -> Self {
        StdoutSink {
            out: BufWriter::new(std::io::stdout()),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn describe(&self) -> String {
        "stdout".to_string()
    }

    fn write(&mut self, alert: &Alert, format: Format) -> Result<(), String> {
        writeln!(self.out, "{}", render(alert, format)).map_err(|e| e.to_string())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())
    }
}

/// Appends one alert per line to a file.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl FileSink {
    pub fn open(path: &Path) -> Result<Self, RuntimeError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| RuntimeError::OutputOpen {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(FileSink {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }
}

impl Sink for FileSink {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn write(&mut self, alert: &Alert, format: Format) -> Result<(), String> {
        writeln!(self.out, "{}", render(alert, format)).map_err(|e| e.to_string())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())
    }
}

/// POSTs each alert as Falco's JSON to a URL, as Falco's `http_output` does for falcosidekick
/// (`POST /`, `Content-Type: application/json`).
pub struct HttpSink {
    url: String,
    client: reqwest::blocking::Client,
}

impl HttpSink {
    pub fn new(url: &str) -> Result<Self, RuntimeError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("sealwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| RuntimeError::HttpSetup {
                url: url.to_string(),
                source,
            })?;
        Ok(HttpSink {
            url: url.to_string(),
            client,
        })
    }
}

impl Sink for HttpSink {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn write(&mut self, alert: &Alert, _format: Format) -> Result<(), String> {
        let body = alert.to_json().to_string();
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", response.status()))
        }
    }
}

/// What happened to the alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Alerts handed to the pipeline.
    pub submitted: u64,
    /// Alerts written to every output.
    pub delivered: u64,
    /// Alerts dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Alerts dropped by the rate limit.
    pub dropped_rate_limited: u64,
    /// Writes that failed (one alert to one output).
    pub failed_writes: u64,
    /// The first few failure messages.
    pub errors: Vec<String>,
}

impl Stats {
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_rate_limited
    }
}

const MAX_ERRORS_KEPT: usize = 10;

/// A token bucket: `rate` tokens per second, at most `burst` saved.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The alert pipeline: a bounded queue in front of a worker that writes to every sink.
pub struct Dispatcher {
    tx: Option<SyncSender<Queued>>,
    worker: Option<JoinHandle<(u64, u64, Vec<String>)>>,
    overflow: Overflow,
    bucket: Option<Bucket>,
    submitted: u64,
    dropped_queue_full: u64,
    dropped_rate_limited: u64,
}

impl Dispatcher {
    pub fn start(sinks: Vec<Box<dyn Sink>>, config: &Config) -> Dispatcher {
        let (tx, rx) = sync_channel::<Queued>(config.queue_capacity.max(1));
        let waiting = Waiting {
            capacity: config.queue_capacity.max(1),
            when_full: config.when_waiting_full,
        };
        let format = config.format;
        let worker = std::thread::spawn(move || run_worker(rx, sinks, format, waiting));
        let bucket = config.rate.filter(|r| *r > 0.0).map(|rate| Bucket {
            rate,
            burst: f64::from(config.max_burst.max(1)),
            tokens: f64::from(config.max_burst.max(1)),
            last: Instant::now(),
        });
        Dispatcher {
            tx: Some(tx),
            worker: Some(worker),
            overflow: config.overflow,
            bucket,
            submitted: 0,
            dropped_queue_full: 0,
            dropped_rate_limited: 0,
        }
    }

    /// Hand an alert to the outputs (or count it as dropped).
    pub fn submit(&mut self, alert: Alert) {
        self.submit_with(alert, None);
    }

    /// Hand an alert to the outputs with its image provenance, which is added (once its lookup
    /// answers, or its deadline passes) before the alert is written. Never waits for the lookup.
    pub fn submit_with(&mut self, alert: Alert, provenance: Option<PendingProvenance>) {
        let alert = Queued { alert, provenance };
        self.submitted += 1;
        if let Some(bucket) = &mut self.bucket {
            if !bucket.take(Instant::now()) {
                self.dropped_rate_limited += 1;
                return;
            }
        }
        let Some(tx) = &self.tx else { return };
        match self.overflow {
            Overflow::Block => {
                if tx.send(alert).is_err() {
                    self.dropped_queue_full += 1;
                }
            }
            Overflow::Drop => match tx.try_send(alert) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.dropped_queue_full += 1
                }
            },
        }
    }

    /// Close the queue, wait until every queued alert is written, and report.
    pub fn finish(mut self) -> Stats {
        self.tx.take();
        let (delivered, failed_writes, errors) = match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => (0, 0, vec!["alert output thread panicked".to_string()]),
            None => (0, 0, Vec::new()),
        };
        Stats {
            submitted: self.submitted,
            delivered,
            dropped_queue_full: self.dropped_queue_full,
            dropped_rate_limited: self.dropped_rate_limited,
            failed_writes,
            errors,
        }
    }
}

/// An alert on its way to the outputs.
struct Queued {
    alert: Alert,
    provenance: Option<PendingProvenance>,
}

impl Queued {
    fn is_ready(&self) -> bool {
        self.provenance
            .as_ref()
            .is_none_or(PendingProvenance::is_ready)
    }

    /// The alert as written: with its provenance fields, as far as they are known now.
    fn into_alert(self) -> Alert {
        let mut alert = self.alert;
        if let Some(provenance) = self.provenance {
            provenance.resolve().apply(&mut alert);
        }
        alert
    }
}

/// The worker's waiting room for alerts held back behind one whose lookup is running.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    capacity: usize,
    when_full: WhenWaitingFull,
}

fn run_worker(
    rx: Receiver<Queued>,
    mut sinks: Vec<Box<dyn Sink>>,
    format: Format,
    room: Waiting,
) -> (u64, u64, Vec<String>) {
    let mut delivered = 0u64;
    let mut failed = 0u64;
    let mut errors = Vec::new();
    let note = |errors: &mut Vec<String>, sink: &dyn Sink, e: String| {
        if errors.len() < MAX_ERRORS_KEPT {
            errors.push(format!("{}: {e}", sink.describe()));
        }
    };
    let flush = |sinks: &mut Vec<Box<dyn Sink>>, failed: &mut u64, errors: &mut Vec<String>| {
        for sink in sinks.iter_mut() {
            if let Err(e) = sink.flush() {
                *failed += 1;
                note(errors, sink.as_ref(), e);
            }
        }
    };
    let mut waiting: VecDeque<Queued> = VecDeque::new();
    let mut open = true;
    let mut unflushed = false;
    loop {
        let Some(head) = waiting.front() else {
            // Buffered sinks are flushed whenever the queue runs empty: a live watcher's alerts
            // must not wait in a buffer for the next burst, and a replay still writes in chunks.
            if unflushed {
                flush(&mut sinks, &mut failed, &mut errors);
                unflushed = false;
            }
            if !open {
                break;
            }
            match rx.recv() {
                Ok(next) => waiting.push_back(next),
                Err(_) => open = false,
            }
            continue;
        };
        let full = waiting.len() >= room.capacity;
        if head.is_ready() || (full && room.when_full == WhenWaitingFull::WriteNow) {
            let Some(queued) = waiting.pop_front() else {
                continue;
            };
            let alert = queued.into_alert();
            let mut ok = true;
            for sink in &mut sinks {
                if let Err(e) = sink.write(&alert, format) {
                    failed += 1;
                    ok = false;
                    note(&mut errors, sink.as_ref(), e);
                }
            }
            if ok {
                delivered += 1;
            }
            unflushed = true;
            if waiting.is_empty() && open {
                match rx.try_recv() {
                    Ok(next) => waiting.push_back(next),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => open = false,
                }
            }
            continue;
        }
        // The oldest alert waits for its lookup: what was written must not sit in a buffer
        // meanwhile, and new alerts are taken in (up to the room's size) so the producer goes on.
        if unflushed {
            flush(&mut sinks, &mut failed, &mut errors);
            unflushed = false;
        }
        let mut took = false;
        while open && waiting.len() < room.capacity {
            match rx.try_recv() {
                Ok(next) => {
                    waiting.push_back(next);
                    took = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if took {
            continue;
        }
        let Some(pending) = waiting.front().and_then(|q| q.provenance.as_ref()) else {
            continue;
        };
        let until = if open && waiting.len() < room.capacity {
            Instant::now() + WAITING_POLL
        } else {
            // Nothing more can be taken in (queue closed, or room full in `Wait` mode): wait
            // for the lookup itself, which ends by its deadline.
            pending.deadline().unwrap_or_else(Instant::now)
        };
        pending.wait(until);
    }
    (delivered, failed, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwatch_rules::loader::Priority;
    use sealwatch_rules::output::OutputFormat;
    use std::sync::{Arc, Mutex};

    struct Collect(
        Arc<Mutex<Vec<String>>>,
        Option<Arc<(Mutex<bool>, std::sync::Condvar)>>,
    );

    impl Sink for Collect {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn write(&mut self, alert: &Alert, format: Format) -> Result<(), String> {
            // A gate lets the test hold the worker so the queue fills up.
            if let Some(gate) = &self.1 {
                let (lock, cv) = &**gate;
                let mut open = lock.lock().map_err(|e| e.to_string())?;
                while !*open {
                    open = cv.wait(open).map_err(|e| e.to_string())?;
                }
            }
            self.0
                .lock()
                .map_err(|e| e.to_string())?
                .push(render(alert, format));
            Ok(())
        }
    }

    fn alert(n: u64) -> Alert {
        let format = OutputFormat::parse("n=%evt.num").unwrap_or_else(|e| panic!("{e}"));
        let values = move |name: &str| {
            (name == "evt.num").then_some(sealwatch_rules::output::FieldValue::Uint(n))
        };
        Alert::new(
            &format,
            &values,
            n,
            "R",
            Priority::Warning,
            "syscall",
            "h",
            &Default::default(),
        )
    }

    #[test]
    fn blocking_queue_delivers_everything_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let config = Config {
            queue_capacity: 2,
            ..Config::default()
        };
        let mut d = Dispatcher::start(vec![Box::new(Collect(Arc::clone(&seen), None))], &config);
        for n in 0..50 {
            d.submit(alert(n));
        }
        let stats = d.finish();
        assert_eq!(
            (stats.submitted, stats.delivered, stats.dropped()),
            (50, 50, 0)
        );
        let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 50);
        assert!(seen[7].ends_with("Warning n=7"), "{}", seen[7]);
    }

    /// Counts flushes, so a test can see one happen before the dispatcher finishes.
    struct CountFlushes(Arc<std::sync::atomic::AtomicU64>);

    impl Sink for CountFlushes {
        fn describe(&self) -> String {
            "flush counter".into()
        }
        fn write(&mut self, _: &Alert, _: Format) -> Result<(), String> {
            Ok(())
        }
        fn flush(&mut self) -> Result<(), String> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn sinks_are_flushed_when_the_queue_runs_empty_not_only_at_the_end() {
        let flushes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut d = Dispatcher::start(
            vec![Box::new(CountFlushes(Arc::clone(&flushes)))],
            &Config::default(),
        );
        d.submit(alert(1));
        // A live watcher keeps the dispatcher open: the alert must reach the sink's output
        // while it does. Bounded wait: 5 s.
        let deadline = Instant::now() + Duration::from_secs(5);
        while flushes.load(std::sync::atomic::Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(flushes.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        let stats = d.finish();
        assert_eq!(stats.delivered, 1);
    }

    #[test]
    fn a_full_queue_drops_and_counts_in_drop_mode() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let config = Config {
            queue_capacity: 4,
            overflow: Overflow::Drop,
            ..Config::default()
        };
        let mut d = Dispatcher::start(
            vec![Box::new(Collect(
                Arc::clone(&seen),
                Some(Arc::clone(&gate)),
            ))],
            &config,
        );
        for n in 0..100 {
            d.submit(alert(n));
        }
        if let Ok(mut open) = gate.0.lock() {
            *open = true;
        }
        gate.1.notify_all();
        let stats = d.finish();
        // The worker holds at most one alert while the gate is shut, the queue four more.
        assert!(stats.delivered <= 5, "{stats:?}");
        assert_eq!(stats.delivered + stats.dropped_queue_full, 100, "{stats:?}");
    }

    #[test]
    fn rate_limit_drops_beyond_the_burst() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        // One alert per hour after a burst of 3: the rest of a fast loop is dropped.
        let config = Config {
            rate: Some(1.0 / 3600.0),
            max_burst: 3,
            ..Config::default()
        };
        let mut d = Dispatcher::start(vec![Box::new(Collect(Arc::clone(&seen), None))], &config);
        for n in 0..10 {
            d.submit(alert(n));
        }
        let stats = d.finish();
        assert_eq!(
            (stats.delivered, stats.dropped_rate_limited),
            (3, 7),
            "{stats:?}"
        );
    }

    #[test]
    fn file_sink_appends_json_lines() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("alerts.jsonl");
        let sink = FileSink::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let config = Config {
            format: Format::Json,
            ..Config::default()
        };
        let mut d = Dispatcher::start(vec![Box::new(sink)], &config);
        d.submit(alert(1));
        d.submit(alert(2));
        assert_eq!(d.finish().delivered, 2);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["output_fields"]["evt.num"], 2);
        assert_eq!(lines[1]["rule"], "R");
    }

    mod waiting_for_provenance {
        use super::*;
        use crate::provenance::{
            EvidenceLookup, ProvenanceCache, RegistryEvidence, SignatureStatus,
        };
        use sealwatch_rules::event::ContainerInfo;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Condvar;

        const DIGEST: &str =
            "sha256:256b0065328fcc3d0e07603b61bd417843ffa8add4911e16b248592ca4d5bd64";
        /// Longer than any test runs: a lookup's deadline never passes here, so whatever is
        /// `unknown` was written without waiting, not because a clock ran out.
        const FOREVER: Duration = Duration::from_secs(3600);
        /// Hang guard only (a broken pipeline would otherwise block the test run forever).
        const HANG_GUARD: Duration = Duration::from_secs(60);

        /// A registry that answers only once the test opens the gate.
        struct GatedLookup {
            gate: Arc<(Mutex<bool>, Condvar)>,
            calls: AtomicUsize,
        }

        impl EvidenceLookup for GatedLookup {
            fn lookup(&self, _: &str, _: &str) -> RegistryEvidence {
                self.calls.fetch_add(1, Ordering::SeqCst);
                let (lock, cv) = &*self.gate;
                let mut open = lock.lock().unwrap_or_else(|e| e.into_inner());
                let give_up = Instant::now() + HANG_GUARD;
                while !*open && Instant::now() < give_up {
                    open = cv
                        .wait_timeout(open, HANG_GUARD)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                RegistryEvidence {
                    signature: SignatureStatus::Verified,
                    signer: Some("alice@example.invalid".into()),
                    signer_issuer: Some("https://issuer.example.invalid".into()),
                    cves: None,
                    retry: false,
                }
            }
        }

        fn open(gate: &(Mutex<bool>, Condvar)) {
            *gate.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
            gate.1.notify_all();
        }

        fn container() -> ContainerInfo {
            ContainerInfo {
                id: "abc".into(),
                image: "registry.example/app:1".into(),
                image_digest: DIGEST.into(),
                ..ContainerInfo::default()
            }
        }

        fn setup() -> (Arc<GatedLookup>, Arc<ProvenanceCache>) {
            let lookup = Arc::new(GatedLookup {
                gate: Arc::new((Mutex::new(false), Condvar::new())),
                calls: AtomicUsize::new(0),
            });
            let cache = ProvenanceCache::new(Some(lookup.clone()), FOREVER, 16);
            (lookup, Arc::new(cache))
        }

        /// Submit `count` alerts from the container in another thread; panics unless every
        /// submit returned while the registry is still stuck.
        fn submit_all(
            dispatcher: Dispatcher,
            cache: &Arc<ProvenanceCache>,
            count: u64,
        ) -> Dispatcher {
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let cache = Arc::clone(cache);
            let producer = std::thread::spawn(move || {
                let mut dispatcher = dispatcher;
                for n in 0..count {
                    dispatcher.submit_with(alert(n), cache.begin(&container()));
                }
                let _ = done_tx.send(());
                dispatcher
            });
            assert!(
                done_rx.recv_timeout(HANG_GUARD).is_ok(),
                "the producer was held up by a lookup that had not answered"
            );
            producer
                .join()
                .unwrap_or_else(|_| panic!("producer panicked"))
        }

        fn seen_now(seen: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
            seen.lock().map(|v| v.clone()).unwrap_or_default()
        }

        #[test]
        fn alerts_wait_for_the_lookup_in_order_without_holding_the_producer() {
            let (lookup, cache) = setup();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let config = Config {
                queue_capacity: 8,
                ..Config::default()
            };
            let d = Dispatcher::start(vec![Box::new(Collect(Arc::clone(&seen), None))], &config);
            let d = submit_all(d, &cache, 5);
            // Every submit returned; the lookup started once (on its own thread, which may not
            // have reached the registry yet: wait for it, bounded) and has not answered, so
            // nothing could be written yet (the first alert waits, the others stay behind it).
            let deadline = Instant::now() + HANG_GUARD;
            while lookup.calls.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
            assert!(seen_now(&seen).is_empty(), "{:?}", seen_now(&seen));
            open(&lookup.gate);
            let stats = d.finish();
            assert_eq!((stats.submitted, stats.delivered), (5, 5));
            let seen = seen_now(&seen);
            for (n, line) in seen.iter().enumerate() {
                assert!(line.contains(&format!("n={n} ")), "order: {seen:?}");
                assert!(
                    line.contains("sealwatch.signature=verified")
                        && line.contains("sealwatch.signer=alice@example.invalid")
                        && line.contains("sealwatch.signer.issuer=https://issuer.example.invalid"),
                    "{line}"
                );
            }
        }

        #[test]
        fn live_mode_writes_the_oldest_alert_when_the_waiting_room_is_full() {
            let (lookup, cache) = setup();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let config = Config {
                queue_capacity: 2,
                when_waiting_full: WhenWaitingFull::WriteNow,
                ..Config::default()
            };
            let d = Dispatcher::start(vec![Box::new(Collect(Arc::clone(&seen), None))], &config);
            // Far more alerts than queue and waiting room hold, with a blocking queue: the
            // producer still gets through while the registry is stuck.
            let d = submit_all(d, &cache, 20);
            // Alerts keep flowing while the lookup hangs: all but the newest are written as
            // `unknown` (the newest waits; nothing behind it needs its place).
            let give_up = Instant::now() + HANG_GUARD;
            while seen_now(&seen).len() < 19 && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(5));
            }
            let early = seen_now(&seen);
            assert_eq!(early.len(), 19, "{early:?}");
            assert!(
                early
                    .iter()
                    .all(|l| l.contains("sealwatch.signature=unknown")
                        && l.contains(&format!("sealwatch.image.digest={DIGEST}"))),
                "{early:?}"
            );
            open(&lookup.gate);
            let stats = d.finish();
            assert_eq!(
                (stats.submitted, stats.delivered, stats.dropped()),
                (20, 20, 0)
            );
            let seen = seen_now(&seen);
            for (n, line) in seen.iter().enumerate() {
                assert!(line.contains(&format!("n={n} ")), "order: {seen:?}");
            }
            assert!(
                seen[19].contains("sealwatch.signature=verified"),
                "the alert that could wait got the answer: {}",
                seen[19]
            );
            assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
        }
    }
}

//! Open-loop (fixed-rate) load generator for `bench/admission.sh`.
//!
//! wrk keeps N connections busy (closed loop): when the server stalls, wrk stops sending, and
//! the stall shows up as one slow request instead of all the requests that should have been
//! sent meanwhile ("coordinated omission"). A budget stated at a fixed rate ("p99 under 2 ms at
//! 2,000 requests/s") needs an open loop: request `i` is due at `start + i / rate` whatever
//! happened before, and its latency is measured from that due time, so time spent waiting
//! for a free connection or a busy client counts against the server as it would for a real
//! API server. Connections are reused (HTTP/1.1 keep-alive) and opened as needed.
//!
//! ```text
//! admission_load --url https://127.0.0.1:8443/mutate?timeout=10s --cacert tls.crt \
//!     --body review.json --rate 2000 --duration 60 [--variants N] [--connections C] [--expect-allowed]
//! ```
//! At most C (default 16) requests are in flight on at most C keep-alive connections, as an
//! API server keeps a bounded pool; a request due while all are busy waits for one, and the
//! wait counts in its latency.
//! With `--variants N`, every `@@N@@` in the body is replaced by `i % N` for request `i`
//! (distinct image tags, so neither the cache nor single-flight can share work).
//! Prints one JSON object: sent, ok, denied, http_errors, transport_errors, late_starts
//! (requests sent over 1 ms after their due time: the generator itself fell behind) and the
//! largest such lag, and latency percentiles in ms.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Bytes;

struct Options {
    url: String,
    cacert: String,
    body: String,
    rate: f64,
    duration: f64,
    variants: usize,
    connections: usize,
    expect_allowed: bool,
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "admission_load: {problem}\nusage: admission_load --url URL --cacert PEM --body FILE --rate PER_SECOND --duration SECONDS [--variants N] [--connections C] [--expect-allowed]"
    );
    std::process::exit(2)
}

fn parse_options() -> Options {
    let mut options = Options {
        url: String::new(),
        cacert: String::new(),
        body: String::new(),
        rate: 0.0,
        duration: 0.0,
        variants: 0,
        connections: 16,
        expect_allowed: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--expect-allowed" {
            options.expect_allowed = true;
            continue;
        }
        let Some(value) = args.next() else {
            usage(&format!("{flag} needs a value"))
        };
        let number = |text: &str| -> f64 {
            text.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {text}")))
        };
        match flag.as_str() {
            "--url" => options.url = value,
            "--cacert" => options.cacert = value,
            "--body" => options.body = value,
            "--rate" => options.rate = number(&value),
            "--duration" => options.duration = number(&value),
            "--variants" => options.variants = number(&value) as usize,
            "--connections" => options.connections = (number(&value) as usize).max(1),
            other => usage(&format!("unknown option {other}")),
        }
    }
    if options.url.is_empty() || options.cacert.is_empty() || options.body.is_empty() {
        usage("--url, --cacert and --body are required");
    }
    if !(options.rate > 0.0 && options.duration > 0.0) {
        usage("--rate and --duration must be positive");
    }
    options
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    ok: u64,
    denied: u64,
    http_errors: u64,
    transport_errors: u64,
    first_error: Option<String>,
}

fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).copied().unwrap_or(0) as f64 / 1000.0
}

fn main() {
    let options = parse_options();
    let pem = std::fs::read(&options.cacert)
        .unwrap_or_else(|e| usage(&format!("{}: {e}", options.cacert)));
    let template = std::fs::read_to_string(&options.body)
        .unwrap_or_else(|e| usage(&format!("{}: {e}", options.body)));
    let certificate = reqwest::Certificate::from_pem(&pem)
        .unwrap_or_else(|e| usage(&format!("{}: {e}", options.cacert)));
    let client = reqwest::Client::builder()
        .add_root_certificate(certificate)
        .http1_only()
        .pool_max_idle_per_host(options.connections)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| usage(&format!("client: {e}")));
    // `Bytes` clones share the buffer: no copy per request.
    let bodies: Vec<Bytes> = if options.variants > 0 {
        (0..options.variants)
            .map(|i| Bytes::from(template.replace("@@N@@", &i.to_string())))
            .collect()
    } else {
        vec![Bytes::from(template)]
    };
    // One thread: the generator shares the machine with the server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| usage(&format!("runtime: {e}")));
    let total = (options.rate * options.duration).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let tally = Arc::new(Mutex::new(Tally {
        latencies_us: Vec::with_capacity(total as usize),
        ..Tally::default()
    }));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(options.connections));
    let mut late_starts = 0u64;
    let mut max_start_lag = Duration::ZERO;
    // tokio's timer ticks in whole milliseconds, which at 2,000/s would send requests in pairs
    // up to 1 ms late and count that lag as server latency. A plain thread sleeping with
    // nanosleep (tens of microseconds late) releases each request at its due time instead.
    let start = std::time::Instant::now() + Duration::from_millis(50);
    let (due_sender, mut due_receiver) =
        tokio::sync::mpsc::unbounded_channel::<(u64, std::time::Instant)>();
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let due = start + interval.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
            if due_sender.send((i, due)).is_err() {
                return;
            }
        }
    });
    let started = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        while let Some((i, due)) = due_receiver.recv().await {
            let lag = due.elapsed();
            max_start_lag = max_start_lag.max(lag);
            if lag > Duration::from_millis(1) {
                late_starts += 1;
            }
            let body = bodies[(i as usize) % bodies.len()].clone();
            let request = client
                .post(&options.url)
                .header("Content-Type", "application/json")
                .body(body);
            let tally = Arc::clone(&tally);
            let expect_allowed = options.expect_allowed;
            let in_flight = Arc::clone(&in_flight);
            tasks.spawn(async move {
                // Closed only on drop, which cannot happen while this task holds an Arc.
                let _permit = in_flight.acquire_owned().await;
                let result = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.map(|body| (status, body))
                    }
                    Err(error) => Err(error),
                };
                let latency = due.elapsed();
                let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
                tally
                    .latencies_us
                    .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                match result {
                    Ok((status, body)) if status.is_success() => {
                        let text = String::from_utf8_lossy(&body);
                        if !expect_allowed || text.contains("\"allowed\":true") {
                            tally.ok += 1;
                        } else {
                            tally.denied += 1;
                            tally.first_error.get_or_insert_with(|| text.into_owned());
                        }
                    }
                    Ok((status, body)) => {
                        tally.http_errors += 1;
                        tally.first_error.get_or_insert_with(|| {
                            format!("HTTP {status}: {}", String::from_utf8_lossy(&body))
                        });
                    }
                    Err(error) => {
                        tally.transport_errors += 1;
                        tally.first_error.get_or_insert_with(|| {
                            let mut text = error.to_string();
                            let mut cause = std::error::Error::source(&error);
                            while let Some(inner) = cause {
                                text.push_str(": ");
                                text.push_str(&inner.to_string());
                                cause = inner.source();
                            }
                            text
                        });
                    }
                }
            });
            // Reap finished tasks so the set stays small.
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        start
    });
    let _ = pacer.join();
    let elapsed = started.elapsed().as_secs_f64();
    let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    tally.latencies_us.sort_unstable();
    let sorted = &tally.latencies_us;
    let report = serde_json::json!({
        "rate": options.rate,
        "duration_s": options.duration,
        "sent": total,
        "achieved_rate": (total as f64 / elapsed * 10.0).round() / 10.0,
        "ok": tally.ok,
        "denied": tally.denied,
        "http_errors": tally.http_errors,
        "transport_errors": tally.transport_errors,
        "late_starts": late_starts,
        "max_start_lag_ms": max_start_lag.as_secs_f64() * 1e3,
        "latency_ms": {
            "p50": percentile(sorted, 0.50),
            "p90": percentile(sorted, 0.90),
            "p99": percentile(sorted, 0.99),
            "p99_9": percentile(sorted, 0.999),
            "max": percentile(sorted, 1.0),
        },
        "first_error": tally.first_error,
    });
    println!("{report}");
}

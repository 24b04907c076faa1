//! The HTTP output POSTs Falco's JSON alert to `/`, as falcosidekick expects, and counts
//! rejected alerts as failed writes. The receiver is a small HTTP/1.1 server on 127.0.0.1 that
//! applies falcosidekick's payload check (non-empty rule, priority, time and output_fields).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use sealwatch_rules::loader::Priority;
use sealwatch_rules::output::{Alert, FieldValue, OutputFormat};
use sealwatch_runtime::outputs::{Config, Dispatcher, HttpSink};

struct Request {
    method: String,
    path: String,
    content_type: String,
    body: serde_json::Value,
}

/// Serve `count` requests (over any number of connections), answering 200 when the payload
/// passes falcosidekick's check and 400 otherwise.
fn serve(listener: TcpListener, count: usize, seen: mpsc::Sender<Request>) {
    let mut served = 0;
    while served < count {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
        let mut writer = stream;
        while served < count {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                break;
            }
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_string();
            let path = parts.next().unwrap_or_default().to_string();
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "content-type" => content_type = value.trim().to_string(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let valid = body["rule"].as_str().is_some_and(|r| !r.is_empty())
                && body["priority"]
                    .as_str()
                    .is_some_and(|p| Priority::parse(p).is_some())
                && body["time"].as_str().is_some_and(|t| t.ends_with('Z'))
                && body["output_fields"]
                    .as_object()
                    .is_some_and(|o| !o.is_empty());
            let status = if valid { "200 OK" } else { "400 Bad Request" };
            let _ = write!(writer, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            let _ = writer.flush();
            let _ = seen.send(Request {
                method,
                path,
                content_type,
                body,
            });
            served += 1;
        }
    }
}

fn alert(rule: &str, fields: &str) -> Alert {
    let format = OutputFormat::parse(fields).unwrap_or_else(|e| panic!("{e}"));
    let values = |name: &str| (name == "proc.name").then(|| FieldValue::Str("bash".into()));
    Alert::new(
        &format,
        &values,
        1_685_022_245_478_445_995,
        rule,
        Priority::Warning,
        "syscall",
        "h",
        &Default::default(),
    )
}

#[test]
fn alerts_are_posted_as_falco_json_to_the_root_path() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || serve(listener, 2, tx));

    let sink = HttpSink::new(&url).unwrap_or_else(|e| panic!("{e}"));
    let mut dispatcher = Dispatcher::start(vec![Box::new(sink)], &Config::default());
    dispatcher.submit(alert("Shell", "shell=%proc.name"));
    // An output without fields still carries evt.time, so falcosidekick accepts it.
    dispatcher.submit(alert("Plain", "nothing to substitute"));
    let stats = dispatcher.finish();
    let _ = server.join();

    assert_eq!((stats.delivered, stats.failed_writes), (2, 0), "{stats:?}");
    let requests: Vec<Request> = rx.try_iter().collect();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/"));
        assert_eq!(r.content_type, "application/json");
    }
    assert_eq!(
        requests[0].body["output_fields"],
        serde_json::json!({"proc.name": "bash"})
    );
    assert_eq!(
        requests[0].body["output"],
        "13:44:05.478445995: Warning shell=bash"
    );
    assert_eq!(
        requests[1].body["output_fields"],
        serde_json::json!({"evt.time": 1_685_022_245_478_445_995u64})
    );
}

#[test]
fn rejected_and_unreachable_posts_are_counted_not_fatal() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (tx, _rx) = mpsc::channel();
    let server = std::thread::spawn(move || serve(listener, 1, tx));
    let sink = HttpSink::new(&url).unwrap_or_else(|e| panic!("{e}"));
    let mut dispatcher = Dispatcher::start(vec![Box::new(sink)], &Config::default());
    // An empty rule name fails falcosidekick's check: HTTP 400.
    dispatcher.submit(alert("", "shell=%proc.name"));
    let _ = server.join();
    // The server is gone: the next POST cannot connect.
    dispatcher.submit(alert("Shell", "shell=%proc.name"));
    let stats = dispatcher.finish();
    assert_eq!((stats.delivered, stats.failed_writes), (0, 2), "{stats:?}");
    assert!(
        stats.errors.first().is_some_and(|e| e.contains("400")),
        "{stats:?}"
    );
}

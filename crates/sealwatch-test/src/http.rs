//! A small static HTTP/1.1 file server on 127.0.0.1 for tests that download (e.g. `db update`): it serves
//! bytes the test put in it, with `ETag` / `Last-Modified` and `304 Not Modified` answers to conditional
//! requests, and records every request. It stops (and its thread is joined) when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub path: String,
    pub status: u16,
    /// Whether the request carried `If-None-Match` or `If-Modified-Since`.
    pub conditional: bool,
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, (Vec<u8>, u64)>,
    /// Pause after each 16 KiB of a body (to interrupt a client mid-download).
    throttle: Option<Duration>,
    log: Vec<Served>,
    generation: u64,
}

pub struct FileServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Start serving on an ephemeral loopback port.
    pub fn start() -> std::io::Result<FileServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            // A thread per connection, so an idle keep-alive connection never blocks
                            // the next client; each ends when its client closes or after the read
                            // timeout.
                            let state = Arc::clone(&state);
                            std::thread::spawn(move || {
                                let _ = serve(stream, &state);
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Ok(FileServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serve `bytes` at `path` (which starts with `/`); replacing a file gives it a new ETag.
    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        let mut state = self.lock();
        state.generation += 1;
        let generation = state.generation;
        state.files.insert(path.to_owned(), (bytes, generation));
    }

    /// Send bodies slowly: `pause` after every 16 KiB (`None`: full speed).
    pub fn throttle(&self, pause: Option<Duration>) {
        self.lock().throttle = pause;
    }

    /// Every request so far, in order.
    pub fn log(&self) -> Vec<Served> {
        self.lock().log.clone()
    }

    pub fn clear_log(&self) {
        self.lock().log.clear();
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answer requests on one connection until the client closes it (keep-alive) or sends garbage.
fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    // Bounded: a test client sends a handful of requests per connection.
    for _ in 0..1000 {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let raw_path = parts.next().unwrap_or_default().to_owned();
        let path = raw_path.replace("%20", " ");
        let mut if_none_match = None;
        let mut if_modified_since = None;
        for _ in 0..100 {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "if-none-match" => if_none_match = Some(value.trim().to_owned()),
                    "if-modified-since" => if_modified_since = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        let conditional = if_none_match.is_some() || if_modified_since.is_some();
        let (file, throttle) = {
            let state = state.lock().unwrap_or_else(PoisonError::into_inner);
            (state.files.get(&path).cloned(), state.throttle)
        };
        let (status, body, headers) = match file {
            None => (404, b"not found\n".to_vec(), String::new()),
            Some((bytes, generation)) => {
                let etag = format!("\"v{generation}-{}\"", bytes.len());
                // A fixed date per generation: enough for If-Modified-Since to be meaningful.
                let last_modified = format!("Mon, 01 Jan 2024 00:{:02}:00 GMT", generation % 60);
                let headers = format!("ETag: {etag}\r\nLast-Modified: {last_modified}\r\n");
                let fresh = match (&if_none_match, &if_modified_since) {
                    (Some(tag), _) => *tag == etag,
                    (None, Some(since)) => *since == last_modified,
                    (None, None) => false,
                };
                if fresh {
                    (304, Vec::new(), headers)
                } else {
                    (200, bytes, headers)
                }
            }
        };
        state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .log
            .push(Served {
                path: path.clone(),
                status,
                conditional,
            });
        let reason = match status {
            200 => "OK",
            304 => "Not Modified",
            _ => "Not Found",
        };
        write!(
            out,
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n{headers}Content-Type: application/zip\r\n\r\n",
            if status == 304 { 0 } else { body.len() }
        )?;
        if method != "HEAD" && status != 304 {
            for chunk in body.chunks(16 * 1024) {
                out.write_all(chunk)?;
                if let Some(pause) = throttle {
                    out.flush()?;
                    std::thread::sleep(pause);
                }
            }
        }
        out.flush()?;
    }
    Ok(())
}

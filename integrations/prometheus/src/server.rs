//! The HTTP side: `tiny_http` reads requests on its own per-connection
//! threads; a few workers answer them from the newest published pass.
//!
//! Routes: `GET /metrics` (text format 0.0.4, or `OpenMetrics` when the
//! scraper's `Accept` asks for it), `GET /` (a page linking `/metrics`),
//! anything else 404; methods other than GET and HEAD get 405, request
//! heads over [`MAX_HEAD_BYTES`] get 431.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, StatusCode};

use crate::exposition::Format;
use crate::publish::Latest;

/// Largest request head (request line and headers) answered; a scrape's is
/// a few hundred bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Threads answering requests.
const WORKERS: usize = 4;

/// How often an idle worker checks whether to stop.
const POLL: Duration = Duration::from_millis(200);

const INDEX_HTML: &str = "<!DOCTYPE html>\n<html><head><title>nvitop-exporter</title></head>\n<body><h1>nvitop-exporter</h1>\n<p>Prometheus metrics of this machine's NVIDIA GPUs: <a href=\"/metrics\">/metrics</a></p>\n</body></html>\n";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {message}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What the system said.
    pub message: String,
}

/// A running HTTP server.
pub struct Server {
    http: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Listens on `addr` and answers from `latest`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use nvitop_exporter::{exposition::Exposition, metrics::families, publish::Latest, server::Server};
    /// let latest = std::sync::Arc::new(Latest::new(Exposition::new(families(&Default::default(), "n"))));
    /// let server = Server::start("127.0.0.1:0".parse().unwrap(), &latest).unwrap();
    /// let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    /// stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    /// let mut response = String::new();
    /// stream.read_to_string(&mut response).unwrap();
    /// assert!(response.starts_with("HTTP/1.0 200"));
    /// assert!(response.contains("text/plain; version=0.0.4; charset=utf-8"));
    /// server.stop();
    /// ```
    ///
    /// # Errors
    /// The address cannot be bound (in use, not an address of this machine).
    pub fn start(addr: SocketAddr, latest: &Arc<Latest>) -> Result<Self, BindError> {
        let server = tiny_http::Server::http(addr).map_err(|err| BindError {
            addr,
            message: err.to_string(),
        })?;
        let local = server.server_addr().to_ip().unwrap_or(addr);
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::with_capacity(WORKERS);
        for n in 0..WORKERS {
            let (server, stop, latest) = (Arc::clone(&server), Arc::clone(&stop), Arc::clone(latest));
            let worker = std::thread::Builder::new()
                .name(format!("nvitop-http-{n}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match server.recv_timeout(POLL) {
                            Ok(Some(request)) => answer(request, &latest),
                            Ok(None) => {}
                            // An accept error (for example out of descriptors) is
                            // the listener's, not the worker's: keep serving.
                            Err(err) => {
                                log::warn!("HTTP: {err}");
                                std::thread::sleep(POLL);
                            }
                        }
                    }
                });
            match worker {
                Ok(worker) => workers.push(worker),
                Err(err) => log::warn!("cannot start HTTP worker {n}: {err}"),
            }
        }
        if workers.is_empty() {
            return Err(BindError {
                addr,
                message: "no HTTP worker thread could be started".into(),
            });
        }
        Ok(Self {
            http: server,
            stop,
            workers,
            addr: local,
        })
    }

    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering and waits for the workers (each finishes the response it is writing).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.http.unblock();
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn head_bytes(request: &Request) -> usize {
    request.url().len()
        + request
            .headers()
            .iter()
            .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
            .sum::<usize>()
}

/// Answers one request. Errors writing the response (the scraper went
/// away) are the scraper's business.
fn answer(request: Request, latest: &Latest) {
    let (status, content_type, body): (u16, &str, Arc<[u8]>) = route(&request, latest);
    let mut headers: Vec<Header> = header("Content-Type", content_type).into_iter().collect();
    if status == 405 {
        headers.extend(header("Allow", "GET, HEAD"));
    }
    let length = body.len();
    let response = Response::new(StatusCode(status), headers, Cursor::new(body), Some(length), None);
    if let Err(err) = request.respond(response) {
        log::debug!("HTTP: writing a response failed: {err}");
    }
}

fn route(request: &Request, latest: &Latest) -> (u16, &'static str, Arc<[u8]>) {
    let text = |status, body: &str| (status, "text/plain; charset=utf-8", Arc::from(body.as_bytes()));
    if head_bytes(request) > MAX_HEAD_BYTES {
        return text(431, "request header fields too large\n");
    }
    if !matches!(request.method(), Method::Get | Method::Head) {
        return text(405, "method not allowed\n");
    }
    let path = request.url().split(['?', '#']).next().unwrap_or_default();
    match path {
        "/metrics" => {
            let accept = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Accept"))
                .map(|h| h.value.as_str());
            let format = Format::negotiate(accept);
            (200, format.content_type(), latest.get().encoded(format))
        }
        "/" => (200, "text/html; charset=utf-8", Arc::from(INDEX_HTML.as_bytes())),
        _ => text(404, "not found: see /metrics\n"),
    }
}

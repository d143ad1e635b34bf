//! The HTTP side: a small HTTP/1.1 server on `std::net`, one thread per
//! connection, answering from the newest published pass.
//!
//! Routes: `GET /metrics` (text format 0.0.4, or `OpenMetrics` when the
//! scraper's `Accept` asks for it), `GET /` (a page linking `/metrics`),
//! anything else 404; methods other than GET and HEAD get 405, a request
//! that does not parse 400, a head over [`MAX_HEAD_BYTES`] 431. Each
//! connection has its own thread and deadlines, so a client that connects
//! and sends nothing holds only its own thread, and only for [`IDLE`].
//!
//! Why not `tiny_http` 0.12 (tried first): its connection pool queued new
//! connections behind one that sent nothing (our test
//! `a_client_that_sends_nothing_does_not_block_others` timed out), it
//! closed a request line with non-ASCII bytes without an answer, read
//! request heads of any size, and its TLS (rustls 0.20) shakes hands on
//! the accept thread, where one silent client stops every other.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::exposition::Format;
use crate::publish::Latest;
use crate::tls::TlsConfig;

/// Largest request head (request line and headers) answered; a scrape's is
/// a few hundred bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Connections served at once; one more is answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 512;

/// How long a connection may wait for the next request (Prometheus keeps
/// connections open between scrapes; 90 s covers a 1-minute interval).
pub const IDLE: Duration = Duration::from_secs(90);

/// How long a request head may take to arrive once it has started.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// How long writing a response may stall.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

const INDEX_HTML: &str = "<!DOCTYPE html>\n<html><head><title>nvitop-exporter</title></head>\n<body><h1>nvitop-exporter</h1>\n<p>Prometheus metrics of this machine's NVIDIA GPUs: <a href=\"/metrics\">/metrics</a></p>\n</body></html>\n";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

/// A running HTTP server.
#[derive(Debug)]
pub struct Server {
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl Server {
    /// Listens on `addr` and answers from `latest`, over TLS when `tls` is given.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use nvitop_exporter::{exposition::Exposition, metrics::families, publish::Latest, server::Server};
    /// let latest = std::sync::Arc::new(Latest::new(Exposition::new(families(&Default::default(), "n"))));
    /// let server = Server::start("127.0.0.1:0".parse().unwrap(), &latest, None).unwrap();
    /// let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    /// stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    /// let mut response = String::new();
    /// stream.read_to_string(&mut response).unwrap();
    /// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
    /// assert!(response.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    /// server.stop();
    /// ```
    ///
    /// # Errors
    /// The address cannot be bound (in use, not an address of this machine).
    pub fn start(addr: SocketAddr, latest: &Arc<Latest>, tls: Option<Arc<TlsConfig>>) -> Result<Self, BindError> {
        let listener = TcpListener::bind(addr).map_err(|source| BindError { addr, source })?;
        let local = listener.local_addr().map_err(|source| BindError { addr, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (stop, latest) = (Arc::clone(&stop), Arc::clone(latest));
            std::thread::Builder::new()
                .name("nvitop-http-accept".into())
                .spawn(move || accept_loop(&listener, &stop, &latest, tls.as_ref()))
                .map_err(|source| BindError { addr, source })?
        };
        Ok(Self {
            stop,
            acceptor: Some(acceptor),
            addr: local,
        })
    }

    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections; connections being served finish their
    /// current response on their own threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let wake = if self.addr.ip().is_unspecified() {
            SocketAddr::new(
                if self.addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                },
                self.addr.port(),
            )
        } else {
            self.addr
        };
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, latest: &Arc<Latest>, tls: Option<&Arc<TlsConfig>>) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                // Out of descriptors, for example: the listener's trouble,
                // not a reason to stop serving.
                log::warn!("accept: {err}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = write_response(&mut stream, &Reply::text(503, "too many connections\n"), false, true);
            continue;
        }
        let (latest, tls, guard) = (Arc::clone(latest), tls.cloned(), ConnectionSlot(Arc::clone(&open)));
        let spawned = std::thread::Builder::new().name("nvitop-http".into()).spawn(move || {
            let _guard = guard;
            serve_connection(stream, &latest, tls.as_deref());
        });
        if let Err(err) = spawned {
            log::warn!("cannot start a connection thread: {err}");
        }
    }
}

/// Counts an open connection until dropped.
struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve_connection(stream: TcpStream, latest: &Latest, tls: Option<&TlsConfig>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    match tls {
        None => serve_stream(stream.try_clone().ok(), stream, latest),
        Some(tls) => match tls.accept(stream, HEAD_DEADLINE) {
            Ok(stream) => serve_stream(None, stream, latest),
            Err(err) => log::debug!("TLS handshake failed: {err}"),
        },
    }
}

/// A byte stream whose read deadline can be set (plain TCP or TLS over TCP).
pub trait Connection: Read + Write {
    /// Sets the read timeout of the socket underneath.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
}

impl Connection for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

/// Serves requests on one connection until it closes, errs or idles out.
fn serve_stream<S: Connection>(plain: Option<TcpStream>, stream: S, latest: &Latest) {
    let mut reader = BufReader::with_capacity(4096, stream);
    loop {
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) | Err(HeadError::Io) => break,
            Err(HeadError::TooLarge) => {
                let _ = write_response(
                    reader.get_mut(),
                    &Reply::text(431, "request header fields too large\n"),
                    false,
                    true,
                );
                break;
            }
            Err(HeadError::Malformed) => {
                let _ = write_response(reader.get_mut(), &Reply::text(400, "bad request\n"), false, true);
                break;
            }
        };
        let request = parse_head(&head);
        let (reply, keep_alive) = match &request {
            Some(request) => (route(request, latest), request.keep_alive()),
            None => (Reply::text(400, "bad request\n"), false),
        };
        let head_only = request.as_ref().is_some_and(|r| r.method == "HEAD");
        if write_response(reader.get_mut(), &reply, head_only, !keep_alive).is_err() || !keep_alive {
            break;
        }
    }
    if let Some(plain) = plain {
        let _ = plain.shutdown(Shutdown::Both);
    }
}

enum HeadError {
    TooLarge,
    Malformed,
    Io,
}

/// Reads one request head (up to the empty line). `Ok(None)`: the client
/// closed or stayed silent for [`IDLE`] before sending a byte.
fn read_head<S: Connection>(reader: &mut BufReader<S>) -> Result<Option<Vec<u8>>, HeadError> {
    let _ = reader.get_ref().set_read_timeout(Some(IDLE));
    let mut head = Vec::with_capacity(512);
    let mut started: Option<Instant> = None;
    loop {
        let available = match reader.fill_buf() {
            Ok([]) => return if head.is_empty() { Ok(None) } else { Err(HeadError::Io) },
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) if head.is_empty() => return Ok(None),
            Err(_) => return Err(HeadError::Io),
        };
        // Up to and including the end of the head, if it is in this chunk.
        let before = head.len();
        head.extend_from_slice(available);
        let end = find_head_end(&head, before.saturating_sub(3));
        let used = end.map_or(head.len() - before, |end| end - before);
        reader.consume(used);
        if started.is_none() {
            // The head has started: from now on it must arrive in time.
            started = Some(Instant::now());
            let _ = reader.get_ref().set_read_timeout(Some(HEAD_DEADLINE));
        }
        if let Some(end) = end {
            head.truncate(end);
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
        if head.len() >= 2 && !head.is_ascii() {
            // Not HTTP (TLS to a plain port, binary noise): answer now
            // rather than wait for a line end that may never come.
            return Err(HeadError::Malformed);
        }
        if started.is_some_and(|s| s.elapsed() > HEAD_DEADLINE) {
            return Err(HeadError::Io);
        }
    }
}

/// The index just past `\r\n\r\n` (or `\n\n`), searching from `from`.
fn find_head_end(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find_map(|i| {
        if bytes[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if bytes[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// A parsed request head.
#[derive(Debug)]
struct Request {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// HTTP/1.1 keeps the connection unless told to close; a request with a
    /// body (which we do not read) closes it, so no body is taken for the
    /// next request.
    fn keep_alive(&self) -> bool {
        let close = self
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let body = self.header("Content-Length").is_some_and(|v| v.trim() != "0")
            || self.header("Transfer-Encoding").is_some();
        self.version == "HTTP/1.1" && !close && !body
    }
}

fn parse_head(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    let valid_method = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if first.next().is_some() || !valid_method || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        if name.is_empty() || name.contains(' ') {
            return None;
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
    })
}

/// A response to write.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Arc<[u8]>,
}

impl Reply {
    fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Arc::from(body.as_bytes()),
        }
    }
}

fn route(request: &Request, latest: &Latest) -> Reply {
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return Reply::text(405, "method not allowed\n");
    }
    let path = request.target.split(['?', '#']).next().unwrap_or_default();
    match path {
        "/metrics" => {
            let format = Format::negotiate(request.header("Accept"));
            Reply {
                status: 200,
                content_type: format.content_type(),
                body: latest.get().encoded(format),
            }
        }
        "/" => Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: Arc::from(INDEX_HTML.as_bytes()),
        },
        _ => Reply::text(404, "not found: see /metrics\n"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_response<W: Write>(out: &mut W, reply: &Reply, head_only: bool, close: bool) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    if reply.status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if !head_only {
        out.write_all(&reply.body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn heads_parse_and_refuse() {
        let r = parse_head(b"GET /metrics?x HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n").unwrap();
        assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/metrics?x"));
        assert_eq!(r.header("accept"), Some("text/plain"));
        assert!(r.keep_alive());
        assert!(!parse_head(b"GET /x HTTP/1.0\r\n\r\n").unwrap().keep_alive());
        assert!(
            !parse_head(b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive()
        );
        assert!(
            !parse_head(b"GET /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .keep_alive()
        );
        for bad in [
            &b"HELLO\r\n\r\n"[..],
            b"GET x HTTP/1.1\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET / SPDY\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        ] {
            assert!(parse_head(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn head_end_is_found_across_chunks() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\n", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n", 0), None);
    }
}

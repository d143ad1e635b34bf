//! Shared by the exporter's end-to-end tests: running the exporter binary,
//! plain HTTP/1.0 requests, a real Prometheus server in a temporary
//! directory, and the rule that a missing tool fails in CI.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The exporter binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_nvitop-exporter");

/// Whether a missing tool must fail the test (CI, or asked for).
pub fn tools_required() -> bool {
    std::env::var("NVITOP_REQUIRE_PRIVILEGED_TESTS").is_ok_and(|v| v == "1") || std::env::var_os("CI").is_some()
}

/// The path of `tool` (`prometheus`, `promtool`), or `None` after a note when
/// it is missing and not required; when required, a missing tool panics.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !tools_required(),
            "{name} is not installed, and CI or NVITOP_REQUIRE_PRIVILEGED_TESTS=1 requires it (Debian: apt-get install prometheus)"
        );
        eprintln!(
            "note: {name} is not installed; skipping (set CI or NVITOP_REQUIRE_PRIVILEGED_TESTS=1 to make this fail)"
        );
    }
    found
}

/// A running exporter, killed on drop.
pub struct Exporter {
    pub child: Child,
    pub addr: SocketAddr,
    /// Its stderr after the `serving` line, read on a thread.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Exporter {
    /// Starts the exporter with `args` (plus `--port 0`) and `env`, and waits
    /// for the line naming the address it serves.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().unwrap_or_else(|err| panic!("cannot start {BIN}: {err}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let mut reader = BufReader::new(stderr);
        let mut seen = String::new();
        let addr = loop {
            let mut line = String::new();
            let read = reader.read_line(&mut line).unwrap_or(0);
            assert!(
                read > 0,
                "the exporter stopped before serving: {seen}{:?}",
                child.try_wait()
            );
            seen.push_str(&line);
            if let Some(rest) = line
                .split("serving http://")
                .nth(1)
                .or_else(|| line.split("serving https://").nth(1))
            {
                let addr = rest.split("/metrics").next().unwrap_or_default();
                break addr
                    .parse::<SocketAddr>()
                    .unwrap_or_else(|err| panic!("bad address {addr:?}: {err}"));
            }
        };
        let log = std::sync::Arc::new(std::sync::Mutex::new(seen));
        {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = reader.read_to_string(&mut rest);
                if let Ok(mut log) = log.lock() {
                    log.push_str(&rest);
                }
            });
        }
        Self { child, addr, log }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` (raw bytes) and reads the response to the end
/// (HTTP/1.0: the server closes the connection).
pub fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    parse_response(&bytes)
}

fn parse_response(bytes: &[u8]) -> std::io::Result<Response> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of headers in {:?}", &text[..text.len().min(200)])))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Ok(Response { status, headers, body })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `GET path` over HTTP/1.0 with extra header lines.
pub fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> std::io::Result<Response> {
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    raw(addr, request.as_bytes())
}

/// A free loopback port (bound and released; a race with another program is
/// possible but unlikely).
pub fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(err) => panic!("no free port: {err}"),
    }
}

/// Percent-encodes a query-string value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A real Prometheus server on loopback with its own config and data
/// directory, killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` scraping `targets` (each with its own `instance` label
    /// as Prometheus sets it) every `scrape_interval`.
    pub fn start(binary: &Path, targets: &[SocketAddr], scrape_interval: &str) -> Self {
        let list = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
        let job = format!("  - job_name: nvitop\n    static_configs:\n      - targets: [{list}]\n");
        Self::start_with(binary, &job, scrape_interval)
    }

    /// Starts `binary` with `scrape_configs` (YAML list items, indented by two).
    pub fn start_with(binary: &Path, scrape_configs: &str, scrape_interval: &str) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
        let config = format!(
            "global:\n  scrape_interval: {scrape_interval}\n  scrape_timeout: {scrape_interval}\n  evaluation_interval: {scrape_interval}\nscrape_configs:\n{scrape_configs}"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap_or_else(|err| panic!("write config: {err}"));
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .unwrap_or_else(|err| panic!("{err}"));
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap_or_else(|err| panic!("{err}"));
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let prometheus = Self { child, addr, dir };
        prometheus.wait(Duration::from_mins(1), "Prometheus to answer", |p| {
            p.api("/api/v1/status/buildinfo").is_some()
        });
        prometheus
    }

    /// The active targets' health and last error.
    pub fn target_health(&self) -> Vec<(String, String)> {
        self.api("/api/v1/targets")
            .and_then(|data| data["activeTargets"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["health"].as_str().unwrap_or_default().to_owned(),
                    t["lastError"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Polls `ready` every 200 ms until it holds; panics after `limit` with Prometheus's log.
    pub fn wait(&self, limit: Duration, what: &str, ready: impl Fn(&Self) -> bool) {
        let start = Instant::now();
        while !ready(self) {
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}; Prometheus log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` on the HTTP API, the `data` of a successful answer.
    pub fn api(&self, path: &str) -> Option<Value> {
        let response = get(self.addr, path, &[]).ok()?;
        if response.status != 200 {
            return None;
        }
        let value: Value = serde_json::from_str(&response.body).ok()?;
        (value["status"] == "success").then(|| value["data"].clone())
    }

    /// Whether every target has been scraped successfully.
    pub fn targets_up(&self, count: usize) -> bool {
        self.api("/api/v1/targets").is_some_and(|data| {
            let active = data["activeTargets"].as_array().cloned().unwrap_or_default();
            active.len() == count && active.iter().all(|t| t["health"] == "up")
        })
    }

    /// An instant query's result vector: (labels, value).
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let data = self
            .api(&format!("/api/v1/query?query={}", urlencode(expr)))
            .unwrap_or_else(|| panic!("query {expr} failed; log:\n{}", self.log()));
        let results = data["result"].as_array().cloned().unwrap_or_default();
        results
            .into_iter()
            .filter_map(|r| {
                let labels = r["metric"].as_object()?.clone();
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((labels, value))
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) and resident memory (bytes) of `pid`.
pub fn cpu_and_rss(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // After the ')' : state is 0, utime is 11, stime is 12.
    let cpu = (field(11) + field(12)) as f64 / ticks;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    (cpu, rss_kib * 1024)
}

/// Percentile `p` (0..=100) of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

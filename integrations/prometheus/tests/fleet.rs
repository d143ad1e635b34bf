//! Long tests (`#[ignore]`d in the plain `cargo test`; `.ci/run` runs them
//! in their own step, and `bench/exporter-fleet.sh` for the figures):
//!
//! - fleet: 20 exporters on loopback ports, each its own scenario (the
//!   `h100x8` machine with another seed and workload) and hostname, one
//!   Prometheus scraping all of them every second for a minute;
//!   `count(gpu_utilization_Percentage)` is 20 × 8, no scrape fails, and
//!   each exporter's CPU time and resident memory are reported;
//! - load: 50 concurrent scrapers for 30 s with no error, the latency
//!   percentiles reported, while a connection that sends nothing stays open.
//!
//! `NVITOP_FLEET_SECONDS` / `NVITOP_LOAD_SECONDS` shorten or lengthen the
//! runs; `NVITOP_BENCH_JSON` names a file the figures are written to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

mod common;

use std::fmt::Write as _;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Exporter, Prometheus, cpu_and_rss, get, percentile};

const FLEET: usize = 20;
const PROFILES: &[&str] = &["training", "inference", "bursty", "idle"];

fn seconds_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn write_figures(section: &str, figures: &serde_json::Value) {
    if let Some(path) = std::env::var_os("NVITOP_BENCH_JSON") {
        let mut all: serde_json::Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        all[section] = figures.clone();
        std::fs::write(&path, serde_json::to_string_pretty(&all).unwrap()).unwrap();
    }
}

/// An 8-GPU scenario (the h100x8 machine, 8 processes per GPU on host
/// processes) with its own seed and workload.
fn scenario(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let profile = PROFILES[n % PROFILES.len()];
    let mut text = format!(
        "driver_version = \"560.35.03\"\ncuda_driver_version = \"12.6\"\nseed = {}\n",
        100 + n
    );
    for gpu in 0..8 {
        let _ = write!(
            text,
            "\n[[gpus]]\nmodel = \"H100-SXM5-80GB\"\nworkload = {{ profile = \"{profile}\" }}\nprocesses = [{{ pid = \"host:{}\", count = 8, memory_mib = 2048 }}]\n",
            gpu * 8
        );
    }
    let path = dir.join(format!("node-{n:02}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
#[ignore = "about 75 s: run by .ci/run's long-test step and bench/exporter-fleet.sh"]
fn fleet_of_20_exporters_scraped_every_second() {
    let Some(binary) = common::tool("prometheus") else {
        return;
    };
    let seconds = seconds_from_env("NVITOP_FLEET_SECONDS", 60);
    let dir = tempfile::tempdir().unwrap();
    let exporters: Vec<Exporter> = (0..FLEET)
        .map(|n| {
            let path = scenario(dir.path(), n);
            Exporter::start(
                &[
                    "--simulate",
                    path.to_str().unwrap(),
                    "--hostname",
                    &format!("node-{n:02}"),
                ],
                &[],
            )
        })
        .collect();
    let addrs: Vec<_> = exporters.iter().map(|e| e.addr).collect();
    let prometheus = Prometheus::start(&binary, &addrs, "1s");
    prometheus.wait(Duration::from_mins(1), "all 20 targets up", |p| p.targets_up(FLEET));
    let before: Vec<(f64, u64)> = exporters.iter().map(|e| cpu_and_rss(e.pid())).collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let wall = start.elapsed().as_secs_f64();
    let after: Vec<(f64, u64)> = exporters.iter().map(|e| cpu_and_rss(e.pid())).collect();

    assert_eq!(
        prometheus.query("count(gpu_utilization_Percentage)")[0].1,
        (FLEET * 8) as f64
    );
    assert_eq!(
        prometheus.query("count(count by (hostname) (nvitop_info))")[0].1,
        FLEET as f64
    );
    // No failed scrape in the window: `up` was 1 at every scrape of every target.
    let window = format!("{seconds}s");
    let failed = prometheus.query(&format!(
        "sum(count_over_time(up[{window}])) - sum(sum_over_time(up[{window}]))"
    ));
    assert_eq!(failed[0].1, 0.0, "failed scrapes: {failed:?}");
    let scrapes = prometheus.query(&format!("sum(count_over_time(up[{window}]))"))[0].1;
    assert!(
        scrapes >= (FLEET as f64) * (seconds as f64) * 0.8,
        "only {scrapes} scrapes in {seconds} s"
    );
    let duration = prometheus.query(&format!("max(max_over_time(scrape_duration_seconds[{window}]))"))[0].1;
    let samples = prometheus.query("max(scrape_samples_scraped)")[0].1;

    let mut rows = Vec::new();
    for (n, ((cpu0, _), (cpu1, rss))) in before.iter().zip(&after).enumerate() {
        let cpu_percent = (cpu1 - cpu0) / wall * 100.0;
        eprintln!(
            "node-{n:02}: CPU {cpu_percent:.2} % of a core, RSS {:.1} MiB",
            *rss as f64 / 1_048_576.0
        );
        rows.push(serde_json::json!({ "node": n, "cpu_percent": cpu_percent, "rss_mib": *rss as f64 / 1_048_576.0 }));
    }
    let cpus: Vec<f64> = rows.iter().map(|r| r["cpu_percent"].as_f64().unwrap()).collect();
    let rss: Vec<f64> = rows.iter().map(|r| r["rss_mib"].as_f64().unwrap()).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    eprintln!(
        "fleet: {FLEET} exporters x 8 GPUs x 8 processes, {scrapes} scrapes in {wall:.0} s, none failed; \
         {samples} samples per scrape, slowest scrape {:.1} ms; CPU mean {:.2} % max {:.2} %, RSS mean {:.1} MiB max {:.1} MiB",
        duration * 1000.0,
        mean(&cpus),
        max(&cpus),
        mean(&rss),
        max(&rss)
    );
    write_figures(
        "fleet",
        &serde_json::json!({
            "exporters": FLEET, "seconds": wall, "scrapes": scrapes, "failed_scrapes": 0,
            "samples_per_scrape": samples, "slowest_scrape_ms": duration * 1000.0,
            "cpu_percent_mean": mean(&cpus), "cpu_percent_max": max(&cpus),
            "rss_mib_mean": mean(&rss), "rss_mib_max": max(&rss), "per_exporter": rows,
        }),
    );
}

#[test]
#[ignore = "about 35 s: run by .ci/run's long-test step and bench/exporter-fleet.sh"]
fn fifty_concurrent_scrapers_with_an_idle_connection_open() {
    const SCRAPERS: usize = 50;
    let seconds = seconds_from_env("NVITOP_LOAD_SECONDS", 30);
    let exporter = Exporter::start(&["--simulate", "h100x8", "--hostname", "load"], &[]);
    let addr = exporter.addr;
    // A client that connects and never sends a byte, and one that stops mid-head.
    let _idle = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (cpu0, _) = cpu_and_rss(exporter.pid());
    let barrier = Arc::new(Barrier::new(SCRAPERS));
    let deadline = Duration::from_secs(seconds);
    let threads: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                let (mut latencies, mut errors, mut bytes) = (Vec::new(), Vec::new(), 0usize);
                while start.elapsed() < deadline {
                    let t = Instant::now();
                    match get(addr, "/metrics", &[]) {
                        Ok(r) if r.status == 200 && r.body.contains("gpu_utilization_Percentage{") => {
                            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                            bytes = r.body.len();
                        }
                        Ok(r) => errors.push(format!("status {}", r.status)),
                        Err(err) => errors.push(err.to_string()),
                    }
                }
                (latencies, errors, bytes)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    let mut bytes = 0;
    for thread in threads {
        let (l, e, b) = thread.join().unwrap();
        latencies.extend(l);
        errors.extend(e);
        bytes = bytes.max(b);
    }
    let (cpu1, rss) = cpu_and_rss(exporter.pid());
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    latencies.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
    );
    let rate = latencies.len() as f64 / seconds as f64;
    eprintln!(
        "load: {SCRAPERS} scrapers x {seconds} s: {} scrapes ({rate:.0}/s) of {:.0} KiB, no error; latency p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; exporter CPU {:.0} % of a core, RSS {:.1} MiB",
        latencies.len(),
        bytes as f64 / 1024.0,
        (cpu1 - cpu0) / seconds as f64 * 100.0,
        rss as f64 / 1_048_576.0
    );
    write_figures(
        "load",
        &serde_json::json!({
            "scrapers": SCRAPERS, "seconds": seconds, "scrapes": latencies.len(), "errors": 0,
            "body_kib": bytes as f64 / 1024.0, "p50_ms": p50, "p99_ms": p99, "max_ms": max,
            "cpu_percent": (cpu1 - cpu0) / seconds as f64 * 100.0, "rss_mib": rss as f64 / 1_048_576.0,
        }),
    );
    // The idle connection is still open and blocked no one; the exporter still answers.
    assert_eq!(get(addr, "/metrics", &[]).unwrap().status, 200);
}

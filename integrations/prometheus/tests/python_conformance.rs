//! Conformance with Python nvitop-exporter 1.7.2 (pinned in
//! `tests/conformance/requirements.txt`): both exporters read the same
//! fake machine through the fake NVML library (ours through its real NVML
//! backend, `NVITOP_NVML_LIBRARY`) at a pinned simulated time, with the
//! scenario's processes bound to the same real pids. Then:
//!
//! - every metric family Python serves is served by us with the same name,
//!   type and label names, except `prometheus_client`'s own process and
//!   Python runtime families, and we serve nothing else but our own
//!   families (`OWN_FAMILIES`);
//! - every value both read from the same driver figure is equal (GPU
//!   figures per GPU, process GPU memory per process, process owners,
//!   commands and states, host memory size, the info labels). Where Python
//!   writes NaN (N/A), we serve no sample; where Python has a number, so
//!   must we.
//!
//! Runs when `NVITOP_CONFORMANCE_PYTHON` names a Python with
//! `nvitop-exporter` installed (`.ci/conformance` does); skipped with a note
//! otherwise, failed when `NVITOP_CONFORMANCE=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nvidia_ml::testing::{FakeLib, PidPool, conformance_python};
use nvitop_exporter::metrics::OWN_FAMILIES;

use common::{Exporter, free_port, get};

/// `prometheus_client`'s default collectors in Python, not nvitop's.
const PYTHON_RUNTIME: &[&str] = &[
    "python_gc_objects_collected_total",
    "python_gc_objects_uncollectable_total",
    "python_gc_collections_total",
    "python_info",
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
];

#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    labels: BTreeMap<String, BTreeSet<String>>,
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

/// Parses the text format 0.0.4 (label values unescaped).
fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.types.insert(name.to_owned(), kind.to_owned());
            out.labels.entry(name.to_owned()).or_default();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, labels, value) = parse_sample(line);
        out.labels
            .entry(name.clone())
            .or_default()
            .extend(labels.keys().cloned());
        out.samples.insert((name, labels), value);
    }
    out
}

fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = line.find(['{', ' ']).unwrap();
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut key = String::new();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = i + 1;
                    break;
                }
                ',' => {}
                '=' => {
                    chars.next(); // the opening quote
                    let mut value = String::new();
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(other) => value.push(other),
                                None => {}
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        rest = &body[end..];
    }
    let value = rest.split_whitespace().next().unwrap();
    let value = match value {
        "NaN" => f64::NAN,
        other => other.parse().unwrap(),
    };
    (name, labels, value)
}

fn scrape_when_ready(addr: std::net::SocketAddr, what: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(response) = get(addr, "/metrics", &[])
            && response.status == 200
            && response.body.contains("gpu_utilization_Percentage{")
        {
            // Python sets its gauges one by one during a pass: the pass
            // after the first one seen is complete.
            std::thread::sleep(Duration::from_millis(2500));
            return get(addr, "/metrics", &[]).unwrap().body;
        }
        assert!(
            start.elapsed() < Duration::from_mins(1),
            "{what} did not serve GPU metrics within a minute"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn compare_preset(python: &std::path::Path, preset: &str, pool: &PidPool, lib: &FakeLib) {
    let sim_env = [
        ("NVITOP_SIM_SCENARIO", format!("preset:{preset}")),
        ("NVITOP_SIM_TIME", "42".to_owned()),
        ("NVITOP_SIM_HOST_PIDS", pool.env_value()),
    ];
    let port = free_port();
    let mut theirs = Command::new(python);
    theirs
        .args([
            "-m",
            "nvitop_exporter",
            "--hostname",
            "conf-node",
            "--bind-address",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .env("LD_LIBRARY_PATH", lib.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in &sim_env {
        theirs.env(k, v);
    }
    let mut theirs = theirs.spawn().unwrap();
    let theirs_addr = format!("127.0.0.1:{port}").parse().unwrap();
    let path = lib.path();
    let mut env: Vec<(&str, &str)> = sim_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("NVITOP_NVML_LIBRARY", path.to_str().unwrap()));
    let ours = Exporter::start(&["--hostname", "conf-node"], &env);
    let their_text = scrape_when_ready(theirs_addr, "Python nvitop-exporter");
    let our_text = scrape_when_ready(ours.addr, "nvitop-exporter");
    let _ = theirs.kill();
    let _ = theirs.wait();
    let (theirs, ours) = (parse(&their_text), parse(&our_text));

    // Families: names, types, label names.
    let their_families: BTreeSet<&String> = theirs
        .types
        .keys()
        .filter(|n| !PYTHON_RUNTIME.contains(&n.as_str()))
        .collect();
    let our_families: BTreeSet<&String> = ours
        .types
        .keys()
        .filter(|n| !OWN_FAMILIES.contains(&n.as_str()))
        .collect();
    assert_eq!(our_families, their_families, "{preset}: the compatible families differ");
    for name in their_families {
        assert_eq!(ours.types[name], theirs.types[name], "{preset}: type of {name}");
        // A family with no sample on one side (N/A everywhere) has no label names to compare.
        let (a, b) = (&ours.labels[name], &theirs.labels[name]);
        if !a.is_empty() && !b.is_empty() {
            assert_eq!(a, b, "{preset}: label names of {name}");
        }
    }

    // Values read from the same driver figure. The scenario's `self` and
    // `parent` are each exporter's own pids: only the pool's are shared.
    let pids: BTreeSet<String> = pool.pids().iter().map(u32::to_string).collect();
    let shared_pid = |labels: &BTreeMap<String, String>| labels.get("pid").is_none_or(|pid| pids.contains(pid));
    let mut compared = 0;
    for ((name, labels), their_value) in &theirs.samples {
        // NVLink throughput included: at pinned time the counters stand
        // still, so both read 0 where there are links and N/A elsewhere.
        let same_figure = name.starts_with("gpu_")
            || matches!(
                name.as_str(),
                "process_gpu_memory_MiB" | "process_info_info" | "host_virtual_memory_total_MiB"
            )
            || name == "nvitop_info";
        if !same_figure || !shared_pid(labels) {
            continue;
        }
        let ours_value = ours.samples.get(&(name.clone(), labels.clone()));
        if their_value.is_nan() {
            assert!(
                ours_value.is_none(),
                "{preset}: {name}{labels:?}: Python N/A (NaN), ours {ours_value:?}"
            );
            continue;
        }
        let ours_value = ours_value
            .unwrap_or_else(|| panic!("{preset}: {name}{labels:?} = {their_value} in Python, missing in ours"));
        assert!(
            (ours_value - their_value).abs() <= 1e-6 * their_value.abs().max(1.0),
            "{preset}: {name}{labels:?}: ours {ours_value}, Python {their_value}"
        );
        compared += 1;
    }
    // And the other way: every GPU and process-memory sample of ours is in Python's.
    for (name, labels) in ours.samples.keys().filter(|(_, labels)| shared_pid(labels)) {
        if name.starts_with("gpu_") && !OWN_FAMILIES.contains(&name.as_str()) || name == "process_gpu_memory_MiB" {
            assert!(
                theirs.samples.contains_key(&(name.clone(), labels.clone())),
                "{preset}: ours has {name}{labels:?}, Python does not"
            );
        }
    }
    // The NVLink families have samples where the preset has NVLink GPUs.
    let nvlink_links = ours
        .samples
        .keys()
        .filter(|(name, _)| name == "gpu_nvlink_tx_throughput_MiBps")
        .count();
    // h100x8: 8 H100 SXM of 18 links; default and faults: an H100 SXM and
    // two A100 SXM (12 links each; MIG mode does not take the links away).
    let expected_links = if preset == "h100x8" { 8 * 18 } else { 18 + 2 * 12 };
    assert_eq!(nvlink_links, expected_links, "{preset}: per-link NVLink samples");
    eprintln!("{preset}: {compared} values equal to Python nvitop-exporter's");
    assert!(compared > 30, "{preset}: only {compared} values compared");
}

#[test]
fn families_labels_and_values_match_python_nvitop_exporter() {
    let Some(python) = conformance_python(&["nvitop_exporter"]) else {
        return;
    };
    let lib = FakeLib::new();
    let pool = PidPool::spawn(512);
    pool.wait_until_asleep();
    for preset in ["h100x8", "default", "faults"] {
        compare_preset(&python, preset, &pool, &lib);
    }
}

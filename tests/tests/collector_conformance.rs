//! `ResourceCollector` against nvitop 1.7.2's `ResourceMetricCollector`:
//! the same machine (the simulator in-process, and the fake NVML library
//! under Python nvitop), the same simulated time, the same CUDA-visible
//! devices and nested tags; the keys must be the same — tags, scopes
//! (`cuda:0 (gpu:3)`, `host`, `pid:<pid>/...`), metric names, units and
//! statistics — and the device and GPU-process values equal.
//!
//! One deliberate difference: a reading the device does not have (an H100's
//! fan) is `nan` in nvitop and absent here, so nvitop's `nan` keys are left
//! out of the comparison.
//!
//! Runs when `NVITOP_CONFORMANCE_PYTHON` names an interpreter with
//! `nvitop==1.7.2` (as `.ci/conformance` sets up); it then builds the fake
//! library (`cargo build -p fake-nvml`) if needed. Skipped without it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use nvitop::backend::Backend;
use nvitop::backend::sim::{SimBackend, presets};
use nvitop::{Device, ResourceCollector};
use nvitop_tests::{conformance_python, python_script, run_script};

const SIM_TIME: f64 = 42.0;
const VISIBLE: &str = "3,0";
const SAMPLES: usize = 3;

/// Builds the fake NVML library and returns the path of the cdylib.
fn fake_nvml() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let out = Command::new(cargo)
        .args(["build", "--locked", "-p", "fake-nvml", "--lib", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build -p fake-nvml failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The compiler-artifact message of the cdylib names the file.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "nvidia_ml")
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "so"))
        .expect("cargo reported no libnvidia_ml.so")
}

/// Keys with the collecting process's pid written as `<pid>`.
fn normalised(metrics: BTreeMap<String, f64>, pid: u32) -> BTreeMap<String, f64> {
    let own = format!("pid:{pid}/");
    metrics
        .into_iter()
        .map(|(k, v)| (k.replace(&own, "pid:<pid>/"), v))
        .collect()
}

/// Ours: the default machine with its `host:N` processes on pid 1 (never a
/// descendant, as in the Python run), at the same time and visibility.
fn ours() -> BTreeMap<String, f64> {
    let sim = SimBackend::with_host_pool(presets::preset("default").unwrap(), vec![1]);
    sim.set_time(SIM_TIME);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let cuda = Device::from_cuda_visible_devices_in(&backend, Some(VISIBLE)).unwrap();
    let collector = ResourceCollector::for_cuda_devices(&cuda, std::time::Duration::from_mins(1)).unwrap();
    let _train = collector.context("train");
    let _batch = collector.context("batch");
    for _ in 0..SAMPLES {
        collector.sampler().sample_now();
    }
    normalised(collector.collect(), std::process::id())
}

/// nvitop's, through the fake NVML library.
fn nvitops(python: &PathBuf) -> BTreeMap<String, f64> {
    let lib = tempfile::tempdir().unwrap();
    std::fs::copy(fake_nvml(), lib.path().join("libnvidia-ml.so.1")).unwrap();
    let out = run_script(
        python_script(python, "collector_metrics.py")
            .arg(SAMPLES.to_string())
            .env("LD_LIBRARY_PATH", lib.path())
            .env("NVITOP_SIM_TIME", SIM_TIME.to_string())
            .env("NVITOP_SIM_HOST_PIDS", "1")
            .env("CUDA_VISIBLE_DEVICES", VISIBLE)
            .env_remove("NVITOP_SIM_SCENARIO")
            .env_remove("NVITOP_SIMULATE"),
        "collector_metrics.py",
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pid = u32::try_from(parsed["pid"].as_u64().unwrap()).unwrap();
    let metrics = parsed["metrics"]
        .as_object()
        .unwrap()
        .iter()
        // `null` is nvitop's N/A (nan): absent here.
        .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
        .collect();
    normalised(metrics, pid)
}

/// Values read from the simulated devices, which both sides see at the
/// same pinned time (host figures differ between two processes).
fn is_device_reading(key: &str) -> bool {
    let scope = key.split('/').nth(2).unwrap_or_default();
    let gpu_scope = scope.starts_with("cuda:") || (scope == "pid:<pid>" && key.split('/').nth(3) != Some("host"));
    gpu_scope && !key.ends_with("timestamp")
}

#[test]
fn keys_and_device_values_match_nvitops_collector() {
    let Some(python) = conformance_python() else {
        eprintln!("skipped: set NVITOP_CONFORMANCE_PYTHON (see .ci/conformance) to compare with nvitop");
        return;
    };
    let theirs = nvitops(&python);
    let ours = ours();
    let only_theirs: Vec<&String> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    let only_ours: Vec<&String> = ours.keys().filter(|k| !theirs.contains_key(*k)).collect();
    assert!(
        only_theirs.is_empty() && only_ours.is_empty(),
        "keys only nvitop has: {only_theirs:#?}\nkeys only we have: {only_ours:#?}"
    );
    assert!(ours.contains_key("train/batch/cuda:0 (gpu:3)/gpu_utilization (%)/mean"));
    assert!(ours.contains_key("train/batch/pid:<pid>/cuda:1 (gpu:0)/gpu_memory (MiB)/max"));
    let mut compared = 0;
    for (key, ours) in ours.iter().filter(|(k, _)| is_device_reading(k)) {
        let theirs = theirs[key];
        // nvitop rounds percentages of memory to one decimal.
        let tolerance = if key.contains("memory_percent (%)") {
            0.05 + 1e-9
        } else {
            1e-9 * theirs.abs().max(1.0)
        };
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{key}: ours {ours}, nvitop {theirs}"
        );
        compared += 1;
    }
    assert!(compared > 60, "only {compared} values compared");
}

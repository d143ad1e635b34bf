//! `ResourceCollector` on the simulator: nvitop's key names and scopes,
//! nested tags and collection periods, the daemon, and the faults a long
//! run meets (a GPU lost, a process gone). The comparison with nvitop
//! 1.7.2's own collector is in `tests/tests/collector_conformance.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nvitop::backend::Backend;
use nvitop::backend::sim::scenario::{Format, Scenario};
use nvitop::backend::sim::{SimBackend, presets};
use nvitop::sampler::{SamplerConfig, Tracked};
use nvitop::{Device, ResourceCollector};

const MIB: f64 = 1024.0 * 1024.0;

/// The default machine, its `host:N` processes all bound to pid 1: never
/// a descendant of this process, so a child another test spawns cannot
/// become a tracked GPU process here.
fn sim(time: f64) -> Arc<SimBackend> {
    let sim = SimBackend::with_host_pool(presets::preset("default").unwrap(), vec![1]);
    sim.set_time(time);
    Arc::new(sim)
}

/// A collector whose sampler only samples when asked.
const MANUAL: Duration = Duration::from_mins(1);

/// The keys with this process's pid written as `<pid>`.
fn shapes(metrics: &BTreeMap<String, f64>) -> BTreeSet<String> {
    let pid = format!("pid:{}/", std::process::id());
    metrics.keys().map(|k| k.replace(&pid, "pid:<pid>/")).collect()
}

fn stats(prefix: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .flat_map(|name| ["mean", "min", "max", "last"].map(|s| format!("{prefix}/{name}/{s}")))
        .collect()
}

/// What nvitop 1.7.2's `ResourceMetricCollector` reports for the same
/// machine and selection (checked against it in `collector_conformance`),
/// less the fan speed of the H100, which has no fan: nvitop reports `nan`
/// for it, we leave it out.
fn nvitop_keys(tag: &str) -> BTreeSet<String> {
    let device = [
        "memory_used (MiB)",
        "memory_free (MiB)",
        "memory_total (MiB)",
        "memory_percent (%)",
        "gpu_utilization (%)",
        "memory_utilization (%)",
        "temperature (C)",
        "power_usage (W)",
        "power_limit (W)",
    ];
    let mut keys = stats(
        &format!("{tag}/host"),
        &[
            "cpu_percent (%)",
            "memory_percent (%)",
            "swap_percent (%)",
            "memory_used (GiB)",
            "load_average (%) (1 min)",
            "load_average (%) (5 min)",
            "load_average (%) (15 min)",
        ],
    );
    keys.extend(stats(&format!("{tag}/cuda:0 (gpu:3)"), &device));
    keys.extend(stats(&format!("{tag}/cuda:0 (gpu:3)"), &["fan_speed (%)"]));
    keys.extend(stats(&format!("{tag}/cuda:1 (gpu:0)"), &device));
    keys.extend(stats(
        &format!("{tag}/pid:<pid>/host"),
        &["cpu_percent (%)", "host_memory (MiB)", "host_memory_percent (%)"],
    ));
    keys.push(format!("{tag}/pid:<pid>/host/running_time (min)"));
    keys.push(format!("{tag}/pid:<pid>/host/running_time (min)/last"));
    keys.extend(stats(
        &format!("{tag}/pid:<pid>/cuda:1 (gpu:0)"),
        &[
            "gpu_memory (MiB)",
            "gpu_memory_percent (%)",
            "gpu_memory_utilization (%)",
            "gpu_sm_utilization (%)",
        ],
    ));
    for key in ["duration (s)", "timestamp", "last_timestamp"] {
        keys.push(format!("{tag}/{key}"));
    }
    keys.into_iter().collect()
}

#[test]
fn keys_are_nvitops_for_cuda_devices() {
    let backend: Arc<dyn Backend> = sim(42.0);
    // CUDA_VISIBLE_DEVICES=3,0: cuda:0 is the RTX 4090 (gpu:3), cuda:1 the
    // H100 this very process trains on (gpu:0).
    let cuda = Device::from_cuda_visible_devices_in(&backend, Some("3,0")).unwrap();
    let collector = ResourceCollector::for_cuda_devices(&cuda, MANUAL).unwrap();
    let _train = collector.context("train");
    let _batch = collector.context("batch");
    for _ in 0..3 {
        collector.sampler().sample_now();
    }
    let metrics = collector.collect();
    assert_eq!(shapes(&metrics), nvitop_keys("train/batch"));
}

#[test]
fn values_are_the_devices_in_nvitops_units() {
    let backend: Arc<dyn Backend> = sim(42.0);
    let cuda = Device::from_cuda_visible_devices_in(&backend, Some("3,0")).unwrap();
    let collector = ResourceCollector::for_cuda_devices(&cuda, MANUAL).unwrap();
    let _train = collector.context("train");
    collector.sampler().sample_now();
    let m = collector.collect();
    let rtx = cuda[0].device();
    let mem = rtx.memory_info().unwrap();
    let scope = "train/cuda:0 (gpu:3)";
    assert_eq!(m[&format!("{scope}/memory_total (MiB)/mean")], mem.total as f64 / MIB);
    assert_eq!(m[&format!("{scope}/memory_used (MiB)/max")], mem.used as f64 / MIB);
    assert_eq!(
        m[&format!("{scope}/gpu_utilization (%)/last")],
        f64::from(rtx.gpu_utilization().unwrap())
    );
    assert_eq!(
        m[&format!("{scope}/power_limit (W)/min")],
        f64::from(rtx.power_limit().unwrap()) / 1000.0
    );
    assert_eq!(
        m[&format!("{scope}/temperature (C)/mean")],
        f64::from(rtx.temperature().unwrap())
    );
    let pid = std::process::id();
    let minutes = m[&format!("train/pid:{pid}/host/running_time (min)")];
    assert!((0.0..60.0 * 24.0).contains(&minutes), "{minutes}");
    assert!(m[&format!("train/pid:{pid}/cuda:1 (gpu:0)/gpu_memory (MiB)/mean")] > 1000.0);
    let now = m["train/timestamp"];
    assert!(m["train/last_timestamp"] <= now && now - m["train/last_timestamp"] < 600.0);
}

#[test]
fn physical_devices_are_scoped_by_index() {
    let backend: Arc<dyn Backend> = sim(42.0);
    let devices = Device::from_indices_in(&backend, &[2, 0]).unwrap();
    let collector = ResourceCollector::new(&devices, MANUAL).unwrap();
    collector.start("eval");
    let metrics = collector.collect();
    collector.stop();
    assert!(metrics.contains_key("eval/gpu:2/memory_used (MiB)/mean"));
    assert!(metrics.contains_key("eval/gpu:0/gpu_utilization (%)/max"));
    assert!(!metrics.keys().any(|k| k.contains("cuda:")));
}

#[test]
fn nested_tags_share_samples_and_each_collect_starts_a_period() {
    let backend: Arc<dyn Backend> = sim(42.0);
    let collector = ResourceCollector::new(&Device::from_indices_in(&backend, &[0]).unwrap(), MANUAL).unwrap();
    let started = Instant::now();
    collector.activate("train");
    collector.sampler().sample_now();
    {
        let _batch = collector.context("batch");
        collector.sampler().sample_now();
        let inner = collector.collect();
        assert!(inner.keys().all(|k| k.starts_with("train/batch/")), "{inner:?}");
        assert!(inner.contains_key("train/batch/gpu:0/memory_used (MiB)/mean"));
    }
    // The outer tag saw both samples, and the inner collect left it alone.
    std::thread::sleep(Duration::from_millis(30));
    let outer = collector.collect();
    assert!(outer.keys().all(|k| k.starts_with("train/")), "{outer:?}");
    assert!(!outer.keys().any(|k| k.starts_with("train/batch/")));
    assert!(outer["train/duration (s)"] >= 0.03);
    assert!(outer["train/duration (s)"] <= started.elapsed().as_secs_f64());
    // The next period is new: it starts at this collect.
    let next = collector.collect();
    assert!(next["train/duration (s)"] < outer["train/duration (s)"]);
    collector.deactivate();
    // Outside any tag: one fresh sample under `resources`.
    let untagged = collector.collect();
    assert!(untagged.contains_key("resources/gpu:0/memory_used (MiB)/last"));
    assert_eq!(untagged["resources/duration (s)"], 0.0);
}

#[test]
fn statistics_cover_the_samples_of_the_period() {
    // A workload that moves: the simulator follows the wall clock here.
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    let collector = ResourceCollector::with_config(
        Device::from_indices_in(&backend, &[0]).unwrap(),
        vec!["gpu:0".into()],
        SamplerConfig::default()
            .interval(MANUAL)
            .unwrap()
            .tracked(Tracked::None),
    );
    let _t = collector.context("t");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let sample = collector.sampler().sample_now();
        seen.push(sample.host.cpu_percent);
    }
    let m = collector.collect();
    let (min, max) = seen
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let mean = seen.iter().sum::<f64>() / seen.len() as f64;
    assert_eq!(m["t/host/cpu_percent (%)/min"], min);
    assert_eq!(m["t/host/cpu_percent (%)/max"], max);
    assert_eq!(m["t/host/cpu_percent (%)/last"], *seen.last().unwrap());
    assert!((m["t/host/cpu_percent (%)/mean"] - mean).abs() < 1e-9);
}

#[test]
fn daemon_collects_until_told_to_stop() {
    let backend: Arc<dyn Backend> = sim(42.0);
    let collector = ResourceCollector::new(
        &Device::from_indices_in(&backend, &[0]).unwrap(),
        Duration::from_millis(10),
    )
    .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let (send, receive) = std::sync::mpsc::channel();
    let _daemon = collector
        .daemonize("daemon", Duration::from_millis(20), move |metrics| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            let _ = send.send(metrics);
            n < 3 // the third call stops it
        })
        .unwrap();
    for _ in 0..3 {
        let metrics = receive.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(metrics.contains_key("daemon/duration (s)"), "{metrics:?}");
    }
    // Stopped by its callback: no fourth call.
    assert!(receive.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    // The daemon's tag is its own: the collector's stack is untouched.
    assert!(collector.collect().keys().all(|k| k.starts_with("resources/")));
    assert!(collector.daemonize("x", Duration::ZERO, |_| true).is_err());
}

#[test]
fn a_gpu_lost_mid_run_becomes_missing_values() {
    // The `faults` preset loses GPU 3 at t = 30 s.
    let sim = Arc::new(SimBackend::from_preset("faults").unwrap());
    sim.set_time(29.0);
    let backend: Arc<dyn Backend> = sim.clone();
    let collector = ResourceCollector::new(&Device::from_indices_in(&backend, &[0, 3]).unwrap(), MANUAL).unwrap();
    let _train = collector.context("train");
    collector.sampler().sample_now();
    let before = collector.collect();
    assert!(before.contains_key("train/gpu:3/gpu_utilization (%)/mean"));
    sim.set_time(31.0);
    collector.sampler().sample_now();
    let after = collector.collect();
    assert!(!after.keys().any(|k| k.contains("/gpu:3/")), "{after:?}");
    assert!(after.contains_key("train/gpu:0/gpu_utilization (%)/mean"));
}

#[test]
fn a_tracked_gpu_process_that_exits_becomes_missing_values() {
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    // One GPU running this process and the child (bound to `host:0`).
    let text = r#"
        [[gpus]]
        model = "A100-SXM4-80GB"
        processes = [{ pid = "self", memory_mib = 4000 }, { pid = "host:0", memory_mib = 1000 }]
    "#;
    let scenario = Scenario::parse(text, Format::Toml, Path::new("inline.toml")).unwrap();
    let sim = SimBackend::with_host_pool(scenario, vec![pid]);
    sim.set_time(42.0);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let collector = ResourceCollector::new(&Device::all_in(&backend).unwrap(), MANUAL).unwrap();
    let _train = collector.context("train");
    collector.sampler().sample_now();
    let before = collector.collect();
    let child_memory = format!("train/pid:{pid}/gpu:0/gpu_memory (MiB)/mean");
    assert_eq!(before.get(&child_memory), Some(&1000.0), "{before:?}");
    assert!(before.contains_key(&format!("train/pid:{pid}/host/host_memory (MiB)/mean")));

    child.kill().unwrap();
    child.wait().unwrap();
    collector.sampler().sample_now();
    let after = collector.collect();
    assert!(!after.keys().any(|k| k.contains(&format!("pid:{pid}/"))), "{after:?}");
    let me = std::process::id();
    assert!(after.contains_key(&format!("train/pid:{me}/gpu:0/gpu_memory (MiB)/mean")));
}

#[test]
fn processes_without_a_gpu_context_add_no_keys() {
    // A CPU-only child (a data-loader worker) is tracked but, as in nvitop,
    // not reported.
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let backend: Arc<dyn Backend> = sim(42.0);
    let collector = ResourceCollector::new(&Device::from_indices_in(&backend, &[0]).unwrap(), MANUAL).unwrap();
    let sample = collector.sampler().sample_now();
    assert!(
        sample.processes.iter().any(|p| p.pid == child.id()),
        "the child is tracked"
    );
    let metrics = collector.collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!metrics.keys().any(|k| k.contains(&format!("pid:{}/", child.id()))));
    assert!(
        metrics
            .keys()
            .any(|k| k.contains(&format!("pid:{}/", std::process::id())))
    );
}

#[test]
fn mig_devices_passed_explicitly_are_their_own_scopes() {
    let backend: Arc<dyn Backend> = sim(42.0);
    let parent = Device::new_in(&backend, 1).unwrap();
    let mut devices = vec![parent.clone()];
    devices.extend(parent.mig_devices().into_iter().map(nvitop::MigDevice::into_device));
    let collector = ResourceCollector::new(&devices, MANUAL).unwrap();
    let metrics = collector.collect();
    for scope in ["gpu:1", "gpu:1:0", "gpu:1:2"] {
        assert!(
            metrics.contains_key(&format!("resources/{scope}/memory_used (MiB)/mean")),
            "{scope}: {metrics:?}"
        );
    }
    // A MIG device has no utilization of its own (as NVML's MIG handles).
    assert!(!metrics.contains_key("resources/gpu:1:0/gpu_utilization (%)/mean"));
}

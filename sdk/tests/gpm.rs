//! GPM activity metrics through the SDK on the simulator: support per
//! model, values that move with the workload and are not utilization.gpu,
//! per-metric "not supported", MIG GPU instances, snapshots and JSON, and
//! every sample freed by the `GpmSampler` and the background sampler.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nvitop::backend::sim::SimBackend;
use nvitop::backend::sim::models::GpuModel;
use nvitop::backend::sim::scenario::{Format, Scenario};
use nvitop::backend::{Backend, BackendError, DeviceRef, GpmMetric};
use nvitop::device::{GpmMetrics, GpmSampler};
use nvitop::process::HostProcessReader;
use nvitop::sampler::{Sampler, SamplerConfig};
use nvitop::snapshot::SnapshotFields;
use nvitop::{Device, Snapshot};

fn sim_from(text: &str) -> Arc<SimBackend> {
    let scenario = Scenario::parse(text, Format::Toml, Path::new("gpm.toml")).unwrap();
    Arc::new(SimBackend::new(scenario))
}

fn dyn_backend(sim: &Arc<SimBackend>) -> Arc<dyn Backend> {
    Arc::clone(sim) as Arc<dyn Backend>
}

/// Metrics between samples at simulated times `t1` and `t2`.
fn between(sim: &SimBackend, device: DeviceRef, t1: f64, t2: f64) -> Vec<Result<f64, BackendError>> {
    sim.set_time(t1);
    let a = sim.gpm_sample(device).unwrap();
    sim.set_time(t2);
    let b = sim.gpm_sample(device).unwrap();
    let values = sim.gpm_metrics(a, b, &GpmMetric::ALL).unwrap();
    sim.gpm_sample_free(a).unwrap();
    sim.gpm_sample_free(b).unwrap();
    values
}

#[test]
fn only_hopper_and_newer_support_gpm() {
    let sim = SimBackend::default_machine();
    let models: Vec<(String, bool)> = (0..4)
        .map(|i| {
            let d = DeviceRef::Physical(i);
            (sim.name(d).unwrap(), sim.gpm_supported(d).unwrap())
        })
        .collect();
    assert_eq!(
        models,
        [
            ("NVIDIA H100 80GB HBM3".to_owned(), true),
            ("NVIDIA A100-SXM4-80GB".to_owned(), false),
            ("NVIDIA A100-SXM4-80GB".to_owned(), false),
            ("NVIDIA GeForce RTX 4090".to_owned(), false),
        ]
    );
    // Every model the simulator knows: Hopper (9.x) and Blackwell (10.x) only.
    let mut text = String::new();
    for model in GpuModel::ALL {
        text += "[[gpus]]\nmodel = \"";
        text += model.key();
        text += "\"\n";
    }
    let all = sim_from(&text);
    let supported: Vec<(&str, bool)> = GpuModel::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| (m.key(), all.gpm_supported(DeviceRef::Physical(i as u32)).unwrap()))
        .collect();
    assert_eq!(
        supported,
        [
            ("H100-SXM5-80GB", true),
            ("A100-SXM4-80GB", false),
            ("A100-SXM4-40GB", false),
            ("RTX-4090", false),
            ("L4", false),
            ("H200-SXM-141GB", true),
            ("B200", true),
        ]
    );
    // Not supported is N/A everywhere, never zero.
    let backend: Arc<dyn Backend> = Arc::new(sim);
    for device in Device::all_in(&backend).unwrap().iter().skip(1) {
        assert_eq!(device.gpm_metrics_over(Duration::from_millis(100)), None);
    }
}

#[test]
fn metrics_follow_the_workload_and_are_not_utilization() {
    let sim = sim_from(
        r#"
[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "bursty", period_s = 10.0 }
processes = [{ pid = "self", memory_mib = 1000 }]

[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "idle" }
"#,
    );
    let busy = DeviceRef::Physical(0);
    let sm_at = |t: f64| between(&sim, busy, t, t + 1.0)[0].clone().unwrap();
    let samples: Vec<f64> = (0..20).map(|s| sm_at(f64::from(s) * 0.5)).collect();
    let (lo, hi) = samples
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(hi - lo > 30.0, "SM activity moves with a bursty load: {lo}..{hi}");
    assert!(samples.iter().all(|v| (0.0..=100.0).contains(v)));
    // Tensor activity is part of SM activity; averages over one interval.
    let values = between(&sim, busy, 3.0, 4.0);
    let get = |m: GpmMetric| {
        values[GpmMetric::ALL.iter().position(|&x| x == m).unwrap()]
            .clone()
            .unwrap()
    };
    assert!(get(GpmMetric::TensorActive) <= get(GpmMetric::SmActive));
    assert!(get(GpmMetric::SmOccupancy) <= get(GpmMetric::SmActive));
    assert!(
        get(GpmMetric::PcieRx) > get(GpmMetric::PcieTx),
        "training data flows in"
    );
    // The average over [2, 6] is the mean of the averages over its halves.
    let whole = between(&sim, busy, 2.0, 6.0)[0].clone().unwrap();
    let halves = f64::midpoint(
        between(&sim, busy, 2.0, 4.0)[0].clone().unwrap(),
        between(&sim, busy, 4.0, 6.0)[0].clone().unwrap(),
    );
    assert!((whole - halves).abs() < 1e-9, "{whole} vs {halves}");
    // An idle H100: zero activity (supported, and zero), a trickle of PCIe.
    let idle = between(&sim, DeviceRef::Physical(1), 3.0, 4.0);
    assert_eq!(idle[0], Ok(0.0));
    assert!(idle[8].clone().unwrap() > 0.0);
    // SM activity is not a copy of utilization.gpu: at the busy moments
    // the kernels keep fewer SMs busy than "a kernel was running" says.
    let busiest = (0..40)
        .map(|s| f64::from(s) * 0.25)
        .map(|t| {
            sim.set_time(t);
            let util = f64::from(sim.utilization_rates(busy).unwrap().gpu);
            let sm = between(&sim, busy, t, t)[0].clone().unwrap();
            (util, sm)
        })
        .fold(
            (0.0, 0.0),
            |best, (util, sm)| if util > best.0 { (util, sm) } else { best },
        );
    assert!(busiest.0 > 80.0 && busiest.1 < busiest.0 - 5.0, "util, sm: {busiest:?}");
}

#[test]
fn an_unsupported_metric_is_none_and_the_others_have_values() {
    let sim = sim_from(
        r#"
[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training" }
faults = { not_supported = ["gpm_fp64"] }

[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training" }
faults = { not_supported = ["gpm"] }
"#,
    );
    sim.set_time(5.0);
    let backend = dyn_backend(&sim);
    let devices = Device::all_in(&backend).unwrap();
    let metrics = devices[0].gpm_metrics_over(Duration::from_millis(100)).unwrap();
    assert_eq!(metrics.fp64_active, None);
    assert!(metrics.fp32_active.unwrap() > 0.0);
    assert!(metrics.sm_active.unwrap() > 0.0);
    assert!(!devices[1].gpm_supported());
    assert_eq!(devices[1].gpm_metrics_over(Duration::from_millis(100)), None);
    let json = serde_json::to_value(metrics).unwrap();
    assert!(json.get("fp64_active").is_none(), "N/A is left out of JSON: {json}");
    assert_eq!(sim.gpm_sample_counts().0, sim.gpm_sample_counts().1);
}

#[test]
fn mig_gpu_instances_on_an_h100_have_their_own_samples() {
    let sim = sim_from(
        r#"
[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training" }
mig = [{ profile = "3g.40gb" }, { profile = "1g.10gb" }]
"#,
    );
    let backend = dyn_backend(&sim);
    let gpu = Device::new_in(&backend, 0).unwrap();
    let migs = gpu.mig_devices();
    assert_eq!(migs.len(), 2);
    let mig = migs[0].clone().into_device();
    assert!(mig.gpm_supported());
    let metrics = mig.gpm_metrics_over(Duration::from_millis(100)).unwrap();
    assert!(metrics.sm_active.is_some());
    // A sample of a GPU instance and one of the whole GPU are not one pair.
    let a = sim.gpm_sample(mig.handle()).unwrap();
    let b = sim.gpm_sample(DeviceRef::Physical(0)).unwrap();
    assert!(matches!(
        sim.gpm_metrics(a, b, &GpmMetric::ALL),
        Err(BackendError::NotFound { .. })
    ));
    sim.gpm_sample_free(a).unwrap();
    sim.gpm_sample_free(b).unwrap();
    // A GPU instance the GPU does not have.
    let c = sim.gpm_sample_alloc();
    assert!(sim.gpm_sample_fill(DeviceRef::Physical(0), Some(99), c).is_err());
    sim.gpm_sample_release(c).unwrap();
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!(allocated, freed);
}

#[test]
fn the_gpm_sampler_keeps_one_sample_per_device_and_frees_them_all() {
    let sim = Arc::new(SimBackend::default_machine());
    let backend = dyn_backend(&sim);
    let devices = Device::all_in(&backend).unwrap();
    let mut sampler = GpmSampler::with_min_interval(Duration::ZERO);
    for round in 0..50 {
        for device in &devices {
            let metrics = sampler.sample(device);
            assert_eq!(
                metrics.is_some(),
                round > 0 && device.index() == 0,
                "{device:?} round {round}"
            );
        }
        let (allocated, freed) = sim.gpm_sample_counts();
        assert_eq!(allocated - freed, 1, "one sample held, for the H100");
    }
    drop(sampler);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!((allocated, freed), (50, 50));
}

#[test]
fn the_gpm_sampler_waits_the_minimum_interval() {
    let sim = Arc::new(SimBackend::default_machine());
    let backend = dyn_backend(&sim);
    let gpu = Device::new_in(&backend, 0).unwrap();
    let mut sampler = GpmSampler::new();
    assert_eq!(sampler.sample(&gpu), None);
    // Too soon: no new sample, nothing to answer yet.
    assert_eq!(sampler.sample(&gpu), None);
    assert_eq!(sim.gpm_sample_counts(), (1, 0));
    std::thread::sleep(Duration::from_millis(110));
    let first = sampler.sample(&gpu).unwrap();
    // Too soon again: the previous answer, no new sample.
    assert_eq!(sampler.sample(&gpu), Some(first));
    assert_eq!(sim.gpm_sample_counts(), (2, 1));
    sampler.forget(&gpu);
    assert_eq!(sim.gpm_sample_counts(), (2, 2));
}

#[test]
fn the_background_sampler_reads_gpm_only_when_asked_and_frees_on_stop() {
    let sim = Arc::new(SimBackend::default_machine());
    let backend = dyn_backend(&sim);
    let devices = Device::all_in(&backend).unwrap();
    let plain = Sampler::start(devices.clone(), SamplerConfig::default());
    std::thread::sleep(Duration::from_millis(120));
    assert!(plain.sample_now().devices.iter().all(|d| d.gpm.is_none()));
    drop(plain);
    assert_eq!(sim.gpm_sample_counts(), (0, 0), "no GPM sample unless asked");

    let config = SamplerConfig::default()
        .interval(Duration::from_millis(50))
        .unwrap()
        .gpm(true);
    let sampler = Sampler::start(devices, config);
    std::thread::sleep(Duration::from_millis(300));
    let sample = sampler.sample_now();
    let h100 = sample.devices[0].gpm.expect("H100 GPM");
    assert!(h100.sm_active.unwrap() > 0.0);
    assert!(sample.devices[1..].iter().all(|d| d.gpm.is_none()));
    drop(sampler);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert!(allocated >= 2);
    assert_eq!(allocated, freed, "the sampler frees its samples when it stops");
}

#[test]
fn snapshots_carry_gpm_only_when_asked() {
    let sim = Arc::new(SimBackend::default_machine());
    sim.set_time(30.0);
    let backend = dyn_backend(&sim);
    let devices = Device::all_in(&backend).unwrap();
    let mut reader = HostProcessReader::new();
    let plain = Snapshot::take_with(&backend, &devices, SnapshotFields::all(), &mut reader);
    assert!(plain.devices.iter().all(|d| d.gpm.is_none()));
    assert_eq!(sim.gpm_sample_counts(), (0, 0));
    let snap = Snapshot::take_with(&backend, &devices, SnapshotFields::fast().gpm(true), &mut reader);
    let json = serde_json::to_value(&snap).unwrap();
    let gpm = &json["devices"][0]["gpm"];
    for key in [
        "sm_active",
        "sm_occupancy",
        "tensor_active",
        "dram_active",
        "fp16_active",
        "fp32_active",
        "fp64_active",
    ] {
        let value = gpm[key].as_f64().unwrap_or_else(|| panic!("{key} in {gpm}"));
        assert!((0.0..=100.0).contains(&value), "{key} = {value}");
    }
    for index in 1..4 {
        assert!(
            json["devices"][index].get("gpm").is_none(),
            "GPU {index}: {}",
            json["devices"][index]
        );
        for mig in json["devices"][index]["mig_devices"].as_array().unwrap() {
            assert!(mig.get("gpm").is_none());
        }
    }
    // Round trip.
    let back: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back.devices[0].gpm, snap.devices[0].gpm);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!((allocated, freed), (2, 2));
    assert_ne!(snap.devices[0].gpm, Some(GpmMetrics::default()));
}

/// An H100 in MIG mode: a 3g instance and a 2g instance running a training
/// job each, and a 1g instance with a process that does no work.
const H100_MIG: &str = r#"
seed = 5
[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training" }
mig = [{ profile = "3g.40gb" }, { profile = "2g.20gb" }, { profile = "1g.10gb" }]
processes = [
    { pid = "host:1", memory_mib = 20_000, mig = 0 },
    { pid = "host:2", memory_mib = 9_000, mig = 1 },
    { pid = "host:3", memory_mib = 1_000, mig = 2, sm_weight = 0.0 },
]
"#;

fn h100_mig() -> Arc<SimBackend> {
    let scenario = Scenario::parse(H100_MIG, Format::Toml, Path::new("h100-mig.toml")).unwrap();
    Arc::new(SimBackend::with_host_pool(scenario, vec![300_001, 300_002, 300_003]))
}

fn mig(index: u32) -> DeviceRef {
    DeviceRef::Mig { parent: 0, index }
}

fn value(values: &[Result<f64, BackendError>], metric: GpmMetric) -> f64 {
    let at = GpmMetric::ALL.iter().position(|&m| m == metric).unwrap();
    *values[at].as_ref().unwrap_or_else(|err| panic!("{metric:?}: {err}"))
}

#[test]
fn mig_instances_follow_their_own_workload_and_the_gpu_sums_them() {
    let sim = h100_mig();
    let (t1, t2) = (40.0, 41.0);
    let busy = [between(&sim, mig(0), t1, t2), between(&sim, mig(1), t1, t2)];
    let idle = between(&sim, mig(2), t1, t2);
    let whole = between(&sim, DeviceRef::Physical(0), t1, t2);
    for values in &busy {
        let sm = value(values, GpmMetric::SmActive);
        assert!(sm > 40.0 && sm <= 100.0, "a training instance is busy: {sm}");
        assert!(value(values, GpmMetric::TensorActive) < sm);
    }
    // Each instance has counters of its own, not a copy of the GPU's.
    let (sm0, sm1) = (
        value(&busy[0], GpmMetric::SmActive),
        value(&busy[1], GpmMetric::SmActive),
    );
    assert!((sm0 - sm1).abs() > 1e-6, "{sm0} {sm1}");
    // No work bound to the 1g instance: idle, whatever the GPU's profile.
    for metric in GpmMetric::ALL {
        if metric.unit() == "%" {
            assert!(value(&idle, metric).abs() < 1e-12, "{metric:?}");
        }
    }
    assert!(value(&idle, GpmMetric::PcieRx) < value(&busy[1], GpmMetric::PcieRx));
    // The whole GPU in MIG mode: percentages weighted by the instances'
    // compute slices (3, 2 and 1 of 7; the seventh is idle), PCIe summed.
    let shares = [3.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0];
    let all = [&busy[0], &busy[1], &idle];
    for metric in GpmMetric::ALL {
        let expected: f64 = if metric.unit() == "%" {
            all.iter().zip(shares).map(|(v, s)| value(v, metric) * s).sum()
        } else {
            all.iter().map(|v| value(v, metric)).sum()
        };
        let got = value(&whole, metric);
        assert!((got - expected).abs() < 1e-9, "{metric:?}: {got} vs {expected}");
    }
    assert_eq!(sim.gpm_sample_counts().0, sim.gpm_sample_counts().1);
}

#[test]
fn a_mig_instance_moves_with_its_workload() {
    let sim = h100_mig();
    let readings: Vec<f64> = (0..20)
        .map(|s| {
            let t = 100.0 + f64::from(s) * 2.5;
            value(&between(&sim, mig(0), t, t + 1.0), GpmMetric::SmActive)
        })
        .collect();
    let (lo, hi) = readings
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(
        hi - lo > 3.0,
        "SM activity of the instance swings with its load: {readings:?}"
    );
}

#[test]
fn mig_gpu_instance_ids_are_checked_as_the_header_says() {
    let sim = h100_mig();
    let sample = sim.gpm_sample_alloc();
    // GPU instance ids 1..=3 exist; 4 and 0 do not.
    for id in [1, 2, 3] {
        sim.gpm_sample_fill(DeviceRef::Physical(0), Some(id), sample).unwrap();
    }
    for id in [0, 4, 99] {
        assert!(
            matches!(
                sim.gpm_sample_fill(DeviceRef::Physical(0), Some(id), sample),
                Err(BackendError::NotFound { .. })
            ),
            "GPU instance {id}"
        );
    }
    sim.gpm_sample_release(sample).unwrap();
    // The default machine: an H100 not in MIG mode, a MIG A100 without GPM.
    let plain = SimBackend::default_machine();
    let sample = plain.gpm_sample_alloc();
    assert!(matches!(
        plain.gpm_sample_fill(DeviceRef::Physical(0), Some(1), sample),
        Err(BackendError::NotFound { .. })
    ));
    assert_eq!(
        plain.gpm_sample_fill(DeviceRef::Physical(1), Some(1), sample),
        Err(BackendError::NotSupported)
    );
    assert_eq!(plain.gpm_sample(mig_on(1)), Err(BackendError::NotSupported));
    plain.gpm_sample_release(sample).unwrap();
    assert_eq!(plain.gpm_sample_counts(), (2, 2), "the failed MIG sample was freed");
}

fn mig_on(parent: u32) -> DeviceRef {
    DeviceRef::Mig { parent, index: 0 }
}

#[test]
fn the_gpm_sampler_samples_mig_devices_and_frees_every_sample() {
    let sim = h100_mig();
    let backend = dyn_backend(&sim);
    let gpu = Device::new_in(&backend, 0).unwrap();
    let migs: Vec<Device> = gpu
        .mig_devices()
        .into_iter()
        .map(nvitop::MigDevice::into_device)
        .collect();
    let mut sampler = GpmSampler::with_min_interval(Duration::ZERO);
    for round in 0..100 {
        for device in std::iter::once(&gpu).chain(&migs) {
            let metrics = sampler.sample(device);
            assert_eq!(metrics.is_some(), round > 0, "{device:?} round {round}");
        }
    }
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!(
        allocated - freed,
        4,
        "one sample held per device: the GPU and 3 instances"
    );
    drop(sampler);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!((allocated, freed), (400, 400));
}

#[test]
fn mig_device_snapshots_carry_their_own_gpm() {
    let sim = h100_mig();
    sim.set_time(30.0);
    let backend = dyn_backend(&sim);
    let devices = Device::all_in(&backend).unwrap();
    let snap = Snapshot::take_with(
        &backend,
        &devices,
        SnapshotFields::fast().gpm(true),
        &mut HostProcessReader::new(),
    );
    let json = serde_json::to_value(&snap).unwrap();
    let migs = json["devices"][0]["mig_devices"].as_array().unwrap();
    assert_eq!(migs.len(), 3);
    let sm: Vec<f64> = migs
        .iter()
        .map(|m| m["gpm"]["sm_active"].as_f64().unwrap_or_else(|| panic!("{m}")))
        .collect();
    assert!(sm[0] > 0.0 && sm[1] > 0.0 && (sm[0] - sm[1]).abs() > 1e-6, "{sm:?}");
    assert!(sm[2].abs() < 1e-12, "the 1g instance does no work: {sm:?}");
    assert!(json["devices"][0]["gpm"]["sm_active"].is_number());
    // One shared interval: a pair of samples per device, all freed.
    assert_eq!(sim.gpm_sample_counts(), (8, 8));
}

#[test]
fn the_background_sampler_reads_gpm_of_mig_devices_it_is_given() {
    let sim = h100_mig();
    let backend = dyn_backend(&sim);
    let gpu = Device::new_in(&backend, 0).unwrap();
    let migs: Vec<Device> = gpu
        .mig_devices()
        .into_iter()
        .map(nvitop::MigDevice::into_device)
        .collect();
    let config = SamplerConfig::default()
        .interval(Duration::from_millis(50))
        .unwrap()
        .gpm(true);
    let sampler = Sampler::start(migs, config);
    std::thread::sleep(Duration::from_millis(300));
    let sample = sampler.sample_now();
    assert!(sample.devices[0].gpm.expect("3g instance").sm_active.unwrap() > 0.0);
    assert_eq!(sample.devices[2].gpm.expect("1g instance").sm_active, Some(0.0));
    drop(sampler);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!(allocated, freed, "the sampler frees its MIG samples when it stops");
}

#[test]
fn retain_frees_the_samples_of_devices_no_longer_sampled() {
    let sim = h100_mig();
    let backend = dyn_backend(&sim);
    let gpu = Device::new_in(&backend, 0).unwrap();
    let migs: Vec<Device> = gpu
        .mig_devices()
        .into_iter()
        .map(nvitop::MigDevice::into_device)
        .collect();
    let mut sampler = GpmSampler::with_min_interval(Duration::ZERO);
    for device in std::iter::once(&gpu).chain(&migs) {
        sampler.sample(device);
    }
    assert_eq!(sim.gpm_sample_counts(), (4, 0));
    // MIG reconfigured: only the GPU and its first instance are left.
    let left = [gpu.clone(), migs[0].clone()];
    sampler.retain(&left);
    assert_eq!(sim.gpm_sample_counts(), (4, 2), "the gone instances' samples are freed");
    // The ones kept still answer from their previous sample.
    assert!(sampler.sample(&gpu).is_some() && sampler.sample(&migs[0]).is_some());
    drop(sampler);
    assert_eq!(sim.gpm_sample_counts(), (6, 6));
}

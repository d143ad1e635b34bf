//! Per-process %SM and %GMBW follow the driver's sample buffer: a process
//! that goes idle gets no new samples, and every reader reports it at 0 %
//! once its last busy sample is out of the look-back window, no matter how
//! many other readers asked in between.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nvitop::Device;
use nvitop::backend::sim::SimBackend;
use nvitop::backend::sim::scenario::{Format, Scenario};
use nvitop::backend::{Backend, DeviceRef};
use nvitop::sampler::{Sampler, SamplerConfig, Tracked};

/// One GPU whose load swings between 0 (the wave below zero is clamped) and
/// 90 %, with no noise, the calling process its only process.
const SWINGING: &str = r#"
[[gpus]]
model = "L4"
workload = { gpu_util = 40, swing = 50, period_s = 100, noise = 0 }
processes = [{ pid = "self", memory_mib = 1024 }]
"#;

/// A simulated time at which the GPU is busy and one at which it is idle.
fn busy_and_idle(sim: &SimBackend) -> (f64, f64) {
    let util_at = |t: f64| {
        sim.set_time(t);
        sim.utilization_rates(DeviceRef::Physical(0)).unwrap().gpu
    };
    let busy = (0..100)
        .map(f64::from)
        .find(|&t| util_at(t) >= 60)
        .expect("a busy moment");
    let idle = (0..100)
        .map(f64::from)
        .find(|&t| util_at(t) == 0)
        .expect("an idle moment");
    (busy, idle)
}

/// %SM and %GMBW of this process as `Device::processes` reads them.
fn mine(device: &Device) -> (Option<u32>, Option<u32>) {
    let me = device
        .processes()
        .unwrap()
        .into_iter()
        .find(|p| p.pid() == std::process::id())
        .expect("this process is on the GPU");
    (me.gpu_sm_utilization(), me.gpu_memory_utilization())
}

#[test]
fn a_process_that_goes_idle_reads_zero_in_every_reader() {
    let scenario = Scenario::parse(SWINGING, Format::Toml, Path::new("swinging.toml")).unwrap();
    let sim = Arc::new(SimBackend::new(scenario));
    let (busy, idle) = busy_and_idle(&sim);
    let backend: Arc<dyn Backend> = Arc::clone(&sim) as Arc<dyn Backend>;
    let device = Device::new_in(&backend, 0).unwrap();
    let config = SamplerConfig::default()
        .interval(Duration::from_mins(1))
        .unwrap()
        .tracked(Tracked::Pids(vec![std::process::id()]));
    let sampler = Sampler::start(vec![device.clone()], config);

    sim.set_time(busy);
    // The driver records a load at the end of its sample period (1/6 s).
    std::thread::sleep(Duration::from_millis(400));
    // Two readers one after the other both see the load: neither used up
    // the samples of the other.
    let (sm, memory) = mine(&device);
    assert!(sm.unwrap() > 0 && memory.unwrap() > 0, "busy: {sm:?} {memory:?}");
    assert_eq!(mine(&device), (sm, memory), "a second reader sees the same samples");
    let sampled = sampler.sample_now();
    assert!(
        sampled.processes[0].gpu[0]
            .as_ref()
            .unwrap()
            .gpu_sm_utilization
            .unwrap()
            > 0.0
    );

    // Idle for longer than the look-back window: the driver records no
    // sample for the process, its busy samples are still in the buffer.
    sim.set_time(idle);
    std::thread::sleep(Duration::from_millis(1_300));
    assert_eq!(
        mine(&device),
        (Some(0), Some(0)),
        "idle for 1.3 s: 0 % SM and 0 % memory bandwidth"
    );
    assert_eq!(mine(&device), (Some(0), Some(0)), "and again for a second reader");
    let gpu = sampler.sample_now().processes[0].gpu[0].clone().unwrap();
    assert_eq!(gpu.gpu_sm_utilization, Some(0.0), "the sampler too");
    assert_eq!(gpu.gpu_memory_utilization, Some(0.0));
    let snapshot = nvitop::snapshot::Snapshot::take(&backend, std::slice::from_ref(&device));
    let row = snapshot.processes.iter().find(|p| p.pid == std::process::id()).unwrap();
    assert_eq!(row.gpu_sm_utilization, Some(0), "the snapshot too");
    assert_eq!(row.gpu_memory_utilization, Some(0));

    // Busy again: the readers see it at once.
    sim.set_time(busy);
    std::thread::sleep(Duration::from_millis(400));
    assert!(mine(&device).0.unwrap() > 0);
}

#[test]
fn a_gpu_without_per_process_samples_reads_not_available() {
    // The `mig` preset's GPU 0 is MIG-enabled: the driver keeps no
    // per-process samples there, which is N/A, not an idle 0 %.
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("mig").unwrap());
    let parent = Device::new_in(&backend, 0).unwrap();
    let processes = parent.processes().unwrap();
    assert!(!processes.is_empty());
    assert!(processes.iter().all(|p| p.gpu_sm_utilization().is_none()));
}

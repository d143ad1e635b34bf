//! GPM activity through the exporter's collector on the simulator: each
//! pass's ratios are the simulator's metrics over the interval since the
//! previous pass (the collector keeps one `GpmSampler`, no sleep of its
//! own); an A100 machine has no GPM series; `--no-gpm` takes no samples.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use nvitop::backend::sim::SimBackend;
use nvitop::backend::{Backend, BackendError, DeviceRef, GpmMetric};
use nvitop_exporter::collect::Source;
use nvitop_exporter::metrics::{Family, families};

const FAMILIES: [(&str, GpmMetric); 7] = [
    ("gpu_sm_active_ratio", GpmMetric::SmActive),
    ("gpu_sm_occupancy_ratio", GpmMetric::SmOccupancy),
    ("gpu_tensor_active_ratio", GpmMetric::TensorActive),
    ("gpu_dram_active_ratio", GpmMetric::DramActive),
    ("gpu_fp16_active_ratio", GpmMetric::Fp16Active),
    ("gpu_fp32_active_ratio", GpmMetric::Fp32Active),
    ("gpu_fp64_active_ratio", GpmMetric::Fp64Active),
];

/// The simulator's metrics of `device` between simulated times `t1` and `t2`.
fn simulator_between(sim: &SimBackend, device: DeviceRef, t1: f64, t2: f64) -> Vec<Result<f64, BackendError>> {
    sim.set_time(t1);
    let a = sim.gpm_sample(device).unwrap();
    sim.set_time(t2);
    let b = sim.gpm_sample(device).unwrap();
    let metrics: Vec<GpmMetric> = FAMILIES.iter().map(|(_, m)| *m).collect();
    let values = sim.gpm_metrics(a, b, &metrics).unwrap();
    sim.gpm_sample_free(a).unwrap();
    sim.gpm_sample_free(b).unwrap();
    values
}

fn family<'a>(families: &'a [Family], name: &str) -> &'a Family {
    families.iter().find(|f| f.name == name).unwrap()
}

#[test]
fn each_pass_gives_the_simulators_metrics_since_the_previous_pass() {
    let sim = Arc::new(SimBackend::from_preset("h100x8").unwrap());
    let backend: Arc<dyn Backend> = Arc::clone(&sim) as Arc<dyn Backend>;
    let mut source = Source::with_backend(backend, None).unwrap();
    sim.set_time(10.0);
    let first = families(&source.read(), "n");
    // The first pass has nothing to difference against: no sample, no NaN.
    for (name, _) in FAMILIES {
        assert!(family(&first, name).samples.is_empty(), "{name}");
    }
    // Two intervals of different length and load: each pass covers its own.
    for (t1, t2) in [(10.0, 13.5), (13.5, 14.0)] {
        // GPM samples are taken at least 100 ms apart (real time).
        std::thread::sleep(Duration::from_millis(120));
        sim.set_time(t2);
        let families = families(&source.read(), "n");
        let reference = SimBackend::from_preset("h100x8").unwrap();
        for index in 0..8u32 {
            let want = simulator_between(&reference, DeviceRef::Physical(index), t1, t2);
            for ((name, _), want) in FAMILIES.iter().zip(want) {
                let samples: Vec<f64> = family(&families, name)
                    .samples
                    .iter()
                    .filter(|s| s.labels[1].1 == index.to_string())
                    .map(|s| s.value)
                    .collect();
                let want = want.unwrap() / 100.0;
                assert_eq!(samples.len(), 1, "{name} GPU {index}");
                // Same arithmetic on the same counters, then one division.
                assert!(
                    (samples[0] - want).abs() <= 1e-12,
                    "{name} GPU {index} over {t1}..{t2}: exporter {}, simulator {want}",
                    samples[0]
                );
                assert!((0.0..=1.0).contains(&samples[0]));
            }
        }
        assert!(
            family(&families, "gpu_sm_active_ratio")
                .samples
                .iter()
                .any(|s| s.value > 0.0),
            "some GPU of the scenario is busy over {t1}..{t2}"
        );
    }
}

#[test]
fn a100_machine_has_no_gpm_series() {
    let mut source = Source::open(Some("a100x4"), None).unwrap();
    source.read();
    std::thread::sleep(Duration::from_millis(120));
    let families = families(&source.read(), "n");
    assert_eq!(family(&families, "gpu_utilization_Percentage").samples.len(), 4);
    for (name, _) in FAMILIES {
        let f = family(&families, name);
        // Described (HELP/TYPE) but without samples: N/A, not zero and not utilization.
        assert!(f.samples.is_empty(), "{name}: {:?}", f.samples);
    }
}

#[test]
fn no_gpm_takes_no_samples() {
    let sim = Arc::new(SimBackend::from_preset("h100x8").unwrap());
    let backend: Arc<dyn Backend> = Arc::clone(&sim) as Arc<dyn Backend>;
    let mut source = Source::with_backend(backend, None).unwrap().with_gpm(false);
    for _ in 0..3 {
        let families = families(&source.read(), "n");
        assert!(family(&families, "gpu_sm_active_ratio").samples.is_empty());
        std::thread::sleep(Duration::from_millis(120));
    }
    assert_eq!(sim.gpm_sample_counts(), (0, 0), "no GPM sample allocated");
}

#[test]
fn every_sample_the_collector_allocates_is_freed() {
    let sim = Arc::new(SimBackend::from_preset("h100x8").unwrap());
    let backend: Arc<dyn Backend> = Arc::clone(&sim) as Arc<dyn Backend>;
    let mut source = Source::with_backend(backend, None).unwrap();
    for _ in 0..3 {
        source.read();
        std::thread::sleep(Duration::from_millis(110));
    }
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!(allocated, 24, "one sample per GPU and pass");
    assert_eq!(allocated - freed, 8, "only the previous sample of each GPU is held");
    drop(source);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!(allocated, freed, "dropping the collector frees the rest");
}

/// The `mig` preset's simulator with a fixed pool of `host:N` pids, so the
/// reference simulator binds the same processes to the same instances.
fn mig_preset() -> SimBackend {
    let pool = (0..8).map(|i| 310_000 + i).collect();
    SimBackend::with_host_pool(nvitop::backend::sim::presets::preset("mig").unwrap(), pool)
}

#[test]
fn mig_devices_have_their_gpu_instances_own_series_with_their_index_label() {
    // GPU 0: an A100 in MIG mode (no GPM); GPU 1: an H100 in MIG mode.
    let sim = Arc::new(mig_preset());
    let backend: Arc<dyn Backend> = Arc::clone(&sim) as Arc<dyn Backend>;
    let mut source = Source::with_backend(backend, None).unwrap();
    sim.set_time(20.0);
    source.read();
    std::thread::sleep(Duration::from_millis(120));
    sim.set_time(23.0);
    let readings = source.read();
    let families = families(&readings, "n");
    let reference = mig_preset();
    for (index, device) in [
        ("1", DeviceRef::Physical(1)),
        ("1:0", DeviceRef::Mig { parent: 1, index: 0 }),
        ("1:1", DeviceRef::Mig { parent: 1, index: 1 }),
    ] {
        let want = simulator_between(&reference, device, 20.0, 23.0);
        for ((name, _), want) in FAMILIES.iter().zip(want) {
            let samples: Vec<_> = family(&families, name)
                .samples
                .iter()
                .filter(|s| s.labels[1].1 == index)
                .collect();
            assert_eq!(samples.len(), 1, "{name} {index}");
            let want = want.unwrap() / 100.0;
            assert!(
                (samples[0].value - want).abs() <= 1e-12,
                "{name} {index}: exporter {}, simulator {want}",
                samples[0].value
            );
            // The MIG device's own name and UUID, as its other series carry.
            let gpu = readings.gpus.iter().find(|g| g.index == index).unwrap();
            assert_eq!(samples[0].labels[2].1, gpu.name, "{name} {index}");
            assert_eq!(samples[0].labels[3].1, gpu.uuid, "{name} {index}");
        }
    }
    let sm = family(&families, "gpu_sm_active_ratio");
    let of = |index: &str| sm.samples.iter().find(|s| s.labels[1].1 == index).unwrap().value;
    assert!(of("1:0") > 0.0 && of("1:1") > 0.0 && (of("1:0") - of("1:1")).abs() > 1e-6);
    // The A100 and its MIG devices: no GPM, no series.
    assert!(
        sm.samples.iter().all(|s| !s.labels[1].1.starts_with('0')),
        "{:?}",
        sm.samples
    );
    drop(source);
    let (allocated, freed) = sim.gpm_sample_counts();
    assert_eq!(allocated, 6, "the H100 and its two instances, two passes");
    assert_eq!(allocated, freed, "dropping the collector frees the MIG samples too");
}

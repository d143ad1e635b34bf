//! `GpuStatsLogger::new(&[0])` takes CUDA ordinals: under
//! `CUDA_VISIBLE_DEVICES=4,5` (a SLURM or Kubernetes job given GPUs 4 and
//! 5), `cuda:0` is physical GPU 4, logged under nvitop's key for it. One
//! test in its own binary: it sets the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]
// Setting the process environment is unsafe in edition 2024.
#![allow(unsafe_code)]

use std::sync::Arc;

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::MemorySink;
use nvitop::{Device, GpuStatsLogger};

fn set_visible(value: &str) {
    // SAFETY: this binary's only test, so no other thread reads the environment meanwhile.
    unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", value) };
}

/// The memory.used each logger wrote for its one device, in MiB.
fn logged_memory(logger: GpuStatsLogger, rows: &nvitop::sink::MemoryRecords, key: &str) -> f64 {
    drop(logger.step(0));
    assert!(logger.close().is_clean());
    rows.records()[1]
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", rows.records()))
}

#[test]
fn cuda_ordinals_follow_cuda_visible_devices_by_index_and_by_uuid() {
    let sim = SimBackend::from_preset("h100x8").unwrap();
    sim.set_time(5.0);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let physical = |i: u32| Device::new_in(&backend, i).unwrap();
    let mib = |d: &Device| d.memory_used().unwrap() as f64 / 1024.0 / 1024.0;

    for (value, cuda, expected_physical) in [
        ("4,5".to_owned(), 0, 4),
        ("4,5".to_owned(), 1, 5),
        (
            format!("{},{}", physical(5).uuid().unwrap(), physical(4).uuid().unwrap()),
            0,
            5,
        ),
    ] {
        set_visible(&value);
        let sink = MemorySink::new();
        let rows = sink.handle();
        let logger = GpuStatsLogger::builder(&[cuda])
            .backend(Arc::clone(&backend))
            .sink(Box::new(sink))
            .build()
            .unwrap();
        let key = format!("gpu_id: {cuda} (physical index: {expected_physical})/memory.used (MiB)");
        assert!(logger.keys().contains(&key), "{value}: {:?}", logger.keys());
        let logged = logged_memory(logger, &rows, &key);
        assert_eq!(logged, mib(&physical(expected_physical)), "{value} cuda:{cuda}");
    }

    // An ordinal the variable does not provide is an error, not another GPU.
    set_visible("4,5");
    let err = GpuStatsLogger::builder(&[2])
        .backend(Arc::clone(&backend))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains('2'), "{err}");

    // Physical indices, by their explicit name, ignore the variable.
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder_for_physical_indices(&[4])
        .backend(Arc::clone(&backend))
        .sink(Box::new(sink))
        .build()
        .unwrap();
    let logged = logged_memory(logger, &rows, "gpu_id: 4/memory.used (MiB)");
    assert_eq!(logged, mib(&physical(4)));

    // Without the variable, ordinals are physical indices and keys plain.
    // SAFETY: as above.
    unsafe { std::env::remove_var("CUDA_VISIBLE_DEVICES") };
    let logger = GpuStatsLogger::builder(&[3])
        .backend(Arc::clone(&backend))
        .sink(Box::new(MemorySink::new()))
        .build()
        .unwrap();
    assert!(logger.keys().contains(&"gpu_id: 3/memory.used (MiB)".to_owned()));
}

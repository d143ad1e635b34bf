//! GpuStatsLogger end to end on the simulator: keys, values, timing, sinks,
//! and the faults a training run meets (full disk, lost GPU, slow sink).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::{LogRecord, MemorySink, Sink, SinkError};
use nvitop::{GpuStatsLogger, LoggerOptions};

fn sim(time: f64) -> Arc<dyn Backend> {
    let sim = SimBackend::default_machine();
    sim.set_time(time);
    Arc::new(sim)
}

#[test]
fn default_keys_are_nvitops() {
    let logger = GpuStatsLogger::builder(&[0, 2])
        .backend(sim(3.0))
        .sink(Box::new(MemorySink::new()))
        .build()
        .unwrap();
    assert_eq!(
        logger.keys(),
        [
            "gpu_id: 0/utilization.memory (%)",
            "gpu_id: 0/memory.used (MiB)",
            "gpu_id: 0/memory.free (MiB)",
            "gpu_id: 0/utilization.gpu (%)",
            "gpu_id: 2/utilization.memory (%)",
            "gpu_id: 2/memory.used (MiB)",
            "gpu_id: 2/memory.free (MiB)",
            "gpu_id: 2/utilization.gpu (%)",
        ]
    );
}

#[test]
fn every_option_adds_its_keys() {
    let options = LoggerOptions {
        memory_utilization: true,
        gpu_utilization: true,
        intra_step_time: true,
        inter_step_time: true,
        fan_speed: true,
        temperature: true,
        power: true,
        energy: true,
        clocks: true,
        pcie: true,
        process_memory: true,
        process_host: true,
        epoch_time: true,
    };
    let logger = GpuStatsLogger::builder(&[3])
        .backend(sim(3.0))
        .sink(Box::new(MemorySink::new()))
        .options(options)
        .build()
        .unwrap();
    for key in [
        "gpu_id: 3/fan.speed (%)",
        "gpu_id: 3/temperature.gpu (C)",
        "gpu_id: 3/power.draw (W)",
        "gpu_id: 3/power.limit (W)",
        "gpu_id: 3/energy.step (J)",
        "gpu_id: 3/clocks.sm (MHz)",
        "gpu_id: 3/clocks.mem (MHz)",
        "gpu_id: 3/pcie.tx (KB/s)",
        "gpu_id: 3/pcie.rx (KB/s)",
        "gpu_id: 3/process.memory.used (MiB)",
        "batch_time/intra_step (ms)",
        "batch_time/inter_step (ms)",
        "host/process.cpu (%)",
        "host/process.rss (MiB)",
        "epoch_time/train (s)",
        "epoch_time/validation (s)",
    ] {
        assert!(logger.keys().iter().any(|k| k == key), "missing {key}");
    }
}

#[test]
fn hooks_write_rows_with_true_values_and_timings() {
    let backend = sim(7.0);
    let device = nvitop::Device::new_in(&backend, 0).unwrap();
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::clone(&backend))
        .sink(Box::new(sink))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .process_memory(true)
        .build()
        .unwrap();
    logger.on_train_start();
    logger.on_train_epoch_start(0);
    for step in 0..3 {
        logger.on_train_batch_start(step);
        std::thread::sleep(Duration::from_millis(5));
        logger.on_train_batch_end(step);
        std::thread::sleep(Duration::from_millis(2));
    }
    logger.on_train_epoch_end(0);
    logger.on_train_end();
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");
    let rows = rows.records();
    assert_eq!(rows.len(), 8);
    assert_eq!(report.written, 8);
    // Batch start: GPU stats, inter-step time from the second batch on.
    assert_eq!(rows[0].step, 0);
    assert_eq!(rows[0].epoch, Some(0));
    assert_eq!(rows[0].get("batch_time/inter_step (ms)"), None);
    assert!(rows[2].get("batch_time/inter_step (ms)").unwrap() >= 1.5);
    // Batch end: the intra-step time.
    assert!(rows[1].get("batch_time/intra_step (ms)").unwrap() >= 4.5);
    assert_eq!(rows[1].get("batch_time/inter_step (ms)"), None);
    // The values are the device's, at the simulator's fixed time.
    let mem = device.memory_info().unwrap();
    assert_eq!(
        rows[1].get("gpu_id: 0/memory.used (MiB)").unwrap(),
        mem.used as f64 / 1_048_576.0
    );
    assert_eq!(
        rows[1].get("gpu_id: 0/memory.free (MiB)").unwrap(),
        mem.free as f64 / 1_048_576.0
    );
    assert_eq!(
        rows[1].get("gpu_id: 0/utilization.gpu (%)"),
        device.gpu_utilization().map(f64::from)
    );
    assert_eq!(
        rows[1].get("gpu_id: 0/utilization.memory (%)"),
        device.memory_utilization().map(f64::from)
    );
    // Temperature is the temperature (nvitop 1.6 logged the fan speed here).
    assert_eq!(
        rows[1].get("gpu_id: 0/temperature.gpu (C)"),
        device.temperature().map(f64::from)
    );
    // This very process runs on GPU 0 of the default simulated machine.
    assert!(rows[1].get("gpu_id: 0/process.memory.used (MiB)").unwrap() > 0.0);
    assert!(rows.iter().all(|r| r.wall_time.is_finite() && r.wall_time > 1.6e9));
}

#[test]
fn step_guard_ends_the_step() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[1])
        .backend(sim(1.0))
        .sink(Box::new(sink))
        .intra_step_time(true)
        .build()
        .unwrap();
    {
        let _step = logger.step(41);
    }
    drop(logger);
    let rows = rows.records();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.step == 41));
    assert!(rows[1].get("batch_time/intra_step (ms)").is_some());
    assert!(rows.iter().all(|r| r.epoch.is_none()));
}

#[test]
fn a_synced_step_waits_for_the_device_before_the_clock_stops() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(sink))
        .intra_step_time(true)
        .build()
        .unwrap();
    // A "device" whose queued work takes 30 ms to finish: the step returns
    // at once, the sync waits.
    let synced = std::sync::atomic::AtomicBool::new(false);
    let sync = || {
        std::thread::sleep(Duration::from_millis(30));
        synced.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    {
        let step = logger.step_with_sync(5, &sync);
        assert_eq!(step.step(), 5);
        assert!(
            !synced.load(std::sync::atomic::Ordering::Relaxed),
            "no sync before the step ends"
        );
    }
    assert!(synced.load(std::sync::atomic::Ordering::Relaxed));
    drop(logger);
    let rows = rows.records();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.step == 5));
    // The sync ran before on_train_batch_end: the step time includes it.
    assert!(rows[1].get("batch_time/intra_step (ms)").unwrap() >= 29.0);
}

#[test]
fn cuda_devices_are_labelled_like_nvitop() {
    let logger = GpuStatsLogger::builder_for_devices(
        nvitop::Device::from_cuda_visible_devices_in(&sim(1.0), Some("3"))
            .unwrap()
            .into_iter()
            .map(nvitop::CudaDevice::into_device)
            .collect(),
    )
    .sink(Box::new(MemorySink::new()))
    .build()
    .unwrap();
    assert!(logger.keys()[0].starts_with("gpu_id: 3/"));
}

#[test]
fn a_full_disk_never_stops_training_and_is_reported() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .csv("/dev/full")
        .build()
        .unwrap();
    for step in 0..50 {
        let _s = logger.step(step);
    }
    let report = logger.close();
    assert!(report.error_count > 0, "{report:?}");
    assert!(report.errors.iter().any(|e| e.contains("/dev/full")), "{report:?}");
}

#[test]
fn an_impossible_log_directory_is_a_clear_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let dir = file.path().join("runs");
    let err = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .tensorboard(&dir)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains(&*dir.to_string_lossy()), "{err}");
}

#[test]
fn a_lost_gpu_gives_missing_values_not_a_crash() {
    let sim = SimBackend::from_preset("faults").unwrap();
    sim.set_time(1000.0);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let lost = nvitop::Device::all_in(&backend)
        .unwrap()
        .into_iter()
        .find(|d| d.status().is_err())
        .unwrap();
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[lost.index()])
        .backend(backend)
        .sink(Box::new(sink))
        .build()
        .unwrap();
    let _ = logger.step(0);
    drop(logger);
    let rows = rows.records();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.values.is_empty()), "{rows:?}");
}

/// A sink that takes its time, to fill the channel.
struct SlowSink;

impl Sink for SlowSink {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _record: &LogRecord<'_>) -> Result<(), SinkError> {
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "slow".into()
    }
}

#[test]
fn a_slow_sink_drops_rows_instead_of_blocking() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(SlowSink))
        .channel_capacity(4)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    for step in 0..200 {
        let _s = logger.step(step);
    }
    // 400 rows at 20 ms each would take 8 s if the hooks waited.
    assert!(start.elapsed() < Duration::from_secs(2));
    let report = logger.close();
    assert!(report.dropped > 300, "{report:?}");
    assert_eq!(report.written + report.dropped, 400);
}

#[test]
fn flush_reports_progress() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(sink))
        .build()
        .unwrap();
    let _ = logger.step(0);
    let report = logger.flush();
    assert_eq!(report.written, 2);
    assert_eq!(rows.len(), 2);
    assert!(rows.flush_count() >= 1);
}

#[test]
fn bad_interval_is_refused() {
    let err = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(MemorySink::new()))
        .interval(Duration::from_millis(1))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("10 ms to 60 s"), "{err}");
}

#[test]
fn a_gpu_lost_mid_run_gives_missing_values_and_training_goes_on() {
    // The `faults` preset loses GPU 3 at t = 30 s.
    let sim = Arc::new(SimBackend::from_preset("faults").unwrap());
    sim.set_time(29.0);
    let backend: Arc<dyn Backend> = sim.clone();
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0, 3])
        .backend(backend)
        .sink(Box::new(sink))
        .interval(Duration::from_millis(10))
        .build()
        .unwrap();
    for step in 0..3 {
        let _s = logger.step(step);
    }
    sim.set_time(31.0);
    std::thread::sleep(Duration::from_millis(100)); // the sampler sees the loss
    for step in 3..6 {
        let _s = logger.step(step);
    }
    let report = logger.close();
    assert!(report.is_clean(), "{report}");
    let rows = rows.records();
    let gpu3 = "gpu_id: 3/utilization.gpu (%)";
    let gpu0 = "gpu_id: 0/utilization.gpu (%)";
    let before: Vec<_> = rows.iter().filter(|r| r.step < 3).collect();
    let after: Vec<_> = rows.iter().filter(|r| r.step >= 3).collect();
    assert!(
        before.iter().all(|r| r.get(gpu3).is_some()),
        "GPU 3 healthy before t=30"
    );
    assert!(
        after.iter().all(|r| r.get(gpu3).is_none()),
        "GPU 3 missing after it is lost"
    );
    assert!(after.iter().all(|r| r.get(gpu0).is_some()), "GPU 0 unaffected");
}

#[test]
fn a_tracked_child_that_exits_mid_run_is_dropped_quietly() {
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(5.0))
        .sink(Box::new(sink))
        .process_host(true)
        .process_memory(true)
        .interval(Duration::from_millis(10))
        .build()
        .unwrap();
    {
        let _s = logger.step(0);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    for step in 1..4 {
        let _s = logger.step(step);
    }
    let report = logger.close();
    assert!(report.is_clean(), "{report}");
    let rows = rows.records();
    assert_eq!(rows.len(), 8);
    // This process itself is still tracked: its host figures stay present.
    assert!(rows.iter().all(|r| r.get("host/process.rss (MiB)").is_some()));
}

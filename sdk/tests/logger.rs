//! GpuStatsLogger end to end on the simulator: keys, values, timing, sinks,
//! and the faults a training run meets (full disk, lost GPU, slow sink).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::logger::ManualClock;
use nvitop::sink::{LogRecord, MemorySink, Sink, SinkError};
use nvitop::{GpuStatsLogger, LoggerOptions};
use prost::Message as _;

mod common;
use common::SlowSink;

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
    let options = LoggerOptions::default()
        .memory_utilization(true)
        .gpu_utilization(true)
        .intra_step_time(true)
        .inter_step_time(true)
        .fan_speed(true)
        .temperature(true)
        .power(true)
        .energy(true)
        .clocks(true)
        .pcie(true)
        .process_memory(true)
        .process_host(true)
        .epoch_time(true);
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
        "gpu_id: 3/energy.total (J)",
        "gpu_id: 3/clocks.sm (MHz)",
        "gpu_id: 3/clocks.mem (MHz)",
        "gpu_id: 3/pcie.tx (KB/s)",
        "gpu_id: 3/pcie.rx (KB/s)",
        "gpu_id: 3/process.memory.used (MiB)",
        "batch_time/intra_step (ms)",
        "batch_time/inter_step (ms)",
        "host/process.cpu (%)",
        "host/process.rss (MiB)",
        "epoch_time/train (ms)",
        "epoch_time/validation (ms)",
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
    // Three batch starts and ends; the epoch and train ends have nothing to
    // log with epoch_time off, so they write no (blank) rows.
    assert_eq!(rows.len(), 6);
    assert_eq!(report.written, 6);
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

/// Callers that report only batch ends (burn's metric events drive the
/// logger that way) still get their epoch-end row at the last step.
#[test]
fn an_epoch_end_row_carries_the_last_batch_end_step() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(sink))
        .epoch_time(true)
        .build()
        .unwrap();
    logger.on_train_epoch_start(0);
    logger.on_train_batch_end(6);
    logger.on_train_batch_end(7);
    logger.on_train_epoch_end(0);
    drop(logger);
    let rows = rows.records();
    let epoch_end = rows
        .iter()
        .find(|r| r.get("epoch_time/train (ms)").is_some())
        .expect("an epoch-end row");
    assert_eq!(epoch_end.step, 7, "{rows:?}");
    assert_eq!(epoch_end.epoch, Some(0));
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

#[test]
fn a_slow_sink_drops_rows_instead_of_blocking() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(SlowSink(Duration::from_millis(20))))
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
    // Wait for the sampler thread's next two samples (the first may have
    // started before the loss), however loaded the machine is.
    let seen = logger.sampler().latest_seq();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while logger.sampler().latest_seq() < seen + 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(logger.sampler().latest_seq() >= seen + 2, "the sampler thread stopped");
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

#[test]
fn a_csv_file_with_other_columns_is_refused_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.csv");
    std::fs::write(&path, "wall_time,step,epoch,gpu_id: 0/fan.speed (%)\n1.0,0,,40.0\n").unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .tensorboard(dir.path().join("run"))
        .csv(&path)
        .build()
        .unwrap_err();
    assert!(!dir.path().join("run").exists(), "no empty TensorBoard run left behind");
    let nvitop::Error::Sink(SinkError::HeaderMismatch { found, .. }) = &err else {
        panic!("expected a header mismatch, got {err:?}");
    };
    assert_eq!(found.last().map(String::as_str), Some("gpu_id: 0/fan.speed (%)"));
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file is untouched");
    // The same columns append.
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .csv(dir.path().join("ok.csv"))
        .build()
        .unwrap();
    drop(logger.step(0));
    assert!(logger.close().is_clean());
    let again = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .csv(dir.path().join("ok.csv"))
        .build()
        .unwrap();
    drop(again.step(1));
    assert!(again.close().is_clean());
    let text = std::fs::read_to_string(dir.path().join("ok.csv")).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}"); // one header, four rows
}

/// What a sink was asked to do, in order.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Write { step: u64, epoch: Option<u64> },
    Flush,
}

struct Recording(Arc<std::sync::Mutex<Vec<Call>>>);

impl Sink for Recording {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(Call::Write {
            step: record.step,
            epoch: record.epoch,
        });
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(Call::Flush);
        Ok(())
    }
    fn describe(&self) -> String {
        "recording".into()
    }
}

fn recording_logger() -> (GpuStatsLogger, Arc<std::sync::Mutex<Vec<Call>>>) {
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(Recording(Arc::clone(&calls))))
        .build()
        .unwrap();
    (logger, calls)
}

/// Waits until `done` holds for the recorded calls (the sink thread's
/// pace depends on the machine's load); panics after a generous deadline.
fn wait_for(calls: &std::sync::Mutex<Vec<Call>>, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = calls.lock().unwrap().clone();
        if done(&now) {
            return now;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {now:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_sink_thread_flushes_right_after_an_epoch_ends() {
    let (logger, calls) = recording_logger();
    logger.on_train_epoch_start(0);
    for step in 0..3 {
        let _s = logger.step(step);
    }
    logger.on_train_epoch_end(0);
    logger.on_train_epoch_start(1);
    for step in 3..5 {
        let _s = logger.step(step);
    }
    drop(logger);
    // The sink thread handles records in order: at the epoch end it
    // flushed, between the epoch's last row (the sixth) and the next
    // epoch's first, with no flush() call; the epoch end itself writes no
    // row (epoch_time is off, so it has no value). (The run takes
    // milliseconds, so the 2-second timer does not fire there; on a machine
    // stalled for seconds it might, and the test would still pass, just
    // without telling the two apart.)
    let calls = calls.lock().unwrap().clone();
    let writes: Vec<usize> = (0..calls.len())
        .filter(|&i| matches!(calls[i], Call::Write { .. }))
        .collect();
    assert_eq!(writes.len(), 10, "{calls:?}");
    let last_of_epoch = writes[5];
    assert_eq!(
        calls[last_of_epoch],
        Call::Write {
            step: 2,
            epoch: Some(0)
        },
        "{calls:?}"
    );
    assert_eq!(calls[last_of_epoch + 1], Call::Flush, "{calls:?}");
    assert_eq!(
        calls[last_of_epoch + 2],
        Call::Write {
            step: 3,
            epoch: Some(1)
        },
        "{calls:?}"
    );
}

#[test]
fn the_sink_thread_flushes_every_two_seconds_without_epochs() {
    // The sink thread's timer runs on an injected clock: the test moves it
    // instead of waiting two real seconds.
    let clock = ManualClock::new();
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(Recording(Arc::clone(&calls))))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    drop(logger.step(0));
    // Both rows reach the sink, and no flush comes while the clock stands
    // still (rows are buffered, not flushed one by one).
    wait_for(&calls, |c| {
        c.iter().filter(|c| matches!(c, Call::Write { .. })).count() == 2
    });
    std::thread::sleep(Duration::from_millis(100)); // several of the sink thread's polls
    clock.advance(Duration::from_millis(1999));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !calls.lock().unwrap().contains(&Call::Flush),
        "{:?}",
        calls.lock().unwrap()
    );
    // At 2 s on its clock the timer alone flushes.
    clock.advance(Duration::from_millis(1));
    let seen = wait_for(&calls, |c| c.contains(&Call::Flush));
    assert_eq!(seen.iter().filter(|c| matches!(c, Call::Write { .. })).count(), 2);
    drop(logger);
}

#[test]
fn hooks_take_any_step_and_epoch_without_panicking() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .sink(Box::new(sink))
        .intra_step_time(true)
        .inter_step_time(true)
        .epoch_time(true)
        .build()
        .unwrap();
    for value in [0, u64::MAX] {
        logger.on_train_epoch_start(value);
        drop(logger.step(value));
        logger.on_validation_end(); // without a start
        logger.on_train_epoch_end(value);
    }
    logger.on_train_end();
    assert!(logger.close().is_clean());
    let rows = rows.records();
    assert!(rows.iter().any(|r| r.step == u64::MAX && r.epoch == Some(u64::MAX)));
    assert!(rows.iter().any(|r| r.step == 0 && r.epoch == Some(0)));
}

#[test]
fn an_unwritable_log_directory_is_a_clear_error_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let mut permissions = std::fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
    std::fs::set_permissions(&locked, permissions).unwrap();
    // Root writes into a mode-0555 directory anyway; /sys refuses even root.
    let run = if std::fs::write(locked.join("probe"), "").is_err() {
        locked.join("run")
    } else {
        std::path::PathBuf::from("/sys/nvitop-rs-test-run")
    };
    let err = GpuStatsLogger::builder(&[0])
        .backend(sim(1.0))
        .tensorboard(&run)
        .build()
        .unwrap_err();
    assert!(matches!(err, nvitop::Error::Sink(SinkError::Io { .. })), "{err:?}");
    assert!(err.to_string().contains(&*run.to_string_lossy()), "{err}");
}

/// A tiny tmpfs mounted for one test, unmounted when dropped (also when the
/// test fails). `None` where mounting is not permitted (not root, no
/// `CAP_SYS_ADMIN`): the test then says so and passes.
struct TinyDisk(tempfile::TempDir);

impl TinyDisk {
    fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "nvitop-rs-test"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self(dir))
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_disk_that_fills_mid_run_leaves_files_that_read_back_once_space_is_freed() {
    let Some(disk) = TinyDisk::mount(256 * 1024) else {
        common::skip_or_fail("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    };
    // Room the run gets back later: more than the two sinks' buffers
    // (64 KiB each) that are waiting for it then.
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0_u8; 160 * 1024]).unwrap();
    let run = disk.path().join("run");
    let logger = GpuStatsLogger::builder(&[0, 1])
        .backend(sim(5.0))
        .tensorboard(&run)
        .csv(run.join("gpu.csv"))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .power(true)
        .clocks(true)
        .build()
        .unwrap();
    let keys = logger.keys().to_vec();
    let mut step = 0;
    // Phase 1: far more rows than fit; every epoch end flushes to the full disk.
    for epoch in 0..60 {
        logger.on_train_epoch_start(epoch);
        for _ in 0..20 {
            drop(logger.step(step));
            step += 1;
        }
        logger.on_train_epoch_end(epoch);
    }
    let full = logger.flush();
    assert_eq!(step, 1200, "training went on");
    assert!(full.error_count > 0, "{full:?}");
    assert!(
        full.errors
            .iter()
            .any(|e| e.contains(&*run.to_string_lossy()) && e.contains("No space left")),
        "{full:?}"
    );
    // Phase 2: space is freed; what was buffered and a few new rows go out.
    std::fs::remove_file(&filler).unwrap();
    logger.on_train_epoch_start(60);
    for _ in 0..3 {
        drop(logger.step(step));
        step += 1;
    }
    logger.on_train_epoch_end(60);
    let report = logger.close();
    assert!(
        report.written > 0 && report.error_count >= full.error_count,
        "{report:?}"
    );
    eprintln!("disk full: {full}\nat the end: {report}");

    // Every record of the event file is whole, both CRCs right, in order:
    // no partly written record in the middle, whatever the disk did.
    let events = nvitop::testing::tensorboard::event_files(&run).unwrap();
    let bytes = std::fs::read(&events[0]).unwrap();
    let records = nvitop::testing::tensorboard::parse_records(&bytes)
        .unwrap_or_else(|bad| panic!("{} is damaged: {bad:?}", events[0].display()));
    let steps: Vec<i64> = records
        .iter()
        .map(|r| nvitop::testing::tensorboard::proto::Event::decode(*r).unwrap().step)
        .collect();
    assert!(steps.len() > 10, "{steps:?}");
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    assert_eq!(steps.last(), Some(&1202), "the rows after the space came back");
    // Every CSV line is whole and has the header's columns.
    let text = std::fs::read_to_string(run.join("gpu.csv")).unwrap();
    assert!(text.ends_with('\n'));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().len(), keys.len() + 4);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(rows.iter().all(|r| r.len() == keys.len() + 4));
    assert_eq!(rows.last().map(|r| r[1].to_owned()), Some("1202".to_owned()));
    drop(disk);
}

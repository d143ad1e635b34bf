//! burn's metric events drive the logger's validation hooks, so the
//! process's published training status says `validation` while burn
//! validates and `train` again after: `GpuStatsMetricLogger` is fed the
//! events burn's event store sends it (a training batch, a validation
//! batch, the validation summary), and the status record is read back.
//! One test in this binary: it points `XDG_RUNTIME_DIR` at a temp dir.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::MemorySink;
use nvitop::training::{Phase, TrainingRecord, read_dir_records};
use nvitop_burn::GpuStatsMetricLogger;

/// Polls the status directory until `done` holds (the record is rewritten
/// at most once a second).
fn wait_for(what: &str, dir: &std::path::Path, done: impl Fn(&TrainingRecord) -> bool) -> TrainingRecord {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records = read_dir_records(dir);
        if let [record] = records.as_slice()
            && done(record)
        {
            return record.clone();
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {records:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn batch() -> MetricsUpdate {
    MetricsUpdate::new(Vec::new(), Vec::new())
}

#[test]
fn burns_validation_shows_in_the_published_phase() {
    let runtime = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary, run before any thread of ours
    // reads the environment.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", runtime.path()) };
    let dir = runtime.path().join("nvitop");

    let logger = Arc::new(
        GpuStatsLogger::builder(&[0])
            .backend(Arc::new(SimBackend::default_machine()))
            .sink(Box::new(MemorySink::new()))
            .build()
            .unwrap(),
    );
    let mut events = GpuStatsMetricLogger::new(Arc::clone(&logger));
    for _ in 0..3 {
        events.log(batch(), 1, &Split::Train);
    }
    events.log_epoch_summary(EpochSummary::new(1, Split::Train));
    let training = wait_for("the training record", &dir, |r| r.step == 2);
    assert_eq!(training.phase, Phase::Train);

    // The first validation batch: validation has started.
    events.log(batch(), 1, &Split::Valid);
    let validating = wait_for("the validation record", &dir, |r| r.phase == Phase::Validation);
    assert_eq!(validating.step, 2, "the step stays the last training step");
    events.log(batch(), 1, &Split::Valid);

    // The validation summary ends it.
    events.log_epoch_summary(EpochSummary::new(1, Split::Valid));
    wait_for("training again", &dir, |r| r.phase == Phase::Train);

    drop(events);
    logger.on_train_end();
    wait_for("the done record", &dir, |r| r.phase == Phase::Done);
    Arc::try_unwrap(logger).unwrap().close();
    assert!(read_dir_records(&dir).is_empty(), "closing removes the record");
}

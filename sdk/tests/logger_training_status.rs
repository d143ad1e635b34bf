//! The logger publishes its process's training status from the sink
//! thread: the record follows the steps, says `validation` between the
//! validation hooks, `done` at train end and is gone after close; `training_status(false)` writes nothing.
//! One test in this binary: it points `XDG_RUNTIME_DIR` at a temp dir.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::MemorySink;
use nvitop::training::{Phase, read_dir_records};

fn wait_for(what: &str, dir: &std::path::Path, done: impl Fn(&[nvitop::training::TrainingRecord]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(&read_dir_records(dir)) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            read_dir_records(dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_logger_publishes_progress_and_removes_it_at_close() {
    let runtime = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary, run before any thread of ours
    // reads the environment.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", runtime.path()) };
    let dir = runtime.path().join("nvitop");

    let logger = GpuStatsLogger::builder(&[0, 1])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(MemorySink::new()))
        .build()
        .unwrap();
    logger.on_train_start();
    logger.on_train_epoch_start(0);
    for step in 1..=5 {
        drop(logger.step(step));
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_for("the step-5 record", &dir, |r| r.len() == 1 && r[0].step == 5);
    let record = read_dir_records(&dir).remove(0);
    assert_eq!(record.pid, std::process::id());
    assert_eq!(record.gpus, vec![0, 1]);
    assert_eq!(record.epoch, Some(0));
    assert_eq!(record.phase, Phase::Train);

    // Validation: the record says so between its hooks, and `train` again
    // after (the publisher writes at most once a second: wait for it).
    logger.on_validation_start();
    wait_for("the validation record", &dir, |r| {
        r.len() == 1 && r[0].phase == Phase::Validation
    });
    assert_eq!(read_dir_records(&dir)[0].step, 5, "validation keeps the step");
    logger.on_validation_end();
    wait_for("the record back in training", &dir, |r| {
        r.len() == 1 && r[0].phase == Phase::Train
    });
    // A loop that never calls on_validation_end: the next step ends it.
    logger.on_validation_start();
    wait_for("the second validation record", &dir, |r| {
        r.len() == 1 && r[0].phase == Phase::Validation
    });
    drop(logger.step(6));
    wait_for("the step-6 training record", &dir, |r| {
        r.len() == 1 && r[0].phase == Phase::Train && r[0].step == 6
    });
    logger.on_train_end();
    wait_for("the done record", &dir, |r| r.len() == 1 && r[0].phase == Phase::Done);
    logger.close();
    assert!(read_dir_records(&dir).is_empty(), "closing removes the record");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

    let quiet = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(MemorySink::new()))
        .training_status(false)
        .build()
        .unwrap();
    drop(quiet.step(1));
    quiet.flush();
    assert!(read_dir_records(&dir).is_empty(), "opted out: nothing written");
    quiet.close();

    // With the energy keys on, the record carries the energy per step.
    let sim = SimBackend::default_machine();
    sim.follow_wall_clock();
    let measured = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(sim))
        .sink(Box::new(MemorySink::new()))
        .interval(Duration::from_millis(20))
        .energy(true)
        .build()
        .unwrap();
    for step in 1..=40 {
        let _step = measured.step(step);
        std::thread::sleep(Duration::from_millis(5));
    }
    wait_for("a record with energy per step", &dir, |r| {
        r.len() == 1 && r[0].energy_per_step_joules.is_some_and(|j| j > 0.0)
    });
    measured.close();
    assert!(read_dir_records(&dir).is_empty());
}

//! GpuStatsLogger's files, read back by our own strict reader (framing and
//! both CRCs of every record) and, when asked for, by TensorBoard's own
//! `EventAccumulator` and Python's `csv` module — also after the writing
//! process was killed with SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::{MemorySink, RecordKind};
use nvitop::testing::tensorboard::parse_records;
use nvitop::testing::tensorboard::proto::{Event, Value, What};
use nvitop_tests::{conformance_python, run_python};
use prost::Message;

fn event_file(dir: &Path) -> PathBuf {
    nvitop::testing::tensorboard::event_files(dir)
        .unwrap()
        .into_iter()
        .next()
        .expect("an event file")
}

/// Decodes every event; a bad record in the middle fails, a cut-short tail
/// (a killed writer) is tolerated and reported.
fn decode(path: &Path) -> (Vec<Event>, bool) {
    let bytes = std::fs::read(path).unwrap();
    let (records, truncated) = match parse_records(&bytes) {
        Ok(records) => (records, false),
        Err(bad) => {
            assert!(bad.reason.starts_with("truncated"), "corrupt record mid-file: {bad:?}");
            (
                parse_records(&bytes[..usize::try_from(bad.offset).unwrap()]).unwrap(),
                true,
            )
        }
    };
    (
        records.into_iter().map(|r| Event::decode(r).unwrap()).collect(),
        truncated,
    )
}

/// tag -> [(step, value)] from decoded events.
fn scalars(events: &[Event]) -> BTreeMap<String, Vec<(i64, f32)>> {
    let mut out: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for event in events {
        assert!(event.wall_time.is_finite() && event.wall_time > 1.6e9);
        if let Some(What::Summary(summary)) = &event.what {
            for v in &summary.value {
                if let Some(Value::SimpleValue(x)) = v.value {
                    out.entry(v.tag.clone()).or_default().push((event.step, x));
                }
            }
        }
    }
    out
}

#[test]
fn logger_files_match_what_was_logged() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemorySink::new();
    let rows = memory.handle();
    let sim = SimBackend::default_machine();
    sim.set_time(42.0);
    let logger = GpuStatsLogger::builder_for_physical_indices(&[0, 1])
        .backend(Arc::new(sim))
        .sink(Box::new(memory))
        .tensorboard(dir.path().join("run"))
        .csv(dir.path().join("run/gpu_stats.csv"))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .build()
        .unwrap();
    logger.on_train_start();
    for epoch in 0..2 {
        logger.on_train_epoch_start(epoch);
        for i in 0..5 {
            let _s = logger.step(epoch * 5 + i);
        }
        logger.on_train_epoch_end(epoch);
    }
    logger.on_train_end();
    let keys = logger.keys().to_vec();
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");

    // What the memory sink saw is what every file holds, one point per tag
    // and step: the batch end's value where batch start and end both have one.
    let expected = one_point_per_step(&rows.records());
    let (events, truncated) = decode(&event_file(&dir.path().join("run")));
    assert!(!truncated);
    assert_eq!(events[0].what, Some(What::FileVersion("brain.Event:2".into())));
    assert_eq!(scalars(&events), expected);
    assert!(expected.contains_key("gpu_id: 1/temperature.gpu (C)"));
    assert_eq!(expected["batch_time/intra_step (ms)"].len(), 10);
    assert_eq!(expected["batch_time/inter_step (ms)"].len(), 8);

    let mut csv = csv::Reader::from_path(dir.path().join("run/gpu_stats.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..4], ["wall_time", "step", "epoch", "kind"]);
    assert_eq!(&header[4..], &keys[..]);
    assert_eq!(csv.records().count(), rows.len());

    let Some(python) = conformance_python() else {
        eprintln!("skipped the Python readers: set NVITOP_CONFORMANCE_PYTHON (see .ci/conformance)");
        return;
    };
    let expect: BTreeMap<&String, Vec<(i64, f64)>> = expected
        .iter()
        .map(|(k, v)| (k, v.iter().map(|&(s, x)| (s, f64::from(x))).collect()))
        .collect();
    run_python(
        &python,
        "read_tensorboard.py",
        &[
            dir.path().as_os_str(),
            "--expect".as_ref(),
            serde_json::to_string(&expect).unwrap().as_ref(),
        ],
    );
    let out = run_python(
        &python,
        "read_csv.py",
        &[dir.path().join("run/gpu_stats.csv").as_os_str()],
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["rows"].as_array().unwrap().len(), rows.len());
    assert_eq!(parsed["header"].as_array().unwrap().len(), keys.len() + 4);
}

/// tag -> [(step, value)] as TensorBoard serves them: one point per tag and
/// step, a batch end's value replacing its batch start's.
fn one_point_per_step(rows: &[nvitop::sink::OwnedRecord]) -> BTreeMap<String, Vec<(i64, f32)>> {
    let mut by_step: BTreeMap<(String, i64), f32> = BTreeMap::new();
    for row in rows {
        for (k, v) in &row.values {
            let key = (k.clone(), i64::try_from(row.step).unwrap());
            if row.kind != RecordKind::BatchStart || !by_step.contains_key(&key) {
                by_step.insert(key, *v as f32);
            }
        }
    }
    let mut out: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for ((tag, step), v) in by_step {
        out.entry(tag).or_default().push((step, v));
    }
    out
}

/// A run with `log_every_n_steps(10)` and the loss through `log_scalar`:
/// TensorBoard's own loader serves exactly the points written per tag, and
/// pandas reads the CSV (with its `kind` column) and the side file of
/// undeclared scalars back.
#[test]
fn a_run_with_a_cadence_and_scalars_reads_back_in_tensorboard_and_pandas() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemorySink::new();
    let rows = memory.handle();
    let sim = SimBackend::default_machine();
    sim.set_time(42.0);
    let logger = GpuStatsLogger::builder_for_physical_indices(&[0])
        .backend(Arc::new(sim))
        .sink(Box::new(memory))
        .tensorboard(dir.path().join("run"))
        .csv(dir.path().join("gpu.csv"))
        .intra_step_time(true)
        .inter_step_time(true)
        .epoch_time(true)
        .log_every_n_steps(10)
        .scalars(&["train/loss"])
        .build()
        .unwrap();
    logger.on_train_start();
    for epoch in 0..2_u64 {
        logger.on_train_epoch_start(epoch);
        for i in 0..50 {
            let step = epoch * 50 + i;
            drop(logger.step(step));
            logger.log_scalar("train/loss", 1.0 / (step as f64 + 1.0), step);
            if step % 25 == 0 {
                logger.log_scalar("train/lr", 0.1 / (step as f64 + 1.0), step);
            }
        }
        logger.on_validation_start();
        logger.on_validation_end();
        logger.on_train_epoch_end(epoch);
    }
    logger.on_train_end();
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");
    let records = rows.records();
    let expected = one_point_per_step(&records);
    assert_eq!(expected["train/loss"].len(), 100);
    assert_eq!(expected["gpu_id: 0/utilization.gpu (%)"].len(), 10);
    assert_eq!(expected["batch_time/intra_step.max (ms)"].len(), 10);
    let (events, _) = decode(&event_file(&dir.path().join("run")));
    assert_eq!(scalars(&events), expected);

    let Some(python) = conformance_python() else {
        eprintln!("skipped the Python readers: set NVITOP_CONFORMANCE_PYTHON (see .ci/conformance)");
        return;
    };
    let expect: BTreeMap<&String, Vec<(i64, f64)>> = expected
        .iter()
        .map(|(k, v)| (k, v.iter().map(|&(s, x)| (s, f64::from(x))).collect()))
        .collect();
    run_python(
        &python,
        "read_tensorboard.py",
        &[
            dir.path().join("run").as_os_str(),
            "--expect".as_ref(),
            serde_json::to_string(&expect).unwrap().as_ref(),
        ],
    );
    let out = run_python(
        &python,
        "read_logger_csv.py",
        &[
            dir.path().join("gpu.csv").as_os_str(),
            dir.path().join("gpu.scalars.csv").as_os_str(),
        ],
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["columns"][3], "kind");
    assert_eq!(
        parsed["rows"],
        records
            .iter()
            .filter(|r| r.values.keys().any(|k| k != "train/lr"))
            .count()
    );
    assert_eq!(
        parsed["kinds"],
        serde_json::json!({"batch_start": 10, "batch_end": 10, "validation_end": 2, "epoch_end": 2, "scalar": 100})
    );
    assert_eq!(parsed["dtypes"]["gpu_id: 0/utilization.gpu (%)"], "float64");
    let loss: Vec<(i64, f64)> = parsed["scalars"]["train/loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    assert_eq!(loss, (0..100).map(|s| (s, 1.0 / (s as f64 + 1.0))).collect::<Vec<_>>());
    let side: Vec<(i64, String, f64)> = parsed["side"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_i64().unwrap(),
                p[1].as_str().unwrap().to_owned(),
                p[2].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        side,
        [0, 25, 50, 75].map(|s| (s, "train/lr".to_owned(), 0.1 / (s as f64 + 1.0)))
    );
}

#[test]
fn files_of_a_killed_trainer_are_readable_up_to_the_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_killable_trainer"))
        .arg(&run)
        .arg("2")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last_flushed = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        last_flushed = line.split_whitespace().nth(1).unwrap().parse::<i64>().unwrap();
        if last_flushed >= 29 {
            break;
        }
    }
    // SIGKILL: no destructor, no flush, possibly in the middle of a write.
    child.kill().unwrap();
    child.wait().unwrap();

    let (events, _truncated) = decode(&event_file(&run));
    let steps: Vec<i64> = scalars(&events)["batch_time/intra_step (ms)"]
        .iter()
        .map(|&(s, _)| s)
        .collect();
    assert!(steps.len() >= 30, "{steps:?}");
    assert_eq!(steps[..30], (0..30).collect::<Vec<_>>()[..]);
    assert!(last_flushed >= 29);

    tensorboard_reads_the_first_30_steps(&run);
}

#[test]
fn files_of_a_killed_trainer_are_readable_without_an_explicit_flush() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_killable_trainer"))
        .arg(&run)
        .arg("2")
        .arg("--no-flush")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The trainer never calls flush(): the logger's own flushing (at each
    // epoch end, and every 2 s) must bring the rows to disk while it runs.
    let intra_steps = |run: &Path| -> Vec<i64> {
        let Ok(files) = nvitop::testing::tensorboard::event_files(run) else {
            return Vec::new();
        };
        let Some(file) = files.first() else { return Vec::new() };
        scalars(&decode(file).0)
            .remove("batch_time/intra_step (ms)")
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while intra_steps(&run).len() < 30 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGKILL mid-run: the trainer is still stepping, maybe mid-write.
    child.kill().unwrap();
    child.wait().unwrap();

    let steps = intra_steps(&run);
    assert!(steps.len() >= 30, "only {} steps on disk: {steps:?}", steps.len());
    assert_eq!(steps[..30], (0..30).collect::<Vec<_>>()[..]);

    tensorboard_reads_the_first_30_steps(&run);
}

/// TensorBoard's own reader (when the conformance Python is there) sees the
/// intra-step times of steps 0..30 of a killed trainer's run.
fn tensorboard_reads_the_first_30_steps(run: &Path) {
    let Some(python) = conformance_python() else {
        eprintln!("skipped the Python readers: set NVITOP_CONFORMANCE_PYTHON (see .ci/conformance)");
        return;
    };
    let out = run_python(&python, "read_tensorboard.py", &[run.as_os_str()]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen = summary["runs"]["."]["batch_time/intra_step (ms)"].as_array().unwrap();
    assert!(seen.len() >= 30, "TensorBoard saw {} intra-step points", seen.len());
    let tb_steps: Vec<i64> = seen.iter().take(30).map(|p| p[0].as_i64().unwrap()).collect();
    assert_eq!(tb_steps, (0..30).collect::<Vec<_>>());
}

/// The energy and MFU tags (issue 16) read back in TensorBoard's own
/// loader, point for point as the logger computed them.
#[test]
fn energy_and_mfu_tags_read_back_in_tensorboard() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemorySink::new();
    let rows = memory.handle();
    let sim = SimBackend::default_machine();
    sim.follow_wall_clock();
    let logger = GpuStatsLogger::builder_for_physical_indices(&[0])
        .backend(Arc::new(sim))
        .sink(Box::new(memory))
        .tensorboard(dir.path().join("run"))
        .interval(std::time::Duration::from_millis(20))
        .energy(true)
        .model_flops_per_step(5e11)
        .training_status(false)
        .build()
        .unwrap();
    logger.on_train_start();
    logger.on_train_epoch_start(0);
    for step in 0..20 {
        let _step = logger.step(step);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    logger.on_train_end();
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");
    let expected = one_point_per_step(&rows.records());
    for tag in [
        "gpu_id: 0/energy.step (J)",
        "gpu_id: 0/energy.total (J)",
        "mfu (%)",
        "throughput (TFLOP/s)",
    ] {
        assert_eq!(expected[tag].len(), 20, "{tag}");
    }
    let (events, _) = decode(&event_file(&dir.path().join("run")));
    assert_eq!(scalars(&events), expected);

    let Some(python) = conformance_python() else {
        eprintln!("skipped the Python readers: set NVITOP_CONFORMANCE_PYTHON (see .ci/conformance)");
        return;
    };
    let expect: BTreeMap<&String, Vec<(i64, f64)>> = expected
        .iter()
        .map(|(k, v)| (k, v.iter().map(|&(s, x)| (s, f64::from(x))).collect()))
        .collect();
    run_python(
        &python,
        "read_tensorboard.py",
        &[
            dir.path().join("run").as_os_str(),
            "--expect".as_ref(),
            serde_json::to_string(&expect).unwrap().as_ref(),
        ],
    );
}

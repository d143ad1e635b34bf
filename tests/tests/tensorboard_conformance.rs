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
use nvitop::sink::MemorySink;
use nvitop::sink::tensorboard::proto::{Event, Value, What};
use nvitop::sink::tensorboard::record::parse_records;
use nvitop_tests::{conformance_python, run_python};
use prost::Message;

fn event_file(dir: &Path) -> PathBuf {
    nvitop::sink::tensorboard::event_files(dir)
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
    let logger = GpuStatsLogger::builder(&[0, 1])
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

    // What the memory sink saw is what every file holds.
    let mut expected: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for row in rows.records() {
        for (k, v) in &row.values {
            expected
                .entry(k.clone())
                .or_default()
                .push((i64::try_from(row.step).unwrap(), *v as f32));
        }
    }
    let (events, truncated) = decode(&event_file(&dir.path().join("run")));
    assert!(!truncated);
    assert_eq!(events[0].what, Some(What::FileVersion("brain.Event:2".into())));
    assert_eq!(scalars(&events), expected);
    assert!(expected.contains_key("gpu_id: 1/temperature.gpu (C)"));
    assert_eq!(expected["batch_time/intra_step (ms)"].len(), 10);
    assert_eq!(expected["batch_time/inter_step (ms)"].len(), 8);

    let mut csv = csv::Reader::from_path(dir.path().join("run/gpu_stats.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..3], ["wall_time", "step", "epoch"]);
    assert_eq!(&header[3..], &keys[..]);
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
    assert_eq!(parsed["header"].as_array().unwrap().len(), keys.len() + 3);
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
        let Ok(files) = nvitop::sink::tensorboard::event_files(run) else {
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

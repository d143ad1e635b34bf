//! The logger as the run's one logger: the user's own scalars, a `kind`
//! on every row, one TensorBoard point per tag and step, a logging cadence
//! that folds the skipped steps' times, and warnings for metrics a device
//! cannot report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::{MemorySink, RecordKind};
use nvitop::testing::tensorboard::proto::{Event, Value, What};
use nvitop::testing::tensorboard::{event_files, read_records};
use prost::Message as _;

fn sim() -> Arc<SimBackend> {
    Arc::new(SimBackend::default_machine())
}

/// Every (tag, step) → how many values the event files hold for it.
fn points(run: &Path) -> BTreeMap<(String, i64), Vec<f32>> {
    let mut points = BTreeMap::<(String, i64), Vec<f32>>::new();
    for file in event_files(run).unwrap() {
        for data in read_records(&file).unwrap() {
            let event = Event::decode(data.as_slice()).unwrap();
            if let Some(What::Summary(summary)) = event.what {
                for value in summary.value {
                    let Some(Value::SimpleValue(v)) = value.value else {
                        continue;
                    };
                    points.entry((value.tag, event.step)).or_default().push(v);
                }
            }
        }
    }
    points
}

#[test]
fn scalars_reach_tensorboard_the_csv_columns_and_the_side_file() {
    let dir = tempfile::tempdir().unwrap();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .csv(dir.path().join("gpu.csv"))
        .tensorboard(dir.path().join("tb"))
        .scalars(&["train/loss"])
        .build()
        .unwrap();
    for step in 0..3 {
        drop(logger.step(step));
        logger.log_scalars(
            &[("train/loss", 1.0 / (step as f64 + 1.0)), ("train/lr, warm", 0.1)],
            step,
        );
    }
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");
    let points = points(&dir.path().join("tb"));
    for step in 0..3 {
        assert_eq!(points[&("train/loss".to_owned(), step)], [1.0 / (step as f32 + 1.0)]);
        assert_eq!(points[&("train/lr, warm".to_owned(), step)], [0.1]);
    }
    let mut csv = csv::Reader::from_path(dir.path().join("gpu.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..4], ["wall_time", "step", "epoch", "kind"]);
    assert_eq!(header.last().unwrap(), "train/loss");
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| &r[3]).collect();
    assert_eq!(
        kinds,
        [
            "batch_start",
            "batch_end",
            "scalar",
            "batch_start",
            "batch_end",
            "scalar",
            "batch_start",
            "batch_end",
            "scalar"
        ]
    );
    assert_eq!(&rows[5][header.len() - 1], "0.5");
    let mut side = csv::Reader::from_path(dir.path().join("gpu.scalars.csv")).unwrap();
    assert_eq!(side.headers().unwrap(), vec!["wall_time", "step", "tag", "value"]);
    let side: Vec<(String, String, String)> = side
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_owned(), r[2].to_owned(), r[3].to_owned())
        })
        .collect();
    assert_eq!(side.len(), 3);
    assert_eq!(side[2], ("2".to_owned(), "train/lr, warm".to_owned(), "0.1".to_owned()));
}

#[test]
fn a_tag_that_cannot_travel_inline_is_refused_and_counted() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .sink(Box::new(sink))
        .build()
        .unwrap();
    let long = "x".repeat(nvitop::logger::MAX_SCALAR_TAG + 1);
    logger.log_scalar(&long, 1.0, 0);
    logger.log_scalars(&[("", 2.0), ("ok", 3.0)], 1);
    let report = logger.close();
    assert_eq!(report.rejected, 2, "{report:?}");
    assert!(!report.is_clean());
    assert!(report.to_string().contains("2 scalars refused"), "{report}");
    let rows = rows.records();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].kind, rows[0].get("ok")), (RecordKind::Scalar, Some(3.0)));
}

#[test]
fn every_row_says_what_produced_it() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .sink(Box::new(sink))
        .epoch_time(true)
        .build()
        .unwrap();
    logger.on_train_epoch_start(0);
    drop(logger.step(0));
    logger.on_validation_start();
    logger.on_validation_end();
    logger.on_train_epoch_end(0);
    logger.log_scalar("loss", 1.0, 0);
    logger.close();
    let kinds: Vec<RecordKind> = rows.records().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::BatchStart,
            RecordKind::BatchEnd,
            RecordKind::ValidationEnd,
            RecordKind::EpochEnd,
            RecordKind::Scalar
        ]
    );
}

#[test]
fn tensorboard_gets_one_point_per_tag_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .tensorboard(dir.path())
        .intra_step_time(true)
        .inter_step_time(true)
        .build()
        .unwrap();
    for step in 0..50 {
        drop(logger.step(step));
        logger.log_scalar("loss", step as f64, step);
    }
    assert!(logger.close().is_clean());
    let points = points(dir.path());
    // Batch start and batch end of a step share one event: no tag has two values at a step.
    assert!(points.values().all(|v| v.len() == 1), "{points:?}");
    let steps_of = |tag: &str| points.keys().filter(|(t, _)| t == tag).count();
    assert_eq!(steps_of("gpu_id: 0/utilization.gpu (%)"), 50);
    assert_eq!(steps_of("batch_time/intra_step (ms)"), 50);
    // The inter-step time exists only at batch starts, from the second step on: kept.
    assert_eq!(steps_of("batch_time/inter_step (ms)"), 49);
    assert_eq!(steps_of("loss"), 50);
}

#[test]
fn every_n_steps_logs_one_row_per_window_with_the_window_s_mean_and_max() {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .sink(Box::new(sink))
        .intra_step_time(true)
        .inter_step_time(true)
        .log_every_n_steps(10)
        .build()
        .unwrap();
    assert!(logger.keys().contains(&"batch_time/intra_step.max (ms)".to_owned()));
    assert!(logger.keys().contains(&"batch_time/inter_step.max (ms)".to_owned()));
    for step in 0..30 {
        let guard = logger.step(step);
        // One slow step in the second window (steps 10 to 19), never logged itself.
        if step == 14 {
            std::thread::sleep(Duration::from_millis(40));
        }
        drop(guard);
    }
    logger.close();
    let rows = rows.records();
    let ends: Vec<_> = rows.iter().filter(|r| r.kind == RecordKind::BatchEnd).collect();
    assert_eq!(ends.iter().map(|r| r.step).collect::<Vec<_>>(), [9, 19, 29]);
    let starts: Vec<u64> = rows
        .iter()
        .filter(|r| r.kind == RecordKind::BatchStart)
        .map(|r| r.step)
        .collect();
    assert_eq!(starts, [9, 19, 29]);
    let max = ends[1].get("batch_time/intra_step.max (ms)").unwrap();
    let mean = ends[1].get("batch_time/intra_step (ms)").unwrap();
    // The slow step's time is in the window's maximum, and a tenth of it in the mean.
    assert!(max >= 40.0, "max {max}");
    assert!(mean >= 4.0 && mean < max, "mean {mean}, max {max}");
    assert!(ends[0].get("batch_time/intra_step.max (ms)").unwrap() < 40.0);
    assert!(ends[2].get("batch_time/intra_step.max (ms)").unwrap() < 40.0);
    assert!(ends.iter().all(|r| r.get("gpu_id: 0/utilization.gpu (%)").is_some()));
}

#[test]
fn a_metric_a_mig_gpu_cannot_report_is_warned_about_and_listed_in_the_report() {
    // Physical GPU 0 is a full GPU; GPU 1 an A100 in MIG mode.
    let logger = GpuStatsLogger::builder_for_physical_indices(&[0, 1])
        .backend(sim())
        .sink(Box::new(MemorySink::new()))
        .process_memory(true)
        .build()
        .unwrap();
    let warnings = logger.warnings().to_vec();
    assert!(!warnings.iter().any(|w| w.starts_with("gpu_id: 0/")), "{warnings:?}");
    for metric in [
        "utilization.gpu (%)",
        "utilization.memory (%)",
        "process.memory.used (MiB)",
    ] {
        let warning = warnings
            .iter()
            .find(|w| w.starts_with(&format!("gpu_id: 1/{metric}")))
            .unwrap_or_else(|| panic!("no warning for {metric}: {warnings:?}"));
        assert!(warning.contains("MIG mode"), "{warning}");
    }
    let report = logger.close();
    assert_eq!(report.warnings, warnings);
    assert!(report.is_clean(), "warnings are not failures: {report:?}");
}

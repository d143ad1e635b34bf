//! Trains the example's model for real (libtorch on the CPU) with the
//! simulator as the GPU backend, then reads back what the logger wrote: the
//! TensorBoard event file record by record (both CRCs checked) and the CSV.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[allow(dead_code)]
#[path = "../examples/tch_mnist_like.rs"]
mod example;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use nvitop::backend::sim::SimBackend;
use nvitop::testing::tensorboard::proto::{Event, What};
use nvitop::testing::tensorboard::read_records;
use prost::Message;

#[path = "../../test-support/cuda_visible_rerun.rs"]
mod cuda_visible_rerun;
use cuda_visible_rerun::rerun_without_cuda_visible_devices;

fn event_file(dir: &Path) -> std::path::PathBuf {
    nvitop::testing::tensorboard::event_files(dir)
        .unwrap()
        .into_iter()
        .next()
        .expect("an event file")
}

fn tags_and_steps(path: &Path) -> (BTreeSet<String>, BTreeSet<i64>) {
    let mut tags = BTreeSet::new();
    let mut steps = BTreeSet::new();
    let records = read_records(path).unwrap();
    for (i, record) in records.iter().enumerate() {
        let event = Event::decode(record.as_slice()).unwrap();
        match event.what {
            Some(What::FileVersion(version)) => assert_eq!((i, version.as_str()), (0, "brain.Event:2")),
            Some(What::Summary(summary)) => {
                steps.insert(event.step);
                tags.extend(summary.value.into_iter().map(|v| v.tag));
            }
            None => panic!("an event without payload"),
        }
    }
    (tags, steps)
}

#[test]
fn training_on_the_cpu_logs_simulated_gpu_statistics() {
    if rerun_without_cuda_visible_devices("training_on_the_cpu_logs_simulated_gpu_statistics") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let options = example::Options {
        steps: 8,
        logdir: run.clone(),
        batch_size: 32,
        device: tch::Device::Cpu,
        // The CPU is skipped; simulated cuda:0 (the H100) is logged. (cuda:1
        // would be a MIG device of the A100, which has no utilization.)
        logged: vec![tch::Device::Cpu, tch::Device::Cuda(0)],
        backend: Some(Arc::new(SimBackend::default_machine())),
        // After steps 4 and 8 (steps 3 and 7, counted from 0).
        validate_every: 4,
        inline_panel: false,
    };
    let outcome = example::train(&options).unwrap();
    assert!(outcome.report.is_clean(), "{:?}", outcome.report);
    // 8 steps x (start + end + the loss), and the 2 validation passes'
    // accuracy; the epoch, validation and train ends have no value of their
    // own (epoch_time is off) and write no rows.
    assert_eq!(outcome.report.written, 26);
    assert!(outcome.first_loss.is_finite() && outcome.last_loss.is_finite());

    let (tags, steps) = tags_and_steps(&event_file(&run));
    for expected in [
        "gpu_id: 0/utilization.gpu (%)",
        "gpu_id: 0/memory.used (MiB)",
        "gpu_id: 0/memory.free (MiB)",
        "gpu_id: 0/utilization.memory (%)",
        "gpu_id: 0/temperature.gpu (C)",
        "gpu_id: 0/power.draw (W)",
        "batch_time/intra_step (ms)",
        "batch_time/inter_step (ms)",
        "train/loss",
        "validation/accuracy",
    ] {
        assert!(tags.contains(expected), "missing tag {expected:?} in {tags:?}");
    }
    assert!(
        !tags
            .iter()
            .any(|t| t.starts_with("gpu_id: 1") || t.starts_with("gpu_id: 2")),
        "only the CUDA device in use is logged: {tags:?}"
    );
    assert_eq!(steps, (0..8).collect());

    let mut reader = csv::Reader::from_path(run.join("gpu.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    for expected in ["step", "gpu_id: 0/utilization.gpu (%)", "batch_time/intra_step (ms)"] {
        assert!(
            header.iter().any(|h| h == expected),
            "missing column {expected:?} in {header:?}"
        );
    }
    let rows = reader.records().count();
    assert_eq!(rows, 16);
    // The loss is not a declared column: it is in the side file, one row a step.
    let side = std::fs::read_to_string(run.join("gpu.scalars.csv")).unwrap();
    assert_eq!(side.lines().filter(|l| l.contains(",train/loss,")).count(), 8, "{side}");
    let validation: Vec<&str> = side.lines().filter(|l| l.contains(",validation/accuracy,")).collect();
    assert_eq!(validation.len(), 2, "{side}");
    // wall_time,step,tag,value: at the steps they followed, an accuracy.
    for (line, step) in validation.iter().zip(["3", "7"]) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[1], step, "{line}");
        let accuracy: f64 = cells[3].parse().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{line}");
    }
}

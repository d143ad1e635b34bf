//! Trains the example's MLP through burn's `Learner` (flex CPU backend,
//! plain-text renderer, no application logger) with the simulator as the
//! GPU backend, then reads back burn's own metric logs and nvitop's
//! TensorBoard event file (both CRCs checked) and CSV.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[allow(dead_code)]
#[path = "../examples/burn_mlp.rs"]
mod example;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use nvitop::backend::sim::SimBackend;

mod common;
use common::{burn_log, gpu_metric_files};
#[path = "../../test-support/cuda_visible_rerun.rs"]
mod cuda_visible_rerun;
use cuda_visible_rerun::rerun_without_cuda_visible_devices;

fn tensorboard_tags(dir: &Path) -> BTreeSet<String> {
    nvitop::testing::tensorboard::scalar_tags(dir).unwrap()
}

#[test]
fn learner_logs_gpu_metrics_to_burn_and_nvitop_sinks() {
    if rerun_without_cuda_visible_devices("learner_logs_gpu_metrics_to_burn_and_nvitop_sinks") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = example::Options {
        epochs: 2,
        logdir: dir.path().to_path_buf(),
        // cuda:0 is the simulated H100 (cuda:1 would be a MIG device, which
        // reports memory only).
        cuda: 0,
        backend: Some(Arc::new(SimBackend::default_machine())),
        inline_panel: false,
    };
    let outcome = example::train(&options).unwrap();
    assert!(outcome.gpu_stats);
    let report = outcome.report.unwrap();
    assert!(report.is_clean(), "{report:?}");
    // 2 epochs x 16 batches, plus epoch and validation ends.
    assert!(report.written >= 32, "{report:?}");

    // burn's own logs: the loss and one file per GPU metric, per split and epoch.
    for split in ["train", "valid"] {
        for epoch in [1, 2] {
            let folder = dir.path().join(split).join(format!("epoch-{epoch}"));
            assert!(!burn_log(&folder.join("Loss.log")).is_empty());
            for metric in [
                "GPU_0_Utilization",
                "GPU_0_Memory_Used",
                "GPU_0_Temperature",
                "GPU_0_Power",
            ] {
                let values = burn_log(&folder.join(format!("{metric}.log")));
                assert!(!values.is_empty(), "{split}/{epoch}/{metric}");
                assert!(
                    values.iter().all(|v| v.is_finite() && *v >= 0.0),
                    "{metric}: {values:?}"
                );
            }
            let memory = burn_log(&folder.join("GPU_0_Memory_Used.log"));
            assert!(
                memory.iter().all(|&mib| mib > 100.0),
                "simulated GPU 0 has memory in use: {memory:?}"
            );
        }
    }

    // nvitop's TensorBoard file and CSV.
    let tags = tensorboard_tags(&dir.path().join("nvitop"));
    for expected in [
        "gpu_id: 0/utilization.gpu (%)",
        "gpu_id: 0/memory.used (MiB)",
        "gpu_id: 0/temperature.gpu (C)",
        "gpu_id: 0/power.draw (W)",
        "epoch_time/train (ms)",
        "epoch_time/validation (ms)",
        // burn's own loss, passed through next to the GPU curves.
        "train/Loss",
        "valid/Loss",
    ] {
        assert!(tags.contains(expected), "missing tag {expected:?} in {tags:?}");
    }
    let mut reader = csv::Reader::from_path(dir.path().join("nvitop").join("gpu.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    for expected in [
        "wall_time",
        "step",
        "epoch",
        "gpu_id: 0/utilization.gpu (%)",
        "epoch_time/train (ms)",
    ] {
        assert!(
            header.iter().any(|h| h == expected),
            "missing column {expected:?} in {header:?}"
        );
    }
    let train_epoch = header.iter().position(|h| h == "epoch_time/train (ms)").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let steps: BTreeSet<u64> = records.iter().map(|r| r[1].parse::<u64>().unwrap()).collect();
    assert_eq!(
        steps,
        (0..32).collect(),
        "one row per training batch, steps across epochs"
    );
    // Each epoch-end row sits at that epoch's last batch, not at step 0.
    let epoch_ends: Vec<u64> = records
        .iter()
        .filter(|r| !r[train_epoch].is_empty())
        .map(|r| r[1].parse::<u64>().unwrap())
        .collect();
    assert_eq!(epoch_ends, [15, 31], "epoch-end rows' steps");
}

#[test]
fn without_the_gpu_training_goes_on_and_gpu_metrics_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let options = example::Options {
        epochs: 1,
        logdir: dir.path().to_path_buf(),
        // CUDA ordinal 9 does not exist on the simulated 4-GPU machine: the
        // same path as a machine without a driver.
        cuda: 9,
        backend: Some(Arc::new(SimBackend::default_machine())),
        inline_panel: false,
    };
    let outcome = example::train(&options).unwrap();
    assert!(!outcome.gpu_stats);
    assert!(outcome.report.is_none());
    let folder = dir.path().join("train").join("epoch-1");
    assert!(!burn_log(&folder.join("Loss.log")).is_empty());
    let gpu_files = gpu_metric_files(&folder);
    assert!(gpu_files.is_empty(), "N/A entries are not written: {gpu_files:?}");
    assert!(!dir.path().join("nvitop").exists());
}

//! burn's `Learner` on a machine without an NVIDIA driver (no
//! `libnvidia-ml.so.1`, no simulator): the GPU metrics report "not
//! available", burn writes no log files for them, nvitop's logger is not
//! built, and training goes on.
//!
//! The only test of this binary: it sets the environment before any other
//! thread of the process reads it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unsafe_code)]

#[allow(dead_code)]
#[path = "../examples/burn_mlp.rs"]
mod example;

use burn::train::metric::{Metric, MetricMetadata};
use nvitop::backend::nvml::NVML_LIBRARY_ENV;
use nvitop_burn::GpuStatsConfig;

mod common;
use common::{burn_log, gpu_metric_files};

#[test]
fn without_a_driver_the_metrics_are_not_available_and_training_goes_on() {
    // SAFETY: the only test in this binary, run before anything else here
    // starts a thread or reads the environment.
    unsafe {
        std::env::remove_var(nvitop::global::SIMULATE_ENV);
        std::env::set_var(NVML_LIBRARY_ENV, "/nonexistent/libnvidia-ml.so.1");
    }

    let stats = GpuStatsConfig::new().build();
    assert!(!stats.is_available());
    let reason = stats.unavailable_reason().unwrap();
    assert!(reason.contains("/nonexistent"), "{reason}");
    let mut metric = stats.metrics()[0].clone();
    assert_eq!(metric.name_str(), "GPU 0 Utilization");
    assert!(metric.description().unwrap().starts_with("not available"));
    let metadata = MetricMetadata {
        progress: burn::data::dataloader::Progress::new(1, 1, None),
        iteration: Some(0),
        lr: None,
    };
    assert!(metric.update(&(), &metadata).unwrap().is_not_available());

    let dir = tempfile::tempdir().unwrap();
    let outcome = example::train(&example::Options {
        epochs: 1,
        logdir: dir.path().to_path_buf(),
        cuda: 0,
        backend: None,
        inline_panel: false,
    })
    .unwrap();
    assert!(!outcome.gpu_stats);
    assert!(outcome.report.is_none());
    for split in ["train", "valid"] {
        let folder = dir.path().join(split).join("epoch-1");
        let values = burn_log(&folder.join("Loss.log"));
        assert!(!values.is_empty() && values.iter().all(|v| v.is_finite()), "{values:?}");
        let gpu_files = gpu_metric_files(&folder);
        assert!(gpu_files.is_empty(), "N/A entries are not written: {gpu_files:?}");
    }
    assert!(!dir.path().join("nvitop").exists());
}

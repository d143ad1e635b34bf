//! A CPU-only tch program on a machine without an NVIDIA driver (no
//! `libnvidia-ml.so.1`, no simulator): the logger for its devices still
//! builds and records step times; asking for a CUDA device's statistics is
//! an error that names the missing library.
//!
//! The only test of this binary: it sets the environment before any other
//! thread of the process reads it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unsafe_code)]

#[allow(dead_code)]
#[path = "../examples/tch_mnist_like.rs"]
mod example;

use nvitop::backend::nvml::NVML_LIBRARY_ENV;

#[test]
fn a_cpu_run_logs_step_times_without_a_driver() {
    // SAFETY: the only test in this binary, run before anything else here
    // starts a thread or reads the environment.
    unsafe {
        std::env::remove_var(nvitop::global::SIMULATE_ENV);
        std::env::set_var(NVML_LIBRARY_ENV, "/nonexistent/libnvidia-ml.so.1");
    }
    let no_driver = nvitop::default_backend().expect_err("no driver library here");
    assert!(no_driver.to_string().contains("/nonexistent"), "{no_driver}");

    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let outcome = example::train(&example::Options {
        steps: 4,
        logdir: run.clone(),
        batch_size: 8,
        device: tch::Device::Cpu,
        logged: vec![tch::Device::Cpu],
        backend: None,
        validate_every: 0,
        inline_panel: false,
    })
    .unwrap();
    assert!(outcome.report.is_clean(), "{:?}", outcome.report);
    // 4 steps x (start + end + the loss); the epoch and train ends have no
    // value of their own (epoch_time is off) and write no rows.
    assert_eq!(outcome.report.written, 12);
    let tags = nvitop::testing::tensorboard::scalar_tags(&run).unwrap();
    assert!(tags.contains("batch_time/intra_step (ms)"), "{tags:?}");
    assert!(tags.contains("train/loss"), "{tags:?}");
    assert!(!tags.iter().any(|t| t.starts_with("gpu_id")), "{tags:?}");
    let mut reader = csv::Reader::from_path(run.join("gpu.csv")).unwrap();
    assert_eq!(reader.records().count(), 8);

    // A CUDA device's statistics need the driver: the error says which library is missing.
    let err = nvitop_tch::logger_builder_for(&[tch::Device::Cuda(0)])
        .build()
        .expect_err("no driver for cuda:0");
    assert!(err.to_string().contains("/nonexistent"), "{err}");
}

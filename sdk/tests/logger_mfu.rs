//! MFU and throughput at batch end: the model FLOPs of a step over its
//! period, against the logged GPUs' dense peak.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::logger::{Precision, peak_tflops};
use nvitop::sink::{MemorySink, RecordKind};

/// Runs `steps` one-step epochs (so each step's period is its start to its
/// end, the same span as `batch_time/intra_step`) and returns each batch
/// end's (intra ms, throughput, mfu).
/// Each batch end's (intra-step ms, throughput, mfu).
type Ends = Vec<(f64, f64, Option<f64>)>;

fn run(builder: nvitop::logger::GpuStatsLoggerBuilder, flops: &[f64]) -> (Ends, Vec<String>) {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = builder
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(sink))
        .intra_step_time(true)
        .training_status(false)
        .build()
        .unwrap();
    let warnings = logger.warnings().to_vec();
    for (step, &f) in flops.iter().enumerate() {
        logger.set_step_flops(f);
        logger.on_train_epoch_start(step as u64);
        logger.on_train_batch_start(step as u64);
        std::thread::sleep(Duration::from_millis(4));
        logger.on_train_batch_end(step as u64);
    }
    assert!(logger.close().is_clean());
    let ends = rows
        .records()
        .into_iter()
        .filter(|r| r.kind == RecordKind::BatchEnd)
        .map(|r| {
            (
                r.get("batch_time/intra_step (ms)").unwrap(),
                r.get("throughput (TFLOP/s)").unwrap(),
                r.get("mfu (%)"),
            )
        })
        .collect();
    (ends, warnings)
}

#[test]
fn known_flops_and_step_time_give_the_expected_mfu() {
    // GPU 0 of the default machine is an H100 SXM (989.5 TFLOP/s dense BF16).
    let peak = peak_tflops("NVIDIA H100 80GB HBM3", Precision::Bf16).unwrap();
    assert_eq!(peak, 989.5);
    let flops = [2e12, 8e12];
    let (ends, warnings) = run(GpuStatsLogger::builder(&[0]).model_flops_per_step(1.0), &flops);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(ends.len(), 2);
    for ((ms, tflops, mfu), f) in ends.iter().zip(flops) {
        let expected = f / (ms / 1000.0) / 1e12;
        assert!((tflops - expected).abs() <= expected * 1e-6, "{tflops} vs {expected}");
        let expected_mfu = expected / peak * 100.0;
        assert!(
            (mfu.unwrap() - expected_mfu).abs() <= expected_mfu * 1e-6,
            "{mfu:?} vs {expected_mfu}"
        );
    }
}

#[test]
fn the_precision_and_an_override_pick_the_peak() {
    let fp32 = peak_tflops("NVIDIA H100 80GB HBM3", Precision::Fp32).unwrap();
    let (ends, _) = run(
        GpuStatsLogger::builder(&[0])
            .model_flops_per_step(1e12)
            .precision(Precision::Fp32),
        &[1e12],
    );
    let (_, tflops, mfu) = ends[0];
    assert!((mfu.unwrap() - tflops / fp32 * 100.0).abs() < 1e-9);

    let (ends, _) = run(
        GpuStatsLogger::builder(&[0])
            .model_flops_per_step(1e12)
            .peak_tflops_per_gpu(100.0),
        &[1e12],
    );
    let (_, tflops, mfu) = ends[0];
    assert!(
        (mfu.unwrap() - tflops).abs() < 1e-9,
        "100 TFLOP/s peak: mfu = throughput"
    );
}

#[test]
fn mfu_keys_are_off_by_default() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(MemorySink::new()))
        .training_status(false)
        .build()
        .unwrap();
    assert!(
        !logger
            .keys()
            .iter()
            .any(|k| k == "mfu (%)" || k == "throughput (TFLOP/s)")
    );
    logger.set_step_flops(1e12); // harmless without the keys
    logger.close();
}

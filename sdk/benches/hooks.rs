//! What a training step pays for GPU statistics.
//!
//! - `hooks/logger`: `on_train_batch_start` + `on_train_batch_end` of
//!   `GpuStatsLogger` (reads an atomic, sends a small record), with the
//!   training status record published (the default), and
//!   `hooks/logger_status_off` the same with `training_status(false)`:
//!   publication is the sink thread's work, so the two should match;
//! - `hooks/validation_pair`: `on_validation_start` + `on_validation_end`
//!   (status on: each sends a record for the published phase);
//! - `hooks/naive`: the same statistics read synchronously in the hook, as
//!   a callback that queries the driver at every step does;
//! - `sampler/sample_8gpu_x_64proc`: CPU time of one sampler pass over 8 GPUs
//!   with 64 processes each (paid on the sampler thread, not the training thread).
//!
//! - `hooks/naive_nvml` (only with `NVITOP_NVML_LIBRARY` set): the naive hook
//!   through the real NVML backend, for instance on the fake driver library
//!   (`cargo build --release -p fake-nvml`, then
//!   `NVITOP_NVML_LIBRARY=target/release/libnvidia_ml.so`): the dynamic
//!   loading and FFI path of a real driver, though not a real driver's
//!   latency, which is far higher (a kernel round trip per query).
//!
//! After criterion's report, the logger's hook pair is timed one call at a
//! time, as a training loop calls it: a fresh clean channel (a new logger,
//! as at the start of training), then 10,000 steps with about 20 µs of
//! "work" between them, four times, alternating status on and off (so the
//! machine's load hits both alike), and each setting's median, 99th and
//! 99.9th percentiles over its 20,000 calls are printed. (Back to back, criterion's loop fills the channel and the sink
//! thread then runs flat out beside the measured thread, which measures the
//! scheduler of a 2-core machine rather than the hook.)
//! Run with `cargo bench -p nvitop --bench hooks`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::Sleepers;
use criterion::{Criterion, criterion_group, criterion_main};
use nvitop::backend::Backend;
use nvitop::backend::sim::{SimBackend, presets};
use nvitop::sampler::{SamplerConfig, Tracked};
use nvitop::sink::{MemorySink, Sink};
use nvitop::{Device, GpuStatsLogger};

fn sim_backend(preset: &str) -> Arc<dyn Backend> {
    let sim = SimBackend::from_preset(preset).expect("preset");
    sim.set_time(30.0);
    Arc::new(sim)
}

fn logger(backend: &Arc<dyn Backend>, status: bool) -> GpuStatsLogger {
    GpuStatsLogger::builder_for_physical_indices(&[0, 1])
        .backend(Arc::clone(backend))
        .training_status(status)
        .sink(Box::new(MemorySink::new()))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .scalars(&["train/loss"])
        .channel_capacity(1 << 16)
        .build()
        .unwrap()
}

/// The naive hook: every statistic read from the driver on the training thread.
fn naive_stats(devices: &[Device]) -> f64 {
    let mut acc = 0.0;
    for d in devices {
        let mem = d.memory_info().map_or(0.0, |m| m.used as f64 + m.free as f64);
        let util = d.utilization_rates().map_or(0.0, |u| f64::from(u.gpu + u.memory));
        acc += mem + util + f64::from(d.temperature().unwrap_or(0));
    }
    acc
}

fn bench(c: &mut Criterion) {
    let backend = sim_backend("default");
    let logger = logger(&backend, true);
    let quiet = self::logger(&backend, false);
    let devices = Device::from_indices_in(&backend, &[0, 1]).unwrap();
    let mut step = 0;
    c.bench_function("hooks/logger", |b| {
        b.iter(|| {
            logger.on_train_batch_start(step);
            logger.on_train_batch_end(step);
            step += 1;
        });
    });
    let mut quiet_step = 0;
    c.bench_function("hooks/logger_status_off", |b| {
        b.iter(|| {
            quiet.on_train_batch_start(quiet_step);
            quiet.on_train_batch_end(quiet_step);
            quiet_step += 1;
        });
    });
    drop(quiet);
    c.bench_function("hooks/validation_pair", |b| {
        b.iter(|| {
            logger.on_validation_start();
            logger.on_validation_end();
        });
    });
    // The user's own scalars, at the hooks' cost rules.
    c.bench_function("hooks/log_scalar", |b| {
        b.iter(|| {
            logger.log_scalar("train/loss", black_box(0.25), step);
            step += 1;
        });
    });
    c.bench_function("hooks/log_scalars_4", |b| {
        b.iter(|| {
            logger.log_scalars(
                &[
                    ("train/loss", 0.25),
                    ("train/lr", 1e-3),
                    ("train/grad_norm", 2.0),
                    ("train/tokens_per_s", 1e5),
                ],
                step,
            );
            step += 1;
        });
    });
    // Not hooks: what `sync_to_disk` costs the sink thread at each epoch
    // end, next to the plain flush it replaces (one row written before each).
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = logger.keys().to_vec();
    let values = vec![Some(1.0); keys.len()];
    for (name, sync) in [("sink/csv_flush", false), ("sink/csv_sync_all", true)] {
        let mut csv = nvitop::sink::CsvSink::create(dir.path().join(format!("{name}.csv").replace('/', "_"))).unwrap();
        csv.start(&keys).unwrap();
        c.bench_function(name, |b| {
            b.iter(|| {
                let row = nvitop::sink::LogRecord {
                    step: 1,
                    keys: &keys,
                    values: &values,
                    ..Default::default()
                };
                csv.write(&row).unwrap();
                if sync {
                    csv.sync().unwrap();
                } else {
                    csv.flush().unwrap();
                }
            });
        });
    }
    c.bench_function("hooks/naive", |b| {
        b.iter(|| {
            black_box(naive_stats(&devices));
            black_box(naive_stats(&devices));
        });
    });

    let sleepers = Sleepers::spawn(8 * 64);
    let big_sim = SimBackend::with_host_pool(presets::preset("h100x8").unwrap(), sleepers.pids());
    big_sim.set_time(30.0);
    let big: Arc<dyn Backend> = Arc::new(big_sim);
    let sampler = nvitop::sampler::Sampler::start(
        Device::all_in(&big).unwrap(),
        SamplerConfig::default()
            .interval(Duration::from_mins(1))
            .unwrap()
            // The training process itself. (Not `SelfAndChildren`: this
            // benchmark's own 512 sleeping children would be walked and
            // read each pass, which no training process has.)
            .tracked(Tracked::Pids(vec![std::process::id()])),
    );
    c.bench_function("sampler/sample_8gpu_x_64proc", |b| {
        b.iter(|| black_box(sampler.sample_now()));
    });

    if let Ok(library) = std::env::var("NVITOP_NVML_LIBRARY") {
        let nvml: Arc<dyn Backend> =
            Arc::new(nvitop::backend::nvml::NvmlBackend::with_library(&library).expect("NVML library"));
        let devices = Device::from_indices_in(&nvml, &[0, 1]).unwrap();
        c.bench_function("hooks/naive_nvml", |b| {
            b.iter(|| {
                black_box(naive_stats(&devices));
                black_box(naive_stats(&devices));
            });
        });
    }

    // Percentiles of single hook pairs, spaced like training steps: status
    // on and off in alternating blocks, each with a fresh logger.
    drop(logger);
    let work = Duration::from_micros(20);
    let mut times: [Vec<Duration>; 2] = [Vec::with_capacity(20_000), Vec::with_capacity(20_000)];
    let mut reports = [(0, 0); 2];
    for block in 0..4 {
        let status = block % 2 == 0;
        let logger = self::logger(&backend, status);
        let times = &mut times[usize::from(!status)];
        for step in 0..10_000 {
            let t = Instant::now();
            logger.on_train_batch_start(step);
            logger.on_train_batch_end(step);
            times.push(t.elapsed());
            let busy = Instant::now();
            while busy.elapsed() < work {
                std::hint::spin_loop();
            }
        }
        let report = logger.close();
        let counts = &mut reports[usize::from(!status)];
        *counts = (counts.0 + report.written, counts.1 + report.dropped);
    }
    for ((name, times), (written, dropped)) in ["status on", "status off"].iter().zip(&mut times).zip(reports) {
        times.sort_unstable();
        let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
        println!(
            "hooks/logger single-call, {name}: median {:?}, p99 {:?}, p99.9 {:?} (over {} calls); rows written {written}, dropped {dropped}",
            pct(0.5),
            pct(0.99),
            pct(0.999),
            times.len()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Cost of a full snapshot of a large machine: 8 simulated H100s with 64
//! processes each, bound to real host pids, host refresh for those pids
//! included. Run with `cargo bench -p nvitop --bench snapshot`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

mod common;
use common::Sleepers;
use criterion::{Criterion, criterion_group, criterion_main};
use nvitop::backend::Backend;
use nvitop::backend::sim::{SimBackend, presets};
use nvitop::process::HostProcessReader;
use nvitop::snapshot::SnapshotFields;
use nvitop::{Device, Snapshot};

fn bench_snapshot(c: &mut Criterion) {
    let sleepers = Sleepers::spawn(8 * 64);
    let sim = SimBackend::with_host_pool(presets::preset("h100x8").expect("preset h100x8"), sleepers.pids());
    sim.set_time(60.0);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let devices = Device::all_in(&backend).unwrap();
    let processes: usize = devices.iter().map(|d| d.processes().map_or(0, |p| p.len())).sum();
    assert_eq!(processes, 8 * 64, "the preset promises 64 processes per GPU");
    // Warm a reader (CPU windows, command lines, open files) as a running
    // monitor or sampler would have it.
    let mut reader = HostProcessReader::new();
    let _ = Snapshot::take_with(&backend, &devices, SnapshotFields::all(), &mut reader);

    let mut group = c.benchmark_group("snapshot_8gpu_x_64proc");
    group.bench_function("full (devices + processes + host)", |b| {
        b.iter(|| {
            black_box(Snapshot::take_with(
                &backend,
                &devices,
                SnapshotFields::all(),
                &mut reader,
            ))
        });
    });
    group.bench_function("one-off (a reader of its own, as --once)", |b| {
        b.iter(|| black_box(Snapshot::take(&backend, &devices)));
    });
    group.bench_function("devices only", |b| {
        b.iter(|| black_box(devices.iter().map(Device::as_snapshot).collect::<Vec<_>>()));
    });
    let pids: Vec<u32> = devices
        .iter()
        .flat_map(|d| d.processes().unwrap())
        .map(|p| p.pid())
        .collect();
    group.bench_function("host refresh of the processes' pids", |b| {
        b.iter(|| black_box(reader.infos(&pids)));
    });
    group.bench_function("host-wide (cpu, memory, load)", |b| {
        b.iter(|| black_box(nvitop::host::snapshot()));
    });
    group.finish();
    drop(sleepers);
}

criterion_group!(benches, bench_snapshot);
criterion_main!(benches);

//! The host module: CPUs, load, memory, swap and uptime, as nvitop's `host`
//! (psutil) reports them.
#![allow(clippy::unwrap_used, missing_docs)]

use nvitop::host::{self, HostSnapshot};

#[test]
fn every_host_figure_is_there_and_consistent() {
    let cpus = host::cpu_count();
    assert!(cpus >= 1);
    let percent = host::cpu_percent();
    assert!((0.0..=100.0).contains(&percent), "{percent}");
    let per_cpu = host::per_cpu_percent();
    assert!(!per_cpu.is_empty());
    assert!(per_cpu.iter().all(|p| (0.0..=100.0).contains(p)), "{per_cpu:?}");
    let (one, five, fifteen) = host::load_average().unwrap();
    assert!(one >= 0.0 && five >= 0.0 && fifteen >= 0.0);
    assert!(host::uptime().unwrap() > 0);

    let memory = host::virtual_memory();
    assert!(memory.total > 0);
    assert_eq!(memory.used + memory.available, memory.total);
    assert!(memory.free <= memory.total);
    assert!((memory.percent - memory.used as f64 * 100.0 / memory.total as f64).abs() < 1e-9);
    let swap = host::swap_memory();
    assert_eq!(swap.used + swap.free, swap.total);
    assert!((0.0..=100.0).contains(&swap.percent));

    let snapshot = host::snapshot();
    assert_eq!(snapshot.cpu_count, snapshot.per_cpu_percent.len());
    assert_eq!(snapshot.memory_total, memory.total);
    assert_eq!(snapshot.swap_total, swap.total);
    assert_eq!(snapshot.memory_used + snapshot.memory_available, snapshot.memory_total);
    assert!(
        snapshot.memory_usage_human.contains(" / "),
        "{}",
        snapshot.memory_usage_human
    );
}

#[test]
fn host_snapshots_round_trip_through_json() {
    let snapshot = host::snapshot();
    let back: HostSnapshot = serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap();
    assert_eq!(back, snapshot);
    let memory = host::virtual_memory();
    let back: host::VirtualMemory = serde_json::from_str(&serde_json::to_string(&memory).unwrap()).unwrap();
    assert_eq!(back, memory);
}

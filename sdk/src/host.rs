//! The host machine: CPUs, load, memory, swap, uptime.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sysinfo::{CpuRefreshKind, System};

use crate::format::bytes2human;

/// Host-wide resource usage at one moment (plain data).
///
/// ```
/// let host = nvitop::host::snapshot();
/// assert!(host.cpu_count >= 1);
/// assert!(host.memory_total > 0);
/// println!("CPU {:.1}%  MEM {:.1}%  load {:?}", host.cpu_percent, host.memory_percent, host.load_average);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostSnapshot {
    /// Logical CPU count.
    pub cpu_count: usize,
    /// Overall CPU usage, percent of all CPUs.
    pub cpu_percent: f64,
    /// Usage per logical CPU, percent.
    pub per_cpu_percent: Vec<f64>,
    /// 1, 5 and 15 minute load averages.
    pub load_average: Option<(f64, f64, f64)>,
    /// Total memory, bytes.
    pub memory_total: u64,
    /// Used memory (total minus available), bytes.
    pub memory_used: u64,
    /// Available memory, bytes.
    pub memory_available: u64,
    /// Used memory, percent of total.
    pub memory_percent: f64,
    /// `used / total` as `12345MiB / 64000MiB`.
    pub memory_usage_human: String,
    /// Total swap, bytes.
    pub swap_total: u64,
    /// Used swap, bytes.
    pub swap_used: u64,
    /// Used swap, percent of total (0 without swap).
    pub swap_percent: f64,
    /// Seconds since boot.
    pub uptime: Option<u64>,
}

struct CpuState {
    system: System,
    last: Option<Instant>,
}

static CPU: Mutex<Option<CpuState>> = Mutex::new(None);

/// Reads host-wide usage now.
///
/// CPU percentages need a time window: the first call in a process waits
/// `sysinfo::MINIMUM_CPU_UPDATE_INTERVAL` between two readings; later calls
/// report usage since the previous call, without waiting.
pub fn snapshot() -> HostSnapshot {
    let mut guard = CPU.lock().unwrap_or_else(PoisonError::into_inner);
    if guard.is_none() {
        match System::new() {
            Ok(system) => *guard = Some(CpuState { system, last: None }),
            Err(err) => {
                log::warn!("host information unavailable: {err}");
                return HostSnapshot {
                    cpu_count: cpu_count(),
                    ..HostSnapshot::default()
                };
            }
        }
    }
    let Some(state) = guard.as_mut() else {
        return HostSnapshot::default();
    };
    let cpu_kind = CpuRefreshKind::nothing().with_usage();
    if state.last.is_none() {
        state.system.refresh_cpu_specifics(cpu_kind);
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    }
    state.system.refresh_cpu_specifics(cpu_kind);
    state.system.refresh_memory();
    state.last = Some(Instant::now());
    let sys = &state.system;
    let per_cpu_percent: Vec<f64> = sys.cpus().iter().map(|c| f64::from(c.usage())).collect();
    let memory_total = sys.total_memory();
    let memory_available = sys.available_memory();
    let memory_used = memory_total.saturating_sub(memory_available);
    let swap_total = sys.total_swap();
    let swap_used = sys.used_swap();
    HostSnapshot {
        cpu_count: per_cpu_percent.len().max(1),
        cpu_percent: f64::from(sys.global_cpu_usage()),
        per_cpu_percent,
        load_average: System::load_average().ok().map(|l| (l.one, l.five, l.fifteen)),
        memory_total,
        memory_used,
        memory_available,
        memory_percent: ratio(memory_used, memory_total),
        memory_usage_human: format!("{} / {}", bytes2human(memory_used), bytes2human(memory_total)),
        swap_total,
        swap_used,
        swap_percent: ratio(swap_used, swap_total),
        uptime: System::uptime().ok(),
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Logical CPU count.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Overall CPU usage, percent (see [`snapshot`] for the time window).
pub fn cpu_percent() -> f64 {
    snapshot().cpu_percent
}

/// Usage per logical CPU, percent.
pub fn per_cpu_percent() -> Vec<f64> {
    snapshot().per_cpu_percent
}

/// 1, 5 and 15 minute load averages.
pub fn load_average() -> Option<(f64, f64, f64)> {
    System::load_average().ok().map(|l| (l.one, l.five, l.fifteen))
}

/// Seconds since boot.
pub fn uptime() -> Option<u64> {
    System::uptime().ok()
}

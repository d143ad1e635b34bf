//! The host machine: CPUs, load, memory, swap, uptime (the figures nvitop's
//! `host` module takes from psutil).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sysinfo::System;

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
#[non_exhaustive]
pub struct HostSnapshot {
    /// Logical CPU count.
    pub cpu_count: usize,
    /// Overall CPU usage, percent of all CPUs (the calling process included).
    pub cpu_percent: f64,
    /// The calling process's own part of `cpu_percent`: its CPU time over
    /// the same window, percent of all CPUs. Exact, where `cpu_percent`
    /// moves in clock ticks, so it can exceed `cpu_percent` by up to a tick.
    /// A monitor subtracts it (see [`HostSnapshot::others_cpu_percent`]) so
    /// that its own start-up burst, much of a short first window, does not
    /// read as load.
    #[serde(default)]
    pub self_cpu_percent: f64,
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

impl HostSnapshot {
    /// CPU usage of everything but the calling process, percent of all
    /// CPUs: [`cpu_percent`](Self::cpu_percent) less
    /// [`self_cpu_percent`](Self::self_cpu_percent), never below zero (the
    /// host figure moves in whole clock ticks, the process's own is exact).
    ///
    /// ```
    /// let host = nvitop::host::snapshot();
    /// assert!(host.others_cpu_percent() <= host.cpu_percent);
    /// assert!(host.others_cpu_percent() >= 0.0);
    /// ```
    pub fn others_cpu_percent(&self) -> f64 {
        (self.cpu_percent - self.self_cpu_percent).max(0.0)
    }
}

struct CpuState {
    /// When the CPU counters were last read: the start of the next window.
    last: Instant,
    /// (busy, total) ticks at `last`: all CPUs first, then each CPU.
    times: Vec<(u64, u64)>,
    /// This process's CPU time at `last`.
    own: Duration,
    /// The percentages of the last completed window (all CPUs first).
    percents: Option<Vec<f64>>,
    /// This process's share of the last completed window, percent of all CPUs.
    own_percent: f64,
}

static CPU: Mutex<Option<CpuState>> = Mutex::new(None);

impl CpuState {
    /// The first window for the CPUs this state reads (see [`min_cpu_window`]).
    fn window(&self) -> Duration {
        window_for(
            self.times.len().saturating_sub(1),
            rustix::param::clock_ticks_per_second(),
        )
    }
}

/// (busy, total) CPU ticks from `/proc/stat`: the `cpu` line, then `cpuN`.
///
/// Read here rather than through sysinfo, which refuses to update CPU usage
/// more often than every 200 ms: a one-shot monitor would sleep that long.
fn cpu_times() -> Vec<(u64, u64)> {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    text.lines()
        .take_while(|line| line.starts_with("cpu"))
        .map(|line| {
            // user nice system idle iowait irq softirq steal (guest time is
            // already counted in user and nice).
            let fields: Vec<u64> = line
                .split_ascii_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|f| f.parse().ok())
                .collect();
            let total: u64 = fields.iter().sum();
            let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
            (total.saturating_sub(idle), total)
        })
        .collect()
}

/// CPU time this process has used, all threads together. Exact (the
/// scheduler's nanosecond count), where `/proc/stat` moves in clock ticks.
fn own_cpu_time() -> Duration {
    clock_time(rustix::time::ClockId::ProcessCPUTime)
}

/// A clock's reading (zero for the impossible negative one).
pub(crate) fn clock_time(id: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(id);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// `own` CPU time over `elapsed` wall time on `cpus` CPUs, percent of all
/// of them.
fn own_percent(own: Duration, elapsed: Duration, cpus: usize) -> f64 {
    let capacity = elapsed.as_secs_f64() * cpus.max(1) as f64;
    if capacity <= 0.0 {
        return 0.0;
    }
    (own.as_secs_f64() * 100.0 / capacity).clamp(0.0, 100.0)
}

/// Percent busy between two readings.
fn busy_percent(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1);
    if total == 0 {
        return 0.0;
    }
    (after.0.saturating_sub(before.0) as f64 * 100.0 / total as f64).clamp(0.0, 100.0)
}

/// The shortest window host CPU percentages are computed over on this
/// machine.
///
/// The kernel counts CPU time in clock ticks (10 ms at the usual 100 Hz),
/// so the overall percentage moves in steps of one tick over all CPUs'
/// ticks in the window. The window is long enough for 50 ticks across all
/// CPUs (2 % steps), but at least one tick per CPU and at most 50 ms: 50 ms
/// on up to 10 CPUs (coarse there, but real), 31 ms on 16, 10 ms from 50
/// CPUs up, as on the hosts of 8-GPU nodes. Per-CPU figures over so short
/// a first window are coarse; later windows are as long as the caller's
/// refresh interval. A program that calls [`prime`] early (the monitor
/// does, before it loads the driver) has a longer window by the time it
/// asks and waits for nothing.
///
/// ```
/// use std::time::Duration;
/// use nvitop::host::{min_cpu_window, snapshot};
/// let window = min_cpu_window();
/// assert!((Duration::from_millis(10)..=Duration::from_millis(50)).contains(&window));
/// let start = std::time::Instant::now();
/// let _ = snapshot(); // the first reading waits for the window to mean something
/// assert!(start.elapsed() + Duration::from_millis(5) >= window);
/// ```
pub fn min_cpu_window() -> Duration {
    CPU.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map_or_else(
        || window_for(cpu_count(), rustix::param::clock_ticks_per_second()),
        CpuState::window,
    )
}

/// Ticks across all CPUs that make a first window meaningful (2 % steps).
const WINDOW_TICKS: u64 = 50;
/// Bounds of the first window: a tick per CPU at least, at most 50 ms.
const WINDOW_BOUNDS: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(50));

/// The window for `cpus` CPUs whose clocks tick `hz` times a second.
fn window_for(cpus: usize, hz: u64) -> Duration {
    let (shortest, longest) = WINDOW_BOUNDS;
    let cpus = u32::try_from(cpus.max(1)).unwrap_or(u32::MAX);
    let tick = Duration::from_secs(1) / u32::try_from(hz.max(1)).unwrap_or(u32::MAX);
    let one_tick_each = tick.max(shortest);
    (tick * u32::try_from(WINDOW_TICKS).unwrap_or(50) / cpus).clamp(one_tick_each, longest.max(one_tick_each))
}

/// Starts the CPU-usage window, so that a later [`snapshot`] need not wait.
///
/// ```
/// nvitop::host::prime();
/// // ... load the driver, read the devices ...
/// let host = nvitop::host::snapshot();
/// assert!(host.cpu_percent >= 0.0);
/// ```
pub fn prime() {
    let mut guard = CPU.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = state(&mut guard);
}

/// The CPU state, created (with a first reading of the counters) on first use.
fn state(slot: &mut Option<CpuState>) -> &mut CpuState {
    slot.get_or_insert_with(|| CpuState {
        last: Instant::now(),
        times: cpu_times(),
        own: own_cpu_time(),
        percents: None,
        own_percent: 0.0,
    })
}

/// Reads host-wide usage now.
///
/// CPU percentages need a time window: they cover the time since the
/// previous reading (or [`prime`]). The first call in a process waits until
/// [`min_cpu_window`] has passed since the window started; a call sooner
/// than that after the previous reading returns that reading's figures.
///
/// ```
/// let host = nvitop::host::snapshot();
/// assert!(host.cpu_count >= 1);
/// assert!((0.0..=100.0).contains(&host.cpu_percent));
/// assert!(host.memory_used <= host.memory_total);
/// assert!(host.memory_usage_human.contains(" / "));
/// ```
pub fn snapshot() -> HostSnapshot {
    let mut guard = CPU.lock().unwrap_or_else(PoisonError::into_inner);
    let state = state(&mut guard);
    let window = state.window();
    if state.percents.is_none() {
        // The very first window must be long enough to mean something.
        let wait = window.saturating_sub(state.last.elapsed());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
    if state.percents.is_none() || state.last.elapsed() >= window {
        let times = cpu_times();
        let (now, own) = (Instant::now(), own_cpu_time());
        state.own_percent = own_percent(
            own.saturating_sub(state.own),
            now.duration_since(state.last),
            times.len().saturating_sub(1),
        );
        state.own = own;
        state.percents = Some(
            state
                .times
                .iter()
                .zip(&times)
                .map(|(&before, &after)| busy_percent(before, after))
                .collect(),
        );
        state.times = times;
        state.last = now;
    }
    // Asked again within the minimum window: the last window's figures,
    // rather than a noisy reading over a few milliseconds.
    let percents = state.percents.as_deref().unwrap_or_default();
    let cpu_percent = percents.first().copied().unwrap_or(0.0);
    let per_cpu_percent = percents.get(1..).unwrap_or_default().to_vec();
    let (memory, swap) = read_memory();
    HostSnapshot {
        cpu_count: per_cpu_percent.len().max(1),
        cpu_percent,
        self_cpu_percent: state.own_percent,
        per_cpu_percent,
        load_average: System::load_average().ok().map(|l| (l.one, l.five, l.fifteen)),
        memory_total: memory.total,
        memory_used: memory.used,
        memory_available: memory.available,
        memory_percent: memory.percent,
        memory_usage_human: format!("{} / {}", bytes2human(memory.used), bytes2human(memory.total)),
        swap_total: swap.total,
        swap_used: swap.used,
        swap_percent: swap.percent,
        uptime: System::uptime().ok(),
    }
}

/// Host memory, as psutil's `virtual_memory()` (which nvitop's `host`
/// re-exports) and `free` report it, in bytes, from `/proc/meminfo`.
///
/// ```
/// let memory = nvitop::host::virtual_memory();
/// assert!(memory.total > 0);
/// assert_eq!(memory.used, memory.total - memory.available);
/// assert!(memory.free <= memory.available);
/// assert!((0.0..=100.0).contains(&memory.percent));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VirtualMemory {
    /// Total physical memory.
    pub total: u64,
    /// Memory that can be given to processes without swapping (free plus
    /// reclaimable caches).
    pub available: u64,
    /// Memory in use: total less available, as psutil (7) and `free`
    /// (procps 4) count it.
    pub used: u64,
    /// Memory not used at all (caches not counted as free).
    pub free: u64,
    /// `used` as a percent of `total`.
    pub percent: f64,
}

/// Swap space, as psutil's `swap_memory()` reports it, in bytes.
///
/// ```
/// let swap = nvitop::host::swap_memory();
/// assert_eq!(swap.used + swap.free, swap.total);
/// assert!((0.0..=100.0).contains(&swap.percent)); // 0 on a host without swap
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SwapMemory {
    /// Total swap.
    pub total: u64,
    /// Swap in use.
    pub used: u64,
    /// Swap not in use.
    pub free: u64,
    /// `used` as a percent of `total` (0 without swap).
    pub percent: f64,
}

/// Host memory now (all zero when the host cannot be read).
///
/// ```
/// let memory = nvitop::host::virtual_memory();
/// println!("{} of {} bytes in use ({:.1}%)", memory.used, memory.total, memory.percent);
/// assert!(memory.used <= memory.total);
/// ```
pub fn virtual_memory() -> VirtualMemory {
    read_memory().0
}

/// Swap now (all zero without swap, or when the host cannot be read).
///
/// ```
/// let swap = nvitop::host::swap_memory();
/// assert!(swap.used <= swap.total);
/// ```
pub fn swap_memory() -> SwapMemory {
    read_memory().1
}

/// Memory and swap from one read of `/proc/meminfo`, so the snapshot's
/// figures agree (all zero when it cannot be read).
fn read_memory() -> (VirtualMemory, SwapMemory) {
    std::fs::read_to_string("/proc/meminfo").map_or_else(|_| Default::default(), |text| memory_from(&text))
}

/// Total physical memory, bytes (0 when `/proc/meminfo` cannot be read).
pub(crate) fn total_memory() -> u64 {
    read_memory().0.total
}

/// psutil's arithmetic over the fields of `/proc/meminfo` (kB).
fn memory_from(meminfo: &str) -> (VirtualMemory, SwapMemory) {
    let field = |name: &str| -> Option<u64> {
        meminfo.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kib * 1024)
        })
    };
    let get = |name: &str| field(name).unwrap_or(0);
    let total = get("MemTotal");
    let free = get("MemFree").min(total);
    // Kernels before 3.14 have no MemAvailable: free plus the caches then.
    let cached = get("Cached") + get("SReclaimable");
    let buffers = get("Buffers");
    let available = field("MemAvailable").unwrap_or(free + cached + buffers).min(total);
    // As psutil 7 and procps `free` 4 count it (older versions subtracted
    // free, buffers and caches instead).
    let used = total - available;
    let swap_total = get("SwapTotal");
    let swap_free = get("SwapFree").min(swap_total);
    let swap_used = swap_total - swap_free;
    (
        VirtualMemory {
            total,
            available,
            used,
            free,
            percent: ratio(used, total),
        },
        SwapMemory {
            total: swap_total,
            used: swap_used,
            free: swap_free,
            percent: ratio(swap_used, swap_total),
        },
    )
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Logical CPU count.
///
/// ```
/// let cpus = nvitop::host::cpu_count();
/// assert!(cpus >= 1);
/// ```
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Overall CPU usage, percent (see [`snapshot`] for the time window).
///
/// ```
/// let percent = nvitop::host::cpu_percent();
/// assert!((0.0..=100.0).contains(&percent), "{percent}");
/// ```
pub fn cpu_percent() -> f64 {
    snapshot().cpu_percent
}

/// Usage per logical CPU, percent.
///
/// ```
/// let per_cpu = nvitop::host::per_cpu_percent();
/// assert!(!per_cpu.is_empty());
/// assert!(per_cpu.iter().all(|p| (0.0..=100.0).contains(p)));
/// ```
pub fn per_cpu_percent() -> Vec<f64> {
    snapshot().per_cpu_percent
}

/// 1, 5 and 15 minute load averages.
///
/// ```
/// if let Some((one, five, fifteen)) = nvitop::host::load_average() {
///     assert!(one >= 0.0 && five >= 0.0 && fifteen >= 0.0);
/// }
/// ```
pub fn load_average() -> Option<(f64, f64, f64)> {
    System::load_average().ok().map(|l| (l.one, l.five, l.fifteen))
}

/// Seconds since boot.
///
/// ```
/// let seconds = nvitop::host::uptime().unwrap();
/// assert!(seconds > 0);
/// ```
pub fn uptime() -> Option<u64> {
    System::uptime().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_percent_is_the_busy_share_of_the_window() {
        assert!((busy_percent((100, 1000), (150, 1100)) - 50.0).abs() < 1e-9);
        assert!(busy_percent((5, 5), (5, 5)).abs() < f64::EPSILON);
        let times = cpu_times();
        assert!(times.len() >= 2, "the all-CPU line and at least one CPU");
        assert!(times.iter().all(|&(busy, total)| busy <= total));
    }

    #[test]
    fn memory_is_counted_as_psutil_counts_it() {
        let meminfo = "MemTotal:       24683584 kB\nMemFree:        21504000 kB\nMemAvailable:   24055844 kB\n\
                       Buffers:           81000 kB\nCached:          2100000 kB\nSwapCached:            0 kB\n\
                       SReclaimable:     150000 kB\nSwapTotal:       2097148 kB\nSwapFree:        1048574 kB\n";
        let (memory, swap) = memory_from(meminfo);
        let kib = |k: u64| k * 1024;
        assert_eq!(memory.total, kib(24_683_584));
        assert_eq!(memory.free, kib(21_504_000));
        assert_eq!(memory.available, kib(24_055_844));
        assert_eq!(memory.used, kib(24_683_584 - 24_055_844));
        assert!((memory.percent - (24_683_584.0 - 24_055_844.0) * 100.0 / 24_683_584.0).abs() < 1e-9);
        assert_eq!(
            (swap.total, swap.used, swap.free),
            (kib(2_097_148), kib(1_048_574), kib(1_048_574))
        );
        assert!((swap.percent - 50.0).abs() < 1e-3);

        // No MemAvailable (before Linux 3.14): free plus the caches, at most all.
        let (old, _) = memory_from("MemTotal: 1000 kB\nMemFree: 600 kB\nCached: 300 kB\nBuffers: 50 kB\n");
        assert_eq!((old.available, old.used), (kib(950), kib(50)));
        let (overlap, _) = memory_from("MemTotal: 1000 kB\nMemFree: 600 kB\nCached: 500 kB\n");
        assert_eq!((overlap.available, overlap.used), (kib(1000), 0));
        // Nothing readable: zeros, no panic.
        assert_eq!(
            memory_from("garbage"),
            (VirtualMemory::default(), SwapMemory::default())
        );
    }

    #[test]
    fn own_percent_is_cpu_time_over_the_capacity_of_the_window() {
        let ms = Duration::from_millis;
        assert!((own_percent(ms(50), ms(50), 2) - 50.0).abs() < 1e-9);
        assert!((own_percent(ms(10), ms(50), 4) - 5.0).abs() < 1e-9);
        assert!((own_percent(ms(400), ms(50), 2) - 100.0).abs() < 1e-9, "clamped");
        assert!(own_percent(ms(10), Duration::ZERO, 2).abs() < f64::EPSILON);
        assert!(
            (own_percent(ms(10), ms(10), 0) - 100.0).abs() < 1e-9,
            "no CPUs read: one"
        );
        assert!(own_cpu_time() > Duration::ZERO);
    }

    #[test]
    fn calls_in_quick_succession_do_not_wait() {
        let _ = snapshot();
        let start = Instant::now();
        for _ in 0..10 {
            let _ = snapshot();
        }
        assert!(start.elapsed() < min_cpu_window());
    }

    #[test]
    fn the_first_window_holds_fifty_ticks_within_10_to_50_ms() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(window_for(1, 100), ms(50));
        assert_eq!(window_for(2, 100), ms(50));
        assert_eq!(window_for(10, 100), ms(50));
        assert_eq!(window_for(16, 100), Duration::from_micros(31_250));
        assert_eq!(window_for(25, 100), ms(20));
        assert_eq!(window_for(50, 100), ms(10));
        assert_eq!(window_for(224, 100), ms(10), "never below one tick per CPU");
        // A kernel with slower ticks needs at least one of them.
        assert_eq!(window_for(224, 10), ms(100));
        assert_eq!(window_for(0, 0), ms(1000), "nonsense input stays finite");
    }

    #[test]
    fn a_primed_window_does_not_wait() {
        prime();
        std::thread::sleep(min_cpu_window());
        let start = Instant::now();
        let host = snapshot();
        assert!(start.elapsed() < min_cpu_window());
        assert!((0.0..=100.0).contains(&host.cpu_percent));
        assert_eq!(host.per_cpu_percent.len(), host.cpu_count);
    }
}

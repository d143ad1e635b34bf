//! The shown process rows: the snapshot's processes filtered by the typed
//! filter and sorted by the chosen column, as a list of indices. The
//! snapshot itself is never changed.

use std::cmp::Ordering;

use nvitop::{ProcessSnapshot, Snapshot};

use crate::widgets::processes::sort_key;

/// A process row's identity across refreshes: pid, start time (so a
/// reused pid is another process) and the GPU it runs on (one process on
/// two GPUs is two rows).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks after boot; `None` when the host does not
    /// know the pid (such a process is never signalled).
    pub start_ticks: Option<u64>,
    /// The display index of its GPU (`3` or `3:1`).
    pub device: String,
}

impl ProcessKey {
    /// The identity of `p`.
    pub fn of(p: &ProcessSnapshot) -> Self {
        Self {
            pid: p.pid,
            start_ticks: p.host.as_ref().map(|h| h.start_ticks),
            device: p.device_index.to_string(),
        }
    }
}

/// The columns the process list sorts by, in the order `,` and `.` walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// GPU, then PID: the one-shot order.
    #[default]
    Gpu,
    /// PID.
    Pid,
    /// USER.
    User,
    /// GPU-MEM.
    GpuMemory,
    /// %SM.
    Sm,
    /// %GMBW.
    Gmbw,
    /// %CPU.
    Cpu,
    /// %MEM.
    HostMemory,
    /// TIME.
    Time,
}

impl SortKey {
    /// Every key, in the order `,` and `.` walk them.
    pub const ALL: [Self; 9] = [
        Self::Gpu,
        Self::Pid,
        Self::User,
        Self::GpuMemory,
        Self::Sm,
        Self::Gmbw,
        Self::Cpu,
        Self::HostMemory,
        Self::Time,
    ];

    /// The key after (or before) this one, wrapping around.
    #[must_use]
    pub fn cycle(self, forward: bool) -> Self {
        let at = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        let n = Self::ALL.len();
        Self::ALL[if forward { (at + 1) % n } else { (at + n - 1) % n }]
    }

    /// The key named by `o` then this letter (`n p u g s b c m t`).
    pub fn from_letter(letter: char) -> Option<Self> {
        Some(match letter {
            'n' => Self::Gpu,
            'p' => Self::Pid,
            'u' => Self::User,
            'g' => Self::GpuMemory,
            's' => Self::Sm,
            'b' => Self::Gmbw,
            'c' => Self::Cpu,
            'm' => Self::HostMemory,
            't' => Self::Time,
            _ => return None,
        })
    }

    /// Whether the natural order is largest first (the usage columns: the
    /// heaviest process is the interesting one).
    pub fn descending(self) -> bool {
        !matches!(self, Self::Gpu | Self::Pid | Self::User)
    }

    /// The column of the live process panel this key sorts by.
    pub fn column(self) -> usize {
        match self {
            Self::Gpu => 0,
            Self::Pid => 1,
            Self::User => 3,
            Self::GpuMemory => 4,
            Self::Sm => 5,
            Self::Gmbw => 6,
            Self::Cpu => 7,
            Self::HostMemory => 8,
            Self::Time => 9,
        }
    }

    /// Compares two processes by this column alone, ascending; unknown
    /// values (`N/A`) first.
    fn compare(self, a: &ProcessSnapshot, b: &ProcessSnapshot) -> Ordering {
        let host = |p: &ProcessSnapshot, f: fn(&nvitop::HostProcessInfo) -> f64| p.host.as_ref().map(f);
        let float = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        };
        match self {
            Self::Gpu => sort_key(a).cmp(&sort_key(b)),
            Self::Pid => a.pid.cmp(&b.pid),
            Self::User => user(a).cmp(&user(b)),
            Self::GpuMemory => a.gpu_memory.cmp(&b.gpu_memory),
            Self::Sm => a.gpu_sm_utilization.cmp(&b.gpu_sm_utilization),
            Self::Gmbw => a.gpu_memory_utilization.cmp(&b.gpu_memory_utilization),
            Self::Cpu => float(host(a, |h| h.cpu_percent), host(b, |h| h.cpu_percent)),
            Self::HostMemory => float(host(a, |h| h.memory_percent), host(b, |h| h.memory_percent)),
            Self::Time => a
                .host
                .as_ref()
                .map(|h| h.running_time)
                .cmp(&b.host.as_ref().map(|h| h.running_time)),
        }
    }
}

fn user(p: &ProcessSnapshot) -> Option<&str> {
    p.host.as_ref().and_then(|h| h.username.as_deref())
}

/// Whether `p` matches the typed filter: a substring (ignoring case) of
/// its command, its user name or its pid. An empty filter matches all.
pub fn matches(p: &ProcessSnapshot, filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let needle = filter.to_lowercase();
    let host = p.host.as_ref();
    p.pid.to_string().contains(&needle)
        || host.is_some_and(|h| h.command.to_lowercase().contains(&needle) || h.name.to_lowercase().contains(&needle))
        || user(p).is_some_and(|u| u.to_lowercase().contains(&needle))
}

/// The shown rows of `snapshot`: indices into its processes, filtered and
/// sorted (`reversed` flips the key's natural order); ties keep the GPU,
/// then PID order.
pub fn order(snapshot: &Snapshot, filter: &str, sort: SortKey, reversed: bool) -> Vec<usize> {
    let processes = &snapshot.processes;
    let mut order: Vec<usize> = (0..processes.len())
        .filter(|&i| matches(&processes[i], filter))
        .collect();
    let descending = sort.descending() != reversed;
    order.sort_by(|&a, &b| {
        let (a, b) = (&processes[a], &processes[b]);
        let by_key = sort.compare(a, b);
        let by_key = if descending { by_key.reverse() } else { by_key };
        by_key.then_with(|| sort_key(a).cmp(&sort_key(b)))
    });
    order
}

/// Pids listed on more than one GPU.
pub fn shared_pids(snapshot: &Snapshot) -> Vec<u32> {
    let mut pids: Vec<u32> = snapshot.processes.iter().map(|p| p.pid).collect();
    pids.sort_unstable();
    let mut shared: Vec<u32> = pids.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    shared.dedup();
    shared
}

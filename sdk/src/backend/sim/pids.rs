//! Binding simulated GPU processes to real host processes.
//!
//! The simulator's processes are real pids so that everything above the
//! backend (host details, users, signals, the monitor's process panel) runs
//! its real code on them.

use std::sync::atomic::{AtomicU64, Ordering};

use super::scenario::PidSpec;

/// Environment variable that fixes the pool `host:N` pids are drawn from:
/// comma-separated pids. Two simulators that must agree (a test and the fake
/// NVML library in another process) set it so a process starting in between
/// cannot shift the numbering.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::{HOST_PIDS_ENV, SimBackend}};
/// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
/// # unsafe { std::env::set_var(HOST_PIDS_ENV, "4242,4243") };
/// // With NVITOP_SIM_HOST_PIDS=4242,4243 `host:N` pids come from that list.
/// let sim = SimBackend::from_preset("faults").unwrap();
/// // GPU 1 runs `host:4`: 4242, the fifth entry of the wrapping pool.
/// assert_eq!(sim.processes(DeviceRef::Physical(1)).unwrap()[0].pid, 4242);
/// ```
pub const HOST_PIDS_ENV: &str = "NVITOP_SIM_HOST_PIDS";

/// Resolves pid specs against the host, once per simulator.
#[derive(Debug)]
pub struct PidResolver {
    host: Vec<u32>,
    own: u32,
    parent: u32,
    gone: u32,
}

impl PidResolver {
    /// Reads the host's process list (or [`HOST_PIDS_ENV`]).
    pub fn from_host() -> Self {
        let pool = std::env::var(HOST_PIDS_ENV).ok().map(|v| parse_pool(&v));
        Self::with_pool(pool.unwrap_or_default())
    }

    /// Draws `host:N` pids from `pool` (in its order); an empty pool means
    /// the host's user-space processes by ascending pid (kernel threads
    /// only when there is nothing else: a GPU context never belongs to one).
    pub fn with_pool(pool: Vec<u32>) -> Self {
        let running = running_pids();
        let own = std::process::id();
        let parent = std::os::unix::process::parent_id();
        let host = if pool.is_empty() {
            // Not this process or its parent either: they have `self` and
            // `parent`, and a `host:N` landing on them would make the
            // scenario's processes depend on how many others the host runs.
            let others: Vec<u32> = running
                .iter()
                .copied()
                .filter(|&pid| pid != own && pid != parent && has_cmdline(pid))
                .collect();
            if others.is_empty() { running.clone() } else { others }
        } else {
            pool
        };
        Self {
            own,
            parent,
            gone: unused_pid(),
            host,
        }
    }

    /// The pid for `spec` and, when the spec binds it to a host process
    /// that could exit (`parent`, `host:N`) and one runs there now, that
    /// process's identity: a [`Binding`] the machine checks before listing
    /// the pid. `self` needs none (it is the caller), nor do `gone` (no
    /// process, on purpose) and literal pids ("that pid, whatever it is").
    pub fn bind(&self, spec: PidSpec, offset: usize) -> (u32, Option<Binding>) {
        let pid = self.resolve(spec, offset);
        let binding = match spec {
            PidSpec::Parent | PidSpec::Host(_) if pid != self.own => Binding::of(pid),
            _ => None,
        };
        (pid, binding)
    }

    /// The pid for `spec`; `offset` picks the n-th copy of a repeated process.
    pub fn resolve(&self, spec: PidSpec, offset: usize) -> u32 {
        match spec {
            PidSpec::SelfProcess => self.own,
            PidSpec::Parent => self.parent,
            PidSpec::Gone => self.gone,
            PidSpec::Literal(pid) => pid,
            PidSpec::Host(n) => match self.host.len() {
                0 => self.own,
                len => self.host[(n + offset) % len],
            },
        }
    }
}

/// The host process a simulated GPU process was bound to: its pid and its
/// start time (clock ticks after boot), the pair that names one process
/// even when pids are reused.
///
/// A real driver lists a process while it holds a context; a process that
/// exits releases its contexts, and the driver stops listing it. The
/// simulator does the same: a bound process is listed while the process
/// it was bound to still runs (same pid, same start time, not a zombie).
///
/// Each check reads `/proc/<pid>/stat`, and one pass over a busy scenario
/// asks about every process several times (list, memory, samples), so a
/// process seen running is taken as running for [`RECHECK_MS`] more, as
/// a driver takes a moment to release an exited process's contexts; one
/// seen gone stays gone (its identity can never come back). The cache is
/// atomic: any thread may ask.
#[derive(Debug)]
pub struct Binding {
    pid: u32,
    start_ticks: u64,
    /// When the process was last seen running (ms since the Unix epoch),
    /// or [`GONE`].
    seen: AtomicU64,
}

/// How long a process seen running is taken as running without looking
/// again, milliseconds.
pub const RECHECK_MS: u64 = 100;

/// [`Binding::seen`] of a process that has exited.
const GONE: u64 = u64::MAX;

impl Clone for Binding {
    fn clone(&self) -> Self {
        Self {
            pid: self.pid,
            start_ticks: self.start_ticks,
            seen: AtomicU64::new(self.seen.load(Ordering::Relaxed)),
        }
    }
}

impl PartialEq for Binding {
    fn eq(&self, other: &Self) -> bool {
        (self.pid, self.start_ticks) == (other.pid, other.start_ticks)
    }
}

impl Eq for Binding {}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(GONE - 1))
}

impl Binding {
    /// The identity of the process running as `pid` now, if any.
    fn of(pid: u32) -> Option<Self> {
        crate::process::proc_stat::read(pid).map(|stat| Self {
            pid,
            start_ticks: stat.start_ticks,
            seen: AtomicU64::new(now_ms()),
        })
    }

    /// Whether the process is still there: not exited (a zombie has
    /// exited: its contexts are released before its parent reaps it) and
    /// its pid not reused by another process.
    pub fn alive(&self) -> bool {
        let seen = self.seen.load(Ordering::Relaxed);
        if seen == GONE {
            return false;
        }
        let now = now_ms();
        if now.saturating_sub(seen) < RECHECK_MS {
            return true;
        }
        let alive = crate::process::proc_stat::read(self.pid)
            .is_some_and(|stat| stat.start_ticks == self.start_ticks && !matches!(stat.state, 'Z' | 'X' | 'x'));
        self.seen.store(if alive { now } else { GONE }, Ordering::Relaxed);
        alive
    }
}

fn parse_pool(value: &str) -> Vec<u32> {
    value.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// Whether a process has a command line (kernel threads have none).
fn has_cmdline(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Pids of `/proc`, ascending.
fn running_pids() -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// A pid no process has: the kernel's `pid_max`, since pids are allocated
/// below it. Every reader of one machine picks the same one, where the
/// highest free pid (as this once was) differed between two readers once
/// pids had wrapped and new processes took pids near the top.
fn unused_pid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(4_194_304)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn specs_resolve_to_real_pids() {
        let r = PidResolver::from_host();
        assert_eq!(r.resolve(PidSpec::SelfProcess, 0), std::process::id());
        assert_eq!(r.resolve(PidSpec::Literal(7), 0), 7);
        let host = r.resolve(PidSpec::Host(0), 0);
        assert!(std::path::Path::new(&format!("/proc/{host}")).exists() || !r.host.is_empty());
        assert_ne!(r.resolve(PidSpec::Host(0), 0), r.resolve(PidSpec::Host(0), 1));
        let gone = r.resolve(PidSpec::Gone, 0);
        assert!(!std::path::Path::new(&format!("/proc/{gone}")).exists());
        // pid_max itself, which the kernel never hands out: the same for
        // every reader, whatever runs meanwhile.
        let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(gone, pid_max);
        let _child = std::process::Command::new("true").status();
        assert_eq!(PidResolver::from_host().resolve(PidSpec::Gone, 0), gone);
    }

    #[test]
    fn the_host_pool_leaves_out_this_process_and_its_parent() {
        let r = PidResolver::from_host();
        if std::env::var_os(HOST_PIDS_ENV).is_none() && r.host.len() > 2 {
            assert!(!r.host.contains(&std::process::id()));
            assert!(!r.host.contains(&std::os::unix::process::parent_id()));
        }
    }

    #[test]
    fn an_explicit_pool_is_used_in_order() {
        let r = PidResolver::with_pool(vec![30, 10, 20]);
        assert_eq!(r.resolve(PidSpec::Host(0), 0), 30);
        assert_eq!(r.resolve(PidSpec::Host(1), 1), 20);
        assert_eq!(r.resolve(PidSpec::Host(2), 1), 30);
    }

    #[test]
    fn a_bound_process_is_alive_until_it_exits() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let r = PidResolver::with_pool(vec![child.id()]);
        let (pid, binding) = r.bind(PidSpec::Host(0), 0);
        assert_eq!(pid, child.id());
        let binding = binding.unwrap();
        assert!(binding.alive());
        child.kill().unwrap();
        // Not yet reaped: a zombie, whose contexts the driver has released.
        std::thread::sleep(std::time::Duration::from_millis(RECHECK_MS + 50));
        let zombie = binding.clone();
        assert!(!binding.alive());
        child.wait().unwrap();
        assert!(!binding.alive(), "gone stays gone");
        assert!(!zombie.alive());
        // The same pid with another start time is another process.
        let reused = Binding {
            start_ticks: Binding::of(std::process::id()).unwrap().start_ticks + 1,
            pid: std::process::id(),
            seen: AtomicU64::new(0),
        };
        assert!(!reused.alive());
        // A process seen running a moment ago is not looked at again yet.
        let me = Binding::of(std::process::id()).unwrap();
        assert!(me.alive());
        // `self`, `gone` and literal pids are not bound: listed as written.
        assert_eq!(r.bind(PidSpec::SelfProcess, 0).1, None);
        assert_eq!(r.bind(PidSpec::Gone, 0).1, None);
        assert_eq!(r.bind(PidSpec::Literal(4242), 0), (4242, None));
    }

    #[test]
    fn the_simulator_stops_listing_an_exited_process_and_frees_its_memory() {
        use crate::backend::{Backend, DeviceRef, sim::SimBackend, sim::scenario::Format, sim::scenario::Scenario};
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let text = "[[gpus]]\nmodel = \"L4\"\nprocesses = [{ pid = \"host:0\", memory_mib = 1000 }, { pid = \"gone\", memory_mib = 10 }]\n";
        let scenario = Scenario::parse(text, Format::Toml, std::path::Path::new("exit.toml")).unwrap();
        let sim = SimBackend::with_host_pool(scenario, vec![child.id()]);
        let gpu = DeviceRef::Physical(0);
        let pids = |sim: &SimBackend| -> Vec<u32> { sim.processes(gpu).unwrap().iter().map(|p| p.pid).collect() };
        let gone = PidResolver::from_host().resolve(PidSpec::Gone, 0);
        assert_eq!(pids(&sim), [child.id(), gone]);
        let used = sim.memory_info(gpu).unwrap().used;
        child.kill().unwrap();
        child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(RECHECK_MS + 20));
        // The exited process is gone; the scenario's deliberate `gone` pid stays.
        assert_eq!(pids(&sim), [gone]);
        assert_eq!(sim.memory_info(gpu).unwrap().used, used - 1000 * 1024 * 1024);
        assert!(
            sim.process_utilization(gpu, 0)
                .unwrap()
                .iter()
                .all(|s| s.pid != child.id())
        );
    }

    #[test]
    fn pool_parsing_skips_junk() {
        assert_eq!(parse_pool("1, 2,x,30"), vec![1, 2, 30]);
    }
}

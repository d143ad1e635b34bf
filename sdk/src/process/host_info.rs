//! Host-side process information, read through `sysinfo` for exactly the
//! pids that are needed.
//!
//! One process-wide `sysinfo::System` is kept so that CPU percentages can be
//! computed between two readings (a single reading has no time window). A
//! machine with thousands of processes costs nothing extra: only the pids a
//! snapshot asks for are refreshed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind, Users};

use super::proc_stat;
use crate::format::{bytes2human, timedelta2human};

/// What the host knows of one process at one moment (plain data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: Option<u32>,
    /// Executable name.
    pub name: String,
    /// Command line, one argument per element.
    pub cmdline: Vec<String>,
    /// The command line joined with shell quoting, ready to paste into a shell.
    pub command: String,
    /// Working directory, when readable.
    pub cwd: Option<PathBuf>,
    /// Owner's user name (or numeric uid when the name is unknown).
    pub username: Option<String>,
    /// Status as `ps` prints it (`R`, `S`, `D`, `Z`, ...).
    pub status: String,
    /// CPU usage in percent of one core (can exceed 100 for multi-threaded processes).
    pub cpu_percent: f64,
    /// Resident memory as a percent of the host's total memory.
    pub memory_percent: f64,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Resident set size as `1234MiB`.
    pub rss_human: String,
    /// Start time, seconds since the Unix epoch.
    pub create_time: u64,
    /// Seconds since the process started.
    pub running_time: u64,
    /// Running time as `46:13:33`.
    pub running_time_human: String,
    /// Start time in clock ticks after boot: with the pid, the process identity.
    pub start_ticks: u64,
}

struct HostState {
    system: System,
    users: Option<Users>,
    /// (pid, start ticks) seen at an earlier refresh: their CPU percent has a
    /// real time window. Processes seen for the first time get their lifetime
    /// average instead, as `ps` reports, rather than a meaningless zero.
    seen: HashSet<(u32, u64)>,
    memory_refreshed: Option<std::time::Instant>,
}

static STATE: Mutex<Option<HostState>> = Mutex::new(None);

fn with_state<T: Default>(f: impl FnOnce(&mut HostState) -> T) -> T {
    let mut guard = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    if guard.is_none() {
        match System::new() {
            Ok(system) => {
                *guard = Some(HostState {
                    system,
                    users: None,
                    seen: HashSet::new(),
                    memory_refreshed: None,
                });
            }
            Err(err) => {
                log::warn!("host process information unavailable: {err}");
                return T::default();
            }
        }
    }
    guard.as_mut().map(f).unwrap_or_default()
}

/// Reads host information for `pids` in one pass. Pids that no longer exist
/// are simply absent from the result.
pub fn host_process_infos(pids: &[u32]) -> HashMap<u32, HostProcessInfo> {
    let mut unique: Vec<u32> = pids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    with_state(|state| refresh(state, &unique))
}

/// Host information for one pid (`None` if it does not exist).
pub fn host_process_info(pid: u32) -> Option<HostProcessInfo> {
    host_process_infos(&[pid]).remove(&pid)
}

fn refresh(state: &mut HostState, pids: &[u32]) -> HashMap<u32, HostProcessInfo> {
    let now = std::time::Instant::now();
    // Total memory changes rarely; re-read it at most once a second.
    if state
        .memory_refreshed
        .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
    {
        state.system.refresh_memory();
        state.memory_refreshed = Some(now);
    }
    let sys_pids: Vec<Pid> = pids.iter().map(|&p| Pid::from_u32(p)).collect();
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_cmd(UpdateKind::OnlyIfNotSet)
        .with_cwd(UpdateKind::OnlyIfNotSet)
        .with_user(UpdateKind::OnlyIfNotSet);
    state
        .system
        .refresh_processes_specifics(ProcessesToUpdate::Some(&sys_pids), true, kind);

    let total_memory = state.system.total_memory();
    let boot = System::boot_time().unwrap_or(0);
    let mut out = HashMap::with_capacity(pids.len());
    for &pid in pids {
        let Some(process) = state.system.process(Pid::from_u32(pid)) else {
            continue;
        };
        // The identity comes from /proc directly: sysinfo's start time is in
        // whole seconds, too coarse to tell two processes apart.
        let Some(stat) = proc_stat::read(pid) else { continue };
        let first_seen = state.seen.insert((pid, stat.start_ticks));
        let running_time = process.run_time();
        let cpu_percent = if first_seen {
            lifetime_cpu_percent(process.accumulated_cpu_time(), running_time)
        } else {
            f64::from(process.cpu_usage())
        };
        let username = process.user_id().map(|uid| {
            if state.users.is_none() {
                state.users = Users::new_with_refreshed_list().ok();
            }
            let Some(users) = state.users.as_mut() else {
                return uid.to_string();
            };
            if users.get_user_by_id(uid).is_none() {
                users.refresh();
            }
            users
                .get_user_by_id(uid)
                .map_or_else(|| uid.to_string(), |u| u.name().to_owned())
        });
        let cmdline: Vec<String> = process.cmd().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let name = process.name().to_string_lossy().into_owned();
        let create_time = if process.start_time() > 0 {
            process.start_time()
        } else {
            boot
        };
        let rss = process.memory();
        out.insert(
            pid,
            HostProcessInfo {
                pid,
                ppid: Some(stat.ppid),
                command: command_line(&cmdline, &name),
                name,
                cmdline,
                cwd: process.cwd().map(PathBuf::from),
                username,
                status: status_letter(process.status()).to_owned(),
                cpu_percent,
                memory_percent: if total_memory > 0 {
                    rss as f64 * 100.0 / total_memory as f64
                } else {
                    0.0
                },
                rss,
                rss_human: bytes2human(rss),
                create_time,
                running_time,
                running_time_human: timedelta2human(Duration::from_secs(running_time)),
                start_ticks: stat.start_ticks,
            },
        );
    }
    // Forget identities not asked about in this pass so the set stays bounded.
    let asked: HashSet<u32> = pids.iter().copied().collect();
    if state.seen.len() > 4 * asked.len() + 1024 {
        state.seen.retain(|(pid, _)| asked.contains(pid));
    }
    out
}

fn lifetime_cpu_percent(cpu_ms: u64, running_secs: u64) -> f64 {
    if running_secs == 0 {
        0.0
    } else {
        cpu_ms as f64 / 10.0 / running_secs as f64
    }
}

/// The command line as one string a shell would read back into the same
/// arguments; the bare name for kernel threads, which have no arguments.
pub(crate) fn command_line(cmdline: &[String], name: &str) -> String {
    if cmdline.is_empty() {
        return name.to_owned();
    }
    cmdline
        .iter()
        .map(|arg| shlex::try_quote(arg).map_or_else(|_| arg.replace('\0', ""), std::borrow::Cow::into_owned))
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_letter(status: ProcessStatus) -> &'static str {
    match status {
        ProcessStatus::Run => "R",
        ProcessStatus::Sleep | ProcessStatus::Idle => "S",
        ProcessStatus::UninterruptibleDiskSleep => "D",
        ProcessStatus::Zombie => "Z",
        ProcessStatus::Stop => "T",
        ProcessStatus::Tracing => "t",
        ProcessStatus::Dead => "X",
        ProcessStatus::Wakekill => "K",
        ProcessStatus::Waking => "W",
        ProcessStatus::Parked => "P",
        _ => "?",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quotes_arguments_with_spaces() {
        let cmd = command_line(
            &["python".into(), "train.py".into(), "--name".into(), "my run".into()],
            "python",
        );
        assert_eq!(cmd, "python train.py --name 'my run'");
        assert_eq!(command_line(&[], "kworker/0:1"), "kworker/0:1");
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        let info = host_process_info(me).unwrap();
        assert_eq!(info.pid, me);
        assert!(info.rss > 0);
        assert!(!info.cmdline.is_empty());
        assert!(info.username.is_some());
        assert!(info.start_ticks > 0);
    }

    #[test]
    fn missing_pid_is_absent() {
        // Pid max on Linux is at most 2^22; this one cannot exist.
        assert!(host_process_info(u32::MAX - 1).is_none());
    }
}

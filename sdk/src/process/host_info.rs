//! Host-side process information, read from `/proc` for exactly the pids
//! that are needed.
//!
//! A process-wide table remembers every process seen, by identity (pid and
//! start ticks): its command line, working directory and user are read once,
//! and each later refresh reads only `/proc/<pid>/stat` (state, CPU ticks,
//! resident pages), which also gives CPU percentages their time window. A
//! machine with thousands of processes costs nothing extra: only the pids a
//! snapshot asks for are read. (`sysinfo` reads five to six files per
//! process per refresh, which made a snapshot of 512 processes take 45 ms on
//! a 2-core VM; see docs/ARCHITECTURE.md.) `sysinfo` still provides user
//! names and total memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sysinfo::{System, Users};

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

/// What is kept of a process between refreshes: the parts that never change
/// for one identity (read once), and the last CPU reading.
struct Known {
    start_ticks: u64,
    name: String,
    cmdline: Vec<String>,
    command: String,
    cwd: Option<PathBuf>,
    username: Option<String>,
    cpu_ticks: u64,
    read_at: Instant,
}

struct HostState {
    system: System,
    users: Option<Users>,
    known: HashMap<u32, Known>,
    memory_refreshed: Option<Instant>,
    boot_time: u64,
    ticks_per_second: u64,
    page_size: u64,
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
                    known: HashMap::new(),
                    memory_refreshed: None,
                    boot_time: System::boot_time().unwrap_or(0),
                    ticks_per_second: rustix::param::clock_ticks_per_second().max(1),
                    page_size: rustix::param::page_size() as u64,
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
    let now = Instant::now();
    // Total memory changes rarely; re-read it at most once a second.
    if state
        .memory_refreshed
        .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
    {
        state.system.refresh_memory();
        state.memory_refreshed = Some(now);
    }
    let total_memory = state.system.total_memory();
    let unix_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = HashMap::with_capacity(pids.len());
    for &pid in pids {
        // The one read a known process costs; a process that exited (or
        // whose pid is gone) drops out here.
        let Some(stat) = proc_stat::read(pid) else {
            state.known.remove(&pid);
            continue;
        };
        let create_time = state.boot_time + stat.start_ticks / state.ticks_per_second;
        let running_time = unix_now.saturating_sub(create_time);
        let cpu_percent = match state.known.get_mut(&pid) {
            Some(known) if known.start_ticks == stat.start_ticks => {
                let ticks = stat.cpu_ticks.saturating_sub(known.cpu_ticks);
                let secs = now.duration_since(known.read_at).as_secs_f64();
                known.cpu_ticks = stat.cpu_ticks;
                known.read_at = now;
                if secs > 0.0 {
                    ticks as f64 / state.ticks_per_second as f64 / secs * 100.0
                } else {
                    0.0
                }
            }
            _ => {
                // First sight of this identity (or a reused pid): read what
                // never changes, and report the lifetime average as `ps`
                // does rather than a meaningless zero.
                let known = first_sight(state, pid, &stat, now);
                state.known.insert(pid, known);
                lifetime_cpu_percent(stat.cpu_ticks * 1000 / state.ticks_per_second, running_time)
            }
        };
        let Some(known) = state.known.get(&pid) else { continue };
        let rss = stat.rss_pages * state.page_size;
        out.insert(
            pid,
            HostProcessInfo {
                pid,
                ppid: Some(stat.ppid),
                name: known.name.clone(),
                cmdline: known.cmdline.clone(),
                command: known.command.clone(),
                cwd: known.cwd.clone(),
                username: known.username.clone(),
                status: stat.state.to_string(),
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
    // Forget processes not asked about so the table stays bounded.
    if state.known.len() > 4 * pids.len() + 1024 {
        state.known.retain(|pid, _| pids.binary_search(pid).is_ok());
    }
    out
}

/// Reads the parts of a process that do not change while it lives.
fn first_sight(state: &mut HostState, pid: u32, stat: &proc_stat::ProcStat, now: Instant) -> Known {
    let cmdline: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let name = full_name(&stat.comm, &cmdline);
    let uid = rustix::fs::stat(format!("/proc/{pid}").as_str())
        .ok()
        .map(|st| st.st_uid);
    let username = uid.map(|uid| user_name(state, uid));
    Known {
        start_ticks: stat.start_ticks,
        command: command_line(&cmdline, &name),
        name,
        cmdline,
        cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).ok(),
        username,
        cpu_ticks: stat.cpu_ticks,
        read_at: now,
    }
}

/// The kernel cuts `comm` at 15 bytes; like `ps -o comm` users expect the
/// whole name, taken from the executable in the command line when it
/// starts with the cut one.
fn full_name(comm: &str, cmdline: &[String]) -> String {
    if comm.len() >= 15
        && let Some(exe) = cmdline.first().and_then(|c| c.rsplit('/').next())
        && exe.starts_with(comm)
    {
        return exe.to_owned();
    }
    comm.to_owned()
}

fn user_name(state: &mut HostState, uid: u32) -> String {
    let uid = sysinfo::Uid::try_from(uid as usize).ok();
    let Some(uid) = uid else {
        return String::new();
    };
    if state.users.is_none() {
        state.users = Users::new_with_refreshed_list().ok();
    }
    let Some(users) = state.users.as_mut() else {
        return uid.to_string();
    };
    if users.get_user_by_id(&uid).is_none() {
        users.refresh();
    }
    users
        .get_user_by_id(&uid)
        .map_or_else(|| uid.to_string(), |u| u.name().to_owned())
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

//! A host process with a stable identity.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rustix::process::Signal;

use super::host_info::{HostProcessInfo, HostProcessReader};
use super::{proc_stat, signal};
use crate::error::{Error, Result};

/// A process on the host, identified by `(pid, start time)`.
///
/// Getters read fresh values each call and return `None` once the process is
/// gone, or when the pid now belongs to another process. Signals refuse to go
/// to a reused pid.
///
/// Each handle reads through a [`HostProcessReader`] of its own, so
/// [`cpu_percent`](Self::cpu_percent) covers the time since *this handle's*
/// previous reading, whoever else reads the process; a clone starts with a
/// fresh window. Equality and hashing are by identity `(pid, start time)`.
///
/// ```
/// use nvitop::HostProcess;
/// let me = HostProcess::current();
/// assert_eq!(me.pid(), std::process::id());
/// assert!(me.is_running());
/// println!("{} {:?} {:?}", me.pid(), me.name(), me.running_time_human());
/// ```
pub struct HostProcess {
    pid: u32,
    start_ticks: u64,
    /// This handle's own reader: its CPU window and kept files.
    reader: Mutex<HostProcessReader>,
}

impl Clone for HostProcess {
    /// The same process, with a CPU window of its own (starting afresh).
    fn clone(&self) -> Self {
        Self::with_identity(self.pid, self.start_ticks)
    }
}

impl PartialEq for HostProcess {
    fn eq(&self, other: &Self) -> bool {
        (self.pid, self.start_ticks) == (other.pid, other.start_ticks)
    }
}

impl Eq for HostProcess {}

impl std::hash::Hash for HostProcess {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.pid, self.start_ticks).hash(state);
    }
}

impl fmt::Debug for HostProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostProcess")
            .field("pid", &self.pid)
            .field("start_ticks", &self.start_ticks)
            .finish_non_exhaustive()
    }
}

impl HostProcess {
    fn with_identity(pid: u32, start_ticks: u64) -> Self {
        Self {
            pid,
            start_ticks,
            reader: Mutex::new(HostProcessReader::new()),
        }
    }

    /// The process with this pid, as it is now.
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] when no process has this pid.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let me = HostProcess::new(std::process::id()).unwrap();
    /// assert_eq!(me, HostProcess::current());
    /// assert!(HostProcess::new(u32::MAX).is_err()); // no such pid
    /// ```
    pub fn new(pid: u32) -> Result<Self> {
        let stat = proc_stat::read(pid).ok_or(Error::NoSuchProcess { pid })?;
        Ok(Self::with_identity(pid, stat.start_ticks))
    }

    /// The calling process.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let me = HostProcess::current();
    /// assert_eq!(me.pid(), std::process::id());
    /// ```
    pub fn current() -> Self {
        let pid = std::process::id();
        // Our own /proc entry always exists; a zero start time would only make
        // identity checks stricter, never wrong.
        let start_ticks = proc_stat::read(pid).map_or(0, |s| s.start_ticks);
        Self::with_identity(pid, start_ticks)
    }

    /// Process id.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// assert_eq!(HostProcess::current().pid(), std::process::id());
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Start time in clock ticks after boot (with the pid, the identity).
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let me = HostProcess::current();
    /// // The same pid read again is the same process: same start time.
    /// assert_eq!(HostProcess::new(me.pid()).unwrap().start_ticks(), me.start_ticks());
    /// ```
    pub fn start_ticks(&self) -> u64 {
        self.start_ticks
    }

    /// Whether the process still exists and the pid was not reused.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// assert!(HostProcess::current().is_running());
    ///
    /// let mut child = std::process::Command::new("true").spawn().unwrap();
    /// let process = HostProcess::new(child.id()).unwrap();
    /// child.wait().unwrap(); // reaped: the pid is gone
    /// assert!(!process.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        proc_stat::read(self.pid).is_some_and(|s| s.start_ticks == self.start_ticks)
    }

    /// Everything the host knows about the process now (`None` once it exited
    /// or the pid was reused).
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let info = HostProcess::current().info().unwrap();
    /// assert_eq!(info.pid, std::process::id());
    /// assert!(!info.cmdline.is_empty());
    /// ```
    pub fn info(&self) -> Option<HostProcessInfo> {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        reader
            .info(self.pid)
            .filter(|info| info.start_ticks == self.start_ticks)
    }

    /// Executable name.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let name = HostProcess::current().name().unwrap();
    /// assert!(!name.is_empty());
    /// ```
    pub fn name(&self) -> Option<String> {
        self.info().map(|i| i.name)
    }

    /// Command line arguments.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let cmdline = HostProcess::current().cmdline().unwrap();
    /// assert_eq!(cmdline.len(), std::env::args().count());
    /// ```
    pub fn cmdline(&self) -> Option<Vec<String>> {
        self.info().map(|i| i.cmdline)
    }

    /// The command line as one shell-quoted string.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let command = HostProcess::current().command().unwrap();
    /// assert!(command.contains(&HostProcess::current().name().unwrap()), "{command}");
    /// ```
    pub fn command(&self) -> Option<String> {
        self.info().map(|i| i.command)
    }

    /// Working directory.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let cwd = HostProcess::current().cwd().unwrap();
    /// assert_eq!(cwd, std::env::current_dir().unwrap());
    /// ```
    pub fn cwd(&self) -> Option<std::path::PathBuf> {
        self.info().and_then(|i| i.cwd)
    }

    /// Owner's user name.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// assert!(HostProcess::current().username().is_some_and(|user| !user.is_empty()));
    /// ```
    pub fn username(&self) -> Option<String> {
        self.info().and_then(|i| i.username)
    }

    /// Status letter as `ps` prints it.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// // The calling process is running (`R`) or, between time slices, sleeping (`S`).
    /// let status = HostProcess::current().status().unwrap();
    /// assert!(!status.is_empty());
    /// ```
    pub fn status(&self) -> Option<String> {
        self.info().map(|i| i.status)
    }

    /// CPU percent of one core, up to the number of CPUs × 100.
    ///
    /// Measured over the time since this handle's previous reading (any of
    /// its getters reads), which nothing else restarts. A handle's first
    /// reading is a one-off: the process's lifetime average, as `ps` shows
    /// it. Within [`MIN_CPU_WINDOW`](crate::process::MIN_CPU_WINDOW) of
    /// the previous reading, that reading's figure again.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// use nvitop::process::MIN_CPU_WINDOW;
    /// let me = HostProcess::current();
    /// let lifetime = me.cpu_percent().unwrap();
    /// std::thread::sleep(MIN_CPU_WINDOW);
    /// let recent = me.cpu_percent().unwrap(); // over the last 200 ms
    /// assert!(lifetime >= 0.0 && recent >= 0.0);
    /// ```
    pub fn cpu_percent(&self) -> Option<f64> {
        self.info().map(|i| i.cpu_percent)
    }

    /// Resident memory as a percent of host memory.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let percent = HostProcess::current().memory_percent().unwrap();
    /// assert!(percent > 0.0 && percent < 100.0);
    /// ```
    pub fn memory_percent(&self) -> Option<f64> {
        self.info().map(|i| i.memory_percent)
    }

    /// Resident set size, bytes.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// assert!(HostProcess::current().rss().unwrap() > 0);
    /// ```
    pub fn rss(&self) -> Option<u64> {
        self.info().map(|i| i.rss)
    }

    /// Start time, seconds since the Unix epoch.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    /// assert!(HostProcess::current().create_time().unwrap() <= now.as_secs());
    /// ```
    pub fn create_time(&self) -> Option<u64> {
        self.info().map(|i| i.create_time)
    }

    /// Time since the process started.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let me = HostProcess::current();
    /// assert!(me.running_time().unwrap() < std::time::Duration::from_secs(24 * 3600));
    /// ```
    pub fn running_time(&self) -> Option<Duration> {
        self.info().map(|i| Duration::from_secs(i.running_time))
    }

    /// Running time as `46:13:33`.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let human = HostProcess::current().running_time_human().unwrap();
    /// assert!(human.contains(':'), "{human}");
    /// ```
    pub fn running_time_human(&self) -> Option<String> {
        self.info().map(|i| i.running_time_human)
    }

    /// Parent process id.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let me = HostProcess::current();
    /// assert_eq!(me.ppid(), Some(std::os::unix::process::parent_id()));
    /// ```
    pub fn ppid(&self) -> Option<u32> {
        proc_stat::read(self.pid)
            .filter(|s| s.start_ticks == self.start_ticks)
            .map(|s| s.ppid)
    }

    /// The parent process.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let parent = HostProcess::current().parent().unwrap();
    /// assert_eq!(parent.pid(), std::os::unix::process::parent_id());
    /// ```
    pub fn parent(&self) -> Option<Self> {
        self.ppid().and_then(|ppid| Self::new(ppid).ok())
    }

    /// Direct children, read from `/proc/<pid>/task/*/children`.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
    /// let pids: Vec<u32> = HostProcess::current().children().iter().map(HostProcess::pid).collect();
    /// assert!(pids.contains(&child.id()));
    /// # child.kill().unwrap();
    /// # child.wait().unwrap();
    /// ```
    pub fn children(&self) -> Vec<Self> {
        let mut pids = Vec::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) {
            for task in tasks.flatten() {
                if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                    pids.extend(text.split_ascii_whitespace().filter_map(|p| p.parse::<u32>().ok()));
                }
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids.into_iter().filter_map(|pid| Self::new(pid).ok()).collect()
    }

    /// Sends a signal (a raw signal number such as `libc::SIGUSR1`).
    ///
    /// The signal reaches this exact process or nobody: it goes through a
    /// pidfd opened *before* the identity check, so a pid reused in between
    /// cannot be hit. Where `pidfd_open` is missing (Linux before 5.3) or
    /// refused by a container's system-call filter, a `/proc/<pid>`
    /// directory fd does the same (Linux 5.1 on); where that is refused too,
    /// `kill(2)` right after the identity check, which leaves a race no
    /// wider than a pid reuse within microseconds (see `docs/ARCHITECTURE.md`).
    ///
    /// # Errors
    /// [`Error::PidReused`] when the pid belongs to another process now,
    /// [`Error::NoSuchProcess`] when it exited, [`Error::PermissionDenied`]
    /// when the kernel refuses (not the owner: a filtered system call is
    /// not reported as this), [`Error::Os`] for an unknown signal number
    /// or another failure, naming the call and why better ways were
    /// passed over.
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    /// HostProcess::new(child.id()).unwrap().send_signal(10).unwrap(); // SIGUSR1
    /// assert_eq!(child.wait().unwrap().signal(), Some(10));
    /// ```
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        let sig = Signal::from_named_raw(signal).ok_or_else(|| Error::Os {
            pid: self.pid,
            action: format!("signal {signal}"),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        })?;
        signal::send(&signal::Kernel, self.pid, self.start_ticks, sig).map(|_way| ())
    }

    /// Sends `SIGINT`.
    ///
    /// # Errors
    /// As [`HostProcess::send_signal`].
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    /// HostProcess::new(child.id()).unwrap().interrupt().unwrap();
    /// assert_eq!(child.wait().unwrap().signal(), Some(2)); // SIGINT
    /// ```
    pub fn interrupt(&self) -> Result<()> {
        self.send_signal(libc::SIGINT)
    }

    /// Sends `SIGTERM`.
    ///
    /// # Errors
    /// As [`HostProcess::send_signal`].
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    /// let process = HostProcess::new(child.id()).unwrap();
    /// process.terminate().unwrap();
    /// assert_eq!(child.wait().unwrap().signal(), Some(15)); // SIGTERM
    /// // The process is gone: a second signal is refused instead of hitting a reused pid.
    /// assert!(process.terminate().is_err());
    /// ```
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(libc::SIGTERM)
    }

    /// Sends `SIGKILL`.
    ///
    /// # Errors
    /// As [`HostProcess::send_signal`].
    ///
    /// ```
    /// # use nvitop::HostProcess;
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    /// HostProcess::new(child.id()).unwrap().kill().unwrap();
    /// assert_eq!(child.wait().unwrap().signal(), Some(9)); // SIGKILL
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.send_signal(libc::SIGKILL)
    }
}

impl fmt::Display for HostProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    /// A pid reused by another process cannot be forced here (pids wrap only
    /// after the whole range is used), so the identity check is proven on a
    /// handle whose start time differs from the live process's.
    #[test]
    fn a_reused_pid_is_refused() {
        let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
        let live = HostProcess::new(victim.id()).unwrap();
        let stale = HostProcess::with_identity(live.pid, live.start_ticks - 1);
        let err = stale.terminate().unwrap_err();
        assert!(matches!(err, Error::PidReused { .. }), "{err}");
        assert!(err.to_string().contains("different process"));
        assert!(!stale.is_running());
        assert_eq!(stale.name(), None);
        assert_eq!(stale.ppid(), None);
        // The live process was not touched.
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            assert!(victim.try_wait().unwrap().is_none());
            std::thread::sleep(Duration::from_millis(20));
        }
        live.kill().unwrap();
        assert!(!victim.wait().unwrap().success());
    }

    #[test]
    fn unknown_signal_number_is_an_error() {
        let me = HostProcess::current();
        assert!(matches!(me.send_signal(0x7fff), Err(Error::Os { .. })));
    }
}

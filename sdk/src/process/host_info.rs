//! Host-side process information, read from `/proc` for exactly the pids
//! that are needed.
//!
//! A [`HostProcessReader`] remembers every process it has seen, by identity
//! (pid and start ticks): its command line and user are read once (again
//! after an `exec`), and each later refresh reads `/proc/<pid>/stat`
//! (state, CPU ticks) and `statm` (resident pages: the exact count, see
//! [`proc_stat::resident_pages`]), one `pread` each once the files are kept
//! open, and the working directory link, which can change at any time. A
//! machine with thousands of processes costs nothing extra: only the pids a
//! reader asks for are read. (`sysinfo` reads five to six files per process
//! per refresh, which made a snapshot of 512 processes several times
//! slower; see docs/ARCHITECTURE.md.)
//!
//! CPU percentages need a previous reading, and each reader keeps its own
//! ([`CpuWindow`]): the sampler, the collector, the monitor and user code
//! can read the same processes at once and each gets the figure over its
//! own window. User names come from the C library ([`crate::users`]);
//! total memory, for `%MEM`, from [`crate::host`].

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cpu_window::{CpuScale, CpuWindow};
use super::proc_stat;
use crate::format::{bytes2human, timedelta2human};

/// What the host knows of one process at one moment (plain data).
///
/// ```
/// let info = nvitop::process::host_process_info(std::process::id()).unwrap();
/// assert_eq!(info.pid, std::process::id());
/// assert!(info.rss > 0 && info.rss_human.ends_with("iB"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// CPU usage in percent of one core, over the reading reader's own
    /// window (see [`HostProcessReader`]): up to 100 per busy thread, never
    /// above the number of CPUs × 100.
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

impl HostProcessInfo {
    /// Process `pid` started at `start_ticks` (its identity) with nothing
    /// else known: empty names and command, zero figures, `N/A` humans.
    /// For code that builds snapshots itself (tests, replays) and sets the
    /// fields it has; the struct is `#[non_exhaustive]`.
    ///
    /// ```
    /// use nvitop::HostProcessInfo;
    /// let mut info = HostProcessInfo::new(4242, 1000);
    /// info.username = Some("alice".to_owned());
    /// info.cmdline = vec!["python".to_owned(), "train.py".to_owned()];
    /// assert_eq!((info.pid, info.start_ticks, info.rss), (4242, 1000, 0));
    /// ```
    pub fn new(pid: u32, start_ticks: u64) -> Self {
        Self {
            pid,
            ppid: None,
            name: String::new(),
            cmdline: Vec::new(),
            command: String::new(),
            cwd: None,
            username: None,
            status: String::new(),
            cpu_percent: 0.0,
            memory_percent: 0.0,
            rss: 0,
            rss_human: "N/A".to_owned(),
            create_time: 0,
            running_time: 0,
            running_time_human: "N/A".to_owned(),
            start_ticks,
        }
    }
}

/// What a reader keeps of a process between refreshes: the parts that never
/// change for one identity (read once), and its CPU window.
struct Known {
    start_ticks: u64,
    /// `comm` when the rest was read: `exec` changes it (but not the start
    /// time), which tells us to read the command line again.
    comm: String,
    name: String,
    cmdline: Vec<String>,
    command: String,
    username: Option<String>,
    /// When the command line was last read (the pass that did it).
    described_at: Instant,
    cpu: CpuWindow,
    /// `/proc/<pid>/stat` and `statm`, kept open (within the process-wide
    /// [`file_budget`]) so a refresh is two `pread`s instead of two
    /// `open`, `read` and `close`. Only from the second refresh of an
    /// identity on: see [`open_all`].
    files: Option<KeptFiles>,
}

/// The open files a known process is refreshed from. Each holds one slot
/// of the process-wide [`file_budget`], given back when dropped.
struct KeptFiles {
    stat: File,
    statm: File,
}

/// Processes whose files are kept open, over all readers.
static FILES_KEPT: AtomicUsize = AtomicUsize::new(0);

impl KeptFiles {
    /// Keeps the files when the budget has room (else they are closed).
    fn keep(stat: File, statm: File) -> Option<Self> {
        let budget = file_budget();
        FILES_KEPT
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < budget).then_some(n + 1))
            .ok()
            .map(|_| Self { stat, statm })
    }

    /// The stat line, with the exact resident pages of `statm` (see
    /// [`proc_stat::resident_pages`]).
    fn reread(&self) -> Option<proc_stat::ProcStat> {
        let mut stat = proc_stat::reread(&self.stat)?;
        if let Some(pages) = proc_stat::resident_pages(&self.statm) {
            stat.rss_pages = pages;
        }
        Some(stat)
    }
}

impl Drop for KeptFiles {
    fn drop(&mut self) {
        FILES_KEPT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Reads host information about processes, keeping what it needs between
/// reads: each process's CPU window, its command line and owner (read once
/// per identity), and (from a process's second read on) its open `/proc`
/// files.
///
/// Every part of a program that shows CPU percentages over time (a
/// sampler, a monitor's refresh loop) owns one reader, so its figures cover
/// the time since *its* previous read, whoever else reads the same
/// processes. A read sooner than [`MIN_CPU_WINDOW`](super::MIN_CPU_WINDOW)
/// after the previous one repeats that window's figure; the first read of a
/// process gives its lifetime average (as `ps` does). No figure is above
/// the number of CPUs × 100.
///
/// ```
/// use nvitop::process::HostProcessReader;
/// let mut reader = HostProcessReader::new();
/// let me = std::process::id();
/// for _ in 0..3 {
///     let infos = reader.infos(&[me, u32::MAX]);
///     assert!(infos[&me].cpu_percent >= 0.0);
///     assert!(!infos.contains_key(&u32::MAX)); // no such process: simply absent
///     std::thread::sleep(std::time::Duration::from_millis(100));
/// }
/// ```
pub struct HostProcessReader {
    known: HashMap<u32, Known>,
    /// Total physical memory (for `%MEM`) and when it was read.
    total_memory: Option<(u64, Instant)>,
    scale: CpuScale,
    page_size: u64,
}

impl std::fmt::Debug for HostProcessReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostProcessReader")
            .field("known", &self.known.len())
            .finish_non_exhaustive()
    }
}

impl Default for HostProcessReader {
    fn default() -> Self {
        Self::new()
    }
}

impl HostProcessReader {
    /// A reader that has seen nothing yet (cheap: nothing is read until
    /// asked).
    ///
    /// ```
    /// let mut reader = nvitop::process::HostProcessReader::new();
    /// assert!(reader.info(std::process::id()).is_some());
    /// ```
    pub fn new() -> Self {
        Self {
            known: HashMap::new(),
            total_memory: None,
            scale: CpuScale {
                ticks_per_second: rustix::param::clock_ticks_per_second().max(1),
                cpus: online_cpus(),
            },
            page_size: rustix::param::page_size() as u64,
        }
    }

    /// Reads host information for `pids` in one pass. Pids that no longer
    /// exist are simply absent from the result.
    ///
    /// ```
    /// let mut reader = nvitop::process::HostProcessReader::new();
    /// let me = std::process::id();
    /// let infos = reader.infos(&[me, me]);
    /// assert_eq!(infos.len(), 1);
    /// assert_eq!(infos[&me].pid, me);
    /// ```
    pub fn infos(&mut self, pids: &[u32]) -> HashMap<u32, HostProcessInfo> {
        let mut unique: Vec<u32> = pids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        refresh(self, &unique)
    }

    /// Host information for one pid (`None` if it does not exist).
    ///
    /// ```
    /// let mut reader = nvitop::process::HostProcessReader::new();
    /// assert!(reader.info(std::process::id()).is_some());
    /// assert!(reader.info(u32::MAX).is_none());
    /// ```
    pub fn info(&mut self, pid: u32) -> Option<HostProcessInfo> {
        refresh(self, &[pid]).remove(&pid)
    }
}

/// Reads host information for `pids` once, with a reader of its own: each
/// `cpu_percent` is the process's lifetime average, as `ps` shows it, since
/// a one-off read has no previous reading to measure from. Keep a
/// [`HostProcessReader`] to follow processes over time.
///
/// ```
/// use nvitop::process::host_process_infos;
/// let me = std::process::id();
/// let infos = host_process_infos(&[me, u32::MAX]);
/// assert!(infos.contains_key(&me));
/// assert!(!infos.contains_key(&u32::MAX)); // no such process: simply absent
/// ```
pub fn host_process_infos(pids: &[u32]) -> HashMap<u32, HostProcessInfo> {
    HostProcessReader::new().infos(pids)
}

/// Host information for one pid (`None` if it does not exist), read once:
/// see [`host_process_infos`] for what its `cpu_percent` means.
///
/// ```
/// use nvitop::process::host_process_info;
/// assert!(host_process_info(std::process::id()).is_some());
/// assert!(host_process_info(u32::MAX).is_none());
/// ```
pub fn host_process_info(pid: u32) -> Option<HostProcessInfo> {
    host_process_infos(&[pid]).remove(&pid)
}

/// CPUs online: the most CPUs any process can use at once. Not
/// [`crate::host::cpu_count`], which is what the *calling* process may use
/// (its affinity and cgroup quota); another process may have more.
fn online_cpus() -> u32 {
    static CPUS: OnceLock<u32> = OnceLock::new();
    *CPUS.get_or_init(|| {
        let listed = std::fs::read_to_string("/proc/stat").map_or(0, |text| {
            text.lines()
                .filter(|line| line.starts_with("cpu") && line.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
                .count()
        });
        u32::try_from(listed.max(crate::host::cpu_count()).max(1)).unwrap_or(u32::MAX)
    })
}

/// How many processes may keep their two files open, over all readers:
/// together a quarter of the soft limit on open files, at most 2048 files,
/// so the program embedding the SDK keeps nearly all of its descriptors.
fn file_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1024);
        usize::try_from(soft / 4).unwrap_or(2048).min(2048) / 2
    })
}

/// What a refresh learned about one pid whose stat file it had to open.
enum Opened {
    /// An identity not seen before (or a pid reused since): what never
    /// changes, read now. Its stat file is already closed (see [`open_all`]).
    New {
        pid: u32,
        stat: proc_stat::ProcStat,
        first: FirstSight,
    },
    /// The identity we knew, whose files we did not hold: the files, worth
    /// keeping now (none when `statm` would not open).
    Seen {
        pid: u32,
        stat: proc_stat::ProcStat,
        files: Option<(File, File)>,
    },
}

/// The parts of a process that change only when it calls `exec`.
struct FirstSight {
    cmdline: Vec<String>,
    uid: Option<u32>,
}

/// Pids whose files must be opened: above this many, the reads are split
/// over threads (a one-shot monitor on a node with hundreds of GPU
/// processes opens several files of each).
const PARALLEL_OPEN_THRESHOLD: usize = 64;

fn refresh(reader: &mut HostProcessReader, pids: &[u32]) -> HashMap<u32, HostProcessInfo> {
    let now = Instant::now();
    // Total memory changes rarely (memory hot-plug); re-read it at most
    // once a second.
    let total_memory = match reader.total_memory {
        Some((total, read)) if now.duration_since(read) <= Duration::from_secs(1) => total,
        _ => {
            let total = crate::host::total_memory();
            reader.total_memory = Some((total, now));
            total
        }
    };
    let clocks = Clocks::now();
    let ticks_per_second = reader.scale.ticks_per_second;

    // Known processes with their files open: two preads each. The rest (new,
    // reused, or known without a file) go to `to_open` with the start ticks
    // we knew, if any.
    let mut stats: Vec<(u32, proc_stat::ProcStat)> = Vec::with_capacity(pids.len());
    let mut to_open: Vec<(u32, Option<u64>)> = Vec::new();
    for &pid in pids {
        match reader.known.get(&pid) {
            Some(known) => {
                let reread = known.files.as_ref().and_then(KeptFiles::reread);
                match reread {
                    Some(stat) if stat.start_ticks == known.start_ticks => stats.push((pid, stat)),
                    _ => to_open.push((pid, Some(known.start_ticks))),
                }
            }
            None => to_open.push((pid, None)),
        }
    }
    for opened in open_all(&to_open) {
        match opened {
            Err(pid) => {
                reader.known.remove(&pid);
            }
            Ok(opened) => stats.push(adopt(reader, opened, now)),
        }
    }

    let mut out = HashMap::with_capacity(pids.len());
    for (pid, stat) in stats {
        let Some(known) = reader.known.get_mut(&pid) else {
            continue;
        };
        // A new `comm` means the process called `exec` since we read its
        // command line (an empty one: we caught it mid-`exec`, or it is a
        // kernel thread): read it again, unless this pass just did.
        if known.described_at != now && (known.comm != stat.comm || known.cmdline.is_empty()) {
            let first = first_sight(pid, known.files.as_ref().map(|f| &f.stat));
            describe(known, &stat.comm, first, now);
        }
        // The working directory can change at any time: read it each pass.
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        let (create_time, running_secs) = clocks.start_and_age(stat.start_ticks, ticks_per_second);
        let running_time = running_secs as u64;
        let cpu_percent = known.cpu.percent(stat.cpu_ticks, now, running_secs, reader.scale);
        let rss = stat.rss_pages * reader.page_size;
        out.insert(
            pid,
            HostProcessInfo {
                pid,
                ppid: Some(stat.ppid),
                name: known.name.clone(),
                cmdline: known.cmdline.clone(),
                command: known.command.clone(),
                cwd,
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
    // Forget processes not asked about so the table (and its open files)
    // stays bounded.
    if reader.known.len() > 4 * pids.len() + 1024 {
        reader.known.retain(|pid, _| pids.binary_search(pid).is_ok());
    }
    out
}

/// Opens the stat and statm files of each pid and, for identities not seen
/// before, reads what never changes; split over threads when there are
/// many. `Err(pid)` for a process that no longer exists.
///
/// The files of an identity seen for the first time are closed at once:
/// only one asked about again (a sampler, the interactive monitor) keeps
/// it. A one-shot reader of hundreds of processes then never holds hundreds
/// of descriptors at once, and so never makes the kernel grow the
/// descriptor table while reader threads share it, which waits for an RCU
/// grace period at each doubling (about 10 ms each at 256 and 512 open
/// files on a 2-core VM: half of the one-shot monitor's run time on the
/// 8 × 64-process benchmark).
fn open_all(to_open: &[(u32, Option<u64>)]) -> Vec<Result<Opened, u32>> {
    let open_one = |&(pid, known_start): &(u32, Option<u64>)| {
        let (file, mut stat) = proc_stat::open(pid).ok_or(pid)?;
        let statm = proc_stat::open_statm(pid);
        if let Some(pages) = statm.as_ref().and_then(proc_stat::resident_pages) {
            stat.rss_pages = pages;
        }
        Ok(if known_start == Some(stat.start_ticks) {
            let files = statm.map(|statm| (file, statm));
            Opened::Seen { pid, stat, files }
        } else {
            Opened::New {
                pid,
                stat,
                first: first_sight(pid, Some(&file)),
            }
        })
    };
    if to_open.len() <= PARALLEL_OPEN_THRESHOLD {
        return to_open.iter().map(open_one).collect();
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .min(4);
    let chunk = to_open.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = to_open
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(open_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            // A reader thread cannot panic on I/O (every error is a value);
            // should it anyway, its processes are missing from this pass
            // rather than taking the program down.
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Records an opened process in the reader's table: a new identity replaces
/// what was known of the pid; a known one keeps its files while the budget
/// allows. Returns the pid and its stat.
fn adopt(reader: &mut HostProcessReader, opened: Opened, now: Instant) -> (u32, proc_stat::ProcStat) {
    match opened {
        Opened::New { pid, stat, first } => {
            let mut known = Known {
                start_ticks: stat.start_ticks,
                comm: String::new(),
                name: String::new(),
                cmdline: Vec::new(),
                command: String::new(),
                username: None,
                described_at: now,
                cpu: CpuWindow::start(stat.cpu_ticks, now),
                files: None,
            };
            describe(&mut known, &stat.comm, first, now);
            reader.known.insert(pid, known);
            (pid, stat)
        }
        Opened::Seen { pid, stat, files } => {
            if let Some(known) = reader.known.get_mut(&pid)
                && known.files.is_none()
            {
                known.files = files.and_then(|(stat, statm)| KeptFiles::keep(stat, statm));
            }
            (pid, stat)
        }
    }
}

/// Sets what the command line tells of a process (its name, command and
/// owner), at first sight or again after an `exec`.
fn describe(known: &mut Known, comm: &str, first: FirstSight, now: Instant) {
    known.name = full_name(comm, &first.cmdline);
    known.command = command_line(&first.cmdline, &known.name);
    comm.clone_into(&mut known.comm);
    known.cmdline = first.cmdline;
    known.username = first.uid.map(crate::users::user_name_or_uid);
    known.described_at = now;
}

/// Reads the parts of a process that change only when it calls `exec`.
/// `stat_file`, the process's open `/proc/<pid>/stat` when the caller has
/// it, gives the owner without another path lookup (the kernel sets every
/// file of `/proc/<pid>` to the owner of the directory).
fn first_sight(pid: u32, stat_file: Option<&File>) -> FirstSight {
    let cmdline = read_cmdline(pid);
    let owner = match stat_file {
        Some(file) => rustix::fs::fstat(file),
        None => rustix::fs::stat(format!("/proc/{pid}").as_str()),
    };
    FirstSight {
        cmdline,
        uid: owner.ok().map(|st| st.st_uid),
    }
}

/// `/proc/<pid>/cmdline` split at NULs (empty for kernel threads).
fn read_cmdline(pid: u32) -> Vec<String> {
    let Ok(file) = File::open(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    // Plain reads to the end: `read_to_end` on a `File` first asks for the
    // size (a `statx` and an `lseek`), which `/proc` reports as zero; two
    // wasted system calls per process on a one-shot run over hundreds.
    let mut raw = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        match (&file).read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Vec::new(),
        }
    }
    raw.split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
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

/// The clocks a process's age is read against, taken once per refresh.
#[derive(Debug, Clone, Copy)]
struct Clocks {
    /// Since boot, suspend included: the clock `/proc/<pid>/stat` counts a
    /// process's start on.
    since_boot: Duration,
    /// Since the Unix epoch.
    unix: Duration,
}

impl Clocks {
    fn now() -> Self {
        Self {
            since_boot: crate::host::clock_time(rustix::time::ClockId::Boottime),
            unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// `(create_time, running seconds)` of a process that started
    /// `start_ticks` clock ticks after boot. The age comes from the boot
    /// clock, exact to a tick: the boot time `/proc/stat` gives is cut to a
    /// whole second, and with the start cut to one too, a process started
    /// a moment ago read as running for a second or two.
    fn start_and_age(self, start_ticks: u64, ticks_per_second: u64) -> (u64, f64) {
        let started = start_ticks as f64 / ticks_per_second.max(1) as f64;
        let running = (self.since_boot.as_secs_f64() - started).max(0.0);
        let create_time = (self.unix.as_secs_f64() - running).max(0.0) as u64;
        (create_time, running)
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
    fn a_reader_can_move_to_another_thread() {
        // The sampler keeps one behind a mutex shared with its thread.
        fn send<T: Send>(_: &T) {}
        let mut reader = HostProcessReader::new();
        let me = std::process::id();
        assert!(reader.info(me).is_some());
        send(&reader);
        let moved = std::thread::spawn(move || reader.info(me).is_some()).join().unwrap();
        assert!(moved);
    }

    #[test]
    fn quotes_arguments_with_spaces() {
        let cmd = command_line(
            &["python".into(), "train.py".into(), "--name".into(), "my run".into()],
            "python",
        );
        assert_eq!(cmd, "python train.py --name 'my run'");
        assert_eq!(command_line(&[], "kworker/0:1"), "kworker/0:1");
    }

    /// Waits until a just-spawned child has finished `exec` (its command
    /// line is readable), as a freshly forked child has none yet.
    fn wait_for_exec(pid: u32) {
        for _ in 0..500 {
            if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_process_that_execs_is_seen_with_its_new_command() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.3; exec sleep 30"])
            .spawn()
            .unwrap();
        let pid = child.id();
        wait_for_exec(pid);
        // One reader (which remembers the command line) sees the exec.
        let mut reader = HostProcessReader::new();
        let before = reader.info(pid).unwrap();
        assert_eq!(before.name, "sh");
        std::thread::sleep(Duration::from_millis(800));
        let after = reader.info(pid).unwrap();
        assert_eq!(after.start_ticks, before.start_ticks, "exec keeps the identity");
        assert_eq!(after.name, "sleep");
        assert_eq!(after.command, "sleep 30");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_kept_stat_file_follows_its_process_until_it_exits() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        wait_for_exec(pid);
        let mut reader = HostProcessReader::new();
        let first = reader.info(pid).unwrap();
        assert_eq!(first.name, "sleep");
        assert_eq!(first.cmdline, vec!["sleep".to_owned(), "30".to_owned()]);
        // Second pass opens the file and keeps it; the third re-reads the
        // kept file: same identity, same facts.
        for _ in 0..2 {
            let again = reader.info(pid).unwrap();
            assert_eq!(again.start_ticks, first.start_ticks);
            assert_eq!(again.command, "sleep 30");
        }
        assert_eq!(open_stat_files(&[pid]), 1);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(reader.info(pid).is_none(), "an exited process drops out");
        drop(reader);
    }

    /// `n` running `sleep 30` children (past `exec`) and their pids: more
    /// than [`PARALLEL_OPEN_THRESHOLD`] make a refresh use reader threads.
    fn sleepers(n: usize) -> (Vec<std::process::Child>, Vec<u32>) {
        let children: Vec<_> = (0..n)
            .map(|_| std::process::Command::new("sleep").arg("30").spawn().unwrap())
            .collect();
        let pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
        pids.iter().copied().for_each(wait_for_exec);
        (children, pids)
    }

    #[test]
    fn many_new_processes_are_read_in_parallel_and_agree() {
        let (mut children, pids) = sleepers(PARALLEL_OPEN_THRESHOLD + 8);
        let infos = host_process_infos(&pids);
        assert_eq!(infos.len(), pids.len());
        assert!(
            infos
                .values()
                .all(|i| i.command == "sleep 30" && i.ppid == Some(std::process::id()))
        );
        for child in &mut children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert!(host_process_infos(&pids).is_empty());
    }

    /// How many of this process's descriptors are open on `/proc/<pid>/stat`
    /// for one of `pids`.
    fn open_stat_files(pids: &[u32]) -> usize {
        open_proc_files(pids, "stat")
    }

    /// How many of this process's descriptors are open on `/proc/<pid>/<file>`
    /// for one of `pids`.
    fn open_proc_files(pids: &[u32], file: &str) -> usize {
        let wanted: Vec<String> = pids.iter().map(|p| format!("/proc/{p}/{file}")).collect();
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
            .count()
    }

    #[test]
    fn stat_files_stay_open_only_for_processes_asked_about_again() {
        let (mut children, pids) = sleepers(PARALLEL_OPEN_THRESHOLD + 8);
        // First sight (a one-shot reader): every file is closed again.
        let mut reader = HostProcessReader::new();
        assert_eq!(reader.infos(&pids).len(), pids.len());
        assert_eq!(open_stat_files(&pids), 0);
        assert_eq!(open_proc_files(&pids, "statm"), 0);
        // Asked again: now worth keeping (the budget is far above 72 here).
        assert_eq!(reader.infos(&pids).len(), pids.len());
        assert_eq!(open_stat_files(&pids), pids.len());
        assert_eq!(open_proc_files(&pids, "statm"), pids.len());
        // And the kept files answer the third pass.
        let third = reader.infos(&pids);
        assert!(third.values().all(|i| i.command == "sleep 30"));
        for child in &mut children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert!(reader.infos(&pids).is_empty());
        assert_eq!(open_stat_files(&pids), 0, "files of exited processes are closed");
    }

    /// Resident bytes as `statm` (and psutil, and `top`) count them.
    fn statm_rss(pid: u32) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
        let pages: u64 = text.split_ascii_whitespace().nth(1).unwrap().parse().unwrap();
        pages * rustix::param::page_size() as u64
    }

    /// Waits until `pid` sleeps (state `S`): past `exec` and the dynamic
    /// loader, so its resident memory holds still.
    fn wait_for_sleep(pid: u32) {
        for _ in 0..500 {
            if proc_stat::read(pid).is_some_and(|s| s.state == 'S') {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn resident_memory_is_statms_on_every_pass() {
        let (mut children, pids) = sleepers(3);
        // A process still loading its libraries grows between two reads.
        pids.iter().copied().for_each(wait_for_sleep);
        // First sight, seen again (files opened and kept), then from the kept files.
        let mut reader = HostProcessReader::new();
        for pass in ["first sight", "second", "kept files"] {
            let infos = reader.infos(&pids);
            for &pid in &pids {
                assert_eq!(infos[&pid].rss, statm_rss(pid), "{pass}, pid {pid}");
            }
        }
        for child in &mut children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    #[test]
    fn age_is_read_on_the_boot_clock_to_the_tick() {
        let clocks = Clocks {
            since_boot: Duration::from_millis(1_000_500),
            unix: Duration::from_millis(1_800_000_000_700),
        };
        // Started 50 ms ago (at 1000.45 s after boot): no whole second yet.
        let (create, running) = clocks.start_and_age(100_045, 100);
        assert!((running - 0.05).abs() < 1e-6, "{running}");
        assert_eq!(create, 1_800_000_000);
        // Started 10.5 s ago.
        let (create, running) = clocks.start_and_age(99_000, 100);
        assert!((running - 10.5).abs() < 1e-6);
        assert_eq!(create, 1_799_999_990);
        // A start after "now" (clock read before the process appeared) is age 0.
        assert!(clocks.start_and_age(200_000, 100).1.abs() < f64::EPSILON);
    }

    #[test]
    fn a_process_started_a_moment_ago_has_run_for_no_whole_second() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let info = host_process_info(child.id()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(info.running_time, 0, "{info:?}");
        assert_eq!(info.running_time_human, "0:00");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            (now - 2..=now).contains(&info.create_time),
            "{} vs {now}",
            info.create_time
        );
    }

    #[test]
    fn the_owner_from_the_open_stat_file_is_the_directorys() {
        let me = std::process::id();
        for pid in [1, me] {
            let Some((file, _)) = proc_stat::open(pid) else {
                continue;
            };
            let dir = rustix::fs::stat(format!("/proc/{pid}").as_str()).unwrap();
            assert_eq!(first_sight(pid, Some(&file)).uid, Some(dir.st_uid), "pid {pid}");
            assert_eq!(first_sight(pid, None).uid, Some(dir.st_uid), "pid {pid}");
        }
        let (file, _) = proc_stat::open(me).unwrap();
        let first = first_sight(me, Some(&file));
        assert_eq!(first.uid, Some(rustix::process::geteuid().as_raw()));
        assert_eq!(
            first.cmdline,
            std::env::args().collect::<Vec<_>>(),
            "read whole, split at NULs"
        );
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

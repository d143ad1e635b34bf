//! Collection, on a thread of its own: the UI thread never calls the
//! driver. Every driver and `/proc` read of the viewer is in this module
//! ([`SnapshotSource`]) and its helpers ([`crate::live::tree`] for the
//! process tree, [`read_environment`] for the environment screen), so
//! switching to another SDK reading API is an edit here only.
//!
//! Devices and host are read every `device_interval`, processes every
//! `process_interval`; each reading is published whole (a [`Published`]
//! on the event channel) and the UI keeps the newest. A device-only
//! reading carries the previous process list forward. After each reading
//! the collector adds it to the [`History`] rings the graphs draw.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nvitop::backend::Backend;
use nvitop::device::GpmSampler;
use nvitop::process::HostProcessReader;
use nvitop::snapshot::SnapshotFields;
use nvitop::training::{ProcessIdentity, TrainingRecord};
use nvitop::{Device, Snapshot};

use crate::filter::ProcessFilter;
use crate::live::Event;
use crate::live::history::History;
use crate::live::rows::ProcessKey;
use crate::live::tree::{self, Tree};

/// Default seconds between device and host readings.
pub const DEVICE_INTERVAL: Duration = Duration::from_secs(1);
/// Default seconds between process readings.
pub const PROCESS_INTERVAL: Duration = Duration::from_secs(2);

/// How often to read, from `--interval` (seconds): it sets the process
/// interval and, below the device default, the device interval too.
pub fn intervals(interval: Option<f64>) -> (Duration, Duration) {
    match interval {
        None => (DEVICE_INTERVAL, PROCESS_INTERVAL),
        Some(secs) => {
            let process = Duration::from_secs_f64(secs);
            (process.min(DEVICE_INTERVAL), process)
        }
    }
}

/// Where snapshots come from. The viewer's one is [`SnapshotSource`];
/// tests put a slow or scripted one in its place.
pub trait Source: Send + 'static {
    /// Devices, host and processes.
    fn full(&mut self) -> Snapshot;
    /// Devices and host, with `previous`'s processes.
    fn devices(&mut self, previous: &Snapshot) -> Snapshot;
    /// Whether to read PCIe throughput from now on (only while a graph
    /// shows it: each reading costs 20 ms per GPU and direction).
    fn set_pcie(&mut self, _read: bool) {}
    /// Whether to take GPM samples from now on (only while the device
    /// graph shows them: GPM shares counters with DCGM's profiling).
    fn set_gpm(&mut self, _read: bool) {}
    /// The process tree around `snapshot`'s processes; `None` where the
    /// source has no host to read.
    fn tree(&mut self, _snapshot: &Snapshot) -> Option<Tree> {
        None
    }
    /// The training status records of `snapshot`'s processes (read once
    /// per process reading, on the collector thread); none by default.
    fn training(&mut self, _snapshot: &Snapshot) -> HashMap<ProcessIdentity, TrainingRecord> {
        HashMap::new()
    }
}

/// The driver through the SDK's [`Snapshot`], filtered by the command
/// line's process filter.
pub struct SnapshotSource {
    backend: Arc<dyn Backend>,
    devices: Vec<Device>,
    filter: ProcessFilter,
    // The viewer's own CPU windows: its refreshes neither restart nor are
    // restarted by anyone else's reading of the same processes. The tree
    // view reads through it too: one reader for the viewer's whole life.
    reader: HostProcessReader,
    fields: SnapshotFields,
    /// Where training status records are read: `None`, every directory
    /// this user can read ([`nvitop::training::read_all_records`]).
    training_dir: Option<PathBuf>,
    /// The previous GPM sample per GPU, while the GPM graph is shown;
    /// dropped (every sample freed) when it is not.
    gpm: Option<GpmSampler>,
}

impl SnapshotSource {
    /// Reads `devices` of `backend`; keeps the processes `filter` keeps.
    pub fn new(backend: Arc<dyn Backend>, devices: Vec<Device>, filter: ProcessFilter) -> Self {
        Self {
            backend,
            devices,
            filter,
            reader: HostProcessReader::new(),
            fields: SnapshotFields::fast(),
            training_dir: None,
            gpm: None,
        }
    }

    /// GPM metrics since the previous reading into `snapshot`'s GPUs and
    /// their MIG devices (each GPU instance's own samples), while asked.
    fn fill_gpm(&mut self, snapshot: &mut Snapshot) {
        let Some(sampler) = &mut self.gpm else { return };
        let mut sampled = self.devices.clone();
        for device in &self.devices {
            let index = device.index();
            let metrics = sampler.sample(device);
            let Some(d) = snapshot.devices.iter_mut().find(|d| d.index == index) else {
                continue;
            };
            d.gpm = metrics;
            // MIG handles are listed only for a GPU the reading found MIG
            // devices on: no extra driver call on the others.
            if d.mig_devices.is_empty() {
                continue;
            }
            for mig in device.mig_devices() {
                let metrics = sampler.sample(&mig);
                if let Some(m) = d.mig_devices.iter_mut().find(|m| m.mig_index == Some(mig.mig_index())) {
                    m.gpm = metrics;
                }
                sampled.push(mig.into_device());
            }
        }
        // MIG devices gone (MIG reconfigured) free their samples.
        sampler.retain(&sampled);
    }

    /// Reads training status records from `dir` only (tests: a private
    /// directory instead of the user's own).
    #[must_use]
    pub fn with_training_dir(mut self, dir: PathBuf) -> Self {
        self.training_dir = Some(dir);
        self
    }
}

impl Source for SnapshotSource {
    fn full(&mut self) -> Snapshot {
        // PCIe throughput costs 20 ms per GPU and direction on a real
        // driver: read only while the device graph shows it.
        let mut snapshot = Snapshot::take_with(&self.backend, &self.devices, self.fields, &mut self.reader);
        self.filter.apply(&mut snapshot);
        self.fill_gpm(&mut snapshot);
        snapshot
    }

    fn devices(&mut self, previous: &Snapshot) -> Snapshot {
        let devices = self
            .devices
            .iter()
            .map(|device| device.as_snapshot_with(self.fields))
            .collect();
        if previous.backend.is_empty() {
            // The first reading: the driver's versions too (no devices
            // given, so no process is read).
            let mut first = Snapshot::take(&self.backend, &[]);
            first.devices = devices;
            return first;
        }
        let mut snapshot = previous.clone();
        snapshot.timestamp = now();
        snapshot.devices = devices;
        snapshot.host = nvitop::host::snapshot();
        self.fill_gpm(&mut snapshot);
        snapshot
    }

    fn set_pcie(&mut self, read: bool) {
        self.fields = SnapshotFields::fast().pcie_throughput(read);
    }

    fn set_gpm(&mut self, read: bool) {
        match (read, self.gpm.is_some()) {
            (true, false) => self.gpm = Some(GpmSampler::new()),
            // Dropping the sampler frees the samples it holds.
            (false, true) => self.gpm = None,
            _ => {}
        }
    }

    fn tree(&mut self, snapshot: &Snapshot) -> Option<Tree> {
        Some(tree::build(snapshot, &mut self.reader))
    }

    fn training(&mut self, snapshot: &Snapshot) -> HashMap<ProcessIdentity, TrainingRecord> {
        // No GPU process, no record to join: skip the directory reads.
        if snapshot.processes.is_empty() {
            return HashMap::new();
        }
        match &self.training_dir {
            Some(dir) => nvitop::training::read_dir_records(dir)
                .into_iter()
                .map(|r| (r.identity(), r))
                .collect(),
            None => nvitop::training::read_all_records(),
        }
    }
}

impl SnapshotSource {
    /// The fields read now (tests check PCIe is off unless shown).
    pub fn fields(&self) -> SnapshotFields {
        self.fields
    }

    /// Whether GPM samples are taken now (tests check it is off unless
    /// shown).
    pub fn reads_gpm(&self) -> bool {
        self.gpm.is_some()
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One reading handed to the UI.
#[derive(Debug, Clone)]
pub struct Published {
    /// The snapshot.
    pub snapshot: Arc<Snapshot>,
    /// Whether its process list was read (false until the first full
    /// reading lands: the panel says "Gathering process status...").
    pub processes_ready: bool,
    /// The series the graphs draw, this reading included; the collector
    /// adds to them, the UI only reads (each holds the lock briefly).
    pub history: Arc<Mutex<History>>,
    /// The process tree, while the tree view is open.
    pub tree: Option<Arc<Tree>>,
    /// Training status records, read with the process list.
    pub training: Arc<Training>,
}

/// The training status records of one process reading, joined to the
/// processes by (pid, start time) when drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Training {
    /// Records by process identity.
    pub records: HashMap<ProcessIdentity, TrainingRecord>,
    /// When they were read, seconds since the Unix epoch: stall times are
    /// judged as of this moment (a frame redrawn later shows the same).
    pub read_at: f64,
}

impl Training {
    /// The record of `process`, matched by pid and start time.
    pub fn of(&self, process: &nvitop::ProcessSnapshot) -> Option<&TrainingRecord> {
        crate::training::record_of(process, &self.records)
    }
}

impl Published {
    /// A reading with an empty history and no tree (tests, benches).
    pub fn of(snapshot: Snapshot, processes_ready: bool) -> Self {
        Self {
            snapshot: Arc::new(snapshot),
            processes_ready,
            history: Arc::new(Mutex::new(History::new(DEVICE_INTERVAL, PROCESS_INTERVAL))),
            tree: None,
            training: Arc::new(Training::default()),
        }
    }

    /// Reads the history (a poisoned lock still holds whole rings: a
    /// panic while pushing leaves at worst one sample stale).
    pub fn with_history<T>(&self, read: impl FnOnce(&History) -> T) -> T {
        read(&self.history.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What the UI asks of the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Read everything now.
    Refresh,
    /// What the screens need beyond the main screen: PCIe throughput
    /// (the device graph shows it), the process tree (the tree view is
    /// open). Turning either on reads everything now.
    Reads {
        /// Read PCIe throughput.
        pcie: bool,
        /// Take GPM samples.
        gpm: bool,
        /// Build the process tree.
        tree: bool,
        /// Keep series of this process (the process metrics screen's).
        watch: Option<ProcessKey>,
    },
}

/// Runs the collector until the UI hangs up: a quick device reading first
/// (the first frame shows the devices while the processes are read), then
/// full and device readings on their intervals. A `Refresh` cuts the wait.
pub fn run(
    mut source: impl Source,
    (device_interval, process_interval): (Duration, Duration),
    control: &Receiver<Control>,
    events: &Sender<Event>,
) {
    // No backend name yet: what `devices` takes for "no reading so far".
    let empty = Snapshot::new(String::new(), false, nvitop::host::HostSnapshot::default());
    let history = Arc::new(Mutex::new(History::new(device_interval, process_interval)));
    let record = |snapshot: &Snapshot, processes: Option<&Training>| {
        let mut history = history.lock().unwrap_or_else(PoisonError::into_inner);
        history.record_devices(snapshot);
        if let Some(training) = processes {
            history.record_processes_with(snapshot, |p| training.of(p).and_then(|r| r.steps_per_second));
        }
    };
    let publish =
        |snapshot: &Arc<Snapshot>, processes_ready: bool, tree: Option<Arc<Tree>>, training: &Arc<Training>| {
            let published = Published {
                snapshot: Arc::clone(snapshot),
                processes_ready,
                history: Arc::clone(&history),
                tree,
                training: Arc::clone(training),
            };
            events.send(Event::Snapshot(published)).is_ok()
        };
    let mut training = Arc::new(Training::default());
    let first = source.devices(&empty);
    record(&first, None);
    if !publish(&Arc::new(first), false, None, &training) {
        return;
    }
    let mut next_full = Instant::now();
    let mut next_devices = Instant::now() + device_interval;
    // The newest reading, shared with the UI rather than copied: the
    // process list of 512 processes is about half a megabyte, and a copy
    // kept here stayed resident beside the UI's (issue 11).
    let mut previous: Option<Arc<Snapshot>> = None;
    let mut want_tree = false;
    let mut tree: Option<Arc<Tree>> = None;
    loop {
        let now = Instant::now();
        if now >= next_full {
            let snapshot = source.full();
            next_full = Instant::now() + process_interval;
            next_devices = Instant::now() + device_interval;
            // Once per process reading: a device reading carries these
            // forward, like the process list.
            training = Arc::new(Training {
                records: source.training(&snapshot),
                read_at: crate::training::wall_clock_now(),
            });
            record(&snapshot, Some(&training));
            tree = if want_tree {
                source.tree(&snapshot).map(Arc::new)
            } else {
                None
            };
            let snapshot = Arc::new(snapshot);
            if !publish(&snapshot, true, tree.clone(), &training) {
                return;
            }
            previous = Some(snapshot);
        } else if now >= next_devices {
            let snapshot = source.devices(previous.as_deref().unwrap_or(&empty));
            next_devices = Instant::now() + device_interval;
            let ready = previous.is_some();
            record(&snapshot, None);
            let snapshot = Arc::new(snapshot);
            if !publish(&snapshot, ready, tree.clone(), &training) {
                return;
            }
            previous = Some(snapshot);
        }
        let wait = next_full.min(next_devices).saturating_duration_since(Instant::now());
        match control.recv_timeout(wait) {
            Ok(Control::Refresh) => next_full = Instant::now(),
            Ok(Control::Reads {
                pcie,
                gpm,
                tree: on,
                watch,
            }) => {
                source.set_pcie(pcie);
                source.set_gpm(gpm);
                let watch: Vec<ProcessKey> = watch.into_iter().collect();
                let changed = history.lock().unwrap_or_else(PoisonError::into_inner).watched != watch;
                if changed {
                    history.lock().unwrap_or_else(PoisonError::into_inner).watch(&watch);
                    // The new process's graphs start with a reading now.
                    if !watch.is_empty() {
                        next_full = Instant::now();
                    }
                }
                if on && !want_tree {
                    next_full = Instant::now();
                }
                want_tree = on;
                if !on {
                    tree = None;
                }
                if pcie {
                    next_devices = Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The environment of the process `target` (`None`: this monitor's own),
/// as sorted `NAME=value` lines.
///
/// # Errors
/// Why it cannot be read, in words: the process is gone (or its pid was
/// reused), or the kernel refuses (another user's process: only its owner
/// and root may read it).
pub fn read_environment(target: Option<&ProcessKey>) -> Result<Vec<String>, String> {
    let (path, who) = match target {
        None => ("/proc/self/environ".to_owned(), "this monitor".to_owned()),
        Some(key) => {
            let gone = || format!("process {} is gone: it exited", key.pid);
            let Some(start) = key.start_ticks else {
                return Err(format!(
                    "process {} is not visible on this host (another pid namespace): its environment cannot be read",
                    key.pid
                ));
            };
            let process = nvitop::HostProcess::new(key.pid).map_err(|_| gone())?;
            if process.start_ticks() != start {
                return Err(format!(
                    "process {} is gone: the pid now belongs to another process",
                    key.pid
                ));
            }
            (format!("/proc/{}/environ", key.pid), format!("process {}", key.pid))
        }
    };
    let bytes = std::fs::read(&path).map_err(|err| match err.kind() {
        std::io::ErrorKind::PermissionDenied => {
            format!("permission denied: the environment of {who} is readable only by its owner and root ({path})")
        }
        std::io::ErrorKind::NotFound => format!("{who} is gone: it exited"),
        _ => format!("cannot read {path}: {err}"),
    })?;
    let mut lines: Vec<String> = bytes
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    lines.sort();
    Ok(lines)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn interval_sets_processes_and_below_a_second_devices_too() {
        assert_eq!(intervals(None), (DEVICE_INTERVAL, PROCESS_INTERVAL));
        assert_eq!(intervals(Some(5.0)), (Duration::from_secs(1), Duration::from_secs(5)));
        assert_eq!(
            intervals(Some(0.25)),
            (Duration::from_millis(250), Duration::from_millis(250))
        );
    }

    /// Counts its readings; every snapshot says which kind it was.
    struct Counting {
        full: usize,
        devices: usize,
    }

    fn marked(backend: &str) -> Snapshot {
        let mut snapshot = Snapshot::new(backend, true, nvitop::host::HostSnapshot::default());
        snapshot.timestamp = 0.0;
        snapshot
    }

    impl Source for Counting {
        fn full(&mut self) -> Snapshot {
            self.full += 1;
            marked("full")
        }

        fn devices(&mut self, _previous: &Snapshot) -> Snapshot {
            self.devices += 1;
            marked("devices")
        }
    }

    fn next(inbox: &mpsc::Receiver<Event>) -> (String, bool) {
        match inbox.recv_timeout(Duration::from_secs(5)).unwrap() {
            Event::Snapshot(p) => (p.snapshot.backend.clone(), p.processes_ready),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn devices_first_then_processes_then_on_their_intervals() {
        let (events, inbox) = mpsc::channel();
        let (control, control_inbox) = mpsc::channel();
        let source = Counting { full: 0, devices: 0 };
        let intervals = (Duration::from_millis(50), Duration::from_millis(120));
        let collector = std::thread::spawn(move || run(source, intervals, &control_inbox, &events));
        // The first frame gets devices at once, "gathering" processes.
        assert_eq!(next(&inbox), ("devices".to_owned(), false));
        assert_eq!(next(&inbox), ("full".to_owned(), true));
        // Then device readings between full ones, processes still shown.
        let mut seen = Vec::new();
        while seen.iter().filter(|(kind, _)| kind == "full").count() < 2 {
            seen.push(next(&inbox));
        }
        assert!(seen.iter().all(|(_, ready)| *ready));
        assert!(
            seen.iter().filter(|(kind, _)| kind == "devices").count() >= 1,
            "{seen:?}"
        );
        drop(inbox);
        drop(control);
        collector.join().unwrap();
    }

    #[test]
    fn refresh_reads_everything_now() {
        let (events, inbox) = mpsc::channel();
        let (control, control_inbox) = mpsc::channel();
        let source = Counting { full: 0, devices: 0 };
        // Without the refresh, the next full reading is an hour away.
        let intervals = (Duration::from_hours(1), Duration::from_hours(1));
        let collector = std::thread::spawn(move || run(source, intervals, &control_inbox, &events));
        assert_eq!(next(&inbox), ("devices".to_owned(), false));
        assert_eq!(next(&inbox), ("full".to_owned(), true));
        control.send(Control::Refresh).unwrap();
        assert_eq!(next(&inbox), ("full".to_owned(), true));
        // The UI hanging up stops the collector.
        drop(control);
        collector.join().unwrap();
    }

    #[test]
    fn pcie_is_read_only_while_asked() {
        let backend: Arc<dyn Backend> = Arc::new(nvitop::backend::sim::SimBackend::default_machine());
        let devices = nvitop::Device::all_in(&backend).unwrap();
        let mut source = SnapshotSource::new(backend, devices, ProcessFilter::default());
        assert!(!source.fields().pcie_throughput);
        let snapshot = source.full();
        assert!(snapshot.devices.iter().all(|d| d.pcie_rx_throughput.is_none()));
        source.set_pcie(true);
        assert!(source.fields().pcie_throughput);
        let snapshot = source.full();
        assert!(snapshot.devices.iter().any(|d| d.pcie_rx_throughput.is_some()));
        source.set_pcie(false);
        assert!(!source.fields().pcie_throughput);
    }

    #[test]
    fn training_records_are_read_with_processes_and_joined_by_pid_and_start_time() {
        use nvitop::training::{Progress, StatusWriter, dir::ensure_private_dir};
        let parent = tempfile::tempdir().unwrap();
        let status = ensure_private_dir(&parent.path().join("nvitop")).unwrap();
        let backend: Arc<dyn Backend> = Arc::new(nvitop::backend::sim::SimBackend::default_machine());
        let devices = nvitop::Device::all_in(&backend).unwrap();
        let mut source =
            SnapshotSource::new(backend, devices, ProcessFilter::default()).with_training_dir(status.clone());
        let snapshot = source.full();
        assert!(source.training(&snapshot).is_empty(), "no record written yet");

        // This process (the simulator binds it as a GPU process) publishes
        // a record as the logger's worker does.
        let mut writer = StatusWriter::create_in(&status).unwrap();
        let t0 = Instant::now();
        let mut progress = Progress::new(t0);
        for step in 1..=30 {
            progress.step(step, t0 + Duration::from_millis(10 * step));
        }
        writer
            .write_now(&progress.record(writer.identity(), t0 + Duration::from_millis(300)))
            .unwrap();
        let training = Training {
            records: source.training(&snapshot),
            read_at: 0.0,
        };
        let me = std::process::id();
        let mine: Vec<_> = snapshot.processes.iter().filter(|p| p.pid == me).collect();
        assert!(!mine.is_empty(), "the simulator binds this process");
        for p in &mine {
            assert_eq!(training.of(p).map(|r| r.step), Some(30));
        }
        for p in snapshot.processes.iter().filter(|p| p.pid != me) {
            assert!(training.of(p).is_none(), "{}", p.pid);
        }
        // The same pid with another start time (a reused pid) gets nothing.
        let mut reused = mine[0].clone();
        if let Some(host) = &mut reused.host {
            host.start_ticks += 1;
        }
        assert!(training.of(&reused).is_none());
        writer.close();
        assert!(source.training(&snapshot).is_empty(), "closed: the record is gone");
    }

    /// A source whose every full reading has one training record.
    struct WithRecord(Arc<std::sync::atomic::AtomicUsize>);

    impl Source for WithRecord {
        fn full(&mut self) -> Snapshot {
            marked("full")
        }

        fn devices(&mut self, _previous: &Snapshot) -> Snapshot {
            marked("devices")
        }

        fn training(&mut self, _snapshot: &Snapshot) -> HashMap<ProcessIdentity, TrainingRecord> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let text = format!(
                r#"{{"version":1,"pid":7,"start_ticks":1,"step":{n},"phase":"train",
                    "seconds_since_last_hook":0,"written_at":0}}"#
            );
            let record: TrainingRecord = serde_json::from_str(&text).unwrap();
            HashMap::from([(record.identity(), record)])
        }
    }

    #[test]
    fn records_are_read_once_per_process_reading_and_carried_by_device_readings() {
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (events, inbox) = mpsc::channel();
        let (control, control_inbox) = mpsc::channel();
        let source = WithRecord(Arc::clone(&reads));
        let intervals = (Duration::from_millis(20), Duration::from_millis(200));
        let collector = std::thread::spawn(move || run(source, intervals, &control_inbox, &events));
        let mut seen = Vec::new();
        while seen.iter().filter(|(kind, _)| kind == "full").count() < 2 {
            match inbox.recv_timeout(Duration::from_secs(5)).unwrap() {
                Event::Snapshot(p) => {
                    let steps: Vec<u64> = p.training.records.values().map(|r| r.step).collect();
                    seen.push((p.snapshot.backend.clone(), steps));
                }
                other => panic!("{other:?}"),
            }
        }
        drop(inbox);
        drop(control);
        collector.join().unwrap();
        // The first (device-only) reading has none; each full reading reads
        // once; device readings in between carry the last records forward.
        assert_eq!(seen[0], ("devices".to_owned(), vec![]));
        assert_eq!(seen[1], ("full".to_owned(), vec![0]));
        let between: Vec<_> = seen[2..seen.len() - 1].iter().collect();
        assert!(!between.is_empty(), "{seen:?}");
        assert!(
            between
                .iter()
                .all(|(kind, steps)| kind == "devices" && steps == &vec![0]),
            "{seen:?}"
        );
        assert_eq!(seen.last().unwrap(), &("full".to_owned(), vec![1]));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    /// Records what the collector asked of it.
    struct Asked(mpsc::Sender<String>);

    impl Source for Asked {
        fn full(&mut self) -> Snapshot {
            marked("full")
        }

        fn devices(&mut self, _previous: &Snapshot) -> Snapshot {
            marked("devices")
        }

        fn set_pcie(&mut self, read: bool) {
            let _ = self.0.send(format!("pcie {read}"));
        }

        fn tree(&mut self, _snapshot: &Snapshot) -> Option<Tree> {
            let _ = self.0.send("tree".to_owned());
            Some(Tree::default())
        }
    }

    #[test]
    fn reads_turn_pcie_and_the_tree_on_and_off_and_readings_fill_the_history() {
        let (events, inbox) = mpsc::channel();
        let (control, control_inbox) = mpsc::channel();
        let (asked, asks) = mpsc::channel();
        let intervals = (Duration::from_hours(1), Duration::from_hours(1));
        let collector = std::thread::spawn(move || run(Asked(asked), intervals, &control_inbox, &events));
        let published = |inbox: &mpsc::Receiver<Event>| match inbox.recv_timeout(Duration::from_secs(5)).unwrap() {
            Event::Snapshot(p) => p,
            other => panic!("{other:?}"),
        };
        let first = published(&inbox);
        assert!(first.tree.is_none());
        let _full = published(&inbox);
        control
            .send(Control::Reads {
                gpm: false,
                pcie: true,
                tree: true,
                watch: None,
            })
            .unwrap();
        assert_eq!(asks.recv_timeout(Duration::from_secs(5)).unwrap(), "pcie true");
        // Turning the tree on reads everything now, the tree with it.
        let with_tree = published(&inbox);
        assert!(with_tree.tree.is_some());
        assert_eq!(asks.recv_timeout(Duration::from_secs(5)).unwrap(), "tree");
        // Every reading goes into the one history the UI reads (an hour
        // apart, a ring keeps a single sample: an hour is all it shows).
        assert!(Arc::ptr_eq(&first.history, &with_tree.history));
        assert_eq!(with_tree.with_history(|h| (h.cpu.len(), h.cpu.capacity())), (1, 1));
        // Watching a process: its series are kept from now on.
        let key = ProcessKey {
            pid: 7,
            start_ticks: Some(1),
            device: "0".to_owned(),
        };
        control
            .send(Control::Reads {
                gpm: false,
                pcie: true,
                tree: true,
                watch: Some(key.clone()),
            })
            .unwrap();
        let watched = published(&inbox);
        assert_eq!(watched.with_history(|h| h.watched.clone()), [key]);
        // (The reading it triggered built the tree, still open.)
        assert_eq!(asks.recv_timeout(Duration::from_secs(5)).unwrap(), "pcie true");
        assert_eq!(asks.recv_timeout(Duration::from_secs(5)).unwrap(), "tree");
        control
            .send(Control::Reads {
                gpm: false,
                pcie: false,
                tree: false,
                watch: None,
            })
            .unwrap();
        assert_eq!(asks.recv_timeout(Duration::from_secs(5)).unwrap(), "pcie false");
        drop(control);
        collector.join().unwrap();
    }

    #[test]
    fn environment_own_gone_and_reused() {
        let own = read_environment(None).unwrap();
        assert!(own.windows(2).all(|w| w[0] <= w[1]), "sorted");
        assert!(own.iter().any(|l| l.contains('=')));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("NVITOP_ENV_TEST", "yes")
            .spawn()
            .unwrap();
        let start = nvitop::HostProcess::new(child.id()).unwrap().start_ticks();
        let pid = child.id();
        let key = |start| ProcessKey {
            pid,
            start_ticks: Some(start),
            device: "0".to_owned(),
        };
        // Until the child has exec'd `sleep`, it has the test's environment:
        // wait for the exec (a few milliseconds at most).
        let deadline = Instant::now() + Duration::from_secs(10);
        let lines = loop {
            let lines = read_environment(Some(&key(start))).unwrap();
            if lines.contains(&"NVITOP_ENV_TEST=yes".to_owned()) || Instant::now() > deadline {
                break lines;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(lines.contains(&"NVITOP_ENV_TEST=yes".to_owned()), "{lines:?}");
        let reused = read_environment(Some(&key(start + 1))).unwrap_err();
        assert!(reused.contains("pid now belongs to another process"), "{reused}");
        child.kill().unwrap();
        child.wait().unwrap();
        let gone = read_environment(Some(&key(start))).unwrap_err();
        assert!(gone.contains("is gone"), "{gone}");
        let unknown = ProcessKey {
            start_ticks: None,
            ..key(start)
        };
        assert!(read_environment(Some(&unknown)).unwrap_err().contains("not visible"));
    }
}

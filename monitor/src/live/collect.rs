//! Collection, on a thread of its own: the UI thread never calls the
//! driver. Every driver and `/proc` read of the viewer is in this module
//! ([`SnapshotSource`]), so switching to another SDK reading API is an
//! edit here only.
//!
//! Devices and host are read every `device_interval`, processes every
//! `process_interval`; each reading is published whole (a [`Published`]
//! on the event channel) and the UI keeps the newest. A device-only
//! reading carries the previous process list forward.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nvitop::backend::Backend;
use nvitop::process::HostProcessReader;
use nvitop::snapshot::SnapshotFields;
use nvitop::{Device, Snapshot};

use crate::filter::ProcessFilter;
use crate::live::Event;

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
}

/// The driver through the SDK's [`Snapshot`], filtered by the command
/// line's process filter.
pub struct SnapshotSource {
    backend: Arc<dyn Backend>,
    devices: Vec<Device>,
    filter: ProcessFilter,
    // The viewer's own CPU windows: its refreshes neither restart nor are
    // restarted by anyone else's reading of the same processes.
    reader: HostProcessReader,
}

impl SnapshotSource {
    /// Reads `devices` of `backend`; keeps the processes `filter` keeps.
    pub fn new(backend: Arc<dyn Backend>, devices: Vec<Device>, filter: ProcessFilter) -> Self {
        Self {
            backend,
            devices,
            filter,
            reader: HostProcessReader::new(),
        }
    }
}

impl Source for SnapshotSource {
    fn full(&mut self) -> Snapshot {
        // The main screen draws no PCIe throughput, which costs 20 ms per GPU
        // and direction on a real driver.
        let mut snapshot = Snapshot::take_with(&self.backend, &self.devices, SnapshotFields::fast(), &mut self.reader);
        self.filter.apply(&mut snapshot);
        snapshot
    }

    fn devices(&mut self, previous: &Snapshot) -> Snapshot {
        let devices = self
            .devices
            .iter()
            .map(|device| device.as_snapshot_with(SnapshotFields::fast()))
            .collect();
        if previous.backend.is_empty() {
            // The first reading: the driver's versions too (no devices
            // given, so no process is read).
            return Snapshot {
                devices,
                ..Snapshot::take(&self.backend, &[])
            };
        }
        Snapshot {
            timestamp: now(),
            devices,
            host: nvitop::host::snapshot(),
            ..previous.clone()
        }
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
}

/// What the UI asks of the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Read everything now.
    Refresh,
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
    let empty = Snapshot {
        timestamp: now(),
        backend: String::new(),
        simulated: false,
        driver_version: None,
        nvml_version: None,
        cuda_driver_version: None,
        devices: Vec::new(),
        processes: Vec::new(),
        host: nvitop::host::HostSnapshot::default(),
        process_errors: Vec::new(),
    };
    let first = source.devices(&empty);
    if !publish(events, first, false) {
        return;
    }
    let mut next_full = Instant::now();
    let mut next_devices = Instant::now() + device_interval;
    let mut previous: Option<Snapshot> = None;
    loop {
        let now = Instant::now();
        if now >= next_full {
            let snapshot = source.full();
            next_full = Instant::now() + process_interval;
            next_devices = Instant::now() + device_interval;
            previous = Some(snapshot.clone());
            if !publish(events, snapshot, true) {
                return;
            }
        } else if now >= next_devices {
            let snapshot = source.devices(previous.as_ref().unwrap_or(&empty));
            next_devices = Instant::now() + device_interval;
            let ready = previous.is_some();
            previous = Some(snapshot.clone());
            if !publish(events, snapshot, ready) {
                return;
            }
        }
        let wait = next_full.min(next_devices).saturating_duration_since(Instant::now());
        match control.recv_timeout(wait) {
            Ok(Control::Refresh) => next_full = Instant::now(),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Sends a reading to the UI; false when the UI is gone.
fn publish(events: &Sender<Event>, snapshot: Snapshot, processes_ready: bool) -> bool {
    let published = Published {
        snapshot: Arc::new(snapshot),
        processes_ready,
    };
    events.send(Event::Snapshot(published)).is_ok()
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
        Snapshot {
            timestamp: 0.0,
            backend: backend.to_owned(),
            simulated: true,
            driver_version: None,
            nvml_version: None,
            cuda_driver_version: None,
            devices: Vec::new(),
            processes: Vec::new(),
            host: nvitop::host::HostSnapshot::default(),
            process_errors: Vec::new(),
        }
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
}

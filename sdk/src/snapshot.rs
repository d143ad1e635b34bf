//! Snapshots: plain, serializable data taken in one pass.
//!
//! Everything that renders or logs (the one-shot printer, the TUI, JSON
//! output, the logger) works from these, never from live handles, so all of
//! them show one truth and can be tested with fixed data.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::{
    Backend, BackendError, ClockKind, DeviceRef, PcieDirection, ProcessKind, ProcessUtilization, RawProcess, kind_label,
};
use crate::device::{
    Device, DeviceIndex, GPM_MIN_INTERVAL, GpmMetrics, cuda_version_string, gpm_metrics_of, percent_of, power_status,
};
use crate::error::Result;
use crate::format::{bytes2human, throughput2human};
use crate::host::{self, HostSnapshot};
use crate::process::{HostProcessInfo, HostProcessReader, latest_utilization};

/// One device at one moment. Every measured field is `Option`: `None` is `N/A`.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, DeviceIndex, Snapshot, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let snapshot = Device::new_in(&backend, 1).unwrap().as_snapshot();
/// assert_eq!(snapshot.index, 1);
/// assert_eq!(snapshot.mig_mode, Some(true));
/// assert_eq!(snapshot.mig_devices.len(), 3);
/// assert_eq!(snapshot.mig_devices[2].display_index, DeviceIndex::mig(1, 2));
/// assert_eq!(snapshot.mig_devices[2].display_index.to_string(), "1:2");
/// ```
///
/// The struct is `#[non_exhaustive]`: a new field is not a breaking change.
/// Code outside the SDK builds one with [`DeviceSnapshot::new`] and sets
/// fields on it, never with a struct literal:
///
/// ```compile_fail,E0639
/// let snapshot = nvitop::DeviceSnapshot { index: 0, ..nvitop::DeviceSnapshot::new(nvitop::DeviceIndex::physical(0)) };
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceSnapshot {
    /// NVML index of the physical GPU (the parent's for a MIG device).
    pub index: u32,
    /// `3` or `3:1` (GPU 3, MIG device 1); a string in JSON.
    pub display_index: DeviceIndex,
    /// MIG index under the parent, for a MIG device.
    pub mig_index: Option<u32>,
    /// Product name.
    pub name: Option<String>,
    /// UUID.
    pub uuid: Option<String>,
    /// PCI bus id.
    pub bus_id: Option<String>,
    /// Total memory, bytes.
    pub memory_total: Option<u64>,
    /// Used memory, bytes.
    pub memory_used: Option<u64>,
    /// Free memory, bytes.
    pub memory_free: Option<u64>,
    /// Total memory as `81920MiB`.
    pub memory_total_human: Option<String>,
    /// Used memory as `8862MiB`.
    pub memory_used_human: Option<String>,
    /// Free memory as `73058MiB`.
    pub memory_free_human: Option<String>,
    /// Used memory, percent of total.
    pub memory_percent: Option<f64>,
    /// `8862MiB / 81920MiB`.
    pub memory_usage: Option<String>,
    /// GPU utilization, percent.
    pub gpu_utilization: Option<u32>,
    /// Memory-bandwidth utilization, percent.
    pub memory_utilization: Option<u32>,
    /// Encoder utilization, percent.
    pub encoder_utilization: Option<u32>,
    /// Decoder utilization, percent.
    pub decoder_utilization: Option<u32>,
    /// Fan speed, percent.
    pub fan_speed: Option<u32>,
    /// Temperature, °C.
    pub temperature: Option<u32>,
    /// Power draw, mW.
    pub power_usage: Option<u32>,
    /// Enforced power limit, mW.
    pub power_limit: Option<u32>,
    /// `245W / 400W`.
    pub power_status: String,
    /// Energy since driver load, mJ.
    pub total_energy_consumption: Option<u64>,
    /// `P0`..`P15`.
    pub performance_state: Option<String>,
    /// Persistence mode.
    pub persistence_mode: Option<bool>,
    /// Display active.
    pub display_active: Option<bool>,
    /// Compute mode label (`Default`, `E. Process`, ...).
    pub compute_mode: Option<String>,
    /// Volatile uncorrected ECC errors.
    pub total_volatile_uncorrected_ecc_errors: Option<u64>,
    /// MIG mode enabled.
    pub mig_mode: Option<bool>,
    /// SM clock, MHz.
    pub sm_clock: Option<u32>,
    /// Memory clock, MHz.
    pub memory_clock: Option<u32>,
    /// Graphics clock, MHz.
    pub graphics_clock: Option<u32>,
    /// Max SM clock, MHz.
    pub max_sm_clock: Option<u32>,
    /// Max memory clock, MHz.
    pub max_memory_clock: Option<u32>,
    /// PCIe TX, KB/s.
    pub pcie_tx_throughput: Option<u32>,
    /// PCIe RX, KB/s.
    pub pcie_rx_throughput: Option<u32>,
    /// PCIe TX as `320MiB/s`.
    pub pcie_tx_throughput_human: Option<String>,
    /// PCIe RX as `1987MiB/s`.
    pub pcie_rx_throughput_human: Option<String>,
    /// CUDA compute capability `(major, minor)`.
    pub cuda_compute_capability: Option<(u32, u32)>,
    /// Set when the device failed as a whole (for example "GPU 2 is lost"); then every field is `None`.
    pub error: Option<String>,
    /// MIG devices under this GPU.
    pub mig_devices: Vec<DeviceSnapshot>,
    /// GPM activity metrics (SM, tensor, DRAM and pipe activity, percent
    /// 0-100 as NVML reports them) over the snapshot's GPM interval; only
    /// when [`SnapshotFields::gpm`] asks and the GPU has GPM (Hopper and
    /// newer). Left out of JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpm: Option<GpmMetrics>,
}

/// Which of the slow fields a snapshot reads; every other field is always
/// read. A field not asked for is `None` (`N/A`) without asking the driver.
///
/// Built from [`SnapshotFields::all`] (also the [`Default`]) or
/// [`SnapshotFields::fast`], then adjusted field by field, so a new field
/// is not a breaking change.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// use nvitop::snapshot::SnapshotFields;
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let device = Device::new_in(&backend, 0).unwrap();
/// let fast = device.as_snapshot_with(SnapshotFields::fast());
/// assert_eq!(fast.pcie_rx_throughput, None); // not asked for: the driver was not called
/// let full = device.as_snapshot_with(SnapshotFields::fast().pcie_throughput(true));
/// assert!(full.pcie_rx_throughput.is_some());
/// assert_eq!(SnapshotFields::default(), SnapshotFields::all());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotFields {
    /// PCIe TX and RX throughput. NVML measures each over 20 ms, so on a
    /// real driver this is 40 ms per GPU: most of a snapshot's time.
    pub pcie_throughput: bool,
    /// GPM activity metrics ([`DeviceSnapshot::gpm`]). Not part of
    /// [`SnapshotFields::all`]: it takes two GPM samples at least 100 ms
    /// apart (a snapshot of many devices sleeps once, for all of them), and
    /// GPM shares hardware counters with DCGM's profiling metrics, so it is
    /// read only where asked for.
    pub gpm: bool,
}

impl SnapshotFields {
    /// Every field.
    ///
    /// ```
    /// assert!(nvitop::snapshot::SnapshotFields::all().pcie_throughput);
    /// ```
    pub const fn all() -> Self {
        Self {
            pcie_throughput: true,
            gpm: false,
        }
    }

    /// The fields the driver answers at once: everything but PCIe
    /// throughput. What a display that does not show PCIe asks for.
    ///
    /// ```
    /// assert!(!nvitop::snapshot::SnapshotFields::fast().pcie_throughput);
    /// ```
    pub const fn fast() -> Self {
        Self {
            pcie_throughput: false,
            gpm: false,
        }
    }

    /// With or without PCIe throughput.
    ///
    /// ```
    /// use nvitop::snapshot::SnapshotFields;
    /// assert_eq!(SnapshotFields::fast().pcie_throughput(true), SnapshotFields::all());
    /// ```
    #[must_use]
    pub const fn pcie_throughput(mut self, read: bool) -> Self {
        self.pcie_throughput = read;
        self
    }

    /// With or without GPM activity metrics (see [`SnapshotFields::gpm`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
    /// use nvitop::process::HostProcessReader;
    /// use nvitop::snapshot::SnapshotFields;
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let devices = Device::all_in(&backend).unwrap();
    /// let fields = SnapshotFields::fast().gpm(true);
    /// let snap = Snapshot::take_with(&backend, &devices, fields, &mut HostProcessReader::new());
    /// let h100 = snap.devices[0].gpm.unwrap();
    /// assert!(h100.tensor_active.unwrap() <= h100.sm_active.unwrap());
    /// assert_eq!(snap.devices[2].gpm, None); // A100: no GPM, no `gpm` key in JSON
    /// assert!(!serde_json::to_string(&snap.devices[2]).unwrap().contains("\"gpm\""));
    /// ```
    #[must_use]
    pub const fn gpm(mut self, read: bool) -> Self {
        self.gpm = read;
        self
    }
}

impl Default for SnapshotFields {
    fn default() -> Self {
        Self::all()
    }
}

impl Device {
    /// Reads every field in one pass. A lost GPU gives a snapshot whose
    /// `error` says so and whose fields are all `None`: it never fails.
    /// See [`Device::as_snapshot_with`] to leave out the slow fields.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let snap = Device::new_in(&backend, 0).unwrap().as_snapshot();
    /// println!("{}", serde_json::to_string_pretty(&snap).unwrap());
    /// assert!(snap.memory_total.is_some());
    /// ```
    pub fn as_snapshot(&self) -> DeviceSnapshot {
        self.as_snapshot_with(SnapshotFields::all())
    }

    /// Reads the always-read fields and those `fields` asks for (the rest
    /// are `None`), in one pass; MIG devices the same way.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// use nvitop::snapshot::SnapshotFields;
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let snap = Device::new_in(&backend, 0).unwrap().as_snapshot_with(SnapshotFields::fast());
    /// assert!(snap.memory_total.is_some());
    /// assert_eq!(snap.pcie_tx_throughput_human, None);
    /// ```
    pub fn as_snapshot_with(&self, fields: SnapshotFields) -> DeviceSnapshot {
        if let Err(err) = self.status() {
            return DeviceSnapshot::failed(self, &err);
        }
        let memory = self.memory_info();
        let rates = self.utilization_rates();
        let (power_usage, power_limit) = (self.power_usage(), self.power_limit());
        let (pcie_tx, pcie_rx) = if fields.pcie_throughput {
            (self.opt_pcie(PcieDirection::Tx), self.opt_pcie(PcieDirection::Rx))
        } else {
            (None, None)
        };
        let mig_index = match self.handle() {
            crate::backend::DeviceRef::Mig { index, .. } => Some(index),
            crate::backend::DeviceRef::Physical(_) => None,
        };
        DeviceSnapshot {
            index: self.index(),
            display_index: self.device_index(),
            mig_index,
            name: self.name(),
            uuid: self.uuid(),
            bus_id: self.bus_id(),
            memory_total: memory.map(|m| m.total),
            memory_used: memory.map(|m| m.used),
            memory_free: memory.map(|m| m.free),
            memory_total_human: memory.map(|m| bytes2human(m.total)),
            memory_used_human: memory.map(|m| bytes2human(m.used)),
            memory_free_human: memory.map(|m| bytes2human(m.free)),
            memory_percent: memory.and_then(|m| percent_of(m.used, m.total)),
            memory_usage: memory.map(|m| format!("{} / {}", bytes2human(m.used), bytes2human(m.total))),
            gpu_utilization: rates.map(|r| r.gpu),
            memory_utilization: rates.map(|r| r.memory),
            encoder_utilization: self.encoder_utilization(),
            decoder_utilization: self.decoder_utilization(),
            fan_speed: self.fan_speed(),
            temperature: self.temperature(),
            power_usage,
            power_limit,
            power_status: power_status(power_usage, power_limit),
            total_energy_consumption: self.total_energy_consumption(),
            performance_state: self.performance_state(),
            persistence_mode: self.persistence_mode(),
            display_active: self.display_active(),
            compute_mode: self.compute_mode().map(|m| m.label().to_owned()),
            total_volatile_uncorrected_ecc_errors: self.total_volatile_uncorrected_ecc_errors(),
            mig_mode: self.mig_mode(),
            sm_clock: self.clock(ClockKind::Sm),
            memory_clock: self.clock(ClockKind::Memory),
            graphics_clock: self.clock(ClockKind::Graphics),
            max_sm_clock: self.max_clock(ClockKind::Sm),
            max_memory_clock: self.max_clock(ClockKind::Memory),
            pcie_tx_throughput: pcie_tx,
            pcie_rx_throughput: pcie_rx,
            pcie_tx_throughput_human: pcie_tx.map(throughput2human),
            pcie_rx_throughput_human: pcie_rx.map(throughput2human),
            cuda_compute_capability: self.cuda_compute_capability(),
            error: None,
            mig_devices: self.mig_devices().iter().map(|m| m.as_snapshot_with(fields)).collect(),
            gpm: if fields.gpm {
                self.gpm_metrics_over(GPM_MIN_INTERVAL)
            } else {
                None
            },
        }
    }

    fn opt_pcie(&self, direction: PcieDirection) -> Option<u32> {
        match direction {
            PcieDirection::Tx => self.pcie_tx_throughput(),
            PcieDirection::Rx => self.pcie_rx_throughput(),
        }
    }
}

impl DeviceSnapshot {
    fn failed(device: &Device, err: &BackendError) -> Self {
        Self {
            error: Some(err.to_string()),
            ..Self::new(device.device_index())
        }
    }

    /// A snapshot of the device at `index` with every measured field
    /// `None` (`N/A`) and no MIG devices: for code that builds snapshots
    /// itself (tests, replays, other sources) and sets the fields it has.
    ///
    /// ```
    /// use nvitop::{DeviceIndex, DeviceSnapshot};
    /// let mut mig = DeviceSnapshot::new(DeviceIndex::mig(1, 0));
    /// assert_eq!((mig.index, mig.mig_index), (1, Some(0)));
    /// mig.memory_used = Some(1 << 30);
    /// assert_eq!(mig.power_status, "N/A / N/A");
    /// assert!(!mig.is_failed());
    /// ```
    pub fn new(display_index: DeviceIndex) -> Self {
        Self {
            index: display_index.physical,
            display_index,
            mig_index: display_index.mig,
            name: None,
            uuid: None,
            bus_id: None,
            memory_total: None,
            memory_used: None,
            memory_free: None,
            memory_total_human: None,
            memory_used_human: None,
            memory_free_human: None,
            memory_percent: None,
            memory_usage: None,
            gpu_utilization: None,
            memory_utilization: None,
            encoder_utilization: None,
            decoder_utilization: None,
            fan_speed: None,
            temperature: None,
            power_usage: None,
            power_limit: None,
            power_status: power_status(None, None),
            total_energy_consumption: None,
            performance_state: None,
            persistence_mode: None,
            display_active: None,
            compute_mode: None,
            total_volatile_uncorrected_ecc_errors: None,
            mig_mode: None,
            sm_clock: None,
            memory_clock: None,
            graphics_clock: None,
            max_sm_clock: None,
            max_memory_clock: None,
            pcie_tx_throughput: None,
            pcie_rx_throughput: None,
            pcie_tx_throughput_human: None,
            pcie_rx_throughput_human: None,
            cuda_compute_capability: None,
            error: None,
            mig_devices: Vec::new(),
            gpm: None,
        }
    }

    /// Whether the device failed as a whole (lost GPU).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
    /// let sim = SimBackend::from_preset("faults").unwrap();
    /// sim.set_time(40.0); // GPU 3 is lost at t = 30 s
    /// let backend: Arc<dyn Backend> = Arc::new(sim);
    /// let snap = Snapshot::take_all(&backend).unwrap();
    /// assert!(!snap.devices[0].is_failed());
    /// assert!(snap.devices[3].is_failed());
    /// ```
    pub fn is_failed(&self) -> bool {
        self.error.is_some()
    }
}

/// One GPU process at one moment, with its host side.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, DeviceIndex, Snapshot, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let snap = Snapshot::take_all(&backend).unwrap();
/// let me = snap.processes.iter().find(|p| p.pid == std::process::id()).unwrap();
/// assert_eq!(me.physical_index, 0);
/// assert!(me.host.is_some());
/// // MIG processes carry their device's display index.
/// assert!(snap.processes.iter().any(|p| p.device_index == DeviceIndex::mig(1, 2)));
/// ```
///
/// `#[non_exhaustive]`: build one with [`ProcessSnapshot::new`]. A `match`
/// on [`nvitop::backend::ProcessKind`](crate::backend::ProcessKind) needs
/// no parsing of `C`/`G`/`C+G`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessSnapshot {
    /// Process id.
    pub pid: u32,
    /// The device the process runs on, `3` or `3:1` (a MIG device); a string in JSON.
    pub device_index: DeviceIndex,
    /// NVML index of the physical GPU.
    pub physical_index: u32,
    /// GPU memory, bytes.
    pub gpu_memory: Option<u64>,
    /// GPU memory as `1234MiB`.
    pub gpu_memory_human: Option<String>,
    /// GPU memory, percent of the device's total.
    pub gpu_memory_percent: Option<f64>,
    /// Compute, graphics or both; `"C"`, `"G"` or `"C+G"` in JSON.
    #[serde(rename = "type", with = "kind_label")]
    pub kind: ProcessKind,
    /// SM utilization of the process, percent.
    pub gpu_sm_utilization: Option<u32>,
    /// Memory-bandwidth utilization of the process, percent.
    pub gpu_memory_utilization: Option<u32>,
    /// Encoder utilization, percent.
    pub gpu_encoder_utilization: Option<u32>,
    /// Decoder utilization, percent.
    pub gpu_decoder_utilization: Option<u32>,
    /// MIG GPU instance id.
    pub gpu_instance_id: Option<u32>,
    /// MIG compute instance id.
    pub compute_instance_id: Option<u32>,
    /// The host side, `None` when the pid is not visible here (another pid
    /// namespace) or the process exited during the snapshot.
    pub host: Option<HostProcessInfo>,
}

impl ProcessSnapshot {
    /// A row for process `pid` on device `device_index` with every measured
    /// field `None` and no host side: for code that builds snapshots itself
    /// (tests, replays) and sets the fields it has.
    ///
    /// ```
    /// use nvitop::{DeviceIndex, ProcessSnapshot, backend::ProcessKind};
    /// let mut row = ProcessSnapshot::new(4242, DeviceIndex::mig(1, 0), ProcessKind::Compute);
    /// row.gpu_memory = Some(1 << 30);
    /// assert_eq!(row.physical_index, 1);
    /// let json = serde_json::to_value(&row).unwrap();
    /// assert_eq!((json["device_index"].as_str(), json["type"].as_str()), (Some("1:0"), Some("C")));
    /// ```
    pub fn new(pid: u32, device_index: DeviceIndex, kind: ProcessKind) -> Self {
        Self {
            pid,
            device_index,
            physical_index: device_index.physical,
            gpu_memory: None,
            gpu_memory_human: None,
            gpu_memory_percent: None,
            kind,
            gpu_sm_utilization: None,
            gpu_memory_utilization: None,
            gpu_encoder_utilization: None,
            gpu_decoder_utilization: None,
            gpu_instance_id: None,
            compute_instance_id: None,
            host: None,
        }
    }

    /// The row for one driver entry on `device` (one place for both
    /// [`crate::GpuProcess::as_snapshot`] and [`Snapshot::take`]).
    pub(crate) fn from_raw(
        device: &Device,
        raw: &RawProcess,
        utilization: Option<&ProcessUtilization>,
        device_memory_total: Option<u64>,
        host: Option<HostProcessInfo>,
    ) -> Self {
        Self {
            pid: raw.pid,
            device_index: device.device_index(),
            physical_index: device.index(),
            gpu_memory: raw.used_gpu_memory,
            gpu_memory_human: raw.used_gpu_memory.map(bytes2human),
            gpu_memory_percent: raw
                .used_gpu_memory
                .zip(device_memory_total)
                .and_then(|(m, t)| percent_of(m, t)),
            kind: raw.kind,
            gpu_sm_utilization: utilization.map(|u| u.sm),
            gpu_memory_utilization: utilization.map(|u| u.memory),
            gpu_encoder_utilization: utilization.map(|u| u.encoder),
            gpu_decoder_utilization: utilization.map(|u| u.decoder),
            gpu_instance_id: raw.gpu_instance_id,
            compute_instance_id: raw.compute_instance_id,
            host,
        }
    }
}

/// The whole machine at one moment: driver, devices, processes, host.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let devices = Device::all_in(&backend).unwrap();
/// let snap = Snapshot::take(&backend, &devices);
/// assert_eq!(snap.devices.len(), 4);
/// assert!(snap.processes.iter().any(|p| p.pid == std::process::id()));
/// let json = serde_json::to_string(&snap).unwrap();
/// let back: Snapshot = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, snap);
/// ```
///
/// `#[non_exhaustive]`: build one with [`Snapshot::new`] (or take one) and
/// set its fields:
///
/// ```compile_fail,E0639
/// # let snap = nvitop::Snapshot::new("simulator", true, nvitop::host::snapshot());
/// let copy = nvitop::Snapshot { processes: Vec::new(), ..snap }; // error: non-exhaustive struct
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// When the snapshot was taken, seconds since the Unix epoch.
    pub timestamp: f64,
    /// `nvml` or `simulator`.
    pub backend: String,
    /// Whether the GPUs are simulated.
    pub simulated: bool,
    /// Driver version.
    pub driver_version: Option<String>,
    /// NVML version.
    pub nvml_version: Option<String>,
    /// CUDA driver version, `12.4`.
    pub cuda_driver_version: Option<String>,
    /// The devices asked for, in order.
    pub devices: Vec<DeviceSnapshot>,
    /// Processes on those devices (and their MIG devices).
    pub processes: Vec<ProcessSnapshot>,
    /// The host.
    pub host: HostSnapshot,
    /// Devices whose process list could not be read, with the reason
    /// (for example missing permission).
    pub process_errors: Vec<(String, String)>,
}

impl Snapshot {
    /// A snapshot taken now with no devices, processes or driver versions,
    /// around the host snapshot `host`: for code that builds snapshots
    /// itself (tests, replays) and sets the fields it has.
    ///
    /// ```
    /// use nvitop::{DeviceIndex, DeviceSnapshot, Snapshot};
    /// let mut snap = Snapshot::new("simulator", true, nvitop::host::snapshot());
    /// snap.devices.push(DeviceSnapshot::new(DeviceIndex::physical(0)));
    /// assert!(snap.timestamp > 0.0);
    /// assert!(snap.processes.is_empty());
    /// ```
    pub fn new(backend: impl Into<String>, simulated: bool, host: HostSnapshot) -> Self {
        Self {
            timestamp: unix_now(),
            backend: backend.into(),
            simulated,
            driver_version: None,
            nvml_version: None,
            cuda_driver_version: None,
            devices: Vec::new(),
            processes: Vec::new(),
            host,
            process_errors: Vec::new(),
        }
    }

    /// Takes a snapshot of `devices` (every field), their processes and
    /// the host, once. Host information is read only for the pids found on
    /// the devices, by a [`HostProcessReader`] of its own: each process's
    /// `cpu_percent` is its lifetime average, as `ps` shows it. To follow
    /// processes over time (a refresh loop), keep a reader and use
    /// [`Snapshot::take_with`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let devices = Device::from_indices_in(&backend, &[2]).unwrap();
    /// let snap = Snapshot::take(&backend, &devices);
    /// assert_eq!(snap.devices.len(), 1);
    /// assert!(snap.simulated);
    /// assert!(snap.processes.iter().all(|p| p.physical_index == 2));
    /// ```
    pub fn take(backend: &std::sync::Arc<dyn Backend>, devices: &[Device]) -> Self {
        Self::take_with(backend, devices, SnapshotFields::all(), &mut HostProcessReader::new())
    }

    /// Takes a snapshot of the `fields` of `devices`, their processes and
    /// the host, reading the processes' host side through `reader`: their
    /// `cpu_percent` covers the time since this reader's previous read
    /// (see [`HostProcessReader`]), whatever else reads them.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
    /// use nvitop::process::HostProcessReader;
    /// use nvitop::snapshot::SnapshotFields;
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let devices = Device::all_in(&backend).unwrap();
    /// let mut reader = HostProcessReader::new(); // one per refresh loop
    /// for _ in 0..2 {
    ///     let snap = Snapshot::take_with(&backend, &devices, SnapshotFields::fast(), &mut reader);
    ///     let me = snap.processes.iter().find(|p| p.pid == std::process::id()).unwrap();
    ///     assert!(me.host.as_ref().unwrap().cpu_percent >= 0.0);
    ///     assert_eq!(snap.devices[0].pcie_rx_throughput, None);
    /// }
    /// ```
    pub fn take_with(
        backend: &std::sync::Arc<dyn Backend>,
        devices: &[Device],
        fields: SnapshotFields,
        reader: &mut HostProcessReader,
    ) -> Self {
        // GPM for all devices over one shared interval, not one per device.
        let gpm = fields.gpm.then(|| gpm_of_all(devices));
        let mut device_snapshots: Vec<DeviceSnapshot> =
            devices.iter().map(|d| d.as_snapshot_with(fields.gpm(false))).collect();
        if let Some(gpm) = gpm {
            fill_gpm(&mut device_snapshots, &gpm);
        }
        let (processes, process_errors) = processes_of(devices, &device_snapshots, reader);
        Self {
            timestamp: unix_now(),
            backend: backend.kind().to_owned(),
            simulated: backend.is_simulated(),
            driver_version: backend.driver_version().ok(),
            nvml_version: backend.nvml_version().ok(),
            cuda_driver_version: backend.cuda_driver_version().ok().map(cuda_version_string),
            devices: device_snapshots,
            processes,
            host: host::snapshot(),
            process_errors,
        }
    }

    /// Takes a snapshot of every device on `backend`, once (as
    /// [`Snapshot::take`]).
    ///
    /// # Errors
    /// The device count cannot be read (no driver).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("faults").unwrap());
    /// let snap = Snapshot::take_all(&backend).unwrap();
    /// assert_eq!(snap.driver_version.as_deref(), Some("560.35.03"));
    /// // GPU 2 refuses to list its processes without permission.
    /// assert_eq!(snap.process_errors.len(), 1);
    /// assert_eq!(snap.process_errors[0].0, "2");
    /// ```
    pub fn take_all(backend: &std::sync::Arc<dyn Backend>) -> Result<Self> {
        let devices = Device::all_in(backend)?;
        Ok(Self::take(backend, &devices))
    }
}

/// GPM metrics of `devices` and their MIG devices over one shared
/// interval, by device.
fn gpm_of_all(devices: &[Device]) -> HashMap<DeviceRef, GpmMetrics> {
    let all: Vec<Device> = devices
        .iter()
        .flat_map(|d| {
            std::iter::once(d.clone()).chain(d.mig_devices().into_iter().map(crate::device::MigDevice::into_device))
        })
        .collect();
    let metrics = gpm_metrics_of(&all, GPM_MIN_INTERVAL);
    all.iter()
        .zip(metrics)
        .filter_map(|(device, metrics)| Some((device.handle(), metrics?)))
        .collect()
}

/// Puts [`gpm_of_all`]'s answers into the snapshots of the same devices.
fn fill_gpm(snapshots: &mut [DeviceSnapshot], gpm: &HashMap<DeviceRef, GpmMetrics>) {
    for snapshot in snapshots {
        snapshot.gpm = gpm.get(&DeviceRef::Physical(snapshot.index)).copied();
        for mig in &mut snapshot.mig_devices {
            let handle = mig.mig_index.map(|index| DeviceRef::Mig {
                parent: mig.index,
                index,
            });
            mig.gpm = handle.and_then(|h| gpm.get(&h)).copied();
        }
    }
}

/// Seconds since the Unix epoch, as a float (0 if the clock is set before
/// 1970, which is not worth failing a training run over). The crate's one
/// such reading: snapshots, samples, sink records and the simulator's clock.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reads the processes of every device (MIG devices included where MIG is
/// on, so each process is attributed to its MIG device), joining host
/// information in one refresh.
fn processes_of(
    devices: &[Device],
    snaps: &[DeviceSnapshot],
    reader: &mut HostProcessReader,
) -> (Vec<ProcessSnapshot>, Vec<(String, String)>) {
    let mut processes: Vec<ProcessSnapshot> = Vec::new();
    let mut errors = Vec::new();
    for (device, snap) in devices.iter().zip(snaps) {
        if snap.is_failed() {
            continue;
        }
        let targets: Vec<(Device, Option<u64>)> = if snap.mig_devices.is_empty() {
            vec![(device.clone(), snap.memory_total)]
        } else {
            device
                .mig_devices()
                .into_iter()
                .zip(&snap.mig_devices)
                .map(|(m, s)| (m.into_device(), s.memory_total))
                .collect()
        };
        for (target, total) in targets {
            let raw = match target.backend().processes(target.handle()) {
                Ok(raw) => raw,
                Err(err) if err.is_not_available() => continue,
                Err(err) => {
                    errors.push((target.display_index(), err.to_string()));
                    continue;
                }
            };
            let utilization = latest_utilization(&target);
            processes.extend(
                raw.iter()
                    .map(|p| ProcessSnapshot::from_raw(&target, p, utilization.get(&p.pid), total, None)),
            );
        }
    }
    // The host side of every pid in one pass.
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    let infos: HashMap<u32, HostProcessInfo> = reader.infos(&pids);
    for row in &mut processes {
        row.host = infos.get(&row.pid).cloned();
    }
    processes.sort_by_key(|p| (p.device_index, p.pid));
    (processes, errors)
}

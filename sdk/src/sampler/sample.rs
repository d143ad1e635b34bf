//! One sample: what the sampler thread read at one moment.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::host::HostSnapshot;
use crate::process::HostProcessInfo;

/// GPU-side readings of one device. Units are those the logger and the
/// collector report: percent, bytes, °C, watts, joules, MHz, KB/s.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let sim = SimBackend::default_machine();
/// # sim.set_time(10.0);
/// # let backend: Arc<dyn Backend> = Arc::new(sim);
/// # let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
/// let h100 = &sampler.latest().devices[0];
/// assert_eq!(h100.power_limit, Some(700.0)); // watts, not milliwatts
/// assert_eq!(h100.memory_total, Some(85_520_809_984.0));
/// assert!(h100.tracked_gpu_memory.unwrap() > 0.0); // the calling process trains here
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceSample {
    /// GPU utilization, percent.
    pub gpu_utilization: Option<f64>,
    /// Memory-bandwidth utilization, percent.
    pub memory_utilization: Option<f64>,
    /// Used memory, bytes.
    pub memory_used: Option<f64>,
    /// Free memory, bytes.
    pub memory_free: Option<f64>,
    /// Total memory, bytes.
    pub memory_total: Option<f64>,
    /// Used memory, percent of total.
    pub memory_percent: Option<f64>,
    /// Fan speed, percent.
    pub fan_speed: Option<f64>,
    /// Temperature, °C.
    pub temperature: Option<f64>,
    /// Power draw, W.
    pub power_usage: Option<f64>,
    /// Enforced power limit, W.
    pub power_limit: Option<f64>,
    /// Energy counter, J (since driver load).
    pub energy: Option<f64>,
    /// When `energy` (and `power_usage`) were read, on the monotonic clock
    /// the logger's hooks use: per-step energy interpolates between readings
    /// by it. Not serialized (an `Instant` means nothing outside this process).
    #[serde(skip)]
    pub energy_read_at: Option<std::time::Instant>,
    /// SM clock, MHz.
    pub sm_clock: Option<f64>,
    /// Memory clock, MHz.
    pub memory_clock: Option<f64>,
    /// PCIe TX, KB/s.
    pub pcie_tx: Option<f64>,
    /// PCIe RX, KB/s.
    pub pcie_rx: Option<f64>,
    /// GPU memory used by the tracked processes on this device, bytes.
    pub tracked_gpu_memory: Option<f64>,
    /// SM utilization of the tracked processes on this device, percent.
    pub tracked_sm_utilization: Option<f64>,
    /// GPM activity metrics since the sampler's previous GPM sample of this
    /// device; `None` unless [`SamplerConfig::gpm`](super::SamplerConfig::gpm)
    /// asks for them, on GPUs without GPM, and on the first sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpm: Option<crate::device::GpmMetrics>,
}

/// GPU-side readings of one tracked process on one device.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let sim = SimBackend::default_machine();
/// # sim.set_time(10.0);
/// # let backend: Arc<dyn Backend> = Arc::new(sim);
/// # let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
/// let me = sampler.latest().processes.iter().find(|p| p.pid == std::process::id()).cloned().unwrap();
/// let on_gpu0 = me.gpu[0].clone().unwrap();
/// assert!(on_gpu0.gpu_memory.unwrap() > 0.0);
/// assert!(on_gpu0.gpu_memory_percent.unwrap() < 100.0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessGpuSample {
    /// GPU memory, bytes.
    pub gpu_memory: Option<f64>,
    /// GPU memory, percent of the device's total.
    pub gpu_memory_percent: Option<f64>,
    /// Memory-bandwidth utilization of the process, percent.
    pub gpu_memory_utilization: Option<f64>,
    /// SM utilization of the process, percent.
    pub gpu_sm_utilization: Option<f64>,
}

/// One tracked process.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let sim = SimBackend::default_machine();
/// # sim.set_time(10.0);
/// # let backend: Arc<dyn Backend> = Arc::new(sim);
/// # let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
/// let sample = sampler.latest();
/// let me = sample.processes.iter().find(|p| p.pid == std::process::id()).unwrap();
/// assert_eq!(me.gpu.len(), sample.devices.len());
/// assert!(me.host.is_some());
/// assert!(me.gpu[2].is_none()); // no context on GPU 2
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessSample {
    /// Process id.
    pub pid: u32,
    /// Host side, `None` once the process vanished.
    pub host: Option<HostProcessInfo>,
    /// Per sampled device (same order as [`Sample::devices`]); `None` where
    /// the process has no context on that device.
    pub gpu: Vec<Option<ProcessGpuSample>>,
}

/// Everything read in one sampling pass.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let sim = SimBackend::default_machine();
/// # sim.set_time(10.0);
/// # let backend: Arc<dyn Backend> = Arc::new(sim);
/// # let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
/// let sample = sampler.latest();
/// assert_eq!(sample.seq, 1);
/// assert_eq!(sample.devices.len(), 4);
/// assert!(sample.timestamp > 1.6e9);
/// assert!(sample.host.cpu_count >= 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sample {
    /// Sequence number, 1 for the first sample.
    pub seq: u64,
    /// Unix time of the sample, seconds.
    pub timestamp: f64,
    /// One entry per sampled device, in the sampler's device order.
    pub devices: Vec<DeviceSample>,
    /// Host-wide usage.
    pub host: HostSnapshot,
    /// The tracked processes (by default the calling process and its descendants).
    pub processes: Vec<ProcessSample>,
}

/// Reads one device's GPU-side values.
pub(crate) fn read_device(device: &Device, options: SampleOptions, tracked: &TrackedGpu) -> DeviceSample {
    let to_f = |v: Option<u32>| v.map(f64::from);
    let memory = device.memory_info();
    let rates = device.utilization_rates();
    DeviceSample {
        gpu_utilization: rates.map(|r| f64::from(r.gpu)),
        memory_utilization: rates.map(|r| f64::from(r.memory)),
        memory_used: memory.map(|m| m.used as f64),
        memory_free: memory.map(|m| m.free as f64),
        memory_total: memory.map(|m| m.total as f64),
        memory_percent: memory.and_then(|m| crate::device::percent_of(m.used, m.total)),
        fan_speed: to_f(device.fan_speed()),
        temperature: to_f(device.temperature()),
        power_usage: device.power_usage().map(|mw| f64::from(mw) / 1000.0),
        power_limit: device.power_limit().map(|mw| f64::from(mw) / 1000.0),
        energy: device.total_energy_consumption().map(|mj| mj as f64 / 1000.0),
        energy_read_at: Some(std::time::Instant::now()),
        sm_clock: if options.clocks { to_f(device.sm_clock()) } else { None },
        memory_clock: if options.clocks {
            to_f(device.memory_clock())
        } else {
            None
        },
        // NVML measures PCIe throughput over a 20 ms window per call, so it is
        // read only when asked for.
        pcie_tx: if options.pcie {
            to_f(device.pcie_tx_throughput())
        } else {
            None
        },
        pcie_rx: if options.pcie {
            to_f(device.pcie_rx_throughput())
        } else {
            None
        },
        tracked_gpu_memory: tracked.memory,
        tracked_sm_utilization: tracked.sm,
        gpm: None,
    }
}

/// What the sampler reads beyond the always-on fields.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let sim = SimBackend::default_machine();
/// # sim.set_time(10.0);
/// # let backend: Arc<dyn Backend> = Arc::new(sim);
/// # let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
/// use nvitop::sampler::SampleOptions;
/// let config = SamplerConfig::default().options(SampleOptions::default().pcie(true));
/// let sample = Sampler::start(Device::all_in(&backend).unwrap(), config).latest();
/// assert!(sample.devices[0].pcie_rx.is_some());
/// assert_eq!(sample.devices[0].sm_clock, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampleOptions {
    /// Read SM and memory clocks.
    pub clocks: bool,
    /// Read PCIe throughput (20 ms per call on a real driver).
    pub pcie: bool,
}

impl SampleOptions {
    /// With or without SM and memory clocks. The struct is
    /// `#[non_exhaustive]`: build it from [`Default`] (nothing optional)
    /// and these setters, so a new reading is not a breaking change.
    ///
    /// ```
    /// use nvitop::sampler::SampleOptions;
    /// let options = SampleOptions::default().clocks(true);
    /// assert!(options.clocks && !options.pcie);
    /// ```
    #[must_use]
    pub const fn clocks(mut self, read: bool) -> Self {
        self.clocks = read;
        self
    }

    /// With or without PCIe throughput.
    ///
    /// ```
    /// use nvitop::sampler::SampleOptions;
    /// let options = SampleOptions::default().pcie(true).clocks(true);
    /// assert!(options.clocks && options.pcie);
    /// ```
    #[must_use]
    pub const fn pcie(mut self, read: bool) -> Self {
        self.pcie = read;
        self
    }
}

/// The tracked processes' totals on one device.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TrackedGpu {
    pub memory: Option<f64>,
    pub sm: Option<f64>,
}

/// Per-pid GPU readings of one device, for the tracked pids only.
pub(crate) fn read_tracked(device: &Device, pids: &[u32]) -> HashMap<u32, ProcessGpuSample> {
    let mut out = HashMap::new();
    let targets: Vec<Device> = {
        let migs = device.mig_devices();
        if migs.is_empty() {
            vec![device.clone()]
        } else {
            migs.into_iter().map(crate::device::MigDevice::into_device).collect()
        }
    };
    let total = device.memory_total();
    for target in targets {
        let Ok(raw) = target.backend().processes(target.handle()) else {
            continue;
        };
        if !raw.iter().any(|p| pids.contains(&p.pid)) {
            continue;
        }
        let utilization = crate::process::latest_utilization(&target);
        for p in raw.into_iter().filter(|p| pids.contains(&p.pid)) {
            let util = utilization.get(&p.pid);
            let entry = out.entry(p.pid).or_insert_with(ProcessGpuSample::default);
            if let Some(mem) = p.used_gpu_memory {
                entry.gpu_memory = Some(entry.gpu_memory.unwrap_or(0.0) + mem as f64);
                entry.gpu_memory_percent = entry.gpu_memory.zip(total).map(|(m, t)| m * 100.0 / t.max(1) as f64);
            }
            if let Some(u) = util {
                entry.gpu_sm_utilization = Some(entry.gpu_sm_utilization.unwrap_or(0.0) + f64::from(u.sm));
                entry.gpu_memory_utilization = Some(entry.gpu_memory_utilization.unwrap_or(0.0) + f64::from(u.memory));
            }
        }
    }
    out
}

//! A process running on a GPU: the driver's view joined with the host's.

use std::collections::HashMap;

use super::host::HostProcess;
use super::host_info::HostProcessInfo;
use crate::backend::{ProcessKind, ProcessUtilization, RawProcess};
use crate::device::{Device, percent_of};
use crate::error::Result;
use crate::format::bytes2human;

/// A process with a context on a GPU.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let device = Device::new_in(&backend, 0).unwrap();
/// for process in device.processes().unwrap() {
///     println!(
///         "{} {} {} {:?} {:?}",
///         process.pid(),
///         process.type_label(),
///         process.gpu_memory_human().unwrap_or_default(),
///         process.gpu_sm_utilization(),
///         process.host().and_then(|h| h.command()),
///     );
/// }
/// ```
#[derive(Debug, Clone)]
pub struct GpuProcess {
    device: Device,
    raw: RawProcess,
    utilization: Option<ProcessUtilization>,
    host: Option<HostProcess>,
    device_memory_total: Option<u64>,
}

impl GpuProcess {
    /// The processes on `device`, each joined with its host process (when
    /// visible from here: a process in another pid namespace has none).
    pub(crate) fn list(device: &Device) -> Result<Vec<Self>> {
        let backend = device.backend();
        let raw = backend.processes(device.handle())?;
        let utilization = latest_utilization(device);
        let total = device.memory_total();
        Ok(raw
            .into_iter()
            .map(|raw| Self {
                device: device.clone(),
                utilization: utilization.get(&raw.pid).copied(),
                host: HostProcess::new(raw.pid).ok(),
                raw,
                device_memory_total: total,
            })
            .collect())
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.raw.pid
    }

    /// The device the process runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The driver's record of the process.
    pub fn raw(&self) -> &RawProcess {
        &self.raw
    }

    /// The host process, when this pid is visible from here.
    pub fn host(&self) -> Option<&HostProcess> {
        self.host.as_ref()
    }

    /// Host information now, when the process is visible and still the same one.
    pub fn host_info(&self) -> Option<HostProcessInfo> {
        self.host.as_ref().and_then(HostProcess::info)
    }

    /// GPU memory used by the process, bytes.
    pub fn gpu_memory(&self) -> Option<u64> {
        self.raw.used_gpu_memory
    }

    /// GPU memory as `1234MiB`.
    pub fn gpu_memory_human(&self) -> Option<String> {
        self.gpu_memory().map(bytes2human)
    }

    /// GPU memory as a percent of the device's total.
    pub fn gpu_memory_percent(&self) -> Option<f64> {
        percent_of(self.gpu_memory()?, self.device_memory_total?)
    }

    /// Compute, graphics or both.
    pub fn kind(&self) -> ProcessKind {
        self.raw.kind
    }

    /// `C`, `G` or `C+G`.
    pub fn type_label(&self) -> &'static str {
        self.raw.kind.label()
    }

    /// SM utilization of this process, percent.
    pub fn gpu_sm_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.sm)
    }

    /// Memory-bandwidth utilization of this process, percent.
    pub fn gpu_memory_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.memory)
    }

    /// Encoder utilization of this process, percent.
    pub fn gpu_encoder_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.encoder)
    }

    /// Decoder utilization of this process, percent.
    pub fn gpu_decoder_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.decoder)
    }
}

/// The newest utilization sample of each pid on the device (empty where the
/// driver keeps none).
pub(crate) fn latest_utilization(device: &Device) -> HashMap<u32, ProcessUtilization> {
    let samples = device
        .backend()
        .process_utilization(device.handle(), 0)
        .unwrap_or_default();
    let mut latest: HashMap<u32, ProcessUtilization> = HashMap::with_capacity(samples.len());
    for sample in samples {
        latest
            .entry(sample.pid)
            .and_modify(|s| {
                if sample.timestamp >= s.timestamp {
                    *s = sample;
                }
            })
            .or_insert(sample);
    }
    latest
}

impl GpuProcess {
    /// Plain data for this process, host side included, in one pass.
    pub fn as_snapshot(&self) -> crate::snapshot::ProcessSnapshot {
        crate::snapshot::ProcessSnapshot {
            pid: self.pid(),
            device_index: self.device.display_index(),
            physical_index: self.device.index(),
            gpu_memory: self.gpu_memory(),
            gpu_memory_human: self.gpu_memory_human(),
            gpu_memory_percent: self.gpu_memory_percent(),
            kind: self.type_label().to_owned(),
            gpu_sm_utilization: self.gpu_sm_utilization(),
            gpu_memory_utilization: self.gpu_memory_utilization(),
            gpu_encoder_utilization: self.gpu_encoder_utilization(),
            gpu_decoder_utilization: self.gpu_decoder_utilization(),
            gpu_instance_id: self.raw.gpu_instance_id,
            compute_instance_id: self.raw.compute_instance_id,
            host: self.host_info(),
        }
    }
}

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
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// // The simulated training job on GPU 0 is the calling process.
    /// assert_eq!(me.pid(), std::process::id());
    /// ```
    pub fn pid(&self) -> u32 {
        self.raw.pid
    }

    /// The device the process runs on.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert_eq!(me.device(), &gpu);
    /// ```
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The driver's record of the process.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert_eq!(me.raw().pid, me.pid());
    /// assert_eq!(me.raw().used_gpu_memory, me.gpu_memory());
    /// ```
    pub fn raw(&self) -> &RawProcess {
        &self.raw
    }

    /// The host process, when this pid is visible from here.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// let host = me.host().unwrap();
    /// assert_eq!(host.pid(), std::process::id());
    /// assert!(host.is_running());
    /// ```
    pub fn host(&self) -> Option<&HostProcess> {
        self.host.as_ref()
    }

    /// Host information now, when the process is visible and still the same one.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// let info = me.host_info().unwrap();
    /// assert_eq!(info.pid, std::process::id());
    /// ```
    pub fn host_info(&self) -> Option<HostProcessInfo> {
        self.host.as_ref().and_then(HostProcess::info)
    }

    /// GPU memory used by the process, bytes.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// let bytes = me.gpu_memory().unwrap();
    /// assert!(bytes > 0 && bytes < gpu.memory_total().unwrap());
    /// ```
    pub fn gpu_memory(&self) -> Option<u64> {
        self.raw.used_gpu_memory
    }

    /// GPU memory as `1234MiB`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert_eq!(me.gpu_memory_human().as_deref(), Some("20836MiB"));
    /// ```
    pub fn gpu_memory_human(&self) -> Option<String> {
        self.gpu_memory().map(bytes2human)
    }

    /// GPU memory as a percent of the device's total.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// let percent = me.gpu_memory_percent().unwrap();
    /// assert!(percent > 0.0 && percent < 100.0, "{percent}");
    /// ```
    pub fn gpu_memory_percent(&self) -> Option<f64> {
        percent_of(self.gpu_memory()?, self.device_memory_total?)
    }

    /// Compute, graphics or both.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// use nvitop::backend::ProcessKind;
    /// assert_eq!(me.kind(), ProcessKind::Compute);
    /// // On the desktop card the same process also holds a graphics context.
    /// let on_rtx = rtx.processes().unwrap();
    /// assert!(on_rtx.iter().any(|p| p.kind() != ProcessKind::Compute));
    /// ```
    pub fn kind(&self) -> ProcessKind {
        self.raw.kind
    }

    /// `C`, `G` or `C+G`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert_eq!(me.type_label(), "C");
    /// ```
    pub fn type_label(&self) -> &'static str {
        self.raw.kind.label()
    }

    /// SM utilization of this process, percent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert!(me.gpu_sm_utilization().unwrap() <= 100);
    /// // The driver keeps no per-process samples on a MIG-enabled GPU.
    /// let mig_parent = Device::new_in(&backend, 1).unwrap();
    /// assert!(mig_parent.processes().unwrap().iter().all(|p| p.gpu_sm_utilization().is_none()));
    /// ```
    pub fn gpu_sm_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.sm)
    }

    /// Memory-bandwidth utilization of this process, percent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert!(me.gpu_memory_utilization().unwrap() <= 100);
    /// ```
    pub fn gpu_memory_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.memory)
    }

    /// Encoder utilization of this process, percent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert_eq!(me.gpu_encoder_utilization(), Some(0)); // training does not encode video
    /// ```
    pub fn gpu_encoder_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.encoder)
    }

    /// Decoder utilization of this process, percent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// assert_eq!(me.gpu_decoder_utilization(), Some(0));
    /// ```
    pub fn gpu_decoder_utilization(&self) -> Option<u32> {
        self.utilization.map(|u| u.decoder)
    }
}

/// How far back a reader looks for per-process utilization samples, µs.
///
/// The driver returns the samples newer than the timestamp a reader gives
/// (see `docs/SIMULATOR.md`). Every reader asks for this fixed window,
/// rather than "since my previous read", because several readers of one
/// program (sampler, collector, monitor, user code) ask at once, and a
/// shared "last seen" timestamp advanced by one would hide the samples from
/// the others. One second holds one to six driver sample periods.
pub(crate) const UTILIZATION_WINDOW_US: u64 = 1_000_000;

/// The per-process utilization of one device over the last
/// [`UTILIZATION_WINDOW_US`]: each pid's newest sample in the window, a
/// zero sample for a pid with none (the driver records no sample for a
/// process that was idle), or nothing at all where the driver keeps no
/// per-process samples (MIG-enabled GPU, unsupported, no permission).
#[derive(Debug, Clone, Default)]
pub(crate) struct RecentUtilization {
    latest: HashMap<u32, ProcessUtilization>,
    /// The driver answered: a pid without a sample was idle.
    answered: bool,
    /// The sample of an idle process.
    idle: ProcessUtilization,
}

impl RecentUtilization {
    /// The sample of `pid`: its newest in the window, zeros when it had
    /// none, `None` when the driver has no per-process samples. Takes the
    /// pid by reference, as `HashMap::get` does, which its callers used.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub(crate) fn get(&self, pid: &u32) -> Option<&ProcessUtilization> {
        match self.latest.get(pid) {
            Some(sample) => Some(sample),
            None if self.answered => Some(&self.idle),
            None => None,
        }
    }
}

/// The recent utilization of each pid on the device (see [`RecentUtilization`]).
pub(crate) fn latest_utilization(device: &Device) -> RecentUtilization {
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let since = now_us.saturating_sub(UTILIZATION_WINDOW_US);
    // The NVML backend turns the driver's NOT_FOUND ("no sample newer than
    // `since`") into an empty list: every process was idle.
    let Ok(samples) = device.backend().process_utilization(device.handle(), since) else {
        return RecentUtilization::default();
    };
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
    RecentUtilization {
        latest,
        answered: true,
        idle: ProcessUtilization {
            pid: 0,
            timestamp: since,
            sm: 0,
            memory: 0,
            encoder: 0,
            decoder: 0,
        },
    }
}

impl GpuProcess {
    /// Plain data for this process, host side included, in one pass.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let backend: Arc<dyn Backend> = Arc::new(sim);
    /// # let gpu = Device::new_in(&backend, 0).unwrap();
    /// # let rtx = Device::new_in(&backend, 3).unwrap();
    /// # let me = gpu.processes().unwrap().into_iter().find(|p| p.pid() == std::process::id()).unwrap();
    /// # let _ = (&rtx, &me);
    /// let snapshot = me.as_snapshot();
    /// assert_eq!(snapshot.pid, me.pid());
    /// assert_eq!(snapshot.device_index, "0");
    /// assert_eq!(snapshot.kind, nvitop::backend::ProcessKind::Compute); // "C" in JSON
    /// assert!(snapshot.host.is_some());
    /// ```
    pub fn as_snapshot(&self) -> crate::snapshot::ProcessSnapshot {
        crate::snapshot::ProcessSnapshot::from_raw(
            &self.device,
            &self.raw,
            self.utilization.as_ref(),
            self.device_memory_total,
            self.host_info(),
        )
    }
}

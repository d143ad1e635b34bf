//! GPUs: physical devices ([`Device`]), MIG devices ([`MigDevice`]) and the
//! CUDA-visible view ([`CudaDevice`]).
//!
//! Every getter returns `Option`: `None` is `N/A`, a value the driver does not
//! provide for this device. One unsupported field never fails anything else.
//! Errors other than "not supported" (a lost GPU, a permission problem) are
//! logged once per device and field through the `log` facade and also give
//! `None`; [`Device::status`] reports them as errors for callers that must know.

mod cuda;
pub use cuda::CUDA_VISIBLE_DEVICES;
pub mod cuda_visible;
mod lookup;
mod mig;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

pub use cuda::CudaDevice;
pub use lookup::cuda_version_string;
pub use mig::MigDevice;

use crate::backend::{
    Backend, BackendError, BackendResult, ClockKind, ComputeMode, DeviceRef, MemoryInfo, PcieDirection,
    UtilizationRates,
};
use crate::error::Result;
use crate::format::bytes2human;
use crate::process::GpuProcess;

/// A GPU (or a MIG device) as seen through a [`Backend`].
///
/// Cheap to clone: it holds the backend handle and the device reference only.
///
/// ```
/// use nvitop::Device;
/// use nvitop::backend::sim::SimBackend;
/// use std::sync::Arc;
///
/// let backend: Arc<dyn nvitop::backend::Backend> = Arc::new(SimBackend::default_machine());
/// for device in Device::all_in(&backend).unwrap() {
///     println!(
///         "{} {} {}/{}",
///         device.index(),
///         device.name().unwrap_or_default(),
///         device.memory_used_human().unwrap_or_default(),
///         device.memory_total_human().unwrap_or_default(),
///     );
/// }
/// ```
#[derive(Clone)]
pub struct Device {
    backend: Arc<dyn Backend>,
    handle: DeviceRef,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("handle", &self.handle)
            .field("backend", &self.backend.kind())
            .finish()
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        self.handle == other.handle && Arc::ptr_eq(&self.backend, &other.backend)
    }
}

impl Eq for Device {}

/// (backend address, device, field) triples already reported, so a field that
/// keeps failing is logged once, not at every sample.
type ReportedSet = HashSet<(usize, DeviceRef, &'static str)>;
static REPORTED: Mutex<Option<ReportedSet>> = Mutex::new(None);

impl Device {
    pub(crate) fn from_parts(backend: Arc<dyn Backend>, handle: DeviceRef) -> Self {
        Self { backend, handle }
    }

    /// The backend this device is read through.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The backend's reference to this device.
    pub fn handle(&self) -> DeviceRef {
        self.handle
    }

    /// The NVML index of the physical GPU (the parent's index for a MIG device).
    pub fn index(&self) -> u32 {
        self.handle.physical_index()
    }

    /// Index as nvitop prints it: `3` for a GPU, `3:1` for MIG device 1 on GPU 3.
    pub fn display_index(&self) -> String {
        self.handle.to_string()
    }

    /// Whether this is a MIG device.
    pub fn is_mig_device(&self) -> bool {
        self.handle.is_mig()
    }

    /// Turns a backend result into `Option`, logging real errors once.
    fn opt<T>(&self, field: &'static str, result: BackendResult<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) if err.is_not_available() => None,
            Err(err) => {
                let key = (Arc::as_ptr(&self.backend).cast::<()>() as usize, self.handle, field);
                let mut guard = REPORTED.lock().unwrap_or_else(PoisonError::into_inner);
                if guard.get_or_insert_with(HashSet::new).insert(key) {
                    log::warn!("GPU {}: {field}: {err}", self.handle);
                }
                None
            }
        }
    }

    /// Whether the device answers at all: `Ok` when it does, the driver's
    /// error otherwise (for example [`BackendError::GpuLost`]).
    pub fn status(&self) -> Result<(), BackendError> {
        match self.backend.name(self.handle) {
            Ok(_) => Ok(()),
            Err(err) if err.is_not_available() => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Product name, e.g. `NVIDIA A100-SXM4-80GB`.
    #[doc(alias = "nvmlDeviceGetName")]
    pub fn name(&self) -> Option<String> {
        self.opt("name", self.backend.name(self.handle))
    }

    /// UUID (`GPU-...`, or `MIG-...` for a MIG device).
    #[doc(alias = "nvmlDeviceGetUUID")]
    pub fn uuid(&self) -> Option<String> {
        self.opt("uuid", self.backend.uuid(self.handle))
    }

    /// PCI bus id, `00000000:07:00.0`.
    #[doc(alias = "nvmlDeviceGetPciInfo")]
    pub fn bus_id(&self) -> Option<String> {
        self.opt("bus_id", self.backend.bus_id(self.handle))
    }

    /// Framebuffer memory: total, used and free bytes.
    #[doc(alias = "nvmlDeviceGetMemoryInfo")]
    pub fn memory_info(&self) -> Option<MemoryInfo> {
        self.opt("memory_info", self.backend.memory_info(self.handle))
    }

    /// Total memory, bytes.
    pub fn memory_total(&self) -> Option<u64> {
        self.memory_info().map(|m| m.total)
    }

    /// Used memory, bytes.
    pub fn memory_used(&self) -> Option<u64> {
        self.memory_info().map(|m| m.used)
    }

    /// Free memory, bytes.
    pub fn memory_free(&self) -> Option<u64> {
        self.memory_info().map(|m| m.free)
    }

    /// Total memory as `81920MiB`.
    pub fn memory_total_human(&self) -> Option<String> {
        self.memory_total().map(bytes2human)
    }

    /// Used memory as `8862MiB`.
    pub fn memory_used_human(&self) -> Option<String> {
        self.memory_used().map(bytes2human)
    }

    /// Free memory as `73058MiB`.
    pub fn memory_free_human(&self) -> Option<String> {
        self.memory_free().map(bytes2human)
    }

    /// Used memory as a percentage of total (what the memory bar shows).
    pub fn memory_percent(&self) -> Option<f64> {
        self.memory_info().and_then(|m| percent_of(m.used, m.total))
    }

    /// BAR1 memory.
    #[doc(alias = "nvmlDeviceGetBAR1MemoryInfo")]
    pub fn bar1_memory_info(&self) -> Option<MemoryInfo> {
        self.opt("bar1_memory_info", self.backend.bar1_memory_info(self.handle))
    }

    /// GPU and memory-bandwidth utilization rates.
    #[doc(alias = "nvmlDeviceGetUtilizationRates")]
    pub fn utilization_rates(&self) -> Option<UtilizationRates> {
        self.opt("utilization_rates", self.backend.utilization_rates(self.handle))
    }

    /// Percent of time a kernel was running (`utilization.gpu`).
    pub fn gpu_utilization(&self) -> Option<u32> {
        self.utilization_rates().map(|u| u.gpu)
    }

    /// Percent of time memory was read or written (`utilization.memory`, the
    /// memory-bandwidth utilization; nvitop calls it `memory_utilization`).
    pub fn memory_utilization(&self) -> Option<u32> {
        self.utilization_rates().map(|u| u.memory)
    }

    /// Alias of [`Device::gpu_utilization`] under nvitop's other name.
    pub fn gpu_percent(&self) -> Option<u32> {
        self.gpu_utilization()
    }

    /// Encoder utilization, percent.
    #[doc(alias = "nvmlDeviceGetEncoderUtilization")]
    pub fn encoder_utilization(&self) -> Option<u32> {
        self.opt("encoder_utilization", self.backend.encoder_utilization(self.handle))
    }

    /// Decoder utilization, percent.
    #[doc(alias = "nvmlDeviceGetDecoderUtilization")]
    pub fn decoder_utilization(&self) -> Option<u32> {
        self.opt("decoder_utilization", self.backend.decoder_utilization(self.handle))
    }

    /// Fan speed, percent (`None` on passively cooled boards).
    #[doc(alias = "nvmlDeviceGetFanSpeed")]
    pub fn fan_speed(&self) -> Option<u32> {
        self.opt("fan_speed", self.backend.fan_speed(self.handle))
    }

    /// GPU temperature, degrees Celsius.
    #[doc(alias = "nvmlDeviceGetTemperature")]
    pub fn temperature(&self) -> Option<u32> {
        self.opt("temperature", self.backend.temperature(self.handle))
    }

    /// Power draw, milliwatts.
    #[doc(alias = "nvmlDeviceGetPowerUsage")]
    pub fn power_usage(&self) -> Option<u32> {
        self.opt("power_usage", self.backend.power_usage(self.handle))
    }

    /// Alias of [`Device::power_usage`] under nvitop's other name.
    pub fn power_draw(&self) -> Option<u32> {
        self.power_usage()
    }

    /// Enforced power limit, milliwatts.
    #[doc(alias = "nvmlDeviceGetEnforcedPowerLimit")]
    pub fn power_limit(&self) -> Option<u32> {
        self.opt("power_limit", self.backend.power_limit(self.handle))
    }

    /// `"245W / 400W"`, with `N/A` for either side that is missing.
    pub fn power_status(&self) -> String {
        power_status(self.power_usage(), self.power_limit())
    }

    /// Energy consumed since the driver was loaded, millijoules.
    #[doc(alias = "nvmlDeviceGetTotalEnergyConsumption")]
    pub fn total_energy_consumption(&self) -> Option<u64> {
        self.opt(
            "total_energy_consumption",
            self.backend.total_energy_consumption(self.handle),
        )
    }

    /// Performance state as `P0`..`P15`.
    #[doc(alias = "nvmlDeviceGetPerformanceState")]
    pub fn performance_state(&self) -> Option<String> {
        self.opt("performance_state", self.backend.performance_state(self.handle))
            .map(|p| format!("P{p}"))
    }

    /// Whether persistence mode is on.
    #[doc(alias = "nvmlDeviceGetPersistenceMode")]
    pub fn persistence_mode(&self) -> Option<bool> {
        self.opt("persistence_mode", self.backend.persistence_mode(self.handle))
    }

    /// Whether a display is initialized on the device.
    #[doc(alias = "nvmlDeviceGetDisplayActive")]
    pub fn display_active(&self) -> Option<bool> {
        self.opt("display_active", self.backend.display_active(self.handle))
    }

    /// Compute mode.
    #[doc(alias = "nvmlDeviceGetComputeMode")]
    pub fn compute_mode(&self) -> Option<ComputeMode> {
        self.opt("compute_mode", self.backend.compute_mode(self.handle))
    }

    /// Volatile uncorrected ECC error count (`None` when ECC is off or unsupported).
    #[doc(alias = "nvmlDeviceGetTotalEccErrors")]
    pub fn total_volatile_uncorrected_ecc_errors(&self) -> Option<u64> {
        self.opt("ecc_errors", self.backend.ecc_errors_volatile_uncorrected(self.handle))
    }

    /// Whether MIG mode is enabled (`None` on GPUs without MIG support).
    #[doc(alias = "nvmlDeviceGetMigMode")]
    pub fn mig_mode(&self) -> Option<bool> {
        self.opt("mig_mode", self.backend.mig_mode(self.handle))
    }

    /// Whether MIG mode is enabled, `false` where MIG is not supported.
    pub fn is_mig_mode_enabled(&self) -> bool {
        self.mig_mode().unwrap_or(false)
    }

    /// Current clock of a domain, MHz.
    #[doc(alias = "nvmlDeviceGetClockInfo")]
    pub fn clock(&self, kind: ClockKind) -> Option<u32> {
        self.opt("clock", self.backend.clock(self.handle, kind))
    }

    /// Maximum clock of a domain, MHz.
    #[doc(alias = "nvmlDeviceGetMaxClockInfo")]
    pub fn max_clock(&self, kind: ClockKind) -> Option<u32> {
        self.opt("max_clock", self.backend.max_clock(self.handle, kind))
    }

    /// Current SM clock, MHz.
    pub fn sm_clock(&self) -> Option<u32> {
        self.clock(ClockKind::Sm)
    }

    /// Current memory clock, MHz.
    pub fn memory_clock(&self) -> Option<u32> {
        self.clock(ClockKind::Memory)
    }

    /// Current graphics clock, MHz.
    pub fn graphics_clock(&self) -> Option<u32> {
        self.clock(ClockKind::Graphics)
    }

    /// Maximum SM clock, MHz.
    pub fn max_sm_clock(&self) -> Option<u32> {
        self.max_clock(ClockKind::Sm)
    }

    /// Maximum memory clock, MHz.
    pub fn max_memory_clock(&self) -> Option<u32> {
        self.max_clock(ClockKind::Memory)
    }

    /// PCIe transmit throughput (device to host), KB/s.
    #[doc(alias = "nvmlDeviceGetPcieThroughput")]
    pub fn pcie_tx_throughput(&self) -> Option<u32> {
        self.opt(
            "pcie_throughput",
            self.backend.pcie_throughput(self.handle, PcieDirection::Tx),
        )
    }

    /// PCIe receive throughput (host to device), KB/s.
    #[doc(alias = "nvmlDeviceGetPcieThroughput")]
    pub fn pcie_rx_throughput(&self) -> Option<u32> {
        self.opt(
            "pcie_throughput",
            self.backend.pcie_throughput(self.handle, PcieDirection::Rx),
        )
    }

    /// CUDA compute capability `(major, minor)`.
    #[doc(alias = "nvmlDeviceGetCudaComputeCapability")]
    pub fn cuda_compute_capability(&self) -> Option<(u32, u32)> {
        self.opt(
            "cuda_compute_capability",
            self.backend.cuda_compute_capability(self.handle),
        )
    }

    /// MIG devices under this GPU (empty when MIG is off or for a MIG device).
    pub fn mig_devices(&self) -> Vec<MigDevice> {
        if self.is_mig_device() {
            return Vec::new();
        }
        self.opt("mig_devices", self.backend.mig_devices(self.handle))
            .unwrap_or_default()
            .into_iter()
            .map(|handle| MigDevice::from_device(Self::from_parts(Arc::clone(&self.backend), handle)))
            .collect()
    }

    /// The processes running on this device, with their host side.
    ///
    /// # Errors
    /// The driver's error, e.g. [`BackendError::NoPermission`] when the
    /// process list needs privileges, or [`BackendError::GpuLost`].
    #[doc(alias = "nvmlDeviceGetComputeRunningProcesses")]
    pub fn processes(&self) -> Result<Vec<GpuProcess>> {
        GpuProcess::list(self)
    }
}

/// Percentage `part / whole * 100`, `None` for an empty whole.
pub(crate) fn percent_of(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// `"245W / 400W"` from milliwatts.
pub(crate) fn power_status(usage_mw: Option<u32>, limit_mw: Option<u32>) -> String {
    let watts = |mw: Option<u32>| mw.map_or_else(|| "N/A".to_owned(), |v| format!("{}W", (v + 500) / 1000));
    format!("{} / {}", watts(usage_mw), watts(limit_mw))
}

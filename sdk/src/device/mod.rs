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
mod gpm;
mod index;
mod lookup;
mod mig;
mod nvlink;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

pub use cuda::CudaDevice;
pub use gpm::{GPM_MIN_INTERVAL, GpmMetrics, GpmSampler, gpm_metrics_of};
pub use index::{DeviceIndex, ParseDeviceIndexError};
pub use lookup::cuda_version_string;
pub use mig::MigDevice;

use crate::backend::{
    Backend, BackendError, BackendResult, ClockKind, ComputeMode, DeviceRef, MemoryInfo, PcieDirection,
    UtilizationRates,
};
use crate::error::Result;
use crate::format::{bytes2human, throughput2human};
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
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.backend().is_simulated());
    /// assert!(Arc::ptr_eq(gpu.backend(), &backend));
    /// ```
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The backend's reference to this device.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::backend::DeviceRef;
    /// assert_eq!(gpu.handle(), DeviceRef::Physical(0));
    /// assert_eq!(mig.handle(), DeviceRef::Mig { parent: 1, index: 0 });
    /// ```
    pub fn handle(&self) -> DeviceRef {
        self.handle
    }

    /// The NVML index of the physical GPU (the parent's index for a MIG device).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(rtx.index(), 3);
    /// assert_eq!(mig.index(), 1); // a MIG device reports its parent's index
    /// ```
    pub fn index(&self) -> u32 {
        self.handle.physical_index()
    }

    /// Index as nvitop prints it: `3` for a GPU, `3:1` for MIG device 1 on GPU 3.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.display_index(), "0");
    /// assert_eq!(mig.display_index(), "1:0");
    /// ```
    pub fn display_index(&self) -> String {
        self.handle.to_string()
    }

    /// The index as a typed value: physical index and, for a MIG device,
    /// its MIG index (what [`Device::display_index`] prints).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::DeviceIndex;
    /// assert_eq!(gpu.device_index(), DeviceIndex::physical(0));
    /// assert_eq!(mig.device_index().to_string(), mig.display_index());
    /// ```
    pub fn device_index(&self) -> DeviceIndex {
        DeviceIndex::from(self.handle)
    }

    /// Whether this is a MIG device.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(!gpu.is_mig_device());
    /// assert!(mig.is_mig_device());
    /// ```
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
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.status().is_ok());
    ///
    /// // The `faults` preset loses GPU 3 thirty seconds in.
    /// use nvitop::backend::BackendError;
    /// let sim = SimBackend::from_preset("faults").unwrap();
    /// sim.set_time(40.0);
    /// let faulty: Arc<dyn Backend> = Arc::new(sim);
    /// let lost = Device::new_in(&faulty, 3).unwrap();
    /// assert!(matches!(lost.status(), Err(BackendError::GpuLost { .. })));
    /// assert_eq!(lost.name(), None); // getters answer N/A instead of failing
    /// ```
    pub fn status(&self) -> Result<(), BackendError> {
        match self.backend.name(self.handle) {
            Ok(_) => Ok(()),
            Err(err) if err.is_not_available() => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Product name, e.g. `NVIDIA A100-SXM4-80GB`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.name().as_deref(), Some("NVIDIA H100 80GB HBM3"));
    /// assert!(mig.name().unwrap().ends_with("MIG 3g.40gb"));
    /// ```
    #[doc(alias = "nvmlDeviceGetName")]
    pub fn name(&self) -> Option<String> {
        self.opt("name", self.backend.name(self.handle))
    }

    /// UUID (`GPU-...`, or `MIG-...` for a MIG device).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.uuid().unwrap().starts_with("GPU-"));
    /// assert!(mig.uuid().unwrap().starts_with("MIG-"));
    /// ```
    #[doc(alias = "nvmlDeviceGetUUID")]
    pub fn uuid(&self) -> Option<String> {
        self.opt("uuid", self.backend.uuid(self.handle))
    }

    /// PCI bus id, `00000000:07:00.0`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let bus_id = gpu.bus_id().unwrap();
    /// assert_eq!(bus_id, "00000000:18:00.0");
    /// assert_eq!(Device::from_bus_id_in(&backend, &bus_id).unwrap(), gpu);
    /// ```
    #[doc(alias = "nvmlDeviceGetPciInfo")]
    pub fn bus_id(&self) -> Option<String> {
        self.opt("bus_id", self.backend.bus_id(self.handle))
    }

    /// Framebuffer memory: total, used and free bytes.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let memory = gpu.memory_info().unwrap();
    /// assert_eq!(memory.used + memory.free, memory.total);
    /// assert!(memory.used > 0);
    /// ```
    #[doc(alias = "nvmlDeviceGetMemoryInfo")]
    pub fn memory_info(&self) -> Option<MemoryInfo> {
        self.opt("memory_info", self.backend.memory_info(self.handle))
    }

    /// Total memory, bytes.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.memory_total(), Some(85_520_809_984)); // an 80 GB H100
    /// assert!(mig.memory_total().unwrap() < mig_parent.memory_total().unwrap());
    /// ```
    pub fn memory_total(&self) -> Option<u64> {
        self.memory_info().map(|m| m.total)
    }

    /// Used memory, bytes.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let used = gpu.memory_used().unwrap();
    /// assert!(used > 0 && used <= gpu.memory_total().unwrap());
    /// ```
    pub fn memory_used(&self) -> Option<u64> {
        self.memory_info().map(|m| m.used)
    }

    /// Free memory, bytes.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let (used, free) = (gpu.memory_used().unwrap(), gpu.memory_free().unwrap());
    /// assert_eq!(used + free, gpu.memory_total().unwrap());
    /// ```
    pub fn memory_free(&self) -> Option<u64> {
        self.memory_info().map(|m| m.free)
    }

    /// Total memory as `81920MiB`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.memory_total_human().as_deref(), Some("81559MiB"));
    /// assert_eq!(rtx.memory_total_human().as_deref(), Some("24564MiB"));
    /// ```
    pub fn memory_total_human(&self) -> Option<String> {
        self.memory_total().map(bytes2human)
    }

    /// Used memory as `8862MiB`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let used = gpu.memory_used_human().unwrap();
    /// assert!(used.ends_with("MiB"), "{used}");
    /// ```
    pub fn memory_used_human(&self) -> Option<String> {
        self.memory_used().map(bytes2human)
    }

    /// Free memory as `73058MiB`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let free = gpu.memory_free_human().unwrap();
    /// assert!(free.ends_with("MiB"), "{free}");
    /// ```
    pub fn memory_free_human(&self) -> Option<String> {
        self.memory_free().map(bytes2human)
    }

    /// Used memory as a percentage of total (what the memory bar shows).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let percent = gpu.memory_percent().unwrap();
    /// assert!(percent > 0.0 && percent <= 100.0, "{percent}");
    /// ```
    pub fn memory_percent(&self) -> Option<f64> {
        self.memory_info().and_then(|m| percent_of(m.used, m.total))
    }

    /// BAR1 memory.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let bar1 = gpu.bar1_memory_info().unwrap();
    /// assert_eq!(bar1.used + bar1.free, bar1.total);
    /// ```
    #[doc(alias = "nvmlDeviceGetBAR1MemoryInfo")]
    pub fn bar1_memory_info(&self) -> Option<MemoryInfo> {
        self.opt("bar1_memory_info", self.backend.bar1_memory_info(self.handle))
    }

    /// GPU and memory-bandwidth utilization rates.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let rates = gpu.utilization_rates().unwrap();
    /// assert!(rates.gpu <= 100 && rates.memory <= 100);
    /// // A MIG-enabled GPU and its MIG devices report no utilization.
    /// assert_eq!(mig_parent.utilization_rates(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetUtilizationRates")]
    pub fn utilization_rates(&self) -> Option<UtilizationRates> {
        self.opt("utilization_rates", self.backend.utilization_rates(self.handle))
    }

    /// Percent of time a kernel was running (`utilization.gpu`).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.gpu_utilization().unwrap() > 50); // the training H100 is busy
    /// assert_eq!(mig.gpu_utilization(), None);
    /// ```
    pub fn gpu_utilization(&self) -> Option<u32> {
        self.utilization_rates().map(|u| u.gpu)
    }

    /// Percent of time memory was read or written (`utilization.memory`, the
    /// memory-bandwidth utilization; nvitop calls it `memory_utilization`).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.memory_utilization().unwrap() <= 100);
    /// assert_eq!(mig.memory_utilization(), None);
    /// ```
    pub fn memory_utilization(&self) -> Option<u32> {
        self.utilization_rates().map(|u| u.memory)
    }

    /// Alias of [`Device::gpu_utilization`] under nvitop's other name.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.gpu_percent(), gpu.gpu_utilization());
    /// ```
    pub fn gpu_percent(&self) -> Option<u32> {
        self.gpu_utilization()
    }

    /// Encoder utilization, percent.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(rtx.encoder_utilization().unwrap() <= 100);
    /// assert_eq!(mig.encoder_utilization(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetEncoderUtilization")]
    pub fn encoder_utilization(&self) -> Option<u32> {
        self.opt("encoder_utilization", self.backend.encoder_utilization(self.handle))
    }

    /// Decoder utilization, percent.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(rtx.decoder_utilization().unwrap() <= 100);
    /// assert_eq!(mig.decoder_utilization(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetDecoderUtilization")]
    pub fn decoder_utilization(&self) -> Option<u32> {
        self.opt("decoder_utilization", self.backend.decoder_utilization(self.handle))
    }

    /// Fan speed, percent (`None` on passively cooled boards).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.fan_speed(), None); // a passively cooled data-center H100
    /// assert!(rtx.fan_speed().unwrap() > 0);
    /// ```
    #[doc(alias = "nvmlDeviceGetFanSpeed")]
    pub fn fan_speed(&self) -> Option<u32> {
        self.opt("fan_speed", self.backend.fan_speed(self.handle))
    }

    /// GPU temperature, degrees Celsius.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let celsius = gpu.temperature().unwrap();
    /// assert!((20..100).contains(&celsius), "{celsius}");
    /// assert_eq!(mig.temperature(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetTemperature")]
    pub fn temperature(&self) -> Option<u32> {
        self.opt("temperature", self.backend.temperature(self.handle))
    }

    /// Power draw, milliwatts.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let milliwatts = gpu.power_usage().unwrap();
    /// assert!(milliwatts > 0 && milliwatts <= gpu.power_limit().unwrap());
    /// ```
    #[doc(alias = "nvmlDeviceGetPowerUsage")]
    pub fn power_usage(&self) -> Option<u32> {
        self.opt("power_usage", self.backend.power_usage(self.handle))
    }

    /// Alias of [`Device::power_usage`] under nvitop's other name.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.power_draw(), gpu.power_usage());
    /// ```
    pub fn power_draw(&self) -> Option<u32> {
        self.power_usage()
    }

    /// Enforced power limit, milliwatts.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.power_limit(), Some(700_000)); // an H100 SXM: 700 W
    /// assert_eq!(mig.power_limit(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetEnforcedPowerLimit")]
    pub fn power_limit(&self) -> Option<u32> {
        self.opt("power_limit", self.backend.power_limit(self.handle))
    }

    /// `"245W / 400W"`, with `N/A` for either side that is missing.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let status = gpu.power_status();
    /// assert!(status.ends_with("W / 700W"), "{status}");
    /// assert_eq!(mig.power_status(), "N/A / N/A");
    /// ```
    pub fn power_status(&self) -> String {
        power_status(self.power_usage(), self.power_limit())
    }

    /// Energy consumed since the driver was loaded, millijoules.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.total_energy_consumption().unwrap() > 0);
    /// assert_eq!(mig.total_energy_consumption(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetTotalEnergyConsumption")]
    pub fn total_energy_consumption(&self) -> Option<u64> {
        self.opt(
            "total_energy_consumption",
            self.backend.total_energy_consumption(self.handle),
        )
    }

    /// Performance state as `P0`..`P15`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.performance_state().as_deref(), Some("P0"));
    /// assert_eq!(mig.performance_state(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetPerformanceState")]
    pub fn performance_state(&self) -> Option<String> {
        self.opt("performance_state", self.backend.performance_state(self.handle))
            .map(|p| format!("P{p}"))
    }

    /// Whether persistence mode is on.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.persistence_mode(), Some(true));
    /// assert_eq!(rtx.persistence_mode(), Some(false));
    /// ```
    #[doc(alias = "nvmlDeviceGetPersistenceMode")]
    pub fn persistence_mode(&self) -> Option<bool> {
        self.opt("persistence_mode", self.backend.persistence_mode(self.handle))
    }

    /// Whether a display is initialized on the device.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(rtx.display_active(), Some(true)); // the desktop card drives a display
    /// assert_eq!(gpu.display_active(), Some(false));
    /// ```
    #[doc(alias = "nvmlDeviceGetDisplayActive")]
    pub fn display_active(&self) -> Option<bool> {
        self.opt("display_active", self.backend.display_active(self.handle))
    }

    /// Compute mode.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::backend::ComputeMode;
    /// assert_eq!(gpu.compute_mode(), Some(ComputeMode::Default));
    /// assert_eq!(gpu.compute_mode().unwrap().label(), "Default");
    /// ```
    #[doc(alias = "nvmlDeviceGetComputeMode")]
    pub fn compute_mode(&self) -> Option<ComputeMode> {
        self.opt("compute_mode", self.backend.compute_mode(self.handle))
    }

    /// Volatile uncorrected ECC error count (`None` when ECC is off or unsupported).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.total_volatile_uncorrected_ecc_errors(), Some(0));
    /// assert_eq!(rtx.total_volatile_uncorrected_ecc_errors(), None); // no ECC on a GeForce
    /// ```
    #[doc(alias = "nvmlDeviceGetTotalEccErrors")]
    pub fn total_volatile_uncorrected_ecc_errors(&self) -> Option<u64> {
        self.opt("ecc_errors", self.backend.ecc_errors_volatile_uncorrected(self.handle))
    }

    /// Whether MIG mode is enabled (`None` on GPUs without MIG support).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(mig_parent.mig_mode(), Some(true));
    /// assert_eq!(gpu.mig_mode(), Some(false));
    /// assert_eq!(rtx.mig_mode(), None); // no MIG support
    /// ```
    #[doc(alias = "nvmlDeviceGetMigMode")]
    pub fn mig_mode(&self) -> Option<bool> {
        self.opt("mig_mode", self.backend.mig_mode(self.handle))
    }

    /// Whether MIG mode is enabled, `false` where MIG is not supported.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(mig_parent.is_mig_mode_enabled());
    /// assert!(!rtx.is_mig_mode_enabled());
    /// ```
    pub fn is_mig_mode_enabled(&self) -> bool {
        self.mig_mode().unwrap_or(false)
    }

    /// Current clock of a domain, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::backend::ClockKind;
    /// let sm = gpu.clock(ClockKind::Sm).unwrap();
    /// assert!(sm > 0 && sm <= gpu.max_clock(ClockKind::Sm).unwrap());
    /// assert_eq!(mig.clock(ClockKind::Sm), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetClockInfo")]
    pub fn clock(&self, kind: ClockKind) -> Option<u32> {
        self.opt("clock", self.backend.clock(self.handle, kind))
    }

    /// Maximum clock of a domain, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::backend::ClockKind;
    /// assert_eq!(gpu.max_clock(ClockKind::Sm), Some(1980));
    /// assert_eq!(gpu.max_clock(ClockKind::Memory), gpu.max_memory_clock());
    /// ```
    #[doc(alias = "nvmlDeviceGetMaxClockInfo")]
    pub fn max_clock(&self, kind: ClockKind) -> Option<u32> {
        self.opt("max_clock", self.backend.max_clock(self.handle, kind))
    }

    /// Current SM clock, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.sm_clock().unwrap() <= gpu.max_sm_clock().unwrap());
    /// ```
    pub fn sm_clock(&self) -> Option<u32> {
        self.clock(ClockKind::Sm)
    }

    /// Current memory clock, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.memory_clock().unwrap() <= gpu.max_memory_clock().unwrap());
    /// ```
    pub fn memory_clock(&self) -> Option<u32> {
        self.clock(ClockKind::Memory)
    }

    /// Current graphics clock, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.graphics_clock().unwrap() > 0);
    /// assert_eq!(mig.graphics_clock(), None);
    /// ```
    pub fn graphics_clock(&self) -> Option<u32> {
        self.clock(ClockKind::Graphics)
    }

    /// Maximum SM clock, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.max_sm_clock(), Some(1980));
    /// ```
    pub fn max_sm_clock(&self) -> Option<u32> {
        self.max_clock(ClockKind::Sm)
    }

    /// Maximum memory clock, MHz.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.max_memory_clock(), Some(2619));
    /// ```
    pub fn max_memory_clock(&self) -> Option<u32> {
        self.max_clock(ClockKind::Memory)
    }

    /// PCIe transmit throughput (device to host), KB/s.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.pcie_tx_throughput().unwrap() > 0);
    /// assert_eq!(mig.pcie_tx_throughput(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetPcieThroughput")]
    pub fn pcie_tx_throughput(&self) -> Option<u32> {
        self.opt(
            "pcie_throughput",
            self.backend.pcie_throughput(self.handle, PcieDirection::Tx),
        )
    }

    /// PCIe receive throughput (host to device), KB/s.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.pcie_rx_throughput().unwrap() > 0);
    /// assert_eq!(mig.pcie_rx_throughput(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetPcieThroughput")]
    pub fn pcie_rx_throughput(&self) -> Option<u32> {
        self.opt(
            "pcie_throughput",
            self.backend.pcie_throughput(self.handle, PcieDirection::Rx),
        )
    }

    /// PCIe transmit throughput as nvitop writes it, `320MiB/s` (the
    /// driver's KiB/s in [`bytes2human`] units, per second).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let tx = gpu.pcie_tx_throughput_human().unwrap();
    /// assert!(tx.ends_with("iB/s"), "{tx}");
    /// assert_eq!(mig.pcie_tx_throughput_human(), None);
    /// ```
    pub fn pcie_tx_throughput_human(&self) -> Option<String> {
        self.pcie_tx_throughput().map(throughput2human)
    }

    /// PCIe receive throughput as nvitop writes it, `1987MiB/s`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let rx = gpu.pcie_rx_throughput_human().unwrap();
    /// assert_eq!(rx, nvitop::format::throughput2human(gpu.pcie_rx_throughput().unwrap()));
    /// ```
    pub fn pcie_rx_throughput_human(&self) -> Option<String> {
        self.pcie_rx_throughput().map(throughput2human)
    }

    /// CUDA compute capability `(major, minor)`.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert_eq!(gpu.cuda_compute_capability(), Some((9, 0))); // Hopper
    /// assert_eq!(rtx.cuda_compute_capability(), Some((8, 9))); // Ada
    /// ```
    #[doc(alias = "nvmlDeviceGetCudaComputeCapability")]
    pub fn cuda_compute_capability(&self) -> Option<(u32, u32)> {
        self.opt(
            "cuda_compute_capability",
            self.backend.cuda_compute_capability(self.handle),
        )
    }

    /// MIG devices under this GPU (empty when MIG is off or for a MIG device).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let migs = mig_parent.mig_devices();
    /// assert_eq!(migs.len(), 3);
    /// assert_eq!(migs[2].display_index(), "1:2");
    /// assert!(gpu.mig_devices().is_empty());
    /// ```
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
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let processes = gpu.processes().unwrap();
    /// // The calling process trains on GPU 0 of the simulated machine.
    /// assert!(processes.iter().any(|p| p.pid() == std::process::id()));
    ///
    /// // The `faults` preset's GPU 2 needs privileges to list its processes.
    /// let faulty: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("faults").unwrap());
    /// assert!(Device::new_in(&faulty, 2).unwrap().processes().is_err());
    /// ```
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

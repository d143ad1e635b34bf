//! The real driver: NVML through `nvml-wrapper`.
//!
//! [`NvmlBackend`] loads `libnvidia-ml.so.1` (or the library named by
//! [`NVML_LIBRARY_ENV`]) at run time, so the SDK builds and runs on machines
//! without a driver and only fails, with an error that says what to do, when
//! it is asked for real GPUs.
//!
//! NVML device handles borrow the library handle, so none are stored: every
//! call looks its handle up by index, which NVML answers from a table it
//! already holds (no driver round trip), so a snapshot of many GPUs and
//! fields pays nothing noticeable for it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

mod fields;

use nvml_wrapper::Nvml;
use nvml_wrapper::device::Device;
use nvml_wrapper::enum_wrappers::device::{
    Clock, ComputeMode as NvmlComputeMode, EccCounter, MemoryError, PcieUtilCounter, PerformanceState,
    TemperatureSensor,
};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::enums::gpm::GpmMetricId;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::gpm::{GpmSample, gpm_metrics_get};
use nvml_wrapper::struct_wrappers::device::ProcessInfo;

use super::{
    Backend, BackendError, BackendResult, ClockEventReasons, ClockKind, ComputeMode, DeviceRef, GpmMetric, GpmSampleId,
    MemoryInfo, NvLinkCounters, PciBusId, PcieDirection, ProcessKind, ProcessUtilization, RawProcess, UtilizationRates,
};

/// Environment variable naming the NVML library to load instead of the
/// default (a file path, or a bare name the dynamic loader searches for).
/// Unset or empty means [`DEFAULT_NVML_LIBRARY`].
///
/// ```
/// use nvitop::backend::{BackendError, nvml::{NVML_LIBRARY_ENV, NvmlBackend}};
/// assert_eq!(NVML_LIBRARY_ENV, "NVITOP_NVML_LIBRARY");
/// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
/// # unsafe { std::env::set_var(NVML_LIBRARY_ENV, "/nonexistent/libnvidia-ml.so.1") };
/// // With NVITOP_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1:
/// let err = NvmlBackend::new().unwrap_err();
/// assert!(matches!(err, BackendError::LibraryNotFound { ref path, .. } if path.ends_with("libnvidia-ml.so.1")));
/// ```
pub const NVML_LIBRARY_ENV: &str = "NVITOP_NVML_LIBRARY";

/// The library [`NvmlBackend::new`] loads when [`NVML_LIBRARY_ENV`] is unset:
/// the versioned soname, because the unversioned `libnvidia-ml.so` link only
/// exists where the driver's development files are installed.
///
/// ```
/// assert_eq!(nvitop::backend::nvml::DEFAULT_NVML_LIBRARY, "libnvidia-ml.so.1");
/// ```
#[cfg(not(windows))]
pub const DEFAULT_NVML_LIBRARY: &str = "libnvidia-ml.so.1";

/// The library [`NvmlBackend::new`] loads when [`NVML_LIBRARY_ENV`] is unset.
///
/// ```
/// assert_eq!(nvitop::backend::nvml::DEFAULT_NVML_LIBRARY, "nvml.dll");
/// ```
#[cfg(windows)]
pub const DEFAULT_NVML_LIBRARY: &str = "nvml.dll";

/// The symbol whose absence tells a loadable library that is not NVML apart
/// from a real NVML (it is the first thing `nvml-wrapper` resolves and calls).
const INIT_SYMBOL: &str = "nvmlInit_v2";

/// NVML's value for "MIG mode enabled" in `nvmlDeviceGetMigMode`.
const MIG_ENABLED: u32 = 1;

/// The NVML backend: answers [`Backend`] questions from the NVIDIA driver.
///
/// ```no_run
/// use nvitop::backend::{Backend, DeviceRef, nvml::NvmlBackend};
/// let nvml = NvmlBackend::new()?;
/// println!("{} GPU(s), driver {}", nvml.device_count()?, nvml.driver_version()?);
/// println!("GPU 0 is {}", nvml.name(DeviceRef::Physical(0))?);
/// # Ok::<(), nvitop::backend::BackendError>(())
/// ```
pub struct NvmlBackend {
    nvml: Nvml,
    library: PathBuf,
    /// GPM samples given out and not yet freed: our id -> NVML's sample
    /// handle. NVML's `GpmSample` borrows the `Nvml` above, so it cannot be
    /// stored next to it; the handle is kept as its address (an opaque
    /// pointer NVML owns, never dereferenced here) and wrapped again for
    /// each call. The lock is held across every call that uses a handle, so
    /// no handle is freed while another thread passes it to NVML.
    gpm: Mutex<GpmHandles>,
}

/// See [`NvmlBackend::gpm`].
#[derive(Debug, Default)]
struct GpmHandles {
    next: u64,
    live: HashMap<u64, usize>,
}

impl Drop for NvmlBackend {
    fn drop(&mut self) {
        // Give back samples still held (a caller that forgot, or a panic
        // between alloc and free) before the library handle goes.
        let handles = std::mem::take(&mut self.gpm.get_mut().unwrap_or_else(PoisonError::into_inner).live);
        for raw in handles.into_values() {
            // SAFETY: `raw` came from `GpmSample::into_handle` on this `Nvml`
            // and left the map just now, so it is freed exactly once.
            #[allow(unsafe_code)]
            let sample = unsafe { GpmSample::from_handle(&self.nvml, raw as *mut _) };
            let _ = sample.free();
        }
    }
}

impl fmt::Debug for NvmlBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Nvml` is not `Debug`; the library path is what tells two backends apart.
        f.debug_struct("NvmlBackend")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

impl NvmlBackend {
    /// Loads NVML from [`NVML_LIBRARY_ENV`] when it is set and not empty,
    /// else from [`DEFAULT_NVML_LIBRARY`], and initializes it.
    ///
    /// # Errors
    /// See [`NvmlBackend::with_library`].
    ///
    /// ```
    /// use nvitop::backend::{Backend, BackendError, nvml::NvmlBackend};
    /// // Works on a machine with the NVIDIA driver; elsewhere the error says what to do.
    /// match NvmlBackend::new() {
    ///     Ok(nvml) => println!("{} GPU(s)", nvml.device_count().unwrap_or(0)),
    ///     Err(err @ (BackendError::LibraryNotFound { .. } | BackendError::DriverNotLoaded { .. })) => {
    ///         assert!(err.to_string().contains("NVITOP_SIMULATE"), "{err}");
    ///     }
    ///     Err(err) => eprintln!("{err}"),
    /// }
    /// ```
    pub fn new() -> BackendResult<Self> {
        Self::with_library(library_from_env(std::env::var_os(NVML_LIBRARY_ENV)))
    }

    /// Loads NVML from `path` (a file path, or a bare name the dynamic loader
    /// searches for) and initializes it.
    ///
    /// # Errors
    /// - [`BackendError::LibraryNotFound`]: the library could not be loaded
    ///   (no driver installed, wrong path); carries the path and the loader's message.
    /// - [`BackendError::NotAnNvmlLibrary`]: the library loaded but has no
    ///   `nvmlInit_v2`, so it is not NVML.
    /// - [`BackendError::DriverNotLoaded`]: NVML is installed but the kernel
    ///   driver is not running.
    /// - [`BackendError::NoPermission`] or [`BackendError::Other`] for
    ///   anything else NVML's initialization reports.
    ///
    /// ```
    /// use nvitop::backend::{BackendError, nvml::NvmlBackend};
    /// let err = NvmlBackend::with_library("/nonexistent/libnvidia-ml.so.1").unwrap_err();
    /// assert!(matches!(err, BackendError::LibraryNotFound { .. }));
    /// assert!(err.to_string().contains("/nonexistent/libnvidia-ml.so.1"));
    /// ```
    pub fn with_library(path: impl AsRef<Path>) -> BackendResult<Self> {
        let library = path.as_ref().to_path_buf();
        let nvml = Nvml::builder()
            .lib_path(library.as_os_str())
            .init()
            .map_err(|err| init_error(err, &library))?;
        Ok(Self {
            nvml,
            library,
            gpm: Mutex::new(GpmHandles::default()),
        })
    }

    /// The library this backend loaded, as it was given (path or bare name).
    ///
    /// ```
    /// use nvitop::backend::nvml::NvmlBackend;
    /// if let Ok(nvml) = NvmlBackend::with_library("libnvidia-ml.so.1") {
    ///     assert_eq!(nvml.library_path(), std::path::Path::new("libnvidia-ml.so.1"));
    /// }
    /// // Without a driver the error carries the path instead.
    /// let err = NvmlBackend::with_library("/nonexistent/libnvidia-ml.so.1").unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent/libnvidia-ml.so.1"));
    /// ```
    pub fn library_path(&self) -> &Path {
        &self.library
    }

    /// The NVML handle of a device, looked up afresh (see the module docs for why).
    fn handle(&self, device: DeviceRef) -> BackendResult<Device<'_>> {
        match device {
            DeviceRef::Physical(index) => self.physical(index),
            DeviceRef::Mig { parent, index } => {
                let parent_handle = self.physical(parent)?;
                parent_handle.mig_device_by_index(index).map_err(|err| match err {
                    // An empty or out-of-range slot, or a MIG device destroyed
                    // since it was listed.
                    NvmlError::NotFound | NvmlError::InvalidArg => BackendError::NotFound {
                        what: format!("MIG device {index} on GPU {parent}"),
                    },
                    err => convert(err, DeviceRef::Physical(parent)),
                })
            }
        }
    }

    fn physical(&self, index: u32) -> BackendResult<Device<'_>> {
        self.nvml.device_by_index(index).map_err(|err| match err {
            NvmlError::NotFound | NvmlError::InvalidArg => {
                let count = self
                    .nvml
                    .device_count()
                    .map_or_else(|_| "?".to_owned(), |c| c.to_string());
                BackendError::NotFound {
                    what: format!("GPU index {index} (the driver reports {count} GPU(s))"),
                }
            }
            err => convert(err, DeviceRef::Physical(index)),
        })
    }

    /// One field query: look the handle up, ask, convert the error.
    fn query<'a, T>(
        &'a self,
        device: DeviceRef,
        ask: impl FnOnce(&Device<'a>) -> Result<T, NvmlError>,
    ) -> BackendResult<T> {
        let handle = self.handle(device)?;
        ask(&handle).map_err(|err| convert(err, device))
    }

    /// NVML index of a physical device handle.
    fn index_of(handle: &Device<'_>, uuid: &str) -> BackendResult<u32> {
        handle
            .index()
            .map_err(|err| convert_system(err, || format!("the index of the GPU with UUID {uuid}")))
    }

    /// Finds a MIG device by UUID: NVML resolves a `MIG-` UUID to a MIG handle,
    /// whose parent gives the physical index; the MIG index is then found by
    /// comparing UUIDs over the parent's slots (NVML has no handle-to-index
    /// call for MIG devices). Falls back to scanning every GPU when the
    /// driver cannot answer the direct lookup.
    fn mig_by_uuid(&self, uuid: &str) -> BackendResult<DeviceRef> {
        let parent = self
            .nvml
            .device_by_uuid(uuid)
            .and_then(|mig| mig.mig_parent_device())
            .and_then(|parent| parent.index());
        let parents: Vec<u32> = match parent {
            Ok(parent) => vec![parent],
            Err(NvmlError::GpuLost) => {
                return Err(BackendError::Other(format!(
                    "the GPU holding MIG device {uuid} fell off the bus or is inaccessible; reset it or reboot"
                )));
            }
            Err(_) => (0..self.device_count()?).collect(),
        };
        for parent in parents {
            for mig in self.mig_devices(DeviceRef::Physical(parent)).unwrap_or_default() {
                if self.uuid(mig).is_ok_and(|u| u.eq_ignore_ascii_case(uuid)) {
                    return Ok(mig);
                }
            }
        }
        Err(BackendError::NotFound {
            what: format!("MIG device with UUID {uuid}"),
        })
    }
}

impl NvmlBackend {
    fn gpm_handles(&self) -> std::sync::MutexGuard<'_, GpmHandles> {
        self.gpm.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The GPU instance id of a MIG device (`nvmlDeviceGetGpuInstanceId`,
    /// which nvml-wrapper 0.13 does not wrap: called through its raw
    /// function table).
    fn gpu_instance_id(&self, mig: &Device<'_>, device: DeviceRef) -> BackendResult<u32> {
        let function = self
            .nvml
            .lib()
            .nvmlDeviceGetGpuInstanceId
            .as_ref()
            .map_err(|_| BackendError::NotSupported)?;
        let mut id: u32 = 0;
        // SAFETY: the handle is a live MIG device handle of this library
        // (NVML's handles stay valid until shutdown) and `id` is a valid
        // `unsigned int` to write, as the C signature asks.
        #[allow(unsafe_code)]
        let code = unsafe { function(mig.handle(), &raw mut id) };
        nvml_wrapper::error::nvml_try(code).map_err(|err| convert(err, device))?;
        Ok(id)
    }
}

/// A GPM error from a sample or support query: the ways a driver says
/// "no GPM here" become [`BackendError::NotSupported`].
fn gpm_error(err: NvmlError, device: DeviceRef) -> BackendError {
    if gpm_unsupported(&err) {
        BackendError::NotSupported
    } else {
        convert(err, device)
    }
}

/// As [`gpm_error`], for calls about samples rather than one device.
fn gpm_system_error(err: NvmlError, what: &str) -> BackendError {
    if gpm_unsupported(&err) {
        BackendError::NotSupported
    } else {
        convert_system(err, || what.to_owned())
    }
}

/// NVML's `NVML_ERROR_ARGUMENT_VERSION_MISMATCH`, which nvml-wrapper 0.13
/// has no variant for: a driver that does not know the struct version the
/// wrapper sends (version 1) cannot be asked, which is "not supported" for us.
const ARGUMENT_VERSION_MISMATCH: u32 = 25;

fn gpm_unsupported(err: &NvmlError) -> bool {
    is_unsupported(err) || matches!(err, NvmlError::UnexpectedVariant(ARGUMENT_VERSION_MISMATCH))
}

fn gpm_metric_id(metric: GpmMetric) -> GpmMetricId {
    match metric {
        GpmMetric::SmActive => GpmMetricId::SmUtil,
        GpmMetric::SmOccupancy => GpmMetricId::SmOccupancy,
        GpmMetric::TensorActive => GpmMetricId::AnyTensorUtil,
        GpmMetric::DramActive => GpmMetricId::DramBwUtil,
        GpmMetric::Fp16Active => GpmMetricId::Fp16Util,
        GpmMetric::Fp32Active => GpmMetricId::Fp32Util,
        GpmMetric::Fp64Active => GpmMetricId::Fp64Util,
        GpmMetric::PcieTx => GpmMetricId::PcieTxPerSec,
        GpmMetric::PcieRx => GpmMetricId::PcieRxPerSec,
    }
}

impl Backend for NvmlBackend {
    fn kind(&self) -> &'static str {
        "nvml"
    }

    fn is_simulated(&self) -> bool {
        false
    }

    fn driver_version(&self) -> BackendResult<String> {
        self.nvml
            .sys_driver_version()
            .map_err(|err| convert_system(err, || "driver version".to_owned()))
    }

    fn nvml_version(&self) -> BackendResult<String> {
        self.nvml
            .sys_nvml_version()
            .map_err(|err| convert_system(err, || "NVML version".to_owned()))
    }

    fn cuda_driver_version(&self) -> BackendResult<i32> {
        self.nvml
            .sys_cuda_driver_version()
            .map_err(|err| convert_system(err, || "CUDA driver version".to_owned()))
    }

    fn device_count(&self) -> BackendResult<u32> {
        self.nvml
            .device_count()
            .map_err(|err| convert_system(err, || "GPU count".to_owned()))
    }

    fn device_by_uuid(&self, uuid: &str) -> BackendResult<DeviceRef> {
        let uuid = uuid.trim();
        if uuid.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("MIG-")) {
            return self.mig_by_uuid(uuid);
        }
        match self.nvml.device_by_uuid(uuid) {
            Ok(handle) => Self::index_of(&handle, uuid).map(DeviceRef::Physical),
            Err(NvmlError::NotFound | NvmlError::InvalidArg) => {
                // NVML matches UUIDs exactly; users paste them in any case.
                let count = self.device_count()?;
                (0..count)
                    .map(DeviceRef::Physical)
                    .find(|&device| self.uuid(device).is_ok_and(|u| u.eq_ignore_ascii_case(uuid)))
                    .ok_or_else(|| BackendError::NotFound {
                        what: format!("GPU with UUID {uuid}"),
                    })
            }
            Err(err) => Err(convert_system(err, || format!("GPU with UUID {uuid}"))),
        }
    }

    fn device_by_bus_id(&self, bus_id: &str) -> BackendResult<DeviceRef> {
        let Some(wanted_id) = PciBusId::parse(bus_id) else {
            return Err(BackendError::NotFound {
                what: format!("PCI bus id '{bus_id}' (expected DDDDDDDD:BB:DD.F or BB:DD.F, hexadecimal)"),
            });
        };
        let wanted = wanted_id.to_string();
        match self.nvml.device_by_pci_bus_id(wanted.as_str()) {
            Ok(handle) => Self::index_of(&handle, &wanted).map(DeviceRef::Physical),
            Err(NvmlError::NotFound | NvmlError::InvalidArg) => {
                // Some drivers only accept one spelling; compare the parsed forms instead.
                let count = self.device_count()?;
                (0..count)
                    .map(DeviceRef::Physical)
                    .find(|&device| {
                        self.bus_id(device)
                            .is_ok_and(|id| PciBusId::parse(&id) == Some(wanted_id))
                    })
                    .ok_or_else(|| BackendError::NotFound {
                        what: format!("GPU at PCI bus id {wanted}"),
                    })
            }
            Err(err) => Err(convert_system(err, || format!("GPU at PCI bus id {wanted}"))),
        }
    }

    fn mig_devices(&self, device: DeviceRef) -> BackendResult<Vec<DeviceRef>> {
        let DeviceRef::Physical(parent) = device else {
            // MIG devices do not nest.
            return Ok(Vec::new());
        };
        let handle = self.physical(parent)?;
        match handle.mig_mode() {
            Ok(mode) if mode.current == MIG_ENABLED => {}
            // Not enabled, or a GPU without MIG at all: no MIG devices either way.
            Ok(_) => return Ok(Vec::new()),
            Err(err) if is_unsupported(&err) => return Ok(Vec::new()),
            Err(err) => return Err(convert(err, device)),
        }
        let slots = handle.mig_device_count().map_err(|err| convert(err, device))?;
        let mut found = Vec::new();
        for index in 0..slots {
            match handle.mig_device_by_index(index) {
                Ok(_) => found.push(DeviceRef::Mig { parent, index }),
                // Slots are sparse: unpopulated ones answer NOT_FOUND (or INVALID_ARGUMENT on some drivers).
                Err(NvmlError::NotFound | NvmlError::InvalidArg) => {}
                Err(err) => return Err(convert(err, device)),
            }
        }
        Ok(found)
    }

    fn name(&self, device: DeviceRef) -> BackendResult<String> {
        self.query(device, Device::name)
    }

    fn uuid(&self, device: DeviceRef) -> BackendResult<String> {
        self.query(device, Device::uuid)
    }

    fn bus_id(&self, device: DeviceRef) -> BackendResult<String> {
        // A MIG device is a slice of its parent's PCI function and NVML
        // reports no PCI info for MIG handles, so it shares the parent's id
        // (and a failure is the parent's, reported as such).
        self.query(DeviceRef::Physical(device.physical_index()), |d| {
            d.pci_info().map(|pci| pci.bus_id)
        })
    }

    fn memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        self.query(device, |d| {
            d.memory_info().map(|m| MemoryInfo {
                total: m.total,
                used: m.used,
                free: m.free,
            })
        })
    }

    fn bar1_memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        self.query(device, |d| {
            d.bar1_memory_info().map(|m| MemoryInfo {
                total: m.total,
                used: m.used,
                free: m.free,
            })
        })
    }

    fn utilization_rates(&self, device: DeviceRef) -> BackendResult<UtilizationRates> {
        self.query(device, |d| {
            d.utilization_rates().map(|u| UtilizationRates {
                gpu: u.gpu,
                memory: u.memory,
            })
        })
    }

    fn encoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        self.query(device, |d| d.encoder_utilization().map(|u| u.utilization))
    }

    fn decoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        self.query(device, |d| d.decoder_utilization().map(|u| u.utilization))
    }

    fn fan_speed(&self, device: DeviceRef) -> BackendResult<u32> {
        self.query(device, |d| match d.fan_speed(0) {
            // Passively cooled boards (data-centre GPUs) have no fan 0; some
            // drivers say so with INVALID_ARGUMENT instead of NOT_SUPPORTED.
            Err(NvmlError::InvalidArg) => Err(NvmlError::NotSupported),
            result => result,
        })
    }

    fn temperature(&self, device: DeviceRef) -> BackendResult<u32> {
        self.query(device, |d| d.temperature(TemperatureSensor::Gpu))
    }

    fn power_usage(&self, device: DeviceRef) -> BackendResult<u32> {
        self.query(device, Device::power_usage)
    }

    fn power_limit(&self, device: DeviceRef) -> BackendResult<u32> {
        self.query(device, Device::enforced_power_limit)
    }

    fn total_energy_consumption(&self, device: DeviceRef) -> BackendResult<u64> {
        self.query(device, Device::total_energy_consumption)
    }

    fn performance_state(&self, device: DeviceRef) -> BackendResult<u32> {
        // P-state "unknown" is the driver's way of saying N/A.
        pstate_number(self.query(device, Device::performance_state)?).ok_or(BackendError::NotSupported)
    }

    fn persistence_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        #[cfg(target_os = "linux")]
        {
            self.query(device, Device::is_in_persistent_mode)
        }
        #[cfg(not(target_os = "linux"))]
        {
            // Persistence mode is a Linux driver feature.
            let _ = device;
            Err(BackendError::NotSupported)
        }
    }

    fn display_active(&self, device: DeviceRef) -> BackendResult<bool> {
        self.query(device, Device::is_display_active)
    }

    fn compute_mode(&self, device: DeviceRef) -> BackendResult<ComputeMode> {
        self.query(device, |d| {
            d.compute_mode().map(|mode| match mode {
                NvmlComputeMode::Default => ComputeMode::Default,
                NvmlComputeMode::ExclusiveThread => ComputeMode::ExclusiveThread,
                NvmlComputeMode::Prohibited => ComputeMode::Prohibited,
                NvmlComputeMode::ExclusiveProcess => ComputeMode::ExclusiveProcess,
            })
        })
    }

    fn ecc_errors_volatile_uncorrected(&self, device: DeviceRef) -> BackendResult<u64> {
        self.query(device, |d| {
            d.total_ecc_errors(MemoryError::Uncorrected, EccCounter::Volatile)
        })
    }

    fn mig_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        self.query(device, |d| d.mig_mode().map(|mode| mode.current == MIG_ENABLED))
    }

    fn clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        self.query(device, |d| d.clock_info(nvml_clock(clock)))
    }

    fn max_clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        self.query(device, |d| d.max_clock_info(nvml_clock(clock)))
    }

    fn pcie_throughput(&self, device: DeviceRef, direction: PcieDirection) -> BackendResult<u32> {
        let counter = match direction {
            PcieDirection::Rx => PcieUtilCounter::Receive,
            PcieDirection::Tx => PcieUtilCounter::Send,
        };
        self.query(device, |d| d.pcie_throughput(counter))
    }

    fn cuda_compute_capability(&self, device: DeviceRef) -> BackendResult<(u32, u32)> {
        let cc = self.query(device, Device::cuda_compute_capability)?;
        match (u32::try_from(cc.major), u32::try_from(cc.minor)) {
            (Ok(major), Ok(minor)) => Ok((major, minor)),
            _ => Err(BackendError::Other(format!(
                "GPU {device}: the driver reported an invalid CUDA compute capability {}.{}",
                cc.major, cc.minor
            ))),
        }
    }

    fn processes(&self, device: DeviceRef) -> BackendResult<Vec<RawProcess>> {
        let handle = self.handle(device)?;
        let compute = retry_list(|| handle.running_compute_processes());
        let graphics = retry_list(|| handle.running_graphics_processes());
        // A device may support only one of the two lists (graphics is not
        // supported on MIG devices, for example); that is not a failure as
        // long as the other one answers.
        let (compute, graphics) = match (compute, graphics) {
            // Report the more telling of the two failures.
            (Err(c), Err(g)) => return Err(convert(if is_unsupported(&c) { g } else { c }, device)),
            (Err(err), Ok(_)) | (Ok(_), Err(err)) if !is_unsupported(&err) => return Err(convert(err, device)),
            (compute, graphics) => (compute.unwrap_or_default(), graphics.unwrap_or_default()),
        };
        // MPS clients are compute work too, but NVML lists them separately.
        // Best effort: drivers without MPS support answer an error, which
        // just means there are no MPS clients to add.
        let mps = retry_list(|| handle.mps_running_compute_processes()).unwrap_or_default();

        let mut merged: Vec<RawProcess> = Vec::with_capacity(compute.len() + graphics.len() + mps.len());
        let tagged = compute
            .into_iter()
            .chain(mps)
            .map(|p| (p, ProcessKind::Compute))
            .chain(graphics.into_iter().map(|p| (p, ProcessKind::Graphics)));
        for (info, kind) in tagged {
            merge_process(&mut merged, &info, kind);
        }
        Ok(merged)
    }

    fn process_utilization(&self, device: DeviceRef, since: u64) -> BackendResult<Vec<ProcessUtilization>> {
        self.query(device, |d| match retry_list(|| d.process_utilization_stats(since)) {
            // NOT_FOUND means "no samples newer than `since`", not a missing device.
            Err(NvmlError::NotFound) => Ok(Vec::new()),
            result => result.map(|samples| {
                samples
                    .into_iter()
                    .map(|s| ProcessUtilization {
                        pid: s.pid,
                        timestamp: s.timestamp,
                        sm: s.sm_util,
                        memory: s.mem_util,
                        encoder: s.enc_util,
                        decoder: s.dec_util,
                    })
                    .collect()
            }),
        })
    }

    fn gpm_supported(&self, device: DeviceRef) -> BackendResult<bool> {
        let physical = DeviceRef::Physical(device.physical_index());
        match self.handle(physical)?.gpm_support() {
            Ok(supported) => Ok(supported),
            Err(err) if gpm_unsupported(&err) => Ok(false),
            Err(err) => Err(convert(err, physical)),
        }
    }

    fn gpm_sample(&self, device: DeviceRef) -> BackendResult<GpmSampleId> {
        // nvml-wrapper frees the sample itself when filling it fails.
        let sample = match device {
            DeviceRef::Physical(_) => self.handle(device)?.gpm_sample(),
            DeviceRef::Mig { parent, .. } => {
                let instance = self.gpu_instance_id(&self.handle(device)?, device)?;
                self.physical(parent)?.gpm_mig_sample(instance)
            }
        }
        .map_err(|err| gpm_error(err, device))?;
        let mut handles = self.gpm_handles();
        handles.next += 1;
        let id = handles.next;
        handles.live.insert(id, sample.into_handle() as usize);
        Ok(GpmSampleId(id))
    }

    fn gpm_sample_free(&self, sample: GpmSampleId) -> BackendResult<()> {
        let raw = self
            .gpm_handles()
            .live
            .remove(&sample.0)
            .ok_or_else(|| BackendError::NotFound {
                what: format!("GPM sample {} (not given out by this backend, or freed)", sample.0),
            })?;
        // SAFETY: `raw` came from `GpmSample::into_handle` on this `Nvml` and
        // left the map just now, so it is freed exactly once.
        #[allow(unsafe_code)]
        let sample = unsafe { GpmSample::from_handle(&self.nvml, raw as *mut _) };
        sample
            .free()
            .map_err(|err| convert_system(err, || "freeing a GPM sample".to_owned()))
    }

    fn gpm_metrics(
        &self,
        first: GpmSampleId,
        second: GpmSampleId,
        metrics: &[GpmMetric],
    ) -> BackendResult<Vec<BackendResult<f64>>> {
        let handles = self.gpm_handles();
        let raw = |id: GpmSampleId| {
            handles.live.get(&id.0).copied().ok_or_else(|| BackendError::NotFound {
                what: format!("GPM sample {} (not given out by this backend, or freed)", id.0),
            })
        };
        let (a, b) = (raw(first)?, raw(second)?);
        // SAFETY: both handles are live samples of this `Nvml` (in the map,
        // whose lock is held until the call returns, so nobody frees them
        // meanwhile); `ManuallyDrop` keeps these borrowed wrappers from
        // freeing them, the map still owns them.
        #[allow(unsafe_code)]
        let (a, b) = unsafe {
            (
                ManuallyDrop::new(GpmSample::from_handle(&self.nvml, a as *mut _)),
                ManuallyDrop::new(GpmSample::from_handle(&self.nvml, b as *mut _)),
            )
        };
        let ids: Vec<GpmMetricId> = metrics.iter().copied().map(gpm_metric_id).collect();
        let results = gpm_metrics_get(&self.nvml, &a, &b, &ids).map_err(|err| gpm_system_error(err, "GPM metrics"))?;
        drop(handles);
        Ok(results
            .into_iter()
            .map(|result| {
                result
                    .map(|metric| metric.value)
                    .map_err(|err| gpm_system_error(err, "a GPM metric"))
            })
            .collect())
    }

    // ---- NVLink and clock event reasons (see nvml/fields.rs) ----

    fn nvlink_counters(&self, device: DeviceRef) -> BackendResult<NvLinkCounters> {
        if device.is_mig() {
            return Err(BackendError::NotSupported);
        }
        let handle = self.handle(device)?;
        fields::nvlink_counters(&self.nvml, &handle, device)
    }

    fn clock_event_reasons(&self, device: DeviceRef) -> BackendResult<ClockEventReasons> {
        // `current_throttle_reasons` is nvmlDeviceGetCurrentClocksThrottleReasons,
        // which drivers since 535 keep as an alias of ...ClocksEventReasons.
        // Bits the wrapper does not know are dropped; every reason
        // `ClockEventReasons::ALL` names is one it knows.
        self.query(device, Device::current_throttle_reasons)
            .map(|reasons| ClockEventReasons::from_bits(reasons.bits()))
    }
}

/// Adds one NVML process entry to `merged`, one entry per
/// (pid, GPU instance, compute instance): a pid seen in both the compute and
/// the graphics list becomes `C+G`. The instance ids are part of the key
/// because a MIG parent lists the processes of all its instances, and one
/// process can hold contexts in two instances.
fn merge_process(merged: &mut Vec<RawProcess>, info: &ProcessInfo, kind: ProcessKind) {
    let used_gpu_memory = match info.used_gpu_memory {
        UsedGpuMemory::Used(bytes) => Some(bytes),
        UsedGpuMemory::Unavailable => None,
    };
    let existing = merged.iter_mut().find(|p| {
        p.pid == info.pid
            && p.gpu_instance_id == info.gpu_instance_id
            && p.compute_instance_id == info.compute_instance_id
    });
    match existing {
        Some(entry) => {
            entry.kind = entry.kind.merge(kind);
            // Both lists report the process's whole usage on the device, so
            // the larger figure is the truth, not the sum.
            entry.used_gpu_memory = match (entry.used_gpu_memory, used_gpu_memory) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        None => merged.push(RawProcess {
            pid: info.pid,
            used_gpu_memory,
            kind,
            gpu_instance_id: info.gpu_instance_id,
            compute_instance_id: info.compute_instance_id,
        }),
    }
}

fn nvml_clock(clock: ClockKind) -> Clock {
    match clock {
        ClockKind::Graphics => Clock::Graphics,
        ClockKind::Sm => Clock::SM,
        ClockKind::Memory => Clock::Memory,
        ClockKind::Video => Clock::Video,
    }
}

fn pstate_number(state: PerformanceState) -> Option<u32> {
    Some(match state {
        PerformanceState::Zero => 0,
        PerformanceState::One => 1,
        PerformanceState::Two => 2,
        PerformanceState::Three => 3,
        PerformanceState::Four => 4,
        PerformanceState::Five => 5,
        PerformanceState::Six => 6,
        PerformanceState::Seven => 7,
        PerformanceState::Eight => 8,
        PerformanceState::Nine => 9,
        PerformanceState::Ten => 10,
        PerformanceState::Eleven => 11,
        PerformanceState::Twelve => 12,
        PerformanceState::Thirteen => 13,
        PerformanceState::Fourteen => 14,
        PerformanceState::Fifteen => 15,
        PerformanceState::Unknown => return None,
    })
}

/// The library [`NvmlBackend::new`] loads for a given value of [`NVML_LIBRARY_ENV`].
fn library_from_env(value: Option<OsString>) -> PathBuf {
    match value {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => PathBuf::from(DEFAULT_NVML_LIBRARY),
    }
}

/// Where the dynamic loader looks for `name` when it is a bare file name
/// (a user asking "which libnvidia-ml.so.1?" wants to know); `None` for a
/// path, which is the one place tried and is named by the error already.
fn loader_search(name: &Path, ld_library_path: Option<&std::ffi::OsStr>) -> Option<String> {
    if name.components().count() != 1 {
        return None;
    }
    let ld = match ld_library_path.map(std::ffi::OsStr::to_string_lossy) {
        Some(dirs) if !dirs.is_empty() => format!("LD_LIBRARY_PATH={dirs}"),
        _ => "LD_LIBRARY_PATH (not set)".to_owned(),
    };
    Some(format!(
        "the dynamic loader searched for {} in {ld}, the ld.so cache (/etc/ld.so.cache) and the default library directories (/lib, /usr/lib)",
        name.display()
    ))
}

/// Errors from loading and initializing the library, each naming the path.
fn init_error(err: NvmlError, path: &Path) -> BackendError {
    let shown = path.display();
    match err {
        // A file that is there but does not load is not "not found".
        NvmlError::LibloadingError(err) if path.components().count() > 1 && path.is_file() => {
            BackendError::NotALibrary {
                path: path.to_path_buf(),
                reason: err.to_string(),
            }
        }
        NvmlError::LibloadingError(err) => {
            let mut reason = err.to_string();
            if let Some(searched) = loader_search(path, std::env::var_os("LD_LIBRARY_PATH").as_deref()) {
                reason.push_str("; ");
                reason.push_str(&searched);
            }
            BackendError::LibraryNotFound {
                path: path.to_path_buf(),
                reason,
            }
        }
        // `nvml-wrapper` opens the library (any shared object loads), then
        // resolves `nvmlInit_v2` and nothing else before calling it; a symbol
        // failure at this point therefore means the library is not NVML.
        NvmlError::FailedToLoadSymbol(_) => BackendError::NotAnNvmlLibrary {
            path: path.to_path_buf(),
            symbol: INIT_SYMBOL.to_owned(),
        },
        NvmlError::LibraryNotFound => BackendError::LibraryNotFound {
            path: path.to_path_buf(),
            reason: "NVML loaded but could not find a library it depends on".to_owned(),
        },
        NvmlError::DriverNotLoaded => BackendError::DriverNotLoaded {
            reason: format!("'{shown}' loaded, but NVML reports that the NVIDIA kernel module is not running"),
        },
        NvmlError::NoPermission => BackendError::NoPermission,
        NvmlError::LibRmVersionMismatch => BackendError::Other(format!(
            "'{shown}' does not match the running NVIDIA kernel module (driver upgraded without a reboot?); reboot or reload the nvidia module, or use --simulate / NVITOP_SIMULATE=1"
        )),
        err => BackendError::Other(format!(
            "initializing NVML from '{shown}' failed: {err}; check `nvidia-smi`, or use --simulate / NVITOP_SIMULATE=1"
        )),
    }
}

/// Whether an error only means "this list/query is not available here".
fn is_unsupported(err: &NvmlError) -> bool {
    matches!(
        err,
        NvmlError::NotSupported | NvmlError::FunctionNotFound | NvmlError::FailedToLoadSymbol(_)
    )
}

/// Errors from a query about one device whose handle was found.
fn convert(err: NvmlError, device: DeviceRef) -> BackendError {
    match err {
        NvmlError::GpuLost => BackendError::GpuLost { device },
        // The handle was valid a moment ago, so NOT_FOUND means the device
        // (typically a MIG instance) went away in between.
        NvmlError::NotFound => BackendError::NotFound {
            what: format!("GPU {device}"),
        },
        // MIG handles reject many whole-GPU queries this way instead of with NOT_SUPPORTED.
        NvmlError::InvalidArg if device.is_mig() => BackendError::NotSupported,
        err => convert_system(err, || format!("GPU {device}")),
    }
}

/// Errors from calls that are not about one known device.
fn convert_system(err: NvmlError, what: impl FnOnce() -> String) -> BackendError {
    match err {
        NvmlError::NotSupported => BackendError::NotSupported,
        NvmlError::NoPermission => BackendError::NoPermission,
        // A driver too old for the call: NVML's own code, or (more often)
        // the symbol is missing from the library.
        NvmlError::FunctionNotFound | NvmlError::FailedToLoadSymbol(_) => BackendError::FunctionNotFound,
        NvmlError::DriverNotLoaded => BackendError::DriverNotLoaded {
            reason: "NVML reports that the NVIDIA kernel module is no longer running".to_owned(),
        },
        NvmlError::NotFound => BackendError::NotFound { what: what() },
        err => BackendError::Other(format!("{}: {err}", what())),
    }
}

/// Runs a list query again when it lost a race: `nvml-wrapper` asks NVML
/// for the count, then for the entries, and processes or samples that
/// appear in between make the second call fail with `INSUFFICIENT_SIZE`.
fn retry_list<T>(mut list: impl FnMut() -> Result<Vec<T>, NvmlError>) -> Result<Vec<T>, NvmlError> {
    const ATTEMPTS: u32 = 4;
    let mut attempt = 1;
    loop {
        match list() {
            Err(NvmlError::InsufficientSize(_)) if attempt < ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn library_env_value_falls_back_to_default() {
        assert_eq!(library_from_env(None), PathBuf::from(DEFAULT_NVML_LIBRARY));
        assert_eq!(
            library_from_env(Some(OsString::new())),
            PathBuf::from(DEFAULT_NVML_LIBRARY)
        );
        assert_eq!(
            library_from_env(Some("/opt/nvml.so".into())),
            PathBuf::from("/opt/nvml.so")
        );
    }

    fn info(pid: u32, used: UsedGpuMemory, gi: Option<u32>) -> ProcessInfo {
        ProcessInfo {
            pid,
            used_gpu_memory: used,
            gpu_instance_id: gi,
            compute_instance_id: gi,
        }
    }

    #[test]
    fn compute_and_graphics_entries_merge_per_pid_and_instance() {
        let mut merged = Vec::new();
        merge_process(
            &mut merged,
            &info(10, UsedGpuMemory::Used(100), None),
            ProcessKind::Compute,
        );
        merge_process(
            &mut merged,
            &info(11, UsedGpuMemory::Unavailable, None),
            ProcessKind::Compute,
        );
        merge_process(
            &mut merged,
            &info(10, UsedGpuMemory::Used(300), None),
            ProcessKind::Graphics,
        );
        merge_process(
            &mut merged,
            &info(11, UsedGpuMemory::Used(5), None),
            ProcessKind::Compute,
        );
        merge_process(
            &mut merged,
            &info(12, UsedGpuMemory::Used(1), Some(1)),
            ProcessKind::Compute,
        );
        merge_process(
            &mut merged,
            &info(12, UsedGpuMemory::Used(2), Some(2)),
            ProcessKind::Compute,
        );
        assert_eq!(merged.len(), 4);
        assert_eq!(
            (merged[0].pid, merged[0].kind, merged[0].used_gpu_memory),
            (10, ProcessKind::ComputeGraphics, Some(300))
        );
        assert_eq!(
            (merged[1].pid, merged[1].kind, merged[1].used_gpu_memory),
            (11, ProcessKind::Compute, Some(5))
        );
        assert_eq!(
            (merged[2].gpu_instance_id, merged[3].gpu_instance_id),
            (Some(1), Some(2))
        );
    }

    #[test]
    fn a_bare_library_name_says_where_the_loader_searched() {
        let name = Path::new("libnvidia-ml.so.1");
        let bare = loader_search(name, None).unwrap();
        assert!(bare.contains("libnvidia-ml.so.1"), "{bare}");
        assert!(bare.contains("LD_LIBRARY_PATH (not set)"), "{bare}");
        assert!(bare.contains("/etc/ld.so.cache") && bare.contains("/usr/lib"), "{bare}");
        let with_dirs = loader_search(name, Some(std::ffi::OsStr::new("/opt/a:/opt/b"))).unwrap();
        assert!(with_dirs.contains("LD_LIBRARY_PATH=/opt/a:/opt/b"), "{with_dirs}");
        // A path is the one place tried, and the error already names it.
        assert_eq!(loader_search(Path::new("/opt/nvidia/libnvidia-ml.so.1"), None), None);
        assert_eq!(loader_search(Path::new("./libnvidia-ml.so.1"), None), None);
    }

    #[test]
    fn a_file_that_is_not_a_shared_library_is_not_reported_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libnvidia-ml.so.1");
        std::fs::write(&file, "not an ELF file").unwrap();
        let err = NvmlBackend::with_library(&file).err().unwrap();
        assert!(
            matches!(&err, BackendError::NotALibrary { path, .. } if *path == file),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("exists but could not be loaded"), "{text}");
        assert!(text.contains("NVITOP_SIMULATE"), "{text}");
        // Nothing there at all: not found, naming the path.
        let missing = dir.path().join("nothing.so");
        let err = NvmlBackend::with_library(&missing).err().unwrap();
        assert!(
            matches!(&err, BackendError::LibraryNotFound { path, .. } if *path == missing),
            "{err:?}"
        );
    }

    #[test]
    fn init_errors_name_the_path_and_suggest_the_simulator() {
        let path = Path::new("/x/libnvidia-ml.so.1");
        let not_nvml = init_error(
            NvmlError::FailedToLoadSymbol("undefined symbol: nvmlInit_v2".into()),
            path,
        );
        assert_eq!(
            not_nvml,
            BackendError::NotAnNvmlLibrary {
                path: path.to_path_buf(),
                symbol: INIT_SYMBOL.to_owned()
            }
        );
        for err in [
            NvmlError::DriverNotLoaded,
            NvmlError::LibRmVersionMismatch,
            NvmlError::Unknown,
        ] {
            let message = init_error(err, path).to_string();
            assert!(message.contains("/x/libnvidia-ml.so.1"), "{message}");
            assert!(message.contains("NVITOP_SIMULATE"), "{message}");
        }
    }

    #[test]
    fn device_errors_map_to_backend_kinds() {
        let gpu = DeviceRef::Physical(3);
        let mig = DeviceRef::Mig { parent: 0, index: 1 };
        assert_eq!(convert(NvmlError::GpuLost, gpu), BackendError::GpuLost { device: gpu });
        assert_eq!(convert(NvmlError::NotSupported, gpu), BackendError::NotSupported);
        assert_eq!(convert(NvmlError::NoPermission, gpu), BackendError::NoPermission);
        assert_eq!(
            convert(NvmlError::FailedToLoadSymbol("x".into()), gpu),
            BackendError::FunctionNotFound
        );
        assert_eq!(
            convert(NvmlError::FunctionNotFound, gpu),
            BackendError::FunctionNotFound
        );
        assert_eq!(convert(NvmlError::InvalidArg, mig), BackendError::NotSupported);
        assert!(matches!(
            convert(NvmlError::NotFound, mig),
            BackendError::NotFound { .. }
        ));
        assert!(matches!(convert(NvmlError::Unknown, gpu), BackendError::Other(m) if m.contains("GPU 3")));
        assert_eq!(pstate_number(PerformanceState::Eight), Some(8));
        assert_eq!(pstate_number(PerformanceState::Unknown), None);
    }

    #[test]
    fn list_queries_retry_only_a_lost_race() {
        let mut calls = 0;
        let result = retry_list(|| {
            calls += 1;
            if calls < 3 {
                Err(NvmlError::InsufficientSize(None))
            } else {
                Ok(vec![calls])
            }
        });
        assert_eq!(result.ok(), Some(vec![3]));
        let mut calls = 0;
        let result: Result<Vec<u32>, _> = retry_list(|| {
            calls += 1;
            Err(NvmlError::InsufficientSize(None))
        });
        assert!(matches!(result, Err(NvmlError::InsufficientSize(_))));
        assert_eq!(calls, 4);
        let mut calls = 0;
        let result: Result<Vec<u32>, _> = retry_list(|| {
            calls += 1;
            Err(NvmlError::NotSupported)
        });
        assert!(matches!(result, Err(NvmlError::NotSupported)));
        assert_eq!(calls, 1);
    }
}

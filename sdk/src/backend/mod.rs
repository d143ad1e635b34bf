//! The one door to the driver.
//!
//! Everything above this module speaks [`Backend`]; only the modules in here
//! know NVML ([`nvml::NvmlBackend`]) or the built-in simulator
//! ([`sim::SimBackend`]). A backend answers one question per call, the way
//! NVML does, so that a caller asking for one field pays for one field, and a
//! snapshot asks for everything in one pass.
//!
//! Values a device does not support come back as
//! [`BackendError::NotSupported`]; the device layer turns those into `None`
//! (shown as `N/A`). Real failures (library missing, GPU lost) stay errors.

mod clock_events;
mod gpm;
mod nvlink;
pub mod nvml;
pub mod sim;

pub use clock_events::ClockEventReasons;
pub use gpm::{GpmMetric, GpmSampleId};
pub use nvlink::{NvLinkCounter, NvLinkCounters, NvLinkThroughput};

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which device a backend call is about: a physical GPU, or a MIG device
/// under one.
///
/// Physical devices are numbered as NVML numbers them (`0..device_count`).
/// MIG devices are numbered per parent as NVML's `nvmlDeviceGetMigDeviceHandleByIndex`
/// numbers them (`0..max_mig_device_count`, only the populated slots).
///
/// ```
/// use nvitop::backend::DeviceRef;
/// let gpu = DeviceRef::Physical(0);
/// let mig = DeviceRef::Mig { parent: 0, index: 1 };
/// assert_eq!(mig.physical_index(), 0);
/// assert!(!gpu.is_mig());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DeviceRef {
    /// A physical GPU, by NVML index.
    Physical(u32),
    /// A MIG device: its parent's NVML index and its own MIG index.
    Mig {
        /// NVML index of the parent physical GPU.
        parent: u32,
        /// Index of the MIG device under its parent.
        index: u32,
    },
}

impl DeviceRef {
    /// The NVML index of the physical GPU this device lives on.
    ///
    /// ```
    /// use nvitop::backend::DeviceRef;
    /// assert_eq!(DeviceRef::Physical(3).physical_index(), 3);
    /// assert_eq!(DeviceRef::Mig { parent: 1, index: 2 }.physical_index(), 1);
    /// ```
    pub fn physical_index(self) -> u32 {
        match self {
            Self::Physical(i) | Self::Mig { parent: i, .. } => i,
        }
    }

    /// Whether this is a MIG device.
    ///
    /// ```
    /// use nvitop::backend::DeviceRef;
    /// assert!(DeviceRef::Mig { parent: 1, index: 0 }.is_mig());
    /// assert!(!DeviceRef::Physical(1).is_mig());
    /// ```
    pub fn is_mig(self) -> bool {
        matches!(self, Self::Mig { .. })
    }
}

impl fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Physical(i) => write!(f, "{i}"),
            Self::Mig { parent, index } => write!(f, "{parent}:{index}"),
        }
    }
}

/// Framebuffer memory of a device, in bytes.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let memory = SimBackend::default_machine().memory_info(DeviceRef::Physical(3)).unwrap();
/// assert_eq!(memory.total, 24_564 * 1024 * 1024); // an RTX 4090
/// assert_eq!(memory.used + memory.free, memory.total);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryInfo {
    /// Total memory (bytes).
    pub total: u64,
    /// Memory in use (bytes).
    pub used: u64,
    /// Free memory (bytes).
    pub free: u64,
}

/// Utilization over the driver's last sample period, in percent.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let rates = SimBackend::default_machine().utilization_rates(DeviceRef::Physical(0)).unwrap();
/// assert!(rates.gpu <= 100 && rates.memory <= rates.gpu);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtilizationRates {
    /// Percent of time a kernel was running on the GPU.
    pub gpu: u32,
    /// Percent of time device memory was being read or written (memory bandwidth).
    pub memory: u32,
}

/// Which clock domain.
///
/// ```
/// use nvitop::backend::{Backend, ClockKind, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::default_machine();
/// let gpu = DeviceRef::Physical(0);
/// assert!(sim.clock(gpu, ClockKind::Sm).unwrap() <= sim.max_clock(gpu, ClockKind::Sm).unwrap());
/// assert_eq!(sim.max_clock(gpu, ClockKind::Memory).unwrap(), 2619);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClockKind {
    /// Graphics clock.
    Graphics,
    /// Streaming multiprocessor clock.
    Sm,
    /// Memory clock.
    Memory,
    /// Video encoder/decoder clock.
    Video,
}

/// Direction of PCIe traffic.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, PcieDirection, sim::SimBackend};
/// let sim = SimBackend::default_machine();
/// sim.set_time(10.0);
/// // A training GPU receives more than it sends.
/// let rx = sim.pcie_throughput(DeviceRef::Physical(0), PcieDirection::Rx).unwrap();
/// let tx = sim.pcie_throughput(DeviceRef::Physical(0), PcieDirection::Tx).unwrap();
/// assert!(rx > tx);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PcieDirection {
    /// Host to device... from the device's point of view, received (RX).
    Rx,
    /// Device to host: transmitted (TX).
    Tx,
}

/// NVML compute mode.
///
/// ```
/// use nvitop::backend::{Backend, ComputeMode, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::default_machine();
/// assert_eq!(sim.compute_mode(DeviceRef::Physical(0)).unwrap(), ComputeMode::Default);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ComputeMode {
    /// Several contexts per device.
    Default,
    /// Only one context per device, usable from one thread at a time (deprecated by NVIDIA).
    ExclusiveThread,
    /// No CUDA context may be created.
    Prohibited,
    /// Only one context per device, usable from many threads at a time.
    ExclusiveProcess,
}

impl ComputeMode {
    /// The short label nvidia-smi and nvitop print (`Default`, `E. Thread`, `Prohibited`, `E. Process`).
    ///
    /// ```
    /// use nvitop::backend::ComputeMode;
    /// assert_eq!(ComputeMode::ExclusiveProcess.label(), "E. Process");
    /// assert_eq!(ComputeMode::Default.label(), "Default");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Self::Default => "Default",
            Self::ExclusiveThread => "E. Thread",
            Self::Prohibited => "Prohibited",
            Self::ExclusiveProcess => "E. Process",
        }
    }
}

/// Whether a process runs a compute context, a graphics context or both.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, ProcessKind, sim::SimBackend};
/// // The desktop RTX 4090 runs a graphics process and a compute + graphics one.
/// let processes = SimBackend::default_machine().processes(DeviceRef::Physical(3)).unwrap();
/// assert!(processes.iter().any(|p| p.kind == ProcessKind::ComputeGraphics));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProcessKind {
    /// Compute (CUDA) context: `C`.
    Compute,
    /// Graphics context: `G`.
    Graphics,
    /// Both: `C+G`.
    ComputeGraphics,
}

impl ProcessKind {
    /// The label nvidia-smi prints: `C`, `G` or `C+G`.
    ///
    /// ```
    /// use nvitop::backend::ProcessKind;
    /// assert_eq!(ProcessKind::Compute.label(), "C");
    /// assert_eq!(ProcessKind::ComputeGraphics.label(), "C+G");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Self::Compute => "C",
            Self::Graphics => "G",
            Self::ComputeGraphics => "C+G",
        }
    }

    /// Merge two observations of the same pid (compute list and graphics list).
    ///
    /// ```
    /// use nvitop::backend::ProcessKind;
    /// assert_eq!(ProcessKind::Compute.merge(ProcessKind::Graphics), ProcessKind::ComputeGraphics);
    /// assert_eq!(ProcessKind::Compute.merge(ProcessKind::Compute), ProcessKind::Compute);
    /// ```
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        if self == other { self } else { Self::ComputeGraphics }
    }

    /// Whether the process has a compute context (`C` or `C+G`).
    ///
    /// ```
    /// use nvitop::backend::ProcessKind;
    /// assert!(ProcessKind::ComputeGraphics.is_compute());
    /// assert!(!ProcessKind::Graphics.is_compute());
    /// ```
    pub fn is_compute(self) -> bool {
        matches!(self, Self::Compute | Self::ComputeGraphics)
    }

    /// Whether the process has a graphics context (`G` or `C+G`).
    ///
    /// ```
    /// use nvitop::backend::ProcessKind;
    /// assert!(ProcessKind::ComputeGraphics.is_graphics());
    /// assert!(!ProcessKind::Compute.is_graphics());
    /// ```
    pub fn is_graphics(self) -> bool {
        matches!(self, Self::Graphics | Self::ComputeGraphics)
    }

    /// Parses nvidia-smi's label (`C`, `G` or `C+G`), as [`ProcessKind::label`] writes it.
    ///
    /// ```
    /// use nvitop::backend::ProcessKind;
    /// assert_eq!(ProcessKind::from_label("C+G"), Some(ProcessKind::ComputeGraphics));
    /// assert_eq!(ProcessKind::from_label("X"), None);
    /// ```
    pub fn from_label(label: &str) -> Option<Self> {
        match label {
            "C" => Some(Self::Compute),
            "G" => Some(Self::Graphics),
            "C+G" => Some(Self::ComputeGraphics),
            _ => None,
        }
    }
}

impl fmt::Display for ProcessKind {
    /// The label: `C`, `G` or `C+G`.
    ///
    /// ```
    /// assert_eq!(nvitop::backend::ProcessKind::Graphics.to_string(), "G");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Serializes a [`ProcessKind`] as its label (`"C"`, `"G"`, `"C+G"`), the
/// text snapshots' JSON has always carried: `#[serde(with = "...")]`.
pub(crate) mod kind_label {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ProcessKind;

    #[allow(clippy::trivially_copy_pass_by_ref)] // the signature serde's `with` calls
    pub(crate) fn serialize<S: Serializer>(kind: &ProcessKind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.label())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ProcessKind, D::Error> {
        let label = String::deserialize(deserializer)?;
        ProcessKind::from_label(&label)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid process type `{label}`, expected C, G or C+G")))
    }
}

/// One process as the driver lists it on a device.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::default_machine();
/// let processes = sim.processes(DeviceRef::Physical(0)).unwrap();
/// let me = processes.iter().find(|p| p.pid == std::process::id()).unwrap();
/// assert!(me.used_gpu_memory.unwrap() > 0);
/// assert_eq!(me.gpu_instance_id, None); // not a MIG device
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawProcess {
    /// Host process id.
    pub pid: u32,
    /// GPU memory used by the process, bytes; `None` where the driver does not
    /// say (for example on Windows WDDM or without permission).
    pub used_gpu_memory: Option<u64>,
    /// Compute, graphics or both.
    pub kind: ProcessKind,
    /// MIG GPU instance id, when MIG is enabled on the device.
    pub gpu_instance_id: Option<u32>,
    /// MIG compute instance id, when MIG is enabled on the device.
    pub compute_instance_id: Option<u32>,
}

/// A PCI bus id, `domain:bus:device.function`, as NVML writes it.
///
/// One parser for every spelling users and drivers use: any case, with an
/// 8-digit, 4-digit (sysfs, `lspci -D`) or no domain (`lspci`). It displays
/// in NVML's form, `DDDDDDDD:BB:DD.F`.
///
/// ```
/// use nvitop::backend::PciBusId;
/// let id = PciBusId::parse("0000:af:00.1").unwrap();
/// assert_eq!((id.domain, id.bus, id.device, id.function), (0, 0xAF, 0, 1));
/// assert_eq!(id.to_string(), "00000000:AF:00.1");
/// assert_eq!(id.legacy(), "0000:AF:00.1");
/// assert_eq!(PciBusId::parse("af:00.1"), Some(id));
/// assert_eq!(PciBusId::parse("07:20.0"), None); // 32 devices per bus
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PciBusId {
    /// PCI domain (segment).
    pub domain: u32,
    /// Bus number.
    pub bus: u32,
    /// Device number, `0..32`.
    pub device: u32,
    /// Function number, `0..8`.
    pub function: u32,
}

impl PciBusId {
    /// Parses a bus id; `None` when it is not one.
    ///
    /// ```
    /// use nvitop::backend::PciBusId;
    /// let nvml = PciBusId::parse("00000000:3B:00.0").unwrap();
    /// assert_eq!(PciBusId::parse("0000:3b:00.0"), Some(nvml)); // sysfs, lspci -D
    /// assert_eq!(PciBusId::parse("3b:00.0"), Some(nvml)); // lspci
    /// assert_eq!(PciBusId::parse("3b:00"), None); // no function
    /// assert_eq!(PciBusId::parse("GPU-3b00"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let (rest, function) = text.trim().rsplit_once('.')?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [bus, device] => ("0", *bus, *device),
            [domain, bus, device] => (*domain, *bus, *device),
            _ => return None,
        };
        let field = |text: &str, max_digits: usize| {
            (!text.is_empty() && text.len() <= max_digits)
                .then(|| u32::from_str_radix(text, 16).ok())
                .flatten()
        };
        let id = Self {
            domain: field(domain, 8)?,
            bus: field(bus, 2)?,
            device: field(device, 2)?,
            function: field(function, 1)?,
        };
        // PCI allows 32 devices per bus and 8 functions per device.
        (id.device < 32 && id.function < 8).then_some(id)
    }

    /// The legacy form with a 4-digit domain, `DDDD:BB:DD.F`.
    ///
    /// ```
    /// let id = nvitop::backend::PciBusId::parse("00000000:18:00.0").unwrap();
    /// assert_eq!(id.legacy(), "0000:18:00.0");
    /// ```
    pub fn legacy(&self) -> String {
        format!(
            "{:04X}:{:02X}:{:02X}.{:X}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl fmt::Display for PciBusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:08X}:{:02X}:{:02X}.{:X}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

/// One per-process utilization sample from the driver.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::default_machine();
/// let samples = sim.process_utilization(DeviceRef::Physical(0), 0).unwrap();
/// assert!(samples.iter().any(|s| s.pid == std::process::id()));
/// assert!(samples.iter().all(|s| s.sm <= 100));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessUtilization {
    /// Host process id.
    pub pid: u32,
    /// Driver timestamp of the sample (microseconds).
    pub timestamp: u64,
    /// SM (kernel) utilization, percent.
    pub sm: u32,
    /// Memory bandwidth utilization, percent.
    pub memory: u32,
    /// Encoder utilization, percent.
    pub encoder: u32,
    /// Decoder utilization, percent.
    pub decoder: u32,
}

/// An error from a backend call.
///
/// The device layer maps [`BackendError::NotSupported`] to `None`; the other
/// kinds are reported.
///
/// ```
/// use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::from_preset("faults").unwrap();
/// // GPU 1 does not support temperature; GPU 2 hides its processes.
/// assert_eq!(sim.temperature(DeviceRef::Physical(1)), Err(BackendError::NotSupported));
/// assert_eq!(sim.processes(DeviceRef::Physical(2)), Err(BackendError::NoPermission));
/// sim.set_time(40.0);
/// assert!(matches!(sim.name(DeviceRef::Physical(3)), Err(BackendError::GpuLost { .. })));
/// ```
///
/// The enum is `#[non_exhaustive]`, as is every error enum of the SDK: a
/// new kind of failure is not a breaking change, so a `match` outside the
/// SDK needs a wildcard arm. Naming every kind there is does not compile:
///
/// ```compile_fail,E0004
/// use nvitop::backend::BackendError;
/// fn code(err: &BackendError) -> u32 {
///     match err {
///         BackendError::NotSupported => 3,
///         BackendError::NoPermission => 4,
///         BackendError::GpuLost { .. } => 15,
///         BackendError::NotFound { .. } => 6,
///         BackendError::LibraryNotFound { .. } | BackendError::NotALibrary { .. } => 12,
///         BackendError::NotAnNvmlLibrary { .. } | BackendError::FunctionNotFound => 13,
///         BackendError::DriverNotLoaded { .. } => 9,
///         BackendError::Other(_) => 999,
///     } // error[E0004]: `&_` not covered
/// }
/// ```
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// The device or driver does not support this query (shown as `N/A`).
    #[error("not supported by this device or driver")]
    NotSupported,
    /// The caller lacks the permission the driver requires for this query.
    #[error("insufficient permissions for this query (try running as root or ask an administrator)")]
    NoPermission,
    /// The GPU fell off the bus or is otherwise inaccessible.
    #[error("GPU {device} is lost (fell off the bus or is inaccessible); reset it or reboot the machine")]
    GpuLost {
        /// The device that was lost.
        device: DeviceRef,
    },
    /// No device with this index, UUID or bus id.
    #[error("no such device: {what}")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// The NVML library could not be found or loaded.
    #[error(
        "NVIDIA driver library not found: could not load '{}' ({reason}). Install the NVIDIA driver, point NVITOP_NVML_LIBRARY at libnvidia-ml.so.1, or use --simulate / NVITOP_SIMULATE=1 to see a simulated machine",
        path.display()
    )]
    LibraryNotFound {
        /// The path or name that was tried.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// A file exists at the path given, but the dynamic loader cannot load
    /// it (not a shared library, another architecture, or a library it needs
    /// is missing).
    #[error(
        "'{}' exists but could not be loaded as a shared library ({reason}); point NVITOP_NVML_LIBRARY at the driver's libnvidia-ml.so.1, or use --simulate / NVITOP_SIMULATE=1 to see a simulated machine",
        path.display()
    )]
    NotALibrary {
        /// The path that was tried.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// A library was loaded but it is not an NVML library.
    #[error(
        "'{}' is not an NVML library (missing symbol {symbol}); point NVITOP_NVML_LIBRARY at libnvidia-ml.so.1, or use --simulate / NVITOP_SIMULATE=1",
        path.display()
    )]
    NotAnNvmlLibrary {
        /// The path that was loaded.
        path: PathBuf,
        /// The NVML symbol that was missing.
        symbol: String,
    },
    /// The library loaded but the kernel driver is not running.
    #[error(
        "NVIDIA driver is not loaded ({reason}); check `nvidia-smi`, or use --simulate / NVITOP_SIMULATE=1 to see a simulated machine"
    )]
    DriverNotLoaded {
        /// What NVML said.
        reason: String,
    },
    /// The installed driver is too old for this call.
    #[error("the installed NVIDIA driver does not provide this function; upgrade the driver")]
    FunctionNotFound,
    /// Anything else the driver reported.
    #[error("NVML error: {0}")]
    Other(String),
}

impl BackendError {
    /// Whether this error means "N/A" rather than a failure.
    ///
    /// ```
    /// use nvitop::backend::{BackendError, DeviceRef};
    /// assert!(BackendError::NotSupported.is_not_available()); // shown as N/A
    /// assert!(!BackendError::NoPermission.is_not_available()); // reported
    /// assert!(!BackendError::GpuLost { device: DeviceRef::Physical(0) }.is_not_available());
    /// ```
    pub fn is_not_available(&self) -> bool {
        matches!(self, Self::NotSupported | Self::FunctionNotFound)
    }
}

/// Result of a backend call.
///
/// ```
/// use nvitop::backend::{Backend, BackendResult, DeviceRef, sim::SimBackend};
/// let name: BackendResult<String> = SimBackend::default_machine().name(DeviceRef::Physical(3));
/// assert_eq!(name.unwrap(), "NVIDIA GeForce RTX 4090");
/// ```
pub type BackendResult<T> = Result<T, BackendError>;

/// What a GPU driver answers. Implemented by the NVML backend and the
/// simulator; object-safe so the rest of the SDK holds an
/// `Arc<dyn Backend>`.
///
/// Every method is one driver question. Units follow NVML: bytes, percent,
/// milliwatts, millijoules, MHz, KB/s, degrees Celsius.
///
/// Eleven methods are required: what every GPU driver can say (identity,
/// count, memory, utilization, processes). The others have defaults that
/// answer [`BackendError::NotSupported`] (shown as N/A), or no MIG devices,
/// so a backend for a driver that lacks a capability leaves them out and a
/// question added later does not break existing backends.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let backend = SimBackend::default_machine();
/// assert!(backend.device_count().unwrap() >= 1);
/// let name = backend.name(DeviceRef::Physical(0)).unwrap();
/// assert!(name.contains("NVIDIA"));
/// ```
pub trait Backend: Send + Sync + fmt::Debug {
    /// A short name for the backend kind (`"nvml"`, `"simulator"`).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.kind(), "simulator");
    /// ```
    fn kind(&self) -> &'static str;
    /// Whether the GPUs this backend reports are simulated.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.is_simulated());
    /// ```
    fn is_simulated(&self) -> bool;

    /// Driver version string, e.g. `"550.54.15"`.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.driver_version().unwrap(), "560.35.03");
    /// ```
    fn driver_version(&self) -> BackendResult<String>;
    /// NVML library version string, e.g. `"12.550.54.15"`.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.nvml_version().unwrap(), "12.560.35.03");
    /// ```
    fn nvml_version(&self) -> BackendResult<String> {
        Err(BackendError::NotSupported)
    }
    /// CUDA driver version as NVML encodes it (`1000 * major + 10 * minor`, e.g. `12040`).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.cuda_driver_version().unwrap(), 12060);
    /// assert_eq!(nvitop::device::cuda_version_string(12060), "12.6");
    /// ```
    fn cuda_driver_version(&self) -> BackendResult<i32> {
        Err(BackendError::NotSupported)
    }

    /// Number of physical GPUs.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.device_count().unwrap(), 4);
    /// assert_eq!(SimBackend::from_preset("h100x8").unwrap().device_count().unwrap(), 8);
    /// ```
    fn device_count(&self) -> BackendResult<u32>;
    /// Index of the physical GPU with this UUID (`GPU-...`), or the MIG device with this UUID (`MIG-...`).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// let uuid = sim.uuid(mig).unwrap();
    /// assert_eq!(sim.device_by_uuid(&uuid).unwrap(), mig);
    /// assert!(matches!(sim.device_by_uuid("GPU-nope"), Err(BackendError::NotFound { .. })));
    /// ```
    fn device_by_uuid(&self, uuid: &str) -> BackendResult<DeviceRef>;
    /// Index of the physical GPU at this PCI bus id (any case, with or without the 8-digit domain).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.device_by_bus_id("00000000:5d:00.0").unwrap(), rtx);
    /// assert_eq!(sim.device_by_bus_id("5D:00.0").unwrap(), rtx);
    /// ```
    fn device_by_bus_id(&self, bus_id: &str) -> BackendResult<DeviceRef> {
        let _ = bus_id;
        Err(BackendError::NotSupported)
    }
    /// MIG devices that exist under a physical GPU (empty when MIG is off).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.mig_devices(DeviceRef::Physical(1)).unwrap().len(), 3);
    /// assert!(sim.mig_devices(gpu).unwrap().is_empty());
    /// ```
    fn mig_devices(&self, device: DeviceRef) -> BackendResult<Vec<DeviceRef>> {
        let _ = device;
        Ok(Vec::new())
    }

    /// Product name, e.g. `"NVIDIA A100-SXM4-80GB"`.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.name(rtx).unwrap(), "NVIDIA GeForce RTX 4090");
    /// ```
    fn name(&self, device: DeviceRef) -> BackendResult<String>;
    /// UUID, `GPU-...` for physical GPUs, `MIG-...` for MIG devices.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.uuid(gpu).unwrap().starts_with("GPU-"));
    /// assert!(sim.uuid(mig).unwrap().starts_with("MIG-"));
    /// ```
    fn uuid(&self, device: DeviceRef) -> BackendResult<String>;
    /// PCI bus id in NVML's form, `00000000:07:00.0`.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.bus_id(gpu).unwrap(), "00000000:18:00.0");
    /// ```
    fn bus_id(&self, device: DeviceRef) -> BackendResult<String>;
    /// Framebuffer memory.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// let memory = sim.memory_info(mig).unwrap();
    /// assert_eq!(memory.used + memory.free, memory.total);
    /// ```
    fn memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo>;
    /// BAR1 memory.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// let bar1 = sim.bar1_memory_info(gpu).unwrap();
    /// assert!(bar1.total > 0 && bar1.used <= bar1.total);
    /// ```
    fn bar1_memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// GPU and memory-bandwidth utilization.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.utilization_rates(gpu).unwrap().gpu > 50);
    /// assert_eq!(sim.utilization_rates(mig), Err(BackendError::NotSupported));
    /// ```
    fn utilization_rates(&self, device: DeviceRef) -> BackendResult<UtilizationRates>;
    /// Encoder utilization, percent.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.encoder_utilization(rtx).unwrap() <= 100);
    /// assert_eq!(sim.encoder_utilization(mig), Err(BackendError::NotSupported));
    /// ```
    fn encoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Decoder utilization, percent.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.decoder_utilization(rtx).unwrap() <= 100);
    /// assert_eq!(sim.decoder_utilization(mig), Err(BackendError::NotSupported));
    /// ```
    fn decoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Fan speed of fan 0, percent of maximum.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.fan_speed(rtx).unwrap() > 0);
    /// assert_eq!(sim.fan_speed(gpu), Err(BackendError::NotSupported)); // no fan on an SXM module
    /// ```
    fn fan_speed(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// GPU core temperature, degrees Celsius.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!((20..100).contains(&sim.temperature(gpu).unwrap()));
    /// ```
    fn temperature(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Power draw, milliwatts.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.power_usage(gpu).unwrap() <= sim.power_limit(gpu).unwrap());
    /// ```
    fn power_usage(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Enforced power limit, milliwatts.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.power_limit(rtx).unwrap(), 450_000);
    /// ```
    fn power_limit(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Energy consumed since the driver was loaded, millijoules.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// let before = sim.total_energy_consumption(gpu).unwrap();
    /// sim.set_time(20.0);
    /// assert!(sim.total_energy_consumption(gpu).unwrap() > before);
    /// ```
    fn total_energy_consumption(&self, device: DeviceRef) -> BackendResult<u64> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Performance state number (`0` for P0 .. `15` for P15).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.performance_state(gpu).unwrap(), 0); // P0
    /// ```
    fn performance_state(&self, device: DeviceRef) -> BackendResult<u32> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Whether persistence mode is on.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.persistence_mode(gpu).unwrap());
    /// assert!(!sim.persistence_mode(rtx).unwrap());
    /// ```
    fn persistence_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Whether a display is initialized on the device.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.display_active(rtx).unwrap());
    /// ```
    fn display_active(&self, device: DeviceRef) -> BackendResult<bool> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Compute mode.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// use nvitop::backend::ComputeMode;
    /// assert_eq!(sim.compute_mode(gpu).unwrap(), ComputeMode::Default);
    /// ```
    fn compute_mode(&self, device: DeviceRef) -> BackendResult<ComputeMode> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Volatile uncorrected ECC errors (since the last driver load).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.ecc_errors_volatile_uncorrected(gpu).unwrap(), 0);
    /// assert!(sim.ecc_errors_volatile_uncorrected(rtx).is_err()); // no ECC on a GeForce
    /// ```
    fn ecc_errors_volatile_uncorrected(&self, device: DeviceRef) -> BackendResult<u64> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Whether MIG mode is currently enabled.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert!(sim.mig_mode(DeviceRef::Physical(1)).unwrap());
    /// assert!(!sim.mig_mode(gpu).unwrap());
    /// ```
    fn mig_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Current clock, MHz.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// use nvitop::backend::ClockKind;
    /// assert!(sim.clock(gpu, ClockKind::Graphics).unwrap() <= sim.max_clock(gpu, ClockKind::Graphics).unwrap());
    /// ```
    fn clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        let _ = (device, clock);
        Err(BackendError::NotSupported)
    }
    /// Maximum clock, MHz.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// use nvitop::backend::ClockKind;
    /// assert_eq!(sim.max_clock(rtx, ClockKind::Sm).unwrap(), 3120);
    /// ```
    fn max_clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        let _ = (device, clock);
        Err(BackendError::NotSupported)
    }
    /// PCIe throughput over the last 20 ms, KB/s.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// use nvitop::backend::PcieDirection;
    /// assert!(sim.pcie_throughput(gpu, PcieDirection::Rx).unwrap() > 0);
    /// assert_eq!(sim.pcie_throughput(mig, PcieDirection::Rx), Err(BackendError::NotSupported));
    /// ```
    fn pcie_throughput(&self, device: DeviceRef, direction: PcieDirection) -> BackendResult<u32> {
        let _ = (device, direction);
        Err(BackendError::NotSupported)
    }
    /// CUDA compute capability `(major, minor)`.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// assert_eq!(sim.cuda_compute_capability(gpu).unwrap(), (9, 0));
    /// assert_eq!(sim.cuda_compute_capability(mig).unwrap(), (8, 0));
    /// ```
    fn cuda_compute_capability(&self, device: DeviceRef) -> BackendResult<(u32, u32)> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Processes with a compute or graphics context on the device (one entry per pid, kinds merged).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// let processes = sim.processes(gpu).unwrap();
    /// assert!(processes.iter().any(|p| p.pid == std::process::id()));
    /// // On a MIG device: the MIG instance ids are set.
    /// assert!(sim.processes(mig).unwrap()[0].gpu_instance_id.is_some());
    /// ```
    fn processes(&self, device: DeviceRef) -> BackendResult<Vec<RawProcess>>;
    /// Per-process utilization samples newer than `since` (driver timestamp,
    /// CPU time in microseconds; `0` for every sample the driver keeps),
    /// oldest first. Only processes busy in a sample period have a sample
    /// for it; no sample newer than `since` is an empty list (NVML's
    /// `NVML_ERROR_NOT_FOUND`).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// # let sim = SimBackend::default_machine();
    /// # sim.set_time(10.0);
    /// # let (gpu, rtx, mig) = (DeviceRef::Physical(0), DeviceRef::Physical(3), DeviceRef::Mig { parent: 1, index: 0 });
    /// # let _ = (gpu, rtx, mig);
    /// let all = sim.process_utilization(gpu, 0).unwrap();
    /// assert!(!all.is_empty());
    /// let newest = all.iter().map(|s| s.timestamp).max().unwrap();
    /// // Only samples newer than `since` come back.
    /// assert!(sim.process_utilization(gpu, newest).unwrap().iter().all(|s| s.timestamp > newest));
    /// ```
    fn process_utilization(&self, device: DeviceRef, since: u64) -> BackendResult<Vec<ProcessUtilization>> {
        let _ = (device, since);
        Err(BackendError::NotSupported)
    }

    /// Whether the device supports GPM (`nvmlGpmQueryDeviceSupport`):
    /// Hopper and newer. MIG devices answer for their parent.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// assert_eq!(sim.gpm_supported(DeviceRef::Physical(0)), Ok(true)); // H100
    /// assert_eq!(sim.gpm_supported(DeviceRef::Physical(2)), Ok(false)); // A100
    /// ```
    fn gpm_supported(&self, device: DeviceRef) -> BackendResult<bool> {
        let _ = device;
        Err(BackendError::NotSupported)
    }

    /// Allocates a GPM sample and fills it with the device's counters now
    /// (`nvmlGpmSampleAlloc` + `nvmlGpmSampleGet`, or `nvmlGpmMigSampleGet`
    /// for a MIG device). The caller owns the sample and must give it back
    /// with [`Backend::gpm_sample_free`]; a sample that could not be filled
    /// is freed before the error returns.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// let sample = sim.gpm_sample(DeviceRef::Physical(0)).unwrap();
    /// sim.gpm_sample_free(sample).unwrap();
    /// assert_eq!(sim.gpm_sample(DeviceRef::Physical(3)), Err(BackendError::NotSupported)); // RTX 4090
    /// ```
    fn gpm_sample(&self, device: DeviceRef) -> BackendResult<GpmSampleId> {
        let _ = device;
        Err(BackendError::NotSupported)
    }

    /// Frees a sample from [`Backend::gpm_sample`] (`nvmlGpmSampleFree`).
    /// A sample this backend did not give out, or already freed, is an error.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, GpmSampleId, sim::SimBackend};
    /// assert!(SimBackend::default_machine().gpm_sample_free(GpmSampleId(12345)).is_err());
    /// ```
    fn gpm_sample_free(&self, sample: GpmSampleId) -> BackendResult<()> {
        Err(BackendError::NotFound {
            what: format!("GPM sample {}", sample.0),
        })
    }

    /// The metrics over the interval between two samples of one device
    /// (`nvmlGpmMetricsGet`), one answer per metric asked, in order: each
    /// metric carries its own result, so a metric the device does not
    /// support is `Err(NotSupported)` while the others have values.
    ///
    /// ```
    /// # use nvitop::backend::{Backend, DeviceRef, GpmMetric, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// sim.set_time(10.0);
    /// let first = sim.gpm_sample(DeviceRef::Physical(0)).unwrap();
    /// sim.set_time(11.0);
    /// let second = sim.gpm_sample(DeviceRef::Physical(0)).unwrap();
    /// let values = sim.gpm_metrics(first, second, &[GpmMetric::SmActive, GpmMetric::TensorActive]).unwrap();
    /// let (sm, tensor) = (values[0].clone().unwrap(), values[1].clone().unwrap());
    /// assert!(sm > 0.0 && sm <= 100.0 && tensor <= sm);
    /// sim.gpm_sample_free(first).unwrap();
    /// sim.gpm_sample_free(second).unwrap();
    /// ```
    fn gpm_metrics(
        &self,
        first: GpmSampleId,
        second: GpmSampleId,
        metrics: &[GpmMetric],
    ) -> BackendResult<Vec<BackendResult<f64>>> {
        let _ = (first, second, metrics);
        Err(BackendError::NotSupported)
    }

    // ---- NVLink and clock event reasons: optional capabilities ----

    /// The data counters of every `NVLink` of a physical GPU, in one driver
    /// read. A GPU without `NVLink` (a PCIe card) and a MIG device answer
    /// "not supported".
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::from_preset("h100x8").unwrap();
    /// sim.set_time(10.0);
    /// let before = sim.nvlink_counters(DeviceRef::Physical(0)).unwrap();
    /// sim.set_time(20.0);
    /// let after = sim.nvlink_counters(DeviceRef::Physical(0)).unwrap();
    /// assert!(after.links[0].tx_kib > before.links[0].tx_kib); // training traffic
    /// let rtx = SimBackend::from_preset("rtx4090").unwrap();
    /// assert_eq!(rtx.nvlink_counters(DeviceRef::Physical(0)), Err(BackendError::NotSupported));
    /// ```
    fn nvlink_counters(&self, device: DeviceRef) -> BackendResult<NvLinkCounters> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
    /// Why the clocks are where they are (NVML's clock event reasons).
    ///
    /// ```
    /// # use nvitop::backend::{Backend, BackendError, ClockEventReasons, DeviceRef, sim::SimBackend};
    /// use nvitop::backend::sim::scenario::{Format, Scenario};
    /// // An L4 that runs nothing is idle.
    /// let idle = Scenario::parse("[[gpus]]\nmodel = \"L4\"\n", Format::Toml, std::path::Path::new("idle.toml")).unwrap();
    /// let sim = SimBackend::new(idle);
    /// assert_eq!(sim.clock_event_reasons(DeviceRef::Physical(0)).unwrap(), ClockEventReasons::GPU_IDLE);
    /// let mig = DeviceRef::Mig { parent: 1, index: 0 };
    /// assert_eq!(SimBackend::default_machine().clock_event_reasons(mig), Err(BackendError::NotSupported));
    /// ```
    fn clock_event_reasons(&self, device: DeviceRef) -> BackendResult<ClockEventReasons> {
        let _ = device;
        Err(BackendError::NotSupported)
    }
}

#[cfg(test)]
mod tests {
    use super::PciBusId;

    fn normalized(text: &str) -> Option<String> {
        PciBusId::parse(text).map(|id| id.to_string())
    }

    #[test]
    fn bus_ids_normalize_to_nvml_form() {
        assert_eq!(normalized("07:00.0").as_deref(), Some("00000000:07:00.0"));
        assert_eq!(normalized("0000:af:00.0").as_deref(), Some("00000000:AF:00.0"));
        assert_eq!(normalized(" 00000000:Af:00.1 ").as_deref(), Some("00000000:AF:00.1"));
        assert_eq!(normalized("00000001:3b:1f.7").as_deref(), Some("00000001:3B:1F.7"));
        assert_eq!(normalized("garbage"), None);
        assert_eq!(normalized("nonsense"), None);
        assert_eq!(normalized("07:00"), None);
        assert_eq!(normalized("07:00.8"), None);
        assert_eq!(normalized("07:20.0"), None);
        assert_eq!(normalized("1:2:3:4.0"), None);
        assert_eq!(normalized("zz:00.0"), None);
    }
}

//! The scenario format: what a simulated machine looks like, as serde types.
//!
//! A scenario is TOML (or JSON, chosen by the `.json` extension). Unknown
//! fields are errors, so a typo never silently becomes a default. Values
//! that have a vocabulary (GPU models, pids, process types, MIG profiles,
//! fault fields) are checked while parsing, so their errors carry the file,
//! line and field path like any syntax error. The built-in presets in
//! `presets/*.toml` are written in this same format and double as examples.
//!
//! ```toml
//! driver_version = "560.35.03"
//! cuda_driver_version = "12.6"
//! seed = 7
//!
//! [[gpus]]
//! model = "H100-SXM5-80GB"
//! workload = { profile = "training" }
//! processes = [
//!     { pid = "self", memory_mib = 20480 },
//!     { pid = "host:3", memory_mib = 1024, type = "C+G" },
//! ]
//!
//! [[gpus]]
//! model = "A100-SXM4-80GB"
//! mig = [{ profile = "3g.40gb" }, { profile = "1g.10gb" }]
//! processes = [{ pid = "host:5", memory_mib = 9000, mig = 0 }]
//! faults = { not_supported = ["temperature"], lost_at = 30.0 }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::models::GpuModel;
use crate::backend::{ComputeMode, PciBusId, ProcessKind};

/// The most GPU contexts one simulated GPU holds (the `h100x8` preset has
/// 64; real drivers list a few hundred at most).
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// let text = "[[gpus]]\nmodel = \"L4\"\nprocesses = [{ pid = \"host:0\", count = 100000 }]\n";
/// let err = Scenario::parse(text, Format::Toml, Path::new("big.toml")).unwrap_err();
/// assert!(err.to_string().contains(&MAX_PROCESSES_PER_GPU.to_string()), "{err}");
/// ```
pub const MAX_PROCESSES_PER_GPU: u64 = 4096;

/// The bus id of GPU `index` when its scenario names none: the first eight
/// laid out like an 8-GPU server's, the next eight on the buses between
/// them, and every further sixteen in the next PCI domain, so no two GPUs
/// of any scenario share one.
///
/// ```
/// use nvitop::backend::sim::scenario::default_bus_id;
/// assert_eq!(default_bus_id(0).to_string(), "00000000:18:00.0");
/// assert_eq!(default_bus_id(16).to_string(), "00000001:18:00.0");
/// ```
pub fn default_bus_id(index: usize) -> PciBusId {
    const BUSES: [u32; 16] = [
        0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    ];
    PciBusId {
        domain: u32::try_from(index / BUSES.len()).unwrap_or(u32::MAX),
        bus: BUSES[index % BUSES.len()],
        device: 0,
        function: 0,
    }
}

/// A whole simulated machine.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse(r#"
///     seed = 7
///     [[gpus]]
///     model = "H100-SXM5-80GB"
///     processes = [{ pid = "self", memory_mib = 20480 }]
/// "#).unwrap();
/// assert_eq!(scenario.driver_version, "560.35.03"); // the default
/// assert_eq!(scenario.gpus[0].processes[0].pid, PidSpec::SelfProcess);
/// // A scenario round-trips through serde.
/// let json = serde_json::to_string(&scenario).unwrap();
/// assert_eq!(Scenario::parse(&json, Format::Json, Path::new("x.json")).unwrap(), scenario);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Driver version string NVML reports.
    #[serde(default = "default_driver_version")]
    pub driver_version: String,
    /// CUDA driver version, `"major.minor"`.
    #[serde(default = "default_cuda_version")]
    pub cuda_driver_version: CudaVersion,
    /// Seed for the deterministic noise and the UUIDs.
    #[serde(default)]
    pub seed: u64,
    /// The GPUs, in NVML index order. Required, so a machine without GPUs
    /// is said outright: `gpus = []` is a host with a loaded driver and no
    /// GPU (NVML initializes and counts 0 devices), never a typo's default.
    pub gpus: Vec<GpuSpec>,
    /// How long each driver call takes, in `NVITOP_SIM_LATENCY`'s syntax
    /// (`none`, `realistic`, `500ms`, or a latency file path); the
    /// environment variable, when set, wins. Absent: instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<super::Latency>,
}

fn default_driver_version() -> String {
    "560.35.03".to_owned()
}

fn default_cuda_version() -> CudaVersion {
    CudaVersion { major: 12, minor: 6 }
}

/// A CUDA version written `"12.6"`.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse("cuda_driver_version = \"12.4\"\n[[gpus]]\nmodel = \"L4\"\n").unwrap();
/// assert_eq!(scenario.cuda_driver_version, CudaVersion { major: 12, minor: 4 });
/// assert!(parse("cuda_driver_version = \"twelve\"\n[[gpus]]\nmodel = \"L4\"\n").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CudaVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl CudaVersion {
    /// NVML's encoding, `1000 * major + 10 * minor`.
    ///
    /// ```
    /// # use std::path::Path;
    /// use nvitop::backend::sim::scenario::*;
    /// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
    /// assert_eq!(CudaVersion { major: 12, minor: 4 }.encoded(), 12040);
    /// ```
    pub fn encoded(self) -> i32 {
        (self.major * 1000 + self.minor * 10) as i32
    }
}

impl TryFrom<String> for CudaVersion {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let bad = || format!("invalid CUDA version `{value}`, expected \"major.minor\" such as \"12.6\"");
        let (major, minor) = value.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            major: major.trim().parse().map_err(|_| bad())?,
            minor: minor.trim().parse().map_err(|_| bad())?,
        })
    }
}

impl From<CudaVersion> for String {
    fn from(v: CudaVersion) -> String {
        format!("{}.{}", v.major, v.minor)
    }
}

/// One physical GPU.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse(r#"
///     [[gpus]]
///     model = "RTX-4090"
///     display_active = true
///     persistence_mode = true
///     bus_id = "00000000:65:00.0"
/// "#).unwrap();
/// let gpu = &scenario.gpus[0];
/// assert!(gpu.display_active);
/// assert_eq!(gpu.persistence_mode, Some(true));
/// assert!(gpu.processes.is_empty() && gpu.mig.is_empty()); // defaults
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    /// The GPU model (see [`GpuModel`] for the names).
    pub model: GpuModel,
    /// Overrides the UUID (default: derived from the seed and index).
    #[serde(default)]
    pub uuid: Option<String>,
    /// Overrides the PCI bus id (default: a DGX-like layout by index).
    #[serde(default)]
    pub bus_id: Option<String>,
    /// Persistence mode (default: on for data-center GPUs, off for GeForce).
    #[serde(default)]
    pub persistence_mode: Option<bool>,
    /// Whether a display is attached and initialized.
    #[serde(default)]
    pub display_active: bool,
    /// Compute mode.
    #[serde(default)]
    pub compute_mode: ComputeModeSpec,
    /// Volatile uncorrected ECC errors (ignored on GPUs without ECC).
    #[serde(default)]
    pub ecc_errors: u64,
    /// What the GPU is doing over time.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// MIG devices; a non-empty list turns MIG mode on.
    #[serde(default)]
    pub mig: Vec<MigSpec>,
    /// Processes with a context on this GPU (or on one of its MIG devices).
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    /// Injected failures.
    #[serde(default)]
    pub faults: FaultSpec,
}

/// Compute mode as written in a scenario.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// use nvitop::backend::ComputeMode;
/// let scenario = parse("[[gpus]]\nmodel = \"L4\"\ncompute_mode = \"exclusive_process\"\n").unwrap();
/// assert_eq!(scenario.gpus[0].compute_mode, ComputeModeSpec::ExclusiveProcess);
/// assert_eq!(ComputeMode::from(ComputeModeSpec::Prohibited), ComputeMode::Prohibited);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeModeSpec {
    /// Several contexts per device.
    #[default]
    Default,
    /// One context, one thread.
    ExclusiveThread,
    /// No contexts.
    Prohibited,
    /// One context, many threads.
    ExclusiveProcess,
}

impl From<ComputeModeSpec> for ComputeMode {
    fn from(spec: ComputeModeSpec) -> Self {
        match spec {
            ComputeModeSpec::Default => Self::Default,
            ComputeModeSpec::ExclusiveThread => Self::ExclusiveThread,
            ComputeModeSpec::Prohibited => Self::Prohibited,
            ComputeModeSpec::ExclusiveProcess => Self::ExclusiveProcess,
        }
    }
}

/// A MIG device (GPU instance with one compute instance).
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse(r#"
///     [[gpus]]
///     model = "A100-SXM4-80GB"
///     mig = [{ profile = "4g.40gb" }, { profile = "3g.40gb" }]
/// "#).unwrap();
/// assert_eq!(scenario.gpus[0].mig[1].profile.to_string(), "3g.40gb");
/// // More slices than an A100 has is refused.
/// assert!(parse("[[gpus]]\nmodel = \"A100-SXM4-80GB\"\nmig = [{ profile = \"7g.80gb\" }, { profile = \"1g.10gb\" }]\n").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigSpec {
    /// The profile, `<compute slices>g.<memory>gb`, e.g. `3g.40gb`.
    pub profile: MigProfile,
}

/// A MIG profile such as `3g.40gb`.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let profile = MigProfile::try_from("2g.20gb".to_owned()).unwrap();
/// assert_eq!((profile.compute_slices, profile.memory_gb), (2, 20));
/// assert_eq!(profile.to_string(), "2g.20gb");
/// assert!(MigProfile::try_from("9g.20gb".to_owned()).is_err()); // at most 7 slices
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MigProfile {
    /// Compute slices (the `3` of `3g.40gb`).
    pub compute_slices: u32,
    /// Memory in GB as the profile names it (the `40` of `3g.40gb`).
    pub memory_gb: u32,
}

impl TryFrom<String> for MigProfile {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let bad = || format!("invalid MIG profile `{value}`, expected `<n>g.<m>gb` such as `3g.40gb`");
        let (compute, memory) = value.split_once('.').ok_or_else(bad)?;
        let compute_slices: u32 = compute.strip_suffix('g').ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let memory_gb: u32 = memory.strip_suffix("gb").ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if !(1..=7).contains(&compute_slices) || memory_gb == 0 {
            return Err(bad());
        }
        Ok(Self {
            compute_slices,
            memory_gb,
        })
    }
}

impl From<MigProfile> for String {
    fn from(p: MigProfile) -> String {
        p.to_string()
    }
}

impl fmt::Display for MigProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}g.{}gb", self.compute_slices, self.memory_gb)
    }
}

/// A workload: a seeded function of time for each metric.
///
/// `profile` picks the defaults; every other field overrides one of them.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let scenario = parse(r#"
///     [[gpus]]
///     model = "L4"
///     workload = { profile = "inference", gpu_util = 40, swing = 0, noise = 0 }
/// "#).unwrap();
/// assert_eq!(scenario.gpus[0].workload.gpu_util, Some(40.0));
/// let sim = SimBackend::new(scenario);
/// sim.set_time(3.0);
/// let util = sim.utilization_rates(DeviceRef::Physical(0)).unwrap().gpu;
/// assert!((30..=50).contains(&util), "{util}");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// The shape of the load (default: `training` when the GPU has
    /// processes, `idle` otherwise).
    #[serde(default)]
    pub profile: Option<WorkloadProfile>,
    /// Mean GPU utilization, percent.
    #[serde(default)]
    pub gpu_util: Option<f64>,
    /// Amplitude of the periodic swing around the mean, percent.
    #[serde(default)]
    pub swing: Option<f64>,
    /// Period of the swing, seconds.
    #[serde(default)]
    pub period_s: Option<f64>,
    /// Amplitude of the per-second noise, percent.
    #[serde(default)]
    pub noise: Option<f64>,
    /// Memory-bandwidth utilization as a fraction of GPU utilization.
    #[serde(default)]
    pub memory_util_ratio: Option<f64>,
    /// Mean encoder utilization, percent.
    #[serde(default)]
    pub encoder: Option<f64>,
    /// Mean decoder utilization, percent.
    #[serde(default)]
    pub decoder: Option<f64>,
    /// Mean PCIe receive throughput at full load, MB/s.
    #[serde(default)]
    pub pcie_rx_mbs: Option<f64>,
    /// Mean PCIe transmit throughput at full load, MB/s.
    #[serde(default)]
    pub pcie_tx_mbs: Option<f64>,
}

/// The named shapes of load.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse("[[gpus]]\nmodel = \"L4\"\nworkload = { profile = \"bursty\" }\n").unwrap();
/// assert_eq!(scenario.gpus[0].workload.profile, Some(WorkloadProfile::Bursty));
/// assert!(parse("[[gpus]]\nmodel = \"L4\"\nworkload = { profile = \"mining\" }\n").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadProfile {
    /// Nothing running.
    Idle,
    /// Steady high load with a slow swing (data-parallel training).
    Training,
    /// Moderate load that follows request traffic.
    Inference,
    /// On/off load (a dataloader-bound job).
    Bursty,
    /// A desktop: light load, some video encode/decode.
    Desktop,
}

/// A process with a context on the GPU.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse(r#"
///     [[gpus]]
///     model = "H100-SXM5-80GB"
///     processes = [{ pid = "host:0", memory_mib = 1024, count = 8, type = "C+G" }]
/// "#).unwrap();
/// let process = &scenario.gpus[0].processes[0];
/// assert_eq!((process.count, process.memory_mib), (8, 1024));
/// assert_eq!(process.sm_weight, 1.0); // the default
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// Which host process (see [`PidSpec`]).
    pub pid: PidSpec,
    /// GPU memory used, MiB.
    #[serde(default)]
    pub memory_mib: u64,
    /// Compute (`C`), graphics (`G`) or both (`C+G`).
    #[serde(default = "default_kind", rename = "type")]
    pub kind: ProcessKindSpec,
    /// Share of the GPU's SM utilization, as a weight among the GPU's processes.
    #[serde(default = "one")]
    pub sm_weight: f64,
    /// Encoder utilization of this process, percent.
    #[serde(default)]
    pub encoder: u32,
    /// Decoder utilization of this process, percent.
    #[serde(default)]
    pub decoder: u32,
    /// Index into the GPU's `mig` list, for a process on a MIG device.
    #[serde(default)]
    pub mig: Option<usize>,
    /// Repeat this process `count` times (only with `host:N` pids, which
    /// then take consecutive host processes).
    #[serde(default = "one_u32")]
    pub count: u32,
    /// The driver does not report this process's memory (as on Windows
    /// WDDM or inside some containers): shown as N/A.
    #[serde(default)]
    pub memory_unavailable: bool,
}

fn default_kind() -> ProcessKindSpec {
    ProcessKindSpec(ProcessKind::Compute)
}

fn one() -> f64 {
    1.0
}

fn one_u32() -> u32 {
    1
}

/// A process type written `C`, `G` or `C+G`.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// use nvitop::backend::ProcessKind;
/// assert_eq!(ProcessKindSpec::try_from("G".to_owned()).unwrap(), ProcessKindSpec(ProcessKind::Graphics));
/// assert!(ProcessKindSpec::try_from("X".to_owned()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcessKindSpec(pub ProcessKind);

impl TryFrom<String> for ProcessKindSpec {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "C" => Ok(Self(ProcessKind::Compute)),
            "G" => Ok(Self(ProcessKind::Graphics)),
            "C+G" => Ok(Self(ProcessKind::ComputeGraphics)),
            _ => Err(format!("invalid process type `{value}`, expected `C`, `G` or `C+G`")),
        }
    }
}

impl From<ProcessKindSpec> for String {
    fn from(k: ProcessKindSpec) -> String {
        k.0.label().to_owned()
    }
}

/// Which real host process a simulated GPU process is bound to.
///
/// - `"self"`: the process that loads the simulator (so every client sees
///   itself on a GPU with full host details);
/// - `"parent"`: its parent;
/// - `"host:N"`: the N-th other user-space process of the host (not this
///   process or its parent), by ascending pid (wrapping around), for
///   machines full of real processes;
/// - `"gone"`: a pid that belongs to no process (a process that exited
///   between the driver's answer and the host lookup);
/// - a number: that pid, whatever it is.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let scenario = parse(r#"
///     [[gpus]]
///     model = "L4"
///     processes = [{ pid = 4242, memory_mib = 512 }, { pid = "self", memory_mib = 512 }]
/// "#).unwrap();
/// assert_eq!(scenario.gpus[0].processes[0].pid, PidSpec::Literal(4242));
/// let pids: Vec<u32> = SimBackend::new(scenario).processes(DeviceRef::Physical(0)).unwrap().iter().map(|p| p.pid).collect();
/// assert_eq!(pids, [4242, std::process::id()]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PidSpecRepr", into = "PidSpecRepr")]
pub enum PidSpec {
    /// The calling process.
    SelfProcess,
    /// The calling process's parent.
    Parent,
    /// The N-th host process by ascending pid.
    Host(usize),
    /// A pid of no process.
    Gone,
    /// A literal pid.
    Literal(u32),
}

/// How a pid is written: a string or a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum PidSpecRepr {
    Number(u32),
    Text(String),
}

impl TryFrom<PidSpecRepr> for PidSpec {
    type Error = String;
    fn try_from(repr: PidSpecRepr) -> Result<Self, String> {
        match repr {
            PidSpecRepr::Number(pid) => Ok(Self::Literal(pid)),
            PidSpecRepr::Text(text) => match text.as_str() {
                "self" => Ok(Self::SelfProcess),
                "parent" => Ok(Self::Parent),
                "gone" => Ok(Self::Gone),
                other => other
                    .strip_prefix("host:")
                    .and_then(|n| n.parse().ok())
                    .map(Self::Host)
                    .ok_or_else(|| {
                        format!("invalid pid `{text}`, expected a number, \"self\", \"parent\", \"gone\" or \"host:N\"")
                    }),
            },
        }
    }
}

impl From<PidSpec> for PidSpecRepr {
    fn from(spec: PidSpec) -> Self {
        match spec {
            PidSpec::Literal(pid) => Self::Number(pid),
            PidSpec::SelfProcess => Self::Text("self".to_owned()),
            PidSpec::Parent => Self::Text("parent".to_owned()),
            PidSpec::Gone => Self::Text("gone".to_owned()),
            PidSpec::Host(n) => Self::Text(format!("host:{n}")),
        }
    }
}

/// Injected failures of one GPU.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// use nvitop::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};
/// let scenario = parse(r#"
///     [[gpus]]
///     model = "L4"
///     faults = { not_supported = ["fan_speed"], processes_no_permission = true, lost_at = 60.0 }
/// "#).unwrap();
/// let sim = SimBackend::new(scenario);
/// sim.set_time(1.0);
/// assert_eq!(sim.fan_speed(DeviceRef::Physical(0)), Err(BackendError::NotSupported));
/// assert_eq!(sim.processes(DeviceRef::Physical(0)), Err(BackendError::NoPermission));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Queries this GPU answers with "not supported" (N/A).
    #[serde(default)]
    pub not_supported: Vec<FaultField>,
    /// Listing this GPU's processes needs a permission the caller lacks.
    #[serde(default)]
    pub processes_no_permission: bool,
    /// Simulated second at which the GPU falls off the bus.
    #[serde(default)]
    pub lost_at: Option<f64>,
}

/// A query that a fault can make unsupported.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let scenario = parse("[[gpus]]\nmodel = \"L4\"\nfaults = { not_supported = [\"temperature\", \"clocks\"] }\n").unwrap();
/// assert_eq!(scenario.gpus[0].faults.not_supported, [FaultField::Temperature, FaultField::Clocks]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // each is the backend method of the same name
pub enum FaultField {
    MemoryInfo,
    Bar1MemoryInfo,
    UtilizationRates,
    EncoderUtilization,
    DecoderUtilization,
    FanSpeed,
    Temperature,
    PowerUsage,
    PowerLimit,
    TotalEnergyConsumption,
    PerformanceState,
    PersistenceMode,
    DisplayActive,
    ComputeMode,
    EccErrors,
    MigMode,
    Clocks,
    MaxClocks,
    PcieThroughput,
    CudaComputeCapability,
    Processes,
    ProcessUtilization,
    /// GPM as a whole (`nvmlGpmQueryDeviceSupport` answers "no").
    Gpm,
    /// GPM's FP64 pipe metric alone (answered per metric "not supported").
    GpmFp64,
}

/// A scenario that could not be loaded.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let err = parse("[[gpus]]\nmodel = \"GTX-480\"\n").unwrap_err();
/// assert!(matches!(err, ScenarioError::Parse { line: 2, .. }), "{err}");
/// let err = parse("driver_version = \"560.35.03\"\n").unwrap_err(); // no `gpus` at all
/// assert!(err.to_string().contains("gpus"), "{err}");
/// assert!(parse("gpus = []\n").unwrap().gpus.is_empty()); // a driver and no GPU: valid
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{}:{line}:{column}: {message}{}", path.display(), field_suffix(field.as_deref()))]
    Parse {
        /// The file (or `<preset NAME>` / `<string>`).
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Path of the offending field, like `gpus[1].workload.gpu_util`.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The file parses but describes an impossible machine.
    #[error("{}: {message} (field `{field}`)", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Path of the offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The driver latency asked for (`NVITOP_SIM_LATENCY`) is not valid.
    #[error(transparent)]
    Latency(#[from] super::LatencyError),
    /// No preset with this name.
    #[error("unknown simulator preset '{name}': use one of {known}, or a path to a scenario file (.toml or .json)")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The preset names, comma separated.
        known: String,
    },
}

fn field_suffix(field: Option<&str>) -> String {
    match field {
        Some(field) if !field.is_empty() && field != "." => format!(" (field `{field}`)"),
        _ => String::new(),
    }
}

/// The format of a scenario text.
///
/// ```
/// # use std::path::Path;
/// use nvitop::backend::sim::scenario::*;
/// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
/// let json = r#"{ "gpus": [{ "model": "L4" }] }"#;
/// assert_eq!(Scenario::parse(json, Format::Json, Path::new("a.json")).unwrap().gpus.len(), 1);
/// assert!(Scenario::parse(json, Format::Toml, Path::new("a.toml")).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl Format {
    /// JSON for a `.json` file, TOML otherwise.
    ///
    /// ```
    /// # use std::path::Path;
    /// use nvitop::backend::sim::scenario::*;
    /// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
    /// assert_eq!(Format::of_path(Path::new("box.JSON")), Format::Json);
    /// assert_eq!(Format::of_path(Path::new("box.toml")), Format::Toml);
    /// assert_eq!(Format::of_path(Path::new("box")), Format::Toml);
    /// ```
    pub fn of_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Toml,
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file (`.json` is JSON, anything else TOML).
    ///
    /// # Errors
    /// The file cannot be read, does not parse (the error names the file,
    /// line, column and field), or describes an impossible machine.
    ///
    /// ```
    /// # use std::path::Path;
    /// use nvitop::backend::sim::scenario::*;
    /// # let parse = |text: &str| Scenario::parse(text, Format::Toml, Path::new("example.toml"));
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("two.toml");
    /// std::fs::write(&path, "[[gpus]]\nmodel = \"L4\"\n[[gpus]]\nmodel = \"L4\"\n").unwrap();
    /// assert_eq!(Scenario::from_file(&path).unwrap().gpus.len(), 2);
    /// let err = Scenario::from_file(&dir.path().join("none.toml")).unwrap_err();
    /// assert!(matches!(err, ScenarioError::Io { .. }));
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, Format::of_path(path), path)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use nvitop::backend::sim::scenario::{Format, Scenario};
    /// let text = "[[gpus]]\nmodel = \"RTX-4090\"\n";
    /// let scenario = Scenario::parse(text, Format::Toml, Path::new("inline.toml")).unwrap();
    /// assert_eq!(scenario.gpus.len(), 1);
    /// let err = Scenario::parse("[[gpus]]\nmodle = 1\n", Format::Toml, Path::new("bad.toml")).unwrap_err();
    /// assert!(err.to_string().starts_with("bad.toml:2:"), "{err}");
    /// ```
    ///
    /// # Errors
    /// As [`Scenario::from_file`].
    pub fn parse(text: &str, format: Format, origin: &Path) -> Result<Self, ScenarioError> {
        let scenario: Self = match format {
            Format::Toml => parse_toml(text, origin)?,
            Format::Json => parse_json(text, origin)?,
        };
        scenario.validate(origin)?;
        Ok(scenario)
    }

    /// Cross-field checks serde cannot express.
    fn validate(&self, origin: &Path) -> Result<(), ScenarioError> {
        let invalid = |field: String, message: String| ScenarioError::Invalid {
            path: origin.to_owned(),
            field,
            message,
        };
        // Identities must look like the driver's and name one GPU each:
        // lookups by UUID or bus id (and CUDA_VISIBLE_DEVICES) depend on it.
        let mut uuids: Vec<(String, usize)> = Vec::with_capacity(self.gpus.len());
        let mut bus_ids: Vec<(PciBusId, usize)> = Vec::with_capacity(self.gpus.len());
        for (g, gpu) in self.gpus.iter().enumerate() {
            if let Some(uuid) = &gpu.uuid {
                let body = uuid.get(4..).unwrap_or_default();
                if !uuid.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("GPU-"))
                    || body.is_empty()
                    || !body.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
                {
                    return Err(invalid(
                        format!("gpus[{g}].uuid"),
                        format!(
                            "invalid GPU UUID `{uuid}`, expected `GPU-` and hexadecimal digits, such as `GPU-5e6a0e4c-...`"
                        ),
                    ));
                }
                if let Some((_, other)) = uuids.iter().find(|(u, _)| u.eq_ignore_ascii_case(uuid)) {
                    return Err(invalid(
                        format!("gpus[{g}].uuid"),
                        format!("UUID `{uuid}` is already the UUID of GPU {other}"),
                    ));
                }
                uuids.push((uuid.clone(), g));
            }
            let bus_id = match &gpu.bus_id {
                Some(text) => PciBusId::parse(text).ok_or_else(|| {
                    invalid(
                        format!("gpus[{g}].bus_id"),
                        format!("invalid PCI bus id `{text}`, expected `DDDDDDDD:BB:DD.F` such as `00000000:18:00.0`"),
                    )
                })?,
                None => default_bus_id(g),
            };
            if let Some((_, other)) = bus_ids.iter().find(|(b, _)| *b == bus_id) {
                return Err(invalid(
                    format!("gpus[{g}].bus_id"),
                    format!("PCI bus id {bus_id} is already the bus id of GPU {other}"),
                ));
            }
            bus_ids.push((bus_id, g));
        }
        for (g, gpu) in self.gpus.iter().enumerate() {
            let spec = gpu.model.spec();
            if !gpu.mig.is_empty() {
                if !spec.mig_capable {
                    return Err(invalid(
                        format!("gpus[{g}].mig"),
                        format!("{} does not support MIG", spec.name),
                    ));
                }
                // Summed in u64: a profile's figures are u32 and a list of
                // absurd ones must be an error, not an overflow.
                let compute: u64 = gpu.mig.iter().map(|m| u64::from(m.profile.compute_slices)).sum();
                let memory: u64 = gpu.mig.iter().map(|m| u64::from(m.profile.memory_gb)).sum();
                if compute > 7 || memory * 1024 > spec.memory_mib + 1024 {
                    return Err(invalid(
                        format!("gpus[{g}].mig"),
                        format!(
                            "the MIG devices need {compute} of 7 compute slices and {memory} GB, more than the {} has",
                            spec.name
                        ),
                    ));
                }
            }
            let mut on_gpu: u64 = 0;
            let mut contexts: u64 = 0;
            for (p, process) in gpu.processes.iter().enumerate() {
                let field = |name: &str| format!("gpus[{g}].processes[{p}].{name}");
                match (process.mig, gpu.mig.len()) {
                    (Some(m), n) if m >= n => {
                        return Err(invalid(
                            field("mig"),
                            format!("MIG device {m} does not exist (this GPU has {n})"),
                        ));
                    }
                    (None, n) if n > 0 => {
                        return Err(invalid(
                            field("mig"),
                            "the GPU is in MIG mode: say which MIG device the process runs on".into(),
                        ));
                    }
                    _ => {}
                }
                if process.count != 1 && !matches!(process.pid, PidSpec::Host(_)) {
                    return Err(invalid(
                        field("count"),
                        "only `host:N` pids can be repeated (a pid is one process)".into(),
                    ));
                }
                if !(process.sm_weight.is_finite() && process.sm_weight >= 0.0) {
                    return Err(invalid(field("sm_weight"), "must be a non-negative number".into()));
                }
                for (name, value) in [("encoder", process.encoder), ("decoder", process.decoder)] {
                    if value > 100 {
                        return Err(invalid(field(name), format!("{value} is out of range 0..=100")));
                    }
                }
                // Saturating: a huge `memory_mib` times `count` is "more
                // than the GPU has", reported below, not an overflow.
                on_gpu = on_gpu.saturating_add(process.memory_mib.saturating_mul(u64::from(process.count)));
                contexts += u64::from(process.count);
            }
            // Every context is a process the simulator lists and a snapshot
            // reads from /proc: a typo such as `count = 100000000` would
            // otherwise hang the program that loads the scenario.
            if contexts > MAX_PROCESSES_PER_GPU {
                return Err(invalid(
                    format!("gpus[{g}].processes"),
                    format!("{contexts} processes on one GPU; at most {MAX_PROCESSES_PER_GPU} are simulated"),
                ));
            }
            if on_gpu > spec.memory_mib {
                return Err(invalid(
                    format!("gpus[{g}].processes"),
                    format!(
                        "the processes use {on_gpu} MiB, more than the {} MiB of a {}",
                        spec.memory_mib, spec.name
                    ),
                ));
            }
            let w = &gpu.workload;
            for (name, value, max) in [
                ("gpu_util", w.gpu_util, 100.0),
                ("swing", w.swing, 100.0),
                ("noise", w.noise, 100.0),
                ("encoder", w.encoder, 100.0),
                ("decoder", w.decoder, 100.0),
                ("memory_util_ratio", w.memory_util_ratio, 1.0),
                ("pcie_rx_mbs", w.pcie_rx_mbs, 1.0e6),
                ("pcie_tx_mbs", w.pcie_tx_mbs, 1.0e6),
            ] {
                if let Some(v) = value
                    && !(v.is_finite() && (0.0..=max).contains(&v))
                {
                    return Err(invalid(
                        format!("gpus[{g}].workload.{name}"),
                        format!("{v} is out of range 0..={max}"),
                    ));
                }
            }
            if let Some(period) = w.period_s
                && !(period.is_finite() && period > 0.0)
            {
                return Err(invalid(
                    format!("gpus[{g}].workload.period_s"),
                    "the period must be a positive number of seconds".into(),
                ));
            }
            if let Some(t) = gpu.faults.lost_at
                && !(t.is_finite() && t >= 0.0)
            {
                return Err(invalid(
                    format!("gpus[{g}].faults.lost_at"),
                    "must be a non-negative number of seconds".into(),
                ));
            }
        }
        Ok(())
    }
}

fn parse_toml(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
    let located = |message: String, span: Option<std::ops::Range<usize>>, field: Option<String>| {
        let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
        ScenarioError::Parse {
            path: origin.to_owned(),
            line,
            column,
            field,
            message,
        }
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| located(e.message().to_owned(), e.span(), None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        located(inner.message().to_owned(), inner.span(), Some(field))
    })
}

fn parse_json(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let scenario: Scenario = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        ScenarioError::Parse {
            path: origin.to_owned(),
            line: inner.line(),
            column: inner.column(),
            field: Some(field),
            message: strip_json_position(&inner.to_string()),
        }
    })?;
    deserializer.end().map_err(|e| ScenarioError::Parse {
        path: origin.to_owned(),
        line: e.line(),
        column: e.column(),
        field: None,
        message: strip_json_position(&e.to_string()),
    })?;
    Ok(scenario)
}

/// `serde_json` appends " at line L column C"; the error already says where.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Format::Toml, Path::new("machine.toml"))
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let err = parse("seed = 1\n[[gpus]]\nmodel = \"RTX-4090\"\n[gpus.workload]\ngpu_utl = 50\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("machine.toml:5:"), "{msg}");
        assert!(msg.contains("gpu_utl"), "{msg}");
        assert!(msg.contains("gpus[0].workload"), "{msg}");
    }

    #[test]
    fn bad_value_names_the_field_path() {
        let err = parse("[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = \"me\" }]\n").unwrap_err();
        let ScenarioError::Parse {
            line, field, message, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*line, 3);
        assert_eq!(field.as_deref(), Some("gpus[0].processes[0].pid"));
        assert!(message.contains("invalid pid `me`"), "{message}");
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let err = parse("[[gpus]]\nmodel = \"GTX-480\"\n").unwrap_err().to_string();
        assert!(err.contains("GTX-480") && err.contains("H100-SXM5-80GB"), "{err}");
        assert!(err.contains("machine.toml:2:"), "{err}");
    }

    #[test]
    fn json_errors_have_positions_too() {
        let err = Scenario::parse(
            "{\"gpus\": [{\"model\": \"RTX-4090\", \"fan\": 3}]}",
            Format::Json,
            Path::new("m.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("m.json:1:"), "{err}");
        assert!(err.contains("fan") && err.contains("gpus[0]"), "{err}");
    }

    #[test]
    fn a_machine_without_gpus_is_explicit_and_valid() {
        // Said outright: a driver and no GPU.
        let empty = Scenario::parse("gpus = []\n", Format::Toml, Path::new("none.toml")).unwrap();
        assert!(empty.gpus.is_empty());
        let json = Scenario::parse(r#"{ "gpus": [] }"#, Format::Json, Path::new("none.json")).unwrap();
        assert!(json.gpus.is_empty());
        let sim = crate::backend::sim::SimBackend::new(empty);
        assert_eq!(crate::backend::Backend::device_count(&sim).unwrap(), 0);
        // Left out, it stays an error naming the field: a typo never means "no GPU".
        let err = Scenario::parse("gpu = []\n", Format::Toml, Path::new("typo.toml")).unwrap_err();
        assert!(err.to_string().contains("gpu"), "{err}");
        let err = Scenario::parse("seed = 1\n", Format::Toml, Path::new("missing.toml")).unwrap_err();
        assert!(err.to_string().contains("gpus"), "{err}");
    }

    #[test]
    fn impossible_machines_are_rejected() {
        for (text, field) in [
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nmig = [{ profile = \"1g.5gb\" }]",
                "gpus[0].mig",
            ),
            (
                "[[gpus]]\nmodel = \"A100-SXM4-80GB\"\nmig = [{ profile = \"4g.40gb\" }, { profile = \"4g.40gb\" }]",
                "gpus[0].mig",
            ),
            (
                "[[gpus]]\nmodel = \"A100-SXM4-80GB\"\nmig = [{ profile = \"1g.10gb\" }]\nprocesses = [{ pid = 1 }]",
                "gpus[0].processes[0].mig",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = 1, count = 2 }]",
                "gpus[0].processes[0].count",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = 1, memory_mib = 999999 }]",
                "gpus[0].processes",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nworkload = { gpu_util = 150 }",
                "gpus[0].workload.gpu_util",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nworkload = { period_s = 0 }",
                "gpus[0].workload.period_s",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = 1, encoder = 101 }]",
                "gpus[0].processes[0].encoder",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = \"host:0\", count = 5000 }]",
                "gpus[0].processes",
            ),
            ("[[gpus]]\nmodel = \"RTX-4090\"\nuuid = \"not-a-uuid\"", "gpus[0].uuid"),
            (
                "[[gpus]]\nmodel = \"L4\"\nuuid = \"GPU-ab12\"\n[[gpus]]\nmodel = \"L4\"\nuuid = \"gpu-AB12\"",
                "gpus[1].uuid",
            ),
            ("[[gpus]]\nmodel = \"RTX-4090\"\nbus_id = \"zz\"", "gpus[0].bus_id"),
            (
                // GPU 1's default bus id is 00000000:2A:00.0.
                "[[gpus]]\nmodel = \"L4\"\nbus_id = \"2a:00.0\"\n[[gpus]]\nmodel = \"L4\"",
                "gpus[1].bus_id",
            ),
        ] {
            match parse(text) {
                Err(ScenarioError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    /// Numbers at the edge of their types are errors naming the field, not
    /// arithmetic overflows (a panic in a debug build) or a machine with
    /// billions of processes (a hang).
    #[test]
    fn absurd_numbers_are_errors_not_overflows() {
        for (text, field) in [
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = \"host:0\", count = 4, memory_mib = 9223372036854775807 }]",
                "gpus[0].processes",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = \"host:0\", count = 4000000000 }]",
                "gpus[0].processes",
            ),
            (
                "[[gpus]]\nmodel = \"A100-SXM4-80GB\"\nmig = [{ profile = \"1g.4294967295gb\" }, { profile = \"1g.4294967295gb\" }]",
                "gpus[0].mig",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = \"self\", encoder = 4294967295 }, { pid = \"parent\", encoder = 4294967295 }]",
                "gpus[0].processes[0].encoder",
            ),
            (
                "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{ pid = \"self\", decoder = 4294967295 }]",
                "gpus[0].processes[0].decoder",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(&err, ScenarioError::Invalid { field: f, .. } if f == field),
                "{text}: {err:?}"
            );
            assert!(err.to_string().starts_with("machine.toml: "), "{err}");
        }
        // The limit itself is fine.
        let text = format!(
            "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{{ pid = \"host:0\", count = {MAX_PROCESSES_PER_GPU} }}]"
        );
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn identities_are_kept_in_the_drivers_spelling() {
        use crate::backend::{Backend, DeviceRef};
        let scenario = parse(
            "[[gpus]]\nmodel = \"L4\"\nuuid = \"GPU-12ab-34cd\"\nbus_id = \"0000:3b:00.0\"\n[[gpus]]\nmodel = \"L4\"",
        )
        .unwrap();
        let sim = super::super::SimBackend::new(scenario);
        assert_eq!(sim.uuid(DeviceRef::Physical(0)).unwrap(), "GPU-12ab-34cd");
        assert_eq!(sim.bus_id(DeviceRef::Physical(0)).unwrap(), "00000000:3B:00.0");
        assert_eq!(sim.bus_id(DeviceRef::Physical(1)).unwrap(), "00000000:2A:00.0");
    }

    #[test]
    fn vocabulary_round_trips() {
        let text = r#"
            cuda_driver_version = "12.4"
            [[gpus]]
            model = "A100-SXM4-80GB"
            compute_mode = "exclusive_process"
            mig = [{ profile = "3g.40gb" }, { profile = "2g.20gb" }]
            processes = [
                { pid = "self", memory_mib = 100, mig = 0, type = "C+G" },
                { pid = "host:4", count = 3, mig = 1 },
                { pid = "gone", mig = 1, memory_unavailable = true },
                { pid = 4242, mig = 1 },
            ]
            faults = { not_supported = ["fan_speed", "clocks"], processes_no_permission = true, lost_at = 5 }
        "#;
        let scenario = parse(text).unwrap();
        assert_eq!(scenario.cuda_driver_version.encoded(), 12040);
        let json = serde_json::to_string(&scenario).unwrap();
        let back = Scenario::parse(&json, Format::Json, Path::new("x.json")).unwrap();
        assert_eq!(back, scenario);
        let gpu = &scenario.gpus[0];
        assert_eq!(gpu.processes[1].pid, PidSpec::Host(4));
        assert_eq!(gpu.processes[2].pid, PidSpec::Gone);
        assert_eq!(gpu.processes[3].pid, PidSpec::Literal(4242));
        assert_eq!(gpu.processes[0].kind.0, ProcessKind::ComputeGraphics);
        assert_eq!(gpu.mig[0].profile.to_string(), "3g.40gb");
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}

//! The built-in GPU simulator: a deterministic model of a GPU machine.
//!
//! A [`scenario::Scenario`] describes the machine (GPU models, MIG devices,
//! processes bound to real host pids, workloads, faults); the simulator
//! answers every [`Backend`] question from it as a pure function of
//! simulated time. Simulated time runs with the wall clock from the moment
//! the simulator is created, unless it is pinned with
//! [`SimBackend::set_time`] or the `NVITOP_SIM_TIME` environment variable
//! (seconds), which is how tests, benchmarks and the fake NVML library in
//! another process see identical values.
//!
//! ```
//! use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
//! let sim = SimBackend::from_preset("mig").unwrap();
//! sim.set_time(10.0);
//! assert_eq!(sim.device_count().unwrap(), 2);
//! assert_eq!(sim.mig_devices(DeviceRef::Physical(0)).unwrap().len(), 4);
//! ```

mod energy;
mod gpm;
pub mod latency;
mod machine;
pub mod models;
mod nvlink;
mod pids;
pub mod presets;
pub mod samples;
pub mod scenario;
mod throttle;
mod workload;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

pub use latency::{Latency, LatencyError, SIM_LATENCY_ENV};
pub use pids::HOST_PIDS_ENV;
pub use scenario::{Scenario, ScenarioError};

use self::machine::{Machine, SimGpu};
use self::pids::PidResolver;
use self::scenario::FaultField;
use super::{
    Backend, BackendError, BackendResult, ClockEventReasons, ClockKind, ComputeMode, DeviceRef, GpmMetric, GpmSampleId,
    MemoryInfo, NvLinkCounters, PciBusId, PcieDirection, ProcessUtilization, RawProcess, UtilizationRates,
};

/// Environment variable naming the scenario for the simulator (a preset
/// name or a `.toml`/`.json` path). The fake NVML library reads it too.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// use nvitop::backend::sim::SIM_SCENARIO_ENV;
/// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
/// # unsafe { std::env::set_var(SIM_SCENARIO_ENV, "h100x8") };
/// // With NVITOP_SIM_SCENARIO=h100x8:
/// assert_eq!(SimBackend::from_env().unwrap().device_count().unwrap(), 8);
/// ```
pub const SIM_SCENARIO_ENV: &str = "NVITOP_SIM_SCENARIO";

/// Environment variable pinning simulated time, in seconds.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// use nvitop::backend::sim::SIM_TIME_ENV;
/// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
/// # unsafe { std::env::set_var(SIM_TIME_ENV, "12.5") };
/// // With NVITOP_SIM_TIME=12.5 every new simulator starts pinned there.
/// assert_eq!(SimBackend::default_machine().time(), 12.5);
/// ```
pub const SIM_TIME_ENV: &str = "NVITOP_SIM_TIME";

/// Bits of an `f64` that mean "time follows the wall clock".
const FOLLOW_WALL_CLOCK: u64 = u64::MAX;

/// The simulator backend.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// use std::sync::Arc;
/// use nvitop::Device;
/// let sim = SimBackend::from_preset("mig").unwrap();
/// sim.set_time(5.0); // deterministic readings
/// let backend: Arc<dyn Backend> = Arc::new(sim);
/// assert!(backend.is_simulated());
/// let gpus = Device::all_in(&backend).unwrap();
/// assert_eq!(gpus[0].mig_devices().len(), 4); // "an A100 with 4 MIG devices"
/// ```
#[derive(Debug)]
pub struct SimBackend {
    scenario: Scenario,
    machine: Machine,
    origin: Instant,
    /// Pinned time as `f64` bits, or [`FOLLOW_WALL_CLOCK`]. Atomic so tests
    /// can move time while other threads read.
    pinned: AtomicU64,
    /// Where the workloads' cycles stand at simulated time 0 when time
    /// follows the wall clock: the Unix time of creation, so two one-shot
    /// runs a few seconds apart show a machine that moved on, not the same
    /// instant twice. Pinned time ignores it (same values everywhere).
    wall_offset: f64,
    /// How long each driver call takes (see [`Latency`]).
    latency: Latency,
    /// Per physical GPU, the driver's buffer of per-process utilization samples.
    samples: Mutex<Vec<samples::SampleBuffer>>,
    /// The driver's table of GPM samples.
    gpm: Mutex<gpm::GpmStore>,
    /// Per physical GPU, the load integral behind the energy counter.
    energy: Mutex<Vec<energy::LoadIntegral>>,
}

impl SimBackend {
    /// A simulator for `scenario`, binding its pids to this host now.
    /// Honours `NVITOP_SIM_TIME`.
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// use nvitop::backend::sim::scenario::{Format, Scenario};
    /// let text = "[[gpus]]\nmodel = \"L4\"\nprocesses = [{ pid = \"self\", memory_mib = 1024 }]\n";
    /// let scenario = Scenario::parse(text, Format::Toml, std::path::Path::new("l4.toml")).unwrap();
    /// let sim = SimBackend::new(scenario);
    /// assert_eq!(sim.name(DeviceRef::Physical(0)).unwrap(), "NVIDIA L4");
    /// assert_eq!(sim.processes(DeviceRef::Physical(0)).unwrap()[0].pid, std::process::id());
    /// ```
    pub fn new(scenario: Scenario) -> Self {
        Self::with_resolver(scenario, &PidResolver::from_host())
    }

    /// A simulator whose `host:N` pids are drawn from `pool`, in order (for
    /// benchmarks and tests that spawn the processes the GPUs should run).
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend, sim::presets};
    /// let scenario = presets::preset("a100x4").unwrap();
    /// let sim = SimBackend::with_host_pool(scenario, vec![4242, 4243, 4244]);
    /// let pids: Vec<u32> = sim.processes(DeviceRef::Physical(2)).unwrap().iter().map(|p| p.pid).collect();
    /// assert_eq!(pids, vec![4242]); // rank 2 is `host:21`: pool[21 % 3]
    /// ```
    pub fn with_host_pool(scenario: Scenario, pool: Vec<u32>) -> Self {
        Self::with_resolver(scenario, &PidResolver::with_pool(pool))
    }

    fn with_resolver(scenario: Scenario, pids: &PidResolver) -> Self {
        let machine = Machine::build(&scenario, pids);
        let pinned = std::env::var(SIM_TIME_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|t| t.is_finite())
            .map_or(FOLLOW_WALL_CLOCK, f64::to_bits);
        let wall_offset = crate::snapshot::unix_now();
        let latency = scenario.latency.clone().unwrap_or_default();
        let gpus = machine.gpus.len();
        let samples = Mutex::new((0..gpus).map(|_| samples::SampleBuffer::default()).collect());
        Self {
            scenario,
            machine,
            origin: Instant::now(),
            pinned: AtomicU64::new(pinned),
            wall_offset,
            latency,
            samples,
            gpm: Mutex::new(gpm::GpmStore::default()),
            energy: Mutex::new(vec![energy::LoadIntegral::default(); gpus]),
        }
    }

    /// The built-in default machine (preset `default`): 4 GPUs, one of them
    /// split into MIG devices, the calling process running on GPU 0.
    ///
    /// ```
    /// use nvitop::backend::{Backend, sim::SimBackend};
    /// assert_eq!(SimBackend::default_machine().device_count().unwrap(), 4);
    /// ```
    pub fn default_machine() -> Self {
        match presets::preset("default") {
            Ok(scenario) => Self::new(scenario),
            // The preset is compiled in and checked by the unit tests.
            Err(err) => unreachable!("the built-in default scenario is invalid: {err}"),
        }
    }

    /// A built-in preset by name (see [`presets::PRESETS`]).
    ///
    /// # Errors
    /// [`ScenarioError::UnknownPreset`], listing the presets.
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// assert_eq!(SimBackend::from_preset("a100x4").unwrap().device_count().unwrap(), 4);
    /// let err = SimBackend::from_preset("h200x16").unwrap_err();
    /// assert!(err.to_string().contains("h100x8"), "{err}"); // lists the presets
    /// ```
    pub fn from_preset(name: &str) -> Result<Self, ScenarioError> {
        presets::preset(name).map(Self::new)
    }

    /// A scenario file (`.json` is JSON, anything else TOML).
    ///
    /// # Errors
    /// The file cannot be read or is not a valid scenario (the error names
    /// the file, line and field).
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("box.json");
    /// std::fs::write(&path, r#"{ "gpus": [{ "model": "RTX-4090" }, { "model": "RTX-4090" }] }"#).unwrap();
    /// assert_eq!(SimBackend::from_file(&path).unwrap().device_count().unwrap(), 2);
    /// assert!(SimBackend::from_file(&dir.path().join("missing.toml")).is_err());
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        Scenario::from_file(path).map(Self::new)
    }

    /// What `--simulate` / `NVITOP_SIMULATE` accepts: `1` (or empty,
    /// `true`, `yes`, `on`) for the default machine, a preset name
    /// (optionally `preset:NAME`), or a scenario file path.
    ///
    /// ```
    /// use nvitop::backend::{Backend, sim::SimBackend};
    /// assert_eq!(SimBackend::from_spec("1").unwrap().device_count().unwrap(), 4);
    /// assert_eq!(SimBackend::from_spec("h100x8").unwrap().device_count().unwrap(), 8);
    /// assert!(SimBackend::from_spec("no-such-preset").is_err());
    /// ```
    ///
    /// # Errors
    /// An unknown preset, or a bad scenario file.
    pub fn from_spec(spec: &str) -> Result<Self, ScenarioError> {
        Self::load_driver(Self::from_spec_instant(spec)?)
    }

    fn from_spec_instant(spec: &str) -> Result<Self, ScenarioError> {
        let spec = spec.trim();
        if matches!(spec.to_ascii_lowercase().as_str(), "" | "1" | "true" | "yes" | "on") {
            return Self::from_preset("default");
        }
        if let Some(name) = spec.strip_prefix("preset:") {
            return Self::from_preset(name);
        }
        let path = Path::new(spec);
        let looks_like_path = spec.contains('/')
            || path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("toml") || e.eq_ignore_ascii_case("json"));
        let is_preset = presets::PRESETS
            .iter()
            .any(|(name, ..)| name.eq_ignore_ascii_case(spec));
        if looks_like_path || (path.is_file() && !is_preset) {
            Self::from_file(path)
        } else {
            Self::from_preset(spec)
        }
    }

    /// The simulator the environment asks for: `NVITOP_SIM_SCENARIO`, else
    /// `NVITOP_SIMULATE` (when it names a preset or file), else the default
    /// machine. This is what the fake NVML library uses.
    ///
    /// # Errors
    /// As [`SimBackend::from_spec`].
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// // With neither NVITOP_SIM_SCENARIO nor NVITOP_SIMULATE set: the default machine.
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::remove_var("NVITOP_SIM_SCENARIO"); std::env::remove_var("NVITOP_SIMULATE") };
    /// assert_eq!(SimBackend::from_env().unwrap().device_count().unwrap(), 4);
    /// ```
    pub fn from_env() -> Result<Self, ScenarioError> {
        let sim = if let Ok(spec) = std::env::var(SIM_SCENARIO_ENV)
            && !spec.trim().is_empty()
        {
            Self::from_spec_instant(&spec)?
        } else {
            let simulate = std::env::var(crate::global::SIMULATE_ENV).ok();
            match crate::global::simulate_spec(simulate.as_deref()) {
                Some(spec) => Self::from_spec_instant(spec)?,
                None => Self::from_preset("default")?,
            }
        };
        Self::load_driver(sim)
    }

    /// What loading a driver does to a simulator made from a spec or the
    /// environment: `NVITOP_SIM_LATENCY` (when set) replaces the scenario's
    /// latency, and the load costs `nvmlInit`'s delay, as `nvmlInit` does.
    fn load_driver(sim: Self) -> Result<Self, ScenarioError> {
        let sim = match Latency::from_env()? {
            Some(latency) => sim.with_latency(latency),
            None => sim,
        };
        sim.latency.wait("nvmlInit");
        Ok(sim)
    }

    /// This simulator with every driver call delayed as `latency` says.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use nvitop::backend::{Backend, DeviceRef, sim::{Latency, SimBackend}};
    /// let sim = SimBackend::default_machine().with_latency(Latency::parse("30ms").unwrap());
    /// let start = Instant::now();
    /// sim.temperature(DeviceRef::Physical(0)).unwrap();
    /// assert!(start.elapsed() >= Duration::from_millis(30));
    /// ```
    #[must_use]
    pub fn with_latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// How long each driver call of this simulator takes.
    ///
    /// ```
    /// use nvitop::backend::sim::{Latency, SimBackend};
    /// assert!(SimBackend::default_machine().latency().is_none()); // instant unless asked
    /// ```
    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    /// The scenario this simulator runs.
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::from_preset("h100x8").unwrap();
    /// assert_eq!(sim.scenario().gpus.len(), 8);
    /// assert_eq!(sim.scenario().driver_version, sim.driver_version().unwrap());
    /// ```
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Pins simulated time at `seconds`.
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// // The `faults` preset loses GPU 3 at t = 30 s.
    /// let sim = SimBackend::from_preset("faults").unwrap();
    /// sim.set_time(29.0);
    /// assert!(sim.name(DeviceRef::Physical(3)).is_ok());
    /// sim.set_time(31.0);
    /// assert!(sim.name(DeviceRef::Physical(3)).is_err());
    /// ```
    pub fn set_time(&self, seconds: f64) {
        self.pinned.store(seconds.to_bits(), Ordering::Relaxed);
    }

    /// Lets simulated time follow the wall clock again (from where the
    /// simulator was created).
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// sim.set_time(1000.0);
    /// sim.follow_wall_clock();
    /// assert!(sim.time() < 1000.0); // back to seconds since creation
    /// ```
    pub fn follow_wall_clock(&self) {
        self.pinned.store(FOLLOW_WALL_CLOCK, Ordering::Relaxed);
    }

    /// The time the workloads are evaluated at: simulated time when it is
    /// pinned, else simulated time plus the wall-clock offset (faults such
    /// as `lost_at` always use simulated time: seconds since the start).
    fn value_time(&self, t: f64) -> f64 {
        if self.pinned.load(Ordering::Relaxed) == FOLLOW_WALL_CLOCK {
            t + self.wall_offset
        } else {
            t
        }
    }

    /// The current simulated time, seconds.
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// sim.set_time(42.0);
    /// assert_eq!(sim.time(), 42.0);
    /// ```
    pub fn time(&self) -> f64 {
        match self.pinned.load(Ordering::Relaxed) {
            FOLLOW_WALL_CLOCK => self.origin.elapsed().as_secs_f64(),
            bits => f64::from_bits(bits),
        }
    }

    /// The GPU behind `device`, at time `t`, failing when it is lost or the
    /// index does not exist.
    fn gpu(&self, device: DeviceRef, t: f64) -> BackendResult<&SimGpu> {
        let gpu = self
            .machine
            .gpus
            .get(device.physical_index() as usize)
            .ok_or_else(|| BackendError::NotFound {
                what: format!("GPU {device}"),
            })?;
        if gpu.is_lost(t) {
            return Err(BackendError::GpuLost { device });
        }
        if let DeviceRef::Mig { index, .. } = device
            && index as usize >= gpu.migs.len()
        {
            return Err(BackendError::NotFound {
                what: format!("MIG device {device}"),
            });
        }
        Ok(gpu)
    }

    /// The GPU behind `device`, MIG devices included, when it answers
    /// `field`: not with a "not supported" fault for it (N/A).
    fn supported(&self, device: DeviceRef, field: FaultField) -> BackendResult<(&SimGpu, f64)> {
        let t = self.time();
        let gpu = self.gpu(device, t)?;
        if gpu.unsupported(field) {
            return Err(BackendError::NotSupported);
        }
        Ok((gpu, self.value_time(t)))
    }

    /// A physical GPU that answers `field`: MIG devices do not (N/A), nor
    /// does a GPU with a "not supported" fault for it.
    fn physical(&self, device: DeviceRef, field: FaultField) -> BackendResult<(&SimGpu, f64)> {
        let (gpu, t) = self.supported(device, field)?;
        if device.is_mig() {
            return Err(BackendError::NotSupported);
        }
        Ok((gpu, t))
    }

    /// As [`Self::physical`], for device-level figures NVML does not have
    /// while MIG mode is on (N/A then).
    fn whole_gpu(&self, device: DeviceRef, field: FaultField) -> BackendResult<(&SimGpu, f64)> {
        let (gpu, t) = self.physical(device, field)?;
        if gpu.mig_enabled() {
            return Err(BackendError::NotSupported);
        }
        Ok((gpu, t))
    }
}

/// The simulated driver's GPM calls, one per NVML function, for callers
/// that speak NVML's protocol themselves (the fake NVML library);
/// [`Backend::gpm_sample`] and friends are built on them.
impl SimBackend {
    fn gpm_store(&self) -> std::sync::MutexGuard<'_, gpm::GpmStore> {
        self.gpm.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The GPU behind `device` when it supports GPM: Hopper (compute
    /// capability 9.x) and newer, without a `gpm` "not supported" fault.
    fn gpm_gpu(&self, device: DeviceRef) -> BackendResult<(&SimGpu, f64)> {
        let (gpu, t) = self.supported(device, FaultField::Gpm)?;
        if gpu.model.compute_capability.0 < 9 {
            return Err(BackendError::NotSupported);
        }
        Ok((gpu, t))
    }

    /// `nvmlGpmQueryDeviceSupport`: whether the device supports GPM.
    ///
    /// # Errors
    /// A lost or unknown device.
    ///
    /// ```
    /// use nvitop::backend::{DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// assert!(sim.gpm_query_device_support(DeviceRef::Physical(0)).unwrap()); // H100
    /// assert!(!sim.gpm_query_device_support(DeviceRef::Physical(3)).unwrap()); // RTX 4090
    /// ```
    pub fn gpm_query_device_support(&self, device: DeviceRef) -> BackendResult<bool> {
        match self.gpm_gpu(device) {
            Ok(_) => Ok(true),
            Err(BackendError::NotSupported) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `nvmlGpmSampleAlloc`: a new sample holding nothing yet.
    ///
    /// ```
    /// use nvitop::backend::sim::SimBackend;
    /// let sim = SimBackend::default_machine();
    /// let sample = sim.gpm_sample_alloc();
    /// assert_eq!(sim.gpm_sample_counts(), (1, 0));
    /// # let _ = sample;
    /// ```
    pub fn gpm_sample_alloc(&self) -> GpmSampleId {
        self.gpm_store().alloc()
    }

    /// `nvmlGpmSampleGet` (`gpu_instance` `None`) or `nvmlGpmMigSampleGet`
    /// (the GPU instance id of one of the GPU's MIG devices): fills an
    /// allocated sample with the counters of physical GPU `device` now.
    ///
    /// A GPU instance's counters are its own: they follow the workload of
    /// the processes bound to it (an instance without one is idle).
    ///
    /// # Errors
    /// [`BackendError::NotSupported`] without GPM (checked first, as
    /// `nvml.h` says, so an A100's instances are "not supported" too);
    /// [`BackendError::NotFound`] (the fake library's
    /// `NVML_ERROR_INVALID_ARGUMENT`) for a sample not allocated (or freed),
    /// a MIG device given as `device`, a GPU instance id on a GPU not in
    /// MIG mode, or one the GPU does not have.
    ///
    /// ```
    /// use nvitop::backend::{BackendError, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// let sample = sim.gpm_sample_alloc();
    /// sim.gpm_sample_fill(DeviceRef::Physical(0), None, sample).unwrap();
    /// assert!(sim.gpm_sample_fill(DeviceRef::Physical(2), None, sample).is_err()); // A100
    /// // The H100 is not in MIG mode: no GPU instance 1.
    /// assert!(matches!(sim.gpm_sample_fill(DeviceRef::Physical(0), Some(1), sample), Err(BackendError::NotFound { .. })));
    /// // The A100 has MIG, but no GPM.
    /// assert_eq!(sim.gpm_sample_fill(DeviceRef::Physical(1), Some(1), sample), Err(BackendError::NotSupported));
    /// ```
    pub fn gpm_sample_fill(
        &self,
        device: DeviceRef,
        gpu_instance: Option<u32>,
        sample: GpmSampleId,
    ) -> BackendResult<()> {
        if device.is_mig() {
            return Err(BackendError::NotFound {
                what: format!("GPU {device} (GPM samples are taken on the physical GPU)"),
            });
        }
        // GPM support first: `nvml.h` answers NOT_SUPPORTED for a device
        // without GPM whatever the instance id.
        let (gpu, _) = self.gpm_gpu(device)?;
        if let Some(id) = gpu_instance {
            if !gpu.mig_enabled() {
                return Err(BackendError::NotFound {
                    what: format!("GPU instance {id}: GPU {device} is not in MIG mode"),
                });
            }
            if !gpu.migs.iter().any(|mig| mig.gpu_instance_id == id) {
                return Err(BackendError::NotFound {
                    what: format!("GPU instance {id} on GPU {device}"),
                });
            }
        }
        let filled = gpm::sample_of(
            (device.physical_index(), gpu_instance),
            self.time(),
            self.value_time(0.0),
        );
        self.gpm_store().fill(sample, filled)
    }

    /// `nvmlGpmSampleFree`.
    ///
    /// # Errors
    /// [`BackendError::NotFound`] for a sample not allocated or already freed.
    pub fn gpm_sample_release(&self, sample: GpmSampleId) -> BackendResult<()> {
        self.gpm_store().free(sample)
    }

    /// `nvmlGpmMetricsGet` by raw NVML metric ids: one result per id (an id
    /// the header does not define is [`BackendError::NotFound`], one it
    /// defines that the simulator does not model is
    /// [`BackendError::NotSupported`]).
    ///
    /// # Errors
    /// Either sample unfilled, freed or foreign; samples of two devices.
    ///
    /// ```
    /// use nvitop::backend::{DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// let (a, b) = (sim.gpm_sample_alloc(), sim.gpm_sample_alloc());
    /// sim.gpm_sample_fill(DeviceRef::Physical(0), None, a).unwrap();
    /// sim.gpm_sample_fill(DeviceRef::Physical(0), None, b).unwrap();
    /// let values = sim.gpm_metrics_by_id(a, b, &[2, 8, 60]).unwrap();
    /// assert!(values[0].is_ok()); // SM activity
    /// assert!(values[1].is_err() && values[2].is_err()); // no id 8; NVLink not modelled
    /// ```
    pub fn gpm_metrics_by_id(
        &self,
        first: GpmSampleId,
        second: GpmSampleId,
        ids: &[u32],
    ) -> BackendResult<Vec<BackendResult<f64>>> {
        let (a, b) = {
            let store = self.gpm_store();
            (store.filled(first)?, store.filled(second)?)
        };
        if a.device != b.device {
            return Err(BackendError::NotFound {
                what: "a pair of GPM samples of one device".to_owned(),
            });
        }
        let (gpu, _) = self.gpm_gpu(DeviceRef::Physical(a.device.0))?;
        let fp64_unsupported = gpu.unsupported(FaultField::GpmFp64);
        Ok(ids
            .iter()
            .map(|&id| gpm::metric(gpu, &a, &b, id, fp64_unsupported))
            .collect())
    }

    /// GPM samples allocated and freed since this simulator started; equal
    /// when no sample leaked.
    ///
    /// ```
    /// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
    /// let sim = SimBackend::default_machine();
    /// let sample = sim.gpm_sample(DeviceRef::Physical(0)).unwrap();
    /// sim.gpm_sample_free(sample).unwrap();
    /// assert_eq!(sim.gpm_sample_counts(), (1, 1));
    /// ```
    pub fn gpm_sample_counts(&self) -> (u64, u64) {
        self.gpm_store().counts()
    }
}

/// MIG device `index` of `gpu` (already checked by [`SimBackend::gpu`];
/// looked up again rather than indexed so no path can panic).
fn mig_of(gpu: &SimGpu, device: DeviceRef, index: u32) -> BackendResult<&machine::SimMig> {
    gpu.migs.get(index as usize).ok_or_else(|| BackendError::NotFound {
        what: format!("MIG device {device}"),
    })
}

impl Backend for SimBackend {
    fn kind(&self) -> &'static str {
        "simulator"
    }

    fn is_simulated(&self) -> bool {
        true
    }

    fn driver_version(&self) -> BackendResult<String> {
        self.latency.wait("nvmlSystemGetDriverVersion");
        Ok(self.machine.driver_version.clone())
    }

    fn nvml_version(&self) -> BackendResult<String> {
        self.latency.wait("nvmlSystemGetNVMLVersion");
        let major = self.machine.cuda_driver_version / 1000;
        Ok(format!("{major}.{}", self.machine.driver_version))
    }

    fn cuda_driver_version(&self) -> BackendResult<i32> {
        self.latency.wait("nvmlSystemGetCudaDriverVersion");
        Ok(self.machine.cuda_driver_version)
    }

    fn device_count(&self) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetCount");
        Ok(self.machine.gpus.len() as u32)
    }

    fn device_by_uuid(&self, uuid: &str) -> BackendResult<DeviceRef> {
        self.latency.wait("nvmlDeviceGetHandleByUUID");
        let t = self.time();
        for (i, gpu) in self.machine.gpus.iter().enumerate() {
            let found = if gpu.uuid.eq_ignore_ascii_case(uuid) {
                Some(DeviceRef::Physical(i as u32))
            } else {
                gpu.migs
                    .iter()
                    .position(|m| m.uuid.eq_ignore_ascii_case(uuid))
                    .map(|m| DeviceRef::Mig {
                        parent: i as u32,
                        index: m as u32,
                    })
            };
            if let Some(device) = found {
                return self.gpu(device, t).map(|_| device);
            }
        }
        Err(BackendError::NotFound {
            what: format!("UUID {uuid}"),
        })
    }

    fn device_by_bus_id(&self, bus_id: &str) -> BackendResult<DeviceRef> {
        self.latency.wait("nvmlDeviceGetHandleByPciBusId");
        // Compare parsed values, so any spelling on either side matches.
        let wanted = PciBusId::parse(bus_id);
        let t = self.time();
        let index = wanted
            .and_then(|wanted| {
                self.machine
                    .gpus
                    .iter()
                    .position(|g| PciBusId::parse(&g.bus_id) == Some(wanted))
            })
            .ok_or_else(|| BackendError::NotFound {
                what: format!("PCI bus id {bus_id}"),
            })?;
        let device = DeviceRef::Physical(index as u32);
        self.gpu(device, t).map(|_| device)
    }

    fn mig_devices(&self, device: DeviceRef) -> BackendResult<Vec<DeviceRef>> {
        self.latency.wait("nvmlDeviceGetMaxMigDeviceCount");
        let t = self.time();
        let gpu = self.gpu(device, t)?;
        // A driver that cannot report MIG mode lists no MIG devices: NVML
        // clients (ours and nvidia-ml-py's) ask for the mode first.
        if gpu.unsupported(FaultField::MigMode) {
            return Ok(Vec::new());
        }
        match device {
            DeviceRef::Mig { .. } => Ok(Vec::new()),
            DeviceRef::Physical(parent) => Ok((0..gpu.migs.len() as u32)
                .map(|index| DeviceRef::Mig { parent, index })
                .collect()),
        }
    }

    fn name(&self, device: DeviceRef) -> BackendResult<String> {
        self.latency.wait("nvmlDeviceGetName");
        let gpu = self.gpu(device, self.time())?;
        Ok(match device {
            DeviceRef::Physical(_) => gpu.model.name.to_owned(),
            DeviceRef::Mig { index, .. } => mig_of(gpu, device, index)?.name.clone(),
        })
    }

    fn uuid(&self, device: DeviceRef) -> BackendResult<String> {
        self.latency.wait("nvmlDeviceGetUUID");
        let gpu = self.gpu(device, self.time())?;
        Ok(match device {
            DeviceRef::Physical(_) => gpu.uuid.clone(),
            DeviceRef::Mig { index, .. } => mig_of(gpu, device, index)?.uuid.clone(),
        })
    }

    fn bus_id(&self, device: DeviceRef) -> BackendResult<String> {
        self.latency.wait("nvmlDeviceGetPciInfo");
        // A MIG device reports its parent's PCI location.
        Ok(self.gpu(device, self.time())?.bus_id.clone())
    }

    fn memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        self.latency.wait("nvmlDeviceGetMemoryInfo");
        let (gpu, _) = self.supported(device, FaultField::MemoryInfo)?;
        let (total, used) = match device {
            DeviceRef::Physical(_) => (gpu.memory_total(), gpu.memory_used()),
            DeviceRef::Mig { index, .. } => (
                gpu.mig_memory_total(index as usize),
                gpu.mig_memory_used(index as usize),
            ),
        };
        Ok(MemoryInfo {
            total,
            used,
            free: total - used,
        })
    }

    fn bar1_memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        self.latency.wait("nvmlDeviceGetBAR1MemoryInfo");
        // NVML answers BAR1 per MIG device too ("per-instance information
        // can be queried by using specific MIG device handles").
        let (gpu, _) = self.supported(device, FaultField::Bar1MemoryInfo)?;
        let (total, used) = match device {
            DeviceRef::Physical(_) => gpu.bar1(),
            DeviceRef::Mig { index, .. } => gpu.mig_bar1(index as usize),
        };
        Ok(MemoryInfo {
            total,
            used,
            free: total - used,
        })
    }

    fn utilization_rates(&self, device: DeviceRef) -> BackendResult<UtilizationRates> {
        self.latency.wait("nvmlDeviceGetUtilizationRates");
        // NVML has no device-level utilization while MIG is on.
        let (gpu, t) = self.whole_gpu(device, FaultField::UtilizationRates)?;
        Ok(UtilizationRates {
            gpu: gpu.gpu_util(t),
            memory: gpu.memory_util(t),
        })
    }

    fn encoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetEncoderUtilization");
        let (gpu, t) = self.whole_gpu(device, FaultField::EncoderUtilization)?;
        Ok(gpu.encoder(t))
    }

    fn decoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetDecoderUtilization");
        let (gpu, t) = self.whole_gpu(device, FaultField::DecoderUtilization)?;
        Ok(gpu.decoder(t))
    }

    fn fan_speed(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetFanSpeed");
        let (gpu, t) = self.physical(device, FaultField::FanSpeed)?;
        if !gpu.model.has_fan {
            return Err(BackendError::NotSupported);
        }
        Ok(gpu.fan_speed(t))
    }

    fn temperature(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetTemperature");
        let (gpu, t) = self.physical(device, FaultField::Temperature)?;
        Ok(gpu.temperature(t))
    }

    fn power_usage(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetPowerUsage");
        let (gpu, t) = self.physical(device, FaultField::PowerUsage)?;
        Ok(gpu.power_mw(t))
    }

    fn power_limit(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetEnforcedPowerLimit");
        let (gpu, _) = self.physical(device, FaultField::PowerLimit)?;
        Ok(gpu.power_limit_mw())
    }

    fn total_energy_consumption(&self, device: DeviceRef) -> BackendResult<u64> {
        self.latency.wait("nvmlDeviceGetTotalEnergyConsumption");
        let (gpu, _) = self.physical(device, FaultField::TotalEnergyConsumption)?;
        // Counted from the simulator's start, not from the workloads' clock.
        let (elapsed, start) = (self.time().max(0.0), self.value_time(0.0));
        let mut integrals = self.energy.lock().unwrap_or_else(PoisonError::into_inner);
        let load = integrals
            .get_mut(device.physical_index() as usize)
            .map_or(0.0, |integral| integral.between(&gpu.workload, start, start + elapsed));
        Ok(gpu.energy_mj(elapsed, load))
    }

    fn performance_state(&self, device: DeviceRef) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetPerformanceState");
        let (gpu, _) = self.physical(device, FaultField::PerformanceState)?;
        Ok(gpu.performance_state())
    }

    fn persistence_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        self.latency.wait("nvmlDeviceGetPersistenceMode");
        let (gpu, _) = self.physical(device, FaultField::PersistenceMode)?;
        Ok(gpu.persistence_mode)
    }

    fn display_active(&self, device: DeviceRef) -> BackendResult<bool> {
        self.latency.wait("nvmlDeviceGetDisplayActive");
        let (gpu, _) = self.physical(device, FaultField::DisplayActive)?;
        Ok(gpu.display_active)
    }

    fn compute_mode(&self, device: DeviceRef) -> BackendResult<ComputeMode> {
        self.latency.wait("nvmlDeviceGetComputeMode");
        let (gpu, _) = self.physical(device, FaultField::ComputeMode)?;
        Ok(gpu.compute_mode)
    }

    fn ecc_errors_volatile_uncorrected(&self, device: DeviceRef) -> BackendResult<u64> {
        self.latency.wait("nvmlDeviceGetTotalEccErrors");
        let (gpu, _) = self.physical(device, FaultField::EccErrors)?;
        if !gpu.model.has_ecc {
            return Err(BackendError::NotSupported);
        }
        Ok(gpu.ecc_errors)
    }

    fn mig_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        self.latency.wait("nvmlDeviceGetMigMode");
        let (gpu, _) = self.physical(device, FaultField::MigMode)?;
        if !gpu.model.mig_capable {
            return Err(BackendError::NotSupported);
        }
        Ok(gpu.mig_enabled())
    }

    fn clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetClockInfo");
        let (gpu, t) = self.physical(device, FaultField::Clocks)?;
        Ok(gpu.clock(clock, t))
    }

    fn max_clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetMaxClockInfo");
        let (gpu, _) = self.physical(device, FaultField::MaxClocks)?;
        Ok(gpu.max_clock(clock))
    }

    fn pcie_throughput(&self, device: DeviceRef, direction: PcieDirection) -> BackendResult<u32> {
        self.latency.wait("nvmlDeviceGetPcieThroughput");
        let (gpu, t) = self.physical(device, FaultField::PcieThroughput)?;
        Ok(gpu.pcie(direction == PcieDirection::Rx, t))
    }

    fn cuda_compute_capability(&self, device: DeviceRef) -> BackendResult<(u32, u32)> {
        self.latency.wait("nvmlDeviceGetCudaComputeCapability");
        // MIG devices share their parent's architecture.
        let (gpu, _) = self.supported(device, FaultField::CudaComputeCapability)?;
        Ok(gpu.model.compute_capability)
    }

    fn processes(&self, device: DeviceRef) -> BackendResult<Vec<RawProcess>> {
        self.latency.wait("nvmlDeviceGetComputeRunningProcesses");
        self.latency.wait("nvmlDeviceGetGraphicsRunningProcesses");
        self.latency.wait("nvmlDeviceGetMPSComputeRunningProcesses");
        let gpu = self.gpu(device, self.time())?;
        if gpu.processes_no_permission {
            return Err(BackendError::NoPermission);
        }
        if gpu.unsupported(FaultField::Processes) {
            return Err(BackendError::NotSupported);
        }
        Ok(match device {
            DeviceRef::Physical(_) => gpu.raw_processes(None),
            DeviceRef::Mig { index, .. } => gpu.raw_processes(Some(index as usize)),
        })
    }

    fn process_utilization(&self, device: DeviceRef, since: u64) -> BackendResult<Vec<ProcessUtilization>> {
        self.latency.wait("nvmlDeviceGetProcessUtilization");
        let (gpu, t) = self.whole_gpu(device, FaultField::ProcessUtilization)?;
        if gpu.processes_no_permission {
            return Err(BackendError::NoPermission);
        }
        // The driver's sample buffer, recorded up to now on the real clock
        // (clients ask for samples newer than a moment ago in real time);
        // each period holds the load of its own moment (pinned time: the
        // pinned moment). Only samples newer than `since`, as the driver.
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let pinned = self.pinned.load(Ordering::Relaxed) != FOLLOW_WALL_CLOCK;
        let mut buffers = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(buffer) = buffers.get_mut(device.physical_index() as usize) else {
            return Err(BackendError::NotFound {
                what: format!("GPU {device}"),
            });
        };
        buffer.catch_up(now_us, since, |ago| {
            gpu.process_shares(if pinned { t } else { t - ago })
        });
        Ok(buffer.newer_than(since))
    }

    fn gpm_supported(&self, device: DeviceRef) -> BackendResult<bool> {
        self.latency.wait("nvmlGpmQueryDeviceSupport");
        self.gpm_query_device_support(DeviceRef::Physical(device.physical_index()))
    }

    fn gpm_sample(&self, device: DeviceRef) -> BackendResult<GpmSampleId> {
        self.latency.wait("nvmlGpmSampleAlloc");
        let sample = self.gpm_sample_alloc();
        let filled = match device {
            DeviceRef::Physical(_) => {
                self.latency.wait("nvmlGpmSampleGet");
                self.gpm_sample_fill(device, None, sample)
            }
            DeviceRef::Mig { parent, index } => {
                self.latency.wait("nvmlGpmMigSampleGet");
                let t = self.time();
                self.gpu(device, t)
                    .and_then(|gpu| mig_of(gpu, device, index).map(|mig| mig.gpu_instance_id))
                    .and_then(|id| self.gpm_sample_fill(DeviceRef::Physical(parent), Some(id), sample))
            }
        };
        match filled {
            Ok(()) => Ok(sample),
            Err(err) => {
                self.latency.wait("nvmlGpmSampleFree");
                // Just allocated here, so freeing it cannot fail.
                let _ = self.gpm_sample_release(sample);
                Err(err)
            }
        }
    }

    fn gpm_sample_free(&self, sample: GpmSampleId) -> BackendResult<()> {
        self.latency.wait("nvmlGpmSampleFree");
        self.gpm_sample_release(sample)
    }

    fn gpm_metrics(
        &self,
        first: GpmSampleId,
        second: GpmSampleId,
        metrics: &[GpmMetric],
    ) -> BackendResult<Vec<BackendResult<f64>>> {
        self.latency.wait("nvmlGpmMetricsGet");
        let ids: Vec<u32> = metrics.iter().map(|m| m.nvml_id()).collect();
        self.gpm_metrics_by_id(first, second, &ids)
    }

    // ---- NVLink and clock event reasons (see nvlink.rs, throttle.rs) ----

    fn nvlink_counters(&self, device: DeviceRef) -> BackendResult<NvLinkCounters> {
        // Two field-value calls, as the NVML backend makes: the link count,
        // then every link's counters.
        self.latency.wait("nvmlDeviceGetFieldValues");
        self.latency.wait("nvmlDeviceGetFieldValues");
        let t = self.time();
        let gpu = self.gpu(device, t)?;
        if device.is_mig() {
            return Err(BackendError::NotSupported);
        }
        // Counted from the simulator's start, like the energy counter; the
        // timestamp is the real clock's, as the driver's is.
        let links = nvlink::counters(gpu, t, self.value_time(0.0)).ok_or(BackendError::NotSupported)?;
        let timestamp_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        Ok(NvLinkCounters { timestamp_us, links })
    }

    fn clock_event_reasons(&self, device: DeviceRef) -> BackendResult<ClockEventReasons> {
        self.latency.wait("nvmlDeviceGetCurrentClocksEventReasons");
        let (gpu, t) = self.physical(device, FaultField::Clocks)?;
        Ok(throttle::reasons(gpu, t))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bus_id_lookup_matches_any_spelling_of_the_scenario_bus_id() {
        let scenario = Scenario::parse(
            "[[gpus]]\nmodel = \"A100-SXM4-80GB\"\n\n[[gpus]]\nmodel = \"A100-SXM4-80GB\"\nbus_id = \"0000:3b:00.0\"\n",
            scenario::Format::Toml,
            Path::new("test.toml"),
        )
        .unwrap();
        let sim = SimBackend::new(scenario);
        for query in ["00000000:3B:00.0", "0000:3b:00.0", "3B:00.0"] {
            assert_eq!(sim.device_by_bus_id(query).unwrap(), DeviceRef::Physical(1), "{query}");
        }
        assert!(matches!(
            sim.device_by_bus_id("00000000:3C:00.0"),
            Err(BackendError::NotFound { .. })
        ));
        assert!(matches!(
            sim.device_by_bus_id("not a bus id"),
            Err(BackendError::NotFound { .. })
        ));
    }

    #[test]
    fn time_is_pinned_or_follows_the_clock() {
        let sim = SimBackend::default_machine();
        sim.set_time(12.5);
        assert!((sim.time() - 12.5).abs() < f64::EPSILON);
        sim.follow_wall_clock();
        assert!(sim.time() < 60.0);
    }

    #[test]
    fn unpinned_runs_moments_apart_see_a_machine_that_moved_on() {
        let a = SimBackend::from_preset("h100x8").unwrap();
        a.follow_wall_clock();
        let b = SimBackend::from_preset("h100x8").unwrap();
        b.follow_wall_clock();
        // Compare the two cycles at the same simulated time but with the
        // creation offsets 1000 s apart, as two runs a while apart would be.
        let shifted = SimBackend {
            wall_offset: a.wall_offset + 1000.0,
            ..b
        };
        let power = |sim: &SimBackend| -> Vec<u32> {
            (0..8)
                .map(|i| sim.power_usage(DeviceRef::Physical(i)).unwrap())
                .collect()
        };
        assert_ne!(power(&a), power(&shifted));
        // Faults still count from the start: nothing lost in the first second.
        let faults = SimBackend::from_preset("faults").unwrap();
        faults.follow_wall_clock();
        assert!(faults.name(DeviceRef::Physical(3)).is_ok());
    }

    #[test]
    fn values_at_the_same_time_agree_across_instances() {
        // Each pid's newest per-process sample, without its timestamp (the
        // real-clock moment its period ended).
        fn newest(sim: &SimBackend, d: DeviceRef) -> Vec<(u32, u32, u32, u32, u32)> {
            let mut by_pid = std::collections::BTreeMap::new();
            for s in sim.process_utilization(d, 0).unwrap() {
                by_pid.insert(s.pid, (s.pid, s.sm, s.memory, s.encoder, s.decoder));
            }
            by_pid.into_values().collect()
        }
        for t in [0.0, 3.3, 99.9] {
            // Fresh instances: a sample buffer holds the moments it was asked
            // at. Their `host:N` pids from one fixed pool: bound to the host's
            // processes, two instances made moments apart on a busy machine
            // can bind different pids.
            let pool: Vec<u32> = (1000..1064).collect();
            let a = SimBackend::with_host_pool(presets::preset("h100x8").unwrap(), pool.clone());
            let b = SimBackend::with_host_pool(presets::preset("h100x8").unwrap(), pool);
            a.set_time(t);
            b.set_time(t);
            for i in 0..8 {
                let d = DeviceRef::Physical(i);
                assert_eq!(a.utilization_rates(d), b.utilization_rates(d));
                assert_eq!(a.power_usage(d), b.power_usage(d));
                assert_eq!(newest(&a, d), newest(&b, d));
            }
        }
    }

    #[test]
    fn energy_never_decreases_and_power_stays_under_the_limit() {
        let sim = SimBackend::from_preset("rtx4090").unwrap();
        let d = DeviceRef::Physical(0);
        let mut last = 0;
        for step in 0..500 {
            sim.set_time(f64::from(step) * 0.7);
            let energy = sim.total_energy_consumption(d).unwrap();
            assert!(energy >= last);
            last = energy;
            assert!(sim.power_usage(d).unwrap() <= sim.power_limit(d).unwrap());
            assert!(sim.fan_speed(d).unwrap() <= 100);
        }
    }

    #[test]
    fn energy_grows_as_the_integral_of_the_reported_power() {
        for preset in ["default", "h100x8", "a100x4"] {
            let sim = SimBackend::from_preset(preset).unwrap();
            for i in 0..sim.device_count().unwrap().min(4) {
                let d = DeviceRef::Physical(i);
                // Long and short intervals, one shorter than a noise step.
                for (t0, t1) in [(0.0, 60.0), (13.3, 14.1), (20.25, 20.5), (100.0, 160.0)] {
                    sim.set_time(t0);
                    let e0 = sim.total_energy_consumption(d).unwrap();
                    sim.set_time(t1);
                    let e1 = sim.total_energy_consumption(d).unwrap();
                    let steps = ((t1 - t0) * 2000.0) as u32;
                    let dt = (t1 - t0) / f64::from(steps);
                    let integral: f64 = (0..steps)
                        .map(|k| {
                            sim.set_time(t0 + (f64::from(k) + 0.5) * dt);
                            f64::from(sim.power_usage(d).unwrap()) * dt
                        })
                        .sum();
                    let counted = (e1 - e0) as f64;
                    let off = (counted - integral).abs() / integral;
                    assert!(
                        off < 1e-3,
                        "{preset} GPU {i} [{t0}, {t1}]: counter {counted} mJ, power integral {integral:.0} mJ"
                    );
                }
            }
        }
    }

    #[test]
    fn energy_far_out_answers_at_once_and_keeps_growing() {
        let sim = SimBackend::default_machine();
        let d = DeviceRef::Physical(0);
        sim.set_time(1e9);
        let far = sim.total_energy_consumption(d).unwrap();
        sim.set_time(1e9 + 60.0);
        let later = sim.total_energy_consumption(d).unwrap();
        // A minute of training on an H100: between idle and full power.
        let joules = (later - far) as f64 / 1000.0;
        assert!((72.0 * 60.0..700.0 * 60.0).contains(&joules), "{joules} J");
    }

    #[test]
    fn energy_is_the_same_whatever_was_read_before() {
        let fresh = SimBackend::default_machine();
        let busy = SimBackend::default_machine();
        let d = DeviceRef::Physical(0);
        for t in [5.5, 99.0, 30.25, 2.0, 30.25] {
            busy.set_time(t);
            busy.total_energy_consumption(d).unwrap();
        }
        fresh.set_time(77.7);
        busy.set_time(77.7);
        assert_eq!(fresh.total_energy_consumption(d), busy.total_energy_consumption(d));
    }

    #[test]
    fn energy_counts_from_the_start_when_following_the_wall_clock() {
        // Following the wall clock, the workloads run at Unix time; the
        // counter must still read like a driver loaded days ago (and keep
        // counting), not one loaded in 1970.
        let sim = SimBackend::from_preset("h100x8").unwrap();
        sim.follow_wall_clock();
        let d = DeviceRef::Physical(0);
        let first = sim.total_energy_consumption(d).unwrap();
        let limit_mw = u64::from(sim.power_limit(d).unwrap());
        let week_at_the_limit_mj = limit_mw * 7 * 86_400;
        assert!(first < week_at_the_limit_mj, "{first} mJ");
        assert!(first > 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(sim.total_energy_consumption(d).unwrap() > first);
    }

    #[test]
    fn mig_parent_lists_every_instance_process() {
        let sim = SimBackend::from_preset("mig").unwrap();
        let parent = DeviceRef::Physical(0);
        let all = sim.processes(parent).unwrap();
        let per_mig: usize = sim
            .mig_devices(parent)
            .unwrap()
            .into_iter()
            .map(|m| sim.processes(m).unwrap().len())
            .sum();
        assert_eq!(all.len(), per_mig);
        assert_eq!(sim.utilization_rates(parent), Err(BackendError::NotSupported));
        let mig = DeviceRef::Mig { parent: 0, index: 0 };
        let mem = sim.memory_info(mig).unwrap();
        assert!(mem.used > 0 && mem.total > mem.used);
        assert_eq!(sim.temperature(mig), Err(BackendError::NotSupported));
        let bar1 = sim.bar1_memory_info(mig).unwrap();
        let parent_bar1 = sim.bar1_memory_info(parent).unwrap();
        assert!(bar1.used > 0 && bar1.total > bar1.used && bar1.total < parent_bar1.total);
        assert!(matches!(
            sim.name(DeviceRef::Mig { parent: 0, index: 9 }),
            Err(BackendError::NotFound { .. })
        ));
    }

    #[test]
    fn a_lost_gpu_is_lost_everywhere_and_only_it() {
        let sim = SimBackend::from_preset("faults").unwrap();
        sim.set_time(29.9);
        assert!(sim.name(DeviceRef::Physical(3)).is_ok());
        sim.set_time(30.0);
        let lost = DeviceRef::Physical(3);
        assert_eq!(sim.name(lost), Err(BackendError::GpuLost { device: lost }));
        assert_eq!(sim.processes(lost), Err(BackendError::GpuLost { device: lost }));
        let uuid = SimBackend::from_preset("faults").unwrap().uuid(lost).unwrap();
        assert!(matches!(sim.device_by_uuid(&uuid), Err(BackendError::GpuLost { .. })));
        assert!(sim.name(DeviceRef::Physical(0)).is_ok());
        assert_eq!(sim.processes(DeviceRef::Physical(2)), Err(BackendError::NoPermission));
        assert_eq!(sim.temperature(DeviceRef::Physical(1)), Err(BackendError::NotSupported));
        let own = sim.processes(DeviceRef::Physical(0)).unwrap();
        assert!(own.iter().any(|p| p.used_gpu_memory.is_none()));
    }

    #[test]
    fn specs_pick_presets_and_files() {
        let dir = std::env::temp_dir().join(format!("nvitop-sim-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("one.toml");
        std::fs::write(&file, "[[gpus]]\nmodel = \"L4\"\n").unwrap();
        let sim = SimBackend::from_spec(file.to_str().unwrap()).unwrap();
        assert_eq!(sim.name(DeviceRef::Physical(0)).unwrap(), "NVIDIA L4");
        assert_eq!(SimBackend::from_spec("preset:mig").unwrap().device_count().unwrap(), 2);
        let missing = SimBackend::from_spec("/no/such/scenario.toml").unwrap_err();
        assert!(missing.to_string().contains("/no/such/scenario.toml"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

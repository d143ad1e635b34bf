//! # nvitop-burn
//!
//! GPU statistics from [nvitop-rs](nvitop) in [burn] trainings
//! (burn 0.22.1 exactly: its training API changes between minor versions).
//!
//! - **Learner metrics**: [`GpuStatMetric`] is a burn [`Metric`] +
//!   [`Numeric`] with input `()` (so every model output adapts to it), one
//!   instance per (device, statistic): `GPU 0 Utilization`, `GPU 0 Memory
//!   Used`, ... Its `update()` only reads the newest sample of an nvitop
//!   [`Sampler`] thread: it never calls the driver on burn's event thread.
//!   [`GpuStatsExt::with_gpu_stats`] registers them all, for training and
//!   validation, with one call. Without a GPU (no driver, a device that
//!   does not exist) the metrics say `N/A` and training goes on.
//! - **TensorBoard / CSV from a Learner**: [`GpuStatsMetricLogger`] drives
//!   a [`GpuStatsLogger`]'s hooks from burn's metric events, so the usual
//!   nvitop sinks get a row per batch ([`GpuStatsExt::with_gpu_stats_logger`]).
//! - **Hand-written loops**: [`BurnLoggerExt::synced_step`] is
//!   [`GpuStatsLogger::step`] with a device synchronisation before the step
//!   clock stops, so step times include the queued GPU work.
//!
//! ```no_run
//! # use burn::train::{InferenceStep, Learner, LearnerModel, SupervisedTraining, TrainStep};
//! # use burn::data::dataloader::DataLoader;
//! # use std::sync::Arc;
//! use nvitop_burn::{GpuStatistic, GpuStatsConfig, GpuStatsExt};
//!
//! # fn run<M: LearnerModel>(
//! #     learner: Learner<M>,
//! #     train: Arc<dyn DataLoader<<M as TrainStep>::Input>>,
//! #     valid: Arc<dyn DataLoader<<M as InferenceStep>::Input>>,
//! # ) {
//! let result = SupervisedTraining::new("artifacts", train, valid)
//!     .with_gpu_stats(
//!         GpuStatsConfig::new()
//!             .cuda_devices(&[0])
//!             .statistics(&[GpuStatistic::GpuUtilization, GpuStatistic::MemoryUsed]),
//!     )
//!     .num_epochs(10)
//!     .launch(learner);
//! # }
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use burn::train::logger::{FileMetricLogger, MetricLogger};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{
    Metric, MetricAttributes, MetricDefinition, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use burn::train::{LearnerModel, SupervisedTraining};

use nvitop::backend::Backend;
use nvitop::device::CUDA_VISIBLE_DEVICES;
use nvitop::logger::StepSync;
use nvitop::sampler::{DeviceSample, Sampler, SamplerConfig, Tracked};
use nvitop::{Device, GpuStatsLogger};

const MIB: f64 = 1024.0 * 1024.0;

/// Errors of this crate (configuration problems; a missing GPU is not an
/// error, the metrics report "not available" instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The nvitop SDK failed.
    #[error(transparent)]
    Nvitop(#[from] nvitop::Error),
}

/// One GPU statistic a [`GpuStatMetric`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GpuStatistic {
    /// GPU utilization, %.
    GpuUtilization,
    /// Memory-bandwidth utilization, %.
    MemoryUtilization,
    /// Used GPU memory, MiB.
    MemoryUsed,
    /// Used GPU memory, % of the total.
    MemoryPercent,
    /// Temperature, °C.
    Temperature,
    /// Power draw, W.
    PowerDraw,
    /// Fan speed, %.
    FanSpeed,
    /// GPU memory of this process and its children, MiB.
    ProcessMemory,
}

impl GpuStatistic {
    /// Every statistic.
    pub const ALL: [Self; 8] = [
        Self::GpuUtilization,
        Self::MemoryUtilization,
        Self::MemoryUsed,
        Self::MemoryPercent,
        Self::Temperature,
        Self::PowerDraw,
        Self::FanSpeed,
        Self::ProcessMemory,
    ];

    /// The name part after the device: `Utilization`, `Memory Used`, ...
    ///
    /// ```
    /// assert_eq!(nvitop_burn::GpuStatistic::MemoryUsed.label(), "Memory Used");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Self::GpuUtilization => "Utilization",
            Self::MemoryUtilization => "Memory Utilization",
            Self::MemoryUsed => "Memory Used",
            Self::MemoryPercent => "Memory Percent",
            Self::Temperature => "Temperature",
            Self::PowerDraw => "Power",
            Self::FanSpeed => "Fan Speed",
            Self::ProcessMemory => "Process Memory",
        }
    }

    /// The unit burn shows next to the value.
    pub fn unit(self) -> &'static str {
        match self {
            Self::GpuUtilization | Self::MemoryUtilization | Self::MemoryPercent | Self::FanSpeed => "%",
            Self::MemoryUsed | Self::ProcessMemory => "MiB",
            Self::Temperature => "°C",
            Self::PowerDraw => "W",
        }
    }

    /// This statistic from one device's sample, `None` when not available.
    ///
    /// ```
    /// use nvitop::sampler::DeviceSample;
    /// use nvitop_burn::GpuStatistic;
    /// let mut sample = DeviceSample::default();
    /// sample.memory_used = Some(2.0 * 1024.0 * 1024.0);
    /// assert_eq!(GpuStatistic::MemoryUsed.read(&sample), Some(2.0));
    /// assert_eq!(GpuStatistic::Temperature.read(&sample), None);
    /// ```
    pub fn read(self, sample: &DeviceSample) -> Option<f64> {
        match self {
            Self::GpuUtilization => sample.gpu_utilization,
            Self::MemoryUtilization => sample.memory_utilization,
            Self::MemoryUsed => sample.memory_used.map(|b| b / MIB),
            Self::MemoryPercent => sample.memory_percent,
            Self::Temperature => sample.temperature,
            Self::PowerDraw => sample.power_usage,
            Self::FanSpeed => sample.fan_speed,
            Self::ProcessMemory => sample.tracked_gpu_memory.map(|b| b / MIB),
        }
    }
}

/// Which devices to watch.
#[derive(Debug, Clone)]
enum Selection {
    /// CUDA ordinals under `CUDA_VISIBLE_DEVICES` (what the training uses).
    Cuda(Vec<u32>),
    /// Physical GPU indices.
    Physical(Vec<u32>),
    /// An existing sampler (a logger's), labelled by its devices.
    Sampler(Arc<Sampler>),
}

/// What [`GpuStats`] watches and how often; every setting has a default.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use nvitop::backend::sim::SimBackend;
/// use nvitop_burn::{GpuStatistic, GpuStatsConfig};
///
/// let stats = GpuStatsConfig::new()
///     .backend(Arc::new(SimBackend::default_machine()))
///     .cuda_devices(&[0, 1])
///     .statistics(&[GpuStatistic::GpuUtilization, GpuStatistic::Temperature])
///     .interval(Duration::from_millis(100))
///     .build();
/// let names: Vec<String> = stats.metrics().iter().map(|m| m.name_str().to_owned()).collect();
/// assert_eq!(names, ["GPU 0 Utilization", "GPU 0 Temperature", "GPU 1 Utilization", "GPU 1 Temperature"]);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct GpuStatsConfig {
    selection: Selection,
    statistics: Vec<GpuStatistic>,
    interval: Duration,
    backend: Option<Arc<dyn Backend>>,
    train: bool,
    valid: bool,
}

impl Default for GpuStatsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl GpuStatsConfig {
    /// CUDA device 0, utilization and used memory, sampled every 0.5 s,
    /// registered for training and validation.
    pub fn new() -> Self {
        Self {
            selection: Selection::Cuda(vec![0]),
            statistics: vec![GpuStatistic::GpuUtilization, GpuStatistic::MemoryUsed],
            interval: nvitop::sampler::DEFAULT_INTERVAL,
            backend: None,
            train: true,
            valid: true,
        }
    }

    /// Watches these CUDA ordinals (`Device::cuda(i)` in burn), honouring
    /// `CUDA_VISIBLE_DEVICES`. Metric names use the CUDA ordinal.
    pub fn cuda_devices(mut self, cuda_indices: &[u32]) -> Self {
        self.selection = Selection::Cuda(cuda_indices.to_vec());
        self
    }

    /// Watches these physical GPUs (nvidia-smi's numbering).
    pub fn physical_devices(mut self, indices: &[u32]) -> Self {
        self.selection = Selection::Physical(indices.to_vec());
        self
    }

    /// Reads from an existing sampler, such as a [`GpuStatsLogger`]'s
    /// ([`GpuStatsLogger::sampler`]), instead of starting one: one driver
    /// reader for the logger and the metrics.
    pub fn sampler(mut self, sampler: Arc<Sampler>) -> Self {
        self.selection = Selection::Sampler(sampler);
        self
    }

    /// The statistics, in the order their metrics are registered.
    pub fn statistics(mut self, statistics: &[GpuStatistic]) -> Self {
        self.statistics = statistics.to_vec();
        self
    }

    /// Sampling interval of the sampler started by [`GpuStatsConfig::build`]
    /// (10 ms to 60 s; default 0.5 s). Values outside are clamped.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.clamp(nvitop::sampler::MIN_INTERVAL, nvitop::sampler::MAX_INTERVAL);
        self
    }

    /// Reads devices through this backend instead of the default one (NVML,
    /// or the simulator under `NVITOP_SIMULATE`).
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Whether to register the metrics for training (default on).
    pub fn train(mut self, on: bool) -> Self {
        self.train = on;
        self
    }

    /// Whether to register the metrics for validation (default on).
    pub fn valid(mut self, on: bool) -> Self {
        self.valid = on;
        self
    }

    fn devices(&self) -> Result<(Vec<Device>, Vec<String>), Error> {
        let backend = || match &self.backend {
            Some(backend) => Ok(Arc::clone(backend)),
            None => nvitop::default_backend(),
        };
        match &self.selection {
            Selection::Physical(indices) => {
                let devices = Device::from_indices_in(&backend()?, indices)?;
                let labels = devices.iter().map(Device::display_index).collect();
                Ok((devices, labels))
            }
            Selection::Cuda(indices) => {
                let value = std::env::var(CUDA_VISIBLE_DEVICES).ok();
                let cuda = Device::from_cuda_indices_in(&backend()?, value.as_deref(), indices)?;
                let labels = cuda.iter().map(|d| d.cuda_index().to_string()).collect();
                Ok((cuda.into_iter().map(nvitop::CudaDevice::into_device).collect(), labels))
            }
            Selection::Sampler(sampler) => {
                let devices = sampler.devices().to_vec();
                let labels = devices.iter().map(Device::display_index).collect();
                Ok((devices, labels))
            }
        }
    }

    /// Labels to use when the devices cannot be found: the requested ones.
    fn fallback_labels(&self) -> Vec<String> {
        match &self.selection {
            Selection::Cuda(indices) | Selection::Physical(indices) => indices.iter().map(u32::to_string).collect(),
            Selection::Sampler(sampler) => sampler.devices().iter().map(Device::display_index).collect(),
        }
    }

    /// Finds the devices and starts the sampler (its first sample is taken
    /// now, on this thread). Never fails: without a driver, or with a device
    /// that does not exist, every metric reports "not available" (see
    /// [`GpuStats::unavailable_reason`]) and a warning is logged.
    pub fn build(self) -> GpuStats {
        let (sampler, labels, reason) = match (&self.selection, self.devices()) {
            (Selection::Sampler(sampler), Ok((_, labels))) => (Some(Arc::clone(sampler)), labels, None),
            (_, Ok((devices, labels))) => {
                // Only device readings: the metrics need no per-process data
                // unless asked for.
                let tracked = if self.statistics.contains(&GpuStatistic::ProcessMemory) {
                    Tracked::SelfAndChildren
                } else {
                    Tracked::None
                };
                let config = SamplerConfig::default().tracked(tracked);
                let config = config.clone().interval(self.interval).unwrap_or(config);
                (Some(Arc::new(Sampler::start(devices, config))), labels, None)
            }
            (_, Err(err)) => {
                log::warn!("GPU statistics not available, training goes on without them: {err}");
                (None, self.fallback_labels(), Some(err.to_string()))
            }
        };
        let source = Arc::new(Source { sampler, reason });
        // A statistic or a device asked for twice gets one metric.
        let mut statistics: Vec<GpuStatistic> = Vec::with_capacity(self.statistics.len());
        for &statistic in &self.statistics {
            if !statistics.contains(&statistic) {
                statistics.push(statistic);
            }
        }
        let mut names = Vec::new();
        let mut metrics = Vec::new();
        for (position, label) in labels.iter().enumerate() {
            if labels[..position].contains(label) {
                continue;
            }
            for &statistic in &statistics {
                let name = unique_name(&sanitize(&format!("GPU {label} {}", statistic.label())), &names);
                names.push(name.clone());
                metrics.push(GpuStatMetric::new(Arc::clone(&source), position, statistic, name));
            }
        }
        GpuStats {
            source,
            metrics,
            train: self.train,
            valid: self.valid,
        }
    }
}

/// Makes a metric name safe for burn: its file logger uses the name as a
/// file name (a `/` makes it panic), so anything but letters, digits,
/// spaces, `-`, `_`, `.`, `(`, `)` and `%` becomes `-`.
///
/// ```
/// assert_eq!(nvitop_burn::sanitize("GPU 1:2 Memory/Used"), "GPU 1-2 Memory-Used");
/// ```
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '(' | ')' | '%') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `name`, or `name #2`, `name #3`, ... if already taken.
fn unique_name(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_owned();
    }
    // At most taken.len() + 1 candidates are needed: one of them is free.
    (2..=taken.len() + 2)
        .map(|n| format!("{name} #{n}"))
        .find(|candidate| !taken.iter().any(|t| t == candidate))
        .unwrap_or_else(|| name.to_owned())
}

/// Where the metrics read from: the sampler, or why there is none.
#[derive(Debug)]
struct Source {
    sampler: Option<Arc<Sampler>>,
    reason: Option<String>,
}

/// The GPU-statistics metrics for one training, built by
/// [`GpuStatsConfig::build`]. Keeps the sampler running while it or one of
/// its metrics lives.
#[derive(Debug, Clone)]
pub struct GpuStats {
    source: Arc<Source>,
    metrics: Vec<GpuStatMetric>,
    train: bool,
    valid: bool,
}

impl GpuStats {
    /// The metrics, one per (device, statistic), in registration order.
    pub fn metrics(&self) -> &[GpuStatMetric] {
        &self.metrics
    }

    /// Whether the devices were found (otherwise every metric is "not available").
    pub fn is_available(&self) -> bool {
        self.source.sampler.is_some()
    }

    /// Why the metrics are not available, if they are not.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.source.reason.as_deref()
    }

    /// The sampler the metrics read, if the devices were found.
    pub fn sampler(&self) -> Option<&Arc<Sampler>> {
        self.source.sampler.as_ref()
    }
}

/// One GPU statistic of one device as a burn numeric metric, with input
/// `()` (every model output adapts to it).
///
/// `update()` reads the newest sample of the nvitop sampler thread (a lock
/// held for an `Arc` clone), never the driver: burn calls it on its event
/// thread for every batch. The batch value is the newest reading; the epoch
/// value is the mean of the readings seen during the epoch.
#[derive(Clone)]
pub struct GpuStatMetric {
    source: Arc<Source>,
    /// Position of the device in the sampler's device list.
    position: usize,
    statistic: GpuStatistic,
    name: MetricName,
    state: NumericMetricState,
    /// The newest reading, `None` while not available.
    current: Option<f64>,
    /// Readings folded into `state` this epoch.
    count: usize,
}

impl std::fmt::Debug for GpuStatMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuStatMetric")
            .field("name", &self.name)
            .field("statistic", &self.statistic)
            .field("current", &self.current)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl GpuStatMetric {
    fn new(source: Arc<Source>, position: usize, statistic: GpuStatistic, name: String) -> Self {
        Self {
            source,
            position,
            statistic,
            name: Arc::new(name),
            state: NumericMetricState::new(),
            current: None,
            count: 0,
        }
    }

    /// The metric's name, such as `GPU 0 Utilization`.
    pub fn name_str(&self) -> &str {
        &self.name
    }

    /// The statistic reported.
    pub fn statistic(&self) -> GpuStatistic {
        self.statistic
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(Arc::clone(&self.name))
            .unit(self.statistic.unit())
            .precision(1)
    }

    fn read(&self) -> Option<f64> {
        let sampler = self.source.sampler.as_ref()?;
        let sample = sampler.latest();
        sample.devices.get(self.position).and_then(|d| self.statistic.read(d))
    }
}

impl Metric for GpuStatMetric {
    type Input = ();

    fn name(&self) -> MetricName {
        Arc::clone(&self.name)
    }

    fn description(&self) -> Option<String> {
        Some(match &self.source.reason {
            None => format!(
                "{} ({}), from the nvitop sampler",
                self.statistic.label(),
                self.statistic.unit()
            ),
            Some(reason) => format!("not available: {reason}"),
        })
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some(self.statistic.unit().to_owned()),
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        _item: &(),
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, burn::tensor::TensorReadError> {
        self.current = self.read();
        match self.current {
            Some(value) => {
                self.state.update(value, 1);
                self.count += 1;
                Ok(self.state.compute_update(self.format()))
            }
            // burn's file logger skips "N/A" entries: nothing is written.
            None => Ok(SerializedEntry::not_available(Some(self.statistic.unit()))),
        }
    }

    fn compute(&mut self) -> Result<SerializedEntry, burn::tensor::TensorReadError> {
        if self.count == 0 {
            return Ok(SerializedEntry::not_available(Some(self.statistic.unit())));
        }
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
        self.current = None;
        self.count = 0;
    }
}

impl Numeric for GpuStatMetric {
    fn value(&self) -> Option<NumericEntry> {
        self.current.map(NumericEntry::Value)
    }

    fn running_value(&self) -> Option<NumericEntry> {
        (self.count > 0).then(|| self.state.running_value())
    }

    /// The epoch mean; NaN when no reading was available all epoch.
    fn final_value(&self) -> NumericEntry {
        if self.count == 0 {
            NumericEntry::Final(f64::NAN)
        } else {
            self.state.final_value()
        }
    }
}

/// Drives a [`GpuStatsLogger`]'s hooks from burn's metric events, so a
/// [`burn::train::Learner`] training gets nvitop's TensorBoard / CSV rows:
/// a row per training batch (`on_train_batch_end`, steps counted from 0
/// across epochs), epoch start and end, validation start and end. Epochs
/// keep burn's numbering (from 1).
///
/// burn calls it on its event thread, after the batch: the rows carry the
/// GPU statistics, not step times (those need [`BurnLoggerExt::synced_step`]
/// in a hand-written loop). burn's own numeric metrics of each batch (the
/// loss, the accuracy, ...) are passed through with
/// [`GpuStatsLogger::log_scalars`] as `train/<name>` and `valid/<name>`
/// (burn's `GPU ...` metrics of this crate excepted: the rows have them),
/// so the nvitop TensorBoard run shows them next to the GPU curves. It
/// stores nothing burn could read back, so register it next to burn's
/// [`FileMetricLogger`] (see [`GpuStatsExt::with_gpu_stats_logger`]), not
/// instead of it: burn's dashboard and checkpoint selection read burn's
/// logger.
#[derive(Debug)]
pub struct GpuStatsMetricLogger {
    logger: Arc<GpuStatsLogger>,
    step: u64,
    train_epoch: Option<usize>,
    in_validation: bool,
    /// burn's metric names by id, from `log_metric_definition`.
    names: std::collections::HashMap<burn::train::metric::MetricId, String>,
}

impl GpuStatsMetricLogger {
    /// Drives `logger`; keep a clone of the `Arc` to flush it after training.
    pub fn new(logger: Arc<GpuStatsLogger>) -> Self {
        logger.on_train_start();
        Self {
            logger,
            step: 0,
            train_epoch: None,
            in_validation: false,
            names: std::collections::HashMap::new(),
        }
    }

    /// Passes burn's numeric metrics of one batch to the logger as `<split>/<name>`.
    fn pass_through(&self, update: &MetricsUpdate, split: &str, step: u64) {
        let scalars: Vec<(String, f64)> = update
            .entries_numeric
            .iter()
            .filter_map(|u| {
                let name = self.names.get(&u.entry.metric_id)?;
                let value = u.numeric_entry.as_ref()?.current();
                (!name.starts_with("GPU ")).then(|| (format!("{split}/{name}"), value))
            })
            .collect();
        if !scalars.is_empty() {
            let borrowed: Vec<(&str, f64)> = scalars.iter().map(|(t, v)| (t.as_str(), *v)).collect();
            self.logger.log_scalars(&borrowed, step);
        }
    }
}

impl MetricLogger for GpuStatsMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        // burn also sends the epoch's final values through `log`, just before
        // the epoch summary: that is not a batch. They are the numeric
        // entries marked `Final` (a batch update never is).
        let epoch_end = update
            .entries_numeric
            .iter()
            .any(|u| matches!(u.numeric_entry, Some(NumericEntry::Final(_))));
        if epoch_end {
            return;
        }
        match split {
            Split::Train => {
                if self.train_epoch != Some(epoch) {
                    self.train_epoch = Some(epoch);
                    self.logger.on_train_epoch_start(epoch as u64);
                }
                self.logger.on_train_batch_end(self.step);
                self.pass_through(&update, "train", self.step);
                self.step += 1;
            }
            Split::Valid => {
                if !self.in_validation {
                    self.in_validation = true;
                    self.logger.on_validation_start();
                }
                // At the last training step: validation follows it.
                self.pass_through(&update, "valid", self.step.saturating_sub(1));
            }
            Split::Test(_) => {}
        }
    }

    fn read_numeric(&mut self, name: &str, _epoch: usize, _split: &Split) -> Result<Vec<NumericEntry>, String> {
        // burn asks each logger in turn and uses the first answer.
        Err(format!("the GPU stats logger keeps no values to read back ({name})"))
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        match summary.split {
            Split::Train => self.logger.on_train_epoch_end(summary.epoch_number as u64),
            Split::Valid => {
                if self.in_validation {
                    self.in_validation = false;
                    self.logger.on_validation_end();
                }
            }
            Split::Test(_) => {}
        }
    }
}

/// Registers GPU statistics on burn's learner builder ([`SupervisedTraining`]).
pub trait GpuStatsExt: Sized {
    /// Builds `config` ([`GpuStatsConfig::build`]) and registers its metrics
    /// as numeric training and/or validation metrics.
    #[must_use]
    fn with_gpu_stats(self, config: GpuStatsConfig) -> Self {
        self.with_gpu_stats_from(&config.build())
    }

    /// Registers already built metrics (clones: each split keeps its own state).
    #[must_use]
    fn with_gpu_stats_from(self, stats: &GpuStats) -> Self;

    /// Registers burn's own [`FileMetricLogger`] in `directory` (the one
    /// given to [`SupervisedTraining::new`]: registering any metric logger
    /// replaces burn's default one) and a [`GpuStatsMetricLogger`] driving
    /// `logger`.
    #[must_use]
    fn with_gpu_stats_logger(self, directory: impl AsRef<Path>, logger: Arc<GpuStatsLogger>) -> Self;
}

impl<M: LearnerModel> GpuStatsExt for SupervisedTraining<M> {
    fn with_gpu_stats_from(mut self, stats: &GpuStats) -> Self {
        for metric in &stats.metrics {
            if stats.train {
                self = self.metric_train_numeric(metric.clone());
            }
            if stats.valid {
                self = self.metric_valid_numeric(metric.clone());
            }
        }
        self
    }

    fn with_gpu_stats_logger(self, directory: impl AsRef<Path>, logger: Arc<GpuStatsLogger>) -> Self {
        self.with_metric_logger(FileMetricLogger::new(directory))
            .with_metric_logger(GpuStatsMetricLogger::new(logger))
    }
}

/// Step timing for hand-written burn loops, on [`GpuStatsLogger`].
pub trait BurnLoggerExt {
    /// `on_train_batch_start(step)` now; when the guard drops,
    /// `device.sync()` (waits for the work queued on the device), then
    /// `on_train_batch_end(step)`, so `batch_time/intra_step (ms)` includes
    /// the GPU work. A failed sync is logged and the step still ends.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// use nvitop_burn::BurnLoggerExt;
    ///
    /// let sink = MemorySink::new();
    /// let rows = sink.handle();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(sink))
    ///     .intra_step_time(true)
    ///     .build()?;
    /// let device = burn::tensor::Device::flex();
    /// for step in 0..2 {
    ///     let _step = logger.synced_step(step, &device);
    ///     // forward, backward, optimizer step on `device`
    /// }
    /// assert_eq!(logger.close().written, 4);
    /// assert!(rows.records()[1].get("batch_time/intra_step (ms)").is_some());
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    fn synced_step<'a>(&'a self, step: u64, device: &'a burn::tensor::Device) -> SyncedStep<'a>;
}

impl BurnLoggerExt for GpuStatsLogger {
    fn synced_step<'a>(&'a self, step: u64, device: &'a burn::tensor::Device) -> SyncedStep<'a> {
        self.step_with_sync(step, BurnSync(device))
    }
}

/// Ends a step when dropped, after synchronising the device (see
/// [`BurnLoggerExt::synced_step`]).
pub type SyncedStep<'a> = nvitop::logger::SyncedStep<'a, BurnSync<'a>>;

/// Waits for the work queued on a burn device (`Device::sync`); a failed
/// sync is logged as a warning and the step still ends. What
/// [`BurnLoggerExt::synced_step`] gives [`GpuStatsLogger::step_with_sync`].
///
/// ```
/// use nvitop::logger::StepSync;
/// let device = burn::tensor::Device::flex();
/// nvitop_burn::BurnSync(&device).sync(); // nothing queued on the CPU: returns at once
/// ```
#[derive(Clone, Copy)]
pub struct BurnSync<'a>(pub &'a burn::tensor::Device);

impl std::fmt::Debug for BurnSync<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BurnSync").finish_non_exhaustive()
    }
}

impl StepSync for BurnSync<'_> {
    fn sync(&self) {
        if let Err(err) = self.0.sync() {
            log::warn!("device sync before the end of a step failed: {err}");
        }
    }
}

/// The crate README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The root README's snippets, compiled as doctests of this crate too (the
/// `burn` one is only compiled here, see the `burn-readme` feature).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct RootReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;
    use nvitop::backend::sim::SimBackend;

    fn sim() -> Arc<dyn Backend> {
        Arc::new(SimBackend::default_machine())
    }

    fn metadata() -> MetricMetadata {
        MetricMetadata {
            progress: burn::data::dataloader::Progress::new(1, 1, None),
            iteration: Some(0),
            lr: None,
        }
    }

    #[test]
    fn names_are_sanitized_and_unique() {
        assert_eq!(sanitize("a/b\\c:d"), "a-b-c-d");
        let taken = vec!["GPU 0 Power".to_owned(), "GPU 0 Power #2".to_owned()];
        assert_eq!(unique_name("GPU 0 Power", &taken), "GPU 0 Power #3");
        assert_eq!(unique_name("GPU 1 Power", &taken), "GPU 1 Power");
        // The same device twice, the same statistic twice: one metric.
        let stats = GpuStatsConfig::new()
            .backend(sim())
            .cuda_devices(&[1, 1])
            .statistics(&[GpuStatistic::PowerDraw, GpuStatistic::PowerDraw])
            .build();
        let names: Vec<_> = stats.metrics().iter().map(GpuStatMetric::name_str).collect();
        assert_eq!(names, ["GPU 1 Power"]);
    }

    #[test]
    fn physical_mig_labels_lose_their_colon() {
        // The default simulated machine splits GPU 1 into MIG devices; a MIG
        // device's display index is `1:0`.
        let backend = sim();
        let migs = Device::from_indices_in(&backend, &[1]).unwrap_or_default()[0].mig_devices();
        let mig = migs
            .first()
            .unwrap_or_else(|| unreachable!("GPU 1 of the default machine has MIG devices"));
        assert!(mig.clone().into_device().display_index().contains(':'));
        let sampler = Arc::new(Sampler::start(
            vec![mig.clone().into_device()],
            SamplerConfig::default(),
        ));
        let stats = GpuStatsConfig::new()
            .sampler(sampler)
            .statistics(&[GpuStatistic::MemoryUsed])
            .build();
        let name = stats.metrics()[0].name_str().to_owned();
        assert!(!name.contains(':') && !name.contains('/'), "{name}");
        assert!(name.starts_with("GPU 1-"), "{name}");
    }

    #[test]
    fn update_reads_the_sampler_not_the_driver() {
        use nvitop::backend::DeviceRef;
        // The `faults` machine loses GPU 3 at t = 30 s. Sampled at t = 10 s
        // (the sampler's first sample, taken by build()), then the device
        // falls off the bus: a metric that asked the driver in update()
        // would now find nothing.
        let sim = Arc::new(SimBackend::from_preset("faults").unwrap_or_else(|e| unreachable!("{e}")));
        sim.set_time(10.0);
        let statistics = [
            GpuStatistic::GpuUtilization,
            GpuStatistic::MemoryUsed,
            GpuStatistic::Temperature,
            GpuStatistic::PowerDraw,
        ];
        let stats = GpuStatsConfig::new()
            .backend(Arc::clone(&sim) as Arc<dyn Backend>)
            .physical_devices(&[3])
            .statistics(&statistics)
            // No second sample during the test.
            .interval(nvitop::sampler::MAX_INTERVAL)
            .build();
        let sampler = stats
            .sampler()
            .unwrap_or_else(|| unreachable!("GPU 3 exists at t = 10 s"));
        let sampled = sampler.latest();
        sim.set_time(31.0);
        assert!(sim.name(DeviceRef::Physical(3)).is_err(), "GPU 3 is lost now");
        for metric in stats.metrics() {
            let mut metric = metric.clone();
            let expected = metric.statistic().read(&sampled.devices[0]);
            assert!(expected.is_some(), "{} was sampled", metric.name_str());
            let entry = metric.update(&(), &metadata()).unwrap_or_else(|_| unreachable!());
            assert!(!entry.is_not_available(), "{}", metric.name_str());
            assert_eq!(metric.value().map(|v| v.current()), expected, "{}", metric.name_str());
        }
        assert_eq!(sampler.latest_seq(), sampled.seq, "update() takes no sample");
    }

    #[test]
    fn metrics_read_the_sampler_and_average_over_the_epoch() {
        let stats = GpuStatsConfig::new()
            .backend(sim())
            .statistics(&GpuStatistic::ALL)
            .build();
        assert!(stats.is_available());
        let mut memory = stats
            .metrics()
            .iter()
            .find(|m| m.statistic() == GpuStatistic::MemoryUsed)
            .cloned()
            .unwrap_or_else(|| unreachable!());
        assert_eq!(memory.name_str(), "GPU 0 Memory Used");
        for _ in 0..3 {
            let entry = memory.update(&(), &metadata()).unwrap_or_else(|_| unreachable!());
            assert!(!entry.is_not_available());
            assert!(entry.formatted.contains("MiB"), "{}", entry.formatted);
        }
        assert!(memory.value().is_some_and(|v| v.current() > 0.0));
        let running = memory.running_value().map(|v| v.current());
        assert!(running.is_some_and(|v| v > 0.0));
        let last = memory.compute().unwrap_or_else(|_| unreachable!());
        assert!(last.serialized.ends_with(",final"), "{}", last.serialized);
        memory.clear();
        assert!(memory.value().is_none() && memory.running_value().is_none());
    }

    #[test]
    fn without_the_devices_metrics_are_not_available() {
        // Physical GPU 9 does not exist on the simulated 4-GPU machine.
        let stats = GpuStatsConfig::new().backend(sim()).physical_devices(&[9]).build();
        assert!(!stats.is_available());
        assert!(stats.unavailable_reason().is_some());
        let mut metric = stats.metrics()[0].clone();
        assert_eq!(metric.name_str(), "GPU 9 Utilization");
        let entry = metric.update(&(), &metadata()).unwrap_or_else(|_| unreachable!());
        assert!(entry.is_not_available());
        assert!(metric.value().is_none());
        assert!(metric.compute().unwrap_or_else(|_| unreachable!()).is_not_available());
        assert!(metric.final_value().current().is_nan());
    }
}

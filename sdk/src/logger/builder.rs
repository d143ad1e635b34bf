//! Configuring a `GpuStatsLogger`.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clock::{Clock, SystemClock};
use super::keys::LoggerKeys;
use super::options::LoggerOptions;
use super::worker::Worker;
use super::{Clocks, GpuStatsLogger};

/// How long `flush()` and `close()` wait for the sinks by default.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);
use crate::backend::Backend;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::sampler::{SampleOptions, Sampler, SamplerConfig, Tracked};
use crate::sink::{CsvSink, Sink, TensorBoardSink, default_log_parent, default_run_dir};

/// Which devices to log.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    Physical(Vec<u32>),
    Cuda(Vec<u32>),
    Devices(Vec<Device>),
}

/// Builds a [`GpuStatsLogger`]; every option has nvitop's default.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use nvitop::GpuStatsLogger;
/// use nvitop::backend::sim::SimBackend;
///
/// let dir = tempfile::tempdir().unwrap();
/// let logger = GpuStatsLogger::builder(&[0, 2])
///     .backend(Arc::new(SimBackend::default_machine()))
///     .tensorboard(dir.path().join("tb"))
///     .csv(dir.path().join("gpu.csv"))
///     .interval(Duration::from_millis(100))
///     .intra_step_time(true)
///     .inter_step_time(true)
///     .temperature(true)
///     .power(true)
///     .build()?;
/// assert!(logger.keys().iter().any(|k| k == "gpu_id: 2/temperature.gpu (C)"));
/// # Ok::<(), nvitop::Error>(())
/// ```
#[must_use]
#[derive(Debug)]
pub struct GpuStatsLoggerBuilder {
    selection: Selection,
    backend: Option<Arc<dyn Backend>>,
    tensorboard: Option<PathBuf>,
    tensorboard_batch_start_tags: bool,
    csv: Option<PathBuf>,
    sinks: Vec<Box<dyn Sink>>,
    interval: Duration,
    options: LoggerOptions,
    capacity: usize,
    scalars: Vec<String>,
    every_n_steps: u64,
    sync_to_disk: bool,
    sink_timeout: Duration,
    clock: Option<Arc<dyn Clock>>,
    training_status: bool,
    model_flops: Option<f64>,
    precision: super::Precision,
    peak_tflops: Option<f64>,
}

impl std::fmt::Debug for dyn Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

macro_rules! switch {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, on: bool) -> Self {
                self.options.$name = on;
                self
            }
        )*
    };
}

impl GpuStatsLoggerBuilder {
    pub(crate) fn new(selection: Selection) -> Self {
        Self {
            selection,
            backend: None,
            tensorboard: None,
            tensorboard_batch_start_tags: false,
            csv: None,
            sinks: Vec::new(),
            interval: crate::sampler::DEFAULT_INTERVAL,
            options: LoggerOptions::default(),
            capacity: 4096,
            scalars: Vec::new(),
            every_n_steps: 1,
            sync_to_disk: false,
            sink_timeout: DEFAULT_SINK_TIMEOUT,
            clock: None,
            training_status: true,
            model_flops: None,
            precision: super::Precision::default(),
            peak_tflops: None,
        }
    }

    /// Turns on `throughput (TFLOP/s)` and `mfu (%)` at each batch end: the
    /// model FLOPs of one step (all the logged GPUs together; for a
    /// transformer see [`transformer_flops_per_step`](super::transformer_flops_per_step))
    /// over the step period, against the GPUs' dense peak at
    /// [`precision`](Self::precision). A batch size that varies:
    /// [`GpuStatsLogger::set_step_flops`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .model_flops_per_step(3.2e15)
    ///     .build()?;
    /// assert!(logger.keys().iter().any(|k| k == "mfu (%)"));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn model_flops_per_step(mut self, flops: f64) -> Self {
        self.model_flops = Some(flops);
        self
    }

    /// The precision the model computes in, which picks the peak for MFU
    /// (default BF16; see `docs/METRICS.md` for the table).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink, logger::Precision};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .model_flops_per_step(1e12)
    ///     .precision(Precision::Tf32)
    ///     .build()?;
    /// # logger.close();
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn precision(mut self, precision: super::Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Overrides the table's peak: each logged GPU's dense peak, TFLOP/s
    /// (a GPU the table lacks, a power-capped or overclocked board).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .model_flops_per_step(1e12)
    ///     .peak_tflops_per_gpu(800.0)
    ///     .build()?;
    /// assert!(logger.warnings().is_empty());
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn peak_tflops_per_gpu(mut self, tflops: f64) -> Self {
        self.peak_tflops = Some(tflops);
        self
    }

    /// Publishes this process's training status (step, rate, time since
    /// the last hook) for `nvitop-monitor`; on by default, see
    /// `docs/TRAINING_STATUS.md`. The sink thread writes it, never a hook;
    /// closing the logger removes it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .training_status(false)
    ///     .build()?;
    /// # logger.close();
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn training_status(mut self, on: bool) -> Self {
        self.training_status = on;
        self
    }

    /// Reads devices through this backend instead of the default one.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::from_preset("h100x8").unwrap()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.sampler().devices()[0].backend().is_simulated());
    /// ```
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Writes TensorBoard event files into `run_dir`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .tensorboard(dir.path().join("run1"))
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// assert!(logger.close().is_clean());
    /// let files = std::fs::read_dir(dir.path().join("run1")).unwrap();
    /// assert!(files.flatten().any(|f| f.file_name().to_string_lossy().starts_with("events.out.tfevents.")));
    /// ```
    pub fn tensorboard(mut self, run_dir: impl Into<PathBuf>) -> Self {
        self.tensorboard = Some(run_dir.into());
        self
    }

    /// Also writes each batch start's values to TensorBoard, under the tag
    /// plus [`BATCH_START_SUFFIX`](crate::sink::tensorboard::BATCH_START_SUFFIX)
    /// (`gpu_id: 0/utilization.gpu (%) @batch_start`). Off by default:
    /// TensorBoard serves one point per tag and step, so the event file
    /// carries the batch end's value of each tag, and the batch start's only
    /// for tags the batch end lacks. The CSV keeps both rows either way.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .tensorboard(dir.path().join("run1"))
    ///     .tensorboard_batch_start_tags(true)
    ///     .build()
    ///     .unwrap();
    /// for step in 0..3 {
    ///     drop(logger.step(step));
    /// }
    /// assert!(logger.close().is_clean());
    /// let tags = nvitop::testing::tensorboard::scalar_tags(dir.path().join("run1")).unwrap();
    /// assert!(tags.contains("gpu_id: 0/utilization.gpu (%)"));
    /// assert!(tags.contains("gpu_id: 0/utilization.gpu (%) @batch_start"));
    /// ```
    pub fn tensorboard_batch_start_tags(mut self, keep: bool) -> Self {
        self.tensorboard_batch_start_tags = keep;
        self
    }

    /// Writes a CSV file at `path` (appends when its header matches;
    /// [`build`](Self::build) fails on a file with a different header).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("gpu.csv");
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(&path)
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// logger.close();
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert!(text.lines().next().unwrap().contains("gpu_id: 0/utilization.gpu (%)"));
    /// assert_eq!(text.lines().count(), 3); // header and two rows
    /// // Other columns (here the temperature too) are refused before training starts.
    /// let err = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(&path)
    ///     .temperature(true)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("different CSV header"), "{err}");
    /// ```
    pub fn csv(mut self, path: impl Into<PathBuf>) -> Self {
        self.csv = Some(path.into());
        self
    }

    /// Adds a sink of your own (several may be added).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let sink = MemorySink::new();
    /// let rows = sink.handle();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(sink))
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// logger.close();
    /// assert_eq!(rows.len(), 2);
    /// ```
    pub fn sink(mut self, sink: Box<dyn Sink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Sampling interval, 10 ms to 60 s (default 0.5 s).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .interval(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(logger.sampler().interval(), Duration::from_millis(100));
    /// // Out of range: refused when building.
    /// let too_fast = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .interval(Duration::from_millis(1))
    ///     .build();
    /// assert!(too_fast.is_err());
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets every metric switch at once.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// use nvitop::LoggerOptions;
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .options(LoggerOptions::default().power(true))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 0/power.draw (W)".to_owned()));
    /// ```
    pub fn options(mut self, options: LoggerOptions) -> Self {
        self.options = options;
        self
    }

    /// Capacity of the channel to the sink thread; rows beyond it are dropped and counted.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .channel_capacity(1024)
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// assert_eq!(logger.close().dropped, 0);
    /// ```
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Declares scalar tags for [`log_scalar`](GpuStatsLogger::log_scalar):
    /// each gets a CSV column of its own (after the GPU columns). Tags not
    /// declared still reach TensorBoard and the CSV's side file
    /// `<name>.scalars.csv`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(dir.path().join("gpu.csv"))
    ///     .scalars(&["train/loss"])
    ///     .build()?;
    /// logger.log_scalar("train/loss", 0.5, 1);
    /// logger.log_scalar("train/accuracy", 0.9, 1); // not declared: side file
    /// logger.close();
    /// let csv = std::fs::read_to_string(dir.path().join("gpu.csv")).unwrap();
    /// assert!(csv.lines().next().unwrap().ends_with(",train/loss"));
    /// assert!(csv.contains(",1,,scalar,"));
    /// let side = std::fs::read_to_string(dir.path().join("gpu.scalars.csv")).unwrap();
    /// assert!(side.starts_with("wall_time,step,tag,value\n") && side.contains(",1,train/accuracy,0.9\n"));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn scalars(mut self, tags: &[&str]) -> Self {
        for tag in tags {
            if !self.scalars.iter().any(|t| t == tag) {
                self.scalars.push((*tag).to_owned());
            }
        }
        self
    }

    /// Logs GPU statistics and step times every `n` steps (default 1:
    /// every step; Lightning's default is 50): a row for each step `s`
    /// with `(s + 1) % n == 0`. The step times of the steps in between are
    /// not lost: the logged `batch_time/*` values are the mean over the
    /// `n` steps, and `batch_time/*.max (ms)` keys (added when `n > 1`)
    /// their maximum. `log_scalar` is not affected. `0` counts as 1.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let sink = MemorySink::new();
    /// let rows = sink.handle();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(sink))
    ///     .intra_step_time(true)
    ///     .log_every_n_steps(10)
    ///     .build()?;
    /// for step in 0..100 {
    ///     drop(logger.step(step));
    /// }
    /// logger.close();
    /// let ends: Vec<u64> = rows.records().iter().filter(|r| r.get("batch_time/intra_step.max (ms)").is_some()).map(|r| r.step).collect();
    /// assert_eq!(ends, [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]);
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn log_every_n_steps(mut self, n: u64) -> Self {
        self.every_n_steps = n.max(1);
        self
    }

    /// `fsync` the files at each epoch end and at close, so a node that
    /// crashes (power, kernel panic) loses nothing written before (off by
    /// default: a flush already survives the process being killed). Costs
    /// one `fsync` per file per epoch on the sink threads, never on the
    /// training thread; `cargo bench --bench hooks` measures it (`sink/sync_all`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(dir.path().join("gpu.csv"))
    ///     .sync_to_disk(true)
    ///     .build()?;
    /// logger.on_train_epoch_start(0);
    /// drop(logger.step(0));
    /// logger.on_train_epoch_end(0); // flushed and synced on the sink thread
    /// assert!(logger.close().is_clean());
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn sync_to_disk(mut self, on: bool) -> Self {
        self.sync_to_disk = on;
        self
    }

    /// How long [`flush`](GpuStatsLogger::flush) and
    /// [`close`](GpuStatsLogger::close) wait for the sinks (default 10 s).
    /// A sink that has not finished by then is reported hung and left behind.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .sink_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// assert!(logger.flush().is_clean());
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn sink_timeout(mut self, timeout: Duration) -> Self {
        self.sink_timeout = timeout;
        self
    }

    /// The clock the sink thread times its periodic (2 s) flushes by
    /// (default: the system's monotonic clock). For tests: a
    /// [`ManualClock`](super::ManualClock) makes that flush happen when the
    /// test says, without waiting.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// use nvitop::logger::ManualClock;
    /// let clock = ManualClock::new();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .clock(Arc::new(clock.clone()))
    ///     .build()?;
    /// clock.advance(std::time::Duration::from_secs(2)); // the sink thread flushes now
    /// # drop(logger);
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    switch! {
        /// `utilization.memory (%)`, `memory.used (MiB)`, `memory.free (MiB)` (default on).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).memory_utilization(false));
        /// assert!(!keys.contains(&"gpu_id: 3/memory.used (MiB)".to_owned()));
        /// ```
        memory_utilization,
        /// `utilization.gpu (%)` (default on).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).gpu_utilization(false));
        /// assert!(!keys.contains(&"gpu_id: 3/utilization.gpu (%)".to_owned()));
        /// ```
        gpu_utilization,
        /// `batch_time/intra_step (ms)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).intra_step_time(true));
        /// assert!(keys.contains(&"batch_time/intra_step (ms)".to_owned()));
        /// ```
        intra_step_time,
        /// `batch_time/inter_step (ms)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).inter_step_time(true));
        /// assert!(keys.contains(&"batch_time/inter_step (ms)".to_owned()));
        /// ```
        inter_step_time,
        /// `fan.speed (%)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).fan_speed(true));
        /// assert!(keys.contains(&"gpu_id: 3/fan.speed (%)".to_owned()));
        /// ```
        fan_speed,
        /// `temperature.gpu (C)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).temperature(true));
        /// assert!(keys.contains(&"gpu_id: 3/temperature.gpu (C)".to_owned()));
        /// ```
        temperature,
        /// `power.draw (W)` and `power.limit (W)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).power(true));
        /// assert!(keys.contains(&"gpu_id: 3/power.limit (W)".to_owned()));
        /// ```
        power,
        /// `energy.step (J)` and `energy.total (J)` from the GPU's energy
        /// counter, interpolated at each step's start and end (default off;
        /// see `docs/METRICS.md`).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).energy(true));
        /// assert!(keys.contains(&"gpu_id: 3/energy.step (J)".to_owned()));
        /// assert!(keys.contains(&"gpu_id: 3/energy.total (J)".to_owned()));
        /// ```
        energy,
        /// `clocks.sm (MHz)`, `clocks.mem (MHz)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).clocks(true));
        /// assert!(keys.contains(&"gpu_id: 3/clocks.sm (MHz)".to_owned()));
        /// ```
        clocks,
        /// `pcie.tx (KB/s)`, `pcie.rx (KB/s)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).pcie(true));
        /// assert!(keys.contains(&"gpu_id: 3/pcie.rx (KB/s)".to_owned()));
        /// ```
        pcie,
        /// `process.memory.used (MiB)` per device for this process and its children (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).process_memory(true));
        /// assert!(keys.contains(&"gpu_id: 3/process.memory.used (MiB)".to_owned()));
        /// ```
        process_memory,
        /// `host/process.cpu (%)`, `host/process.rss (MiB)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).process_host(true));
        /// assert!(keys.contains(&"host/process.rss (MiB)".to_owned()));
        /// ```
        process_host,
        /// `epoch_time/train (ms)`, `epoch_time/validation (ms)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).epoch_time(true));
        /// assert!(keys.contains(&"epoch_time/train (ms)".to_owned()));
        /// ```
        epoch_time,
    }

    fn devices(&self) -> Result<(Vec<Device>, Vec<String>)> {
        // Explicit devices carry their own backend: asking for the default
        // one would fail needlessly on a machine without a driver.
        let backend = || match &self.backend {
            Some(backend) => Ok(Arc::clone(backend)),
            None => crate::default_backend(),
        };
        let devices = match &self.selection {
            Selection::Devices(devices) => devices.clone(),
            Selection::Physical(indices) => Device::from_indices_in(&backend()?, indices)?,
            Selection::Cuda(indices) => {
                let backend = backend()?;
                let value = std::env::var(crate::device::CUDA_VISIBLE_DEVICES).ok();
                let cuda = Device::from_cuda_indices_in(&backend, value.as_deref(), indices)?;
                let prefixes = cuda
                    .iter()
                    .map(|d| {
                        let physical = d.display_index();
                        if physical == d.cuda_index().to_string() {
                            format!("gpu_id: {}", d.cuda_index())
                        } else {
                            format!("gpu_id: {} (physical index: {physical})", d.cuda_index())
                        }
                    })
                    .collect();
                return Ok((cuda.into_iter().map(crate::CudaDevice::into_device).collect(), prefixes));
            }
        };
        let prefixes = devices
            .iter()
            .map(|d| format!("gpu_id: {}", d.display_index()))
            .collect();
        Ok((devices, prefixes))
    }

    /// Starts the sampler and the sink thread.
    ///
    /// # Errors
    /// No driver, a device that does not exist, an interval out of range, a
    /// sink that cannot be created (the error names the path), or a CSV file
    /// to append to whose header is not this logger's
    /// ([`SinkError::HeaderMismatch`](crate::sink::SinkError::HeaderMismatch)).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0, 3])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(logger.sampler().devices().len(), 2);
    /// // A GPU that does not exist is an error naming it.
    /// let err = GpuStatsLogger::builder(&[4]).backend(Arc::new(SimBackend::default_machine())).build().unwrap_err();
    /// assert!(err.to_string().contains("no CUDA device with index 4"), "{err}");
    /// ```
    pub fn build(mut self) -> Result<GpuStatsLogger> {
        let config = SamplerConfig::default()
            .interval(self.interval)?
            .tracked(if self.options.process_memory || self.options.process_host {
                Tracked::SelfAndChildren
            } else {
                Tracked::None
            })
            .options(SampleOptions {
                clocks: self.options.clocks,
                pcie: self.options.pcie,
            });
        let (devices, prefixes) = self.devices()?;
        let mut keys = LoggerKeys::new(
            &prefixes,
            &self.options,
            self.every_n_steps,
            &self.scalars,
            self.model_flops.is_some(),
        );
        let mut warnings = super::warnings::unreportable_metrics(&devices, &prefixes, &self.options);
        if self.model_flops.is_some() {
            let mut peak = Some(0.0);
            for (device, prefix) in devices.iter().zip(&prefixes) {
                let name = device.name().unwrap_or_default();
                let one = self
                    .peak_tflops
                    .or_else(|| super::mfu::peak_tflops(&name, self.precision));
                if one.is_none() {
                    let message = format!(
                        "{prefix}: no peak FLOP/s known for '{name}', so `mfu (%)` stays empty; set one with peak_tflops_per_gpu"
                    );
                    log::warn!("GPU stats logger: {message}");
                    warnings.push(message);
                }
                peak = peak.zip(one).map(|(a, b)| a + b);
            }
            keys.set_peak_tflops(peak);
        }
        let mut sinks = std::mem::take(&mut self.sinks);
        if let Some(path) = &self.csv {
            let mut csv = CsvSink::create(path)?;
            // The header is checked here, not on the sink thread: appending
            // to a file with other columns is a mistake to report before
            // training starts, not in every row's error count. (Before the
            // event file is created, so a refused run leaves no empty run
            // behind in TensorBoard.)
            csv.start(keys.names())?;
            sinks.push(Box::new(csv));
        }
        let mut tensorboard = self.tensorboard.clone();
        let tensorboard_sink = |dir: &PathBuf| -> Result<TensorBoardSink> {
            let sink = TensorBoardSink::create(dir)?;
            Ok(if self.tensorboard_batch_start_tags {
                sink.with_batch_start_tags(crate::sink::tensorboard::BATCH_START_SUFFIX)
            } else {
                sink
            })
        };
        if let Some(dir) = &self.tensorboard {
            sinks.push(Box::new(tensorboard_sink(dir)?));
        }
        if sinks.is_empty() {
            let dir = default_run_dir(&default_log_parent());
            sinks.push(Box::new(tensorboard_sink(&dir)?));
            tensorboard = Some(dir);
        }
        let status = self.training_status.then(|| {
            // The run is named after its TensorBoard run directory (or CSV file).
            let log_dir = tensorboard.clone().or_else(|| self.csv.clone());
            let run_name = log_dir
                .as_ref()
                .and_then(|dir| dir.file_name())
                .map(|name| name.to_string_lossy().into_owned());
            let gpus = devices.iter().map(Device::index).collect();
            crate::training::StatusPublisher::start(run_name, log_dir, gpus)
        });
        // Off too when the status directory cannot be used: the hooks then
        // send nothing that only the status record would hear.
        let publishes_status = status
            .as_ref()
            .is_some_and(crate::training::StatusPublisher::is_publishing);
        let gpus = devices.len();
        // The hooks' clock; the energy meter maps sample times onto it, so
        // it starts before the sampler's first sample.
        let origin = Instant::now();
        let sampler = Arc::new(Sampler::start(devices, config));
        let (sender, receiver) = crossbeam_channel::bounded(self.capacity);
        let (done_sender, done) = crossbeam_channel::bounded(1);
        let dropped = Arc::new(AtomicU64::new(0));
        let rejected = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            sinks,
            keys: keys.clone(),
            sampler: Arc::clone(&sampler),
            receiver,
            dropped: Arc::clone(&dropped),
            rejected: Arc::clone(&rejected),
            clock: self.clock.take().unwrap_or_else(|| Arc::new(SystemClock::new())),
            sync_to_disk: self.sync_to_disk,
            close_timeout: self.sink_timeout,
            done: done_sender,
            warnings: warnings.clone(),
            status,
            energy: self
                .options
                .energy
                .then(|| super::energy::EnergyMeter::new(origin, gpus)),
            gpu_labels: prefixes.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("nvitop-logger-sink".into())
            .spawn(move || worker.run())
            .map_err(|source| Error::ThreadSpawn {
                thread: "logger's sink",
                source,
            })?;
        Ok(GpuStatsLogger {
            sampler,
            sender: Some(sender),
            options: self.options,
            origin,
            clocks: Clocks::default(),
            dropped,
            worker: Mutex::new(Some(handle)),
            done,
            keys: keys.names().to_vec(),
            rejected,
            scalar_batch: AtomicU64::new(0),
            every_n_steps: self.every_n_steps,
            sink_timeout: self.sink_timeout,
            warnings,
            csv: self.csv.clone(),
            tensorboard,
            mfu: self.model_flops.is_some(),
            step_flops: AtomicU64::new(self.model_flops.unwrap_or(0.0).to_bits()),
            publishes_status,
        })
    }
}

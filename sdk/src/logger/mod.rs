//! `GpuStatsLogger`: step and epoch hooks for training loops that write GPU
//! statistics to TensorBoard and CSV, at a cost the loop cannot measure.
//!
//! A hook reads two clocks and one atomic (the sampler's newest sample
//! number), and `try_send`s a small `Copy` record into a bounded channel: no
//! driver call, no I/O, no allocation, no lock, no panic. When the channel
//! is full the record is counted as dropped. A sink thread looks the sample
//! up, builds the row and writes every sink. See `docs/METRICS.md` for the keys.

mod builder;
mod clock;
#[doc(hidden)]
pub mod doc_support;
mod energy;
mod keys;
mod mfu;
mod options;
mod record;
mod runner;
mod warnings;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use builder::GpuStatsLoggerBuilder;
pub use clock::{Clock, ManualClock, SystemClock};
pub use mfu::{Precision, peak_tflops, transformer_flops_per_step, transformer_flops_per_token};
pub use options::LoggerOptions;
pub use record::MAX_SCALAR_TAG;

use crossbeam_channel::{Sender, TrySendError};
use record::{HookEvent, HookRecord, Message, ScalarRecord, StepTimes};

use crate::error::Result;
use crate::sampler::Sampler;

/// What the logger did: rows written, rows dropped because the channel was
/// full, the I/O errors its sinks met, sinks that failed outright (panicked,
/// hung, fell behind), scalars refused, and the metrics its devices cannot
/// report.
///
/// ```
/// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
/// logger.on_train_start();
/// drop(logger.step(0));
/// let report: nvitop::LogReport = logger.close();
/// assert_eq!(report.written, 2); // batch start and batch end
/// assert!(report.is_clean());
/// assert!(report.failed_sinks.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogReport {
    /// Rows written to every sink.
    pub written: u64,
    /// Rows dropped on the training thread because the sink thread fell behind.
    pub dropped: u64,
    /// Number of sink errors.
    pub error_count: u64,
    /// The first distinct error messages (each names the sink and the path).
    pub errors: Vec<String>,
    /// Sinks that panicked, hung or fell behind, and the rows each lost.
    pub failed_sinks: Vec<SinkFailure>,
    /// `log_scalar` calls refused (an empty tag, or one longer than [`MAX_SCALAR_TAG`] bytes).
    pub rejected: u64,
    /// Metrics a device cannot report (logged once at build): not failures,
    /// their columns just stay empty.
    pub warnings: Vec<String>,
    /// With the energy keys on: each GPU's energy from the first step's
    /// start to the last step's end, millijoules, by label (`gpu_id: 0`).
    pub energy_mj: Vec<(String, u64)>,
}

/// A sink that stopped doing its job, in a [`LogReport`].
///
/// ```
/// use nvitop::logger::{SinkFailure, SinkFailureKind};
/// let failure = SinkFailure::new("csv:gpu.csv", SinkFailureKind::Hung, 12);
/// assert_eq!(failure.to_string(), "csv:gpu.csv hung (did not answer by the flush or close deadline), 12 rows lost");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkFailure {
    /// The sink's `describe()`.
    pub sink: String,
    /// What went wrong.
    pub kind: SinkFailureKind,
    /// Rows this sink did not write (the others wrote them).
    pub rows_lost: u64,
}

impl SinkFailure {
    /// A failure of `sink`.
    ///
    /// ```
    /// use nvitop::logger::{SinkFailure, SinkFailureKind};
    /// assert_eq!(SinkFailure::new("memory", SinkFailureKind::FellBehind, 3).rows_lost, 3);
    /// ```
    #[must_use]
    pub fn new(sink: impl Into<String>, kind: SinkFailureKind, rows_lost: u64) -> Self {
        Self {
            sink: sink.into(),
            kind,
            rows_lost,
        }
    }
}

/// How a sink failed.
///
/// ```
/// use nvitop::logger::SinkFailureKind;
/// assert_eq!(SinkFailureKind::Panicked("in write: boom".into()).to_string(), "panicked in write: boom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkFailureKind {
    /// A call into the sink panicked (`in write: <message>`); it was given no more rows.
    Panicked(String),
    /// The sink did not finish a flush or close by its deadline.
    Hung,
    /// The sink's queue was full: it writes slower than rows come.
    FellBehind,
}

impl std::fmt::Display for SinkFailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Panicked(message) => write!(f, "panicked {message}"),
            Self::Hung => f.write_str("hung (did not answer by the flush or close deadline)"),
            Self::FellBehind => f.write_str("fell behind (its queue was full)"),
        }
    }
}

impl std::fmt::Display for SinkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}, {} rows lost", self.sink, self.kind, self.rows_lost)
    }
}

impl LogReport {
    /// Whether everything was written: nothing dropped, refused or failed.
    /// Warnings about metrics a device cannot report do not count.
    ///
    /// ```
    /// use nvitop::LogReport;
    /// let mut report = LogReport::default();
    /// report.written = 10;
    /// assert!(report.is_clean());
    /// report.dropped = 1;
    /// assert!(!report.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.dropped == 0 && self.error_count == 0 && self.failed_sinks.is_empty() && self.rejected == 0
    }
}

/// `307 rows written, 0 dropped, 1 errors (first: ...)`, then any failed
/// sinks and refused scalars.
///
/// ```
/// let mut report = nvitop::LogReport::default();
/// report.written = 3;
/// report.dropped = 1;
/// assert_eq!(report.to_string(), "3 rows written, 1 dropped, 0 errors");
/// ```
impl std::fmt::Display for LogReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows written, {} dropped, {} errors",
            self.written, self.dropped, self.error_count
        )?;
        if let Some(first) = self.errors.first() {
            write!(f, " (first: {first})")?;
        }
        for failure in &self.failed_sinks {
            write!(f, "; sink {failure}")?;
        }
        if self.rejected > 0 {
            write!(
                f,
                "; {} scalars refused (empty tag or longer than {MAX_SCALAR_TAG} bytes)",
                self.rejected
            )?;
        }
        Ok(())
    }
}

const NONE: u64 = 0;

/// The times a hook record carries.
#[derive(Debug, Clone, Copy, Default)]
struct Times {
    intra: StepTimes,
    inter: StepTimes,
    epoch_ms: Option<f64>,
    validation_ms: Option<f64>,
    span_ns: Option<(u64, u64)>,
    mfu: Option<(f64, f64)>,
}

/// Hook state kept in atomics so hooks take `&self` and never lock.
/// Times are nanoseconds since the logger's origin plus one (0 = unset).
#[derive(Debug, Default)]
struct Clocks {
    batch_start: AtomicU64,
    batch_end: AtomicU64,
    epoch_start: AtomicU64,
    validation_start: AtomicU64,
    /// The current epoch, valid once `has_epoch` is set (a flag rather
    /// than a sentinel value, so every `u64` is a valid epoch).
    epoch: AtomicU64,
    has_epoch: AtomicBool,
    step: AtomicU64,
    /// Step times of the steps since the last logged one (`log_every_n_steps`).
    intra: Window,
    inter: Window,
}

/// Step times folded between two logged steps: sum, maximum and count, in
/// nanoseconds, in atomics (the hooks never lock).
#[derive(Debug, Default)]
struct Window {
    sum_ns: AtomicU64,
    max_ns: AtomicU64,
    count: AtomicU64,
}

impl Window {
    fn add(&self, ns: u64) {
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Mean and maximum since the last take, in milliseconds; starts a new window.
    fn take(&self) -> StepTimes {
        let count = self.count.swap(0, Ordering::Relaxed);
        let sum = self.sum_ns.swap(0, Ordering::Relaxed);
        let max = self.max_ns.swap(0, Ordering::Relaxed);
        if count == 0 {
            return StepTimes::default();
        }
        StepTimes {
            mean_ms: Some(sum as f64 / count as f64 / 1e6),
            max_ms: Some(max as f64 / 1e6),
        }
    }

    fn clear(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.sum_ns.store(0, Ordering::Relaxed);
        self.max_ns.store(0, Ordering::Relaxed);
    }
}

impl Clocks {
    fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
        self.has_epoch.store(true, Ordering::Release);
    }
}

/// Logs GPU statistics from a training loop's hooks.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::GpuStatsLogger;
/// use nvitop::backend::sim::SimBackend;
/// use nvitop::sink::MemorySink;
///
/// let sink = MemorySink::new();
/// let rows = sink.handle();
/// let logger = GpuStatsLogger::builder(&[0])
///     .backend(Arc::new(SimBackend::default_machine()))
///     .sink(Box::new(sink))
///     .intra_step_time(true)
///     .build()?;
/// logger.on_train_start();
/// for step in 0..3 {
///     let _step = logger.step(step); // on_train_batch_start now, on_train_batch_end when dropped
///     // ... forward, backward, optimizer step ...
/// }
/// let report = logger.close();
/// assert_eq!(report.written, 6);
/// assert!(rows.records()[1].get("gpu_id: 0/utilization.gpu (%)").is_some());
/// # Ok::<(), nvitop::Error>(())
/// ```
pub struct GpuStatsLogger {
    sampler: Arc<Sampler>,
    sender: Option<Sender<Message>>,
    options: LoggerOptions,
    origin: Instant,
    clocks: Clocks,
    dropped: Arc<AtomicU64>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// The sink thread's final report.
    done: crossbeam_channel::Receiver<LogReport>,
    keys: Vec<String>,
    rejected: Arc<AtomicU64>,
    scalar_batch: AtomicU64,
    every_n_steps: u64,
    sink_timeout: Duration,
    warnings: Vec<String>,
    csv: Option<std::path::PathBuf>,
    tensorboard: Option<std::path::PathBuf>,
    /// The MFU keys are on (`model_flops_per_step`).
    mfu: bool,
    /// Model FLOPs of each step from now on, as `f64` bits (`set_step_flops`).
    step_flops: AtomicU64,
    /// The sink thread publishes a training status record: validation's
    /// start and end are sent for its phase.
    publishes_status: bool,
}

impl std::fmt::Debug for GpuStatsLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuStatsLogger")
            .field("options", &self.options)
            .field("keys", &self.keys.len())
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl GpuStatsLogger {
    /// A ready logger for CUDA devices `cuda_indices` (the training
    /// framework's `cuda:N`, as in Lightning's and Keras's loggers), writing
    /// TensorBoard files under `runs/<Mon>DD_HH-MM-SS_<host>`
    /// (`NVITOP_LOGDIR` replaces `runs`) with nvitop's default metrics.
    ///
    /// CUDA ordinals count the GPUs `CUDA_VISIBLE_DEVICES` leaves visible:
    /// with `CUDA_VISIBLE_DEVICES=4,5` (a SLURM or Kubernetes job given GPUs
    /// 4 and 5), `new(&[0])` logs physical GPU 4, under the key nvitop uses
    /// for it, `gpu_id: 0 (physical index: 4)/...`. Without the variable,
    /// ordinals are physical indices and keys are `gpu_id: N/...`. For
    /// physical indices whatever the variable says, use
    /// [`builder_for_physical_indices`](Self::builder_for_physical_indices).
    ///
    /// # Errors
    /// No driver, an ordinal `CUDA_VISIBLE_DEVICES` does not provide, or a
    /// run directory that cannot be created.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::set_var("NVITOP_LOGDIR", dir.path()); std::env::remove_var("CUDA_VISIBLE_DEVICES") };
    /// // The default backend (here the simulator) and TensorBoard files under
    /// // $NVITOP_LOGDIR (default `runs`).
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// let logger = GpuStatsLogger::new(&[0, 2]).unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 2/utilization.gpu (%)".to_owned()));
    /// drop(logger);
    /// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1); // one run directory
    /// ```
    pub fn new(cuda_indices: &[u32]) -> Result<Self> {
        Self::builder(cuda_indices).build()
    }

    /// A builder for CUDA devices `cuda_indices` (see [`new`](Self::new) for
    /// what the ordinals and keys are).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", "2,3") };
    /// // With CUDA_VISIBLE_DEVICES=2,3, `cuda:1` is physical GPU 3.
    /// let logger = GpuStatsLogger::builder(&[1])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 1 (physical index: 3)/utilization.gpu (%)".to_owned()));
    /// // `cuda:2` does not exist under that variable.
    /// assert!(GpuStatsLogger::builder(&[2]).backend(Arc::new(SimBackend::default_machine())).build().is_err());
    /// ```
    pub fn builder(cuda_indices: &[u32]) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Cuda(cuda_indices.to_vec()))
    }

    /// The same as [`builder`](Self::builder), under its older, explicit name.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::remove_var("CUDA_VISIBLE_DEVICES") };
    /// let logger = GpuStatsLogger::builder_for_cuda_devices(&[2])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()?;
    /// assert!(logger.keys().contains(&"gpu_id: 2/utilization.gpu (%)".to_owned()));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn builder_for_cuda_devices(cuda_indices: &[u32]) -> GpuStatsLoggerBuilder {
        Self::builder(cuda_indices)
    }

    /// A builder for physical GPUs `indices` as the driver numbers them
    /// (`nvidia-smi`'s indices), whatever `CUDA_VISIBLE_DEVICES` says; keys
    /// `gpu_id: <index>/...`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", "2") };
    /// let logger = GpuStatsLogger::builder_for_physical_indices(&[1, 3])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 3/memory.used (MiB)".to_owned()));
    /// let absent = GpuStatsLogger::builder_for_physical_indices(&[7]);
    /// assert!(absent.backend(Arc::new(SimBackend::default_machine())).build().is_err());
    /// ```
    pub fn builder_for_physical_indices(indices: &[u32]) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Physical(indices.to_vec()))
    }

    /// A builder for explicit devices (keys `gpu_id: <display index>/...`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, GpuStatsLogger, backend::{Backend, sim::SimBackend}, sink::MemorySink};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let mig = Device::new_in(&backend, 1).unwrap().mig_devices().remove(0).into_device();
    /// let logger = GpuStatsLogger::builder_for_devices(vec![mig])
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 1:0/memory.used (MiB)".to_owned()));
    /// ```
    pub fn builder_for_devices(devices: Vec<crate::Device>) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Devices(devices))
    }

    /// Every key this logger can write, in column order.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// let keys = logger.keys();
    /// assert!(keys.contains(&"gpu_id: 0/utilization.gpu (%)".to_owned()));
    /// assert!(keys.contains(&"batch_time/intra_step (ms)".to_owned()));
    /// assert!(!keys.iter().any(|k| k.contains("temperature"))); // off by default
    /// ```
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The sampler feeding this logger.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// assert_eq!(logger.sampler().devices().len(), 1);
    /// assert_eq!(logger.sampler().interval(), nvitop::sampler::DEFAULT_INTERVAL);
    /// ```
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.sampler
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64 + 1
    }

    fn since_ms(then: u64, now: u64) -> Option<f64> {
        Self::since_ns(then, now).map(|ns| ns as f64 / 1e6)
    }

    fn since_ns(then: u64, now: u64) -> Option<u64> {
        (then != NONE && now >= then).then(|| now - then)
    }

    fn epoch(&self) -> Option<u64> {
        self.clocks
            .has_epoch
            .load(Ordering::Acquire)
            .then(|| self.clocks.epoch.load(Ordering::Relaxed))
    }

    fn wall_time() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    fn send(&self, event: HookEvent, step: u64, times: Times) {
        let Some(sender) = &self.sender else { return };
        let record = HookRecord {
            event,
            step,
            epoch: self.epoch(),
            wall_time: Self::wall_time(),
            seq: self.sampler.latest_seq(),
            intra_step: times.intra,
            inter_step: times.inter,
            epoch_ms: times.epoch_ms,
            validation_ms: times.validation_ms,
            span_ns: times.span_ns,
            mfu: times.mfu,
        };
        match sender.try_send(Message::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The step times of a logged row: this step's `measured` time folded
    /// with the skipped steps' in `window`. Every step logged (the default)
    /// touches no window at all.
    fn fold(&self, window: &Window, measured: Option<u64>) -> StepTimes {
        if self.every_n_steps == 1 {
            return StepTimes::from_ns(measured);
        }
        if let Some(ns) = measured {
            window.add(ns);
        }
        window.take()
    }

    /// Whether `step` gets a row (`log_every_n_steps`): the last step of
    /// each window of `n`, so the row stands for steps `step + 1 - n ..= step`.
    fn logs(&self, step: u64) -> bool {
        self.every_n_steps == 1 || step.wrapping_add(1).is_multiple_of(self.every_n_steps)
    }

    /// Logs one scalar of your own (a loss, a learning rate) at `step`,
    /// into the same TensorBoard run and CSV file as the GPU statistics.
    ///
    /// Same cost as a hook: the tag is copied into a fixed-size record and
    /// `try_send`: no allocation, no lock, no I/O, never blocks; when the
    /// channel is full the scalar is dropped and counted in
    /// [`LogReport::dropped`]. A tag that is empty or longer than
    /// [`MAX_SCALAR_TAG`] bytes is refused and counted in
    /// [`LogReport::rejected`]. Tags declared with
    /// [`GpuStatsLoggerBuilder::scalars`] get CSV columns of their own (in a
    /// row of kind `scalar`); others go to the CSV's side file
    /// `<name>.scalars.csv` (`wall_time,step,tag,value`). Not affected by
    /// `log_every_n_steps`: you choose when to call it.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.log_scalar("train/loss", 0.25, 10);
    /// logger.close();
    /// let row = &rows.records()[0];
    /// assert_eq!((row.step, row.get("train/loss")), (10, Some(0.25)));
    /// assert_eq!(row.kind, nvitop::sink::RecordKind::Scalar);
    /// ```
    pub fn log_scalar(&self, tag: &str, value: f64, step: u64) {
        self.log_scalars(&[(tag, value)], step);
    }

    /// Logs several scalars at `step` as one row (see [`log_scalar`](Self::log_scalar)).
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.log_scalars(&[("train/loss", 0.5), ("train/lr", 1e-3)], 3);
    /// logger.close();
    /// let rows = rows.records();
    /// assert_eq!(rows.len(), 1); // one row for the batch
    /// assert_eq!(rows[0].get("train/lr"), Some(1e-3));
    /// ```
    pub fn log_scalars(&self, scalars: &[(&str, f64)], step: u64) {
        let Some(sender) = &self.sender else { return };
        let valid = |tag: &str| !tag.is_empty() && tag.len() <= MAX_SCALAR_TAG;
        let Some(last) = scalars.iter().rposition(|(tag, _)| valid(tag)) else {
            self.rejected.fetch_add(scalars.len() as u64, Ordering::Relaxed);
            return;
        };
        let batch = self.scalar_batch.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch();
        let wall_time = Self::wall_time();
        for (i, (tag, value)) in scalars.iter().enumerate() {
            if !valid(tag) {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut record = ScalarRecord {
                tag: [0; MAX_SCALAR_TAG],
                tag_len: 0,
                value: *value,
                step,
                epoch,
                wall_time,
                batch,
                last: i == last,
            };
            record.tag[..tag.len()].copy_from_slice(tag.as_bytes());
            // `valid` bounds the length by MAX_SCALAR_TAG, which fits a u8.
            record.tag_len = u8::try_from(tag.len()).unwrap_or(0);
            if sender.try_send(Message::Scalar(record)).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Metrics the devices cannot report, found at build (one line each,
    /// with the reason); also in every [`LogReport::warnings`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// // GPU 1 of the default simulated machine is an A100 in MIG mode.
    /// let logger = GpuStatsLogger::builder_for_physical_indices(&[0, 1])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()?;
    /// assert!(logger.warnings().iter().any(|w| w.starts_with("gpu_id: 1/utilization.gpu (%)") && w.contains("MIG mode")));
    /// assert!(!logger.warnings().iter().any(|w| w.starts_with("gpu_id: 0/")));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The CSV file this logger writes, if any (its side file for
    /// undeclared scalars is [`csv_side_path`](crate::sink::csv_side_path) of it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(dir.path().join("gpu.csv"))
    ///     .build()?;
    /// assert_eq!(logger.csv_path(), Some(dir.path().join("gpu.csv").as_path()));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn csv_path(&self) -> Option<&std::path::Path> {
        self.csv.as_deref()
    }

    /// The TensorBoard run directory this logger writes, if any (also the
    /// default one under `runs/` when no sink was chosen).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .tensorboard(dir.path().join("run1"))
    ///     .build()?;
    /// assert_eq!(logger.tensorboard_dir(), Some(dir.path().join("run1").as_path()));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn tensorboard_dir(&self) -> Option<&std::path::Path> {
        self.tensorboard.as_deref()
    }

    /// Call once before training.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.on_train_start();
    /// logger.on_train_batch_start(0);
    /// logger.on_train_batch_end(0);
    /// assert_eq!(logger.close().written, 2);
    /// assert!(rows.records().iter().all(|r| r.step == 0));
    /// ```
    pub fn on_train_start(&self) {
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
        self.clocks.batch_start.store(NONE, Ordering::Relaxed);
        self.clocks.intra.clear();
        self.clocks.inter.clear();
    }

    /// Call at the start of an epoch: step timers restart, so the time
    /// between epochs is not counted as an inter-step time.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.on_train_epoch_start(4);
    /// drop(logger.step(100));
    /// logger.close();
    /// assert!(rows.records().iter().all(|r| r.epoch == Some(4)));
    /// ```
    pub fn on_train_epoch_start(&self, epoch: u64) {
        self.clocks.set_epoch(epoch);
        self.clocks.epoch_start.store(self.now_ns(), Ordering::Relaxed);
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
        self.clocks.batch_start.store(NONE, Ordering::Relaxed);
    }

    /// Call before each batch: logs GPU statistics (and the inter-step time
    /// from the second batch of an epoch on).
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// for step in 0..3 {
    ///     logger.on_train_batch_start(step);
    ///     logger.on_train_batch_end(step);
    /// }
    /// logger.close();
    /// let inter = rows.records().iter().filter(|r| r.get("batch_time/inter_step (ms)").is_some()).count();
    /// assert_eq!(inter, 2); // from the second batch on
    /// ```
    pub fn on_train_batch_start(&self, step: u64) {
        let now = self.now_ns();
        self.clocks.step.store(step, Ordering::Relaxed);
        self.clocks.batch_start.store(now, Ordering::Relaxed);
        let measured = if self.options.inter_step_time {
            Self::since_ns(self.clocks.batch_end.load(Ordering::Relaxed), now)
        } else {
            None
        };
        if self.logs(step) {
            let inter = self.fold(&self.clocks.inter, measured);
            self.send(
                HookEvent::BatchStart,
                step,
                Times {
                    inter,
                    ..Times::default()
                },
            );
        } else if let Some(ns) = measured {
            // A skipped step: its time waits in the window for the next logged row.
            self.clocks.inter.add(ns);
        }
    }

    /// Call after each batch: logs GPU statistics and the intra-step time.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.on_train_batch_start(0);
    /// std::thread::sleep(std::time::Duration::from_millis(5));
    /// logger.on_train_batch_end(0);
    /// logger.close();
    /// let intra_ms = rows.records()[1].get("batch_time/intra_step (ms)").unwrap();
    /// assert!(intra_ms >= 5.0, "{intra_ms}");
    /// ```
    pub fn on_train_batch_end(&self, step: u64) {
        let now = self.now_ns();
        // The epoch-end and validation rows carry the last step seen; a
        // caller that reports only batch ends (burn's metric events) must
        // move it too.
        self.clocks.step.store(step, Ordering::Relaxed);
        let previous_end = if self.mfu {
            self.clocks.batch_end.swap(now, Ordering::Relaxed)
        } else {
            self.clocks.batch_end.store(now, Ordering::Relaxed);
            NONE
        };
        let started = self.clocks.batch_start.load(Ordering::Relaxed);
        let measured = if self.options.intra_step_time {
            Self::since_ns(started, now)
        } else {
            None
        };
        if self.logs(step) {
            let intra = self.fold(&self.clocks.intra, measured);
            // The step's span, for its energy (the sink thread measures it).
            let span_ns = (self.options.energy && started != NONE && started <= now).then_some((started, now));
            // MFU over the whole step period, data loading included: from the
            // previous batch end (same epoch, no validation between), else
            // from this batch's start.
            let mfu = if self.mfu {
                let from = if previous_end == NONE { started } else { previous_end };
                Self::since_ns(from, now)
                    .map(|ns| (ns as f64 / 1e9, f64::from_bits(self.step_flops.load(Ordering::Relaxed))))
            } else {
                None
            };
            self.send(
                HookEvent::BatchEnd,
                step,
                Times {
                    intra,
                    span_ns,
                    mfu,
                    ..Times::default()
                },
            );
        } else if let Some(ns) = measured {
            // A skipped step: its time waits in the window for the next logged row.
            self.clocks.intra.add(ns);
        }
    }

    /// Sets the model FLOPs of each step from now on (a batch whose size
    /// varies): one atomic store, nothing else. Needs the MFU keys, which
    /// [`GpuStatsLoggerBuilder::model_flops_per_step`] turns on; without
    /// them it does nothing.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let sink = MemorySink::new();
    /// let rows = sink.handle();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(sink))
    ///     .model_flops_per_step(1e12)
    ///     .build()?;
    /// logger.set_step_flops(4e12); // this batch is four times larger
    /// logger.on_train_batch_start(0);
    /// logger.on_train_batch_end(0);
    /// logger.close();
    /// assert!(rows.records()[1].get("throughput (TFLOP/s)").unwrap() > 0.0);
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn set_step_flops(&self, flops: f64) {
        self.step_flops.store(flops.to_bits(), Ordering::Relaxed);
    }

    /// Call at the end of an epoch: logs the epoch time (if enabled) and
    /// flushes the sinks on the sink thread.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.on_train_epoch_start(0);
    /// drop(logger.step(0));
    /// logger.on_train_epoch_end(0);
    /// logger.close();
    /// assert!(rows.records().iter().any(|r| r.get("epoch_time/train (ms)").is_some()));
    /// ```
    pub fn on_train_epoch_end(&self, epoch: u64) {
        self.clocks.set_epoch(epoch);
        let now = self.now_ns();
        let epoch_ms = Self::since_ms(self.clocks.epoch_start.load(Ordering::Relaxed), now);
        self.send(
            HookEvent::EpochEnd,
            self.clocks.step.load(Ordering::Relaxed),
            Times {
                epoch_ms,
                ..Times::default()
            },
        );
    }

    /// Call when validation starts: the pause is not counted as an
    /// inter-step time, and the training status record (when published,
    /// see [`GpuStatsLoggerBuilder::training_status`]) says `validation`
    /// until [`on_validation_end`](Self::on_validation_end) or the next
    /// training step. Makes no row. Same cost as any hook: a `try_send` of
    /// a fixed-size record, nothing else.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.on_validation_start();
    /// // ... validation loop ...
    /// logger.on_validation_end();
    /// logger.close();
    /// assert_eq!(rows.len(), 1); // the validation end's row only
    /// assert!(rows.records()[0].get("epoch_time/validation (ms)").unwrap() >= 0.0);
    /// ```
    pub fn on_validation_start(&self) {
        self.clocks.validation_start.store(self.now_ns(), Ordering::Relaxed);
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
        if self.publishes_status {
            self.send(
                HookEvent::ValidationStart,
                self.clocks.step.load(Ordering::Relaxed),
                Times::default(),
            );
        }
    }

    /// Call when validation ends: logs the validation time (if enabled);
    /// the training status record says `train` again.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// logger.on_validation_start();
    /// logger.on_validation_end();
    /// logger.on_validation_end(); // without a matching start: nothing to time
    /// logger.close();
    /// assert_eq!(rows.records().iter().filter(|r| r.get("epoch_time/validation (ms)").is_some()).count(), 1);
    /// ```
    pub fn on_validation_end(&self) {
        let now = self.now_ns();
        let validation_ms = Self::since_ms(self.clocks.validation_start.load(Ordering::Relaxed), now);
        self.clocks.validation_start.store(NONE, Ordering::Relaxed);
        // With epoch_time off the record carries nothing for a row (the
        // sink thread writes none); it still ends the status's validation.
        if self.options.epoch_time || self.publishes_status {
            self.send(
                HookEvent::ValidationEnd,
                self.clocks.step.load(Ordering::Relaxed),
                Times {
                    validation_ms,
                    ..Times::default()
                },
            );
        }
    }

    /// Call after training: flushes the sinks on the sink thread.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// drop(logger.step(0));
    /// logger.on_train_end(); // flushes the sinks on the sink thread
    /// assert!(logger.flush().is_clean());
    /// assert!(rows.flush_count() >= 1);
    /// ```
    pub fn on_train_end(&self) {
        self.send(
            HookEvent::TrainEnd,
            self.clocks.step.load(Ordering::Relaxed),
            Times::default(),
        );
    }

    /// `on_train_batch_start(step)` now and `on_train_batch_end(step)` when
    /// the guard is dropped.
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// for step in 0..2 {
    ///     let _guard = logger.step(step);
    ///     // ... forward, backward, optimizer step ...
    /// } // batch end logged here
    /// assert_eq!(logger.close().written, 4);
    /// ```
    pub fn step(&self, step: u64) -> StepGuard<'_> {
        self.step_with_sync(step, ())
    }

    /// Like [`step`](Self::step), but when the guard is dropped it first
    /// waits for the device (`sync`), then calls `on_train_batch_end(step)`.
    ///
    /// GPU frameworks queue work and return at once, so without a sync the
    /// intra-step time measures how fast the step was *queued*. `sync` is
    /// any [`StepSync`]: a closure calling the framework's synchronise
    /// function, or the types of the `nvitop-tch` and `nvitop-burn`
    /// adapters (their `synced_step` is this method). It runs on the
    /// training thread, where waiting for the device is what a synced step
    /// is for; the hook itself still never blocks.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::{AtomicU32, Ordering};
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .build()?;
    /// // e.g. `|| stream.synchronize()` with your framework's stream or device
    /// let syncs = AtomicU32::new(0);
    /// let synchronize = || {
    ///     syncs.fetch_add(1, Ordering::Relaxed);
    /// };
    /// for step in 0..2 {
    ///     let _step = logger.step_with_sync(step, &synchronize);
    ///     // ... queue forward, backward, optimizer step ...
    /// } // synchronize(), then batch end
    /// assert_eq!(syncs.load(Ordering::Relaxed), 2);
    /// assert_eq!(logger.close().written, 4);
    /// assert!(rows.records()[1].get("batch_time/intra_step (ms)").is_some());
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    pub fn step_with_sync<S: StepSync>(&self, step: u64, sync: S) -> SyncedStep<'_, S> {
        self.on_train_batch_start(step);
        SyncedStep {
            logger: self,
            step,
            sync,
        }
    }

    /// Waits until everything sent so far is written and flushed; returns
    /// the report so far. Not for the hot path: it waits for the sink
    /// thread, at most the sink timeout
    /// ([`GpuStatsLoggerBuilder::sink_timeout`], default 10 s); a sink that
    /// has not flushed by then is reported hung in [`LogReport::failed_sinks`].
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// drop(logger.step(0));
    /// let report = logger.flush();
    /// assert_eq!(report.written, 2);
    /// assert_eq!(rows.len(), 2); // already in the sink
    /// ```
    pub fn flush(&self) -> LogReport {
        let deadline = Instant::now() + self.sink_timeout;
        self.flush_until(deadline, false)
    }

    fn flush_until(&self, deadline: Instant, sync: bool) -> LogReport {
        let Some(sender) = &self.sender else {
            return self.fallback_report(false);
        };
        let (reply, answer) = crossbeam_channel::bounded(1);
        let timeout = deadline.saturating_duration_since(Instant::now());
        // Never a blocking send: a full channel waits at most until the deadline.
        if sender
            .send_timeout(Message::Flush { reply, deadline, sync }, timeout)
            .is_err()
        {
            return self.fallback_report(true);
        }
        answer
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| self.fallback_report(true))
    }

    /// The report when the sink thread did not answer: what the training
    /// thread knows, and the sink thread itself named as hung when it was waited for.
    fn fallback_report(&self, hung: bool) -> LogReport {
        let mut report = LogReport {
            dropped: self.dropped.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            warnings: self.warnings.clone(),
            ..LogReport::default()
        };
        if hung {
            report
                .failed_sinks
                .push(SinkFailure::new("the logger's sink thread", SinkFailureKind::Hung, 0));
        }
        report
    }

    /// Writes what is pending, closes the sinks and stops the threads;
    /// returns the final report. Returns within the sink timeout
    /// ([`GpuStatsLoggerBuilder::sink_timeout`], default 10 s) even when a
    /// sink hangs: that sink is named in [`LogReport::failed_sinks`] and its
    /// thread is left behind. Also done on drop (the report then goes to the
    /// log when it is not clean).
    ///
    /// ```
    /// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
    /// drop(logger.step(0));
    /// let report = logger.close();
    /// assert_eq!(report.to_string(), "2 rows written, 0 dropped, 0 errors");
    /// assert!(rows.is_closed());
    /// ```
    pub fn close(mut self) -> LogReport {
        self.shutdown()
    }

    fn shutdown(&mut self) -> LogReport {
        let deadline = Instant::now() + self.sink_timeout;
        let Some(sender) = self.sender.take() else {
            return self.fallback_report(false);
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        // If even the close message cannot be queued in time, dropping the
        // sender still stops the worker once it drains the channel.
        let _ = sender.send_timeout(Message::Close { deadline }, timeout);
        drop(sender);
        let report = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(50))
            .unwrap_or_else(|_| self.fallback_report(true));
        let handle = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle
            && handle.is_finished()
        {
            let _ = handle.join();
        }
        report
    }
}

impl Drop for GpuStatsLogger {
    fn drop(&mut self) {
        let report = self.shutdown();
        if !report.is_clean() {
            log::warn!("GPU stats logger: {report}");
        }
    }
}

/// Ends the step when dropped (see [`GpuStatsLogger::step`]): a
/// [`SyncedStep`] with nothing to wait for.
///
/// ```
/// # let (logger, rows) = nvitop::logger::doc_support::memory_logger();
/// {
///     let _guard = logger.step(7); // on_train_batch_start(7)
/// } // on_train_batch_end(7)
/// logger.close();
/// assert!(rows.records().iter().all(|r| r.step == 7));
/// ```
pub type StepGuard<'a> = SyncedStep<'a, ()>;

/// Waits for the work a training step queued on a device, before the step
/// clock stops (see [`GpuStatsLogger::step_with_sync`]). Any `Fn()` is one.
///
/// ```
/// use nvitop::logger::StepSync;
///
/// /// A framework's device handle (stand-in).
/// struct MyDevice;
/// impl MyDevice {
///     fn synchronize(&self) -> Result<(), String> { Ok(()) }
/// }
///
/// struct Sync<'a>(&'a MyDevice);
/// impl StepSync for Sync<'_> {
///     fn sync(&self) {
///         // A failed sync must not stop training: report it and go on.
///         if let Err(err) = self.0.synchronize() {
///             log::warn!("device sync failed: {err}");
///         }
///     }
/// }
/// Sync(&MyDevice).sync();
/// (|| ()).sync(); // a closure is one too
/// ```
pub trait StepSync {
    /// Waits until the work queued so far has finished. Must not panic: a
    /// failure is for the implementation to report (a `log` warning) and
    /// the step ends anyway.
    fn sync(&self);
}

impl<F: Fn()> StepSync for F {
    fn sync(&self) {
        self();
    }
}

/// Nothing to wait for: the sync of a plain [`StepGuard`].
impl StepSync for () {
    fn sync(&self) {}
}

/// Returned by [`GpuStatsLogger::step_with_sync`]: when dropped, syncs the
/// device, then calls `on_train_batch_end` with the step it started.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
/// # let logger = GpuStatsLogger::builder(&[0])
/// #     .backend(Arc::new(SimBackend::default_machine()))
/// #     .sink(Box::new(MemorySink::new()))
/// #     .build()?;
/// let guard = logger.step_with_sync(3, || ());
/// assert_eq!(guard.step(), 3);
/// drop(guard); // sync, then on_train_batch_end(3)
/// # Ok::<(), nvitop::Error>(())
/// ```
pub struct SyncedStep<'a, S: StepSync> {
    logger: &'a GpuStatsLogger,
    step: u64,
    sync: S,
}

impl<S: StepSync> SyncedStep<'_, S> {
    /// The step this guard will end.
    #[must_use]
    pub fn step(&self) -> u64 {
        self.step
    }
}

impl<S: StepSync> std::fmt::Debug for SyncedStep<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncedStep")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<S: StepSync> Drop for SyncedStep<'_, S> {
    fn drop(&mut self) {
        self.sync.sync();
        self.logger.on_train_batch_end(self.step);
    }
}

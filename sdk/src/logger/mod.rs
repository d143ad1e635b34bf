//! `GpuStatsLogger`: step and epoch hooks for training loops that write GPU
//! statistics to TensorBoard and CSV, at a cost the loop cannot measure.
//!
//! A hook reads two clocks and one atomic (the sampler's newest sample
//! number), and `try_send`s a small `Copy` record into a bounded channel: no
//! driver call, no I/O, no allocation, no lock, no panic. When the channel
//! is full the record is counted as dropped. A sink thread looks the sample
//! up, builds the row and writes every sink. See `docs/METRICS.md` for the keys.

mod builder;
mod keys;
mod options;
mod record;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use builder::GpuStatsLoggerBuilder;
pub use options::LoggerOptions;

use crossbeam_channel::{Sender, TrySendError};
use record::{HookEvent, HookRecord, Message};

use crate::error::Result;
use crate::sampler::Sampler;

/// What the logger did: rows written, rows dropped because the channel was
/// full, and the I/O errors its sinks met.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
/// # let sink = MemorySink::new();
/// # let rows = sink.handle();
/// # let logger = GpuStatsLogger::builder(&[0])
/// #     .backend(Arc::new(SimBackend::default_machine()))
/// #     .sink(Box::new(sink))
/// #     .intra_step_time(true)
/// #     .inter_step_time(true)
/// #     .epoch_time(true)
/// #     .build()
/// #     .unwrap();
/// logger.on_train_start();
/// drop(logger.step(0));
/// let report: nvitop::LogReport = logger.close();
/// assert_eq!(report.written, 2); // batch start and batch end
/// assert!(report.is_clean());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogReport {
    /// Rows written to every sink.
    pub written: u64,
    /// Rows dropped because the sink thread fell behind.
    pub dropped: u64,
    /// Number of sink errors.
    pub error_count: u64,
    /// The first distinct error messages (each names the sink and the path).
    pub errors: Vec<String>,
}

impl LogReport {
    /// Whether everything was written.
    ///
    /// ```
    /// use nvitop::LogReport;
    /// assert!(LogReport { written: 10, ..LogReport::default() }.is_clean());
    /// assert!(!LogReport { written: 9, dropped: 1, ..LogReport::default() }.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.dropped == 0 && self.error_count == 0
    }
}

/// `307 rows written, 0 dropped, 1 errors (first: ...)`.
///
/// ```
/// let report = nvitop::LogReport { written: 3, dropped: 1, error_count: 0, errors: vec![] };
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
        Ok(())
    }
}

const NONE: u64 = 0;

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
    worker: Mutex<Option<JoinHandle<LogReport>>>,
    keys: Vec<String>,
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
    /// A ready logger for physical GPUs `indices`, writing TensorBoard files
    /// under `runs/<Mon>DD_HH-MM-SS_<host>` (`NVITOP_LOGDIR` replaces `runs`)
    /// with nvitop's default metrics.
    ///
    /// # Errors
    /// No driver, an index that does not exist, or a run directory that cannot be created.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::set_var("NVITOP_LOGDIR", dir.path()) };
    /// // The default backend (here the simulator) and TensorBoard files under
    /// // $NVITOP_LOGDIR (default `runs`).
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// let logger = GpuStatsLogger::new(&[0, 2]).unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 2/utilization.gpu (%)".to_owned()));
    /// drop(logger);
    /// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1); // one run directory
    /// ```
    pub fn new(indices: &[u32]) -> Result<Self> {
        Self::builder(indices).build()
    }

    /// A builder for physical GPUs `indices` (keys `gpu_id: <index>/...`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[1, 3])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 3/memory.used (MiB)".to_owned()));
    /// assert!(GpuStatsLogger::builder(&[7]).backend(Arc::new(SimBackend::default_machine())).build().is_err());
    /// ```
    pub fn builder(indices: &[u32]) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Physical(indices.to_vec()))
    }

    /// A builder for CUDA ordinals under `CUDA_VISIBLE_DEVICES` (keys
    /// `gpu_id: <cuda index> (physical index: <index>)` where they differ, as nvitop does).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", "2,3") };
    /// // With CUDA_VISIBLE_DEVICES=2,3, `cuda:1` is physical GPU 3.
    /// let logger = GpuStatsLogger::builder_for_cuda_devices(&[1])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 1 (physical index: 3)/utilization.gpu (%)".to_owned()));
    /// ```
    pub fn builder_for_cuda_devices(cuda_indices: &[u32]) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Cuda(cuda_indices.to_vec()))
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
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
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
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
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
        (then != NONE && now >= then).then(|| (now - then) as f64 / 1e6)
    }

    fn epoch(&self) -> Option<u64> {
        self.clocks
            .has_epoch
            .load(Ordering::Acquire)
            .then(|| self.clocks.epoch.load(Ordering::Relaxed))
    }

    fn send(&self, event: HookEvent, step: u64, times: (Option<f64>, Option<f64>, Option<f64>, Option<f64>)) {
        let Some(sender) = &self.sender else { return };
        let record = HookRecord {
            event,
            step,
            epoch: self.epoch(),
            wall_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            seq: self.sampler.latest_seq(),
            intra_step_ms: times.0,
            inter_step_ms: times.1,
            epoch_seconds: times.2,
            validation_seconds: times.3,
        };
        match sender.try_send(Message::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Call once before training.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// logger.on_train_start();
    /// logger.on_train_batch_start(0);
    /// logger.on_train_batch_end(0);
    /// assert_eq!(logger.close().written, 2);
    /// assert!(rows.records().iter().all(|r| r.step == 0));
    /// ```
    pub fn on_train_start(&self) {
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
        self.clocks.batch_start.store(NONE, Ordering::Relaxed);
    }

    /// Call at the start of an epoch: step timers restart, so the time
    /// between epochs is not counted as an inter-step time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
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
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
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
        let inter = if self.options.inter_step_time {
            Self::since_ms(self.clocks.batch_end.load(Ordering::Relaxed), now)
        } else {
            None
        };
        self.send(HookEvent::BatchStart, step, (None, inter, None, None));
    }

    /// Call after each batch: logs GPU statistics and the intra-step time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
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
        self.clocks.batch_end.store(now, Ordering::Relaxed);
        let intra = if self.options.intra_step_time || self.options.energy {
            Self::since_ms(self.clocks.batch_start.load(Ordering::Relaxed), now)
        } else {
            None
        };
        self.send(HookEvent::BatchEnd, step, (intra, None, None, None));
    }

    /// Call at the end of an epoch: logs the epoch time (if enabled) and
    /// flushes the sinks on the sink thread.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// logger.on_train_epoch_start(0);
    /// drop(logger.step(0));
    /// logger.on_train_epoch_end(0);
    /// logger.close();
    /// assert!(rows.records().iter().any(|r| r.get("epoch_time/train (s)").is_some()));
    /// ```
    pub fn on_train_epoch_end(&self, epoch: u64) {
        self.clocks.set_epoch(epoch);
        let now = self.now_ns();
        let seconds = Self::since_ms(self.clocks.epoch_start.load(Ordering::Relaxed), now).map(|ms| ms / 1000.0);
        self.send(
            HookEvent::EpochEnd,
            self.clocks.step.load(Ordering::Relaxed),
            (None, None, seconds, None),
        );
    }

    /// Call when validation starts: the pause is not counted as an inter-step time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// logger.on_validation_start();
    /// // ... validation loop ...
    /// logger.on_validation_end();
    /// logger.close();
    /// assert!(rows.records()[0].get("epoch_time/validation (s)").unwrap() >= 0.0);
    /// ```
    pub fn on_validation_start(&self) {
        self.clocks.validation_start.store(self.now_ns(), Ordering::Relaxed);
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
    }

    /// Call when validation ends: logs the validation time (if enabled).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// logger.on_validation_start();
    /// logger.on_validation_end();
    /// logger.on_validation_end(); // without a matching start: nothing to time
    /// logger.close();
    /// assert_eq!(rows.records().iter().filter(|r| r.get("epoch_time/validation (s)").is_some()).count(), 1);
    /// ```
    pub fn on_validation_end(&self) {
        let now = self.now_ns();
        let seconds = Self::since_ms(self.clocks.validation_start.load(Ordering::Relaxed), now).map(|ms| ms / 1000.0);
        self.clocks.validation_start.store(NONE, Ordering::Relaxed);
        if self.options.epoch_time {
            self.send(
                HookEvent::ValidationEnd,
                self.clocks.step.load(Ordering::Relaxed),
                (None, None, None, seconds),
            );
        }
    }

    /// Call after training: flushes the sinks on the sink thread.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// drop(logger.step(0));
    /// logger.on_train_end(); // flushes the sinks on the sink thread
    /// assert!(logger.flush().is_clean());
    /// assert!(rows.flush_count() >= 1);
    /// ```
    pub fn on_train_end(&self) {
        self.send(
            HookEvent::TrainEnd,
            self.clocks.step.load(Ordering::Relaxed),
            (None, None, None, None),
        );
    }

    /// `on_train_batch_start(step)` now and `on_train_batch_end(step)` when
    /// the guard is dropped.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
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

    /// Waits until everything sent so far is written and flushed; returns the report so far.
    /// Not for the hot path: it waits for the sink thread.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// drop(logger.step(0));
    /// let report = logger.flush();
    /// assert_eq!(report.written, 2);
    /// assert_eq!(rows.len(), 2); // already in the sink
    /// ```
    pub fn flush(&self) -> LogReport {
        let Some(sender) = &self.sender else {
            return self.finished_report();
        };
        let (reply, answer) = crossbeam_channel::bounded(1);
        if sender.send(Message::Flush(reply)).is_err() {
            return self.finished_report();
        }
        answer
            .recv_timeout(Duration::from_mins(1))
            .unwrap_or_else(|_| LogReport {
                dropped: self.dropped.load(Ordering::Relaxed),
                ..LogReport::default()
            })
    }

    fn finished_report(&self) -> LogReport {
        LogReport {
            dropped: self.dropped.load(Ordering::Relaxed),
            ..LogReport::default()
        }
    }

    /// Writes what is pending, closes the sinks and stops the threads; returns the final report.
    /// Also done on drop (without the report).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// # let sink = MemorySink::new();
    /// # let rows = sink.handle();
    /// # let logger = GpuStatsLogger::builder(&[0])
    /// #     .backend(Arc::new(SimBackend::default_machine()))
    /// #     .sink(Box::new(sink))
    /// #     .intra_step_time(true)
    /// #     .inter_step_time(true)
    /// #     .epoch_time(true)
    /// #     .build()
    /// #     .unwrap();
    /// drop(logger.step(0));
    /// let report = logger.close();
    /// assert_eq!(report.to_string(), "2 rows written, 0 dropped, 0 errors");
    /// assert!(rows.is_closed());
    /// ```
    pub fn close(mut self) -> LogReport {
        self.shutdown()
    }

    fn shutdown(&mut self) -> LogReport {
        self.sender = None;
        let handle = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
        match handle.map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(_)) => {
                log::error!("the GPU stats sink thread panicked");
                self.finished_report()
            }
            None => self.finished_report(),
        }
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
/// # use std::sync::Arc;
/// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
/// # let sink = MemorySink::new();
/// # let rows = sink.handle();
/// # let logger = GpuStatsLogger::builder(&[0])
/// #     .backend(Arc::new(SimBackend::default_machine()))
/// #     .sink(Box::new(sink))
/// #     .intra_step_time(true)
/// #     .inter_step_time(true)
/// #     .epoch_time(true)
/// #     .build()
/// #     .unwrap();
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

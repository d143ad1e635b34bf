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

use std::sync::atomic::{AtomicU64, Ordering};
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
    epoch: AtomicU64,
    step: AtomicU64,
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
    pub fn new(indices: &[u32]) -> Result<Self> {
        Self::builder(indices).build()
    }

    /// A builder for physical GPUs `indices` (keys `gpu_id: <index>/...`).
    pub fn builder(indices: &[u32]) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Physical(indices.to_vec()))
    }

    /// A builder for CUDA ordinals under `CUDA_VISIBLE_DEVICES` (keys
    /// `gpu_id: <cuda index> (physical index: <index>)` where they differ, as nvitop does).
    pub fn builder_for_cuda_devices(cuda_indices: &[u32]) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Cuda(cuda_indices.to_vec()))
    }

    /// A builder for explicit devices (keys `gpu_id: <display index>/...`).
    pub fn builder_for_devices(devices: Vec<crate::Device>) -> GpuStatsLoggerBuilder {
        GpuStatsLoggerBuilder::new(builder::Selection::Devices(devices))
    }

    /// Every key this logger can write, in column order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The sampler feeding this logger.
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
        match self.clocks.epoch.load(Ordering::Relaxed) {
            0 => None,
            e => Some(e - 1),
        }
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
    pub fn on_train_start(&self) {
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
        self.clocks.batch_start.store(NONE, Ordering::Relaxed);
    }

    /// Call at the start of an epoch: step timers restart, so the time
    /// between epochs is not counted as an inter-step time.
    pub fn on_train_epoch_start(&self, epoch: u64) {
        self.clocks.epoch.store(epoch + 1, Ordering::Relaxed);
        self.clocks.epoch_start.store(self.now_ns(), Ordering::Relaxed);
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
        self.clocks.batch_start.store(NONE, Ordering::Relaxed);
    }

    /// Call before each batch: logs GPU statistics (and the inter-step time
    /// from the second batch of an epoch on).
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
    pub fn on_train_batch_end(&self, step: u64) {
        let now = self.now_ns();
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
    pub fn on_train_epoch_end(&self, epoch: u64) {
        self.clocks.epoch.store(epoch + 1, Ordering::Relaxed);
        let now = self.now_ns();
        let seconds = Self::since_ms(self.clocks.epoch_start.load(Ordering::Relaxed), now).map(|ms| ms / 1000.0);
        self.send(
            HookEvent::EpochEnd,
            self.clocks.step.load(Ordering::Relaxed),
            (None, None, seconds, None),
        );
    }

    /// Call when validation starts: the pause is not counted as an inter-step time.
    pub fn on_validation_start(&self) {
        self.clocks.validation_start.store(self.now_ns(), Ordering::Relaxed);
        self.clocks.batch_end.store(NONE, Ordering::Relaxed);
    }

    /// Call when validation ends: logs the validation time (if enabled).
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
    pub fn on_train_end(&self) {
        self.send(
            HookEvent::TrainEnd,
            self.clocks.step.load(Ordering::Relaxed),
            (None, None, None, None),
        );
    }

    /// `on_train_batch_start(step)` now and `on_train_batch_end(step)` when
    /// the guard is dropped.
    pub fn step(&self, step: u64) -> StepGuard<'_> {
        self.on_train_batch_start(step);
        StepGuard { logger: self, step }
    }

    /// Waits until everything sent so far is written and flushed; returns the report so far.
    /// Not for the hot path: it waits for the sink thread.
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

/// Ends the step when dropped (see [`GpuStatsLogger::step`]).
#[derive(Debug)]
pub struct StepGuard<'a> {
    logger: &'a GpuStatsLogger,
    step: u64,
}

impl Drop for StepGuard<'_> {
    fn drop(&mut self) {
        self.logger.on_train_batch_end(self.step);
    }
}

//! Where logged GPU statistics end up.
//!
//! A [`Sink`] receives [`LogRecord`]s — one row of scalars at a training
//! step — and persists them: [`CsvSink`] writes a CSV file,
//! [`TensorBoardSink`] writes a TensorBoard event file, and [`MemorySink`]
//! keeps them in memory for tests and embedding.
//!
//! Sinks run on a dedicated sink thread, never on the training thread, so they
//! may block on I/O. They never panic on I/O failure: every failure comes
//! back as a [`SinkError`] naming the path, and a later call may try again
//! (a full disk can be cleaned up while training goes on).
//!
//! The call order is: [`Sink::start`] once with every key that may ever
//! appear, then any number of [`Sink::write`] and [`Sink::flush`], then
//! [`Sink::close`].
//!
//! ```
//! use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
//!
//! let mut sink = MemorySink::new();
//! let records = sink.handle();
//! let keys = vec!["gpu0/utilization".to_owned(), "gpu0/memory_used".to_owned()];
//! sink.start(&keys)?;
//! sink.write(&LogRecord {
//!     wall_time: 1_700_000_000.0,
//!     step: 10,
//!     epoch: Some(1),
//!     kind: RecordKind::BatchEnd,
//!     keys: &keys,
//!     values: &[Some(87.0), None],
//! })?;
//! sink.close()?;
//! assert_eq!(records.records()[0].get("gpu0/utilization"), Some(87.0));
//! # Ok::<(), nvitop::sink::SinkError>(())
//! ```

// The docs here keep naming TensorBoard and PyTorch, proper nouns that
// `doc_markdown` mistakes for code.
#![allow(clippy::doc_markdown)]

use crate::snapshot::unix_now;
use std::io;
use std::path::PathBuf;

mod csv;
mod memory;
pub mod tensorboard;

pub use self::csv::{CsvSink, side_path as csv_side_path};
pub use self::memory::{MemoryRecords, MemorySink, OwnedRecord};
pub use self::tensorboard::{TensorBoardSink, default_log_parent, default_run_dir};

/// A destination for logged scalars.
///
/// Implementations are driven from one thread at a time (the sink thread),
/// hence `Send` but not `Sync`.
///
/// ```
/// use nvitop::sink::{LogRecord, Sink, SinkError, RecordKind};
///
/// // Prints the GPU temperature of each record.
/// struct PrintTemperature(Vec<String>);
/// impl Sink for PrintTemperature {
///     fn start(&mut self, keys: &[String]) -> Result<(), SinkError> {
///         self.0 = keys.iter().filter(|k| k.contains("temperature")).cloned().collect();
///         Ok(())
///     }
///     fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError> {
///         for (key, value) in record.present().filter(|(key, _)| self.0.iter().any(|k| k == key)) {
///             println!("step {}: {key} = {value}", record.step);
///         }
///         Ok(())
///     }
///     fn flush(&mut self) -> Result<(), SinkError> {
///         Ok(())
///     }
///     fn describe(&self) -> String {
///         "print".into()
///     }
/// }
///
/// # use std::sync::Arc;
/// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend};
/// let logger = GpuStatsLogger::builder(&[0])
///     .backend(Arc::new(SimBackend::default_machine()))
///     .temperature(true)
///     .sink(Box::new(PrintTemperature(Vec::new())))
///     .build()
///     .unwrap();
/// drop(logger.step(0));
/// assert_eq!(logger.close().written, 2);
/// ```
pub trait Sink: Send {
    /// Prepares the sink; called once, before any [`write`](Sink::write),
    /// with every scalar key that may ever appear, in column order.
    ///
    /// Tabular sinks use this to fix their header: a key that is not listed
    /// here cannot get a column later.
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("gpu.csv");
    /// # let keys = vec!["gpu0/temperature".to_owned()];
    /// let mut sink = CsvSink::create(&path).unwrap();
    /// sink.start(&keys).unwrap(); // writes the CSV header
    /// sink.flush().unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().trim_end().ends_with("gpu0/temperature"));
    /// ```
    fn start(&mut self, keys: &[String]) -> Result<(), SinkError>;

    /// Persists one record. May buffer; see [`flush`](Sink::flush).
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("gpu.csv");
    /// # let keys = vec!["gpu0/temperature".to_owned()];
    /// let mut sink = CsvSink::create(&path).unwrap();
    /// sink.start(&keys).unwrap();
    /// sink.write(&LogRecord { wall_time: 1.0, step: 9, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(70.0)] }).unwrap();
    /// sink.close().unwrap();
    /// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    /// ```
    fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError>;

    /// Hands everything buffered so far to the operating system, so another
    /// process (TensorBoard, `tail -f`) sees it and a killed training process
    /// loses nothing written before.
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("gpu.csv");
    /// # let keys = vec!["gpu0/temperature".to_owned()];
    /// let mut sink = CsvSink::create(&path).unwrap();
    /// sink.start(&keys).unwrap();
    /// sink.write(&LogRecord { wall_time: 1.0, step: 0, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(70.0)] }).unwrap();
    /// sink.flush().unwrap(); // another process (`tail -f`) sees the row now
    /// assert!(std::fs::read_to_string(&path).unwrap().contains(",70.0"));
    /// ```
    fn flush(&mut self) -> Result<(), SinkError>;

    /// Flushes and releases the sink. Later writes fail with
    /// [`SinkError::Closed`]; closing twice is harmless.
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("gpu.csv");
    /// # let keys = vec!["gpu0/temperature".to_owned()];
    /// let mut sink = CsvSink::create(&path).unwrap();
    /// sink.start(&keys).unwrap();
    /// sink.close().unwrap();
    /// sink.close().unwrap(); // harmless
    /// let row = LogRecord { wall_time: 1.0, step: 0, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(70.0)] };
    /// assert!(sink.write(&row).is_err());
    /// ```
    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()
    }

    /// Flushes and asks the operating system to put what was written on
    /// disk (`fsync`), so a node crash loses nothing written before. The
    /// logger calls it at epoch end and close only when asked to
    /// (`GpuStatsLoggerBuilder::sync_to_disk`); the default just flushes.
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("gpu.csv");
    /// # let keys = vec!["gpu0/temperature".to_owned()];
    /// let mut sink = CsvSink::create(&path).unwrap();
    /// sink.start(&keys).unwrap();
    /// sink.write(&LogRecord { step: 0, keys: &keys, values: &[Some(70.0)], ..LogRecord::default() }).unwrap();
    /// sink.sync().unwrap(); // on disk now, not only in the page cache
    /// assert!(std::fs::read_to_string(&path).unwrap().contains(",70.0"));
    /// ```
    fn sync(&mut self) -> Result<(), SinkError> {
        self.flush()
    }

    /// A short human-readable name for messages, such as
    /// `tensorboard:runs/Nov24_23-59-01_myhost`.
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("gpu.csv");
    /// # let keys = vec!["gpu0/temperature".to_owned()];
    /// let sink = CsvSink::create(&path).unwrap();
    /// assert_eq!(sink.describe(), format!("csv:{}", path.display()));
    /// ```
    fn describe(&self) -> String;
}

// Lets the logger hold a `Vec<Box<dyn Sink>>` and still pass each one where a
// `Sink` is expected.
impl<S: Sink + ?Sized> Sink for Box<S> {
    fn start(&mut self, keys: &[String]) -> Result<(), SinkError> {
        (**self).start(keys)
    }
    fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError> {
        (**self).write(record)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
    fn close(&mut self) -> Result<(), SinkError> {
        (**self).close()
    }
    fn sync(&mut self) -> Result<(), SinkError> {
        (**self).sync()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// One row of scalars, borrowed from the logger's buffers.
///
/// `values` is aligned with `keys`: `values[i]` belongs to `keys[i]`, and
/// `None` means "not measured this time" (a metric the device does not
/// support, or one sampled less often).
///
/// ```
/// use nvitop::sink::{LogRecord, RecordKind};
///
/// let keys = vec!["a".to_owned(), "b".to_owned()];
/// let record = LogRecord {
///     wall_time: 1_700_000_000.5,
///     step: 3,
///     epoch: None,
///     kind: RecordKind::BatchEnd,
///     keys: &keys,
///     values: &[None, Some(2.5)],
/// };
/// assert_eq!(record.present().collect::<Vec<_>>(), [("b", 2.5)]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LogRecord<'a> {
    /// When the values were taken, in seconds since the Unix epoch.
    pub wall_time: f64,
    /// The training step (global batch index) the values belong to.
    pub step: u64,
    /// The epoch, if the training loop reports epochs.
    pub epoch: Option<u64>,
    /// What produced the row (the CSV's `kind` column).
    pub kind: RecordKind,
    /// The scalar names, in column order.
    pub keys: &'a [String],
    /// The scalar values, aligned with `keys`; `None` = not measured.
    pub values: &'a [Option<f64>],
}

/// What produced a [`LogRecord`]: a hook or [`log_scalar`](crate::GpuStatsLogger::log_scalar).
///
/// ```
/// use nvitop::sink::RecordKind;
/// assert_eq!(RecordKind::BatchEnd.as_str(), "batch_end");
/// assert_eq!(RecordKind::default(), RecordKind::BatchEnd);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RecordKind {
    /// `on_train_batch_start`: GPU statistics and the inter-step time.
    BatchStart,
    /// `on_train_batch_end`: GPU statistics and the intra-step time.
    #[default]
    BatchEnd,
    /// `on_train_epoch_end`: the epoch time.
    EpochEnd,
    /// `on_validation_end`: the validation time.
    ValidationEnd,
    /// `on_train_end`.
    TrainEnd,
    /// Scalars of the user's own (`log_scalar`, `log_scalars`).
    Scalar,
}

impl RecordKind {
    /// The name written in the CSV's `kind` column.
    ///
    /// ```
    /// assert_eq!(nvitop::sink::RecordKind::ValidationEnd.as_str(), "validation_end");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BatchStart => "batch_start",
            Self::BatchEnd => "batch_end",
            Self::EpochEnd => "epoch_end",
            Self::ValidationEnd => "validation_end",
            Self::TrainEnd => "train_end",
            Self::Scalar => "scalar",
        }
    }
}

impl<'a> LogRecord<'a> {
    /// The `(key, value)` pairs that were measured, in key order.
    ///
    /// If `keys` and `values` differ in length the extra entries of the
    /// longer one are ignored.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, RecordKind};
    /// let keys = vec!["fan".to_owned(), "temperature".to_owned()];
    /// let record = LogRecord { wall_time: 0.0, step: 0, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[None, Some(64.0)] };
    /// let present: Vec<_> = record.present().collect();
    /// assert_eq!(present, [("temperature", 64.0)]);
    /// ```
    pub fn present(&self) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.keys
            .iter()
            .zip(self.values)
            .filter_map(|(key, value)| value.map(|v| (key.as_str(), v)))
    }
}

/// Returns `wall_time` if it is finite, else the current time.
///
/// Why: a NaN or infinite wall time makes TensorBoard's data server stop
/// reading the file at that event, and makes CSV rows unsortable.
pub(crate) fn sane_wall_time(wall_time: f64) -> f64 {
    if wall_time.is_finite() { wall_time } else { unix_now() }
}

/// Why a sink could not do what was asked.
///
/// ```
/// use nvitop::sink::{CsvSink, SinkError};
/// // A path under a regular file cannot be created.
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("file"), "").unwrap();
/// let err = CsvSink::create(dir.path().join("file/gpu.csv")).unwrap_err();
/// assert!(matches!(err, SinkError::Io { .. }));
/// assert!(err.to_string().contains("file"), "{err}");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Reading, writing or creating a file or directory failed.
    #[error(
        "could not {op} '{}': {source} (check that the directory exists, is writable and the disk is not full)",
        path.display()
    )]
    Io {
        /// What was being done, e.g. "write" or "create directory".
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A CSV file to append to has a different header than this run's keys.
    #[error(
        "'{}' already has a different CSV header: expected '{}', found '{}'; log to a new file or remove the old one",
        path.display(),
        expected.join(","),
        found.join(",")
    )]
    HeaderMismatch {
        /// The existing file.
        path: PathBuf,
        /// The header this run would write.
        expected: Vec<String>,
        /// The header found in the file.
        found: Vec<String>,
    },
    /// A record file is damaged (bad checksum or cut short).
    #[error(
        "'{}' is corrupt at byte offset {offset}: {reason}",
        path.display()
    )]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the first bad record.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The sink was closed; it accepts no more records.
    #[error("the sink is closed and accepts no more records; create a new sink")]
    Closed,
}

impl SinkError {
    /// Shorthand for [`SinkError::Io`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

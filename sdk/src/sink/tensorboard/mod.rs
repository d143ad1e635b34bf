//! TensorBoard event files.
//!
//! [`TensorBoardSink`] writes one event file per sink into a run directory,
//! named like PyTorch's `SummaryWriter` names its files, so TensorBoard (and
//! tools that glob `events.out.tfevents.*`) pick it up unchanged.

// The protobuf messages and the TFRecord framing: the SDK's own; tests
// read them through `nvitop::testing` (the `testing` feature).
pub(crate) mod proto;
pub(crate) mod record;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prost::Message as _;

use self::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
use super::{LogRecord, RecordKind, Sink, SinkError, sane_wall_time};
use crate::snapshot::unix_now;

/// How long buffered events may wait before a `write` hands them to the OS.
///
/// ```
/// use nvitop::sink::tensorboard::DEFAULT_FLUSH_INTERVAL;
/// assert_eq!(DEFAULT_FLUSH_INTERVAL, std::time::Duration::from_secs(2));
/// ```
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// Room for many records between writes to the OS; also large enough that a
/// record of a few hundred scalars never bypasses the buffer in pieces.
const BUFFER_BYTES: usize = 64 * 1024;

/// Distinguishes event files created by this process in the same second.
static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A [`Sink`] writing scalars to a TensorBoard event file.
///
/// Each record becomes one `Event` at its step, carrying every measured value
/// as a `simple_value` under its key as tag. TensorBoard keeps one point per
/// tag and step, so a batch-start record is held back until the batch end of
/// the same step arrives and the two become one event: the batch-end value of
/// each tag, and the batch-start value only of tags the batch end lacks (the
/// inter-step time). A batch start with no matching batch end is written on
/// its own when the next record comes, or at close. Events are buffered and handed
/// to the OS on [`Sink::flush`], and also by a [`Sink::write`] once
/// [`DEFAULT_FLUSH_INTERVAL`] has passed since the last flush, so a training
/// process killed with `SIGKILL` leaves a file TensorBoard reads up to the
/// last flushed event.
///
/// ```
/// use nvitop::sink::{LogRecord, Sink, TensorBoardSink, RecordKind};
/// use nvitop::testing::tensorboard::read_records;
///
/// let dir = tempfile::tempdir()?;
/// let mut sink = TensorBoardSink::create(dir.path().join("run1"))?;
/// let keys = vec!["gpu0/utilization".to_owned()];
/// sink.start(&keys)?;
/// sink.write(&LogRecord { wall_time: 1.0e9, step: 5, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(93.0)] })?;
/// sink.close()?;
/// assert!(sink.path().to_string_lossy().contains("events.out.tfevents."));
/// assert_eq!(read_records(sink.path())?.len(), 2); // version header + one event
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TensorBoardSink {
    run_dir: PathBuf,
    path: PathBuf,
    out: Option<BufWriter<File>>,
    flush_interval: Duration,
    last_flush: Instant,
    /// Reused encoding buffers, to avoid allocations per record.
    frame: Vec<u8>,
    values: Vec<SummaryValue>,
    /// A batch-start record waiting for its batch end: (step, wall time, values).
    pending: Option<(u64, f64)>,
    pending_values: Vec<SummaryValue>,
    /// When set, a batch start's value of a tag the batch end also has is
    /// kept under the tag plus this suffix instead of being dropped.
    batch_start_suffix: Option<String>,
}

/// The suffix [`TensorBoardSink::with_batch_start_tags`] and the logger's
/// `tensorboard_batch_start_tags(true)` give a batch start's values.
pub const BATCH_START_SUFFIX: &str = " @batch_start";

impl TensorBoardSink {
    /// Creates `run_dir` (and its parents) and a new event file in it, and
    /// writes the file-version header event, already flushed to the OS.
    ///
    /// The file is `events.out.tfevents.<unix secs>.<hostname>.<pid>.<n>`,
    /// `n` counting sinks created by this process, so two sinks never share
    /// a file even when created in the same second.
    ///
    /// ```
    /// use nvitop::sink::TensorBoardSink;
    /// use nvitop::testing::tensorboard::read_records;
    /// let dir = tempfile::tempdir().unwrap();
    /// let sink = TensorBoardSink::create(dir.path().join("a/b")).unwrap();
    /// assert!(sink.path().starts_with(dir.path().join("a/b")));
    /// assert_eq!(read_records(sink.path()).unwrap().len(), 1); // the version header, already on disk
    /// // Two sinks never share a file.
    /// assert_ne!(TensorBoardSink::create(dir.path().join("a/b")).unwrap().path(), sink.path());
    /// ```
    pub fn create(run_dir: impl AsRef<Path>) -> Result<Self, SinkError> {
        let run_dir = run_dir.as_ref().to_path_buf();
        fs::create_dir_all(&run_dir).map_err(|e| SinkError::io("create directory", &run_dir, e))?;
        let (path, file) = create_event_file(&run_dir)?;
        let mut sink = Self {
            run_dir,
            path,
            out: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            last_flush: Instant::now(),
            frame: Vec::new(),
            values: Vec::new(),
            pending: None,
            pending_values: Vec::new(),
            batch_start_suffix: None,
        };
        let header = Event {
            wall_time: unix_now(),
            step: 0,
            what: Some(What::FileVersion(FILE_VERSION.to_owned())),
        };
        sink.append(&header)?;
        sink.flush()?;
        Ok(sink)
    }

    /// Changes how long a `write` lets events sit in the buffer before
    /// flushing them ([`DEFAULT_FLUSH_INTERVAL`] unless set);
    /// `Duration::ZERO` flushes at every write.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nvitop::sink::{LogRecord, Sink, TensorBoardSink, RecordKind};
    /// use nvitop::testing::tensorboard::read_records;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut sink = TensorBoardSink::create(dir.path()).unwrap().with_flush_interval(Duration::ZERO);
    /// let keys = vec!["loss".to_owned()];
    /// sink.write(&LogRecord { wall_time: 1.0, step: 1, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(0.5)] }).unwrap();
    /// assert_eq!(read_records(sink.path()).unwrap().len(), 2); // on disk without a flush
    /// ```
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Keeps the batch start's values too: TensorBoard serves one point per
    /// tag and step, so by default a batch start's value of a tag the batch
    /// end of the same step also has is dropped (the batch end's wins); with
    /// this, it is written under `<tag><suffix>` at the same step, a curve
    /// of its own. Tags only the batch start has keep their own name.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, Sink, TensorBoardSink, RecordKind};
    /// use nvitop::sink::tensorboard::BATCH_START_SUFFIX;
    /// use nvitop::testing::tensorboard::scalar_tags; // the `testing` feature
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut sink = TensorBoardSink::create(dir.path()).unwrap().with_batch_start_tags(BATCH_START_SUFFIX);
    /// let keys = vec!["gpu/util".to_owned()];
    /// for (kind, value) in [(RecordKind::BatchStart, 10.0), (RecordKind::BatchEnd, 90.0)] {
    ///     sink.write(&LogRecord { wall_time: 1.0, step: 1, epoch: None, kind, keys: &keys, values: &[Some(value)] }).unwrap();
    /// }
    /// sink.close().unwrap();
    /// let tags: Vec<String> = scalar_tags(dir.path()).unwrap().into_iter().collect();
    /// assert_eq!(tags, ["gpu/util", "gpu/util @batch_start"]);
    /// ```
    #[must_use]
    pub fn with_batch_start_tags(mut self, suffix: impl Into<String>) -> Self {
        self.batch_start_suffix = Some(suffix.into());
        self
    }

    /// The event file this sink writes.
    ///
    /// ```
    /// use nvitop::sink::TensorBoardSink;
    /// let dir = tempfile::tempdir().unwrap();
    /// let sink = TensorBoardSink::create(dir.path()).unwrap();
    /// let name = sink.path().file_name().unwrap().to_string_lossy().into_owned();
    /// assert!(name.starts_with("events.out.tfevents."), "{name}");
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run directory holding the event file.
    ///
    /// ```
    /// use nvitop::sink::TensorBoardSink;
    /// let dir = tempfile::tempdir().unwrap();
    /// let sink = TensorBoardSink::create(dir.path().join("run7")).unwrap();
    /// assert_eq!(sink.run_dir(), dir.path().join("run7"));
    /// assert_eq!(sink.path().parent(), Some(sink.run_dir()));
    /// ```
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Frames and buffers one event.
    /// One summary event of `values` at `step`; keeps the vector for reuse.
    fn append_values(&mut self, wall_time: f64, step: u64, values: Vec<SummaryValue>) -> Result<(), SinkError> {
        let mut event = Event {
            wall_time,
            // Steps beyond i64::MAX cannot occur in practice; saturate rather
            // than wrap to a negative step.
            step: i64::try_from(step).unwrap_or(i64::MAX),
            what: Some(What::Summary(Summary { value: values })),
        };
        let result = if matches!(&event.what, Some(What::Summary(s)) if s.value.is_empty()) {
            Ok(())
        } else {
            self.append(&event)
        };
        if let Some(What::Summary(summary)) = event.what.take() {
            self.values = summary.value;
        }
        result
    }

    /// Writes a held-back batch start on its own (no batch end came for its step).
    fn write_pending(&mut self) -> Result<(), SinkError> {
        let Some((step, wall_time)) = self.pending.take() else {
            return Ok(());
        };
        let values = std::mem::take(&mut self.pending_values);
        let result = self.append_values(wall_time, step, values);
        // `append_values` parked the vector in `self.values`; keep one spare for the next batch start.
        self.pending_values = Vec::with_capacity(self.values.capacity());
        result
    }

    fn append(&mut self, event: &Event) -> Result<(), SinkError> {
        let out = self.out.as_mut().ok_or(SinkError::Closed)?;
        self.frame.clear();
        record::frame_record(&event.encode_to_vec(), &mut self.frame);
        out.write_all(&self.frame)
            .map_err(|e| SinkError::io("write", &self.path, e))
    }
}

impl Sink for TensorBoardSink {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        // Event files name each value by its tag; nothing to declare upfront.
        if self.out.is_none() {
            return Err(SinkError::Closed);
        }
        Ok(())
    }

    fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError> {
        if self.out.is_none() {
            return Err(SinkError::Closed);
        }
        let merge = match self.pending {
            Some((step, _)) if record.kind == RecordKind::BatchEnd && record.step == step => true,
            Some(_) => {
                self.write_pending()?;
                false
            }
            None => false,
        };
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        values.extend(record.present().map(|(tag, v)| SummaryValue {
            tag: tag.to_owned(),
            value: Some(Value::SimpleValue(v as f32)),
        }));
        if record.kind == RecordKind::BatchStart {
            // Held back until the batch end of this step (see the type's docs).
            self.pending = Some((record.step, sane_wall_time(record.wall_time)));
            self.values = std::mem::replace(&mut self.pending_values, values);
            return Ok(());
        }
        if merge {
            self.pending = None;
            for mut start in self.pending_values.drain(..) {
                if !values.iter().any(|v| v.tag == start.tag) {
                    values.push(start);
                } else if let Some(suffix) = &self.batch_start_suffix {
                    // On the sink thread: the tag's allocation costs the
                    // training thread nothing.
                    start.tag.push_str(suffix);
                    values.push(start);
                }
            }
        }
        self.append_values(sane_wall_time(record.wall_time), record.step, values)?;
        if self.last_flush.elapsed() >= self.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        out.flush().map_err(|e| SinkError::io("write", &self.path, e))?;
        self.last_flush = Instant::now();
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        if self.out.is_some() {
            self.write_pending()?;
        }
        self.flush()?;
        self.out = None;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.flush()?;
        if let Some(out) = &self.out {
            out.get_ref()
                .sync_all()
                .map_err(|e| SinkError::io("sync", &self.path, e))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("tensorboard:{}", self.run_dir.display())
    }
}

/// Creates a fresh event file in `run_dir`, never overwriting one.
fn create_event_file(run_dir: &Path) -> Result<(PathBuf, File), SinkError> {
    let secs = unix_now() as u64;
    let host = file_safe(&hostname());
    let pid = std::process::id();
    loop {
        let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = run_dir.join(format!("events.out.tfevents.{secs}.{host}.{pid}.{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            // Another process with our pid (a container sharing the
            // directory) got there first: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(SinkError::io("create", path, e)),
        }
    }
}

/// The machine's host name: `/proc/sys/kernel/hostname`, else `$HOSTNAME`,
/// else `localhost`.
///
/// ```
/// let host = nvitop::sink::tensorboard::hostname();
/// assert!(!host.is_empty() && !host.contains('\n'));
/// ```
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Keeps a name usable as one path component.
fn file_safe(name: &str) -> String {
    name.replace(['/', '\\'], "_")
}

/// A new run directory under `parent`, named like PyTorch's `SummaryWriter`
/// default: `<Mon><DD>_<HH>-<MM>-<SS>_<hostname>` in local time, e.g.
/// `runs/Nov24_23-59-01_myhost`.
///
/// ```
/// let dir = nvitop::sink::default_run_dir(std::path::Path::new("runs"));
/// assert!(dir.starts_with("runs"));
/// ```
pub fn default_run_dir(parent: &Path) -> PathBuf {
    let stamp = chrono::Local::now().format("%b%d_%H-%M-%S");
    parent.join(format!("{stamp}_{}", file_safe(&hostname())))
}

/// The TensorBoard event files (`events.out.tfevents.*`) directly in a run
/// directory, sorted by name (which sorts them by creation second). For
/// tests: `nvitop::testing::tensorboard::event_files`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// nvitop::sink::TensorBoardSink::create(dir.path()).unwrap();
/// assert_eq!(nvitop::testing::tensorboard::event_files(dir.path()).unwrap().len(), 1);
/// ```
///
/// # Errors
/// The directory cannot be listed.
#[cfg(feature = "testing")]
pub fn event_files(run_dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(run_dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Every scalar tag written to the event files of a run directory, read
/// back strictly (framing and both CRCs of every record checked). For
/// tests: `nvitop::testing::tensorboard::scalar_tags`.
///
/// ```
/// use nvitop::sink::{LogRecord, Sink, TensorBoardSink, RecordKind};
/// use nvitop::testing::tensorboard::scalar_tags;
/// let dir = tempfile::tempdir().unwrap();
/// let mut sink = TensorBoardSink::create(dir.path()).unwrap();
/// let keys = vec!["gpu_id: 0/utilization.gpu (%)".to_owned()];
/// sink.write(&LogRecord { wall_time: 1.0, step: 0, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(42.0)] }).unwrap();
/// sink.flush().unwrap();
/// assert!(scalar_tags(dir.path()).unwrap().contains("gpu_id: 0/utilization.gpu (%)"));
/// ```
///
/// # Errors
/// The directory or a file cannot be read, or a record is corrupt.
#[cfg(feature = "testing")]
pub fn scalar_tags(run_dir: impl AsRef<Path>) -> Result<std::collections::BTreeSet<String>, SinkError> {
    let run_dir = run_dir.as_ref();
    let mut tags = std::collections::BTreeSet::new();
    let files = event_files(run_dir).map_err(|e| SinkError::io("list", run_dir, e))?;
    for file in files {
        for data in record::read_records(&file)? {
            let event = Event::decode(data.as_slice()).map_err(|e| {
                SinkError::io(
                    "decode",
                    &file,
                    io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
                )
            })?;
            if let Some(What::Summary(summary)) = event.what {
                tags.extend(summary.value.into_iter().map(|v| v.tag));
            }
        }
    }
    Ok(tags)
}

/// The directory runs go under: `$NVITOP_LOGDIR` if set, else `runs`.
///
/// ```
/// // `$NVITOP_LOGDIR`, else `runs`.
/// let parent = nvitop::sink::default_log_parent();
/// match std::env::var_os("NVITOP_LOGDIR") {
///     Some(dir) => assert_eq!(parent, std::path::PathBuf::from(dir)),
///     None => assert_eq!(parent, std::path::PathBuf::from("runs")),
/// }
/// ```
pub fn default_log_parent() -> PathBuf {
    std::env::var_os("NVITOP_LOGDIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("runs"), PathBuf::from)
}

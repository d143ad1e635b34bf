//! A sink that keeps records in memory, for tests and for embedding the
//! logger in a program that wants the numbers rather than files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{LogRecord, Sink, SinkError};

/// One record as a [`MemorySink`] stored it.
///
/// ```
/// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
/// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
/// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
/// let mut sink = MemorySink::new();
/// let records = sink.handle();
/// sink.write(&record(5)).unwrap();
/// let owned = &records.records()[0];
/// assert_eq!((owned.step, owned.epoch), (5, Some(0)));
/// assert_eq!(owned.values.len(), 1); // the unmeasured fan is absent
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedRecord {
    /// When the values were taken, in seconds since the Unix epoch.
    pub wall_time: f64,
    /// The training step.
    pub step: u64,
    /// The epoch, if reported.
    pub epoch: Option<u64>,
    /// What produced the row.
    pub kind: super::RecordKind,
    /// The measured values by key; keys that were `None` are absent.
    pub values: BTreeMap<String, f64>,
}

impl OwnedRecord {
    /// The value stored under `key`, if it was measured.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// sink.write(&record(0)).unwrap();
    /// assert_eq!(records.records()[0].get("gpu0/temperature"), Some(61.0));
    /// assert_eq!(records.records()[0].get("gpu0/fan"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).copied()
    }
}

#[derive(Debug, Default)]
struct Shared {
    keys: Option<Vec<String>>,
    records: Vec<OwnedRecord>,
    flushes: usize,
    closed: bool,
    failing: bool,
}

/// A [`Sink`] storing owned copies of every record.
///
/// The sink usually moves to the sink thread; keep a [`MemoryRecords`]
/// handle (from [`MemorySink::handle`]) to read what it received.
///
/// ```
/// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
///
/// let mut sink = MemorySink::new();
/// let records = sink.handle();
/// let keys = vec!["gpu0/temperature".to_owned()];
/// std::thread::spawn(move || {
///     sink.start(&keys)?;
///     sink.write(&LogRecord { wall_time: 1.0, step: 7, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0)] })?;
///     sink.close()
/// })
/// .join()
/// .map_err(|_| "sink thread panicked")??;
/// assert_eq!(records.records()[0].step, 7);
/// assert!(records.is_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemorySink {
    shared: Arc<Mutex<Shared>>,
}

/// A cloneable read handle onto what a [`MemorySink`] received.
///
/// ```
/// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
/// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
/// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
/// let mut sink = MemorySink::new();
/// let records = sink.handle();
/// let reader = records.clone(); // cloneable, readable from any thread
/// sink.write(&record(0)).unwrap();
/// assert_eq!(std::thread::spawn(move || reader.len()).join().unwrap(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryRecords {
    shared: Arc<Mutex<Shared>>,
}

// A panic while the lock is held cannot leave `Shared` half-updated in a way
// that matters to a reader, so a poisoned lock is simply taken over.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemorySink {
    /// An empty sink.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let sink = MemorySink::new();
    /// assert!(sink.handle().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle that reads this sink's records from any thread.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// std::thread::spawn(move || sink.write(&LogRecord { wall_time: 1.0, step: 1, epoch: None, kind: RecordKind::BatchEnd, keys: &[], values: &[] }))
    ///     .join()
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(records.len(), 1);
    /// ```
    pub fn handle(&self) -> MemoryRecords {
        MemoryRecords {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl MemoryRecords {
    /// A copy of every record written so far, in order.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// sink.write(&record(1)).unwrap();
    /// sink.write(&record(2)).unwrap();
    /// let steps: Vec<u64> = records.records().iter().map(|r| r.step).collect();
    /// assert_eq!(steps, [1, 2]);
    /// ```
    pub fn records(&self) -> Vec<OwnedRecord> {
        lock(&self.shared).records.clone()
    }

    /// The keys passed to [`Sink::start`], or `None` before it was called.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// assert_eq!(records.keys(), None);
    /// sink.start(&keys).unwrap();
    /// assert_eq!(records.keys(), Some(keys.clone()));
    /// ```
    pub fn keys(&self) -> Option<Vec<String>> {
        lock(&self.shared).keys.clone()
    }

    /// How many records were written.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// sink.write(&record(0)).unwrap();
    /// assert_eq!(records.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.shared).records.len()
    }

    /// Whether no record was written yet.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// assert!(records.is_empty());
    /// sink.write(&record(0)).unwrap();
    /// assert!(!records.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times [`Sink::flush`] (or [`Sink::close`]) was called.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// sink.flush().unwrap();
    /// sink.close().unwrap();
    /// assert_eq!(records.flush_count(), 2);
    /// ```
    pub fn flush_count(&self) -> usize {
        lock(&self.shared).flushes
    }

    /// Whether [`Sink::close`] was called.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// sink.close().unwrap();
    /// assert!(records.is_closed());
    /// assert!(sink.write(&record(0)).is_err());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.shared).closed
    }

    /// Makes every later `start`, `write` and `flush` fail with an I/O error
    /// (`true`) or succeed again (`false`), to test how callers cope with a
    /// failing sink such as a full disk.
    ///
    /// ```
    /// use nvitop::sink::{LogRecord, MemorySink, Sink, RecordKind};
    /// # let keys = vec!["gpu0/temperature".to_owned(), "gpu0/fan".to_owned()];
    /// # let record = |step| LogRecord { wall_time: 1.0, step, epoch: Some(0), kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0), None] };
    /// let mut sink = MemorySink::new();
    /// let records = sink.handle();
    /// records.set_failing(true);
    /// let err = sink.write(&record(0)).unwrap_err();
    /// assert!(err.to_string().contains("failure injected"), "{err}");
    /// records.set_failing(false);
    /// assert!(sink.write(&record(0)).is_ok());
    /// ```
    pub fn set_failing(&self, failing: bool) {
        lock(&self.shared).failing = failing;
    }
}

fn injected_failure() -> SinkError {
    SinkError::io(
        "write",
        PathBuf::from("<memory>"),
        std::io::Error::other("failure injected by MemoryRecords::set_failing"),
    )
}

impl Sink for MemorySink {
    fn start(&mut self, keys: &[String]) -> Result<(), SinkError> {
        let mut shared = lock(&self.shared);
        if shared.failing {
            return Err(injected_failure());
        }
        shared.keys = Some(keys.to_vec());
        Ok(())
    }

    fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError> {
        let mut shared = lock(&self.shared);
        if shared.closed {
            return Err(SinkError::Closed);
        }
        if shared.failing {
            return Err(injected_failure());
        }
        shared.records.push(OwnedRecord {
            wall_time: record.wall_time,
            step: record.step,
            epoch: record.epoch,
            kind: record.kind,
            values: record.present().map(|(key, value)| (key.to_owned(), value)).collect(),
        });
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let mut shared = lock(&self.shared);
        if shared.failing {
            return Err(injected_failure());
        }
        shared.flushes += 1;
        Ok(())
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()?;
        lock(&self.shared).closed = true;
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

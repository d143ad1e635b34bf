//! A CSV file with one row per record, in the shape PyTorch Lightning's
//! `CSVLogger` writes: a fixed header, empty cells for missing values.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{LogRecord, RecordKind, Sink, SinkError, sane_wall_time};

/// The columns every file starts with, before the scalar keys.
const FIXED_COLUMNS: [&str; 4] = ["wall_time", "step", "epoch", "kind"];

/// The header of the side file of scalars that have no column.
const SIDE_HEADER: &str = "wall_time,step,tag,value\n";

/// Room for a few hundred rows between writes to the OS.
const BUFFER_BYTES: usize = 64 * 1024;

/// A [`Sink`] writing `wall_time,step,epoch,kind,<keys...>` rows to a CSV file.
///
/// A value that was not measured, and a missing epoch, is an empty cell.
/// `kind` says which hook wrote the row (`batch_start`, `batch_end`,
/// `epoch_end`, `validation_end`, `train_end`, or `scalar` for
/// `log_scalar`). A key that was not given to [`start`](Sink::start) (an
/// undeclared `log_scalar` tag) has no column: it goes to a long-format side
/// file next to the CSV, `<name>.scalars.csv` with `wall_time,step,tag,value`
/// rows, so the header never changes mid-file.
/// Appending to an existing file is safe when its header is exactly this
/// run's header (no second header is written); a file with a different
/// header is refused with [`SinkError::HeaderMismatch`] rather than silently
/// producing misaligned columns.
///
/// ```
/// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("logs/gpu.csv");
/// let keys = vec!["gpu0/utilization".to_owned(), "gpu0/power".to_owned()];
/// let mut sink = CsvSink::create(&path)?;
/// sink.start(&keys)?;
/// sink.write(&LogRecord { wall_time: 1.5, step: 1, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(40.0), None] })?;
/// sink.close()?;
/// assert_eq!(
///     std::fs::read_to_string(&path)?,
///     "wall_time,step,epoch,kind,gpu0/utilization,gpu0/power\n1.5,1,,batch_end,40.0,\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CsvSink {
    path: PathBuf,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Opened, header not yet checked or written.
    Open(File),
    /// Header in place; rows go through the buffer.
    Started(Started),
    Closed,
}

#[derive(Debug)]
struct Started {
    out: BufWriter<File>,
    keys: Vec<String>,
    /// Column of each key, for records whose key list differs from the
    /// header's.
    column: HashMap<String, usize>,
    /// Reused row buffer, to avoid an allocation per row.
    row: String,
    /// Rows of keys without a column, for the side file.
    side_rows: String,
    /// The side file, created at the first key without a column.
    side: Option<BufWriter<File>>,
}

impl CsvSink {
    /// Opens `path` for appending, creating it and its parent directories
    /// as needed. The header is checked or written by [`Sink::start`].
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("logs/gpu.csv"); // parent directories are created
    /// let keys = vec!["gpu0/temperature".to_owned()];
    /// let mut sink = CsvSink::create(&path).unwrap();
    /// sink.start(&keys).unwrap();
    /// sink.write(&LogRecord { wall_time: 1.0, step: 3, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(61.0)] }).unwrap();
    /// sink.close().unwrap();
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert!(text.lines().next().unwrap().ends_with("gpu0/temperature"));
    /// assert!(text.lines().nth(1).unwrap().ends_with(",61.0"));
    ///
    /// // Appending with other keys is refused rather than misaligning columns.
    /// let mut again = CsvSink::create(&path).unwrap();
    /// assert!(again.start(&["other".to_owned()]).is_err());
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| SinkError::io("create directory", parent, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .or_else(|_| {
                // A write-only file (mode 0200, a FIFO without reader
                // rights) can still be logged to; only the header check
                // needs reading.
                OpenOptions::new().append(true).create(true).open(&path)
            })
            .map_err(|e| SinkError::io("open", &path, e))?;
        Ok(Self {
            path,
            state: State::Open(file),
        })
    }

    /// The CSV file this sink writes.
    ///
    /// ```
    /// use nvitop::sink::{CsvSink, LogRecord, Sink, RecordKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let sink = CsvSink::create(dir.path().join("gpu.csv")).unwrap();
    /// assert_eq!(sink.path(), dir.path().join("gpu.csv"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where values of keys without a column go ([`side_path`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let sink = nvitop::sink::CsvSink::create(dir.path().join("gpu.csv")).unwrap();
    /// assert_eq!(sink.side_path(), dir.path().join("gpu.scalars.csv"));
    /// ```
    #[must_use]
    pub fn side_path(&self) -> PathBuf {
        side_path(&self.path)
    }
}

/// Reads the existing header (if any) and decides what must be written
/// before the first row.
fn prepare(path: &Path, file: &mut File, header: &[String]) -> Result<String, SinkError> {
    let meta = file.metadata().map_err(|e| SinkError::io("inspect", path, e))?;
    // Only regular files can be read back; a device such as /dev/full
    // would read forever, so it is treated as new.
    if !meta.is_file() || meta.len() == 0 {
        return Ok(encode_header(header));
    }
    let head = read_head(file).map_err(|e| SinkError::io("read", path, e))?;
    let found = parse_header(&head);
    if found != header {
        return Err(SinkError::HeaderMismatch {
            path: path.to_path_buf(),
            expected: header.to_vec(),
            found,
        });
    }
    // A process killed mid-row leaves a partial last line; starting on a
    // fresh line keeps every later row aligned with the header.
    let mut last = [0_u8; 1];
    file.seek(SeekFrom::End(-1))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| SinkError::io("read", path, e))?;
    Ok(if last[0] == b'\n' {
        String::new()
    } else {
        "\n".to_owned()
    })
}

/// Reads the start of `file`, up to and including its first line break
/// (bounded, so a huge file without one is not read whole).
fn read_head(file: &mut File) -> std::io::Result<Vec<u8>> {
    const MAX_HEADER_BYTES: u64 = 1 << 20;
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::new();
    let mut chunk = [0_u8; 8192];
    let mut limited = (&*file).take(MAX_HEADER_BYTES);
    loop {
        let n = limited.read(&mut chunk)?;
        if n == 0 {
            return Ok(head);
        }
        head.extend_from_slice(&chunk[..n]);
        if chunk[..n].contains(&b'\n') {
            return Ok(head);
        }
    }
}

impl Sink for CsvSink {
    fn start(&mut self, keys: &[String]) -> Result<(), SinkError> {
        let State::Open(file) = &mut self.state else {
            return match self.state {
                State::Closed => Err(SinkError::Closed),
                _ => Ok(()), // already started: the header is fixed
            };
        };
        let header: Vec<String> = FIXED_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .chain(keys.iter().cloned())
            .collect();
        let prefix = prepare(&self.path, file, &header)?;
        let State::Open(file) = std::mem::replace(&mut self.state, State::Closed) else {
            return Err(SinkError::Closed);
        };
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        let written = out.write_all(prefix.as_bytes());
        self.state = State::Started(Started {
            out,
            keys: keys.to_vec(),
            column: keys.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect(),
            row: String::new(),
            side_rows: String::new(),
            side: None,
        });
        written.map_err(|e| SinkError::io("write", &self.path, e))
    }

    fn write(&mut self, record: &LogRecord<'_>) -> Result<(), SinkError> {
        if matches!(self.state, State::Open(_)) {
            // Tolerate a caller that skipped `start`: the first record's keys
            // become the header.
            self.start(record.keys)?;
        }
        let State::Started(started) = &mut self.state else {
            return Err(SinkError::Closed);
        };
        started.encode_row(record);
        started
            .out
            .write_all(started.row.as_bytes())
            .map_err(|e| SinkError::io("write", &self.path, e))?;
        started.write_side(&self.path)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        match &mut self.state {
            State::Started(started) => started.flush(&self.path, false),
            State::Open(_) | State::Closed => Ok(()),
        }
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        match &mut self.state {
            State::Started(started) => started.flush(&self.path, true),
            State::Open(_) | State::Closed => Ok(()),
        }
    }

    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()?;
        self.state = State::Closed;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("csv:{}", self.path.display())
    }
}

impl Started {
    /// Renders `record` as one CSV line into `self.row` (left empty for a
    /// scalar row whose every key lacks a column) and the values of keys
    /// without a column as side-file lines into `self.side_rows`.
    fn encode_row(&mut self, record: &LogRecord<'_>) {
        let row = &mut self.row;
        row.clear();
        self.side_rows.clear();
        let wall_time = sane_wall_time(record.wall_time);
        push_float(row, wall_time);
        let _ = write!(row, ",{},", record.step);
        if let Some(epoch) = record.epoch {
            let _ = write!(row, "{epoch}");
        }
        row.push(',');
        row.push_str(record.kind.as_str());
        let mut any = false;
        if record.keys.len() >= self.keys.len() && record.keys[..self.keys.len()] == *self.keys {
            // The logger's own rows: the header's keys first, in order,
            // then (scalar rows only) undeclared tags.
            for i in 0..self.keys.len() {
                row.push(',');
                if let Some(Some(v)) = record.values.get(i) {
                    any = true;
                    push_float(row, *v);
                }
            }
            for (key, value) in record.keys[self.keys.len()..]
                .iter()
                .zip(record.values.iter().skip(self.keys.len()))
            {
                if let Some(v) = value {
                    push_side_row(&mut self.side_rows, wall_time, record.step, key, *v);
                }
            }
        } else {
            let mut cells = vec![None; self.keys.len()];
            for (key, value) in record.present() {
                match self.column.get(key) {
                    Some(&i) => {
                        any = true;
                        cells[i] = Some(value);
                    }
                    None => push_side_row(&mut self.side_rows, wall_time, record.step, key, value),
                }
            }
            for cell in cells {
                row.push(',');
                if let Some(v) = cell {
                    push_float(row, v);
                }
            }
        }
        row.push('\n');
        if !any && record.kind == RecordKind::Scalar {
            row.clear();
        }
    }

    /// Appends `self.side_rows` to the side file, creating it (with its
    /// header when new) at the first use.
    fn write_side(&mut self, path: &Path) -> Result<(), SinkError> {
        if self.side_rows.is_empty() {
            return Ok(());
        }
        if self.side.is_none() {
            let side_path = side_path(path);
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&side_path)
                .map_err(|e| SinkError::io("open", &side_path, e))?;
            let new = file.metadata().map_or(true, |m| m.len() == 0);
            let mut out = BufWriter::with_capacity(BUFFER_BYTES / 4, file);
            if new {
                out.write_all(SIDE_HEADER.as_bytes())
                    .map_err(|e| SinkError::io("write", &side_path, e))?;
            }
            self.side = Some(out);
        }
        if let Some(side) = &mut self.side {
            side.write_all(self.side_rows.as_bytes())
                .map_err(|e| SinkError::io("write", side_path(path), e))?;
        }
        Ok(())
    }

    fn flush(&mut self, path: &Path, sync: bool) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| SinkError::io("write", path, e))?;
        if sync {
            self.out
                .get_ref()
                .sync_all()
                .map_err(|e| SinkError::io("sync", path, e))?;
        }
        if let Some(side) = &mut self.side {
            let side_path = side_path(path);
            side.flush().map_err(|e| SinkError::io("write", &side_path, e))?;
            if sync {
                side.get_ref()
                    .sync_all()
                    .map_err(|e| SinkError::io("sync", &side_path, e))?;
            }
        }
        Ok(())
    }
}

/// The side file of a CSV file: `gpu.csv` → `gpu.scalars.csv`.
///
/// ```
/// use std::path::Path;
/// assert_eq!(nvitop::sink::csv_side_path(Path::new("logs/gpu.csv")), Path::new("logs/gpu.scalars.csv"));
/// assert_eq!(nvitop::sink::csv_side_path(Path::new("gpu")), Path::new("gpu.scalars.csv"));
/// ```
#[must_use]
pub fn side_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".csv").unwrap_or(&name);
    path.with_file_name(format!("{stem}.scalars.csv"))
}

fn push_side_row(out: &mut String, wall_time: f64, step: u64, tag: &str, value: f64) {
    push_float(out, wall_time);
    let _ = write!(out, ",{step},");
    push_cell(out, tag);
    out.push(',');
    push_float(out, value);
    out.push('\n');
}

fn push_cell(out: &mut String, cell: &str) {
    if cell.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

/// Writes `v` the way Python's `repr(float)` would for ordinary numbers
/// (`1.0`, `1e-07`), and `nan`/`inf`/`-inf` as Python's `csv` module does, so
/// pandas and `float()` read every cell back.
fn push_float(row: &mut String, v: f64) {
    if v.is_nan() {
        row.push_str("nan");
    } else if v.is_infinite() {
        row.push_str(if v > 0.0 { "inf" } else { "-inf" });
    } else {
        // `Debug` is the shortest round-trip form and switches to exponent
        // notation for very large or small numbers, unlike `Display`.
        let _ = write!(row, "{v:?}");
    }
}

/// Renders the header line, quoting names that need it (RFC 4180).
fn encode_header(header: &[String]) -> String {
    let mut line = header
        .iter()
        .map(|name| {
            if name.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", name.replace('"', "\"\""))
            } else {
                name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// Parses the first CSV record of `data` (an empty list if there is none).
fn parse_header(data: &[u8]) -> Vec<String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut record = ::csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(str::to_owned).collect(),
        // Undecodable bytes cannot equal our header; reporting them as a
        // one-cell header still gives a useful mismatch message.
        Ok(false) => Vec::new(),
        Err(e) => vec![format!("<unreadable header: {e}>")],
    }
}

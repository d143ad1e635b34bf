//! The `TensorBoard` sink writes event files that decode to what was logged,
//! with valid framing, and fails cleanly on I/O errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nvitop::sink::{LogRecord, Sink, SinkError, TensorBoardSink, default_run_dir};
use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Value, What};
use nvitop::testing::tensorboard::{masked_crc32c, read_records};
use prost::Message as _;

fn keys() -> Vec<String> {
    vec!["gpu0/utilization".to_owned(), "gpu0/memory_used".to_owned()]
}

fn events(path: &Path) -> Vec<Event> {
    read_records(path)
        .unwrap()
        .iter()
        .map(|data| Event::decode(data.as_slice()).unwrap())
        .collect()
}

/// `(tag, value)` pairs of a summary event.
fn scalars(event: &Event) -> Vec<(String, f32)> {
    let Some(What::Summary(summary)) = &event.what else {
        panic!("not a summary event: {event:?}");
    };
    summary
        .value
        .iter()
        .map(|v| {
            let Some(Value::SimpleValue(x)) = v.value else {
                panic!("no simple_value: {v:?}");
            };
            (v.tag.clone(), x)
        })
        .collect()
}

fn write_three(sink: &mut TensorBoardSink, keys: &[String]) {
    sink.start(keys).unwrap();
    let rows: [(f64, u64, [Option<f64>; 2]); 3] = [
        (1_700_000_000.25, 0, [Some(10.0), Some(1024.0)]),
        (1_700_000_001.5, 1, [None, Some(2048.0)]),
        (1_700_000_002.75, 2, [Some(f64::NAN), None]),
    ];
    for (wall_time, step, values) in rows {
        sink.write(&LogRecord {
            wall_time,
            step,
            epoch: Some(0),
            kind: nvitop::sink::RecordKind::BatchEnd,
            keys,
            values: &values,
        })
        .unwrap();
    }
}

#[test]
fn events_decode_to_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TensorBoardSink::create(dir.path().join("run")).unwrap();
    let keys = keys();
    write_three(&mut sink, &keys);
    sink.close().unwrap();

    let events = events(sink.path());
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].what, Some(What::FileVersion(FILE_VERSION.to_owned())));
    assert!(events[0].wall_time > 1.6e9, "header wall time is now");

    assert_eq!(events[1].step, 0);
    assert_eq!(events[1].wall_time, 1_700_000_000.25);
    assert_eq!(
        scalars(&events[1]),
        [
            ("gpu0/utilization".to_owned(), 10.0),
            ("gpu0/memory_used".to_owned(), 1024.0)
        ]
    );
    assert_eq!(events[2].step, 1);
    assert_eq!(events[2].wall_time, 1_700_000_001.5);
    assert_eq!(scalars(&events[2]), [("gpu0/memory_used".to_owned(), 2048.0)]);
    // NaN values are written as they are; TensorBoard shows them.
    let last = scalars(&events[3]);
    assert_eq!(events[3].step, 2);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].0, "gpu0/utilization");
    assert!(last[0].1.is_nan());
}

#[test]
fn file_name_and_run_dir() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("a/b/run");
    let sink = TensorBoardSink::create(&run).unwrap();
    assert_eq!(sink.run_dir(), run);
    assert_eq!(sink.path().parent(), Some(run.as_path()));
    let name = sink.path().file_name().unwrap().to_str().unwrap().to_owned();
    let parts: Vec<&str> = name.strip_prefix("events.out.tfevents.").unwrap().split('.').collect();
    assert!(parts.len() >= 4, "{name}");
    assert!(parts[0].parse::<u64>().unwrap() > 1_600_000_000);
    assert_eq!(parts[parts.len() - 2], std::process::id().to_string(), "{name}");
    parts[parts.len() - 1].parse::<u64>().unwrap();
    assert_eq!(sink.describe(), format!("tensorboard:{}", run.display()));
}

#[test]
fn two_sinks_in_one_second_get_different_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = TensorBoardSink::create(dir.path()).unwrap();
    let b = TensorBoardSink::create(dir.path()).unwrap();
    assert_ne!(a.path(), b.path());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn every_record_has_valid_crcs() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TensorBoardSink::create(dir.path()).unwrap();
    write_three(&mut sink, &keys());
    sink.flush().unwrap();

    // Walk the framing independently of `read_records`.
    let bytes = std::fs::read(sink.path()).unwrap();
    let mut pos = 0;
    let mut count = 0;
    while pos < bytes.len() {
        let len_bytes = &bytes[pos..pos + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let len_crc = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap());
        assert_eq!(len_crc, masked_crc32c(len_bytes), "length CRC at {pos}");
        let data = &bytes[pos + 12..pos + 12 + len];
        let data_crc = u32::from_le_bytes(bytes[pos + 12 + len..pos + 16 + len].try_into().unwrap());
        assert_eq!(data_crc, masked_crc32c(data), "data CRC at {pos}");
        pos += 16 + len;
        count += 1;
    }
    assert_eq!(pos, bytes.len());
    assert_eq!(count, 4);
}

#[test]
fn masked_crc_matches_tensorflow() {
    // Unmasked CRC-32C("123456789") is the standard check value 0xe3069283;
    // ((crc >> 15) | (crc << 17)) + 0xa282ead8, worked out by hand.
    let masked: u32 = 0xc78a_b0e5;
    assert_eq!(masked_crc32c(b"123456789"), masked);
}

#[test]
fn corruption_is_reported_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TensorBoardSink::create(dir.path()).unwrap();
    write_three(&mut sink, &keys());
    sink.close().unwrap();
    let path = sink.path().to_path_buf();
    let clean = std::fs::read(&path).unwrap();
    let records = read_records(&path).unwrap();
    // Offsets of the records' starts.
    let starts: Vec<usize> = records
        .iter()
        .scan(0, |pos, r| {
            let start = *pos;
            *pos += 16 + r.len();
            Some(start)
        })
        .collect();

    let corrupt_at = |byte: usize| -> (u64, String) {
        let mut bytes = clean.clone();
        bytes[byte] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        match read_records(&path) {
            Err(SinkError::Corrupt {
                path: p,
                offset,
                reason,
            }) => {
                assert_eq!(p, path);
                (offset, reason)
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    };
    // A byte of the third record's data.
    let (offset, reason) = corrupt_at(starts[2] + 14);
    assert_eq!(offset, starts[2] as u64);
    assert!(reason.contains("data CRC"), "{reason}");
    // A byte of the second record's length.
    let (offset, reason) = corrupt_at(starts[1]);
    assert_eq!(offset, starts[1] as u64);
    assert!(reason.contains("length CRC"), "{reason}");
    // The last byte (the final data CRC).
    let (offset, _) = corrupt_at(clean.len() - 1);
    assert_eq!(offset, starts[3] as u64);

    // A cut-short file reports the incomplete record.
    std::fs::write(&path, &clean[..clean.len() - 3]).unwrap();
    let err = read_records(&path).unwrap_err();
    assert!(
        matches!(err, SinkError::Corrupt { offset, .. } if offset == starts[3] as u64),
        "{err}"
    );
}

#[test]
fn non_finite_wall_time_is_replaced_by_now() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TensorBoardSink::create(dir.path()).unwrap();
    let keys = keys();
    for wall_time in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        sink.write(&LogRecord {
            wall_time,
            step: 1,
            epoch: None,
            kind: nvitop::sink::RecordKind::BatchEnd,
            keys: &keys,
            values: &[Some(1.0), None],
        })
        .unwrap();
    }
    sink.close().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for event in &events(sink.path())[1..] {
        assert!(event.wall_time.is_finite());
        assert!((now - event.wall_time).abs() < 60.0, "{}", event.wall_time);
    }
}

#[test]
fn flush_makes_events_visible() {
    let dir = tempfile::tempdir().unwrap();
    // An interval no loaded machine reaches between two lines, so that only
    // the explicit flush can put the events on disk.
    let mut sink = TensorBoardSink::create(dir.path())
        .unwrap()
        .with_flush_interval(Duration::from_hours(1));
    // The header is on disk as soon as the sink exists.
    assert_eq!(read_records(sink.path()).unwrap().len(), 1);
    write_three(&mut sink, &keys());
    // Buffered: less than the flush interval has passed.
    assert_eq!(read_records(sink.path()).unwrap().len(), 1);
    sink.flush().unwrap();
    assert_eq!(read_records(sink.path()).unwrap().len(), 4);
}

#[test]
fn writes_flush_once_the_interval_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_millis(200);
    let created = std::time::Instant::now();
    let mut sink = TensorBoardSink::create(dir.path())
        .unwrap()
        .with_flush_interval(interval);
    let keys = keys();
    let record = LogRecord {
        wall_time: 1.0,
        step: 0,
        epoch: None,
        kind: nvitop::sink::RecordKind::BatchEnd,
        keys: &keys,
        values: &[Some(1.0), Some(2.0)],
    };
    sink.write(&record).unwrap();
    // Still buffered, unless this thread was descheduled for the whole
    // interval since the sink's creation (a loaded CI machine).
    if created.elapsed() < interval {
        assert_eq!(read_records(sink.path()).unwrap().len(), 1);
    }
    std::thread::sleep(interval + Duration::from_millis(10));
    sink.write(&record).unwrap();
    // Both records reached the OS, without an explicit flush.
    assert_eq!(read_records(sink.path()).unwrap().len(), 3);
}

#[test]
fn writes_after_close_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TensorBoardSink::create(dir.path()).unwrap();
    sink.close().unwrap();
    sink.close().unwrap();
    let keys = keys();
    let err = sink
        .write(&LogRecord {
            wall_time: 1.0,
            step: 0,
            epoch: None,
            kind: nvitop::sink::RecordKind::BatchEnd,
            keys: &keys,
            values: &[None, None],
        })
        .unwrap_err();
    assert!(matches!(err, SinkError::Closed), "{err}");
}

#[test]
fn run_dir_under_a_file_is_an_error_naming_the_path() {
    // Fails for root too, unlike a read-only directory.
    let file = tempfile::NamedTempFile::new().unwrap();
    let run = file.path().join("sub");
    let err = TensorBoardSink::create(&run).unwrap_err();
    let SinkError::Io { path, .. } = &err else {
        panic!("expected an I/O error, got {err:?}");
    };
    assert_eq!(path, &run);
    assert!(err.to_string().contains(&*run.to_string_lossy()), "{err}");
}

#[test]
fn default_run_dir_looks_like_pytorch() {
    let dir = default_run_dir(Path::new("runs"));
    assert_eq!(dir.parent(), Some(Path::new("runs")));
    let name = dir.file_name().unwrap().to_str().unwrap();
    // e.g. Nov24_23-59-01_myhost
    let host = nvitop::sink::tensorboard::hostname();
    let stamp = name.strip_suffix(&format!("_{host}")).unwrap();
    assert_eq!(stamp.len(), "Nov24_23-59-01".len(), "{name}");
    let b = stamp.as_bytes();
    assert!(b[..3].iter().all(u8::is_ascii_alphabetic), "{name}");
    assert_eq!((b[5], b[8], b[11]), (b'_', b'-', b'-'), "{name}");
}

/// Runs the Python conformance check when `NVITOP_CONFORMANCE_PYTHON` points
/// at an interpreter with `tensorboard` installed; skipped otherwise, unless
/// `NVITOP_CONFORMANCE=1` requires it.
#[test]
fn tensorboard_reads_the_file() {
    let Some(python) = std::env::var_os("NVITOP_CONFORMANCE_PYTHON") else {
        assert!(
            !matches!(std::env::var("NVITOP_CONFORMANCE").as_deref(), Ok("1")),
            "NVITOP_CONFORMANCE=1 but NVITOP_CONFORMANCE_PYTHON is not set"
        );
        eprintln!("skipped: set NVITOP_CONFORMANCE_PYTHON to run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TensorBoardSink::create(dir.path().join("run")).unwrap();
    write_three(&mut sink, &keys());
    sink.close().unwrap();
    let expect = r#"{"gpu0/utilization": [[0, 10.0], [2, NaN]],
                     "gpu0/memory_used": [[0, 1024.0], [1, 2048.0]]}"#;
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "tests", "conformance"]
        .iter()
        .collect::<PathBuf>()
        .join("read_tensorboard.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(dir.path())
        .arg("--expect")
        .arg(expect)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn batch_start_values_are_kept_under_a_tag_of_their_own_when_asked() {
    use nvitop::sink::RecordKind;
    use nvitop::sink::tensorboard::BATCH_START_SUFFIX;
    let keys = keys();
    let write = |sink: &mut TensorBoardSink| {
        sink.start(&keys).unwrap();
        for step in 0..2_u64 {
            let s = step as f64;
            for (kind, values) in [
                (RecordKind::BatchStart, [Some(10.0 + s), Some(100.0 + s)]),
                // The batch end lacks the memory: the start's value stays under its own tag.
                (RecordKind::BatchEnd, [Some(90.0 + s), None]),
            ] {
                let record = LogRecord {
                    wall_time: 1_700_000_000.0 + s,
                    step,
                    epoch: None,
                    kind,
                    keys: &keys,
                    values: &values,
                };
                sink.write(&record).unwrap();
            }
        }
        sink.close().unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let mut plain = TensorBoardSink::create(dir.path().join("plain")).unwrap();
    write(&mut plain);
    let mut kept = TensorBoardSink::create(dir.path().join("kept"))
        .unwrap()
        .with_batch_start_tags(BATCH_START_SUFFIX);
    write(&mut kept);

    let points = |sink: &TensorBoardSink| -> Vec<(i64, Vec<(String, f32)>)> {
        events(sink.path())
            .iter()
            .skip(1)
            .map(|e| {
                // Compared as sets of (tag, value): the order within an event is not the point.
                let mut values = scalars(e);
                values.sort_by(|a, b| a.0.cmp(&b.0));
                (e.step, values)
            })
            .collect()
    };
    // One event per step either way; by default the batch end's value wins.
    assert_eq!(
        points(&plain),
        vec![
            (
                0,
                vec![
                    ("gpu0/memory_used".to_owned(), 100.0),
                    ("gpu0/utilization".to_owned(), 90.0)
                ]
            ),
            (
                1,
                vec![
                    ("gpu0/memory_used".to_owned(), 101.0),
                    ("gpu0/utilization".to_owned(), 91.0)
                ]
            ),
        ]
    );
    let start_tag = format!("gpu0/utilization{BATCH_START_SUFFIX}");
    assert_eq!(
        points(&kept),
        vec![
            (
                0,
                vec![
                    ("gpu0/memory_used".to_owned(), 100.0),
                    ("gpu0/utilization".to_owned(), 90.0),
                    (start_tag.clone(), 10.0)
                ]
            ),
            (
                1,
                vec![
                    ("gpu0/memory_used".to_owned(), 101.0),
                    ("gpu0/utilization".to_owned(), 91.0),
                    (start_tag, 11.0)
                ]
            ),
        ]
    );
}

//! The CSV sink writes Lightning-style rows, appends safely and fails
//! cleanly; the memory sink hands records across threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::path::Path;

use nvitop::sink::{CsvSink, LogRecord, MemorySink, Sink, SinkError};

fn keys() -> Vec<String> {
    vec!["gpu0/utilization".to_owned(), "gpu0/power".to_owned()]
}

fn record<'a>(keys: &'a [String], step: u64, values: &'a [Option<f64>]) -> LogRecord<'a> {
    LogRecord {
        wall_time: 1_700_000_000.5 + step as f64,
        step,
        epoch: if step.is_multiple_of(2) { Some(step / 2) } else { None },
        kind: nvitop::sink::RecordKind::BatchEnd,
        keys,
        values,
    }
}

fn read(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn write_run(path: &Path, first_step: u64) {
    let keys = keys();
    let mut sink = CsvSink::create(path).unwrap();
    sink.start(&keys).unwrap();
    sink.write(&record(&keys, first_step, &[Some(55.0), Some(212.25)]))
        .unwrap();
    sink.write(&record(&keys, first_step + 1, &[None, Some(1e-7)])).unwrap();
    sink.close().unwrap();
}

#[test]
fn header_and_rows_with_empty_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/gpu.csv");
    write_run(&path, 0);
    let (header, rows) = read(&path);
    assert_eq!(
        header,
        ["wall_time", "step", "epoch", "kind", "gpu0/utilization", "gpu0/power"]
    );
    assert_eq!(
        rows,
        [
            ["1700000000.5", "0", "0", "batch_end", "55.0", "212.25"],
            ["1700000001.5", "1", "", "batch_end", "", "1e-7"],
        ]
    );
    // Every numeric cell parses back as Python's float() / Rust's parse.
    assert_eq!(rows[1][5].parse::<f64>().unwrap(), 1e-7);
}

#[test]
fn appends_under_the_same_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.csv");
    write_run(&path, 0);
    write_run(&path, 2);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("wall_time").count(), 1, "{text}");
    let (_, rows) = read(&path);
    let steps: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(steps, ["0", "1", "2", "3"]);
}

#[test]
fn append_after_a_cut_short_row_starts_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.csv");
    write_run(&path, 0);
    // A process killed mid-row.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("1700000009.0,9");
    std::fs::write(&path, &text).unwrap();
    write_run(&path, 10);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("1700000009.0,9\n1700000010.5,10,5,"), "{text}");
}

#[test]
fn refuses_a_different_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.csv");
    std::fs::write(&path, "wall_time,step,epoch,gpu0/fan\n1.0,0,,40.0\n").unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut sink = CsvSink::create(&path).unwrap();
    let err = sink.start(&keys()).unwrap_err();
    let SinkError::HeaderMismatch {
        path: p,
        expected,
        found,
    } = &err
    else {
        panic!("expected a header mismatch, got {err:?}");
    };
    assert_eq!(p, &path);
    assert_eq!(expected.last().map(String::as_str), Some("gpu0/power"));
    assert_eq!(found.last().map(String::as_str), Some("gpu0/fan"));
    let message = err.to_string();
    assert!(message.contains(&*path.to_string_lossy()), "{message}");
    assert!(message.contains("gpu0/fan"), "{message}");
    assert!(message.contains("gpu0/power"), "{message}");
    // The file is untouched.
    drop(sink);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn keys_needing_quotes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.csv");
    let keys = vec!["a,b".to_owned(), "say \"hi\"".to_owned()];
    for _ in 0..2 {
        let mut sink = CsvSink::create(&path).unwrap();
        sink.start(&keys).unwrap();
        sink.write(&record(&keys, 0, &[Some(1.0), Some(f64::NAN)])).unwrap();
        sink.close().unwrap();
    }
    let (header, rows) = read(&path);
    assert_eq!(&header[4..], keys.as_slice());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][5], "nan");
}

#[test]
fn records_with_other_key_order_land_in_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.csv");
    let mut sink = CsvSink::create(&path).unwrap();
    sink.start(&keys()).unwrap();
    let other = vec![
        "gpu0/power".to_owned(),
        "unknown".to_owned(),
        "gpu0/utilization".to_owned(),
    ];
    sink.write(&record(&other, 1, &[Some(100.0), Some(5.0), Some(7.0)]))
        .unwrap();
    sink.close().unwrap();
    let (_, rows) = read(&path);
    assert_eq!(rows[0][4..], ["7.0", "100.0"]);
    // The key without a column went to the side file, not lost.
    let side = std::fs::read_to_string(dir.path().join("gpu.scalars.csv")).unwrap();
    assert_eq!(side, "wall_time,step,tag,value\n1700000001.5,1,unknown,5.0\n");
}

#[test]
fn dev_full_fails_on_flush_without_panicking() {
    let path = Path::new("/dev/full");
    if !path.exists() {
        return;
    }
    let keys = keys();
    let mut sink = CsvSink::create(path).unwrap();
    sink.start(&keys).unwrap();
    sink.write(&record(&keys, 0, &[Some(1.0), None])).unwrap();
    let err = sink.flush().unwrap_err();
    assert!(matches!(&err, SinkError::Io { path: p, .. } if p == path), "{err:?}");
    assert!(err.to_string().contains("/dev/full"), "{err}");
    // A later attempt is allowed and fails the same way.
    assert!(sink.flush().is_err());
    assert!(sink.close().is_err());
}

#[test]
fn file_under_a_file_is_an_error_naming_the_path() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().join("sub/gpu.csv");
    let err = CsvSink::create(&path).unwrap_err();
    assert!(matches!(err, SinkError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&*file.path().to_string_lossy()), "{err}");
}

#[test]
fn writes_after_close_fail() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    let mut sink = CsvSink::create(dir.path().join("gpu.csv")).unwrap();
    sink.start(&keys).unwrap();
    sink.close().unwrap();
    sink.close().unwrap();
    let err = sink.write(&record(&keys, 0, &[None, None])).unwrap_err();
    assert!(matches!(err, SinkError::Closed), "{err}");
}

#[test]
fn memory_sink_is_readable_from_another_thread() {
    let mut sink = MemorySink::new();
    let handle = sink.handle();
    std::thread::spawn(move || {
        let keys = keys();
        sink.start(&keys).unwrap();
        sink.write(&record(&keys, 4, &[Some(1.0), None])).unwrap();
        sink.close().unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(handle.keys(), Some(keys()));
    let records = handle.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].step, 4);
    assert_eq!(records[0].epoch, Some(2));
    assert_eq!(records[0].get("gpu0/utilization"), Some(1.0));
    assert_eq!(records[0].get("gpu0/power"), None);
    assert!(handle.is_closed());
    assert_eq!(handle.flush_count(), 1);
}

#[test]
fn memory_sink_failure_injection() {
    let mut sink = MemorySink::new();
    let handle = sink.handle();
    let keys = keys();
    handle.set_failing(true);
    assert!(sink.write(&record(&keys, 0, &[None, None])).is_err());
    handle.set_failing(false);
    sink.write(&record(&keys, 0, &[None, None])).unwrap();
    assert_eq!(handle.len(), 1);
}

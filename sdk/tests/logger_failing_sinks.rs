//! A user's sink that panics or hangs: the report says so (`is_clean()` is
//! false), the other sinks keep every row, and `flush()`/`close()` return
//! within the sink timeout instead of waiting for it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::logger::SinkFailureKind;
use nvitop::sink::{LogRecord, MemorySink, Sink, SinkError};

/// Panics in its `write` number `.0` (counting from 1).
struct PanicsOnWrite(u64, u64);

impl Sink for PanicsOnWrite {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _record: &LogRecord<'_>) -> Result<(), SinkError> {
        self.1 += 1;
        assert!(self.1 < self.0, "boom at row {}", self.1);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "panicky".into()
    }
}

/// Blocks in its first `write` until the test lets it go (a network share that stopped answering).
struct Hangs(Receiver<()>);

impl Sink for Hangs {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _record: &LogRecord<'_>) -> Result<(), SinkError> {
        let _ = self.0.recv();
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "hung".into()
    }
}

fn sim() -> Arc<SimBackend> {
    Arc::new(SimBackend::default_machine())
}

#[test]
fn a_panicking_sink_is_reported_and_the_other_sinks_keep_every_row() {
    let memory = MemorySink::new();
    let rows = memory.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .sink(Box::new(PanicsOnWrite(3, 0)))
        .sink(Box::new(memory))
        .build()
        .unwrap();
    for step in 0..10 {
        drop(logger.step(step));
    }
    let flushed = logger.flush();
    assert!(!flushed.is_clean(), "{flushed:?}");
    let report = logger.close();
    assert!(!report.is_clean(), "{report:?}");
    assert_eq!(report.failed_sinks.len(), 1, "{report:?}");
    let failure = &report.failed_sinks[0];
    assert_eq!(failure.sink, "panicky");
    assert!(
        matches!(&failure.kind, SinkFailureKind::Panicked(m) if m.contains("boom at row 3")),
        "{failure:?}"
    );
    // It wrote rows 1 and 2; the third panicked; 17 more never reached it.
    assert_eq!(failure.rows_lost, 18, "{failure:?}");
    assert_eq!(rows.len(), 20);
    assert!(rows.is_closed());
    assert!(
        report
            .to_string()
            .contains("sink panicky panicked in write: boom at row 3"),
        "{report}"
    );
}

#[test]
fn a_hung_sink_is_reported_and_flush_and_close_return_within_the_timeout() {
    let (release, hold) = crossbeam_channel::unbounded();
    let memory = MemorySink::new();
    let rows = memory.handle();
    let timeout = Duration::from_millis(300);
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .sink(Box::new(Hangs(hold)))
        .sink(Box::new(memory))
        .sink_timeout(timeout)
        .build()
        .unwrap();
    for step in 0..600 {
        drop(logger.step(step));
    }
    let started = Instant::now();
    let flushed = logger.flush();
    let flush_took = started.elapsed();
    assert!(flush_took < timeout * 4, "flush took {flush_took:?}");
    assert!(!flushed.is_clean(), "{flushed:?}");
    assert!(
        flushed
            .failed_sinks
            .iter()
            .any(|f| f.sink == "hung" && f.kind == SinkFailureKind::Hung),
        "{flushed:?}"
    );
    // The memory sink kept writing while the other one hung.
    assert_eq!(rows.len() as u64 + flushed.dropped, 1200, "{flushed:?}");
    let started = Instant::now();
    let report = logger.close();
    let close_took = started.elapsed();
    assert!(close_took < timeout * 4, "close took {close_took:?}");
    assert!(!report.is_clean());
    let hung = report.failed_sinks.iter().find(|f| f.sink == "hung").unwrap();
    // It took one row into its write and never returned: every other row is lost, and counted.
    assert_eq!(hung.rows_lost + 1 + report.dropped, 1200, "{report:?}");
    assert!(!report.failed_sinks.iter().any(|f| f.sink == "memory"), "{report:?}");
    assert!(rows.is_closed());
    // Let the sink's thread end.
    for _ in 0..2000 {
        let _ = release.send(());
    }
}

#[test]
fn a_sink_that_panics_in_flush_does_not_stop_the_epoch_end() {
    struct PanicsOnFlush;
    impl Sink for PanicsOnFlush {
        fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
            Ok(())
        }
        fn write(&mut self, _record: &LogRecord<'_>) -> Result<(), SinkError> {
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            panic!("flush failed hard")
        }
        fn describe(&self) -> String {
            "flushy".into()
        }
    }
    let memory = MemorySink::new();
    let rows = memory.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .sink(Box::new(PanicsOnFlush))
        .sink(Box::new(memory))
        .epoch_time(true)
        .build()
        .unwrap();
    logger.on_train_epoch_start(0);
    drop(logger.step(0));
    logger.on_train_epoch_end(0);
    drop(logger.step(1));
    let report = logger.close();
    assert_eq!(rows.len(), 5);
    assert!(
        matches!(&report.failed_sinks[..], [f] if f.sink == "flushy" && matches!(&f.kind, SinkFailureKind::Panicked(m) if m.contains("flush failed hard"))),
        "{report:?}"
    );
}

#[test]
fn sync_to_disk_leaves_every_row_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(sim())
        .csv(dir.path().join("gpu.csv"))
        .tensorboard(dir.path().join("tb"))
        .sync_to_disk(true)
        .epoch_time(true)
        .build()
        .unwrap();
    logger.on_train_epoch_start(0);
    for step in 0..5 {
        drop(logger.step(step));
    }
    logger.on_train_epoch_end(0);
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");
    let text = std::fs::read_to_string(dir.path().join("gpu.csv")).unwrap();
    assert_eq!(text.lines().count(), 12, "{text}"); // header, 10 batch rows, the epoch row
}

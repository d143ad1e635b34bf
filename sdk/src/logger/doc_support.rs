//! Shared set-up of the logger's documentation examples, so each example
//! shows only what it teaches. Not part of the API.

use std::sync::Arc;

use crate::GpuStatsLogger;
use crate::backend::sim::SimBackend;
use crate::sink::{MemoryRecords, MemorySink};

/// A logger for GPU 0 of the default simulated machine with step and epoch
/// times on, writing to a memory sink, and the handle to its rows.
///
/// # Panics
/// If the simulated logger cannot be built (a bug).
#[must_use]
#[allow(clippy::expect_used)]
pub fn memory_logger() -> (GpuStatsLogger, MemoryRecords) {
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(sink))
        .intra_step_time(true)
        .inter_step_time(true)
        .epoch_time(true)
        .build()
        .expect("the simulated logger builds");
    (logger, rows)
}

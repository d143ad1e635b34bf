//! The sink thread: turns hook records into rows and hands them to every
//! sink. All I/O of the logger happens here, never on the training thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

use super::LogReport;
use super::keys::LoggerKeys;
use super::record::{HookEvent, Message};
use crate::sampler::Sampler;
use crate::sink::{LogRecord, Sink};

/// Sinks are flushed at least this often, even when no record arrives, so
/// a process killed with SIGKILL leaves readable files up to here.
const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// How often the idle sink thread looks for new records. It polls instead
/// of blocking on the channel so that it is never a parked receiver: a
/// hook's `try_send` then has nobody to wake, which keeps every system call
/// (a futex wake per record) off the training thread. The channel holds
/// far more than a poll period of records.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// How many distinct error messages the report keeps (the count is exact).
const KEEP_ERRORS: usize = 16;

pub(crate) struct Worker {
    pub sinks: Vec<Box<dyn Sink>>,
    pub keys: LoggerKeys,
    pub sampler: Arc<Sampler>,
    pub receiver: Receiver<Message>,
    pub dropped: Arc<AtomicU64>,
}

struct State {
    report: LogReport,
    values: Vec<Option<f64>>,
    last_flush: Instant,
}

impl State {
    fn error(&mut self, sink: &dyn Sink, err: &dyn std::fmt::Display) {
        self.report.error_count += 1;
        let message = format!("{}: {err}", sink.describe());
        if self.report.errors.len() < KEEP_ERRORS && !self.report.errors.contains(&message) {
            log::warn!("GPU stats logger: {message}");
            self.report.errors.push(message);
        }
    }
}

impl Worker {
    /// Runs until every sender is gone; returns the final report.
    pub(crate) fn run(mut self) -> LogReport {
        let mut state = State {
            report: LogReport::default(),
            values: Vec::new(),
            last_flush: Instant::now(),
        };
        let keys = self.keys.names().to_vec();
        for sink in &mut self.sinks {
            if let Err(err) = sink.start(&keys) {
                state.error(sink.as_ref(), &err);
            }
        }
        loop {
            match self.receiver.try_recv() {
                Ok(Message::Record(record)) => {
                    let sample = self.sampler.sample(record.seq);
                    self.keys.fill(&record, &sample, &mut state.values);
                    let batch = matches!(record.event, HookEvent::BatchStart | HookEvent::BatchEnd);
                    if !batch && state.values.iter().all(Option::is_none) {
                        // An epoch, validation or train end with nothing to
                        // say (epoch_time off): no blank CSV row, no empty
                        // event; only the flush an end asks for.
                        if matches!(record.event, HookEvent::EpochEnd | HookEvent::TrainEnd) {
                            self.flush(&mut state);
                        }
                        continue;
                    }
                    let row = LogRecord {
                        wall_time: record.wall_time,
                        step: record.step,
                        epoch: record.epoch,
                        keys: &keys,
                        values: &state.values,
                    };
                    let mut failures = Vec::new();
                    for (i, sink) in self.sinks.iter_mut().enumerate() {
                        if let Err(err) = sink.write(&row) {
                            failures.push((i, err));
                        }
                    }
                    let ok = failures.is_empty();
                    for (i, err) in failures {
                        state.error(self.sinks[i].as_ref(), &err);
                    }
                    if ok {
                        state.report.written += 1;
                    }
                    if matches!(record.event, HookEvent::EpochEnd | HookEvent::TrainEnd)
                        || state.last_flush.elapsed() >= FLUSH_EVERY
                    {
                        self.flush(&mut state);
                    }
                }
                Ok(Message::Flush(reply)) => {
                    self.flush(&mut state);
                    state.report.dropped = self.dropped.load(Ordering::Relaxed);
                    // The caller may have given up waiting; nothing to do then.
                    let _ = reply.send(state.report.clone());
                }
                Err(TryRecvError::Empty) => {
                    if state.last_flush.elapsed() >= FLUSH_EVERY {
                        self.flush(&mut state);
                    }
                    std::thread::sleep(POLL_EVERY);
                }
                Err(TryRecvError::Disconnected) => break,
            }
        }
        for sink in &mut self.sinks {
            if let Err(err) = sink.close() {
                state.error(sink.as_ref(), &err);
            }
        }
        state.report.dropped = self.dropped.load(Ordering::Relaxed);
        state.report
    }

    fn flush(&mut self, state: &mut State) {
        for sink in &mut self.sinks {
            if let Err(err) = sink.flush() {
                state.error(sink.as_ref(), &err);
            }
        }
        state.last_flush = Instant::now();
    }
}

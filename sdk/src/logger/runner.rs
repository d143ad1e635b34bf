//! One sink on a thread of its own, so that a sink that panics or hangs
//! cannot stop the others or the logger's `flush()`/`close()`.
//!
//! The sink thread hands each runner rows through a bounded queue with
//! `try_send`: a runner that falls behind loses rows (counted), it never
//! makes the sink thread wait. Every call into the sink is wrapped in
//! `catch_unwind`; after a panic the sink is never called again.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{LogReport, SinkFailure, SinkFailureKind};
use crate::sink::{LogRecord, RecordKind, Sink, SinkError};

/// How many distinct error messages the report keeps per sink (the count is exact).
const KEEP_ERRORS: usize = 16;

/// One row, owned, shared by every runner.
#[derive(Debug)]
pub(crate) struct Row {
    pub wall_time: f64,
    pub step: u64,
    pub epoch: Option<u64>,
    pub kind: RecordKind,
    pub keys: Arc<Vec<String>>,
    pub values: Vec<Option<f64>>,
}

enum Job {
    Write(Arc<Row>),
    /// Flush (with `fsync` when `.0`); the runner then marks ticket `.1` done.
    Flush(bool, u64),
    /// Close (after an `fsync` when `.0`); ticket `.1`.
    Close(bool, u64),
}

/// What a runner's thread reports back (locked briefly, never across a sink call).
#[derive(Debug, Default)]
struct Status {
    written: u64,
    /// Rows taken off the queue, whatever became of them.
    taken: u64,
    error_count: u64,
    errors: Vec<String>,
    panicked: Option<String>,
    /// Rows not given to the sink because it had panicked.
    lost_after_panic: u64,
    done_ticket: u64,
}

pub(crate) struct SinkRunner {
    name: String,
    jobs: Sender<Job>,
    status: Arc<Mutex<Status>>,
    handle: Option<JoinHandle<()>>,
    next_ticket: u64,
    /// Rows the queue had no room for.
    lost_full: u64,
    /// Rows queued.
    sent: u64,
    hung: bool,
    /// A flush or close that found the queue full, retried while waiting.
    pending_control: Option<Job>,
}

fn lock(status: &Mutex<Status>) -> std::sync::MutexGuard<'_, Status> {
    status.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SinkRunner {
    /// Starts sink number `index` on its own thread and calls its `start` with `keys`.
    /// Its queue holds `queue` rows: at least the hook channel's capacity,
    /// so a burst the channel took never overflows a sink that keeps up.
    pub(crate) fn spawn(index: usize, sink: Box<dyn Sink>, keys: &Arc<Vec<String>>, queue: usize) -> Self {
        let name = describe(sink.as_ref());
        let (jobs, receiver) = crossbeam_channel::bounded(queue.max(super::worker::SINK_QUEUE));
        let status = Arc::new(Mutex::new(Status::default()));
        let thread_status = Arc::clone(&status);
        let keys = Arc::clone(keys);
        let handle = std::thread::Builder::new()
            .name(format!("nvitop-sink-{index}"))
            .spawn(move || run(sink, &keys, &receiver, &thread_status));
        let handle = match handle {
            Ok(handle) => Some(handle),
            Err(err) => {
                // No thread: the sink never writes; say so in the report.
                lock(&status).panicked = Some(format!("could not start its thread: {err}"));
                None
            }
        };
        Self {
            name,
            jobs,
            status,
            handle,
            next_ticket: 0,
            lost_full: 0,
            sent: 0,
            hung: false,
            pending_control: None,
        }
    }

    pub(crate) fn write(&mut self, row: &Arc<Row>) {
        if self.handle.is_none() {
            self.lost_full += 1;
            return;
        }
        match self.jobs.try_send(Job::Write(Arc::clone(row))) {
            Ok(()) => self.sent += 1,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.lost_full += 1,
        }
    }

    /// Queues a flush; returns its ticket (see [`done`](Self::done)).
    pub(crate) fn flush(&mut self, sync: bool) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.send_control(Job::Flush(sync, ticket));
        ticket
    }

    /// Queues the close; returns its ticket.
    pub(crate) fn close(&mut self, sync: bool) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.send_control(Job::Close(sync, ticket));
        ticket
    }

    fn send_control(&mut self, job: Job) {
        if self.handle.is_none() {
            return;
        }
        // Never a blocking send: a full queue keeps the job to retry
        // while the caller waits (`retry`); a sink that never makes room
        // is marked hung at the deadline. A newer control job replaces an
        // unsent one (a close supersedes a flush).
        if let Err(TrySendError::Full(job)) = self.jobs.try_send(job) {
            self.pending_control = Some(job);
        }
    }

    /// Tries again to queue a flush or close that found the queue full.
    pub(crate) fn retry(&mut self) {
        if let Some(job) = self.pending_control.take() {
            self.send_control(job);
        }
    }

    /// Whether the job with `ticket` is done (always, for a sink without a thread).
    pub(crate) fn done(&self, ticket: u64) -> bool {
        self.handle.is_none() || lock(&self.status).done_ticket >= ticket
    }

    pub(crate) fn mark_hung(&mut self) {
        if !self.hung {
            log::warn!(
                "GPU stats logger: sink {} did not answer in time; it is reported hung",
                self.name
            );
        }
        self.hung = true;
    }

    /// Adds this sink's figures to `report` (`written` is the minimum over sinks).
    pub(crate) fn add_to(&self, report: &mut LogReport) {
        let status = lock(&self.status);
        report.written = report.written.min(status.written);
        report.error_count += status.error_count;
        for message in &status.errors {
            if !report.errors.contains(message) {
                report.errors.push(message.clone());
            }
        }
        // Rows still queued (a hung sink's) are lost too.
        let rows_lost = self.lost_full + status.lost_after_panic + self.sent.saturating_sub(status.taken);
        let kind = if let Some(message) = &status.panicked {
            Some(SinkFailureKind::Panicked(message.clone()))
        } else if self.hung {
            Some(SinkFailureKind::Hung)
        } else if self.lost_full > 0 {
            Some(SinkFailureKind::FellBehind)
        } else {
            None
        };
        if let Some(kind) = kind {
            report.failed_sinks.push(SinkFailure {
                sink: self.name.clone(),
                kind,
                rows_lost,
            });
        }
    }

    /// Joins a thread that finished; leaves a hung one behind (it ends when
    /// its sink call returns, or with the process).
    pub(crate) fn join_or_detach(mut self) {
        if let Some(handle) = self.handle.take()
            && handle.is_finished()
        {
            let _ = handle.join();
        }
    }
}

/// The sink's name for messages; a panicking `describe` gets a stand-in.
fn describe(sink: &dyn Sink) -> String {
    catch_unwind(AssertUnwindSafe(|| sink.describe())).unwrap_or_else(|_| "<sink whose describe() panicked>".to_owned())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn run(mut sink: Box<dyn Sink>, keys: &[String], jobs: &Receiver<Job>, status: &Mutex<Status>) {
    let name = describe(sink.as_ref());
    let mut alive = true;
    // Calls the sink; a panic retires it, an error is counted.
    let mut call = |what: &str, f: &mut dyn FnMut(&mut dyn Sink) -> Result<(), SinkError>, alive: &mut bool| -> bool {
        if !*alive {
            return false;
        }
        match catch_unwind(AssertUnwindSafe(|| f(sink.as_mut()))) {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                let mut status = lock(status);
                status.error_count += 1;
                let message = format!("{name}: {err}");
                if status.errors.len() < KEEP_ERRORS && !status.errors.contains(&message) {
                    log::warn!("GPU stats logger: {message}");
                    status.errors.push(message);
                }
                false
            }
            Err(payload) => {
                let message = format!("in {what}: {}", panic_message(payload.as_ref()));
                log::error!("GPU stats logger: sink {name} panicked {message}; it gets no more rows");
                lock(status).panicked = Some(message);
                *alive = false;
                false
            }
        }
    };
    call("start", &mut |s| s.start(keys), &mut alive);
    for job in jobs {
        match job {
            Job::Write(row) => {
                lock(status).taken += 1;
                let record = LogRecord {
                    wall_time: row.wall_time,
                    step: row.step,
                    epoch: row.epoch,
                    kind: row.kind,
                    keys: &row.keys,
                    values: &row.values,
                };
                let written = call("write", &mut |s| s.write(&record), &mut alive);
                if written {
                    lock(status).written += 1;
                } else if !alive {
                    // Retired before this row, or by a panic writing it.
                    lock(status).lost_after_panic += 1;
                }
            }
            Job::Flush(sync, ticket) => {
                if sync {
                    call("sync", &mut |s| s.sync(), &mut alive);
                } else {
                    call("flush", &mut |s| s.flush(), &mut alive);
                }
                lock(status).done_ticket = ticket;
            }
            Job::Close(sync, ticket) => {
                if sync {
                    call("sync", &mut |s| s.sync(), &mut alive);
                }
                call("close", &mut |s| s.close(), &mut alive);
                lock(status).done_ticket = ticket;
                return;
            }
        }
    }
}

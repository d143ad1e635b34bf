//! The sink thread: turns hook records into rows and hands them to every
//! sink. All I/O of the logger happens off the training thread.
//!
//! Each sink runs on a thread of its own ([`super::runner`]) behind a
//! bounded queue, so a sink that panics or hangs (a user's `Sink` blocked on
//! a network share) costs only its own rows: the others keep writing, and
//! `flush()`/`close()` stop waiting for it at their deadline and report it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::LogReport;
use super::clock::Clock;
use super::energy::EnergyMeter;
use super::keys::LoggerKeys;
use super::record::{HookEvent, Message, ScalarRecord};
use super::runner::{Row, SinkRunner};
use crate::sampler::Sampler;
use crate::sink::{RecordKind, Sink};
use crate::training::StatusPublisher;
use crate::training::publisher::Hook;

/// Sinks are flushed at least this often, even when no record arrives, so
/// a process killed with SIGKILL leaves readable files up to here.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// How often the idle sink thread looks for new records. It polls instead
/// of blocking on the channel so that it is never a parked receiver: a
/// hook's `try_send` then has nobody to wake, which keeps every system call
/// (a futex wake per record) off the training thread. The channel holds
/// far more than a poll period of records.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// The least number of rows queued for one sink before it counts as fallen behind and loses rows.
pub(crate) const SINK_QUEUE: usize = 1024;

pub(crate) struct Worker {
    pub sinks: Vec<Box<dyn Sink>>,
    pub keys: LoggerKeys,
    pub sampler: Arc<Sampler>,
    pub receiver: Receiver<Message>,
    pub dropped: Arc<AtomicU64>,
    pub rejected: Arc<AtomicU64>,
    pub clock: Arc<dyn Clock>,
    /// `fsync` the files at epoch end and close.
    pub sync_to_disk: bool,
    /// How long closing waits for the sinks.
    pub close_timeout: Duration,
    /// Where the final report goes (the closing caller waits on it with a bound).
    pub done: Sender<LogReport>,
    /// Build-time warnings (metrics a device cannot report), repeated in every report.
    pub warnings: Vec<String>,
    /// This process's training status record (`None`: opted out).
    pub status: Option<StatusPublisher>,
    /// Per-step energy (`None`: the energy keys are off).
    pub energy: Option<EnergyMeter>,
    /// The GPUs' labels (`gpu_id: 0`), for the report's energy totals.
    pub gpu_labels: Vec<String>,
}

/// Rows on their way to the sinks. With energy on, a batch-end row waits
/// until a sample after its step's end exists (its energy is then known),
/// and every row after it waits behind it, so the sinks see rows in order.
struct Output {
    runners: Vec<SinkRunner>,
    held: VecDeque<(Row, Option<(u64, u64)>)>,
    meter: Option<EnergyMeter>,
    energy_columns: Vec<(usize, usize, bool)>,
    /// This process's training status record (`None`: opted out); it
    /// hears each finalized step's energy too.
    status: Option<StatusPublisher>,
}

impl Output {
    fn write(&mut self, row: Row, span: Option<(u64, u64)>) {
        if self.meter.is_some() && (span.is_some() || !self.held.is_empty()) {
            self.held.push_back((row, span));
        } else {
            let row = Arc::new(row);
            for runner in &mut self.runners {
                runner.write(&row);
            }
        }
    }

    /// Writes the held rows whose energy is known (all of them when
    /// `force`: closing or flushing, after a fresh sample).
    fn release(&mut self, sampler: &Sampler, force: bool) {
        let Some(meter) = &mut self.meter else { return };
        meter.poll(sampler);
        while let Some((_, span)) = self.held.front() {
            if let Some((_, end)) = span
                && !force
                && !meter.ready(*end)
            {
                break;
            }
            let Some((mut row, span)) = self.held.pop_front() else {
                break;
            };
            if let Some((start, end)) = span {
                let mut run_total: Option<f64> = None;
                for &(col, device, total) in &self.energy_columns {
                    let (step, run) = meter.step(device, start, end);
                    if let Some(slot) = row.values.get_mut(col) {
                        *slot = if total { run } else { step };
                    }
                    if total && let Some(joules) = run {
                        run_total = Some(run_total.unwrap_or(0.0) + joules);
                    }
                }
                // The status record's energy per step: the logged GPUs'
                // energy so far, at the step's end.
                if let (Some(status), Some(joules)) = (&mut self.status, run_total) {
                    status.energy(joules, meter.instant(end));
                }
            }
            let row = Arc::new(row);
            for runner in &mut self.runners {
                runner.write(&row);
            }
        }
        let keep_from = self.held.iter().find_map(|(_, span)| span.map(|(start, _)| start));
        meter.trim(keep_from.unwrap_or(u64::MAX));
    }

    /// Writes every held row, after a fresh sample so the last steps' energy is known.
    fn release_all(&mut self, sampler: &Sampler) {
        if !self.held.is_empty() {
            sampler.sample_now();
        }
        self.release(sampler, true);
    }
}

/// Scalars of one `log_scalars` call, gathered into one row.
struct PendingScalars {
    batch: u64,
    step: u64,
    epoch: Option<u64>,
    wall_time: f64,
    values: Vec<Option<f64>>,
    extra: Vec<(String, f64)>,
}

impl Worker {
    /// Runs until every sender is gone (or a close message comes); sends the final report.
    pub(crate) fn run(self) {
        let Self {
            sinks,
            keys,
            sampler,
            receiver,
            dropped,
            rejected,
            clock,
            sync_to_disk,
            close_timeout,
            done,
            warnings,
            status,
            energy,
            gpu_labels,
        } = self;
        let names: Arc<Vec<String>> = Arc::new(keys.names().to_vec());
        let runners: Vec<SinkRunner> = sinks
            .into_iter()
            .enumerate()
            .map(|(i, sink)| SinkRunner::spawn(i, sink, &names, receiver.capacity().unwrap_or(SINK_QUEUE)))
            .collect();
        let mut out = Output {
            runners,
            held: VecDeque::new(),
            meter: energy,
            energy_columns: keys.energy_columns(),
            status,
        };
        let report = |out: &Output| {
            let runners = &out.runners;
            let mut report = LogReport {
                dropped: dropped.load(Ordering::Relaxed),
                rejected: rejected.load(Ordering::Relaxed),
                warnings: warnings.clone(),
                ..LogReport::default()
            };
            report.written = u64::MAX;
            for runner in runners {
                runner.add_to(&mut report);
            }
            if runners.is_empty() {
                report.written = 0;
            }
            if let Some(meter) = &out.meter {
                report.energy_mj = gpu_labels
                    .iter()
                    .zip(meter.totals())
                    .filter_map(|(label, joules)| joules.map(|j| (label.clone(), (j * 1000.0).round() as u64)))
                    .collect();
            }
            report
        };
        let mut values = Vec::new();
        let mut last_flush = clock.now();
        let mut pending: Option<PendingScalars> = None;
        let close_deadline = loop {
            match receiver.try_recv() {
                Ok(Message::Record(record)) => {
                    emit_scalars(&mut pending, &names, &mut out);
                    if let Some(status) = &mut out.status {
                        status.hook(status_hook(record.event), record.step, record.epoch, record.wall_time);
                        status.tick(Instant::now());
                    }
                    // A validation start is for the status record only.
                    let Some(kind) = record.event.kind() else {
                        continue;
                    };
                    let sample = sampler.sample(record.seq);
                    keys.fill(&record, &sample, &mut values);
                    let batch = matches!(record.event, HookEvent::BatchStart | HookEvent::BatchEnd);
                    let ends = matches!(record.event, HookEvent::EpochEnd | HookEvent::TrainEnd);
                    // An epoch, validation or train end with nothing to say
                    // (epoch_time off) makes no blank CSV row, no empty event;
                    // only the flush an end asks for.
                    if batch || values.iter().any(Option::is_some) {
                        let row = Row {
                            wall_time: record.wall_time,
                            step: record.step,
                            epoch: record.epoch,
                            kind,
                            keys: Arc::clone(&names),
                            values: values.clone(),
                        };
                        out.write(row, record.span_ns.filter(|_| record.event == HookEvent::BatchEnd));
                    }
                    if ends {
                        out.release_all(&sampler);
                    } else {
                        out.release(&sampler, false);
                    }
                    if ends || clock.now().saturating_sub(last_flush) >= FLUSH_EVERY {
                        for runner in &mut out.runners {
                            runner.flush(ends && sync_to_disk);
                        }
                        last_flush = clock.now();
                    }
                }
                Ok(Message::Scalar(scalar)) => {
                    if pending.as_ref().is_some_and(|p| p.batch != scalar.batch) {
                        emit_scalars(&mut pending, &names, &mut out);
                    }
                    add_scalar(&mut pending, &scalar, &keys, names.len());
                    if scalar.last {
                        emit_scalars(&mut pending, &names, &mut out);
                    }
                }
                Ok(Message::Flush { reply, deadline, sync }) => {
                    emit_scalars(&mut pending, &names, &mut out);
                    out.release_all(&sampler);
                    let tickets: Vec<u64> = out.runners.iter_mut().map(|r| r.flush(sync)).collect();
                    // Answer a little before the caller's deadline, so the
                    // answer (naming any sink that did not finish) arrives.
                    let until = deadline.checked_sub(answer_margin(deadline)).unwrap_or(deadline);
                    wait_for(&mut out.runners, &tickets, until);
                    last_flush = clock.now();
                    // The caller may have given up waiting; nothing to do then.
                    let _ = reply.send(report(&out));
                }
                Ok(Message::Close { deadline }) => break deadline,
                Err(TryRecvError::Empty) => {
                    if let Some(status) = &mut out.status {
                        // At most one write a second; a stalled run shows
                        // its growing time since the last hook.
                        status.tick(Instant::now());
                    }
                    out.release(&sampler, false);
                    if clock.now().saturating_sub(last_flush) >= FLUSH_EVERY {
                        for runner in &mut out.runners {
                            runner.flush(false);
                        }
                        last_flush = clock.now();
                    }
                    std::thread::sleep(POLL_EVERY);
                }
                Err(TryRecvError::Disconnected) => break Instant::now() + close_timeout,
            }
        };
        emit_scalars(&mut pending, &names, &mut out);
        out.release_all(&sampler);
        let tickets: Vec<u64> = out.runners.iter_mut().map(|r| r.close(sync_to_disk)).collect();
        let until = close_deadline
            .checked_sub(answer_margin(close_deadline))
            .unwrap_or(close_deadline);
        wait_for(&mut out.runners, &tickets, until);
        let report = report(&out);
        for runner in out.runners {
            runner.join_or_detach();
        }
        // The record goes before the closing caller hears back, so once
        // `close()` returns no status of this run is left.
        drop(out.status.take());
        // The closing caller may have given up; nothing to do then.
        let _ = done.send(report);
    }
}

/// How much earlier than `deadline` the worker answers: a tenth of the time
/// left, between 1 and 100 ms.
fn answer_margin(deadline: Instant) -> Duration {
    (deadline.saturating_duration_since(Instant::now()) / 10)
        .clamp(Duration::from_millis(1), Duration::from_millis(100))
}

/// Waits until every runner has done its ticket or `until` passes; those
/// that have not are marked hung.
fn wait_for(runners: &mut [SinkRunner], tickets: &[u64], until: Instant) {
    loop {
        for runner in runners.iter_mut() {
            runner.retry();
        }
        let waiting = runners.iter().zip(tickets).filter(|(r, t)| !r.done(**t)).count();
        if waiting == 0 {
            return;
        }
        if Instant::now() >= until {
            for (runner, ticket) in runners.iter_mut().zip(tickets) {
                if !runner.done(*ticket) {
                    runner.mark_hung();
                }
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn add_scalar(pending: &mut Option<PendingScalars>, scalar: &ScalarRecord, keys: &LoggerKeys, width: usize) {
    let p = pending.get_or_insert_with(|| PendingScalars {
        batch: scalar.batch,
        step: scalar.step,
        epoch: scalar.epoch,
        wall_time: scalar.wall_time,
        values: vec![None; width],
        extra: Vec::new(),
    });
    let tag = scalar.tag();
    match keys.scalar_column(tag) {
        Some(i) => p.values[i] = Some(scalar.value),
        None => match p.extra.iter_mut().find(|(t, _)| t == tag) {
            Some((_, v)) => *v = scalar.value,
            None => p.extra.push((tag.to_owned(), scalar.value)),
        },
    }
}

/// Hands the gathered scalars to the sinks as one `scalar` row: declared
/// tags in their columns, the others after every key (the CSV sink sends
/// those to its side file).
fn emit_scalars(pending: &mut Option<PendingScalars>, names: &Arc<Vec<String>>, out: &mut Output) {
    let Some(p) = pending.take() else { return };
    let (keys, mut values) = if p.extra.is_empty() {
        (Arc::clone(names), p.values)
    } else {
        let mut keys = names.as_ref().clone();
        keys.extend(p.extra.iter().map(|(t, _)| t.clone()));
        (Arc::new(keys), p.values)
    };
    values.extend(p.extra.iter().map(|(_, v)| Some(*v)));
    let row = Row {
        wall_time: p.wall_time,
        step: p.step,
        epoch: p.epoch,
        kind: RecordKind::Scalar,
        keys,
        values,
    };
    out.write(row, None);
}

/// The status publisher's view of a hook.
fn status_hook(event: HookEvent) -> Hook {
    match event {
        HookEvent::BatchStart => Hook::BatchStart,
        HookEvent::BatchEnd => Hook::BatchEnd,
        HookEvent::EpochEnd => Hook::Epoch,
        HookEvent::ValidationStart => Hook::ValidationStart,
        HookEvent::ValidationEnd => Hook::ValidationEnd,
        HookEvent::TrainEnd => Hook::TrainEnd,
    }
}

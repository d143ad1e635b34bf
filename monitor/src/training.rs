//! Training status in the monitor's output: each GPU process that
//! publishes a status record (see `nvitop::training` and
//! `docs/TRAINING_STATUS.md`) gets a `training` object in `--json`.
//!
//! A process is matched to a record by pid and start time, so a record of
//! a process whose pid was reused never lands on the new one.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write;

use nvitop::Snapshot;
use nvitop::snapshot::ProcessSnapshot;
use nvitop::training::{Phase, ProcessIdentity, TrainingRecord};
use serde::Serialize;

/// The `training` object of one process in `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingJson {
    /// Last step the loop reported.
    pub step: u64,
    /// Current epoch, `null` when the loop reports none.
    pub epoch: Option<u64>,
    /// `train`, `validation` or `done`.
    pub phase: Phase,
    /// Steps per second over the last minute.
    pub steps_per_second: Option<f64>,
    /// Seconds since the loop's last hook, as of this run of the monitor.
    pub seconds_since_last_step: f64,
    /// Median step time over the last minute, seconds.
    pub step_time_p50_seconds: Option<f64>,
    /// 99th percentile step time over the last minute, seconds.
    pub step_time_p99_seconds: Option<f64>,
    /// Total steps, when the loop gave them.
    pub total_steps: Option<u64>,
    /// Seconds left at the current rate, when the total is known.
    pub eta_seconds: Option<f64>,
    /// Run name.
    pub run_name: Option<String>,
    /// The logger's log directory.
    pub log_dir: Option<String>,
    /// Joules per step over the last minute, when measured.
    pub energy_per_step_joules: Option<f64>,
}

impl TrainingJson {
    /// The object for `record`, with the stall time brought up to `now`
    /// (seconds since the Unix epoch).
    ///
    /// ```
    /// use nvitop::training::TrainingRecord;
    /// use nvitop_monitor::training::TrainingJson;
    /// let record: TrainingRecord = serde_json::from_str(r#"{"version":1,"pid":9,"start_ticks":1,
    ///     "step":1200,"epoch":3,"phase":"train","steps_per_second":4.5,
    ///     "seconds_since_last_hook":0.25,"written_at":100.0}"#)?;
    /// let json = TrainingJson::from_record(&record, 101.0);
    /// assert_eq!((json.step, json.epoch, json.seconds_since_last_step), (1200, Some(3), 1.25));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_record(record: &TrainingRecord, now: f64) -> Self {
        Self {
            step: record.step,
            epoch: record.epoch,
            phase: record.phase,
            steps_per_second: record.steps_per_second,
            seconds_since_last_step: record.seconds_since_last_hook_at(now),
            step_time_p50_seconds: record.step_time_p50_seconds,
            step_time_p99_seconds: record.step_time_p99_seconds,
            total_steps: record.total_steps,
            eta_seconds: record.eta_seconds(),
            run_name: record.run_name.clone(),
            log_dir: record.log_dir.as_ref().map(|p| p.display().to_string()),
            energy_per_step_joules: record.energy_per_step_joules,
        }
    }
}

/// The record of `process`, matched by pid and start time; `None` without
/// host details (the start time is unknown) or without a record.
pub fn record_of<'a, S: BuildHasher>(
    process: &ProcessSnapshot,
    records: &'a HashMap<ProcessIdentity, TrainingRecord, S>,
) -> Option<&'a TrainingRecord> {
    let host = process.host.as_ref()?;
    records.get(&ProcessIdentity {
        pid: process.pid,
        start_ticks: host.start_ticks,
    })
}

/// Writes `snapshot` as pretty JSON, each process with a record carrying
/// a `training` object (absent for the others).
///
/// Without any matching record the snapshot is streamed as it is; with
/// one, it goes through a `serde_json::Value` to add the objects (the
/// whole text in memory once, only on machines running such a logger).
pub fn write_json<S: BuildHasher>(
    out: &mut dyn Write,
    snapshot: &Snapshot,
    records: &HashMap<ProcessIdentity, TrainingRecord, S>,
    now: f64,
) -> serde_json::Result<()> {
    let training: Vec<Option<TrainingJson>> = snapshot
        .processes
        .iter()
        .map(|p| record_of(p, records).map(|r| TrainingJson::from_record(r, now)))
        .collect();
    if training.iter().all(Option::is_none) {
        return serde_json::to_writer_pretty(out, snapshot);
    }
    let mut value = serde_json::to_value(snapshot)?;
    if let Some(rows) = value.get_mut("processes").and_then(serde_json::Value::as_array_mut) {
        for (row, training) in rows.iter_mut().zip(training) {
            if let (Some(object), Some(training)) = (row.as_object_mut(), training) {
                object.insert("training".to_owned(), serde_json::to_value(training)?);
            }
        }
    }
    serde_json::to_writer_pretty(out, &value)
}

/// A run counts as stalled after this many of its usual (median) steps
/// without a hook.
pub const STALL_STEPS: f64 = 10.0;

/// The least silence that counts as a stall, seconds: a record is written
/// at most once a second and read up to a refresh later, so a fast loop's
/// last hook looks up to about two seconds old while it runs fine.
pub const STALL_FLOOR_SECONDS: f64 = 3.0;

/// Whether the run looks stalled at `now` (seconds since the Unix epoch):
/// no hook for longer than [`STALL_STEPS`] times its median step time (and
/// at least [`STALL_FLOOR_SECONDS`]). A finished run, one with no step
/// time yet, and one in validation are not called stalled: the logger
/// hears no hook during a validation pass, whose length has nothing to do
/// with the training step time.
///
/// ```
/// use nvitop::training::TrainingRecord;
/// use nvitop_monitor::training::is_stalled;
/// let record: TrainingRecord = serde_json::from_str(r#"{"version":1,"pid":9,"start_ticks":1,
///     "step":50,"phase":"train","step_time_p50_seconds":2.0,
///     "seconds_since_last_hook":0.0,"written_at":100.0}"#)?;
/// assert!(!is_stalled(&record, 119.0));
/// assert!(is_stalled(&record, 121.0));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn is_stalled(record: &TrainingRecord, now: f64) -> bool {
    let Some(p50) = record.step_time_p50_seconds else {
        return false;
    };
    record.phase == Phase::Train
        && record.seconds_since_last_hook_at(now) > (STALL_STEPS * p50).max(STALL_FLOOR_SECONDS)
}

/// The compact progress mark for a process row: `step 12.3k · 4.1 it/s`
/// (`s/it` below one step a second, `val` while validating, `done` at the
/// end).
///
/// ```
/// use nvitop::training::TrainingRecord;
/// use nvitop_monitor::training::progress_mark;
/// let mut record: TrainingRecord = serde_json::from_str(r#"{"version":1,"pid":9,"start_ticks":1,
///     "step":12345,"phase":"train","steps_per_second":4.13,
///     "seconds_since_last_hook":0.0,"written_at":100.0}"#)?;
/// assert_eq!(progress_mark(&record), "step 12.3k · 4.1 it/s");
/// record.steps_per_second = Some(0.25);
/// assert_eq!(progress_mark(&record), "step 12.3k · 4.0 s/it");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn progress_mark(record: &TrainingRecord) -> String {
    let step = compact_count(record.step);
    let rate = match record.steps_per_second {
        Some(rate) if rate >= 1.0 => format!("{rate:.1} it/s"),
        Some(rate) if rate > 0.0 => format!("{:.1} s/it", 1.0 / rate),
        _ => "-- it/s".to_owned(),
    };
    match record.phase {
        Phase::Train => format!("step {step} · {rate}"),
        Phase::Validation => format!("step {step} · val"),
        Phase::Done => format!("step {step} · done"),
    }
}

/// A process row's training mark: the text drawn at the start of the
/// COMMAND column and whether the run looks stalled (highlighted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowMark {
    /// `step 12.3k · 4.1 it/s`, or `STALLED 45s · step 12.3k`.
    pub text: String,
    /// Whether [`is_stalled`] holds at the time of reading.
    pub stalled: bool,
}

/// The mark of `record` as of `now` (seconds since the Unix epoch): the
/// progress mark, or for a stalled run how long it has been silent.
///
/// ```
/// use nvitop::training::TrainingRecord;
/// use nvitop_monitor::training::row_mark;
/// let record: TrainingRecord = serde_json::from_str(r#"{"version":1,"pid":9,"start_ticks":1,
///     "step":1500,"phase":"train","steps_per_second":2.0,"step_time_p50_seconds":0.5,
///     "seconds_since_last_hook":0.0,"written_at":100.0}"#)?;
/// assert_eq!(row_mark(&record, 101.0).text, "step 1.5k · 2.0 it/s");
/// let stalled = row_mark(&record, 145.0);
/// assert!(stalled.stalled);
/// assert_eq!(stalled.text, "STALLED 45s · step 1.5k");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn row_mark(record: &TrainingRecord, now: f64) -> RowMark {
    if is_stalled(record, now) {
        let silent = short_duration(record.seconds_since_last_hook_at(now));
        return RowMark {
            text: format!("STALLED {silent} · step {}", compact_count(record.step)),
            stalled: true,
        };
    }
    RowMark {
        text: progress_mark(record),
        stalled: false,
    }
}

/// `45s`, `12m`, `3h`, `2d`: whole units, rounded down.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn short_duration(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `812`, `12.3k`, `4.6M`, `1.2G`.
fn compact_count(n: u64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, unit) in UNITS {
        let value = n as f64 / scale;
        // 999_950 would print as 1000.0k: it is 1.0M.
        if value >= 0.999_95 {
            return format!("{value:.1}{unit}");
        }
    }
    n.to_string()
}

/// Seconds since the Unix epoch by the real clock (not the simulator's:
/// records are stamped by the training process's wall clock).
pub fn wall_clock_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use nvitop::backend::{Backend, sim::SimBackend};
    use nvitop::training::Progress;

    use super::*;

    #[test]
    fn compact_counts() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1.0k"),
            (12_345, "12.3k"),
            (999_949, "999.9k"),
            (999_950, "1.0M"),
            (4_600_000, "4.6M"),
            (1_200_000_000, "1.2G"),
        ];
        for (n, text) in cases {
            assert_eq!(compact_count(n), text, "{n}");
        }
    }

    #[test]
    fn marks_for_each_phase_and_the_stall_floor() {
        let mut record: TrainingRecord = serde_json::from_str(
            r#"{"version":1,"pid":9,"start_ticks":1,"step":7,"phase":"validation",
               "step_time_p50_seconds":0.01,"seconds_since_last_hook":0.5,"written_at":100.0}"#,
        )
        .unwrap();
        assert_eq!(progress_mark(&record), "step 7 · val");
        // A validation pass makes no hook: however long, it is no stall.
        assert!(!is_stalled(&record, 1000.0), "validating is not stalled");
        record.phase = Phase::Train;
        // A 10 ms loop read 2 s after its last write is not stalled...
        assert!(!is_stalled(&record, 102.0));
        // ... 3.5 s of silence is.
        assert!(is_stalled(&record, 103.0));
        record.phase = Phase::Done;
        assert_eq!(progress_mark(&record), "step 7 · done");
        assert!(!is_stalled(&record, 1000.0), "a finished run is not stalled");
        record.phase = Phase::Train;
        record.step_time_p50_seconds = None;
        assert!(!is_stalled(&record, 1000.0), "no step time yet: no judgement");
        assert_eq!(progress_mark(&record), "step 7 · -- it/s");
    }

    #[test]
    fn only_the_process_with_a_record_gets_a_training_object() {
        let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
        let snapshot = Snapshot::take_all(&backend).unwrap();
        let me = ProcessIdentity::current();
        assert!(
            snapshot.processes.iter().any(|p| p.pid == me.pid),
            "the simulator binds this process"
        );
        let t0 = Instant::now();
        let mut progress = Progress::new(t0);
        progress.step(40, t0);
        let mut record = progress.record(me, t0);
        record.written_at = 1000.0;
        let records = HashMap::from([(me, record)]);

        let mut out = Vec::new();
        write_json(&mut out, &snapshot, &records, 1003.0).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for row in value["processes"].as_array().unwrap() {
            let ours = row["pid"] == me.pid && row["host"]["start_ticks"] == me.start_ticks;
            assert_eq!(row.get("training").is_some(), ours, "{row}");
            if ours {
                assert_eq!(row["training"]["step"], 40);
                assert_eq!(row["training"]["phase"], "train");
                assert_eq!(row["training"]["seconds_since_last_step"], 3.0);
                assert!(row["training"]["epoch"].is_null());
            }
        }

        // A record of a reused pid (another start time) matches nothing,
        // and the output is then the plain snapshot.
        let reused = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        let stale = HashMap::from([(reused, progress.record(reused, t0))]);
        let mut plain = Vec::new();
        write_json(&mut plain, &snapshot, &stale, 1003.0).unwrap();
        let mut expected = Vec::new();
        serde_json::to_writer_pretty(&mut expected, &snapshot).unwrap();
        assert_eq!(plain, expected);
    }
}

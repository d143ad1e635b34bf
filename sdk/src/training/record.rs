//! The training status record: the versioned JSON format of one file.
//!
//! Version 1 (see `docs/TRAINING_STATUS.md`). Readers ignore fields they do
//! not know, so adding an optional field keeps the version; renaming or
//! changing the meaning of one bumps it, and readers treat a record of
//! another version as absent.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The format version this SDK writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Which part of the loop the run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Training steps.
    #[default]
    Train,
    /// A validation pass.
    Validation,
    /// The run ended (the final write before the file is removed).
    Done,
}

impl Phase {
    /// `train`, `validation` or `done`, as in the file.
    ///
    /// ```
    /// assert_eq!(nvitop::training::Phase::Validation.as_str(), "validation");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Validation => "validation",
            Self::Done => "done",
        }
    }
}

/// Who a record belongs to: the pid and its start time in clock ticks
/// since boot (the same identity [`crate::HostProcess`] uses), so a record
/// of a process whose pid was reused is told apart.
///
/// ```
/// let me = nvitop::training::ProcessIdentity::current();
/// assert_eq!(me.pid, std::process::id());
/// assert!(me.start_ticks > 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessIdentity {
    /// Process id (as this process's pid namespace sees it).
    pub pid: u32,
    /// Start time, clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_ticks: u64,
}

impl ProcessIdentity {
    /// The calling process.
    pub fn current() -> Self {
        let me = crate::HostProcess::current();
        Self {
            pid: me.pid(),
            start_ticks: me.start_ticks(),
        }
    }

    /// Whether a process with this pid and start time still runs.
    pub fn is_running(self) -> bool {
        crate::HostProcess::new(self.pid).is_ok_and(|p| p.start_ticks() == self.start_ticks)
    }

    /// The file name of this process's record: `<pid>-<start_ticks>.json`.
    pub fn file_name(self) -> String {
        format!("{}-{}.json", self.pid, self.start_ticks)
    }

    /// The identity a record file name encodes, `None` for other names.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let (pid, ticks) = name.strip_suffix(".json")?.split_once('-')?;
        Some(Self {
            pid: pid.parse().ok()?,
            start_ticks: ticks.parse().ok()?,
        })
    }
}

/// One process's training status, as written to its file.
///
/// ```
/// use nvitop::training::{Phase, TrainingRecord};
/// let text = r#"{"version":1,"pid":42,"start_ticks":7,"step":10,"phase":"train",
///               "seconds_since_last_hook":0.5,"written_at":1000.0}"#;
/// let record: TrainingRecord = serde_json::from_str(text).unwrap();
/// assert_eq!((record.step, record.phase), (10, Phase::Train));
/// // Two seconds after it was written, the last hook is 2.5 s old.
/// assert_eq!(record.seconds_since_last_hook_at(1002.0), 2.5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrainingRecord {
    /// Format version, [`FORMAT_VERSION`].
    pub version: u32,
    /// Process id of the training process.
    pub pid: u32,
    /// Its start time, clock ticks since boot.
    pub start_ticks: u64,
    /// Run name (the logger's log directory name unless set).
    #[serde(default)]
    pub run_name: Option<String>,
    /// The logger's log directory.
    #[serde(default)]
    pub log_dir: Option<PathBuf>,
    /// Last step a hook reported.
    pub step: u64,
    /// Current epoch, when the loop reports epochs.
    #[serde(default)]
    pub epoch: Option<u64>,
    /// Train, validation or done.
    pub phase: Phase,
    /// Total steps of the run, when known (for an ETA).
    #[serde(default)]
    pub total_steps: Option<u64>,
    /// Steps per second over the last minute.
    #[serde(default)]
    pub steps_per_second: Option<f64>,
    /// Median training step time over the last minute, seconds.
    #[serde(default)]
    pub step_time_p50_seconds: Option<f64>,
    /// 99th percentile training step time over the last minute, seconds.
    #[serde(default)]
    pub step_time_p99_seconds: Option<f64>,
    /// Seconds from the last hook to `written_at`.
    pub seconds_since_last_hook: f64,
    /// NVML indices of the GPUs the logger watches.
    #[serde(default)]
    pub gpus: Vec<u32>,
    /// Energy per training step over the last minute, joules, when measured.
    #[serde(default)]
    pub energy_per_step_joules: Option<f64>,
    /// When the record was written, seconds since the Unix epoch.
    pub written_at: f64,
}

impl TrainingRecord {
    /// The identity of the process the record describes.
    pub fn identity(&self) -> ProcessIdentity {
        ProcessIdentity {
            pid: self.pid,
            start_ticks: self.start_ticks,
        }
    }

    /// Seconds since the last hook at `now` (seconds since the Unix epoch):
    /// the recorded figure plus the record's age (never less than recorded).
    pub fn seconds_since_last_hook_at(&self, now: f64) -> f64 {
        self.seconds_since_last_hook + (now - self.written_at).max(0.0)
    }

    /// Seconds left at the current rate, when the total and a rate are known.
    ///
    /// ```
    /// # use nvitop::training::{Phase, TrainingRecord};
    /// # let mut record: TrainingRecord = serde_json::from_str(r#"{"version":1,"pid":1,"start_ticks":1,
    /// #   "step":100,"phase":"train","seconds_since_last_hook":0,"written_at":0}"#).unwrap();
    /// record.total_steps = Some(300);
    /// record.steps_per_second = Some(4.0);
    /// assert_eq!(record.eta_seconds(), Some(50.0));
    /// ```
    pub fn eta_seconds(&self) -> Option<f64> {
        let total = self.total_steps?;
        let rate = self.steps_per_second.filter(|r| *r > 0.0)?;
        Some(total.saturating_sub(self.step) as f64 / rate)
    }
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_others_are_rejected() {
        let id = ProcessIdentity {
            pid: 12,
            start_ticks: 345,
        };
        assert_eq!(ProcessIdentity::from_file_name(&id.file_name()), Some(id));
        for bad in ["12.json", "a-1.json", "12-345.json.tmp", ".12-345.json", "12-345"] {
            assert_eq!(ProcessIdentity::from_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_phase_is_snake_case() {
        let text = r#"{"version":1,"pid":1,"start_ticks":2,"step":3,"phase":"done",
            "seconds_since_last_hook":0,"written_at":5,"future_field":[1,2]}"#;
        let record: TrainingRecord = serde_json::from_str(text).unwrap();
        assert_eq!(record.phase, Phase::Done);
        assert_eq!(record.eta_seconds(), None);
    }
}

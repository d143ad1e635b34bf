//! What the logger's worker thread owns to publish its process's status:
//! a [`Progress`] fed with hook events and a [`StatusWriter`], written at
//! most once a second and once more at the end, removed when dropped.
//!
//! It never fails the logger: a status directory that cannot be used is
//! reported once through `log::warn!` and publication is off for the run.
//! Hooks carry wall-clock times (seconds since the Unix epoch); the
//! publisher maps them onto its monotonic clock from one pair read at
//! start, so step times come from when the hooks ran, not from when the
//! worker got to them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::progress::{Progress, ProgressEvent};
use super::record::{Phase, unix_now};
use super::writer::StatusWriter;

/// Which hook ran, as the publisher needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `on_train_batch_start`.
    BatchStart,
    /// `on_train_batch_end`: a training step ended.
    BatchEnd,
    /// `on_train_epoch_start` / `on_train_epoch_end`.
    Epoch,
    /// `on_validation_start`.
    ValidationStart,
    /// `on_validation_end`.
    ValidationEnd,
    /// `on_train_end`.
    TrainEnd,
}

/// Publishes one process's training status; see the module docs.
///
/// ```
/// use nvitop::training::publisher::{Hook, StatusPublisher};
/// use nvitop::training::{Phase, read_dir_records};
///
/// let parent = tempfile::tempdir()?;
/// let dir = nvitop::training::dir::ensure_private_dir(&parent.path().join("s"))?;
/// let mut publisher = StatusPublisher::start_in(&dir, Some("run-a".into()), None, vec![0]);
/// let t = nvitop::training::publisher::wall_now();
/// publisher.hook(Hook::BatchEnd, 1, None, t);
/// publisher.hook(Hook::BatchEnd, 2, None, t + 0.1);
/// publisher.tick(std::time::Instant::now());
/// assert_eq!(read_dir_records(&dir)[0].step, 2);
/// publisher.hook(Hook::TrainEnd, 2, None, t + 0.2);   // the final write
/// assert_eq!(read_dir_records(&dir)[0].phase, Phase::Done);
/// drop(publisher);                                    // the record is removed
/// assert!(read_dir_records(&dir).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StatusPublisher {
    progress: Progress,
    writer: Option<StatusWriter>,
    origin: Instant,
    origin_wall: f64,
}

/// Seconds since the Unix epoch, now (the hooks' clock).
pub fn wall_now() -> f64 {
    unix_now()
}

impl StatusPublisher {
    /// Publishes into this user's status directory
    /// ([`super::dir::status_dir`]); off, with one warning, when that
    /// directory cannot be used.
    pub fn start(run_name: Option<String>, log_dir: Option<PathBuf>, gpus: Vec<u32>) -> Self {
        let writer = StatusWriter::create()
            .inspect_err(|err| log::warn!("training status not published: {err}"))
            .ok();
        Self::with_writer(writer, run_name, log_dir, gpus)
    }

    /// Publishes into `dir` (tests, or a directory of the caller's choice).
    pub fn start_in(dir: &Path, run_name: Option<String>, log_dir: Option<PathBuf>, gpus: Vec<u32>) -> Self {
        let writer = StatusWriter::create_in(dir)
            .inspect_err(|err| log::warn!("training status not published: {err}"))
            .ok();
        Self::with_writer(writer, run_name, log_dir, gpus)
    }

    fn with_writer(
        writer: Option<StatusWriter>,
        run_name: Option<String>,
        log_dir: Option<PathBuf>,
        gpus: Vec<u32>,
    ) -> Self {
        let origin = Instant::now();
        Self {
            progress: Progress::new(origin).with_run(run_name, log_dir).with_gpus(gpus),
            writer,
            origin,
            origin_wall: unix_now(),
        }
    }

    /// Whether records are being written (the directory was usable).
    pub fn is_publishing(&self) -> bool {
        self.writer.is_some()
    }

    /// Sets the run's total steps (for an ETA).
    pub fn set_total_steps(&mut self, total_steps: Option<u64>) {
        self.progress.set_total_steps(total_steps);
    }

    /// One hook: `step` and `epoch` as the hook saw them, `wall_time` when
    /// it ran. A train end writes the final record at once.
    pub fn hook(&mut self, hook: Hook, step: u64, epoch: Option<u64>, wall_time: f64) {
        let at = self.instant_of(wall_time);
        if let Some(epoch) = epoch {
            self.progress.apply(ProgressEvent::Epoch { epoch, at });
        }
        let event = match hook {
            Hook::BatchEnd => ProgressEvent::Step { step, at },
            Hook::BatchStart | Hook::Epoch => ProgressEvent::Hook { at },
            Hook::ValidationStart => ProgressEvent::Phase {
                phase: Phase::Validation,
                at,
            },
            Hook::ValidationEnd => ProgressEvent::Phase {
                phase: Phase::Train,
                at,
            },
            Hook::TrainEnd => ProgressEvent::Phase { phase: Phase::Done, at },
        };
        self.progress.apply(event);
        if hook == Hook::TrainEnd {
            self.write(Instant::now(), true);
        }
    }

    /// The logged GPUs' total energy, joules, read at `at`.
    pub fn energy(&mut self, joules: f64, at: Instant) {
        self.progress.apply(ProgressEvent::Energy { joules, at });
    }

    /// Writes the record if a second has passed since the last write; call
    /// it from the worker's loop (idle or not).
    pub fn tick(&mut self, now: Instant) {
        self.write(now, false);
    }

    fn write(&mut self, now: Instant, force: bool) {
        let Some(writer) = &mut self.writer else { return };
        let record = self.progress.record(writer.identity(), now);
        let written = if force {
            writer.write_now(&record)
        } else {
            writer.write(&record, now).map(|_| ())
        };
        if let Err(err) = written {
            // A full disk or a removed directory: stop publishing rather
            // than warn once a second; the file goes with the writer.
            log::warn!(
                "training status no longer published: {}: {err}",
                writer.path().display()
            );
            self.writer = None;
        }
    }

    /// The monotonic instant of a hook's wall-clock time (never in the
    /// future: a wall clock stepped back cannot date a hook ahead).
    fn instant_of(&self, wall_time: f64) -> Instant {
        let offset = wall_time - self.origin_wall;
        let shift = Duration::from_secs_f64(offset.abs().min(1e9));
        let at = if offset >= 0.0 {
            self.origin + shift
        } else {
            self.origin.checked_sub(shift).unwrap_or(self.origin)
        };
        at.min(Instant::now())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::training::read_dir_records;

    fn phase_after(publisher: &mut StatusPublisher, dir: &Path) -> Phase {
        // A forced write, as at train end, without ending the run.
        publisher.write(Instant::now(), true);
        read_dir_records(dir)[0].phase
    }

    #[test]
    fn the_phase_follows_the_validation_hooks_and_ends_done() {
        let parent = tempfile::tempdir().unwrap();
        let dir = crate::training::dir::ensure_private_dir(&parent.path().join("s")).unwrap();
        let mut publisher = StatusPublisher::start_in(&dir, None, None, vec![0]);
        let t = wall_now();
        publisher.hook(Hook::BatchEnd, 1, Some(0), t);
        assert_eq!(phase_after(&mut publisher, &dir), Phase::Train);
        publisher.hook(Hook::ValidationStart, 1, Some(0), t + 0.01);
        assert_eq!(phase_after(&mut publisher, &dir), Phase::Validation);
        // An epoch hook while validating leaves the phase alone.
        publisher.hook(Hook::Epoch, 1, Some(0), t + 0.02);
        assert_eq!(phase_after(&mut publisher, &dir), Phase::Validation);
        publisher.hook(Hook::ValidationEnd, 1, Some(0), t + 0.03);
        assert_eq!(phase_after(&mut publisher, &dir), Phase::Train);
        // A loop without a validation end: its next training step ends it.
        publisher.hook(Hook::ValidationStart, 1, Some(0), t + 0.04);
        assert_eq!(phase_after(&mut publisher, &dir), Phase::Validation);
        publisher.hook(Hook::BatchEnd, 2, Some(0), t + 0.05);
        assert_eq!(phase_after(&mut publisher, &dir), Phase::Train);
        publisher.hook(Hook::TrainEnd, 2, Some(0), t + 0.06);
        let done = read_dir_records(&dir).remove(0);
        assert_eq!((done.phase, done.step), (Phase::Done, 2));
    }
}

//! The progress tracker the logger's worker thread owns: fed with plain
//! events (a step ended, an epoch began, the phase changed, energy read),
//! it keeps what a [`TrainingRecord`] reports.
//!
//! Memory is bounded whatever the step rate: the last minute is 60
//! one-second slots, each a log-scale histogram of step times (16 buckets a
//! decade from 1 µs to 10⁴ s, so a percentile is reported within 8 % of
//! the true value) and the first step seen in that second. 40 KB in all.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::record::{FORMAT_VERSION, Phase, ProcessIdentity, TrainingRecord, unix_now};

/// The window the rate and percentiles cover.
pub const WINDOW: Duration = Duration::from_mins(1);
const SLOTS: usize = 60;
const BUCKETS_PER_DECADE: f64 = 16.0;
/// Log10 of the smallest step time with its own bucket (1 µs).
const MIN_DECADE: f64 = -6.0;
const BUCKETS: usize = 160;

/// One event from the training loop, as the worker receives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProgressEvent {
    /// A training step ended; `step` is the loop's step counter.
    Step {
        /// The step number.
        step: u64,
        /// When the hook ran.
        at: Instant,
    },
    /// An epoch began or ended; `epoch` is the loop's epoch counter.
    Epoch {
        /// The epoch number.
        epoch: u64,
        /// When the hook ran.
        at: Instant,
    },
    /// The loop entered another phase.
    Phase {
        /// The new phase.
        phase: Phase,
        /// When the hook ran.
        at: Instant,
    },
    /// Any other hook (a validation batch): the run is alive.
    Hook {
        /// When the hook ran.
        at: Instant,
    },
    /// The logged GPUs' energy counter, joules since any fixed origin.
    Energy {
        /// Total energy, joules.
        joules: f64,
        /// When it was read.
        at: Instant,
    },
}

#[derive(Debug, Clone)]
struct Slot {
    /// Seconds since the tracker's origin this slot holds; `None` unused.
    second: Option<u64>,
    histogram: Box<[u32; BUCKETS]>,
    /// The first training step seen in this second, with its time.
    first_step: Option<(Instant, u64)>,
    /// The first energy reading in this second, with the step then.
    first_energy: Option<(f64, u64)>,
}

impl Slot {
    fn empty() -> Self {
        Self {
            second: None,
            histogram: Box::new([0; BUCKETS]),
            first_step: None,
            first_energy: None,
        }
    }
}

/// Training progress over the last minute.
///
/// ```
/// use std::time::{Duration, Instant};
/// use nvitop::training::{Phase, Progress};
/// use nvitop::training::progress::ProgressEvent;
///
/// let t0 = Instant::now();
/// let mut progress = Progress::new(t0);
/// for step in 1..=20 {
///     progress.apply(ProgressEvent::Step { step, at: t0 + Duration::from_millis(250 * step) });
/// }
/// let record = progress.record(nvitop::training::ProcessIdentity::current(), t0 + Duration::from_secs(7));
/// assert_eq!(record.step, 20);
/// assert!((record.steps_per_second.unwrap() - 4.0).abs() < 1e-9);
/// let p50 = record.step_time_p50_seconds.unwrap();
/// assert!((p50 - 0.25).abs() / 0.25 < 0.08);
/// assert_eq!(record.seconds_since_last_hook, 2.0);
/// ```
#[derive(Debug, Clone)]
pub struct Progress {
    origin: Instant,
    run_name: Option<String>,
    log_dir: Option<PathBuf>,
    gpus: Vec<u32>,
    total_steps: Option<u64>,
    step: u64,
    epoch: Option<u64>,
    phase: Phase,
    last_hook: Option<Instant>,
    /// The previous training step, for the next one's duration; cleared on
    /// a phase change so a validation pass is not a step time.
    previous_step: Option<(Instant, u64)>,
    /// The last training step, for the rate (kept across phases).
    last_step: Option<(Instant, u64)>,
    last_energy: Option<(f64, u64)>,
    slots: Vec<Slot>,
}

impl Progress {
    /// An empty tracker; `origin` is when the run started (the stall time
    /// counts from it until the first hook).
    pub fn new(origin: Instant) -> Self {
        Self {
            origin,
            run_name: None,
            log_dir: None,
            gpus: Vec::new(),
            total_steps: None,
            step: 0,
            epoch: None,
            phase: Phase::Train,
            last_hook: None,
            previous_step: None,
            last_step: None,
            last_energy: None,
            slots: vec![Slot::empty(); SLOTS],
        }
    }

    /// Sets the run name and log directory the records carry.
    #[must_use]
    pub fn with_run(mut self, run_name: Option<String>, log_dir: Option<PathBuf>) -> Self {
        self.run_name = run_name;
        self.log_dir = log_dir;
        self
    }

    /// Sets the NVML indices of the GPUs the logger watches.
    #[must_use]
    pub fn with_gpus(mut self, gpus: Vec<u32>) -> Self {
        self.gpus = gpus;
        self
    }

    /// Sets the run's total steps, when known (for an ETA).
    #[must_use]
    pub fn with_total_steps(mut self, total_steps: Option<u64>) -> Self {
        self.total_steps = total_steps;
        self
    }

    /// Sets or clears the total steps later in the run.
    pub fn set_total_steps(&mut self, total_steps: Option<u64>) {
        self.total_steps = total_steps;
    }

    /// Applies one event.
    pub fn apply(&mut self, event: ProgressEvent) {
        match event {
            ProgressEvent::Step { step, at } => self.step(step, at),
            ProgressEvent::Epoch { epoch, at } => {
                self.epoch = Some(epoch);
                self.hook(at);
            }
            ProgressEvent::Phase { phase, at } => {
                if phase != self.phase {
                    self.previous_step = None;
                }
                self.phase = phase;
                self.hook(at);
            }
            ProgressEvent::Hook { at } => self.hook(at),
            ProgressEvent::Energy { joules, at } => self.energy(joules, at),
        }
    }

    /// A training step `step` ended at `at`.
    pub fn step(&mut self, step: u64, at: Instant) {
        self.hook(at);
        if self.phase == Phase::Validation {
            // A step hook while validating: the loop is back to training.
            self.phase = Phase::Train;
            self.previous_step = None;
        }
        let slot = self.slot_for(at);
        if slot.first_step.is_none() {
            slot.first_step = Some((at, step));
        }
        if let Some((previous_at, previous)) = self.previous_step
            && step > previous
        {
            let steps = step - previous;
            let each = at.saturating_duration_since(previous_at).as_secs_f64() / steps as f64;
            let bucket = bucket_of(each);
            let slot = self.slot_for(at);
            slot.histogram[bucket] = slot.histogram[bucket].saturating_add(steps.min(u64::from(u32::MAX)) as u32);
        }
        self.previous_step = Some((at, step));
        self.last_step = Some((at, step));
        self.step = self.step.max(step);
    }

    /// Any hook ran at `at`.
    pub fn hook(&mut self, at: Instant) {
        self.last_hook = Some(self.last_hook.map_or(at, |last| last.max(at)));
    }

    /// The GPUs' energy counter read `joules` at `at`.
    pub fn energy(&mut self, joules: f64, at: Instant) {
        let step = self.step;
        let slot = self.slot_for(at);
        if slot.first_energy.is_none() {
            slot.first_energy = Some((joules, step));
        }
        self.last_energy = Some((joules, step));
    }

    /// The last step reported.
    pub fn current_step(&self) -> u64 {
        self.step
    }

    /// Steps per second over the window ending at `now`.
    pub fn steps_per_second(&self, now: Instant) -> Option<f64> {
        let (first_at, first) = self.live(now).filter_map(|s| s.first_step).min_by_key(|(at, _)| *at)?;
        let (last_at, last) = self.last_step.filter(|(at, _)| *at >= first_at)?;
        let secs = last_at.saturating_duration_since(first_at).as_secs_f64();
        (last > first && secs > 0.0).then(|| (last - first) as f64 / secs)
    }

    /// The `q` quantile (0 to 1) of step times over the window, seconds.
    pub fn step_time_quantile(&self, q: f64, now: Instant) -> Option<f64> {
        let mut merged = [0u64; BUCKETS];
        for slot in self.live(now) {
            for (sum, count) in merged.iter_mut().zip(slot.histogram.iter()) {
                *sum += u64::from(*count);
            }
        }
        let total: u64 = merged.iter().sum();
        if total == 0 {
            return None;
        }
        // The smallest bucket whose cumulative count reaches q of the total.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in merged.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_value(bucket));
            }
        }
        None
    }

    /// Joules per training step over the window, when energy was read and
    /// steps were made between two readings.
    pub fn energy_per_step(&self, now: Instant) -> Option<f64> {
        let first = self
            .live(now)
            .filter_map(|s| s.first_energy.map(|e| (s.second, e)))
            .min_by_key(|(second, _)| *second)
            .map(|(_, e)| e)?;
        let (joules, step) = self.last_energy?;
        (step > first.1 && joules >= first.0).then(|| (joules - first.0) / (step - first.1) as f64)
    }

    /// Seconds from the last hook (or the start, before any) to `now`.
    pub fn seconds_since_last_hook(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.last_hook.unwrap_or(self.origin))
            .as_secs_f64()
    }

    /// Marks the run done (the final record).
    pub fn finish(&mut self, at: Instant) {
        self.apply(ProgressEvent::Phase { phase: Phase::Done, at });
    }

    /// The record for `identity` as of `now`, stamped with the wall clock.
    pub fn record(&self, identity: ProcessIdentity, now: Instant) -> TrainingRecord {
        TrainingRecord {
            version: FORMAT_VERSION,
            pid: identity.pid,
            start_ticks: identity.start_ticks,
            run_name: self.run_name.clone(),
            log_dir: self.log_dir.clone(),
            step: self.step,
            epoch: self.epoch,
            phase: self.phase,
            total_steps: self.total_steps,
            steps_per_second: self.steps_per_second(now),
            step_time_p50_seconds: self.step_time_quantile(0.5, now),
            step_time_p99_seconds: self.step_time_quantile(0.99, now),
            seconds_since_last_hook: self.seconds_since_last_hook(now),
            gpus: self.gpus.clone(),
            energy_per_step_joules: self.energy_per_step(now),
            written_at: unix_now(),
        }
    }

    fn second_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs()
    }

    /// The slot for `at`'s second, cleared if it held an older second.
    fn slot_for(&mut self, at: Instant) -> &mut Slot {
        let second = self.second_of(at);
        let slot = &mut self.slots[(second % SLOTS as u64) as usize];
        if slot.second != Some(second) {
            // An event older than the slot's second (out of order by over
            // a minute) would wipe newer data; it lands in the newer one.
            if slot.second.is_some_and(|s| s > second) {
                return slot;
            }
            *slot = Slot::empty();
            slot.second = Some(second);
        }
        slot
    }

    /// The slots within the window ending at `now`.
    fn live(&self, now: Instant) -> impl Iterator<Item = &Slot> {
        let now_second = self.second_of(now);
        self.slots.iter().filter(move |s| {
            s.second
                .is_some_and(|sec| sec + SLOTS as u64 > now_second && sec <= now_second)
        })
    }
}

fn bucket_of(seconds: f64) -> usize {
    if seconds <= 0.0 || !seconds.is_finite() {
        return 0;
    }
    let index = ((seconds.log10() - MIN_DECADE) * BUCKETS_PER_DECADE).floor();
    index.clamp(0.0, (BUCKETS - 1) as f64) as usize
}

/// The geometric middle of a bucket.
fn bucket_value(bucket: usize) -> f64 {
    10f64.powf((bucket as f64 + 0.5) / BUCKETS_PER_DECADE + MIN_DECADE)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn me() -> ProcessIdentity {
        ProcessIdentity { pid: 1, start_ticks: 1 }
    }

    #[test]
    fn bucket_values_are_within_8_percent() {
        for secs in [1e-5, 3.3e-4, 0.0123, 0.25, 1.0, 7.7, 900.0] {
            let value = bucket_value(bucket_of(secs));
            assert!((value - secs).abs() / secs < 0.08, "{secs} -> {value}");
        }
    }

    #[test]
    fn p99_sees_the_slow_tail_and_p50_the_bulk() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        let mut at = t0;
        for step in 1..=1000u64 {
            // Every 50th step takes 2 s, the others 10 ms.
            at += if step % 50 == 0 { ms(2000) } else { ms(10) };
            p.step(step, at);
        }
        // 999 durations over 10+40 s: all within the window.
        let p50 = p.step_time_quantile(0.5, at).unwrap();
        let p99 = p.step_time_quantile(0.99, at).unwrap();
        assert!((p50 - 0.010).abs() / 0.010 < 0.08, "{p50}");
        assert!((p99 - 2.0).abs() / 2.0 < 0.08, "{p99}");
    }

    #[test]
    fn the_window_forgets_steps_older_than_a_minute() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        // Slow steps (1 s each) for 30 s, then fast ones (0.1 s) for 70 s.
        let mut step = 0;
        let mut at = t0;
        for _ in 0..30 {
            step += 1;
            at += ms(1000);
            p.step(step, at);
        }
        for _ in 0..700 {
            step += 1;
            at += ms(100);
            p.step(step, at);
        }
        let p99 = p.step_time_quantile(0.99, at).unwrap();
        assert!(p99 < 0.11, "the 1 s steps left the window: {p99}");
        let rate = p.steps_per_second(at).unwrap();
        assert!((rate - 10.0).abs() < 0.2, "{rate}");
    }

    #[test]
    fn steps_logged_every_n_count_each_step() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        // The hook reports every 10th step, 1 s apart: 10 steps/s, 0.1 s each.
        for n in 1..=5u64 {
            p.step(10 * n, t0 + Duration::from_secs(n));
        }
        let now = t0 + Duration::from_secs(5);
        assert!((p.steps_per_second(now).unwrap() - 10.0).abs() < 1e-9);
        let p50 = p.step_time_quantile(0.5, now).unwrap();
        assert!((p50 - 0.1).abs() / 0.1 < 0.08, "{p50}");
    }

    #[test]
    fn a_validation_pass_is_not_a_step_time_and_shows_as_phase() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        p.step(1, t0 + ms(100));
        p.step(2, t0 + ms(200));
        p.apply(ProgressEvent::Phase {
            phase: Phase::Validation,
            at: t0 + ms(250),
        });
        let during = p.record(me(), t0 + ms(5000));
        assert_eq!(during.phase, Phase::Validation);
        assert!(
            during.steps_per_second.is_some(),
            "the rate stays known while validating"
        );
        p.apply(ProgressEvent::Hook { at: t0 + ms(20_000) });
        p.apply(ProgressEvent::Phase {
            phase: Phase::Train,
            at: t0 + ms(30_000),
        });
        p.step(3, t0 + ms(30_100));
        let p99 = p.step_time_quantile(0.99, t0 + ms(30_100)).unwrap();
        assert!(p99 < 0.11, "the 30 s validation gap is no step time: {p99}");
    }

    #[test]
    fn stall_time_grows_from_the_last_hook_and_from_the_start_before_any() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        assert_eq!(p.seconds_since_last_hook(t0 + ms(1500)), 1.5);
        p.apply(ProgressEvent::Epoch {
            epoch: 2,
            at: t0 + ms(2000),
        });
        assert_eq!(p.seconds_since_last_hook(t0 + ms(12_000)), 10.0);
        let record = p.record(me(), t0 + ms(12_000));
        assert_eq!((record.epoch, record.step, record.steps_per_second), (Some(2), 0, None));
    }

    #[test]
    fn energy_per_step_over_the_window() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        p.energy(1000.0, t0);
        for step in 1..=10u64 {
            p.step(step, t0 + ms(100 * step));
        }
        p.energy(1500.0, t0 + ms(1100));
        assert_eq!(p.energy_per_step(t0 + ms(1100)), Some(50.0));
        p.finish(t0 + ms(1200));
        assert_eq!(p.record(me(), t0 + ms(1200)).phase, Phase::Done);
    }

    #[test]
    fn memory_stays_bounded_at_any_rate() {
        let t0 = Instant::now();
        let mut p = Progress::new(t0);
        for step in 1..=200_000u64 {
            p.step(step, t0 + Duration::from_micros(500 * step));
        }
        assert_eq!(p.slots.len(), SLOTS);
        let now = t0 + Duration::from_secs(100);
        assert!((p.steps_per_second(now).unwrap() - 2000.0).abs() < 1.0);
    }
}

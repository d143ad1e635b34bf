//! Energy of each step from the driver's energy counter, on the sink thread.
//!
//! The sampler reads each GPU's counter (`nvmlDeviceGetTotalEnergyConsumption`,
//! millijoules since the driver loaded) with an `Instant` on the clock the
//! hooks use. The counter is turned into a continuous cumulative energy:
//! a counter that goes backwards (the driver reloaded) restarts from its new
//! value instead of producing a negative step. The energy at any moment is
//! interpolated linearly between the two readings around it, and a step's
//! energy is `E(end) - E(start)`: back-to-back steps therefore sum exactly
//! to the counter's growth, even steps shorter than the counter's update
//! period. A step is finalized once a reading after its end exists.
//!
//! A GPU without the counter (older boards, MIG devices) falls back to the
//! integral of the sampled power draw (trapezoids between samples), which
//! misses what happens between samples; `docs/METRICS.md` says so.

use std::collections::VecDeque;
use std::time::Instant;

use crate::sampler::Sampler;

/// How long a row waits for the sample after its step (a sampler interval
/// is at most 60 s; the default is far shorter).
const GIVE_UP_NS: u64 = 65_000_000_000;

/// One GPU's cumulative energy readings.
#[derive(Debug, Default)]
pub(crate) struct EnergyTrack {
    /// (time since the logger's origin in ns, cumulative joules), time increasing.
    readings: VecDeque<(u64, f64)>,
    cumulative: f64,
    last_counter: Option<f64>,
    last_power: Option<(u64, f64)>,
    /// Whether this GPU's counter answered (then power is not used).
    counter: bool,
}

impl EnergyTrack {
    /// Adds a reading taken at `at_ns`: the counter in joules where the GPU
    /// has one, else its power draw in watts.
    pub(crate) fn push(&mut self, at_ns: u64, counter: Option<f64>, power: Option<f64>) {
        if self.readings.back().is_some_and(|&(t, _)| at_ns <= t) {
            return;
        }
        if let Some(joules) = counter {
            self.counter = true;
            if let Some(last) = self.last_counter {
                // Backwards: the counter restarted (driver reload); what it
                // counts now was all used since the restart.
                self.cumulative += if joules >= last { joules - last } else { joules };
            }
            self.last_counter = Some(joules);
        } else if self.counter {
            // A counter that answered before and not now (a lost GPU): no reading.
            return;
        } else if let Some(watts) = power {
            if let Some((t0, w0)) = self.last_power {
                self.cumulative += f64::midpoint(w0, watts) * (at_ns - t0) as f64 / 1e9;
            }
            self.last_power = Some((at_ns, watts));
        } else {
            return;
        }
        self.readings.push_back((at_ns, self.cumulative));
    }

    /// Cumulative energy at `at_ns`, interpolated; `None` before the first
    /// kept reading or after the newest (not known yet).
    pub(crate) fn at(&self, at_ns: u64) -> Option<f64> {
        let after = self.readings.iter().position(|&(t, _)| t >= at_ns)?;
        let (t1, e1) = self.readings[after];
        if t1 == at_ns {
            return Some(e1);
        }
        let (t0, e0) = *self.readings.get(after.checked_sub(1)?)?;
        Some(e0 + (e1 - e0) * (at_ns - t0) as f64 / (t1 - t0) as f64)
    }

    /// Whether a reading at or after `at_ns` exists.
    pub(crate) fn covers(&self, at_ns: u64) -> bool {
        self.readings.back().is_some_and(|&(t, _)| t >= at_ns)
    }

    /// Forgets readings not needed to interpolate at `from_ns` or later.
    pub(crate) fn trim(&mut self, from_ns: u64) {
        while self.readings.len() > 2 && self.readings[1].0 <= from_ns {
            self.readings.pop_front();
        }
    }

    /// Whether energy comes from the counter (else from power).
    #[cfg(test)]
    pub(crate) fn uses_counter(&self) -> bool {
        self.counter
    }
}

/// Every logged GPU's energy, fed from the sampler's samples.
#[derive(Debug)]
pub(crate) struct EnergyMeter {
    origin: Instant,
    tracks: Vec<EnergyTrack>,
    last_seq: u64,
    /// The first step's start: `energy.total` counts from here.
    run_start_ns: Option<u64>,
    /// Each GPU's cumulative energy at the run start (kept, so old readings can go).
    bases: Vec<Option<f64>>,
    /// Each GPU's energy from the run start to the newest finalized step end.
    totals: Vec<Option<f64>>,
}

impl EnergyMeter {
    /// A meter for `devices` GPUs; hook times are nanoseconds since `origin` plus one.
    pub(crate) fn new(origin: Instant, devices: usize) -> Self {
        Self {
            origin,
            tracks: (0..devices).map(|_| EnergyTrack::default()).collect(),
            last_seq: 0,
            run_start_ns: None,
            bases: vec![None; devices],
            totals: vec![None; devices],
        }
    }

    /// Takes in the samples published since the last call.
    pub(crate) fn poll(&mut self, sampler: &Sampler) {
        let latest = sampler.latest_seq();
        for seq in self.last_seq.saturating_add(1)..=latest {
            let sample = sampler.sample(seq);
            if sample.seq <= self.last_seq {
                continue;
            }
            self.last_seq = sample.seq;
            for (i, device) in sample.devices.iter().enumerate() {
                if let (Some(track), Some(at)) = (self.tracks.get_mut(i), device.energy_read_at) {
                    let at = at.saturating_duration_since(self.origin).as_nanos() as u64 + 1;
                    track.push(at, device.energy, device.power_usage);
                }
            }
        }
    }

    /// Whether a step ending at `end_ns` can be finalized: every GPU has a
    /// reading at or after it, or it ended longer than [`GIVE_UP_NS`] ago
    /// (a GPU that stopped answering must not hold the rows forever; its
    /// energy is then left empty).
    pub(crate) fn ready(&self, end_ns: u64) -> bool {
        self.now_ns().saturating_sub(end_ns) > GIVE_UP_NS
            || self.tracks.iter().all(|t| t.covers(end_ns) || t.readings.is_empty())
    }

    /// Energy of the step `start_ns..end_ns` on GPU `i` and the run's total
    /// up to `end_ns`, joules.
    pub(crate) fn step(&mut self, i: usize, start_ns: u64, end_ns: u64) -> (Option<f64>, Option<f64>) {
        let run_start = *self.run_start_ns.get_or_insert(start_ns);
        let Some(track) = self.tracks.get(i) else {
            return (None, None);
        };
        if self.bases[i].is_none() {
            self.bases[i] = track.at(run_start);
        }
        let end = track.at(end_ns);
        let step = end.zip(track.at(start_ns)).map(|(e, s)| e - s);
        let total = end.zip(self.bases[i]).map(|(e, s)| e - s);
        if total.is_some() {
            self.totals[i] = total;
        }
        (step, total)
    }

    /// Forgets readings older than a step still to be finalized (starting
    /// at `from_ns`) needs: memory stays bounded however long the run.
    pub(crate) fn trim(&mut self, from_ns: u64) {
        for track in &mut self.tracks {
            track.trim(from_ns);
        }
    }

    /// Each GPU's energy from the first step's start to the last finalized step's end.
    pub(crate) fn totals(&self) -> &[Option<f64>] {
        &self.totals
    }

    /// The `Instant` of a time in ns since the origin plus one.
    pub(crate) fn instant(&self, at_ns: u64) -> Instant {
        self.origin + std::time::Duration::from_nanos(at_ns.saturating_sub(1))
    }

    /// Now, in ns since the origin plus one (the hooks' clock).
    pub(crate) fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64 + 1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{EnergyMeter, EnergyTrack};

    #[test]
    fn a_long_run_keeps_few_readings_and_its_total_adds_up() {
        let mut meter = EnergyMeter::new(std::time::Instant::now(), 1);
        let mut sum = 0.0;
        let mut last_total = None;
        // 10,000 samples 10 ms apart at 250 W, one 10 ms step between each pair.
        for k in 0..10_000u64 {
            meter.tracks[0].push(k * 10 * MS + 1, Some(250.0 * k as f64 / 100.0), None);
            if k >= 2 {
                let (start, end) = ((k - 2) * 10 * MS + 5 * MS, (k - 1) * 10 * MS + 5 * MS);
                let (step, total) = meter.step(0, start, end);
                sum += step.unwrap();
                last_total = total;
                meter.trim(end);
            }
            assert!(meter.tracks[0].readings.len() <= 3);
        }
        let total = last_total.unwrap();
        assert!((sum - total).abs() <= total * 1e-9, "{sum} vs {total}");
        assert!((total - 250.0 * 0.01 * 9_998.0).abs() < 1e-6, "{total}");
        assert_eq!(meter.totals(), &[Some(total)]);
    }

    const MS: u64 = 1_000_000;

    /// A counter that grows 300 W but only updates every 100 ms (as drivers do).
    fn coarse_counter(until_ms: u64, sample_every_ms: u64) -> EnergyTrack {
        let mut track = EnergyTrack::default();
        let mut t = 0;
        while t <= until_ms {
            let counter = 5_000.0 + 300.0 * ((t / 100) * 100) as f64 / 1000.0;
            track.push(t * MS + 1, Some(counter), Some(1.0));
            t += sample_every_ms;
        }
        track
    }

    #[test]
    fn back_to_back_steps_sum_to_the_counters_growth() {
        let track = coarse_counter(2_000, 50);
        // 7 ms steps, far shorter than the 100 ms counter update period.
        let (first, last) = (10 * MS + 1, 1_900 * MS + 1);
        let mut sum = 0.0;
        let mut t = first;
        while t < last {
            let end = (t + 7 * MS).min(last);
            sum += track.at(end).unwrap() - track.at(t).unwrap();
            t = end;
        }
        let growth = track.at(last).unwrap() - track.at(first).unwrap();
        assert!((sum - growth).abs() <= growth * 1e-3, "{sum} vs {growth}");
        // And the growth is the counter's, to within one update period.
        assert!((growth - 300.0 * 1.89).abs() <= 300.0 * 0.1, "{growth}");
    }

    #[test]
    fn a_counter_that_goes_backwards_restarts_instead_of_going_negative() {
        let mut track = EnergyTrack::default();
        track.push(1, Some(1_000.0), None);
        track.push(1_000 * MS, Some(1_100.0), None);
        track.push(2_000 * MS, Some(30.0), None); // driver reloaded
        track.push(3_000 * MS, Some(130.0), None);
        assert_eq!(track.at(1), Some(0.0));
        assert_eq!(track.at(2_000 * MS), Some(130.0));
        assert_eq!(track.at(3_000 * MS), Some(230.0));
        let step = track.at(2_500 * MS).unwrap() - track.at(1_500 * MS).unwrap();
        assert!(step > 0.0, "{step}");
    }

    #[test]
    fn without_a_counter_power_is_integrated() {
        let mut track = EnergyTrack::default();
        track.push(1, None, Some(100.0));
        track.push(1_000 * MS + 1, None, Some(300.0));
        assert!(!track.uses_counter());
        assert_eq!(track.at(1_000 * MS + 1), Some(200.0));
        assert_eq!(track.at(500 * MS + 1), Some(100.0));
    }

    #[test]
    fn a_step_is_known_only_once_a_reading_after_it_exists() {
        let track = coarse_counter(100, 50);
        assert!(track.covers(100 * MS + 1));
        assert!(!track.covers(101 * MS));
        assert_eq!(track.at(101 * MS), None);
    }
}

//! The energy counter: the integral of the power the simulator reports.
//!
//! Power follows `utilization.gpu`, noise and clamping included, and the
//! noise steps at whole seconds of workload time, so the integral is taken
//! second by second (Simpson's rule inside each, where the load is smooth)
//! and the whole seconds already summed are kept: a monitor running for
//! days adds only the seconds since its previous reading. The sum runs in
//! one fixed order from the simulator's start whatever the reading times,
//! so two simulators of one scenario (this process and the fake NVML
//! library) agree to the last digit at the same instant.

use super::workload::Workload;

/// Whole seconds summed exactly (about eighteen hours of simulated time);
/// beyond, the closed form of the smooth load takes over.
const EXACT_SECONDS: u64 = 1 << 16;

/// The load integral of one GPU from the simulator's start.
#[derive(Debug, Clone, Default)]
pub struct LoadIntegral {
    /// Workload time at the simulator's start.
    start: f64,
    /// Whole seconds summed after the first boundary past `start`.
    whole: u64,
    /// Integral from `start` to the first boundary plus `whole` seconds.
    sum: Option<f64>,
}

impl LoadIntegral {
    /// Integral of `workload`'s `gpu_util` from workload time `start` (where
    /// the simulator started) to `end`, percent-seconds (0 before the start).
    pub fn between(&mut self, workload: &Workload, start: f64, end: f64) -> f64 {
        if start.to_bits() != self.start.to_bits() {
            // The simulator switched between pinned and wall-clock time.
            *self = Self {
                start,
                whole: 0,
                sum: None,
            };
        }
        let first = self.start.floor() + 1.0;
        if end <= first {
            return workload.gpu_util_integral_within(self.start, end.max(self.start));
        }
        let done = ((end - first).floor()).max(0.0) as u64;
        if done > EXACT_SECONDS {
            // Far out (a pinned time of years): the exact sum up to the
            // cap, the smooth load's closed form beyond, so no reading
            // costs more than the cap's worth of work.
            let cap = first + EXACT_SECONDS as f64;
            return self.between(workload, start, cap)
                + (workload.util_integral(end) - workload.util_integral(cap)).max(0.0);
        }
        if self.whole > done {
            // Time went back (tests move it): sum again from the start, in
            // the same order, so the answer is the one a fresh counter gives.
            self.whole = 0;
            self.sum = None;
        }
        let mut sum = self
            .sum
            .unwrap_or_else(|| workload.gpu_util_integral_within(self.start, first));
        while self.whole < done {
            let k = first + self.whole as f64;
            sum += workload.gpu_util_integral_within(k, k + 1.0);
            self.whole += 1;
        }
        self.sum = Some(sum);
        sum + workload.gpu_util_integral_within(first + done as f64, end)
    }
}

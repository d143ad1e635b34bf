//! Workloads: each metric is a pure, seeded function of simulated time, so
//! two simulators built from the same scenario (in this process, in the fake
//! NVML library, in a test) agree to the last digit at the same instant.

use std::f64::consts::TAU;

use super::scenario::{WorkloadProfile, WorkloadSpec};

/// A workload with every parameter resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Mean GPU utilization, percent.
    pub gpu_util: f64,
    /// Amplitude of the periodic swing, percent.
    pub swing: f64,
    /// Period of the swing, seconds.
    pub period_s: f64,
    /// Phase of the swing, fraction of a period.
    pub phase: f64,
    /// Amplitude of the per-second noise, percent.
    pub noise: f64,
    /// Memory-bandwidth utilization per unit of GPU utilization.
    pub memory_util_ratio: f64,
    /// Mean encoder utilization, percent.
    pub encoder: f64,
    /// Mean decoder utilization, percent.
    pub decoder: f64,
    /// PCIe receive throughput at full load, KB/s.
    pub pcie_rx_kbs: f64,
    /// PCIe transmit throughput at full load, KB/s.
    pub pcie_tx_kbs: f64,
    /// Share of the active SMs' time the tensor cores are busy (GPM's
    /// any-tensor activity over SM activity): high for training, none on a desktop.
    pub tensor_share: f64,
    /// On/off load rather than a smooth swing.
    pub square: bool,
    /// Seed of this GPU's noise.
    pub seed: u64,
}

/// Which metric a noise sample is for (each gets its own sequence).
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Channel {
    /// GPU utilization.
    Util = 1,
    /// Memory-bandwidth utilization.
    MemUtil = 2,
    /// Encoder.
    Encoder = 3,
    /// Decoder.
    Decoder = 4,
    /// PCIe RX.
    PcieRx = 5,
    /// PCIe TX.
    PcieTx = 6,
    /// Per-process SM split.
    Process = 7,
}

impl Workload {
    /// Resolves a scenario's workload: the profile's defaults, overridden
    /// field by field. `busy` picks the default profile (training when the
    /// GPU has processes, idle otherwise).
    pub fn resolve(spec: &WorkloadSpec, busy: bool, seed: u64) -> Self {
        let profile = spec.profile.unwrap_or(if busy {
            WorkloadProfile::Training
        } else {
            WorkloadProfile::Idle
        });
        // (util, swing, period, noise, mem ratio, encoder, decoder, rx MB/s, tx MB/s)
        let d = match profile {
            WorkloadProfile::Idle => (0.0, 0.0, 60.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.02),
            WorkloadProfile::Training => (88.0, 8.0, 20.0, 4.0, 0.45, 0.0, 0.0, 2000.0, 400.0),
            WorkloadProfile::Inference => (40.0, 25.0, 45.0, 8.0, 0.30, 0.0, 0.0, 600.0, 200.0),
            WorkloadProfile::Bursty => (45.0, 45.0, 10.0, 5.0, 0.40, 0.0, 0.0, 3000.0, 100.0),
            WorkloadProfile::Desktop => (6.0, 4.0, 30.0, 2.0, 0.25, 10.0, 6.0, 150.0, 50.0),
        };
        Self {
            gpu_util: spec.gpu_util.unwrap_or(d.0),
            swing: spec.swing.unwrap_or(d.1),
            period_s: spec.period_s.unwrap_or(d.2),
            phase: unit(mix(seed, 0x5EED)),
            noise: spec.noise.unwrap_or(d.3),
            memory_util_ratio: spec.memory_util_ratio.unwrap_or(d.4),
            encoder: spec.encoder.unwrap_or(d.5),
            decoder: spec.decoder.unwrap_or(d.6),
            pcie_rx_kbs: spec.pcie_rx_mbs.unwrap_or(d.7) * 1000.0,
            pcie_tx_kbs: spec.pcie_tx_mbs.unwrap_or(d.8) * 1000.0,
            tensor_share: match profile {
                WorkloadProfile::Idle | WorkloadProfile::Desktop => 0.0,
                WorkloadProfile::Training => 0.7,
                WorkloadProfile::Inference => 0.55,
                WorkloadProfile::Bursty => 0.5,
            },
            square: profile == WorkloadProfile::Bursty,
            seed,
        }
    }

    /// The smooth part of the load at `t` (no noise), percent, unclamped.
    fn wave(&self, t: f64) -> f64 {
        let s = (TAU * (t / self.period_s + self.phase)).sin();
        let shape = if self.square {
            (4.0 * s).tanh() / 4.0_f64.tanh()
        } else {
            s
        };
        self.gpu_util + self.swing * shape
    }

    /// Smooth load without noise, clamped to 0..=100 (drives temperature,
    /// which lags and does not jitter).
    pub fn smooth_util(&self, t: f64) -> f64 {
        self.wave(t).clamp(0.0, 100.0)
    }

    /// GPU utilization at `t`, percent.
    pub fn gpu_util(&self, t: f64) -> f64 {
        if self.gpu_util == 0.0 && self.swing == 0.0 {
            return 0.0;
        }
        (self.wave(t) + self.noise * self.noise_at(Channel::Util, t)).clamp(0.0, 100.0)
    }

    /// Memory-bandwidth utilization at `t`, percent.
    pub fn memory_util(&self, t: f64) -> f64 {
        let base = self.gpu_util(t) * self.memory_util_ratio;
        if base == 0.0 {
            return 0.0;
        }
        (base + 2.0 * self.noise_at(Channel::MemUtil, t)).clamp(0.0, 100.0)
    }

    /// Encoder utilization at `t`, percent.
    pub fn encoder(&self, t: f64) -> f64 {
        self.jitter(self.encoder, Channel::Encoder, t)
    }

    /// Decoder utilization at `t`, percent.
    pub fn decoder(&self, t: f64) -> f64 {
        self.jitter(self.decoder, Channel::Decoder, t)
    }

    /// PCIe throughput at `t`, KB/s.
    pub fn pcie(&self, rx: bool, t: f64) -> f64 {
        let (full, channel) = if rx {
            (self.pcie_rx_kbs, Channel::PcieRx)
        } else {
            (self.pcie_tx_kbs, Channel::PcieTx)
        };
        let load = (self.gpu_util(t) / 100.0).max(0.02);
        (full * load * (1.0 + 0.15 * self.noise_at(channel, t))).max(0.0)
    }

    fn jitter(&self, mean: f64, channel: Channel, t: f64) -> f64 {
        if mean == 0.0 {
            return 0.0;
        }
        (mean + 2.0 * self.noise_at(channel, t)).clamp(0.0, 100.0)
    }

    /// Noise in `-1..1`, constant within each simulated second.
    pub fn noise_at(&self, channel: Channel, t: f64) -> f64 {
        let second = t.floor() as i64 as u64;
        unit(mix(mix(self.seed, channel as u64), second)) * 2.0 - 1.0
    }

    /// Integral of the smooth load from 0 to `t`, percent-seconds, with the
    /// mean raised to at least the swing so the integrand never goes
    /// negative (the energy counter must never run backwards).
    pub fn util_integral(&self, t: f64) -> f64 {
        let (mean, w, phi) = self.integral_terms();
        mean * t + self.swing / w * (phi.cos() - (w * t + phi).cos())
    }

    /// Integral of [`Self::gpu_util`] (noise and clamping included) over
    /// `[a, b]`, percent-seconds, for an interval inside one whole second
    /// (the noise steps at whole seconds): Simpson's rule on 16 panels.
    pub fn gpu_util_integral_within(&self, a: f64, b: f64) -> f64 {
        const PANELS: u32 = 16;
        if b <= a || (self.gpu_util == 0.0 && self.swing == 0.0) {
            return 0.0;
        }
        let h = (b - a) / f64::from(PANELS);
        // Sample just inside the ends so each node reads this second's noise.
        let inside = |t: f64| self.gpu_util(t.clamp(a, b - h * 1e-6));
        let mut sum = inside(a) + inside(b);
        for k in 1..PANELS {
            sum += if k % 2 == 1 { 4.0 } else { 2.0 } * inside(a + f64::from(k) * h);
        }
        sum * h / 3.0
    }

    /// The integrand of [`Self::util_integral`] at `t`, percent: the limit
    /// of its average over an interval that shrinks to `t`.
    pub fn util_rate(&self, t: f64) -> f64 {
        let (mean, w, phi) = self.integral_terms();
        mean + self.swing * (w * t + phi).sin()
    }

    fn integral_terms(&self) -> (f64, f64, f64) {
        let mean = self.gpu_util.max(self.swing);
        let w = TAU / self.period_s;
        let phi = TAU * self.phase;
        (mean, w, phi)
    }
}

/// SplitMix64 step of `a` and `b`: a fast, well-mixed hash.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash mapped to `0..1`.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn training() -> Workload {
        Workload::resolve(&WorkloadSpec::default(), true, 42)
    }

    #[test]
    fn same_seed_same_values_other_seed_other_values() {
        let a = training();
        let b = training();
        let c = Workload::resolve(&WorkloadSpec::default(), true, 43);
        for t in [0.0, 1.5, 17.25, 3600.0] {
            assert_eq!(a.gpu_util(t).to_bits(), b.gpu_util(t).to_bits());
        }
        assert!((0..50).any(|s| (a.gpu_util(f64::from(s)) - c.gpu_util(f64::from(s))).abs() > 0.5));
    }

    #[test]
    fn values_stay_in_range_and_move() {
        let w = Workload::resolve(
            &WorkloadSpec {
                profile: Some(WorkloadProfile::Bursty),
                ..WorkloadSpec::default()
            },
            true,
            1,
        );
        let samples: Vec<f64> = (0..200).map(|s| w.gpu_util(f64::from(s) * 0.37)).collect();
        assert!(samples.iter().all(|u| (0.0..=100.0).contains(u)));
        let (lo, hi) = samples
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &u| (lo.min(u), hi.max(u)));
        assert!(hi - lo > 50.0, "{lo}..{hi}");
    }

    #[test]
    fn idle_is_zero_and_energy_integral_is_monotonic() {
        let idle = Workload::resolve(&WorkloadSpec::default(), false, 9);
        assert!((0..100).all(|s| idle.gpu_util(f64::from(s)) == 0.0));
        let w = Workload::resolve(
            &WorkloadSpec {
                profile: Some(WorkloadProfile::Bursty),
                ..WorkloadSpec::default()
            },
            true,
            5,
        );
        let mut last = w.util_integral(0.0);
        for s in 1..1000 {
            let now = w.util_integral(f64::from(s) * 0.1);
            assert!(now >= last);
            last = now;
        }
    }
}

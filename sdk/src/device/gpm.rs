//! GPM activity metrics per device: how busy the SMs, tensor cores and
//! DRAM really are, where `utilization.gpu` only says a kernel was running.
//!
//! GPM (NVML's GPU Performance Monitoring, Hopper and newer) gives metrics
//! between two samples of the hardware counters. [`GpmSampler`] keeps the
//! previous sample per device and answers the metrics since then; every
//! sample it allocates is freed (when it is replaced, and on drop).
//! [`Device::gpm_metrics_over`] takes both samples itself, sleeping between.
//!
//! **GPM and DCGM share the hardware counters.** DCGM's profiling metrics
//! (`DCGM_FI_PROF_*`, used by `dcgm-exporter` and `dcgmi dmon`) and GPM read
//! the same performance-monitor units; a host running both can see either
//! one's readings disturbed. Nothing in nvitop takes GPM samples unless asked
//! ([`SnapshotFields::gpm`](crate::snapshot::SnapshotFields::gpm),
//! [`SamplerOptions::gpm`](crate::sampler::SamplerOptions)).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Device;
use crate::backend::{Backend, BackendError, DeviceRef, GpmMetric, GpmSampleId};

/// The shortest interval GPM metrics are taken over: shorter intervals
/// make the counters' granularity show (NVML's documentation asks for
/// samples at least 100 ms apart).
pub const GPM_MIN_INTERVAL: Duration = Duration::from_millis(100);

/// GPM metrics of one device over one interval. Percentages are 0-100 as
/// NVML reports them (not ratios); `None` is a metric the device or driver
/// does not support (`N/A`), never zero.
///
/// In JSON every `None` is left out.
///
/// ```
/// use nvitop::device::GpmMetrics;
/// let mut metrics = GpmMetrics::default(); // `#[non_exhaustive]`: no struct literal outside the SDK
/// metrics.sm_active = Some(71.5);
/// assert_eq!(serde_json::to_string(&metrics).unwrap(), r#"{"sm_active":71.5}"#);
/// assert_eq!(metrics.get(nvitop::backend::GpmMetric::SmActive), Some(71.5));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GpmMetrics {
    /// SM activity, percent: time at least one warp was resident, averaged over SMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_active: Option<f64>,
    /// SM occupancy, percent: resident warps over the maximum, averaged over SMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_occupancy: Option<f64>,
    /// Any tensor pipe active, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_active: Option<f64>,
    /// DRAM bandwidth used, percent of peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dram_active: Option<f64>,
    /// FP16 (non-tensor) pipe active, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp16_active: Option<f64>,
    /// FP32 pipe active, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp32_active: Option<f64>,
    /// FP64 pipe active, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp64_active: Option<f64>,
    /// PCIe sent by the GPU, MiB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie_tx_mib_per_s: Option<f64>,
    /// PCIe received by the GPU, MiB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie_rx_mib_per_s: Option<f64>,
}

impl GpmMetrics {
    /// The value of one metric.
    ///
    /// ```
    /// use nvitop::{backend::GpmMetric, device::GpmMetrics};
    /// assert_eq!(GpmMetrics::default().get(GpmMetric::TensorActive), None);
    /// ```
    pub fn get(&self, metric: GpmMetric) -> Option<f64> {
        match metric {
            GpmMetric::SmActive => self.sm_active,
            GpmMetric::SmOccupancy => self.sm_occupancy,
            GpmMetric::TensorActive => self.tensor_active,
            GpmMetric::DramActive => self.dram_active,
            GpmMetric::Fp16Active => self.fp16_active,
            GpmMetric::Fp32Active => self.fp32_active,
            GpmMetric::Fp64Active => self.fp64_active,
            GpmMetric::PcieTx => self.pcie_tx_mib_per_s,
            GpmMetric::PcieRx => self.pcie_rx_mib_per_s,
        }
    }

    fn slot_mut(&mut self, metric: GpmMetric) -> &mut Option<f64> {
        match metric {
            GpmMetric::SmActive => &mut self.sm_active,
            GpmMetric::SmOccupancy => &mut self.sm_occupancy,
            GpmMetric::TensorActive => &mut self.tensor_active,
            GpmMetric::DramActive => &mut self.dram_active,
            GpmMetric::Fp16Active => &mut self.fp16_active,
            GpmMetric::Fp32Active => &mut self.fp32_active,
            GpmMetric::Fp64Active => &mut self.fp64_active,
            GpmMetric::PcieTx => &mut self.pcie_tx_mib_per_s,
            GpmMetric::PcieRx => &mut self.pcie_rx_mib_per_s,
        }
    }

    /// Whether no metric has a value.
    ///
    /// ```
    /// assert!(nvitop::device::GpmMetrics::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        GpmMetric::ALL.iter().all(|&m| self.get(m).is_none())
    }

    /// The metrics between two samples of one backend; each metric's own
    /// error makes it `None`.
    fn between(backend: &dyn Backend, first: GpmSampleId, second: GpmSampleId) -> Result<Self, BackendError> {
        let answers = backend.gpm_metrics(first, second, &GpmMetric::ALL)?;
        let mut metrics = Self::default();
        for (metric, answer) in GpmMetric::ALL.iter().zip(answers) {
            *metrics.slot_mut(*metric) = answer.ok().filter(|v| v.is_finite());
        }
        Ok(metrics)
    }
}

impl Device {
    /// Whether the device supports GPM (Hopper and newer; a MIG device
    /// answers for its parent). A driver that cannot be asked (too old,
    /// another struct version) is "no".
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// assert!(gpu.gpm_supported()); // H100
    /// assert!(!a100.gpm_supported() && !rtx.gpm_supported());
    /// ```
    pub fn gpm_supported(&self) -> bool {
        self.backend.gpm_supported(self.handle).unwrap_or(false)
    }

    /// GPM metrics over `interval` (at least [`GPM_MIN_INTERVAL`]): takes a
    /// sample, sleeps, takes another, and frees both. Blocks the calling
    /// thread for the interval; a loop that samples repeatedly should keep
    /// a [`GpmSampler`] instead. `None` where GPM is not supported.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use std::time::Duration;
    /// let metrics = gpu.gpm_metrics_over(Duration::from_millis(100)).unwrap();
    /// assert!(metrics.sm_active.unwrap() <= 100.0);
    /// assert_eq!(a100.gpm_metrics_over(Duration::from_millis(100)), None);
    /// ```
    pub fn gpm_metrics_over(&self, interval: Duration) -> Option<GpmMetrics> {
        if !self.gpm_supported() {
            return None;
        }
        let backend = &*self.backend;
        let first = backend.gpm_sample(self.handle).ok()?;
        std::thread::sleep(interval.max(GPM_MIN_INTERVAL));
        let metrics = backend.gpm_sample(self.handle).ok().and_then(|second| {
            let metrics = GpmMetrics::between(backend, first, second).ok();
            let _ = backend.gpm_sample_free(second);
            metrics
        });
        let _ = backend.gpm_sample_free(first);
        metrics
    }
}

/// What a [`GpmSampler`] knows about one device.
#[derive(Debug)]
enum State {
    /// GPM is not supported (or its first sample failed): never asked again.
    Unsupported,
    /// The sample metrics are measured from, and when it was taken.
    Sampling {
        device: Device,
        previous: Option<(GpmSampleId, Instant)>,
        last: Option<GpmMetrics>,
    },
}

/// Keeps the previous GPM sample per device, so each call answers the
/// metrics since the previous one without sleeping. Frees every sample it
/// allocates: the one it replaces at once, the ones it holds when dropped.
///
/// The first call for a device only takes a sample and answers `None`;
/// calls less than [`GpmSampler::min_interval`] after the previous sample
/// answer the previous metrics again without a new sample. A device whose
/// support query says "no", or whose first sample fails, is not asked again.
///
/// ```
/// # use nvitop::doctest::*;
/// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
/// use nvitop::device::GpmSampler;
/// let mut sampler = GpmSampler::new();
/// assert_eq!(sampler.sample(&gpu), None); // the first sample
/// std::thread::sleep(std::time::Duration::from_millis(100));
/// let metrics = sampler.sample(&gpu).unwrap();
/// assert!(metrics.tensor_active.unwrap() <= metrics.sm_active.unwrap());
/// assert_eq!(sampler.sample(&rtx), None); // no GPM on an RTX 4090
/// ```
#[derive(Debug)]
pub struct GpmSampler {
    min_interval: Duration,
    states: HashMap<(usize, DeviceRef), State>,
}

impl Default for GpmSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl GpmSampler {
    /// A sampler measuring over at least [`GPM_MIN_INTERVAL`].
    pub fn new() -> Self {
        Self::with_min_interval(GPM_MIN_INTERVAL)
    }

    /// A sampler measuring over at least `min_interval` (tests use zero to
    /// take many samples quickly; real readings want 100 ms or more).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sampler = nvitop::device::GpmSampler::with_min_interval(Duration::from_secs(1));
    /// assert_eq!(sampler.min_interval(), Duration::from_secs(1));
    /// ```
    pub fn with_min_interval(min_interval: Duration) -> Self {
        Self {
            min_interval,
            states: HashMap::new(),
        }
    }

    /// The shortest interval metrics are measured over.
    pub fn min_interval(&self) -> Duration {
        self.min_interval
    }

    /// The metrics of `device` since its previous sample (see the type's
    /// docs); `None` before there are two samples, or without GPM.
    pub fn sample(&mut self, device: &Device) -> Option<GpmMetrics> {
        let key = key_of(device);
        let min_interval = self.min_interval;
        let state = self.states.entry(key).or_insert_with(|| {
            if device.gpm_supported() {
                State::Sampling {
                    device: device.clone(),
                    previous: None,
                    last: None,
                }
            } else {
                State::Unsupported
            }
        });
        let State::Sampling { device, previous, last } = state else {
            return None;
        };
        let now = Instant::now();
        if let Some((_, at)) = previous
            && now.duration_since(*at) < min_interval
        {
            return *last;
        }
        let backend = &*device.backend;
        let sample = match backend.gpm_sample(device.handle) {
            Ok(sample) => sample,
            Err(_) if previous.is_none() && last.is_none() => {
                // A device whose very first sample fails has no usable GPM.
                *state = State::Unsupported;
                return None;
            }
            Err(_) => return None,
        };
        let metrics = previous.take().map(|(before, _)| {
            let metrics = GpmMetrics::between(backend, before, sample).ok();
            let _ = backend.gpm_sample_free(before);
            metrics
        });
        *previous = Some((sample, now));
        if let Some(metrics) = metrics {
            *last = metrics;
        }
        metrics.flatten()
    }

    /// Frees the sample held for `device` and forgets it (for a device
    /// that went away).
    pub fn forget(&mut self, device: &Device) {
        if let Some(state) = self.states.remove(&key_of(device)) {
            free_state(state);
        }
    }

    /// Frees and forgets the samples of every device not in `devices`: a
    /// collector that samples GPUs and their MIG devices passes the ones it
    /// sampled this round, so MIG devices gone after a reconfiguration do
    /// not hold a sample until the sampler is dropped.
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::device::GpmSampler;
    /// let mut sampler = GpmSampler::new();
    /// sampler.sample(&gpu); // the H100's first sample, held
    /// std::thread::sleep(std::time::Duration::from_millis(100));
    /// sampler.retain(&[rtx]); // the H100 was not sampled this round
    /// assert_eq!(sampler.sample(&gpu), None); // forgotten: a first sample again
    /// ```
    pub fn retain(&mut self, devices: &[Device]) {
        let keep: std::collections::HashSet<_> = devices.iter().map(key_of).collect();
        let gone: Vec<_> = self.states.keys().filter(|k| !keep.contains(k)).copied().collect();
        for key in gone {
            if let Some(state) = self.states.remove(&key) {
                free_state(state);
            }
        }
    }
}

/// A sampler's key for `device`: its backend (by address) and handle.
fn key_of(device: &Device) -> (usize, DeviceRef) {
    (Arc::as_ptr(&device.backend).cast::<()>() as usize, device.handle)
}

fn free_state(state: State) {
    if let State::Sampling {
        device,
        previous: Some((sample, _)),
        ..
    } = state
    {
        let _ = device.backend.gpm_sample_free(sample);
    }
}

impl Drop for GpmSampler {
    fn drop(&mut self) {
        for (_, state) in self.states.drain() {
            free_state(state);
        }
    }
}

/// GPM metrics of several devices over one shared `interval` (at least
/// [`GPM_MIN_INTERVAL`]): first samples of all, one sleep, second samples
/// of all, so N devices cost one interval, not N. Every sample is freed.
/// Sleeps only when some device supports GPM.
///
/// ```
/// # use nvitop::doctest::*;
/// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
/// use nvitop::device::{GPM_MIN_INTERVAL, gpm_metrics_of};
/// let metrics = gpm_metrics_of(&[gpu, a100], GPM_MIN_INTERVAL);
/// assert!(metrics[0].is_some() && metrics[1].is_none());
/// ```
pub fn gpm_metrics_of(devices: &[Device], interval: Duration) -> Vec<Option<GpmMetrics>> {
    let first: Vec<Option<GpmSampleId>> = devices
        .iter()
        .map(|d| d.gpm_supported().then(|| d.backend.gpm_sample(d.handle).ok()).flatten())
        .collect();
    if first.iter().all(Option::is_none) {
        return vec![None; devices.len()];
    }
    std::thread::sleep(interval.max(GPM_MIN_INTERVAL));
    devices
        .iter()
        .zip(first)
        .map(|(device, first)| {
            let first = first?;
            let backend = &*device.backend;
            let metrics = backend.gpm_sample(device.handle).ok().and_then(|second| {
                let metrics = GpmMetrics::between(backend, first, second).ok();
                let _ = backend.gpm_sample_free(second);
                metrics
            });
            let _ = backend.gpm_sample_free(first);
            metrics
        })
        .collect()
}

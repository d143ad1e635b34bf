//! Metric names of the resource collector, as nvitop's collector names them.

use crate::sampler::Sample;

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

/// Turns samples into `(name, value)` pairs, names without tag and statistic
/// (`cuda:0 (gpu:3)/memory_used (MiB)`).
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// use nvitop::collector::MetricKeys;
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let sample = Sampler::start(Device::from_indices_in(&backend, &[0]).unwrap(), SamplerConfig::default()).latest();
/// let keys = MetricKeys::new(vec!["gpu:0".into()], false);
/// let names: Vec<String> = keys.values(&sample).into_iter().map(|(name, _)| name).collect();
/// assert!(names.contains(&"gpu:0/power_usage (W)".to_owned()));
/// assert!(names.contains(&"host/cpu_percent (%)".to_owned()));
/// ```
#[derive(Debug, Clone)]
pub struct MetricKeys {
    scopes: Vec<String>,
    tracked: bool,
}

impl MetricKeys {
    /// Names devices by `scopes` (one per sampled device, in order); adds
    /// per-process metrics when `tracked`, for the tracked processes that
    /// have a context on one of the devices.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// use nvitop::collector::MetricKeys;
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let sample = Sampler::start(Device::from_indices_in(&backend, &[0]).unwrap(), SamplerConfig::default()).latest();
    /// let tracked = MetricKeys::new(vec!["cuda:0 (gpu:0)".into()], true);
    /// let pid = std::process::id();
    /// let values = tracked.values(&sample);
    /// assert!(values.iter().any(|(name, _)| *name == format!("pid:{pid}/cuda:0 (gpu:0)/gpu_memory (MiB)")));
    /// ```
    pub fn new(scopes: Vec<String>, tracked: bool) -> Self {
        Self { scopes, tracked }
    }

    /// The named values present in `sample` (missing readings are left out).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// use nvitop::collector::MetricKeys;
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let sample = Sampler::start(Device::from_indices_in(&backend, &[0]).unwrap(), SamplerConfig::default()).latest();
    /// let values = MetricKeys::new(vec!["gpu:0".into()], false).values(&sample);
    /// let total = values.iter().find(|(name, _)| name == "gpu:0/memory_total (MiB)").unwrap().1;
    /// assert_eq!(total, 81559.0);
    /// assert!(!values.iter().any(|(name, _)| name.contains("fan_speed"))); // N/A on an H100: left out
    /// ```
    pub fn values(&self, sample: &Sample) -> Vec<(String, f64)> {
        let mut out = Vec::with_capacity(16 + 12 * self.scopes.len());
        let mut push = |name: String, value: Option<f64>| {
            if let Some(v) = value {
                out.push((name, v));
            }
        };
        let host = &sample.host;
        push("host/cpu_percent (%)".into(), Some(host.cpu_percent));
        push("host/memory_percent (%)".into(), Some(host.memory_percent));
        push("host/swap_percent (%)".into(), Some(host.swap_percent));
        push("host/memory_used (GiB)".into(), Some(host.memory_used as f64 / GIB));
        if let Some((one, five, fifteen)) = host.load_average {
            push("host/load_average (%) (1 min)".into(), Some(one));
            push("host/load_average (%) (5 min)".into(), Some(five));
            push("host/load_average (%) (15 min)".into(), Some(fifteen));
        }
        for (scope, d) in self.scopes.iter().zip(&sample.devices) {
            push(format!("{scope}/memory_used (MiB)"), d.memory_used.map(|b| b / MIB));
            push(format!("{scope}/memory_free (MiB)"), d.memory_free.map(|b| b / MIB));
            push(format!("{scope}/memory_total (MiB)"), d.memory_total.map(|b| b / MIB));
            push(format!("{scope}/memory_percent (%)"), d.memory_percent);
            push(format!("{scope}/gpu_utilization (%)"), d.gpu_utilization);
            push(format!("{scope}/memory_utilization (%)"), d.memory_utilization);
            push(format!("{scope}/fan_speed (%)"), d.fan_speed);
            push(format!("{scope}/temperature (C)"), d.temperature);
            push(format!("{scope}/power_usage (W)"), d.power_usage);
            push(format!("{scope}/power_limit (W)"), d.power_limit);
        }
        if self.tracked {
            // As nvitop's collector: a tracked process is reported only while
            // it holds a context on one of the collected devices, so a
            // training run's CPU-only children (data-loader workers) add no keys.
            for p in sample.processes.iter().filter(|p| p.gpu.iter().any(Option::is_some)) {
                let pid = p.pid;
                if let Some(h) = &p.host {
                    push(format!("pid:{pid}/host/cpu_percent (%)"), Some(h.cpu_percent));
                    push(format!("pid:{pid}/host/host_memory (MiB)"), Some(h.rss as f64 / MIB));
                    push(
                        format!("pid:{pid}/host/host_memory_percent (%)"),
                        Some(h.memory_percent),
                    );
                    push(
                        format!("pid:{pid}/host/running_time (min)"),
                        Some(h.running_time as f64 / 60.0),
                    );
                }
                for (scope, gpu) in self.scopes.iter().zip(&p.gpu) {
                    let Some(g) = gpu else { continue };
                    push(
                        format!("pid:{pid}/{scope}/gpu_memory (MiB)"),
                        g.gpu_memory.map(|b| b / MIB),
                    );
                    push(
                        format!("pid:{pid}/{scope}/gpu_memory_percent (%)"),
                        g.gpu_memory_percent,
                    );
                    push(
                        format!("pid:{pid}/{scope}/gpu_memory_utilization (%)"),
                        g.gpu_memory_utilization,
                    );
                    push(
                        format!("pid:{pid}/{scope}/gpu_sm_utilization (%)"),
                        g.gpu_sm_utilization,
                    );
                }
            }
        }
        out
    }
}

//! `ResourceCollector`: mean / min / max / last of every resource metric
//! between two `collect()` calls, under nested tags — the counterpart of
//! nvitop's `ResourceMetricCollector`, with the same key names.
//!
//! Keys are `<tag>/<scope>/<metric (unit)>/<mean|min|max|last>`, plus
//! `<tag>/duration (s)`, `<tag>/timestamp` and `<tag>/last_timestamp`; a
//! process's running time is reported as nvitop does, as
//! `pid:<pid>/host/running_time (min)` (its maximum) and `.../last`. Scopes: `host`,
//! `cuda:0 (gpu:3)` (CUDA ordinal and physical index; `gpu:3` alone for a
//! device chosen by physical index), and `pid:1234/host` /
//! `pid:1234/cuda:0 (gpu:3)` for the tracked processes that hold a context
//! on one of the devices. The full table is in `docs/METRICS.md`.
//!
//! Where nvitop differs: a reading the device does not have (an H100's fan)
//! or cannot give (a lost GPU) is absent rather than `nan`, so a dashboard
//! shows no point rather than a NaN; `mean` is the mean of the samples
//! (nvitop weighs them by time, which is the same at the sampler's regular
//! interval); `collect()` starts a new period (nvitop's accumulates until
//! `clear()`), so each result covers the time since the previous one; and
//! a MIG-enabled GPU is one scope, its MIG devices are not added as
//! nvitop's `gpu:(1, 0)` scopes (pass them explicitly to collect them).

mod keys;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use keys::MetricKeys;

use crate::device::{CudaDevice, Device};
use crate::error::Result;
use crate::sampler::{Sample, SampleObserver, Sampler, SamplerConfig, Tracked};
use crate::snapshot::unix_now;

/// Running statistics of one metric.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stats {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
}

impl Stats {
    fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        self.last = value;
    }
}

struct Context {
    prefix: String,
    stats: BTreeMap<String, Stats>,
    since: Instant,
    /// Unix time of the newest sample added (of the context's creation
    /// before any): nvitop's `<tag>/last_timestamp`.
    last_timestamp: f64,
}

impl Context {
    fn new(prefix: String) -> Self {
        Self {
            prefix,
            stats: BTreeMap::new(),
            since: Instant::now(),
            last_timestamp: unix_now(),
        }
    }

    /// The statistics of the period that ends now; starts a new one.
    fn take_report(&mut self) -> BTreeMap<String, f64> {
        let stats = std::mem::take(&mut self.stats);
        let duration = self.since.elapsed();
        self.since = Instant::now();
        report(&self.prefix, &stats, duration, self.last_timestamp)
    }
}

struct Accumulator {
    keys: MetricKeys,
    stack: Mutex<Vec<Context>>,
}

impl SampleObserver for Accumulator {
    fn observe(&self, sample: &Sample) {
        let values = self.keys.values(sample);
        let mut stack = self.stack.lock().unwrap_or_else(PoisonError::into_inner);
        for context in stack.iter_mut() {
            for (name, value) in &values {
                context.stats.entry(name.clone()).or_default().add(*value);
            }
            context.last_timestamp = sample.timestamp;
        }
    }
}

/// Collects resource metrics in the background and reports their
/// statistics on demand.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
///
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let devices = Device::from_cuda_visible_devices_in(&backend, Some("0")).unwrap();
/// let collector = ResourceCollector::for_cuda_devices(&devices, Duration::from_millis(20)).unwrap();
/// {
///     let _train = collector.context("train");
///     std::thread::sleep(Duration::from_millis(60));
///     let metrics = collector.collect();
///     assert!(metrics.contains_key("train/cuda:0 (gpu:0)/gpu_utilization (%)/mean"));
///     assert!(metrics.contains_key("train/host/cpu_percent (%)/max"));
/// }
/// ```
pub struct ResourceCollector {
    sampler: Arc<Sampler>,
    accumulator: Arc<Accumulator>,
}

impl std::fmt::Debug for ResourceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceCollector")
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl ResourceCollector {
    /// A collector over devices chosen by physical index (scope `gpu:N`),
    /// tracking the calling process and its descendants.
    ///
    /// # Errors
    /// The interval is outside 10 ms – 60 s.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// let metrics = collector.collect();
    /// assert!(metrics.contains_key("resources/gpu:3/temperature (C)/mean"));
    /// assert!(ResourceCollector::new(&devices, Duration::ZERO).is_err()); // interval out of range
    /// ```
    pub fn new(devices: &[Device], interval: Duration) -> Result<Self> {
        let scopes = devices.iter().map(|d| format!("gpu:{}", d.display_index())).collect();
        Ok(Self::with_scopes(
            devices.to_vec(),
            scopes,
            SamplerConfig::default().interval(interval)?,
        ))
    }

    /// A collector over CUDA-visible devices (scope `cuda:0 (gpu:3)`).
    ///
    /// # Errors
    /// The interval is outside 10 ms – 60 s.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// let visible = Device::from_cuda_visible_devices_in(&backend, Some("3")).unwrap();
    /// let collector = ResourceCollector::for_cuda_devices(&visible, Duration::from_millis(20)).unwrap();
    /// assert!(collector.collect().contains_key("resources/cuda:0 (gpu:3)/fan_speed (%)/last"));
    /// ```
    pub fn for_cuda_devices(devices: &[CudaDevice], interval: Duration) -> Result<Self> {
        let scopes = devices.iter().map(ToString::to_string).collect();
        let plain = devices.iter().map(|d| d.device().clone()).collect();
        Ok(Self::with_scopes(
            plain,
            scopes,
            SamplerConfig::default().interval(interval)?,
        ))
    }

    /// A collector with full control of the sampler (tracked processes,
    /// options); `scopes` names each device in the keys.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// use nvitop::sampler::{SamplerConfig, Tracked};
    /// let config = SamplerConfig::default().tracked(Tracked::None);
    /// let collector = ResourceCollector::with_config(devices, vec!["h100".into(), "rtx".into()], config);
    /// let metrics = collector.collect();
    /// assert!(metrics.contains_key("resources/rtx/gpu_utilization (%)/max"));
    /// assert!(!metrics.keys().any(|k| k.contains("pid:"))); // no process metrics
    /// ```
    pub fn with_config(devices: Vec<Device>, scopes: Vec<String>, config: SamplerConfig) -> Self {
        Self::with_scopes(devices, scopes, config)
    }

    fn with_scopes(devices: Vec<Device>, scopes: Vec<String>, config: SamplerConfig) -> Self {
        let tracked = !matches!(config_tracked(&config), Tracked::None);
        let sampler = Arc::new(Sampler::start(devices, config));
        let accumulator = Arc::new(Accumulator {
            keys: MetricKeys::new(scopes, tracked),
            stack: Mutex::new(Vec::new()),
        });
        let observer: Arc<dyn SampleObserver> = accumulator.clone();
        sampler.observe(&observer);
        Self { sampler, accumulator }
    }

    /// The sampler behind this collector.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// assert_eq!(collector.sampler().devices().len(), 2);
    /// assert_eq!(collector.sampler().interval(), Duration::from_millis(20));
    /// ```
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.sampler
    }

    /// Enters a tag: keys are prefixed `<outer>/<tag>`. Pair with [`ResourceCollector::deactivate`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// collector.activate("train");
    /// collector.activate("epoch");
    /// let metrics = collector.collect();
    /// assert!(metrics.contains_key("train/epoch/duration (s)"));
    /// collector.deactivate();
    /// assert!(collector.collect().contains_key("train/duration (s)"));
    /// # collector.deactivate();
    /// ```
    pub fn activate(&self, tag: &str) {
        let mut stack = self.accumulator.stack.lock().unwrap_or_else(PoisonError::into_inner);
        let prefix = match stack.last() {
            Some(outer) => format!("{}/{tag}", outer.prefix),
            None => tag.to_owned(),
        };
        stack.push(Context::new(prefix));
    }

    /// Leaves the innermost tag (its pending statistics are dropped).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// collector.activate("eval");
    /// collector.deactivate();
    /// // Outside any tag `collect` reports one fresh sample under `resources`.
    /// assert!(collector.collect().keys().all(|k| k.starts_with("resources/")));
    /// ```
    pub fn deactivate(&self) {
        self.accumulator
            .stack
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
    }

    /// nvitop's name for [`ResourceCollector::activate`]: starts collecting
    /// under `tag`. Pair with [`ResourceCollector::stop`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// collector.start("train");
    /// assert!(collector.collect().contains_key("train/gpu:0/memory_used (MiB)/mean"));
    /// collector.stop();
    /// assert!(collector.collect().keys().all(|k| k.starts_with("resources/")));
    /// ```
    pub fn start(&self, tag: &str) {
        self.activate(tag);
    }

    /// nvitop's name for [`ResourceCollector::deactivate`]: leaves the
    /// innermost tag (see [`ResourceCollector::start`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// collector.start("train");
    /// collector.start("validate");
    /// collector.stop();
    /// assert!(collector.collect().contains_key("train/duration (s)"));
    /// ```
    pub fn stop(&self) {
        self.deactivate();
    }

    /// Enters a tag for the life of the returned guard.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// {
    ///     let _validate = collector.context("validate");
    ///     assert!(collector.collect().contains_key("validate/gpu:0/memory_used (MiB)/last"));
    /// } // tag left here
    /// assert!(collector.collect().contains_key("resources/timestamp"));
    /// ```
    pub fn context(&self, tag: &str) -> ContextGuard<'_> {
        self.activate(tag);
        ContextGuard { collector: self }
    }

    /// Statistics of every metric since the last `collect()` (or since the
    /// innermost tag was entered), under the innermost tag's prefix; then
    /// starts a new period. If no sample arrived in the period, one is
    /// taken now, so the result is never empty. Outside any tag the prefix
    /// is `resources`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// let _train = collector.context("train");
    /// std::thread::sleep(Duration::from_millis(60));
    /// let metrics = collector.collect();
    /// let (min, max) = (metrics["train/gpu:0/temperature (C)/min"], metrics["train/gpu:0/temperature (C)/max"]);
    /// assert!(min <= max);
    /// assert!(metrics["train/duration (s)"] >= 0.05);
    /// ```
    pub fn collect(&self) -> BTreeMap<String, f64> {
        let empty = {
            let stack = self.accumulator.stack.lock().unwrap_or_else(PoisonError::into_inner);
            stack.last().is_none_or(|c| c.stats.is_empty())
        };
        if empty {
            let sample = self.sampler.sample_now();
            let stack = self.accumulator.stack.lock().unwrap_or_else(PoisonError::into_inner);
            if stack.is_empty() {
                drop(stack);
                return self.collect_once("resources", &sample);
            }
        }
        let mut stack = self.accumulator.stack.lock().unwrap_or_else(PoisonError::into_inner);
        stack.last_mut().map(Context::take_report).unwrap_or_default()
    }

    fn collect_once(&self, prefix: &str, sample: &Sample) -> BTreeMap<String, f64> {
        let mut stats = BTreeMap::new();
        for (name, value) in self.accumulator.keys.values(sample) {
            stats.entry(name).or_insert_with(Stats::default).add(value);
        }
        report(prefix, &stats, Duration::ZERO, sample.timestamp)
    }

    /// Collects every `interval` on a background thread under `tag` and
    /// hands each result to `on_collect`; stops when `on_collect` returns
    /// `false` or the returned handle is dropped.
    ///
    /// # Errors
    /// The interval is outside 10 ms – 60 s.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// use std::sync::mpsc;
    /// let (send, receive) = mpsc::channel();
    /// let daemon = collector
    ///     .daemonize("monitor", Duration::from_millis(30), move |metrics| send.send(metrics).is_ok())
    ///     .unwrap();
    /// let metrics = receive.recv_timeout(Duration::from_secs(10)).unwrap();
    /// assert!(metrics.contains_key("monitor/duration (s)"));
    /// drop(daemon); // stops the thread
    /// ```
    pub fn daemonize<F>(&self, tag: &str, interval: Duration, mut on_collect: F) -> Result<Daemon>
    where
        F: FnMut(BTreeMap<String, f64>) -> bool + Send + 'static,
    {
        SamplerConfig::default().interval(interval)?;
        let accumulator = Arc::new(Accumulator {
            keys: self.accumulator.keys.clone(),
            stack: Mutex::new(vec![Context::new(tag.to_owned())]),
        });
        let observer: Arc<dyn SampleObserver> = accumulator.clone();
        self.sampler.observe(&observer);
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("nvitop-collector".into())
            .spawn(move || {
                let _keep = observer;
                loop {
                    let (lock, wake) = &*stop_flag;
                    let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
                    let (guard, _) = wake
                        .wait_timeout_while(guard, interval, |s| !*s)
                        .unwrap_or_else(PoisonError::into_inner);
                    if *guard {
                        return;
                    }
                    drop(guard);
                    let metrics = {
                        let mut stack = accumulator.stack.lock().unwrap_or_else(PoisonError::into_inner);
                        let Some(context) = stack.last_mut() else { return };
                        context.take_report()
                    };
                    if !on_collect(metrics) {
                        return;
                    }
                }
            })
            .map_err(|source| crate::Error::ThreadSpawn {
                thread: "collector",
                source,
            })?;
        Ok(Daemon {
            stop,
            thread: Some(thread),
        })
    }
}

fn config_tracked(config: &SamplerConfig) -> Tracked {
    config.tracked_value().clone()
}

/// The metric nvitop reports without a mean and a minimum: a process's
/// running time only grows, so its maximum (under the bare name) and last
/// value are what it says.
const RUNNING_TIME: &str = "host/running_time (min)";

fn report(
    prefix: &str,
    stats: &BTreeMap<String, Stats>,
    duration: Duration,
    last_timestamp: f64,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (name, s) in stats {
        if s.count == 0 {
            continue;
        }
        if name.ends_with(RUNNING_TIME) {
            out.insert(format!("{prefix}/{name}"), s.max);
        } else {
            out.insert(format!("{prefix}/{name}/mean"), s.sum / s.count as f64);
            out.insert(format!("{prefix}/{name}/min"), s.min);
            out.insert(format!("{prefix}/{name}/max"), s.max);
        }
        out.insert(format!("{prefix}/{name}/last"), s.last);
    }
    out.insert(format!("{prefix}/duration (s)"), duration.as_secs_f64());
    out.insert(format!("{prefix}/timestamp"), unix_now());
    out.insert(format!("{prefix}/last_timestamp"), last_timestamp);
    out
}

/// Leaves its tag when dropped.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
/// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
/// let guard = collector.context("step");
/// assert!(collector.collect().contains_key("step/duration (s)"));
/// drop(guard);
/// assert!(collector.collect().contains_key("resources/duration (s)"));
/// ```
#[derive(Debug)]
pub struct ContextGuard<'a> {
    collector: &'a ResourceCollector,
}

impl Drop for ContextGuard<'_> {
    fn drop(&mut self) {
        self.collector.deactivate();
    }
}

/// A background collection started by [`ResourceCollector::daemonize`]; stops when dropped.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
/// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
/// let mut daemon = collector.daemonize("bg", Duration::from_millis(50), |_| true).unwrap();
/// daemon.stop(); // or drop it
/// ```
#[derive(Debug)]
pub struct Daemon {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Daemon {
    /// Stops collecting and waits for the thread.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, ResourceCollector, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::from_indices_in(&backend, &[0, 3]).unwrap();
    /// # let collector = ResourceCollector::new(&devices, Duration::from_millis(20)).unwrap();
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&calls);
    /// let mut daemon = collector
    ///     .daemonize("bg", Duration::from_millis(10), move |_| {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///         true
    ///     })
    ///     .unwrap();
    /// daemon.stop();
    /// let after_stop = calls.load(Ordering::Relaxed);
    /// std::thread::sleep(Duration::from_millis(50));
    /// assert_eq!(calls.load(Ordering::Relaxed), after_stop);
    /// ```
    pub fn stop(&mut self) {
        *self.stop.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the collector thread panicked");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn stats_ignore_non_finite_and_track_extremes() {
        let mut s = Stats::default();
        for v in [3.0, f64::NAN, 1.0, 5.0, f64::INFINITY] {
            s.add(v);
        }
        assert_eq!((s.count, s.min, s.max, s.last), (3, 1.0, 5.0, 5.0));
        let out = report(
            "t",
            &BTreeMap::from([("x (%)".to_owned(), s)]),
            Duration::from_secs(2),
            1.5e9,
        );
        assert_eq!(out["t/x (%)/mean"], 3.0);
        assert_eq!(out["t/duration (s)"], 2.0);
        assert_eq!(out["t/last_timestamp"], 1.5e9);
        assert!(out.contains_key("t/timestamp"));
    }

    #[test]
    fn running_time_is_reported_as_nvitop_does() {
        let mut s = Stats::default();
        for minutes in [1.0, 1.5, 2.0] {
            s.add(minutes);
        }
        let name = "pid:7/host/running_time (min)".to_owned();
        let out = report("t", &BTreeMap::from([(name, s)]), Duration::ZERO, 0.0);
        assert_eq!(out["t/pid:7/host/running_time (min)"], 2.0);
        assert_eq!(out["t/pid:7/host/running_time (min)/last"], 2.0);
        for stat in ["mean", "min", "max"] {
            assert!(!out.contains_key(&format!("t/pid:7/host/running_time (min)/{stat}")));
        }
    }
}

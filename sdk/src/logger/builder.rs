//! Configuring a `GpuStatsLogger`.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::keys::LoggerKeys;
use super::options::LoggerOptions;
use super::worker::Worker;
use super::{Clocks, GpuStatsLogger};
use crate::backend::Backend;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::sampler::{SampleOptions, Sampler, SamplerConfig, Tracked};
use crate::sink::{CsvSink, Sink, TensorBoardSink, default_log_parent, default_run_dir};

/// Which devices to log.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    Physical(Vec<u32>),
    Cuda(Vec<u32>),
    Devices(Vec<Device>),
}

/// Builds a [`GpuStatsLogger`]; every option has nvitop's default.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use nvitop::GpuStatsLogger;
/// use nvitop::backend::sim::SimBackend;
///
/// let dir = tempfile::tempdir().unwrap();
/// let logger = GpuStatsLogger::builder(&[0, 1])
///     .backend(Arc::new(SimBackend::default_machine()))
///     .tensorboard(dir.path().join("tb"))
///     .csv(dir.path().join("gpu.csv"))
///     .interval(Duration::from_millis(100))
///     .intra_step_time(true)
///     .inter_step_time(true)
///     .temperature(true)
///     .power(true)
///     .build()?;
/// assert!(logger.keys().iter().any(|k| k == "gpu_id: 1/temperature.gpu (C)"));
/// # Ok::<(), nvitop::Error>(())
/// ```
#[must_use]
#[derive(Debug)]
pub struct GpuStatsLoggerBuilder {
    selection: Selection,
    backend: Option<Arc<dyn Backend>>,
    tensorboard: Option<PathBuf>,
    csv: Option<PathBuf>,
    sinks: Vec<Box<dyn Sink>>,
    interval: Duration,
    options: LoggerOptions,
    capacity: usize,
}

impl std::fmt::Debug for dyn Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

macro_rules! switch {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, on: bool) -> Self {
                self.options.$name = on;
                self
            }
        )*
    };
}

impl GpuStatsLoggerBuilder {
    pub(crate) fn new(selection: Selection) -> Self {
        Self {
            selection,
            backend: None,
            tensorboard: None,
            csv: None,
            sinks: Vec::new(),
            interval: crate::sampler::DEFAULT_INTERVAL,
            options: LoggerOptions::default(),
            capacity: 4096,
        }
    }

    /// Reads devices through this backend instead of the default one.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::from_preset("h100x8").unwrap()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.sampler().devices()[0].backend().is_simulated());
    /// ```
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Writes TensorBoard event files into `run_dir`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let dir = tempfile::tempdir().unwrap();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .tensorboard(dir.path().join("run1"))
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// assert!(logger.close().is_clean());
    /// let files = std::fs::read_dir(dir.path().join("run1")).unwrap();
    /// assert!(files.flatten().any(|f| f.file_name().to_string_lossy().starts_with("events.out.tfevents.")));
    /// ```
    pub fn tensorboard(mut self, run_dir: impl Into<PathBuf>) -> Self {
        self.tensorboard = Some(run_dir.into());
        self
    }

    /// Writes a CSV file at `path` (appends when its header matches;
    /// [`build`](Self::build) fails on a file with a different header).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("gpu.csv");
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(&path)
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// logger.close();
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// assert!(text.lines().next().unwrap().contains("gpu_id: 0/utilization.gpu (%)"));
    /// assert_eq!(text.lines().count(), 3); // header and two rows
    /// // Other columns (here the temperature too) are refused before training starts.
    /// let err = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .csv(&path)
    ///     .temperature(true)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("different CSV header"), "{err}");
    /// ```
    pub fn csv(mut self, path: impl Into<PathBuf>) -> Self {
        self.csv = Some(path.into());
        self
    }

    /// Adds a sink of your own (several may be added).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let sink = MemorySink::new();
    /// let rows = sink.handle();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(sink))
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// logger.close();
    /// assert_eq!(rows.len(), 2);
    /// ```
    pub fn sink(mut self, sink: Box<dyn Sink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Sampling interval, 10 ms to 60 s (default 0.5 s).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .interval(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(logger.sampler().interval(), Duration::from_millis(100));
    /// // Out of range: refused when building.
    /// let too_fast = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .interval(Duration::from_millis(1))
    ///     .build();
    /// assert!(too_fast.is_err());
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets every metric switch at once.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// use nvitop::LoggerOptions;
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .options(LoggerOptions { power: true, ..LoggerOptions::default() })
    ///     .build()
    ///     .unwrap();
    /// assert!(logger.keys().contains(&"gpu_id: 0/power.draw (W)".to_owned()));
    /// ```
    pub fn options(mut self, options: LoggerOptions) -> Self {
        self.options = options;
        self
    }

    /// Capacity of the channel to the sink thread; rows beyond it are dropped and counted.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .channel_capacity(1024)
    ///     .build()
    ///     .unwrap();
    /// drop(logger.step(0));
    /// assert_eq!(logger.close().dropped, 0);
    /// ```
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    switch! {
        /// `utilization.memory (%)`, `memory.used (MiB)`, `memory.free (MiB)` (default on).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).memory_utilization(false));
        /// assert!(!keys.contains(&"gpu_id: 3/memory.used (MiB)".to_owned()));
        /// ```
        memory_utilization,
        /// `utilization.gpu (%)` (default on).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).gpu_utilization(false));
        /// assert!(!keys.contains(&"gpu_id: 3/utilization.gpu (%)".to_owned()));
        /// ```
        gpu_utilization,
        /// `batch_time/intra_step (ms)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).intra_step_time(true));
        /// assert!(keys.contains(&"batch_time/intra_step (ms)".to_owned()));
        /// ```
        intra_step_time,
        /// `batch_time/inter_step (ms)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).inter_step_time(true));
        /// assert!(keys.contains(&"batch_time/inter_step (ms)".to_owned()));
        /// ```
        inter_step_time,
        /// `fan.speed (%)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).fan_speed(true));
        /// assert!(keys.contains(&"gpu_id: 3/fan.speed (%)".to_owned()));
        /// ```
        fan_speed,
        /// `temperature.gpu (C)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).temperature(true));
        /// assert!(keys.contains(&"gpu_id: 3/temperature.gpu (C)".to_owned()));
        /// ```
        temperature,
        /// `power.draw (W)` and `power.limit (W)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).power(true));
        /// assert!(keys.contains(&"gpu_id: 3/power.limit (W)".to_owned()));
        /// ```
        power,
        /// `energy.step (J)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).energy(true));
        /// assert!(keys.contains(&"gpu_id: 3/energy.step (J)".to_owned()));
        /// ```
        energy,
        /// `clocks.sm (MHz)`, `clocks.mem (MHz)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).clocks(true));
        /// assert!(keys.contains(&"gpu_id: 3/clocks.sm (MHz)".to_owned()));
        /// ```
        clocks,
        /// `pcie.tx (KB/s)`, `pcie.rx (KB/s)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).pcie(true));
        /// assert!(keys.contains(&"gpu_id: 3/pcie.rx (KB/s)".to_owned()));
        /// ```
        pcie,
        /// `process.memory.used (MiB)` per device for this process and its children (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).process_memory(true));
        /// assert!(keys.contains(&"gpu_id: 3/process.memory.used (MiB)".to_owned()));
        /// ```
        process_memory,
        /// `host/process.cpu (%)`, `host/process.rss (MiB)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).process_host(true));
        /// assert!(keys.contains(&"host/process.rss (MiB)".to_owned()));
        /// ```
        process_host,
        /// `epoch_time/train (s)`, `epoch_time/validation (s)` (default off).
        ///
        /// ```
        /// # use std::sync::Arc;
        /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
        /// # let keys_of = |builder: nvitop::logger::GpuStatsLoggerBuilder| {
        /// #     let logger = builder.backend(Arc::new(SimBackend::default_machine())).sink(Box::new(MemorySink::new()));
        /// #     logger.build().unwrap().keys().to_vec()
        /// # };
        /// let keys = keys_of(GpuStatsLogger::builder(&[3]).epoch_time(true));
        /// assert!(keys.contains(&"epoch_time/train (s)".to_owned()));
        /// ```
        epoch_time,
    }

    fn devices(&self) -> Result<(Vec<Device>, Vec<String>)> {
        // Explicit devices carry their own backend: asking for the default
        // one would fail needlessly on a machine without a driver.
        let backend = || match &self.backend {
            Some(backend) => Ok(Arc::clone(backend)),
            None => crate::default_backend(),
        };
        let devices = match &self.selection {
            Selection::Devices(devices) => devices.clone(),
            Selection::Physical(indices) => Device::from_indices_in(&backend()?, indices)?,
            Selection::Cuda(indices) => {
                let backend = backend()?;
                let value = std::env::var(crate::device::CUDA_VISIBLE_DEVICES).ok();
                let cuda = Device::from_cuda_indices_in(&backend, value.as_deref(), indices)?;
                let prefixes = cuda
                    .iter()
                    .map(|d| {
                        let physical = d.display_index();
                        if physical == d.cuda_index().to_string() {
                            format!("gpu_id: {}", d.cuda_index())
                        } else {
                            format!("gpu_id: {} (physical index: {physical})", d.cuda_index())
                        }
                    })
                    .collect();
                return Ok((cuda.into_iter().map(crate::CudaDevice::into_device).collect(), prefixes));
            }
        };
        let prefixes = devices
            .iter()
            .map(|d| format!("gpu_id: {}", d.display_index()))
            .collect();
        Ok((devices, prefixes))
    }

    /// Starts the sampler and the sink thread.
    ///
    /// # Errors
    /// No driver, a device that does not exist, an interval out of range, a
    /// sink that cannot be created (the error names the path), or a CSV file
    /// to append to whose header is not this logger's
    /// ([`SinkError::HeaderMismatch`](crate::sink::SinkError::HeaderMismatch)).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// let logger = GpuStatsLogger::builder(&[0, 3])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(MemorySink::new()))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(logger.sampler().devices().len(), 2);
    /// // A GPU that does not exist is an error naming it.
    /// let err = GpuStatsLogger::builder(&[4]).backend(Arc::new(SimBackend::default_machine())).build().unwrap_err();
    /// assert!(err.to_string().contains("no GPU with index 4"), "{err}");
    /// ```
    pub fn build(mut self) -> Result<GpuStatsLogger> {
        let config = SamplerConfig::default()
            .interval(self.interval)?
            .tracked(if self.options.process_memory || self.options.process_host {
                Tracked::SelfAndChildren
            } else {
                Tracked::None
            })
            .options(SampleOptions {
                clocks: self.options.clocks,
                pcie: self.options.pcie,
            });
        let (devices, prefixes) = self.devices()?;
        let keys = LoggerKeys::new(&prefixes, &self.options);
        let mut sinks = std::mem::take(&mut self.sinks);
        if let Some(path) = &self.csv {
            let mut csv = CsvSink::create(path)?;
            // The header is checked here, not on the sink thread: appending
            // to a file with other columns is a mistake to report before
            // training starts, not in every row's error count. (Before the
            // event file is created, so a refused run leaves no empty run
            // behind in TensorBoard.)
            csv.start(keys.names())?;
            sinks.push(Box::new(csv));
        }
        if let Some(dir) = &self.tensorboard {
            sinks.push(Box::new(TensorBoardSink::create(dir)?));
        }
        if sinks.is_empty() {
            sinks.push(Box::new(TensorBoardSink::create(default_run_dir(
                &default_log_parent(),
            ))?));
        }
        let sampler = Arc::new(Sampler::start(devices, config));
        let (sender, receiver) = crossbeam_channel::bounded(self.capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            sinks,
            keys: keys.clone(),
            sampler: Arc::clone(&sampler),
            receiver,
            dropped: Arc::clone(&dropped),
        };
        let handle = std::thread::Builder::new()
            .name("nvitop-logger-sink".into())
            .spawn(move || worker.run())
            .map_err(|err| Error::Host(format!("could not start the logger's sink thread: {err}")))?;
        Ok(GpuStatsLogger {
            sampler,
            sender: Some(sender),
            options: self.options,
            origin: Instant::now(),
            clocks: Clocks::default(),
            dropped,
            worker: Mutex::new(Some(handle)),
            keys: keys.names().to_vec(),
        })
    }
}

//! Which statistics the logger records.

/// The logger's metric switches. The first six are nvitop's callback options
/// with nvitop's defaults; the rest are extensions, off by default.
///
/// The struct is `#[non_exhaustive]` so a new metric switch is not a
/// breaking change: build one from [`LoggerOptions::default`] with the
/// setter of each switch (or use the logger builder's switches directly).
///
/// ```
/// use std::sync::Arc;
/// use nvitop::{GpuStatsLogger, LoggerOptions, backend::sim::SimBackend, sink::MemorySink};
/// let options = LoggerOptions::default().temperature(true).gpu_utilization(false);
/// assert!(options.temperature && !options.gpu_utilization);
/// let logger = GpuStatsLogger::builder(&[0])
///     .backend(Arc::new(SimBackend::default_machine()))
///     .sink(Box::new(MemorySink::new()))
///     .options(options)
///     .build()
///     .unwrap();
/// assert!(logger.keys().contains(&"gpu_id: 0/temperature.gpu (C)".to_owned()));
/// assert!(!logger.keys().contains(&"gpu_id: 0/utilization.gpu (%)".to_owned()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
#[non_exhaustive]
pub struct LoggerOptions {
    /// `utilization.memory (%)`, `memory.used (MiB)`, `memory.free (MiB)` (on).
    pub memory_utilization: bool,
    /// `utilization.gpu (%)` (on).
    pub gpu_utilization: bool,
    /// `batch_time/intra_step (ms)`: from batch start to batch end (off).
    pub intra_step_time: bool,
    /// `batch_time/inter_step (ms)`: from one batch end to the next batch start (off).
    pub inter_step_time: bool,
    /// `fan.speed (%)` (off).
    pub fan_speed: bool,
    /// `temperature.gpu (C)` (off).
    pub temperature: bool,
    /// `power.draw (W)`, `power.limit (W)` (off).
    pub power: bool,
    /// `energy.step (J)` and `energy.total (J)` from the GPU's energy counter (off; see `docs/METRICS.md`).
    pub energy: bool,
    /// `clocks.sm (MHz)`, `clocks.mem (MHz)` (off).
    pub clocks: bool,
    /// `pcie.tx (KB/s)`, `pcie.rx (KB/s)` (off; each reading costs the sampler 20 ms on a real driver).
    pub pcie: bool,
    /// `process.memory.used (MiB)`: GPU memory of this process and its children per device (off).
    pub process_memory: bool,
    /// `host/process.cpu (%)`, `host/process.rss (MiB)` of this process and its children (off).
    pub process_host: bool,
    /// `epoch_time/train (ms)` at epoch end, `epoch_time/validation (ms)` at validation end (off).
    pub epoch_time: bool,
}

impl Default for LoggerOptions {
    fn default() -> Self {
        Self {
            memory_utilization: true,
            gpu_utilization: true,
            intra_step_time: false,
            inter_step_time: false,
            fan_speed: false,
            temperature: false,
            power: false,
            energy: false,
            clocks: false,
            pcie: false,
            process_memory: false,
            process_host: false,
            epoch_time: false,
        }
    }
}

macro_rules! setters {
    ($($name:ident),* $(,)?) => {
        impl LoggerOptions {
            $(
                #[doc = concat!("Sets `", stringify!($name), "` (see the field).")]
                ///
                /// ```
                /// use nvitop::LoggerOptions;
                #[doc = concat!("assert!(LoggerOptions::default().", stringify!($name), "(true).", stringify!($name), ");")]
                #[doc = concat!("assert!(!LoggerOptions::default().", stringify!($name), "(false).", stringify!($name), ");")]
                /// ```
                #[must_use]
                pub const fn $name(mut self, on: bool) -> Self {
                    self.$name = on;
                    self
                }
            )*
        }
    };
}

setters! {
    memory_utilization,
    gpu_utilization,
    intra_step_time,
    inter_step_time,
    fan_speed,
    temperature,
    power,
    energy,
    clocks,
    pcie,
    process_memory,
    process_host,
    epoch_time,
}

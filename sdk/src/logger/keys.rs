//! The logger's scalar keys and how each is computed from a sample.
//!
//! Names follow nvitop's training callbacks (`gpu_id: 0/utilization.gpu (%)`,
//! `batch_time/intra_step (ms)`), so dashboards built on them keep working;
//! the extra metrics use the same `nvidia-smi --query-gpu` style names.

use super::options::LoggerOptions;
use super::record::{HookEvent, HookRecord};
use crate::sampler::Sample;

const MIB: f64 = 1024.0 * 1024.0;

/// What one column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Device(usize, DeviceField),
    IntraStep,
    IntraStepMax,
    InterStep,
    InterStepMax,
    /// A scalar declared at build time (`log_scalar`), filled by scalar rows only.
    Scalar,
    ProcessCpu,
    ProcessRss,
    EpochTime,
    ValidationTime,
    Throughput,
    Mfu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceField {
    MemoryUtilization,
    MemoryUsed,
    MemoryFree,
    GpuUtilization,
    FanSpeed,
    Temperature,
    PowerDraw,
    PowerLimit,
    EnergyStep,
    EnergyTotal,
    SmClock,
    MemoryClock,
    PcieTx,
    PcieRx,
    ProcessMemory,
}

impl DeviceField {
    fn suffix(self) -> &'static str {
        match self {
            Self::MemoryUtilization => "utilization.memory (%)",
            Self::MemoryUsed => "memory.used (MiB)",
            Self::MemoryFree => "memory.free (MiB)",
            Self::GpuUtilization => "utilization.gpu (%)",
            Self::FanSpeed => "fan.speed (%)",
            Self::Temperature => "temperature.gpu (C)",
            Self::PowerDraw => "power.draw (W)",
            Self::PowerLimit => "power.limit (W)",
            Self::EnergyStep => "energy.step (J)",
            Self::EnergyTotal => "energy.total (J)",
            Self::SmClock => "clocks.sm (MHz)",
            Self::MemoryClock => "clocks.mem (MHz)",
            Self::PcieTx => "pcie.tx (KB/s)",
            Self::PcieRx => "pcie.rx (KB/s)",
            Self::ProcessMemory => "process.memory.used (MiB)",
        }
    }
}

/// The ordered key list and the recipe of each value.
#[derive(Debug, Clone)]
pub(crate) struct LoggerKeys {
    names: Vec<String>,
    columns: Vec<Column>,
    /// The logged GPUs' summed dense peak, TFLOP/s (MFU's denominator).
    peak_tflops: Option<f64>,
}

impl LoggerKeys {
    /// Keys for devices labelled `prefixes` (e.g. `gpu_id: 0`).
    /// `every_n_steps > 1` adds the maximum step times of each logged
    /// window; `scalars` are the declared `log_scalar` tags, last.
    pub(crate) fn new(
        prefixes: &[String],
        options: &LoggerOptions,
        every_n_steps: u64,
        scalars: &[String],
        mfu: bool,
    ) -> Self {
        let mut fields = Vec::new();
        if options.memory_utilization {
            fields.extend([
                DeviceField::MemoryUtilization,
                DeviceField::MemoryUsed,
                DeviceField::MemoryFree,
            ]);
        }
        if options.gpu_utilization {
            fields.push(DeviceField::GpuUtilization);
        }
        if options.fan_speed {
            fields.push(DeviceField::FanSpeed);
        }
        if options.temperature {
            fields.push(DeviceField::Temperature);
        }
        if options.power {
            fields.extend([DeviceField::PowerDraw, DeviceField::PowerLimit]);
        }
        if options.energy {
            fields.extend([DeviceField::EnergyStep, DeviceField::EnergyTotal]);
        }
        if options.clocks {
            fields.extend([DeviceField::SmClock, DeviceField::MemoryClock]);
        }
        if options.pcie {
            fields.extend([DeviceField::PcieTx, DeviceField::PcieRx]);
        }
        if options.process_memory {
            fields.push(DeviceField::ProcessMemory);
        }
        let mut names = Vec::new();
        let mut columns = Vec::new();
        for (i, prefix) in prefixes.iter().enumerate() {
            for field in &fields {
                names.push(format!("{prefix}/{}", field.suffix()));
                columns.push(Column::Device(i, *field));
            }
        }
        let mut global = |name: &str, column: Column| {
            names.push(name.to_owned());
            columns.push(column);
        };
        if options.intra_step_time {
            global("batch_time/intra_step (ms)", Column::IntraStep);
            if every_n_steps > 1 {
                global("batch_time/intra_step.max (ms)", Column::IntraStepMax);
            }
        }
        if options.inter_step_time {
            global("batch_time/inter_step (ms)", Column::InterStep);
            if every_n_steps > 1 {
                global("batch_time/inter_step.max (ms)", Column::InterStepMax);
            }
        }
        if options.process_host {
            global("host/process.cpu (%)", Column::ProcessCpu);
            global("host/process.rss (MiB)", Column::ProcessRss);
        }
        if options.epoch_time {
            global("epoch_time/train (ms)", Column::EpochTime);
            global("epoch_time/validation (ms)", Column::ValidationTime);
        }
        if mfu {
            global("throughput (TFLOP/s)", Column::Throughput);
            global("mfu (%)", Column::Mfu);
        }
        for scalar in scalars {
            if !names.contains(scalar) {
                names.push(scalar.clone());
                columns.push(Column::Scalar);
            }
        }
        Self {
            names,
            columns,
            peak_tflops: None,
        }
    }

    /// Sets the summed peak of the logged GPUs (MFU stays empty without one).
    pub(crate) fn set_peak_tflops(&mut self, peak: Option<f64>) {
        self.peak_tflops = peak;
    }

    /// The column of a declared scalar `tag`.
    pub(crate) fn scalar_column(&self, tag: &str) -> Option<usize> {
        self.names
            .iter()
            .zip(&self.columns)
            .position(|(name, column)| *column == Column::Scalar && name == tag)
    }

    /// The energy columns: (column, device, whether it is `energy.total`).
    pub(crate) fn energy_columns(&self) -> Vec<(usize, usize, bool)> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(col, column)| match *column {
                Column::Device(i, DeviceField::EnergyStep) => Some((col, i, false)),
                Column::Device(i, DeviceField::EnergyTotal) => Some((col, i, true)),
                _ => None,
            })
            .collect()
    }

    /// All keys, in column order.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Fills `values` (resized to the key count) for one hook record.
    pub(crate) fn fill(&self, record: &HookRecord, sample: &Sample, values: &mut Vec<Option<f64>>) {
        values.clear();
        values.resize(self.names.len(), None);
        let gpu_row = matches!(record.event, HookEvent::BatchStart | HookEvent::BatchEnd);
        for (slot, column) in values.iter_mut().zip(&self.columns) {
            *slot = match *column {
                Column::Device(i, field) if gpu_row => sample.devices.get(i).and_then(|d| device_value(d, field)),
                Column::IntraStep => record.intra_step.mean_ms,
                Column::IntraStepMax => record.intra_step.max_ms,
                Column::InterStep => record.inter_step.mean_ms,
                Column::InterStepMax => record.inter_step.max_ms,
                Column::ProcessCpu if gpu_row => {
                    sum(sample.processes.iter().map(|p| p.host.as_ref().map(|h| h.cpu_percent)))
                }
                Column::ProcessRss if gpu_row => sum(sample
                    .processes
                    .iter()
                    .map(|p| p.host.as_ref().map(|h| h.rss as f64 / MIB))),
                // Scalar columns are filled by scalar rows only.
                Column::Device(..) | Column::ProcessCpu | Column::ProcessRss | Column::Scalar => None,
                Column::EpochTime => record.epoch_ms,
                Column::Throughput => record.mfu.and_then(|(s, f)| super::mfu::mfu(f, s, None).0),
                Column::Mfu => record.mfu.and_then(|(s, f)| super::mfu::mfu(f, s, self.peak_tflops).1),
                Column::ValidationTime => record.validation_ms,
            };
        }
    }
}

fn device_value(d: &crate::sampler::DeviceSample, field: DeviceField) -> Option<f64> {
    match field {
        DeviceField::MemoryUtilization => d.memory_utilization,
        DeviceField::MemoryUsed => d.memory_used.map(|b| b / MIB),
        DeviceField::MemoryFree => d.memory_free.map(|b| b / MIB),
        DeviceField::GpuUtilization => d.gpu_utilization,
        DeviceField::FanSpeed => d.fan_speed,
        DeviceField::Temperature => d.temperature,
        DeviceField::PowerDraw => d.power_usage,
        DeviceField::PowerLimit => d.power_limit,
        // Filled by the sink thread once a sample after the step's end
        // arrives (`super::energy`).
        DeviceField::EnergyStep | DeviceField::EnergyTotal => None,
        DeviceField::SmClock => d.sm_clock,
        DeviceField::MemoryClock => d.memory_clock,
        DeviceField::PcieTx => d.pcie_tx,
        DeviceField::PcieRx => d.pcie_rx,
        DeviceField::ProcessMemory => d.tracked_gpu_memory.map(|b| b / MIB),
    }
}

fn sum(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values.flatten().fold(None, |acc, v| Some(acc.unwrap_or(0.0) + v))
}

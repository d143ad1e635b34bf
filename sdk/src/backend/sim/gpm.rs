//! Simulated GPM: sample handles and the counters behind them.
//!
//! A real GPU's GPM counters are cumulative: a sample is a snapshot of
//! them, and a metric is the difference between two snapshots divided by
//! the time between them. The simulator keeps the same shape. Each counter
//! is the integral of a rate driven by the GPU's workload (the smooth load
//! whose integral also drives the energy counter), so a metric over an
//! interval is the workload's average over that interval: it moves with
//! the workload, and two samples at the same instant (pinned time) give
//! the rate at that instant, the limit of the average.
//!
//! A MIG GPU instance (`nvmlGpmMigSampleGet`) has counters of its own,
//! driven by its own workload while a process is bound to it and idle
//! otherwise; the whole GPU sampled in MIG mode sums its instances (see
//! [`metric`]).
//!
//! The sample store follows `nvml.h`: a handle from `nvmlGpmSampleAlloc`
//! holds nothing until `nvmlGpmSampleGet` fills it; using an unfilled,
//! freed or foreign handle is an invalid argument; alloc and free are
//! counted so tests can prove no sample leaks.

use std::collections::HashMap;

use super::machine::{MIG_COMPUTE_SLICES, SimGpu};
use super::workload::Workload;
use crate::backend::{BackendError, BackendResult, GpmMetric, GpmSampleId};

/// NVML ids of the metrics the header defines that the simulator does not
/// model (video engines, `NVLink`, C2C): answered per metric `NOT_SUPPORTED`,
/// as a board without those units answers. Ids outside the header are
/// answered `INVALID_ARGUMENT` per metric.
fn known_but_unmodelled(id: u32) -> bool {
    matches!(id, 30..=37 | 40..=47 | 50..=51 | 60..=97 | 100..=209)
}

/// Header ids the simulator models beyond [`GpmMetric`]: graphics engine
/// utilization, integer pipe, and the per-kind tensor pipes.
const GRAPHICS_UTIL: u32 = 1;
const INTEGER_UTIL: u32 = 4;
const DFMA_TENSOR_UTIL: u32 = 6;
const HMMA_TENSOR_UTIL: u32 = 7;
const IMMA_TENSOR_UTIL: u32 = 9;

/// A filled sample: where and when it was taken. The counters then are
/// the integrals of the workloads' loads up to that instant, pure functions
/// of time, so they are evaluated when metrics are asked for.
#[derive(Debug, Clone, Copy)]
pub struct Filled {
    /// The physical GPU, and the MIG GPU instance for `nvmlGpmMigSampleGet`.
    pub device: (u32, Option<u32>),
    /// Simulated seconds since the simulator started.
    pub elapsed: f64,
    /// Workload time at the start (where its cycles stood).
    pub start: f64,
}

/// The driver's table of GPM samples.
#[derive(Debug, Default)]
pub struct GpmStore {
    next: u64,
    samples: HashMap<u64, Option<Filled>>,
    allocated: u64,
    freed: u64,
}

impl GpmStore {
    /// `nvmlGpmSampleAlloc`: a new, unfilled sample.
    pub fn alloc(&mut self) -> GpmSampleId {
        // Handles start well above 0 so no small integer a caller invents
        // (or a null pointer) is ever a valid handle.
        self.next += 1;
        let id = 0x6_0000 + self.next;
        self.samples.insert(id, None);
        self.allocated += 1;
        GpmSampleId(id)
    }

    /// `nvmlGpmSampleFree`.
    pub fn free(&mut self, sample: GpmSampleId) -> BackendResult<()> {
        self.samples
            .remove(&sample.0)
            .ok_or_else(|| invalid(sample, "was not allocated or is freed"))?;
        self.freed += 1;
        Ok(())
    }

    /// `nvmlGpmSampleGet`: fills an allocated sample.
    pub fn fill(&mut self, sample: GpmSampleId, filled: Filled) -> BackendResult<()> {
        let slot = self
            .samples
            .get_mut(&sample.0)
            .ok_or_else(|| invalid(sample, "was not allocated or is freed"))?;
        *slot = Some(filled);
        Ok(())
    }

    /// A filled sample, or the error NVML gives for a bad handle.
    pub fn filled(&self, sample: GpmSampleId) -> BackendResult<Filled> {
        match self.samples.get(&sample.0) {
            None => Err(invalid(sample, "was not allocated or is freed")),
            Some(None) => Err(invalid(sample, "was never filled by nvmlGpmSampleGet")),
            Some(Some(filled)) => Ok(*filled),
        }
    }

    /// Samples allocated and freed since the simulator started.
    pub fn counts(&self) -> (u64, u64) {
        (self.allocated, self.freed)
    }
}

fn invalid(sample: GpmSampleId, why: &str) -> BackendError {
    // NotFound is what the fake library answers as INVALID_ARGUMENT.
    BackendError::NotFound {
        what: format!("GPM sample {:#x} ({why})", sample.0),
    }
}

/// A sample of `device` (physical GPU, MIG GPU instance) at `elapsed`
/// simulated seconds after the start.
pub fn sample_of(device: (u32, Option<u32>), elapsed: f64, start: f64) -> Filled {
    Filled { device, elapsed, start }
}

/// Average of `workload`'s smooth load between two samples, percent: the
/// growth of its integral over the time between them; at one instant
/// (pinned time), the rate then, the limit of the average.
fn average_load(workload: &Workload, first: &Filled, second: &Filled) -> f64 {
    let dt = second.elapsed - first.elapsed;
    let at = |f: &Filled| workload.util_integral(f.start + f.elapsed) - workload.util_integral(f.start);
    if dt > 1e-9 {
        ((at(second) - at(first)) / dt).max(0.0)
    } else {
        workload.util_rate(second.start + second.elapsed).max(0.0)
    }
}

/// One unit of work the counters watch: a whole GPU, or one MIG GPU
/// instance with its own load and its share of the GPU's SMs.
struct Unit<'a> {
    workload: &'a Workload,
    /// Average load over the interval, percent.
    load: f64,
    /// Share of the GPU's PCIe traffic (1 for a whole GPU, the instance's
    /// share of the compute slices for a MIG instance).
    share: f64,
}

/// The MIG instances of `gpu` as units between two samples: each runs its
/// own workload while a process is bound to it, and is idle otherwise.
fn instances<'a>(gpu: &'a SimGpu, first: &Filled, second: &Filled) -> Vec<(u32, Unit<'a>)> {
    gpu.migs
        .iter()
        .enumerate()
        .map(|(m, mig)| {
            let load = if gpu.mig_busy(m) {
                average_load(&mig.workload, first, second)
            } else {
                0.0
            };
            let share = f64::from(mig.compute_slices) / f64::from(MIG_COMPUTE_SLICES);
            (
                mig.gpu_instance_id,
                Unit {
                    workload: &mig.workload,
                    load,
                    share,
                },
            )
        })
        .collect()
}

/// The value of metric `id` between two samples of `gpu`, or its own error.
///
/// A whole GPU without MIG follows the GPU's workload; a MIG GPU instance
/// follows its own ([`instances`]); a MIG-enabled GPU sampled whole is the
/// sum of its instances: percentages weighted by each instance's share of
/// the compute slices (slices no instance holds are idle), PCIe summed.
pub fn metric(gpu: &SimGpu, first: &Filled, second: &Filled, id: u32, fp64_unsupported: bool) -> BackendResult<f64> {
    if !gpu.mig_enabled() {
        let whole = Unit {
            workload: &gpu.workload,
            load: average_load(&gpu.workload, first, second),
            share: 1.0,
        };
        return unit_metric(&whole, id, fp64_unsupported);
    }
    let units = instances(gpu, first, second);
    if let Some(instance) = second.device.1 {
        let (_, unit) = units
            .iter()
            .find(|(gi, _)| *gi == instance)
            .ok_or_else(|| BackendError::NotFound {
                what: format!("GPU instance {instance}"),
            })?;
        return unit_metric(unit, id, fp64_unsupported);
    }
    let mut total = 0.0;
    for (_, unit) in &units {
        let value = unit_metric(unit, id, fp64_unsupported)?;
        total += if is_rate(id) { value } else { value * unit.share };
    }
    Ok(total)
}

/// Whether metric `id` is a rate (MiB/s, summed over instances) rather
/// than a percentage (averaged).
fn is_rate(id: u32) -> bool {
    matches!(GpmMetric::from_nvml_id(id), Some(GpmMetric::PcieTx | GpmMetric::PcieRx))
}

/// The value of metric `id` for one unit of work.
fn unit_metric(unit: &Unit<'_>, id: u32, fp64_unsupported: bool) -> BackendResult<f64> {
    let (w, load) = (unit.workload, unit.load);
    let pct = |x: f64| Ok(x.clamp(0.0, 100.0));
    let sm = 0.85 * load;
    let tensor = sm * w.tensor_share;
    // PCIe moves a floor of traffic even when idle, like the workload's own.
    let pcie = |kbs: f64| Ok(kbs * unit.share * 1000.0 / f64::from(1u32 << 20) * (0.02 + 0.98 * load / 100.0));
    match id {
        GRAPHICS_UTIL => pct(load),
        INTEGER_UTIL => pct(0.12 * sm),
        DFMA_TENSOR_UTIL | IMMA_TENSOR_UTIL => pct(0.0),
        HMMA_TENSOR_UTIL => pct(tensor),
        _ => match GpmMetric::from_nvml_id(id) {
            Some(GpmMetric::SmActive) => pct(sm),
            Some(GpmMetric::SmOccupancy) => pct(0.5 * sm),
            Some(GpmMetric::TensorActive) => pct(tensor),
            Some(GpmMetric::DramActive) => pct(load * w.memory_util_ratio * 1.2),
            Some(GpmMetric::Fp16Active) => pct(0.1 * tensor),
            Some(GpmMetric::Fp32Active) => pct(0.25 * sm),
            Some(GpmMetric::Fp64Active) if fp64_unsupported => Err(BackendError::NotSupported),
            Some(GpmMetric::Fp64Active) => pct(0.005 * sm),
            Some(GpmMetric::PcieTx) => pcie(w.pcie_tx_kbs),
            Some(GpmMetric::PcieRx) => pcie(w.pcie_rx_kbs),
            None if known_but_unmodelled(id) => Err(BackendError::NotSupported),
            None => Err(BackendError::NotFound {
                what: format!("GPM metric id {id}"),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn handles_are_checked_and_counted() {
        let mut store = GpmStore::default();
        let a = store.alloc();
        assert!(store.filled(a).is_err(), "unfilled");
        assert!(store.filled(GpmSampleId(1)).is_err(), "foreign");
        store.free(a).unwrap();
        assert!(store.free(a).is_err(), "double free");
        assert!(store.fill(a, sample_fake()).is_err(), "freed");
        assert_eq!(store.counts(), (1, 1));
    }

    fn sample_fake() -> Filled {
        sample_of((0, None), 0.0, 0.0)
    }
}

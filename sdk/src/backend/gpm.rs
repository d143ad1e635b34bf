//! GPM (GPU Performance Monitoring) vocabulary shared by the backends.
//!
//! GPM is NVML's window onto the hardware performance counters of Hopper and
//! newer GPUs: a caller takes a sample of the counters, takes another one
//! later, and asks NVML for the metrics over the interval between them (SM
//! activity, tensor-core activity, DRAM bandwidth, ...). Unlike
//! `utilization.gpu`, which is 100 % whenever any kernel runs, these say how
//! much of the GPU the kernels keep busy.
//!
//! GPM and DCGM's profiling module read the same hardware counters; running
//! both on one GPU can disturb each other's readings, which is why nothing
//! in nvitop takes GPM samples unless asked.

use serde::{Deserialize, Serialize};

/// One GPM metric nvitop reads, with the id NVML's header gives it
/// (`nvmlGpmMetricId_t`).
///
/// ```
/// use nvitop::backend::GpmMetric;
/// assert_eq!(GpmMetric::SmActive.nvml_id(), 2);
/// assert_eq!(GpmMetric::from_nvml_id(5), Some(GpmMetric::TensorActive));
/// assert_eq!(GpmMetric::PcieRx.unit(), "MiB/s");
/// assert_eq!(GpmMetric::DramActive.unit(), "%");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpmMetric {
    /// Percent of time at least one warp was resident on an SM, averaged
    /// over all SMs (`NVML_GPM_METRIC_SM_UTIL`, DCGM's `SM_ACTIVE`).
    SmActive,
    /// Resident warps as a percent of the maximum, averaged over all SMs
    /// (`NVML_GPM_METRIC_SM_OCCUPANCY`).
    SmOccupancy,
    /// Percent of time any tensor pipe was active (`NVML_GPM_METRIC_ANY_TENSOR_UTIL`).
    TensorActive,
    /// Percent of peak DRAM bandwidth used (`NVML_GPM_METRIC_DRAM_BW_UTIL`).
    DramActive,
    /// Percent of time the FP16 (non-tensor) pipe was active (`NVML_GPM_METRIC_FP16_UTIL`).
    Fp16Active,
    /// Percent of time the FP32 pipe was active (`NVML_GPM_METRIC_FP32_UTIL`).
    Fp32Active,
    /// Percent of time the FP64 pipe was active (`NVML_GPM_METRIC_FP64_UTIL`).
    Fp64Active,
    /// PCIe bytes sent by the GPU, MiB/s (`NVML_GPM_METRIC_PCIE_TX_PER_SEC`).
    PcieTx,
    /// PCIe bytes received by the GPU, MiB/s (`NVML_GPM_METRIC_PCIE_RX_PER_SEC`).
    PcieRx,
}

impl GpmMetric {
    /// Every metric nvitop reads, in the order snapshots list them.
    pub const ALL: [Self; 9] = [
        Self::SmActive,
        Self::SmOccupancy,
        Self::TensorActive,
        Self::DramActive,
        Self::Fp16Active,
        Self::Fp32Active,
        Self::Fp64Active,
        Self::PcieTx,
        Self::PcieRx,
    ];

    /// The metric's id in NVML's header (`nvmlGpmMetricId_t`).
    ///
    /// ```
    /// assert_eq!(nvitop::backend::GpmMetric::PcieTx.nvml_id(), 20);
    /// ```
    pub fn nvml_id(self) -> u32 {
        match self {
            Self::SmActive => 2,
            Self::SmOccupancy => 3,
            Self::TensorActive => 5,
            Self::DramActive => 10,
            Self::Fp64Active => 11,
            Self::Fp32Active => 12,
            Self::Fp16Active => 13,
            Self::PcieTx => 20,
            Self::PcieRx => 21,
        }
    }

    /// The metric with this NVML id, if nvitop reads it.
    ///
    /// ```
    /// use nvitop::backend::GpmMetric;
    /// assert_eq!(GpmMetric::from_nvml_id(13), Some(GpmMetric::Fp16Active));
    /// assert_eq!(GpmMetric::from_nvml_id(1), None); // graphics util: not read
    /// ```
    pub fn from_nvml_id(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.nvml_id() == id)
    }

    /// The unit NVML reports the metric in: `%` (0-100) or `MiB/s`.
    ///
    /// ```
    /// assert_eq!(nvitop::backend::GpmMetric::SmOccupancy.unit(), "%");
    /// ```
    pub fn unit(self) -> &'static str {
        match self {
            Self::PcieTx | Self::PcieRx => "MiB/s",
            _ => "%",
        }
    }

    /// The snake-case key snapshots use (`sm_active`, `pcie_rx`, ...).
    ///
    /// ```
    /// assert_eq!(nvitop::backend::GpmMetric::TensorActive.key(), "tensor_active");
    /// ```
    pub fn key(self) -> &'static str {
        match self {
            Self::SmActive => "sm_active",
            Self::SmOccupancy => "sm_occupancy",
            Self::TensorActive => "tensor_active",
            Self::DramActive => "dram_active",
            Self::Fp16Active => "fp16_active",
            Self::Fp32Active => "fp32_active",
            Self::Fp64Active => "fp64_active",
            Self::PcieTx => "pcie_tx",
            Self::PcieRx => "pcie_rx",
        }
    }
}

/// A GPM sample a backend holds for its caller: an opaque number the
/// backend gave out from [`Backend::gpm_sample`](super::Backend::gpm_sample),
/// valid until it is passed to [`Backend::gpm_sample_free`](super::Backend::gpm_sample_free).
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::default_machine();
/// let sample = sim.gpm_sample(DeviceRef::Physical(0)).unwrap();
/// sim.gpm_sample_free(sample).unwrap();
/// assert!(sim.gpm_sample_free(sample).is_err()); // freed already
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GpmSampleId(pub u64);

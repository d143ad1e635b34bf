//! The GPU models the simulator knows, with the figures NVML reports for the
//! real boards (names, memory, power, clocks, compute capability).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A GPU model a scenario can name.
///
/// ```
/// use nvitop::backend::sim::models::GpuModel;
/// let model: GpuModel = "H100-SXM5-80GB".parse().unwrap();
/// assert_eq!(model.spec().name, "NVIDIA H100 80GB HBM3");
/// assert!("GTX-480".parse::<GpuModel>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GpuModel {
    /// NVIDIA H100 SXM5, 80 GB HBM3.
    H100Sxm5_80gb,
    /// NVIDIA A100 SXM4, 80 GB.
    A100Sxm4_80gb,
    /// NVIDIA A100 SXM4, 40 GB.
    A100Sxm4_40gb,
    /// NVIDIA GeForce RTX 4090.
    Rtx4090,
    /// NVIDIA L4 (PCIe inference card).
    L4,
    /// NVIDIA H200 SXM, 141 GB `HBM3e` (Hopper).
    H200Sxm141gb,
    /// NVIDIA B200, 180 GB `HBM3e` (Blackwell).
    B200,
}

/// Fixed properties of a GPU model.
///
/// ```
/// use nvitop::backend::sim::models::GpuModel;
/// let spec = GpuModel::Rtx4090.spec();
/// assert_eq!(spec.name, "NVIDIA GeForce RTX 4090");
/// assert!(spec.has_fan && !spec.mig_capable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSpec {
    /// The name NVML reports.
    pub name: &'static str,
    /// Framebuffer memory as NVML reports it, MiB.
    pub memory_mib: u64,
    /// BAR1 aperture, MiB.
    pub bar1_mib: u64,
    /// Memory the driver reserves even with no process, MiB.
    pub reserved_mib: u64,
    /// Default enforced power limit, watts.
    pub power_limit_w: f64,
    /// Power draw when idle, watts.
    pub idle_power_w: f64,
    /// Maximum SM (and graphics) clock, MHz.
    pub max_sm_mhz: u32,
    /// Maximum memory clock, MHz.
    pub max_memory_mhz: u32,
    /// Maximum video clock, MHz.
    pub max_video_mhz: u32,
    /// Idle SM clock, MHz.
    pub idle_sm_mhz: u32,
    /// Idle memory clock, MHz.
    pub idle_memory_mhz: u32,
    /// CUDA compute capability.
    pub compute_capability: (u32, u32),
    /// Whether the board has a fan NVML reports (SXM modules do not).
    pub has_fan: bool,
    /// Whether the memory has ECC.
    pub has_ecc: bool,
    /// Whether MIG can be enabled.
    pub mig_capable: bool,
    /// Data-center part (persistence mode on by default).
    pub datacenter: bool,
    /// Temperature at idle, °C.
    pub idle_temp_c: f64,
    /// Temperature rise at the power limit, °C.
    pub temp_rise_c: f64,
}

impl GpuModel {
    /// Every model, in the order error messages list them.
    ///
    /// ```
    /// use nvitop::backend::sim::models::GpuModel;
    /// assert_eq!(GpuModel::ALL.len(), 7);
    /// assert!(GpuModel::ALL.iter().all(|m| m.spec().memory_mib > 0));
    /// ```
    pub const ALL: [Self; 7] = [
        Self::H100Sxm5_80gb,
        Self::A100Sxm4_80gb,
        Self::A100Sxm4_40gb,
        Self::Rtx4090,
        Self::L4,
        Self::H200Sxm141gb,
        Self::B200,
    ];

    /// The name a scenario uses.
    ///
    /// ```
    /// use nvitop::backend::sim::models::GpuModel;
    /// assert_eq!(GpuModel::H100Sxm5_80gb.key(), "H100-SXM5-80GB");
    /// assert_eq!(GpuModel::L4.key(), "L4");
    /// ```
    pub fn key(self) -> &'static str {
        match self {
            Self::H100Sxm5_80gb => "H100-SXM5-80GB",
            Self::A100Sxm4_80gb => "A100-SXM4-80GB",
            Self::A100Sxm4_40gb => "A100-SXM4-40GB",
            Self::Rtx4090 => "RTX-4090",
            Self::L4 => "L4",
            Self::H200Sxm141gb => "H200-SXM-141GB",
            Self::B200 => "B200",
        }
    }

    /// The model's fixed properties.
    ///
    /// ```
    /// use nvitop::backend::sim::models::GpuModel;
    /// let h100 = GpuModel::H100Sxm5_80gb.spec();
    /// assert_eq!(h100.power_limit_w, 700.0);
    /// assert_eq!(h100.compute_capability, (9, 0));
    /// ```
    pub fn spec(self) -> ModelSpec {
        match self {
            Self::H100Sxm5_80gb => ModelSpec {
                name: "NVIDIA H100 80GB HBM3",
                memory_mib: 81_559,
                bar1_mib: 131_072,
                reserved_mib: 1,
                power_limit_w: 700.0,
                idle_power_w: 72.0,
                max_sm_mhz: 1980,
                max_memory_mhz: 2619,
                max_video_mhz: 1545,
                idle_sm_mhz: 345,
                idle_memory_mhz: 2619,
                compute_capability: (9, 0),
                has_fan: false,
                has_ecc: true,
                mig_capable: true,
                datacenter: true,
                idle_temp_c: 31.0,
                temp_rise_c: 42.0,
            },
            Self::A100Sxm4_80gb => ModelSpec {
                name: "NVIDIA A100-SXM4-80GB",
                memory_mib: 81_920,
                bar1_mib: 131_072,
                reserved_mib: 1,
                power_limit_w: 400.0,
                idle_power_w: 62.0,
                max_sm_mhz: 1410,
                max_memory_mhz: 1593,
                max_video_mhz: 1290,
                idle_sm_mhz: 210,
                idle_memory_mhz: 1593,
                compute_capability: (8, 0),
                has_fan: false,
                has_ecc: true,
                mig_capable: true,
                datacenter: true,
                idle_temp_c: 30.0,
                temp_rise_c: 38.0,
            },
            Self::A100Sxm4_40gb => ModelSpec {
                name: "NVIDIA A100-SXM4-40GB",
                memory_mib: 40_960,
                bar1_mib: 65_536,
                reserved_mib: 1,
                power_limit_w: 400.0,
                idle_power_w: 55.0,
                max_sm_mhz: 1410,
                max_memory_mhz: 1215,
                max_video_mhz: 1290,
                idle_sm_mhz: 210,
                idle_memory_mhz: 1215,
                compute_capability: (8, 0),
                has_fan: false,
                has_ecc: true,
                mig_capable: true,
                datacenter: true,
                idle_temp_c: 29.0,
                temp_rise_c: 38.0,
            },
            Self::Rtx4090 => ModelSpec {
                name: "NVIDIA GeForce RTX 4090",
                memory_mib: 24_564,
                bar1_mib: 256,
                reserved_mib: 237,
                power_limit_w: 450.0,
                idle_power_w: 18.0,
                max_sm_mhz: 3120,
                max_memory_mhz: 10_501,
                max_video_mhz: 2415,
                idle_sm_mhz: 210,
                idle_memory_mhz: 405,
                compute_capability: (8, 9),
                has_fan: true,
                has_ecc: false,
                mig_capable: false,
                datacenter: false,
                idle_temp_c: 34.0,
                temp_rise_c: 40.0,
            },
            Self::L4 => ModelSpec {
                name: "NVIDIA L4",
                memory_mib: 23_034,
                bar1_mib: 32_768,
                reserved_mib: 1,
                power_limit_w: 72.0,
                idle_power_w: 16.0,
                max_sm_mhz: 2040,
                max_memory_mhz: 6251,
                max_video_mhz: 1770,
                idle_sm_mhz: 210,
                idle_memory_mhz: 405,
                compute_capability: (8, 9),
                has_fan: false,
                has_ecc: true,
                mig_capable: false,
                datacenter: true,
                idle_temp_c: 33.0,
                temp_rise_c: 45.0,
            },
            // Figures as `nvidia-smi` shows them on these boards (memory as
            // NVML reports it, default power limit, boost and memory clocks).
            Self::H200Sxm141gb => ModelSpec {
                name: "NVIDIA H200",
                memory_mib: 143_771,
                bar1_mib: 262_144,
                reserved_mib: 1,
                power_limit_w: 700.0,
                idle_power_w: 76.0,
                max_sm_mhz: 1980,
                max_memory_mhz: 3201,
                max_video_mhz: 1545,
                idle_sm_mhz: 345,
                idle_memory_mhz: 3201,
                compute_capability: (9, 0),
                has_fan: false,
                has_ecc: true,
                mig_capable: true,
                datacenter: true,
                idle_temp_c: 30.0,
                temp_rise_c: 42.0,
            },
            Self::B200 => ModelSpec {
                name: "NVIDIA B200",
                memory_mib: 183_359,
                bar1_mib: 262_144,
                reserved_mib: 1,
                power_limit_w: 1000.0,
                idle_power_w: 140.0,
                max_sm_mhz: 1965,
                max_memory_mhz: 3996,
                max_video_mhz: 1650,
                idle_sm_mhz: 345,
                idle_memory_mhz: 3996,
                compute_capability: (10, 0),
                has_fan: false,
                has_ecc: true,
                mig_capable: true,
                datacenter: true,
                idle_temp_c: 32.0,
                temp_rise_c: 40.0,
            },
        }
    }
}

impl fmt::Display for GpuModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for GpuModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.key().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|m| m.key()).collect();
                format!("unknown GPU model `{s}`, known models: {}", known.join(", "))
            })
    }
}

impl TryFrom<String> for GpuModel {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        value.parse()
    }
}

impl From<GpuModel> for String {
    fn from(model: GpuModel) -> String {
        model.key().to_owned()
    }
}

//! Why the clocks are below their maximum: NVML's clock event reasons
//! (called throttle reasons before driver 535).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The reasons the driver gives for the current clocks, as NVML's bit mask
/// (`nvmlClocksEventReason*`, formerly `nvmlClocksThrottleReason*`).
/// Several can hold at once; none means the clocks run as high as allowed.
///
/// ```
/// use nvitop::backend::ClockEventReasons;
/// let reasons = ClockEventReasons::from_bits(0x4 | 0x20);
/// assert!(reasons.contains(ClockEventReasons::SW_POWER_CAP));
/// assert_eq!(reasons.names(), ["sw_power_cap", "sw_thermal_slowdown"]);
/// assert_eq!(reasons.to_string(), "sw_power_cap, sw_thermal_slowdown");
/// assert_eq!(ClockEventReasons::NONE.to_string(), "none");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClockEventReasons(u64);

impl ClockEventReasons {
    /// No reason: clocks as high as allowed.
    pub const NONE: Self = Self(0);
    /// Nothing runs on the GPU.
    pub const GPU_IDLE: Self = Self(0x1);
    /// Limited by the applications clocks setting.
    pub const APPLICATIONS_CLOCKS_SETTING: Self = Self(0x2);
    /// The software power-capping algorithm holds the power at the limit.
    pub const SW_POWER_CAP: Self = Self(0x4);
    /// Hardware slowdown (temperature, power brake, or power supply).
    pub const HW_SLOWDOWN: Self = Self(0x8);
    /// Held to the clocks of the other GPUs of a sync-boost group.
    pub const SYNC_BOOST: Self = Self(0x10);
    /// Software thermal slowdown (GPU or memory over its maximum temperature).
    pub const SW_THERMAL_SLOWDOWN: Self = Self(0x20);
    /// Hardware thermal slowdown (too hot).
    pub const HW_THERMAL_SLOWDOWN: Self = Self(0x40);
    /// Hardware power brake (the power supply asserted it).
    pub const HW_POWER_BRAKE_SLOWDOWN: Self = Self(0x80);
    /// Limited by the display clock setting.
    pub const DISPLAY_CLOCK_SETTING: Self = Self(0x100);

    /// Every reason NVML defines, with the label the exporter and
    /// `--format` use for it, in bit order.
    ///
    /// ```
    /// use nvitop::backend::ClockEventReasons;
    /// assert_eq!(ClockEventReasons::ALL.len(), 9);
    /// assert_eq!(ClockEventReasons::ALL[0], (ClockEventReasons::GPU_IDLE, "gpu_idle"));
    /// ```
    pub const ALL: [(Self, &'static str); 9] = [
        (Self::GPU_IDLE, "gpu_idle"),
        (Self::APPLICATIONS_CLOCKS_SETTING, "applications_clocks_setting"),
        (Self::SW_POWER_CAP, "sw_power_cap"),
        (Self::HW_SLOWDOWN, "hw_slowdown"),
        (Self::SYNC_BOOST, "sync_boost"),
        (Self::SW_THERMAL_SLOWDOWN, "sw_thermal_slowdown"),
        (Self::HW_THERMAL_SLOWDOWN, "hw_thermal_slowdown"),
        (Self::HW_POWER_BRAKE_SLOWDOWN, "hw_power_brake_slowdown"),
        (Self::DISPLAY_CLOCK_SETTING, "display_clock_setting"),
    ];

    /// From NVML's bit mask (bits NVML does not define are kept).
    ///
    /// ```
    /// use nvitop::backend::ClockEventReasons;
    /// assert_eq!(ClockEventReasons::from_bits(0x1), ClockEventReasons::GPU_IDLE);
    /// ```
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// NVML's bit mask.
    ///
    /// ```
    /// use nvitop::backend::ClockEventReasons;
    /// assert_eq!(ClockEventReasons::SW_POWER_CAP.bits(), 0x4);
    /// ```
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every reason of `other` holds.
    ///
    /// ```
    /// use nvitop::backend::ClockEventReasons;
    /// assert!(!ClockEventReasons::NONE.contains(ClockEventReasons::GPU_IDLE));
    /// ```
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of reasons.
    ///
    /// ```
    /// use nvitop::backend::ClockEventReasons;
    /// let both = ClockEventReasons::GPU_IDLE.union(ClockEventReasons::SYNC_BOOST);
    /// assert_eq!(both.bits(), 0x11);
    /// ```
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The labels of the reasons that hold, in bit order.
    ///
    /// ```
    /// use nvitop::backend::ClockEventReasons;
    /// assert!(ClockEventReasons::NONE.names().is_empty());
    /// ```
    pub fn names(self) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|(reason, _)| self.contains(*reason))
            .map(|(_, name)| *name)
            .collect()
    }
}

impl fmt::Display for ClockEventReasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

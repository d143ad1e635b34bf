//! `NVLink` traffic and clock event reasons of a device.

use super::Device;
use crate::backend::{ClockEventReasons, NvLinkCounters};

impl Device {
    /// The data counters of every `NVLink` of the GPU (KiB since the driver
    /// loaded), in one driver read; `None` on a GPU without `NVLink` (a
    /// PCIe card) and on a MIG device. Two readings give the throughput
    /// ([`NvLinkCounters::throughput_since`]).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// let counters = gpu.nvlink_counters().unwrap(); // an H100 SXM
    /// assert_eq!(counters.links.len(), 18);
    /// assert_eq!(a100.nvlink_counters().unwrap().links.len(), 12);
    /// assert_eq!(rtx.nvlink_counters(), None); // PCIe only
    /// assert_eq!(mig.nvlink_counters(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetFieldValues")]
    pub fn nvlink_counters(&self) -> Option<NvLinkCounters> {
        self.opt("nvlink_counters", self.backend.nvlink_counters(self.handle))
    }

    /// Why the clocks are where they are: NVML's clock event reasons
    /// (formerly throttle reasons). `None` where the driver does not say
    /// (a MIG device).
    ///
    /// ```
    /// # use nvitop::doctest::*;
    /// # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
    /// use nvitop::backend::ClockEventReasons;
    /// let reasons = gpu.clock_event_reasons().unwrap(); // a training GPU
    /// assert!(!reasons.contains(ClockEventReasons::GPU_IDLE));
    /// assert_eq!(mig.clock_event_reasons(), None);
    /// ```
    #[doc(alias = "nvmlDeviceGetCurrentClocksEventReasons")]
    #[doc(alias = "nvmlDeviceGetCurrentClocksThrottleReasons")]
    pub fn clock_event_reasons(&self) -> Option<ClockEventReasons> {
        self.opt("clock_event_reasons", self.backend.clock_event_reasons(self.handle))
    }
}

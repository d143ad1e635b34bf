//! `NVLink` data counters and the throughput between two readings.
//!
//! The driver keeps, per `NVLink`, cumulative counters of the data payload
//! sent and received (KiB, NVML field values
//! `NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX` / `_RX`, one per link). A
//! throughput is the difference of two readings over the time between
//! them: reading the counters costs one driver call, never a wait.

use serde::{Deserialize, Serialize};

/// The data counters of one `NVLink`, KiB since the driver loaded.
///
/// ```
/// use nvitop::backend::NvLinkCounter;
/// let link = NvLinkCounter { link: 3, tx_kib: 1024, rx_kib: 2048 };
/// assert_eq!(link.link, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvLinkCounter {
    /// Link number on the GPU (`0..NVML_NVLINK_MAX_LINKS`).
    pub link: u32,
    /// Data payload transmitted, KiB.
    pub tx_kib: u64,
    /// Data payload received, KiB.
    pub rx_kib: u64,
}

/// One reading of every `NVLink` of a GPU.
///
/// ```
/// use nvitop::backend::{Backend, DeviceRef, sim::SimBackend};
/// let sim = SimBackend::from_preset("h100x8").unwrap();
/// sim.set_time(10.0);
/// let counters = sim.nvlink_counters(DeviceRef::Physical(0)).unwrap();
/// assert_eq!(counters.links.len(), 18); // an H100 SXM has 18 NVLinks
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvLinkCounters {
    /// When the driver read the counters: CPU time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// One entry per link that answered, by link number.
    pub links: Vec<NvLinkCounter>,
}

/// Throughput of one `NVLink` between two readings, KiB/s.
///
/// ```
/// use nvitop::backend::NvLinkThroughput;
/// let t = NvLinkThroughput::new(0, 1.5, 2.0);
/// assert!(t.rx_kibps > t.tx_kibps);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NvLinkThroughput {
    /// Link number.
    pub link: u32,
    /// Data transmitted, KiB/s.
    pub tx_kibps: f64,
    /// Data received, KiB/s.
    pub rx_kibps: f64,
}

impl NvLinkThroughput {
    /// Link `link` moving `tx_kibps` out and `rx_kibps` in (KiB/s). The
    /// struct is `#[non_exhaustive]`: outside the SDK, build it here.
    ///
    /// ```
    /// let t = nvitop::backend::NvLinkThroughput::new(2, 10.0, 0.0);
    /// assert_eq!((t.link, t.tx_kibps, t.rx_kibps), (2, 10.0, 0.0));
    /// ```
    pub const fn new(link: u32, tx_kibps: f64, rx_kibps: f64) -> Self {
        Self {
            link,
            tx_kibps,
            rx_kibps,
        }
    }
}

impl NvLinkCounters {
    /// Per-link throughput from `earlier` to this reading, KiB/s; `None`
    /// when no time passed between them (or `earlier` is newer). A link
    /// missing from either reading is left out; a counter that went back
    /// (the driver reloaded) counts from zero.
    ///
    /// ```
    /// use nvitop::backend::{NvLinkCounter, NvLinkCounters};
    /// let at = |us, kib| NvLinkCounters { timestamp_us: us, links: vec![NvLinkCounter { link: 0, tx_kib: kib, rx_kib: 2 * kib }] };
    /// let rates = at(3_000_000, 5000).throughput_since(&at(1_000_000, 1000)).unwrap();
    /// assert_eq!((rates[0].tx_kibps, rates[0].rx_kibps), (2000.0, 4000.0));
    /// assert!(at(1_000_000, 1000).throughput_since(&at(1_000_000, 1000)).is_none());
    /// ```
    pub fn throughput_since(&self, earlier: &Self) -> Option<Vec<NvLinkThroughput>> {
        if self.timestamp_us <= earlier.timestamp_us {
            return None;
        }
        let seconds = (self.timestamp_us - earlier.timestamp_us) as f64 / 1e6;
        let delta = |now: u64, then: u64| if now >= then { now - then } else { now } as f64 / seconds;
        Some(
            self.links
                .iter()
                .filter_map(|now| {
                    let then = earlier.links.iter().find(|l| l.link == now.link)?;
                    Some(NvLinkThroughput {
                        link: now.link,
                        tx_kibps: delta(now.tx_kib, then.tx_kib),
                        rx_kibps: delta(now.rx_kib, then.rx_kib),
                    })
                })
                .collect(),
        )
    }
}

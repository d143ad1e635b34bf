//! The viewer's history: fixed-size ring buffers of host, device and
//! process series, fed by the collection thread after each reading and
//! read by the UI when it draws a graph.
//!
//! Every ring has room for [`MAX_WINDOW`] at the reading interval;
//! pushing a sample overwrites the oldest, so memory does not grow with
//! uptime. N/A is stored as a gap and drawn as one, never as a zero.
//!
//! What the history costs: an hour at 1 s is 3600 samples per series, and
//! 8 GPUs have 10 series each. So a sample takes 2 bytes, not 4 or 8 (see
//! [`sample`]: within 0.05 % of the value, far below a graph's dot), and a
//! series that has only ever been N/A (PCIe and GPM while no graph shows
//! them, a metric the GPU lacks) has no storage at all. On `h100x8` at
//! the default intervals that is 0.37 MB instead of 1.2 MB for `f32`
//! samples of every series (`bench/README.md`, issue 11); a unit test
//! holds the figure.

use std::collections::HashMap;
use std::time::Duration;

use nvitop::{DeviceIndex, Snapshot};

use crate::live::rows::ProcessKey;

/// The longest time span a graph can show (`--graph-window` at most).
pub const MAX_WINDOW: Duration = Duration::from_hours(1);

/// The most samples a ring keeps, whatever the interval (an hour at
/// 0.25 s).
pub const MAX_SAMPLES: usize = 14_400;

/// Samples in 16 bits: an unsigned floating-point format with 6 exponent
/// and 10 mantissa bits (IEEE half precision's mantissa, with the sign
/// bit spent on range). Every series the graphs draw is a magnitude, from
/// a fraction of a percent to bytes of host memory, so one format serves
/// them all: normal values from 2^-13 (1.2e-4) to about 1.1e15, each
/// within 2^-11 (0.05 %) of what was pushed. A graph row has 4 dots, so
/// the rounding never moves a bar by more than a dot at a boundary.
///
/// Zero and negative values (a graph draws neither) store as 0; a positive
/// value below the range stores as the smallest positive one, so it still
/// shows its dot. `u16::MAX` is N/A.
pub mod sample {
    /// The stored form of N/A.
    pub const NA: u16 = u16::MAX;
    /// The largest stored value (about 1.1e15).
    const MAX: u16 = u16::MAX - 1;
    /// The smallest positive stored value, 2^-13.
    const MIN_POSITIVE: u16 = 1 << MANTISSA_BITS;
    const MANTISSA_BITS: u32 = 10;
    /// f32 keeps 23 mantissa bits; these are dropped (rounded).
    const DROPPED: u32 = 23 - MANTISSA_BITS;
    /// f32's exponent bias (127) less ours (14), in stored units.
    const REBIAS: u32 = (127 - 14) << MANTISSA_BITS;

    /// `value` in 16 bits (`None` and non-finite values: [`NA`]).
    ///
    /// ```
    /// use nvitop_monitor::live::history::sample::{decode, encode};
    /// assert_eq!(decode(encode(Some(42.0))), Some(42.0));
    /// assert_eq!(decode(encode(None)), None);
    /// ```
    #[must_use]
    pub fn encode(value: Option<f64>) -> u16 {
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return NA;
        };
        if v <= 0.0 {
            return 0;
        }
        #[allow(clippy::cast_possible_truncation)]
        let bits = (v as f32).to_bits();
        // Round to nearest (half up): a carry out of the mantissa moves
        // the exponent up, as it should.
        let rounded = (bits + (1 << (DROPPED - 1))) >> DROPPED;
        match rounded.checked_sub(REBIAS) {
            Some(code) if code >= u32::from(MIN_POSITIVE) => u16::try_from(code).unwrap_or(MAX).min(MAX),
            _ => MIN_POSITIVE,
        }
    }

    /// The value `code` stands for (`None` for [`NA`]).
    #[must_use]
    pub fn decode(code: u16) -> Option<f64> {
        match code {
            NA => None,
            0 => Some(0.0),
            _ => Some(f64::from(f32::from_bits((u32::from(code) + REBIAS) << DROPPED))),
        }
    }
}

/// A fixed-size ring of samples, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    /// The samples in [`sample`]'s 16 bits, allocated (whole, so its
    /// memory is what it will be after an hour) at the first sample that
    /// is not N/A.
    values: Option<Box<[u16]>>,
    capacity: usize,
    /// The slot the next sample goes to.
    head: usize,
    /// Samples pushed, up to the capacity.
    len: usize,
    /// The newest sample as pushed (NaN: N/A): the figure a label prints
    /// is not rounded by the 16-bit storage.
    newest: f64,
}

impl Ring {
    /// An empty ring for `capacity` samples (at least one); it takes no
    /// memory until a sample has a value.
    pub fn new(capacity: usize) -> Self {
        Self {
            values: None,
            capacity: capacity.max(1),
            head: 0,
            len: 0,
            newest: f64::NAN,
        }
    }

    /// Adds a sample (`None`: N/A), dropping the oldest when full.
    pub fn push(&mut self, value: Option<f64>) {
        let code = sample::encode(value);
        if code != sample::NA || self.values.is_some() {
            let values = self
                .values
                .get_or_insert_with(|| vec![sample::NA; self.capacity].into_boxed_slice());
            values[self.head] = code;
        }
        self.newest = value.filter(|v| v.is_finite()).unwrap_or(f64::NAN);
        self.head = (self.head + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// Samples the ring holds room for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of sample storage this ring holds (0 while every sample was
    /// N/A).
    pub fn bytes(&self) -> usize {
        self.values.as_ref().map_or(0, |v| std::mem::size_of_val(&**v))
    }

    /// Samples pushed so far, up to the capacity.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest `n` slots, oldest first; slots before the first sample
    /// are `None`, as are N/A samples.
    pub fn last(&self, n: usize) -> Vec<Option<f64>> {
        let cap = self.capacity;
        (0..n)
            .map(|i| {
                // i-th of the last n: n - i samples back from the head.
                let back = n - i;
                if back > self.len {
                    return None;
                }
                if back == 1 {
                    return (!self.newest.is_nan()).then_some(self.newest);
                }
                let at = (self.head + cap - back % cap) % cap;
                self.values.as_ref().and_then(|v| sample::decode(v[at]))
            })
            .collect()
    }

    /// The newest sample, if any and not N/A.
    pub fn latest(&self) -> Option<f64> {
        self.last(1).pop().flatten()
    }
}

/// What the device graph shows: a pair of series, the first growing up
/// and the second hanging down; `g` walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphMetric {
    /// GPU memory (up) and GPU utilization (down), as nvitop.
    #[default]
    MemoryUtilization,
    /// Power draw (W) and temperature (°C).
    PowerTemperature,
    /// PCIe RX and TX (KiB/s); only read while shown.
    Pcie,
    /// Encoder and decoder utilization.
    Codec,
    /// GPM SM activity and tensor activity (Hopper and newer; N/A on
    /// older GPUs); only read while shown.
    Gpm,
}

impl GraphMetric {
    /// Every pair, in the order `g` walks them.
    pub const ALL: [Self; 5] = [
        Self::MemoryUtilization,
        Self::PowerTemperature,
        Self::Pcie,
        Self::Codec,
        Self::Gpm,
    ];

    /// The next pair, wrapping around.
    #[must_use]
    pub fn next(self) -> Self {
        let at = Self::ALL.iter().position(|&m| m == self).unwrap_or(0);
        Self::ALL[(at + 1) % Self::ALL.len()]
    }

    /// The two series, as [`DeviceSeries`] indices, with their labels.
    pub fn series(self) -> [(DeviceSeries, &'static str); 2] {
        use DeviceSeries as S;
        match self {
            Self::MemoryUtilization => [(S::Memory, "GPU MEM"), (S::Utilization, "GPU UTL")],
            Self::PowerTemperature => [(S::Power, "POWER"), (S::Temperature, "TEMP")],
            Self::Pcie => [(S::PcieRx, "PCIe RX"), (S::PcieTx, "PCIe TX")],
            Self::Codec => [(S::Encoder, "ENC"), (S::Decoder, "DEC")],
            Self::Gpm => [(S::SmActive, "SM ACT"), (S::TensorActive, "TENSOR")],
        }
    }

    /// Whether showing it needs GPM samples taken.
    pub fn needs_gpm(self) -> bool {
        self == Self::Gpm
    }

    /// Whether showing it needs the PCIe counters read.
    pub fn needs_pcie(self) -> bool {
        self == Self::Pcie
    }
}

/// One device series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSeries {
    /// GPU utilization, percent.
    Utilization,
    /// Memory used, percent of total.
    Memory,
    /// Power draw, watts.
    Power,
    /// Temperature, °C.
    Temperature,
    /// PCIe receive, KiB/s.
    PcieRx,
    /// PCIe transmit, KiB/s.
    PcieTx,
    /// Encoder utilization, percent.
    Encoder,
    /// Decoder utilization, percent.
    Decoder,
    /// GPM SM activity, percent.
    SmActive,
    /// GPM tensor activity (any tensor pipe), percent.
    TensorActive,
}

impl DeviceSeries {
    const COUNT: usize = 10;

    fn slot(self) -> usize {
        self as usize
    }

    /// Whether the series is a percentage (its scale is 0-100).
    pub fn is_percent(self) -> bool {
        matches!(
            self,
            Self::Utilization | Self::Memory | Self::Encoder | Self::Decoder | Self::SmActive | Self::TensorActive
        )
    }

    /// The value with its unit, as a graph's label shows it.
    pub fn format(self, value: Option<f64>) -> String {
        let Some(v) = value else {
            return nvitop::format::NA.to_owned();
        };
        match self {
            Self::Power => format!("{v:.0}W"),
            Self::Temperature => format!("{v:.0}C"),
            Self::PcieRx | Self::PcieTx => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let bytes = (v * 1024.0) as u64;
                format!("{}/s", nvitop::format::bytes2human(bytes))
            }
            _ => format!("{v:.1}%"),
        }
    }
}

/// One process's series.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessHistory {
    /// %CPU.
    pub cpu: Ring,
    /// Host memory (RSS), bytes.
    pub host_memory: Ring,
    /// GPU memory, bytes.
    pub gpu_memory: Ring,
    /// %SM.
    pub sm: Ring,
    /// Training steps per second from the process's status record (N/A
    /// without one).
    pub steps_per_second: Ring,
}

impl ProcessHistory {
    fn new(capacity: usize) -> Self {
        Self {
            cpu: Ring::new(capacity),
            host_memory: Ring::new(capacity),
            gpu_memory: Ring::new(capacity),
            sm: Ring::new(capacity),
            steps_per_second: Ring::new(capacity),
        }
    }
}

/// Everything the graphs draw.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Seconds between host and device samples.
    pub device_interval: Duration,
    /// Seconds between process samples.
    pub process_interval: Duration,
    /// Host CPU %.
    pub cpu: Ring,
    /// Host memory %.
    pub memory: Ring,
    /// Host swap %.
    pub swap: Ring,
    /// Per device (display index, in snapshot order), one ring per
    /// [`DeviceSeries`].
    pub devices: Vec<(DeviceIndex, Vec<Ring>)>,
    /// Per MIG device with GPM (display index `1:0`), its GPU instance's
    /// SM and tensor activity: kept from its first GPM reading on (only
    /// Hopper MIG devices while the GPM graph is shown), two rings each
    /// rather than one per [`DeviceSeries`], since a MIG device has no
    /// utilization, power or PCIe of its own to graph.
    pub mig_gpm: Vec<(DeviceIndex, [Ring; 2])>,
    /// Per watched process ([`History::watch`]) that the newest reading
    /// still lists.
    pub processes: HashMap<ProcessKey, ProcessHistory>,
    /// The processes to keep series of.
    pub watched: Vec<ProcessKey>,
}

/// Samples of `interval` that cover [`MAX_WINDOW`], at most [`MAX_SAMPLES`].
pub fn capacity_for(interval: Duration) -> usize {
    let secs = interval.as_secs_f64().max(0.001);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (MAX_WINDOW.as_secs_f64() / secs).ceil() as usize;
    n.clamp(1, MAX_SAMPLES)
}

impl History {
    /// Empty history for readings every `device_interval` (host and
    /// devices) and `process_interval` (processes).
    pub fn new(device_interval: Duration, process_interval: Duration) -> Self {
        let cap = capacity_for(device_interval);
        Self {
            device_interval,
            process_interval,
            cpu: Ring::new(cap),
            memory: Ring::new(cap),
            swap: Ring::new(cap),
            devices: Vec::new(),
            mig_gpm: Vec::new(),
            processes: HashMap::new(),
            watched: Vec::new(),
        }
    }

    /// Records the host and devices of `snapshot`.
    pub fn record_devices(&mut self, snapshot: &Snapshot) {
        use DeviceSeries as S;
        let host = &snapshot.host;
        self.cpu.push(Some(host.others_cpu_percent()));
        self.memory.push(Some(host.memory_percent));
        self.swap.push(Some(host.swap_percent));
        let cap = self.cpu.capacity();
        for device in &snapshot.devices {
            let found = self
                .devices
                .iter()
                .position(|(index, _)| device.display_index == *index);
            let at = found.unwrap_or_else(|| {
                let mut rings = vec![Ring::new(cap); DeviceSeries::COUNT];
                // A device seen late starts with as many gaps as the
                // others have samples, so the rings stay aligned.
                let behind = self.cpu.len().saturating_sub(1);
                for ring in &mut rings {
                    for _ in 0..behind {
                        ring.push(None);
                    }
                }
                self.devices.push((device.display_index, rings));
                self.devices.len() - 1
            });
            let rings = &mut self.devices[at].1;
            let pct = |v: Option<u32>| v.map(f64::from);
            rings[S::Utilization.slot()].push(pct(device.gpu_utilization));
            rings[S::Memory.slot()].push(device.memory_percent);
            rings[S::Power.slot()].push(device.power_usage.map(|mw| f64::from(mw) / 1000.0));
            rings[S::Temperature.slot()].push(pct(device.temperature));
            rings[S::PcieRx.slot()].push(pct(device.pcie_rx_throughput));
            rings[S::PcieTx.slot()].push(pct(device.pcie_tx_throughput));
            rings[S::Encoder.slot()].push(pct(device.encoder_utilization));
            rings[S::Decoder.slot()].push(pct(device.decoder_utilization));
            let gpm = device.gpm.as_ref();
            rings[S::SmActive.slot()].push(gpm.and_then(|g| g.sm_active));
            rings[S::TensorActive.slot()].push(gpm.and_then(|g| g.tensor_active));
        }
        self.record_mig_gpm(snapshot, cap);
    }

    /// Records the GPM activity of `snapshot`'s MIG devices: every MIG
    /// device already kept gets a sample (N/A when gone or without GPM),
    /// one with GPM for the first time starts with gaps, so the rings stay
    /// aligned with the others.
    fn record_mig_gpm(&mut self, snapshot: &Snapshot, cap: usize) {
        let migs = || snapshot.devices.iter().flat_map(|d| &d.mig_devices);
        for mig in migs().filter(|m| m.gpm.is_some()) {
            if self.mig_gpm.iter().all(|(index, _)| *index != mig.display_index) {
                let mut rings = [Ring::new(cap), Ring::new(cap)];
                // Gaps up to the sample pushed below.
                for ring in &mut rings {
                    for _ in 0..self.cpu.len().saturating_sub(1) {
                        ring.push(None);
                    }
                }
                self.mig_gpm.push((mig.display_index, rings));
            }
        }
        for (index, [sm, tensor]) in &mut self.mig_gpm {
            let gpm = migs().find(|m| m.display_index == *index).and_then(|m| m.gpm);
            sm.push(gpm.and_then(|g| g.sm_active));
            tensor.push(gpm.and_then(|g| g.tensor_active));
        }
    }

    /// Which processes to keep series of from now on (the process metrics
    /// screen's one): a machine's hundreds of processes would otherwise
    /// cost an hour of rings each. Series of processes no longer watched
    /// are dropped.
    pub fn watch(&mut self, keys: &[ProcessKey]) {
        self.watched = keys.to_vec();
        self.processes.retain(|key, _| keys.contains(key));
    }

    /// Records the watched processes of `snapshot` and forgets those gone.
    pub fn record_processes(&mut self, snapshot: &Snapshot) {
        self.record_processes_by(snapshot, &|_| None);
    }

    fn record_processes_by(
        &mut self,
        snapshot: &Snapshot,
        steps_per_second: &dyn Fn(&nvitop::ProcessSnapshot) -> Option<f64>,
    ) {
        let cap = capacity_for(self.process_interval);
        let keys: Vec<ProcessKey> = snapshot
            .processes
            .iter()
            .map(ProcessKey::of)
            .filter(|key| self.watched.contains(key))
            .collect();
        self.processes.retain(|key, _| keys.contains(key));
        let watched = snapshot.processes.iter().filter(|p| keys.contains(&ProcessKey::of(p)));
        for (p, key) in watched.zip(&keys) {
            // Look up before inserting: no key clone per known process.
            if !self.processes.contains_key(key) {
                self.processes.insert(key.clone(), ProcessHistory::new(cap));
            }
            let Some(h) = self.processes.get_mut(key) else { continue };
            let host = p.host.as_ref();
            h.cpu.push(host.map(|h| h.cpu_percent));
            #[allow(clippy::cast_precision_loss)]
            h.host_memory.push(host.map(|h| h.rss as f64));
            #[allow(clippy::cast_precision_loss)]
            h.gpu_memory.push(p.gpu_memory.map(|b| b as f64));
            h.sm.push(p.gpu_sm_utilization.map(f64::from));
            h.steps_per_second.push(steps_per_second(p));
        }
    }

    /// [`record_processes`](Self::record_processes), with each watched
    /// process's training rate (`steps_per_second` of its record).
    pub fn record_processes_with(
        &mut self,
        snapshot: &Snapshot,
        steps_per_second: impl Fn(&nvitop::ProcessSnapshot) -> Option<f64>,
    ) {
        self.record_processes_by(snapshot, &steps_per_second);
    }

    /// The last `n` samples of `series`, averaged over the devices whose
    /// display index `keep` accepts (N/A where none has a value). MIG
    /// devices (`1:0`) count for the GPM series only, and only where
    /// `keep` accepts their own index.
    pub fn device_series(
        &self,
        series: DeviceSeries,
        n: usize,
        keep: impl Fn(DeviceIndex) -> bool,
    ) -> Vec<Option<f64>> {
        let mut sums = vec![(0.0, 0u32); n];
        let mig_slot = match series {
            DeviceSeries::SmActive => Some(0),
            DeviceSeries::TensorActive => Some(1),
            _ => None,
        };
        let physical = self.devices.iter().map(|(index, rings)| (index, &rings[series.slot()]));
        let migs = self
            .mig_gpm
            .iter()
            .filter_map(|(index, rings)| mig_slot.map(|slot| (index, &rings[slot])));
        for (index, ring) in physical.chain(migs) {
            if !keep(*index) {
                continue;
            }
            for (sum, value) in sums.iter_mut().zip(ring.last(n)) {
                if let Some(v) = value {
                    sum.0 += v;
                    sum.1 += 1;
                }
            }
        }
        sums.into_iter()
            .map(|(sum, count)| (count > 0).then(|| sum / f64::from(count)))
            .collect()
    }

    /// Bytes of sample storage the rings hold (what the history costs in
    /// memory, besides a few dozen bytes per ring).
    pub fn footprint(&self) -> usize {
        self.cpu.bytes()
            + self.memory.bytes()
            + self.swap.bytes()
            + self.devices.iter().flat_map(|(_, r)| r).map(Ring::bytes).sum::<usize>()
            + self.mig_gpm.iter().flat_map(|(_, r)| r).map(Ring::bytes).sum::<usize>()
            + self
                .processes
                .values()
                .map(|h| {
                    h.cpu.bytes()
                        + h.host_memory.bytes()
                        + h.gpu_memory.bytes()
                        + h.sm.bytes()
                        + h.steps_per_second.bytes()
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use nvitop::backend::Backend;
    use nvitop::backend::sim::SimBackend;

    use super::*;

    #[test]
    fn a_ring_keeps_the_newest_and_marks_gaps() {
        let mut ring = Ring::new(3);
        assert_eq!(ring.last(2), [None, None]);
        ring.push(Some(1.0));
        ring.push(None);
        assert_eq!(ring.last(3), [None, Some(1.0), None]);
        ring.push(Some(3.0));
        ring.push(Some(4.0));
        assert_eq!(ring.last(3), [None, Some(3.0), Some(4.0)]);
        assert_eq!(ring.last(5), [None, None, None, Some(3.0), Some(4.0)]);
        assert_eq!(ring.latest(), Some(4.0));
        assert_eq!((ring.len(), ring.capacity()), (3, 3));
    }

    #[test]
    fn samples_keep_eleven_bits_of_any_magnitude() {
        use sample::{NA, decode, encode};
        // Percent, watts, KiB/s of PCIe 6, bytes of a large host's memory.
        let mut v = 1.5e-4;
        while v < 1e15 {
            for x in [v, v * 1.37, v * 3.3333] {
                let back = decode(encode(Some(x))).unwrap();
                assert!((back - x).abs() <= x * 2f64.powi(-11), "{x} came back as {back}");
            }
            v *= 10.0;
        }
        // Whole numbers up to 2048 (percent, °C, W) come back exact.
        for x in 0..=2048u32 {
            assert_eq!(decode(encode(Some(f64::from(x)))), Some(f64::from(x)));
        }
        assert_eq!(encode(None), NA);
        assert_eq!(encode(Some(f64::NAN)), NA);
        assert_eq!(encode(Some(f64::INFINITY)), NA);
        assert_eq!(decode(NA), None);
        // A graph draws neither zero nor a negative value; a tiny positive
        // one still gets its dot; a huge one is clamped, not N/A.
        assert_eq!(decode(encode(Some(-3.0))), Some(0.0));
        assert!(decode(encode(Some(1e-9))).unwrap() > 0.0);
        assert!(decode(encode(Some(1e30))).unwrap() > 1e15);
        // Order is kept: a larger value never stores as a smaller one.
        let codes: Vec<u16> = (1..2000).map(|i| encode(Some(f64::from(i) * 0.37))).collect();
        assert!(codes.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_ring_of_gaps_holds_no_storage_and_labels_are_exact() {
        let mut ring = Ring::new(3600);
        for _ in 0..10 {
            ring.push(None);
        }
        assert_eq!(ring.bytes(), 0);
        assert_eq!(ring.last(3), [None, None, None]);
        ring.push(Some(33.333));
        // Two bytes a sample, the whole hour at once.
        assert_eq!(ring.bytes(), 3600 * 2);
        assert_eq!(ring.latest(), Some(33.333));
        ring.push(Some(50.0));
        let last = ring.last(3);
        assert_eq!(last[0], None);
        assert!((last[1].unwrap() - 33.333).abs() < 33.333 * 2f64.powi(-11));
        assert_eq!(last[2], Some(50.0));
        assert_eq!(ring.len(), 12);
    }

    /// Issue 11: the history of an 8-GPU machine at the default intervals
    /// must not grow back to the 1.2 MB of `f32` samples for every series.
    #[test]
    fn an_hour_of_eight_gpus_costs_two_bytes_a_sample_of_the_series_read() {
        let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("h100x8").unwrap());
        let snapshot = Snapshot::take_all(&backend).unwrap();
        let mut history = History::new(Duration::from_secs(1), Duration::from_secs(2));
        // As the viewer reads by default: no PCIe throughput, no GPM.
        let mut read = snapshot.clone();
        for d in &mut read.devices {
            d.pcie_rx_throughput = None;
            d.pcie_tx_throughput = None;
            d.gpm = None;
        }
        for _ in 0..10 {
            history.record_devices(&read);
        }
        let samples = capacity_for(Duration::from_secs(1));
        assert_eq!(samples, 3600);
        // Host CPU, memory, swap; per GPU utilization, memory, power,
        // temperature, encoder, decoder.
        let series = 3 + 8 * 6;
        assert_eq!(history.footprint(), series * samples * 2);
        assert!(history.footprint() < 400_000, "{}", history.footprint());
        // Showing the PCIe graph adds its two series for every GPU.
        history.record_devices(&snapshot);
        assert!(snapshot.devices.iter().all(|d| d.pcie_rx_throughput.is_some()));
        assert!(history.footprint() >= (series + 8 * 2) * samples * 2);
    }

    #[test]
    fn an_hour_at_a_quarter_second_keeps_the_same_buffer_sizes() {
        let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("h100x8").unwrap());
        let snapshot = Snapshot::take_all(&backend).unwrap();
        let interval = Duration::from_millis(250);
        let mut history = History::new(interval, interval);
        let watched: Vec<ProcessKey> = snapshot.processes.iter().take(2).map(ProcessKey::of).collect();
        history.watch(&watched);
        history.record_devices(&snapshot);
        history.record_processes(&snapshot);
        let after_one = history.footprint();
        assert!(after_one > 0);
        let steps = 3600 * 4;
        for _ in 1..steps {
            history.record_devices(&snapshot);
            history.record_processes(&snapshot);
        }
        // Every ring was allocated once, up front: an hour of samples fits
        // in the same bytes as the first one did.
        assert_eq!(history.footprint(), after_one);
        assert_eq!(history.cpu.len(), history.cpu.capacity());
        // And more than an hour overwrites, never grows.
        for _ in 0..1000 {
            history.record_devices(&snapshot);
            history.record_processes(&snapshot);
        }
        assert_eq!(history.footprint(), after_one);
        assert_eq!(history.devices.len(), snapshot.devices.len());
        assert_eq!(history.processes.len(), 2);
    }

    #[test]
    fn gone_processes_are_forgotten() {
        let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("default").unwrap());
        let mut snapshot = Snapshot::take_all(&backend).unwrap();
        let mut history = History::new(Duration::from_secs(1), Duration::from_secs(2));
        // Nothing watched: no process series at all.
        history.record_processes(&snapshot);
        assert!(history.processes.is_empty());
        let all: Vec<ProcessKey> = snapshot.processes.iter().map(ProcessKey::of).collect();
        history.watch(&all);
        history.record_processes(&snapshot);
        assert_eq!(history.processes.len(), all.len());
        assert!(all.len() > 1);
        snapshot.processes.truncate(1);
        history.record_processes(&snapshot);
        assert_eq!(history.processes.len(), 1);
        history.watch(&[]);
        assert!(history.processes.is_empty());
    }

    #[test]
    fn mig_devices_keep_gpm_series_of_their_own_and_only_when_asked_for() {
        let mut history = History::new(Duration::from_secs(1), Duration::from_secs(1));
        let mut rings = vec![Ring::new(4); DeviceSeries::COUNT];
        rings[DeviceSeries::SmActive.slot()].push(Some(40.0));
        history.devices = vec![(DeviceIndex::physical(1), rings)];
        let mut mig = [Ring::new(4), Ring::new(4)];
        mig[0].push(Some(90.0));
        mig[1].push(Some(60.0));
        history.mig_gpm = vec![(DeviceIndex::mig(1, 0), mig)];
        let physical = |i: DeviceIndex| !i.is_mig();
        // The average is over physical GPUs: a MIG device is part of one.
        assert_eq!(history.device_series(DeviceSeries::SmActive, 1, physical), [Some(40.0)]);
        // Asked for by its own index, the GPU instance's own activity.
        assert_eq!(
            history.device_series(DeviceSeries::SmActive, 1, |i| i == DeviceIndex::mig(1, 0)),
            [Some(90.0)]
        );
        assert_eq!(
            history.device_series(DeviceSeries::TensorActive, 1, |i| i == DeviceIndex::mig(1, 0)),
            [Some(60.0)]
        );
        // A MIG device has no utilization series of its own.
        assert_eq!(
            history.device_series(DeviceSeries::Utilization, 1, |i| i == DeviceIndex::mig(1, 0)),
            [None]
        );
    }

    #[test]
    fn mig_gpm_rings_start_aligned_and_only_for_mig_devices_with_gpm() {
        let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("mig").unwrap());
        let mut snapshot = Snapshot::take_all(&backend).unwrap();
        let mut history = History::new(Duration::from_secs(1), Duration::from_secs(1));
        history.record_devices(&snapshot);
        assert!(history.mig_gpm.is_empty(), "no GPM read: no MIG rings");
        // GPM on the H100's first instance from the second reading on.
        let mut gpm = nvitop::device::GpmMetrics::default();
        gpm.sm_active = Some(70.0);
        snapshot.devices[1].mig_devices[0].gpm = Some(gpm);
        history.record_devices(&snapshot);
        snapshot.devices[1].mig_devices.clear(); // gone (MIG reconfigured)
        history.record_devices(&snapshot);
        assert_eq!(history.mig_gpm.len(), 1);
        let (index, [sm, tensor]) = &history.mig_gpm[0];
        assert_eq!(*index, DeviceIndex::mig(1, 0));
        assert_eq!(sm.last(3), [None, Some(70.0), None]);
        assert_eq!(tensor.last(3), [None, None, None]);
        assert_eq!(sm.len(), history.cpu.len());
    }

    #[test]
    fn device_averages_skip_na() {
        let mut history = History::new(Duration::from_secs(1), Duration::from_secs(1));
        let mut rings = vec![Ring::new(4); DeviceSeries::COUNT];
        rings[DeviceSeries::Utilization.slot()].push(Some(10.0));
        rings[DeviceSeries::Utilization.slot()].push(None);
        let mut other = vec![Ring::new(4); DeviceSeries::COUNT];
        other[DeviceSeries::Utilization.slot()].push(Some(30.0));
        other[DeviceSeries::Utilization.slot()].push(None);
        history.devices = vec![(DeviceIndex::physical(0), rings), (DeviceIndex::physical(1), other)];
        assert_eq!(
            history.device_series(DeviceSeries::Utilization, 3, |_| true),
            [None, Some(20.0), None]
        );
        assert_eq!(
            history.device_series(DeviceSeries::Utilization, 2, |i| i == DeviceIndex::physical(1)),
            [Some(30.0), None]
        );
    }
}

//! What one collection pass read, as plain data.
//!
//! The metric families are built from these structs only, so the encoding
//! and the tests never touch the SDK or the driver: [`crate::collect`] is the
//! one module that turns SDK types into readings.

/// Everything one pass read: driver, host, GPUs, GPU processes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    /// Driver version (`560.35.03`).
    pub driver_version: Option<String>,
    /// CUDA driver version (`12.6`).
    pub cuda_driver_version: Option<String>,
    /// Number of physical GPUs monitored.
    pub device_count: usize,
    /// Host-wide figures.
    pub host: HostReadings,
    /// One entry per physical GPU, then its MIG devices, in index order.
    pub gpus: Vec<GpuReadings>,
    /// One entry per (device, process).
    pub processes: Vec<ProcessReadings>,
    /// How long the pass took, seconds.
    pub pass_seconds: f64,
    /// When the pass ended, seconds since the Unix epoch.
    pub timestamp: f64,
}

/// Host-wide figures. Memory in bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostReadings {
    /// Seconds since boot.
    pub uptime_seconds: Option<f64>,
    /// CPU usage since the previous pass, percent.
    pub cpu_percent: f64,
    /// Physical memory.
    pub memory_total: u64,
    /// Used memory (total less available).
    pub memory_used: u64,
    /// Memory not used at all.
    pub memory_free: u64,
    /// Used memory, percent of total.
    pub memory_percent: f64,
    /// Swap.
    pub swap_total: u64,
    /// Swap in use.
    pub swap_used: u64,
    /// Swap not in use.
    pub swap_free: u64,
    /// Swap in use, percent.
    pub swap_percent: f64,
    /// 1, 5 and 15 minute load averages.
    pub load_average: Option<(f64, f64, f64)>,
    /// Per network interface counters since boot.
    pub network: Vec<NetworkCounters>,
    /// Per block device counters since boot.
    pub disks: Vec<DiskCounters>,
    /// Usage of mounted file systems.
    pub disk_usage: Vec<DiskUsage>,
}

/// One network interface's counters since boot (`/proc/net/dev`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkCounters {
    /// Interface name (`eth0`).
    pub interface: String,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets received.
    pub rx_packets: u64,
}

/// One block device's counters since boot (`/proc/diskstats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskCounters {
    /// Device name (`vda`, `nvme0n1`).
    pub name: String,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
}

/// A mounted file system's usage (`statvfs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskUsage {
    /// Mount point (`/`).
    pub mountpoint: String,
    /// Size, bytes.
    pub total: u64,
    /// Used, bytes.
    pub used: u64,
    /// Free for unprivileged users, bytes.
    pub free: u64,
    /// Used, percent of what users can have (used + free), as `df` counts it.
    pub percent: f64,
}

/// One GPU or MIG device. `None` is N/A: no sample is exported for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuReadings {
    /// `3`, or `3:1` for MIG device 1 of GPU 3.
    pub index: String,
    /// Product name (remembered from an earlier pass when the GPU is lost).
    pub name: String,
    /// UUID (remembered from an earlier pass when the GPU is lost).
    pub uuid: String,
    /// Whether the device answered this pass (false: fallen off the bus).
    pub up: bool,
    /// GPU utilization, percent.
    pub utilization: Option<f64>,
    /// Memory-bandwidth utilization, percent.
    pub memory_utilization: Option<f64>,
    /// Encoder utilization, percent.
    pub encoder_utilization: Option<f64>,
    /// Decoder utilization, percent.
    pub decoder_utilization: Option<f64>,
    /// Memory, bytes.
    pub memory_total: Option<u64>,
    /// Used memory, bytes.
    pub memory_used: Option<u64>,
    /// Free memory, bytes.
    pub memory_free: Option<u64>,
    /// Used memory, percent of total.
    pub memory_percent: Option<f64>,
    /// SM clock, MHz.
    pub clock_sm: Option<f64>,
    /// Memory clock, MHz.
    pub clock_memory: Option<f64>,
    /// Graphics clock, MHz.
    pub clock_graphics: Option<f64>,
    /// Video clock, MHz.
    pub clock_video: Option<f64>,
    /// Power draw, mW.
    pub power_usage_mw: Option<f64>,
    /// Enforced power limit, mW.
    pub power_limit_mw: Option<f64>,
    /// Temperature, °C.
    pub temperature: Option<f64>,
    /// Fan speed, percent.
    pub fan_speed: Option<f64>,
    /// PCIe transmit, KiB/s.
    pub pcie_tx_kibps: Option<f64>,
    /// PCIe receive, KiB/s.
    pub pcie_rx_kibps: Option<f64>,
    /// Energy since the driver loaded, mJ.
    pub energy_mj: Option<u64>,
    /// Volatile uncorrected ECC errors.
    pub ecc_uncorrected_volatile: Option<u64>,
    /// `NVLink` throughput per link since the previous pass; `None` on a
    /// device without `NVLink` (and on the first pass, which has nothing to
    /// difference against).
    pub nvlink: Option<Vec<LinkThroughput>>,
    /// Clock event (throttle) reasons, NVML's bit mask.
    pub clock_event_reasons: Option<u64>,
    /// GPM activity since the previous pass (a MIG device: its GPU
    /// instance's own); `None` without GPM (pre-Hopper GPUs and their MIG
    /// devices, `--no-gpm`) and on the first pass.
    pub gpm: Option<GpmReadings>,
}

/// GPM activity of one GPU between two passes, percent (0-100) as NVML
/// reports them; `None` is a metric the driver does not give.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GpmReadings {
    /// SM activity.
    pub sm_active: Option<f64>,
    /// SM occupancy.
    pub sm_occupancy: Option<f64>,
    /// Any tensor pipe active.
    pub tensor_active: Option<f64>,
    /// DRAM bandwidth used, of peak.
    pub dram_active: Option<f64>,
    /// FP16 pipe active.
    pub fp16_active: Option<f64>,
    /// FP32 pipe active.
    pub fp32_active: Option<f64>,
    /// FP64 pipe active.
    pub fp64_active: Option<f64>,
}

/// One `NVLink`'s throughput between two passes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkThroughput {
    /// Link number.
    pub link: u32,
    /// Transmitted, KiB/s.
    pub tx_kibps: f64,
    /// Received, KiB/s.
    pub rx_kibps: f64,
}

/// One process on one device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessReadings {
    /// The device's index label (`0` or `0:1`).
    pub device_index: String,
    /// The device's name label.
    pub device_name: String,
    /// The device's UUID label.
    pub device_uuid: String,
    /// Process id.
    pub pid: u32,
    /// Owner, `N/A` when the process is not visible here.
    pub username: String,
    /// Host side, `None` when the pid is not visible (another pid namespace) or it exited.
    pub host: Option<ProcessHostReadings>,
    /// GPU memory, bytes.
    pub gpu_memory: Option<u64>,
    /// SM utilization, percent.
    pub gpu_sm_utilization: Option<f64>,
    /// Memory-bandwidth utilization, percent.
    pub gpu_memory_utilization: Option<f64>,
    /// Encoder utilization, percent.
    pub gpu_encoder_utilization: Option<f64>,
    /// Decoder utilization, percent.
    pub gpu_decoder_utilization: Option<f64>,
    /// The training status the process publishes (joined by pid and start
    /// time), `None` for a process without a record.
    pub training: Option<TrainingReadings>,
}

/// A training process's status at the pass (see `nvitop::training`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrainingReadings {
    /// Last step a hook reported.
    pub step: u64,
    /// Steps per second over the last minute, when known.
    pub steps_per_second: Option<f64>,
    /// Seconds since the last hook, at the pass.
    pub seconds_since_last_step: f64,
}

/// The host side of a GPU process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessHostReadings {
    /// Command line, arguments joined by spaces.
    pub command: String,
    /// State as psutil names it (`running`, `sleeping`, `disk-sleep`, ...).
    pub status: String,
    /// Seconds since the process started.
    pub running_time_seconds: f64,
    /// CPU usage, percent of one CPU.
    pub cpu_percent: f64,
    /// Resident memory, percent of the host's.
    pub memory_percent: f64,
    /// Resident memory, bytes.
    pub rss: u64,
}

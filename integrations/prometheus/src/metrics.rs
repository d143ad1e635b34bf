//! The metric families, built from one pass's [`Readings`].
//!
//! Names, types, labels and units of the compatible families are those
//! nvitop-exporter 1.7.2 serves (so Grafana dashboard 22589 works), observed
//! from its output; the families in [`OWN_FAMILIES`] are ours, in Prometheus
//! style. A figure the device does not give (N/A) has no sample, where
//! nvitop-exporter writes NaN.

use nvitop::backend::ClockEventReasons;

use crate::readings::{GpmReadings, GpuReadings, LinkThroughput, ProcessReadings, Readings};

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// How a family is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A total that only grows (its samples get `_total`).
    Counter,
    /// Constant 1 whose labels carry the information (its samples get `_info`).
    Info,
}

/// One sample: label pairs and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values, in output order.
    pub labels: Vec<(&'static str, String)>,
    /// The value (1 for an info family).
    pub value: f64,
}

/// One metric family: its name as registered (without `_total` / `_info`),
/// help, kind and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Name without the suffix the kind adds.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Gauge, counter or info.
    pub kind: Kind,
    /// The samples (possibly none: the family is still described).
    pub samples: Vec<Sample>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: Kind) -> Self {
        Self {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: Option<f64>) {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            self.samples.push(Sample { labels, value });
        }
    }

    /// The name samples carry: with `_total` for a counter, `_info` for an info.
    ///
    /// ```
    /// let families = nvitop_exporter::metrics::families(&Default::default(), "node1");
    /// let names: Vec<String> = families.iter().map(|f| f.sample_name()).collect();
    /// assert!(names.contains(&"nvitop_info".to_owned()));
    /// assert!(names.contains(&"gpu_energy_consumption_joules_total".to_owned()));
    /// ```
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Gauge => self.name.to_owned(),
            Kind::Counter => format!("{}_total", self.name),
            Kind::Info => format!("{}_info", self.name),
        }
    }
}

/// Families of our own (not in nvitop-exporter 1.7.2), by sample name.
pub const OWN_FAMILIES: &[&str] = &[
    "gpu_up",
    "gpu_energy_consumption_joules_total",
    "gpu_ecc_uncorrected_errors_volatile_total",
    "gpu_clocks_event_reasons",
    "gpu_sm_active_ratio",
    "gpu_sm_occupancy_ratio",
    "gpu_tensor_active_ratio",
    "gpu_dram_active_ratio",
    "gpu_fp16_active_ratio",
    "gpu_fp32_active_ratio",
    "gpu_fp64_active_ratio",
    "process_training_step",
    "process_training_steps_per_second",
    "process_training_seconds_since_last_step",
    "nvitop_exporter_collect_duration_seconds",
    "nvitop_exporter_last_collect_timestamp_seconds",
];

/// Every family for `readings`, labelled with `hostname`.
///
/// ```
/// use nvitop_exporter::{collect::Source, metrics::families};
/// let readings = Source::open(Some("h100x8"), None).unwrap().read();
/// let families = families(&readings, "node1");
/// let util = families.iter().find(|f| f.name == "gpu_utilization_Percentage").unwrap();
/// assert_eq!(util.samples.len(), 8);
/// ```
pub fn families(readings: &Readings, hostname: &str) -> Vec<Family> {
    let mut out = Vec::with_capacity(80);
    out.push(info(readings, hostname));
    host_families(readings, hostname, &mut out);
    gpu_families(&readings.gpus, hostname, &mut out);
    process_families(&readings.processes, hostname, &mut out);
    own_families(readings, hostname, &mut out);
    out
}

fn info(readings: &Readings, hostname: &str) -> Family {
    let mut family = Family::new("nvitop", "NVITOP Prometheus Exporter.", Kind::Info);
    let na = || "N/A".to_owned();
    family.push(
        vec![
            ("hostname", hostname.to_owned()),
            ("device_count", readings.device_count.to_string()),
            ("driver_version", readings.driver_version.clone().unwrap_or_else(na)),
            (
                "cuda_driver_version",
                readings.cuda_driver_version.clone().unwrap_or_else(na),
            ),
        ],
        Some(1.0),
    );
    family
}

fn host_families(readings: &Readings, hostname: &str, out: &mut Vec<Family>) {
    let host = &readings.host;
    let labels = || vec![("hostname", hostname.to_owned())];
    let mut gauge = |name, help, value: Option<f64>| {
        let mut family = Family::new(name, help, Kind::Gauge);
        family.push(labels(), value);
        out.push(family);
    };
    let mib = |bytes: u64| Some(bytes as f64 / MIB);
    gauge("host_uptime_Second", "Host uptime (s).", host.uptime_seconds);
    gauge(
        "host_cpu_percent_Percentage",
        "Host CPU percent (%).",
        Some(host.cpu_percent),
    );
    gauge(
        "host_virtual_memory_total_MiB",
        "Host virtual memory total (MiB).",
        mib(host.memory_total),
    );
    gauge(
        "host_virtual_memory_used_MiB",
        "Host virtual memory used (MiB).",
        mib(host.memory_used),
    );
    gauge(
        "host_virtual_memory_free_MiB",
        "Host virtual memory free (MiB).",
        mib(host.memory_free),
    );
    gauge(
        "host_virtual_memory_percent_Percentage",
        "Host virtual memory percent (%).",
        Some(round1(host.memory_percent)),
    );
    gauge(
        "host_swap_memory_total_MiB",
        "Host swap total (MiB).",
        mib(host.swap_total),
    );
    gauge(
        "host_swap_memory_used_MiB",
        "Host swap used (MiB).",
        mib(host.swap_used),
    );
    gauge(
        "host_swap_memory_free_MiB",
        "Host swap free (MiB).",
        mib(host.swap_free),
    );
    gauge(
        "host_swap_memory_percent_Percentage",
        "Host swap percent (%).",
        Some(round1(host.swap_percent)),
    );
    let load = host.load_average;
    gauge(
        "host_load_average_1m_Percentage",
        "Host load average for the last minute.",
        load.map(|l| l.0),
    );
    gauge(
        "host_load_average_5m_Percentage",
        "Host load average for the last 5 minutes.",
        load.map(|l| l.1),
    );
    gauge(
        "host_load_average_15m_Percentage",
        "Host load average for the last 15 minutes.",
        load.map(|l| l.2),
    );

    let net: [(&'static str, &'static str, NetField); 4] = [
        (
            "host_net_io_tx_data_MiB",
            "Host network I/O transmitted data (MiB).",
            |n| n.tx_bytes as f64 / MIB,
        ),
        (
            "host_net_io_rx_data_MiB",
            "Host network I/O received data (MiB).",
            |n| n.rx_bytes as f64 / MIB,
        ),
        (
            "host_net_io_tx_packets_Packet",
            "Host network I/O transmitted packets.",
            |n| n.tx_packets as f64,
        ),
        (
            "host_net_io_rx_packets_Packet",
            "Host network I/O received packets.",
            |n| n.rx_packets as f64,
        ),
    ];
    for (name, help, value) in net {
        let mut family = Family::new(name, help, Kind::Gauge);
        for nic in &host.network {
            family.push(
                vec![("hostname", hostname.to_owned()), ("interface", nic.interface.clone())],
                Some(value(nic)),
            );
        }
        out.push(family);
    }
    let disk: [(&'static str, &'static str, DiskField); 2] = [
        ("host_disk_io_read_data_MiB", "Host disk I/O read data (MiB).", |d| {
            d.read_bytes
        }),
        ("host_disk_io_write_data_MiB", "Host disk I/O write data (MiB).", |d| {
            d.write_bytes
        }),
    ];
    for (name, help, value) in disk {
        let mut family = Family::new(name, help, Kind::Gauge);
        for d in &host.disks {
            family.push(
                vec![("hostname", hostname.to_owned()), ("partition", d.name.clone())],
                mib(value(d)),
            );
        }
        out.push(family);
    }
    let usage: [(&'static str, &'static str, UsageField); 4] = [
        ("host_disk_usage_total_MiB", "Host disk usage total (MiB).", |u| {
            u.total as f64 / MIB
        }),
        ("host_disk_usage_used_MiB", "Host disk usage used (MiB).", |u| {
            u.used as f64 / MIB
        }),
        ("host_disk_usage_free_MiB", "Host disk usage free (MiB).", |u| {
            u.free as f64 / MIB
        }),
        (
            "host_disk_usage_percent_Percentage",
            "Host disk usage percent (%).",
            |u| u.percent,
        ),
    ];
    for (name, help, value) in usage {
        let mut family = Family::new(name, help, Kind::Gauge);
        for u in &host.disk_usage {
            family.push(
                vec![("hostname", hostname.to_owned()), ("mountpoint", u.mountpoint.clone())],
                Some(value(u)),
            );
        }
        out.push(family);
    }
}

/// The labels of a GPU series.
fn gpu_labels(hostname: &str, gpu: &GpuReadings) -> Vec<(&'static str, String)> {
    vec![
        ("hostname", hostname.to_owned()),
        ("index", gpu.index.clone()),
        ("devicename", gpu.name.clone()),
        ("uuid", gpu.uuid.clone()),
    ]
}

type GpuField = fn(&GpuReadings) -> Option<f64>;
type NetField = fn(&crate::readings::NetworkCounters) -> f64;
type DiskField = fn(&crate::readings::DiskCounters) -> u64;
type UsageField = fn(&crate::readings::DiskUsage) -> f64;

/// The compatible per-GPU gauges: name, help, value.
const GPU_GAUGES: &[(&str, &str, GpuField)] = &[
    ("gpu_utilization_Percentage", "GPU utilization (%).", |g| g.utilization),
    (
        "gpu_memory_utilization_Percentage",
        "GPU memory utilization (%).",
        |g| g.memory_utilization,
    ),
    (
        "gpu_encoder_utilization_Percentage",
        "GPU encoder utilization (%).",
        |g| g.encoder_utilization,
    ),
    (
        "gpu_decoder_utilization_Percentage",
        "GPU decoder utilization (%).",
        |g| g.decoder_utilization,
    ),
    ("gpu_memory_total_MiB", "GPU memory total (MiB).", |g| {
        g.memory_total.map(|b| b as f64 / MIB)
    }),
    ("gpu_memory_used_MiB", "GPU memory used (MiB).", |g| {
        g.memory_used.map(|b| b as f64 / MIB)
    }),
    ("gpu_memory_free_MiB", "GPU memory free (MiB).", |g| {
        g.memory_free.map(|b| b as f64 / MIB)
    }),
    ("gpu_memory_percent_Percentage", "GPU memory percent (%).", |g| {
        g.memory_percent.map(round1)
    }),
    ("gpu_clock_sm_MHz", "GPU SM clock (MHz).", |g| g.clock_sm),
    ("gpu_clock_memory_MHz", "GPU memory clock (MHz).", |g| g.clock_memory),
    ("gpu_clock_graphics_MHz", "GPU graphics clock (MHz).", |g| {
        g.clock_graphics
    }),
    ("gpu_clock_video_MHz", "GPU video clock (MHz).", |g| g.clock_video),
    ("gpu_power_usage_W", "GPU power usage (W).", |g| {
        g.power_usage_mw.map(|mw| mw / 1000.0)
    }),
    ("gpu_power_limit_W", "GPU power limit (W).", |g| {
        g.power_limit_mw.map(|mw| mw / 1000.0)
    }),
    ("gpu_temperature_C", "GPU temperature (C).", |g| g.temperature),
    ("gpu_fan_speed_Percentage", "GPU fan speed (%).", |g| g.fan_speed),
    (
        "gpu_pcie_tx_throughput_MiBps",
        "GPU PCIe transmit throughput (MiB/s).",
        |g| g.pcie_tx_kibps.map(|k| k / 1024.0),
    ),
    (
        "gpu_pcie_rx_throughput_MiBps",
        "GPU PCIe receive throughput (MiB/s).",
        |g| g.pcie_rx_kibps.map(|k| k / 1024.0),
    ),
];

/// Rounded to one decimal, as nvitop shows percentages.
fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn gpu_families(gpus: &[GpuReadings], hostname: &str, out: &mut Vec<Family>) {
    for &(name, help, value) in GPU_GAUGES {
        let mut family = Family::new(name, help, Kind::Gauge);
        // A lost GPU's series stop (no sample) rather than turn to NaN;
        // `gpu_up` says why.
        for gpu in gpus.iter().filter(|g| g.up) {
            family.push(gpu_labels(hostname, gpu), value(gpu));
        }
        out.push(family);
    }
    nvlink_families(gpus, hostname, out);
    gpm_families(gpus, hostname, out);
}

type GpmField = fn(&GpmReadings) -> Option<f64>;

/// GPM activity, as ratios (0-1) like DCGM's profiling fields (named in
/// the help), over the interval since the previous pass.
const GPM_GAUGES: &[(&str, &str, GpmField)] = &[
    (
        "gpu_sm_active_ratio",
        "Fraction of time at least one warp was resident on an SM, averaged over SMs, since the previous pass (GPM; like DCGM_FI_PROF_SM_ACTIVE).",
        |g| g.sm_active,
    ),
    (
        "gpu_sm_occupancy_ratio",
        "Resident warps over the maximum, averaged over SMs, since the previous pass (GPM; like DCGM_FI_PROF_SM_OCCUPANCY).",
        |g| g.sm_occupancy,
    ),
    (
        "gpu_tensor_active_ratio",
        "Fraction of time any tensor pipe was active since the previous pass (GPM; like DCGM_FI_PROF_PIPE_TENSOR_ACTIVE).",
        |g| g.tensor_active,
    ),
    (
        "gpu_dram_active_ratio",
        "DRAM bandwidth used over peak since the previous pass (GPM; like DCGM_FI_PROF_DRAM_ACTIVE).",
        |g| g.dram_active,
    ),
    (
        "gpu_fp16_active_ratio",
        "Fraction of time the FP16 pipe was active since the previous pass (GPM; like DCGM_FI_PROF_PIPE_FP16_ACTIVE).",
        |g| g.fp16_active,
    ),
    (
        "gpu_fp32_active_ratio",
        "Fraction of time the FP32 pipe was active since the previous pass (GPM; like DCGM_FI_PROF_PIPE_FP32_ACTIVE).",
        |g| g.fp32_active,
    ),
    (
        "gpu_fp64_active_ratio",
        "Fraction of time the FP64 pipe was active since the previous pass (GPM; like DCGM_FI_PROF_PIPE_FP64_ACTIVE).",
        |g| g.fp64_active,
    ),
];

/// GPM families: a GPU without GPM (or a metric its driver does not give)
/// has no sample, never a copy of `gpu_utilization_Percentage`.
fn gpm_families(gpus: &[GpuReadings], hostname: &str, out: &mut Vec<Family>) {
    for &(name, help, value) in GPM_GAUGES {
        let mut family = Family::new(name, help, Kind::Gauge);
        for gpu in gpus.iter().filter(|g| g.up) {
            let ratio = gpu.gpm.as_ref().and_then(value).map(|percent| percent / 100.0);
            family.push(gpu_labels(hostname, gpu), ratio);
        }
        out.push(family);
    }
}

type LinkField = fn(&LinkThroughput) -> f64;

/// `NVLink` throughput as nvitop-exporter 1.7.2 serves it: per device the
/// sum and the mean over its links, and per link (label `link`), MiB/s.
fn nvlink_families(gpus: &[GpuReadings], hostname: &str, out: &mut Vec<Family>) {
    let directions: [(&str, LinkField); 2] = [("tx", |l| l.tx_kibps), ("rx", |l| l.rx_kibps)];
    let up = || gpus.iter().filter(|g| g.up);
    for kind in ["total", "mean"] {
        for (direction, value) in directions {
            let (name, help) = nvlink_name(Some(kind), direction);
            let mut family = Family::new(name, help, Kind::Gauge);
            for gpu in up() {
                let figure = gpu.nvlink.as_ref().filter(|links| !links.is_empty()).map(|links| {
                    let total: f64 = links.iter().map(value).sum::<f64>() / 1024.0;
                    if kind == "total" {
                        total
                    } else {
                        total / links.len() as f64
                    }
                });
                family.push(gpu_labels(hostname, gpu), figure);
            }
            out.push(family);
        }
    }
    for (direction, value) in directions {
        let (name, help) = nvlink_name(None, direction);
        let mut family = Family::new(name, help, Kind::Gauge);
        for gpu in up() {
            for link in gpu.nvlink.iter().flatten() {
                let mut labels = gpu_labels(hostname, gpu);
                labels.push(("link", link.link.to_string()));
                family.push(labels, Some(value(link) / 1024.0));
            }
        }
        out.push(family);
    }
}

/// Name and help of an `NVLink` family: `aggregate` is `total` or `mean`
/// (`None`: per link), `direction` `tx` or `rx`.
fn nvlink_name(aggregate: Option<&str>, direction: &str) -> (&'static str, &'static str) {
    match (aggregate, direction) {
        (Some("total"), "tx") => (
            "gpu_nvlink_total_tx_throughput_MiBps",
            "GPU total NVLink transmit throughput (MiB/s).",
        ),
        (Some("total"), _) => (
            "gpu_nvlink_total_rx_throughput_MiBps",
            "GPU total NVLink receive throughput (MiB/s).",
        ),
        (Some(_), "tx") => (
            "gpu_nvlink_mean_tx_throughput_MiBps",
            "GPU mean NVLink transmit throughput (MiB/s).",
        ),
        (Some(_), _) => (
            "gpu_nvlink_mean_rx_throughput_MiBps",
            "GPU mean NVLink receive throughput (MiB/s).",
        ),
        (None, "tx") => (
            "gpu_nvlink_tx_throughput_MiBps",
            "GPU NVLink transmit throughput (MiB/s).",
        ),
        (None, _) => (
            "gpu_nvlink_rx_throughput_MiBps",
            "GPU NVLink receive throughput (MiB/s).",
        ),
    }
}

type ProcessField = fn(&ProcessReadings) -> Option<f64>;

/// The compatible per-process gauges after `process_info`.
const PROCESS_GAUGES: &[(&str, &str, ProcessField)] = &[
    ("process_running_time_Second", "Process running time (s).", |p| {
        p.host.as_ref().map(|h| h.running_time_seconds)
    }),
    ("process_cpu_percent_Percentage", "Process CPU percent (%).", |p| {
        p.host.as_ref().map(|h| h.cpu_percent)
    }),
    (
        "process_rss_memory_MiB",
        "Process memory resident set size (MiB).",
        |p| p.host.as_ref().map(|h| h.rss as f64 / MIB),
    ),
    (
        "process_memory_percent_Percentage",
        "Process memory percent (%).",
        |p| p.host.as_ref().map(|h| h.memory_percent),
    ),
    ("process_gpu_memory_MiB", "Process GPU memory (MiB).", |p| {
        p.gpu_memory.map(|b| b as f64 / MIB)
    }),
    (
        "process_gpu_sm_utilization_Percentage",
        "Process GPU SM utilization (%).",
        |p| p.gpu_sm_utilization,
    ),
    (
        "process_gpu_memory_utilization_Percentage",
        "Process GPU memory utilization (%).",
        |p| p.gpu_memory_utilization,
    ),
    (
        "process_gpu_encoder_utilization_Percentage",
        "Process GPU encoder utilization (%).",
        |p| p.gpu_encoder_utilization,
    ),
    (
        "process_gpu_decoder_utilization_Percentage",
        "Process GPU decoder utilization (%).",
        |p| p.gpu_decoder_utilization,
    ),
];

fn process_labels(hostname: &str, p: &ProcessReadings) -> Vec<(&'static str, String)> {
    vec![
        ("hostname", hostname.to_owned()),
        ("index", p.device_index.clone()),
        ("devicename", p.device_name.clone()),
        ("uuid", p.device_uuid.clone()),
        ("pid", p.pid.to_string()),
        ("username", p.username.clone()),
    ]
}

fn process_families(processes: &[ProcessReadings], hostname: &str, out: &mut Vec<Family>) {
    // A process that exited is not in this pass's readings, so its series
    // end here: the families are rebuilt from each pass.
    let mut info = Family::new("process_info", "Process information.", Kind::Info);
    for p in processes {
        if let Some(host) = &p.host {
            let mut labels = process_labels(hostname, p);
            labels.push(("status", host.status.clone()));
            labels.push(("command", host.command.clone()));
            info.push(labels, Some(1.0));
        }
    }
    out.push(info);
    for &(name, help, value) in PROCESS_GAUGES.iter().chain(TRAINING_GAUGES) {
        let mut family = Family::new(name, help, Kind::Gauge);
        for p in processes {
            family.push(process_labels(hostname, p), value(p));
        }
        out.push(family);
    }
}

/// A training process's status record (`nvitop::training`), with the
/// process labels; a process without a record has no sample.
const TRAINING_GAUGES: &[(&str, &str, ProcessField)] = &[
    (
        "process_training_step",
        "Last training step the process's GpuStatsLogger reported.",
        |p| p.training.map(|t| t.step as f64),
    ),
    (
        "process_training_steps_per_second",
        "Training steps per second over the last minute.",
        |p| p.training.and_then(|t| t.steps_per_second),
    ),
    (
        "process_training_seconds_since_last_step",
        "Seconds since the training loop's last logger hook (a stalled run grows).",
        |p| p.training.map(|t| t.seconds_since_last_step),
    ),
];

fn own_families(readings: &Readings, hostname: &str, out: &mut Vec<Family>) {
    let mut up = Family::new(
        "gpu_up",
        "Whether the GPU answered the last pass (0: fallen off the bus; its other series stop).",
        Kind::Gauge,
    );
    let mut energy = Family::new(
        "gpu_energy_consumption_joules",
        "Energy the GPU consumed since the driver was loaded (J).",
        Kind::Counter,
    );
    let mut ecc = Family::new(
        "gpu_ecc_uncorrected_errors_volatile",
        "Uncorrected ECC errors since the driver was loaded.",
        Kind::Counter,
    );
    for gpu in &readings.gpus {
        up.push(gpu_labels(hostname, gpu), Some(if gpu.up { 1.0 } else { 0.0 }));
        if gpu.up {
            energy.push(gpu_labels(hostname, gpu), gpu.energy_mj.map(|mj| mj as f64 / 1000.0));
            ecc.push(
                gpu_labels(hostname, gpu),
                gpu.ecc_uncorrected_volatile.map(|n| n as f64),
            );
        }
    }
    out.extend([up, energy, ecc, clock_event_reasons(&readings.gpus, hostname)]);
    let mut duration = Family::new(
        "nvitop_exporter_collect_duration_seconds",
        "How long the last collection pass took (s).",
        Kind::Gauge,
    );
    duration.push(vec![("hostname", hostname.to_owned())], Some(readings.pass_seconds));
    let mut last = Family::new(
        "nvitop_exporter_last_collect_timestamp_seconds",
        "When the last collection pass ended (s since the Unix epoch); scrapes serve its figures.",
        Kind::Gauge,
    );
    last.push(vec![("hostname", hostname.to_owned())], Some(readings.timestamp));
    out.extend([duration, last]);
}

/// One gauge per GPU and clock event (throttle) reason NVML defines: 1
/// while the reason holds, 0 otherwise, so `sum by (reason)` counts the
/// GPUs each reason slows and a graph per reason shows when it started.
fn clock_event_reasons(gpus: &[GpuReadings], hostname: &str) -> Family {
    let mut family = Family::new(
        "gpu_clocks_event_reasons",
        "Why the GPU clocks are below their maximum: 1 while the reason holds (NVML clocks event reasons, formerly throttle reasons).",
        Kind::Gauge,
    );
    for gpu in gpus.iter().filter(|g| g.up) {
        let Some(bits) = gpu.clock_event_reasons else {
            continue;
        };
        let reasons = ClockEventReasons::from_bits(bits);
        for (reason, name) in ClockEventReasons::ALL {
            let mut labels = gpu_labels(hostname, gpu);
            labels.push(("reason", name.to_owned()));
            family.push(labels, Some(if reasons.contains(reason) { 1.0 } else { 0.0 }));
        }
    }
    family
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::readings::ProcessHostReadings;

    fn gpu(index: &str, up: bool) -> GpuReadings {
        GpuReadings {
            index: index.into(),
            name: "NVIDIA H100 80GB HBM3".into(),
            uuid: format!("GPU-{index}"),
            up,
            utilization: Some(90.0),
            fan_speed: None,
            energy_mj: Some(1_500),
            ..GpuReadings::default()
        }
    }

    fn find<'a>(families: &'a [Family], name: &str) -> &'a Family {
        families.iter().find(|f| f.sample_name() == name).unwrap()
    }

    #[test]
    fn lost_gpu_keeps_only_its_up_series_at_zero() {
        let readings = Readings {
            gpus: vec![gpu("0", true), gpu("1", false)],
            ..Readings::default()
        };
        let families = families(&readings, "h");
        assert_eq!(find(&families, "gpu_utilization_Percentage").samples.len(), 1);
        let up = find(&families, "gpu_up");
        assert_eq!(up.samples.iter().map(|s| s.value).collect::<Vec<_>>(), [1.0, 0.0]);
        assert_eq!(up.samples[1].labels[3], ("uuid", "GPU-1".to_owned()));
        assert_eq!(find(&families, "gpu_energy_consumption_joules_total").samples.len(), 1);
        assert!((find(&families, "gpu_energy_consumption_joules_total").samples[0].value - 1.5).abs() < 1e-12);
    }

    #[test]
    fn not_available_has_no_sample_but_the_family_stays() {
        let readings = Readings {
            gpus: vec![gpu("0", true)],
            ..Readings::default()
        };
        let families = families(&readings, "h");
        assert!(find(&families, "gpu_fan_speed_Percentage").samples.is_empty());
    }

    #[test]
    fn process_series_follow_the_readings() {
        let process = |pid| ProcessReadings {
            device_index: "0".into(),
            pid,
            username: "alice".into(),
            host: Some(ProcessHostReadings {
                command: "python train.py".into(),
                ..Default::default()
            }),
            gpu_memory: Some(1 << 30),
            ..ProcessReadings::default()
        };
        let two = families(
            &Readings {
                processes: vec![process(10), process(11)],
                ..Readings::default()
            },
            "h",
        );
        assert_eq!(find(&two, "process_gpu_memory_MiB").samples.len(), 2);
        assert!((find(&two, "process_gpu_memory_MiB").samples[0].value - 1024.0).abs() < 1e-9);
        let one = families(
            &Readings {
                processes: vec![process(11)],
                ..Readings::default()
            },
            "h",
        );
        let info = find(&one, "process_info_info");
        assert_eq!(info.samples.len(), 1);
        assert!(info.samples[0].labels.contains(&("pid", "11".to_owned())));
        assert!(
            info.samples[0]
                .labels
                .contains(&("command", "python train.py".to_owned()))
        );
    }

    #[test]
    fn nvlink_totals_means_and_links_in_mib_per_second() {
        let mut nvlink = gpu("0", true);
        nvlink.nvlink = Some(vec![
            LinkThroughput {
                link: 0,
                tx_kibps: 1024.0,
                rx_kibps: 2048.0,
            },
            LinkThroughput {
                link: 1,
                tx_kibps: 3072.0,
                rx_kibps: 0.0,
            },
        ]);
        let pcie = gpu("1", true); // no NVLink: no samples
        let readings = Readings {
            gpus: vec![nvlink, pcie],
            ..Readings::default()
        };
        let families = families(&readings, "h");
        let values = |name: &str| -> Vec<f64> { find(&families, name).samples.iter().map(|s| s.value).collect() };
        assert_eq!(values("gpu_nvlink_total_tx_throughput_MiBps"), [4.0]);
        assert_eq!(values("gpu_nvlink_mean_tx_throughput_MiBps"), [2.0]);
        assert_eq!(values("gpu_nvlink_total_rx_throughput_MiBps"), [2.0]);
        assert_eq!(values("gpu_nvlink_mean_rx_throughput_MiBps"), [1.0]);
        assert_eq!(values("gpu_nvlink_tx_throughput_MiBps"), [1.0, 3.0]);
        let link = &find(&families, "gpu_nvlink_rx_throughput_MiBps").samples[1];
        assert_eq!(link.labels.last().unwrap(), &("link", "1".to_owned()));
    }

    #[test]
    fn clock_event_reasons_one_gauge_per_reason() {
        let mut capped = gpu("0", true);
        capped.clock_event_reasons = Some(ClockEventReasons::SW_POWER_CAP.bits());
        let mut lost = gpu("1", false);
        lost.clock_event_reasons = Some(1);
        let readings = Readings {
            gpus: vec![capped, lost, gpu("2", true)],
            ..Readings::default()
        };
        let families = families(&readings, "h");
        let samples = &find(&families, "gpu_clocks_event_reasons").samples;
        assert_eq!(samples.len(), ClockEventReasons::ALL.len(), "only GPU 0 says");
        let on: Vec<&str> = samples
            .iter()
            .filter(|s| s.value > 0.5)
            .map(|s| s.labels.last().unwrap().1.as_str())
            .collect();
        assert_eq!(on, ["sw_power_cap"]);
    }

    fn samples_of<'a>(families: &'a [Family], name: &str) -> &'a [Sample] {
        &families.iter().find(|f| f.name == name).unwrap().samples
    }

    #[test]
    fn gpm_percentages_become_ratios_and_unsupported_metrics_have_no_sample() {
        let mut hopper = gpu("0", true);
        hopper.gpm = Some(GpmReadings {
            sm_active: Some(71.5),
            tensor_active: Some(40.0),
            fp64_active: None,
            ..GpmReadings::default()
        });
        let ampere = gpu("1", true); // no GPM: no sample, not a copy of utilization
        let readings = Readings {
            gpus: vec![hopper, ampere],
            ..Readings::default()
        };
        let families = families(&readings, "h");
        let sm = samples_of(&families, "gpu_sm_active_ratio");
        assert_eq!(sm.len(), 1);
        assert_eq!(sm[0].labels[1], ("index", "0".to_owned()));
        assert!((sm[0].value - 0.715).abs() < 1e-12);
        assert!((samples_of(&families, "gpu_tensor_active_ratio")[0].value - 0.4).abs() < 1e-12);
        assert!(samples_of(&families, "gpu_fp64_active_ratio").is_empty());
        assert!(samples_of(&families, "gpu_dram_active_ratio").is_empty());
    }

    #[test]
    fn training_series_exist_only_for_processes_with_a_record() {
        let trainer = ProcessReadings {
            device_index: "0".into(),
            pid: 10,
            username: "alice".into(),
            training: Some(crate::readings::TrainingReadings {
                step: 1200,
                steps_per_second: None,
                seconds_since_last_step: 95.5,
            }),
            ..ProcessReadings::default()
        };
        let other = ProcessReadings {
            device_index: "0".into(),
            pid: 11,
            ..ProcessReadings::default()
        };
        let readings = Readings {
            processes: vec![trainer, other],
            ..Readings::default()
        };
        let families = families(&readings, "h");
        let step = samples_of(&families, "process_training_step");
        assert_eq!(step.len(), 1);
        assert!((step[0].value - 1200.0).abs() < 1e-9);
        assert!(step[0].labels.contains(&("pid", "10".to_owned())));
        assert!(step[0].labels.contains(&("username", "alice".to_owned())));
        // No rate yet: no sample (never NaN).
        assert!(samples_of(&families, "process_training_steps_per_second").is_empty());
        let stalled = samples_of(&families, "process_training_seconds_since_last_step");
        assert_eq!(stalled.len(), 1);
        assert!((stalled[0].value - 95.5).abs() < 1e-9);
    }

    #[test]
    fn own_families_are_named_in_the_list() {
        let names: Vec<String> = families(&Readings::default(), "h")
            .iter()
            .map(Family::sample_name)
            .collect();
        for own in OWN_FAMILIES {
            assert!(names.contains(&(*own).to_owned()), "{own}");
        }
    }
}

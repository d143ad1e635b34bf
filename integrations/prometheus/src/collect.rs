//! The one module that reads the SDK: it opens the backend the flags ask
//! for and turns each [`nvitop::Snapshot`] into [`Readings`].
//!
//! A pass runs on the collector thread ([`crate::publish`]), never on a
//! scrape: a slow driver makes the figures older, never a scrape slower.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use nvitop::backend::{Backend, ClockEventReasons, ClockKind, NvLinkCounters};
use nvitop::device::{GpmMetrics, GpmSampler};
use nvitop::global::{SIMULATE_ENV, backend_from_spec, simulate_spec};
use nvitop::process::HostProcessReader;
use nvitop::snapshot::SnapshotFields;
use nvitop::training::{ProcessIdentity, TrainingRecord};
use nvitop::{Device, DeviceSnapshot, ProcessSnapshot, Snapshot};

use crate::hostio;
use crate::readings::{
    GpmReadings, GpuReadings, HostReadings, LinkThroughput, ProcessHostReadings, ProcessReadings, Readings,
    TrainingReadings,
};

/// Why the exporter cannot start reading.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Bad input: a scenario that does not load, a device index that does not exist.
    #[error("{0}")]
    Usage(String),
    /// The driver is missing or does not answer (the SDK's message says what to do).
    #[error(transparent)]
    Driver(nvitop::Error),
}

impl SourceError {
    /// The process exit status: 2 for bad input, 1 for a missing driver.
    ///
    /// ```
    /// use nvitop_exporter::collect::SourceError;
    /// assert_eq!(SourceError::Usage("--only 9: no such GPU".into()).exit_code(), 2);
    /// ```
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Driver(_) => 1,
        }
    }
}

/// The devices to read and how to read them.
pub struct Source {
    backend: Arc<dyn Backend>,
    devices: Vec<Device>,
    /// Name and UUID of each device index seen answering, so a GPU that
    /// falls off the bus keeps its labels and its `gpu_up` series turns 0.
    identities: HashMap<String, (String, String)>,
    /// The exporter's own CPU windows: each pass's process %CPU covers the
    /// time since the previous pass, whoever else in the program reads the
    /// same processes.
    reader: HostProcessReader,
    /// Each physical GPU's `NVLink` counters at the previous pass, by
    /// index: a throughput is the difference to them.
    nvlink_before: HashMap<u32, NvLinkCounters>,
    /// The previous GPM sample of each physical GPU: each pass's activity
    /// covers the time since the previous pass, with no sleep of its own.
    /// `None` with `--no-gpm`.
    gpm: Option<GpmSampler>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("backend", &self.backend.kind())
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Opens the simulator when `simulate` (the `--simulate` value) or
    /// `NVITOP_SIMULATE` asks for it, otherwise the NVML driver; `only`
    /// restricts the devices by physical index.
    ///
    /// ```
    /// use nvitop_exporter::collect::Source;
    /// let mut source = Source::open(Some("h100x8"), Some(&[0, 2])).unwrap();
    /// let readings = source.read();
    /// assert_eq!(readings.device_count, 2);
    /// assert_eq!(readings.gpus[1].index, "2");
    /// ```
    ///
    /// # Errors
    /// [`SourceError::Usage`] for a bad scenario or index,
    /// [`SourceError::Driver`] when the driver is missing.
    pub fn open(simulate: Option<&str>, only: Option<&[u32]>) -> Result<Self, SourceError> {
        let env = std::env::var(SIMULATE_ENV).ok();
        let spec = simulate.or_else(|| simulate_spec(env.as_deref()));
        let backend = backend_from_spec(spec).map_err(|err| match err {
            nvitop::Error::Scenario(_) => SourceError::Usage(format!("--simulate {}: {err}", spec.unwrap_or_default())),
            other => SourceError::Driver(other),
        })?;
        Self::with_backend(backend, only)
    }

    /// Reads `backend` (for embedding and tests).
    ///
    /// # Errors
    /// As [`Source::open`].
    pub fn with_backend(backend: Arc<dyn Backend>, only: Option<&[u32]>) -> Result<Self, SourceError> {
        let devices = match only {
            Some(indices) => Device::from_indices_in(&backend, indices).map_err(|err| match err {
                nvitop::Error::InvalidIndex { index, .. } => SourceError::Usage(format!("--only {index}: {err}")),
                other => SourceError::Driver(other),
            })?,
            None => Device::all_in(&backend).map_err(SourceError::Driver)?,
        };
        // The CPU-usage window starts now, so the first pass need not wait for it.
        nvitop::host::prime();
        Ok(Self {
            backend,
            devices,
            identities: HashMap::new(),
            reader: HostProcessReader::new(),
            nvlink_before: HashMap::new(),
            gpm: Some(GpmSampler::new()),
        })
    }

    /// With (the default) or without GPM activity metrics. GPM and DCGM's
    /// profiling metrics share the GPU's hardware counters, so a node
    /// running `dcgm-exporter` profiling may turn GPM off (`--no-gpm`).
    ///
    /// ```
    /// use nvitop_exporter::collect::Source;
    /// let mut source = Source::open(Some("h100x8"), None).unwrap().with_gpm(false);
    /// source.read();
    /// std::thread::sleep(std::time::Duration::from_millis(150));
    /// assert!(source.read().gpus.iter().all(|g| g.gpm.is_none()));
    /// ```
    #[must_use]
    pub fn with_gpm(mut self, on: bool) -> Self {
        self.gpm = on.then(GpmSampler::new);
        self
    }

    /// Whether the GPUs are simulated.
    pub fn is_simulated(&self) -> bool {
        self.backend.is_simulated()
    }

    /// One line per device for the start-up log: `GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)`.
    pub fn describe(&self) -> Vec<String> {
        self.devices
            .iter()
            .map(|d| {
                format!(
                    "GPU {}: {} (UUID: {})",
                    d.display_index(),
                    d.name().unwrap_or_else(|| "N/A".into()),
                    d.uuid().unwrap_or_else(|| "N/A".into())
                )
            })
            .collect()
    }

    /// One pass: every device, its processes, the host. Never fails: a lost
    /// GPU is `up: false`, a field the driver does not give is `None`.
    pub fn read(&mut self) -> Readings {
        let started = Instant::now();
        // Every field, PCIe throughput included: it is exported (on a real
        // driver each reading takes 20 ms per GPU and direction, on this
        // thread, never on a scrape).
        let snapshot = Snapshot::take_with(&self.backend, &self.devices, SnapshotFields::all(), &mut self.reader);
        let video: Vec<Option<u32>> = self.devices.iter().map(|d| d.clock(ClockKind::Video)).collect();
        // NVLink counters (one driver read per GPU) and clock event reasons
        // are physical-GPU figures: a MIG device has neither.
        let nvlink: Vec<(u32, Option<NvLinkCounters>)> =
            self.devices.iter().map(|d| (d.index(), d.nvlink_counters())).collect();
        let reasons: Vec<Option<ClockEventReasons>> = self.devices.iter().map(Device::clock_event_reasons).collect();
        // GPM since the previous pass, per GPU and per MIG device (a GPU
        // instance sample, `nvmlGpmMigSampleGet`); `None` on the first pass
        // and without GPM.
        let gpm: Vec<PassGpm> = match &mut self.gpm {
            Some(sampler) => {
                let mut sampled = self.devices.clone();
                let gpm = self
                    .devices
                    .iter()
                    .zip(&snapshot.devices)
                    .map(|(d, snap)| {
                        // MIG handles are listed only for a GPU the snapshot
                        // found MIG devices on (no extra driver call otherwise).
                        let migs = if snap.mig_devices.is_empty() {
                            Vec::new()
                        } else {
                            d.mig_devices()
                                .into_iter()
                                .map(|m| {
                                    let metrics = (m.mig_index(), sampler.sample(&m));
                                    sampled.push(m.into_device());
                                    metrics
                                })
                                .collect()
                        };
                        (sampler.sample(d), migs)
                    })
                    .collect();
                // MIG devices gone (MIG reconfigured) free their samples.
                sampler.retain(&sampled);
                gpm
            }
            None => vec![(None, Vec::new()); self.devices.len()],
        };
        // Training status records, read once per pass (never on a scrape).
        let records = nvitop::training::read_all_records();
        let now = wall_now();
        let mut gpus = Vec::new();
        for ((((snap, video), (index, counters)), reasons), gpm) in
            snapshot.devices.iter().zip(video).zip(nvlink).zip(reasons).zip(gpm)
        {
            let mut gpu = self.gpu(snap, video);
            gpu.nvlink = self.nvlink_throughput(index, counters);
            gpu.clock_event_reasons = reasons.map(ClockEventReasons::bits);
            let (gpm, mig_gpm) = gpm;
            gpu.gpm = gpm.filter(|m| !m.is_empty()).map(gpm_readings);
            gpus.push(gpu);
            for mig in &snap.mig_devices {
                let mut readings = self.gpu(mig, None);
                // By MIG index: the same device the snapshot read.
                let metrics = mig_gpm
                    .iter()
                    .find(|(index, _)| Some(*index) == mig.mig_index)
                    .and_then(|(_, m)| *m);
                readings.gpm = metrics.filter(|m| !m.is_empty()).map(gpm_readings);
                gpus.push(readings);
            }
        }
        let labels: HashMap<&str, (&str, &str)> = gpus
            .iter()
            .map(|g| (g.index.as_str(), (g.name.as_str(), g.uuid.as_str())))
            .collect();
        let label = |index: &str| labels.get(index).copied().unwrap_or(("", ""));
        let mut processes: Vec<ProcessReadings> = Vec::with_capacity(snapshot.processes.len());
        for p in &snapshot.processes {
            let training = training_of(p, &records, now);
            let index = p.device_index.to_string();
            processes.push(process(p, &index, label(&index), training));
            // The driver lists a MIG device's processes on its parent GPU too,
            // and nvitop-exporter serves both rows; so do we, so that a
            // dashboard filtering on the parent's index sees them.
            if p.device_index.is_mig() {
                let parent = p.device_index.parent().to_string();
                processes.push(process(p, &parent, label(&parent), training));
            }
        }
        let host = host(&snapshot);
        Readings {
            driver_version: snapshot.driver_version,
            cuda_driver_version: snapshot.cuda_driver_version,
            device_count: self.devices.len(),
            host,
            gpus,
            processes,
            pass_seconds: started.elapsed().as_secs_f64(),
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }

    /// Per-link throughput of GPU `index` since the previous pass, keeping
    /// `now` for the next one; `None` without `NVLink` and on the first pass.
    fn nvlink_throughput(&mut self, index: u32, now: Option<NvLinkCounters>) -> Option<Vec<LinkThroughput>> {
        let Some(now) = now else {
            self.nvlink_before.remove(&index);
            return None;
        };
        let rates = self
            .nvlink_before
            .get(&index)
            .and_then(|before| now.throughput_since(before))
            .map(|links| {
                links
                    .into_iter()
                    .map(|l| LinkThroughput {
                        link: l.link,
                        tx_kibps: l.tx_kibps,
                        rx_kibps: l.rx_kibps,
                    })
                    .collect()
            });
        self.nvlink_before.insert(index, now);
        rates
    }

    fn gpu(&mut self, snap: &DeviceSnapshot, video_clock: Option<u32>) -> GpuReadings {
        let index = snap.display_index.to_string();
        if let (Some(name), Some(uuid)) = (&snap.name, &snap.uuid) {
            self.identities.insert(index.clone(), (name.clone(), uuid.clone()));
        }
        let (name, uuid) = self.identities.get(&index).cloned().unwrap_or_default();
        let f = |v: Option<u32>| v.map(f64::from);
        GpuReadings {
            index,
            name,
            uuid,
            up: !snap.is_failed(),
            utilization: f(snap.gpu_utilization),
            memory_utilization: f(snap.memory_utilization),
            encoder_utilization: f(snap.encoder_utilization),
            decoder_utilization: f(snap.decoder_utilization),
            memory_total: snap.memory_total,
            memory_used: snap.memory_used,
            memory_free: snap.memory_free,
            memory_percent: snap.memory_percent,
            clock_sm: f(snap.sm_clock),
            clock_memory: f(snap.memory_clock),
            clock_graphics: f(snap.graphics_clock),
            clock_video: f(video_clock),
            power_usage_mw: f(snap.power_usage),
            power_limit_mw: f(snap.power_limit),
            temperature: f(snap.temperature),
            fan_speed: f(snap.fan_speed),
            pcie_tx_kibps: f(snap.pcie_tx_throughput),
            pcie_rx_kibps: f(snap.pcie_rx_throughput),
            energy_mj: snap.total_energy_consumption,
            ecc_uncorrected_volatile: snap.total_volatile_uncorrected_ecc_errors,
            nvlink: None,
            clock_event_reasons: None,
            gpm: None,
        }
    }
}

fn host(snapshot: &Snapshot) -> HostReadings {
    let memory = nvitop::host::virtual_memory();
    let swap = nvitop::host::swap_memory();
    HostReadings {
        uptime_seconds: uptime(),
        cpu_percent: snapshot.host.cpu_percent,
        memory_total: memory.total,
        memory_used: memory.used,
        memory_free: memory.free,
        memory_percent: memory.percent,
        swap_total: swap.total,
        swap_used: swap.used,
        swap_free: swap.free,
        swap_percent: swap.percent,
        load_average: snapshot.host.load_average,
        network: hostio::network(),
        disks: hostio::disks(),
        disk_usage: hostio::disk_usage(),
    }
}

/// Seconds since boot with their fraction (`/proc/uptime`), the SDK's whole
/// seconds otherwise.
fn uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .or_else(|| nvitop::host::uptime().map(|s| s as f64))
}

/// One GPU's GPM in a pass: its own, and each MIG device's by MIG index.
type PassGpm = (Option<GpmMetrics>, Vec<(u32, Option<GpmMetrics>)>);

fn gpm_readings(m: GpmMetrics) -> GpmReadings {
    GpmReadings {
        sm_active: m.sm_active,
        sm_occupancy: m.sm_occupancy,
        tensor_active: m.tensor_active,
        dram_active: m.dram_active,
        fp16_active: m.fp16_active,
        fp32_active: m.fp32_active,
        fp64_active: m.fp64_active,
    }
}

/// Seconds since the Unix epoch, the clock status records are written on.
fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The training status of `p`, joined by pid and start time (a reused pid
/// has another start time, so it gets no record); `None` without host
/// details or without a record.
fn training_of(
    p: &ProcessSnapshot,
    records: &HashMap<ProcessIdentity, TrainingRecord>,
    now: f64,
) -> Option<TrainingReadings> {
    let host = p.host.as_ref()?;
    let record = records.get(&ProcessIdentity {
        pid: p.pid,
        start_ticks: host.start_ticks,
    })?;
    Some(TrainingReadings {
        step: record.step,
        steps_per_second: record.steps_per_second,
        seconds_since_last_step: record.seconds_since_last_hook_at(now),
    })
}

fn process(
    p: &ProcessSnapshot,
    device_index: &str,
    (device_name, device_uuid): (&str, &str),
    training: Option<TrainingReadings>,
) -> ProcessReadings {
    let f = |v: Option<u32>| v.map(f64::from);
    ProcessReadings {
        device_index: device_index.to_owned(),
        device_name: device_name.to_owned(),
        device_uuid: device_uuid.to_owned(),
        pid: p.pid,
        username: p
            .host
            .as_ref()
            .and_then(|h| h.username.clone())
            .unwrap_or_else(|| "N/A".into()),
        host: p.host.as_ref().map(|h| ProcessHostReadings {
            command: if h.cmdline.is_empty() {
                h.name.clone()
            } else {
                h.cmdline.join(" ")
            },
            status: status_name(&h.status).to_owned(),
            running_time_seconds: h.running_time as f64,
            cpu_percent: h.cpu_percent,
            memory_percent: h.memory_percent,
            rss: h.rss,
        }),
        gpu_memory: p.gpu_memory,
        gpu_sm_utilization: f(p.gpu_sm_utilization),
        gpu_memory_utilization: f(p.gpu_memory_utilization),
        gpu_encoder_utilization: f(p.gpu_encoder_utilization),
        gpu_decoder_utilization: f(p.gpu_decoder_utilization),
        training,
    }
}

/// The state word psutil (and so nvitop-exporter's `status` label) uses for
/// a `/proc/<pid>/stat` state letter.
///
/// ```
/// use nvitop_exporter::collect::status_name;
/// assert_eq!(status_name("S"), "sleeping");
/// assert_eq!(status_name("D"), "disk-sleep");
/// assert_eq!(status_name("?"), "?");
/// ```
pub fn status_name(letter: &str) -> &str {
    match letter {
        "R" => "running",
        "S" => "sleeping",
        "D" => "disk-sleep",
        "Z" => "zombie",
        "T" => "stopped",
        "t" => "tracing-stop",
        "X" | "x" => "dead",
        "K" => "wake-kill",
        "W" => "waking",
        "I" => "idle",
        "P" => "parked",
        other => other,
    }
}

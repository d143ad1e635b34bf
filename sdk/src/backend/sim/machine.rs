//! A scenario compiled into a machine: identities resolved (UUIDs, bus ids,
//! pids), workloads resolved, and the physics that turns load into power,
//! temperature, fan and clocks.

use super::models::ModelSpec;
use super::pids::{Binding, PidResolver};
use super::scenario::{FaultField, Scenario, default_bus_id};
use super::workload::{Channel, Workload, mix};
use crate::backend::{ComputeMode, PciBusId, ProcessKind, RawProcess};

const MIB: u64 = 1 << 20;

/// Seconds the simulated driver has been loaded before simulated time 0
/// (so the energy counter starts at a believable value).
const UPTIME_AT_ZERO_S: f64 = 3.0 * 86_400.0;

/// Memory a MIG device's driver context takes before any process, MiB.
const MIG_OVERHEAD_MIB: u64 = 13;

/// BAR1 aperture of a MIG instance with `memory_gb` of a `model`, MiB: the
/// board's aperture in proportion to the instance's memory slices, less 1
/// MiB, as the driver reports it (e.g. 32767 MiB for a 2g.20gb of an A100
/// 80GB, whose aperture is 128 GiB).
fn mig_bar1_mib(model: &ModelSpec, memory_gb: u32) -> u64 {
    let board_gb = model.memory_mib.div_ceil(1024).max(1);
    (model.bar1_mib * u64::from(memory_gb) / board_gb).clamp(1, model.bar1_mib) - 1
}

/// The whole simulated machine.
#[derive(Debug)]
pub struct Machine {
    /// Driver version.
    pub driver_version: String,
    /// CUDA driver version, NVML-encoded.
    pub cuda_driver_version: i32,
    /// Physical GPUs by index.
    pub gpus: Vec<SimGpu>,
}

/// One physical GPU.
#[derive(Debug)]
pub struct SimGpu {
    /// The model's fixed figures.
    pub model: ModelSpec,
    /// UUID (`GPU-...`).
    pub uuid: String,
    /// PCI bus id (`00000000:18:00.0`).
    pub bus_id: String,
    /// Persistence mode.
    pub persistence_mode: bool,
    /// Display active.
    pub display_active: bool,
    /// Compute mode.
    pub compute_mode: ComputeMode,
    /// Volatile uncorrected ECC errors.
    pub ecc_errors: u64,
    /// Load over time.
    pub workload: Workload,
    /// MIG devices (empty: MIG off).
    pub migs: Vec<SimMig>,
    /// Processes (on the GPU, or on its MIG devices).
    pub processes: Vec<SimProcess>,
    /// Queries answered with "not supported".
    pub not_supported: Vec<FaultField>,
    /// Process listing needs a permission the caller lacks.
    pub processes_no_permission: bool,
    /// Simulated second the GPU falls off the bus.
    pub lost_at: Option<f64>,
}

/// One MIG device.
#[derive(Debug)]
pub struct SimMig {
    /// Name (`NVIDIA A100-SXM4-80GB MIG 3g.40gb`).
    pub name: String,
    /// UUID (`MIG-...`).
    pub uuid: String,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// GPU instance id.
    pub gpu_instance_id: u32,
    /// BAR1 aperture of the instance, MiB.
    pub bar1_mib: u64,
    /// Compute slices of the instance's profile (the `3` of `3g.40gb`),
    /// out of [`MIG_COMPUTE_SLICES`].
    pub compute_slices: u32,
    /// The instance's own load over time, driving its GPM counters: the
    /// GPU's workload profile with a seed of its own, so instances move
    /// independently; it runs only while a process is bound to the
    /// instance ([`SimGpu::mig_busy`]).
    pub workload: Workload,
}

/// Compute slices of a whole MIG-capable GPU (A100, H100, H200, B200: seven
/// GPCs), the denominator of an instance's share of the SMs.
pub const MIG_COMPUTE_SLICES: u32 = 7;

/// One process with a context on a GPU.
#[derive(Debug, Clone)]
pub struct SimProcess {
    /// Host pid.
    pub pid: u32,
    /// GPU memory, bytes.
    pub memory: u64,
    /// Whether the driver reports the memory.
    pub memory_reported: bool,
    /// Context kind.
    pub kind: ProcessKind,
    /// Share of the GPU's SM load.
    pub sm_weight: f64,
    /// Encoder utilization, percent.
    pub encoder: u32,
    /// Decoder utilization, percent.
    pub decoder: u32,
    /// MIG device index.
    pub mig: Option<usize>,
    /// The host process the pid is bound to, when it can exit: the driver
    /// lists the process only while that one runs.
    pub binding: Option<Binding>,
}

impl Machine {
    /// Compiles `scenario`, binding pids through `pids`.
    pub fn build(scenario: &Scenario, pids: &PidResolver) -> Self {
        let gpus = scenario
            .gpus
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let model = spec.model.spec();
                let gpu_seed = mix(scenario.seed, index as u64 + 1);
                let migs: Vec<SimMig> = spec
                    .mig
                    .iter()
                    .enumerate()
                    .map(|(m, mig)| SimMig {
                        name: format!("{} MIG {}", model.name, mig.profile),
                        uuid: format!("MIG-{}", uuid_from(mix(gpu_seed, 0x1000 + m as u64))),
                        // Profiles name decimal-ish gigabytes; the driver
                        // reports a little less than the name promises.
                        memory_mib: u64::from(mig.profile.memory_gb) * 1004 / 64 * 64,
                        gpu_instance_id: m as u32 + 1,
                        bar1_mib: mig_bar1_mib(&model, mig.profile.memory_gb),
                        compute_slices: mig.profile.compute_slices,
                        workload: Workload::resolve(&spec.workload, true, mix(gpu_seed, 0x2000 + m as u64)),
                    })
                    .collect();
                let processes = spec
                    .processes
                    .iter()
                    .flat_map(|p| {
                        (0..p.count as usize).map(move |copy| {
                            let (pid, binding) = pids.bind(p.pid, copy);
                            SimProcess {
                                pid,
                                binding,
                                memory: p.memory_mib * MIB,
                                memory_reported: !p.memory_unavailable,
                                kind: p.kind.0,
                                sm_weight: p.sm_weight,
                                encoder: p.encoder,
                                decoder: p.decoder,
                                mig: p.mig,
                            }
                        })
                    })
                    .collect::<Vec<_>>();
                SimGpu {
                    uuid: spec
                        .uuid
                        .clone()
                        .unwrap_or_else(|| format!("GPU-{}", uuid_from(gpu_seed))),
                    // NVML's spelling, whatever the scenario's (validated to parse).
                    bus_id: spec
                        .bus_id
                        .as_deref()
                        .and_then(PciBusId::parse)
                        .unwrap_or_else(|| default_bus_id(index))
                        .to_string(),
                    persistence_mode: spec.persistence_mode.unwrap_or(model.datacenter),
                    display_active: spec.display_active,
                    compute_mode: spec.compute_mode.into(),
                    ecc_errors: spec.ecc_errors,
                    workload: Workload::resolve(&spec.workload, !processes.is_empty(), gpu_seed),
                    migs,
                    processes,
                    not_supported: spec.faults.not_supported.clone(),
                    processes_no_permission: spec.faults.processes_no_permission,
                    lost_at: spec.faults.lost_at,
                    model,
                }
            })
            .collect();
        Self {
            driver_version: scenario.driver_version.clone(),
            cuda_driver_version: scenario.cuda_driver_version.encoded(),
            gpus,
        }
    }
}

impl SimGpu {
    /// Whether the GPU has fallen off the bus at `t`.
    pub fn is_lost(&self, t: f64) -> bool {
        self.lost_at.is_some_and(|at| t >= at)
    }

    /// Whether a fault makes `field` unsupported.
    pub fn unsupported(&self, field: FaultField) -> bool {
        self.not_supported.contains(&field)
    }

    /// The processes holding a context now: those bound to a host process
    /// that has exited are gone, as their contexts are.
    pub fn live_processes(&self) -> impl Iterator<Item = &SimProcess> {
        self.processes
            .iter()
            .filter(|p| p.binding.as_ref().is_none_or(Binding::alive))
    }

    /// Whether MIG mode is on.
    pub fn mig_enabled(&self) -> bool {
        !self.migs.is_empty()
    }

    /// Whether MIG device `m` runs work: a live process bound to it with a
    /// non-zero SM weight. An instance nobody uses (or whose processes have
    /// all exited) is idle, whatever the GPU's workload profile says.
    pub fn mig_busy(&self, m: usize) -> bool {
        self.live_processes().any(|p| p.mig == Some(m) && p.sm_weight > 0.0)
    }

    /// GPU utilization, percent.
    pub fn gpu_util(&self, t: f64) -> u32 {
        self.workload.gpu_util(t).round() as u32
    }

    /// Memory-bandwidth utilization, percent.
    pub fn memory_util(&self, t: f64) -> u32 {
        self.workload.memory_util(t).round() as u32
    }

    /// Encoder utilization: the processes' own encoders when any has one.
    pub fn encoder(&self, t: f64) -> u32 {
        self.codec(|p| p.encoder, || self.workload.encoder(t))
    }

    /// Decoder utilization: the processes' own decoders when any has one.
    pub fn decoder(&self, t: f64) -> u32 {
        self.codec(|p| p.decoder, || self.workload.decoder(t))
    }

    /// Encoder or decoder utilization, percent: the sum of the processes'
    /// own (`own` picks the field) when any has one, else the workload's.
    fn codec(&self, own: impl Fn(&SimProcess) -> u32, workload: impl FnOnce() -> f64) -> u32 {
        let own: u32 = self.live_processes().map(own).sum();
        if own > 0 {
            own.min(100)
        } else {
            workload().round() as u32
        }
    }

    /// Watts drawn at full load.
    fn dynamic_range_w(&self) -> f64 {
        self.model.power_limit_w * 0.95 - self.model.idle_power_w
    }

    /// Power draw, milliwatts.
    pub fn power_mw(&self, t: f64) -> u32 {
        let w = self.model.idle_power_w + self.dynamic_range_w() * self.workload.gpu_util(t) / 100.0;
        (w * 1000.0).round() as u32
    }

    /// Power limit, milliwatts.
    pub fn power_limit_mw(&self) -> u32 {
        (self.model.power_limit_w * 1000.0).round() as u32
    }

    /// Energy since the driver loaded, millijoules (never decreasing):
    /// idle power over the driver's uptime, plus the dynamic power over the
    /// `elapsed` simulated seconds since the simulator started, given as
    /// `load`, the integral of `utilization.gpu` over them (percent-seconds,
    /// from [`super::energy::LoadIntegral`]). So the counter grows exactly
    /// as the integral of [`Self::power_mw`] (before its rounding to mW).
    pub fn energy_mj(&self, elapsed: f64, load: f64) -> u64 {
        let elapsed = elapsed.max(0.0);
        let joules =
            self.model.idle_power_w * (UPTIME_AT_ZERO_S + elapsed) + self.dynamic_range_w() * load.max(0.0) / 100.0;
        (joules * 1000.0) as u64
    }

    /// Temperature, °C: follows the smooth load with a lag, as a heat sink does.
    pub fn temperature(&self, t: f64) -> u32 {
        let load = self.workload.smooth_util(t - 8.0) / 100.0;
        (self.model.idle_temp_c + self.model.temp_rise_c * load).round() as u32
    }

    /// Fan speed, percent (boards with a fan only).
    pub fn fan_speed(&self, t: f64) -> u32 {
        let temp = f64::from(self.temperature(t));
        (30.0 + (temp - 35.0) * 1.6).clamp(30.0, 100.0).round() as u32
    }

    /// Whether a context holds the GPU in its top performance state.
    fn active(&self) -> bool {
        !self.processes.is_empty()
    }

    /// Performance state: P0 with a context, P8 idle.
    pub fn performance_state(&self) -> u32 {
        if self.active() { 0 } else { 8 }
    }

    /// Current clock, MHz.
    pub fn clock(&self, kind: crate::backend::ClockKind, t: f64) -> u32 {
        use crate::backend::ClockKind;
        let m = &self.model;
        let util = self.workload.gpu_util(t);
        let sm = if util > 0.0 {
            let f = 0.9 + 0.1 * util / 100.0;
            f64::from(m.idle_sm_mhz) + f * f64::from(m.max_sm_mhz - m.idle_sm_mhz)
        } else if self.active() {
            f64::from(m.idle_sm_mhz + m.max_sm_mhz) / 2.0
        } else {
            f64::from(m.idle_sm_mhz)
        };
        // Clocks move in 15 MHz steps on real boards.
        let sm = ((sm / 15.0).floor() * 15.0) as u32;
        match kind {
            ClockKind::Graphics | ClockKind::Sm => sm.min(m.max_sm_mhz),
            ClockKind::Memory => {
                if self.active() {
                    m.max_memory_mhz
                } else {
                    m.idle_memory_mhz
                }
            }
            ClockKind::Video => {
                if self.active() {
                    m.max_video_mhz * 4 / 5
                } else {
                    m.idle_sm_mhz * 2
                }
            }
        }
    }

    /// Maximum clock, MHz.
    pub fn max_clock(&self, kind: crate::backend::ClockKind) -> u32 {
        use crate::backend::ClockKind;
        match kind {
            ClockKind::Graphics | ClockKind::Sm => self.model.max_sm_mhz,
            ClockKind::Memory => self.model.max_memory_mhz,
            ClockKind::Video => self.model.max_video_mhz,
        }
    }

    /// PCIe throughput, KB/s.
    pub fn pcie(&self, rx: bool, t: f64) -> u32 {
        self.workload.pcie(rx, t).round() as u32
    }

    /// Total framebuffer memory, bytes.
    pub fn memory_total(&self) -> u64 {
        self.model.memory_mib * MIB
    }

    /// Used framebuffer memory, bytes.
    pub fn memory_used(&self) -> u64 {
        let used = if self.mig_enabled() {
            (0..self.migs.len()).map(|m| self.mig_memory_used(m)).sum::<u64>() + self.model.reserved_mib * MIB
        } else {
            self.model.reserved_mib * MIB + self.live_processes().map(|p| p.memory).sum::<u64>()
        };
        used.min(self.memory_total())
    }

    /// Total memory of MIG device `m`, bytes.
    pub fn mig_memory_total(&self, m: usize) -> u64 {
        self.migs.get(m).map_or(0, |mig| mig.memory_mib * MIB)
    }

    /// Used memory of MIG device `m`, bytes.
    pub fn mig_memory_used(&self, m: usize) -> u64 {
        let on_mig: u64 = self
            .live_processes()
            .filter(|p| p.mig == Some(m))
            .map(|p| p.memory)
            .sum();
        (MIG_OVERHEAD_MIB * MIB + on_mig).min(self.mig_memory_total(m))
    }

    /// BAR1 (total, used), bytes.
    pub fn bar1(&self) -> (u64, u64) {
        let total = self.model.bar1_mib * MIB;
        let used = (2 + 4 * self.live_processes().count() as u64) * MIB;
        (total, used.min(total))
    }

    /// BAR1 (total, used) of MIG device `m`, bytes: its share of the
    /// aperture, 2 MiB plus 4 MiB per process on it in use.
    pub fn mig_bar1(&self, m: usize) -> (u64, u64) {
        let total = self.migs.get(m).map_or(0, |mig| mig.bar1_mib * MIB);
        let on_mig = self.live_processes().filter(|p| p.mig == Some(m)).count() as u64;
        let used = (2 + 4 * on_mig) * MIB;
        (total, used.min(total))
    }

    /// The driver's process list: all processes, or those of MIG device
    /// `mig`; one entry per pid and MIG device (a pid listed twice has its
    /// memory summed and its kinds merged, as the driver reports one entry
    /// per process and instance).
    pub fn raw_processes(&self, mig: Option<usize>) -> Vec<RawProcess> {
        let mut out: Vec<RawProcess> = Vec::with_capacity(self.processes.len());
        let mut index: std::collections::HashMap<(u32, Option<usize>), usize> =
            std::collections::HashMap::with_capacity(self.processes.len());
        for p in self.live_processes().filter(|p| mig.is_none() || p.mig == mig) {
            let memory = p.memory_reported.then_some(p.memory);
            if let Some(&i) = index.get(&(p.pid, p.mig)) {
                let entry = &mut out[i];
                entry.kind = entry.kind.merge(p.kind);
                entry.used_gpu_memory = match (entry.used_gpu_memory, memory) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
                continue;
            }
            index.insert((p.pid, p.mig), out.len());
            out.push(RawProcess {
                pid: p.pid,
                used_gpu_memory: memory,
                kind: p.kind,
                gpu_instance_id: p.mig.and_then(|m| self.migs.get(m)).map(|m| m.gpu_instance_id),
                compute_instance_id: p.mig.map(|_| 0),
            });
        }
        out
    }

    /// Per-process (pid, sm %, memory %, encoder %, decoder %) at `t`: the
    /// GPU's load split by the processes' weights, with a little
    /// per-process jitter that keeps the sum at the GPU's figure.
    pub fn process_shares(&self, t: f64) -> Vec<(u32, u32, u32, u32, u32)> {
        let util = self.workload.gpu_util(t);
        let mem = self.workload.memory_util(t);
        // Only processes that still run get samples; each keeps its own
        // jitter (by its place in the scenario) whoever else exited.
        let live: Vec<(usize, &SimProcess)> = self
            .processes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.binding.as_ref().is_none_or(Binding::alive))
            .collect();
        let weights: Vec<f64> = live
            .iter()
            .map(|&(i, p)| {
                let jitter = 1.0 + 0.2 * noise(self.workload.seed, i as u64, t);
                p.sm_weight * jitter
            })
            .collect();
        let total: f64 = weights.iter().sum();
        live.iter()
            .zip(&weights)
            .map(|(&(_, p), w)| {
                let share = if total > 0.0 { w / total } else { 0.0 };
                (
                    p.pid,
                    (util * share).floor() as u32,
                    (mem * share).floor() as u32,
                    p.encoder,
                    p.decoder,
                )
            })
            .collect()
    }
}

/// Per-process noise in -1..1, constant within each simulated second.
fn noise(seed: u64, process: u64, t: f64) -> f64 {
    let h = mix(
        mix(seed, Channel::Process as u64),
        mix(process, t.floor() as i64 as u64),
    );
    super::workload::unit(h) * 2.0 - 1.0
}

/// A UUID body (`8-4-4-4-12` hex digits) from a hash.
fn uuid_from(seed: u64) -> String {
    let a = mix(seed, 1);
    let b = mix(seed, 2);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_look_like_uuids() {
        let u = uuid_from(3);
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_ne!(uuid_from(3), uuid_from(4));
    }

    #[test]
    fn mig_bar1_is_the_instance_share_of_the_aperture() {
        use super::super::models::GpuModel;
        let a100 = GpuModel::A100Sxm4_80gb.spec();
        // The figures nvidia-smi shows in its MIG table.
        assert_eq!(mig_bar1_mib(&a100, 20), 32_767);
        assert_eq!(mig_bar1_mib(&a100, 40), 65_535);
        assert_eq!(mig_bar1_mib(&a100, 10), 16_383);
        assert_eq!(mig_bar1_mib(&GpuModel::A100Sxm4_40gb.spec(), 5), 8_191);
        assert_eq!(mig_bar1_mib(&GpuModel::H100Sxm5_80gb.spec(), 10), 16_383);
    }

    #[test]
    fn bus_ids_are_distinct() {
        let ids: std::collections::HashSet<_> = (0..1000).map(default_bus_id).collect();
        assert_eq!(ids.len(), 1000);
        assert_eq!(default_bus_id(3).to_string(), "00000000:5D:00.0");
        assert_eq!(default_bus_id(15).to_string(), "00000000:F0:00.0");
    }
}

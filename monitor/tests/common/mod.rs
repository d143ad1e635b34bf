//! Fixed snapshots for the rendering tests: built in code so that they do
//! not depend on the host (pids, users, time) or on the simulator.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::assigning_clones,
    missing_docs
)]

use nvitop::backend::ProcessKind;
use nvitop::host::HostSnapshot;
use nvitop::{DeviceIndex, DeviceSnapshot, HostProcessInfo, ProcessSnapshot, Snapshot};
use nvitop_monitor::RenderOptions;

const MIB: u64 = 1 << 20;

/// A healthy device with every field set.
pub fn device(index: u32, name: &str, total_mib: u64, used_mib: u64, util: u32) -> DeviceSnapshot {
    let (total, used) = (total_mib * MIB, used_mib * MIB);
    let human = |b: u64| nvitop::format::bytes2human(b);
    let mut d = DeviceSnapshot::new(DeviceIndex::physical(index));
    d.name = Some(name.to_owned());
    d.uuid = Some(format!("GPU-{index:08x}-0000-0000-0000-000000000000"));
    d.bus_id = Some(format!("00000000:{:02X}:00.0", 0x18 + index * 0x10));
    d.memory_total = Some(total);
    d.memory_used = Some(used);
    d.memory_free = Some(total - used);
    d.memory_total_human = Some(human(total));
    d.memory_used_human = Some(human(used));
    d.memory_free_human = Some(human(total - used));
    d.memory_percent = Some(used as f64 * 100.0 / total as f64);
    d.memory_usage = Some(format!("{} / {}", human(used), human(total)));
    d.gpu_utilization = Some(util);
    d.memory_utilization = Some(util / 2);
    d.encoder_utilization = Some(0);
    d.decoder_utilization = Some(0);
    d.fan_speed = Some(30 + util / 4);
    d.temperature = Some(35 + util / 3);
    d.power_usage = Some(60_000 + util * 5_000);
    d.power_limit = Some(700_000);
    d.power_status = format!("{}W / 700W", 60 + util * 5);
    d.total_energy_consumption = Some(1_000_000);
    d.performance_state = Some(if util > 0 { "P0" } else { "P8" }.to_owned());
    d.persistence_mode = Some(true);
    d.display_active = Some(false);
    d.compute_mode = Some("Default".to_owned());
    d.total_volatile_uncorrected_ecc_errors = Some(0);
    d.mig_mode = Some(false);
    d.sm_clock = Some(1980);
    d.memory_clock = Some(2619);
    d.graphics_clock = Some(1980);
    d.max_sm_clock = Some(1980);
    d.max_memory_clock = Some(2619);
    d.pcie_tx_throughput = Some(1000);
    d.pcie_rx_throughput = Some(2000);
    d.pcie_tx_throughput_human = Some("1000KiB/s".into());
    d.pcie_rx_throughput_human = Some("2000KiB/s".into());
    d.cuda_compute_capability = Some((9, 0));
    d.error = None;
    d.mig_devices = Vec::new();
    d.gpm = None;
    d
}

/// A MIG device under `parent`.
pub fn mig(parent: u32, index: u32, profile: &str, total_mib: u64, used_mib: u64) -> DeviceSnapshot {
    let mut d = device(
        parent,
        &format!("NVIDIA A100-SXM4-80GB MIG {profile}"),
        total_mib,
        used_mib,
        0,
    );
    d.display_index = DeviceIndex::mig(parent, index);
    d.mig_index = Some(index);
    d.uuid = Some(format!("MIG-{parent:04x}{index:04x}-0000-0000-0000-000000000000"));
    for field in [
        &mut d.gpu_utilization,
        &mut d.memory_utilization,
        &mut d.fan_speed,
        &mut d.temperature,
    ] {
        *field = None;
    }
    d.power_usage = None;
    d.power_limit = None;
    d.power_status = "N/A / N/A".to_owned();
    d.mig_mode = None;
    d
}

/// A device as the SDK reports a lost GPU.
pub fn lost(index: u32) -> DeviceSnapshot {
    let mut d = device(index, "gone", 1, 0, 0);
    d.name = None;
    d.uuid = None;
    d.bus_id = None;
    d.memory_total = None;
    d.memory_used = None;
    d.memory_free = None;
    d.memory_total_human = None;
    d.memory_used_human = None;
    d.memory_free_human = None;
    d.memory_percent = None;
    d.memory_usage = None;
    d.gpu_utilization = None;
    d.memory_utilization = None;
    d.encoder_utilization = None;
    d.decoder_utilization = None;
    d.fan_speed = None;
    d.temperature = None;
    d.power_usage = None;
    d.power_limit = None;
    d.power_status = "N/A / N/A".to_owned();
    d.total_energy_consumption = None;
    d.performance_state = None;
    d.persistence_mode = None;
    d.display_active = None;
    d.compute_mode = None;
    d.total_volatile_uncorrected_ecc_errors = None;
    d.mig_mode = None;
    d.error = Some(format!(
        "GPU {index} is lost (GPU has fallen off the bus); reboot the machine to recover it"
    ));
    d
}

pub struct Proc<'a> {
    pub pid: u32,
    pub device: &'a str,
    pub kind: &'a str,
    pub user: Option<&'a str>,
    pub gpu_mib: Option<u64>,
    pub sm: Option<u32>,
    pub command: &'a str,
}

pub fn process(p: &Proc<'_>) -> ProcessSnapshot {
    // The fixtures write indices and types as nvitop prints them.
    let device_index: DeviceIndex = p.device.parse().unwrap();
    let kind = ProcessKind::from_label(p.kind).unwrap();
    let running = u64::from(p.pid % 9000) * 37;
    let host = p.user.map(|user| {
        let mut info = HostProcessInfo::new(p.pid, 1000);
        info.ppid = Some(1);
        info.name = p.command.split_whitespace().next().unwrap_or("").to_owned();
        info.cmdline = p.command.split_whitespace().map(str::to_owned).collect();
        info.command = p.command.to_owned();
        info.cwd = None;
        info.username = Some(user.to_owned());
        info.status = "R".to_owned();
        info.cpu_percent = f64::from(p.pid % 1000) / 7.0;
        info.memory_percent = f64::from(p.pid % 100) / 10.0;
        info.rss = 1 << 30;
        info.rss_human = "1024MiB".to_owned();
        info.create_time = 1_700_000_000;
        info.running_time = running;
        info.running_time_human = nvitop::format::timedelta2human(std::time::Duration::from_secs(running));
        info
    });
    let mut row = ProcessSnapshot::new(p.pid, device_index, kind);
    row.gpu_memory = p.gpu_mib.map(|m| m * MIB);
    row.gpu_memory_human = p.gpu_mib.map(|m| nvitop::format::bytes2human(m * MIB));
    row.gpu_memory_percent = None;
    row.gpu_sm_utilization = p.sm;
    row.gpu_memory_utilization = None;
    row.gpu_encoder_utilization = None;
    row.gpu_decoder_utilization = None;
    row.gpu_instance_id = None;
    row.compute_instance_id = None;
    row.host = host;
    row
}

pub fn host() -> HostSnapshot {
    let mut host = HostSnapshot::default();
    host.cpu_count = 64;
    // The panel shows 35.0: the host less the monitor's own 2.5.
    host.cpu_percent = 37.5;
    host.self_cpu_percent = 2.5;
    host.per_cpu_percent = vec![37.5; 64];
    host.load_average = Some((24.02, 23.5, 21.75));
    host.memory_total = 512 << 30;
    host.memory_used = 180 << 30;
    host.memory_available = 332 << 30;
    host.memory_percent = 35.15625;
    host.memory_usage_human = "184320MiB / 524288MiB".to_owned();
    host.swap_total = 8 << 30;
    host.swap_used = 0;
    host.swap_percent = 0.0;
    host.uptime = Some(86_400 * 3);
    host
}

fn base(devices: Vec<DeviceSnapshot>, processes: Vec<ProcessSnapshot>) -> Snapshot {
    let mut snap = Snapshot::new("nvml", false, host());
    // 2026-11-25 10:31:45 UTC.
    snap.timestamp = 1_795_602_705.25;
    snap.driver_version = Some("550.54.15".to_owned());
    snap.nvml_version = Some("12.550.54.15".to_owned());
    snap.cuda_driver_version = Some("12.4".to_owned());
    snap.devices = devices;
    snap.processes = processes;
    snap.process_errors = Vec::new();
    snap
}

/// Four GPUs like the simulator's default machine: a busy H100, an A100
/// with three MIG instances, an A100 serving inference, an RTX 4090 driving
/// a display.
pub fn machine_devices() -> Vec<DeviceSnapshot> {
    let h100 = device(0, "NVIDIA H100 80GB HBM3", 81559, 72110, 98);
    let mut a100 = device(1, "NVIDIA A100-SXM4-80GB", 81920, 30208, 0);
    a100.mig_mode = Some(true);
    a100.gpu_utilization = None;
    a100.mig_devices = vec![
        mig(1, 0, "3g.40gb", 40192, 20480),
        mig(1, 1, "2g.20gb", 19968, 9728),
        mig(1, 2, "1g.10gb", 9856, 0),
    ];
    let mut inference = device(2, "NVIDIA A100-SXM4-80GB", 81920, 12288, 45);
    inference.persistence_mode = Some(false);
    inference.compute_mode = Some("E. Process".to_owned());
    let mut rtx = device(3, "NVIDIA GeForce RTX 4090", 24564, 1480, 3);
    rtx.display_active = Some(true);
    rtx.mig_mode = None;
    rtx.total_volatile_uncorrected_ecc_errors = None;
    rtx.power_limit = Some(450_000);
    rtx.power_status = "75W / 450W".to_owned();
    vec![h100, a100, inference, rtx]
}

pub fn machine_processes() -> Vec<ProcessSnapshot> {
    let p = |pid, device, kind, user, gpu_mib, sm, command| {
        process(&Proc {
            pid,
            device,
            kind,
            user,
            gpu_mib,
            sm,
            command,
        })
    };
    vec![
        p(
            48213,
            "0",
            "C",
            Some("alice"),
            Some(71500),
            Some(97),
            "python train.py --model llama-7b --batch-size 32",
        ),
        p(
            48200,
            "0",
            "C",
            Some("alice"),
            Some(610),
            Some(1),
            "python -m torch.distributed.run --nproc_per_node 1",
        ),
        p(
            51002,
            "1:0",
            "C",
            Some("bob"),
            Some(20480),
            Some(55),
            "python finetune.py",
        ),
        p(
            51088,
            "1:1",
            "C",
            Some("bob"),
            Some(9728),
            None,
            "jupyter-lab --no-browser",
        ),
        p(
            23017,
            "2",
            "C",
            Some("inference"),
            Some(12280),
            Some(44),
            "tritonserver --model-repository=/models",
        ),
        p(
            1734,
            "3",
            "G",
            Some("root"),
            Some(890),
            Some(2),
            "/usr/lib/xorg/Xorg vt1 -displayfd 3",
        ),
        p(
            3121,
            "3",
            "C+G",
            Some("alice"),
            Some(590),
            Some(1),
            "/opt/blender/blender",
        ),
        p(4000, "3", "C", None, Some(12), None, ""),
    ]
}

/// The four-GPU machine with its processes.
pub fn machine() -> Snapshot {
    base(machine_devices(), machine_processes())
}

/// The four-GPU machine with no processes.
pub fn idle_machine() -> Snapshot {
    base(machine_devices(), Vec::new())
}

/// A process whose command is longer than any width.
pub fn with_long_command(mut snapshot: Snapshot, length: usize) -> Snapshot {
    let command = format!("python {}", "x".repeat(length.saturating_sub(7)));
    snapshot.processes.push(process(&Proc {
        pid: 60001,
        device: "2",
        kind: "C",
        user: Some("alice"),
        gpu_mib: Some(8),
        sm: Some(0),
        command: &command,
    }));
    snapshot
}

/// Faults: fields not supported on one GPU, GPU 2 lost, a process list
/// that needs permission.
pub fn faults() -> Snapshot {
    let mut old = device(0, "Tesla K80", 11441, 2048, 12);
    old.fan_speed = None;
    old.power_usage = None;
    old.power_status = "N/A / 149W".to_owned();
    old.performance_state = None;
    old.compute_mode = None;
    old.total_volatile_uncorrected_ecc_errors = None;
    old.mig_mode = None;
    old.display_active = None;
    let mut unknown = device(1, "NVIDIA A10", 23028, 0, 0);
    unknown.memory_percent = None;
    unknown.memory_usage = None;
    unknown.gpu_utilization = None;
    unknown.mig_mode = None;
    let mut rtx = device(3, "NVIDIA GeForce RTX 3090", 24576, 10240, 80);
    rtx.mig_mode = None;
    let processes = vec![process(&Proc {
        pid: 7001,
        device: "0",
        kind: "C",
        user: Some("alice"),
        gpu_mib: None,
        sm: None,
        command: "./legacy_app",
    })];
    let mut snapshot = base(vec![old, unknown, lost(2), rtx], processes);
    snapshot.process_errors = vec![(
        "3".to_owned(),
        "permission denied: run as root to see other users' processes".to_owned(),
    )];
    snapshot
}

/// Render options fixed for tests: UTC, user alice on host gpu-node.
pub fn options() -> RenderOptions {
    RenderOptions {
        current_user: Some("alice".to_owned()),
        hostname: Some("gpu-node".to_owned()),
        utc_offset: Some(chrono::FixedOffset::east_opt(0).unwrap()),
        ..RenderOptions::default()
    }
}

/// The screen at `width` as plain text.
pub fn plain(snapshot: &Snapshot, options: &RenderOptions, width: u16) -> String {
    let buffer = nvitop_monitor::render(snapshot, options, width);
    nvitop_monitor::ansi::to_ansi(&buffer, false)
}

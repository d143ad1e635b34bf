//! A tour of the device, process and host API: what nvitop's "More than
//! Monitoring" section shows, in Rust.
//!
//! Run it on any machine with the simulator:
//!
//! ```text
//! cargo run --example devices -- --simulate
//! ```
//!
//! or on a machine with NVIDIA GPUs without the flag. `--help` lists the options.

use std::process::ExitCode;

use nvitop::{Device, MigDevice, Snapshot, host};

/// Appends one line to the report, which `main` prints in one write: a
/// reader that stops early (`| head`) then ends the program quietly rather
/// than making every later `println!` panic on the closed pipe.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

const HELP: &str = "\
A tour of the nvitop SDK's device, process and host API.

Usage: devices [OPTIONS]

Options:
  --simulate   simulated GPUs instead of the driver (as NVITOP_SIMULATE=1)
  -h, --help   print this help
";

fn main() -> ExitCode {
    let mut simulate = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), HELP.as_bytes());
                return ExitCode::SUCCESS;
            }
            "--simulate" => simulate = true,
            other => {
                eprintln!("error: unknown option '{other}' (--help lists the options)");
                return ExitCode::from(2);
            }
        }
    }
    if simulate
        && let Err(err) =
            nvitop::set_default_backend(std::sync::Arc::new(nvitop::backend::sim::SimBackend::default_machine()))
    {
        eprintln!("error: {err}");
        return ExitCode::FAILURE;
    }
    let mut out = String::new();
    let result = run(&mut out);
    // A closed pipe is the reader's choice, not an error of ours.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(out: &mut String) -> nvitop::Result<()> {
    let backend = nvitop::default_backend()?;
    say!(out, "Driver version:      {}", Device::driver_version()?);
    say!(out, "CUDA driver version: {}", Device::cuda_driver_version()?);
    if backend.is_simulated() {
        say!(out, "(simulated GPUs: --simulate or NVITOP_SIMULATE)");
    }

    let devices = Device::all()?;
    say!(out, "\n{} GPU(s):", devices.len());
    for device in &devices {
        say!(
            out,
            "  GPU {} {:<28} {:>9} / {:<9} util {:>4} temp {:>4} power {}",
            device.index(),
            device.name().unwrap_or_else(|| "N/A".into()),
            device.memory_used_human().unwrap_or_else(|| "N/A".into()),
            device.memory_total_human().unwrap_or_else(|| "N/A".into()),
            device
                .gpu_utilization()
                .map_or_else(|| "N/A".into(), |u| format!("{u}%")),
            device.temperature().map_or_else(|| "N/A".into(), |t| format!("{t}C")),
            device.power_status(),
        );
        for mig in device.mig_devices() {
            say!(
                out,
                "    MIG {} {:<40} {:>9} / {}",
                mig.display_index(),
                mig.name().unwrap_or_default(),
                mig.memory_used_human().unwrap_or_default(),
                mig.memory_total_human().unwrap_or_default()
            );
        }
    }

    say!(
        out,
        "\nCUDA-visible devices (CUDA_VISIBLE_DEVICES={:?}):",
        std::env::var("CUDA_VISIBLE_DEVICES").ok()
    );
    for cuda in Device::from_cuda_visible_devices()? {
        say!(out, "  {cuda}");
    }

    if let Some(first) = devices.first() {
        say!(out, "\nSnapshot of GPU {}:", first.index());
        say!(
            out,
            "{}",
            serde_json::to_string_pretty(&first.as_snapshot()).unwrap_or_default()
        );
    }

    say!(out, "\nProcesses:");
    for device in &devices {
        // On a MIG-enabled GPU every process runs on one of its MIG devices.
        let migs = device.mig_devices();
        let targets: Vec<&Device> = if migs.is_empty() {
            vec![device]
        } else {
            migs.iter().map(MigDevice::as_device).collect()
        };
        for target in targets {
            print_processes(out, target);
        }
    }

    let host = host::snapshot();
    let swap = host::swap_memory();
    say!(
        out,
        "\nHost: {} CPUs at {:.1}% (busiest core {:.1}%), memory {} ({:.1}%), swap {} / {} ({:.1}%), load {:?}, up {}s",
        host.cpu_count,
        host.cpu_percent,
        host.per_cpu_percent.iter().copied().fold(0.0, f64::max),
        host.memory_usage_human,
        host.memory_percent,
        nvitop::format::bytes2human(swap.used),
        nvitop::format::bytes2human(swap.total),
        swap.percent,
        host.load_average,
        host.uptime.unwrap_or_default()
    );

    let snapshot = Snapshot::take(&backend, &devices);
    say!(
        out,
        "\nOne-pass snapshot: {} devices, {} processes, {} bytes of JSON",
        snapshot.devices.len(),
        snapshot.processes.len(),
        serde_json::to_string(&snapshot).map(|s| s.len()).unwrap_or_default()
    );
    Ok(())
}

/// One line per process on `device`, as nvitop's process panel shows them.
fn print_processes(out: &mut String, device: &Device) {
    let processes = match device.processes() {
        Ok(processes) => processes,
        Err(err) => {
            say!(out, "  GPU {}: {err}", device.display_index());
            return;
        }
    };
    for process in processes {
        let host = process.host_info();
        say!(
            out,
            "  GPU {} pid {:>7} {:<4} {:>9} sm {:>4} user {:<10} cpu {:>6} {}",
            process.device().display_index(),
            process.pid(),
            process.type_label(),
            process.gpu_memory_human().unwrap_or_else(|| "N/A".into()),
            process
                .gpu_sm_utilization()
                .map_or_else(|| "N/A".into(), |u| format!("{u}%")),
            host.as_ref()
                .and_then(|h| h.username.clone())
                .unwrap_or_else(|| "N/A".into()),
            host.as_ref()
                .map_or_else(|| "N/A".into(), |h| format!("{:.1}%", h.cpu_percent)),
            host.as_ref()
                .map_or_else(|| "No Such Process".into(), |h| h.command.clone()),
        );
    }
}

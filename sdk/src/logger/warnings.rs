//! Build-time warnings for metrics a chosen device cannot report.
//!
//! The logger writes nothing for a value that is not available (no blank
//! point, no NaN), so a metric a device never reports would show as an
//! empty CSV column and a missing TensorBoard card with nothing saying why.
//! At build the logger asks each device once for each enabled metric and
//! names every one it cannot report, with the reason.

use super::options::LoggerOptions;
use crate::backend::{BackendError, ClockKind};
use crate::device::Device;

/// One warning per (device, metric) the device cannot report.
pub(crate) fn unreportable_metrics(devices: &[Device], prefixes: &[String], options: &LoggerOptions) -> Vec<String> {
    let mut warnings = Vec::new();
    for (device, prefix) in devices.iter().zip(prefixes) {
        let backend = device.backend();
        let handle = device.handle();
        let mig = device.is_mig_device() || device.is_mig_mode_enabled();
        let mut check = |wanted: bool, what: &str, result: Result<(), BackendError>| {
            if !wanted {
                return;
            }
            if let Err(err) = result {
                let reason = match err {
                    BackendError::NotSupported if mig => {
                        "MIG mode: the driver does not report it for a GPU split into MIG devices".to_owned()
                    }
                    BackendError::NotSupported => "not supported by this device or driver".to_owned(),
                    BackendError::NoPermission => {
                        "no permission to read it (run as root or ask an administrator)".to_owned()
                    }
                    other => other.to_string(),
                };
                let message = format!("{prefix}/{what}: not logged, {reason}; its column stays empty");
                log::warn!("GPU stats logger: {message}");
                warnings.push(message);
            }
        };
        let utilization = backend.utilization_rates(handle).map(drop);
        check(
            options.memory_utilization,
            "utilization.memory (%)",
            utilization.clone(),
        );
        check(
            options.memory_utilization,
            "memory.used (MiB)",
            backend.memory_info(handle).map(drop),
        );
        check(options.gpu_utilization, "utilization.gpu (%)", utilization);
        check(options.fan_speed, "fan.speed (%)", backend.fan_speed(handle).map(drop));
        check(
            options.temperature,
            "temperature.gpu (C)",
            backend.temperature(handle).map(drop),
        );
        check(
            options.power || options.energy,
            "power.draw (W)",
            backend.power_usage(handle).map(drop),
        );
        check(options.power, "power.limit (W)", backend.power_limit(handle).map(drop));
        check(
            options.clocks,
            "clocks.sm (MHz)",
            backend.clock(handle, ClockKind::Sm).map(drop),
        );
        check(
            options.clocks,
            "clocks.mem (MHz)",
            backend.clock(handle, ClockKind::Memory).map(drop),
        );
        // Process memory: a full GPU in MIG mode lists no process memory (it
        // is reported per MIG device); elsewhere the process query decides.
        let processes = if device.is_mig_mode_enabled() && !device.is_mig_device() {
            Err(BackendError::NotSupported)
        } else {
            backend.processes(handle).map(drop)
        };
        check(options.process_memory, "process.memory.used (MiB)", processes);
        // PCIe throughput is not probed: each reading takes the driver 20 ms.
    }
    warnings
}

//! Human-readable forms of sizes, durations and percentages, in the style
//! nvitop and nvidia-smi users read every day (`8862MiB`, `46:13:33`).

use std::time::Duration;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// Formats a byte count in whole `MiB` up to 100 GiB, as nvidia-smi prints
/// GPU memory (`81559MiB`), then `GiB`/`TiB` with two decimals.
///
/// Python nvitop's strings differ on purpose: it switches to `GiB` from
/// 20 GiB (`62.35GiB`) and gives small sizes decimals (`412.0MiB`). Whole
/// MiB keep one unit across a row of 80 GB GPUs and add up by eye; the
/// numbers (bytes) in every snapshot are the same either way.
///
/// ```
/// use nvitop::format::bytes2human;
/// assert_eq!(bytes2human(8862 * 1024 * 1024), "8862MiB");
/// assert_eq!(bytes2human(512), "512B");
/// assert_eq!(bytes2human(3 * 1024), "3KiB");
/// assert_eq!(bytes2human(200 * 1024 * 1024 * 1024), "200.00GiB");
/// ```
pub fn bytes2human(bytes: u64) -> String {
    if bytes < KIB {
        format!("{bytes}B")
    } else if bytes < MIB {
        format!("{}KiB", div_round(bytes, KIB))
    } else if bytes < 100 * GIB {
        format!("{}MiB", div_round(bytes, MIB))
    } else if bytes < 100 * TIB {
        format!("{:.2}GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{:.2}TiB", bytes as f64 / TIB as f64)
    }
}

fn div_round(value: u64, unit: u64) -> u64 {
    (value + unit / 2) / unit
}

/// Formats a throughput the driver gives in `KiB/s` (PCIe) the way
/// nvitop does: the byte count in [`bytes2human`] units, per second.
///
/// ```
/// use nvitop::format::throughput2human;
/// assert_eq!(throughput2human(2_048_000), "2000MiB/s");
/// assert_eq!(throughput2human(12), "12KiB/s");
/// assert_eq!(throughput2human(0), "0B/s");
/// ```
pub fn throughput2human(kib_per_second: u32) -> String {
    format!("{}/s", bytes2human(u64::from(kib_per_second) * KIB))
}

/// Bytes to whole mebibytes, rounded (the unit of `memory.used (MiB)` keys).
///
/// ```
/// assert_eq!(nvitop::format::bytes_to_mib(3 * 1024 * 1024 + 1), 3.0);
/// ```
pub fn bytes_to_mib(bytes: u64) -> f64 {
    (bytes as f64 / MIB as f64).round()
}

/// Formats an elapsed time the way nvitop's TIME column does: `M:SS` under
/// an hour, `H:MM:SS` under four days (hours keep counting past a day, as in
/// `46:13:33`), then days with one decimal, where the seconds stop mattering.
///
/// ```
/// use std::time::Duration;
/// use nvitop::format::timedelta2human;
/// assert_eq!(timedelta2human(Duration::from_secs(65)), "1:05");
/// assert_eq!(timedelta2human(Duration::from_secs(3600)), "1:00:00");
/// assert_eq!(timedelta2human(Duration::from_secs(46 * 3600 + 13 * 60 + 33)), "46:13:33");
/// assert_eq!(timedelta2human(Duration::from_secs(5 * 86400 + 43200)), "5.5 days");
/// ```
pub fn timedelta2human(elapsed: Duration) -> String {
    const DAY: u64 = 86_400;
    let secs = elapsed.as_secs();
    if secs >= 4 * DAY {
        // Tenths of a day, rounded half up, in integers: no float formatting
        // surprises at the boundaries.
        let tenths = (secs * 10 + DAY / 2) / DAY;
        return format!("{}.{} days", tenths / 10, tenths % 10);
    }
    let (hours, minutes, seconds) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// Formats a percentage with no decimals, or `N/A`.
///
/// ```
/// assert_eq!(nvitop::format::percent(Some(42.4)), "42%");
/// assert_eq!(nvitop::format::percent(None), "N/A");
/// ```
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| NA.to_owned(), |v| format!("{v:.0}%"))
}

/// The marker for a value the driver does not provide.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::{Device, backend::{Backend, sim::SimBackend}, format::NA};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let gpu = Device::new_in(&backend, 0).unwrap(); // a fanless H100
/// let fan = gpu.fan_speed().map_or_else(|| NA.to_owned(), |f| format!("{f}%"));
/// assert_eq!(fan, "N/A");
/// ```
pub const NA: &str = "N/A";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_boundaries() {
        assert_eq!(bytes2human(0), "0B");
        assert_eq!(bytes2human(1023), "1023B");
        assert_eq!(bytes2human(1024), "1KiB");
        assert_eq!(bytes2human(MIB), "1MiB");
        assert_eq!(bytes2human(81920 * MIB), "81920MiB");
        assert_eq!(bytes2human(100 * GIB), "100.00GiB");
        assert_eq!(bytes2human(100 * TIB), "100.00TiB");
    }

    #[test]
    fn durations() {
        let t = |secs: u64| timedelta2human(Duration::from_secs(secs));
        assert_eq!(t(0), "0:00");
        assert_eq!(t(59), "0:59");
        assert_eq!(t(3599), "59:59");
        assert_eq!(t(3600), "1:00:00");
        assert_eq!(t(86_399), "23:59:59");
        assert_eq!(t(4 * 86_400 - 1), "95:59:59");
        assert_eq!(t(4 * 86_400), "4.0 days");
        assert_eq!(t(4 * 86_400 + 8_640), "4.1 days");
        assert_eq!(t(100 * 86_400), "100.0 days");
        // Sub-second parts never show.
        assert_eq!(timedelta2human(Duration::from_millis(61_999)), "1:01");
    }
}

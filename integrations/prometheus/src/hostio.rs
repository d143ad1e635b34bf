//! Host network and disk figures the SDK does not read: `/proc/net/dev`,
//! `/proc/diskstats` and `statvfs` of the mounted block devices. Parsing is
//! split from reading so the parsers are tested on fixed text.

use std::path::Path;

use crate::readings::{DiskCounters, DiskUsage, NetworkCounters};

/// Sector size `/proc/diskstats` counts in, whatever the device's own.
const DISKSTATS_SECTOR: u64 = 512;

/// Every interface's counters (empty when `/proc/net/dev` cannot be read).
pub fn network() -> Vec<NetworkCounters> {
    std::fs::read_to_string("/proc/net/dev").map_or_else(|_| Vec::new(), |text| parse_net_dev(&text))
}

/// Parses `/proc/net/dev`: two header lines, then `iface: rx_bytes rx_packets
/// ... (8 receive fields) tx_bytes tx_packets ...`.
///
/// ```
/// let text = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n  eth0: 100 2 0 0 0 0 0 0 300 4 0 0 0 0 0 0\n";
/// let nets = nvitop_exporter::hostio::parse_net_dev(text);
/// assert_eq!((nets[0].interface.as_str(), nets[0].rx_bytes, nets[0].tx_packets), ("eth0", 100, 4));
/// ```
pub fn parse_net_dev(text: &str) -> Vec<NetworkCounters> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let fields: Vec<u64> = rest.split_whitespace().map_while(|f| f.parse().ok()).collect();
            if fields.len() < 10 {
                return None;
            }
            Some(NetworkCounters {
                interface: name.trim().to_owned(),
                rx_bytes: fields[0],
                rx_packets: fields[1],
                tx_bytes: fields[8],
                tx_packets: fields[9],
            })
        })
        .collect()
}

/// Every block device's counters (empty when `/proc/diskstats` cannot be read).
pub fn disks() -> Vec<DiskCounters> {
    std::fs::read_to_string("/proc/diskstats").map_or_else(
        |_| Vec::new(),
        |text| {
            parse_diskstats(&text)
                .into_iter()
                // Only names the kernel lists as block devices or partitions
                // (as psutil does), not stale entries.
                .filter(|d| Path::new("/sys/class/block").join(&d.name).exists())
                .collect()
        },
    )
}

/// Parses `/proc/diskstats`: `major minor name reads merged sectors_read ms
/// writes merged sectors_written ...`.
///
/// ```
/// let text = " 253 0 vda 100 0 2048 10 50 0 4096 20 0 0 0\n";
/// let disks = nvitop_exporter::hostio::parse_diskstats(text);
/// assert_eq!((disks[0].read_bytes, disks[0].write_bytes), (2048 * 512, 4096 * 512));
/// ```
pub fn parse_diskstats(text: &str) -> Vec<DiskCounters> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let sectors = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            Some(DiskCounters {
                name: (*fields.get(2)?).to_owned(),
                read_bytes: sectors(5)?.saturating_mul(DISKSTATS_SECTOR),
                write_bytes: sectors(9)?.saturating_mul(DISKSTATS_SECTOR),
            })
        })
        .collect()
}

/// Usage of every file system mounted from a block device (`/dev/...`),
/// once per mount point.
pub fn disk_usage() -> Vec<DiskUsage> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    mount_points(&mounts)
        .into_iter()
        .filter(|m| seen.insert(m.clone()))
        .filter_map(|mountpoint| {
            let stat = rustix::fs::statvfs(mountpoint.as_str()).ok()?;
            Some(usage_of(
                mountpoint,
                stat.f_blocks,
                stat.f_bfree,
                stat.f_bavail,
                stat.f_frsize,
            ))
        })
        .collect()
}

/// Mount points of block devices in `/proc/self/mounts` text, with the
/// kernel's octal escapes (`\040` for a space) undone.
///
/// ```
/// let text = "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n/dev/sdb1 /mnt/my\\040disk ext4 rw 0 0\n";
/// assert_eq!(nvitop_exporter::hostio::mount_points(text), ["/", "/mnt/my disk"]);
/// ```
pub fn mount_points(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let mountpoint = fields.next()?;
            device.starts_with("/dev/").then(|| unescape_octal(mountpoint))
        })
        .collect()
}

fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        if let Some(code) = code {
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Usage from `statvfs` fields, as `df` and psutil count it: the percent is
/// of what users can have (used + available), not of the size, because the
/// blocks reserved for root are never available to them.
///
/// ```
/// let usage = nvitop_exporter::hostio::usage_of("/".into(), 1000, 400, 300, 4096);
/// assert_eq!((usage.total, usage.used, usage.free), (4_096_000, 2_457_600, 1_228_800));
/// assert!((usage.percent - 66.7).abs() < 1e-9);
/// ```
pub fn usage_of(mountpoint: String, blocks: u64, bfree: u64, bavail: u64, frsize: u64) -> DiskUsage {
    let total = blocks.saturating_mul(frsize);
    let used = blocks.saturating_sub(bfree).saturating_mul(frsize);
    let free = bavail.saturating_mul(frsize);
    let room = used + free;
    let percent = if room == 0 {
        0.0
    } else {
        (used as f64 / room as f64 * 1000.0).round() / 10.0
    };
    DiskUsage {
        mountpoint,
        total,
        used,
        free,
        percent,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn net_dev_skips_headers_and_short_lines() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n  eth0: 233614  8573    0    0    0     0          0         0   499090    4549    0    0    0     0       0          0\n broken: 1 2 3\n";
        let nets = parse_net_dev(text);
        assert_eq!(nets.len(), 2);
        assert_eq!(
            nets[1],
            NetworkCounters {
                interface: "eth0".into(),
                tx_bytes: 499_090,
                rx_bytes: 233_614,
                tx_packets: 4549,
                rx_packets: 8573
            }
        );
    }

    #[test]
    fn diskstats_counts_sectors_of_512_bytes() {
        let text = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n 253       0 vda 94352 22 6642516 41077 71826 49178 7331104 79120 0 99364 126033 0 0 0 0 0 0\n garbage\n";
        let disks = parse_diskstats(text);
        assert_eq!(disks.len(), 2);
        assert_eq!(disks[1].name, "vda");
        assert_eq!(disks[1].read_bytes, 6_642_516 * 512);
        assert_eq!(disks[1].write_bytes, 7_331_104 * 512);
    }

    #[test]
    fn octal_escapes_and_plain_backslashes() {
        assert_eq!(unescape_octal(r"/a\040b\011c"), "/a b\tc");
        assert_eq!(unescape_octal(r"/a\9b\"), r"/a\9b\");
    }

    #[test]
    fn empty_file_system_is_zero_percent() {
        assert!(usage_of("/x".into(), 0, 0, 0, 4096).percent.abs() < f64::EPSILON);
    }
}

//! Reading `/proc/<pid>/stat`: process identity and the figures that change.
//!
//! A pid alone does not name a process: pids are reused. The start time in
//! clock ticks since boot (field 22 of `/proc/<pid>/stat`) is exact, so
//! `(pid, start ticks)` is the identity every action on a process checks.
//!
//! The same line carries state, CPU ticks and resident pages, so refreshing
//! a process that is already known costs one `pread` of its kept-open stat
//! file ([`reread`], see `host_info`); on virtual machines, where a system
//! call costs microseconds, that is what keeps a snapshot of hundreds of
//! processes fast.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The fields of `/proc/<pid>/stat` the SDK needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// State letter (`R`, `S`, `D`, `Z`, `T`, ...).
    pub state: char,
    /// Parent pid.
    pub ppid: u32,
    /// User + system CPU time, clock ticks.
    pub cpu_ticks: u64,
    /// Start time, clock ticks after boot.
    pub start_ticks: u64,
    /// Resident set size, pages.
    pub rss_pages: u64,
}

/// Reads the stat line of a pid; `None` when the process does not exist.
pub(crate) fn read(pid: u32) -> Option<ProcStat> {
    open(pid).map(|(_, stat)| stat)
}

/// Opens and reads the stat file of a pid, returning the open file so the
/// caller can re-read it later with [`reread`].
pub(crate) fn open(pid: u32) -> Option<(File, ProcStat)> {
    let file = File::open(format!("/proc/{pid}/stat")).ok()?;
    let stat = reread(&file).or_else(|| read_slow(pid))?;
    Some((file, stat))
}

/// Re-reads an open stat file from its start: one `pread`. The file stays
/// bound to the process it was opened for, so once that process is gone
/// this fails (`ESRCH`) even if its pid was reused.
pub(crate) fn reread(file: &File) -> Option<ProcStat> {
    // One read into a stack buffer: the line is a few hundred bytes, and
    // `fs::read_to_string` would add a `statx` for its size hint.
    let mut buf = [0u8; 1024];
    let mut len = 0;
    loop {
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len == buf.len() {
                    // A pathological name made the line long: the caller
                    // falls back to reading it whole.
                    return None;
                }
                // procfs hands the whole line over in one read.
                if buf[..len].ends_with(b"\n") {
                    break;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    parse(&String::from_utf8_lossy(&buf[..len]))
}

/// Opens `/proc/<pid>/statm`, for [`resident_pages`].
pub(crate) fn open_statm(pid: u32) -> Option<File> {
    File::open(format!("/proc/{pid}/statm")).ok()
}

/// Resident pages from an open `/proc/<pid>/statm` (its second field): one
/// `pread`.
///
/// The `rss` of `/proc/<pid>/stat` is the kernel's per-CPU counters read
/// without what each CPU still holds back, so it can lag for as long as
/// the process lives (a `sleep` on a 2-CPU VM: 425 pages against 452);
/// `statm`, like `VmRSS` in `status`, sums them on recent kernels and is
/// never further off. It is also what psutil (and so Python nvitop) and
/// `top` read.
pub(crate) fn resident_pages(file: &File) -> Option<u64> {
    let mut buf = [0u8; 256];
    let len = loop {
        match file.read_at(&mut buf, 0) {
            Ok(n) => break n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    };
    parse_statm(buf.get(..len)?)
}

/// The resident field (the second) of a `statm` line.
fn parse_statm(line: &[u8]) -> Option<u64> {
    std::str::from_utf8(line)
        .ok()?
        .split_ascii_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The unusual long line (a pathological name): read it whole.
fn read_slow(pid: u32) -> Option<ProcStat> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a stat line. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the
/// *last* closing parenthesis.
pub(crate) fn parse(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut fields = text[close + 1..].split_ascii_whitespace();
    // After the name: state (3), ppid (4), ... utime (14), stime (15), ...
    // starttime (22), vsize (23), rss (24).
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let utime: u64 = fields.nth(9)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let start_ticks = fields.nth(6)?.parse().ok()?;
    let rss_pages = fields.nth(1)?.parse::<i64>().ok()?.max(0) as u64;
    Some(ProcStat {
        comm,
        state,
        ppid,
        cpu_ticks: utime + stime,
        start_ticks,
        rss_pages,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "1234 (my (weird) name) S 77 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000000 200 18446744073709551615";
        assert_eq!(
            parse(line),
            Some(ProcStat {
                comm: "my (weird) name".into(),
                state: 'S',
                ppid: 77,
                cpu_ticks: 8,
                start_ticks: 987_654,
                rss_pages: 200,
            })
        );
    }

    #[test]
    fn reads_self() {
        let stat = read(std::process::id());
        assert!(stat.is_some_and(|s| s.start_ticks > 0 && s.rss_pages > 0 && s.comm.len() <= 15));
    }

    #[test]
    fn statm_gives_the_resident_pages() {
        assert_eq!(parse_statm(b"2021 452 401 5 0 84 0\n"), Some(452));
        assert_eq!(parse_statm(b"2021"), None);
        assert_eq!(parse_statm(b""), None);
        let file = open_statm(std::process::id()).unwrap();
        let pages = resident_pages(&file).unwrap();
        // The same count as VmRSS in /proc/self/status, in KiB.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let page_kib = rustix::param::page_size() as u64 / 1024;
        // This process allocates between the two reads: close, not equal.
        assert!(
            (pages * page_kib).abs_diff(vm_rss) < 1024,
            "{pages} pages vs VmRSS {vm_rss} kB"
        );
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(parse("no parens here"), None);
        assert_eq!(parse("1 (x) S"), None);
    }
}

//! Reading `/proc/<pid>/stat` for process identity.
//!
//! A pid alone does not name a process: pids are reused. The start time in
//! clock ticks since boot (field 22 of `/proc/<pid>/stat`) is exact, so
//! `(pid, start ticks)` is the identity every action on a process checks.

use std::fs;

/// The fields of `/proc/<pid>/stat` the SDK needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Parent pid.
    pub ppid: u32,
    /// Start time, clock ticks after boot.
    pub start_ticks: u64,
}

/// Reads the stat line of a pid; `None` when the process does not exist.
pub(crate) fn read(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse(&text)
}

/// Parses a stat line. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the
/// *last* closing parenthesis.
pub(crate) fn parse(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state (3), ppid (4), ... starttime (22).
    let ppid = fields.nth(1)?.parse().ok()?;
    let start_ticks = fields.nth(17)?.parse().ok()?;
    Some(ProcStat { ppid, start_ticks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "1234 (my (weird) name) S 77 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000000 200 18446744073709551615";
        assert_eq!(
            parse(line),
            Some(ProcStat {
                ppid: 77,
                start_ticks: 987_654
            })
        );
    }

    #[test]
    fn reads_self() {
        let stat = read(std::process::id());
        assert!(stat.is_some_and(|s| s.start_ticks > 0));
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(parse("no parens here"), None);
        assert_eq!(parse("1 (x) S"), None);
    }
}

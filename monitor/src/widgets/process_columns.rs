//! The process panel's columns: headers, widths and the text of each cell,
//! for the one-shot view and the live view's extra `%GMBW`.

use nvitop::ProcessSnapshot;
use nvitop::format::NA;

use crate::text::cut_marked;

/// What the command column says for a pid the host does not know.
pub(crate) const NO_SUCH_PROCESS: &str = "No Such Process";

/// Column headers and minimum widths; the last column (COMMAND) takes what
/// is left. Minimums keep the familiar nvitop look when values are short.
pub(crate) const COLUMNS: [(&str, usize); 9] = [
    ("GPU", 3),
    ("PID", 7),
    ("", 1),
    ("USER", 7),
    ("GPU-MEM", 8),
    ("%SM", 3),
    ("%CPU", 5),
    ("%MEM", 5),
    ("TIME", 8),
];
/// The interactive viewer's columns: the one-shot ones and `%GMBW`
/// (memory-bandwidth utilization) after `%SM`, as nvitop's live view has.
pub(crate) const LIVE_COLUMNS: [(&str, usize); 10] = [
    ("GPU", 3),
    ("PID", 7),
    ("", 1),
    ("USER", 7),
    ("GPU-MEM", 8),
    ("%SM", 3),
    ("%GMBW", 5),
    ("%CPU", 5),
    ("%MEM", 5),
    ("TIME", 8),
];
/// Index of the kind column (`C`, `G`, `C+G`): left-aligned, no header.
pub(crate) const KIND_COLUMN: usize = 2;

/// User names longer than this are cut, so one long name cannot push the
/// command off the screen.
const MAX_USER: usize = 10;

/// Columns before COMMAND: leading space, the columns with single spaces
/// between them, and two spaces before the command.
pub(crate) fn prefix_width(widths: &[usize]) -> usize {
    1 + widths.iter().sum::<usize>() + (widths.len() - 1) + 2
}

/// The text of each fixed column for one process; `gmbw` adds `%GMBW`
/// after `%SM` (the live view's columns).
pub(crate) fn columns_of(p: &ProcessSnapshot, gmbw: bool) -> Vec<String> {
    let host = p.host.as_ref();
    let user = host
        .and_then(|h| h.username.as_deref())
        .map_or_else(|| NA.to_owned(), |u| cut_marked(u, MAX_USER, "+"));
    let percent = |u: Option<u32>| u.map_or_else(|| NA.to_owned(), |u| u.to_string());
    let mut values = vec![
        p.device_index.to_string(),
        p.pid.to_string(),
        p.kind.label().to_owned(),
        user,
        p.gpu_memory_human.clone().unwrap_or_else(|| NA.to_owned()),
        percent(p.gpu_sm_utilization),
    ];
    if gmbw {
        values.push(percent(p.gpu_memory_utilization));
    }
    values.extend([
        host.map_or_else(|| NA.to_owned(), |h| format!("{:.1}", h.cpu_percent)),
        host.map_or_else(|| NA.to_owned(), |h| format!("{:.1}", h.memory_percent)),
        host.map_or_else(|| NA.to_owned(), |h| h.running_time_human.clone()),
    ]);
    values
}

/// `s` without its first `columns` display columns.
pub(crate) fn skip_columns(s: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, ch) in s.char_indices() {
        if used >= columns {
            return &s[at..];
        }
        used += unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
    }
    ""
}

/// Control characters as `?`.
pub(crate) fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The command line, or the executable name when the command line is empty
/// (kernel threads, zombies); `No Such Process` (nvitop's words) when the
/// driver lists a pid the host does not have: the process exited since, or
/// it lives in another pid namespace (the monitor runs in a container).
/// Control characters become `?`.
pub(crate) fn command_of(p: &ProcessSnapshot) -> String {
    let raw = match &p.host {
        Some(h) if !h.command.is_empty() => h.command.as_str(),
        Some(h) if !h.name.is_empty() => h.name.as_str(),
        Some(_) => NA,
        None => NO_SUCH_PROCESS,
    };
    // A newline or escape in a command line would break the table (or the
    // terminal): show control characters as `?`.
    clean(raw)
}

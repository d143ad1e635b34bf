//! The process tree of the tree view (`t`): every GPU process with its
//! ancestors (up to init) and its descendants, read by the collector
//! through the viewer's one [`HostProcessReader`] while the view is open.

use std::collections::{BTreeMap, BTreeSet};

use nvitop::process::HostProcessReader;
use nvitop::{HostProcess, Snapshot};

use crate::live::rows::ProcessKey;

/// How deep below a GPU process children are followed (a runaway fork
/// tree stays bounded).
const MAX_DESCENDANT_DEPTH: usize = 8;

/// One line of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeRow {
    /// The process (device `Host`: the tree's rows are their own list).
    pub key: ProcessKey,
    /// For each level above this row: whether that ancestor was the last
    /// of its siblings (no `│` continues under it); the last entry is this
    /// row's own.
    pub last: Vec<bool>,
    /// USER.
    pub user: Option<String>,
    /// `GPU 0,1` or `Host`.
    pub device: String,
    /// Threads (`NLWP`).
    pub threads: Option<u32>,
    /// %CPU.
    pub cpu: f64,
    /// %MEM.
    pub memory: f64,
    /// TIME.
    pub time: String,
    /// COMMAND.
    pub command: String,
}

/// The tree, flattened in display order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    /// Rows, parents before children, siblings by pid.
    pub rows: Vec<TreeRow>,
}

impl Tree {
    /// The rows' keys, in order (what selection and signals work on).
    pub fn keys(&self) -> Vec<ProcessKey> {
        self.rows.iter().map(|r| r.key.clone()).collect()
    }
}

/// Builds the tree around `snapshot`'s GPU processes.
pub fn build(snapshot: &Snapshot, reader: &mut HostProcessReader) -> Tree {
    let mut gpus: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for p in &snapshot.processes {
        if p.host.is_some() {
            gpus.entry(p.pid).or_default().push(p.device_index.to_string());
        }
    }
    let mut pids: BTreeSet<u32> = gpus.keys().copied().collect();
    // Descendants, breadth first, bounded.
    let mut frontier: Vec<u32> = pids.iter().copied().collect();
    for _ in 0..MAX_DESCENDANT_DEPTH {
        let mut next = Vec::new();
        for pid in frontier {
            if let Ok(process) = HostProcess::new(pid) {
                for child in process.children() {
                    if pids.insert(child.pid()) {
                        next.push(child.pid());
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    let mut infos = reader.infos(&pids.iter().copied().collect::<Vec<_>>());
    // Ancestors, up to init (or a pid this host cannot see).
    let mut up: Vec<u32> = infos.values().filter_map(|i| i.ppid).collect();
    while let Some(pid) = up.pop() {
        if pid == 0 || infos.contains_key(&pid) {
            continue;
        }
        if let Some(info) = reader.info(pid) {
            if let Some(ppid) = info.ppid {
                up.push(ppid);
            }
            infos.insert(pid, info);
        }
    }
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut roots = Vec::new();
    let mut all: Vec<u32> = infos.keys().copied().collect();
    all.sort_unstable();
    for &pid in &all {
        match infos[&pid].ppid.filter(|ppid| infos.contains_key(ppid) && *ppid != pid) {
            Some(ppid) => children.entry(ppid).or_default().push(pid),
            None => roots.push(pid),
        }
    }
    let mut rows = Vec::new();
    let mut stack: Vec<(u32, Vec<bool>)> = Vec::new();
    let n = roots.len();
    for (i, &root) in roots.iter().enumerate().rev() {
        stack.push((root, vec![i + 1 == n]));
    }
    let mut seen = BTreeSet::new();
    while let Some((pid, last)) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let info = &infos[&pid];
        let device = gpus.get(&pid).map_or_else(
            || "Host".to_owned(),
            |devices| {
                let mut devices = devices.clone();
                devices.sort();
                devices.dedup();
                format!("GPU {}", devices.join(","))
            },
        );
        rows.push(TreeRow {
            key: ProcessKey {
                pid,
                start_ticks: Some(info.start_ticks),
                device: "Host".to_owned(),
            },
            user: info.username.clone(),
            device,
            threads: threads(pid),
            cpu: info.cpu_percent,
            memory: info.memory_percent,
            time: info.running_time_human.clone(),
            command: info.command.clone(),
            last: last.clone(),
        });
        if let Some(kids) = children.get(&pid) {
            let k = kids.len();
            for (i, &kid) in kids.iter().enumerate().rev() {
                let mut l = last.clone();
                l.push(i + 1 == k);
                stack.push((kid, l));
            }
        }
    }
    Tree { rows }
}

/// Threads of `pid`: field 20 of `/proc/<pid>/stat` (after the command,
/// which may hold spaces and parentheses, so counted from the last `)`).
fn threads(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// The branch drawn before a row's command: `├─ `, `└─ `, with `│  ` or
/// blanks for the levels above (ASCII: `|-`, `` `- ``, `|`).
pub fn branch(last: &[bool], ascii: bool) -> String {
    let mut out = String::new();
    let Some((own, above)) = last.split_last() else {
        return out;
    };
    // The roots' own level draws no branch.
    for &done in above.iter().skip(1) {
        out.push_str(match (done, ascii) {
            (true, _) => "   ",
            (false, false) => "│  ",
            (false, true) => "|  ",
        });
    }
    if !above.is_empty() {
        out.push_str(match (own, ascii) {
            (true, false) => "└─ ",
            (false, false) => "├─ ",
            (true, true) => "`- ",
            (false, true) => "|- ",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn branches() {
        assert_eq!(branch(&[true], false), "");
        assert_eq!(branch(&[true, false], false), "├─ ");
        assert_eq!(branch(&[true, true], false), "└─ ");
        assert_eq!(branch(&[true, false, true], false), "│  └─ ");
        assert_eq!(branch(&[true, true, false], true), "   |- ");
    }

    #[test]
    fn own_threads_are_counted() {
        assert!(threads(std::process::id()).unwrap() >= 1);
        assert_eq!(threads(u32::MAX), None);
    }

    #[test]
    fn the_tree_holds_a_gpu_process_with_its_ancestors_and_children() {
        // This test process stands for a GPU process; a child of its own
        // must show under it, and init at the top.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let backend: std::sync::Arc<dyn nvitop::backend::Backend> =
            std::sync::Arc::new(nvitop::backend::sim::SimBackend::default_machine());
        let mut snapshot = Snapshot::take_all(&backend).unwrap();
        snapshot.processes.truncate(1);
        let me = std::process::id();
        snapshot.processes[0].pid = me;
        snapshot.processes[0].host = nvitop::process::host_process_info(me);
        let tree = build(&snapshot, &mut HostProcessReader::new());
        let at = |pid: u32| tree.rows.iter().position(|r| r.key.pid == pid);
        let mine = at(me).unwrap();
        let kid = at(child.id()).unwrap();
        assert!(kid > mine);
        assert_eq!(tree.rows[kid].last.len(), tree.rows[mine].last.len() + 1);
        assert_eq!(tree.rows[kid].device, "Host");
        assert!(tree.rows[mine].device.starts_with("GPU "));
        let parent = std::os::unix::process::parent_id();
        assert!(at(parent).unwrap() < mine);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

//! Process filters (`--compute`, `--graphics`, `--user`, `--pid`) and the
//! checks that reject names and pids that exist nowhere.

use nvitop::{ProcessSnapshot, Snapshot};

use crate::widgets::processes::sort_key;

/// Which processes to keep: those that pass every filter that is on, as
/// with nvitop (so `-c -g` keeps the `C+G` processes). Empty lists and
/// `false` flags keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFilter {
    /// Keep processes with a compute context (`C`, `C+G`).
    pub compute: bool,
    /// Keep processes without a graphics context (`C`).
    pub only_compute: bool,
    /// Keep processes with a graphics context (`G`, `C+G`).
    pub graphics: bool,
    /// Keep processes without a compute context (`G`).
    pub only_graphics: bool,
    /// Keep only processes of these users.
    pub users: Vec<String>,
    /// Keep only these pids.
    pub pids: Vec<u32>,
}

impl ProcessFilter {
    /// Whether `p` passes the filter.
    pub fn keeps(&self, p: &ProcessSnapshot) -> bool {
        let (compute, graphics) = (p.kind.is_compute(), p.kind.is_graphics());
        let kind_ok = (!self.compute || compute)
            && (!self.only_compute || !graphics)
            && (!self.graphics || graphics)
            && (!self.only_graphics || !compute);
        let user_ok = self.users.is_empty()
            || p.host
                .as_ref()
                .and_then(|h| h.username.as_ref())
                .is_some_and(|u| self.users.contains(u));
        let pid_ok = self.pids.is_empty() || self.pids.contains(&p.pid);
        kind_ok && user_ok && pid_ok
    }

    /// Drops the processes that fail the filter and sorts the rest by GPU,
    /// then PID.
    pub fn apply(&self, snapshot: &mut Snapshot) {
        snapshot.processes.retain(|p| self.keeps(p));
        snapshot.processes.sort_by_key(sort_key);
    }

    /// The first user name that is neither a user of this system
    /// (`system_users`) nor the owner of a process in `snapshot` (simulated
    /// machines have users of their own).
    pub fn unknown_user<'a>(&'a self, snapshot: &Snapshot, system_users: &[String]) -> Option<&'a str> {
        self.users
            .iter()
            .find(|name| {
                !system_users.contains(name)
                    && !snapshot
                        .processes
                        .iter()
                        .any(|p| p.host.as_ref().and_then(|h| h.username.as_ref()) == Some(*name))
            })
            .map(String::as_str)
    }

    /// The first pid that is neither a process on this host (`exists`) nor a
    /// GPU process in `snapshot`.
    pub fn unknown_pid(&self, snapshot: &Snapshot, exists: impl Fn(u32) -> bool) -> Option<u32> {
        self.pids
            .iter()
            .copied()
            .find(|&pid| !exists(pid) && !snapshot.processes.iter().any(|p| p.pid == pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds among `C`, `G`, `C+G` that `filter` keeps.
    fn kept(filter: &ProcessFilter) -> Vec<&'static str> {
        use nvitop::backend::ProcessKind;
        [
            ProcessKind::Compute,
            ProcessKind::Graphics,
            ProcessKind::ComputeGraphics,
        ]
        .into_iter()
        .filter(|&kind| filter.keeps(&ProcessSnapshot::new(1, nvitop::DeviceIndex::physical(0), kind)))
        .map(ProcessKind::label)
        .collect()
    }

    #[test]
    fn type_filters_combine_like_nvitop() {
        let none = ProcessFilter::default();
        let set = |f: fn(&mut ProcessFilter)| {
            let mut filter = ProcessFilter::default();
            f(&mut filter);
            filter
        };
        assert_eq!(kept(&none), ["C", "G", "C+G"]);
        assert_eq!(kept(&set(|f| f.compute = true)), ["C", "C+G"]);
        assert_eq!(kept(&set(|f| f.only_compute = true)), ["C"]);
        assert_eq!(kept(&set(|f| f.graphics = true)), ["G", "C+G"]);
        assert_eq!(kept(&set(|f| f.only_graphics = true)), ["G"]);
        // Every filter must pass: -c -g is the processes with both contexts.
        let both = set(|f| {
            f.compute = true;
            f.graphics = true;
        });
        assert_eq!(kept(&both), ["C+G"]);
        let contradiction = set(|f| {
            f.only_compute = true;
            f.only_graphics = true;
        });
        assert!(kept(&contradiction).is_empty());
    }
}

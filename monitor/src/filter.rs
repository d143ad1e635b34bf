//! Process filters (`--compute`, `--graphics`, `--user`, `--pid`) and the
//! checks that reject names and pids that exist nowhere.

use nvitop::{ProcessSnapshot, Snapshot};

use crate::widgets::processes::sort_key;

/// Which processes to keep. Empty lists and `false` flags keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFilter {
    /// Keep compute processes (`C`, `C+G`).
    pub compute: bool,
    /// Keep graphics processes (`G`, `C+G`).
    pub graphics: bool,
    /// Keep only processes of these users.
    pub users: Vec<String>,
    /// Keep only these pids.
    pub pids: Vec<u32>,
}

impl ProcessFilter {
    /// Whether `p` passes the filter.
    pub fn keeps(&self, p: &ProcessSnapshot) -> bool {
        let kind_ok = match (self.compute, self.graphics) {
            (false, false) => true,
            (compute, graphics) => (compute && p.kind.contains('C')) || (graphics && p.kind.contains('G')),
        };
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

//! Sending the dialog's signal: each target through the SDK's
//! (pid, start time) guard, so a pid reused since it was selected is never
//! signalled, and every outcome is reported, failures included.

use nvitop::HostProcess;

use crate::live::rows::ProcessKey;
use crate::live::state::SignalKind;

/// Why one process was not signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The process exited.
    Gone,
    /// The pid now belongs to another process.
    Reused,
    /// Not ours to signal.
    Permission,
    /// The host never knew the process (another pid namespace): its
    /// identity cannot be checked, so it is not signalled.
    Unknown,
    /// Anything else the system said.
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gone => f.write_str("already gone"),
            Self::Reused => f.write_str("pid reused by another process, not signalled"),
            Self::Permission => f.write_str("permission denied"),
            Self::Unknown => f.write_str("not visible on this host"),
            Self::Other(why) => f.write_str(why),
        }
    }
}

/// Sends `kind` to the process `target` names, if it is still that process.
///
/// # Errors
/// Why it was not signalled.
pub fn send_one(kind: SignalKind, target: &ProcessKey) -> Result<(), Refusal> {
    let Some(start) = target.start_ticks else {
        return Err(Refusal::Unknown);
    };
    let process = HostProcess::new(target.pid).map_err(|_| Refusal::Gone)?;
    if process.start_ticks() != start {
        return Err(Refusal::Reused);
    }
    // `send_signal` checks the start time again after pinning the process
    // (pidfd), so a reuse between here and there is refused too.
    process.send_signal(kind.number()).map_err(|err| match err {
        nvitop::Error::NoSuchProcess { .. } => Refusal::Gone,
        nvitop::Error::PidReused { .. } => Refusal::Reused,
        nvitop::Error::PermissionDenied { .. } => Refusal::Permission,
        other => Refusal::Other(other.to_string()),
    })
}

/// Sends `kind` to each target (a pid on several GPUs once) and says what
/// happened, in one line for the status bar.
pub fn send(kind: SignalKind, targets: &[ProcessKey]) -> String {
    send_with(kind, targets, send_one)
}

/// [`send`] with the sending function given (tests).
pub fn send_with(
    kind: SignalKind,
    targets: &[ProcessKey],
    mut send_one: impl FnMut(SignalKind, &ProcessKey) -> Result<(), Refusal>,
) -> String {
    let mut seen = Vec::new();
    let (mut sent, mut failed) = (Vec::new(), Vec::new());
    for target in targets {
        if seen.contains(&(target.pid, target.start_ticks)) {
            continue;
        }
        seen.push((target.pid, target.start_ticks));
        match send_one(kind, target) {
            Ok(()) => sent.push(target.pid.to_string()),
            Err(why) => failed.push(format!("{} ({why})", target.pid)),
        }
    }
    let mut line = String::new();
    if !sent.is_empty() {
        line = format!("{} sent to {}", kind.name(), sent.join(", "));
    }
    if !failed.is_empty() {
        if !line.is_empty() {
            line.push_str("; ");
        }
        line.push_str(kind.name());
        line.push_str(" not sent to ");
        line.push_str(&failed.join(", "));
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(pid: u32, device: &str) -> ProcessKey {
        ProcessKey {
            pid,
            start_ticks: Some(1),
            device: device.to_owned(),
        }
    }

    #[test]
    fn every_outcome_is_reported_once_per_process() {
        let targets = [key(10, "0"), key(10, "1"), key(11, "0"), key(12, "0")];
        let line = send_with(SignalKind::Kill, &targets, |_, k| match k.pid {
            10 => Ok(()),
            11 => Err(Refusal::Permission),
            _ => Err(Refusal::Reused),
        });
        assert_eq!(
            line,
            "SIGKILL sent to 10; SIGKILL not sent to 11 (permission denied), \
             12 (pid reused by another process, not signalled)"
        );
    }

    #[test]
    fn a_process_the_host_does_not_know_is_never_signalled() {
        let unknown = ProcessKey {
            pid: std::process::id(),
            start_ticks: None,
            device: "0".to_owned(),
        };
        assert_eq!(send_one(SignalKind::Term, &unknown), Err(Refusal::Unknown));
    }

    #[test]
    fn a_reused_pid_is_refused() {
        // Our own pid with another start time: the identity a reused pid has.
        let me = HostProcess::current();
        let stale = ProcessKey {
            pid: me.pid(),
            start_ticks: Some(me.start_ticks() + 1),
            device: "0".to_owned(),
        };
        assert_eq!(send_one(SignalKind::Kill, &stale), Err(Refusal::Reused));
    }
}

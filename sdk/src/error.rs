//! The SDK's error type.

use std::path::PathBuf;

use crate::backend::BackendError;
use crate::backend::sim::ScenarioError;

/// Everything that can go wrong in the SDK, each with a message that says
/// what to do about it.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::{Device, Error, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let err = Device::new_in(&backend, 7).unwrap_err();
/// assert!(matches!(err, Error::InvalidIndex { index: 7, count: 4 }));
/// assert_eq!(err.to_string(), "no GPU with index 7: this machine has 4 GPUs, indices 0 to 3");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The driver (or simulator) reported an error.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A simulator scenario could not be loaded.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A logger sink could not be created or written.
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    /// A device index that does not exist.
    #[error("no GPU with index {index}: {}", gpus_and_indices(*count))]
    InvalidIndex {
        /// The index asked for.
        index: u32,
        /// How many devices there are.
        count: u32,
    },
    /// A CUDA device index that does not exist under the current `CUDA_VISIBLE_DEVICES`.
    #[error(
        "no CUDA device with index {index}: {count} device(s) are visible to CUDA ({})",
        cuda_visible_hint(ignored.as_ref())
    )]
    InvalidCudaIndex {
        /// The CUDA index asked for.
        index: u32,
        /// How many devices CUDA sees.
        count: usize,
        /// The entry of `CUDA_VISIBLE_DEVICES` CUDA stopped at, when it
        /// stopped early: often why there are fewer devices than expected.
        ignored: Option<crate::device::cuda_visible::IgnoredEntry>,
    },
    /// The process does not exist (any more).
    #[error("no process with pid {pid} (it may have exited)")]
    NoSuchProcess {
        /// The pid.
        pid: u32,
    },
    /// The pid now belongs to a different process than the one this handle was made for.
    #[error(
        "pid {pid} now belongs to a different process (the original exited and the pid was reused); refusing to touch it"
    )]
    PidReused {
        /// The pid.
        pid: u32,
    },
    /// The operating system refused the operation.
    #[error("permission denied for {action} on pid {pid}: run as the process owner or root")]
    PermissionDenied {
        /// The pid.
        pid: u32,
        /// What was attempted.
        action: String,
    },
    /// An operating-system call failed.
    #[error("{action} on pid {pid} failed: {source}")]
    Os {
        /// The pid.
        pid: u32,
        /// What was attempted.
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Host information could not be read.
    #[error("could not read host information: {0}")]
    Host(String),
    /// The SDK could not start one of its background threads (the system
    /// is out of threads or memory, or a limit such as `ulimit -u` or a
    /// cgroup's `pids.max` was reached).
    ///
    /// ```
    /// use nvitop::Error;
    /// let err = Error::ThreadSpawn {
    ///     thread: "collector",
    ///     source: std::io::Error::from(std::io::ErrorKind::WouldBlock),
    /// };
    /// assert!(err.to_string().starts_with("could not start the collector thread"));
    /// ```
    #[error(
        "could not start the {thread} thread: {source} (the system is out of threads or memory, or a limit such as ulimit -u or a cgroup's pids.max was reached)"
    )]
    ThreadSpawn {
        /// Which thread.
        thread: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A sampling interval outside the accepted range.
    #[error("sampling interval {interval:?} is out of range: use 10 ms to 60 s")]
    InvalidInterval {
        /// The interval asked for.
        interval: std::time::Duration,
    },
    /// The default backend was already created, so it can no longer be replaced.
    #[error("the default backend was already set or created; call set_default_backend before any other SDK call")]
    BackendAlreadySet,
}

/// Result alias for the SDK.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// fn busiest(backend: &Arc<dyn Backend>) -> nvitop::Result<u32> {
///     let devices = Device::all_in(backend)?;
///     Ok(devices.iter().max_by_key(|d| d.gpu_utilization()).map_or(0, Device::index))
/// }
/// let sim = SimBackend::default_machine();
/// sim.set_time(10.0);
/// let backend: Arc<dyn Backend> = Arc::new(sim);
/// assert_eq!(busiest(&backend).unwrap(), 0); // the training H100
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to check when a CUDA index is missing: the entry CUDA stopped at, if any.
fn cuda_visible_hint(ignored: Option<&crate::device::cuda_visible::IgnoredEntry>) -> String {
    ignored.map_or_else(
        || "check CUDA_VISIBLE_DEVICES".to_owned(),
        |entry| format!("CUDA_VISIBLE_DEVICES {entry}"),
    )
}

/// "this machine has 4 GPUs, indices 0 to 3", for an out-of-range index.
fn gpus_and_indices(count: u32) -> String {
    match count {
        0 => "this machine has no GPU".to_owned(),
        1 => "this machine has 1 GPU, index 0".to_owned(),
        n => format!("this machine has {n} GPUs, indices 0 to {}", n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_index_names_the_indices_there_are() {
        let msg = |index, count| Error::InvalidIndex { index, count }.to_string();
        assert_eq!(msg(0, 0), "no GPU with index 0: this machine has no GPU");
        assert_eq!(msg(1, 1), "no GPU with index 1: this machine has 1 GPU, index 0");
        assert_eq!(
            msg(9, 8),
            "no GPU with index 9: this machine has 8 GPUs, indices 0 to 7"
        );
    }

    #[test]
    fn a_missing_cuda_index_names_the_entry_cuda_stopped_at() {
        use crate::device::cuda_visible::{IgnoredEntry, IgnoredReason};
        let plain = Error::InvalidCudaIndex {
            index: 1,
            count: 1,
            ignored: None,
        };
        assert_eq!(
            plain.to_string(),
            "no CUDA device with index 1: 1 device(s) are visible to CUDA (check CUDA_VISIBLE_DEVICES)"
        );
        let stopped = Error::InvalidCudaIndex {
            index: 1,
            count: 1,
            ignored: Some(IgnoredEntry {
                position: 2,
                entries: 2,
                entry: "l".to_owned(),
                reason: IgnoredReason::NotADeviceName,
            }),
        };
        assert_eq!(
            stopped.to_string(),
            "no CUDA device with index 1: 1 device(s) are visible to CUDA (CUDA_VISIBLE_DEVICES entry 2 of 2, \
             'l', is neither a GPU index nor a GPU-/MIG- UUID: CUDA ignores it)"
        );
    }
}

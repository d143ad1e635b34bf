//! Processes: on the GPU ([`GpuProcess`]) and on the host ([`HostProcess`]).

mod gpu;
mod host;
mod host_info;
pub(crate) mod proc_stat;

pub use gpu::GpuProcess;
pub(crate) use gpu::latest_utilization;
pub use host::HostProcess;
pub use host_info::{HostProcessInfo, host_process_info, host_process_infos};

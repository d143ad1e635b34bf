//! Processes: on the GPU ([`GpuProcess`]) and on the host ([`HostProcess`],
//! and [`HostProcessReader`] for many at once, over time).

mod cpu_window;
mod gpu;
mod host;
mod host_info;
pub(crate) mod proc_stat;
mod signal;

pub use cpu_window::MIN_CPU_WINDOW;
pub use gpu::GpuProcess;
pub(crate) use gpu::latest_utilization;
pub use host::HostProcess;
pub use host_info::{HostProcessInfo, HostProcessReader, host_process_info, host_process_infos};

//! # nvitop
//!
//! The GPU device, process and host API of nvitop-rs, over NVML or a
//! built-in simulator.
//!
//! ```
//! use std::sync::Arc;
//! use nvitop::{Device, Snapshot, backend::{Backend, sim::SimBackend}};
//!
//! // `Device::all()` uses the default backend (NVML, or the simulator when
//! // NVITOP_SIMULATE is set); here the simulator is chosen explicitly.
//! let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
//! for device in Device::all_in(&backend)? {
//!     println!("GPU {}: {:?} {:?}%", device.index(), device.name(), device.gpu_utilization());
//!     for process in device.processes().unwrap_or_default() {
//!         println!("  {} {:?}", process.pid(), process.gpu_memory_human());
//!     }
//! }
//! # Ok::<(), nvitop::Error>(())
//! ```
//!
//! See the README for the tour and `docs/ARCHITECTURE.md` for how data flows.

pub mod backend;
pub mod collector;
pub mod device;
#[doc(hidden)]
pub mod doctest;
mod error;
pub mod format;
pub mod global;
pub mod host;
pub mod logger;
pub mod process;
pub mod sampler;
pub mod sink;
pub mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;
pub mod training;
pub mod users;

pub use collector::ResourceCollector;
pub use device::{CudaDevice, Device, DeviceIndex, MigDevice};
pub use error::{Error, Result};
pub use global::{default_backend, set_default_backend};
pub use logger::{GpuStatsLogger, LogReport, LoggerOptions};
pub use process::{GpuProcess, HostProcess, HostProcessInfo};
pub use snapshot::{DeviceSnapshot, ProcessSnapshot, Snapshot};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

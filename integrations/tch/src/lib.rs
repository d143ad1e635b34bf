//! # nvitop-tch
//!
//! GPU statistics from [nvitop-rs](nvitop) in [`tch`] (libtorch) training
//! loops:
//!
//! - **Device mapping**: `tch::Device::Cuda(i)` is CUDA ordinal `i`, which
//!   under `CUDA_VISIBLE_DEVICES` may be any physical GPU or a MIG device.
//!   [`cuda_device`] / [`cuda_devices`] give the [`CudaDevice`] behind a tch
//!   device, [`tch_device`] goes the other way.
//! - **Logger construction**: [`logger_builder_for`] starts a
//!   [`GpuStatsLoggerBuilder`] for the CUDA devices a program trains on (CPU,
//!   MPS and Vulkan devices are skipped).
//! - **True step times on a GPU**: CUDA kernels run asynchronously, so a step
//!   clock stopped when the Rust code returns measures the launch, not the
//!   work. [`TchLoggerExt::synced_step`] synchronises the CUDA devices in use
//!   (`tch::Cuda::synchronize`) before the step clock stops; on the CPU it is
//!   the plain [`GpuStatsLogger::step`].
//!
//! ```no_run
//! use nvitop_tch::{TchLoggerExt, logger_builder_for};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let devices = [tch::Device::cuda_if_available()];
//! let logger = logger_builder_for(&devices)
//!     .tensorboard("runs/my-run")
//!     .csv("runs/my-run/gpu.csv")
//!     .intra_step_time(true)
//!     .build()?;
//! logger.on_train_start();
//! for step in 0..100 {
//!     let _step = logger.synced_step(step, &devices); // syncs CUDA, then stops the clock
//!     // forward, backward, optimizer step on `devices[0]`
//! }
//! logger.close();
//! # Ok(())
//! # }
//! ```
//!
//! Building needs libtorch 2.13.0 (what tch 0.26 binds): from the repository
//! root, `eval "$(scripts/provision-libtorch.sh)"`.

use std::sync::Arc;

use nvitop::backend::Backend;
use nvitop::device::CUDA_VISIBLE_DEVICES;
use nvitop::logger::{GpuStatsLoggerBuilder, StepSync};
use nvitop::{CudaDevice, Device, GpuStatsLogger};

/// What can go wrong when mapping tch devices to nvitop devices.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The nvitop SDK failed (no driver, a CUDA ordinal that does not exist, ...).
    #[error(transparent)]
    Nvitop(#[from] nvitop::Error),
    /// libtorch sees more CUDA devices than the driver lists under
    /// `CUDA_VISIBLE_DEVICES`, so some tch devices have no nvitop device.
    #[error(
        "libtorch sees {tch} CUDA device(s) but nvitop finds {nvitop} under {CUDA_VISIBLE_DEVICES} \
         (is nvitop reading another machine, such as the simulator?)"
    )]
    DeviceCountMismatch {
        /// `tch::Cuda::device_count()`.
        tch: usize,
        /// Devices nvitop finds under `CUDA_VISIBLE_DEVICES`.
        nvitop: usize,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The CUDA ordinal of a tch device, `None` for CPU, MPS and Vulkan devices.
///
/// ```
/// use nvitop_tch::cuda_ordinal;
/// assert_eq!(cuda_ordinal(tch::Device::Cuda(1)), Some(1));
/// assert_eq!(cuda_ordinal(tch::Device::Cpu), None);
/// ```
pub fn cuda_ordinal(device: tch::Device) -> Option<u32> {
    match device {
        tch::Device::Cuda(index) => u32::try_from(index).ok(),
        tch::Device::Cpu | tch::Device::Mps | tch::Device::Vulkan => None,
    }
}

/// The CUDA ordinals among `devices`, in first-seen order without
/// repetitions; non-CUDA devices are skipped.
///
/// ```
/// use nvitop_tch::cuda_ordinals;
/// use tch::Device;
/// let devices = [Device::Cuda(1), Device::Cpu, Device::Cuda(0), Device::Cuda(1)];
/// assert_eq!(cuda_ordinals(&devices), [1, 0]);
/// ```
pub fn cuda_ordinals(devices: &[tch::Device]) -> Vec<u32> {
    let mut ordinals = Vec::with_capacity(devices.len());
    for ordinal in devices.iter().copied().filter_map(cuda_ordinal) {
        if !ordinals.contains(&ordinal) {
            ordinals.push(ordinal);
        }
    }
    ordinals
}

/// The tch device for a CUDA device: `tch::Device::Cuda(cuda_index)`.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let visible = Device::from_cuda_visible_devices_in(&backend, Some("3,0"))?;
/// assert_eq!(nvitop_tch::tch_device(&visible[1]), tch::Device::Cuda(1)); // physical GPU 0
/// # Ok::<(), nvitop::Error>(())
/// ```
pub fn tch_device(device: &CudaDevice) -> tch::Device {
    tch::Device::Cuda(device.cuda_index() as usize)
}

/// The nvitop device behind a tch device under the current
/// `CUDA_VISIBLE_DEVICES`, through the default backend (NVML, or the
/// simulator with `NVITOP_SIMULATE`); `Ok(None)` for a non-CUDA device.
///
/// # Errors
/// No driver, or a CUDA ordinal that CUDA would not have.
pub fn cuda_device(device: tch::Device) -> Result<Option<CudaDevice>> {
    Ok(cuda_devices(&[device])?.pop())
}

/// [`cuda_device`] for an explicit backend and `CUDA_VISIBLE_DEVICES` value
/// (`None` = unset).
///
/// ```
/// use std::sync::Arc;
/// use nvitop::backend::{Backend, sim::SimBackend};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let cuda0 = nvitop_tch::cuda_device_in(&backend, Some("3,0"), tch::Device::Cuda(0))?;
/// assert_eq!(cuda0.map(|d| d.index()), Some(3));
/// assert!(nvitop_tch::cuda_device_in(&backend, None, tch::Device::Cpu)?.is_none());
/// # Ok::<(), nvitop_tch::Error>(())
/// ```
pub fn cuda_device_in(
    backend: &Arc<dyn Backend>,
    cuda_visible_devices: Option<&str>,
    device: tch::Device,
) -> Result<Option<CudaDevice>> {
    let Some(ordinal) = cuda_ordinal(device) else {
        return Ok(None);
    };
    let mut found = Device::from_cuda_indices_in(backend, cuda_visible_devices, &[ordinal])?;
    Ok(found.pop())
}

/// The nvitop devices behind the CUDA devices among `devices` (order and
/// repetitions as in [`cuda_ordinals`]), under the current
/// `CUDA_VISIBLE_DEVICES` and the default backend.
///
/// # Errors
/// No driver, or a CUDA ordinal that CUDA would not have.
pub fn cuda_devices(devices: &[tch::Device]) -> Result<Vec<CudaDevice>> {
    Ok(Device::from_cuda_indices(&cuda_ordinals(devices))?)
}

/// [`cuda_devices`] for an explicit backend and `CUDA_VISIBLE_DEVICES` value.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::backend::{Backend, sim::SimBackend};
/// use tch::Device;
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let found = nvitop_tch::cuda_devices_in(&backend, Some("2,1"), &[Device::Cpu, Device::Cuda(1)])?;
/// assert_eq!(found.len(), 1);
/// assert_eq!((found[0].cuda_index(), found[0].index()), (1, 1));
/// # Ok::<(), nvitop_tch::Error>(())
/// ```
pub fn cuda_devices_in(
    backend: &Arc<dyn Backend>,
    cuda_visible_devices: Option<&str>,
    devices: &[tch::Device],
) -> Result<Vec<CudaDevice>> {
    Ok(Device::from_cuda_indices_in(
        backend,
        cuda_visible_devices,
        &cuda_ordinals(devices),
    )?)
}

/// Every CUDA device libtorch sees (`tch::Cuda::device_count()`), paired
/// with its nvitop device.
///
/// # Errors
/// No driver, or libtorch seeing more devices than nvitop
/// ([`Error::DeviceCountMismatch`]).
pub fn visible_devices() -> Result<Vec<(tch::Device, CudaDevice)>> {
    let count = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
    pair_visible(count, Device::from_cuda_visible_devices()?)
}

/// Pairs the first `tch_count` CUDA-visible devices with their tch devices.
/// libtorch may see fewer devices than nvitop (a CPU-only libtorch, or the
/// simulator on a machine without GPUs), never more.
fn pair_visible(tch_count: usize, visible: Vec<CudaDevice>) -> Result<Vec<(tch::Device, CudaDevice)>> {
    if tch_count > visible.len() {
        return Err(Error::DeviceCountMismatch {
            tch: tch_count,
            nvitop: visible.len(),
        });
    }
    Ok(visible
        .into_iter()
        .take(tch_count)
        .map(|device| (tch_device(&device), device))
        .collect())
}

/// A logger builder for the CUDA devices among `devices`, the devices a tch
/// program trains on (keys `gpu_id: <cuda ordinal>`, with the physical
/// index where `CUDA_VISIBLE_DEVICES` makes them differ). CPU, MPS and
/// Vulkan devices are skipped: a CPU-only run logs step times and host
/// metrics only.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::backend::sim::SimBackend;
/// use nvitop::sink::MemorySink;
///
/// let sink = MemorySink::new();
/// let rows = sink.handle();
/// let logger = nvitop_tch::logger_builder_for(&[tch::Device::Cpu, tch::Device::Cuda(0)])
///     .backend(Arc::new(SimBackend::default_machine()))
///     .sink(Box::new(sink))
///     .build()?;
/// if std::env::var_os("CUDA_VISIBLE_DEVICES").is_none() {
///     // cuda:0 is the simulator's GPU 0.
///     assert!(logger.keys().iter().any(|k| k == "gpu_id: 0/utilization.gpu (%)"));
/// }
/// assert!(logger.keys().iter().any(|k| k.starts_with("gpu_id: 0")));
/// logger.close();
/// # Ok::<(), nvitop::Error>(())
/// ```
pub fn logger_builder_for(devices: &[tch::Device]) -> GpuStatsLoggerBuilder {
    let ordinals = cuda_ordinals(devices);
    if ordinals.is_empty() {
        // No GPU to look up: a CPU-only program gets its logger (step times,
        // host metrics) without asking for a driver it may not have.
        return GpuStatsLogger::builder_for_devices(Vec::new());
    }
    GpuStatsLogger::builder_for_cuda_devices(&ordinals)
}

/// Waits for every CUDA device among `devices` to finish its queued work
/// (`tch::Cuda::synchronize`); nothing to do for other devices.
///
/// Never panics (it runs when a step guard drops): a CUDA device libtorch
/// does not have (a CPU-only libtorch, an ordinal past
/// `tch::Cuda::device_count()`) is skipped, and a failed synchronisation
/// (libtorch reporting a CUDA error) is caught; both are logged as a warning,
/// once per process.
///
/// ```
/// // With a CPU-only libtorch, cuda:0 is not there: skipped with a warning.
/// nvitop_tch::synchronize(&[tch::Device::Cpu, tch::Device::Cuda(0)]);
/// ```
pub fn synchronize(devices: &[tch::Device]) {
    let mut count = None;
    for (i, device) in devices.iter().enumerate() {
        if let tch::Device::Cuda(index) = *device
            // The same device twice needs one synchronisation.
            && !devices[..i].contains(device)
        {
            let Ok(index) = i64::try_from(index) else { continue };
            // tch panics on any libtorch error; this runs in a guard's drop.
            let count = *count.get_or_insert_with(|| std::panic::catch_unwind(tch::Cuda::device_count).unwrap_or(0));
            if index >= count {
                warn_once(&format!(
                    "cuda:{index} not synchronised before the end of the step: libtorch sees {count} CUDA device(s)"
                ));
            } else if std::panic::catch_unwind(|| tch::Cuda::synchronize(index)).is_err() {
                warn_once(&format!("synchronising cuda:{index} before the end of the step failed"));
            }
        }
    }
}

/// A `log` warning, only the first time in this process: a misconfigured
/// sync would otherwise warn at every step.
fn warn_once(message: &str) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        log::warn!("{message} (further sync warnings are not shown)");
    }
}

/// Step timing for tch programs, on [`GpuStatsLogger`].
pub trait TchLoggerExt {
    /// `on_train_batch_start(step)` now; when the guard drops, synchronises
    /// the CUDA devices among `devices`, then `on_train_batch_end(step)`,
    /// so `batch_time/intra_step (ms)` includes the GPU work the step
    /// queued. On CPU devices it is [`GpuStatsLogger::step`]. A CUDA device
    /// that cannot be synchronised is skipped with a warning (see
    /// [`synchronize`]); the step still ends.
    fn synced_step<'a>(&'a self, step: u64, devices: &'a [tch::Device]) -> SyncedStep<'a>;

    /// Logs a one-element tensor (the loss) with
    /// [`GpuStatsLogger::log_scalar`], into the same TensorBoard run and CSV
    /// as the GPU statistics. Reading the tensor copies it to the host,
    /// which waits for the device as printing the loss would; the logging
    /// itself is a hook's cost. A tensor that is not a single number (0-d, as a loss is) is skipped
    /// with a warning.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{GpuStatsLogger, backend::sim::SimBackend, sink::MemorySink};
    /// use nvitop_tch::TchLoggerExt;
    /// let sink = MemorySink::new();
    /// let rows = sink.handle();
    /// let logger = GpuStatsLogger::builder(&[0])
    ///     .backend(Arc::new(SimBackend::default_machine()))
    ///     .sink(Box::new(sink))
    ///     .build()?;
    /// logger.log_tensor("train/loss", &tch::Tensor::from(0.5_f64), 7);
    /// logger.close();
    /// assert_eq!(rows.records()[0].get("train/loss"), Some(0.5));
    /// # Ok::<(), nvitop::Error>(())
    /// ```
    fn log_tensor(&self, tag: &str, tensor: &tch::Tensor, step: u64);
}

impl TchLoggerExt for GpuStatsLogger {
    fn synced_step<'a>(&'a self, step: u64, devices: &'a [tch::Device]) -> SyncedStep<'a> {
        self.step_with_sync(step, CudaSync(devices))
    }

    fn log_tensor(&self, tag: &str, tensor: &tch::Tensor, step: u64) {
        match tensor.f_double_value(&[]) {
            Ok(value) => self.log_scalar(tag, value, step),
            Err(err) => log::warn!("{tag}: not logged, the tensor is not one number ({err})"),
        }
    }
}

/// Ends a step when dropped, after synchronising CUDA (see
/// [`TchLoggerExt::synced_step`]).
pub type SyncedStep<'a> = nvitop::logger::SyncedStep<'a, CudaSync<'a>>;

/// Waits for the CUDA devices among its devices ([`synchronize`]): what
/// [`TchLoggerExt::synced_step`] gives [`GpuStatsLogger::step_with_sync`].
///
/// ```
/// use nvitop::logger::StepSync;
/// nvitop_tch::CudaSync(&[tch::Device::Cpu]).sync(); // no CUDA device: nothing to wait for
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CudaSync<'a>(pub &'a [tch::Device]);

impl StepSync for CudaSync<'_> {
    fn sync(&self) {
        synchronize(self.0);
    }
}

/// The crate README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The root README's snippets, compiled as doctests of this crate too (the
/// `tch` one is only compiled here, see the `tch-readme` feature).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct RootReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;
    use nvitop::backend::sim::SimBackend;

    fn sim() -> Arc<dyn Backend> {
        Arc::new(SimBackend::default_machine())
    }

    #[test]
    fn cuda_ordinals_skip_non_cuda_devices_and_repeats() {
        use tch::Device::{Cpu, Cuda, Mps, Vulkan};
        assert_eq!(cuda_ordinals(&[Cpu, Mps, Vulkan]), Vec::<u32>::new());
        assert_eq!(cuda_ordinals(&[Cuda(2), Cpu, Cuda(0), Cuda(2)]), [2, 0]);
    }

    #[test]
    fn cuda_index_maps_through_cuda_visible_devices() -> Result<()> {
        let backend = sim();
        // Unset: CUDA ordinal i is physical GPU i.
        for i in 0..4 {
            let found = cuda_device_in(&backend, None, tch::Device::Cuda(i))?;
            assert_eq!(found.map(|d| (d.cuda_index(), d.index())), Some((i as u32, i as u32)));
        }
        // Reordered: cuda:0 is GPU 3, cuda:1 is GPU 0.
        let found = cuda_devices_in(&backend, Some("3,0"), &[tch::Device::Cuda(1), tch::Device::Cuda(0)])?;
        let pairs: Vec<_> = found.iter().map(|d| (d.cuda_index(), d.index())).collect();
        assert_eq!(pairs, [(1, 0), (0, 3)]);
        // And back.
        assert_eq!(tch_device(&found[1]), tch::Device::Cuda(0));
        Ok(())
    }

    #[test]
    fn an_ordinal_cuda_would_not_have_is_an_error() {
        let err = cuda_device_in(&sim(), Some("1"), tch::Device::Cuda(1));
        assert!(
            matches!(
                err,
                Err(Error::Nvitop(nvitop::Error::InvalidCudaIndex {
                    index: 1,
                    count: 1,
                    ..
                }))
            ),
            "{err:?}"
        );
    }

    #[test]
    fn cpu_devices_have_no_nvitop_device() -> Result<()> {
        assert!(cuda_device_in(&sim(), None, tch::Device::Cpu)?.is_none());
        assert!(cuda_devices_in(&sim(), Some(""), &[tch::Device::Cpu])?.is_empty());
        Ok(())
    }

    #[test]
    fn pairing_takes_what_libtorch_sees_and_refuses_more() -> Result<()> {
        let visible = Device::from_cuda_visible_devices_in(&sim(), Some("2,3"))?;
        let pairs = pair_visible(1, visible.clone())?;
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].0, tch::Device::Cuda(0));
        assert_eq!(pairs[0].1.index(), 2);
        assert!(pair_visible(0, visible.clone())?.is_empty());
        assert!(matches!(
            pair_visible(3, visible),
            Err(Error::DeviceCountMismatch { tch: 3, nvitop: 2 })
        ));
        Ok(())
    }

    #[test]
    fn a_cuda_device_libtorch_lacks_is_skipped_and_the_step_still_ends() -> Result<()> {
        // tch::Cuda::synchronize panics for an ordinal libtorch does not have
        // (any ordinal with a CPU-only libtorch); the guard must not.
        let missing = tch::Device::Cuda(usize::try_from(tch::Cuda::device_count()).unwrap_or(0) + 3);
        assert!(
            std::panic::catch_unwind(|| tch::Cuda::synchronize(cuda_ordinal(missing).map_or(0, i64::from))).is_err(),
            "libtorch itself refuses to synchronise {missing:?}"
        );
        synchronize(&[missing, tch::Device::Cpu, missing]);
        let sink = nvitop::sink::MemorySink::new();
        let rows = sink.handle();
        let logger = GpuStatsLogger::builder(&[0])
            .backend(sim())
            .sink(Box::new(sink))
            .intra_step_time(true)
            .build()?;
        let devices = [missing];
        drop(logger.synced_step(0, &devices));
        assert_eq!(logger.close().written, 2);
        assert!(rows.records()[1].get("batch_time/intra_step (ms)").is_some());
        Ok(())
    }

    #[test]
    fn libtorch_answers_on_this_machine() {
        // Runs libtorch for real: its two answers about CUDA agree (none on
        // a CPU-only machine), and synchronising a CPU device list is a no-op.
        let count = tch::Cuda::device_count();
        assert_eq!(tch::Cuda::is_available(), count > 0, "{count} CUDA devices");
        synchronize(&[tch::Device::Cpu]);
        let t = tch::Tensor::from_slice(&[1.0_f32, 2.0, 3.0]).sum(tch::Kind::Float);
        assert!((t.double_value(&[]) - 6.0).abs() < 1e-9);
    }
}

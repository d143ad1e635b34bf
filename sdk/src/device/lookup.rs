//! Finding devices: by index, UUID, bus id, and the whole machine.
//!
//! Each constructor has a `*_in` form taking an explicit backend, for tests
//! and embedding; the plain form uses [`crate::default_backend`].

use std::sync::Arc;

use super::Device;
use crate::backend::{Backend, DeviceRef};
use crate::error::{Error, Result};
use crate::global::default_backend;

impl Device {
    /// Number of physical GPUs.
    ///
    /// # Errors
    /// No driver (the error suggests `--simulate`), or a driver failure.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::sim::SimBackend};
    /// let backend = Arc::new(SimBackend::default_machine());
    /// assert_eq!(Device::count_in(&backend).unwrap(), 4);
    /// ```
    #[doc(alias = "nvmlDeviceGetCount")]
    pub fn count() -> Result<u32> {
        Self::count_in(&default_backend()?)
    }

    /// [`Device::count`] on an explicit backend.
    pub fn count_in<B: Backend + ?Sized>(backend: &Arc<B>) -> Result<u32> {
        Ok(backend.device_count()?)
    }

    /// All physical GPUs, in NVML order.
    ///
    /// # Errors
    /// No driver (the error names the library path tried and suggests `--simulate`).
    pub fn all() -> Result<Vec<Self>> {
        Self::all_in(&default_backend()?)
    }

    /// [`Device::all`] on an explicit backend.
    pub fn all_in(backend: &Arc<dyn Backend>) -> Result<Vec<Self>> {
        let count = backend.device_count()?;
        Ok((0..count)
            .map(|i| Self::from_parts(Arc::clone(backend), DeviceRef::Physical(i)))
            .collect())
    }

    /// The physical GPU with NVML index `index`.
    ///
    /// # Errors
    /// [`Error::InvalidIndex`] when there is no such GPU.
    pub fn new(index: u32) -> Result<Self> {
        Self::new_in(&default_backend()?, index)
    }

    /// [`Device::new`] on an explicit backend.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// assert!(Device::new_in(&backend, 1).is_ok());
    /// let err = Device::new_in(&backend, 9).unwrap_err();
    /// assert!(err.to_string().contains("no GPU with index 9"));
    /// ```
    pub fn new_in(backend: &Arc<dyn Backend>, index: u32) -> Result<Self> {
        let count = backend.device_count()?;
        if index >= count {
            return Err(Error::InvalidIndex { index, count });
        }
        Ok(Self::from_parts(Arc::clone(backend), DeviceRef::Physical(index)))
    }

    /// Several physical GPUs by index, in the order given.
    ///
    /// # Errors
    /// [`Error::InvalidIndex`] naming the first index that does not exist.
    pub fn from_indices(indices: &[u32]) -> Result<Vec<Self>> {
        Self::from_indices_in(&default_backend()?, indices)
    }

    /// [`Device::from_indices`] on an explicit backend.
    pub fn from_indices_in(backend: &Arc<dyn Backend>, indices: &[u32]) -> Result<Vec<Self>> {
        indices.iter().map(|&i| Self::new_in(backend, i)).collect()
    }

    /// The GPU or MIG device with this UUID (`GPU-...` / `MIG-...`).
    ///
    /// # Errors
    /// `NotFound` naming the UUID.
    #[doc(alias = "nvmlDeviceGetHandleByUUID")]
    pub fn from_uuid(uuid: &str) -> Result<Self> {
        Self::from_uuid_in(&default_backend()?, uuid)
    }

    /// [`Device::from_uuid`] on an explicit backend.
    pub fn from_uuid_in(backend: &Arc<dyn Backend>, uuid: &str) -> Result<Self> {
        let handle = backend.device_by_uuid(uuid.trim())?;
        Ok(Self::from_parts(Arc::clone(backend), handle))
    }

    /// The GPU at this PCI bus id (`00000000:07:00.0`, `0000:07:00.0` or `07:00.0`).
    ///
    /// # Errors
    /// `NotFound` naming the bus id.
    #[doc(alias = "nvmlDeviceGetHandleByPciBusId")]
    pub fn from_bus_id(bus_id: &str) -> Result<Self> {
        Self::from_bus_id_in(&default_backend()?, bus_id)
    }

    /// [`Device::from_bus_id`] on an explicit backend.
    pub fn from_bus_id_in(backend: &Arc<dyn Backend>, bus_id: &str) -> Result<Self> {
        let handle = backend.device_by_bus_id(bus_id.trim())?;
        Ok(Self::from_parts(Arc::clone(backend), handle))
    }

    /// The driver version, e.g. `550.54.15`.
    ///
    /// # Errors
    /// No driver.
    #[doc(alias = "nvmlSystemGetDriverVersion")]
    pub fn driver_version() -> Result<String> {
        Ok(default_backend()?.driver_version()?)
    }

    /// The highest CUDA version the driver supports, e.g. `12.4`.
    ///
    /// # Errors
    /// No driver.
    #[doc(alias = "nvmlSystemGetCudaDriverVersion")]
    pub fn cuda_driver_version() -> Result<String> {
        Ok(cuda_version_string(default_backend()?.cuda_driver_version()?))
    }
}

/// `12040` → `"12.4"`, as NVML encodes CUDA versions (`1000 * major + 10 * minor`).
///
/// ```
/// assert_eq!(nvitop::device::cuda_version_string(12040), "12.4");
/// assert_eq!(nvitop::device::cuda_version_string(11080), "11.8");
/// ```
pub fn cuda_version_string(encoded: i32) -> String {
    format!("{}.{}", encoded / 1000, (encoded % 1000) / 10)
}

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
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("h100x8").unwrap());
    /// assert_eq!(Device::count_in(&backend).unwrap(), 8);
    /// ```
    pub fn count_in<B: Backend + ?Sized>(backend: &Arc<B>) -> Result<u32> {
        Ok(backend.device_count()?)
    }

    /// All physical GPUs, in NVML order.
    ///
    /// # Errors
    /// No driver (the error names the library path tried and suggests `--simulate`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// // The default backend is NVML unless NVITOP_SIMULATE says otherwise, or a
    /// // program installs one first:
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// let devices = Device::all().unwrap();
    /// assert_eq!(devices.len(), 4);
    /// assert_eq!(devices[3].index(), 3);
    /// ```
    pub fn all() -> Result<Vec<Self>> {
        Self::all_in(&default_backend()?)
    }

    /// [`Device::all`] on an explicit backend.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let devices = Device::all_in(&backend).unwrap();
    /// assert_eq!(devices.len(), 4);
    /// assert!(devices.iter().all(|d| !d.is_mig_device())); // physical GPUs only
    /// ```
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
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// assert_eq!(Device::new(2).unwrap().index(), 2);
    /// assert!(Device::new(4).is_err());
    /// ```
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
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// let devices = Device::from_indices(&[3, 0]).unwrap();
    /// assert_eq!(devices[0].index(), 3);
    /// assert!(Device::from_indices(&[0, 9]).is_err());
    /// ```
    pub fn from_indices(indices: &[u32]) -> Result<Vec<Self>> {
        Self::from_indices_in(&default_backend()?, indices)
    }

    /// [`Device::from_indices`] on an explicit backend.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let devices = Device::from_indices_in(&backend, &[2, 1]).unwrap();
    /// assert_eq!(devices.iter().map(Device::index).collect::<Vec<_>>(), [2, 1]);
    /// ```
    pub fn from_indices_in(backend: &Arc<dyn Backend>, indices: &[u32]) -> Result<Vec<Self>> {
        indices.iter().map(|&i| Self::new_in(backend, i)).collect()
    }

    /// The GPU or MIG device with this UUID (`GPU-...` / `MIG-...`).
    ///
    /// # Errors
    /// `NotFound` naming the UUID.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// nvitop::set_default_backend(Arc::clone(&backend)).unwrap();
    /// let gpu = Device::new(0).unwrap();
    /// assert_eq!(Device::from_uuid(&gpu.uuid().unwrap()).unwrap(), gpu);
    /// assert!(Device::from_uuid("GPU-00000000-0000-0000-0000-000000000000").is_err());
    /// ```
    #[doc(alias = "nvmlDeviceGetHandleByUUID")]
    pub fn from_uuid(uuid: &str) -> Result<Self> {
        Self::from_uuid_in(&default_backend()?, uuid)
    }

    /// [`Device::from_uuid`] on an explicit backend.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// // A MIG UUID finds the MIG device.
    /// let mig = Device::new_in(&backend, 1).unwrap().mig_devices().remove(1);
    /// let found = Device::from_uuid_in(&backend, &mig.uuid().unwrap()).unwrap();
    /// assert_eq!(found.display_index(), "1:1");
    /// ```
    pub fn from_uuid_in(backend: &Arc<dyn Backend>, uuid: &str) -> Result<Self> {
        let handle = backend.device_by_uuid(uuid.trim())?;
        Ok(Self::from_parts(Arc::clone(backend), handle))
    }

    /// The GPU at this PCI bus id (`00000000:07:00.0`, `0000:07:00.0` or `07:00.0`).
    ///
    /// # Errors
    /// `NotFound` naming the bus id.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// assert_eq!(Device::from_bus_id("00000000:18:00.0").unwrap().index(), 0);
    /// assert!(Device::from_bus_id("00000000:99:00.0").is_err());
    /// ```
    #[doc(alias = "nvmlDeviceGetHandleByPciBusId")]
    pub fn from_bus_id(bus_id: &str) -> Result<Self> {
        Self::from_bus_id_in(&default_backend()?, bus_id)
    }

    /// [`Device::from_bus_id`] on an explicit backend.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// // The short forms are accepted too.
    /// assert_eq!(Device::from_bus_id_in(&backend, "0000:5D:00.0").unwrap().index(), 3);
    /// assert_eq!(Device::from_bus_id_in(&backend, "5D:00.0").unwrap().index(), 3);
    /// ```
    pub fn from_bus_id_in(backend: &Arc<dyn Backend>, bus_id: &str) -> Result<Self> {
        let handle = backend.device_by_bus_id(bus_id.trim())?;
        Ok(Self::from_parts(Arc::clone(backend), handle))
    }

    /// The driver version, e.g. `550.54.15`.
    ///
    /// # Errors
    /// No driver.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// assert_eq!(Device::driver_version().unwrap(), "560.35.03");
    /// ```
    #[doc(alias = "nvmlSystemGetDriverVersion")]
    pub fn driver_version() -> Result<String> {
        Ok(default_backend()?.driver_version()?)
    }

    /// The highest CUDA version the driver supports, e.g. `12.4`.
    ///
    /// # Errors
    /// No driver.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
    /// assert_eq!(Device::cuda_driver_version().unwrap(), "12.6");
    /// ```
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

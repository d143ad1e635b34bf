//! The CUDA-visible view: CUDA index ↔ physical GPU or MIG device.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::Device;
use super::cuda_visible::{self, GpuIdentity, IgnoredEntry};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::global::default_backend;

/// The environment variable CUDA reads to choose devices.
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// assert_eq!(nvitop::device::CUDA_VISIBLE_DEVICES, "CUDA_VISIBLE_DEVICES");
/// let visible = Device::from_cuda_visible_devices_in(&backend, Some("2,0")).unwrap();
/// assert_eq!(visible.iter().map(|d| d.index()).collect::<Vec<_>>(), [2, 0]);
/// ```
pub const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";

/// A device as a CUDA program numbers it: `cuda:0` may be physical GPU 3,
/// or a MIG device.
///
/// Dereferences to [`Device`].
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let visible = Device::from_cuda_visible_devices_in(&backend, Some("3,0")).unwrap();
/// assert_eq!(visible[0].cuda_index(), 0);
/// assert_eq!(visible[0].index(), 3);
/// assert_eq!(visible[0].to_string(), "cuda:0 (gpu:3)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaDevice {
    cuda_index: u32,
    device: Device,
}

impl CudaDevice {
    /// The CUDA ordinal.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let visible = Device::from_cuda_visible_devices_in(&backend, Some("3,2")).unwrap();
    /// assert_eq!(visible[1].cuda_index(), 1);
    /// assert_eq!(visible[1].index(), 2);
    /// ```
    pub fn cuda_index(&self) -> u32 {
        self.cuda_index
    }

    /// The physical or MIG device behind this CUDA ordinal.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let visible = Device::from_cuda_visible_devices_in(&backend, Some("3")).unwrap();
    /// assert_eq!(visible[0].device(), &Device::new_in(&backend, 3).unwrap());
    /// ```
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Converts into the physical or MIG device.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let visible = Device::from_cuda_visible_devices_in(&backend, Some("3")).unwrap();
    /// let devices: Vec<Device> = visible.into_iter().map(|d| d.into_device()).collect();
    /// assert_eq!(devices[0].index(), 3);
    /// ```
    pub fn into_device(self) -> Device {
        self.device
    }
}

impl Deref for CudaDevice {
    type Target = Device;

    fn deref(&self) -> &Device {
        &self.device
    }
}

impl fmt::Display for CudaDevice {
    /// `cuda:0 (gpu:3)`, or `cuda:0 (gpu:2:1)` for a MIG device: the scope
    /// names nvitop's resource collector uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cuda:{} (gpu:{})", self.cuda_index, self.device.display_index())
    }
}

impl Device {
    /// The devices CUDA sees under the current `CUDA_VISIBLE_DEVICES`, in
    /// CUDA order (see [`super::cuda_visible`] for the rules).
    ///
    /// # Errors
    /// No driver.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// // Uses the default backend; the simulator stands in for the driver here.
    /// nvitop::set_default_backend(backend).unwrap();
    /// let visible = Device::from_cuda_visible_devices().unwrap();
    /// match std::env::var("CUDA_VISIBLE_DEVICES") {
    ///     Err(_) => assert_eq!(visible.len(), 4), // unset: every GPU (one MIG device for GPU 1)
    ///     Ok(value) => println!("CUDA_VISIBLE_DEVICES={value}: {} device(s)", visible.len()),
    /// }
    /// ```
    pub fn from_cuda_visible_devices() -> Result<Vec<CudaDevice>> {
        let value = std::env::var(CUDA_VISIBLE_DEVICES).ok();
        Self::from_cuda_visible_devices_in(&default_backend()?, value.as_deref())
    }

    /// [`Device::from_cuda_visible_devices`] for an explicit backend and
    /// variable value (`None` = unset).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// // Unset: every GPU; the MIG-enabled GPU 1 contributes its first MIG device.
    /// let all = Device::from_cuda_visible_devices_in(&backend, None).unwrap();
    /// assert_eq!(all.len(), 4);
    /// assert_eq!(all[1].to_string(), "cuda:1 (gpu:1:0)");
    /// // Empty: no device. Parsing stops at the first bad entry.
    /// assert!(Device::from_cuda_visible_devices_in(&backend, Some("")).unwrap().is_empty());
    /// assert_eq!(Device::from_cuda_visible_devices_in(&backend, Some("3,7,0")).unwrap().len(), 1);
    /// ```
    pub fn from_cuda_visible_devices_in(backend: &Arc<dyn Backend>, value: Option<&str>) -> Result<Vec<CudaDevice>> {
        Ok(Self::from_cuda_visible_devices_checked_in(backend, value)?.0)
    }

    /// [`Device::from_cuda_visible_devices_in`], and the entry of `value`
    /// that CUDA stops at, ignoring it and every entry after it (`None`
    /// when all of them name devices). CUDA says nothing about such an
    /// entry, so a program that shows the visible devices should (see
    /// [`super::cuda_visible::first_ignored_entry`]).
    ///
    /// # Errors
    /// No driver.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let (visible, ignored) = Device::from_cuda_visible_devices_checked_in(&backend, Some("3,7,0")).unwrap();
    /// assert_eq!(visible.len(), 1); // GPU 3: CUDA stops at 7
    /// assert_eq!(ignored.unwrap().entry, "7");
    /// let (visible, ignored) = Device::from_cuda_visible_devices_checked_in(&backend, Some("3,0")).unwrap();
    /// assert_eq!((visible.len(), ignored), (2, None));
    /// ```
    pub fn from_cuda_visible_devices_checked_in(
        backend: &Arc<dyn Backend>,
        value: Option<&str>,
    ) -> Result<(Vec<CudaDevice>, Option<IgnoredEntry>)> {
        let (handles, ignored) = cuda_visible::parse(value, &identities(backend)?);
        let devices = handles
            .into_iter()
            .zip(0..)
            .map(|(handle, cuda_index)| CudaDevice {
                cuda_index,
                device: Self::from_parts(Arc::clone(backend), handle),
            })
            .collect();
        Ok((devices, ignored))
    }

    /// The devices with these CUDA ordinals under the current `CUDA_VISIBLE_DEVICES`.
    ///
    /// # Errors
    /// [`Error::InvalidCudaIndex`] for an ordinal CUDA would not have.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// nvitop::set_default_backend(backend).unwrap();
    /// if std::env::var_os("CUDA_VISIBLE_DEVICES").is_none() {
    ///     let devices = Device::from_cuda_indices(&[0]).unwrap();
    ///     assert_eq!(devices[0].cuda_index(), 0);
    /// }
    /// assert!(Device::from_cuda_indices(&[99]).is_err());
    /// ```
    pub fn from_cuda_indices(cuda_indices: &[u32]) -> Result<Vec<CudaDevice>> {
        let value = std::env::var(CUDA_VISIBLE_DEVICES).ok();
        Self::from_cuda_indices_in(&default_backend()?, value.as_deref(), cuda_indices)
    }

    /// [`Device::from_cuda_indices`] for an explicit backend and variable value.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let devices = Device::from_cuda_indices_in(&backend, Some("2,3"), &[1]).unwrap();
    /// assert_eq!(devices[0].index(), 3);
    /// let err = Device::from_cuda_indices_in(&backend, Some("2,3"), &[2]).unwrap_err();
    /// assert!(err.to_string().contains("no CUDA device with index 2"), "{err}");
    /// // A typo hides the GPUs after it: the error names the entry.
    /// let err = Device::from_cuda_indices_in(&backend, Some("2,e"), &[1]).unwrap_err();
    /// assert!(err.to_string().contains("entry 2 of 2, 'e'"), "{err}");
    /// ```
    pub fn from_cuda_indices_in(
        backend: &Arc<dyn Backend>,
        value: Option<&str>,
        cuda_indices: &[u32],
    ) -> Result<Vec<CudaDevice>> {
        let (visible, ignored) = Self::from_cuda_visible_devices_checked_in(backend, value)?;
        cuda_indices
            .iter()
            .map(|&index| {
                visible
                    .get(index as usize)
                    .cloned()
                    .ok_or_else(|| Error::InvalidCudaIndex {
                        index,
                        count: visible.len(),
                        ignored: ignored.clone(),
                    })
            })
            .collect()
    }
}

fn identities(backend: &Arc<dyn Backend>) -> Result<Vec<GpuIdentity>> {
    Device::all_in(backend).map(|devices| {
        devices
            .iter()
            .map(|device| {
                let mig_enabled = device.is_mig_mode_enabled();
                GpuIdentity {
                    index: device.index(),
                    uuid: device.uuid(),
                    mig_devices: device.mig_devices().iter().map(|m| (m.handle(), m.uuid())).collect(),
                    mig_enabled,
                }
            })
            .collect()
    })
}

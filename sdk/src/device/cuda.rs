//! The CUDA-visible view: CUDA index ↔ physical GPU or MIG device.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::Device;
use super::cuda_visible::{GpuIdentity, parse_cuda_visible_devices};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::global::default_backend;

/// The environment variable CUDA reads to choose devices.
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
    pub fn cuda_index(&self) -> u32 {
        self.cuda_index
    }

    /// The physical or MIG device behind this CUDA ordinal.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Converts into the physical or MIG device.
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
    pub fn from_cuda_visible_devices() -> Result<Vec<CudaDevice>> {
        let value = std::env::var(CUDA_VISIBLE_DEVICES).ok();
        Self::from_cuda_visible_devices_in(&default_backend()?, value.as_deref())
    }

    /// [`Device::from_cuda_visible_devices`] for an explicit backend and
    /// variable value (`None` = unset).
    pub fn from_cuda_visible_devices_in(backend: &Arc<dyn Backend>, value: Option<&str>) -> Result<Vec<CudaDevice>> {
        let identities = identities(backend)?;
        Ok(parse_cuda_visible_devices(value, &identities)
            .into_iter()
            .zip(0..)
            .map(|(handle, cuda_index)| CudaDevice {
                cuda_index,
                device: Self::from_parts(Arc::clone(backend), handle),
            })
            .collect())
    }

    /// The devices with these CUDA ordinals under the current `CUDA_VISIBLE_DEVICES`.
    ///
    /// # Errors
    /// [`Error::InvalidCudaIndex`] for an ordinal CUDA would not have.
    pub fn from_cuda_indices(cuda_indices: &[u32]) -> Result<Vec<CudaDevice>> {
        let value = std::env::var(CUDA_VISIBLE_DEVICES).ok();
        Self::from_cuda_indices_in(&default_backend()?, value.as_deref(), cuda_indices)
    }

    /// [`Device::from_cuda_indices`] for an explicit backend and variable value.
    pub fn from_cuda_indices_in(
        backend: &Arc<dyn Backend>,
        value: Option<&str>,
        cuda_indices: &[u32],
    ) -> Result<Vec<CudaDevice>> {
        let visible = Self::from_cuda_visible_devices_in(backend, value)?;
        cuda_indices
            .iter()
            .map(|&index| {
                visible.get(index as usize).cloned().ok_or(Error::InvalidCudaIndex {
                    index,
                    count: visible.len(),
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

//! MIG devices: GPU slices with their own memory and processes.

use std::ops::Deref;
use std::sync::Arc;

use super::Device;
use crate::backend::DeviceRef;

/// A MIG (Multi-Instance GPU) device under a MIG-enabled physical GPU.
///
/// It dereferences to [`Device`], so every getter works; NVML answers `N/A`
/// for what it does not measure per MIG device (GPU utilization, fan, power).
///
/// ```
/// # use std::sync::Arc;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let parent = Device::all_in(&backend).unwrap().into_iter().find(|d| d.is_mig_mode_enabled()).unwrap();
/// for mig in parent.mig_devices() {
///     println!("{} {} {:?}", mig.display_index(), mig.name().unwrap_or_default(), mig.memory_total_human());
///     assert_eq!(mig.parent().index(), parent.index());
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigDevice {
    device: Device,
}

impl MigDevice {
    pub(crate) fn from_device(device: Device) -> Self {
        Self { device }
    }

    /// The physical GPU this MIG device lives on.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let gpu = Device::new_in(&backend, 1).unwrap(); // the MIG-enabled A100
    /// let mig = gpu.mig_devices().remove(2);
    /// assert_eq!(mig.parent(), gpu);
    /// ```
    pub fn parent(&self) -> Device {
        Device::from_parts(
            Arc::clone(self.device.backend()),
            DeviceRef::Physical(self.device.index()),
        )
    }

    /// The MIG index under the parent.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let gpu = Device::new_in(&backend, 1).unwrap(); // the MIG-enabled A100
    /// let indices: Vec<u32> = gpu.mig_devices().iter().map(|m| m.mig_index()).collect();
    /// assert_eq!(indices, [0, 1, 2]);
    /// ```
    pub fn mig_index(&self) -> u32 {
        match self.device.handle() {
            DeviceRef::Mig { index, .. } => index,
            DeviceRef::Physical(_) => 0,
        }
    }

    /// The underlying device handle.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let gpu = Device::new_in(&backend, 1).unwrap(); // the MIG-enabled A100
    /// let mig = gpu.mig_devices().remove(0);
    /// assert!(mig.as_device().is_mig_device());
    /// assert_eq!(mig.as_device().display_index(), "1:0");
    /// ```
    pub fn as_device(&self) -> &Device {
        &self.device
    }

    /// Converts into the underlying device handle.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let gpu = Device::new_in(&backend, 1).unwrap(); // the MIG-enabled A100
    /// let devices: Vec<Device> = gpu.mig_devices().into_iter().map(|m| m.into_device()).collect();
    /// assert!(devices.iter().all(Device::is_mig_device));
    /// ```
    pub fn into_device(self) -> Device {
        self.device
    }
}

impl Deref for MigDevice {
    type Target = Device;

    fn deref(&self) -> &Device {
        &self.device
    }
}

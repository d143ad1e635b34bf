//! [`DeviceIndex`]: a device's index as snapshots carry it, `3` or `3:1`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::backend::DeviceRef;

/// The index of a GPU (`3`) or of a MIG device under it (`3:1`), as
/// snapshots carry it ([`crate::DeviceSnapshot::display_index`],
/// [`crate::ProcessSnapshot::device_index`]).
///
/// It displays and serializes as nvitop prints it (`"3"`, `"3:1"`), so JSON
/// is a string as before; in code, read the fields instead of parsing the
/// text. The order is by physical index, then MIG index, a GPU before its
/// MIG devices.
///
/// ```
/// use nvitop::DeviceIndex;
/// let mig = DeviceIndex::mig(1, 0);
/// assert_eq!(mig.to_string(), "1:0");
/// assert_eq!((mig.physical, mig.mig), (1, Some(0)));
/// assert_eq!(serde_json::to_string(&mig).unwrap(), "\"1:0\"");
/// assert_eq!("1:0".parse::<DeviceIndex>().unwrap(), mig);
/// let mut indices = vec![DeviceIndex::mig(1, 2), DeviceIndex::physical(2), DeviceIndex::physical(1), mig];
/// indices.sort();
/// let texts: Vec<String> = indices.iter().map(ToString::to_string).collect();
/// assert_eq!(texts, ["1", "1:0", "1:2", "2"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct DeviceIndex {
    /// NVML index of the physical GPU (the parent's, for a MIG device).
    pub physical: u32,
    /// Index of the MIG device under its parent; `None` for a physical GPU.
    pub mig: Option<u32>,
}

impl DeviceIndex {
    /// A physical GPU's index.
    ///
    /// ```
    /// use nvitop::DeviceIndex;
    /// assert_eq!(DeviceIndex::physical(3).to_string(), "3");
    /// assert!(!DeviceIndex::physical(3).is_mig());
    /// ```
    pub const fn physical(physical: u32) -> Self {
        Self { physical, mig: None }
    }

    /// MIG device `mig` under physical GPU `physical`.
    ///
    /// ```
    /// use nvitop::DeviceIndex;
    /// assert_eq!(DeviceIndex::mig(3, 1).to_string(), "3:1");
    /// assert!(DeviceIndex::mig(3, 1).is_mig());
    /// ```
    pub const fn mig(physical: u32, mig: u32) -> Self {
        Self {
            physical,
            mig: Some(mig),
        }
    }

    /// Whether this is a MIG device's index.
    ///
    /// ```
    /// assert!(nvitop::DeviceIndex::mig(0, 0).is_mig());
    /// ```
    pub const fn is_mig(self) -> bool {
        self.mig.is_some()
    }

    /// The physical GPU's index: itself for a GPU, the parent's for a MIG device.
    ///
    /// ```
    /// use nvitop::DeviceIndex;
    /// assert_eq!(DeviceIndex::mig(3, 1).parent(), DeviceIndex::physical(3));
    /// ```
    #[must_use]
    pub const fn parent(self) -> Self {
        Self::physical(self.physical)
    }
}

impl From<DeviceRef> for DeviceIndex {
    /// ```
    /// use nvitop::{DeviceIndex, backend::DeviceRef};
    /// assert_eq!(DeviceIndex::from(DeviceRef::Mig { parent: 1, index: 2 }), DeviceIndex::mig(1, 2));
    /// ```
    fn from(handle: DeviceRef) -> Self {
        match handle {
            DeviceRef::Physical(physical) => Self::physical(physical),
            DeviceRef::Mig { parent, index } => Self::mig(parent, index),
        }
    }
}

impl fmt::Display for DeviceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mig {
            None => write!(f, "{}", self.physical),
            Some(mig) => write!(f, "{}:{mig}", self.physical),
        }
    }
}

/// Text that is not `N` or `N:M`.
///
/// ```
/// assert!("1:x".parse::<nvitop::DeviceIndex>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid device index `{0}`, expected `N` or `N:M` (GPU N, MIG device M)")]
#[non_exhaustive]
pub struct ParseDeviceIndexError(String);

impl FromStr for DeviceIndex {
    type Err = ParseDeviceIndexError;

    /// Parses `3` or `3:1` (what [`Display`](fmt::Display) writes).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |s: &str| s.parse::<u32>().map_err(|_| ParseDeviceIndexError(text.to_owned()));
        match text.split_once(':') {
            None => Ok(Self::physical(number(text)?)),
            Some((physical, mig)) => Ok(Self::mig(number(physical)?, number(mig)?)),
        }
    }
}

impl Serialize for DeviceIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PartialEq<str> for DeviceIndex {
    /// Compares with the displayed text, so `index == "1:0"` reads as it prints.
    ///
    /// ```
    /// assert!(nvitop::DeviceIndex::mig(1, 0) == *"1:0");
    /// ```
    fn eq(&self, other: &str) -> bool {
        // Text to text: `"01"` is not GPU 1 (parsing would say it is).
        let text = self.to_string();
        text == other
    }
}

impl PartialEq<&str> for DeviceIndex {
    /// ```
    /// assert_eq!(nvitop::DeviceIndex::physical(2), "2");
    /// ```
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

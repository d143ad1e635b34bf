//! TEMPORARY STUB (replaced by the NVML branch).
#![allow(missing_docs)]
use super::BackendError;
#[derive(Debug)]
pub struct NvmlBackend;
impl NvmlBackend {
    pub fn new() -> Result<super::sim::SimBackend, BackendError> {
        Err(BackendError::NotSupported)
    }
}

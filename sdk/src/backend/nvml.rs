//! TEMPORARY STUB (replaced by the NVML branch).
#![allow(missing_docs)]
use super::BackendError;
#[derive(Debug)]
pub struct NvmlBackend;
impl NvmlBackend {
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Result<super::sim::SimBackend, BackendError> {
        Err(BackendError::NotSupported)
    }
}

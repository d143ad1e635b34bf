//! `Device::all()` through the process-wide default backend on a machine
//! without a driver: the clear error, never simulated GPUs. A test binary of
//! its own, because it creates the process-wide default backend.
#![allow(clippy::unwrap_used, missing_docs)]

use nvitop::backend::BackendError;
use nvitop::backend::nvml::{DEFAULT_NVML_LIBRARY, NVML_LIBRARY_ENV, NvmlBackend};
use nvitop::{Device, Error};

#[test]
fn device_all_without_a_driver_says_so_and_suggests_the_simulator() {
    let env_set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if env_set(nvitop::global::SIMULATE_ENV) || env_set(NVML_LIBRARY_ENV) {
        eprintln!("note: NVITOP_SIMULATE or NVITOP_NVML_LIBRARY is set; skipping");
        return;
    }
    if !matches!(
        NvmlBackend::with_library(DEFAULT_NVML_LIBRARY),
        Err(BackendError::LibraryNotFound { .. })
    ) {
        eprintln!("note: an NVIDIA driver library is installed here; skipping");
        return;
    }
    let err = Device::all().unwrap_err();
    assert!(
        matches!(err, Error::Backend(BackendError::LibraryNotFound { .. })),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("libnvidia-ml.so.1"), "{message}");
    assert!(message.contains("NVITOP_SIMULATE=1"), "{message}");
    // The failure is not cached as a fallback: asking again fails the same way.
    assert!(Device::count().is_err());
}

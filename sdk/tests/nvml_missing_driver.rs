//! The NVML backend on a machine without a driver (the CI machines), and on
//! one with a real GPU when `NVITOP_TEST_REAL_GPU=1`.
//!
//! Every test names its library explicitly with `NvmlBackend::with_library`
//! rather than setting `NVITOP_NVML_LIBRARY`, because tests run in threads
//! of one process and the environment is shared.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use nvitop::backend::nvml::{DEFAULT_NVML_LIBRARY, NVML_LIBRARY_ENV, NvmlBackend};
use nvitop::backend::{Backend, BackendError, DeviceRef};

/// Whether the default NVML library can be loaded here; the missing-driver
/// tests only make sense where it cannot.
fn driver_installed() -> bool {
    // Installed but unusable (module not loaded, permissions) still counts
    // as installed: only a library the loader cannot find is "missing".
    !matches!(
        NvmlBackend::with_library(DEFAULT_NVML_LIBRARY),
        Err(BackendError::LibraryNotFound { .. })
    )
}

#[test]
fn default_library_is_reported_missing_with_path_and_simulator_hint() {
    if driver_installed() {
        eprintln!("note: an NVIDIA driver library is installed here; skipping the missing-driver checks");
        return;
    }
    let err = NvmlBackend::with_library(DEFAULT_NVML_LIBRARY).unwrap_err();
    let BackendError::LibraryNotFound { path, reason } = &err else {
        panic!("expected LibraryNotFound, got {err:?}");
    };
    assert_eq!(path, Path::new(DEFAULT_NVML_LIBRARY));
    assert!(!reason.is_empty(), "the loader's message is kept");
    let message = err.to_string();
    eprintln!("{message}");
    assert!(message.contains(DEFAULT_NVML_LIBRARY), "{message}");
    assert!(message.contains("NVITOP_SIMULATE"), "{message}");
    assert!(message.contains("--simulate"), "{message}");
    assert!(message.contains(NVML_LIBRARY_ENV), "{message}");
}

#[test]
fn new_without_override_fails_like_the_default_library() {
    // Only meaningful when nobody pointed the variable somewhere; reading it
    // is safe, setting it is what the threads must not do.
    if driver_installed() || std::env::var_os(NVML_LIBRARY_ENV).is_some_and(|v| !v.is_empty()) {
        eprintln!("note: driver installed or {NVML_LIBRARY_ENV} set; skipping");
        return;
    }
    let err = NvmlBackend::new().unwrap_err();
    assert!(
        matches!(&err, BackendError::LibraryNotFound { path, .. } if path == Path::new(DEFAULT_NVML_LIBRARY)),
        "{err:?}"
    );
    assert!(err.to_string().contains("NVITOP_SIMULATE"), "{err}");
}

#[test]
fn explicit_missing_path_is_named() {
    let path = "/nonexistent/libnvidia-ml.so.1";
    let err = NvmlBackend::with_library(path).unwrap_err();
    let BackendError::LibraryNotFound { path: tried, reason } = &err else {
        panic!("expected LibraryNotFound, got {err:?}");
    };
    assert_eq!(tried, Path::new(path));
    assert!(
        reason.contains("No such file"),
        "the dynamic loader's reason is kept: {reason}"
    );
    let message = err.to_string();
    eprintln!("{message}");
    assert!(message.contains(path), "{message}");
    assert!(message.contains("NVITOP_SIMULATE"), "{message}");
}

/// A shared library that certainly exists and is certainly not NVML.
fn libc_path() -> PathBuf {
    [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    // The loader finds it by soname on any glibc system.
    .unwrap_or_else(|| PathBuf::from("libc.so.6"))
}

#[test]
fn a_library_without_nvml_symbols_is_not_an_nvml_library() {
    for path in [libc_path(), PathBuf::from("libc.so.6")] {
        let err = NvmlBackend::with_library(&path).unwrap_err();
        assert_eq!(
            err,
            BackendError::NotAnNvmlLibrary {
                path: path.clone(),
                symbol: "nvmlInit_v2".to_owned()
            },
            "{path:?}"
        );
        let message = err.to_string();
        eprintln!("{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("nvmlInit_v2"), "{message}");
        assert!(message.contains("NVITOP_SIMULATE"), "{message}");
    }
}

#[test]
fn backend_from_spec_without_simulator_reports_the_missing_driver() {
    if driver_installed() || std::env::var_os(NVML_LIBRARY_ENV).is_some_and(|v| !v.is_empty()) {
        eprintln!("note: driver installed or {NVML_LIBRARY_ENV} set; skipping");
        return;
    }
    // `backend_from_spec` builds a backend without installing it as the
    // process-wide default, so this leaves other tests undisturbed.
    let err = nvitop::global::backend_from_spec(None).unwrap_err();
    assert!(
        matches!(&err, nvitop::Error::Backend(BackendError::LibraryNotFound { .. })),
        "no silent fallback to the simulator: {err:?}"
    );
    let message = err.to_string();
    eprintln!("{message}");
    assert!(message.contains("driver"), "{message}");
    assert!(message.contains(DEFAULT_NVML_LIBRARY), "{message}");
    assert!(message.contains("NVITOP_SIMULATE"), "{message}");
}

#[test]
fn real_gpu_answers() {
    if std::env::var("NVITOP_TEST_REAL_GPU").as_deref() != Ok("1") {
        eprintln!("note: set NVITOP_TEST_REAL_GPU=1 on a machine with an NVIDIA GPU to run this test");
        return;
    }
    let nvml = NvmlBackend::new().unwrap_or_else(|err| panic!("NVML did not initialize: {err}"));
    assert_eq!(nvml.kind(), "nvml");
    assert!(!nvml.is_simulated());
    let driver = nvml.driver_version().unwrap();
    assert!(!driver.is_empty());
    assert!(nvml.cuda_driver_version().unwrap() >= 1000);
    let count = nvml.device_count().unwrap();
    assert!(count > 0, "NVITOP_TEST_REAL_GPU=1 but the driver reports no GPU");
    for index in 0..count {
        let gpu = DeviceRef::Physical(index);
        let name = nvml.name(gpu).unwrap();
        assert!(!name.is_empty());
        let memory = nvml.memory_info(gpu).unwrap();
        assert!(memory.total > 0);
        // NVML's v2 memory info keeps a reserved slice out of both used and free.
        let accounted = memory.used + memory.free;
        assert!(accounted <= memory.total, "{name}: {memory:?}");
        assert!(accounted >= memory.total - memory.total / 10, "{name}: {memory:?}");
        let uuid = nvml.uuid(gpu).unwrap();
        assert_eq!(nvml.device_by_uuid(&uuid).unwrap(), gpu);
        assert_eq!(nvml.device_by_uuid(&uuid.to_uppercase()).unwrap(), gpu);
        let bus_id = nvml.bus_id(gpu).unwrap();
        assert_eq!(nvml.device_by_bus_id(&bus_id).unwrap(), gpu);
        assert_eq!(nvml.device_by_bus_id(&bus_id[4..].to_lowercase()).unwrap(), gpu);
        assert_eq!(nvml.device_by_bus_id(&bus_id[9..]).unwrap(), gpu);
        let processes = nvml.processes(gpu).unwrap();
        eprintln!("GPU {index}: {name}, {memory:?}, {} process(es)", processes.len());
        nvml.process_utilization(gpu, 0).unwrap();
        for mig in nvml.mig_devices(gpu).unwrap() {
            let mig_uuid = nvml.uuid(mig).unwrap();
            assert_eq!(nvml.device_by_uuid(&mig_uuid).unwrap(), mig);
            nvml.memory_info(mig).unwrap();
            nvml.processes(mig).unwrap();
        }
    }
    let missing = nvml.name(DeviceRef::Physical(count)).unwrap_err();
    assert!(matches!(missing, BackendError::NotFound { .. }), "{missing:?}");
}

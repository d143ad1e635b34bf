//! `NVITOP_SIM_LATENCY` in the fake library: each export sleeps its own
//! delay, keyed by its C name, and a bad value makes `nvmlInit` fail.
//!
//! One test in its own binary: it sets the environment, which the library
//! reads at `nvmlInit`, and no other test of this process may see it.
//! Timings are checked against lower bounds only (the machine may be slow,
//! never faster than a sleep).
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::c_uint;
use std::time::{Duration, Instant};

use nvidia_ml::testing::FakeLib;
use nvml_wrapper_sys::bindings as b;

const SUCCESS: u32 = b::nvmlReturn_enum_NVML_SUCCESS;

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

#[test]
fn each_export_sleeps_its_own_delay_and_a_bad_value_fails_init() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latency.toml");
    std::fs::write(
        &file,
        "default_ms = 0\n[calls]\nnvmlInit = 150\nnvmlDeviceGetPcieThroughput = 120\nnvmlDeviceGetCount = 80\n",
    )
    .unwrap();
    // SAFETY: the only test of this binary; no other thread reads the environment.
    unsafe { std::env::set_var("NVITOP_SIM_LATENCY", &file) };

    let fake = FakeLib::new();
    // SAFETY: loading our own library runs no initialisers with preconditions.
    let lib = unsafe { libloading::Library::new(fake.path()) }.unwrap();
    // SAFETY: the signatures below are the NVML C signatures of these symbols.
    let (init, count, handle, pcie, temperature) = unsafe {
        (
            *lib.get::<unsafe extern "C" fn() -> u32>(b"nvmlInit_v2").unwrap(),
            *lib.get::<unsafe extern "C" fn(*mut c_uint) -> u32>(b"nvmlDeviceGetCount_v2")
                .unwrap(),
            *lib.get::<unsafe extern "C" fn(c_uint, *mut b::nvmlDevice_t) -> u32>(b"nvmlDeviceGetHandleByIndex_v2")
                .unwrap(),
            *lib.get::<unsafe extern "C" fn(b::nvmlDevice_t, u32, *mut c_uint) -> u32>(b"nvmlDeviceGetPcieThroughput")
                .unwrap(),
            *lib.get::<unsafe extern "C" fn(b::nvmlDevice_t, u32, *mut c_uint) -> u32>(b"nvmlDeviceGetTemperature")
                .unwrap(),
        )
    };

    // SAFETY: no arguments.
    let (rc, took) = timed(|| unsafe { init() });
    assert_eq!(rc, SUCCESS);
    assert!(
        took >= Duration::from_millis(150),
        "nvmlInit_v2 took {took:?} (nvmlInit = 150 ms)"
    );

    let mut n: c_uint = 0;
    // SAFETY: valid out pointer.
    let (rc, took) = timed(|| unsafe { count(&raw mut n) });
    assert_eq!(rc, SUCCESS);
    // The versioned export takes the plain name's delay.
    assert!(
        took >= Duration::from_millis(80),
        "nvmlDeviceGetCount_v2 took {took:?} (nvmlDeviceGetCount = 80 ms)"
    );

    let mut device: b::nvmlDevice_t = std::ptr::null_mut();
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { handle(0, &raw mut device) }, SUCCESS);
    let mut value: c_uint = 0;
    // SAFETY: a handle from the library, a valid out pointer.
    let (rc, took) = timed(|| unsafe {
        pcie(
            device,
            b::nvmlPcieUtilCounter_enum_NVML_PCIE_UTIL_TX_BYTES,
            &raw mut value,
        )
    });
    assert_eq!(rc, SUCCESS);
    assert!(
        took >= Duration::from_millis(120),
        "nvmlDeviceGetPcieThroughput took {took:?} (120 ms)"
    );
    // SAFETY: as above; sensor 0 is the GPU's.
    assert_eq!(unsafe { temperature(device, 0, &raw mut value) }, SUCCESS);
    drop(lib);

    // A value that is not a latency: the library does not start.
    // SAFETY: as above.
    unsafe { std::env::set_var("NVITOP_SIM_LATENCY", "fast") };
    let fake = FakeLib::new();
    // SAFETY: as above.
    let lib = unsafe { libloading::Library::new(fake.path()) }.unwrap();
    // SAFETY: as above.
    let init = unsafe { *lib.get::<unsafe extern "C" fn() -> u32>(b"nvmlInit_v2").unwrap() };
    // SAFETY: no arguments.
    assert_ne!(unsafe { init() }, SUCCESS, "NVITOP_SIM_LATENCY=fast must fail nvmlInit");
}

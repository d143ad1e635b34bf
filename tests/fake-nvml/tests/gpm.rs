//! GPM through the real NVML code path: `NvmlBackend` (nvml-wrapper 0.13's
//! GPM API) over the fake library, and the library's C ABI called directly
//! the way any client following `nvml.h` calls it.
//!
//! Each test loads its own copy of the library (own global state) on the
//! built-in default machine: GPU 0 an H100 (GPM), GPU 1 an A100 with MIG,
//! GPU 2 an A100, GPU 3 an RTX 4090 (no GPM).
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::{CStr, c_uint, c_ulonglong};
use std::path::Path;
use std::process::Command;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use nvitop::Device;
use nvitop::backend::nvml::NvmlBackend;
use nvitop::backend::{Backend, BackendError, DeviceRef, GpmMetric, GpmSampleId};
use nvitop::device::GpmSampler;
use nvml_wrapper_sys::bindings as b;
use serde_json::Value;

use nvidia_ml::testing::{FakeLib, run_ok};

const SUCCESS: u32 = b::nvmlReturn_enum_NVML_SUCCESS;
const INVALID_ARGUMENT: u32 = b::nvmlReturn_enum_NVML_ERROR_INVALID_ARGUMENT;
const NOT_SUPPORTED: u32 = b::nvmlReturn_enum_NVML_ERROR_NOT_SUPPORTED;
const VERSION_MISMATCH: u32 = b::nvmlReturn_enum_NVML_ERROR_ARGUMENT_VERSION_MISMATCH;

/// The fake library loaded with `dlopen`, initialized.
struct Lib {
    _fake: FakeLib,
    lib: libloading::Library,
}

impl Lib {
    fn load() -> Self {
        let fake = FakeLib::new();
        // SAFETY: loading our own library runs no initialisers with preconditions.
        let lib = unsafe { libloading::Library::new(fake.path()) }.expect("dlopen the fake library");
        let lib = Self { _fake: fake, lib };
        // SAFETY: no arguments.
        assert_eq!(
            unsafe { lib.f::<unsafe extern "C" fn() -> u32>("nvmlInit_v2")() },
            SUCCESS
        );
        lib
    }

    /// A function of the library. `T` must be the symbol's C signature.
    fn f<T: Copy>(&self, name: &str) -> T {
        // SAFETY: each call site names the C signature of the symbol.
        unsafe { *self.lib.get::<T>(name.as_bytes()).unwrap() }
    }

    fn handle(&self, index: u32) -> b::nvmlDevice_t {
        let mut d: b::nvmlDevice_t = ptr::null_mut();
        // SAFETY: valid out pointer.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(c_uint, *mut b::nvmlDevice_t) -> u32>("nvmlDeviceGetHandleByIndex_v2")(
                index, &raw mut d,
            )
        };
        assert_eq!(rc, SUCCESS);
        d
    }

    fn support(&self, device: b::nvmlDevice_t, version: u32) -> (u32, u32) {
        let mut support = b::nvmlGpmSupport_t {
            version,
            isSupportedDevice: 7,
        };
        // SAFETY: valid pointer to the struct.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(b::nvmlDevice_t, *mut b::nvmlGpmSupport_t) -> u32>(
                "nvmlGpmQueryDeviceSupport",
            )(device, &raw mut support)
        };
        (rc, support.isSupportedDevice)
    }

    fn alloc(&self) -> b::nvmlGpmSample_t {
        let mut sample: b::nvmlGpmSample_t = ptr::null_mut();
        // SAFETY: valid out pointer.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(*mut b::nvmlGpmSample_t) -> u32>("nvmlGpmSampleAlloc")(&raw mut sample)
        };
        assert_eq!(rc, SUCCESS);
        assert!(!sample.is_null());
        sample
    }

    fn get(&self, device: b::nvmlDevice_t, sample: b::nvmlGpmSample_t) -> u32 {
        // SAFETY: handles are opaque values; the library checks them.
        unsafe {
            self.f::<unsafe extern "C" fn(b::nvmlDevice_t, b::nvmlGpmSample_t) -> u32>("nvmlGpmSampleGet")(
                device, sample,
            )
        }
    }

    fn free(&self, sample: b::nvmlGpmSample_t) -> u32 {
        // SAFETY: handles are opaque values; the library checks them.
        unsafe { self.f::<unsafe extern "C" fn(b::nvmlGpmSample_t) -> u32>("nvmlGpmSampleFree")(sample) }
    }

    /// `nvmlGpmMetricsGet` with `ids`; the return code and the struct.
    fn metrics(
        &self,
        version: u32,
        first: b::nvmlGpmSample_t,
        second: b::nvmlGpmSample_t,
        ids: &[u32],
        count: u32,
    ) -> (u32, Box<b::nvmlGpmMetricsGet_t>) {
        // SAFETY: an all-zero struct is valid (integers, floats, null pointers).
        let mut request: Box<b::nvmlGpmMetricsGet_t> = Box::new(unsafe { std::mem::zeroed() });
        request.version = version;
        request.numMetrics = count;
        request.sample1 = first;
        request.sample2 = second;
        for (slot, id) in request.metrics.iter_mut().zip(ids) {
            slot.metricId = *id;
            slot.nvmlReturn = 999;
        }
        // SAFETY: valid pointer to the struct.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(*mut b::nvmlGpmMetricsGet_t) -> u32>("nvmlGpmMetricsGet")(&raw mut *request)
        };
        (rc, request)
    }

    fn counts(&self) -> (u64, u64) {
        let (mut allocated, mut freed): (c_ulonglong, c_ulonglong) = (0, 0);
        // SAFETY: valid out pointers.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(*mut c_ulonglong, *mut c_ulonglong) -> u32>("fakeNvmlGpmSampleCounts")(
                &raw mut allocated,
                &raw mut freed,
            )
        };
        assert_eq!(rc, SUCCESS);
        (allocated, freed)
    }
}

#[test]
fn support_is_hopper_only_and_checks_the_struct_version() {
    let lib = Lib::load();
    assert_eq!(lib.support(lib.handle(0), 1), (SUCCESS, 1), "H100");
    assert_eq!(lib.support(lib.handle(2), 1), (SUCCESS, 0), "A100");
    assert_eq!(lib.support(lib.handle(3), 1), (SUCCESS, 0), "RTX 4090");
    assert_eq!(lib.support(lib.handle(0), 2).0, VERSION_MISMATCH);
    let sample = lib.alloc();
    assert_eq!(lib.get(lib.handle(2), sample), NOT_SUPPORTED, "no GPM on an A100");
    assert_eq!(lib.free(sample), SUCCESS);
}

#[test]
fn sample_handles_unfilled_freed_or_foreign_are_rejected() {
    let lib = Lib::load();
    let gpu = lib.handle(0);
    let (a, b) = (lib.alloc(), lib.alloc());
    assert_eq!(lib.get(gpu, a), SUCCESS);
    // `b` is allocated but never filled.
    assert_eq!(lib.metrics(1, a, b, &[2], 1).0, INVALID_ARGUMENT);
    assert_eq!(lib.get(gpu, b), SUCCESS);
    assert_eq!(lib.metrics(1, a, b, &[2], 1).0, SUCCESS);
    let foreign = 0x1234usize as b::nvmlGpmSample_t;
    assert_eq!(lib.get(gpu, foreign), INVALID_ARGUMENT);
    assert_eq!(lib.metrics(1, a, foreign, &[2], 1).0, INVALID_ARGUMENT);
    assert_eq!(lib.free(foreign), INVALID_ARGUMENT);
    assert_eq!(lib.free(ptr::null_mut()), INVALID_ARGUMENT);
    assert_eq!(lib.free(b), SUCCESS);
    assert_eq!(lib.free(b), INVALID_ARGUMENT, "double free");
    assert_eq!(lib.get(gpu, b), INVALID_ARGUMENT, "freed");
    assert_eq!(lib.metrics(1, a, b, &[2], 1).0, INVALID_ARGUMENT, "freed");
    assert_eq!(lib.free(a), SUCCESS);
    assert_eq!(lib.counts(), (2, 2));
}

#[test]
fn metrics_get_checks_version_and_count_and_answers_each_metric() {
    let lib = Lib::load();
    let gpu = lib.handle(0);
    let (a, b) = (lib.alloc(), lib.alloc());
    assert_eq!(lib.get(gpu, a), SUCCESS);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(lib.get(gpu, b), SUCCESS);
    assert_eq!(lib.metrics(2, a, b, &[2], 1).0, VERSION_MISMATCH);
    assert_eq!(lib.metrics(0, a, b, &[2], 1).0, VERSION_MISMATCH);
    let max = b::nvmlGpmMetricId_t_NVML_GPM_METRIC_MAX;
    assert_eq!(lib.metrics(1, a, b, &[2], max + 1).0, INVALID_ARGUMENT);
    assert_eq!(
        lib.metrics(1, a, b, &[], max).0,
        SUCCESS,
        "NVML_GPM_METRIC_MAX metrics are allowed"
    );
    // SM activity, tensor activity, an id the header does not define (8),
    // NVLink (defined, not on this board), one far outside (5000).
    let ids = [2, 5, 8, 60, 5000, 21];
    let (rc, answer) = lib.metrics(1, a, b, &ids, ids.len() as u32);
    assert_eq!(rc, SUCCESS);
    let codes: Vec<u32> = answer.metrics[..ids.len()].iter().map(|m| m.nvmlReturn).collect();
    assert_eq!(
        codes,
        [
            SUCCESS,
            SUCCESS,
            INVALID_ARGUMENT,
            NOT_SUPPORTED,
            INVALID_ARGUMENT,
            SUCCESS
        ]
    );
    let (sm, tensor) = (answer.metrics[0].value, answer.metrics[1].value);
    assert!(sm > 0.0 && sm <= 100.0 && tensor > 0.0 && tensor <= sm, "{sm} {tensor}");
    assert!(answer.metrics[5].value > 0.0, "PCIe RX moves while training");
    // SAFETY: the library wrote a static NUL-terminated string.
    let unit = unsafe { CStr::from_ptr(answer.metrics[5].metricInfo.unit) };
    assert_eq!(unit.to_str().unwrap(), "MiB/sec");
    assert!(answer.metrics[2].metricInfo.shortName.is_null());
    assert_eq!(lib.free(a), SUCCESS);
    assert_eq!(lib.free(b), SUCCESS);
}

/// The NVML backend over a fresh copy of the fake library.
fn nvml_backend() -> (FakeLib, Arc<dyn Backend>) {
    let fake = FakeLib::new();
    let backend = NvmlBackend::with_library(fake.path()).expect("open the fake library");
    (fake, Arc::new(backend))
}

#[test]
fn the_nvml_backend_reads_gpm_where_supported_and_not_elsewhere() {
    let (_fake, backend) = nvml_backend();
    assert_eq!(backend.gpm_supported(DeviceRef::Physical(0)), Ok(true));
    for index in [1, 2, 3] {
        assert_eq!(
            backend.gpm_supported(DeviceRef::Physical(index)),
            Ok(false),
            "GPU {index}"
        );
        assert_eq!(
            backend.gpm_sample(DeviceRef::Physical(index)),
            Err(BackendError::NotSupported),
            "GPU {index}"
        );
    }
    let devices = Device::all_in(&backend).unwrap();
    let mut sampler = GpmSampler::new();
    assert_eq!(sampler.sample(&devices[0]), None, "first sample");
    std::thread::sleep(Duration::from_millis(120));
    let metrics = sampler.sample(&devices[0]).expect("H100 metrics");
    for metric in GpmMetric::ALL {
        let value = metrics.get(metric).unwrap_or_else(|| panic!("{metric:?} missing"));
        assert!(value >= 0.0 && value.is_finite(), "{metric:?} = {value}");
        if metric.unit() == "%" {
            assert!(value <= 100.0, "{metric:?} = {value}");
        }
    }
    let sm = metrics.sm_active.unwrap();
    let util = f64::from(backend.utilization_rates(DeviceRef::Physical(0)).unwrap().gpu);
    assert!(sm < util, "SM activity {sm} is not a copy of utilization.gpu {util}");
    for device in &devices[1..] {
        assert_eq!(sampler.sample(device), None, "{device:?}");
    }
    let mig = devices[1].mig_devices()[0].clone().into_device();
    assert_eq!(sampler.sample(&mig), None, "MIG on an A100");
    drop(sampler);
    // Nothing the backend gave out is left.
    assert!(matches!(
        backend.gpm_sample_free(GpmSampleId(1)),
        Err(BackendError::NotFound { .. })
    ));
}

#[test]
fn ten_thousand_samples_leak_nothing() {
    let fake = FakeLib::new();
    let backend: Arc<dyn Backend> = Arc::new(NvmlBackend::with_library(fake.path()).unwrap());
    let gpu = Device::new_in(&backend, 0).unwrap();
    let mut sampler = GpmSampler::with_min_interval(Duration::ZERO);
    let mut answered = 0;
    for _ in 0..10_000 {
        answered += usize::from(sampler.sample(&gpu).is_some());
    }
    assert_eq!(answered, 9_999, "every sample after the first answers");
    drop(sampler);
    // The same library copy, loaded again: its counters are the ones the
    // NVML backend's calls moved (dlopen returns the loaded copy).
    // SAFETY: loading our own library runs no initialisers with preconditions.
    let lib = unsafe { libloading::Library::new(fake.path()) }.unwrap();
    // SAFETY: the C signature of the export.
    let counts = unsafe {
        *lib.get::<unsafe extern "C" fn(*mut c_ulonglong, *mut c_ulonglong) -> u32>(b"fakeNvmlGpmSampleCounts")
            .unwrap()
    };
    let (mut allocated, mut freed) = (0, 0);
    // SAFETY: valid out pointers.
    assert_eq!(unsafe { counts(&raw mut allocated, &raw mut freed) }, SUCCESS);
    assert_eq!(allocated, 10_000);
    assert_eq!(freed, allocated, "every sample the sampler allocated was freed");
    drop(backend);
}

#[test]
fn a_dropped_backend_frees_the_samples_it_still_holds() {
    let fake = FakeLib::new();
    // Keep the library loaded (and its counters) after the backend shuts NVML down.
    // SAFETY: loading our own library runs no initialisers with preconditions.
    let lib = unsafe { libloading::Library::new(fake.path()) }.unwrap();
    // SAFETY: no arguments; one extra init keeps the state after the backend's shutdown.
    assert_eq!(
        unsafe { lib.get::<unsafe extern "C" fn() -> u32>(b"nvmlInit_v2").unwrap()() },
        SUCCESS
    );
    {
        let backend = NvmlBackend::with_library(fake.path()).unwrap();
        let _held = backend.gpm_sample(DeviceRef::Physical(0)).unwrap();
        let _also = backend.gpm_sample(DeviceRef::Physical(0)).unwrap();
    }
    // SAFETY: the C signature of the export.
    let counts = unsafe {
        *lib.get::<unsafe extern "C" fn(*mut c_ulonglong, *mut c_ulonglong) -> u32>(b"fakeNvmlGpmSampleCounts")
            .unwrap()
    };
    let (mut allocated, mut freed) = (0, 0);
    // SAFETY: valid out pointers.
    assert_eq!(unsafe { counts(&raw mut allocated, &raw mut freed) }, SUCCESS);
    assert_eq!((allocated, freed), (2, 2));
}

/// Backend answers through the NVML backend in a child process whose fake
/// library accepts only GPM struct version `version`.
fn answers_with_gpm_version(lib: &FakeLib, version: &str) -> Value {
    answers_through(lib, version, None)
}

/// Backend answers through the NVML backend in a child process, at
/// simulated time 42, on `scenario` (a file) or the default machine.
fn answers_through(lib: &FakeLib, version: &str, scenario: Option<&Path>) -> Value {
    let mut probe = Command::new(env!("CARGO_BIN_EXE_fake-nvml-probe"));
    probe
        .arg("nvml")
        .env(nvidia_ml::GPM_VERSION_ENV, version)
        .env("NVITOP_NVML_LIBRARY", lib.path())
        .env("NVITOP_SIM_TIME", "42")
        .env_remove("NVITOP_SIM_SCENARIO")
        .env_remove("NVITOP_SIMULATE");
    if let Some(path) = scenario {
        probe.env("NVITOP_SIM_SCENARIO", path);
    }
    let (output, _) = run_ok(&mut probe, "fake-nvml-probe");
    serde_json::from_slice::<Value>(&output.stdout).unwrap()["backend"].clone()
}

#[test]
fn a_driver_with_another_struct_version_reads_as_not_supported() {
    let lib = FakeLib::new();
    let today = answers_with_gpm_version(&lib, "1");
    let h100 = &today["devices"]["0"];
    assert_eq!(h100["gpm_supported"], serde_json::json!({ "ok": true }));
    assert!(h100["gpm(sm_active)"]["ok"].is_number(), "{h100}");
    let future = answers_with_gpm_version(&lib, "2");
    let h100 = &future["devices"]["0"];
    assert_eq!(h100["gpm_supported"], serde_json::json!({ "ok": false }));
    // Sampling works (no struct), metrics do not: NotSupported, never a number.
    for metric in GpmMetric::ALL {
        let key = format!("gpm({})", metric.key());
        assert_eq!(h100[&key], serde_json::json!({ "err": "NotSupported" }), "{key}");
    }
}

#[test]
fn mig_gpu_instances_of_an_h100_through_nvml_equal_the_simulator() {
    let text = r#"seed = 3
[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training" }
mig = [{ profile = "3g.40gb" }, { profile = "2g.20gb" }]
processes = [{ pid = "host:1", memory_mib = 5000, mig = 0 }, { pid = "host:2", memory_mib = 3000, mig = 1 }]
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h100-mig.toml");
    std::fs::write(&path, text).unwrap();
    let lib = FakeLib::new();
    let through_nvml = answers_through(&lib, "1", Some(&path));
    let scenario =
        nvitop::backend::sim::Scenario::parse(text, nvitop::backend::sim::scenario::Format::Toml, &path).unwrap();
    let sim = nvitop::backend::sim::SimBackend::with_host_pool(scenario, vec![300_001, 300_002, 300_003]);
    sim.set_time(42.0);
    for device in ["0:0", "0:1"] {
        let answers = &through_nvml["devices"][device];
        let dref = if device == "0:0" {
            DeviceRef::Mig { parent: 0, index: 0 }
        } else {
            DeviceRef::Mig { parent: 0, index: 1 }
        };
        let own = nvidia_ml::testing::gpm_between_two_samples(&sim, dref).unwrap();
        for (metric, value) in GpmMetric::ALL.iter().zip(own) {
            let key = format!("gpm({})", metric.key());
            assert_eq!(
                answers[&key],
                serde_json::json!({ "ok": value.unwrap() }),
                "{device} {key}"
            );
        }
    }
}

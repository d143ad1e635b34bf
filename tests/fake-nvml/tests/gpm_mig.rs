//! GPM of MIG GPU instances (`nvmlGpmMigSampleGet`) through the real NVML
//! code path on the fake library, on the `mig` preset: GPU 0 an A100 in MIG
//! mode (no GPM), GPU 1 an H100 in MIG mode with two busy GPU instances.
//!
//! One test in its own binary: the fake library reads the scenario from
//! the environment when it is initialised, and this process sets it once,
//! before any thread could read it.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::{c_uint, c_ulonglong};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use nvitop::Device;
use nvitop::backend::nvml::NvmlBackend;
use nvitop::backend::sim::{HOST_PIDS_ENV, SIM_SCENARIO_ENV, SIM_TIME_ENV, SimBackend};
use nvitop::backend::{Backend, BackendError, DeviceRef, GpmMetric};
use nvitop::device::GpmSampler;
use nvml_wrapper_sys::bindings as b;

use nvidia_ml::testing::{FakeLib, gpm_between_two_samples};

const SUCCESS: u32 = b::nvmlReturn_enum_NVML_SUCCESS;
const INVALID_ARGUMENT: u32 = b::nvmlReturn_enum_NVML_ERROR_INVALID_ARGUMENT;
const NOT_SUPPORTED: u32 = b::nvmlReturn_enum_NVML_ERROR_NOT_SUPPORTED;

type Dev = b::nvmlDevice_t;
type Sample = b::nvmlGpmSample_t;

/// The library's C functions, as any client following `nvml.h` calls them.
struct Api {
    lib: libloading::Library,
}

impl Api {
    fn f<T: Copy>(&self, name: &str) -> T {
        // SAFETY: each call site names the C signature of the symbol.
        unsafe { *self.lib.get::<T>(name.as_bytes()).unwrap() }
    }

    fn handle(&self, index: u32) -> Dev {
        let mut d: Dev = ptr::null_mut();
        // SAFETY: valid out pointer.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(c_uint, *mut Dev) -> u32>("nvmlDeviceGetHandleByIndex_v2")(index, &raw mut d)
        };
        assert_eq!(rc, SUCCESS);
        d
    }

    fn mig_handle(&self, parent: Dev, index: u32) -> Dev {
        let mut d: Dev = ptr::null_mut();
        // SAFETY: valid out pointer; handles are opaque values.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(Dev, c_uint, *mut Dev) -> u32>("nvmlDeviceGetMigDeviceHandleByIndex")(
                parent, index, &raw mut d,
            )
        };
        assert_eq!(rc, SUCCESS);
        d
    }

    fn alloc(&self) -> Sample {
        let mut sample: Sample = ptr::null_mut();
        // SAFETY: valid out pointer.
        let rc = unsafe { self.f::<unsafe extern "C" fn(*mut Sample) -> u32>("nvmlGpmSampleAlloc")(&raw mut sample) };
        assert_eq!(rc, SUCCESS);
        sample
    }

    fn free(&self, sample: Sample) -> u32 {
        // SAFETY: handles are opaque values; the library checks them.
        unsafe { self.f::<unsafe extern "C" fn(Sample) -> u32>("nvmlGpmSampleFree")(sample) }
    }

    fn get(&self, device: Dev, sample: Sample) -> u32 {
        // SAFETY: handles are opaque values; the library checks them.
        unsafe { self.f::<unsafe extern "C" fn(Dev, Sample) -> u32>("nvmlGpmSampleGet")(device, sample) }
    }

    fn mig_get(&self, device: Dev, gpu_instance_id: u32, sample: Sample) -> u32 {
        // SAFETY: handles are opaque values; the library checks them.
        unsafe {
            self.f::<unsafe extern "C" fn(Dev, c_uint, Sample) -> u32>("nvmlGpmMigSampleGet")(
                device,
                gpu_instance_id,
                sample,
            )
        }
    }

    /// `nvmlGpmMetricsGet` for SM activity: the return code and the value.
    fn sm_active(&self, first: Sample, second: Sample) -> (u32, u32, f64) {
        // SAFETY: an all-zero struct is valid (integers, floats, null pointers).
        let mut request: Box<b::nvmlGpmMetricsGet_t> = Box::new(unsafe { std::mem::zeroed() });
        request.version = b::NVML_GPM_METRICS_GET_VERSION;
        request.numMetrics = 1;
        request.sample1 = first;
        request.sample2 = second;
        request.metrics[0].metricId = GpmMetric::SmActive.nvml_id();
        // SAFETY: valid pointer to the struct.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(*mut b::nvmlGpmMetricsGet_t) -> u32>("nvmlGpmMetricsGet")(&raw mut *request)
        };
        (rc, request.metrics[0].nvmlReturn, request.metrics[0].value)
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
fn gpm_of_mig_gpu_instances_through_the_nvml_code_path() {
    let pool = "300001,300002,300003,300004,300005,300006,300007,300008";
    // SAFETY: the only test of this binary, before it starts any thread or
    // loads the library; nothing else reads the environment meanwhile.
    unsafe {
        std::env::set_var(SIM_SCENARIO_ENV, "preset:mig");
        std::env::set_var(SIM_TIME_ENV, "42");
        std::env::set_var(HOST_PIDS_ENV, pool);
    }
    let fake = FakeLib::new();
    // SAFETY: loading our own library runs no initialisers with preconditions.
    let api = Api {
        lib: unsafe { libloading::Library::new(fake.path()) }.expect("dlopen the fake library"),
    };
    // SAFETY: no arguments; this init keeps the library's state (and its
    // counters) for the whole test, whatever the NVML backend shuts down.
    assert_eq!(
        unsafe { api.f::<unsafe extern "C" fn() -> u32>("nvmlInit_v2")() },
        SUCCESS
    );

    // ---- the C ABI, as nvml.h says ----
    let (a100, h100) = (api.handle(0), api.handle(1));
    let (first, second) = (api.alloc(), api.alloc());
    assert_eq!(api.mig_get(h100, 1, first), SUCCESS);
    assert_eq!(api.mig_get(h100, 1, second), SUCCESS);
    let (rc, metric_rc, sm) = api.sm_active(first, second);
    assert_eq!((rc, metric_rc), (SUCCESS, SUCCESS));
    assert!(sm > 0.0 && sm <= 100.0, "GPU instance 1 runs a training job: {sm}");
    // GPU instance ids the H100 does not have.
    for id in [0, 3, 99] {
        assert_eq!(api.mig_get(h100, id, first), INVALID_ARGUMENT, "GPU instance {id}");
    }
    // A MIG device handle is not the parent device the call takes.
    assert_eq!(api.mig_get(api.mig_handle(h100, 0), 1, first), INVALID_ARGUMENT);
    // No GPM on an A100, MIG or not: NOT_SUPPORTED before the id is looked at.
    assert_eq!(api.mig_get(a100, 1, first), NOT_SUPPORTED);
    assert_eq!(api.mig_get(a100, 99, first), NOT_SUPPORTED);
    // A null or foreign sample.
    assert_eq!(api.mig_get(h100, 1, ptr::null_mut()), INVALID_ARGUMENT);
    assert_eq!(api.mig_get(h100, 1, 0x1234usize as Sample), INVALID_ARGUMENT);
    // A GPU instance's sample and one of the whole GPU are not a pair.
    assert_eq!(api.get(h100, second), SUCCESS);
    assert_eq!(api.sm_active(first, second).0, INVALID_ARGUMENT);
    assert_eq!(api.free(first), SUCCESS);
    assert_eq!(api.free(second), SUCCESS);
    assert_eq!(api.counts(), (2, 2));

    // ---- nvml-wrapper's GPM API through the NVML backend ----
    let backend: Arc<dyn Backend> = Arc::new(NvmlBackend::with_library(fake.path()).expect("open the fake library"));
    let scenario = nvitop::backend::sim::presets::preset("mig").unwrap();
    let pids: Vec<u32> = pool.split(',').map(|p| p.parse().unwrap()).collect();
    let sim = SimBackend::with_host_pool(scenario, pids);
    sim.set_time(42.0);
    // At the same pinned instant, each GPU instance answers through NVML
    // what the simulator answers in this process, metric for metric.
    for index in 0..2 {
        let mig = DeviceRef::Mig { parent: 1, index };
        let through_nvml = gpm_between_two_samples(&*backend, mig).unwrap();
        let own = gpm_between_two_samples(&sim, mig).unwrap();
        assert_eq!(through_nvml, own, "{mig}");
        assert!(*through_nvml[0].as_ref().unwrap() > 0.0, "{mig}: {through_nvml:?}");
    }
    // The A100's GPU instances: not supported, N/A.
    assert_eq!(
        backend.gpm_sample(DeviceRef::Mig { parent: 0, index: 0 }),
        Err(BackendError::NotSupported)
    );

    // GpmSampler over both GPUs and every MIG device: about 10,000 samples
    // of the H100 and its instances, every one freed.
    let mut devices = Vec::new();
    for gpu in Device::all_in(&backend).unwrap() {
        devices.extend(gpu.mig_devices().into_iter().map(nvitop::MigDevice::into_device));
        devices.push(gpu);
    }
    assert_eq!(devices.len(), 8, "4 + 2 MIG devices, 2 GPUs");
    let before = api.counts();
    let mut sampler = GpmSampler::with_min_interval(Duration::ZERO);
    let mut answered = 0;
    for _ in 0..3_334 {
        for device in &devices {
            let metrics = sampler.sample(device);
            if device.index() == 0 {
                assert_eq!(metrics, None, "{device:?}: an A100 has no GPM");
            }
            answered += usize::from(metrics.is_some());
        }
    }
    assert_eq!(
        answered,
        3 * 3_333,
        "the H100 and its two instances, after the first sample"
    );
    drop(sampler);
    let (allocated, freed) = api.counts();
    assert_eq!(allocated - before.0, 3 * 3_334);
    assert_eq!(freed, allocated, "every sample the sampler allocated was freed");
    drop(backend);
}

//! The exported NVML C functions.
//!
//! Each export runs its body inside [`guard`], which turns a panic into
//! `NVML_ERROR_UNKNOWN`: nothing unwinds across the C ABI. Arguments are
//! checked in the driver's order: library initialized, handle valid, output
//! pointers non-null, then the question is asked.

use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::OnceLock;

use nvitop::backend::sim::SimBackend;
use nvitop::backend::{
    Backend, BackendError, BackendResult, ClockKind, ComputeMode, DeviceRef, GpmMetric, GpmSampleId, PciBusId,
    PcieDirection, ProcessKind, RawProcess,
};
use nvml_wrapper_sys::bindings::{
    nvmlBAR1Memory_t, nvmlClockId_t, nvmlClockType_t, nvmlComputeMode_t, nvmlConfComputeMemSizeInfo_t, nvmlDevice_t,
    nvmlDriverModel_t, nvmlEccCounterType_t, nvmlEnableState_t, nvmlGpmMetricsGet_t, nvmlGpmSample_st, nvmlGpmSample_t,
    nvmlGpmSupport_t, nvmlMemory_t, nvmlMemory_v2_t, nvmlMemoryErrorType_t, nvmlPciInfo_t, nvmlPcieUtilCounter_t,
    nvmlProcessDetail_v1_t, nvmlProcessDetailList_v1_t, nvmlProcessInfo_t, nvmlProcessInfo_v1_t, nvmlProcessInfo_v2_t,
    nvmlProcessUtilizationSample_t, nvmlPstates_t, nvmlTemperature_v1_t, nvmlTemperatureSensors_t, nvmlUtilization_t,
};

use crate::state::{self, Loaded};
use codes::Code;

/// NVML return codes under short names.
pub(crate) mod codes {
    use nvml_wrapper_sys::bindings as b;

    /// An NVML return code.
    pub type Code = b::nvmlReturn_t;
    pub const SUCCESS: Code = b::nvmlReturn_enum_NVML_SUCCESS;
    pub const UNINITIALIZED: Code = b::nvmlReturn_enum_NVML_ERROR_UNINITIALIZED;
    pub const INVALID_ARGUMENT: Code = b::nvmlReturn_enum_NVML_ERROR_INVALID_ARGUMENT;
    pub const NOT_SUPPORTED: Code = b::nvmlReturn_enum_NVML_ERROR_NOT_SUPPORTED;
    pub const NO_PERMISSION: Code = b::nvmlReturn_enum_NVML_ERROR_NO_PERMISSION;
    pub const NOT_FOUND: Code = b::nvmlReturn_enum_NVML_ERROR_NOT_FOUND;
    pub const INSUFFICIENT_SIZE: Code = b::nvmlReturn_enum_NVML_ERROR_INSUFFICIENT_SIZE;
    pub const DRIVER_NOT_LOADED: Code = b::nvmlReturn_enum_NVML_ERROR_DRIVER_NOT_LOADED;
    pub const LIBRARY_NOT_FOUND: Code = b::nvmlReturn_enum_NVML_ERROR_LIBRARY_NOT_FOUND;
    pub const FUNCTION_NOT_FOUND: Code = b::nvmlReturn_enum_NVML_ERROR_FUNCTION_NOT_FOUND;
    pub const GPU_IS_LOST: Code = b::nvmlReturn_enum_NVML_ERROR_GPU_IS_LOST;
    pub const ARGUMENT_VERSION_MISMATCH: Code = b::nvmlReturn_enum_NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    pub const UNKNOWN: Code = b::nvmlReturn_enum_NVML_ERROR_UNKNOWN;
}

use codes::{
    ARGUMENT_VERSION_MISMATCH, DRIVER_NOT_LOADED, FUNCTION_NOT_FOUND, GPU_IS_LOST, INSUFFICIENT_SIZE, INVALID_ARGUMENT,
    LIBRARY_NOT_FOUND, NO_PERMISSION, NOT_FOUND, NOT_SUPPORTED, SUCCESS, UNKNOWN,
};

pub(crate) type R<T = ()> = Result<T, Code>;

/// `NVML_VALUE_NOT_AVAILABLE` as the 64-bit memory fields carry it.
const VALUE_NOT_AVAILABLE_U64: c_ulonglong = c_ulonglong::MAX;
/// "No MIG instance" in the process structs.
const NO_INSTANCE_ID: c_uint = c_uint::MAX;
/// `nvmlProcessMode_t` values of `nvmlDeviceGetRunningProcessDetailList`.
const PROCESS_MODE_COMPUTE: c_uint = 0;
const PROCESS_MODE_GRAPHICS: c_uint = 1;
const PROCESS_MODE_MPS: c_uint = 2;
/// Sampling period NVML reports with encoder/decoder utilization, µs.
const CODEC_SAMPLING_PERIOD_US: c_uint = 167_000;

/// Runs an export's body, turning errors into return codes and panics into
/// `NVML_ERROR_UNKNOWN`.
pub(crate) fn guard(body: impl FnOnce() -> R) -> Code {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SUCCESS,
        Ok(Err(code)) => code,
        Err(_) => UNKNOWN,
    }
}

/// Environment variable listing functions (comma-separated) that answer
/// `NVML_ERROR_FUNCTION_NOT_FOUND`, to play an older driver that lacks them.
pub const MISSING_ENV: &str = "NVITOP_FAKE_NVML_MISSING";

/// Whether `name` is one of the functions [`MISSING_ENV`] removes.
pub(crate) fn missing(name: &str) -> bool {
    static MISSING: OnceLock<Vec<String>> = OnceLock::new();
    MISSING
        .get_or_init(|| {
            std::env::var(MISSING_ENV)
                .unwrap_or_default()
                .split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .iter()
        .any(|m| m == name)
}

/// The NVML code a real driver returns for this backend error.
fn code(err: &BackendError) -> Code {
    match err {
        BackendError::NotSupported => NOT_SUPPORTED,
        BackendError::NoPermission => NO_PERMISSION,
        BackendError::GpuLost { .. } => GPU_IS_LOST,
        // Asked about a device that does not exist: the handle is invalid.
        BackendError::NotFound { .. } => INVALID_ARGUMENT,
        BackendError::LibraryNotFound { .. } | BackendError::NotALibrary { .. } => LIBRARY_NOT_FOUND,
        BackendError::NotAnNvmlLibrary { .. } | BackendError::FunctionNotFound => FUNCTION_NOT_FOUND,
        BackendError::DriverNotLoaded { .. } => DRIVER_NOT_LOADED,
        // `Other`, and any kind a later SDK adds (the enum is non_exhaustive).
        _ => UNKNOWN,
    }
}

/// The code for a failed look-up (by UUID, bus id): `NOT_FOUND` for "no such device".
fn lookup_code(err: &BackendError) -> Code {
    match err {
        BackendError::NotFound { .. } => NOT_FOUND,
        other => code(other),
    }
}

pub(crate) fn check<T>(result: BackendResult<T>) -> R<T> {
    result.map_err(|err| code(&err))
}

/// A resolved device handle.
pub(crate) struct Dev {
    loaded: Loaded,
    at: usize,
    pub(crate) dref: DeviceRef,
}

impl Dev {
    pub(crate) fn backend(&self) -> &SimBackend {
        &self.loaded.backend
    }
}

/// Resolves a handle: `UNINITIALIZED` before init, `INVALID_ARGUMENT` for a
/// handle this library did not give out (compared by address only).
pub(crate) fn dev(handle: nvmlDevice_t) -> R<Dev> {
    let loaded = state::loaded()?;
    let (at, slot) = loaded.table.slot_of(handle).ok_or(INVALID_ARGUMENT)?;
    let dref = slot.dref;
    Ok(Dev { loaded, at, dref })
}

pub(crate) fn nonnull<T>(p: *const T) -> R {
    if p.is_null() { Err(INVALID_ARGUMENT) } else { Ok(()) }
}

/// Writes one value through an output pointer.
///
/// # Safety
/// `out` is null or valid for a write of `T`.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) -> R {
    nonnull(out)?;
    // SAFETY: non-null, and valid for a write of `T` by this function's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Asks the simulator one question about a device and writes the answer.
///
/// # Safety
/// `out` is null or valid for a write of `T`.
pub(crate) unsafe fn query<T>(
    handle: nvmlDevice_t,
    out: *mut T,
    ask: impl FnOnce(&SimBackend, DeviceRef) -> BackendResult<T>,
) -> R {
    let dev = dev(handle)?;
    nonnull(out)?;
    let value = check(ask(dev.backend(), dev.dref))?;
    // SAFETY: `out` is valid for a write of `T` by this function's contract.
    unsafe { put(out, value) }
}

/// Asks the simulator one system-wide question and writes the answer.
///
/// # Safety
/// `out` is null or valid for a write of `T`.
unsafe fn system_query<T>(out: *mut T, ask: impl FnOnce(&SimBackend) -> BackendResult<T>) -> R {
    let loaded = state::loaded()?;
    nonnull(out)?;
    let value = check(ask(&loaded.backend))?;
    // SAFETY: `out` is valid for a write of `T` by this function's contract.
    unsafe { put(out, value) }
}

/// Copies a string into a C buffer of `length` bytes, NUL-terminated, with
/// NVML's rule: `INSUFFICIENT_SIZE` when it does not fit.
///
/// # Safety
/// `buf` is null or valid for writes of `length` bytes.
unsafe fn put_str(text: &str, buf: *mut c_char, length: c_uint) -> R {
    nonnull(buf)?;
    let bytes = text.as_bytes();
    let bytes = bytes.iter().position(|&b| b == 0).map_or(bytes, |nul| &bytes[..nul]);
    if bytes.len() >= length as usize {
        return Err(INSUFFICIENT_SIZE);
    }
    // SAFETY: `buf` is valid for `length` bytes (contract) and
    // `bytes.len() + 1 <= length`; the source is a distinct Rust allocation.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buf, bytes.len());
        buf.add(bytes.len()).write(0);
    }
    Ok(())
}

/// Reads a C string argument.
///
/// # Safety
/// `text` is null or points at a NUL-terminated string.
unsafe fn read_str<'a>(text: *const c_char) -> R<&'a str> {
    nonnull(text)?;
    // SAFETY: non-null and NUL-terminated by this function's contract.
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str().map_err(|_| INVALID_ARGUMENT)
}

/// Writes a device handle for a device of the simulator.
///
/// # Safety
/// `out` is null or valid for a write of a handle.
unsafe fn put_handle(loaded: &Loaded, dref: DeviceRef, out: *mut nvmlDevice_t) -> R {
    let at = loaded.table.position(dref).ok_or(NOT_FOUND)?;
    // SAFETY: `out` is valid for a write of a handle by this function's contract.
    unsafe { put(out, loaded.table.handle(at)) }
}

pub(crate) fn enable_state(on: bool) -> nvmlEnableState_t {
    nvmlEnableState_t::from(on)
}

fn clock_kind(kind: nvmlClockType_t) -> R<ClockKind> {
    use nvml_wrapper_sys::bindings as b;
    match kind {
        b::nvmlClockType_enum_NVML_CLOCK_GRAPHICS => Ok(ClockKind::Graphics),
        b::nvmlClockType_enum_NVML_CLOCK_SM => Ok(ClockKind::Sm),
        b::nvmlClockType_enum_NVML_CLOCK_MEM => Ok(ClockKind::Memory),
        b::nvmlClockType_enum_NVML_CLOCK_VIDEO => Ok(ClockKind::Video),
        _ => Err(INVALID_ARGUMENT),
    }
}

/// A plausible PCI device id (`device << 16 | 0x10DE`) for a product name.
fn pci_device_id(name: &str) -> u32 {
    let device: u32 = [
        ("B200", 0x2901),
        ("H200", 0x2335),
        ("H100", 0x2330),
        ("A100", 0x20B2),
        ("A10", 0x2236),
        ("L40", 0x26B5),
        ("L4", 0x27B8),
        ("V100", 0x1DB5),
        ("T4", 0x1EB8),
        ("4090", 0x2684),
        ("3090", 0x2204),
    ]
    .iter()
    .find(|(needle, _)| name.contains(needle))
    .map_or(0x1234, |&(_, id)| id);
    (device << 16) | 0x10DE
}

fn fill_c_chars(dst: &mut [c_char], text: &str) {
    for (d, s) in dst.iter_mut().zip(text.bytes().chain(std::iter::repeat(0))) {
        *d = s as c_char;
    }
    if let Some(last) = dst.last_mut() {
        *last = 0;
    }
}

/// The full PCI info of a device.
fn pci_info(dev: &Dev) -> R<nvmlPciInfo_t> {
    let bus_id = check(dev.backend().bus_id(dev.dref))?;
    let id = PciBusId::parse(&bus_id).ok_or(UNKNOWN)?;
    let name = dev.backend().name(dev.dref).unwrap_or_default();
    let mut info = nvmlPciInfo_t {
        busIdLegacy: [0; 16],
        domain: id.domain,
        bus: id.bus,
        device: id.device,
        pciDeviceId: pci_device_id(&name),
        pciSubSystemId: 0x1000_10DE,
        busId: [0; 32],
    };
    fill_c_chars(&mut info.busIdLegacy, &id.legacy());
    fill_c_chars(&mut info.busId, &bus_id);
    Ok(info)
}

/// The processes of one kind (compute or graphics) on a device.
fn processes_of(dev: &Dev, graphics: bool) -> R<Vec<RawProcess>> {
    let all = check(dev.backend().processes(dev.dref))?;
    Ok(all
        .into_iter()
        .filter(|p| match p.kind {
            ProcessKind::Compute => !graphics,
            ProcessKind::Graphics => graphics,
            ProcessKind::ComputeGraphics => true,
        })
        .collect())
}

/// NVML's list negotiation: `*count` holds the buffer's capacity on entry
/// and gets the needed count; an empty list answers `empty` (`Ok` or an
/// error, as the function documents); a null or short buffer is
/// `INSUFFICIENT_SIZE`; otherwise the list is copied into `buf`.
///
/// # Safety
/// `count` is null or valid for reads and writes; `buf` is null or valid
/// for writes of `*count` (on entry) elements and does not overlap `list`.
unsafe fn put_list<T: Copy>(list: &[T], count: *mut c_uint, buf: *mut T, empty: R) -> R {
    nonnull(count)?;
    let needed = c_uint::try_from(list.len()).map_err(|_| UNKNOWN)?;
    // SAFETY: `count` is non-null and valid for reads and writes (contract).
    let capacity = unsafe { count.replace(needed) };
    if needed == 0 {
        return empty;
    }
    if buf.is_null() || capacity < needed {
        return Err(INSUFFICIENT_SIZE);
    }
    // SAFETY: `buf` is valid for `capacity >= needed` elements and does not
    // overlap `list` (contract).
    unsafe { ptr::copy_nonoverlapping(list.as_ptr(), buf, list.len()) };
    Ok(())
}

/// The `nvmlDeviceGet*RunningProcesses*` protocol ([`put_list`]): a null or
/// short buffer gets the needed count in `*count` and `INSUFFICIENT_SIZE`;
/// no processes is `SUCCESS` with a count of 0.
///
/// # Safety
/// `count` is null or valid for reads and writes; `infos` is null or valid
/// for writes of `*count` elements.
unsafe fn running_processes<T: Copy>(
    handle: nvmlDevice_t,
    count: *mut c_uint,
    infos: *mut T,
    graphics: bool,
    convert: impl Fn(&RawProcess) -> T,
) -> R {
    let dev = dev(handle)?;
    nonnull(count)?;
    let list: Vec<T> = processes_of(&dev, graphics)?.iter().map(convert).collect();
    // SAFETY: `count` and `infos` as this function's contract says; `list`
    // is freshly built, so `infos` does not overlap it.
    unsafe { put_list(&list, count, infos, Ok(())) }
}

fn used_memory(p: &RawProcess) -> c_ulonglong {
    p.used_gpu_memory.unwrap_or(VALUE_NOT_AVAILABLE_U64)
}

fn info_v1(p: &RawProcess) -> nvmlProcessInfo_v1_t {
    nvmlProcessInfo_v1_t {
        pid: p.pid,
        usedGpuMemory: used_memory(p),
    }
}

fn info_v2(p: &RawProcess) -> nvmlProcessInfo_v2_t {
    nvmlProcessInfo_v2_t {
        pid: p.pid,
        usedGpuMemory: used_memory(p),
        gpuInstanceId: p.gpu_instance_id.unwrap_or(NO_INSTANCE_ID),
        computeInstanceId: p.compute_instance_id.unwrap_or(NO_INSTANCE_ID),
    }
}

fn info_v3(p: &RawProcess) -> nvmlProcessInfo_t {
    info_v2(p)
}

/// The MIG GPU instance and compute instance ids of a MIG device: those its
/// processes report, else ids derived from its MIG index.
fn mig_instance_ids(dev: &Dev) -> R<(u32, u32)> {
    let DeviceRef::Mig { index, .. } = dev.dref else {
        return Err(NOT_SUPPORTED);
    };
    let from_processes = dev.backend().processes(dev.dref).ok().and_then(|list| {
        list.iter()
            .find_map(|p| p.gpu_instance_id.map(|gi| (gi, p.compute_instance_id.unwrap_or(0))))
    });
    Ok(from_processes.unwrap_or((index + 1, 0)))
}

/// NVML's architecture code for a CUDA compute capability.
fn architecture((major, minor): (u32, u32)) -> u32 {
    use nvml_wrapper_sys::bindings as b;
    match (major, minor) {
        (3, _) => b::NVML_DEVICE_ARCH_KEPLER,
        (5, _) => b::NVML_DEVICE_ARCH_MAXWELL,
        (6, _) => b::NVML_DEVICE_ARCH_PASCAL,
        (7, 0..=4) => b::NVML_DEVICE_ARCH_VOLTA,
        (7, _) => b::NVML_DEVICE_ARCH_TURING,
        (8, 9) => b::NVML_DEVICE_ARCH_ADA,
        (8, _) => b::NVML_DEVICE_ARCH_AMPERE,
        (9, _) => b::NVML_DEVICE_ARCH_HOPPER,
        (10 | 12, _) => b::NVML_DEVICE_ARCH_BLACKWELL,
        _ => b::NVML_DEVICE_ARCH_UNKNOWN,
    }
}

fn compute_mode_code(mode: ComputeMode) -> nvmlComputeMode_t {
    use nvml_wrapper_sys::bindings as b;
    match mode {
        ComputeMode::Default => b::nvmlComputeMode_enum_NVML_COMPUTEMODE_DEFAULT,
        ComputeMode::ExclusiveThread => b::nvmlComputeMode_enum_NVML_COMPUTEMODE_EXCLUSIVE_THREAD,
        ComputeMode::Prohibited => b::nvmlComputeMode_enum_NVML_COMPUTEMODE_PROHIBITED,
        ComputeMode::ExclusiveProcess => b::nvmlComputeMode_enum_NVML_COMPUTEMODE_EXCLUSIVE_PROCESS,
    }
}

/// NVML's versioned-struct tag: `sizeof(struct) | version << 24`.
const fn struct_version<T>(version: u32) -> c_uint {
    (std::mem::size_of::<T>() as u32) | (version << 24)
}

/// The texts the real driver's `nvmlErrorString` gives.
fn error_text(result: Code) -> &'static CStr {
    match result {
        0 => c"Success",
        1 => c"Uninitialized",
        2 => c"Invalid Argument",
        3 => c"Not Supported",
        4 => c"Insufficient Permissions",
        5 => c"Already Initialized",
        6 => c"Not Found",
        7 => c"Insufficient Size",
        8 => c"Insufficient External Power",
        9 => c"Driver Not Loaded",
        10 => c"Timeout",
        11 => c"Interrupt request issue",
        12 => c"NVML Shared Library Not Found",
        13 => c"Function Not Found",
        14 => c"Corrupted infoROM",
        15 => c"GPU is lost",
        16 => c"GPU requires restart",
        17 => c"The operating system has blocked the request.",
        18 => c"RM has detected an NVML/RM version mismatch.",
        19 => c"In use by another client",
        20 => c"Insufficient Memory",
        21 => c"No data",
        25 => c"Argument version mismatch",
        26 => c"Deprecated",
        27 => c"Not Ready",
        28 => c"GPU not found",
        29 => c"Invalid state",
        _ => c"Unknown Error",
    }
}

/// Returns a static, NUL-terminated description of an NVML return code.
///
/// # Safety
/// Always safe to call; `unsafe` only because it is an exported C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlErrorString(result: Code) -> *const c_char {
    catch_unwind(|| error_text(result).as_ptr()).unwrap_or(c"Unknown Error".as_ptr())
}

/// Environment variable setting the GPM struct version (`nvmlGpmSupport_t`,
/// `nvmlGpmMetricsGet_t`) this library accepts; others answer
/// `NVML_ERROR_ARGUMENT_VERSION_MISMATCH`. Unset: 1, today's header. Set
/// to 2 to play a future driver that no longer takes version 1.
pub const GPM_VERSION_ENV: &str = "NVITOP_FAKE_NVML_GPM_VERSION";

/// The GPM struct version this library accepts (see [`GPM_VERSION_ENV`]).
fn gpm_version() -> c_uint {
    static VERSION: OnceLock<c_uint> = OnceLock::new();
    *VERSION.get_or_init(|| {
        std::env::var(GPM_VERSION_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(nvml_wrapper_sys::bindings::NVML_GPM_METRICS_GET_VERSION)
    })
}

/// `NVML_GPM_METRIC_MAX`: the most metrics one `nvmlGpmMetricsGet` takes.
const GPM_METRIC_MAX: c_uint = nvml_wrapper_sys::bindings::nvmlGpmMetricId_t_NVML_GPM_METRIC_MAX;

/// A GPM sample handle: the simulator's sample number as the pointer value
/// (never dereferenced; the simulator checks every number it is given, so
/// a foreign or freed handle is an invalid argument).
fn sample_handle(sample: GpmSampleId) -> nvmlGpmSample_t {
    usize::try_from(sample.0).map_or(ptr::null_mut(), |n| n as *mut nvmlGpmSample_st)
}

fn sample_id(handle: nvmlGpmSample_t) -> R<GpmSampleId> {
    if handle.is_null() {
        return Err(INVALID_ARGUMENT);
    }
    Ok(GpmSampleId(handle as usize as u64))
}

/// Names and unit NVML gives a metric in `metricInfo` (null for the rest).
fn gpm_metric_info(id: c_uint) -> Option<(&'static CStr, &'static CStr, &'static CStr)> {
    let metric = GpmMetric::from_nvml_id(id)?;
    Some(match metric {
        GpmMetric::SmActive => (c"SM_UTIL", c"SM Utilization", c"%"),
        GpmMetric::SmOccupancy => (c"SM_OCCUPANCY", c"SM Occupancy", c"%"),
        GpmMetric::TensorActive => (c"ANY_TENSOR_UTIL", c"Any Tensor Utilization", c"%"),
        GpmMetric::DramActive => (c"DRAM_BW_UTIL", c"DRAM Bandwidth Utilization", c"%"),
        GpmMetric::Fp16Active => (c"FP16_UTIL", c"FP16 Utilization", c"%"),
        GpmMetric::Fp32Active => (c"FP32_UTIL", c"FP32 Utilization", c"%"),
        GpmMetric::Fp64Active => (c"FP64_UTIL", c"FP64 Utilization", c"%"),
        GpmMetric::PcieTx => (c"PCIE_TX", c"PCIe Transmit Throughput", c"MiB/sec"),
        GpmMetric::PcieRx => (c"PCIE_RX", c"PCIe Receive Throughput", c"MiB/sec"),
    })
}

/// `nvmlGpmMetricsGet`: checks the struct, then answers each metric with
/// its own return code.
///
/// # Safety
/// `request` is null or valid for reads and writes of the struct.
unsafe fn gpm_metrics_get(request: *mut nvmlGpmMetricsGet_t) -> R {
    let loaded = state::loaded()?;
    nonnull(request)?;
    // SAFETY: `request` is non-null and valid for reads (contract); fields
    // are read one by one through raw pointers, no reference is made.
    let (version, count, first, second) = unsafe {
        (
            (&raw const (*request).version).read(),
            (&raw const (*request).numMetrics).read(),
            (&raw const (*request).sample1).read(),
            (&raw const (*request).sample2).read(),
        )
    };
    if version != gpm_version() {
        return Err(ARGUMENT_VERSION_MISMATCH);
    }
    if count > GPM_METRIC_MAX {
        return Err(INVALID_ARGUMENT);
    }
    let ids: Vec<c_uint> = (0..count as usize)
        // SAFETY: `i < numMetrics <= NVML_GPM_METRIC_MAX`, the array's length.
        .map(|i| unsafe { (&raw const (*request).metrics[i].metricId).read() })
        .collect();
    let answers = check(
        loaded
            .backend
            .gpm_metrics_by_id(sample_id(first)?, sample_id(second)?, &ids),
    )?;
    for (i, (id, answer)) in ids.iter().zip(answers).enumerate() {
        let (result, value) = match answer {
            Ok(value) => (SUCCESS, value),
            Err(err) => (code(&err), 0.0),
        };
        let (short, long, unit) = gpm_metric_info(*id).map_or((ptr::null(), ptr::null(), ptr::null()), |(s, l, u)| {
            (s.as_ptr(), l.as_ptr(), u.as_ptr())
        });
        // SAFETY: `i < numMetrics <= NVML_GPM_METRIC_MAX` and `request` is
        // valid for writes (contract); the strings are `'static`, and NVML's
        // header types them `char *` though callers only read them.
        unsafe {
            let metric = &raw mut (*request).metrics[i];
            (&raw mut (*metric).nvmlReturn).write(result);
            (&raw mut (*metric).value).write(value);
            (&raw mut (*metric).metricInfo.shortName).write(short.cast_mut());
            (&raw mut (*metric).metricInfo.longName).write(long.cast_mut());
            (&raw mut (*metric).metricInfo.unit).write(unit.cast_mut());
        }
    }
    Ok(())
}

/// GPM samples the simulator has allocated and freed, for leak tests; not
/// an NVML function. Both pointers must be valid for a write.
///
/// # Safety
/// `allocated` and `freed` are null or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fakeNvmlGpmSampleCounts(allocated: *mut c_ulonglong, freed: *mut c_ulonglong) -> Code {
    guard(|| {
        let loaded = state::loaded()?;
        nonnull(freed)?;
        let (a, f) = loaded.backend.gpm_sample_counts();
        // SAFETY: both are valid for a write (this function's contract).
        unsafe {
            put(allocated, a)?;
            put(freed, f)
        }
    })
}

/// Defines the exported functions (each body runs inside [`guard`]) and the
/// list of their names.
macro_rules! exports {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block
    )*) => {
        $(
            $(#[doc = $doc])*
            ///
            /// # Safety
            /// Pointer arguments are null or valid for the reads and writes
            /// NVML documents for this function; handles are any value.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> Code {
                guard(move || {
                    if missing(stringify!($name)) {
                        return Err(FUNCTION_NOT_FOUND);
                    }
                    // The first `nvmlInit*` sleeps while loading the simulator.
                    if !stringify!($name).starts_with("nvmlInit") {
                        state::delay(stringify!($name));
                    }
                    $body
                })
            }
        )*
        /// Names of every exported function.
        pub(crate) const EXPORTED: &[&str] = &["nvmlErrorString", $(stringify!($name)),*];
    };
}
// Other export modules (exports_nvlink.rs) define their functions with it too.
pub(crate) use exports;

exports! {
    // ---------------------------------------------------------------- init

    /// Initializes the library (legacy entry point).
    fn nvmlInit() {
        state::init()
    }

    /// Initializes the library; reference-counted.
    fn nvmlInit_v2() {
        state::init()
    }

    /// Initializes the library with flags (all flags are accepted and ignored).
    fn nvmlInitWithFlags(flags: c_uint) {
        let _ = flags;
        state::init()
    }

    /// Releases one reference taken by `nvmlInit*`.
    fn nvmlShutdown() {
        state::shutdown()
    }

    // -------------------------------------------------------------- system

    /// Driver version string.
    fn nvmlSystemGetDriverVersion(version: *mut c_char, length: c_uint) {
        let loaded = state::loaded()?;
        nonnull(version)?;
        let text = check(loaded.backend.driver_version())?;
        // SAFETY: `version` is valid for `length` bytes (NVML contract).
        unsafe { put_str(&text, version, length) }
    }

    /// NVML library version string.
    fn nvmlSystemGetNVMLVersion(version: *mut c_char, length: c_uint) {
        let loaded = state::loaded()?;
        nonnull(version)?;
        let text = check(loaded.backend.nvml_version())?;
        // SAFETY: `version` is valid for `length` bytes (NVML contract).
        unsafe { put_str(&text, version, length) }
    }

    /// CUDA driver version, `1000 * major + 10 * minor`.
    fn nvmlSystemGetCudaDriverVersion(cuda_driver_version: *mut c_int) {
        // SAFETY: `cuda_driver_version` is valid for a write (NVML contract).
        unsafe { system_query(cuda_driver_version, Backend::cuda_driver_version) }
    }

    /// CUDA driver version, `1000 * major + 10 * minor`.
    fn nvmlSystemGetCudaDriverVersion_v2(cuda_driver_version: *mut c_int) {
        // SAFETY: `cuda_driver_version` is valid for a write (NVML contract).
        unsafe { system_query(cuda_driver_version, Backend::cuda_driver_version) }
    }

    /// Name of a host process (from `/proc`, as the driver does).
    /// The driver truncates a name that does not fit (this call has no
    /// `INSUFFICIENT_SIZE`) and rejects a zero length.
    fn nvmlSystemGetProcessName(pid: c_uint, name: *mut c_char, length: c_uint) {
        state::loaded()?;
        nonnull(name)?;
        if length == 0 {
            return Err(INVALID_ARGUMENT);
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).map_err(|_| NOT_FOUND)?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let exe = cmdline.split(|&b| b == 0).next().map(String::from_utf8_lossy).unwrap_or_default();
        let text = if exe.is_empty() { comm.trim_end().to_owned() } else { exe.into_owned() };
        // Cut to `length - 1` bytes (room for the NUL), at a character boundary.
        let mut end = text.len().min(length as usize - 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // SAFETY: `name` is valid for `length` bytes (NVML contract).
        unsafe { put_str(&text[..end], name, length) }
    }

    // ------------------------------------------------------------- devices

    /// Number of GPUs (legacy entry point).
    fn nvmlDeviceGetCount(device_count: *mut c_uint) {
        // SAFETY: `device_count` is valid for a write (NVML contract).
        unsafe { system_query(device_count, Backend::device_count) }
    }

    /// Number of GPUs.
    fn nvmlDeviceGetCount_v2(device_count: *mut c_uint) {
        // SAFETY: `device_count` is valid for a write (NVML contract).
        unsafe { system_query(device_count, Backend::device_count) }
    }

    /// Handle of the GPU at an index (legacy entry point).
    fn nvmlDeviceGetHandleByIndex(index: c_uint, device: *mut nvmlDevice_t) {
        // SAFETY: `device` is valid for a write (NVML contract).
        unsafe { handle_by_index(index, device) }
    }

    /// Handle of the GPU at an index.
    fn nvmlDeviceGetHandleByIndex_v2(index: c_uint, device: *mut nvmlDevice_t) {
        // SAFETY: `device` is valid for a write (NVML contract).
        unsafe { handle_by_index(index, device) }
    }

    /// Handle of the GPU or MIG device with a UUID.
    fn nvmlDeviceGetHandleByUUID(uuid: *const c_char, device: *mut nvmlDevice_t) {
        let loaded = state::loaded()?;
        // SAFETY: `uuid` is a NUL-terminated string (NVML contract).
        let uuid = unsafe { read_str(uuid) }?;
        nonnull(device)?;
        let dref = loaded.backend.device_by_uuid(uuid).map_err(|e| lookup_code(&e))?;
        // SAFETY: `device` is valid for a write (NVML contract).
        unsafe { put_handle(&loaded, dref, device) }
    }

    /// Handle of the GPU at a PCI bus id (legacy entry point).
    fn nvmlDeviceGetHandleByPciBusId(pci_bus_id: *const c_char, device: *mut nvmlDevice_t) {
        // SAFETY: `pci_bus_id` is NUL-terminated, `device` valid for a write (NVML contract).
        unsafe { handle_by_bus_id(pci_bus_id, device) }
    }

    /// Handle of the GPU at a PCI bus id.
    fn nvmlDeviceGetHandleByPciBusId_v2(pci_bus_id: *const c_char, device: *mut nvmlDevice_t) {
        // SAFETY: `pci_bus_id` is NUL-terminated, `device` valid for a write (NVML contract).
        unsafe { handle_by_bus_id(pci_bus_id, device) }
    }

    /// NVML index of a GPU (the parent's for a MIG device).
    fn nvmlDeviceGetIndex(device: nvmlDevice_t, index: *mut c_uint) {
        // SAFETY: `index` is valid for a write (NVML contract).
        unsafe { query(device, index, |_, d| Ok(d.physical_index())) }
    }

    /// Device minor number (`/dev/nvidiaN`).
    fn nvmlDeviceGetMinorNumber(device: nvmlDevice_t, minor_number: *mut c_uint) {
        // SAFETY: `minor_number` is valid for a write (NVML contract).
        unsafe { query(device, minor_number, |_, d| Ok(d.physical_index())) }
    }

    /// Board id (unique per board).
    fn nvmlDeviceGetBoardId(device: nvmlDevice_t, board_id: *mut c_uint) {
        // SAFETY: `board_id` is valid for a write (NVML contract).
        unsafe { query(device, board_id, |_, d| Ok(0x100 * (d.physical_index() + 1))) }
    }

    /// Product name.
    fn nvmlDeviceGetName(device: nvmlDevice_t, name: *mut c_char, length: c_uint) {
        let dev = dev(device)?;
        nonnull(name)?;
        let text = check(dev.backend().name(dev.dref))?;
        // SAFETY: `name` is valid for `length` bytes (NVML contract).
        unsafe { put_str(&text, name, length) }
    }

    /// UUID (`GPU-...` or `MIG-...`).
    fn nvmlDeviceGetUUID(device: nvmlDevice_t, uuid: *mut c_char, length: c_uint) {
        let dev = dev(device)?;
        nonnull(uuid)?;
        let text = check(dev.backend().uuid(dev.dref))?;
        // SAFETY: `uuid` is valid for `length` bytes (NVML contract).
        unsafe { put_str(&text, uuid, length) }
    }

    /// PCI information, original (v1) struct: only the fields it shares
    /// with the current struct are written.
    fn nvmlDeviceGetPciInfo(device: nvmlDevice_t, pci: *mut nvmlPciInfo_t) {
        // SAFETY: `pci` points at a v1 struct (NVML contract).
        unsafe { put_legacy_pci_info(device, pci) }
    }

    /// PCI information, v2 struct: the v1 fields and four reserved words,
    /// so only the fields it shares with the current struct are written
    /// (its reserved words lie where the current struct's `busId` starts).
    fn nvmlDeviceGetPciInfo_v2(device: nvmlDevice_t, pci: *mut nvmlPciInfo_t) {
        // SAFETY: `pci` points at a v2 struct (NVML contract).
        unsafe { put_legacy_pci_info(device, pci) }
    }

    /// PCI information, the current (v3) struct.
    fn nvmlDeviceGetPciInfo_v3(device: nvmlDevice_t, pci: *mut nvmlPciInfo_t) {
        // SAFETY: `pci` is valid for a write of the struct (NVML contract).
        unsafe { put_pci_info(device, pci) }
    }

    // -------------------------------------------------------------- memory

    /// Framebuffer memory (v1 struct).
    fn nvmlDeviceGetMemoryInfo(device: nvmlDevice_t, memory: *mut nvmlMemory_t) {
        // SAFETY: `memory` is valid for a write (NVML contract).
        unsafe {
            query(device, memory, |b, d| {
                b.memory_info(d).map(|m| nvmlMemory_t { total: m.total, free: m.free, used: m.used })
            })
        }
    }

    /// Framebuffer memory (v2 struct, with `reserved`); checks the struct version.
    fn nvmlDeviceGetMemoryInfo_v2(device: nvmlDevice_t, memory: *mut nvmlMemory_v2_t) {
        let dev = dev(device)?;
        nonnull(memory)?;
        // SAFETY: `memory` is valid for reads and writes of the struct (NVML contract).
        let version = unsafe { (&raw const (*memory).version).read() };
        if version != struct_version::<nvmlMemory_v2_t>(2) {
            return Err(ARGUMENT_VERSION_MISMATCH);
        }
        let m = check(dev.backend().memory_info(dev.dref))?;
        let value = nvmlMemory_v2_t {
            version,
            total: m.total,
            reserved: m.total.saturating_sub(m.used).saturating_sub(m.free),
            free: m.free,
            used: m.used,
        };
        // SAFETY: as above.
        unsafe { put(memory, value) }
    }

    /// BAR1 memory.
    fn nvmlDeviceGetBAR1MemoryInfo(device: nvmlDevice_t, bar1_memory: *mut nvmlBAR1Memory_t) {
        // SAFETY: `bar1_memory` is valid for a write (NVML contract).
        unsafe {
            query(device, bar1_memory, |b, d| {
                b.bar1_memory_info(d).map(|m| nvmlBAR1Memory_t {
                    bar1Total: m.total,
                    bar1Free: m.free,
                    bar1Used: m.used,
                })
            })
        }
    }

    // --------------------------------------------------------- utilization

    /// GPU and memory-bandwidth utilization.
    fn nvmlDeviceGetUtilizationRates(device: nvmlDevice_t, utilization: *mut nvmlUtilization_t) {
        // SAFETY: `utilization` is valid for a write (NVML contract).
        unsafe {
            query(device, utilization, |b, d| {
                b.utilization_rates(d).map(|u| nvmlUtilization_t { gpu: u.gpu, memory: u.memory })
            })
        }
    }

    /// Encoder utilization and its sampling period.
    fn nvmlDeviceGetEncoderUtilization(
        device: nvmlDevice_t,
        utilization: *mut c_uint,
        sampling_period_us: *mut c_uint,
    ) {
        nonnull(sampling_period_us)?;
        // SAFETY: both pointers are valid for writes (NVML contract).
        unsafe {
            query(device, utilization, Backend::encoder_utilization)?;
            put(sampling_period_us, CODEC_SAMPLING_PERIOD_US)
        }
    }

    /// Decoder utilization and its sampling period.
    fn nvmlDeviceGetDecoderUtilization(
        device: nvmlDevice_t,
        utilization: *mut c_uint,
        sampling_period_us: *mut c_uint,
    ) {
        nonnull(sampling_period_us)?;
        // SAFETY: both pointers are valid for writes (NVML contract).
        unsafe {
            query(device, utilization, Backend::decoder_utilization)?;
            put(sampling_period_us, CODEC_SAMPLING_PERIOD_US)
        }
    }

    // -------------------------------------------------- thermals and power

    /// Fan 0 speed, percent.
    fn nvmlDeviceGetFanSpeed(device: nvmlDevice_t, speed: *mut c_uint) {
        // SAFETY: `speed` is valid for a write (NVML contract).
        unsafe { query(device, speed, Backend::fan_speed) }
    }

    /// Speed of one fan, percent (the simulator models one fan).
    fn nvmlDeviceGetFanSpeed_v2(device: nvmlDevice_t, fan: c_uint, speed: *mut c_uint) {
        let dev = dev(device)?;
        nonnull(speed)?;
        let value = check(dev.backend().fan_speed(dev.dref))?;
        if fan != 0 {
            return Err(INVALID_ARGUMENT);
        }
        // SAFETY: `speed` is valid for a write (NVML contract).
        unsafe { put(speed, value) }
    }

    /// Number of fans: 1 where the fan speed is known.
    fn nvmlDeviceGetNumFans(device: nvmlDevice_t, num_fans: *mut c_uint) {
        // SAFETY: `num_fans` is valid for a write (NVML contract).
        unsafe { query(device, num_fans, |b, d| b.fan_speed(d).map(|_| 1)) }
    }

    /// GPU temperature, °C (sensor `NVML_TEMPERATURE_GPU` only).
    fn nvmlDeviceGetTemperature(device: nvmlDevice_t, sensor_type: nvmlTemperatureSensors_t, temp: *mut c_uint) {
        let dev = dev(device)?;
        nonnull(temp)?;
        if sensor_type != nvml_wrapper_sys::bindings::nvmlTemperatureSensors_enum_NVML_TEMPERATURE_GPU {
            return Err(INVALID_ARGUMENT);
        }
        let value = check(dev.backend().temperature(dev.dref))?;
        // SAFETY: `temp` is valid for a write (NVML contract).
        unsafe { put(temp, value) }
    }

    /// GPU temperature through the versioned struct (v1).
    fn nvmlDeviceGetTemperatureV(device: nvmlDevice_t, temperature: *mut nvmlTemperature_v1_t) {
        let dev = dev(device)?;
        nonnull(temperature)?;
        // SAFETY: `temperature` is valid for reads and writes of the struct (NVML contract).
        let (version, sensor) = unsafe {
            (
                (&raw const (*temperature).version).read(),
                (&raw const (*temperature).sensorType).read(),
            )
        };
        if version != struct_version::<nvmlTemperature_v1_t>(1) {
            return Err(ARGUMENT_VERSION_MISMATCH);
        }
        if sensor != nvml_wrapper_sys::bindings::nvmlTemperatureSensors_enum_NVML_TEMPERATURE_GPU {
            return Err(INVALID_ARGUMENT);
        }
        let value = check(dev.backend().temperature(dev.dref))?;
        let value = c_int::try_from(value).map_err(|_| UNKNOWN)?;
        // SAFETY: as above.
        unsafe { (&raw mut (*temperature).temperature).write(value) };
        Ok(())
    }

    /// Power draw, mW.
    fn nvmlDeviceGetPowerUsage(device: nvmlDevice_t, power: *mut c_uint) {
        // SAFETY: `power` is valid for a write (NVML contract).
        unsafe { query(device, power, Backend::power_usage) }
    }

    /// Power management limit, mW (the simulator's enforced limit).
    fn nvmlDeviceGetPowerManagementLimit(device: nvmlDevice_t, limit: *mut c_uint) {
        // SAFETY: `limit` is valid for a write (NVML contract).
        unsafe { query(device, limit, Backend::power_limit) }
    }

    /// Enforced power limit, mW.
    fn nvmlDeviceGetEnforcedPowerLimit(device: nvmlDevice_t, limit: *mut c_uint) {
        // SAFETY: `limit` is valid for a write (NVML contract).
        unsafe { query(device, limit, Backend::power_limit) }
    }

    /// Energy since the driver was loaded, mJ.
    fn nvmlDeviceGetTotalEnergyConsumption(device: nvmlDevice_t, energy: *mut c_ulonglong) {
        // SAFETY: `energy` is valid for a write (NVML contract).
        unsafe { query(device, energy, Backend::total_energy_consumption) }
    }

    /// Performance state (P0..P15).
    fn nvmlDeviceGetPerformanceState(device: nvmlDevice_t, p_state: *mut nvmlPstates_t) {
        // SAFETY: `p_state` is valid for a write (NVML contract).
        unsafe { query(device, p_state, Backend::performance_state) }
    }

    /// Performance state (deprecated name).
    fn nvmlDeviceGetPowerState(device: nvmlDevice_t, p_state: *mut nvmlPstates_t) {
        // SAFETY: `p_state` is valid for a write (NVML contract).
        unsafe { query(device, p_state, Backend::performance_state) }
    }

    // --------------------------------------------------------------- modes

    /// Persistence mode.
    fn nvmlDeviceGetPersistenceMode(device: nvmlDevice_t, mode: *mut nvmlEnableState_t) {
        // SAFETY: `mode` is valid for a write (NVML contract).
        unsafe { query(device, mode, |b, d| b.persistence_mode(d).map(enable_state)) }
    }

    /// Whether a display is connected (the simulator's display-active flag).
    fn nvmlDeviceGetDisplayMode(device: nvmlDevice_t, display: *mut nvmlEnableState_t) {
        // SAFETY: `display` is valid for a write (NVML contract).
        unsafe { query(device, display, |b, d| b.display_active(d).map(enable_state)) }
    }

    /// Whether a display is initialized.
    fn nvmlDeviceGetDisplayActive(device: nvmlDevice_t, is_active: *mut nvmlEnableState_t) {
        // SAFETY: `is_active` is valid for a write (NVML contract).
        unsafe { query(device, is_active, |b, d| b.display_active(d).map(enable_state)) }
    }

    /// Compute mode.
    fn nvmlDeviceGetComputeMode(device: nvmlDevice_t, mode: *mut nvmlComputeMode_t) {
        // SAFETY: `mode` is valid for a write (NVML contract).
        unsafe { query(device, mode, |b, d| b.compute_mode(d).map(compute_mode_code)) }
    }

    /// ECC mode: enabled (current and pending) wherever ECC errors are counted.
    fn nvmlDeviceGetEccMode(device: nvmlDevice_t, current: *mut nvmlEnableState_t, pending: *mut nvmlEnableState_t) {
        nonnull(pending)?;
        // SAFETY: both pointers are valid for writes (NVML contract).
        unsafe {
            query(device, current, |b, d| b.ecc_errors_volatile_uncorrected(d).map(|_| enable_state(true)))?;
            put(pending, enable_state(true))
        }
    }

    /// Total ECC errors: uncorrected errors are the simulator's volatile
    /// count (aggregate reports the same); corrected errors are 0.
    fn nvmlDeviceGetTotalEccErrors(
        device: nvmlDevice_t,
        error_type: nvmlMemoryErrorType_t,
        counter_type: nvmlEccCounterType_t,
        ecc_counts: *mut c_ulonglong,
    ) {
        use nvml_wrapper_sys::bindings as b;
        let dev = dev(device)?;
        nonnull(ecc_counts)?;
        if counter_type >= b::nvmlEccCounterType_enum_NVML_ECC_COUNTER_TYPE_COUNT
            || error_type >= b::nvmlMemoryErrorType_enum_NVML_MEMORY_ERROR_TYPE_COUNT
        {
            return Err(INVALID_ARGUMENT);
        }
        let uncorrected = check(dev.backend().ecc_errors_volatile_uncorrected(dev.dref))?;
        let uncorrected_asked = error_type == b::nvmlMemoryErrorType_enum_NVML_MEMORY_ERROR_TYPE_UNCORRECTED;
        let value = if uncorrected_asked { uncorrected } else { 0 };
        // SAFETY: `ecc_counts` is valid for a write (NVML contract).
        unsafe { put(ecc_counts, value) }
    }

    // -------------------------------------------------------------- clocks

    /// Current clock, MHz.
    fn nvmlDeviceGetClockInfo(device: nvmlDevice_t, kind: nvmlClockType_t, clock: *mut c_uint) {
        let kind = clock_kind(kind)?;
        // SAFETY: `clock` is valid for a write (NVML contract).
        unsafe { query(device, clock, |b, d| b.clock(d, kind)) }
    }

    /// Maximum clock, MHz.
    fn nvmlDeviceGetMaxClockInfo(device: nvmlDevice_t, kind: nvmlClockType_t, clock: *mut c_uint) {
        let kind = clock_kind(kind)?;
        // SAFETY: `clock` is valid for a write (NVML contract).
        unsafe { query(device, clock, |b, d| b.max_clock(d, kind)) }
    }

    /// A clock by id: current, or customer boost max (the maximum clock);
    /// application clocks are not supported.
    fn nvmlDeviceGetClock(
        device: nvmlDevice_t,
        kind: nvmlClockType_t,
        clock_id: nvmlClockId_t,
        clock_mhz: *mut c_uint,
    ) {
        use nvml_wrapper_sys::bindings as b;
        let kind = clock_kind(kind)?;
        // SAFETY: `clock_mhz` is valid for a write (NVML contract).
        unsafe {
            match clock_id {
                b::nvmlClockId_enum_NVML_CLOCK_ID_CURRENT => query(device, clock_mhz, |be, d| be.clock(d, kind)),
                b::nvmlClockId_enum_NVML_CLOCK_ID_CUSTOMER_BOOST_MAX => {
                    query(device, clock_mhz, |be, d| be.max_clock(d, kind))
                }
                b::nvmlClockId_enum_NVML_CLOCK_ID_APP_CLOCK_TARGET
                | b::nvmlClockId_enum_NVML_CLOCK_ID_APP_CLOCK_DEFAULT => {
                    query(device, clock_mhz, |_, _| Err(BackendError::NotSupported))
                }
                _ => Err(INVALID_ARGUMENT),
            }
        }
    }

    /// PCIe throughput over the last 20 ms, KB/s.
    fn nvmlDeviceGetPcieThroughput(device: nvmlDevice_t, counter: nvmlPcieUtilCounter_t, value: *mut c_uint) {
        use nvml_wrapper_sys::bindings as b;
        let direction = match counter {
            b::nvmlPcieUtilCounter_enum_NVML_PCIE_UTIL_TX_BYTES => PcieDirection::Tx,
            b::nvmlPcieUtilCounter_enum_NVML_PCIE_UTIL_RX_BYTES => PcieDirection::Rx,
            _ => return Err(INVALID_ARGUMENT),
        };
        // SAFETY: `value` is valid for a write (NVML contract).
        unsafe { query(device, value, |b, d| b.pcie_throughput(d, direction)) }
    }

    // ----------------------------------------------------------------- GPM

    /// Whether the device supports GPM (Hopper and newer; MIG devices
    /// answer for their parent). Checks the struct version first.
    fn nvmlGpmQueryDeviceSupport(device: nvmlDevice_t, gpm_support: *mut nvmlGpmSupport_t) {
        let dev = dev(device)?;
        nonnull(gpm_support)?;
        // SAFETY: non-null and valid for reads and writes (NVML contract).
        let version = unsafe { (&raw const (*gpm_support).version).read() };
        if version != gpm_version() {
            return Err(ARGUMENT_VERSION_MISMATCH);
        }
        let supported = check(dev.backend().gpm_query_device_support(DeviceRef::Physical(dev.dref.physical_index())))?;
        // SAFETY: as above.
        unsafe { (&raw mut (*gpm_support).isSupportedDevice).write(c_uint::from(supported)) };
        Ok(())
    }

    /// Allocates an empty GPM sample.
    fn nvmlGpmSampleAlloc(gpm_sample: *mut nvmlGpmSample_t) {
        let loaded = state::loaded()?;
        nonnull(gpm_sample)?;
        let sample = loaded.backend.gpm_sample_alloc();
        // SAFETY: `gpm_sample` is valid for a write (NVML contract).
        unsafe { put(gpm_sample, sample_handle(sample)) }
    }

    /// Frees a GPM sample; an unknown or freed handle is an invalid argument.
    fn nvmlGpmSampleFree(gpm_sample: nvmlGpmSample_t) {
        let loaded = state::loaded()?;
        check(loaded.backend.gpm_sample_release(sample_id(gpm_sample)?))
    }

    /// Fills a GPM sample with a physical GPU's counters.
    fn nvmlGpmSampleGet(device: nvmlDevice_t, gpm_sample: nvmlGpmSample_t) {
        let dev = dev(device)?;
        let sample = sample_id(gpm_sample)?;
        check(dev.backend().gpm_sample_fill(dev.dref, None, sample))
    }

    /// Fills a GPM sample with the counters of one MIG GPU instance of a
    /// physical GPU.
    fn nvmlGpmMigSampleGet(device: nvmlDevice_t, gpu_instance_id: c_uint, gpm_sample: nvmlGpmSample_t) {
        let dev = dev(device)?;
        let sample = sample_id(gpm_sample)?;
        check(dev.backend().gpm_sample_fill(dev.dref, Some(gpu_instance_id), sample))
    }

    /// The metrics between two samples, each with its own return code.
    fn nvmlGpmMetricsGet(metrics_get: *mut nvmlGpmMetricsGet_t) {
        // SAFETY: `metrics_get` is null or valid for the struct (NVML contract).
        unsafe { gpm_metrics_get(metrics_get) }
    }

    // ------------------------------------------- answered "not supported"

    /// Windows driver model (WDDM/TCC): the real Linux driver exports it and
    /// answers `NOT_SUPPORTED`, and clients (nvitop) rely on the symbol.
    fn nvmlDeviceGetDriverModel(device: nvmlDevice_t, current: *mut nvmlDriverModel_t, pending: *mut nvmlDriverModel_t) {
        let _ = (dev(device)?, current, pending);
        Err(NOT_SUPPORTED)
    }

    /// Windows driver model, v2 entry point: `NOT_SUPPORTED` on Linux.
    fn nvmlDeviceGetDriverModel_v2(
        device: nvmlDevice_t,
        current: *mut nvmlDriverModel_t,
        pending: *mut nvmlDriverModel_t,
    ) {
        let _ = (dev(device)?, current, pending);
        Err(NOT_SUPPORTED)
    }

    /// Confidential-computing protected memory: the simulated GPUs run
    /// without confidential computing, so `NOT_SUPPORTED`.
    fn nvmlDeviceGetConfComputeMemSizeInfo(device: nvmlDevice_t, mem_info: *mut nvmlConfComputeMemSizeInfo_t) {
        let _ = (dev(device)?, mem_info);
        Err(NOT_SUPPORTED)
    }

    // ----------------------------------------------------------- identity

    /// CUDA compute capability.
    fn nvmlDeviceGetCudaComputeCapability(device: nvmlDevice_t, major: *mut c_int, minor: *mut c_int) {
        let dev = dev(device)?;
        nonnull(major)?;
        nonnull(minor)?;
        let (ma, mi) = check(dev.backend().cuda_compute_capability(dev.dref))?;
        // SAFETY: both pointers are valid for writes (NVML contract).
        unsafe {
            put(major, c_int::try_from(ma).map_err(|_| UNKNOWN)?)?;
            put(minor, c_int::try_from(mi).map_err(|_| UNKNOWN)?)
        }
    }

    /// Architecture, from the compute capability.
    fn nvmlDeviceGetArchitecture(device: nvmlDevice_t, arch: *mut c_uint) {
        // SAFETY: `arch` is valid for a write (NVML contract).
        unsafe { query(device, arch, |b, d| b.cuda_compute_capability(d).map(architecture)) }
    }

    // ----------------------------------------------------------------- MIG

    /// MIG mode, current and pending (the same).
    fn nvmlDeviceGetMigMode(device: nvmlDevice_t, current_mode: *mut c_uint, pending_mode: *mut c_uint) {
        nonnull(pending_mode)?;
        let dev = dev(device)?;
        nonnull(current_mode)?;
        let on = c_uint::from(check(dev.backend().mig_mode(dev.dref))?);
        // SAFETY: both pointers are valid for writes (NVML contract).
        unsafe {
            put(current_mode, on)?;
            put(pending_mode, on)
        }
    }

    /// Most MIG devices the GPU can hold (7, or more if the scenario has more).
    fn nvmlDeviceGetMaxMigDeviceCount(device: nvmlDevice_t, count: *mut c_uint) {
        let dev = dev(device)?;
        nonnull(count)?;
        let slot = dev.loaded.table.get(dev.at).ok_or(INVALID_ARGUMENT)?;
        if slot.parent.is_some() {
            return Err(NOT_SUPPORTED);
        }
        check(dev.backend().mig_mode(dev.dref))?;
        // SAFETY: `count` is valid for a write (NVML contract).
        unsafe { put(count, slot.max_mig_count()) }
    }

    /// Handle of the MIG device at an index under a GPU; `NOT_FOUND` for an empty slot.
    fn nvmlDeviceGetMigDeviceHandleByIndex(device: nvmlDevice_t, index: c_uint, mig_device: *mut nvmlDevice_t) {
        let dev = dev(device)?;
        nonnull(mig_device)?;
        let slot = dev.loaded.table.get(dev.at).ok_or(INVALID_ARGUMENT)?;
        if slot.parent.is_some() {
            return Err(INVALID_ARGUMENT);
        }
        if !check(dev.backend().mig_mode(dev.dref))? {
            return Err(INVALID_ARGUMENT);
        }
        if index >= slot.max_mig_count() {
            return Err(INVALID_ARGUMENT);
        }
        let at = slot.migs.iter().find(|&&(i, _)| i == index).map(|&(_, at)| at).ok_or(NOT_FOUND)?;
        // SAFETY: `mig_device` is valid for a write (NVML contract).
        unsafe { put(mig_device, dev.loaded.table.handle(at)) }
    }

    /// Parent GPU of a MIG device.
    fn nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig_device: nvmlDevice_t, device: *mut nvmlDevice_t) {
        let dev = dev(mig_device)?;
        nonnull(device)?;
        let slot = dev.loaded.table.get(dev.at).ok_or(INVALID_ARGUMENT)?;
        let parent = slot.parent.ok_or(INVALID_ARGUMENT)?;
        // SAFETY: `device` is valid for a write (NVML contract).
        unsafe { put(device, dev.loaded.table.handle(parent)) }
    }

    /// Whether a handle is a MIG device's.
    fn nvmlDeviceIsMigDeviceHandle(device: nvmlDevice_t, is_mig_device: *mut c_uint) {
        // SAFETY: `is_mig_device` is valid for a write (NVML contract).
        unsafe { query(device, is_mig_device, |_, d| Ok(c_uint::from(d.is_mig()))) }
    }

    /// GPU instance id of a MIG device.
    fn nvmlDeviceGetGpuInstanceId(device: nvmlDevice_t, id: *mut c_uint) {
        let dev = dev(device)?;
        nonnull(id)?;
        let (gi, _) = mig_instance_ids(&dev)?;
        // SAFETY: `id` is valid for a write (NVML contract).
        unsafe { put(id, gi) }
    }

    /// Compute instance id of a MIG device.
    fn nvmlDeviceGetComputeInstanceId(device: nvmlDevice_t, id: *mut c_uint) {
        let dev = dev(device)?;
        nonnull(id)?;
        let (_, ci) = mig_instance_ids(&dev)?;
        // SAFETY: `id` is valid for a write (NVML contract).
        unsafe { put(id, ci) }
    }

    // ----------------------------------------------------------- processes

    /// Compute processes, v1 struct (pid, memory).
    fn nvmlDeviceGetComputeRunningProcesses(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_v1_t,
    ) {
        // SAFETY: the pointers follow the NVML contract for this function.
        unsafe { running_processes(device, info_count, infos, false, info_v1) }
    }

    /// Compute processes, v2 struct.
    fn nvmlDeviceGetComputeRunningProcesses_v2(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_v2_t,
    ) {
        // SAFETY: the pointers follow the NVML contract for this function.
        unsafe { running_processes(device, info_count, infos, false, info_v2) }
    }

    /// Compute processes, v3 struct.
    fn nvmlDeviceGetComputeRunningProcesses_v3(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_t,
    ) {
        // SAFETY: the pointers follow the NVML contract for this function.
        unsafe { running_processes(device, info_count, infos, false, info_v3) }
    }

    /// Graphics processes, v1 struct (pid, memory).
    fn nvmlDeviceGetGraphicsRunningProcesses(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_v1_t,
    ) {
        // SAFETY: the pointers follow the NVML contract for this function.
        unsafe { running_processes(device, info_count, infos, true, info_v1) }
    }

    /// Graphics processes, v2 struct.
    fn nvmlDeviceGetGraphicsRunningProcesses_v2(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_v2_t,
    ) {
        // SAFETY: the pointers follow the NVML contract for this function.
        unsafe { running_processes(device, info_count, infos, true, info_v2) }
    }

    /// Graphics processes, v3 struct.
    fn nvmlDeviceGetGraphicsRunningProcesses_v3(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_t,
    ) {
        // SAFETY: the pointers follow the NVML contract for this function.
        unsafe { running_processes(device, info_count, infos, true, info_v3) }
    }

    /// MPS compute processes: the simulator runs no MPS server, so none.
    fn nvmlDeviceGetMPSComputeRunningProcesses_v3(
        device: nvmlDevice_t,
        info_count: *mut c_uint,
        infos: *mut nvmlProcessInfo_t,
    ) {
        let _ = (dev(device)?, infos);
        // SAFETY: `info_count` is valid for a write (NVML contract).
        unsafe { put(info_count, 0) }
    }

    /// Processes of one mode (compute, graphics, MPS) with their
    /// confidential-computing memory (always 0 here), in a versioned list
    /// (v1). Same negotiation as the `*RunningProcesses*` calls, through
    /// `numProcArrayEntries`.
    fn nvmlDeviceGetRunningProcessDetailList(device: nvmlDevice_t, plist: *mut nvmlProcessDetailList_v1_t) {
        let dev = dev(device)?;
        nonnull(plist)?;
        // SAFETY: `plist` is valid for reads and writes of the list header (NVML contract).
        let (version, mode, array) = unsafe {
            (
                (&raw const (*plist).version).read(),
                (&raw const (*plist).mode).read(),
                (&raw const (*plist).procArray).read(),
            )
        };
        if version != struct_version::<nvmlProcessDetailList_v1_t>(1) {
            return Err(ARGUMENT_VERSION_MISMATCH);
        }
        let list: Vec<nvmlProcessDetail_v1_t> = match mode {
            PROCESS_MODE_COMPUTE | PROCESS_MODE_GRAPHICS => processes_of(&dev, mode == PROCESS_MODE_GRAPHICS)?
                .iter()
                .map(|p| {
                    let v2 = info_v2(p);
                    nvmlProcessDetail_v1_t {
                        pid: v2.pid,
                        usedGpuMemory: v2.usedGpuMemory,
                        gpuInstanceId: v2.gpuInstanceId,
                        computeInstanceId: v2.computeInstanceId,
                        usedGpuCcProtectedMemory: 0,
                    }
                })
                .collect(),
            PROCESS_MODE_MPS => Vec::new(),
            _ => return Err(INVALID_ARGUMENT),
        };
        // SAFETY: `numProcArrayEntries` is in the header, valid for reads and
        // writes (as above); `procArray` holds that many elements (NVML
        // contract) and does not overlap the freshly built `list`.
        unsafe { put_list(&list, &raw mut (*plist).numProcArrayEntries, array, Ok(())) }
    }

    /// Per-process utilization samples newer than `last_seen_time_stamp`.
    /// A null or short buffer gets the needed count and
    /// `INSUFFICIENT_SIZE`; no newer samples is `NOT_FOUND`.
    fn nvmlDeviceGetProcessUtilization(
        device: nvmlDevice_t,
        utilization: *mut nvmlProcessUtilizationSample_t,
        process_samples_count: *mut c_uint,
        last_seen_time_stamp: c_ulonglong,
    ) {
        let dev = dev(device)?;
        nonnull(process_samples_count)?;
        let samples = check(dev.backend().process_utilization(dev.dref, last_seen_time_stamp))?;
        let samples: Vec<nvmlProcessUtilizationSample_t> = samples
            .into_iter()
            .filter(|s| s.timestamp > last_seen_time_stamp)
            .map(|s| nvmlProcessUtilizationSample_t {
                pid: s.pid,
                timeStamp: s.timestamp,
                smUtil: s.sm,
                memUtil: s.memory,
                encUtil: s.encoder,
                decUtil: s.decoder,
            })
            .collect();
        // SAFETY: `process_samples_count` is valid for reads and writes and
        // `utilization` for that many elements (NVML contract); neither
        // overlaps the freshly built `samples`.
        unsafe { put_list(&samples, process_samples_count, utilization, Err(NOT_FOUND)) }
    }
}

/// `nvmlDeviceGetHandleByIndex*`.
///
/// # Safety
/// `device` is null or valid for a write of a handle.
unsafe fn handle_by_index(index: c_uint, device: *mut nvmlDevice_t) -> R {
    let loaded = state::loaded()?;
    nonnull(device)?;
    let count = check(loaded.backend.device_count())?;
    if index >= count {
        return Err(INVALID_ARGUMENT);
    }
    // SAFETY: `device` is valid for a write (this function's contract).
    unsafe { put_handle(&loaded, DeviceRef::Physical(index), device) }
}

/// `nvmlDeviceGetPciInfo` and `_v2`: the structs of those versions begin
/// with the current struct's first six fields (a 16-byte bus id, domain,
/// bus, device, PCI device and subsystem ids); v2's then has four reserved
/// words where the current struct's 32-byte `busId` begins, so it is 16
/// bytes shorter. A client built against an old `nvml.h` passes the smaller
/// struct, so only those six fields are written.
///
/// # Safety
/// `pci` is null or valid for writes of the first six fields of the struct
/// (36 bytes).
unsafe fn put_legacy_pci_info(device: nvmlDevice_t, pci: *mut nvmlPciInfo_t) -> R {
    let dev = dev(device)?;
    nonnull(pci)?;
    let info = pci_info(&dev)?;
    // SAFETY: `pci` is valid for writes of the first six fields (this
    // function's contract); they are written through raw places (no
    // reference to the whole struct, which may be larger than the caller's).
    unsafe {
        (&raw mut (*pci).busIdLegacy).write(info.busIdLegacy);
        (&raw mut (*pci).domain).write(info.domain);
        (&raw mut (*pci).bus).write(info.bus);
        (&raw mut (*pci).device).write(info.device);
        (&raw mut (*pci).pciDeviceId).write(info.pciDeviceId);
        (&raw mut (*pci).pciSubSystemId).write(info.pciSubSystemId);
    }
    Ok(())
}

/// `nvmlDeviceGetPciInfo_v3`: the whole current struct.
///
/// # Safety
/// `pci` is null or valid for a write of the struct.
unsafe fn put_pci_info(device: nvmlDevice_t, pci: *mut nvmlPciInfo_t) -> R {
    let dev = dev(device)?;
    nonnull(pci)?;
    let info = pci_info(&dev)?;
    // SAFETY: `pci` is valid for a write of the struct (this function's contract).
    unsafe { put(pci, info) }
}

/// `nvmlDeviceGetHandleByPciBusId*`.
///
/// # Safety
/// `pci_bus_id` is null or NUL-terminated; `device` is null or valid for a
/// write of a handle.
unsafe fn handle_by_bus_id(pci_bus_id: *const c_char, device: *mut nvmlDevice_t) -> R {
    let loaded = state::loaded()?;
    // SAFETY: `pci_bus_id` is null or NUL-terminated (this function's contract).
    let bus_id = unsafe { read_str(pci_bus_id) }?;
    nonnull(device)?;
    let dref = loaded.backend.device_by_bus_id(bus_id).map_err(|e| lookup_code(&e))?;
    // SAFETY: `device` is valid for a write (this function's contract).
    unsafe { put_handle(&loaded, dref, device) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists exports whose C signature must be the one `nvml-wrapper-sys`
    /// declares (its `NvmlLib` field of the same name): the function is
    /// never called, it only compiles if every listed export has exactly
    /// that signature, struct pointer types included.
    macro_rules! same_signatures_as_nvml_wrapper_sys {
        ($($name:ident),* $(,)?) => {
            #[allow(dead_code)]
            fn signatures(lib: &nvml_wrapper_sys::bindings::NvmlLib) {
                fn same<T, E>(_: &Result<T, E>, _: T) {}
                $( same(&lib.$name, $name); )*
            }
            const CHECKED: &[&str] = &[$(stringify!($name)),*];
        };
    }

    same_signatures_as_nvml_wrapper_sys! {
        nvmlDeviceGetArchitecture,
        nvmlDeviceGetBAR1MemoryInfo,
        nvmlDeviceGetBoardId,
        nvmlDeviceGetClock,
        nvmlDeviceGetClockInfo,
        nvmlDeviceGetComputeInstanceId,
        nvmlDeviceGetComputeMode,
        nvmlDeviceGetComputeRunningProcesses_v3,
        nvmlDeviceGetConfComputeMemSizeInfo,
        nvmlDeviceGetCount_v2,
        nvmlDeviceGetCudaComputeCapability,
        nvmlDeviceGetDecoderUtilization,
        nvmlDeviceGetDeviceHandleFromMigDeviceHandle,
        nvmlDeviceGetDisplayActive,
        nvmlDeviceGetDisplayMode,
        nvmlDeviceGetDriverModel,
        nvmlDeviceGetDriverModel_v2,
        nvmlDeviceGetEccMode,
        nvmlDeviceGetEncoderUtilization,
        nvmlDeviceGetEnforcedPowerLimit,
        nvmlDeviceGetFanSpeed,
        nvmlDeviceGetFanSpeed_v2,
        nvmlDeviceGetGpuInstanceId,
        nvmlDeviceGetGraphicsRunningProcesses_v3,
        nvmlDeviceGetHandleByIndex_v2,
        nvmlDeviceGetHandleByPciBusId_v2,
        nvmlDeviceGetHandleByUUID,
        nvmlDeviceGetIndex,
        nvmlDeviceGetMPSComputeRunningProcesses_v3,
        nvmlDeviceGetMaxClockInfo,
        nvmlDeviceGetMaxMigDeviceCount,
        nvmlDeviceGetMemoryInfo,
        nvmlDeviceGetMemoryInfo_v2,
        nvmlDeviceGetMigDeviceHandleByIndex,
        nvmlDeviceGetMigMode,
        nvmlDeviceGetMinorNumber,
        nvmlDeviceGetName,
        nvmlDeviceGetNumFans,
        nvmlDeviceGetPciInfo_v3,
        nvmlDeviceGetPcieThroughput,
        nvmlDeviceGetPerformanceState,
        nvmlDeviceGetPersistenceMode,
        nvmlDeviceGetPowerManagementLimit,
        nvmlDeviceGetPowerState,
        nvmlDeviceGetPowerUsage,
        nvmlDeviceGetProcessUtilization,
        nvmlDeviceGetRunningProcessDetailList,
        nvmlDeviceGetTemperature,
        nvmlDeviceGetTemperatureV,
        nvmlDeviceGetTotalEccErrors,
        nvmlDeviceGetTotalEnergyConsumption,
        nvmlDeviceGetUUID,
        nvmlDeviceGetUtilizationRates,
        nvmlDeviceIsMigDeviceHandle,
        nvmlErrorString,
        nvmlGpmMetricsGet,
        nvmlGpmMigSampleGet,
        nvmlGpmQueryDeviceSupport,
        nvmlGpmSampleAlloc,
        nvmlGpmSampleFree,
        nvmlGpmSampleGet,
        nvmlInitWithFlags,
        nvmlInit_v2,
        nvmlShutdown,
        nvmlSystemGetCudaDriverVersion,
        nvmlSystemGetCudaDriverVersion_v2,
        nvmlSystemGetDriverVersion,
        nvmlSystemGetNVMLVersion,
        nvmlSystemGetProcessName,
    }

    /// Exports `nvml-wrapper-sys` declares only under its
    /// `legacy-functions` feature. Turning it on here would turn it on for
    /// the SDK's build too (Cargo unifies features), so these are not
    /// checked at compile time; their struct types are still the crate's.
    const LEGACY: &[&str] = &[
        "nvmlDeviceGetComputeRunningProcesses",
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetCount",
        "nvmlDeviceGetGraphicsRunningProcesses",
        "nvmlDeviceGetGraphicsRunningProcesses_v2",
        "nvmlDeviceGetHandleByIndex",
        "nvmlDeviceGetHandleByPciBusId",
        "nvmlDeviceGetPciInfo",
        "nvmlDeviceGetPciInfo_v2",
        "nvmlInit",
    ];

    #[test]
    fn every_export_has_the_signature_nvml_wrapper_sys_declares() {
        for name in EXPORTED {
            assert!(
                CHECKED.contains(name) || LEGACY.contains(name),
                "{name}: add it to same_signatures_as_nvml_wrapper_sys! (or LEGACY)"
            );
        }
        assert_eq!(CHECKED.len() + LEGACY.len(), EXPORTED.len(), "listed but not exported");
    }

    #[test]
    fn a_panic_becomes_unknown_error() {
        assert_eq!(guard(|| panic!("boom")), UNKNOWN);
        assert_eq!(guard(|| Err(NOT_FOUND)), NOT_FOUND);
        assert_eq!(guard(|| Ok(())), SUCCESS);
    }

    #[test]
    fn architectures_follow_compute_capability() {
        use nvml_wrapper_sys::bindings as b;
        assert_eq!(architecture((9, 0)), b::NVML_DEVICE_ARCH_HOPPER);
        assert_eq!(architecture((8, 0)), b::NVML_DEVICE_ARCH_AMPERE);
        assert_eq!(architecture((8, 9)), b::NVML_DEVICE_ARCH_ADA);
        assert_eq!(architecture((7, 5)), b::NVML_DEVICE_ARCH_TURING);
        assert_eq!(architecture((1, 0)), b::NVML_DEVICE_ARCH_UNKNOWN);
    }

    #[test]
    fn struct_versions_match_the_headers() {
        assert_eq!(struct_version::<nvmlMemory_v2_t>(2), 0x0200_0028);
        assert_eq!(struct_version::<nvmlTemperature_v1_t>(1), 0x0100_000C);
        assert_eq!(struct_version::<nvmlProcessDetailList_v1_t>(1), 0x0100_0018);
    }

    #[test]
    fn backend_errors_map_to_driver_codes() {
        use nvitop::backend::DeviceRef;
        assert_eq!(code(&BackendError::NotSupported), NOT_SUPPORTED);
        assert_eq!(code(&BackendError::NoPermission), NO_PERMISSION);
        assert_eq!(
            code(&BackendError::GpuLost {
                device: DeviceRef::Physical(1)
            }),
            GPU_IS_LOST
        );
        let missing = BackendError::NotFound { what: "x".into() };
        assert_eq!(code(&missing), INVALID_ARGUMENT);
        assert_eq!(lookup_code(&missing), NOT_FOUND);
    }
}

//! The C ABI of the fake library, loaded in-process with `dlopen`: exported
//! symbols, init/shutdown reference counting, argument checks, and the
//! buffer-size negotiation of the process and string functions.
//!
//! Each test loads its own copy of the library (own temp dir, own global
//! state), on the built-in default machine unless `NVITOP_SIM_SCENARIO` is
//! set in the environment of the whole test run.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong};
use std::ptr;

use nvidia_ml::testing::FakeLib;
use nvml_wrapper_sys::bindings as b;

type Device = b::nvmlDevice_t;

/// One loaded copy of the fake library.
struct Lib {
    _fake: FakeLib,
    lib: libloading::Library,
}

impl Lib {
    fn load() -> Self {
        let fake = FakeLib::new();
        // SAFETY: loading our own library runs no initialisers with preconditions.
        let lib = unsafe { libloading::Library::new(fake.path()) }.expect("dlopen the fake library");
        Self { _fake: fake, lib }
    }

    /// A function of the library. `T` must be the symbol's C signature.
    fn f<T: Copy>(&self, name: &str) -> T {
        // SAFETY: each call site names the C signature of the symbol.
        unsafe {
            *self
                .lib
                .get::<T>(name.as_bytes())
                .unwrap_or_else(|e| panic!("symbol {name}: {e}"))
        }
    }

    fn init(&self) -> u32 {
        // SAFETY: no arguments.
        unsafe { self.f::<unsafe extern "C" fn() -> u32>("nvmlInit_v2")() }
    }

    fn shutdown(&self) -> u32 {
        // SAFETY: no arguments.
        unsafe { self.f::<unsafe extern "C" fn() -> u32>("nvmlShutdown")() }
    }

    fn count(&self) -> (u32, c_uint) {
        let mut n: c_uint = 0;
        // SAFETY: valid out pointer.
        let rc = unsafe { self.f::<unsafe extern "C" fn(*mut c_uint) -> u32>("nvmlDeviceGetCount_v2")(&raw mut n) };
        (rc, n)
    }

    fn handle(&self, index: u32) -> Device {
        let mut d: Device = ptr::null_mut();
        // SAFETY: valid out pointer.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(c_uint, *mut Device) -> u32>("nvmlDeviceGetHandleByIndex_v2")(
                index, &raw mut d,
            )
        };
        assert_eq!(rc, b::nvmlReturn_enum_NVML_SUCCESS, "handle {index}");
        d
    }

    fn name(&self, d: Device, len: usize) -> (u32, String) {
        let mut buf = vec![0 as c_char; len.max(1)];
        // SAFETY: `buf` holds `len` bytes.
        let rc = unsafe {
            self.f::<unsafe extern "C" fn(Device, *mut c_char, c_uint) -> u32>("nvmlDeviceGetName")(
                d,
                buf.as_mut_ptr(),
                len as c_uint,
            )
        };
        // SAFETY: the buffer is NUL-terminated (zeroed, and the library writes a NUL).
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
        (rc, text)
    }

    fn error_string(&self, code: u32) -> String {
        // SAFETY: returns a static string.
        let p = unsafe { self.f::<unsafe extern "C" fn(u32) -> *const c_char>("nvmlErrorString")(code) };
        // SAFETY: static NUL-terminated string.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

const SUCCESS: u32 = b::nvmlReturn_enum_NVML_SUCCESS;
const UNINITIALIZED: u32 = b::nvmlReturn_enum_NVML_ERROR_UNINITIALIZED;
const INVALID_ARGUMENT: u32 = b::nvmlReturn_enum_NVML_ERROR_INVALID_ARGUMENT;
const NOT_FOUND: u32 = b::nvmlReturn_enum_NVML_ERROR_NOT_FOUND;
const INSUFFICIENT_SIZE: u32 = b::nvmlReturn_enum_NVML_ERROR_INSUFFICIENT_SIZE;
const VERSION_MISMATCH: u32 = b::nvmlReturn_enum_NVML_ERROR_ARGUMENT_VERSION_MISMATCH;

#[test]
fn every_listed_symbol_is_exported_by_the_cdylib() {
    let lib = Lib::load();
    for name in nvidia_ml::EXPORTED_SYMBOLS {
        // SAFETY: only the address is looked up.
        let found = unsafe { lib.lib.get::<*const ()>(name.as_bytes()) };
        assert!(found.is_ok(), "{name} is not exported");
    }
    for name in [
        "nvmlInit_v2",
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetMemoryInfo_v2",
    ] {
        assert!(nvidia_ml::EXPORTED_SYMBOLS.contains(&name));
    }
}

#[test]
fn the_soname_is_the_drivers() {
    let bytes = std::fs::read(nvidia_ml::testing::built_cdylib()).unwrap();
    let needle = b"libnvidia-ml.so.1\0";
    assert!(bytes.windows(needle.len()).any(|w| w == needle), "soname missing");
}

#[test]
fn calls_before_init_are_uninitialized_and_shutdown_is_counted() {
    let lib = Lib::load();
    assert_eq!(lib.count().0, UNINITIALIZED);
    assert_eq!(lib.shutdown(), UNINITIALIZED);
    assert_eq!(lib.init(), SUCCESS);
    assert_eq!(lib.init(), SUCCESS);
    assert_eq!(lib.count().0, SUCCESS);
    assert_eq!(lib.shutdown(), SUCCESS);
    // One reference left: still initialized.
    assert_eq!(lib.count().0, SUCCESS);
    assert_eq!(lib.shutdown(), SUCCESS);
    assert_eq!(lib.count().0, UNINITIALIZED);
    assert_eq!(lib.shutdown(), UNINITIALIZED);
}

#[test]
fn error_strings_are_the_drivers() {
    let lib = Lib::load();
    assert_eq!(lib.error_string(SUCCESS), "Success");
    assert_eq!(lib.error_string(INSUFFICIENT_SIZE), "Insufficient Size");
    assert_eq!(
        lib.error_string(b::nvmlReturn_enum_NVML_ERROR_GPU_IS_LOST),
        "GPU is lost"
    );
    assert_eq!(lib.error_string(12345), "Unknown Error");
}

#[test]
fn handles_are_stable_and_bad_handles_are_rejected() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let (rc, n) = lib.count();
    assert_eq!(rc, SUCCESS);
    assert!(n >= 1);
    let first = lib.handle(0);
    assert_eq!(lib.handle(0), first);
    assert_ne!(lib.handle(n - 1), ptr::null_mut());
    let mut d: Device = ptr::null_mut();
    // SAFETY: valid out pointer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(c_uint, *mut Device) -> u32>("nvmlDeviceGetHandleByIndex_v2")(n, &raw mut d)
    };
    assert_eq!(rc, INVALID_ARGUMENT);
    // A handle this library never gave out, and a misaligned one.
    let bogus = 0x1234_5678usize as Device;
    assert_eq!(lib.name(bogus, 96).0, INVALID_ARGUMENT);
    assert_eq!(
        lib.name(first.cast::<u8>().wrapping_add(1).cast(), 96).0,
        INVALID_ARGUMENT
    );
    // Handles survive a shutdown/init cycle.
    assert_eq!(lib.shutdown(), SUCCESS);
    assert_eq!(lib.name(first, 96).0, UNINITIALIZED);
    assert_eq!(lib.init(), SUCCESS);
    assert_eq!(lib.handle(0), first);
    assert_eq!(lib.shutdown(), SUCCESS);
}

#[test]
fn strings_follow_the_buffer_length_rules() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let d = lib.handle(0);
    let (rc, name) = lib.name(d, 96);
    assert_eq!(rc, SUCCESS);
    assert!(!name.is_empty());
    // Exactly long enough (text + NUL), and one byte short.
    assert_eq!(lib.name(d, name.len() + 1), (SUCCESS, name.clone()));
    assert_eq!(lib.name(d, name.len()).0, INSUFFICIENT_SIZE);
    // A null buffer is an invalid argument.
    // SAFETY: null buffer is allowed to be passed (the library checks it).
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(Device, *mut c_char, c_uint) -> u32>("nvmlDeviceGetName")(d, ptr::null_mut(), 96)
    };
    assert_eq!(rc, INVALID_ARGUMENT);
    // Looking the device up again by its UUID and bus id gives the same handle.
    let mut uuid = [0 as c_char; 96];
    // SAFETY: 96-byte buffer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(Device, *mut c_char, c_uint) -> u32>("nvmlDeviceGetUUID")(d, uuid.as_mut_ptr(), 96)
    };
    assert_eq!(rc, SUCCESS);
    let mut by_uuid: Device = ptr::null_mut();
    // SAFETY: NUL-terminated input, valid out pointer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(*const c_char, *mut Device) -> u32>("nvmlDeviceGetHandleByUUID")(
            uuid.as_ptr(),
            &raw mut by_uuid,
        )
    };
    assert_eq!((rc, by_uuid), (SUCCESS, d));
    let mut pci: b::nvmlPciInfo_t = unsafe_zeroed();
    // SAFETY: valid out pointer to the v3 struct.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(Device, *mut b::nvmlPciInfo_t) -> u32>("nvmlDeviceGetPciInfo_v3")(d, &raw mut pci)
    };
    assert_eq!(rc, SUCCESS);
    let mut by_bus: Device = ptr::null_mut();
    // SAFETY: NUL-terminated input (from the struct), valid out pointer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(*const c_char, *mut Device) -> u32>("nvmlDeviceGetHandleByPciBusId_v2")(
            pci.busId.as_ptr(),
            &raw mut by_bus,
        )
    };
    assert_eq!((rc, by_bus), (SUCCESS, d));
    let missing = c"GPU-00000000-0000-0000-0000-000000000000";
    // SAFETY: NUL-terminated input, valid out pointer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(*const c_char, *mut Device) -> u32>("nvmlDeviceGetHandleByUUID")(
            missing.as_ptr(),
            &raw mut by_uuid,
        )
    };
    assert_eq!(rc, NOT_FOUND);
    lib.shutdown();
}

fn unsafe_zeroed<T: Copy>() -> T {
    // SAFETY: only used for plain C structs of integers and arrays, for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

#[test]
fn legacy_pci_info_writes_only_the_legacy_fields() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let d = lib.handle(0);
    let mut current: b::nvmlPciInfo_t = unsafe_zeroed();
    // SAFETY: valid out pointer to the v3 struct.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(Device, *mut b::nvmlPciInfo_t) -> u32>("nvmlDeviceGetPciInfo_v3")(
            d,
            &raw mut current,
        )
    };
    assert_eq!(rc, SUCCESS);
    // SAFETY: NUL-terminated by the library.
    let bus_id = unsafe { CStr::from_ptr(current.busId.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    assert!(bus_id.starts_with("00000000:"), "{bus_id}");
    for symbol in ["nvmlDeviceGetPciInfo", "nvmlDeviceGetPciInfo_v2"] {
        // The v1/v2 structs end where the current one's `busId` starts (v2's
        // four reserved words overlap its first 16 bytes): nothing from
        // there on may be written.
        // No padding: 16 + 5 * 4 + 32 bytes, 4-byte aligned.
        assert_eq!(std::mem::size_of::<b::nvmlPciInfo_t>(), 68);
        let mut old: b::nvmlPciInfo_t = canary();
        // SAFETY: a v3-sized struct is larger than the v1/v2 ones the call writes.
        let rc =
            unsafe { lib.f::<unsafe extern "C" fn(Device, *mut b::nvmlPciInfo_t) -> u32>(symbol)(d, &raw mut old) };
        assert_eq!(rc, SUCCESS, "{symbol}");
        assert!(
            old.busId.iter().all(|&c| c as u8 == CANARY),
            "{symbol} wrote into busId"
        );
        assert_eq!(
            (old.domain, old.bus, old.device, old.pciDeviceId, old.pciSubSystemId),
            (
                current.domain,
                current.bus,
                current.device,
                current.pciDeviceId,
                current.pciSubSystemId
            ),
            "{symbol}"
        );
        // SAFETY: NUL-terminated by the library.
        let legacy = unsafe { CStr::from_ptr(old.busIdLegacy.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            legacy,
            bus_id.strip_prefix("0000").unwrap(),
            "{symbol}: the 4-digit-domain bus id"
        );
    }
    lib.shutdown();
}

#[test]
fn process_names_are_cut_to_the_buffer() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let get = lib.f::<unsafe extern "C" fn(c_uint, *mut c_char, c_uint) -> u32>("nvmlSystemGetProcessName");
    let mut buf = [0 as c_char; 256];
    // SAFETY: 256-byte buffer.
    assert_eq!(unsafe { get(std::process::id(), buf.as_mut_ptr(), 256) }, SUCCESS);
    // SAFETY: NUL-terminated by the library.
    let full = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_owned();
    let exe = std::fs::read(format!("/proc/{}/cmdline", std::process::id())).unwrap();
    let exe = String::from_utf8_lossy(exe.split(|&b| b == 0).next().unwrap()).into_owned();
    assert_eq!(full, exe.chars().take(255).collect::<String>());
    // Too short: cut to fit with its NUL, not an error (the driver crops).
    let mut short = [CANARY as c_char; 8];
    // SAFETY: 5 of the 8 bytes are offered.
    assert_eq!(unsafe { get(std::process::id(), short.as_mut_ptr(), 5) }, SUCCESS);
    // SAFETY: NUL-terminated by the library.
    let cut = unsafe { CStr::from_ptr(short.as_ptr()) }.to_str().unwrap();
    assert_eq!(cut, &full[..4]);
    assert!(short[5..].iter().all(|&c| c as u8 == CANARY), "wrote past the length");
    // SAFETY: a zero length is rejected before the buffer is touched.
    assert_eq!(
        unsafe { get(std::process::id(), short.as_mut_ptr(), 0) },
        INVALID_ARGUMENT
    );
    // SAFETY: 256-byte buffer.
    assert_eq!(unsafe { get(u32::MAX, buf.as_mut_ptr(), 256) }, NOT_FOUND);
    lib.shutdown();
}

#[test]
fn memory_v2_checks_the_struct_version() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let d = lib.handle(0);
    let get = lib.f::<unsafe extern "C" fn(Device, *mut b::nvmlMemory_v2_t) -> u32>("nvmlDeviceGetMemoryInfo_v2");
    let mut m: b::nvmlMemory_v2_t = unsafe_zeroed();
    m.version = 1;
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { get(d, &raw mut m) }, VERSION_MISMATCH);
    m.version = (std::mem::size_of::<b::nvmlMemory_v2_t>() as u32) | (2 << 24);
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { get(d, &raw mut m) }, SUCCESS);
    assert!(m.total > 0 && m.used + m.free + m.reserved == m.total);
    let mut v1: b::nvmlMemory_t = unsafe_zeroed();
    // SAFETY: valid out pointer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(Device, *mut b::nvmlMemory_t) -> u32>("nvmlDeviceGetMemoryInfo")(d, &raw mut v1)
    };
    assert_eq!((rc, v1.total, v1.used), (SUCCESS, m.total, m.used));
    lib.shutdown();
}

/// Runs the two-call protocol of `nvmlDevice*RunningProcesses*` for one struct version.
fn processes<T: Copy>(lib: &Lib, symbol: &str, d: Device) -> Vec<T> {
    let get = lib.f::<unsafe extern "C" fn(Device, *mut c_uint, *mut T) -> u32>(symbol);
    let mut count: c_uint = 0;
    // SAFETY: null buffer with count 0 asks for the count.
    let rc = unsafe { get(d, &raw mut count, ptr::null_mut()) };
    if count == 0 {
        assert_eq!(rc, SUCCESS, "{symbol}: no processes is SUCCESS");
        return Vec::new();
    }
    assert_eq!(rc, INSUFFICIENT_SIZE, "{symbol}: null buffer");
    let needed = count;
    // One element short.
    let mut short: Vec<T> = vec![unsafe_zeroed(); needed as usize - 1];
    let mut n = needed - 1;
    // SAFETY: `short` holds `n` elements.
    assert_eq!(unsafe { get(d, &raw mut n, short.as_mut_ptr()) }, INSUFFICIENT_SIZE);
    assert_eq!(n, needed, "{symbol}: needed count written back");
    // Exactly the room needed, followed by canary bytes: a library that
    // wrote a larger struct version than the symbol's would overwrite them.
    // (Raw storage, 8-byte aligned: the structs have padding, which a typed
    // copy of a canary value would not keep.)
    let size = std::mem::size_of::<T>();
    assert!(std::mem::align_of::<T>() <= 8);
    let mut storage = vec![u64::from_ne_bytes([CANARY; 8]); (needed as usize + 1) * size / 8 + 1];
    let mut n = needed;
    // SAFETY: `storage` is 8-byte aligned and holds more than `n` elements of `T`.
    assert_eq!(unsafe { get(d, &raw mut n, storage.as_mut_ptr().cast::<T>()) }, SUCCESS);
    assert_eq!(n, needed);
    // SAFETY: the storage is initialised bytes (u64 words), read as bytes.
    let bytes = unsafe { std::slice::from_raw_parts(storage.as_ptr().cast::<u8>(), storage.len() * 8) };
    assert!(
        bytes[needed as usize * size..].iter().all(|&b| b == CANARY),
        "{symbol}: wrote past {needed} elements of {size} bytes"
    );
    // Room to spare: SUCCESS and the true count.
    let mut buf: Vec<T> = vec![unsafe_zeroed(); needed as usize + 5];
    let mut n = needed + 5;
    // SAFETY: `buf` holds `n` elements.
    assert_eq!(unsafe { get(d, &raw mut n, buf.as_mut_ptr()) }, SUCCESS);
    assert_eq!(n, needed);
    buf.truncate(n as usize);
    buf
}

const CANARY: u8 = 0xA5;

/// A value whose every byte is [`CANARY`]; only for C structs without
/// padding (a copy of a value need not keep its padding bytes).
fn canary<T: Copy>() -> T {
    let mut value = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: every byte is written, and the types used here are plain C
    // structs of integers and arrays, for which any bytes are a valid value.
    unsafe {
        value
            .as_mut_ptr()
            .cast::<u8>()
            .write_bytes(CANARY, std::mem::size_of::<T>());
        value.assume_init()
    }
}

#[test]
fn process_lists_negotiate_sizes_in_every_struct_version() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let (_, n) = lib.count();
    let mut seen_any = false;
    for i in 0..n {
        let d = lib.handle(i);
        for kind in ["Compute", "Graphics"] {
            let v1: Vec<b::nvmlProcessInfo_v1_t> = processes(&lib, &format!("nvmlDeviceGet{kind}RunningProcesses"), d);
            let v2: Vec<b::nvmlProcessInfo_v2_t> =
                processes(&lib, &format!("nvmlDeviceGet{kind}RunningProcesses_v2"), d);
            let v3: Vec<b::nvmlProcessInfo_t> = processes(&lib, &format!("nvmlDeviceGet{kind}RunningProcesses_v3"), d);
            assert_eq!(v1.len(), v3.len());
            assert_eq!(v2.len(), v3.len());
            for ((a, b2), c) in v1.iter().zip(&v2).zip(&v3) {
                assert_eq!((a.pid, a.usedGpuMemory), (c.pid, c.usedGpuMemory));
                assert_eq!(
                    (b2.pid, b2.gpuInstanceId, b2.computeInstanceId),
                    (c.pid, c.gpuInstanceId, c.computeInstanceId)
                );
            }
            seen_any |= !v3.is_empty();
        }
        let mps: Vec<b::nvmlProcessInfo_t> = processes(&lib, "nvmlDeviceGetMPSComputeRunningProcesses_v3", d);
        assert!(mps.is_empty());
    }
    assert!(seen_any, "the scenario has processes");
    lib.shutdown();
}

#[test]
fn process_utilization_negotiates_and_filters_by_timestamp() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let get = lib
        .f::<unsafe extern "C" fn(Device, *mut b::nvmlProcessUtilizationSample_t, *mut c_uint, c_ulonglong) -> u32>(
            "nvmlDeviceGetProcessUtilization",
        );
    let d = lib.handle(0);
    let mut count: c_uint = 0;
    // SAFETY: null buffer asks for the count.
    let rc = unsafe { get(d, ptr::null_mut(), &raw mut count, 0) };
    assert_eq!(rc, INSUFFICIENT_SIZE);
    assert!(count > 0);
    // A buffer one short: the count needed again.
    let mut short: Vec<b::nvmlProcessUtilizationSample_t> = vec![unsafe_zeroed(); count as usize - 1];
    let mut asked = count - 1;
    // SAFETY: `short` holds `asked` elements.
    assert_eq!(
        unsafe { get(d, short.as_mut_ptr(), &raw mut asked, 0) },
        INSUFFICIENT_SIZE
    );
    assert!(asked >= count);
    // The driver records a new period every 1/6 s, so the count can grow
    // between two calls (as on a real driver): leave room for a few.
    let room = count + 64;
    let mut buf: Vec<b::nvmlProcessUtilizationSample_t> = vec![unsafe_zeroed(); room as usize];
    let mut count = room;
    // SAFETY: `buf` holds `count` elements.
    assert_eq!(unsafe { get(d, buf.as_mut_ptr(), &raw mut count, 0) }, SUCCESS);
    buf.truncate(count as usize);
    assert!(buf.windows(2).all(|w| w[0].timeStamp <= w[1].timeStamp), "oldest first");
    let newest = buf.iter().map(|s| s.timeStamp).max().unwrap();
    assert!(newest > 0);
    // Only samples newer than the timestamp given: from half a second
    // before the newest, at most the periods since (a period is 1/6 s, and
    // one may be recorded between the calls).
    let mut recent: Vec<b::nvmlProcessUtilizationSample_t> = vec![unsafe_zeroed(); room as usize];
    let mut count = room;
    // SAFETY: `recent` holds `count` elements.
    assert_eq!(
        unsafe { get(d, recent.as_mut_ptr(), &raw mut count, newest - 500_000) },
        SUCCESS
    );
    recent.truncate(count as usize);
    assert!(recent.iter().all(|s| s.timeStamp > newest - 500_000));
    assert!(recent.len() < buf.len(), "older samples are left out");
    // Nothing newer (the next seconds' periods are older than this): NOT_FOUND.
    let mut count: c_uint = 0;
    // SAFETY: null buffer.
    assert_eq!(
        unsafe { get(d, ptr::null_mut(), &raw mut count, newest + 5_000_000) },
        NOT_FOUND
    );
    lib.shutdown();
}

#[test]
fn mig_handles_round_trip() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let (_, n) = lib.count();
    let mig_mode = lib.f::<unsafe extern "C" fn(Device, *mut c_uint, *mut c_uint) -> u32>("nvmlDeviceGetMigMode");
    let max = lib.f::<unsafe extern "C" fn(Device, *mut c_uint) -> u32>("nvmlDeviceGetMaxMigDeviceCount");
    let by_index =
        lib.f::<unsafe extern "C" fn(Device, c_uint, *mut Device) -> u32>("nvmlDeviceGetMigDeviceHandleByIndex");
    let parent =
        lib.f::<unsafe extern "C" fn(Device, *mut Device) -> u32>("nvmlDeviceGetDeviceHandleFromMigDeviceHandle");
    let is_mig = lib.f::<unsafe extern "C" fn(Device, *mut c_uint) -> u32>("nvmlDeviceIsMigDeviceHandle");
    let gi = lib.f::<unsafe extern "C" fn(Device, *mut c_uint) -> u32>("nvmlDeviceGetGpuInstanceId");
    let bar1 = lib.f::<unsafe extern "C" fn(Device, *mut b::nvmlBAR1Memory_t) -> u32>("nvmlDeviceGetBAR1MemoryInfo");
    let mut mig_devices = 0;
    for i in 0..n {
        let d = lib.handle(i);
        let (mut current, mut pending) = (0, 0);
        // SAFETY: valid out pointers (here and below).
        if unsafe { mig_mode(d, &raw mut current, &raw mut pending) } != SUCCESS || current == 0 {
            continue;
        }
        let mut slots = 0;
        assert_eq!(unsafe { max(d, &raw mut slots) }, SUCCESS);
        for index in 0..slots {
            let mut m: Device = ptr::null_mut();
            match unsafe { by_index(d, index, &raw mut m) } {
                SUCCESS => {
                    mig_devices += 1;
                    let (mut flag, mut up, mut id) = (0, ptr::null_mut(), 0);
                    assert_eq!(unsafe { is_mig(m, &raw mut flag) }, SUCCESS);
                    assert_eq!(flag, 1);
                    assert_eq!(unsafe { parent(m, &raw mut up) }, SUCCESS);
                    assert_eq!(up, d);
                    assert_eq!(unsafe { gi(m, &raw mut id) }, SUCCESS);
                    assert!(id >= 1);
                    // NVML documents per-instance BAR1 on MIG device handles,
                    // a share of the parent's aperture.
                    let zero = b::nvmlBAR1Memory_t {
                        bar1Total: 0,
                        bar1Free: 0,
                        bar1Used: 0,
                    };
                    let (mut mine, mut whole) = (zero, zero);
                    assert_eq!(unsafe { bar1(m, &raw mut mine) }, SUCCESS);
                    assert_eq!(unsafe { bar1(d, &raw mut whole) }, SUCCESS);
                    assert!(mine.bar1Used > 0 && mine.bar1Used + mine.bar1Free == mine.bar1Total);
                    assert!(mine.bar1Total < whole.bar1Total);
                }
                NOT_FOUND => {}
                other => panic!("MIG slot {index} of GPU {i}: {other}"),
            }
        }
        let mut m: Device = ptr::null_mut();
        assert_eq!(unsafe { by_index(d, slots, &raw mut m) }, INVALID_ARGUMENT);
        let mut flag = 7;
        assert_eq!(unsafe { is_mig(d, &raw mut flag) }, SUCCESS);
        assert_eq!(flag, 0);
    }
    assert!(mig_devices > 0, "the scenario has MIG devices");
    lib.shutdown();
}

#[test]
fn cuda_and_driver_versions_are_answered() {
    let lib = Lib::load();
    assert_eq!(lib.init(), SUCCESS);
    let mut v: c_int = 0;
    // SAFETY: valid out pointer.
    let rc =
        unsafe { lib.f::<unsafe extern "C" fn(*mut c_int) -> u32>("nvmlSystemGetCudaDriverVersion_v2")(&raw mut v) };
    assert_eq!(rc, SUCCESS);
    assert!(v >= 10_000);
    let mut buf = [0 as c_char; 80];
    // SAFETY: 80-byte buffer.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(*mut c_char, c_uint) -> u32>("nvmlSystemGetDriverVersion")(buf.as_mut_ptr(), 80)
    };
    assert_eq!(rc, SUCCESS);
    // SAFETY: 2-byte buffer: too short for any version.
    let rc = unsafe {
        lib.f::<unsafe extern "C" fn(*mut c_char, c_uint) -> u32>("nvmlSystemGetDriverVersion")(buf.as_mut_ptr(), 2)
    };
    assert_eq!(rc, INSUFFICIENT_SIZE);
    lib.shutdown();
}

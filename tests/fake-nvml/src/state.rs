//! Process-global library state: the init reference count, the simulator,
//! and the table of device handles.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nvitop::backend::sim::{Latency, SIM_SCENARIO_ENV, SIM_TIME_ENV, SimBackend};
use nvitop::backend::{Backend, BackendError, DeviceRef};
use nvml_wrapper_sys::bindings::{nvmlDevice_st, nvmlDevice_t};

use crate::exports::codes::{self, Code};

/// The most MIG devices one GPU can hold (A100, H100).
const MAX_MIG_DEVICES: u32 = 7;

/// One device handle. A handle given to C is the address of one of these.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Which device of the simulator this handle answers for.
    pub dref: DeviceRef,
    /// Position in the table of the parent GPU, for a MIG device.
    pub parent: Option<usize>,
    /// For a physical GPU: its MIG devices as `(MIG index, table position)`.
    pub migs: Vec<(u32, usize)>,
}

impl Slot {
    /// Most MIG devices this GPU can hold: 7, or more if the scenario has
    /// a MIG device at a higher index.
    pub fn max_mig_count(&self) -> u32 {
        self.migs
            .iter()
            .map(|&(index, _)| index + 1)
            .max()
            .unwrap_or(0)
            .max(MAX_MIG_DEVICES)
    }
}

/// All handles of one loaded scenario. Leaked, so handles stay valid (as
/// addresses) for the life of the process, even across shutdown.
#[derive(Debug)]
pub(crate) struct Table {
    slots: Vec<Slot>,
}

impl Table {
    fn build(backend: &SimBackend) -> Self {
        let mut slots = Vec::new();
        let count = backend.device_count().unwrap_or(0);
        for i in 0..count {
            let physical = slots.len();
            slots.push(Slot {
                dref: DeviceRef::Physical(i),
                parent: None,
                migs: Vec::new(),
            });
            let migs = backend.mig_devices(DeviceRef::Physical(i)).unwrap_or_default();
            for dref in migs {
                let DeviceRef::Mig { index, .. } = dref else { continue };
                let at = slots.len();
                slots.push(Slot {
                    dref,
                    parent: Some(physical),
                    migs: Vec::new(),
                });
                slots[physical].migs.push((index, at));
            }
        }
        Self { slots }
    }

    fn same_devices(&self, other: &Self) -> bool {
        self.slots.len() == other.slots.len() && self.slots.iter().zip(&other.slots).all(|(a, b)| a.dref == b.dref)
    }

    /// The handle (stable address) of slot `at`.
    pub fn handle(&self, at: usize) -> nvmlDevice_t {
        self.slots.get(at).map_or(std::ptr::null_mut(), |slot| {
            std::ptr::from_ref(slot).cast_mut().cast::<nvmlDevice_st>()
        })
    }

    /// The slot a handle points at, found by comparing addresses only (a
    /// garbage handle is never dereferenced).
    pub fn slot_of(&self, handle: nvmlDevice_t) -> Option<(usize, &Slot)> {
        let size = std::mem::size_of::<Slot>();
        let base = self.slots.as_ptr() as usize;
        let addr = handle as usize;
        let offset = addr.checked_sub(base)?;
        if size == 0 || offset % size != 0 {
            return None;
        }
        let at = offset / size;
        self.slots.get(at).map(|slot| (at, slot))
    }

    /// The position of a device in the table.
    pub fn position(&self, dref: DeviceRef) -> Option<usize> {
        self.slots.iter().position(|slot| slot.dref == dref)
    }

    /// The slot at a position.
    pub fn get(&self, at: usize) -> Option<&Slot> {
        self.slots.get(at)
    }
}

/// What a loaded library answers from.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub backend: Arc<SimBackend>,
    pub table: &'static Table,
    /// How long each export takes (`NVITOP_SIM_LATENCY`), applied by C
    /// name at the export boundary; `backend` itself answers at once.
    pub latency: Arc<Latency>,
}

#[derive(Debug)]
struct Global {
    refcount: u32,
    loaded: Option<Loaded>,
    /// The table of the last load, reused when a new load has the same
    /// devices so handles survive a shutdown/init cycle.
    last_table: Option<&'static Table>,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    refcount: 0,
    loaded: None,
    last_table: None,
});

fn global() -> MutexGuard<'static, Global> {
    // A panic while holding the lock is caught at the export boundary; the
    // state itself is always consistent, so a poisoned lock is still usable.
    GLOBAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `nvmlInit*`: loads the scenario on the first call, counts the others.
pub(crate) fn init() -> Result<(), Code> {
    let mut global = global();
    if global.refcount > 0 {
        global.refcount += 1;
        return Ok(());
    }
    let backend = match SimBackend::from_env() {
        Ok(backend) => backend,
        Err(err) => {
            eprintln!(
                "fake-nvml: cannot load the simulator scenario ({}): {err}",
                scenario_description()
            );
            return Err(codes::UNKNOWN);
        }
    };
    if let Err(err @ BackendError::DriverNotLoaded { .. }) = backend.device_count() {
        eprintln!("fake-nvml: {err}");
        return Err(codes::DRIVER_NOT_LOADED);
    }
    // `from_env` already slept `nvmlInit`'s delay. From here each export
    // sleeps its own delay, by its C name, so the backend must not sleep
    // again (one export may ask it several questions).
    let latency = Arc::new(backend.latency().clone());
    let backend = backend.with_latency(Latency::none());
    let fresh = Table::build(&backend);
    let table = match global.last_table {
        Some(last) if last.same_devices(&fresh) => last,
        _ => &*Box::leak(Box::new(fresh)),
    };
    global.last_table = Some(table);
    global.loaded = Some(Loaded {
        backend: Arc::new(backend),
        table,
        latency,
    });
    global.refcount = 1;
    Ok(())
}

/// `nvmlShutdown`: drops the simulator when the last user shuts down.
pub(crate) fn shutdown() -> Result<(), Code> {
    let mut global = global();
    match global.refcount {
        0 => return Err(codes::UNINITIALIZED),
        1 => {
            global.refcount = 0;
            global.loaded = None;
        }
        _ => global.refcount -= 1,
    }
    Ok(())
}

/// Sleeps as long as the export `call` takes on the simulated driver
/// (nothing before `nvmlInit`: an uninitialized library answers at once).
pub(crate) fn delay(call: &str) {
    let latency = global().loaded.as_ref().map(|loaded| Arc::clone(&loaded.latency));
    if let Some(latency) = latency {
        latency.wait(call);
    }
}

/// The loaded state, or `NVML_ERROR_UNINITIALIZED`.
pub(crate) fn loaded() -> Result<Loaded, Code> {
    global().loaded.clone().ok_or(codes::UNINITIALIZED)
}

/// A short description of where the scenario comes from, for diagnostics.
pub fn scenario_description() -> String {
    let scenario = std::env::var(SIM_SCENARIO_ENV).unwrap_or_else(|_| "<built-in default machine>".to_owned());
    let time = std::env::var(SIM_TIME_ENV).unwrap_or_else(|_| "<wall clock>".to_owned());
    format!("scenario {scenario}, simulated time {time}")
}

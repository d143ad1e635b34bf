//! The process-wide default backend.
//!
//! Created on first use: the NVML backend, or the simulator when
//! `NVITOP_SIMULATE` asks for it. There is never a silent fallback from a
//! missing driver to simulated GPUs: a machine without a driver gets an error
//! that says so, because fake numbers passed off as real ones are worse than
//! no numbers.

use std::sync::{Arc, Mutex, PoisonError};

use crate::backend::Backend;
use crate::backend::nvml::NvmlBackend;
use crate::backend::sim::SimBackend;
use crate::error::{Error, Result};

/// The environment variable that selects the simulator: `1` (the default
/// machine), a preset name, or a scenario file path. Unset, empty or `0`
/// means the real driver.
///
/// ```
/// use nvitop::global::SIMULATE_ENV;
/// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
/// # unsafe { std::env::set_var(SIMULATE_ENV, "rtx4090") };
/// // With NVITOP_SIMULATE=rtx4090 the default backend is that preset.
/// let backend = nvitop::default_backend().unwrap();
/// assert!(backend.is_simulated());
/// assert_eq!(nvitop::Device::count().unwrap(), 1);
/// ```
pub const SIMULATE_ENV: &str = "NVITOP_SIMULATE";

static DEFAULT: Mutex<Option<Arc<dyn Backend>>> = Mutex::new(None);

/// What `NVITOP_SIMULATE` asks for: `None` for the real driver, or the
/// simulator spec.
///
/// ```
/// use nvitop::global::simulate_spec;
/// assert_eq!(simulate_spec(None), None);
/// assert_eq!(simulate_spec(Some("0")), None);
/// assert_eq!(simulate_spec(Some("")), None);
/// assert_eq!(simulate_spec(Some("1")), Some("1"));
/// assert_eq!(simulate_spec(Some("h100x8")), Some("h100x8"));
/// ```
pub fn simulate_spec(value: Option<&str>) -> Option<&str> {
    match value.map(str::trim) {
        None | Some("" | "0" | "false" | "no" | "off") => None,
        Some(spec) => Some(spec),
    }
}

/// Creates a backend for a `--simulate` / `NVITOP_SIMULATE` value, or the
/// NVML backend when `spec` is `None`.
///
/// ```
/// let backend = nvitop::global::backend_from_spec(Some("default")).unwrap();
/// assert!(backend.is_simulated());
/// ```
pub fn backend_from_spec(spec: Option<&str>) -> Result<Arc<dyn Backend>> {
    match spec {
        Some(spec) => Ok(Arc::new(SimBackend::from_spec(spec)?)),
        None => Ok(Arc::new(NvmlBackend::new()?)),
    }
}

/// The process-wide default backend, created on first use from
/// `NVITOP_SIMULATE` (see [`SIMULATE_ENV`]). A failure is not cached: the
/// next call tries again (for example after a driver was loaded).
///
/// # Errors
/// The NVML library is missing or the driver is not loaded (the error names
/// the path tried and suggests `--simulate`), or the scenario is bad.
///
/// ```
/// match nvitop::default_backend() {
///     Ok(backend) => println!("using {}", backend.kind()),
///     Err(err) => eprintln!("{err}"),
/// }
/// ```
pub fn default_backend() -> Result<Arc<dyn Backend>> {
    let mut slot = DEFAULT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(backend) = slot.as_ref() {
        return Ok(Arc::clone(backend));
    }
    let env = std::env::var(SIMULATE_ENV).ok();
    let backend = backend_from_spec(simulate_spec(env.as_deref()))?;
    *slot = Some(Arc::clone(&backend));
    Ok(backend)
}

/// Installs `backend` as the process-wide default, for embedding and for
/// programs that choose the backend from their own flags (`--simulate`).
///
/// # Errors
/// [`Error::BackendAlreadySet`] when a default backend already exists.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::backend::sim::SimBackend;
/// nvitop::set_default_backend(Arc::new(SimBackend::default_machine())).unwrap();
/// assert!(nvitop::default_backend().unwrap().is_simulated());
/// ```
pub fn set_default_backend(backend: Arc<dyn Backend>) -> Result<()> {
    let mut slot = DEFAULT.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.is_some() {
        return Err(Error::BackendAlreadySet);
    }
    *slot = Some(backend);
    Ok(())
}

//! Set-up shared by the examples in the API documentation, so that each
//! example shows only what it teaches. Not part of the API: hidden from the
//! documentation and free to change.
//!
//! An example starts with two hidden lines:
//!
//! ```
//! # use nvitop::doctest::*;
//! # let Machine { backend, gpu, mig_parent, a100, rtx, mig } = machine();
//! assert_eq!(gpu.index(), 0);
//! assert!(Arc::ptr_eq(gpu.backend(), &backend));
//! ```

pub use std::sync::Arc;

pub use crate::backend::Backend;
pub use crate::backend::sim::SimBackend;
pub use crate::{Device, MigDevice};

/// The built-in default machine at simulated time 10 s, and its devices.
#[derive(Debug)]
pub struct Machine {
    /// The simulator, as the SDK holds a backend.
    pub backend: Arc<dyn Backend>,
    /// GPU 0: an H100 running this process (the training job).
    pub gpu: Device,
    /// GPU 1: an A100 with MIG mode on.
    pub mig_parent: Device,
    /// GPU 2: an A100.
    pub a100: Device,
    /// GPU 3: an RTX 4090.
    pub rtx: Device,
    /// The first MIG device of GPU 1.
    pub mig: MigDevice,
}

/// The default machine (see [`Machine`]).
///
/// # Panics
/// Never on the built-in machine, which has these four GPUs (its unit tests
/// check it); this is documentation set-up, where a panic fails the example.
#[must_use]
#[allow(clippy::expect_used)]
pub fn machine() -> Machine {
    let sim = SimBackend::default_machine();
    sim.set_time(10.0);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let [gpu, mig_parent, a100, rtx] = <[Device; 4]>::try_from(Device::all_in(&backend).expect("the default machine"))
        .expect("the default machine has 4 GPUs");
    let mig = mig_parent
        .mig_devices()
        .into_iter()
        .next()
        .expect("GPU 1 of the default machine has MIG devices");
    Machine {
        backend,
        gpu,
        mig_parent,
        a100,
        rtx,
        mig,
    }
}

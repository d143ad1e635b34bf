//! # fake-nvml: a fake NVIDIA driver library
//!
//! Built as a `cdylib`, this crate is a `libnvidia-ml.so` (soname
//! `libnvidia-ml.so.1`) that answers the NVML C API from nvitop's built-in
//! simulator ([`nvitop::backend::sim::SimBackend`]). Any NVML client (our
//! own NVML backend through `nvml-wrapper`, Python `pynvml`, `nvitop`,
//! `gpustat`, ...) pointed at it sees the simulated machine:
//!
//! ```text
//! cargo build -p fake-nvml
//! mkdir -p /tmp/fake-nvml && ln -sf "$CARGO_TARGET_DIR/debug/libnvidia_ml.so" /tmp/fake-nvml/libnvidia-ml.so.1
//! LD_LIBRARY_PATH=/tmp/fake-nvml NVITOP_SIM_TIME=42 nvitop --once
//! ```
//!
//! The scenario comes from `SimBackend::from_env()` (env `NVITOP_SIM_SCENARIO`,
//! `NVITOP_SIM_TIME`), read at the first `nvmlInit*`. State is process-global
//! and reference-counted the way the real driver counts `nvmlInit` /
//! `nvmlShutdown` pairs. Device handles are stable addresses into a leaked
//! table, one entry per physical GPU and per MIG device.
//!
//! Every export catches panics and answers `NVML_ERROR_UNKNOWN` instead:
//! unwinding across the C ABI is never allowed.

// This crate *is* a C library: it must export `extern "C"` functions that
// read and write through raw pointers handed in by C callers, which cannot
// be done without `unsafe`. Every `unsafe` block carries a `SAFETY:` comment.
#![allow(unsafe_code)]

mod exports;
mod exports_nvlink;
mod state;
pub mod testing;

pub use exports::{GPM_VERSION_ENV, MISSING_ENV};
pub use state::scenario_description;

/// Every NVML symbol this library exports, in the order they are defined.
///
/// The tests check that the built `cdylib` really exports each of them.
pub const EXPORTED_SYMBOLS: &[&str] = &ALL_EXPORTED;

/// The export lists of every module (each starts with `nvmlErrorString`,
/// which is exported once: the later lists' copies are left out).
const ALL_EXPORTED: [&str; exports::EXPORTED.len() + exports_nvlink::EXPORTED.len() - 1] =
    concat(exports::EXPORTED, exports_nvlink::EXPORTED);

const fn concat<const N: usize>(first: &[&'static str], second: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < first.len() {
        out[i] = first[i];
        i += 1;
    }
    let mut j = 1;
    while j < second.len() {
        out[i] = second[j];
        i += 1;
        j += 1;
    }
    out
}

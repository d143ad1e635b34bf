//! `NVLink` data counters through `nvmlDeviceGetFieldValues`, called
//! directly: `nvml-wrapper`'s `field_values_for` leaves every value's
//! `scopeId` at 0, and the throughput fields take the link number there,
//! so through it only link 0 could be read.
// The one call below hands NVML a buffer of field-value structs; that is
// the C ABI, which needs `unsafe` (see the SAFETY comments).
#![allow(unsafe_code)]

use std::ffi::c_int;

use nvml_wrapper::Nvml;
use nvml_wrapper::device::Device;
use nvml_wrapper::error::{NvmlError, nvml_try};
use nvml_wrapper_sys::bindings::{field_id, nvmlFieldValue_t, nvmlReturn_enum_NVML_SUCCESS};

use crate::backend::{BackendError, BackendResult, DeviceRef, NvLinkCounter, NvLinkCounters};

/// The most links NVML numbers (`NVML_NVLINK_MAX_LINKS`).
const MAX_LINKS: u32 = nvml_wrapper_sys::bindings::NVML_NVLINK_MAX_LINKS;

/// A zeroed request for `field` of `scope` (a link number).
fn request(field: u32, scope: u32) -> nvmlFieldValue_t {
    // SAFETY: `nvmlFieldValue_t` is a plain C struct of integers and a
    // union of numbers; all-zero bytes are a valid value of each.
    let mut value: nvmlFieldValue_t = unsafe { std::mem::zeroed() };
    value.fieldId = field;
    value.scopeId = scope;
    value
}

/// Asks NVML for `values` of `device` in one call; each value's own
/// `nvmlReturn` says whether it was answered.
fn ask(nvml: &Nvml, device: &Device<'_>, values: &mut [nvmlFieldValue_t]) -> Result<(), NvmlError> {
    let call = nvml
        .lib()
        .nvmlDeviceGetFieldValues
        .as_ref()
        .map_err(|_| NvmlError::FunctionNotFound)?;
    let count = c_int::try_from(values.len()).map_err(|_| NvmlError::InvalidArg)?;
    // SAFETY: `handle` is a live device handle of this `nvml` (borrowed for
    // the call); `values` points at `count` initialized structs that NVML
    // reads the field and scope ids of and writes the answers into, and it
    // stays borrowed mutably for the whole call.
    nvml_try(unsafe { call(device.handle(), count, values.as_mut_ptr()) })
}

/// The TX and RX data counters of every link of `device`: first how many
/// links there are (`NVML_FI_DEV_NVLINK_LINK_COUNT`), then both counters
/// of each link in one call. A GPU without `NVLink` is "not supported".
pub(super) fn nvlink_counters(nvml: &Nvml, device: &Device<'_>, which: DeviceRef) -> BackendResult<NvLinkCounters> {
    let mut count = [request(field_id::NVML_FI_DEV_NVLINK_LINK_COUNT, 0)];
    ask(nvml, device, &mut count).map_err(|err| super::convert(err, which))?;
    if count[0].nvmlReturn != nvmlReturn_enum_NVML_SUCCESS {
        return Err(BackendError::NotSupported);
    }
    // SAFETY: the link count is an unsigned int (NVML_VALUE_TYPE_UNSIGNED_INT).
    let links = unsafe { count[0].value.uiVal }.min(MAX_LINKS);
    if links == 0 {
        return Err(BackendError::NotSupported);
    }
    let mut values: Vec<nvmlFieldValue_t> = (0..links)
        .flat_map(|link| {
            [
                request(field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, link),
                request(field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, link),
            ]
        })
        .collect();
    ask(nvml, device, &mut values).map_err(|err| super::convert(err, which))?;
    let mut timestamp_us = 0;
    let links: Vec<NvLinkCounter> = values
        .chunks_exact(2)
        .zip(0..)
        .filter(|(pair, _)| pair.iter().all(|v| v.nvmlReturn == nvmlReturn_enum_NVML_SUCCESS))
        .map(|(pair, link)| {
            timestamp_us = timestamp_us.max(u64::try_from(pair[1].timestamp).unwrap_or(0));
            // SAFETY: the throughput counters are unsigned long longs
            // (NVML_VALUE_TYPE_UNSIGNED_LONG_LONG), KiB.
            let (tx_kib, rx_kib) = unsafe { (pair[0].value.ullVal, pair[1].value.ullVal) };
            NvLinkCounter { link, tx_kib, rx_kib }
        })
        .collect();
    if links.is_empty() {
        return Err(BackendError::NotSupported);
    }
    Ok(NvLinkCounters { timestamp_us, links })
}

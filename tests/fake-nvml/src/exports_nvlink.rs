//! `NVLink` and clock event reason exports: field values (link count and
//! per-link data counters), link state, current and supported clock event
//! (throttle) reasons. Defined with the same `exports!` macro as the rest,
//! so each goes through the latency model by its C name and can be
//! removed with `NVITOP_FAKE_NVML_MISSING`.

use std::ffi::{c_int, c_uint, c_ulonglong};

use nvitop::backend::{Backend, BackendError, ClockEventReasons, NvLinkCounters};
use nvml_wrapper_sys::bindings::{self as b, field_id, nvmlDevice_t, nvmlEnableState_t, nvmlFieldValue_t};

use crate::exports::codes::{Code, FUNCTION_NOT_FOUND, INVALID_ARGUMENT, NOT_SUPPORTED, SUCCESS};
use crate::exports::{R, check, dev, enable_state, exports, guard, missing, nonnull, put, query};
use crate::state;

/// The scope id that asks for the sum over every link.
const ALL_LINKS: c_uint = c_uint::MAX;

/// The driver's answer to one requested field value.
enum Answer {
    Uint(c_uint),
    Ulonglong(c_ulonglong),
}

/// Answers one field of a GPU whose links read `counters` (an error: the
/// GPU has no `NVLink`, or a MIG device).
fn answer(field: c_uint, scope: c_uint, counters: &Result<NvLinkCounters, BackendError>) -> R<Answer> {
    let counters = counters.as_ref().map_err(|_| NOT_SUPPORTED)?;
    let count = counters.links.len() as c_uint;
    let link_value = |pick: fn(&nvitop::backend::NvLinkCounter) -> u64| -> R<Answer> {
        if scope == ALL_LINKS {
            return Ok(Answer::Ulonglong(counters.links.iter().map(pick).sum()));
        }
        counters
            .links
            .iter()
            .find(|l| l.link == scope)
            .map(|l| Answer::Ulonglong(pick(l)))
            .ok_or(INVALID_ARGUMENT)
    };
    match field {
        field_id::NVML_FI_DEV_NVLINK_LINK_COUNT => Ok(Answer::Uint(count)),
        field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX => link_value(|l| l.tx_kib),
        field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX => link_value(|l| l.rx_kib),
        _ => Err(NOT_SUPPORTED),
    }
}

/// CPU time now, microseconds since the Unix epoch (the field values' timestamp).
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

exports! {
    /// Field values: each entry's `fieldId` and `scopeId` say what is asked,
    /// and its `nvmlReturn` says whether that one was answered; the call
    /// itself succeeds for a valid device. Answered: the `NVLink` link count
    /// and per-link data counters (KiB; scope = link, `UINT_MAX` = all links).
    fn nvmlDeviceGetFieldValues(device: nvmlDevice_t, values_count: c_int, values: *mut nvmlFieldValue_t) {
        let dev = dev(device)?;
        nonnull(values)?;
        let count = usize::try_from(values_count).map_err(|_| INVALID_ARGUMENT)?;
        // One read of the counters for the whole call, as the driver takes
        // one timestamp per call.
        let counters = dev.backend().nvlink_counters(dev.dref);
        if let Err(err @ BackendError::GpuLost { .. }) = &counters {
            return check(Err(err.clone()));
        }
        let timestamp = now_us();
        for i in 0..count {
            // SAFETY: `values` points at `values_count` structs (NVML contract).
            let value = unsafe { &mut *values.add(i) };
            value.timestamp = timestamp;
            value.latencyUsec = 0;
            match answer(value.fieldId, value.scopeId, &counters) {
                Ok(Answer::Uint(v)) => {
                    value.valueType = b::nvmlValueType_enum_NVML_VALUE_TYPE_UNSIGNED_INT;
                    value.value.uiVal = v;
                    value.nvmlReturn = SUCCESS;
                }
                Ok(Answer::Ulonglong(v)) => {
                    value.valueType = b::nvmlValueType_enum_NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
                    value.value.ullVal = v;
                    value.nvmlReturn = SUCCESS;
                }
                Err(code) => value.nvmlReturn = code,
            }
        }
        Ok(())
    }

    /// Whether `NVLink` `link` is active: every link of an `NVLink` GPU is;
    /// a link number past the GPU's is an invalid argument.
    fn nvmlDeviceGetNvLinkState(device: nvmlDevice_t, link: c_uint, is_active: *mut nvmlEnableState_t) {
        let dev = dev(device)?;
        nonnull(is_active)?;
        let counters = check(dev.backend().nvlink_counters(dev.dref))?;
        if !counters.links.iter().any(|l| l.link == link) {
            return Err(INVALID_ARGUMENT);
        }
        // SAFETY: `is_active` is valid for a write (NVML contract).
        unsafe { put(is_active, enable_state(true)) }
    }

    /// Current clock event reasons, NVML's bit mask.
    fn nvmlDeviceGetCurrentClocksEventReasons(device: nvmlDevice_t, reasons: *mut c_ulonglong) {
        // SAFETY: `reasons` is valid for a write (NVML contract).
        unsafe { query(device, reasons, |b, d| b.clock_event_reasons(d).map(ClockEventReasons::bits)) }
    }

    /// The same, under its name before driver 535.
    fn nvmlDeviceGetCurrentClocksThrottleReasons(device: nvmlDevice_t, reasons: *mut c_ulonglong) {
        // SAFETY: `reasons` is valid for a write (NVML contract).
        unsafe { query(device, reasons, |b, d| b.clock_event_reasons(d).map(ClockEventReasons::bits)) }
    }

    /// The reasons the device can report: every reason NVML defines, where
    /// it reports any.
    fn nvmlDeviceGetSupportedClocksEventReasons(device: nvmlDevice_t, reasons: *mut c_ulonglong) {
        // SAFETY: `reasons` is valid for a write (NVML contract).
        unsafe { query(device, reasons, |b, d| b.clock_event_reasons(d).map(|_| supported())) }
    }

    /// The same, under its name before driver 535.
    fn nvmlDeviceGetSupportedClocksThrottleReasons(device: nvmlDevice_t, reasons: *mut c_ulonglong) {
        // SAFETY: `reasons` is valid for a write (NVML contract).
        unsafe { query(device, reasons, |b, d| b.clock_event_reasons(d).map(|_| supported())) }
    }
}

/// Every reason bit NVML defines.
fn supported() -> u64 {
    ClockEventReasons::ALL
        .iter()
        .fold(ClockEventReasons::NONE, |all, (reason, _)| all.union(*reason))
        .bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if each export has the signature `nvml-wrapper-sys` declares.
    #[allow(dead_code)]
    fn signatures(lib: &b::NvmlLib) {
        fn same<T, E>(_: &Result<T, E>, _: T) {}
        same(&lib.nvmlDeviceGetFieldValues, nvmlDeviceGetFieldValues);
        same(&lib.nvmlDeviceGetNvLinkState, nvmlDeviceGetNvLinkState);
        same(
            &lib.nvmlDeviceGetCurrentClocksEventReasons,
            nvmlDeviceGetCurrentClocksEventReasons,
        );
        same(
            &lib.nvmlDeviceGetCurrentClocksThrottleReasons,
            nvmlDeviceGetCurrentClocksThrottleReasons,
        );
        same(
            &lib.nvmlDeviceGetSupportedClocksEventReasons,
            nvmlDeviceGetSupportedClocksEventReasons,
        );
        same(
            &lib.nvmlDeviceGetSupportedClocksThrottleReasons,
            nvmlDeviceGetSupportedClocksThrottleReasons,
        );
    }

    #[test]
    fn every_export_is_signature_checked() {
        assert_eq!(EXPORTED.len(), 7); // nvmlErrorString + the six above
    }

    #[test]
    fn fields_answer_per_link_and_in_sum() {
        let counters = Ok(NvLinkCounters {
            timestamp_us: 1,
            links: vec![
                nvitop::backend::NvLinkCounter {
                    link: 0,
                    tx_kib: 10,
                    rx_kib: 20,
                },
                nvitop::backend::NvLinkCounter {
                    link: 1,
                    tx_kib: 30,
                    rx_kib: 40,
                },
            ],
        });
        let ull = |a: R<Answer>| match a {
            Ok(Answer::Ulonglong(v)) => Some(v),
            _ => None,
        };
        assert!(matches!(
            answer(field_id::NVML_FI_DEV_NVLINK_LINK_COUNT, 0, &counters),
            Ok(Answer::Uint(2))
        ));
        assert_eq!(
            ull(answer(field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, 1, &counters)),
            Some(40)
        );
        assert_eq!(
            ull(answer(
                field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
                ALL_LINKS,
                &counters
            )),
            Some(40)
        );
        assert_eq!(
            answer(field_id::NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, 7, &counters).err(),
            Some(INVALID_ARGUMENT)
        );
        assert_eq!(answer(1, 0, &counters).err(), Some(NOT_SUPPORTED));
        let none = Err(BackendError::NotSupported);
        assert_eq!(
            answer(field_id::NVML_FI_DEV_NVLINK_LINK_COUNT, 0, &none).err(),
            Some(NOT_SUPPORTED)
        );
    }
}

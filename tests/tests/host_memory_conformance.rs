//! `nvitop::host::virtual_memory()` and `swap_memory()` against psutil's
//! (what Python nvitop shows): the same definitions of used, free,
//! available and percent. Memory moves while the two readers run, so the
//! SDK reads before and after psutil and psutil's figures must lie within
//! what the SDK saw, give or take a little.
//!
//! Runs when `NVITOP_CONFORMANCE_PYTHON` names an interpreter with psutil
//! (nvitop brings it; `.ci/conformance` sets it up). Skipped without it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use nvitop::host;
use nvitop_tests::{conformance_python, run_python};
use serde_json::Value;

/// How far memory may move between the readings, bytes.
const SLACK: u64 = 64 << 20;

fn within(field: &str, theirs: &Value, before: u64, after: u64) {
    let theirs = theirs.as_u64().unwrap_or_else(|| panic!("{field}: {theirs}"));
    let (low, high) = (before.min(after).saturating_sub(SLACK), before.max(after) + SLACK);
    assert!(
        (low..=high).contains(&theirs),
        "{field}: psutil {theirs}, ours {before} then {after}"
    );
}

#[test]
fn host_memory_is_counted_as_psutil_counts_it() {
    let Some(python) = conformance_python() else {
        return;
    };
    let (memory_before, swap_before) = (host::virtual_memory(), host::swap_memory());
    let out = run_python(&python, "host_memory.py", &[]);
    let (memory_after, swap_after) = (host::virtual_memory(), host::swap_memory());
    let psutil: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (m, s) = (&psutil["memory"], &psutil["swap"]);

    assert_eq!(m["total"].as_u64(), Some(memory_before.total));
    within("used", &m["used"], memory_before.used, memory_after.used);
    within("free", &m["free"], memory_before.free, memory_after.free);
    within(
        "available",
        &m["available"],
        memory_before.available,
        memory_after.available,
    );
    // psutil rounds its percent to one decimal.
    let percent = m["percent"].as_f64().unwrap();
    let (low, high) = (
        memory_before.percent.min(memory_after.percent),
        memory_before.percent.max(memory_after.percent),
    );
    let slack = 0.05 + SLACK as f64 * 100.0 / memory_before.total as f64;
    assert!(
        (low - slack..=high + slack).contains(&percent),
        "percent: psutil {percent}, ours {low}..{high}"
    );

    assert_eq!(s["total"].as_u64(), Some(swap_before.total));
    within("swap used", &s["used"], swap_before.used, swap_after.used);
    within("swap free", &s["free"], swap_before.free, swap_after.free);
}

//! `--json` text, byte for byte, against files committed before the
//! snapshot types changed (process type and MIG device index became typed
//! values in the SDK): the JSON must not change with them. The machine
//! (`tests/data/json_golden.toml`) has MIG devices on two GPUs and every
//! process type; its pids belong to no process, so only the timestamp and
//! the host block (this machine's memory and load) vary, and those two are
//! blanked before comparing.
//!
//! The files changed once since, in values only: the `gpm` objects of the
//! Hopper GPU in MIG mode and of its MIG devices, when the simulator gave
//! each GPU instance GPM counters of its own (the GPU's are now their
//! slice-weighted sum) instead of a copy of the whole GPU's.
//!
//! To see a difference: `NVITOP_SIM_TIME=10 cargo run -p nvitop-monitor --
//! --json --simulate monitor/tests/data/json_golden.toml`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/json_golden.toml");

fn json_text(extra: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(["--json", "--simulate", SCENARIO])
        .args(extra)
        .env_remove("NVITOP_SIMULATE")
        .env_remove("NVITOP_SIM_SCENARIO")
        .env_remove("NVITOP_SIM_HOST_PIDS")
        .env_remove("NVITOP_NVML_LIBRARY")
        .env_remove("CUDA_VISIBLE_DEVICES")
        .env("NVITOP_SIM_TIME", "10")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    normalized(&String::from_utf8(output.stdout).unwrap())
}

/// The text with the timestamp's value and the top-level `host` object's
/// body replaced by `<varies>`; everything else as printed.
fn normalized(text: &str) -> String {
    let mut out = String::new();
    let mut in_host = false;
    for line in text.lines() {
        if in_host {
            if line == "  }," || line == "  }" {
                out.push_str("    <varies>\n");
                out.push_str(line);
                out.push('\n');
                in_host = false;
            }
            continue;
        }
        if line.starts_with("  \"timestamp\": ") {
            out.push_str("  \"timestamp\": <varies>,\n");
            continue;
        }
        if line == "  \"host\": {" {
            in_host = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(!in_host, "unterminated host object:\n{text}");
    out
}

fn assert_matches(actual: &str, expected_file: &str) {
    let path = format!("{}/tests/data/{expected_file}", env!("CARGO_MANIFEST_DIR"));
    let expected = std::fs::read_to_string(&path).unwrap();
    if actual != expected {
        let first = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{path} differs from --json output at line {}:\n  expected: {:?}\n  actual:   {:?}",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn json_of_mig_devices_and_every_process_type_is_unchanged() {
    let text = json_text(&[]);
    for needle in [
        "\"device_index\": \"0:0\"",
        "\"device_index\": \"2:1\"",
        "\"type\": \"C+G\"",
        "\"type\": \"G\"",
        "\"type\": \"C\"",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    assert_matches(&text, "json_golden.expected.json");
}

#[test]
fn json_of_graphics_processes_only_is_unchanged() {
    // `-g` keeps `G` and `C+G`: the filter reads the process type.
    assert_matches(&json_text(&["-g"]), "json_golden_graphics.expected.json");
}

//! Runs the `devices` example as a user would, on the simulator and without a driver.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

mod common;
use common::{example, run_to_success, run_with_stdout_closed};

#[test]
fn devices_example_prints_a_simulated_machine() {
    let stdout = run_to_success(
        Command::new(example("devices"))
            .env("NVITOP_SIMULATE", "1")
            // Unset, as the CUDA-order check below expects (GPU machines often set it).
            .env_remove("CUDA_VISIBLE_DEVICES"),
    );
    assert!(stdout.contains("4 GPU(s)"), "{stdout}");
    assert!(stdout.contains("simulated"), "{stdout}");
    assert!(stdout.contains("MIG"), "{stdout}");
    assert!(
        // The default machine binds a GPU process to the example's parent:
        // this test.
        stdout.contains(&format!("pid {:>7}", std::process::id())),
        "{stdout}"
    );
    assert!(stdout.contains("cuda:0 (gpu:0)"), "{stdout}");
    assert!(stdout.contains("One-pass snapshot: 4 devices"), "{stdout}");
}

#[test]
fn devices_example_without_a_driver_says_so() {
    let out = Command::new(example("devices"))
        .env_remove("NVITOP_SIMULATE")
        .env("NVITOP_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/libnvidia-ml.so.1"), "{stderr}");
    assert!(stderr.contains("--simulate"), "{stderr}");
    assert!(stderr.contains("NVITOP_SIMULATE"), "{stderr}");
}

#[test]
fn devices_example_ends_quietly_when_its_reader_stops() {
    run_with_stdout_closed(Command::new(example("devices")).env("NVITOP_SIMULATE", "1"));
}

#[test]
fn devices_example_help_lists_its_options_and_simulate_needs_no_variable() {
    let help = run_to_success(Command::new(example("devices")).arg("--help"));
    assert!(help.contains("--simulate") && help.contains("--help"), "{help}");
    let out = run_to_success(
        Command::new(example("devices"))
            .arg("--simulate")
            .env_remove("NVITOP_SIMULATE"),
    );
    assert!(out.contains("simulated GPUs"), "{out}");
}

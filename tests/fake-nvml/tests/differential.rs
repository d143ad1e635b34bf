//! Differential tests: a full `nvitop::Snapshot` read through the NVML
//! backend from the fake library (in a child process, `fake-nvml-probe`)
//! equals the snapshot read from the simulator in this process, at the same
//! simulated time, field by field.
//!
//! Ignored, because they are inherently per-process: the snapshot timestamp,
//! the backend name and `simulated` flag, the host section and each
//! process's host details. The simulator's `self` and `parent` pids differ
//! between the two processes by construction and are compared as the
//! placeholders `SELF` and `PARENT`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use std::sync::Arc;

use nvitop::Snapshot;
use nvitop::backend::Backend;
use nvitop::backend::sim::{SimBackend, presets};
use serde_json::Value;

use nvidia_ml::testing::{FakeLib, first_difference, run_ok};

/// `host:N` pids of both simulators (the preset with the most, `h100x8`,
/// needs 512 distinct ones). They need not exist: host details are not compared.
fn host_pool() -> Vec<u32> {
    (0..600).map(|i| 200_000 + i).collect()
}

/// The snapshot through the NVML backend over the fake library, with the
/// probe's own and parent pids.
fn through_fake_library(lib: &FakeLib, spec: &str, time: f64) -> (Value, u32, u32) {
    through_old_fake_library(lib, spec, time, "")
}

/// As [`through_fake_library`], with the functions in `missing`
/// (comma-separated) answering `NVML_ERROR_FUNCTION_NOT_FOUND`.
fn through_old_fake_library(lib: &FakeLib, spec: &str, time: f64, missing: &str) -> (Value, u32, u32) {
    let pool: Vec<String> = host_pool().iter().map(u32::to_string).collect();
    let mut probe = Command::new(env!("CARGO_BIN_EXE_fake-nvml-probe"));
    probe
        .arg("nvml")
        .env(nvidia_ml::MISSING_ENV, missing)
        .env("NVITOP_NVML_LIBRARY", lib.path())
        .env("NVITOP_SIM_SCENARIO", spec)
        .env("NVITOP_SIM_TIME", time.to_string())
        .env("NVITOP_SIM_HOST_PIDS", pool.join(","))
        .env_remove("NVITOP_SIMULATE");
    let (output, _) = run_ok(&mut probe, "fake-nvml-probe");
    let mut out: Value = serde_json::from_slice(&output.stdout).expect("probe JSON");
    let pid = out["pid"].as_u64().unwrap() as u32;
    let ppid = out["ppid"].as_u64().unwrap() as u32;
    (out["snapshot"].take(), pid, ppid)
}

/// The snapshot through the simulator in this process.
fn in_process(preset: &str, time: f64) -> Value {
    let sim = SimBackend::with_host_pool(presets::preset(preset).unwrap(), host_pool());
    sim.set_time(time);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let snapshot = Snapshot::take_all(&backend).expect("simulated snapshot");
    serde_json::to_value(snapshot).unwrap()
}

/// Drops the per-process fields and names the `self`/`parent` pids.
fn normalize(mut snapshot: Value, own: u32, parent: u32) -> Value {
    let map = snapshot.as_object_mut().unwrap();
    for key in ["timestamp", "backend", "simulated", "host"] {
        assert!(
            map.remove(key).is_some(),
            "snapshot has no `{key}` any more: update this test"
        );
    }
    if let Some(Value::Array(processes)) = map.get_mut("processes") {
        for p in processes.iter_mut() {
            let p = p.as_object_mut().unwrap();
            p.remove("host");
            let pid = p["pid"].as_u64().unwrap();
            if pid == u64::from(own) {
                p.insert("pid".into(), "SELF".into());
            } else if pid == u64::from(parent) {
                p.insert("pid".into(), "PARENT".into());
            }
        }
        processes.sort_by_key(|p| (p["device_index"].to_string(), p["pid"].to_string()));
    }
    snapshot
}

fn differential(preset: &str, time: f64) {
    let lib = FakeLib::new();
    let (fake, pid, ppid) = through_fake_library(&lib, &format!("preset:{preset}"), time);
    let fake = normalize(fake, pid, ppid);
    let sim = normalize(
        in_process(preset, time),
        std::process::id(),
        std::os::unix::process::parent_id(),
    );
    assert!(!sim["devices"].as_array().unwrap().is_empty());
    if let Some(diff) = first_difference(&fake, &sim) {
        panic!("preset {preset} at t={time}: fake NVML (left) and simulator (right) differ at {diff}");
    }
}

#[test]
fn default_machine() {
    differential("default", 42.0);
}

#[test]
fn h100x8_with_64_processes_each() {
    differential("h100x8", 42.0);
}

#[test]
fn mig() {
    differential("mig", 42.0);
}

#[test]
fn faults_before_and_after_the_gpu_is_lost() {
    // GPU 3 of the preset falls off the bus at t=30.
    differential("faults", 10.0);
    differential("faults", 42.0);
}

#[test]
fn every_other_preset() {
    for (name, ..) in presets::PRESETS {
        if !["default", "h100x8", "mig", "faults"].contains(&name) {
            differential(name, 42.0);
        }
    }
}

#[test]
fn the_fake_library_sees_the_faults() {
    // Guards the differential test against comparing two empty answers.
    let lib = FakeLib::new();
    let (fake, ..) = through_fake_library(&lib, "preset:faults", 42.0);
    let devices = fake["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 4);
    assert!(devices[3]["error"].as_str().unwrap().contains("lost"), "{}", devices[3]);
    assert!(devices[1]["temperature"].is_null());
    assert!(devices[0]["temperature"].is_u64());
    let errors = fake["process_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e[0] == "2" && e[1].as_str().unwrap().contains("permission")),
        "{errors:?}"
    );
}

#[test]
fn a_scenario_file_is_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.toml");
    std::fs::write(
        &path,
        "seed = 3\n[[gpus]]\nmodel = \"A100-SXM4-80GB\"\nprocesses = [{ pid = \"host:1\", memory_mib = 1000 }]\n\
         [[gpus]]\nmodel = \"RTX-4090\"\n",
    )
    .unwrap();
    let lib = FakeLib::new();
    let (fake, ..) = through_fake_library(&lib, path.to_str().unwrap(), 5.0);
    assert_eq!(fake["devices"].as_array().unwrap().len(), 2);
    assert_eq!(fake["processes"][0]["pid"], 200_001);
    assert_eq!(fake["processes"][0]["gpu_memory"], 1000u64 << 20);
}

#[test]
fn the_comparison_reports_the_first_differing_path() {
    let a = serde_json::json!({"devices": [{"name": "x", "memory_used": 1}], "processes": []});
    let mut b = a.clone();
    b["devices"][0]["memory_used"] = 2.into();
    assert_eq!(
        first_difference(&a, &b).as_deref(),
        Some("devices[0].memory_used: 1 != 2")
    );
    assert_eq!(first_difference(&a, &a), None);
    let mut c = a.clone();
    c["processes"] = serde_json::json!([{"pid": 1}]);
    assert_eq!(first_difference(&a, &c).as_deref(), Some("processes: length 0 != 1"));
}

#[test]
fn a_bad_scenario_fails_init_with_a_message() {
    let lib = FakeLib::new();
    let output = Command::new(env!("CARGO_BIN_EXE_fake-nvml-probe"))
        .arg("nvml")
        .env("NVITOP_NVML_LIBRARY", lib.path())
        .env("NVITOP_SIM_SCENARIO", "preset:no-such-preset")
        .env_remove("NVITOP_SIMULATE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fake-nvml: cannot load the simulator scenario"),
        "{stderr}"
    );
}

#[test]
fn an_older_driver_without_some_functions_reads_as_not_available() {
    let lib = FakeLib::new();
    let missing = "nvmlDeviceGetTemperature,nvmlDeviceGetProcessUtilization,nvmlDeviceGetMPSComputeRunningProcesses_v3";
    let (fake, pid, ppid) = through_old_fake_library(&lib, "preset:default", 42.0, missing);
    let fake = normalize(fake, pid, ppid);
    let mut sim = normalize(
        in_process("default", 42.0),
        std::process::id(),
        std::os::unix::process::parent_id(),
    );
    // What the SDK shows without those functions: no temperatures, no
    // per-process utilization; everything else unchanged.
    for device in sim["devices"].as_array_mut().unwrap() {
        device["temperature"] = Value::Null;
        for mig in device["mig_devices"].as_array_mut().unwrap() {
            mig["temperature"] = Value::Null;
        }
    }
    for p in sim["processes"].as_array_mut().unwrap() {
        for key in [
            "gpu_sm_utilization",
            "gpu_memory_utilization",
            "gpu_encoder_utilization",
            "gpu_decoder_utilization",
        ] {
            p[key] = Value::Null;
        }
    }
    if let Some(diff) = first_difference(&fake, &sim) {
        panic!("older driver: fake NVML (left) and expectation (right) differ at {diff}");
    }
}

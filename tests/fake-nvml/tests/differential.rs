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
use std::time::{SystemTime, UNIX_EPOCH};

use nvitop::Snapshot;
use nvitop::backend::Backend;
use nvitop::backend::sim::scenario::{FaultField, Format};
use nvitop::backend::sim::{Scenario, SimBackend, presets};
use serde_json::Value;

use nvidia_ml::testing::{FakeLib, backend_answers, first_difference, run_ok};

/// `host:N` pids of both simulators (the preset with the most, `h100x8`,
/// needs 512 distinct ones). They need not exist: host details are not compared.
fn host_pool() -> Vec<u32> {
    (0..600).map(|i| 200_000 + i).collect()
}

/// What `fake-nvml-probe` read through the NVML backend over the fake library.
struct Probe {
    snapshot: Value,
    /// [`backend_answers`] of the NVML backend, `self`/`parent` already named.
    backend: Value,
    pid: u32,
    ppid: u32,
}

/// The snapshot and backend answers through the NVML backend over the fake library.
fn through_fake_library(lib: &FakeLib, spec: &str, time: f64) -> Probe {
    through_old_fake_library(lib, spec, time, "")
}

/// As [`through_fake_library`], with the functions in `missing`
/// (comma-separated) answering `NVML_ERROR_FUNCTION_NOT_FOUND`.
fn through_old_fake_library(lib: &FakeLib, spec: &str, time: f64, missing: &str) -> Probe {
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
    Probe {
        snapshot: out["snapshot"].take(),
        backend: out["backend"].take(),
        pid: out["pid"].as_u64().unwrap() as u32,
        ppid: out["ppid"].as_u64().unwrap() as u32,
    }
}

/// The snapshot through the simulator in this process.
fn in_process(preset: &str, time: f64) -> Value {
    in_process_scenario(presets::preset(preset).unwrap(), time).0
}

/// The snapshot and backend answers of `scenario` through the simulator in
/// this process.
fn in_process_scenario(scenario: Scenario, time: f64) -> (Value, Value) {
    let sim = SimBackend::with_host_pool(scenario, host_pool());
    sim.set_time(time);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let snapshot = Snapshot::take_all(&backend).expect("simulated snapshot");
    let answers = backend_answers(&*backend, std::process::id(), std::os::unix::process::parent_id());
    (serde_json::to_value(snapshot).unwrap(), answers)
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

fn differential(preset: &str, time: f64) -> Probe {
    let sim = in_process_scenario(presets::preset(preset).unwrap(), time);
    compare(&format!("preset {preset}"), &format!("preset:{preset}"), sim, time)
}

/// Compares what the NVML backend reads from the fake library for `spec`
/// with what the simulator answers in this process (`sim`, from
/// [`in_process_scenario`]): the snapshot field by field, then every
/// backend answer, errors included. Returns the fake library's probe.
fn compare(what: &str, spec: &str, (sim_snapshot, sim_backend): (Value, Value), time: f64) -> Probe {
    let lib = FakeLib::new();
    let probe = through_fake_library(&lib, spec, time);
    let fake = normalize(probe.snapshot.clone(), probe.pid, probe.ppid);
    let sim = normalize(sim_snapshot, std::process::id(), std::os::unix::process::parent_id());
    assert!(!sim["devices"].as_array().unwrap().is_empty());
    if let Some(diff) = first_difference(&fake, &sim) {
        panic!("{what} at t={time}: fake NVML (left) and simulator (right) differ at {diff}");
    }
    assert!(!sim_backend["devices"].as_object().unwrap().is_empty());
    let mut fake_backend = probe.backend.clone();
    let mut sim_backend = sim_backend;
    stamp_now(&mut fake_backend);
    stamp_now(&mut sim_backend);
    if let Some(diff) = first_difference(&fake_backend, &sim_backend) {
        panic!("{what} at t={time}: backend answers of fake NVML (left) and simulator (right) differ at {diff}");
    }
    probe
}

/// Replaces the timestamps of process utilization samples with `NOW`. The
/// simulator stamps samples with the real clock in whole seconds (clients
/// ask for samples newer than "a moment ago"), so two processes a second
/// apart differ there; each must still be within a minute of now.
fn stamp_now(answers: &mut Value) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
    for device in answers["devices"].as_object_mut().unwrap().values_mut() {
        // The NVLink counters' read time: the real clock, as the driver's.
        if let Some(stamp) = device["nvlink_counters"]["ok"]["timestamp_us"].as_u64() {
            assert!(
                stamp.abs_diff(now) < 60_000_000,
                "NVLink timestamp {stamp} is not now ({now})"
            );
            device["nvlink_counters"]["ok"]["timestamp_us"] = "NOW".into();
        }
        let Some(samples) = device["process_utilization"]["ok"].as_array_mut() else {
            continue;
        };
        for sample in samples {
            let stamp = sample["timestamp"].as_u64().unwrap();
            assert!(
                stamp.abs_diff(now) < 60_000_000,
                "sample timestamp {stamp} is not now ({now})"
            );
            sample["timestamp"] = "NOW".into();
        }
    }
}

/// Compares the two paths on a scenario written to a file (the fake
/// library reads it by path, the simulator from the parsed text); returns
/// the NVML backend's answers.
fn differential_scenario(what: &str, text: &str, time: f64) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    let scenario = Scenario::parse(text, Format::Toml, &path).unwrap_or_else(|e| panic!("{what}: {e}"));
    let sim = in_process_scenario(scenario, time);
    compare(what, path.to_str().unwrap(), sim, time).backend
}

/// Every field a scenario can make unsupported, with the
/// [`backend_answers`] key of the answer it turns into `NotSupported`. The
/// `match` has no wildcard, so a new `FaultField` does not compile until it
/// is listed here.
fn every_fault_field() -> Vec<(FaultField, &'static str)> {
    use FaultField as F;
    let key = |field: F| match field {
        F::MemoryInfo => "memory_info",
        F::Bar1MemoryInfo => "bar1_memory_info",
        F::UtilizationRates => "utilization_rates",
        F::EncoderUtilization => "encoder_utilization",
        F::DecoderUtilization => "decoder_utilization",
        F::FanSpeed => "fan_speed",
        F::Temperature => "temperature",
        F::PowerUsage => "power_usage",
        F::PowerLimit => "power_limit",
        F::TotalEnergyConsumption => "total_energy_consumption",
        F::PerformanceState => "performance_state",
        F::PersistenceMode => "persistence_mode",
        F::DisplayActive => "display_active",
        F::ComputeMode => "compute_mode",
        F::EccErrors => "ecc_errors_volatile_uncorrected",
        F::MigMode => "mig_mode",
        F::Clocks => "clock(Sm)",
        F::MaxClocks => "max_clock(Sm)",
        F::PcieThroughput => "pcie_throughput(Rx)",
        F::CudaComputeCapability => "cuda_compute_capability",
        F::Processes => "processes",
        F::ProcessUtilization => "process_utilization",
        F::Gpm => "gpm(sm_active)",
        F::GpmFp64 => "gpm(fp64_active)",
    };
    [
        F::MemoryInfo,
        F::Bar1MemoryInfo,
        F::UtilizationRates,
        F::EncoderUtilization,
        F::DecoderUtilization,
        F::FanSpeed,
        F::Temperature,
        F::PowerUsage,
        F::PowerLimit,
        F::TotalEnergyConsumption,
        F::PerformanceState,
        F::PersistenceMode,
        F::DisplayActive,
        F::ComputeMode,
        F::EccErrors,
        F::MigMode,
        F::Clocks,
        F::MaxClocks,
        F::PcieThroughput,
        F::CudaComputeCapability,
        F::Processes,
        F::ProcessUtilization,
        F::Gpm,
        F::GpmFp64,
    ]
    .into_iter()
    .map(|field| (field, key(field)))
    .collect()
}

/// A machine with the same faults on every GPU: a plain H100 with compute
/// and C+G processes, an A100 split into two MIG devices with a process on
/// each (faults `mig_faults` there), and a desktop RTX 4090 with a
/// graphics process.
fn faulty_machine(faults: &str, mig_faults: &str) -> String {
    format!(
        r#"seed = 17
[[gpus]]
model = "H100-SXM5-80GB"
workload = {{ profile = "training" }}
processes = [{{ pid = "host:0", memory_mib = 10_000 }}, {{ pid = "host:1", memory_mib = 2_000, type = "C+G" }}]
faults = {faults}

[[gpus]]
model = "A100-SXM4-80GB"
workload = {{ profile = "inference" }}
mig = [{{ profile = "3g.40gb" }}, {{ profile = "1g.10gb" }}]
processes = [{{ pid = "host:2", memory_mib = 9_000, mig = 0 }}, {{ pid = "host:3", memory_mib = 3_000, mig = 1 }}]
faults = {mig_faults}

[[gpus]]
model = "RTX-4090"
display_active = true
workload = {{ profile = "desktop" }}
processes = [{{ pid = "host:4", memory_mib = 400, type = "G" }}]
faults = {faults}
"#
    )
}

#[test]
fn every_unsupported_field_on_plain_mig_and_desktop_gpus() {
    let healthy = differential_scenario("no faults", &faulty_machine("{}", "{}"), 42.0);
    for (field, key) in every_fault_field() {
        let name = serde_json::to_value(field).unwrap();
        let name = name.as_str().unwrap().to_owned();
        let what = format!("not_supported = [{name:?}]");
        let faults = format!("{{ {what} }}");
        let faulty = differential_scenario(&what, &faulty_machine(&faults, &faults), 42.0);
        // Guards against two sides that agree because neither sees the
        // fault: somewhere the healthy machine answers and the faulty one
        // reads NOT_SUPPORTED back as `NotSupported`.
        let not_supported = serde_json::json!({ "err": "NotSupported" });
        let devices = faulty["devices"].as_object().unwrap();
        assert!(
            devices
                .iter()
                .any(|(d, answers)| answers[key] == not_supported && healthy["devices"][d][key]["ok"] != Value::Null),
            "{what}: no device turned `{key}` into NotSupported: {faulty}"
        );
    }
}

#[test]
fn unsupported_mig_mode_hides_the_mig_devices() {
    let faults = r#"{ not_supported = ["mig_mode"] }"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, faulty_machine(faults, faults)).unwrap();
    let lib = FakeLib::new();
    let probe = through_fake_library(&lib, path.to_str().unwrap(), 42.0);
    let gpu = &probe.backend["devices"]["1"];
    assert_eq!(gpu["mig_mode"], serde_json::json!({ "err": "NotSupported" }), "{gpu}");
    assert_eq!(gpu["mig_devices"], serde_json::json!({ "ok": [] }), "{gpu}");
    // Its processes are still listed, on the GPU itself.
    assert_eq!(gpu["processes"]["ok"].as_array().unwrap().len(), 2, "{gpu}");
    assert_eq!(probe.backend["devices"].as_object().unwrap().len(), 3);
}

#[test]
fn refused_process_lists_and_lost_gpus_with_mig() {
    let faults = "{ processes_no_permission = true, lost_at = 30.0 }";
    let text = faulty_machine(faults, faults);
    let before = differential_scenario("no permission, lost at 30 s", &text, 10.0);
    let after = differential_scenario("no permission, lost at 30 s", &text, 42.0);
    let no_permission = serde_json::json!({ "err": "NoPermission" });
    let before = before["devices"].as_object().unwrap();
    assert_eq!(before.len(), 5, "three GPUs and two MIG devices: {before:?}");
    for (device, answers) in before {
        assert_eq!(
            answers["processes"], no_permission,
            "GPU {device} refuses its processes"
        );
        assert!(
            answers["memory_info"]["ok"].is_object(),
            "GPU {device} answers the rest"
        );
    }
    // A lost GPU answers GPU_IS_LOST to everything, so its MIG devices are
    // no longer listed.
    let after = after["devices"].as_object().unwrap();
    assert_eq!(after.len(), 3, "{after:?}");
    for (device, answers) in after {
        let lost = serde_json::json!({ "err": format!("GpuLost({device})") });
        for (key, answer) in answers.as_object().unwrap() {
            assert_eq!(answer, &lost, "GPU {device} answers {key} after it is lost");
        }
    }
}

#[test]
fn nvlink_counters_and_clock_event_reasons() {
    // h100x8: 18 links per GPU, counters that moved since the start.
    for time in [5.0, 42.0] {
        let probe = differential("h100x8", time);
        let gpu0 = &probe.backend["devices"]["0"];
        let links = gpu0["nvlink_counters"]["ok"]["links"].as_array().unwrap();
        assert_eq!(links.len(), 18, "{gpu0}");
        assert!(links[0]["tx_kib"].as_u64().unwrap() > 0);
        assert!(gpu0["clock_event_reasons"]["ok"].is_u64(), "{gpu0}");
    }
    // default: no NVLink on the RTX 4090 nor on a MIG device, through both paths.
    let probe = differential("default", 42.0);
    assert_eq!(probe.backend["devices"]["3"]["nvlink_counters"]["err"], "NotSupported");
    assert_eq!(
        probe.backend["devices"]["1:0"]["nvlink_counters"]["err"],
        "NotSupported"
    );
    assert_eq!(
        probe.backend["devices"]["1:0"]["clock_event_reasons"]["err"],
        "NotSupported"
    );
}

#[test]
fn default_machine() {
    differential("default", 42.0);
}

#[test]
fn h100x8_with_64_processes_each() {
    let probe = differential("h100x8", 42.0);
    // 512 distinct pids, 64 on each GPU: the host pool is large enough.
    let processes = probe.snapshot["processes"].as_array().unwrap();
    let pids: std::collections::BTreeSet<_> = processes.iter().map(|p| p["pid"].to_string()).collect();
    assert_eq!((processes.len(), pids.len()), (512, 512));
    for gpu in ["0", "1", "2", "3", "4", "5", "6", "7"] {
        let on_gpu = processes.iter().filter(|p| p["device_index"] == gpu).count();
        assert_eq!(on_gpu, 64, "GPU {gpu}");
    }
}

#[test]
fn mig() {
    let probe = differential("mig", 42.0);
    // GPM of the H100's GPU instances (nvmlGpmMigSampleGet) was compared
    // value for value, not two equal errors; the A100's are not supported.
    let devices = &probe.backend["devices"];
    for mig in ["1:0", "1:1"] {
        for metric in nvitop::backend::GpmMetric::ALL {
            let key = format!("gpm({})", metric.key());
            assert!(
                devices[mig][&key]["ok"].is_number(),
                "{mig} {key}: {}",
                devices[mig][&key]
            );
        }
    }
    assert_eq!(
        devices["0:0"]["gpm(sm_active)"],
        serde_json::json!({ "err": "NotSupported" })
    );
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
    let fake = through_fake_library(&lib, "preset:faults", 42.0).snapshot;
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
    let fake = through_fake_library(&lib, path.to_str().unwrap(), 5.0).snapshot;
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
    let probe = through_old_fake_library(&lib, "preset:default", 42.0, missing);
    let fake = normalize(probe.snapshot, probe.pid, probe.ppid);
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

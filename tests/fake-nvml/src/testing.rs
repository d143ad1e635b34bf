//! Test support for programs that run NVML clients against the fake
//! library: locating the built library, a private copy of it named
//! `libnvidia-ml.so.1`, real processes for the simulator's `host:N` pids,
//! and comparisons. Shared by this crate's tests and the monitor's
//! end-to-end tests.
//!
//! These helpers set up test fixtures: when a fixture cannot be made (no
//! temporary directory, no `sleep` binary) the test cannot run, so they
//! panic with the reason rather than return errors every caller would
//! unwrap anyway.
#![allow(clippy::expect_used, clippy::missing_panics_doc, clippy::new_without_default)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use nvitop::backend::{
    Backend, BackendError, BackendResult, ClockKind, DeviceRef, GpmMetric, PcieDirection, ProcessUtilization,
};
use serde_json::Value;

/// File name of the built cdylib.
pub const CDYLIB: &str = "libnvidia_ml.so";
/// The name clients load.
pub const SONAME: &str = "libnvidia-ml.so.1";

/// The built fake library, found next to the test executable:
/// `target/<profile>/deps/<test>-<hash>` → `target/<profile>/libnvidia_ml.so`.
pub fn built_cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(3).map(|dir| dir.join(CDYLIB)).collect();
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!(
            "the fake NVML cdylib was not built; looked for {candidates:?} (run `cargo build -p fake-nvml` / `cargo test -p fake-nvml`)"
        )
    })
}

/// A temporary directory holding a private copy of the fake library as
/// `libnvidia-ml.so.1` (a copy, so each test loads its own instance and a
/// rebuild cannot change it underfoot).
pub struct FakeLib {
    dir: tempfile::TempDir,
}

impl FakeLib {
    /// Copies the built library into a new temporary directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fake-nvml-")
            .tempdir()
            .expect("temp dir");
        std::fs::copy(built_cdylib(), dir.path().join(SONAME)).expect("copy the fake library");
        Self { dir }
    }

    /// Directory to put on `LD_LIBRARY_PATH`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Full path of `libnvidia-ml.so.1`.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(SONAME)
    }
}

/// Children that hold real pids for the simulator's `host:N` processes, so
/// third-party clients (which look processes up with psutil) find them.
pub struct PidPool {
    children: Vec<Child>,
}

impl PidPool {
    /// Starts `n` sleeping children.
    pub fn spawn(n: usize) -> Self {
        let children = (0..n)
            .map(|_| {
                Command::new("sleep")
                    .arg("600")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("spawn sleep")
            })
            .collect();
        Self { children }
    }

    /// Their pids, in start order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Waits (up to a few seconds) until every child sleeps: past `exec`
    /// and its dynamic loader, so what the host says of it (its resident
    /// memory above all) holds still between two readers.
    pub fn wait_until_asleep(&self) {
        for pid in self.pids() {
            for _ in 0..1000 {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next());
                if state == Some("S") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }

    /// The value of `NVITOP_SIM_HOST_PIDS`.
    pub fn env_value(&self) -> String {
        self.pids().iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }
}

impl Drop for PidPool {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `cmd` to the end with both streams captured and returns its output
/// and its pid (the simulator's `self` when the program simulates); panics,
/// showing `what`, the exit status and both streams, when it fails.
pub fn run_ok(cmd: &mut Command, what: &str) -> (Output, u32) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    let pid = child.id();
    let out = child.wait_with_output().unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, pid)
}

/// The Python script that prints what nvitop's API reports (run it with
/// `python -c`; read its output with [`NvitopApi::parse`]).
pub const NVITOP_API_SCRIPT: &str = include_str!("../../conformance/nvitop_api.py");

/// One device as nvitop's API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiDevice {
    /// `Device.name()`.
    pub name: String,
    /// Bytes.
    pub memory_used: u64,
    /// Bytes.
    pub memory_total: u64,
    /// Percent, `None` for N/A.
    pub gpu_utilization: Option<u64>,
    /// Celsius, `None` for N/A.
    pub temperature: Option<u64>,
    /// pid → GPU memory in bytes (`None` for N/A).
    pub processes: BTreeMap<u32, Option<u64>>,
}

/// The output of [`NVITOP_API_SCRIPT`].
#[derive(Debug)]
pub struct NvitopApi {
    /// The script's own pid (the simulator's `self` process).
    pub pid: u32,
    /// Every device, MIG devices too, by display index (`0`, `1:0`).
    pub devices: BTreeMap<String, ApiDevice>,
}

impl NvitopApi {
    /// Parses the script's standard output.
    pub fn parse(stdout: &[u8]) -> Self {
        let api: Value = serde_json::from_slice(stdout).expect("nvitop API JSON");
        let devices = api["devices"]
            .as_array()
            .expect("devices")
            .iter()
            .map(|d| {
                let index = match &d["index"] {
                    Value::Array(parts) => format!("{}:{}", parts[0], parts[1]),
                    other => other.to_string(),
                };
                let processes = d["processes"]
                    .as_object()
                    .expect("processes")
                    .iter()
                    .map(|(pid, mem)| (pid.parse().expect("pid"), mem.as_u64()))
                    .collect();
                let device = ApiDevice {
                    name: d["name"].as_str().expect("name").to_owned(),
                    memory_used: d["memory_used"].as_u64().expect("memory_used"),
                    memory_total: d["memory_total"].as_u64().expect("memory_total"),
                    gpu_utilization: d["gpu_utilization"].as_u64(),
                    temperature: d["temperature"].as_u64(),
                    processes,
                };
                (index, device)
            })
            .collect();
        let pid = api["pid"].as_u64().and_then(|p| u32::try_from(p).ok()).expect("pid");
        Self { pid, devices }
    }
}

/// The first place two JSON values differ, as a path like
/// `devices[2].memory_used: 123 != 456`; `None` when equal.
pub fn first_difference(left: &Value, right: &Value) -> Option<String> {
    fn walk(path: &str, a: &Value, b: &Value) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                keys.into_iter().find_map(|k| {
                    let sub = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&sub, x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null))
                })
            }
            (Value::Array(x), Value::Array(y)) => {
                if let Some(diff) = x
                    .iter()
                    .zip(y)
                    .enumerate()
                    .find_map(|(i, (p, q))| walk(&format!("{path}[{i}]"), p, q))
                {
                    return Some(diff);
                }
                (x.len() != y.len()).then(|| format!("{path}: length {} != {}", x.len(), y.len()))
            }
            _ => (a != b).then(|| format!("{path}: {a} != {b}")),
        }
    }
    walk("", left, right)
}

/// Every answer of `backend`, method by method and device by device (MIG
/// devices too), as JSON: `{"ok": value}` or `{"err": kind}`, where the
/// kind is the [`BackendError`] variant (and the device of a lost GPU), not
/// its message, which names the backend. The pids `own` and `parent` read
/// `SELF` and `PARENT`, because each process simulating a machine binds the
/// scenario's `self` and `parent` to its own.
///
/// This is finer than a [`Snapshot`](nvitop::Snapshot): it keeps the
/// error kinds a snapshot folds into `None`, and the answers a snapshot does
/// not carry (BAR1, every clock domain, look-ups by UUID and bus id).
pub fn backend_answers(backend: &dyn Backend, own: u32, parent: u32) -> Value {
    // `{"ok": value}` or `{"err": kind}` of one backend result.
    macro_rules! answer {
        ($result:expr) => {
            answer_value(($result).map(|value| serde_json::json!(value)))
        };
    }
    let pid = |pid: u32| -> Value {
        if pid == own {
            "SELF".into()
        } else if pid == parent {
            "PARENT".into()
        } else {
            pid.into()
        }
    };
    let mut system = serde_json::Map::new();
    system.insert("driver_version".into(), answer!(backend.driver_version()));
    system.insert("nvml_version".into(), answer!(backend.nvml_version()));
    system.insert("cuda_driver_version".into(), answer!(backend.cuda_driver_version()));
    system.insert("device_count".into(), answer!(backend.device_count()));
    let mut devices = serde_json::Map::new();
    let count = backend.device_count().unwrap_or(0);
    for index in 0..count {
        let physical = DeviceRef::Physical(index);
        let migs = backend.mig_devices(physical);
        let all = std::iter::once(physical).chain(migs.clone().unwrap_or_default());
        for device in all {
            let mut d = serde_json::Map::new();
            let mut put = |key: &str, value: Value| {
                d.insert(key.to_owned(), value);
            };
            put("name", answer!(backend.name(device)));
            let uuid = backend.uuid(device);
            if let Ok(uuid) = &uuid {
                put("device_by_uuid", answer!(backend.device_by_uuid(uuid)));
            }
            put("uuid", answer!(uuid));
            let bus_id = backend.bus_id(device);
            if let (Ok(bus_id), DeviceRef::Physical(_)) = (&bus_id, device) {
                put("device_by_bus_id", answer!(backend.device_by_bus_id(bus_id)));
            }
            put("bus_id", answer!(bus_id));
            put("memory_info", answer!(backend.memory_info(device)));
            put("bar1_memory_info", answer!(backend.bar1_memory_info(device)));
            put("utilization_rates", answer!(backend.utilization_rates(device)));
            put("encoder_utilization", answer!(backend.encoder_utilization(device)));
            put("decoder_utilization", answer!(backend.decoder_utilization(device)));
            put("fan_speed", answer!(backend.fan_speed(device)));
            put("temperature", answer!(backend.temperature(device)));
            put("power_usage", answer!(backend.power_usage(device)));
            put("power_limit", answer!(backend.power_limit(device)));
            put(
                "total_energy_consumption",
                answer!(backend.total_energy_consumption(device)),
            );
            put("performance_state", answer!(backend.performance_state(device)));
            put("persistence_mode", answer!(backend.persistence_mode(device)));
            put("display_active", answer!(backend.display_active(device)));
            put("compute_mode", answer!(backend.compute_mode(device)));
            put(
                "ecc_errors_volatile_uncorrected",
                answer!(backend.ecc_errors_volatile_uncorrected(device)),
            );
            put("mig_mode", answer!(backend.mig_mode(device)));
            for kind in [ClockKind::Graphics, ClockKind::Sm, ClockKind::Memory, ClockKind::Video] {
                put(&format!("clock({kind:?})"), answer!(backend.clock(device, kind)));
                put(
                    &format!("max_clock({kind:?})"),
                    answer!(backend.max_clock(device, kind)),
                );
            }
            for direction in [PcieDirection::Rx, PcieDirection::Tx] {
                put(
                    &format!("pcie_throughput({direction:?})"),
                    answer!(backend.pcie_throughput(device, direction)),
                );
            }
            put(
                "cuda_compute_capability",
                answer!(backend.cuda_compute_capability(device)),
            );
            // Sorted by the named pid: `SELF` and `PARENT` are different
            // numbers in the two readers compared, and once pids wrap a
            // child's can be below its parent's.
            let processes = backend.processes(device).map(|mut list| {
                list.sort_by_key(|p| (pid(p.pid).to_string(), p.gpu_instance_id, p.compute_instance_id));
                list.iter()
                    .map(|p| {
                        let mut v = serde_json::to_value(p).expect("a process serializes");
                        v["pid"] = pid(p.pid);
                        v
                    })
                    .collect::<Vec<_>>()
            });
            put("processes", answer!(processes));
            // Each pid's newest sample, as readers use them: the two sides
            // started their sample buffers at different moments, so the
            // number of periods each holds differs; at a pinned time every
            // period of one process holds the same values.
            let samples = backend.process_utilization(device, 0).map(|list| {
                let mut newest: Vec<ProcessUtilization> = Vec::new();
                for s in list {
                    match newest.iter_mut().find(|n| n.pid == s.pid) {
                        Some(n) if s.timestamp >= n.timestamp => *n = s,
                        Some(_) => {}
                        None => newest.push(s),
                    }
                }
                newest.sort_by_key(|s| pid(s.pid).to_string());
                newest
                    .iter()
                    .map(|s| {
                        let mut v = serde_json::to_value(s).expect("a sample serializes");
                        v["pid"] = pid(s.pid);
                        v
                    })
                    .collect::<Vec<_>>()
            });
            put("process_utilization", answer!(samples));
            put("gpm_supported", answer!(backend.gpm_supported(device)));
            // Two samples at one (pinned) instant: the rates at that instant.
            let gpm = gpm_between_two_samples(backend, device);
            for (i, metric) in GpmMetric::ALL.iter().enumerate() {
                let value = gpm.clone().and_then(|values| {
                    values
                        .get(i)
                        .cloned()
                        .unwrap_or(Err(BackendError::Other("metric missing".into())))
                });
                put(&format!("gpm({})", metric.key()), answer!(value));
            }
            // NVLink counters (read at each reader's own moment: tests
            // compare their timestamp as `NOW`) and clock event reasons.
            put("nvlink_counters", answer!(backend.nvlink_counters(device)));
            put("clock_event_reasons", answer!(backend.clock_event_reasons(device)));
            if device == physical {
                put("mig_devices", answer!(migs.clone()));
            }
            devices.insert(device.to_string(), Value::Object(d));
        }
    }
    serde_json::json!({ "system": system, "devices": devices })
}

/// Every [`GpmMetric`] between two samples taken back to back; both
/// samples are freed whatever happens.
pub fn gpm_between_two_samples(backend: &dyn Backend, device: DeviceRef) -> BackendResult<Vec<BackendResult<f64>>> {
    let first = backend.gpm_sample(device)?;
    let values = backend.gpm_sample(device).and_then(|second| {
        let values = backend.gpm_metrics(first, second, &GpmMetric::ALL);
        backend.gpm_sample_free(second).expect("a sample just taken frees");
        values
    });
    backend.gpm_sample_free(first).expect("a sample just taken frees");
    values
}

/// One answer of [`backend_answers`], its value already JSON.
fn answer_value(result: BackendResult<Value>) -> Value {
    match result {
        Ok(value) => serde_json::json!({ "ok": value }),
        Err(err) => {
            // The variant only: messages name the backend (and NVML's own
            // wording), which is not what the comparison is about.
            let kind = match err {
                BackendError::NotSupported => "NotSupported".to_owned(),
                BackendError::NoPermission => "NoPermission".to_owned(),
                BackendError::GpuLost { device } => format!("GpuLost({device})"),
                BackendError::NotFound { .. } => "NotFound".to_owned(),
                BackendError::LibraryNotFound { .. } => "LibraryNotFound".to_owned(),
                BackendError::NotALibrary { .. } => "NotALibrary".to_owned(),
                BackendError::NotAnNvmlLibrary { .. } => "NotAnNvmlLibrary".to_owned(),
                BackendError::DriverNotLoaded { .. } => "DriverNotLoaded".to_owned(),
                BackendError::FunctionNotFound => "FunctionNotFound".to_owned(),
                BackendError::Other(_) => "Other".to_owned(),
                // A kind a later SDK adds (the enum is non_exhaustive).
                _ => format!("{err:?}"),
            };
            serde_json::json!({ "err": kind })
        }
    }
}

/// Checks a size as nvitop prints it (`8001MiB`, `400.0MiB`, `20.51GiB`)
/// against a byte count, to the precision printed.
pub fn assert_printed_size(shown: &str, bytes: u64, what: &str) {
    let at = shown
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or_else(|| panic!("{what}: {shown:?} has no unit"));
    let (number, unit) = shown.split_at(at);
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => (1u64 << 20) as f64,
        "GiB" => (1u64 << 30) as f64,
        "TiB" => (1u64 << 40) as f64,
        other => panic!("{what}: unknown unit {other:?} in {shown:?}"),
    };
    let value: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("{what}: bad number in {shown:?}"));
    let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
    // Half a unit of the last printed digit, plus truncation slack.
    let tolerance = scale * 10f64.powi(-(decimals as i32)) + 1.0;
    let got = value * scale;
    assert!(
        (got - bytes as f64).abs() <= tolerance,
        "{what}: nvitop shows {shown:?} ({got} B), the SDK has {bytes} B"
    );
}

/// The Python interpreter for conformance tests against third-party NVML
/// clients, checked to import `modules`; `None` (after a note) when
/// `NVITOP_CONFORMANCE_PYTHON` is unset, so a plain `cargo test` needs no
/// Python. With `NVITOP_CONFORMANCE=1` the variable is required, and once an
/// interpreter is named a missing module is a failure, never a skip (as in
/// `.ci/conformance`).
pub fn conformance_python(modules: &[&str]) -> Option<PathBuf> {
    let required = std::env::var("NVITOP_CONFORMANCE").is_ok_and(|v| v == "1");
    let Some(python) = std::env::var_os("NVITOP_CONFORMANCE_PYTHON") else {
        assert!(
            !required,
            "NVITOP_CONFORMANCE=1 but NVITOP_CONFORMANCE_PYTHON is not set (a venv python with \
             tests/conformance/requirements.txt installed)"
        );
        eprintln!("note: NVITOP_CONFORMANCE_PYTHON is not set; skipping the tests with Python NVML clients");
        return None;
    };
    let python = PathBuf::from(python);
    let check = format!(
        "import {}; print(' '.join(m.__name__ + '=' + str(getattr(m, '__version__', '?')) for m in [{}]))",
        modules.join(", "),
        modules.join(", ")
    );
    let out = Command::new(&python)
        .args(["-c", &check])
        .output()
        .unwrap_or_else(|err| panic!("cannot run NVITOP_CONFORMANCE_PYTHON={}: {err}", python.display()));
    assert!(
        out.status.success(),
        "NVITOP_CONFORMANCE_PYTHON={} cannot import {}: {}",
        python.display(),
        modules.join("/"),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("Python clients: {}", String::from_utf8_lossy(&out.stdout).trim());
    Some(python)
}

//! Conformance with third-party NVML clients: Python `nvitop` 1.7.2 (its
//! `--once` printer and its `from nvitop import Device` API) and
//! `gpustat --json` 1.1.1, both over `nvidia-ml-py` 12.575.51, pointed at
//! the fake library, report what our SDK reports from the same scenario at
//! the same simulated time: GPU count, names, memory used/total, GPU
//! utilization, temperatures, process pids and their GPU memory.
//!
//! The Python interpreter comes from `NVITOP_CONFORMANCE_PYTHON` (a venv
//! with `nvitop==1.7.2 gpustat==1.1.1 nvidia-ml-py==12.575.51`). Without it
//! the tests print a note and pass, so a plain `cargo test` needs no Python,
//! unless `NVITOP_CONFORMANCE=1` is set: then they fail. An interpreter that
//! is named but lacks the clients always fails them.
//!
//! The simulated processes are bound to real child processes (`sleep`),
//! because both clients look every pid up on the host and drop those they
//! cannot find. The test scenario has no MIG devices; the nvitop API is
//! also checked on the `mig` and `default` presets, and `nvitop --once` on
//! the `faults` preset (a lost GPU shown as all N/A, unsupported fields as
//! N/A, a refused process list, an exited process) and on the `default`
//! preset (an A100 with three MIG devices). Its MIG rows show
//! each instance's BAR1 usage, which NVML answers on MIG device handles;
//! without it nvitop 1.7.2 stops with
//! `KeyError: 'bar1_memory_percent_string'`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use nvitop::Snapshot;
use nvitop::backend::Backend;
use nvitop::backend::sim::{Scenario, SimBackend, presets};
use serde_json::Value;

use nvidia_ml::testing::{
    FakeLib, NVITOP_API_SCRIPT, NvitopApi, PidPool, assert_printed_size, conformance_python, run_ok,
};

const SIM_TIME: f64 = 42.0;
const MIB: u64 = 1 << 20;

/// Three GPUs, no MIG: a training H100 with two processes, an inference
/// A100, and a desktop RTX 4090 with a graphics and a compute+graphics process.
const SCENARIO: &str = r#"
driver_version = "560.35.03"
cuda_driver_version = "12.6"
seed = 5

[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training" }
processes = [{ pid = "host:0", memory_mib = 20_000 }, { pid = "host:1", memory_mib = 1_000 }]

[[gpus]]
model = "A100-SXM4-80GB"
workload = { profile = "inference" }
processes = [{ pid = "host:2", memory_mib = 8_000 }]

[[gpus]]
model = "RTX-4090"
display_active = true
workload = { profile = "desktop" }
processes = [{ pid = "host:3", memory_mib = 400, type = "G" }, { pid = "host:4", memory_mib = 2_000, type = "C+G" }]
"#;

/// The environment every client runs in.
struct Setup {
    lib: FakeLib,
    pool: PidPool,
    scenario: PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let scenario = dir.path().join("scenario.toml");
        std::fs::write(&scenario, SCENARIO).unwrap();
        Self {
            lib: FakeLib::new(),
            pool: PidPool::spawn(16),
            scenario,
            _dir: dir,
        }
    }

    /// Runs a client with the fake library and the scenario.
    fn run(&self, python: &Path, spec: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(python);
        cmd.args(args)
            .env("LD_LIBRARY_PATH", self.lib.dir())
            .env("NVITOP_SIM_SCENARIO", spec)
            .env("NVITOP_SIM_TIME", SIM_TIME.to_string())
            .env("NVITOP_SIM_HOST_PIDS", self.pool.env_value())
            .env("COLUMNS", "200")
            .env_remove("NVITOP_SIMULATE");
        run_ok(&mut cmd, &format!("{args:?}")).0
    }

    fn spec(&self) -> String {
        self.scenario.to_string_lossy().into_owned()
    }

    /// What our SDK reports for the same scenario and time.
    fn expected(&self, scenario: Scenario) -> Expected {
        let sim = SimBackend::with_host_pool(scenario, self.pool.pids());
        sim.set_time(SIM_TIME);
        let backend: Arc<dyn Backend> = Arc::new(sim);
        Expected::from(&Snapshot::take_all(&backend).unwrap())
    }
}

/// One device row as the clients are compared on.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    memory_used: u64,
    memory_total: u64,
    gpu_utilization: Option<u32>,
    temperature: Option<u32>,
    /// pid → GPU memory, bytes.
    processes: BTreeMap<u32, Option<u64>>,
}

/// Rows by display index (`0`, `1:0`).
#[derive(Debug)]
struct Expected {
    rows: BTreeMap<String, Row>,
    /// By display index, the fields of nvitop's device panel the SDK
    /// reports as N/A.
    not_available: BTreeMap<String, Vec<&'static str>>,
    /// Display indices of GPUs the SDK reports lost (no values at all).
    lost: Vec<String>,
}

impl From<&Snapshot> for Expected {
    fn from(snap: &Snapshot) -> Self {
        let mut rows = BTreeMap::new();
        let mut not_available = BTreeMap::new();
        let mut lost = Vec::new();
        for d in snap
            .devices
            .iter()
            .flat_map(|d| std::iter::once(d).chain(&d.mig_devices))
        {
            if d.error.is_some() {
                lost.push(d.display_index.to_string());
                continue;
            }
            // What nvitop's device panel shows: two lines per GPU, one line
            // (name, memory and BAR1) per MIG device.
            let shown = if d.mig_index.is_some() {
                vec![
                    ("memory_used", d.memory_used.is_some()),
                    ("memory_total", d.memory_total.is_some()),
                ]
            } else {
                vec![
                    ("name", d.name.is_some()),
                    ("persistence_mode", d.persistence_mode.is_some()),
                    ("bus_id", d.bus_id.is_some()),
                    ("display_active", d.display_active.is_some()),
                    ("mig_mode", d.mig_mode.is_some()),
                    ("uncorrected_ecc", d.total_volatile_uncorrected_ecc_errors.is_some()),
                    ("fan_speed", d.fan_speed.is_some()),
                    ("temperature", d.temperature.is_some()),
                    ("performance_state", d.performance_state.is_some()),
                    ("power_usage", d.power_usage.is_some()),
                    ("power_limit", d.power_limit.is_some()),
                    ("memory_used", d.memory_used.is_some()),
                    ("memory_total", d.memory_total.is_some()),
                    ("gpu_utilization", d.gpu_utilization.is_some()),
                    ("compute_mode", d.compute_mode.is_some()),
                ]
            };
            not_available.insert(
                d.display_index.to_string(),
                shown.into_iter().filter(|&(_, known)| !known).map(|(f, _)| f).collect(),
            );
            rows.insert(
                d.display_index.to_string(),
                Row {
                    name: d.name.clone().unwrap(),
                    memory_used: d.memory_used.unwrap(),
                    memory_total: d.memory_total.unwrap(),
                    gpu_utilization: d.gpu_utilization,
                    temperature: d.temperature,
                    processes: BTreeMap::new(),
                },
            );
        }
        for p in &snap.processes {
            rows.get_mut(&p.device_index.to_string())
                .unwrap()
                .processes
                .insert(p.pid, p.gpu_memory);
            // The SDK attributes a MIG process to its MIG device; NVML (and
            // so any client) also lists it on the parent GPU.
            if p.device_index.is_mig() {
                let parent = p.device_index.parent().to_string();
                rows.get_mut(&parent).unwrap().processes.insert(p.pid, p.gpu_memory);
            }
        }
        Self {
            rows,
            not_available,
            lost,
        }
    }
}

fn scenario_of(text: &str) -> Scenario {
    Scenario::parse(
        text,
        nvitop::backend::sim::scenario::Format::Toml,
        Path::new("third-party.toml"),
    )
    .unwrap()
}

#[test]
fn nvitop_api_reports_what_the_sdk_reports() {
    let Some(python) = conformance_python(&["nvitop", "gpustat", "pynvml"]) else {
        return;
    };
    for preset in [None, Some("mig"), Some("default")] {
        let setup = Setup::new();
        let (spec, scenario) = match preset {
            None => (setup.spec(), scenario_of(SCENARIO)),
            Some(name) => (format!("preset:{name}"), presets::preset(name).unwrap()),
        };
        let expected = setup.expected(scenario);
        let out = setup.run(&python, &spec, &["-c", NVITOP_API_SCRIPT]);
        let mut got: BTreeMap<String, Row> = NvitopApi::parse(&out.stdout)
            .devices
            .into_iter()
            .map(|(index, d)| {
                let row = Row {
                    name: d.name,
                    memory_used: d.memory_used,
                    memory_total: d.memory_total,
                    gpu_utilization: d.gpu_utilization.map(|v| v as u32),
                    temperature: d.temperature.map(|v| v as u32),
                    processes: d.processes,
                };
                (index, row)
            })
            .collect();
        let mut want = expected.rows.clone();
        // The clients cannot see processes whose pid does not exist on this
        // host (the `gone` pid of a preset) nor the clients' own `self` /
        // `parent` pids as ours: compare only pids both sides could know.
        let own = [std::process::id(), std::os::unix::process::parent_id()];
        for row in want.values_mut() {
            row.processes
                .retain(|pid, _| setup.pool.pids().contains(pid) && !own.contains(pid));
        }
        for row in got.values_mut() {
            row.processes.retain(|pid, _| setup.pool.pids().contains(pid));
        }
        assert_eq!(got, want, "nvitop API vs SDK for {spec}");
    }
}

#[test]
fn gpustat_json_reports_what_the_sdk_reports() {
    let Some(python) = conformance_python(&["nvitop", "gpustat", "pynvml"]) else {
        return;
    };
    let setup = Setup::new();
    let expected = setup.expected(scenario_of(SCENARIO));
    let out = setup.run(&python, &setup.spec(), &["-m", "gpustat", "--json"]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("gpustat JSON");
    let gpus = json["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), expected.rows.len(), "GPU count");
    assert_eq!(json["driver_version"], "560.35.03");
    for g in gpus {
        let index = g["index"].to_string();
        let want = &expected.rows[&index];
        assert_eq!(g["name"], want.name.as_str(), "GPU {index} name");
        // gpustat reports memory in MiB, rounded down.
        assert_eq!(
            g["memory.used"].as_u64(),
            Some(want.memory_used / MIB),
            "GPU {index} memory.used"
        );
        assert_eq!(
            g["memory.total"].as_u64(),
            Some(want.memory_total / MIB),
            "GPU {index} memory.total"
        );
        assert_eq!(
            g["utilization.gpu"].as_u64(),
            want.gpu_utilization.map(u64::from),
            "GPU {index} utilization"
        );
        assert_eq!(
            g["temperature.gpu"].as_u64(),
            want.temperature.map(u64::from),
            "GPU {index} temperature"
        );
        let got: BTreeMap<u32, Option<u64>> = g["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["pid"].as_u64().unwrap() as u32, p["gpu_memory_usage"].as_u64()))
            .collect();
        let want_processes: BTreeMap<u32, Option<u64>> = want
            .processes
            .iter()
            .map(|(&pid, &mem)| (pid, mem.map(|m| m / MIB)))
            .collect();
        assert_eq!(got, want_processes, "GPU {index} processes");
    }
}

#[test]
fn nvitop_once_prints_what_the_sdk_reports() {
    let Some(python) = conformance_python(&["nvitop", "gpustat", "pynvml"]) else {
        return;
    };
    // `faults` at SIM_TIME: GPU 3 is lost, GPU 1 lacks some fields, GPU 2
    // refuses its process list, GPU 0 has an exited process and one
    // without a memory figure.
    for preset in [None, Some("default"), Some("faults")] {
        let setup = Setup::new();
        let (spec, scenario) = match preset {
            None => (setup.spec(), scenario_of(SCENARIO)),
            Some(name) => (format!("preset:{name}"), presets::preset(name).unwrap()),
        };
        let expected = setup.expected(scenario);
        if preset == Some("faults") {
            // The faults this preset is here for are in effect at SIM_TIME.
            assert_eq!(expected.lost, ["3"]);
            assert!(expected.not_available["1"].contains(&"temperature"));
            assert!(expected.rows["2"].processes.is_empty());
        }
        let script = "import sys; from nvitop.cli import main; sys.argv = ['nvitop', '--once']; sys.exit(main())";
        let out = setup.run(&python, &spec, &["-c", script]);
        check_once_output(
            &String::from_utf8_lossy(&out.stdout),
            &out.stderr,
            &expected,
            &setup,
            &spec,
        );
    }
}

/// Checks `nvitop --once` output against what the SDK reports.
fn check_once_output(text: &str, stderr: &[u8], expected: &Expected, setup: &Setup, spec: &str) {
    // No NVML error (nor any other) reaches the user.
    let stderr = String::from_utf8_lossy(stderr);
    assert!(
        stderr.trim().is_empty(),
        "{spec}: nvitop wrote to stderr:\n{stderr}\n{text}"
    );
    for bad in ["NVML", "Error", "ERROR", "Traceback", "Exception"] {
        assert!(!text.contains(bad), "{spec}: {bad:?} in the output:\n{text}");
    }
    assert!(text.contains("Driver Version: 560.35.03"), "{text}");
    assert!(text.contains("CUDA Driver Version: 12.6"), "{text}");
    // Device panel: two lines per GPU, between the header and the host bars.
    let physical = expected.rows.keys().filter(|i| !i.contains(':')).count();
    let device_lines: Vec<&str> = text.lines().filter(|l| l.contains("00000000:")).collect();
    assert_eq!(device_lines.len(), physical, "{spec}: one device row per GPU:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    let starts_with_index =
        |l: &str, index: &str| l.trim_start_matches('│').trim_start().starts_with(&format!("{index} "));
    // A GPU the SDK reports lost: nvitop shows its two lines with nothing
    // but N/A (and the `/` of usage/limit pairs).
    for index in &expected.lost {
        let at = lines
            .iter()
            .position(|l| starts_with_index(l, index) && l.contains("N/A"))
            .unwrap_or_else(|| panic!("{spec}: no device line for lost GPU {index}:\n{text}"));
        let values = |line: &str| -> Vec<String> {
            table_part(line)
                .split(['│', ' '])
                .filter(|t| !t.is_empty() && *t != "/")
                .map(str::to_owned)
                .collect()
        };
        let first = values(lines[at]);
        assert_eq!(first[0], *index);
        assert!(
            first[1..].iter().chain(&values(lines[at + 1])).all(|v| v == "N/A"),
            "{spec}: lost GPU {index} shows values:\n{}\n{}",
            lines[at],
            lines[at + 1]
        );
    }
    for (index, row) in &expected.rows {
        let not_available = &expected.not_available[index];
        if index.contains(':') {
            // A MIG device: `│ 1:0   3g.40gb @ GI/CI: 1/0 │ used / total │ BAR1: used / % │`.
            let line = lines
                .iter()
                .find(|l| starts_with_index(l, index) && l.contains("GI/CI"))
                .unwrap_or_else(|| panic!("{spec}: no device line for MIG device {index}:\n{text}"));
            let profile = row.name.rsplit(' ').next().unwrap();
            assert!(
                line.contains(profile),
                "{spec}: MIG {index} profile {profile:?} in {line:?}"
            );
            assert!(line.contains("BAR1:"), "{spec}: MIG {index} BAR1 in {line:?}");
            assert_eq!(
                table_part(line).matches("N/A").count(),
                not_available.len(),
                "{spec}: MIG {index} shows N/A where the SDK has {not_available:?}: {line:?}"
            );
            check_memory_cell(line, row, index);
            continue;
        }
        let at = lines
            .iter()
            .position(|l| starts_with_index(l, index) && l.contains("00000000:"))
            .unwrap_or_else(|| panic!("{spec}: no device line for GPU {index}:\n{text}"));
        let (first, second) = (lines[at], lines[at + 1]);
        // nvitop drops the "NVIDIA " prefix from names.
        let short = row.name.trim_start_matches("NVIDIA ");
        assert!(first.contains(short), "GPU {index} name {short:?} in {first:?}");
        // N/A exactly where the SDK has no value.
        assert_eq!(
            table_part(first).matches("N/A").count() + table_part(second).matches("N/A").count(),
            not_available.len(),
            "{spec}: GPU {index} shows N/A where the SDK has {not_available:?}:\n{first}\n{second}"
        );
        if let Some(t) = row.temperature {
            assert!(
                second.contains(&format!(" {t}C ")),
                "GPU {index} temperature {t} in {second:?}"
            );
        }
        if let Some(u) = row.gpu_utilization {
            assert!(
                second.contains(&format!(" {u}% ")),
                "GPU {index} utilization {u} in {second:?}"
            );
        }
        check_memory_cell(second, row, index);
    }
    // Process panel: every pid, on its GPU (a MIG process on its MIG
    // device only), with its memory. Only pids the client can see on this
    // host are checked.
    for (index, row) in &expected.rows {
        let mig_parent = expected.rows.keys().any(|i| i.starts_with(&format!("{index}:")));
        for (pid, mem) in &row.processes {
            if mig_parent || !setup.pool.pids().contains(pid) {
                continue;
            }
            let line = lines
                .iter()
                .find(|l| {
                    let cols: Vec<&str> = l.trim_matches('│').split_whitespace().collect();
                    cols.len() > 2 && cols[0] == index && cols[1] == pid.to_string()
                })
                .unwrap_or_else(|| panic!("{spec}: no process line for pid {pid} on GPU {index}:\n{text}"));
            if let Some(mem) = mem {
                let shown = line
                    .trim_matches('│')
                    .split_whitespace()
                    .find(|t| t.ends_with("iB"))
                    .unwrap_or_else(|| panic!("pid {pid}: no memory in {line:?}"));
                assert_printed_size(shown, *mem, &format!("pid {pid} GPU memory"));
            }
        }
    }
}

/// The three cells of nvitop's device table on a line (a wide terminal
/// adds gauges to their right).
fn table_part(line: &str) -> String {
    line.split('│').take(4).collect::<Vec<_>>().join("│")
}

/// Checks the first `used / total` cell of a device line.
fn check_memory_cell(line: &str, row: &Row, index: &str) {
    let memory_cell = line
        .split('│')
        .find(|cell| cell.contains(" / ") && cell.contains("iB"))
        .unwrap_or_else(|| panic!("GPU {index}: no memory cell in {line:?}"));
    let (used, total) = memory_cell.trim().split_once(" / ").unwrap();
    assert_printed_size(used.trim(), row.memory_used, &format!("GPU {index} memory used"));
    assert_printed_size(total.trim(), row.memory_total, &format!("GPU {index} memory total"));
}

/// Runs a client with `pynvml`'s symbol look-up traced: every NVML function
/// it asks for is appended to `trace` (one name a line, `!` in front when
/// the library lacks it).
const TRACE_PRELUDE: &str = r#"
import os, sys, pynvml
_orig = pynvml._nvmlGetFunctionPointer
def _traced(name):
    try:
        f = _orig(name)
        missing = False
        return f
    except pynvml.NVMLError_FunctionNotFound:
        missing = True
        raise
    finally:
        with open(os.environ["FAKE_NVML_TRACE"], "a") as out:
            out.write(("!" if missing else "") + name + "\n")
pynvml._nvmlGetFunctionPointer = _traced
"#;

#[test]
fn clients_find_every_function_they_look_up() {
    let Some(python) = conformance_python(&["nvitop", "gpustat", "pynvml"]) else {
        return;
    };
    let setup = Setup::new();
    let trace = setup.scenario.with_file_name("trace.txt");
    let runs: [(&str, String); 3] = [
        (
            "nvitop --once",
            "import sys; from nvitop.cli import main; sys.argv = ['nvitop', '--once']; sys.exit(main())".to_owned(),
        ),
        ("nvitop API", NVITOP_API_SCRIPT.to_owned()),
        (
            "gpustat --json",
            "import sys; from gpustat import main; sys.argv = ['gpustat', '--json']; sys.exit(main())".to_owned(),
        ),
    ];
    let mut all = std::collections::BTreeSet::new();
    for (what, script) in runs {
        let _ = std::fs::remove_file(&trace);
        let code = format!("{TRACE_PRELUDE}\n{script}");
        let out = Command::new(&python)
            .args(["-c", &code])
            .env("LD_LIBRARY_PATH", setup.lib.dir())
            .env("NVITOP_SIM_SCENARIO", setup.spec())
            .env("NVITOP_SIM_TIME", SIM_TIME.to_string())
            .env("NVITOP_SIM_HOST_PIDS", setup.pool.env_value())
            .env("FAKE_NVML_TRACE", &trace)
            .env_remove("NVITOP_SIMULATE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        let names = std::fs::read_to_string(&trace).unwrap_or_default();
        let missing: Vec<&str> = names.lines().filter_map(|l| l.strip_prefix('!')).collect();
        assert!(
            missing.is_empty(),
            "{what} looked up functions the fake library lacks: {missing:?}"
        );
        eprintln!(
            "{what} uses: {}",
            names
                .lines()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(" ")
        );
        all.extend(names.lines().map(str::to_owned));
    }
    for name in &all {
        assert!(
            nvidia_ml::EXPORTED_SYMBOLS.contains(&name.as_str()),
            "{name} is used but not listed as exported"
        );
    }
    assert!(
        all.contains("nvmlDeviceGetComputeRunningProcesses_v3")
            || all.contains("nvmlDeviceGetRunningProcessDetailList")
    );
}

/// Prints, for the process running it, every device on which Python
/// nvitop's API lists it, with the host details nvitop shows.
const OWN_PROCESS_SCRIPT: &str = r#"
import json, os
from nvitop import Device
me = os.getpid()
found = []
for d in Device.all():
    for dev in [d] + list(d.mig_devices()):
        p = dev.processes().get(me)
        if p is not None:
            found.append({
                "device": str(dev.index),
                "username": p.username(),
                "cmdline": p.cmdline(),
                "gpu_memory": p.gpu_memory(),
                "host_memory": p.host_memory(),
            })
print(json.dumps({"pid": me, "found": found}, default=str))
"#;

#[test]
fn the_default_machine_shows_each_client_its_own_process() {
    let Some(python) = conformance_python(&["nvitop", "gpustat", "pynvml"]) else {
        return;
    };
    let lib = FakeLib::new();
    let pool = PidPool::spawn(16);
    // No scenario and no pinned time: the machine a user gets by pointing a
    // client at the library and nothing else.
    let client = |args: &[&str]| {
        let mut cmd = Command::new(&python);
        cmd.args(args)
            .env("LD_LIBRARY_PATH", lib.dir())
            .env("NVITOP_SIM_HOST_PIDS", pool.env_value())
            .env_remove("NVITOP_SIM_SCENARIO")
            .env_remove("NVITOP_SIMULATE")
            .env_remove("NVITOP_SIM_TIME");
        run_ok(&mut cmd, &format!("{args:?}"))
    };
    // What the default machine gives its `self` process, on GPU 0.
    let sim = SimBackend::with_host_pool(presets::preset("default").unwrap(), pool.pids());
    let own = sim.processes(nvitop::backend::DeviceRef::Physical(0)).unwrap();
    let own = own
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("`self` on GPU 0");
    let memory = own.used_gpu_memory.unwrap();

    let (out, _) = client(&["-c", OWN_PROCESS_SCRIPT]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("nvitop API JSON");
    let found = json["found"].as_array().unwrap();
    assert_eq!(found.len(), 1, "nvitop lists its own process once: {json}");
    let me = &found[0];
    assert_eq!(me["device"], "0", "{json}");
    assert_eq!(me["gpu_memory"].as_u64(), Some(memory), "{json}");
    // Full host details: the owner, the command line, host memory.
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert_eq!(me["username"], user.trim(), "{json}");
    assert_eq!(me["cmdline"][1], "-c", "{json}");
    assert!(me["host_memory"].as_u64().is_some_and(|m| m > 0), "{json}");

    let script = "import sys; from gpustat import main; sys.argv = ['gpustat', '--json']; sys.exit(main())";
    let (out, pid) = client(&["-c", script]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("gpustat JSON");
    let me: Vec<&Value> = json["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["processes"].as_array().into_iter().flatten().map(move |p| (g, p)))
        .filter(|(_, p)| p["pid"] == pid)
        .map(|(g, p)| {
            assert_eq!(g["index"], 0, "gpustat shows its own process on GPU 0: {p}");
            p
        })
        .collect();
    assert_eq!(me.len(), 1, "gpustat lists its own process once: {json}");
    assert_eq!(me[0]["gpu_memory_usage"].as_u64(), Some(memory / MIB), "{}", me[0]);
    assert_eq!(me[0]["username"], user.trim(), "{}", me[0]);
    assert_eq!(me[0]["full_command"][1], "-c", "{}", me[0]);
    assert!(me[0]["cpu_memory_usage"].as_u64().is_some_and(|m| m > 0), "{}", me[0]);
}

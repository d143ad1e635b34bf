//! The `nvitop-monitor` binary end to end through the fake NVML driver
//! library (`tests/fake-nvml`, loaded with `NVITOP_NVML_LIBRARY`, not
//! `--simulate`), at a pinned simulated time, with the scenario's `host:N`
//! processes bound to real `sleep` children.
//!
//! - Always: for every preset, `--json` through the fake library equals
//!   `--json --simulate PRESET` on the same scenario and time (every device
//!   field, every process's GPU fields), and the one-shot device table is the
//!   same text. This is the binary's whole NVML path (library loading,
//!   backend choice, filters, rendering) against the simulator path.
//! - With `NVITOP_CONFORMANCE_PYTHON` (a venv with `nvitop==1.7.2
//!   nvidia-ml-py==12.575.51`): Python `nvitop --once` and nvitop's Python
//!   API, on the same fake machine, report what the monitor reports: GPU
//!   count, names, memory used/total, GPU utilization, process pids and
//!   their GPU memory; and with each process and device filter (`-c`, `-C`,
//!   `-g`, `-G`, their pairs, `-o`, `-u`, `-p`) both list the same
//!   processes. Without the variable this part notes it and passes,
//!   unless `NVITOP_CONFORMANCE=1`; a named interpreter that lacks the
//!   clients always fails it.
//!
//! MIG presets (`default`, `mig`) are in both Python checks: nvitop 1.7.2's
//! `--once` prints them since the fake library answers BAR1 on MIG handles
//! (see `tests/fake-nvml/README.md`). In the printed tables, MIG devices are
//! checked through their processes (on `1:0`-style rows); their memory is
//! compared exactly through the API. The `faults` preset is in the
//! `--once` check: its lost GPU must read as lost in both tables.
//!
//! The fake library is `fake-nvml`'s cdylib. `fake-nvml` is a
//! dev-dependency of this crate only so that cargo builds that cdylib (into
//! `target/<profile>/deps/`) before these tests run, under `cargo test -p
//! nvitop-monitor` as under `cargo test --workspace`; a nested `cargo build`
//! from a test would wait forever on the build-directory lock the outer
//! cargo holds.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use nvidia_ml::testing::{
    FakeLib, NVITOP_API_SCRIPT, NvitopApi, PidPool, assert_printed_size, conformance_python, first_difference, run_ok,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");
const SIM_TIME: &str = "42";
const MIB: u64 = 1 << 20;
/// `host:N` processes needed by the largest preset (`h100x8`: 8 × 64).
const HOST_PIDS: usize = 512;

/// The presets compared with Python `nvitop --once`: not `h100x8` (the
/// benchmark's machine, see `bench/`; its 512 rows would only slow this
/// down). `faults` at `SIM_TIME` has a lost GPU (the monitor says so on its
/// row, nvitop prints N/A everywhere), unsupported fields, a refused
/// process list and an exited process.
const ONCE_PRESETS: &[&str] = &["a100x4", "rtx4090", "default", "mig", "faults"];
/// The presets compared with nvitop's Python API (not `faults`: how the API
/// reports a lost GPU would need its own expectations; not tried).
const API_PRESETS: &[&str] = &["a100x4", "rtx4090", "default", "mig"];

// ---------------------------------------------------------------------------
// Running the monitor.

/// How the monitor reaches the simulated machine.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// The NVML backend over the fake library.
    FakeNvml,
    /// `--simulate PRESET`.
    Simulate,
}

struct Machine {
    lib: FakeLib,
    pool: PidPool,
}

impl Machine {
    fn new(host_pids: usize) -> Self {
        Self {
            lib: FakeLib::new(),
            pool: PidPool::spawn(host_pids),
        }
    }

    /// Runs the monitor on `preset`; returns its output and its pid (the
    /// simulator's `self` process).
    fn monitor(&self, via: Via, preset: &str, args: &[&str]) -> (Output, u32) {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("NVITOP_SIM_TIME", SIM_TIME)
            .env("NVITOP_SIM_HOST_PIDS", self.pool.env_value())
            .env_remove("NVITOP_SIMULATE")
            .env_remove("NVITOP_SIM_SCENARIO")
            .env_remove("NVITOP_NVML_LIBRARY")
            .env_remove("CUDA_VISIBLE_DEVICES")
            .env_remove("NO_COLOR");
        match via {
            Via::FakeNvml => {
                cmd.env("NVITOP_NVML_LIBRARY", self.lib.path())
                    .env("NVITOP_SIM_SCENARIO", format!("preset:{preset}"));
            }
            Via::Simulate => {
                cmd.args(["--simulate", preset]);
            }
        }
        run_ok(&mut cmd, &format!("nvitop-monitor {args:?} ({via:?}, {preset})"))
    }

    fn monitor_json(&self, via: Via, preset: &str) -> (Value, u32) {
        let (out, pid) = self.monitor(via, preset, &["--json"]);
        (serde_json::from_slice(&out.stdout).expect("monitor JSON"), pid)
    }

    fn monitor_text(&self, via: Via, preset: &str) -> (String, u32) {
        let (out, pid) = self.monitor(via, preset, &["--no-color"]);
        (String::from_utf8(out.stdout).unwrap(), pid)
    }

    /// Runs a Python client on the fake library with the same scenario.
    fn python(&self, python: &Path, preset: &str, args: &[&str]) -> (Output, u32) {
        let mut cmd = Command::new(python);
        cmd.args(args)
            .env("LD_LIBRARY_PATH", self.lib.dir())
            .env("NVITOP_SIM_SCENARIO", format!("preset:{preset}"))
            .env("NVITOP_SIM_TIME", SIM_TIME)
            .env("NVITOP_SIM_HOST_PIDS", self.pool.env_value())
            // Wide enough that nvitop prints every column in full.
            .env("COLUMNS", "200")
            .env_remove("NVITOP_SIMULATE")
            .env_remove("CUDA_VISIBLE_DEVICES");
        run_ok(&mut cmd, &format!("{args:?} on {preset}"))
    }
}

// ---------------------------------------------------------------------------
// Rust only: the fake library against `--simulate`.

/// A pid as compared across processes: the simulator's `self` process is
/// whichever program runs it, `parent` is this test.
fn pid_label(pid: u64, own: u32) -> Value {
    if pid == u64::from(own) {
        "SELF".into()
    } else if pid == u64::from(std::process::id()) {
        "PARENT".into()
    } else {
        pid.into()
    }
}

/// Drops what differs per run by construction (timestamp, backend name and
/// `simulated` flag, host usage, each process's host details) and labels
/// the `self`/`parent` pids.
fn comparable(mut snapshot: Value, own: u32) -> Value {
    let map = snapshot.as_object_mut().unwrap();
    for key in ["timestamp", "backend", "simulated", "host"] {
        assert!(
            map.remove(key).is_some(),
            "the JSON has no `{key}` any more: update this test"
        );
    }
    let processes = map.get_mut("processes").unwrap().as_array_mut().unwrap();
    for p in processes.iter_mut() {
        let p = p.as_object_mut().unwrap();
        assert!(
            p.remove("host").is_some(),
            "a process has no `host` any more: update this test"
        );
        let label = pid_label(p["pid"].as_u64().unwrap(), own);
        p.insert("pid".into(), label);
    }
    // The labelled pids no longer sort like the real ones.
    processes.sort_by_key(|p| (p["device_index"].to_string(), p["pid"].to_string()));
    snapshot
}

/// The device panel of a one-shot output: from its top frame to its bottom
/// frame, each line cut to the classic 79 columns (the bar panel to the
/// right is as wide as the process commands make the output, and the self
/// process's command differs between the two runs).
fn device_panel(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with('╒'))
        .unwrap_or_else(|| panic!("no device panel in:\n{text}"));
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with('╘'))
            .unwrap_or_else(|| panic!("device panel not closed in:\n{text}"));
    lines[start..=end]
        .iter()
        .map(|l| l.chars().take(79).collect())
        .collect()
}

#[test]
fn fake_nvml_and_simulate_show_the_same_machine() {
    let machine = Machine::new(HOST_PIDS);
    for (name, ..) in nvitop::backend::sim::presets::PRESETS {
        let (fake, fake_pid) = machine.monitor_json(Via::FakeNvml, name);
        let (sim, sim_pid) = machine.monitor_json(Via::Simulate, name);
        // The two paths really are the two backends.
        assert_eq!(fake["backend"], "nvml", "{name}");
        assert_eq!(fake["simulated"], false, "{name}");
        assert_eq!(sim["backend"], "simulator", "{name}");
        assert!(!sim["devices"].as_array().unwrap().is_empty(), "{name}: no devices");
        let (fake, sim) = (comparable(fake, fake_pid), comparable(sim, sim_pid));
        if let Some(diff) = first_difference(&fake, &sim) {
            panic!("preset {name}: through fake NVML (left) and --simulate (right) differ at {diff}");
        }

        let (fake_text, _) = machine.monitor_text(Via::FakeNvml, name);
        let (sim_text, _) = machine.monitor_text(Via::Simulate, name);
        assert!(!fake_text.contains("(simulated GPUs)"), "{name}:\n{fake_text}");
        assert!(sim_text.contains("(simulated GPUs)"), "{name}:\n{sim_text}");
        assert_eq!(
            device_panel(&fake_text),
            device_panel(&sim_text),
            "preset {name}: device panels differ (left: fake NVML, right: --simulate)"
        );
    }
}

#[test]
fn json_mig_devices_of_a_hopper_gpu_carry_their_own_gpm_through_fake_nvml() {
    // Guards the comparison above against two equally absent `gpm` objects:
    // the `mig` preset's H100 instances are sampled with
    // nvmlGpmMigSampleGet; the A100 and its instances have no GPM.
    let machine = Machine::new(HOST_PIDS);
    let (json, _) = machine.monitor_json(Via::FakeNvml, "mig");
    let (a100, h100) = (&json["devices"][0], &json["devices"][1]);
    assert!(a100.get("gpm").is_none(), "{a100}");
    for mig in a100["mig_devices"].as_array().unwrap() {
        assert!(mig.get("gpm").is_none(), "{mig}");
    }
    let migs = h100["mig_devices"].as_array().unwrap();
    assert_eq!(migs.len(), 2);
    let sm: Vec<f64> = migs
        .iter()
        .map(|m| {
            m["gpm"]["sm_active"]
                .as_f64()
                .unwrap_or_else(|| panic!("no GPM in {m}"))
        })
        .collect();
    assert!(sm.iter().all(|v| (0.0..=100.0).contains(v) && *v > 0.0), "{sm:?}");
    assert!(
        (sm[0] - sm[1]).abs() > 1e-6,
        "each GPU instance has counters of its own: {sm:?}"
    );
    assert!(h100["gpm"]["sm_active"].is_number(), "{h100}");
}

#[test]
fn h100x8_lists_every_process_through_fake_nvml() {
    // Guards the comparison above against two equally empty answers.
    let machine = Machine::new(HOST_PIDS);
    let (json, _) = machine.monitor_json(Via::FakeNvml, "h100x8");
    assert_eq!(json["devices"].as_array().unwrap().len(), 8);
    let processes = json["processes"].as_array().unwrap();
    assert_eq!(processes.len(), HOST_PIDS);
    let pool = machine.pool.pids();
    for p in processes {
        let pid = p["pid"].as_u64().unwrap() as u32;
        assert!(pool.contains(&pid), "pid {pid} is not one of the sleepers");
        assert_eq!(p["gpu_memory"], 1_200 * MIB, "{p}");
        assert_eq!(p["host"]["name"], "sleep", "{p}");
    }
}

// ---------------------------------------------------------------------------
// With Python nvitop.

/// One device as compared: name, memory, utilization, and its processes
/// (pid label → GPU memory in bytes).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    memory_used: u64,
    memory_total: u64,
    gpu_utilization: Option<u64>,
    processes: BTreeMap<String, Option<u64>>,
}

/// The monitor's `--json` as rows by display index (`0`, `1:0`), keeping
/// only processes a Python client can see too: the sleepers, and the
/// `self`/`parent` processes (which exist), not the presets' `gone` pid.
/// Lost GPUs (their `error` is set) have no row: see [`lost_of_monitor`].
fn rows_of_monitor(json: &Value, own: u32, pool: &[u32]) -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for d in json["devices"].as_array().unwrap() {
        if !d["error"].is_null() {
            continue;
        }
        for d in std::iter::once(d).chain(d["mig_devices"].as_array().unwrap()) {
            rows.insert(
                d["display_index"].as_str().unwrap().to_owned(),
                Row {
                    name: d["name"].as_str().unwrap().to_owned(),
                    memory_used: d["memory_used"].as_u64().unwrap(),
                    memory_total: d["memory_total"].as_u64().unwrap(),
                    gpu_utilization: d["gpu_utilization"].as_u64(),
                    processes: BTreeMap::new(),
                },
            );
        }
    }
    for p in json["processes"].as_array().unwrap() {
        let pid = p["pid"].as_u64().unwrap();
        let label = pid_label(pid, own);
        if label.is_u64() && !pool.contains(&(pid as u32)) {
            continue;
        }
        let label = label_string(&label);
        let memory = p["gpu_memory"].as_u64();
        let index = p["device_index"].as_str().unwrap();
        rows.get_mut(index).unwrap().processes.insert(label, memory);
    }
    rows
}

/// Display indices of the GPUs the monitor's `--json` reports lost.
fn lost_of_monitor(json: &Value) -> Vec<String> {
    json["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !d["error"].is_null())
        .map(|d| d["display_index"].as_str().unwrap().to_owned())
        .collect()
}

/// The rows as NVML clients' APIs see them: a MIG process listed on its MIG
/// device (as both programs print it) and on the parent GPU too.
fn with_mig_processes_on_parents(mut rows: BTreeMap<String, Row>) -> BTreeMap<String, Row> {
    let on_mig: Vec<(String, BTreeMap<String, Option<u64>>)> = rows
        .iter()
        .filter_map(|(index, row)| {
            let (parent, _) = index.split_once(':')?;
            Some((parent.to_owned(), row.processes.clone()))
        })
        .collect();
    for (parent, processes) in on_mig {
        rows.get_mut(&parent).unwrap().processes.extend(processes);
    }
    rows
}

fn label_string(label: &Value) -> String {
    label.as_str().map_or_else(|| label.to_string(), str::to_owned)
}

#[test]
fn python_nvitop_api_reports_what_the_monitor_reports() {
    let Some(python) = conformance_python(&["nvitop", "pynvml"]) else {
        return;
    };
    let machine = Machine::new(64);
    let pool = machine.pool.pids();
    for preset in API_PRESETS {
        let (json, monitor_pid) = machine.monitor_json(Via::FakeNvml, preset);
        let want = with_mig_processes_on_parents(rows_of_monitor(&json, monitor_pid, &pool));
        let (out, _) = machine.python(&python, preset, &["-c", NVITOP_API_SCRIPT]);
        // nvitop's API: every device (MIG devices too) with its processes,
        // and the script's own pid (the simulator's `self`).
        let api = NvitopApi::parse(&out.stdout);
        let got: BTreeMap<String, Row> = api
            .devices
            .into_iter()
            .map(|(index, d)| {
                let processes = d
                    .processes
                    .into_iter()
                    .map(|(pid, mem)| (label_string(&pid_label(u64::from(pid), api.pid)), mem))
                    .collect();
                let row = Row {
                    name: d.name,
                    memory_used: d.memory_used,
                    memory_total: d.memory_total,
                    gpu_utilization: d.gpu_utilization,
                    processes,
                };
                (index, row)
            })
            .collect();
        assert_eq!(
            got, want,
            "preset {preset}: nvitop API (left) vs nvitop-monitor --json (right)"
        );
        assert!(want.values().any(|r| !r.processes.is_empty()), "{preset}: no processes");
    }
}

/// The Python script that prints each GPU process's host details as
/// nvitop's API (psutil) reports them.
const HOST_PROCESSES_SCRIPT: &str = include_str!("../../tests/conformance/nvitop_host_processes.py");

/// psutil's name for a `ps` state letter.
fn psutil_status(letter: &str) -> &str {
    match letter {
        "R" => "running",
        "S" => "sleeping",
        "D" => "disk-sleep",
        "T" => "stopped",
        "t" => "tracing-stop",
        "Z" => "zombie",
        "X" => "dead",
        "I" => "idle",
        "P" => "parked",
        other => other,
    }
}

#[test]
fn python_nvitop_reads_the_same_host_details_of_gpu_processes() {
    let Some(python) = conformance_python(&["nvitop", "pynvml"]) else {
        return;
    };
    let machine = Machine::new(64);
    machine.pool.wait_until_asleep();
    let pool = machine.pool.pids();
    let mut compared = 0;
    for preset in API_PRESETS {
        let (json, _) = machine.monitor_json(Via::FakeNvml, preset);
        let (out, _) = machine.python(&python, preset, &["-c", HOST_PROCESSES_SCRIPT]);
        let theirs: Vec<Value> = serde_json::from_slice(&out.stdout).expect("host details JSON");
        for p in json["processes"].as_array().unwrap() {
            let pid = p["pid"].as_u64().unwrap();
            // The sleepers: the same processes, unchanging, for both readers.
            if !pool.contains(&(pid as u32)) {
                continue;
            }
            let index = p["device_index"].as_str().unwrap();
            let t = theirs
                .iter()
                .find(|t| t["pid"].as_u64() == Some(pid) && t["device_index"] == index)
                .unwrap_or_else(|| panic!("nvitop has no process {pid} on GPU {index}"));
            let h = &p["host"];
            let what = format!("{preset}: pid {pid} on GPU {index}: ours {p}, nvitop's {t}");
            assert_eq!(p["type"], t["type"], "{what}");
            for field in ["username", "name", "cmdline", "rss"] {
                assert_eq!(h[field], t[field], "{field} of {what}");
            }
            assert_eq!(psutil_status(h["status"].as_str().unwrap()), t["status"], "{what}");
            let close = |field: &str, within: f64| {
                let (a, b) = (h[field].as_f64().unwrap(), t[field].as_f64().unwrap());
                assert!((a - b).abs() <= within, "{field}: {a} vs {b}; {what}");
            };
            close("memory_percent", 1e-6);
            // psutil adds the start to a boot time /proc/stat cuts to a whole
            // second; ours is read on the boot clock.
            close("create_time", 1.0);
            // Ours in whole seconds, read first; nvitop's a moment later.
            close("running_time", 5.0);
            compared += 1;
        }
    }
    assert!(compared >= 8, "only {compared} processes compared");
}

#[test]
fn python_nvitop_once_prints_what_the_monitor_prints() {
    let Some(python) = conformance_python(&["nvitop", "pynvml"]) else {
        return;
    };
    let machine = Machine::new(64);
    let pool = machine.pool.pids();
    for preset in ONCE_PRESETS {
        let (json, monitor_pid) = machine.monitor_json(Via::FakeNvml, preset);
        let want = rows_of_monitor(&json, monitor_pid, &pool);
        let lost = lost_of_monitor(&json);
        assert_eq!(!lost.is_empty(), *preset == "faults", "{preset}: lost GPUs {lost:?}");
        // The monitor's own one-shot table first: it must say what its JSON says.
        let (text, own) = machine.monitor_text(Via::FakeNvml, preset);
        check_once_table("nvitop-monitor", preset, &text, own, &want);
        check_lost_rows(preset, &text, &lost, |first, _| first.contains("is lost"));
        let (out, own) = machine.python(&python, preset, &["-m", "nvitop", "--once"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("NVITOP 1.7.2"), "{text}");
        assert!(
            text.contains(&format!("Driver Version: {}", json["driver_version"].as_str().unwrap())),
            "{text}"
        );
        check_once_table("Python nvitop --once", preset, &text, own, &want);
        check_lost_rows(preset, &text, &lost, |first, second| {
            // Every value of both lines is N/A (`/` separates usage/limit).
            let values = |line: &str| -> Vec<String> {
                line.split('│')
                    .take(4)
                    .flat_map(str::split_whitespace)
                    .skip_while(|v| v.chars().all(|c| c.is_ascii_digit()))
                    .filter(|v| *v != "/")
                    .map(str::to_owned)
                    .collect()
            };
            let (first, second) = (values(first), values(second));
            !first.is_empty() && first.iter().chain(&second).all(|v| v == "N/A")
        });
    }
}

/// Checks the device line (and the next) of each lost GPU with `shows_lost`.
fn check_lost_rows(preset: &str, text: &str, lost: &[String], shows_lost: impl Fn(&str, &str) -> bool) {
    let lines: Vec<&str> = text.lines().collect();
    for index in lost {
        let at = lines
            .iter()
            .position(|l| l.trim_start_matches('│').trim_start().starts_with(&format!("{index} ")))
            .unwrap_or_else(|| panic!("{preset}: no device line for lost GPU {index}:\n{text}"));
        let next = lines.get(at + 1).copied().unwrap_or_default();
        assert!(
            shows_lost(lines[at], next),
            "{preset}: lost GPU {index} not shown as lost:\n{}\n{next}",
            lines[at]
        );
    }
}

/// Checks an nvitop-style one-shot table (both programs print the same
/// layout) against the rows: one device line per GPU with its name, its
/// utilization and memory on the next line, and a process line per pid on
/// its GPU with its GPU memory, to the precision printed.
fn check_once_table(tool: &str, preset: &str, text: &str, own: u32, rows: &BTreeMap<String, Row>) {
    let lines: Vec<&str> = text.lines().collect();
    let gpus = rows.keys().filter(|i| !i.contains(':')).count();
    let device_lines = lines.iter().filter(|l| l.contains("00000000:")).count();
    assert_eq!(
        device_lines, gpus,
        "{tool} on {preset}: one device line per GPU:\n{text}"
    );
    for (index, row) in rows.iter().filter(|(i, _)| !i.contains(':')) {
        let at = lines
            .iter()
            .position(|l| {
                l.trim_start_matches('│').trim_start().starts_with(&format!("{index} ")) && l.contains("00000000:")
            })
            .unwrap_or_else(|| panic!("{tool} on {preset}: no device line for GPU {index}:\n{text}"));
        let (first, second) = (lines[at], lines[at + 1]);
        // Both drop the "NVIDIA " prefix.
        let short = row.name.trim_start_matches("NVIDIA ");
        assert!(first.contains(short), "{tool}: GPU {index} name {short:?} in {first:?}");
        if let Some(u) = row.gpu_utilization {
            assert!(
                second.contains(&format!(" {u}% ")),
                "{tool}: GPU {index} utilization {u} in {second:?}"
            );
        }
        let memory_cell = second
            .split('│')
            .find(|cell| cell.contains(" / ") && cell.contains("iB"))
            .unwrap_or_else(|| panic!("{tool}: GPU {index}: no memory cell in {second:?}"));
        let (used, total) = memory_cell.trim().split_once(" / ").unwrap();
        assert_printed_size(used, row.memory_used, &format!("{tool}: GPU {index} memory used"));
        assert_printed_size(total, row.memory_total, &format!("{tool}: GPU {index} memory total"));
    }
    for (index, row) in rows {
        for (label, memory) in &row.processes {
            let pid = match label.as_str() {
                "SELF" => own.to_string(),
                "PARENT" => std::process::id().to_string(),
                pid => pid.to_owned(),
            };
            let line = lines
                .iter()
                .find(|l| {
                    let cols: Vec<&str> = l.trim_matches('│').split_whitespace().collect();
                    cols.len() > 2 && cols[0] == index && cols[1] == pid
                })
                .unwrap_or_else(|| panic!("{tool} on {preset}: no process line for pid {pid} on GPU {index}:\n{text}"));
            if let Some(memory) = memory {
                let shown = line
                    .trim_matches('│')
                    .split_whitespace()
                    .find(|t| t.ends_with("iB"))
                    .unwrap_or_else(|| panic!("{tool}: pid {pid}: no memory in {line:?}"));
                assert_printed_size(shown, *memory, &format!("{tool}: pid {pid} GPU memory"));
            }
        }
    }
}

/// The (GPU, pid) pairs of the process rows of an nvitop-style one-shot
/// table: lines whose first columns are a GPU index (`3`, `1:0`), a pid and
/// a process type (nvitop writes `C+G` as `X`).
fn process_rows(text: &str) -> std::collections::BTreeSet<(String, u32)> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.trim_matches('│').split_whitespace().collect();
            let gpu = *cols.first()?;
            let is_index = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            let gpu_ok = gpu.split(':').all(is_index) && gpu.split(':').count() <= 2;
            let pid = cols.get(1)?.parse().ok()?;
            let kind_ok = ["C", "G", "C+G", "X"].contains(cols.get(2)?);
            (gpu_ok && kind_ok).then(|| (gpu.to_owned(), pid))
        })
        .collect()
}

#[test]
fn python_nvitop_once_filters_as_the_monitor_filters() {
    let Some(python) = conformance_python(&["nvitop", "pynvml"]) else {
        return;
    };
    let machine = Machine::new(64);
    let pool = machine.pool.pids();
    let parent = std::process::id().to_string();
    // The default machine has C, G and C+G processes and MIG devices.
    let preset = "default";
    let (all, own) = machine.monitor_json(Via::FakeNvml, preset);
    let user = all["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"].as_u64() == Some(u64::from(own)))
        .and_then(|p| p["host"]["username"].as_str())
        .expect("the monitor's own row has a user")
        .to_owned();
    let filters: &[&[&str]] = &[
        &["-c"],
        &["-C"],
        &["-g"],
        &["-G"],
        &["-c", "-g"],
        &["-C", "-G"],
        &["-o", "0", "3"],
        &["-g", "-o", "3"],
        &["-u", &user],
        &["-p", &parent],
    ];
    for filter in filters {
        let mut args = vec!["--json"];
        args.extend_from_slice(filter);
        let (out, own) = machine.monitor(Via::FakeNvml, preset, &args);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        // As Python sees them: the monitor's own pid is the Python
        // process's there, and the preset's `gone` pid is not listed.
        let want: std::collections::BTreeSet<(String, &'static str)> = json["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| {
                let pid = p["pid"].as_u64().unwrap();
                let label = match pid_label(pid, own) {
                    Value::String(s) if s == "SELF" => "SELF",
                    Value::String(_) => "PARENT",
                    _ if pool.contains(&(pid as u32)) => "POOL",
                    _ => return None,
                };
                Some((p["device_index"].as_str().unwrap().to_owned(), label))
            })
            .collect();
        let mut py_args = vec!["-m", "nvitop", "--once"];
        py_args.extend_from_slice(filter);
        let (out, py_own) = machine.python(&python, preset, &py_args);
        let text = String::from_utf8_lossy(&out.stdout);
        let got: std::collections::BTreeSet<(String, &'static str)> = process_rows(&text)
            .into_iter()
            .map(|(gpu, pid)| {
                let label = if pid == py_own {
                    "SELF"
                } else if pid == std::process::id() {
                    "PARENT"
                } else {
                    assert!(pool.contains(&pid), "{filter:?}: nvitop lists pid {pid}:\n{text}");
                    "POOL"
                };
                (gpu, label)
            })
            .collect();
        assert_eq!(
            got, want,
            "{filter:?}: Python nvitop --once (left) vs nvitop-monitor --json (right):\n{text}"
        );
        // The labels fold the pool's pids together: compare the row counts too.
        let json_rows = json["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                let pid = p["pid"].as_u64().unwrap() as u32;
                pid == own || pid == std::process::id() || pool.contains(&pid)
            })
            .count();
        assert_eq!(
            process_rows(&text).len(),
            json_rows,
            "{filter:?}: row counts differ:\n{text}"
        );
        // Only the contradictory pair shows nothing: no check compares two empty lists by accident.
        assert_eq!(json_rows == 0, *filter == ["-C", "-G"], "{filter:?}: {json_rows} rows");
    }
}

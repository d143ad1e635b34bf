//! The binary end to end: every option's effect and every bad input, run
//! against the simulator (or, for the driver error, against no driver).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");

/// The binary with a clean environment: no simulator unless asked, a
/// pinned simulator clock, no color preferences.
fn cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("NVITOP_SIMULATE")
        .env_remove("NVITOP_SIM_SCENARIO")
        .env_remove("NO_COLOR")
        .env_remove("CUDA_VISIBLE_DEVICES")
        // Set by the fake-driver tests and the benchmark; not wanted here.
        .env_remove("NVITOP_SIM_HOST_PIDS")
        .env_remove("NVITOP_NVML_LIBRARY")
        // The piped width follows it (see `piped_width_follows_columns`).
        .env_remove("COLUMNS")
        .env("NVITOP_SIM_TIME", "10");
    cmd
}

/// [`cmd`] with the scenario's `host:N` processes bound to sleepers this
/// test binary started (one pool for the whole run, alive for it): the rows
/// of other host processes show whatever those run, which may contain
/// anything, and the simulator drops a bound process once it exits, so two
/// runs compared with each other must not draw on the host's coming and
/// going processes. Enough sleepers that the default machine's `host:N`
/// processes stay distinct (one pid on two rows of a GPU would be one).
fn pinned_cmd(args: &[&str]) -> Command {
    static POOL: std::sync::OnceLock<nvidia_ml::testing::PidPool> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let pool = nvidia_ml::testing::PidPool::spawn(16);
        pool.wait_until_asleep();
        pool
    });
    let mut cmd = cmd(args);
    cmd.env("NVITOP_SIM_HOST_PIDS", pool.env_value());
    cmd
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Runs with `--json` and parses the output.
/// `--json` output, through [`pinned_cmd`].
fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = pinned_cmd(&all).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn device_indices(snapshot: &Value) -> Vec<u64> {
    snapshot["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["index"].as_u64().unwrap())
        .collect()
}

fn processes(snapshot: &Value) -> &Vec<Value> {
    snapshot["processes"].as_array().unwrap()
}

/// Asserts a usage error: exit status 2 and one stderr line naming `bad`.
fn assert_usage_error(args: &[&str], bad: &str) {
    let output = run(args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(bad), "{args:?}: {err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn help_and_version() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = stdout(&help);
    for flag in [
        "--once",
        "-1,",
        "--ascii",
        "--no-unicode",
        "-U,",
        "--gpu-util-thresh",
        "--mem-util-thresh",
        "--only",
        "-o,",
        "--only-visible",
        "-ov",
        "--compute",
        "-c,",
        "--only-compute",
        "-C,",
        "--graphics",
        "-g,",
        "--only-graphics",
        "-G,",
        "--user",
        "-u,",
        "--pid",
        "-p,",
        "--simulate",
        "--json",
        "--colorful",
        "--no-color",
        "--force-color",
        "--light",
        "-m,",
        "--monitor",
        "--interval",
        "--readonly",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
    for flag in ["-V", "--version"] {
        let version = run(&[flag]);
        assert!(version.status.success());
        assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
    }
    assert_eq!(stdout(&run(&["-h"])), text);
}

#[test]
fn once_is_what_the_monitor_does_anyway() {
    // nvitop's `--once` / `-1`: the same one-shot output.
    for flag in ["--once", "-1"] {
        let output = pinned_cmd(&["--simulate", flag]).output().unwrap();
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(
            text.contains("Driver Version:") && text.contains("Processes:"),
            "{flag}: {text}"
        );
    }
}

#[test]
fn no_driver_is_an_error_not_a_simulation() {
    let output = cmd(&[])
        .env("NVITOP_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("driver"), "{err}");
    assert!(err.contains("/nonexistent/libnvidia-ml.so.1"), "{err}");
    assert!(err.contains("--simulate"), "{err}");
    assert!(output.stdout.is_empty());

    // A bare library name: the message says where the loader searched.
    let output = cmd(&[])
        .env("NVITOP_NVML_LIBRARY", "libnvidia-ml-absent.so.1")
        .env("LD_LIBRARY_PATH", "/nonexistent/lib")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("driver library not found"), "{err}");
    assert!(err.contains("libnvidia-ml-absent.so.1"), "{err}");
    assert!(err.contains("LD_LIBRARY_PATH=/nonexistent/lib"), "{err}");
    assert!(err.contains("/etc/ld.so.cache"), "{err}");
    assert!(err.contains("--simulate"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn simulate_flag_and_env() {
    let output = run(&["--simulate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("(simulated GPUs)"));
    let output = cmd(&["--json"]).env("NVITOP_SIMULATE", "mig").output().unwrap();
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(snapshot["simulated"], true);
    assert!(snapshot["devices"][0]["mig_devices"].as_array().unwrap().len() > 1);
    assert_usage_error(&["--simulate", "no-such-preset"], "no-such-preset");
}

#[test]
fn json_has_the_documented_fields() {
    let snapshot = json(&["--simulate"]);
    for key in [
        "timestamp",
        "backend",
        "simulated",
        "driver_version",
        "nvml_version",
        "cuda_driver_version",
        "devices",
        "processes",
        "host",
        "process_errors",
    ] {
        assert!(snapshot.get(key).is_some(), "missing {key}");
    }
    assert_eq!(snapshot["backend"], "simulator");
    // The output is the SDK's Snapshot, so it reads back into one.
    let back: nvitop::Snapshot = serde_json::from_value(snapshot.clone()).unwrap();
    assert!(back.simulated && !back.devices.is_empty());
    let device = &snapshot["devices"][0];
    for key in [
        "index",
        "display_index",
        "name",
        "bus_id",
        "memory_used",
        "memory_total",
        "memory_percent",
        "gpu_utilization",
        "temperature",
        "power_usage",
        "power_limit",
        "mig_mode",
        "error",
        "mig_devices",
    ] {
        assert!(device.get(key).is_some(), "device lacks {key}");
    }
    let process = &processes(&snapshot)[0];
    for key in [
        "pid",
        "device_index",
        "gpu_memory",
        "type",
        "gpu_sm_utilization",
        "host",
    ] {
        assert!(process.get(key).is_some(), "process lacks {key}");
    }
    for key in ["cpu_percent", "memory_percent", "swap_percent", "load_average"] {
        assert!(snapshot["host"].get(key).is_some(), "host lacks {key}");
    }
}

/// Every key of `value`, at any depth.
fn all_keys(value: &Value, keys: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                keys.insert(key.clone());
                all_keys(value, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| all_keys(v, keys)),
        _ => {}
    }
}

#[test]
fn json_fields_are_the_documented_ones() {
    // monitor/README.md's JSON section names every field (`a_field`); the
    // output has exactly those, so a renamed or new field needs the README.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## JSON").unwrap();
    let section = &readme[start..start + readme[start..].find("\n## ").unwrap()];
    let documented: std::collections::BTreeSet<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter(|name| {
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for preset in ["default", "faults"] {
        // Pinned: a host process with a live training record (any logger running here) adds `training`.
        all_keys(
            &serde_json::from_slice(&pinned_cmd(&["--json", "--simulate", preset]).output().unwrap().stdout).unwrap(),
            &mut keys,
        );
    }
    for key in &keys {
        // "`memory_total`, ... (+ `_human` forms)".
        let base = key
            .strip_suffix("_human")
            .filter(|base| documented.contains(base) && section.contains("(+ `_human` forms"));
        assert!(
            documented.contains(key.as_str()) || base.is_some(),
            "`{key}` is in the JSON but not in monitor/README.md"
        );
    }
    // Values the section quotes, not fields.
    let values = ["null", "nvml", "simulator"];
    for name in documented.iter().filter(|name| !values.contains(name)) {
        assert!(
            keys.contains(*name),
            "monitor/README.md documents `{name}`, which the JSON lacks"
        );
    }
}

#[test]
fn only_selects_devices() {
    assert_eq!(device_indices(&json(&["--simulate", "--only", "0", "2"])), [0, 2]);
    assert_eq!(device_indices(&json(&["--simulate", "-o", "3"])), [3]);
    let snapshot = json(&["--simulate", "-o", "2"]);
    assert!(processes(&snapshot).iter().all(|p| p["physical_index"] == 2));
    assert_usage_error(&["--simulate", "--only", "0", "7"], "7");
    assert_usage_error(&["--simulate", "-o", "4"], "4");
    assert_usage_error(&["--simulate", "-o", "abc"], "abc");
    // `-1` is nvitop's `--once` flag, so `-o -1` gives `-o` no index.
    assert_usage_error(&["--simulate", "-o", "-1"], "--only");
}

#[test]
fn only_wins_over_only_visible() {
    // As in nvitop, whose --only "suppresses option --only-visible".
    for args in [["-ov", "-o", "2"], ["-o", "2", "-ov"]] {
        let output = cmd(&["--simulate", "--json"])
            .args(args)
            .env("CUDA_VISIBLE_DEVICES", "3,0")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(device_indices(&snapshot), [2], "{args:?}");
    }
}

#[test]
fn only_visible_follows_cuda_visible_devices() {
    for flag in ["-ov", "--only-visible"] {
        let output = cmd(&["--simulate", "--json", flag])
            .env("CUDA_VISIBLE_DEVICES", "3,0")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(device_indices(&snapshot), [3, 0], "{flag}");
    }
}

#[test]
fn a_cuda_visible_devices_entry_that_hides_gpus_is_named_on_stderr() {
    let output = cmd(&["--simulate", "--json", "-ov"])
        .env("CUDA_VISIBLE_DEVICES", "3,GPU-nosuch,0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(device_indices(&snapshot), [3], "CUDA stops at the unknown UUID");
    assert_eq!(
        stderr(&output),
        "nvitop-monitor: warning: CUDA_VISIBLE_DEVICES='3,GPU-nosuch,0': entry 2 of 3, 'GPU-nosuch', is not the \
         UUID of a device here: CUDA ignores it and the 1 entry after it\n"
    );
}

#[test]
fn process_type_filters() {
    let all = json(&["--simulate"]);
    let kinds = |s: &Value| -> Vec<String> {
        processes(s)
            .iter()
            .map(|p| p["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        kinds(&all).iter().any(|k| k == "G"),
        "the default machine has a graphics process"
    );
    let compute = kinds(&json(&["--simulate", "-c"]));
    assert!(!compute.is_empty() && compute.iter().all(|k| k.contains('C')));
    let graphics = kinds(&json(&["--simulate", "--graphics"]));
    assert!(!graphics.is_empty() && graphics.iter().all(|k| k.contains('G')));
    for kind in ["C", "G", "C+G"] {
        assert!(
            kinds(&all).iter().any(|k| k == kind),
            "the default machine has a {kind} process"
        );
    }
    // Each type filter must hold, as in nvitop: -c -g is the C+G processes.
    let count = |kind: &str| kinds(&all).iter().filter(|k| *k == kind).count();
    assert_eq!(kinds(&json(&["--simulate", "-c", "-g"])), vec!["C+G"; count("C+G")]);
    for flag in ["-C", "--only-compute"] {
        assert_eq!(kinds(&json(&["--simulate", flag])), vec!["C"; count("C")], "{flag}");
    }
    for flag in ["-G", "--only-graphics"] {
        assert_eq!(kinds(&json(&["--simulate", flag])), vec!["G"; count("G")], "{flag}");
    }
    assert!(kinds(&json(&["--simulate", "-C", "-G"])).is_empty());
    // The type filters combine with the others: GPU 3 has the G process.
    assert_eq!(kinds(&json(&["--simulate", "-G", "-o", "3"])), vec!["G"; count("G")]);
    assert!(kinds(&json(&["--simulate", "-G", "-o", "0"])).is_empty());
}

#[test]
fn pid_and_user_filters() {
    let all = json(&["--simulate"]);
    // The default machine binds a process to `parent`: this test process,
    // the one pid that is the same in every run of the binary (`self` is a
    // new monitor process each time; `host:N` may move as processes come
    // and go).
    let pid = std::process::id().to_string();
    assert!(
        processes(&all)
            .iter()
            .any(|p| p["pid"].as_u64().unwrap().to_string() == pid),
        "the default machine shows the test process (its `parent` pid)"
    );
    let only = json(&["--simulate", "--pid", &pid]);
    assert!(!processes(&only).is_empty());
    assert!(
        processes(&only)
            .iter()
            .all(|p| p["pid"].as_u64().unwrap().to_string() == pid)
    );

    // The test process's own user: it always owns at least that row.
    let user = processes(&all)
        .iter()
        .find(|p| p["pid"].as_u64().unwrap().to_string() == pid)
        .and_then(|p| p["host"]["username"].as_str())
        .unwrap()
        .to_owned();
    let mine = json(&["--simulate", "--user", &user]);
    assert!(!processes(&mine).is_empty());
    assert!(processes(&mine).iter().all(|p| p["host"]["username"] == user.as_str()));

    // A bare --user means $USER.
    let output = cmd(&["--simulate", "--json", "-u"])
        .env("USER", &user)
        .output()
        .unwrap();
    let bare: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Not a count comparison with `mine`: `host:N` rows bind to whatever
    // runs on the machine at that instant, which changes between runs.
    assert!(!processes(&bare).is_empty());
    assert!(processes(&bare).iter().all(|p| p["host"]["username"] == user.as_str()));
    let output = cmd(&["--simulate", "--json", "-u"])
        .env("USER", "no_such_user_xyz")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a bare -u reads $USER");
}

#[test]
fn unknown_user_and_pid_are_rejected() {
    assert_usage_error(&["--simulate", "--user", "no_such_user_xyz"], "no_such_user_xyz");
    // Above Linux's largest pid_max, so it can never exist.
    assert_usage_error(&["--simulate", "--pid", "4194305"], "4194305");
    assert_usage_error(&["--simulate", "-p", "0"], "0");
    assert_usage_error(&["--simulate", "-p", "abc"], "abc");
}

#[test]
fn malformed_thresholds_are_rejected() {
    assert_usage_error(&["--simulate", "--gpu-util-thresh", "80", "20"], "80 20");
    assert_usage_error(&["--simulate", "--mem-util-thresh", "50", "50"], "50 50");
    assert_usage_error(&["--simulate", "--gpu-util-thresh", "0", "50"], "0");
    assert_usage_error(&["--simulate", "--gpu-util-thresh", "10", "100"], "100");
    assert_usage_error(&["--simulate", "--mem-util-thresh", "abc", "50"], "abc");
    assert_usage_error(&["--simulate", "--gpu-util-thresh", "10"], "--gpu-util-thresh");
    assert_usage_error(&["--simulate", "--gpu-util-thresh", "-5", "50"], "-5");
    assert_usage_error(&["--simulate", "--mem-util-thresh", "10", "99.5"], "99.5");
}

#[test]
fn color_follows_flags_tty_and_no_color() {
    // Test stdout is a pipe: no color by default.
    assert!(!stdout(&run(&["--simulate"])).contains('\x1b'));
    assert!(!stdout(&run(&["--simulate", "--no-color"])).contains('\x1b'));
    assert!(stdout(&run(&["--simulate", "--force-color"])).contains("\x1b["));
    let forced = cmd(&["--simulate", "--force-color"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(stdout(&forced).contains("\x1b["));
    let conflicting = run(&["--simulate", "--no-color", "--force-color"]);
    assert_eq!(conflicting.status.code(), Some(2));
}

#[test]
fn ascii_mode_has_no_box_drawing() {
    // Pinned: another host process's command line could hold box drawing.
    let text = stdout(&pinned_cmd(&["--simulate", "--ascii"]).output().unwrap());
    assert!(text.contains("+===") && text.contains("| "));
    let box_drawing = |t: &str| t.chars().any(|c| ('\u{2500}'..='\u{259f}').contains(&c));
    assert!(!box_drawing(&text), "{text}");
    assert!(box_drawing(&stdout(&pinned_cmd(&["--simulate"]).output().unwrap())));
    for flag in ["-U", "--no-unicode"] {
        let text = stdout(&pinned_cmd(&["--simulate", flag]).output().unwrap());
        assert!(!box_drawing(&text), "{flag}: {text}");
    }
}

#[test]
fn light_theme_flag_changes_the_palette() {
    // The date line's `(simulated GPUs)` is in the moderate color, bold:
    // yellow on dark terminals, a dark amber (256-color 130) with --light.
    let dark = stdout(&pinned_cmd(&["--simulate", "--force-color"]).output().unwrap());
    assert!(
        dark.lines().next().unwrap().contains("\x1b[0;1;33m  (simulated GPUs)"),
        "{dark:?}"
    );
    let light = stdout(
        &pinned_cmd(&["--simulate", "--force-color", "--light"])
            .output()
            .unwrap(),
    );
    assert!(
        light
            .lines()
            .next()
            .unwrap()
            .contains("\x1b[0;1;38;5;130m  (simulated GPUs)"),
        "{light:?}"
    );
    // Plain yellow, unreadable on white, appears nowhere.
    assert!(!light.contains(";33m"), "{light:?}");
}

#[test]
fn piped_width_is_79_120_or_160() {
    for preset in ["default", "mig", "rtx4090", "h100x8", "faults"] {
        let text = stdout(&run(&["--simulate", preset]));
        // Terminal columns, not chars: the rows show real host processes,
        // whose commands may hold wide or combining characters.
        let widths: Vec<usize> = text.lines().map(nvitop_monitor::text::width).collect();
        let widest = widths.iter().copied().max().unwrap();
        assert!(
            [79, 120, 160].contains(&widest),
            "{preset}: widest line {widest}\n{text}"
        );
        // The process panel's frame spans the chosen width.
        let bottom = text.lines().last().unwrap();
        assert_eq!(nvitop_monitor::text::width(bottom), widest, "{preset}");
    }
}

#[test]
fn piped_width_follows_columns() {
    // As nvitop does: COLUMNS, when set, is the width of a piped run,
    // whatever the commands need (at least the table's 79).
    for (columns, want) in [("100", 100), ("200", 200), ("60", 79)] {
        let text = stdout(&cmd(&["--simulate", "h100x8"]).env("COLUMNS", columns).output().unwrap());
        let widest = text.lines().map(nvitop_monitor::text::width).max().unwrap();
        assert_eq!(widest, want, "COLUMNS={columns}");
        assert_eq!(nvitop_monitor::text::width(text.lines().last().unwrap()), want);
    }
    // Not a width: ignored.
    let text = stdout(&cmd(&["--simulate", "default"]).env("COLUMNS", "wide").output().unwrap());
    let widest = text.lines().map(nvitop_monitor::text::width).max().unwrap();
    assert!([79, 120, 160].contains(&widest));
}

#[test]
fn faults_preset_prints_the_healthy_gpus_around_a_lost_one() {
    // The faults preset loses a GPU at t = 30 s of simulated time.
    let output = cmd(&["--simulate", "faults", "--ascii"])
        .env("NVITOP_SIM_TIME", "60")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("ERROR:") && text.contains("lost"), "{text}");
    assert!(text.contains("N/A"), "{text}");
    assert!(text.contains("process list unavailable"), "{text}");
    assert!(text.contains("H100"), "{text}");
}

#[test]
fn mig_preset_shows_mig_sub_rows() {
    let text = stdout(&run(&["--simulate", "mig"]));
    assert!(text.contains("│ 0:0  MIG "), "{text}");
    assert!(text.contains("Enabled"), "{text}");
}

//! Training status end to end, with the SDK's own example training loop:
//! `examples/train_loop` runs on the simulator in the background (its
//! `GpuStatsLogger` publishes its status record into a private temp dir);
//! a simulator scenario binds its pid as a GPU process; then
//! - `nvitop-monitor --simulate <scenario> --json` gives that process a
//!   `training` object whose step grows between calls and whose phase goes
//!   to `validation` and back to `train`;
//! - in tmux, `-m` shows the progress mark in its row, and its metrics
//!   screen (Enter on the row) the training box;
//! - after the run ends (Ctrl-C's signal: `train_loop` ends its run as its
//!   last epoch would), the mark is gone.
//!
//! Every wait polls with a deadline: nothing here assumes how fast a
//! loaded machine runs the loop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod example_binary;
mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tmux::{Tmux, row_of};

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");

/// How long the JSON checks wait for a change the loop makes every few
/// seconds (a loaded 2-core machine can be slow).
const JSON_WAIT: Duration = Duration::from_mins(1);

/// Variables of the caller that would change what either program sees.
const CLEARED: [&str; 7] = [
    "NVITOP_SIMULATE",
    "NVITOP_SIM_SCENARIO",
    "NVITOP_SIM_HOST_PIDS",
    "NVITOP_NVML_LIBRARY",
    "NVITOP_LOGDIR",
    "CUDA_VISIBLE_DEVICES",
    "XDG_RUNTIME_DIR",
];

/// `train_loop` in the background, with the scenario that binds its pid.
struct Run {
    child: Child,
    temp: tempfile::TempDir,
    scenario: PathBuf,
}

impl Run {
    fn start() -> Self {
        let binary = example_binary::build("nvitop-examples", "train_loop");
        let temp = tempfile::tempdir().unwrap();
        let out = std::fs::File::create(temp.path().join("train_loop.out")).unwrap();
        let mut command = Command::new(binary);
        // About 40 steps of 50 ms (2 s), then a validation pass of 1.5 s,
        // per epoch: the record (written about once a second) shows both
        // phases, each long enough that polls spaced by a slow monitor run
        // on a loaded machine cannot keep landing in the other one (with
        // 0.5 s of training in a 2 s epoch, polls about 2 s apart once saw
        // only validation for a minute). The epochs outlast the test, which
        // ends the run with SIGINT.
        command
            .args(["--simulate", "--name", "e2e-run", "--logdir"])
            .arg(temp.path().join("runs"))
            .args(["--epochs", "100000", "--steps", "40", "--step-ms", "50"])
            .args(["--validation-ms", "1500"])
            .env("TMPDIR", temp.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for name in CLEARED {
            command.env_remove(name);
        }
        let child = command.spawn().unwrap();
        let scenario = temp.path().join("scenario.toml");
        let text = format!(
            "driver_version = \"560.35.03\"\ncuda_driver_version = \"12.6\"\n\n\
             [[gpus]]\nmodel = \"H100-SXM5-80GB\"\n\
             processes = [{{ pid = {}, memory_mib = 4096 }}]\n",
            child.id()
        );
        std::fs::write(&scenario, text).unwrap();
        Self { child, temp, scenario }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.temp.path().join("train_loop.out")).unwrap_or_default()
    }

    /// The monitor's JSON, with the same temp dir (so the same status
    /// directory) as the run.
    fn monitor_json(&self) -> Value {
        let mut command = Command::new(BIN);
        command
            .arg("--simulate")
            .arg(&self.scenario)
            .arg("--json")
            .env("TMPDIR", self.temp.path());
        for name in CLEARED {
            command.env_remove(name);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The `training` object of the run's process row, if it has one.
    fn training(&self) -> Option<Value> {
        let value = self.monitor_json();
        let row = value["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["pid"] == self.pid())
            .cloned();
        let row = row.unwrap_or_else(|| panic!("the scenario shows the run's pid: {value}"));
        row.get("training").cloned()
    }

    /// Polls the JSON until `done` holds for the run's training object;
    /// returns it.
    fn wait_json(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let training = self.training();
            if let Some(training) = training.as_ref().filter(|t| done(t)) {
                return training.clone();
            }
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "train_loop ended early:\n{}",
                self.output()
            );
            assert!(
                start.elapsed() < JSON_WAIT,
                "waited {JSON_WAIT:?} for {what}; last: {training:?}\ntrain_loop:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends the run as Ctrl-C would and waits for `train_loop` to exit.
    fn interrupt(&mut self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < JSON_WAIT,
                "train_loop did not end:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = self.output();
        assert!(status.success(), "{status:?}:\n{output}");
        assert!(output.contains("interrupted at step"), "{output}");
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn step(training: &Value) -> u64 {
    training["step"].as_u64().unwrap()
}

/// The step the mark in `row` shows (`step 123 · 19.8 it/s`,
/// `STALLED 4s · step 123`, `step 123 · val`), if any.
fn step_of(row: &str) -> Option<u64> {
    let after = row.split("step ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

fn env_prefix(temp: &Path) -> String {
    format!("env -u {} TMPDIR={}", CLEARED.join(" -u "), temp.display())
}

#[test]
fn train_loop_shows_in_json_and_in_the_live_viewer_until_its_run_ends() {
    let Some(()) = tmux::available("train_loop_shows_in_json_and_in_the_live_viewer_until_its_run_ends") else {
        return;
    };
    let mut run = Run::start();
    let pid = run.pid();

    // --json: the training object, its step growing between two calls.
    let first = run.wait_json("the training object", |t| t["step"].as_u64().is_some());
    assert_eq!(first["run_name"], "e2e-run", "{first}");
    assert!(first["log_dir"].as_str().unwrap().ends_with("runs/e2e-run"), "{first}");
    for key in ["epoch", "phase", "steps_per_second", "seconds_since_last_step"] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    let grown = run.wait_json("the step to grow", |t| step(t) > step(&first));
    // The phase follows the loop's validation hooks, there and back.
    let validating = run.wait_json("a validation record", |t| t["phase"] == "validation");
    assert!(step(&validating) >= step(&grown));
    run.wait_json("training again after validation", |t| {
        t["phase"] == "train" && step(t) > step(&validating)
    });

    // -m: the mark in the run's row, its step growing.
    let tmux = Tmux::shell(160, 40);
    tmux.type_line(&format!(
        "{} {BIN} -m --interval 0.25 --simulate {}; echo EXIT=$?",
        env_prefix(run.temp.path()),
        run.scenario.display()
    ));
    let screen = tmux.wait_for("the progress mark", |s| row_of(s, pid).and_then(step_of).is_some());
    let shown = step_of(row_of(&screen, pid).unwrap()).unwrap();
    tmux.wait_for("the step to grow on screen", |s| {
        row_of(s, pid).and_then(step_of).is_some_and(|step| step > shown)
    });

    // Down selects the (only) row, Enter opens its metrics screen with the
    // training box.
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("the training box", |s| {
        s.contains("TRAINING")
            && s.contains("run e2e-run")
            && (s.contains("phase train") || s.contains("phase validation"))
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the main screen", |s| row_of(s, pid).is_some());

    // The run ends: its record goes at close, and the mark with it.
    run.interrupt();
    tmux.wait_for("the mark to go", |s| s.lines().all(|line| step_of(line).is_none()));
    tmux.keys(&["q"]);
    tmux.wait_for("the monitor to exit", |s| s.contains("EXIT=0"));
}

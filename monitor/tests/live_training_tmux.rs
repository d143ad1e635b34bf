//! Training status in `nvitop-monitor -m` end to end in tmux: a helper
//! process (this test binary run again as `publishing_helper`) publishes
//! its training status with the SDK's `StatusPublisher`, as the logger's
//! worker thread does, into a private temp dir; a simulator scenario binds
//! its pid as a GPU process; the monitor, with the same temp dir, shows
//! the progress mark in its row and the training box on the process
//! metrics screen; after the helper exits the mark is gone.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod tmux;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tmux::{Tmux, row_of};

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");
/// Set in the helper's environment: run the publishing loop.
const HELPER_ENV: &str = "NVITOP_E2E_PUBLISH";

/// Not a test: the loop the helper process runs (a training loop's hooks
/// at about 20 steps a second, published as the logger does). Run only
/// when the test below starts it with `HELPER_ENV` set.
#[test]
#[ignore = "run by the_row_shows_the_mark_and_the_metrics_screen_the_box as its helper"]
fn publishing_helper() {
    use nvitop::training::publisher::{Hook, StatusPublisher, wall_now};
    assert!(
        std::env::var_os(HELPER_ENV).is_some(),
        "a helper process, started by the tmux test"
    );
    let mut publisher = StatusPublisher::start(Some("e2e-run".to_owned()), Some("/runs/e2e-run".into()), vec![0]);
    assert!(publisher.is_publishing());
    publisher.set_total_steps(Some(100_000));
    let start = Instant::now();
    let mut step = 0;
    while start.elapsed() < Duration::from_mins(2) {
        step += 1;
        publisher.hook(Hook::BatchStart, step, Some(1), wall_now());
        std::thread::sleep(Duration::from_millis(50));
        publisher.hook(Hook::BatchEnd, step, Some(1), wall_now());
        publisher.tick(Instant::now());
    }
}

struct Helper {
    child: Child,
    temp: tempfile::TempDir,
    scenario: tempfile::NamedTempFile,
}

impl Helper {
    fn start() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "publishing_helper", "--ignored", "--nocapture"])
            .env(HELPER_ENV, "1")
            .env("TMPDIR", temp.path())
            .env_remove("XDG_RUNTIME_DIR")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let text = format!(
            "driver_version = \"560.35.03\"\ncuda_driver_version = \"12.6\"\n\n\
             [[gpus]]\nmodel = \"H100-SXM5-80GB\"\n\
             processes = [{{ pid = {}, memory_mib = 4096 }}]\n",
            child.id()
        );
        let mut scenario = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut scenario, text.as_bytes()).unwrap();
        Self { child, temp, scenario }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The step the mark in `row` shows (`step 123 · 19.8 it/s`), if any.
fn step_of(row: &str) -> Option<u64> {
    let after = row.split("step ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

#[test]
fn the_row_shows_the_mark_and_the_metrics_screen_the_box() {
    let Some(()) = tmux::available("the_row_shows_the_mark_and_the_metrics_screen_the_box") else {
        return;
    };
    let mut helper = Helper::start();
    let pid = helper.child.id();
    let tmux = Tmux::shell(160, 40);
    let env = "env -u NVITOP_SIMULATE -u NVITOP_SIM_SCENARIO -u NVITOP_NVML_LIBRARY -u CUDA_VISIBLE_DEVICES -u XDG_RUNTIME_DIR";
    tmux.type_line(&format!(
        "{env} TMPDIR={} {BIN} -m --interval 0.25 --simulate {}; echo EXIT=$?",
        helper.temp.path().display(),
        helper.scenario.path().display()
    ));
    // The mark appears in the helper's row and its step grows.
    let screen = tmux.wait_for("the progress mark", |s| {
        row_of(s, pid).is_some_and(|r| r.contains(" it/s") && step_of(r).is_some())
    });
    let first = step_of(row_of(&screen, pid).unwrap()).unwrap();
    tmux.wait_for("the step to grow", |s| {
        row_of(s, pid).and_then(step_of).is_some_and(|step| step > first)
    });

    // Down selects the (only) row, Enter opens its metrics screen with
    // the box.
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("the training box", |s| {
        s.contains("TRAINING") && s.contains("run e2e-run   logdir /runs/e2e-run") && s.contains("phase train")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the main screen", |s| row_of(s, pid).is_some());

    // The run ends: the record is stale (its process is gone) and the
    // mark goes with it.
    let _ = helper.child.kill();
    let _ = helper.child.wait();
    tmux.wait_for("the mark to go", |s| !s.contains(" it/s") && !s.contains("STALLED"));
    tmux.keys(&["q"]);
    tmux.wait_for("the monitor to exit", |s| s.contains("EXIT=0"));
}

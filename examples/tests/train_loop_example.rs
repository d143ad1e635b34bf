//! Runs the `train_loop` example as a user would (`NVITOP_SIMULATE=1 cargo
//! run --example train_loop -- --name x`) and reads back what it wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::process::Command;

use nvitop::testing::tensorboard::scalar_tags;

mod common;
use common::{example, run_to_success, run_with_stdout_closed};

/// A fresh directory, removed when dropped (this package has no
/// `tempfile` dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nvitop-train-loop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn train_loop_logs_to_runs_name_and_prints_the_tensorboard_command() {
    let dir = TempDir::new("name");
    let stdout = run_to_success(
        Command::new(example("train_loop"))
            .args(["--name", "x", "--epochs", "2", "--steps", "5", "--step-ms", "0"])
            .current_dir(dir.path())
            .env("NVITOP_SIMULATE", "1")
            .env_remove("NVITOP_LOGDIR"),
    );
    assert!(stdout.contains("tensorboard --logdir runs"), "{stdout}");
    assert!(stdout.contains("epoch 1:"), "{stdout}");
    assert!(stdout.contains("0 dropped, 0 errors"), "{stdout}");

    let run = dir.path().join("runs/x");
    // Read back strictly: framing and both CRCs of every record.
    let tags = scalar_tags(&run).unwrap();
    for tag in [
        "gpu_id: 0/utilization.gpu (%)",
        "gpu_id: 0/memory.used (MiB)",
        "gpu_id: 0/temperature.gpu (C)",
        "batch_time/intra_step (ms)",
        "epoch_time/train (ms)",
        "train/loss",
        "validation/mse",
    ] {
        assert!(tags.contains(tag), "{tag} missing from {tags:?}");
    }
    let csv = std::fs::read_to_string(run.join("gpu_stats.csv")).unwrap();
    assert!(csv.starts_with("wall_time,step,epoch,kind,gpu_id: 0/"), "{csv}");
    assert!(csv.lines().next().unwrap().ends_with(",train/loss"), "{csv}");
    // 2 epochs × 5 steps × (batch start, batch end, the loss), plus each
    // epoch's end and validation end (their times); the end of training has
    // no value of its own and writes no blank row. The validation MSE is
    // not a declared column: it is in the side file.
    assert_eq!(csv.lines().count(), 1 + 30 + 4, "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|line| line.split(',').skip(4).any(|cell| !cell.is_empty())),
        "no blank rows: {csv}"
    );
    let side = std::fs::read_to_string(run.join("gpu_stats.scalars.csv")).unwrap();
    assert!(side.starts_with("wall_time,step,tag,value\n"), "{side}");
    assert_eq!(
        side.lines().filter(|l| l.contains(",validation/mse,")).count(),
        2,
        "{side}"
    );
    assert!(stdout.contains("CSV written to runs/x/gpu_stats.csv"), "{stdout}");
}

#[test]
fn train_loop_honours_nvitop_logdir_and_refuses_unknown_options() {
    let dir = TempDir::new("logdir");
    let stdout = run_to_success(
        Command::new(example("train_loop"))
            .args(["--name", "y", "--epochs", "1", "--steps", "2", "--step-ms", "0"])
            .env("NVITOP_SIMULATE", "1")
            .env("NVITOP_LOGDIR", dir.path().join("logs")),
    );
    let logs = dir.path().join("logs");
    assert!(
        stdout.contains(&format!("tensorboard --logdir {}", logs.display())),
        "{stdout}"
    );
    assert!(logs.join("y/gpu_stats.csv").is_file());

    let bad = Command::new(example("train_loop"))
        .arg("--bogus")
        .env("NVITOP_SIMULATE", "1")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--bogus"));
}

#[test]
fn train_loop_trains_on_when_its_reader_goes_away() {
    let dir = TempDir::new("closed-pipe");
    // As `| head -1`: the reader closes the pipe before training is done.
    run_with_stdout_closed(
        Command::new(example("train_loop"))
            .args(["--name", "p", "--epochs", "2", "--steps", "3", "--step-ms", "0"])
            .current_dir(dir.path())
            .env("NVITOP_SIMULATE", "1")
            .env_remove("NVITOP_LOGDIR"),
    );
    // The whole run still reached its files.
    let csv = std::fs::read_to_string(dir.path().join("runs/p/gpu_stats.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 18 + 4, "{csv}");
}

#[test]
fn train_loop_help_lists_its_options_and_simulate_needs_no_variable() {
    let help = run_to_success(Command::new(example("train_loop")).arg("--help"));
    for option in [
        "--name",
        "--logdir",
        "--epochs",
        "--steps",
        "--step-ms",
        "--gpus",
        "--every",
        "--flops-per-step",
        "--energy",
        "--simulate",
    ] {
        assert!(help.contains(option), "{option} missing from {help}");
    }
    let dir = TempDir::new("simulate");
    let stdout = run_to_success(
        Command::new(example("train_loop"))
            .args([
                "--simulate",
                "--name",
                "s",
                "--epochs",
                "1",
                "--steps",
                "20",
                "--step-ms",
                "0",
                "--every",
                "10",
            ])
            .current_dir(dir.path())
            .env_remove("NVITOP_SIMULATE")
            .env_remove("NVITOP_LOGDIR"),
    );
    assert!(stdout.contains("0 dropped, 0 errors"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("runs/s/gpu_stats.csv")).unwrap();
    // Every 10 steps: 2 × (batch start, batch end), 20 losses, epoch and validation ends.
    assert_eq!(csv.lines().count(), 1 + 4 + 20 + 2, "{csv}");
}

#[test]
fn train_loop_logs_mfu_and_energy_when_asked() {
    let dir = TempDir::new("mfu");
    let stdout = run_to_success(
        Command::new(example("train_loop"))
            .args([
                "--simulate",
                "--name",
                "m",
                "--epochs",
                "1",
                "--steps",
                "5",
                "--step-ms",
                "1",
                "--flops-per-step",
                "2e12",
                "--energy",
            ])
            .current_dir(dir.path())
            .env_remove("NVITOP_SIMULATE")
            .env_remove("NVITOP_LOGDIR"),
    );
    assert!(stdout.contains("0 dropped, 0 errors"), "{stdout}");
    assert!(!stdout.contains("note:"), "the simulated H100 has a peak: {stdout}");
    let tags = scalar_tags(dir.path().join("runs/m")).unwrap();
    for tag in [
        "mfu (%)",
        "throughput (TFLOP/s)",
        "gpu_id: 0/energy.step (J)",
        "gpu_id: 0/energy.total (J)",
    ] {
        assert!(tags.contains(tag), "{tag} missing from {tags:?}");
    }
    // The close report's total, printed per GPU.
    assert!(
        stdout.contains("gpu_id: 0: ") && stdout.contains(" J over the run"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.path().join("runs/m/gpu_stats.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let mfu = header.iter().position(|h| *h == "mfu (%)").unwrap();
    let values: Vec<f64> = csv
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(3) == Some("batch_end"))
        .map(|l| l.split(',').nth(mfu).unwrap().parse().unwrap())
        .collect();
    assert_eq!(values.len(), 5, "{csv}");
    // 2 TFLOP in at least 1 ms on a 989.5 TFLOP/s GPU: at most ~202 %, above 0.
    assert!(values.iter().all(|&v| v > 0.0 && v < 210.0), "{values:?}");
    let bad = Command::new(example("train_loop"))
        .args(["--simulate", "--flops-per-step", "lots"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--flops-per-step: 'lots' is not a positive number"));
}

//! The burn example's `--inline-panel`: in a real terminal (tmux) burn's
//! progress lines go above the panel, the panel (the GPU's bars, the step
//! of the total) stays below them and the terminal is left usable at the
//! end; with stdout not a terminal the flag changes nothing (burn's usual
//! lines, no escape sequence).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../../monitor/tests/tmux/mod.rs"]
mod tmux;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// `cargo test` builds the package's examples next to the test binaries'
/// `deps/` folder.
fn burn_mlp() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("burn_mlp")
}

/// Variables of the caller that would change what the example sees.
const CLEARED: [&str; 4] = [
    "NVITOP_SIM_SCENARIO",
    "NVITOP_NVML_LIBRARY",
    "CUDA_VISIBLE_DEVICES",
    "NVITOP_LOGDIR",
];

#[test]
fn without_a_terminal_the_flag_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(burn_mlp());
    command
        .args(["--inline-panel", "--epochs", "1", "--logdir"])
        .arg(dir.path())
        .env("NVITOP_SIMULATE", "1");
    for name in CLEARED {
        command.env_remove(name);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // burn's own CLI renderer, as without the flag.
    assert!(stdout.contains("Starting training for 1 epochs."), "{stdout}");
    assert!(stdout.contains("Split ended."), "{stdout}");
    assert!(stdout.contains("done: GPU statistics on"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no terminal control: {stdout:?}");
    assert!(!stdout.contains("step 16 / 16"), "no panel: {stdout}");
}

#[test]
fn in_a_terminal_the_panel_stays_below_burns_lines_and_the_terminal_is_restored() {
    let Some(()) = tmux::available("in_a_terminal_the_panel_stays_below_burns_lines_and_the_terminal_is_restored")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tmux = tmux::Tmux::shell(120, 30);
    tmux.type_line(&format!(
        "env -u {} NVITOP_SIMULATE=1 {} --inline-panel --epochs 3 --logdir {}; echo EXIT=$?",
        CLEARED.join(" -u "),
        burn_mlp().display(),
        dir.path().display()
    ));
    // burn's flex backend trains this in seconds or less; a loaded machine
    // may take longer.
    let screen = tmux.wait_for_in("the example to end", Duration::from_mins(2), |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("no line starting {what:?}:\n{screen}"))
    };
    assert_eq!(lines[at("EXIT=")], "EXIT=0", "{screen}");
    // The log lines, in order, then the panel's last frame, then what the
    // program printed after finishing the panel.
    let order = [
        at("Training for 3 epochs."),
        at("epoch 1 train: 16 batches, Loss "),
        at("epoch 1 valid: 2 batches, Loss "),
        at("epoch 3 valid: 2 batches, Loss "),
        at("Training ended."),
        at("step 48 / 48"),
        at("GPU 0"),
        at("done: GPU statistics on"),
        at("EXIT="),
    ];
    assert!(order.is_sorted(), "{order:?}\n{screen}");
    // The panel's GPU line has its bars; burn's per-batch CLI lines are
    // not printed (they would tear the panel).
    let gpu = lines[at("GPU 0")];
    assert!(
        gpu.contains("UTL") && gpu.contains("MEM") && gpu.contains("PWR"),
        "{gpu}"
    );
    assert!(!screen.contains("ProgressSnapshot"), "{screen}");
    // The terminal is usable again: the cursor shows, at the prompt.
    assert_eq!(tmux.format("#{cursor_flag}"), "1");
    tmux.wait_for("the prompt after the run", |s| {
        s.lines()
            .map(str::trim_end)
            .skip_while(|l| !l.starts_with("EXIT="))
            .nth(1)
            == Some("$")
    });
}

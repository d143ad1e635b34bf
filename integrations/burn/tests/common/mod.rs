//! Readers of what burn's Learner writes, shared by the integration tests.

use std::path::Path;

use burn::train::metric::NumericEntry;

/// The numeric entries of one of burn's metric log files.
pub fn burn_log(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| NumericEntry::deserialize(l).unwrap().current())
        .collect()
}

/// The GPU metrics' log files in one of burn's epoch folders.
pub fn gpu_metric_files(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("GPU"))
        .collect()
}

/// Runs the test `name` again in a child process without
/// `CUDA_VISIBLE_DEVICES` when this process has it (GPU machines often
/// do): the test's CUDA ordinals name the simulated GPUs as they are with
/// the variable unset. Returns whether the child ran it, in which case the
/// caller returns; the child must have run exactly that one test, and passed.
pub fn rerun_without_cuda_visible_devices(name: &str) -> bool {
    if std::env::var_os("CUDA_VISIBLE_DEVICES").is_none() {
        return false;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1"])
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} without CUDA_VISIBLE_DEVICES: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

//! A test helper both integrations' test suites include by path (`#[path]`):
//! they are separate workspaces, so they cannot share a crate for it.

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

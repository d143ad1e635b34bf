//! Helpers shared by the end-to-end and conformance tests.
//!
//! Conformance tests run real third-party readers (Python `tensorboard`,
//! Python `nvitop`, `gpustat`). They run when `NVITOP_CONFORMANCE_PYTHON`
//! names a Python interpreter that has them (`.ci/conformance` sets it up);
//! then a missing client is a failure, not a skip. Without the variable they
//! are skipped, so the README's plain `cargo test` needs no Python — unless
//! `NVITOP_CONFORMANCE=1` says they must run, as for the fake-NVML tests.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The Python interpreter for conformance tests, or `None` (skip) when not asked for.
///
/// # Panics
/// When `NVITOP_CONFORMANCE=1` but `NVITOP_CONFORMANCE_PYTHON` is unset: a
/// run that requires the conformance tests must not pass by skipping them.
pub fn conformance_python() -> Option<PathBuf> {
    let python = std::env::var_os("NVITOP_CONFORMANCE_PYTHON").map(PathBuf::from);
    assert!(
        python.is_some() || !conformance_required(),
        "NVITOP_CONFORMANCE=1 but NVITOP_CONFORMANCE_PYTHON is not set (a venv python with \
         tests/conformance/requirements.txt installed, as .ci/conformance makes)"
    );
    python
}

/// Whether `NVITOP_CONFORMANCE=1` requires the conformance tests to run.
pub fn conformance_required() -> bool {
    std::env::var("NVITOP_CONFORMANCE").is_ok_and(|v| v == "1")
}

/// A file under `tests/conformance/`.
pub fn conformance_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance").join(name)
}

/// Runs a Python conformance script; panics with its output when it fails,
/// since a missing reader must fail the run that asked for it.
///
/// # Panics
/// When the interpreter cannot be started or the script exits non-zero.
pub fn run_python(python: &PathBuf, script: &str, args: &[&std::ffi::OsStr]) -> Output {
    let mut command = python_script(python, script);
    command.args(args);
    run_script(&mut command, script)
}

/// The command that runs a conformance script, for callers that add
/// arguments and environment before [`run_script`].
pub fn python_script(python: &PathBuf, script: &str) -> Command {
    let mut command = Command::new(python);
    command.arg(conformance_script(script));
    command
}

/// Runs a conformance script's command; panics with its output when it fails.
///
/// # Panics
/// When the interpreter cannot be started or the script exits non-zero.
pub fn run_script(command: &mut Command, script: &str) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {script}: {err}"));
    assert!(
        out.status.success(),
        "{script} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

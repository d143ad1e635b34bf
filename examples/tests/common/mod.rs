//! What the example tests share: finding a built example, running it to
//! success, running it for a reader that goes away.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `cargo test` builds the package's examples next to the test binaries'
/// `deps/` folder.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join(name)
}

/// Runs `command` to the end and checks that it succeeded (showing both
/// streams when not); its standard output.
pub fn run_to_success(command: &mut Command) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `command` as under `| head -1`, its stdout closed before it is
/// done, and checks that it still succeeded without a panic; its output
/// (stderr only).
pub fn run_with_stdout_closed(command: &mut Command) -> Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    out
}

//! Builds an example of a workspace package for the test that runs it.
//! `cargo test` builds the examples of the package under test only, and
//! examples have no `CARGO_BIN_EXE_*`, so the test runs `cargo build` for
//! the same profile and target directory itself (a no-op once built).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The path of `example` of `package`, built first.
pub fn build(package: &str, example: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let target_dir = profile_dir.parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "-p", package, "--example", example, "--target-dir"])
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "building the {example} example of {package} failed");
    profile_dir.join("examples").join(example)
}

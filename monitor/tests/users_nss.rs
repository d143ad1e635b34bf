//! `-u` accepts a user that only the system's user database knows (LDAP or
//! SSSD on a cluster, played here by Debian's `libnss-wrapper`), and shows
//! that user's processes under its name. As root the test starts a real
//! process as that user and binds it to a simulated GPU; without root or
//! without the library it says so and passes, unless
//! `NVITOP_REQUIRE_PRIVILEGED_TESTS=1` (set in CI) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// The SDK's test helpers: the one skip-or-fail rule and the NSS wrapper.
#[allow(dead_code)]
#[path = "../../sdk/tests/common/mod.rs"]
mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");

fn monitor(args: &[&str], env: &[(&'static str, std::ffi::OsString)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NVITOP_SIMULATE")
        .env_remove("NVITOP_SIM_SCENARIO")
        .env_remove("NVITOP_SIM_HOST_PIDS")
        .env_remove("NVITOP_NVML_LIBRARY")
        .env_remove("CUDA_VISIBLE_DEVICES")
        .env("NVITOP_SIM_TIME", "10")
        .envs(env.iter().cloned())
        .output()
        .unwrap()
}

#[test]
fn a_user_only_the_directory_knows_is_accepted_by_dash_u() {
    let (name, uid) = common::NSS_ONLY_USER;
    if !rustix::process::geteuid().is_root() {
        common::skip_or_fail("not root, so no process can be started as the directory-only user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(wrapper) = common::nss_wrapper_env(dir.path()) else {
        common::skip_or_fail("libnss_wrapper.so not found (apt-get install libnss-wrapper)");
        return;
    };
    let mut owned = Command::new("sleep")
        .arg("30")
        .uid(uid)
        .gid(uid)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = owned.id();
    for _ in 0..500 {
        if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // A simulated GPU runs the user's process.
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        format!("[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [{{ pid = {pid}, memory_mib = 512 }}]\n"),
    )
    .unwrap();
    let scenario = scenario.to_str().unwrap();

    let with = monitor(&["--simulate", scenario, "--json", "-u", name], &wrapper);
    let without = monitor(&["--simulate", scenario, "--json", "-u", name], &[]);
    owned.kill().unwrap();
    owned.wait().unwrap();

    let stderr = String::from_utf8_lossy(&with.stderr);
    assert!(with.status.success(), "-u {name} through NSS: {stderr}");
    let json: Value = serde_json::from_slice(&with.stdout).unwrap();
    let processes = json["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 1, "{processes:?}");
    assert_eq!(processes[0]["pid"].as_u64(), Some(u64::from(pid)));
    assert_eq!(processes[0]["host"]["username"].as_str(), Some(name));

    // The same run without the directory: no such user (proof the name
    // came through NSS, not from /etc/passwd).
    assert_eq!(
        without.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains(&format!("unknown user '{name}'")));
}

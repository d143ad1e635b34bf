//! User names come from the system's user database through the C library
//! (NSS), not from `/etc/passwd` alone: on GPU clusters users live in LDAP
//! or SSSD. Debian's `libnss-wrapper` plays such a directory: a user that
//! exists only in its files owns a real process (started as root with that
//! uid), and the SDK names it. The test runs itself again with the wrapper
//! preloaded. Without root or without the library it says so and passes,
//! unless `NVITOP_REQUIRE_PRIVILEGED_TESTS=1` (set in CI) makes that a
//! failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// Only the skip and NSS-wrapper helpers are used here.
#[allow(dead_code)]
mod common;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nvitop::HostProcess;
use nvitop::process::host_process_info;

/// Set, to the pid of the directory-only user's process, in the copy of
/// the test that runs with the wrapper.
const INSIDE_ENV: &str = "NVITOP_TEST_NSS_OWNED_PID";
const TEST_NAME: &str = "a_user_only_the_directory_knows_is_named";

/// A `sleep` owned by `uid`, past its `exec`.
fn sleeper_of(uid: u32) -> Child {
    let child = Command::new("sleep")
        .arg("30")
        .uid(uid)
        .gid(uid)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if std::fs::read(format!("/proc/{}/cmdline", child.id())).is_ok_and(|c| c.starts_with(b"sleep")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

#[test]
fn a_user_only_the_directory_knows_is_named() {
    let (name, uid) = common::NSS_ONLY_USER;
    if let Ok(pid) = std::env::var(INSIDE_ENV) {
        // With the wrapper: the C library knows the user, both ways.
        let pid: u32 = pid.parse().unwrap();
        assert_eq!(nvitop::users::user_id(name), Some(uid));
        assert_eq!(nvitop::users::user_name(uid).as_deref(), Some(name));
        assert_eq!(host_process_info(pid).unwrap().username.as_deref(), Some(name));
        assert_eq!(HostProcess::new(pid).unwrap().username().as_deref(), Some(name));
        return;
    }
    if !rustix::process::geteuid().is_root() {
        common::skip_or_fail("not root, so no process can be started as the directory-only user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(wrapper) = common::nss_wrapper_env(dir.path()) else {
        common::skip_or_fail("libnss_wrapper.so not found (apt-get install libnss-wrapper)");
        return;
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        !passwd.lines().any(|l| l.starts_with(&format!("{name}:"))),
        "{name} must not be in /etc/passwd for this test"
    );
    let mut owned = sleeper_of(uid);
    let pid = owned.id();
    // Without the wrapper the owner has no name: a bare uid, as `ps` shows.
    assert_eq!(host_process_info(pid).unwrap().username, Some(uid.to_string()));
    assert_eq!(nvitop::users::user_id(name), None);

    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture"])
        .envs(wrapper)
        .env(INSIDE_ENV, pid.to_string())
        .output()
        .unwrap();
    owned.kill().unwrap();
    owned.wait().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "with the NSS wrapper:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the wrapped half did not run:\n{stdout}");
}

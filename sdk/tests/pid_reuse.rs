//! A handle whose pid was reused by a new process refuses to signal it.
//!
//! Pids wrap around only after the whole range is used, so on a normal
//! host reuse cannot be forced. In a pid namespace of our own it can: the
//! test runs itself again under `unshare --user --map-root-user --pid
//! --fork --mount-proc` (no privileges needed where user namespaces are
//! enabled), where it is pid 1, nothing else takes pids, and writing
//! `/proc/sys/kernel/ns_last_pid` makes the kernel hand out a chosen pid
//! next. Where namespaces are not available the test says so and passes,
//! unless `NVITOP_REQUIRE_PRIVILEGED_TESTS=1` (set in CI) makes that a
//! failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// Only `skip_or_fail` is used here.
#[allow(dead_code)]
mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::time::Duration;

use nvitop::{Error, HostProcess};

/// Set in the copy of the test that runs inside the namespace.
const INSIDE_ENV: &str = "NVITOP_TEST_INSIDE_PID_NAMESPACE";
const TEST_NAME: &str = "a_reused_pid_is_refused_and_its_new_owner_untouched";

fn sleeper() -> Child {
    Command::new("sleep").arg("30").spawn().unwrap()
}

#[test]
fn a_reused_pid_is_refused_and_its_new_owner_untouched() {
    if std::env::var_os(INSIDE_ENV).is_some() {
        inside_the_namespace();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--pid", "--fork", "--mount-proc"])
        .arg(exe)
        .args(["--exact", TEST_NAME, "--nocapture"])
        .env(INSIDE_ENV, "1")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => {
            common::skip_or_fail(&format!("cannot run unshare ({err}), so no forced pid reuse"));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // unshare reports its own failures (namespaces disabled) on stderr,
    // prefixed with its name, before the test binary ever runs.
    if !output.status.success() && output.status.code() != Some(101) && stderr.starts_with("unshare:") {
        common::skip_or_fail(&format!(
            "no pid namespace here ({}), so no forced pid reuse",
            stderr.trim()
        ));
        return;
    }
    assert!(output.status.success(), "inside the namespace:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the namespaced half did not run:\n{stdout}"
    );
}

fn inside_the_namespace() {
    assert_eq!(std::process::id(), 1, "expected to be pid 1 of a new pid namespace");
    let mut first = sleeper();
    let pid = first.id();
    let stale = HostProcess::new(pid).unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!stale.is_running());
    // Identity is (pid, start time in clock ticks): a process started
    // within the same tick (10 ms at 100 Hz) would be indistinguishable.
    // Real reuse needs the whole pid range to wrap first; here, wait out
    // a few ticks so the new process starts later, as any reuser would.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
    let mut second = sleeper();
    assert_eq!(second.id(), pid, "the kernel should have reused pid {pid}");
    let current = HostProcess::new(pid).unwrap();
    assert_ne!(current.start_ticks(), stale.start_ticks());

    // The stale handle sees that its process is gone, reads nothing of the
    // new one, and refuses every signal.
    assert!(!stale.is_running());
    assert_eq!(stale.name(), None);
    assert_eq!(stale.ppid(), None);
    for result in [
        stale.terminate(),
        stale.kill(),
        stale.interrupt(),
        stale.send_signal(10),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::PidReused { pid: p } if p == pid), "{err:?}");
        assert!(err.to_string().contains("different process"), "{err}");
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the new owner of the pid was signalled"
    );

    // A handle to the new process works as usual.
    assert!(current.is_running());
    current.kill().unwrap();
    assert_eq!(second.wait().unwrap().signal(), Some(9));
}

//! GPU and host processes: getters, identity and signals.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// Only `skip_or_fail` is used here.
#[allow(dead_code)]
mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::{Device, Error, GpuProcess, HostProcess};

fn own_gpu_process() -> GpuProcess {
    let sim = SimBackend::default_machine();
    sim.set_time(5.0);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let me = std::process::id();
    Device::all_in(&backend)
        .unwrap()
        .iter()
        .flat_map(|d| d.processes().unwrap_or_default())
        .find(|p| p.pid() == me)
        .expect("the default machine runs the calling process on a GPU")
}

#[test]
fn gpu_process_getters() {
    let p = own_gpu_process();
    assert_eq!(p.pid(), std::process::id());
    let mem = p.gpu_memory().unwrap();
    assert!(mem > 0);
    assert!(p.gpu_memory_human().unwrap().ends_with("iB"));
    let pct = p.gpu_memory_percent().unwrap();
    assert!(pct > 0.0 && pct <= 100.0);
    assert!(["C", "G", "C+G"].contains(&p.type_label()));
    assert_eq!(p.kind().label(), p.type_label());
    assert!(p.gpu_sm_utilization().unwrap() <= 100);
    assert!(p.gpu_memory_utilization().unwrap() <= 100);
    assert!(p.gpu_encoder_utilization().unwrap() <= 100);
    assert!(p.gpu_decoder_utilization().unwrap() <= 100);
    assert_eq!(p.device().index(), p.as_snapshot().physical_index);
    let host = p.host().unwrap();
    assert_eq!(host.pid(), p.pid());
    let snap = p.as_snapshot();
    assert_eq!(snap.pid, p.pid());
    assert_eq!(snap.host.unwrap().pid, p.pid());
}

#[test]
fn host_process_getters_on_self() {
    let me = HostProcess::current();
    assert!(me.is_running());
    assert_eq!(HostProcess::new(me.pid()).unwrap(), me);
    assert!(!me.name().unwrap().is_empty());
    let cmdline = me.cmdline().unwrap();
    assert!(!cmdline.is_empty());
    assert!(me.command().unwrap().contains(cmdline[0].rsplit('/').next().unwrap()));
    assert_eq!(me.cwd().unwrap(), std::env::current_dir().unwrap());
    assert!(me.username().is_some());
    assert!(!me.status().unwrap().is_empty());
    assert!(me.cpu_percent().unwrap() >= 0.0);
    let mem = me.memory_percent().unwrap();
    assert!(mem > 0.0 && mem < 100.0);
    assert!(me.rss().unwrap() > 0);
    assert!(me.create_time().unwrap() > 1_600_000_000);
    assert!(me.running_time().unwrap() < Duration::from_hours(24));
    assert!(me.running_time_human().unwrap().contains(':'));
    assert_eq!(me.ppid(), Some(std::os::unix::process::parent_id()));
    assert_eq!(me.parent().unwrap().pid(), std::os::unix::process::parent_id());
    assert!(me.start_ticks() > 0);
}

#[test]
fn children_are_listed() {
    let mut child = Command::new("sleep").arg("30").stdout(Stdio::null()).spawn().unwrap();
    let me = HostProcess::current();
    let found = me.children().iter().any(|c| c.pid() == child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(found);
}

#[test]
fn no_such_process_is_an_error() {
    let err = HostProcess::new(u32::MAX - 7).unwrap_err();
    assert!(matches!(err, Error::NoSuchProcess { .. }), "{err}");
}

#[test]
fn signals_reach_a_live_child() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let handle = HostProcess::new(child.id()).unwrap();
    handle.terminate().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn a_stale_handle_refuses_after_exit_and_reuse() {
    let mut child = Command::new("true").spawn().unwrap();
    let handle = HostProcess::new(child.id()).unwrap();
    child.wait().unwrap();
    // The child is reaped: its pid is free (or already someone else's).
    assert!(!handle.is_running());
    assert_eq!(handle.name(), None);
    let err = handle.kill().unwrap_err();
    assert!(
        matches!(err, Error::NoSuchProcess { .. } | Error::PidReused { .. }),
        "{err}"
    );
}

/// What the unprivileged half of the permission test signals (a pid).
const SIGNAL_TARGET_ENV: &str = "NVITOP_TEST_SIGNAL_TARGET";

/// Signalling another user's process comes back as
/// `Error::PermissionDenied`, never a panic. The test needs a process it
/// may not signal, so run as root it starts a root-owned `sleep` and runs
/// itself again as `nobody` (uid 65534, which drops every capability) to
/// signal it; run as another user it has nothing safe to try and says so
/// (a failure under `NVITOP_REQUIRE_PRIVILEGED_TESTS=1`).
#[test]
fn signalling_another_users_process_is_permission_denied() {
    use std::os::unix::process::CommandExt;
    if let Ok(target) = std::env::var(SIGNAL_TARGET_ENV) {
        // The unprivileged half.
        let pid: u32 = target.parse().unwrap();
        let process = HostProcess::new(pid).unwrap();
        let err = process.terminate().unwrap_err();
        assert!(
            matches!(&err, Error::PermissionDenied { pid: p, .. } if *p == pid),
            "{err:?}"
        );
        assert!(err.to_string().contains("permission denied"), "{err}");
        assert!(process.is_running());
        return;
    }
    if !rustix::process::geteuid().is_root() {
        common::skip_or_fail("not root, so there is no process this test may safely try to signal");
        return;
    }
    let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "signalling_another_users_process_is_permission_denied",
            "--nocapture",
        ])
        .env(SIGNAL_TARGET_ENV, victim.id().to_string())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let still_running = victim.try_wait().unwrap().is_none();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "as nobody:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the unprivileged half did not run:\n{stdout}"
    );
    assert!(still_running, "the refused signal reached the process");
}

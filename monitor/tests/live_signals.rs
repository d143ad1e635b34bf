//! The signal dialog's path on real processes, without a terminal: the
//! dialog's targets go through `signals::send` and the SDK's
//! (pid, start time) guard. A child selected and confirmed dies of the
//! signal; a target whose start time no longer matches its pid (what a pid
//! reused between selection and confirmation looks like) is not signalled
//! and the status line says why. (`live_tmux.rs` does the same through
//! the binary's keys.)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nvitop::HostProcess;
use nvitop_monitor::live::rows::ProcessKey;
use nvitop_monitor::live::signals;
use nvitop_monitor::live::state::{Action, AppState, Context, Effect, SignalKind};

fn sleeper() -> (Child, ProcessKey) {
    let child = Command::new("sleep").arg("300").spawn().unwrap();
    let start = HostProcess::new(child.id()).unwrap().start_ticks();
    let key = ProcessKey {
        pid: child.id(),
        start_ticks: Some(start),
        device: "0".to_owned(),
    };
    (child, key)
}

/// Selects `key`, presses the signal, confirms; returns what was sent and
/// the status line `send` made of it.
fn confirm(kind: SignalKind, key: &ProcessKey) -> String {
    let rows = [key.clone()];
    let cx = Context { rows: &rows, page: 10 };
    let mut state = AppState::default();
    state.apply(Action::Down, cx);
    state.apply(Action::Signal(kind), cx);
    match state.apply(Action::DialogApply, cx) {
        Effect::Send(sent, targets) => {
            assert_eq!(sent, kind);
            signals::send(sent, &targets)
        }
        other => panic!("no signal sent: {other:?}"),
    }
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn a_confirmed_signal_reaches_the_child() {
    for (kind, number) in [
        (SignalKind::Kill, libc::SIGKILL),
        (SignalKind::Term, libc::SIGTERM),
        (SignalKind::Int, libc::SIGINT),
    ] {
        let (mut child, key) = sleeper();
        let status = confirm(kind, &key);
        assert_eq!(status, format!("{} sent to {}", kind.name(), key.pid));
        assert_eq!(child.wait().unwrap().signal(), Some(number));
    }
}

#[test]
fn a_reused_pid_is_not_signalled() {
    let (mut child, key) = sleeper();
    // The pid now names a process that started at another time.
    let stale = ProcessKey {
        start_ticks: key.start_ticks.map(|t| t.saturating_sub(1)),
        ..key.clone()
    };
    let status = confirm(SignalKind::Kill, &stale);
    assert_eq!(
        status,
        format!(
            "SIGKILL not sent to {} (pid reused by another process, not signalled)",
            key.pid
        )
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(&mut child));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_gone_process_is_reported() {
    let (mut child, key) = sleeper();
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while HostProcess::new(key.pid).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = confirm(SignalKind::Term, &key);
    assert_eq!(status, format!("SIGTERM not sent to {} (already gone)", key.pid));
}

#[test]
fn readonly_never_reaches_the_dialog() {
    let (mut child, key) = sleeper();
    let rows = [key];
    let cx = Context { rows: &rows, page: 10 };
    let mut state = AppState {
        readonly: true,
        ..AppState::default()
    };
    state.apply(Action::Down, cx);
    state.apply(Action::Signal(SignalKind::Kill), cx);
    assert!(state.dialog.is_none());
    assert_eq!(state.apply(Action::DialogApply, cx), Effect::None);
    assert!(alive(&mut child));
    child.kill().unwrap();
    child.wait().unwrap();
}

//! `nvitop-monitor -m` end to end in tmux, as a person uses it: on the
//! simulator (`--simulate SCENARIO`) and through the fake NVML library
//! (`NVITOP_NVML_LIBRARY`), with real `sleep` children bound as the GPU
//! processes of a scenario. Start, move, sort, filter, resize to 20×5 and
//! back, quit, and the shell's terminal is sane afterwards; signals reach
//! (or, with `--readonly`, do not reach) the real child.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod tmux;

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tmux::{Machine, Tmux, row_of};

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");

/// Signal checks on the shared machine's children.
trait WaitSignal {
    fn wait_signal(&mut self, i: usize) -> Option<i32>;
}

impl WaitSignal for Machine {
    /// Waits for child `i` to end; its signal, if a signal ended it.
    fn wait_signal(&mut self, i: usize) -> Option<i32> {
        let deadline = Instant::now() + tmux::WAIT;
        loop {
            if let Some(status) = self.children[i].try_wait().unwrap() {
                return status.signal();
            }
            assert!(Instant::now() < deadline, "child {} is still alive", self.pid(i));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// How the monitor reaches the machine.
#[derive(Clone, Copy, Debug)]
enum Via {
    Simulate,
    FakeNvml,
}

/// The shell command that runs the monitor on `machine` with `args`, then
/// prints its exit status.
fn command(machine: &Machine, via: Via, lib: Option<&Path>, args: &str) -> String {
    let scenario = machine.scenario().display();
    let env = "env -u NVITOP_SIMULATE -u NVITOP_SIM_SCENARIO -u NVITOP_NVML_LIBRARY -u CUDA_VISIBLE_DEVICES";
    match via {
        Via::Simulate => format!("{env} {BIN} -m --simulate {scenario} {args}; echo EXIT=$?"),
        Via::FakeNvml => format!(
            "{env} NVITOP_NVML_LIBRARY={} NVITOP_SIM_SCENARIO={scenario} {BIN} -m {args}; echo EXIT=$?",
            lib.unwrap().display()
        ),
    }
}

fn the_whole_flow(via: Via) {
    let Some(()) = tmux::available("the_whole_flow") else {
        return;
    };
    let machine = Machine::spawn(3000, None);
    let lib = matches!(via, Via::FakeNvml).then(nvidia_ml::testing::FakeLib::new);
    let tmux = Tmux::shell(120, 40);
    tmux.type_line(&command(
        &machine,
        via,
        lib.as_ref().map(nvidia_ml::testing::FakeLib::path).as_deref(),
        "",
    ));

    // Start: devices at once, then the processes.
    let screen = tmux.wait_for("the process rows", |s| {
        s.contains("(Press h for help or q to quit)") && (0..3).all(|i| row_of(s, machine.pid(i)).is_some())
    });
    assert!(screen.contains("H100"), "{screen}");
    assert_eq!(tmux.format("#{alternate_on}"), "1");

    // Move: Down selects the first row (GPU 0, lower pid first), drawn reversed.
    tmux.keys(&["Down"]);
    let first = machine.pid(0).min(machine.pid(1));
    tmux.wait_for_styled("the selected row", |s| {
        s.lines()
            .any(|l| l.contains("\u{1b}[7m") && l.contains(&first.to_string()))
    });

    // Sort: by PID descending (`o` `P`): the header says so and the
    // highest pid comes first.
    tmux.keys(&["o", "P"]);
    let screen = tmux.wait_for("the PID sort", |s| s.contains("PID▼"));
    let at = |pid: u32| screen.find(&format!(" {pid} ")).unwrap();
    let (a, b, c) = (at(machine.pid(0)), at(machine.pid(1)), at(machine.pid(2)));
    assert!(c < b && b < a, "{screen}");

    // Filter: `\`, the second child's pid, Enter: only its row is left.
    tmux.keys(&["\\"]);
    tmux.text(&machine.pid(1).to_string());
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the filtered list", |s| {
        s.contains("Filter: ") && row_of(s, machine.pid(0)).is_none() && row_of(s, machine.pid(2)).is_none()
    });
    assert!(row_of(&screen, machine.pid(1)).is_some(), "{screen}");

    // Resize to 20×5: the message, no table; back: the table again.
    tmux.resize(20, 5);
    tmux.wait_for("the narrow message", |s| {
        s.contains("needs") && !s.contains("Processes")
    });
    tmux.resize(120, 40);
    tmux.wait_for("the table again", |s| row_of(s, machine.pid(1)).is_some());

    // Quit: exit status 0, the shell is back, the terminal sane.
    tmux.keys(&["q"]);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
    assert_eq!(tmux.format("#{alternate_on} #{cursor_flag}"), "0 1");
    tmux.type_line("stty -a; echo STTY=done");
    let screen = tmux.wait_for("stty", |s| s.contains("STTY=done"));
    assert!(
        !screen.contains("-icanon") && !screen.contains("-echo ") && !screen.contains("-isig"),
        "{screen}"
    );
}

#[test]
fn start_move_sort_filter_resize_quit_on_the_simulator() {
    the_whole_flow(Via::Simulate);
}

#[test]
fn start_move_sort_filter_resize_quit_through_the_fake_nvml_library() {
    the_whole_flow(Via::FakeNvml);
}

/// Selects the child at index `i` (filtering by its pid), presses `key`
/// and, when `confirm`, Enter; returns the tmux session.
fn signal_child(machine: &Machine, i: usize, args: &str, key: &str, confirm: bool) -> Tmux {
    let tmux = Tmux::shell(120, 40);
    tmux.type_line(&command(machine, Via::Simulate, None, args));
    tmux.wait_for("the process rows", |s| row_of(s, machine.pid(i)).is_some());
    tmux.keys(&["\\"]);
    tmux.text(&machine.pid(i).to_string());
    tmux.keys(&["Enter", "Down"]);
    tmux.keys(&[key]);
    if confirm {
        tmux.wait_for("the dialog", |s| s.contains("SIGKILL") && s.contains("Cancel"));
        tmux.keys(&["Enter"]);
    }
    tmux
}

#[test]
fn k_then_enter_kills_the_selected_child() {
    let Some(()) = tmux::available("k_then_enter_kills_the_selected_child") else {
        return;
    };
    let mut machine = Machine::spawn(3000, None);
    let tmux = signal_child(&machine, 1, "", "K", true);
    assert_eq!(machine.wait_signal(1), Some(libc::SIGKILL));
    let screen = tmux.wait_for("the status line", |s| s.contains("SIGKILL sent to"));
    assert!(
        screen.contains(&format!("SIGKILL sent to {}", machine.pid(1))),
        "{screen}"
    );
    // The others live on.
    assert!(machine.children[0].try_wait().unwrap().is_none());
    tmux.keys(&["q"]);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
}

#[test]
fn readonly_sends_nothing() {
    let Some(()) = tmux::available("readonly_sends_nothing") else {
        return;
    };
    let machine = Machine::spawn(3000, None);
    let mut machine = machine;
    let tmux = signal_child(&machine, 0, "--readonly", "K", false);
    let screen = tmux.wait_for("the read-only note", |s| s.contains("--readonly"));
    assert!(!screen.contains("Cancel"), "no dialog under --readonly:\n{screen}");
    // (Enter, with no dialog open, shows the process's metrics; Esc
    // returns to the main screen, where `q` quits.)
    tmux.keys(&["T", "I", "Enter", "Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        machine.children[0].try_wait().unwrap().is_none(),
        "the child was signalled"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    let Some(()) = tmux::available("sigterm_and_sighup_give_the_terminal_back") else {
        return;
    };
    let machine = Machine::spawn(3000, None);
    for (signal, status) in [
        (rustix::process::Signal::TERM, "EXIT=143"),
        (rustix::process::Signal::HUP, "EXIT=129"),
    ] {
        let tmux = Tmux::shell(100, 30);
        tmux.type_line(&command(&machine, Via::Simulate, None, ""));
        tmux.wait_for("the viewer", |s| s.contains("Processes:"));
        // The monitor is the shell's only child.
        let shell: i32 = tmux.format("#{pane_pid}").parse().unwrap();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        let monitor: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
        let comm = std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap();
        assert!(comm.starts_with("nvitop-monitor"), "{comm}");
        rustix::process::kill_process(rustix::process::Pid::from_raw(monitor).unwrap(), signal).unwrap();
        tmux.wait_for("the exit status", |s| s.contains(status));
        assert_eq!(tmux.format("#{alternate_on} #{cursor_flag}"), "0 1", "{signal:?}");
        tmux.type_line("stty -a; echo STTY=done");
        let screen = tmux.wait_for("stty", |s| s.contains("STTY=done"));
        assert!(
            !screen.contains("-icanon") && !screen.contains("-echo "),
            "{signal:?}: {screen}"
        );
    }
}

#[test]
fn without_a_terminal_m_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["-m", "--simulate"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("-m needs a terminal"), "{stderr}");
}

#[test]
fn interval_below_the_minimum_is_a_usage_error() {
    let out = Command::new(BIN).args(["-m", "--interval", "0.1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0.1"));
}

/// A slow driver through the binary: `NVITOP_SIM_LATENCY=500ms` delays every
/// simulated driver call (the SDK's latency model). The help key and the key
/// that leaves help must change the screen within 50 ms (median; the worst
/// under 250 ms, half a driver call) while the collector is inside the
/// driver. It first checks that the latency is in effect (a one-shot run
/// must take at least 500 ms), so it fails, rather than passes, where the
/// setting is not understood.
#[test]
fn slow_driver_keys_in_tmux() {
    let Some(()) = tmux::available("slow_driver_keys_in_tmux") else {
        return;
    };
    let machine = Machine::spawn(3000, None);
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["--simulate", machine.scenario().to_str().unwrap()])
        .env("NVITOP_SIM_LATENCY", "500ms")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "NVITOP_SIM_LATENCY=500ms is not in effect: a one-shot run took {:?}",
        started.elapsed()
    );
    let tmux = Tmux::shell(120, 40);
    tmux.type_line(&format!(
        "NVITOP_SIM_LATENCY=500ms {}",
        command(&machine, Via::Simulate, None, "")
    ));
    // With every call taking 500 ms, a first full reading of the machine
    // takes tens of seconds: the keys are pressed while the collector is
    // still inside the driver, which is the point. The help screen and
    // back give a visible frame for each key on any screen.
    tmux.wait_for("the first frame", |s| s.contains("Press h for help"));
    let mut latencies = Vec::new();
    for (i, key) in ["h", "x"].into_iter().cycle().take(10).enumerate() {
        std::thread::sleep(Duration::from_millis(97 * (i as u64 % 4)));
        let before = tmux.screen();
        let sent = Instant::now();
        tmux.keys(&[key]);
        let start = Instant::now();
        while tmux.screen() == before {
            assert!(start.elapsed() < tmux::WAIT, "no frame after {key}");
        }
        latencies.push(sent.elapsed());
    }
    tmux.keys(&["q"]);
    latencies.sort();
    assert!(
        latencies[latencies.len() / 2] < Duration::from_millis(50),
        "{latencies:?}"
    );
    assert!(
        latencies[latencies.len() - 1] < Duration::from_millis(250),
        "{latencies:?}"
    );
}

/// Not a test by itself: run by `a_panic_gives_the_terminal_back` inside
/// tmux (this test binary, with `NVITOP_TEST_PANIC_CHILD` set), it takes
/// the terminal as the viewer does and panics.
#[test]
fn panic_child() {
    if std::env::var_os("NVITOP_TEST_PANIC_CHILD").is_none() {
        return;
    }
    let _guard = nvitop_monitor::live::terminal::TerminalGuard::enter().unwrap();
    print!("inside the viewer's terminal");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    panic!("a deliberate panic with the terminal taken");
}

#[test]
fn a_panic_gives_the_terminal_back() {
    let Some(()) = tmux::available("a_panic_gives_the_terminal_back") else {
        return;
    };
    let me = std::env::current_exe().unwrap();
    let tmux = Tmux::shell(100, 30);
    tmux.type_line(&format!(
        "NVITOP_TEST_PANIC_CHILD=1 {} panic_child --exact --nocapture --test-threads 1; echo EXIT=$?",
        me.display()
    ));
    // (The typed command line holds `EXIT=$?` too.)
    let screen = tmux.wait_for("the exit status", |s| s.lines().any(|l| l.starts_with("EXIT=")));
    // The panic message is on the normal screen, readable, after the
    // terminal was given back.
    assert!(screen.contains("a deliberate panic"), "{screen}");
    assert!(!screen.contains("EXIT=0"), "{screen}");
    assert_eq!(tmux.format("#{alternate_on} #{cursor_flag}"), "0 1");
    tmux.type_line("stty -a; echo STTY=done");
    let screen = tmux.wait_for("stty", |s| s.contains("STTY=done"));
    assert!(!screen.contains("-icanon") && !screen.contains("-echo "), "{screen}");
}

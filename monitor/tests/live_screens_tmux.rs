//! The screens of `nvitop-monitor -m` end to end in tmux, on the
//! simulator with real `sleep` children bound as the GPU processes: help,
//! process metrics (its graphs fill in), the tree (the test's own process
//! chain), the environment (a variable the test set on its child), each
//! opened from the main screen and left again, and a mouse click that
//! selects a row.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod tmux;

use tmux::{Machine, Tmux, row_of};

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");

/// What the test sets in its children's environment.
const MARK: &str = "NVITOP_E2E_MARK=screens-4711";

/// Starting the viewer on the shared machine.
trait Start {
    fn start(&self, width: u16, height: u16, args: &str) -> Tmux;
}

impl Start for Machine {
    /// Starts the monitor in a `width`×`height` tmux window and waits for
    /// the three processes.
    fn start(&self, width: u16, height: u16, args: &str) -> Tmux {
        let tmux = Tmux::shell(width, height);
        let env = "env -u NVITOP_SIMULATE -u NVITOP_SIM_SCENARIO -u NVITOP_NVML_LIBRARY -u CUDA_VISIBLE_DEVICES";
        tmux.type_line(&format!(
            "{env} {MARK} {BIN} -m --interval 0.25 --simulate {} {args}; echo EXIT=$?",
            self.scenario().display()
        ));
        tmux.wait_for("the process rows", |s| (0..3).all(|i| row_of(s, self.pid(i)).is_some()));
        tmux
    }
}

fn main_screen(s: &str) -> bool {
    s.contains("(Press h for help or q to quit)") && s.contains("Processes:")
}

fn braille(s: &str) -> bool {
    s.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
}

#[test]
fn each_screen_opens_from_the_main_screen_and_returns() {
    let Some(()) = tmux::available("each_screen_opens_from_the_main_screen_and_returns") else {
        return;
    };
    let machine = Machine::spawn(3100, Some(MARK));
    let tmux = machine.start(160, 50, "");
    let first = machine.pid(0).min(machine.pid(1));

    // Help: every screen's keys; any key returns.
    tmux.keys(&["h"]);
    // (Waiting for the whole frame: a capture can catch one half drawn.)
    tmux.wait_for("the help", |s| {
        s.contains("press any key to return")
            && ["SIGTERM", "SIGKILL", "SIGINT", "Thresholds", "Tree view", "Environment"]
                .iter()
                .all(|want| s.contains(want))
    });
    tmux.keys(&["x"]);
    tmux.wait_for("the main screen", main_screen);

    // The full layout's history graphs fill in.
    tmux.wait_for("the host graphs", |s| {
        s.contains("CPU: ") && s.contains("GPU MEM (avg)") && braille(s)
    });

    // Enter on a process: its metrics, and the graphs fill in.
    tmux.keys(&["Down", "Enter"]);
    let title = format!("Process {first} on GPU 0");
    tmux.wait_for("the process metrics", |s| s.contains(&title) && s.contains("%DEC"));
    tmux.wait_for("the process graphs", |s| {
        s.contains("GPU MEM: 4096MiB") && s.contains("max ") && braille(s)
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the main screen", main_screen);

    // The tree: the test's own process with its sleeping children.
    tmux.keys(&["t"]);
    let me = std::process::id().to_string();
    let child_row = |s: &str| {
        s.lines()
            .find(|l| l.split_whitespace().next() == Some(first.to_string().as_str()))
            .map(str::to_owned)
    };
    // The whole row, not the first capture that shows the pid: a capture
    // can catch a frame half drawn (seen in CI: the row cut after NLWP).
    tmux.wait_for("the tree with the child's row", |s| {
        s.contains("Process tree")
            && s.lines().any(|l| l.split_whitespace().next() == Some(me.as_str()))
            && child_row(s).is_some_and(|row| row.contains("GPU 0") && (row.contains("├─") || row.contains("└─")))
    });
    tmux.keys(&["t"]);
    tmux.wait_for("the main screen", main_screen);

    // The environment of the selected child: the variable the test set
    // (the tree's selection is its own: select the child again).
    tmux.keys(&["Down", "e"]);
    let env = tmux.wait_for("the environment", |s| s.contains(MARK));
    assert!(env.contains(&format!("Environment of process {first}")), "{env}");
    tmux.keys(&["r"]);
    tmux.wait_for("the environment again", |s| s.contains(MARK));
    tmux.keys(&["q"]);
    tmux.wait_for("the main screen", main_screen);

    tmux.keys(&["q"]);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
}

#[test]
fn nothing_selected_e_shows_the_monitors_own_environment() {
    let Some(()) = tmux::available("nothing_selected_e_shows_the_monitors_own_environment") else {
        return;
    };
    let machine = Machine::spawn(3100, Some(MARK));
    let tmux = machine.start(120, 40, "");
    tmux.keys(&["e"]);
    let env = tmux.wait_for("the environment", |s| s.contains(MARK));
    assert!(env.contains("this process"), "{env}");
    tmux.keys(&["e"]);
    tmux.wait_for("the main screen", main_screen);
    tmux.keys(&["q"]);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
}

#[test]
fn a_mouse_click_selects_the_row_under_the_pointer() {
    let Some(()) = tmux::available("a_mouse_click_selects_the_row_under_the_pointer") else {
        return;
    };
    let machine = Machine::spawn(3100, Some(MARK));
    let tmux = machine.start(120, 40, "");
    let target = machine.pid(2);
    let screen = tmux.screen();
    let y = screen.lines().position(|l| row_of(l, target).is_some()).unwrap();
    // An SGR mouse report, as a terminal sends it (1-based column, line).
    tmux.text(&format!("\u{1b}[<0;20;{}M\u{1b}[<0;20;{}m", y + 1, y + 1));
    tmux.wait_for_styled("the clicked row selected", |s| {
        s.lines()
            .any(|l| l.contains("\u{1b}[7m") && l.contains(&target.to_string()))
    });
    // A click on the date line clears the selection.
    tmux.text("\u{1b}[<0;5;1M\u{1b}[<0;5;1m");
    tmux.wait_for_styled("no selection", |s| !s.contains("\u{1b}[7m"));
    tmux.keys(&["q"]);
    tmux.wait_for("the exit status", |s| s.contains("EXIT=0"));
}

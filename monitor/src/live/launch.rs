//! Starting the viewer from the command line: the options checked as for
//! the one-shot run, the collector thread, the terminal taken and given
//! back.

use std::io::IsTerminal as _;
use std::sync::mpsc;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::app::{Environment, Failure, Prepared, prepare};
use crate::cli::Cli;
use crate::live::collect::{self, SnapshotSource};
use crate::live::terminal::{self, TerminalGuard};
use crate::live::view::ViewOptions;
use crate::live::{Ending, run_loop, signals, state::AppState};

/// Runs `nvitop-monitor -m` until `q` or a termination signal.
///
/// # Errors
/// [`Failure::Usage`] when stdout is not a terminal or an option is bad,
/// [`Failure::Runtime`] for a missing driver or a terminal that fails.
pub fn run(cli: &Cli, env: &Environment, warnings: &mut impl std::io::Write) -> Result<Ending, Failure> {
    // Raw mode and the alternate screen need a terminal on both sides.
    if !env.stdout_is_tty || !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "-m needs a terminal (stdin and stdout); without -m the status is printed once".to_owned(),
        ));
    }
    nvitop::host::prime();
    let Prepared {
        options,
        filter,
        backend,
        devices,
    } = prepare(cli, env, warnings)?;
    let layout = cli.monitor.unwrap_or_default();
    let view = ViewOptions {
        render: options,
        root: rustix::process::geteuid().is_root(),
    };

    let (events, inbox) = mpsc::channel();
    let (control, control_inbox) = mpsc::channel();
    let source = SnapshotSource::new(backend, devices, filter);
    let intervals = collect::intervals(cli.interval);
    let collector_events = events.clone();
    std::thread::Builder::new()
        .name("nvitop-collect".to_owned())
        .spawn(move || collect::run(source, intervals, &control_inbox, &collector_events))
        .map_err(|err| Failure::Runtime(anyhow::Error::new(err).context("could not start the collector")))?;
    let runtime = |err: std::io::Error| Failure::Runtime(anyhow::Error::new(err).context("terminal"));
    terminal::forward_signals(events.clone()).map_err(runtime)?;

    let guard = TerminalGuard::enter().map_err(runtime)?;
    terminal::forward_input(events).map_err(runtime)?;
    let mut screen = Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(runtime)?;
    let mut state = AppState::new(layout, cli.readonly);
    if let Some(window) = cli.graph_window {
        state.graph_window = window;
    }
    let result = run_loop(&mut screen, state, &inbox, &control, &view, signals::send, &mut |_| {});
    drop(screen);
    drop(guard);
    result.map(|(_, ending)| ending).map_err(Failure::Runtime)
}

//! `nvitop-monitor -m`: the live, interactive viewer.
//!
//! - [`collect`]: a thread of its own reads the driver and publishes each
//!   snapshot; the UI thread never calls the driver.
//! - [`state`]: plain data ([`AppState`]) changed only by actions.
//! - [`keys`]: one pure function from a key to an action.
//! - [`view`]: draws state + newest snapshot with the one-shot widgets.
//! - [`terminal`]: raw mode, alternate screen, and giving them back.
//! - [`signals`]: the dialog's signal, through the SDK's identity guard.
//! - [`history`]: fixed-size rings the collector fills; [`graph`] draws
//!   them in braille or ASCII.
//! - One view module per screen: [`view`] (main, with [`history_view`]'s
//!   graphs), [`process_view`], [`tree_view`] (data from [`tree`]),
//!   [`environment_view`], [`help_view`].
//!
//! The loop ([`run_loop`]) sleeps on one channel that carries input,
//! snapshots and termination signals: nothing polls.

pub mod collect;
pub mod environment_view;
pub mod graph;
pub mod help_view;
pub mod history;
pub mod history_view;
pub mod keys;
pub mod launch;
pub mod mouse;
pub mod process_view;
pub mod rows;
pub mod signals;
pub mod state;
pub mod terminal;
pub mod tree;
pub mod tree_view;
pub mod view;

use std::sync::mpsc::{Receiver, Sender};

use crossterm::event::{Event as TermEvent, KeyEventKind};
use ratatui::Terminal;
use ratatui::backend::Backend as TermBackend;

pub use collect::{Control, Published, Source};
pub use state::{Action, AppState, Effect};
pub use view::{Shown, ViewOptions};

/// What wakes the loop.
#[derive(Debug)]
pub enum Event {
    /// A key, a resize, ...
    Input(TermEvent),
    /// Reading the terminal failed: the viewer ends with this error.
    InputFailed(String),
    /// A new reading from the collector.
    Snapshot(Published),
    /// SIGTERM or SIGHUP: end now, giving the terminal back.
    Terminate(i32),
}

/// How the loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// `q` (or Ctrl-C with nothing selected).
    Quit,
    /// A termination signal arrived.
    Signal(i32),
    /// Every sender is gone (the collector and input threads ended).
    Disconnected,
}

/// Sends a signal for the dialog; the viewer's is [`signals::send`].
pub type Sender_ = fn(state::SignalKind, &[rows::ProcessKey]) -> String;

/// Runs the viewer on `terminal` until `q`, a termination signal, or an
/// input error: waits for an event, applies everything waiting, draws one
/// frame, and calls `on_frame` with the state it drew. Returns the final
/// state (tests look at it, and time frames through `on_frame`).
///
/// # Errors
/// Drawing failed, or the terminal could not be read.
pub fn run_loop<B: TermBackend>(
    terminal: &mut Terminal<B>,
    mut state: AppState,
    events: &Receiver<Event>,
    control: &Sender<Control>,
    view: &ViewOptions,
    send: Sender_,
    on_frame: &mut dyn FnMut(&AppState),
) -> anyhow::Result<(AppState, Ending)>
where
    B::Error: Send + Sync + 'static,
{
    let mut latest: Option<Published> = None;
    let mut shown = Shown::default();
    draw(terminal, &mut state, latest.as_ref(), view, &mut shown)?;
    on_frame(&state);
    loop {
        let Ok(first) = events.recv() else {
            return Ok((state, Ending::Disconnected));
        };
        // Everything waiting, then one frame: a burst of keys or a queue of
        // snapshots costs one draw.
        for event in std::iter::once(first).chain(events.try_iter()) {
            match event {
                Event::Input(input @ (TermEvent::Key(_) | TermEvent::Mouse(_))) => {
                    let action = match input {
                        TermEvent::Key(key) if key.kind != KeyEventKind::Release => keys::action_for(&state, key),
                        TermEvent::Mouse(event) => mouse::action_for(&state, &shown, event),
                        _ => None,
                    };
                    let Some(action) = action else {
                        continue;
                    };
                    if !matches!(action, Action::Signal(_)) {
                        state.status = None;
                    }
                    let cx = state::Context {
                        rows: &shown.rows,
                        page: shown.page,
                    };
                    let effect = state.apply(action, cx);
                    // The next key of the same burst sees this one's
                    // filter and sort (`\`, a pid, Enter, Down selects in
                    // the filtered list).
                    if let Some(latest) = &latest {
                        shown.rows = view::rows_of_screen(&state, latest);
                    }
                    match effect {
                        Effect::None => {}
                        Effect::Quit => return Ok((state, Ending::Quit)),
                        // A collector that is gone cannot refresh; the
                        // next event will say so.
                        Effect::Refresh => {
                            let _ = control.send(Control::Refresh);
                        }
                        Effect::Send(kind, targets) => {
                            state.status = Some(send(kind, &targets));
                            let _ = control.send(Control::Refresh);
                        }
                        Effect::Reads => {
                            let (pcie, tree, watch) = state.reads();
                            let gpm = state.graph.needs_gpm();
                            let _ = control.send(Control::Reads { pcie, gpm, tree, watch });
                        }
                        Effect::ReadEnvironment(target) => {
                            state.environment = Some(environment_of(target, latest.as_ref()));
                        }
                    }
                }
                Event::Input(_) => {}
                Event::InputFailed(err) => anyhow::bail!("could not read the terminal: {err}"),
                Event::Snapshot(published) => {
                    latest = Some(published);
                }
                Event::Terminate(signal) => return Ok((state, Ending::Signal(signal))),
            }
        }
        if let Some(latest) = &latest {
            let rows = view::rows_of_screen(&state, latest);
            // The tree arrives a reading after `t`: nothing to drop yet.
            if state.screen != state::Screen::Tree || latest.tree.is_some() {
                state.reconcile(&rows);
            }
        }
        draw(terminal, &mut state, latest.as_ref(), view, &mut shown)?;
        on_frame(&state);
    }
}

/// The environment screen for `target` (`None`: the monitor's own), read
/// now: one small `/proc` file.
fn environment_of(target: Option<rows::ProcessKey>, latest: Option<&Published>) -> state::EnvironmentView {
    let title = match &target {
        None => format!("nvitop-monitor (this process, pid {})", std::process::id()),
        Some(key) => {
            let command = latest
                .and_then(|l| l.snapshot.processes.iter().find(|p| p.pid == key.pid))
                .and_then(|p| p.host.as_ref())
                .map(|h| h.name.clone());
            match command {
                Some(name) => format!("process {} ({name})", key.pid),
                None => format!("process {}", key.pid),
            }
        }
    };
    state::EnvironmentView {
        title,
        lines: collect::read_environment(target.as_ref()),
        target,
        scroll_y: 0,
        scroll_x: 0,
    }
}

fn draw<B: TermBackend>(
    terminal: &mut Terminal<B>,
    state: &mut AppState,
    latest: Option<&Published>,
    view: &ViewOptions,
    shown: &mut Shown,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    terminal.draw(|frame| {
        let area = frame.area();
        *shown = view::draw(frame.buffer_mut(), area, state, latest, view);
    })?;
    Ok(())
}

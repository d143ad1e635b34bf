//! Terminal plumbing, all of it: raw mode, the alternate screen and the
//! hidden cursor are taken by [`TerminalGuard::enter`] and given back when
//! the guard drops (quit or error), from the panic hook, and after SIGTERM
//! or SIGHUP (the signal thread turns them into an event, the loop ends
//! and the guard drops).

use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};

use crate::live::Event;

/// Whether the viewer holds the terminal: [`restore`] acts only then. A
/// second "leave the alternate screen" is not harmless: terminals (tmux
/// among them) restore the cursor saved on entering it, so a panic message
/// printed between the panic hook's restore and the guard's would be
/// overwritten by whatever comes next.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Holds the terminal in the viewer's mode; gives it back on drop.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Raw mode, alternate screen, hidden cursor, mouse reports; and a panic hook that
    /// gives them back before the panic message is printed (so it is
    /// readable on the normal screen).
    ///
    /// # Errors
    /// The terminal refused a mode change (what was taken is given back).
    pub fn enter() -> std::io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        // From here on, dropping the guard undoes whatever was done.
        TAKEN.store(true, Ordering::SeqCst);
        let guard = Self { _private: () };
        execute!(
            std::io::stdout(),
            EnterAlternateScreen,
            cursor::Hide,
            EnableMouseCapture
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back: leaves the alternate screen, shows the cursor,
/// turns raw mode off; once: later calls (the guard after the panic hook)
/// do nothing.
pub fn restore() {
    if !TAKEN.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    // Nothing more can be done about a terminal that refuses.
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Forwards SIGTERM and SIGHUP to the loop as [`Event::Terminate`], so the
/// viewer ends through its normal path and the guard gives the terminal
/// back.
///
/// # Errors
/// The handlers could not be installed.
pub fn forward_signals(events: Sender<Event>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGTERM, libc::SIGHUP])?;
    std::thread::Builder::new()
        .name("nvitop-signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _ = events.send(Event::Terminate(signal));
            }
        })?;
    Ok(())
}

/// Forwards terminal input (keys, resizes) to the loop until the loop is
/// gone or the terminal fails.
///
/// # Errors
/// The thread could not be started.
pub fn forward_input(events: Sender<Event>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("nvitop-input".to_owned())
        .spawn(move || {
            loop {
                let event = match crossterm::event::read() {
                    Ok(event) => Event::Input(event),
                    Err(err) => Event::InputFailed(err.to_string()),
                };
                let failed = matches!(event, Event::InputFailed(_));
                if events.send(event).is_err() || failed {
                    return;
                }
            }
        })?;
    Ok(())
}

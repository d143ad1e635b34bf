//! Mouse events to actions: one pure function of the state, the last
//! frame's geometry ([`Shown`]) and the event, tested without a terminal.
//!
//! A click selects the row under the pointer (elsewhere it clears the
//! selection); the wheel moves the selection, with Shift it scrolls the
//! COMMAND column; in the signal dialog a click on a choice does it and
//! the wheel moves the highlight.

use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::live::state::{Action, AppState, Screen};
use crate::live::view::Shown;

/// The action for `event`, or `None`.
pub fn action_for(state: &AppState, shown: &Shown, event: MouseEvent) -> Option<Action> {
    let shift = event.modifiers.contains(KeyModifiers::SHIFT);
    if state.dialog.is_some() {
        return match event.kind {
            MouseEventKind::Down(MouseButton::Left) => shown
                .buttons
                .iter()
                .find(|b| b.y == event.row && (b.x0..b.x1).contains(&event.column))
                .map(|b| Action::DialogClick(b.choice)),
            MouseEventKind::ScrollUp => Some(Action::DialogMove(-1)),
            MouseEventKind::ScrollDown => Some(Action::DialogMove(1)),
            _ => None,
        };
    }
    if !matches!(state.screen, Screen::Main | Screen::Tree) || state.prompt.is_some() {
        return None;
    }
    match event.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(Action::SelectRow(
            shown.lines.iter().find(|(y, _)| *y == event.row).map(|&(_, row)| row),
        )),
        MouseEventKind::ScrollUp if shift => Some(Action::CommandLeft),
        MouseEventKind::ScrollDown if shift => Some(Action::CommandRight),
        MouseEventKind::ScrollLeft => Some(Action::CommandLeft),
        MouseEventKind::ScrollRight => Some(Action::CommandRight),
        MouseEventKind::ScrollUp => Some(Action::Up),
        MouseEventKind::ScrollDown => Some(Action::Down),
        _ => None,
    }
}

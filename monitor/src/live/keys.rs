//! Keys to actions: one pure function of the state and the key, so every
//! key is tested without a terminal. The keys are nvitop 1.7.2's, plus the
//! filter prompt (`\`); `monitor/README.md` lists them all.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::cli::LayoutMode;
use crate::live::rows::SortKey;
use crate::live::state::{Action, AppState, COMMAND_STEP, Screen, SignalKind};

/// One help line: the keys, what they do, and whether they send a signal
/// (dimmed under `--readonly`).
pub type HelpLine = (&'static str, &'static str, bool);

/// Every key of every screen, by screen, as the help screen shows it.
pub const HELP: &[(&str, &[HelpLine])] = &[
    (
        "Main screen",
        &[
            ("q Q", "quit", false),
            (
                "h ?",
                "this help (Up Down PgUp PgDn scroll it, any other key returns)",
                false,
            ),
            ("a f c", "layout: auto / full / compact", false),
            ("r R ^R F5", "refresh now", false),
            ("Up Down Tab S-Tab M-k M-j", "select the previous / next process", false),
            ("Home End", "select the first / last process", false),
            ("PgUp PgDn [ ]", "a page up / down", false),
            ("Esc", "clear the selection and the tags", false),
            ("Space", "tag the selected process and move down", false),
            ("Left Right M-h M-l", "scroll the COMMAND column", false),
            ("^A ^  /  ^E $", "start / end of the COMMAND column", false),
            (", <  /  . >", "sort by the previous / next column", false),
            ("/", "reverse the sort order", false),
            (
                "o n p u g s b c m t",
                "sort by GPU PID USER GPU-MEM %SM %GMBW %CPU %MEM TIME (capital: reversed)",
                false,
            ),
            ("\\", "filter by command, user or pid (Enter keeps, Esc clears)", false),
            ("Enter", "metrics and live graphs of the selected process", false),
            ("t", "tree view of the GPU processes", false),
            ("e", "environment of the selected process (or of this monitor)", false),
            (
                "g",
                "device graph: memory+utilization, power+temperature, PCIe RX+TX, enc+dec, GPM SM+tensor",
                false,
            ),
            ("w", "graph time span: 30s 1m 2m 5m 15m 1h", false),
            ("T", "send SIGTERM to the tagged or selected processes", true),
            ("K k", "send SIGKILL to the tagged or selected processes", true),
            (
                "I ^C",
                "send SIGINT to the tagged or selected processes (^C quits with nothing selected)",
                true,
            ),
        ],
    ),
    (
        "Process metrics (Enter)",
        &[
            ("Enter Esc q", "back to the main screen", false),
            ("w", "graph time span", false),
            ("h ?", "this help", false),
        ],
    ),
    (
        "Tree view (t)",
        &[
            ("t Esc q", "back to the main screen", false),
            ("Up Down Home End", "select a process (PgUp PgDn: a page)", false),
            ("Space", "tag the selected process and move down", false),
            (
                "T / K k / I ^C",
                "SIGTERM / SIGKILL / SIGINT, through the same dialog",
                true,
            ),
        ],
    ),
    (
        "Environment (e)",
        &[
            ("e Esc q", "back to the main screen", false),
            ("Up Down PgUp PgDn", "scroll the lines (Home End: first / last)", false),
            ("Left Right", "scroll the columns", false),
            ("r", "read the environment again", false),
        ],
    ),
    (
        "Signal dialog",
        &[
            ("Enter Space", "send the highlighted signal", true),
            ("1 2 3 4", "choose SIGTERM / SIGKILL / SIGINT / Cancel", true),
            ("Left Right Tab", "move the highlight", true),
            ("n Esc q ^C", "cancel: send nothing", true),
            ("click / wheel", "do the choice clicked / move the highlight", true),
        ],
    ),
    (
        "Mouse",
        &[
            ("click", "select the row under the pointer (elsewhere: clear)", false),
            (
                "wheel / Shift+wheel",
                "move the selection / scroll the COMMAND column",
                false,
            ),
        ],
    ),
];

/// The action for `key` in `state`, or `None` for a key that does nothing.
///
/// What a key means depends on what is open: the help screen returns on
/// any key but the scrolling ones (`Up`, `Down`, `PgUp`, `PgDn`), the signal dialog takes every key, then the filter prompt,
/// then a pending `o` (sort by ...), then the screen shown.
pub fn action_for(state: &AppState, key: KeyEvent) -> Option<Action> {
    if state.screen == Screen::Help {
        return Some(match key.code {
            KeyCode::Up => Action::ScrollHelp(-1),
            KeyCode::Down => Action::ScrollHelp(1),
            KeyCode::PageUp => Action::ScrollHelp(-10),
            KeyCode::PageDown => Action::ScrollHelp(10),
            _ => Action::Show(Screen::Main),
        });
    }
    if state.dialog.is_some() {
        return dialog_key(key);
    }
    match state.screen {
        Screen::Process => return process_key(key),
        Screen::Environment => return environment_key(key),
        Screen::Tree => return tree_key(state, key),
        Screen::Main | Screen::Help => {}
    }
    if state.prompt.is_some() {
        return prompt_key(key);
    }
    if state.sort_pending {
        return Some(sort_letter(key).unwrap_or(Action::SortCancel));
    }
    main_key(state, key)
}

fn process_key(key: KeyEvent) -> Option<Action> {
    Some(match key.code {
        KeyCode::Enter | KeyCode::Esc | KeyCode::Char('q' | 'Q') => Action::Back,
        KeyCode::Char('h' | '?') => Action::Show(Screen::Help),
        KeyCode::Char('w') => Action::GraphWindow,
        KeyCode::Char('c') if ctrl(&key) => Action::Back,
        _ => return None,
    })
}

fn environment_key(key: KeyEvent) -> Option<Action> {
    use Action as A;
    Some(match key.code {
        KeyCode::Char('e' | 'q' | 'Q') | KeyCode::Esc => A::Back,
        KeyCode::Char('c') if ctrl(&key) => A::Back,
        KeyCode::Char('r' | 'R') | KeyCode::F(5) => A::RereadEnvironment,
        KeyCode::Char('h' | '?') => A::Show(Screen::Help),
        KeyCode::Up => A::ScrollEnvironment(0, -1),
        KeyCode::Down => A::ScrollEnvironment(0, 1),
        KeyCode::PageUp | KeyCode::Char('[') => A::ScrollEnvironment(0, -10),
        KeyCode::PageDown | KeyCode::Char(']') => A::ScrollEnvironment(0, 10),
        KeyCode::Home => A::ScrollEnvironment(0, isize::MIN),
        KeyCode::End => A::ScrollEnvironment(0, isize::MAX),
        KeyCode::Left => A::ScrollEnvironment(-(COMMAND_STEP as isize), 0),
        KeyCode::Right => A::ScrollEnvironment(COMMAND_STEP as isize, 0),
        _ => return None,
    })
}

fn tree_key(state: &AppState, key: KeyEvent) -> Option<Action> {
    use Action as A;
    Some(match key.code {
        KeyCode::Char('t' | 'q' | 'Q') | KeyCode::Esc => A::Back,
        KeyCode::Char('c') if ctrl(&key) => {
            if state.selected.is_none() && state.tagged.is_empty() {
                A::Back
            } else {
                A::Signal(SignalKind::Int)
            }
        }
        KeyCode::Char('h' | '?') => A::Show(Screen::Help),
        KeyCode::Char('r' | 'R') | KeyCode::F(5) => A::Refresh,
        KeyCode::Up | KeyCode::BackTab => A::Up,
        KeyCode::Down | KeyCode::Tab => A::Down,
        KeyCode::Home => A::First,
        KeyCode::End => A::Last,
        KeyCode::PageUp | KeyCode::Char('[') => A::PageUp,
        KeyCode::PageDown | KeyCode::Char(']') => A::PageDown,
        KeyCode::Char(' ') => A::Tag,
        KeyCode::Char('T') => A::Signal(SignalKind::Term),
        KeyCode::Char('K' | 'k') => A::Signal(SignalKind::Kill),
        KeyCode::Char('I') => A::Signal(SignalKind::Int),
        _ => return None,
    })
}

fn ctrl(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL)
}

fn alt(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::ALT)
}

fn main_key(state: &AppState, key: KeyEvent) -> Option<Action> {
    use Action as A;
    let action = match key.code {
        KeyCode::Char('c') if ctrl(&key) => {
            // Ctrl-C quits when nothing is selected, as in nvitop.
            if state.selected.is_none() && state.tagged.is_empty() {
                A::Quit
            } else {
                A::Signal(SignalKind::Int)
            }
        }
        KeyCode::Char('r') if ctrl(&key) => A::Refresh,
        KeyCode::Char('a') if ctrl(&key) => A::CommandStart,
        KeyCode::Char('e') if ctrl(&key) => A::CommandEnd,
        KeyCode::Char('k') if alt(&key) => A::Up,
        KeyCode::Char('j') if alt(&key) => A::Down,
        KeyCode::Char('h') if alt(&key) => A::CommandLeft,
        KeyCode::Char('l') if alt(&key) => A::CommandRight,
        KeyCode::Char('q' | 'Q') => A::Quit,
        KeyCode::Char('h' | '?') => A::Show(Screen::Help),
        KeyCode::Char('a') => A::Layout(LayoutMode::Auto),
        KeyCode::Char('f') => A::Layout(LayoutMode::Full),
        KeyCode::Char('c') => A::Layout(LayoutMode::Compact),
        KeyCode::Char('r' | 'R') | KeyCode::F(5) => A::Refresh,
        KeyCode::Up | KeyCode::BackTab => A::Up,
        KeyCode::Down | KeyCode::Tab => A::Down,
        KeyCode::Home => A::First,
        KeyCode::End => A::Last,
        KeyCode::PageUp | KeyCode::Char('[') => A::PageUp,
        KeyCode::PageDown | KeyCode::Char(']') => A::PageDown,
        KeyCode::Esc => A::Clear,
        KeyCode::Char(' ') => A::Tag,
        KeyCode::Left => A::CommandLeft,
        KeyCode::Right => A::CommandRight,
        KeyCode::Char('^') => A::CommandStart,
        KeyCode::Char('$') => A::CommandEnd,
        KeyCode::Char(',' | '<') => A::SortPrevious,
        KeyCode::Char('.' | '>') => A::SortNext,
        KeyCode::Char('/') => A::SortReverse,
        KeyCode::Char('o') => A::SortPrefix,
        KeyCode::Char('\\') => A::FilterOpen,
        KeyCode::Char('T') => A::Signal(SignalKind::Term),
        KeyCode::Char('K' | 'k') => A::Signal(SignalKind::Kill),
        KeyCode::Char('I') => A::Signal(SignalKind::Int),
        KeyCode::Enter => A::OpenProcess,
        KeyCode::Char('t') => A::ToggleTree,
        KeyCode::Char('e') => A::OpenEnvironment,
        KeyCode::Char('g') => A::GraphNext,
        KeyCode::Char('w') => A::GraphWindow,
        _ => return None,
    };
    Some(action)
}

/// `o` then a letter: lowercase sorts in the column's natural order,
/// uppercase reversed.
fn sort_letter(key: KeyEvent) -> Option<Action> {
    let KeyCode::Char(c) = key.code else {
        return None;
    };
    let sort = SortKey::from_letter(c.to_ascii_lowercase())?;
    Some(Action::SortBy(sort, c.is_ascii_uppercase()))
}

fn prompt_key(key: KeyEvent) -> Option<Action> {
    Some(match key.code {
        KeyCode::Enter => Action::FilterAccept,
        KeyCode::Esc => Action::FilterCancel,
        KeyCode::Char('c') if ctrl(&key) => Action::FilterCancel,
        KeyCode::Backspace => Action::FilterBackspace,
        KeyCode::Char(c) if !ctrl(&key) && !alt(&key) => Action::FilterChar(c),
        _ => return None,
    })
}

fn dialog_key(key: KeyEvent) -> Option<Action> {
    use Action as A;
    Some(match key.code {
        KeyCode::Enter | KeyCode::Char(' ') => A::DialogApply,
        KeyCode::Char(d @ '1'..='4') => A::DialogChoose(usize::from(d as u8 - b'1')),
        KeyCode::Char('n' | 'q') | KeyCode::Esc => A::DialogCancel,
        KeyCode::Char('c') if ctrl(&key) => A::DialogCancel,
        KeyCode::Left | KeyCode::BackTab => A::DialogMove(-1),
        KeyCode::Right | KeyCode::Tab => A::DialogMove(1),
        _ => return None,
    })
}

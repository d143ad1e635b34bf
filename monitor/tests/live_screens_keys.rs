//! The keys and mouse of the screens beyond the main one (process metrics,
//! tree, environment, help, graphs), as pure state changes: no terminal,
//! no driver.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use nvitop_monitor::live::history::GraphMetric;
use nvitop_monitor::live::keys::{HELP, action_for};
use nvitop_monitor::live::mouse;
use nvitop_monitor::live::rows::ProcessKey;
use nvitop_monitor::live::state::{
    Action, AppState, Context, DEFAULT_GRAPH_WINDOW, Dialog, Effect, GRAPH_WINDOWS, Screen, SignalKind,
};
use nvitop_monitor::live::view::{Button, Shown};

fn ch(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn rows(n: u32) -> Vec<ProcessKey> {
    (0..n)
        .map(|i| ProcessKey {
            pid: 100 + i,
            start_ticks: Some(7),
            device: "0".to_owned(),
        })
        .collect()
}

fn press(state: &mut AppState, rows: &[ProcessKey], k: KeyEvent) -> Effect {
    let action = action_for(state, k).unwrap_or_else(|| panic!("{k:?} does nothing"));
    state.apply(action, Context { rows, page: 3 })
}

#[test]
fn enter_opens_the_selected_process_and_enter_esc_q_return() {
    let r = rows(3);
    let mut s = AppState::default();
    // Nothing selected: Enter stays on the main screen.
    press(&mut s, &r, key(KeyCode::Enter));
    assert_eq!(s.screen, Screen::Main);
    for back in [key(KeyCode::Enter), key(KeyCode::Esc), ch('q')] {
        press(&mut s, &r, key(KeyCode::Down));
        // Opening it asks the collector to keep the process's series.
        assert_eq!(press(&mut s, &r, key(KeyCode::Enter)), Effect::Reads);
        assert_eq!(s.screen, Screen::Process);
        assert_eq!(s.reads().2, s.selected.clone());
        assert!(s.reads().2.is_some());
        // `q` returns, it does not quit, from here, and stops the series.
        assert_eq!(press(&mut s, &r, back), Effect::Reads);
        assert_eq!(s.reads().2, None);
        assert_eq!(s.screen, Screen::Main);
        // The selection survives the round trip.
        assert!(s.selected.is_some());
    }
}

#[test]
fn t_opens_the_tree_and_t_esc_q_return_with_their_own_selection() {
    let r = rows(3);
    let mut s = AppState::default();
    for back in [ch('t'), key(KeyCode::Esc), ch('q')] {
        press(&mut s, &r, key(KeyCode::Down));
        assert_eq!(press(&mut s, &r, ch('t')), Effect::Reads);
        assert_eq!(s.screen, Screen::Tree);
        assert_eq!(s.reads(), (false, true, None));
        // Main rows mean nothing in the tree: the selection starts fresh.
        assert!(s.selected.is_none());
        press(&mut s, &r, key(KeyCode::Down));
        press(&mut s, &r, ch(' '));
        assert_eq!(s.tagged.len(), 1);
        assert_eq!(press(&mut s, &r, back), Effect::Reads);
        assert_eq!(s.screen, Screen::Main);
        assert_eq!(s.reads(), (false, false, None));
        assert!(s.tagged.is_empty());
    }
}

#[test]
fn signal_keys_work_in_the_tree_through_the_same_dialog() {
    let r = rows(3);
    let mut s = AppState::default();
    press(&mut s, &r, ch('t'));
    press(&mut s, &r, key(KeyCode::Down));
    for (k, kind) in [
        (ch('T'), SignalKind::Term),
        (ch('k'), SignalKind::Kill),
        (ch('I'), SignalKind::Int),
    ] {
        press(&mut s, &r, k);
        let dialog = s.dialog.clone().unwrap();
        assert_eq!(SignalKind::ALL[dialog.choice], kind);
        assert_eq!(dialog.targets, [r[0].clone()]);
        press(&mut s, &r, key(KeyCode::Esc));
        assert!(s.dialog.is_none());
        assert_eq!(s.screen, Screen::Tree);
    }
    press(&mut s, &r, ch('K'));
    assert_eq!(
        press(&mut s, &r, key(KeyCode::Enter)),
        Effect::Send(SignalKind::Kill, vec![r[0].clone()])
    );
    // Read-only: no dialog in the tree either.
    let mut s = AppState::new(nvitop_monitor::cli::LayoutMode::Auto, true);
    press(&mut s, &r, ch('t'));
    press(&mut s, &r, key(KeyCode::Down));
    press(&mut s, &r, ch('T'));
    assert!(s.dialog.is_none());
    assert!(s.status.unwrap().contains("--readonly"));
}

#[test]
fn e_reads_the_selected_or_own_environment_and_r_rereads() {
    let r = rows(2);
    let mut s = AppState::default();
    assert_eq!(press(&mut s, &r, ch('e')), Effect::ReadEnvironment(None));
    assert_eq!(s.screen, Screen::Environment);
    press(&mut s, &r, ch('e'));
    assert_eq!(s.screen, Screen::Main);
    press(&mut s, &r, key(KeyCode::Down));
    assert_eq!(press(&mut s, &r, ch('e')), Effect::ReadEnvironment(Some(r[0].clone())));
    s.environment = Some(nvitop_monitor::live::state::EnvironmentView {
        title: "x".into(),
        target: Some(r[0].clone()),
        lines: Ok((0..30).map(|i| format!("V{i:02}=x")).collect()),
        scroll_y: 0,
        scroll_x: 0,
    });
    assert_eq!(press(&mut s, &r, ch('r')), Effect::ReadEnvironment(Some(r[0].clone())));
    press(&mut s, &r, key(KeyCode::PageDown));
    press(&mut s, &r, key(KeyCode::Down));
    press(&mut s, &r, key(KeyCode::Right));
    let env = s.environment.clone().unwrap();
    assert_eq!((env.scroll_y, env.scroll_x), (11, 4));
    press(&mut s, &r, key(KeyCode::End));
    assert_eq!(s.environment.as_ref().unwrap().scroll_y, 29);
    press(&mut s, &r, key(KeyCode::Home));
    assert_eq!(s.environment.as_ref().unwrap().scroll_y, 0);
    for back in [key(KeyCode::Esc), ch('q')] {
        press(&mut s, &r, ch('e'));
        press(&mut s, &r, back);
        assert_eq!(s.screen, Screen::Main);
    }
}

#[test]
fn help_from_every_screen_scrolls_and_any_other_key_returns() {
    let r = rows(1);
    let mut s = AppState::default();
    press(&mut s, &r, ch('?'));
    press(&mut s, &r, key(KeyCode::PageDown));
    assert_eq!(s.help_scroll, 10);
    assert_eq!(s.screen, Screen::Help);
    press(&mut s, &r, ch('x'));
    assert_eq!(s.screen, Screen::Main);
    press(&mut s, &r, key(KeyCode::Down));
    for open in [key(KeyCode::Enter), ch('t'), ch('e')] {
        press(&mut s, &r, open);
        press(&mut s, &r, ch('h'));
        assert_eq!(s.screen, Screen::Help);
        press(&mut s, &r, ch('q'));
        assert_eq!(s.screen, Screen::Main);
        s.selected = Some(r[0].clone());
    }
}

#[test]
fn help_lists_every_screen_and_names_the_signals() {
    let screens: Vec<&str> = HELP.iter().map(|(name, _)| *name).collect();
    for want in [
        "Main screen",
        "Process metrics",
        "Tree view",
        "Environment",
        "Signal dialog",
        "Mouse",
    ] {
        assert!(screens.iter().any(|s| s.starts_with(want)), "{want}: {screens:?}");
    }
    let all: Vec<_> = HELP.iter().flat_map(|(_, keys)| keys.iter()).collect();
    for signal in ["SIGTERM", "SIGKILL", "SIGINT"] {
        assert!(
            all.iter().any(|(_, what, sig)| *sig && what.contains(signal)),
            "{signal}"
        );
    }
    // Every key the main screen answers is in the help.
    let main = HELP[0].1.iter().map(|(k, _, _)| *k).collect::<Vec<_>>().join(" ");
    for c in ['t', 'e', 'g', 'w', 'T', 'k', 'K', 'I', 'o', '\\'] {
        assert!(action_for(&AppState::default(), ch(c)).is_some(), "{c}");
        assert!(
            main.split_whitespace().any(|k| k.contains(c)),
            "{c} missing from the help"
        );
    }
}

#[test]
fn g_cycles_the_device_graph_and_asks_for_pcie_only_while_shown() {
    let r = rows(1);
    let mut s = AppState::default();
    let mut seen = vec![s.graph];
    for _ in 0..GraphMetric::ALL.len() {
        assert_eq!(press(&mut s, &r, ch('g')), Effect::Reads);
        assert_eq!(s.reads().0, s.graph == GraphMetric::Pcie);
        seen.push(s.graph);
    }
    assert_eq!(s.graph, GraphMetric::MemoryUtilization);
    assert!(GraphMetric::ALL.iter().all(|m| seen.contains(m)));
}

#[test]
fn w_walks_the_graph_windows() {
    let r = rows(1);
    let mut s = AppState::default();
    assert_eq!(s.graph_window, DEFAULT_GRAPH_WINDOW);
    let mut seen = Vec::new();
    for _ in 0..GRAPH_WINDOWS.len() {
        press(&mut s, &r, ch('w'));
        seen.push(s.graph_window);
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, GRAPH_WINDOWS);
    // `w` works on the process screen too.
    s.selected = Some(r[0].clone());
    press(&mut s, &r, key(KeyCode::Enter));
    let before = s.graph_window;
    press(&mut s, &r, ch('w'));
    assert_ne!(s.graph_window, before);
}

fn mouse(kind: MouseEventKind, column: u16, row: u16, modifiers: KeyModifiers) -> MouseEvent {
    MouseEvent {
        kind,
        column,
        row,
        modifiers,
    }
}

fn click(state: &mut AppState, shown: &Shown, column: u16, row: u16) -> Effect {
    let event = mouse(MouseEventKind::Down(MouseButton::Left), column, row, KeyModifiers::NONE);
    let action = mouse::action_for(state, shown, event).expect("a click does something");
    state.apply(
        action,
        Context {
            rows: &shown.rows,
            page: 3,
        },
    )
}

#[test]
fn click_selects_the_row_under_the_pointer_and_elsewhere_clears() {
    let r = rows(3);
    let shown = Shown {
        rows: r.clone(),
        page: 3,
        lines: vec![(20, 0), (21, 1), (23, 2)],
        buttons: Vec::new(),
    };
    let mut s = AppState::default();
    click(&mut s, &shown, 5, 23);
    assert_eq!(s.selected, Some(r[2].clone()));
    click(&mut s, &shown, 5, 21);
    assert_eq!(s.selected, Some(r[1].clone()));
    click(&mut s, &shown, 5, 2);
    assert_eq!(s.selected, None);
    // Wheel moves the selection; Shift+wheel scrolls the commands.
    let wheel = |s: &mut AppState, kind, m| {
        let action = mouse::action_for(s, &shown, mouse(kind, 0, 0, m)).unwrap();
        s.apply(action, Context { rows: &r, page: 3 });
    };
    wheel(&mut s, MouseEventKind::ScrollDown, KeyModifiers::NONE);
    wheel(&mut s, MouseEventKind::ScrollDown, KeyModifiers::NONE);
    assert_eq!(s.selected, Some(r[1].clone()));
    wheel(&mut s, MouseEventKind::ScrollUp, KeyModifiers::NONE);
    assert_eq!(s.selected, Some(r[0].clone()));
    wheel(&mut s, MouseEventKind::ScrollDown, KeyModifiers::SHIFT);
    assert_eq!(s.command_offset, 4);
    wheel(&mut s, MouseEventKind::ScrollUp, KeyModifiers::SHIFT);
    assert_eq!(s.command_offset, 0);
}

#[test]
fn dialog_clicks_and_wheel() {
    let r = rows(2);
    let buttons: Vec<Button> = (0..4)
        .map(|i| Button {
            y: 10,
            x0: 10 + 12 * i,
            x1: 20 + 12 * i,
            choice: usize::from(i),
        })
        .collect();
    let shown = Shown {
        rows: r.clone(),
        page: 3,
        lines: vec![(20, 0)],
        buttons,
    };
    let open = || AppState {
        dialog: Some(Dialog {
            choice: 0,
            targets: vec![r[1].clone()],
        }),
        ..AppState::default()
    };
    let mut s = open();
    let wheel = mouse::action_for(&s, &shown, mouse(MouseEventKind::ScrollDown, 0, 0, KeyModifiers::NONE));
    assert_eq!(wheel, Some(Action::DialogMove(1)));
    // A click on a row under the dialog does nothing.
    let under = mouse::action_for(
        &s,
        &shown,
        mouse(MouseEventKind::Down(MouseButton::Left), 1, 20, KeyModifiers::NONE),
    );
    assert_eq!(under, None);
    // A click on SIGKILL sends it; on Cancel closes the dialog.
    assert_eq!(
        click(&mut s, &shown, 25, 10),
        Effect::Send(SignalKind::Kill, vec![r[1].clone()])
    );
    assert!(s.dialog.is_none());
    let mut s = open();
    assert_eq!(click(&mut s, &shown, 50, 10), Effect::None);
    assert!(s.dialog.is_none());
}

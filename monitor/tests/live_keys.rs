//! Every key of `nvitop-monitor -m`, as pure state changes: key → action
//! → new state, with no terminal and no driver.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::live::keys::action_for;
use nvitop_monitor::live::rows::{self, ProcessKey, SortKey};
use nvitop_monitor::live::state::{AppState, Context, Effect, Screen, SignalKind, Viewport};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn with(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

fn ctrl(c: char) -> KeyEvent {
    with(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn alt(c: char) -> KeyEvent {
    with(KeyCode::Char(c), KeyModifiers::ALT)
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

/// Presses `k` in `state` with `rows` shown and a page of 3 rows.
fn press(state: &mut AppState, rows: &[ProcessKey], k: KeyEvent) -> Effect {
    let action = action_for(state, k).unwrap_or_else(|| panic!("{k:?} does nothing"));
    state.apply(action, Context { rows, page: 3 })
}

fn selected_pid(state: &AppState) -> Option<u32> {
    state.selected.as_ref().map(|k| k.pid)
}

#[test]
fn quit_and_layout_and_refresh() {
    let mut s = AppState::default();
    let r = rows(3);
    assert_eq!(press(&mut s, &r, ch('q')), Effect::Quit);
    assert_eq!(press(&mut s, &r, ch('Q')), Effect::Quit);
    for (c, layout) in [
        ('c', LayoutMode::Compact),
        ('f', LayoutMode::Full),
        ('a', LayoutMode::Auto),
    ] {
        assert_eq!(press(&mut s, &r, ch(c)), Effect::None);
        assert_eq!(s.layout, layout);
    }
    for k in [ch('r'), ch('R'), ctrl('r'), key(KeyCode::F(5))] {
        assert_eq!(press(&mut s, &r, k), Effect::Refresh, "{k:?}");
    }
    // Ctrl-C quits with nothing selected.
    assert_eq!(press(&mut s, &r, ctrl('c')), Effect::Quit);
}

#[test]
fn moving_the_selection() {
    let r = rows(5);
    // Nothing selected: down selects the first row, up the last.
    for (k, pid) in [
        (key(KeyCode::Down), 100),
        (key(KeyCode::Tab), 100),
        (alt('j'), 100),
        (key(KeyCode::Up), 104),
        (key(KeyCode::BackTab), 104),
        (alt('k'), 104),
        (key(KeyCode::Home), 100),
        (key(KeyCode::End), 104),
    ] {
        let mut s = AppState::default();
        press(&mut s, &r, k);
        assert_eq!(selected_pid(&s), Some(pid), "{k:?}");
    }
    let mut s = AppState::default();
    press(&mut s, &r, key(KeyCode::Down));
    press(&mut s, &r, key(KeyCode::Down));
    assert_eq!(selected_pid(&s), Some(101));
    press(&mut s, &r, key(KeyCode::Up));
    press(&mut s, &r, key(KeyCode::Up));
    // Clamped at the top.
    assert_eq!(selected_pid(&s), Some(100));
    // Pages of 3 rows, clamped at the end.
    press(&mut s, &r, key(KeyCode::PageDown));
    assert_eq!(selected_pid(&s), Some(103));
    press(&mut s, &r, ch(']'));
    assert_eq!(selected_pid(&s), Some(104));
    press(&mut s, &r, ch('['));
    assert_eq!(selected_pid(&s), Some(101));
    press(&mut s, &r, key(KeyCode::PageUp));
    assert_eq!(selected_pid(&s), Some(100));
    // Esc clears.
    press(&mut s, &r, key(KeyCode::Esc));
    assert_eq!(s.selected, None);
    // With nothing selected, a page scrolls the view.
    press(&mut s, &r, key(KeyCode::PageDown));
    assert_eq!((s.scroll, s.selected.clone()), (3, None));
}

#[test]
fn tagging() {
    let r = rows(4);
    let mut s = AppState::default();
    press(&mut s, &r, key(KeyCode::Down));
    press(&mut s, &r, ch(' '));
    press(&mut s, &r, ch(' '));
    assert_eq!(s.tagged.iter().map(|k| k.pid).collect::<Vec<_>>(), [100, 101]);
    assert_eq!(selected_pid(&s), Some(102));
    // Space on a tagged row untags it.
    press(&mut s, &r, key(KeyCode::Up));
    press(&mut s, &r, ch(' '));
    assert_eq!(s.tagged.iter().map(|k| k.pid).collect::<Vec<_>>(), [100]);
    // Ctrl-C with tags asks for SIGINT instead of quitting.
    assert_eq!(press(&mut s, &r, ctrl('c')), Effect::None);
    assert_eq!(s.dialog.as_ref().unwrap().choice, 2);
    press(&mut s, &r, key(KeyCode::Esc));
    press(&mut s, &r, key(KeyCode::Esc));
    assert!(s.tagged.is_empty() && s.selected.is_none());
}

#[test]
fn command_column_scrolls() {
    let r = rows(1);
    let mut s = AppState::default();
    for k in [key(KeyCode::Right), alt('l')] {
        press(&mut s, &r, k);
    }
    assert_eq!(s.command_offset, 8);
    press(&mut s, &r, key(KeyCode::Left));
    assert_eq!(s.command_offset, 4);
    press(&mut s, &r, alt('h'));
    press(&mut s, &r, alt('h'));
    assert_eq!(s.command_offset, 0);
    for end in [ctrl('e'), ch('$')] {
        press(&mut s, &r, end);
        // The view clamps the end to the longest command's overflow.
        s.fit(Viewport {
            command_overflow: 30,
            ..Viewport::default()
        });
        assert_eq!(s.command_offset, 30);
        press(&mut s, &r, if end == ch('$') { ch('^') } else { ctrl('a') });
        assert_eq!(s.command_offset, 0);
    }
}

#[test]
fn sorting() {
    let r = rows(1);
    let mut s = AppState::default();
    assert_eq!(s.sort, SortKey::Gpu);
    press(&mut s, &r, ch('.'));
    assert_eq!(s.sort, SortKey::Pid);
    press(&mut s, &r, ch('>'));
    assert_eq!(s.sort, SortKey::User);
    press(&mut s, &r, ch(','));
    press(&mut s, &r, ch('<'));
    assert_eq!(s.sort, SortKey::Gpu);
    press(&mut s, &r, ch('<'));
    assert_eq!(s.sort, SortKey::Time, "wraps around");
    press(&mut s, &r, ch('/'));
    assert!(s.reversed);
    for (letter, sort) in [
        ('n', SortKey::Gpu),
        ('p', SortKey::Pid),
        ('u', SortKey::User),
        ('g', SortKey::GpuMemory),
        ('s', SortKey::Sm),
        ('b', SortKey::Gmbw),
        ('c', SortKey::Cpu),
        ('m', SortKey::HostMemory),
        ('t', SortKey::Time),
    ] {
        press(&mut s, &r, ch('o'));
        assert!(s.sort_pending);
        press(&mut s, &r, ch(letter));
        assert_eq!((s.sort, s.reversed, s.sort_pending), (sort, false, false), "o {letter}");
        press(&mut s, &r, ch('o'));
        press(&mut s, &r, ch(letter.to_ascii_uppercase()));
        assert_eq!((s.sort, s.reversed), (sort, true), "o {}", letter.to_ascii_uppercase());
    }
    // `o` then another key: nothing sorted, and that key is not acted on.
    press(&mut s, &r, ch('o'));
    press(&mut s, &r, ch('q'));
    assert_eq!((s.sort, s.sort_pending), (SortKey::Time, false));
}

#[test]
fn filter_prompt() {
    let r = rows(1);
    let mut s = AppState::default();
    press(&mut s, &r, ch('\\'));
    assert_eq!(s.prompt.as_deref(), Some(""));
    for c in "pyq".chars() {
        // Every letter is text in the prompt, `q` included.
        assert_eq!(press(&mut s, &r, ch(c)), Effect::None);
    }
    press(&mut s, &r, key(KeyCode::Backspace));
    assert_eq!(s.active_filter(), "py", "the list narrows as you type");
    press(&mut s, &r, key(KeyCode::Enter));
    assert_eq!((s.prompt.clone(), s.filter.as_str()), (None, "py"));
    // Reopening edits the kept filter; Esc clears it.
    press(&mut s, &r, ch('\\'));
    assert_eq!(s.prompt.as_deref(), Some("py"));
    press(&mut s, &r, key(KeyCode::Esc));
    assert_eq!((s.prompt.clone(), s.filter.as_str()), (None, ""));
}

#[test]
fn signal_dialog() {
    let r = rows(3);
    let mut s = AppState::default();
    // Nothing selected: no dialog, the status line says why.
    press(&mut s, &r, ch('K'));
    assert!(s.dialog.is_none() && s.status.is_some());
    press(&mut s, &r, key(KeyCode::Down));
    for (k, choice) in [(ch('T'), 0), (ch('K'), 1), (ch('k'), 1), (ch('I'), 2), (ctrl('c'), 2)] {
        press(&mut s, &r, k);
        assert_eq!(s.dialog.as_ref().unwrap().choice, choice, "{k:?} highlights its signal");
        press(&mut s, &r, key(KeyCode::Esc));
        assert!(s.dialog.is_none());
    }
    for cancel in [ch('n'), ch('q'), key(KeyCode::Esc), ctrl('c')] {
        press(&mut s, &r, ch('T'));
        assert_eq!(press(&mut s, &r, cancel), Effect::None, "{cancel:?}");
        assert!(s.dialog.is_none());
    }
    press(&mut s, &r, ch('T'));
    press(&mut s, &r, key(KeyCode::Right));
    assert_eq!(s.dialog.as_ref().unwrap().choice, 1);
    press(&mut s, &r, key(KeyCode::Tab));
    press(&mut s, &r, key(KeyCode::Tab));
    assert_eq!(s.dialog.as_ref().unwrap().choice, 3);
    press(&mut s, &r, key(KeyCode::Right));
    assert_eq!(s.dialog.as_ref().unwrap().choice, 0, "wraps");
    press(&mut s, &r, key(KeyCode::Left));
    press(&mut s, &r, key(KeyCode::BackTab));
    assert_eq!(s.dialog.as_ref().unwrap().choice, 2);
    press(&mut s, &r, ch('4'));
    // Cancel applied: nothing sent.
    assert_eq!(press(&mut s, &r, key(KeyCode::Enter)), Effect::None);
    press(&mut s, &r, ch('I'));
    press(&mut s, &r, ch('2'));
    assert_eq!(
        press(&mut s, &r, ch(' ')),
        Effect::Send(SignalKind::Kill, vec![r[0].clone()])
    );
    // Tags win over the selection.
    press(&mut s, &r, ch(' '));
    press(&mut s, &r, ch(' '));
    press(&mut s, &r, ch('T'));
    assert_eq!(
        press(&mut s, &r, key(KeyCode::Enter)),
        Effect::Send(SignalKind::Term, vec![r[0].clone(), r[1].clone()])
    );
}

#[test]
fn readonly_opens_no_dialog() {
    let r = rows(2);
    let mut s = AppState::new(LayoutMode::Auto, true);
    press(&mut s, &r, key(KeyCode::Down));
    for k in [ch('T'), ch('K'), ch('k'), ch('I'), ctrl('c')] {
        assert_eq!(press(&mut s, &r, k), Effect::None);
        assert!(s.dialog.is_none());
        assert!(s.status.as_deref().unwrap().contains("--readonly"));
    }
}

#[test]
fn help_screen() {
    let r = rows(1);
    let mut s = AppState::default();
    for open in [ch('h'), ch('?')] {
        press(&mut s, &r, open);
        assert_eq!(s.screen, Screen::Help);
        // Any key returns, `q` included (it does not quit from here).
        assert_eq!(press(&mut s, &r, ch('q')), Effect::None);
        assert_eq!(s.screen, Screen::Main);
    }
}

#[test]
fn unbound_keys_do_nothing() {
    let s = AppState::default();
    for k in [ch('z'), key(KeyCode::F(2)), ch('9')] {
        assert_eq!(action_for(&s, k), None, "{k:?}");
    }
}

#[test]
fn selection_follows_the_process_and_is_dropped_when_it_is_gone() {
    let snapshot = common::machine();
    let mut s = AppState::default();
    let order = |s: &AppState| rows::order(&snapshot, &s.filter, s.sort, s.reversed);
    let keys = |o: &[usize]| -> Vec<ProcessKey> { o.iter().map(|&i| ProcessKey::of(&snapshot.processes[i])).collect() };
    let r = keys(&order(&s));
    press(&mut s, &r, key(KeyCode::Down));
    let first = s.selected.clone().unwrap();
    // Re-sorted: the same process stays selected, wherever it moved.
    press(&mut s, &r, ch('o'));
    press(&mut s, &r, ch('P'));
    let resorted = keys(&order(&s));
    s.reconcile(&resorted);
    assert_eq!(s.selected.as_ref(), Some(&first));
    assert_ne!(resorted.iter().position(|k| *k == first), Some(0));
    // Its process exited (or was replaced by a reused pid): dropped.
    let gone: Vec<ProcessKey> = resorted.iter().filter(|k| **k != first).cloned().collect();
    s.reconcile(&gone);
    assert_eq!(s.selected, None);
    let reused = ProcessKey {
        start_ticks: Some(1),
        ..first.clone()
    };
    s.selected = Some(first);
    s.reconcile(&[reused]);
    assert_eq!(s.selected, None);
}

#[test]
fn sorting_and_filtering_are_views_of_the_snapshot() {
    let snapshot = common::machine();
    let pids = |o: Vec<usize>| o.into_iter().map(|i| snapshot.processes[i].pid).collect::<Vec<_>>();
    let by_gpu = pids(rows::order(&snapshot, "", SortKey::Gpu, false));
    let mut by_pid = by_gpu.clone();
    by_pid.sort_unstable();
    assert_eq!(pids(rows::order(&snapshot, "", SortKey::Pid, false)), by_pid);
    by_pid.reverse();
    assert_eq!(pids(rows::order(&snapshot, "", SortKey::Pid, true)), by_pid);
    // GPU memory: largest first by default.
    let mem = rows::order(&snapshot, "", SortKey::GpuMemory, false);
    let mib: Vec<_> = mem.iter().map(|&i| snapshot.processes[i].gpu_memory).collect();
    assert!(mib.windows(2).all(|w| w[0] >= w[1]), "{mib:?}");
    // Substrings of command, user or pid, ignoring case.
    assert_eq!(pids(rows::order(&snapshot, "TRAIN", SortKey::Gpu, false)), [48213]);
    assert_eq!(pids(rows::order(&snapshot, "bob", SortKey::Gpu, false)), [51002, 51088]);
    assert_eq!(pids(rows::order(&snapshot, "2301", SortKey::Gpu, false)), [23017]);
    assert!(rows::order(&snapshot, "no such thing", SortKey::Gpu, false).is_empty());
}

#[test]
fn fit_keeps_the_selection_on_screen() {
    let mut s = AppState::default();
    let view = |line| Viewport {
        visible: 5,
        total: 20,
        selected_line: Some(line),
        command_overflow: 0,
    };
    s.fit(view(12));
    assert_eq!(s.scroll, 8);
    s.fit(view(3));
    assert_eq!(s.scroll, 3);
    s.scroll = 100;
    s.fit(Viewport {
        selected_line: None,
        ..view(0)
    });
    assert_eq!(s.scroll, 15, "never past the last page");
}

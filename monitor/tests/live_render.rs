//! Render tests of `nvitop-monitor -m`'s main screen: the view drawn into a
//! ratatui `TestBackend` from fixed snapshots, at 79×24, 120×40 and
//! 200×60, dark and light, Unicode and ASCII, with a selection, tags, a
//! filter, each sort, the signal dialog, the help screen and the
//! narrow-terminal message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use nvitop::Snapshot;
use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::live::rows::{self, ProcessKey, SortKey};
use nvitop_monitor::live::state::{AppState, Dialog, Screen};
use nvitop_monitor::live::{Published, ViewOptions, view};
use nvitop_monitor::theme::{Glyphs, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn published(snapshot: Snapshot) -> Published {
    Published::of(snapshot, true)
}

fn view_options() -> ViewOptions {
    ViewOptions {
        render: common::options(),
        root: false,
    }
}

/// Draws the view at `w`×`h` as the loop does; returns the screen as text
/// (with color escapes when `color`) and the state after the frame.
fn draw_with(
    latest: Option<&Published>,
    state: &mut AppState,
    view: &ViewOptions,
    (w, h): (u16, u16),
    color: bool,
) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|frame| {
            let area = frame.area();
            view::draw(frame.buffer_mut(), area, state, latest, view);
        })
        .unwrap();
    nvitop_monitor::ansi::to_ansi(terminal.backend().buffer(), color)
}

fn draw(state: &mut AppState, size: (u16, u16)) -> String {
    draw_with(Some(&published(common::machine())), state, &view_options(), size, false)
}

/// The key of the `n`th process of the machine's GPU-then-PID order.
fn nth(n: usize) -> ProcessKey {
    let snapshot = common::machine();
    let order = rows::order(&snapshot, "", SortKey::Gpu, false);
    ProcessKey::of(&snapshot.processes[order[n]])
}

/// The start of a process's command as the panel shows it: the first 15
/// characters tell the fixture's commands apart.
fn shown_command(p: &nvitop::ProcessSnapshot) -> String {
    let command = p.host.as_ref().map_or("No Such Process", |h| h.command.as_str());
    command.chars().take(15).collect()
}

#[test]
fn main_79x24() {
    insta::assert_snapshot!(draw(&mut AppState::default(), (79, 24)));
}

#[test]
fn main_120x40() {
    insta::assert_snapshot!(draw(&mut AppState::default(), (120, 40)));
}

#[test]
fn main_200x60() {
    insta::assert_snapshot!(draw(&mut AppState::default(), (200, 60)));
}

#[test]
fn compact_and_full_layouts_at_120x40() {
    let compact = draw(&mut AppState::new(LayoutMode::Compact, false), (120, 40));
    insta::assert_snapshot!("compact_120x40", compact);
    let full = draw(&mut AppState::new(LayoutMode::Full, false), (120, 40));
    assert_ne!(compact, full);
    // 79×24 is too short for the full panels and five process rows: auto
    // picks the compact ones.
    let auto = draw(&mut AppState::default(), (79, 24));
    let compact = draw(&mut AppState::new(LayoutMode::Compact, false), (79, 24));
    assert_eq!(auto, compact);
    // 200×60 has room: auto is full.
    let auto = draw(&mut AppState::default(), (200, 60));
    assert_eq!(auto, draw(&mut AppState::new(LayoutMode::Full, false), (200, 60)));
}

#[test]
fn ascii_120x40() {
    let view = ViewOptions {
        render: nvitop_monitor::RenderOptions {
            glyphs: Glyphs::Ascii,
            ..common::options()
        },
        root: false,
    };
    let mut state = AppState {
        selected: Some(nth(1)),
        dialog: Some(Dialog {
            choice: 1,
            targets: vec![nth(1)],
        }),
        ..AppState::default()
    };
    let text = draw_with(Some(&published(common::machine())), &mut state, &view, (120, 40), false);
    assert!(text.is_ascii(), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn dark_and_light_colors() {
    let mut state = AppState {
        selected: Some(nth(0)),
        tagged: vec![nth(2)],
        ..AppState::default()
    };
    let latest = published(common::machine());
    let dark = draw_with(Some(&latest), &mut state.clone(), &view_options(), (120, 40), true);
    let light_view = ViewOptions {
        render: nvitop_monitor::RenderOptions {
            theme: Theme::new(true),
            ..common::options()
        },
        root: false,
    };
    let light = draw_with(Some(&latest), &mut state, &light_view, (120, 40), true);
    assert_ne!(dark, light);
    insta::assert_snapshot!("dark_120x40_color", dark);
    insta::assert_snapshot!("light_120x40_color", light);
}

#[test]
fn selection_tags_and_command_scroll() {
    let mut state = AppState {
        selected: Some(nth(2)),
        tagged: vec![nth(0), nth(4)],
        command_offset: 7,
        ..AppState::default()
    };
    insta::assert_snapshot!(draw(&mut state, (120, 40)));
}

#[test]
fn filter_prompt_and_kept_filter() {
    let mut state = AppState {
        prompt: Some("python".to_owned()),
        ..AppState::default()
    };
    let text = draw(&mut state, (120, 40));
    assert!(!text.contains("tritonserver"), "the list narrows as you type");
    insta::assert_snapshot!("filter_prompt", text);
    let mut state = AppState {
        filter: "bob".to_owned(),
        ..AppState::default()
    };
    insta::assert_snapshot!("filter_kept", draw(&mut state, (120, 40)));
}

#[test]
fn each_sort_marks_its_column_and_orders_the_rows() {
    let headers = ["GPU", "PID", "USER", "GPU-MEM", "%SM", "%GMBW", "%CPU", "%MEM", "TIME"];
    for (sort, header) in SortKey::ALL.into_iter().zip(headers) {
        for reversed in [false, true] {
            let mut state = AppState {
                sort,
                reversed,
                ..AppState::default()
            };
            let text = draw(&mut state, (200, 60));
            let marker = if sort.descending() == reversed { "▲" } else { "▼" };
            assert!(
                text.contains(&format!("{header}{marker}")),
                "{sort:?} {reversed}:\n{text}"
            );
            // Rows in the order the sort gives.
            let snapshot = common::machine();
            let order = rows::order(&snapshot, "", sort, reversed);
            let at: Vec<usize> = order
                .iter()
                .map(|&i| text.find(&shown_command(&snapshot.processes[i])).unwrap())
                .collect();
            assert!(at.is_sorted(), "{sort:?} {reversed}");
        }
    }
    let mut state = AppState {
        sort: SortKey::GpuMemory,
        ..AppState::default()
    };
    insta::assert_snapshot!("sorted_by_gpu_memory", draw(&mut state, (120, 40)));
}

#[test]
fn signal_dialog() {
    let mut state = AppState {
        selected: Some(nth(0)),
        tagged: vec![nth(0), nth(1)],
        dialog: Some(Dialog {
            choice: 0,
            targets: vec![nth(0), nth(1)],
        }),
        ..AppState::default()
    };
    insta::assert_snapshot!(draw(&mut state, (120, 40)));
}

#[test]
fn narrow_terminal_message() {
    for size in [(78, 24), (20, 5)] {
        let text = draw(&mut AppState::default(), size);
        assert!(text.contains("needs"), "{text}");
        assert!(!text.contains("Processes"));
    }
    insta::assert_snapshot!("narrow_20x5", draw(&mut AppState::default(), (20, 5)));
}

#[test]
fn help_screen_and_readonly() {
    let mut state = AppState {
        screen: Screen::Help,
        readonly: true,
        ..AppState::default()
    };
    let text = draw(&mut state, (120, 40));
    for signal in ["SIGTERM", "SIGKILL", "SIGINT", "--readonly"] {
        assert!(text.contains(signal), "{signal}");
    }
    insta::assert_snapshot!(text);
    let main = draw(&mut AppState::new(LayoutMode::Auto, true), (120, 40));
    assert!(main.contains("read-only"));
}

#[test]
fn before_the_first_process_list() {
    let mut snapshot = common::machine();
    snapshot.processes.clear();
    let gathering = Published::of(snapshot.clone(), false);
    let text = draw_with(
        Some(&gathering),
        &mut AppState::default(),
        &view_options(),
        (120, 40),
        false,
    );
    assert!(text.contains("Gathering process status..."));
    let text = draw_with(
        Some(&published(snapshot)),
        &mut AppState::default(),
        &view_options(),
        (120, 40),
        false,
    );
    assert!(text.contains("No running processes found"));
    let text = draw_with(None, &mut AppState::default(), &view_options(), (120, 40), false);
    assert!(text.contains("Gathering device status..."));
}

#[test]
fn the_selection_scrolls_into_view_and_the_header_stays() {
    // 24 rows: the compact panels leave room for a few processes only.
    let snapshot = common::machine();
    let last = rows::order(&snapshot, "", SortKey::Gpu, false).len() - 1;
    let mut state = AppState {
        selected: Some(nth(last)),
        ..AppState::default()
    };
    let text = draw(&mut state, (79, 24));
    assert!(state.scroll > 0);
    assert!(text.contains("COMMAND"), "the column header stays on screen");
    let last_command = shown_command(&snapshot.processes[rows::order(&snapshot, "", SortKey::Gpu, false)[last]]);
    assert!(text.contains(&last_command[..4]), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn root_warning() {
    let view = ViewOptions {
        root: true,
        ..view_options()
    };
    let text = draw_with(
        Some(&published(common::machine())),
        &mut AppState::default(),
        &view,
        (120, 40),
        false,
    );
    assert!(text.contains("running as root"));
}

#[test]
fn any_size_draws_without_a_panic() {
    let mut state = AppState {
        selected: Some(nth(3)),
        dialog: Some(Dialog {
            choice: 2,
            targets: vec![nth(3)],
        }),
        status: Some("a status line".to_owned()),
        ..AppState::default()
    };
    for size in [(1, 1), (120, 1), (120, 5), (79, 3), (300, 2), (79, 100), (500, 200)] {
        for layout in [LayoutMode::Auto, LayoutMode::Full, LayoutMode::Compact] {
            state.layout = layout;
            let text = draw(&mut state, size);
            assert!(text.lines().count() <= usize::from(size.1), "{size:?}");
        }
    }
}

#[test]
fn zombie_no_permission_and_shared_pid_rows() {
    let mut snapshot = common::machine();
    let zombie = snapshot.processes.iter_mut().find(|p| p.pid == 51002).unwrap();
    zombie.host.as_mut().unwrap().status = "Z".to_owned();
    let hidden = snapshot.processes.iter_mut().find(|p| p.pid == 51088).unwrap();
    let host = hidden.host.as_mut().unwrap();
    host.username = None;
    host.command.clear();
    // One process on two GPUs.
    let mut twin = snapshot.processes.iter().find(|p| p.pid == 23017).unwrap().clone();
    twin.device_index = nvitop::DeviceIndex::physical(3);
    twin.physical_index = 3;
    snapshot.processes.push(twin);
    let latest = published(snapshot);
    let text = draw_with(
        Some(&latest),
        &mut AppState::default(),
        &view_options(),
        (200, 60),
        false,
    );
    assert!(text.contains("Zombie Process (python)"), "{text}");
    assert!(text.contains("No Permissions"), "{text}");
    let color = draw_with(
        Some(&latest),
        &mut AppState::default(),
        &view_options(),
        (200, 60),
        true,
    );
    let underlined: Vec<&str> = color.lines().filter(|l| l.contains("23017")).collect();
    assert_eq!(underlined.len(), 2);
    assert!(
        underlined
            .iter()
            .all(|l| l.contains(";4m") || l.contains("[4m") || l.contains(";4;")),
        "{underlined:?}"
    );
}

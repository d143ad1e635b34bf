//! Effects of the rendering options on fixed snapshots: thresholds change
//! colors, the light theme and gradient bars change styles, colors reach
//! the printed output only when asked for, and the pipe width rule.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use nvitop_monitor::theme::Thresholds;
use nvitop_monitor::{MainScreen, RenderOptions};
use ratatui::buffer::Buffer;
use ratatui::style::Color;

/// The foreground color of the first cell of the first occurrence of `needle`.
fn color_of(buf: &Buffer, needle: &str) -> Color {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        let line: String = (area.left()..area.right()).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(at) = line.find(needle) {
            let x = line[..at].chars().count() as u16;
            return buf[(x, y)].fg;
        }
    }
    panic!("{needle} not found");
}

#[test]
fn gpu_thresholds_change_colors() {
    let snapshot = common::machine();
    let default = nvitop_monitor::render(&snapshot, &common::options(), 120);
    // GPU 0 runs at 98%: heavy (red) by default.
    assert_eq!(color_of(&default, "UTL: █"), Color::Reset);
    assert_eq!(color_of(&default, "98%"), Color::Red);
    let raised = RenderOptions {
        gpu_thresholds: Thresholds::new(98, 99).unwrap(),
        mem_thresholds: Thresholds::new(98, 99).unwrap(),
        ..common::options()
    };
    let buf = nvitop_monitor::render(&snapshot, &raised, 120);
    assert_eq!(color_of(&buf, "98%"), Color::Yellow);
    let lowered = RenderOptions {
        gpu_thresholds: Thresholds::new(1, 2).unwrap(),
        ..common::options()
    };
    // GPU 2 at 45% and 15% memory: moderate by default, heavy with 1 2.
    let moderate = nvitop_monitor::render(&snapshot, &common::options(), 120);
    assert_eq!(color_of(&moderate, "45%"), Color::Yellow);
    assert_eq!(
        color_of(&nvitop_monitor::render(&snapshot, &lowered, 120), "45%"),
        Color::Red
    );
}

#[test]
fn memory_thresholds_change_colors() {
    let snapshot = common::machine();
    // GPU 2 uses 15.0% of its memory: moderate by default.
    let buf = nvitop_monitor::render(&snapshot, &common::options(), 120);
    assert_eq!(color_of(&buf, "15.0%"), Color::Yellow);
    let options = RenderOptions {
        mem_thresholds: Thresholds::new(20, 30).unwrap(),
        ..common::options()
    };
    let buf = nvitop_monitor::render(&snapshot, &options, 120);
    assert_eq!(color_of(&buf, "15.0%"), Color::Green);
}

#[test]
fn light_theme_avoids_plain_yellow() {
    let options = RenderOptions {
        theme: nvitop_monitor::theme::Theme::new(true),
        ..common::options()
    };
    let buf = nvitop_monitor::render(&common::machine(), &options, 120);
    assert_eq!(color_of(&buf, "45%"), Color::Indexed(130));
}

#[test]
fn other_users_are_dimmed() {
    let buf = nvitop_monitor::render(&common::machine(), &common::options(), 120);
    assert_eq!(color_of(&buf, "jupyter-lab"), Color::DarkGray);
    assert_eq!(color_of(&buf, "python train.py"), Color::Reset);
}

#[test]
fn colorful_bars_are_gradients() {
    let options = RenderOptions {
        colorful: true,
        ..common::options()
    };
    let buf = nvitop_monitor::render(&common::machine(), &options, 160);
    // GPU 0's utilization bar starts green and ends red.
    let text = nvitop_monitor::ansi::to_ansi(&buf, true);
    let utl = text.lines().find(|l| l.contains("UTL:") && l.contains("98%")).unwrap();
    assert!(utl.contains("\x1b[0;32m") && utl.contains("\x1b[0;31m"), "{utl:?}");
    let plain = nvitop_monitor::ansi::to_ansi(
        &nvitop_monitor::render(&common::machine(), &common::options(), 160),
        true,
    );
    let utl = plain.lines().find(|l| l.contains("UTL:") && l.contains("98%")).unwrap();
    assert!(!utl.contains("\x1b[0;32m"), "{utl:?}");
}

#[test]
fn escapes_only_with_color() {
    let buf = nvitop_monitor::render(&common::machine(), &common::options(), 120);
    assert!(!nvitop_monitor::ansi::to_ansi(&buf, false).contains('\x1b'));
    let colored = nvitop_monitor::ansi::to_ansi(&buf, true);
    assert!(colored.contains("\x1b[0;31m"));
    // Every colored line is back to plain before its newline: its last
    // escape sequence is a bare reset.
    for line in colored.lines().filter(|l| l.contains('\x1b')) {
        let last = line.rfind('\x1b').unwrap();
        assert!(line[last..].starts_with("\x1b[0m"), "{line:?}");
    }
}

#[test]
fn pipe_width_rule() {
    let options = common::options();
    // Commands up to ~53 columns: 120 fits them, 79 does not.
    assert_eq!(MainScreen::new(&common::machine(), &options).preferred_width(), 120);
    assert_eq!(MainScreen::new(&common::idle_machine(), &options).preferred_width(), 79);
    assert_eq!(MainScreen::new(&common::faults(), &options).preferred_width(), 79);
    let long = common::with_long_command(common::idle_machine(), 80);
    assert_eq!(MainScreen::new(&long, &options).preferred_width(), 160);
    let huge = common::with_long_command(common::idle_machine(), 1000);
    assert_eq!(MainScreen::new(&huge, &options).preferred_width(), 160);
}

#[test]
fn narrow_terminals_still_get_the_79_column_table() {
    let text = common::plain(&common::machine(), &common::options(), 40);
    assert!(text.lines().all(|l| l.chars().count() <= 79));
    assert!(text.lines().any(|l| l.chars().count() == 79));
}

#[test]
fn simulated_machines_say_so() {
    let mut snapshot = common::idle_machine();
    assert!(!common::plain(&snapshot, &common::options(), 79).contains("simulated"));
    snapshot.simulated = true;
    let text = common::plain(&snapshot, &common::options(), 79);
    assert!(text.lines().next().unwrap().ends_with("(simulated GPUs)"));
}

#[test]
fn a_lost_gpu_does_not_hide_the_others() {
    let text = common::plain(&common::faults(), &common::options(), 79);
    assert!(text.contains("│   2  ERROR: GPU 2 is lost"), "{text}");
    assert!(text.contains("RTX 3090"), "{text}");
    assert!(text.contains("Tesla K80"), "{text}");
    // Unsupported fields print N/A, not zero.
    let k80_second_row = text.lines().skip_while(|l| !l.contains("Tesla K80")).nth(1).unwrap();
    assert!(k80_second_row.starts_with("│ N/A"), "{k80_second_row}");
    assert!(text.contains("process list unavailable: permission denied"), "{text}");
}

//! The one-shot printer's streaming path (`screen::write`, the process
//! panel a few lines at a time) prints exactly what the whole-screen buffer
//! (`render`, which the snapshot tests check) prints, wherever the chunk
//! boundaries fall; and the process panel's views.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use nvitop_monitor::theme::Glyphs;
use nvitop_monitor::widgets::ProcessPanel;
use nvitop_monitor::{RenderOptions, ansi, render, screen};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget as _;

fn streamed(snapshot: &nvitop::Snapshot, options: &RenderOptions, width: u16, color: bool, chunk: u16) -> String {
    let mut out = Vec::new();
    screen::write_in_chunks(snapshot, options, Some(width), color, chunk, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn chunks_print_what_the_whole_buffer_prints() {
    let ascii = RenderOptions {
        glyphs: Glyphs::Ascii,
        ..common::options()
    };
    let snapshots = [
        common::machine(),
        common::idle_machine(),
        common::faults(),
        common::with_long_command(common::machine(), 400),
    ];
    for snapshot in &snapshots {
        for options in [&common::options(), &ascii] {
            for width in [79_u16, 120, 160] {
                for color in [false, true] {
                    let whole = ansi::to_ansi(&render(snapshot, options, width), color);
                    for chunk in [1, 2, 3, 4, 5, 7, 64] {
                        assert_eq!(
                            streamed(snapshot, options, width, color, chunk),
                            whole,
                            "width {width}, color {color}, chunk {chunk}"
                        );
                    }
                    let mut out = Vec::new();
                    screen::write(snapshot, options, Some(width), color, &mut out).unwrap();
                    assert_eq!(String::from_utf8(out).unwrap(), whole);
                }
            }
        }
    }
}

fn panel_text(panel: &ProcessPanel<'_>, width: u16) -> Vec<String> {
    let area = Rect::new(0, 0, width, panel.height(width));
    let mut buf = Buffer::empty(area);
    panel.render(area, &mut buf);
    ansi::to_ansi(&buf, false).lines().map(str::to_owned).collect()
}

#[test]
fn scrolled_panel_keeps_header_and_bottom_rule() {
    let snapshot = common::machine();
    let options = common::options();
    let whole = panel_text(&ProcessPanel::new(&snapshot, &options), 120);
    let panel = ProcessPanel::new(&snapshot, &options);
    let (header, footer) = (4, 1);
    assert_eq!(panel.total_lines(), whole.len());
    assert_eq!(panel.body_lines(), whole.len() - header - footer);
    let body = panel.body_lines();
    for offset in 0..=body {
        for visible in [0, 1, 2, 3, body] {
            let view = panel.clone().scrolled(offset, visible);
            let lines = panel_text(&view, 120);
            let shown = visible.min(body - offset);
            assert_eq!(
                lines.len(),
                header + shown + footer,
                "offset {offset}, visible {visible}"
            );
            assert_eq!(lines[..header], whole[..header]);
            assert_eq!(
                lines[header..header + shown],
                whole[header + offset..header + offset + shown]
            );
            assert_eq!(lines.last(), whole.last());
        }
    }
    // Past the end: header and bottom rule only.
    assert_eq!(
        panel_text(&panel.clone().scrolled(body + 5, 3), 120).len(),
        header + footer
    );
}

#[test]
fn line_ranges_are_clamped() {
    let snapshot = common::machine();
    let options = common::options();
    let panel = ProcessPanel::new(&snapshot, &options);
    let total = panel.total_lines();
    let whole = panel_text(&panel, 160);
    assert_eq!(panel_text(&panel.clone().lines(2..total + 10), 160), whole[2..]);
    assert!(panel_text(&panel.clone().lines(total + 1..total + 3), 160).is_empty());
}

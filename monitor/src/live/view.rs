//! Drawing the viewer: the state and the newest snapshot into a ratatui
//! buffer, with the one-shot printer's own widgets (device, host and
//! process panels), laid out to the terminal's size, plus what only the
//! live view has: the hint on the date line, the status or filter line at
//! the bottom, the signal dialog, and the message for a too-narrow
//! terminal.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::cli::LayoutMode;
use crate::live::collect::Published;
use crate::live::rows::{self, ProcessKey, SortKey};
use crate::live::state::{AppState, DIALOG_CHOICES, Screen, SignalKind, Viewport};
use crate::live::{environment_view, help_view, history_view, process_view, tree_view};
use crate::screen;
use crate::text::{cut, width};
use crate::theme::{Glyphs, RenderOptions};
use crate::training::{RowMark, row_mark};

/// The dialog's frame with `--ascii`.
pub(crate) const ASCII_BORDER: ratatui::symbols::border::Set<'static> = ratatui::symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};
use crate::widgets::devices::{DeviceTable, TABLE_WIDTH};
use crate::widgets::processes::{FOOTER_LINES, HEADER_LINES, LiveRows};
use crate::widgets::{DevicePanel, HostPanel, ProcessPanel};

/// Process rows the auto layout keeps room for before it falls back to
/// the compact device panel.
const AUTO_MIN_ROWS: usize = 5;

/// What the loop needs to know about the frame just drawn, for the next
/// action: the rows shown, in order, and how many fit on a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// The shown processes, in display order (every filtered row, not
    /// only those on screen).
    pub rows: Vec<ProcessKey>,
    /// Body lines of the process panel on screen.
    pub page: usize,
    /// Screen line of each row on screen, with its index in `rows` (what
    /// a click selects).
    pub lines: Vec<(u16, usize)>,
    /// The signal dialog's choices on screen.
    pub buttons: Vec<Button>,
}

/// A dialog choice's place on screen: line `y`, columns `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Button {
    /// The line.
    pub y: u16,
    /// First column.
    pub x0: u16,
    /// Past the last column.
    pub x1: u16,
    /// The choice (0-2 a signal, 3 Cancel).
    pub choice: usize,
}

/// What stays the same from frame to frame.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Colors, glyphs, thresholds, user and host.
    pub render: RenderOptions,
    /// The viewer runs as root.
    pub root: bool,
}

/// The rows of `latest` as `state` filters and sorts them.
pub fn rows_of(state: &AppState, latest: &Published) -> (Vec<usize>, Vec<ProcessKey>) {
    let snapshot = &latest.snapshot;
    let order = rows::order(snapshot, state.active_filter(), state.sort, state.reversed);
    let keys = order.iter().map(|&i| ProcessKey::of(&snapshot.processes[i])).collect();
    (order, keys)
}

/// The rows the screen shown works on: the tree's on the tree view, the
/// filtered and sorted processes elsewhere.
pub fn rows_of_screen(state: &AppState, latest: &Published) -> Vec<ProcessKey> {
    if state.screen == Screen::Tree {
        return latest.tree.as_ref().map(|t| t.keys()).unwrap_or_default();
    }
    rows_of(state, latest).1
}

/// Draws the viewer into `area` of `buf`; keeps the selection in view
/// (the only state it changes: scroll offsets depend on the frame's size).
pub fn draw(
    buf: &mut Buffer,
    area: Rect,
    state: &mut AppState,
    latest: Option<&Published>,
    view: &ViewOptions,
) -> Shown {
    let options = &view.render;
    // Help needs no reading: with a slow driver it opens before the first
    // reading lands.
    if state.screen == Screen::Help {
        help_view::draw(buf, area, state, options);
        let rows = latest.map(|latest| rows_of(state, latest).1).unwrap_or_default();
        return Shown {
            rows,
            page: 1,
            ..Shown::default()
        };
    }
    let Some(latest) = latest else {
        let line = Line::from(vec![
            Span::raw("Gathering device status..."),
            Span::styled(hint(state), options.theme.dim()),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
        return Shown::default();
    };
    let (order, keys) = rows_of(state, latest);
    let one_page = |rows| Shown {
        rows,
        page: 1,
        ..Shown::default()
    };
    match state.screen {
        // Help was drawn above, with or without a reading; the main
        // screen is drawn below.
        Screen::Help | Screen::Main => {}
        Screen::Process => {
            process_view::draw(buf, area, state, latest, options);
            return one_page(keys);
        }
        Screen::Environment => {
            environment_view::draw(buf, area, state, options);
            return one_page(keys);
        }
        Screen::Tree => return tree_view::draw(buf, area, state, latest, view),
    }
    if area.width < TABLE_WIDTH {
        narrow(buf, area, options);
        return one_page(keys);
    }
    let snapshot = &latest.snapshot;
    let selected = state
        .selected
        .as_ref()
        .and_then(|key| keys.iter().position(|k| k == key))
        .map(|row| order[row]);
    let tagged = keys
        .iter()
        .zip(&order)
        .filter(|(k, _)| state.tagged.contains(k))
        .map(|(_, &i)| i)
        .collect();
    let mut live = LiveRows {
        separators: state.sort == SortKey::Gpu,
        selected,
        tagged,
        command_offset: state.command_offset,
        sort: Some((state.sort.column(), state.sort.descending() != state.reversed)),
        shared_pids: rows::shared_pids(snapshot),
        root: view.root,
        gathering: !latest.processes_ready,
        marks: marks_of(latest),
        order,
    };

    let bottom = u16::from(bottom_line(state).is_some());
    let panel = ProcessPanel::live(snapshot, options, &live);
    let devices = device_table(state.layout, snapshot, options, area, panel.body_lines(), bottom);
    let host = HostPanel::new(snapshot, options);
    let full = devices.height()
        > DevicePanel::new(snapshot, options)
            .compact(true)
            .at_width(area.width)
            .height();
    let graphs_height = if full
        && graph_room(
            state.layout,
            area.height,
            1 + devices.height() + host.height() + 1 + bottom,
        ) {
        history_view::HEIGHT
    } else {
        0
    };
    let top = 1 + devices.height() + host.height() + graphs_height + 1;
    let room = area.height.saturating_sub(top + bottom);
    let visible = usize::from(room).saturating_sub(HEADER_LINES + FOOTER_LINES);
    let selected_row = state
        .selected
        .as_ref()
        .and_then(|key| keys.iter().position(|k| k == key));
    state.fit(Viewport {
        visible,
        total: panel.body_lines(),
        selected_line: selected_row.and_then(|row| panel.body_line_of(row)),
        command_overflow: panel.command_overflow(area.width),
    });
    live.command_offset = state.command_offset;
    let panel = ProcessPanel::live(snapshot, options, &live).scrolled(state.scroll, visible);

    header(buf, area, state, snapshot, options);
    let mut y = area.y + 1;
    let mut place = |height: u16| {
        let rect = Rect::new(area.x, y, area.width, height).intersection(area);
        y = y.saturating_add(height);
        rect
    };
    devices.render(place(devices.height()), buf);
    host.render(place(host.height()), buf);
    if graphs_height > 0 {
        // The selected process's device, from its row: a typed index, not its label.
        let selected = state
            .selected
            .as_ref()
            .and_then(|key| snapshot.processes.iter().find(|p| ProcessKey::of(p) == *key))
            .map(|p| p.device_index);
        history_view::draw(buf, place(graphs_height), state, latest, selected, options);
    }
    place(1);
    let panel_area = place(room);
    panel.render(panel_area, buf);
    let first = panel_area.y + u16::try_from(HEADER_LINES).unwrap_or(0);
    let lines = (0..keys.len())
        .filter_map(|row| {
            let line = panel.body_line_of(row)?;
            let on = line.checked_sub(state.scroll).filter(|&l| l < visible)?;
            Some((first + u16::try_from(on).ok()?, row))
        })
        .collect();
    finish_frame(
        buf,
        area,
        state,
        options,
        Shown {
            rows: keys,
            page: visible,
            lines,
            ..Shown::default()
        },
    )
}

/// What every process list (main screen, tree) draws last: the bottom line
/// (status, filter prompt, hint) on the last row and the signal dialog over
/// everything, whose buttons `shown` then carries for the mouse.
pub(crate) fn finish_frame(
    buf: &mut Buffer,
    area: Rect,
    state: &AppState,
    options: &RenderOptions,
    shown: Shown,
) -> Shown {
    if let Some(line) = bottom_line(state) {
        let y = area.bottom().saturating_sub(1);
        buf.set_line(area.x, y, &line_of(&line, options), area.width);
    }
    let buttons = state
        .dialog
        .as_ref()
        .map(|dialog| draw_dialog(buf, area, dialog.choice, &dialog.targets, options))
        .unwrap_or_default();
    Shown { buttons, ..shown }
}

/// The training marks of the reading's processes, by (pid, start time),
/// judged as of when the records were read.
fn marks_of(latest: &Published) -> HashMap<(u32, u64), RowMark> {
    let training = &latest.training;
    if training.records.is_empty() {
        return HashMap::new();
    }
    latest
        .snapshot
        .processes
        .iter()
        .filter_map(|p| {
            let record = training.of(p)?;
            let ticks = p.host.as_ref()?.start_ticks;
            Some(((p.pid, ticks), row_mark(record, training.read_at)))
        })
        .collect()
}

/// The device panel in the layout asked for; `auto` takes the full one
/// when it leaves room for [`AUTO_MIN_ROWS`] process rows (or all of them).
fn device_table(
    layout: LayoutMode,
    snapshot: &nvitop::Snapshot,
    options: &RenderOptions,
    area: Rect,
    body: usize,
    bottom: u16,
) -> DeviceTable {
    let full = DevicePanel::new(snapshot, options).at_width(area.width);
    let compact = || DevicePanel::new(snapshot, options).compact(true).at_width(area.width);
    match layout {
        LayoutMode::Full => full,
        LayoutMode::Compact => compact(),
        LayoutMode::Auto => {
            let panel = HEADER_LINES + FOOTER_LINES + body.clamp(1, AUTO_MIN_ROWS);
            let need = usize::from(1 + full.height() + 2 + 1 + bottom) + panel;
            if need <= usize::from(area.height) {
                full
            } else {
                compact()
            }
        }
    }
}

/// Whether the history graphs fit under the host panel: in the full
/// layout when the process panel keeps its header, footer and a row; in
/// auto when it keeps [`AUTO_MIN_ROWS`] rows.
fn graph_room(layout: LayoutMode, height: u16, above: u16) -> bool {
    let rows = if layout == LayoutMode::Full { 1 } else { AUTO_MIN_ROWS };
    let need = usize::from(above) + usize::from(history_view::HEIGHT) + HEADER_LINES + FOOTER_LINES + rows;
    layout != LayoutMode::Compact && need <= usize::from(height)
}

/// `(Press h for help or q to quit)`, and what limits the viewer.
pub(crate) fn hint(state: &AppState) -> String {
    let mut hint = String::from("  (Press h for help or q to quit)");
    if state.readonly {
        hint.push_str("  read-only: signal keys are off");
    }
    hint
}

pub(crate) fn header(
    buf: &mut Buffer,
    area: Rect,
    state: &AppState,
    snapshot: &nvitop::Snapshot,
    options: &RenderOptions,
) {
    let mut spans = vec![Span::raw(screen::date(snapshot, options))];
    if snapshot.simulated {
        spans.push(Span::styled("  (simulated GPUs)", options.theme.warning()));
    }
    spans.push(Span::styled(hint(state), options.theme.dim()));
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The bottom line: the open filter prompt, else the status message, else
/// the kept filter; `None` when there is nothing to say.
pub(crate) fn bottom_line(state: &AppState) -> Option<String> {
    if let Some(prompt) = &state.prompt {
        return Some(format!("Filter: {prompt}_   (Enter keeps it, Esc clears it)"));
    }
    if let Some(status) = &state.status {
        return Some(status.clone());
    }
    (!state.filter.is_empty()).then(|| format!("Filter: {}   (\\ to change)", state.filter))
}

pub(crate) fn line_of(text: &str, options: &RenderOptions) -> Line<'static> {
    Line::from(Span::styled(text.to_owned(), options.theme.title()))
}

/// The message for a terminal narrower than the device table, centred and
/// wrapped at words to the terminal's width.
fn narrow(buf: &mut Buffer, area: Rect, options: &RenderOptions) {
    let message = format!(
        "nvitop-monitor needs a terminal {TABLE_WIDTH} columns wide (this one has {})",
        area.width
    );
    let lines = wrap(&message, usize::from(area.width.max(1)));
    let height = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let top = area.y + area.height.saturating_sub(height) / 2;
    for (i, text) in lines.iter().enumerate() {
        let y = top.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
        if y >= area.bottom() {
            break;
        }
        let text = cut(text, usize::from(area.width));
        let x = area.x + u16::try_from(usize::from(area.width).saturating_sub(width(text)) / 2).unwrap_or(0);
        buf.set_string(x, y, text, options.theme.warning());
    }
}

/// `text` in lines of at most `columns`, broken at spaces (a longer word
/// is cut when drawn).
fn wrap(text: &str, columns: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if width(line) + 1 + width(word) <= columns => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// The confirmation dialog, centred: whom it signals and the four choices,
/// the highlighted one reversed. Returns where the choices are.
pub(crate) fn draw_dialog(
    buf: &mut Buffer,
    area: Rect,
    choice: usize,
    targets: &[ProcessKey],
    options: &RenderOptions,
) -> Vec<Button> {
    let mut pids: Vec<String> = targets.iter().map(|k| k.pid.to_string()).collect();
    pids.dedup();
    let who = match pids.len() {
        1 => format!("Send a signal to process {}?", pids[0]),
        n => format!("Send a signal to {n} processes ({})?", pids.join(", ")),
    };
    let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.name()).chain(["Cancel"]).collect();
    let mut buttons = vec![Span::raw(" ")];
    for (i, name) in names.iter().enumerate() {
        let style = if i == choice {
            options.theme.title().add_modifier(Modifier::REVERSED)
        } else {
            options.theme.title()
        };
        buttons.push(Span::styled(format!(" {} {name} ", i + 1), style));
        buttons.push(Span::raw(" "));
    }
    let buttons_width: usize = buttons.iter().map(|s| width(&s.content)).sum();
    let inner = (width(&who) + 2)
        .max(buttons_width)
        .min(usize::from(area.width.saturating_sub(2)));
    let w = u16::try_from(inner + 2).unwrap_or(area.width).min(area.width);
    let h = 6.min(area.height);
    let rect = Rect::new(
        area.x + area.width.saturating_sub(w) / 2,
        area.y + area.height.saturating_sub(h) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    let help = "Enter: send   1-4: choose   Esc: cancel";
    debug_assert_eq!(names.len(), DIALOG_CHOICES);
    let text = vec![
        Line::from(format!(" {who}")),
        Line::from(""),
        Line::from(buttons),
        Line::from(Span::styled(format!(" {help}"), options.theme.dim())),
    ];
    let mut block = Block::default().borders(Borders::ALL).title(" Signal ");
    if options.glyphs == Glyphs::Ascii {
        block = block.border_set(ASCII_BORDER);
    }
    Paragraph::new(text).block(block).render(rect, buf);
    // The choices' line: the frame, a space, then each ` N NAME ` and a
    // space.
    let y = rect.y + 3;
    let mut x = rect.x + 2;
    let mut buttons = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let w = u16::try_from(width(name) + 4).unwrap_or(0);
        if y < rect.bottom() {
            buttons.push(Button {
                y,
                x0: x,
                x1: (x + w).min(rect.right()),
                choice: i,
            });
        }
        x = x.saturating_add(w + 1);
    }
    buttons
}

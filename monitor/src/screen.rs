//! The main screen: date line, device panel, host panel and process panel
//! stacked top to bottom, and the rule that picks the output width when
//! stdout is not a terminal.

use chrono::{DateTime, Local, Utc};
use nvitop::Snapshot;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::ansi;
use crate::theme::RenderOptions;
use crate::widgets::devices::TABLE_WIDTH;
use crate::widgets::{DevicePanel, HostPanel, ProcessPanel};

/// Widths tried, narrowest first, when the output is not a terminal.
pub const PIPE_WIDTHS: [u16; 3] = [79, 120, 160];

/// The main screen widget.
#[derive(Debug, Clone, Copy)]
pub struct MainScreen<'a> {
    snapshot: &'a Snapshot,
    options: &'a RenderOptions,
}

impl<'a> MainScreen<'a> {
    /// The screen for `snapshot`.
    pub fn new(snapshot: &'a Snapshot, options: &'a RenderOptions) -> Self {
        Self { snapshot, options }
    }

    /// Lines the screen takes at `width` columns.
    pub fn height(&self, width: u16) -> u16 {
        let width = width.max(TABLE_WIDTH);
        self.top_height(width) + ProcessPanel::new(self.snapshot, self.options).height(width)
    }

    /// Lines above the process panel: date line, devices, host, blank line.
    fn top_height(&self, width: u16) -> u16 {
        1 + DevicePanel::new(self.snapshot, self.options).height(width)
            + HostPanel::new(self.snapshot, self.options).height()
            + 1
    }

    /// Draws what is above the process panel into the top of `area`.
    fn render_top(&self, area: Rect, buf: &mut Buffer) {
        let width = area.width;
        let mut spans = vec![Span::raw(self.date())];
        if self.snapshot.simulated {
            // Never let simulated numbers pass for real ones.
            spans.push(Span::styled("  (simulated GPUs)", self.options.theme.warning()));
        }
        buf.set_line(area.x, area.y, &Line::from(spans), width);
        let mut y = area.y + 1;
        let mut place = |height: u16| {
            let rect = Rect::new(area.x, y, width, height).intersection(area);
            y = y.saturating_add(height);
            rect
        };
        let devices = DevicePanel::new(self.snapshot, self.options);
        devices.render(place(devices.height(width)), buf);
        let host = HostPanel::new(self.snapshot, self.options);
        host.render(place(host.height()), buf);
    }

    /// The width for output that is not a terminal: the narrowest of
    /// [`PIPE_WIDTHS`] that shows every process command in full, or the
    /// widest when none does (the commands are then cut).
    pub fn preferred_width(&self) -> u16 {
        let needed = ProcessPanel::new(self.snapshot, self.options).required_width();
        PIPE_WIDTHS
            .into_iter()
            .find(|&w| usize::from(w) >= needed)
            .unwrap_or(PIPE_WIDTHS[PIPE_WIDTHS.len() - 1])
    }

    /// `Wed Nov 25 10:31:45 2026` for the snapshot's time.
    fn date(&self) -> String {
        let secs = self.snapshot.timestamp.floor() as i64;
        let utc = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default();
        let format = "%a %b %e %H:%M:%S %Y";
        match self.options.utc_offset {
            Some(offset) => utc.with_timezone(&offset).format(format).to_string(),
            None => utc.with_timezone(&Local).format(format).to_string(),
        }
    }
}

impl Widget for &MainScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.render_top(area, buf);
        let top = self.top_height(area.width);
        let processes = ProcessPanel::new(self.snapshot, self.options);
        let rect = Rect::new(
            area.x,
            area.y.saturating_add(top),
            area.width,
            processes.height(area.width),
        );
        processes.render(rect.intersection(area), buf);
    }
}

/// Renders the main screen at `width` columns (at least the table's 79)
/// into a buffer exactly as tall as the content.
pub fn render(snapshot: &Snapshot, options: &RenderOptions, width: u16) -> Buffer {
    let screen = MainScreen::new(snapshot, options);
    let width = width.max(TABLE_WIDTH);
    let area = Rect::new(0, 0, width, screen.height(width));
    let mut buf = Buffer::empty(area);
    screen.render(area, &mut buf);
    buf
}

/// Process-panel lines rendered and printed at a time by [`write()`].
pub const CHUNK_LINES: u16 = 64;

/// Prints the main screen at `width` columns (at least the table's 79) to
/// `out`, exactly as [`ansi::to_ansi`] prints [`render`]'s buffer, but a
/// piece at a time: the panels above the processes, then the process panel
/// [`CHUNK_LINES`] lines at a time through one reused buffer. So memory
/// does not grow with the number of processes (a whole-screen buffer holds
/// one cell, about 40 bytes, per column of every line).
///
/// # Errors
/// What writing to `out` returns (a closed pipe, for one).
pub fn write(
    snapshot: &Snapshot,
    options: &RenderOptions,
    width: u16,
    color: bool,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    write_in_chunks(snapshot, options, width, color, CHUNK_LINES, out)
}

/// [`write`] with `chunk` process-panel lines at a time (tests try small
/// ones, so that every chunk boundary falls somewhere interesting).
#[doc(hidden)]
pub fn write_in_chunks(
    snapshot: &Snapshot,
    options: &RenderOptions,
    width: u16,
    color: bool,
    chunk: u16,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let screen = MainScreen::new(snapshot, options);
    let width = width.max(TABLE_WIDTH);
    let mut scratch = String::new();

    let top = screen.top_height(width);
    let mut buf = Buffer::empty(Rect::new(0, 0, width, top));
    screen.render_top(buf.area, &mut buf);
    ansi::write_rows(&buf, top, color, &mut scratch, out)?;

    let mut panel = ProcessPanel::new(snapshot, options);
    let total = panel.total_lines();
    let chunk = chunk.max(1);
    let rows = u16::try_from(total).unwrap_or(u16::MAX).min(chunk);
    buf.resize(Rect::new(0, 0, width, rows));
    for start in (0..total).step_by(usize::from(chunk)) {
        let end = (start + usize::from(chunk)).min(total);
        buf.reset();
        panel = panel.lines(start..end);
        panel.render(buf.area, &mut buf);
        let drawn = u16::try_from(end - start).unwrap_or(u16::MAX);
        ansi::write_rows(&buf, drawn, color, &mut scratch, out)?;
    }
    Ok(())
}

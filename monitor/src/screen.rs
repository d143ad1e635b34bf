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
use crate::widgets::devices::{DeviceTable, TABLE_WIDTH};
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
        self.panels(Some(width.max(TABLE_WIDTH))).height()
    }

    /// The width for output that is not a terminal: the narrowest of
    /// [`PIPE_WIDTHS`] that shows every process command in full, or the
    /// widest when none does (the commands are then cut).
    pub fn preferred_width(&self) -> u16 {
        pipe_width(&ProcessPanel::new(self.snapshot, self.options))
    }

    /// The panels at `width` columns, or at the [`preferred_width`] when
    /// `None`: each built once, for both measuring and drawing.
    ///
    /// [`preferred_width`]: Self::preferred_width
    fn panels(&self, width: Option<u16>) -> Panels<'a> {
        let processes = ProcessPanel::new(self.snapshot, self.options);
        let width = width.unwrap_or_else(|| pipe_width(&processes));
        Panels {
            screen: *self,
            width,
            devices: DevicePanel::new(self.snapshot, self.options).at_width(width),
            host: HostPanel::new(self.snapshot, self.options),
            processes,
        }
    }

    /// `Wed Nov 25 10:31:45 2026` for the snapshot's time.
    fn date(&self) -> String {
        date(self.snapshot, self.options)
    }
}

/// `Wed Nov 25 10:31:45 2026`: the snapshot's time as the date line shows
/// it (in `options.utc_offset`, else the local time zone).
pub fn date(snapshot: &Snapshot, options: &RenderOptions) -> String {
    let secs = snapshot.timestamp.floor() as i64;
    let utc = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default();
    let format = "%a %b %e %H:%M:%S %Y";
    match options.utc_offset {
        Some(offset) => utc.with_timezone(&offset).format(format).to_string(),
        None => utc.with_timezone(&Local).format(format).to_string(),
    }
}

/// [`MainScreen::preferred_width`] for the process panel `processes`.
fn pipe_width(processes: &ProcessPanel<'_>) -> u16 {
    let needed = processes.required_width();
    PIPE_WIDTHS
        .into_iter()
        .find(|&w| usize::from(w) >= needed)
        .unwrap_or(PIPE_WIDTHS[PIPE_WIDTHS.len() - 1])
}

/// The screen's panels at one width ([`MainScreen::panels`]).
struct Panels<'a> {
    screen: MainScreen<'a>,
    width: u16,
    devices: DeviceTable,
    host: HostPanel<'a>,
    processes: ProcessPanel<'a>,
}

impl Panels<'_> {
    /// Lines of the whole screen.
    fn height(&self) -> u16 {
        self.top_height() + self.processes.height(self.width)
    }

    /// Lines above the process panel: date line, devices, host, blank line.
    fn top_height(&self) -> u16 {
        1 + self.devices.height() + self.host.height() + 1
    }

    /// Draws what is above the process panel into the top of `area`.
    fn render_top(&self, area: Rect, buf: &mut Buffer) {
        let width = area.width;
        let (snapshot, options) = (self.screen.snapshot, self.screen.options);
        let mut spans = vec![Span::raw(self.screen.date())];
        if snapshot.simulated {
            // Never let simulated numbers pass for real ones.
            spans.push(Span::styled("  (simulated GPUs)", options.theme.warning()));
        }
        buf.set_line(area.x, area.y, &Line::from(spans), width);
        let mut y = area.y + 1;
        let mut place = |height: u16| {
            let rect = Rect::new(area.x, y, width, height).intersection(area);
            y = y.saturating_add(height);
            rect
        };
        self.devices.render(place(self.devices.height()), buf);
        self.host.render(place(self.host.height()), buf);
    }

    /// Draws the whole screen into `area`.
    fn render(&self, area: Rect, buf: &mut Buffer) {
        self.render_top(area, buf);
        let rect = Rect::new(
            area.x,
            area.y.saturating_add(self.top_height()),
            area.width,
            self.processes.height(area.width),
        );
        self.processes.render(rect.intersection(area), buf);
    }
}

impl Widget for &MainScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.panels(Some(area.width)).render(area, buf);
    }
}

/// Renders the main screen at `width` columns (at least the table's 79)
/// into a buffer exactly as tall as the content.
pub fn render(snapshot: &Snapshot, options: &RenderOptions, width: u16) -> Buffer {
    let panels = MainScreen::new(snapshot, options).panels(Some(width.max(TABLE_WIDTH)));
    let area = Rect::new(0, 0, panels.width, panels.height());
    let mut buf = Buffer::empty(area);
    panels.render(area, &mut buf);
    buf
}

/// Process-panel lines rendered and printed at a time by [`write()`].
pub const CHUNK_LINES: u16 = 64;

/// Prints the main screen at `width` columns (at least the table's 79), or
/// at [`MainScreen::preferred_width`] when `None` (output that is not a
/// terminal), to `out`, exactly as [`ansi::to_ansi`] prints [`render`]'s
/// buffer, but a piece at a time: the panels above the processes, then the
/// process panel [`CHUNK_LINES`] lines at a time through one reused buffer.
/// So memory does not grow with the number of processes (a whole-screen
/// buffer holds one cell, about 40 bytes, per column of every line). Each
/// panel is built once.
///
/// # Errors
/// What writing to `out` returns (a closed pipe, for one).
pub fn write(
    snapshot: &Snapshot,
    options: &RenderOptions,
    width: Option<u16>,
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
    width: Option<u16>,
    color: bool,
    chunk: u16,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let panels = MainScreen::new(snapshot, options).panels(width.map(|w| w.max(TABLE_WIDTH)));
    let width = panels.width;
    let mut scratch = String::new();

    let top = panels.top_height();
    let mut buf = Buffer::empty(Rect::new(0, 0, width, top));
    panels.render_top(buf.area, &mut buf);
    ansi::write_rows(&buf, top, color, &mut scratch, out)?;

    let mut panel = panels.processes;
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

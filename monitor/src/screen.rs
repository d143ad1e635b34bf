//! The main screen: date line, device panel, host panel and process panel
//! stacked top to bottom, and the rule that picks the output width when
//! stdout is not a terminal.

use chrono::{DateTime, Local, Utc};
use nvitop::Snapshot;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

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
        // Date line, devices, host, blank line, processes.
        1 + DevicePanel::new(self.snapshot, self.options).height(width)
            + HostPanel::new(self.snapshot, self.options).height()
            + 1
            + ProcessPanel::new(self.snapshot, self.options).height(width)
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
        place(1);
        let processes = ProcessPanel::new(self.snapshot, self.options);
        processes.render(place(processes.height(width)), buf);
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

//! The process panel: one row per GPU process, sorted by GPU then PID, with
//! columns sized to their content and the command cut at the panel's edge.

use std::collections::HashMap;

use nvitop::{DeviceIndex, ProcessSnapshot, Snapshot};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::Widget;

use crate::frame::{self, Item, Row, Rule};
use crate::text::{cut_marked, left, right, width};
use crate::theme::RenderOptions;
use crate::training::RowMark;
use crate::widgets::process_columns::{
    COLUMNS, KIND_COLUMN, LIVE_COLUMNS, clean, columns_of, command_of, prefix_width, skip_columns,
};

/// What the interactive viewer adds to the panel: its own row order (sorted
/// and filtered), the selection, the tags, the command scroll and the sort
/// marker. The snapshot itself is never changed: rows are indices into
/// `snapshot.processes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRows {
    /// The rows shown, in order: indices into the snapshot's processes.
    pub order: Vec<usize>,
    /// Whether to draw a rule between two GPUs' rows (sorted by GPU).
    pub separators: bool,
    /// The selected row (a snapshot index), drawn reversed.
    pub selected: Option<usize>,
    /// Tagged rows (snapshot indices), highlighted.
    pub tagged: Vec<usize>,
    /// Display columns of the command skipped at its left (`←`/`→`).
    pub command_offset: usize,
    /// The sort column (an index into the live columns, 10 = COMMAND
    /// is never a sort column) and whether it is descending.
    pub sort: Option<(usize, bool)>,
    /// Pids that run on several GPUs: their PID is underlined.
    pub shared_pids: Vec<u32>,
    /// The monitor runs as root: the title says so, since a signal key
    /// then reaches anybody's process.
    pub root: bool,
    /// No process list was read yet: the body says it is being gathered.
    pub gathering: bool,
    /// Training marks by (pid, start time): drawn at the start of the
    /// COMMAND column, a stalled one highlighted.
    pub marks: HashMap<(u32, u64), RowMark>,
}

/// The lines of the panel above the process rows: top rule, title, column
/// headers and the rule under them.
pub const HEADER_LINES: usize = 4;
/// The lines of the panel below the process rows: the bottom rule.
pub const FOOTER_LINES: usize = 1;

/// One line of the panel's body (between the header and the footer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLine {
    /// `No running processes found`.
    NoProcesses,
    /// The process at this index of the sorted list.
    Process(usize),
    /// The rule between two GPUs' processes.
    Separator,
    /// The process-list error at this index of the snapshot's errors.
    Error(usize),
}

/// Which lines of the panel a render draws.
#[derive(Debug, Clone, PartialEq, Eq)]
enum View {
    /// The whole panel.
    All,
    /// The header, body lines `offset..offset + visible`, and the footer:
    /// a scrolled panel whose header and bottom rule stay in place.
    Scrolled { offset: usize, visible: usize },
    /// A contiguous range of the whole panel's lines (header and footer
    /// included), for printing a long panel a piece at a time.
    Lines(std::ops::Range<usize>),
}

/// The process panel widget.
///
/// The sort order and the column widths are worked out once in [`new`]
/// (they depend on every process), so drawing the panel in pieces
/// ([`scrolled`], [`lines`]) costs no more than drawing it whole.
///
/// [`new`]: ProcessPanel::new
/// [`scrolled`]: ProcessPanel::scrolled
/// [`lines`]: ProcessPanel::lines
#[derive(Debug, Clone)]
pub struct ProcessPanel<'a> {
    snapshot: &'a Snapshot,
    options: &'a RenderOptions,
    /// The processes in display order.
    sorted: Vec<&'a ProcessSnapshot>,
    /// The fixed columns' headers.
    columns: &'static [(&'static str, usize)],
    /// The fixed columns' widths.
    widths: Vec<usize>,
    /// The interactive viewer's additions.
    live: Option<&'a LiveRows>,
    /// The body's lines, in order.
    body: Vec<BodyLine>,
    view: View,
}

/// The process order: GPU (physical, then MIG index), then PID.
pub fn sort_key(p: &ProcessSnapshot) -> (DeviceIndex, u32) {
    (p.device_index, p.pid)
}

impl<'a> ProcessPanel<'a> {
    /// A panel for the processes of `snapshot`, showing all its lines.
    pub fn new(snapshot: &'a Snapshot, options: &'a RenderOptions) -> Self {
        let mut sorted: Vec<&ProcessSnapshot> = snapshot.processes.iter().collect();
        // The one-shot run hands over a snapshot it already sorted.
        if !sorted.is_sorted_by_key(|p| sort_key(p)) {
            sorted.sort_by_key(|p| sort_key(p));
        }
        Self::build(snapshot, options, sorted, &COLUMNS, None, true)
    }

    /// The interactive viewer's panel: rows in `live.order`, with the
    /// `%GMBW` column, the selection, tags, sort marker and command scroll.
    ///
    /// Every index in `live.order` must be one of the snapshot's processes
    /// (the view builds the order from the same snapshot); rows past the
    /// end are left out.
    pub fn live(snapshot: &'a Snapshot, options: &'a RenderOptions, live: &'a LiveRows) -> Self {
        let rows = live.order.iter().map_while(|&i| snapshot.processes.get(i)).collect();
        Self::build(snapshot, options, rows, &LIVE_COLUMNS, Some(live), live.separators)
    }

    fn build(
        snapshot: &'a Snapshot,
        options: &'a RenderOptions,
        sorted: Vec<&'a ProcessSnapshot>,
        columns: &'static [(&'static str, usize)],
        live: Option<&'a LiveRows>,
        separators: bool,
    ) -> Self {
        // The sort column's header has room for its marker.
        let sorted_column = live.and_then(|l| l.sort).map(|(column, _)| column);
        let mut widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, (header, min))| (width(header) + usize::from(sorted_column == Some(i))).max(*min))
            .collect();
        let gmbw = live.is_some();
        for p in &sorted {
            for (w, value) in widths.iter_mut().zip(columns_of(p, gmbw)) {
                *w = (*w).max(width(&value));
            }
        }
        let mut body = Vec::with_capacity(sorted.len() + snapshot.process_errors.len() + 8);
        if sorted.is_empty() && snapshot.process_errors.is_empty() {
            body.push(BodyLine::NoProcesses);
        }
        let mut last_gpu = None;
        for (i, p) in sorted.iter().enumerate() {
            if separators && last_gpu.is_some_and(|gpu| gpu != p.physical_index) {
                body.push(BodyLine::Separator);
            }
            last_gpu = Some(p.physical_index);
            body.push(BodyLine::Process(i));
        }
        body.extend((0..snapshot.process_errors.len()).map(BodyLine::Error));
        Self {
            snapshot,
            options,
            sorted,
            columns,
            widths,
            live,
            body,
            view: View::All,
        }
    }

    /// The body line (see [`scrolled`](Self::scrolled)) of row `row` of
    /// the shown order.
    pub fn body_line_of(&self, row: usize) -> Option<usize> {
        self.body.iter().position(|line| *line == BodyLine::Process(row))
    }

    /// Display columns of the longest command beyond the room it has at
    /// `panel_width`: how far `→` can scroll it.
    pub fn command_overflow(&self, panel_width: u16) -> usize {
        let room = self.command_room(usize::from(panel_width.saturating_sub(2)));
        let longest = self
            .sorted
            .iter()
            .map(|p| width(&self.command(p)) + self.mark_width(p))
            .max()
            .unwrap_or(0);
        longest.saturating_sub(room)
    }

    fn command_room(&self, inner: usize) -> usize {
        inner.saturating_sub(prefix_width(&self.widths) + 1)
    }

    /// Shows the header, `visible` body lines from body line `offset` on
    /// (process rows, the rules between GPUs and error rows; clamped to the
    /// body), and the bottom rule: the panel scrolled, as a viewer of fixed
    /// height draws it.
    #[must_use]
    pub fn scrolled(mut self, offset: usize, visible: usize) -> Self {
        self.view = View::Scrolled { offset, visible };
        self
    }

    /// Shows only `range` of the whole panel's lines (0 is the top rule;
    /// clamped to [`total_lines`](Self::total_lines)). Consecutive ranges
    /// drawn one under the other give exactly the whole panel: a rule's
    /// joints come from its neighbours in the whole panel, drawn or not.
    #[must_use]
    pub fn lines(mut self, range: std::ops::Range<usize>) -> Self {
        self.view = View::Lines(range);
        self
    }

    /// Lines of the whole panel: header, body and footer.
    pub fn total_lines(&self) -> usize {
        HEADER_LINES + self.body.len() + FOOTER_LINES
    }

    /// Lines of the body: process rows, rules between GPUs and error rows.
    pub fn body_lines(&self) -> usize {
        self.body.len()
    }

    /// Lines the panel takes at `width` columns with its current view.
    pub fn height(&self, _width: u16) -> u16 {
        u16::try_from(self.shown().len()).unwrap_or(u16::MAX)
    }

    /// Columns needed to show every command in full.
    pub fn required_width(&self) -> usize {
        let command = self
            .sorted
            .iter()
            .map(|p| width(&self.command(p)) + self.mark_width(p))
            .max()
            .unwrap_or(0);
        // Frame bar, space, columns, two spaces, command, space, frame bar.
        2 + prefix_width(&self.widths) + command.max("COMMAND".len()) + 2
    }

    /// The indices (into the whole panel's lines) that the view shows.
    fn shown(&self) -> Vec<usize> {
        let total = self.total_lines();
        match &self.view {
            View::All => (0..total).collect(),
            View::Scrolled { offset, visible } => {
                let body_start = HEADER_LINES + (*offset).min(self.body.len());
                let body_end = HEADER_LINES + offset.saturating_add(*visible).min(self.body.len());
                (0..HEADER_LINES)
                    .chain(body_start..body_end)
                    .chain(total - FOOTER_LINES..total)
                    .collect()
            }
            View::Lines(range) => (range.start.min(total)..range.end.min(total)).collect(),
        }
    }

    fn title(&self, inner: usize) -> Vec<Span<'static>> {
        let who = match (&self.options.current_user, &self.options.hostname) {
            (Some(user), Some(host)) => format!("{user}@{host}"),
            (Some(user), None) => user.clone(),
            (None, Some(host)) => host.clone(),
            (None, None) => String::new(),
        };
        let label = " Processes:";
        let root = if self.live.is_some_and(|l| l.root) {
            " (running as root: signals reach every process)"
        } else {
            ""
        };
        // Right-align the user@host part by sizing the middle span.
        let used = width(label) + width(root) + width(&who);
        vec![
            Span::styled(label, self.options.theme.title()),
            Span::styled(root, self.options.theme.warning()),
            Span::raw(" ".repeat(inner.saturating_sub(used + 1))),
            Span::styled(who, self.options.theme.title()),
        ]
    }

    fn header(&self) -> String {
        let sort = self.live.and_then(|l| l.sort);
        let mut header = String::from(" ");
        for (i, ((name, _), &w)) in self.columns.iter().zip(&self.widths).enumerate() {
            if i > 0 {
                header.push(' ');
            }
            let name = match sort {
                Some((column, descending)) if column == i => {
                    format!("{name}{}", self.options.glyphs.sort_marker(descending))
                }
                _ => (*name).to_owned(),
            };
            header.push_str(&if i == KIND_COLUMN {
                left(&name, w)
            } else {
                right(&name, w)
            });
        }
        header.push_str("  COMMAND");
        header
    }

    /// Line `index` of the whole panel, at `panel_width` columns; `None`
    /// past the end.
    fn item(&self, index: usize, panel_width: u16) -> Option<Item> {
        let bounds = [0, panel_width.saturating_sub(1)];
        let inner = usize::from(panel_width.saturating_sub(2));
        let row = |spans: Vec<Span<'static>>| Item::Row(Row::new(&bounds, vec![spans]));
        let item = match index {
            0 | 3 => Item::Rule(Rule::Double),
            1 => row(self.title(inner)),
            2 => row(vec![Span::styled(self.header(), self.options.theme.title())]),
            _ => match self.body.get(index - HEADER_LINES) {
                Some(BodyLine::NoProcesses) => {
                    let text = if self.live.is_some_and(|l| l.gathering) {
                        " Gathering process status..."
                    } else {
                        " No running processes found"
                    };
                    row(vec![Span::styled(text, self.options.theme.dim())])
                }
                Some(BodyLine::Separator) => Item::Rule(Rule::Single),
                Some(&BodyLine::Process(i)) => row(self.process_cells(i, self.command_room(inner))),
                Some(&BodyLine::Error(i)) => {
                    let (device, error) = &self.snapshot.process_errors[i];
                    let text = format!(" {}  process list unavailable: {error}", right(device, self.widths[0]));
                    // A space before the frame bar, as after a cut command.
                    let text = cut_marked(&text, inner.saturating_sub(1), self.options.glyphs.ellipsis());
                    row(vec![Span::styled(text, self.options.theme.warning())])
                }
                None if index == self.total_lines() - FOOTER_LINES => Item::Rule(Rule::Double),
                None => return None,
            },
        };
        Some(item)
    }

    /// What a rule needs to know about line `index`: whether it is a row
    /// and where its column boundaries are (every row of this panel has the
    /// same two), without building the row's text.
    fn neighbour(&self, index: Option<usize>, panel_width: u16) -> Option<Item> {
        let index = index?;
        let is_rule = match index {
            0 | 3 => true,
            1 | 2 => false,
            _ => match self.body.get(index - HEADER_LINES) {
                Some(BodyLine::Separator) => true,
                Some(_) => false,
                None => return (index < self.total_lines()).then_some(Item::Rule(Rule::Double)),
            },
        };
        Some(if is_rule {
            Item::Rule(Rule::Double)
        } else {
            Item::Row(Row::new(&[0, panel_width.saturating_sub(1)], Vec::new()))
        })
    }

    /// The cells of row `row` of the shown order.
    fn process_cells(&self, row: usize, command_room: usize) -> Vec<Span<'static>> {
        let p = self.sorted[row];
        let mine = match (
            &self.options.current_user,
            p.host.as_ref().and_then(|h| h.username.as_ref()),
        ) {
            (Some(me), Some(owner)) => me == owner,
            // Without knowing who is asking, nobody's processes are dimmed.
            (None, _) => true,
            (Some(_), None) => false,
        };
        let theme = self.options.theme;
        let mut base = if mine { Style::default() } else { theme.dim() };
        let mut gpu_style = if mine { self.device_style(p) } else { base };
        let mut pid_style = base;
        let (mut command_offset, mut pad) = (0, false);
        if let Some(live) = self.live {
            // `live` rows are `live.order`, less any index past the snapshot.
            let index = live.order.get(row).copied();
            if index.is_some_and(|i| live.tagged.contains(&i)) {
                base = theme.tagged();
                gpu_style = base;
            }
            if live.shared_pids.contains(&p.pid) {
                pid_style = base.add_modifier(Modifier::UNDERLINED);
            }
            if index.is_some() && live.selected == index {
                // Reversed across the whole row, so the bar reads as one.
                base = base.add_modifier(Modifier::REVERSED);
                gpu_style = gpu_style.add_modifier(Modifier::REVERSED);
                pid_style = pid_style.add_modifier(Modifier::REVERSED);
                pad = true;
            }
            command_offset = live.command_offset;
        }
        let values = columns_of(p, self.live.is_some());
        let mut spans = vec![Span::styled(" ", base)];
        for (i, (value, &w)) in values.iter().zip(&self.widths).enumerate() {
            let text = if i == KIND_COLUMN {
                left(value, w)
            } else {
                right(value, w)
            };
            let gap = if i == 0 { "" } else { " " };
            let style = match i {
                0 => gpu_style,
                1 => pid_style,
                _ => base,
            };
            spans.push(Span::styled(gap, base));
            spans.push(Span::styled(text, style));
        }
        let mut command_room = command_room;
        spans.push(Span::styled("  ", base));
        if let Some(mark) = self.mark_of(p) {
            // The mark stays put while the command scrolls beside it.
            let text = cut_marked(&mark.text, command_room, self.options.glyphs.ellipsis());
            let style = if mark.stalled {
                base.patch(theme.error()).add_modifier(Modifier::BOLD)
            } else {
                base.patch(theme.title())
            };
            command_room = command_room.saturating_sub(width(&text) + 1);
            spans.push(Span::styled(text, style));
            spans.push(Span::styled(" ", base));
        }
        let full = self.command(p);
        let shown = skip_columns(&full, command_offset);
        let mut command = cut_marked(shown, command_room, self.options.glyphs.ellipsis());
        if pad {
            command = left(&command, command_room + 1);
        }
        spans.push(Span::styled(command, base));
        spans
    }

    /// The training mark of `p`'s row, in the live view.
    fn mark_of(&self, p: &ProcessSnapshot) -> Option<&RowMark> {
        let live = self.live?;
        let host = p.host.as_ref()?;
        live.marks.get(&(p.pid, host.start_ticks))
    }

    /// Display columns the mark of `p` takes, with the space after it.
    fn mark_width(&self, p: &ProcessSnapshot) -> usize {
        self.mark_of(p).map_or(0, |m| width(&m.text) + 1)
    }

    /// The command column's text: in the live view, with nvitop's labels
    /// for a zombie and for a process whose details cannot be read.
    fn command(&self, p: &ProcessSnapshot) -> String {
        if self.live.is_some()
            && let Some(host) = &p.host
        {
            if host.status == "Z" {
                return format!("Zombie Process ({})", clean(&host.name));
            }
            if host.username.is_none() && host.command.is_empty() {
                return "No Permissions".to_owned();
            }
        }
        command_of(p)
    }

    /// The load color of the device a process runs on.
    fn device_style(&self, p: &ProcessSnapshot) -> Style {
        let devices = self
            .snapshot
            .devices
            .iter()
            .flat_map(|d| std::iter::once(d).chain(&d.mig_devices));
        devices
            .into_iter()
            .find(|d| d.display_index == p.device_index)
            .map_or_else(Style::default, |device| self.options.device_load(device))
    }
}

impl Widget for &ProcessPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let shown = self.shown();
        for (row, &index) in shown.iter().enumerate() {
            let y = area.y.saturating_add(u16::try_from(row).unwrap_or(u16::MAX));
            if y >= area.bottom() {
                break;
            }
            let Some(item) = self.item(index, area.width) else {
                break;
            };
            // A rule's joints follow the lines around it in the whole panel.
            let (above, below) = if matches!(item, Item::Rule(_)) {
                (
                    self.neighbour(index.checked_sub(1), area.width),
                    self.neighbour(Some(index + 1), area.width),
                )
            } else {
                (None, None)
            };
            let line = Rect::new(area.x, y, area.width, 1);
            frame::draw_between(
                std::slice::from_ref(&item),
                above.as_ref(),
                below.as_ref(),
                line,
                buf,
                self.options.glyphs,
            );
        }
    }
}

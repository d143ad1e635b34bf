//! The process panel: one row per GPU process, sorted by GPU then PID, with
//! columns sized to their content and the command cut at the panel's edge.

use nvitop::format::NA;
use nvitop::{ProcessSnapshot, Snapshot};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use crate::frame::{self, Item, Row, Rule};
use crate::text::{cut_marked, left, right, width};
use crate::theme::RenderOptions;

/// Column headers and minimum widths; the last column (COMMAND) takes what
/// is left. Minimums keep the familiar nvitop look when values are short.
const COLUMNS: [(&str, usize); 9] = [
    ("GPU", 3),
    ("PID", 7),
    ("", 1),
    ("USER", 7),
    ("GPU-MEM", 8),
    ("%SM", 3),
    ("%CPU", 5),
    ("%MEM", 5),
    ("TIME", 8),
];
/// User names longer than this are cut, so one long name cannot push the
/// command off the screen.
const MAX_USER: usize = 10;

/// The process panel widget.
#[derive(Debug, Clone, Copy)]
pub struct ProcessPanel<'a> {
    snapshot: &'a Snapshot,
    options: &'a RenderOptions,
}

/// The process order: GPU (physical, then MIG index), then PID.
pub fn sort_key(p: &ProcessSnapshot) -> (u32, u32, u32) {
    let mig = p
        .device_index
        .split_once(':')
        .and_then(|(_, m)| m.parse().ok())
        .unwrap_or(0);
    (p.physical_index, mig, p.pid)
}

impl<'a> ProcessPanel<'a> {
    /// A panel for the processes of `snapshot`.
    pub fn new(snapshot: &'a Snapshot, options: &'a RenderOptions) -> Self {
        Self { snapshot, options }
    }

    /// Lines the panel takes at `width` columns.
    pub fn height(&self, width: u16) -> u16 {
        self.items(width).len() as u16
    }

    /// Columns needed to show every command in full.
    pub fn required_width(&self) -> usize {
        let widths = self.column_widths();
        let command = self.sorted().iter().map(|p| width(&command_of(p))).max().unwrap_or(0);
        // Frame bar, space, columns, two spaces, command, space, frame bar.
        2 + prefix_width(&widths) + command.max("COMMAND".len()) + 2
    }

    fn sorted(&self) -> Vec<&'a ProcessSnapshot> {
        let mut processes: Vec<&ProcessSnapshot> = self.snapshot.processes.iter().collect();
        processes.sort_by_key(|p| sort_key(p));
        processes
    }

    fn column_widths(&self) -> [usize; 9] {
        let mut widths = COLUMNS.map(|(header, min)| width(header).max(min));
        for p in self.sorted() {
            for (w, value) in widths.iter_mut().zip(columns_of(p)) {
                *w = (*w).max(width(&value));
            }
        }
        widths
    }

    fn title(&self) -> Row {
        let who = match (&self.options.current_user, &self.options.hostname) {
            (Some(user), Some(host)) => format!("{user}@{host}"),
            (Some(user), None) => user.clone(),
            (None, Some(host)) => host.clone(),
            (None, None) => String::new(),
        };
        let spans = vec![
            Span::styled(" Processes:", self.options.theme.title()),
            Span::raw(String::new()),
            Span::styled(who, self.options.theme.title()),
        ];
        Row::new(&[], vec![spans])
    }

    fn items(&self, panel_width: u16) -> Vec<Item> {
        let bounds = [0, panel_width.saturating_sub(1)];
        let inner = usize::from(panel_width.saturating_sub(2));
        let widths = self.column_widths();
        let title_style = self.options.theme.title();

        let mut title = self.title();
        // Right-align the user@host part by sizing the middle span.
        let used: usize = title.cells[0].iter().map(|s| width(&s.content)).sum();
        title.cells[0][1] = Span::raw(" ".repeat(inner.saturating_sub(used + 1)));
        title.bounds = bounds.to_vec();

        let mut header = String::from(" ");
        for (i, ((name, _), w)) in COLUMNS.iter().zip(widths).enumerate() {
            if i > 0 {
                header.push(' ');
            }
            header.push_str(&if i == 2 { left(name, w) } else { right(name, w) });
        }
        header.push_str("  COMMAND");

        let mut items = vec![
            Item::Rule(Rule::Double),
            Item::Row(title),
            Item::Row(Row::new(&bounds, vec![vec![Span::styled(header, title_style)]])),
            Item::Rule(Rule::Double),
        ];
        let processes = self.sorted();
        if processes.is_empty() && self.snapshot.process_errors.is_empty() {
            let text = Span::styled(" No running processes found", self.options.theme.dim());
            items.push(Item::Row(Row::new(&bounds, vec![vec![text]])));
        }
        let command_room = inner.saturating_sub(prefix_width(&widths) + 1);
        let mut last_gpu = None;
        for p in processes {
            if last_gpu.is_some_and(|gpu| gpu != p.physical_index) {
                items.push(Item::Rule(Rule::Single));
            }
            last_gpu = Some(p.physical_index);
            items.push(Item::Row(Row::new(
                &bounds,
                vec![self.process_cells(p, &widths, command_room)],
            )));
        }
        for (device, error) in &self.snapshot.process_errors {
            let text = format!(" {}  process list unavailable: {error}", right(device, widths[0]));
            let span = Span::styled(text, self.options.theme.warning());
            items.push(Item::Row(Row::new(&bounds, vec![vec![span]])));
        }
        items.push(Item::Rule(Rule::Double));
        items
    }

    fn process_cells(&self, p: &ProcessSnapshot, widths: &[usize; 9], command_room: usize) -> Vec<Span<'static>> {
        let mine = match (
            &self.options.current_user,
            p.host.as_ref().and_then(|h| h.username.as_ref()),
        ) {
            (Some(me), Some(owner)) => me == owner,
            // Without knowing who is asking, nobody's processes are dimmed.
            (None, _) => true,
            (Some(_), None) => false,
        };
        let base = if mine {
            Style::default()
        } else {
            self.options.theme.dim()
        };
        let gpu_style = if mine { self.device_style(p) } else { base };
        let values = columns_of(p);
        let mut spans = vec![Span::raw(" ")];
        for (i, (value, w)) in values.iter().zip(widths).enumerate() {
            let text = if i == 2 { left(value, *w) } else { right(value, *w) };
            let gap = if i == 0 { "" } else { " " };
            spans.push(Span::styled(gap, base));
            spans.push(Span::styled(text, if i == 0 { gpu_style } else { base }));
        }
        let command = cut_marked(&command_of(p), command_room, self.options.glyphs.ellipsis());
        spans.push(Span::styled(format!("  {command}"), base));
        spans
    }

    /// The load color of the device a process runs on.
    fn device_style(&self, p: &ProcessSnapshot) -> Style {
        let devices = self
            .snapshot
            .devices
            .iter()
            .flat_map(|d| std::iter::once(d).chain(&d.mig_devices));
        let Some(device) = devices.into_iter().find(|d| d.display_index == p.device_index) else {
            return Style::default();
        };
        let gpu = device
            .gpu_utilization
            .map(|u| self.options.gpu_thresholds.level(f64::from(u)));
        let mem = device.memory_percent.map(|m| self.options.mem_thresholds.level(m));
        gpu.max(mem)
            .map_or_else(Style::default, |level| self.options.theme.load(level))
    }
}

impl Widget for &ProcessPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        frame::draw(&self.items(area.width), area, buf, self.options.glyphs);
    }
}

/// Columns before COMMAND: leading space, the columns with single spaces
/// between them, and two spaces before the command.
fn prefix_width(widths: &[usize; 9]) -> usize {
    1 + widths.iter().sum::<usize>() + (widths.len() - 1) + 2
}

/// The text of each fixed column for one process.
fn columns_of(p: &ProcessSnapshot) -> [String; 9] {
    let host = p.host.as_ref();
    let user = host
        .and_then(|h| h.username.as_deref())
        .map_or_else(|| NA.to_owned(), |u| cut_marked(u, MAX_USER, "+"));
    [
        p.device_index.clone(),
        p.pid.to_string(),
        p.kind.clone(),
        user,
        p.gpu_memory_human.clone().unwrap_or_else(|| NA.to_owned()),
        p.gpu_sm_utilization.map_or_else(|| NA.to_owned(), |u| u.to_string()),
        host.map_or_else(|| NA.to_owned(), |h| format!("{:.1}", h.cpu_percent)),
        host.map_or_else(|| NA.to_owned(), |h| format!("{:.1}", h.memory_percent)),
        host.map_or_else(|| NA.to_owned(), |h| h.running_time_human.clone()),
    ]
}

/// The command line, or the executable name when the command line is empty
/// (kernel threads, zombies); `N/A` when the process is not visible here.
/// Control characters become `?`.
fn command_of(p: &ProcessSnapshot) -> String {
    let raw = match &p.host {
        Some(h) if !h.command.is_empty() => h.command.as_str(),
        Some(h) if !h.name.is_empty() => h.name.as_str(),
        _ => NA,
    };
    // A newline or escape in a command line would break the table (or the
    // terminal): show control characters as `?`.
    raw.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

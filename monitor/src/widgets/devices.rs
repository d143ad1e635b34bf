//! The device panel: the classic nvidia-smi table, one block per GPU, with
//! MIG devices as sub-rows and, in wide terminals, memory and utilization
//! bars to the right.

use nvitop::format::NA;
use nvitop::{DeviceSnapshot, Snapshot};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use crate::bar::{self, PERCENT_RESERVE};
use crate::frame::{self, Item, Row, Rule};
use crate::text::{cut_marked, left, right, width};
use crate::theme::{Glyphs, RenderOptions};

/// The table's own width: the classic 79-column nvidia-smi layout.
pub const TABLE_WIDTH: u16 = 79;
/// From this width on, the bar panel is drawn right of the table.
pub const WIDE_FROM: u16 = 100;
/// From this width on, a compact device row holds both bars side by side.
pub const TWO_BARS_FROM: u16 = 123;
/// Column boundaries of the table.
const COLUMNS: [u16; 4] = [0, 32, 55, 78];

/// The device panel widget.
#[derive(Debug, Clone, Copy)]
pub struct DevicePanel<'a> {
    snapshot: &'a Snapshot,
    options: &'a RenderOptions,
    compact: bool,
}

impl<'a> DevicePanel<'a> {
    /// A panel for the devices of `snapshot`.
    pub fn new(snapshot: &'a Snapshot, options: &'a RenderOptions) -> Self {
        Self {
            snapshot,
            options,
            compact: false,
        }
    }

    /// The compact panel of the live view: one line per GPU (fan,
    /// temperature, performance state, power, memory, utilization, compute
    /// mode), with the memory bar (and from [`TWO_BARS_FROM`] columns the
    /// utilization bar beside it) in wide terminals.
    #[must_use]
    pub fn compact(mut self, compact: bool) -> Self {
        self.compact = compact;
        self
    }

    /// Lines the panel takes at `width` columns.
    pub fn height(&self, width: u16) -> u16 {
        self.at_width(width).height()
    }

    /// The panel laid out at `width` columns, to measure and draw it
    /// without laying it out again.
    pub fn at_width(&self, width: u16) -> DeviceTable {
        DeviceTable {
            items: self.items(width),
            glyphs: self.options.glyphs,
        }
    }

    /// Whether the MIG-mode line is shown: only when some device reports a
    /// MIG mode at all, so machines without MIG-capable GPUs keep the
    /// familiar two-line rows.
    fn show_mig_mode(&self) -> bool {
        !self.compact && self.snapshot.devices.iter().any(|d| d.mig_mode.is_some())
    }

    fn items(&self, width: u16) -> Vec<Item> {
        let wide = width >= WIDE_FROM;
        let device_bounds: Vec<u16> = if wide {
            COLUMNS.iter().copied().chain([width - 1]).collect()
        } else {
            COLUMNS.to_vec()
        };
        let right_edge = device_bounds.last().copied().unwrap_or(TABLE_WIDTH - 1);
        let mut items = vec![
            Item::Rule(Rule::Double),
            Item::Row(self.title_row()),
            Item::Rule(Rule::Single),
        ];
        items.extend(self.column_headers().into_iter().map(Item::Row));
        items.push(Item::Rule(Rule::Double));
        if self.snapshot.devices.is_empty() {
            let message = Span::styled(" No devices found", self.options.theme.dim());
            items.push(Item::Row(Row::new(&[0, right_edge], vec![vec![message]])));
        }
        for (i, device) in self.snapshot.devices.iter().enumerate() {
            // The compact panel has no rules between devices: one line each.
            if i > 0 && !self.compact {
                items.push(Item::Rule(Rule::Single));
            }
            if device.is_failed() {
                items.push(Item::Row(self.failed_row(device, right_edge)));
                continue;
            }
            let bars = wide.then(|| usize::from(width - TABLE_WIDTH - 1));
            items.extend(
                self.device_rows(device, &device_bounds, bars)
                    .into_iter()
                    .map(Item::Row),
            );
            for mig in &device.mig_devices {
                if !self.compact {
                    items.push(Item::Rule(Rule::Single));
                }
                items.push(Item::Row(self.mig_row(mig, &device_bounds, bars)));
            }
        }
        items.push(Item::Rule(Rule::Double));
        items
    }

    fn title_row(&self) -> Row {
        let version = format!("nvitop-monitor {}", env!("CARGO_PKG_VERSION"));
        let driver = format!(
            "Driver Version: {}",
            self.snapshot.driver_version.as_deref().unwrap_or(NA)
        );
        let cuda = format!(
            "CUDA Driver Version: {}",
            self.snapshot.cuda_driver_version.as_deref().unwrap_or(NA)
        );
        let inner = usize::from(TABLE_WIDTH) - 4;
        let free = inner.saturating_sub(width(&version) + width(&driver) + width(&cuda));
        let (gap1, gap2) = (free / 2, free - free / 2);
        let gap = |n: usize| Span::raw(" ".repeat(n.max(2)));
        let title = self.options.theme.title();
        Row::new(
            &[0, TABLE_WIDTH - 1],
            vec![vec![
                Span::raw(" "),
                Span::styled(version, title),
                gap(gap1),
                Span::raw(driver),
                gap(gap2),
                Span::raw(cuda),
            ]],
        )
    }

    fn column_headers(&self) -> Vec<Row> {
        let title = self.options.theme.title();
        let cell = |s: &str| vec![Span::styled(s.to_owned(), title)];
        if self.compact {
            return vec![Row::new(
                &COLUMNS,
                vec![
                    cell("GPU Fan Temp Perf Pwr:Usage/Cap"),
                    cell("         Memory-Usage "),
                    cell(" GPU-Util  Compute M. "),
                ],
            )];
        }
        let mut rows = vec![
            Row::new(
                &COLUMNS,
                vec![
                    cell(" GPU  Name        Persistence-M"),
                    cell(" Bus-Id        Disp.A "),
                    cell(" Volatile Uncorr. ECC "),
                ],
            ),
            Row::new(
                &COLUMNS,
                vec![
                    cell(" Fan  Temp  Perf  Pwr:Usage/Cap"),
                    cell("         Memory-Usage "),
                    cell(" GPU-Util  Compute M. "),
                ],
            ),
        ];
        if self.show_mig_mode() {
            rows.push(Row::new(
                &COLUMNS,
                vec![vec![], vec![], cell(&format!(" {} ", right("MIG M.", 20)))],
            ));
        }
        rows
    }

    fn device_rows(&self, device: &DeviceSnapshot, bounds: &[u16], bars: Option<usize>) -> Vec<Row> {
        let style = self.options.device_load(device);
        let text = |s: String| vec![Span::styled(s, style)];
        let on_off = |v: Option<bool>| v.map_or(NA, |on| if on { "On" } else { "Off" });
        let name = cut_marked(
            &short_name(device.name.as_deref().unwrap_or(NA), 18),
            18,
            self.options.glyphs.ellipsis(),
        );
        let row1 = vec![
            text(format!(
                " {}  {}{}  ",
                right(&device.display_index.to_string(), 3),
                left(&name, 18),
                right(on_off(device.persistence_mode), 5)
            )),
            text(format!(
                " {} {} ",
                left(device.bus_id.as_deref().unwrap_or(NA), 16),
                right(on_off(device.display_active), 3)
            )),
            text(format!(
                " {} ",
                right(&opt(device.total_volatile_uncorrected_ecc_errors), 20)
            )),
        ];
        let row2 = vec![
            text(format!(
                " {}  {}  {} {}",
                right(&opt_suffix(device.fan_speed, "%"), 3),
                right(&opt_suffix(device.temperature, "C"), 4),
                right(device.performance_state.as_deref().unwrap_or(NA), 4),
                right(&device.power_status, 14)
            )),
            text(format!(" {} ", right(device.memory_usage.as_deref().unwrap_or(NA), 20))),
            text(format!(
                " {}  {} ",
                right(&opt_suffix(device.gpu_utilization, "%"), 8),
                right(device.compute_mode.as_deref().unwrap_or(NA), 10)
            )),
        ];
        if self.compact {
            return vec![self.compact_row(device, bounds, bars, row2)];
        }
        let mut rows = vec![row1, row2];
        if self.show_mig_mode() {
            let mig = device.mig_mode.map_or(NA, |on| if on { "Enabled" } else { "Disabled" });
            rows.push(vec![vec![], vec![], text(format!(" {} ", right(mig, 20)))]);
        }
        if let Some(room) = bars {
            let mem = self.memory_bar(device, room);
            let util = bar::labeled(
                "UTL",
                device.gpu_utilization.map(|u| (f64::from(u), format!("{u}%"))),
                room.saturating_sub(2),
                PERCENT_RESERVE,
                self.options.bar_style(self.options.gpu_thresholds),
            );
            let pad = |mut spans: Vec<Span<'static>>| {
                spans.insert(0, Span::raw(" "));
                spans
            };
            rows[0].push(pad(mem));
            rows[1].push(pad(util));
            for extra in rows.iter_mut().skip(2) {
                extra.push(vec![]);
            }
        }
        rows.into_iter().map(|cells| Row::new(bounds, cells)).collect()
    }

    /// The one line of a device in the compact panel: the full panel's
    /// second line with the index in front, and the bars.
    fn compact_row(
        &self,
        device: &DeviceSnapshot,
        bounds: &[u16],
        bars: Option<usize>,
        mut cells: Vec<Vec<Span<'static>>>,
    ) -> Row {
        let style = self.options.device_load(device);
        if let Some(first) = cells.first_mut() {
            // Under `GPU Fan Temp Perf Pwr:Usage/Cap`, in the 31 columns
            // between the frame bars.
            let text = format!(
                "{} {} {} {} {}",
                right(&device.display_index.to_string(), 3),
                right(&opt_suffix(device.fan_speed, "%"), 3),
                right(&opt_suffix(device.temperature, "C"), 4),
                right(device.performance_state.as_deref().unwrap_or(NA), 4),
                right(&device.power_status, 13)
            );
            *first = vec![Span::styled(
                cut_marked(&text, 31, self.options.glyphs.ellipsis()),
                style,
            )];
        }
        if let Some(room) = bars {
            let style_of = |t| self.options.bar_style(t);
            let util = |room: usize| {
                bar::labeled(
                    "UTL",
                    device.gpu_utilization.map(|u| (f64::from(u), format!("{u}%"))),
                    room,
                    PERCENT_RESERVE,
                    style_of(self.options.gpu_thresholds),
                )
            };
            let mut spans = vec![Span::raw(" ")];
            if room + usize::from(TABLE_WIDTH) + 1 >= usize::from(TWO_BARS_FROM) {
                let half = room.saturating_sub(3) / 2;
                spans.extend(self.memory_bar(device, half + 2));
                spans.push(Span::raw("  "));
                spans.extend(util(room.saturating_sub(half + 5)));
            } else {
                spans.extend(self.memory_bar(device, room));
            }
            cells.push(spans);
        }
        Row::new(bounds, cells)
    }

    fn mig_row(&self, mig: &DeviceSnapshot, bounds: &[u16], bars: Option<usize>) -> Row {
        if mig.is_failed() {
            return self.failed_row(mig, bounds[bounds.len() - 1]);
        }
        let style = self.options.device_load(mig);
        let text = |s: String| vec![Span::styled(s, style)];
        let name = cut_marked(
            &short_name(mig.name.as_deref().unwrap_or(NA), 24),
            24,
            self.options.glyphs.ellipsis(),
        );
        let mut cells = vec![
            text(format!(" {}  {name}", right(&mig.display_index.to_string(), 3))),
            text(format!(" {} ", right(mig.memory_usage.as_deref().unwrap_or(NA), 20))),
            text(format!(" {}", right(&opt_suffix(mig.gpu_utilization, "%"), 8))),
        ];
        if let Some(room) = bars {
            let mut mem = self.memory_bar(mig, room);
            mem.insert(0, Span::raw(" "));
            cells.push(mem);
        }
        Row::new(bounds, cells)
    }

    fn memory_bar(&self, device: &DeviceSnapshot, room: usize) -> Vec<Span<'static>> {
        bar::labeled(
            "MEM",
            device.memory_percent.map(|p| (p, format!("{p:.1}%"))),
            room.saturating_sub(2),
            PERCENT_RESERVE,
            self.options.bar_style(self.options.mem_thresholds),
        )
    }

    /// One row spanning the table: the device's index and its error, cut
    /// (and marked so) where it does not fit.
    fn failed_row(&self, device: &DeviceSnapshot, right_edge: u16) -> Row {
        let error = device.error.as_deref().unwrap_or(NA);
        let text = format!(" {}  ERROR: {error}", right(&device.display_index.to_string(), 3));
        // The cell between the frame bars, less a space before the right one.
        let room = usize::from(right_edge.saturating_sub(2));
        let cell = vec![Span::styled(
            cut_marked(&text, room, self.options.glyphs.ellipsis()),
            self.options.theme.error(),
        )];
        Row::new(&[0, right_edge], vec![cell])
    }
}

impl Widget for &DevicePanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.at_width(area.width).render(area, buf);
    }
}

/// The device panel laid out at one width ([`DevicePanel::at_width`]): its
/// lines, worked out once for both its height and its drawing.
#[derive(Debug, Clone)]
pub struct DeviceTable {
    items: Vec<Item>,
    glyphs: Glyphs,
}

impl DeviceTable {
    /// Lines the table takes.
    pub fn height(&self) -> u16 {
        self.items.len() as u16
    }
}

impl Widget for &DeviceTable {
    fn render(self, area: Rect, buf: &mut Buffer) {
        frame::draw(&self.items, area, buf, self.glyphs);
    }
}

/// A product name that fits `room` columns where possible: vendor words
/// that every NVIDIA GPU shares go first, and a MIG device keeps only its
/// profile (`MIG 3g.40gb`), since its parent's row already names the GPU.
fn short_name(name: &str, room: usize) -> String {
    if let Some(at) = name.find("MIG ")
        && width(name) > room
    {
        return name[at..].to_owned();
    }
    let mut name = name.to_owned();
    for prefix in ["NVIDIA ", "GeForce "] {
        if width(&name) > room
            && let Some(rest) = name.strip_prefix(prefix)
        {
            name = rest.to_owned();
        }
    }
    name
}

/// A value or `N/A`.
fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| NA.to_owned(), |v| v.to_string())
}

/// A value with a unit suffix (`38C`, `30%`) or `N/A`.
fn opt_suffix<T: std::fmt::Display>(value: Option<T>, suffix: &str) -> String {
    value.map_or_else(|| NA.to_owned(), |v| format!("{v}{suffix}"))
}

//! The host panel: CPU, memory and swap bars and the load average, two
//! lines under the device table.

use nvitop::Snapshot;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::bar::{self, PERCENT_RESERVE};
use crate::theme::{RenderOptions, Thresholds};

/// The host panel widget.
#[derive(Debug, Clone, Copy)]
pub struct HostPanel<'a> {
    snapshot: &'a Snapshot,
    options: &'a RenderOptions,
}

impl<'a> HostPanel<'a> {
    /// A panel for the host of `snapshot`.
    pub fn new(snapshot: &'a Snapshot, options: &'a RenderOptions) -> Self {
        Self { snapshot, options }
    }

    /// Lines the panel takes.
    pub fn height(&self) -> u16 {
        2
    }

    /// `[ LABEL: <bar> 12.3% ]` in exactly `width` columns.
    fn bracketed(&self, label: &str, percent: f64, width: usize, thresholds: Thresholds) -> Vec<Span<'static>> {
        let inner = width.saturating_sub(4);
        let mut spans = vec![Span::raw("[ ")];
        let content = bar::labeled(
            label,
            Some((percent, format!("{percent:.1}%"))),
            inner,
            PERCENT_RESERVE,
            self.options.bar_style(thresholds),
        );
        let used: usize = content.iter().map(|s| crate::text::width(&s.content)).sum();
        spans.extend(content);
        spans.push(Span::raw(" ".repeat(inner.saturating_sub(used))));
        spans.push(Span::raw(" ]"));
        spans
    }
}

impl Widget for &HostPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let host = &self.snapshot.host;
        let width = usize::from(area.width);
        // Two blocks per line, split evenly with one space between them.
        let half = width.saturating_sub(1) / 2;
        let (gpu, mem) = (self.options.gpu_thresholds, self.options.mem_thresholds);
        let load = host.load_average.map_or_else(
            || nvitop::format::NA.to_owned(),
            |(one, five, fifteen)| format!("{one:>5.2} {five:>5.2} {fifteen:>5.2}"),
        );
        // The host's load without this monitor's own start-up burst, which
        // would otherwise be much of the short first window (on 2 CPUs, a
        // tenth of the host on an idle machine).
        let mut first = self.bracketed("CPU", host.others_cpu_percent(), half, gpu);
        first.push(Span::raw(format!(" ( Load Average: {load} )")));
        let mut second = self.bracketed("MEM", host.memory_percent, half, mem);
        second.push(Span::raw(" "));
        second.extend(self.bracketed("SWP", host.swap_percent, half, mem));
        for (i, spans) in [first, second].into_iter().enumerate() {
            let y = area.y + i as u16;
            if y < area.bottom() {
                buf.set_line(area.x, y, &Line::from(spans), area.width);
            }
        }
    }
}

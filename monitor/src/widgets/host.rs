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

    /// `[ LABEL: <bar> 12.3%   SUFFIX ]` in exactly `width` columns: the bar
    /// leaves `suffix_room` columns before the closing bracket, where
    /// `suffix` (if any) is right-aligned.
    fn bracketed(
        &self,
        label: &str,
        percent: f64,
        width: usize,
        thresholds: Thresholds,
        (suffix, suffix_room): (Option<&str>, usize),
    ) -> Vec<Span<'static>> {
        let inner = width.saturating_sub(4);
        let mut spans = vec![Span::raw("[ ")];
        let content = bar::labeled(
            label,
            Some((percent, format!("{percent:.1}%"))),
            inner.saturating_sub(suffix_room),
            PERCENT_RESERVE,
            self.options.bar_style(thresholds),
        );
        let used: usize = content.iter().map(|s| crate::text::width(&s.content)).sum();
        spans.extend(content);
        let suffix = suffix.unwrap_or_default();
        let pad = inner.saturating_sub(used + crate::text::width(suffix));
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::raw(suffix.to_owned()));
        spans.push(Span::raw(" ]"));
        spans
    }
}

/// Bar columns a block keeps, at least, before it also carries its
/// `UPTIME:` / `USED:` text (from about 100 terminal columns on, more for a
/// long uptime).
const MIN_BAR_WITH_SUFFIX: usize = 16;

/// The host's uptime as `2:16:08`, `1 day, 2:16:08`, `12 days, 0:03:00`.
fn uptime_human(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        n => format!("{n} days, {clock}"),
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
        // Wide enough: the CPU block also tells the uptime and the memory
        // block how much is used, right-aligned; every block leaves the
        // same room so the three bars keep one scale.
        let uptime = host.uptime.map(|s| format!("UPTIME: {}", uptime_human(s)));
        let used = format!("USED: {}", nvitop::format::bytes2human(host.memory_used));
        let room = uptime
            .as_deref()
            .map_or(0, crate::text::width)
            .max(crate::text::width(&used))
            + 1;
        let bar_without = half.saturating_sub(4 + "CPU: ".len() + 1 + PERCENT_RESERVE);
        let (uptime, used, room) = if bar_without >= MIN_BAR_WITH_SUFFIX + room {
            (uptime.as_deref(), Some(used.as_str()), room)
        } else {
            (None, None, 0)
        };
        // The host's load without this monitor's own start-up burst, which
        // would otherwise be much of the short first window (on 2 CPUs, a
        // tenth of the host on an idle machine).
        let mut first = self.bracketed("CPU", host.others_cpu_percent(), half, gpu, (uptime, room));
        first.push(Span::raw(format!(" ( Load Average: {load} )")));
        let mut second = self.bracketed("MEM", host.memory_percent, half, mem, (used, room));
        second.push(Span::raw(" "));
        second.extend(self.bracketed("SWP", host.swap_percent, half, mem, (None, room)));
        for (i, spans) in [first, second].into_iter().enumerate() {
            let y = area.y + i as u16;
            if y < area.bottom() {
                buf.set_line(area.x, y, &Line::from(spans), area.width);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::uptime_human;

    #[test]
    fn uptime_reads_as_days_and_a_clock() {
        assert_eq!(uptime_human(0), "0:00:00");
        assert_eq!(uptime_human(8168), "2:16:08");
        assert_eq!(uptime_human(86_400 + 8168), "1 day, 2:16:08");
        assert_eq!(uptime_human(12 * 86_400 + 180), "12 days, 0:03:00");
    }
}

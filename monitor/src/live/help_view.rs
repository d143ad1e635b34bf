//! The help screen (`h`, `?`): every key of every screen, the signal keys
//! named with their signals (dimmed under `--readonly`), the thresholds in
//! effect and the graph settings; any key returns.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::live::graph::span_label;
use crate::live::keys::HELP;
use crate::live::state::AppState;
use crate::text::{left, width};
use crate::theme::RenderOptions;

/// The help screen's lines.
pub fn lines(state: &AppState, options: &RenderOptions) -> Vec<Line<'static>> {
    let keys_width = HELP
        .iter()
        .flat_map(|(_, keys)| keys.iter())
        .map(|(k, _, _)| width(k))
        .max()
        .unwrap_or(0);
    let mut lines = vec![Line::from(Span::styled(
        "nvitop-monitor -m: keys (press any key to return)",
        options.theme.title(),
    ))];
    for (screen, keys) in HELP {
        lines.push(Line::from(Span::styled(format!("{screen}:"), options.theme.title())));
        for (keys, what, signal) in *keys {
            let off = *signal && state.readonly;
            let style = if off { options.theme.dim() } else { Style::default() };
            let what = if off {
                format!("{what} (off: --readonly)")
            } else {
                (*what).to_owned()
            };
            let key_style = if off {
                options.theme.dim()
            } else {
                options.theme.title()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {}  ", left(keys, keys_width)), key_style),
                Span::styled(what, style),
            ]));
        }
    }
    let (gpu, mem) = (options.gpu_thresholds, options.mem_thresholds);
    lines.push(Line::from(format!(
        "Thresholds (percent; light below the first, heavy from the second): GPU utilization {} {}, memory {} {}",
        gpu.low, gpu.high, mem.low, mem.high
    )));
    lines.push(Line::from(format!(
        "Graphs: {} shown, device graph: {}",
        span_label(state.graph_window),
        state
            .graph
            .series()
            .iter()
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(" / ")
    )));
    lines
}

/// Draws the help screen from `state.help_scroll`; when it does not fit,
/// the last line says how to see the rest.
pub fn draw(buf: &mut Buffer, area: Rect, state: &mut AppState, options: &RenderOptions) {
    let all = lines(state, options);
    let rows = usize::from(area.height);
    let max_scroll = all.len().saturating_sub(rows.saturating_sub(1).max(1));
    state.help_scroll = state.help_scroll.min(max_scroll);
    let more = all.len() > rows;
    let shown: Vec<Line<'static>> = all
        .into_iter()
        .skip(state.help_scroll)
        .take(if more { rows.saturating_sub(1) } else { rows })
        .collect();
    Paragraph::new(shown).render(area, buf);
    if more && area.height > 0 {
        let note = "-- Up/Down/PgUp/PgDn: more; any other key returns --";
        crate::live::graph::clip(
            buf,
            area.x,
            area.bottom() - 1,
            note,
            usize::from(area.width),
            options.theme.dim(),
        );
    }
}

//! Horizontal percentage bars (`MEM: ████▍ 56.3%`), in eighth-block
//! resolution with Unicode and in whole `#` cells with ASCII.

use ratatui::text::Span;

use crate::theme::{Glyphs, Theme, Thresholds};

/// Partial blocks for 1..=7 eighths of a cell.
const EIGHTHS: [&str; 7] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/// Widest percentage text a bar can carry (`100.0%`), reserved so that the
/// bars of a panel share one scale.
pub const PERCENT_RESERVE: usize = 6;

/// How a bar is colored.
#[derive(Debug, Clone, Copy)]
pub struct BarStyle {
    /// Glyph set.
    pub glyphs: Glyphs,
    /// Palette.
    pub theme: Theme,
    /// Thresholds that pick the colors.
    pub thresholds: Thresholds,
    /// Gradient: each cell takes the color of its own position.
    pub colorful: bool,
}

/// The bar for `percent` (clamped to 0..=100) in at most `width` columns.
pub fn bar(percent: f64, width: usize, style: BarStyle) -> Vec<Span<'static>> {
    let fraction = (percent / 100.0).clamp(0.0, 1.0);
    let cells: Vec<&'static str> = match style.glyphs {
        Glyphs::Unicode => {
            let eighths = (fraction * width as f64 * 8.0).round() as usize;
            let mut cells = vec!["█"; eighths / 8];
            if !eighths.is_multiple_of(8) {
                cells.push(EIGHTHS[eighths % 8 - 1]);
            }
            cells
        }
        Glyphs::Ascii => vec!["#"; (fraction * width as f64).round() as usize],
    };
    if !style.colorful {
        let color = style.theme.load(style.thresholds.level(percent));
        return vec![Span::styled(cells.concat(), color)];
    }
    cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| {
            let position = (i + 1) as f64 * 100.0 / width.max(1) as f64;
            Span::styled(cell, style.theme.load(style.thresholds.level(position)))
        })
        .collect()
}

/// `LABEL: <bar> <text>` filling `width` columns: the bar gets what the
/// label and the widest possible text (`reserve` columns) leave, so bars of
/// one panel line up and share one scale. `None` prints `LABEL: N/A`.
pub fn labeled(
    label: &str,
    value: Option<(f64, String)>,
    width: usize,
    reserve: usize,
    style: BarStyle,
) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw(format!("{label}: "))];
    let Some((percent, text)) = value else {
        spans.push(Span::raw(nvitop::format::NA));
        return spans;
    };
    let room = width.saturating_sub(crate::text::width(label) + 2 + 1 + reserve);
    spans.extend(bar(percent, room, style));
    let color = style.theme.load(style.thresholds.level(percent));
    let gap = if percent > 0.0 && room > 0 { " " } else { "" };
    spans.push(Span::styled(format!("{gap}{text}"), color));
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spans: &[Span<'_>]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn style(glyphs: Glyphs) -> BarStyle {
        BarStyle {
            glyphs,
            theme: Theme::new(false),
            thresholds: Thresholds::GPU_DEFAULT,
            colorful: false,
        }
    }

    #[test]
    fn eighth_resolution() {
        assert_eq!(text(&bar(50.0, 4, style(Glyphs::Unicode))), "██");
        assert_eq!(text(&bar(56.25, 4, style(Glyphs::Unicode))), "██▎");
        assert_eq!(text(&bar(100.0, 4, style(Glyphs::Unicode))), "████");
        assert_eq!(text(&bar(150.0, 4, style(Glyphs::Unicode))), "████");
        assert_eq!(text(&bar(0.0, 4, style(Glyphs::Unicode))), "");
        assert_eq!(text(&bar(50.0, 4, style(Glyphs::Ascii))), "##");
    }

    #[test]
    fn gradient_colors_each_cell() {
        let colorful = BarStyle {
            colorful: true,
            ..style(Glyphs::Unicode)
        };
        let spans = bar(100.0, 10, colorful);
        assert_eq!(spans.len(), 10);
        assert_ne!(spans[0].style, spans[9].style);
    }
}

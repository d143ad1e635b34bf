//! History graphs as text: braille (one cell = 2 samples × 4 dots) or, under
//! `-U`, ASCII (one cell = 2 samples, 4 levels). A value above zero always
//! shows at least one dot; N/A is a gap (a blank column), never a zero.
//!
//! ```
//! use nvitop_monitor::live::graph::{Direction, render};
//! use nvitop_monitor::theme::Glyphs;
//! // 0%, 100%, N/A, 1% on a 0-100 scale, one line high.
//! let rows = render(&[Some(0.0), Some(100.0), None, Some(1.0)], 100.0, 1, Direction::Up, Glyphs::Unicode);
//! assert_eq!(rows, ["⢸⢀"]);
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::theme::Glyphs;

/// Which way the bars grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the bottom line up.
    Up,
    /// From the top line down (hanging).
    Down,
}

/// Dots a cell row holds per sample.
const DOTS: usize = 4;

/// Braille dot bits, left and right column, from the bottom up.
const LEFT_UP: [u32; 4] = [0x40, 0x04, 0x02, 0x01];
const RIGHT_UP: [u32; 4] = [0x80, 0x20, 0x10, 0x08];

/// How many dots of `height * 4` the value `v` fills on `scale`: at least
/// one for a value above zero, none for zero or N/A.
fn dots(value: Option<f64>, scale: f64, height: usize) -> usize {
    let Some(v) = value else { return 0 };
    if v <= 0.0 || scale <= 0.0 {
        return 0;
    }
    let total = height * DOTS;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let filled = (v / scale * total as f64).round() as usize;
    filled.clamp(1, total)
}

/// Dots of cell row `row` (0 is the top line) for a bar of `dots`.
fn in_row(dots: usize, row: usize, height: usize, direction: Direction) -> usize {
    let from_start = match direction {
        Direction::Up => height - 1 - row,
        Direction::Down => row,
    };
    dots.saturating_sub(from_start * DOTS).min(DOTS)
}

/// `points` (two per cell, so `points.len() / 2` cells wide, an odd last
/// point alone in its cell) drawn on `0..=scale` in `height` lines, top
/// line first.
pub fn render(points: &[Option<f64>], scale: f64, height: usize, direction: Direction, glyphs: Glyphs) -> Vec<String> {
    let filled: Vec<usize> = points.iter().map(|&p| dots(p, scale, height)).collect();
    (0..height)
        .map(|row| {
            filled
                .chunks(2)
                .map(|pair| {
                    let left = in_row(pair[0], row, height, direction);
                    let right = pair.get(1).map_or(0, |&d| in_row(d, row, height, direction));
                    cell(left, right, direction, glyphs)
                })
                .collect()
        })
        .collect()
}

fn cell(left: usize, right: usize, direction: Direction, glyphs: Glyphs) -> char {
    match glyphs {
        Glyphs::Unicode => {
            let bits = |column: &[u32; 4], n: usize| -> u32 {
                match direction {
                    Direction::Up => column[..n].iter().sum(),
                    Direction::Down => column[DOTS - n..].iter().sum(),
                }
            };
            let bits = bits(&LEFT_UP, left) + bits(&RIGHT_UP, right);
            if bits == 0 {
                ' '
            } else {
                char::from_u32(0x2800 + bits).unwrap_or(' ')
            }
        }
        Glyphs::Ascii => match (left.max(right), direction) {
            (0, _) => ' ',
            (1 | 2, Direction::Up) => '.',
            (1 | 2, Direction::Down) => '\'',
            (3, _) => ':',
            _ => '#',
        },
    }
}

/// `samples` (oldest first) as `points` points: a longer series is cut in
/// `points` buckets, each its largest value (a spike stays visible); a
/// shorter one is stretched, each sample repeated.
pub fn resample(samples: &[Option<f64>], points: usize) -> Vec<Option<f64>> {
    let n = samples.len();
    if n == 0 {
        return vec![None; points];
    }
    (0..points)
        .map(|j| {
            let start = j * n / points;
            let end = ((j + 1) * n / points).max(start + 1).min(n);
            samples[start..end]
                .iter()
                .flatten()
                .copied()
                .fold(None, |max: Option<f64>, v| Some(max.map_or(v, |m| m.max(v))))
        })
        .collect()
}

/// A scale that follows the data: the largest value rounded up to 1, 2 or
/// 5 times a power of ten (at least `floor`).
pub fn nice_scale(max: f64, floor: f64) -> f64 {
    let max = max.max(floor);
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&s| s >= max)
        .unwrap_or(max)
}

/// `30s`, `2m`, `1h`: a time span as the graph's axis labels say it.
pub fn span_label(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Draws rendered `rows` into `area` (cut to it) in `style`.
pub fn draw(buf: &mut Buffer, area: Rect, rows: &[String], style: Style) {
    for (row, y) in rows.iter().zip(area.top()..area.bottom()) {
        clip(buf, area.x, y, row, usize::from(area.width), style);
    }
}

/// `Buffer::set_stringn`, but nothing outside the buffer: the screens
/// draw at fixed offsets and a tiny terminal must cut them, not panic.
pub fn clip(buf: &mut Buffer, x: u16, y: u16, text: impl AsRef<str>, max: usize, style: Style) {
    let area = buf.area;
    if x >= area.right() || y >= area.bottom() || x < area.x || y < area.y {
        return;
    }
    let room = usize::from(area.right() - x).min(max);
    buf.set_stringn(x, y, text, room, style);
}

/// The biggest value of `points`, N/A skipped.
pub fn max_of(points: &[Option<f64>]) -> Option<f64> {
    points.iter().flatten().copied().reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cell_is_two_samples_of_four_dots() {
        // Height 1: 4 dots per sample. 25% = 1 dot, 100% = 4 dots.
        let rows = render(&[Some(25.0), Some(100.0)], 100.0, 1, Direction::Up, Glyphs::Unicode);
        // Left: bottom dot (0x40); right: full column (0xB8).
        assert_eq!(
            rows,
            [char::from_u32(0x2800 + 0x40 + 0xB8)
                .map(String::from)
                .unwrap_or_default()]
        );
        assert_eq!(rows, ["⣸"]);
        let rows = render(&[Some(100.0), Some(50.0)], 100.0, 1, Direction::Up, Glyphs::Unicode);
        assert_eq!(rows, ["⣧"]);
    }

    #[test]
    fn non_zero_shows_a_dot_and_na_is_a_gap() {
        let rows = render(
            &[Some(0.01), Some(0.0), None, None],
            100.0,
            2,
            Direction::Up,
            Glyphs::Unicode,
        );
        // A tiny value: one dot at the bottom; zero and N/A: nothing.
        assert_eq!(rows, ["  ", "⡀ "]);
        let ascii = render(&[Some(0.01), None], 100.0, 1, Direction::Up, Glyphs::Ascii);
        assert_eq!(ascii, ["."]);
    }

    #[test]
    fn taller_graphs_fill_from_the_bottom_or_hang_from_the_top() {
        // Height 2 = 8 dots: 75% = 6 dots: a full bottom line, 2 dots above.
        let up = render(&[Some(75.0), Some(75.0)], 100.0, 2, Direction::Up, Glyphs::Unicode);
        assert_eq!(up, ["⣤", "⣿"]);
        let down = render(&[Some(75.0), Some(75.0)], 100.0, 2, Direction::Down, Glyphs::Unicode);
        assert_eq!(down, ["⣿", "⠛"]);
        let ascii = render(&[Some(75.0), Some(12.5)], 100.0, 2, Direction::Down, Glyphs::Ascii);
        assert_eq!(ascii, ["#", "'"]);
    }

    #[test]
    fn resampling_keeps_spikes_and_gaps() {
        let samples = [Some(1.0), Some(9.0), None, None, Some(2.0), Some(3.0)];
        assert_eq!(resample(&samples, 3), [Some(9.0), None, Some(3.0)]);
        assert_eq!(resample(&[Some(1.0), None], 4), [Some(1.0), Some(1.0), None, None]);
        assert_eq!(resample(&[], 2), [None, None]);
    }

    #[test]
    fn scales_and_labels() {
        assert!((nice_scale(37.0, 0.0) - 50.0).abs() < 1e-9);
        assert!((nice_scale(120.0, 0.0) - 200.0).abs() < 1e-9);
        assert!((nice_scale(0.0, 0.0) - 1.0).abs() < 1e-9);
        assert_eq!(span_label(30), "30s");
        assert_eq!(span_label(120), "2m");
        assert_eq!(span_label(3600), "1h");
        assert_eq!(span_label(90), "90s");
    }
}

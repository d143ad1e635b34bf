//! The nvidia-smi style frame: vertical bars between columns and horizontal
//! rules whose joints (`┼ ┬ ┴ ╪ ╒ ...`) are derived from the columns of the
//! rows above and below, so a panel can change its column layout from one
//! row to the next (a lost GPU's row spans the table; the bar panel starts
//! below the column headers) without hand-picking corner characters.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use crate::theme::Glyphs;

/// The line style of a horizontal rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `─`: between rows of one section.
    Single,
    /// `═`: the top and bottom of a panel and under its column headers.
    Double,
}

/// Which neighbours a point of a rule connects to.
#[derive(Debug, Clone, Copy)]
struct Sides {
    up: bool,
    down: bool,
    left: bool,
    right: bool,
}

/// The character at one point of a horizontal rule.
fn joint(glyphs: Glyphs, rule: Rule, sides: Sides) -> &'static str {
    let Sides { up, down, left, right } = sides;
    if glyphs == Glyphs::Ascii {
        return match (up || down, rule) {
            (true, _) => "+",
            (false, Rule::Single) => "-",
            (false, Rule::Double) => "=",
        };
    }
    let single = rule == Rule::Single;
    match (up, down, left, right) {
        (true, true, true, true) => pick(single, "┼", "╪"),
        (true, true, false, true) => pick(single, "├", "╞"),
        (true, true, true, false) => pick(single, "┤", "╡"),
        (false, true, true, true) => pick(single, "┬", "╤"),
        (true, false, true, true) => pick(single, "┴", "╧"),
        (false, true, false, true) => pick(single, "┌", "╒"),
        (false, true, true, false) => pick(single, "┐", "╕"),
        (true, false, false, true) => pick(single, "└", "╘"),
        (true, false, true, false) => pick(single, "┘", "╛"),
        (true, true, false, false) => "│",
        _ => pick(single, "─", "═"),
    }
}

fn pick(single: bool, a: &'static str, b: &'static str) -> &'static str {
    if single { a } else { b }
}

/// Draws a horizontal rule on row `y`, from the leftmost to the rightmost
/// column boundary of the rows above (`above`) and below (`below`). The
/// boundaries are offsets from `x0`.
pub fn rule(buf: &mut Buffer, x0: u16, y: u16, above: &[u16], below: &[u16], kind: Rule, glyphs: Glyphs) {
    let all = || above.iter().chain(below);
    let (Some(start), Some(end)) = (all().min().copied(), all().max().copied()) else {
        return;
    };
    for x in start..=end {
        let sides = Sides {
            up: above.contains(&x),
            down: below.contains(&x),
            left: x > start,
            right: x < end,
        };
        let symbol = joint(glyphs, kind, sides);
        buf.set_string(x0 + x, y, symbol, Style::default());
    }
}

/// Draws the vertical bars of a row at the boundaries `xs` (offsets from `x0`).
pub fn verticals(buf: &mut Buffer, x0: u16, y: u16, xs: &[u16], glyphs: Glyphs) {
    for &x in xs {
        buf.set_string(x0 + x, y, glyphs.vertical(), Style::default());
    }
}

/// One text row of a framed panel: vertical bars at `bounds` (offsets from
/// the panel's left edge) and one list of spans per gap between them.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Column boundaries, ascending.
    pub bounds: Vec<u16>,
    /// The content of each column (`bounds.len() - 1` of them); text that
    /// does not fit its column is cut, never wrapped.
    pub cells: Vec<Vec<Span<'static>>>,
}

impl Row {
    /// A row with these boundaries and cells.
    pub fn new(bounds: &[u16], cells: Vec<Vec<Span<'static>>>) -> Self {
        Self {
            bounds: bounds.to_vec(),
            cells,
        }
    }
}

/// A line of a framed panel.
#[derive(Debug, Clone)]
pub enum Item {
    /// A horizontal rule; its joints come from the rows around it.
    Rule(Rule),
    /// A text row.
    Row(Row),
}

/// Draws `items` top-down into `area`, one line each; lines past the bottom
/// of `area` are dropped.
pub fn draw(items: &[Item], area: Rect, buf: &mut Buffer, glyphs: Glyphs) {
    draw_between(items, None, None, area, buf, glyphs);
}

/// Draws `items` like [`draw`], as a piece of a longer panel: `before` and
/// `after` are the lines just above and below the piece (not drawn), so the
/// rules at its edges get the same joints as in the whole panel.
pub fn draw_between(
    items: &[Item],
    before: Option<&Item>,
    after: Option<&Item>,
    area: Rect,
    buf: &mut Buffer,
    glyphs: Glyphs,
) {
    fn bounds_of(item: Option<&Item>) -> &[u16] {
        match item {
            Some(Item::Row(row)) => &row.bounds,
            Some(Item::Rule(_)) | None => &[],
        }
    }
    for (i, item) in items.iter().enumerate() {
        let y = area.y.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
        if y >= area.bottom() {
            break;
        }
        match item {
            Item::Rule(kind) => {
                let above = match i.checked_sub(1) {
                    Some(j) => items.get(j),
                    None => before,
                };
                let below = items.get(i + 1).or(if i + 1 == items.len() { after } else { None });
                rule(buf, area.x, y, bounds_of(above), bounds_of(below), *kind, glyphs);
            }
            Item::Row(row) => {
                for (pair, cell) in row.bounds.windows(2).zip(&row.cells) {
                    let (start, end) = (pair[0] + 1, pair[1]);
                    set_spans(buf, area.x + start, y, cell, end.saturating_sub(start));
                }
                verticals(buf, area.x, y, &row.bounds, glyphs);
            }
        }
    }
}

/// [`Buffer::set_line`] for a line of these spans, without copying them
/// into a [`Line`](ratatui::text::Line) first (that would clone every span's text).
fn set_spans(buf: &mut Buffer, x: u16, y: u16, spans: &[Span<'_>], max_width: u16) {
    let (mut x, mut remaining) = (x, max_width);
    for span in spans {
        if remaining == 0 {
            break;
        }
        let (end, _) = buf.set_stringn(x, y, &span.content, usize::from(remaining), span.style);
        remaining = remaining.saturating_sub(end.saturating_sub(x));
        x = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(buf: &Buffer) -> String {
        buf.content().iter().map(ratatui::buffer::Cell::symbol).collect()
    }

    #[test]
    fn joints_follow_neighbouring_columns() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 7, 1));
        rule(&mut buf, 0, 0, &[0, 3], &[0, 3, 6], Rule::Double, Glyphs::Unicode);
        assert_eq!(line(&buf), "╞══╪══╕");
        rule(&mut buf, 0, 0, &[0, 3, 6], &[0, 6], Rule::Single, Glyphs::Unicode);
        assert_eq!(line(&buf), "├──┴──┤");
        rule(&mut buf, 0, 0, &[0, 3, 6], &[], Rule::Double, Glyphs::Ascii);
        assert_eq!(line(&buf), "+==+==+");
    }
}

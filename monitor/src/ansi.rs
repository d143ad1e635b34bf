//! Prints a ratatui [`Buffer`] as text, with ANSI SGR color sequences or
//! without. The one-shot mode needs this because it writes to a scrollback
//! (or a pipe), not to an alternate screen that a ratatui backend manages.

use std::fmt::Write as _;

use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};

/// The visual attributes of a cell that SGR sequences carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attrs {
    fg: Color,
    bg: Color,
    modifier: Modifier,
}

impl Attrs {
    const PLAIN: Self = Self {
        fg: Color::Reset,
        bg: Color::Reset,
        modifier: Modifier::empty(),
    };

    fn of(cell: &Cell) -> Self {
        Self {
            fg: cell.fg,
            bg: cell.bg,
            modifier: cell.modifier,
        }
    }
}

/// The buffer as lines of text, each ending in `\n`. Trailing blanks are
/// trimmed; with `color`, a style change emits a full SGR sequence (reset,
/// then the new attributes) and every colored line ends with a reset, so a
/// cut-off or piped line never leaks color into what follows.
pub fn to_ansi(buf: &Buffer, color: bool) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let cells: Vec<&Cell> = (area.left()..area.right()).filter_map(|x| buf.cell((x, y))).collect();
        let end = cells.iter().rposition(|c| !is_blank(c)).map_or(0, |i| i + 1);
        let mut current = Attrs::PLAIN;
        let mut skip = 0;
        for cell in &cells[..end] {
            // A wide character covers the next cell(s): they hold no text.
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let attrs = Attrs::of(cell);
            if color && attrs != current {
                out.push_str(&sgr(attrs));
                current = attrs;
            }
            let symbol = cell.symbol();
            out.push_str(symbol);
            skip = crate::text::width(symbol).saturating_sub(1);
        }
        if color && current != Attrs::PLAIN {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
    }
    out
}

/// Whether a cell shows nothing: a space on the default background, with no
/// attribute that would make a space visible.
fn is_blank(cell: &Cell) -> bool {
    let visible = Modifier::REVERSED | Modifier::UNDERLINED | Modifier::CROSSED_OUT;
    cell.symbol().trim().is_empty() && cell.bg == Color::Reset && !cell.modifier.intersects(visible)
}

/// The SGR sequence that sets exactly `attrs` (starting from a reset).
fn sgr(attrs: Attrs) -> String {
    let mut codes = vec![String::from("0")];
    let modifiers = [
        (Modifier::BOLD, "1"),
        (Modifier::DIM, "2"),
        (Modifier::ITALIC, "3"),
        (Modifier::UNDERLINED, "4"),
        (Modifier::SLOW_BLINK, "5"),
        (Modifier::RAPID_BLINK, "6"),
        (Modifier::REVERSED, "7"),
        (Modifier::HIDDEN, "8"),
        (Modifier::CROSSED_OUT, "9"),
    ];
    for (modifier, code) in modifiers {
        if attrs.modifier.contains(modifier) {
            codes.push(code.to_owned());
        }
    }
    if let Some(code) = color_code(attrs.fg, false) {
        codes.push(code);
    }
    if let Some(code) = color_code(attrs.bg, true) {
        codes.push(code);
    }
    let mut s = String::from("\x1b[");
    let _ = write!(s, "{}m", codes.join(";"));
    s
}

/// The SGR parameter for a foreground (or background) color.
fn color_code(color: Color, background: bool) -> Option<String> {
    let base = if background { 40 } else { 30 };
    let basic = |n: u8| Some((base + u16::from(n)).to_string());
    let bright = |n: u8| Some((base + 60 + u16::from(n)).to_string());
    let extended = if background { 48 } else { 38 };
    match color {
        Color::Reset => None,
        Color::Black => basic(0),
        Color::Red => basic(1),
        Color::Green => basic(2),
        Color::Yellow => basic(3),
        Color::Blue => basic(4),
        Color::Magenta => basic(5),
        Color::Cyan => basic(6),
        Color::Gray => basic(7),
        Color::DarkGray => bright(0),
        Color::LightRed => bright(1),
        Color::LightGreen => bright(2),
        Color::LightYellow => bright(3),
        Color::LightBlue => bright(4),
        Color::LightMagenta => bright(5),
        Color::LightCyan => bright(6),
        Color::White => bright(7),
        Color::Indexed(n) => Some(format!("{extended};5;{n}")),
        Color::Rgb(r, g, b) => Some(format!("{extended};2;{r};{g};{b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn plain_output_is_trimmed_and_has_no_escapes() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        buf.set_string(0, 0, "ab", Style::new().fg(Color::Red));
        assert_eq!(to_ansi(&buf, false), "ab\n\n");
    }

    #[test]
    fn colors_change_and_reset_at_line_end() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 1));
        buf.set_string(0, 0, "ab", Style::new().fg(Color::Red).add_modifier(Modifier::BOLD));
        buf.set_string(2, 0, "c", Style::new());
        buf.set_string(3, 0, "d", Style::new().fg(Color::Indexed(130)));
        assert_eq!(to_ansi(&buf, true), "\x1b[0;1;31mab\x1b[0mc\x1b[0;38;5;130md\x1b[0m\n");
    }

    #[test]
    fn wide_characters_are_printed_once() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 1));
        buf.set_string(0, 0, "日本x", Style::new());
        assert_eq!(to_ansi(&buf, false), "日本x\n");
    }
}

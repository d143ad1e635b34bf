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
    let mut out = String::new();
    for y in buf.area.top()..buf.area.bottom() {
        push_line(buf, y, color, &mut out);
    }
    out
}

/// Writes the first `rows` lines of the buffer to `out` as [`to_ansi`]
/// prints them. `scratch` holds the text on its way to `out`; passing the
/// same one for every piece of a long output saves allocating it again.
///
/// # Errors
/// What writing to `out` returns.
pub fn write_rows(
    buf: &Buffer,
    rows: u16,
    color: bool,
    scratch: &mut String,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    scratch.clear();
    let top = buf.area.top();
    for y in top..buf.area.bottom().min(top.saturating_add(rows)) {
        push_line(buf, y, color, scratch);
    }
    out.write_all(scratch.as_bytes())
}

/// Appends line `y` of the buffer to `out`, ending in `\n`.
fn push_line(buf: &Buffer, y: u16, color: bool, out: &mut String) {
    let area = buf.area;
    if area.width == 0 {
        out.push('\n');
        return;
    }
    let start = buf.index_of(area.x, y);
    let cells = &buf.content()[start..start + usize::from(area.width)];
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
            push_sgr(attrs, out);
            current = attrs;
        }
        let symbol = cell.symbol();
        out.push_str(symbol);
        // One-byte symbols (ASCII) are one column wide: skip the lookup.
        if symbol.len() > 1 {
            skip = crate::text::width(symbol).saturating_sub(1);
        }
    }
    if color && current != Attrs::PLAIN {
        out.push_str("\x1b[0m");
    }
    out.push('\n');
}

/// Whether a cell shows nothing: a space on the default background, with no
/// attribute that would make a space visible.
fn is_blank(cell: &Cell) -> bool {
    let visible = Modifier::REVERSED | Modifier::UNDERLINED | Modifier::CROSSED_OUT;
    cell.symbol().trim().is_empty() && cell.bg == Color::Reset && !cell.modifier.intersects(visible)
}

/// Appends the SGR sequence that sets exactly `attrs` (starting from a
/// reset) to `out`.
fn push_sgr(attrs: Attrs, out: &mut String) {
    out.push_str("\x1b[0");
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
            out.push(';');
            out.push_str(code);
        }
    }
    push_color(attrs.fg, false, out);
    push_color(attrs.bg, true, out);
    out.push('m');
}

/// Appends `;` and the SGR parameter for a foreground (or background)
/// color to `out`; nothing for the default color.
fn push_color(color: Color, background: bool, out: &mut String) {
    let base: u8 = if background { 40 } else { 30 };
    let extended = if background { 48 } else { 38 };
    let named = |offset: u8| Some(base + offset);
    let code = match color {
        Color::Reset => None,
        Color::Black => named(0),
        Color::Red => named(1),
        Color::Green => named(2),
        Color::Yellow => named(3),
        Color::Blue => named(4),
        Color::Magenta => named(5),
        Color::Cyan => named(6),
        Color::Gray => named(7),
        Color::DarkGray => named(60),
        Color::LightRed => named(61),
        Color::LightGreen => named(62),
        Color::LightYellow => named(63),
        Color::LightBlue => named(64),
        Color::LightMagenta => named(65),
        Color::LightCyan => named(66),
        Color::White => named(67),
        // Writing to a String cannot fail.
        Color::Indexed(n) => {
            let _ = write!(out, ";{extended};5;{n}");
            None
        }
        Color::Rgb(r, g, b) => {
            let _ = write!(out, ";{extended};2;{r};{g};{b}");
            None
        }
    };
    if let Some(code) = code {
        let _ = write!(out, ";{code}");
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

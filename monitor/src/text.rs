//! Width-aware text helpers. Widths are terminal columns (`unicode-width`),
//! not bytes or chars, so CJK user names or commands never break alignment.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Terminal columns taken by `s`.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// The longest prefix of `s` that fits in `max` columns.
pub fn cut(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (at, ch) in s.char_indices() {
        let w = ch.width().unwrap_or(0);
        if used + w > max {
            return &s[..at];
        }
        used += w;
    }
    s
}

/// `s` cut to `max` columns, ending in `marker` when something was cut.
pub fn cut_marked(s: &str, max: usize, marker: &str) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let room = max.saturating_sub(width(marker));
    format!("{}{marker}", cut(s, room))
}

/// `s` right-aligned in `columns` (never cut).
pub fn right(s: &str, columns: usize) -> String {
    format!("{}{s}", " ".repeat(columns.saturating_sub(width(s))))
}

/// `s` left-aligned in `columns` (never cut).
pub fn left(s: &str, columns: usize) -> String {
    format!("{s}{}", " ".repeat(columns.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_by_columns() {
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ab", 3), "ab");
        assert_eq!(cut("日本語", 3), "日");
        assert_eq!(cut_marked("abcdef", 4, "…"), "abc…");
        assert_eq!(cut_marked("abc", 4, "…"), "abc");
        assert_eq!(right("7", 3), "  7");
        assert_eq!(left("7", 3), "7  ");
    }
}

//! The environment screen (`e`): the selected process's environment, or
//! the monitor's own, sorted, scrollable both ways; `r` reads it again;
//! when it cannot be read, why.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::live::state::AppState;
use crate::text::{cut, width};
use crate::theme::RenderOptions;

/// Draws the environment screen.
pub fn draw(buf: &mut Buffer, area: Rect, state: &AppState, options: &RenderOptions) {
    let w = usize::from(area.width);
    let Some(env) = &state.environment else {
        crate::live::graph::clip(
            buf,
            area.x,
            area.y,
            "Reading the environment...",
            w,
            options.theme.dim(),
        );
        return;
    };
    let title = format!(
        "Environment of {}   (e/Esc/q: back   r: read again   arrows, PgUp/PgDn: scroll)",
        env.title
    );
    crate::live::graph::clip(buf, area.x, area.y, &title, w, options.theme.title());
    match &env.lines {
        Err(why) => {
            crate::live::graph::clip(buf, area.x, area.y + 2, why, w, options.theme.warning());
        }
        Ok(lines) => {
            let rows = usize::from(area.height.saturating_sub(2));
            let shown = lines.iter().skip(env.scroll_y).take(rows);
            for (i, line) in shown.enumerate() {
                let y = area.y + 2 + u16::try_from(i).unwrap_or(0);
                let (name, value) = line.split_once('=').unwrap_or((line, ""));
                let text = format!("{name}={value}");
                let text = skip_columns(&text, env.scroll_x);
                let name_width = (width(name) + 1).saturating_sub(env.scroll_x).min(w);
                crate::live::graph::clip(buf, area.x, y, cut(text, w), w, ratatui::style::Style::default());
                // The names stand out from their values.
                let name_area = Rect::new(area.x, y, u16::try_from(name_width).unwrap_or(0), 1);
                buf.set_style(name_area.intersection(buf.area), options.theme.title());
            }
            let status = format!(
                "{} variables, lines {}-{}",
                lines.len(),
                (env.scroll_y + 1).min(lines.len()),
                (env.scroll_y + rows).min(lines.len())
            );
            crate::live::graph::clip(buf, area.x, area.y + 1, &status, w, options.theme.dim());
        }
    }
}

/// `text` without its first `columns` display columns.
fn skip_columns(text: &str, columns: usize) -> &str {
    let mut skipped = 0;
    for (at, c) in text.char_indices() {
        if skipped >= columns {
            return &text[at..];
        }
        skipped += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::skip_columns;

    #[test]
    fn columns_are_skipped() {
        assert_eq!(skip_columns("PATH=/bin", 0), "PATH=/bin");
        assert_eq!(skip_columns("PATH=/bin", 5), "/bin");
        assert_eq!(skip_columns("PATH", 9), "");
    }
}

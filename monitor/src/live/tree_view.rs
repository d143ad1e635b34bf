//! The tree view (`t`): every GPU process with its ancestors and children,
//! `├─`/`└─` branches before the commands; selection, tags and the signal
//! dialog work as on the main screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use crate::live::collect::Published;
use crate::live::state::{AppState, Viewport};
use crate::live::tree::{TreeRow, branch};
use crate::live::view::{Shown, ViewOptions, bottom_line, finish_frame};
use crate::text::{cut, left, right};
use crate::theme::Glyphs;

/// Lines above the rows: the title and the column header.
const TOP: u16 = 2;

/// `PID USER DEVICE NLWP %CPU %MEM TIME ` then COMMAND.
fn columns(row: Option<&TreeRow>) -> String {
    let Some(r) = row else {
        return format!(
            "{} {} {} {} {} {} {} COMMAND",
            right("PID", 8),
            left("USER", 10),
            left("DEVICE", 10),
            right("NLWP", 5),
            right("%CPU", 6),
            right("%MEM", 5),
            right("TIME", 10)
        );
    };
    format!(
        "{} {} {} {} {} {} {} ",
        right(&r.key.pid.to_string(), 8),
        left(r.user.as_deref().unwrap_or(nvitop::format::NA), 10),
        left(&r.device, 10),
        right(
            &r.threads
                .map_or_else(|| nvitop::format::NA.to_owned(), |t| t.to_string()),
            5
        ),
        right(&format!("{:.1}", r.cpu), 6),
        right(&format!("{:.1}", r.memory), 5),
        right(&r.time, 10)
    )
}

/// Draws the tree; returns its rows as the loop's shown rows.
pub fn draw(buf: &mut Buffer, area: Rect, state: &mut AppState, latest: &Published, view: &ViewOptions) -> Shown {
    let options = &view.render;
    let w = usize::from(area.width);
    crate::live::graph::clip(
        buf,
        area.x,
        area.y,
        "Process tree of the GPU processes   (t/Esc/q: back   Space: tag   T K I: signal)",
        w,
        options.theme.title(),
    );
    let Some(tree) = &latest.tree else {
        crate::live::graph::clip(
            buf,
            area.x,
            area.y + 1,
            "Reading the process tree...",
            w,
            options.theme.dim(),
        );
        return Shown::default();
    };
    crate::live::graph::clip(buf, area.x, area.y + 1, columns(None), w, options.theme.title());
    let keys = tree.keys();
    let visible = usize::from(
        area.height
            .saturating_sub(TOP + u16::from(bottom_line(state).is_some())),
    );
    let selected = state.selected.as_ref().and_then(|k| keys.iter().position(|x| x == k));
    state.fit(Viewport {
        visible,
        total: keys.len(),
        selected_line: selected,
        command_overflow: 0,
    });
    let ascii = options.glyphs == Glyphs::Ascii;
    let mut lines = Vec::new();
    for (i, row) in tree.rows.iter().enumerate().skip(state.scroll).take(visible) {
        let y = area.y + TOP + u16::try_from(i - state.scroll).unwrap_or(0);
        lines.push((y, i));
        let text = format!("{}{}{}", columns(Some(row)), branch(&row.last, ascii), row.command);
        let mut style = if row.device == "Host" {
            Style::default()
        } else {
            options.theme.title()
        };
        if state.tagged.contains(&row.key) {
            style = style.patch(options.theme.tagged());
        }
        if Some(i) == selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let text = left(cut(&text, w), w);
        crate::live::graph::clip(buf, area.x, y, &text, w, style);
    }
    finish_frame(
        buf,
        area,
        state,
        options,
        Shown {
            rows: keys,
            page: visible,
            lines,
            ..Shown::default()
        },
    )
}

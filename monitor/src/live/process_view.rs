//! The process metrics screen (Enter on a process): its columns as the
//! process panel shows them, the decoder's own %DEC, and four live graphs
//! (CPU%, host memory, GPU memory, SM%), each with its current value, its
//! maximum over the window and a scale that follows the data.

use nvitop::ProcessSnapshot;
use nvitop::format::{NA, bytes2human};
use nvitop::training::TrainingRecord;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::live::collect::Published;
use crate::live::graph::{self, Direction};
use crate::live::history::{ProcessHistory, Ring};
use crate::live::history_view::{axis, samples_in};
use crate::live::rows::ProcessKey;
use crate::live::state::AppState;
use crate::live::view::ASCII_BORDER;
use crate::text::{cut, left, right};
use crate::theme::{Glyphs, RenderOptions};

/// The header's columns and their widths (COMMAND takes the rest).
const COLUMNS: [(&str, usize); 11] = [
    ("GPU", 5),
    ("PID", 8),
    ("USER", 10),
    ("GPU-MEM", 9),
    ("%SM", 5),
    ("%GMBW", 6),
    ("%ENC", 5),
    ("%DEC", 5),
    ("%CPU", 7),
    ("%MEM", 6),
    ("TIME", 10),
];

/// The process `key` names in the newest reading.
fn find<'a>(latest: &'a Published, key: &ProcessKey) -> Option<&'a ProcessSnapshot> {
    latest.snapshot.processes.iter().find(|p| ProcessKey::of(p) == *key)
}

fn percent(v: Option<u32>) -> String {
    v.map_or_else(|| NA.to_owned(), |v| format!("{v}%"))
}

/// The header's values for `p`, in [`COLUMNS`] order, then COMMAND.
fn values(p: &ProcessSnapshot) -> Vec<String> {
    let host = p.host.as_ref();
    vec![
        p.device_index.to_string(),
        p.pid.to_string(),
        host.and_then(|h| h.username.clone()).unwrap_or_else(|| NA.to_owned()),
        p.gpu_memory_human.clone().unwrap_or_else(|| NA.to_owned()),
        percent(p.gpu_sm_utilization),
        percent(p.gpu_memory_utilization),
        percent(p.gpu_encoder_utilization),
        // The decoder's own value (nvitop 1.7.2 prints the encoder's here).
        percent(p.gpu_decoder_utilization),
        host.map_or_else(|| NA.to_owned(), |h| format!("{:.1}", h.cpu_percent)),
        host.map_or_else(|| NA.to_owned(), |h| format!("{:.1}", h.memory_percent)),
        host.map_or_else(|| NA.to_owned(), |h| h.running_time_human.clone()),
        host.map_or_else(|| "No Such Process".to_owned(), |h| h.command.clone()),
    ]
}

/// Draws the screen for the selected process.
pub fn draw(buf: &mut Buffer, area: Rect, state: &AppState, latest: &Published, options: &RenderOptions) {
    let w = usize::from(area.width);
    let Some(key) = &state.selected else {
        crate::live::graph::clip(
            buf,
            area.x,
            area.y,
            "No process selected (Esc returns)",
            w,
            options.theme.warning(),
        );
        return;
    };
    let title = format!(
        "Process {} on GPU {}   (Enter/Esc/q: back   w: time span, now {})",
        key.pid,
        key.device,
        graph::span_label(state.graph_window)
    );
    crate::live::graph::clip(buf, area.x, area.y, &title, w, options.theme.title());
    let Some(process) = find(latest, key) else {
        let gone = format!(
            "Process {} is no longer on GPU {}: it exited or released the GPU.",
            key.pid, key.device
        );
        crate::live::graph::clip(buf, area.x, area.y + 2, &gone, w, options.theme.warning());
        return;
    };
    let mut header = String::new();
    let mut row = String::new();
    let values = values(process);
    for ((name, width), value) in COLUMNS.iter().zip(&values) {
        let (name, value) = if *name == "USER" || *name == "GPU" {
            (left(name, *width), left(value, *width))
        } else {
            (right(name, *width), right(value, *width))
        };
        header.push_str(&name);
        header.push(' ');
        row.push_str(&value);
        row.push(' ');
    }
    header.push_str("COMMAND");
    row.push_str(values.last().map_or("", String::as_str));
    if area.height > 2 {
        crate::live::graph::clip(buf, area.x, area.y + 1, cut(&header, w), w, options.theme.title());
        crate::live::graph::clip(
            buf,
            area.x,
            area.y + 2,
            cut(&row, w),
            w,
            ratatui::style::Style::default(),
        );
    }
    let mut top = 3;
    let record = latest.training.of(process);
    if let Some(record) = record
        && area.height >= top + TRAINING_BOX_HEIGHT + 4
    {
        let rect = Rect::new(area.x, area.y + top, area.width, TRAINING_BOX_HEIGHT);
        let rates = latest.with_history(|history| {
            let n = samples_in(state.graph_window, history.process_interval);
            history
                .processes
                .get(key)
                .map(|h| h.steps_per_second.last(n))
                .unwrap_or_default()
        });
        draw_training(buf, rect, record, latest.training.read_at, &rates, options);
        top += TRAINING_BOX_HEIGHT;
    }
    let graphs = Rect::new(area.x, area.y + top, area.width, area.height.saturating_sub(top));
    latest.with_history(|history| {
        let n = samples_in(state.graph_window, history.process_interval);
        match history.processes.get(key) {
            Some(h) => draw_graphs(buf, graphs, h, n, state.graph_window, options),
            None => {
                crate::live::graph::clip(buf, graphs.x, graphs.y, "Collecting...", w, options.theme.dim());
            }
        }
    });
}

/// Lines of the training box: its frame and four lines inside.
const TRAINING_BOX_HEIGHT: u16 = 6;

/// `242 ms`, `1.50 s`, `N/A`.
fn seconds(v: Option<f64>) -> String {
    match v {
        None => NA.to_owned(),
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
    }
}

/// The training box of a process with a status record: run and log
/// directory, step, epoch, phase and ETA, step time p50/p99, rate and
/// energy per step, and a one-line graph of the rate over the window.
fn draw_training(
    buf: &mut Buffer,
    area: Rect,
    record: &TrainingRecord,
    read_at: f64,
    rates: &[Option<f64>],
    options: &RenderOptions,
) {
    let mark = crate::training::row_mark(record, read_at);
    let title = if mark.stalled {
        format!(" TRAINING: {} ", mark.text)
    } else {
        " TRAINING ".to_owned()
    };
    let title_style = if mark.stalled {
        options.theme.error()
    } else {
        options.theme.title()
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(Span::styled(title, title_style)));
    if options.glyphs == Glyphs::Ascii {
        block = block.border_set(ASCII_BORDER);
    }
    let inner = block.inner(area);
    (&block).render(area, buf);
    let w = usize::from(inner.width);
    let or_na = |v: Option<String>| v.unwrap_or_else(|| NA.to_owned());
    let step = match record.total_steps {
        Some(total) => format!("{} / {total}", record.step),
        None => record.step.to_string(),
    };
    let eta = record.eta_seconds().map_or_else(
        || NA.to_owned(),
        |s| nvitop::format::timedelta2human(std::time::Duration::from_secs_f64(s.max(0.0))),
    );
    let rate = record
        .steps_per_second
        .map_or_else(|| NA.to_owned(), |r| format!("{r:.2} it/s"));
    let lines = [
        format!(
            "run {}   logdir {}",
            or_na(record.run_name.clone()),
            or_na(record.log_dir.as_ref().map(|p| p.display().to_string()))
        ),
        format!(
            "step {step}   epoch {}   phase {}   ETA {eta}",
            or_na(record.epoch.map(|e| e.to_string())),
            record.phase.as_str()
        ),
        format!(
            "step time p50 {}  p99 {}   {rate}   energy/step {}",
            seconds(record.step_time_p50_seconds),
            seconds(record.step_time_p99_seconds),
            or_na(record.energy_per_step_joules.map(|j| format!("{j:.1} J")))
        ),
    ];
    for (line, y) in lines.iter().zip(inner.y..inner.bottom()) {
        graph::clip(buf, inner.x, y, line, w, ratatui::style::Style::default());
    }
    // The rate over the window, one line of braille (or ASCII) dots.
    if inner.height >= 4 {
        let y = inner.y + 3;
        let label = "it/s ";
        graph::clip(buf, inner.x, y, label, w, options.theme.dim());
        let room = inner.width.saturating_sub(5);
        let scale = graph::nice_scale(graph::max_of(rates).unwrap_or(0.0), 0.1);
        let points = graph::resample(rates, usize::from(room) * 2);
        let rows = graph::render(&points, scale, 1, Direction::Up, options.glyphs);
        graph::draw(buf, Rect::new(inner.x + 5, y, room, 1), &rows, options.theme.title());
    }
}

/// How each graph labels its values.
#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Bytes,
}

impl Unit {
    fn format(self, v: Option<f64>) -> String {
        match (self, v) {
            (_, None) => NA.to_owned(),
            (Self::Percent, Some(v)) => format!("{v:.1}%"),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            (Self::Bytes, Some(v)) => bytes2human(v as u64),
        }
    }
}

fn draw_graphs(buf: &mut Buffer, area: Rect, h: &ProcessHistory, n: usize, window: u64, options: &RenderOptions) {
    if area.height < 4 || area.width < 20 {
        return;
    }
    let half_w = area.width / 2;
    let half_h = area.height / 2;
    let cells = [
        (Rect::new(area.x, area.y, half_w, half_h), "CPU", &h.cpu, Unit::Percent),
        (
            Rect::new(area.x + half_w, area.y, area.width - half_w, half_h),
            "HOST MEM",
            &h.host_memory,
            Unit::Bytes,
        ),
        (
            Rect::new(area.x, area.y + half_h, half_w, area.height - half_h),
            "GPU MEM",
            &h.gpu_memory,
            Unit::Bytes,
        ),
        (
            Rect::new(
                area.x + half_w,
                area.y + half_h,
                area.width - half_w,
                area.height - half_h,
            ),
            "SM",
            &h.sm,
            Unit::Percent,
        ),
    ];
    for (rect, name, ring, unit) in cells {
        one(buf, rect, name, ring, unit, n, window, options);
    }
}

/// One boxed graph: `NAME: now (max M, scale S)` in the frame's title.
#[allow(clippy::too_many_arguments)]
fn one(
    buf: &mut Buffer,
    area: Rect,
    name: &str,
    ring: &Ring,
    unit: Unit,
    n: usize,
    window: u64,
    options: &RenderOptions,
) {
    let samples = ring.last(n);
    let max = graph::max_of(&samples);
    // A percentage scale follows the data too, in steps, from 1 %: a
    // process at 3 % CPU still fills its graph readably.
    let scale = match unit {
        Unit::Percent => graph::nice_scale(max.unwrap_or(0.0), 1.0),
        // Bytes: the next power of two (1GiB, 2GiB, 4GiB ...), at least 1MiB.
        Unit::Bytes => max.unwrap_or(0.0).max(1_048_576.0).log2().ceil().exp2(),
    };
    let title = format!(
        " {name}: {} (max {}, scale {}) ",
        unit.format(ring.latest()),
        unit.format(max),
        unit.format(Some(scale))
    );
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(Span::styled(title, options.theme.title())));
    if options.glyphs == Glyphs::Ascii {
        block = block.border_set(ASCII_BORDER);
    }
    let inner = block.inner(area);
    (&block).render(area, buf);
    if inner.height < 2 || inner.width == 0 {
        return;
    }
    let plot = Rect::new(inner.x, inner.y, inner.width, inner.height - 1);
    let points = graph::resample(&samples, usize::from(plot.width) * 2);
    let rows = graph::render(&points, scale, usize::from(plot.height), Direction::Up, options.glyphs);
    let style = match unit {
        Unit::Percent => ring.latest().map_or(options.theme.title(), |v| {
            options.theme.load(options.gpu_thresholds.level(v))
        }),
        Unit::Bytes => options.theme.title(),
    };
    graph::draw(buf, plot, &rows, style);
    axis(
        buf,
        Rect::new(inner.x, inner.bottom() - 1, inner.width, 1),
        window,
        options,
    );
}

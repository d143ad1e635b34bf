//! The history graphs under the host panel in the full layout: host CPU%
//! growing up over MEM% hanging down, SWP% beside them, and from
//! [`WIDE_FROM`] columns the device graph right of them (a metric pair,
//! `g` walks them) averaged over the shown GPUs, or of the selected
//! process's GPU. The middle line is the time axis.

use nvitop::DeviceIndex;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::live::collect::Published;
use crate::live::graph::{self, Direction};
use crate::live::history::{DeviceSeries, History, Ring};
use crate::live::state::AppState;
use crate::text::width;
use crate::theme::{Glyphs, RenderOptions};
use crate::widgets::devices::{TABLE_WIDTH, WIDE_FROM};

/// Lines the graphs take: two up, the axis, two down.
pub const HEIGHT: u16 = 5;

/// Lines each half of a mirrored graph takes.
const HALF: usize = 2;

/// Columns of the SWP graph.
const SWAP_WIDTH: u16 = 18;

/// Samples of `interval` in `window` seconds (at least one).
pub fn samples_in(window: u64, interval: std::time::Duration) -> usize {
    let secs = interval.as_secs_f64().max(0.001);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let n = (window as f64 / secs).ceil() as usize;
    n.max(1)
}

/// Draws the graphs into `area`. `selected` (the device index of the
/// selected process) narrows the device graph to its GPU, and the GPM pair
/// to its MIG device's GPU instance where it runs on one.
pub fn draw(
    buf: &mut Buffer,
    area: Rect,
    state: &AppState,
    latest: &Published,
    selected: Option<DeviceIndex>,
    options: &RenderOptions,
) {
    latest.with_history(|history| {
        let n = samples_in(state.graph_window, history.device_interval);
        let left_width = area.width.min(TABLE_WIDTH);
        let host_width = left_width.saturating_sub(SWAP_WIDTH + 1);
        let host = Rect::new(area.x, area.y, host_width, area.height);
        mirrored(
            buf,
            host,
            [("CPU", &history.cpu.last(n)), ("MEM", &history.memory.last(n))],
            [100.0, 100.0],
            [DeviceSeries::Utilization, DeviceSeries::Memory],
            state.graph_window,
            options,
        );
        let swap = Rect::new(area.x + host_width + 1, area.y, SWAP_WIDTH.min(left_width), area.height);
        single(buf, swap, "SWP", &history.swap, n, options);
        if area.width >= WIDE_FROM {
            let x = area.x + TABLE_WIDTH + 1;
            let rect = Rect::new(x, area.y, area.right().saturating_sub(x), area.height);
            devices(buf, rect, state, history, n, selected, options);
        }
    });
}

fn devices(
    buf: &mut Buffer,
    area: Rect,
    state: &AppState,
    history: &History,
    n: usize,
    selected: Option<DeviceIndex>,
    options: &RenderOptions,
) {
    // A process on a MIG device narrows the GPM pair to that GPU
    // instance's own activity, every other pair to its parent GPU (a MIG
    // device has no utilization, power or PCIe of its own). With nothing
    // selected, the average is over physical GPUs only.
    let gpu = selected.map(|d| if state.graph.needs_gpm() { d } else { d.parent() });
    let keep = |index: DeviceIndex| gpu.map_or(!index.is_mig(), |g| g == index);
    let [(up, up_name), (down, down_name)] = state.graph.series();
    let ups = history.device_series(up, n, keep);
    let downs = history.device_series(down, n, keep);
    let scale = |series: DeviceSeries, points: &[Option<f64>]| {
        if series.is_percent() {
            100.0
        } else {
            graph::nice_scale(graph::max_of(points).unwrap_or(0.0), 1.0)
        }
    };
    let scales = [scale(up, &ups), scale(down, &downs)];
    let whose = gpu.map_or_else(|| "avg".to_owned(), |g| format!("GPU {g}"));
    let up_label = format!("{up_name} ({whose})");
    let down_label = format!("{down_name} ({whose})");
    mirrored(
        buf,
        area,
        [(&up_label, &ups), (&down_label, &downs)],
        scales,
        [up, down],
        state.graph_window,
        options,
    );
}

/// Two series in `area`: the first growing up in the top lines, the
/// second hanging down in the bottom ones, the time axis between them.
fn mirrored(
    buf: &mut Buffer,
    area: Rect,
    series: [(&str, &Vec<Option<f64>>); 2],
    scales: [f64; 2],
    kinds: [DeviceSeries; 2],
    window: u64,
    options: &RenderOptions,
) {
    if area.width == 0 || area.height < HEIGHT {
        return;
    }
    let points = usize::from(area.width) * 2;
    let style = |v: Option<f64>, kind: DeviceSeries| -> Style {
        match v {
            Some(v) if kind.is_percent() => options.theme.load(options.mem_thresholds.level(v)),
            _ => options.theme.title(),
        }
    };
    for (i, ((name, samples), (scale, kind))) in series.iter().zip(scales.iter().zip(kinds)).enumerate() {
        let resampled = graph::resample(samples, points);
        let (direction, y) = if i == 0 {
            (Direction::Up, area.y)
        } else {
            (Direction::Down, area.y + 3)
        };
        let rows = graph::render(&resampled, *scale, HALF, direction, options.glyphs);
        let latest = samples.iter().rev().flatten().next().copied();
        graph::draw(buf, Rect::new(area.x, y, area.width, 2), &rows, style(latest, kind));
        let label = format!(" {name}: {} ", kind.format(latest));
        let label_y = if i == 0 { area.y } else { area.y + 4 };
        crate::live::graph::clip(
            buf,
            area.x,
            label_y,
            &label,
            usize::from(area.width),
            options.theme.title(),
        );
    }
    axis(buf, Rect::new(area.x, area.y + 2, area.width, 1), window, options);
}

/// One series growing up over the whole height (SWP).
fn single(buf: &mut Buffer, area: Rect, name: &str, ring: &Ring, n: usize, options: &RenderOptions) {
    if area.width == 0 {
        return;
    }
    let samples = ring.last(n);
    let points = graph::resample(&samples, usize::from(area.width) * 2);
    let rows = graph::render(&points, 100.0, usize::from(area.height), Direction::Up, options.glyphs);
    let latest = ring.latest();
    let style = latest.map_or(options.theme.title(), |v| {
        options.theme.load(options.mem_thresholds.level(v))
    });
    graph::draw(buf, area, &rows, style);
    let label = format!(" {name}: {} ", DeviceSeries::Memory.format(latest));
    crate::live::graph::clip(
        buf,
        area.x,
        area.y,
        &label,
        usize::from(area.width),
        options.theme.title(),
    );
}

/// The time axis: a rule with the age of each quarter of the window
/// (`120s` at the left edge, `now` at the right).
pub fn axis(buf: &mut Buffer, area: Rect, window: u64, options: &RenderOptions) {
    let rule = match options.glyphs {
        Glyphs::Unicode => "─",
        Glyphs::Ascii => "-",
    };
    let w = usize::from(area.width);
    crate::live::graph::clip(buf, area.x, area.y, rule.repeat(w), w, options.theme.dim());
    for quarter in 0..4u64 {
        let age = window * (4 - quarter) / 4;
        let label = graph::span_label(age);
        let at = w * usize::try_from(quarter).unwrap_or(0) / 4;
        if at + width(&label) < w {
            crate::live::graph::clip(
                buf,
                area.x + u16::try_from(at).unwrap_or(0),
                area.y,
                &label,
                w - at,
                options.theme.dim(),
            );
        }
    }
    let now = "now";
    if w > width(now) {
        let x = area.x + u16::try_from(w - width(now)).unwrap_or(0);
        crate::live::graph::clip(buf, x, area.y, now, usize::MAX, options.theme.dim());
    }
}

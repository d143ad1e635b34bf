//! A few lines at the bottom of the terminal for a training program run in
//! a terminal: the logger's GPUs (utilization, memory and power bars) and
//! the step rate with an ETA when the total is known, redrawn once a second
//! while the program's own log lines scroll above it (ratatui's inline
//! viewport).
//!
//! The GPUs are read on the panel's own thread; the training thread only
//! stores the step number (an atomic store) and hands over log lines.
//! Without a terminal on stdout ([`InlinePanel::stdout`] returns `None`)
//! the program prints its lines as usual.
//!
//! ```no_run
//! use nvitop::Device;
//! use nvitop_monitor::inline_panel::{InlinePanel, PanelOptions};
//!
//! let devices = Device::all()?;
//! let panel = InlinePanel::stdout(devices, PanelOptions { total_steps: Some(1000), ..PanelOptions::default() })?;
//! for step in 1..=1000 {
//!     // ... one training step ...
//!     match &panel {
//!         Some(panel) => {
//!             panel.set_step(step);
//!             if step % 100 == 0 { panel.println(&format!("step {step}: loss 0.1"))?; }
//!         }
//!         None => if step % 100 == 0 { println!("step {step}: loss 0.1"); },
//!     }
//! }
//! if let Some(panel) = panel { panel.finish()?; }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nvitop::Device;
use nvitop::format::{bytes2human, timedelta2human};
use nvitop::training::Progress;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::bar::{BarStyle, bar};
use crate::theme::{Glyphs, Theme, Thresholds};

/// How often the panel reads the GPUs and redraws.
pub const REFRESH: Duration = Duration::from_secs(1);

/// What the panel shows besides the GPUs.
#[derive(Debug, Clone, Copy)]
pub struct PanelOptions {
    /// Total steps of the run, for the ETA.
    pub total_steps: Option<u64>,
    /// Glyph set of the bars.
    pub glyphs: Glyphs,
    /// Palette.
    pub theme: Theme,
}

impl Default for PanelOptions {
    fn default() -> Self {
        Self {
            total_steps: None,
            glyphs: Glyphs::Unicode,
            theme: Theme::new(false),
        }
    }
}

/// One GPU's figures, read once per refresh.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuLine {
    /// Index as displayed.
    pub index: String,
    /// GPU utilization, percent.
    pub utilization: Option<u32>,
    /// Memory used and total, bytes.
    pub memory: Option<(u64, u64)>,
    /// Power draw and limit, milliwatts.
    pub power: Option<(u32, u32)>,
}

impl GpuLine {
    /// Reads `device` (driver calls: on the panel thread, never the
    /// training thread).
    pub fn read(device: &Device) -> Self {
        Self {
            index: device.display_index(),
            utilization: device.gpu_utilization(),
            memory: device.memory_used().zip(device.memory_total()),
            power: device.power_usage().zip(device.power_limit()),
        }
    }
}

/// Everything one frame of the panel shows; a ratatui widget.
#[derive(Debug, Clone)]
pub struct PanelView {
    /// The GPUs, one line each.
    pub gpus: Vec<GpuLine>,
    /// Last step.
    pub step: u64,
    /// Steps per second, once known.
    pub steps_per_second: Option<f64>,
    /// Total steps, when known.
    pub total_steps: Option<u64>,
    /// Glyph set.
    pub glyphs: Glyphs,
    /// Palette.
    pub theme: Theme,
}

impl PanelView {
    /// Rows the panel needs: the progress line and one per GPU.
    pub fn height(gpus: usize) -> u16 {
        1 + gpus.min(usize::from(u16::MAX - 1)) as u16
    }

    fn progress_line(&self) -> String {
        let steps = match self.total_steps {
            Some(total) => format!("step {} / {}", self.step, total),
            None => format!("step {}", self.step),
        };
        let Some(rate) = self.steps_per_second else {
            return format!("{steps} · -- it/s");
        };
        match self.total_steps.filter(|_| rate > 0.0) {
            Some(total) => {
                let left = total.saturating_sub(self.step) as f64 / rate;
                let eta = timedelta2human(Duration::from_secs_f64(left.min(1e9)));
                format!("{steps} · {rate:.2} it/s · ETA {eta}")
            }
            None => format!("{steps} · {rate:.2} it/s"),
        }
    }

    /// The three figures of a GPU line: utilization, memory, power.
    fn figures(gpu: &GpuLine) -> [String; 3] {
        [
            gpu.utilization.map_or_else(|| "N/A".to_owned(), |u| format!("{u}%")),
            gpu.memory.map_or_else(
                || "N/A".to_owned(),
                |(used, total)| format!("{}/{}", bytes2human(used), bytes2human(total)),
            ),
            gpu.power.map_or_else(
                || "N/A".to_owned(),
                |(draw, limit)| format!("{}W/{}W", draw / 1000, limit / 1000),
            ),
        ]
    }

    /// One GPU line; `figure_widths` are the widest figures of all lines,
    /// so the bars of every line line up.
    fn gpu_line(&self, gpu: &GpuLine, width: usize, figure_widths: [usize; 3]) -> Line<'static> {
        const NAMES: [&str; 3] = ["UTL", "MEM", "PWR"];
        const THRESHOLDS: [Thresholds; 3] = [
            Thresholds::GPU_DEFAULT,
            Thresholds::MEM_DEFAULT,
            Thresholds::GPU_DEFAULT,
        ];
        let label = format!("GPU {:<3}", gpu.index);
        // " UTL " + bar + " " + figure, three times.
        let fixed = label.len() + figure_widths.iter().map(|w| w + 6).sum::<usize>();
        let bar_width = (width.saturating_sub(fixed) / 3).max(1);
        let percents = [
            gpu.utilization.map(f64::from),
            gpu.memory
                .map(|(used, total)| used as f64 * 100.0 / total.max(1) as f64),
            gpu.power
                .map(|(draw, limit)| f64::from(draw) * 100.0 / f64::from(limit.max(1))),
        ];
        let figures = Self::figures(gpu);
        let mut spans = vec![Span::raw(label)];
        for i in 0..3 {
            spans.push(Span::raw(format!(" {} ", NAMES[i])));
            let style = BarStyle {
                glyphs: self.glyphs,
                theme: self.theme,
                thresholds: THRESHOLDS[i],
                colorful: false,
            };
            let mut cells = bar(percents[i].unwrap_or(0.0), bar_width, style);
            let drawn: usize = cells.iter().map(|s| s.content.chars().count()).sum();
            cells.push(Span::raw(" ".repeat(bar_width.saturating_sub(drawn))));
            spans.extend(cells);
            spans.push(Span::raw(format!(" {:>w$}", figures[i], w = figure_widths[i])));
        }
        Line::from(spans)
    }
}

impl Widget for &PanelView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut figure_widths = [0; 3];
        for gpu in &self.gpus {
            for (widest, figure) in figure_widths.iter_mut().zip(PanelView::figures(gpu)) {
                *widest = (*widest).max(figure.chars().count());
            }
        }
        let mut lines = vec![Line::from(self.progress_line())];
        lines.extend(
            self.gpus
                .iter()
                .map(|gpu| self.gpu_line(gpu, usize::from(area.width), figure_widths)),
        );
        Paragraph::new(lines).render(area, buf);
    }
}

/// The terminal and the last frame drawn on it, so a log line can redraw
/// the panel at once (inserting lines clears the viewport).
struct Screen<B: Backend> {
    terminal: Terminal<B>,
    last_view: Option<PanelView>,
}

struct Shared<B: Backend> {
    screen: Mutex<Screen<B>>,
    step: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
    failed: AtomicBool,
}

/// The panel: a terminal with an inline viewport at its bottom and a
/// thread that redraws it once a second. [`finish`](Self::finish) (or
/// drop) stops the thread and leaves the cursor below the last frame.
pub struct InlinePanel<B>
where
    B: Backend + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    shared: Arc<Shared<B>>,
    thread: Option<JoinHandle<()>>,
}

/// The panel on the program's stdout, as [`InlinePanel::stdout`] makes it:
/// a name for it that needs no ratatui in the caller's dependencies (a
/// struct field holding the panel, say).
///
/// ```no_run
/// use nvitop_monitor::inline_panel::{PanelOptions, StdoutPanel};
///
/// struct Progress {
///     panel: Option<StdoutPanel>,
/// }
/// let progress = Progress { panel: StdoutPanel::stdout(nvitop::Device::all()?, PanelOptions::default())? };
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type StdoutPanel = InlinePanel<CrosstermBackend<io::Stdout>>;

impl InlinePanel<CrosstermBackend<io::Stdout>> {
    /// A panel on stdout, or `None` when stdout is not a terminal (the
    /// program then prints its lines itself).
    pub fn stdout(devices: Vec<Device>, options: PanelOptions) -> io::Result<Option<Self>> {
        if !io::stdout().is_terminal() {
            return Ok(None);
        }
        Self::new(CrosstermBackend::new(io::stdout()), devices, options).map(Some)
    }
}

impl<B> InlinePanel<B>
where
    B: Backend + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    /// A panel drawing through `backend` (a `TestBackend` in tests).
    pub fn new(backend: B, devices: Vec<Device>, options: PanelOptions) -> io::Result<Self> {
        let height = PanelView::height(devices.len());
        let mut terminal = Terminal::with_options(
            backend,
            TerminalOptions {
                viewport: Viewport::Inline(height),
            },
        )
        .map_err(io::Error::other)?;
        terminal.hide_cursor().map_err(io::Error::other)?;
        // The first frame before returning, so a line printed at once
        // already finds the panel to redraw under it.
        let view = view_now(&devices, 0, &Progress::new(Instant::now()), Instant::now(), options);
        terminal
            .draw(|frame| frame.render_widget(&view, frame.area()))
            .map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            screen: Mutex::new(Screen {
                terminal,
                last_view: Some(view),
            }),
            step: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            failed: AtomicBool::new(false),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("nvitop-panel".to_owned())
            .spawn(move || refresh_loop(&worker, &devices, options))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Records the current step (an atomic store: no lock, no I/O).
    pub fn set_step(&self, step: u64) {
        self.shared.step.store(step, Ordering::Relaxed);
    }

    /// Prints `text` (one or more lines) above the panel.
    pub fn println(&self, text: &str) -> io::Result<()> {
        let lines: Vec<Line<'_>> = text.lines().map(Line::raw).collect();
        let height = lines.len().max(1).min(usize::from(u16::MAX)) as u16;
        let mut screen = self.shared.screen.lock().unwrap_or_else(PoisonError::into_inner);
        let Screen { terminal, last_view } = &mut *screen;
        terminal
            .insert_before(height, |buf| Paragraph::new(lines).render(buf.area, buf))
            .map_err(io::Error::other)?;
        if let Some(view) = last_view {
            terminal
                .draw(|frame| frame.render_widget(&*view, frame.area()))
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// Runs `f` on the terminal (tests read a `TestBackend`'s buffer).
    pub fn with_terminal<T>(&self, f: impl FnOnce(&mut Terminal<B>) -> T) -> T {
        let mut screen = self.shared.screen.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut screen.terminal)
    }

    /// Stops the refresh thread after one last frame, then puts the cursor
    /// on the line below the panel and shows it again.
    pub fn finish(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        *self.shared.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        // A panicked refresh thread leaves the terminal to restore below.
        let _ = thread.join();
        let mut screen = self.shared.screen.lock().unwrap_or_else(PoisonError::into_inner);
        let terminal = &mut screen.terminal;
        let area = terminal.get_frame().area();
        terminal
            .set_cursor_position((0, area.bottom().saturating_sub(1)))
            .map_err(io::Error::other)?;
        terminal.backend_mut().append_lines(1).map_err(io::Error::other)?;
        terminal.show_cursor().map_err(io::Error::other)?;
        terminal.backend_mut().flush().map_err(io::Error::other)
    }
}

impl<B> Drop for InlinePanel<B>
where
    B: Backend + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    fn drop(&mut self) {
        // The same ending as `finish`, for a panel dropped without it (an
        // early return, a panic unwinding): errors have nowhere to go.
        let _ = self.stop();
    }
}

/// The panel thread: read the GPUs, update the rate, draw; once a second
/// until stopped, with one last frame at the stop.
fn refresh_loop<B: Backend>(shared: &Shared<B>, devices: &[Device], options: PanelOptions) {
    let mut progress = Progress::new(Instant::now());
    let mut last_step = None;
    loop {
        let now = Instant::now();
        let step = shared.step.load(Ordering::Relaxed);
        if last_step != Some(step) {
            progress.step(step, now);
            last_step = Some(step);
        }
        let view = view_now(devices, step, &progress, now, options);
        {
            let mut screen = shared.screen.lock().unwrap_or_else(PoisonError::into_inner);
            let drawn = screen
                .terminal
                .draw(|frame| frame.render_widget(&view, frame.area()))
                .is_ok();
            screen.last_view = Some(view);
            if !drawn {
                // A terminal that cannot be drawn on (closed) is not worth
                // failing the training run for: stop drawing.
                shared.failed.store(true, Ordering::Relaxed);
                return;
            }
        }
        let stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
        if *stop {
            return;
        }
        let (stop, _) = shared
            .wake
            .wait_timeout(stop, REFRESH)
            .unwrap_or_else(PoisonError::into_inner);
        if *stop {
            // One last frame with the final step.
            drop(stop);
            let step = shared.step.load(Ordering::Relaxed);
            let now = Instant::now();
            if last_step != Some(step) {
                progress.step(step, now);
            }
            let view = view_now(devices, step, &progress, now, options);
            let mut screen = shared.screen.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = screen.terminal.draw(|frame| frame.render_widget(&view, frame.area()));
            screen.last_view = Some(view);
            return;
        }
    }
}

fn view_now(devices: &[Device], step: u64, progress: &Progress, now: Instant, options: PanelOptions) -> PanelView {
    PanelView {
        gpus: devices.iter().map(GpuLine::read).collect(),
        step,
        steps_per_second: progress.steps_per_second(now),
        total_steps: options.total_steps,
        glyphs: options.glyphs,
        theme: options.theme,
    }
}

//! One reader's CPU window over one process.
//!
//! A process's CPU percentage is its CPU time over a stretch of wall time,
//! so it needs a previous reading. Each reader keeps its own (see
//! [`super::HostProcessReader`]): were the previous reading shared, every
//! reader would restart every other's window, and a window cut to a few
//! microseconds turns one clock tick into thousands of percent.

use std::time::{Duration, Instant};

/// The shortest window a process's CPU percentage is computed over.
///
/// The kernel counts a process's CPU time in clock ticks (10 ms at the
/// usual 100 Hz), so a window of `w` can be off by one tick: 5 % of a core
/// over 200 ms, 100 % over 10 ms. A reader that asks again sooner gets the
/// figure of its last whole window (or, before it has one, the process's
/// lifetime average) and its window keeps running.
///
/// ```
/// use nvitop::process::{HostProcessReader, MIN_CPU_WINDOW};
/// let mut reader = HostProcessReader::new();
/// let me = std::process::id();
/// let first = reader.info(me).unwrap().cpu_percent; // lifetime average
/// // Asked again at once: the same figure, not one tick over a microsecond.
/// assert_eq!(reader.info(me).unwrap().cpu_percent, first);
/// std::thread::sleep(MIN_CPU_WINDOW);
/// let _over_the_window = reader.info(me).unwrap().cpu_percent;
/// ```
pub const MIN_CPU_WINDOW: Duration = Duration::from_millis(200);

/// The clock ticks and CPU count a percentage is computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuScale {
    pub ticks_per_second: u64,
    /// Online CPUs: no process can use more than all of them, so no
    /// percentage is above `cpus × 100`.
    pub cpus: u32,
}

impl CpuScale {
    /// The highest percentage a process can have.
    pub fn max_percent(self) -> f64 {
        f64::from(self.cpus.max(1)) * 100.0
    }

    /// `ticks` of CPU time over `secs` of wall time, percent of one core,
    /// within `0 ..= max_percent`.
    fn percent(self, ticks: u64, secs: f64) -> f64 {
        if secs <= 0.0 {
            return 0.0;
        }
        (ticks as f64 / self.ticks_per_second.max(1) as f64 / secs * 100.0).clamp(0.0, self.max_percent())
    }
}

/// Where one reader's current window over one process started, and the
/// figure of its last whole window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuWindow {
    /// The process's CPU ticks (user + system) at the start of the window.
    ticks: u64,
    /// When the window started.
    since: Instant,
    /// The percentage over the last whole window; `None` before the first.
    last: Option<f64>,
}

impl CpuWindow {
    /// A window starting now, at the process's `ticks`.
    pub fn start(ticks: u64, now: Instant) -> Self {
        Self {
            ticks,
            since: now,
            last: None,
        }
    }

    /// The percentage to report at `now`, when the process has used `ticks`
    /// and has run `age_secs`. Once [`MIN_CPU_WINDOW`] has passed, the
    /// window closes (its figure is reported and kept) and the next one
    /// starts; before that, the last whole window's figure, or before
    /// there is one, the process's lifetime average at the first read (`ps`
    /// shows the same; a zero would be a guess).
    pub fn percent(&mut self, ticks: u64, now: Instant, age_secs: f64, scale: CpuScale) -> f64 {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= MIN_CPU_WINDOW {
            let percent = scale.percent(ticks.saturating_sub(self.ticks), elapsed.as_secs_f64());
            *self = Self {
                ticks,
                since: now,
                last: Some(percent),
            };
            return percent;
        }
        // Before the first whole window: the lifetime average, taken once,
        // so reads within the window agree with each other.
        *self.last.get_or_insert_with(|| scale.percent(ticks, age_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCALE: CpuScale = CpuScale {
        ticks_per_second: 100,
        cpus: 4,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_whole_window_gives_the_share_of_a_core() {
        let t0 = Instant::now();
        let mut window = CpuWindow::start(1000, t0);
        // 50 ticks (0.5 s of CPU) over 500 ms: one core, busy.
        assert!((window.percent(1050, t0 + ms(500), 60.0, SCALE) - 100.0).abs() < 1e-9);
        // The next window starts where this one ended: 10 ticks in 400 ms.
        assert!((window.percent(1060, t0 + ms(900), 60.0, SCALE) - 25.0).abs() < 1e-9);
    }

    #[test]
    fn inside_the_minimum_window_the_last_figure_holds_and_the_window_runs_on() {
        let t0 = Instant::now();
        let mut window = CpuWindow::start(0, t0);
        // Before any whole window: the lifetime average (30 ticks in 2 s),
        // the same until the window closes.
        assert!((window.percent(30, t0 + ms(1), 2.0, SCALE) - 15.0).abs() < 1e-9);
        assert!((window.percent(40, t0 + ms(100), 2.1, SCALE) - 15.0).abs() < 1e-9);
        assert!((window.percent(20, t0 + ms(300), 2.0, SCALE) - 20.0 / 0.3).abs() < 1e-9);
        // One tick 1 ms later would read as 100 % of a core: held instead.
        let held = window.percent(21, t0 + ms(301), 2.0, SCALE);
        assert!((held - 20.0 / 0.3).abs() < 1e-9);
        // The window that was not restarted covers the tick: 1 tick in 250 ms.
        assert!((window.percent(21, t0 + ms(550), 2.0, SCALE) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn no_figure_is_above_all_cpus_or_below_zero() {
        let t0 = Instant::now();
        let mut window = CpuWindow::start(100, t0);
        // More ticks than 4 CPUs can give in 200 ms (a counter glitch).
        assert!((window.percent(1000, t0 + ms(200), 10.0, SCALE) - 400.0).abs() < 1e-9);
        // A counter that went backwards (a reused pid read as the old one).
        assert!(window.percent(5, t0 + ms(400), 10.0, SCALE).abs() < 1e-9);
        // A lifetime average of a process a moment old: 1 tick in 1 ms.
        let mut young = CpuWindow::start(1, t0);
        assert!((young.percent(1, t0, 0.001, SCALE) - 400.0).abs() < 1e-9);
        assert!(CpuWindow::start(1, t0).percent(1, t0, 0.0, SCALE).abs() < 1e-9);
    }
}

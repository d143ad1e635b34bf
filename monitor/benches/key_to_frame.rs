//! Key-to-frame latency of `nvitop-monitor -m` while every reading takes
//! 500 ms: the viewer's loop and view (the binary's own code) on a ratatui
//! `TestBackend` of 160×60, fed the h100x8 machine (8 GPUs × 64 processes)
//! by a collector whose source sleeps 500 ms per reading before handing
//! over the snapshot (the collector seam, standing in for a driver whose
//! calls take that long). KEYS layout keys (`c` / `f`, spread over the
//! readings) are sent; each is timed until the loop has drawn the frame
//! that shows it. Prints p50, p99 and the worst.
//!
//! No terminal is written: the figure is the viewer's own cost, not the
//! terminal's. `bench/monitor-interactive.sh` measures through the binary
//! in tmux where the SDK's `NVITOP_SIM_LATENCY` is available.
//!
//! Run: `cargo bench -p nvitop-monitor --bench key_to_frame [-- KEYS]`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use nvitop::Snapshot;
use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop_monitor::RenderOptions;
use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::live::collect::{self, Source};
use nvitop_monitor::live::state::AppState;
use nvitop_monitor::live::{Event, ViewOptions, run_loop, signals};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const DELAY: Duration = Duration::from_millis(500);

struct Slow(Snapshot);

impl Source for Slow {
    fn full(&mut self) -> Snapshot {
        std::thread::sleep(DELAY);
        self.0.clone()
    }

    fn devices(&mut self, _previous: &Snapshot) -> Snapshot {
        std::thread::sleep(DELAY);
        self.0.clone()
    }
}

fn main() {
    let keys: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset("h100x8").unwrap());
    let snapshot = Snapshot::take_all(&backend).unwrap();
    let processes = snapshot.processes.len();

    let (events, inbox) = mpsc::channel();
    let (control, control_inbox) = mpsc::channel();
    let collector_events = events.clone();
    std::thread::spawn(move || {
        collect::run(
            Slow(snapshot),
            collect::intervals(None),
            &control_inbox,
            &collector_events,
        );
    });
    let (frame_tx, frames) = mpsc::channel();
    let ui = std::thread::spawn(move || {
        let mut terminal = Terminal::new(TestBackend::new(160, 60)).unwrap();
        let view = ViewOptions {
            render: RenderOptions::default(),
            root: false,
        };
        let mut on_frame = |state: &AppState| {
            let _ = frame_tx.send((Instant::now(), state.layout));
        };
        run_loop(
            &mut terminal,
            AppState::default(),
            &inbox,
            &control,
            &view,
            signals::send,
            &mut on_frame,
        )
        .unwrap();
    });
    // Past the first full reading: the frames show every process.
    std::thread::sleep(DELAY * 3);
    while frames.try_recv().is_ok() {}

    let key = |c| Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    let mut latencies = Vec::with_capacity(keys);
    for i in 0..keys {
        std::thread::sleep(Duration::from_millis(20 + (i as u64 % 7) * 37));
        let (c, layout) = if i % 2 == 0 {
            ('c', LayoutMode::Compact)
        } else {
            ('f', LayoutMode::Full)
        };
        let sent = Instant::now();
        events.send(key(c)).unwrap();
        let drawn = loop {
            let (at, shown) = frames.recv_timeout(Duration::from_secs(10)).unwrap();
            if shown == layout {
                break at;
            }
        };
        latencies.push(drawn.duration_since(sent));
    }
    events.send(key('q')).unwrap();
    ui.join().unwrap();

    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "key-to-frame, h100x8 ({processes} processes), 160x60 TestBackend, every reading 500 ms, {keys} keys: \
         p50 {:.2} ms, p99 {:.2} ms, worst {:.2} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(latencies[latencies.len() - 1])
    );
}

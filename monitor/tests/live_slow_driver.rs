//! A slow driver never delays a key press: with every reading taking
//! 500 ms (a source standing in for the driver, behind the collector's
//! [`Source`] seam), keys are answered by a new frame at once, and the
//! loop draws only when something happened (no busy-waiting).
//!
//! The same property through the binary and the SDK's simulated driver
//! latency (`NVITOP_SIM_LATENCY=500ms`) is `slow_driver_keys_in_tmux` in
//! `live_tmux.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use nvitop::Snapshot;
use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::live::collect::{self, Source};
use nvitop_monitor::live::state::AppState;
use nvitop_monitor::live::{Ending, Event, ViewOptions, run_loop, signals};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Every reading takes `delay`, as every call of a slow driver would.
struct SlowSource {
    delay: Duration,
}

impl Source for SlowSource {
    fn full(&mut self) -> Snapshot {
        std::thread::sleep(self.delay);
        common::machine()
    }

    fn devices(&mut self, previous: &Snapshot) -> Snapshot {
        std::thread::sleep(self.delay);
        let mut snapshot = previous.clone();
        snapshot.devices = common::machine_devices();
        snapshot
    }
}

struct Running {
    events: mpsc::Sender<Event>,
    frames: mpsc::Receiver<(Instant, LayoutMode)>,
    ui: std::thread::JoinHandle<(AppState, Ending)>,
}

/// The collector on a [`SlowSource`] and the loop on a test terminal.
fn start(delay: Duration) -> Running {
    let (events, inbox) = mpsc::channel();
    let (control, control_inbox) = mpsc::channel();
    let collector_events = events.clone();
    std::thread::spawn(move || {
        collect::run(
            SlowSource { delay },
            (Duration::from_secs(1), Duration::from_secs(2)),
            &control_inbox,
            &collector_events,
        );
    });
    let (frame_tx, frames) = mpsc::channel();
    let ui = std::thread::spawn(move || {
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let view = ViewOptions {
            render: common::options(),
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
        .unwrap()
    });
    Running { events, frames, ui }
}

fn key(c: char) -> Event {
    Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)))
}

#[test]
fn keys_are_answered_while_every_driver_call_takes_500_ms() {
    let running = start(Duration::from_millis(500));
    // Let the collector get going: its calls are in flight from here on.
    std::thread::sleep(Duration::from_millis(700));
    while running.frames.try_recv().is_ok() {}
    let mut latencies = Vec::new();
    for (i, (c, layout)) in [('c', LayoutMode::Compact), ('f', LayoutMode::Full)]
        .into_iter()
        .cycle()
        .take(10)
        .enumerate()
    {
        // Spread over more than one driver call.
        std::thread::sleep(Duration::from_millis(97 * (i as u64 % 4)));
        let sent = Instant::now();
        running.events.send(key(c)).unwrap();
        let drawn = loop {
            let (at, shown) = running.frames.recv_timeout(Duration::from_secs(5)).expect("a frame");
            if shown == layout {
                break at;
            }
        };
        latencies.push(drawn.duration_since(sent));
    }
    running.events.send(key('q')).unwrap();
    let (_, ending) = running.ui.join().unwrap();
    assert_eq!(ending, Ending::Quit);
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    // The bound is the 50 ms; the worst key also stays far under
    // one driver call (500 ms), so no key ever waited for the driver.
    assert!(median < Duration::from_millis(50), "{latencies:?}");
    assert!(worst < Duration::from_millis(250), "{latencies:?}");
}

#[test]
fn no_frames_without_events() {
    let running = start(Duration::from_millis(200));
    std::thread::sleep(Duration::from_millis(1500));
    running.events.send(key('q')).unwrap();
    running.ui.join().unwrap();
    let frames = running.frames.try_iter().count();
    // The first frame, and one per reading: the first device reading, the
    // first full reading, maybe a device reading. A loop that polls would
    // draw dozens.
    assert!((2..=5).contains(&frames), "{frames} frames in 1.5 s");
}

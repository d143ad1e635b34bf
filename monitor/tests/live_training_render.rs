//! Render tests of training status in `nvitop-monitor -m`: process rows of
//! a training process carry a progress mark at the start of the COMMAND
//! column, a stalled run's mark is highlighted, and the process metrics
//! screen of a training process adds a training box. Records are injected
//! into the reading as the collector would publish them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use nvitop::Snapshot;
use nvitop::training::{ProcessIdentity, TrainingRecord};
use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::live::collect::Training;
use nvitop_monitor::live::rows::{self, ProcessKey, SortKey};
use nvitop_monitor::live::state::{AppState, Screen};
use nvitop_monitor::live::{Published, ViewOptions, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// When the records were read (seconds since the Unix epoch).
const READ_AT: f64 = 1_000_000.0;

fn record(snapshot: &Snapshot, n: usize, json: &str) -> (ProcessIdentity, TrainingRecord) {
    let order = rows::order(snapshot, "", SortKey::Gpu, false);
    let p = &snapshot.processes[order[n]];
    let id = ProcessIdentity {
        pid: p.pid,
        start_ticks: p.host.as_ref().unwrap().start_ticks,
    };
    let text = format!(
        r#"{{"version":1,"pid":{},"start_ticks":{},{json}}}"#,
        id.pid, id.start_ticks
    );
    (id, serde_json::from_str(&text).unwrap())
}

/// The fixture machine with two training processes: the 2nd row runs at
/// 4.1 it/s, the 4th has been silent for 95 s at a 0.5 s median step.
fn latest() -> Published {
    let snapshot = common::machine();
    let running = record(
        &snapshot,
        1,
        r#""run_name":"llama-8b-sft","log_dir":"/runs/llama-8b-sft","step":12345,"epoch":3,
           "phase":"train","total_steps":20000,"steps_per_second":4.13,
           "step_time_p50_seconds":0.242,"step_time_p99_seconds":0.31,
           "seconds_since_last_hook":0.2,"gpus":[0,1],"energy_per_step_joules":152.4,
           "written_at":999999.5"#,
    );
    let stalled = record(
        &snapshot,
        3,
        r#""step":812,"phase":"train","steps_per_second":2.0,"step_time_p50_seconds":0.5,
           "seconds_since_last_hook":90.0,"written_at":999995.0"#,
    );
    let mut published = Published::of(snapshot, true);
    published.training = Arc::new(Training {
        records: HashMap::from([running, stalled]),
        read_at: READ_AT,
    });
    published
}

fn draw(latest: &Published, state: &mut AppState, (w, h): (u16, u16), color: bool) -> String {
    let options = ViewOptions {
        render: common::options(),
        root: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|frame| {
            let area = frame.area();
            view::draw(frame.buffer_mut(), area, state, Some(latest), &options);
        })
        .unwrap();
    nvitop_monitor::ansi::to_ansi(terminal.backend().buffer(), color)
}

fn nth(n: usize) -> ProcessKey {
    let snapshot = common::machine();
    let order = rows::order(&snapshot, "", SortKey::Gpu, false);
    ProcessKey::of(&snapshot.processes[order[n]])
}

#[test]
fn rows_carry_a_progress_mark_and_a_stalled_run_is_highlighted() {
    let latest = latest();
    let text = draw(&latest, &mut AppState::default(), (120, 40), false);
    insta::assert_snapshot!("main_training_120x40", text);
    let marked = text.lines().find(|l| l.contains("step 12.3k · 4.1 it/s")).unwrap();
    let stalled = text.lines().find(|l| l.contains("STALLED 1m · step 812")).unwrap();
    assert!(marked.contains(&nth(1).pid.to_string()), "{marked}");
    assert!(stalled.contains(&nth(3).pid.to_string()), "{stalled}");
    assert_eq!(text.matches("step ").count(), 2, "only the two training rows: {text}");

    // In color the stalled mark is red and bold; the running one is not red.
    let color = draw(&latest, &mut AppState::default(), (120, 40), true);
    let red = color.lines().find(|l| l.contains("STALLED")).unwrap();
    assert!(red.contains("1;31mSTALLED 1m"), "{red:?}");
    let plain = color.lines().find(|l| l.contains("4.1 it/s")).unwrap();
    assert!(
        plain.contains("1mstep 12.3k") && !plain.contains("31mstep"),
        "{plain:?}"
    );
}

#[test]
fn the_mark_survives_a_narrow_terminal_and_the_command_is_cut_after_it() {
    let latest = latest();
    let text = draw(&latest, &mut AppState::default(), (79, 24), false);
    insta::assert_snapshot!("main_training_79x24", text);
    // The mark comes first: what room there is shows its start.
    assert!(text.contains("33:01:21  step 1…"), "{text}");
}

#[test]
fn without_records_no_row_is_marked() {
    let latest = Published::of(common::machine(), true);
    let text = draw(&latest, &mut AppState::default(), (120, 40), false);
    assert!(!text.contains("step "), "{text}");
    assert!(!text.contains("STALLED"), "{text}");
}
/// The state of a process metrics screen on the `n`th row.
fn metrics_of(n: usize) -> AppState {
    AppState {
        screen: Screen::Process,
        selected: Some(nth(n)),
        layout: LayoutMode::Full,
        ..AppState::default()
    }
}

#[test]
fn the_metrics_screen_of_a_training_process_has_a_training_box() {
    let latest = latest();
    // A throughput history for the watched process, as the collector
    // records it: steadily rising, then flat.
    {
        let mut history = latest.history.lock().unwrap();
        history.watch(&[nth(1)]);
        let mut snapshot = latest.snapshot.as_ref().clone();
        for i in 0..60u32 {
            for p in &mut snapshot.processes {
                p.gpu_sm_utilization = Some(i % 50);
            }
            let rate = f64::from(i.min(40)) / 10.0;
            history.record_processes_with(&snapshot, |p| latest.training.of(p).map(|_| rate));
        }
    }
    let text = draw(&latest, &mut metrics_of(1), (120, 40), false);
    insta::assert_snapshot!("process_training_120x40", text);
    for want in [
        "TRAINING",
        "run llama-8b-sft   logdir /runs/llama-8b-sft",
        "step 12345 / 20000   epoch 3   phase train",
        "step time p50 242 ms  p99 310 ms   4.13 it/s   energy/step 152.4 J",
        "it/s ",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    // The stalled run says so in the box's title; a process without a
    // record has no box.
    let stalled = draw(&latest, &mut metrics_of(3), (120, 40), false);
    assert!(stalled.contains("TRAINING: STALLED 1m · step 812"), "{stalled}");
    let plain = draw(&latest, &mut metrics_of(0), (120, 40), false);
    assert!(!plain.contains("TRAINING"), "{plain}");
}

/// The fixture machine with one run in validation, silent for 95 s (its
/// last hook was `on_validation_start`) at a 0.242 s median step.
fn validating() -> Published {
    let snapshot = common::machine();
    let run = record(
        &snapshot,
        1,
        r#""run_name":"llama-8b-sft","log_dir":"/runs/llama-8b-sft","step":12345,"epoch":3,
           "phase":"validation","total_steps":20000,"steps_per_second":4.13,
           "step_time_p50_seconds":0.242,"step_time_p99_seconds":0.31,
           "seconds_since_last_hook":90.0,"gpus":[0,1],"written_at":999995.0"#,
    );
    let mut published = Published::of(snapshot, true);
    published.training = Arc::new(Training {
        records: HashMap::from([run]),
        read_at: READ_AT,
    });
    published
}

#[test]
fn a_run_in_validation_says_so_in_its_row_and_box_and_is_not_called_stalled() {
    let latest = validating();
    let text = draw(&latest, &mut AppState::default(), (120, 40), false);
    insta::assert_snapshot!("main_validation_120x40", text);
    let marked = text.lines().find(|l| l.contains("step 12.3k · val")).unwrap();
    assert!(marked.contains(&nth(1).pid.to_string()), "{marked}");
    assert!(!text.contains("STALLED"), "a long validation pass is no stall: {text}");

    let metrics = draw(&latest, &mut metrics_of(1), (120, 40), false);
    let box_title = metrics.lines().find(|l| l.contains("TRAINING")).unwrap();
    assert!(!box_title.contains("STALLED"), "{box_title}");
    assert!(
        metrics.contains("step 12345 / 20000   epoch 3   phase validation"),
        "{metrics}"
    );
}

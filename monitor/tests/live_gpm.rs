//! GPM activity in `nvitop-monitor -m`: the device graph's fifth pair (`g`)
//! is SM activity over tensor activity, read through the collector's
//! source only while shown. On the simulator's H100s the values show; on
//! A100s (no GPM) the graph says N/A.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::filter::ProcessFilter;
use nvitop_monitor::live::collect::{Published, SnapshotSource, Source};
use nvitop_monitor::live::history::GraphMetric;
use nvitop_monitor::live::state::AppState;
use nvitop_monitor::live::{ViewOptions, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A few readings of `preset` through the viewer's own source with the
/// GPM graph asked for, recorded into the history as the collector does.
fn readings(preset: &str) -> (Published, SnapshotSource) {
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::from_preset(preset).unwrap());
    let devices = nvitop::Device::all_in(&backend).unwrap();
    let mut source = SnapshotSource::new(backend, devices, ProcessFilter::default());
    assert!(!source.reads_gpm(), "off until shown");
    source.set_gpm(true);
    let mut snapshot = source.full();
    let published = Published::of(snapshot.clone(), true);
    for _ in 0..3 {
        published.history.lock().unwrap().record_devices(&snapshot);
        // GPM measures between two samples at least 100 ms apart.
        std::thread::sleep(Duration::from_millis(110));
        snapshot = source.devices(&snapshot);
    }
    published.history.lock().unwrap().record_devices(&snapshot);
    (
        Published {
            snapshot: Arc::new(snapshot),
            ..published
        },
        source,
    )
}

fn draw(latest: &Published) -> String {
    let options = ViewOptions {
        render: common::options(),
        root: false,
    };
    let mut state = AppState {
        graph: GraphMetric::Gpm,
        layout: LayoutMode::Full,
        ..AppState::default()
    };
    let mut terminal = Terminal::new(TestBackend::new(160, 60)).unwrap();
    terminal
        .draw(|frame| {
            let area = frame.area();
            view::draw(frame.buffer_mut(), area, &mut state, Some(latest), &options);
        })
        .unwrap();
    nvitop_monitor::ansi::to_ansi(terminal.backend().buffer(), false)
}

/// The text after `label` on the screen, up to the next two spaces.
fn value_after<'a>(text: &'a str, label: &str) -> &'a str {
    let at = text.find(label).unwrap_or_else(|| panic!("{label} not shown:\n{text}")) + label.len();
    text[at..].split("  ").next().unwrap().trim()
}

#[test]
fn h100_shows_sm_and_tensor_activity() {
    let (latest, mut source) = readings("h100x8");
    let gpm = latest.snapshot.devices[0].gpm.expect("H100 has GPM");
    let (sm, tensor) = (gpm.sm_active.unwrap(), gpm.tensor_active.unwrap());
    assert!((0.0..=100.0).contains(&sm) && (0.0..=100.0).contains(&tensor));
    let text = draw(&latest);
    let shown = value_after(&text, "SM ACT");
    assert!(
        shown.contains('%') && !shown.contains("N/A"),
        "SM ACT {shown:?}\n{text}"
    );
    let shown = value_after(&text, "TENSOR");
    assert!(
        shown.contains('%') && !shown.contains("N/A"),
        "TENSOR {shown:?}\n{text}"
    );
    // Turned off, the samples are dropped and readings carry no GPM.
    source.set_gpm(false);
    assert!(!source.reads_gpm());
    let snapshot = source.devices(&latest.snapshot);
    assert!(snapshot.devices.iter().all(|d| d.gpm.is_none()));
}

#[test]
fn a100_has_no_gpm_and_the_graph_says_na() {
    let (latest, _source) = readings("a100x4");
    assert!(latest.snapshot.devices.iter().all(|d| d.gpm.is_none()));
    let text = draw(&latest);
    assert!(value_after(&text, "SM ACT").contains("N/A"), "{text}");
    assert!(value_after(&text, "TENSOR").contains("N/A"), "{text}");
}

/// The state with the reading's process on `device` (a display index such
/// as `1:1`) selected, as Down on its row would select it.
fn selecting(latest: &Published, device: &str) -> AppState {
    let process = latest
        .snapshot
        .processes
        .iter()
        .find(|p| p.device_index == device)
        .unwrap_or_else(|| panic!("the scenario has no process on {device}"));
    AppState {
        graph: GraphMetric::Gpm,
        layout: LayoutMode::Full,
        selected: Some(nvitop_monitor::live::rows::ProcessKey::of(process)),
        ..AppState::default()
    }
}

fn draw_with(latest: &Published, mut state: AppState) -> String {
    let options = ViewOptions {
        render: common::options(),
        root: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(160, 60)).unwrap();
    terminal
        .draw(|frame| {
            let area = frame.area();
            view::draw(frame.buffer_mut(), area, &mut state, Some(latest), &options);
        })
        .unwrap();
    nvitop_monitor::ansi::to_ansi(terminal.backend().buffer(), false)
}

#[test]
fn a_process_on_a_hopper_mig_device_shows_its_gpu_instances_own_activity() {
    // GPU 0: an A100 in MIG mode; GPU 1: an H100 in MIG mode.
    let (latest, mut source) = readings("mig");
    let h100 = &latest.snapshot.devices[1];
    let sm: Vec<f64> = h100
        .mig_devices
        .iter()
        .map(|m| m.gpm.expect("an H100 GPU instance has GPM").sm_active.unwrap())
        .collect();
    assert!(sm.iter().all(|v| (0.0..=100.0).contains(v)), "{sm:?}");
    assert!(
        (sm[0] - sm[1]).abs() > 1e-6,
        "each GPU instance has counters of its own: {sm:?}"
    );
    assert!(latest.snapshot.devices[0].mig_devices.iter().all(|m| m.gpm.is_none()));
    // Selected, a process on MIG device 1:1 narrows the GPM pair to it.
    let text = draw_with(&latest, selecting(&latest, "1:1"));
    let shown = value_after(&text, "SM ACT (GPU 1:1):");
    let value: f64 = shown
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("{shown:?}\n{text}"));
    // The rings keep f32: the figure shown is the instance's to one decimal.
    assert!(
        (value - sm[1]).abs() <= 0.051,
        "shown {value}, GPU instance {}\n{text}",
        sm[1]
    );
    assert!(!value_after(&text, "TENSOR (GPU 1:1):").contains("N/A"), "{text}");
    // An A100 MIG device: N/A, never its parent's or another's figure.
    let text = draw_with(&latest, selecting(&latest, "0:0"));
    assert!(value_after(&text, "SM ACT (GPU 0:0):").contains("N/A"), "{text}");
    // Other pairs stay on the parent GPU (a MIG device has no power of its own).
    let state = AppState {
        graph: GraphMetric::PowerTemperature,
        ..selecting(&latest, "1:1")
    };
    assert!(draw_with(&latest, state).contains("POWER (GPU 1):"));
    // Turned off, the MIG samples are dropped too.
    source.set_gpm(false);
    let snapshot = source.devices(&latest.snapshot);
    assert!(
        snapshot
            .devices
            .iter()
            .flat_map(|d| &d.mig_devices)
            .all(|m| m.gpm.is_none())
    );
}

//! Render tests of the screens beyond the main one and of the history
//! graphs: process metrics, tree, environment and help, and the main
//! screen's graphs, drawn into a ratatui `TestBackend` from a fixed
//! snapshot and a fixed history (a known series with an N/A stretch), at
//! 79×24 and 160×50, dark and light, Unicode and ASCII.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use nvitop_monitor::cli::LayoutMode;
use nvitop_monitor::live::rows::{self, ProcessKey, SortKey};
use nvitop_monitor::live::state::{AppState, EnvironmentView, Screen};
use nvitop_monitor::live::tree::{Tree, TreeRow};
use nvitop_monitor::live::{Published, ViewOptions, view};
use nvitop_monitor::theme::{Glyphs, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The fixture machine with five minutes of history at 1 s (devices)
/// and 2 s (processes): a sawtooth host CPU, a ramp of memory, and a
/// stretch where GPU utilization and the processes' %SM are N/A.
fn latest() -> Published {
    let base = common::machine();
    let published = Published::of(base.clone(), true);
    {
        let mut history = published.history.lock().unwrap();
        history.watch(&[first_process()]);
        for i in 0..300u32 {
            let mut s = base.clone();
            s.host.cpu_percent = f64::from(i % 50) * 2.0 + 2.5;
            s.host.memory_percent = 20.0 + f64::from(i) / 10.0;
            s.host.swap_percent = if i > 200 { 5.0 } else { 0.0 };
            let gap = (150..180).contains(&i);
            for d in &mut s.devices {
                d.gpu_utilization = (!gap).then_some(i % 100);
                d.memory_percent = Some(f64::from(i) / 3.0);
            }
            history.record_devices(&s);
            if i % 2 == 0 {
                for p in &mut s.processes {
                    p.gpu_sm_utilization = (!gap).then_some(i % 60);
                    if let Some(h) = &mut p.host {
                        h.cpu_percent = f64::from(i % 30);
                    }
                }
                history.record_processes(&s);
            }
        }
    }
    published
}

fn first_process() -> ProcessKey {
    let snapshot = common::machine();
    let order = rows::order(&snapshot, "", SortKey::Gpu, false);
    ProcessKey::of(&snapshot.processes[order[1]])
}

fn tree() -> Tree {
    let row = |pid: u32, last: Vec<bool>, device: &str, command: &str| TreeRow {
        key: ProcessKey {
            pid,
            start_ticks: Some(u64::from(pid)),
            device: "Host".to_owned(),
        },
        last,
        user: Some(if pid == 1 { "root" } else { "alice" }.to_owned()),
        device: device.to_owned(),
        threads: Some(pid % 7 + 1),
        cpu: f64::from(pid % 13),
        memory: 0.5,
        time: "1:02:03".to_owned(),
        command: command.to_owned(),
    };
    Tree {
        rows: vec![
            row(1, vec![true], "Host", "/sbin/init"),
            row(900, vec![true, false], "Host", "sshd: alice"),
            row(
                48200,
                vec![true, false, true],
                "GPU 0",
                "python -m torch.distributed.run --nproc_per_node 1",
            ),
            row(
                48213,
                vec![true, false, true, false],
                "GPU 0",
                "python train.py --model llama-7b",
            ),
            row(48214, vec![true, false, true, true], "Host", "python -c data_loader"),
            row(51002, vec![true, true], "GPU 1:0,1:1", "python finetune.py"),
        ],
    }
}

fn environment() -> EnvironmentView {
    EnvironmentView {
        title: "process 48213 (python)".to_owned(),
        target: Some(first_process()),
        lines: Ok(vec![
            "CUDA_VISIBLE_DEVICES=0".to_owned(),
            "HOME=/home/alice".to_owned(),
            "NCCL_DEBUG=INFO".to_owned(),
            format!("PATH=/usr/local/cuda/bin:{}", "/opt/very/long/path".repeat(8)),
            "WORLD_SIZE=8".to_owned(),
        ]),
        scroll_y: 0,
        scroll_x: 0,
    }
}

fn view(glyphs: Glyphs, light: bool) -> ViewOptions {
    ViewOptions {
        render: nvitop_monitor::RenderOptions {
            glyphs,
            theme: Theme::new(light),
            ..common::options()
        },
        root: false,
    }
}

fn draw(latest: &Published, state: &mut AppState, view: &ViewOptions, (w, h): (u16, u16), color: bool) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|frame| {
            let area = frame.area();
            view::draw(frame.buffer_mut(), area, state, Some(latest), view);
        })
        .unwrap();
    nvitop_monitor::ansi::to_ansi(terminal.backend().buffer(), color)
}

/// The state for `screen` with what it shows.
fn state(screen: Screen) -> AppState {
    AppState {
        screen,
        selected: (screen == Screen::Process).then(first_process),
        environment: (screen == Screen::Environment).then(environment),
        layout: LayoutMode::Full,
        ..AppState::default()
    }
}

fn latest_with_tree() -> Published {
    let mut latest = latest();
    latest.tree = Some(Arc::new(tree()));
    latest
}

/// Every screen at both sizes (plain text, dark, Unicode), then at 160×50
/// in light colors and in ASCII.
#[test]
fn every_screen_at_both_sizes_dark_light_unicode_ascii() {
    let latest = latest_with_tree();
    for (name, screen) in [
        ("main", Screen::Main),
        ("process", Screen::Process),
        ("tree", Screen::Tree),
        ("environment", Screen::Environment),
        ("help", Screen::Help),
    ] {
        for size in [(79, 24), (160, 50)] {
            let text = draw(&latest, &mut state(screen), &view(Glyphs::Unicode, false), size, false);
            insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), text);
        }
        let ascii = draw(
            &latest,
            &mut state(screen),
            &view(Glyphs::Ascii, false),
            (160, 50),
            false,
        );
        assert!(ascii.is_ascii(), "{name} in ASCII:\n{ascii}");
        insta::assert_snapshot!(format!("{name}_160x50_ascii"), ascii);
        let dark = draw(
            &latest,
            &mut state(screen),
            &view(Glyphs::Unicode, false),
            (160, 50),
            true,
        );
        let light = draw(
            &latest,
            &mut state(screen),
            &view(Glyphs::Unicode, true),
            (160, 50),
            true,
        );
        insta::assert_snapshot!(format!("{name}_160x50_dark_color"), dark);
        insta::assert_snapshot!(format!("{name}_160x50_light_color"), light);
    }
}

#[test]
fn the_graphs_show_the_series_with_a_gap_for_na() {
    let latest = latest();
    let text = draw(
        &latest,
        &mut state(Screen::Main),
        &view(Glyphs::Unicode, false),
        (160, 50),
        false,
    );
    // Braille cells in the host and device graphs, the labels, the axis.
    assert!(text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)));
    for label in ["CPU: ", "MEM: ", "SWP: ", "GPU MEM (avg)", "GPU UTL (avg)", "2m", "now"] {
        assert!(text.contains(label), "{label}\n{text}");
    }
    // The process screen: four graphs with current, max and scale.
    let text = draw(
        &latest,
        &mut state(Screen::Process),
        &view(Glyphs::Unicode, false),
        (160, 50),
        false,
    );
    for label in [
        "CPU: ",
        "HOST MEM: ",
        "GPU MEM: ",
        "SM: ",
        "max ",
        "scale ",
        "%DEC",
        "COMMAND",
    ] {
        assert!(text.contains(label), "{label}\n{text}");
    }
}

#[test]
fn the_device_graph_follows_the_selected_process_gpu_and_the_metric_key() {
    let latest = latest();
    let mut s = state(Screen::Main);
    s.selected = Some(first_process());
    let text = draw(&latest, &mut s, &view(Glyphs::Unicode, false), (160, 50), false);
    assert!(text.contains("GPU MEM (GPU 0)"), "{text}");
    for (metric, labels) in [(1, ["POWER", "TEMP"]), (2, ["PCIe RX", "PCIe TX"]), (3, ["ENC", "DEC"])] {
        let mut s = state(Screen::Main);
        for _ in 0..metric {
            s.graph = s.graph.next();
        }
        let text = draw(&latest, &mut s, &view(Glyphs::Unicode, false), (160, 50), false);
        for label in labels {
            assert!(text.contains(&format!("{label} (avg)")), "{label}\n{text}");
        }
    }
    // Narrower than 100 columns: no device graph.
    let text = draw(
        &latest,
        &mut state(Screen::Main),
        &view(Glyphs::Unicode, false),
        (99, 50),
        false,
    );
    assert!(!text.contains("GPU MEM (avg)"));
    assert!(text.contains("CPU: "));
}

#[test]
fn environment_errors_are_said() {
    let latest = latest();
    let mut s = state(Screen::Environment);
    s.environment = Some(EnvironmentView {
        lines: Err("permission denied: the environment of process 1 is readable only by its owner and root".into()),
        ..environment()
    });
    let text = draw(&latest, &mut s, &view(Glyphs::Unicode, false), (120, 20), false);
    assert!(text.contains("permission denied"), "{text}");
}

#[test]
fn help_dims_the_signal_keys_under_readonly() {
    let latest = latest();
    let mut s = state(Screen::Help);
    s.readonly = true;
    let text = draw(&latest, &mut s, &view(Glyphs::Unicode, false), (160, 60), false);
    for want in [
        "SIGTERM",
        "SIGKILL",
        "SIGINT",
        "(off: --readonly)",
        "Thresholds",
        "10 75",
        "10 80",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    // Dimmed: the read-only help in color differs from the normal one.
    let on = draw(
        &latest,
        &mut state(Screen::Help),
        &view(Glyphs::Unicode, false),
        (160, 60),
        true,
    );
    let off = draw(&latest, &mut s, &view(Glyphs::Unicode, false), (160, 60), true);
    assert_ne!(on, off);
}

#[test]
fn every_screen_draws_at_any_size_without_a_panic() {
    let latest = latest_with_tree();
    for screen in [
        Screen::Main,
        Screen::Process,
        Screen::Tree,
        Screen::Environment,
        Screen::Help,
    ] {
        for w in [1u16, 5, 20, 40, 79, 99, 100, 130] {
            for h in [1u16, 2, 3, 4, 5, 8, 12, 24] {
                for glyphs in [Glyphs::Unicode, Glyphs::Ascii] {
                    let mut s = state(screen);
                    s.dialog = (screen == Screen::Tree).then(|| nvitop_monitor::live::state::Dialog {
                        choice: 0,
                        targets: vec![first_process()],
                    });
                    let _ = draw(&latest, &mut s, &view(glyphs, false), (w, h), false);
                }
            }
        }
    }
    // The environment's error at every size too.
    for h in 1..6 {
        let mut s = state(Screen::Environment);
        s.environment = Some(EnvironmentView {
            lines: Err("gone".into()),
            ..environment()
        });
        let _ = draw(&latest, &mut s, &view(Glyphs::Unicode, false), (30, h), false);
    }
}

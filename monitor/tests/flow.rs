//! The one-shot flow (`nvitop_monitor::run`, what the binary's `main`
//! calls) with a fixed environment: a terminal of a chosen width, which a
//! test of the binary cannot have (its stdout is a pipe). Checks that the
//! output is sized to the terminal and that `--colorful` reaches the bars.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use nvitop_monitor::{Cli, Environment, run};

/// Two H100s at a constant 90 % utilization (no swing, no noise), so the
/// bars and their colors do not depend on when the test runs.
const STEADY: &str = r#"
driver_version = "560.35.03"
cuda_driver_version = "12.6"
seed = 1

[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training", gpu_util = 90, swing = 0, noise = 0 }
processes = [{ pid = "self", memory_mib = 20480 }]

[[gpus]]
model = "H100-SXM5-80GB"
workload = { profile = "training", gpu_util = 90, swing = 0, noise = 0 }
"#;

/// A color terminal `width` columns wide, used by `alice`.
fn terminal(width: u16) -> Environment {
    Environment {
        stdout_is_tty: true,
        terminal_width: Some(width),
        user: Some("alice".to_owned()),
        hostname: Some("gpu-node".to_owned()),
        ..Environment::default()
    }
}

/// Runs the one-shot flow with `args` (after the program name) on the
/// [`STEADY`] machine in `env`: its output and its warnings.
fn run_with_warnings(env: &Environment, args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("steady.toml");
    std::fs::write(&scenario, STEADY).unwrap();
    let mut all = vec!["nvitop-monitor", "--simulate", scenario.to_str().unwrap()];
    all.extend_from_slice(args);
    let cli = Cli::parse_args(all).unwrap();
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    run(&cli, env, &mut out, &mut warnings).unwrap();
    (String::from_utf8(out).unwrap(), String::from_utf8(warnings).unwrap())
}

/// [`run_with_warnings`] where no warning is expected: the output.
fn run_in(env: &Environment, args: &[&str]) -> String {
    let (out, warnings) = run_with_warnings(env, args);
    assert_eq!(warnings, "", "{args:?}");
    out
}

/// [`run_in`] on a color terminal `width` columns wide.
fn on_terminal(width: u16, args: &[&str]) -> String {
    run_in(&terminal(width), args)
}

/// The first line of `text` that contains `needle`.
fn line_with(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
        .to_owned()
}

/// `text` without SGR escape sequences.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after.find('m').unwrap();
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn widths(text: &str) -> Vec<usize> {
    plain(text).lines().map(nvitop_monitor::text::width).collect()
}

#[test]
fn output_is_as_wide_as_the_terminal() {
    for width in [79_u16, 100, 120, 160, 213] {
        let text = on_terminal(width, &["--no-color"]);
        let widths = widths(&text);
        assert_eq!(widths.iter().max(), Some(&usize::from(width)), "{text}");
        // The process panel's bottom rule spans the terminal.
        assert_eq!(widths.last(), Some(&usize::from(width)), "{text}");
        // The bar panel appears from 100 columns on.
        assert_eq!(text.contains("UTL:"), width >= 100, "{width}:\n{text}");
    }
    // Narrower terminals get the 79-column table.
    for width in [20_u16, 78] {
        let text = on_terminal(width, &["--no-color"]);
        assert_eq!(widths(&text).iter().max(), Some(&79), "{text}");
    }
}

#[test]
fn color_on_a_terminal_unless_told_otherwise() {
    assert!(on_terminal(120, &[]).contains("\x1b["));
    assert!(!on_terminal(120, &["--no-color"]).contains('\x1b'));
    let no_color = Environment {
        no_color: Some("1".to_owned()),
        ..terminal(120)
    };
    assert!(!run_in(&no_color, &[]).contains('\x1b'));
    assert!(run_in(&no_color, &["--force-color"]).contains("\x1b["));
}

#[test]
fn threshold_flags_recolor_the_bars() {
    // GPU utilization 90 %, memory 25 %.
    let mem_percent = |text: &str| {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        json["devices"][0]["memory_percent"].as_f64().unwrap()
    };
    let percent = mem_percent(&on_terminal(120, &["--json"]));
    assert!((20.0..30.0).contains(&percent), "{percent}");
    let bar = |args: &[&str], label: &str| line_with(&on_terminal(120, args), label);
    // Defaults: 90 % is heavy (10 75), 25 % memory moderate (10 80).
    assert!(bar(&[], "UTL:").contains("\x1b[0;31m█"));
    assert!(bar(&[], "MEM:").contains("\x1b[0;33m█"));
    // Each flag moves its own bars only.
    let gpu = ["--gpu-util-thresh", "80", "95"];
    assert!(bar(&gpu, "UTL:").contains("\x1b[0;33m█"), "{:?}", bar(&gpu, "UTL:"));
    assert!(bar(&gpu, "MEM:").contains("\x1b[0;33m█"));
    let mem = ["--mem-util-thresh", "30", "40"];
    assert!(bar(&mem, "MEM:").contains("\x1b[0;32m█"), "{:?}", bar(&mem, "MEM:"));
    assert!(bar(&mem, "UTL:").contains("\x1b[0;31m█"));
    let mem = ["--mem-util-thresh", "5", "20"];
    assert!(bar(&mem, "MEM:").contains("\x1b[0;31m█"), "{:?}", bar(&mem, "MEM:"));
}

#[test]
fn other_users_processes_are_dimmed() {
    // The machine's one process is this test process (`self`).
    let json: serde_json::Value = serde_json::from_str(&on_terminal(120, &["--json"])).unwrap();
    let owner = json["processes"][0]["host"]["username"].as_str().unwrap().to_owned();
    let pid = json["processes"][0]["pid"].to_string();
    let row = |user: &str| {
        let env = Environment {
            user: Some(user.to_owned()),
            ..terminal(120)
        };
        line_with(&run_in(&env, &[]), &format!(" {pid} "))
    };
    let dim = "\x1b[0;90m";
    assert!(!row(&owner).contains(dim), "{:?}", row(&owner));
    let other = format!("not-{owner}");
    assert!(row(&other).contains(dim), "{:?}", row(&other));
}

#[test]
fn colorful_flag_makes_gradient_bars() {
    let utl = |text: &str| line_with(text, "UTL:");
    // 90 % against the thresholds 10 75: one red bar ...
    let plain_bar = utl(&on_terminal(160, &[]));
    assert!(plain_bar.contains("\x1b[0;31m█"), "{plain_bar:?}");
    assert!(!plain_bar.contains("\x1b[0;32m"), "{plain_bar:?}");
    // ... or green, then yellow, then red cells.
    let gradient = utl(&on_terminal(160, &["--colorful"]));
    let green = gradient.find("\x1b[0;32m█").expect("green cells");
    let yellow = gradient.find("\x1b[0;33m█").expect("yellow cells");
    let red = gradient.find("\x1b[0;31m█").expect("red cells");
    assert!(green < yellow && yellow < red, "{gradient:?}");
    // The thresholds move the colors: with 50 60 the cells stay green up to
    // the 50 % mark instead of the 10 % one.
    let moved = utl(&on_terminal(160, &["--colorful", "--gpu-util-thresh", "50", "60"]));
    assert!(
        cells(&moved, "32") > 3 * cells(&gradient, "32"),
        "{moved:?}\n{gradient:?}"
    );
}

/// How many bar cells (`█`) of `line` are in the SGR foreground `color`.
fn cells(line: &str, color: &str) -> usize {
    let mut count = 0;
    for (i, piece) in line.split("\x1b[").enumerate() {
        let (sgr, text) = if i == 0 {
            ("", piece)
        } else {
            piece.split_once('m').unwrap()
        };
        if sgr == format!("0;{color}") {
            count += text.matches('█').count();
        }
    }
    count
}

/// GPU rows (their bus ids) of a plain-text output.
fn gpu_rows(text: &str) -> usize {
    plain(text).matches("00000000:").count()
}

#[test]
fn only_visible_warns_about_the_entry_cuda_ignores() {
    let with = |value: &str| Environment {
        cuda_visible_devices: Some(value.to_owned()),
        ..terminal(120)
    };
    // CUDA stops at `x`: GPU 1 only, and a warning that names the entry.
    let (out, warnings) = run_with_warnings(&with("1,x,0"), &["-ov"]);
    assert_eq!(gpu_rows(&out), 1, "{out}");
    assert_eq!(
        warnings,
        "nvitop-monitor: warning: CUDA_VISIBLE_DEVICES='1,x,0': entry 2 of 3, 'x', is neither a GPU index nor a \
         GPU-/MIG- UUID: CUDA ignores it and the 1 entry after it\n"
    );
    let (_, warnings) = run_with_warnings(&with("0,5"), &["-ov"]);
    assert!(warnings.contains("'5', is not the index of a GPU here"), "{warnings}");
    // Every entry names a GPU: nothing to say.
    assert_eq!(gpu_rows(&run_in(&with("1,0"), &["-ov"])), 2);
    // The variable does not matter without --only-visible, or with --only.
    assert_eq!(gpu_rows(&run_in(&with("1,x"), &[])), 2);
    assert_eq!(gpu_rows(&run_in(&with("1,x"), &["-ov", "-o", "0"])), 1);
}

//! The exposition as Prometheus's own tools read it: `promtool check
//! metrics` parses the output of every preset (only the camelCase lint of
//! nvitop-exporter's compatible names may remain), every family has HELP
//! and TYPE, and label values are escaped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use nvitop_exporter::collect::Source;
use nvitop_exporter::exposition::{Exposition, Format};
use nvitop_exporter::metrics::{OWN_FAMILIES, families};
use nvitop_exporter::readings::{ProcessHostReadings, ProcessReadings, Readings};

const PRESETS: &[&str] = &["default", "h100x8", "mig", "rtx4090", "a100x4", "faults"];

fn text_of(readings: &Readings) -> String {
    let exposition = Exposition::new(families(readings, "node-1"));
    String::from_utf8(exposition.encoded(Format::Text).to_vec()).unwrap()
}

/// `promtool check metrics` on `text`: the problems it reports, as (metric, message).
fn promtool_problems(promtool: &std::path::Path, text: &str) -> Vec<(String, String)> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let problems: Vec<(String, String)> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, message) = l.split_once(' ').unwrap_or((l, ""));
            (name.to_owned(), message.to_owned())
        })
        .collect();
    if !out.status.success() {
        assert!(!problems.is_empty(), "promtool failed without a word");
    }
    problems
}

/// The readings of a collector's second pass on `preset`: the families
/// that difference two passes (GPM activity, `NVLink` throughput) have
/// samples there.
fn second_pass(preset: &str) -> nvitop_exporter::readings::Readings {
    let mut source = Source::open(Some(preset), None).unwrap();
    source.read();
    // GPM samples are taken at least 100 ms apart.
    std::thread::sleep(std::time::Duration::from_millis(110));
    source.read()
}

#[test]
fn promtool_parses_every_preset_with_only_the_compatible_names_lint() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    for preset in PRESETS {
        let text = text_of(&second_pass(preset));
        for (name, message) in promtool_problems(&promtool, &text) {
            // A parse error names no metric ("error while linting: ...");
            // lints name one. Only nvitop-exporter's own CamelCase unit
            // suffixes may be reported, never one of our names.
            assert_eq!(
                message, "metric names should be written in 'snake_case' not 'camelCase'",
                "{preset}: promtool: {name} {message}"
            );
            assert!(
                !OWN_FAMILIES.contains(&name.as_str()),
                "{preset}: our own {name} is linted: {message}"
            );
            assert!(name.chars().any(char::is_uppercase), "{preset}: {name}: {message}");
        }
    }
}

/// Family name of each HELP / TYPE line, and the family each sample belongs to.
fn described(text: &str) -> (BTreeMap<String, usize>, BTreeMap<String, String>, BTreeSet<String>) {
    let mut help = BTreeMap::new();
    let mut types = BTreeMap::new();
    let mut samples = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            *help.entry(rest.split(' ').next().unwrap().to_owned()).or_insert(0) += 1;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "two TYPE lines for {name}"
            );
        } else if !line.starts_with('#') {
            samples.insert(line.split(['{', ' ']).next().unwrap().to_owned());
        }
    }
    (help, types, samples)
}

#[test]
fn every_family_has_help_and_type_and_every_sample_a_family() {
    for preset in PRESETS {
        let text = text_of(&second_pass(preset));
        let (help, types, samples) = described(&text);
        assert_eq!(
            help.keys().collect::<Vec<_>>(),
            types.keys().collect::<Vec<_>>(),
            "{preset}"
        );
        assert!(help.values().all(|n| *n == 1), "{preset}: a family described twice");
        for sample in &samples {
            assert!(types.contains_key(sample), "{preset}: {sample} has no TYPE line");
        }
        // The compatible families an nvitop-exporter dashboard queries.
        for name in [
            "nvitop_info",
            "gpu_utilization_Percentage",
            "process_info_info",
            "host_cpu_percent_Percentage",
        ] {
            assert!(types.contains_key(name), "{preset}: {name} missing");
        }
        assert_eq!(types["gpu_energy_consumption_joules_total"], "counter");
        assert_eq!(types["process_info_info"], "gauge");
    }
}

#[test]
fn label_values_are_escaped() {
    let command = "python -c \"print('a\\\\b')\"\nsecond line \\ end";
    let readings = Readings {
        processes: vec![ProcessReadings {
            device_index: "0".into(),
            device_name: "GPU \"quoted\"".into(),
            device_uuid: "GPU-1".into(),
            pid: 42,
            username: "al\\ice".into(),
            host: Some(ProcessHostReadings {
                command: command.into(),
                status: "running".into(),
                ..Default::default()
            }),
            gpu_memory: Some(1 << 20),
            ..ProcessReadings::default()
        }],
        ..Readings::default()
    };
    let text = text_of(&readings);
    let info = text.lines().find(|l| l.starts_with("process_info_info{")).unwrap();
    assert!(
        info.contains(r#"command="python -c \"print('a\\\\b')\"\nsecond line \\ end""#),
        "{info}"
    );
    assert!(info.contains(r#"devicename="GPU \"quoted\"""#), "{info}");
    assert!(info.contains(r#"username="al\\ice""#), "{info}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("process_info_info")).count(),
        1,
        "a newline split the line"
    );
    // And Prometheus's parser reads it back.
    if let Some(promtool) = common::tool("promtool") {
        for (name, message) in promtool_problems(&promtool, &text) {
            assert!(message.contains("camelCase"), "{name} {message}");
        }
    }
}

#[test]
fn openmetrics_has_types_units_of_our_own_and_ends_with_eof() {
    let readings = Source::open(Some("default"), None).unwrap().read();
    let exposition = Exposition::new(families(&readings, "node-1"));
    let text = String::from_utf8(exposition.encoded(Format::OpenMetrics).to_vec()).unwrap();
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE gpu_energy_consumption_joules counter\n"));
    assert!(text.contains("# TYPE process_info info\n"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("gpu_energy_consumption_joules_total{"))
    );
    assert!(text.lines().any(|l| l.starts_with("nvitop_info{")));
}

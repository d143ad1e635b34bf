//! `nvitop-monitor --json` gives each GPU process that publishes a training
//! status record a `training` object: this test publishes a record for
//! itself in a private `XDG_RUNTIME_DIR`, has the simulator bind its host
//! processes to this process, and reads the binary's output.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use nvitop::training::{Phase, Progress, StatusWriter, dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nvitop-monitor");

fn monitor_json(runtime_dir: &std::path::Path) -> Value {
    let output = Command::new(BIN)
        .args(["--simulate", "--json"])
        .env_remove("NVITOP_SIM_SCENARIO")
        .env_remove("CUDA_VISIBLE_DEVICES")
        .env_remove("NVITOP_NVML_LIBRARY")
        .env("NVITOP_SIM_HOST_PIDS", std::process::id().to_string())
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn our_rows(value: &Value) -> Vec<&Value> {
    value["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["pid"] == std::process::id())
        .collect()
}

#[test]
fn json_carries_the_training_object_while_the_record_exists() {
    let runtime = tempfile::tempdir().unwrap();
    let status_dir = dir::ensure_private_dir(&runtime.path().join("nvitop")).unwrap();
    let mut writer = StatusWriter::create_in(&status_dir).unwrap();
    let t0 = Instant::now();
    let mut progress = Progress::new(t0).with_run(Some("resnet-a".to_owned()), None);
    for step in 1..=8 {
        progress.step(step * 100, t0 + Duration::from_millis(500 * step));
    }
    progress.apply(nvitop::training::progress::ProgressEvent::Epoch {
        epoch: 2,
        at: t0 + Duration::from_secs(4),
    });
    writer
        .write_now(&progress.record(writer.identity(), t0 + Duration::from_secs(5)))
        .unwrap();

    let value = monitor_json(runtime.path());
    let rows = our_rows(&value);
    assert!(!rows.is_empty(), "the simulator shows this process");
    for row in &rows {
        let training = &row["training"];
        assert_eq!(training["step"], 800, "{row}");
        assert_eq!(training["epoch"], 2);
        assert_eq!(training["phase"], Phase::Train.as_str());
        assert_eq!(training["run_name"], "resnet-a");
        let rate = training["steps_per_second"].as_f64().unwrap();
        assert!((rate - 200.0).abs() < 1e-6, "{rate}");
        let stalled = training["seconds_since_last_step"].as_f64().unwrap();
        assert!(
            (1.0..60.0).contains(&stalled),
            "1 s at writing, plus the run: {stalled}"
        );
    }
    // Processes that are not this one carry no training object.
    let others = value["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pid"] != std::process::id());
    assert!(others.clone().all(|row| row.get("training").is_none()));

    // Once the logger closes, the object is gone.
    writer.close();
    let value = monitor_json(runtime.path());
    assert!(our_rows(&value).iter().all(|row| row.get("training").is_none()));
}

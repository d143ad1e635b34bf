//! End to end with a real Prometheus server (Debian's 2.42 in CI): the
//! exporter serves the `h100x8` preset at a pinned simulated time, Prometheus
//! (its own config and data directory in a temporary directory, on
//! loopback) scrapes it every second, and what Prometheus stores equals
//! what the simulator says at that time. Every expression of the Grafana
//! dashboard we ship returns data.
//!
//! This test process is bound as one of the scenario's GPU processes and
//! publishes a training status record (in a private `XDG_RUNTIME_DIR` the
//! exporter is given), so the training families and panels have data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use nvidia_ml::testing::PidPool;
use nvitop::Device;
use nvitop::backend::sim::SimBackend;
use nvitop::backend::{Backend, ClockEventReasons, ClockKind, DeviceRef, GpmMetric};
use nvitop::training::{Progress, StatusWriter, dir};

use common::{Exporter, Prometheus};

const SIM_TIME: f64 = 42.0;
const MIB: f64 = 1024.0 * 1024.0;

type Expected = fn(&Device) -> Option<f64>;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn prometheus_stores_what_the_simulator_says_and_the_dashboard_has_data() {
    let Some(binary) = common::tool("prometheus") else {
        return;
    };
    // Real processes for the scenario's 512 `host:N` pids, so every
    // process row has a host side (user, command) as on a real machine.
    // The first `host:N` pid is this test process, which publishes a
    // training record; the other 511 are sleeping processes.
    let pool = PidPool::spawn(511);
    pool.wait_until_asleep();
    let me = std::process::id();
    let host_pids = format!("{me},{}", pool.env_value());
    let runtime = tempfile::tempdir().unwrap();
    let status_dir = dir::ensure_private_dir(&runtime.path().join("nvitop")).unwrap();
    let mut writer = StatusWriter::create_in(&status_dir).unwrap();
    let t0 = Instant::now();
    let mut progress = Progress::new(t0).with_run(Some("e2e-run".to_owned()), None);
    for step in 1..=8 {
        progress.step(step * 100, t0 + Duration::from_millis(500 * step));
    }
    writer
        .write_now(&progress.record(writer.identity(), t0 + Duration::from_secs(5)))
        .unwrap();
    let exporter = Exporter::start(
        &["--simulate", "h100x8", "--hostname", "e2e-node", "--interval", "0.5"],
        &[
            ("NVITOP_SIM_TIME", "42"),
            ("NVITOP_SIM_HOST_PIDS", &host_pids),
            ("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap()),
        ],
    );
    let prometheus = Prometheus::start(&binary, &[exporter.addr], "1s");
    prometheus.wait(Duration::from_mins(1), "the exporter target to be up", |p| {
        p.targets_up(1)
    });
    // Three scrapes at least, so rate() and increase() have points.
    prometheus.wait(Duration::from_mins(1), "three scrapes", |p| {
        p.query("count_over_time(up[1m])")
            .first()
            .is_some_and(|(_, n)| *n >= 3.0)
    });

    // The simulator at the same time, in this process.
    let sim = SimBackend::from_preset("h100x8").unwrap();
    sim.set_time(SIM_TIME);
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let devices = Device::all_in(&backend).unwrap();

    let by_index = |expr: &str| -> Vec<(String, f64)> {
        let mut rows: Vec<(String, f64)> = prometheus
            .query(expr)
            .into_iter()
            .map(|(labels, value)| (labels["index"].as_str().unwrap().to_owned(), value))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let checks: [(&str, Expected); 9] = [
        ("gpu_utilization_Percentage", |d| d.gpu_utilization().map(f64::from)),
        ("gpu_memory_utilization_Percentage", |d| {
            d.memory_utilization().map(f64::from)
        }),
        ("gpu_memory_used_MiB", |d| d.memory_used().map(|b| b as f64 / MIB)),
        ("gpu_memory_total_MiB", |d| d.memory_total().map(|b| b as f64 / MIB)),
        ("gpu_power_usage_W", |d| {
            d.power_usage().map(|mw| f64::from(mw) / 1000.0)
        }),
        ("gpu_temperature_C", |d| d.temperature().map(f64::from)),
        ("gpu_clock_sm_MHz", |d| d.clock(ClockKind::Sm).map(f64::from)),
        ("gpu_pcie_rx_throughput_MiBps", |d| {
            d.pcie_rx_throughput().map(|k| f64::from(k) / 1024.0)
        }),
        ("gpu_energy_consumption_joules_total", |d| {
            d.total_energy_consumption().map(|mj| mj as f64 / 1000.0)
        }),
    ];
    for (name, expected) in checks {
        let rows = by_index(&format!("{name}{{hostname=\"e2e-node\"}}"));
        assert_eq!(rows.len(), 8, "{name}: {rows:?}");
        for (device, (index, value)) in devices.iter().zip(&rows) {
            assert_eq!(index, &device.index().to_string());
            let want = expected(device).unwrap();
            assert!(
                close(*value, want),
                "{name} GPU {index}: Prometheus {value}, simulator {want}"
            );
        }
    }
    // Clock event reasons: one 0/1 series per GPU and reason, as the simulator says.
    for (reason, name) in ClockEventReasons::ALL {
        let rows = by_index(&format!("gpu_clocks_event_reasons{{reason=\"{name}\"}}"));
        assert_eq!(rows.len(), 8, "{name}: {rows:?}");
        for (device, (index, value)) in devices.iter().zip(&rows) {
            let holds = device.clock_event_reasons().unwrap().contains(reason);
            assert_eq!(*value, if holds { 1.0 } else { 0.0 }, "{name} GPU {index}");
        }
    }
    // NVLink: 18 links per H100 SXM; at a pinned time the counters stand
    // still, so the throughput the exporter differences is 0.
    assert_eq!(prometheus.query("count(gpu_nvlink_tx_throughput_MiBps)")[0].1, 144.0);
    for (_, value) in prometheus.query("gpu_nvlink_total_rx_throughput_MiBps") {
        assert_eq!(value, 0.0);
    }
    assert_eq!(by_index("gpu_nvlink_mean_tx_throughput_MiBps").len(), 8);
    // The fan of an SXM board is N/A: no series, not NaN.
    assert!(prometheus.query("gpu_fan_speed_Percentage").is_empty());
    assert_eq!(prometheus.query("sum(gpu_up)")[0].1, 8.0);
    let info = prometheus.query("nvitop_info");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].0["device_count"], "8");
    assert_eq!(info[0].0["driver_version"], backend.driver_version().unwrap());
    // Every process, with its owner and command.
    assert_eq!(prometheus.query("count(process_gpu_memory_MiB)")[0].1, 512.0);
    assert_eq!(prometheus.query("count(process_info_info)")[0].1, 512.0);
    let sleeping = prometheus.query(r#"count(process_info_info{command="sleep 600"})"#);
    assert_eq!(sleeping[0].1, 511.0, "{sleeping:?}");

    // GPM: at a pinned time the simulator answers the activity rate at
    // that instant, so what Prometheus stores is the simulator's figure
    // between two samples at 42 s, over 100.
    for (name, metric) in [
        ("gpu_sm_active_ratio", GpmMetric::SmActive),
        ("gpu_sm_occupancy_ratio", GpmMetric::SmOccupancy),
        ("gpu_tensor_active_ratio", GpmMetric::TensorActive),
        ("gpu_dram_active_ratio", GpmMetric::DramActive),
        ("gpu_fp16_active_ratio", GpmMetric::Fp16Active),
        ("gpu_fp32_active_ratio", GpmMetric::Fp32Active),
        ("gpu_fp64_active_ratio", GpmMetric::Fp64Active),
    ] {
        let rows = by_index(name);
        assert_eq!(rows.len(), 8, "{name}: {rows:?}");
        for (index, value) in rows {
            let device = DeviceRef::Physical(index.parse().unwrap());
            let (a, b) = (backend.gpm_sample(device).unwrap(), backend.gpm_sample(device).unwrap());
            let want = backend.gpm_metrics(a, b, &[metric]).unwrap()[0].clone().unwrap() / 100.0;
            backend.gpm_sample_free(a).unwrap();
            backend.gpm_sample_free(b).unwrap();
            assert!(
                close(value, want),
                "{name} GPU {index}: Prometheus {value}, simulator {want}"
            );
        }
    }
    assert!(
        !prometheus.query("gpu_sm_active_ratio > 0").is_empty(),
        "some GPU of the scenario is busy"
    );

    // Training status: only this process has a record, on each device it is bound to.
    let pid = me.to_string();
    let steps = prometheus.query("process_training_step");
    assert!(!steps.is_empty());
    for (labels, value) in &steps {
        assert_eq!(labels["pid"], pid.as_str(), "{labels:?}");
        assert_eq!(*value, 800.0);
    }
    for (labels, rate) in prometheus.query("process_training_steps_per_second") {
        assert_eq!(labels["pid"], pid.as_str());
        assert!((rate - 200.0).abs() < 1e-6, "{rate}");
    }
    let stalled = prometheus.query("process_training_seconds_since_last_step");
    assert_eq!(stalled.len(), steps.len());
    for (_, seconds) in stalled {
        assert!(
            (1.0..300.0).contains(&seconds),
            "1 s at writing, plus the test's run: {seconds}"
        );
    }

    // The dashboard: the host variable, then every panel expression.
    let hosts = prometheus
        .api("/api/v1/label/hostname/values?match[]=nvitop_info")
        .unwrap();
    assert_eq!(hosts, serde_json::json!(["e2e-node"]));
    let dashboard: serde_json::Value = serde_json::from_str(include_str!("../grafana/dashboard.json")).unwrap();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let query = expr.replace("$hostname", ".*").replace("$__rate_interval", "30s");
            let result = prometheus.query(&query);
            assert!(
                !result.is_empty(),
                "panel {:?}: {expr} returned no data",
                panel["title"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} expressions in the dashboard");
    writer.close();
    drop(pool);
}

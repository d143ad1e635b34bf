//! The binary over HTTP: routes and content types, bad requests, a client
//! that sends nothing, SIGTERM, a missing driver, a lost GPU, GPM on and
//! off, training status series that follow a process's record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp, missing_docs)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, Exporter, get, raw};

fn simulated(preset: &str) -> Exporter {
    Exporter::start(
        &["--simulate", preset, "--hostname", "node-1"],
        &[("NVITOP_SIM_TIME", "42")],
    )
}

#[test]
fn metrics_root_and_unknown_paths() {
    let exporter = simulated("default");
    let metrics = get(exporter.addr, "/metrics", &[]).unwrap();
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(metrics.body.contains("# TYPE gpu_utilization_Percentage gauge"));
    assert!(
        metrics.body.contains(r#"index="1:0""#),
        "MIG devices are labelled parent:index"
    );
    assert!(metrics.body.contains(r#"hostname="node-1""#));

    // What Prometheus 2.42 sends.
    let accept = "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = get(exporter.addr, "/metrics", &[accept]).unwrap();
    assert_eq!(
        open.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(open.body.ends_with("# EOF\n"));

    let root = get(exporter.addr, "/", &[]).unwrap();
    assert_eq!(root.status, 200);
    assert!(root.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(root.body.contains(r#"<a href="/metrics">"#));

    assert_eq!(get(exporter.addr, "/metrics/x", &[]).unwrap().status, 404);
    assert_eq!(get(exporter.addr, "/favicon.ico", &[]).unwrap().status, 404);
    let post = raw(exporter.addr, b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    // Query strings are ignored.
    assert_eq!(get(exporter.addr, "/metrics?x=1", &[]).unwrap().status, 200);
}

#[test]
fn garbage_and_oversized_requests_get_4xx_and_the_exporter_lives_on() {
    let mut exporter = simulated("rtx4090");
    let garbage = raw(
        exporter.addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    )
    .unwrap();
    assert!((400..500).contains(&garbage.status), "{garbage:?}");
    let nonsense = raw(exporter.addr, b"HELLO\r\n\r\n").unwrap();
    assert!((400..500).contains(&nonsense.status), "{nonsense:?}");
    let big_header = format!("X-Padding: {}", "a".repeat(64 * 1024));
    let oversized = get(exporter.addr, "/metrics", &[&big_header]).unwrap();
    assert_eq!(oversized.status, 431);
    let long_path = format!("/{}", "m".repeat(32 * 1024));
    assert_eq!(get(exporter.addr, &long_path, &[]).unwrap().status, 431);
    assert!(exporter.child.try_wait().unwrap().is_none(), "the exporter died");
    assert_eq!(get(exporter.addr, "/metrics", &[]).unwrap().status, 200);
}

#[test]
fn a_client_that_sends_nothing_does_not_block_others() {
    let exporter = simulated("rtx4090");
    let idle: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(exporter.addr).unwrap()).collect();
    let mut half = TcpStream::connect(exporter.addr).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap(); // never finished
    for _ in 0..10 {
        let start = Instant::now();
        let response = get(exporter.addr, "/metrics", &[]).unwrap();
        assert_eq!(response.status, 200);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "a scrape waited {:?}",
            start.elapsed()
        );
    }
    drop(idle);
}

#[test]
fn sigterm_stops_it_cleanly() {
    let mut exporter = simulated("rtx4090");
    assert_eq!(get(exporter.addr, "/metrics", &[]).unwrap().status, 200);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(exporter.pid() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(exporter.log.lock().unwrap().contains("SIGTERM received, stopping"));
    assert!(TcpStream::connect(exporter.addr).is_err(), "still listening");
}

#[test]
fn a_missing_driver_exits_1_with_the_sdk_message() {
    let out = Command::new(BIN)
        .args(["--port", "0"])
        .env_remove("NVITOP_SIMULATE")
        .env("NVITOP_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NVIDIA driver library not found"), "{stderr}");
    assert!(stderr.contains("--simulate"), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_the_value_named() {
    for (args, needle) in [
        (&["--simulate", "nosuchpreset"][..], "nosuchpreset"),
        (&["--simulate", "rtx4090", "--only", "5"][..], "--only 5"),
        (&["--interval", "0.1"][..], "0.1"),
        (&["--bind-address", "not-an-ip"][..], "not-an-ip"),
    ] {
        let out = Command::new(BIN).args(args).args(["--port", "0"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn a_lost_gpu_turns_gpu_up_to_0_and_its_series_stop() {
    // The faults preset's GPU 3 falls off the bus at t = 30 s.
    let exporter = simulated("faults");
    let body = get(exporter.addr, "/metrics", &[]).unwrap().body;
    let up: Vec<&str> = body.lines().filter(|l| l.starts_with("gpu_up{")).collect();
    assert_eq!(up.len(), 4, "{up:?}");
    let value = |l: &str| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    assert!(
        up.iter().any(|l| l.contains(r#"index="3""#) && value(l) == 0.0),
        "{up:?}"
    );
    assert_eq!(up.iter().filter(|l| value(l) == 1.0).count(), 3, "{up:?}");
    assert!(
        !body
            .lines()
            .any(|l| l.starts_with("gpu_utilization_Percentage{") && l.contains(r#"index="3""#))
    );
    assert!(!body.contains("NaN"));
}

#[test]
fn only_limits_the_devices() {
    let exporter = Exporter::start(&["--simulate", "h100x8", "-o", "1", "6"], &[("NVITOP_SIM_TIME", "42")]);
    let body = get(exporter.addr, "/metrics", &[]).unwrap().body;
    let indices: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("gpu_utilization_Percentage{"))
        .filter_map(|l| l.split("index=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(indices, ["1", "6"]);
    assert!(body.contains(r#"device_count="2""#));
}

#[test]
fn with_no_gpu_the_host_metrics_are_still_served() {
    // A machine with a loaded driver and no GPU: the scenario says so outright.
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("no-gpu.toml");
    std::fs::write(&scenario, "gpus = []\n").unwrap();
    let exporter = Exporter::start(
        &["--simulate", scenario.to_str().unwrap(), "--hostname", "cpu-node"],
        &[("NVITOP_SIM_TIME", "42")],
    );
    assert!(exporter.log.lock().unwrap().contains("found 0 device(s)"));
    let response = get(exporter.addr, "/metrics", &[]).unwrap();
    assert_eq!(response.status, 200);
    let body = response.body;
    let has_sample = |name: &str| {
        body.lines()
            .any(|l| l.starts_with(&format!("{name}{{")) && l.contains(r#"hostname="cpu-node""#))
    };
    for name in [
        "host_uptime_Second",
        "host_cpu_percent_Percentage",
        "host_virtual_memory_total_MiB",
        "host_virtual_memory_percent_Percentage",
        "host_swap_memory_total_MiB",
        "host_load_average_1m_Percentage",
        "nvitop_info",
    ] {
        assert!(has_sample(name), "{name} missing:\n{body}");
    }
    assert!(body.contains(r#"device_count="0""#), "{body}");
    // No GPU, so no GPU or process series (their HELP and TYPE may stay).
    for prefix in ["gpu_", "process_"] {
        let samples: Vec<&str> = body
            .lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
            .collect();
        assert!(samples.is_empty(), "{samples:?}");
    }
}

#[test]
fn an_exited_process_disappears_at_the_next_pass() {
    // Two real processes bound as GPU processes; one of them is killed.
    let mut doomed = Command::new("sleep").arg("600").spawn().unwrap();
    let mut survivor = Command::new("sleep").arg("600").spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("two.toml");
    std::fs::write(
        &scenario,
        "[[gpus]]\nmodel = \"RTX-4090\"\nprocesses = [\n  { pid = \"host:0\", memory_mib = 1000 },\n  { pid = \"host:1\", memory_mib = 2000 },\n]\n",
    )
    .unwrap();
    let pool = format!("{},{}", doomed.id(), survivor.id());
    let exporter = Exporter::start(
        &["--simulate", scenario.to_str().unwrap(), "--interval", "0.25"],
        &[("NVITOP_SIM_TIME", "42"), ("NVITOP_SIM_HOST_PIDS", &pool)],
    );
    let series = |pid: u32| -> Vec<String> {
        let body = get(exporter.addr, "/metrics", &[]).unwrap().body;
        let label = format!("pid=\"{pid}\"");
        body.lines()
            .filter(|l| l.starts_with("process_") && l.contains(&label))
            .map(str::to_owned)
            .collect()
    };
    let before = series(doomed.id());
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("process_gpu_memory_MiB{") && l.ends_with(" 1000.0")),
        "{before:?}"
    );
    assert!(before.iter().any(|l| l.starts_with("process_info_info{")), "{before:?}");
    assert!(!series(survivor.id()).is_empty());

    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let start = Instant::now();
    // The collector passes every 0.25 s: gone at the next pass or two.
    while !series(doomed.id()).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still exported after exit: {:?}",
            series(doomed.id())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The other process keeps its series, and the GPU's memory lost the exited one's.
    let kept = series(survivor.id());
    assert!(
        kept.iter()
            .any(|l| l.starts_with("process_gpu_memory_MiB{") && l.ends_with(" 2000.0")),
        "{kept:?}"
    );
    survivor.kill().unwrap();
    survivor.wait().unwrap();
}

/// Lines of `body` whose sample name is `name`.
fn sample_lines<'a>(body: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}{{");
    body.lines().filter(|l| l.starts_with(&prefix)).collect()
}

#[test]
fn gpm_series_appear_from_the_second_pass_and_no_gpm_turns_them_off() {
    let on = Exporter::start(&["--simulate", "h100x8", "--interval", "0.25"], &[]);
    let off = Exporter::start(&["--simulate", "h100x8", "--interval", "0.25", "--no-gpm"], &[]);
    let start = Instant::now();
    loop {
        let body = get(on.addr, "/metrics", &[]).unwrap().body;
        if sample_lines(&body, "gpu_tensor_active_ratio").len() == 8 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no GPM series: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Several passes later, --no-gpm still describes the families but has no sample.
    std::thread::sleep(Duration::from_millis(800));
    let body = get(off.addr, "/metrics", &[]).unwrap().body;
    assert!(body.contains("# TYPE gpu_tensor_active_ratio gauge"));
    assert!(sample_lines(&body, "gpu_tensor_active_ratio").is_empty(), "{body}");
    assert_eq!(sample_lines(&body, "gpu_utilization_Percentage").len(), 8);
}

#[test]
fn training_series_follow_the_status_record_and_end_with_it() {
    use nvitop::training::{Progress, StatusWriter, dir};
    // This test process is the scenario's only GPU process and publishes
    // a record in a private runtime directory the exporter is given.
    let runtime = tempfile::tempdir().unwrap();
    let status_dir = dir::ensure_private_dir(&runtime.path().join("nvitop")).unwrap();
    let mut writer = StatusWriter::create_in(&status_dir).unwrap();
    let t0 = Instant::now();
    let mut progress = Progress::new(t0);
    for step in 1..=4 {
        progress.step(step * 10, t0 + Duration::from_millis(250 * step));
    }
    writer
        .write_now(&progress.record(writer.identity(), t0 + Duration::from_secs(1)))
        .unwrap();
    let scenario = runtime.path().join("one.toml");
    std::fs::write(
        &scenario,
        "[[gpus]]\nmodel = \"H100-SXM5-80GB\"\nprocesses = [\n  { pid = \"host:0\", memory_mib = 1000 },\n]\n",
    )
    .unwrap();
    let me = std::process::id().to_string();
    let exporter = Exporter::start(
        &["--simulate", scenario.to_str().unwrap(), "--interval", "0.25"],
        &[
            ("NVITOP_SIM_HOST_PIDS", &me),
            ("XDG_RUNTIME_DIR", runtime.path().to_str().unwrap()),
        ],
    );
    let body = get(exporter.addr, "/metrics", &[]).unwrap().body;
    let step = sample_lines(&body, "process_training_step");
    assert_eq!(step.len(), 1, "{body}");
    assert!(
        step[0].contains(&format!("pid=\"{me}\"")) && step[0].ends_with(" 40.0"),
        "{step:?}"
    );
    let rate = sample_lines(&body, "process_training_steps_per_second");
    assert!(rate.len() == 1 && rate[0].ends_with(" 40.0"), "{rate:?}");
    let since = |body: &str| -> f64 {
        let lines = sample_lines(body, "process_training_seconds_since_last_step");
        lines[0].rsplit(' ').next().unwrap().parse().unwrap()
    };
    // No hook since: the figure grows with the record's age, pass by pass.
    let first = since(&body);
    std::thread::sleep(Duration::from_millis(600));
    let later = since(&get(exporter.addr, "/metrics", &[]).unwrap().body);
    assert!(later >= first + 0.3, "{first} then {later}");

    // The logger closes: the series end at the next pass, the process's others stay.
    writer.close();
    let start = Instant::now();
    loop {
        let body = get(exporter.addr, "/metrics", &[]).unwrap().body;
        if sample_lines(&body, "process_training_step").is_empty() {
            assert_eq!(sample_lines(&body, "process_gpu_memory_MiB").len(), 1);
            assert!(sample_lines(&body, "process_training_seconds_since_last_step").is_empty());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "still exported: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn gpm_through_the_real_nvml_code_path_on_the_fake_library() {
    // nvml-wrapper's GPM calls against the fake libnvidia-ml.so.1: H100s
    // have the seven families, A100s none.
    let lib = nvidia_ml::testing::FakeLib::new();
    let path = lib.path();
    for (preset, per_family) in [("h100x8", 8), ("a100x4", 0)] {
        let scenario = format!("preset:{preset}");
        let exporter = Exporter::start(
            &["--interval", "0.25"],
            &[
                ("NVITOP_SIM_SCENARIO", scenario.as_str()),
                ("NVITOP_NVML_LIBRARY", path.to_str().unwrap()),
            ],
        );
        // Enough passes for two GPM samples per GPU.
        std::thread::sleep(Duration::from_millis(900));
        let body = get(exporter.addr, "/metrics", &[]).unwrap().body;
        let gpus = sample_lines(&body, "gpu_utilization_Percentage").len();
        assert_eq!(gpus, if preset == "h100x8" { 8 } else { 4 }, "{preset}");
        for name in [
            "gpu_sm_active_ratio",
            "gpu_sm_occupancy_ratio",
            "gpu_tensor_active_ratio",
            "gpu_dram_active_ratio",
            "gpu_fp16_active_ratio",
            "gpu_fp32_active_ratio",
            "gpu_fp64_active_ratio",
        ] {
            let lines = sample_lines(&body, name);
            assert_eq!(lines.len(), per_family, "{preset} {name}: {lines:?}");
            for line in lines {
                let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                assert!((0.0..=1.0).contains(&value), "{line}");
            }
        }
    }
}

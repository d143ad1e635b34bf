//! The simulator's driver latency (`NVITOP_SIM_LATENCY`, a scenario's
//! `latency`): a delayed call takes at least its delay, the environment
//! wins over the scenario, and a bad value is an error naming it.
//!
//! One test, in its own binary, because it sets the environment. Timings
//! are lower bounds only: a loaded machine is slower, never faster than a sleep.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use nvitop::backend::sim::scenario::{Format, Scenario};
use nvitop::backend::sim::{SIM_LATENCY_ENV, SimBackend};
use nvitop::backend::{Backend, DeviceRef, PcieDirection};

fn took(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

#[test]
fn delayed_calls_take_their_delay_from_the_environment_or_the_scenario() {
    let gpu = DeviceRef::Physical(0);
    // SAFETY: the only test of this binary; no other thread reads the environment.
    unsafe { std::env::remove_var(SIM_LATENCY_ENV) };

    // A scenario's own latency.
    let text = "latency = \"60ms\"\n[[gpus]]\nmodel = \"L4\"\n";
    let scenario = Scenario::parse(text, Format::Toml, Path::new("slow.toml")).unwrap();
    let sim = SimBackend::new(scenario);
    let t = took(|| {
        sim.temperature(gpu).unwrap();
    });
    assert!(
        t >= Duration::from_millis(60),
        "scenario latency 60ms, temperature took {t:?}"
    );
    let bad = Scenario::parse(
        "latency = \"soon\"\n[[gpus]]\nmodel = \"L4\"\n",
        Format::Toml,
        Path::new("bad.toml"),
    );
    assert!(bad.unwrap_err().to_string().contains("'soon'"));

    // The environment, through --simulate's path (`from_spec`): the load
    // costs nvmlInit, each call its own delay.
    // SAFETY: as above.
    unsafe { std::env::set_var(SIM_LATENCY_ENV, "realistic") };
    let mut sim = None;
    let t = took(|| sim = Some(SimBackend::from_spec("h100x8").unwrap()));
    assert!(
        t >= Duration::from_millis(50),
        "realistic nvmlInit is 50 ms, loading took {t:?}"
    );
    let sim = sim.unwrap();
    let t = took(|| {
        sim.pcie_throughput(gpu, PcieDirection::Tx).unwrap();
    });
    assert!(
        t >= Duration::from_millis(20),
        "realistic PCIe throughput is 20 ms, took {t:?}"
    );
    let t = took(|| {
        sim.processes(gpu).unwrap();
    });
    assert!(t >= Duration::from_millis(3), "three 1 ms process lists took {t:?}");

    // The environment wins over the scenario.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("instant-scenario.toml");
    std::fs::write(&path, "latency = \"none\"\n[[gpus]]\nmodel = \"L4\"\n").unwrap();
    // SAFETY: as above.
    unsafe { std::env::set_var(SIM_LATENCY_ENV, "0.1s") };
    let sim = SimBackend::from_spec(path.to_str().unwrap()).unwrap();
    let t = took(|| {
        sim.name(gpu).unwrap();
    });
    assert!(
        t >= Duration::from_millis(100),
        "NVITOP_SIM_LATENCY=0.1s, name took {t:?}"
    );

    // A bad value is an error that names it, not an instant simulator.
    for bad in ["fast", "500", "-2ms", "/no/such/latency.toml"] {
        // SAFETY: as above.
        unsafe { std::env::set_var(SIM_LATENCY_ENV, bad) };
        let err = SimBackend::from_spec("default").unwrap_err().to_string();
        assert!(err.contains(bad), "{bad}: {err}");
        let err = SimBackend::from_env().unwrap_err().to_string();
        assert!(err.contains(bad), "{bad}: {err}");
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var(SIM_LATENCY_ENV) };
}

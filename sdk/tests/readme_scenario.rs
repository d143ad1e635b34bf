//! The scenario shown in the README is a valid scenario and means what it says.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use nvitop::backend::sim::SimBackend;
use nvitop::backend::sim::scenario::{Format, Scenario};
use nvitop::backend::{Backend, BackendError, DeviceRef};

fn readme_scenario() -> String {
    let readme = include_str!("../../README.md");
    let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

#[test]
fn the_readme_scenario_parses_and_runs() {
    let scenario = Scenario::parse(&readme_scenario(), Format::Toml, Path::new("README.md")).unwrap();
    let sim = SimBackend::new(scenario);
    sim.set_time(10.0);
    assert_eq!(sim.device_count().unwrap(), 2);
    let own = sim.processes(DeviceRef::Physical(0)).unwrap();
    assert!(own.iter().any(|p| p.pid == std::process::id()));
    assert_eq!(sim.mig_devices(DeviceRef::Physical(1)).unwrap().len(), 2);
    assert_eq!(sim.temperature(DeviceRef::Physical(1)), Err(BackendError::NotSupported));
    sim.set_time(120.0);
    assert!(matches!(
        sim.name(DeviceRef::Physical(1)),
        Err(BackendError::GpuLost { .. })
    ));
}

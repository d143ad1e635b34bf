//! Prints one `nvitop::Snapshot` as JSON, through the NVML backend (`nvml`,
//! the default) or the in-process simulator (`sim`), as
//! `{"pid": .., "ppid": .., "snapshot": {..}, "backend": {..}}`: the pids
//! let a comparison recognise the simulator's `self` and `parent`
//! processes; `backend` is every answer of the backend, errors included
//! (`nvidia_ml::testing::backend_answers`).
//!
//! The differential tests run it with `NVITOP_NVML_LIBRARY` pointing at the
//! fake library, so the NVML backend reads the simulator through the C API.

use std::process::ExitCode;
use std::sync::Arc;

use nvitop::Snapshot;
use nvitop::backend::Backend;
use nvitop::backend::nvml::NvmlBackend;
use nvitop::backend::sim::SimBackend;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "nvml".to_owned());
    let backend: Arc<dyn Backend> = match mode.as_str() {
        "nvml" => match NvmlBackend::new() {
            Ok(backend) => Arc::new(backend),
            Err(err) => {
                eprintln!("fake-nvml-probe: cannot open NVML: {err}");
                return ExitCode::from(2);
            }
        },
        "sim" => match SimBackend::from_env() {
            Ok(backend) => Arc::new(backend),
            Err(err) => {
                eprintln!("fake-nvml-probe: cannot load the scenario: {err}");
                return ExitCode::from(2);
            }
        },
        other => {
            eprintln!("usage: fake-nvml-probe [nvml|sim]   (got {other:?})");
            return ExitCode::from(64);
        }
    };
    let snapshot = match Snapshot::take_all(&backend) {
        Ok(snapshot) => snapshot,
        Err(err) => {
            eprintln!("fake-nvml-probe: cannot take a snapshot: {err}");
            return ExitCode::from(1);
        }
    };
    let (pid, ppid) = (std::process::id(), std::os::unix::process::parent_id());
    let output = serde_json::json!({
        "pid": pid,
        "ppid": ppid,
        "snapshot": snapshot,
        "backend": nvidia_ml::testing::backend_answers(&*backend, pid, ppid),
    });
    match serde_json::to_string_pretty(&output) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("fake-nvml-probe: cannot serialize the snapshot: {err}");
            ExitCode::from(1)
        }
    }
}

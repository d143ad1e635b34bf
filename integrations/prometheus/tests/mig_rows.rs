//! A MIG device's process is served twice, labelled with the MIG device's
//! index and with its parent GPU's (as nvitop-exporter does); the parent's
//! label comes from the snapshot's typed `DeviceIndex`, never from text.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::backend::sim::scenario::{Format, Scenario};
use nvitop_exporter::collect::Source;

#[test]
fn a_mig_process_is_labelled_with_its_mig_device_and_its_parent() {
    let scenario = Scenario::parse(
        "[[gpus]]\nmodel = \"RTX-4090\"\n\n[[gpus]]\nmodel = \"A100-SXM4-80GB\"\n\
         mig = [{ profile = \"3g.40gb\" }, { profile = \"2g.20gb\" }]\n\
         processes = [{ pid = 90000001, memory_mib = 1000, mig = 1 }]\n",
        Format::Toml,
        Path::new("mig.toml"),
    )
    .unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::new(scenario));
    let readings = Source::with_backend(backend, None).unwrap().read();
    let mut rows: Vec<(&str, u32)> = readings
        .processes
        .iter()
        .map(|p| (p.device_index.as_str(), p.pid))
        .collect();
    rows.sort_unstable();
    assert_eq!(rows, [("1", 90_000_001), ("1:1", 90_000_001)]);
}

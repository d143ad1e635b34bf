//! A backend that answers only the `Backend` trait's required questions:
//! every optional capability reads as N/A (or no MIG devices), and the
//! device, process and snapshot layers work on it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use nvitop::Device;
use nvitop::backend::{
    Backend, BackendError, BackendResult, ClockKind, DeviceRef, MemoryInfo, PcieDirection, ProcessKind, RawProcess,
    UtilizationRates,
};

/// One GPU that knows its name, memory, load and one process: this process.
#[derive(Debug)]
struct Minimal;

impl Backend for Minimal {
    fn kind(&self) -> &'static str {
        "minimal"
    }
    fn is_simulated(&self) -> bool {
        true
    }
    fn driver_version(&self) -> BackendResult<String> {
        Ok("1.0".to_owned())
    }
    fn device_count(&self) -> BackendResult<u32> {
        Ok(1)
    }
    fn device_by_uuid(&self, uuid: &str) -> BackendResult<DeviceRef> {
        if uuid == "GPU-00000000-0000-0000-0000-000000000000" {
            Ok(DeviceRef::Physical(0))
        } else {
            Err(BackendError::NotFound { what: uuid.to_owned() })
        }
    }
    fn name(&self, _: DeviceRef) -> BackendResult<String> {
        Ok("Minimal GPU".to_owned())
    }
    fn uuid(&self, _: DeviceRef) -> BackendResult<String> {
        Ok("GPU-00000000-0000-0000-0000-000000000000".to_owned())
    }
    fn bus_id(&self, _: DeviceRef) -> BackendResult<String> {
        Ok("00000000:01:00.0".to_owned())
    }
    fn memory_info(&self, _: DeviceRef) -> BackendResult<MemoryInfo> {
        Ok(MemoryInfo {
            total: 16 << 30,
            used: 4 << 30,
            free: 12 << 30,
        })
    }
    fn utilization_rates(&self, _: DeviceRef) -> BackendResult<UtilizationRates> {
        Ok(UtilizationRates { gpu: 70, memory: 30 })
    }
    fn processes(&self, _: DeviceRef) -> BackendResult<Vec<RawProcess>> {
        Ok(vec![RawProcess {
            pid: std::process::id(),
            used_gpu_memory: Some(1 << 30),
            kind: ProcessKind::Compute,
            gpu_instance_id: None,
            compute_instance_id: None,
        }])
    }
}

#[test]
fn optional_questions_read_as_not_available() {
    let raw = Minimal;
    let gpu = DeviceRef::Physical(0);
    assert_eq!(raw.temperature(gpu), Err(BackendError::NotSupported));
    assert_eq!(raw.clock(gpu, ClockKind::Sm), Err(BackendError::NotSupported));
    assert_eq!(
        raw.pcie_throughput(gpu, PcieDirection::Rx),
        Err(BackendError::NotSupported)
    );
    assert_eq!(raw.process_utilization(gpu, 0), Err(BackendError::NotSupported));
    assert_eq!(raw.mig_devices(gpu), Ok(Vec::new()));

    let backend: Arc<dyn Backend> = Arc::new(Minimal);
    let devices = Device::all_in(&backend).unwrap();
    assert_eq!(devices.len(), 1);
    let device = &devices[0];
    assert_eq!(device.name().as_deref(), Some("Minimal GPU"));
    assert_eq!(device.gpu_utilization(), Some(70));
    assert_eq!(device.temperature(), None);
    assert_eq!(device.fan_speed(), None);
    assert_eq!(device.pcie_tx_throughput(), None);
    assert!(device.mig_devices().is_empty());
    let snapshot = device.as_snapshot();
    assert_eq!(snapshot.gpu_utilization, Some(70));
    let processes = device.processes().unwrap();
    assert_eq!(processes.len(), 1);
    // No per-process samples from this driver: N/A, not an idle 0 %.
    assert_eq!(processes[0].gpu_sm_utilization(), None);
}

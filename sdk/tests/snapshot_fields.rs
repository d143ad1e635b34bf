//! A snapshot reads the slow fields only when asked: PCIe throughput costs
//! 20 ms per call on a real driver (NVML measures over that window), so a
//! display that does not show it must not ask. Checked by counting the
//! backend calls a snapshot makes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nvitop::backend::sim::SimBackend;
use nvitop::backend::{
    Backend, BackendResult, ClockKind, ComputeMode, DeviceRef, MemoryInfo, PcieDirection, ProcessUtilization,
    RawProcess, UtilizationRates,
};
use nvitop::process::HostProcessReader;
use nvitop::snapshot::SnapshotFields;
use nvitop::{Device, Snapshot};

/// The simulator, counting the PCIe calls made through it.
#[derive(Debug)]
struct CountingPcie {
    inner: SimBackend,
    pcie_calls: AtomicUsize,
}

impl CountingPcie {
    fn calls(&self) -> usize {
        self.pcie_calls.load(Ordering::SeqCst)
    }
}

impl Backend for CountingPcie {
    fn pcie_throughput(&self, device: DeviceRef, direction: PcieDirection) -> BackendResult<u32> {
        self.pcie_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.pcie_throughput(device, direction)
    }

    // The rest: straight through.
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn is_simulated(&self) -> bool {
        self.inner.is_simulated()
    }
    fn driver_version(&self) -> BackendResult<String> {
        self.inner.driver_version()
    }
    fn nvml_version(&self) -> BackendResult<String> {
        self.inner.nvml_version()
    }
    fn cuda_driver_version(&self) -> BackendResult<i32> {
        self.inner.cuda_driver_version()
    }
    fn device_count(&self) -> BackendResult<u32> {
        self.inner.device_count()
    }
    fn device_by_uuid(&self, uuid: &str) -> BackendResult<DeviceRef> {
        self.inner.device_by_uuid(uuid)
    }
    fn device_by_bus_id(&self, bus_id: &str) -> BackendResult<DeviceRef> {
        self.inner.device_by_bus_id(bus_id)
    }
    fn mig_devices(&self, device: DeviceRef) -> BackendResult<Vec<DeviceRef>> {
        self.inner.mig_devices(device)
    }
    fn name(&self, device: DeviceRef) -> BackendResult<String> {
        self.inner.name(device)
    }
    fn uuid(&self, device: DeviceRef) -> BackendResult<String> {
        self.inner.uuid(device)
    }
    fn bus_id(&self, device: DeviceRef) -> BackendResult<String> {
        self.inner.bus_id(device)
    }
    fn memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        self.inner.memory_info(device)
    }
    fn bar1_memory_info(&self, device: DeviceRef) -> BackendResult<MemoryInfo> {
        self.inner.bar1_memory_info(device)
    }
    fn utilization_rates(&self, device: DeviceRef) -> BackendResult<UtilizationRates> {
        self.inner.utilization_rates(device)
    }
    fn encoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.encoder_utilization(device)
    }
    fn decoder_utilization(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.decoder_utilization(device)
    }
    fn fan_speed(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.fan_speed(device)
    }
    fn temperature(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.temperature(device)
    }
    fn power_usage(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.power_usage(device)
    }
    fn power_limit(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.power_limit(device)
    }
    fn total_energy_consumption(&self, device: DeviceRef) -> BackendResult<u64> {
        self.inner.total_energy_consumption(device)
    }
    fn performance_state(&self, device: DeviceRef) -> BackendResult<u32> {
        self.inner.performance_state(device)
    }
    fn persistence_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        self.inner.persistence_mode(device)
    }
    fn display_active(&self, device: DeviceRef) -> BackendResult<bool> {
        self.inner.display_active(device)
    }
    fn compute_mode(&self, device: DeviceRef) -> BackendResult<ComputeMode> {
        self.inner.compute_mode(device)
    }
    fn ecc_errors_volatile_uncorrected(&self, device: DeviceRef) -> BackendResult<u64> {
        self.inner.ecc_errors_volatile_uncorrected(device)
    }
    fn mig_mode(&self, device: DeviceRef) -> BackendResult<bool> {
        self.inner.mig_mode(device)
    }
    fn clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        self.inner.clock(device, clock)
    }
    fn max_clock(&self, device: DeviceRef, clock: ClockKind) -> BackendResult<u32> {
        self.inner.max_clock(device, clock)
    }
    fn cuda_compute_capability(&self, device: DeviceRef) -> BackendResult<(u32, u32)> {
        self.inner.cuda_compute_capability(device)
    }
    fn processes(&self, device: DeviceRef) -> BackendResult<Vec<RawProcess>> {
        self.inner.processes(device)
    }
    fn process_utilization(&self, device: DeviceRef, since: u64) -> BackendResult<Vec<ProcessUtilization>> {
        self.inner.process_utilization(device, since)
    }
}

fn counting() -> (Arc<CountingPcie>, Arc<dyn Backend>, Vec<Device>) {
    let sim = SimBackend::default_machine();
    sim.set_time(10.0);
    let counting = Arc::new(CountingPcie {
        inner: sim,
        pcie_calls: AtomicUsize::new(0),
    });
    let backend: Arc<dyn Backend> = Arc::clone(&counting) as Arc<dyn Backend>;
    let devices = Device::all_in(&backend).unwrap();
    (counting, backend, devices)
}

#[test]
fn without_the_pcie_field_the_driver_is_not_asked_for_pcie() {
    let (counting, backend, devices) = counting();
    let mut reader = HostProcessReader::new();
    let fast = Snapshot::take_with(&backend, &devices, SnapshotFields::fast(), &mut reader);
    assert_eq!(counting.calls(), 0, "a snapshot without PCIe asked the driver for it");
    let all_devices = fast
        .devices
        .iter()
        .chain(fast.devices.iter().flat_map(|d| &d.mig_devices));
    for device in all_devices {
        assert_eq!(device.pcie_tx_throughput, None, "{}", device.display_index);
        assert_eq!(device.pcie_rx_throughput_human, None, "{}", device.display_index);
    }
    // Everything else is there as in a full snapshot.
    assert!(
        fast.devices
            .iter()
            .all(|d| d.memory_total.is_some() && d.temperature.is_some())
    );
    assert!(!fast.processes.is_empty());
    for device in &devices {
        let _ = device.as_snapshot_with(SnapshotFields::fast());
    }
    assert_eq!(counting.calls(), 0);
}

#[test]
fn with_it_both_directions_of_every_device_are_read() {
    let (counting, backend, devices) = counting();
    let full = Snapshot::take(&backend, &devices);
    // TX and RX of each physical GPU and each MIG device.
    let readable = full.devices.len() + full.devices.iter().map(|d| d.mig_devices.len()).sum::<usize>();
    assert_eq!(counting.calls(), 2 * readable);
    assert!(full.devices[0].pcie_rx_throughput.is_some());
    // The default selection is every field.
    let before = counting.calls();
    let _ = Snapshot::take_with(
        &backend,
        &devices,
        SnapshotFields::default(),
        &mut HostProcessReader::new(),
    );
    assert_eq!(counting.calls() - before, 2 * readable);
}

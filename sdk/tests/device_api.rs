//! The device API on the built-in simulator: every getter, MIG, the CUDA
//! view, faults and snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use nvitop::backend::sim::SimBackend;
use nvitop::backend::{Backend, BackendError, ClockKind, ComputeMode, DeviceRef};
use nvitop::{Device, Error, Snapshot};

fn machine() -> Arc<dyn Backend> {
    let sim = SimBackend::default_machine();
    sim.set_time(12.5);
    Arc::new(sim)
}

fn preset(name: &str, time: f64) -> Arc<dyn Backend> {
    let sim = SimBackend::from_preset(name).unwrap();
    sim.set_time(time);
    Arc::new(sim)
}

#[test]
fn default_machine_has_four_gpus_and_versions() {
    let backend = machine();
    assert_eq!(Device::count_in(&backend).unwrap(), 4);
    let devices = Device::all_in(&backend).unwrap();
    assert_eq!(devices.len(), 4);
    assert!(devices.iter().enumerate().all(|(i, d)| d.index() as usize == i));
    assert!(backend.driver_version().unwrap().contains('.'));
    let cuda = nvitop::device::cuda_version_string(backend.cuda_driver_version().unwrap());
    assert!(cuda.starts_with("12."), "{cuda}");
}

#[test]
fn every_getter_answers_on_a_busy_gpu() {
    let backend = machine();
    let gpu = Device::all_in(&backend)
        .unwrap()
        .into_iter()
        .find(|d| !d.is_mig_mode_enabled() && d.gpu_utilization().is_some_and(|u| u > 0))
        .expect("a busy non-MIG GPU");
    assert!(gpu.name().unwrap().starts_with("NVIDIA"));
    assert!(gpu.uuid().unwrap().starts_with("GPU-"));
    let bus = gpu.bus_id().unwrap();
    assert_eq!(bus.len(), "00000000:07:00.0".len(), "{bus}");
    let mem = gpu.memory_info().unwrap();
    assert_eq!(mem.total, mem.used + mem.free);
    assert_eq!(gpu.memory_total(), Some(mem.total));
    assert_eq!(gpu.memory_used(), Some(mem.used));
    assert_eq!(gpu.memory_free(), Some(mem.free));
    assert!(gpu.memory_total_human().unwrap().ends_with("MiB"));
    assert!(gpu.memory_used_human().unwrap().ends_with("iB"));
    assert!(gpu.memory_free_human().unwrap().ends_with("iB"));
    let pct = gpu.memory_percent().unwrap();
    assert!((0.0..=100.0).contains(&pct));
    assert!(gpu.memory_utilization().unwrap() <= 100);
    assert!(gpu.gpu_utilization().unwrap() <= 100);
    assert_eq!(gpu.gpu_percent(), gpu.gpu_utilization());
    assert!(gpu.encoder_utilization().unwrap() <= 100);
    assert!(gpu.decoder_utilization().unwrap() <= 100);
    let temp = gpu.temperature().unwrap();
    assert!((20..=100).contains(&temp), "{temp}");
    let (usage, limit) = (gpu.power_usage().unwrap(), gpu.power_limit().unwrap());
    assert!(usage > 0 && usage <= limit + limit / 10, "{usage} {limit}");
    assert_eq!(gpu.power_draw(), Some(usage));
    assert!(gpu.power_status().contains("W / "));
    assert!(gpu.total_energy_consumption().unwrap() > 0);
    assert!(gpu.performance_state().unwrap().starts_with('P'));
    assert!(gpu.persistence_mode().is_some());
    assert!(gpu.display_active().is_some());
    assert!(gpu.compute_mode().is_some());
    assert!(gpu.total_volatile_uncorrected_ecc_errors().is_some());
    assert!(gpu.sm_clock().unwrap() <= gpu.max_sm_clock().unwrap());
    assert!(gpu.memory_clock().unwrap() <= gpu.max_memory_clock().unwrap());
    assert!(gpu.graphics_clock().is_some());
    assert!(gpu.pcie_tx_throughput().is_some());
    assert!(gpu.pcie_rx_throughput().is_some());
    assert!(gpu.pcie_tx_throughput_human().unwrap().ends_with("B/s"));
    assert!(gpu.pcie_rx_throughput_human().unwrap().ends_with("B/s"));
    assert!(gpu.clock(ClockKind::Video).is_some());
    assert!(gpu.max_clock(ClockKind::Graphics).unwrap() >= gpu.graphics_clock().unwrap());
    let rates = gpu.utilization_rates().unwrap();
    assert_eq!(
        (Some(rates.gpu), Some(rates.memory)),
        (gpu.gpu_utilization(), gpu.memory_utilization())
    );
    assert_eq!(gpu.handle(), DeviceRef::Physical(gpu.index()));
    assert_eq!(gpu.display_index(), gpu.index().to_string());
    assert!(!gpu.is_mig_device());
    assert!(Arc::ptr_eq(gpu.backend(), &backend));
    assert_eq!(gpu.mig_mode(), Some(false));
    assert!(!gpu.is_mig_mode_enabled());
    let (major, _) = gpu.cuda_compute_capability().unwrap();
    assert!(major >= 7);
    assert!(gpu.bar1_memory_info().is_some());
    assert!(gpu.status().is_ok());
}

#[test]
fn a_desktop_card_has_a_fan_a_display_and_no_mig_or_ecc() {
    let backend = preset("rtx4090", 12.5);
    let card = Device::new_in(&backend, 0).unwrap();
    assert_eq!(card.name().as_deref(), Some("NVIDIA GeForce RTX 4090"));
    let fan = card.fan_speed().unwrap();
    assert!((30..=100).contains(&fan), "{fan}");
    assert_eq!(card.display_active(), Some(true));
    assert_eq!(card.mig_mode(), None);
    assert!(!card.is_mig_mode_enabled());
    assert!(card.mig_devices().is_empty());
    assert_eq!(card.total_volatile_uncorrected_ecc_errors(), None);
    assert_eq!(card.cuda_compute_capability(), Some((8, 9)));
    let snapshot = card.as_snapshot();
    assert_eq!(snapshot.fan_speed, Some(fan));
    assert_eq!(snapshot.mig_mode, None);
}

#[test]
fn values_move_with_simulated_time_and_are_reproducible() {
    let a = preset("default", 10.0);
    let b = preset("default", 10.0);
    let c = preset("default", 250.0);
    let read = |backend: &Arc<dyn Backend>| {
        Device::all_in(backend)
            .unwrap()
            .iter()
            .map(|d| (d.gpu_utilization(), d.temperature(), d.power_usage(), d.memory_used()))
            .collect::<Vec<_>>()
    };
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
}

#[test]
fn lookups_by_uuid_bus_id_and_index() {
    let backend = machine();
    for device in Device::all_in(&backend).unwrap() {
        let by_uuid = Device::from_uuid_in(&backend, &device.uuid().unwrap()).unwrap();
        assert_eq!(by_uuid, device);
        let bus = device.bus_id().unwrap();
        assert_eq!(Device::from_bus_id_in(&backend, &bus).unwrap(), device);
        // The short form without the PCI domain, any case.
        let short = bus.split_once(':').unwrap().1.to_lowercase();
        assert_eq!(Device::from_bus_id_in(&backend, &short).unwrap(), device);
    }
    let picked = Device::from_indices_in(&backend, &[2, 0]).unwrap();
    assert_eq!(picked.iter().map(Device::index).collect::<Vec<_>>(), vec![2, 0]);
}

#[test]
fn bad_lookups_are_clear_errors() {
    let backend = machine();
    let err = Device::new_in(&backend, 4).unwrap_err();
    assert!(matches!(err, Error::InvalidIndex { index: 4, count: 4 }), "{err}");
    assert!(
        err.to_string().contains("this machine has 4 GPUs, indices 0 to 3"),
        "{err}"
    );
    let err = Device::from_indices_in(&backend, &[0, 17]).unwrap_err();
    assert!(err.to_string().contains("17"));
    let err = Device::from_uuid_in(&backend, "GPU-does-not-exist").unwrap_err();
    assert!(matches!(err, Error::Backend(BackendError::NotFound { .. })), "{err}");
    assert!(err.to_string().contains("GPU-does-not-exist"));
    let err = Device::from_bus_id_in(&backend, "0000:ff:1f.7").unwrap_err();
    assert!(err.to_string().contains("ff:1f.7"), "{err}");
}

#[test]
fn mig_devices_have_their_own_memory_and_processes() {
    let backend = machine();
    let parent = Device::all_in(&backend)
        .unwrap()
        .into_iter()
        .find(Device::is_mig_mode_enabled)
        .unwrap();
    assert_eq!(parent.mig_mode(), Some(true));
    let migs = parent.mig_devices();
    assert_eq!(migs.len(), 3);
    let parent_total = parent.memory_total().unwrap();
    let mut sum = 0;
    for mig in &migs {
        assert!(mig.is_mig_device());
        assert_eq!(mig.parent(), parent);
        assert!(mig.uuid().unwrap().starts_with("MIG-"));
        assert!(mig.name().unwrap().contains("MIG"));
        assert_eq!(mig.display_index(), format!("{}:{}", parent.index(), mig.mig_index()));
        sum += mig.memory_total().unwrap();
        // NVML gives no utilization per MIG device: N/A, not a failure.
        assert_eq!(mig.gpu_utilization(), None);
        assert!(mig.mig_devices().is_empty());
        assert_eq!(
            Device::from_uuid_in(&backend, &mig.uuid().unwrap()).unwrap(),
            *mig.as_device()
        );
        for process in mig.processes().unwrap() {
            assert!(process.raw().gpu_instance_id.is_some());
            assert_eq!(process.device(), mig.as_device());
        }
    }
    assert!(sum <= parent_total);
    let on_migs: usize = migs.iter().map(|m| m.processes().unwrap().len()).sum();
    assert!(on_migs > 0);
    assert_eq!(parent.processes().unwrap().len(), on_migs);
}

#[test]
fn cuda_visible_devices_view() {
    let backend = machine();
    let all = Device::from_cuda_visible_devices_in(&backend, None).unwrap();
    assert_eq!(all.len(), 4);
    // The MIG-enabled GPU is seen by CUDA as its first MIG device.
    assert!(all.iter().any(|d| d.is_mig_device()));
    let some = Device::from_cuda_visible_devices_in(&backend, Some("3,0,9,1")).unwrap();
    assert_eq!(some.iter().map(|d| d.index()).collect::<Vec<_>>(), vec![3, 0]);
    assert_eq!(some[0].to_string(), "cuda:0 (gpu:3)");
    assert!(
        Device::from_cuda_visible_devices_in(&backend, Some(""))
            .unwrap()
            .is_empty()
    );
    let uuid = Device::new_in(&backend, 2).unwrap().uuid().unwrap();
    let by_prefix = Device::from_cuda_visible_devices_in(&backend, Some(&uuid[..12])).unwrap();
    assert_eq!(by_prefix.len(), 1);
    assert_eq!(by_prefix[0].index(), 2);
    let picked = Device::from_cuda_indices_in(&backend, Some("3,0"), &[1]).unwrap();
    assert_eq!(picked[0].index(), 0);
    assert_eq!(picked[0].cuda_index(), 1);
    let err = Device::from_cuda_indices_in(&backend, Some("3,0"), &[2]).unwrap_err();
    assert!(
        matches!(err, Error::InvalidCudaIndex { index: 2, count: 2, .. }),
        "{err}"
    );
}

#[test]
fn faults_give_na_and_a_lost_gpu_spares_the_others() {
    let early = preset("faults", 1.0);
    let late = preset("faults", 1000.0);
    // Not supported: some field is N/A on some device, and the device still answers.
    let na_somewhere = Device::all_in(&early).unwrap().iter().any(|d| {
        d.status().is_ok() && (d.fan_speed().is_none() || d.temperature().is_none() || d.power_usage().is_none())
    });
    assert!(na_somewhere);
    // No permission for a process list: an error naming the reason, others list fine.
    let results: Vec<_> = Device::all_in(&early).unwrap().iter().map(Device::processes).collect();
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(Error::Backend(BackendError::NoPermission))))
    );
    assert!(results.iter().any(Result::is_ok));
    // Lost: healthy early, lost late; the other devices keep working.
    let lost_early = Device::all_in(&early)
        .unwrap()
        .iter()
        .filter(|d| d.status().is_err())
        .count();
    let late_devices = Device::all_in(&late).unwrap();
    let lost: Vec<_> = late_devices.iter().filter(|d| d.status().is_err()).collect();
    assert_eq!(lost_early, 0);
    assert_eq!(lost.len(), 1);
    assert!(matches!(lost[0].status(), Err(BackendError::GpuLost { .. })));
    assert_eq!(lost[0].name(), None);
    assert!(
        late_devices
            .iter()
            .filter(|d| d.status().is_ok())
            .all(|d| d.name().is_some())
    );
    let snap = Snapshot::take(&late, &late_devices);
    let failed: Vec<_> = snap.devices.iter().filter(|d| d.is_failed()).collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].error.as_deref().unwrap().contains("lost"));
    assert!(snap.devices.iter().filter(|d| !d.is_failed()).all(|d| d.name.is_some()));
    assert!(!snap.process_errors.is_empty());
}

#[test]
fn compute_mode_labels() {
    assert_eq!(ComputeMode::Default.label(), "Default");
    assert_eq!(ComputeMode::ExclusiveProcess.label(), "E. Process");
}

#[test]
fn snapshot_round_trips_through_json() {
    let backend = machine();
    let snap = Snapshot::take_all(&backend).unwrap();
    assert_eq!(snap.devices.len(), 4);
    assert!(snap.simulated);
    assert_eq!(snap.backend, "simulator");
    let mig = snap.devices.iter().find(|d| d.mig_mode == Some(true)).unwrap();
    assert_eq!(mig.mig_devices.len(), 3);
    let json = serde_json::to_string_pretty(&snap).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    let device = Device::new_in(&backend, 0).unwrap().as_snapshot();
    let back: nvitop::DeviceSnapshot = serde_json::from_str(&serde_json::to_string(&device).unwrap()).unwrap();
    assert_eq!(back, device);
}

#[test]
fn own_process_appears_with_host_details() {
    let backend = machine();
    let me = std::process::id();
    let snap = Snapshot::take_all(&backend).unwrap();
    let row = snap
        .processes
        .iter()
        .find(|p| p.pid == me)
        .expect("the calling process is on a GPU");
    let host = row.host.as_ref().unwrap();
    assert!(host.rss > 0);
    assert!(!host.command.is_empty());
    assert!(row.gpu_memory.is_some());
    let json = serde_json::to_value(row).unwrap();
    assert_eq!(json["type"].as_str(), Some(row.kind.label()));
    assert!(["C", "G", "C+G"].contains(&row.kind.label()));
}

//! The simulated `NVLink`: how many links a model has, and data counters
//! that move with the workload.
//!
//! SXM boards (H100 SXM5: 18 links of `NVLink` 4; A100 SXM4: 12 links of
//! `NVLink` 3) carry the collective traffic of training: each link moves
//! data at up to [`PEAK_KIB_PER_S`] in each direction, in proportion to the
//! GPU's load. PCIe cards (RTX 4090, L4) have no `NVLink`: "not supported".
//! The counters are the load integrated over simulated time since the
//! simulator started, so a throughput read from two readings follows the
//! workload's own curve, and pinned time (nothing moves) reads zero.

use super::machine::SimGpu;
use super::models::GpuModel;
use crate::backend::NvLinkCounter;

/// Data each link moves per direction at full load, KiB/s: 40% of an
/// `NVLink` 3/4 link's 25 GB/s per direction, what an all-reduce heavy
/// training step sustains on average.
pub const PEAK_KIB_PER_S: f64 = 0.4 * 25e9 / 1024.0;

/// Number of `NVLink`s of a model (0: none; see the unit tests).
pub fn link_count(model: &super::models::ModelSpec) -> u32 {
    let is = |m: GpuModel| m.spec().name == model.name;
    // H100/H200 SXM: 18 NVLink 4 links (900 GB/s); B200: 18 NVLink 5
    // links (1.8 TB/s); A100 SXM: 12 NVLink 3 links (600 GB/s).
    if is(GpuModel::H100Sxm5_80gb) || is(GpuModel::H200Sxm141gb) || is(GpuModel::B200) {
        18
    } else if is(GpuModel::A100Sxm4_80gb) || is(GpuModel::A100Sxm4_40gb) {
        12
    } else {
        0
    }
}

/// The counters of every link of `gpu`, `elapsed` simulated seconds after
/// the simulator started, the workload's cycle having stood at `start`
/// then; `None` for a GPU without `NVLink`.
pub fn counters(gpu: &SimGpu, elapsed: f64, start: f64) -> Option<Vec<NvLinkCounter>> {
    let links = link_count(&gpu.model);
    if links == 0 {
        return None;
    }
    let elapsed = elapsed.max(0.0);
    // Percent-seconds of load since the start: never decreasing.
    let load = (gpu.workload.util_integral(start + elapsed) - gpu.workload.util_integral(start)).max(0.0);
    let kib = PEAK_KIB_PER_S * load / 100.0;
    Some(
        (0..links)
            .map(|link| {
                // Links of one GPU carry a little more or less than each
                // other (ring order), and a GPU sends about what it receives.
                let share = 1.0 - 0.02 * f64::from(link % 4);
                NvLinkCounter {
                    link,
                    tx_kib: (kib * share) as u64,
                    rx_kib: (kib * share * 0.98) as u64,
                }
            })
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::backend::{Backend, BackendError, DeviceRef, sim::SimBackend};

    #[test]
    fn sxm_boards_have_links_pcie_cards_none() {
        assert_eq!(link_count(&GpuModel::H100Sxm5_80gb.spec()), 18);
        assert_eq!(link_count(&GpuModel::H200Sxm141gb.spec()), 18);
        assert_eq!(link_count(&GpuModel::B200.spec()), 18);
        assert_eq!(link_count(&GpuModel::A100Sxm4_40gb.spec()), 12);
        assert_eq!(link_count(&GpuModel::Rtx4090.spec()), 0);
        assert_eq!(link_count(&GpuModel::L4.spec()), 0);
        let sim = SimBackend::default_machine();
        assert_eq!(
            sim.nvlink_counters(DeviceRef::Physical(3)),
            Err(BackendError::NotSupported)
        );
        assert_eq!(
            sim.nvlink_counters(DeviceRef::Mig { parent: 1, index: 0 }),
            Err(BackendError::NotSupported)
        );
        assert_eq!(sim.nvlink_counters(DeviceRef::Physical(2)).unwrap().links.len(), 12);
    }

    #[test]
    fn throughput_follows_the_load_and_pinned_time_reads_zero() {
        let sim = SimBackend::from_preset("h100x8").unwrap();
        let d = DeviceRef::Physical(0);
        sim.set_time(100.0);
        let a = sim.nvlink_counters(d).unwrap();
        let pinned = sim.nvlink_counters(d).unwrap();
        assert_eq!(a.links, pinned.links, "nothing moves while time is pinned");
        sim.set_time(101.0);
        let b = sim.nvlink_counters(d).unwrap();
        // One simulated second: the data moved is the load over that second.
        let tx = (b.links[0].tx_kib - a.links[0].tx_kib) as f64;
        let util = f64::from(sim.utilization_rates(d).unwrap().gpu);
        assert!(tx > 0.0);
        assert!(tx <= PEAK_KIB_PER_S * 1.01, "{tx}");
        assert!(
            (tx / PEAK_KIB_PER_S * 100.0 - util).abs() < 25.0,
            "{tx} KiB in 1 s at {util}% load"
        );
        // An idle GPU moves nothing.
        let idle = SimBackend::new(
            crate::backend::sim::Scenario::parse(
                "[[gpus]]\nmodel = \"A100-SXM4-80GB\"\n",
                crate::backend::sim::scenario::Format::Toml,
                std::path::Path::new("idle.toml"),
            )
            .unwrap(),
        );
        idle.set_time(5.0);
        let before = idle.nvlink_counters(d).unwrap();
        idle.set_time(50.0);
        assert_eq!(idle.nvlink_counters(d).unwrap().links, before.links);
    }
}

//! The simulated clock event reasons (throttle reasons), from the GPU's
//! state at a moment: idle with nothing running, the software power cap
//! while the draw presses on the limit, thermal slowdown when hot.

use super::machine::SimGpu;
use crate::backend::ClockEventReasons;

/// Share of the power limit above which the software power cap holds the
/// clocks (the driver's power controller acts a little below the limit).
const POWER_CAP_SHARE: f64 = 0.90;

/// Temperature from which the driver slows the clocks, °C.
const SLOWDOWN_C: u32 = 87;

/// The reasons that hold on `gpu` at workload time `t`.
pub fn reasons(gpu: &SimGpu, t: f64) -> ClockEventReasons {
    if gpu.processes.is_empty() && gpu.gpu_util(t) == 0 {
        return ClockEventReasons::GPU_IDLE;
    }
    let mut reasons = ClockEventReasons::NONE;
    if f64::from(gpu.power_mw(t)) >= POWER_CAP_SHARE * f64::from(gpu.power_limit_mw()) {
        reasons = reasons.union(ClockEventReasons::SW_POWER_CAP);
    }
    if gpu.temperature(t) >= SLOWDOWN_C {
        reasons = reasons.union(ClockEventReasons::SW_THERMAL_SLOWDOWN);
    }
    reasons
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::backend::sim::SimBackend;
    use crate::backend::{Backend, BackendError, ClockEventReasons, DeviceRef};

    #[test]
    fn reasons_follow_power_and_idleness() {
        let sim = SimBackend::from_preset("h100x8").unwrap();
        let d = DeviceRef::Physical(0);
        let (mut capped, mut free) = (0, 0);
        for step in 0..400 {
            sim.set_time(f64::from(step) * 0.5);
            let reasons = sim.clock_event_reasons(d).unwrap();
            let power = f64::from(sim.power_usage(d).unwrap());
            let limit = f64::from(sim.power_limit(d).unwrap());
            assert_eq!(
                reasons.contains(ClockEventReasons::SW_POWER_CAP),
                power >= 0.9 * limit,
                "t={}: {power} of {limit} mW",
                sim.time()
            );
            assert!(!reasons.contains(ClockEventReasons::GPU_IDLE));
            if reasons.contains(ClockEventReasons::SW_POWER_CAP) {
                capped += 1;
            } else {
                free += 1;
            }
        }
        assert!(capped > 0 && free > 0, "capped {capped}, free {free}");
        let mig = DeviceRef::Mig { parent: 1, index: 0 };
        let default = SimBackend::default_machine();
        assert_eq!(default.clock_event_reasons(mig), Err(BackendError::NotSupported));
    }
}

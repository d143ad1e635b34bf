//! TEMPORARY STUB (replaced by the simulator branch).
#![allow(missing_docs, clippy::all, clippy::pedantic)]
use super::*;
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct ScenarioError;
#[derive(Debug)]
pub struct SimBackend;
impl SimBackend {
    pub fn default_machine() -> Self {
        SimBackend
    }
    pub fn from_preset(_s: &str) -> Result<Self, ScenarioError> {
        Ok(SimBackend)
    }
    pub fn from_env() -> Result<Self, ScenarioError> {
        Ok(SimBackend)
    }
    pub fn set_time(&self, _t: f64) {}
    pub fn time(&self) -> f64 {
        0.0
    }
    pub fn from_spec(_s: &str) -> Result<Self, ScenarioError> {
        Ok(SimBackend)
    }
}
macro_rules! ns { ($($name:ident ( $($a:ident : $t:ty),* ) -> $r:ty;)*) => { $(fn $name(&self, $($a: $t),*) -> BackendResult<$r> { let _ = ($($a),*); Err(BackendError::NotSupported) })* } }
impl Backend for SimBackend {
    fn kind(&self) -> &'static str {
        "simulator"
    }
    fn is_simulated(&self) -> bool {
        true
    }
    ns! {
        driver_version() -> String; nvml_version() -> String; cuda_driver_version() -> i32; device_count() -> u32;
        device_by_uuid(u: &str) -> DeviceRef; device_by_bus_id(u: &str) -> DeviceRef; mig_devices(d: DeviceRef) -> Vec<DeviceRef>;
        name(d: DeviceRef) -> String; uuid(d: DeviceRef) -> String; bus_id(d: DeviceRef) -> String; memory_info(d: DeviceRef) -> MemoryInfo;
        bar1_memory_info(d: DeviceRef) -> MemoryInfo; utilization_rates(d: DeviceRef) -> UtilizationRates; encoder_utilization(d: DeviceRef) -> u32;
        decoder_utilization(d: DeviceRef) -> u32; fan_speed(d: DeviceRef) -> u32; temperature(d: DeviceRef) -> u32; power_usage(d: DeviceRef) -> u32;
        power_limit(d: DeviceRef) -> u32; total_energy_consumption(d: DeviceRef) -> u64; performance_state(d: DeviceRef) -> u32;
        persistence_mode(d: DeviceRef) -> bool; display_active(d: DeviceRef) -> bool; compute_mode(d: DeviceRef) -> ComputeMode;
        ecc_errors_volatile_uncorrected(d: DeviceRef) -> u64; mig_mode(d: DeviceRef) -> bool; clock(d: DeviceRef, c: ClockKind) -> u32;
        max_clock(d: DeviceRef, c: ClockKind) -> u32; pcie_throughput(d: DeviceRef, p: PcieDirection) -> u32;
        cuda_compute_capability(d: DeviceRef) -> (u32, u32); processes(d: DeviceRef) -> Vec<RawProcess>;
        process_utilization(d: DeviceRef, s: u64) -> Vec<ProcessUtilization>;
    }
}

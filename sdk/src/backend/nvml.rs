//! The NVML backend (being written).

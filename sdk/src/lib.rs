//! # nvitop
//!
//! GPU device, process and host API over NVML or a built-in simulator.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
pub mod sink;

//! # nvitop-exporter
//!
//! A Prometheus exporter for NVIDIA GPUs built on the `nvitop` SDK, serving
//! the metric names of nvitop-exporter 1.7.2 (so its Grafana dashboards work
//! unchanged) plus a few of our own.
//!
//! A collector thread reads the machine every `--interval`
//! ([`collect::Source`]), builds the metric families ([`metrics::families`])
//! and publishes them ([`publish::Latest`]); an HTTP scrape
//! ([`server`], over TLS with [`tls`]) only encodes, at most once per pass and format, the newest
//! families ([`exposition::Exposition`]) and never waits on the driver.
//!
//! ```
//! use nvitop_exporter::{collect::Source, exposition::{Exposition, Format}, metrics::families};
//! let mut source = Source::open(Some("rtx4090"), None).unwrap();
//! let exposition = Exposition::new(families(&source.read(), "node1"));
//! let text = String::from_utf8(exposition.encoded(Format::Text).to_vec()).unwrap();
//! assert!(text.contains("devicename=\"NVIDIA GeForce RTX 4090\""));
//! ```

pub mod cli;
pub mod collect;
pub mod exposition;
pub mod hostio;
pub mod metrics;
pub mod publish;
pub mod readings;
pub mod server;
pub mod tls;

//! Encoding the families with `prometheus-client`: the Prometheus text
//! format 0.0.4 (what Prometheus asks for by default) and `OpenMetrics` 1.0.
//!
//! Each pass's families are encoded at most once per format, on the first
//! scrape that asks for it; later scrapes of the same pass copy the bytes.

use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::metrics::{Family, Kind};

/// `Content-Type` of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// `Content-Type` of `OpenMetrics` 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// `OpenMetrics` 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format a scraper's `Accept` header asks for: `OpenMetrics` when it
    /// names `application/openmetrics-text`, otherwise the text format.
    ///
    /// ```
    /// use nvitop_exporter::exposition::Format;
    /// let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
    /// assert_eq!(Format::negotiate(None), Format::Text);
    /// ```
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|part| {
                let mut params = part.split(';').map(str::trim);
                let media = params.next().unwrap_or_default();
                let refused = params.any(|p| p.replace(' ', "") == "q=0");
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Self::OpenMetrics
        } else {
            Self::Text
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text => TEXT_CONTENT_TYPE,
            Self::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// One pass's families, with their encodings made on demand.
#[derive(Debug)]
pub struct Exposition {
    families: Arc<Vec<Family>>,
    text: OnceLock<Arc<[u8]>>,
    openmetrics: OnceLock<Arc<[u8]>>,
}

impl Exposition {
    /// Wraps one pass's families.
    pub fn new(families: Vec<Family>) -> Self {
        Self {
            families: Arc::new(families),
            text: OnceLock::new(),
            openmetrics: OnceLock::new(),
        }
    }

    /// The families.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// The encoded families in `format` (encoded once, then shared).
    ///
    /// ```
    /// use nvitop_exporter::{exposition::{Exposition, Format}, metrics::families};
    /// let exposition = Exposition::new(families(&Default::default(), "node1"));
    /// let text = String::from_utf8(exposition.encoded(Format::Text).to_vec()).unwrap();
    /// assert!(text.contains("# TYPE gpu_utilization_Percentage gauge\n"));
    /// let open = String::from_utf8(exposition.encoded(Format::OpenMetrics).to_vec()).unwrap();
    /// assert!(open.ends_with("# EOF\n"));
    /// ```
    pub fn encoded(&self, format: Format) -> Arc<[u8]> {
        let slot = match format {
            Format::Text => &self.text,
            Format::OpenMetrics => &self.openmetrics,
        };
        Arc::clone(slot.get_or_init(|| encode(&self.families, format).into_bytes().into()))
    }
}

/// Encodes `families` in `format`.
pub fn encode(families: &Arc<Vec<Family>>, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(FamiliesCollector(Arc::clone(families))));
    let mut out = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail, and our collector returns only the
    // writer's errors: an error here would be a bug, so it is not hidden.
    let result = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    if let Err(err) = result {
        log::error!("encoding the metrics failed: {err}");
    }
    out
}

/// Hands prepared families to `prometheus-client`'s encoders.
#[derive(Debug)]
struct FamiliesCollector(Arc<Vec<Family>>);

impl Collector for FamiliesCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for family in self.0.iter() {
            let kind = match family.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
                Kind::Info => MetricType::Info,
            };
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
            for sample in &family.samples {
                let labels: &[(&str, String)] = &sample.labels;
                match family.kind {
                    Kind::Info => metric.encode_info(&labels)?,
                    Kind::Gauge => ConstGauge::new(sample.value).encode(metric.encode_family(&labels)?)?,
                    Kind::Counter => ConstCounter::new(sample.value).encode(metric.encode_family(&labels)?)?,
                }
            }
        }
        Ok(())
    }
}

//! The few TensorFlow protobuf messages an event file of scalars needs,
//! derived by hand so the build needs neither `protoc` nor generated code.
//!
//! Field numbers follow TensorFlow's `tensorflow/core/util/event.proto` and
//! `tensorflow/core/framework/summary.proto`:
//!
//! ```text
//! message Event {
//!   double wall_time = 1;
//!   int64 step = 2;
//!   oneof what {
//!     string file_version = 3;
//!     bytes graph_def = 4;          // not used here
//!     Summary summary = 5;
//!     LogMessage log_message = 6;   // not used here
//!     SessionLog session_log = 7;   // not used here
//!     ...
//!   }
//! }
//! message Summary {
//!   message Value {
//!     string node_name = 7;         // not used here
//!     string tag = 1;
//!     SummaryMetadata metadata = 9; // not used here
//!     oneof value {
//!       float simple_value = 2;
//!       ...                         // images, histograms, tensors: not used
//!     }
//!   }
//!   repeated Value value = 1;
//! }
//! ```
//!
//! Fields left out are skipped when decoding, so these types also read event
//! files written by TensorFlow or PyTorch (their scalars, at least).

/// One entry of an event file.
///
/// ```
/// use prost::Message;
/// use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
/// let event = Event { wall_time: 1.5e9, step: 10, what: Some(What::FileVersion(FILE_VERSION.into())) };
/// let bytes = event.encode_to_vec();
/// assert_eq!(Event::decode(bytes.as_slice()).unwrap(), event);
/// ```
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step the event belongs to.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// The payload of an [`Event`] (TensorFlow's `oneof what`).
///
/// ```
/// use prost::Message;
/// use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
/// let scalars = What::Summary(Summary { value: vec![] });
/// assert!(matches!(scalars, What::Summary(ref s) if s.value.is_empty()));
/// ```
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The file format version; the first event of every file, `brain.Event:2`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Logged values.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// A set of logged values.
///
/// ```
/// use prost::Message;
/// use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
/// let summary = Summary {
///     value: vec![SummaryValue { tag: "gpu0/temperature".into(), value: Some(Value::SimpleValue(61.0)) }],
/// };
/// let decoded = Summary::decode(summary.encode_to_vec().as_slice()).unwrap();
/// assert_eq!(decoded.value[0].tag, "gpu0/temperature");
/// ```
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values, each with its own tag.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// One tagged value of a [`Summary`] (TensorFlow's `Summary.Value`).
///
/// ```
/// use prost::Message;
/// use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
/// let value = SummaryValue { tag: "loss".into(), value: Some(Value::SimpleValue(0.25)) };
/// assert_eq!(SummaryValue::decode(value.encode_to_vec().as_slice()).unwrap(), value);
/// ```
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The series name, such as `gpu0/utilization`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value (TensorFlow's `oneof value`).
    #[prost(oneof = "Value", tags = "2")]
    pub value: Option<Value>,
}

/// The payload of a [`SummaryValue`]; only scalars are supported.
///
/// ```
/// use prost::Message;
/// use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
/// let Value::SimpleValue(x) = Value::SimpleValue(93.0);
/// assert_eq!(x, 93.0);
/// ```
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A scalar, shown by TensorBoard's Scalars dashboard.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
}

/// The version string TensorBoard expects in a file's first event.
///
/// ```
/// use prost::Message;
/// use nvitop::testing::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
/// let first = Event { wall_time: 0.0, step: 0, what: Some(What::FileVersion(FILE_VERSION.into())) };
/// assert_eq!(FILE_VERSION, "brain.Event:2");
/// # let _ = first;
/// ```
pub const FILE_VERSION: &str = "brain.Event:2";

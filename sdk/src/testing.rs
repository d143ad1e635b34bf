//! Readers of what the SDK writes, for tests: **not a stable API**.
//!
//! Only with the `testing` cargo feature (off by default), and free to
//! change in any release. A test of a training loop checks its TensorBoard
//! run with them:
//!
//! ```toml
//! [dev-dependencies]
//! nvitop = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use nvitop::sink::{LogRecord, RecordKind, Sink, TensorBoardSink};
//! use nvitop::testing::tensorboard::{event_files, scalar_tags};
//! let dir = tempfile::tempdir().unwrap();
//! let mut sink = TensorBoardSink::create(dir.path()).unwrap();
//! let keys = vec!["loss".to_owned()];
//! sink.write(&LogRecord { wall_time: 1.0, step: 0, epoch: None, kind: RecordKind::BatchEnd, keys: &keys, values: &[Some(0.5)] }).unwrap();
//! sink.flush().unwrap();
//! assert_eq!(event_files(dir.path()).unwrap().len(), 1);
//! assert!(scalar_tags(dir.path()).unwrap().contains("loss"));
//! ```

/// TensorBoard event files: listing a run, reading its records strictly
/// (both CRCs of each), decoding its events.
pub mod tensorboard {
    pub use crate::sink::tensorboard::record::{BadRecord, frame_record, masked_crc32c, parse_records, read_records};
    pub use crate::sink::tensorboard::{event_files, scalar_tags};

    /// The protobuf messages of an event file of scalars (TensorFlow's
    /// `Event` and `Summary`), to decode records with `prost::Message`.
    pub mod proto {
        pub use crate::sink::tensorboard::proto::{Event, FILE_VERSION, Summary, SummaryValue, Value, What};
    }
}

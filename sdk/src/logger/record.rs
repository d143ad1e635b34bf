//! What a hook sends to the sink thread: a small `Copy` record, so sending
//! it through the bounded channel never allocates.

use crate::sink::RecordKind;

/// Which hook produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookEvent {
    BatchStart,
    BatchEnd,
    EpochEnd,
    /// Only the training status hears it (the phase becomes `validation`):
    /// it makes no row.
    ValidationStart,
    ValidationEnd,
    TrainEnd,
}

impl HookEvent {
    /// The kind of the row the event makes; `None`: it makes none.
    pub(crate) fn kind(self) -> Option<RecordKind> {
        match self {
            Self::BatchStart => Some(RecordKind::BatchStart),
            Self::BatchEnd => Some(RecordKind::BatchEnd),
            Self::EpochEnd => Some(RecordKind::EpochEnd),
            Self::ValidationStart => None,
            Self::ValidationEnd => Some(RecordKind::ValidationEnd),
            Self::TrainEnd => Some(RecordKind::TrainEnd),
        }
    }
}

/// Step-time statistics of the steps a logged row stands for (the logged
/// step and the skipped ones before it, see `log_every_n_steps`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct StepTimes {
    pub mean_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl StepTimes {
    /// One step's time.
    pub(crate) fn from_ns(ns: Option<u64>) -> Self {
        let ms = ns.map(|ns| ns as f64 / 1e6);
        Self {
            mean_ms: ms,
            max_ms: ms,
        }
    }
}

/// One hook call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HookRecord {
    pub event: HookEvent,
    pub step: u64,
    pub epoch: Option<u64>,
    pub wall_time: f64,
    /// Sequence number of the sampler's newest sample when the hook ran.
    pub seq: u64,
    pub intra_step: StepTimes,
    pub inter_step: StepTimes,
    pub epoch_ms: Option<f64>,
    pub validation_ms: Option<f64>,
    /// A batch end's step, as (start, end) in ns since the logger's origin
    /// plus one: its energy is measured over exactly this span.
    pub span_ns: Option<(u64, u64)>,
    /// A batch end's step period in seconds (previous batch end to this
    /// one, else batch start to end) and its model FLOPs, for MFU.
    pub mfu: Option<(f64, f64)>,
}

/// The longest scalar tag `log_scalar` carries, in bytes. The tag travels
/// inline in the record (no allocation on the training thread); a longer
/// one is refused and counted in the report.
pub const MAX_SCALAR_TAG: usize = 96;

/// One user scalar (`log_scalar`), its tag copied inline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScalarRecord {
    pub tag: [u8; MAX_SCALAR_TAG],
    pub tag_len: u8,
    pub value: f64,
    pub step: u64,
    pub epoch: Option<u64>,
    pub wall_time: f64,
    /// Scalars of one `log_scalars` call share a batch number and make one row.
    pub batch: u64,
    /// The last scalar of its batch: the row can be written.
    pub last: bool,
}

impl ScalarRecord {
    /// The tag; the hook only copies valid UTF-8 of at most `MAX_SCALAR_TAG` bytes.
    pub(crate) fn tag(&self) -> &str {
        std::str::from_utf8(&self.tag[..usize::from(self.tag_len)]).unwrap_or("")
    }
}

/// Messages to the sink thread.
#[derive(Debug)]
pub(crate) enum Message {
    Record(HookRecord),
    Scalar(ScalarRecord),
    /// Flush every sink (syncing to disk when `sync` is set), then answer
    /// with the report so far; sinks that have not answered by `deadline`
    /// are reported hung.
    Flush {
        reply: crossbeam_channel::Sender<super::LogReport>,
        deadline: std::time::Instant,
        sync: bool,
    },
    /// Close every sink and stop; sinks not closed by `deadline` are reported hung.
    Close {
        deadline: std::time::Instant,
    },
}

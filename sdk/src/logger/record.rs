//! What a hook sends to the sink thread: a small `Copy` record, so sending
//! it through the bounded channel never allocates.

/// Which hook produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookEvent {
    BatchStart,
    BatchEnd,
    EpochEnd,
    ValidationEnd,
    TrainEnd,
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
    pub intra_step_ms: Option<f64>,
    pub inter_step_ms: Option<f64>,
    pub epoch_seconds: Option<f64>,
    pub validation_seconds: Option<f64>,
}

/// Messages to the sink thread.
#[derive(Debug)]
pub(crate) enum Message {
    Record(HookRecord),
    /// Flush every sink, then answer with the report so far.
    Flush(crossbeam_channel::Sender<super::LogReport>),
}

//! The driver's buffer of per-process utilization samples.
//!
//! NVML keeps, per GPU, a buffer of samples taken once per sample period;
//! each holds one entry per process that had non-zero utilization in that
//! period, stamped with the CPU time (µs) it was taken at, and
//! `nvmlDeviceGetProcessUtilization` returns those newer than the caller's
//! `lastSeenTimeStamp`. A process that goes idle therefore stops getting
//! samples: a reader that asks for old samples sees its last busy value.
//! This buffer plays that so the readers' handling of it can be tested.
//!
//! Samples are recorded lazily: each question first records the periods
//! that elapsed (on the real clock, since clients ask relative to it) since
//! the last one recorded, each with the load of its moment. The first
//! question records the history it asks for (back to its timestamp, at most
//! a full buffer): the buffer lives in the client's memory here, not in the
//! driver's, so a one-shot client asking for the last second should not pay
//! for ten.

use std::collections::VecDeque;

use crate::backend::ProcessUtilization;

/// One sample period, µs: the shortest period NVML documents for its
/// utilization samples ("between 1 second and 1/6 second depending on the
/// product").
pub const SAMPLE_PERIOD_US: u64 = 166_667;

/// How many periods a buffer keeps (5 s; the real driver's buffer size is
/// not documented).
pub const SAMPLE_BUFFER: usize = 30;

/// The recorded samples of one GPU, oldest period first.
#[derive(Debug, Default)]
pub(super) struct SampleBuffer {
    /// The newest period recorded (`None`: nothing yet).
    last_period: Option<u64>,
    /// Per recorded period: the samples of the processes busy in it.
    periods: VecDeque<Vec<ProcessUtilization>>,
}

impl SampleBuffer {
    /// Records every period up to the one containing `now_us`; the first
    /// time, back to the one containing `since`. `shares(ago)` gives `(pid,
    /// sm, memory, encoder, decoder)` per process for the moment `ago`
    /// seconds before now.
    pub(super) fn catch_up(&mut self, now_us: u64, since: u64, shares: impl Fn(f64) -> Vec<(u32, u32, u32, u32, u32)>) {
        let current = now_us / SAMPLE_PERIOD_US;
        let oldest_kept = current.saturating_sub(SAMPLE_BUFFER as u64 - 1);
        let first = match self.last_period {
            Some(last) if last >= current => return,
            Some(last) => (last + 1).max(oldest_kept),
            None => oldest_kept.max((since / SAMPLE_PERIOD_US).min(current)),
        };
        for period in first..=current {
            let timestamp = period * SAMPLE_PERIOD_US;
            let ago = now_us.saturating_sub(timestamp) as f64 / 1e6;
            let samples = shares(ago)
                .into_iter()
                .filter(|&(_, sm, memory, encoder, decoder)| sm + memory + encoder + decoder > 0)
                .map(|(pid, sm, memory, encoder, decoder)| ProcessUtilization {
                    pid,
                    timestamp,
                    sm,
                    memory,
                    encoder,
                    decoder,
                })
                .collect();
            self.periods.push_back(samples);
            if self.periods.len() > SAMPLE_BUFFER {
                self.periods.pop_front();
            }
        }
        self.last_period = Some(current);
    }

    /// The kept samples newer than `since`, oldest first.
    pub(super) fn newer_than(&self, since: u64) -> Vec<ProcessUtilization> {
        self.periods
            .iter()
            .flatten()
            .filter(|s| s.timestamp > since)
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(_: f64) -> Vec<(u32, u32, u32, u32, u32)> {
        vec![(7, 50, 20, 0, 0), (8, 0, 0, 0, 0)]
    }

    #[test]
    fn idle_processes_get_no_samples_and_old_periods_leave() {
        let mut buffer = SampleBuffer::default();
        let now = 1_000 * SAMPLE_PERIOD_US + 5;
        // A first question for the last second records only that.
        buffer.catch_up(now, now - 1_000_000, busy);
        assert_eq!(buffer.newer_than(0).len(), 7);
        let mut buffer = SampleBuffer::default();
        buffer.catch_up(now, 0, busy);
        let all = buffer.newer_than(0);
        assert_eq!(
            all.len(),
            SAMPLE_BUFFER,
            "one sample per period, none for the idle pid 8"
        );
        assert!(all.iter().all(|s| s.pid == 7));
        assert!(all.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        // Nothing newer than the newest: empty (the driver's NOT_FOUND).
        assert!(buffer.newer_than(all[all.len() - 1].timestamp).is_empty());
        // Two periods later, pid 7 idle: two empty periods, the buffer still full.
        buffer.catch_up(now + 2 * SAMPLE_PERIOD_US, 0, |_| vec![(7, 0, 0, 0, 0)]);
        assert_eq!(buffer.periods.len(), SAMPLE_BUFFER);
        assert_eq!(buffer.newer_than(0).len(), SAMPLE_BUFFER - 2);
        assert!(buffer.newer_than(now).is_empty());
    }
}

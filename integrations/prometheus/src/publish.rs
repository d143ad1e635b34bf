//! The collector thread and the slot it publishes each pass into.
//!
//! A scrape takes the slot's lock only to clone an `Arc` (nanoseconds), so
//! it never waits for a pass; the pass runs without the lock.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::collect::Source;
use crate::exposition::Exposition;
use crate::metrics::families;

/// The newest pass's exposition.
#[derive(Debug)]
pub struct Latest {
    slot: Mutex<Arc<Exposition>>,
}

impl Latest {
    /// A slot holding `first`.
    pub fn new(first: Exposition) -> Self {
        Self {
            slot: Mutex::new(Arc::new(first)),
        }
    }

    /// The newest exposition.
    pub fn get(&self) -> Arc<Exposition> {
        Arc::clone(&self.slot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the newest exposition.
    pub fn set(&self, next: Exposition) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
    }
}

/// The collector thread: a pass every interval until stopped.
#[derive(Debug)]
pub struct Collector {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Reads once on the calling thread (so the first scrape has figures),
    /// then starts the thread. Passes start `interval` apart; a pass that
    /// takes longer is followed by the next at once.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use nvitop_exporter::{collect::Source, publish::Collector};
    /// let source = Source::open(Some("rtx4090"), None).unwrap();
    /// let (latest, mut collector) = Collector::start(source, "node1".into(), Duration::from_millis(250));
    /// assert!(!latest.get().families().is_empty());
    /// collector.stop();
    /// ```
    pub fn start(mut source: Source, hostname: String, interval: Duration) -> (Arc<Latest>, Self) {
        let latest = Arc::new(Latest::new(Exposition::new(families(&source.read(), &hostname))));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let (latest, stop) = (Arc::clone(&latest), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("nvitop-collector".into())
                .spawn(move || {
                    let mut next = Instant::now() + interval;
                    loop {
                        let (lock, wake) = &*stop;
                        let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                        while !*stopped && Instant::now() < next {
                            let wait = next.saturating_duration_since(Instant::now());
                            stopped = wake
                                .wait_timeout(stopped, wait)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0;
                        }
                        if *stopped {
                            return;
                        }
                        drop(stopped);
                        latest.set(Exposition::new(families(&source.read(), &hostname)));
                        next = (next + interval).max(Instant::now());
                    }
                })
        };
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(err) => {
                log::error!("cannot start the collector thread ({err}); the figures will not change");
                None
            }
        };
        (latest, Self { stop, thread })
    }

    /// Stops the thread (at once, unless a pass is running) and waits for it.
    pub fn stop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

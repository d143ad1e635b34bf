//! The background sampler: one thread that reads the chosen devices, the
//! host and the tracked processes at its own interval and publishes the
//! latest sample.
//!
//! Readers never wait on the driver. The newest sample's sequence number is
//! an atomic a hook can read without a lock; the last samples are kept in a
//! small ring so a consumer (the logger's sink thread) can find the sample a
//! hook saw. Observers (the resource collector) get each sample as it is
//! taken, on the sampler thread.
//!
//! Nothing the sampler meets stops it: a GPU that is lost, or a tracked pid
//! that exits, becomes missing values in the samples and one `log` warning
//! (and a note when the GPU answers again); an observer that panics is
//! reported and the sampler goes on.

mod sample;

use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

pub use sample::{DeviceSample, ProcessGpuSample, ProcessSample, Sample, SampleOptions};

use crate::device::{Device, GpmSampler};
use crate::error::{Error, Result};
use crate::host;
use crate::process::{HostProcess, HostProcessReader};
use crate::snapshot::unix_now;

/// Shortest accepted sampling interval.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::all_in(&backend).unwrap();
/// use nvitop::sampler::MIN_INTERVAL;
/// assert!(SamplerConfig::default().interval(MIN_INTERVAL).is_ok());
/// assert!(SamplerConfig::default().interval(MIN_INTERVAL / 2).is_err());
/// ```
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// Longest accepted sampling interval.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::all_in(&backend).unwrap();
/// use nvitop::sampler::MAX_INTERVAL;
/// assert!(SamplerConfig::default().interval(MAX_INTERVAL).is_ok());
/// assert!(SamplerConfig::default().interval(MAX_INTERVAL * 2).is_err());
/// ```
pub const MAX_INTERVAL: Duration = Duration::from_mins(1);
/// Default sampling interval.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::all_in(&backend).unwrap();
/// use nvitop::sampler::DEFAULT_INTERVAL;
/// assert_eq!(SamplerConfig::default().interval_value(), DEFAULT_INTERVAL);
/// ```
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);
/// How many recent samples are kept for lookup by sequence number.
const RING: usize = 64;

/// Which host processes the sampler follows.
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::all_in(&backend).unwrap();
/// use nvitop::sampler::Tracked;
/// // By default the calling process (which the simulator puts on GPU 0) is tracked.
/// let sampler = Sampler::start(devices.clone(), SamplerConfig::default());
/// let sample = sampler.latest();
/// let me = sample.processes.iter().find(|p| p.pid == std::process::id()).unwrap();
/// assert!(me.gpu[0].is_some());
/// let quiet = Sampler::start(devices, SamplerConfig::default().tracked(Tracked::None));
/// assert!(quiet.latest().processes.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Tracked {
    /// The calling process and all its descendants (re-read every sample,
    /// so data-loader workers started later are included).
    #[default]
    SelfAndChildren,
    /// These pids only.
    Pids(Vec<u32>),
    /// No process metrics.
    None,
}

/// Something that wants every sample as it is taken (runs on the sampler thread).
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// # let devices = Device::all_in(&backend).unwrap();
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use nvitop::sampler::{Sample, SampleObserver};
///
/// struct LatestTemperature(AtomicU64);
/// impl SampleObserver for LatestTemperature {
///     fn observe(&self, sample: &Sample) {
///         let celsius = sample.devices[0].temperature.unwrap_or(0.0);
///         self.0.store(celsius as u64, Ordering::Relaxed);
///     }
/// }
///
/// let sampler = Sampler::start(devices, SamplerConfig::default().interval(Duration::from_millis(10)).unwrap());
/// let observer = Arc::new(LatestTemperature(AtomicU64::new(0)));
/// sampler.observe(&(Arc::clone(&observer) as Arc<dyn SampleObserver>));
/// sampler.sample_now(); // observers see every sample, including this one
/// assert!(observer.0.load(Ordering::Relaxed) > 20);
/// ```
pub trait SampleObserver: Send + Sync {
    /// Called with each new sample; must be quick.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nvitop::{Device, backend::{Backend, sim::SimBackend}};
    /// use nvitop::sampler::{Sample, SampleObserver, Sampler, SamplerConfig};
    ///
    /// #[derive(Default)]
    /// struct Seqs(Mutex<Vec<u64>>);
    /// impl SampleObserver for Seqs {
    ///     fn observe(&self, sample: &Sample) {
    ///         self.0.lock().unwrap().push(sample.seq);
    ///     }
    /// }
    ///
    /// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
    /// let seqs = Arc::new(Seqs::default());
    /// sampler.observe(&(Arc::clone(&seqs) as Arc<dyn SampleObserver>));
    /// let sample = sampler.sample_now();
    /// assert!(seqs.0.lock().unwrap().contains(&sample.seq));
    /// ```
    fn observe(&self, sample: &Sample);
}

/// Sampler settings.
///
/// ```
/// use std::time::Duration;
/// use nvitop::sampler::SamplerConfig;
/// let config = SamplerConfig::default().interval(Duration::from_millis(100)).unwrap();
/// assert_eq!(config.interval_value(), Duration::from_millis(100));
/// assert!(SamplerConfig::default().interval(Duration::from_millis(1)).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    interval: Duration,
    tracked: Tracked,
    options: SampleOptions,
    gpm: bool,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            tracked: Tracked::default(),
            options: SampleOptions::default(),
            gpm: false,
        }
    }
}

impl SamplerConfig {
    /// Sets the interval (10 ms to 60 s).
    ///
    /// # Errors
    /// [`Error::InvalidInterval`] outside that range.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let config = SamplerConfig::default().interval(Duration::from_secs(2)).unwrap();
    /// assert_eq!(config.interval_value(), Duration::from_secs(2));
    /// let err = SamplerConfig::default().interval(Duration::from_secs(120)).unwrap_err();
    /// assert!(err.to_string().contains("out of range"), "{err}");
    /// ```
    pub fn interval(mut self, interval: Duration) -> Result<Self> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            return Err(Error::InvalidInterval { interval });
        }
        self.interval = interval;
        Ok(self)
    }

    /// The interval.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let config = SamplerConfig::default().interval(Duration::from_millis(250)).unwrap();
    /// assert_eq!(config.interval_value(), Duration::from_millis(250));
    /// ```
    pub fn interval_value(&self) -> Duration {
        self.interval
    }

    /// Chooses the tracked processes.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// use nvitop::sampler::Tracked;
    /// let config = SamplerConfig::default().tracked(Tracked::Pids(vec![std::process::id()]));
    /// let sampler = Sampler::start(devices, config);
    /// assert_eq!(sampler.latest().processes.len(), 1);
    /// ```
    #[must_use]
    pub fn tracked(mut self, tracked: Tracked) -> Self {
        self.tracked = tracked;
        self
    }

    /// The tracked processes.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// use nvitop::sampler::Tracked;
    /// assert_eq!(SamplerConfig::default().tracked_value(), &Tracked::SelfAndChildren);
    /// assert_eq!(SamplerConfig::default().tracked(Tracked::None).tracked_value(), &Tracked::None);
    /// ```
    pub fn tracked_value(&self) -> &Tracked {
        &self.tracked
    }

    /// Chooses optional readings (clocks, PCIe).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// use nvitop::sampler::SampleOptions;
    /// let config = SamplerConfig::default().options(SampleOptions::default().clocks(true));
    /// let sample = Sampler::start(devices, config).latest();
    /// assert!(sample.devices[0].sm_clock.is_some());
    /// assert_eq!(sample.devices[0].pcie_tx, None); // not asked for
    /// ```
    #[must_use]
    pub fn options(mut self, options: SampleOptions) -> Self {
        self.options = options;
        self
    }

    /// Whether to read GPM activity metrics ([`DeviceSample::gpm`]: SM,
    /// tensor, DRAM and pipe activity) on GPUs that have GPM (Hopper and
    /// newer). Off by default: GPM and DCGM's profiling metrics share the
    /// GPU's hardware counters, and reading both at once can disturb
    /// either one's figures, so turn it on only where DCGM profiling
    /// (`dcgm-exporter`, `dcgmi dmon -e 1001..`) is not running. The sampler
    /// keeps one GPM sample per device and frees it when it stops.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(devices, SamplerConfig::default().gpm(true));
    /// std::thread::sleep(std::time::Duration::from_millis(150));
    /// let sample = sampler.sample_now();
    /// assert!(sample.devices[0].gpm.unwrap().sm_active.is_some()); // H100
    /// assert_eq!(sample.devices[2].gpm, None); // A100: no GPM
    /// ```
    #[must_use]
    pub fn gpm(mut self, read: bool) -> Self {
        self.gpm = read;
        self
    }
}

struct Shared {
    devices: Vec<Device>,
    config: SamplerConfig,
    latest_seq: AtomicU64,
    ring: Mutex<VecDeque<Arc<Sample>>>,
    observers: Mutex<Vec<Weak<dyn SampleObserver>>>,
    health: Mutex<Health>,
    stop: Mutex<bool>,
    wake: Condvar,
    /// This sampler's own CPU windows over the tracked processes (shared
    /// by its thread and `sample_now`, and by no other reader).
    host_reader: Mutex<HostProcessReader>,
    /// The previous GPM sample per device (only used with `config.gpm`);
    /// dropping it with the sampler frees the samples it holds.
    gpm: Mutex<GpmSampler>,
}

/// What the sampler has already warned about, so that a lost GPU or a
/// vanished process is reported once, not at every sample.
#[derive(Debug, Default)]
struct Health {
    /// Per sampled device: lost at the previous sample.
    lost: Vec<bool>,
    /// Explicitly tracked pids found gone.
    vanished: HashSet<u32>,
    /// An observer panicked (reported once).
    observer_panicked: bool,
}

impl Health {
    /// Records whether device `i` answered; warns when it stops, notes when it is back.
    fn device(&mut self, i: usize, device: &Device, status: Result<(), crate::backend::BackendError>) {
        if self.lost.len() <= i {
            self.lost.resize(i + 1, false);
        }
        match status {
            Err(err) if !self.lost[i] => {
                self.lost[i] = true;
                log::warn!(
                    "GPU {}: {err}; its statistics are missing until it answers again",
                    device.display_index()
                );
            }
            Ok(()) if self.lost[i] => {
                self.lost[i] = false;
                log::info!("GPU {} answers again", device.display_index());
            }
            _ => {}
        }
    }

    /// Warns once for each explicitly tracked pid that has no process any more.
    fn processes(&mut self, tracked: &Tracked, found: impl Fn(u32) -> bool) {
        // Descendants come and go (data-loader workers): only pids the
        // caller named are expected to stay.
        let Tracked::Pids(pids) = tracked else { return };
        for &pid in pids {
            if found(pid) {
                self.vanished.remove(&pid);
            } else if self.vanished.insert(pid) {
                log::warn!("tracked process {pid} is gone or unreadable; its statistics are missing");
            }
        }
    }
}

/// The background sampler. Stops its thread when dropped.
///
/// ```
/// use std::sync::Arc;
/// use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
/// let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
/// let sampler = Sampler::start(Device::all_in(&backend).unwrap(), SamplerConfig::default());
/// let sample = sampler.latest();
/// assert_eq!(sample.devices.len(), 4);
/// ```
pub struct Sampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("devices", &self.shared.devices.len())
            .field("interval", &self.shared.config.interval)
            .field("latest_seq", &self.latest_seq())
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// Takes a first sample on the calling thread (so [`Sampler::latest`]
    /// always has one), then starts the sampling thread.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(devices, SamplerConfig::default());
    /// // The first sample was taken before `start` returned.
    /// assert_eq!(sampler.latest().seq, 1);
    /// assert!(sampler.latest().devices[0].gpu_utilization.is_some());
    /// ```
    pub fn start(devices: Vec<Device>, config: SamplerConfig) -> Self {
        let shared = Arc::new(Shared {
            devices,
            config,
            latest_seq: AtomicU64::new(0),
            ring: Mutex::new(VecDeque::with_capacity(RING)),
            observers: Mutex::new(Vec::new()),
            health: Mutex::new(Health::default()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            host_reader: Mutex::new(HostProcessReader::new()),
            gpm: Mutex::new(GpmSampler::new()),
        });
        take_and_publish(&shared);
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("nvitop-sampler".into())
            .spawn(move || run(&worker))
            .map_err(|err| log::error!("could not start the sampler thread: {err}; samples will not refresh"))
            .ok();
        Self { shared, thread }
    }

    /// The devices sampled, in sample order.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(vec![devices[3].clone(), devices[0].clone()], SamplerConfig::default());
    /// assert_eq!(sampler.devices()[0].index(), 3);
    /// ```
    pub fn devices(&self) -> &[Device] {
        &self.shared.devices
    }

    /// The sampling interval.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let config = SamplerConfig::default().interval(Duration::from_millis(50)).unwrap();
    /// assert_eq!(Sampler::start(devices, config).interval(), Duration::from_millis(50));
    /// ```
    pub fn interval(&self) -> Duration {
        self.shared.config.interval
    }

    /// Sequence number of the newest sample: one atomic load, no lock.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(devices, SamplerConfig::default());
    /// let before = sampler.latest_seq();
    /// sampler.sample_now();
    /// assert!(sampler.latest_seq() > before);
    /// ```
    pub fn latest_seq(&self) -> u64 {
        self.shared.latest_seq.load(Ordering::Acquire)
    }

    /// The newest sample.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(devices, SamplerConfig::default());
    /// let sample = sampler.latest();
    /// assert_eq!(sample.seq, sampler.latest_seq());
    /// assert!(sample.devices[0].temperature.unwrap() > 20.0);
    /// ```
    pub fn latest(&self) -> Arc<Sample> {
        let ring = self.shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.back()
            .cloned()
            .unwrap_or_else(|| Arc::new(empty_sample(self.shared.devices.len())))
    }

    /// The sample with this sequence number if still kept, else the closest
    /// one kept (the oldest for an evicted number, the newest for a future one).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(devices, SamplerConfig::default());
    /// let first = sampler.latest();
    /// sampler.sample_now();
    /// assert_eq!(sampler.sample(first.seq).seq, first.seq);
    /// assert_eq!(sampler.sample(u64::MAX).seq, sampler.latest_seq()); // a future number: the newest
    /// ```
    pub fn sample(&self, seq: u64) -> Arc<Sample> {
        let ring = self.shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let found = ring.iter().find(|s| s.seq == seq).or_else(|| {
            if ring.front().is_some_and(|s| seq < s.seq) {
                ring.front()
            } else {
                ring.back()
            }
        });
        found
            .cloned()
            .unwrap_or_else(|| Arc::new(empty_sample(self.shared.devices.len())))
    }

    /// Registers an observer; it is dropped from the list when its last `Arc` goes.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use nvitop::sampler::{Sample, SampleObserver};
    /// struct Count(AtomicUsize);
    /// impl SampleObserver for Count {
    ///     fn observe(&self, _: &Sample) {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    /// let sampler = Sampler::start(devices, SamplerConfig::default());
    /// let count = Arc::new(Count(AtomicUsize::new(0)));
    /// sampler.observe(&(Arc::clone(&count) as Arc<dyn SampleObserver>));
    /// sampler.sample_now();
    /// sampler.sample_now();
    /// assert!(count.0.load(Ordering::Relaxed) >= 2);
    /// ```
    pub fn observe(&self, observer: &Arc<dyn SampleObserver>) {
        let mut observers = self.shared.observers.lock().unwrap_or_else(PoisonError::into_inner);
        observers.push(Arc::downgrade(observer));
    }

    /// Takes a sample now, on the calling thread, and publishes it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let sampler = Sampler::start(devices, SamplerConfig::default());
    /// let fresh = sampler.sample_now();
    /// assert_eq!(fresh.seq, sampler.latest_seq());
    /// assert_eq!(fresh.devices.len(), 4);
    /// ```
    pub fn sample_now(&self) -> Arc<Sample> {
        take_and_publish(&self.shared)
    }

    /// Stops the thread and waits for it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use nvitop::{Device, backend::{Backend, sim::SimBackend}, sampler::{Sampler, SamplerConfig}};
    /// # let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    /// # let devices = Device::all_in(&backend).unwrap();
    /// let mut sampler = Sampler::start(devices, SamplerConfig::default().interval(Duration::from_millis(10)).unwrap());
    /// sampler.stop();
    /// let seq = sampler.latest_seq();
    /// std::thread::sleep(Duration::from_millis(30));
    /// assert_eq!(sampler.latest_seq(), seq); // no more samples
    /// ```
    pub fn stop(&mut self) {
        *self.shared.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the sampler thread panicked");
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared) {
    loop {
        {
            let stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
            let (stop, _) = shared
                .wake
                .wait_timeout_while(stop, shared.config.interval, |stop| !*stop)
                .unwrap_or_else(PoisonError::into_inner);
            if *stop {
                return;
            }
        }
        take_and_publish(shared);
    }
}

fn take_and_publish(shared: &Shared) -> Arc<Sample> {
    // The sampler thread and any number of `sample_now` callers take samples
    // at once. The number is given when the sample is published, under the
    // ring's lock, so numbers are unique, the ring is in number order and
    // `latest_seq` (stored under the same lock) never goes back. A sample
    // that took longer than one started after it is numbered after it.
    let mut taken = take_sample(shared);
    let sample = {
        let mut ring = shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        taken.seq = shared.latest_seq.load(Ordering::Acquire) + 1;
        let sample = Arc::new(taken);
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(Arc::clone(&sample));
        shared.latest_seq.store(sample.seq, Ordering::Release);
        sample
    };
    let observers: Vec<Arc<dyn SampleObserver>> = {
        let mut list = shared.observers.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| w.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    for observer in observers {
        // A panicking observer must not take the sampler thread (and with
        // it every logger's fresh values) down.
        if catch_unwind(AssertUnwindSafe(|| observer.observe(&sample))).is_err() {
            let mut health = shared.health.lock().unwrap_or_else(PoisonError::into_inner);
            if !health.observer_panicked {
                health.observer_panicked = true;
                log::error!("a sample observer panicked; the sampler goes on");
            }
        }
    }
    sample
}

fn tracked_pids(tracked: &Tracked) -> Vec<u32> {
    match tracked {
        Tracked::None => Vec::new(),
        Tracked::Pids(pids) => pids.clone(),
        Tracked::SelfAndChildren => {
            let mut pids = Vec::new();
            let mut stack = vec![HostProcess::current()];
            while let Some(process) = stack.pop() {
                pids.push(process.pid());
                if pids.len() < 4096 {
                    stack.extend(process.children());
                }
            }
            pids
        }
    }
}

/// A sample numbered 0; [`take_and_publish`] numbers it.
fn take_sample(shared: &Shared) -> Sample {
    let pids = tracked_pids(&shared.config.tracked);
    let mut per_device_tracked = Vec::with_capacity(shared.devices.len());
    let mut devices = Vec::with_capacity(shared.devices.len());
    for (i, device) in shared.devices.iter().enumerate() {
        // A lost GPU answers nothing: skip its calls, record all N/A.
        let status = device.status();
        let lost = status.is_err();
        shared
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .device(i, device, status);
        if lost {
            per_device_tracked.push(std::collections::HashMap::new());
            devices.push(DeviceSample::default());
            continue;
        }
        let tracked = if pids.is_empty() {
            std::collections::HashMap::new()
        } else {
            sample::read_tracked(device, &pids)
        };
        let totals = sample::TrackedGpu {
            memory: sum(tracked.values().map(|p| p.gpu_memory)),
            sm: sum(tracked.values().map(|p| p.gpu_sm_utilization)),
        };
        let mut reading = sample::read_device(device, shared.config.options, &totals);
        if shared.config.gpm {
            reading.gpm = shared.gpm.lock().unwrap_or_else(PoisonError::into_inner).sample(device);
        }
        devices.push(reading);
        per_device_tracked.push(tracked);
    }
    let infos = shared
        .host_reader
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .infos(&pids);
    shared
        .health
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .processes(&shared.config.tracked, |pid| infos.contains_key(&pid));
    let processes = pids
        .iter()
        .map(|&pid| ProcessSample {
            pid,
            host: infos.get(&pid).cloned(),
            gpu: per_device_tracked.iter().map(|t| t.get(&pid).cloned()).collect(),
        })
        .collect();
    Sample {
        seq: 0,
        timestamp: unix_now(),
        devices,
        host: host::snapshot(),
        processes,
    }
}

fn sum(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values.flatten().fold(None, |acc, v| Some(acc.unwrap_or(0.0) + v))
}

fn empty_sample(devices: usize) -> Sample {
    Sample {
        seq: 0,
        timestamp: unix_now(),
        devices: vec![DeviceSample::default(); devices],
        host: crate::host::HostSnapshot::default(),
        processes: Vec::new(),
    }
}

//! The sampler on the simulator: what it tracks, and that nothing it meets
//! stops it — a lost GPU and a vanished process become missing values and
//! one `log` warning each, a panicking observer is reported and sampling goes on.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use nvitop::Device;
use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::sampler::{Sample, SampleObserver, Sampler, SamplerConfig, Tracked};

/// Every `log` record of this test binary, as `LEVEL message`.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(line);
        }
    }
    fn flush(&self) {}
}

/// The captured log, installed once; tests that read it hold the returned
/// guard, so they do not see each other's records.
fn captured_log() -> (MutexGuard<'static, ()>, &'static Capture) {
    static SERIAL: Mutex<()> = Mutex::new(());
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let capture = *CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        capture
    });
    capture.0.lock().unwrap().clear();
    (guard, capture)
}

fn lines_with(capture: &Capture, needle: &str) -> Vec<String> {
    capture
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .cloned()
        .collect()
}

/// A sampler that only samples when asked (its own thread waits a minute).
fn manual(devices: Vec<Device>, tracked: Tracked) -> Sampler {
    let config = SamplerConfig::default()
        .interval(Duration::from_mins(1))
        .unwrap()
        .tracked(tracked);
    Sampler::start(devices, config)
}

#[test]
fn a_lost_gpu_is_missing_values_and_one_warning_until_it_is_back() {
    let (_serial, log) = captured_log();
    // The `faults` preset loses GPU 3 at t = 30 s.
    let sim = Arc::new(SimBackend::from_preset("faults").unwrap());
    sim.set_time(29.0);
    let backend: Arc<dyn Backend> = sim.clone();
    let sampler = manual(Device::from_indices_in(&backend, &[0, 3]).unwrap(), Tracked::None);
    assert!(sampler.latest().devices[1].gpu_utilization.is_some());

    sim.set_time(31.0);
    for _ in 0..3 {
        let sample = sampler.sample_now();
        assert_eq!(sample.devices[1], nvitop::sampler::DeviceSample::default(), "all N/A");
        assert!(sample.devices[0].gpu_utilization.is_some(), "GPU 0 unaffected");
    }
    let warnings = lines_with(log, "GPU 3");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("WARN"), "{warnings:?}");
    assert!(warnings[0].contains("missing"), "{warnings:?}");

    sim.set_time(29.0);
    assert!(sampler.sample_now().devices[1].gpu_utilization.is_some());
    let notes = lines_with(log, "GPU 3");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[1].starts_with("INFO") && notes[1].contains("answers again"),
        "{notes:?}"
    );
}

#[test]
fn an_explicitly_tracked_process_that_exits_is_missing_values_and_one_warning() {
    let (_serial, log) = captured_log();
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    let sampler = manual(
        Device::from_indices_in(&backend, &[0]).unwrap(),
        Tracked::Pids(vec![pid]),
    );
    assert!(sampler.latest().processes[0].host.is_some());

    child.kill().unwrap();
    child.wait().unwrap();
    for _ in 0..3 {
        let sample = sampler.sample_now();
        assert_eq!(sample.processes.len(), 1);
        assert_eq!(sample.processes[0].pid, pid);
        assert!(sample.processes[0].host.is_none(), "{:?}", sample.processes[0]);
    }
    let warnings = lines_with(log, &format!("process {pid}"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("WARN"), "{warnings:?}");
}

#[test]
fn descendants_are_tracked_by_default_and_leave_quietly() {
    let (_serial, log) = captured_log();
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    let sampler = manual(
        Device::from_indices_in(&backend, &[0]).unwrap(),
        Tracked::SelfAndChildren,
    );
    let pids = |sample: &Sample| sample.processes.iter().map(|p| p.pid).collect::<Vec<_>>();
    let first = sampler.latest();
    assert!(pids(&first).contains(&std::process::id()), "{:?}", pids(&first));
    assert!(pids(&first).contains(&pid), "the child is tracked: {:?}", pids(&first));

    child.kill().unwrap();
    child.wait().unwrap();
    let after = sampler.sample_now();
    assert!(!pids(&after).contains(&pid), "{:?}", pids(&after));
    // A data-loader worker that exits is routine, not worth a warning.
    assert!(lines_with(log, &pid.to_string()).is_empty());
}

struct Panics(AtomicUsize);

impl SampleObserver for Panics {
    fn observe(&self, _: &Sample) {
        self.0.fetch_add(1, Ordering::Relaxed);
        panic!("an observer's bug");
    }
}

#[test]
fn a_panicking_observer_does_not_stop_the_sampler() {
    let (_serial, log) = captured_log();
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    let sampler = Sampler::start(
        Device::from_indices_in(&backend, &[0]).unwrap(),
        SamplerConfig::default()
            .interval(Duration::from_millis(10))
            .unwrap()
            .tracked(Tracked::None),
    );
    let observer = Arc::new(Panics(AtomicUsize::new(0)));
    sampler.observe(&(Arc::clone(&observer) as Arc<dyn SampleObserver>));
    // On the calling thread: the panic does not reach the caller.
    let seq = sampler.sample_now().seq;
    // On the sampler thread: it keeps sampling (and calling the observer).
    let deadline = Instant::now() + Duration::from_secs(20);
    while sampler.latest_seq() < seq + 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(sampler.latest_seq() >= seq + 3, "the sampler thread stopped");
    assert!(observer.0.load(Ordering::Relaxed) >= 3);
    let errors = lines_with(log, "observer panicked");
    assert_eq!(errors.len(), 1, "reported once: {errors:?}");
}

#[test]
fn samples_are_kept_for_lookup_by_sequence_number() {
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    let sampler = manual(Device::from_indices_in(&backend, &[0]).unwrap(), Tracked::None);
    let first = sampler.latest().seq;
    for _ in 0..100 {
        sampler.sample_now();
    }
    let newest = sampler.latest_seq();
    assert_eq!(newest, first + 100);
    // The last 64 are kept; an older number gets the oldest kept one.
    assert_eq!(sampler.sample(newest - 63).seq, newest - 63);
    assert_eq!(sampler.sample(first).seq, newest - 63);
}

#[test]
fn concurrent_samples_get_unique_increasing_numbers_in_an_ordered_ring() {
    // The sampler thread at the shortest interval and four threads calling
    // `sample_now` (as the collector does from the training thread) at once.
    let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
    let config = SamplerConfig::default()
        .interval(nvitop::sampler::MIN_INTERVAL)
        .unwrap()
        .tracked(Tracked::None);
    let sampler = Sampler::start(Device::all_in(&backend).unwrap(), config);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (numbers, watched) = std::thread::scope(|scope| {
        // A reader that must never see the newest number go back.
        let watcher = scope.spawn(|| {
            let mut last = 0;
            let mut backwards = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let now = sampler.latest_seq();
                if now < last {
                    backwards.push((last, now));
                }
                last = now;
            }
            backwards
        });
        let takers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| (0..150).map(|_| sampler.sample_now().seq).collect::<Vec<_>>()))
            .collect();
        let numbers: Vec<u64> = takers.into_iter().flat_map(|t| t.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        (numbers, watcher.join().unwrap())
    });
    let distinct: std::collections::HashSet<u64> = numbers.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        numbers.len(),
        "600 samples, {} distinct numbers",
        distinct.len()
    );
    assert!(watched.is_empty(), "latest_seq went back: {watched:?}");
    // The ring holds the newest numbers in order, each exactly once.
    let newest = sampler.latest_seq();
    assert_eq!(sampler.latest().seq, newest);
    for seq in newest - 63..=newest {
        assert_eq!(sampler.sample(seq).seq, seq, "ring out of order near {seq}");
    }
    assert!(newest >= 601, "every sample was numbered: {newest}");
}

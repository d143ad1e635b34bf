//! Per-step energy from the driver's energy counter, end to end on the
//! simulator (its counter integrates the simulated power as a driver's does).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use nvitop::backend::Backend;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::{MemorySink, RecordKind};
use nvitop::{Device, GpuStatsLogger};

#[test]
fn step_energies_come_from_the_counter_and_add_up_to_the_total() {
    let sim = SimBackend::default_machine();
    sim.follow_wall_clock();
    let backend: Arc<dyn Backend> = Arc::new(sim);
    let device = Device::new_in(&backend, 0).unwrap();
    let sink = MemorySink::new();
    let rows = sink.handle();
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::clone(&backend))
        .sink(Box::new(sink))
        .interval(Duration::from_millis(20))
        .energy(true)
        .training_status(false)
        .build()
        .unwrap();
    let outer_start = Instant::now();
    let before_mj = device.total_energy_consumption().unwrap();
    logger.on_train_start();
    logger.on_train_epoch_start(0);
    // Steps of ~3 ms, far shorter than the 20 ms between samples: each
    // step's energy is interpolated between the samples around it. The
    // test times, from outside the hooks, an upper bound of each gap
    // between a step's end and the next one's start (on a loaded machine
    // the thread can be preempted there) and a lower bound of the run.
    let mut gaps = Duration::ZERO;
    let mut last_end_called: Option<Instant> = None;
    let mut first_start_returned = None;
    for step in 0..60 {
        logger.on_train_batch_start(step);
        let started = Instant::now();
        first_start_returned.get_or_insert(started);
        if let Some(end_called) = last_end_called {
            gaps += started - end_called;
        }
        std::thread::sleep(Duration::from_millis(3));
        last_end_called = Some(Instant::now());
        logger.on_train_batch_end(step);
    }
    let after_mj = device.total_energy_consumption().unwrap();
    let outer = outer_start.elapsed();
    let run = last_end_called.unwrap() - first_start_returned.unwrap();
    // Fractions of time (so, at the simulator's steady power, of energy)
    // that the steps cover of the run, and the run of the outer reads.
    let steps_share = 1.0 - gaps.as_secs_f64() / run.as_secs_f64();
    let run_share = run.as_secs_f64() / outer.as_secs_f64();
    let report = logger.close();
    assert!(report.is_clean(), "{report}");

    let records = rows.records();
    let ends: Vec<_> = records.iter().filter(|r| r.kind == RecordKind::BatchEnd).collect();
    assert_eq!(ends.len(), 60);
    let steps: Vec<f64> = ends
        .iter()
        .map(|r| r.get("gpu_id: 0/energy.step (J)").unwrap())
        .collect();
    assert!(steps.iter().all(|&j| j > 0.0), "{steps:?}");
    let total = ends.last().unwrap().get("gpu_id: 0/energy.total (J)").unwrap();
    let sum: f64 = steps.iter().sum();
    // The total runs from the first step's start to the last one's end; the
    // steps leave out only the gaps between one end and the next start
    // (microseconds on an idle machine).
    assert!(sum <= total * (1.0 + 1e-9), "{sum} > {total}");
    assert!(
        sum >= total * steps_share * 0.97,
        "{sum} vs {total}: the steps covered at least {:.1} % of the run",
        steps_share * 100.0
    );
    // The counter grew at least as much between reads just outside the run.
    let growth = (after_mj - before_mj) as f64 / 1000.0;
    assert!(
        total <= growth + 1e-3 && total >= growth * run_share * 0.95,
        "{total} J vs {growth} J: the run was at least {:.1} % of the time between the reads",
        run_share * 100.0
    );
    // Batch starts carry no energy; the total only grows.
    assert!(
        records
            .iter()
            .filter(|r| r.kind == RecordKind::BatchStart)
            .all(|r| r.get("gpu_id: 0/energy.step (J)").is_none())
    );
    let totals: Vec<f64> = ends
        .iter()
        .map(|r| r.get("gpu_id: 0/energy.total (J)").unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    // The close report gives the run's energy per GPU.
    assert_eq!(
        report.energy_mj,
        vec![("gpu_id: 0".to_owned(), (total * 1000.0).round() as u64)]
    );
}

#[test]
fn without_energy_the_report_has_no_energy() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(MemorySink::new()))
        .training_status(false)
        .build()
        .unwrap();
    drop(logger.step(0));
    assert!(logger.close().energy_mj.is_empty());
}

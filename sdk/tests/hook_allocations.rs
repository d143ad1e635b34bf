//! The training thread allocates nothing per hook in steady state.
//!
//! A counting global allocator counts the allocations made by threads that
//! opted in, each thread its own count; the sampler and sink threads
//! allocate freely and are not counted.
#![allow(clippy::unwrap_used, missing_docs)]
// A global allocator is an `unsafe impl`: it only forwards to the system
// allocator and bumps a counter, which is sound.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;
use nvitop::sink::MemorySink;

mod common;
use common::SlowSink;

struct Counting;

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
    /// Allocations of this thread while `COUNTED` was set (per thread, so
    /// tests running side by side do not add up).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    if COUNTED.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTED.with(|c| c.set(true));
    f();
    COUNTED.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

// SAFETY: every call is forwarded unchanged to `System`; the counter update
// cannot allocate (const-initialized thread-local `Cell`s).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn hooks_do_not_allocate() {
    let sim = SimBackend::default_machine();
    sim.set_time(2.0);
    let logger = GpuStatsLogger::builder_for_physical_indices(&[0, 1])
        .backend(Arc::new(sim))
        .sink(Box::new(MemorySink::new()))
        .intra_step_time(true)
        .inter_step_time(true)
        .temperature(true)
        .scalars(&["train/loss"])
        .channel_capacity(200_000)
        .build()
        .unwrap();
    logger.on_train_start();
    logger.on_train_epoch_start(0);
    // Warm up: the first calls may touch lazily initialised state (clocks).
    for step in 0..10 {
        logger.on_train_batch_start(step);
        logger.on_train_batch_end(step);
    }
    let devices = [0_u32, 1];
    let sync = || {
        std::hint::black_box(&devices);
    };
    let allocations = allocations_in(|| {
        for step in 10..10_010 {
            logger.on_train_batch_start(step);
            logger.on_train_batch_end(step);
            drop(logger.step(step));
            // A synced step: the guard holds the sync itself, no box.
            let _synced = logger.step_with_sync(step, &sync);
            // The user's own scalars, declared and not.
            logger.log_scalar("train/loss", 0.5, step);
            logger.log_scalars(&[("train/lr", 1e-3), ("train/grad_norm", 1.5)], step);
        }
        logger.on_train_epoch_end(0);
        // Every other hook too.
        for epoch in 1..100 {
            logger.on_train_epoch_start(epoch);
            logger.on_validation_start();
            logger.on_validation_end();
            logger.on_train_epoch_end(epoch);
        }
        logger.on_train_start();
        logger.on_train_end();
    });
    assert_eq!(allocations, 0);
    let report = logger.close();
    assert_eq!(report.dropped, 0, "{report:?}");
}

#[test]
fn hooks_do_not_allocate_when_rows_are_dropped() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(SlowSink(Duration::from_millis(50))))
        .intra_step_time(true)
        .channel_capacity(2)
        .build()
        .unwrap();
    for step in 0..10 {
        drop(logger.step(step));
    }
    let allocations = allocations_in(|| {
        for step in 10..10_010 {
            drop(logger.step(step));
        }
    });
    assert_eq!(allocations, 0);
    let report = logger.close();
    assert!(report.dropped > 19_000, "{report:?}");
}

#[test]
fn hooks_do_not_allocate_when_steps_are_skipped_by_the_cadence() {
    let logger = GpuStatsLogger::builder(&[0])
        .backend(Arc::new(SimBackend::default_machine()))
        .sink(Box::new(MemorySink::new()))
        .intra_step_time(true)
        .inter_step_time(true)
        .log_every_n_steps(50)
        .build()
        .unwrap();
    drop(logger.step(0));
    let allocations = allocations_in(|| {
        for step in 1..10_001 {
            drop(logger.step(step));
        }
    });
    assert_eq!(allocations, 0);
    let report = logger.close();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.written, 2 * 200);
}

//! The host snapshot tells the calling process's own CPU use apart from the
//! rest of the host's. Alone in its own test binary: the figure is
//! process-wide, so other tests' threads must not run meanwhile.

use std::time::{Duration, Instant};

use nvitop::host;

/// Keeps one thread busy for `duration`.
fn spin(duration: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < duration {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

#[test]
fn own_cpu_use_is_measured_over_the_window_and_left_out_of_others() {
    let window = host::min_cpu_window();
    host::prime();
    // One busy thread for the whole window: a full CPU's worth (less what a
    // busy machine takes from it, hence the loose lower bound).
    spin(window * 2);
    let busy = host::snapshot();
    let one_cpu = 100.0 / busy.cpu_count as f64;
    assert!(
        busy.self_cpu_percent > one_cpu * 0.3 && busy.self_cpu_percent <= one_cpu * 1.2,
        "one spinning thread of {} CPUs: own share {:.1}%, expected about {one_cpu:.1}%",
        busy.cpu_count,
        busy.self_cpu_percent,
    );
    assert!(busy.others_cpu_percent() <= busy.cpu_percent);
    assert!((busy.others_cpu_percent() - (busy.cpu_percent - busy.self_cpu_percent).max(0.0)).abs() < 1e-9);

    // Then idle for a window: next to nothing of our own.
    std::thread::sleep(window * 2);
    let idle = host::snapshot();
    assert!(
        idle.self_cpu_percent < one_cpu * 0.3,
        "a sleeping process: own share {:.1}%",
        idle.self_cpu_percent
    );
}

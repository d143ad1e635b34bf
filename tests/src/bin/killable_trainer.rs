//! A training loop that logs to TensorBoard and CSV until it is killed.
//!
//! Used by the conformance tests to check that files left by a process
//! killed with SIGKILL are read by TensorBoard up to the last flushed record.
//! Arguments: `RUN_DIR STEP_MS`. Prints `step N` after each flushed epoch.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nvitop::GpuStatsLogger;
use nvitop::backend::sim::SimBackend;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(step_ms)) = (args.next(), args.next().and_then(|v| v.parse::<u64>().ok())) else {
        eprintln!("usage: killable_trainer RUN_DIR STEP_MS");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let sim = SimBackend::default_machine();
    let logger = match GpuStatsLogger::builder(&[0])
        .backend(Arc::new(sim))
        .tensorboard(&dir)
        .csv(dir.join("gpu_stats.csv"))
        .interval(Duration::from_millis(20))
        .intra_step_time(true)
        .build()
    {
        Ok(logger) => logger,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    for epoch in 0.. {
        logger.on_train_epoch_start(epoch);
        for i in 0..10 {
            let step = epoch * 10 + i;
            let _s = logger.step(step);
            std::thread::sleep(Duration::from_millis(step_ms));
        }
        logger.on_train_epoch_end(epoch);
        // Epoch end flushes on the sink thread; wait for it so the parent
        // knows what must be on disk when it kills us.
        let report = logger.flush();
        if writeln!(stdout, "step {} written {}", epoch * 10 + 9, report.written).is_err() || stdout.flush().is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

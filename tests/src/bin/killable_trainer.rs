//! A training loop that logs to TensorBoard and CSV until it is killed.
//!
//! Used by the conformance tests to check that files left by a process
//! killed with SIGKILL are read by TensorBoard up to the last flushed record.
//! Arguments: `RUN_DIR STEP_MS [--no-flush]`. Prints `step N written M`
//! after each epoch, once `flush()` has returned; with `--no-flush` it never
//! calls `flush()` and prints `step N` as soon as the epoch ends, leaving the
//! flushing to the logger itself (at each epoch end and every 2 s).

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
        eprintln!("usage: killable_trainer RUN_DIR STEP_MS [--no-flush]");
        return ExitCode::from(2);
    };
    let explicit_flush = match args.next().as_deref() {
        None => true,
        Some("--no-flush") => false,
        Some(other) => {
            eprintln!("unknown option '{other}'; usage: killable_trainer RUN_DIR STEP_MS [--no-flush]");
            return ExitCode::from(2);
        }
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
        let line = if explicit_flush {
            // Epoch end flushes on the sink thread; wait for it so the parent
            // knows what must be on disk when it kills us.
            let report = logger.flush();
            format!("step {} written {}", epoch * 10 + 9, report.written)
        } else {
            format!("step {}", epoch * 10 + 9)
        };
        if writeln!(stdout, "{line}").is_err() || stdout.flush().is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

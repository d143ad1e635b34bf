//! `nvitop-monitor`: prints the GPU status once and exits, or with `-m`
//! runs the live viewer.

use std::io::BufWriter;
use std::process::ExitCode;

use nvitop_monitor::live::Ending;
use nvitop_monitor::{Cli, Environment, Failure, run};

/// Bytes of output gathered before each write to stdout: a few chunks of
/// the process panel.
const OUT_BUFFER: usize = 32 * 1024;

fn main() -> ExitCode {
    tune_malloc();
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // One line naming the bad value; clap's usage block would bury it.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("nvitop-monitor: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    if cli.monitor.is_some() && !cli.once {
        return match nvitop_monitor::live::launch::run(&cli, &Environment::from_process(), &mut std::io::stderr()) {
            Ok(Ending::Quit | Ending::Disconnected) => ExitCode::SUCCESS,
            // As a shell reports a process ended by that signal.
            Ok(Ending::Signal(signal)) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
            Err(failure) => {
                eprintln!("nvitop-monitor: error: {failure}");
                ExitCode::from(failure.exit_code())
            }
        };
    }
    // Buffered: stdout alone flushes at every newline, a write per line.
    let mut stdout = BufWriter::with_capacity(OUT_BUFFER, std::io::stdout().lock());
    match run(&cli, &Environment::from_process(), &mut stdout, &mut std::io::stderr()) {
        // A closed pipe (`| head`) is not an error worth reporting.
        Ok(()) | Err(Failure::Output(_)) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("nvitop-monitor: error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// glibc's allocator tuned for a small, long-running monitor, before any
/// thread starts (measured in `bench/README.md`, issue 11: the live
/// viewer's resident memory 9.98 -> 9.48 MiB on `h100x8`):
///
/// - One arena. glibc gives each thread that allocates an arena of its
///   own, and pages an arena has touched stay resident; the viewer's
///   threads (UI, collector, input, signals, `/proc` readers) allocate
///   little and rarely at once, so sharing one costs no waiting worth
///   measuring.
/// - Blocks of 128 KiB and more always mapped on their own. glibc's
///   threshold starts there but rises to the size of each such block
///   freed, after which every reading's transient buffers (the sort
///   scratch and the lookup table of 512 processes, a few hundred KiB
///   each) are carved from the arena and keep its high-water mark
///   resident for good; mapped blocks are given back when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only sets allocator parameters; called first thing
    // in main, before any thread exists. A refused setting (return 0)
    // leaves glibc's default, which is correct, only larger.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

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

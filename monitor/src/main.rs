//! `nvitop-monitor`: prints the GPU status once and exits.

use std::io::Write as _;
use std::process::ExitCode;

use nvitop_monitor::{Cli, Environment, run};

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
    match run(&cli, &Environment::from_process()) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("nvitop-monitor: error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

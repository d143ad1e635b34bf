//! `nvitop-exporter`: serves Prometheus metrics of this machine's GPUs.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use nvitop_exporter::cli::{Cli, default_hostname};
use nvitop_exporter::collect::Source;
use nvitop_exporter::publish::Collector;
use nvitop_exporter::server::Server;
use nvitop_exporter::tls::TlsConfig;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("nvitop-exporter: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, err)) => {
            eprintln!("nvitop-exporter: error: {err:#}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: &Cli) -> Result<(), (u8, anyhow::Error)> {
    // Signals first, so a SIGTERM during start-up is not lost.
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(|err| (1, err.into()))?;
    let source =
        Source::open(cli.simulate.as_deref(), cli.only.as_deref()).map_err(|err| (err.exit_code(), err.into()))?;
    let source = source.with_gpm(!cli.no_gpm);
    let hostname = cli.hostname.clone().unwrap_or_else(default_hostname);
    let lines = source.describe();
    let simulated = if source.is_simulated() { " (simulated)" } else { "" };
    eprintln!("nvitop-exporter: found {} device(s){simulated}", lines.len());
    for line in lines {
        eprintln!("nvitop-exporter: {line}");
    }
    let tls = match (&cli.certfile, &cli.keyfile) {
        (Some(cert), Some(key)) => Some(std::sync::Arc::new(
            TlsConfig::load(cert, key, cli.client_cafile.as_deref()).map_err(|err| (2, err.into()))?,
        )),
        _ => None,
    };
    let (latest, mut collector) = Collector::start(source, hostname.clone(), cli.interval_duration());
    let server = Server::start(SocketAddr::new(cli.bind_address, cli.port), &latest, tls.clone())
        .map_err(|err| (1, err.into()))?;
    let addr = server.local_addr();
    let shown = if addr.is_ipv6() {
        format!("[{}]:{}", addr.ip(), addr.port())
    } else {
        addr.to_string()
    };
    // Tests and scripts read this line for the port chosen with --port 0.
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("nvitop-exporter: serving {scheme}://{shown}/metrics (hostname label {hostname:?})");
    let signal = signals.forever().next();
    eprintln!("nvitop-exporter: {} received, stopping", signal_name(signal));
    server.stop();
    collector.stop();
    Ok(())
}

fn signal_name(signal: Option<i32>) -> &'static str {
    match signal {
        Some(SIGTERM) => "SIGTERM",
        Some(SIGINT) => "SIGINT",
        _ => "signal",
    }
}

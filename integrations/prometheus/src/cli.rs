//! The command line (flags compatible with nvitop-exporter 1.7.2 where it
//! has them).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// The shortest interval between passes.
pub const MIN_INTERVAL: f64 = 0.25;

/// Prometheus exporter for NVIDIA GPUs (metric names of nvitop-exporter 1.7.2).
#[derive(Debug, Clone, Parser)]
#[command(name = "nvitop-exporter", version)]
pub struct Cli {
    /// Value of the `hostname` label (default: this machine's primary IP address, as nvitop-exporter).
    #[arg(long, short = 'H', visible_alias = "host", value_name = "HOSTNAME")]
    pub hostname: Option<String>,

    /// Local address to bind to. The default serves only this machine.
    #[arg(
        long,
        short = 'B',
        visible_alias = "bind",
        value_name = "ADDRESS",
        default_value = "127.0.0.1"
    )]
    pub bind_address: IpAddr,

    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, short = 'p', default_value_t = 8000)]
    pub port: u16,

    /// Seconds between collection passes (at least 0.25).
    #[arg(long, value_name = "SEC", default_value_t = 1.0, value_parser = parse_interval)]
    pub interval: f64,

    /// Only these GPUs (physical indices).
    #[arg(long, short = 'o', num_args = 1.., value_name = "INDEX")]
    pub only: Option<Vec<u32>>,

    /// Do not take GPM samples (the `gpu_*_active_ratio` families). GPM and
    /// DCGM's profiling metrics share the GPU's hardware counters: on a node
    /// whose dcgm-exporter reads `DCGM_FI_PROF_*`, turn GPM off here.
    #[arg(long)]
    pub no_gpm: bool,

    /// Serve a simulated machine: `1` (the default machine), a preset name
    /// (default, h100x8, mig, rtx4090, a100x4, faults) or a scenario file.
    /// Without it, `NVITOP_SIMULATE` is honoured; without both, the real driver.
    #[arg(long, num_args = 0..=1, default_missing_value = "1", value_name = "PRESET|SCENARIO")]
    pub simulate: Option<String>,

    /// TLS certificate chain (PEM): serve HTTPS. Needs --keyfile.
    #[arg(long, value_name = "PATH", requires = "keyfile", help_heading = "TLS / mTLS options")]
    pub certfile: Option<PathBuf>,

    /// TLS private key (PEM; PKCS#8, PKCS#1 or SEC1). Needs --certfile.
    #[arg(
        long,
        value_name = "PATH",
        requires = "certfile",
        help_heading = "TLS / mTLS options"
    )]
    pub keyfile: Option<PathBuf>,

    /// CA bundle (PEM) whose client certificates are accepted; scrapers without one are refused (mutual TLS).
    #[arg(long, value_name = "PATH", requires_all = ["certfile", "client_auth_required"], help_heading = "TLS / mTLS options")]
    pub client_cafile: Option<PathBuf>,

    /// Require client certificates (with --client-cafile), as nvitop-exporter spells it.
    #[arg(long, requires = "client_cafile", help_heading = "TLS / mTLS options")]
    pub client_auth_required: bool,
}

impl Cli {
    /// The interval as a duration.
    ///
    /// ```
    /// use clap::Parser;
    /// let cli = nvitop_exporter::cli::Cli::parse_from(["nvitop-exporter", "--interval", "0.5"]);
    /// assert_eq!(cli.interval_duration().as_millis(), 500);
    /// ```
    pub fn interval_duration(&self) -> Duration {
        Duration::from_secs_f64(self.interval)
    }
}

fn parse_interval(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(MIN_INTERVAL..=3600.0).contains(&seconds) {
        return Err(format!("{text} s is outside {MIN_INTERVAL} s ..= 3600 s"));
    }
    Ok(seconds)
}

/// The default `hostname` label: the address this machine's traffic leaves
/// from (what nvitop-exporter shows), else the host name, else `localhost`.
/// Connecting a UDP socket only picks a route; nothing is sent.
pub fn default_hostname() -> String {
    let routed = std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|socket| {
            socket.connect(("10.254.254.254", 1))?;
            socket.local_addr()
        })
        .ok()
        .map(|addr| addr.ip())
        .filter(|ip| !ip.is_unspecified());
    routed.map_or_else(
        || {
            rustix::system::uname()
                .nodename()
                .to_str()
                .map_or_else(|_| "localhost".to_owned(), str::to_owned)
        },
        |ip| ip.to_string(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_serve_loopback_port_8000_every_second() {
        let cli = Cli::try_parse_from(["nvitop-exporter"]).unwrap();
        assert_eq!(cli.bind_address.to_string(), "127.0.0.1");
        assert_eq!(cli.port, 8000);
        assert!((cli.interval - 1.0).abs() < f64::EPSILON);
        assert_eq!(cli.simulate, None);
    }

    #[test]
    fn interval_below_a_quarter_second_is_refused() {
        let err = Cli::try_parse_from(["nvitop-exporter", "--interval", "0.1"]).unwrap_err();
        assert!(err.to_string().contains("outside 0.25 s"), "{err}");
        assert!(Cli::try_parse_from(["nvitop-exporter", "--interval", "nan"]).is_err());
    }

    #[test]
    fn simulate_without_a_value_is_the_default_machine() {
        let cli = Cli::try_parse_from(["nvitop-exporter", "--simulate", "-o", "0", "2"]).unwrap();
        assert_eq!(cli.simulate.as_deref(), Some("1"));
        assert_eq!(cli.only, Some(vec![0, 2]));
        let cli = Cli::try_parse_from(["nvitop-exporter", "--simulate", "h100x8", "-H", "node7"]).unwrap();
        assert_eq!(
            (cli.simulate.as_deref(), cli.hostname.as_deref()),
            (Some("h100x8"), Some("node7"))
        );
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        assert!(Cli::try_parse_from(["nvitop-exporter", "--certfile", "a.crt"]).is_err());
        assert!(Cli::try_parse_from(["nvitop-exporter", "--certfile", "a", "--keyfile", "b"]).is_ok());
        let ca_without_required = [
            "nvitop-exporter",
            "--certfile",
            "a",
            "--keyfile",
            "b",
            "--client-cafile",
            "c",
        ];
        assert!(Cli::try_parse_from(ca_without_required).is_err());
        let mtls = [
            "nvitop-exporter",
            "--certfile",
            "a",
            "--keyfile",
            "b",
            "--client-cafile",
            "c",
            "--client-auth-required",
        ];
        assert!(Cli::try_parse_from(mtls).is_ok());
    }

    #[test]
    fn default_hostname_is_not_empty() {
        assert!(!default_hostname().is_empty());
    }
}

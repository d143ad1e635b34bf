//! Command-line options, with nvitop's long and short names.

use std::ffi::OsString;

use clap::Parser;

/// Show the status of NVIDIA GPUs, their processes and the host.
///
/// Prints the device table, host usage and the GPU processes like
/// `nvidia-smi`, richer and colored, then exits; with `-m`, a live
/// full-screen viewer.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "nvitop-monitor", version, about, long_about = None)]
pub struct Cli {
    /// Run the live, interactive viewer; MODE is auto (bare `-m`: full or compact by the terminal's height), full or compact.
    // The values are named here, not listed by clap: its long list would
    // make `--help` differ from `-h`.
    #[arg(long, short = 'm', num_args = 0..=1, default_missing_value = "auto", value_name = "MODE", conflicts_with = "json", hide_possible_values = true)]
    pub monitor: Option<LayoutMode>,

    /// With `-m`: seconds between process refreshes (at least 0.25; below 1 it also sets the device and host refresh) [default: devices 1, processes 2].
    #[arg(long, value_name = "SECS", value_parser = parse_interval, allow_negative_numbers = true)]
    pub interval: Option<f64>,

    /// With `-m`: seconds of history the graphs show (10 to 3600; `w` changes it live) [default: 120].
    #[arg(long, value_name = "SECS", value_parser = parse_graph_window, allow_negative_numbers = true)]
    pub graph_window: Option<u64>,

    /// With `-m`: never send a signal to a process (the signal keys do nothing).
    #[arg(long)]
    pub readonly: bool,

    /// Print the status once and exit: what nvitop-monitor does without `-m` (nvitop's `--once`).
    #[arg(long, short = '1')]
    pub once: bool,

    /// Use ASCII characters only (`+-=|#`), for terminals and logs without Unicode.
    #[arg(long = "ascii", short = 'U', visible_alias = "no-unicode")]
    pub ascii: bool,

    /// GPU utilization thresholds for light / moderate / heavy load (1 <= TH1 < TH2 <= 99) [default: 10 75].
    #[arg(long, num_args = 2, value_names = ["TH1", "TH2"], value_parser = clap::value_parser!(u8).range(1..=99), allow_negative_numbers = true)]
    pub gpu_util_thresh: Option<Vec<u8>>,

    /// Memory utilization thresholds for light / moderate / heavy load (1 <= TH1 < TH2 <= 99) [default: 10 80].
    #[arg(long, num_args = 2, value_names = ["TH1", "TH2"], value_parser = clap::value_parser!(u8).range(1..=99), allow_negative_numbers = true)]
    pub mem_util_thresh: Option<Vec<u8>>,

    /// Show only the GPUs with these indices.
    // `-1` after the indices is the `--once` flag, as in nvitop (`-o 0 1 -1`).
    #[arg(long, short = 'o', num_args = 1.., value_name = "INDEX")]
    pub only: Option<Vec<u32>>,

    /// Show only the GPUs visible to CUDA (`CUDA_VISIBLE_DEVICES`); also `-ov`. Ignored with --only.
    #[arg(long)]
    pub only_visible: bool,

    /// Show only processes with a compute context (type C or C+G).
    #[arg(long, short = 'c')]
    pub compute: bool,

    /// Show only processes with a compute context and no graphics one (type C only).
    #[arg(long, short = 'C')]
    pub only_compute: bool,

    /// Show only processes with a graphics context (type G or C+G).
    #[arg(long, short = 'g')]
    pub graphics: bool,

    /// Show only processes with a graphics context and no compute one (type G only).
    #[arg(long, short = 'G')]
    pub only_graphics: bool,

    /// Show only the processes of these users (no name: yourself, from $USER).
    #[arg(long, short = 'u', num_args = 0.., value_name = "USERNAME")]
    pub user: Option<Vec<String>>,

    /// Show only the processes with these PIDs.
    #[arg(long, short = 'p', num_args = 1.., value_name = "PID")]
    pub pid: Option<Vec<u32>>,

    /// Show a simulated machine: `1` (the default machine), a preset name
    /// (default, h100x8, mig, rtx4090, a100x4, faults) or a scenario file.
    /// Without it, `NVITOP_SIMULATE` is honoured; without both, the real driver.
    #[arg(long, num_args = 0..=1, default_missing_value = "1", value_name = "PRESET|SCENARIO")]
    pub simulate: Option<String>,

    /// Print the whole snapshot as JSON instead of the table (see the README for the fields).
    #[arg(long)]
    pub json: bool,

    /// Gradient bars: each bar cell colored by its own position.
    #[arg(long)]
    pub colorful: bool,

    /// Never print color escape codes.
    #[arg(long, conflicts_with = "force_color")]
    pub no_color: bool,

    /// Print color escape codes even to a pipe or with `NO_COLOR` set.
    #[arg(long)]
    pub force_color: bool,

    /// Colors for terminals with a light background.
    #[arg(long)]
    pub light: bool,
}

/// The interactive viewer's layout (`-m MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LayoutMode {
    /// Full panels when they leave room for the processes, else compact ones.
    #[default]
    Auto,
    /// Two lines per GPU.
    Full,
    /// One line per GPU.
    Compact,
}

/// The shortest `--interval`: faster refreshes cost the driver more than
/// they show.
pub const MIN_INTERVAL: f64 = 0.25;

/// Parses `--interval`: a number of seconds, at least [`MIN_INTERVAL`].
fn parse_interval(value: &str) -> Result<f64, String> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number of seconds"))?;
    if secs.is_finite() && secs >= MIN_INTERVAL {
        Ok(secs)
    } else {
        Err(format!("'{value}' is below the minimum of {MIN_INTERVAL} s"))
    }
}

/// Parses `--graph-window`: whole seconds from 10 to an hour (what the
/// history rings hold).
fn parse_graph_window(value: &str) -> Result<u64, String> {
    let secs: u64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a whole number of seconds"))?;
    if (10..=3600).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "'{value}' is outside 10..=3600 seconds (the graphs keep an hour)"
        ))
    }
}

/// Rewrites nvitop's two-letter short flag `-ov`, which clap cannot
/// express, to `--only-visible`. Arguments after `--` are left alone.
pub fn rewrite_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut after_separator = false;
    args.into_iter()
        .map(Into::into)
        .map(|arg| {
            if arg == "--" {
                after_separator = true;
            }
            if !after_separator && arg == "-ov" {
                OsString::from("--only-visible")
            } else {
                arg
            }
        })
        .collect()
}

impl Cli {
    /// Parses `args` (program name first) after [`rewrite_args`].
    ///
    /// # Errors
    /// Clap's error for bad options (or for `--help` / `--version`).
    pub fn parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        Self::try_parse_from(rewrite_args(args))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ov_becomes_only_visible() {
        let cli = Cli::parse_args(["nvitop-monitor", "-ov"]).unwrap();
        assert!(cli.only_visible);
        let args = rewrite_args(["x", "-ov", "--", "-ov"]);
        assert_eq!(args, ["x", "--only-visible", "--", "-ov"]);
    }

    #[test]
    fn options_parse() {
        let cli = Cli::parse_args([
            "nvitop-monitor",
            "-U",
            "--gpu-util-thresh",
            "20",
            "60",
            "-o",
            "0",
            "2",
            "-c",
            "-u",
            "-p",
            "12",
            "--simulate",
        ])
        .unwrap();
        assert!(cli.ascii && cli.compute);
        assert_eq!(cli.gpu_util_thresh, Some(vec![20, 60]));
        assert_eq!(cli.only, Some(vec![0, 2]));
        assert_eq!(cli.user, Some(vec![]));
        assert_eq!(cli.pid, Some(vec![12]));
        assert_eq!(cli.simulate.as_deref(), Some("1"));
        let cli = Cli::parse_args(["nvitop-monitor", "--no-unicode", "--simulate", "mig"]).unwrap();
        assert!(cli.ascii);
        assert_eq!(cli.simulate.as_deref(), Some("mig"));
        let cli = Cli::parse_args(["nvitop-monitor", "-1", "-C", "-G", "-g", "-ov", "-o", "1"]).unwrap();
        assert!(cli.once && cli.only_compute && cli.only_graphics && cli.graphics && !cli.compute);
        // Both given: nvitop's --only wins over --only-visible (see `app`).
        assert!(cli.only_visible);
        assert_eq!(cli.only, Some(vec![1]));
        let cli = Cli::parse_args(["nvitop-monitor", "--once", "--only-compute", "--only-graphics"]).unwrap();
        assert!(cli.once && cli.only_compute && cli.only_graphics);
        // `-1` ends a list of indices or pids, as in nvitop.
        let cli = Cli::parse_args(["nvitop-monitor", "-o", "0", "1", "-1"]).unwrap();
        assert!(cli.once);
        assert_eq!(cli.only, Some(vec![0, 1]));
        let cli = Cli::parse_args(["nvitop-monitor", "-p", "12", "-1"]).unwrap();
        assert!(cli.once);
        assert_eq!(cli.pid, Some(vec![12]));
        // A threshold pair takes two numbers: `-5` is a (bad) value there.
        assert!(Cli::parse_args(["x", "--gpu-util-thresh", "-5", "50"]).is_err_and(|e| e.to_string().contains("-5")));
    }

    #[test]
    fn monitor_options() {
        let cli = Cli::parse_args(["x", "-m"]).unwrap();
        assert_eq!(cli.monitor, Some(LayoutMode::Auto));
        let cli = Cli::parse_args(["x", "-m", "compact", "--interval", "0.5", "--readonly"]).unwrap();
        assert_eq!(cli.monitor, Some(LayoutMode::Compact));
        assert_eq!(cli.interval, Some(0.5));
        assert!(cli.readonly);
        assert_eq!(
            Cli::parse_args(["x", "--monitor", "full"]).unwrap().monitor,
            Some(LayoutMode::Full)
        );
        assert_eq!(Cli::parse_args(["x"]).unwrap().monitor, None);
        for bad in ["0.1", "-1", "abc", "NaN", "inf"] {
            let err = Cli::parse_args(["x", "-m", "--interval", bad]).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
        assert!(Cli::parse_args(["x", "-m", "huge"]).is_err());
        assert_eq!(
            Cli::parse_args(["x", "-m", "--graph-window", "300"])
                .unwrap()
                .graph_window,
            Some(300)
        );
        for bad in ["5", "7200", "-1", "1.5", "x"] {
            let err = Cli::parse_args(["x", "-m", "--graph-window", bad]).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_thresholds_are_rejected_by_the_parser() {
        assert!(Cli::parse_args(["x", "--gpu-util-thresh", "0", "50"]).is_err());
        assert!(Cli::parse_args(["x", "--gpu-util-thresh", "50"]).is_err());
        assert!(Cli::parse_args(["x", "--mem-util-thresh", "a", "50"]).is_err());
        assert!(Cli::parse_args(["x", "--no-color", "--force-color"]).is_err());
    }
}

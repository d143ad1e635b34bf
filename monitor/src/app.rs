//! The one-shot run: choose the backend and devices from the options, take
//! one snapshot, filter it and print it as a table or as JSON.
//!
//! Everything read from the process environment comes in through
//! [`Environment`], so tests can run the whole flow with fixed inputs.

use std::sync::Arc;

use nvitop::backend::Backend;
use nvitop::global::{SIMULATE_ENV, backend_from_spec, simulate_spec};
use nvitop::process::HostProcessReader;
use nvitop::snapshot::SnapshotFields;
use nvitop::{Device, Snapshot};

use crate::cli::Cli;
use crate::filter::ProcessFilter;
use crate::screen;
use crate::theme::{Glyphs, RenderOptions, Theme, Thresholds};

/// Why a run failed; decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad input on the command line (exit status 2): a one-line message
    /// naming the bad value.
    Usage(String),
    /// Anything else, such as a missing driver (exit status 1).
    Runtime(anyhow::Error),
    /// Writing the output failed, such as a pipe closed by `| head`. The
    /// reader is gone, so there is nobody to tell: `main` exits quietly and
    /// successfully.
    Output(std::io::Error),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Runtime(_) | Self::Output(_) => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Usage(message) => f.write_str(message),
            Self::Runtime(err) => write!(f, "{err:#}"),
            Self::Output(err) => write!(f, "could not write the output: {err}"),
        }
    }
}

/// What the run needs from its surroundings.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// Whether stdout is a terminal.
    pub stdout_is_tty: bool,
    /// The terminal's width, when stdout is one.
    pub terminal_width: Option<u16>,
    /// `COLUMNS`, when set to a width: the one-shot width when stdout is
    /// not a terminal.
    pub columns: Option<u16>,
    /// `NO_COLOR`.
    pub no_color: Option<String>,
    /// `USER` (or `LOGNAME`): the default for a bare `--user`, and whose
    /// processes are not dimmed.
    pub user: Option<String>,
    /// The host name, for the process panel title.
    pub hostname: Option<String>,
    /// `CUDA_VISIBLE_DEVICES`.
    pub cuda_visible_devices: Option<String>,
    /// `NVITOP_SIMULATE`.
    pub simulate: Option<String>,
    /// User names to accept besides those the system's user database
    /// answers for (through NSS, so LDAP and SSSD users too; see
    /// `nvitop::users`): the uid of the calling user when it has no name.
    pub system_users: Vec<String>,
}

/// Who runs the monitor: `$USER`, else `$LOGNAME` (either can be unset, as
/// under cron or in containers), else the name of the real uid, else, for a
/// uid without a name (a container started with `--user 1234`), the uid
/// itself: the SDK names such a process's owner by its uid too, so `-u` and
/// the dimming of other users' processes still work.
fn current_user(user: Option<String>, logname: Option<String>, uid_name: Option<String>, uid: u32) -> String {
    [user, logname, uid_name]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| uid.to_string())
}

impl Environment {
    /// Reads the environment of this process.
    pub fn from_process() -> Self {
        use std::io::IsTerminal as _;
        let stdout_is_tty = std::io::stdout().is_terminal();
        let var = |name: &str| std::env::var(name).ok();
        let raw_uid = rustix::process::getuid().as_raw();
        let own_name = nvitop::users::user_name(raw_uid);
        let mut system_users = Vec::new();
        if own_name.is_none() {
            // A uid without a name is still a user of this system: `-u`
            // alone (or `-u 1234`) names it by number.
            system_users.push(raw_uid.to_string());
        }
        Self {
            stdout_is_tty,
            terminal_width: stdout_is_tty
                .then(crossterm::terminal::size)
                .and_then(Result::ok)
                .map(|(w, _)| w)
                // A pseudo-terminal without a size reports 0 columns.
                .filter(|&w| w > 0),
            columns: var("COLUMNS")
                .and_then(|c| c.trim().parse().ok())
                .filter(|&w: &u16| w > 0),
            no_color: var("NO_COLOR"),
            user: Some(current_user(var("USER"), var("LOGNAME"), own_name, raw_uid)),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty()),
            cuda_visible_devices: var("CUDA_VISIBLE_DEVICES"),
            simulate: var(SIMULATE_ENV),
            system_users,
        }
    }

    /// Whether to print color: `--no-color` and `--force-color` win; else
    /// only to a terminal and only without a non-empty `NO_COLOR`.
    pub fn use_color(&self, cli: &Cli) -> bool {
        if cli.no_color {
            false
        } else if cli.force_color {
            true
        } else {
            self.stdout_is_tty && self.no_color.as_deref().is_none_or(str::is_empty)
        }
    }
}

/// Runs the one-shot mode, printing to `out` as the output is made (no
/// more of it is held in memory than a piece of the process panel), and
/// warnings (input that is not wrong but probably not meant, such as a
/// `CUDA_VISIBLE_DEVICES` entry that hides the GPUs after it) to `warnings`,
/// one line each.
///
/// # Errors
/// [`Failure::Usage`] for bad input, [`Failure::Output`] when writing to
/// `out` fails, [`Failure::Runtime`] otherwise.
pub fn run(
    cli: &Cli,
    env: &Environment,
    out: &mut impl std::io::Write,
    warnings: &mut impl std::io::Write,
) -> Result<(), Failure> {
    // Start the host CPU window now: loading the driver and reading the
    // devices fill it, so the host panel's CPU figure costs no waiting.
    nvitop::host::prime();
    let Prepared {
        options,
        filter,
        backend,
        devices,
    } = prepare(cli, env, warnings)?;
    let mut snapshot = Snapshot::take_with(&backend, &devices, snapshot_fields(cli), &mut HostProcessReader::new());

    // The names `-u` gives that the user database knows (it cannot be
    // listed: a directory server need not enumerate its users).
    let mut known_users = env.system_users.clone();
    known_users.extend(
        filter
            .users
            .iter()
            .filter(|name| nvitop::users::user_id(name).is_some())
            .cloned(),
    );
    if let Some(user) = filter.unknown_user(&snapshot, &known_users) {
        return Err(Failure::Usage(format!("unknown user '{user}'")));
    }
    if let Some(pid) = filter.unknown_pid(&snapshot, pid_exists) {
        return Err(Failure::Usage(format!("no process with PID {pid}")));
    }
    filter.apply(&mut snapshot);

    if cli.json {
        // Straight to `out`: the JSON text of a big machine is never whole
        // in memory.
        let records = nvitop::training::read_all_records();
        return crate::training::write_json(&mut *out, &snapshot, &records, crate::training::wall_clock_now())
            .map_err(|err| match err.io_error_kind() {
                Some(_) => Failure::Output(err.into()),
                None => Failure::Runtime(anyhow::Error::new(err).context("could not serialize the snapshot")),
            })
            .and_then(|()| finish(out, b"\n"));
    }
    // Without a terminal, `COLUMNS` (as nvitop honours it), else the width
    // that fits the commands.
    let width = env.terminal_width.or(env.columns);
    screen::write(&snapshot, &options, width, env.use_color(cli), out).map_err(Failure::Output)?;
    finish(out, b"")
}

/// What both the one-shot run and the viewer build from the command line.
pub struct Prepared {
    /// How everything looks.
    pub options: RenderOptions,
    /// Which processes to keep.
    pub filter: ProcessFilter,
    /// The driver or the simulator.
    pub backend: Arc<dyn Backend>,
    /// The devices to show.
    pub devices: Vec<Device>,
}

/// Checks the options and opens the backend; warnings (see [`run`]) go to
/// `warnings`.
pub fn prepare(cli: &Cli, env: &Environment, warnings: &mut impl std::io::Write) -> Result<Prepared, Failure> {
    let gpu_thresholds = thresholds(
        cli.gpu_util_thresh.as_deref(),
        Thresholds::GPU_DEFAULT,
        "--gpu-util-thresh",
    )?;
    let mem_thresholds = thresholds(
        cli.mem_util_thresh.as_deref(),
        Thresholds::MEM_DEFAULT,
        "--mem-util-thresh",
    )?;
    let filter = process_filter(cli, env)?;

    let backend = backend(cli, env)?;
    let (devices, warning) = devices(cli, env, &backend)?;
    if let Some(warning) = warning {
        // A warning that cannot be written is not worth failing the run for.
        let _ = writeln!(warnings, "nvitop-monitor: warning: {warning}");
    }
    let options = RenderOptions {
        glyphs: if cli.ascii { Glyphs::Ascii } else { Glyphs::Unicode },
        theme: Theme::new(cli.light),
        gpu_thresholds,
        mem_thresholds,
        colorful: cli.colorful,
        current_user: env.user.clone(),
        hostname: env.hostname.clone(),
        utc_offset: None,
    };
    Ok(Prepared {
        options,
        filter,
        backend,
        devices,
    })
}

/// What the run reads: `--json` prints every field, GPM activity included
/// (two GPM samples 100 ms apart, one wait for all GPUs, none where no GPU
/// has GPM); the table does not show PCIe throughput, which costs 20 ms per
/// GPU and direction on a real driver, so it is not read for it.
fn snapshot_fields(cli: &Cli) -> SnapshotFields {
    if cli.json {
        SnapshotFields::all().gpm(true)
    } else {
        SnapshotFields::fast()
    }
}

/// Writes `tail` and flushes `out`.
fn finish(out: &mut impl std::io::Write, tail: &[u8]) -> Result<(), Failure> {
    out.write_all(tail).and_then(|()| out.flush()).map_err(Failure::Output)
}

fn thresholds(pair: Option<&[u8]>, default: Thresholds, flag: &str) -> Result<Thresholds, Failure> {
    match pair {
        None => Ok(default),
        Some(&[low, high]) => Thresholds::new(low, high).map_err(|e| Failure::Usage(format!("{flag}: {e}"))),
        Some(other) => Err(Failure::Usage(format!("{flag}: expected two values, got {other:?}"))),
    }
}

fn process_filter(cli: &Cli, env: &Environment) -> Result<ProcessFilter, Failure> {
    let users = match &cli.user {
        None => Vec::new(),
        Some(names) if names.is_empty() => vec![env.user.clone().ok_or_else(|| {
            Failure::Usage("--user without a name: cannot tell who you are ($USER is not set)".to_owned())
        })?],
        Some(names) => names.clone(),
    };
    Ok(ProcessFilter {
        compute: cli.compute,
        only_compute: cli.only_compute,
        graphics: cli.graphics,
        only_graphics: cli.only_graphics,
        users,
        pids: cli.pid.clone().unwrap_or_default(),
    })
}

/// The backend: the simulator when `--simulate` or `NVITOP_SIMULATE` asks
/// for it, otherwise NVML. A missing driver is an error, never a silent
/// switch to simulated numbers.
fn backend(cli: &Cli, env: &Environment) -> Result<Arc<dyn Backend>, Failure> {
    let spec = cli
        .simulate
        .as_deref()
        .or_else(|| simulate_spec(env.simulate.as_deref()));
    backend_from_spec(spec).map_err(|err| match err {
        nvitop::Error::Scenario(_) => Failure::Usage(format!("--simulate {}: {err}", spec.unwrap_or_default())),
        other => Failure::Runtime(other.into()),
    })
}

/// The devices to show, and with `--only-visible`, a warning about what
/// `CUDA_VISIBLE_DEVICES` hides by mistake: CUDA stops at the first entry
/// that names no device and ignores the rest without a word, so `0,1,x,3`
/// shows GPUs 0 and 1 only.
fn devices(cli: &Cli, env: &Environment, backend: &Arc<dyn Backend>) -> Result<(Vec<Device>, Option<String>), Failure> {
    let runtime = |err: nvitop::Error| Failure::Runtime(err.into());
    if let Some(indices) = &cli.only {
        // The SDK checks the indices; an out-of-range one is bad input.
        let devices = Device::from_indices_in(backend, indices).map_err(|err| match err {
            nvitop::Error::InvalidIndex { index, .. } => Failure::Usage(format!("--only {index}: {err}")),
            other => runtime(other),
        })?;
        return Ok((devices, None));
    }
    if cli.only_visible {
        let value = env.cuda_visible_devices.as_deref();
        let (visible, ignored) = Device::from_cuda_visible_devices_checked_in(backend, value).map_err(runtime)?;
        let warning = ignored.map(|entry| format!("CUDA_VISIBLE_DEVICES='{}': {entry}", value.unwrap_or_default()));
        let devices = visible.into_iter().map(nvitop::CudaDevice::into_device).collect();
        return Ok((devices, warning));
    }
    Ok((Device::all_in(backend).map_err(runtime)?, None))
}

/// Whether a process with this pid exists on this host.
pub(crate) fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn color_rules() {
        let tty = Environment {
            stdout_is_tty: true,
            ..Environment::default()
        };
        let pipe = Environment::default();
        let plain = Cli::default();
        let no_color = Cli {
            no_color: true,
            ..Cli::default()
        };
        let force = Cli {
            force_color: true,
            ..Cli::default()
        };
        assert!(tty.use_color(&plain));
        assert!(!pipe.use_color(&plain));
        assert!(!tty.use_color(&no_color));
        assert!(pipe.use_color(&force));
        let no_color_env = Environment {
            no_color: Some("1".to_owned()),
            ..tty.clone()
        };
        assert!(!no_color_env.use_color(&plain));
        assert!(no_color_env.use_color(&force));
        // An empty NO_COLOR does not count, per no-color.org.
        let empty = Environment {
            no_color: Some(String::new()),
            ..tty
        };
        assert!(empty.use_color(&plain));
    }

    #[test]
    fn current_user_falls_back_to_the_uid() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(current_user(some("alice"), some("bob"), some("carol"), 7), "alice");
        assert_eq!(current_user(None, some("bob"), some("carol"), 7), "bob");
        // An empty $USER counts as unset.
        assert_eq!(current_user(some(""), some("bob"), None, 7), "bob");
        assert_eq!(current_user(None, None, some("carol"), 7), "carol");
        // A uid without a name: the SDK names its processes' owner `1234` too.
        assert_eq!(current_user(None, Some(String::new()), None, 1234), "1234");
    }

    #[test]
    fn the_table_does_not_read_what_it_does_not_show() {
        assert_eq!(snapshot_fields(&Cli::default()), SnapshotFields::fast());
        let json = Cli {
            json: true,
            ..Cli::default()
        };
        assert_eq!(snapshot_fields(&json), SnapshotFields::all().gpm(true));
    }

    #[test]
    fn threshold_pairs() {
        assert_eq!(
            thresholds(None, Thresholds::GPU_DEFAULT, "--x").ok(),
            Some(Thresholds::GPU_DEFAULT)
        );
        assert!(matches!(
            thresholds(Some(&[75, 10]), Thresholds::GPU_DEFAULT, "--x"),
            Err(Failure::Usage(_))
        ));
        assert_eq!(
            thresholds(Some(&[20, 30]), Thresholds::GPU_DEFAULT, "--x").ok(),
            Thresholds::new(20, 30).ok()
        );
    }
}

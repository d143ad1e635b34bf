//! A model of how long a real driver takes to answer.
//!
//! The simulator computes its answers in microseconds; the NVIDIA driver
//! does not (one PCIe throughput reading alone measures over 20 ms). A
//! [`Latency`] makes each simulated driver call sleep as long as the real
//! call would, so that benchmarks and slow-driver tests see real costs. It
//! is chosen with the `NVITOP_SIM_LATENCY` environment variable
//! ([`SIM_LATENCY_ENV`]) or a scenario's `latency` field:
//!
//! - `none` (the default): every call answers at once;
//! - `realistic`: the per-call figures of [`Latency::realistic`], sourced in
//!   `docs/SIMULATOR.md`;
//! - a duration such as `500ms`, `0.5s` or `250us`: every call takes that long;
//! - the path of a TOML file: `default_ms = <float>` for calls not listed and
//!   a `[calls]` table of NVML C function names to milliseconds.
//!
//! Calls are keyed by NVML C function names (`nvmlDeviceGetPcieThroughput`).
//! A name with a version suffix (`nvmlDeviceGetComputeRunningProcesses_v3`)
//! falls back to the plain name's delay, then to the default.
//!
//! ```
//! use std::time::Duration;
//! use nvitop::backend::sim::Latency;
//! let file = Latency::parse("500ms").unwrap();
//! assert_eq!(file.delay_of("nvmlDeviceGetName"), Duration::from_millis(500));
//! let real = Latency::parse("realistic").unwrap();
//! assert_eq!(real.delay_of("nvmlDeviceGetPcieThroughput"), Duration::from_millis(20));
//! assert!(Latency::parse("fast").unwrap_err().to_string().contains("'fast'"));
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Environment variable choosing the simulated driver's latency (see the
/// [module documentation](self)). Read by every simulator created from the
/// environment or a `--simulate` spec, and by the fake NVML library.
///
/// ```
/// use nvitop::backend::sim::{SIM_LATENCY_ENV, Latency};
/// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
/// # unsafe { std::env::set_var(SIM_LATENCY_ENV, "0.5s") };
/// // With NVITOP_SIM_LATENCY=0.5s:
/// assert_eq!(Latency::from_env().unwrap(), Some(Latency::parse("500ms").unwrap()));
/// ```
pub const SIM_LATENCY_ENV: &str = "NVITOP_SIM_LATENCY";

/// A `NVITOP_SIM_LATENCY` value (or scenario `latency` field) that cannot be used.
///
/// ```
/// use nvitop::backend::sim::Latency;
/// let err = Latency::parse("-3ms").unwrap_err();
/// assert!(err.to_string().contains("'-3ms'"), "{err}");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LatencyError {
    /// Not `none`, `realistic`, a duration or a file.
    #[error(
        "invalid simulated driver latency '{value}': {reason}; use none, realistic, a duration such as 500ms or 0.5s, or the path of a TOML file of per-call delays"
    )]
    Invalid {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The latency file could not be read.
    #[error("cannot read the simulated driver latency file '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The latency file is not valid.
    #[error(
        "invalid simulated driver latency file '{}': {message}; expected `default_ms = <float>` and a [calls] table such as `nvmlDeviceGetPcieThroughput = 20.0` (milliseconds)",
        path.display()
    )]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// How long each simulated driver call takes.
///
/// ```
/// use std::time::Duration;
/// use nvitop::backend::sim::Latency;
/// assert_eq!(Latency::none().delay_of("nvmlInit_v2"), Duration::ZERO);
/// assert!(Latency::none().is_none());
/// let real = Latency::realistic();
/// // Versioned names fall back to the plain name.
/// assert_eq!(real.delay_of("nvmlDeviceGetComputeRunningProcesses_v3"), real.delay_of("nvmlDeviceGetComputeRunningProcesses"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Latency {
    /// The text this was parsed from (kept so a scenario round-trips).
    spec: String,
    /// Delay of calls not listed in `calls`.
    default: Duration,
    /// Delay per NVML C function name.
    calls: BTreeMap<String, Duration>,
}

/// Equal when every call takes as long, however each was written.
impl PartialEq for Latency {
    fn eq(&self, other: &Self) -> bool {
        self.default == other.default && self.calls == other.calls
    }
}

impl Eq for Latency {}

impl Default for Latency {
    fn default() -> Self {
        Self::none()
    }
}

/// The per-call figures of `realistic`, in microseconds, with where each
/// comes from (`docs/SIMULATOR.md` cites the sources in full).
const REALISTIC_US: &[(&str, u64)] = &[
    // Estimate. Without persistence mode the first client also pays the GPU
    // initialisation (NVIDIA's Driver Persistence guide: "order of 1-3
    // second" per GPU); next to a running training job the GPUs are already
    // initialised and the library load costs tens of milliseconds.
    ("nvmlInit", 50_000),
    ("nvmlInitWithFlags", 50_000),
    // Documented: the call counts bytes over a 20 ms interval.
    ("nvmlDeviceGetPcieThroughput", 20_000),
    // Estimates: process lists and per-process samples walk driver tables.
    ("nvmlDeviceGetComputeRunningProcesses", 1_000),
    ("nvmlDeviceGetGraphicsRunningProcesses", 1_000),
    ("nvmlDeviceGetMPSComputeRunningProcesses", 1_000),
    ("nvmlDeviceGetRunningProcessDetailList", 1_000),
    ("nvmlDeviceGetProcessUtilization", 1_000),
    ("nvmlDeviceGetProcessesUtilizationInfo", 1_000),
    // Estimates: sensor and counter reads go to the GPU.
    ("nvmlDeviceGetUtilizationRates", 200),
    ("nvmlDeviceGetEncoderUtilization", 200),
    ("nvmlDeviceGetDecoderUtilization", 200),
    ("nvmlDeviceGetTemperature", 200),
    ("nvmlDeviceGetTemperatureV", 200),
    ("nvmlDeviceGetPowerUsage", 200),
    ("nvmlDeviceGetTotalEnergyConsumption", 200),
    ("nvmlDeviceGetFanSpeed", 200),
    ("nvmlDeviceGetClockInfo", 100),
    ("nvmlDeviceGetClock", 100),
    ("nvmlDeviceGetMemoryInfo", 100),
    ("nvmlDeviceGetBAR1MemoryInfo", 100),
    ("nvmlDeviceGetTotalEccErrors", 100),
    // Estimates: answered from state the library keeps.
    ("nvmlDeviceGetCount", 20),
    ("nvmlDeviceGetHandleByIndex", 20),
    ("nvmlDeviceGetHandleByUUID", 20),
    ("nvmlDeviceGetHandleByPciBusId", 20),
    ("nvmlDeviceGetName", 20),
    ("nvmlDeviceGetUUID", 20),
    ("nvmlDeviceGetPciInfo", 20),
    ("nvmlDeviceGetIndex", 20),
    ("nvmlSystemGetDriverVersion", 20),
    ("nvmlSystemGetNVMLVersion", 20),
    ("nvmlSystemGetCudaDriverVersion", 20),
    ("nvmlErrorString", 0),
    ("nvmlShutdown", 1_000),
];

/// Delay of `realistic` calls not in [`REALISTIC_US`] (estimate), µs.
const REALISTIC_DEFAULT_US: u64 = 50;

impl Latency {
    /// Every call answers at once (the default).
    ///
    /// ```
    /// use nvitop::backend::sim::Latency;
    /// assert_eq!(Latency::none(), Latency::parse("none").unwrap());
    /// ```
    pub fn none() -> Self {
        Self {
            spec: "none".to_owned(),
            default: Duration::ZERO,
            calls: BTreeMap::new(),
        }
    }

    /// A model of a real driver: `nvmlDeviceGetPcieThroughput` 20 ms (NVML
    /// documents that it measures over 20 ms), `nvmlInit` 50 ms, process
    /// lists and per-process utilization samples 1 ms, sensor reads 100 to
    /// 200 µs, answers the library keeps 20 µs, other calls 50 µs. Only the
    /// PCIe figure is documented; the others are estimates
    /// (`docs/SIMULATOR.md`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use nvitop::backend::sim::Latency;
    /// let real = Latency::realistic();
    /// assert_eq!(real.delay_of("nvmlDeviceGetPcieThroughput"), Duration::from_millis(20));
    /// assert_eq!(real.delay_of("nvmlInit_v2"), Duration::from_millis(50));
    /// assert_eq!(real.delay_of("nvmlDeviceGetProcessUtilization"), Duration::from_millis(1));
    /// ```
    pub fn realistic() -> Self {
        Self {
            spec: "realistic".to_owned(),
            default: Duration::from_micros(REALISTIC_DEFAULT_US),
            calls: REALISTIC_US
                .iter()
                .map(|&(name, us)| (name.to_owned(), Duration::from_micros(us)))
                .collect(),
        }
    }

    /// Every call takes `delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nvitop::backend::sim::Latency;
    /// let slow = Latency::uniform(Duration::from_millis(500));
    /// assert_eq!(slow.delay_of("nvmlDeviceGetTemperature"), Duration::from_millis(500));
    /// ```
    pub fn uniform(delay: Duration) -> Self {
        Self {
            spec: format!("{}us", delay.as_micros()),
            default: delay,
            calls: BTreeMap::new(),
        }
    }

    /// Parses a `NVITOP_SIM_LATENCY` value: `none`, `realistic`, a duration
    /// (`500ms`, `0.5s`, `250us`), or the path of a TOML file.
    ///
    /// # Errors
    /// [`LatencyError`] naming the value: not one of those forms, a negative
    /// or non-finite duration, a file that cannot be read or is not a valid
    /// latency file.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nvitop::backend::sim::Latency;
    /// assert_eq!(Latency::parse("0.5s").unwrap(), Latency::parse("500ms").unwrap());
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("slow.toml");
    /// std::fs::write(&path, "default_ms = 0.1\n[calls]\nnvmlDeviceGetPcieThroughput = 20.0\n").unwrap();
    /// let file = Latency::parse(path.to_str().unwrap()).unwrap();
    /// assert_eq!(file.delay_of("nvmlDeviceGetPcieThroughput"), Duration::from_millis(20));
    /// assert_eq!(file.delay_of("nvmlDeviceGetName"), Duration::from_micros(100));
    /// assert!(Latency::parse("500").is_err()); // a number needs its unit
    /// ```
    pub fn parse(value: &str) -> Result<Self, LatencyError> {
        let text = value.trim();
        let invalid = |reason: &str| LatencyError::Invalid {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        match text.to_ascii_lowercase().as_str() {
            "" => return Err(invalid("it is empty")),
            "none" => return Ok(Self::none()),
            "realistic" => return Ok(Self::realistic()),
            _ => {}
        }
        if text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | '+')) {
            let delay = parse_duration(text).map_err(|reason| invalid(&reason))?;
            return Ok(Self {
                spec: text.to_owned(),
                ..Self::uniform(delay)
            });
        }
        let path = Path::new(text);
        let looks_like_file = text.contains('/') || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if !looks_like_file && !path.is_file() {
            return Err(invalid("not a known word, a duration or an existing file"));
        }
        Self::from_file(path)
    }

    /// Reads a latency file: `default_ms = <float>` (calls not listed; 0 when
    /// absent) and a `[calls]` table of NVML C function names to milliseconds.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML of that shape, or holds a negative
    /// or non-finite figure or a key that is not an NVML function name.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nvitop::backend::sim::Latency;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("bad.toml");
    /// std::fs::write(&path, "[calls]\nGetTemperature = 1.0\n").unwrap();
    /// let err = Latency::from_file(&path).unwrap_err().to_string();
    /// assert!(err.contains("GetTemperature"), "{err}");
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, LatencyError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            default_ms: f64,
            #[serde(default)]
            calls: BTreeMap<String, f64>,
        }
        let bad = |message: String| LatencyError::File {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| LatencyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|err| bad(err.message().to_owned()))?;
        let default = millis(file.default_ms).map_err(|reason| bad(format!("default_ms: {reason}")))?;
        let mut calls = BTreeMap::new();
        for (name, ms) in file.calls {
            if !name.starts_with("nvml") {
                return Err(bad(format!(
                    "`{name}` is not an NVML C function name (such as nvmlDeviceGetTemperature)"
                )));
            }
            let delay = millis(ms).map_err(|reason| bad(format!("{name}: {reason}")))?;
            calls.insert(name, delay);
        }
        Ok(Self {
            spec: path.display().to_string(),
            default,
            calls,
        })
    }

    /// The latency `NVITOP_SIM_LATENCY` asks for; `None` when it is unset or empty.
    ///
    /// # Errors
    /// As [`Latency::parse`].
    ///
    /// ```
    /// use nvitop::backend::sim::{Latency, SIM_LATENCY_ENV};
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment here.
    /// # unsafe { std::env::remove_var(SIM_LATENCY_ENV) };
    /// assert_eq!(Latency::from_env().unwrap(), None);
    /// ```
    pub fn from_env() -> Result<Option<Self>, LatencyError> {
        match std::env::var(SIM_LATENCY_ENV) {
            Ok(value) if !value.trim().is_empty() => Self::parse(&value).map(Some),
            _ => Ok(None),
        }
    }

    /// Whether every call answers at once.
    ///
    /// ```
    /// use nvitop::backend::sim::Latency;
    /// assert!(!Latency::realistic().is_none());
    /// ```
    pub fn is_none(&self) -> bool {
        self.default.is_zero() && self.calls.values().all(Duration::is_zero)
    }

    /// How long the NVML C function `call` takes: its own figure, else that of
    /// its name without a `_vN` suffix, else the default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nvitop::backend::sim::Latency;
    /// assert_eq!(Latency::realistic().delay_of("nvmlDeviceGetPcieThroughput"), Duration::from_millis(20));
    /// ```
    pub fn delay_of(&self, call: &str) -> Duration {
        if let Some(delay) = self.calls.get(call) {
            return *delay;
        }
        if let Some((base, version)) = call.rsplit_once("_v")
            && !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit())
            && let Some(delay) = self.calls.get(base)
        {
            return *delay;
        }
        self.default
    }

    /// Sleeps as long as `call` takes.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use nvitop::backend::sim::Latency;
    /// let start = Instant::now();
    /// Latency::parse("20ms").unwrap().wait("nvmlDeviceGetName");
    /// assert!(start.elapsed() >= Duration::from_millis(20));
    /// ```
    pub fn wait(&self, call: &str) {
        let delay = self.delay_of(call);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
}

impl TryFrom<String> for Latency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value).map_err(|err| err.to_string())
    }
}

impl From<Latency> for String {
    fn from(latency: Latency) -> String {
        latency.spec
    }
}

/// A duration with its unit: `500ms`, `0.5s`, `250us` (or `µs`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale_ms = match unit.trim() {
        "ms" => 1.0,
        "s" => 1_000.0,
        "us" | "µs" => 0.001,
        "" => return Err("a duration needs a unit (ms, s or us)".to_owned()),
        other => return Err(format!("unknown unit `{other}` (use ms, s or us)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{number}` is not a number"))?;
    millis(value * scale_ms)
}

/// A non-negative, finite number of milliseconds as a duration.
fn millis(ms: f64) -> Result<Duration, String> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!("{ms} ms is not a delay (must be finite and not negative)"));
    }
    Duration::try_from_secs_f64(ms / 1_000.0).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn words_and_durations_parse() {
        assert_eq!(Latency::parse(" NONE ").unwrap(), Latency::none());
        assert_eq!(
            Latency::parse("realistic").unwrap().delay_of("nvmlInit"),
            Duration::from_millis(50)
        );
        assert_eq!(
            Latency::parse("500ms").unwrap().delay_of("x"),
            Duration::from_millis(500)
        );
        assert_eq!(
            Latency::parse("0.5s").unwrap().delay_of("x"),
            Duration::from_millis(500)
        );
        assert_eq!(
            Latency::parse("250us").unwrap().delay_of("x"),
            Duration::from_micros(250)
        );
        assert_eq!(Latency::parse("0ms").unwrap().delay_of("x"), Duration::ZERO);
    }

    #[test]
    fn bad_values_are_errors_naming_the_value() {
        for bad in [
            "",
            "fast",
            "500",
            "5 minutes",
            "-1ms",
            "NaNms",
            "1e400s",
            "ms",
            "1.2.3ms",
        ] {
            let err = Latency::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{bad}: {err}");
        }
        let err = Latency::parse("/no/such/latency.toml").unwrap_err().to_string();
        assert!(err.contains("/no/such/latency.toml"), "{err}");
    }

    #[test]
    fn files_give_per_call_delays_and_reject_bad_figures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.toml");
        std::fs::write(&path, "default_ms = 2\n[calls]\nnvmlDeviceGetName = 0.25\n").unwrap();
        let file = Latency::parse(path.to_str().unwrap()).unwrap();
        assert_eq!(file.delay_of("nvmlDeviceGetName"), Duration::from_micros(250));
        assert_eq!(file.delay_of("nvmlDeviceGetUUID"), Duration::from_millis(2));
        for bad in [
            "default_ms = -1\n",
            "[calls]\nnvmlDeviceGetName = -0.5\n",
            "[calls]\nnvmlDeviceGetName = \"fast\"\n",
            "default = 1.0\n",
            "not toml at all [",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = Latency::parse(path.to_str().unwrap()).unwrap_err().to_string();
            assert!(err.contains(path.to_str().unwrap()), "{bad}: {err}");
        }
    }

    #[test]
    fn versioned_names_fall_back_to_the_plain_name_then_the_default() {
        let real = Latency::realistic();
        assert_eq!(real.delay_of("nvmlInit_v2"), Duration::from_millis(50));
        assert_eq!(real.delay_of("nvmlDeviceGetPciInfo_v3"), Duration::from_micros(20));
        assert_eq!(
            real.delay_of("nvmlDeviceGetSomethingNew"),
            Duration::from_micros(REALISTIC_DEFAULT_US)
        );
        assert_eq!(
            real.delay_of("nvmlDeviceGetSomethingNew_vX"),
            Duration::from_micros(REALISTIC_DEFAULT_US)
        );
    }
}

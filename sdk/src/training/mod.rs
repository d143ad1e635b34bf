//! Training status records: what a [`crate::GpuStatsLogger`]'s process is
//! doing (run, step, epoch, phase, step rate, stall time), published as one
//! small JSON file per process so a monitor can put it next to the GPU
//! figures of that process.
//!
//! - [`record`]: the versioned file format ([`TrainingRecord`]), documented
//!   in `docs/TRAINING_STATUS.md`.
//! - [`dir`]: where the files live (`$XDG_RUNTIME_DIR/nvitop/`, else a
//!   per-user `0700` directory under the temp dir), checked before use.
//! - [`writer`]: whole-file replacement (write a temp file, rename), at most
//!   once a second, removed at close, stale files of the same user cleaned.
//! - [`reader`]: the monitor's side; never follows a symlink, refuses
//!   foreign-owned files, caps what it reads, ignores stale records.
//! - [`publisher`]: [`Progress`] and [`StatusWriter`] together, as the
//!   logger's worker thread owns them (never failing the logger).
//! - [`progress`]: the tracker the logger's worker thread feeds with plain
//!   events (step, epoch, phase) to compute steps/s, step-time percentiles
//!   over the last minute and the time since the last hook.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use nvitop::training::{Phase, Progress, StatusWriter, read_dir_records};
//!
//! let dir = tempfile::tempdir()?;
//! let status_dir = nvitop::training::dir::ensure_private_dir(&dir.path().join("nvitop"))?;
//! let mut progress = Progress::new(Instant::now());
//! let t0 = Instant::now();
//! for step in 1..=5 {
//!     progress.step(step, t0 + Duration::from_millis(100 * step));
//! }
//! let mut writer = StatusWriter::create_in(&status_dir)?;
//! let record = progress.record(writer.identity(), t0 + Duration::from_millis(500));
//! writer.write_now(&record)?;
//! let seen = read_dir_records(&status_dir);
//! assert_eq!(seen.len(), 1);
//! assert_eq!(seen[0].step, 5);
//! assert_eq!(seen[0].phase, Phase::Train);
//! writer.close();
//! assert!(read_dir_records(&status_dir).is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod dir;
pub mod progress;
pub mod publisher;
pub mod reader;
pub mod record;
pub mod writer;

pub use dir::StatusDirError;
pub use progress::Progress;
pub use publisher::StatusPublisher;
pub use reader::{read_all_records, read_dir_records};
pub use record::{FORMAT_VERSION, Phase, ProcessIdentity, TrainingRecord};
pub use writer::StatusWriter;

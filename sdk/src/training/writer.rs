//! Writes this process's status record: whole-file replacement (a temp
//! file in the same directory, then `rename`), so a reader sees the old
//! record or the new one, never half of either.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::dir::{self, StatusDirError};
use super::record::{ProcessIdentity, TrainingRecord};

/// The shortest interval between two rate-limited writes.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The owner of one process's record file. Dropping it (or [`close`])
/// removes the file.
///
/// [`close`]: StatusWriter::close
///
/// ```
/// use std::time::Instant;
/// use nvitop::training::{Progress, StatusWriter};
/// let parent = tempfile::tempdir()?;
/// let dir = nvitop::training::dir::ensure_private_dir(&parent.path().join("s"))?;
/// let mut writer = StatusWriter::create_in(&dir)?;
/// let record = Progress::new(Instant::now()).record(writer.identity(), Instant::now());
/// assert!(writer.write(&record, Instant::now())?);   // the first write goes out
/// assert!(!writer.write(&record, Instant::now())?);  // a second within 1 s does not
/// assert!(writer.path().exists());
/// writer.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StatusWriter {
    identity: ProcessIdentity,
    path: PathBuf,
    temp_path: PathBuf,
    last_write: Option<Instant>,
}

impl StatusWriter {
    /// A writer in this user's status directory ([`dir::status_dir`]),
    /// created and checked; stale records there are removed.
    pub fn create() -> Result<Self, StatusDirError> {
        Self::create_in(&dir::status_dir()?)
    }

    /// A writer in `dir`, which must pass [`dir::check_private_dir`] for
    /// the current user; stale records there (their process gone or its
    /// pid reused) are removed.
    pub fn create_in(dir: &Path) -> Result<Self, StatusDirError> {
        dir::check_private_dir(dir, dir::current_uid())?;
        remove_stale(dir);
        let identity = ProcessIdentity::current();
        let name = identity.file_name();
        Ok(Self {
            identity,
            path: dir.join(&name),
            temp_path: dir.join(format!(".{name}.tmp")),
            last_write: None,
        })
    }

    /// The process the records describe (this one).
    pub fn identity(&self) -> ProcessIdentity {
        self.identity
    }

    /// The record file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `record` unless the last write was less than [`MIN_INTERVAL`]
    /// before `now`; `Ok(true)` when it wrote.
    pub fn write(&mut self, record: &TrainingRecord, now: Instant) -> io::Result<bool> {
        if self
            .last_write
            .is_some_and(|last| now.saturating_duration_since(last) < MIN_INTERVAL)
        {
            return Ok(false);
        }
        self.write_now(record)?;
        self.last_write = Some(now);
        Ok(true)
    }

    /// Writes `record` now (the final write at train end).
    pub fn write_now(&mut self, record: &TrainingRecord) -> io::Result<()> {
        let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            // A symlink planted at the temp name is not followed.
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.temp_path)?;
        file.write_all(&bytes)?;
        drop(file);
        // The same directory, so rename is atomic: readers see the old
        // file or the new one.
        fs::rename(&self.temp_path, &self.path)
    }

    /// Removes the record (also done on drop).
    pub fn close(self) {}
}

impl Drop for StatusWriter {
    fn drop(&mut self) {
        // Gone already is fine; anything else leaves a file that the next
        // logger of this user removes as stale.
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(&self.temp_path);
    }
}

/// Removes records (and leftover temp files) of processes that no longer
/// run with the identity in their name. Only called on the current user's
/// own checked directory.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let record_name = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .unwrap_or(name);
        if let Some(identity) = ProcessIdentity::from_file_name(record_name)
            && !identity.is_running()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

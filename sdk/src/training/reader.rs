//! Reads status records, trusting nothing in the directory.
//!
//! - The directory is opened without following a symlink and must be a
//!   directory no group or other user can write to; its owner is the only
//!   user whose files are read.
//! - Each file is opened relative to that directory with `O_NOFOLLOW` (a
//!   symlink is refused, never followed out of the directory) and
//!   `O_NONBLOCK` (a FIFO cannot hang the reader), must be a regular file
//!   owned by the directory's owner, and is read up to [`MAX_RECORD_BYTES`].
//! - Malformed JSON, another format version, a record whose pid or start
//!   time disagree with its file name, and a record whose process is gone,
//!   was reused or belongs to another user are all treated as absent.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

use super::dir;
use super::record::{FORMAT_VERSION, ProcessIdentity, TrainingRecord};

/// The largest record file read; a bigger one is ignored. A real record is
/// a few hundred bytes.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// The records in one status directory whose processes still run; empty
/// when the directory is missing, unreadable or fails the checks.
///
/// ```
/// let parent = tempfile::tempdir()?;
/// // Files in a directory others can write to are not read at all.
/// std::fs::create_dir(parent.path().join("open"))?;
/// assert!(nvitop::training::read_dir_records(&parent.path().join("open")).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_dir_records(path: &Path) -> Vec<TrainingRecord> {
    read_dir_records_checked(path).unwrap_or_default()
}

/// Every record this process can read: its own directory, each
/// `/run/user/<uid>/nvitop` and each `<temp dir>/nvitop-status-<uid>`,
/// joined by (pid, start time) (the newest record wins). Other users'
/// records appear only where their directory is readable (root can).
pub fn read_all_records() -> HashMap<ProcessIdentity, TrainingRecord> {
    read_records_under(Path::new("/run/user"), &std::env::temp_dir())
}

/// [`read_all_records`] with the runtime root and temp dir given (tests).
pub fn read_records_under(runtime_root: &Path, temp_dir: &Path) -> HashMap<ProcessIdentity, TrainingRecord> {
    let mut joined: HashMap<ProcessIdentity, TrainingRecord> = HashMap::new();
    for dir in dir::candidate_dirs(runtime_root, temp_dir) {
        for record in read_dir_records(&dir) {
            let newer = joined
                .get(&record.identity())
                .is_none_or(|seen| seen.written_at < record.written_at);
            if newer {
                joined.insert(record.identity(), record);
            }
        }
    }
    joined
}

fn read_dir_records_checked(path: &Path) -> Option<Vec<TrainingRecord>> {
    let dir_fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let dir_stat = rustix::fs::fstat(&dir_fd).ok()?;
    if dir_stat.st_mode & 0o077 != 0 {
        return None;
    }
    let owner = dir_stat.st_uid;
    let mut records = Vec::new();
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(identity) = ProcessIdentity::from_file_name(name) else {
            continue;
        };
        if let Some(record) = read_file(&dir_fd, name, owner)
            && record.identity() == identity
            && process_is_owned_by(identity, owner)
        {
            records.push(record);
        }
    }
    Some(records)
}

/// One record file, `None` unless it passes every check.
fn read_file(dir_fd: &OwnedFd, name: &str, owner: u32) -> Option<TrainingRecord> {
    let fd = rustix::fs::openat(
        dir_fd,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile || stat.st_uid != owner {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return None;
    }
    let record: TrainingRecord = serde_json::from_slice(&bytes).ok()?;
    (record.version == FORMAT_VERSION).then_some(record)
}

/// Whether the process runs with this start time and belongs to `owner`:
/// a user cannot publish a record for someone else's process.
fn process_is_owned_by(identity: ProcessIdentity, owner: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    identity.is_running() && std::fs::metadata(format!("/proc/{}", identity.pid)).is_ok_and(|m| m.uid() == owner)
}

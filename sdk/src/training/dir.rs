//! Where status records live, and the checks a directory passes before a
//! writer or reader trusts it.
//!
//! `$XDG_RUNTIME_DIR/nvitop/` when the variable names an absolute path,
//! else `<temp dir>/nvitop-status-<uid>/`. Either is created `0700` and,
//! before use, must be a real directory (not a symlink) owned by the
//! current user with no group or other permissions: a directory another
//! user made first (the temp dir is shared) is refused, never used.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Prefix of the per-user directories under the temp dir.
pub const TEMP_DIR_PREFIX: &str = "nvitop-status-";

/// Why a status directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusDirError {
    /// Creating or inspecting the directory failed.
    #[error("training status directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The path is a symlink or not a directory.
    #[error(
        "training status directory {path} is not a plain directory (a symlink or a file); remove it or set XDG_RUNTIME_DIR"
    )]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Another user owns the directory.
    #[error(
        "training status directory {path} is owned by uid {owner}, not by you (uid {uid}); remove it or set XDG_RUNTIME_DIR"
    )]
    ForeignOwner {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The current effective uid.
        uid: u32,
    },
    /// Group or others have permissions on the directory.
    #[error("training status directory {path} has mode {mode:04o}; it must be 0700 (run `chmod 700 {path}`)")]
    OpenMode {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The effective uid of this process.
pub(crate) fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Where this user's status directory is, from `XDG_RUNTIME_DIR` (when it
/// is an absolute path) or the temp dir and the uid; nothing is created.
///
/// ```
/// use std::path::Path;
/// use nvitop::training::dir::status_dir_path;
/// assert_eq!(status_dir_path(Some("/run/user/1000".as_ref()), Path::new("/tmp"), 1000),
///            Path::new("/run/user/1000/nvitop"));
/// assert_eq!(status_dir_path(None, Path::new("/tmp"), 1000), Path::new("/tmp/nvitop-status-1000"));
/// ```
pub fn status_dir_path(xdg_runtime_dir: Option<&Path>, temp_dir: &Path, uid: u32) -> PathBuf {
    match xdg_runtime_dir.filter(|p| p.is_absolute()) {
        Some(runtime) => runtime.join("nvitop"),
        None => temp_dir.join(format!("{TEMP_DIR_PREFIX}{uid}")),
    }
}

/// This process's status directory, created `0700` if missing and checked.
pub fn status_dir() -> Result<PathBuf, StatusDirError> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    ensure_private_dir(&status_dir_path(xdg.as_deref(), &std::env::temp_dir(), current_uid()))
}

/// Creates `path` with mode `0700` when missing (its parent must exist),
/// then checks it with [`check_private_dir`] for the current user.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// let parent = tempfile::tempdir()?;
/// let dir = nvitop::training::dir::ensure_private_dir(&parent.path().join("nvitop"))?;
/// assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ensure_private_dir(path: &Path) -> Result<PathBuf, StatusDirError> {
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(StatusDirError::Io {
                path: path.to_owned(),
                source,
            });
        }
    }
    check_private_dir(path, current_uid())?;
    Ok(path.to_owned())
}

/// Checks that `path` is a real directory (not a symlink) owned by `uid`
/// with no permission for group or others.
pub fn check_private_dir(path: &Path, uid: u32) -> Result<(), StatusDirError> {
    let meta = fs::symlink_metadata(path).map_err(|source| StatusDirError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !meta.file_type().is_dir() {
        return Err(StatusDirError::NotADirectory { path: path.to_owned() });
    }
    if meta.uid() != uid {
        return Err(StatusDirError::ForeignOwner {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(StatusDirError::OpenMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Every status directory a reader may look in: this process's own, each
/// `<runtime_root>/<uid>/nvitop` (`/run/user` on systemd machines) and each
/// `<temp_dir>/nvitop-status-<uid>`. Which of them can be read is the
/// kernel's business (root reads all); the reader checks each before use.
pub fn candidate_dirs(runtime_root: &Path, temp_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    dirs.push(status_dir_path(xdg.as_deref(), temp_dir, current_uid()));
    if let Ok(entries) = fs::read_dir(runtime_root) {
        for entry in entries.flatten() {
            if entry.file_name().to_str().is_some_and(|n| n.parse::<u32>().is_ok()) {
                dirs.push(entry.path().join("nvitop"));
            }
        }
    }
    if let Ok(entries) = fs::read_dir(temp_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_status = name
                .to_str()
                .and_then(|n| n.strip_prefix(TEMP_DIR_PREFIX))
                .is_some_and(|uid| uid.parse::<u32>().is_ok());
            if is_status {
                dirs.push(entry.path());
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

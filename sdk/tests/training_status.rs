//! Training status records on disk: the writer replaces the file whole,
//! the reader trusts nothing in the directory (symlinks, foreign owners,
//! huge or malformed files, stale or reused-pid records, open directories).
//! The ownership tests chown to another uid, so they need root; elsewhere
//! they note it and pass unless `NVITOP_REQUIRE_PRIVILEGED_TESTS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// Only `skip_or_fail` is used here.
#[allow(dead_code)]
mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use nvitop::HostProcess;
use nvitop::training::dir::{self, StatusDirError};
use nvitop::training::{
    FORMAT_VERSION, Phase, ProcessIdentity, Progress, StatusWriter, TrainingRecord, read_dir_records,
    reader::{MAX_RECORD_BYTES, read_records_under},
};

const OTHER_UID: u32 = 65534;

fn private_dir(parent: &Path) -> PathBuf {
    dir::ensure_private_dir(&parent.join("nvitop")).unwrap()
}

fn record_for(identity: ProcessIdentity, step: u64) -> TrainingRecord {
    let mut record = Progress::new(Instant::now()).record(identity, Instant::now());
    record.step = step;
    record
}

fn write_raw(dir: &Path, identity: ProcessIdentity, bytes: &[u8]) -> PathBuf {
    let path = dir.join(identity.file_name());
    std::fs::write(&path, bytes).unwrap();
    path
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
}

#[test]
fn no_torn_read_in_10000_reads_under_concurrent_replacement() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let mut writer = StatusWriter::create_in(&dir).unwrap();
    let identity = writer.identity();
    writer.write_now(&record_for(identity, 0)).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let writing = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut step = 0u64;
            while !done.load(Ordering::Relaxed) {
                step += 1;
                let mut record = record_for(identity, step);
                // Lengths vary from write to write, so half of one record
                // and half of another cannot parse as a consistent record.
                record.run_name = Some(format!("run-{step}-{}", "x".repeat((step % 2000) as usize)));
                writer.write_now(&record).unwrap();
            }
            writer
        })
    };
    let mut steps_seen = std::collections::BTreeSet::new();
    for read in 0..10_000 {
        let records = read_dir_records(&dir);
        assert_eq!(records.len(), 1, "read {read}: the record is always there, whole");
        let record = &records[0];
        let expected = format!("run-{}-{}", record.step, "x".repeat((record.step % 2000) as usize));
        if record.step > 0 {
            assert_eq!(record.run_name.as_deref(), Some(expected.as_str()), "read {read}");
        }
        steps_seen.insert(record.step);
    }
    done.store(true, Ordering::Relaxed);
    let writer = writing.join().unwrap();
    assert!(
        steps_seen.len() > 10,
        "the reads overlapped the writes: {} steps seen",
        steps_seen.len()
    );
    let path = writer.path().to_owned();
    writer.close();
    assert!(!path.exists(), "closing removes the record");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temp file left behind");
}

#[test]
fn writes_are_rate_limited_to_one_a_second() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let mut writer = StatusWriter::create_in(&dir).unwrap();
    let t0 = Instant::now();
    let record = record_for(writer.identity(), 1);
    assert!(writer.write(&record, t0).unwrap());
    assert!(
        !writer
            .write(
                &record_for(writer.identity(), 2),
                t0 + std::time::Duration::from_millis(999)
            )
            .unwrap()
    );
    assert_eq!(read_dir_records(&dir)[0].step, 1);
    assert!(
        writer
            .write(
                &record_for(writer.identity(), 3),
                t0 + std::time::Duration::from_secs(1)
            )
            .unwrap()
    );
    assert_eq!(read_dir_records(&dir)[0].step, 3);
    let mode = std::fs::metadata(writer.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// A process that ran and exited: its identity names no running process.
fn gone_identity() -> ProcessIdentity {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let identity = ProcessIdentity {
        pid: child.id(),
        start_ticks: HostProcess::new(child.id()).unwrap().start_ticks(),
    };
    child.kill().unwrap();
    child.wait().unwrap();
    identity
}

#[test]
fn stale_and_reused_pid_records_are_ignored_and_cleaned_by_the_next_writer() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    let gone = gone_identity();
    // Our own pid, but an earlier start: the record of a process whose pid
    // was reused by this one.
    let reused = ProcessIdentity {
        pid: me.pid,
        start_ticks: me.start_ticks - 1,
    };
    let gone_path = write_raw(&dir, gone, &serde_json::to_vec(&record_for(gone, 5)).unwrap());
    let reused_path = write_raw(&dir, reused, &serde_json::to_vec(&record_for(reused, 6)).unwrap());
    let live_path = write_raw(&dir, me, &serde_json::to_vec(&record_for(me, 7)).unwrap());

    let records = read_dir_records(&dir);
    assert_eq!(
        records.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![7],
        "only the live record"
    );

    std::fs::remove_file(&live_path).unwrap();
    let writer = StatusWriter::create_in(&dir).unwrap();
    assert!(!gone_path.exists(), "a gone process's record is removed");
    assert!(!reused_path.exists(), "a reused pid's record is removed");
    drop(writer);
}

#[test]
fn a_record_whose_content_disagrees_with_its_name_is_ignored() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    // Names this process, claims pid 1 inside.
    let mut record = record_for(me, 1);
    record.pid = 1;
    write_raw(&dir, me, &serde_json::to_vec(&record).unwrap());
    assert!(read_dir_records(&dir).is_empty());
}

#[test]
fn a_symlink_is_never_followed() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    // A valid record outside the directory, linked in under the right name.
    let outside = parent.path().join("elsewhere.json");
    std::fs::write(&outside, serde_json::to_vec(&record_for(me, 9)).unwrap()).unwrap();
    symlink(&outside, dir.join(me.file_name())).unwrap();
    assert!(read_dir_records(&dir).is_empty(), "a symlinked record is refused");

    // The control: the same bytes as a plain file are read.
    std::fs::remove_file(dir.join(me.file_name())).unwrap();
    std::fs::copy(&outside, dir.join(me.file_name())).unwrap();
    assert_eq!(read_dir_records(&dir).len(), 1);

    // A symlink in place of the directory itself.
    let linked = parent.path().join("linked");
    symlink(&dir, &linked).unwrap();
    assert!(read_dir_records(&linked).is_empty(), "a symlinked directory is refused");
    assert!(matches!(
        dir::check_private_dir(&linked, rustix::process::geteuid().as_raw()),
        Err(StatusDirError::NotADirectory { .. })
    ));
}

#[test]
fn a_foreign_owned_file_is_refused() {
    if !is_root() {
        common::skip_or_fail("not root, so no file can be given to another uid");
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    let path = write_raw(&dir, me, &serde_json::to_vec(&record_for(me, 3)).unwrap());
    assert_eq!(read_dir_records(&dir).len(), 1, "control: our own file is read");
    chown(&path, OTHER_UID);
    assert!(
        read_dir_records(&dir).is_empty(),
        "a file of uid {OTHER_UID} in our directory is refused"
    );
}

#[test]
fn a_record_for_another_users_process_is_refused() {
    if !is_root() {
        common::skip_or_fail("not root, so no directory can be given to another uid");
        return;
    }
    // Uid 65534's directory claims this (root's) process: a user cannot
    // publish progress for someone else's process.
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    let path = write_raw(&dir, me, &serde_json::to_vec(&record_for(me, 3)).unwrap());
    chown(&path, OTHER_UID);
    chown(&dir, OTHER_UID);
    assert!(read_dir_records(&dir).is_empty());
}

#[test]
fn huge_malformed_wrong_version_and_fifo_files_are_absent() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    let valid = serde_json::to_vec(&record_for(me, 4)).unwrap();

    // Valid JSON padded past the cap.
    let mut huge = valid.clone();
    huge.extend(std::iter::repeat_n(b' ', MAX_RECORD_BYTES as usize));
    write_raw(&dir, me, &huge);
    assert!(read_dir_records(&dir).is_empty(), "over {MAX_RECORD_BYTES} bytes");

    for malformed in [&b"{\"version\":1,"[..], b"", b"\0\0\0", b"[1,2,3]", b"{\"version\":1}"] {
        write_raw(&dir, me, malformed);
        assert!(read_dir_records(&dir).is_empty(), "{malformed:?}");
    }

    let mut other_version = record_for(me, 4);
    other_version.version = FORMAT_VERSION + 1;
    write_raw(&dir, me, &serde_json::to_vec(&other_version).unwrap());
    assert!(read_dir_records(&dir).is_empty(), "another format version");

    // A FIFO under a record's name neither hangs the reader nor counts.
    std::fs::remove_file(dir.join(me.file_name())).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join(me.file_name()),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    assert!(read_dir_records(&dir).is_empty(), "a FIFO");

    std::fs::remove_file(dir.join(me.file_name())).unwrap();
    write_raw(&dir, me, &valid);
    assert_eq!(read_dir_records(&dir).len(), 1, "control: the valid record is read");
}

#[test]
fn an_open_directory_is_refused_by_writer_and_reader() {
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let me = ProcessIdentity::current();
    write_raw(&dir, me, &serde_json::to_vec(&record_for(me, 2)).unwrap());
    assert_eq!(read_dir_records(&dir).len(), 1);

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = dir::ensure_private_dir(&dir).unwrap_err();
    assert!(matches!(err, StatusDirError::OpenMode { mode: 0o755, .. }), "{err}");
    assert!(err.to_string().contains("chmod 700"), "{err}");
    assert!(StatusWriter::create_in(&dir).is_err());
    assert!(read_dir_records(&dir).is_empty(), "a 0755 directory is not read");
}

#[test]
fn a_foreign_owned_directory_is_refused() {
    if !is_root() {
        common::skip_or_fail("not root, so no directory can be given to another uid");
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    chown(&dir, OTHER_UID);
    let err = dir::ensure_private_dir(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            StatusDirError::ForeignOwner {
                owner: OTHER_UID,
                uid: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(StatusWriter::create_in(&dir).is_err());
}

#[test]
fn every_users_directories_are_read_and_joined_by_process() {
    let root = tempfile::tempdir().unwrap();
    let runtime_root = root.path().join("run-user");
    let temp = root.path().join("tmp");
    std::fs::create_dir_all(runtime_root.join("1234")).unwrap();
    std::fs::create_dir_all(&temp).unwrap();
    let runtime_dir = private_dir(&runtime_root.join("1234"));
    let temp_dir = dir::ensure_private_dir(&temp.join(format!("{}4321", dir::TEMP_DIR_PREFIX))).unwrap();

    let me = ProcessIdentity::current();
    let mut older = record_for(me, 10);
    older.written_at -= 5.0;
    let newer = record_for(me, 20);
    write_raw(&runtime_dir, me, &serde_json::to_vec(&older).unwrap());
    write_raw(&temp_dir, me, &serde_json::to_vec(&newer).unwrap());
    // A directory under the temp dir without the prefix is not looked in.
    let unrelated = dir::ensure_private_dir(&temp.join("other")).unwrap();
    let mut elsewhere = record_for(me, 99);
    elsewhere.written_at += 100.0;
    write_raw(&unrelated, me, &serde_json::to_vec(&elsewhere).unwrap());

    let joined = read_records_under(&runtime_root, &temp);
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[&me].step, 20, "the newest record of the process wins");
    assert_eq!(joined[&me].phase, Phase::Train);
}

#[test]
fn the_publisher_times_steps_by_when_the_hooks_ran_and_ends_with_done() {
    use nvitop::training::publisher::{Hook, StatusPublisher, wall_now};
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    let mut publisher = StatusPublisher::start_in(&dir, Some("run".to_owned()), None, vec![0, 1]);
    assert!(publisher.is_publishing());
    publisher.set_total_steps(Some(100));
    // Ten hooks 100 ms apart that ran in the last second, handed over at
    // once (as the worker drains its channel): the step time is 100 ms.
    let start = wall_now() - 1.0;
    for step in 1..=10u64 {
        publisher.hook(Hook::BatchStart, step, Some(0), start + 0.1 * step as f64 - 0.05);
        publisher.hook(Hook::BatchEnd, step, Some(0), start + 0.1 * step as f64);
    }
    publisher.tick(Instant::now());
    let record = read_dir_records(&dir).remove(0);
    assert_eq!(
        (record.step, record.epoch, record.total_steps),
        (10, Some(0), Some(100))
    );
    assert_eq!(record.gpus, vec![0, 1]);
    let p50 = record.step_time_p50_seconds.unwrap();
    assert!((p50 - 0.1).abs() / 0.1 < 0.08, "{p50}");
    let rate = record.steps_per_second.unwrap();
    assert!((rate - 10.0).abs() < 0.5, "{rate}");

    publisher.hook(Hook::ValidationStart, 10, Some(0), wall_now());
    publisher.hook(Hook::TrainEnd, 10, Some(0), wall_now());
    assert_eq!(read_dir_records(&dir)[0].phase, Phase::Done, "train end writes at once");
    drop(publisher);
    assert!(read_dir_records(&dir).is_empty(), "removed with the publisher");
}

#[test]
fn a_refused_directory_turns_publication_off_without_failing() {
    use nvitop::training::publisher::{Hook, StatusPublisher, wall_now};
    let parent = tempfile::tempdir().unwrap();
    let dir = private_dir(parent.path());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut publisher = StatusPublisher::start_in(&dir, None, None, vec![]);
    assert!(!publisher.is_publishing());
    publisher.hook(Hook::BatchEnd, 1, None, wall_now());
    publisher.tick(Instant::now());
    publisher.hook(Hook::TrainEnd, 1, None, wall_now());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

//! Sending a signal to exactly one process, on every kernel and container.
//!
//! Three ways, best first:
//!
//! 1. **A pidfd** (`pidfd_open`, Linux 5.3): opened *before* the identity
//!    check, it stays bound to the process it was opened for, so a signal
//!    through it reaches that process or nobody.
//! 2. **A `/proc/<pid>` directory fd** with `pidfd_send_signal` (Linux
//!    5.1): where `pidfd_open` is missing (kernels 5.1 and 5.2) or refused
//!    by a container's system-call filter (older Docker and Kubernetes
//!    seccomp profiles answer `EPERM` for calls they do not know). The
//!    directory is bound to its process as a pidfd is, and the identity is
//!    read through it, so this is as safe as 1.
//! 3. **`kill(2)`**, with the identity checked just before: where neither
//!    pidfd call is available. What remains is a race: if the process
//!    exits and a new one takes its pid in the microseconds between the
//!    check and `kill`, the new one gets the signal. The kernel hands a pid
//!    out again only after the whole pid range (`pid_max`, 4,194,304 on
//!    64-bit systems) has wrapped, so the host would have to start
//!    millions of processes in that instant.
//!
//! A way is passed over only when the kernel lacks its call (`ENOSYS`) or
//! a filter refuses it (`EPERM`, which `pidfd_open` never returns on its
//! own). `EPERM` from `pidfd_send_signal` can also be a real refusal (not
//! the owner): then `kill` gets the same answer, and that is the error
//! reported. Errors name the way that failed and why the better ways were
//! passed over.
//!
//! The system calls go through [`Syscalls`], so tests can play every
//! kernel and filter.

use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal};

use super::proc_stat;
use crate::error::Error;

/// The system calls a signal needs (a seam for tests).
pub(crate) trait Syscalls {
    /// `pidfd_open(pid, 0)`.
    fn pidfd_open(&self, pid: Pid) -> Result<OwnedFd, Errno>;
    /// `open("/proc/<pid>", O_RDONLY | O_DIRECTORY | O_CLOEXEC)`.
    fn open_proc_dir(&self, pid: u32) -> Result<OwnedFd, Errno>;
    /// `pidfd_send_signal(fd, sig, NULL, 0)`.
    fn pidfd_send_signal(&self, fd: BorrowedFd<'_>, sig: Signal) -> Result<(), Errno>;
    /// `kill(pid, sig)`.
    fn kill(&self, pid: Pid, sig: Signal) -> Result<(), Errno>;
    /// The start time (clock ticks after boot) of the process in `dir`,
    /// its `/proc/<pid>` directory, or else of the process with `pid` now;
    /// `None` when there is none.
    fn start_ticks(&self, pid: u32, dir: Option<BorrowedFd<'_>>) -> Option<u64>;
}

/// The kernel's.
pub(crate) struct Kernel;

impl Syscalls for Kernel {
    fn pidfd_open(&self, pid: Pid) -> Result<OwnedFd, Errno> {
        rustix::process::pidfd_open(pid, PidfdFlags::empty())
    }

    fn open_proc_dir(&self, pid: u32) -> Result<OwnedFd, Errno> {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::open(
            format!("/proc/{pid}").as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    fn pidfd_send_signal(&self, fd: BorrowedFd<'_>, sig: Signal) -> Result<(), Errno> {
        rustix::process::pidfd_send_signal(fd, sig)
    }

    fn kill(&self, pid: Pid, sig: Signal) -> Result<(), Errno> {
        rustix::process::kill_process(pid, sig)
    }

    fn start_ticks(&self, pid: u32, dir: Option<BorrowedFd<'_>>) -> Option<u64> {
        let stat = match dir {
            Some(dir) => {
                use rustix::fs::{Mode, OFlags};
                let fd = rustix::fs::openat(dir, "stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
                proc_stat::reread(&File::from(fd))?
            }
            None => proc_stat::read(pid)?,
        };
        Some(stat.start_ticks)
    }
}

/// Which way a signal went (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    Pidfd,
    ProcDir,
    Kill,
}

/// Sends `sig` to the process `(pid, start_ticks)` the best way the system
/// allows (see the module docs).
pub(crate) fn send(sys: &dyn Syscalls, pid: u32, start_ticks: u64, sig: Signal) -> Result<Way, Error> {
    let attempt = Attempt {
        sys,
        pid,
        start_ticks,
        action: format!("signal {}", sig.as_raw()),
        passed_over: Vec::new(),
    };
    attempt.run(sig)
}

/// One signal on its way: what was tried and passed over so far.
struct Attempt<'a> {
    sys: &'a dyn Syscalls,
    pid: u32,
    start_ticks: u64,
    action: String,
    /// `(call, errno)` of each way passed over.
    passed_over: Vec<(&'static str, Errno)>,
}

/// Whether `errno` means the call is missing (`ENOSYS`) or filtered out
/// (`EPERM`): worth trying the next way.
fn unavailable(errno: Errno) -> bool {
    errno == Errno::NOSYS || errno == Errno::PERM
}

impl Attempt<'_> {
    fn run(mut self, sig: Signal) -> Result<Way, Error> {
        let pid = Pid::from_raw(self.pid as i32).ok_or(Error::NoSuchProcess { pid: self.pid })?;
        // 1. A pidfd.
        match self.sys.pidfd_open(pid) {
            Ok(fd) => {
                self.check(None)?;
                match self.sys.pidfd_send_signal(fd.as_fd(), sig) {
                    Ok(()) => return Ok(Way::Pidfd),
                    Err(errno) if unavailable(errno) => self.passed_over.push(("pidfd_send_signal", errno)),
                    Err(errno) => return Err(self.error("pidfd_send_signal", errno)),
                }
            }
            Err(errno) if unavailable(errno) => self.passed_over.push(("pidfd_open", errno)),
            Err(errno) => return Err(self.error("pidfd_open", errno)),
        }
        // 2. The /proc directory, unless the signal call itself was what
        //    failed: it is the same call.
        if self.passed_over.iter().all(|&(call, _)| call != "pidfd_send_signal") {
            match self.sys.open_proc_dir(self.pid) {
                Ok(dir) => {
                    self.check(Some(dir.as_fd()))?;
                    match self.sys.pidfd_send_signal(dir.as_fd(), sig) {
                        Ok(()) => return Ok(Way::ProcDir),
                        Err(errno) if unavailable(errno) => self.passed_over.push(("pidfd_send_signal", errno)),
                        Err(errno) => return Err(self.error("pidfd_send_signal", errno)),
                    }
                }
                Err(Errno::NOENT | Errno::SRCH) => return Err(Error::NoSuchProcess { pid: self.pid }),
                // Anything else (no /proc, out of descriptors): `kill`
                // needs neither.
                Err(errno) => self.passed_over.push(("open /proc/<pid>", errno)),
            }
        }
        // 3. kill(2), checked just before (the race is in the module docs).
        self.check(None)?;
        self.sys.kill(pid, sig).map_err(|errno| self.error("kill", errno))?;
        Ok(Way::Kill)
    }

    /// Whether the process (through `dir`, or the pid's now) is still the
    /// one the handle was made for.
    fn check(&self, dir: Option<BorrowedFd<'_>>) -> Result<(), Error> {
        match self.sys.start_ticks(self.pid, dir) {
            Some(ticks) if ticks == self.start_ticks => Ok(()),
            Some(_) => Err(Error::PidReused { pid: self.pid }),
            None => Err(Error::NoSuchProcess { pid: self.pid }),
        }
    }

    /// The error for `call` failing with `errno`.
    fn error(&self, call: &str, errno: Errno) -> Error {
        match errno {
            Errno::SRCH => Error::NoSuchProcess { pid: self.pid },
            // `EPERM` from `kill`, or from a pidfd call that was not passed
            // over, is the kernel's permission check: not the owner.
            Errno::PERM | Errno::ACCESS => Error::PermissionDenied {
                pid: self.pid,
                action: self.action.clone(),
            },
            other => Error::Os {
                pid: self.pid,
                action: self.describe(call),
                source: other.into(),
            },
        }
    }

    /// `signal 15 through kill(2) (pidfd_open: ENOSYS, ...)`: the action,
    /// the call that failed and why the better ways were passed over.
    fn describe(&self, call: &str) -> String {
        let mut text = format!("{} through {call}", self.action);
        for (i, (call, errno)) in self.passed_over.iter().enumerate() {
            let why = match *errno {
                Errno::NOSYS => "not in this kernel",
                Errno::PERM => "refused by a system-call filter",
                _ => "failed",
            };
            let _ = write!(
                text,
                "{}{call} {why}: {}",
                if i == 0 { " (" } else { "; " },
                std::io::Error::from(*errno)
            );
        }
        if !self.passed_over.is_empty() {
            text.push(')');
        }
        text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::RefCell;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    use super::*;

    /// A kernel with chosen answers, recording the calls made.
    struct Fake {
        pidfd_open: Result<(), Errno>,
        open_proc_dir: Result<(), Errno>,
        /// The answer of `pidfd_send_signal`, by the fd kind it gets.
        send_on_pidfd: Result<(), Errno>,
        send_on_dir: Result<(), Errno>,
        kill: Result<(), Errno>,
        /// The start ticks each identity read finds, in order (the last
        /// one repeats).
        starts: RefCell<Vec<Option<u64>>>,
        calls: RefCell<Vec<String>>,
        /// Which fds are directories (by raw number).
        dirs: RefCell<Vec<i32>>,
    }

    const START: u64 = 4242;

    impl Fake {
        fn new() -> Self {
            Self {
                pidfd_open: Ok(()),
                open_proc_dir: Ok(()),
                send_on_pidfd: Ok(()),
                send_on_dir: Ok(()),
                kill: Ok(()),
                starts: RefCell::new(vec![Some(START)]),
                calls: RefCell::new(Vec::new()),
                dirs: RefCell::new(Vec::new()),
            }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.borrow().clone()
        }

        fn record(&self, call: &str) {
            self.calls.borrow_mut().push(call.to_owned());
        }
    }

    /// A real descriptor to hand out (the fake never uses it).
    fn some_fd() -> OwnedFd {
        File::open("/dev/null").unwrap().into()
    }

    impl Syscalls for Fake {
        fn pidfd_open(&self, _pid: Pid) -> Result<OwnedFd, Errno> {
            self.record("pidfd_open");
            self.pidfd_open.map(|()| some_fd())
        }
        fn open_proc_dir(&self, _pid: u32) -> Result<OwnedFd, Errno> {
            self.record("open_proc_dir");
            self.open_proc_dir.map(|()| {
                let fd = some_fd();
                self.dirs.borrow_mut().push(std::os::fd::AsRawFd::as_raw_fd(&fd));
                fd
            })
        }
        fn pidfd_send_signal(&self, fd: BorrowedFd<'_>, _sig: Signal) -> Result<(), Errno> {
            let on_dir = self.dirs.borrow().contains(&std::os::fd::AsRawFd::as_raw_fd(&fd));
            self.record(if on_dir {
                "pidfd_send_signal(dir)"
            } else {
                "pidfd_send_signal(pidfd)"
            });
            if on_dir { self.send_on_dir } else { self.send_on_pidfd }
        }
        fn kill(&self, _pid: Pid, _sig: Signal) -> Result<(), Errno> {
            self.record("kill");
            self.kill
        }
        fn start_ticks(&self, _pid: u32, dir: Option<BorrowedFd<'_>>) -> Option<u64> {
            self.record(if dir.is_some() { "identity(dir)" } else { "identity" });
            let mut starts = self.starts.borrow_mut();
            if starts.len() > 1 { starts.remove(0) } else { starts[0] }
        }
    }

    fn send_to(fake: &Fake) -> Result<Way, Error> {
        send(fake, 1234, START, Signal::TERM)
    }

    #[test]
    fn a_pidfd_when_there_is_one() {
        let fake = Fake::new();
        assert_eq!(send_to(&fake).unwrap(), Way::Pidfd);
        assert_eq!(fake.calls(), ["pidfd_open", "identity", "pidfd_send_signal(pidfd)"]);
    }

    #[test]
    fn without_pidfd_open_the_proc_directory_and_its_own_identity() {
        for refusal in [Errno::NOSYS, Errno::PERM] {
            let fake = Fake {
                pidfd_open: Err(refusal),
                ..Fake::new()
            };
            assert_eq!(send_to(&fake).unwrap(), Way::ProcDir, "{refusal:?}");
            assert_eq!(
                fake.calls(),
                ["pidfd_open", "open_proc_dir", "identity(dir)", "pidfd_send_signal(dir)"]
            );
        }
    }

    #[test]
    fn without_pidfd_send_signal_a_checked_kill() {
        // Kernels before 5.1 have neither call; a seccomp filter of
        // Docker before 20.10 refuses both with EPERM.
        for refusal in [Errno::NOSYS, Errno::PERM] {
            let fake = Fake {
                pidfd_open: Err(refusal),
                send_on_dir: Err(refusal),
                ..Fake::new()
            };
            assert_eq!(send_to(&fake).unwrap(), Way::Kill, "{refusal:?}");
            assert_eq!(
                fake.calls(),
                [
                    "pidfd_open",
                    "open_proc_dir",
                    "identity(dir)",
                    "pidfd_send_signal(dir)",
                    "identity",
                    "kill"
                ]
            );
        }
        // pidfd_open there but its signal call filtered: the directory
        // would use the same call, so straight to kill.
        let fake = Fake {
            send_on_pidfd: Err(Errno::PERM),
            ..Fake::new()
        };
        assert_eq!(send_to(&fake).unwrap(), Way::Kill);
        assert_eq!(
            fake.calls(),
            ["pidfd_open", "identity", "pidfd_send_signal(pidfd)", "identity", "kill"]
        );
        // No /proc/<pid> directory to open (out of descriptors): kill.
        let fake = Fake {
            pidfd_open: Err(Errno::NOSYS),
            open_proc_dir: Err(Errno::MFILE),
            ..Fake::new()
        };
        assert_eq!(send_to(&fake).unwrap(), Way::Kill);
    }

    #[test]
    fn a_filters_eperm_is_not_reported_as_a_permission_problem() {
        // The filter refuses both pidfd calls; kill goes through.
        let fake = Fake {
            pidfd_open: Err(Errno::PERM),
            send_on_dir: Err(Errno::PERM),
            ..Fake::new()
        };
        assert!(send_to(&fake).is_ok());
        // A real refusal (not the owner) is: kill says so too.
        let fake = Fake {
            pidfd_open: Err(Errno::PERM),
            send_on_dir: Err(Errno::PERM),
            kill: Err(Errno::PERM),
            ..Fake::new()
        };
        let err = send_to(&fake).unwrap_err();
        assert!(
            matches!(&err, Error::PermissionDenied { pid: 1234, action } if action == "signal 15"),
            "{err:?}"
        );
        assert!(err.to_string().contains("run as the process owner or root"), "{err}");
        // With a working pidfd, the kernel's EPERM is a real refusal too.
        let fake = Fake {
            send_on_pidfd: Err(Errno::PERM),
            kill: Err(Errno::PERM),
            ..Fake::new()
        };
        assert!(matches!(send_to(&fake), Err(Error::PermissionDenied { .. })));
    }

    #[test]
    fn other_failures_name_the_call_and_why_better_ways_were_passed_over() {
        let fake = Fake {
            pidfd_open: Err(Errno::NOSYS),
            send_on_dir: Err(Errno::PERM),
            kill: Err(Errno::INVAL),
            ..Fake::new()
        };
        let err = send_to(&fake).unwrap_err();
        assert!(matches!(err, Error::Os { pid: 1234, .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "signal 15 through kill (pidfd_open not in this kernel: Function not implemented (os error 38); \
                 pidfd_send_signal refused by a system-call filter: Operation not permitted (os error 1)) on pid 1234 failed: "
            ),
            "{text}"
        );
        // A pidfd_open that fails for another reason is reported as such.
        let fake = Fake {
            pidfd_open: Err(Errno::MFILE),
            ..Fake::new()
        };
        let err = send_to(&fake).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("signal 15 through pidfd_open on pid 1234 failed: "),
            "{err}"
        );
        assert_eq!(fake.calls(), ["pidfd_open"]);
    }

    #[test]
    fn every_way_refuses_a_reused_pid_and_a_gone_process() {
        let reused = |fake: Fake| {
            *fake.starts.borrow_mut() = vec![Some(START + 1)];
            let err = send_to(&fake).unwrap_err();
            assert!(matches!(err, Error::PidReused { pid: 1234 }), "{err:?}");
            assert!(
                !fake.calls().iter().any(|c| c.starts_with("pidfd_send") || c == "kill"),
                "{:?}",
                fake.calls()
            );
        };
        reused(Fake::new());
        reused(Fake {
            pidfd_open: Err(Errno::NOSYS),
            ..Fake::new()
        });
        reused(Fake {
            pidfd_open: Err(Errno::NOSYS),
            send_on_dir: Err(Errno::NOSYS),
            ..Fake::new()
        });
        // The kill fallback checks again just before kill: the process
        // seen through the directory has exited since, its pid reused.
        let fake = Fake {
            pidfd_open: Err(Errno::NOSYS),
            send_on_dir: Err(Errno::NOSYS),
            starts: RefCell::new(vec![Some(START), Some(START + 7)]),
            ..Fake::new()
        };
        assert!(matches!(send_to(&fake), Err(Error::PidReused { .. })));
        assert!(!fake.calls().contains(&"kill".to_owned()));
        // Gone: ESRCH from any call, or no /proc entry.
        for fake in [
            Fake {
                pidfd_open: Err(Errno::SRCH),
                ..Fake::new()
            },
            Fake {
                pidfd_open: Err(Errno::NOSYS),
                open_proc_dir: Err(Errno::NOENT),
                ..Fake::new()
            },
            Fake {
                pidfd_open: Err(Errno::NOSYS),
                send_on_dir: Err(Errno::NOSYS),
                kill: Err(Errno::SRCH),
                ..Fake::new()
            },
            Fake {
                starts: RefCell::new(vec![None]),
                ..Fake::new()
            },
        ] {
            let err = send_to(&fake).unwrap_err();
            assert!(matches!(err, Error::NoSuchProcess { pid: 1234 }), "{err:?}");
        }
    }

    /// The kernel's calls, less those a test says are missing.
    struct Without {
        pidfd_open: bool,
        pidfd_send_signal: bool,
    }

    impl Syscalls for Without {
        fn pidfd_open(&self, pid: Pid) -> Result<OwnedFd, Errno> {
            if self.pidfd_open {
                Err(Errno::NOSYS)
            } else {
                Kernel.pidfd_open(pid)
            }
        }
        fn open_proc_dir(&self, pid: u32) -> Result<OwnedFd, Errno> {
            Kernel.open_proc_dir(pid)
        }
        fn pidfd_send_signal(&self, fd: BorrowedFd<'_>, sig: Signal) -> Result<(), Errno> {
            if self.pidfd_send_signal {
                Err(Errno::PERM)
            } else {
                Kernel.pidfd_send_signal(fd, sig)
            }
        }
        fn kill(&self, pid: Pid, sig: Signal) -> Result<(), Errno> {
            Kernel.kill(pid, sig)
        }
        fn start_ticks(&self, pid: u32, dir: Option<BorrowedFd<'_>>) -> Option<u64> {
            Kernel.start_ticks(pid, dir)
        }
    }

    #[test]
    fn each_way_delivers_a_real_signal() {
        for (sys, way, signal) in [
            (
                Without {
                    pidfd_open: false,
                    pidfd_send_signal: false,
                },
                Way::Pidfd,
                Signal::TERM,
            ),
            (
                Without {
                    pidfd_open: true,
                    pidfd_send_signal: false,
                },
                Way::ProcDir,
                Signal::USR1,
            ),
            (
                Without {
                    pidfd_open: true,
                    pidfd_send_signal: true,
                },
                Way::Kill,
                Signal::INT,
            ),
        ] {
            let mut child = Command::new("sleep").arg("30").spawn().unwrap();
            let start = proc_stat::read(child.id()).unwrap().start_ticks;
            // A stale identity is refused by every way, the child untouched.
            let err = send(&sys, child.id(), start - 1, signal).unwrap_err();
            assert!(matches!(err, Error::PidReused { .. }), "{way:?}: {err:?}");
            assert!(child.try_wait().unwrap().is_none());
            assert_eq!(send(&sys, child.id(), start, signal).unwrap(), way);
            assert_eq!(child.wait().unwrap().signal(), Some(signal.as_raw()), "{way:?}");
            // Reaped: gone for every way.
            let err = send(&sys, child.id(), start, signal).unwrap_err();
            assert!(
                matches!(err, Error::NoSuchProcess { .. } | Error::PidReused { .. }),
                "{way:?}: {err:?}"
            );
        }
    }
}

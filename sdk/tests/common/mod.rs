//! Test doubles shared by the SDK's integration tests.

use std::time::Duration;

use nvitop::sink::{LogRecord, Sink, SinkError};

/// A sink that sleeps `.0` for each row it writes, so the logger's channel fills.
pub struct SlowSink(pub Duration);

impl Sink for SlowSink {
    fn start(&mut self, _keys: &[String]) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, _record: &LogRecord<'_>) -> Result<(), SinkError> {
        std::thread::sleep(self.0);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn describe(&self) -> String {
        format!("slow ({:?} a row)", self.0)
    }
}

/// Environment variable that makes a test which cannot run here (no
/// privilege, no namespaces, a missing tool) fail instead of skipping. CI
/// runs as root and sets it (`.ci/run`), so nothing there passes unrun.
// Not every test binary that includes this module uses these.
#[allow(dead_code)]
pub const REQUIRE_PRIVILEGED_ENV: &str = "NVITOP_REQUIRE_PRIVILEGED_TESTS";

/// The one place that decides what a test that cannot run does: with
/// [`REQUIRE_PRIVILEGED_ENV`] set to `1` it fails, naming why; otherwise it
/// prints a note and the caller returns (a developer's unprivileged
/// machine). Call it, then `return`.
#[allow(dead_code)]
pub fn skip_or_fail(why: &str) {
    let required = std::env::var(REQUIRE_PRIVILEGED_ENV).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "this test cannot run here: {why} ({REQUIRE_PRIVILEGED_ENV}=1 requires it to)"
    );
    eprintln!(
        "note: skipping, this test cannot run here: {why} (set {REQUIRE_PRIVILEGED_ENV}=1 to make this a failure)"
    );
}

/// Debian's `libnss-wrapper` (`LD_PRELOAD`ed with `NSS_WRAPPER_PASSWD` and
/// `NSS_WRAPPER_GROUP`, it answers the C library's user lookups from the
/// given files, as an LDAP or SSSD user database would): where it is
/// installed, or `None`. Shared with the monitor's tests (`#[path]`).
#[allow(dead_code)]
pub fn nss_wrapper_library() -> Option<std::path::PathBuf> {
    let multiarch = format!("/usr/lib/{}-linux-gnu/libnss_wrapper.so", std::env::consts::ARCH);
    let known = [
        multiarch.as_str(),
        "/usr/lib/libnss_wrapper.so",
        "/usr/lib64/libnss_wrapper.so",
    ];
    if let Some(path) = known.iter().map(std::path::Path::new).find(|p| p.is_file()) {
        return Some(path.to_owned());
    }
    // Elsewhere: ask the package manager where it put it.
    let listed = std::process::Command::new("dpkg")
        .args(["-L", "libnss-wrapper"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|line| line.ends_with("/libnss_wrapper.so"))
        .map(std::path::PathBuf::from)
}

/// A user that exists only in the files an NSS wrapper serves (not in
/// `/etc/passwd`): its name and uid.
#[allow(dead_code)]
pub const NSS_ONLY_USER: (&str, u32) = ("nvitop-ldap-user", 48_123);

/// Writes the `passwd` and `group` files for [`NSS_ONLY_USER`] into `dir`
/// and returns the environment that makes a program started with it see
/// that user through the C library (`None` without the wrapper library).
#[allow(dead_code)]
pub fn nss_wrapper_env(dir: &std::path::Path) -> Option<Vec<(&'static str, std::ffi::OsString)>> {
    let library = nss_wrapper_library()?;
    let (name, uid) = NSS_ONLY_USER;
    let passwd = dir.join("passwd");
    let group = dir.join("group");
    std::fs::write(
        &passwd,
        format!("root:x:0:0:root:/root:/bin/sh\n{name}:x:{uid}:{uid}:Directory-only user:/nonexistent:/bin/false\n"),
    )
    .ok()?;
    std::fs::write(&group, format!("root:x:0:\n{name}:x:{uid}:\n")).ok()?;
    Some(vec![
        ("LD_PRELOAD", library.into_os_string()),
        ("NSS_WRAPPER_PASSWD", passwd.into_os_string()),
        ("NSS_WRAPPER_GROUP", group.into_os_string()),
    ])
}

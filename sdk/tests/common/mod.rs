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

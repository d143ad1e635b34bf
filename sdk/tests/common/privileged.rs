//! Tests that need privileges (mounting a tmpfs) and cannot get them here.
//!
//! Outside CI such a test says why it did not run and passes; with
//! `NVITOP_REQUIRE_PRIVILEGED_TESTS=1` (set by `.ci/run`, which runs as
//! root) not running is a failure, so CI cannot pass without running it.

/// Reports that the calling test could not run because of `why`: a note
/// on stderr, or a panic when `NVITOP_REQUIRE_PRIVILEGED_TESTS=1`.
///
/// # Panics
/// When privileged tests are required.
pub fn skip_or_fail(why: &str) {
    assert!(
        !std::env::var("NVITOP_REQUIRE_PRIVILEGED_TESTS").is_ok_and(|v| v == "1"),
        "NVITOP_REQUIRE_PRIVILEGED_TESTS=1 but this test cannot run: {why}"
    );
    eprintln!("skipped: {why} (set NVITOP_REQUIRE_PRIVILEGED_TESTS=1 to make this a failure)");
}

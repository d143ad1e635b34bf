//! What the example tests share: finding a built example.

use std::path::PathBuf;

/// `cargo test` builds the package's examples next to the test binaries'
/// `deps/` folder.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join(name)
}

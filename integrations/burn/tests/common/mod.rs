//! Readers of what burn's Learner writes, shared by the integration tests.

use std::path::Path;

use burn::train::metric::NumericEntry;

/// The numeric entries of one of burn's metric log files.
pub fn burn_log(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| NumericEntry::deserialize(l).unwrap().current())
        .collect()
}

/// The GPU metrics' log files in one of burn's epoch folders.
pub fn gpu_metric_files(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("GPU"))
        .collect()
}

//! Built-in scenarios, written in the scenario format itself (see the
//! `presets/` folder next to this file), so each one is also an example.

use std::path::Path;

use super::scenario::{Format, Scenario, ScenarioError};

/// Every preset: name, what it shows, TOML text.
///
/// ```
/// use nvitop::backend::sim::presets::{PRESETS, names, preset};
/// for (name, description, _toml) in PRESETS {
///     println!("{name:8} {description}");
///     assert!(preset(name).is_ok());
/// }
/// ```
pub const PRESETS: [(&str, &str, &str); 6] = [
    (
        "default",
        "4 GPUs: a training H100, an A100 split into 3 MIG devices, an inference A100, a desktop RTX 4090",
        include_str!("presets/default.toml"),
    ),
    (
        "h100x8",
        "8 H100s with 64 processes each (real host pids)",
        include_str!("presets/h100x8.toml"),
    ),
    (
        "mig",
        "an A100 with 4 MIG devices and an H100 with 2",
        include_str!("presets/mig.toml"),
    ),
    (
        "rtx4090",
        "a workstation RTX 4090 driving a display while training",
        include_str!("presets/rtx4090.toml"),
    ),
    (
        "a100x4",
        "4 A100s running one data-parallel job, rank 0 is the calling process",
        include_str!("presets/a100x4.toml"),
    ),
    (
        "faults",
        "N/A fields, a process list that needs permission, an exited process, a GPU lost at t=30 s",
        include_str!("presets/faults.toml"),
    ),
];

/// The names of all presets, comma separated (for error messages).
///
/// ```
/// use nvitop::backend::sim::presets::{PRESETS, names, preset};
/// assert!(names().starts_with("default, h100x8"));
/// assert!(names().contains("faults"));
/// ```
pub fn names() -> String {
    PRESETS.iter().map(|(name, ..)| *name).collect::<Vec<_>>().join(", ")
}

/// The preset called `name` (case-insensitive).
///
/// # Errors
/// [`ScenarioError::UnknownPreset`] listing the known names.
///
/// ```
/// use nvitop::backend::sim::presets::{PRESETS, names, preset};
/// assert_eq!(preset("MIG").unwrap().gpus.len(), 2); // case-insensitive
/// assert!(preset("h200x16").is_err());
/// ```
pub fn preset(name: &str) -> Result<Scenario, ScenarioError> {
    let (key, _, text) = PRESETS
        .iter()
        .find(|(key, ..)| key.eq_ignore_ascii_case(name))
        .ok_or_else(|| ScenarioError::UnknownPreset {
            name: name.to_owned(),
            known: names(),
        })?;
    Scenario::parse(text, Format::Toml, Path::new(&format!("<preset {key}>")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses() {
        for (name, ..) in PRESETS {
            let scenario = preset(name);
            assert!(scenario.is_ok(), "{name}: {scenario:?}");
        }
        assert!(preset("DEFAULT").is_ok());
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let err = preset("h200x16").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("h200x16") && err.contains("h100x8") && err.contains("scenario file"),
            "{err}"
        );
    }
}

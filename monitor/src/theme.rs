//! Colors, glyphs and load thresholds: everything that decides how a value
//! looks, kept apart from the widgets so the printer and a future TUI share it.

use nvitop::DeviceSnapshot;
use ratatui::style::{Color, Modifier, Style};

use crate::bar::BarStyle;

/// How heavily a resource is used, from the `--*-util-thresh` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoadLevel {
    /// Below the first threshold.
    Light,
    /// Between the thresholds.
    Moderate,
    /// At or above the second threshold.
    Heavy,
}

/// A pair of thresholds `th1 < th2`, both in `1..=99` percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Below this: light.
    pub low: u8,
    /// At or above this: heavy.
    pub high: u8,
}

impl Thresholds {
    /// nvitop's defaults for GPU utilization.
    pub const GPU_DEFAULT: Self = Self { low: 10, high: 75 };
    /// nvitop's defaults for memory utilization.
    pub const MEM_DEFAULT: Self = Self { low: 10, high: 80 };

    /// Checks `1 <= low < high <= 99`.
    ///
    /// # Errors
    /// A message naming the bad pair.
    pub fn new(low: u8, high: u8) -> Result<Self, String> {
        if (1..=99).contains(&low) && (1..=99).contains(&high) && low < high {
            Ok(Self { low, high })
        } else {
            Err(format!(
                "invalid threshold pair '{low} {high}': need 1 <= th1 < th2 <= 99"
            ))
        }
    }

    /// The load level of `percent`.
    pub fn level(self, percent: f64) -> LoadLevel {
        if percent < f64::from(self.low) {
            LoadLevel::Light
        } else if percent < f64::from(self.high) {
            LoadLevel::Moderate
        } else {
            LoadLevel::Heavy
        }
    }
}

/// Box-drawing and bar glyphs: Unicode or plain ASCII (`--ascii`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glyphs {
    /// Box-drawing characters and eighth-block bars.
    Unicode,
    /// `+-=|` frames and `#` bars, for terminals and logs without Unicode.
    Ascii,
}

impl Glyphs {
    /// The vertical frame line.
    pub fn vertical(self) -> &'static str {
        match self {
            Self::Unicode => "│",
            Self::Ascii => "|",
        }
    }

    /// The sort-column marker: descending or ascending.
    pub fn sort_marker(self, descending: bool) -> &'static str {
        match (self, descending) {
            (Self::Unicode, true) => "▼",
            (Self::Unicode, false) => "▲",
            (Self::Ascii, true) => "v",
            (Self::Ascii, false) => "^",
        }
    }

    /// The ellipsis that marks a cut name.
    pub fn ellipsis(self) -> &'static str {
        match self {
            Self::Unicode => "…",
            Self::Ascii => "~",
        }
    }
}

/// The palette. Dark terminals are the default; `--light` swaps the colors
/// that would vanish on a white background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    light_background: bool,
}

impl Theme {
    /// The palette for a dark (`false`) or light (`true`) terminal background.
    pub fn new(light_background: bool) -> Self {
        Self { light_background }
    }

    /// The color of a load level.
    pub fn load(self, level: LoadLevel) -> Style {
        let color = match (level, self.light_background) {
            (LoadLevel::Light, _) => Color::Green,
            // Plain yellow is unreadable on white: use a dark amber there.
            (LoadLevel::Moderate, false) => Color::Yellow,
            (LoadLevel::Moderate, true) => Color::Indexed(130),
            (LoadLevel::Heavy, _) => Color::Red,
        };
        Style::new().fg(color)
    }

    /// Text that matters less: other users' processes, hints.
    pub fn dim(self) -> Style {
        if self.light_background {
            Style::new().fg(Color::Indexed(246))
        } else {
            Style::new().fg(Color::DarkGray)
        }
    }

    /// Errors: a lost GPU, an unreadable process list.
    pub fn error(self) -> Style {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Titles and column headers.
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Tagged processes in the live view (Space).
    pub fn tagged(self) -> Style {
        let color = if self.light_background {
            Color::Blue
        } else {
            Color::Cyan
        };
        Style::new().fg(color).add_modifier(Modifier::BOLD)
    }

    /// Warnings (for example: the GPUs are simulated).
    pub fn warning(self) -> Style {
        self.load(LoadLevel::Moderate).add_modifier(Modifier::BOLD)
    }
}

/// Everything the widgets need besides the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Unicode or ASCII glyphs.
    pub glyphs: Glyphs,
    /// The palette.
    pub theme: Theme,
    /// GPU utilization thresholds.
    pub gpu_thresholds: Thresholds,
    /// Memory utilization thresholds.
    pub mem_thresholds: Thresholds,
    /// Gradient bars (each cell colored by its own position) instead of
    /// bars in the single color of their level.
    pub colorful: bool,
    /// The user running the monitor: other users' processes are dimmed.
    pub current_user: Option<String>,
    /// Host name shown in the process panel title.
    pub hostname: Option<String>,
    /// Offset from UTC for the date line; `None` uses the local time zone.
    /// Tests fix it so snapshots do not depend on the machine.
    pub utc_offset: Option<chrono::FixedOffset>,
}

impl RenderOptions {
    /// The color of a device's load: the heavier of its GPU utilization
    /// and memory use; no color when neither is known.
    pub fn device_load(&self, device: &DeviceSnapshot) -> Style {
        let gpu = device.gpu_utilization.map(|u| self.gpu_thresholds.level(f64::from(u)));
        let mem = device.memory_percent.map(|p| self.mem_thresholds.level(p));
        gpu.max(mem).map_or_else(Style::default, |level| self.theme.load(level))
    }

    /// How a bar colored by `thresholds` looks.
    pub fn bar_style(&self, thresholds: Thresholds) -> BarStyle {
        BarStyle {
            glyphs: self.glyphs,
            theme: self.theme,
            thresholds,
            colorful: self.colorful,
        }
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            glyphs: Glyphs::Unicode,
            theme: Theme::new(false),
            gpu_thresholds: Thresholds::GPU_DEFAULT,
            mem_thresholds: Thresholds::MEM_DEFAULT,
            colorful: false,
            current_user: None,
            hostname: None,
            utc_offset: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_thresholds() {
        let t = Thresholds::GPU_DEFAULT;
        assert_eq!(t.level(0.0), LoadLevel::Light);
        assert_eq!(t.level(9.9), LoadLevel::Light);
        assert_eq!(t.level(10.0), LoadLevel::Moderate);
        assert_eq!(t.level(74.9), LoadLevel::Moderate);
        assert_eq!(t.level(75.0), LoadLevel::Heavy);
    }

    #[test]
    fn thresholds_are_validated() {
        assert!(Thresholds::new(10, 75).is_ok());
        assert!(Thresholds::new(0, 75).is_err());
        assert!(Thresholds::new(75, 10).is_err());
        assert!(Thresholds::new(50, 50).is_err());
        assert!(Thresholds::new(10, 100).is_err());
    }
}

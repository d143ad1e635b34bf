//! # nvitop-monitor
//!
//! The GPU status monitor of nvitop-rs. Without `-m` it prints the status
//! once and exits (like `nvidia-smi`): a device table, host usage and the
//! GPU processes, rendered from one [`nvitop::Snapshot`].
//!
//! The panels are ratatui widgets ([`widgets`]) that only read a snapshot;
//! [`screen`] stacks them, [`ansi`] prints a rendered buffer with or without
//! color, and [`app`] wires the command line to all of it.
//!
//! ```
//! use std::sync::Arc;
//! use nvitop::{Snapshot, backend::{Backend, sim::SimBackend}};
//! use nvitop_monitor::{RenderOptions, ansi, render};
//!
//! let backend: Arc<dyn Backend> = Arc::new(SimBackend::default_machine());
//! let snapshot = Snapshot::take_all(&backend)?;
//! let buffer = render(&snapshot, &RenderOptions::default(), 120);
//! let text = ansi::to_ansi(&buffer, false);
//! assert!(text.contains("Driver Version:"));
//! assert!(text.lines().all(|line| line.chars().count() <= 120));
//! # Ok::<(), nvitop::Error>(())
//! ```

pub mod ansi;
pub mod app;
pub mod bar;
pub mod cli;
pub mod filter;
pub mod frame;
pub mod inline_panel;
pub mod live;
pub mod screen;
pub mod text;
pub mod theme;
pub mod training;
pub mod widgets;

pub use app::{Environment, Failure, run};
pub use cli::Cli;
pub use screen::{MainScreen, render};
pub use theme::RenderOptions;

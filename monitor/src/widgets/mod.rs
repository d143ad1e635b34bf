//! The panels of the main screen, as ratatui widgets rendered from a
//! [`nvitop::Snapshot`]. They know nothing about terminals or printing, so
//! the one-shot printer and the interactive mode draw the very same thing.

pub mod devices;
pub mod host;
mod process_columns;
pub mod processes;

pub use devices::DevicePanel;
pub use host::HostPanel;
pub use processes::ProcessPanel;

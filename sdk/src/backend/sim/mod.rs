//! The built-in GPU simulator (being written).

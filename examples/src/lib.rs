//! Examples of the nvitop SDK live in this crate's `[[example]]` targets; see `examples/README.md`.

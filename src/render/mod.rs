//! Rendering values for people and tools. Returns strings; never prints.

pub mod diagnostics;
pub mod escape;
pub mod format;
pub mod table;
pub mod trend;

//! kpiblend: contact-center KPI definitions — a language, a checker, and an evaluator
//! over CSV exports.
//!
//! The pipeline is visible in the modules: `syntax` (text to [`ast`]), `check` (AST to a
//! checked [`program::Program`]), `eval` (program and data to results). The library
//! never prints and never exits: it returns values and [`diagnostic::Diagnostic`]s.

mod api;
pub mod ast;
pub mod calendar;
pub mod check;
pub mod data;
pub mod diagnostic;
pub mod eval;
pub mod explain;
pub mod format;
pub mod program;
pub mod query;
pub mod render;
pub mod repl;
pub mod source;
pub mod suggest;
pub mod syntax;
pub mod testing;
pub mod types;
pub mod write;

pub use api::{Error, Project};

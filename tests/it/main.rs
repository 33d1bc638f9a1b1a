//! The integration suite: one binary, one module per area.
//!
//! Golden files are compared byte for byte; run with `BLESS=1` to rewrite them after a
//! reviewed change (`git diff tests/` then shows exactly what users will see differently).

// Test code may unwrap: a failure is a test failure with its location.
#![allow(clippy::unwrap_used)]

mod support;

mod corpus;
mod docs;
mod eval;
mod fmt;
mod insight;
mod props;
mod reliability;
mod repl;
mod syntax;
mod testing;

//! Running `test` blocks (being written).

//! Placeholder; see the eval helper.

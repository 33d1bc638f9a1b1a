//! Placeholder; see the corpus helper.

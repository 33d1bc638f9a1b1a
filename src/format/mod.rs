//! Formatting `.kpi` files (being written).

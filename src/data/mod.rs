//! Loading CSV exports into typed, columnar tables.
//!
//! [`load_csv`] reads a CSV file with a required header row, decodes only the columns that are
//! asked for, gives each a type (declared, or inferred from the first rows), and stores it as a
//! [`Column`] of `f64`, bool or dictionary-encoded text. Every error says where it happened:
//! path, physical line, record number, column and the raw value (escaped).
//!
//! What it handles on purpose (RELIABILITY.md 2.2 and 3.2): BOM; LF, CRLF and lone-CR line
//! endings and blank lines with correct line numbers; ragged rows; unclosed quotes and oversized
//! records; invalid UTF-8 per cell; `nan`/`inf`/overflowing numbers; non-regular files.
//!
//! What it does not do: guess the delimiter (it only suggests one), trim values, accept
//! localised numbers (`12,5`), or interpret time zones by name. Naive timestamps are UTC.
//!
//! Rules worth knowing:
//! - Header names are trimmed of surrounding spaces and tabs; values are never trimmed.
//! - An empty cell is null in every column type, text included; so is a cell equal to one of
//!   [`LoadOptions::null_tokens`].
//! - Under [`BadRows::Skip`], a row with any bad cell is dropped whole; errors about the file's
//!   structure (header, unclosed quote, oversized record, I/O) always stop the load.
//! - NUL and other control characters in text cells are kept as data; messages always show them
//!   escaped.
//!
//! Type inference, for loaded columns without a declared type: the first
//! [`LoadOptions::infer_rows`] records are buffered (only the loaded cells), and each column gets
//! the first of bool (words only: true/false, t/f, yes/no, y/n), int, number, time, date that
//! accepts every non-null sampled cell, else text. A column with no non-null sampled cell is a
//! number column. Integers beyond ±2^53 are not accepted as numbers while inferring (they are
//! identifiers that `f64` would round), so such a column becomes text. Duration is never
//! inferred. After the sample, an int column becomes a number column at its first fraction;
//! any other value that does not fit is an error that says how the type was inferred.

// `LoadError` is 152 bytes of public fields that embedders match on; it is returned at most once
// per load (or kept five times), so boxing it would cost API clarity for no measurable gain.
#![allow(clippy::result_large_err)]

mod error;
pub mod fast;
mod header;
mod load;
mod open;
mod parse;
mod sink;
mod source;
mod track;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use error::{LoadError, escape_value};
pub use load::{load_csv, read_header};
pub use open::open_data_file;
pub use parse::{
    MAX_EXACT_INT, NumError, civil_from_days, days_from_civil, parse_bool, parse_date,
    parse_duration, parse_int, parse_number, parse_time,
};

/// Declared or inferred type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Whole numbers up to ±2^53, stored as `f64`.
    Int,
    /// Finite decimal numbers.
    Number,
    /// true/false, yes/no, y/n, t/f, 1/0 (any case).
    Bool,
    /// Any UTF-8 text, dictionary-encoded.
    Text,
    /// A point in time, stored as seconds since 1970-01-01T00:00:00Z.
    Time,
    /// A calendar date, stored as days since 1970-01-01.
    Date,
    /// A length of time, stored as seconds; only ever declared, never inferred.
    Duration,
}

impl ColumnType {
    /// Every type, in declaration-keyword order.
    pub const ALL: [ColumnType; 7] = [
        ColumnType::Int,
        ColumnType::Number,
        ColumnType::Bool,
        ColumnType::Text,
        ColumnType::Time,
        ColumnType::Date,
        ColumnType::Duration,
    ];

    /// The keyword used in declarations and messages (`"int"`, `"number"`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Number => "number",
            ColumnType::Bool => "bool",
            ColumnType::Text => "text",
            ColumnType::Time => "time",
            ColumnType::Date => "date",
            ColumnType::Duration => "duration",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ColumnType {
    type Err = String;

    /// Parses a type keyword exactly as [`ColumnType::name`] spells it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ColumnType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!("unknown column type `{s}`; expected int, number, bool, text, time, date or duration")
            })
    }
}

/// Columnar storage. Nulls: NaN in `Num`, 2 in `Bool`, `u32::MAX` in `Text` codes.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Int, Number, Duration (seconds), Time (seconds since 1970-01-01T00:00:00Z, may have
    /// fractions), Date (days since 1970-01-01). NaN = null.
    Num(Vec<f64>),
    /// 0 = false, 1 = true, 2 = null.
    Bool(Vec<u8>),
    /// Dictionary-encoded text; codes index `dict` in first-seen order; `u32::MAX` = null.
    Text {
        /// One code per row.
        codes: Vec<u32>,
        /// Distinct values, in the order they first appeared.
        dict: Vec<Box<str>>,
    },
}

impl ColumnData {
    /// The null code of [`ColumnData::Text`].
    pub const TEXT_NULL: u32 = u32::MAX;
    /// The null value of [`ColumnData::Bool`].
    pub const BOOL_NULL: u8 = 2;

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Num(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Text { codes, .. } => codes.len(),
        }
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One loaded column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The name from the header (trimmed).
    pub name: String,
    /// Its type, declared or inferred (an inferred int that met a fraction is `Number`).
    pub ty: ColumnType,
    /// Its values.
    pub data: ColumnData,
}

/// The result of [`load_csv`].
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Only the columns that were asked for, in the order asked.
    pub columns: Vec<Column>,
    /// Rows kept.
    pub rows: usize,
    /// What happened while loading.
    pub report: LoadReport,
}

impl Table {
    /// The column with this name, if it was loaded.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Counts and notes from a load.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadReport {
    /// Data records seen (excluding the header and blank lines).
    pub records_read: u64,
    /// Rows skipped under [`BadRows::Skip`]; `records_read == rows + skipped` always.
    pub skipped: u64,
    /// The first 5 errors of skipped rows, for display.
    pub first_errors: Vec<LoadError>,
    /// Types that were inferred (not declared), in column order.
    pub inferred: Vec<(String, ColumnType)>,
    /// Inferred columns whose sampled cells were all empty: their type is only a default.
    pub untyped: Vec<String>,
    /// Inferred columns read as text although nine in ten of their sampled cells are
    /// numbers: the column, and the line and text of the first cell that is not one
    /// (`wait_s`, 7, `12s`). A stray unit or word in an export looks like this.
    pub text_among_numbers: Vec<(String, u64, String)>,
}

/// What to do with a row that has a bad cell or the wrong number of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadRows {
    /// Stop at the first one with its error.
    #[default]
    Fail,
    /// Drop the row, count it, and keep its errors (the first 5) in the report.
    Skip,
}

/// How to read a file. `LoadOptions::default()` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Field separator; default `b','`.
    pub delimiter: u8,
    /// Bad-row policy; default [`BadRows::Fail`].
    pub bad_rows: BadRows,
    /// Largest record in bytes, terminator included; default 1 MiB. A record only grows past
    /// this when a quote is not closed, or the input is not CSV.
    pub max_record_bytes: usize,
    /// Most header columns; default 4096.
    pub max_columns: usize,
    /// Records sampled to infer undeclared types; default 10 000. With 0, every undeclared
    /// column is inferred from no cells, which makes it a number column.
    pub infer_rows: usize,
    /// `None` loads every column; `Some` loads only these, in this order (a name repeated is
    /// loaded once). A name missing from the header is an error.
    pub columns: Option<Vec<String>>,
    /// Declared column types; other loaded columns are inferred. A declared column must exist in
    /// the header (even when it is not loaded); the first declaration of a name wins.
    pub declared: Vec<(String, ColumnType)>,
    /// Cell values read as null besides the empty cell (compared exactly, e.g. `NULL`, `N/A`);
    /// default none.
    pub null_tokens: Vec<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            delimiter: b',',
            bad_rows: BadRows::Fail,
            max_record_bytes: 1 << 20,
            max_columns: 4096,
            infer_rows: 10_000,
            columns: None,
            declared: Vec::new(),
            null_tokens: Vec::new(),
        }
    }
}

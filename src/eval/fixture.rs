//! Reading a `test` block's data for one dataset: inline CSV or a fixture file, with the
//! dataset's declared types, delimiter and null tokens (the test's options win). The
//! checker reads it through [`FixtureFiles`]; `kpiblend test` loads it with
//! [`load_fixture`], so both read it the same way.

use std::io::Read as _;

use crate::check::{Fixture, FixtureSource, Schema};
use crate::data::{self, LoadError, LoadOptions, Table};
use crate::diagnostic::Diagnostic;
use crate::program::DatasetDef;

/// Largest fixture file read (fixtures are meant to be small).
pub const MAX_FIXTURE_BYTES: u64 = 64 << 20;

/// Reads test data for the checker.
pub struct FixtureFiles;

impl FixtureSource for FixtureFiles {
    fn fixture(&self, dataset: &DatasetDef, fixture: &Fixture<'_>) -> Result<Schema, Diagnostic> {
        let table = load_fixture(dataset, fixture).map_err(super::load_error)?;
        Ok(Schema {
            columns: table.columns.into_iter().map(|c| (c.name, c.ty)).collect(),
            untyped: table.report.untyped,
            text_among_numbers: table.report.text_among_numbers,
        })
    }
}

/// Loads a test's data for `dataset`, every column. Declared columns the data leaves
/// out are not an error: the test may not need them.
///
/// # Errors
///
/// The file cannot be read, or the CSV is malformed or has a bad value.
pub fn load_fixture(dataset: &DatasetDef, fixture: &Fixture<'_>) -> Result<Table, LoadError> {
    let shown = fixture.path.display().to_string();
    let bytes = match fixture.text {
        Some(text) => text.as_bytes().to_vec(),
        None => read(&fixture.path, &shown)?,
    };
    let mut opts = LoadOptions {
        delimiter: fixture.delimiter,
        null_tokens: fixture.null_tokens.clone(),
        ..LoadOptions::default()
    };
    let header = data::read_header(bytes.as_slice(), &shown, &opts)?;
    opts.declared = dataset.declared.iter().filter(|(c, _)| header.contains(c)).cloned().collect();
    data::load_csv(bytes.as_slice(), &shown, &opts)
}

fn read(path: &std::path::Path, shown: &str) -> Result<Vec<u8>, LoadError> {
    let file = data::open_data_file(path)?;
    let mut bytes = Vec::new();
    let io = |e: std::io::Error| LoadError {
        path: shown.to_string(),
        line: None,
        record: None,
        column: None,
        value: None,
        message: format!("cannot read {shown}: {}", crate::check::io_reason(&e)),
        help: None,
    };
    file.take(MAX_FIXTURE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_FIXTURE_BYTES {
        return Err(LoadError {
            message: format!("{shown} exceeds the fixture size limit of {MAX_FIXTURE_BYTES} bytes"),
            ..io(std::io::Error::other("too large"))
        });
    }
    Ok(bytes)
}

//! The session's tables: every column of each dataset, read when the dataset is
//! loaded and read again when its definition changes (another file, delimiter, null
//! tokens or declared types). A table always knows the file its rows came from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{SESSION, Session};
use crate::check::Checked;
use crate::data::Table;
use crate::diagnostic::Diagnostic;
use crate::program::{ColumnType, DatasetDef};

/// What a table was read with: when a definition asks for anything else, it is read again.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ReadFrom {
    pub path: PathBuf,
    delimiter: u8,
    declared: Vec<(String, ColumnType)>,
    null_tokens: Vec<String>,
}

impl ReadFrom {
    pub fn new(path: &Path, ds: &DatasetDef) -> ReadFrom {
        ReadFrom {
            path: path.to_path_buf(),
            delimiter: ds.delimiter,
            declared: ds.declared.clone(),
            null_tokens: ds.null_tokens.clone(),
        }
    }
}

impl Session {
    /// Reads the data of every dataset that is new or whose definition changed, and
    /// forgets datasets no longer defined. On an error (the statements do not check, a
    /// file cannot be read) the tables stay as they were and the error is returned,
    /// rendered.
    pub(super) fn sync_tables(&mut self) -> Result<(), String> {
        // Checked without data, to learn the datasets and their paths.
        let source = self.source();
        let unchecked = crate::check::check_text(
            SESSION,
            &source.text,
            &self.base_dir,
            &crate::check::CheckOptions {
                params: self.params_in_force(),
                data: self.in_force(&self.data_paths),
                ..Default::default()
            },
        );
        let sources = &unchecked.program.sources;
        if unchecked.has_errors() {
            let errors: Vec<Diagnostic> =
                unchecked.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
            return Err(self.render(&errors, sources, None));
        }
        let mut tables = HashMap::new();
        let mut read_from = HashMap::new();
        for ds in &unchecked.program.datasets {
            let wanted = ReadFrom::new(&ds.path, ds);
            let kept = self.read_from.get(&ds.name) == Some(&wanted);
            let table = match self.tables.get(&ds.name) {
                Some(t) if kept => Arc::clone(t),
                _ => match load_table(&ds.path, ds) {
                    Ok(t) => Arc::new(t),
                    Err(d) => {
                        // A problem with no line in the data (a missing file) points at
                        // where the file is named, as `check` does.
                        let no_line = d.data.as_ref().is_none_or(|d| d.line.is_none());
                        let d = if d.labels.is_empty() && no_line {
                            d.at(ds.span, "named here")
                        } else {
                            d
                        };
                        return Err(self.render(&[d], sources, None));
                    }
                },
            };
            tables.insert(ds.name.clone(), table);
            read_from.insert(ds.name.clone(), wanted);
        }
        self.tables = tables;
        self.read_from = read_from;
        Ok(())
    }
}

pub(super) fn load_table(path: &Path, ds: &DatasetDef) -> Result<Table, Diagnostic> {
    let opts = crate::data::LoadOptions {
        delimiter: ds.delimiter,
        declared: ds.declared.clone(),
        null_tokens: ds.null_tokens.clone(),
        ..Default::default()
    };
    let shown = path.display().to_string();
    crate::data::open_data_file(path)
        .and_then(|f| crate::data::load_csv(f, &shown, &opts))
        .map_err(crate::eval::load_error)
}

/// `loaded 16 kpis, 3 blends, 4 dims, 1 view; calls: 5,000 rows, surveys: 1,094 rows`
pub(super) fn summary(checked: &Checked, tables: &HashMap<String, Arc<Table>>) -> String {
    let p = &checked.program;
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![
        count(p.kpis.len(), "kpi"),
        count(p.blends.len(), "blend"),
        count(p.dims.len(), "dim"),
        count(p.views.len(), "view"),
    ];
    if !p.params.is_empty() {
        parts.push(count(p.params.len(), "param"));
    }
    let data: Vec<String> = p
        .datasets
        .iter()
        .map(|d| {
            let rows = tables.get(&d.name).map_or(0, |t| t.rows);
            #[allow(clippy::cast_precision_loss)]
            let shown = crate::render::format::value(Some(rows as f64), &crate::types::Unit::Count);
            format!("{}: {shown} rows", d.name)
        })
        .collect();
    if data.is_empty() {
        format!("loaded {}\n", parts.join(", "))
    } else {
        format!("loaded {}; {}\n", parts.join(", "), data.join(", "))
    }
}

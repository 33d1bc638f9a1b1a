//! The loading pipeline: header → column plan → inference sample → streaming conversion.

use std::io::Read;

use super::error::{LoadError, escape_text, escape_value};
use super::header::{Wanted, plan_columns};
use super::sink::{CellError, Col, Inference, Val, infer};
use super::source::{Meta, Source};
use super::{BadRows, LoadOptions, LoadReport, Table};

/// Errors kept in [`LoadReport::first_errors`].
const KEPT_ERRORS: usize = 5;

/// Reads and validates only the header row: the names, trimmed, in file order.
///
/// Fails like [`load_csv`] would on the header: empty input, an unclosed quote that swallows
/// the file, too many columns, empty or duplicate names, a likely wrong delimiter.
///
/// # Errors
///
/// A [`LoadError`] at the header's line (or without a line for an empty input).
pub fn read_header(
    reader: impl Read,
    path: &str,
    opts: &LoadOptions,
) -> Result<Vec<String>, LoadError> {
    let mut src = Source::new(reader, path, opts);
    src.header(opts).map(|(names, _)| names)
}

/// The records buffered for type inference, holding only the cells of the loaded columns.
struct Sample {
    width: usize,
    cells: Vec<u8>,
    ends: Vec<usize>,
    rows: Vec<SampleRow>,
}

struct SampleRow {
    meta: Meta,
    line: u64,
    fields: usize,
    /// Line of each loaded cell, when the record spans several lines.
    lines: Option<Box<[u64]>>,
}

impl Sample {
    fn cell(&self, row: usize, col: usize) -> &[u8] {
        let i = row * self.width + col;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.cells[start..self.ends[i]]
    }
}

/// One problem with a row.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The row's field count differs from the header's.
    Ragged,
    /// Loaded column `.0` has a bad cell.
    Cell(usize, CellError),
}

/// Converts rows into columns and applies the bad-row policy.
struct Loader<'p> {
    path: &'p str,
    cols: Vec<Col>,
    header: Vec<String>,
    bad_rows: BadRows,
    nulls: Vec<Vec<u8>>,
    vals: Vec<Val>,
    faults: Vec<Fault>,
    rows: usize,
    report: LoadReport,
}

impl Loader<'_> {
    /// Converts one row given its field count and cell accessor. Returns `false` when the row
    /// is bad (its faults are in `self.faults`); nothing is stored then.
    fn convert<'c>(&mut self, fields: usize, cell: impl Fn(usize) -> &'c [u8]) -> bool {
        self.report.records_read += 1;
        self.faults.clear();
        if fields != self.header.len() {
            self.faults.push(Fault::Ragged);
            return false;
        }
        self.vals.clear();
        for (i, col) in self.cols.iter_mut().enumerate() {
            let raw = cell(i);
            let null =
                raw.is_empty() || (!self.nulls.is_empty() && self.nulls.iter().any(|t| t == raw));
            match col.convert(raw, null) {
                Ok(v) => self.vals.push(v),
                Err(e) => {
                    self.faults.push(Fault::Cell(i, e));
                    if self.bad_rows == BadRows::Fail {
                        return false;
                    }
                }
            }
        }
        if !self.faults.is_empty() {
            return false;
        }
        for (i, (col, val)) in self.cols.iter_mut().zip(&self.vals).enumerate() {
            col.push(*val, cell(i));
        }
        self.rows += 1;
        true
    }

    /// Whether the next bad row's errors will be reported (always under [`BadRows::Fail`]).
    fn reports_errors(&self) -> bool {
        self.bad_rows == BadRows::Fail || self.report.first_errors.len() < KEPT_ERRORS
    }

    /// Builds the errors of a bad row; `Err` under [`BadRows::Fail`], else counts the skip.
    fn reject<'c>(
        &mut self,
        meta: Meta,
        line: u64,
        fields: usize,
        cell: impl Fn(usize) -> &'c [u8],
        mut line_of: impl FnMut(usize) -> u64,
    ) -> Result<(), LoadError> {
        let faults = std::mem::take(&mut self.faults);
        let wanted = match self.bad_rows {
            BadRows::Fail => 1,
            BadRows::Skip => KEPT_ERRORS.saturating_sub(self.report.first_errors.len()),
        };
        let mut errors = Vec::new();
        for &fault in faults.iter().take(wanted) {
            errors.push(match fault {
                Fault::Ragged => self.ragged(meta.number, line, fields),
                Fault::Cell(i, err) => {
                    let c = &self.cols[i];
                    let raw = cell(i);
                    let (message, help) = c.describe(err, raw);
                    LoadError {
                        record: Some(meta.number),
                        column: Some(c.name.clone()),
                        value: Some(escape_value(raw)),
                        help,
                        ..LoadError::at(self.path, line_of(c.field), message)
                    }
                }
            });
        }
        self.faults = faults;
        if self.bad_rows == BadRows::Fail {
            if let Some(e) = errors.pop() {
                return Err(e);
            }
        }
        self.report.skipped += 1;
        self.report.first_errors.extend(errors);
        Ok(())
    }

    /// "record has 3 fields, header has 5 (a, b, c, …)".
    fn ragged(&self, record: u64, line: u64, fields: usize) -> LoadError {
        let mut names: Vec<String> = self.header.iter().take(4).map(|n| escape_text(n)).collect();
        if self.header.len() > names.len() {
            names.push("…".to_owned());
        }
        let help = if fields > self.header.len() {
            "a value that contains the delimiter must be quoted"
        } else {
            "every record needs one value per header column; leave a value empty for null"
        };
        LoadError {
            record: Some(record),
            ..LoadError::at(
                self.path,
                line,
                format!(
                    "record has {fields} field{}, header has {} ({})",
                    if fields == 1 { "" } else { "s" },
                    self.header.len(),
                    names.join(", ")
                ),
            )
            .with_help(help)
        }
    }
}

/// Loads the columns `opts` asks for from CSV data with a header row.
///
/// `path` is only used in errors. Only the loaded columns' cells are decoded: other columns may
/// hold anything, even invalid UTF-8. Undeclared columns are typed from the first
/// `opts.infer_rows` records (see the module documentation for the rules); after that an int
/// column quietly becomes a number column at its first fraction, and any other mismatch is an
/// error naming the inference.
///
/// # Errors
///
/// Under [`BadRows::Fail`], the first bad row's first error. Always: an empty input, a bad
/// header, a missing asked-for or declared column, an unclosed quote, a record over
/// `max_record_bytes`, and read errors.
pub fn load_csv(reader: impl Read, path: &str, opts: &LoadOptions) -> Result<Table, LoadError> {
    let mut src = Source::new(reader, path, opts);
    let (header, header_line) = src.header(opts)?;
    let plan = plan_columns(&header, header_line, path, opts)?;
    let mut loader = Loader {
        path,
        cols: Vec::with_capacity(plan.len()),
        header,
        bad_rows: opts.bad_rows,
        nulls: opts.null_tokens.iter().map(|t| t.as_bytes().to_vec()).collect(),
        vals: Vec::with_capacity(plan.len()),
        faults: Vec::new(),
        rows: 0,
        report: LoadReport::default(),
    };
    let fields: Vec<usize> = plan.iter().map(|w| w.field).collect();
    if plan.iter().any(|w| w.declared.is_none()) {
        let sample = read_sample(&mut src, &fields, opts.infer_rows)?;
        make_columns(&mut loader, plan, Some(&sample), &opts.null_tokens);
        for (r, row) in sample.rows.iter().enumerate() {
            if !loader.convert(row.fields, |i| sample.cell(r, i)) {
                let lines = row.lines.as_deref();
                let line_of = |field: usize| {
                    let i = fields.iter().position(|&f| f == field);
                    match (lines, i) {
                        (Some(l), Some(i)) => l[i],
                        _ => row.line,
                    }
                };
                let cells = |i| sample.cell(r, i);
                loader.reject(row.meta, row.line, row.fields, cells, line_of)?;
            }
        }
    } else {
        make_columns(&mut loader, plan, None, &opts.null_tokens);
    }
    while let Some(meta) = src.next()? {
        let rec = &src.rec;
        let n = rec.len();
        if loader.convert(n, |i| rec.get(fields[i]).unwrap_or_default()) {
            continue;
        }
        if !loader.reports_errors() {
            // Skip mode with the error list full: count only. (An unclosed quote can only be in
            // the last record, and the end-of-input check reports it.)
            loader.report.skipped += 1;
            continue;
        }
        if let Some(err) = src.unclosed_quote(meta) {
            return Err(err);
        }
        // Field lines need the source mutably, so collect them first (bad rows only).
        let mut lines = Vec::new();
        for &fault in &loader.faults {
            if let Fault::Cell(i, _) = fault {
                let f = loader.cols[i].field;
                lines.push((f, src.field_line(meta, f)));
            }
        }
        let line = src.line(meta);
        let rec = &src.rec;
        let line_of = |f: usize| lines.iter().find(|l| l.0 == f).map_or(line, |l| l.1);
        let cells = |i: usize| rec.get(fields[i]).unwrap_or_default();
        loader.reject(meta, line, n, cells, line_of)?;
    }
    let mut report = loader.report;
    report.untyped = loader
        .cols
        .iter()
        .filter(|c| c.inference.is_some_and(|i| i.all_empty))
        .map(|c| c.name.clone())
        .collect();
    report.inferred = loader
        .cols
        .iter()
        .filter(|c| c.inference.is_some())
        .map(|c| (c.name.clone(), c.ty))
        .collect();
    Ok(Table {
        rows: loader.rows,
        columns: loader.cols.into_iter().map(Col::finish).collect(),
        report,
    })
}

/// Buffers up to `limit` records, keeping only the loaded columns' cells.
fn read_sample<R: Read>(
    src: &mut Source<'_, R>,
    fields: &[usize],
    limit: usize,
) -> Result<Sample, LoadError> {
    let mut sample =
        Sample { width: fields.len(), cells: Vec::new(), ends: Vec::new(), rows: Vec::new() };
    while sample.rows.len() < limit {
        let Some(meta) = src.next()? else { break };
        for &f in fields {
            sample.cells.extend_from_slice(src.rec.get(f).unwrap_or_default());
            sample.ends.push(sample.cells.len());
        }
        let line = src.line(meta);
        let multiline = src.spans_lines(meta);
        let lines = multiline
            .then(|| fields.iter().map(|&f| src.field_line(meta, f)).collect::<Box<[u64]>>());
        sample.rows.push(SampleRow { meta, line, fields: src.rec.len(), lines });
    }
    Ok(sample)
}

/// For a column of the sample inferred as text: when nine in ten of its cells are
/// numbers, the line and text of the first that is not.
fn text_among_numbers(
    s: &Sample,
    i: usize,
    width: usize,
    nulls: &[String],
) -> Option<(u64, String)> {
    let (mut numbers, mut first) = (0usize, None);
    let mut cells = 0usize;
    for r in (0..s.rows.len()).filter(|&r| s.rows[r].fields == width) {
        let c = s.cell(r, i);
        if c.is_empty() || nulls.iter().any(|t| t.as_bytes() == c) {
            continue;
        }
        cells += 1;
        if super::parse::number_bytes(c).is_ok() {
            numbers += 1;
        } else if first.is_none() {
            let line =
                s.rows[r].lines.as_ref().and_then(|l| l.get(i).copied()).unwrap_or(s.rows[r].line);
            first = Some((line, String::from_utf8_lossy(c).into_owned()));
        }
    }
    first.filter(|_| numbers * 10 >= cells * 9)
}

/// Creates the column builders, inferring the undeclared types from the sample.
fn make_columns(
    loader: &mut Loader<'_>,
    plan: Vec<Wanted>,
    sample: Option<&Sample>,
    nulls: &[String],
) {
    let width = loader.header.len();
    for (i, w) in plan.into_iter().enumerate() {
        let (ty, inference) = match (w.declared, sample) {
            (Some(ty), _) => (ty, None),
            (None, Some(s)) => {
                let cells = (0..s.rows.len())
                    .filter(|&r| s.rows[r].fields == width)
                    .map(|r| s.cell(r, i))
                    .filter(|c| !c.is_empty() && !nulls.iter().any(|t| t.as_bytes() == *c));
                let (ty, all_empty) = infer(cells);
                if ty == super::ColumnType::Text
                    && let Some(stray) = text_among_numbers(s, i, width, nulls)
                {
                    loader.report.text_among_numbers.push((w.name.clone(), stray.0, stray.1));
                }
                let inference = Inference { sampled: s.rows.len(), all_empty };
                (ty, Some(inference))
            }
            // Not reached: a sample is read whenever a column has no declared type.
            (None, None) => (super::ColumnType::Text, None),
        };
        loader.cols.push(Col::new(w.name, w.field, ty, inference));
    }
}

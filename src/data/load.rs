//! The loading pipeline: header → column plan → inference sample → streaming conversion.

use std::fmt::Write as _;
use std::io::Read;

use csv::{ByteRecord, Reader, ReaderBuilder};

use super::error::{LoadError, escape_text, escape_value};
use super::header::{Wanted, header_names, plan_columns};
use super::sink::{CellError, Col, Inference, Val, infer};
use super::track::{Tracked, count_breaks, scan_record};
use super::{BadRows, LoadOptions, LoadReport, Table};

/// Errors kept in [`LoadReport::first_errors`].
const KEPT_ERRORS: usize = 5;

/// Where one record is: raw byte range (terminator included) and number. Its line is only
/// computed when needed ([`Source::line`]), which keeps line counting off the per-record path.
#[derive(Debug, Clone, Copy)]
struct Meta {
    start: u64,
    end: u64,
    /// 1-based data record number; 0 for the header.
    number: u64,
}

/// The csv reader over the tracking adapter, reading one record at a time.
struct Source<'p, R> {
    rdr: Reader<Tracked<R>>,
    rec: ByteRecord,
    path: &'p str,
    delimiter: u8,
    max_record: usize,
    records: u64,
    last: Option<Meta>,
    /// The header's names once read, to label errors.
    names: Vec<String>,
}

impl<'p, R: Read> Source<'p, R> {
    fn new(reader: R, path: &'p str, opts: &LoadOptions) -> Self {
        let rdr = ReaderBuilder::new()
            .delimiter(opts.delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_reader(Tracked::new(reader, opts.max_record_bytes));
        Source {
            rdr,
            rec: ByteRecord::new(),
            path,
            delimiter: opts.delimiter,
            max_record: opts.max_record_bytes,
            records: 0,
            last: None,
            names: Vec::new(),
        }
    }

    /// Reads the header record, validated. A 0-byte (or blank) input is an error.
    fn header(&mut self, opts: &LoadOptions) -> Result<(Vec<String>, u64), LoadError> {
        let Some(meta) = self.next()? else {
            return Err(LoadError::file(self.path, "empty file: expected a header row"));
        };
        // An unclosed quote in the header swallows the whole file into it.
        if let Some(err) = self.unclosed_quote(meta) {
            return Err(err);
        }
        let line = self.line(meta);
        let names = header_names(&self.rec, line, self.path, opts)?;
        self.names.clone_from(&names);
        Ok((names, line))
    }

    /// Reads the next record into `self.rec`. At the end of the input, checks that the last
    /// record did not end inside a quoted field.
    fn next(&mut self) -> Result<Option<Meta>, LoadError> {
        match self.rdr.read_byte_record(&mut self.rec) {
            Ok(true) => {
                let csv_start = self.rec.position().map_or(0, csv::Position::byte);
                let next = self.rdr.position().byte();
                let t = self.rdr.get_mut();
                let start = t.record_start(csv_start);
                t.record_read(start, next);
                let number = self.last.map_or(0, |_| self.records + 1);
                self.records = number;
                let meta = Meta { start, end: next, number };
                self.last = Some(meta);
                if next.saturating_sub(start) > self.max_record as u64 {
                    return Err(self.too_large(start, Some(meta)));
                }
                Ok(Some(meta))
            }
            Ok(false) => match self.last {
                Some(last) => {
                    let end = self.rdr.get_ref().end();
                    let meta = Meta { end, ..last };
                    match self.unclosed_quote(meta) {
                        Some(err) => Err(err),
                        None => Ok(None),
                    }
                }
                None => Ok(None),
            },
            Err(e) => {
                let t = self.rdr.get_mut();
                let start = t.progress();
                if t.too_large() {
                    return Err(self.too_large(start, None));
                }
                let line = t.line_at(t.record_start(start));
                Err(LoadError::at(
                    self.path,
                    line,
                    format!("cannot read the file: {}", io_reason(&e)),
                ))
            }
        }
    }

    /// "record starting at line L exceeds 1 MiB", naming the quote that is probably open.
    fn too_large(&mut self, csv_start: u64, meta: Option<Meta>) -> LoadError {
        let t = self.rdr.get_mut();
        let start = t.record_start(csv_start);
        let line = t.line_at(start);
        let end = t.end();
        let scan = scan_record(t.held(start, end), self.delimiter);
        let limit = show_bytes(self.max_record);
        let mut err = LoadError::at(
            self.path,
            line,
            format!("record starting at line {line} exceeds {limit}"),
        );
        // The header is not a data record; a record still being read gets the next number.
        err.record = match (meta, self.last) {
            (Some(m), _) => Some(m.number),
            (None, Some(_)) => Some(self.records + 1),
            (None, None) => None,
        }
        .filter(|&n| n > 0);
        match scan.open_quote {
            Some(q) => {
                let (ql, qc) = (t.line_at(start + q as u64), t.column_at(start + q as u64));
                let _ = write!(
                    err.message,
                    "; a quote is probably not closed (opened at line {ql} col {qc}?)"
                );
                err.help = Some(
                    "a field that starts with `\"` runs until the next lone `\"`; write quotes \
                     inside a quoted field as `\"\"`"
                        .to_owned(),
                );
            }
            None => {
                err.help = Some(format!(
                    "records are limited to {limit}; raise `max_record_bytes` if this one is real"
                ));
            }
        }
        err
    }

    /// If the record `meta` ends inside a quoted field (which means the quote swallowed the rest
    /// of the input), the error saying so.
    fn unclosed_quote(&mut self, meta: Meta) -> Option<LoadError> {
        let t = self.rdr.get_mut();
        let scan = scan_record(t.held(meta.start, meta.end), self.delimiter);
        let q = meta.start + scan.open_quote? as u64;
        let (line, col) = (t.line_at(q), t.column_at(q));
        let field = scan.field_starts.len() - 1;
        Some(LoadError {
            record: (meta.number > 0).then_some(meta.number),
            column: self.names.get(field).filter(|_| meta.number > 0).cloned(),
            ..LoadError::at(
                self.path,
                line,
                format!("quote opened at line {line} col {col} is never closed"),
            )
            .with_help(
                "a field that starts with `\"` runs until the next lone `\"`; write quotes inside \
                 a quoted field as `\"\"`",
            )
        })
    }

    /// Physical line where the record `meta` starts; it must be the latest record read.
    fn line(&mut self, meta: Meta) -> u64 {
        self.rdr.get_mut().line_at(meta.start)
    }

    /// Physical line where field `field` of the record `meta` starts (records can span lines).
    fn field_line(&mut self, meta: Meta, field: usize) -> u64 {
        let t = self.rdr.get_mut();
        let raw = t.held(meta.start, meta.end);
        let off = match scan_record(raw, self.delimiter).field_starts.get(field) {
            Some(&off) => off,
            None => 0,
        };
        t.line_at(meta.start + off as u64)
    }
}

/// An io error's text without the "(os error N)" suffix.
pub(crate) fn io_reason(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s,
    }
}

/// `1 MiB`, `64 KiB` or `1000 bytes`.
fn show_bytes(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

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
        let raw = src.rdr.get_ref().held(meta.start, meta.end);
        let multiline = count_breaks(raw.trim_ascii_end()) > 0;
        let lines = multiline
            .then(|| fields.iter().map(|&f| src.field_line(meta, f)).collect::<Box<[u64]>>());
        sample.rows.push(SampleRow { meta, line, fields: src.rec.len(), lines });
    }
    Ok(sample)
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
                let inference = Inference { sampled: s.rows.len(), all_empty };
                (ty, Some(inference))
            }
            (None, None) => (super::ColumnType::Text, None),
        };
        loader.cols.push(Col::new(w.name, w.field, ty, inference));
    }
}

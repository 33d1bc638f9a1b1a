//! The tables a program reads, with the link maps between them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::data::{self, Column, ColumnData, LoadOptions, Table};
use crate::diagnostic::{Code, DataLocation, Diagnostic};
use crate::program::*;

use super::keys::KeyIndex;

/// Loaded data, one table per dataset of a program (by dataset id).
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// Shared, so a REPL or a host can evaluate many times without copying columns.
    tables: Vec<Option<Arc<Table>>>,
    dicts: Vec<HashMap<String, Arc<[Box<str>]>>>,
    /// Per root dataset, per dataset: the row reached through links from each root row.
    maps: Vec<Vec<Option<Vec<u32>>>>,
    /// Notes from loading and linking (skipped rows, missing link keys).
    pub warnings: Vec<Diagnostic>,
}

/// How to load data files.
#[derive(Debug, Clone, Default)]
pub struct DataOptions {
    pub load: LoadOptions,
    /// Load every column, not only the referenced ones (the REPL does, for new definitions).
    pub all_columns: bool,
    /// The columns to load of each dataset, by id (see [`request_columns`]); `None`: the
    /// columns any definition reads.
    pub columns: Option<Vec<Vec<String>>>,
}

impl Data {
    /// Loads every dataset of `program` from its file.
    pub fn load(program: &Program, opts: &DataOptions) -> Result<Data, Vec<Diagnostic>> {
        let mut tables = Vec::new();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for (id, ds) in program.datasets.iter().enumerate() {
            let mut load = opts.load.clone();
            load.delimiter = ds.delimiter;
            load.declared = ds.declared.clone();
            load.null_tokens.extend(ds.null_tokens.iter().cloned());
            load.columns = match (&opts.columns, opts.all_columns) {
                (_, true) => None,
                (Some(columns), false) => Some(columns.get(id).cloned().unwrap_or_default()),
                (None, false) => Some(referenced_columns(program, id)),
            };
            let path = ds.path.display().to_string();
            let table =
                data::open_data_file(&ds.path).and_then(|f| data::load_csv(f, &path, &load));
            match table {
                Ok(t) => {
                    warnings.extend(skipped_warning(&path, &t));
                    tables.push(Some(Arc::new(t)));
                }
                Err(e) => {
                    errors.push(load_error(e));
                    tables.push(None);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut data = Data { tables, warnings, ..Data::default() };
        data.prepare(program)?;
        Ok(data)
    }

    /// Data a host already has: one table per dataset, by name. Missing datasets are
    /// empty.
    pub fn from_tables<T: Into<Arc<Table>>>(
        program: &Program,
        mut tables: HashMap<String, T>,
    ) -> Result<Data, Vec<Diagnostic>> {
        let tables =
            program.datasets.iter().map(|d| tables.remove(&d.name).map(Into::into)).collect();
        let mut data = Data { tables, ..Data::default() };
        data.prepare(program)?;
        Ok(data)
    }

    pub fn table(&self, id: DatasetId) -> Option<&Table> {
        self.tables.get(id).and_then(Option::as_deref)
    }

    pub fn column(&self, dataset: DatasetId, name: &str) -> Option<&Column> {
        self.table(dataset)?.columns.iter().find(|c| c.name == name)
    }

    pub fn dict(&self, dataset: DatasetId, name: &str) -> Option<Arc<[Box<str>]>> {
        self.dicts.get(dataset)?.get(name).cloned()
    }

    pub fn rows(&self, dataset: DatasetId) -> usize {
        self.table(dataset).map_or(0, |t| t.rows)
    }

    pub fn maps(&self, root: DatasetId) -> &[Option<Vec<u32>>] {
        self.maps.get(root).map_or(&[], Vec::as_slice)
    }

    /// Shares text dictionaries and builds the link maps.
    fn prepare(&mut self, program: &Program) -> Result<(), Vec<Diagnostic>> {
        self.dicts = self
            .tables
            .iter()
            .map(|t| {
                t.iter()
                    .flat_map(|t| &t.columns)
                    .filter_map(|c| match &c.data {
                        ColumnData::Text { dict, .. } => {
                            Some((c.name.clone(), Arc::from(dict.clone())))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let n = program.datasets.len();
        // One map per link first, then compose along link paths.
        let mut link_maps: HashMap<(DatasetId, usize), Vec<u32>> = HashMap::new();
        let mut errors = Vec::new();
        for (from, ds) in program.datasets.iter().enumerate() {
            for (li, link) in ds.links.iter().enumerate() {
                match self.link_map(program, from, link) {
                    Ok((map, missing)) => {
                        if missing > 0 {
                            self.warnings.push(missing_keys(program, from, link, missing));
                        }
                        link_maps.insert((from, li), map);
                    }
                    Err(d) => errors.push(d),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.maps = (0..n)
            .map(|root| {
                (0..n)
                    .map(|to| {
                        if to == root {
                            return None;
                        }
                        let path = program.link_path(root, to)?;
                        let mut map: Option<Vec<u32>> = None;
                        for step in path {
                            let m = link_maps.get(&step)?;
                            map = Some(match map {
                                None => m.clone(),
                                Some(prev) => prev
                                    .iter()
                                    .map(|&r| if r == u32::MAX { u32::MAX } else { m[r as usize] })
                                    .collect(),
                            });
                        }
                        map
                    })
                    .collect()
            })
            .collect();
        Ok(())
    }

    /// For each row of `from`, the row of the link's target with the same key.
    fn link_map(
        &self,
        program: &Program,
        from: DatasetId,
        link: &LinkDef,
    ) -> Result<(Vec<u32>, u64), Diagnostic> {
        let (Some(src), Some(dst)) =
            (self.column(from, &link.column), self.column(link.target, &link.target_column))
        else {
            return Ok((vec![u32::MAX; self.rows(from)], 0));
        };
        let index = KeyIndex::build(&dst.data).map_err(|msg| duplicate_key(program, link, &msg))?;
        Ok(index.map(&src.data, 0..src.data.len()))
    }
}

/// A duplicate key on the "one" side of a link.
pub fn duplicate_key(program: &Program, link: &LinkDef, msg: &str) -> Diagnostic {
    let target = &program.datasets[link.target];
    Diagnostic::error(
        Code::DuplicateKey,
        format!("`{}.{}` {msg}, but links need one row per key", target.name, link.target_column),
    )
    .at(link.span, "this link needs unique keys")
    .help("deduplicate the data, or link in the other direction")
}

/// The warning for link keys that found no row.
pub fn missing_keys(
    program: &Program,
    from: DatasetId,
    link: &LinkDef,
    missing: u64,
) -> Diagnostic {
    let ds = &program.datasets[from];
    let target = &program.datasets[link.target];
    Diagnostic::warning(
        Code::MissingKey,
        format!(
            "{missing} row{} of `{}` {} a `{}` not found in `{}.{}`; their `{}` columns are null",
            if missing == 1 { "" } else { "s" },
            ds.name,
            if missing == 1 { "has" } else { "have" },
            link.column,
            target.name,
            link.target_column,
            target.name
        ),
    )
    .at(link.span, "link declared here")
}

/// Columns of dataset `id` that the program reads (links included), sorted.
pub fn referenced_columns(program: &Program, id: DatasetId) -> Vec<String> {
    let mut cols = std::collections::BTreeSet::new();
    let mut visit = |e: &RowExpr| {
        walk_columns(e, &mut |d, c| {
            if d == id {
                cols.insert(c.to_string());
            }
        })
    };
    for dim in &program.dims {
        visit(&dim.expr);
    }
    for agg in &program.aggregates {
        agg.arg.iter().chain(&agg.filter).for_each(&mut visit);
    }
    for view in &program.views {
        view.filter.iter().for_each(&mut visit);
    }
    // A declared type is checked in every row, read by a KPI or not.
    if let Some(ds) = program.datasets.get(id) {
        cols.extend(ds.declared.iter().map(|(name, _)| name.clone()));
    }
    for (from, ds) in program.datasets.iter().enumerate() {
        for link in &ds.links {
            if from == id {
                cols.insert(link.column.clone());
            }
            if link.target == id {
                cols.insert(link.target_column.clone());
            }
        }
    }
    cols.into_iter().collect()
}

/// The columns of each dataset (by id) that evaluating `req` reads: the arguments and
/// filters of its KPIs' aggregates, its dims and those its correlations and changes go
/// over, its filter, the links, and every declared column (checked in every row).
pub(super) fn request_columns(program: &Program, req: &super::Request) -> Vec<Vec<String>> {
    let mut cols: Vec<std::collections::BTreeSet<String>> =
        vec![std::collections::BTreeSet::new(); program.datasets.len()];
    let mut exprs: Vec<&RowExpr> = Vec::new();
    let mut dims: Vec<DimId> = req.by.clone();
    for k in super::needed_kpis(program, &req.items) {
        let expr = &program.kpis[k].expr;
        let mut aggs = Vec::new();
        super::kpi::agg_refs(expr, &mut aggs);
        for a in aggs {
            exprs.extend(program.aggregates[a].arg.iter().chain(&program.aggregates[a].filter));
        }
        dims.extend(super::kpi::finer(expr).into_iter().map(|(_, over)| over));
    }
    for item in &req.items {
        if let ItemRef::Blend(b) = item
            && let Some(guard) = &program.blends[*b].guard
        {
            dims.extend(super::kpi::finer(guard).into_iter().map(|(_, over)| over));
        }
    }
    exprs.extend(dims.iter().map(|&d| &program.dims[d].expr));
    exprs.extend(&req.filter);
    for e in exprs {
        walk_columns(e, &mut |d, c| {
            cols[d].insert(c.to_string());
        });
    }
    for (from, ds) in program.datasets.iter().enumerate() {
        cols[from].extend(ds.declared.iter().map(|(name, _)| name.clone()));
        for link in &ds.links {
            cols[from].insert(link.column.clone());
            cols[link.target].insert(link.target_column.clone());
        }
    }
    cols.into_iter().map(|c| c.into_iter().collect()).collect()
}

/// Calls `f(dataset, column)` for every column an expression reads.
pub fn walk_columns(e: &RowExpr, f: &mut dyn FnMut(DatasetId, &str)) {
    walk_column_nodes(e, &mut |node| {
        if let RowExpr::Column { dataset, column, .. } = node {
            f(*dataset, column);
        }
    });
}

/// Calls `f` with every `RowExpr::Column` node of `e`.
pub fn walk_column_nodes(e: &RowExpr, f: &mut dyn FnMut(&RowExpr)) {
    match e {
        RowExpr::Column { .. } => f(e),
        _ => e.for_each_child(&mut |c| walk_column_nodes(c, f)),
    }
}

/// A loader error as a diagnostic.
pub fn load_error(e: data::LoadError) -> Diagnostic {
    let code = if e.message.contains("parse")
        || e.message.contains("non-finite")
        || e.message.contains("out of range")
        || e.value.is_some()
    {
        Code::BadValue
    } else if e.message.contains("cannot open")
        || e.message.contains("directory")
        || e.message.contains("regular file")
    {
        Code::DataFile
    } else if e.message.contains("exceeds") || e.message.contains("at most") {
        Code::DataLimit
    } else {
        Code::CsvFormat
    };
    let mut d = Diagnostic::error(code, e.message.clone());
    d.data = Some(DataLocation {
        path: e.path.clone(),
        line: e.line,
        record: e.record,
        column: e.column.clone(),
    });
    if let Some(h) = e.help {
        d = d.help(h);
    }
    d
}

fn skipped_warning(path: &str, t: &Table) -> Option<Diagnostic> {
    let r = &t.report;
    if r.skipped == 0 {
        return None;
    }
    let mut d = Diagnostic::warning(
        Code::SkippedRows,
        format!("{path}: skipped {} of {} rows with bad values", r.skipped, r.records_read),
    );
    d.data = Some(DataLocation { path: path.to_string(), line: None, record: None, column: None });
    for e in &r.first_errors {
        d = d.note(e.to_string());
    }
    Some(d)
}

/// Reads column names and types from data files for `check`: the header, plus types
/// inferred from the first rows (declared types win), and the first row there whose
/// declared column does not hold its type (or whose fields do not match the header). A
/// declared type is a promise about every row, which `eval` keeps too (declared columns
/// are always read); an undeclared column is parsed only when a KPI reads it, so a bad
/// cell in one nobody reads is never an error, wherever it is (as an SQL engine reads
/// only the columns a query needs).
pub struct FileSchemas;

/// As [`FileSchemas`], without the bad row: `--bad-rows skip` skips it and says so when the
/// data is read.
pub struct SkippingSchemas;

impl crate::check::SchemaSource for FileSchemas {
    fn schema(&self, dataset: &DatasetDef) -> Result<crate::check::Schema, Diagnostic> {
        file_schema(dataset, data::BadRows::Fail)
    }
}

impl crate::check::SchemaSource for SkippingSchemas {
    fn schema(&self, dataset: &DatasetDef) -> Result<crate::check::Schema, Diagnostic> {
        file_schema(dataset, data::BadRows::Skip)
    }
}

fn file_schema(
    dataset: &DatasetDef,
    bad_rows: data::BadRows,
) -> Result<crate::check::Schema, Diagnostic> {
    {
        let path = dataset.path.display().to_string();
        let file = data::open_data_file(&dataset.path).map_err(load_error)?;
        let opts = LoadOptions {
            delimiter: dataset.delimiter,
            declared: dataset.declared.clone(),
            null_tokens: dataset.null_tokens.clone(),
            bad_rows: data::BadRows::Skip,
            ..LoadOptions::default()
        };
        let sample = FirstRecords {
            inner: std::io::BufReader::new(file),
            left: opts.infer_rows + 1,
            in_quotes: false,
            done: false,
        };
        // Rows are skipped here so that a bad cell in an undeclared column does not stop
        // the check; one in a declared column (or a ragged row) does, unless skipping.
        let table = data::load_csv(sample, &path, &opts).map_err(load_error)?;
        let declared = |c: &Option<String>| {
            c.as_ref().is_none_or(|c| dataset.declared.iter().any(|(name, _)| name == c))
        };
        if bad_rows == data::BadRows::Fail
            && let Some(e) = table.report.first_errors.iter().find(|e| declared(&e.column))
        {
            return Err(load_error(e.clone()));
        }
        Ok(crate::check::Schema {
            columns: table.columns.into_iter().map(|c| (c.name, c.ty)).collect(),
            untyped: table.report.untyped,
            text_among_numbers: table.report.text_among_numbers,
        })
    }
}

/// A reader that ends after `left` CSV records (line breaks outside quotes).
struct FirstRecords<R> {
    inner: R,
    left: usize,
    in_quotes: bool,
    done: bool,
}

impl<R: std::io::BufRead> std::io::Read for FirstRecords<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let chunk = self.inner.fill_buf()?;
        let mut n = 0;
        for &b in chunk.iter().take(buf.len()) {
            buf[n] = b;
            n += 1;
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    self.left -= 1;
                    if self.left == 0 {
                        self.done = true;
                        break;
                    }
                }
                _ => {}
            }
        }
        self.inner.consume(n);
        Ok(n)
    }
}

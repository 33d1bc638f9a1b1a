//! Evaluates a checked [`Program`] over loaded [`Data`].
//!
//! Each dataset that feeds a requested KPI is scanned once per grouping, in chunks of
//! rows: the dims give each row a group, the filters a keep-mask, and every aggregate
//! reading that dataset is fed from the same chunk. KPIs, correlations, statuses and
//! blends are then computed per group from the aggregates. Grouped results and totals
//! come from rows, never from averaging other groups' results.

pub mod agg;
mod data;
mod emptiness;
mod fixture;
pub mod group;
pub mod keys;
mod kpi;
pub mod report;
mod row_checks;
pub mod scan;
mod stream;
pub mod vector;

use crate::source::Span;
use std::collections::HashMap;

pub use data::{Data, DataOptions, FileSchemas, SkippingSchemas, load_error, referenced_columns};
pub use fixture::{FixtureFiles, MAX_FIXTURE_BYTES, load_fixture};
pub use kpi::{agg_refs, kpi_refs};
pub use report::*;
pub use vector::DATE_RANGE;

use self::agg::Acc;
use self::group::Key;
use self::vector::Frame;
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;

/// Rows evaluated together; bounds the memory of intermediate values.
const CHUNK: usize = 1 << 16;

/// Default limit on the number of groups (`--max-groups`).
pub const MAX_GROUPS: usize = 1_000_000;

/// What to compute: items, grouping, and a row filter applied to every dataset.
#[derive(Debug, Clone)]
pub struct Request {
    pub items: Vec<ItemRef>,
    pub by: Vec<DimId>,
    pub filter: Option<RowExpr>,
    /// Where the filter is written (a view's `where`), to place errors evaluating it.
    pub filter_at: Option<Span>,
    pub max_groups: usize,
    /// Set from another thread (Ctrl-C) to stop between chunks with an "interrupted" error.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Worker threads; 0 picks `KPIBLEND_THREADS` or the machine's parallelism. Results
    /// do not depend on it.
    pub threads: usize,
    /// Told how far the reading of each data file has got (when streaming from files).
    pub progress: Option<Progress>,
}

/// A reading-progress callback: after each block of a data file, on the evaluating thread,
/// with the dataset's name, the bytes read so far and the file's size.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<ProgressFn>);

/// `(dataset, bytes read, file size)`.
pub type ProgressFn = dyn Fn(&str, u64, u64) + Send + Sync;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Request {
    /// Every KPI and blend of the program, ungrouped.
    pub fn scorecard(program: &Program) -> Request {
        let items = (0..program.kpis.len())
            .map(ItemRef::Kpi)
            .chain((0..program.blends.len()).map(ItemRef::Blend))
            .collect();
        Request {
            items,
            by: Vec::new(),
            filter: None,
            filter_at: None,
            max_groups: MAX_GROUPS,
            cancel: None,
            threads: 0,
            progress: None,
        }
    }

    /// The items, dims and filter of a view.
    pub fn view(view: &ViewDef) -> Request {
        Request {
            items: view.items.clone(),
            by: view.by.clone(),
            filter: view.filter.clone(),
            filter_at: view.filter_at,
            max_groups: MAX_GROUPS,
            cancel: None,
            threads: 0,
            progress: None,
        }
    }
}

/// Computes a report. Errors are data errors found while evaluating (a column of the
/// wrong type, too many groups); the program itself was already checked. Warnings (link
/// keys that found no row, negative durations, and the rows `data` skipped) are in
/// `Report::warnings`.
pub fn evaluate(program: &Program, data: &Data, req: &Request) -> Result<Report, Vec<Diagnostic>> {
    match run(program, data, req, None) {
        Ok(report) => Ok(report),
        Err(Stop::Error(d)) => Err(vec![d]),
        Err(Stop::Fallback(why)) => unreachable!("loaded data never falls back ({why})"),
    }
}

/// Evaluates straight from the datasets' files. Well-formed files are streamed in
/// blocks on several threads, keeping in memory only the columns that links reach;
/// anything unusual is read again by the careful loader, so errors and results are the
/// same either way. Warnings (skipped rows, link keys that found no row, negative
/// durations) are in `Report::warnings`.
pub fn evaluate_files(
    program: &Program,
    req: &Request,
    load: &crate::data::LoadOptions,
) -> Result<Report, Vec<Diagnostic>> {
    let streamable = load.bad_rows == crate::data::BadRows::Fail
        && load.null_tokens.is_empty()
        && program.datasets.iter().all(|d| d.null_tokens.is_empty());
    if streamable {
        match run(program, &Data::default(), req, Some(load)) {
            Ok(r) => return Ok(r),
            Err(Stop::Error(d)) if d.code == Code::Interrupted || d.code == Code::DataLimit => {
                return Err(vec![d]);
            }
            Err(_) => {}
        }
    }
    // The columns this request reads, as streaming would: `--bad-rows skip` judges no more.
    let columns = Some(data::request_columns(program, req));
    let data =
        Data::load(program, &DataOptions { load: load.clone(), all_columns: false, columns })?;
    match run(program, &data, req, None) {
        Ok(report) => Ok(report),
        Err(Stop::Error(d)) => Err(vec![d]),
        Err(Stop::Fallback(why)) => unreachable!("loaded data never falls back ({why})"),
    }
}

/// The KPIs `items` need, with the KPIs they use (blends' components and guards), in
/// evaluation order.
pub(crate) fn needed_kpis(program: &Program, items: &[ItemRef]) -> Vec<KpiId> {
    let mut need = vec![false; program.kpis.len()];
    let mut stack: Vec<KpiId> = Vec::new();
    for item in items {
        match *item {
            ItemRef::Kpi(k) => stack.push(k),
            ItemRef::Blend(b) => {
                let blend = &program.blends[b];
                stack.extend(&blend.components);
                if let Some(g) = &blend.guard {
                    kpi::kpi_refs(g, &mut stack);
                }
            }
        }
    }
    while let Some(k) = stack.pop() {
        if std::mem::replace(&mut need[k], true) {
            continue;
        }
        kpi::kpi_refs(&program.kpis[k].expr, &mut stack);
    }
    program.kpi_order.iter().copied().filter(|&k| need[k]).collect()
}

/// [`run_here`] with stack for the deepest expression the checker lets through (a host's
/// thread, or the REPL's main thread, may have little).
fn run(
    program: &Program,
    data: &Data,
    req: &Request,
    files: Option<&crate::data::LoadOptions>,
) -> Result<Report, Stop> {
    crate::check::on_big_stack(|| run_here(program, data, req, files))
}

fn run_here(
    program: &Program,
    data: &Data,
    req: &Request,
    files: Option<&crate::data::LoadOptions>,
) -> Result<Report, Stop> {
    let mut engine = Engine {
        program,
        data,
        filter: req.filter.as_ref(),
        filter_at: req.filter_at,
        max_groups: req.max_groups,
        cancel: req.cancel.clone(),
        // More threads than this help nothing (a file is read in blocks of megabytes) and
        // each costs a stack and buffers: a host asking for a million gets 256.
        threads: if req.threads == 0 { scan::default_threads() } else { req.threads.min(256) },
        progress: req.progress.as_ref(),
        files,
        guards: req
            .items
            .iter()
            .filter_map(|i| {
                if let ItemRef::Blend(b) = i { program.blends[*b].guard.as_ref() } else { None }
            })
            .collect(),
        warnings: std::sync::Mutex::new(Vec::new()),
        scanned: Vec::new(),
        overflowed: std::sync::atomic::AtomicBool::new(false),
        zero_divided: std::sync::atomic::AtomicBool::new(false),
        out_of_range: std::sync::atomic::AtomicBool::new(false),
        zero_denominators: Vec::new(),
        tables: HashMap::new(),
    };
    let kpis = engine.needed_kpis(&req.items);
    // Time − time subtractions and divisions in rows get hidden counts of the rows that
    // go negative or divide by zero (see `row_checks`).
    let mut aggs = Vec::new();
    for &k in &kpis {
        kpi::agg_refs(&program.kpis[k].expr, &mut aggs);
    }
    let (mut planned, checks) =
        row_checks::plan(program, &kpis, &aggs).unwrap_or_else(|| (program.clone(), Vec::new()));
    // So do the rows and the columns read, to say when they are empty (see `emptiness`).
    let empties = emptiness::plan(&mut planned, &aggs);
    engine.program = &planned;
    let needed = kpis.clone();
    let mut sets = vec![(req.by.clone(), kpis.clone())];
    if !req.by.is_empty() {
        sets.push((Vec::new(), kpis));
    }
    let hidden: Vec<AggId> = checks
        .iter()
        .map(|c| c.hidden)
        .chain(empties.iter().flat_map(emptiness::Check::hidden))
        .collect();
    engine.compute(sets, &hidden)?;
    let mut negative = emptiness::warnings(&engine, &empties);
    negative.extend(row_checks::warnings(&engine, &checks, req));
    negative.extend(engine.zero_denominator_warnings(&req.by));
    let rows_table = req.by.clone();
    let total = if req.by.is_empty() {
        None
    } else {
        engine.tables.get(&Vec::new()).and_then(|t| engine.rows(t, &req.items).into_iter().next())
    };
    let table = &engine.tables[&rows_table];
    let rows = engine.rows(table, &req.items);
    let empty = engine.empty_row(&needed, &req.items);
    let by = req
        .by
        .iter()
        .map(|&d| {
            let dim = &program.dims[d];
            // A column declared nowhere and checked without data (a test's fixture) has
            // the type its values were read as.
            let loaded = match &dim.expr {
                RowExpr::Column { dataset, column, .. } if dim.ty.is_open() => {
                    data.column(*dataset, column).map(|c| c.ty)
                }
                _ => None,
            };
            let kind = match (&dim.ty, loaded) {
                (Ty::Date, _) | (_, Some(ColumnType::Date)) => KeyKind::Date,
                (Ty::Time, _) | (_, Some(ColumnType::Time)) => KeyKind::Time,
                (Ty::Text, _) | (_, Some(ColumnType::Text)) => KeyKind::Text,
                (Ty::Bool, _) | (_, Some(ColumnType::Bool)) => KeyKind::Bool,
                _ => KeyKind::Number,
            };
            DimMeta { name: dim.name.clone(), kind }
        })
        .collect();
    let notes = program
        .notes
        .iter()
        .map(|n| NoteOut {
            date: n.date,
            date_text: crate::calendar::format_date(n.date),
            text: n.text.clone(),
        })
        .collect();
    let warnings = warnings(&engine, data, negative);
    Ok(Report {
        version: SCHEMA_VERSION,
        by,
        items: req.items.iter().map(|&i| item_meta(program, i)).collect(),
        rows,
        total,
        notes,
        warnings: Warnings { diagnostics: warnings, sources: program.sources.clone() },
        empty,
    })
}

/// The warnings of an evaluation, the same whether the data was loaded first or streamed:
/// the loader's (rows skipped as bad), then the link keys that found no row, for the links
/// of the datasets scanned only (loading resolves every link; streaming follows those of the
/// datasets it reads), in the order the links are declared; then negative durations.
fn warnings(engine: &Engine<'_>, data: &Data, negative: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let program = engine.program;
    let scanned_link = |d: &Diagnostic| {
        engine
            .scanned
            .iter()
            .any(|&r| program.datasets[r].links.iter().any(|l| d.primary_span() == Some(l.span)))
    };
    let (mut keys, loaded): (Vec<Diagnostic>, Vec<Diagnostic>) =
        data.warnings.iter().cloned().partition(|d| d.code == Code::MissingKey);
    keys.retain(scanned_link);
    let found = engine.warnings.lock().map(|w| w.clone()).unwrap_or_default();
    let (streamed, other): (Vec<Diagnostic>, Vec<Diagnostic>) =
        found.into_iter().partition(|d| d.code == Code::MissingKey);
    keys.extend(streamed);
    keys.sort_by_key(|d| d.primary_span().map(|s| (s.file, s.start)));
    loaded.into_iter().chain(keys).chain(other).chain(negative).collect()
}

/// An error evaluating rows of dataset `root`, placed at the KPI whose aggregate failed,
/// the dim, or the request's filter (at `filter_at`, where it was written).
pub(super) fn row_error(
    program: &Program,
    root: DatasetId,
    e: scan::BlockError,
    filter_at: Option<Span>,
) -> Diagnostic {
    let beyond = [vector::OVERFLOW, vector::DATE_RANGE];
    let code =
        if beyond.iter().any(|b| e.message.ends_with(b)) { Code::Overflow } else { Code::BadValue };
    let name = &program.datasets[root].name;
    let d = Diagnostic::error(code, format!("while reading `{name}`: {}", e.message));
    match e.place {
        scan::Place::Agg(a) => match first_kpi_using(program, a) {
            Some(k) => {
                let def = &program.kpis[k];
                d.at(def.expr_span, format!("in kpi `{}`", def.name))
            }
            None => d,
        },
        scan::Place::Dim(dim) => {
            let def = &program.dims[dim];
            d.at(def.span, format!("in dim `{}`", def.name))
        }
        scan::Place::Filter => match filter_at {
            Some(span) => d.at(span, "in this `where`"),
            None => d,
        },
        scan::Place::Nowhere => d,
    }
}

/// The first KPI whose expression uses aggregate `agg`.
fn first_kpi_using(program: &Program, agg: AggId) -> Option<KpiId> {
    (0..program.kpis.len()).find(|&k| {
        let mut refs = Vec::new();
        kpi::agg_refs(&program.kpis[k].expr, &mut refs);
        refs.contains(&agg)
    })
}

fn item_meta(program: &Program, item: ItemRef) -> ItemMeta {
    match item {
        ItemRef::Kpi(k) => {
            let k = &program.kpis[k];
            ItemMeta {
                name: k.name.clone(),
                kind: ItemKind::Kpi,
                label: k.label.clone(),
                unit: k.unit.clone(),
                target: k.target,
                warn: k.warn,
                direction: k.direction(),
                min: k.min,
                tags: k.tags.clone(),
                components: Vec::new(),
                weights: Vec::new(),
                guard: None,
                correlation_over: match &k.expr {
                    KpiExpr::Corr { over, .. } => Some(program.dims[*over].name.clone()),
                    _ => None,
                },
            }
        }
        ItemRef::Blend(b) => {
            let b = &program.blends[b];
            ItemMeta {
                name: b.name.clone(),
                kind: ItemKind::Blend,
                label: None,
                unit: Unit::Plain,
                target: None,
                warn: None,
                direction: Some(Direction::HigherIsBetter),
                min: None,
                tags: Vec::new(),
                components: b.components.iter().map(|&c| program.kpis[c].name.clone()).collect(),
                weights: b.weights.clone(),
                guard: b.guard_text.clone(),
                correlation_over: None,
            }
        }
    }
}

/// What one dataset's scan found for one grouping: its aggregates, the group keys, and
/// the accumulators in the same group order.
type Found = (Vec<AggId>, Vec<Vec<Key>>, Vec<Acc>);

/// Aggregates and KPIs for one grouping, groups sorted by key.
pub(crate) struct GroupTable {
    pub dims: Vec<DimId>,
    pub keys: Vec<Vec<Key>>,
    /// Per aggregate: value and rows fed, per group.
    pub aggs: HashMap<AggId, (Vec<Option<f64>>, Vec<u64>)>,
    /// Per KPI: value and sample size, per group.
    pub kpis: HashMap<KpiId, Vec<(Value, Option<u64>)>>,
}

pub(crate) struct Engine<'a> {
    program: &'a Program,
    data: &'a Data,
    filter: Option<&'a RowExpr>,
    filter_at: Option<Span>,
    max_groups: usize,
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    threads: usize,
    progress: Option<&'a Progress>,
    /// Guards of the requested blends (they may need finer groupings too).
    guards: Vec<&'a KpiExpr>,
    /// Read straight from the data files (streaming) with these options, instead of `data`.
    files: Option<&'a crate::data::LoadOptions>,
    /// Warnings found while streaming (missing link keys).
    warnings: std::sync::Mutex<Vec<Diagnostic>>,
    /// The datasets scanned (the roots of the aggregates computed).
    scanned: Vec<DatasetId>,
    /// Set when KPI arithmetic overflowed (see `kpi::Engine::checked`).
    overflowed: std::sync::atomic::AtomicBool,
    /// Set when a date function in a KPI met a value beyond the range of dates.
    out_of_range: std::sync::atomic::AtomicBool,
    /// Set when a KPI divided a number by zero (read per group by `kpi_values`).
    zero_divided: std::sync::atomic::AtomicBool,
    /// Per KPI and grouping: the groups a division by zero made null, of how many.
    zero_denominators: Vec<(KpiId, Vec<DimId>, usize, usize)>,
    tables: HashMap<Vec<DimId>, GroupTable>,
}

/// Why an evaluation stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    Error(Diagnostic),
    /// Streaming met something unusual; read the files carefully instead.
    Fallback(String),
}

impl From<Diagnostic> for Stop {
    fn from(d: Diagnostic) -> Stop {
        Stop::Error(d)
    }
}

impl Engine<'_> {
    /// The requested KPIs, the KPIs they use, and blend components and guard KPIs.
    fn needed_kpis(&self, items: &[ItemRef]) -> Vec<KpiId> {
        needed_kpis(self.program, items)
    }

    /// Computes the tables of the given groupings (and of the finer groupings their
    /// correlations need): one scan per dataset feeds them all, then KPIs are computed
    /// per table, finer tables first. `hidden` aggregates are computed ungrouped only.
    fn compute(
        &mut self,
        mut sets: Vec<(Vec<DimId>, Vec<KpiId>)>,
        hidden: &[AggId],
    ) -> Result<(), Stop> {
        let mut i = 0;
        while i < sets.len() {
            let (dims, kpis) = sets[i].clone();
            let exprs =
                kpis.iter().map(|&k| &self.program.kpis[k].expr).chain(self.guards.iter().copied());
            let needs: Vec<(Vec<KpiId>, DimId)> = exprs.flat_map(kpi::finer).collect();
            for (of, over) in needs {
                {
                    if dims.contains(&over) {
                        continue;
                    }
                    let mut finer = dims.clone();
                    finer.push(over);
                    let items: Vec<ItemRef> = of.iter().map(|&k| ItemRef::Kpi(k)).collect();
                    let inner = self.needed_kpis(&items);
                    match sets.iter_mut().find(|(d, _)| *d == finer) {
                        Some((_, ks)) => {
                            for k in inner {
                                if !ks.contains(&k) {
                                    ks.push(k);
                                }
                            }
                        }
                        None => sets.push((finer, inner)),
                    }
                }
            }
            i += 1;
        }
        let groupings: Vec<scan::Grouping> = sets
            .iter()
            .map(|(dims, kpis)| {
                let mut aggs = Vec::new();
                for &k in kpis {
                    kpi::agg_refs(&self.program.kpis[k].expr, &mut aggs);
                }
                if dims.is_empty() {
                    aggs.extend(hidden);
                }
                aggs.sort_unstable();
                aggs.dedup();
                scan::Grouping { dims: dims.clone(), aggs }
            })
            .collect();
        let mut roots: Vec<DatasetId> = groupings
            .iter()
            .flat_map(|g| g.aggs.iter().map(|&a| self.program.aggregates[a].dataset))
            .collect();
        roots.sort_unstable();
        roots.dedup();
        self.scanned.clone_from(&roots);
        // Per dataset: the groupings (by index) with the aggregates rooted there.
        let jobs: Vec<(DatasetId, Vec<(usize, scan::Grouping)>)> = roots
            .into_iter()
            .map(|root| {
                let mine = groupings
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        let aggs = g
                            .aggs
                            .iter()
                            .copied()
                            .filter(|&a| self.program.aggregates[a].dataset == root)
                            .collect();
                        (i, scan::Grouping { dims: g.dims.clone(), aggs })
                    })
                    .filter(|(_, g)| !g.aggs.is_empty())
                    .collect();
                (root, mine)
            })
            .collect();
        let results = match self.files {
            Some(load) => stream::scan_all(self, &jobs, load)?,
            None => jobs
                .iter()
                .map(|(root, mine)| {
                    self.scan_root(*root, &mine.iter().map(|(_, g)| g.clone()).collect::<Vec<_>>())
                })
                .collect::<Result<_, _>>()?,
        };
        // Per grouping: (aggregates, keys, accumulators) from each dataset.
        let mut found: Vec<Vec<Found>> = (0..groupings.len()).map(|_| Vec::new()).collect();
        for ((_, mine), per_grouping) in jobs.into_iter().zip(results) {
            for ((i, g), (keys, accs)) in mine.into_iter().zip(per_grouping) {
                found[i].push((g.aggs, keys, accs));
            }
        }
        for (g, per_root) in groupings.iter().zip(found) {
            let table = self.group_table(&g.dims, per_root)?;
            // A sum (or an average, a standard deviation) beyond the range of numbers.
            for (&a, (values, _)) in &table.aggs {
                if values.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(Stop::Error(self.overflow(Some(a), None)));
                }
            }
            self.dates_in_range(&g.dims, &table)?;
            self.tables.insert(g.dims.clone(), table);
        }
        // Finer tables first: a correlation reads its inputs from the finer table.
        let mut order: Vec<usize> = (0..sets.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sets[i].0.len()));
        for i in order {
            let (dims, kpis) = &sets[i];
            for &k in kpis {
                let (values, zero_divided) = self.kpi_values(dims, k);
                if self.overflowed.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    return Err(Stop::Error(self.overflow(None, Some(k))));
                }
                let def = &self.program.kpis[k];
                let is_time = def.unit == Unit::Time;
                let beyond = |(v, _): &(Value, Option<u64>)| {
                    v.as_f64().is_some_and(|x| !crate::calendar::value_in_range(x, is_time))
                };
                if self.out_of_range.swap(false, std::sync::atomic::Ordering::Relaxed)
                    || (matches!(def.unit, Unit::Time | Unit::Date) && values.iter().any(beyond))
                {
                    return Err(Stop::Error(self.beyond_dates(k)));
                }
                if zero_divided > 0 {
                    self.zero_denominators.push((k, dims.clone(), zero_divided, values.len()));
                }
                if let Some(t) = self.tables.get_mut(dims) {
                    t.kpis.insert(k, values);
                }
            }
        }
        Ok(())
    }

    /// The groups of all datasets together, sorted, with each aggregate's values.
    fn group_table(&self, dims: &[DimId], per_root: Vec<Found>) -> Result<GroupTable, Stop> {
        let mut keys: Vec<Vec<Key>> =
            per_root.iter().flat_map(|(_, k, _)| k.iter().cloned()).collect();
        if dims.is_empty() {
            keys = vec![Vec::new()];
        }
        keys.sort();
        keys.dedup();
        // Each dataset was within the limit; together they may not be.
        if keys.len() > self.max_groups {
            return Err(Stop::Error(too_many_groups(self.max_groups)));
        }
        let mut out = HashMap::new();
        for (aggs, local_keys, accs) in per_root {
            let to_local: Vec<Option<usize>> = {
                let local: HashMap<&Vec<Key>, usize> =
                    local_keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
                keys.iter().map(|k| local.get(k).copied()).collect()
            };
            for (a, mut acc) in aggs.into_iter().zip(accs) {
                let func = self.program.aggregates[a].func;
                let empty_value =
                    matches!(func, AggFunc::CountRows | AggFunc::Count | AggFunc::CountDistinct)
                        .then_some(0.0);
                let values = to_local
                    .iter()
                    .map(|l| l.map_or(empty_value, |g| acc.value(func, g)))
                    .collect();
                let fed = to_local.iter().map(|l| l.map_or(0, |g| acc.fed(g))).collect();
                out.insert(a, (values, fed));
            }
        }
        Ok(GroupTable { dims: dims.to_vec(), keys, aggs: out, kpis: HashMap::new() })
    }

    /// The error for a number beyond the range of numbers: from aggregate `agg`, or from
    /// the arithmetic of KPI `kpi`; placed at (the first needed) KPI that uses it.
    /// An error when a date or time dim has a group beyond the range of dates (its value
    /// could not be shown).
    fn dates_in_range(&self, dims: &[DimId], table: &GroupTable) -> Result<(), Stop> {
        for (i, &d) in dims.iter().enumerate() {
            let dim = &self.program.dims[d];
            let is_time = dim.ty == Ty::Time;
            let beyond = |k: &Vec<Key>| matches!(k[i], Key::Num(x) if !crate::calendar::value_in_range(x, is_time));
            if matches!(dim.ty, Ty::Time | Ty::Date) && table.keys.iter().any(beyond) {
                let d = Diagnostic::error(
                    Code::Overflow,
                    format!("a value of dim `{}` {}", dim.name, vector::DATE_RANGE),
                )
                .at(dim.span, format!("dim `{}`", dim.name))
                .help(
                    "check the data and the arithmetic on dates; no value is made null or clamped",
                );
                return Err(Stop::Error(d));
            }
        }
        Ok(())
    }

    /// KPI `k` made or read a date or time beyond the range of dates.
    fn beyond_dates(&self, k: KpiId) -> Diagnostic {
        let def = &self.program.kpis[k];
        Diagnostic::error(
            Code::Overflow,
            format!("a date or time in `{}` {}", def.name, vector::DATE_RANGE),
        )
        .at(def.expr_span, format!("in kpi `{}`", def.name))
        .help("check the data and the arithmetic on dates; no value is made null or clamped")
    }

    fn overflow(&self, agg: Option<AggId>, kpi: Option<KpiId>) -> Diagnostic {
        let program = self.program;
        let kpi = kpi.or_else(|| agg.and_then(|a| first_kpi_using(program, a)));
        let what = match agg.map(|a| &program.aggregates[a]) {
            Some(def) => format!("`{}`", def.func.name()),
            None => "the arithmetic".to_string(),
        };
        let mut d = Diagnostic::error(Code::Overflow, format!("{what} {}", vector::OVERFLOW))
            .help("check the data for values far out of range; no value is made null or infinite");
        if let Some(k) = kpi {
            let def = &program.kpis[k];
            d = d.at(def.expr_span, format!("in kpi `{}`", def.name));
        }
        d
    }

    /// One pass over a dataset's rows in blocks, feeding every grouping.
    fn scan_root(
        &self,
        root: DatasetId,
        groupings: &[scan::Grouping],
    ) -> Result<Vec<scan::Groups>, Diagnostic> {
        let rows = self.data.rows(root);
        let fail = |e: scan::BlockError| row_error(self.program, root, e, self.filter_at);
        let column = |d: DatasetId, c: &str| self.data.column(d, c);
        let dicts = |d: DatasetId, c: &str| self.data.dict(d, c);
        let work = |start: usize| -> Result<scan::Partial, Diagnostic> {
            if self.cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(Diagnostic::error(Code::Interrupted, "interrupted"));
            }
            let frame = Frame {
                rows: start..(start + CHUNK).min(rows),
                maps: self.data.maps(root),
                root,
                column: &column,
                dicts: &dicts,
                dims: Default::default(),
            };
            scan::feed_block(self.program, &frame, self.filter, groupings).map_err(fail)
        };
        let mut merged = scan::Merged::new(self.program, groupings, self.max_groups);
        // One block is done here: starting threads for it costs more than the block.
        let threads = self.threads.min(rows.div_ceil(CHUNK));
        scan::run_ordered((0..rows).step_by(CHUNK), threads, &work, |p| {
            merged.add(p).map_err(too_many_groups)
        })?;
        Ok(merged.finish())
    }
}

fn too_many_groups(limit: usize) -> Diagnostic {
    Diagnostic::error(
        Code::DataLimit,
        format!(
            "grouping produced more than {limit} group{} (the limit)",
            if limit == 1 { "" } else { "s" }
        ),
    )
    .help("group by fewer or coarser dims, or raise the limit with --max-groups")
}

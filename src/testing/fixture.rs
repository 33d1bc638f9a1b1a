//! A test's data: the columns its expectations need, read from inline CSV or fixture
//! files, and empty tables for the datasets it does not give.

use std::collections::{BTreeMap, HashMap};

use crate::ast::{ExprKind, TestData, TestSource};
use crate::check::Fixture;
use crate::data::{self, Column, ColumnData, ColumnType, LoadReport, Table};
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::{self, agg_refs, kpi_refs};
use crate::program::{DatasetId, DimId, ItemRef, KpiExpr, KpiId, Program, RowExpr, TestDef};
use crate::source::Span;

use super::{Grouping, error_at};

/// Columns needed, per dataset, with what needs each (for messages).
type Needs = BTreeMap<(DatasetId, String), String>;

/// One table per dataset, holding exactly the columns the groupings need.
pub(super) fn tables(
    program: &Program,
    def: &TestDef,
    groupings: &[Grouping],
) -> Result<HashMap<String, Table>, Vec<Diagnostic>> {
    let needs = needs(program, groupings);
    // The checker refused data for unknown datasets and data given twice.
    let mut given: HashMap<DatasetId, &TestData> = HashMap::new();
    for d in &def.test.data {
        if let Some(id) = program.dataset(&d.dataset.name) {
            given.entry(id).or_insert(d);
        }
    }
    let mut errors = Vec::new();
    let mut out = HashMap::new();
    for (id, ds) in program.datasets.iter().enumerate() {
        let wanted: Vec<(&String, &String)> = needs
            .range((id, String::new())..)
            .take_while(|((d, _), _)| *d == id)
            .map(|((_, c), by)| (c, by))
            .collect();
        let Some(&d) = given.get(&id) else {
            out.insert(ds.name.clone(), empty(&wanted));
            continue;
        };
        let table = match load(program, def, id, d) {
            Ok(Some(t)) => t,
            Ok(None) => {
                out.insert(ds.name.clone(), empty(&wanted));
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut columns = Vec::new();
        for (column, by) in wanted {
            match table.column(column) {
                Some(c) => columns.push(c.clone()),
                None => errors.push(missing_column(program, d, column, by)),
            }
        }
        out.insert(ds.name.clone(), Table { columns, ..table });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A dataset with no rows (it was not given, or given as blank text).
fn empty(wanted: &[(&String, &String)]) -> Table {
    let columns = wanted
        .iter()
        .map(|(name, _)| Column {
            name: (*name).clone(),
            // No rows, so no values: read through a link, it is null whatever its type.
            ty: ColumnType::Number,
            data: ColumnData::Num(Vec::new()),
        })
        .collect();
    Table { columns, rows: 0, report: LoadReport::default() }
}

fn missing_column(program: &Program, d: &TestData, column: &str, by: &str) -> Diagnostic {
    let ds = &d.dataset.name;
    let (what, span) = match &d.source {
        TestSource::Inline(s) => {
            ("the header".to_string(), inline_line(&program.sources, s.span, 1).unwrap_or(s.span))
        }
        TestSource::File(f) => (format!("`{}`", f.path.value), f.path.span),
    };
    let mut diag = error_at(
        Code::UnknownColumn,
        format!("test data for `{ds}` has no column `{column}`"),
        span,
        format!("{what} has no `{column}` column"),
    )
    .note(format!("{by} needs `{ds}.{column}`"))
    .help(format!("add a column `{column}` to the data, or drop the expectations that need it"));
    if let TestSource::File(_) = &d.source {
        diag = diag.also(d.dataset.span, format!("read as `{ds}`"));
    }
    diag
}

/// Reads one dataset's test data, every column, with the dataset's declared types.
/// `None` for blank inline text (no rows).
fn load(
    program: &Program,
    def: &TestDef,
    id: DatasetId,
    d: &TestData,
) -> Result<Option<Table>, Diagnostic> {
    let ds = &program.datasets[id];
    let (mut delimiter, mut null_tokens) = (ds.delimiter, ds.null_tokens.clone());
    let fixture = match &d.source {
        TestSource::Inline(s) if s.value.trim().is_empty() => return Ok(None),
        TestSource::Inline(s) => Fixture {
            text: Some(&s.value),
            path: format!("inline data for `{}`", ds.name).into(),
            delimiter,
            null_tokens,
        },
        TestSource::File(src) => {
            // The checker refused any other option.
            for (key, value) in &src.options {
                match (key.name.as_str(), &value.kind) {
                    ("delimiter", ExprKind::Str(s)) if s.len() == 1 => delimiter = s.as_bytes()[0],
                    ("null", ExprKind::Str(s)) => null_tokens.push(s.clone()),
                    _ => {}
                }
            }
            let path = def.base_dir.join(&src.path.value);
            Fixture { text: None, path, delimiter, null_tokens }
        }
    };
    eval::load_fixture(ds, &fixture).map(Some).map_err(|e| match &d.source {
        TestSource::Inline(s) => inline_error(program, e, s.span, &ds.name),
        TestSource::File(_) => file_error(e, d, &def.test.name.value),
    })
}

fn file_error(e: data::LoadError, d: &TestData, test: &str) -> Diagnostic {
    let mut diag = eval::load_error(e);
    // An error about the whole file (it cannot be opened) points at where it is named.
    if let (TestSource::File(f), Some(None)) = (&d.source, diag.data.as_ref().map(|l| l.line)) {
        diag.data = None;
        return diag.at(f.path.span, format!("test data for `{}`", d.dataset.name));
    }
    diag.note(format!("test \"{test}\" reads this file as `{}`", d.dataset.name))
}

/// An error in inline CSV, pointed at its line in the `.kpi` file.
fn inline_error(program: &Program, e: data::LoadError, span: Span, dataset: &str) -> Diagnostic {
    let mut where_ = String::new();
    if let Some(c) = &e.column {
        where_.push_str(&format!("column `{c}`"));
    }
    if let Some(r) = e.record {
        where_.push_str(&format!("{}record {r}", if where_.is_empty() { "" } else { ", " }));
    }
    let line_span = e.line.and_then(|l| inline_line(&program.sources, span, l)).unwrap_or(span);
    let mut d = eval::load_error(e.clone());
    d.data = None;
    d.message = format!("in the inline data for `{dataset}`: {}", e.message);
    let label = if where_.is_empty() { "here".to_string() } else { where_ };
    d.at(line_span, label)
}

fn inline_line(sources: &crate::source::SourceMap, span: Span, line: u64) -> Option<Span> {
    crate::check::inline_line(sources, span, line)
}

/// The columns the groupings need: those the aggregates of the needed KPIs read, those
/// of the dims grouped by (and correlated over), and the link keys between.
pub(super) fn needs(program: &Program, groupings: &[Grouping]) -> Needs {
    let mut out = Needs::new();
    for (dims, items) in groupings {
        for &item in items {
            let by = format!("`{}`", program.item_name(item));
            let kpis = needed_kpis(program, item);
            let mut over: Vec<DimId> = dims.clone();
            let mut aggs = Vec::new();
            for &k in &kpis {
                corr_dims(&program.kpis[k].expr, &mut over);
                agg_refs(&program.kpis[k].expr, &mut aggs);
            }
            for a in aggs {
                let agg = &program.aggregates[a];
                let root = agg.dataset;
                let mut add = |e: &RowExpr, why: &str| {
                    columns(e, &mut |d, c| {
                        out.entry((d, c.to_string())).or_insert_with(|| why.to_string());
                        for (from, link) in program.link_path(root, d).unwrap_or_default() {
                            let l = &program.datasets[from].links[link];
                            let why = format!(
                                "the link `{}` -> `{}`",
                                program.datasets[from].name, program.datasets[l.target].name
                            );
                            out.entry((from, l.column.clone())).or_insert_with(|| why.clone());
                            out.entry((l.target, l.target_column.clone())).or_insert(why);
                        }
                    });
                };
                for e in agg.arg.iter().chain(&agg.filter) {
                    add(e, &by);
                }
                for &d in &over {
                    add(&program.dims[d].expr, &format!("dim `{}`", program.dims[d].name));
                }
            }
        }
    }
    out
}

/// The KPI (or a blend's components and guard KPIs) and every KPI they use.
fn needed_kpis(program: &Program, item: ItemRef) -> Vec<KpiId> {
    let mut stack: Vec<KpiId> = Vec::new();
    match item {
        ItemRef::Kpi(k) => stack.push(k),
        ItemRef::Blend(b) => {
            let blend = &program.blends[b];
            stack.extend(&blend.components);
            if let Some(g) = &blend.guard {
                kpi_refs(g, &mut stack);
            }
        }
    }
    let mut seen = vec![false; program.kpis.len()];
    let mut out = Vec::new();
    while let Some(k) = stack.pop() {
        if std::mem::replace(&mut seen[k], true) {
            continue;
        }
        out.push(k);
        kpi_refs(&program.kpis[k].expr, &mut stack);
    }
    out
}

/// The dims correlations in `e` group by.
fn corr_dims(e: &KpiExpr, out: &mut Vec<DimId>) {
    match e {
        KpiExpr::Corr { over, .. } if !out.contains(over) => out.push(*over),
        KpiExpr::Unary(_, x) | KpiExpr::IsNull(x, _) => corr_dims(x, out),
        KpiExpr::Binary(_, a, b) => {
            corr_dims(a, out);
            corr_dims(b, out);
        }
        KpiExpr::Case { operand, whens, otherwise } => {
            for x in operand.iter().chain(otherwise) {
                corr_dims(x, out);
            }
            for (w, t) in whens {
                corr_dims(w, out);
                corr_dims(t, out);
            }
        }
        KpiExpr::Func(_, args) => args.iter().for_each(|a| corr_dims(a, out)),
        _ => {}
    }
}

/// Calls `f(dataset, column)` for every column a row expression reads.
fn columns(e: &RowExpr, f: &mut dyn FnMut(DatasetId, &str)) {
    match e {
        RowExpr::Column { dataset, column, .. } => f(*dataset, column),
        RowExpr::Const(_) => {}
        RowExpr::Unary(_, x) | RowExpr::IsNull(x, _) => columns(x, f),
        RowExpr::Binary(_, a, b) => {
            columns(a, f);
            columns(b, f);
        }
        RowExpr::InList(x, list, _) => {
            columns(x, f);
            list.iter().for_each(|i| columns(i, f));
        }
        RowExpr::Case { operand, whens, otherwise } => {
            for x in operand.iter().chain(otherwise) {
                columns(x, f);
            }
            for (w, t) in whens {
                columns(w, f);
                columns(t, f);
            }
        }
        RowExpr::Func(_, args) => args.iter().for_each(|a| columns(a, f)),
        RowExpr::Dim(_, x) => columns(x, f),
    }
}

//! What rows do that SQL lets pass without a word, said with a warning that counts the
//! rows and points at the first one: a time minus a time that comes out negative (an end
//! before its start; the value is kept, sign included), and a division by zero inside an
//! aggregate's argument or filter (null there, as in SQL, so the aggregate leaves the row
//! out). Divisions inside `case` or `coalesce` are taken to be the user's own handling of
//! zero and are not counted.
//!
//! Only programs that subtract times or divide in rows pay for this. Each such expression
//! in an aggregate that is evaluated gets a hidden `count` of the rows it concerns,
//! computed with the other aggregates in the same scan (ungrouped, under the request's
//! filter). Only when that count is not zero are the rows looked at again to find the
//! first one; when evaluation streamed from the files, that means reading them again with
//! the careful loader.

use super::vector::{Frame, TRUE};
use super::{CHUNK, Data, DataOptions, Engine};
use crate::diagnostic::{Code, DataLocation, Diagnostic};
use crate::program::*;

/// What a check looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `end - start < 0` for two times.
    NegativeDuration,
    /// `a / b` with `b = 0` and `a` not null.
    ZeroDivision,
}

/// One time − time subtraction or one division, and the hidden aggregate that counts the
/// rows where it is negative or divides by zero.
pub(super) struct Check {
    kind: Kind,
    dataset: DatasetId,
    /// The condition the hidden aggregate counts (with the aggregate's filter, when the
    /// expression is in its argument).
    negative: RowExpr,
    sub: RowExpr,
    /// The KPI (or other aggregate user) the subtraction was found in, for the label.
    kpi: Option<KpiId>,
    pub hidden: AggId,
}

/// A copy of `program` with a hidden count per time − time subtraction in the arguments
/// and filters of `aggs` (used by `kpis`); `None` when there is no such subtraction.
pub(super) fn plan(
    program: &Program,
    kpis: &[KpiId],
    aggs: &[AggId],
) -> Option<(Program, Vec<Check>)> {
    // (dataset, subtraction, the aggregate's filter when the subtraction is in its
    // argument: rows the filter leaves out do not count, aggregate)
    let mut found: Vec<(DatasetId, RowExpr, Option<RowExpr>, AggId, Kind)> = Vec::new();
    for &a in aggs {
        let def = &program.aggregates[a];
        let parts = def
            .arg
            .iter()
            .map(|e| (e, def.filter.clone()))
            .chain(def.filter.iter().map(|e| (e, None)));
        for (e, filter) in parts {
            let mut add = |kind: Kind, sub: &RowExpr| {
                if !found
                    .iter()
                    .any(|(d, s, f, _, _)| *d == def.dataset && s == sub && *f == filter)
                {
                    found.push((def.dataset, sub.clone(), filter.clone(), a, kind));
                }
            };
            subtractions(e, &mut |sub| add(Kind::NegativeDuration, sub));
            divisions(e, &mut |div| add(Kind::ZeroDivision, div));
        }
    }
    if found.is_empty() {
        return None;
    }
    let mut planned = program.clone();
    let checks = found
        .into_iter()
        .map(|(dataset, sub, filter, agg, kind)| {
            let zero = || Box::new(RowExpr::Const(Value::Num(0.0)));
            let below_zero = match (kind, &sub) {
                (Kind::ZeroDivision, RowExpr::Binary(_, num, den)) => RowExpr::Binary(
                    BinaryOp::And,
                    Box::new(RowExpr::Binary(BinaryOp::Cmp(CmpOp::Eq), den.clone(), zero())),
                    Box::new(RowExpr::IsNull(num.clone(), true)),
                ),
                _ => RowExpr::Binary(BinaryOp::Cmp(CmpOp::Lt), Box::new(sub.clone()), zero()),
            };
            let negative = match filter {
                Some(f) => RowExpr::Binary(BinaryOp::And, Box::new(f), Box::new(below_zero)),
                None => below_zero,
            };
            planned.aggregates.push(AggDef {
                func: AggFunc::CountRows,
                dataset,
                arg: None,
                filter: Some(negative.clone()),
            });
            let kpi = kpis.iter().copied().find(|&k| {
                let mut refs = Vec::new();
                super::kpi::agg_refs(&program.kpis[k].expr, &mut refs);
                refs.contains(&agg)
            });
            Check { kind, dataset, negative, sub, kpi, hidden: planned.aggregates.len() - 1 }
        })
        .collect();
    Some((planned, checks))
}

/// The warnings of the checks whose hidden count is not zero, after `compute`.
pub(super) fn warnings(
    engine: &Engine<'_>,
    checks: &[Check],
    req: &super::Request,
) -> Vec<Diagnostic> {
    let Some(total) = engine.tables.get(&Vec::new()) else { return Vec::new() };
    let mut reloaded: Option<Option<Data>> = None;
    let mut out = Vec::new();
    for check in checks {
        let count = total.aggs.get(&check.hidden).and_then(|(v, _)| v.first().copied().flatten());
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = count.unwrap_or(0.0) as u64;
        if count == 0 {
            continue;
        }
        // The rows are in memory, or are read again (once, for every check) to find the first.
        let data = if engine.files.is_some() {
            reloaded
                .get_or_insert_with(|| {
                    let opts = engine.files.map(|load| DataOptions {
                        load: load.clone(),
                        all_columns: false,
                        // What the request reads, as the scan did: no other cell can fail
                        // this reading.
                        columns: Some(super::data::request_columns(engine.program, req)),
                    });
                    opts.and_then(|o| Data::load(engine.program, &o).ok())
                })
                .as_ref()
        } else {
            Some(engine.data)
        };
        let first = data.and_then(|d| first_row(engine, d, check));
        out.push(warning(engine.program, check, count, first));
    }
    out
}

fn warning(program: &Program, check: &Check, count: u64, first: Option<u64>) -> Diagnostic {
    let ds = &program.datasets[check.dataset];
    let rows = if count == 1 { "1 row".to_string() } else { format!("{count} rows") };
    let mut d = match check.kind {
        Kind::NegativeDuration => negative_duration(program, check, count, &rows),
        Kind::ZeroDivision => zero_division(program, check, count, &rows),
    };
    d.data = Some(DataLocation {
        path: ds.path.display().to_string(),
        line: None,
        record: first,
        column: None,
    });
    if let Some(k) = check.kpi {
        let kpi = &program.kpis[k];
        d = d.at(kpi.expr_span, format!("in kpi `{}`", kpi.name));
    }
    d
}

fn zero_division(program: &Program, check: &Check, count: u64, rows: &str) -> Diagnostic {
    let ds = &program.datasets[check.dataset];
    let (num, den) = match &check.sub {
        RowExpr::Binary(_, a, b) => (row_text(program, a, true), row_text(program, b, true)),
        _ => ("a".to_string(), "b".to_string()),
    };
    Diagnostic::warning(
        Code::ZeroDenominator,
        format!(
            "{rows} of `{}` {} by zero in `{num} / {den}`: null there, so the aggregate leaves {} out",
            ds.name,
            if count == 1 { "divides" } else { "divide" },
            if count == 1 { "it" } else { "them" },
        ),
    )
    .note("a number divided by zero is null, as in SQLite and MySQL (PostgreSQL stops with an error, DuckDB gives infinity)")
    .help(format!(
        "`safe_div({num}, {den}, 0)` gives a value of your choice there; `where {den} != 0` leaves such rows out without a word"
    ))
}

fn negative_duration(program: &Program, check: &Check, count: u64, rows: &str) -> Diagnostic {
    let ds = &program.datasets[check.dataset];
    let (text, help) = match operands(program, &check.sub) {
        Some((end, start)) => (
            format!("{end} - {start}"),
            format!("check the data; to leave such rows out, filter with `where {end} >= {start}`"),
        ),
        None => ("time - time".to_string(), "check the data".to_string()),
    };
    Diagnostic::warning(
        Code::NegativeDuration,
        format!(
            "{rows} of `{}` {} a negative duration `{text}`: the end is before the start",
            ds.name,
            if count == 1 { "has" } else { "have" },
        ),
    )
    .note("the values are kept as they are (negative), not made positive")
    .help(help)
}

/// The 1-based record of the first row (under the request's filter) where the check's
/// duration is negative; `None` when rows were skipped (records and rows then differ) or
/// the rows cannot be evaluated.
fn first_row(engine: &Engine<'_>, data: &Data, check: &Check) -> Option<u64> {
    let root = check.dataset;
    if data.table(root)?.report.skipped > 0 {
        return None;
    }
    let rows = data.rows(root);
    let column = |d: DatasetId, c: &str| data.column(d, c);
    let dicts = |d: DatasetId, c: &str| data.dict(d, c);
    for start in (0..rows).step_by(CHUNK) {
        let frame = Frame {
            rows: start..(start + CHUNK).min(rows),
            maps: data.maps(root),
            root,
            column: &column,
            dicts: &dicts,
            dims: Default::default(),
        };
        let negative = frame.bools(&check.negative).ok()?;
        let keep = engine.filter.map(|f| frame.bools(f)).transpose().ok()?;
        let hit = (0..negative.len())
            .find(|&i| negative[i] == TRUE && keep.as_ref().is_none_or(|k| k[i] == TRUE));
        if let Some(i) = hit {
            return u64::try_from(start + i + 1).ok();
        }
    }
    None
}

/// A row expression written back as the language reads it (`d.v / (d.w - 2)`), bracketed
/// when it is an operation and `bracket` asks (the right side of `/`).
fn row_text(program: &Program, e: &RowExpr, bracket: bool) -> String {
    match e {
        RowExpr::Column { dataset, column, .. } => {
            format!("{}.{column}", program.datasets[*dataset].name)
        }
        RowExpr::Const(Value::Num(x)) => crate::render::format::trim(*x, 6),
        RowExpr::Dim(d, _) => program.dims[*d].name.clone(),
        RowExpr::Unary(crate::ast::UnaryOp::Neg, x) => format!("-{}", row_text(program, x, true)),
        RowExpr::Func(f, args) => {
            let name = ScalarFunc::ALL.iter().find(|(_, g, _)| g == f).map_or("f", |(n, _, _)| n);
            let args: Vec<String> = args.iter().map(|a| row_text(program, a, false)).collect();
            format!("{name}({})", args.join(", "))
        }
        RowExpr::Binary(op, a, b) => {
            let text = format!(
                "{} {} {}",
                row_text(program, a, true),
                op.as_str(),
                row_text(program, b, true)
            );
            if bracket { format!("({text})") } else { text }
        }
        _ => "…".to_string(),
    }
}

/// Calls `f` on every division in `e` that is not inside a `case` or `coalesce` (there,
/// a zero is taken to be handled).
fn divisions(e: &RowExpr, f: &mut dyn FnMut(&RowExpr)) {
    match e {
        RowExpr::Case { .. } | RowExpr::Func(ScalarFunc::Coalesce, _) => return,
        RowExpr::Binary(BinaryOp::Div, _, _) => f(e),
        _ => {}
    }
    e.for_each_child(&mut |c| divisions(c, f));
}

/// Calls `f` on every subtraction of a time from a time in `e`.
fn subtractions(e: &RowExpr, f: &mut dyn FnMut(&RowExpr)) {
    if let RowExpr::Binary(BinaryOp::Sub, a, b) = e
        && is_time(a)
        && is_time(b)
    {
        f(e);
    }
    e.for_each_child(&mut |c| subtractions(c, f));
}

/// Whether `e` is a point in time (a time, or a time plus or minus a duration).
fn is_time(e: &RowExpr) -> bool {
    match e {
        RowExpr::Column { ty, .. } => *ty == ColumnType::Time,
        RowExpr::Const(v) => matches!(v, Value::Time(_)),
        RowExpr::Binary(BinaryOp::Add, a, b) => is_time(a) != is_time(b),
        RowExpr::Binary(BinaryOp::Sub, a, b) => is_time(a) && !is_time(b),
        RowExpr::Case { whens, otherwise, .. } => {
            whens.iter().any(|(_, t)| is_time(t)) || otherwise.as_deref().is_some_and(is_time)
        }
        RowExpr::Func(ScalarFunc::Coalesce, args) => args.iter().any(is_time),
        RowExpr::Dim(_, x) => is_time(x),
        _ => false,
    }
}

/// The two columns of `end - start` or `a / b` as written (`calls.ended_at`), when both
/// are columns (a number too, for a division's numerator).
fn operands(program: &Program, sub: &RowExpr) -> Option<(String, String)> {
    let column = |e: &RowExpr| match e {
        RowExpr::Column { dataset, column, .. } => {
            Some(format!("{}.{column}", program.datasets[*dataset].name))
        }
        RowExpr::Const(Value::Num(x)) => Some(crate::render::format::plain(*x)),
        RowExpr::Dim(d, _) => Some(program.dims[*d].name.clone()),
        _ => None,
    };
    match sub {
        RowExpr::Binary(_, a, b) => Some((column(a)?, column(b)?)),
        _ => None,
    }
}

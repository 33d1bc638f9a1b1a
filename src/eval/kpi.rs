//! Group-level evaluation: KPIs from aggregates, correlations across groups, statuses
//! against targets, and blends with their guards.

use super::report::*;
use super::vector::{arith, cmp_holds, is_calendar, round, scalar};
use super::{Engine, GroupTable};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;

/// KPIs an expression uses directly (including correlation inputs).
pub fn kpi_refs(e: &KpiExpr, out: &mut Vec<KpiId>) {
    visit(e, &mut |x| match x {
        KpiExpr::Kpi(k) => out.push(*k),
        KpiExpr::Corr { a, b, .. } => out.extend([*a, *b]),
        KpiExpr::Change { kpi, .. } => out.push(*kpi),
        _ => {}
    });
}

/// Aggregates an expression reads directly (not through other KPIs or correlations).
pub fn agg_refs(e: &KpiExpr, out: &mut Vec<AggId>) {
    visit(e, &mut |x| {
        if let KpiExpr::Agg(a) = x {
            out.push(*a);
        }
    });
}

/// KPIs an expression needs per group of a finer grouping (correlations, changes),
/// with the dim that refines it.
pub fn finer(e: &KpiExpr) -> Vec<(Vec<KpiId>, DimId)> {
    let mut out = Vec::new();
    visit(e, &mut |x| match x {
        KpiExpr::Corr { a, b, over } => out.push((vec![*a, *b], *over)),
        KpiExpr::Change { kpi, over, .. } => out.push((vec![*kpi], *over)),
        _ => {}
    });
    out
}

fn visit(e: &KpiExpr, f: &mut dyn FnMut(&KpiExpr)) {
    f(e);
    match e {
        KpiExpr::Unary(_, x) | KpiExpr::IsNull(x, _) => visit(x, f),
        KpiExpr::Binary(_, a, b) => {
            visit(a, f);
            visit(b, f);
        }
        KpiExpr::Case { operand, whens, otherwise } => {
            operand.iter().for_each(|o| visit(o, f));
            for (w, t) in whens {
                visit(w, f);
                visit(t, f);
            }
            otherwise.iter().for_each(|o| visit(o, f));
        }
        KpiExpr::Func(_, args) => args.iter().for_each(|a| visit(a, f)),
        KpiExpr::Const(_)
        | KpiExpr::Agg(_)
        | KpiExpr::Kpi(_)
        | KpiExpr::Corr { .. }
        | KpiExpr::Change { .. } => {}
    }
}

fn min_n(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl Engine<'_> {
    /// An arithmetic result, with an overflow noted (for `compute` to report) and made null.
    fn checked(&self, v: Value) -> Value {
        match v {
            Value::Num(r) if r.is_infinite() => {
                self.overflowed.store(true, std::sync::atomic::Ordering::Relaxed);
                Value::Null
            }
            v => v,
        }
    }

    /// A warning per KPI that a division by zero made null in the requested groups or the
    /// total: such a value reads like missing data otherwise.
    pub(super) fn zero_denominator_warnings(&self, by: &[DimId]) -> Vec<Diagnostic> {
        let mut kpis: Vec<KpiId> = Vec::new();
        for (k, dims, _, _) in &self.zero_denominators {
            if (dims.as_slice() == by || dims.is_empty()) && !kpis.contains(k) {
                kpis.push(*k);
            }
        }
        kpis.into_iter()
            .map(|k| {
                let of = |dims: &[DimId]| {
                    self.zero_denominators
                        .iter()
                        .find(|(kk, d, _, _)| *kk == k && d.as_slice() == dims)
                        .map(|&(_, _, n, total)| (n, total))
                };
                let def = &self.program.kpis[k];
                let name = &def.name;
                let place = match (by.is_empty(), of(by), of(&[])) {
                    (true, _, _) => String::new(),
                    (false, Some((n, total)), in_total) => format!(
                        " in {n} of {total} group{}{}",
                        if total == 1 { "" } else { "s" },
                        if in_total.is_some() { " and in the total" } else { "" }
                    ),
                    (false, None, _) => " in the total".to_string(),
                };
                Diagnostic::warning(
                    Code::ZeroDenominator,
                    format!("a division by zero made `{name}` null{place}"),
                )
                .at(def.expr_span, format!("in kpi `{name}`"))
                .note(
                    "a number divided by zero is null, as in SQLite and MySQL \
                     (PostgreSQL stops with an error, DuckDB gives infinity)",
                )
                .help("`safe_div(a, b, 0)` gives a value of your choice where `b` is zero")
            })
            .collect()
    }

    /// Each item over no rows: a group with every count 0 and every other aggregate null,
    /// `kpis` (in dependency order) computed over it.
    pub(super) fn empty_row(&mut self, kpis: &[KpiId], items: &[ItemRef]) -> Option<Row> {
        // A table of its own, under a key no grouping has (a dim id past the last).
        let key = vec![DimId::MAX];
        let aggs = self
            .program
            .aggregates
            .iter()
            .enumerate()
            .map(|(a, def)| {
                let counts = matches!(
                    def.func,
                    AggFunc::CountRows | AggFunc::Count | AggFunc::CountDistinct
                );
                (a, (vec![counts.then_some(0.0)], vec![0]))
            })
            .collect();
        let table = GroupTable {
            dims: key.clone(),
            keys: vec![Vec::new()],
            aggs,
            kpis: std::collections::HashMap::new(),
        };
        self.tables.insert(key.clone(), table);
        for &k in kpis {
            let (values, _) = self.kpi_values(&key, k);
            if let Some(t) = self.tables.get_mut(&key) {
                t.kpis.insert(k, values);
            }
        }
        // Over no rows nothing overflows or divides by zero that a real group would not.
        for flag in [&self.overflowed, &self.out_of_range, &self.zero_divided] {
            flag.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        let table = self.tables.remove(&key)?;
        self.rows(&table, items).into_iter().next()
    }

    /// A KPI's value and sample size in every group of a table, and how many groups a
    /// number divided by zero made null.
    pub(super) fn kpi_values(
        &self,
        table: &[DimId],
        k: KpiId,
    ) -> (Vec<(Value, Option<u64>)>, usize) {
        let t = &self.tables[table];
        let mut zero_divided = 0;
        let values = (0..t.keys.len())
            .map(|g| {
                let v = self.kpi_expr(table, t, &self.program.kpis[k].expr, g);
                if self.zero_divided.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    zero_divided += 1;
                }
                v
            })
            .collect();
        (values, zero_divided)
    }

    fn kpi_expr(
        &self,
        dims: &[DimId],
        t: &GroupTable,
        e: &KpiExpr,
        g: usize,
    ) -> (Value, Option<u64>) {
        let num = |v: Option<f64>| v.filter(|x| x.is_finite()).map_or(Value::Null, Value::Num);
        match e {
            KpiExpr::Const(v) => (v.clone(), None),
            KpiExpr::Agg(a) => t
                .aggs
                .get(a)
                .map_or((Value::Null, Some(0)), |(vals, fed)| (num(vals[g]), Some(fed[g]))),
            KpiExpr::Kpi(k) => t.kpis.get(k).map_or((Value::Null, None), |v| v[g].clone()),
            KpiExpr::Unary(op, x) => {
                let (v, n) = self.kpi_expr(dims, t, x, g);
                let out = match (op, v) {
                    (UnaryOp::Neg, Value::Num(x)) => Value::Num(-x),
                    (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
                    _ => Value::Null,
                };
                (out, n)
            }
            KpiExpr::Binary(op, a, b) => {
                let (x, nx) = self.kpi_expr(dims, t, a, g);
                let (y, ny) = self.kpi_expr(dims, t, b, g);
                if *op == BinaryOp::Div && x.as_f64().is_some() && y.as_f64() == Some(0.0) {
                    self.zero_divided.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                (self.checked(binary(*op, &x, &y)), min_n(nx, ny))
            }
            KpiExpr::IsNull(x, negated) => {
                let (v, n) = self.kpi_expr(dims, t, x, g);
                (Value::Bool(v.is_null() != *negated), n)
            }
            KpiExpr::Case { operand, whens, otherwise } => {
                let op = operand.as_ref().map(|o| self.kpi_expr(dims, t, o, g).0);
                for (w, then) in whens {
                    let (wv, _) = self.kpi_expr(dims, t, w, g);
                    let hit = match &op {
                        Some(o) => binary(BinaryOp::Cmp(CmpOp::Eq), o, &wv) == Value::Bool(true),
                        None => wv == Value::Bool(true),
                    };
                    if hit {
                        return self.kpi_expr(dims, t, then, g);
                    }
                }
                otherwise.as_ref().map_or((Value::Null, None), |o| self.kpi_expr(dims, t, o, g))
            }
            KpiExpr::Func(f, args) => {
                let vals: Vec<(Value, Option<u64>)> =
                    args.iter().map(|a| self.kpi_expr(dims, t, a, g)).collect();
                let n = vals.iter().fold(None, |acc, (_, n)| min_n(acc, *n));
                let first = vals[0].0.as_f64().unwrap_or(f64::NAN);
                let out = match f {
                    ScalarFunc::Coalesce => vals
                        .iter()
                        .map(|(v, _)| v.clone())
                        .find(|v| !v.is_null())
                        .unwrap_or(Value::Null),
                    ScalarFunc::Round => num(Some(round(
                        first,
                        vals.get(1).and_then(|v| v.0.as_f64()).unwrap_or(0.0),
                    ))),
                    ScalarFunc::SafeDiv => match (vals[0].0.is_null(), vals[1].0.as_f64()) {
                        (false, Some(0.0)) => vals[2].0.clone(),
                        _ => self.checked(binary(BinaryOp::Div, &vals[0].0, &vals[1].0)),
                    },
                    ScalarFunc::Lower => match &vals[0].0 {
                        Value::Text(s) => Value::Text(s.to_lowercase()),
                        _ => Value::Null,
                    },
                    _ => {
                        let is_time = matches!(vals[0].0, Value::Time(_));
                        if is_calendar(*f) && !crate::calendar::value_in_range(first, is_time) {
                            self.out_of_range.store(true, std::sync::atomic::Ordering::Relaxed);
                            return (Value::Null, n);
                        }
                        num(Some(scalar(*f, first, is_time)))
                    }
                };
                (out, n)
            }
            KpiExpr::Corr { a, b, over } => {
                let (r, n) = self.corr(dims, t, g, *a, *b, *over);
                (num(r), Some(n))
            }
            KpiExpr::Change { kpi, over, previous } => {
                self.change(dims, t, g, *kpi, *over, *previous)
            }
        }
    }

    /// Pearson correlation of KPIs `a` and `b` across the `over` groups inside group `g`,
    /// and the number of groups where both have a value.
    fn corr(
        &self,
        dims: &[DimId],
        t: &GroupTable,
        g: usize,
        a: KpiId,
        b: KpiId,
        over: DimId,
    ) -> (Option<f64>, u64) {
        let Some((inner, rows)) = self.inner_rows(dims, t, g, over) else { return (None, 0) };
        let (Some(va), Some(vb)) = (inner.kpis.get(&a), inner.kpis.get(&b)) else {
            return (None, 0);
        };
        let pairs: Vec<(f64, f64)> =
            rows.iter().filter_map(|&i| Some((va[i].0.as_f64()?, vb[i].0.as_f64()?))).collect();
        (pearson(&pairs), pairs.len() as u64)
    }

    /// `kpi` in the last `over` group within group `g`, minus (or, for `previous`, just)
    /// its value in the group before; groups are in key order, the null group left out.
    fn change(
        &self,
        dims: &[DimId],
        t: &GroupTable,
        g: usize,
        kpi: KpiId,
        over: DimId,
        previous: bool,
    ) -> (Value, Option<u64>) {
        let Some((inner, rows)) = self.inner_rows(dims, t, g, over) else {
            return (Value::Null, None);
        };
        let Some(values) = inner.kpis.get(&kpi) else { return (Value::Null, None) };
        let rows: Vec<usize> = rows
            .into_iter()
            .filter(|&i| inner.keys[i].last() != Some(&super::group::Key::Null))
            .collect();
        let (Some(&last), Some(&before)) =
            (rows.last(), rows.len().checked_sub(2).and_then(|p| rows.get(p)))
        else {
            return (Value::Null, None);
        };
        let (lv, ln) = &values[last];
        let (bv, bn) = &values[before];
        let n = min_n(*ln, *bn);
        if previous {
            return (bv.clone(), *bn);
        }
        (self.checked(binary(BinaryOp::Sub, lv, bv)), n)
    }

    /// The finer table (dims + `over`) and its rows inside group `g` of `t`.
    fn inner_rows(
        &self,
        dims: &[DimId],
        t: &GroupTable,
        g: usize,
        over: DimId,
    ) -> Option<(&GroupTable, Vec<usize>)> {
        if dims.contains(&over) {
            return None;
        }
        let mut finer = dims.to_vec();
        finer.push(over);
        let inner = self.tables.get(&finer)?;
        let outer = &t.keys[g];
        let rows = inner
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k[..dims.len()] == outer[..])
            .map(|(i, _)| i)
            .collect();
        Some((inner, rows))
    }

    /// Report rows for a table: KPI cells with statuses, blend cells with verdicts.
    pub(super) fn rows(&self, t: &GroupTable, items: &[ItemRef]) -> Vec<Row> {
        (0..t.keys.len())
            .map(|g| Row {
                key: t.keys[g].clone(),
                cells: items
                    .iter()
                    .map(|&item| match item {
                        ItemRef::Kpi(k) => Cell::Kpi(self.kpi_cell(t, k, g)),
                        ItemRef::Blend(b) => Cell::Blend(self.blend_cell(t, b, g)),
                    })
                    .collect(),
            })
            .collect()
    }

    fn kpi_cell(&self, t: &GroupTable, k: KpiId, g: usize) -> KpiCell {
        let def = &self.program.kpis[k];
        let (value, n) = t.kpis.get(&k).map_or((Value::Null, None), |v| v[g].clone());
        let value = value.as_f64().filter(|x| x.is_finite());
        KpiCell { value, n: n.unwrap_or(0), status: status(def, value, n) }
    }

    fn blend_cell(&self, t: &GroupTable, b: BlendId, g: usize) -> BlendCell {
        let blend = &self.program.blends[b];
        let components: Vec<ComponentOut> = blend
            .components
            .iter()
            .zip(&blend.weights)
            .map(|(&k, &weight)| {
                let cell = self.kpi_cell(t, k, g);
                let target = self.program.kpis[k].target;
                let score = match (cell.value, target) {
                    (Some(v), Some(tg)) if cell.status != Status::Insufficient => {
                        Some(component_score(v, tg))
                    }
                    _ => None,
                };
                ComponentOut {
                    kpi: self.program.kpis[k].name.clone(),
                    value: cell.value,
                    target,
                    weight,
                    score,
                    status: cell.status,
                }
            })
            .collect();
        let guard = blend.guard.as_ref().map(|expr| {
            // An insufficient KPI is unknown in the guard (null, with SQL's three-valued
            // logic): `csat >= 4 and fcr >= 70%` is false when fcr misses, whatever csat.
            let insufficient: Vec<KpiId> = guard_kpis(expr)
                .into_iter()
                .filter(|&k| self.kpi_cell(t, k, g).status == Status::Insufficient)
                .collect();
            let expr = &unknowing(expr, &insufficient);
            let holds = match self.kpi_expr(&t.dims, t, expr, g).0 {
                Value::Bool(b) => Some(b),
                _ => None,
            };
            let mut failed = Vec::new();
            if holds == Some(false) {
                self.failed_parts(t, expr, g, &mut failed);
            }
            GuardOut { text: blend.guard_text.clone().unwrap_or_default(), holds, failed }
        });
        let all_scored = components.iter().all(|c| c.score.is_some());
        // A false guard breaches whatever the components: it protects quality, and an
        // unscored component must not hide that.
        let (score, verdict) = match (&guard, all_scored) {
            (Some(GuardOut { holds: Some(false), .. }), _) => (Some(0.0), Verdict::Breach),
            (_, false) | (Some(GuardOut { holds: None, .. }), _) => (None, Verdict::Insufficient),
            _ => (Some(weighted_mean(&components)), Verdict::Pass),
        };
        BlendCell { score, verdict, components, guard }
    }

    /// The comparisons of a guard that do not hold, with the values involved.
    fn failed_parts(&self, t: &GroupTable, e: &KpiExpr, g: usize, out: &mut Vec<String>) {
        match e {
            KpiExpr::Binary(BinaryOp::And, a, b) => {
                for x in [a, b] {
                    if self.kpi_expr(&t.dims, t, x, g).0 == Value::Bool(false) {
                        self.failed_parts(t, x, g, out);
                    }
                }
            }
            _ => {
                let mut values = Vec::new();
                for k in guard_kpis(e) {
                    let v = self.kpi_cell(t, k, g).value;
                    values.push(format!(
                        "{} = {}",
                        self.program.kpis[k].name,
                        v.map_or("null".into(), |x| format!("{}", round(x, 4.0)))
                    ));
                }
                out.push(if values.is_empty() {
                    self.describe(e)
                } else {
                    format!("{} ({})", self.describe(e), values.join(", "))
                });
            }
        }
    }

    /// A guard expression written back as text.
    fn describe(&self, e: &KpiExpr) -> String {
        match e {
            KpiExpr::Const(Value::Num(x)) => format!("{}", round(*x, 6.0)),
            KpiExpr::Const(Value::Null) => "null".into(),
            KpiExpr::Const(v) => format!("{v:?}"),
            KpiExpr::Kpi(k) => self.program.kpis[*k].name.clone(),
            KpiExpr::Binary(op, a, b) => {
                format!("{} {} {}", self.describe(a), op.as_str(), self.describe(b))
            }
            KpiExpr::Unary(UnaryOp::Not, x) => format!("not {}", self.describe(x)),
            KpiExpr::Unary(UnaryOp::Neg, x) => format!("-{}", self.describe(x)),
            _ => "…".into(),
        }
    }
}

/// The expression with what reads these KPIs (the KPI, its change, a correlation with it)
/// made null.
fn unknowing(e: &KpiExpr, unknown: &[KpiId]) -> KpiExpr {
    let recurse = |x: &KpiExpr| Box::new(unknowing(x, unknown));
    match e {
        KpiExpr::Kpi(k) | KpiExpr::Change { kpi: k, .. } if unknown.contains(k) => {
            KpiExpr::Const(Value::Null)
        }
        KpiExpr::Corr { a, b, .. } if unknown.contains(a) || unknown.contains(b) => {
            KpiExpr::Const(Value::Null)
        }
        KpiExpr::Unary(op, x) => KpiExpr::Unary(*op, recurse(x)),
        KpiExpr::Binary(op, a, b) => KpiExpr::Binary(*op, recurse(a), recurse(b)),
        KpiExpr::IsNull(x, negated) => KpiExpr::IsNull(recurse(x), *negated),
        KpiExpr::Case { operand, whens, otherwise } => KpiExpr::Case {
            operand: operand.as_deref().map(recurse),
            whens: whens
                .iter()
                .map(|(w, t)| (unknowing(w, unknown), unknowing(t, unknown)))
                .collect(),
            otherwise: otherwise.as_deref().map(recurse),
        },
        KpiExpr::Func(f, args) => {
            KpiExpr::Func(*f, args.iter().map(|x| unknowing(x, unknown)).collect())
        }
        other => other.clone(),
    }
}

fn guard_kpis(e: &KpiExpr) -> Vec<KpiId> {
    let mut out = Vec::new();
    kpi_refs(e, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// ok / warn / fail against the target; insufficient below `min` or without a value.
pub fn status(def: &KpiDef, value: Option<f64>, n: Option<u64>) -> Status {
    let Some(target) = def.target else { return Status::None };
    let Some(v) = value else { return Status::Insufficient };
    if def.min.is_some_and(|m| n.unwrap_or(0) < m) {
        return Status::Insufficient;
    }
    if target.holds(v) {
        Status::Ok
    } else if def.warn.is_some_and(|w| w.holds(v)) {
        Status::Warn
    } else {
        Status::Fail
    }
}

/// How close a value is to its target, 0–100. A value that meets its target scores 100.
/// One that misses it scores the ratio of value and target (value/target when higher is
/// better, target/value when lower is better) when both are positive, at most
/// `MISSED_MAX` so that a miss never shows as 100 (a value equal to a strict bound has
/// the ratio 1); otherwise (`==`, `!=`, a target or value of 0 or less) it scores 0.
pub fn component_score(v: f64, target: Bound) -> f64 {
    if target.holds(v) {
        return 100.0;
    }
    let ratio = match target.op {
        _ if target.value <= 0.0 || v <= 0.0 => 0.0,
        CmpOp::Ge | CmpOp::Gt => v / target.value,
        CmpOp::Le | CmpOp::Lt => target.value / v,
        _ => 0.0,
    };
    (100.0 * ratio).clamp(0.0, MISSED_MAX)
}

/// The highest score of a component that misses its target: below 100 at the one
/// decimal a report shows.
pub const MISSED_MAX: f64 = 99.9;

/// Pearson's r over pairs; null with fewer than 2 pairs or no variance.
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = pairs.len() as f64;
    let (mx, my) = pairs.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// A binary operator on two group-level values, with SQL nulls.
pub fn binary(op: BinaryOp, x: &Value, y: &Value) -> Value {
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let b = |v: &Value| match v {
                Value::Bool(b) => Some(*b),
                _ => None,
            };
            match (op, b(x), b(y)) {
                (BinaryOp::And, Some(false), _) | (BinaryOp::And, _, Some(false)) => {
                    Value::Bool(false)
                }
                (BinaryOp::And, Some(true), Some(true)) => Value::Bool(true),
                (BinaryOp::Or, Some(true), _) | (BinaryOp::Or, _, Some(true)) => Value::Bool(true),
                (BinaryOp::Or, Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            }
        }
        BinaryOp::Cmp(c) => {
            let ord = match (x, y) {
                (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
                (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
                _ => x.as_f64().zip(y.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
            };
            ord.map_or(Value::Null, |o| Value::Bool(cmp_holds(c, o)))
        }
        _ => match (x.as_f64(), y.as_f64()) {
            (Some(a), Some(b)) => {
                // An overflow stays infinite, for the caller to report.
                let r = arith(op, a, b);
                if r.is_nan() { Value::Null } else { Value::Num(r) }
            }
            _ => Value::Null,
        },
    }
}

/// Σ weight × score (the weights sum to 1), kept between the smallest and the largest
/// score, where a mean lies: rounding made components that all score 100 with weights
/// 2 and 1 (⅔ and ⅓) a blend of 99.99999999999999, shown as 99.9.
fn weighted_mean(components: &[ComponentOut]) -> f64 {
    let scores = || components.iter().filter_map(|c| c.score);
    let sum: f64 = components.iter().map(|c| c.weight * c.score.unwrap_or(0.0)).sum();
    let lo = scores().fold(f64::INFINITY, f64::min);
    let hi = scores().fold(f64::NEG_INFINITY, f64::max);
    if lo <= hi { sum.clamp(lo, hi) } else { sum }
}

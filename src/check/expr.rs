//! Expressions: name resolution, type and unit rules, and lowering to the plan's
//! row-level ([`RowExpr`]) and group-level ([`KpiExpr`]) forms.

use super::{Checker, SymKind};
use crate::ast::{self, BinaryOp, CmpOp, ExprKind, UnaryOp};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::suggest;
use crate::syntax::MAX_DEPTH;

/// The most expression nodes that dims may put into the definitions, all uses together.
pub const MAX_INLINED: usize = 1_000_000;

/// What a row expression read: the datasets of its columns.
pub(super) type Reads = Vec<DatasetId>;

impl Checker<'_> {
    // ---- row expressions -------------------------------------------------------

    /// Lowers a whole per-row expression (a dim, a filter, an aggregate's argument) and
    /// checks its depth once the dims it uses are put in: the evaluator recurses over it.
    pub(super) fn row_top(&mut self, e: &ast::Expr, reads: &mut Reads) -> (RowExpr, Ty) {
        let (x, t) = self.row(e, reads);
        if t == Ty::Error {
            return (x, t);
        }
        let depth = x.depth();
        if depth > MAX_DEPTH {
            self.error(
                Diagnostic::error(
                    Code::TooDeep,
                    format!(
                        "expression {depth} levels deep once its dims are put in; the limit is {MAX_DEPTH}"
                    ),
                )
                .at(e.span, "too deep with its dims")
                .help("build the value in fewer steps, or split it into several KPIs"),
            );
            return (RowExpr::Const(Value::Null), Ty::Error);
        }
        (x, t)
    }

    /// Lowers a per-row expression (a dim, a filter, an aggregate's argument).
    pub(super) fn row(&mut self, e: &ast::Expr, reads: &mut Reads) -> (RowExpr, Ty) {
        match &e.kind {
            ExprKind::Column { dataset, column } => self.column(dataset, column, reads),
            ExprKind::Name(id) => self.row_name(id, reads),
            ExprKind::Unary { op, operand } => {
                let (x, t) = self.row(operand, reads);
                let ty = self.unary_type(*op, &t, operand.span, e.span);
                (RowExpr::Unary(*op, Box::new(x)), ty)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, lt) = self.row(lhs, reads);
                let (r, rt) = self.row(rhs, reads);
                let ty = self.binary_type(*op, (&lt, lhs), (&rt, rhs));
                (RowExpr::Binary(*op, Box::new(l), Box::new(r)), ty)
            }
            ExprKind::IsNull { operand, negated } => {
                let (x, _) = self.row(operand, reads);
                (RowExpr::IsNull(Box::new(x), *negated), Ty::Bool)
            }
            ExprKind::InList { operand, list, negated } => {
                let (x, t) = self.row(operand, reads);
                let mut items = Vec::new();
                for item in list {
                    let (i, it) = self.row(item, reads);
                    self.comparable(&t, &it, operand, item);
                    items.push(i);
                }
                (RowExpr::InList(Box::new(x), items, *negated), Ty::Bool)
            }
            ExprKind::Case { operand, whens, otherwise } => {
                let operand = operand.as_ref().map(|o| (self.row(o, reads), o));
                let mut lowered = Vec::new();
                let mut result = Ty::Null;
                for (w, t) in whens {
                    let (wx, wt) = self.row(w, reads);
                    match &operand {
                        Some(((_, ot), o)) => self.comparable(ot, &wt, o, w),
                        None => self.condition(&wt, w, "`when`"),
                    }
                    let (tx, tt) = self.row(t, reads);
                    result = self.unify(result, tt, t);
                    lowered.push((wx, tx));
                }
                let otherwise = otherwise.as_ref().map(|o| {
                    let (x, t) = self.row(o, reads);
                    result = self.unify(result.clone(), t, o);
                    Box::new(x)
                });
                let operand = operand.map(|((x, _), _)| Box::new(x));
                (RowExpr::Case { operand, whens: lowered, otherwise }, result)
            }
            ExprKind::Call { func, args, filter, over } => {
                if is_aggregate(&func.name) || func.name == "corr" {
                    self.error(
                        Diagnostic::error(Code::NestedAggregate, format!("aggregate `{}` used inside a row expression", func.name))
                            .at(func.span, "aggregates cannot appear here")
                            .help("row expressions (dims, filters, aggregate arguments) work on one row at a time"),
                    );
                    return (RowExpr::Const(Value::Null), Ty::Error);
                }
                if !is_scalar(&func.name) {
                    self.scalar_func(func, args, &[]);
                    return (RowExpr::Const(Value::Null), Ty::Error);
                }
                self.no_filter_or_over(func, filter.as_deref(), over.as_ref());
                let mut lowered = Vec::new();
                let mut tys = Vec::new();
                for a in args {
                    let (x, t) = self.row(a, reads);
                    lowered.push(x);
                    tys.push(t);
                }
                match self.scalar_func(func, args, &tys) {
                    Some((f, ty)) => (RowExpr::Func(f, lowered), ty),
                    None => (RowExpr::Const(Value::Null), Ty::Error),
                }
            }
            _ => {
                let (v, t) = literal(e);
                (RowExpr::Const(v), t)
            }
        }
    }

    pub(super) fn column(
        &mut self,
        dataset: &ast::Ident,
        column: &ast::Ident,
        reads: &mut Reads,
    ) -> (RowExpr, Ty) {
        let Some(sym) = self.lookup(&dataset.name) else {
            if !self.is_silenced(&dataset.name) {
                let names: Vec<String> =
                    self.program.datasets.iter().map(|d| d.name.clone()).collect();
                let mut d = Diagnostic::error(
                    Code::UnknownDataset,
                    format!("unknown dataset `{}`", dataset.name),
                )
                .at(dataset.span, "no dataset of this name");
                if let Some(s) = suggest::similar(&dataset.name, names.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
            }
            return (RowExpr::Const(Value::Null), Ty::Error);
        };
        if sym.kind != SymKind::Dataset {
            self.error(
                Diagnostic::error(
                    Code::WrongKind,
                    format!("`{}` is a {}, not a dataset", dataset.name, sym.kind.word()),
                )
                .at(dataset.span, "expected a dataset before `.`"),
            );
            return (RowExpr::Const(Value::Null), Ty::Error);
        }
        let ds = &self.program.datasets[sym.index];
        if !reads.contains(&sym.index) {
            reads.push(sym.index);
        }
        let declared = ds.declared.iter().find(|(n, _)| *n == column.name).map(|(_, t)| *t);
        let known = ds
            .schema
            .as_ref()
            .and_then(|s| s.iter().find(|(n, _)| *n == column.name).map(|(_, t)| *t));
        let untyped = declared.is_none() && ds.untyped.contains(&column.name);
        match (declared.or(known), &ds.schema) {
            // No value in the data's sample: the type is unknown, anything goes.
            (Some(t), _) if untyped => (
                RowExpr::Column { dataset: sym.index, column: column.name.clone(), ty: t },
                Ty::Any,
            ),
            (Some(t), _) => (
                RowExpr::Column { dataset: sym.index, column: column.name.clone(), ty: t },
                Ty::of_column(t),
            ),
            (None, Some(schema)) if !self.open_schemas => {
                let mut d = Diagnostic::error(
                    Code::UnknownColumn,
                    format!("unknown column `{}` in dataset `{}`", column.name, dataset.name),
                )
                .at(column.span, format!("`{}` has no column of this name", dataset.name));
                if let Some(s) =
                    suggest::similar(&column.name, schema.iter().map(|(n, _)| n.as_str()))
                {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
                (RowExpr::Const(Value::Null), Ty::Error)
            }
            // No data and no declaration: the type is only known when the data is.
            (None, _) => (
                RowExpr::Column {
                    dataset: sym.index,
                    column: column.name.clone(),
                    ty: ColumnType::Text,
                },
                Ty::Any,
            ),
        }
    }

    pub(super) fn row_name(&mut self, id: &ast::Ident, reads: &mut Reads) -> (RowExpr, Ty) {
        match self.lookup(&id.name) {
            Some(sym) if sym.kind == SymKind::Param => {
                let p = &self.program.params[sym.index];
                (RowExpr::Const(p.value.clone()), p.ty.clone())
            }
            Some(sym) if sym.kind == SymKind::Dim && sym.index < self.dim_sizes.len() => {
                let size = self.dim_sizes[sym.index];
                if self.program.dims[sym.index].ty == Ty::Error {
                    // Reported where the dim is defined.
                    return (RowExpr::Const(Value::Null), Ty::Error);
                }
                if self.inlined.saturating_add(size) > MAX_INLINED {
                    if self.inlined == usize::MAX {
                        // Said once: every later use is over the limit too.
                        return (RowExpr::Const(Value::Null), Ty::Error);
                    }
                    self.inlined = usize::MAX;
                    self.error(
                        Diagnostic::error(
                            Code::TooLarge,
                            format!(
                                "putting in dim `{}` ({size} nodes) takes the definitions past \
                                 {MAX_INLINED} expression nodes",
                                id.name
                            ),
                        )
                        .at(id.span, "a dim is copied wherever it is used")
                        .help("dims built from dims grow with every use; group by a column, or build the value in fewer steps"),
                    );
                    return (RowExpr::Const(Value::Null), Ty::Error);
                }
                self.inlined += size;
                let d = &self.program.dims[sym.index];
                let (expr, ty, home) = (d.expr.clone(), d.ty.clone(), d.home);
                if !reads.contains(&home) {
                    reads.push(home);
                }
                (RowExpr::Dim(sym.index, Box::new(expr)), ty)
            }
            Some(sym) => {
                let msg = match sym.kind {
                    SymKind::Kpi | SymKind::Blend => format!(
                        "{} `{}` cannot be used in a row expression",
                        sym.kind.word(),
                        id.name
                    ),
                    SymKind::Dataset => format!("dataset `{}` cannot be used as a value", id.name),
                    _ => format!("{} `{}` cannot be used here", sym.kind.word(), id.name),
                };
                let code =
                    if sym.kind == SymKind::Kpi { Code::NestedAggregate } else { Code::WrongKind };
                let mut d = Diagnostic::error(code, msg).at(id.span, "not a per-row value");
                if sym.kind == SymKind::Kpi {
                    d = d.help("a KPI is already aggregated; compare it in a `guard` or another KPI instead");
                }
                self.error(d);
                (RowExpr::Const(Value::Null), Ty::Error)
            }
            None => {
                self.unknown_name(id, true);
                (RowExpr::Const(Value::Null), Ty::Error)
            }
        }
    }

    /// Reports an unknown name, suggesting a defined name or a `dataset.column`.
    pub(super) fn unknown_name(&mut self, id: &ast::Ident, row: bool) {
        if self.is_silenced(&id.name) {
            return;
        }
        let mut d = Diagnostic::error(Code::UnknownName, format!("unknown name `{}`", id.name))
            .at(id.span, "not defined");
        let qualified: Vec<String> = self
            .program
            .datasets
            .iter()
            .flat_map(|ds| {
                let cols = ds
                    .schema
                    .iter()
                    .flatten()
                    .map(|(c, _)| c)
                    .chain(ds.declared.iter().map(|(c, _)| c));
                cols.filter(|c| **c == id.name)
                    .map(|c| format!("{}.{c}", ds.name))
                    .collect::<Vec<_>>()
            })
            .collect();
        if let Some(q) = qualified.first() {
            d = d.help(if row {
                format!("columns are written with their dataset: `{q}`")
            } else {
                format!("a column must be inside an aggregate, e.g. `avg({q})`")
            });
        } else if let Some(s) = suggest::similar(&id.name, self.symbols.keys().map(String::as_str))
        {
            d = d.help(format!("did you mean `{s}`?"));
        }
        self.error(d);
    }

    // ---- KPI expressions -------------------------------------------------------

    /// Lowers a group-level expression (a KPI, a guard). `roots` collects the datasets
    /// whose rows its aggregates read; `deps` the KPIs it uses.
    pub(super) fn kpi_expr(&mut self, e: &ast::Expr, roots: &mut Reads) -> (KpiExpr, Ty) {
        match &e.kind {
            ExprKind::Column { .. } if self.column_outside_reported => {
                (KpiExpr::Const(Value::Null), Ty::Error)
            }
            ExprKind::Column { dataset, column } => {
                self.column_outside_reported = true;
                self.error(
                    Diagnostic::error(
                        Code::ColumnOutsideAggregate,
                        format!(
                            "column `{}.{}` used outside an aggregate",
                            dataset.name, column.name
                        ),
                    )
                    .at(e.span, "a KPI has one value per group, a column one per row")
                    .help(format!(
                        "aggregate it, e.g. `avg({}.{})` or `sum({}.{})`",
                        dataset.name, column.name, dataset.name, column.name
                    )),
                );
                (KpiExpr::Const(Value::Null), Ty::Error)
            }
            ExprKind::Name(id) => self.kpi_name(id, roots),
            ExprKind::Unary { op, operand } => {
                let (x, t) = self.kpi_expr(operand, roots);
                let ty = self.unary_type(*op, &t, operand.span, e.span);
                (KpiExpr::Unary(*op, Box::new(x)), ty)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, lt) = self.kpi_expr(lhs, roots);
                let (r, rt) = self.kpi_expr(rhs, roots);
                let ty = self.binary_type(*op, (&lt, lhs), (&rt, rhs));
                (KpiExpr::Binary(*op, Box::new(l), Box::new(r)), ty)
            }
            ExprKind::IsNull { operand, negated } => {
                let (x, _) = self.kpi_expr(operand, roots);
                (KpiExpr::IsNull(Box::new(x), *negated), Ty::Bool)
            }
            ExprKind::InList { operand, list, negated } => {
                // `x in (a, b)` is `x == a or x == b`.
                let (x, t) = self.kpi_expr(operand, roots);
                let mut acc: Option<KpiExpr> = None;
                for item in list {
                    let (i, it) = self.kpi_expr(item, roots);
                    self.comparable(&t, &it, operand, item);
                    let eq =
                        KpiExpr::Binary(BinaryOp::Cmp(CmpOp::Eq), Box::new(x.clone()), Box::new(i));
                    acc = Some(match acc {
                        None => eq,
                        Some(a) => KpiExpr::Binary(BinaryOp::Or, Box::new(a), Box::new(eq)),
                    });
                }
                let mut out = acc.unwrap_or(KpiExpr::Const(Value::Bool(false)));
                if *negated {
                    out = KpiExpr::Unary(UnaryOp::Not, Box::new(out));
                }
                (out, Ty::Bool)
            }
            ExprKind::Case { operand, whens, otherwise } => {
                let operand = operand.as_ref().map(|o| (self.kpi_expr(o, roots), o));
                let mut lowered = Vec::new();
                let mut result = Ty::Null;
                for (w, t) in whens {
                    let (wx, wt) = self.kpi_expr(w, roots);
                    match &operand {
                        Some(((_, ot), o)) => self.comparable(ot, &wt, o, w),
                        None => self.condition(&wt, w, "`when`"),
                    }
                    let (tx, tt) = self.kpi_expr(t, roots);
                    result = self.unify(result, tt, t);
                    lowered.push((wx, tx));
                }
                let otherwise = otherwise.as_ref().map(|o| {
                    let (x, t) = self.kpi_expr(o, roots);
                    result = self.unify(result.clone(), t, o);
                    Box::new(x)
                });
                let operand = operand.map(|((x, _), _)| Box::new(x));
                (KpiExpr::Case { operand, whens: lowered, otherwise }, result)
            }
            ExprKind::Call { func, args, filter, over } => {
                if is_aggregate(&func.name) {
                    if let Some(o) = over {
                        self.over_not_allowed(func, o);
                    }
                    return self.aggregate(e, func, args, filter.as_deref(), roots);
                }
                if func.name == "change" || func.name == "previous" {
                    return self.change(e, func, args, filter.as_deref(), over.as_ref(), roots);
                }
                if func.name == "corr" {
                    return self.corr(e, args, filter.as_deref(), over.as_ref(), roots);
                }
                if !is_scalar(&func.name) {
                    self.scalar_func(func, args, &[]);
                    return (KpiExpr::Const(Value::Null), Ty::Error);
                }
                self.no_filter_or_over(func, filter.as_deref(), over.as_ref());
                let mut lowered = Vec::new();
                let mut tys = Vec::new();
                for a in args {
                    let (x, t) = self.kpi_expr(a, roots);
                    lowered.push(x);
                    tys.push(t);
                }
                match self.scalar_func(func, args, &tys) {
                    Some((f, ty)) => (KpiExpr::Func(f, lowered), ty),
                    None => (KpiExpr::Const(Value::Null), Ty::Error),
                }
            }
            _ => {
                let (v, t) = literal(e);
                (KpiExpr::Const(v), t)
            }
        }
    }

    pub(super) fn kpi_name(&mut self, id: &ast::Ident, roots: &mut Reads) -> (KpiExpr, Ty) {
        match self.lookup(&id.name) {
            Some(sym) if sym.kind == SymKind::Kpi => {
                let ty = self.kpi_types.get(sym.index).cloned().unwrap_or(Ty::Error);
                for r in self.kpi_roots.get(sym.index).cloned().unwrap_or_default() {
                    if !roots.contains(&r) {
                        roots.push(r);
                    }
                }
                (KpiExpr::Kpi(sym.index), ty)
            }
            Some(sym) if sym.kind == SymKind::Param => {
                let p = &self.program.params[sym.index];
                (KpiExpr::Const(p.value.clone()), p.ty.clone())
            }
            Some(sym) => {
                let help = match sym.kind {
                    SymKind::Dim => format!(
                        "to split a KPI by `{}`, group it: `--by {}` or `view ... by {}`",
                        id.name, id.name, id.name
                    ),
                    SymKind::Dataset => format!("count its rows with `count({})`", id.name),
                    SymKind::Blend => {
                        "a blend is scored on its own; use its components here".to_string()
                    }
                    _ => String::new(),
                };
                let code = if sym.kind == SymKind::Dataset {
                    Code::DatasetAsValue
                } else {
                    Code::WrongKind
                };
                let mut d = Diagnostic::error(
                    code,
                    format!("{} `{}` cannot be used as a value here", sym.kind.word(), id.name),
                )
                .at(id.span, "expected a KPI, a param or a value");
                if !help.is_empty() {
                    d = d.help(help);
                }
                self.error(d);
                (KpiExpr::Const(Value::Null), Ty::Error)
            }
            None => {
                self.unknown_name(id, false);
                (KpiExpr::Const(Value::Null), Ty::Error)
            }
        }
    }

    // ---- type rules ----------------------------------------------------------------

    // ---- constants ---------------------------------------------------------------
}

fn is_scalar(name: &str) -> bool {
    ScalarFunc::ALL.iter().any(|(n, _, _)| *n == name)
}

pub(super) fn is_aggregate(name: &str) -> bool {
    AggFunc::NAMES.iter().any(|(n, _)| *n == name)
}

/// The value and type of a literal expression.
pub(super) fn literal(e: &ast::Expr) -> (Value, Ty) {
    match &e.kind {
        ExprKind::Number(n) => (Value::Num(*n), Ty::Num(Unit::Plain)),
        ExprKind::Percent(n) => (Value::Num(*n), Ty::Num(Unit::Percent)),
        ExprKind::Duration(n) => (Value::Num(*n), Ty::Num(Unit::Seconds)),
        ExprKind::Date(d) => (Value::Date(*d), Ty::Date),
        ExprKind::Time(t) => (Value::Time(*t), Ty::Time),
        ExprKind::Str(s) => (Value::Text(s.clone()), Ty::Text),
        ExprKind::Bool(b) => (Value::Bool(*b), Ty::Bool),
        _ => (Value::Null, Ty::Null),
    }
}

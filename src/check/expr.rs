//! Expressions: name resolution, type and unit rules, and lowering to the plan's
//! row-level ([`RowExpr`]) and group-level ([`KpiExpr`]) forms.

use super::{Checker, SymKind};
use crate::ast::{self, BinaryOp, CmpOp, ExprKind, UnaryOp};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::source::Span;
use crate::suggest;

/// What a row expression read: the datasets of its columns.
pub(super) type Reads = Vec<DatasetId>;

impl Checker<'_> {
    // ---- row expressions -------------------------------------------------------

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

    fn column(
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
            (None, Some(schema)) => {
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
            (None, None) => (
                RowExpr::Column {
                    dataset: sym.index,
                    column: column.name.clone(),
                    ty: ColumnType::Text,
                },
                Ty::Any,
            ),
        }
    }

    fn row_name(&mut self, id: &ast::Ident, reads: &mut Reads) -> (RowExpr, Ty) {
        match self.lookup(&id.name) {
            Some(sym) if sym.kind == SymKind::Param => {
                let p = &self.program.params[sym.index];
                (RowExpr::Const(p.value.clone()), p.ty.clone())
            }
            Some(sym)
                if sym.kind == SymKind::Dim
                    && self.dim_lowered.get(sym.index).copied().unwrap_or(false) =>
            {
                let d = &self.program.dims[sym.index];
                let (expr, ty, home) = (d.expr.clone(), d.ty.clone(), d.home);
                if !reads.contains(&home) {
                    reads.push(home);
                }
                (expr, ty)
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

    fn kpi_name(&mut self, id: &ast::Ident, roots: &mut Reads) -> (KpiExpr, Ty) {
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

    fn aggregate(
        &mut self,
        e: &ast::Expr,
        func: &ast::Ident,
        args: &[ast::Expr],
        filter: Option<&ast::Expr>,
        roots: &mut Reads,
    ) -> (KpiExpr, Ty) {
        let name = func.name.as_str();
        let expected = match name {
            "percentile" => 2,
            _ => 1,
        };
        if args.len() != expected {
            let sig = AggFunc::NAMES.iter().find(|(n, _)| *n == name).map_or("", |(_, s)| s);
            self.error(
                Diagnostic::error(
                    Code::ArgumentCount,
                    format!(
                        "`{name}` takes {expected} argument{}, found {}",
                        if expected == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .at(e.span, "wrong number of arguments")
                .help(format!("usage: {sig}")),
            );
            return (KpiExpr::Const(Value::Null), Ty::Error);
        }
        let mut reads = Reads::new();
        // `count(calls)`: the rows of a dataset.
        let mut counted = None;
        let (func_kind, arg, arg_ty) = match (&args[0].kind, name) {
            (ExprKind::Name(id), "count")
                if self.lookup(&id.name).is_some_and(|s| s.kind == SymKind::Dataset) =>
            {
                let ds = self.lookup(&id.name).map_or(0, |s| s.index);
                counted = Some(ds);
                reads.push(ds);
                (AggFunc::CountRows, None, Ty::Any)
            }
            _ => {
                let (x, t) = self.row(&args[0], &mut reads);
                let kind = match name {
                    "count" => AggFunc::Count,
                    "sum" => AggFunc::Sum,
                    "avg" => AggFunc::Avg,
                    "min" => AggFunc::Min,
                    "max" => AggFunc::Max,
                    "median" => AggFunc::Percentile(0.5),
                    "stddev" => AggFunc::Stddev,
                    "count_distinct" => AggFunc::CountDistinct,
                    "rate" => AggFunc::Rate,
                    _ => AggFunc::Percentile(self.percentile_q(&args[1])),
                };
                (kind, Some(x), t)
            }
        };
        let ty = self.aggregate_type(func_kind, name, &arg_ty, &args[0]);
        let mut filter_failed = false;
        let filter = filter.map(|f| {
            let (x, t) = self.row(f, &mut reads);
            self.condition(&t, f, "`where`");
            filter_failed = t == Ty::Error;
            x
        });
        if arg_ty == Ty::Error || ty == Ty::Error || filter_failed {
            return (KpiExpr::Const(Value::Null), Ty::Error);
        }
        let Some(root) = self.root_of(&reads, counted, e.span, name) else {
            return (KpiExpr::Const(Value::Null), Ty::Error);
        };
        if !roots.contains(&root) {
            roots.push(root);
        }
        let def = AggDef { func: func_kind, dataset: root, arg, filter };
        // Aggregates are shared between KPIs: one accumulator however often it is written.
        let key = format!("{def:?}");
        let id = match self.aggregate_ids.get(&key) {
            Some(&i) => i,
            None => {
                self.program.aggregates.push(def);
                let i = self.program.aggregates.len() - 1;
                self.aggregate_ids.insert(key, i);
                i
            }
        };

        if ty == Ty::Error {
            return (KpiExpr::Const(Value::Null), Ty::Error);
        }
        (KpiExpr::Agg(id), ty)
    }

    fn percentile_q(&mut self, q: &ast::Expr) -> f64 {
        let Some((v, t)) = self.constant(q, "the percentile") else { return 0.5 };
        let value = v.as_f64().unwrap_or(f64::NAN);
        if !(0.0..=1.0).contains(&value) || !matches!(t, Ty::Num(Unit::Percent | Unit::Plain)) {
            let mut d =
                Diagnostic::error(Code::OutOfRange, "percentile must be between 0% and 100%")
                    .at(q.span, "out of range");
            if (1.0..=100.0).contains(&value) {
                d = d.help(format!("write it as a percentage: `{}%`", self.snippet(q.span)));
            }
            self.error(d);
            return 0.5;
        }
        value
    }

    fn aggregate_type(&mut self, func: AggFunc, name: &str, arg: &Ty, arg_expr: &ast::Expr) -> Ty {
        let bad = |this: &mut Self, wanted: &str| {
            this.error(
                Diagnostic::error(
                    Code::ArgumentType,
                    format!("`{name}` needs {wanted}, found {}", arg.describe()),
                )
                .at(arg_expr.span, format!("this is {}", arg.describe())),
            );
            Ty::Error
        };
        if *arg == Ty::Error {
            return Ty::Error;
        }
        match func {
            AggFunc::CountRows | AggFunc::Count | AggFunc::CountDistinct => Ty::Num(Unit::Count),
            AggFunc::Rate if arg.is_bool() => Ty::Num(Unit::Percent),
            AggFunc::Rate => bad(self, "a true/false condition"),
            AggFunc::Min | AggFunc::Max if matches!(arg, Ty::Date | Ty::Time) => arg.clone(),
            _ => match arg {
                Ty::Num(u) => Ty::Num(u.clone()),
                Ty::Any | Ty::Null => Ty::Num(Unit::Plain),
                _ => bad(self, "numbers"),
            },
        }
    }

    /// The dataset an aggregate iterates: the one from which links reach every dataset
    /// the aggregate reads.
    fn root_of(
        &mut self,
        reads: &[DatasetId],
        counted: Option<DatasetId>,
        span: Span,
        name: &str,
    ) -> Option<DatasetId> {
        if reads.is_empty() {
            self.error(
                Diagnostic::error(Code::ArgumentType, format!("`{name}(...)` reads no column"))
                    .at(span, "an aggregate needs a column or a dataset")
                    .help("aggregate a column such as `calls.wait_s`, or count a dataset: `count(calls)`"),
            );
            return None;
        }
        let candidates: Vec<DatasetId> = match counted {
            Some(c) => vec![c],
            None => reads.to_vec(),
        };
        if let Some(&root) =
            candidates.iter().find(|&&c| reads.iter().all(|&r| self.program.reaches(c, r)))
        {
            return Some(root);
        }
        let names: Vec<String> =
            reads.iter().map(|&r| format!("`{}`", self.program.datasets[r].name)).collect();
        let first = &self.program.datasets[candidates[0]];
        let other = reads
            .iter()
            .find(|&&r| !self.program.reaches(candidates[0], r))
            .map_or(String::new(), |&r| self.program.datasets[r].name.clone());
        self.error(
            Diagnostic::error(
                Code::Unreachable,
                format!("`{name}` combines datasets {} that no link connects", names.join(" and ")),
            )
            .at(span, "rows of these datasets cannot be matched")
            .help(format!(
                "declare a link in dataset `{}`: `{{ key -> {other}.key }}`",
                first.name
            )),
        );
        None
    }

    fn corr(
        &mut self,
        e: &ast::Expr,
        args: &[ast::Expr],
        filter: Option<&ast::Expr>,
        over: Option<&ast::Ident>,
        roots: &mut Reads,
    ) -> (KpiExpr, Ty) {
        if let Some(f) = filter {
            self.error(
                Diagnostic::error(Code::ArgumentType, "`corr` does not take `where`")
                    .at(f.span, "filter the KPIs instead"),
            );
        }
        if args.len() != 2 {
            self.error(
                Diagnostic::error(
                    Code::ArgumentCount,
                    format!("`corr` takes 2 KPIs, found {}", args.len()),
                )
                .at(e.span, "wrong number of arguments")
                .help("usage: corr(kpi_a, kpi_b) over dim"),
            );
            return (KpiExpr::Const(Value::Null), Ty::Error);
        }
        let mut kpis = Vec::new();
        for a in args {
            match &a.kind {
                ExprKind::Name(id) if self.lookup(&id.name).is_some_and(|s| s.kind == SymKind::Kpi) => {
                    let (_, t) = self.kpi_name(id, roots);
                    if !t.is_num() {
                        self.error(Diagnostic::error(Code::ArgumentType, format!("`corr` needs numeric KPIs, `{}` is {}", id.name, t.describe())).at(a.span, "not a number"));
                    }
                    kpis.push(self.lookup(&id.name).map_or(0, |s| s.index));
                }
                ExprKind::Name(id) if self.lookup(&id.name).is_none() => self.unknown_name(id, false),
                _ => self.error(
                    Diagnostic::error(Code::ArgumentType, "`corr` compares two KPIs by name")
                        .at(a.span, "expected a KPI name")
                        .help("define the expression as a KPI first, then `corr(that_kpi, other) over dim`"),
                ),
            }
        }
        let Some(over) = over else {
            self.error(
                Diagnostic::error(
                    Code::ArgumentCount,
                    "`corr` needs `over DIM`: the groups to correlate across",
                )
                .at(e.span, "missing `over`")
                .help("for example `corr(aht, csat) over agent`"),
            );
            return (KpiExpr::Const(Value::Null), Ty::Error);
        };
        let dim = match self.lookup(&over.name) {
            Some(s) if s.kind == SymKind::Dim => Some(s.index),
            Some(s) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("`over` needs a dim, `{}` is a {}", over.name, s.kind.word()),
                    )
                    .at(over.span, "not a dim"),
                );
                None
            }
            None => {
                self.unknown_name(over, false);
                None
            }
        };
        match (kpis.as_slice(), dim) {
            (&[a, b], Some(over)) => (KpiExpr::Corr { a, b, over }, Ty::Num(Unit::Plain)),
            _ => (KpiExpr::Const(Value::Null), Ty::Error),
        }
    }

    /// `change(kpi) over dim` and `previous(kpi) over dim`.
    fn change(
        &mut self,
        e: &ast::Expr,
        func: &ast::Ident,
        args: &[ast::Expr],
        filter: Option<&ast::Expr>,
        over: Option<&ast::Ident>,
        roots: &mut Reads,
    ) -> (KpiExpr, Ty) {
        let name = func.name.as_str();
        if let Some(f) = filter {
            self.error(
                Diagnostic::error(Code::ArgumentType, format!("`{name}` does not take `where`"))
                    .at(f.span, "filter the KPI instead"),
            );
        }
        let kpi = match args {
            [ast::Expr { kind: ExprKind::Name(id), .. }]
                if self.lookup(&id.name).is_some_and(|s| s.kind == SymKind::Kpi) =>
            {
                let (_, t) = self.kpi_name(id, roots);
                self.lookup(&id.name).map(|s| (s.index, t))
            }
            [ast::Expr { kind: ExprKind::Name(id), .. }] if self.lookup(&id.name).is_none() => {
                self.unknown_name(id, false);
                None
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::ArgumentType,
                        format!("`{name}` takes one KPI by name"),
                    )
                    .at(e.span, "expected a KPI name")
                    .help(format!("for example `{name}(csat) over week`")),
                );
                None
            }
        };
        let Some(over) = over else {
            self.error(
                Diagnostic::error(
                    Code::ArgumentCount,
                    format!("`{name}` needs `over DIM`: the periods to compare"),
                )
                .at(e.span, "missing `over`")
                .help(format!("for example `{name}(csat) over week`")),
            );
            return (KpiExpr::Const(Value::Null), Ty::Error);
        };
        let dim = match self.lookup(&over.name) {
            Some(s) if s.kind == SymKind::Dim => Some(s.index),
            Some(s) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("`over` needs a dim, `{}` is a {}", over.name, s.kind.word()),
                    )
                    .at(over.span, "not a dim"),
                );
                None
            }
            None => {
                self.unknown_name(over, false);
                None
            }
        };
        match (kpi, dim) {
            (Some((kpi, ty)), Some(over)) if ty != Ty::Error => {
                (KpiExpr::Change { kpi, over, previous: name == "previous" }, ty)
            }
            _ => (KpiExpr::Const(Value::Null), Ty::Error),
        }
    }

    fn no_filter_or_over(
        &mut self,
        func: &ast::Ident,
        filter: Option<&ast::Expr>,
        over: Option<&ast::Ident>,
    ) {
        if let Some(f) = filter {
            self.error(
                Diagnostic::error(
                    Code::ArgumentType,
                    format!("`{}` is not an aggregate and does not take `where`", func.name),
                )
                .at(f.span, "filter not allowed here"),
            );
        }
        if let Some(o) = over {
            self.over_not_allowed(func, o);
        }
    }

    fn over_not_allowed(&mut self, func: &ast::Ident, over: &ast::Ident) {
        self.error(
            Diagnostic::error(Code::ArgumentType, format!("`{}` does not take `over`", func.name))
                .at(over.span, "only `corr(...)` is computed over a dim"),
        );
    }

    fn scalar_func(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Expr],
        tys: &[Ty],
    ) -> Option<(ScalarFunc, Ty)> {
        let Some(&(_, f, sig)) = ScalarFunc::ALL.iter().find(|(n, _, _)| *n == func.name) else {
            let all = ScalarFunc::ALL
                .iter()
                .map(|(n, _, _)| *n)
                .chain(AggFunc::NAMES.iter().map(|(n, _)| *n))
                .chain(["corr", "change", "previous"]);
            let mut d = Diagnostic::error(
                Code::UnknownFunction,
                format!("unknown function `{}`", func.name),
            )
            .at(func.span, "no function of this name");
            if let Some(s) = suggest::similar(&func.name, all) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return None;
        };
        let (min, max) = match f {
            ScalarFunc::Round => (1, 2),
            ScalarFunc::Coalesce => (1, usize::MAX),
            _ => (1, 1),
        };
        if args.len() < min || args.len() > max {
            self.error(
                Diagnostic::error(
                    Code::ArgumentCount,
                    format!(
                        "`{}` called with {} argument{}",
                        func.name,
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                )
                .at(func.span, "wrong number of arguments")
                .help(format!("usage: {sig}")),
            );
            return None;
        }
        if tys.contains(&Ty::Error) {
            return None;
        }
        let t0 = &tys[0];
        let bad = |this: &mut Self, wanted: &str| {
            this.error(
                Diagnostic::error(
                    Code::ArgumentType,
                    format!("`{}` needs {wanted}, found {}", func.name, t0.describe()),
                )
                .at(args[0].span, format!("this is {}", t0.describe()))
                .help(format!("usage: {sig}")),
            );
            None
        };
        let ty = match f {
            ScalarFunc::Week | ScalarFunc::Day | ScalarFunc::Month | ScalarFunc::Quarter => {
                if !matches!(t0, Ty::Time | Ty::Date) && !t0.is_open() {
                    return bad(self, "a time or a date");
                }
                Ty::Date
            }
            ScalarFunc::Weekday => {
                if !matches!(t0, Ty::Time | Ty::Date) && !t0.is_open() {
                    return bad(self, "a time or a date");
                }
                Ty::Num(Unit::Plain)
            }
            ScalarFunc::Hour => {
                if !matches!(t0, Ty::Time) && !t0.is_open() {
                    return bad(self, "a time");
                }
                Ty::Num(Unit::Plain)
            }
            ScalarFunc::Abs | ScalarFunc::Round => {
                if !t0.is_num() {
                    return bad(self, "a number");
                }
                if let (Some(digits), Some(t1)) = (args.get(1), tys.get(1))
                    && !t1.is_num()
                {
                    self.error(
                        Diagnostic::error(
                            Code::ArgumentType,
                            "`round` needs a whole number of digits",
                        )
                        .at(digits.span, "not a number"),
                    );
                }
                if t0.is_open() { Ty::Num(Unit::Plain) } else { t0.clone() }
            }
            ScalarFunc::Lower => {
                if !matches!(t0, Ty::Text) && !t0.is_open() {
                    return bad(self, "text");
                }
                Ty::Text
            }
            ScalarFunc::Coalesce => {
                let mut t = Ty::Null;
                for (ty, a) in tys.iter().zip(args) {
                    t = self.unify(t, ty.clone(), a);
                }
                t
            }
        };
        Some((f, ty))
    }

    // ---- type rules ----------------------------------------------------------------

    fn unary_type(&mut self, op: UnaryOp, t: &Ty, operand: Span, whole: Span) -> Ty {
        match op {
            UnaryOp::Not => {
                if !t.is_bool() {
                    self.error(
                        Diagnostic::error(
                            Code::NotBoolean,
                            format!("`not` needs a true/false value, found {}", t.describe()),
                        )
                        .at(operand, format!("this is {}", t.describe())),
                    );
                    return Ty::Error;
                }
                Ty::Bool
            }
            UnaryOp::Neg => {
                if !t.is_num() {
                    self.error(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("cannot negate {}", t.describe()),
                        )
                        .at(whole, format!("this is {}", t.describe())),
                    );
                    return Ty::Error;
                }
                if *t == Ty::Null { Ty::Num(Unit::Plain) } else { t.clone() }
            }
        }
    }

    fn binary_type(
        &mut self,
        op: BinaryOp,
        (lt, le): (&Ty, &ast::Expr),
        (rt, re): (&Ty, &ast::Expr),
    ) -> Ty {
        if *lt == Ty::Error || *rt == Ty::Error {
            return Ty::Error;
        }
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (t, e) in [(lt, le), (rt, re)] {
                    if !t.is_bool() {
                        self.error(
                            Diagnostic::error(
                                Code::NotBoolean,
                                format!(
                                    "`{}` needs true/false values, found {}",
                                    op.as_str(),
                                    t.describe()
                                ),
                            )
                            .at(e.span, format!("this is {}", t.describe()))
                            .help("compare it first, e.g. `x > 0`"),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Bool
            }
            BinaryOp::Cmp(_) => {
                self.comparable(lt, rt, le, re);
                Ty::Bool
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                self.arith(op, (lt, le), (rt, re))
            }
        }
    }

    fn arith(
        &mut self,
        op: BinaryOp,
        (lt, le): (&Ty, &ast::Expr),
        (rt, re): (&Ty, &ast::Expr),
    ) -> Ty {
        let verb = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "subtract",
            BinaryOp::Mul => "multiply",
            _ => "divide",
        };
        let mismatch = |this: &mut Self| {
            this.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("cannot {verb} {} and {}", lt.describe(), rt.describe()),
                )
                .at(le.span.to(re.span), format!("`{}` needs numbers", op.as_str()))
                .also(le.span, format!("this is {}", lt.describe()))
                .also(re.span, format!("this is {}", rt.describe())),
            );
            Ty::Error
        };
        let unit_mismatch = |this: &mut Self, a: &Unit, b: &Unit| {
            this.error(
                Diagnostic::error(
                    Code::UnitMismatch,
                    format!("cannot {verb} {} and {}", a.name(), b.name()),
                )
                .at(le.span.to(re.span), "the units differ")
                .also(le.span, format!("in {}", a.name()))
                .also(re.span, format!("in {}", b.name())),
            );
            Ty::Error
        };
        let is_sub = op == BinaryOp::Sub;
        match (lt, rt, op) {
            (Ty::Num(a), Ty::Num(b), BinaryOp::Add | BinaryOp::Sub) => match add_units(a, b) {
                Some(u) => Ty::Num(u),
                None => unit_mismatch(self, a, b),
            },
            (Ty::Num(a), Ty::Num(b), BinaryOp::Mul) => {
                let hundred = |e: &ast::Expr| matches!(e.kind, ExprKind::Number(n) if n == 100.0);
                Ty::Num(match (a, b) {
                    (Unit::Percent, Unit::Plain) if hundred(re) => Unit::Points,
                    (Unit::Plain, Unit::Percent) if hundred(le) => Unit::Points,
                    (Unit::Plain, u) | (u, Unit::Plain) => u.clone(),
                    _ => Unit::Plain,
                })
            }
            (Ty::Num(a), Ty::Num(b), _) => Ty::Num(match (a, b) {
                (u, Unit::Plain) => u.clone(),
                (Unit::Count, Unit::Count) => Unit::Percent,
                (x, y) if x == y => Unit::Plain,
                (u, Unit::Count) => u.clone(),
                _ => Unit::Plain,
            }),
            (Ty::Time, Ty::Time, BinaryOp::Sub) => Ty::Num(Unit::Seconds),
            (Ty::Date, Ty::Date, BinaryOp::Sub) => Ty::Num(Unit::Plain),
            (Ty::Time, Ty::Num(Unit::Seconds | Unit::Plain), BinaryOp::Add | BinaryOp::Sub) => {
                Ty::Time
            }
            (Ty::Num(Unit::Seconds | Unit::Plain), Ty::Time, BinaryOp::Add) => Ty::Time,
            (Ty::Date, Ty::Num(Unit::Plain), BinaryOp::Add | BinaryOp::Sub) => Ty::Date,
            (Ty::Any | Ty::Null, t, _) | (t, Ty::Any | Ty::Null, _) => match t {
                Ty::Num(u) if op == BinaryOp::Add || is_sub => Ty::Num(u.clone()),
                Ty::Num(_) | Ty::Any | Ty::Null => Ty::Num(Unit::Plain),
                Ty::Time | Ty::Date if op == BinaryOp::Add || is_sub => Ty::Any,
                _ => mismatch(self),
            },
            _ => mismatch(self),
        }
    }

    /// Reports values that cannot be compared (`time < 5`, `percent == seconds`).
    pub(super) fn comparable(&mut self, a: &Ty, b: &Ty, ae: &ast::Expr, be: &ast::Expr) {
        let ok = match (a, b) {
            (x, y) if x.is_open() || y.is_open() => true,
            (Ty::Num(u), Ty::Num(v)) => {
                if add_units(u, v).is_none() && !(is_duration(u) && is_duration(v)) {
                    self.error(
                        Diagnostic::error(
                            Code::UnitMismatch,
                            format!("cannot compare {} with {}", u.name(), v.name()),
                        )
                        .at(ae.span.to(be.span), "the units differ")
                        .also(ae.span, format!("in {}", u.name()))
                        .also(be.span, format!("in {}", v.name())),
                    );
                }
                true
            }
            (x, y) => std::mem::discriminant(x) == std::mem::discriminant(y),
        };
        if !ok {
            self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("cannot compare {} with {}", a.describe(), b.describe()),
                )
                .at(ae.span.to(be.span), "these cannot be compared")
                .also(ae.span, format!("this is {}", a.describe()))
                .also(be.span, format!("this is {}", b.describe())),
            );
        }
    }

    /// Reports a condition that is not true/false.
    pub(super) fn condition(&mut self, t: &Ty, e: &ast::Expr, what: &str) {
        if !t.is_bool() {
            self.error(
                Diagnostic::error(
                    Code::NotBoolean,
                    format!("{what} needs a true/false condition, found {}", t.describe()),
                )
                .at(e.span, format!("this is {}", t.describe()))
                .help("compare it, e.g. `calls.wait_s > 20s`"),
            );
        }
    }

    /// The common type of the branches of `case` and `coalesce`.
    fn unify(&mut self, acc: Ty, next: Ty, e: &ast::Expr) -> Ty {
        match (&acc, &next) {
            (Ty::Error, _) | (_, Ty::Error) => Ty::Error,
            (Ty::Null, _) => next,
            (_, Ty::Null) => acc,
            (Ty::Any, _) | (_, Ty::Any) => Ty::Any,
            (Ty::Num(a), Ty::Num(b)) => Ty::Num(add_units(a, b).unwrap_or(Unit::Plain)),
            (a, b) if a == b => acc,
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!(
                            "branches have different types: {} and {}",
                            acc.describe(),
                            next.describe()
                        ),
                    )
                    .at(e.span, format!("this is {}", next.describe())),
                );
                Ty::Error
            }
        }
    }

    // ---- constants ---------------------------------------------------------------

    /// Folds a constant expression (literals, params, arithmetic). Reports and returns
    /// `None` when it is not constant.
    pub(super) fn constant(&mut self, e: &ast::Expr, what: &str) -> Option<(Value, Ty)> {
        let not_constant = |this: &mut Self| {
            this.error(
                Diagnostic::error(Code::NotConstant, format!("{what} must be a constant"))
                    .at(e.span, "not a constant")
                    .help("use a number, a percentage, a duration or a param"),
            );
            None
        };
        match &e.kind {
            ExprKind::Name(id) => match self.lookup(&id.name) {
                Some(s) if s.kind == SymKind::Param => {
                    let p = &self.program.params[s.index];
                    Some((p.value.clone(), p.ty.clone()))
                }
                Some(_) => not_constant(self),
                None => {
                    self.unknown_name(id, false);
                    None
                }
            },
            ExprKind::Unary { op: UnaryOp::Neg, operand } => {
                let (v, t) = self.constant(operand, what)?;
                match v {
                    Value::Num(n) => Some((Value::Num(-n), t)),
                    _ => not_constant(self),
                }
            }
            ExprKind::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div),
                lhs,
                rhs,
            } => {
                let (a, at) = self.constant(lhs, what)?;
                let (b, bt) = self.constant(rhs, what)?;
                let ty = self.arith(*op, (&at, lhs), (&bt, rhs));
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    return not_constant(self);
                };
                let v = match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    _ => x / y,
                };
                if !v.is_finite() {
                    return not_constant(self);
                }
                Some((Value::Num(v), ty))
            }
            ExprKind::Column { .. }
            | ExprKind::Call { .. }
            | ExprKind::Case { .. }
            | ExprKind::Unary { .. }
            | ExprKind::Binary { .. }
            | ExprKind::IsNull { .. }
            | ExprKind::InList { .. } => not_constant(self),
            _ => Some(literal(e)),
        }
    }
}

fn is_duration(u: &Unit) -> bool {
    u.seconds_per_unit().is_some()
}

/// The unit of a sum or difference, or `None` when the units cannot be combined.
pub(super) fn add_units(a: &Unit, b: &Unit) -> Option<Unit> {
    match (a, b) {
        (x, y) if x == y => Some(x.clone()),
        (Unit::Plain, u) | (u, Unit::Plain) => Some(u.clone()),
        (Unit::Count, u) | (u, Unit::Count) if !matches!(u, Unit::Percent) && !is_duration(u) => {
            Some(u.clone())
        }
        _ => None,
    }
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

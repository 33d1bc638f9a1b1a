//! Function calls in expressions: aggregates (and the dataset they iterate), `corr`,
//! `change`/`previous`, and row functions.

use super::expr::Reads;
use super::{Checker, SymKind};
use crate::ast::{self, ExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::source::Span;
use crate::suggest;

impl Checker<'_> {
    pub(super) fn aggregate(
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
                let (x, t) = self.row_top(&args[0], &mut reads);
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
            let (x, t) = self.row_top(f, &mut reads);
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

    pub(super) fn percentile_q(&mut self, q: &ast::Expr) -> f64 {
        let Some((v, t)) = self.constant(q, "the percentile") else { return 0.5 };
        let value = v.as_f64().unwrap_or(f64::NAN);
        if !(0.0..=1.0).contains(&value) || !matches!(t, Ty::Num(Unit::Percent | Unit::Plain)) {
            let mut d =
                Diagnostic::error(Code::OutOfRange, "percentile must be between 0% and 100%")
                    .at(q.span, "out of range");
            // `90` meant `90%`; `150%` is out of range however it is written.
            if (1.0..=100.0).contains(&value) && t == Ty::Num(Unit::Plain) {
                d = d.help(format!("write it as a percentage: `{}%`", self.snippet(q.span)));
            }
            self.error(d);
            return 0.5;
        }
        value
    }

    pub(super) fn aggregate_type(
        &mut self,
        func: AggFunc,
        name: &str,
        arg: &Ty,
        arg_expr: &ast::Expr,
    ) -> Ty {
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
            // Checked without data (`--no-data`, test blocks before their data is read), a
            // column declared nowhere may hold times or dates: its `min` and `max` stay
            // open, so `max(t.at) - a_time_param` is not refused. With data, a column
            // without a type has no value at all, and its `min` is a (null) number.
            AggFunc::Min | AggFunc::Max if *arg == Ty::Any && self.opts.schemas.is_none() => {
                Ty::Any
            }
            _ => match arg {
                Ty::Num(u) => Ty::Num(u.clone()),
                Ty::Any | Ty::Null => Ty::Num(Unit::Plain),
                _ => bad(self, "numbers"),
            },
        }
    }

    /// The dataset an aggregate iterates: the one from which links reach every dataset
    /// the aggregate reads.
    pub(super) fn root_of(
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

    pub(super) fn corr(
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
    pub(super) fn change(
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

    pub(super) fn no_filter_or_over(
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

    pub(super) fn over_not_allowed(&mut self, func: &ast::Ident, over: &ast::Ident) {
        self.error(
            Diagnostic::error(Code::ArgumentType, format!("`{}` does not take `over`", func.name))
                .at(over.span, "only `corr(...)` is computed over a dim"),
        );
    }

    pub(super) fn scalar_func(
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
            ScalarFunc::SafeDiv => (3, 3),
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
            // The quotient's type, as `a / b` has it; the default must fit it.
            ScalarFunc::SafeDiv => {
                let quotient = self.arith(BinaryOp::Div, (&tys[0], &args[0]), (&tys[1], &args[1]));
                self.unify(quotient, tys[2].clone(), &args[2])
            }
        };
        Some((f, ty))
    }
}

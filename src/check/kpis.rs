//! Params, dims and KPIs (with cycle detection, targets and warning bounds).

use super::expr::{Reads, literal};
use super::{Checker, SymKind};
use crate::ast::{self, CmpOp, ExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::suggest;
use crate::types::{Ty, Value};
use std::collections::HashMap;

impl Checker<'_> {
    /// Params in the order their values need them (`param late = answer_within * 3` may
    /// come before `answer_within`, or in another file); params that depend on each other
    /// in a cycle are KB0401 errors. Each lands at its declared index.
    pub(super) fn params(&mut self, params: &[&ast::Param]) {
        let params: Vec<&ast::Param> = params
            .iter()
            .copied()
            .filter(|p| self.is_registered(&p.name.name, p.name.span))
            .collect();
        let at: HashMap<&str, usize> =
            params.iter().enumerate().map(|(i, p)| (p.name.name.as_str(), i)).collect();
        // Kahn's algorithm: iterative, so a chain of thousands of params cannot overflow.
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); params.len()];
        let mut uses: Vec<Vec<usize>> = vec![Vec::new(); params.len()];
        for (i, p) in params.iter().enumerate() {
            p.value.walk(|e| {
                if let ExprKind::Name(id) = &e.kind
                    && let Some(&j) = at.get(id.name.as_str())
                {
                    uses[i].push(j);
                }
            });
            uses[i].sort_unstable();
            uses[i].dedup();
            for &j in &uses[i] {
                users[j].push(i);
            }
        }
        let mut waiting: Vec<usize> = uses.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..params.len()).rev().filter(|&i| waiting[i] == 0).collect();
        // `constant` reads params by their declared index: each is in place before a use.
        self.program.params = params.iter().map(|p| placeholder(p)).collect();
        let mut done = vec![false; params.len()];
        while let Some(i) = ready.pop() {
            self.program.params[i] = self.param(params[i]);
            done[i] = true;
            for &u in &users[i] {
                waiting[u] -= 1;
                if waiting[u] == 0 {
                    ready.push(u);
                }
            }
        }
        // What is left needs a cycle. Peel off the params no other leftover one uses: they
        // only depend on a cycle, and stay silent (their failed names do).
        let mut used = vec![0usize; params.len()];
        for i in (0..params.len()).filter(|&i| !done[i]) {
            used[i] = users[i].iter().filter(|&&u| !done[u]).count();
        }
        let mut peel: Vec<usize> =
            (0..params.len()).filter(|&i| !done[i] && used[i] == 0).collect();
        let mut outside = vec![false; params.len()];
        while let Some(i) = peel.pop() {
            outside[i] = true;
            for &j in &uses[i] {
                if !done[j] {
                    used[j] -= 1;
                    if used[j] == 0 {
                        peel.push(j);
                    }
                }
            }
        }
        for (i, p) in params.iter().enumerate() {
            if done[i] {
                continue;
            }
            self.poisoned.insert(p.name.name.clone());
            if outside[i] {
                continue;
            }
            let message = if uses[i].contains(&i) {
                format!("param `{}` uses itself", p.name.name)
            } else {
                format!("param `{}` depends on itself through other params", p.name.name)
            };
            self.error(
                Diagnostic::error(Code::Cycle, message)
                    .at(p.name.span, "this param's value needs its own value")
                    .help("a param is a constant: compute it from literals and other params"),
            );
        }
    }

    fn param(&mut self, p: &ast::Param) -> ParamDef {
        let over = self.opts.params.iter().find(|(n, _)| *n == p.name.name).map(|(_, v)| v.clone());
        let (mut value, mut ty) = self
            .constant(&p.value, &format!("param `{}`", p.name.name))
            .unwrap_or((Value::Null, Ty::Error));
        if let Some(text) = over {
            match parse_override(&text, &ty) {
                Ok((v, t)) => {
                    // `--param share=50` on a percent param is 5000%, as `target >= 75`
                    // on a percent KPI is 7500% (KB0302).
                    let plain = crate::syntax::parse_literal(&text)
                        .is_some_and(|l| matches!(literal(&l).1, Ty::Num(Unit::Plain)));
                    if ty == Ty::Num(Unit::Percent) && plain && v.as_f64().is_some_and(|x| x > 1.0)
                    {
                        self.error(
                            Diagnostic::warning(
                                Code::PercentTarget,
                                format!(
                                    "--param {}={text} on a percent param means {}%",
                                    p.name.name,
                                    v.as_f64().unwrap_or_default() * 100.0
                                ),
                            )
                            .at(p.value.span, "declared as a percent")
                            .help(format!("did you mean `--param {}={text}%`?", p.name.name)),
                        );
                    }
                    (value, ty) = (v, t);
                }
                Err(msg) => self.error(
                    Diagnostic::error(
                        Code::BadOverride,
                        format!("--param {}={text}: {msg}", p.name.name),
                    )
                    .at(p.value.span, format!("declared here as {}", ty.describe())),
                ),
            }
        }
        ParamDef { name: p.name.name.clone(), span: p.name.span, value, ty }
    }

    pub(super) fn dims(&mut self, dims: &[&ast::Dim]) {
        for d in dims {
            if !self.is_registered(&d.name.name, d.name.span) {
                continue;
            }
            let mut reads = Reads::new();
            let (expr, ty) = self.row_top(&d.expr, &mut reads);
            let home =
                reads.iter().copied().find(|&c| reads.iter().all(|&r| self.program.reaches(c, r)));
            let home = match home {
                Some(h) => h,
                None if reads.is_empty() => {
                    if ty != Ty::Error {
                        self.error(
                            Diagnostic::error(
                                Code::Unreachable,
                                format!("dim `{}` reads no column", d.name.name),
                            )
                            .at(d.expr.span, "no dataset can reach this")
                            .help("a dim groups rows by a column, e.g. `dim site = calls.site`"),
                        );
                    }
                    self.poisoned.insert(d.name.name.clone());
                    0
                }
                None => {
                    let names: Vec<String> = reads
                        .iter()
                        .map(|&r| format!("`{}`", self.program.datasets[r].name))
                        .collect();
                    self.error(
                        Diagnostic::error(
                            Code::Unreachable,
                            format!(
                                "dim `{}` combines datasets {} that no link connects",
                                d.name.name,
                                names.join(" and ")
                            ),
                        )
                        .at(d.expr.span, "rows of these datasets cannot be matched"),
                    );
                    self.poisoned.insert(d.name.name.clone());
                    0
                }
            };
            self.dim_sizes.push(expr.size());
            self.program.dims.push(DimDef {
                name: d.name.name.clone(),
                span: d.name.span,
                expr,
                home,
                ty,
            });
        }
    }

    // ---- KPIs ------------------------------------------------------------------

    pub(super) fn kpis(&mut self, kpis: &[&ast::Kpi]) {
        let kpis: Vec<&ast::Kpi> = kpis
            .iter()
            .copied()
            .filter(|k| self.is_registered(&k.name.name, k.name.span))
            .collect();
        let n = kpis.len();
        // Dependencies, read straight from the AST (names that resolve to KPIs).
        let deps: Vec<Vec<usize>> = kpis
            .iter()
            .map(|k| {
                let mut deps = Vec::new();
                k.expr.walk(|e| {
                    if let ExprKind::Name(id) = &e.kind
                        && let Some(s) = self.lookup(&id.name)
                        && s.kind == SymKind::Kpi
                        && !deps.contains(&s.index)
                    {
                        deps.push(s.index);
                    }
                });
                deps
            })
            .collect();
        let (order, cyclic) = self.topo_order(&kpis, &deps);
        self.kpi_types = vec![Ty::Error; n];
        self.kpi_roots = vec![Vec::new(); n];
        self.program.kpis = kpis
            .iter()
            .map(|k| KpiDef {
                name: k.name.name.clone(),
                label: k.label.as_ref().map(|l| l.value.clone()),
                span: k.name.span,
                def_span: k.span,
                expr_span: k.expr.span,
                expr: KpiExpr::Const(Value::Null),
                divisor_span: divisor(&k.expr),
                ty: Ty::Error,
                unit: Unit::Plain,
                target: None,
                warn: None,
                min: None,
                tags: k.tags.iter().map(|t| t.name.clone()).collect(),
            })
            .collect();
        for &i in &order {
            if cyclic[i] {
                self.poisoned.insert(kpis[i].name.name.clone());
                continue;
            }
            self.kpi(i, kpis[i]);
        }
        self.program.kpi_order = order.into_iter().filter(|&i| !cyclic[i]).collect();
    }

    /// Kahn's algorithm in definition order; every cycle left over is reported once,
    /// naming all its members.
    fn topo_order(&mut self, kpis: &[&ast::Kpi], deps: &[Vec<usize>]) -> (Vec<usize>, Vec<bool>) {
        let n = kpis.len();
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        let mut cyclic = vec![false; n];
        let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependants[d].push(i);
            }
        }
        loop {
            let mut ready: std::collections::VecDeque<usize> =
                (0..n).filter(|&i| !placed[i] && missing[i] == 0).collect();
            while let Some(i) = ready.pop_front() {
                if placed[i] {
                    continue;
                }
                placed[i] = true;
                order.push(i);
                for &j in &dependants[i] {
                    missing[j] -= 1;
                    if missing[j] == 0 {
                        ready.push_back(j);
                    }
                }
            }
            let Some(start) = (0..n).find(|&i| !placed[i]) else { break };
            // Walk unplaced dependencies until a KPI repeats: that loop is a cycle.
            let mut path = vec![start];
            let cycle = loop {
                let at = *path.last().unwrap_or(&start);
                let Some(&next) = deps[at].iter().find(|&&d| !placed[d]) else { break vec![at] };
                if let Some(pos) = path.iter().position(|&p| p == next) {
                    break path[pos..].to_vec();
                }
                path.push(next);
            };
            let names: Vec<&str> =
                cycle.iter().chain(cycle.first()).map(|&i| kpis[i].name.name.as_str()).collect();
            let first = cycle.iter().copied().min().unwrap_or(start);
            let mut d = Diagnostic::error(
                Code::Cycle,
                format!("kpis depend on each other in a cycle: {}", names.join(" → ")),
            );
            d = d.at(kpis[first].name.span, "this KPI depends on itself through the cycle");
            for &i in &cycle {
                if i != first {
                    d = d.also(
                        kpis[i].name.span,
                        format!("`{}` is part of the cycle", kpis[i].name.name),
                    );
                }
            }
            self.error(d.help("one of these KPIs must be computed from aggregates alone"));
            // Place the cycle's members (and, through them, their dependants) as broken.
            for &i in &cycle {
                cyclic[i] = true;
                placed[i] = true;
                order.push(i);
                for &j in &dependants[i] {
                    missing[j] -= 1;
                }
            }
        }
        (order, cyclic)
    }

    fn kpi(&mut self, i: KpiId, k: &ast::Kpi) {
        self.column_outside_reported = false;
        let mut roots = Reads::new();
        let (expr, inferred) = self.kpi_expr(&k.expr, &mut roots);
        if !matches!(inferred, Ty::Num(_) | Ty::Error | Ty::Any | Ty::Null | Ty::Date | Ty::Time)
            && (k.target.is_some() || k.unit.is_some())
        {
            self.error(
                Diagnostic::error(
                    Code::ArgumentType,
                    format!(
                        "kpi `{}` is {}, so it cannot have a unit or a target",
                        k.name.name,
                        inferred.describe()
                    ),
                )
                .at(k.expr.span, format!("this is {}", inferred.describe())),
            );
        }
        let unit = match &k.unit {
            Some(u) if u.quoted => Unit::Custom(u.name.clone()),
            Some(u) => Unit::from_name(&u.name).unwrap_or_else(|| {
                let mut d =
                    Diagnostic::error(Code::UnknownUnit, format!("unknown unit `{}`", u.name))
                        .at(u.span, "not a unit");
                d = match suggest::similar(&u.name, Unit::NAMES.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!(
                        "units: {}, or a quoted name such as \"USD\"",
                        Unit::NAMES.join(", ")
                    )),
                };
                self.error(d);
                Unit::Plain
            }),
            None => match &inferred {
                Ty::Num(u) => u.clone(),
                Ty::Time => Unit::Time,
                Ty::Date => Unit::Date,
                _ => Unit::Plain,
            },
        };
        if let (Some(u), Ty::Num(inf)) = (&k.unit, &inferred) {
            // The unit says what the computed number is in; it does not convert. A time
            // difference is in seconds, so `unit minutes` on it would show 90 s as 90 min.
            let clash = matches!((&unit, inf), (Unit::Percent, x) if x.seconds_per_unit().is_some())
                || matches!((&unit, inf), (x, Unit::Percent) if x.seconds_per_unit().is_some())
                || (unit != *inf
                    && unit.seconds_per_unit().is_some()
                    && inf.seconds_per_unit().is_some());
            if clash {
                self.error(
                    Diagnostic::error(
                        Code::UnitMismatch,
                        format!(
                            "kpi `{}` is computed in {} but declared in {}",
                            k.name.name,
                            inf.name(),
                            unit.name()
                        ),
                    )
                    .at(u.span, "declared unit")
                    .also(k.expr.span, format!("computed in {}", inf.name()))
                    .help(format!("`unit` names what the value is in and does not convert it: write `unit {}` (durations are shown as `5m 42s` either way)", inf.name())),
                );
            }
        }
        // A duration target on a KPI whose unit is not known yet says the KPI is in seconds.
        let mut unit = unit;
        if k.unit.is_none()
            && unit == Unit::Plain
            && k.target.as_ref().is_some_and(|b| matches!(b.value.kind, ExprKind::Duration(_)))
        {
            unit = Unit::Seconds;
        }
        let target = k.target.as_ref().and_then(|b| self.bound(k, b, &unit, "target"));
        let warn = k.warn.as_ref().and_then(|b| self.bound(k, b, &unit, "warn"));
        self.warn_consistent(k, target, warn);
        let min = k.min.as_ref().and_then(|m| {
            let (v, _) = self.constant(m, "`min`")?;
            match v.as_f64() {
                Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= 1e15 =>
                {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Some(n as u64)
                }
                _ => {
                    self.error(
                        Diagnostic::error(
                            Code::OutOfRange,
                            "`min` must be a whole number of at least 1",
                        )
                        .at(m.span, "the minimum sample size")
                        .help("`min 30` reports the KPI as insufficient below 30 rows"),
                    );
                    None
                }
            }
        });
        // A KPI's value is a number (a count, a duration, a share…), a date or a time:
        // text and true/false have no value to show, score or compare with a target.
        let inferred = if matches!(inferred, Ty::Bool | Ty::Text) {
            let what = inferred.describe();
            self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    format!("kpi `{}` is {what}; a KPI's value must be a number", k.name.name),
                )
                .at(k.expr.span, format!("this is {what}"))
                .help(if inferred == Ty::Bool {
                    "count or rate the rows where it holds, e.g. `rate(...)`, or write the \
                     condition as a `guard` of a blend"
                } else {
                    "count the rows instead, e.g. `count(... where ...)`, or group by it with a \
                     `dim`"
                }),
            );
            Ty::Error
        } else {
            inferred
        };
        self.kpi_types[i] = if inferred == Ty::Error { Ty::Error } else { Ty::Num(unit.clone()) };
        if matches!(inferred, Ty::Date | Ty::Time) {
            self.kpi_types[i] = inferred.clone();
        }
        if inferred == Ty::Error {
            self.poisoned.insert(k.name.name.clone());
        }
        self.kpi_roots[i] = roots;
        let def = &mut self.program.kpis[i];
        def.expr = expr;
        def.ty = self.kpi_types[i].clone();
        def.unit = unit;
        def.target = target;
        def.warn = warn;
        def.min = min;
    }

    /// A target or warn bound, converted to the KPI's unit.
    fn bound(&mut self, k: &ast::Kpi, b: &ast::Bound, unit: &Unit, what: &str) -> Option<Bound> {
        let (value, ty) = self.constant(&b.value, &format!("a {what}"))?;
        if ty == Ty::Error {
            // A param whose own definition failed: reported there.
            return None;
        }
        let Some(mut v) = value.as_f64() else {
            self.error(
                Diagnostic::error(Code::ArgumentType, format!("a {what} must be a number"))
                    .at(b.value.span, format!("this is {}", ty.describe())),
            );
            return None;
        };
        let vu = match &ty {
            Ty::Num(u) => u.clone(),
            _ => Unit::Plain,
        };
        match (unit.seconds_per_unit(), vu.seconds_per_unit()) {
            (Some(k_scale), Some(v_scale)) => v = v * v_scale / k_scale,
            (None, Some(_)) => {
                self.error(
                    Diagnostic::error(
                        Code::UnitMismatch,
                        format!("{what} is a duration but `{}` is in {}", k.name.name, unit.name()),
                    )
                    .at(b.value.span, "a duration")
                    .help(format!("add `unit seconds` if `{}` measures time", k.name.name)),
                );
                return None;
            }
            _ => {}
        }
        if *unit == Unit::Percent && vu == Unit::Plain && v > 1.0 {
            let text = self.snippet(b.value.span);
            self.error(
                Diagnostic::warning(
                    Code::PercentTarget,
                    format!("{what} `{text}` on a percent KPI means {}%", v * 100.0),
                )
                .at(b.value.span, "a whole number, not a percentage")
                .help(format!("did you mean `{text}%`?")),
            );
        }
        if vu == Unit::Percent && !matches!(unit, Unit::Percent | Unit::Plain | Unit::Points) {
            self.error(
                Diagnostic::error(
                    Code::UnitMismatch,
                    format!("{what} is a percentage but `{}` is in {}", k.name.name, unit.name()),
                )
                .at(b.value.span, "a percentage"),
            );
            return None;
        }
        Some(Bound { op: b.op, value: v })
    }

    fn warn_consistent(&mut self, k: &ast::Kpi, target: Option<Bound>, warn: Option<Bound>) {
        let Some(w) = &k.warn else { return };
        let Some(t) = target else {
            if k.target.is_none() {
                self.error(
                    Diagnostic::error(
                        Code::WarnBound,
                        format!("`warn` without a `target` on kpi `{}`", k.name.name),
                    )
                    .at(w.span, "nothing to warn about")
                    .help("add a target first: `target >= ... warn >= ...`"),
                );
            }
            return;
        };
        let Some(wb) = warn else { return };
        let higher = matches!(t.op, CmpOp::Ge | CmpOp::Gt);
        let same_direction = matches!(wb.op, CmpOp::Ge | CmpOp::Gt) == higher
            && !matches!(wb.op, CmpOp::Eq | CmpOp::Ne);
        let looser = if higher { wb.value <= t.value } else { wb.value >= t.value };
        if !same_direction || !looser {
            let why = if same_direction {
                "stricter than the target"
            } else {
                "in the opposite direction of the target"
            };
            self.error(
                Diagnostic::error(Code::WarnBound, format!("the `warn` bound of `{}` is {why}", k.name.name))
                    .at(w.span, why)
                    .help("`warn` marks values that miss the target but are close: `target >= 75% warn >= 70%`"),
            );
        }
    }
}

fn parse_override(text: &str, declared: &Ty) -> Result<(Value, Ty), String> {
    let parsed =
        crate::syntax::parse_literal(text).ok_or_else(|| format!("`{text}` is not a value"))?;
    let (mut v, mut t) = literal(&parsed);
    // A date where a time is expected means that day's midnight (UTC).
    if let (Ty::Time, Value::Date(d)) = (declared, &v) {
        #[allow(clippy::cast_precision_loss)]
        let secs = *d as f64 * 86_400.0;
        (v, t) = (Value::Time(secs), Ty::Time);
    }
    let fits = match (declared, &t) {
        (Ty::Num(a), Ty::Num(b)) => {
            super::types::add_units(a, b).is_some()
                || (a.seconds_per_unit().is_some() && b.seconds_per_unit().is_some())
        }
        (a, b) => a.is_open() || std::mem::discriminant(a) == std::mem::discriminant(b),
    };
    if !fits {
        return Err(format!("expected {}, found {}", declared.describe(), t.describe()));
    }
    Ok((v, if matches!(t, Ty::Num(Unit::Plain)) { declared.clone() } else { t }))
}

/// What a param in a cycle is taken to be: no value, of no type (uses stay silent).
fn placeholder(p: &ast::Param) -> ParamDef {
    ParamDef { name: p.name.name.clone(), span: p.name.span, value: Value::Null, ty: Ty::Error }
}

/// The expression a KPI divides by, through what keeps the groups' weights: adding,
/// subtracting or multiplying by a number and negating (`1 - a / b`, `-(a / b)`,
/// `a / b * 100`, `a * (100 / b)`): see [`KpiDef::divisor_span`].
fn divisor(e: &ast::Expr) -> Option<crate::source::Span> {
    use ast::BinaryOp::{Add, Div, Mul, Sub};
    let number = |e: &ast::Expr| matches!(e.kind, ExprKind::Number(_) | ExprKind::Percent(_));
    match &e.kind {
        ExprKind::Binary { op: Div, rhs, .. } if !number(rhs) => Some(rhs.span),
        ExprKind::Binary { op: Div | Mul | Add | Sub, lhs, rhs } if number(rhs) => divisor(lhs),
        ExprKind::Binary { op: Mul | Add | Sub, lhs, rhs } if number(lhs) => divisor(rhs),
        // `a * (100 / b)`: what the number is divided by.
        ExprKind::Binary { op: Mul, lhs, rhs } => match (&lhs.kind, &rhs.kind) {
            (_, ExprKind::Binary { op: Div, lhs: n, rhs: d }) if number(n) && !number(d) => {
                Some(d.span)
            }
            (ExprKind::Binary { op: Div, lhs: n, rhs: d }, _) if number(n) && !number(d) => {
                Some(d.span)
            }
            _ => None,
        },
        ExprKind::Unary { op: ast::UnaryOp::Neg, operand } => divisor(operand),
        ExprKind::Call { func, args, filter: None, over: None }
            if func.name == "safe_div" && args.len() >= 2 =>
        {
            Some(args[1].span)
        }
        _ => None,
    }
}

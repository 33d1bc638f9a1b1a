//! Definitions: datasets and links, params, dims, KPIs (with cycle detection), blends,
//! views, notes and tests.

use std::path::Path;

use super::expr::{Reads, literal};
use super::{Checker, SymKind};
use crate::ast::{self, CmpOp, ExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::source::Span;
use crate::suggest;

const TYPE_NAMES: &[(&str, ColumnType)] = &[
    ("int", ColumnType::Int),
    ("number", ColumnType::Number),
    ("bool", ColumnType::Bool),
    ("text", ColumnType::Text),
    ("time", ColumnType::Time),
    ("date", ColumnType::Date),
    ("duration", ColumnType::Duration),
];

impl Checker<'_> {
    pub(super) fn datasets(&mut self, defs: &[(&ast::Dataset, &super::files::LoadedFile)]) {
        let mut registered = Vec::new();
        // Datasets whose file is outside the project: never read.
        let mut confined = Vec::new();
        for (d, file) in defs {
            if !self.is_registered(&d.name.name, d.name.span) {
                continue;
            }
            let mut delimiter = b',';
            let mut null_tokens = Vec::new();
            let mut time_column = None;
            for (key, value) in &d.source.options {
                match (key.name.as_str(), &value.kind) {
                    ("delimiter", ExprKind::Str(s))
                        if s.len() == 1 && !matches!(s.as_str(), "\"" | "\n" | "\r") =>
                    {
                        delimiter = s.as_bytes()[0];
                    }
                    ("delimiter", ExprKind::Str(s)) if s.len() == 1 => self.error(
                        Diagnostic::error(
                            Code::OutOfRange,
                            "`delimiter` cannot be a quote or a line break",
                        )
                        .at(value.span, "these already mean something in CSV"),
                    ),
                    ("null", ExprKind::Str(token)) => null_tokens.push(token.clone()),
                    ("time", ExprKind::Str(column)) => time_column = Some(column.clone()),
                    ("time", _) => self.error(
                        Diagnostic::error(
                            Code::ArgumentType,
                            "`time` must name a column, as a string",
                        )
                        .at(value.span, "e.g. time: \"started_at\""),
                    ),
                    ("null", _) => self.error(
                        Diagnostic::error(Code::ArgumentType, "`null` must be a string").at(
                            value.span,
                            "the text that stands for a missing value, e.g. \"N/A\"",
                        ),
                    ),
                    ("delimiter", _) => self.error(
                        Diagnostic::error(
                            Code::OutOfRange,
                            "`delimiter` must be a single character",
                        )
                        .at(value.span, "expected one character, e.g. \";\" or \"\\t\""),
                    ),
                    _ => {
                        let mut diag = Diagnostic::error(
                            Code::UnknownOption,
                            format!("unknown option `{}` of `csv(...)`", key.name),
                        )
                        .at(key.span, "not an option");
                        diag = diag.help(
                            "options: `delimiter: \";\"`, `null: \"N/A\"`, `time: \"started_at\"`",
                        );
                        self.error(diag);
                    }
                }
            }
            let mut declared: Vec<(String, ColumnType)> = Vec::new();
            for c in &d.columns {
                let Some(&(_, ty)) = TYPE_NAMES.iter().find(|(n, _)| *n == c.ty.name) else {
                    let mut diag = Diagnostic::error(
                        Code::UnknownType,
                        format!("unknown column type `{}`", c.ty.name),
                    )
                    .at(c.ty.span, "not a type");
                    diag = match suggest::similar(&c.ty.name, TYPE_NAMES.iter().map(|(n, _)| *n)) {
                        Some(s) => diag.help(format!("did you mean `{s}`?")),
                        None => diag.help("types: int, number, bool, text, time, date, duration"),
                    };
                    self.error(diag);
                    continue;
                };
                if declared.iter().any(|(n, _)| *n == c.name.name) {
                    self.error(
                        Diagnostic::error(
                            Code::Duplicate,
                            format!("column `{}` declared twice", c.name.name),
                        )
                        .at(c.name.span, "second declaration"),
                    );
                    continue;
                }
                declared.push((c.name.name.clone(), ty));
            }
            let path = match self.opts.data.iter().find(|(n, _)| *n == d.name.name) {
                Some((_, p)) => p.clone(),
                None => {
                    let written = &d.source.path;
                    let help = format!(
                        "move the file into the project, or name it on the command line: \
                         `--data {}=PATH`",
                        d.name.name
                    );
                    let outside = self.project.confine(
                        &written.value,
                        &file.base_dir,
                        written.span,
                        "data file",
                        &help,
                    );
                    if let Some(diag) = outside {
                        self.error(diag);
                        confined.push(self.program.datasets.len());
                    }
                    file.base_dir.join(&written.value)
                }
            };
            let def = DatasetDef {
                name: d.name.name.clone(),
                span: d.source.path.span,
                path,
                delimiter,
                declared,
                links: Vec::new(),
                schema: None,
                untyped: Vec::new(),
                null_tokens,
                time_column,
            };
            self.program.datasets.push(def);
            registered.push(*d);
        }
        if let Some(schemas) = self.opts.schemas {
            for i in (0..self.program.datasets.len()).filter(|i| !confined.contains(i)) {
                match schemas.schema(&self.program.datasets[i]) {
                    Ok(schema) => {
                        self.program.datasets[i].schema = Some(schema.columns);
                        self.program.datasets[i].untyped = schema.untyped;
                    }
                    Err(diag) => {
                        let span = self.program.datasets[i].span;
                        // A problem with no line in the data (a missing file) points at
                        // where the file is named.
                        let no_line = diag.data.as_ref().is_none_or(|d| d.line.is_none());
                        let diag = if diag.labels.is_empty() && no_line {
                            diag.at(span, "named here")
                        } else {
                            diag
                        };
                        self.error(diag);
                    }
                }
            }
        }
        for (i, d) in registered.iter().enumerate() {
            self.time_option(i, d);
            for link in &d.links {
                if let Some(l) = self.link(i, link) {
                    self.program.datasets[i].links.push(l);
                }
            }
        }
        self.link_cycles();
    }

    /// `time: "column"` must name a time column of the data (when it is known).
    fn time_option(&mut self, i: DatasetId, d: &ast::Dataset) {
        let ds = &self.program.datasets[i];
        let Some(column) = ds.time_column.clone() else { return };
        let span = d
            .source
            .options
            .iter()
            .find(|(k, _)| k.name == "time")
            .map_or(d.source.span, |(_, v)| v.span);
        let ty = ds
            .declared
            .iter()
            .chain(ds.schema.iter().flatten())
            .find(|(n, _)| *n == column)
            .map(|(_, t)| *t);
        match (ty, &ds.schema) {
            (Some(ColumnType::Time), _) | (None, None) => {}
            // No value in the sample: the type is unknown, so it may be a time column.
            (Some(_), _) if ds.untyped.contains(&column) => {}
            (Some(t), _) => self.error(
                Diagnostic::error(
                    Code::ArgumentType,
                    format!("`time` names `{column}`, a {t} column, not a time column"),
                )
                .at(span, "not a time column"),
            ),
            (None, Some(_)) => self.error(
                Diagnostic::error(
                    Code::UnknownColumn,
                    format!("`time` names `{column}`, which dataset `{}` does not have", ds.name),
                )
                .at(span, "no such column"),
            ),
        }
    }

    fn link(&mut self, from: DatasetId, link: &ast::Link) -> Option<LinkDef> {
        let target = match self.lookup(&link.target.name) {
            Some(s) if s.kind == SymKind::Dataset => s.index,
            Some(s) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("`{}` is a {}, not a dataset", link.target.name, s.kind.word()),
                    )
                    .at(link.target.span, "a link must point at a dataset"),
                );
                return None;
            }
            None => {
                let names: Vec<String> =
                    self.program.datasets.iter().map(|d| d.name.clone()).collect();
                let mut d = Diagnostic::error(
                    Code::BadLink,
                    format!("link to unknown dataset `{}`", link.target.name),
                )
                .at(link.target.span, "no dataset of this name");
                if let Some(s) =
                    suggest::similar(&link.target.name, names.iter().map(String::as_str))
                {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
                return None;
            }
        };
        for (ds, col) in [(from, &link.column), (target, &link.target_column)] {
            let def = &self.program.datasets[ds];
            if let Some(schema) = &def.schema
                && !schema.iter().any(|(n, _)| *n == col.name)
            {
                let mut d = Diagnostic::error(
                    Code::BadLink,
                    format!("link column `{}` is not in dataset `{}`", col.name, def.name),
                )
                .at(col.span, "no such column");
                if let Some(s) = suggest::similar(&col.name, schema.iter().map(|(n, _)| n.as_str()))
                {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
                return None;
            }
        }
        Some(LinkDef {
            column: link.column.name.clone(),
            target,
            target_column: link.target_column.name.clone(),
            span: link.span,
        })
    }

    /// Links must not form a cycle: each row reaches each dataset in at most one way.
    fn link_cycles(&mut self) {
        let n = self.program.datasets.len();
        for start in 0..n {
            let mut stack = vec![(start, vec![start])];
            while let Some((at, path)) = stack.pop() {
                for (li, link) in self.program.datasets[at].links.iter().enumerate() {
                    if link.target == start {
                        let names: Vec<&str> = path
                            .iter()
                            .chain([&start])
                            .map(|&d| self.program.datasets[d].name.as_str())
                            .collect();
                        if path.iter().min() == Some(&start) {
                            let span = link.span;
                            let msg = format!("links form a cycle: {}", names.join(" → "));
                            self.diags.push(Diagnostic::error(Code::BadLink, msg).at(span, "this link closes the cycle").help("links go from the many side to the one side; remove one direction"));
                        }
                        self.program.datasets[at].links.truncate(li);
                        break;
                    }
                    if !path.contains(&link.target) && path.len() <= n {
                        let mut p = path.clone();
                        p.push(link.target);
                        stack.push((link.target, p));
                    }
                }
            }
        }
    }

    pub(super) fn param(&mut self, p: &ast::Param) {
        if !self.is_registered(&p.name.name, p.name.span) {
            return;
        }
        let over = self.opts.params.iter().find(|(n, _)| *n == p.name.name).map(|(_, v)| v.clone());
        let (mut value, mut ty) = self
            .constant(&p.value, &format!("param `{}`", p.name.name))
            .unwrap_or((Value::Null, Ty::Error));
        if let Some(text) = over {
            match parse_override(&text, &ty) {
                Ok((v, t)) => (value, ty) = (v, t),
                Err(msg) => self.error(
                    Diagnostic::error(
                        Code::BadOverride,
                        format!("--param {}={text}: {msg}", p.name.name),
                    )
                    .at(p.value.span, format!("declared here as {}", ty.describe())),
                ),
            }
        }
        self.program.params.push(ParamDef {
            name: p.name.name.clone(),
            span: p.name.span,
            value,
            ty,
        });
    }

    pub(super) fn dims(&mut self, dims: &[&ast::Dim]) {
        for d in dims {
            if !self.is_registered(&d.name.name, d.name.span) {
                continue;
            }
            let mut reads = Reads::new();
            let (expr, ty) = self.row(&d.expr, &mut reads);
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
            self.program.dims.push(DimDef {
                name: d.name.name.clone(),
                span: d.name.span,
                expr,
                home,
                ty,
            });
            self.dim_lowered.push(true);
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
        self.kpi_types[i] = if inferred == Ty::Error { Ty::Error } else { Ty::Num(unit.clone()) };
        if matches!(inferred, Ty::Bool | Ty::Text | Ty::Date | Ty::Time) {
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

    // ---- blends, views, notes, tests ------------------------------------------------

    pub(super) fn blends(&mut self, blends: &[&ast::Blend]) {
        for b in blends {
            let name = b.name();
            if !self.is_registered(&name, b.name_span()) {
                continue;
            }
            let mut components = Vec::new();
            for c in &b.components {
                let Some(id) = self.kpi_ref(c, "a blend component") else { continue };
                if components.contains(&id) {
                    self.error(
                        Diagnostic::error(
                            Code::Duplicate,
                            format!("`{}` appears twice in the blend", c.name),
                        )
                        .at(c.span, "repeated component"),
                    );
                }
                components.push(id);
                let kpi = &self.program.kpis[id];
                if kpi.target.is_none() && kpi.ty != Ty::Error {
                    let def = kpi.span;
                    self.error(
                        Diagnostic::error(
                            Code::ComponentWithoutTarget,
                            format!("blend component `{}` has no target", c.name),
                        )
                        .at(c.span, "a blend scores each component against its target")
                        .also(def, "defined here")
                        .help(format!("add a target to `{}`, e.g. `target >= ...`", c.name)),
                    );
                }
            }
            let weights = self.weights(b);
            let guard = b.guard.as_ref().and_then(|g| self.guard(g));
            let guard_text = b.guard.as_ref().map(|g| self.snippet(g.span));
            let weights = if weights.is_empty() {
                vec![1.0 / components.len().max(1) as f64; components.len()]
            } else {
                weights
            };
            self.program.blends.push(BlendDef {
                name,
                span: b.name_span(),
                components,
                weights,
                guard,
                guard_text,
            });
        }
    }

    fn weights(&mut self, b: &ast::Blend) -> Vec<f64> {
        if b.weights.is_empty() {
            return Vec::new();
        }
        if b.weights.len() != b.components.len() {
            let span = b.weights[0].span.to(b.weights[b.weights.len() - 1].span);
            self.error(
                Diagnostic::error(
                    Code::WeightCount,
                    format!("{} weights for {} components", b.weights.len(), b.components.len()),
                )
                .at(span, "one weight per component, in the same order"),
            );
            return Vec::new();
        }
        let mut ws = Vec::new();
        for w in &b.weights {
            let Some((v, _)) = self.constant(w, "a weight") else { return Vec::new() };
            match v.as_f64() {
                Some(x) if x > 0.0 => ws.push(x),
                _ => {
                    self.error(
                        Diagnostic::error(Code::OutOfRange, "weights must be positive")
                            .at(w.span, "not a positive number"),
                    );
                    return Vec::new();
                }
            }
        }
        let total: f64 = ws.iter().sum();
        ws.iter().map(|w| w / total).collect()
    }

    fn guard(&mut self, g: &ast::Expr) -> Option<KpiExpr> {
        self.column_outside_reported = false;
        let mut roots = Reads::new();
        let (expr, ty) = self.kpi_expr(g, &mut roots);
        self.condition(&ty, g, "a guard");
        let mut names_kpi = false;
        g.walk(|e| {
            if let ExprKind::Name(id) = &e.kind
                && (self.lookup(&id.name).is_some_and(|s| s.kind == SymKind::Kpi)
                    || self.is_silenced(&id.name))
            {
                names_kpi = true;
            }
            if matches!(e.kind, ExprKind::Call { .. }) {
                names_kpi = true;
            }
        });
        if !names_kpi && ty != Ty::Error {
            self.error(
                Diagnostic::error(Code::GuardWithoutKpi, "guard names no KPI")
                    .at(g.span, "this condition does not depend on any KPI")
                    .help("a guard protects quality, e.g. `guard csat >= 4.2`"),
            );
        }
        self.guard_direction(g);
        (ty != Ty::Error).then_some(expr)
    }

    /// Warns about `guard aht >= 300` when lower `aht` is better: the guard would reward
    /// the wrong way.
    fn guard_direction(&mut self, g: &ast::Expr) {
        let mut found = Vec::new();
        g.walk(|e| {
            if let ExprKind::Binary { op: ast::BinaryOp::Cmp(op), lhs, rhs } = &e.kind {
                let (name, op) = match (&lhs.kind, &rhs.kind) {
                    (ExprKind::Name(n), _) => (n, *op),
                    (_, ExprKind::Name(n)) => (n, flip(*op)),
                    _ => return,
                };
                found.push((name.clone(), op, e.span));
            }
        });
        for (name, op, span) in found {
            let Some(s) = self.lookup(&name.name) else { continue };
            if s.kind != SymKind::Kpi {
                continue;
            }
            let kpi = &self.program.kpis[s.index];
            let against = match kpi.direction() {
                Some(Direction::LowerIsBetter) => matches!(op, CmpOp::Ge | CmpOp::Gt),
                Some(Direction::HigherIsBetter) => matches!(op, CmpOp::Le | CmpOp::Lt),
                None => false,
            };
            if against {
                let better = if kpi.direction() == Some(Direction::LowerIsBetter) {
                    "lower"
                } else {
                    "higher"
                };
                self.error(
                    Diagnostic::warning(
                        Code::GuardAgainstDirection,
                        format!(
                            "guard on `{}` works against its direction: {better} is better",
                            name.name
                        ),
                    )
                    .at(span, "this guard passes when the KPI gets worse")
                    .also(kpi.span, "direction set by this KPI's target"),
                );
            }
        }
    }

    /// Resolves a name that must be a KPI.
    fn kpi_ref(&mut self, id: &ast::Ident, what: &str) -> Option<KpiId> {
        match self.lookup(&id.name) {
            Some(s) if s.kind == SymKind::Kpi => (!self.poisoned.contains(&id.name)
                || self.program.kpis[s.index].ty != Ty::Error)
                .then_some(s.index),
            Some(s) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("{what} must be a kpi; `{}` is a {}", id.name, s.kind.word()),
                    )
                    .at(id.span, "not a kpi"),
                );
                None
            }
            None => {
                self.unknown_name(id, false);
                None
            }
        }
    }

    pub(super) fn view(&mut self, v: &ast::View) {
        if !self.is_registered(&v.name.name, v.name.span) {
            return;
        }
        let mut items = Vec::new();
        for i in &v.items {
            match self.lookup(&i.name) {
                Some(s) if s.kind == SymKind::Kpi => items.push((ItemRef::Kpi(s.index), i.span)),
                Some(s) if s.kind == SymKind::Blend => {
                    items.push((ItemRef::Blend(s.index), i.span))
                }
                Some(s) => self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!(
                            "a view lists kpis and blends; `{}` is a {}",
                            i.name,
                            s.kind.word()
                        ),
                    )
                    .at(i.span, "not a kpi or blend"),
                ),
                None => self.unknown_name(i, false),
            }
        }
        let by = self.dim_refs(&v.by);
        let mut filter_reads = Reads::new();
        let filter = v.filter.as_ref().map(|f| {
            let (x, t) = self.row(f, &mut filter_reads);
            self.condition(&t, f, "a view's `where`");
            x
        });
        for &(item, span) in &items {
            self.check_grouping(item, &by, &filter_reads, span);
        }
        let items = items.into_iter().map(|(i, _)| i).collect();
        let by = by.into_iter().map(|(d, _)| d).collect();
        self.program.views.push(ViewDef {
            name: v.name.name.clone(),
            span: v.name.span,
            items,
            by,
            filter,
        });
    }

    pub(super) fn dim_refs(&mut self, ids: &[ast::Ident]) -> Vec<(DimId, Span)> {
        let mut out = Vec::new();
        for d in ids {
            match self.lookup(&d.name) {
                Some(s) if s.kind == SymKind::Dim => {
                    if !self.poisoned.contains(&d.name) {
                        out.push((s.index, d.span));
                    }
                }
                Some(s) => self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("`by` needs dims; `{}` is a {}", d.name, s.kind.word()),
                    )
                    .at(d.span, "not a dim"),
                ),
                None => self.unknown_name(d, false),
            }
        }
        out
    }

    /// Every dataset an item's aggregates read must reach the dims and the filter.
    fn check_grouping(
        &mut self,
        item: ItemRef,
        by: &[(DimId, Span)],
        filter_reads: &[DatasetId],
        span: Span,
    ) {
        let roots: Vec<DatasetId> = match item {
            ItemRef::Kpi(k) => self.kpi_roots.get(k).cloned().unwrap_or_default(),
            ItemRef::Blend(b) => self.program.blends[b]
                .components
                .iter()
                .flat_map(|&k| self.kpi_roots.get(k).cloned().unwrap_or_default())
                .collect(),
        };
        for root in roots {
            for &(dim, dspan) in by {
                let home = self.program.dims[dim].home;
                if !self.program.reaches(root, home) {
                    let (root_name, home_name) = (
                        self.program.datasets[root].name.clone(),
                        self.program.datasets[home].name.clone(),
                    );
                    self.error(
                        Diagnostic::error(
                            Code::Unreachable,
                            format!(
                                "`{}` cannot be grouped by `{}`",
                                self.program.item_name(item),
                                self.program.dims[dim].name
                            ),
                        )
                        .at(span, format!("reads `{root_name}`"))
                        .also(dspan, format!("a dim of `{home_name}`"))
                        .help(format!("declare a link from `{root_name}` to `{home_name}`")),
                    );
                }
            }
            for &f in filter_reads {
                if !self.program.reaches(root, f) {
                    self.error(
                        Diagnostic::error(
                            Code::Unreachable,
                            format!(
                                "the filter reads `{}`, which `{}` cannot reach",
                                self.program.datasets[f].name,
                                self.program.item_name(item)
                            ),
                        )
                        .at(span, format!("reads `{}`", self.program.datasets[root].name)),
                    );
                }
            }
        }
    }

    pub(super) fn note(&mut self, n: &ast::Note) {
        match n.date.kind {
            ExprKind::Date(d) => self.program.notes.push(NoteDef {
                date: d,
                text: n.text.value.clone(),
                span: n.span,
            }),
            ExprKind::Time(t) => {
                #[allow(clippy::cast_possible_truncation)]
                let date = (t / 86_400.0).floor() as i64;
                self.program.notes.push(NoteDef { date, text: n.text.value.clone(), span: n.span });
            }
            _ => self.error(
                Diagnostic::error(Code::InvalidLiteral, "a note needs a date such as `2026-03-14`")
                    .at(n.date.span, "not a date"),
            ),
        }
    }

    pub(super) fn test(&mut self, t: &ast::Test, base_dir: &Path) {
        for d in &t.data {
            if let ast::TestSource::File(src) = &d.source {
                let outside = self.project.confine(
                    &src.path.value,
                    base_dir,
                    src.path.span,
                    "test data file",
                    "keep test data inside the project, or write it inline: `csv \"\"\" ... \"\"\"`",
                );
                if let Some(diag) = outside {
                    self.error(diag);
                }
            }
            if !self.lookup(&d.dataset.name).is_some_and(|s| s.kind == SymKind::Dataset) {
                self.error(
                    Diagnostic::error(
                        Code::UnknownDataset,
                        format!("test data for unknown dataset `{}`", d.dataset.name),
                    )
                    .at(d.dataset.span, "no dataset of this name"),
                );
            }
        }
        for e in &t.expects {
            match self.lookup(&e.subject.name) {
                Some(s) if matches!(s.kind, SymKind::Kpi | SymKind::Blend) => {
                    if let Some(f) = &e.field {
                        let fields: &[&str] = if s.kind == SymKind::Blend {
                            &["score", "verdict", "value"]
                        } else {
                            &["value", "status"]
                        };
                        if !fields.contains(&f.name.as_str()) {
                            self.error(
                                Diagnostic::error(
                                    Code::UnknownName,
                                    format!("{} has no field `{}`", s.kind.word(), f.name),
                                )
                                .at(f.span, "unknown field")
                                .help(format!("fields: {}", fields.join(", "))),
                            );
                        }
                    }
                }
                Some(s) => self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!(
                            "`expect` checks kpis and blends; `{}` is a {}",
                            e.subject.name,
                            s.kind.word()
                        ),
                    )
                    .at(e.subject.span, "not a kpi or blend"),
                ),
                None => self.unknown_name(&e.subject, false),
            }
            let dims: Vec<ast::Ident> = e.group.iter().map(|(d, _)| d.clone()).collect();
            self.dim_refs(&dims);
            if let Some(w) = &e.within {
                self.constant(w, "`within`");
            }
            if !matches!(e.value.kind, ExprKind::Name(_)) {
                self.constant(&e.value, "an expected value");
            }
        }
        self.program.tests.push(TestDef { test: t.clone(), base_dir: base_dir.to_path_buf() });
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

/// A `--param` value typed on the command line, read as a literal of the param's type.
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

//! What is built on KPIs: blends and their guards, views, notes and tests.

use std::path::Path;

use super::expr::Reads;
use super::{Checker, SymKind};
use crate::ast::{self, CmpOp, ExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::source::Span;

impl Checker<'_> {
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
                if matches!(kpi.ty, Ty::Date | Ty::Time) {
                    // A score is value / target: on a date that is days since 1970.
                    let (what, def) = (kpi.ty.describe(), kpi.span);
                    self.error(
                        Diagnostic::error(
                            Code::ArgumentType,
                            format!("blend component `{}` is a {what}, not a number", c.name),
                        )
                        .at(c.span, "a blend scores numbers against their targets")
                        .also(def, "defined here")
                        .help("blend a number instead, e.g. the age of the data in hours: `(as_of - max(...)) / 1h`"),
                    );
                    continue;
                }
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
        // Scaled by the largest first, so weights near the top of the range do not
        // overflow when summed: `1.7e308, 1.7e308` are `1, 1`.
        let largest = ws.iter().copied().fold(0.0, f64::max);
        let scaled: Vec<f64> = ws.iter().map(|w| w / largest).collect();
        let total: f64 = scaled.iter().sum();
        scaled.iter().map(|w| w / total).collect()
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
        let mut items: Vec<(ItemRef, Span)> = Vec::new();
        for i in &v.items {
            let item = match self.lookup(&i.name) {
                Some(s) if s.kind == SymKind::Kpi => Some(ItemRef::Kpi(s.index)),
                Some(s) if s.kind == SymKind::Blend => Some(ItemRef::Blend(s.index)),
                _ => None,
            };
            // `a, a` (or `--kpi a,a`) would show the same column twice.
            if let Some(&(_, first)) = items.iter().find(|(it, _)| Some(*it) == item) {
                self.error(
                    Diagnostic::error(
                        Code::DuplicateClause,
                        format!("the view lists `{}` twice", i.name),
                    )
                    .at(i.span, "listed again here")
                    .also(first, "first listed here"),
                );
                continue;
            }
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
        let mut by = self.dim_refs(&v.by);
        // `by site, site` (or `--by site,site`) would show the same column twice.
        let mut i = 0;
        while i < by.len() {
            if let Some(&(_, first)) = by[..i].iter().find(|(d, _)| *d == by[i].0) {
                let name = &self.program.dims[by[i].0].name;
                self.error(
                    Diagnostic::error(
                        Code::DuplicateClause,
                        format!("`by` names dim `{name}` twice"),
                    )
                    .at(by[i].1, "given again here")
                    .also(first, "first given here"),
                );
                by.remove(i);
            } else {
                i += 1;
            }
        }
        let mut filter_reads = Reads::new();
        let filter = v.filter.as_ref().map(|f| {
            let (x, t) = self.row_top(f, &mut filter_reads);
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
            filter_at: v.filter.as_ref().map(|f| f.span),
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
        let file = t.span.file;
        if let Some(first) = self
            .program
            .tests
            .iter()
            .find(|d| d.test.span.file == file && d.test.name.value == t.name.value)
        {
            let first = first.test.name.span;
            self.error(
                Diagnostic::error(
                    Code::Duplicate,
                    format!("two tests are named \"{}\"", t.name.value),
                )
                .at(t.name.span, "second test of this name")
                .also(first, "first test of this name")
                .help("give each test its own name, so results and `--filter` tell them apart"),
            );
        }
        self.test_data(t, base_dir);
        let mut resolved = Vec::new();
        for e in &t.expects {
            let before = self.diags.len();
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
            let by = self.dim_refs(&dims);
            // A group picked by a dim the item's data cannot reach (as `eval --by` says).
            let item = match self.lookup(&e.subject.name) {
                Some(s) if s.kind == SymKind::Kpi => Some(ItemRef::Kpi(s.index)),
                Some(s) if s.kind == SymKind::Blend => Some(ItemRef::Blend(s.index)),
                _ => None,
            };
            if let Some(item) = item
                && !by.is_empty()
            {
                self.check_grouping(item, &by, &[], e.subject.span);
            }
            if let Some(w) = &e.within {
                self.constant(w, "`within`");
            }
            if !matches!(e.value.kind, ExprKind::Name(_)) {
                self.constant(&e.value, "an expected value");
            }
            let found = self.diags[before..].iter().any(Diagnostic::is_error);
            let subject_failed = self.is_silenced(&e.subject.name);
            resolved.push(if found || subject_failed {
                None
            } else {
                super::expects::resolve(&self.program, e).map_err(|d| self.error(d)).ok()
            });
        }
        self.program.tests.push(TestDef {
            test: t.clone(),
            base_dir: base_dir.to_path_buf(),
            expects: resolved,
        });
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

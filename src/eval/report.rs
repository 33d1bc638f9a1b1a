//! Evaluation results: plain serialisable values with a documented, stable JSON schema
//! (see `docs/json.md`). Raw numbers: seconds, fractions (0.813 for 81.3%), days.

use serde::Serialize;

use super::group::Key;
use crate::diagnostic::Diagnostic;
use crate::program::{Bound, Direction};
use crate::render::diagnostics;
use crate::source::SourceMap;
use crate::types::Unit;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    /// The dims results are grouped by (empty for a scorecard).
    pub by: Vec<DimMeta>,
    /// The KPIs and blends shown, in order; each row's `cells` follow this order.
    pub items: Vec<ItemMeta>,
    /// One row per group, sorted by key (null keys last); a single row with an empty key
    /// when not grouped.
    pub rows: Vec<Row>,
    /// All rows together, when grouped (computed from the rows, not from the groups).
    pub total: Option<Row>,
    pub notes: Vec<NoteOut>,
    /// What evaluation noticed without failing: rows skipped as bad, link keys that found no
    /// row, negative durations. Not part of the JSON schema (the CLI prints them to stderr).
    #[serde(skip)]
    pub warnings: Warnings,
    /// What each item is over no rows (counts 0, other aggregates null), for a group the
    /// data does not have (a period without rows in a trend). Not part of the JSON schema.
    #[serde(skip)]
    pub empty: Option<Row>,
}

/// Warnings with the sources they point into; `Display` renders them as `check` does.
#[derive(Debug, Clone, Default)]
pub struct Warnings {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
}

impl Warnings {
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The warnings as `check` prints them, in colour or not.
    pub fn render(&self, color: bool) -> String {
        self.diagnostics.iter().map(|d| diagnostics::human(d, &self.sources, color)).collect()
    }
}

impl std::fmt::Display for Warnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(false))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DimMeta {
    pub name: String,
    /// `date` keys are day numbers rendered as dates; `time` keys are seconds.
    pub kind: KeyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Number,
    Date,
    Time,
    Text,
    Bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemMeta {
    pub name: String,
    pub kind: ItemKind,
    pub label: Option<String>,
    pub unit: Unit,
    pub target: Option<Bound>,
    pub warn: Option<Bound>,
    pub direction: Option<Direction>,
    pub min: Option<u64>,
    pub tags: Vec<String>,
    /// For blends: the components, weights (summing to 1) and the guard as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// For `corr(a, b) over dim`: the dim the correlation ranges over (`n` then counts
    /// its groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_over: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Kpi,
    Blend,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: Vec<Key>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Kpi(KpiCell),
    Blend(BlendCell),
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiCell {
    /// Null when there was nothing to aggregate (or a division by zero).
    pub value: Option<f64>,
    /// Rows or values that fed the KPI's aggregates (the smallest of them).
    pub n: u64,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No target.
    None,
    Ok,
    Warn,
    Fail,
    /// Below the KPI's `min` sample size, or no value.
    Insufficient,
}

impl Status {
    /// The value does not meet the target (warn or fail).
    pub fn missed(self) -> bool {
        matches!(self, Status::Warn | Status::Fail)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Status::None => "·",
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Insufficient => "?",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Insufficient => "insufficient",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BlendCell {
    /// 0–100; 0 on a breach; null when insufficient.
    pub score: Option<f64>,
    pub verdict: Verdict,
    pub components: Vec<ComponentOut>,
    pub guard: Option<GuardOut>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Breach,
    Insufficient,
}

impl Verdict {
    pub fn symbol(self) -> &'static str {
        match self {
            Verdict::Pass => "✓",
            Verdict::Breach => "✗",
            Verdict::Insufficient => "?",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Breach => "breach",
            Verdict::Insufficient => "insufficient",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentOut {
    pub kpi: String,
    pub value: Option<f64>,
    pub target: Option<Bound>,
    pub weight: f64,
    /// 0–100: how close the value is to its target.
    pub score: Option<f64>,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuardOut {
    pub text: String,
    /// Null when a KPI in it has no value.
    pub holds: Option<bool>,
    /// The comparisons that did not hold, e.g. `csat >= 4.2 (csat = 4.05)`.
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteOut {
    /// Days since 1970-01-01.
    pub date: i64,
    pub date_text: String,
    pub text: String,
}

impl Report {
    pub fn item(&self, name: &str) -> Option<usize> {
        self.items.iter().position(|i| i.name == name)
    }

    /// The value of KPI `name` in the row with `key` (the only row when ungrouped).
    pub fn kpi_value(&self, name: &str, key: &[Key]) -> Option<f64> {
        let i = self.item(name)?;
        let row = self.rows.iter().find(|r| r.key == key)?;
        match &row.cells[i] {
            Cell::Kpi(k) => k.value,
            Cell::Blend(b) => b.score,
        }
    }
}

/// Sorts a grouped report's rows by item `i`, best first given its direction (a blend's
/// score, higher first). Rows whose value is missing or insufficient are not ranked:
/// they follow the others, in key order.
pub fn rank(report: &mut Report, i: usize) {
    let lower_better =
        report.items.get(i).is_some_and(|m| m.direction == Some(Direction::LowerIsBetter));
    // A target of `== t` is best met closest to `t` (and `!= t` anywhere else): rank by the
    // distance to it, larger distances worse for `==` and better for `!=`.
    let target = report.items.get(i).and_then(|m| m.target);
    let (lower_better, from) = match target {
        Some(Bound { op: crate::program::CmpOp::Eq, value }) => (true, Some(value)),
        Some(Bound { op: crate::program::CmpOp::Ne, value }) => (false, Some(value)),
        _ => (lower_better, None),
    };
    let score = |row: &Row| -> Option<f64> {
        let v = match row.cells.get(i) {
            Some(Cell::Kpi(k)) if k.status != Status::Insufficient => k.value,
            Some(Cell::Blend(b)) if b.verdict != Verdict::Insufficient => b.score,
            _ => None,
        };
        v.map(|v| from.map_or(v, |t| (v - t).abs()))
    };
    report.rows.sort_by(|a, b| match (score(a), score(b)) {
        (Some(x), Some(y)) => {
            let o = x.total_cmp(&y);
            if lower_better { o } else { o.reverse() }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.key.cmp(&b.key),
    });
}

//! Mix versus rate: why a KPI changed between two periods.
//!
//! With the KPI split by a dim, the overall value is the volume-weighted mean of the
//! groups' values (exactly so for averages and rates, whose volume is the number of
//! values they aggregate). A change then has two parts: volume moving between groups
//! (mix) and values changing within groups (rate):
//!
//! `Σ w₂ r₂ − Σ w₁ r₁ = Σ (w₂ − w₁) r₁  +  Σ w₂ (r₂ − r₁)`
//!
//! where `w` is a group's share of the volume and `r` its value, before (1) and after
//! (2). When every group moved one way and the total the other, the change is all mix:
//! Simpson's paradox, and it is said so.

use serde::Serialize;

use crate::eval::group::Key;
use crate::eval::{Cell, Report};
use crate::program::{KpiExpr, Program};

/// The name of the KPI [`volume_definition`] defines.
pub const VOLUME: &str = "__volume";

/// The KPI's divisor as a KPI named [`VOLUME`] (`kpi __volume = count(calls)` for
/// `kpi fcr = count(calls where calls.resolved) / count(calls)`), to evaluate beside it:
/// each group's volume. None when the KPI divides by nothing: an average or a rate
/// weighs its groups by the values it counts, which every KPI cell carries.
pub fn volume_definition(program: &Program, kpi: &str) -> Option<String> {
    let mut k = program.kpis.iter().position(|k| k.name == kpi)?;
    // A KPI that is another KPI divides by what that one does (the graph has no cycles;
    // the bound only makes that plain).
    for _ in 0..program.kpis.len() {
        let def = &program.kpis[k];
        if let Some(span) = def.divisor_span {
            return Some(format!("kpi {VOLUME} = {}\n", program.sources.snippet(span)));
        }
        match def.expr {
            KpiExpr::Kpi(next) => k = next,
            _ => return None,
        }
    }
    None
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub kpi: String,
    pub groups: Vec<GroupChange>,
    /// Overall values from all rows of each period.
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub change: Option<f64>,
    /// The KPI is the sum of its groups' values (a count, a sum), not their mean: the
    /// change is all the groups' own (`rate`, the sum of their changes), `mix` is 0.
    pub additive: bool,
    /// Σ (w₂ − w₁) r₁ over groups with a value in both periods.
    pub mix: f64,
    /// Σ w₂ (r₂ − r₁) over the same groups.
    pub rate: f64,
    /// What the two parts do not account for.
    pub residual: Option<f64>,
    /// Where a residual can come from, for these data.
    pub residual_causes: Vec<ResidualCause>,
    /// Every group moved one way and the total the other (at least two groups changed,
    /// and every group is in both periods).
    pub simpson: bool,
}

/// Why mix and rate may not add up to the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidualCause {
    /// A group has a value in one period only: mix and rate leave it out.
    OnePeriodGroups,
    /// An overall value is not the volume-weighted mean of its groups' values (sums,
    /// counts, medians, ratios of KPIs).
    NotAWeightedMean,
    /// A period's groups have no volume (the KPI's divisor is 0 over them): shares, and so
    /// mix and rate, are undefined; all of the change is left over.
    NoVolume,
}

impl ResidualCause {
    pub fn text(self) -> &'static str {
        match self {
            ResidualCause::OnePeriodGroups => {
                "groups with a value in one period only (no rows, or a divisor of 0, in the other)"
            }
            ResidualCause::NoVolume => "a period whose groups weigh nothing (its divisor is 0)",
            ResidualCause::NotAWeightedMean => {
                "the KPI is not a volume-weighted mean of its groups"
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupChange {
    pub key: Vec<Key>,
    /// The group's weight in the overall value: what the KPI divides by (its divisor
    /// KPI, when the reports carry one), else the rows or values it aggregates.
    pub volume_before: f64,
    pub volume_after: f64,
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub change: Option<f64>,
}

/// A group's value and volume: the second cell's value when the report has one (the
/// KPI's divisor), else the count of what the KPI aggregates.
#[allow(clippy::cast_precision_loss)]
fn kpi_cell(report: &Report, key: &[Key]) -> (Option<f64>, f64) {
    let row = report.rows.iter().find(|r| r.key == key);
    let cells = row.map_or(&[][..], |r| &r.cells[..]);
    match cells {
        [Cell::Kpi(k), Cell::Kpi(divisor), ..] => (k.value, divisor.value.unwrap_or(0.0)),
        [Cell::Kpi(k), ..] => (k.value, k.n as f64),
        _ => (None, 0.0),
    }
}

fn total(report: &Report) -> Option<f64> {
    match report.total.as_ref().and_then(|t| t.cells.first()) {
        Some(Cell::Kpi(k)) => k.value,
        _ => None,
    }
}

/// Explains the change of the KPI of two reports grouped the same way. A second item in
/// the reports, when there is one, is the KPI's divisor as a KPI (the `b` of `a / b`):
/// each group's volume. Without it, a group's volume is the count of rows or values its
/// KPI aggregates, right for averages and rates.
pub fn explain(kpi: &str, before: &Report, after: &Report) -> Explanation {
    let mut keys: Vec<Vec<Key>> =
        before.rows.iter().chain(&after.rows).map(|r| r.key.clone()).collect();
    keys.sort();
    keys.dedup();
    let groups: Vec<GroupChange> = keys
        .into_iter()
        .map(|key| {
            let (b, nb) = kpi_cell(before, &key);
            let (a, na) = kpi_cell(after, &key);
            GroupChange {
                change: a.zip(b).map(|(a, b)| a - b),
                key,
                volume_before: nb,
                volume_after: na,
                before: b,
                after: a,
            }
        })
        .collect();
    let share = |n: f64, total: f64| if total == 0.0 { 0.0 } else { n / total };
    let total_before: f64 =
        groups.iter().filter(|g| g.before.is_some()).map(|g| g.volume_before).sum();
    let total_after: f64 =
        groups.iter().filter(|g| g.after.is_some()).map(|g| g.volume_after).sum();
    let (mut mix, mut rate) = (0.0, 0.0);
    for g in &groups {
        if let (Some(b), Some(a)) = (g.before, g.after) {
            let (w1, w2) =
                (share(g.volume_before, total_before), share(g.volume_after, total_after));
            mix += (w2 - w1) * b;
            rate += w2 * (a - b);
        }
    }
    let (tb, ta) = (total(before), total(after));
    let change = ta.zip(tb).map(|(a, b)| a - b);
    let changes: Vec<f64> = groups.iter().filter_map(|g| g.change).filter(|c| *c != 0.0).collect();
    // A paradox needs groups to compare: two or more that changed, and none that is in
    // one period only (its weight moving in or out is mix, not a reversal).
    let both_periods = groups.iter().all(|g| g.before.is_some() && g.after.is_some());
    let simpson = match change {
        Some(c) if c != 0.0 && changes.len() >= 2 && both_periods => {
            changes.iter().all(|g| g.signum() != c.signum())
        }
        _ => false,
    };
    let mut residual_causes = Vec::new();
    if groups.iter().any(|g| g.before.is_some() != g.after.is_some()) {
        residual_causes.push(ResidualCause::OnePeriodGroups);
    }
    let weighted =
        |value: fn(&GroupChange) -> Option<f64>, volume: fn(&GroupChange) -> f64, all| {
            groups.iter().filter_map(|g| value(g).map(|v| share(volume(g), all) * v)).sum::<f64>()
        };
    let is_mean = |total: Option<f64>, mean: f64| {
        total.is_none_or(|t| (t - mean).abs() <= 1e-9 * t.abs().max(mean.abs()).max(1.0))
    };
    let mean = is_mean(tb, weighted(|g| g.before, |g| g.volume_before, total_before))
        && is_mean(ta, weighted(|g| g.after, |g| g.volume_after, total_after));
    // A count or a sum is the sum of its groups, not their mean: its change is the sum of
    // theirs (a group in one period only counts from or to nothing), with no mix to split.
    let sum_of = |value: fn(&GroupChange) -> Option<f64>| groups.iter().filter_map(value).sum();
    let additive = !mean
        && !groups.is_empty()
        && is_mean(tb, sum_of(|g| g.before))
        && is_mean(ta, sum_of(|g| g.after));
    let no_volume = !additive && (total_before <= 0.0 || total_after <= 0.0);
    let (mix, rate) = if additive {
        (0.0, sum_of(|g| g.after) - sum_of(|g| g.before))
    } else if no_volume {
        (0.0, 0.0)
    } else {
        (mix, rate)
    };
    if additive {
        residual_causes.clear();
    } else if no_volume {
        residual_causes = vec![ResidualCause::NoVolume];
    } else if !mean {
        residual_causes.push(ResidualCause::NotAWeightedMean);
    }
    Explanation {
        kpi: kpi.to_string(),
        residual_causes,
        before: tb,
        after: ta,
        change,
        additive,
        mix,
        rate,
        residual: change.map(|c| c - mix - rate),
        simpson,
        groups,
    }
}

//! Trends: each KPI over periods, as a sparkline with the last value and its change
//! from the period before, said as better or worse given the KPI's direction.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::escape::sanitize_line;
use super::format;
use crate::calendar;
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::group::Key;
use crate::eval::{Cell, ItemKind, Report};
use crate::program::Direction;
use crate::query::Grain;
use crate::types::Unit;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub version: u32,
    pub grain: &'static str,
    /// The first day of each period, oldest first.
    pub periods: Vec<String>,
    pub items: Vec<TrendItem>,
    pub notes: Vec<TrendNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendItem {
    pub name: String,
    pub kind: ItemKind,
    pub unit: Unit,
    pub direction: Option<Direction>,
    /// One value per period (a blend's score), null where there was nothing to compute.
    pub series: Vec<Option<f64>>,
    pub last: Option<f64>,
    pub previous: Option<f64>,
    /// `last - previous`, in the KPI's raw unit (fractions for percents).
    pub change: Option<f64>,
    /// `better`, `worse` or `same` given the direction; null without a direction.
    pub assessment: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendNote {
    pub date: String,
    /// The period that contains the note's date.
    pub period: String,
    pub text: String,
}

/// The most periods a trend shows (every period from the first to the last is shown,
/// those without rows too): 27 years of days, 190 of weeks.
pub const MAX_PERIODS: usize = 10_000;

impl Trend {
    /// The trend view of a report grouped by period first (rows whose period is null —
    /// rows that reach no time — are left out). An error (KB0506) when the first and last
    /// periods are more than [`MAX_PERIODS`] apart.
    pub fn of(report: &Report, grain: Grain) -> Result<Trend, Diagnostic> {
        let rows: Vec<_> =
            report.rows.iter().filter(|r| matches!(r.key.first(), Some(Key::Num(_)))).collect();
        #[allow(clippy::cast_possible_truncation)]
        let row_days: Vec<i64> = rows
            .iter()
            .map(|r| if let Some(Key::Num(d)) = r.key.first() { *d as i64 } else { 0 })
            .collect();
        // Every period from the first to the last, those without rows too: a gap shows as a
        // gap, and "the period before" is the one before, not the last one with data.
        let mut days = Vec::new();
        if let (Some(&first), Some(&last)) = (row_days.first(), row_days.last()) {
            let mut d = first;
            while d <= last {
                if days.len() == MAX_PERIODS {
                    return Err(too_many_periods(grain, first, last));
                }
                days.push(d);
                let next = grain.start(d + grain.longest_days());
                // The last period of the calendar's range has no next one.
                if next <= d {
                    break;
                }
                d = next;
            }
        }
        let at: std::collections::HashMap<i64, usize> =
            row_days.iter().enumerate().map(|(i, &d)| (d, i)).collect();
        let row_at = |d: i64| at.get(&d).map(|&i| rows[i]);
        let items = report
            .items
            .iter()
            .enumerate()
            .map(|(i, meta)| {
                // A period without rows has what the item is over no rows: 0 for a count.
                let series: Vec<Option<f64>> = days
                    .iter()
                    .map(|&d| {
                        row_at(d).or(report.empty.as_ref()).and_then(|r| match &r.cells[i] {
                            Cell::Kpi(k) => k.value,
                            Cell::Blend(b) => b.score,
                        })
                    })
                    .collect();
                let last = series.last().copied().flatten();
                let previous = series.len().checked_sub(2).and_then(|p| series[p]);
                let change = last.zip(previous).map(|(a, b)| a - b);
                let assessment = change.zip(meta.direction).map(|(c, d)| match (c, d) {
                    (0.0, _) => "same",
                    (c, Direction::HigherIsBetter) if c > 0.0 => "better",
                    (c, Direction::LowerIsBetter) if c < 0.0 => "better",
                    _ => "worse",
                });
                TrendItem {
                    name: meta.name.clone(),
                    kind: meta.kind,
                    unit: meta.unit.clone(),
                    direction: meta.direction,
                    series,
                    last,
                    previous,
                    change,
                    assessment,
                }
            })
            .collect();
        // Notes in the periods shown (`--from`/`--to` may leave some out).
        let notes = report
            .notes
            .iter()
            .filter(|n| days.binary_search(&grain.start(n.date)).is_ok())
            .map(|n| TrendNote {
                date: n.date_text.clone(),
                period: calendar::format_date(grain.start(n.date)),
                text: n.text.clone(),
            })
            .collect();
        Ok(Trend {
            version: crate::eval::SCHEMA_VERSION,
            grain: grain.name(),
            periods: days.iter().map(|&d| calendar::format_date(d)).collect(),
            items,
            notes,
        })
    }
}

/// Keeps the rows of a report grouped by period first that fall in a period and drops the
/// total: what a trend's table, JSON and CSV show and what `--fail-on` judges, so they
/// agree. True when rows that reach no time (an empty time, a link that finds no row) were
/// left out.
pub fn keep_periods(report: &mut Report) -> bool {
    let before = report.rows.len();
    report.rows.retain(|r| matches!(r.key.first(), Some(Key::Num(_))));
    report.total = None;
    report.rows.len() < before
}

fn too_many_periods(grain: Grain, first: i64, last: i64) -> Diagnostic {
    let (from, to) = (calendar::format_date(first), calendar::format_date(last));
    Diagnostic::error(
        Code::DataLimit,
        format!(
            "the trend would have more than {MAX_PERIODS} {}s: the data runs from {from} to {to}",
            grain.name()
        ),
    )
    .note("a date far from the others may be a placeholder in the data (1900-01-01, 9999-12-31)")
    .help({
        let period = format!(
            "`--from {} --to {}`",
            calendar::format_date(calendar::month_start(last)),
            calendar::format_date(last + 1)
        );
        let coarser = match grain {
            Grain::Day => Some("week"),
            Grain::Week => Some("month"),
            Grain::Month => Some("quarter"),
            Grain::Quarter => None,
        };
        match coarser {
            Some(g) => format!("show a coarser grain (`--trend {g}`), or a period: {period}"),
            None => format!("show a period: {period}"),
        }
    })
}

/// `▁▃▅▇` from a series; a gap for null.
pub fn sparkline(series: &[Option<f64>]) -> String {
    let values: Vec<f64> = series.iter().flatten().copied().collect();
    let (min, max) =
        values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    series
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max - min <= f64::EPSILON * max.abs().max(1.0) => BARS[3],
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(v) => BARS[(((v - min) / (max - min)) * 7.0).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

/// A change in the KPI's unit: percentage points for rates, `+14s` for durations. A
/// change that shows as 0 at the precision shown is written as 0 is (`±0`), never `-0`.
pub fn change_text(change: f64, unit: &Unit) -> String {
    let magnitude = magnitude(change.abs(), unit);
    let sign = if magnitude == self::magnitude(0.0, unit) {
        "±"
    } else if change > 0.0 {
        "+"
    } else {
        "-"
    };
    format!("{sign}{magnitude}")
}

fn magnitude(abs: f64, unit: &Unit) -> String {
    match unit {
        Unit::Percent => format!("{} pp", format::trim(abs * 100.0, 1)),
        Unit::Points => format!("{abs:.0}"),
        Unit::Count | Unit::Plain => format::trim(abs, 3),
        // Between two times, a duration; between two days, a number of days.
        Unit::Time => format::duration(abs),
        Unit::Date => format!("{} d", format::trim(abs, 3)),
        u => format::value(Some(abs), u),
    }
}

pub fn human(t: &Trend, color: bool) -> String {
    let mut out = String::new();
    let (Some(first), Some(last)) = (t.periods.first(), t.periods.last()) else {
        return "no periods: no rows have a time\n".into();
    };
    let n = t.periods.len();
    let _ = writeln!(out, "{n} {}{}, {first} to {last}\n", t.grain, if n == 1 { "" } else { "s" });
    let names: Vec<String> = t.items.iter().map(|i| sanitize_line(&i.name)).collect();
    let name_w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(4);
    let value_w = t
        .items
        .iter()
        .map(|i| format::value(i.last, &i.unit).chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let spark_w = t.periods.len().max(5);
    let _ = writeln!(out, "{:name_w$}  {:spark_w$}  {:>value_w$}  change", "kpi", "trend", "last");
    for (item, name) in t.items.iter().zip(&names) {
        let value = if item.kind == ItemKind::Blend {
            item.last.map_or("–".into(), super::table::score_text)
        } else {
            format::value(item.last, &item.unit)
        };
        let change = match (item.change, item.assessment) {
            (Some(c), Some(a)) => {
                let arrow = if c > 0.0 {
                    "▲"
                } else if c < 0.0 {
                    "▼"
                } else {
                    "→"
                };
                let style = match (color, a) {
                    (true, "better") => AnsiColor::Green.on_default(),
                    (true, "worse") => AnsiColor::Red.on_default(),
                    _ => Style::new(),
                };
                let text = if item.kind == ItemKind::Blend {
                    format!("{}{:.1}", if c < 0.0 { "-" } else { "+" }, c.abs())
                } else {
                    change_text(c, &item.unit)
                };
                format!("{style}{arrow} {text} {a}{style:#}")
            }
            (Some(c), None) => change_text(c, &item.unit),
            _ => String::new(),
        };
        let spark = sparkline(&item.series);
        let line = format!("{name:name_w$}  {spark:spark_w$}  {value:>value_w$}  {change}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !t.notes.is_empty() {
        out.push('\n');
        for n in &t.notes {
            let position =
                t.periods.iter().position(|p| *p == n.period).map_or(String::new(), |i| {
                    format!(" (period {} of {})", i + 1, t.periods.len())
                });
            let _ = writeln!(
                out,
                "note {}, {} of {}{position}: {}",
                n.date,
                t.grain,
                n.period,
                sanitize_line(&n.text)
            );
        }
    }
    out
}

pub fn json(t: &Trend) -> String {
    super::escape::json(serde_json::to_string_pretty(t).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_between_the_series_min_and_max() {
        assert_eq!(sparkline(&[Some(1.0), Some(2.0), None, Some(8.0)]), "▁▂ █");
        assert_eq!(sparkline(&[Some(3.0), Some(3.0)]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn changes_are_in_points_for_rates_and_in_units_otherwise() {
        assert_eq!(change_text(-0.012, &Unit::Percent), "-1.2 pp");
        assert_eq!(change_text(14.0, &Unit::Seconds), "+14s");
        assert_eq!(change_text(0.0, &Unit::Plain), "±0");
        // rounds to 0: no `-0`
        assert_eq!(change_text(-0.0001, &Unit::Plain), "±0");
        assert_eq!(change_text(-0.0, &Unit::Plain), "±0");
        assert_eq!(change_text(-0.00001, &Unit::Percent), "±0 pp");
        assert_eq!(change_text(3.0, &Unit::Points), "+3");
    }
}

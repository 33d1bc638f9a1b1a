//! Queries on top of a program: which KPIs and blends, grouped by which dims, over
//! which rows and which period, and for trends, by which time grain.
//!
//! A query becomes definitions checked together with the program (a view, and a
//! period dim for trends), so every name in it is resolved and typed, and mistakes are
//! reported with their place, exactly as in a `.kpi` file.

use crate::calendar;
use crate::diagnostic::{Code, Diagnostic};
use crate::program::{ItemRef, Program};
use crate::source::{FileId, SourceFile, SourceMap, Span};
use crate::types::ColumnType;

/// Name of the view a query defines.
pub const VIEW: &str = "__query";
/// Name of the dim a trend groups by.
pub const PERIOD: &str = "__period";

/// A period length for trends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
}

impl Grain {
    pub fn parse(s: &str) -> Option<Grain> {
        Some(match s {
            "day" => Grain::Day,
            "week" => Grain::Week,
            "month" => Grain::Month,
            "quarter" => Grain::Quarter,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
        }
    }

    /// The first day (a day number) of the period containing `day`.
    /// Days in the longest period: from a period's first day, this many days on is in the
    /// next period.
    pub fn longest_days(self) -> i64 {
        match self {
            Grain::Day => 1,
            Grain::Week => 7,
            Grain::Month => 31,
            Grain::Quarter => 92,
        }
    }

    pub fn start(self, day: i64) -> i64 {
        match self {
            Grain::Day => day,
            Grain::Week => calendar::week_start(day),
            Grain::Month => calendar::month_start(day),
            Grain::Quarter => calendar::quarter_start(day),
        }
    }
}

/// A query's definitions: their text, the items left out (see
/// [`Query::definitions_skipping`]) and where the parts typed on the command line sit.
#[derive(Debug, Clone)]
pub struct QueryText {
    pub text: String,
    pub skipped: Vec<String>,
    pub pasted: Vec<Pasted>,
}

/// A part of the query typed on the command line, and where it sits in the text.
#[derive(Debug, Clone)]
pub struct Pasted {
    /// The flag it was typed after: `--kpi`, `--by`, `--where`, `--trend`.
    pub flag: &'static str,
    pub range: std::ops::Range<usize>,
    /// What was typed, when the text holds something else in its place (the period dim a
    /// trend groups by: `week`).
    pub typed: Option<String>,
}

impl QueryText {
    /// Points diagnostics at what the user typed: a label inside a part typed on the
    /// command line moves to a source named after its flag (`--where`) that holds that
    /// part, so `--where 'zz'` is an error at `--where:1:1`, not inside a view the user
    /// never wrote. `name` is the query text's file name among `sources`.
    pub fn relocate(&self, diagnostics: &mut [Diagnostic], sources: &mut SourceMap, name: &str) {
        let Some(file) = sources.files().find(|(_, f)| f.name == name).map(|(id, _)| id) else {
            return;
        };
        let mut moved: Vec<Option<FileId>> = vec![None; self.pasted.len()];
        for label in diagnostics.iter_mut().flat_map(|d| d.labels.iter_mut()) {
            let span = label.span;
            let Some(i) = self.pasted.iter().position(|p| {
                span.file == file
                    && p.range.start <= span.range().start
                    && span.range().end <= p.range.end
            }) else {
                continue;
            };
            let p = &self.pasted[i];
            let typed = p.typed.clone().unwrap_or_else(|| self.text[p.range.clone()].to_string());
            let id = *moved[i]
                .get_or_insert_with(|| sources.add(SourceFile::new(p.flag, typed.clone())));
            let start = span.range().start - p.range.start;
            label.span = match p.typed {
                Some(_) => Span::new(id, 0, typed.len()),
                None => Span::new(id, start, start + span.range().len()),
            };
            if p.flag == "--trend" {
                label.message = label.message.replace("a dim of", "periods of the time column of");
            }
        }
        // The period dim is kpiblend's: messages name the trend's periods instead.
        if let Some(p) = self.pasted.iter().find(|p| p.flag == "--trend") {
            let grain = p.typed.clone().unwrap_or_default();
            for d in diagnostics.iter_mut() {
                d.message = d.message.replace(
                    &format!("grouped by `{PERIOD}`"),
                    &format!("shown by {grain} (`--trend {grain}`)"),
                );
            }
        }
    }
}

/// What to compute.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// KPIs and blends by name; empty means all of them.
    pub items: Vec<String>,
    pub by: Vec<String>,
    /// A row condition in the language.
    pub filter: Option<String>,
    /// Half-open period `[from, to)` on the time column: dates or timestamps.
    pub from: Option<String>,
    pub to: Option<String>,
    pub trend: Option<Grain>,
}

impl Query {
    /// The definitions that make this query: a period dim for trends, then the view.
    /// Each part the user typed is on its own line, so diagnostics point at it.
    pub fn definitions(&self, program: &Program) -> Result<String, Diagnostic> {
        self.definitions_skipping(program).map(|(text, _)| text)
    }

    /// As [`Query::definitions`]; when no items were named (all of them), items that
    /// cannot be grouped as asked (their data reaches neither the dims nor the time
    /// column) are left out and returned, so the rest can still be shown.
    pub fn definitions_skipping(
        &self,
        program: &Program,
    ) -> Result<(String, Vec<String>), Diagnostic> {
        self.definitions_placed(program).map(|q| (q.text, q.skipped))
    }

    /// As [`Query::definitions_skipping`], with where each part typed on the command
    /// line sits in the text, for [`QueryText::relocate`].
    pub fn definitions_placed(&self, program: &Program) -> Result<QueryText, Diagnostic> {
        self.validate()?;
        // `--by complexity` where `complexity` is a column, not a dim.
        for b in self.by.iter().map(|b| b.trim()).filter(|b| program.dim(b).is_none()) {
            let column = |d: &&crate::program::DatasetDef| {
                d.declared.iter().chain(d.schema.iter().flatten()).any(|(c, _)| c == b)
            };
            if let Some(ds) = program.datasets.iter().find(column) {
                return Err(Diagnostic::error(
                    Code::BadOverride,
                    format!("--by `{b}`: not a dim; `{}.{b}` is a column", ds.name),
                )
                .help(format!(
                    "group by a dim: define one in the file, `dim {b} = {}.{b}`, then `--by {b}`",
                    ds.name
                )));
            }
        }
        let mut text = String::new();
        let mut by: Vec<String> = self.by.iter().map(|s| s.trim().to_string()).collect();
        let mut conditions: Vec<String> = self.filter.iter().map(|f| format!("({f})")).collect();
        let mut pasted = Vec::new();
        // Datasets the grouping needs to reach: the dims' and, for periods, the time column's.
        let mut targets: Vec<usize> =
            by.iter().filter_map(|d| program.dim(d)).map(|d| program.dims[d].home).collect();
        // The datasets the filter reads (its columns, and the dims it names).
        if let Some(f) = &self.filter
            && let Ok(crate::syntax::ReplInput::Query(q)) =
                crate::syntax::parse_repl(crate::source::FileId(0), &format!("x where {f}"))
            && let Some(cond) = &q.filter
        {
            cond.walk(|e| match &e.kind {
                crate::ast::ExprKind::Column { dataset, .. } => {
                    targets.extend(program.dataset(&dataset.name));
                }
                crate::ast::ExprKind::Name(n) => {
                    targets.extend(program.dim(&n.name).map(|d| program.dims[d].home));
                }
                _ => {}
            });
        }
        if self.trend.is_some() || self.from.is_some() || self.to.is_some() {
            let (dataset, column) = time_column(program).ok_or_else(|| {
                Diagnostic::error(Code::BadOverride, "no dataset has a time column to take periods from")
                    .help("declare one, e.g. `dataset calls = csv(\"calls.csv\") { started_at: time }`, or name it: `csv(\"calls.csv\", time: \"started_at\")`")
            })?;
            let col = format!("{dataset}.{column}");
            targets.extend(program.dataset(&dataset));
            if let Some(grain) = self.trend {
                text.push_str(&format!("dim {PERIOD} = {}({col})\n", grain.name()));
                by.insert(0, PERIOD.to_string());
            }
            if let (Some(from), Some(to)) = (&self.from, &self.to) {
                check_period(from, to, PeriodFlags::FromTo)?;
            }
            if let Some(from) = &self.from {
                conditions.push(format!("{col} >= {}", timestamp(from, "--from")?));
            }
            if let Some(to) = &self.to {
                conditions.push(format!("{col} < {}", timestamp(to, "--to")?));
            }
        }
        let mut skipped = Vec::new();
        let items = if self.items.is_empty() {
            let all = (0..program.kpis.len())
                .map(ItemRef::Kpi)
                .chain((0..program.blends.len()).map(ItemRef::Blend));
            let mut names = Vec::new();
            for item in all {
                let reached = roots(program, item)
                    .into_iter()
                    .all(|r| targets.iter().all(|&t| program.reaches(r, t)));
                let name = program.item_name(item).to_string();
                if reached {
                    names.push(name);
                } else {
                    skipped.push(name);
                }
            }
            names.join(", ")
        } else {
            self.items.iter().map(|s| s.trim()).collect::<Vec<_>>().join(", ")
        };
        text.push_str(&format!("view {VIEW} =\n"));
        if self.items.is_empty() {
            text.push_str(&items);
        } else {
            for (i, item) in self.items.iter().map(|s| s.trim()).enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                pasted.push(Pasted {
                    flag: "--kpi",
                    range: text.len()..text.len() + item.len(),
                    typed: None,
                });
                text.push_str(item);
            }
        }
        text.push('\n');
        if !by.is_empty() {
            text.push_str("by ");
            // The period dim a trend adds comes first; the rest are `--by`'s.
            let added = by.len() - self.by.len();
            for (i, d) in by.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                let range = text.len()..text.len() + d.len();
                if i >= added {
                    pasted.push(Pasted { flag: "--by", range, typed: None });
                } else if let Some(grain) = self.trend.filter(|_| d == PERIOD) {
                    pasted.push(Pasted {
                        flag: "--trend",
                        range,
                        typed: Some(grain.name().into()),
                    });
                }
                text.push_str(d);
            }
            text.push('\n');
        }
        if !conditions.is_empty() {
            text.push_str("where ");
            for (i, c) in conditions.iter().enumerate() {
                if i > 0 {
                    text.push_str("\nand ");
                }
                match (&self.filter, i) {
                    (Some(f), 0) => {
                        text.push('(');
                        pasted.push(Pasted {
                            flag: "--where",
                            range: text.len()..text.len() + f.len(),
                            typed: None,
                        });
                        text.push_str(f);
                        text.push(')');
                    }
                    _ => text.push_str(c),
                }
            }
            text.push('\n');
        }
        Ok(QueryText { text, skipped, pasted })
    }
}

impl Query {
    /// Each part as typed is one thing of its kind: names in `items` and `by`, one
    /// condition in `filter`. The parts are written into a view's text, so `--by 'site
    /// where x'` or `--where 'a) or (true'` would otherwise change its meaning.
    fn validate(&self) -> Result<(), Diagnostic> {
        let name = |s: &str| {
            let s = s.trim();
            s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        };
        let refuse = |flag: &str, text: &str, what: &str| {
            Diagnostic::error(
                Code::BadOverride,
                format!("{flag} `{}`: {what}", crate::render::escape::sanitize_line(text)),
            )
        };
        if let Some(bad) = self.items.iter().find(|s| !name(s)) {
            return Err(refuse("--kpi", bad, "not the name of a KPI or blend")
                .help("name KPIs and blends, separated by commas: `--kpi aht,fcr`"));
        }
        if let Some(bad) = self.by.iter().find(|s| !name(s)) {
            let help = match bad.trim().split_once('.') {
                // `--by contacts.complexity`: a column, which groups through a dim.
                Some((ds, col)) if name(ds) && name(col) => format!(
                    "group by a dim: define one in the file, `dim {col} = {ds}.{col}`, then `--by {col}`"
                ),
                _ => "name dims, separated by commas: `--by site,week`".to_string(),
            };
            return Err(refuse("--by", bad, "not the name of a dim").help(help));
        }
        if let Some(f) = &self.filter {
            // Parsed alone, as the condition of a query, it must be exactly one expression.
            const HEAD: &str = "x where ";
            let text = format!("{HEAD}{f}");
            let whole =
                HEAD.len() + (f.len() - f.trim_start().len())..HEAD.len() + f.trim_end().len();
            let one = match crate::syntax::parse_repl(crate::source::FileId(0), &text) {
                Ok(crate::syntax::ReplInput::Query(q)) => {
                    q.items.len() == 1
                        && q.by.is_empty()
                        && q.filter.is_some_and(|e| e.span.range() == whole)
                }
                _ => false,
            };
            if !one {
                return Err(refuse("--where", f, "not one condition")
                    .help("write one condition over rows, e.g. `--where 'calls.wait_s > 20'`"));
            }
        }
        Ok(())
    }
}

/// The datasets whose rows an item's aggregates read, through the KPIs it uses.
fn roots(program: &Program, item: ItemRef) -> Vec<usize> {
    let mut stack: Vec<usize> = match item {
        ItemRef::Kpi(k) => vec![k],
        ItemRef::Blend(b) => {
            let blend = &program.blends[b];
            let mut ks = blend.components.clone();
            if let Some(g) = &blend.guard {
                crate::eval::kpi_refs(g, &mut ks);
            }
            ks
        }
    };
    let (mut seen, mut out) = (vec![false; program.kpis.len()], Vec::new());
    while let Some(k) = stack.pop() {
        if std::mem::replace(&mut seen[k], true) {
            continue;
        }
        let mut aggs = Vec::new();
        crate::eval::agg_refs(&program.kpis[k].expr, &mut aggs);
        out.extend(aggs.iter().map(|&a| program.aggregates[a].dataset));
        crate::eval::kpi_refs(&program.kpis[k].expr, &mut stack);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// How a period was typed on the command line, to say it back in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodFlags {
    /// `--from START --to END`
    FromTo,
    /// `--vs START END`
    Vs,
}

impl PeriodFlags {
    fn written(self, from: &str, to: &str) -> String {
        match self {
            PeriodFlags::FromTo => format!("--from {from} --to {to}"),
            PeriodFlags::Vs => format!("--vs {from} {to}"),
        }
    }

    fn names(self) -> [&'static str; 2] {
        match self {
            PeriodFlags::FromTo => ["--from", "--to"],
            PeriodFlags::Vs => ["--vs", "--vs"],
        }
    }
}

/// A half-open period `[from, to)` typed on the command line must hold some time: a
/// start after the end, or equal to it, selects no row, and an empty result would read
/// as "no data".
pub fn check_period(from: &str, to: &str, flags: PeriodFlags) -> Result<(), Diagnostic> {
    let [from_flag, to_flag] = flags.names();
    let (start, end) = (instant(from, from_flag)?, instant(to, to_flag)?);
    let written = flags.written(from.trim(), to.trim());
    if start > end {
        return Err(Diagnostic::error(
            Code::BadOverride,
            format!("{written}: the start is after the end"),
        )
        .help(format!("swap them: {}", flags.written(to.trim(), from.trim()))));
    }
    if start == end {
        let mut d = Diagnostic::error(
            Code::BadOverride,
            format!("{written}: the period is empty (its start is included, its end excluded)"),
        );
        d = match date(from) {
            Some(day) => d.help(format!(
                "the end is the first moment left out; for one day: {}",
                flags.written(from.trim(), &calendar::format_date(day + 1))
            )),
            None => d.help("the end is the first moment left out: give a later end"),
        };
        return Err(d);
    }
    Ok(())
}

/// A date typed on the command line, as a day number.
fn date(text: &str) -> Option<i64> {
    match crate::syntax::parse_literal(text.trim())?.kind {
        crate::ast::ExprKind::Date(d) => Some(d),
        _ => None,
    }
}

/// A date or timestamp typed on the command line, in seconds since 1970 (a date is its
/// midnight, UTC).
fn instant(text: &str, flag: &str) -> Result<f64, Diagnostic> {
    let bad = || {
        Diagnostic::error(
            Code::BadOverride,
            format!(
                "{flag} {text}: expected a date such as 2026-03-01 or a timestamp such as 2026-03-01T08:00:00Z"
            ),
        )
    };
    let lit = crate::syntax::parse_literal(text.trim()).ok_or_else(bad)?;
    match lit.kind {
        crate::ast::ExprKind::Date(d) => Ok(d as f64 * 86_400.0),
        crate::ast::ExprKind::Time(t) => Ok(t),
        _ => Err(bad()),
    }
}

/// A date or timestamp typed on the command line, as a timestamp literal.
fn timestamp(text: &str, flag: &str) -> Result<String, Diagnostic> {
    instant(text, flag).map(calendar::format_time)
}

/// The time column periods are taken from: a dataset's `time:` option, else the first
/// time-typed column of the first dataset that has one (declared or in its data).
pub fn time_column(program: &Program) -> Option<(String, String)> {
    for ds in &program.datasets {
        if let Some(c) = &ds.time_column {
            return Some((ds.name.clone(), c.clone()));
        }
    }
    program.datasets.iter().find_map(|ds| {
        let declared = ds.declared.iter();
        let schema = ds.schema.iter().flatten();
        declared
            .chain(schema)
            .find(|(_, t)| *t == ColumnType::Time)
            .map(|(c, _)| (ds.name.clone(), c.clone()))
    })
}

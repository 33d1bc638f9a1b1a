//! `kpiblend eval`: compute every KPI, blend and view over the data.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use kpiblend::check::{self, CheckOptions, Checked};
use kpiblend::data::{BadRows, LoadOptions};
use kpiblend::diagnostic::{Code, Diagnostic};
use kpiblend::eval::{self, Cell, Report, Request, Status, Verdict};
use kpiblend::query::{Grain, Query};
use kpiblend::render::{diagnostics as diag_render, table, trend};

use super::output::{Closed, eprint};
use super::{ColorChoice, Out, Outcome};

#[derive(Args)]
pub struct EvalArgs {
    /// The KPI file (`-`: standard input)
    pub file: PathBuf,
    /// Evaluate a view defined in the file
    #[arg(long, conflicts_with_all = ["kpi", "by", "filter", "from", "to"])]
    pub view: Option<String>,
    /// KPIs and blends to show (comma-separated; default: all)
    #[arg(long, value_delimiter = ',')]
    pub kpi: Vec<String>,
    /// Group by these dims (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    /// Keep only rows where this condition holds, e.g. 'calls.channel == "voice"'
    #[arg(long = "where", value_name = "CONDITION")]
    pub filter: Option<String>,
    /// Only rows from this date or time on (on the time column; see docs/language.md)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only rows before this date or time (half-open: `--to` is excluded)
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Show each KPI's trend over periods: day, week, month or quarter
    #[arg(long, value_name = "GRAIN", value_parser = ["day", "week", "month", "quarter"], conflicts_with_all = ["view", "by"])]
    pub trend: Option<String>,
    /// Drill-down: sort the groups by this KPI or blend, best first; groups with too
    /// little data (insufficient) are listed after the ranked ones
    #[arg(long, value_name = "ITEM")]
    pub sort: Option<String>,
    /// The as-of time for KPIs that measure age (sets the param `as_of`)
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Override a param: NAME=VALUE (e.g. answer_within=30s)
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = super::parse_param_override)]
    pub params: Vec<(String, String)>,
    /// Read a dataset from another file: NAME=PATH
    #[arg(long = "data", value_name = "NAME=PATH", value_parser = super::data_override())]
    pub data: Vec<(String, PathBuf)>,
    /// Output format (default: table)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit 1 when a KPI or blend reaches this level: warn, fail or breach
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// What to do with rows whose values do not parse: fail, or skip them (and say how many)
    #[arg(long, value_enum, default_value_t = BadRowsArg::Fail)]
    pub bad_rows: BadRowsArg,
    /// Stop when a grouping produces more groups than this
    #[arg(long, default_value_t = eval::MAX_GROUPS)]
    pub max_groups: usize,
    /// Worker threads, at most 256 (default: all cores; results do not depend on it)
    #[arg(long, default_value_t = 0, hide_default_value = true, value_parser = threads_arg)]
    pub threads: usize,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FailOn {
    Warn,
    Fail,
    Breach,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BadRowsArg {
    Fail,
    Skip,
}

/// Name of the virtual file holding the command line's query.
const QUERY_FILE: &str = "<command line>";

pub fn run(args: &EvalArgs, color: ColorChoice) -> Result<Outcome, Closed> {
    let err_color = super::use_color(color, std::io::stderr().is_terminal());
    let (strict, skipping) = (eval::FileSchemas, eval::SkippingSchemas);
    let schemas: &dyn check::SchemaSource =
        if args.bad_rows == BadRowsArg::Skip { &skipping } else { &strict };
    if let Err(outcome) = super::params_given_once(&args.params) {
        return Ok(outcome);
    }
    if args.as_of.is_some() && args.params.iter().any(|(n, _)| n == "as_of") {
        eprint("error: --as-of and --param as_of both set the param `as_of`; give one\n");
        return Ok(Outcome::Failure);
    }
    let mut params = args.params.clone();
    if let Some(as_of) = &args.as_of {
        params.push(("as_of".to_string(), as_of.clone()));
    }
    let base = CheckOptions {
        params,
        data: args.data.clone(),
        schemas: Some(schemas),
        ..CheckOptions::default()
    };
    if let Err(outcome) = super::stdin::usage([args.file.as_path()], &args.data) {
        return Ok(outcome);
    }
    let file = match super::stdin::KpiFile::open(&args.file) {
        Ok(file) => file,
        Err(outcome) => return Ok(outcome),
    };
    let mut checked = file.check(&base);
    if args.as_of.is_some() && !checked.program.params.iter().any(|p| p.name == "as_of") {
        eprint(&format!(
            "error: --as-of sets the param `as_of`, which {} does not define\n  = help: add `param as_of = 2026-03-31T00:00:00Z` and use it in the KPIs that measure age\n",
            file.name()
        ));
        return Ok(Outcome::Failure);
    }
    if !report_diagnostics(&checked, err_color) {
        return Ok(super::failure_kind(&checked));
    }
    let query = Query {
        items: args.kpi.clone(),
        by: args.by.clone(),
        filter: args.filter.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        trend: args.trend.as_deref().and_then(Grain::parse),
    };
    let is_query = !args.kpi.is_empty()
        || !args.by.is_empty()
        || args.filter.is_some()
        || args.from.is_some()
        || args.to.is_some()
        || query.trend.is_some();
    if is_query {
        let placed = match query.definitions_placed(&checked.program) {
            Ok(placed) => {
                let skipped = &placed.skipped;
                if !skipped.is_empty() {
                    // What their data cannot reach: the dims, the periods' time column.
                    let mut how = Vec::new();
                    if !args.by.is_empty() {
                        how.push(format!("grouped by {}", args.by.join(", ")));
                    }
                    match &query.trend {
                        Some(g) => how.push(format!("shown by {}", g.name())),
                        None if args.from.is_some() || args.to.is_some() => {
                            how.push("limited to the period".to_string());
                        }
                        None => {}
                    }
                    if args.filter.is_some() {
                        how.push("filtered by --where".to_string());
                    }
                    eprint(&format!(
                        "note: not shown, as their data cannot be {}: {}\n",
                        how.join(" and "),
                        skipped.join(", ")
                    ));
                }
                placed
            }
            Err(d) => {
                print_all(&[d], &checked.program, err_color);
                return Ok(Outcome::Failure);
            }
        };
        let opts = CheckOptions { extra: vec![(QUERY_FILE.into(), placed.text.clone())], ..base };
        checked = file.check(&opts);
        // Mistakes in `--kpi`, `--by` and `--where` are shown in what was typed there.
        placed.relocate(&mut checked.diagnostics, &mut checked.program.sources, QUERY_FILE);
        if !report_diagnostics(&checked, err_color) {
            return Ok(super::query_failure(&checked, QUERY_FILE));
        }
    }
    let program = &checked.program;
    let request = match (&args.view, program.view(kpiblend::query::VIEW)) {
        (Some(name), _) => match program.view(name) {
            Some(v) => Request::view(v),
            None => {
                let names: Vec<&str> = program.views.iter().map(|v| v.name.as_str()).collect();
                let mut msg = format!("error: no view named `{name}` in {}", file.name());
                if let Some(s) = kpiblend::suggest::similar(name, names.iter().copied()) {
                    msg.push_str(&format!("\n  = help: did you mean `{s}`?"));
                } else if !names.is_empty() {
                    msg.push_str(&format!("\n  = help: views: {}", names.join(", ")));
                }
                eprint(&format!("{msg}\n"));
                return Ok(Outcome::Failure);
            }
        },
        (None, Some(v)) => Request::view(v),
        (None, None) => Request::scorecard(program),
    };
    let request = Request { max_groups: args.max_groups, ..request };
    let load = LoadOptions {
        bad_rows: if args.bad_rows == BadRowsArg::Skip { BadRows::Skip } else { BadRows::Fail },
        ..LoadOptions::default()
    };
    let bar = super::progress::start();
    let progress = bar.as_ref().map(|(p, _)| p.clone());
    let request = Request { threads: args.threads, progress, ..request };
    let evaluated = eval::evaluate_files(program, &request, &load);
    if let Some((_, bar)) = bar {
        bar.finish_and_clear();
    }
    let mut report = match evaluated {
        Ok(report) => {
            eprint(&report.warnings.render(err_color));
            report
        }
        Err(errors) => {
            let interrupted = errors.iter().any(|d| d.code == Code::Interrupted);
            print_all(&errors, program, err_color);
            let _ = interrupted;
            return Ok(Outcome::Failure);
        }
    };
    if let Some(item) = &args.sort {
        let Some(i) = report.item(item) else {
            eprint(&format!("error: --sort {item}: not one of the KPIs or blends shown\n"));
            return Ok(Outcome::Failure);
        };
        eval::rank(&mut report, i);
    }
    // Notes of the period asked for, as its rows.
    let day = |t: &Option<String>| {
        t.as_deref().and_then(|t| {
            kpiblend::data::parse_date(t)
                .or_else(|| kpiblend::data::parse_time(t).map(|s| s / 86_400.0))
        })
    };
    let (from, to) = (day(&args.from), day(&args.to));
    #[allow(clippy::cast_precision_loss)]
    report.notes.retain(|n| {
        from.is_none_or(|f| n.date as f64 >= f.floor()) && to.is_none_or(|t| (n.date as f64) < t)
    });
    if query.trend.is_some() && trend::keep_periods(&mut report) {
        eprint(
            "note: rows that reach no time (an empty time, or a link that finds no row) are in no period, so the trend leaves them out; `eval` without `--trend` counts them\n",
        );
    }
    let color = super::use_color(color, std::io::stdout().is_terminal());
    let mut out = Out::stdout();
    let trend = match query.trend.map(|grain| trend::Trend::of(&report, grain)).transpose() {
        Ok(t) => t,
        Err(d) => {
            print_all(&[d], program, err_color);
            return Ok(Outcome::Failure);
        }
    };
    match (&trend, args.format) {
        (Some(t), Format::Table) => out.write(&trend::human(t, color))?,
        (Some(t), Format::Json) => out.line(&trend::json(t))?,
        (_, Format::Table) => out.write(&table::human(&report, color))?,
        (_, Format::Json) => out.line(&table::json(&report))?,
        (_, Format::Csv) => out.write(&table::csv(&report))?,
    }
    out.flush()?;
    let Some(level) = args.fail_on else { return Ok(Outcome::Ok) };
    let hits = reached_by(&report, level);
    if hits.is_empty() {
        return Ok(Outcome::Ok);
    }
    // Said on stderr, so a CI log shows why the step failed whatever the format.
    let level = match level {
        FailOn::Warn => "warn",
        FailOn::Fail => "fail",
        FailOn::Breach => "breach",
    };
    let shown = hits.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = match hits.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    eprint(&format!("error: --fail-on {level}: reached by {shown}{more}\n"));
    Ok(Outcome::Findings)
}

/// The items that reach `level`, with their groups: `aht (bpo-cairo)`, `fcr (total)`.
fn reached_by(report: &Report, level: FailOn) -> Vec<String> {
    let kinds: Vec<_> = report.by.iter().map(|d| d.kind).collect();
    let rows = report.rows.iter().map(|r| (r, false)).chain(report.total.iter().map(|r| (r, true)));
    let mut hits = Vec::new();
    for (row, total) in rows {
        for (meta, cell) in report.items.iter().zip(&row.cells) {
            if !cell_reaches(cell, level) {
                continue;
            }
            let group = if total {
                "total".to_string()
            } else {
                row.key
                    .iter()
                    .zip(&kinds)
                    .map(|(k, kind)| table::key_text(k, *kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            hits.push(if group.is_empty() {
                kpiblend::render::escape::sanitize_line(&meta.name)
            } else {
                kpiblend::render::escape::sanitize_line(&format!("{} ({group})", meta.name))
            });
        }
    }
    hits
}

/// `--threads N`: a count of threads up to [`MAX_THREADS`] (more cost memory and time and
/// help nothing: a file is read in blocks of megabytes).
fn threads_arg(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|e| format!("{e}"))?;
    if n > MAX_THREADS {
        return Err(format!("at most {MAX_THREADS}"));
    }
    Ok(n)
}

const MAX_THREADS: usize = 256;

/// The command line's `--kpi/--by/--where` as a view definition, one part per line so
/// diagnostics point at the part that is wrong.
/// Prints diagnostics to stderr; false when any is an error.
fn report_diagnostics(checked: &Checked, color: bool) -> bool {
    print_all(&checked.diagnostics, &checked.program, color);
    !checked.has_errors()
}

fn print_all(ds: &[Diagnostic], program: &kpiblend::program::Program, color: bool) {
    for d in ds {
        eprint(&diag_render::human(d, &program.sources, color));
    }
}

fn cell_reaches(cell: &Cell, level: FailOn) -> bool {
    match cell {
        Cell::Kpi(k) => match level {
            FailOn::Warn => matches!(k.status, Status::Warn | Status::Fail),
            FailOn::Fail => k.status == Status::Fail,
            FailOn::Breach => false,
        },
        Cell::Blend(b) => b.verdict == Verdict::Breach,
    }
}

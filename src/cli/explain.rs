//! `kpiblend explain-change`: split a KPI's change between two periods into mix (volume
//! moving between groups) and rate (values changing within groups).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Args;
use kpiblend::check::CheckOptions;
use kpiblend::data::LoadOptions;
use kpiblend::eval::{self, Report, Request};
use kpiblend::explain::{self, Explanation};
use kpiblend::program::Program;
use kpiblend::query::{self, Query};
use kpiblend::render::{diagnostics as diag_render, escape, format, table};

use super::output::{Closed, eprint};
use super::stdin::KpiFile;
use super::{ColorChoice, Out, Outcome};

#[derive(Args)]
pub struct ExplainArgs {
    /// The KPI file (`-`: standard input)
    pub file: PathBuf,
    /// The KPI whose change to explain
    #[arg(long)]
    pub kpi: String,
    /// The dims whose groups the volume moves between
    #[arg(long, value_delimiter = ',', required = true)]
    pub by: Vec<String>,
    /// Start of the period to explain (included)
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// End of the period to explain (excluded)
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// The period to compare with: START END (half-open)
    #[arg(long, num_args = 2, value_names = ["START", "END"], required = true)]
    pub vs: Vec<String>,
    /// Override a param: NAME=VALUE
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = super::parse_param_override)]
    pub params: Vec<(String, String)>,
    /// Read a dataset from another file: NAME=PATH
    #[arg(long = "data", value_name = "NAME=PATH", value_parser = super::data_override())]
    pub data: Vec<(String, PathBuf)>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

pub fn run(args: &ExplainArgs, color: ColorChoice) -> Result<Outcome, Closed> {
    let err_color = super::use_color(color, std::io::stderr().is_terminal());
    if let Err(outcome) = super::params_given_once(&args.params) {
        return Ok(outcome);
    }
    if let Err(outcome) = super::stdin::usage([args.file.as_path()], &args.data) {
        return Ok(outcome);
    }
    let file = match KpiFile::open(&args.file) {
        Ok(file) => file,
        Err(outcome) => return Ok(outcome),
    };
    // Both periods are checked before either is evaluated, and `--vs` is named as typed.
    let periods = [
        (&args.from, &args.to, query::PeriodFlags::FromTo),
        (&args.vs[0], &args.vs[1], query::PeriodFlags::Vs),
    ];
    for (from, to, flags) in periods {
        if let Err(d) = query::check_period(from, to, flags) {
            let sources = kpiblend::source::SourceMap::new();
            eprint(&diag_render::human(&d, &sources, err_color));
            return Ok(Outcome::Failure);
        }
    }
    let period = |from: &str, to: &str| Query {
        items: vec![args.kpi.clone()],
        by: args.by.clone(),
        from: Some(from.into()),
        to: Some(to.into()),
        ..Query::default()
    };
    let after = match evaluate(args, &file, &period(&args.from, &args.to), err_color) {
        Ok(r) => r,
        Err(o) => return Ok(o),
    };
    let before = match evaluate(args, &file, &period(&args.vs[0], &args.vs[1]), err_color) {
        Ok(r) => r,
        Err(o) => return Ok(o),
    };
    // Both periods read the same files: say each warning once.
    let mut said = Vec::new();
    for w in [&after.warnings, &before.warnings] {
        for d in &w.diagnostics {
            let text = diag_render::human(d, &w.sources, err_color);
            if !said.contains(&text) {
                eprint(&text);
                said.push(text);
            }
        }
    }
    let e = explain::explain(&args.kpi, &before, &after);
    let mut out = Out::stdout();
    match args.format {
        Format::Json => {
            out.line(&escape::json(serde_json::to_string_pretty(&e).unwrap_or_default()))?
        }
        Format::Table => out.write(&human(&e, &after, args))?,
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

const QUERY_FILE: &str = "<command line>";

/// Checks the file with the period's query and evaluates it.
fn evaluate(args: &ExplainArgs, file: &KpiFile, q: &Query, color: bool) -> Result<Report, Outcome> {
    let schemas = eval::FileSchemas;
    let base = CheckOptions {
        params: args.params.clone(),
        data: args.data.clone(),
        schemas: Some(&schemas),
        ..CheckOptions::default()
    };
    let checked = file.check(&base);
    let show = |ds: &[kpiblend::diagnostic::Diagnostic], p: &Program| {
        for d in ds {
            eprint(&diag_render::human(d, &p.sources, color));
        }
    };
    if checked.has_errors() {
        show(&checked.diagnostics, &checked.program);
        return Err(super::failure_kind(&checked));
    }
    if let Some(blend) = checked.program.blends.iter().find(|b| b.name == args.kpi.trim()) {
        eprint(&blend_refused(blend, &checked.program));
        return Err(Outcome::Failure);
    }
    // The KPI's divisor, when it has one, weighs its groups.
    let volume = explain::volume_definition(&checked.program, args.kpi.trim());
    let q = match &volume {
        Some(_) => &Query { items: vec![args.kpi.clone(), explain::VOLUME.into()], ..q.clone() },
        None => q,
    };
    let placed = q.definitions_placed(&checked.program).map_err(|d| {
        show(&[d], &checked.program);
        Outcome::Failure
    })?;
    // The query's text after the divisor's definition, whose text is the KPI's own.
    let text = placed.text.clone() + &volume.unwrap_or_default();
    let mut checked = file.check(&CheckOptions { extra: vec![(QUERY_FILE.into(), text)], ..base });
    placed.relocate(&mut checked.diagnostics, &mut checked.program.sources, QUERY_FILE);
    if checked.has_errors() {
        show(&checked.diagnostics, &checked.program);
        return Err(super::query_failure(&checked, QUERY_FILE));
    }
    let Some(view) = checked.program.view(query::VIEW) else { return Err(Outcome::Failure) };
    match eval::evaluate_files(&checked.program, &Request::view(view), &LoadOptions::default()) {
        Ok(report) => Ok(report),
        Err(ds) => {
            show(&ds, &checked.program);
            Err(Outcome::Failure)
        }
    }
}

/// A blend's score is not a sum over rows, so it has no mix and rate to split into: its
/// KPIs' changes are what can be explained.
fn blend_refused(blend: &kpiblend::program::BlendDef, program: &Program) -> String {
    let kpis: Vec<String> =
        blend.components.iter().map(|&k| format!("`--kpi {}`", program.kpis[k].name)).collect();
    format!(
        "error: --kpi {name}: `{name}` is a blend; explain-change explains the change of a KPI\n  \
         = help: explain the blend's KPIs one at a time: {}\n",
        kpis.join(", "),
        name = blend.name,
    )
}

fn human(e: &Explanation, after: &Report, args: &ExplainArgs) -> String {
    let unit = after.items.first().map(|i| i.unit.clone()).unwrap_or(kpiblend::types::Unit::Plain);
    let v = |x: Option<f64>| format::value(x, &unit);
    let kinds: Vec<_> = after.by.iter().map(|d| d.kind).collect();
    let mut out = format!(
        "{}: {} to {} compared with {} to {}\n\n",
        e.kpi, args.from, args.to, args.vs[0], args.vs[1]
    );
    let mut rows = vec![vec![
        "group".to_string(),
        "volume before".into(),
        "volume after".into(),
        "before".into(),
        "after".into(),
        "change".into(),
    ]];
    for g in &e.groups {
        let key = g
            .key
            .iter()
            .zip(&kinds)
            .map(|(k, kind)| table::key_text(k, *kind))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(vec![
            key,
            format::plain(g.volume_before),
            format::plain(g.volume_after),
            v(g.before),
            v(g.after),
            g.change.map_or("–".into(), |c| kpiblend::render::trend::change_text(c, &unit)),
        ]);
    }
    let widths: Vec<usize> =
        (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let change = |c: f64| kpiblend::render::trend::change_text(c, &unit);
    let _ = writeln!(out, "\noverall: {} → {}", v(e.before), v(e.after));
    if let Some(c) = e.change {
        let _ = writeln!(out, "change:  {}", change(c));
        if e.additive {
            let _ = writeln!(
                out,
                "  the groups add up to the total, so the change is the sum of theirs (no mix to split)"
            );
        } else if !e.residual_causes.contains(&explain::ResidualCause::NoVolume) {
            let _ =
                writeln!(out, "  due to mix (volume moving between groups):  {}", change(e.mix));
            let _ =
                writeln!(out, "  due to rate (values changing within groups): {}", change(e.rate));
        }
        if let Some(r) = e.residual.filter(|r| r.abs() > 1e-9 * c.abs().max(1.0)) {
            let causes: Vec<&str> = e.residual_causes.iter().map(|c| c.text()).collect();
            let why =
                if causes.is_empty() { String::new() } else { format!(" ({})", causes.join("; ")) };
            let _ = writeln!(out, "  not explained by either{why}: {}", change(r));
        }
    }
    if e.simpson {
        let _ = writeln!(
            out,
            "\nwarning: every group moved the other way from the total: the change is the mix of groups, not their values (Simpson's paradox)"
        );
    }
    out
}

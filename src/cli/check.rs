//! `kpiblend check`: validate KPI files for CI.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use kpiblend::check::CheckOptions;
use kpiblend::diagnostic::{Code, Diagnostic};
use kpiblend::render::diagnostics as render;
use kpiblend::source::SourceMap;

use super::output::Closed;
use super::{ColorChoice, Out, Outcome};

#[derive(Args)]
pub struct CheckArgs {
    /// KPI files to check (`-`: standard input)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Do not read data files (column names and types are then not checked)
    #[arg(long)]
    pub no_data: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit 1 on warnings too
    #[arg(long)]
    pub deny_warnings: bool,
    /// Override a dataset's file: NAME=PATH
    #[arg(long = "data", value_name = "NAME=PATH", value_parser = super::data_override())]
    pub data: Vec<(String, PathBuf)>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
}

pub fn run(args: &CheckArgs, color: ColorChoice) -> Result<Outcome, Closed> {
    let color = super::use_color(color, std::io::stdout().is_terminal());
    let mut out = Out::stdout();
    let mut outcome = Outcome::Ok;
    let mut json_items = Vec::new();
    let (mut errors, mut warnings) = (0, 0);
    let schemas = kpiblend::eval::FileSchemas;
    let fixtures = kpiblend::eval::FixtureFiles;
    if let Err(outcome) = super::stdin::usage(args.files.iter().map(PathBuf::as_path), &args.data) {
        return Ok(outcome);
    }
    // With several files, `--data` need only fit one of them: said once, at the end.
    let shared_overrides = args.files.len() > 1;
    let (mut params, mut datasets) = (Vec::new(), Vec::new());
    // Files checked together share imports and data: a finding in them is said once.
    let mut said = std::collections::HashSet::new();
    for path in &args.files {
        let opts = CheckOptions {
            data: args.data.clone(),
            shared_overrides,
            schemas: if args.no_data { None } else { Some(&schemas) },
            // Test data is part of the project, so it is read even with `--no-data`.
            fixtures: Some(&fixtures),
            ..CheckOptions::default()
        };
        let file = match super::stdin::KpiFile::open(path) {
            Ok(file) => file,
            Err(failure) => {
                outcome = failure;
                continue;
            }
        };
        let checked = file.check(&opts);
        let program = &checked.program;
        params.extend(program.params.iter().map(|p| p.name.clone()));
        datasets.extend(program.datasets.iter().map(|d| d.name.clone()));
        outcome = outcome.max_with(outcome_of(&checked.diagnostics, args.deny_warnings));
        let (fresh, repeated): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
            checked.diagnostics.iter().partition(|d| said.insert(key(d, &program.sources)));
        let fresh: Vec<Diagnostic> = fresh.into_iter().cloned().collect();
        write(&mut out, &fresh, &program.sources, args.format, color, &mut json_items)?;
        let repeated_errors = repeated.iter().filter(|d| d.is_error()).count();
        errors += checked.errors - repeated_errors;
        warnings += checked.warnings - (repeated.len() - repeated_errors);
    }
    if shared_overrides {
        let (params, datasets) = (sorted(&params), sorted(&datasets));
        let unmatched = kpiblend::check::unmatched_overrides(&[], &args.data, &params, &datasets);
        outcome = outcome.max_with(outcome_of(&unmatched, args.deny_warnings));
        let sources = kpiblend::source::SourceMap::new();
        write(&mut out, &unmatched, &sources, args.format, color, &mut json_items)?;
        errors += unmatched.len();
    }
    match args.format {
        Format::Json => out.line(&kpiblend::render::escape::json(
            serde_json::to_string_pretty(&json_items).unwrap_or_default(),
        ))?,
        Format::Human => {
            let files = args.files.len();
            let summary = if errors + warnings == 0 {
                format!(
                    "checked {files} file{}: no problems found",
                    if files == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "checked {files} file{}: {}",
                    if files == 1 { "" } else { "s" },
                    render::tally(errors, warnings)
                )
            };
            out.line(&summary)?;
        }
        Format::Github => {}
    }
    out.flush()?;
    Ok(outcome)
}

/// What makes two diagnostics the same finding: the place (the file however its path is
/// spelt: `d.csv`, `./d.csv`), the code and the message.
fn key(d: &Diagnostic, sources: &SourceMap) -> String {
    let p = render::position(d, sources);
    let file =
        std::fs::canonicalize(&p.file).map_or_else(|_| p.file.clone(), |f| f.display().to_string());
    let data = d.data.as_ref().map(|x| (x.record, x.column.clone()));
    format!("{file}\0{:?}\0{:?}\0{}\0{}\0{data:?}", p.start, p.end, d.code, d.message)
}

/// Unreadable files and `--data` that fits nothing are exit 2, other errors exit 1.
fn outcome_of(diagnostics: &[Diagnostic], deny_warnings: bool) -> Outcome {
    let usage_or_io = diagnostics.iter().any(|d| {
        d.code == Code::CannotRead
            || d.code == Code::NotUtf8 && d.labels.is_empty()
            || d.code == Code::FileTooLarge
            || d.code == Code::BadOverride
    });
    if usage_or_io {
        Outcome::Failure
    } else if diagnostics.iter().any(Diagnostic::is_error)
        || (deny_warnings && !diagnostics.is_empty())
    {
        Outcome::Findings
    } else {
        Outcome::Ok
    }
}

fn write(
    out: &mut Out,
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    format: Format,
    color: bool,
    json_items: &mut Vec<serde_json::Value>,
) -> Result<(), Closed> {
    match format {
        Format::Human => {
            for d in diagnostics {
                out.write(&render::human(d, sources, color))?;
            }
        }
        Format::Json => json_items.extend(
            diagnostics
                .iter()
                .map(|d| serde_json::to_value(render::json_value(d, sources)).unwrap_or_default()),
        ),
        Format::Github => {
            for d in diagnostics {
                out.line(&render::github(d, sources))?;
            }
        }
    }
    Ok(())
}

fn sorted(names: &[String]) -> Vec<&str> {
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names
}

impl Outcome {
    pub fn max_with(self, other: Outcome) -> Outcome {
        let rank = |o: Outcome| match o {
            Outcome::Ok => 0,
            Outcome::Findings => 1,
            Outcome::Failure => 2,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

//! The command line: argument parsing (clap), output streams, colour and exit codes.
//! Exit codes: 0 ok (warnings allowed), 1 findings (errors, failed expectations,
//! `--fail-on`), 2 usage, I/O or data errors. A closed stdout ends the run quietly.

mod check;
mod eval;
mod explain;
mod fmt;
mod output;
mod progress;
mod repl;
mod stdin;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal as _;

use clap::{Parser, Subcommand, ValueEnum};
use kpiblend::diagnostic::Code;

pub use output::Out;

#[derive(Parser)]
#[command(
    name = "kpiblend",
    version,
    about = "Contact-center KPIs: define, check and evaluate guarded KPI blends",
    propagate_version = true
)]
pub struct Cli {
    /// When to use colour: auto (a terminal without NO_COLOR), always, never
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check KPI files for errors (syntax, names, types, units, cycles, data headers)
    Check(check::CheckArgs),
    /// Evaluate KPIs, blends and views over the data (a scorecard, or grouped with --by)
    Eval(eval::EvalArgs),
    /// Split a KPI's change between two periods into mix and rate (and spot Simpson's paradox)
    ExplainChange(explain::ExplainArgs),
    /// Format KPI files in the canonical layout (comments and paragraphs kept)
    Fmt(fmt::FmtArgs),
    /// Run the `test` blocks of KPI files
    Test(test::TestArgs),
    /// Explore KPIs interactively: load a file, define, query (also: `kpiblend` on a terminal)
    Repl(repl::ReplArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Process outcome, mapped to an exit code in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Findings,
    Failure,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
            Outcome::Failure => ExitCode::from(2),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let color = cli.color;
    let result = match cli.command {
        Some(Command::Check(args)) => check::run(&args, color),
        Some(Command::Eval(args)) => eval::run(&args, color),
        Some(Command::Repl(args)) => repl::run(&args, color),
        Some(Command::Fmt(args)) => fmt::run(&args, color),
        Some(Command::ExplainChange(args)) => explain::run(&args, color),
        Some(Command::Test(args)) => test::run(&args, color),
        None if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() => {
            repl::run(&repl::ReplArgs::default(), color)
        }
        None => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(outcome) => outcome.into(),
        // A closed pipe ends quietly; a failed write (a full disk) was reported: exit 2.
        Err(output::Closed) if output::FAILED.load(std::sync::atomic::Ordering::Relaxed) => {
            ExitCode::from(2)
        }
        Err(output::Closed) => ExitCode::SUCCESS,
    }
}

/// What clap would do for `--help`, `--version` and usage errors, with the writing
/// checked: help written to a full disk is an error (exit 2), not a silent success; a
/// closed pipe ends quietly.
fn clap_exit(e: &clap::Error) -> ExitCode {
    match e.print().and_then(|()| std::io::Write::flush(&mut std::io::stdout())) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            output::eprint(&format!(
                "error: cannot write output: {}\n",
                kpiblend::check::io_reason(&err)
            ));
            ExitCode::from(2)
        }
        _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
    }
}

/// A `--param` or `--data` name given twice (scripts append overrides to a default command
/// line, and the first value would win without a word): a usage error, exit 2.
pub fn given_once(flag: &str, names: &[&str]) -> Result<(), Outcome> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            output::eprint(&format!(
                "error: {flag} {}=… is given twice; give each name once\n",
                kpiblend::render::escape::sanitize_line(name)
            ));
            return Err(Outcome::Failure);
        }
    }
    Ok(())
}

/// [`given_once`] for `--param` names.
pub fn params_given_once(params: &[(String, String)]) -> Result<(), Outcome> {
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    given_once("--param", &names)
}

/// Whether to colour a stream.
pub fn use_color(choice: ColorChoice, stream_is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stream_is_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// `NAME=PATH` for `--data`.
/// `NAME=PATH` for `--data`, the path as any bytes the system allows (a Latin-1 file name).
pub fn data_override() -> impl clap::builder::TypedValueParser<Value = (String, PathBuf)> {
    use clap::builder::TypedValueParser as _;
    clap::builder::OsStringValueParser::new().try_map(|s: std::ffi::OsString| {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
            let bytes = s.into_vec();
            let shown = String::from_utf8_lossy(&bytes).into_owned();
            let usage = || format!("expected NAME=PATH, found `{shown}`");
            let at = bytes.iter().position(|&b| b == b'=').ok_or_else(usage)?;
            let name = std::str::from_utf8(&bytes[..at]).map_err(|_| usage())?;
            let path = std::ffi::OsStr::from_bytes(&bytes[at + 1..]);
            if name.is_empty() || path.is_empty() {
                return Err(usage());
            }
            Ok((name.to_string(), PathBuf::from(path)))
        }
        #[cfg(not(unix))]
        match s.to_str() {
            Some(s) => parse_data_override(s),
            None => Err("expected NAME=PATH in UTF-8".to_string()),
        }
    })
}

#[cfg(not(unix))]
fn parse_data_override(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) =
        s.split_once('=').ok_or_else(|| format!("expected NAME=PATH, found `{s}`"))?;
    if name.is_empty() || path.is_empty() {
        return Err(format!("expected NAME=PATH, found `{s}`"));
    }
    Ok((name.to_string(), PathBuf::from(path)))
}

/// `NAME=VALUE` for `--param`.
pub fn parse_param_override(s: &str) -> Result<(String, String), String> {
    let (name, value) =
        s.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, found `{s}`"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, found `{s}`"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Missing or unreadable files and data, and `--param`/`--data` that do not fit, are
/// exit 2; mistakes in the definitions exit 1.
pub fn failure_kind(checked: &kpiblend::check::Checked) -> Outcome {
    failure_of(&checked.diagnostics)
}

/// [`failure_kind`] of a program checked with a query's definitions (named `query_file`,
/// the flags' parts relocated to sources named after them): a mistake in the flags is a
/// usage error (exit 2), one in the file a finding.
pub fn query_failure(checked: &kpiblend::check::Checked, query_file: &str) -> Outcome {
    let in_flags = checked.diagnostics.iter().filter(|d| d.is_error()).any(|d| {
        d.primary_span()
            .and_then(|s| checked.program.sources.get(s.file))
            .is_some_and(|f| f.name.starts_with("--") || f.name == query_file)
    });
    if in_flags { Outcome::Failure } else { failure_kind(checked) }
}

/// [`failure_kind`] of a list of diagnostics with errors among them.
pub fn failure_of(diagnostics: &[kpiblend::diagnostic::Diagnostic]) -> Outcome {
    let io = diagnostics.iter().any(|d| {
        d.is_error()
            && matches!(
                d.code,
                Code::CannotRead
                    | Code::FileTooLarge
                    | Code::DataFile
                    | Code::CsvFormat
                    | Code::BadValue
                    | Code::DataLimit
                    | Code::BadOverride
            )
    });
    if io { Outcome::Failure } else { Outcome::Findings }
}

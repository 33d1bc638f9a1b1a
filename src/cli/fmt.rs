//! `kpiblend fmt`: rewrite KPI files in the canonical layout (see `kpiblend::format`).
//!
//! With files, each one that changes is replaced atomically (a temporary file in the
//! same directory, then a rename), so an interrupted run never leaves half a file.
//! `--check` and `--diff` write nothing. With no file, or `-`, standard input is
//! formatted to standard output. Exit codes: 0 nothing to do (or all rewritten), 1 a
//! file would change (`--check`, `--diff`) or does not parse, 2 a file cannot be read
//! or written.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::Args;
use kpiblend::diagnostic::{Code, Diagnostic};
use kpiblend::format;
use kpiblend::render::diagnostics as render;
use kpiblend::source::{SourceFile, SourceMap};

use super::output::{self, Closed};
use super::{ColorChoice, Out, Outcome};

#[derive(Args)]
pub struct FmtArgs {
    /// Files to format (standard input when none, or `-`)
    pub files: Vec<std::path::PathBuf>,
    /// Do not write; exit 1 and name the files that would change
    #[arg(long)]
    pub check: bool,
    /// Do not write; print a unified diff of the changes (exit 1 if any)
    #[arg(long)]
    pub diff: bool,
}

/// What to do with a file's formatted text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Check,
    Diff,
}

pub fn run(args: &FmtArgs, color: ColorChoice) -> Result<Outcome, Closed> {
    let color = super::use_color(color, std::io::stderr().is_terminal());
    let mode = match (args.diff, args.check) {
        (true, _) => Mode::Diff,
        (false, true) => Mode::Check,
        (false, false) => Mode::Write,
    };
    let mut out = Out::stdout();
    let stdin = [PathBuf::from("-")];
    let files = if args.files.is_empty() { &stdin[..] } else { &args.files[..] };
    if let Err(outcome) = super::stdin::usage(files.iter().map(PathBuf::as_path), &[]) {
        return Ok(outcome);
    }
    let mut outcome = Outcome::Ok;
    for path in files {
        let result = if super::stdin::is_dash(path) {
            stdin_file(mode, color, &mut out)?
        } else {
            one_file(path, mode, color, &mut out)?
        };
        outcome = outcome.max_with(result);
    }
    out.flush()?;
    Ok(outcome)
}

/// Formats standard input: the text to stdout (nothing with `--check`).
fn stdin_file(mode: Mode, color: bool, out: &mut Out) -> Result<Outcome, Closed> {
    const NAME: &str = super::stdin::NAME;
    let bytes = match super::stdin::read() {
        Ok(bytes) => bytes,
        Err(message) => {
            output::eprint(&format!("error: {message}\n"));
            return Ok(Outcome::Failure);
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            not_utf8(NAME, e.as_bytes(), color);
            return Ok(Outcome::Findings);
        }
    };
    let Some(formatted) = formatted(NAME, &text, color) else { return Ok(Outcome::Findings) };
    match mode {
        Mode::Write => {
            out.write(&formatted)?;
            Ok(Outcome::Ok)
        }
        Mode::Check | Mode::Diff => report_change(NAME, &text, &formatted, mode, out),
    }
}

fn one_file(path: &Path, mode: Mode, color: bool, out: &mut Out) -> Result<Outcome, Closed> {
    let name = path.display().to_string();
    let text = match kpiblend::check::read_source(path) {
        Ok(text) => text,
        Err((Code::NotUtf8, message)) => {
            // not text, so it does not parse: a finding, shown at the first bad byte
            match std::fs::read(path) {
                Ok(bytes) if std::str::from_utf8(&bytes).is_err() => {
                    not_utf8(&name, &bytes, color);
                }
                _ => output::eprint(&format!("error: {message}\n")),
            }
            return Ok(Outcome::Findings);
        }
        Err((code, message)) => {
            let d = Diagnostic::error(code, message).in_file(name);
            output::eprint(&render::human(&d, &SourceMap::new(), color));
            return Ok(Outcome::Failure);
        }
    };
    let Some(formatted) = formatted(&name, &text, color) else { return Ok(Outcome::Findings) };
    match mode {
        Mode::Check | Mode::Diff => report_change(&name, &text, &formatted, mode, out),
        Mode::Write if formatted == text => Ok(Outcome::Ok),
        Mode::Write => match kpiblend::write::replace_file(path, &formatted) {
            Ok(()) => Ok(Outcome::Ok),
            Err(e) => {
                output::eprint(&format!(
                    "error: cannot write {name}: {}\n",
                    kpiblend::check::io_reason(&e)
                ));
                Ok(Outcome::Failure)
            }
        },
    }
}

/// The formatted text, or `None` after printing why there is none.
fn formatted(name: &str, text: &str, color: bool) -> Option<String> {
    match format::format_file(name, text) {
        Ok(f) => {
            if f.too_large {
                output::eprint(&format!(
                    "warning: {name} left unchanged: formatted, it would be larger than {} MiB, \
                     the limit of a KPI file\n",
                    kpiblend::check::MAX_SOURCE_BYTES >> 20
                ));
            } else if f.refused {
                output::eprint(&format!(
                    "warning: {name} left unchanged: its formatted text would not read back \
                     the same (a formatter bug; please report it)\n"
                ));
            }
            Some(f.text)
        }
        Err(diagnostics) => {
            let mut sources = SourceMap::new();
            sources.add(SourceFile::new(name, text));
            for d in &diagnostics {
                output::eprint(&render::human(d, &sources, color));
            }
            None
        }
    }
}

/// The diagnostic of a file that is not UTF-8, pointing at the first bad byte.
fn not_utf8(name: &str, bytes: &[u8], color: bool) {
    let Err(e) = std::str::from_utf8(bytes) else { return };
    let mut sources = SourceMap::new();
    let id = sources.add(SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned()));
    output::eprint(&render::human(&kpiblend::syntax::not_utf8(id, bytes, &e), &sources, color));
}

/// `--check` and `--diff`: say whether (and how) the file would change.
fn report_change(
    name: &str,
    text: &str,
    formatted: &str,
    mode: Mode,
    out: &mut Out,
) -> Result<Outcome, Closed> {
    if formatted == text {
        return Ok(Outcome::Ok);
    }
    if mode == Mode::Diff {
        let diff = similar::TextDiff::from_lines(text, formatted);
        out.write(&diff.unified_diff().context_radius(3).header(name, name).to_string())?;
    } else {
        out.line(&format!("would reformat: {name}"))?;
    }
    Ok(Outcome::Findings)
}

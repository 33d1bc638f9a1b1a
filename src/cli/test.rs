//! `kpiblend test`: run the `test` blocks of KPI files.
//!
//! Exit codes: 0 every test passed, 1 an expectation failed or the definitions have
//! errors (as `check` says), 2 an error running a test (a file that cannot be read, a bad
//! fixture, a missing column).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use kpiblend::testing::{self, report};

use super::output::{Closed, eprint};
use super::stdin::{self, KpiFile};
use super::{ColorChoice, Out, Outcome};

#[derive(Args)]
pub struct TestArgs {
    /// KPI files whose `test` blocks to run (default: the *.kpi files of the current
    /// directory; `-`: standard input)
    pub files: Vec<PathBuf>,
    /// Run only the tests whose names contain this text
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Junit,
}

pub fn run(args: &TestArgs, color: ColorChoice) -> Result<Outcome, Closed> {
    let files = if args.files.is_empty() {
        match kpi_files(Path::new(".")) {
            Ok(files) if !files.is_empty() => files,
            Ok(_) => {
                eprint("error: no .kpi files in the current directory; name the files to test\n");
                return Ok(Outcome::Failure);
            }
            Err(e) => {
                eprint(&format!(
                    "error: cannot list the current directory: {}\n",
                    kpiblend::check::io_reason(&e)
                ));
                return Ok(Outcome::Failure);
            }
        }
    } else {
        // A file named twice (`a.kpi ./a.kpi`) runs once: JUnit needs each test once.
        let mut seen = std::collections::HashSet::new();
        args.files
            .iter()
            .filter(|f| {
                stdin::is_dash(f) || seen.insert(std::fs::canonicalize(f).unwrap_or((*f).clone()))
            })
            .cloned()
            .collect()
    };
    if let Err(outcome) = stdin::usage(files.iter().map(PathBuf::as_path), &[]) {
        return Ok(outcome);
    }
    let mut runs: Vec<report::Run> = Vec::new();
    for path in &files {
        let filter = args.filter.as_deref();
        let file = match KpiFile::open(path) {
            Ok(file) => file,
            Err(outcome) => return Ok(outcome),
        };
        let result = match &file {
            KpiFile::Path(path) => testing::run_file(path, filter),
            KpiFile::Stdin(bytes) => {
                testing::run_bytes(stdin::NAME, bytes.clone(), Path::new(""), filter)
            }
        };
        runs.push(report::Run { file: file.name(), result });
    }
    let counts = report::counts(&runs);
    let mut out = Out::stdout();
    match args.format {
        Format::Human => {
            let color = super::use_color(color, std::io::stdout().is_terminal());
            out.write(&report::human(&runs, color))?;
        }
        Format::Json => out.line(&report::json(&runs))?,
        Format::Junit => out.write(&report::junit(&runs))?,
    }
    out.flush()?;
    if counts.passed + counts.failed + counts.errors == 0 {
        let why = match &args.filter {
            Some(f) => format!("no test name contains `{f}`"),
            None => "the files have no `test` blocks".to_string(),
        };
        eprint(&format!("note: no tests ran: {why}\n"));
    }
    Ok(outcome(&runs))
}

/// The worst of the runs: a file whose definitions have errors is a finding (exit 1, as
/// `check` gives), unless it could not be read; a test that could not run is exit 2.
fn outcome(runs: &[report::Run]) -> Outcome {
    runs.iter().fold(Outcome::Ok, |outcome, run| {
        outcome.max_with(match &run.result {
            Err(e) => super::failure_of(&e.diagnostics),
            Ok(r) => {
                let c = r.counts();
                if c.errors > 0 {
                    Outcome::Failure
                } else if c.failed > 0 {
                    Outcome::Findings
                } else {
                    Outcome::Ok
                }
            }
        })
    })
}

/// The `.kpi` files of a directory, sorted.
fn kpi_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "kpi") && path.is_file() {
            files.push(path.strip_prefix(".").map_or(path.clone(), Path::to_path_buf));
        }
    }
    files.sort();
    Ok(files)
}

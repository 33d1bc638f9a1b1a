//! Running the `test` blocks of a `.kpi` file (`kpiblend test`).
//!
//! ```text
//! test "aht counts handled contacts only" {
//!     calls = csv """
//!         contact_id,abandoned,talk_s
//!         1,false,100
//!         2,true,
//!     """
//!     surveys = csv("fixtures/surveys.csv")
//!     expect aht == 100
//!     expect aht[site = "north", week = 2026-03-02] == 240 within 1
//!     expect aht.status == ok
//!     expect aht_with_csat.verdict == breach
//! }
//! ```
//!
//! Semantics:
//! - A test's datasets replace the file's data for that test; a dataset the test does not
//!   give is empty (no rows). Fixture files resolve against the directory of the `.kpi`
//!   file; they are read with the dataset's declared types, delimiter and null tokens,
//!   which `csv("f.csv", delimiter: ";", null: "N/A")` in the test may override.
//! - Only what the expectations need is evaluated: the expected KPIs and blends, the KPIs
//!   they use, the dims of the group selectors and the links between. A fixture may leave
//!   out every other column; one that lacks a needed column is a test error naming it.
//! - Values are in the KPI's raw unit: seconds for durations, fractions for percents
//!   (`75%` is 0.75), days since 1970-01-01 for dates.
//! - Numbers are equal when they differ by at most [`DEFAULT_TOLERANCE`], absolute or
//!   relative to the larger magnitude, whichever is larger (so `0.1 + 0.2 == 0.3` and
//!   `1e12 + 1e-3 == 1e12`); `within W` replaces that with the absolute tolerance `W`.
//!   The ordering operators treat values within the tolerance as equal: `<` needs
//!   `actual < expected - tolerance`, `<=` accepts `actual <= expected + tolerance`.
//! - `null` is expected with `==` or `!=`; a null value is `!=` every number and satisfies
//!   no ordering.
//! - `.status` (KPIs) and `.verdict` (blends) compare with `==` and `!=` against the words
//!   `none ok warn fail insufficient` and `pass breach insufficient`; without a field, an
//!   expected word compares the status or verdict (`expect aht_with_csat == breach`).
//!   `.score` and `.value` of a blend are its score (0–100). `warn` is a reserved word,
//!   so it is written as a string, `expect aht.status == "warn"` (any word may be).
//! - Only the tests written in the file itself run, not those of the files it imports.
//!
//! The library never prints: [`run_file`] returns values, and [`report`] renders them.

mod expect;
mod fixture;
pub mod report;

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::check::{self, CheckOptions, Checked};
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::{self, Data, Request};
use crate::program::{CmpOp, DimId, ItemRef, Program, TestDef, Unit};
use crate::source::{FileId, SourceMap, Span};

pub use crate::api::Error;

/// Numbers closer than this, absolutely or relative to the larger magnitude, are equal.
pub const DEFAULT_TOLERANCE: f64 = 1e-9;

/// The results of one file's tests.
#[derive(Debug, Clone, Serialize)]
pub struct FileResults {
    /// The file as named by the caller.
    pub file: String,
    /// The tests that ran (those the filter kept), in file order.
    pub tests: Vec<TestResult>,
    /// The file and its imports, for rendering spans and diagnostics.
    #[serde(skip)]
    pub sources: SourceMap,
}

impl FileResults {
    /// Tests that passed, failed and had errors.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for t in &self.tests {
            match t.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Error => c.errors += 1,
            }
        }
        c
    }
}

/// How many tests passed, failed and had errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    /// The test or expectation could not be run (bad fixture, missing column, bad value).
    Error,
}

/// One `test` block.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub line: usize,
    pub column: usize,
    /// Error if anything errored, else failed if any expectation failed, else passed.
    pub outcome: Outcome,
    /// Wall-clock time of the test, in seconds.
    pub seconds: f64,
    /// Errors that stopped the whole test (its data could not be loaded or evaluated);
    /// the expectations did not run then and `expects` is empty.
    pub errors: Vec<Diagnostic>,
    pub expects: Vec<ExpectResult>,
}

/// One `expect` line.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectResult {
    /// The line as written (whitespace runs collapsed).
    pub text: String,
    #[serde(skip)]
    pub span: Span,
    pub line: usize,
    pub column: usize,
    pub subject: String,
    pub field: Field,
    /// The group selector: dim and value as written.
    pub group: Vec<GroupPick>,
    #[serde(serialize_with = "ser_op")]
    pub op: CmpOp,
    pub expected: TestValue,
    /// The tolerance numbers were compared with (`within`, or the default rule's).
    pub tolerance: Option<f64>,
    /// What the data gave; absent when the expectation could not be evaluated or its
    /// group is not in the data.
    pub actual: Option<TestValue>,
    /// `actual - expected`, for numbers.
    pub difference: Option<f64>,
    /// The subject's unit (numbers are raw: seconds, fractions).
    pub unit: Unit,
    /// Rows or values behind the actual value (a KPI's sample size).
    pub n: Option<u64>,
    pub outcome: Outcome,
    /// Context for a failure: the missing group, the target behind a status, a failed guard.
    pub message: Option<String>,
    /// Why the expectation could not be evaluated (outcome `error`).
    pub error: Option<Diagnostic>,
}

pub use crate::program::ExpectField as Field;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPick {
    pub dim: String,
    pub value: String,
}

/// An expected or actual value: a number, null, or a status/verdict word.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TestValue {
    Number(f64),
    Null,
    Word(String),
}

fn ser_op<S: serde::Serializer>(op: &CmpOp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(op.as_str())
}

/// Runs the tests of a `.kpi` file whose names contain `filter`. `Err` when the file
/// cannot be read or its definitions have errors (checked without data: tests bring
/// their own).
pub fn run_file(path: &Path, filter: Option<&str>) -> Result<FileResults, Error> {
    let checked = check::check_path(path, &options());
    finish(path.display().to_string(), checked, filter)
}

/// [`run_file`] on text; fixture paths and imports resolve against `base_dir`.
pub fn run_source(
    name: &str,
    text: &str,
    base_dir: &Path,
    filter: Option<&str>,
) -> Result<FileResults, Error> {
    let checked = check::check_text(name, text, base_dir, &options());
    finish(name.to_string(), checked, filter)
}

/// [`run_source`] on bytes read by the caller (standard input): text that is not UTF-8
/// is an error at its first bad byte.
pub fn run_bytes(
    name: &str,
    bytes: Vec<u8>,
    base_dir: &Path,
    filter: Option<&str>,
) -> Result<FileResults, Error> {
    let checked = check::check_bytes(name, bytes, base_dir, &options());
    finish(name.to_string(), checked, filter)
}

/// The definitions are checked without data (tests bring their own), against each
/// test's data.
fn options() -> CheckOptions<'static> {
    CheckOptions {
        fixtures: Some(&eval::FixtureFiles),
        fixture_columns_at_run: true,
        ..CheckOptions::default()
    }
}

fn finish(file: String, checked: Checked, filter: Option<&str>) -> Result<FileResults, Error> {
    let Checked { program, diagnostics, .. } = checked;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Error { diagnostics, sources: program.sources });
    }
    // The root file is read first; imports come after it.
    let root = FileId(0);
    let tests = program
        .tests
        .iter()
        .filter(|t| t.test.span.file == root)
        .filter(|t| filter.is_none_or(|f| t.test.name.value.contains(f)))
        .map(|t| run_test(&program, t))
        .collect();
    Ok(FileResults { file, tests, sources: program.sources })
}

/// One evaluation: the items needed, grouped by these dims.
type Grouping = (Vec<DimId>, Vec<ItemRef>);

/// The evaluations a test's expectations need: per set of dims, the items.
fn groupings(def: &TestDef) -> Vec<Grouping> {
    let mut groupings: Vec<Grouping> = Vec::new();
    for r in def.expects.iter().flatten() {
        let dims = r.dims();
        match groupings.iter_mut().find(|(d, _)| *d == dims) {
            Some((_, items)) if items.contains(&r.item) => {}
            Some((_, items)) => items.push(r.item),
            None => groupings.push((dims, vec![r.item])),
        }
    }
    groupings
}

/// The columns a test's expectations read, per dataset, each with what needs it (for
/// messages: "`aht` needs `calls.talk_s`"). `check` compares them with the test's data.
pub(crate) fn needed_columns(
    program: &Program,
    def: &TestDef,
) -> std::collections::BTreeMap<(crate::program::DatasetId, String), String> {
    fixture::needs(program, &groupings(def))
}

fn run_test(program: &Program, def: &TestDef) -> TestResult {
    let start = Instant::now();
    let test = &def.test;
    let (line, column) = line_col(&program.sources, test.span);
    let resolved = &def.expects;
    let groupings = groupings(def);
    let reports = fixture::tables(program, def, &groupings).and_then(|tables| {
        let data = Data::from_tables(program, tables)?;
        groupings
            .iter()
            .map(|(by, items)| {
                let request = Request {
                    items: items.clone(),
                    by: by.clone(),
                    threads: 1,
                    ..Request::scorecard(program)
                };
                eval::evaluate(program, &data, &request).map(|r| (by.clone(), r))
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let (errors, expects) = match reports {
        Err(errors) => (errors.into_iter().map(|d| in_test(d, &test.name.value)).collect(), vec![]),
        Ok(reports) => {
            let expects = test
                .expects
                .iter()
                .zip(resolved)
                .map(|(e, r)| {
                    let mut out = expect::blank(program, e);
                    match r {
                        Some(r) => expect::judge(program, r, &reports, &mut out),
                        // The checker reported why, and a file with errors does not run.
                        None => {
                            out.error = Some(Diagnostic::error(
                                Code::UnknownName,
                                "this `expect` was not resolved (an internal error)",
                            ));
                        }
                    }
                    out
                })
                .collect();
            (Vec::new(), expects)
        }
    };
    let outcome = if !errors.is_empty() {
        Outcome::Error
    } else {
        expects.iter().map(|e: &ExpectResult| e.outcome).fold(Outcome::Passed, worse)
    };
    TestResult {
        name: test.name.value.clone(),
        span: test.span,
        line,
        column,
        outcome,
        seconds: start.elapsed().as_secs_f64(),
        errors,
        expects,
    }
}

fn worse(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Error => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Evaluation errors have no place in the source: say which test they come from.
fn in_test(d: Diagnostic, test: &str) -> Diagnostic {
    if d.labels.is_empty() && d.data.is_none() {
        d.note(format!("while evaluating test \"{test}\""))
    } else {
        d
    }
}

fn line_col(sources: &SourceMap, span: Span) -> (usize, usize) {
    sources.get(span.file).map_or((0, 0), |f| {
        let lc = f.line_col(span.start as usize);
        (lc.line, lc.column)
    })
}

/// A diagnostic for a test problem at `span`.
fn error_at(code: Code, message: String, span: Span, label: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, message).at(span, label)
}

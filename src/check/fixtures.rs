//! The data of `test` blocks: which datasets it is for, its `csv(...)` options, and,
//! when the caller gives a [`FixtureSource`](super::FixtureSource), its columns: it is
//! read as `kpiblend test` reads it, and the definitions are checked against its column
//! types as they are against a data file's, so a fixture that `test` would refuse
//! fails `check` first, at its line.

use std::path::Path;

use super::{CheckOptions, Checker, Fixture, Schema, SymKind};
use crate::ast::{self, ExprKind, TestSource};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::{ColumnType, DatasetId};
use crate::source::{SourceMap, Span};

/// A test's data as read: what the definitions are checked against.
pub(super) struct TestFixtures {
    test: String,
    /// Per dataset given: its columns, and where the data is written (the inline
    /// header's line, or the file's path).
    given: Vec<(DatasetId, Schema, Span)>,
}

impl Checker<'_> {
    /// Checks the data entries of a test block and reads them (when a fixture source is
    /// given), keeping their columns for [`Checker::fixture_types`].
    pub(super) fn test_data(&mut self, t: &ast::Test, base_dir: &Path) {
        let mut given: Vec<(DatasetId, Span)> = Vec::new();
        let mut read = Vec::new();
        for d in &t.data {
            let mut fixture_path = None;
            if let TestSource::File(src) = &d.source {
                let outside = self.project.confine(
                    &src.path.value,
                    base_dir,
                    src.path.span,
                    "test data file",
                    "keep test data inside the project, or write it inline: `csv \"\"\" ... \"\"\"`",
                );
                match outside {
                    Some(diag) => self.error(diag),
                    None => fixture_path = Some(base_dir.join(&src.path.value)),
                }
            }
            let id = match self.lookup(&d.dataset.name) {
                Some(s) if s.kind == SymKind::Dataset => s.index,
                _ => {
                    self.error(
                        Diagnostic::error(
                            Code::UnknownDataset,
                            format!("test data for unknown dataset `{}`", d.dataset.name),
                        )
                        .at(d.dataset.span, "no dataset of this name"),
                    );
                    continue;
                }
            };
            if let Some(&(_, first)) = given.iter().find(|(g, _)| *g == id) {
                self.error(
                    Diagnostic::error(
                        Code::Duplicate,
                        format!("test data for `{}` given twice", d.dataset.name),
                    )
                    .at(d.dataset.span, "given again")
                    .also(first, "first given here"),
                );
                continue;
            }
            given.push((id, d.dataset.span));
            let Some(options) = self.fixture_options(id, &d.source) else { continue };
            let (Some(source), Some(ds)) = (self.opts.fixtures, self.program.datasets.get(id))
            else {
                continue;
            };
            let fixture = match &d.source {
                TestSource::Inline(s) if s.value.trim().is_empty() => continue,
                TestSource::Inline(s) => Fixture {
                    text: Some(&s.value),
                    path: format!("inline data for `{}`", ds.name).into(),
                    delimiter: options.0,
                    null_tokens: options.1,
                },
                TestSource::File(_) => {
                    let Some(path) = fixture_path.take() else { continue };
                    Fixture { text: None, path, delimiter: options.0, null_tokens: options.1 }
                }
            };
            match source.fixture(ds, &fixture) {
                Ok(schema) => {
                    let at = match &d.source {
                        TestSource::Inline(s) => {
                            inline_line(&self.program.sources, s.span, 1).unwrap_or(s.span)
                        }
                        TestSource::File(f) => f.path.span,
                    };
                    read.push((id, schema, at));
                }
                Err(diag) => {
                    let diag = self.place_fixture_error(diag, d, &t.name.value);
                    self.error(diag);
                }
            }
        }
        if !read.is_empty() {
            self.fixtures_read.push(TestFixtures { test: t.name.value.clone(), given: read });
        }
    }

    /// The delimiter and null tokens a test's data is read with: the dataset's, and for
    /// a file, its `csv("f.csv", delimiter: ";", null: "N/A")` options. `None` after an
    /// error in the options.
    fn fixture_options(&mut self, id: DatasetId, source: &TestSource) -> Option<(u8, Vec<String>)> {
        let ds = self.program.datasets.get(id)?;
        let (mut delimiter, mut nulls) = (ds.delimiter, ds.null_tokens.clone());
        let TestSource::File(src) = source else { return Some((delimiter, nulls)) };
        let mut ok = true;
        let mut delimiter_at: Option<crate::source::Span> = None;
        for (key, value) in &src.options {
            if key.name == "delimiter" {
                let at = key.span.to(value.span);
                if let Some(first) = delimiter_at {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            Code::DuplicateClause,
                            "option `delimiter` given twice in `csv(...)`",
                        )
                        .at(at, "second one here")
                        .also(first, "first given here")
                        .help("keep one: test data has one delimiter"),
                    );
                    continue;
                }
                delimiter_at = Some(at);
            }
            match (key.name.as_str(), &value.kind) {
                ("delimiter", ExprKind::Str(s))
                    if s.len() == 1 && !matches!(s.as_str(), "\"" | "\n" | "\r") =>
                {
                    delimiter = s.as_bytes()[0];
                }
                ("null", ExprKind::Str(s)) => nulls.push(s.clone()),
                ("delimiter" | "null", _) => {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            Code::ArgumentType,
                            format!("`{}` must be a one-character string", key.name),
                        )
                        .at(value.span, "e.g. \";\""),
                    );
                }
                _ => {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            Code::UnknownOption,
                            format!("unknown option `{}` of test data", key.name),
                        )
                        .at(key.span, "not an option")
                        .help("options: `delimiter: \";\"`, `null: \"N/A\"`"),
                    );
                }
            }
        }
        ok.then_some((delimiter, nulls))
    }

    /// A problem reading test data, placed in the KPI file: at the line of inline data,
    /// at the path of a file that cannot be read, else at the data file's line.
    fn place_fixture_error(
        &self,
        mut diag: Diagnostic,
        d: &ast::TestData,
        test: &str,
    ) -> Diagnostic {
        let line = diag.data.as_ref().and_then(|l| l.line);
        match &d.source {
            TestSource::Inline(s) => {
                let mut where_ = Vec::new();
                if let Some(loc) = &diag.data {
                    where_.extend(loc.column.as_ref().map(|c| format!("column `{c}`")));
                    where_.extend(loc.record.map(|r| format!("record {r}")));
                }
                let span = line.and_then(|l| inline_line(&self.program.sources, s.span, l));
                diag.data = None;
                diag.message =
                    format!("in the inline data for `{}`: {}", d.dataset.name, diag.message);
                let label = if where_.is_empty() { "here".to_string() } else { where_.join(", ") };
                diag.at(span.unwrap_or(s.span), label)
            }
            TestSource::File(f) if line.is_none() => {
                diag.data = None;
                diag.at(f.path.span, format!("test data for `{}`", d.dataset.name))
            }
            TestSource::File(_) => {
                diag.note(format!("test \"{test}\" reads this file as `{}`", d.dataset.name))
            }
        }
    }

    /// Checks the definitions again with each test's data standing in for the data files,
    /// and reports what only that data breaks (a KPI summing a column the fixture has as
    /// text), pointing at the fixture too.
    pub(super) fn fixture_types(&mut self, files: &[super::files::LoadedFile]) {
        // What the definitions break without the tests' data is reported once, already.
        let main = self.diags.len();
        for tf in std::mem::take(&mut self.fixtures_read) {
            if !self.opts.fixture_columns_at_run {
                self.missing_columns(&tf);
            }
            let schemas = TestSchemas { given: &tf.given, names: &self.program.datasets };
            let opts = CheckOptions {
                params: self.opts.params.clone(),
                data: self.opts.data.clone(),
                shared_overrides: true,
                schemas: Some(&schemas),
                root: self.opts.root.clone(),
                ..CheckOptions::default()
            };
            let mut sub = Checker::new(&opts, self.project.clone());
            sub.open_schemas = true;
            sub.program.sources = self.program.sources.clone();
            sub.run(files);
            let seen = |d: &Diagnostic| {
                self.diags[..main]
                    .iter()
                    .any(|m| m.code == d.code && m.primary_span() == d.primary_span())
            };
            let found: Vec<Diagnostic> = sub.diags.into_iter().filter(|d| !seen(d)).collect();
            for d in found {
                let d = self.at_fixture(d, &tf);
                self.diags.push(d);
            }
        }
    }

    /// A test's data that lacks a column its expectations read: the error `test` would
    /// stop with, found by `check` (`test` names the same column at the same place).
    fn missing_columns(&mut self, tf: &TestFixtures) {
        let Some(def) = self.program.tests.iter().find(|t| t.test.name.value == tf.test) else {
            return;
        };
        let needs = crate::testing::needed_columns(&self.program, def);
        let mut found = Vec::new();
        for ((id, column), by) in &needs {
            let Some((_, schema, at)) = tf.given.iter().find(|(g, _, _)| g == id) else {
                continue;
            };
            if schema.columns.iter().any(|(c, _)| c == column)
                || schema.untyped.iter().any(|c| c == column)
            {
                continue;
            }
            let ds = &self.program.datasets[*id].name;
            found.push(
                Diagnostic::error(
                    Code::UnknownColumn,
                    format!("test data for `{ds}` has no column `{column}`"),
                )
                .at(*at, format!("no `{column}` column here"))
                .note(format!("{by} needs `{ds}.{column}`"))
                .help(format!(
                    "add a column `{column}` to the data, or drop the expectations that need it"
                )),
            );
        }
        for d in found {
            self.error(d);
        }
    }

    /// Adds to a diagnostic found with a test's data where that data is, naming the
    /// columns the diagnostic's code reads and their types in the data.
    fn at_fixture(&self, mut d: Diagnostic, tf: &TestFixtures) -> Diagnostic {
        let texts: Vec<&str> =
            d.labels.iter().map(|l| self.program.sources.snippet(l.span)).collect();
        let mut labelled = false;
        for (id, schema, at) in &tf.given {
            let ds = &self.program.datasets[*id].name;
            let read: Vec<&(String, ColumnType)> = schema
                .columns
                .iter()
                .filter(|(c, _)| texts.iter().any(|t| t.contains(&format!("{ds}.{c}"))))
                .collect();
            if read.is_empty() {
                continue;
            }
            labelled = true;
            let types: Vec<String> = read.iter().map(|(c, t)| format!("`{c}` is {t}")).collect();
            d = d.also(*at, format!("in this test data, {}", types.join(", ")));
            if d.help.is_none() && read.iter().any(|(_, t)| *t == ColumnType::Text) {
                d = d.help(
                    "cells are read as written: a number with spaces or other text around it \
                     makes the column text",
                );
            }
        }
        if !labelled {
            for (_, _, at) in &tf.given {
                d = d.also(*at, "test data");
            }
        }
        d.note(format!("with the data of test \"{}\"", tf.test))
    }
}

/// Schemas for the check against a test's data: its columns for the datasets it gives,
/// nothing known for the others.
struct TestSchemas<'a> {
    given: &'a [(DatasetId, Schema, Span)],
    names: &'a [crate::program::DatasetDef],
}

impl super::SchemaSource for TestSchemas<'_> {
    fn schema(&self, dataset: &crate::program::DatasetDef) -> Result<Schema, Diagnostic> {
        let id = self.names.iter().position(|d| d.name == dataset.name);
        Ok(self
            .given
            .iter()
            .find(|(g, _, _)| Some(*g) == id)
            .map(|(_, s, _)| s.clone())
            .unwrap_or_default())
    }
}

/// The span of line `line` (1-based) of a triple-quoted string's value, indentation left
/// out.
pub fn inline_line(sources: &SourceMap, span: Span, line: u64) -> Option<Span> {
    let text = sources.snippet(span);
    let body = text.strip_prefix("\"\"\"")?;
    let mut start = 3 + line_break(body);
    for _ in 1..line {
        let rest = text.get(start..)?;
        let end = rest.find(['\n', '\r'])?;
        start += end + line_break(&rest[end..]);
    }
    let rest = text.get(start..)?;
    let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let indent = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let from = span.start as usize + start + indent.min(len);
    Some(Span::new(span.file, from, (span.start as usize + start + len).max(from + 1)))
}

/// The length of the line break `text` starts with: `\r\n`, `\n`, `\r`, or none.
fn line_break(text: &str) -> usize {
    if text.starts_with("\r\n") { 2 } else { usize::from(text.starts_with(['\n', '\r'])) }
}

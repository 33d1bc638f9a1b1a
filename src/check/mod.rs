//! From AST to [`Program`]: names, types, units, links, cycles and every rule of the
//! language reference. One run reports every problem it can find; a name or
//! expression that failed gets the error type, which silences follow-on errors.
//!
//! Parsing and checking run on a thread with a known, generous stack, so an embedding
//! host's small thread stack cannot change the outcome.

mod calls;
mod datasets;
mod expects;
mod expr;
mod files;
mod fixtures;
mod kpis;
mod outputs;
mod overrides;
mod project;
mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::ast;
use crate::diagnostic::{self, Code, Diagnostic, Severity};
use crate::program::*;
use crate::source::{FileId, Span};

pub use files::{MAX_SOURCE_BYTES, io_reason, read_source};
pub use fixtures::inline_line;
pub use overrides::unmatched_overrides;
pub(crate) use project::{Project as ProjectRoot, resolve as resolve_path};

/// Most diagnostics reported for one run; the rest are counted.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Column names and types of a dataset's data, for checks that need the header.
pub trait SchemaSource: Sync {
    /// The columns of `dataset`, or a diagnostic saying why they cannot be read.
    fn schema(&self, dataset: &DatasetDef) -> Result<Schema, Diagnostic>;
}

/// A dataset's columns as the data has them.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub columns: Vec<(String, ColumnType)>,
    /// Columns with no value in the sample: their type is unknown, so anything goes.
    pub untyped: Vec<String>,
    /// Columns read as text among numbers (see `LoadReport::text_among_numbers`).
    pub text_among_numbers: Vec<(String, u64, String)>,
}

/// Reads the data of `test` blocks, so the checker can check it as it checks data files.
pub trait FixtureSource: Sync {
    /// The columns of a test's data for `dataset`, with the types it would be read with.
    fn fixture(&self, dataset: &DatasetDef, fixture: &Fixture<'_>) -> Result<Schema, Diagnostic>;
}

/// A test's data for one dataset, with the options it is read with.
#[derive(Debug, Clone)]
pub struct Fixture<'a> {
    /// Inline text (`csv """ ... """`), or `None` to read `path`.
    pub text: Option<&'a str>,
    /// The file (`csv("PATH")`), resolved; for inline text, a name for messages.
    pub path: PathBuf,
    pub delimiter: u8,
    pub null_tokens: Vec<String>,
}

#[derive(Default)]
pub struct CheckOptions<'a> {
    /// `--param name=value`, as typed.
    pub params: Vec<(String, String)>,
    /// `--data name=path`.
    pub data: Vec<(String, PathBuf)>,
    /// The overrides are shared by several files checked one by one, so a name that
    /// this file does not define is not an error here; the caller reports the names
    /// that no file defines, with [`unmatched_overrides`].
    pub shared_overrides: bool,
    /// Where to read headers from; `None` checks without data (`--no-data`).
    pub schemas: Option<&'a dyn SchemaSource>,
    /// Where to read test data from; `None` checks test blocks without their data.
    pub fixtures: Option<&'a dyn FixtureSource>,
    /// Leave test data that lacks a column its expectations read to the test runner,
    /// which reports it as that test's error and runs the others (`kpiblend test`);
    /// otherwise it is a check error (`kpiblend check`).
    pub fixture_columns_at_run: bool,
    /// Extra definitions checked after the files, as if appended to them: the
    /// command line's and the REPL's queries (`name`, `text`).
    pub extra: Vec<(String, String)>,
    /// The project: paths written in the files must stay inside this directory.
    /// Default: the git work tree of the file checked (`base_dir` for text), else its
    /// directory.
    pub root: Option<PathBuf>,
}

/// A checked program and everything found on the way. The program is always built,
/// best effort, so tools can still show what parsed; trust it only without errors.
#[derive(Debug, Clone)]
pub struct Checked {
    pub program: Program,
    /// At most [`MAX_DIAGNOSTICS`], then one saying how many more there were.
    pub diagnostics: Vec<Diagnostic>,
    /// Errors and warnings found, including those not listed.
    pub errors: usize,
    pub warnings: usize,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == severity).count()
    }
}

/// Checks a file and its imports.
pub fn check_path(path: &Path, opts: &CheckOptions<'_>) -> Checked {
    let name = path.display().to_string();
    let mut program = Program::default();
    match files::read_checked(path, &name, &mut program.sources) {
        Ok(text) => {
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            check_source(&name, &text, &base, Some(path), opts)
        }
        Err(d) => Checked { program, diagnostics: vec![d], errors: 1, warnings: 0 },
    }
}

/// Checks the bytes of a file read by the caller (standard input, say) as
/// [`check_path`] checks a file's: text that is not UTF-8 is an error at its first bad
/// byte. Relative paths resolve against `base_dir`.
pub fn check_bytes(
    name: &str,
    bytes: Vec<u8>,
    base_dir: &Path,
    opts: &CheckOptions<'_>,
) -> Checked {
    match String::from_utf8(bytes) {
        Ok(text) => check_source(name, &text, base_dir, None, opts),
        Err(e) => {
            let mut program = Program::default();
            let err = e.utf8_error();
            let bytes = e.as_bytes();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let id = program.sources.add(crate::source::SourceFile::new(name, text));
            let d = crate::syntax::not_utf8(id, bytes, &err);
            Checked { program, diagnostics: vec![d], errors: 1, warnings: 0 }
        }
    }
}

/// Checks source text; relative paths (imports, data) resolve against `base_dir`.
pub fn check_text(name: &str, text: &str, base_dir: &Path, opts: &CheckOptions<'_>) -> Checked {
    check_source(name, text, base_dir, None, opts)
}

fn check_source(
    name: &str,
    text: &str,
    base_dir: &Path,
    path: Option<&Path>,
    opts: &CheckOptions<'_>,
) -> Checked {
    // A file is refused before it is read; text handed over (standard input, a host's
    // string) is held to the same limit here.
    if text.len() as u64 > MAX_SOURCE_BYTES {
        let d = Diagnostic::error(Code::FileTooLarge, files::too_large(name, text.len() as u64))
            .in_file(name.to_string());
        return Checked {
            program: Program::default(),
            diagnostics: vec![d],
            errors: 1,
            warnings: 0,
        };
    }
    on_big_stack(|| {
        let project = match &opts.root {
            Some(root) => project::Project::new(root),
            None => project::Project::around(base_dir),
        };
        let mut checker = Checker::new(opts, project);
        let sources = &mut checker.program.sources;
        let mut files = files::load(
            files::Root { name, text: text.to_string(), base_dir, path },
            &checker.project,
            sources,
            &mut checker.diags,
        );
        for (extra_name, extra_text) in &opts.extra {
            let base = base_dir.to_path_buf();
            files.push(files::parse_file(
                extra_name,
                extra_text.clone(),
                base,
                sources,
                &mut checker.diags,
            ));
        }
        checker.run(&files);
        checker.fixture_types(&files);
        checker.finish()
    })
}

pub use crate::syntax::on_big_stack;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SymKind {
    Dataset,
    Dim,
    Param,
    Kpi,
    Blend,
    View,
}

impl SymKind {
    fn word(self) -> &'static str {
        match self {
            SymKind::Dataset => "dataset",
            SymKind::Dim => "dim",
            SymKind::Param => "param",
            SymKind::Kpi => "kpi",
            SymKind::Blend => "blend",
            SymKind::View => "view",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Symbol {
    kind: SymKind,
    index: usize,
    span: Span,
}

struct Checker<'o> {
    opts: &'o CheckOptions<'o>,
    /// Where paths written in the files may lead.
    project: project::Project,
    program: Program,
    diags: Vec<Diagnostic>,
    symbols: HashMap<String, Symbol>,
    /// Names whose definitions failed to parse: treated as defined, type unknown.
    broken: std::collections::HashSet<String>,
    /// Names that failed checking: references to them stay silent.
    poisoned: std::collections::HashSet<String>,
    /// KPI types, filled in dependency order while lowering.
    kpi_types: Vec<Ty>,
    /// Datasets each KPI's aggregates read (root datasets), transitively.
    kpi_roots: Vec<Vec<DatasetId>>,
    /// The size (in nodes) of each dim lowered so far; a dim is put in wherever it is used.
    dim_sizes: Vec<usize>,
    /// Nodes put in from dims so far, against [`MAX_INLINED`].
    inlined: usize,
    /// Aggregates by their printed form, to share them between KPIs.
    aggregate_ids: HashMap<String, AggId>,
    /// A column outside an aggregate was reported for the current KPI (once is enough).
    column_outside_reported: bool,
    /// Columns a schema does not list have an unknown type, rather than being unknown
    /// (checking against a test's data, which may leave columns out).
    open_schemas: bool,
    /// Test data read, to check the definitions against once they are all lowered.
    fixtures_read: Vec<fixtures::TestFixtures>,
}

impl<'o> Checker<'o> {
    fn new(opts: &'o CheckOptions<'o>, project: project::Project) -> Self {
        Checker {
            opts,
            project,
            program: Program::default(),
            diags: Vec::new(),
            symbols: HashMap::new(),
            broken: std::collections::HashSet::new(),
            poisoned: std::collections::HashSet::new(),
            kpi_types: Vec::new(),
            kpi_roots: Vec::new(),
            dim_sizes: Vec::new(),
            inlined: 0,
            aggregate_ids: HashMap::new(),
            column_outside_reported: false,
            open_schemas: false,
            fixtures_read: Vec::new(),
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(&mut self, files: &[files::LoadedFile]) {
        let mut items: Vec<(&ast::Item, &files::LoadedFile)> = Vec::new();
        for f in files {
            self.broken.extend(f.broken_names.iter().cloned());
            items.extend(f.module.items.iter().map(|i| (i, f)));
        }
        // The sources handed in as `extra` are kpiblend's own (queries): they alone may
        // define `__` names.
        let generated: Vec<FileId> =
            files.iter().rev().take(self.opts.extra.len()).map(|f| f.id).collect();
        self.declare(&items, &generated);
        let datasets: Vec<_> = items
            .iter()
            .filter_map(|(i, f)| if let ast::Item::Dataset(d) = i { Some((d, *f)) } else { None })
            .collect();
        self.datasets(&datasets);
        let params: Vec<_> = items
            .iter()
            .filter_map(|(i, _)| if let ast::Item::Param(p) = i { Some(p) } else { None })
            .collect();
        self.params(&params);
        let dims: Vec<_> = items
            .iter()
            .filter_map(|(i, _)| if let ast::Item::Dim(d) = i { Some(d) } else { None })
            .collect();
        self.dims(&dims);
        let kpis: Vec<_> = items
            .iter()
            .filter_map(|(i, _)| if let ast::Item::Kpi(k) = i { Some(k) } else { None })
            .collect();
        self.kpis(&kpis);
        let blends: Vec<_> = items
            .iter()
            .filter_map(|(i, _)| if let ast::Item::Blend(b) = i { Some(b) } else { None })
            .collect();
        self.blends(&blends);
        if !self.opts.shared_overrides {
            self.unmatched_overrides();
        }
        for (item, file) in &items {
            match item {
                ast::Item::View(v) => self.view(v),
                ast::Item::Note(n) => self.note(n),
                ast::Item::Test(t) => self.test(t, &file.base_dir),
                _ => {}
            }
        }
    }

    fn finish(mut self) -> Checked {
        diagnostic::sort(&mut self.diags);
        self.diags.dedup();
        let errors = self.diags.iter().filter(|d| d.is_error()).count();
        let warnings = self.diags.len() - errors;
        if self.diags.len() > MAX_DIAGNOSTICS {
            let hidden = self.diags.len() - MAX_DIAGNOSTICS;
            self.diags.truncate(MAX_DIAGNOSTICS);
            self.diags.push(Diagnostic::error(
                Code::TooManyErrors,
                format!("{hidden} more diagnostics not shown ({errors} errors in total)"),
            ));
        }
        Checked { program: self.program, diagnostics: self.diags, errors, warnings }
    }

    /// Registers every top-level name (one namespace for all kinds) and reports duplicates.
    fn declare(&mut self, items: &[(&ast::Item, &files::LoadedFile)], generated: &[FileId]) {
        let mut counts = [0usize; 6];
        for (item, file) in items {
            let (kind, name, span) = match item {
                ast::Item::Dataset(d) => (SymKind::Dataset, d.name.name.clone(), d.name.span),
                ast::Item::Dim(d) => (SymKind::Dim, d.name.name.clone(), d.name.span),
                ast::Item::Param(p) => (SymKind::Param, p.name.name.clone(), p.name.span),
                ast::Item::Kpi(k) => (SymKind::Kpi, k.name.name.clone(), k.name.span),
                ast::Item::Blend(b) => (SymKind::Blend, b.name(), b.name_span()),
                ast::Item::View(v) => (SymKind::View, v.name.name.clone(), v.name.span),
                _ => continue,
            };
            if name.starts_with("__") && !generated.contains(&file.id) {
                self.error(
                    Diagnostic::error(
                        Code::ReservedName,
                        format!(
                            "`{name}` starts with `__`, which kpiblend keeps for its own names"
                        ),
                    )
                    .at(span, "reserved")
                    .help(match name.trim_start_matches('_') {
                        "" => "rename it".to_string(),
                        plain => format!("rename it, e.g. `{plain}`"),
                    }),
                );
                self.poisoned.insert(name);
                continue;
            }
            if let Some(first) = self.symbols.get(&name) {
                let what = if first.kind == kind {
                    kind.word().to_string()
                } else {
                    format!("{} (already a {})", kind.word(), first.kind.word())
                };
                let mut d = Diagnostic::error(
                    Code::Duplicate,
                    format!("`{name}` is defined more than once"),
                )
                .at(span, format!("second definition of {what}"))
                .also(first.span, "first defined here");
                if kind == SymKind::Blend && matches!(item, ast::Item::Blend(b) if b.name.is_none())
                {
                    d = d.help("give one of the blends a name: `blend other_name = ...`");
                }
                self.error(d);
                self.poisoned.insert(name);
                continue;
            }
            let index = counts[kind as usize];
            counts[kind as usize] += 1;
            self.symbols.insert(name, Symbol { kind, index, span });
        }
    }

    /// `--param` and `--data` names that no param or dataset has. A name whose definition
    /// did not parse may be the one meant: then nothing is said.
    fn unmatched_overrides(&mut self) {
        let names = |kind: SymKind| {
            let mut names: Vec<&str> = self
                .symbols
                .iter()
                .filter(|(_, s)| s.kind == kind)
                .map(|(n, _)| n.as_str())
                .collect();
            names.sort_unstable();
            names
        };
        let unbroken = |name: &String| !self.broken.contains(name);
        let params: Vec<_> =
            self.opts.params.iter().filter(|(n, _)| unbroken(n)).cloned().collect();
        let data: Vec<_> = self.opts.data.iter().filter(|(n, _)| unbroken(n)).cloned().collect();
        let found =
            unmatched_overrides(&params, &data, &names(SymKind::Param), &names(SymKind::Dataset));
        self.diags.extend(found);
    }

    /// Whether this definition is the one registered under its name (not a duplicate).
    fn is_registered(&self, name: &str, span: Span) -> bool {
        self.symbols.get(name).is_some_and(|s| s.span == span)
    }

    fn lookup(&self, name: &str) -> Option<Symbol> {
        self.symbols.get(name).copied()
    }

    /// Is a failed or broken name (references stay silent).
    fn is_silenced(&self, name: &str) -> bool {
        self.broken.contains(name) || self.poisoned.contains(name)
    }

    fn snippet(&self, span: Span) -> String {
        self.program.sources.snippet(span).to_string()
    }
}

#[cfg(test)]
mod tests;

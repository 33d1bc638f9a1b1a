//! The REPL's session: a plain type that takes one input at a time and returns what
//! to print. No terminal here: `cli::repl` adds line editing, history and Ctrl-C, and
//! tests drive a [`Session`] directly.
//!
//! A session holds the definitions (from `:load` and typed ones), the loaded data (every
//! column, so new definitions can use any of them), and settings (`:by`, `:format`).
//! Input is a meta-command (`:help`), statements of the language (which define or
//! redefine), or a query (`aht, csat by site`, or any KPI expression).

mod commands;
pub mod complete;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::Project;
use crate::ast::{self, ExprKind};
use crate::check::Checked;
use crate::data::Table;
use crate::diagnostic::{Code, Diagnostic};
use crate::render::{diagnostics, table};
use crate::source::{FileId, SourceMap};
use crate::syntax::{self, ReplInput};

/// What to print for one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Results, for stdout.
    pub out: String,
    /// Diagnostics and notes, for stderr.
    pub err: String,
    /// False when the input failed (a scripted session exits 1 if any did).
    pub ok: bool,
    /// `:quit`
    pub quit: bool,
}

impl Reply {
    fn ok(out: impl Into<String>) -> Reply {
        Reply { out: out.into(), ok: true, ..Reply::default() }
    }

    fn fail(err: impl Into<String>) -> Reply {
        Reply { err: err.into(), ok: false, ..Reply::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// One definition of the session, as text.
#[derive(Debug, Clone)]
struct Stmt {
    /// The name it defines (`None` for imports, notes and tests).
    name: Option<String>,
    text: String,
}

pub struct Session {
    file: Option<PathBuf>,
    base_dir: PathBuf,
    stmts: Vec<Stmt>,
    tables: HashMap<String, Arc<Table>>,
    params: Vec<(String, String)>,
    data_paths: Vec<(String, PathBuf)>,
    by: Vec<String>,
    format: Format,
    timer: bool,
    color: bool,
    /// The last program that checked clean (for names, completion and `:explain`).
    checked: Option<Checked>,
    /// Set by a Ctrl-C handler to stop a running evaluation.
    pub cancel: Arc<AtomicBool>,
    inputs: usize,
}

const INPUT: &str = "<input>";
const QUERY_VIEW: &str = "__repl";

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Session {
        Session {
            file: None,
            base_dir: PathBuf::from("."),
            stmts: Vec::new(),
            tables: HashMap::new(),
            params: Vec::new(),
            data_paths: Vec::new(),
            by: Vec::new(),
            format: Format::Table,
            timer: false,
            color: false,
            checked: None,
            cancel: Arc::new(AtomicBool::new(false)),
            inputs: 0,
        }
    }

    /// Colour in rendered tables and diagnostics.
    pub fn set_color(&mut self, color: bool) {
        self.color = color;
    }

    /// `--param` and `--data` from the command line.
    pub fn set_overrides(&mut self, params: Vec<(String, String)>, data: Vec<(String, PathBuf)>) {
        self.params = params;
        self.data_paths = data;
    }

    /// Whether `input` needs more lines before it can be handled.
    pub fn is_incomplete(&self, input: &str) -> bool {
        !input.trim_start().starts_with(':') && syntax::is_incomplete(input)
    }

    /// Handles one input (possibly several lines).
    pub fn handle(&mut self, input: &str) -> Reply {
        self.inputs += 1;
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Reply::ok("");
        }
        if let Some(cmd) = trimmed.strip_prefix(':') {
            return self.command(cmd);
        }
        if let Some(cmd) = trimmed
            .strip_prefix('\\')
            .or_else(|| trimmed.strip_prefix('.'))
            .filter(|c| c.starts_with(['q', 'h', '?']))
        {
            return self.command(if cmd.starts_with('?') { "help" } else { cmd });
        }
        match syntax::parse_repl(FileId(0), input) {
            Ok(ReplInput::Items(parsed)) => {
                if !parsed.diagnostics.is_empty() {
                    return self.render_errors(&parsed.diagnostics, input);
                }
                self.define(input, &parsed.module)
            }
            Ok(ReplInput::Query(q)) => self.query(input, &q),
            Err(diags) => self.render_errors(&diags, input),
        }
    }

    fn render_errors(&self, diags: &[Diagnostic], input: &str) -> Reply {
        let mut sources = SourceMap::new();
        sources.add(crate::source::SourceFile::new(INPUT, input));
        Reply::fail(
            diags.iter().map(|d| diagnostics::human(d, &sources, self.color)).collect::<String>(),
        )
    }

    fn project(&self) -> Project {
        let mut p = Project::from_source("<session>", &self.source());
        p.set_base_dir(&self.base_dir);
        for (name, table) in &self.tables {
            p.bind_table(name, Arc::clone(table));
        }
        for (k, v) in &self.params {
            p.set_param(k, v);
        }
        for (k, v) in &self.data_paths {
            p.set_data_path(k, v);
        }
        p
    }

    fn source(&self) -> String {
        self.stmts.iter().map(|s| s.text.trim()).collect::<Vec<_>>().join("\n\n") + "\n"
    }

    /// Statements typed at the prompt: added, or replacing a definition of the same name.
    /// They are checked as their own source, so diagnostics point into what was typed.
    fn define(&mut self, input: &str, module: &ast::Module) -> Reply {
        let new: Vec<Stmt> = module
            .items
            .iter()
            .map(|i| Stmt { name: item_name(i), text: input[i.span().range()].to_string() })
            .collect();
        let names: Vec<&String> = new.iter().filter_map(|s| s.name.as_ref()).collect();
        let before = std::mem::take(&mut self.stmts);
        self.stmts = before
            .iter()
            .filter(|s| !s.name.as_ref().is_some_and(|n| names.contains(&n)))
            .cloned()
            .collect();
        let checked = self.project().check_extra(INPUT, input);
        if checked.has_errors() {
            let text: String = checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| diagnostics::human(d, &checked.program.sources, self.color))
                .collect();
            self.stmts = before;
            return Reply::fail(format!("{text}not defined: the definitions above have errors\n"));
        }
        let mut notes = Vec::new();
        self.stmts = before;
        for stmt in new {
            let name = stmt.name.clone().unwrap_or_default();
            match stmt
                .name
                .as_ref()
                .and_then(|n| self.stmts.iter().position(|s| s.name.as_ref() == Some(n)))
            {
                Some(i) => {
                    notes.push(format!("redefined `{name}`"));
                    self.stmts[i] = stmt;
                }
                None => {
                    if stmt.name.is_some() {
                        notes.push(format!("defined `{name}`"));
                    }
                    self.stmts.push(stmt);
                }
            }
        }
        let warnings: String = checked
            .diagnostics
            .iter()
            .map(|d| diagnostics::human(d, &checked.program.sources, self.color))
            .collect();
        let checked = self.project().check();
        let dependants = self.dependants(&checked, &notes);
        self.checked = Some(checked);
        let mut out = notes.join("\n");
        if !dependants.is_empty() {
            out.push_str(&format!(" (re-checked {})", dependants.join(", ")));
        }
        out.push('\n');
        Reply { out, err: warnings, ok: true, quit: false }
    }

    /// KPIs and blends that use a redefined name.
    fn dependants(&self, checked: &Checked, notes: &[String]) -> Vec<String> {
        let redefined: Vec<&str> = notes
            .iter()
            .filter_map(|n| n.strip_prefix("redefined `"))
            .map(|n| n.trim_end_matches('`'))
            .collect();
        if redefined.is_empty() {
            return Vec::new();
        }
        let p = &checked.program;
        let mut out = Vec::new();
        for (i, k) in p.kpis.iter().enumerate() {
            let mut refs = Vec::new();
            crate::eval::kpi_refs(&k.expr, &mut refs);
            if refs.iter().any(|&r| redefined.contains(&p.kpis[r].name.as_str())) {
                out.push(format!("`{}`", p.kpis[i].name));
            }
        }
        for b in &p.blends {
            if b.components.iter().any(|&c| redefined.contains(&p.kpis[c].name.as_str())) {
                out.push(format!("`{}`", b.name));
            }
        }
        out
    }

    /// A query: names and expressions, `by` dims, `where` condition.
    fn query(&mut self, input: &str, q: &syntax::Query) -> Reply {
        // Expressions become KPIs; everything keeps its column in the typed line, with
        // the rest blanked, so diagnostics point into what was typed.
        let line_count = input.lines().count().max(1);
        let blank = |keep: std::ops::Range<usize>| -> String {
            input
                .char_indices()
                .map(|(i, c)| if keep.contains(&i) || c == '\n' { c } else { ' ' })
                .collect()
        };
        let mut defs = String::new();
        let mut names = Vec::new();
        let mut labels = Vec::new();
        for (k, item) in q.items.iter().enumerate() {
            let r = item.span.range();
            match &item.kind {
                ExprKind::Name(n) => names.push(n.name.clone()),
                _ => {
                    let name = format!("__expr_{k}");
                    defs.push_str(&format!("kpi {name} =\n{}\n", blank(r.clone())));
                    names.push(name.clone());
                    labels.push((name, input[r].trim().to_string()));
                }
            }
        }
        let by: Vec<String> = if q.by.is_empty() { self.by.clone() } else { Vec::new() };
        let tail_start = q.items.last().map_or(0, |e| e.span.end as usize);
        let mut view = format!("view {QUERY_VIEW} = {}\n", names.join(", "));
        if !by.is_empty() {
            view.push_str(&format!("by {}\n", by.join(", ")));
        }
        view.push_str(&blank(tail_start..input.len()));
        let _ = line_count;
        let extra = format!("{defs}{view}\n");
        self.cancel.store(false, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let result =
            self.project().evaluate_extra(INPUT, &extra, QUERY_VIEW, Some(self.cancel.clone()));
        match result {
            Ok(mut report) => {
                report.notes.clear();
                for item in &mut report.items {
                    if let Some((_, label)) = labels.iter().find(|(n, _)| *n == item.name) {
                        item.name.clone_from(label);
                    }
                }
                let mut out = match self.format {
                    Format::Table => table::human(&report, self.color),
                    Format::Json => table::json(&report) + "\n",
                    Format::Csv => table::csv(&report),
                };
                if self.timer {
                    out.push_str(&format!(
                        "time: {:.1} ms\n",
                        started.elapsed().as_secs_f64() * 1000.0
                    ));
                }
                Reply { err: report.warnings.render(self.color), ..Reply::ok(out) }
            }
            Err(e) => {
                let interrupted = e.diagnostics.iter().any(|d| d.code == Code::Interrupted);
                if interrupted {
                    return Reply::fail("interrupted\n");
                }
                Reply::fail(
                    e.diagnostics
                        .iter()
                        .map(|d| diagnostics::human(d, &e.sources, self.color))
                        .collect::<String>(),
                )
            }
        }
    }

    /// Loads a KPI file and its data, replacing the session's definitions.
    pub fn load(&mut self, path: &Path) -> Reply {
        let text = match crate::check::read_source(path) {
            Ok(t) => t,
            Err((_, msg)) => return Reply::fail(format!("error: {msg}\n")),
        };
        let parsed = syntax::parse(FileId(0), &text);
        let stmts: Vec<Stmt> = parsed
            .module
            .items
            .iter()
            .map(|i| Stmt { name: item_name(i), text: text[i.span().range()].to_string() })
            .collect();
        let (old_stmts, old_file, old_dir, old_tables) = (
            std::mem::take(&mut self.stmts),
            self.file.take(),
            self.base_dir.clone(),
            std::mem::take(&mut self.tables),
        );
        self.stmts = stmts;
        self.file = Some(path.to_path_buf());
        self.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let reply = self.reload_data(&parsed.diagnostics, &text, path);
        if !reply.ok {
            (self.stmts, self.file, self.base_dir, self.tables) =
                (old_stmts, old_file, old_dir, old_tables);
        }
        reply
    }

    fn reload_data(&mut self, syntax_errors: &[Diagnostic], text: &str, path: &Path) -> Reply {
        if !syntax_errors.is_empty() {
            let mut sources = SourceMap::new();
            sources.add(crate::source::SourceFile::new(path.display().to_string(), text));
            return Reply::fail(
                syntax_errors
                    .iter()
                    .map(|d| diagnostics::human(d, &sources, self.color))
                    .collect::<String>(),
            );
        }
        // First without data, to learn the datasets and their paths.
        let unchecked = crate::check::check_text(
            "<session>",
            &self.source(),
            &self.base_dir,
            &crate::check::CheckOptions {
                params: self.params.clone(),
                data: self.data_paths.clone(),
                ..Default::default()
            },
        );
        let mut err = String::new();
        self.tables.clear();
        for ds in &unchecked.program.datasets {
            match load_table(&ds.path, ds) {
                Ok(t) => {
                    self.tables.insert(ds.name.clone(), Arc::new(t));
                }
                Err(d) => {
                    err.push_str(&diagnostics::human(&d, &unchecked.program.sources, self.color));
                    return Reply::fail(err);
                }
            }
        }
        let checked = self.project().check();
        let rendered: String = checked
            .diagnostics
            .iter()
            .map(|d| diagnostics::human(d, &checked.program.sources, self.color))
            .collect();
        if checked.has_errors() {
            return Reply::fail(rendered);
        }
        let out = summary(&checked, &self.tables);
        self.checked = Some(checked);
        Reply { out, err: rendered, ok: true, quit: false }
    }

    /// Names defined in the session, by kind, for completion.
    pub fn names(&self) -> Vec<(String, &'static str)> {
        let Some(c) = &self.checked else { return Vec::new() };
        let p = &c.program;
        let mut out: Vec<(String, &'static str)> = Vec::new();
        out.extend(p.kpis.iter().map(|k| (k.name.clone(), "kpi")));
        out.extend(p.blends.iter().map(|b| (b.name.clone(), "blend")));
        out.extend(p.dims.iter().map(|d| (d.name.clone(), "dim")));
        out.extend(p.params.iter().map(|d| (d.name.clone(), "param")));
        out.extend(p.datasets.iter().map(|d| (d.name.clone(), "dataset")));
        out.extend(
            p.views.iter().filter(|v| !v.name.starts_with("__")).map(|d| (d.name.clone(), "view")),
        );
        out
    }

    /// Column names of a dataset, for completion after `dataset.`.
    pub fn columns(&self, dataset: &str) -> Vec<String> {
        self.tables
            .get(dataset)
            .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }
}

fn item_name(item: &ast::Item) -> Option<String> {
    Some(match item {
        ast::Item::Dataset(d) => d.name.name.clone(),
        ast::Item::Dim(d) => d.name.name.clone(),
        ast::Item::Param(p) => p.name.name.clone(),
        ast::Item::Kpi(k) => k.name.name.clone(),
        ast::Item::Blend(b) => b.name(),
        ast::Item::View(v) => v.name.name.clone(),
        ast::Item::Import(_) | ast::Item::Note(_) | ast::Item::Test(_) => return None,
    })
}

fn load_table(path: &Path, ds: &crate::program::DatasetDef) -> Result<Table, Diagnostic> {
    let opts = crate::data::LoadOptions {
        delimiter: ds.delimiter,
        declared: ds.declared.clone(),
        null_tokens: ds.null_tokens.clone(),
        ..Default::default()
    };
    let shown = path.display().to_string();
    crate::data::open_data_file(path)
        .and_then(|f| crate::data::load_csv(f, &shown, &opts))
        .map_err(crate::eval::load_error)
}

/// `loaded 16 kpis, 3 blends, 4 dims, 1 view; calls: 5,000 rows, surveys: 1,094 rows`
fn summary(checked: &Checked, tables: &HashMap<String, Arc<Table>>) -> String {
    let p = &checked.program;
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![
        count(p.kpis.len(), "kpi"),
        count(p.blends.len(), "blend"),
        count(p.dims.len(), "dim"),
        count(p.views.len(), "view"),
    ];
    if !p.params.is_empty() {
        parts.push(count(p.params.len(), "param"));
    }
    let data: Vec<String> = p
        .datasets
        .iter()
        .map(|d| {
            let rows = tables.get(&d.name).map_or(0, |t| t.rows);
            #[allow(clippy::cast_precision_loss)]
            let shown = crate::render::format::value(Some(rows as f64), &crate::types::Unit::Count);
            format!("{}: {shown} rows", d.name)
        })
        .collect();
    if data.is_empty() {
        format!("loaded {}\n", parts.join(", "))
    } else {
        format!("loaded {}; {}\n", parts.join(", "), data.join(", "))
    }
}

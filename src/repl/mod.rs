//! The REPL's session: a plain type that takes one input at a time and returns what
//! to print. No terminal here: `cli::repl` adds line editing, history and Ctrl-C, and
//! tests drive a [`Session`] directly.
//!
//! A session holds the definitions (from `:load` and typed ones), the loaded data (every
//! column, so new definitions can use any of them), and settings (`:by`, `:format`).
//! Input is a meta-command (`:help`), statements of the language (which define or
//! redefine; `import` adds another file's definitions), or a query (`aht, csat by site`,
//! or any KPI expression). A statement is kept as written, with the comments around it
//! and where it came from, so diagnostics point into the loaded file or the typed line
//! (see `origin.rs`) and `:save` writes the comments back. A typed line changes nothing
//! unless the whole session, with it, checks and its data reads.

mod commands;
pub mod complete;
mod data;
mod origin;
mod save;

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
use crate::render::escape::sanitize_line;
use crate::render::{diagnostics, table};
use crate::source::{FileId, SourceFile, SourceMap};
use crate::syntax::{self, ReplInput};
use data::ReadFrom;
use origin::Generated;

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

/// One statement of the session, as written.
#[derive(Debug, Clone)]
struct Stmt {
    /// The name it defines (`None` for imports, notes and tests).
    name: Option<String>,
    text: String,
    /// Blank lines and comments before it (as in its file), and the comment that ends
    /// its last line, so `:save` keeps them.
    before: String,
    after: String,
    /// The file or typed input `text` was written in, and where.
    origin: Arc<SourceFile>,
    offset: usize,
}

pub struct Session {
    file: Option<PathBuf>,
    base_dir: PathBuf,
    stmts: Vec<Stmt>,
    /// Comments after the loaded file's last statement.
    tail: String,
    tables: HashMap<String, Arc<Table>>,
    /// What each table was read from.
    read_from: HashMap<String, ReadFrom>,
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
    /// Definitions were typed since the last `:load` or `:save` (a `:load` would drop them).
    unsaved: bool,
    /// Data warnings already shown (a link key that finds no row): each is said once, not
    /// after every query that reads the data.
    said: std::collections::HashSet<String>,
    /// The last input that parsed as definitions: a line that can only go on a statement
    /// (`    unit seconds`, `    with csat`) is read as its continuation.
    last_definitions: Option<String>,
    /// The script line the next input starts at (see [`Session::set_input_line`]).
    input_line: usize,
}

const INPUT: &str = "<input>";
const SESSION: &str = "<session>";
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
            tail: String::new(),
            tables: HashMap::new(),
            read_from: HashMap::new(),
            params: Vec::new(),
            data_paths: Vec::new(),
            by: Vec::new(),
            format: Format::Table,
            timer: false,
            color: false,
            checked: None,
            cancel: Arc::new(AtomicBool::new(false)),
            inputs: 0,
            last_definitions: None,
            unsaved: false,
            said: std::collections::HashSet::new(),
            input_line: 1,
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

    /// The line of a script at which the next input starts (a piped script's line
    /// numbers, for diagnostics); 1 by default.
    pub fn set_input_line(&mut self, line: usize) {
        self.input_line = line;
    }

    /// An input as a source file, numbered from its line in the script.
    fn typed(&self, input: &str) -> SourceFile {
        SourceFile::new(INPUT, input).starting_at(self.input_line)
    }

    /// Whether `input` needs more lines before it can be handled.
    pub fn is_incomplete(&self, input: &str) -> bool {
        if input.trim_start().starts_with(':') {
            return false;
        }
        let mut scan = syntax::Incomplete::default();
        scan.feed(input);
        // At a prompt, `blend b = aht` waits for its `with` on the next line.
        scan.is_incomplete() || scan.awaits_with()
    }

    /// Handles one input (possibly several lines).
    pub fn handle(&mut self, input: &str) -> Reply {
        self.inputs += 1;
        let previous = self.last_definitions.take();
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Reply::ok("");
        }
        // Only comments: nothing to do, and a definition can still go on after them.
        if trimmed.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            self.last_definitions = previous;
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
        // A clause on its own line goes on the definition before it, as in a file (typed or
        // pasted: `kpi aht = avg(...)`, then `    unit seconds`, then `    target <= 6m`).
        let joined;
        let input = match previous {
            Some(prev) if syntax::continues_statement(input) => {
                joined = format!("{}\n{input}", prev.trim_end_matches(['\n', '\r']));
                &joined[..]
            }
            _ => input,
        };
        match syntax::parse_repl(FileId(0), input) {
            Ok(ReplInput::Items(parsed)) => {
                if !parsed.diagnostics.is_empty() {
                    return self.render_errors(&parsed.diagnostics, input);
                }
                self.last_definitions = Some(input.to_string());
                self.define(input, &parsed.module)
            }
            Ok(ReplInput::Query(q)) => match self.view_as_query(&q) {
                // A view's name alone runs the view, as `eval --view` does.
                Some(body) => match syntax::parse_repl(FileId(0), &body) {
                    Ok(ReplInput::Query(v)) => self.query(&body, &v),
                    _ => self.query(input, &q),
                },
                None => self.query(input, &q),
            },
            Err(diags) => self.render_errors(&diags, input),
        }
    }

    fn render_errors(&self, diags: &[Diagnostic], input: &str) -> Reply {
        let mut sources = SourceMap::new();
        sources.add(self.typed(input));
        Reply::fail(
            diags.iter().map(|d| diagnostics::human(d, &sources, self.color)).collect::<String>(),
        )
    }

    /// Diagnostics of a check or evaluation of the session (and of `query`, the typed
    /// line as checked), pointing where the user wrote the statements.
    fn render(
        &self,
        diags: &[Diagnostic],
        sources: &SourceMap,
        query: Option<&Generated>,
    ) -> String {
        let session = self.source();
        let mut generated = vec![(SESSION, &session)];
        generated.extend(query.map(|q| (INPUT, q)));
        let (diags, sources) = origin::translate(diags, sources, &generated);
        diags.iter().map(|d| diagnostics::human(d, &sources, self.color)).collect()
    }

    fn project(&self) -> Project {
        let mut p = Project::from_source(SESSION, &self.source().text);
        p.set_base_dir(&self.base_dir);
        for (name, table) in &self.tables {
            p.bind_table(name, Arc::clone(table));
        }
        for (k, v) in self.params_in_force() {
            p.set_param(&k, &v);
        }
        for (k, v) in self.in_force(&self.data_paths) {
            p.set_data_path(&k, &v);
        }
        p
    }

    /// The `--param` overrides to apply.
    fn params_in_force(&self) -> Vec<(String, String)> {
        self.in_force(&self.params)
    }

    /// The `--param` or `--data` overrides to apply: those naming something the session
    /// defines. A session started without a file may get an override before its
    /// definition, and `:load` may replace the definitions with others; until the name is
    /// defined, its override waits, instead of failing every line typed (with an import,
    /// the imported names are not known here: all apply, and an unknown one is an error).
    fn in_force<T: Clone>(&self, overrides: &[(String, T)]) -> Vec<(String, T)> {
        let imports = self
            .stmts
            .iter()
            .any(|s| s.name.is_none() && s.text.trim_start().starts_with("import"));
        overrides
            .iter()
            .filter(|(name, _)| imports || self.stmts.iter().any(|s| s.name.as_ref() == Some(name)))
            .cloned()
            .collect()
    }

    /// The statements as one text, with their comments, remembering where each was written.
    fn source(&self) -> Generated {
        let mut g = Generated::default();
        for s in &self.stmts {
            g.push(&s.before);
            g.copy(&s.origin, s.offset..s.offset + s.text.len());
            g.push(&s.after);
        }
        g.push(&self.tail);
        if !g.text.ends_with('\n') {
            g.push("\n");
        }
        g
    }

    /// Statements typed at the prompt: added, or replacing a definition of the same name
    /// in place. Nothing changes unless the session, with them, checks and its data reads.
    fn define(&mut self, input: &str, module: &ast::Module) -> Reply {
        let typed = Arc::new(self.typed(input));
        let mut stmts = self.stmts.clone();
        let mut notes = Vec::new();
        let mut this_input: Vec<String> = Vec::new();
        let mut after = 0;
        for item in &module.items {
            let range = origin::item_range(input, item, after);
            after = range.end;
            let mut stmt = Stmt {
                name: item_name(item),
                text: input[range.clone()].to_string(),
                before: String::new(),
                after: String::new(),
                origin: Arc::clone(&typed),
                offset: range.start,
            };
            let name = stmt.name.clone().unwrap_or_default();
            let old = stmt
                .name
                .as_ref()
                .filter(|n| !this_input.contains(n))
                .and_then(|n| stmts.iter().position(|s| s.name.as_ref() == Some(n)));
            if let Some(i) = old {
                notes.push(format!("redefined `{name}`"));
                stmt.before = std::mem::take(&mut stmts[i].before);
                stmts[i] = stmt;
            } else {
                if stmt.name.is_some() {
                    notes.push(format!("defined `{name}`"));
                } else if let ast::Item::Import(file) = item {
                    notes.push(format!("imported {}", sanitize_line(&input[file.span.range()])));
                }
                if !stmts.is_empty() {
                    stmt.before = "\n\n".into();
                }
                stmts.push(stmt);
            }
            this_input.push(name);
        }
        let before = std::mem::replace(&mut self.stmts, stmts);
        let (tables, read_from) = (self.tables.clone(), self.read_from.clone());
        let checked = match self.sync_tables().map(|()| self.project().check()) {
            Ok(checked) if !checked.has_errors() => checked,
            result => {
                let text = match result {
                    Ok(checked) => {
                        let errors: Vec<Diagnostic> =
                            checked.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
                        self.render(&errors, &checked.program.sources, None)
                    }
                    Err(text) => text,
                };
                (self.stmts, self.tables, self.read_from) = (before, tables, read_from);
                return Reply::fail(format!(
                    "{text}not defined: the definitions above have errors\n"
                ));
            }
        };
        let warnings = self.render(&checked.diagnostics, &checked.program.sources, None);
        self.unsaved = true;
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

    /// The query a view's name alone stands for: the view's text after its `=`
    /// (`aht, fcr by site, week`).
    fn view_as_query(&self, q: &syntax::Query) -> Option<String> {
        let [item] = &q.items[..] else { return None };
        let ExprKind::Name(name) = &item.kind else { return None };
        if !q.by.is_empty() || q.filter.is_some() {
            return None;
        }
        self.program()?.view(&name.name)?;
        let stmt = self.stmts.iter().find(|s| s.name.as_deref() == Some(name.name.as_str()))?;
        let (_, body) = stmt.text.split_once('=')?;
        Some(body.trim().to_string())
    }

    /// A query: names and expressions, `by` dims, `where` condition.
    fn query(&mut self, input: &str, q: &syntax::Query) -> Reply {
        // Expressions become KPIs and the list a view; every piece copied from the typed
        // line remembers where it was, so diagnostics point into what was typed.
        let typed = Arc::new(self.typed(input));
        let trimmed = input.len() - input.trim_start().len()..input.trim_end().len();
        let mut extra = Generated::with_fallback(&typed, trimmed);
        let mut names = Vec::new();
        let mut labels = Vec::new();
        for (k, item) in q.items.iter().enumerate() {
            let r = item.span.range();
            match &item.kind {
                ExprKind::Name(_) => names.push(Err(r)),
                _ => {
                    let name = format!("__expr_{k}");
                    extra.push(&format!("kpi {name} =\n"));
                    extra.copy(&typed, r.clone());
                    extra.push("\n");
                    names.push(Ok(name.clone()));
                    labels.push((name, input[r].trim().to_string()));
                }
            }
        }
        extra.push(&format!("view {QUERY_VIEW} =\n"));
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                extra.push(", ");
            }
            match name {
                Ok(generated) => extra.push(&generated),
                Err(range) => extra.copy(&typed, range),
            }
        }
        extra.push("\n");
        if q.by.is_empty() && !self.by.is_empty() {
            extra.push(&format!("by {}\n", self.by.join(", ")));
        }
        let tail_start = q.items.last().map_or(0, |e| e.span.end as usize);
        extra.copy(&typed, tail_start..input.len());
        extra.push("\n");
        self.cancel.store(false, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let result = self.project().evaluate_extra(
            INPUT,
            &extra.text,
            QUERY_VIEW,
            Some(self.cancel.clone()),
        );
        // Messages name the typed expression, not the KPI it became (`__expr_0`).
        let rename = |ds: &mut [Diagnostic]| {
            for d in ds {
                let texts = std::iter::once(&mut d.message)
                    .chain(d.help.as_mut())
                    .chain(d.notes.iter_mut())
                    .chain(d.labels.iter_mut().map(|l| &mut l.message));
                for text in texts {
                    for (name, label) in &labels {
                        let shown = format!("`{}`", sanitize_line(label));
                        *text = text
                            .replace(&format!("kpi `{name}`"), &shown)
                            .replace(&format!("`{name}`"), &shown);
                    }
                }
            }
        };
        match result {
            Ok(mut report) => {
                rename(&mut report.warnings.diagnostics);
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
                let w = &report.warnings;
                let fresh: Vec<Diagnostic> = w
                    .diagnostics
                    .iter()
                    // The same warning: same words, same place (the KPI), same data file.
                    .filter(|d| {
                        self.said.insert(format!("{:?}", (d.code, &d.message, &d.labels, &d.data)))
                    })
                    .cloned()
                    .collect();
                Reply { err: self.render(&fresh, &w.sources, Some(&extra)), ..Reply::ok(out) }
            }
            Err(e) => {
                let interrupted = e.diagnostics.iter().any(|d| d.code == Code::Interrupted);
                if interrupted {
                    return Reply::fail("interrupted\n");
                }
                let mut diagnostics = e.diagnostics;
                rename(&mut diagnostics);
                Reply::fail(self.render(&diagnostics, &e.sources, Some(&extra)))
            }
        }
    }

    /// Loads a KPI file and its data, replacing the session's definitions.
    pub fn load(&mut self, path: &Path) -> Reply {
        self.load_over(path, false)
    }

    /// The names of the definitions typed in this session.
    fn typed_names(&self) -> Vec<String> {
        self.stmts
            .iter()
            .filter(|s| s.origin.name == INPUT)
            .filter_map(|s| s.name.clone())
            .collect()
    }

    /// `:load FILE`, or `:load! FILE` (`drop`): a load replaces the session's definitions,
    /// so it refuses to drop typed ones that were not saved unless told to.
    pub(super) fn load_over(&mut self, path: &Path, drop: bool) -> Reply {
        let typed = self.typed_names();
        if self.unsaved && !drop && !typed.is_empty() {
            let names: Vec<String> =
                typed.iter().map(|n| format!("`{}`", sanitize_line(n))).collect();
            return Reply::fail(format!(
                "error: loading would drop the definitions typed in this session ({}); nothing was loaded\n  = help: `:save FILE` keeps them, `:load! FILE` drops them\n",
                names.join(", ")
            ));
        }
        let text = match crate::check::read_source(path) {
            Ok(t) => t,
            Err((_, msg)) => return Reply::fail(format!("error: {msg}\n")),
        };
        // A byte-order mark is not part of the text, as for the checker.
        let text = text.strip_prefix('\u{feff}').map_or(text.clone(), str::to_string);
        let file = Arc::new(SourceFile::new(path.display().to_string(), text));
        let parsed = syntax::parse(FileId(0), &file.text);
        if !parsed.diagnostics.is_empty() {
            let mut sources = SourceMap::new();
            sources.add(SourceFile::clone(&file));
            return Reply::fail(
                parsed
                    .diagnostics
                    .iter()
                    .map(|d| diagnostics::human(d, &sources, self.color))
                    .collect::<String>(),
            );
        }
        let (stmts, tail) = origin::statements_of(&file, &parsed.module);
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let old = (
            std::mem::replace(&mut self.stmts, stmts),
            std::mem::replace(&mut self.tail, tail),
            self.file.replace(path.to_path_buf()),
            std::mem::replace(&mut self.base_dir, base_dir),
            std::mem::take(&mut self.tables),
            std::mem::take(&mut self.read_from),
        );
        let mut reply = self.reload_data();
        if !reply.ok {
            (self.stmts, self.tail, self.file, self.base_dir, self.tables, self.read_from) = old;
        }
        if reply.ok {
            self.unsaved = false;
            self.said.clear();
            reply.err.push_str(&self.waiting_overrides());
        }
        reply
    }

    /// A note for each `--param` and `--data` override that names nothing the session
    /// defines: it waits for a definition instead of applying.
    fn waiting_overrides(&self) -> String {
        let params = self.params.iter().map(|(n, v)| ("param", n, v.clone()));
        let data = self.data_paths.iter().map(|(n, p)| ("data", n, p.display().to_string()));
        let in_force: Vec<String> = self
            .in_force(&self.params)
            .into_iter()
            .map(|(n, _)| n)
            .chain(self.in_force(&self.data_paths).into_iter().map(|(n, _)| n))
            .collect();
        params
            .chain(data)
            .filter(|(_, name, _)| !in_force.contains(name))
            .map(|(kind, name, value)| {
                format!(
                    "note: --{kind} {}={} waits: nothing named `{}` is defined yet\n",
                    sanitize_line(name),
                    sanitize_line(&value),
                    sanitize_line(name)
                )
            })
            .collect()
    }

    fn reload_data(&mut self) -> Reply {
        if let Err(text) = self.sync_tables() {
            return Reply::fail(text);
        }
        let checked = self.project().check();
        let rendered = self.render(&checked.diagnostics, &checked.program.sources, None);
        if checked.has_errors() {
            return Reply::fail(rendered);
        }
        let out = data::summary(&checked, &self.tables);
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

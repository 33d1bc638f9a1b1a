//! Meta-commands: `:help`, `:load`, `:schema`, `:explain`, ...

use std::fmt::Write as _;
use std::path::Path;

use super::data::ReadFrom;
use super::{Format, Reply, Session, Stmt};
use crate::data::ColumnData;
use crate::program::{Direction, ItemRef, KpiExpr, Program};
use crate::render::escape::{sanitize, sanitize_line};
use crate::render::format;
use crate::suggest;

/// Every meta-command with its usage, for `:help` and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    ("help", ":help                  this list"),
    (
        "load",
        ":load FILE             load a KPI file and its data (refused while typed definitions are unsaved)",
    ),
    ("load!", ":load! FILE            the same, dropping the typed definitions"),
    ("reload", ":reload                read the file and data again (typed definitions are kept)"),
    ("data", ":data NAME PATH        read dataset NAME from another CSV file"),
    ("datasets", ":datasets              datasets with their files and row counts"),
    ("schema", ":schema DATASET        columns, types and null counts"),
    ("list", ":list                  kpis, blends, dims, params and views"),
    ("show", ":show NAME             the definition of NAME"),
    (
        "explain",
        ":explain NAME          what NAME computes, its target and direction, what it uses",
    ),
    ("set", ":set NAME = VALUE      change a param (e.g. :set answer_within = 30s)"),
    ("by", ":by DIM, ...           group every query by these dims (`:by` alone clears)"),
    ("format", ":format table|json|csv how results are shown"),
    ("timer", ":timer on|off          show how long each query takes"),
    (
        "save",
        ":save FILE             write the session's definitions to FILE (a new file or the loaded one)",
    ),
    ("save!", ":save! FILE            the same, over any other existing file but the data"),
    ("quit", ":quit                  leave (also Ctrl-D)"),
];

impl Session {
    pub(super) fn command(&mut self, line: &str) -> Reply {
        let line = line.trim();
        let (cmd, rest) =
            line.split_once(char::is_whitespace).map_or((line, ""), |(c, r)| (c, r.trim()));
        match cmd {
            "help" | "h" | "?" => Reply::ok(help()),
            "quit" | "q" | "exit" => Reply { quit: true, ok: true, ..Reply::default() },
            "load" | "l" if !rest.is_empty() => self.load_over(Path::new(rest), false),
            "load!" if !rest.is_empty() => self.load_over(Path::new(rest), true),
            "reload" | "r" => self.reload(),
            "data" => self.data_command(rest),
            "datasets" => self.datasets(),
            "schema" => self.schema(rest),
            "list" | "ls" => self.list(),
            "show" => self.show(rest),
            "explain" => self.explain(rest),
            "set" => self.set(rest),
            "by" => self.group_by(rest),
            "format" => match rest {
                "table" => self.set_format(Format::Table),
                "json" => self.set_format(Format::Json),
                "csv" => self.set_format(Format::Csv),
                _ => Reply::fail("usage: :format table|json|csv\n"),
            },
            "timer" => match rest {
                "on" | "off" => {
                    self.timer = rest == "on";
                    Reply::ok(format!("timer {rest}\n"))
                }
                _ => Reply::fail("usage: :timer on|off\n"),
            },
            "save" if !rest.is_empty() => self.save(Path::new(rest), false),
            "save!" if !rest.is_empty() => self.save(Path::new(rest), true),
            _ => {
                if let Some((_, usage)) = COMMANDS.iter().find(|(c, _)| *c == cmd) {
                    return Reply::fail(format!(
                        "usage: {}\n",
                        usage.split("  ").next().unwrap_or(usage)
                    ));
                }
                let mut msg = format!("error: unknown command `:{}`", sanitize_line(cmd));
                if let Some(s) = suggest::similar(cmd, COMMANDS.iter().map(|(c, _)| *c)) {
                    let _ = write!(msg, "\n  = help: did you mean `:{s}`?");
                } else {
                    msg.push_str("\n  = help: `:help` lists the commands");
                }
                Reply::fail(msg + "\n")
            }
        }
    }

    /// `:by site, queue`: every name a dim of the session, none twice (a query would
    /// fail later, pointing at text the user never typed).
    fn group_by(&mut self, rest: &str) -> Reply {
        let names: Vec<&str> = rest.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        let dims: Vec<&str> = self
            .program()
            .map(|p| p.dims.iter().map(|d| d.name.as_str()).collect())
            .unwrap_or_default();
        for (i, name) in names.iter().enumerate() {
            if !dims.contains(name) {
                let mut msg = format!("error: `{}` is not a dim", sanitize_line(name));
                match suggest::similar(name, dims.iter().copied()) {
                    Some(s) => {
                        let _ = write!(msg, "\n  = help: did you mean `{s}`?");
                    }
                    None if !dims.is_empty() => {
                        let _ = write!(msg, "\n  = help: the dims are {}", dims.join(", "));
                    }
                    None => {}
                }
                return Reply::fail(msg + "\n");
            }
            if names[..i].contains(name) {
                return Reply::fail(format!(
                    "error: dim `{}` is given twice\n",
                    sanitize_line(name)
                ));
            }
        }
        self.by = names.into_iter().map(String::from).collect();
        Reply::ok(if self.by.is_empty() {
            "queries are not grouped\n".into()
        } else {
            format!("queries are grouped by {}\n", self.by.join(", "))
        })
    }

    fn set_format(&mut self, f: Format) -> Reply {
        self.format = f;
        let name = match f {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
        };
        Reply::ok(format!("format {name}\n"))
    }

    pub(super) fn program(&self) -> Option<&Program> {
        self.checked.as_ref().map(|c| &c.program)
    }

    fn reload(&mut self) -> Reply {
        let Some(file) = self.file.clone() else {
            return Reply::fail("error: nothing loaded; use :load FILE\n");
        };
        let typed: Vec<Stmt> = self.typed_statements(&file);
        let unsaved = self.unsaved;
        // The typed definitions are put back below: nothing is dropped.
        let reply = self.load_over(&file, true);
        if !reply.ok {
            return reply;
        }
        for stmt in typed {
            let text = stmt.text.clone();
            let r = self.handle(&text);
            if !r.ok {
                return r;
            }
        }
        self.unsaved = unsaved;
        reply
    }

    /// Statements that are not (or no longer) as in the file.
    fn typed_statements(&self, file: &Path) -> Vec<Stmt> {
        let Ok(text) = crate::check::read_source(file) else { return Vec::new() };
        self.stmts.iter().filter(|s| !text.contains(s.text.trim())).cloned().collect()
    }

    fn data_command(&mut self, rest: &str) -> Reply {
        let Some((name, path)) = rest.split_once(char::is_whitespace) else {
            return Reply::fail("usage: :data NAME PATH\n");
        };
        let Some(program) = self.program() else {
            return Reply::fail("error: nothing loaded; use :load FILE\n");
        };
        let Some(id) = program.dataset(name) else {
            return Reply::fail(format!("error: no dataset named `{}`\n", sanitize_line(name)));
        };
        let ds = &program.datasets[id];
        let path = Path::new(path.trim());
        match super::data::load_table(path, ds) {
            Ok(t) => {
                let rows = t.rows;
                let read_from = ReadFrom::new(path, ds);
                let before = (self.tables.clone(), self.read_from.clone(), self.data_paths.clone());
                self.tables.insert(name.to_string(), std::sync::Arc::new(t));
                self.read_from.insert(name.to_string(), read_from);
                self.data_paths.retain(|(n, _)| n != name);
                self.data_paths.push((name.to_string(), path.to_path_buf()));
                let checked = self.project().check();
                let diags = self.render(&checked.diagnostics, &checked.program.sources, None);
                let shown = sanitize_line(&path.display().to_string());
                if checked.has_errors() {
                    // The definitions do not fit the new file: keep the old one, as a
                    // failed `:load` keeps the session.
                    (self.tables, self.read_from, self.data_paths) = before;
                    return Reply::fail(format!(
                        "{diags}error: the definitions do not fit {shown}; `{name}` still reads its previous data\n"
                    ));
                }
                self.checked = Some(checked);
                Reply {
                    err: diags,
                    ..Reply::ok(format!("{name}: {} from {shown}\n", rows_text(rows)))
                }
            }
            Err(d) => Reply::fail(crate::render::diagnostics::human(
                &d,
                &crate::source::SourceMap::new(),
                self.color,
            )),
        }
    }

    fn datasets(&self) -> Reply {
        let Some(p) = self.program() else { return Reply::ok("no datasets\n") };
        let lines: Vec<(String, String, String)> = p
            .datasets
            .iter()
            .map(|d| {
                let rows = self.tables.get(&d.name).map_or(0, |t| t.rows);
                // The file the rows came from.
                let path = self.read_from.get(&d.name).map_or(&d.path, |r| &r.path);
                (
                    sanitize_line(&d.name),
                    rows_text(rows),
                    sanitize_line(&path.display().to_string()),
                )
            })
            .collect();
        let name_w = lines.iter().map(|l| l.0.chars().count()).max().unwrap_or(0);
        let rows_w = lines.iter().map(|l| l.1.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for (name, rows, path) in &lines {
            let _ = writeln!(out, "{name:name_w$}  {rows:>rows_w$}  {path}");
        }
        Reply::ok(out)
    }

    fn schema(&self, name: &str) -> Reply {
        let Some(t) = self.tables.get(name) else {
            let names: Vec<&str> = self.tables.keys().map(String::as_str).collect();
            let mut msg = format!("error: no dataset named `{}`", sanitize_line(name));
            if let Some(s) = suggest::similar(name, names.iter().copied()) {
                let _ = write!(msg, "\n  = help: did you mean `{s}`?");
            }
            return Reply::fail(msg + "\n");
        };
        let names: Vec<String> = t.columns.iter().map(|c| sanitize_line(&c.name)).collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let mut out = format!("{name}: {}\n", rows_text(t.rows));
        for (c, shown) in t.columns.iter().zip(&names) {
            let nulls = match &c.data {
                ColumnData::Num(v) => v.iter().filter(|x| x.is_nan()).count(),
                ColumnData::Bool(v) => v.iter().filter(|&&b| b == 2).count(),
                ColumnData::Text { codes, .. } => codes.iter().filter(|&&c| c == u32::MAX).count(),
            };
            let _ = writeln!(
                out,
                "  {shown:width$}  {:8}  {nulls} null",
                sanitize_line(&c.ty.to_string())
            );
        }
        Reply::ok(out)
    }

    fn list(&self) -> Reply {
        let Some(p) = self.program() else { return Reply::ok("nothing defined\n") };
        let mut out = String::new();
        let mut line = |word: &str, names: Vec<&str>| {
            if !names.is_empty() {
                let _ = writeln!(out, "{word:8} {}", names.join(", "));
            }
        };
        line("kpis", p.kpis.iter().map(|k| k.name.as_str()).collect());
        line("blends", p.blends.iter().map(|b| b.name.as_str()).collect());
        line("dims", p.dims.iter().map(|d| d.name.as_str()).collect());
        line("params", p.params.iter().map(|d| d.name.as_str()).collect());
        line("views", p.views.iter().map(|d| d.name.as_str()).collect());
        line("datasets", p.datasets.iter().map(|d| d.name.as_str()).collect());
        Reply::ok(out)
    }

    fn show(&self, name: &str) -> Reply {
        match self.stmts.iter().find(|s| s.name.as_deref() == Some(name)) {
            Some(s) => {
                let mut out = shown_source(&s.text);
                // A param set with `:set` or `--param` says the value in force.
                if let Some((_, v)) =
                    self.params_in_force().into_iter().rev().find(|(n, _)| n == name)
                {
                    let _ = writeln!(out, "  (set to {} in this session)", sanitize_line(&v));
                }
                Reply::ok(out)
            }
            None => match self.program().and_then(|p| imported_definition(p, name)) {
                Some(text) => Reply::ok(text),
                None => self.unknown(name),
            },
        }
    }

    fn unknown(&self, name: &str) -> Reply {
        let names: Vec<String> = self.stmts.iter().filter_map(|s| s.name.clone()).collect();
        let mut msg = format!("error: `{}` is not defined", sanitize_line(name));
        if let Some(s) = suggest::similar(name, names.iter().map(String::as_str)) {
            let _ = write!(msg, "\n  = help: did you mean `{s}`?");
        }
        Reply::fail(msg + "\n")
    }

    fn explain(&self, name: &str) -> Reply {
        let Some(p) = self.program() else { return self.unknown(name) };
        match p.item(name) {
            Some(ItemRef::Kpi(k)) => Reply::ok(explain_kpi(p, k)),
            Some(ItemRef::Blend(b)) => Reply::ok(explain_blend(p, b)),
            None => self.show(name),
        }
    }

    fn set(&mut self, rest: &str) -> Reply {
        let Some((name, value)) = rest.split_once('=') else {
            return Reply::fail("usage: :set NAME = VALUE\n");
        };
        let (name, value) = (name.trim().to_string(), value.trim().to_string());
        if !self.program().is_some_and(|p| p.params.iter().any(|x| x.name == name)) {
            return self.unknown(&name);
        }
        let before = self.params.clone();
        self.params.retain(|(n, _)| *n != name);
        self.params.push((name.clone(), value.clone()));
        let checked = self.project().check();
        if checked.has_errors() {
            let text = self.render(&checked.diagnostics, &checked.program.sources, None);
            self.params = before;
            return Reply::fail(text);
        }
        self.checked = Some(checked);
        Reply::ok(format!("{name} = {}\n", sanitize_line(&value)))
    }
}

/// A statement as typed, its line breaks kept and everything else a string literal can
/// hold (controls, bidirectional controls) escaped.
/// `1 row`, `5,000 rows`.
fn rows_text(rows: usize) -> String {
    #[allow(clippy::cast_precision_loss)]
    let n = crate::render::format::value(Some(rows as f64), &crate::types::Unit::Count);
    format!("{n} {}", if rows == 1 { "row" } else { "rows" })
}

/// A definition from an imported file, with where it is: a KPI whole, anything else by
/// the line that names it (`dim site = calls.site  (library/datasets.kpi:12)`).
fn imported_definition(p: &Program, name: &str) -> Option<String> {
    let (span, whole) = p
        .kpis
        .iter()
        .find(|k| k.name == name)
        .map(|k| (k.def_span, true))
        .or_else(|| p.dims.iter().find(|d| d.name == name).map(|d| (d.span, false)))
        .or_else(|| p.params.iter().find(|d| d.name == name).map(|d| (d.span, false)))
        .or_else(|| p.blends.iter().find(|d| d.name == name).map(|d| (d.span, false)))
        .or_else(|| p.views.iter().find(|d| d.name == name).map(|d| (d.span, false)))
        .or_else(|| p.datasets.iter().find(|d| d.name == name).map(|d| (d.span, false)))?;
    let file = p.sources.get(span.file)?;
    let line = file.line_col(span.start as usize).line;
    let text =
        if whole { p.sources.snippet(span).to_string() } else { file.line_text(line).to_string() };
    Some(format!("{}  ({}:{line})\n", shown_source(&text).trim_end(), sanitize_line(&file.name)))
}

fn shown_source(text: &str) -> String {
    let text = text.trim().replace("\r\n", "\n").replace('\r', "\n").replace('\t', "    ");
    format!("{}\n", sanitize(&text))
}

fn help() -> String {
    let mut out = String::from(
        "Type a definition (kpi, blend, dim, ...) to define or redefine it, or a query:\n  aht, csat by site where calls.channel == \"voice\"\n  avg(calls.wait_s where calls.queue == \"billing\")\n\nCommands:\n",
    );
    for (_, usage) in COMMANDS {
        let _ = writeln!(out, "  {usage}");
    }
    out.push_str("\nTab completes names, columns after `dataset.`, functions and commands. Ctrl-C interrupts a query (a second one at an empty prompt leaves); Ctrl-D leaves.\n");
    out
}

fn explain_kpi(p: &Program, k: usize) -> String {
    let def = &p.kpis[k];
    let mut out = format!("kpi {}", def.name);
    if let Some(l) = &def.label {
        let _ = write!(out, " — {}", sanitize_line(l));
    }
    out.push('\n');
    let expr = p.sources.snippet(def.expr_span).split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = writeln!(out, "  computes: {}", sanitize_line(&expr));
    let _ = writeln!(out, "  unit:     {}", sanitize_line(&def.unit.name()));
    match (def.target, def.direction()) {
        (Some(t), dir) => {
            let _ = write!(out, "  target:   {}", format::bound(Some(t), &def.unit));
            if let Some(w) = def.warn {
                let _ = write!(out, ", warn {}", format::bound(Some(w), &def.unit));
            }
            let better = match dir {
                Some(Direction::HigherIsBetter) => " (higher is better)",
                Some(Direction::LowerIsBetter) => " (lower is better)",
                None => "",
            };
            let _ = writeln!(out, "{better}");
        }
        (None, _) => out.push_str("  target:   none\n"),
    }
    if let Some(m) = def.min {
        let _ = writeln!(out, "  min:      {m} rows, else insufficient");
    }
    if !def.tags.is_empty() {
        let _ = writeln!(out, "  tags:     {}", def.tags.join(", "));
    }
    let mut uses = Vec::new();
    crate::eval::kpi_refs(&def.expr, &mut uses);
    uses.dedup();
    let datasets: Vec<&str> = aggregates(&def.expr)
        .iter()
        .map(|&a| p.datasets[p.aggregates[a].dataset].name.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !datasets.is_empty() {
        let _ = writeln!(out, "  reads:    {}", datasets.join(", "));
    }
    if !uses.is_empty() {
        let _ = writeln!(
            out,
            "  uses:     {}",
            uses.iter().map(|&u| p.kpis[u].name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let used_by: Vec<&str> = p
        .kpis
        .iter()
        .filter(|o| {
            let mut r = Vec::new();
            crate::eval::kpi_refs(&o.expr, &mut r);
            r.contains(&k)
        })
        .map(|o| o.name.as_str())
        .chain(p.blends.iter().filter(|b| b.components.contains(&k)).map(|b| b.name.as_str()))
        .collect();
    if !used_by.is_empty() {
        let _ = writeln!(out, "  used by:  {}", used_by.join(", "));
    }
    out
}

fn aggregates(e: &KpiExpr) -> Vec<usize> {
    let mut out = Vec::new();
    crate::eval::agg_refs(e, &mut out);
    out
}

fn explain_blend(p: &Program, b: usize) -> String {
    let def = &p.blends[b];
    let mut out = format!("blend {}\n", def.name);
    for (&c, w) in def.components.iter().zip(&def.weights) {
        let k = &p.kpis[c];
        let dir = match k.direction() {
            Some(Direction::LowerIsBetter) => "score 100 × min(target / value, 1)",
            Some(Direction::HigherIsBetter) => "score 100 × min(value / target, 1)",
            None => "score 100 when it holds, else 0",
        };
        let _ = writeln!(
            out,
            "  {:5.1}%  {} target {}: {dir}",
            w * 100.0,
            k.name,
            format::bound(k.target, &k.unit)
        );
    }
    match &def.guard_text {
        Some(g) => {
            let _ = writeln!(
                out,
                "  guard:  {} — when it fails the verdict is breach and the score 0",
                sanitize_line(g)
            );
        }
        None => out.push_str("  guard:  none\n"),
    }
    out.push_str("  score:  weighted mean of the component scores; a miss scores at most 99.9, and 0 when\n          the target or the value is 0 or less; insufficient when a component has no value or\n          too few rows, or the guard cannot be decided\n");
    out
}

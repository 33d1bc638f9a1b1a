//! Datasets: their files, declared column types, time columns and links (with cycle
//! detection).

use super::{Checker, SymKind};
use crate::ast::{self, ExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::*;
use crate::suggest;

const TYPE_NAMES: &[(&str, ColumnType)] = &[
    ("int", ColumnType::Int),
    ("number", ColumnType::Number),
    ("bool", ColumnType::Bool),
    ("text", ColumnType::Text),
    ("time", ColumnType::Time),
    ("date", ColumnType::Date),
    ("duration", ColumnType::Duration),
];

impl Checker<'_> {
    pub(super) fn datasets(&mut self, defs: &[(&ast::Dataset, &super::files::LoadedFile)]) {
        let mut registered = Vec::new();
        // Datasets whose file is outside the project: never read.
        let mut confined = Vec::new();
        for (d, file) in defs {
            if !self.is_registered(&d.name.name, d.name.span) {
                continue;
            }
            let mut delimiter = b',';
            let mut null_tokens = Vec::new();
            let mut time_column = None;
            // `time` and `delimiter` take one value; `null` may be given for each token.
            let mut given: Vec<(&str, crate::source::Span)> = Vec::new();
            for (key, value) in &d.source.options {
                let option = key.name.as_str();
                if matches!(option, "time" | "delimiter") {
                    if let Some(&(_, first)) = given.iter().find(|(n, _)| *n == option) {
                        self.error(
                            Diagnostic::error(
                                Code::DuplicateClause,
                                format!("option `{option}` given twice in `csv(...)`"),
                            )
                            .at(key.span.to(value.span), "second one here")
                            .also(first, "first given here")
                            .help("keep one: a dataset has one time column and one delimiter"),
                        );
                        continue;
                    }
                    given.push((option, key.span.to(value.span)));
                }
                match (option, &value.kind) {
                    ("delimiter", ExprKind::Str(s))
                        if s.len() == 1 && !matches!(s.as_str(), "\"" | "\n" | "\r") =>
                    {
                        delimiter = s.as_bytes()[0];
                    }
                    ("delimiter", ExprKind::Str(s)) if s.len() == 1 => self.error(
                        Diagnostic::error(
                            Code::OutOfRange,
                            "`delimiter` cannot be a quote or a line break",
                        )
                        .at(value.span, "these already mean something in CSV"),
                    ),
                    ("null", ExprKind::Str(token)) => null_tokens.push(token.clone()),
                    ("time", ExprKind::Str(column)) => time_column = Some(column.clone()),
                    ("time", _) => self.error(
                        Diagnostic::error(
                            Code::ArgumentType,
                            "`time` must name a column, as a string",
                        )
                        .at(value.span, "e.g. time: \"started_at\""),
                    ),
                    ("null", _) => self.error(
                        Diagnostic::error(Code::ArgumentType, "`null` must be a string").at(
                            value.span,
                            "the text that stands for a missing value, e.g. \"N/A\"",
                        ),
                    ),
                    ("delimiter", _) => self.error(
                        Diagnostic::error(
                            Code::OutOfRange,
                            "`delimiter` must be a single ASCII character",
                        )
                        .at(
                            value.span,
                            "expected one ASCII character, e.g. \";\", \"|\" or \"\\t\"",
                        ),
                    ),
                    _ => {
                        let mut diag = Diagnostic::error(
                            Code::UnknownOption,
                            format!("unknown option `{}` of `csv(...)`", key.name),
                        )
                        .at(key.span, "not an option");
                        diag = diag.help(
                            "options: `delimiter: \";\"`, `null: \"N/A\"`, `time: \"started_at\"`",
                        );
                        self.error(diag);
                    }
                }
            }
            let mut declared: Vec<(String, ColumnType)> = Vec::new();
            for c in &d.columns {
                let Some(&(_, ty)) = TYPE_NAMES.iter().find(|(n, _)| *n == c.ty.name) else {
                    let mut diag = Diagnostic::error(
                        Code::UnknownType,
                        format!("unknown column type `{}`", c.ty.name),
                    )
                    .at(c.ty.span, "not a type");
                    diag = match suggest::similar(&c.ty.name, TYPE_NAMES.iter().map(|(n, _)| *n)) {
                        Some(s) => diag.help(format!("did you mean `{s}`?")),
                        None => diag.help("types: int, number, bool, text, time, date, duration"),
                    };
                    self.error(diag);
                    continue;
                };
                if declared.iter().any(|(n, _)| *n == c.name.name) {
                    self.error(
                        Diagnostic::error(
                            Code::Duplicate,
                            format!("column `{}` declared twice", c.name.name),
                        )
                        .at(c.name.span, "second declaration"),
                    );
                    continue;
                }
                declared.push((c.name.name.clone(), ty));
            }
            let path = match self.opts.data.iter().find(|(n, _)| *n == d.name.name) {
                Some((_, p)) => p.clone(),
                None => {
                    let written = &d.source.path;
                    let help = format!(
                        "move the file into the project, or name it on the command line: \
                         `--data {}=PATH`",
                        d.name.name
                    );
                    let outside = self.project.confine(
                        &written.value,
                        &file.base_dir,
                        written.span,
                        "data file",
                        &help,
                    );
                    if let Some(diag) = outside {
                        self.error(diag);
                        confined.push(self.program.datasets.len());
                    }
                    super::project::join_written(&file.base_dir, &written.value)
                }
            };
            let def = DatasetDef {
                name: d.name.name.clone(),
                span: d.source.path.span,
                path,
                delimiter,
                declared,
                links: Vec::new(),
                schema: None,
                untyped: Vec::new(),
                null_tokens,
                time_column,
            };
            self.program.datasets.push(def);
            registered.push(*d);
        }
        if let Some(schemas) = self.opts.schemas {
            for i in (0..self.program.datasets.len()).filter(|i| !confined.contains(i)) {
                match schemas.schema(&self.program.datasets[i]) {
                    Ok(schema) => {
                        let ds = &self.program.datasets[i];
                        for (column, line, cell) in &schema.text_among_numbers {
                            let warning = text_among_numbers(ds, column, *line, cell);
                            self.diags.push(warning);
                        }
                        self.program.datasets[i].schema = Some(schema.columns);
                        self.program.datasets[i].untyped = schema.untyped;
                    }
                    Err(diag) => {
                        let span = self.program.datasets[i].span;
                        // A problem with no line in the data (a missing file) points at
                        // where the file is named.
                        let no_line = diag.data.as_ref().is_none_or(|d| d.line.is_none());
                        let diag = if diag.labels.is_empty() && no_line {
                            diag.at(span, "named here")
                        } else {
                            diag
                        };
                        self.error(diag);
                    }
                }
            }
        }
        for (i, d) in registered.iter().enumerate() {
            self.time_option(i, d);
            for link in &d.links {
                if let Some(l) = self.link(i, link) {
                    self.program.datasets[i].links.push(l);
                }
            }
        }
        self.link_cycles();
        self.link_paths();
    }

    /// Each dataset must reach each other one in at most one way: two links to one dataset
    /// (`agent_id -> agents.id` and `supervisor_id -> agents.id`), or a diamond
    /// (`a -> b -> d` and `a -> c -> d`), would leave the row a column is read from open,
    /// and readers could pick different ones. Reported where the ways part.
    fn link_paths(&mut self) {
        let n = self.program.datasets.len();
        let mut found = Vec::new();
        for start in 0..n {
            // The first way found to each dataset, breadth first: linear, however many
            // ways a chain of diamonds has.
            let mut first: Vec<Option<Vec<(DatasetId, usize)>>> = vec![None; n];
            first[start] = Some(Vec::new());
            let mut queue = std::collections::VecDeque::from([start]);
            while let Some(d) = queue.pop_front() {
                let path = first[d].clone().unwrap_or_default();
                for (li, link) in self.program.datasets[d].links.iter().enumerate() {
                    let mut way = path.clone();
                    way.push((d, li));
                    match &first[link.target] {
                        None => {
                            first[link.target] = Some(way);
                            queue.push_back(link.target);
                        }
                        // Said once, by the dataset the two ways leave from.
                        Some(other) if other.first() != way.first() => {
                            found.push((start, link.target, other.clone(), way));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        for (start, target, one, two) in found {
            let datasets = &self.program.datasets;
            let text = |way: &[(DatasetId, usize)]| {
                way.iter()
                    .map(|&(d, li)| {
                        let l = &datasets[d].links[li];
                        let t = &datasets[l.target];
                        format!(
                            "{}.{} -> {}.{}",
                            datasets[d].name, l.column, t.name, l.target_column
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", then ")
            };
            let span =
                |way: &[(DatasetId, usize)]| way.last().map(|&(d, li)| datasets[d].links[li].span);
            let (from, to) = (&datasets[start].name, &datasets[target].name);
            let twice = text(&one) == text(&two);
            let (message, again, first, help) = if twice {
                (
                    format!("the link `{}` is declared twice", text(&one)),
                    "declared again here".to_string(),
                    "first declared here",
                    "remove one of them".to_string(),
                )
            } else {
                (
                    format!("`{from}` reaches `{to}` two ways: {} and {}", text(&one), text(&two)),
                    format!("a second way to `{to}`"),
                    "the first way",
                    format!(
                        "a row must reach each dataset one way; for a second role, declare \
                         `{to}` again under another name (a second `dataset` over the same \
                         file) and link to it"
                    ),
                )
            };
            let mut d = Diagnostic::error(Code::BadLink, message).help(help);
            if let Some(s) = span(&two) {
                d = d.at(s, again);
            }
            if let Some(s) = span(&one) {
                d = d.also(s, first);
            }
            self.diags.push(d);
        }
    }

    /// `time: "column"` must name a time column of the data (when it is known).
    fn time_option(&mut self, i: DatasetId, d: &ast::Dataset) {
        let ds = &self.program.datasets[i];
        let Some(column) = ds.time_column.clone() else { return };
        let span = d
            .source
            .options
            .iter()
            .find(|(k, _)| k.name == "time")
            .map_or(d.source.span, |(_, v)| v.span);
        let ty = ds
            .declared
            .iter()
            .chain(ds.schema.iter().flatten())
            .find(|(n, _)| *n == column)
            .map(|(_, t)| *t);
        match (ty, &ds.schema) {
            (Some(ColumnType::Time), _) | (None, None) => {}
            // No value in the sample: the type is unknown, so it may be a time column.
            (Some(_), _) if ds.untyped.contains(&column) => {}
            (Some(t), _) => self.error(
                Diagnostic::error(
                    Code::ArgumentType,
                    format!("`time` names `{column}`, a {t} column, not a time column"),
                )
                .at(span, "not a time column"),
            ),
            (None, Some(_)) if !self.open_schemas => self.error(
                Diagnostic::error(
                    Code::UnknownColumn,
                    format!("`time` names `{column}`, which dataset `{}` does not have", ds.name),
                )
                .at(span, "no such column"),
            ),
            // Checking against test data that leaves the column out.
            (None, Some(_)) => {}
        }
    }

    fn link(&mut self, from: DatasetId, link: &ast::Link) -> Option<LinkDef> {
        let target = match self.lookup(&link.target.name) {
            Some(s) if s.kind == SymKind::Dataset => s.index,
            Some(s) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!("`{}` is a {}, not a dataset", link.target.name, s.kind.word()),
                    )
                    .at(link.target.span, "a link must point at a dataset"),
                );
                return None;
            }
            None => {
                let names: Vec<String> =
                    self.program.datasets.iter().map(|d| d.name.clone()).collect();
                let mut d = Diagnostic::error(
                    Code::BadLink,
                    format!("link to unknown dataset `{}`", link.target.name),
                )
                .at(link.target.span, "no dataset of this name");
                if let Some(s) =
                    suggest::similar(&link.target.name, names.iter().map(String::as_str))
                {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
                return None;
            }
        };
        for (ds, col) in [(from, &link.column), (target, &link.target_column)] {
            let def = &self.program.datasets[ds];
            if let Some(schema) = &def.schema
                && !self.open_schemas
                && !schema.iter().any(|(n, _)| *n == col.name)
            {
                let mut d = Diagnostic::error(
                    Code::BadLink,
                    format!("link column `{}` is not in dataset `{}`", col.name, def.name),
                )
                .at(col.span, "no such column");
                if let Some(s) = suggest::similar(&col.name, schema.iter().map(|(n, _)| n.as_str()))
                {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
                return None;
            }
        }
        self.link_types(from, target, link);
        Some(LinkDef {
            column: link.column.name.clone(),
            target,
            target_column: link.target_column.name.clone(),
            span: link.span,
        })
    }

    /// The two columns of a link must hold values that can be equal: keys are compared
    /// by value, so an int key never finds a text one.
    fn link_types(&mut self, from: DatasetId, target: DatasetId, link: &ast::Link) {
        let ty = |ds: DatasetId, col: &str| {
            let def = &self.program.datasets[ds];
            if def.untyped.iter().any(|c| c == col) {
                return None;
            }
            def.declared
                .iter()
                .chain(def.schema.iter().flatten())
                .find(|(n, _)| n == col)
                .map(|(_, t)| *t)
        };
        let (Some(a), Some(b)) =
            (ty(from, &link.column.name), ty(target, &link.target_column.name))
        else {
            return;
        };
        let numeric = |t: ColumnType| matches!(t, ColumnType::Int | ColumnType::Number);
        if a == b || numeric(a) && numeric(b) {
            return;
        }
        let (from_name, target_name) =
            (&self.program.datasets[from].name, &self.program.datasets[target].name);
        let d = Diagnostic::error(
            Code::BadLink,
            format!(
                "link from `{from_name}.{}` ({a}) to `{target_name}.{}` ({b}): the keys can never match",
                link.column.name, link.target_column.name
            ),
        )
        .at(link.column.span, format!("{a} column"))
        .also(link.target_column.span, format!("{b} column"))
        .help(format!(
            "declare both columns with one type, e.g. `{}: {b}` in `{from_name}`'s block",
            link.column.name
        ));
        self.error(d);
    }

    /// Links must not form a cycle: each row reaches each dataset in at most one way.
    fn link_cycles(&mut self) {
        let n = self.program.datasets.len();
        for start in 0..n {
            let mut stack = vec![(start, vec![start])];
            while let Some((at, path)) = stack.pop() {
                for (li, link) in self.program.datasets[at].links.iter().enumerate() {
                    if link.target == start {
                        let names: Vec<&str> = path
                            .iter()
                            .chain([&start])
                            .map(|&d| self.program.datasets[d].name.as_str())
                            .collect();
                        if path.iter().min() == Some(&start) {
                            let span = link.span;
                            let msg = format!("links form a cycle: {}", names.join(" → "));
                            self.diags.push(Diagnostic::error(Code::BadLink, msg).at(span, "this link closes the cycle").help("links go from the many side to the one side; remove one direction"));
                        }
                        self.program.datasets[at].links.truncate(li);
                        break;
                    }
                    if !path.contains(&link.target) && path.len() <= n {
                        let mut p = path.clone();
                        p.push(link.target);
                        stack.push((link.target, p));
                    }
                }
            }
        }
    }
}

/// KB0514: a column read as text although its sampled cells are numbers but for a few
/// (`12s` among the seconds of `wait_s`): every KPI that needs a number of it fails, at
/// the KPI; this says which cell made it text, and how to have such cells reported.
fn text_among_numbers(ds: &DatasetDef, column: &str, line: u64, cell: &str) -> Diagnostic {
    let path = ds.path.display().to_string();
    let mut d = Diagnostic::warning(
        Code::TextAmongNumbers,
        format!(
            "column `{column}` of `{}` is read as text: its cells are numbers but for some, the first `{}`",
            ds.name,
            crate::render::escape::sanitize_line(cell)
        ),
    )
    .at(ds.span, "read from here")
    .help(format!(
        "declare the column's type in the dataset block (`{column}: number`, or `duration`): `eval` then names every cell that is not one, and `--bad-rows skip` leaves their rows out; or `null: \"{}\"` if it means no value",
        crate::render::escape::sanitize_line(cell)
    ));
    d.data = Some(crate::diagnostic::DataLocation {
        path,
        line: Some(line),
        record: None,
        column: Some(column.to_string()),
    });
    d
}

//! Diagnostics as text: rustc-style for people, JSON for tools, workflow commands for
//! GitHub Actions.
//!
//! Source lines are shown with control characters replaced (a KPI file or a CSV cell
//! cannot send escape sequences to the terminal), and very long lines are shown as a
//! window around the caret.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::escape::{sanitize, sanitize_line};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{LineCol, SourceMap};

/// Widest part of a source line shown around a caret.
const WINDOW: usize = 100;

struct Styles {
    error: Style,
    warning: Style,
    bold: Style,
    gutter: Style,
    help: Style,
}

impl Styles {
    fn new(color: bool) -> Styles {
        if !color {
            return Styles {
                error: Style::new(),
                warning: Style::new(),
                bold: Style::new(),
                gutter: Style::new(),
                help: Style::new(),
            };
        }
        Styles {
            error: AnsiColor::Red.on_default().bold(),
            warning: AnsiColor::Yellow.on_default().bold(),
            bold: Style::new().bold(),
            gutter: AnsiColor::Blue.on_default().bold(),
            help: AnsiColor::Cyan.on_default().bold(),
        }
    }
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// Where a diagnostic points: file, and line/column when known.
pub struct Position {
    pub file: String,
    pub start: Option<LineCol>,
    pub end: Option<LineCol>,
    /// The column of `start` is known: a place in a KPI file (a data file's place is a
    /// line, record and named column).
    pub has_column: bool,
}

pub fn position(d: &Diagnostic, sources: &SourceMap) -> Position {
    if let Some(span) = d.primary_span()
        && let Some(f) = sources.get(span.file)
    {
        return Position {
            file: f.name.clone(),
            start: Some(f.line_col(span.start as usize)),
            end: Some(f.line_col(span.end as usize)),
            has_column: true,
        };
    }
    if let Some(data) = &d.data {
        let line = data.line.and_then(|l| usize::try_from(l).ok());
        return Position {
            file: data.path.clone(),
            start: line.map(|l| LineCol { line: l, column: 1 }),
            end: None,
            has_column: false,
        };
    }
    Position { file: d.file.clone().unwrap_or_default(), start: None, end: None, has_column: false }
}

/// The rustc-style rendering of one diagnostic, ending with a blank line.
pub fn human(d: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let st = Styles::new(color);
    let (word, style) = match d.severity {
        Severity::Error => ("error", st.error),
        Severity::Warning => ("warning", st.warning),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{}",
        paint(style, &format!("{word}[{}]", d.code)),
        paint(st.bold, &format!(": {}", sanitize(&d.message)))
    );
    let pos = position(d, sources);
    let labels: Vec<_> = d.labels.iter().filter(|l| sources.get(l.span.file).is_some()).collect();
    let width = labels
        .iter()
        .filter_map(|l| sources.get(l.span.file).map(|f| f.line_col(l.span.start as usize).line))
        .max()
        .map_or(1, |l| l.to_string().len());
    let pad = " ".repeat(width);
    // `--> file:line:col` (or `:::` for a second place).
    let source_place = |arrow: &str, lc: &crate::source::LineCol| {
        format!(
            "{pad}{} {}:{}:{}\n",
            paint(st.gutter, arrow),
            sanitize_line(&pos.file),
            lc.line,
            lc.column
        )
    };
    match (&pos.start, &d.data) {
        (Some(lc), None) => out.push_str(&source_place("-->", lc)),
        (_, Some(data)) => {
            let mut at = sanitize_line(&data.path);
            if let Some(l) = data.line {
                let _ = write!(at, ":{l}");
            }
            let mut extra = Vec::new();
            if let Some(r) = data.record {
                extra.push(format!("record {r}"));
            }
            if let Some(c) = &data.column {
                extra.push(format!("column `{}`", sanitize_line(c)));
            }
            if !extra.is_empty() {
                let _ = write!(at, " ({})", extra.join(", "));
            }
            let _ = writeln!(out, "{pad}{} {at}", paint(st.gutter, "-->"));
            // The snippet below is from the definitions, not the data: name it too.
            if let (Some(lc), false) = (&pos.start, labels.is_empty()) {
                out.push_str(&source_place(":::", lc));
            }
        }
        (None, None) if !pos.file.is_empty() => {
            let _ = writeln!(out, "{pad}{} {}", paint(st.gutter, "-->"), sanitize_line(&pos.file));
        }
        _ => {}
    }
    if !labels.is_empty() {
        let _ = writeln!(out, "{pad} {}", paint(st.gutter, "|"));
        // Labels grouped by line, in order of appearance: each line is shown once with
        // all its underlines beneath it.
        let mut order: Vec<(crate::source::FileId, usize)> = Vec::new();
        for l in &labels {
            let Some(f) = sources.get(l.span.file) else { continue };
            let key = (l.span.file, f.line_col(l.span.start as usize).line);
            if !order.contains(&key) {
                order.push(key);
            }
        }
        // Lines in file order, as rustc shows them; the primary label's file first.
        let primary_file = labels[0].span.file;
        order.sort_by_key(|&(file, line)| (file != primary_file, file, line));
        let mut shown_file = labels[0].span.file;
        for (file, line) in order {
            let Some(f) = sources.get(file) else { continue };
            if file != shown_file {
                let _ =
                    writeln!(out, "{pad}{} {}:{line}", paint(st.gutter, ":::"), sanitize(&f.name));
                shown_file = file;
            }
            let on_line: Vec<_> = labels
                .iter()
                .filter(|l| l.span.file == file && f.line_col(l.span.start as usize).line == line)
                .collect();
            snippet(&mut out, f, line, &on_line, &pad, &st, style);
        }
        let _ = writeln!(out, "{pad} {}", paint(st.gutter, "|"));
    }
    for n in &d.notes {
        let _ = writeln!(
            out,
            "{pad} {} {}: {}",
            paint(st.gutter, "="),
            paint(st.bold, "note"),
            sanitize(n)
        );
    }
    if let Some(h) = &d.help {
        let _ = writeln!(
            out,
            "{pad} {} {}: {}",
            paint(st.gutter, "="),
            paint(st.help, "help"),
            sanitize(h)
        );
    }
    out.push('\n');
    out
}

fn snippet(
    out: &mut String,
    f: &crate::source::SourceFile,
    line: usize,
    labels: &[&&crate::diagnostic::Label],
    pad: &str,
    st: &Styles,
    style: Style,
) {
    let text_chars: Vec<char> = f.line_text(line).chars().collect();
    let ranges: Vec<(usize, usize)> = labels
        .iter()
        .map(|l| {
            let start = f.line_col(l.span.start as usize);
            let end = f.line_col(l.span.end as usize);
            let first = start.column - 1;
            let last = if end.line == start.line {
                (end.column - 1).max(first + 1)
            } else {
                text_chars.len().max(first + 1)
            };
            (first, last)
        })
        .collect();
    // A window of the line around the first label, so a 5 MB line shows as ~100 characters.
    let focus = ranges.first().map_or(0, |r| r.0);
    let from = if text_chars.len() > WINDOW { focus.saturating_sub(WINDOW / 2) } else { 0 };
    let to = text_chars.len().min(from + WINDOW);
    let mut text: String =
        text_chars.get(from..to).unwrap_or(&[]).iter().map(|&c| display_char(c)).collect();
    let shift = usize::from(from > 0);
    if from > 0 {
        text.insert(0, '…');
    }
    if to < text_chars.len() {
        text.push('…');
    }
    let _ = writeln!(
        out,
        "{} {} {}",
        paint(st.gutter, &format!("{:>w$}", line, w = pad.len())),
        paint(st.gutter, "|"),
        text
    );
    for (l, &(first, last)) in labels.iter().zip(&ranges) {
        if first < from || first > to {
            continue;
        }
        let marker = if l.primary { "^" } else { "-" };
        let carets = marker.repeat(last.min(to.max(first + 1)) - first);
        let lead = " ".repeat(first - from + shift);
        let mark_style = if l.primary { style } else { st.gutter };
        let msg =
            if l.message.is_empty() { String::new() } else { format!(" {}", sanitize(&l.message)) };
        let _ = writeln!(
            out,
            "{pad} {} {lead}{}",
            paint(st.gutter, "|"),
            paint(mark_style, &format!("{carets}{msg}"))
        );
    }
}

fn display_char(c: char) -> char {
    match c {
        '\t' => ' ',
        c if super::escape::is_unsafe(c) => '\u{FFFD}',
        c => c,
    }
}

/// The JSON form: one object per diagnostic.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    /// The path as it is (JSON escapes what it must); null for a diagnostic about the
    /// command line or the run as a whole.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub severity: Severity,
    pub code: &'a str,
    /// Texts are escaped (`\u{1b}`) like the human output, DEL and C1 controls included.
    pub message: String,
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_column: Option<String>,
}

pub fn json_value<'a>(d: &'a Diagnostic, sources: &SourceMap) -> JsonDiagnostic<'a> {
    let p = position(d, sources);
    JsonDiagnostic {
        file: Some(p.file).filter(|f| !f.is_empty()),
        line: p.start.map(|l| l.line),
        column: p.start.filter(|_| p.has_column).map(|l| l.column),
        end_line: p.end.map(|l| l.line),
        end_column: p.end.map(|l| l.column),
        severity: d.severity,
        code: d.code.as_str(),
        message: sanitize(&d.message),
        help: d.help.as_deref().map(sanitize),
        notes: d.notes.iter().map(|n| sanitize(n)).collect(),
        record: d.data.as_ref().and_then(|x| x.record),
        data_column: d.data.as_ref().and_then(|x| x.column.clone()),
    }
}

pub fn json(ds: &[Diagnostic], sources: &SourceMap) -> String {
    let values: Vec<_> = ds.iter().map(|d| json_value(d, sources)).collect();
    super::escape::json(serde_json::to_string_pretty(&values).unwrap_or_else(|_| "[]".into()))
}

/// A GitHub Actions workflow command (`::error file=…,line=…::message`).
pub fn github(d: &Diagnostic, sources: &SourceMap) -> String {
    let p = position(d, sources);
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    // A diagnostic about the command line (`--data` that fits no file) has no file.
    let mut props: Vec<String> = [&p.file]
        .into_iter()
        .filter(|f| !f.is_empty())
        .map(|f| format!("file={}", escape_property(f)))
        .collect();
    if let Some(s) = p.start {
        props.push(format!("line={}", s.line));
        if p.has_column {
            props.push(format!("col={}", s.column));
        }
    }
    if let Some(e) = p.end {
        props.push(format!("endLine={}", e.line));
        props.push(format!("endColumn={}", e.column));
    }
    props.push(format!("title={}", d.code));
    let mut message = d.message.clone();
    if let Some(h) = &d.help {
        let _ = write!(message, "\nhelp: {h}");
    }
    format!("::{kind} {}::{}", props.join(","), escape_data(&sanitize(&message)))
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// "2 errors, 1 warning" style tally.
pub fn tally(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

//! From text to [`ast::Module`]. pest lives here and nowhere else: nothing outside this
//! module sees a `Pair` or a `Rule`.
//!
//! The pipeline is `prescan` (unclosed strings, control characters, nesting depth),
//! then pest with the grammar in `grammar/kpi.pest`, then `lower` (pairs to AST, with
//! the Pratt table for operator precedence). A syntax error does not hide the rest of
//! the file: parsing resumes at the next line that starts a statement, so one run
//! reports every broken statement and the checker still sees the good ones.

mod errors;
mod incomplete;
mod lower;
mod prescan;

use pest::Parser as _;

use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

pub use incomplete::{Incomplete, continues_statement, is_incomplete};
pub use lower::MAX_DEPTH;
pub use prescan::MAX_NESTING;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/kpi.pest"]
struct KpiParser;

/// The result of parsing one file: the statements that parsed, and the errors.
#[derive(Debug, Default)]
pub struct Parsed {
    pub module: ast::Module,
    /// Names of statements that failed to parse; the checker treats them as defined so
    /// one syntax error does not cascade into "unknown name" errors.
    pub broken_names: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Statement keywords: a line starting with one of these starts a new statement.
const STATEMENT_KEYWORDS: &[&str] =
    &["import", "dataset", "dim", "param", "kpi", "blend", "view", "note", "test"];

/// Runs `f` with at least 56 MiB of stack (recursion in the parser and the checker is
/// bounded by `syntax::MAX_NESTING`; this leaves ample room in debug builds too): on the
/// current stack when it has that much left, else on a fresh 64 MiB segment of this same
/// thread (no thread is started, and a panic in `f` unwinds to the caller as usual).
pub fn on_big_stack<T>(f: impl FnOnce() -> T) -> T {
    const NEEDED: usize = 56 << 20;
    const SEGMENT: usize = 64 << 20;
    stacker::maybe_grow(NEEDED, SEGMENT, f)
}

/// Parses a whole file.
pub fn parse(file: FileId, text: &str) -> Parsed {
    on_big_stack(|| parse_here(file, text))
}

fn parse_here(file: FileId, text: &str) -> Parsed {
    let scan = prescan::scan(file, text);
    let mut parsed = Parsed::default();
    parsed.module.comments = scan.comments;
    // Statements the prescan rejected are blanked out (line breaks kept, so positions
    // stay right); the rest of the file is still parsed and checked.
    let blanked_text;
    let mut text = text;
    if !scan.errors.is_empty() {
        let mut blanked = text.as_bytes().to_vec();
        for d in &scan.errors {
            let at = d.primary_span().map_or(0, |s| s.start as usize).min(text.len());
            let from = statement_start_before(text, 0, at);
            let to = next_statement_start(text, at);
            parsed.broken_names.extend(statement_names(text, from, to));
            for b in &mut blanked[from..to] {
                if *b != b'\n' && *b != b'\r' {
                    *b = b' ';
                }
            }
        }
        parsed.diagnostics = scan.errors;
        blanked_text = String::from_utf8(blanked).unwrap_or_default();
        text = &blanked_text;
    }
    let mut start = 0;
    while start < text.len() {
        match KpiParser::parse(Rule::file, &text[start..]) {
            Ok(mut pairs) => {
                lower_items(file, start, pairs.next(), &mut parsed);
                break;
            }
            Err(err) => {
                let at = start + error_offset(&err);
                // Keep what parses before the broken statement.
                let stmt = statement_start_before(text, start, at);
                if stmt > start
                    && let Ok(mut pairs) = KpiParser::parse(Rule::file, &text[start..stmt])
                {
                    lower_items(file, start, pairs.next(), &mut parsed);
                }
                let (diagnostic, next) = match unfinished(file, text, stmt, at) {
                    // The next statement is fine: go on from it.
                    Some(d) if at > stmt => (d, at),
                    _ => (
                        errors::syntax_error(file, start, &text[start..], &err),
                        next_statement_start(text, at.max(stmt + 1)),
                    ),
                };
                parsed.diagnostics.push(diagnostic);
                parsed.broken_names.extend(statement_names(text, stmt, next));
                start = next;
            }
        }
    }
    parsed
}

fn lower_items(
    file: FileId,
    offset: usize,
    pair: Option<pest::iterators::Pair<'_, Rule>>,
    parsed: &mut Parsed,
) {
    if let Some(pair) = pair {
        let mut lower = lower::Lower { file, offset, diagnostics: &mut parsed.diagnostics };
        parsed.module.items.extend(lower.file(pair, &mut parsed.broken_names));
    }
}

/// A REPL line: either statements, or a query (`aht, csat by site where ...`).
#[derive(Debug)]
pub enum ReplInput {
    Items(Parsed),
    Query(Query),
}

/// `expr, expr ... [by dim, ...] [where cond]` typed at the REPL.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub items: Vec<ast::Expr>,
    pub by: Vec<ast::Ident>,
    pub filter: Option<ast::Expr>,
}

/// Parses one REPL input. Statements win when the line starts with a statement keyword.
pub fn parse_repl(file: FileId, text: &str) -> Result<ReplInput, Vec<Diagnostic>> {
    on_big_stack(|| parse_repl_here(file, text))
}

fn parse_repl_here(file: FileId, text: &str) -> Result<ReplInput, Vec<Diagnostic>> {
    let first = text
        .trim_start()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if STATEMENT_KEYWORDS.contains(&first) {
        let parsed = parse_here(file, text);
        return Ok(ReplInput::Items(parsed));
    }
    let scan = prescan::scan(file, text);
    if !scan.errors.is_empty() {
        return Err(scan.errors);
    }
    match KpiParser::parse(Rule::repl_query, text) {
        Ok(mut pairs) => {
            let mut diagnostics = Vec::new();
            let mut lower = lower::Lower { file, offset: 0, diagnostics: &mut diagnostics };
            let query = pairs.next().map(|p| lower.query(p));
            match query {
                Some(q) if diagnostics.is_empty() => Ok(ReplInput::Query(q)),
                _ => Err(diagnostics),
            }
        }
        Err(err) => Err(vec![errors::syntax_error(file, 0, text, &err)]),
    }
}

/// A single literal such as `30s`, `-2`, `"text"` (for `--param` values).
pub fn parse_literal(text: &str) -> Option<ast::Expr> {
    let pair = KpiParser::parse(Rule::literal_only, text).ok()?.next()?;
    let mut diagnostics = Vec::new();
    let mut lower = lower::Lower { file: FileId(0), offset: 0, diagnostics: &mut diagnostics };
    let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::EOI);
    let first = inner.next()?;
    if first.as_rule() == Rule::op_neg {
        let (e, _) = lower.literal(inner.next()?).ok()?;
        let kind = match e.kind {
            ast::ExprKind::Number(n) => ast::ExprKind::Number(-n),
            ast::ExprKind::Percent(n) => ast::ExprKind::Percent(-n),
            ast::ExprKind::Duration(n) => ast::ExprKind::Duration(-n),
            _ => return None,
        };
        return Some(ast::Expr { kind, span: e.span });
    }
    lower.literal(first).ok().map(|(e, _)| e)
}

fn error_offset(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((a, _)) => a,
    }
}

/// Byte offsets where the lines of `text[from..to]` start (`\n`, `\r\n` and a lone `\r`
/// each end a line).
fn line_starts(text: &str, from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    std::iter::once(from).chain((from..to).filter(move |&i| match bytes[i] {
        b'\n' => false,
        _ => i > from && (bytes[i - 1] == b'\n' || (bytes[i - 1] == b'\r')),
    }))
}

/// Byte offsets of the lines in `text[from..to]` that begin with a statement keyword.
fn statement_starts(text: &str, from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
    line_starts(text, from, to).filter(move |&at| {
        let word = text[at..to]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        STATEMENT_KEYWORDS.contains(&word)
    })
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn statement_start_before(text: &str, from: usize, at: usize) -> usize {
    let at = floor_boundary(text, at);
    let line_start = line_starts(text, from, at).filter(|&s| s <= at).last().unwrap_or(from);
    statement_starts(text, from, at)
        .chain(std::iter::once(from))
        .filter(|&s| s <= line_start)
        .max()
        .unwrap_or(from)
}

fn next_statement_start(text: &str, from: usize) -> usize {
    let from = floor_boundary(text, from);
    let line_end = line_starts(text, from, text.len()).nth(1).unwrap_or(text.len());
    statement_starts(text, line_end, text.len()).next().unwrap_or(text.len())
}

/// When pest stops at the start of the next statement (or the end of the file), the
/// mistake is in the statement before: a bracket never closed, or an operator with
/// nothing after it. Points at that instead.
fn unfinished(file: FileId, text: &str, stmt: usize, at: usize) -> Option<Diagnostic> {
    let at_statement =
        at >= text.len() || statement_starts(text, at, text.len()).next() == Some(at);
    if !at_statement {
        return None;
    }
    let bytes = text.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut last: Option<(usize, usize)> = None;
    let mut i = stmt;
    while i < at {
        match bytes[i] {
            b'#' => {
                while i < at && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                let triple = bytes[i..].starts_with(b"\"\"\"");
                let close = if triple {
                    text[i + 3..at].find("\"\"\"").map(|n| i + 3 + n + 3)
                } else {
                    text[i + 1..at].find('"').map(|n| i + 1 + n + 1)
                };
                last = Some((i, close.unwrap_or(at)));
                i = close.unwrap_or(at);
                continue;
            }
            b'(' | b'[' | b'{' => open.push(i),
            b')' | b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        if !bytes[i].is_ascii_whitespace() {
            let start = i;
            if bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' {
                while i < at
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
            } else {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
            last = Some((start, i));
            continue;
        }
        i += 1;
    }
    if let Some(&b) = open.last() {
        let c = char::from(bytes[b]);
        return Some(
            Diagnostic::error(Code::Syntax, format!("unclosed `{c}`"))
                .at(Span::new(file, b, b + 1), format!("this `{c}` is never closed"))
                .help(format!(
                    "add the matching `{}`",
                    match c {
                        '(' => ')',
                        '[' => ']',
                        _ => '}',
                    }
                )),
        );
    }
    let (a, b) = last?;
    let token = &text[a..b];
    let dangling = matches!(
        token,
        "+" | "-"
            | "*"
            | "/"
            | "<"
            | ">"
            | "="
            | "!"
            | ","
            | "and"
            | "or"
            | "not"
            | "where"
            | "with"
            | "by"
            | "guard"
            | "weights"
            | "target"
            | "warn"
            | "unit"
            | "tags"
            | "min"
            | "when"
            | "then"
            | "else"
            | "in"
            | "is"
            | "over"
    );
    let dangling = dangling || ["<=", ">=", "==", "!="].iter().any(|op| token.ends_with(op));
    dangling.then(|| {
        Diagnostic::error(Code::Syntax, format!("expected something after `{token}`"))
            .at(Span::new(file, a, b), "nothing follows this")
            .help("finish the expression or remove the operator")
    })
}

/// The names that statements in `text[from..to]` would define (`kpi NAME`, `blend NAME =`).
fn statement_names(text: &str, from: usize, to: usize) -> Vec<String> {
    let mut names = Vec::new();
    for line in text[from..to].split(['\n', '\r']) {
        let mut words = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty());
        if let (Some(kw), Some(name)) = (words.next(), words.next())
            && STATEMENT_KEYWORDS.contains(&kw)
            && line.starts_with(kw)
        {
            names.push(name.to_string());
            if kw == "blend" {
                // an unnamed blend `blend a with b` is called `a_with_b`
                let rest: Vec<&str> = words.collect();
                let mut parts = vec![name];
                let mut it = rest.iter();
                while let (Some(&"with"), Some(c)) = (it.next(), it.next()) {
                    parts.push(c);
                }
                names.push(parts.join("_with_"));
            }
        }
    }
    names
}

/// A diagnostic for text that is not valid UTF-8, positioned at the first bad byte.
pub fn not_utf8(file: FileId, bytes: &[u8], err: &std::str::Utf8Error) -> Diagnostic {
    let at = err.valid_up_to();
    let byte = bytes.get(at).copied().unwrap_or(0);
    Diagnostic::error(Code::NotUtf8, format!("file is not valid UTF-8 (byte 0x{byte:02X})"))
        .at(Span::new(file, at, at), "invalid byte here")
        .help("save the file as UTF-8")
}

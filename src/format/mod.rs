//! A `.kpi` file printed back in one canonical layout, every comment and paragraph kept
//! (the library half of `kpiblend fmt`).
//!
//! # The layout
//!
//! - One statement per line when it fits in 100 columns. Blank lines between statements
//!   are kept as paragraph breaks (a run of them becomes one); the file starts with its
//!   first statement or comment and ends with exactly one line break. Line breaks are
//!   the file's: CRLF when its first line ends so (a Windows checkout), else LF; a
//!   byte-order mark stays.
//! - Single spaces around binary operators and `=`, `a, b` in lists, nothing inside
//!   brackets: `avg(calls.wait_s where not calls.abandoned)`, `x in ("a", "b")`.
//! - `kpi`: clauses in the order `unit`, `target`, `warn`, `min`, `tags`, two spaces
//!   before each. When the statement does not fit, or a comment inside it needs a line
//!   break (any but one after the clause printed last), the expression stays on the `=`
//!   line if the `kpi` has no label and that line fits, and otherwise gets its own line,
//!   indented 4; each clause then gets its own indented line, except that `warn` shares
//!   the line of `target`.
//! - `dim` and `param`: the expression moves to its own indented line when the whole
//!   does not fit. `import`, `blend`, `view` and `note` are always one line.
//! - `dataset … { }` and `test … { }`: one entry per line, indented 4, in source order,
//!   blank lines between entries kept as in the file. An empty `dataset` block is left
//!   out; an empty `test` block is `{}`.
//! - Triple-quoted strings: the opening `"""` ends its line, the text is indented one
//!   level deeper than that line, and the closing `"""` stands at that line's
//!   indentation (the string's value does not change).
//! - Literals are spelled as written: `1_000`, `6.50`, `75%`, `6m`, dates, times, and the
//!   escapes of plain strings.
//! - Parentheses: the ones precedence needs, plus the ones the user wrote around an
//!   operator expression inside another (`(a * b) + c` stays); parentheses around a
//!   single operand, doubled ones, and ones around a whole argument or value go.
//! - An expression that does not fit in 100 columns where it starts (on its own line, in
//!   a `kpi`, `dim` or `param`) is broken, outermost first, each piece that fits staying
//!   on one line:
//!   - an operator expression: before each operator of its loosest chain (`a + b - c`,
//!     not what is in parentheses), the operator starting the continuation line at the
//!     column where the expression starts;
//!   - a call: before its `where`, aligned one column after the `(`, when the arguments
//!     fit on the first line; otherwise one argument per line after each `,`, aligned
//!     there too (the argument the filter follows breaks before `where` if needed);
//!   - `x in (…)`: one item per line after each `,`, aligned after the `(`;
//!   - `case`: each `when … then …` and the `else` on a line indented 4 from `case`,
//!     `end` under `case`; a `when` that does not fit puts `then` on the next line,
//!     4 deeper;
//!   - `not`, `-`, `is null` and parentheses break inside their operand. Literals,
//!     names, clause values, `blend`, `view`, `expect` and expressions holding a
//!     triple-quoted string are never broken, so such a line may exceed 100 columns.
//!   - nor is an expression that starts past column 80: breaking it would not make it
//!     fit, and deep nesting would indent every level further (a 15 KB file of nested
//!     `case`s became 8.8 MB).
//! - `<>` is written `!=`, and `[dim == v]` in an `expect` is written `[dim = v]`.
//!
//! # Comments
//!
//! A comment on a line of its own stays before the statement, `kpi` clause or block
//! entry that follows it, at that line's indentation. A comment after code stays at the
//! end of that line, two spaces after the code. A comment the layout has no place for
//! (inside an expression, between a keyword and its value) keeps its whole statement
//! exactly as written. Comments are never moved into or out of a statement, reflowed or
//! dropped; trailing spaces after them are removed.
//!
//! # Guarantees
//!
//! The output parses to the same tree as the input (spans aside) with the same
//! comments, and formatting it again changes nothing. Both are checked as the output is
//! made: a reformatted statement that does not read back as the original is kept as
//! written ([`Formatted::kept`]), and if the whole file does not read back the same, the
//! input is returned unchanged ([`Formatted::refused`]).

mod comments;
pub mod erase;
mod expr;
pub(crate) use expr::escaped;
mod items;
#[cfg(test)]
mod tests;

use crate::ast::{Item, Module};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};
use crate::syntax;

use comments::{Comment, Piece};
use expr::Printer;

pub use items::WIDTH;

/// A formatted file, and how much of it the formatter could lay out.
#[derive(Debug, Clone, PartialEq)]
pub struct Formatted {
    pub text: String,
    /// Statements kept exactly as written (spans in the input): a comment sits where the
    /// layout has no place for it, or the reformatted text would not read back the same.
    pub kept: Vec<Span>,
    /// The formatted file did not read back as the input (a formatter bug), or would be
    /// larger than a KPI file may be (see `too_large`), so `text` is the input unchanged.
    pub refused: bool,
    /// Refused because the formatted text would exceed [`MAX_SOURCE_BYTES`] (which
    /// `check` refuses): deep nesting broken over many indented lines can grow that much.
    ///
    /// [`MAX_SOURCE_BYTES`]: crate::check::MAX_SOURCE_BYTES
    pub too_large: bool,
}

/// Formats `text` (a whole file called `name` in diagnostics). A file with syntax errors
/// is not formatted: its diagnostics are returned.
pub fn format_source(name: &str, text: &str) -> Result<String, Vec<Diagnostic>> {
    format_file(name, text).map(|f| f.text)
}

/// Like [`format_source`], with what the formatter left as written.
pub fn format_file(name: &str, text: &str) -> Result<Formatted, Vec<Diagnostic>> {
    // A byte-order mark is not part of the text, as for the checker (spans are after it);
    // the output keeps it.
    let (bom, text) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    // Parsing and printing recurse as deep as the expressions nest.
    crate::check::on_big_stack(|| {
        let parsed = syntax::parse(FileId(0), text);
        if !parsed.diagnostics.is_empty() {
            return Err(parsed.diagnostics.into_iter().map(|d| d.in_file(name)).collect());
        }
        let mut formatted = format_module(text, &parsed.module);
        // Line endings are the file's, as its first line has them (a Windows checkout's
        // CRLF stays, and `fmt --check` passes there).
        let crlf = text.find('\n').is_some_and(|i| text[..i].ends_with('\r'));
        if crlf && !formatted.refused {
            formatted.text = formatted.text.replace("\r\n", "\n").replace('\n', "\r\n");
        }
        formatted.text.insert_str(0, bom);
        Ok(formatted)
    })
}

/// Formats a module parsed (without errors) from `src`; run on a large stack.
fn format_module(src: &str, module: &Module) -> Formatted {
    let comments: Vec<Comment<'_>> =
        module.comments.iter().map(|c| Comment::new(src, c.range())).collect();
    let extents = extents(src, &module.items, &comments);
    // Comments inside a statement belong to it; the rest sit between statements.
    let (mut inner, mut outer) = (vec![Vec::new(); extents.len()], Vec::new());
    for c in &comments {
        let at = extents.partition_point(|e| e.end <= c.start);
        match extents.get(at) {
            Some(e) if e.start <= c.start => inner[at].push(*c),
            _ => outer.push(*c),
        }
    }
    let refuse =
        || Formatted { text: src.to_string(), kept: Vec::new(), refused: true, too_large: false };
    let Ok(lines) = comments::arrange(src, &extents, &outer) else { return refuse() };
    let printer = Printer { src };
    let mut kept = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut size = 0u64;
    for line in lines {
        if size > crate::check::MAX_SOURCE_BYTES {
            break;
        }
        if line.blank_before && !out.is_empty() {
            out.push(String::new());
        }
        match line.piece {
            Piece::Comment(c) => out.push(c.to_string()),
            Piece::Part { index, trailing } => {
                let (Some(item), Some(extent)) = (module.items.get(index), extents.get(index))
                else {
                    return refuse();
                };
                let mut expected = inner[index].clone();
                expected.extend(trailing);
                out.push(match printer.item(item, &inner[index], trailing) {
                    // Too large already: refused below, without reading it back.
                    Ok(text) if size + text.len() as u64 > crate::check::MAX_SOURCE_BYTES => text,
                    Ok(text) if reads_back(&text, item, &expected) => text,
                    _ => {
                        kept.push(item.span());
                        let text = src.get(extent.clone()).unwrap_or("").replace("\r\n", "\n");
                        items::with_trailing(text, trailing.map(|c| c.text))
                    }
                });
            }
        }
        size += out.last().map_or(0, |l| l.len() as u64 + 1);
    }
    let mut text = out.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if text.len() as u64 > crate::check::MAX_SOURCE_BYTES {
        return Formatted { too_large: true, ..refuse() };
    }
    if same_file(src, module, &text) {
        Formatted { text, kept, refused: false, too_large: false }
    } else {
        refuse()
    }
}

/// Where each statement is in the source: from its first token to its last. Spans are
/// trusted only as far as they agree with the comments: a statement cannot end inside
/// (or with) a comment, and it takes in anything else on its last line before a comment
/// or the next statement, so a span that ends early cannot cut a statement in two.
fn extents(src: &str, items: &[Item], comments: &[Comment<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let span = item.span();
        let start = span.start as usize;
        let end = comments::clamp_end(src, &span.range(), comments);
        let line_end = src[end..].find(['\n', '\r']).map_or(src.len(), |n| end + n);
        let next_item = items.get(i + 1).map_or(src.len(), |n| n.span().start as usize);
        let next_comment = comments
            .get(comments.partition_point(|c| c.start < end))
            .map_or(src.len(), |c| c.start);
        let limit = line_end.min(next_item).min(next_comment).max(end);
        out.push(start..end + src.get(end..limit).unwrap_or("").trim_end().len());
    }
    out
}

/// `text`, parsed alone, is `item` (spans aside) with the comments `expected`.
fn reads_back(text: &str, item: &Item, expected: &[Comment<'_>]) -> bool {
    let parsed = syntax::parse(FileId(0), text);
    let comments: Vec<&str> = parsed
        .module
        .comments
        .iter()
        .map(|c| text.get(c.range()).unwrap_or("").trim_end())
        .collect();
    parsed.diagnostics.is_empty()
        && matches!(&parsed.module.items[..], [back] if erase::item(back) == erase::item(item))
        && comments.iter().copied().eq(expected.iter().map(|c| c.text))
}

/// `formatted` parses to `module`'s statements (spans aside) and the same comments.
fn same_file(src: &str, module: &Module, formatted: &str) -> bool {
    let back = syntax::parse(FileId(0), formatted);
    let texts = |m: &Module, text: &str| -> Vec<String> {
        m.comments
            .iter()
            .map(|c| text.get(c.range()).unwrap_or("").trim_end().to_string())
            .collect()
    };
    back.diagnostics.is_empty()
        && back.module.items.len() == module.items.len()
        && back
            .module
            .items
            .iter()
            .zip(&module.items)
            .all(|(a, b)| erase::item(a) == erase::item(b))
        && texts(&back.module, formatted) == texts(module, src)
}

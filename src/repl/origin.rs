//! Where the text a session checks came from.
//!
//! A session checks its statements as one generated text (`<session>`), and a query as
//! another (`<input>`, the typed line wrapped in a view). Each generated text records
//! which of its pieces were copied from what the user wrote (a loaded file, a typed
//! line), so a diagnostic can be moved back there: to the file at its own line and
//! column, or to the line as typed. What the session wrote itself (the view around a
//! query) points at the whole typed line instead, and is never shown.

use std::ops::Range;
use std::sync::Arc;

use super::Stmt;
use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile, SourceMap, Span};

/// A piece of generated text copied from `file` at `start`.
struct Piece {
    generated: Range<usize>,
    file: Arc<SourceFile>,
    start: usize,
}

/// A generated text and where its pieces came from.
#[derive(Default)]
pub(super) struct Generated {
    pub text: String,
    pieces: Vec<Piece>,
    /// Where spans in text the session wrote itself point.
    fallback: Option<(Arc<SourceFile>, Range<usize>)>,
}

impl Generated {
    /// Spans in the session's own text point at `range` of `file`.
    pub fn with_fallback(file: &Arc<SourceFile>, range: Range<usize>) -> Generated {
        Generated { fallback: Some((Arc::clone(file), range)), ..Generated::default() }
    }

    /// Text the session writes itself.
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// `file.text[range]`, remembering where it came from.
    pub fn copy(&mut self, file: &Arc<SourceFile>, range: Range<usize>) {
        let start = self.text.len();
        self.text.push_str(&file.text[range.clone()]);
        let generated = start..self.text.len();
        self.pieces.push(Piece { generated, file: Arc::clone(file), start: range.start });
    }

    /// Where `span` (in this text) was written, as a file and a range in it.
    fn origin(&self, span: Span) -> Option<(&Arc<SourceFile>, Range<usize>)> {
        let (start, end) = (span.start as usize, span.end as usize);
        let piece = self
            .pieces
            .iter()
            .find(|p| p.generated.contains(&start) || (start == end && p.generated.end == start));
        match piece {
            Some(p) => {
                let end = end.clamp(start, p.generated.end);
                let shift = |at: usize| at - p.generated.start + p.start;
                Some((&p.file, shift(start)..shift(end)))
            }
            None => self.fallback.as_ref().map(|(f, r)| (f, r.clone())),
        }
    }
}

/// `diags` (whose spans are in `sources`) with every span in a generated text (named as
/// in `generated`) moved to where it was written, and the sources they now point into.
pub(super) fn translate(
    diags: &[Diagnostic],
    sources: &SourceMap,
    generated: &[(&str, &Generated)],
) -> (Vec<Diagnostic>, SourceMap) {
    let mut out = sources.clone();
    let mut added: Vec<(Arc<SourceFile>, FileId)> = Vec::new();
    let by_file: Vec<(FileId, &Generated)> = generated
        .iter()
        .filter_map(|(name, g)| {
            let id = sources.files().find(|(_, f)| f.name == *name).map(|(id, _)| id)?;
            Some((id, *g))
        })
        .collect();
    let mut moved = diags.to_vec();
    for label in moved.iter_mut().flat_map(|d| d.labels.iter_mut()) {
        let Some((_, g)) = by_file.iter().find(|(id, _)| *id == label.span.file) else {
            continue;
        };
        let Some((file, range)) = g.origin(label.span) else { continue };
        let id = match added.iter().find(|(f, _)| Arc::ptr_eq(f, file)) {
            Some((_, id)) => *id,
            None => {
                let id = out.add(SourceFile::clone(file));
                added.push((Arc::clone(file), id));
                id
            }
        };
        label.span = Span::new(id, range.start, range.end);
    }
    (moved, out)
}

/// The range of `item` in `text`, keyword included: an import's span is its string, so
/// its `import` keyword is looked for after `after` (where the item before it ended).
pub(super) fn item_range(text: &str, item: &ast::Item, after: usize) -> Range<usize> {
    let range = item.span().range();
    if let ast::Item::Import(_) = item {
        if let Some(at) = text.get(after..range.start).and_then(|gap| gap.rfind("import")) {
            return after + at..range.end;
        }
    }
    range
}

/// The statements of a file, each with the blank lines and comments before it and the
/// comment that ends its line; and the comments after the last one.
pub(super) fn statements_of(file: &Arc<SourceFile>, module: &ast::Module) -> (Vec<Stmt>, String) {
    let text = file.text.as_str();
    let mut stmts = Vec::new();
    let mut prev = 0;
    for item in &module.items {
        let range = item_range(text, item, prev);
        let line_end = text[range.end..].find(['\n', '\r']).map_or(text.len(), |i| range.end + i);
        let rest = &text[range.end..line_end];
        let after = if rest.trim_start().starts_with('#') { rest.trim_end() } else { "" };
        stmts.push(Stmt {
            name: super::item_name(item),
            text: text[range.clone()].to_string(),
            before: text[prev..range.start].to_string(),
            after: after.to_string(),
            origin: Arc::clone(file),
            offset: range.start,
        });
        prev = range.end + after.len();
    }
    (stmts, text[prev..].to_string())
}

//! Statements in canonical layout (the rules are in the module docs of `format`).
//!
//! Each printer gets the comments inside its statement. Those it can place (before or
//! after a `kpi` clause, around the entries of a block) it places; for any other it
//! returns [`Verbatim`] and the statement is kept as written.

use std::ops::Range;

use super::comments::{self, Comment, PerPart, Piece};
use super::expr::{Printed, Printer, Verbatim};
use crate::ast::*;

/// Widest line the layout aims at, in characters.
pub const WIDTH: usize = 100;

/// One level of indentation.
const INDENT: &str = "    ";

/// `line` is a single line of at most [`WIDTH`] characters.
pub fn fits(line: &str) -> bool {
    !line.contains(['\n', '\r']) && line.chars().count() <= WIDTH
}

/// `line` with a comment after it, two spaces apart.
pub fn with_trailing(line: String, comment: Option<&str>) -> String {
    match comment {
        Some(c) => format!("{line}  {c}"),
        None => line,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClauseKind {
    Unit,
    Target,
    Warn,
    Min,
    Tags,
}

/// A `kpi` clause: where it is in the source, and how it prints.
struct Clause {
    kind: ClauseKind,
    range: Range<usize>,
    text: String,
}

/// An entry of a `{ }` block: where it is in the source, and how it prints.
type Entry = (Range<usize>, String);

impl Printer<'_> {
    /// A statement: `inner` are the comments inside it, `trailing` the one after it on
    /// its last line (which goes with the part written last, not the part printed last).
    pub fn item(
        &self,
        item: &Item,
        inner: &[Comment<'_>],
        trailing: Option<Comment<'_>>,
    ) -> Printed {
        let mut all = inner.to_vec();
        all.extend(trailing);
        let text = match item {
            Item::Kpi(k) => return self.kpi(k, &all),
            Item::Dataset(d) => return self.dataset(d, &all),
            Item::Test(t) => return self.test(t, &all),
            _ if !inner.is_empty() => return Err(Verbatim),
            Item::Import(s) => format!("import {}", self.strlit(s, 0)),
            Item::Dim(d) => self.definition("dim", &d.name, &d.expr)?,
            Item::Param(p) => self.definition("param", &p.name, &p.value)?,
            Item::Blend(b) => self.blend(b)?,
            Item::View(v) => self.view(v)?,
            Item::Note(n) => format!("note {} {}", self.expr(&n.date, 0)?, self.strlit(&n.text, 0)),
        };
        Ok(with_trailing(text, trailing.map(|c| c.text)))
    }

    /// `dim NAME = expr`, the expression on its own line when the whole does not fit.
    fn definition(&self, keyword: &str, name: &Ident, e: &Expr) -> Printed {
        let head = format!("{keyword} {} =", name.name);
        let one = format!("{head} {}", self.expr(e, 0)?);
        if fits(&one) { Ok(one) } else { Ok(format!("{head}\n{INDENT}{}", self.layout(e, 4, 0)?)) }
    }

    fn blend(&self, b: &Blend) -> Printed {
        let mut out = String::from("blend ");
        if let Some(n) = &b.name {
            out = format!("{out}{} = ", n.name);
        }
        out.push_str(&names(&b.components, " with "));
        if !b.weights.is_empty() {
            out = format!("{out} weights {}", self.list(&b.weights, 0)?);
        }
        if let Some(g) = &b.guard {
            out = format!("{out} guard {}", self.expr(g, 0)?);
        }
        Ok(out)
    }

    fn view(&self, v: &View) -> Printed {
        let mut out = format!("view {} = {}", v.name.name, names(&v.items, ", "));
        if !v.by.is_empty() {
            out = format!("{out} by {}", names(&v.by, ", "));
        }
        if let Some(f) = &v.filter {
            out = format!("{out} where {}", self.expr(f, 0)?);
        }
        Ok(out)
    }

    /// One line when it fits and no comment but one at its end needs a line break;
    /// otherwise the head, the expression (on the head line when there is no label and it
    /// fits there), then one clause per line, `target` and `warn` sharing theirs.
    fn kpi(&self, k: &Kpi, comments: &[Comment<'_>]) -> Printed {
        let head = match &k.label {
            Some(l) => format!("kpi {} {} =", k.name.name, self.strlit(l, 0)),
            None => format!("kpi {} =", k.name.name),
        };
        let clauses = self.clauses(k)?;
        let expr = self.expr(&k.expr, 0)?;
        let on_head = format!("{head} {expr}");
        let after_name = k.label.as_ref().map_or(k.name.span.end, |l| l.span.end) as usize;
        let eq = self.text(after_name..k.span.end as usize).find('=').ok_or(Verbatim)?;
        let mut parts = vec![k.span.start as usize..after_name + eq + 1, k.expr.span.range()];
        parts.extend(clauses.iter().map(|c| c.range.clone()));
        let per = self.attach(&parts, comments)?;
        // One line, if it fits and the only comment is one after the part printed last
        // (so the comment of a second pass, then after the statement, finds it there).
        let last = parts.len() - 1;
        if per.leading.iter().all(Vec::is_empty) && per.trailing[..last].iter().all(Option::is_none)
        {
            let mut one = on_head.clone();
            for c in &clauses {
                one = format!("{one}  {}", c.text);
            }
            if fits(&one) {
                return Ok(with_trailing(one, per.trailing[last]));
            }
        }
        let mut lines = Vec::new();
        if k.label.is_none()
            && per.trailing[0].is_none()
            && per.leading[1].is_empty()
            && fits(&on_head)
        {
            lines.push(with_trailing(on_head, per.trailing[1]));
        } else {
            lines.push(with_trailing(head, per.trailing[0]));
            lines.extend(per.leading[1].iter().map(|c| format!("{INDENT}{c}")));
            let expr = self.layout(&k.expr, 4, 0)?;
            lines.push(with_trailing(format!("{INDENT}{expr}"), per.trailing[1]));
        }
        let mut i = 0;
        while i < clauses.len() {
            let part = i + 2;
            let pair = clauses[i].kind == ClauseKind::Target
                && clauses.get(i + 1).is_some_and(|c| c.kind == ClauseKind::Warn)
                && per.trailing[part].is_none()
                && per.leading[part + 1].is_empty();
            let last = if pair { i + 1 } else { i };
            lines.extend(per.leading[part].iter().map(|c| format!("{INDENT}{c}")));
            let texts: Vec<&str> = clauses[i..=last].iter().map(|c| c.text.as_str()).collect();
            let line = format!("{INDENT}{}", texts.join("  "));
            lines.push(with_trailing(line, per.trailing[last + 2]));
            i = last + 1;
        }
        Ok(lines.join("\n"))
    }

    /// The clauses of a `kpi`, in canonical order.
    fn clauses(&self, k: &Kpi) -> Result<Vec<Clause>, Verbatim> {
        let mut clauses = Vec::new();
        if let Some(u) = &k.unit {
            let text = if u.quoted {
                let token = self.text(u.span.range()).trim_start_matches("unit").trim();
                self.string(token, &u.name, token.starts_with("\"\"\""), 4)
            } else {
                u.name.clone()
            };
            let text = format!("unit {text}");
            clauses.push(Clause { kind: ClauseKind::Unit, range: u.span.range(), text });
        }
        for (kind, word, bound) in
            [(ClauseKind::Target, "target", &k.target), (ClauseKind::Warn, "warn", &k.warn)]
        {
            if let Some(b) = bound {
                let text = format!("{word} {} {}", b.op.as_str(), self.expr(&b.value, 4)?);
                clauses.push(Clause { kind, range: b.span.range(), text });
            }
        }
        if let Some(m) = &k.min {
            let start = self.keyword_before(m.span.start as usize, "min")?;
            let text = format!("min {}", self.expr(m, 4)?);
            clauses.push(Clause { kind: ClauseKind::Min, range: start..m.span.end as usize, text });
        }
        if let (Some(first), Some(last)) = (k.tags.first(), k.tags.last()) {
            let start = self.keyword_before(first.span.start as usize, "tags")?;
            let range = start..last.span.end as usize;
            let text = format!("tags {}", names(&k.tags, ", "));
            clauses.push(Clause { kind: ClauseKind::Tags, range, text });
        }
        Ok(clauses)
    }

    /// Where `keyword` starts, when only spaces separate it from `at`.
    fn keyword_before(&self, at: usize, keyword: &str) -> Result<usize, Verbatim> {
        let rest = self.text(0..at).trim_end().strip_suffix(keyword).ok_or(Verbatim)?;
        let glued = rest.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if glued { Err(Verbatim) } else { Ok(rest.len()) }
    }

    /// The comments of each part (ranges in any order).
    fn attach<'c>(
        &self,
        parts: &[Range<usize>],
        inner: &[Comment<'c>],
    ) -> Result<PerPart<'c>, Verbatim> {
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|&i| parts[i].start);
        let sorted: Vec<Range<usize>> = order
            .iter()
            .map(|&i| parts[i].start..comments::clamp_end(self.src, &parts[i], inner))
            .collect();
        let mut lines = comments::arrange(self.src, &sorted, inner).map_err(|_| Verbatim)?;
        for line in &mut lines {
            if let Piece::Part { index, .. } = &mut line.piece {
                *index = order[*index];
            }
        }
        let per = PerPart::new(parts.len(), &lines);
        if per.after.is_empty() { Ok(per) } else { Err(Verbatim) }
    }

    fn dataset(&self, d: &Dataset, inner: &[Comment<'_>]) -> Printed {
        let head = format!("dataset {} = {}", d.name.name, self.csv_source(&d.source, 0)?);
        let end = d.span.end as usize;
        let no_block = |inner: &[Comment<'_>]| match inner {
            [] => Ok(head.clone()),
            [c] if c.start >= end => Ok(with_trailing(head.clone(), Some(c.text))),
            _ => Err(Verbatim),
        };
        if !self.text(0..end).ends_with('}') {
            return no_block(inner);
        }
        let mut entries: Vec<Entry> = Vec::new();
        for c in &d.columns {
            let range = c.name.span.start as usize..c.ty.span.end as usize;
            entries.push((range, format!("{}: {}", c.name.name, c.ty.name)));
        }
        for l in &d.links {
            let text = format!("{} -> {}.{}", l.column.name, l.target.name, l.target_column.name);
            entries.push((l.span.range(), text));
        }
        if entries.is_empty() && inner.iter().all(|c| c.start >= end) {
            return no_block(inner);
        }
        self.block(head, d.span.start as usize, d.source.span.end as usize, entries, end, inner)
    }

    fn test(&self, t: &Test, inner: &[Comment<'_>]) -> Printed {
        let head = format!("test {}", self.strlit(&t.name, 0));
        let mut entries: Vec<Entry> = Vec::new();
        for d in &t.data {
            let source = match &d.source {
                TestSource::File(s) => self.csv_source(s, 4)?,
                TestSource::Inline(s) => format!("csv {}", self.strlit(s, 4)),
            };
            entries.push((d.span.range(), format!("{} = {source}", d.dataset.name)));
        }
        for e in &t.expects {
            entries.push((e.span.range(), self.expect(e)?));
        }
        let (start, end) = (t.span.start as usize, t.span.end as usize);
        self.block(head, start, t.name.span.end as usize, entries, end, inner)
    }

    /// `head {`, one entry per line, `}`. The block's `{` is the first after
    /// `open_after`; its `}` ends at `end`.
    fn block(
        &self,
        head: String,
        start: usize,
        open_after: usize,
        mut entries: Vec<Entry>,
        end: usize,
        inner: &[Comment<'_>],
    ) -> Printed {
        let open = open_after + self.text(open_after..end).find('{').ok_or(Verbatim)?;
        entries.sort_by_key(|(range, _)| range.start);
        let mut parts: Vec<Range<usize>> = Vec::with_capacity(entries.len() + 2);
        parts.push(start..open + 1);
        parts.extend(entries.iter().map(|(range, _)| range.clone()));
        parts.push(end.saturating_sub(1)..end);
        let close = parts.len() - 1;
        for part in &mut parts {
            part.end = comments::clamp_end(self.src, part, inner);
        }
        let lines = comments::arrange(self.src, &parts, inner).map_err(|_| Verbatim)?;
        let mut out: Vec<String> = Vec::new();
        for line in lines {
            // a paragraph break inside the block, never right after `{` or before `}`
            let paragraph = line.blank_before && out.len() > 1;
            match line.piece {
                Piece::Part { index: 0, trailing } => {
                    out.push(with_trailing(format!("{head} {{"), trailing.map(|c| c.text)));
                }
                Piece::Part { index, trailing } if index == close => {
                    out.push(with_trailing("}".into(), trailing.map(|c| c.text)));
                }
                piece => {
                    if paragraph {
                        out.push(String::new());
                    }
                    out.push(match piece {
                        Piece::Comment(c) => format!("{INDENT}{c}"),
                        Piece::Part { index, trailing } => {
                            let text = entries.get(index - 1).map_or("", |(_, t)| t.as_str());
                            with_trailing(format!("{INDENT}{text}"), trailing.map(|c| c.text))
                        }
                    });
                }
            }
        }
        if let ([open], [close]) = (&out[..1], &out[1..]) {
            // nothing inside: `{}`, with a comment after it when it had one
            if open.ends_with('{') {
                return Ok(format!("{head} {{}}{}", close.trim_start_matches('}')));
            }
        }
        Ok(out.join("\n"))
    }

    /// `csv("path", key: value)`
    fn csv_source(&self, s: &CsvSource, indent: usize) -> Printed {
        let mut out = format!("csv({}", self.strlit(&s.path, indent));
        for (key, value) in &s.options {
            out = format!("{out}, {}: {}", key.name, self.expr(value, indent)?);
        }
        Ok(out + ")")
    }

    /// `expect subject.field[dim = value] OP value within tolerance`
    fn expect(&self, e: &Expect) -> Printed {
        let mut out = format!("expect {}", e.subject.name);
        if let Some(f) = &e.field {
            out = format!("{out}.{}", f.name);
        }
        if !e.group.is_empty() {
            let mut picks = Vec::new();
            for (dim, value) in &e.group {
                picks.push(format!("{} = {}", dim.name, self.expr(value, 4)?));
            }
            out = format!("{out}[{}]", picks.join(", "));
        }
        out = format!("{out} {} {}", e.op.as_str(), self.expr(&e.value, 4)?);
        if let Some(w) = &e.within {
            out = format!("{out} within {}", self.expr(w, 4)?);
        }
        Ok(out)
    }
}

fn names(idents: &[Ident], separator: &str) -> String {
    idents.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(separator)
}

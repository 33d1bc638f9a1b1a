//! Expressions and literals in canonical form.
//!
//! Literals are printed as written (`1_000`, `6.50`, `75%`, `6m`, escapes in strings):
//! the printer takes their text from the source through their spans, and checks that
//! the text still reads back as the same value. Parentheses are re-derived from the
//! precedence table (the one in `syntax/lower.rs`), and parentheses the user wrote
//! around an operator expression inside another one are kept, since they are there to
//! be read; parentheses around a single operand, doubled ones, and ones around a
//! whole argument, list item or clause value are dropped.

use super::items::WIDTH;
use crate::ast::{BinaryOp, Expr, ExprKind, StrLit, UnaryOp};
use crate::syntax;

/// The statement cannot be printed faithfully; it is kept as written.
#[derive(Debug)]
pub struct Verbatim;

pub type Printed = Result<String, Verbatim>;

/// Binding strength, loosest first, as in the Pratt table.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const NEG: u8 = 7;
const ATOM: u8 = 8;

/// An expression starting this close to [`WIDTH`] stays on one line.
const GIVE_UP_MARGIN: usize = 20;

pub struct Printer<'a> {
    pub src: &'a str,
}

impl Printer<'_> {
    /// The source text of a byte range (empty when out of range).
    pub fn text(&self, range: std::ops::Range<usize>) -> &str {
        self.src.get(range).unwrap_or("")
    }

    /// `e` on a line indented by `indent` spaces (the indentation matters only to
    /// triple-quoted strings, whose lines are indented one level deeper).
    pub fn expr(&self, e: &Expr, indent: usize) -> Printed {
        let operand = |child: &Expr, needs: bool| self.operand(child, needs, indent);
        Ok(match &e.kind {
            ExprKind::Number(_)
            | ExprKind::Percent(_)
            | ExprKind::Duration(_)
            | ExprKind::Date(_)
            | ExprKind::Time(_) => self.literal(e)?,
            ExprKind::Str(value) => {
                let token = unparen(self.text(e.span.range()));
                self.string(token, value, token.starts_with("\"\"\""), indent)
            }
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Name(n) => n.name.clone(),
            ExprKind::Column { dataset, column } => format!("{}.{}", dataset.name, column.name),
            ExprKind::Unary { op: UnaryOp::Neg, operand: o } => {
                let inner = operand(o, precedence(o) < NEG)?;
                // `- -x`, not `--x`: two signs, each visible
                let gap = if inner.starts_with('-') { " " } else { "" };
                format!("-{gap}{inner}")
            }
            ExprKind::Unary { op: UnaryOp::Not, operand: o } => {
                format!("not {}", operand(o, precedence(o) < NOT)?)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = binary_precedence(*op);
                let lhs = operand(lhs, precedence(lhs) < p)?;
                // every operator is left-associative: a right operand of the same
                // strength needs its parentheses
                let rhs = operand(rhs, precedence(rhs) <= p)?;
                // appended in place: a chain of n operators costs n, not n² bytes copied
                let mut out = lhs;
                for piece in [" ", op.as_str(), " ", &rhs] {
                    out.push_str(piece);
                }
                out
            }
            ExprKind::IsNull { operand: o, negated } => {
                let o = operand(o, precedence(o) < CMP)?;
                format!("{o} is {}null", if *negated { "not " } else { "" })
            }
            ExprKind::InList { operand: o, list, negated } => {
                let o = operand(o, precedence(o) < CMP)?;
                let items = self.list(list, indent)?;
                format!("{o} {}in ({items})", if *negated { "not " } else { "" })
            }
            ExprKind::Case { operand: o, whens, otherwise } => {
                let mut out = String::from("case");
                if let Some(o) = o {
                    out = format!("{out} {}", self.expr(o, indent)?);
                }
                for (w, t) in whens {
                    out = format!(
                        "{out} when {} then {}",
                        self.expr(w, indent)?,
                        self.expr(t, indent)?
                    );
                }
                if let Some(o) = otherwise {
                    out = format!("{out} else {}", self.expr(o, indent)?);
                }
                out + " end"
            }
            ExprKind::Call { func, args, filter, over } => {
                let mut parts = Vec::with_capacity(args.len());
                for a in args {
                    parts.push(self.expr(a, indent)?);
                }
                // The grammar allows `where` after any argument and the tree keeps only
                // the filter: it stays after the argument it followed in the source.
                if let Some(f) = filter {
                    let after = args.iter().filter(|a| a.span.start < f.span.start).count();
                    let filter = self.expr(f, indent)?;
                    let at = after.clamp(1, parts.len().max(1)) - 1;
                    if let Some(arg) = parts.get_mut(at) {
                        *arg = format!("{arg} where {filter}");
                    }
                }
                let inside = parts.join(", ");
                let over = over.as_ref().map_or(String::new(), |o| format!(" over {}", o.name));
                format!("{}({inside}){over}", func.name)
            }
        })
    }

    /// `e` starting at column `col` of its line and followed there by `trail` more
    /// characters: on one line when that fits in [`WIDTH`] columns, otherwise broken
    /// (the rules are in the module docs of `format`). Lines after the first carry their
    /// full indentation. An expression holding a triple-quoted string is not broken.
    pub fn layout(&self, e: &Expr, col: usize, trail: usize) -> Printed {
        let flat = self.expr(e, col)?;
        // Past column `WIDTH - 20` a break would not make it fit either; stopping there
        // keeps deep nesting from indenting every level further (output growing with the
        // square of the depth) and the work linear.
        if flat.contains(['\n', '\r'])
            || col + width(&flat) + trail <= WIDTH
            || col + GIVE_UP_MARGIN > WIDTH
        {
            return Ok(flat);
        }
        Ok(match &e.kind {
            ExprKind::Binary { op, .. } => {
                // the chain of operators as loose as this one, left-associative
                let p = binary_precedence(*op);
                let mut chain = Vec::new();
                let mut first = e;
                while let ExprKind::Binary { op, lhs, rhs } = &first.kind {
                    if binary_precedence(*op) != p || (!std::ptr::eq(first, e) && self.kept(first))
                    {
                        break;
                    }
                    chain.push((*op, rhs));
                    first = lhs;
                }
                let pad = " ".repeat(col);
                let mut out = self.operand_at(first, precedence(first) < p, col, 0)?;
                for (i, (op, rhs)) in chain.iter().rev().enumerate() {
                    let t = if i + 1 == chain.len() { trail } else { 0 };
                    let op = op.as_str();
                    let rhs = self.operand_at(rhs, precedence(rhs) <= p, col + op.len() + 1, t)?;
                    for piece in ["\n", &pad, op, " ", &rhs] {
                        out.push_str(piece);
                    }
                }
                out
            }
            ExprKind::Unary { op: UnaryOp::Neg, operand: o } => {
                let gap = if self.operand(o, precedence(o) < NEG, col)?.starts_with('-') {
                    " "
                } else {
                    ""
                };
                let inner = self.operand_at(o, precedence(o) < NEG, col + 1 + gap.len(), trail)?;
                format!("-{gap}{inner}")
            }
            ExprKind::Unary { op: UnaryOp::Not, operand: o } => {
                format!("not {}", self.operand_at(o, precedence(o) < NOT, col + 4, trail)?)
            }
            ExprKind::IsNull { operand: o, negated } => {
                let suffix = if *negated { " is not null" } else { " is null" };
                let o = self.operand_at(o, precedence(o) < CMP, col, trail + suffix.len())?;
                format!("{o}{suffix}")
            }
            ExprKind::InList { operand: o, list, negated } => {
                let head = if *negated { " not in (" } else { " in (" };
                let o = self.operand_at(o, precedence(o) < CMP, col, head.len())?;
                let open = end_column(col, &o) + head.len();
                let items = self.list(list, open)?;
                if open + width(&items) + 1 + trail <= WIDTH {
                    format!("{o}{head}{items})")
                } else {
                    let mut parts = Vec::with_capacity(list.len());
                    for (i, item) in list.iter().enumerate() {
                        let t = if i + 1 == list.len() { trail + 1 } else { 1 };
                        parts.push(self.layout(item, open, t)?);
                    }
                    format!("{o}{head}{})", parts.join(&format!(",\n{}", " ".repeat(open))))
                }
            }
            ExprKind::Case { operand: o, whens, otherwise } => {
                let pad = " ".repeat(col + 4);
                let mut out = String::from("case");
                if let Some(o) = o {
                    out = format!("{out} {}", self.layout(o, col + 5, 0)?);
                }
                for (w, t) in whens {
                    let one = format!("when {} then {}", self.expr(w, col)?, self.expr(t, col)?);
                    if col + 4 + width(&one) <= WIDTH {
                        out = format!("{out}\n{pad}{one}");
                    } else {
                        // `then` on a line of its own, one level deeper
                        let w = self.layout(w, col + 9, 0)?;
                        let t = self.layout(t, col + 13, 0)?;
                        out = format!("{out}\n{pad}when {w}\n{pad}    then {t}");
                    }
                }
                if let Some(o) = otherwise {
                    out = format!("{out}\n{pad}else {}", self.layout(o, col + 9, 0)?);
                }
                format!("{out}\n{}end", " ".repeat(col))
            }
            ExprKind::Call { func, args, filter, over } if !args.is_empty() => {
                let over = over.as_ref().map_or(String::new(), |o| format!(" over {}", o.name));
                let open = col + func.name.len() + 1;
                let pad = " ".repeat(open);
                let close = 1 + over.len() + trail;
                // the argument the filter follows, as in `expr`
                let at = filter.as_ref().map(|f| {
                    let after = args.iter().filter(|a| a.span.start < f.span.start).count();
                    after.clamp(1, args.len()) - 1
                });
                if let (Some(f), Some(at)) = (filter, at) {
                    let inside = self.list(args, open)?;
                    if at + 1 == args.len() && open + width(&inside) <= WIDTH {
                        let f = self.layout(f, open + "where ".len(), close)?;
                        return Ok(format!("{}({inside}\n{pad}where {f}){over}", func.name));
                    }
                }
                let mut parts = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    let t = if i + 1 == args.len() { close } else { 1 };
                    parts.push(match filter {
                        Some(f) if at == Some(i) => {
                            let one =
                                format!("{} where {}", self.expr(a, open)?, self.expr(f, open)?);
                            if open + width(&one) + t <= WIDTH {
                                one
                            } else {
                                let a = self.layout(a, open, 0)?;
                                let f = self.layout(f, open + "where ".len(), t)?;
                                format!("{a}\n{pad}where {f}")
                            }
                        }
                        _ => self.layout(a, open, t)?,
                    });
                }
                format!("{}({}){over}", func.name, parts.join(&format!(",\n{pad}")))
            }
            _ => flat,
        })
    }

    /// [`Self::layout`] for an operand: in parentheses as [`Self::operand`] puts them.
    fn operand_at(&self, e: &Expr, needs: bool, col: usize, trail: usize) -> Printed {
        if needs || self.kept(e) {
            Ok(format!("({})", self.layout(e, col + 1, trail + 1)?))
        } else {
            self.layout(e, col, trail)
        }
    }

    /// `e` is an operator expression the user wrote in parentheses, which stay.
    fn kept(&self, e: &Expr) -> bool {
        let compound = matches!(
            e.kind,
            ExprKind::Unary { .. }
                | ExprKind::Binary { .. }
                | ExprKind::IsNull { .. }
                | ExprKind::InList { .. }
        );
        compound && wrapped(self.text(e.span.range()))
    }

    /// `a, b, c`
    pub fn list(&self, items: &[Expr], indent: usize) -> Printed {
        let items: Result<Vec<String>, Verbatim> =
            items.iter().map(|e| self.expr(e, indent)).collect();
        Ok(items?.join(", "))
    }

    /// An operand of an operator: in parentheses when precedence needs them, or when the
    /// user wrote them around an operator expression.
    fn operand(&self, e: &Expr, needs: bool, indent: usize) -> Printed {
        let text = self.expr(e, indent)?;
        Ok(if needs || self.kept(e) { format!("({text})") } else { text })
    }

    /// A number, percentage, duration, date or time, spelled as in the source.
    fn literal(&self, e: &Expr) -> Printed {
        let token = unparen(self.text(e.span.range()));
        match syntax::parse_literal(token) {
            Some(back) if back.kind == e.kind && !token.starts_with('-') => Ok(token.to_string()),
            _ => Err(Verbatim),
        }
    }

    /// A string literal node.
    pub fn strlit(&self, s: &StrLit, indent: usize) -> String {
        self.string(self.text(s.span.range()), &s.value, s.triple, indent)
    }

    /// A string with value `value`, written in the source as `token`: plain strings keep
    /// their spelling (escapes included) when it still reads back as `value`; triple-
    /// quoted ones are re-indented.
    pub fn string(&self, token: &str, value: &str, triple: bool, indent: usize) -> String {
        if triple {
            return triple_quoted(value, indent);
        }
        match syntax::parse_literal(token) {
            Some(Expr { kind: ExprKind::Str(back), .. })
                if back == value && token.starts_with('"') && !token.starts_with("\"\"\"") =>
            {
                token.to_string()
            }
            _ => escaped(value),
        }
    }
}

/// Characters in `text`.
fn width(text: &str) -> usize {
    text.chars().count()
}

/// The column after `text` when it starts at column `col` (later lines carry their own
/// indentation).
fn end_column(col: usize, text: &str) -> usize {
    match text.rsplit_once('\n') {
        Some((_, last)) => width(last),
        None => col + width(text),
    }
}

fn precedence(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => binary_precedence(*op),
        ExprKind::Unary { op: UnaryOp::Not, .. } => NOT,
        ExprKind::Unary { op: UnaryOp::Neg, .. } => NEG,
        ExprKind::IsNull { .. } | ExprKind::InList { .. } => CMP,
        _ => ATOM,
    }
}

fn binary_precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => OR,
        BinaryOp::And => AND,
        BinaryOp::Cmp(_) => CMP,
        BinaryOp::Add | BinaryOp::Sub => ADD,
        BinaryOp::Mul | BinaryOp::Div => MUL,
    }
}

/// `"""` on its own line after the opening, each line of the value indented one level
/// deeper than `indent`, the closing quotes at `indent`. Reads back as `value`: the
/// parser removes the indentation common to the non-blank lines, which is exactly the
/// added one (the value has a line that starts without indentation, unless every line
/// is blank, in which case nothing is added). It also drops the line of the closing
/// quotes when blank; at `indent` 0 that line is empty and `lines()` does not see it, so
/// a value ending in a blank line gets one more empty line to drop.
pub fn triple_quoted(value: &str, indent: usize) -> String {
    let any_text = value.lines().any(|l| !l.trim().is_empty());
    let pad = " ".repeat(if any_text { indent + 4 } else { 0 });
    let mut out = String::from("\"\"\"\n");
    for line in value.split_terminator('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    let last_blank = value.split_terminator('\n').next_back().is_some_and(|l| l.trim().is_empty());
    if indent == 0 && last_blank {
        out.push('\n');
    }
    out.push_str(&" ".repeat(indent));
    out.push_str("\"\"\"");
    out
}

/// `value` as a plain string with the parser's escapes.
pub fn escaped(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` without the parentheses that enclose all of it.
pub fn unparen(mut text: &str) -> &str {
    loop {
        text = text.trim();
        if !wrapped(text) {
            return text;
        }
        text = &text[1..text.len() - 1];
    }
}

/// `text` starts with `(` and the matching `)` is its last character (strings and
/// comments skipped).
pub fn wrapped(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'(') || bytes.last() != Some(&b')') {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i = text[i + 3..].find("\"\"\"").map_or(bytes.len(), |n| i + 3 + n + 3);
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                i = text[i..].find(['\n', '\r']).map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i == bytes.len() - 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parentheses_that_enclose_everything() {
        assert!(wrapped("(a + b)"));
        assert!(wrapped("((a) + (b))"));
        assert!(!wrapped("(a) + (b)"));
        assert!(!wrapped("(\")\") + (b)"));
        assert!(wrapped("(\")\")"));
        assert_eq!(unparen("( ((1)) )"), "1");
        assert_eq!(unparen("(a) * (b)"), "(a) * (b)");
    }

    #[test]
    fn triple_quoted_strings_read_back_as_their_value() {
        let values =
            ["a\n  b\n", "", "\n\n", "x\n\n  y\n", "   \n  \n", "a\n   \nb\n", "a\n\n", "a\n   \n"];
        for value in values {
            for indent in [0, 4] {
                let text = triple_quoted(value, indent);
                let back = syntax::parse_literal(&text).map(|e| e.kind);
                assert_eq!(back, Some(ExprKind::Str(value.into())), "{text}");
            }
        }
    }

    #[test]
    fn escaped_strings_read_back_as_their_value() {
        for value in ["plain", "q\"uote", "back\\slash", "tab\tnew\nline\r\0", "bell\u{7}", "é 🙂"]
        {
            let text = escaped(value);
            let back = syntax::parse_literal(&text).map(|e| e.kind);
            assert_eq!(back, Some(ExprKind::Str(value.into())), "{text}");
        }
    }
}

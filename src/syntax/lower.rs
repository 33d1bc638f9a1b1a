//! pest pairs to AST nodes (syntax errors in words are in `errors`).

use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::Rule;
use super::prescan::MAX_NESTING;
use crate::ast::*;
use crate::calendar;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// The one precedence table, lowest binding first.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::postfix(Rule::is_null)
            | Op::postfix(Rule::is_not_null)
            | Op::postfix(Rule::in_list)
            | Op::postfix(Rule::not_in_list))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
});

pub struct Lower<'d> {
    pub file: FileId,
    /// Where the parsed text starts in the file (parsing resumes after errors).
    pub offset: usize,
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

/// An expression with its tree depth, so over-deep operator chains are cut off while
/// the tree is built (before anything recursive walks or drops it).
type Built = Result<(Expr, usize), Diagnostic>;

impl Lower<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let end = s.start() + trimmed_len(s.as_str());
        Span::new(self.file, self.offset + s.start(), self.offset + end)
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }

    /// The file's statements. A statement whose parts fail to convert (a number out of
    /// range, a bad date) is left out, and the name it defines is added to `broken`.
    pub fn file(&mut self, pair: Pair<'_, Rule>, broken: &mut Vec<String>) -> Vec<Item> {
        let mut items = Vec::new();
        for p in pair.into_inner().filter(|p| p.as_rule() != Rule::EOI) {
            let text = p.as_str();
            match self.item(p) {
                Some(item) => items.push(item),
                None => broken.extend(super::statement_names(text, 0, text.len())),
            }
        }
        items
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner().filter(|p| !is_keyword(p.as_rule()));
        let item = match rule {
            Rule::import => Item::Import(self.string(inner.next()?)),
            Rule::dataset => {
                let name = self.ident(&inner.next()?);
                let source = self.csv_source(inner.next()?);
                let (mut columns, mut links) = (Vec::new(), Vec::new());
                for entry in inner.next().into_iter().flat_map(Pair::into_inner) {
                    let entry_span = self.span(&entry);
                    let rule = entry.as_rule();
                    let mut parts = entry.into_inner();
                    let first = self.ident(&parts.next()?);
                    let second = self.ident(&parts.next()?);
                    if rule == Rule::link_decl {
                        let target_column = self.ident(&parts.next()?);
                        links.push(Link {
                            column: first,
                            target: second,
                            target_column,
                            span: entry_span,
                        });
                    } else {
                        columns.push(ColumnDecl { name: first, ty: second });
                    }
                }
                Item::Dataset(Dataset { name, source, columns, links, span })
            }
            Rule::dim => {
                let name = self.ident(&inner.next()?);
                let expr = self.expr(inner.next()?)?;
                Item::Dim(Dim { name, expr, span })
            }
            Rule::param => {
                let name = self.ident(&inner.next()?);
                let value = self.expr(inner.next()?)?;
                Item::Param(Param { name, value, span })
            }
            Rule::kpi => Item::Kpi(self.kpi(span, inner)?),
            Rule::blend => Item::Blend(self.blend(span, inner)?),
            Rule::view => {
                let name = self.ident(&inner.next()?);
                let mut view = View { name, items: Vec::new(), by: Vec::new(), filter: None, span };
                for p in inner {
                    match p.as_rule() {
                        Rule::ident => view.items.push(self.ident(&p)),
                        Rule::view_by => view.by = self.idents(p),
                        Rule::view_where => view.filter = Some(self.expr(p.into_inner().nth(1)?)?),
                        _ => {}
                    }
                }
                Item::View(view)
            }
            Rule::note => {
                let date = match self.literal(inner.next()?) {
                    Ok((d, _)) => d,
                    Err(d) => {
                        self.diagnostics.push(d);
                        return None;
                    }
                };
                Item::Note(Note { date, text: self.string(inner.next()?), span })
            }
            Rule::test => Item::Test(self.test(span, inner)?),
            _ => return None,
        };
        Some(item)
    }

    fn idents(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        pair.into_inner().filter(|p| !is_keyword(p.as_rule())).map(|p| self.ident(&p)).collect()
    }

    fn kpi<'i>(
        &mut self,
        span: Span,
        mut inner: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Option<Kpi> {
        let name = self.ident(&inner.next()?);
        let mut next = inner.next()?;
        let label = if next.as_rule() == Rule::string {
            let label = self.string(next);
            next = inner.next()?;
            Some(label)
        } else {
            None
        };
        let expr = self.expr(next)?;
        let mut kpi = Kpi {
            name,
            label,
            expr,
            unit: None,
            target: None,
            warn: None,
            min: None,
            tags: Vec::new(),
            span,
        };
        for clause in inner {
            let clause_span = self.span(&clause);
            let rule = clause.as_rule();
            let already = match rule {
                Rule::unit_clause => kpi.unit.is_some(),
                Rule::target_clause => kpi.target.is_some(),
                Rule::warn_clause => kpi.warn.is_some(),
                Rule::min_clause => kpi.min.is_some(),
                _ => !kpi.tags.is_empty(),
            };
            if already {
                let word = clause.as_str().split_whitespace().next().unwrap_or("");
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::DuplicateClause,
                        format!("`{word}` given twice for kpi `{}`", kpi.name.name),
                    )
                    .at(clause_span, "second one here"),
                );
                continue;
            }
            let mut parts = clause.into_inner().filter(|p| !is_keyword(p.as_rule()));
            match rule {
                Rule::unit_clause => {
                    let p = parts.next()?;
                    let quoted = p.as_rule() == Rule::string;
                    let name = if quoted { self.string(p).value } else { p.as_str().to_string() };
                    kpi.unit = Some(UnitSpec { name, quoted, span: clause_span });
                }
                Rule::target_clause | Rule::warn_clause => {
                    let op = cmp_op(parts.next()?.as_str());
                    let value = self.expr(parts.next()?)?;
                    let bound = Bound { op, value, span: clause_span };
                    if rule == Rule::target_clause {
                        kpi.target = Some(bound);
                    } else {
                        kpi.warn = Some(bound);
                    }
                }
                Rule::min_clause => kpi.min = Some(self.expr(parts.next()?)?),
                _ => kpi.tags = parts.map(|p| self.ident(&p)).collect(),
            }
        }
        Some(kpi)
    }

    fn blend<'i>(
        &mut self,
        span: Span,
        inner: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Option<Blend> {
        let mut blend =
            Blend { name: None, components: Vec::new(), weights: Vec::new(), guard: None, span };
        for p in inner {
            match p.as_rule() {
                Rule::blend_name => blend.name = p.into_inner().next().map(|n| self.ident(&n)),
                Rule::ident => blend.components.push(self.ident(&p)),
                Rule::weights_clause => {
                    for w in p.into_inner().filter(|p| p.as_rule() == Rule::expr) {
                        blend.weights.push(self.expr(w)?);
                    }
                }
                Rule::guard_clause => blend.guard = Some(self.expr(p.into_inner().nth(1)?)?),
                _ => {}
            }
        }
        Some(blend)
    }

    fn test<'i>(
        &mut self,
        span: Span,
        mut inner: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Option<Test> {
        let name = self.string(inner.next()?);
        let mut test = Test { name, data: Vec::new(), expects: Vec::new(), span };
        for p in inner {
            let p_span = self.span(&p);
            match p.as_rule() {
                Rule::test_data => {
                    let mut parts = p.into_inner();
                    let dataset = self.ident(&parts.next()?);
                    let src = parts.next()?;
                    let source = if src.as_rule() == Rule::csv_inline {
                        TestSource::Inline(self.string(src.into_inner().nth(1)?))
                    } else {
                        TestSource::File(self.csv_source(src))
                    };
                    test.data.push(TestData { dataset, source, span: p_span });
                }
                Rule::expect => {
                    let mut parts = p.into_inner().filter(|p| !is_keyword(p.as_rule()));
                    let mut subject_parts = parts.next()?.into_inner();
                    let subject = self.ident(&subject_parts.next()?);
                    let (mut field, mut group) = (None, Vec::new());
                    for sp in subject_parts {
                        if sp.as_rule() == Rule::word {
                            field = Some(self.ident(&sp));
                        } else {
                            for pick in sp.into_inner() {
                                let mut pp = pick.into_inner();
                                let dim = self.ident(&pp.next()?);
                                group.push((dim, self.expr(pp.next()?)?));
                            }
                        }
                    }
                    let op = cmp_op(parts.next()?.as_str());
                    let value_pair = parts.next()?;
                    let value = if value_pair.as_rule() == Rule::expect_warn {
                        let ident = self.ident(&value_pair);
                        Expr { span: ident.span, kind: ExprKind::Name(ident) }
                    } else {
                        self.expr(value_pair)?
                    };
                    let within = match parts.next() {
                        Some(w) => Some(self.expr(w)?),
                        None => None,
                    };
                    test.expects.push(Expect {
                        subject,
                        field,
                        group,
                        op,
                        value,
                        within,
                        span: p_span,
                    });
                }
                _ => {}
            }
        }
        Some(test)
    }

    fn csv_source(&mut self, pair: Pair<'_, Rule>) -> CsvSource {
        let span = self.span(&pair);
        let mut parts = pair.into_inner().filter(|p| !is_keyword(p.as_rule()));
        let path = parts.next().map_or_else(
            || StrLit { value: String::new(), span, triple: false },
            |p| self.string(p),
        );
        let mut options = Vec::new();
        for opt in parts {
            let mut o = opt.into_inner();
            if let (Some(k), Some(v)) = (o.next(), o.next()) {
                let key = self.ident(&k);
                let literal = self.literal(v);
                if let Err(d) = &literal {
                    self.diagnostics.push(d.clone());
                }
                if let Ok((value, _)) = literal {
                    options.push((key, value));
                }
            }
        }
        CsvSource { path, options, span }
    }

    pub fn query(&mut self, pair: Pair<'_, Rule>) -> super::Query {
        let mut query = super::Query { items: Vec::new(), by: Vec::new(), filter: None };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::expr => {
                    if let Some(e) = self.expr(p) {
                        query.items.push(e);
                    }
                }
                Rule::view_by => query.by = self.idents(p),
                Rule::view_where => query.filter = p.into_inner().nth(1).and_then(|e| self.expr(e)),
                _ => {}
            }
        }
        query
    }

    /// Lowers an `expr` pair; records the diagnostic and returns `None` on failure.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        match self.expr_depth(pair) {
            Ok((e, _)) => Some(e),
            Err(d) => {
                self.diagnostics.push(d);
                None
            }
        }
    }

    fn expr_depth(&mut self, pair: Pair<'_, Rule>) -> Built {
        let file = self.file;
        let offset = self.offset;
        let sp = move |p: &Pair<'_, Rule>| {
            let s = p.as_span();
            Span::new(file, offset + s.start(), offset + s.end())
        };
        // The closures share `self` through a RefCell-free trick: primaries are lowered
        // by a separate `Lower` that writes into a local list, merged afterwards.
        let mut nested = Vec::new();
        let result = {
            let mut sub = Lower { file, offset, diagnostics: &mut nested };
            PRATT
                .map_primary(|p| sub.primary(p))
                .map_prefix(|op, rhs| {
                    let (rhs, depth) = rhs?;
                    let op_span = sp(&op);
                    let kind =
                        if op.as_rule() == Rule::op_neg { UnaryOp::Neg } else { UnaryOp::Not };
                    deeper(depth, op_span)?;
                    let span = op_span.to(rhs.span);
                    Ok((
                        Expr { kind: ExprKind::Unary { op: kind, operand: Box::new(rhs) }, span },
                        depth + 1,
                    ))
                })
                .map_postfix(|lhs, op| {
                    let (lhs, depth) = lhs?;
                    let op_span = sp(&op);
                    deeper(depth, op_span)?;
                    let span = lhs.span.to(op_span);
                    let operand = Box::new(lhs);
                    let kind = match op.as_rule() {
                        Rule::is_null => ExprKind::IsNull { operand, negated: false },
                        Rule::is_not_null => ExprKind::IsNull { operand, negated: true },
                        rule => {
                            let mut list = Vec::new();
                            let mut d = depth;
                            for item in op.into_inner().filter(|p| p.as_rule() == Rule::expr) {
                                let mut inner_diags = Vec::new();
                                let mut l = Lower { file, offset, diagnostics: &mut inner_diags };
                                let (e, ed) = l.expr_depth(item)?;
                                if let Some(first) = inner_diags.into_iter().next() {
                                    return Err(first);
                                }
                                d = d.max(ed);
                                list.push(e);
                            }
                            deeper(d, op_span)?;
                            ExprKind::InList { operand, list, negated: rule == Rule::not_in_list }
                        }
                    };
                    Ok((Expr { kind, span }, depth + 1))
                })
                .map_infix(|lhs, op, rhs| {
                    let (lhs, ld) = lhs?;
                    let (rhs, rd) = rhs?;
                    let depth = ld.max(rd);
                    deeper(depth, sp(&op))?;
                    let op = match op.as_rule() {
                        Rule::op_or => BinaryOp::Or,
                        Rule::op_and => BinaryOp::And,
                        Rule::op_eq => BinaryOp::Cmp(CmpOp::Eq),
                        Rule::op_ne => BinaryOp::Cmp(CmpOp::Ne),
                        Rule::op_lt => BinaryOp::Cmp(CmpOp::Lt),
                        Rule::op_le => BinaryOp::Cmp(CmpOp::Le),
                        Rule::op_gt => BinaryOp::Cmp(CmpOp::Gt),
                        Rule::op_ge => BinaryOp::Cmp(CmpOp::Ge),
                        Rule::op_add => BinaryOp::Add,
                        Rule::op_sub => BinaryOp::Sub,
                        Rule::op_mul => BinaryOp::Mul,
                        Rule::op_div => BinaryOp::Div,
                        rule => unreachable!("infix rule {rule:?} is not in the grammar's `infix`"),
                    };
                    let span = lhs.span.to(rhs.span);
                    Ok((
                        Expr {
                            kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) },
                            span,
                        },
                        depth + 1,
                    ))
                })
                .parse(pair.into_inner())
        };
        self.diagnostics.append(&mut nested);
        result
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Built {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => {
                let (mut e, d) = self.expr_depth(pair.clone())?;
                e.span = with_parens(&pair, e.span, self.offset);
                Ok((e, d))
            }
            Rule::path => {
                let mut parts = pair.into_inner();
                let first = parts.next().map(|p| self.ident(&p));
                let second = parts.next().map(|p| self.ident(&p));
                let kind = match (first, second) {
                    (Some(dataset), Some(column)) => ExprKind::Column { dataset, column },
                    (Some(name), None) => ExprKind::Name(name),
                    _ => unreachable!("path has one or two names"),
                };
                Ok((Expr { kind, span }, 1))
            }
            Rule::call => self.call(pair, span),
            Rule::case_expr => self.case(pair, span),
            _ => self.literal(pair),
        }
    }

    fn call(&mut self, pair: Pair<'_, Rule>, span: Span) -> Built {
        let mut parts = pair.into_inner();
        let func =
            parts.next().map(|p| self.ident(&p)).unwrap_or(Ident { name: String::new(), span });
        let (mut args, mut filter, mut over, mut depth) = (Vec::new(), None::<Box<Expr>>, None, 1);
        for p in parts {
            if p.as_rule() == Rule::call_over {
                over = p.into_inner().nth(1).map(|p| self.ident(&p));
                continue;
            }
            let mut arg = p.into_inner().filter(|p| p.as_rule() == Rule::expr);
            if let Some(value) = arg.next() {
                let (e, d) = self.expr_depth(value)?;
                depth = depth.max(d + 1);
                args.push(e);
            }
            if let Some(cond) = arg.next() {
                let (e, d) = self.expr_depth(cond)?;
                depth = depth.max(d + 1);
                if let Some(first) = &filter {
                    return Err(Diagnostic::error(
                        Code::DuplicateClause,
                        format!("more than one `where` in `{}(...)`", func.name),
                    )
                    .at(e.span, "second filter")
                    .also(first.span, "first filter")
                    .help("combine the conditions with `and`"));
                }
                filter = Some(Box::new(e));
            }
        }
        deeper(depth - 1, span)?;
        Ok((Expr { kind: ExprKind::Call { func, args, filter, over }, span }, depth))
    }

    fn case(&mut self, pair: Pair<'_, Rule>, span: Span) -> Built {
        let (mut operand, mut whens, mut otherwise, mut depth) = (None, Vec::new(), None, 1);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::expr => {
                    let (e, d) = self.expr_depth(p)?;
                    depth = depth.max(d + 1);
                    operand = Some(Box::new(e));
                }
                Rule::case_when => {
                    let mut parts = p.into_inner().filter(|p| p.as_rule() == Rule::expr);
                    let (Some(w), Some(t)) = (parts.next(), parts.next()) else { continue };
                    let (w, d1) = self.expr_depth(w)?;
                    let (t, d2) = self.expr_depth(t)?;
                    depth = depth.max(d1.max(d2) + 1);
                    whens.push((w, t));
                }
                Rule::case_else => {
                    if let Some(e) = p.into_inner().find(|p| p.as_rule() == Rule::expr) {
                        let (e, d) = self.expr_depth(e)?;
                        depth = depth.max(d + 1);
                        otherwise = Some(Box::new(e));
                    }
                }
                _ => {}
            }
        }
        deeper(depth - 1, span)?;
        Ok((Expr { kind: ExprKind::Case { operand, whens, otherwise }, span }, depth))
    }

    pub fn literal(&mut self, pair: Pair<'_, Rule>) -> Built {
        let span = self.span(&pair);
        let text = pair.as_str();
        let out_of_range = || {
            Diagnostic::error(Code::NumberOutOfRange, format!("number `{text}` is out of range"))
                .at(span, "cannot be represented")
        };
        let kind = match pair.as_rule() {
            Rule::number => ExprKind::Number(number(text).ok_or_else(out_of_range)?),
            Rule::percent => {
                ExprKind::Percent(number(&text[..text.len() - 1]).ok_or_else(out_of_range)? / 100.0)
            }
            Rule::duration => {
                let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
                let factor = match &text[split..] {
                    "ms" => 0.001,
                    "s" => 1.0,
                    "m" => 60.0,
                    "h" => 3600.0,
                    _ => 86_400.0,
                };
                let secs = number(&text[..split]).ok_or_else(out_of_range)? * factor;
                if !secs.is_finite() {
                    return Err(out_of_range());
                }
                ExprKind::Duration(secs)
            }
            Rule::date => ExprKind::Date(date(text).ok_or_else(|| invalid_date(span, text))?),
            Rule::timestamp => {
                ExprKind::Time(timestamp(text).ok_or_else(|| invalid_date(span, text))?)
            }
            Rule::string => ExprKind::Str(self.string(pair).value),
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::kw_null => ExprKind::Null,
            rule => unreachable!("literal rule {rule:?} is not in the grammar's `literal`"),
        };
        Ok((Expr { kind, span }, 1))
    }

    pub fn string(&mut self, pair: Pair<'_, Rule>) -> StrLit {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return StrLit { value: String::new(), span, triple: false };
        };
        let triple = inner.as_rule() == Rule::triple_string;
        let body = inner.into_inner().next();
        let raw = body.as_ref().map_or("", Pair::as_str);
        let body_start = body.as_ref().map_or(0, |b| self.offset + b.as_span().start());
        let value = if triple { unindent(raw) } else { self.unescape(raw, body_start) };
        StrLit { value, span, triple }
    }

    fn unescape(&mut self, raw: &str, start: usize) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escaped = match chars.next() {
                Some((_, 'n')) => Some('\n'),
                Some((_, 't')) => Some('\t'),
                Some((_, 'r')) => Some('\r'),
                Some((_, '0')) => Some('\0'),
                Some((_, '"')) => Some('"'),
                Some((_, '\\')) => Some('\\'),
                Some((_, 'u')) => unicode_escape(&mut chars),
                _ => None,
            };
            match escaped {
                Some(c) => out.push(c),
                None => self.diagnostics.push(
                    Diagnostic::error(Code::InvalidLiteral, "invalid escape in string")
                        .at(
                            Span::new(
                                self.file,
                                start + i,
                                start
                                    + i
                                    + 1
                                    + raw[i + 1..].chars().next().map_or(0, char::len_utf8),
                            ),
                            "unknown escape",
                        )
                        .help("valid escapes: \\n \\t \\r \\0 \\\" \\\\ \\u{…}"),
                ),
            }
        }
        out
    }
}

fn unicode_escape(chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    if chars.next()?.1 != '{' {
        return None;
    }
    let mut hex = String::new();
    for (_, c) in chars.by_ref() {
        if c == '}' {
            return u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
        }
        hex.push(c);
        if hex.len() > 6 {
            return None;
        }
    }
    None
}

/// The length of `text` without the whitespace and comments pest counts into a rule
/// that ends in an optional or repeated part.
fn trimmed_len(text: &str) -> usize {
    // Most spans end in a token: nothing to trim unless a comment may be inside. (Every
    // node of a deep expression asks about its whole text, so this must be cheap.)
    if !text.ends_with(|c: char| c.is_ascii_whitespace())
        && memchr::memchr(b'#', text.as_bytes()).is_none()
    {
        return text.len();
    }
    // One pass with the lexer's view of strings (escapes, triple quotes) and comments:
    // the span ends after the last character that is neither space nor comment.
    let bytes = text.as_bytes();
    let (mut i, mut end) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i = text[i + 3..].find("\"\"\"").map_or(bytes.len(), |n| i + 3 + n + 3);
                end = i;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                end = i;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                i += 1;
                end = i;
            }
        }
    }
    // `end` may sit inside a multi-byte character only if the text was cut there.
    while !text.is_char_boundary(end) {
        end += 1;
    }
    end
}

/// A parenthesised expression's span, widened to its parentheses.
fn with_parens(pair: &Pair<'_, Rule>, inner: Span, offset: usize) -> Span {
    let s = pair.as_span();
    let input = s.get_input();
    let before = input[..s.start()].trim_end();
    let after = &input[s.start() + trimmed_len(s.as_str())..];
    let after_trimmed = after.trim_start();
    if before.ends_with('(') && after_trimmed.starts_with(')') {
        let open = before.len() - 1;
        let close = s.start() + trimmed_len(s.as_str()) + (after.len() - after_trimmed.len()) + 1;
        return Span::new(inner.file, open + offset, close + offset);
    }
    inner
}

/// Deepest expression tree accepted. Brackets and prefix operators are limited to
/// [`MAX_NESTING`] before parsing; a long chain of binary operators (`a + b + c + ...`)
/// also nests, one level per operator, up to this.
pub const MAX_DEPTH: usize = 1024;

fn deeper(depth: usize, at: Span) -> Result<(), Diagnostic> {
    if depth > MAX_DEPTH {
        Err(Diagnostic::error(
            Code::TooDeep,
            format!("expression deeper than {MAX_DEPTH} levels (brackets, prefix operators and chained operators together)"),
        )
        .at(at, "this level is too deep")
        .help(format!("split the expression into several KPIs; brackets and prefix operators alone may nest {MAX_NESTING} deep")))
    } else {
        Ok(())
    }
}

fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

fn cmp_op(s: &str) -> CmpOp {
    match s {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

/// A numeric literal (underscores allowed between digits). `None` when it overflows to
/// infinity, underflows to zero, or is an integer beyond 2^53 that f64 cannot hold exactly.
fn number(text: &str) -> Option<f64> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let v: f64 = clean.parse().ok()?;
    let nonzero_digits = clean
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.chars().any(|c| c.is_ascii_digit() && c != '0'));
    let is_integer = !clean.contains(['.', 'e', 'E']);
    // Judged on the digits: 2^53 + 1 parses to 2^53, which would pass a test on the value.
    let exact = !is_integer || clean.parse::<u64>().is_ok_and(|n| n <= 1 << 53);
    (v.is_finite() && (v != 0.0 || !nonzero_digits) && exact).then_some(v)
}

fn date(text: &str) -> Option<i64> {
    let y: i64 = text.get(0..4)?.parse().ok()?;
    let m: u32 = text.get(5..7)?.parse().ok()?;
    let d: u32 = text.get(8..10)?.parse().ok()?;
    calendar::checked_days(y, m, d)
}

fn timestamp(text: &str) -> Option<f64> {
    let days = date(text.get(0..10)?)?;
    let rest = text.get(11..)?;
    let h: i64 = rest.get(0..2)?.parse().ok()?;
    let mi: i64 = rest.get(3..5)?.parse().ok()?;
    let mut rest = &rest[5..];
    let mut secs: f64 = 0.0;
    if let Some(r) = rest.strip_prefix(':') {
        let end = r.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(r.len());
        secs = r[..end].parse().ok()?;
        rest = &r[end..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        _ => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let digits: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let oh: i64 = digits.get(0..2)?.parse().ok()?;
            let om: i64 = digits.get(2..4)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    if h > 23 || mi > 59 || !(0.0..61.0).contains(&secs) {
        return None;
    }
    let whole = secs.floor();
    #[allow(clippy::cast_possible_truncation)] // 0 to 60
    let secs_whole = whole as i64;
    Some(crate::calendar::time_value(
        days * 86_400 + h * 3600 + mi * 60 - offset + secs_whole,
        secs - whole,
    ))
}

fn invalid_date(span: Span, text: &str) -> Diagnostic {
    Diagnostic::error(Code::InvalidLiteral, format!("`{text}` is not a valid date or time"))
        .at(span, "no such date or time")
}

/// Triple-quoted text: drop the line break after the opening quotes and the blank last
/// line before the closing ones, then remove the indentation common to all lines.
/// Lines end with `\n`, `\r\n` or a lone `\r`, as in the rest of the file.
pub fn unindent(raw: &str) -> String {
    let raw = raw
        .strip_prefix("\r\n")
        .or_else(|| raw.strip_prefix('\n'))
        .or_else(|| raw.strip_prefix('\r'))
        .unwrap_or(raw);
    let mut lines: Vec<&str> = raw.split("\r\n").flat_map(|l| l.split(['\n', '\r'])).collect();
    if raw.ends_with(['\n', '\r']) {
        lines.pop();
    }
    if lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in lines {
        out.push_str(line.get(indent..).unwrap_or_else(|| line.trim_start()));
        out.push('\n');
    }
    out
}

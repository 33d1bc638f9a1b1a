//! Span-free copies of syntax trees, so two parses of differently laid-out text can be
//! compared with `==`: the formatter's promise is that only spans change.
//!
//! Expressions are visited with an explicit stack, not recursion: an expression tree may
//! be as deep as the parser allows.

use crate::ast::*;
use crate::source::Span;

/// `item` with every span set to `Span::default()`.
pub fn item(item: &Item) -> Item {
    let mut item = item.clone();
    match &mut item {
        Item::Import(s) => strlit(s),
        Item::Dataset(d) => {
            d.span = Span::default();
            ident(&mut d.name);
            csv_source(&mut d.source);
            for c in &mut d.columns {
                ident(&mut c.name);
                ident(&mut c.ty);
            }
            for l in &mut d.links {
                l.span = Span::default();
                ident(&mut l.column);
                ident(&mut l.target);
                ident(&mut l.target_column);
            }
        }
        Item::Dim(d) => {
            d.span = Span::default();
            ident(&mut d.name);
            expr(&mut d.expr);
        }
        Item::Param(p) => {
            p.span = Span::default();
            ident(&mut p.name);
            expr(&mut p.value);
        }
        Item::Kpi(k) => kpi(k),
        Item::Blend(b) => {
            b.span = Span::default();
            b.name.iter_mut().chain(&mut b.components).for_each(ident);
            b.weights.iter_mut().chain(&mut b.guard).for_each(expr);
        }
        Item::View(v) => {
            v.span = Span::default();
            ident(&mut v.name);
            v.items.iter_mut().chain(&mut v.by).for_each(ident);
            v.filter.iter_mut().for_each(expr);
        }
        Item::Note(n) => {
            n.span = Span::default();
            expr(&mut n.date);
            strlit(&mut n.text);
        }
        Item::Test(t) => test(t),
    }
    item
}

fn kpi(k: &mut Kpi) {
    k.span = Span::default();
    ident(&mut k.name);
    k.label.iter_mut().for_each(strlit);
    expr(&mut k.expr);
    if let Some(u) = &mut k.unit {
        u.span = Span::default();
    }
    for b in k.target.iter_mut().chain(&mut k.warn) {
        b.span = Span::default();
        expr(&mut b.value);
    }
    k.min.iter_mut().for_each(expr);
    k.tags.iter_mut().for_each(ident);
}

fn test(t: &mut Test) {
    t.span = Span::default();
    strlit(&mut t.name);
    for d in &mut t.data {
        d.span = Span::default();
        ident(&mut d.dataset);
        match &mut d.source {
            TestSource::File(s) => csv_source(s),
            TestSource::Inline(s) => strlit(s),
        }
    }
    for e in &mut t.expects {
        e.span = Span::default();
        ident(&mut e.subject);
        e.field.iter_mut().for_each(ident);
        for (name, value) in &mut e.group {
            ident(name);
            expr(value);
        }
        expr(&mut e.value);
        e.within.iter_mut().for_each(expr);
    }
}

fn csv_source(s: &mut CsvSource) {
    s.span = Span::default();
    strlit(&mut s.path);
    for (key, value) in &mut s.options {
        ident(key);
        expr(value);
    }
}

fn ident(i: &mut Ident) {
    i.span = Span::default();
}

fn strlit(s: &mut StrLit) {
    s.span = Span::default();
}

fn expr(root: &mut Expr) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        e.span = Span::default();
        match &mut e.kind {
            ExprKind::Name(n) => ident(n),
            ExprKind::Column { dataset, column } => {
                ident(dataset);
                ident(column);
            }
            ExprKind::Unary { operand, .. } | ExprKind::IsNull { operand, .. } => {
                stack.push(operand);
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                stack.push(lhs);
                stack.push(rhs);
            }
            ExprKind::InList { operand, list, .. } => {
                stack.push(operand);
                stack.extend(list.iter_mut());
            }
            ExprKind::Case { operand, whens, otherwise } => {
                stack.extend(operand.iter_mut().map(|o| &mut **o));
                for (w, t) in whens {
                    stack.push(w);
                    stack.push(t);
                }
                stack.extend(otherwise.iter_mut().map(|o| &mut **o));
            }
            ExprKind::Call { func, args, filter, over } => {
                ident(func);
                over.iter_mut().for_each(ident);
                stack.extend(args.iter_mut());
                stack.extend(filter.iter_mut().map(|f| &mut **f));
            }
            ExprKind::Number(_)
            | ExprKind::Percent(_)
            | ExprKind::Duration(_)
            | ExprKind::Date(_)
            | ExprKind::Time(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Null => {}
        }
    }
}

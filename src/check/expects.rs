//! The `expect` lines of test blocks: what they name and expect, resolved against the
//! program once, here, so `kpiblend check` and `kpiblend test` refuse the same lines.
//! Comparing against the data is `testing`'s part.

use crate::ast::{self, BinaryOp, ExprKind, UnaryOp};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::{
    CmpOp, ExpectConst as Const, ExpectDef, ExpectField as Field, ItemRef, Program, Value,
};
use crate::source::Span;

fn error_at(code: Code, message: String, span: Span, label: &str) -> Diagnostic {
    Diagnostic::error(code, message).at(span, label)
}

/// Resolves one expectation whose subject is a KPI or blend of `program`.
pub(super) fn resolve(program: &Program, e: &ast::Expect) -> Result<ExpectDef, Diagnostic> {
    let subject = &e.subject;
    let item = program.item(&subject.name).ok_or_else(|| {
        error_at(
            Code::UnknownName,
            format!("no kpi or blend named `{}`", subject.name),
            subject.span,
            "not defined",
        )
    })?;
    let blend = matches!(item, ItemRef::Blend(_));
    let explicit = e.field.as_ref().map(|f| f.name.as_str());
    // `warn` is a reserved word, so statuses may also be written as strings: `"warn"`.
    let word = match &e.value.kind {
        ExprKind::Name(id) if !program.params.iter().any(|p| p.name == id.name) => {
            Some((id.name.as_str(), id.span))
        }
        ExprKind::Str(s)
            if matches!(explicit, Some("status" | "verdict"))
                || explicit.is_none()
                    && (if blend { Field::Verdict } else { Field::Status })
                        .words()
                        .contains(&s.as_str()) =>
        {
            Some((s.as_str(), e.value.span))
        }
        _ => None,
    };
    let field = match (explicit, blend) {
        (None, false) if word.is_some() => Field::Status,
        (None, true) if word.is_some() => Field::Verdict,
        (None | Some("value"), false) => Field::Value,
        (None | Some("value" | "score"), true) => Field::Score,
        (Some("status"), false) => Field::Status,
        (Some("verdict"), true) => Field::Verdict,
        (Some(other), _) => {
            let span = e.field.as_ref().map_or(subject.span, |f| f.span);
            let kind = if blend { "blend" } else { "kpi" };
            return Err(error_at(
                Code::UnknownName,
                format!("a {kind} has no field `{other}`"),
                span,
                "unknown field",
            ));
        }
    };
    let expected = match (field, word) {
        (Field::Status | Field::Verdict, Some((w, span))) => Const::Word(word_of(field, w, span)?),
        (Field::Status | Field::Verdict, None) => {
            return Err(error_at(
                Code::TypeMismatch,
                format!("a {} is a word: {}", field.name(), field.words().join(", ")),
                e.value.span,
                &format!("expected a {}", field.name()),
            ));
        }
        (_, Some((w, span))) => {
            return Err(error_at(
                Code::UnknownName,
                format!("`{w}` is not a param, a status or a verdict"),
                span,
                "not a value",
            ));
        }
        (_, None) => match fold(program, &e.value)? {
            c @ (Const::Num(_) | Const::Null) => c,
            _ => {
                return Err(error_at(
                    Code::TypeMismatch,
                    format!("the {} of `{}` is a number", field.name(), subject.name),
                    e.value.span,
                    "expected a number or null",
                ));
            }
        },
    };
    let ordering = !matches!(e.op, CmpOp::Eq | CmpOp::Ne);
    if ordering && !matches!(expected, Const::Num(_)) {
        return Err(error_at(
            Code::TypeMismatch,
            format!("`{}` compares numbers; use `==` or `!=` here", e.op.as_str()),
            e.value.span,
            "not a number",
        ));
    }
    let within = match &e.within {
        None => None,
        Some(w) => match (fold(program, w)?, &expected) {
            (Const::Num(x), Const::Num(_)) if x >= 0.0 => Some(x),
            (_, Const::Num(_)) => {
                return Err(error_at(
                    Code::OutOfRange,
                    "`within` needs a number of zero or more".into(),
                    w.span,
                    "not a tolerance",
                ));
            }
            _ => {
                return Err(error_at(
                    Code::TypeMismatch,
                    "`within` applies to numbers only".into(),
                    w.span,
                    "the expected value is not a number",
                ));
            }
        },
    };
    let mut picks = Vec::new();
    let mut first_pick: Vec<(usize, Span)> = Vec::new();
    for (dim, value) in &e.group {
        let d = program.dim(&dim.name).ok_or_else(|| {
            error_at(Code::UnknownName, format!("no dim named `{}`", dim.name), dim.span, "")
        })?;
        if let Some(&(_, first)) = first_pick.iter().find(|(p, _)| *p == d) {
            return Err(error_at(
                Code::Duplicate,
                format!("dim `{}` is picked twice", dim.name),
                dim.span,
                "picked again",
            )
            .also(first, "first picked here"));
        }
        first_pick.push((d, dim.span));
        let pick = fold(program, value)?;
        if let Some(help) = never_picked(&program.dims[d].ty, value, &pick) {
            return Err(error_at(
                Code::TypeMismatch,
                format!(
                    "dim `{}` is {}: this value matches none of its groups",
                    dim.name,
                    program.dims[d].ty.describe()
                ),
                value.span,
                "never matches",
            )
            .help(help));
        }
        picks.push((d, pick));
    }
    picks.sort_by_key(|(d, _)| *d);
    Ok(ExpectDef { item, field, picks, op: e.op, expected, within })
}

fn word_of(field: Field, word: &str, span: Span) -> Result<String, Diagnostic> {
    let all = field.words();
    if all.contains(&word) {
        return Ok(word.to_string());
    }
    let d = error_at(
        Code::UnknownName,
        format!("`{word}` is not a {}", field.name()),
        span,
        &format!("not a {}", field.name()),
    );
    Err(match crate::suggest::similar(word, all.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!(
            "{}: {}",
            if field == Field::Verdict { "verdicts" } else { "statuses" },
            all.join(", ")
        )),
    })
}

/// The value of a constant expression: literals, params, `-x` and arithmetic.
fn fold(program: &Program, e: &ast::Expr) -> Result<Const, Diagnostic> {
    let not_constant = || {
        error_at(Code::NotConstant, "expected a constant".into(), e.span, "not a constant")
            .help("use a number, a percentage, a duration, a date, a string, null or a param")
    };
    Ok(match &e.kind {
        ExprKind::Number(x) | ExprKind::Percent(x) | ExprKind::Duration(x) | ExprKind::Time(x) => {
            Const::Num(*x)
        }
        #[allow(clippy::cast_precision_loss)]
        ExprKind::Date(d) => Const::Num(*d as f64),
        ExprKind::Str(s) => Const::Text(s.clone()),
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Null => Const::Null,
        ExprKind::Name(id) => match program.params.iter().find(|p| p.name == id.name) {
            Some(p) => match &p.value {
                Value::Null => Const::Null,
                Value::Text(s) => Const::Text(s.clone()),
                Value::Bool(b) => Const::Bool(*b),
                v => v.as_f64().map_or(Const::Null, Const::Num),
            },
            None => return Err(not_constant()),
        },
        ExprKind::Unary { op: UnaryOp::Neg, operand } => match fold(program, operand)? {
            Const::Num(x) => Const::Num(-x),
            _ => return Err(not_constant()),
        },
        ExprKind::Binary { op, lhs, rhs } => {
            let (Const::Num(a), Const::Num(b)) = (fold(program, lhs)?, fold(program, rhs)?) else {
                return Err(not_constant());
            };
            let v = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                _ => return Err(not_constant()),
            };
            if !v.is_finite() {
                return Err(not_constant());
            }
            Const::Num(v)
        }
        _ => return Err(not_constant()),
    })
}

/// Why a pick can match no group of a dim of this type, as a help (`test` would say "no
/// such group"): a number for a true/false dim, true/false for a number, date or time, a
/// date literal for a time dim or a time for a date dim. Text picks match by how they
/// parse, so they are left to the data.
fn never_picked(ty: &crate::types::Ty, value: &ast::Expr, pick: &Const) -> Option<String> {
    use crate::types::Ty;
    match (ty, &value.kind, pick) {
        (Ty::Bool, _, Const::Num(_)) => Some("pick `true` or `false`".into()),
        (Ty::Num(_), _, Const::Bool(_)) => Some("pick a number".into()),
        (Ty::Date, _, Const::Bool(_)) | (Ty::Date, ExprKind::Time(_), _) => {
            Some("pick a date: `2026-03-01`".into())
        }
        (Ty::Time, ExprKind::Date(d), _) => Some(format!(
            "a time dim's groups are times: pick `{}T00:00:00Z` for midnight, or group by the date: `dim day = day(...)`",
            crate::calendar::format_date(*d)
        )),
        (Ty::Time, _, Const::Bool(_)) => Some("pick a time: `2026-03-01T09:00:00Z`".into()),
        _ => None,
    }
}

//! One `expect` line: what it names and expects (resolved against the program), and the
//! verdict once the data has been evaluated.

use crate::ast::{self, BinaryOp, ExprKind, UnaryOp};
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::group::Key;
use crate::eval::{Cell, KeyKind, Report, Row, Status, Verdict};
use crate::program::{CmpOp, DimId, ItemRef, Program, Unit, Value};
use crate::render::{format, table::key_text};

use super::{DEFAULT_TOLERANCE, ExpectResult, Field, GroupPick, Outcome, TestValue, error_at};

const STATUSES: [Status; 5] =
    [Status::None, Status::Ok, Status::Warn, Status::Fail, Status::Insufficient];
const VERDICTS: [Verdict; 3] = [Verdict::Pass, Verdict::Breach, Verdict::Insufficient];

/// An expectation with its names resolved and its values folded.
pub(super) struct Resolved {
    pub item: ItemRef,
    pub field: Field,
    /// Sorted by dim.
    picks: Vec<(DimId, Const)>,
    op: CmpOp,
    expected: Const,
    within: Option<f64>,
}

impl Resolved {
    /// The dims the expectation's group is picked by (the grouping to evaluate).
    pub fn dims(&self) -> Vec<DimId> {
        self.picks.iter().map(|(d, _)| *d).collect()
    }
}

/// A constant as written in an expectation.
#[derive(Debug, Clone, PartialEq)]
enum Const {
    Num(f64),
    Text(String),
    Bool(bool),
    Null,
    /// A status or verdict word.
    Word(String),
}

/// The result with everything known before evaluation filled in.
pub(super) fn blank(program: &Program, e: &ast::Expect) -> ExpectResult {
    let sources = &program.sources;
    let (line, column) = super::line_col(sources, e.span);
    let text = sources.snippet(e.span).split_whitespace().collect::<Vec<_>>().join(" ");
    let item = program.item(&e.subject.name);
    ExpectResult {
        text: crate::render::escape::sanitize(&text),
        span: e.span,
        line,
        column,
        subject: e.subject.name.clone(),
        field: if matches!(item, Some(ItemRef::Blend(_))) { Field::Score } else { Field::Value },
        group: e
            .group
            .iter()
            .map(|(d, v)| GroupPick {
                dim: d.name.clone(),
                value: sources.snippet(v.span).to_string(),
            })
            .collect(),
        op: e.op,
        expected: TestValue::Word(sources.snippet(e.value.span).to_string()),
        tolerance: None,
        actual: None,
        difference: None,
        unit: match item {
            Some(ItemRef::Kpi(k)) => program.kpis[k].unit.clone(),
            _ => Unit::Plain,
        },
        n: None,
        outcome: Outcome::Error,
        message: None,
        error: None,
    }
}

pub(super) fn resolve(program: &Program, e: &ast::Expect) -> Result<Resolved, Diagnostic> {
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
                    && words(if blend { Field::Verdict } else { Field::Status })
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
                format!("a {} is a word: {}", field.name(), words(field).join(", ")),
                e.value.span,
                format!("expected a {}", field.name()),
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
            (Const::Num(_), Const::Num(_)) | (_, Const::Num(_)) => {
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
    for (dim, value) in &e.group {
        let d = program.dim(&dim.name).ok_or_else(|| {
            error_at(Code::UnknownName, format!("no dim named `{}`", dim.name), dim.span, "")
        })?;
        if picks.iter().any(|(p, _)| *p == d) {
            return Err(error_at(
                Code::Duplicate,
                format!("dim `{}` is picked twice", dim.name),
                dim.span,
                "picked again",
            ));
        }
        picks.push((d, fold(program, value)?));
    }
    picks.sort_by_key(|(d, _)| *d);
    Ok(Resolved { item, field, picks, op: e.op, expected, within })
}

fn words(field: Field) -> Vec<&'static str> {
    match field {
        Field::Verdict => VERDICTS.iter().map(|v| v.word()).collect(),
        _ => STATUSES.iter().map(|s| s.word()).collect(),
    }
}

fn word_of(field: Field, word: &str, span: crate::source::Span) -> Result<String, Diagnostic> {
    let all = words(field);
    if all.contains(&word) {
        return Ok(word.to_string());
    }
    let mut d = error_at(
        Code::UnknownName,
        format!("`{word}` is not a {}", field.name()),
        span,
        format!("not a {}", field.name()),
    );
    d = match crate::suggest::similar(word, all.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!(
            "{}: {}",
            if field == Field::Verdict { "verdicts" } else { "statuses" },
            all.join(", ")
        )),
    };
    Err(d)
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

/// Looks the expectation up in the reports and compares.
pub(super) fn judge(
    program: &Program,
    r: &Resolved,
    reports: &[(Vec<DimId>, Report)],
    out: &mut ExpectResult,
) {
    out.field = r.field;
    out.expected = match &r.expected {
        Const::Num(x) => TestValue::Number(*x),
        Const::Word(w) => TestValue::Word(w.clone()),
        _ => TestValue::Null,
    };
    let name = program.item_name(r.item);
    let dims = r.dims();
    let found = reports.iter().find(|(d, _)| *d == dims).and_then(|(_, report)| {
        let col = report.item(name)?;
        Some((report, col))
    });
    let Some((report, col)) = found else {
        out.outcome = Outcome::Error;
        out.error = Some(Diagnostic::error(
            Code::UnknownName,
            format!("`{name}` was not evaluated (an internal error)"),
        ));
        return;
    };
    let Some(row) = find_row(report, &r.picks) else {
        out.outcome = Outcome::Failed;
        out.message = Some(missing_group(report, out));
        return;
    };
    let (actual, n, message) = match (&row.cells[col], r.field) {
        (Cell::Kpi(k), Field::Status) => {
            let kpi = match r.item {
                ItemRef::Kpi(i) => Some(&program.kpis[i]),
                ItemRef::Blend(_) => None,
            };
            let context = kpi.map(|kpi| {
                let mut s = format!("value {}", shown(k.value, &kpi.unit));
                for (word, b) in [("target", kpi.target), ("warn", kpi.warn)] {
                    if b.is_some() {
                        s.push_str(&format!(", {word} {}", format::bound(b, &kpi.unit)));
                    }
                }
                if let Some(min) = kpi.min {
                    s.push_str(&format!(", min {min} (n = {})", k.n));
                }
                s
            });
            (TestValue::Word(k.status.word().into()), Some(k.n), context)
        }
        (Cell::Kpi(k), _) => (k.value.map_or(TestValue::Null, TestValue::Number), Some(k.n), None),
        (Cell::Blend(b), Field::Verdict) => {
            (TestValue::Word(b.verdict.word().into()), None, Some(blend_context(b)))
        }
        (Cell::Blend(b), _) => {
            (b.score.map_or(TestValue::Null, TestValue::Number), None, Some(blend_context(b)))
        }
    };
    let holds = match (&actual, &r.expected) {
        (TestValue::Word(a), Const::Word(e)) => (a == e) == (r.op == CmpOp::Eq),
        (TestValue::Null, Const::Null) => r.op == CmpOp::Eq,
        (TestValue::Number(_), Const::Null) | (TestValue::Null, Const::Num(_)) => r.op == CmpOp::Ne,
        (TestValue::Number(a), Const::Num(e)) => {
            let tol = r.within.unwrap_or_else(|| default_tolerance(*a, *e));
            out.tolerance = Some(tol);
            out.difference = Some(a - e);
            compare(r.op, *a, *e, tol)
        }
        _ => false,
    };
    if out.tolerance.is_none() && matches!(r.expected, Const::Num(_)) {
        out.tolerance = r.within.or(Some(DEFAULT_TOLERANCE));
    }
    out.actual = Some(actual);
    out.n = n;
    out.outcome = if holds { Outcome::Passed } else { Outcome::Failed };
    out.message = message;
}

/// [`DEFAULT_TOLERANCE`], absolute or relative to the larger magnitude.
pub(super) fn default_tolerance(a: f64, e: f64) -> f64 {
    DEFAULT_TOLERANCE.max(DEFAULT_TOLERANCE * a.abs().max(e.abs()))
}

/// Values within `tol` of each other are equal, for every operator.
fn compare(op: CmpOp, a: f64, e: f64, tol: f64) -> bool {
    let close = (a - e).abs() <= tol;
    match op {
        CmpOp::Eq => close,
        CmpOp::Ne => !close,
        CmpOp::Lt => a < e && !close,
        CmpOp::Le => a < e || close,
        CmpOp::Gt => a > e && !close,
        CmpOp::Ge => a > e || close,
    }
}

fn shown(v: Option<f64>, unit: &Unit) -> String {
    match v {
        None => "null".into(),
        Some(x) => format::value(Some(x), unit),
    }
}

fn blend_context(b: &crate::eval::BlendCell) -> String {
    let parts: Vec<String> = b
        .components
        .iter()
        .map(|c| {
            let score =
                c.score.map_or("no score".into(), |s| format!("score {}", format::trim(s, 1)));
            format!("{} {} ({score})", c.kpi, c.value.map_or("null".into(), format::plain))
        })
        .collect();
    let mut s = format!("components: {}", parts.join(", "));
    if let Some(g) = &b.guard {
        match g.holds {
            Some(true) => s.push_str(&format!("; guard `{}` holds", g.text)),
            Some(false) => {
                s.push_str(&format!("; guard `{}` fails: {}", g.text, g.failed.join(", ")));
            }
            None => s.push_str(&format!("; guard `{}` has no value", g.text)),
        }
    }
    s
}

fn find_row<'a>(report: &'a Report, picks: &[(DimId, Const)]) -> Option<&'a Row> {
    if picks.is_empty() {
        return report.rows.first();
    }
    report.rows.iter().find(|row| {
        picks
            .iter()
            .zip(&row.key)
            .zip(&report.by)
            .all(|(((_, pick), key), meta)| key_matches(key, pick, meta.kind))
    })
}

/// Whether a group key is the value picked. Text picks also match other keys by how
/// they parse (`"2026-03-02"` a date, `"7"` a number), so the fixture's inferred column
/// types do not decide the outcome.
fn key_matches(key: &Key, pick: &Const, kind: KeyKind) -> bool {
    use crate::data::{parse_bool, parse_date, parse_time};
    match (key, pick) {
        (Key::Null, Const::Null) => true,
        (Key::Num(a), Const::Num(b)) => a == b,
        (Key::Bool(a), Const::Bool(b)) => a == b,
        (Key::Text(a), Const::Text(b)) => **a == **b,
        (Key::Num(a), Const::Text(b)) => {
            let parsed = match kind {
                KeyKind::Date => parse_date(b),
                KeyKind::Time => parse_time(b),
                _ => b.trim().parse::<f64>().ok(),
            };
            parsed == Some(*a)
        }
        (Key::Bool(a), Const::Text(b)) => parse_bool(b) == Some(*a),
        (Key::Text(a), Const::Num(b)) => a.trim().parse::<f64>().ok() == Some(*b),
        (Key::Text(a), Const::Bool(b)) => parse_bool(a) == Some(*b),
        _ => false,
    }
}

/// "no group where site = "x"; the data has: north, south".
fn missing_group(report: &Report, out: &ExpectResult) -> String {
    let picked: Vec<String> =
        out.group.iter().map(|p| format!("{} = {}", p.dim, p.value)).collect();
    let shown: Vec<String> = report
        .rows
        .iter()
        .take(10)
        .map(|row| {
            let parts: Vec<String> =
                row.key.iter().zip(&report.by).map(|(k, m)| key_text(k, m.kind)).collect();
            parts.join(" / ")
        })
        .collect();
    let dims: Vec<&str> = report.by.iter().map(|m| m.name.as_str()).collect();
    let mut s = format!("no group where {}", picked.join(", "));
    if shown.is_empty() {
        s.push_str("; the data has no groups (no rows)");
    } else {
        s.push_str(&format!("; {} in the data: {}", dims.join(" / "), shown.join(", ")));
        if report.rows.len() > shown.len() {
            s.push_str(&format!(", … ({} in all)", report.rows.len()));
        }
    }
    s
}

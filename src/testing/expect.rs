//! One `expect` line: its verdict once the data has been evaluated. What it names and
//! expects was resolved by the checker (`ExpectDef`).

use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::eval::group::Key;
use crate::eval::{Cell, KeyKind, Report, Row};
use crate::program::{CmpOp, DimId, ExpectConst as Const, ExpectDef, ItemRef, Program, Unit};
use crate::render::{format, table::key_text};

use super::{DEFAULT_TOLERANCE, ExpectResult, Field, GroupPick, Outcome, TestValue};

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

/// Looks the expectation up in the reports and compares.
pub(super) fn judge(
    program: &Program,
    r: &ExpectDef,
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
            match kind {
                KeyKind::Date => parse_date(b) == Some(*a),
                KeyKind::Time => parse_time(b) == Some(*a),
                // A dim of a column declared nowhere: its values may be dates or times.
                _ => {
                    [b.trim().parse::<f64>().ok(), parse_date(b), parse_time(b)].contains(&Some(*a))
                }
            }
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

#[cfg(test)]
mod tests {
    use crate::eval::{Status, Verdict};
    use crate::program::{STATUS_WORDS, VERDICT_WORDS};

    #[test]
    fn the_checker_knows_the_words_the_evaluator_writes() {
        let statuses = [Status::None, Status::Ok, Status::Warn, Status::Fail, Status::Insufficient];
        assert_eq!(statuses.map(Status::word), STATUS_WORDS);
        let verdicts = [Verdict::Pass, Verdict::Breach, Verdict::Insufficient];
        assert_eq!(verdicts.map(Verdict::word), VERDICT_WORDS);
    }
}

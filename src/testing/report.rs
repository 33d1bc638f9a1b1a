//! Test results as text: a readable summary for people, JSON for tools, JUnit XML for CI.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::{Value as Json, json};

use super::{Counts, Error, ExpectResult, FileResults, Outcome, TestResult, TestValue};
use crate::program::CmpOp;
use crate::render::diagnostics as diag;
use crate::render::escape::{self, sanitize, sanitize_line};
use crate::render::format;
use crate::source::SourceMap;
use crate::types::Unit;

/// One file's run: its results, or why its tests could not run.
pub struct Run {
    pub file: String,
    pub result: Result<FileResults, Error>,
}

/// Tests passed, failed and errored over all runs; a file that could not be tested
/// counts as one error.
pub fn counts(runs: &[Run]) -> Counts {
    let mut total = Counts::default();
    for run in runs {
        match &run.result {
            Ok(r) => total.add(r.counts()),
            Err(_) => total.errors += 1,
        }
    }
    total
}

/// `3 passed, 1 failed`, with `, 2 errors` when there are any.
pub fn tally(c: Counts) -> String {
    let mut s = format!("{} passed, {} failed", c.passed, c.failed);
    if c.errors > 0 {
        let _ = write!(s, ", {} error{}", c.errors, if c.errors == 1 { "" } else { "s" });
    }
    s
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// One line per test, then each failure with expected, actual and difference, then the
/// errors (rendered as `check` renders diagnostics), then the tally.
pub fn human(runs: &[Run], color: bool) -> String {
    let style = |s: Style| if color { s } else { Style::new() };
    let (green, red, bold) = (
        style(AnsiColor::Green.on_default().bold()),
        style(AnsiColor::Red.on_default().bold()),
        style(Style::new().bold()),
    );
    let mut out = String::new();
    let mut failures = String::new();
    let mut errors = String::new();
    // Files that import the same file share its errors: each is said once.
    let mut said = std::collections::HashSet::new();
    for run in runs {
        let r = match &run.result {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "{} {}", paint(red, "ERROR"), sanitize_line(&run.file));
                for d in &e.diagnostics {
                    let text = diag::human(d, &e.sources, color);
                    if said.insert(text.clone()) {
                        errors.push_str(&text);
                    }
                }
                continue;
            }
        };
        for t in &r.tests {
            let word = match t.outcome {
                Outcome::Passed => paint(green, "PASS "),
                Outcome::Failed => paint(red, "FAIL "),
                Outcome::Error => paint(red, "ERROR"),
            };
            let _ = writeln!(
                out,
                "{word} {}:{}  {}",
                sanitize_line(&r.file),
                t.line,
                sanitize_line(&t.name)
            );
            let expect_errors = t.expects.iter().filter_map(|e| e.error.as_ref());
            let mut ds = t.errors.iter().chain(expect_errors).peekable();
            if ds.peek().is_some() {
                let file = sanitize_line(&r.file);
                let _ = writeln!(errors, "{file}:{}:{}: {}", t.line, t.column, quoted(t));
            }
            for d in ds {
                errors.push_str(&diag::human(d, &r.sources, color));
            }
            for e in t.expects.iter().filter(|e| e.outcome == Outcome::Failed) {
                failure(&mut failures, &r.file, t, e, bold);
            }
        }
    }
    for (title, body) in [("failures:", failures), ("errors:", errors)] {
        if !body.is_empty() {
            let _ = write!(out, "\n{}\n\n{body}", paint(bold, title));
        }
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&tally(counts(runs)));
    out.push('\n');
    out
}

/// ```text
/// contact_center.kpi:64:5: test "aht by site"
///     expect aht[site = "north"] == 240
///       expected: 240 (4m)
///         actual: 180 (3m)  n = 2
///     difference: -60 (-1m)
/// ```
fn failure(out: &mut String, file: &str, t: &TestResult, e: &ExpectResult, bold: Style) {
    let file = sanitize_line(file);
    let _ = writeln!(out, "{file}:{}:{}: {}", e.line, e.column, quoted(t));
    let _ = writeln!(out, "    {}", paint(bold, &e.text));
    let op = if e.op == CmpOp::Eq { String::new() } else { format!("{} ", e.op.as_str()) };
    let _ = writeln!(out, "      expected: {op}{}", shown(&e.expected, &e.unit, false));
    let actual = match &e.actual {
        None => "(no such group)".to_string(),
        Some(a) => {
            let mut s = shown(a, &e.unit, false);
            if let (Some(n), TestValue::Number(_) | TestValue::Null) = (e.n, a) {
                let _ = write!(s, "  n = {n}");
            }
            s
        }
    };
    let _ = writeln!(out, "        actual: {actual}");
    if let Some(d) = e.difference {
        // Six significant digits say how far off a value is; more would show float noise.
        let d: f64 = format!("{d:.5e}").parse().unwrap_or(d);
        let mut s = shown(&TestValue::Number(d), &e.unit, true);
        if let Some(tol) = e.tolerance.filter(|&tol| d.abs() <= tol * 1e3) {
            let _ = write!(s, "  tolerance {}", number(tol));
        }
        let _ = writeln!(out, "    difference: {s}");
        // `a < e` (or `>`) holds as plain numbers but not within the tolerance.
        let plainly =
            matches!((e.op, d < 0.0, d > 0.0), (CmpOp::Lt, true, _) | (CmpOp::Gt, _, true));
        if plainly && e.tolerance.is_some_and(|t| d.abs() <= t) {
            let _ = writeln!(
                out,
                "          note: values within the tolerance count as equal, so `{}` needs a difference beyond it",
                e.op.as_str()
            );
        }
    }
    if let Some(m) = &e.message {
        let _ = writeln!(out, "        detail: {}", sanitize(m));
    }
    out.push('\n');
}

/// `test "name"`, quoted as in the source.
fn quoted(t: &TestResult) -> String {
    format!("test \"{}\"", sanitize_line(&t.name.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// A raw number, with the unit's reading beside it when that reads differently
/// (`240 (4m)`, `0.75 (75%)`).
fn shown(v: &TestValue, unit: &Unit, signed: bool) -> String {
    match v {
        TestValue::Null => "null".into(),
        TestValue::Word(w) => sanitize_line(w),
        TestValue::Number(x) => {
            let sign = if signed && *x > 0.0 { "+" } else { "" };
            let raw = format!("{sign}{}", number(*x));
            let readable = match unit {
                Unit::Seconds | Unit::Minutes | Unit::Hours | Unit::Percent | Unit::Custom(_) => {
                    format!("{sign}{}", format::value(Some(*x), unit))
                }
                _ => return raw,
            };
            // Zero, or a tiny difference that reads as `0%`: the raw number says it all.
            let rounded_away = !readable.chars().any(|c| matches!(c, '1'..='9'));
            if readable == raw || rounded_away { raw } else { format!("{raw} ({readable})") }
        }
    }
}

/// A number to 12 significant digits, enough to show any difference larger than the
/// default tolerance without float noise (`0.05`, not `0.050000000000000044`); tiny and
/// huge ones in `1e-9` form.
pub fn number(x: f64) -> String {
    let rounded: f64 = format!("{x:.11e}").parse().unwrap_or(x);
    if rounded != 0.0 && (rounded.abs() < 1e-6 || rounded.abs() >= 1e15) {
        format!("{rounded:e}")
    } else {
        format!("{rounded}")
    }
}

/// `{"version": 1, "files": [...], "summary": {...}}`; diagnostics as `check --format
/// json` gives them.
pub fn json(runs: &[Run]) -> String {
    let files: Vec<Json> = runs
        .iter()
        .map(|run| match &run.result {
            Ok(r) => file_json(r),
            Err(e) => json!({
                "file": run.file,
                "tests": [],
                "errors": diagnostics_json(&e.diagnostics, &e.sources),
            }),
        })
        .collect();
    let c = counts(runs);
    let v = json!({
        "version": 1,
        "files": files,
        "summary": { "passed": c.passed, "failed": c.failed, "errors": c.errors },
    });
    escape::json(serde_json::to_string_pretty(&v).unwrap_or_default())
}

fn file_json(r: &FileResults) -> Json {
    let mut v = serde_json::to_value(r).unwrap_or(Json::Null);
    if let Some(tests) = v.get_mut("tests").and_then(Json::as_array_mut) {
        for (tj, t) in tests.iter_mut().zip(&r.tests) {
            tj["errors"] = diagnostics_json(&t.errors, &r.sources);
            if let Some(expects) = tj.get_mut("expects").and_then(Json::as_array_mut) {
                for (ej, e) in expects.iter_mut().zip(&t.expects) {
                    ej["error"] = e.error.as_ref().map_or(Json::Null, |d| {
                        serde_json::to_value(diag::json_value(d, &r.sources)).unwrap_or_default()
                    });
                }
            }
        }
    }
    v["errors"] = json!([]);
    v
}

fn diagnostics_json(ds: &[crate::diagnostic::Diagnostic], sources: &SourceMap) -> Json {
    Json::Array(
        ds.iter()
            .map(|d| serde_json::to_value(diag::json_value(d, sources)).unwrap_or_default())
            .collect(),
    )
}

/// JUnit XML: a `<testsuite>` per file and a `<testcase>` per test, failed expectations
/// in `<failure>`, errors in `<error>`. Times are in seconds.
pub fn junit(runs: &[Run]) -> String {
    let c = counts(runs);
    let mut suites = String::new();
    let mut total_time = 0.0;
    for run in runs {
        let file = xml(&run.file);
        let r = match &run.result {
            Ok(r) => r,
            Err(e) => {
                let text: String =
                    e.diagnostics.iter().map(|d| diag::human(d, &e.sources, false)).collect();
                let message = e.diagnostics.first().map_or(String::new(), |d| d.message.clone());
                let _ = write!(
                    suites,
                    "  <testsuite name=\"{file}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n    <testcase classname=\"{file}\" name=\"(definitions)\" time=\"0.000\">\n      <error message=\"{}\" type=\"definitions\">{}</error>\n    </testcase>\n  </testsuite>\n",
                    xml(&message),
                    xml_text(&text)
                );
                continue;
            }
        };
        let rc = r.counts();
        let time: f64 = r.tests.iter().map(|t| t.seconds).sum::<f64>() + 0.0; // not -0 when empty
        total_time += time;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{time:.3}\">",
            r.tests.len(),
            rc.failed,
            rc.errors
        );
        let mut seen: Vec<String> = Vec::new();
        for t in &r.tests {
            let name = unique(&mut seen, &t.name);
            let _ = write!(
                suites,
                "    <testcase classname=\"{file}\" name=\"{}\" line=\"{}\" time=\"{:.3}\"",
                xml(&name),
                t.line,
                t.seconds
            );
            match t.outcome {
                Outcome::Passed => suites.push_str("/>\n"),
                Outcome::Failed => {
                    let failed: Vec<&ExpectResult> =
                        t.expects.iter().filter(|e| e.outcome == Outcome::Failed).collect();
                    let mut body = String::new();
                    for e in &failed {
                        failure(&mut body, &r.file, t, e, Style::new());
                    }
                    let message = failed.first().map_or(String::new(), |e| summary(e));
                    let _ = write!(
                        suites,
                        ">\n      <failure message=\"{}\" type=\"expect\">{}</failure>\n    </testcase>\n",
                        xml(&message),
                        xml_text(body.trim_end())
                    );
                }
                Outcome::Error => {
                    let ds: Vec<_> = t
                        .errors
                        .iter()
                        .chain(t.expects.iter().filter_map(|e| e.error.as_ref()))
                        .collect();
                    let body: String =
                        ds.iter().map(|d| diag::human(d, &r.sources, false)).collect();
                    let message = ds.first().map_or(String::new(), |d| d.message.clone());
                    let kind = ds.first().map_or("error", |d| d.code.as_str());
                    let _ = write!(
                        suites,
                        ">\n      <error message=\"{}\" type=\"{kind}\">{}</error>\n    </testcase>\n",
                        xml(&message),
                        xml_text(body.trim_end())
                    );
                }
            }
        }
        suites.push_str("  </testsuite>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kpiblend test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total_time:.3}\">\n{suites}</testsuites>\n",
        c.passed + c.failed + c.errors,
        c.failed,
        c.errors
    )
}

/// `expect aht == 240: actual 180`
fn summary(e: &ExpectResult) -> String {
    let actual = e.actual.as_ref().map_or("no such group".into(), |a| shown(a, &e.unit, false));
    format!("{}: actual {actual}", e.text)
}

/// The name, or the name with ` (2)`, ` (3)`… when an earlier test has it.
fn unique(seen: &mut Vec<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 1;
    while seen.contains(&candidate) {
        n += 1;
        candidate = format!("{name} ({n})");
    }
    seen.push(candidate.clone());
    candidate
}

/// Escapes text for an XML attribute value: line breaks and tabs survive as character
/// references, characters XML 1.0 cannot hold become U+FFFD, and DEL, C1 and bidirectional
/// controls are character references (`&#x7f;`) so a terminal showing the file shows them
/// as text.
pub fn xml(s: &str) -> String {
    escape(s, true)
}

/// Escapes text for XML element content (line breaks kept as they are).
pub fn xml_text(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' if !attribute => out.push(c),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c if escape::is_unsafe(c) => {
                let _ = write!(out, "&#x{:x};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

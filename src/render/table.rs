//! Reports as text tables (scorecards and grouped tables), JSON and tidy CSV.
//!
//! Every table cell is escaped ([`sanitize_line`]): labels, group keys and names come from
//! KPI files and CSV data. JSON escapes what `serde_json` leaves raw; CSV keeps values as
//! they are, quoted where needed.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::escape::sanitize_line;
use super::format;
use crate::calendar;
use crate::eval::group::Key;
use crate::eval::{
    BlendCell, Cell, ItemKind, ItemMeta, KeyKind, KpiCell, Report, Row, Status, Verdict,
};

/// Left- or right-aligned columns, padded to the widest cell (display width = chars).
struct Grid {
    rows: Vec<Vec<(String, Style)>>,
    right: Vec<bool>,
}

impl Grid {
    fn new(right: Vec<bool>) -> Grid {
        Grid { rows: Vec::new(), right }
    }

    /// Adds a row, escaping each cell so no text can drive the terminal or break the line.
    fn push(&mut self, row: Vec<(String, Style)>) {
        self.rows
            .push(row.into_iter().map(|(text, style)| (sanitize_line(&text), style)).collect());
    }

    fn render(&self, indent: &str) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|(s, _)| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::from(indent);
            for (c, (text, style)) in row.iter().enumerate() {
                let pad = " ".repeat(widths[c] - text.chars().count());
                let cell = format!("{style}{text}{style:#}");
                if self.right.get(c).copied().unwrap_or(false) {
                    let _ = write!(line, "{pad}{cell}");
                } else {
                    let _ = write!(line, "{cell}{pad}");
                }
                if c + 1 < row.len() {
                    line.push_str("  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn status_style(s: Status, color: bool) -> Style {
    if !color {
        return Style::new();
    }
    match s {
        Status::Ok => AnsiColor::Green.on_default(),
        Status::Warn => AnsiColor::Yellow.on_default(),
        Status::Fail => AnsiColor::Red.on_default().bold(),
        Status::Insufficient | Status::None => AnsiColor::BrightBlack.on_default(),
    }
}

fn verdict_style(v: Verdict, color: bool) -> Style {
    if !color {
        return Style::new();
    }
    match v {
        Verdict::Pass => AnsiColor::Green.on_default(),
        Verdict::Breach => AnsiColor::Red.on_default().bold(),
        Verdict::Insufficient => AnsiColor::BrightBlack.on_default(),
    }
}

fn plain(s: impl Into<String>) -> (String, Style) {
    (s.into(), Style::new())
}

/// A group key part as shown to people (escaped).
pub fn key_text(k: &Key, kind: KeyKind) -> String {
    sanitize_line(&key_value(k, kind))
}

/// A number as a group key: every digit it has (two keys never print alike), no thousands
/// separators (keys are often ids); very large or small ones in scientific notation.
fn number_key(x: f64) -> String {
    if x != 0.0 && (x.abs() >= 1e15 || x.abs() < 1e-6) { format!("{x:e}") } else { format!("{x}") }
}

/// A group key part as text, unescaped (for CSV and JSON, which quote it themselves).
fn key_value(k: &Key, kind: KeyKind) -> String {
    match (k, kind) {
        (Key::Null, _) => "(null)".into(),
        #[allow(clippy::cast_possible_truncation)]
        (Key::Num(d), KeyKind::Date) => calendar::format_date(*d as i64),
        (Key::Num(t), KeyKind::Time) => calendar::format_time(*t),
        (Key::Num(x), _) => number_key(*x),
        (Key::Bool(b), _) => b.to_string(),
        (Key::Text(s), _) => s.to_string(),
    }
}

/// The human table: a scorecard when ungrouped, a row per group otherwise.
pub fn human(report: &Report, color: bool) -> String {
    if report.by.is_empty() { scorecard(report, color) } else { grouped(report, color) }
}

fn scorecard(report: &Report, color: bool) -> String {
    let Some(row) = report.rows.first() else { return String::new() };
    let bold = if color { Style::new().bold() } else { Style::new() };
    let mut out = String::new();
    let mut kpis = Grid::new(vec![false, false, true, false, false, true]);
    kpis.push(vec![
        (String::from("kpi"), bold),
        plain(""),
        (String::from("value"), bold),
        (String::from("target"), bold),
        (String::from("status"), bold),
        (String::from("n"), bold),
    ]);
    for (meta, cell) in report.items.iter().zip(&row.cells) {
        if let Cell::Kpi(k) = cell {
            kpis.push(vec![
                plain(&meta.name),
                plain(meta.label.clone().unwrap_or_default()),
                plain(format::judged(k.value, &meta.unit, meta.target, k.status.missed())),
                plain(format::bound(meta.target, &meta.unit)),
                match &meta.correlation_over {
                    Some(over) => plain(correlation_reading(k.value, k.n, over)),
                    None => status_cell(k.status, color),
                },
                plain(if k.n > 0 {
                    format::value(Some(k.n as f64), &crate::types::Unit::Count)
                } else {
                    String::new()
                }),
            ]);
        }
    }
    if kpis.rows.len() > 1 {
        out.push_str(&kpis.render(""));
    }
    let blends: Vec<_> = report
        .items
        .iter()
        .zip(&row.cells)
        .filter_map(|(m, c)| if let Cell::Blend(b) = c { Some((m, b)) } else { None })
        .collect();
    if !blends.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let mut g = Grid::new(vec![false, true, false, false, false]);
        g.push(vec![
            (String::from("blend"), bold),
            (String::from("score"), bold),
            (String::from("verdict"), bold),
            (String::from("components"), bold),
            (String::from("guard"), bold),
        ]);
        for (meta, b) in blends {
            g.push(vec![
                plain(&meta.name),
                plain(score(b.score)),
                verdict_cell(b.verdict, color),
                plain(components(report, b)),
                plain(guard(b)),
            ]);
        }
        out.push_str(&g.render(""));
    }
    out.push_str(&notes(report));
    out
}

/// "strong negative, n = 60 agents": how to read a correlation.
pub fn correlation_reading(r: Option<f64>, n: u64, over: &str) -> String {
    let Some(r) = r else { return format!("n = {n} {over}{}", if n == 1 { "" } else { "s" }) };
    let strength = match r.abs() {
        a if a < 0.1 => "no",
        a if a < 0.3 => "weak",
        a if a < 0.5 => "moderate",
        _ => "strong",
    };
    let sign = if strength == "no" {
        ""
    } else if r < 0.0 {
        " negative"
    } else {
        " positive"
    };
    let plural = if n == 1 { "" } else { "s" };
    if strength == "no" {
        format!("no correlation, n = {n} {over}{plural}")
    } else {
        format!("{strength}{sign}, n = {n} {over}{plural}")
    }
}

fn status_cell(s: Status, color: bool) -> (String, Style) {
    if s == Status::None {
        return plain("");
    }
    (format!("{} {}", s.symbol(), s.word()), status_style(s, color))
}

fn verdict_cell(v: Verdict, color: bool) -> (String, Style) {
    (format!("{} {}", v.symbol(), v.word()), verdict_style(v, color))
}

fn score(s: Option<f64>) -> String {
    s.map_or("–".into(), score_text)
}

/// A score (0–100) with one decimal; below 100 it never reads `100.0` (a blend with a
/// missed component scores 99.95 at most, and must not look perfect).
pub fn score_text(x: f64) -> String {
    let shown = format!("{x:.1}");
    if x < 100.0 && shown == "100.0" { "99.9".into() } else { shown }
}

fn components(report: &Report, b: &BlendCell) -> String {
    let _ = report;
    b.components
        .iter()
        .map(|c| format!("{} {}", c.kpi, score(c.score)))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn guard(b: &BlendCell) -> String {
    let Some(g) = &b.guard else { return String::new() };
    match g.holds {
        Some(true) => format!("{} ✓", g.text),
        Some(false) => format!("{} ✗ {}", g.text, g.failed.join("; ")),
        None => format!("{} ?", g.text),
    }
}

fn grouped(report: &Report, color: bool) -> String {
    let bold = if color { Style::new().bold() } else { Style::new() };
    let dims = report.by.len();
    let mut right = vec![false; dims];
    right.extend(std::iter::repeat_n(true, report.items.len()));
    let mut g = Grid::new(right);
    let header =
        report.by.iter().map(|d| d.name.clone()).chain(report.items.iter().map(|i| i.name.clone()));
    g.push(header.map(|h| (h, bold)).collect());
    let cell_row = |row: &Row, label: Option<&str>| {
        let mut cells: Vec<(String, Style)> = match label {
            Some(l) => {
                std::iter::once(plain(l)).chain(std::iter::repeat_n(plain(""), dims - 1)).collect()
            }
            None => {
                row.key.iter().zip(&report.by).map(|(k, d)| plain(key_text(k, d.kind))).collect()
            }
        };
        for (meta, cell) in report.items.iter().zip(&row.cells) {
            cells.push(match cell {
                Cell::Kpi(k) => kpi_cell(k, meta, color),
                Cell::Blend(b) => (
                    format!("{} {}", score(b.score), b.verdict.symbol()),
                    verdict_style(b.verdict, color),
                ),
            });
        }
        cells
    };
    for row in &report.rows {
        g.push(cell_row(row, None));
    }
    if let Some(total) = &report.total {
        g.push(cell_row(total, Some("total")));
    }
    let mut out = g.render("");
    let _ = writeln!(out, "\n✓ ok  ! warn  ✗ fail/breach  ? insufficient");
    out.push_str(&notes(report));
    out
}

fn kpi_cell(k: &KpiCell, meta: &ItemMeta, color: bool) -> (String, Style) {
    let v = format::judged(k.value, &meta.unit, meta.target, k.status.missed());
    match k.status {
        Status::None => plain(v),
        s => (format!("{v} {}", s.symbol()), status_style(s, color)),
    }
}

fn notes(report: &Report) -> String {
    let mut out = String::new();
    if !report.notes.is_empty() {
        out.push('\n');
        for n in &report.notes {
            let _ = writeln!(out, "note {}: {}", n.date_text, sanitize_line(&n.text));
        }
    }
    out
}

/// The report as JSON (schema in `docs/json.md`); date keys as `YYYY-MM-DD`.
pub fn json(report: &Report) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    let kinds: Vec<KeyKind> = report.by.iter().map(|d| d.kind).collect();
    let rows = value.get_mut("rows").and_then(|r| r.as_array_mut()).into_iter().flatten();
    for row in rows {
        if let Some(key) = row.get_mut("key").and_then(|k| k.as_array_mut()) {
            for (k, kind) in key.iter_mut().zip(&kinds) {
                if let (Some(x), KeyKind::Date | KeyKind::Time) = (k.as_f64(), kind) {
                    *k = serde_json::Value::String(key_value(&Key::Num(x), *kind));
                }
            }
        }
    }
    super::escape::json(serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// Tidy long form: one line per group and item. A null key is an empty field and an
/// empty text `""`, as PostgreSQL's and DuckDB's CSV output tell them apart.
pub fn csv(report: &Report) -> String {
    let mut out = String::new();
    let header: Vec<String> = report
        .by
        .iter()
        // a trend's period dim is kpiblend's own (`__period`)
        .map(|d| if d.name == crate::query::PERIOD { "period".into() } else { d.name.clone() })
        .chain(["item", "kind", "value", "status"].map(String::from))
        .collect();
    out.push_str(&csv_line(&header));
    for row in &report.rows {
        let key: Vec<String> = row
            .key
            .iter()
            .zip(&report.by)
            .map(|(k, d)| match k {
                Key::Null => String::new(),
                Key::Text(t) if t.is_empty() => "\"\"".into(),
                _ => csv_field(&key_value(k, d.kind)),
            })
            .collect();
        for (meta, cell) in report.items.iter().zip(&row.cells) {
            let (value, status) = match cell {
                Cell::Kpi(k) => (k.value, k.status.word()),
                Cell::Blend(b) => (b.score, b.verdict.word()),
            };
            let kind = if meta.kind == ItemKind::Kpi { "kpi" } else { "blend" };
            let mut fields = key.clone();
            fields.extend(
                [
                    meta.name.clone(),
                    kind.into(),
                    value.map_or(String::new(), |v| format!("{v}")),
                    status.into(),
                ]
                .iter()
                .map(|f| csv_field(f)),
            );
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    format!("{}\n", quoted.join(","))
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::score_text;

    #[test]
    fn a_score_below_100_never_reads_100() {
        assert_eq!(score_text(99.95), "99.9");
        assert_eq!(score_text(99.96), "99.9");
        assert_eq!(score_text(99.94), "99.9");
        assert_eq!(score_text(100.0), "100.0");
        assert_eq!(score_text(88.14), "88.1");
        assert_eq!(score_text(0.0), "0.0");
    }
}

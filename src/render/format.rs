//! Numbers as an analyst reads them: `5m 42s`, `81.3%`, `+32`, `6.12 USD`, `5,000`.

use crate::program::{Bound, CmpOp};
use crate::types::Unit;

/// From here on, numbers are shown in scientific notation (and durations in seconds):
/// whole numbers of more digits would not read, and hours past it overflow.
const HUGE: f64 = 1e15;

/// A value in its unit; `–` for null.
pub fn value(v: Option<f64>, unit: &Unit) -> String {
    let Some(v) = v else { return "–".into() };
    if !v.is_finite() {
        return "–".into();
    }
    match unit {
        Unit::Seconds => duration(v),
        Unit::Minutes => duration(v * 60.0),
        Unit::Hours => duration(v * 3600.0),
        Unit::Percent => format!("{}%", trim(v * 100.0, 1)),
        Unit::Points if v.round() == 0.0 => "0".into(),
        Unit::Points if v.abs() >= HUGE => {
            format!("{}{}", if v > 0.0 { "+" } else { "" }, plain(v))
        }
        Unit::Points => format!("{:+}", v.round() as i64),
        Unit::Count => grouped(v),
        Unit::Custom(name) => {
            format!("{} {}", grouped_decimals(v, 2), super::escape::sanitize_line(name))
        }
        Unit::Plain => plain(v),
        Unit::Time => crate::calendar::format_time(v),
        #[allow(clippy::cast_possible_truncation)]
        Unit::Date => crate::calendar::format_date(v.floor() as i64),
    }
}

/// A KPI's value beside its target. A value that misses the target but reads as it
/// (NPS 29.73 against `>= +30` reads `+30`; 4.1996 against `>= 4.2` reads `4.2`) gets
/// the digits that tell them apart: `+29.7 ✗`, not `+30 ✗`.
pub fn judged(v: Option<f64>, unit: &Unit, target: Option<Bound>, missed: bool) -> String {
    let text = value(v, unit);
    let (Some(x), Some(b), true) = (v, target, missed) else { return text };
    if text != value(Some(b.value), unit) {
        return text;
    }
    let at = |y: f64, decimals: usize| match unit {
        Unit::Points => Some(format!("{y:+.decimals$}")),
        Unit::Percent => Some(format!("{}%", trim(y * 100.0, decimals))),
        Unit::Plain | Unit::Count => Some(trim(y, decimals + 2)),
        Unit::Custom(name) => Some(format!(
            "{} {}",
            grouped_decimals(y, decimals + 2),
            super::escape::sanitize_line(name)
        )),
        _ => None,
    };
    (1..=9)
        .filter_map(|d| Some((at(x, d)?, at(b.value, d)?)))
        .find(|(shown, target)| shown != target)
        .map_or(text, |(shown, _)| shown)
}

/// A target bound: `<= 6m`, `>= 75%`.
pub fn bound(b: Option<crate::program::Bound>, unit: &Unit) -> String {
    let Some(Bound { op, value: v }) = b else { return String::new() };
    let op = match op {
        CmpOp::Ge => "≥",
        CmpOp::Gt => ">",
        CmpOp::Le => "≤",
        CmpOp::Lt => "<",
        CmpOp::Eq => "=",
        CmpOp::Ne => "≠",
    };
    format!("{op} {}", value(Some(v), unit))
}

/// Durations: `42.5s`, `5m 42s`, `1h 05m`.
pub fn duration(secs: f64) -> String {
    let sign = if secs < 0.0 { "-" } else { "" };
    let s = secs.abs();
    if s >= HUGE {
        return format!("{sign}{}s", plain(s));
    }
    if s < 60.0 {
        return format!("{sign}{}s", trim(s, 1));
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    match (h, sec) {
        (0, 0) => format!("{sign}{m}m"),
        (0, _) => format!("{sign}{m}m {sec:02}s"),
        _ => format!("{sign}{h}h {m:02}m"),
    }
}

/// A plain number: whole numbers with separators, others to 2 decimals (3 significant
/// digits for small values).
pub fn plain(v: f64) -> String {
    if v.abs() >= HUGE {
        // Past 15 digits, in scientific notation rather than a wall of digits.
        return format!("{v:.3e}");
    }
    if v.fract() == 0.0 {
        return grouped(v);
    }
    if v.abs() < 10.0 {
        return trim(v, 3);
    }
    if v.abs() < 1000.0 {
        return trim(v, 2);
    }
    grouped_decimals(v, 2)
}

fn grouped(v: f64) -> String {
    grouped_decimals(v, 0)
}

fn grouped_decimals(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    if v < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.insert(0, '-');
    }
    out
}

/// Up to `decimals` decimals, trailing zeros removed.
pub fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s =
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_target_never_reads_as_the_target() {
        let at_least = |value| Some(Bound { op: CmpOp::Ge, value });
        assert_eq!(judged(Some(29.73), &Unit::Points, at_least(30.0), true), "+29.7");
        assert_eq!(judged(Some(29.73), &Unit::Points, at_least(30.0), false), "+30");
        assert_eq!(judged(Some(0.6996), &Unit::Percent, at_least(0.70), true), "69.96%");
        assert_eq!(judged(Some(4.19996), &Unit::Plain, at_least(4.2), true), "4.19996");
        assert_eq!(judged(Some(25.0), &Unit::Points, at_least(30.0), true), "+25");
        assert_eq!(judged(None, &Unit::Points, at_least(30.0), true), "–");
    }

    #[test]
    fn formats_each_unit_the_way_analysts_read_it() {
        assert_eq!(value(Some(342.0), &Unit::Seconds), "5m 42s");
        assert_eq!(value(Some(360.0), &Unit::Seconds), "6m");
        assert_eq!(value(Some(28.44), &Unit::Seconds), "28.4s");
        assert_eq!(value(Some(3900.0), &Unit::Seconds), "1h 05m");
        assert_eq!(value(Some(0.8134), &Unit::Percent), "81.3%");
        assert_eq!(value(Some(0.75), &Unit::Percent), "75%");
        assert_eq!(value(Some(32.4), &Unit::Points), "+32");
        assert_eq!(value(Some(-7.6), &Unit::Points), "-8");
        assert_eq!(value(Some(5000.0), &Unit::Count), "5,000");
        assert_eq!(value(Some(6.5), &Unit::Custom("USD".into())), "6.50 USD");
        assert_eq!(value(Some(4.2194), &Unit::Plain), "4.219");
        assert_eq!(value(Some(4.2), &Unit::Plain), "4.2");
        assert_eq!(value(Some(123.456), &Unit::Plain), "123.46");
        assert_eq!(value(Some(-0.2346), &Unit::Plain), "-0.235");
        assert_eq!(value(None, &Unit::Plain), "–");
        assert_eq!(bound(Some(Bound { op: CmpOp::Le, value: 360.0 }), &Unit::Seconds), "≤ 6m");
        // Huge values are never clamped to the largest integer.
        assert_eq!(value(Some(1.7e308), &Unit::Plain), "1.700e308");
        assert_eq!(value(Some(-2.5e19), &Unit::Seconds), "-2.500e19s");
        assert_eq!(value(Some(1e20), &Unit::Points), "+1.000e20");
        assert_eq!(value(Some(999_999_999_999_999.0), &Unit::Plain), "999,999,999,999,999");
    }
}

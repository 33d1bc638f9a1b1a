//! Cell parsers for every column type, shared with the evaluator (literals) and the tests.
//!
//! They are hand-written rather than built on `str::parse` because the loader runs them on tens
//! of millions of cells and because `f64::from_str` accepts forms we must reject (`nan`, `inf`,
//! `1e400` silently becoming infinity). None of them trims: surrounding spaces are an error that
//! the loader names explicitly.

use std::fmt;

/// Why a cell is not a number (see [`parse_number`] and [`parse_int`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumError {
    /// Not decimal notation at all (`12,5`, `1_000`, `0x10`, `N/A`, `—`, the empty string).
    Invalid,
    /// Would be a valid number without its leading or trailing whitespace (` 7`).
    Spaces,
    /// `nan`, `inf` or `infinity` in any case, with or without a sign.
    NonFinite,
    /// Overflows to infinity (`1e400`), underflows a non-zero input to zero (`1e-400`), or, for
    /// integers, has a magnitude above 2^53 (where `f64` stops representing every integer).
    OutOfRange,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumError::Invalid => "not a number",
            NumError::Spaces => "surrounding spaces",
            NumError::NonFinite => "non-finite number",
            NumError::OutOfRange => "number out of range",
        })
    }
}

impl std::error::Error for NumError {}

/// Largest integer magnitude that `f64` represents exactly (2^53).
pub const MAX_EXACT_INT: u64 = 1 << 53;

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses `true/false`, `t/f`, `yes/no`, `y/n` and `1/0`, in any letter case.
#[must_use]
pub fn parse_bool(s: &str) -> Option<bool> {
    bool_bytes(s.as_bytes(), true)
}

/// The bool parser on raw bytes; `digits` says whether `1`/`0` are accepted (inference refuses
/// them so that 0/1 columns stay integers).
pub(crate) fn bool_bytes(b: &[u8], digits: bool) -> Option<bool> {
    let mut lower = [0u8; 5];
    if b.is_empty() || b.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(b) {
        *dst = src.to_ascii_lowercase();
    }
    match &lower[..b.len()] {
        b"true" | b"t" | b"yes" | b"y" => Some(true),
        b"false" | b"f" | b"no" | b"n" => Some(false),
        b"1" if digits => Some(true),
        b"0" if digits => Some(false),
        _ => None,
    }
}

/// Parses a decimal number: an optional sign, digits with at most one `.` (`1.5`, `.5`, `5.`),
/// and an optional exponent (`2.5e-3`). Rejects everything else, including `nan`/`inf`
/// ([`NumError::NonFinite`]), values that overflow or underflow `f64` ([`NumError::OutOfRange`]),
/// and surrounding whitespace ([`NumError::Spaces`]).
///
/// # Errors
///
/// The [`NumError`] naming why `s` is not an acceptable number.
pub fn parse_number(s: &str) -> Result<f64, NumError> {
    number_bytes(s.as_bytes())
}

/// Parses an integer: an optional sign and ASCII digits, with magnitude at most 2^53
/// ([`MAX_EXACT_INT`]); no separators, no exponent, no decimal point. Returned as `f64`.
///
/// # Errors
///
/// The [`NumError`] naming why `s` is not an acceptable integer.
pub fn parse_int(s: &str) -> Result<f64, NumError> {
    int_bytes(s.as_bytes())
}

/// Checks the number grammar and computes the value; `None` means a syntax error.
fn number_syntax(b: &[u8]) -> Option<Result<f64, NumError>> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mant: u64 = 0;
    let mut sig_digits = 0u32; // digits after the leading zeros
    let mut int_digits = 0usize;
    let mut frac_digits = 0usize;
    let mut nonzero = false;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        push_digit(c, &mut mant, &mut sig_digits, &mut nonzero);
        int_digits += 1;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            push_digit(c, &mut mant, &mut sig_digits, &mut nonzero);
            frac_digits += 1;
            i += 1;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_neg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            // Saturate: anything this large is out of range either way.
            exp = (exp * 10 + i64::from(c - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        if exp_neg {
            exp = -exp;
        }
    }
    if i != b.len() {
        return None;
    }
    // Fast path (Clinger): an exactly representable mantissa scaled by an exactly representable
    // power of ten is correctly rounded by one multiplication or division.
    let frac = i64::try_from(frac_digits).unwrap_or(i64::MAX);
    let scale = exp.saturating_sub(frac);
    let value = if sig_digits <= 15 && scale.unsigned_abs() <= 22 {
        #[allow(clippy::cast_precision_loss)] // mantissa < 10^15 < 2^53: exact
        let m = mant as f64;
        let p = POW10[usize::try_from(scale.unsigned_abs()).unwrap_or(0)];
        if scale >= 0 { m * p } else { m / p }
    } else {
        // The syntax is validated and ASCII, so the standard parser only does the conversion.
        let text = std::str::from_utf8(&b[usize::from(neg || b[0] == b'+')..]).ok()?;
        text.parse::<f64>().ok()?
    };
    if value.is_infinite() || (value == 0.0 && nonzero) {
        return Some(Err(NumError::OutOfRange));
    }
    Some(Ok(if neg { -value } else { value }))
}

#[inline]
fn push_digit(c: u8, mant: &mut u64, sig_digits: &mut u32, nonzero: &mut bool) {
    let d = c - b'0';
    if d != 0 {
        *nonzero = true;
    }
    if *sig_digits > 0 || d != 0 {
        *sig_digits += 1;
        if *sig_digits <= 19 {
            *mant = *mant * 10 + u64::from(d);
        }
    }
}

/// The number parser on raw bytes (invalid UTF-8 is simply [`NumError::Invalid`]).
pub(crate) fn number_bytes(b: &[u8]) -> Result<f64, NumError> {
    match number_syntax(b) {
        // `-0` is zero: one value, one spelling in results (`+ 0.0` clears the sign).
        Some(r) => r.map(|x| x + 0.0),
        None => Err(classify_failure(b, |t| number_syntax(t).is_some_and(|r| r.is_ok()))),
    }
}

/// Explains why `b` was not accepted: non-finite word, surrounding spaces, or plain invalid.
fn classify_failure(b: &[u8], accepts: impl Fn(&[u8]) -> bool) -> NumError {
    let unsigned = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    if unsigned.eq_ignore_ascii_case(b"nan")
        || unsigned.eq_ignore_ascii_case(b"inf")
        || unsigned.eq_ignore_ascii_case(b"infinity")
    {
        return NumError::NonFinite;
    }
    let trimmed = b.trim_ascii();
    if trimmed.len() != b.len() && !trimmed.is_empty() && accepts(trimmed) {
        return NumError::Spaces;
    }
    NumError::Invalid
}

/// The integer parser on raw bytes.
pub(crate) fn int_bytes(b: &[u8]) -> Result<f64, NumError> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(classify_failure(b, |t| int_bytes(t).is_ok()));
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))) {
            Some(v) if v <= MAX_EXACT_INT => v,
            _ => return Err(NumError::OutOfRange),
        };
    }
    #[allow(clippy::cast_precision_loss)] // v <= 2^53: exact
    let f = v as f64;
    // `-0` is stored as plain zero: integers have no signed zero.
    Ok(if neg && v != 0 { -f } else { f })
}

// Calendar arithmetic is shared with the rest of the crate.
pub use crate::calendar::{civil_from_days, days_from_civil, days_in_month};

/// Reads exactly `n` ASCII digits at `b[at..]`.
#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses `YYYY-MM-DD` at the start of `b` into days since the epoch, validating the calendar.
fn date_prefix(b: &[u8]) -> Option<i64> {
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let y = i64::from(digits(b, 0, 4)?);
    let m = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses a calendar date `YYYY-MM-DD` into days since 1970-01-01.
#[must_use]
pub fn parse_date(s: &str) -> Option<f64> {
    date_bytes(s.as_bytes())
}

pub(crate) fn date_bytes(b: &[u8]) -> Option<f64> {
    if b.len() != 10 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // |days| < 4 million: exact
    date_prefix(b).map(|d| d as f64)
}

/// Parses an ISO 8601 timestamp into seconds since 1970-01-01T00:00:00Z.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS`, with `T`, `t` or a space between date and time, an optional
/// fraction `.f…` (any number of digits), and an optional offset `Z`, `z`, `±HH:MM` or `±HHMM`.
/// Without an offset the time is taken as UTC. Ranges are checked: month 1-12, day within the
/// month (leap years included), hour 0-23, minute 0-59, second 0-60 (a leap second rolls into the
/// next minute). Hours and minutes without seconds, week dates and ordinal dates are rejected.
#[must_use]
pub fn parse_time(s: &str) -> Option<f64> {
    time_bytes(s.as_bytes())
}

pub(crate) fn time_bytes(b: &[u8]) -> Option<f64> {
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let days = date_prefix(b)?;
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let h = digits(b, 11, 2)?;
    let mi = digits(b, 14, 2)?;
    let sec = digits(b, 17, 2)?;
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut num: u64 = 0;
        let mut used = 0usize;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if used < 18 {
                num = num * 10 + u64::from(c - b'0');
                used += 1;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        #[allow(clippy::cast_precision_loss)] // < 10^18; the fraction only needs ~1e-7 s
        let n = num as f64;
        frac = n / 10f64.powi(i32::try_from(used).unwrap_or(18));
    }
    let offset: i64 = match &b[i..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, om) = match rest {
                [_, _, b':', _, _] => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                [_, _, _, _] => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - offset;
    Some(crate::calendar::time_value(secs, frac))
}

/// Parses a duration into seconds: a plain number of seconds (any form [`parse_number`]
/// accepts), `H:MM:SS` (hours of any length, minutes and seconds two digits below 60) or `M:SS`
/// (minutes of any length). The seconds part may carry a fraction (`1:02:03.5`).
#[must_use]
pub fn parse_duration(s: &str) -> Option<f64> {
    duration_bytes(s.as_bytes())
}

pub(crate) fn duration_bytes(b: &[u8]) -> Option<f64> {
    let Some(first) = b.iter().position(|&c| c == b':') else {
        return number_bytes(b).ok();
    };
    let lead = uint(&b[..first])?;
    let rest = &b[first + 1..];
    let (hours, minutes, secs) = match rest.iter().position(|&c| c == b':') {
        Some(second) => {
            if second != 2 {
                return None;
            }
            let m = digits(rest, 0, 2)?;
            if m > 59 {
                return None;
            }
            (lead, u64::from(m), &rest[3..])
        }
        None => (0, lead, rest),
    };
    // Seconds: exactly two digits, then an optional fraction.
    let whole = digits(secs, 0, 2)?;
    if whole > 59 || secs.get(2..).is_some_and(|t| !t.is_empty() && t[0] != b'.') {
        return None;
    }
    let mut value = f64::from(whole);
    if secs.len() > 2 {
        let frac = &secs[2..];
        if frac.len() < 2 || !frac[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        // "0.123": valid syntax by the checks above.
        let mut buf = [0u8; 24];
        let n = frac.len().min(buf.len() - 1);
        buf[0] = b'0';
        buf[1..=n].copy_from_slice(&frac[..n]);
        value += number_bytes(&buf[..=n]).ok()?;
    }
    #[allow(clippy::cast_precision_loss)] // bounded by uint()'s digit limit
    let whole_part = (hours * 3600 + minutes * 60) as f64;
    Some(whole_part + value)
}

/// Unsigned integer of 1 to 12 digits (enough for any real duration, no overflow possible).
fn uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 12 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |v, &c| v * 10 + u64::from(c - b'0')))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

//! Typed columns built from cells: numbers, booleans and dictionary-encoded text, with the
//! careful reader's rules (anything it would reject makes the fast path fall back).

use std::collections::HashMap;
use std::ops::Range;

use super::Fallback;
use super::index::Index;
use crate::data::parse::{bool_bytes, date_bytes, duration_bytes, number_bytes, time_bytes};
use crate::data::{ColumnData, ColumnType};

pub(super) enum Builder {
    Num(Vec<f64>, fn(&[u8]) -> Option<f64>),
    Bool(Vec<u8>),
    Text(Vec<u32>, Dictionary),
}

/// Text values seen so far and their codes.
///
/// Values of up to 15 bytes (codes, names, categories: nearly all that KPIs group or
/// compare by) are looked up as one 128-bit integer: by comparing with each while there are
/// a few, by hashing after that; longer ones by their bytes.
#[derive(Default)]
pub(super) struct Dictionary {
    short: Vec<(u128, u32)>,
    short_index: HashMap<u128, u32, foldhash::fast::RandomState>,
    long_index: HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>,
    values: Vec<Box<str>>,
}

/// Up to 15 bytes and their length, as one integer (`None` for longer values). Built in
/// registers: copying into an array and reading it back stalls on store forwarding.
#[inline]
fn short_key(cell: &[u8]) -> Option<u128> {
    if cell.len() >= 16 {
        return None;
    }
    let mut key = (cell.len() as u128) << 120;
    for (i, &b) in cell.iter().enumerate() {
        key |= u128::from(b) << (8 * i);
    }
    Some(key)
}

fn bad_value() -> Fallback {
    Fallback("a value does not parse".into())
}

impl Builder {
    pub(super) fn new(ty: ColumnType, capacity: usize) -> Builder {
        let num = |f| Builder::Num(Vec::with_capacity(capacity), f);
        match ty {
            // Int and number are stored alike; an int column only refuses what f64 cannot
            // hold exactly (the careful reader's rule), so those go back to it.
            ColumnType::Int => {
                num(|b| number_bytes(b).ok().filter(|x| x.abs() <= 9_007_199_254_740_992.0))
            }
            ColumnType::Number => num(|b| number_bytes(b).ok()),
            ColumnType::Time => num(time_bytes),
            ColumnType::Date => num(date_bytes),
            ColumnType::Duration => num(duration_bytes),
            ColumnType::Bool => Builder::Bool(Vec::with_capacity(capacity)),
            ColumnType::Text => Builder::Text(Vec::with_capacity(capacity), Dictionary::default()),
        }
    }

    /// Adds one cell (quotes already removed).
    #[inline]
    pub(super) fn push(&mut self, cell: &[u8]) -> Result<(), Fallback> {
        match self {
            Builder::Num(v, parse) => v.push(number(cell, *parse)?),
            Builder::Bool(v) => v.push(boolean(cell)?),
            Builder::Text(codes, dict) => codes.push(dict.code(cell)?),
        }
        Ok(())
    }

    /// Adds field `field` of records `rows` of an indexed block: one loop per column type.
    pub(super) fn fill(
        &mut self,
        index: &Index,
        block: &[u8],
        field: usize,
        rows: Range<usize>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), Fallback> {
        match self {
            Builder::Num(v, parse) => {
                let parse = *parse;
                index.cells(block, field, rows, scratch, |cell| {
                    number(cell, parse).map(|x| v.push(x))
                })
            }
            Builder::Bool(v) => {
                index.cells(block, field, rows, scratch, |cell| boolean(cell).map(|x| v.push(x)))
            }
            Builder::Text(codes, dict) => index
                .cells(block, field, rows, scratch, |cell| dict.code(cell).map(|c| codes.push(c))),
        }
    }

    pub(super) fn finish(self) -> ColumnData {
        match self {
            Builder::Num(v, _) => ColumnData::Num(v),
            Builder::Bool(v) => ColumnData::Bool(v),
            Builder::Text(codes, dict) => ColumnData::Text { codes, dict: dict.values },
        }
    }
}

/// An empty cell is null (NaN); `+ 0.0` turns -0 into 0, as the careful reader's integer
/// parse does.
#[inline]
fn number(cell: &[u8], parse: fn(&[u8]) -> Option<f64>) -> Result<f64, Fallback> {
    if cell.is_empty() {
        return Ok(f64::NAN);
    }
    Ok(fast_number(cell).or_else(|| parse(cell)).ok_or_else(bad_value)? + 0.0)
}

/// 1 true, 0 false, 2 null.
#[inline]
fn boolean(cell: &[u8]) -> Result<u8, Fallback> {
    // Fixed-size arrays compare as integers; slices would call `memcmp`.
    if cell.is_empty() {
        Ok(2)
    } else if <[u8; 4]>::try_from(cell).is_ok_and(|w| w == *b"true") {
        Ok(1)
    } else if <[u8; 5]>::try_from(cell).is_ok_and(|w| w == *b"false") {
        Ok(0)
    } else {
        Ok(u8::from(bool_bytes(cell, true).ok_or_else(bad_value)?))
    }
}

impl Dictionary {
    /// Lookups by comparison up to this many short values, by hash beyond.
    const FEW: usize = 8;

    /// The code of `cell` (`u32::MAX` for an empty cell, which is null).
    #[inline]
    fn code(&mut self, cell: &[u8]) -> Result<u32, Fallback> {
        if cell.is_empty() {
            return Ok(u32::MAX);
        }
        let key = short_key(cell);
        let found = match key {
            Some(k) if self.short_index.is_empty() => {
                self.short.iter().find(|(s, _)| *s == k).map(|&(_, c)| c)
            }
            Some(k) => self.short_index.get(&k).copied(),
            None => self.long_index.get(cell).copied(),
        };
        if let Some(c) = found {
            return Ok(c);
        }
        let s = std::str::from_utf8(cell).map_err(|_| Fallback("invalid UTF-8".into()))?;
        let c = u32::try_from(self.values.len()).map_err(|_| bad_value())?;
        self.values.push(s.into());
        match key {
            Some(k) if self.short.len() < Self::FEW => self.short.push((k, c)),
            Some(k) => {
                self.short_index.extend(self.short.drain(..));
                self.short_index.insert(k, c);
            }
            None => {
                self.long_index.insert(cell.into(), c);
            }
        }
        Ok(c)
    }
}

/// Plain integers and short decimals (`42`, `-7`, `5.87`): exactly what the full parser
/// returns (an integer mantissa below 2^53 divided by an exact power of ten is correctly
/// rounded), found faster. Anything else returns `None` for the full parser to decide.
#[inline]
pub(super) fn fast_number(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] =
        [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mant: u64 = 0;
    let mut frac: Option<usize> = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => mant = mant * 10 + u64::from(c - b'0'),
            b'.' if frac.is_none() && i > 0 && i + 1 < digits.len() => {
                frac = Some(digits.len() - i - 1)
            }
            _ => return None,
        }
    }
    if mant >= 1 << 53 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let mut v = mant as f64;
    // Only when there is a fraction: a division takes longer than all the rest.
    if let Some(digits) = frac {
        v /= POW10[digits];
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_number_path_agrees_with_the_full_parser() {
        for s in [
            "0",
            "-0",
            "42",
            "-7",
            "5.87",
            "0.1",
            "123456789012345",
            "9007199254740991",
            "3.14159",
            "100.50",
        ] {
            assert_eq!(
                fast_number(s.as_bytes()).map(|x| (x + 0.0).to_bits()),
                number_bytes(s.as_bytes()).ok().map(f64::to_bits),
                "{s}"
            );
        }
        for s in ["1e3", ".5", "5.", "+1", "1_000", "", "-"] {
            assert_eq!(fast_number(s.as_bytes()), None, "{s}");
        }
    }
}

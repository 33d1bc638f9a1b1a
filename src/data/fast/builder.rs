//! Typed columns built from cells: numbers, booleans and dictionary-encoded text, with the
//! careful reader's rules (anything it would reject makes the fast path fall back).

use std::collections::HashMap;
use std::ops::Range;

use super::Fallback;
use super::index::{Cell, Index};
use crate::data::parse::{
    bool_bytes, date_bytes, duration_bytes, int_bytes, number_bytes, time_bytes,
};
use crate::data::{ColumnData, ColumnType};

pub(super) enum Builder {
    Num(Vec<f64>, NumberRule),
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

/// Up to 15 bytes and their length, as one integer (`None` for longer values): one load
/// when the block's bytes around the cell are at hand, else built byte by byte in
/// registers (copying into an array and reading it back stalls on store forwarding).
#[inline]
fn short_key(cell: &[u8], wide: Option<&[u8; 16]>) -> Option<u128> {
    if cell.len() >= 16 {
        return None;
    }
    let len = cell.len() as u128;
    let bytes = match wide {
        Some(w) => u128::from_le_bytes(*w) & ((1u128 << (8 * cell.len())) - 1),
        None => cell.iter().enumerate().fold(0u128, |key, (i, &b)| key | u128::from(b) << (8 * i)),
    };
    Some(bytes | len << 120)
}

/// How a numeric column's cells parse.
#[derive(Clone, Copy)]
pub(super) struct NumberRule {
    /// The careful reader's parser for the column's type.
    parse: fn(&[u8]) -> Option<f64>,
    /// Whether plain decimal numbers are values of the type (numbers and durations in
    /// seconds, not times or dates): only then are the faster number paths tried first.
    plain: bool,
    /// Whether only whole numbers are (int columns): after the short-integer path, the
    /// careful reader's parser decides, so `1.5`, `1e3` and `2^53 + 1` fall back to it.
    integer: bool,
}

fn bad_value() -> Fallback {
    Fallback("a value does not parse".into())
}

impl Builder {
    pub(super) fn new(ty: ColumnType, capacity: usize) -> Builder {
        let num = |parse, plain, integer| {
            Builder::Num(Vec::with_capacity(capacity), NumberRule { parse, plain, integer })
        };
        match ty {
            // Int and number are stored alike; an int column takes exactly what the careful
            // reader's integer parser takes (no fraction, no exponent, at most 2^53), and
            // anything else goes back to it, which reports the cell.
            ColumnType::Int => num(|b| int_bytes(b).ok(), true, true),
            ColumnType::Number => num(|b| number_bytes(b).ok(), true, false),
            ColumnType::Time => num(time_bytes, false, false),
            ColumnType::Date => num(date_bytes, false, false),
            ColumnType::Duration => num(duration_bytes, true, false),
            ColumnType::Bool => Builder::Bool(Vec::with_capacity(capacity)),
            ColumnType::Text => Builder::Text(Vec::with_capacity(capacity), Dictionary::default()),
        }
    }

    /// Adds one cell (quotes already removed).
    #[inline]
    pub(super) fn push(&mut self, cell: &[u8]) -> Result<(), Fallback> {
        match self {
            Builder::Num(v, rule) => v.push(number(Cell { bytes: cell, wide: None }, *rule)?),
            Builder::Bool(v) => v.push(boolean(cell)?),
            Builder::Text(codes, dict) => codes.push(dict.code(Cell { bytes: cell, wide: None })?),
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
            Builder::Num(v, rule) => {
                let rule = *rule;
                index.cells(block, field, rows, scratch, |cell| {
                    number(cell, rule).map(|x| v.push(x))
                })
            }
            Builder::Bool(v) => index
                .cells(block, field, rows, scratch, |cell| boolean(cell.bytes).map(|x| v.push(x))),
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
fn number(cell: Cell<'_>, rule: NumberRule) -> Result<f64, Fallback> {
    let bytes = cell.bytes;
    if bytes.is_empty() {
        return Ok(f64::NAN);
    }
    if !rule.plain {
        return (rule.parse)(bytes).ok_or_else(bad_value);
    }
    if let Some(x) = cell.wide.and_then(|w| short_integer(w, bytes.len())) {
        return Ok(x);
    }
    if rule.integer {
        return (rule.parse)(bytes).ok_or_else(bad_value);
    }
    Ok(fast_number(bytes).or_else(|| (rule.parse)(bytes)).ok_or_else(bad_value)? + 0.0)
}

/// The first `len` bytes of `wide` as an integer, when `len` is 1 to 8 and they are all
/// digits: eight digits checked and combined at once in one 64-bit word (the technique of
/// simdjson's number parser), with no branch per digit.
#[inline]
fn short_integer(wide: &[u8; 16], len: usize) -> Option<f64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    if !(1..=8).contains(&len) {
        return None;
    }
    let [a, b, c, d, e, f, g, h, ..] = *wide;
    let word = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
    // The digits move to the top bytes (the last digit in the top one), the bytes below
    // them become leading '0's.
    let shift = 8 * (8 - len as u32);
    let x = word.checked_shl(shift).unwrap_or(0) | (ZEROS & ((1u64 << shift) - 1));
    let all_digits =
        (x & 0xF0F0_F0F0_F0F0_F0F0) | (((x + 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4);
    if all_digits != 0x3333_3333_3333_3333 {
        return None;
    }
    // Pairs, then quadruples, then all eight (the products overflow on purpose: the
    // wanted sum sits in bits 32..64).
    let mut v = x - ZEROS;
    v = v * 10 + (v >> 8);
    v = (v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    #[allow(clippy::cast_precision_loss)]
    Some(v as f64)
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
    fn code(&mut self, cell: Cell<'_>) -> Result<u32, Fallback> {
        let Cell { bytes: cell, wide } = cell;
        if cell.is_empty() {
            return Ok(u32::MAX);
        }
        let key = short_key(cell, wide);
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
            Some(k) if self.short_index.is_empty() && self.short.len() < Self::FEW => {
                self.short.push((k, c));
            }
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

    /// The one-load integer path agrees with the byte-by-byte one on every length and on
    /// the bytes just outside the digits, whatever follows the cell in the block.
    #[test]
    fn short_integers_read_in_one_load_agree_with_the_digit_loop() {
        let rule = NumberRule { parse: |_| None, plain: true, integer: false };
        let cells = [
            "0",
            "7",
            "42",
            "007",
            "99999999",
            "12345678",
            "10000000",
            "1234567",
            "1/2",
            "1:2",
            "12a",
            "-5",
            "1.5",
            " 1",
            "9\u{ff}",
            "123456789",
        ];
        for cell in cells {
            for after in [",", "9,999999999999", "\n", "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\""] {
                let mut window = [b'x'; 16];
                let text = format!("{cell}{after}");
                let n = text.len().min(16);
                window[..n].copy_from_slice(&text.as_bytes()[..n]);
                let expected = fast_number(cell.as_bytes())
                    .filter(|_| cell.len() <= 8 && cell.bytes().all(|b| b.is_ascii_digit()));
                assert_eq!(short_integer(&window, cell.len()), expected, "{cell:?} then {after:?}");
                let wide = Cell { bytes: cell.as_bytes(), wide: Some(&window) };
                let narrow = Cell { bytes: cell.as_bytes(), wide: None };
                assert_eq!(
                    number(wide, rule).ok().map(f64::to_bits),
                    number(narrow, rule).ok().map(f64::to_bits),
                    "{cell:?}"
                );
                assert_eq!(
                    short_key(cell.as_bytes(), Some(&window)),
                    short_key(cell.as_bytes(), None),
                    "{cell:?}"
                );
            }
        }
        assert_ne!(short_key(b"a", None), short_key(b"a\0", None), "the length is part of the key");
    }

    /// Equal text gets equal codes and the dictionary holds each value once, with a few
    /// values (compared one by one) and with many (hashed), short and long.
    #[test]
    fn a_dictionary_holds_each_value_once() {
        for distinct in [3, 40] {
            let mut b = Builder::new(ColumnType::Text, 0);
            let values: Vec<String> = (0..distinct)
                .map(|i| if i % 2 == 0 { format!("v{i}") } else { format!("a-long-value-{i:020}") })
                .collect();
            for _ in 0..3 {
                for v in &values {
                    b.push(v.as_bytes()).unwrap();
                }
                b.push(b"").unwrap();
            }
            let ColumnData::Text { codes, dict } = b.finish() else { panic!("a text column") };
            assert_eq!(dict.len(), distinct, "one entry per distinct value");
            let per_round = distinct + 1;
            assert_eq!(codes[..per_round], codes[per_round..2 * per_round], "same codes again");
            assert_eq!(codes[distinct], u32::MAX, "empty is null");
            let decoded: Vec<&str> =
                codes[..distinct].iter().map(|&c| &*dict[c as usize]).collect();
            assert_eq!(decoded, values.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

//! The general scanner: stops at every delimiter, line break and quote, so it can handle
//! what the structural index leaves out (blank lines) and say what is wrong with a block
//! that is not a plain grid.

use super::builder::Builder;
use super::{Fallback, Layout};

/// Positions of three byte values in a buffer, in order: eight bytes at a time with
/// word-wide arithmetic ("SWAR"), then one bit per match. Dense matches (a delimiter
/// every few bytes) are where this beats a call per match.
struct Specials<'a> {
    bytes: &'a [u8],
    /// Start of the word `mask` describes.
    at: usize,
    /// High bit of each matching byte of the current word.
    mask: u64,
    splat: [u64; 3],
}

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH: u64 = 0x8080_8080_8080_8080;

impl<'a> Specials<'a> {
    fn new(bytes: &'a [u8], targets: [u8; 3]) -> Specials<'a> {
        let splat = targets.map(|t| u64::from(t) * 0x0101_0101_0101_0101);
        let mut s = Specials { bytes, at: 0, mask: 0, splat };
        s.mask = s.word_mask(0);
        s
    }

    /// High bits of the bytes of the word at `at` equal to any target (exact: no false
    /// positives from borrows).
    #[inline]
    fn word_mask(&self, at: usize) -> u64 {
        let end = (at + 8).min(self.bytes.len());
        if at >= end {
            return 0;
        }
        let x = match self.bytes.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            Some(w) => u64::from_le_bytes(w),
            None => {
                let mut word = [0u8; 8];
                word[..end - at].copy_from_slice(&self.bytes[at..end]);
                u64::from_le_bytes(word)
            }
        };
        let mut found = 0;
        for s in self.splat {
            let y = x ^ s;
            found |= !(((y & LOW7) + LOW7) | y) & HIGH;
        }
        // Padding bytes past the end are zeros; they must not match a zero target.
        if end - at < 8 {
            found &= (1u64 << ((end - at) * 8)) - 1;
        }
        found
    }
}

impl Iterator for Specials<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.at += 8;
            if self.at >= self.bytes.len() {
                return None;
            }
            self.mask = self.word_mask(self.at);
        }
        let bit = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.at + bit / 8)
    }
}

/// Parses a block of whole records (the header already removed, no lone `\r`) into
/// `builders`, one per wanted column; returns the number of records.
///
/// The separators are found eight bytes at a time ([`Specials`]); quoted fields are rare
/// and take a slower path.
pub(super) fn scan(
    block: &[u8],
    layout: &Layout,
    builders: &mut [Builder],
) -> Result<usize, Fallback> {
    let d = layout.delimiter;
    let crlf = memchr::memchr(b'\r', block).is_some();
    let mut scratch = Vec::new();
    let mut rows = 0usize;
    let mut field = 0usize;
    // Start of the current field; `None` right after a quoted field was consumed.
    let mut start = 0usize;
    let mut line_empty = true;
    let mut quoted: Option<usize> = None;
    let hits = Specials::new(block, [d, b'\n', b'"']);
    for p in hits {
        if p < start {
            continue;
        }
        let c = block[p];
        if c == b'"' {
            if p != start {
                return Err(Fallback("quote inside a field".into()));
            }
            // A quoted field: find its closing quote ("" is an escaped quote).
            scratch.clear();
            let mut i = p + 1;
            loop {
                let q = memchr::memchr(b'"', &block[i..])
                    .ok_or_else(|| Fallback("unclosed quote".into()))?;
                scratch.extend_from_slice(&block[i..i + q]);
                i += q + 1;
                if block.get(i) == Some(&b'"') {
                    scratch.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            match block.get(i) {
                None => {}
                Some(&x) if x == d || x == b'\n' || x == b'\r' => {}
                Some(_) => return Err(Fallback("text after a closing quote".into())),
            }
            quoted = Some(i);
            start = i;
            line_empty = false;
            continue;
        }
        // `c` ends a field: the delimiter or the end of the line.
        let end = if c == b'\n' && crlf && p > 0 && block[p - 1] == b'\r' { p - 1 } else { p };
        if c == b'\n' && line_empty && end == start && quoted.is_none() && field == 0 {
            // A blank line is not a record.
            start = p + 1;
            continue;
        }
        let cell: &[u8] = if quoted.take().is_some() { &scratch } else { &block[start..end] };
        if let Some(Some(slot)) = layout.slots.get(field) {
            builders[*slot].push(cell)?;
        }
        field += 1;
        start = p + 1;
        line_empty = false;
        if c == b'\n' {
            if field != layout.width {
                return Err(Fallback("ragged row".into()));
            }
            rows += 1;
            field = 0;
            line_empty = true;
        }
    }
    // The last record may lack its line break.
    if start < block.len() || quoted.is_some() || field > 0 {
        let tail_end = if block.ends_with(b"\r") { block.len() - 1 } else { block.len() };
        if !(field == 0 && quoted.is_none() && block[start..tail_end].is_empty()) {
            let cell: &[u8] =
                if quoted.is_some() { &scratch } else { &block[start..tail_end.max(start)] };
            if let Some(Some(slot)) = layout.slots.get(field) {
                builders[*slot].push(cell)?;
            }
            if field + 1 != layout.width {
                return Err(Fallback("ragged row".into()));
            }
            rows += 1;
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_finds_every_match_in_order() {
        let text = b"a,b\"c\nddddddddddddddd,\n\"x,";
        let found: Vec<usize> = Specials::new(text, [b',', b'\n', b'"']).collect();
        let expected: Vec<usize> = text
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, b',' | b'\n' | b'"'))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(found, expected);
        let zeros = [0u8, 1, 0];
        assert_eq!(Specials::new(&zeros, [0, 9, 9]).collect::<Vec<_>>(), [0, 2]);
    }

    #[test]
    fn a_last_record_without_a_line_break_must_still_be_whole() {
        let want = [("b".to_string(), crate::data::ColumnType::Int)];
        let (layout, _) = Layout::from_header(b"a,b\n", b',', &want).unwrap();
        let rows = |block: &[u8]| {
            let mut builders: Vec<Builder> =
                layout.columns.iter().map(|(_, ty)| Builder::new(*ty, 4)).collect();
            scan(block, &layout, &mut builders).map_err(|f| f.0)
        };
        assert_eq!(rows(b"x,1\n\ny,2"), Ok(2));
        assert_eq!(rows(b"x,1\n\n\"y\",2\r"), Ok(2));
        assert_eq!(rows(b"x,1\n\ny"), Err("ragged row".into()));
        assert_eq!(rows(b"x,1\n\ny,2,3"), Err("ragged row".into()));
    }
}

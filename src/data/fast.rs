//! The fast path for reading CSV files that are already known to be well formed: split
//! the byte stream into blocks at record boundaries (so blocks can be parsed on several
//! threads), and parse only the wanted columns of each block.
//!
//! It never reports errors itself. Anything unusual — a ragged row, a value that does
//! not parse as its column's type, invalid UTF-8, a quote that never closes, a record
//! over the size limit — makes it give up with [`Fallback`], and the caller reads the
//! file with [`super::load_csv`], which reports the problem with its exact position.
//! So the fast path changes how quickly results arrive, never what they are.

use std::collections::HashMap;
use std::io::Read;

use super::parse::{bool_bytes, date_bytes, duration_bytes, number_bytes, time_bytes};
use super::{Column, ColumnData, ColumnType, LoadReport, Table};

/// The fast path cannot handle this input; use the careful reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback(pub String);

/// Bytes per block handed to a worker.
pub const BLOCK_BYTES: usize = 4 << 20;

/// Splits a CSV stream into blocks of whole records (quote-aware). The first block
/// starts with the header.
pub struct Blocks<R> {
    inner: R,
    carry: Vec<u8>,
    max_record: usize,
    block_bytes: usize,
    done: bool,
    first: bool,
    /// Buffers handed back by the block's consumers, reused instead of allocated.
    pool: Option<Pool>,
}

/// Block buffers to reuse: fresh 4 MiB allocations each cost page faults.
pub type Pool = std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>;

impl<R: Read> Blocks<R> {
    pub fn new(inner: R, max_record: usize) -> Blocks<R> {
        Blocks {
            inner,
            carry: Vec::new(),
            max_record,
            block_bytes: BLOCK_BYTES,
            done: false,
            first: true,
            pool: None,
        }
    }

    /// Smaller blocks (tests use a few bytes, to split records in every possible place).
    #[must_use]
    pub fn with_block_size(mut self, bytes: usize) -> Blocks<R> {
        self.block_bytes = bytes.max(1);
        self
    }

    /// Takes buffers from `pool` when it has any (consumers put blocks back when done).
    #[must_use]
    pub fn with_pool(mut self, pool: Pool) -> Blocks<R> {
        self.pool = Some(pool);
        self
    }
}

impl<R: Read> Iterator for Blocks<R> {
    type Item = Result<Vec<u8>, Fallback>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let recycled = self.pool.as_ref().and_then(|p| p.lock().ok().and_then(|mut v| v.pop()));
        let mut buf = recycled.unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let start = buf.len();
        // `take` + `read_to_end` fills spare capacity without zeroing it first.
        let wanted = self.block_bytes as u64;
        let read = (&mut self.inner).take(wanted).read_to_end(&mut buf);
        if let Err(e) = read {
            self.done = true;
            return Some(Err(Fallback(format!("read error: {e}"))));
        }
        let filled = buf.len();
        let eof = filled < start + self.block_bytes;
        if self.first {
            self.first = false;
            if buf.starts_with(b"\xEF\xBB\xBF") {
                buf.drain(..3);
            }
        }
        if eof {
            self.done = true;
            if buf.is_empty() {
                return None;
            }
            // The file must end outside quotes.
            return Some(match last_boundary(&buf) {
                Some((_, in_quotes)) if in_quotes => Err(Fallback("unclosed quote".into())),
                None if quote_open(&buf) => Err(Fallback("unclosed quote".into())),
                _ => Ok(buf),
            });
        }
        match last_boundary(&buf) {
            Some((end, _)) => {
                self.carry.extend_from_slice(&buf[end..]);
                if self.carry.len() > self.max_record {
                    self.done = true;
                    return Some(Err(Fallback("record over the size limit".into())));
                }
                buf.truncate(end);
                Some(Ok(buf))
            }
            None => {
                self.done = true;
                Some(Err(Fallback("record over the block size".into())))
            }
        }
    }
}

/// The end (exclusive) of the last line break outside quotes, and whether the bytes
/// after it are inside quotes.
fn last_boundary(b: &[u8]) -> Option<(usize, bool)> {
    let mut in_quotes = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', b) {
        match b[i] {
            b'"' => in_quotes = !in_quotes,
            _ if !in_quotes => last = Some(i + 1),
            _ => {}
        }
    }
    last.map(|end| (end, b[end..].iter().filter(|&&c| c == b'"').count() % 2 == 1))
}

fn quote_open(b: &[u8]) -> bool {
    memchr::memchr_iter(b'"', b).count() % 2 == 1
}

/// Which header columns to read, and as what.
#[derive(Debug, Clone)]
pub struct Layout {
    pub delimiter: u8,
    /// Number of fields per record.
    pub width: usize,
    /// For each field position, the output slot (index into `columns`).
    pub slots: Vec<Option<usize>>,
    pub columns: Vec<(String, ColumnType)>,
    /// Bytes per record in the first block, to size each block's columns.
    pub row_bytes: usize,
}

impl Layout {
    /// Reads the header from the start of the first block; returns the layout and the
    /// offset where data starts.
    pub fn from_header(
        block: &[u8],
        delimiter: u8,
        wanted: &[(String, ColumnType)],
    ) -> Result<(Layout, usize), Fallback> {
        let end = memchr::memchr2(b'\n', b'\r', block)
            .ok_or_else(|| Fallback("no header line".into()))?;
        let line = &block[..end];
        if line.contains(&b'"') {
            return Err(Fallback("quoted header".into()));
        }
        let text = std::str::from_utf8(line).map_err(|_| Fallback("header not UTF-8".into()))?;
        let names: Vec<&str> = text.split(char::from(delimiter)).map(str::trim).collect();
        let mut slots = vec![None; names.len()];
        for (slot, (name, _)) in wanted.iter().enumerate() {
            let mut found = names.iter().enumerate().filter(|(_, n)| **n == name);
            match (found.next(), found.next()) {
                (Some((i, _)), None) => slots[i] = Some(slot),
                _ => return Err(Fallback(format!("column `{name}` missing or repeated"))),
            }
        }
        let mut data = end + 1;
        if block[end] == b'\r' && block.get(end + 1) == Some(&b'\n') {
            data += 1;
        }
        let sample = &block[data.min(block.len())..];
        let records = memchr::memchr_iter(b'\n', sample).count().max(1);
        let row_bytes = (sample.len() / records).max(8);
        Ok((
            Layout { delimiter, width: names.len(), slots, columns: wanted.to_vec(), row_bytes },
            data,
        ))
    }
}

enum Builder {
    Num(Vec<f64>, fn(&[u8]) -> Option<f64>),
    Bool(Vec<u8>),
    Text(Vec<u32>, HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>, Vec<Box<str>>),
}

impl Builder {
    fn new(ty: ColumnType, capacity: usize) -> Builder {
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
            ColumnType::Text => {
                Builder::Text(Vec::with_capacity(capacity), HashMap::default(), Vec::new())
            }
        }
    }

    #[inline]
    fn push(&mut self, cell: &[u8]) -> Result<(), Fallback> {
        let bad = || Fallback("a value does not parse".into());
        match self {
            Builder::Num(v, parse) => v.push(if cell.is_empty() {
                f64::NAN
            } else {
                // `+ 0.0` turns -0 into 0, as the careful reader's integer parse does.
                fast_number(cell).or_else(|| parse(cell)).ok_or_else(bad)? + 0.0
            }),
            Builder::Bool(v) => v.push(match cell {
                b"" => 2,
                b"true" => 1,
                b"false" => 0,
                _ => u8::from(bool_bytes(cell, true).ok_or_else(bad)?),
            }),
            Builder::Text(codes, index, dict) => {
                // Most text columns that KPIs read (site, queue, channel) have a handful of
                // values: comparing with each beats hashing.
                let small = dict.len() <= 8;
                if cell.is_empty() {
                    codes.push(u32::MAX);
                } else if let Some(c) =
                    small.then(|| dict.iter().position(|d| d.as_bytes() == cell)).flatten()
                {
                    codes.push(u32::try_from(c).unwrap_or(u32::MAX));
                } else if let Some(&c) = (!small).then(|| index.get(cell)).flatten() {
                    codes.push(c);
                } else {
                    let s =
                        std::str::from_utf8(cell).map_err(|_| Fallback("invalid UTF-8".into()))?;
                    let c = u32::try_from(dict.len()).map_err(|_| bad())?;
                    dict.push(s.into());
                    index.insert(cell.into(), c);
                    codes.push(c);
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Num(v, _) => ColumnData::Num(v),
            Builder::Bool(v) => ColumnData::Bool(v),
            Builder::Text(codes, _, dict) => ColumnData::Text { codes, dict },
        }
    }
}

/// Plain integers and short decimals (`42`, `-7`, `5.87`): exactly what the full parser
/// returns (an integer mantissa below 2^53 divided by an exact power of ten is correctly
/// rounded), found faster. Anything else returns `None` for the full parser to decide.
#[inline]
fn fast_number(b: &[u8]) -> Option<f64> {
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
    let v = mant as f64 / POW10[frac.unwrap_or(0)];
    Some(if neg { -v } else { v })
}

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

/// Parses one block of whole records (the header already removed) into the layout's
/// columns.
///
/// The separators are found with a vectorised search for the delimiter, `\n` and `"`
/// together, so the per-byte work is done in wide registers; quoted fields are rare and
/// take a slower path. `\r` is only accepted as part of `\r\n` (lone CR files go to the
/// careful reader).
pub fn parse_block(block: &[u8], layout: &Layout) -> Result<Table, Fallback> {
    // Sized from the first block's record length, with a little room: too small costs
    // reallocations, too large costs memory (and page faults) on every block.
    let estimate = block.len() / layout.row_bytes * 9 / 8 + 16;
    let mut builders: Vec<Builder> =
        layout.columns.iter().map(|(_, ty)| Builder::new(*ty, estimate)).collect();
    let d = layout.delimiter;
    let crlf = memchr::memchr(b'\r', block).is_some();
    if crlf && memchr::memchr_iter(b'\r', block).any(|i| block.get(i + 1) != Some(&b'\n')) {
        return Err(Fallback("a lone carriage return".into()));
    }
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
    let columns = layout
        .columns
        .iter()
        .zip(builders)
        .map(|((name, ty), b)| Column { name: name.clone(), ty: *ty, data: b.finish() })
        .collect();
    let report = LoadReport {
        records_read: rows as u64,
        skipped: 0,
        first_errors: Vec::new(),
        inferred: Vec::new(),
        untyped: Vec::new(),
    };
    Ok(Table { columns, rows, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(cols: &[(&str, ColumnType)]) -> Vec<(String, ColumnType)> {
        cols.iter().map(|(n, t)| ((*n).to_string(), *t)).collect()
    }

    #[test]
    fn blocks_end_at_record_boundaries_outside_quotes() {
        let text = "a,b\n1,\"x\ny\"\n2,z\n";
        let blocks: Vec<_> =
            Blocks::new(text.as_bytes(), 1 << 20).collect::<Result<_, _>>().unwrap();
        assert_eq!(blocks.concat(), text.as_bytes());
        assert_eq!(last_boundary(b"1,\"x\ny"), None, "the only line break is inside quotes");
    }

    #[test]
    fn parses_wanted_columns_with_quotes_crlf_and_blank_lines() {
        let text = b"id,note,wait\r\n1,\"a, \"\"b\"\"\",5.5\r\n\r\n2,,\r\n";
        let want = wanted(&[("wait", ColumnType::Number), ("note", ColumnType::Text)]);
        let (layout, start) = Layout::from_header(text, b',', &want).unwrap();
        let t = parse_block(&text[start..], &layout).unwrap();
        assert_eq!(t.rows, 2);
        match &t.columns[0].data {
            ColumnData::Num(v) => assert!(v[0] == 5.5 && v[1].is_nan()),
            other => panic!("{other:?}"),
        }
        match &t.columns[1].data {
            ColumnData::Text { codes, dict } => {
                assert_eq!(&*dict[codes[0] as usize], "a, \"b\"");
                assert_eq!(codes[1], u32::MAX);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn anything_unusual_falls_back() {
        let want = wanted(&[("a", ColumnType::Int)]);
        let (layout, _) = Layout::from_header(b"a,b\n", b',', &want).unwrap();
        assert!(parse_block(b"1\n", &layout).is_err(), "ragged");
        assert!(parse_block(b"x,1\n", &layout).is_err(), "not a number");
        assert!(parse_block(b"nan,1\n", &layout).is_err(), "non-finite");
        assert!(parse_block(b"1,\"open\n", &layout).is_err(), "unclosed quote");
        assert!(
            Blocks::new(&b"a,b\n1,\"2\n3,4\n"[..], 1 << 20).any(|b| b.is_err()),
            "unclosed quote at the end"
        );
    }

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

    /// The fast path agrees with the careful reader on every input it accepts:
    /// thousands of generated files with quotes, CRLF, blank lines, empty cells and
    /// a missing final line break.
    #[test]
    fn agrees_with_the_careful_reader_whenever_it_accepts() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let cells: [&str; 12] = [
            "",
            "1",
            "-2.5",
            "007",
            "x",
            "a b",
            "\"q,\"",
            "\"\"\"\"",
            "\"l1\nl2\"",
            "true",
            "é",
            "12345678901",
        ];
        let mut accepted = 0;
        for _ in 0..3000 {
            let mut text = String::from("n,t,b\n");
            let eol = if next() % 3 == 0 { "\r\n" } else { "\n" };
            let rows = next() % 6;
            for r in 0..rows {
                if next() % 7 == 0 {
                    text.push_str(eol);
                }
                let num = ["", "1", "-2.5", "007", "3.25", "x"][(next() % 6) as usize];
                let txt = cells[(next() % 12) as usize];
                let b = ["", "true", "false", "yes", "0"][(next() % 5) as usize];
                text.push_str(&format!("{num},{txt},{b}"));
                if r + 1 < rows || next() % 2 == 0 {
                    text.push_str(eol);
                }
            }
            let want = wanted(&[
                ("n", ColumnType::Number),
                ("t", ColumnType::Text),
                ("b", ColumnType::Bool),
            ]);
            let opts = crate::data::LoadOptions {
                columns: Some(want.iter().map(|(n, _)| n.clone()).collect()),
                declared: want.clone(),
                ..Default::default()
            };
            let careful = crate::data::load_csv(text.as_bytes(), "t.csv", &opts);
            let block = 8 + (next() % 40) as usize;
            let fast = Blocks::new(text.as_bytes(), 1 << 20)
                .with_block_size(block)
                .collect::<Result<Vec<_>, _>>()
                .and_then(|blocks| {
                    let (layout, start) = Layout::from_header(&blocks[0], b',', &want)?;
                    let mut parts = vec![parse_block(&blocks[0][start..], &layout)?];
                    for b in &blocks[1..] {
                        parts.push(parse_block(b, &layout)?);
                    }
                    Ok(parts)
                });
            if let Ok(parts) = fast {
                accepted += 1;
                let c = careful.unwrap_or_else(|e| {
                    panic!("fast accepted what the careful reader rejects ({e}):\n{text:?}")
                });
                assert_eq!(parts.iter().map(|t| t.rows).sum::<usize>(), c.rows, "{text:?}");
                for (k, col) in c.columns.iter().enumerate() {
                    let fast_values: Vec<String> =
                        parts.iter().flat_map(|t| decoded(&t.columns[k].data)).collect();
                    assert_eq!(fast_values, decoded(&col.data), "{text:?} in blocks of {block}");
                }
            }
        }
        assert!(
            accepted > 500,
            "the fast path should accept most generated files, accepted {accepted}"
        );
    }

    fn decoded(d: &ColumnData) -> Vec<String> {
        match d {
            ColumnData::Num(v) => {
                v.iter().map(|x| if x.is_nan() { "null".into() } else { x.to_string() }).collect()
            }
            ColumnData::Bool(v) => v.iter().map(u8::to_string).collect(),
            ColumnData::Text { codes, dict } => codes
                .iter()
                .map(|&c| if c == u32::MAX { "null".into() } else { dict[c as usize].to_string() })
                .collect(),
        }
    }

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
}

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
    done: bool,
    first: bool,
}

impl<R: Read> Blocks<R> {
    pub fn new(inner: R, max_record: usize) -> Blocks<R> {
        Blocks { inner, carry: Vec::new(), max_record, done: false, first: true }
    }
}

impl<R: Read> Iterator for Blocks<R> {
    type Item = Result<Vec<u8>, Fallback>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = std::mem::take(&mut self.carry);
        let start = buf.len();
        buf.resize(start + BLOCK_BYTES, 0);
        let mut filled = start;
        loop {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(Fallback(format!("read error: {e}"))));
                }
            }
        }
        buf.truncate(filled);
        let eof = filled < start + BLOCK_BYTES;
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
                self.carry = buf[end..].to_vec();
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
    for i in memchr::memchr3_iter(b'"', b'\n', b'\r', b) {
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
        Ok((Layout { delimiter, width: names.len(), slots, columns: wanted.to_vec() }, data))
    }
}

enum Builder {
    Num(Vec<f64>, fn(&[u8]) -> Option<f64>),
    Bool(Vec<u8>),
    Text(Vec<u32>, HashMap<Box<[u8]>, u32>, Vec<Box<str>>),
}

impl Builder {
    fn new(ty: ColumnType, capacity: usize) -> Builder {
        let num = |f| Builder::Num(Vec::with_capacity(capacity), f);
        match ty {
            ColumnType::Int | ColumnType::Number => num(|b| number_bytes(b).ok()),
            ColumnType::Time => num(time_bytes),
            ColumnType::Date => num(date_bytes),
            ColumnType::Duration => num(duration_bytes),
            ColumnType::Bool => Builder::Bool(Vec::with_capacity(capacity)),
            ColumnType::Text => {
                Builder::Text(Vec::with_capacity(capacity), HashMap::new(), Vec::new())
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
                fast_number(cell).or_else(|| parse(cell)).ok_or_else(bad)?
            }),
            Builder::Bool(v) => v.push(if cell.is_empty() {
                2
            } else {
                u8::from(bool_bytes(cell, true).ok_or_else(bad)?)
            }),
            Builder::Text(codes, index, dict) => {
                if cell.is_empty() {
                    codes.push(u32::MAX);
                } else if let Some(&c) = index.get(cell) {
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

/// Parses one block of whole records (the header already removed) into the layout's
/// columns.
pub fn parse_block(block: &[u8], layout: &Layout) -> Result<Table, Fallback> {
    let estimate = block.len() / 64 + 16;
    let mut builders: Vec<Builder> =
        layout.columns.iter().map(|(_, ty)| Builder::new(*ty, estimate)).collect();
    let d = layout.delimiter;
    let mut special = [false; 256];
    for c in [d, b'\n', b'\r', b'"'] {
        special[c as usize] = true;
    }
    let mut scratch = Vec::new();
    let mut rows = 0usize;
    let mut i = 0;
    let n = block.len();
    while i < n {
        // Blank lines are not records.
        if block[i] == b'\n' || block[i] == b'\r' {
            i += 1;
            continue;
        }
        let mut field = 0;
        loop {
            let start = i;
            let cell: &[u8] = if block.get(i) == Some(&b'"') {
                scratch.clear();
                i += 1;
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
                if i < n && !matches!(block[i], b'\n' | b'\r') && block[i] != d {
                    return Err(Fallback("text after a closing quote".into()));
                }
                &scratch
            } else {
                while i < n && !special[block[i] as usize] {
                    i += 1;
                }
                if i < n && block[i] == b'"' {
                    return Err(Fallback("quote inside a field".into()));
                }
                &block[start..i]
            };
            if let Some(Some(slot)) = layout.slots.get(field) {
                builders[*slot].push(cell)?;
            }
            field += 1;
            if i < n && block[i] == d {
                i += 1;
                continue;
            }
            break;
        }
        if field != layout.width {
            return Err(Fallback("ragged row".into()));
        }
        if i < n && block[i] == b'\r' {
            i += 1;
        }
        if i < n && block[i] == b'\n' {
            i += 1;
        }
        rows += 1;
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
        assert_eq!(last_boundary(b"1,\"x\ny"), Some((0, false)).filter(|_| false).or(None));
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
                fast_number(s.as_bytes()).map(f64::to_bits),
                number_bytes(s.as_bytes()).ok().map(f64::to_bits),
                "{s}"
            );
        }
        for s in ["1e3", ".5", "5.", "+1", "1_000", "", "-"] {
            assert_eq!(fast_number(s.as_bytes()), None, "{s}");
        }
    }
}

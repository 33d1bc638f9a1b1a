//! The fast path for reading CSV files that are already known to be well formed: split
//! the byte stream into blocks at record boundaries (so blocks can be parsed on several
//! threads), and parse only the wanted columns of each block.
//!
//! It never reports errors itself. Anything unusual — a ragged row, a value that does
//! not parse as its column's type, invalid UTF-8, a quote that never closes, a record
//! over the size limit — makes it give up with [`Fallback`], and the caller reads the
//! file with [`super::load_csv`], which reports the problem with its exact position.
//! So the fast path changes how quickly results arrive, never what they are.

use std::io::Read;

use super::{Column, ColumnType, LoadReport, Table};
use builder::Builder;

mod builder;
mod general;
mod index;

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
///
/// A line break is outside quotes when an even number of quotes comes before it: the
/// quotes are counted once (a vectorised count), then the line breaks are tried from the
/// end, so only the block's last bytes are looked at one by one.
fn last_boundary(b: &[u8]) -> Option<(usize, bool)> {
    let total = count_quotes(b);
    let mut after = 0;
    let mut end = b.len();
    while let Some(i) = memchr::memrchr2(b'\n', b'"', &b[..end]) {
        end = i;
        if b[i] == b'"' {
            after += 1;
        } else if (total - after) % 2 == 0 {
            return Some((i + 1, after % 2 == 1));
        }
    }
    None
}

fn quote_open(b: &[u8]) -> bool {
    count_quotes(b) % 2 == 1
}

/// The number of `"` in `b`: per 255 bytes a byte-wide sum, which the compiler turns into
/// 16 or 32 bytes per instruction.
fn count_quotes(b: &[u8]) -> usize {
    b.chunks(255).map(|c| usize::from(c.iter().fold(0u8, |n, &x| n + u8::from(x == b'"')))).sum()
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

/// Parses one block of whole records (the header already removed) into the layout's
/// columns.
///
/// A plain grid (the usual case) is indexed first ([`index::Index`]) and then read a column
/// at a time, each with its own tight loop; anything else goes through the general scanner.
/// `\r` is only accepted as part of `\r\n` (lone CR files go to the careful reader).
pub fn parse_block(block: &[u8], layout: &Layout) -> Result<Table, Fallback> {
    if memchr::memchr_iter(b'\r', block).any(|i| block.get(i + 1) != Some(&b'\n')) {
        return Err(Fallback("a lone carriage return".into()));
    }
    // Sized from the first block's record length, with a little room: too small costs
    // reallocations, too large costs memory (and page faults) on every block.
    let estimate = block.len() / layout.row_bytes * 9 / 8 + 16;
    let mut builders: Vec<Builder> =
        layout.columns.iter().map(|(_, ty)| Builder::new(*ty, estimate)).collect();
    thread_local! {
        // The index of the thread's previous block: allocating (and faulting in) a fresh
        // megabyte for every block costs more than the scan itself.
        static ENDS: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let rows = match index::Index::build(block, layout.delimiter, layout.width, ENDS.take()) {
        Some(index) => {
            // A few hundred records at a time, so that each column's pass finds the text
            // and the index still in the core's cache.
            const STRIP: usize = 256;
            let mut scratch = Vec::new();
            for first in (0..index.rows()).step_by(STRIP) {
                let rows = first..(first + STRIP).min(index.rows());
                for (field, slot) in layout.slots.iter().enumerate() {
                    if let Some(slot) = slot {
                        builders[*slot].fill(&index, block, field, rows.clone(), &mut scratch)?;
                    }
                }
            }
            let rows = index.rows();
            ENDS.set(index.into_buffer());
            rows
        }
        None => general::scan(block, layout, &mut builders)?,
    };
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
        text_among_numbers: Vec::new(),
    };
    Ok(Table { columns, rows, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ColumnData;

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
        assert_eq!(last_boundary(b"1\n2,\"x\ny"), Some((2, true)));
        assert_eq!(last_boundary(b"\"a\nb\"\n\"c"), Some((6, true)));
        assert_eq!(last_boundary(b"\"a\nb\"\nc\"\"d"), Some((6, false)));
        let quotes = "\"".repeat(600);
        assert_eq!(count_quotes(quotes.as_bytes()), 600);
    }

    #[test]
    fn short_text_cells_keep_their_values_deep_into_a_block() {
        // Short cells are keyed by a 16-byte load at their start: far into the block too.
        let mut text = String::from("id,name,n\n");
        for i in 0..3000 {
            text.push_str(&format!("{i},v{},{}\n", i % 13, i % 7));
        }
        let want = wanted(&[("name", ColumnType::Text), ("n", ColumnType::Int)]);
        let (layout, start) = Layout::from_header(text.as_bytes(), b',', &want).unwrap();
        let t = parse_block(&text.as_bytes()[start..], &layout).unwrap();
        assert_eq!(t.rows, 3000);
        let ColumnData::Text { codes, dict } = &t.columns[0].data else { panic!("text") };
        for (i, &c) in codes.iter().enumerate() {
            assert_eq!(&*dict[c as usize], format!("v{}", i % 13), "row {i}");
        }
        assert_eq!(dict.len(), 13);
        let ColumnData::Num(n) = &t.columns[1].data else { panic!("numbers") };
        assert!(n.iter().enumerate().all(|(i, &x)| x == (i % 7) as f64));
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
        // An int column takes what the careful reader's integer parser takes, no more.
        assert!(parse_block(b"12345678,1\n-9007199254740992,1\n+7,1\n", &layout).is_ok());
        for not_int in ["1.5", "1.0", "1e0", "1e15", ".1e1", "1e-1", "9007199254740993"] {
            let row = format!("{not_int},1\n");
            assert!(parse_block(row.as_bytes(), &layout).is_err(), "{not_int} is not an int");
        }
        assert!(parse_block(b"1,\"open\n", &layout).is_err(), "unclosed quote");
        let want = wanted(&[("d", ColumnType::Date), ("t", ColumnType::Time)]);
        let (layout, _) = Layout::from_header(b"d,t\n", b',', &want).unwrap();
        assert!(parse_block(b"2026-01-05,2026-01-05T08:00:00Z\n", &layout).is_ok());
        assert!(parse_block(b"20260105,2026-01-05T08:00:00Z\n", &layout).is_err(), "not a date");
        assert!(parse_block(b"2026-01-05,12345\n", &layout).is_err(), "a number is not a time");
        assert!(
            Blocks::new(&b"a,b\n1,\"2\n3,4\n"[..], 1 << 20).any(|b| b.is_err()),
            "unclosed quote at the end"
        );
    }

    /// The fast path agrees with the careful reader on every input it accepts:
    /// thousands of generated files with quotes, CRLF, blank lines, empty cells and
    /// a missing final line break.
    #[test]
    fn agrees_with_the_careful_reader_whenever_it_accepts() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15_u64);
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
            let block = 8 + (next() % 40) as usize;
            accepted += usize::from(agree(&text, block));
        }
        assert!(
            accepted > 500,
            "the fast path should accept most generated files, accepted {accepted}"
        );
    }

    /// A seeded pseudo-random sequence (xorshift64).
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Reads `text` (columns `n`, `t`, `b`) with the fast path in blocks of `block` bytes
    /// and with the careful reader; when the fast path accepts it, both must give the same
    /// records. Returns whether the fast path accepted it.
    fn agree(text: &str, block: usize) -> bool {
        let want =
            wanted(&[("n", ColumnType::Number), ("t", ColumnType::Text), ("b", ColumnType::Bool)]);
        let opts = crate::data::LoadOptions {
            columns: Some(want.iter().map(|(n, _)| n.clone()).collect()),
            declared: want.clone(),
            ..Default::default()
        };
        let careful = crate::data::load_csv(text.as_bytes(), "t.csv", &opts);
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
        let parts = match fast {
            Ok(parts) => parts,
            Err(why) => {
                eprintln!("fast path declined: {why:?}");
                return false;
            }
        };
        let c = careful.unwrap_or_else(|e| {
            panic!("fast accepted what the careful reader rejects ({e}):\n{text:?}")
        });
        assert_eq!(parts.iter().map(|t| t.rows).sum::<usize>(), c.rows, "{text:?}");
        for (k, col) in c.columns.iter().enumerate() {
            let fast_values: Vec<String> =
                parts.iter().flat_map(|t| decoded(&t.columns[k].data)).collect();
            assert_eq!(fast_values, decoded(&col.data), "{text:?} in blocks of {block}");
        }
        true
    }

    /// Long blocks take the indexed path: records across 64-byte chunks, quoted fields
    /// with delimiters, escaped quotes and line breaks across chunk boundaries, more
    /// records than one strip, CRLF and LF, a dozen dictionary values and more.
    #[test]
    fn long_blocks_agree_with_the_careful_reader() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D_u64);
        for eol in ["\n", "\r\n"] {
            let mut text = String::from("n,t,b,rest\n");
            for _ in 0..2000 {
                let n = ["", "1", "-2.5", "007", "123.25", "-0", "1e3"][(next() % 7) as usize];
                let t = match next() % 6 {
                    0 => format!("v{}", next() % 12),
                    1 => format!(
                        "\"{},\"\"x\"\"\n{}\"",
                        "a".repeat((next() % 70) as usize),
                        next() % 3
                    ),
                    2 => String::new(),
                    3 => "a-value-longer-than-sixteen-bytes".to_string(),
                    _ => format!("agent{}", next() % 40),
                };
                let b = ["", "true", "false", "yes", "0"][(next() % 5) as usize];
                let rest = if next() % 2 == 0 { format!("\"r,{eol}r\"") } else { "r".into() };
                text.push_str(&format!("{n},{t},{b},{rest}{eol}"));
            }
            for block in [1 << 20, 4096, 700] {
                assert!(agree(&text, block), "the fast path should accept this file");
            }
        }
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
}

//! A `Read` adapter between the input and the csv reader that makes positions trustworthy.
//!
//! csv 1.4 miscounts lines after CRLF, lone CR and blank lines, and an unclosed quote makes it
//! swallow the rest of the input into one field without an error (RELIABILITY.md 2.2). So this
//! adapter keeps the raw bytes of the current record (and nothing older), counts line breaks
//! itself, and refuses to deliver more bytes once the record being read has grown past the size
//! cap, which bounds memory on `/dev/zero`-like inputs and turns an unclosed quote into an error.
//!
//! Positions are file byte offsets as reported by `csv::Position::byte()`. csv reports a record
//! as starting where the previous one ended, which may be inside a CRLF or before blank lines;
//! [`Tracked::record_start`] moves such a position to the record's first byte.

use std::io::{self, Read};

/// Counts line breaks in `b`: every `\n`, and every `\r` not followed by `\n` within `b` (a `\r`
/// at the very end counts). Callers only split the input at record or field starts, never
/// between the two bytes of a CRLF, so counting slices separately gives the same total.
pub(crate) fn count_breaks(b: &[u8]) -> u64 {
    let (lf, cr) = count_lf_cr(b);
    let crlf = if cr == 0 { 0 } else { b.windows(2).filter(|w| w == b"\r\n").count() };
    (lf + cr - crlf) as u64
}

/// Counts `\n` and `\r` bytes. Every byte of the input passes through here once, so it is
/// written for the vectoriser: per-lane `u8` counters, flushed before they can overflow.
fn count_lf_cr(b: &[u8]) -> (usize, usize) {
    const LANES: usize = 32;
    let (mut lf, mut cr) = (0usize, 0usize);
    let mut blocks = b.chunks_exact(LANES);
    let (mut acc_lf, mut acc_cr) = ([0u8; LANES], [0u8; LANES]);
    let mut rounds = 0;
    for block in &mut blocks {
        for ((l, c), &x) in acc_lf.iter_mut().zip(acc_cr.iter_mut()).zip(block) {
            *l += u8::from(x == b'\n');
            *c += u8::from(x == b'\r');
        }
        rounds += 1;
        if rounds == u8::MAX {
            lf += acc_lf.iter().map(|&n| usize::from(n)).sum::<usize>();
            cr += acc_cr.iter().map(|&n| usize::from(n)).sum::<usize>();
            (acc_lf, acc_cr, rounds) = ([0; LANES], [0; LANES], 0);
        }
    }
    lf += acc_lf.iter().map(|&n| usize::from(n)).sum::<usize>();
    cr += acc_cr.iter().map(|&n| usize::from(n)).sum::<usize>();
    for &x in blocks.remainder() {
        lf += usize::from(x == b'\n');
        cr += usize::from(x == b'\r');
    }
    (lf, cr)
}

/// The byte-level reading of csv-core's default dialect (quotes `"` doubled to escape, CR, LF or
/// CRLF ends a record), enough to locate fields and quotes again in raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// What [`scan_record`] found in the raw bytes of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Offsets (within the scanned slice) where each field starts.
    pub field_starts: Vec<usize>,
    /// Offset of the quote that opened a field which is still open at the end of the slice.
    pub open_quote: Option<usize>,
    /// A quoted field that spans line breaks and is followed by more text (`"… 12" wide`):
    /// the offsets of its opening quote and of that text. A lone `"` in a cell reads this
    /// way, the records up to the next quote swallowed into one field.
    pub reopened: Option<(usize, usize)>,
}

/// Walks one record from its first byte; stops at the record's terminator or the slice's end.
pub(crate) fn scan_record(b: &[u8], delim: u8) -> Scan {
    let mut state = Lex::FieldStart;
    let mut field_starts = vec![0];
    let mut opened = 0;
    let (mut quoted_break, mut reopened) = (false, None);
    for (i, &c) in b.iter().enumerate() {
        state = match (state, c) {
            (Lex::Quoted, b'"') => Lex::QuoteInQuoted,
            (Lex::Quoted, b'\r' | b'\n') => {
                quoted_break = true;
                Lex::Quoted
            }
            (Lex::Quoted, _) => Lex::Quoted,
            (Lex::QuoteInQuoted, b'"') => Lex::Quoted,
            (_, b'\r' | b'\n') => {
                return Scan { field_starts, open_quote: None, reopened };
            }
            (_, c) if c == delim => {
                field_starts.push(i + 1);
                Lex::FieldStart
            }
            (Lex::FieldStart, b'"') => {
                opened = i;
                quoted_break = false;
                Lex::Quoted
            }
            (Lex::QuoteInQuoted, _) => {
                if quoted_break && reopened.is_none() {
                    reopened = Some((opened, i));
                }
                Lex::Unquoted
            }
            _ => Lex::Unquoted,
        };
    }
    Scan { field_starts, open_quote: (state == Lex::Quoted).then_some(opened), reopened }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The adapter; see the module documentation.
pub(crate) struct Tracked<R> {
    inner: R,
    /// Raw bytes from file offset `base` to the end of what has been read.
    win: Vec<u8>,
    base: u64,
    /// Line breaks in `[0, base)`.
    base_breaks: u64,
    /// A memo for forward queries: line breaks in `[0, cursor)`, with `base <= cursor`.
    cursor: u64,
    cursor_breaks: u64,
    /// Bytes before this offset may be dropped.
    keep_from: u64,
    /// Where the record csv is reading right now began (for the size cap).
    progress: u64,
    max_record: u64,
    eof: bool,
    too_large: bool,
}

impl<R: Read> Tracked<R> {
    pub(crate) fn new(inner: R, max_record: usize) -> Self {
        Tracked {
            inner,
            win: Vec::new(),
            base: 0,
            base_breaks: 0,
            cursor: 0,
            cursor_breaks: 0,
            keep_from: 0,
            progress: 0,
            max_record: u64::try_from(max_record).unwrap_or(u64::MAX),
            eof: false,
            too_large: false,
        }
    }
}

impl<R> Tracked<R> {
    /// Offset one past the last byte read so far.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.win.len() as u64
    }

    /// Whether reading stopped because a record outgrew the size cap.
    pub(crate) fn too_large(&self) -> bool {
        self.too_large
    }

    /// Where the record being read began when the cap was hit (after blank lines).
    pub(crate) fn progress(&self) -> u64 {
        self.progress
    }

    fn idx(&self, pos: u64) -> usize {
        // Callers pass offsets inside the window; clamp rather than panic if one is not.
        usize::try_from(pos.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.win.len())
    }

    /// Raw bytes from `from` to `to` (clamped to what is held).
    pub(crate) fn held(&self, from: u64, to: u64) -> &[u8] {
        &self.win[self.idx(from)..self.idx(to).max(self.idx(from))]
    }

    /// Moves a csv position to the first byte of the record there: past a BOM at offset 0 and
    /// past the line breaks of the previous record's terminator and of blank lines.
    pub(crate) fn record_start(&self, pos: u64) -> u64 {
        let mut p = pos;
        if p == 0 && self.win.starts_with(BOM) && self.base == 0 {
            p = BOM.len() as u64;
        }
        let rest = &self.win[self.idx(p)..];
        p + rest.iter().take_while(|&&c| c == b'\r' || c == b'\n').count() as u64
    }

    /// 1-based line of the byte at `pos`, which must be a record or field start still held.
    pub(crate) fn line_at(&mut self, pos: u64) -> u64 {
        let pos = pos.clamp(self.base, self.end());
        let breaks = if pos >= self.cursor {
            let (from, to) = (self.idx(self.cursor), self.idx(pos));
            self.cursor_breaks += count_breaks(&self.win[from..to]);
            self.cursor = pos;
            self.cursor_breaks
        } else {
            self.base_breaks + count_breaks(&self.win[..self.idx(pos)])
        };
        breaks + 1
    }

    /// 1-based column, in characters, of the byte at `pos` on its line (a BOM is not counted).
    pub(crate) fn column_at(&self, pos: u64) -> u64 {
        let head = &self.win[..self.idx(pos)];
        let line_start = head.iter().rposition(|&c| c == b'\r' || c == b'\n').map_or(0, |i| i + 1);
        let mut line = &head[line_start..];
        if self.base == 0 && line_start == 0 && line.starts_with(BOM) {
            line = &line[BOM.len()..];
        }
        1 + line.iter().filter(|&&c| c & 0xC0 != 0x80).count() as u64
    }

    /// Declares that a record starting at `start` (see [`Tracked::record_start`]) was read and
    /// the next one begins at csv offset `next`: bytes before `start` are no longer needed.
    pub(crate) fn record_read(&mut self, start: u64, next: u64) {
        self.keep_from = start.max(self.keep_from);
        self.progress = next;
    }

    /// Drops the bytes before `keep_from` once they make up at least half of the window, so
    /// the copying stays linear in the input size.
    fn compact(&mut self) {
        let drop = self.idx(self.keep_from);
        if drop == 0 || drop < self.win.len() / 2 {
            return;
        }
        let keep = self.keep_from;
        let breaks = self.line_at(keep) - 1;
        self.win.drain(..drop);
        self.base = keep;
        self.base_breaks = breaks;
    }
}

impl<R: Read> Tracked<R> {
    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.compact();
        if self.end().saturating_sub(self.progress) > self.max_record {
            // Blank lines before a record are not part of it.
            self.progress = self.record_start(self.progress);
            if self.end().saturating_sub(self.progress) > self.max_record {
                self.too_large = true;
                return Err(io::Error::other("record exceeds the size limit"));
            }
        }
        // Never hold more than one byte past the cap, however large the caller's buffer.
        let room = (self.progress.saturating_add(self.max_record))
            .saturating_add(1)
            .saturating_sub(self.end());
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let mut n = self.read_inner(&mut buf[..want])?;
        // csv-core strips a BOM only if its first buffer holds all three bytes of it, and takes
        // a buffer that is nothing but the BOM for the end of the input: deliver one more.
        if self.end() == 0 {
            while n > 0 && n <= BOM.len() && n < want {
                let more = self.read_inner(&mut buf[n..want])?;
                if more == 0 {
                    break;
                }
                n += more;
            }
        }
        if n == 0 {
            self.eof = true;
        }
        self.win.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_lf_cr_is_exact_across_lane_blocks_and_counter_flushes() {
        let mut data = Vec::new();
        for i in 0..100_000u32 {
            data.push(match i % 7 {
                0 => b'\n',
                3 => b'\r',
                _ => b'x',
            });
        }
        for len in [0, 1, 31, 32, 33, 8160, 8161, 100_000] {
            let slice = &data[..len];
            let lf = slice.iter().filter(|&&c| c == b'\n').count();
            let cr = slice.iter().filter(|&&c| c == b'\r').count();
            assert_eq!(count_lf_cr(slice), (lf, cr), "len {len}");
        }
        // All newlines: every lane counter reaches its flush point.
        assert_eq!(count_lf_cr(&[b'\n'; 70_000]), (70_000, 0));
    }

    #[test]
    fn count_breaks_counts_lf_crlf_and_lone_cr_once_each() {
        assert_eq!(count_breaks(b"a\nb\r\nc\rd"), 3);
        assert_eq!(count_breaks(b"\r\n\r\n"), 2);
        assert_eq!(count_breaks(b"\r\r\n\n"), 3);
        assert_eq!(count_breaks(b"x\r"), 1);
        assert_eq!(count_breaks(b"no breaks"), 0);
    }

    #[test]
    fn scan_record_finds_fields_and_open_quotes() {
        let s = scan_record(b"1,\"a,b\",\"x\"\"y\",z\nnext", b',');
        assert_eq!(s.field_starts, vec![0, 2, 8, 15]);
        assert_eq!(s.open_quote, None);
        let s = scan_record(b"1,\"2\n3,4\n", b',');
        assert_eq!(s.field_starts, vec![0, 2]);
        assert_eq!(s.open_quote, Some(2));
        // A quote in the middle of a field is literal, as in csv-core.
        assert_eq!(scan_record(b"a\"b,c", b',').open_quote, None);
        // Closed by the very last byte.
        assert_eq!(scan_record(b"\"abc\"", b',').open_quote, None);
        assert_eq!(scan_record(b"a;\"b", b';').open_quote, Some(2));
    }

    /// `scan_record` must split fields exactly as csv-core does, or error lines point at the
    /// wrong field: compare both on every short string over a CSV-significant alphabet.
    #[test]
    fn scan_record_agrees_with_csv_core() {
        let alphabet = [b'a', b',', b'"', b'\n', b'\r'];
        let mut checked = 0;
        for len in 1..=6u32 {
            for mut code in 0..5usize.pow(len) {
                let mut input = Vec::new();
                for _ in 0..len {
                    input.push(alphabet[code % 5]);
                    code /= 5;
                }
                let start = input.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
                let body = &input[start..];
                if body.is_empty() {
                    continue;
                }
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .buffer_capacity(64)
                    .from_reader(&input[..]);
                let records: Vec<csv::ByteRecord> =
                    rdr.byte_records().collect::<Result<_, _>>().unwrap();
                let scan = scan_record(body, b',');
                assert_eq!(scan.field_starts.len(), records[0].len(), "{input:?}");
                if scan.open_quote.is_some() {
                    assert_eq!(records.len(), 1, "{input:?}");
                }
                checked += 1;
            }
        }
        assert!(checked > 15_000);
    }

    fn drain<R: Read>(t: &mut Tracked<R>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = t.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn lines_and_columns_of_held_bytes() {
        let data = b"\xEF\xBB\xBFh1,h2\r\n\r\nab,\"c\rd\"\nx,y";
        let mut t = Tracked::new(&data[..], 1 << 20);
        assert_eq!(drain(&mut t).unwrap(), data.to_vec());
        assert_eq!(t.record_start(0), 3);
        assert_eq!(t.column_at(3), 1);
        assert_eq!(t.line_at(3), 1);
        // csv reports the second record at offset 9, inside the header's CRLF.
        let second = t.record_start(9);
        assert_eq!(second, 12);
        assert_eq!(t.line_at(second), 3);
        assert_eq!(t.line_at(second + 4), 3); // the quoted field
        assert_eq!(t.column_at(second + 3), 4);
        assert_eq!(t.line_at(21), 5); // `x` after the lone CR inside quotes
        assert_eq!(t.line_at(second), 3); // backwards queries work too
    }

    #[test]
    fn the_cap_stops_reading_one_byte_past_the_limit() {
        let data = [b'x'; 100];
        let mut t = Tracked::new(&data[..], 10);
        let err = drain(&mut t).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(t.too_large());
        assert_eq!(t.end(), 11);
    }

    #[test]
    fn blank_lines_before_a_record_do_not_count_towards_the_cap() {
        let mut data = vec![b'\n'; 50];
        data.extend_from_slice(b"abc\n");
        let mut t = Tracked::new(&data[..], 10);
        assert_eq!(drain(&mut t).unwrap(), data);
    }

    #[test]
    fn old_bytes_are_dropped_and_lines_stay_right() {
        let data: Vec<u8> = b"r\n".repeat(10_000);
        let mut t = Tracked::new(&data[..], 1 << 20);
        let mut buf = [0u8; 1000];
        let mut pos = 0u64;
        while pos + 1000 <= data.len() as u64 {
            let n = t.read(&mut buf).unwrap();
            assert!(n > 0);
            // Pretend every record up to the end of this chunk was read.
            pos = t.end();
            t.record_read(pos, pos);
        }
        assert!(t.win.len() <= 2000, "window holds {} bytes", t.win.len());
        assert_eq!(t.line_at(pos), pos / 2 + 1);
    }
}

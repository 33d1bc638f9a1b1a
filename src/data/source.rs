//! Reading records: the csv reader over the position-tracking adapter, and the errors that
//! only the raw bytes can explain (unclosed quotes, oversized records, read failures).

use std::fmt::Write as _;
use std::io::Read;

use csv::{ByteRecord, Reader, ReaderBuilder};

use super::LoadOptions;
use super::error::LoadError;
use super::header::header_names;
use super::track::{Tracked, count_breaks, scan_record};

/// Where one record is: raw byte range (terminator included) and number. Its line is only
/// computed when needed ([`Source::line`]), which keeps line counting off the per-record path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub start: u64,
    pub end: u64,
    /// 1-based data record number; 0 for the header.
    pub number: u64,
}

/// The csv reader over the tracking adapter, reading one record at a time.
pub(crate) struct Source<'p, R> {
    rdr: Reader<Tracked<R>>,
    pub rec: ByteRecord,
    path: &'p str,
    delimiter: u8,
    max_record: usize,
    records: u64,
    last: Option<Meta>,
    /// The header's names once read, to label errors.
    names: Vec<String>,
}

impl<'p, R: Read> Source<'p, R> {
    pub(crate) fn new(reader: R, path: &'p str, opts: &LoadOptions) -> Self {
        let rdr = ReaderBuilder::new()
            .delimiter(opts.delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_reader(Tracked::new(reader, opts.max_record_bytes));
        Source {
            rdr,
            rec: ByteRecord::new(),
            path,
            delimiter: opts.delimiter,
            max_record: opts.max_record_bytes,
            records: 0,
            last: None,
            names: Vec::new(),
        }
    }

    /// Reads the header record, validated. A 0-byte (or blank) input is an error.
    pub(crate) fn header(&mut self, opts: &LoadOptions) -> Result<(Vec<String>, u64), LoadError> {
        let Some(meta) = self.next()? else {
            return Err(LoadError::file(self.path, "empty file: expected a header row"));
        };
        // An unclosed quote in the header swallows the whole file into it.
        if let Some(err) = self.unclosed_quote(meta) {
            return Err(err);
        }
        let line = self.line(meta);
        let names = header_names(&self.rec, line, self.path, opts)?;
        self.names.clone_from(&names);
        Ok((names, line))
    }

    /// Reads the next record into `self.rec`. At the end of the input, checks that the last
    /// record did not end inside a quoted field.
    pub(crate) fn next(&mut self) -> Result<Option<Meta>, LoadError> {
        match self.rdr.read_byte_record(&mut self.rec) {
            Ok(true) => {
                let csv_start = self.rec.position().map_or(0, csv::Position::byte);
                let next = self.rdr.position().byte();
                let t = self.rdr.get_mut();
                let start = t.record_start(csv_start);
                t.record_read(start, next);
                let number = self.last.map_or(0, |_| self.records + 1);
                self.records = number;
                let meta = Meta { start, end: next, number };
                self.last = Some(meta);
                if next.saturating_sub(start) > self.max_record as u64 {
                    return Err(self.too_large(start, Some(meta)));
                }
                if let Some(err) = self.reopened_quote(meta) {
                    return Err(err);
                }
                Ok(Some(meta))
            }
            Ok(false) => match self.last {
                Some(last) => {
                    let end = self.rdr.get_ref().end();
                    let meta = Meta { end, ..last };
                    match self.unclosed_quote(meta) {
                        Some(err) => Err(err),
                        None => Ok(None),
                    }
                }
                None => Ok(None),
            },
            Err(e) => {
                let t = self.rdr.get_mut();
                let start = t.progress();
                if t.too_large() {
                    return Err(self.too_large(start, None));
                }
                let line = t.line_at(t.record_start(start));
                Err(LoadError::at(
                    self.path,
                    line,
                    format!("cannot read the file: {}", io_reason(&e)),
                ))
            }
        }
    }

    /// "record starting at line L exceeds 1 MiB", naming the quote that is probably open.
    fn too_large(&mut self, csv_start: u64, meta: Option<Meta>) -> LoadError {
        let t = self.rdr.get_mut();
        let start = t.record_start(csv_start);
        let line = t.line_at(start);
        let end = t.end();
        let scan = scan_record(t.held(start, end), self.delimiter);
        let limit = show_bytes(self.max_record);
        let mut err = LoadError::at(
            self.path,
            line,
            format!("record starting at line {line} exceeds {limit}"),
        );
        // The header is not a data record; a record still being read gets the next number.
        err.record = match (meta, self.last) {
            (Some(m), _) => Some(m.number),
            (None, Some(_)) => Some(self.records + 1),
            (None, None) => None,
        }
        .filter(|&n| n > 0);
        match scan.open_quote {
            Some(q) => {
                let (ql, qc) = (t.line_at(start + q as u64), t.column_at(start + q as u64));
                let _ = write!(
                    err.message,
                    "; a quote is probably not closed (opened at line {ql} col {qc}?)"
                );
                err.help = Some(
                    "a field that starts with `\"` runs until the next lone `\"`; write quotes \
                     inside a quoted field as `\"\"`"
                        .to_owned(),
                );
            }
            None => {
                err.help = Some(format!(
                    "records are limited to {limit} (see Limits in docs/language.md); a record \
                     this long usually means the file is not CSV: check the export, or leave \
                     the oversized field out of it"
                ));
            }
        }
        err
    }

    /// If the record `meta` ends inside a quoted field (which means the quote swallowed the rest
    /// of the input), the error saying so.
    pub(crate) fn unclosed_quote(&mut self, meta: Meta) -> Option<LoadError> {
        let t = self.rdr.get_mut();
        let scan = scan_record(t.held(meta.start, meta.end), self.delimiter);
        let q = meta.start + scan.open_quote? as u64;
        let (line, col) = (t.line_at(q), t.column_at(q));
        let field = scan.field_starts.len() - 1;
        Some(self.quote_error(
            meta,
            field,
            line,
            format!("quote opened at line {line} col {col} is never closed"),
            "write quotes inside a quoted field as `\"\"`",
        ))
    }

    /// An error about a quote in field `field` of the record `meta`, at `line`.
    fn quote_error(
        &self,
        meta: Meta,
        field: usize,
        line: u64,
        message: String,
        fix: &str,
    ) -> LoadError {
        LoadError {
            record: (meta.number > 0).then_some(meta.number),
            column: self.names.get(field).filter(|_| meta.number > 0).cloned(),
            ..LoadError::at(self.path, line, message).with_help(format!(
                "a field that starts with `\"` runs until the next lone `\"`; {fix}"
            ))
        }
    }

    /// If the record `meta` has a quoted field that spans line breaks and goes on after its
    /// closing quote (`1,10,"` … `3,30,screen 12" wide`), the error saying so: a lone `"` in a
    /// cell opened it, and the records up to the next quote became one field. Read as
    /// PostgreSQL does, they would vanish without a word.
    fn reopened_quote(&mut self, meta: Meta) -> Option<LoadError> {
        let t = self.rdr.get_mut();
        let raw = t.held(meta.start, meta.end);
        let body = raw.trim_ascii_end();
        if !body.iter().any(|&c| c == b'\n' || c == b'\r') {
            return None;
        }
        let scan = scan_record(raw, self.delimiter);
        let (open, text) = scan.reopened?;
        let field = scan.field_starts.partition_point(|&f| f <= open).saturating_sub(1);
        // The closing quote in its line: `screen 12" wide`.
        let stop = |c: &char| *c != '\n' && *c != '\r' && *c != char::from(self.delimiter);
        let before: Vec<char> = String::from_utf8_lossy(&raw[..text - 1])
            .chars()
            .rev()
            .take_while(stop)
            .take(20)
            .collect();
        let after: String =
            String::from_utf8_lossy(&raw[text..]).chars().take_while(stop).take(20).collect();
        let snippet = format!("{}\"{after}", before.iter().rev().collect::<String>());
        let (ol, oc) = (t.line_at(meta.start + open as u64), t.column_at(meta.start + open as u64));
        let (cl, cc) =
            (t.line_at(meta.start + text as u64 - 1), t.column_at(meta.start + text as u64 - 1));
        let message = format!(
            "quote opened at line {ol} col {oc} closes at line {cl} col {cc}, inside `{}`: the {} \
             line breaks between were read as text, joining lines {ol}–{cl} into one record",
            crate::render::escape::sanitize_line(&snippet),
            cl - ol,
        );
        Some(self.quote_error(
            meta,
            field,
            ol,
            message,
            "a `\"` in a value needs the whole value quoted and the quote doubled: \
             `\"screen 12\"\" wide\"`",
        ))
    }

    /// Physical line where the record `meta` starts; it must be the latest record read.
    pub(crate) fn line(&mut self, meta: Meta) -> u64 {
        self.rdr.get_mut().line_at(meta.start)
    }

    /// Whether the record `meta` spans several physical lines (a quoted line break); it must
    /// be the latest record read.
    pub(crate) fn spans_lines(&self, meta: Meta) -> bool {
        let raw = self.rdr.get_ref().held(meta.start, meta.end);
        count_breaks(raw.trim_ascii_end()) > 0
    }

    /// Physical line where field `field` of the record `meta` starts (records can span lines).
    pub(crate) fn field_line(&mut self, meta: Meta, field: usize) -> u64 {
        let t = self.rdr.get_mut();
        let raw = t.held(meta.start, meta.end);
        let off = match scan_record(raw, self.delimiter).field_starts.get(field) {
            Some(&off) => off,
            None => 0,
        };
        t.line_at(meta.start + off as u64)
    }
}

/// An io error's text without the "(os error N)" suffix.
pub(crate) fn io_reason(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s,
    }
}

/// `1 MiB`, `64 KiB` or `1000 bytes`.
pub(crate) fn show_bytes(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

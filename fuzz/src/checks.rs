//! The properties the `parse_check` and `csv_load` fuzz targets check.
//!
//! This file is shared: the fuzz crate compiles it as `kpiblend_fuzz::checks`, and
//! `tests/it/reliability.rs` includes it with `#[path]`, so CI replays the committed
//! regression inputs through exactly the checks the fuzzer ran. It uses only `kpiblend`
//! and `std`. A violated property panics with a message saying which one.

#![allow(dead_code)]

use std::path::Path;

use kpiblend::check::{self, CheckOptions};
use kpiblend::data::fast::{Blocks, Layout, parse_block};
use kpiblend::data::{self, BadRows, ColumnData, ColumnType, LoadError, LoadOptions, Table};
use kpiblend::diagnostic::{Code, Diagnostic};
use kpiblend::format;
use kpiblend::render::diagnostics as render;
use kpiblend::source::SourceMap;
use kpiblend::syntax;

/// The name fuzzed KPI text is checked under.
pub const KPI_NAME: &str = "fuzz.kpi";
/// The name fuzzed CSV data is loaded under.
pub const CSV_NAME: &str = "fuzz.csv";

/// A directory that does not exist, so relative imports and data paths in fuzzed text
/// resolve to nothing.
fn no_dir() -> &'static Path {
    Path::new("/nonexistent/kpiblend-fuzz")
}

/// Text that is shown to a user must never carry a raw control character (except the line
/// breaks of a multi-line rendering), so a KPI file or a CSV cell cannot drive the
/// terminal (RELIABILITY.md D10, X07).
#[track_caller]
pub fn assert_printable(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("{what} contains the raw control character {:?}:\n{text:?}", c);
    }
}

/// Known bugs the fuzz targets step over when `KPIBLEND_FUZZ_KNOWN` names them (a
/// comma-separated list), so a long run can find other problems; `scripts/fuzz.sh` sets it
/// to the bugs listed in `docs/reliability.md`. The tests never set it: their replay of
/// each finding is an ignored test until the bug is fixed.
pub fn known(bug: &str) -> bool {
    static LIST: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        std::env::var("KPIBLEND_FUZZ_KNOWN")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .iter()
    .any(|b| b == bug)
}

// ---- parse_check ---------------------------------------------------------------------------

/// Arbitrary bytes as a KPI file: checking never panics, every error has a place, messages
/// are printable, and a file that checks clean formats to a file that parses to the same
/// statements, formats to itself and checks clean too. Also feeds the text to the REPL's
/// parser (and to a fresh REPL session when it cannot touch the file system).
pub fn parse_check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let checked = check::check_text(KPI_NAME, text, no_dir(), &CheckOptions::default());
    let sources = &checked.program.sources;
    for d in &checked.diagnostics {
        assert_has_place(d, sources, text);
        assert_printable("a rendered diagnostic", &render::human(d, sources, false));
        assert_printable("a GitHub annotation", &render::github(d, sources));
    }
    let json = render::json(&checked.diagnostics, sources);
    if known("json-del-and-c1") {
        // serde_json escapes only U+0000..U+001F; DEL and the C1 controls pass through raw.
        let c0: String = json.chars().filter(|c| !matches!(c, '\u{7f}'..='\u{9f}')).collect();
        assert_printable("the JSON diagnostics", &c0);
    } else {
        assert_printable("the JSON diagnostics", &json);
    }
    assert!(
        checked.diagnostics.len() <= check::MAX_DIAGNOSTICS + 1,
        "{} diagnostics listed; at most {} and a summary",
        checked.diagnostics.len(),
        check::MAX_DIAGNOSTICS
    );
    assert!(
        checked.errors >= checked.count(kpiblend::diagnostic::Severity::Error),
        "the error count {} is below the errors listed",
        checked.errors
    );

    // The REPL reads the same language a line at a time.
    let _ = syntax::is_incomplete(text);
    let _ = syntax::parse_repl(kpiblend::source::FileId(0), text);
    if repl_safe(text) {
        let mut session = kpiblend::repl::Session::new();
        let reply = session.handle(text);
        assert_printable("a REPL error", &reply.err);
    }

    if !checked.has_errors() {
        round_trip(text);
    }
}

/// Whether `text` can be given to a REPL session without touching the file system: no
/// meta-command that reads or writes files (`:load`, `:reload`, `:save`, `:data`) and
/// nothing that names a file.
fn repl_safe(text: &str) -> bool {
    let command = text.trim_start().strip_prefix(':').map(|c| c.split_whitespace().next());
    let files = matches!(
        command,
        Some(None | Some("load" | "l" | "reload" | "r" | "save" | "save!" | "data"))
    );
    !files && !["import", "dataset", "csv", "test"].iter().any(|w| text.contains(w))
}

/// Every error says where: a span inside a known file (on character boundaries), a data
/// location, or a file; only the "and N more" summary has no place.
#[track_caller]
fn assert_has_place(d: &Diagnostic, sources: &SourceMap, text: &str) {
    if d.code == Code::TooManyErrors {
        return;
    }
    if let Some(span) = d.primary_span() {
        let file = sources.get(span.file).unwrap_or_else(|| {
            panic!(
                "{} `{}` points into a file that is not in the source map",
                d.code.as_str(),
                d.message
            )
        });
        let len = file.text.len();
        let (s, e) = (span.start as usize, span.end as usize);
        // Known bug `span-char-boundary`: an invalid escape (`"\é"`) ends inside the character.
        let boundaries = known("span-char-boundary")
            || (file.text.is_char_boundary(s) && file.text.is_char_boundary(e));
        assert!(
            s <= e && e <= len && boundaries,
            "{} `{}` has the span {s}..{e}, outside the {len} bytes of its file or not on \
             character boundaries\n{text:?}",
            d.code.as_str(),
            d.message
        );
        return;
    }
    if d.is_error() {
        assert!(
            d.data.is_some() || d.file.is_some(),
            "the error {} `{}` has no place\n{text:?}",
            d.code.as_str(),
            d.message
        );
    }
}

/// A file that checks clean: `fmt` keeps its statements, and is idempotent.
pub fn round_trip(text: &str) {
    let formatted = match format::format_file(KPI_NAME, text) {
        Ok(f) => f,
        Err(ds) => panic!(
            "the file checks clean but `fmt` reports syntax errors: {:?}\n{text:?}",
            ds.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
        ),
    };
    assert!(!formatted.refused, "`fmt` refused the file (its output did not read back)\n{text:?}");
    let before = erased(text);
    let after = erased(&formatted.text);
    assert!(
        before == after,
        "formatting changed the statements\ninput:  {text:?}\noutput: {:?}",
        formatted.text
    );
    let again = format::format_file(KPI_NAME, &formatted.text)
        .unwrap_or_else(|_| panic!("the formatted text does not parse\n{:?}", formatted.text));
    assert!(
        again.text == formatted.text,
        "`fmt` is not idempotent\ninput:  {text:?}\nonce:   {:?}\ntwice:  {:?}",
        formatted.text,
        again.text
    );
    let rechecked =
        check::check_text(KPI_NAME, &formatted.text, no_dir(), &CheckOptions::default());
    assert!(
        !rechecked.has_errors(),
        "the formatted file has errors: {:?}\ninput:  {text:?}\noutput: {:?}",
        rechecked.diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
        formatted.text
    );
}

/// The statements of `text` with spans erased, and its comments.
fn erased(text: &str) -> (Vec<kpiblend::ast::Item>, Vec<String>) {
    let parsed = syntax::parse(kpiblend::source::FileId(0), text);
    let items = parsed.module.items.iter().map(format::erase::item).collect();
    let comments = parsed
        .module
        .comments
        .iter()
        .map(|c| text.get(c.range()).unwrap_or("").trim_end().to_string())
        .collect();
    (items, comments)
}

// ---- csv_load ------------------------------------------------------------------------------

/// Arbitrary bytes as a CSV file, loaded with every column, first stopping at the first bad
/// row and then skipping bad rows: never a panic, `records_read == rows + skipped`, every
/// error has a line; the two policies agree, declaring the inferred types changes nothing,
/// and the fast path agrees with the careful reader whenever it accepts the input.
pub fn csv_load(data: &[u8]) {
    let strict = LoadOptions::default();
    let skip = LoadOptions { bad_rows: BadRows::Skip, ..LoadOptions::default() };
    let failed = load(data, &strict);
    let skipped = load(data, &skip);
    match (&failed, &skipped) {
        (Ok(t), Ok(s)) => {
            assert_eq!(t.report.skipped, 0, "rows skipped while failing on bad rows");
            assert!(s.report.skipped == 0 && tables_equal(t, s), "skipping changed a clean load");
        }
        (Ok(_), Err(e)) => panic!("skipping bad rows fails ({e}) where failing on them loads"),
        (Err(e), Ok(s)) => assert!(
            s.report.skipped > 0,
            "the strict load fails ({e}) but the skipping one skipped nothing\n{:?}",
            String::from_utf8_lossy(data)
        ),
        (Err(_), Err(_)) => {}
    }
    if let Ok(t) = &failed {
        declared_types_change_nothing(data, t);
        fast_path_agrees(data, t);
    }
}

/// Loads and checks the invariants every load must keep.
#[allow(clippy::result_large_err)] // `LoadError` as the crate returns it
fn load(data: &[u8], opts: &LoadOptions) -> Result<Table, LoadError> {
    let result = data::load_csv(data, CSV_NAME, opts);
    match &result {
        Ok(t) => {
            let r = &t.report;
            assert_eq!(
                r.records_read,
                t.rows as u64 + r.skipped,
                "records read != rows kept + rows skipped\n{:?}",
                String::from_utf8_lossy(data)
            );
            // The first 5 errors of skipped rows (a row may have several).
            assert!(r.first_errors.len() <= 5, "more than 5 errors kept");
            assert!(r.skipped > 0 || r.first_errors.is_empty(), "errors kept but no row skipped");
            for e in &r.first_errors {
                assert_error_has_a_line(e, data);
            }
            for c in &t.columns {
                assert_eq!(c.data.len(), t.rows, "column `{}` has the wrong length", c.name);
                if let ColumnData::Text { codes, dict } = &c.data {
                    assert!(
                        codes
                            .iter()
                            .all(|&k| k == ColumnData::TEXT_NULL || (k as usize) < dict.len()),
                        "a text code outside the dictionary"
                    );
                }
                if let ColumnData::Num(v) = &c.data {
                    assert!(v.iter().all(|x| !x.is_infinite()), "an infinite value was loaded");
                }
            }
        }
        Err(e) => assert_error_has_a_line(e, data),
    }
    result
}

/// Every error names the file and a line, except the one about an input with no header at
/// all (a 0-byte or blank file: it is about the file as a whole).
#[track_caller]
pub fn assert_error_has_a_line(e: &LoadError, data: &[u8]) {
    assert_eq!(e.path, CSV_NAME, "the error does not name the file");
    assert!(!e.message.is_empty(), "an error without a message");
    let shown = e.to_string();
    if known("load-error-display-column") {
        // `LoadError`'s `Display` prints the header name raw; check the rest of it.
        let column = e.column.as_ref().map(|c| data::escape_value(c.as_bytes()));
        assert_printable("a load error", &LoadError { column, ..e.clone() }.to_string());
    } else {
        assert_printable("a load error", &shown);
    }
    if let Some(h) = &e.help {
        assert_printable("a load error's help", h);
    }
    if let Some(v) = &e.value {
        assert_printable("a load error's value", v);
    }
    if e.line.is_none() {
        assert!(
            e.message.starts_with("empty file") && is_blank(data),
            "the error `{shown}` has no line\n{:?}",
            String::from_utf8_lossy(data)
        );
    }
    if let Some(line) = e.line {
        let lines = count_lines(data);
        assert!(
            line >= 1 && line <= lines,
            "the error `{shown}` names line {line} of a file of {lines} lines\n{:?}",
            String::from_utf8_lossy(data)
        );
    }
}

/// Only a BOM, line breaks and nothing else.
fn is_blank(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    data.iter().all(|&b| b == b'\n' || b == b'\r')
}

/// Physical lines: `\n`, `\r\n` and a lone `\r` each end one; a last line without a break
/// counts too (and an empty input has one line).
fn count_lines(data: &[u8]) -> u64 {
    let mut n = 1;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\n' => n += 1,
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                n += 1;
                i += 1;
            }
            b'\r' => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

/// Declaring the types that were inferred loads the same table.
fn declared_types_change_nothing(data: &[u8], t: &Table) {
    let declared: Vec<(String, ColumnType)> =
        t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
    let opts = LoadOptions { declared, ..LoadOptions::default() };
    match data::load_csv(data, CSV_NAME, &opts) {
        Ok(d) => assert!(
            tables_equal_ignoring_report(t, &d),
            "declaring the inferred types changed the table\n{:?}",
            String::from_utf8_lossy(data)
        ),
        Err(e) => panic!(
            "declaring the inferred types makes the load fail: {e}\n{:?}",
            String::from_utf8_lossy(data)
        ),
    }
}

/// The fast path (blocks of whole records, parsed without positions) either falls back or
/// reads exactly what the careful reader read, whatever the block size.
fn fast_path_agrees(data: &[u8], t: &Table) {
    let wanted: Vec<(String, ColumnType)> =
        t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
    // Tiny blocks split records everywhere; whole-file blocks take the indexed path over
    // many 64-byte chunks and strips of records.
    let block = match data.last() {
        Some(&b) if b >= 0xC0 => 1 << 20,
        Some(&b) => 1 + usize::from(b) % 64,
        None => 1,
    };
    let parts = Blocks::new(data, LoadOptions::default().max_record_bytes)
        .with_block_size(block)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|blocks| {
            let Some(first) = blocks.first() else { return Ok(Vec::new()) };
            let (layout, start) = Layout::from_header(first, b',', &wanted)?;
            let mut parts = vec![parse_block(&first[start..], &layout)?];
            for b in &blocks[1..] {
                parts.push(parse_block(b, &layout)?);
            }
            Ok(parts)
        });
    let Ok(parts) = parts else { return };
    if parts.is_empty() {
        return;
    }
    let rows: usize = parts.iter().map(|p| p.rows).sum();
    assert_eq!(
        rows,
        t.rows,
        "the fast path read {rows} rows, the careful reader {} (blocks of {block})\n{:?}",
        t.rows,
        String::from_utf8_lossy(data)
    );
    // Known bug `fast-path-negative-zero`: `-0` in an int column is -0.0 on the fast path and
    // 0.0 in the careful reader.
    let zero = |v: Vec<String>| -> Vec<String> {
        if known("fast-path-negative-zero") {
            v.into_iter().map(|x| if x == "-0.0" { "0.0".to_string() } else { x }).collect()
        } else {
            v
        }
    };
    for (k, col) in t.columns.iter().enumerate() {
        let fast: Vec<String> =
            zero(parts.iter().flat_map(|p| decoded(&p.columns[k].data)).collect());
        assert!(
            fast == zero(decoded(&col.data)),
            "the fast path read column `{}` as {fast:?}, the careful reader as {:?} (blocks of \
             {block})\n{:?}",
            col.name,
            decoded(&col.data),
            String::from_utf8_lossy(data)
        );
    }
}

/// Cell values as text (`null` for a null), so tables built with different dictionaries
/// compare by value.
pub fn decoded(d: &ColumnData) -> Vec<String> {
    match d {
        ColumnData::Num(v) => {
            v.iter().map(|x| if x.is_nan() { "null".into() } else { format!("{:?}", x) }).collect()
        }
        ColumnData::Bool(v) => v.iter().map(u8::to_string).collect(),
        ColumnData::Text { codes, dict } => codes
            .iter()
            .map(|&c| {
                if c == ColumnData::TEXT_NULL {
                    "null".into()
                } else {
                    format!("{:?}", dict[c as usize])
                }
            })
            .collect(),
    }
}

fn tables_equal_ignoring_report(a: &Table, b: &Table) -> bool {
    a.rows == b.rows
        && a.columns.len() == b.columns.len()
        && a.columns
            .iter()
            .zip(&b.columns)
            .all(|(x, y)| x.name == y.name && x.ty == y.ty && decoded(&x.data) == decoded(&y.data))
}

fn tables_equal(a: &Table, b: &Table) -> bool {
    tables_equal_ignoring_report(a, b)
        && a.report.records_read == b.report.records_read
        && a.report.inferred == b.report.inferred
}

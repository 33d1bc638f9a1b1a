//! The loader as a specification: each test pins exact values and exact error locations.
//! Test names carry the RELIABILITY.md catalogue IDs (C01–C20) where one applies.

use std::io::{self, Read};

use super::*;
use ColumnType::{
    Bool as B, Date as D, Duration as Du, Int as I, Number as N, Text as T, Time as Ti,
};

const PATH: &str = "data/calls.csv";

fn opts() -> LoadOptions {
    LoadOptions::default()
}

fn declared(types: &[(&str, ColumnType)]) -> LoadOptions {
    LoadOptions { declared: types.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(), ..opts() }
}

fn skip(o: LoadOptions) -> LoadOptions {
    LoadOptions { bad_rows: BadRows::Skip, ..o }
}

#[track_caller]
fn load(data: impl AsRef<[u8]>, o: &LoadOptions) -> Table {
    match load_csv(data.as_ref(), PATH, o) {
        Ok(t) => {
            assert_eq!(t.report.records_read, t.rows as u64 + t.report.skipped);
            for c in &t.columns {
                assert_eq!(c.data.len(), t.rows, "column {}", c.name);
            }
            t
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[track_caller]
fn fail(data: impl AsRef<[u8]>, o: &LoadOptions) -> LoadError {
    match load_csv(data.as_ref(), PATH, o) {
        Ok(t) => panic!("expected an error, loaded {} rows", t.rows),
        Err(e) => e,
    }
}

#[track_caller]
fn nums(t: &Table, name: &str) -> Vec<f64> {
    match &t.column(name).expect("column").data {
        ColumnData::Num(v) => v.clone(),
        other => panic!("{name} is not numeric: {other:?}"),
    }
}

#[track_caller]
fn texts(t: &Table, name: &str) -> Vec<Option<String>> {
    match &t.column(name).expect("column").data {
        ColumnData::Text { codes, dict } => codes
            .iter()
            .map(|&c| (c != ColumnData::TEXT_NULL).then(|| dict[c as usize].to_string()))
            .collect(),
        other => panic!("{name} is not text: {other:?}"),
    }
}

#[track_caller]
fn bools(t: &Table, name: &str) -> Vec<u8> {
    match &t.column(name).expect("column").data {
        ColumnData::Bool(v) => v.clone(),
        other => panic!("{name} is not bool: {other:?}"),
    }
}

#[track_caller]
fn ty(t: &Table, name: &str) -> ColumnType {
    t.column(name).expect("column").ty
}

/// `(line, record, column)` of an error, the location the tests pin.
fn at(e: &LoadError) -> (Option<u64>, Option<u64>, Option<&str>) {
    (e.line, e.record, e.column.as_deref())
}

/// A reader that hands out one byte per call, so every chunk boundary is exercised.
struct OneByte<'a>(&'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// An endless stream of one byte, like `/dev/zero`.
struct Endless(u8);

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(self.0);
        Ok(buf.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Header (C01–C04, C16, C20)

#[test]
fn c01_empty_file_is_an_error() {
    let e = fail("", &opts());
    assert_eq!(e.message, "empty file: expected a header row");
    assert_eq!(at(&e), (None, None, None));
    assert_eq!(e.to_string(), "data/calls.csv: empty file: expected a header row");
    assert_eq!(read_header(&b""[..], PATH, &opts()).unwrap_err(), e);
    // Only a BOM or only blank lines is no header either.
    assert_eq!(fail("\u{feff}", &opts()).message, e.message);
    assert_eq!(fail("\n\r\n\n", &opts()).message, e.message);
}

#[test]
fn c02_header_only_loads_zero_rows() {
    let t = load("agent,wait_s\n", &declared(&[("agent", T)]));
    assert_eq!(t.rows, 0);
    assert_eq!(t.report.records_read, 0);
    assert_eq!(texts(&t, "agent"), Vec::<Option<String>>::new());
    // An undeclared column with no cells at all is a number column.
    assert_eq!(t.report.inferred, vec![("wait_s".to_owned(), N)]);
    assert_eq!(load("agent,wait_s", &opts()).rows, 0);
}

#[test]
fn c03_declared_schema_on_a_file_without_header_says_the_first_row_looks_like_data() {
    let e = fail("1001,45\n1002,50\n", &declared(&[("agent_id", I), ("wait_s", N)]));
    assert_eq!(e.message, "column `agent_id` not found in the header");
    assert_eq!(at(&e), (Some(1), None, Some("agent_id")));
    assert_eq!(
        e.help.as_deref(),
        Some(
            "the first row looks like data (`1001`); the file needs a header row naming its columns"
        )
    );
}

#[test]
fn c04_duplicate_header_names_name_both_positions() {
    let e = fail("agent,queue,agent\n", &opts());
    assert_eq!(e.message, "duplicate column name `agent` (columns 1 and 3)");
    assert_eq!(at(&e), (Some(1), None, Some("agent")));
    // Trimming happens first, so these are duplicates too.
    let e = fail("a, b ,b\n", &opts());
    assert_eq!(e.message, "duplicate column name `b` (columns 2 and 3)");
}

#[test]
fn c04_empty_header_name_is_an_error() {
    let e = fail("a,,c\n1,2,3\n", &opts());
    assert_eq!(e.message, "column 2 has an empty name");
    assert_eq!(e.line, Some(1));
    assert_eq!(fail("a,  ,c\n", &opts()).message, "column 2 has an empty name");
}

#[test]
fn c04_header_names_are_trimmed_of_spaces_and_tabs() {
    let t = load(" agent ,\twait_s\t\nann,5\n", &opts());
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["agent", "wait_s"]);
    assert_eq!(
        read_header(&b" agent ,\twait_s\t\n"[..], PATH, &opts()).unwrap(),
        ["agent", "wait_s"]
    );
    // Values are not trimmed.
    assert_eq!(texts(&load("a\n x \n", &opts()), "a"), [Some(" x ".to_owned())]);
}

#[test]
fn header_names_that_are_not_utf8_are_an_error() {
    let e = fail(b"a,\xffb\n1,2\n", &opts());
    assert_eq!(e.message, "the name of column 2 is not valid utf-8: `\\xffb`");
    assert_eq!(e.line, Some(1));
}

#[test]
fn c16_too_many_columns_names_the_limit() {
    let header: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    let e = fail(header.join(","), &opts());
    assert_eq!(e.message, "header has 100000 columns; at most 4096 are allowed");
    assert_eq!(e.line, Some(1));
    let four_k: Vec<String> = (0..4096).map(|i| format!("c{i}")).collect();
    assert_eq!(load(four_k.join(","), &opts()).columns.len(), 4096);
    let narrow = LoadOptions { max_columns: 2, ..opts() };
    assert_eq!(fail("a,b,c\n", &narrow).message, "header has 3 columns; at most 2 are allowed");
}

#[test]
fn c20_one_column_with_semicolons_suggests_the_delimiter() {
    let e = fail("agent;queue;wait_s\nann;billing;5\n", &opts());
    assert_eq!(
        e.message,
        "found 1 column named `agent;queue;wait_s`; the delimiter is probably wrong"
    );
    assert_eq!(e.help.as_deref(), Some("did you mean delimiter: \";\"?"));
    let e = fail("agent\tqueue\nann\tbilling\n", &opts());
    assert_eq!(e.help.as_deref(), Some("did you mean delimiter: \"\\t\"?"));
    // With the right delimiter the same file loads.
    let semi = LoadOptions { delimiter: b';', ..opts() };
    let t = load("agent;queue;wait_s\nann;billing;5\n", &semi);
    assert_eq!(texts(&t, "queue"), [Some("billing".to_owned())]);
    assert_eq!(nums(&t, "wait_s"), [5.0]);
}

#[test]
fn asking_for_a_missing_column_suggests_a_close_name() {
    let o = LoadOptions { columns: Some(vec!["talk_tim".into()]), ..opts() };
    let e = fail("agent,talk_time\nann,5\n", &o);
    assert_eq!(e.message, "column `talk_tim` not found in the header");
    assert_eq!(e.help.as_deref(), Some("did you mean `talk_time`?"));
    let o = LoadOptions { columns: Some(vec!["zzz".into()]), ..opts() };
    let e = fail("agent,talk_time\nann,5\n", &o);
    assert_eq!(e.help.as_deref(), Some("the header has: agent, talk_time"));
}

#[test]
fn declared_columns_must_exist_even_when_not_loaded() {
    let o = LoadOptions { columns: Some(vec!["agent".into()]), ..declared(&[("queue", T)]) };
    let e = fail("agent,wait_s\nann,5\n", &o);
    assert_eq!(e.message, "column `queue` not found in the header");
}

// ---------------------------------------------------------------------------------------------
// Types and nulls (C06, C07, C08, C14)

#[test]
fn every_declared_type_converts_its_cells() {
    let data = "i,n,b,t,ti,d,du\n\
                -3,2.5,yes,ann,2024-03-01T10:00:00Z,2024-03-01,1:02:03\n\
                7,1e3,F,bob,2024-03-01 12:00:00+02:00,1970-01-02,90\n";
    let o = declared(&[("i", I), ("n", N), ("b", B), ("t", T), ("ti", Ti), ("d", D), ("du", Du)]);
    let t = load(data, &o);
    assert_eq!(t.rows, 2);
    assert_eq!(nums(&t, "i"), [-3.0, 7.0]);
    assert_eq!(nums(&t, "n"), [2.5, 1000.0]);
    assert_eq!(bools(&t, "b"), [1, 0]);
    assert_eq!(texts(&t, "t"), [Some("ann".into()), Some("bob".into())]);
    assert_eq!(nums(&t, "ti"), [1_709_287_200.0, 1_709_287_200.0]);
    assert_eq!(nums(&t, "d"), [19_783.0, 1.0]);
    assert_eq!(nums(&t, "du"), [3723.0, 90.0]);
    assert!(t.report.inferred.is_empty());
    assert_eq!(ty(&t, "du"), Du);
}

#[test]
fn empty_cells_are_null_in_every_type() {
    let o = declared(&[("i", I), ("n", N), ("b", B), ("t", T), ("ti", Ti), ("d", D), ("du", Du)]);
    let t = load("i,n,b,t,ti,d,du\n,,,,,,\n\"\",\"\",\"\",\"\",\"\",\"\",\"\"\n", &o);
    assert_eq!(t.rows, 2);
    for name in ["i", "n", "ti", "d", "du"] {
        assert!(nums(&t, name).iter().all(|v| v.is_nan()), "{name}");
    }
    assert_eq!(bools(&t, "b"), [2, 2]);
    assert_eq!(texts(&t, "t"), [None, None]);
    match &t.column("t").unwrap().data {
        ColumnData::Text { dict, .. } => assert!(dict.is_empty()),
        _ => unreachable!("t is text"),
    }
}

#[test]
fn null_tokens_are_null_too() {
    let o = LoadOptions {
        null_tokens: vec!["NULL".into(), "N/A".into()],
        ..declared(&[("n", N), ("t", T)])
    };
    let t = load("n,t\nNULL,N/A\n1,x\nN/A,null\n", &o);
    let n = nums(&t, "n");
    assert!(n[0].is_nan() && n[2].is_nan());
    assert_eq!(n[1], 1.0);
    assert_eq!(texts(&t, "t"), [None, Some("x".into()), Some("null".into())]);
}

#[test]
fn c06_unparseable_numbers_report_the_raw_value_and_position() {
    let o = declared(&[("wait_s", N)]);
    let e = fail("agent,wait_s\nann,5\nbob,\"12,5\"\n", &o);
    assert_eq!(e.message, "cannot parse `12,5` as number");
    assert_eq!(at(&e), (Some(3), Some(2), Some("wait_s")));
    assert_eq!(e.value.as_deref(), Some("12,5"));
    assert_eq!(
        e.help.as_deref(),
        Some("numbers use `.` as the decimal separator and no thousands separators")
    );
    assert_eq!(
        e.to_string(),
        "data/calls.csv:3: column `wait_s` (record 2): cannot parse `12,5` as number"
    );
    let e = fail("agent,wait_s\nann,N/A\n", &o);
    assert_eq!(e.message, "cannot parse `N/A` as number");
    assert_eq!(
        e.help.as_deref(),
        Some("leave the cell empty for a missing value, or list this value in `null_tokens`")
    );
    assert_eq!(fail("agent,wait_s\nann,—\n", &o).message, "cannot parse `—` as number");
    assert_eq!(fail("agent,wait_s\nann,1_000\n", &o).message, "cannot parse `1_000` as number");
    assert_eq!(fail("agent,wait_s\nann,0x10\n", &o).message, "cannot parse `0x10` as number");
}

#[test]
fn c06_surrounding_spaces_are_named() {
    let e = fail("agent,n\nann, 7\n", &declared(&[("n", I)]));
    assert_eq!(e.message, "cannot parse ` 7` as int (surrounding spaces)");
    assert_eq!(at(&e), (Some(2), Some(1), Some("n")));
    let e = fail("d\n2024-01-01 \n", &declared(&[("d", D)]));
    assert_eq!(e.message, "cannot parse `2024-01-01 ` as date (surrounding spaces)");
    let e = fail("b\n yes\n", &declared(&[("b", B)]));
    assert_eq!(e.message, "cannot parse ` yes` as bool (surrounding spaces)");
}

#[test]
fn c07_non_finite_and_out_of_range_numbers_are_rejected() {
    let o = declared(&[("n", N)]);
    for (cell, why) in [
        ("nan", "non-finite number"),
        ("NaN", "non-finite number"),
        ("-inf", "non-finite number"),
        ("Infinity", "non-finite number"),
        ("1e400", "number out of range"),
        ("-1e400", "number out of range"),
        ("1e-400", "number out of range"),
    ] {
        let e = fail(format!("n\n1\n{cell}\n"), &o);
        assert_eq!(e.message, format!("cannot parse `{cell}` as number: {why}"));
        assert_eq!(at(&e), (Some(3), Some(2), Some("n")));
    }
    let e = fail("n\n9007199254740993\n", &declared(&[("n", I)]));
    assert_eq!(e.message, "cannot parse `9007199254740993` as int: number out of range");
}

#[test]
fn int_columns_reject_fractions_with_a_hint() {
    let e = fail("n\n1.5\n", &declared(&[("n", I)]));
    assert_eq!(e.message, "cannot parse `1.5` as int");
    assert_eq!(e.help.as_deref(), Some("declare the column as `number` to allow fractions"));
}

#[test]
fn c08_mixed_types_in_a_declared_column_fail_at_the_first_offender() {
    let o = declared(&[("x", N)]);
    let e = fail("x\n1\n2\n2024-01-01\n3\nabc\n", &o);
    assert_eq!(e.message, "cannot parse `2024-01-01` as number");
    assert_eq!(at(&e), (Some(4), Some(3), Some("x")));
}

#[test]
fn time_date_and_duration_errors_say_what_was_expected() {
    let e = fail("t\n2024-03-01\n", &declared(&[("t", Ti)]));
    assert_eq!(e.message, "cannot parse `2024-03-01` as time");
    assert_eq!(
        e.help.as_deref(),
        Some("this is a date without a time; declare the column as `date`")
    );
    let e = fail("d\n2023-02-29\n", &declared(&[("d", D)]));
    assert_eq!(e.message, "cannot parse `2023-02-29` as date");
    assert_eq!(e.help.as_deref(), Some("expected `YYYY-MM-DD`"));
    let e = fail("du\n1:75\n", &declared(&[("du", Du)]));
    assert_eq!(e.message, "cannot parse `1:75` as duration");
    assert_eq!(e.help.as_deref(), Some("expected seconds, `H:MM:SS` or `M:SS`"));
    let e = fail("b\nmaybe\n", &declared(&[("b", B)]));
    assert_eq!(e.message, "cannot parse `maybe` as bool");
}

#[test]
fn c14_nul_and_control_characters_are_kept_in_text_and_escaped_in_messages() {
    let t = load(b"t\na\0b\n\x1b[31m\n", &declared(&[("t", T)]));
    assert_eq!(texts(&t, "t"), [Some("a\0b".into()), Some("\x1b[31m".into())]);
    let e = fail(b"n\n\x1b[2J\0\n", &declared(&[("n", N)]));
    assert_eq!(e.message, "cannot parse `\\u{1b}[2J\\u{0}` as number");
    assert_eq!(e.value.as_deref(), Some("\\u{1b}[2J\\u{0}"));
    assert!(!e.to_string().contains('\x1b'));
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "x".repeat(500);
    let e = fail(format!("n\n{long}\n"), &declared(&[("n", N)]));
    let shown = format!("{}…", "x".repeat(60));
    assert_eq!(e.value.as_deref(), Some(shown.as_str()));
    assert_eq!(e.message, format!("cannot parse `{shown}` as number"));
}

#[test]
fn text_dictionary_is_in_first_seen_order() {
    let t = load("q\nsales\nbilling\nsales\n\nbilling\nsupport\n", &opts());
    match &t.column("q").unwrap().data {
        ColumnData::Text { codes, dict } => {
            assert_eq!(codes, &[0, 1, 0, 1, 2]);
            let dict: Vec<&str> = dict.iter().map(|s| &**s).collect();
            assert_eq!(dict, ["sales", "billing", "support"]);
        }
        other => panic!("not text: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Inference

#[test]
fn inference_picks_the_first_type_that_fits_every_sampled_cell() {
    let data = "b,i,n,ti,d,t,e,zo\n\
                yes,1,1,2024-03-01T10:00:00Z,2024-03-01,x,,0\n\
                no,-2,2.5,2024-03-01 11:00:00,2024-03-02,1,,1\n\
                ,,,,,,,\n";
    let t = load(data, &opts());
    let inferred: Vec<(&str, ColumnType)> =
        t.report.inferred.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    assert_eq!(
        inferred,
        [("b", B), ("i", I), ("n", N), ("ti", Ti), ("d", D), ("t", T), ("e", N), ("zo", I)]
    );
    assert_eq!(bools(&t, "b"), [1, 0, 2]);
    assert_eq!(texts(&t, "t"), [Some("x".into()), Some("1".into()), None]);
}

#[test]
fn declared_types_are_not_reported_as_inferred() {
    let t = load("a,b\n1,2\n", &declared(&[("a", T)]));
    assert_eq!(t.report.inferred, [("b".to_owned(), I)]);
    assert_eq!(texts(&t, "a"), [Some("1".into())]);
}

#[test]
fn an_inferred_int_column_widens_to_number_after_the_sample() {
    let o = LoadOptions { infer_rows: 2, ..opts() };
    let t = load("n\n1\n2\n3.5\n4\n", &o);
    assert_eq!(nums(&t, "n"), [1.0, 2.0, 3.5, 4.0]);
    assert_eq!(ty(&t, "n"), N);
    assert_eq!(t.report.inferred, [("n".to_owned(), N)]);
}

#[test]
fn a_late_mismatch_in_an_inferred_column_says_how_the_type_was_inferred() {
    let o = LoadOptions { infer_rows: 2, ..opts() };
    let e = fail("agent,x\nann,1\nbob,2\ncid,3\ndan,abc\n", &o);
    assert_eq!(
        e.message,
        "cannot parse `abc` as int; column `x` was inferred as int from the first 2 rows"
    );
    assert_eq!(at(&e), (Some(5), Some(4), Some("x")));
    assert_eq!(e.help.as_deref(), Some("declare its type in the dataset block, e.g. `x: text`"));
    let e = fail("x,y\n,1\nabc,2\n", &LoadOptions { infer_rows: 1, ..opts() });
    assert_eq!(
        e.message,
        "cannot parse `abc` as number; column `x` was inferred as number from the first row, \
         which was empty"
    );
    let e = fail("b\nyes\nno\n2\n", &LoadOptions { infer_rows: 2, ..opts() });
    assert_eq!(
        e.message,
        "cannot parse `2` as bool; column `b` was inferred as bool from the first 2 rows"
    );
}

#[test]
fn the_default_sample_is_10000_rows() {
    let mut data = String::from("x\n");
    for i in 0..10_000 {
        data.push_str(&format!("{i}\n"));
    }
    data.push_str("oops\n");
    let e = fail(&data, &opts());
    assert_eq!(
        e.message,
        "cannot parse `oops` as int; column `x` was inferred as int from the first 10000 rows"
    );
    assert_eq!(at(&e), (Some(10_002), Some(10_001), Some("x")));
}

#[test]
fn huge_integers_infer_as_text_so_identifiers_keep_their_digits() {
    let t = load("id\n12345678901234567890\n1\n", &opts());
    assert_eq!(ty(&t, "id"), T);
    assert_eq!(texts(&t, "id")[0].as_deref(), Some("12345678901234567890"));
}

// ---------------------------------------------------------------------------------------------
// Structure: ragged rows, quotes, sizes (C05, C10, C11, C13, C15, C19)

#[test]
fn c05_short_and_long_rows_are_errors_naming_the_header() {
    let header = "contact_id,agent,queue,wait_s,talk_s\n";
    let e = fail(format!("{header}1,ann,q,5,6\n2,bob,q\n"), &opts());
    assert_eq!(
        e.message,
        "record has 3 fields, header has 5 (contact_id, agent, queue, wait_s, …)"
    );
    assert_eq!(at(&e), (Some(3), Some(2), None));
    assert_eq!(
        e.to_string(),
        "data/calls.csv:3: record 2: record has 3 fields, header has 5 (contact_id, agent, queue, wait_s, …)"
    );
    let e = fail("a,b\n1,2,3\n", &opts());
    assert_eq!(e.message, "record has 3 fields, header has 2 (a, b)");
    assert_eq!(e.help.as_deref(), Some("a value that contains the delimiter must be quoted"));
    let e = fail("a,b\n1\n", &opts());
    assert_eq!(e.message, "record has 1 field, header has 2 (a, b)");
}

#[test]
fn c05_ragged_rows_are_never_padded_even_in_unloaded_columns() {
    let o = LoadOptions { columns: Some(vec!["a".into()]), ..opts() };
    let e = fail("a,b,c\n1,2\n", &o);
    assert_eq!(e.message, "record has 2 fields, header has 3 (a, b, c)");
}

#[test]
fn c10_quoted_newlines_are_data_and_later_lines_stay_right() {
    let o = declared(&[("note", T), ("n", I)]);
    let data = "note,n\n\"line one\nline two\",1\n\"a\r\nb\rc\",2\nok,x\n";
    let e = fail(data, &o);
    assert_eq!(at(&e), (Some(7), Some(3), Some("n")));
    let t = load(&data[..data.len() - 5], &o);
    assert_eq!(texts(&t, "note"), [Some("line one\nline two".into()), Some("a\r\nb\rc".into())]);
}

#[test]
fn a_bad_cell_after_a_quoted_newline_in_the_same_record_reports_its_own_line() {
    let o = declared(&[("note", T), ("n", I)]);
    let e = fail("note,n\n\"two\nlines\",x\n", &o);
    assert_eq!(at(&e), (Some(3), Some(1), Some("n")));
    // Same answer when the record is in the inference sample.
    let o = LoadOptions { declared: vec![("n".into(), I)], ..opts() };
    let e = fail("note,n\n\"two\nlines\",x\n", &o);
    assert_eq!(at(&e), (Some(3), Some(1), Some("n")));
}

#[test]
fn c11_unclosed_quote_in_a_big_file_stops_at_the_record_cap() {
    let mut data = String::from("id,agent,note\n");
    for i in 1..=3 {
        data.push_str(&format!("{i},ann,fine\n"));
    }
    data.push_str("4,bob,\"broken\n");
    while data.len() < 3 << 20 {
        data.push_str("5,cid,more text here\n");
    }
    let e = fail(&data, &opts());
    assert_eq!(
        e.message,
        "record starting at line 5 exceeds 1 MiB; a quote is probably not closed (opened at line 5 col 7?)"
    );
    assert_eq!(at(&e), (Some(5), Some(4), None));
    // Skip mode cannot skip it either.
    assert_eq!(fail(&data, &skip(opts())).message, e.message);
}

#[test]
fn c11_unclosed_quote_that_reaches_the_end_is_an_error_not_one_silent_row() {
    let e = fail("a,b\n1,\"2\n3,4\n", &opts());
    assert_eq!(e.message, "quote opened at line 2 col 3 is never closed");
    assert_eq!(at(&e), (Some(2), Some(1), Some("b")));
    // The same with declared types, in skip mode, and in the first field.
    let e2 = fail("a,b\n1,\"2\n3,4\n", &skip(declared(&[("a", I), ("b", I)])));
    assert_eq!(e2, e);
    let e = fail("a,b\n\"1,2\n3,4\n", &opts());
    assert_eq!(e.message, "quote opened at line 2 col 1 is never closed");
    let e = fail("a,b\n\"1,2\n3,4\n", &declared(&[("a", T), ("b", T)]));
    assert_eq!(e.message, "quote opened at line 2 col 1 is never closed");
}

#[test]
fn an_unclosed_quote_in_the_header_is_reported() {
    let e = fail("a,\"b\n1,2\n", &opts());
    assert_eq!(e.message, "quote opened at line 1 col 3 is never closed");
    assert_eq!(at(&e), (Some(1), None, None));
    assert_eq!(read_header(&b"a,\"b\n1,2\n"[..], PATH, &opts()).unwrap_err(), e);
}

#[test]
fn a_quote_closed_by_the_last_byte_is_fine() {
    let t = load("a,b\n1,\"x\ny\"", &opts());
    assert_eq!(texts(&t, "b"), [Some("x\ny".into())]);
    let t = load("a,b\n1,\"x\"\"\"\n", &opts());
    assert_eq!(texts(&t, "b"), [Some("x\"".into())]);
}

#[test]
fn stray_quotes_inside_a_field_are_literal() {
    let t = load("a,b\nx\"y,2\n", &opts());
    assert_eq!(texts(&t, "a"), [Some("x\"y".into())]);
}

#[test]
fn c13_a_huge_field_is_rejected_with_bounded_memory() {
    let small = LoadOptions { max_record_bytes: 1000, ..opts() };
    let data = format!("a,b\n1,{}\n2,3\n", "x".repeat(5000));
    let e = fail(&data, &small);
    assert_eq!(e.message, "record starting at line 2 exceeds 1000 bytes");
    assert_eq!(at(&e), (Some(2), Some(1), None));
    assert_eq!(
        e.help.as_deref(),
        Some("records are limited to 1000 bytes; raise `max_record_bytes` if this one is real")
    );
    // An endless input (like /dev/zero) stops at the cap instead of exhausting memory.
    let e = match load_csv(io::Cursor::new(b"a\n").chain(Endless(0)), PATH, &opts()) {
        Err(e) => e,
        Ok(_) => panic!("an endless record loaded"),
    };
    assert_eq!(e.message, "record starting at line 2 exceeds 1 MiB");
    let e = match load_csv(Endless(b'x'), PATH, &opts()) {
        Err(e) => e,
        Ok(_) => panic!("an endless header loaded"),
    };
    assert_eq!(at(&e), (Some(1), None, None));
    assert_eq!(e.message, "record starting at line 1 exceeds 1 MiB");
}

#[test]
fn a_record_exactly_at_the_cap_loads() {
    // "1,xxx…x\n" is 1000 bytes including its terminator.
    let o = LoadOptions { max_record_bytes: 1000, ..opts() };
    let data = format!("a,b\n1,{}\n", "x".repeat(997));
    assert_eq!(load(&data, &o).rows, 1);
    let data = format!("a,b\n1,{}\n", "x".repeat(998));
    assert_eq!(fail(&data, &o).message, "record starting at line 2 exceeds 1000 bytes");
}

#[test]
fn c15_blank_lines_and_a_missing_final_newline_change_nothing() {
    let o = declared(&[("a", I), ("b", T)]);
    let plain = load("a,b\n1,x\n2,y\n", &o);
    for variant in [
        "a,b\n1,x\n2,y",
        "a,b\n\n1,x\n\n\n2,y\n",
        "\n\na,b\n1,x\n2,y\n\n\n",
        "a,b\r\n\r\n1,x\r\n2,y\r\n\r\n",
    ] {
        assert_eq!(load(variant, &o), plain, "{variant:?}");
    }
}

#[test]
fn c19_a_file_cut_inside_a_quoted_field_is_an_error() {
    let e = fail("id,note\n1,ok\n2,\"this note was cut", &opts());
    assert_eq!(e.message, "quote opened at line 3 col 3 is never closed");
    assert_eq!(at(&e), (Some(3), Some(2), Some("note")));
}

// ---------------------------------------------------------------------------------------------
// Line numbers (C09)

/// The same table with a bad cell on physical line 5, in every line-ending style.
fn line_five_variants() -> Vec<(&'static str, Vec<u8>)> {
    let lf = "a,b\n1,x\n2,y\n3,z\nbad,w\n6,v\n";
    let mut out = vec![
        ("lf", lf.as_bytes().to_vec()),
        ("crlf", lf.replace('\n', "\r\n").into_bytes()),
        ("cr", lf.replace('\n', "\r").into_bytes()),
        ("bom", format!("\u{feff}{lf}").into_bytes()),
        ("bom+crlf", format!("\u{feff}{}", lf.replace('\n', "\r\n")).into_bytes()),
        ("mixed", b"a,b\r\n1,x\r2,y\n3,z\r\nbad,w\r6,v".to_vec()),
        ("blank lines", b"a,b\n1,x\n\n\nbad,w\n6,v\n".to_vec()),
        ("blank crlf", b"a,b\r\n1,x\r\n\r\n\r\nbad,w\r\n".to_vec()),
        ("blank cr", b"a,b\r\r1,x\r\rbad,w\r".to_vec()),
        ("quoted newlines", b"a,b\n1,\"x\ny\nz\"\nbad,w\n".to_vec()),
        ("quoted crlf", b"a,b\r\n1,\"x\r\ny\r\nz\"\r\nbad,w\r\n".to_vec()),
        ("leading blank", b"\n\na,b\n1,x\nbad,w\n".to_vec()),
    ];
    out.push(("bom+blank", b"\xEF\xBB\xBF\r\n\r\na,b\r\n1,x\r\nbad,w\r\n".to_vec()));
    out
}

#[test]
fn c09_a_bad_cell_on_line_5_says_line_5_with_every_line_ending() {
    for (o, mode) in [
        (declared(&[("a", I)]), "declared"),
        (opts(), "inferred"),
        (LoadOptions { infer_rows: 1, ..opts() }, "after the sample"),
    ] {
        for (name, data) in line_five_variants() {
            let e = match load_csv(&data[..], PATH, &o) {
                Err(e) => e,
                Ok(t) => {
                    // Inference sees `bad` and makes `a` text: nothing to report then.
                    assert_eq!(mode, "inferred", "{name}");
                    assert_eq!(ty(&t, "a"), T);
                    continue;
                }
            };
            assert_eq!(e.line, Some(5), "{name}, {mode}: {e}");
            assert_eq!(e.column.as_deref(), Some("a"), "{name}, {mode}");
            // The same through a reader that delivers one byte at a time.
            let e1 = load_csv(OneByte(&data), PATH, &o).unwrap_err();
            assert_eq!(e1, e, "{name}, {mode}, one byte at a time");
        }
    }
}

#[test]
fn c09_bom_crlf_and_cr_files_load_the_same_table() {
    let o = declared(&[("a", I), ("b", T)]);
    let lf = "a,b\n1,x\n2,\"y\nz\"\n3,\n";
    let want = load(lf, &o);
    assert_eq!(texts(&want, "b")[1].as_deref(), Some("y\nz"));
    for data in [
        format!("\u{feff}{lf}"),
        lf.replace('\n', "\r\n").replace("y\r\nz", "y\nz"),
        lf.replace('\n', "\r").replace("y\rz", "y\nz"),
    ] {
        assert_eq!(load(&data, &o), want, "{data:?}");
        assert_eq!(load_csv(OneByte(data.as_bytes()), PATH, &o).unwrap(), want);
    }
}

#[test]
fn ragged_row_lines_are_physical_lines() {
    let e = fail(b"a,b\r\n\r\n1,2\r\n\r\n3\r\n", &opts());
    assert_eq!(at(&e), (Some(5), Some(2), None));
}

// ---------------------------------------------------------------------------------------------
// UTF-8 and unloaded columns (C12)

#[test]
fn c12_invalid_utf8_in_a_loaded_cell_is_a_cell_error() {
    let e = fail(b"agent,n\nann,1\nb\xffb,2\n", &declared(&[("agent", T)]));
    assert_eq!(e.message, "invalid utf-8 in `b\\xffb`");
    assert_eq!(at(&e), (Some(3), Some(2), Some("agent")));
    let e = fail(b"n\n1\xff\n", &declared(&[("n", N)]));
    assert_eq!(e.message, "invalid utf-8 in `1\\xff`");
    // Inferred columns ignore the bad cell while inferring, then report it.
    let e = fail(b"agent\nann\nb\xffb\n", &opts());
    assert_eq!(e.message, "invalid utf-8 in `b\\xffb`");
}

#[test]
fn c12_in_skip_mode_only_the_row_with_bad_utf8_is_dropped() {
    let t = load(b"agent,n\nann,1\nb\xffb,2\ncid,3\n", &skip(opts()));
    assert_eq!(texts(&t, "agent"), [Some("ann".into()), Some("cid".into())]);
    assert_eq!(nums(&t, "n"), [1.0, 3.0]);
    assert_eq!(t.report.skipped, 1);
    assert_eq!(t.report.first_errors[0].line, Some(3));
}

#[test]
fn unloaded_columns_are_not_decoded_at_all() {
    let o = LoadOptions { columns: Some(vec!["n".into(), "agent".into()]), ..opts() };
    let t = load(b"agent,junk,n\nann,\xff\xfe,1\nbob,nan,2\n", &o);
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["n", "agent"]);
    assert_eq!(nums(&t, "n"), [1.0, 2.0]);
    assert_eq!(t.report.inferred, [("n".into(), I), ("agent".into(), T)]);
}

#[test]
fn a_column_asked_for_twice_is_loaded_once() {
    let o = LoadOptions { columns: Some(vec!["n".into(), "n".into()]), ..opts() };
    assert_eq!(load("n\n1\n", &o).columns.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Bad-row policy

#[test]
fn skip_mode_counts_rows_and_keeps_the_first_five_errors() {
    let mut data = String::from("id,n\n");
    for i in 1..=20 {
        if i % 2 == 0 {
            data.push_str(&format!("{i},bad{i}\n"));
        } else {
            data.push_str(&format!("{i},{i}\n"));
        }
    }
    data.push_str("21\n");
    let t = load(&data, &skip(declared(&[("n", I)])));
    assert_eq!(t.report.records_read, 21);
    assert_eq!(t.rows, 10);
    assert_eq!(t.report.skipped, 11);
    assert_eq!(nums(&t, "id"), [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0]);
    let kept: Vec<_> = t.report.first_errors.iter().map(at).collect();
    assert_eq!(
        kept,
        [
            (Some(3), Some(2), Some("n")),
            (Some(5), Some(4), Some("n")),
            (Some(7), Some(6), Some("n")),
            (Some(9), Some(8), Some("n")),
            (Some(11), Some(10), Some("n")),
        ]
    );
    assert_eq!(t.report.first_errors[0].message, "cannot parse `bad2` as int");
}

#[test]
fn skip_mode_drops_the_whole_row_and_keeps_every_error_of_it() {
    let o = skip(declared(&[("a", I), ("b", I), ("t", T)]));
    let t = load("a,b,t\n1,2,keep\nx,y,gone\n3,4,also\n", &o);
    assert_eq!(texts(&t, "t"), [Some("keep".into()), Some("also".into())]);
    // The skipped row's text never reached the dictionary.
    match &t.column("t").unwrap().data {
        ColumnData::Text { dict, .. } => assert_eq!(dict.len(), 2),
        _ => unreachable!("t is text"),
    }
    assert_eq!(t.report.skipped, 1);
    let cols: Vec<_> = t.report.first_errors.iter().map(|e| e.column.as_deref()).collect();
    assert_eq!(cols, [Some("a"), Some("b")]);
}

#[test]
fn skip_mode_skips_ragged_rows_in_and_after_the_sample() {
    let o = LoadOptions { infer_rows: 2, ..skip(opts()) };
    let t = load("a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n", &o);
    assert_eq!(nums(&t, "a"), [1.0, 4.0, 9.0]);
    assert_eq!(t.report.skipped, 2);
    assert_eq!(t.report.first_errors[1].message, "record has 3 fields, header has 2 (a, b)");
    assert_eq!(at(&t.report.first_errors[1]), (Some(5), Some(4), None));
}

#[test]
fn fail_mode_reports_the_first_bad_cell_of_the_first_bad_row() {
    let e = fail("a,b\n1,2\nx,y\n", &declared(&[("a", I), ("b", I)]));
    assert_eq!(at(&e), (Some(3), Some(2), Some("a")));
}

// ---------------------------------------------------------------------------------------------
// I/O

#[test]
fn read_errors_are_reported_with_the_line_being_read() {
    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let data = b"a,b\n1,2\n3,";
            if self.0 >= data.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "disk on fire"));
            }
            let n = (data.len() - self.0).min(buf.len());
            buf[..n].copy_from_slice(&data[self.0..self.0 + n]);
            self.0 += n;
            Ok(n)
        }
    }
    let e = match load_csv(Broken(0), PATH, &opts()) {
        Err(e) => e,
        Ok(_) => panic!("loaded despite a read error"),
    };
    assert_eq!(e.message, "cannot read the file: disk on fire");
    assert_eq!(e.line, Some(3));
}

#[test]
fn interrupted_reads_are_retried() {
    struct Flaky<'a>(&'a [u8], bool);
    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            self.0.read(buf)
        }
    }
    let t = load_csv(Flaky(b"a\n1\n2\n", false), PATH, &opts()).unwrap();
    assert_eq!(nums(&t, "a"), [1.0, 2.0]);
}

#[test]
fn read_header_returns_names_without_reading_rows() {
    let data = b"agent, queue ,wait_s\nann,q,\xff\n";
    assert_eq!(read_header(&data[..], PATH, &opts()).unwrap(), ["agent", "queue", "wait_s"]);
    let e = read_header(&b"a,a\n"[..], PATH, &opts()).unwrap_err();
    assert_eq!(e.message, "duplicate column name `a` (columns 1 and 2)");
}

#[test]
fn column_type_names_round_trip() {
    for t in ColumnType::ALL {
        assert_eq!(t.to_string().parse::<ColumnType>(), Ok(t));
    }
    assert_eq!(I.to_string(), "int");
    assert_eq!(Du.to_string(), "duration");
    assert!("integer".parse::<ColumnType>().is_err());
}

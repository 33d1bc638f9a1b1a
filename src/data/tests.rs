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
    assert_eq!(
        e.help.as_deref(),
        Some(
            "export only the columns the KPIs read (the limit is listed under Limits in \
             docs/language.md)"
        ),
        "the help names what a user can do, not a setting that the CLI does not have"
    );
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
        Some(
            "leave the cell empty for a missing value, or name this text as null: `csv(\"...\", null: \"N/A\")`"
        )
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
    assert_eq!(
        e.help.as_deref(),
        Some(
            "`--bad-rows skip` leaves such rows out; if the column holds text, declare it in the dataset block: `x: text`"
        )
    );
    let e = fail("x,y\n,1\nabc,2\n", &LoadOptions { infer_rows: 1, ..opts() });
    assert_eq!(
        e.message,
        "cannot parse `abc` as number; column `x` was inferred as number from the first row, \
         which was empty"
    );
    // Nothing sampled: the help names the type of the value found (bool).
    assert_eq!(e.help.as_deref(), Some("declare its type in the dataset block, e.g. `x: text`"));
    let e = fail("x,y\n,1\ntrue,2\n", &LoadOptions { infer_rows: 1, ..opts() });
    assert_eq!(e.help.as_deref(), Some("declare its type in the dataset block, e.g. `x: bool`"));
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

#[path = "structure_tests.rs"]
mod structure;

#[test]
fn a_value_of_the_neighbouring_time_type_says_which_type_to_declare() {
    let e = fail("d\n2026-03-14T10:00:00Z\n", &declared(&[("d", D)]));
    assert_eq!(e.help.as_deref(), Some("this has a time of day; declare the column as `time`"));
    let e = fail("t\n2026-03-14\n", &declared(&[("t", Ti)]));
    assert_eq!(
        e.help.as_deref(),
        Some("this is a date without a time; declare the column as `date`")
    );
}

#[test]
fn limits_are_named_in_the_largest_whole_unit() {
    use super::source::show_bytes;
    assert_eq!(show_bytes(1 << 20), "1 MiB");
    assert_eq!(show_bytes(3 << 20), "3 MiB");
    assert_eq!(show_bytes(64 << 10), "64 KiB");
    assert_eq!(show_bytes((1 << 20) + 1024), "1025 KiB");
    assert_eq!(show_bytes(1000), "1000 bytes");
    assert_eq!(show_bytes(0), "0 bytes");
}

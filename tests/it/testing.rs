//! `kpiblend test`: the `test` blocks of KPI files, run against their own data.
//!
//! Fixtures live in `tests/fixtures/testing/`: `definitions.kpi` (shared definitions,
//! imported by the others), `passing.kpi` (every kind of expectation, all holding, with
//! the hand computation in its header), `failing.kpi` (one failure of each kind),
//! `errors.kpi` (tests that cannot run), `static_errors.kpi` (tests with problems that
//! `check` finds), `broken.kpi` (definitions with an error) and the CSV files under
//! `fixtures/`.

use std::path::PathBuf;

use kpiblend::diagnostic::Code;
use kpiblend::testing::report::{self, Run};
use kpiblend::testing::{self, ExpectResult, Field, FileResults, Outcome, TestResult, TestValue};
use serde_json::Value as Json;

use crate::support::{self, kpiblend, stderr, stdout};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const DIR: &str = "tests/fixtures/testing";

fn path(name: &str) -> PathBuf {
    support::root().join(DIR).join(name)
}

/// Runs a fixture's tests through the library.
fn run(name: &str, filter: Option<&str>) -> FileResults {
    testing::run_file(&path(name), filter).unwrap_or_else(|e| panic!("{name} did not run:\n{e}"))
}

/// Runs tests written inline (definitions and tests in one text).
fn run_text(text: &str) -> FileResults {
    let dir = support::root().join(DIR);
    testing::run_source("inline.kpi", &support::unindent(text), &dir, None)
        .unwrap_or_else(|e| panic!("inline tests did not run:\n{e}"))
}

fn test<'a>(r: &'a FileResults, name: &str) -> &'a TestResult {
    r.tests.iter().find(|t| t.name == name).unwrap_or_else(|| {
        let names: Vec<_> = r.tests.iter().map(|t| &t.name).collect();
        panic!("no test named {name:?}; tests: {names:?}")
    })
}

fn expect<'a>(t: &'a TestResult, text: &str) -> &'a ExpectResult {
    t.expects.iter().find(|e| e.text == text).unwrap_or_else(|| {
        let texts: Vec<_> = t.expects.iter().map(|e| &e.text).collect();
        panic!("no `{text}` in test {:?}; expects: {texts:?}", t.name)
    })
}

fn num(x: f64) -> Option<TestValue> {
    Some(TestValue::Number(x))
}

fn word(w: &str) -> Option<TestValue> {
    Some(TestValue::Word(w.into()))
}

/// Runs the binary in the repository root, so paths in its output are relative.
fn cli(args: &[&str]) -> std::process::Output {
    kpiblend(&support::root(), args)
}

fn fixture_arg(name: &str) -> String {
    format!("{DIR}/{name}")
}

// ---------------------------------------------------------------------------------------------
// Passing tests
// ---------------------------------------------------------------------------------------------

#[test]
fn the_example_files_test_passes() {
    let r = testing::run_file(&support::root().join("examples/contact_center.kpi"), None).unwrap();
    let t = test(&r, "aht counts handled contacts only");
    assert_eq!(t.outcome, Outcome::Passed, "{t:#?}");
    assert_eq!(expect(t, "expect handled == 2").actual, num(2.0));
    assert_eq!(expect(t, "expect aht == 180").actual, num(180.0));
    assert!(r.tests.iter().all(|t| t.outcome == Outcome::Passed), "{:#?}", r.tests);

    let out = cli(&["test", "examples/contact_center.kpi"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let tally = format!("{} passed, 0 failed", r.tests.len());
    assert_eq!(stdout(&out).lines().last(), Some(tally.as_str()));
}

#[test]
fn without_files_it_tests_the_kpi_files_of_the_current_directory() {
    let dir = support::TempDir::new("testing-default");
    let defs = "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n";
    dir.write("a.kpi", &format!("{defs}test \"a\" {{ expect n == 0 }}\n"));
    dir.write("b.kpi", &format!("{defs}test \"b\" {{ expect n == 1 }}\n"));
    dir.write("notes.txt", "not a kpi file");
    let out = kpiblend(dir.path(), &["test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("PASS  a.kpi:3  a\nFAIL  b.kpi:3  b\n"), "{}", stdout(&out));

    let empty = support::TempDir::new("testing-empty");
    let out = kpiblend(empty.path(), &["test"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no .kpi files in the current directory"));
}

#[test]
fn every_kind_of_expectation_can_pass() {
    let r = run("passing.kpi", None);
    assert_eq!(r.tests.len(), 7);
    for t in &r.tests {
        assert!(t.errors.is_empty(), "{}: {:#?}", t.name, t.errors);
        for e in &t.expects {
            assert_eq!(e.outcome, Outcome::Passed, "{}: {e:#?}", t.name);
        }
        assert_eq!(t.outcome, Outcome::Passed);
    }
    assert_eq!(r.tests.iter().map(|t| t.expects.len()).sum::<usize>(), 54);
    assert_eq!(r.counts(), testing::Counts { passed: 7, failed: 0, errors: 0 });

    let t = test(&r, "every kind of expectation holds on the fixture files");
    // KPI values in their raw unit: seconds, fractions.
    assert_eq!(expect(t, "expect aht == 5m + 18s").actual, num(318.0));
    assert_eq!(expect(t, "expect fcr == 80%").actual, num(0.8));
    // Statuses, blend scores and verdicts, with and without a field.
    let status = expect(t, "expect aht.status == \"warn\"");
    assert_eq!((status.field, status.actual.clone()), (Field::Status, word("warn")));
    assert_eq!(expect(t, "expect aht_with_csat.score == 0").field, Field::Score);
    let implicit = expect(t, "expect aht_with_csat == breach");
    assert_eq!((implicit.field, implicit.actual.clone()), (Field::Verdict, word("breach")));
    // A param as the expected value.
    assert_eq!(expect(t, "expect asa <= answer_within").expected, TestValue::Number(20.0));
}

#[test]
fn group_selectors_pick_groups_by_dim_value() {
    let r = run("passing.kpi", None);
    let t = test(&r, "group selectors pick one group");
    // Text, date and string-for-date picks, and several picks in any order.
    assert_eq!(expect(t, "expect aht[site = \"north\"] == 250").actual, num(250.0));
    assert_eq!(expect(t, "expect aht[week = 2026-03-02] == 300").actual, num(300.0));
    assert_eq!(expect(t, "expect aht[week = \"2026-03-09\"] == 345").actual, num(345.0));
    let both = expect(t, "expect aht[week = 2026-03-09, site = \"south\"] == 480");
    assert_eq!(both.actual, num(480.0));
    assert_eq!(both.group.len(), 2);
    assert_eq!((both.group[0].dim.as_str(), both.group[0].value.as_str()), ("week", "2026-03-09"));
    let status = expect(t, "expect fcr.status[site = \"north\"] == fail");
    assert_eq!(status.actual, word("fail"));
}

#[test]
fn a_tests_datasets_replace_the_files_and_those_it_omits_are_empty() {
    let r = run("passing.kpi", None);
    let t = test(&r, "datasets a test does not give are empty");
    assert_eq!(t.outcome, Outcome::Passed);
    assert_eq!(expect(t, "expect handled == 0").actual, num(0.0));
    assert_eq!(expect(t, "expect aht == null").actual, Some(TestValue::Null));
    // `surveys` rows reach no `calls` row: `calls.escalated` reads as null.
    assert_eq!(expect(t, "expect csat_escalated == null").actual, Some(TestValue::Null));
    assert_eq!(expect(t, "expect aht_with_csat.score == null").actual, Some(TestValue::Null));
}

#[test]
fn fixtures_need_only_the_columns_the_expectations_read() {
    // `calls` has only `abandoned`: fcr, aht and the declared `wait_s: int` are absent.
    let r = run("passing.kpi", None);
    assert_eq!(test(&r, "columns no expectation needs may be left out").outcome, Outcome::Passed);
    // The same holds next to an expectation that errors.
    let r = run("errors.kpi", None);
    let t = test(&r, "a column an expectation needs is missing");
    assert_eq!(t.errors.len(), 1, "only `resolved` is missing: {:#?}", t.errors);
}

#[test]
fn tests_of_imported_files_run_only_in_their_own_file() {
    let r = run("passing.kpi", None);
    assert!(r.tests.iter().all(|t| !t.name.starts_with("definitions:")));
    let r = run("definitions.kpi", None);
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].outcome, Outcome::Passed);
}

// ---------------------------------------------------------------------------------------------
// Failing tests
// ---------------------------------------------------------------------------------------------

#[test]
fn failed_values_carry_expected_actual_and_difference() {
    let r = run("failing.kpi", None);
    let t = test(&r, "values that differ");
    assert_eq!(t.outcome, Outcome::Failed);
    let e = expect(t, "expect aht == 300");
    assert_eq!(
        (e.outcome, e.actual.clone(), e.difference),
        (Outcome::Failed, num(318.0), Some(18.0))
    );
    assert_eq!((e.line, e.column), (9, 5));
    assert_eq!(expect(t, "expect aht == 318").outcome, Outcome::Passed);
    for text in [
        "expect fcr == 75%",
        "expect csat > 4",
        "expect handled != 5",
        "expect aht <= 5m",
        "expect aht >= 6m",
        "expect aht < 318",
        "expect service_level == 0.5000001 within 0.00000001",
        "expect csat_escalated == null",
        "expect cost_per_contact == 6 within 0.05",
    ] {
        assert_eq!(expect(t, text).outcome, Outcome::Failed, "{text}");
    }
    let null = expect(t, "expect csat_escalated == null");
    assert_eq!((null.actual.clone(), null.difference), (num(2.5), None));
    assert_eq!(expect(t, "expect cost_per_contact == 6 within 0.05").tolerance, Some(0.05));

    let t = test(&r, "null where a number was expected");
    assert_eq!(expect(t, "expect aht == 300").actual, Some(TestValue::Null));
}

#[test]
fn failed_statuses_and_verdicts_say_why() {
    let r = run("failing.kpi", None);
    let t = test(&r, "statuses and verdicts that differ");
    let status = expect(t, "expect aht.status == ok");
    assert_eq!(status.actual, word("warn"));
    assert_eq!(status.message.as_deref(), Some("value 5m 18s, target ≤ 5m, warn ≤ 6m"));
    let verdict = expect(t, "expect aht_with_csat.verdict == pass");
    assert_eq!(verdict.actual, word("breach"));
    let why = verdict.message.as_deref().unwrap_or_default();
    assert!(why.contains("guard `csat >= 4.2` fails: csat >= 4.2 (csat = 3.5)"), "{why}");
    assert_eq!(expect(t, "expect aht_with_csat.score > 50").actual, num(0.0));
}

#[test]
fn a_group_missing_from_the_data_fails_and_lists_the_groups() {
    let r = run("failing.kpi", None);
    let t = test(&r, "groups that differ or do not exist");
    let e = expect(t, "expect aht[site = \"west\"] == 240");
    assert_eq!((e.outcome, e.actual.clone()), (Outcome::Failed, None));
    assert_eq!(
        e.message.as_deref(),
        Some("no group where site = \"west\"; site in the data: north, south")
    );
    assert_eq!(expect(t, "expect aht[site = \"north\"] == 240").actual, num(250.0));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn a_missing_needed_column_is_an_error_naming_column_and_fixture() {
    let r = run("errors.kpi", None);
    let cases = [
        (
            "a column an expectation needs is missing",
            "test data for `calls` has no column `resolved`",
        ),
        (
            "a link key a grouped expectation needs is missing",
            "test data for `surveys` has no column `contact_id`",
        ),
        (
            "a fixture file without a column an expectation needs",
            "test data for `calls` has no column `resolved`",
        ),
    ];
    for (name, message) in cases {
        let t = test(&r, name);
        assert_eq!(t.outcome, Outcome::Error, "{name}");
        assert!(t.expects.is_empty(), "{name}: the expectations do not run");
        assert_eq!(t.errors[0].code, Code::UnknownColumn, "{name}");
        assert_eq!(t.errors[0].message, message, "{name}");
    }
    let file = test(&r, "a fixture file without a column an expectation needs");
    let label = &file.errors[0].labels[0].message;
    assert_eq!(label, "`fixtures/calls_semicolon.csv` has no `resolved` column");
}

/// `check` finds what `test` would stop those tests with, at the data that lacks the
/// column (`test` runs the other tests and reports these as the tests' errors).
#[test]
fn check_finds_test_data_without_a_column_the_expectations_need() {
    let out = cli(&["check", &fixture_arg("errors.kpi")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stdout(&out);
    for (message, place) in [
        ("test data for `calls` has no column `resolved`", "errors.kpi:8:9"),
        ("test data for `surveys` has no column `contact_id`", "errors.kpi:18:9"),
        ("test data for `calls` has no column `resolved`", "errors.kpi:25:17"),
    ] {
        let at = format!("error[KB0101]: {message}\n --> {DIR}/{place}\n");
        let at_wide = format!("error[KB0101]: {message}\n  --> {DIR}/{place}\n");
        assert!(err.contains(&at) || err.contains(&at_wide), "{place}: {err}");
    }
}

/// `(code, line, column)` of each diagnostic with a place.
fn places(
    diagnostics: &[kpiblend::diagnostic::Diagnostic],
    sources: &kpiblend::source::SourceMap,
) -> Vec<(String, usize, usize)> {
    diagnostics
        .iter()
        .filter_map(|d| {
            let span = d.primary_span()?;
            let lc = sources.get(span.file)?.line_col(span.start as usize);
            Some((d.code.to_string(), lc.line, lc.column))
        })
        .collect()
}

#[test]
fn problems_found_without_running_are_reported_by_check_and_stop_test() {
    let err = testing::run_file(&path("static_errors.kpi"), None).unwrap_err();
    let found = places(&err.diagnostics, &err.sources);
    let expected = [
        ("KB0503", 10, 9),  // `soon` in a declared int column
        ("KB0501", 16, 17), // fixtures/missing.csv
        ("KB0102", 21, 26), // `okay` is not a status
        ("KB0208", 25, 28), // within -1
        ("KB0201", 29, 36), // a verdict ordered with `<`
        ("KB0104", 33, 32), // `site` picked again
        ("KB0104", 53, 6),  // the test name, given again
    ];
    for (code, line, column) in expected {
        assert!(
            found.contains(&(code.to_string(), line, column)),
            "{code} at {line}:{column} not in {found:?}"
        );
    }
    // Columns typed by the fixture: reported at the KPI that reads them, once per test,
    // with the fixture's header as a second place.
    let typed: Vec<_> = err
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::ArgumentType || d.code == Code::TypeMismatch)
        .filter(|d| d.notes.iter().any(|n| n.starts_with("with the data of test")))
        .collect();
    assert_eq!(typed.len(), 2, "{typed:#?}");
    for d in &typed {
        let header = d
            .labels
            .iter()
            .find(|l| l.message.starts_with("in this test data"))
            .expect("a label at the fixture");
        let lc = err.sources.get(header.span.file).unwrap().line_col(header.span.start as usize);
        assert!([(38, 9), (46, 9)].contains(&(lc.line, lc.column)), "{lc:?}");
        let text = if lc.line == 38 { "`acw_s` is text" } else { "`talk_s` is text" };
        assert!(header.message.contains(text), "{}", header.message);
    }

    // `check` finds the same. (With the data files, it also says they are missing:
    // definitions.kpi names files that do not exist.)
    for no_data in [true, false] {
        let file = fixture_arg("static_errors.kpi");
        let mut args = vec!["check", file.as_str(), "--format", "json"];
        if no_data {
            args.push("--no-data");
        }
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let v: Json = serde_json::from_str(&stdout(&out)).unwrap();
        let checked: Vec<(String, usize, usize)> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| !d["line"].is_null())
            .map(|d| {
                let n = |k: &str| usize::try_from(d[k].as_u64().unwrap_or(0)).unwrap();
                (d["code"].as_str().unwrap_or_default().to_string(), n("line"), n("column"))
            })
            .collect();
        let missing: Vec<_> = found.iter().filter(|f| !checked.contains(f)).collect();
        assert!(missing.is_empty(), "check --no-data={no_data} misses {missing:?}");
        if no_data {
            assert_eq!(checked.len(), found.len(), "{checked:?} vs {found:?}");
        }
    }
}

#[test]
fn definitions_with_errors_run_no_test() {
    let err = testing::run_file(&path("broken.kpi"), None).unwrap_err();
    assert_eq!(err.diagnostics[0].code, Code::NotConstant);
    let err = testing::run_file(&path("no-such-file.kpi"), None).unwrap_err();
    assert_eq!(err.diagnostics[0].code, Code::CannotRead);
}

// ---------------------------------------------------------------------------------------------
// Comparison rules
// ---------------------------------------------------------------------------------------------

const RULES: &str = r#"
    dataset t = csv("t.csv")
    kpi x = sum(t.x)
    kpi big = sum(t.x) * 1e12

    test "rules" {
        t = csv """
            x
            0.1
            0.2
        """
        expect x == 0.3
        expect big == 300000000000.0001
        expect big == 300000000001 within 1
        expect big != 300000000002 within 1
        expect x != 0.3000001
        expect x < 0.3000001
        expect x <= 0.3
        expect x > 0.3
        expect x < 0.3
    }
"#;

#[test]
fn numbers_compare_within_a_default_or_explicit_tolerance() {
    let r = run_text(RULES);
    let t = test(&r, "rules");
    let outcome = |text| expect(t, text).outcome;
    // 0.1 + 0.2 is 0.30000000000000004: equal within 1e-9.
    assert_eq!(outcome("expect x == 0.3"), Outcome::Passed);
    // Relative for large values: 1e-4 apart out of 3e11.
    assert_eq!(outcome("expect big == 300000000000.0001"), Outcome::Passed);
    assert_eq!(outcome("expect big == 300000000001 within 1"), Outcome::Passed);
    assert_eq!(outcome("expect big != 300000000002 within 1"), Outcome::Passed);
    assert_eq!(outcome("expect x != 0.3000001"), Outcome::Passed);
    assert_eq!(outcome("expect x < 0.3000001"), Outcome::Passed);
    // Orderings treat values within the tolerance as equal.
    assert_eq!(outcome("expect x <= 0.3"), Outcome::Passed);
    assert_eq!(outcome("expect x > 0.3"), Outcome::Failed);
    assert_eq!(outcome("expect x < 0.3"), Outcome::Failed);
}

#[test]
fn expectations_that_cannot_be_compared_stop_the_file() {
    let text = support::unindent(
        r#"
        dataset t = csv("t.csv")
        kpi x = sum(t.x)  target >= 1
        test "bad" {
            expect x < null
            expect x == 1 within -1
            expect x.status < ok
            expect x.status == 3
            expect x == "text"
        }
        "#,
    );
    let dir = support::root().join(DIR);
    let err = testing::run_source("inline.kpi", &text, &dir, None).unwrap_err();
    let messages: Vec<&str> = err.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`<` compares numbers; use `==` or `!=` here",
            "`within` needs a number of zero or more",
            "`<` compares numbers; use `==` or `!=` here",
            "a status is a word: none, ok, warn, fail, insufficient",
            "the value of `x` is a number",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The command line: filter, output formats, exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn filter_runs_only_tests_whose_names_contain_it() {
    let r = run("passing.kpi", Some("group"));
    let names: Vec<_> = r.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["group selectors pick one group"]);

    let out = cli(&["test", &fixture_arg("failing.kpi"), "--filter", "passes"]);
    assert_eq!(out.status.code(), Some(0), "the failing tests were filtered out");
    assert_eq!(
        stdout(&out),
        "PASS  tests/fixtures/testing/failing.kpi:42  this one passes\n\n1 passed, 0 failed\n"
    );

    let out = cli(&["test", &fixture_arg("passing.kpi"), "--filter", "no such test"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).ends_with("0 passed, 0 failed\n"), "{}", stdout(&out));
    assert_eq!(stderr(&out), "note: no tests ran: no test name contains `no such test`\n");
}

#[test]
fn human_output_golden() {
    for name in ["passing", "failing", "errors", "static_errors", "broken"] {
        let out = cli(&["test", &fixture_arg(&format!("{name}.kpi"))]);
        support::golden(&format!("testing/{name}.txt"), &stdout(&out));
    }
}

#[test]
fn the_tally_is_the_last_line() {
    let out = cli(&["test", &fixture_arg("passing.kpi"), &fixture_arg("failing.kpi")]);
    let text = stdout(&out);
    assert_eq!(text.lines().last(), Some("8 passed, 5 failed"));
    let out = cli(&["test", &fixture_arg("failing.kpi"), &fixture_arg("errors.kpi")]);
    assert_eq!(stdout(&out).lines().last(), Some("2 passed, 5 failed, 3 errors"));
}

#[test]
fn exit_codes_say_pass_fail_or_error() {
    let code = |files: &[&str]| {
        let mut args = vec!["test".to_string()];
        args.extend(files.iter().map(|f| fixture_arg(f)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&args).status.code()
    };
    assert_eq!(code(&["passing.kpi"]), Some(0));
    assert_eq!(code(&["passing.kpi", "failing.kpi"]), Some(1));
    assert_eq!(code(&["errors.kpi"]), Some(2));
    assert_eq!(code(&["failing.kpi", "errors.kpi"]), Some(2), "errors outrank failures");
    // Errors in the definitions are findings, as `check` says them (red team: 2 here, 1
    // from `check`, against the README's exit codes).
    assert_eq!(code(&["broken.kpi"]), Some(1));
    assert_eq!(cli(&["check", &fixture_arg("broken.kpi")]).status.code(), Some(1));
    assert_eq!(code(&["broken.kpi", "errors.kpi"]), Some(2));
    assert_eq!(code(&["no-such-file.kpi"]), Some(2));
}

/// A file named twice runs once: JUnit needs each classname and name once.
#[test]
fn a_file_named_twice_runs_once() {
    let out = cli(&["test", &fixture_arg("passing.kpi"), &format!("./{DIR}/passing.kpi")]);
    let once = cli(&["test", &fixture_arg("passing.kpi")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), stdout(&once));
}

/// Values within the tolerance are equal for `<` and `>` too, and a failure says so when
/// the plain numbers would have passed (red team: `3 < 3.5 within 1` failing read as a bug).
#[test]
fn an_ordering_within_the_tolerance_fails_and_says_why() {
    let dir = support::TempDir::new("testing-within-order");
    dir.write(
        "w.kpi",
        "dataset t = csv(\"t.csv\")\nkpi s = sum(t.v)\n\
         test \"w\" {\n    t = csv \"\"\"\n        v\n        3\n    \"\"\"\n\
         expect s < 3.5 within 1\n    expect s <= 3.5 within 1\n    expect s < 2.5 within 0.4\n    expect s > 1 within 1\n}\n",
    );
    let out = kpiblend(dir.path(), &["test", "w.kpi"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The first fails with the note; the second passes; the third and fourth fail as
    // plain numbers do (3 is not below 2.5; 3 > 1 by more than 1 would pass: 2 > 1).
    assert_eq!(
        text.matches("note: values within the tolerance count as equal").count(),
        1,
        "{text}"
    );
    assert!(text.contains("expect s < 3.5 within 1"), "{text}");
    assert!(!text.contains("expect s <= 3.5 within 1"), "{text}");
    assert!(text.contains("expect s < 2.5 within 0.4"), "{text}");
    assert!(!text.contains("expect s > 1 within 1\n"), "{text}");
}

#[test]
fn json_output_is_structured() {
    let out = cli(&["test", &fixture_arg("failing.kpi"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Json = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["summary"], serde_json::json!({"passed": 1, "failed": 5, "errors": 0}));
    let test = &v["files"][0]["tests"][0];
    assert_eq!(test["name"], "values that differ");
    assert_eq!(test["outcome"], "failed");
    let e = &test["expects"][0];
    assert_eq!(e["text"], "expect aht == 300");
    assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(9), Some(5)));
    assert_eq!((e["expected"].as_f64(), e["actual"].as_f64()), (Some(300.0), Some(318.0)));
    assert_eq!((e["difference"].as_f64(), e["op"].as_str()), (Some(18.0), Some("==")));
    assert_eq!((e["outcome"].as_str(), e["unit"].as_str()), (Some("failed"), Some("seconds")));

    let out = cli(&["test", &fixture_arg("errors.kpi"), "--format", "json"]);
    let v: Json = serde_json::from_str(&stdout(&out)).unwrap();
    let error = &v["files"][0]["tests"][0]["errors"][0];
    assert_eq!(error["code"], "KB0101");
    assert_eq!((error["line"].as_u64(), error["column"].as_u64()), (Some(8), Some(9)));
}

/// A minimal XML reader: checks that tags nest and close, that attribute values are quoted
/// and escaped, and that `&` only starts an entity; returns each element's name and
/// attributes (unescaped), in document order.
fn parse_xml(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let table = [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&#10;", "\n")];
    let table = [&table[..], &[("&#13;", "\r"), ("&#9;", "\t"), ("&amp;", "&")]].concat();
    let unescape = |s: &str| table.iter().fold(s.to_string(), |s, (e, c)| s.replace(e, c));
    let entities: Vec<&str> = table.iter().map(|(e, _)| *e).collect();
    let mut elements = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("prolog");
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        for (i, _) in text.match_indices('&') {
            assert!(entities.iter().any(|e| text[i..].starts_with(e)), "bare & in {text:?}");
        }
        let gt = rest[lt..].find('>').expect("tag closes") + lt;
        let tag = &rest[lt + 1..gt];
        assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attrs = Vec::new();
        while let Some(eq) = attrs_text.find("=\"") {
            let key = attrs_text[..eq].trim().to_string();
            let value_end = attrs_text[eq + 2..].find('"').expect("attribute closes") + eq + 2;
            let raw = &attrs_text[eq + 2..value_end];
            for (i, _) in raw.match_indices('&') {
                assert!(entities.iter().any(|e| raw[i..].starts_with(e)), "bare & in {raw:?}");
            }
            attrs.push((key, unescape(raw)));
            attrs_text = &attrs_text[value_end + 1..];
        }
        assert!(attrs_text.trim().is_empty(), "junk in a tag: {attrs_text:?}");
        elements.push((name.to_string(), attrs));
        if !self_closing {
            open.push(name.to_string());
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    assert!(rest.trim().is_empty());
    elements
}

fn attr<'a>(e: &'a (String, Vec<(String, String)>), key: &str) -> &'a str {
    e.1.iter().find(|(k, _)| k == key).map_or_else(|| panic!("no {key} on {}", e.0), |(_, v)| v)
}

#[test]
fn junit_output_is_well_formed_and_escaped() {
    let files = [fixture_arg("passing.kpi"), fixture_arg("failing.kpi"), fixture_arg("errors.kpi")];
    let out = cli(&["test", &files[0], &files[1], &files[2], "--format", "junit"]);
    assert_eq!(out.status.code(), Some(2));
    let elements = parse_xml(&stdout(&out));
    let of = |name: &str| elements.iter().filter(|e| e.0 == name).collect::<Vec<_>>();

    let root = &of("testsuites")[0];
    assert_eq!(
        (attr(root, "tests"), attr(root, "failures"), attr(root, "errors")),
        ("17", "5", "3")
    );
    let suites = of("testsuite");
    let suite_names: Vec<&str> = suites.iter().map(|s| attr(s, "name")).collect();
    assert_eq!(suite_names, files.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!((attr(suites[1], "tests"), attr(suites[1], "failures")), ("6", "5"));
    assert_eq!(attr(suites[2], "errors"), "3");
    for e in elements.iter().filter(|e| e.0 == "testsuite" || e.0 == "testcase") {
        attr(e, "time").parse::<f64>().expect("time in seconds");
    }

    let cases = of("testcase");
    assert_eq!(cases.len(), 17);
    let mut ids: Vec<(&str, &str)> =
        cases.iter().map(|c| (attr(c, "classname"), attr(c, "name"))).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 17, "classname + name is unique");
    assert!(
        cases.iter().any(|c| attr(c, "name") == "names are escaped: <&> \"quotes\" 'apostrophes'")
    );
    let raw = stdout(&out);
    assert!(raw.contains(
        "name=\"names are escaped: &lt;&amp;&gt; &quot;quotes&quot; &apos;apostrophes&apos;\""
    ));

    let failures = of("failure");
    assert_eq!(failures.len(), 5);
    assert_eq!(attr(failures[0], "message"), "expect aht == 300: actual 318 (5m 18s)");
    assert_eq!(of("error").len(), 3);
}

#[test]
fn junit_names_stay_unique_and_file_errors_are_suites() {
    // Two tests of one name are an error (KB0104), but files tested together may share
    // names, and junit's names must stay unique anyway.
    let mut r = run_text(
        r#"
        dataset t = csv("t.csv")
        kpi n = count(t)
        test "same" { expect n == 0 }
        test "other" { expect n == 1 }
        "#,
    );
    r.tests[1].name = "same".into();
    let broken = testing::run_file(&path("broken.kpi"), None);
    let runs = [
        Run { file: "inline.kpi".into(), result: Ok(r) },
        Run { file: "broken.kpi".into(), result: broken },
    ];
    let xml = report::junit(&runs);
    let elements = parse_xml(&xml);
    let names: Vec<&str> =
        elements.iter().filter(|e| e.0 == "testcase").map(|e| attr(e, "name")).collect();
    assert_eq!(names, ["same", "same (2)", "(definitions)"]);
    let error = elements.iter().find(|e| e.0 == "error").unwrap();
    assert_eq!(attr(error, "message"), "a target must be a constant");
    assert_eq!(report::tally(report::counts(&runs)), "1 passed, 1 failed, 1 error");
}

/// A column declared nowhere is typed by its values in a test's data, as in a data file:
/// `max` of times minus a time param is a duration (the test runner typed the column as
/// a number and refused the file, which `check` and `eval` accepted), and a text pick of
/// a date matches a date key, shown as a date (red team).
#[test]
fn undeclared_columns_are_typed_by_the_test_data() {
    let dir = support::TempDir::new("testing-undeclared");
    dir.write(
        "t.kpi",
        "dataset calls = csv(\"calls.csv\")\n\
         param from_ = 2026-03-14T08:00:00Z\n\
         dim d = calls.d\n\
         kpi since = max(calls.started_at) - from_  unit seconds\n\
         kpi talk = sum(calls.talk_s)\n\
         test \"typed by the data\" {\n\
             calls = csv \"\"\"\n\
                 talk_s,d,started_at\n\
                 10,2026-01-01,2026-03-14T08:30:00Z\n\
                 20,2026-01-02,2026-03-14T09:00:00Z\n\
             \"\"\"\n\
             expect since == 3600\n\
             expect talk[d = 2026-01-02] == 20\n\
             expect talk[d = \"2026-01-02\"] == 20\n\
         }\n",
    );
    let out = kpiblend(dir.path(), &["test", "t.kpi"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let out = kpiblend(dir.path(), &["check", "--no-data", "t.kpi"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // A pick that matches nothing lists the keys as dates.
    let text = std::fs::read_to_string(dir.path().join("t.kpi")).unwrap();
    dir.write("t.kpi", &text.replace("expect talk[d = 2026-01-02]", "expect talk[d = 2026-01-03]"));
    let out = kpiblend(dir.path(), &["test", "t.kpi"]);
    assert!(stdout(&out).contains("d in the data: 2026-01-01, 2026-01-02"), "{}", stdout(&out));
}

/// Files that import one broken file share its errors: the report says each once (red
/// team: seven times for the library).
#[test]
fn an_imported_files_errors_are_said_once() {
    let dir = support::TempDir::new("testing-shared-errors");
    dir.write("shared.kpi", "kpi broken = zz\n");
    dir.write("a.kpi", "import \"shared.kpi\"\nkpi a = 1\n");
    dir.write("b.kpi", "import \"shared.kpi\"\nkpi b = 1\n");
    let out = kpiblend(dir.path(), &["test", "a.kpi", "b.kpi"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("ERROR a.kpi\nERROR b.kpi\n"), "{text}");
    assert_eq!(text.matches("error[KB0102]").count(), 1, "{text}");
}

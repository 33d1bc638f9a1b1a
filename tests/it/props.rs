//! Property tests (proptest): generated programs survive `fmt` unchanged apart from spans,
//! arbitrary text never panics the checker, generated KPIs over generated tables agree with
//! a naive reference evaluator, and metamorphic relations hold on CSV data (row order, line
//! endings, BOM, quoting, duplicated rows).
//!
//! The generators and checks of the fuzz targets are shared (`fuzz/src/checks.rs` and
//! `fuzz/src/small.rs`, included by `reliability.rs`), so a fuzz finding and a failing
//! property here mean the same thing. Case counts keep the whole file to a few seconds in
//! a debug build; `PROPTEST_CASES=5000 cargo test --test it props` runs more.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use kpiblend::format;
use kpiblend::source::FileId;
use kpiblend::syntax;

use crate::reliability::checks;
use crate::reliability::small::{self, Agg, AggFunc, Case, Cond, Kpi, Num, Row};
use crate::support::TempDir;

/// Cases per property: the default unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---- 1. programs round-trip through fmt -------------------------------------------------------

const NAMES: &[&str] =
    &["aht", "csat", "fcr", "handled", "site", "week", "x1", "_tmp", "service_level"];
const FUNCS: &[&str] = &["avg", "sum", "count", "rate", "min", "max", "median", "week", "abs"];
const LITERALS: &[&str] = &[
    "0",
    "42",
    "4.2",
    "1_000",
    "2.5e3",
    "1E-2",
    "80%",
    "7.5%",
    "20s",
    "6m",
    "250ms",
    "1.5h",
    "3d",
    "2026-03-14",
    "2026-03-14T08:00",
    "2026-03-14T08:00:00Z",
    "2026-03-14T08:00:00.5+01:00",
    "\"billing\"",
    "\"a \\\"quoted\\\" word\"",
    "\"tab\\tand \\u{e9}\"",
    "\"\"",
    "true",
    "false",
    "null",
];
const BINARY: &[&str] = &["+", "-", "*", "/", "==", "!=", "<>", "<", "<=", ">", ">=", "and", "or"];

/// An expression as tokens. Operands of operators are bracketed, so the tree is fixed by
/// the text whatever the precedence table says.
fn expr() -> impl Strategy<Value = Vec<String>> {
    let leaf = prop_oneof![
        prop::sample::select(LITERALS).prop_map(|l| vec![l.to_string()]),
        prop::sample::select(NAMES).prop_map(|n| vec![n.to_string()]),
        (prop::sample::select(NAMES), prop::sample::select(&["wait_s", "min", "queue"][..]))
            .prop_map(|(d, c)| vec![format!("{d}.{c}")]),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let operand = inner.clone().prop_map(bracket);
        prop_oneof![
            (operand.clone(), prop::sample::select(BINARY), operand.clone())
                .prop_map(|(a, op, b)| [a, vec![op.to_string()], b].concat()),
            (prop::sample::select(&["-", "not"][..]), operand.clone()).prop_map(|(op, a)| [
                vec![op.to_string()],
                a
            ]
            .concat()),
            (operand.clone(), any::<bool>()).prop_map(|(a, not)| {
                let tail: &[&str] = if not { &["is", "not", "null"] } else { &["is", "null"] };
                [a, words(tail)].concat()
            }),
            (operand.clone(), prop::collection::vec(inner.clone(), 1..3), any::<bool>()).prop_map(
                |(a, list, not)| {
                    let mut t = a;
                    if not {
                        t.push("not".into());
                    }
                    t.push("in".into());
                    t.push("(".into());
                    t.extend(comma_separated(list));
                    t.push(")".into());
                    t
                }
            ),
            (
                prop::sample::select(FUNCS),
                prop::collection::vec(inner.clone(), 1..3),
                prop::option::of(inner.clone()),
                prop::option::of(prop::sample::select(NAMES)),
            )
                .prop_map(|(f, args, filter, over)| {
                    let mut t = vec![f.to_string(), "(".into()];
                    t.extend(comma_separated(args));
                    if let Some(c) = filter {
                        t.push("where".into());
                        t.extend(c);
                    }
                    t.push(")".into());
                    if let Some(d) = over {
                        t.extend(words(&["over", d]));
                    }
                    t
                }),
            (
                prop::option::of(operand.clone()),
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(inner.clone()),
            )
                .prop_map(|(operand, whens, otherwise)| {
                    let mut t = vec!["case".to_string()];
                    if let Some(o) = operand {
                        t.extend(o);
                    }
                    for (w, then) in whens {
                        t.push("when".into());
                        t.extend(w);
                        t.push("then".into());
                        t.extend(then);
                    }
                    if let Some(e) = otherwise {
                        t.push("else".into());
                        t.extend(e);
                    }
                    t.push("end".into());
                    t
                }),
            inner.prop_map(bracket),
        ]
    })
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_string()).collect()
}

fn bracket(e: Vec<String>) -> Vec<String> {
    [vec!["(".to_string()], e, vec![")".to_string()]].concat()
}

fn comma_separated(items: Vec<Vec<String>>) -> Vec<String> {
    let mut t = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            t.push(",".into());
        }
        t.extend(item);
    }
    t
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(str::to_string)
}

fn cmp_op() -> impl Strategy<Value = String> {
    prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]).prop_map(str::to_string)
}

/// One statement as tokens.
fn statement() -> impl Strategy<Value = Vec<String>> {
    let dataset = (
        name(),
        prop::option::of(prop::sample::select(&["\";\"", "\"\\t\""][..])),
        prop::collection::vec(
            prop_oneof![
                (name(), prop::sample::select(&["int", "number", "text", "duration"][..]))
                    .prop_map(|(c, t)| words(&[&c, ":", t])),
                (name(), name(), name()).prop_map(|(c, d, k)| vec![
                    c,
                    "->".into(),
                    format!("{d}.{k}")
                ]),
            ],
            0..3,
        ),
    )
        .prop_map(|(n, delimiter, block)| {
            let mut t = words(&["dataset", &n, "=", "csv", "(", "\"data/calls.csv\""]);
            if let Some(d) = delimiter {
                t.extend(words(&[",", "delimiter", ":", d]));
            }
            t.push(")".into());
            if !block.is_empty() {
                t.push("{".into());
                t.extend(block.into_iter().flatten());
                t.push("}".into());
            }
            t
        });
    let dim = (name(), expr()).prop_map(|(n, e)| [words(&["dim", &n, "="]), e].concat());
    let param = (name(), expr()).prop_map(|(n, e)| [words(&["param", &n, "="]), e].concat());
    let kpi = (
        name(),
        prop::option::of(prop::sample::select(&["\"Average handle time\"", "\"é \\\"x\\\"\""][..])),
        expr(),
        prop::option::of(prop::sample::select(&["seconds", "percent", "\"USD\""][..])),
        prop::option::of((cmp_op(), expr())),
        prop::option::of((cmp_op(), expr())),
        prop::option::of(expr()),
        prop::collection::vec(name(), 0..3),
        any::<u8>(),
    )
        .prop_map(|(n, label, e, unit, target, warn, min, tags, order)| {
            let mut t = words(&["kpi", &n]);
            if let Some(l) = label {
                t.push(l.to_string());
            }
            t.push("=".into());
            t.extend(e);
            let mut clauses: Vec<Vec<String>> = Vec::new();
            if let Some(u) = unit {
                clauses.push(words(&["unit", u]));
            }
            if let Some((op, v)) = target {
                clauses.push([words(&["target", &op]), v].concat());
            }
            if let Some((op, v)) = warn {
                clauses.push([words(&["warn", &op]), v].concat());
            }
            if let Some(m) = min {
                clauses.push([words(&["min"]), m].concat());
            }
            if !tags.is_empty() {
                let mut c = words(&["tags"]);
                c.extend(comma_separated(tags.into_iter().map(|t| vec![t]).collect()));
                clauses.push(c);
            }
            // Clauses may come in any order.
            let k = clauses.len().max(1);
            clauses.rotate_left(usize::from(order) % k);
            t.extend(clauses.into_iter().flatten());
            t
        });
    let blend = (
        prop::option::of(name()),
        prop::collection::vec(name(), 2..4),
        prop::collection::vec(expr(), 0..3),
        prop::option::of(expr()),
    )
        .prop_map(|(n, parts, weights, guard)| {
            let mut t = words(&["blend"]);
            if let Some(n) = n {
                t.extend([n, "=".into()]);
            }
            for (i, p) in parts.into_iter().enumerate() {
                if i > 0 {
                    t.push("with".into());
                }
                t.push(p);
            }
            if !weights.is_empty() {
                t.push("weights".into());
                t.extend(comma_separated(weights));
            }
            if let Some(g) = guard {
                t.push("guard".into());
                t.extend(g);
            }
            t
        });
    let view = (
        name(),
        prop::collection::vec(name(), 1..3),
        prop::collection::vec(name(), 0..3),
        prop::option::of(expr()),
    )
        .prop_map(|(n, items, by, filter)| {
            let mut t = words(&["view", &n, "="]);
            t.extend(comma_separated(items.into_iter().map(|i| vec![i]).collect()));
            if !by.is_empty() {
                t.push("by".into());
                t.extend(comma_separated(by.into_iter().map(|i| vec![i]).collect()));
            }
            if let Some(f) = filter {
                t.push("where".into());
                t.extend(f);
            }
            t
        });
    let note = prop::sample::select(&["2026-03-14", "2026-03-14T09:30:00Z"][..])
        .prop_map(|d| words(&["note", d, "\"billing outage: queues doubled\""]));
    let import = Just(words(&["import", "\"shared/defs.kpi\""]));
    let test = (prop::collection::vec(
        prop_oneof![
            name().prop_map(|d| {
                vec![d, "=".into(), "csv".into(), "\"\"\"\n    a,b\n    1,2\n    \"\"\"".into()]
            }),
            (name(), prop::option::of(name()), cmp_op(), expr(), prop::option::of(expr()))
                .prop_map(|(s, field, op, v, within)| {
                    let mut t = vec!["expect".to_string(), s];
                    if let Some(f) = field {
                        t.extend([".".into(), f]);
                    }
                    t.extend(words(&["[", "site", "=", "\"north\"", "]"]));
                    t.push(op);
                    t.extend(v);
                    if let Some(w) = within {
                        t.push("within".into());
                        t.extend(w);
                    }
                    t
                }),
        ],
        0..3,
    ),)
        .prop_map(|(entries,)| {
            let mut t = words(&["test", "\"a test\"", "{"]);
            t.extend(entries.into_iter().flatten());
            t.push("}".into());
            t
        });
    prop_oneof![1 => dataset, 1 => dim, 1 => param, 3 => kpi, 1 => blend, 1 => view, 1 => note, 1 => import, 1 => test]
}

/// Separators between tokens: spaces, line breaks with indentation, tabs, CRLF, and
/// comments (a comment inside a statement keeps it as written, which must still read back).
const SEPARATORS: &[&str] = &[" ", " ", " ", "  ", "\n    ", "\t", "\r\n  ", " # note\n  "];

/// A whole file: statements laid out with random separators, comments between them.
fn program() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(statement(), 1..5),
        prop::collection::vec(prop::sample::select(SEPARATORS), 64),
        prop::collection::vec(
            prop::sample::select(&["\n", "\n\n", "\n# between\n", "  # after\n"][..]),
            5,
        ),
    )
        .prop_map(|(statements, seps, breaks)| {
            // (A byte order mark is the file reader's business, not the parser's.)
            let mut text = String::new();
            let mut k = 0;
            for (i, st) in statements.into_iter().enumerate() {
                for (j, token) in st.into_iter().enumerate() {
                    if j > 0 {
                        text.push_str(seps[k % seps.len()]);
                        k += 1;
                    }
                    text.push_str(&token);
                }
                text.push_str(breaks[i % breaks.len()]);
            }
            text
        })
}

/// Statements without spans, and comment texts.
fn erased(text: &str) -> Result<(Vec<kpiblend::ast::Item>, Vec<String>), String> {
    let parsed = syntax::parse(FileId(0), text);
    if !parsed.diagnostics.is_empty() {
        let messages: Vec<&str> = parsed.diagnostics.iter().map(|d| d.message.as_str()).collect();
        return Err(format!("does not parse: {messages:?}"));
    }
    let items = parsed.module.items.iter().map(format::erase::item).collect();
    let comments = parsed
        .module
        .comments
        .iter()
        .map(|c| text.get(c.range()).unwrap_or("").trim_end().to_string())
        .collect();
    Ok((items, comments))
}

fn round_trip(text: &str) -> Result<(), TestCaseError> {
    let before =
        erased(text).map_err(|e| TestCaseError::fail(format!("the generated text {e}")))?;
    let formatted = format::format_file("gen.kpi", text)
        .map_err(|_| TestCaseError::fail("`fmt` says the generated file has syntax errors"))?;
    prop_assert!(!formatted.refused, "`fmt` refused the file (its output did not read back)");
    let after = erased(&formatted.text)
        .map_err(|e| TestCaseError::fail(format!("the formatted text {e}:\n{}", formatted.text)))?;
    prop_assert!(before == after, "fmt changed the statements:\n{}", formatted.text);
    let again = format::format_source("gen.kpi", &formatted.text)
        .map_err(|_| TestCaseError::fail("the formatted text does not format"))?;
    prop_assert_eq!(again, formatted.text, "fmt is not idempotent");
    Ok(())
}

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn generated_programs_round_trip_through_fmt(text in program()) {
        round_trip(&text)?;
    }
}

// ---- 2. arbitrary text never panics the checker ---------------------------------------------

/// What ends a CSV cell.
const BREAKS: &[&[u8]] = &[b",", b"\n", b"\r\n", b"\r"];

/// Tokens of the language and characters that have tripped parsers before.
const SOUP: &[&str] = &[
    "kpi",
    "dataset",
    "dim",
    "param",
    "blend",
    "view",
    "note",
    "test",
    "import",
    "expect",
    "csv",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "=",
    "==",
    ",",
    ".",
    ":",
    "->",
    "+",
    "-",
    "*",
    "/",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "is",
    "null",
    "in",
    "where",
    "over",
    "case",
    "when",
    "then",
    "else",
    "end",
    "with",
    "weights",
    "guard",
    "by",
    "target",
    "warn",
    "min",
    "unit",
    "tags",
    "within",
    "\"",
    "\"\"\"",
    "#",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "\u{0}",
    "\u{1b}[31m",
    "\u{feff}",
    "é",
    "\u{202e}",
    "а",
    "x",
    "calls",
    "calls.wait_s",
    "avg",
    "count",
    "1",
    "1e999",
    "80%",
    "20s",
    "2026-03-14",
    "99999999999999999999",
    "\\",
    "\\u{110000}",
];

proptest! {
    #![proptest_config(cases(320))]

    #[test]
    fn arbitrary_text_never_panics_the_checker(text in "\\PC{0,200}") {
        checks::parse_check(text.as_bytes());
    }

    #[test]
    fn token_soup_never_panics_the_checker(
        tokens in prop::collection::vec(prop::sample::select(SOUP), 0..80)
    ) {
        checks::parse_check(tokens.concat().as_bytes());
    }

    /// Cells of anything (CSV syntax, digits, bool words, invalid UTF-8, control characters)
    /// under a plain header.
    #[test]
    fn csv_cells_of_anything_never_panic_the_loader(
        header in prop::collection::vec("[a-z]{1,3}", 1..4),
        cells in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    prop::sample::select(&b",\"\n\r0123456789.-eatrufl"[..]),
                ],
                0..6,
            ),
            0..40,
        ),
        breaks in prop::collection::vec(prop::sample::select(BREAKS), 40),
    ) {
        let mut data = header.join(",").into_bytes();
        data.push(b'\n');
        for (i, cell) in cells.iter().enumerate() {
            data.extend_from_slice(cell);
            data.extend_from_slice(breaks[i % breaks.len()]);
        }
        checks::csv_load(&data);
    }
}

proptest! {
    #![proptest_config(cases(160))]

    /// Anything at all, header included.
    #[test]
    fn arbitrary_bytes_never_panic_the_csv_loader(
        data in prop::collection::vec(
            prop_oneof![
                any::<u8>(),
                prop::sample::select(&b",\"\n\r0123456789.-eatrufl"[..]),
            ],
            0..300,
        )
    ) {
        checks::csv_load(&data);
    }
}

// ---- 3. generated KPIs agree with the reference evaluator ------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn generated_kpis_agree_with_the_reference_evaluator(
        data in prop::collection::vec(any::<u8>(), 0..400)
    ) {
        let dir = TempDir::new("props-eval");
        small::eval_small(&data, dir.path());
    }
}

// ---- 4. metamorphic relations on CSV data --------------------------------------------------

fn json(case: &Case) -> (String, String) {
    let out = small::evaluate(case);
    (serde_json::to_string(&out.scorecard).unwrap(), serde_json::to_string(&out.view).unwrap())
}

/// A case from fuzz-style bytes, and a permutation of its rows.
fn case_and_permutation() -> impl Strategy<Value = (Case, Vec<usize>)> {
    prop::collection::vec(any::<u8>(), 16..300).prop_flat_map(|data| {
        let case = Case::from_bytes(&data);
        let order: Vec<usize> = (0..case.rows.len()).collect();
        (Just(case), Just(order).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(cases(160))]

    /// Every generated KPI is order-independent (count, sum, avg, min, max, rate): the JSON
    /// report must be the same byte for byte.
    #[test]
    fn shuffling_rows_changes_no_byte_of_the_report((case, order) in case_and_permutation()) {
        let shuffled = case.with_rows(order.iter().map(|&i| case.rows[i]).collect());
        let (a, b) = (json(&case), json(&shuffled));
        prop_assert!(
            a == b,
            "row order changed the report\n{}\n{}\nbefore {:?}\nafter  {:?}",
            case.source(),
            String::from_utf8_lossy(&case.csv()),
            a,
            b
        );
    }

    /// CRLF, a BOM, quoting every cell, blank lines, column order and no final newline are
    /// all the same data.
    #[test]
    fn line_endings_bom_and_quoting_change_nothing(
        data in prop::collection::vec(any::<u8>(), 16..300),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        quote_all in any::<bool>(),
        final_newline in any::<bool>(),
        rotate in 0usize..4,
        spelling in any::<u8>(),
    ) {
        let case = Case::from_bytes(&data);
        let mut variant = case.clone();
        variant.layout.crlf = crlf;
        variant.layout.bom = bom;
        variant.layout.quote_all = quote_all;
        variant.layout.final_newline = final_newline;
        let columns = variant.layout.order.len();
        variant.layout.order.rotate_left(rotate % columns);
        variant.layout.blank_after = (0..case.rows.len()).step_by(3).collect();
        variant.layout.spelling = vec![spelling; case.rows.len()];
        // Spelling changes can turn an int column into a number column, which the report
        // does not show; the values are the same.
        let (a, b) = (json(&case), json(&variant));
        prop_assert!(
            a == b,
            "the layout changed the report\n{}\n--- plain ---\n{}\n--- variant ---\n{}",
            case.source(),
            String::from_utf8_lossy(&case.csv()),
            String::from_utf8_lossy(&variant.csv())
        );
    }
}

/// The stddev and median of `values` as the JSON scorecard gives them.
fn spread_report(values: &[f64]) -> String {
    let defs =
        "dataset t = csv(\"t.csv\") { x: number }\nkpi sd = stddev(t.x)\nkpi mid = median(t.x)\n";
    let mut p = kpiblend::Project::from_source("spread.kpi", defs);
    let csv: String = std::iter::once("x".to_string())
        .chain(values.iter().map(|v| format!("{v:?}")))
        .collect::<Vec<_>>()
        .join("\n");
    p.bind_csv("t", csv.as_bytes()).unwrap();
    serde_json::to_string(&p.scorecard().unwrap()).unwrap()
}

fn values_and_permutation() -> impl Strategy<Value = (Vec<f64>, Vec<usize>)> {
    prop::collection::vec(-1e9..1e9f64, 0..12).prop_flat_map(|values| {
        let order: Vec<usize> = (0..values.len()).collect();
        (Just(values), Just(order).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(cases(160))]

    /// `stddev` and `median` are order-independent too (the shared generator makes only
    /// count, sum, avg, min, max and rate), down to the last bit.
    #[test]
    fn shuffling_rows_changes_no_bit_of_stddev_or_median((values, order) in values_and_permutation()) {
        let shuffled: Vec<f64> = order.iter().map(|&i| values[i]).collect();
        prop_assert_eq!(spread_report(&values), spread_report(&shuffled), "{:?}", values);
    }
}

/// A case whose KPIs are one of each aggregate over one generated argument and filter.
fn aggregate_case(data: &[u8]) -> Case {
    let base = Case::from_bytes(data);
    let arg = match base.kpis.first() {
        Some(Kpi::Agg(Agg::Of(_, x, _))) => x.clone(),
        _ => Num::Col(0),
    };
    let filter = base.filter.clone();
    let flag = Cond::Flag;
    let kpis = vec![
        Kpi::Agg(Agg::Rows(filter.clone())),
        Kpi::Agg(Agg::Of(AggFunc::Count, arg.clone(), filter.clone())),
        Kpi::Agg(Agg::Of(AggFunc::Sum, arg.clone(), filter.clone())),
        Kpi::Agg(Agg::Of(AggFunc::Avg, arg.clone(), filter.clone())),
        Kpi::Agg(Agg::Of(AggFunc::Min, arg.clone(), filter.clone())),
        Kpi::Agg(Agg::Of(AggFunc::Max, arg, filter.clone())),
        Kpi::Agg(Agg::Rate(flag, filter)),
    ];
    Case { kpis, filter: None, ..base }
}

fn values(report: &kpiblend::eval::Report) -> Vec<Vec<Option<f64>>> {
    report
        .rows
        .iter()
        .chain(report.total.iter())
        .map(|row| {
            row.cells
                .iter()
                .map(|c| match c {
                    kpiblend::eval::Cell::Kpi(k) => k.value,
                    kpiblend::eval::Cell::Blend(b) => b.score,
                })
                .collect()
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(cases(160))]

    /// Every row twice: counts and sums double; averages, minima, maxima and rates stay.
    #[test]
    fn duplicating_every_row_doubles_counts_and_sums_and_keeps_rates_and_averages(
        data in prop::collection::vec(any::<u8>(), 16..300)
    ) {
        let case = aggregate_case(&data);
        let doubled: Vec<Row> = case.rows.iter().flat_map(|r| [*r, *r]).collect();
        let twice = case.with_rows(doubled);
        let (a, b) = (small::evaluate(&case), small::evaluate(&twice));
        for (report_a, report_b) in [(&a.scorecard, &b.scorecard), (&a.view, &b.view)] {
            let (va, vb) = (values(report_a), values(report_b));
            prop_assert_eq!(va.len(), vb.len(), "the groups differ");
            for (ra, rb) in va.iter().zip(&vb) {
                for (k, (x, y)) in ra.iter().zip(rb).enumerate() {
                    let ok = match (k, x, y) {
                        (0..=2, Some(x), Some(y)) => close(2.0 * x, *y),
                        (_, Some(x), Some(y)) => close(*x, *y),
                        (_, None, None) => true,
                        _ => false,
                    };
                    prop_assert!(
                        ok,
                        "k{} went from {:?} to {:?}\n{}\n{}",
                        k,
                        x,
                        y,
                        case.source(),
                        String::from_utf8_lossy(&case.csv())
                    );
                }
            }
        }
    }
}

// ---- small fixed checks of the shared code itself -------------------------------------------

/// The reference evaluator is not vacuous: a known case gives known values.
#[test]
fn the_reference_evaluator_computes_known_values() {
    let rows = [
        Row { a: Some(1.0), b: None, f: Some(true), g: Some(0) },
        Row { a: Some(3.0), b: Some(2.0), f: Some(false), g: Some(1) },
        Row { a: None, b: Some(0.0), f: None, g: None },
    ];
    let all: Vec<&Row> = rows.iter().collect();
    let b = || Box::new(Num::Col(1));
    let kpis = vec![
        Kpi::Agg(Agg::Rows(None)),
        Kpi::Agg(Agg::Of(AggFunc::Sum, Num::Col(0), None)),
        Kpi::Agg(Agg::Of(
            AggFunc::Avg,
            Num::Bin(small::Arith::Div, Box::new(Num::Col(0)), b()),
            None,
        )),
        Kpi::Agg(Agg::Rate(Cond::Flag, None)),
        Kpi::Bin(small::Arith::Div, Box::new(Kpi::Ref(1)), Box::new(Kpi::Ref(0))),
        Kpi::Agg(Agg::Of(AggFunc::Min, Num::Col(0), Some(Cond::Flag))),
    ];
    let v: Vec<Option<f64>> = small::reference(&kpis, &all).iter().map(|v| v.v).collect();
    // 3/2 is the only defined quotient: 1/null and null/0 are null.
    assert_eq!(v, [Some(3.0), Some(4.0), Some(1.5), Some(0.5), Some(4.0 / 3.0), Some(1.0)]);
}

#[test]
fn the_round_trip_check_accepts_a_formatted_example() {
    let text = std::fs::read_to_string(crate::support::root().join("examples/contact_center.kpi"))
        .unwrap();
    round_trip(&text).unwrap();
}

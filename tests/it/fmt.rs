//! `kpiblend fmt` on real files: every `.kpi` file of the repository and every snippet
//! of the docs round-trips (same meaning, same comments, a fixed point), the layout of
//! a few files is pinned in golden files, and the command's modes and exit codes. The
//! layout rules case by case, and generated files, are unit tests in `src/format/`.

use std::path::{Path, PathBuf};

use kpiblend::ast::Module;
use kpiblend::format::{self, Formatted, erase};
use kpiblend::source::FileId;
use kpiblend::syntax;

use crate::support::{self, TempDir, golden, kpiblend, stderr, stdout};

fn parse(text: &str) -> Module {
    let parsed = kpiblend::check::on_big_stack(|| syntax::parse(FileId(0), text));
    assert!(parsed.diagnostics.is_empty(), "does not parse:\n{text}\n{:#?}", parsed.diagnostics);
    parsed.module
}

fn comment_texts(m: &Module, text: &str) -> Vec<String> {
    m.comments.iter().map(|c| text[c.range()].trim_end().to_string()).collect()
}

/// Formats `text`, checks the guarantees, and returns the result.
#[track_caller]
fn formatted(name: &str, text: &str) -> Formatted {
    let f = format::format_file(name, text).unwrap_or_else(|d| panic!("{name}\n{d:#?}"));
    assert!(!f.refused, "{name}: the formatter refused its own output");
    let (before, after) = (parse(text), parse(&f.text));
    assert_eq!(before.items.len(), after.items.len(), "{name}: statements differ:\n{}", f.text);
    kpiblend::check::on_big_stack(|| {
        for (a, b) in before.items.iter().zip(&after.items) {
            let (a, b) = (erase::item(a), erase::item(b));
            assert!(a == b, "{name}: meaning changed:\n{}\n{a:#?}\n{b:#?}", f.text);
        }
    });
    assert_eq!(comment_texts(&before, text), comment_texts(&after, &f.text), "{name}: comments");
    let again = format::format_file(name, &f.text).map(|g| g.text);
    assert_eq!(again.as_deref(), Ok(f.text.as_str()), "{name}: not idempotent:\n{}", f.text);
    assert!(f.kept.is_empty(), "{name}: statements kept as written: {:?}", f.kept);
    f
}

/// Every `.kpi` file of the repository that parses, and every `kpi` snippet of the docs.
fn inputs() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "kpi") {
                out.push(path);
            }
        }
    }
    let root = support::root();
    let mut paths = Vec::new();
    for dir in ["examples", "tests/corpus", "tests/fixtures", "tests/golden"] {
        walk(&root.join(dir), &mut paths);
    }
    paths.sort();
    let mut inputs: Vec<(String, String)> = paths
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    for doc in ["README.md", "docs/diagnostics.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for (n, block) in text.split("```kpi\n").skip(1).enumerate() {
            let snippet = block.split("```").next().unwrap_or("");
            inputs.push((format!("{doc} snippet {n}"), snippet.to_string()));
        }
    }
    inputs
}

#[test]
fn every_file_and_snippet_that_parses_round_trips() {
    let mut formatted_files = 0;
    for (name, text) in inputs() {
        let parses = kpiblend::check::on_big_stack(|| syntax::parse(FileId(0), &text));
        if !parses.diagnostics.is_empty() {
            continue;
        }
        formatted(&name, &text);
        formatted_files += 1;
    }
    assert!(formatted_files >= 100, "only {formatted_files} inputs parsed");
}

#[test]
fn golden_layouts() {
    let tour =
        std::fs::read_to_string(support::root().join("examples/contact_center.kpi")).unwrap();
    golden("fmt/contact_center.kpi", &formatted("contact_center.kpi", &tour).text);
    let corpus = support::root().join("tests/corpus/valid/blends_and_targets.kpi");
    let corpus = std::fs::read_to_string(corpus).unwrap();
    golden("fmt/blends_and_targets.kpi", &formatted("blends_and_targets.kpi", &corpus).text);
    let messy = r#"
        # A scorecard typed in a hurry.
        dataset calls=csv("data/calls.csv"){contact_id:int   queue:text}
        dataset surveys=csv("data/surveys.csv"){ contact_id->calls.contact_id # one survey per contact
        }
        dim queue=calls.queue   # billing, sales, support
        kpi aht "Average handle time"=avg(calls.talk_s+calls.hold_s+calls.acw_s where not calls.abandoned) unit seconds warn<=7m target<=6m tags diagnostic
        kpi nps=100*(rate(surveys.nps>=9)-rate(surveys.nps<=6)) target>=30
        kpi billing_share = count(calls where calls.queue in ("billing","sales")) / count(calls) target >= 40% min 100
        kpi handled_share "Handled share of offered, by queue"=sum(calls.talk_s+calls.hold_s+calls.acw_s where not calls.abandoned and calls.queue in ("billing","sales"))/sum(calls.talk_s+calls.hold_s+calls.acw_s+calls.wait_s where calls.queue in ("billing","sales","support")) unit percent
        # blends
        blend effectiveness=fcr with nps weights 60%,40% guard fcr>=70%
        test "aht"{calls=csv"""
              contact_id,queue,abandoned,talk_s,hold_s,acw_s
              1,billing,false,100,0,20
              """
         expect aht==120}
    "#;
    golden("fmt/messy.kpi", &formatted("messy.kpi", &support::unindent(messy)).text);
}

// ---- the command ---------------------------------------------------------------

const MESSY: &str = "kpi  a=1\n";
const CLEAN: &str = "kpi a = 1\n";

#[test]
fn fmt_rewrites_changed_files_in_place_and_leaves_clean_ones_alone() {
    let dir = TempDir::new("fmt-write");
    let messy = dir.write("messy.kpi", MESSY);
    let clean = dir.write("clean.kpi", CLEAN);
    let before = std::fs::metadata(&clean).unwrap().modified().unwrap();
    let out = kpiblend(dir.path(), &["fmt", "messy.kpi", "clean.kpi"]);
    assert_eq!(
        (out.status.code(), stdout(&out), stderr(&out)),
        (Some(0), String::new(), String::new())
    );
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), CLEAN);
    assert_eq!(std::fs::metadata(&clean).unwrap().modified().unwrap(), before);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 2, "no temporary file is left behind");
}

#[test]
fn fmt_check_names_the_files_that_would_change() {
    let dir = TempDir::new("fmt-check");
    dir.write("messy.kpi", MESSY);
    dir.write("clean.kpi", CLEAN);
    let out = kpiblend(dir.path(), &["fmt", "--check", "messy.kpi", "clean.kpi"]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(1), "would reformat: messy.kpi\n".into()));
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.kpi")).unwrap(), MESSY);
    let out = kpiblend(dir.path(), &["fmt", "--check", "clean.kpi"]);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
}

#[test]
fn fmt_diff_prints_a_unified_diff() {
    let dir = TempDir::new("fmt-diff");
    dir.write("messy.kpi", &format!("# top\n{MESSY}"));
    let out = kpiblend(dir.path(), &["fmt", "--diff", "messy.kpi"]);
    let expected = "--- messy.kpi\n+++ messy.kpi\n@@ -1,2 +1,2 @@\n # top\n-kpi  a=1\n+kpi a = 1\n";
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(1), expected));
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.kpi")).unwrap(), "# top\nkpi  a=1\n");
}

#[test]
fn fmt_leaves_broken_and_missing_files_alone() {
    let dir = TempDir::new("fmt-errors");
    dir.write("broken.kpi", "kpi  a = (1\n");
    dir.write("messy.kpi", MESSY);
    let out = kpiblend(dir.path(), &["fmt", "broken.kpi", "messy.kpi"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error[KB0001]: unclosed `(`\n --> broken.kpi:1:10"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("broken.kpi")).unwrap(), "kpi  a = (1\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.kpi")).unwrap(), CLEAN);
    std::fs::write(dir.path().join("latin1.kpi"), b"kpi a = \"caf\xe9\"\n").unwrap();
    let out = kpiblend(dir.path(), &["fmt", "latin1.kpi"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not valid UTF-8 (byte 0xE9)\n --> latin1.kpi:1:13"));
    let out = kpiblend(dir.path(), &["fmt", "missing.kpi", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read missing.kpi: No such file or directory"));
}

/// A byte-order mark is not part of the text (the checker skips it too) and stays in the
/// output (found by `props::token_soup_never_panics_the_checker`: `"\u{feff}\r#dim"`).
#[test]
fn a_byte_order_mark_is_kept_and_not_formatted() {
    let fmt = |text: &str| format::format_file("bom.kpi", text).map(|f| f.text);
    assert_eq!(fmt("\u{feff}kpi   x =1\n"), Ok("\u{feff}kpi x = 1\n".into()));
    assert_eq!(fmt("\u{feff}kpi x = 1\n"), Ok("\u{feff}kpi x = 1\n".into()), "idempotent");
    assert_eq!(fmt("\u{feff}\r#dim"), Ok("\u{feff}#dim\n".into()));
}

/// A file whose first line ends in CRLF keeps CRLF line breaks, so `fmt --check` passes on
/// a Windows checkout (red team: every CRLF file "would reformat").
#[test]
fn crlf_line_breaks_are_kept() {
    let fmt = |text: &str| format::format_file("crlf.kpi", text).map(|f| f.text);
    assert_eq!(fmt("kpi   x =1\r\nkpi y = 2\r\n"), Ok("kpi x = 1\r\nkpi y = 2\r\n".into()));
    assert_eq!(fmt("kpi x = 1\r\nkpi y = 2\r\n"), Ok("kpi x = 1\r\nkpi y = 2\r\n".into()));
    // Mixed: the first line decides; a triple-quoted fixture's lines follow it.
    let mixed = "dataset t = csv(\"t.csv\")\r\nkpi n = count(t)\ntest \"a\" {\n    t = csv \"\"\"\n        a\r\n        1\n    \"\"\"\n    expect n == 1\n}\n";
    let out = fmt(mixed).unwrap();
    assert!(
        !out.replace("\r\n", "").contains('\n') && !out.replace("\r\n", "").contains('\r'),
        "{out:?}"
    );
    assert_eq!(fmt(&out), Ok(out.clone()), "idempotent");
    assert_eq!(fmt("kpi   x =1\n"), Ok("kpi x = 1\n".into()), "LF stays LF");
    let dir = TempDir::new("fmt-crlf");
    dir.write("w.kpi", "kpi n = 1\r\n");
    let o = kpiblend(dir.path(), &["fmt", "--check", "w.kpi"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn fmt_reads_standard_input_without_files_or_with_a_dash() {
    let dir = crate::support::TempDir::new("fmt-stdin");
    let run = |args: &[&str], input: &str| {
        let out = crate::support::kpiblend_with_stdin(dir.path(), args, input.as_bytes());
        (out.status.code(), stdout(&out))
    };
    assert_eq!(run(&["fmt"], MESSY), (Some(0), CLEAN.into()));
    assert_eq!(run(&["fmt", "-"], MESSY), (Some(0), CLEAN.into()));
    assert_eq!(run(&["fmt", "--check"], MESSY), (Some(1), "would reformat: <stdin>\n".into()));
    assert_eq!(run(&["fmt", "--check"], CLEAN), (Some(0), String::new()));
    assert_eq!(run(&["fmt"], "kpi a = (\n").0, Some(1));
}

/// Deep nesting is not indented without end: 580 nested `case`s (15.7 KB, which checks
/// clean) became 8.8 MB, a file `check` refuses, after 50 s (red team); 300 became
/// 2.4 MB. Past column 80 an expression stays on one line, so the output grows with the
/// input, not with its square.
#[test]
fn deep_nesting_formats_to_a_file_of_about_the_same_size() {
    let n = 300;
    let text = format!(
        "dataset t = csv(\"t.csv\")\nkpi k = sum({}t.a{})\n",
        "case when t.a > 0 then ".repeat(n),
        " end".repeat(n)
    );
    let f = formatted("deep.kpi", &text);
    assert!(f.text.len() < text.len() * 2, "{} bytes from {}", f.text.len(), text.len());
    assert!(f.text.lines().all(|l| l.len() - l.trim_start().len() <= 100), "{}", f.text);
}

/// Formatted text larger than a KPI file may be is refused, the input left as it was: the
/// million lines of a triple-quoted string (2 MB), each indented 8 columns, would be
/// 10 MB (deep nesting broken over many lines can grow as much).
#[test]
fn formatting_that_would_exceed_the_file_size_limit_leaves_the_file_unchanged() {
    let text = format!("param p = \"\"\"\n{}\"\"\"\n", "a\n".repeat(1_000_000));
    let f = format::format_file("big.kpi", &text).unwrap();
    assert!(f.refused && f.too_large, "{} bytes", f.text.len());
    assert_eq!(f.text, text);
    // Just under the limit it is formatted.
    let small = format!("param p = \"\"\"\n{}\"\"\"\n", "a\n".repeat(800_000));
    let f = format::format_file("small.kpi", &small).unwrap();
    assert!(!f.refused && !f.too_large && f.text.len() > 8_000_000, "{} bytes", f.text.len());
    let dir = TempDir::new("fmt-too-large");
    let path = dir.write("big.kpi", &text);
    let o = kpiblend(dir.path(), &["fmt", "big.kpi"]);
    assert!(stderr(&o).contains("larger than 8 MiB, the limit of a KPI file"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(path).unwrap(), text, "the file is unchanged");
}

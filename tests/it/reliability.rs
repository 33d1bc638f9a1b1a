//! Reliability: the fuzz findings replayed, fault injection, output failures, and one test
//! per row of the bad-input catalogue (RELIABILITY.md §3) that no other file covers. The
//! promise these tests keep, and which test covers which row, is in `docs/reliability.md`.
//!
//! `checks` and `small` are the fuzz crate's own modules (`fuzz/src/`), included here so the
//! committed regression inputs go through exactly the checks the fuzzer ran.
//!
//! Known bugs keep their correct expectation in an `#[ignore = "known bug: …"]` test; run
//! them with `cargo test --test it reliability -- --ignored`.

use std::io::{self, Read, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kpiblend::Project;
use kpiblend::check::{self, CheckOptions};
use kpiblend::data::{self, BadRows, LoadError, LoadOptions};
use kpiblend::diagnostic::Code;
use kpiblend::eval::group::Key;

use crate::support::{self, TempDir, root};

#[path = "../../fuzz/src/checks.rs"]
pub mod checks;
#[path = "../../fuzz/src/small.rs"]
pub mod small;

// ---- 1. fuzz findings and seeds, replayed -----------------------------------------------------

/// Committed fuzz findings that still fail, by `target/file`, with the bug. Each also has an
/// ignored test that replays it (see `replay_known`); when the bug is fixed, remove both.
const KNOWN_FINDINGS: &[(&str, &str)] = &[];

const TARGETS: [&str; 3] = ["parse_check", "csv_load", "eval_small"];

fn regression_files(target: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/fuzz-regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs one input through a target's checks; a panic becomes its message.
fn replay(target: &str, data: &[u8], scratch: &Path) -> Result<(), String> {
    let run = || match target {
        "parse_check" => checks::parse_check(data),
        "csv_load" => checks::csv_load(data),
        _ => small::eval_small(data, scratch),
    };
    catch_unwind(AssertUnwindSafe(run)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "a panic".into())
    })
}

fn key(target: &str, file: &Path) -> String {
    format!("{target}/{}", file.file_name().unwrap().to_string_lossy())
}

#[test]
fn fuzz_regressions_replay_clean() {
    let scratch = TempDir::new("replay");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        for file in regression_files(target) {
            let name = key(target, &file);
            if KNOWN_FINDINGS.iter().any(|(k, _)| *k == name) {
                continue;
            }
            replayed += 1;
            if let Err(e) = replay(target, &std::fs::read(&file).unwrap(), scratch.path()) {
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} findings fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn known_findings_name_committed_files() {
    for (name, _) in KNOWN_FINDINGS {
        assert!(root().join("tests/fuzz-regressions").join(name).is_file(), "{name} is missing");
    }
}

/// Replays the known findings whose file names start with `prefix` (for the ignored test
/// each open finding gets).
#[allow(dead_code)]
fn replay_known(prefix: &str) {
    let mut n = 0;
    for (name, _) in KNOWN_FINDINGS.iter().filter(|(k, _)| k.starts_with(prefix)) {
        let (target, file) = name.split_once('/').unwrap();
        let path = root().join("tests/fuzz-regressions").join(target).join(file);
        let scratch = TempDir::new("known");
        replay(target, &std::fs::read(path).unwrap(), scratch.path())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        n += 1;
    }
    assert!(n > 0, "no known finding starts with {prefix}");
}

/// The finding `csv_load/fast-path-negative-zero.csv` as users saw it: `min` over a column of `-0` is `-0.0` in the JSON of
/// the default (streaming) path, and `0.0` with `--bad-rows skip` (the careful reader) and
/// through `Project`/the REPL. Output must not depend on the path taken.
#[test]
fn negative_zero_reads_the_same_on_every_path() {
    let dir =
        project_dir("negzero", "dataset t = csv(\"t.csv\")\nkpi lo = min(t.x)\n", b"x\n-0\n-0\n");
    let run = |extra: &[&str]| {
        let mut args = vec!["eval", "t.kpi", "--format", "json"];
        args.extend_from_slice(extra);
        let o = support::kpiblend(dir.path(), &args);
        assert!(o.status.success(), "{}", support::stderr(&o));
        support::stdout(&o)
    };
    assert_eq!(run(&[]), run(&["--bad-rows", "skip"]));
}

/// The finding `parse_check/span-inside-a-character.kpi` through the API: spans are byte ranges into the text, and must fall on
/// character boundaries (`text[span]` panics otherwise; `SourceMap::snippet` returns "").
#[test]
fn an_invalid_escape_before_a_multibyte_character_has_a_whole_character_span() {
    let text = "kpi k = \"\\\u{e9}\"\n";
    let c = check_text(text);
    let d = c.diagnostics.iter().find(|d| d.code == Code::InvalidLiteral).expect("KB0007");
    let span = d.primary_span().unwrap();
    assert!(
        text.is_char_boundary(span.start as usize) && text.is_char_boundary(span.end as usize),
        "{}..{} in {text:?}",
        span.start,
        span.end
    );
    assert_eq!(&text[span.range()], "\\\u{e9}");
}

/// Fuzz finding `parse_check/json-del-in-import-path*` (fixed in ca419ae), through the
/// command line: the import path is quoted in the message; serde_json escapes only
/// U+0000–U+001F, not DEL (U+007F) or the C1 controls (U+0080–U+009F; U+009B is CSI on
/// terminals that honour 8-bit controls).
#[test]
fn x07_json_diagnostics_escape_del_and_c1_controls() {
    let dir = TempDir::new("x07j");
    dir.write("t.kpi", "import \"\u{7f}\u{9b}31m\"\n");
    let o = support::kpiblend(dir.path(), &["check", "t.kpi", "--format", "json"]);
    let out = support::stdout(&o);
    assert!(out.contains("cannot read"), "{out}");
    assert!(!out.contains(['\u{7f}', '\u{9b}']), "{out:?}");
}

/// Fuzz finding `csv_load/load-error-display-column-raw*` (fixed in ca419ae), through the
/// public API: `LoadError`'s `Display` printed the header name raw.
#[test]
fn x07_load_error_display_escapes_the_column_name() {
    let e =
        data::load_csv(&b"a\x1b[31m\n\xdf\n"[..], "x.csv", &LoadOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.csv:2: column `a\\u{1b}[31m` (record 1): invalid utf-8 in `\\xdf`"
    );
}

/// Files up to this size seed the replay (the fuzzer's seeds are the same files).
const SEED_LIMIT: u64 = 16 << 10;

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext)
            && p.metadata().is_ok_and(|m| m.len() <= SEED_LIMIT)
        {
            out.push(p);
        }
    }
}

#[test]
fn fuzz_seed_corpus_replays_clean() {
    let mut kpi = Vec::new();
    files_under(&root().join("examples"), "kpi", &mut kpi);
    files_under(&root().join("tests/corpus"), "kpi", &mut kpi);
    let mut csv = Vec::new();
    files_under(&root().join("tests/fixtures"), "csv", &mut csv);
    files_under(&root().join("tests/corpus"), "csv", &mut csv);
    assert!(kpi.len() > 50 && csv.len() > 5, "the seed corpus went missing");
    let scratch = TempDir::new("seeds");
    let mut failures = Vec::new();
    for (target, files) in [("parse_check", &kpi), ("csv_load", &csv)] {
        for f in files {
            if let Err(e) = replay(target, &std::fs::read(f).unwrap(), scratch.path()) {
                failures.push(format!("{}: {e}", f.display()));
            }
        }
    }
    // eval_small: a few fixed byte strings (any bytes decode to a case).
    for seed in 0u32..12 {
        let mut s = seed.wrapping_mul(0x9E37_79B9) | 1;
        let data: Vec<u8> = (0..240)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s.to_le_bytes()[0]
            })
            .collect();
        if let Err(e) = replay("eval_small", &data, scratch.path()) {
            failures.push(format!("eval_small seed {seed}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- 2. fault injection -------------------------------------------------------------------------

/// A reader that hands out at most `chunk` bytes per call and fails with an I/O error once
/// `fail_at` bytes have been read (never, with `usize::MAX`).
struct Faulty<'a> {
    data: &'a [u8],
    pos: usize,
    fail_at: usize,
    chunk: usize,
}

const INJECTED: &str = "injected read failure";

impl Read for Faulty<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.fail_at {
            return Err(io::Error::other(INJECTED));
        }
        let n =
            buf.len().min(self.chunk).min(self.fail_at - self.pos).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn fault_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = [
        "tests/fixtures/eval/cc/calls.csv",
        "tests/fixtures/eval/cc/surveys.csv",
        "tests/fixtures/testing/fixtures/calls.csv",
    ]
    .iter()
    .map(|p| ((*p).to_string(), std::fs::read(root().join(p)).unwrap()))
    .collect();
    out.push((
        "quoted_crlf_bom.csv".into(),
        b"\xef\xbb\xbfid,note,n\r\n1,\"a, \"\"b\"\"\r\nc\",2.5\r\n\r\n2,,\r\n3,x,-1".to_vec(),
    ));
    out
}

/// A read failing after every possible number of bytes, with whole and 1-byte and 7-byte
/// reads: always an error naming the file and the failure (with the line being read), never
/// a table — not even a shorter one.
#[test]
fn a_read_failure_at_every_offset_is_an_error_never_a_partial_table() {
    for (name, data) in fault_fixtures() {
        let clean = data::load_csv(&data[..], &name, &LoadOptions::default()).unwrap();
        for chunk in [usize::MAX, 1, 7] {
            // Short reads alone change nothing.
            let whole = Faulty { data: &data, pos: 0, fail_at: usize::MAX, chunk };
            let t = data::load_csv(whole, &name, &LoadOptions::default()).unwrap();
            assert!(same_table(&t, &clean), "{name} read {chunk} bytes at a time");
            for fail_at in 0..=data.len() {
                for bad_rows in [BadRows::Fail, BadRows::Skip] {
                    let reader = Faulty { data: &data, pos: 0, fail_at, chunk };
                    let opts = LoadOptions { bad_rows, ..LoadOptions::default() };
                    match data::load_csv(reader, &name, &opts) {
                        Ok(t) => panic!(
                            "{name}: a read failing after {fail_at} of {} bytes gave a table of \
                             {} rows",
                            data.len(),
                            t.rows
                        ),
                        Err(e) => assert_names_the_failure(&e, &name, fail_at),
                    }
                }
            }
        }
    }
}

fn same_table(a: &data::Table, b: &data::Table) -> bool {
    a.rows == b.rows
        && a.report.records_read == b.report.records_read
        && a.columns.len() == b.columns.len()
        && a.columns.iter().zip(&b.columns).all(|(x, y)| {
            x.name == y.name && x.ty == y.ty && checks::decoded(&x.data) == checks::decoded(&y.data)
        })
}

#[track_caller]
fn assert_names_the_failure(e: &LoadError, name: &str, fail_at: usize) {
    assert_eq!(e.path, name, "after {fail_at} bytes: {e}");
    assert!(
        e.message.contains(INJECTED),
        "after {fail_at} bytes of {name} the error does not name the read failure: {e}"
    );
    assert!(e.line.is_some(), "after {fail_at} bytes of {name} the error has no line: {e}");
}

/// Through the embedding API: a failed bind leaves nothing bound.
#[test]
fn a_failed_bind_binds_nothing() {
    let data = std::fs::read(root().join("tests/fixtures/eval/cc/calls.csv")).unwrap();
    let mut p =
        Project::from_source("x.kpi", "dataset calls = csv(\"c.csv\")\nkpi n = count(calls)\n");
    for fail_at in [0, 10, data.len() / 2, data.len()] {
        let reader = Faulty { data: &data, pos: 0, fail_at, chunk: 64 };
        let err = p.bind_csv("calls", reader).unwrap_err();
        assert!(err.to_string().contains(INJECTED), "{err}");
        assert!(p.tables().is_empty(), "a table was bound after a failed read");
    }
}

// ---- 3. output failures -----------------------------------------------------------------------

fn kpiblend_with(args: &[&str], stdout: Stdio, stdin: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kpiblend"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap()
}

#[track_caller]
fn assert_no_panic(o: &Output) {
    let err = support::stderr(o);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "a panic:\n{err}");
    assert_ne!(o.status.code(), Some(101), "exit 101 is a panic:\n{err}");
}

/// F05: a full disk is reported once and is a failure (exit 2), not a success.
#[cfg(target_os = "linux")]
#[test]
fn f05_output_to_dev_full_is_an_error_and_exit_2() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let o = kpiblend_with(&["eval", "examples/contact_center.kpi"], full.into(), Stdio::null());
    assert_no_panic(&o);
    let err = support::stderr(&o);
    assert!(err.contains("cannot write output: No space left on device"), "{err}");
    assert_eq!(err.matches("cannot write output").count(), 1, "reported once: {err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
}

/// F05 for every command that writes: never a panic; `eval` says why.
#[cfg(target_os = "linux")]
#[test]
fn f05_every_command_survives_a_full_disk() {
    for args in [
        &["eval", "examples/contact_center.kpi"][..],
        &["eval", "examples/contact_center.kpi", "--format", "json"],
        &["check", "examples/contact_center.kpi", "--format", "json"],
        &["fmt", "examples/contact_center.kpi", "--diff"],
        // Help and version go through clap, whose own printing ignored the error (exit 0).
        &["--help"],
        &["-V"],
        &["help", "eval"],
        &["check", "--help"],
    ] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = kpiblend_with(args, full.into(), Stdio::null());
        assert_no_panic(&o);
        let out = support::stderr(&o);
        if args[0] == "eval" || args.iter().any(|a| matches!(*a, "--help" | "-V" | "help")) {
            assert!(out.contains("No space left on device"), "{args:?}: {out}");
            assert_eq!(o.status.code(), Some(2), "{args:?}");
        }
    }
}

/// F04: the reader goes away after the first bytes: quiet, exit 0 (or 141), no panic text.
#[cfg(unix)]
#[test]
fn f04_output_to_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    for args in [
        &["eval", "examples/contact_center.kpi", "--by", "agent"][..],
        &["eval", "examples/contact_center.kpi", "--by", "agent", "--format", "csv"],
        &["check", "tests/corpus/invalid/too_many_errors.kpi"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kpiblend"))
            .args(args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        let mut stdout = child.stdout.take().unwrap();
        let _ = stdout.read(&mut first);
        drop(stdout);
        let o = child.wait_with_output().unwrap();
        let err = support::stderr(&o);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        let ok = matches!(o.status.code(), Some(0 | 1 | 141)) || o.status.signal() == Some(13);
        assert!(ok, "{args:?}: {:?}\n{err}", o.status);
    }
}

// ---- 4. the catalogue: malformed DSL (D) --------------------------------------------------------

fn check_text(text: &str) -> check::Checked {
    check::check_text("t.kpi", text, &root().join("tests/corpus/invalid"), &CheckOptions::default())
}

fn codes(c: &check::Checked) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

/// D04: a cycle through an import is one error naming the whole cycle.
#[test]
fn d04_a_cycle_across_files_is_one_error_naming_the_whole_cycle() {
    let dir = TempDir::new("d04");
    dir.write("shared.kpi", "dataset calls = csv(\"calls.csv\")\nkpi b = a * 2\n");
    let main = dir.write("main.kpi", "import \"shared.kpi\"\nkpi a = b + count(calls)\n");
    let c = check::check_path(&main, &CheckOptions::default());
    let cycles: Vec<_> = c.diagnostics.iter().filter(|d| d.code == Code::Cycle).collect();
    assert_eq!(cycles.len(), 1, "{:?}", c.diagnostics);
    assert!(
        cycles[0].message.contains('a') && cycles[0].message.contains('b'),
        "{}",
        cycles[0].message
    );
    assert_eq!(c.diagnostics.iter().filter(|d| d.is_error()).count(), 1, "{:?}", codes(&c));
}

/// Imports are followed without recursion and looked up by path, so a chain thousands of
/// files deep, or a file importing thousands, checks (a chain of 12,000 took 33 s when each
/// import scanned the chain above it); a cycle closed at the bottom of the chain is still
/// found, naming every file in it.
#[test]
fn d04_deep_and_wide_import_graphs_check_and_a_deep_cycle_is_found() {
    let n = 2000;
    let dir = TempDir::new("d04-deep");
    for i in 1..n {
        dir.write(&format!("f{i}.kpi"), &format!("import \"f{}.kpi\"\nparam p{i} = {i}\n", i + 1));
    }
    dir.write(&format!("f{n}.kpi"), &format!("param p{n} = {n}\n"));
    let wide: String = (1..=n).map(|i| format!("import \"f{i}.kpi\"\n")).collect();
    let wide = dir.write("wide.kpi", &format!("{wide}kpi total = p1 + p{n}\n"));
    for root in [dir.0.join("f1.kpi"), wide] {
        let c = check::check_path(&root, &CheckOptions::default());
        assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    }
    // The last file imports the first: one cycle through all of them.
    dir.write(&format!("f{n}.kpi"), "import \"f1.kpi\"\n");
    let c = check::check_path(&dir.0.join("f1.kpi"), &CheckOptions::default());
    assert_eq!(codes(&c), ["KB0110"], "{:?}", c.diagnostics);
    // n files and the first again: the first four, the last four, the count between.
    let message = c.diagnostics[0].message.replace(&format!("{}/", dir.0.display()), "");
    let between = n + 1 - 8;
    assert_eq!(
        message,
        format!(
            "import cycle: f1.kpi → f2.kpi → f3.kpi → f4.kpi → … {between} more files … → \
             f{} → f{} → f{n}.kpi → f1.kpi",
            format_args!("{}.kpi", n - 2),
            format_args!("{}.kpi", n - 1)
        )
    );
}

/// D06: at exactly the limit, every pass works: check, fmt, eval, and dropping the tree.
#[test]
fn d06_256_levels_survive_check_fmt_eval_and_drop() {
    let depth = kpiblend::syntax::MAX_NESTING;
    let expr = format!("{}count(t){}", "(".repeat(depth - 1), ")".repeat(depth - 1));
    let text = format!(
        "dataset t = csv(\"t.csv\")\nkpi deep = {expr}\nkpi neg = {}count(t)\n",
        "-".repeat(depth - 2)
    );
    let started = Instant::now();
    let c = check_text(&text);
    assert!(!c.has_errors(), "{:?}", codes(&c));
    let formatted = kpiblend::format::format_file("t.kpi", &text).unwrap();
    assert!(!formatted.refused);
    let mut p = Project::from_source("t.kpi", &text);
    p.bind_csv("t", &b"a\n1\n2\n"[..]).unwrap();
    let r = p.scorecard().unwrap();
    assert_eq!(r.kpi_value("deep", &[]), Some(2.0));
    assert_eq!(r.kpi_value("neg", &[]), Some(2.0), "an even number of minuses");
    drop((c, formatted, p, r));
    // One more level is refused, quickly.
    let over = format!("kpi deep = {}1{}\n", "(".repeat(depth + 1), ")".repeat(depth + 1));
    let c = check_text(&over);
    assert_eq!(codes(&c), ["KB0003"]);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

/// D07: inputs that make backtracking parsers blow up (nested calls and cases, alternatives
/// that re-parse the same prefix, long operator chains) all check within a bound.
#[test]
fn d07_pathological_inputs_check_quickly() {
    let n = 200;
    let inputs = [
        format!("kpi k = {}1{}", "avg(".repeat(n), ")".repeat(n)),
        format!("kpi k = {}1{}", "f(".repeat(n), ") over d".repeat(n)),
        format!("kpi k = {}1{}", "case when ".repeat(n), " then 1 end".repeat(n)),
        format!("kpi k = {}x", "not ".repeat(n)),
        format!("kpi k = 1{}", " + 1 * 2 - x.y / 3 == 4 and 5 or 6".repeat(2000)),
        format!("kpi k = {}1{}", "(a.b in (".repeat(n / 2), "))".repeat(n / 2)),
        format!("kpi k = count(x {}", "where ".repeat(5000)),
        format!("test \"t\" {{ expect {} }}", "k[d = (".repeat(n)),
        "kpi k = 1 ".repeat(20_000),
        format!("dataset d = csv(\"x\"{})", ", a: 1".repeat(20_000)),
        // Each unclosed `case(` doubled the work (a fuzzing timeout): 40 took hours.
        format!("kpi k = {}1", "case(".repeat(40)),
        format!("kpi k = {}1{}", "case(".repeat(40), ")".repeat(40)),
    ];
    for text in &inputs {
        let started = Instant::now();
        let c = check_text(text);
        let took = started.elapsed();
        // The catalogue asks for 100 ms in release (debug builds are ~10x slower, a loaded
        // machine slower again). Backtracking blow-ups take hours on these inputs, so the
        // bound only has to tell the two apart: it is not a speed measurement.
        assert!(took < Duration::from_secs(20), "{took:?} for {}…", &text[..60.min(text.len())]);
        drop(c);
    }
}

/// A dim put in many times is computed once per block of rows: 16 doublings put 65,536
/// copies of `d0` into `d16` (under the KB0011 limit), which evaluated copy by copy took
/// 52 s over 10,000 rows (red team); computed once per block, it is as cheap as the dims
/// written.
#[test]
fn dims_built_from_dims_are_computed_once_per_block() {
    let doubling: String =
        (1..=16).map(|i| format!("dim d{i} = d{} and d{}\n", i - 1, i - 1)).collect();
    let defs = format!(
        "dataset t = csv(\"t.csv\") {{ x: number }}\ndim d0 = t.x > 0\n{doubling}\
         kpi k = count(t where d16)\n"
    );
    let csv: String = std::iter::once("x\n".to_string())
        .chain((0..10_000).map(|i| format!("{}\n", i % 7 - 3)))
        .collect();
    let mut p = Project::from_source("t.kpi", &defs);
    p.bind_csv("t", csv.as_bytes()).unwrap();
    let r = p.query(&["k"], &["d16"], None).unwrap();
    // x in -3..=3, spread evenly: 3 of every 7 rows are positive.
    let positive = (0..10_000).filter(|i| i % 7 > 3).count() as f64;
    assert_eq!(r.total.as_ref().map(|t| t.cells.len()), Some(1));
    assert_eq!(r.kpi_value("k", &[Key::Bool(true)]), Some(positive));
    assert_eq!(r.kpi_value("k", &[Key::Bool(false)]), Some(0.0));
}

/// Dims are put in wherever they are used, so dims built from dims can grow without bound:
/// 24 doublings (`dim d1 = d0 + d0` ...) were 16 million nodes and 4 GB, an 8,000-dim chain
/// 32 million. A limit on the nodes put in (KB0011) stops both at the first use past it,
/// with one error; and the depth limit applies to expressions with their dims put in.
#[test]
fn dims_built_from_dims_are_bounded_by_named_limits() {
    let head = "dataset t = csv(\"t.csv\") { x: number }\ndim d0 = t.x\n";
    let doubling: String =
        (1..24).map(|i| format!("dim d{i} = d{} + d{}\n", i - 1, i - 1)).collect();
    let c = check_text(&format!("{head}{doubling}kpi k = sum(d23)\n"));
    assert_eq!(codes(&c), ["KB0011"], "{:?}", c.diagnostics);
    // d17 has 2^18 - 1 nodes; d1..d17 put in 524,254 nodes, d18's first use of d17 makes
    // that 786,397 and its second use is the first past 1,000,000.
    assert_eq!(
        c.diagnostics[0].message,
        "putting in dim `d17` (262143 nodes) takes the definitions past 1000000 expression nodes"
    );
    assert_eq!(place(&c, 0), (20, 17));

    let chain: String = (1..8000).map(|i| format!("dim d{i} = d{} + 1\n", i - 1)).collect();
    let c = check_text(&format!("{head}{chain}kpi k = sum(d7999)\n"));
    assert_eq!(codes(&c), ["KB0011"], "{:?}", c.diagnostics);
    assert!(c.diagnostics[0].message.starts_with("putting in dim `d1000` (2001 nodes)"));

    // 600 chained additions each: fine alone, 1,200 levels deep once `a` is put in `b`.
    let adds = " + 1".repeat(600);
    let c = check_text(&format!("{head}dim a = t.x{adds}\ndim b = a{adds}\nkpi k = sum(a)\n"));
    assert_eq!(codes(&c), ["KB0003"], "{:?}", c.diagnostics);
    assert_eq!(
        c.diagnostics[0].message,
        "expression 1201 levels deep once its dims are put in; the limit is 1024"
    );
    assert_eq!(place(&c, 0), (4, 9));
}

/// The line and column of the `i`th diagnostic's primary span.
fn place(c: &check::Checked, i: usize) -> (usize, usize) {
    let span = c.diagnostics[i].primary_span().expect("a span");
    let at = c.program.sources.get(span.file).expect("a known file").line_col(span.start as usize);
    (at.line, at.column)
}

/// D16: a 64 KiB identifier is accepted (or refused by a named limit) in linear time.
#[test]
fn d16_a_64_kib_identifier_checks_quickly() {
    let name = "k".repeat(64 << 10);
    let text =
        format!("dataset t = csv(\"t.csv\")\nkpi {name} = count(t)\nkpi other = {name} * 2\n");
    let started = Instant::now();
    let c = check_text(&text);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(!c.has_errors(), "{:?}", codes(&c));
    // A misspelt long name: the source line is shown as a window around the caret.
    let typo = format!("dataset t = csv(\"t.csv\")\nkpi k = count(t)\nkpi other = {name}x * 2\n");
    let c = check_text(&typo);
    let shown = kpiblend::render::diagnostics::human(&c.diagnostics[0], &c.program.sources, false);
    let source_lines = shown.lines().filter(|l| l.starts_with("3 |"));
    assert!(
        source_lines.clone().count() == 1 && source_lines.clone().all(|l| l.len() < 400),
        "{}",
        &shown[..400]
    );
}

/// D16 with a near miss: the "did you mean" search must stay fast too. It compares names
/// with a quadratic edit distance: before ca419ae bounded it, a 64 KiB name took ~11 s in
/// release (~5 min in debug), 16 KiB 0.7 s, 4 KiB 44 ms.
#[test]
fn d16_a_misspelt_64_kib_identifier_checks_quickly() {
    let name = "k".repeat(64 << 10);
    let text =
        format!("dataset t = csv(\"t.csv\")\nkpi {name} = count(t)\nkpi other = {name}x * 2\n");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let c = check_text(&text);
        let _ = tx.send(codes(&c).join(","));
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(found) => assert_eq!(found, "KB0102"),
        Err(_) => panic!("checking a misspelt 64 KiB name took more than 5 s"),
    }
}

// ---- the catalogue: bad CSV (C) -----------------------------------------------------------

/// A scratch project: `t.kpi` over `t.csv`.
fn project_dir(tag: &str, kpi: &str, csv: &[u8]) -> TempDir {
    let dir = TempDir::new(tag);
    dir.write("t.kpi", kpi);
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    dir
}

/// C17: a clean file streams in bounded memory: 4 times the rows (14 blocks of 4 MiB
/// instead of 3) cost next to no extra memory. Measured here in a debug build: 1 M rows
/// (13.5 MB) 34 MB peak RSS, 4 M rows (57 MB) 35 MB. BENCHMARKS.md has 10 M rows.
#[cfg(target_os = "linux")]
#[test]
fn c17_clean_files_stream_in_bounded_memory() {
    if gnu_time_missing() {
        return;
    }
    let dir = project_dir(
        "c17",
        "dataset t = csv(\"t.csv\")\nkpi n = count(t)\nkpi w = avg(t.wait_s)\n",
        b"",
    );
    let peak_kb = |rows: usize| -> u64 {
        let file = std::fs::File::create(dir.path().join("t.csv")).unwrap();
        let mut w = io::BufWriter::new(file);
        w.write_all(b"id,queue,wait_s\n").unwrap();
        for i in 0..rows {
            writeln!(w, "{i},q{},{}", i % 7, i % 300).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let (json, peak) = eval_json_with_peak_kb(dir.path(), &["--threads", "2"]);
        assert_eq!(json["rows"][0]["cells"][0]["value"], rows as f64);
        peak
    };
    let (small, big) = (peak_kb(1_000_000), peak_kb(4_000_000));
    // 43 MB more data; the block buffers in flight and reused are bounded (a few MiB each).
    assert!(big < small + 12_000, "peak RSS {small} kB for 1 M rows, {big} kB for 4 M");
}

/// A deep expression over a block of many short rows is computed in strips: 1,000 nested
/// `case`s over 1.5 M one-digit rows (one 3 MB block) took 2 GB and more, 1.5 MB per level,
/// and aborted when memory ran out (red team); now tens of MB. Here: 1,000 levels over
/// 30,000 rows, about 500 MB before.
#[cfg(target_os = "linux")]
#[test]
fn deep_expressions_over_big_blocks_run_in_bounded_memory() {
    if gnu_time_missing() {
        return;
    }
    let n = 1000;
    let kpi = format!(
        "dataset t = csv(\"t.csv\")\nkpi k = sum({}t.w{})\n",
        "case when t.w > 0 then ".repeat(n),
        " end".repeat(n)
    );
    let dir = project_dir("deep-memory", &kpi, format!("w\n{}", "1\n".repeat(30_000)).as_bytes());
    let (json, peak_kb) = eval_json_with_peak_kb(dir.path(), &[]);
    assert_eq!(json["rows"][0]["cells"][0]["value"], 30_000.0, "{json}");
    assert!(peak_kb < 200_000, "peak RSS {peak_kb} kB");
}

const GNU_TIME: &str = "/usr/bin/time";

/// Memory tests need GNU time; without it they say so and pass.
fn gnu_time_missing() -> bool {
    let missing = !Path::new(GNU_TIME).exists();
    if missing {
        eprintln!("skipped: needs GNU time at {GNU_TIME}");
    }
    missing
}

/// `kpiblend eval t.kpi --format json EXTRA` in `dir` under GNU time: the report and the
/// peak resident memory in kB.
fn eval_json_with_peak_kb(dir: &Path, extra: &[&str]) -> (serde_json::Value, u64) {
    let o = Command::new(GNU_TIME)
        .args(["-f", "%M", env!("CARGO_BIN_EXE_kpiblend"), "eval", "t.kpi", "--format", "json"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", support::stderr(&o));
    let json = serde_json::from_str(&support::stdout(&o)).unwrap();
    (json, support::stderr(&o).trim().lines().last().unwrap().parse().unwrap())
}

/// C18: dirty rows under `--bad-rows skip` are counted; accepted + skipped = read.
#[test]
fn c18_dirty_rows_are_skipped_counted_and_add_up() {
    let mut csv = String::from("id,wait_s\n");
    for i in 0..2000 {
        if i % 100 == 7 {
            csv.push_str(&format!("{i},N/A\n"));
        } else {
            csv.push_str(&format!("{i},{}\n", i % 50));
        }
    }
    let dir = project_dir(
        "c18",
        "dataset t = csv(\"t.csv\") { wait_s: int }\nkpi n = count(t)\nkpi w = count(t.wait_s)\n",
        csv.as_bytes(),
    );
    let o =
        support::kpiblend(dir.path(), &["eval", "t.kpi", "--bad-rows", "skip", "--format", "json"]);
    let err = support::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("skipped 20 of 2000 rows"), "{err}");
    let json: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 1980.0);
    // Without skipping, the first dirty row stops the run with its place.
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("t.csv:9") && err.contains("N/A"), "{err}");
}

// ---- the catalogue: semantics (S) ---------------------------------------------------------

fn eval_with(kpi: &str, csv: &str) -> kpiblend::eval::Report {
    let mut p = Project::from_source("t.kpi", kpi);
    p.bind_csv("t", csv.as_bytes()).unwrap();
    p.scorecard().unwrap_or_else(|e| panic!("{e}"))
}

/// S04: a result beyond the range of numbers is an error at the KPI (KB0512), never inf,
/// NaN or a quiet null: from an aggregate (a sum of large values), from the arithmetic over
/// aggregates, and from arithmetic inside an aggregate's argument.
#[test]
fn s04_overflow_is_an_error_at_the_kpi_never_a_value() {
    let defs = "dataset t = csv(\"t.csv\")\nkpi sum_x = sum(t.x)\nkpi avg_x = avg(t.x)\n\
                kpi times = max(t.x) * 10\nkpi ratio = max(t.x) * 10 / (max(t.x) * 10)\n\
                kpi row = sum(t.x * 10)\nkpi fine = count(t)\n";
    // Every sum of these overflows, whatever the order of the rows.
    for csv in ["x\n1.7e308\n1.7e308\n1e308\n", "x\n1e308\n1.7e308\n1.7e308\n"] {
        let mut p = Project::from_source("t.kpi", defs);
        p.bind_csv("t", csv.as_bytes()).unwrap();
        let expected = [
            ("sum_x", "`sum` overflows the range of numbers (beyond ±1.8e308)", (2, 13)),
            ("avg_x", "`avg` overflows the range of numbers (beyond ±1.8e308)", (3, 13)),
            ("times", "the arithmetic overflows the range of numbers (beyond ±1.8e308)", (4, 13)),
            ("ratio", "the arithmetic overflows the range of numbers (beyond ±1.8e308)", (5, 13)),
            (
                "row",
                "while reading `t`: `*` overflows the range of numbers (beyond ±1.8e308)",
                (6, 11),
            ),
        ];
        for (kpi, message, (line, col)) in expected {
            let e = p.query(&[kpi], &[], None).expect_err(kpi);
            assert_eq!(e.diagnostics.len(), 1, "{e}");
            let d = &e.diagnostics[0];
            assert_eq!((d.code.as_str(), d.message.as_str()), ("KB0512", message), "{kpi}");
            let span = d.primary_span().expect("placed at the KPI");
            let at = e.sources.get(span.file).expect("a known file").line_col(span.start as usize);
            assert_eq!((at.line, at.column), (line, col), "{kpi}: {e}");
        }
        assert_eq!(p.query(&["fine"], &[], None).unwrap().kpi_value("fine", &[]), Some(3.0));
    }
    // A sum whose true value is in range can still overflow on the way, depending on the
    // order of the rows (as in every engine that sums in floating point): an error then,
    // the right value otherwise, never a quiet null.
    let run = |csv: &str| {
        let mut p = Project::from_source("t.kpi", defs);
        p.bind_csv("t", csv.as_bytes()).unwrap();
        p.query(&["sum_x"], &[], None).map(|r| r.kpi_value("sum_x", &[]))
    };
    let e = run("x\n1.7e308\n1.7e308\n-1.7e308\n").expect_err("overflows on the way");
    assert_eq!(e.diagnostics[0].code.as_str(), "KB0512");
    assert_eq!(run("x\n-1.7e308\n1.7e308\n1.7e308\n").unwrap(), Some(1.7e308));
}

/// The place of each error, as `(line, column)` of its primary span.
fn error_places(e: &kpiblend::Error) -> Vec<(&'static str, String, (usize, usize))> {
    e.diagnostics
        .iter()
        .map(|d| {
            let span = d.primary_span().unwrap_or_else(|| panic!("no place: {e}"));
            let at = e.sources.get(span.file).expect("a known file").line_col(span.start as usize);
            (d.code.as_str(), d.message.clone(), (at.line, at.column))
        })
        .collect()
}

/// Dates and times are in years -9999 to 9999: arithmetic beyond that is an error (KB0512)
/// where the value is made or read (the KPI, the dim, the filter, the date function, the
/// param), never a panic (`calendar` overflowed at `max(d) + 1e300`, red team) and never a
/// clamped date shown as if it were real.
#[test]
fn dates_beyond_their_range_are_errors_at_their_place() {
    let defs = "dataset t = csv(\"t.csv\") { d: date  t: time  x: number }\n\
                kpi far = max(t.d) + 1e300\n\
                kpi late = max(t.t) + 1e300\n\
                kpi weekday_far = count(t where weekday(t.d + 1e300) > 1)\n\
                dim m = month(t.d + 1e300)\n\
                dim shifted = t.d - 1e300\n\
                kpi n = count(t)\n\
                kpi near = max(t.d) + 2900000\n\
                view v = n where week(t.t - 1e300) > t.d\n\
                view huge = n where t.x * 1e300 > 0\n";
    let mut p = Project::from_source("t.kpi", defs);
    p.bind_csv("t", &b"d,t,x\n2026-03-01,2026-03-01T10:00:00Z,1e300\n"[..]).unwrap();
    let beyond = "is beyond the range of dates (years -9999 to 9999)";
    let e = p.query(&["far"], &[], None).expect_err("far");
    assert_eq!(
        error_places(&e),
        [("KB0512", format!("a date or time in `far` {beyond}"), (2, 11))]
    );
    let e = p.query(&["late"], &[], None).expect_err("late");
    assert_eq!(error_places(&e)[0].2, (3, 12));
    let e = p.query(&["weekday_far"], &[], None).expect_err("weekday");
    assert_eq!(
        error_places(&e),
        [("KB0512", format!("while reading `t`: the argument of `weekday` {beyond}"), (4, 19))]
    );
    for (dim, line) in [("m", 5), ("shifted", 6)] {
        let e = p.query(&["n"], &[dim], None).expect_err(dim);
        let (code, _, at) = &error_places(&e)[0];
        assert_eq!((*code, *at), ("KB0512", (line, 5)), "{e}");
    }
    for (view, line) in [("v", 9), ("huge", 10)] {
        let e = p.view(view).expect_err(view);
        let (code, _, (l, _)) = &error_places(&e)[0];
        assert_eq!((*code, *l), ("KB0512", line), "{e}");
    }
    // Up to 9999-12-31 is a date like any other.
    let r = p.query(&["near"], &[], None).unwrap();
    assert_eq!(r.kpi_value("near", &[]), Some(20_513.0 + 2_900_000.0));
    // A param is checked when it is folded.
    let c = kpiblend::check::check_text(
        "p.kpi",
        "param far = 2026-03-01 + 1e300\ndataset t = csv(\"t.csv\") { d: date }\nkpi m = max(t.d) target <= far\n",
        std::path::Path::new("."),
        &kpiblend::check::CheckOptions::default(),
    );
    assert_eq!(codes(&c), ["KB0512"], "{:?}", c.diagnostics);
}

/// A group's key never depends on which of -0 and 0 its first row had (`hour()` of a
/// midnight before 1970 is -0 in floating point, and so is `round(-0.4)`).
#[test]
fn minus_zero_group_keys_do_not_depend_on_row_order() {
    let defs = "dataset t = csv(\"t.csv\") { t: time  x: number }\n\
                dim hr = hour(t.t)\ndim r = round(t.x)\nkpi n = count(t)\n";
    let rows = ["1969-12-31T00:00:00Z,-0.4", "1970-01-01T00:00:00Z,0.4"];
    let json = |first: usize| {
        let mut p = Project::from_source("t.kpi", defs);
        let csv = format!("t,x\n{}\n{}\n", rows[first], rows[1 - first]);
        p.bind_csv("t", csv.as_bytes()).unwrap();
        ["hr", "r"].map(|d| {
            let r = p.query(&["n"], &[d], None).unwrap();
            assert_eq!(r.rows.len(), 1, "one group");
            serde_json::to_string(&r.rows[0].key).unwrap()
        })
    };
    assert_eq!(json(0), ["[0.0]", "[0.0]"]);
    assert_eq!(json(1), json(0));
}

/// S05: percentiles of one value, of ties, at 0% and 100%; 150% is a check-time error.
#[test]
fn s05_percentile_edges() {
    let defs = "dataset t = csv(\"t.csv\")\nkpi p0 = percentile(t.x, 0%)\n\
                kpi p100 = percentile(t.x, 100%)\nkpi p50 = median(t.x)\n";
    let one = eval_with(defs, "x\n7\n");
    for k in ["p0", "p100", "p50"] {
        assert_eq!(one.kpi_value(k, &[]), Some(7.0), "{k} of one value");
    }
    let ties = eval_with(defs, "x\n3\n3\n3\n9\n");
    assert_eq!(ties.kpi_value("p0", &[]), Some(3.0));
    assert_eq!(ties.kpi_value("p50", &[]), Some(3.0));
    assert_eq!(ties.kpi_value("p100", &[]), Some(9.0));
    let none = eval_with(defs, "x\n\n");
    assert_eq!(none.kpi_value("p50", &[]), None);
    let c = check_text(
        "dataset calls = csv(\"data/calls.csv\")\nkpi p = percentile(calls.wait_s, 150%)\n",
    );
    assert!(c.has_errors(), "150% is accepted");
    // The help suggests `%` only for a plain number that reads as a percentage (it said
    // "write it as a percentage: `150%%`").
    let help = |q: &str| {
        let text = format!(
            "dataset calls = csv(\"data/calls.csv\")\nkpi p = percentile(calls.wait_s, {q})\n"
        );
        let c = check_text(&text);
        assert_eq!(codes(&c), ["KB0208"], "{q}");
        c.diagnostics[0].help.clone()
    };
    assert_eq!(help("150%"), None);
    assert_eq!(help("90").as_deref(), Some("write it as a percentage: `90%`"));
}

/// S06: `Z`, an offset and no offset (UTC, documented) give the same instant; a column that
/// mixes the forms reads every form the same way.
#[test]
fn s06_timestamps_with_offsets_z_and_naive_are_one_instant() {
    let r = eval_with(
        "dataset t = csv(\"t.csv\") { at: time }\nkpi lo = min(t.at)\nkpi hi = max(t.at)\n",
        "at\n2026-03-14T10:00:00Z\n2026-03-14T12:00:00+02:00\n2026-03-14 10:00:00\n2026-03-14T05:00:00-0500\n",
    );
    assert_eq!(r.kpi_value("lo", &[]), r.kpi_value("hi", &[]));
}

/// S08: a negative duration is kept as it is (never silently made positive).
#[test]
fn s08_negative_durations_are_not_made_positive() {
    let r = eval_with(
        "dataset t = csv(\"t.csv\") { a: time  b: time }\nkpi d = avg(t.b - t.a)\n",
        "a,b\n2026-03-14T10:00:00Z,2026-03-14T09:59:00Z\n",
    );
    assert_eq!(r.kpi_value("d", &[]), Some(-60.0));
}

/// S08: only rows an aggregate reads are counted: a `where` that leaves out the rows with
/// an end before the start leaves nothing to warn about (the library's `backlog_age` with
/// `--as-of` warned about every ticket opened later); a `where` that reads the duration
/// itself reads every row.
#[test]
fn s08_rows_an_aggregate_filters_out_are_not_flagged() {
    let dir = project_dir(
        "s08-filter",
        "dataset t = csv(\"t.csv\") { a: time  b: time }\n\
         kpi kept_out = avg(t.b - t.a where t.b >= t.a)\n\
         kpi in_filter = count(t where t.b - t.a > 0s)\n",
        b"a,b\n2026-03-14T10:00:00Z,2026-03-14T10:02:00Z\n2026-03-14T10:00:00Z,2026-03-14T09:59:00Z\n",
    );
    let o =
        support::kpiblend(dir.path(), &["eval", "t.kpi", "--kpi", "kept_out", "--format", "json"]);
    assert_eq!(support::stderr(&o), "");
    let json: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 120.0);
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--kpi", "in_filter"]);
    let err = support::stderr(&o);
    assert!(err.contains("warning[KB0509]: 1 row of `t` has a negative duration"), "{err}");
    assert!(err.contains(" --> t.csv (record 2)\n ::: t.kpi:3:17\n"), "{err}");
}

/// S08: a time picked by `case` (with or without `else`) or `coalesce` is still a time.
#[test]
fn s08_durations_through_case_and_coalesce_are_flagged() {
    let dir = project_dir(
        "s08-case",
        "dataset t = csv(\"t.csv\") { a: time  b: time  ok: bool }\n\
         kpi no_else = avg(case when t.ok then t.b end - t.a)\n\
         kpi with_else = avg(case when t.ok then t.b else t.a end - t.a)\n\
         kpi picked = avg(coalesce(t.b, t.a) - t.a)\n",
        b"a,b,ok\n2026-03-14T10:00:00Z,2026-03-14T09:59:00Z,true\n",
    );
    for kpi in ["no_else", "with_else", "picked"] {
        let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--kpi", kpi]);
        let err = support::stderr(&o);
        assert!(
            err.contains("warning[KB0509]: 1 row of `t` has a negative duration"),
            "{kpi}: {err}"
        );
    }
}

/// S08, the rest of the row: the negative duration is flagged.
#[test]
fn s08_negative_durations_are_flagged() {
    let dir = project_dir(
        "s08",
        "dataset t = csv(\"t.csv\") { a: time  b: time }\nkpi d = avg(t.b - t.a)\n",
        b"a,b\n2026-03-14T10:00:00Z,2026-03-14T09:59:00Z\n",
    );
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    assert!(support::stderr(&o).contains("negative"), "{}", support::stderr(&o));
    // How many rows, of which dataset, which expression, and where the first one is; on
    // the streaming path and on the careful one (`--bad-rows skip` reads carefully).
    std::fs::write(
        dir.path().join("t.csv"),
        "a,b\n2026-03-14T10:00:00Z,2026-03-14T10:02:00Z\n2026-03-14T10:00:00Z,2026-03-14T09:59:00Z\n\
         2026-03-14T10:00:00Z,2026-03-14T10:00:00Z\n2026-03-14T10:00:00Z,2026-03-14T09:58:00Z\n",
    )
    .unwrap();
    for extra in [&[][..], &["--bad-rows", "skip"], &["--threads", "1"]] {
        let args: Vec<&str> = ["eval", "t.kpi"].iter().chain(extra).copied().collect();
        let o = support::kpiblend(dir.path(), &args);
        let err = support::stderr(&o);
        assert!(o.status.success(), "{extra:?}: a warning, not an error: {err}");
        assert!(
            err.contains("warning[KB0509]: 2 rows of `t` have a negative duration `t.b - t.a`"),
            "{extra:?}: {err}"
        );
        assert!(err.contains("--> t.csv (record 2)"), "{extra:?}: {err}");
        assert_eq!(err.matches("KB0509").count(), 1, "{extra:?}: {err}");
        // The value is not made positive: (120 - 60 + 0 - 120) / 4 = -15 s.
        assert!(support::stdout(&o).contains("-15s"), "{}", support::stdout(&o));
    }
    // Under a `--where` that leaves out the second row, the first is record 4.
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--where", "t.b != t.a - 1m"]);
    let err = support::stderr(&o);
    assert!(err.contains("1 row of `t` has") && err.contains("(record 4)"), "{err}");
    // No negative duration, no warning; zero durations are not negative.
    std::fs::write(dir.path().join("t.csv"), "a,b\n2026-03-14T10:00:00Z,2026-03-14T10:00:00Z\n")
        .unwrap();
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    assert!(support::stderr(&o).is_empty(), "{}", support::stderr(&o));
}

/// S09: integers are f64: a sum past 2^63 does not wrap, and large sums stay exact to 2^53.
#[test]
fn s09_sums_of_large_integers_do_not_wrap() {
    let big = 9_007_199_254_740_000i64;
    let csv = format!("x\n{big}\n{big}\n-5\n");
    let r = eval_with("dataset t = csv(\"t.csv\") { x: number }\nkpi s = sum(t.x)\n", &csv);
    assert_eq!(r.kpi_value("s", &[]), Some(2.0 * big as f64 - 5.0));
    let huge = "x\n9e18\n9e18\n9e18\n";
    let r = eval_with("dataset t = csv(\"t.csv\")\nkpi s = sum(t.x)\n", huge);
    assert_eq!(r.kpi_value("s", &[]), Some(2.7e19));
}

/// S11: `<=` includes the threshold: 19.999 and 20 count, 20.001 does not (and `<` the
/// reverse at exactly 20 s).
#[test]
fn s11_service_level_threshold_is_inclusive_at_20s() {
    let r = eval_with(
        "dataset t = csv(\"t.csv\")\nparam answer_within = 20s\n\
         kpi sl = rate(t.wait_s <= answer_within)\nkpi strict = rate(t.wait_s < answer_within)\n\
         kpi at = count(t where t.wait_s == 20s)\n",
        "wait_s\n19.999\n20\n20.001\n",
    );
    assert_eq!(r.kpi_value("sl", &[]), Some(2.0 / 3.0));
    assert_eq!(r.kpi_value("strict", &[]), Some(1.0 / 3.0));
    assert_eq!(r.kpi_value("at", &[]), Some(1.0));
}

/// S12: group keys are compared as written: trailing spaces, case and Unicode forms make
/// different groups (values are never trimmed or normalised; documented in data/mod.rs).
#[test]
fn s12_group_keys_are_not_normalised() {
    let mut p = Project::from_source(
        "t.kpi",
        "dataset t = csv(\"t.csv\")\ndim agent = t.agent\nkpi n = count(t)\n",
    );
    p.bind_csv("t", "agent\nAgent\n\"Agent \"\nagent\nCaf\u{e9}\nCafe\u{301}\nAgent\n".as_bytes())
        .unwrap();
    let r = p.query(&["n"], &["agent"], None).unwrap();
    let keys: Vec<String> = r
        .rows
        .iter()
        .map(|row| match &row.key[..] {
            [Key::Text(t)] => t.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(r.kpi_value("n", &[Key::Text("Agent".into())]), Some(2.0));
    assert_eq!(r.kpi_value("n", &[Key::Text("Agent ".into())]), Some(1.0));
}

// ---- the catalogue: REPL (R) --------------------------------------------------------------

const REPL_KPI: &str = "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n";

/// R01: a cancelled evaluation stops with "interrupted" (the CLI sets the flag on Ctrl-C).
#[test]
fn r01_a_cancelled_evaluation_says_interrupted() {
    let mut p = Project::from_source("t.kpi", REPL_KPI);
    let rows: String = (0..200_000).map(|i| format!("{}\n", i % 10)).collect();
    p.bind_csv("t", format!("a\n{rows}").as_bytes()).unwrap();
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let err = p.evaluate_extra("<repl>", "view q = n\n", "q", Some(cancel)).unwrap_err();
    assert!(err.diagnostics.iter().any(|d| d.code == Code::Interrupted), "{err}");
    // And without the flag the same query runs.
    let ok = p.evaluate_extra("<repl>", "view q = n\n", "q", None).unwrap();
    assert_eq!(ok.kpi_value("n", &[]), Some(200_000.0));
}

fn piped_repl(dir: &Path, script: &[u8]) -> Output {
    support::kpiblend_with_stdin(dir, &["repl", "t.kpi"], script)
}

/// D06 in the REPL: a query as deep as the checker allows is evaluated, and one past the
/// limit is an error, on the REPL's own (main) thread too. 600 nested `case`s overflowed
/// its 8 MiB stack while `check` and `eval` of the same expression worked (red team).
#[test]
fn d06_a_query_at_the_depth_limit_runs_in_the_repl() {
    let dir = project_dir("d06-repl", REPL_KPI, b"a\n1\n");
    let deep =
        |n: usize| format!("sum({}t.a{})\n", "case when t.a > 0 then ".repeat(n), " end".repeat(n));
    let o = piped_repl(dir.path(), deep(1000).as_bytes());
    let (out, err) = (support::stdout(&o), support::stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.trim_end().ends_with(" 1"), "the sum of one row of 1: {out}");
    let o = piped_repl(dir.path(), deep(1100).as_bytes());
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("KB0003") && err.contains("deeper than 1024 levels"), "{err}");
}

/// R05: an invalid UTF-8 line is an error with its line number; the script goes on.
#[test]
fn r05_an_invalid_utf8_line_in_a_piped_script_is_an_error_with_its_number() {
    let dir = project_dir("r05", REPL_KPI, b"a\n1\n2\n");
    let o = piped_repl(dir.path(), b"n\n\xff\xfe bad\nkpi m = n * 10\nm\n");
    let err = support::stderr(&o);
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    assert!(support::stdout(&o).contains("20"), "the lines after it ran: {}", support::stdout(&o));
    assert_eq!(o.status.code(), Some(1), "a failed line makes the script fail");
}

/// In a piped script, a diagnostic names the script's line, not the line within the
/// statement (`<input>:2:3` for an error on line 5, red team); a later error about a
/// statement typed earlier names the line it was typed on.
#[test]
fn a_piped_script_reports_the_lines_of_the_script() {
    let dir = project_dir("repl-lines", REPL_KPI, b"a\n1\n2\n");
    let o = piped_repl(dir.path(), b"n\nn\n\nkpi z = count(t) +\n  nosuch\n");
    let err = support::stderr(&o);
    assert!(err.contains(" --> <input>:5:3\n"), "{err}");
    assert!(err.contains("5 |   nosuch\n"), "{err}");
    // A `:` command's error names its line too.
    let o = piped_repl(dir.path(), b"n\n\n:bogus\n");
    assert!(support::stderr(&o).contains("<input>:3: error: unknown command `:bogus`"));
}

/// A statement that never ends (`kpi k = (` on every line, `1 +` on every line) is
/// finished at the nesting limit or stopped at 8 MiB: reading it is linear (each line
/// was scanned again with every new one: hours for 20 MB) and bounded.
#[test]
fn a_piped_statement_that_never_ends_is_bounded() {
    let dir = project_dir("repl-endless", REPL_KPI, b"a\n1\n");
    let plus = "1 +\n".repeat(3 << 20);
    let o = piped_repl(dir.path(), plus.as_bytes());
    assert_eq!(o.status.code(), Some(1));
    assert!(support::stderr(&o).contains("is longer than 8 MiB; the script stops here"));
    let open = "kpi k = (\n".repeat(1000);
    let o = piped_repl(dir.path(), open.as_bytes());
    assert_no_panic(&o);
    assert!(support::stderr(&o).contains("error[KB"), "{}", support::stderr(&o));
}

/// A REPL on a pseudo-terminal, in `dir` with `t.kpi` loaded.
#[cfg(unix)]
fn pty_repl(dir: &Path, env: &[(&str, Option<&Path>)]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpiblend"));
    cmd.args(["repl", "t.kpi"]).current_dir(dir).env("NO_COLOR", "1").env("TERM", "xterm");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    rexpect::session::spawn_command(cmd, Some(20_000)).unwrap()
}

/// Runs the query `n` once at the prompt, then leaves with Ctrl-D.
#[cfg(unix)]
fn query_once_and_leave(mut p: rexpect::session::PtySession) {
    p.exp_string("kb> ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("value").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

/// R06: a history file in a place that cannot be created: one warning, the REPL works.
#[cfg(unix)]
#[test]
fn r06_an_unusable_history_path_warns_once_and_the_repl_works() {
    let dir = project_dir("r06", REPL_KPI, b"a\n1\n2\n");
    dir.write("blocker", "a file, not a directory");
    let history = dir.path().join("blocker/history");
    let mut p = pty_repl(dir.path(), &[("KPIBLEND_HISTORY", Some(&history))]);
    p.exp_string("history disabled").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("value").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("value").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_control('d').unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("history"), "warned again: {rest}");
}

/// R07: a history file that is not UTF-8 is kept aside, never truncated.
#[cfg(unix)]
#[test]
fn r07_a_corrupt_history_file_is_kept_aside_not_truncated() {
    let dir = project_dir("r07", REPL_KPI, b"a\n1\n");
    let history = dir.path().join("history");
    let corrupt = b"n\n\xff\xfe\x00binary\nkpi old = n\n".to_vec();
    std::fs::write(&history, &corrupt).unwrap();
    query_once_and_leave(pty_repl(dir.path(), &[("KPIBLEND_HISTORY", Some(&history))]));
    let kept: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("history.bad"))
        .collect();
    assert_eq!(kept.len(), 1, "the corrupt file was not kept aside");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), corrupt, "the corrupt file was changed");
}

/// A long history survives a session: rustyline kept 100 entries and rewrote the file to
/// them after one command (red team: 5,000 entries cut to 100 without a word).
#[cfg(unix)]
#[test]
fn a_long_history_is_kept_after_a_session() {
    let dir = project_dir("hist-long", REPL_KPI, b"a\n1\n");
    let history = dir.path().join("history");
    let old: String = (0..5000).map(|i| format!("kpi old{i} = n\n")).collect();
    std::fs::write(&history, format!("#V2\n{old}")).unwrap();
    query_once_and_leave(pty_repl(dir.path(), &[("KPIBLEND_HISTORY", Some(&history))]));
    let text = std::fs::read_to_string(&history).unwrap();
    let entries: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(entries.len(), 5001, "{}", &text[..200.min(text.len())]);
    assert_eq!(entries[0], "kpi old0 = n");
    assert_eq!(entries[5000], "n");
}

/// A history path that is a pipe or a device is not read (it may never end) nor
/// replaced: one warning, and the REPL works.
#[cfg(unix)]
#[test]
fn a_history_path_that_is_not_a_file_is_left_alone() {
    let dir = project_dir("hist-fifo", REPL_KPI, b"a\n1\n");
    let fifo = dir.path().join("history");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut p = pty_repl(dir.path(), &[("KPIBLEND_HISTORY", Some(&fifo))]);
    p.exp_string("is not a regular file").unwrap();
    query_once_and_leave(p);
    let kind = std::fs::metadata(&fifo).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

/// R08: two sessions at once: both sessions' lines end up in the history file.
#[cfg(unix)]
#[test]
fn r08_two_repls_at_once_keep_both_histories() {
    let dir = project_dir("r08", REPL_KPI, b"a\n1\n");
    let history = dir.path().join("history");
    let env = [("KPIBLEND_HISTORY", Some(history.as_path()))];
    let mut a = pty_repl(dir.path(), &env);
    let mut b = pty_repl(dir.path(), &env);
    a.exp_string("kb> ").unwrap();
    b.exp_string("kb> ").unwrap();
    a.send_line("kpi from_a = n").unwrap();
    a.exp_string("defined `from_a`").unwrap();
    a.exp_string("kb> ").unwrap();
    b.send_line("kpi from_b = n").unwrap();
    b.exp_string("defined `from_b`").unwrap();
    b.exp_string("kb> ").unwrap();
    a.send_line("from_a").unwrap();
    a.exp_string("value").unwrap();
    a.exp_string("kb> ").unwrap();
    a.send_control('d').unwrap();
    b.send_control('d').unwrap();
    a.exp_eof().unwrap();
    b.exp_eof().unwrap();
    let saved = std::fs::read_to_string(&history).unwrap();
    for line in ["kpi from_a = n", "kpi from_b = n", "from_a"] {
        assert!(saved.lines().any(|l| l == line), "{line} missing from:\n{saved}");
    }
}

/// R10: `TERM=dumb`: plain line input, no escape sequences in the output.
#[cfg(unix)]
#[test]
fn r10_term_dumb_gets_plain_line_input() {
    let dir = project_dir("r10", REPL_KPI, b"a\n1\n2\n3\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpiblend"));
    cmd.args(["repl", "t.kpi"])
        .current_dir(dir.path())
        .env("TERM", "dumb")
        .env("KPIBLEND_HISTORY", dir.path().join("history"));
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_line("n").unwrap();
    let before = p.exp_string("kb> ").unwrap_or_else(|e| panic!("{e}"));
    assert!(before.contains("value") && before.contains('3'), "{before:?}");
    assert!(!before.contains('\u{1b}'), "escape sequences with TERM=dumb: {before:?}");
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

// ---- the catalogue: CLI and file system (F) -----------------------------------------------

/// F01: a missing file names the path; exit 2 (the README's code for I/O errors).
#[test]
fn f01_a_missing_file_names_its_path_and_exits_2() {
    let dir = project_dir("f01", "dataset t = csv(\"data/calls.csv\")\nkpi n = count(t)\n", b"");
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    let err = support::stderr(&o);
    assert!(err.contains("data/calls.csv") && err.contains("No such file or directory"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    let o = support::kpiblend(dir.path(), &["eval", "missing.kpi"]);
    let err = support::stderr(&o);
    assert!(err.contains("missing.kpi") && err.contains("No such file or directory"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_no_panic(&o);
}

/// F02: a directory given as a data file is named as one (`open` alone would succeed).
#[test]
fn f02_directory_given_as_a_data_file() {
    let dir = project_dir("f02", "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n", b"a\n1\n");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--data", "t=data"]);
    let err = support::stderr(&o);
    assert!(err.contains("data: is a directory") || err.contains("data is a directory"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    let o = support::kpiblend(dir.path(), &["check", "data"]);
    let all = format!("{}{}", support::stdout(&o), support::stderr(&o));
    assert!(all.contains("data: it is a directory"), "{all}");
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert_no_panic(&o);
}

/// F03: permission denied, checked as `nobody` (these tests run as root, for whom no
/// permission is ever denied). Skipped where `setpriv` or root is missing.
#[cfg(target_os = "linux")]
#[test]
fn f03_permission_denied_is_a_clear_message() {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let setpriv = Path::new("/usr/bin/setpriv");
    if !is_root || !setpriv.exists() {
        eprintln!("f03 skipped: needs root and setpriv to run as another user");
        return;
    }
    let dir = TempDir::new("f03");
    std::fs::write(dir.path().join("t.kpi"), "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n")
        .unwrap();
    std::fs::write(dir.path().join("t.csv"), "a\n1\n").unwrap();
    set_mode(dir.path(), 0o755);
    set_mode(&dir.path().join("t.kpi"), 0o644);
    set_mode(&dir.path().join("t.csv"), 0o000);
    // The binary lives under target/, which `nobody` must be able to reach.
    let o = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_kpiblend"))
        .args(["eval", "t.kpi"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = support::stderr(&o);
    if err.contains("Permission denied") && err.contains("kpiblend") && !err.contains("t.csv") {
        eprintln!("f03 skipped: `nobody` cannot run the test binary here: {err}");
        return;
    }
    assert!(err.contains("t.csv") && err.contains("Permission denied"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_no_panic(&o);
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// F06: file and directory names that are not UTF-8 work end to end.
#[cfg(unix)]
#[test]
fn f06_non_utf8_file_names_work() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = TempDir::new("f06");
    let sub = dir.path().join(std::ffi::OsStr::from_bytes(b"d\xff"));
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("t.csv"), "a\n1\n2\n").unwrap();
    let kpi = sub.join(std::ffi::OsStr::from_bytes(b"k\xfe.kpi"));
    std::fs::write(&kpi, "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kpiblend"))
        .arg("eval")
        .arg(&kpi)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", support::stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 2.0);
    // And an error about such a file shows its name, escaped.
    std::fs::write(&kpi, "dataset t = csv(\"t.csv\")\nkpi n = count(t) +\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kpiblend")).arg("check").arg(&kpi).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_no_panic(&o);
    // `--data` names such a file too (red team: clap refused it as invalid UTF-8).
    std::fs::write(&kpi, "dataset t = csv(\"none.csv\")\nkpi n = count(t)\n").unwrap();
    let mut data = std::ffi::OsString::from("t=");
    data.push(std::ffi::OsStr::from_bytes(b"d\xff/t.csv"));
    let o = Command::new(env!("CARGO_BIN_EXE_kpiblend"))
        .current_dir(dir.path())
        .arg("eval")
        .arg(&kpi)
        .arg("--data")
        .arg(&data)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", support::stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 2.0);
}

/// F07: `-` reads standard input (`fmt`); the data of `eval` is not read from it.
#[test]
fn f07_dash_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpiblend"))
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"kpi   n=count( t )\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(support::stdout(&o), "kpi n = count(t)\n", "{}", support::stderr(&o));
    assert!(o.status.success());
    // Given twice, it is a usage error (below), never a panic.
    let o = kpiblend_with(&["fmt", "-", "-"], Stdio::piped(), Stdio::null());
    assert_no_panic(&o);
}

/// Runs `kpiblend` in the repository root with `input` on standard input.
fn kpiblend_stdin(args: &[&str], input: &[u8]) -> Output {
    support::kpiblend_with_stdin(&root(), args, input)
}

/// F07, the rest of the row: `check -` (and `eval -`, `test -`) read standard input too,
/// named `<stdin>` in diagnostics, and `-` given twice is a usage error.
#[test]
fn f07_dash_is_standard_input_everywhere_and_only_once() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpiblend"))
        .args(["check", "-", "--no-data"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"kpi n = 1\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}{}", support::stdout(&o), support::stderr(&o));
    let o = kpiblend_with(&["fmt", "-", "-"], Stdio::piped(), Stdio::null());
    assert_eq!(o.status.code(), Some(2), "{}", support::stdout(&o));
    // A finding in standard input is placed in `<stdin>`, as `fmt -` names it.
    let o = kpiblend_stdin(&["check", "-", "--no-data"], b"kpi n = 1 +\n");
    assert_eq!(o.status.code(), Some(1), "{}", support::stderr(&o));
    assert!(support::stdout(&o).contains("--> <stdin>:1:11"), "{}", support::stdout(&o));
    let o = kpiblend_stdin(&["eval", "-"], b"kpi n = 40 + 2\n");
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(support::stdout(&o).contains("42"), "{}", support::stdout(&o));
    let o = kpiblend_stdin(&["test", "-"], b"kpi n = 1\ntest \"one\" {\n    expect n == 1\n}\n");
    assert!(o.status.success(), "{}{}", support::stdout(&o), support::stderr(&o));
    assert!(support::stdout(&o).contains("1 passed"), "{}", support::stdout(&o));
    // Twice, on any command, or once as a file and once as data: a usage error, and
    // nothing is checked.
    let both = ["check", "-", "examples/contact_center.kpi", "-", "--no-data"];
    let as_data = ["eval", "-", "--data", "calls=-"];
    for args in [&["check", "-", "-"][..], &["test", "-", "-"], &both, &as_data] {
        let o = kpiblend_stdin(args, b"kpi n = 1\n");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", support::stdout(&o));
        assert!(support::stdout(&o).is_empty(), "{args:?}: {}", support::stdout(&o));
        assert!(support::stderr(&o).contains("standard input"), "{}", support::stderr(&o));
        assert_no_panic(&o);
    }
}

/// F08: the same file given twice is checked once (no duplicate-definition errors against
/// itself, no doubled output).
#[test]
fn f08_the_same_file_given_twice() {
    let o = support::kpiblend(
        &root(),
        &["check", "examples/contact_center.kpi", "examples/contact_center.kpi", "--no-data"],
    );
    let err = support::stderr(&o);
    assert!(!err.contains("KB0104"), "a file clashes with itself: {err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

/// Files checked together share imports and data: each finding is said once, however
/// many of the files reach it and however its path is spelt (red team: `check
/// library/*.kpi` said an error in `datasets.kpi` seven times, and GitHub shows about ten
/// annotations a step). Paths lose their `./` steps.
#[test]
fn f08_files_checked_together_say_each_finding_once() {
    let dir = TempDir::new("f08-once");
    dir.write("d.csv", "a,b\n1,2\n");
    dir.write("base.kpi", "dataset d = csv(\"./d.csv\")\nkpi broken = zz\n");
    dir.write("a.kpi", "import \"./base.kpi\"\nkpi x = sum(d.nope)\n");
    dir.write("b.kpi", "import \"base.kpi\"\nkpi y = count(d)\n");
    let o = support::kpiblend(dir.path(), &["check", "a.kpi", "b.kpi", "base.kpi", "./a.kpi"]);
    let out = support::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_eq!(out.matches("error[KB0102]: unknown name `zz`").count(), 1, "{out}");
    assert_eq!(out.matches("unknown column `nope`").count(), 1, "{out}");
    assert!(out.ends_with("checked 4 files: 2 errors, 0 warnings\n"), "{out}");
    let o = support::kpiblend(dir.path(), &["check", "--format", "github", "a.kpi", "b.kpi"]);
    let annotations = support::stdout(&o);
    assert_eq!(annotations.lines().count(), 2, "{annotations}");
    assert!(annotations.contains("file=base.kpi,line=2,col=14,"), "{annotations}");
}

/// A diagnostic at a place in a KPI file has its column in JSON and GitHub output, a data
/// file's problem too when it is shown at the `csv(...)` that names the file; one about the
/// run as a whole has no file (red team: `"column": null` beside an `end_column`, and
/// `"file": ""`).
#[test]
fn json_diagnostics_have_a_column_wherever_they_have_a_place_in_the_source() {
    let dir = TempDir::new("json-columns");
    dir.write("t.kpi", "dataset t = csv(\"nope.csv\")\nkpi n = count(t)\n");
    let o = support::kpiblend(dir.path(), &["check", "--format", "json", "t.kpi"]);
    let v: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    let d = &v[0];
    assert_eq!(d["code"], "KB0501", "{v}");
    assert_eq!(
        (&d["file"], &d["line"], &d["column"]),
        (&"t.kpi".into(), &1.into(), &17.into()),
        "{v}"
    );
    let o = support::kpiblend(dir.path(), &["check", "--format", "github", "t.kpi"]);
    assert!(support::stdout(&o).contains("file=t.kpi,line=1,col=17,"), "{}", support::stdout(&o));
    let o = support::kpiblend(
        dir.path(),
        &["check", "--format", "json", "--data", "nope=x.csv", "t.kpi", "t.kpi"],
    );
    let v: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    let unmatched = v.as_array().unwrap().iter().find(|d| d["code"] == "KB0508").expect("KB0508");
    assert_eq!(unmatched["file"], serde_json::Value::Null, "{v}");
}

/// A path with a line break (an import, or a triple-quoted string used as a data path) is
/// named on one line, its break escaped, in the message and the `-->` line (red team).
#[test]
fn x07_paths_with_line_breaks_are_named_on_one_line() {
    let dir = TempDir::new("x07-path-lines");
    dir.write("i.kpi", "import \"a\\nb.kpi\"\n");
    dir.write("d.kpi", "dataset t = csv(\"\"\"\n  a\n  1\n\"\"\")\nkpi n = count(t)\n");
    let o = support::kpiblend(dir.path(), &["check", "i.kpi", "d.kpi"]);
    let out = support::stdout(&o);
    assert!(out.contains("error[KB0109]: cannot read a\\u{a}b.kpi: "), "{out}");
    assert!(out.contains("error[KB0501]: cannot open a\\u{a}1\\u{a}: "), "{out}");
    assert!(out.contains(" --> a\\u{a}1\\u{a}\n"), "{out}");
}

/// One rule for cells, wherever they are in the file and whatever `--bad-rows` says: a
/// declared column is parsed in every row (a bad cell fails `eval`, or is a skipped row),
/// an undeclared one only when a KPI reads it (red team: a bad cell in a column nobody
/// read failed `check` and `eval` in the first 10,000 rows, passed after them, and was
/// never skipped).
#[test]
fn cells_are_judged_by_one_rule_wherever_they_are() {
    let dir = TempDir::new("cells-one-rule");
    dir.write(
        "w.kpi",
        "dataset t = csv(\"w.csv\") {\n    x: int\n    d: date\n}\nkpi n = count(t)\nkpi s = sum(t.x)\n",
    );
    for bad_at in [5_000, 15_000] {
        let mut csv = b"x,d,u\n".to_vec();
        for i in 0..20_000 {
            let d = if i == bad_at {
                "2026-02-30".to_string()
            } else {
                format!("2026-01-{:02}", i % 28 + 1)
            };
            // `u` is read by no KPI: its invalid UTF-8 is never an error.
            let u: &[u8] = if i % 7_000 == 0 { b"caf\xe9" } else { b"ok" };
            csv.extend_from_slice(format!("{i},{d},").as_bytes());
            csv.extend_from_slice(u);
            csv.push(b'\n');
        }
        std::fs::write(dir.path().join("w.csv"), &csv).unwrap();
        let line = format!("w.csv:{} (record {}, column `d`)", bad_at + 2, bad_at + 1);
        for threads in ["1", "2"] {
            let o = support::kpiblend(dir.path(), &["eval", "w.kpi", "--threads", threads]);
            assert_eq!(o.status.code(), Some(2), "bad at {bad_at}: {}", support::stdout(&o));
            assert!(support::stderr(&o).contains(&line), "{}", support::stderr(&o));
        }
        let o = support::kpiblend(
            dir.path(),
            &["eval", "w.kpi", "--bad-rows", "skip", "--format", "json"],
        );
        assert!(o.status.success(), "{}", support::stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
        assert_eq!(v["rows"][0]["cells"][0]["value"], 19_999.0, "bad at {bad_at}");
        assert!(support::stderr(&o).contains("skipped 1 of 20000 rows"), "{}", support::stderr(&o));
        // `check` reads a sample: it names the bad cell when it is in it, and never `u`.
        let o = support::kpiblend(dir.path(), &["check", "w.kpi"]);
        let out = support::stdout(&o);
        assert_eq!(o.status.code(), Some(if bad_at < 10_000 { 1 } else { 0 }), "{out}");
        assert!(!out.contains("column `u`"), "{out}");
    }
}

/// `--bad-rows skip` judges the columns the request reads, as plain `eval` does: a bad
/// cell in a column only an unselected KPI reads skips no row (red team: `--kpi n` gave
/// 19,999 with skip and 20,000 without).
#[test]
fn skipping_judges_only_the_columns_the_request_reads() {
    let dir = TempDir::new("skip-request-columns");
    let mut csv = String::from("id,y\n");
    for i in 0..20_000 {
        csv.push_str(&format!(
            "{i},{}\n",
            if i == 15_000 { "oops".to_string() } else { (i % 3).to_string() }
        ));
    }
    dir.write("d.csv", &csv);
    dir.write(
        "k.kpi",
        "dataset d = csv(\"d.csv\")\nkpi n = count(d)\nkpi sy = sum(d.y)\nview vn = n\n",
    );
    let value = |args: &[&str]| {
        let o = support::kpiblend(
            dir.path(),
            &[&["eval", "k.kpi", "--format", "json"][..], args].concat(),
        );
        assert!(o.status.success(), "{args:?}: {}", support::stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
        v["rows"][0]["cells"][0]["value"].as_f64().unwrap()
    };
    for args in [
        &["--kpi", "n"][..],
        &["--view", "vn"],
        &["--kpi", "n", "--bad-rows", "skip"],
        &["--view", "vn", "--bad-rows", "skip", "--threads", "1"],
    ] {
        assert_eq!(value(args), 20_000.0, "{args:?}");
    }
    // Reading `y`, the row is skipped (and said), or the run fails.
    assert_eq!(value(&["--kpi", "n,sy", "--bad-rows", "skip"]), 19_999.0);
    let o = support::kpiblend(dir.path(), &["eval", "k.kpi", "--kpi", "n,sy"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A column read as text because of a few odd cells among numbers says which cell, with its
/// line (red team: `12s` in the first rows of `wait_s` gave only "`avg` needs numbers, found
/// text" at the KPI, and no place in the data).
#[test]
fn a_column_made_text_by_a_few_cells_names_the_first() {
    let dir = TempDir::new("text-among-numbers");
    let mut csv = String::from("id,wait_s,note\n");
    for i in 0..200 {
        let wait = if i == 4 { "12s".to_string() } else { (i % 60).to_string() };
        // `note` is text with a few numbers: not flagged.
        let note = if i % 3 == 0 { "7".to_string() } else { format!("n{i}") };
        csv.push_str(&format!("{i},{wait},{note}\n"));
    }
    dir.write("w.csv", &csv);
    dir.write("w.kpi", "dataset c = csv(\"w.csv\")\nkpi asa = avg(c.wait_s) unit seconds\n");
    let o = support::kpiblend(dir.path(), &["check", "w.kpi"]);
    let out = support::stdout(&o);
    assert!(out.starts_with("warning[KB0514]: column `wait_s` of `c` is read as text: its cells are numbers but for some, the first `12s`\n --> w.csv:6 (column `wait_s`)\n"), "{out}");
    assert_eq!(out.matches("KB0514").count(), 1, "{out}");
    assert!(out.contains("error[KB0202]"), "{out}");
    // Declared, the cell is an error with its place in `eval`.
    dir.write(
        "w.kpi",
        "dataset c = csv(\"w.csv\") { wait_s: number }\nkpi asa = avg(c.wait_s) unit seconds\n",
    );
    let o = support::kpiblend(dir.path(), &["eval", "w.kpi"]);
    assert!(
        support::stderr(&o).contains("--> w.csv:6 (record 5, column `wait_s`)"),
        "{}",
        support::stderr(&o)
    );
}

/// `fmt` run as root over a user's file (a CI container, pre-commit in Docker) leaves it
/// the user's: the new file gets the old one's owner and group, as its permissions.
#[cfg(unix)]
#[test]
fn fmt_keeps_a_files_owner_and_group() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = TempDir::new("fmt-owner");
    let file = dir.write("t.kpi", "kpi   n=1\n");
    if std::os::unix::fs::chown(&file, Some(1001), Some(1002)).is_err() {
        eprintln!("skipped: giving a file away needs root");
        return;
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = support::kpiblend(dir.path(), &["fmt", "t.kpi"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kpi n = 1\n");
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (1001, 1002, 0o640));
}

/// F09: `fmt` replaces a file by renaming a complete temporary file over it (the inode
/// changes; no temporary file is left behind).
#[cfg(unix)]
#[test]
fn f09_fmt_replaces_files_atomically() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = TempDir::new("f09");
    let file = dir.write("t.kpi", "kpi   n=count( t )\n");
    let before = std::fs::metadata(&file).unwrap().ino();
    let o = support::kpiblend(dir.path(), &["fmt", "t.kpi"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kpi n = count(t)\n");
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), before, "written in place");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["t.kpi"]);
    // The REPL's `:save` replaces its file the same way.
    std::fs::write(dir.path().join("t.csv"), "a\n1\n").unwrap();
    std::fs::write(&file, "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n").unwrap();
    let mut session = kpiblend::repl::Session::new();
    assert!(session.load(&file).ok);
    let saved = dir.path().join("saved.kpi");
    std::fs::write(&saved, "old\n").unwrap();
    let before = std::fs::metadata(&saved).unwrap().ino();
    let reply = session.handle(&format!(":save! {}", saved.display()));
    assert!(reply.ok, "{}", reply.err);
    assert_ne!(std::fs::metadata(&saved).unwrap().ino(), before, ":save wrote in place");
    assert!(std::fs::read_to_string(&saved).unwrap().contains("kpi n = count(t)"));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["saved.kpi", "t.csv", "t.kpi"], "a temporary file was left behind");
}

// ---- the catalogue: security and resources (X) --------------------------------------------

/// X01: a data path in a KPI file may not leave the project (the KPI file's directory):
/// neither by `..` nor by an absolute path. The command line may name any file.
#[test]
fn x01_data_paths_in_kpi_files_stay_inside_the_project() {
    let dir = TempDir::new("x01");
    dir.write("outside.csv", "a\n1\n");
    for path in ["../outside.csv", "/etc/passwd", "sub/../../outside.csv", "../missing.csv"] {
        let inner =
            dir.write("p/t.kpi", &format!("dataset t = csv(\"{path}\")\nkpi n = count(t)\n"));
        let o = support::kpiblend(inner.parent().unwrap(), &["eval", "t.kpi"]);
        assert_ne!(o.status.code(), Some(0), "{path} was read: {}", support::stdout(&o));
        let err = support::stderr(&o);
        assert!(err.contains("outside"), "{err}");
        // A diagnostic with a code, at the string literal.
        assert!(err.contains("error[KB0112]") && err.contains("--> t.kpi:1:17"), "{err}");
        assert!(support::stdout(&o).is_empty(), "{}", support::stdout(&o));
    }
    // The command line may name it.
    let p = dir.path().join("p");
    let o = support::kpiblend(&p, &["eval", "t.kpi", "--data", "t=../outside.csv"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    // Paths that stay inside, even through `..`, are fine.
    dir.write("p/data/t.csv", "a\n1\n2\n");
    dir.write("p/t.kpi", "dataset t = csv(\"data/../data/t.csv\")\nkpi n = count(t)\n");
    let o = support::kpiblend(&p, &["eval", "t.kpi", "--format", "json"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 2.0);
    // Test data files and imports obey the same rule, and `check` says so too.
    dir.write("p/t.kpi", "kpi n = 1\ntest \"x\" {\n    t = csv(\"../outside.csv\")\n}\n");
    let o = support::kpiblend(&p, &["check", "t.kpi", "--no-data"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::stdout(&o));
    assert!(support::stdout(&o).contains("error[KB0112]"), "{}", support::stdout(&o));
    dir.write("shared.kpi", "kpi n = 1\n");
    dir.write("p/t.kpi", "import \"../shared.kpi\"\n");
    let o = support::kpiblend(&p, &["check", "t.kpi", "--no-data"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::stdout(&o));
    assert!(support::stdout(&o).contains("error[KB0112]"), "{}", support::stdout(&o));
}

/// X01 in a repository: the project is the git work tree, so a scorecard in a folder may
/// import shared definitions and read data from sibling folders of the same repository,
/// and still not leave it.
#[test]
fn x01_in_a_git_repository_the_project_is_the_work_tree() {
    let dir = TempDir::new("x01-git");
    dir.write("outside.csv", "a\n1\n");
    dir.write("repo/.git/HEAD", "ref: refs/heads/main\n");
    dir.write("repo/shared/defs.kpi", "dataset t = csv(\"../data/t.csv\")\nkpi n = count(t)\n");
    dir.write("repo/data/t.csv", "a\n1\n2\n3\n");
    let card = dir.write("repo/scorecards/card.kpi", "import \"../shared/defs.kpi\"\n");
    let at = card.parent().unwrap();
    let o = support::kpiblend(at, &["eval", "card.kpi", "--format", "json"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 3.0);
    // Out of the work tree is still out.
    dir.write("repo/scorecards/card.kpi", "dataset u = csv(\"../../outside.csv\")\n");
    let o = support::kpiblend(at, &["check", "card.kpi", "--no-data"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::stdout(&o));
    let out = support::stdout(&o);
    assert!(out.contains("error[KB0112]") && out.contains("(the git work tree)"), "{out}");
}

/// X03, the rest of the row: a symlink inside the project that leads out of it is
/// rejected as X01 (the link is judged by where it leads); one that stays inside works.
#[cfg(unix)]
#[test]
fn x03_a_symlink_leaving_the_project_is_rejected() {
    let dir = TempDir::new("x03-escape");
    dir.write("outside.csv", "a\n1\n");
    dir.write("p/t.kpi", "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n");
    dir.write("p/data/real.csv", "a\n1\n2\n");
    let p = dir.path().join("p");
    std::os::unix::fs::symlink("../outside.csv", p.join("t.csv")).unwrap();
    let o = support::kpiblend(&p, &["eval", "t.kpi"]);
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("error[KB0112]") && err.contains("outside"), "{err}");
    // A symlinked directory that leads out is the same.
    std::fs::remove_file(p.join("t.csv")).unwrap();
    std::os::unix::fs::symlink("..", p.join("up")).unwrap();
    dir.write("p/t.kpi", "dataset t = csv(\"up/outside.csv\")\nkpi n = count(t)\n");
    let o = support::kpiblend(&p, &["eval", "t.kpi"]);
    assert!(support::stderr(&o).contains("error[KB0112]"), "{}", support::stderr(&o));
    // A link inside the project is followed.
    std::os::unix::fs::symlink("data/real.csv", p.join("t.csv")).unwrap();
    dir.write("p/t.kpi", "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n");
    let o = support::kpiblend(&p, &["eval", "t.kpi", "--format", "json"]);
    assert!(o.status.success(), "{}", support::stderr(&o));
}

/// X02: `/dev/zero` and a FIFO are refused up front: "not a regular file", quickly.
#[cfg(unix)]
#[test]
fn x02_dev_zero_and_a_fifo_as_data_are_refused_up_front() {
    let dir = project_dir("x02", "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n", b"a\n1\n");
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (data, kind) in [("t=/dev/zero", "character device"), ("t=pipe", "FIFO")] {
        let started = Instant::now();
        for cmd in ["eval", "check"] {
            let o = support::kpiblend(dir.path(), &[cmd, "t.kpi", "--data", data]);
            let err = format!("{}{}", support::stdout(&o), support::stderr(&o));
            assert!(
                err.contains("not a regular file") && err.contains(kind),
                "{cmd} {data}: {err}"
            );
            assert_ne!(o.status.code(), Some(0));
            assert_no_panic(&o);
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{data}: {:?}", started.elapsed());
    }
}

/// X03: a symlink loop is reported as such.
#[cfg(unix)]
#[test]
fn x03_a_symlink_loop_is_reported() {
    let dir = project_dir("x03", "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n", b"");
    std::fs::remove_file(dir.path().join("t.csv")).unwrap();
    std::os::unix::fs::symlink("u.csv", dir.path().join("t.csv")).unwrap();
    std::os::unix::fs::symlink("t.csv", dir.path().join("u.csv")).unwrap();
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    let err = support::stderr(&o);
    assert!(err.contains("Too many levels of symbolic links"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
}

/// X04: more groups than `--max-groups` is an error naming the limit, not a huge table.
#[test]
fn x04_too_many_groups_names_the_limit() {
    let csv: String = (0..50).map(|i| format!("{i}\n")).collect();
    let dir = project_dir(
        "x04",
        "dataset t = csv(\"t.csv\")\ndim id = t.id\nkpi n = count(t)\n",
        format!("id\n{csv}").as_bytes(),
    );
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--by", "id", "--max-groups", "10"]);
    let err = support::stderr(&o);
    assert!(err.contains("10") && err.contains("--max-groups"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(support::stdout(&o).is_empty(), "a partial table: {}", support::stdout(&o));
}

/// X07: escape sequences in a cell, a header and a file name are escaped in every message.
#[test]
fn x07_escape_sequences_in_a_cell_are_escaped_in_messages() {
    let dir = project_dir(
        "x07",
        "dataset t = csv(\"t.csv\")\nkpi s = sum(t.wait\u{1b}[2J)\n",
        b"wait\x1b[2J,n\n\x1b[31mred,1\n",
    );
    for args in
        [&["eval", "t.kpi"][..], &["check", "t.kpi"], &["check", "t.kpi", "--format", "json"]]
    {
        let o = support::kpiblend(dir.path(), args);
        let all = format!("{}{}", support::stdout(&o), support::stderr(&o));
        assert!(!all.contains('\u{1b}'), "{args:?} printed a raw ESC: {all:?}");
        assert_no_panic(&o);
    }
    // A bad cell, through the loader's messages.
    std::fs::write(
        dir.path().join("t.kpi"),
        "dataset t = csv(\"t.csv\") { n: int }\nkpi s = sum(t.n)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("t.csv"), b"n\n\x1b[31mred\n").unwrap();
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    let err = support::stderr(&o);
    assert!(err.contains("\\u{1b}[31mred"), "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// X07 for file names: the `-->` line of a diagnostic escapes the path (printed raw before
/// ca419ae).
#[test]
fn x07_escape_sequences_in_a_file_name_are_escaped_in_messages() {
    let dir =
        project_dir("x07f", "dataset t = csv(\"t.csv\") { n: int }\nkpi s = sum(t.n)\n", b"n\n1\n");
    let name = "t\u{1b}[31m.csv";
    std::fs::write(dir.path().join(name), b"n\nx\n").unwrap();
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--data", &format!("t={name}")]);
    let err = support::stderr(&o);
    assert!(err.contains("t\\u{1b}[31m.csv:2"), "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    let kpi = "k\u{1b}[2J.kpi";
    std::fs::write(dir.path().join(kpi), "kpi n = count(t) +\n").unwrap();
    let o = support::kpiblend(dir.path(), &["check", kpi, "--no-data"]);
    let all = format!("{}{}", support::stdout(&o), support::stderr(&o));
    assert!(!all.contains('\u{1b}'), "{all:?}");
}

/// Characters a terminal acts on or that reorder text: C0 and C1 controls, DEL, and the
/// bidirectional controls (marks, embeddings, overrides, isolates).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[track_caller]
fn assert_no_unsafe_chars(text: &str) {
    let found: Vec<char> = text.chars().filter(|&c| c != '\n' && is_unsafe(c)).collect();
    assert!(found.is_empty(), "raw {found:?} in {text:?}");
}

/// A label, a group key, a note and a CSV path made of what drives a terminal, each written
/// with the language's string escapes.
const HOSTILE_KPI: &str = "dataset t = csv(\"t.csv\")\n\
    dim g = t.g\n\
    kpi s \"lab\\u{1b}[31m\\u{9b}\\u{7f}\\u{202e}\" = sum(t.x)\n\
    note 2026-01-05 \"rtl\\u{202e}txt\\u{85}\"\n";

/// The label and the note, as the escapes above read.
const HOSTILE_LABEL: &str = "lab\u{1b}[31m\u{9b}\u{7f}\u{202e}";
const HOSTILE_NOTE: &str = "rtl\u{202e}txt\u{85}";

fn hostile_project(tag: &str) -> TempDir {
    project_dir(tag, HOSTILE_KPI, b"g,x\n\"multi\nline\",1\n\"csi\xc2\x9b2J\",2\n")
}

/// X07 for tables: a KPI label, a group key with a line break and a note from the file are
/// shown escaped (printed raw before: the label drove the terminal and the key split a row
/// in two).
#[test]
fn x07_labels_group_keys_and_notes_are_escaped_in_tables() {
    let dir = hostile_project("x07t");
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi"]);
    let out = support::stdout(&o);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(out.contains("lab\\u{1b}[31m\\u{9b}\\u{7f}\\u{202e}"), "{out}");
    assert!(out.contains("note 2026-01-05: rtl\\u{202e}txt\\u{85}"), "{out}");
    assert_no_unsafe_chars(&out);

    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--by", "g"]);
    let out = support::stdout(&o);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(out.lines().any(|l| l.starts_with("multi\\u{a}line ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("csi\\u{9b}2J ")), "{out}");
    let table = out.lines().take_while(|l| !l.is_empty()).count();
    assert_eq!(table, 4, "header, two rows and total: {out}");
    assert_no_unsafe_chars(&out);
}

/// X07 for JSON: DEL, C1 and bidirectional controls are `\u007f` escapes (serde_json writes
/// them raw), and the JSON reads back to the original text.
#[test]
fn x07_eval_json_escapes_del_c1_and_bidi_controls_and_keeps_the_values() {
    let dir = hostile_project("x07e");
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--by", "g", "--format", "json"]);
    let out = support::stdout(&o);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(!out.chars().any(is_unsafe_in_json), "{out:?}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["items"][0]["label"], HOSTILE_LABEL);
    assert_eq!(j["notes"][0]["text"], HOSTILE_NOTE);
    let keys: Vec<&serde_json::Value> =
        j["rows"].as_array().unwrap().iter().map(|r| &r["key"][0]).collect();
    assert!(keys.contains(&&serde_json::json!("csi\u{9b}2J")), "{keys:?}");
    assert!(keys.contains(&&serde_json::json!("multi\nline")), "{keys:?}");
}

/// Outside what serde_json escapes itself (U+0000–U+001F, written `\n`, `\u001b`), nothing
/// unsafe may be raw in JSON text.
fn is_unsafe_in_json(c: char) -> bool {
    is_unsafe(c) && u32::from(c) >= 0x20
}

/// X07 for CSV: values are data, kept as they are and quoted where the CSV needs it.
#[test]
fn x07_eval_csv_keeps_values_as_they_are_quoted() {
    let dir = hostile_project("x07c");
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--by", "g", "--format", "csv"]);
    let out = support::stdout(&o);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(out.contains("\"multi\nline\",s,kpi,1,"), "{out:?}");
    assert!(out.contains("csi\u{9b}2J,s,kpi,2,"), "{out:?}");
}

/// CSV output tells a null key (empty field) from an empty text (`""`) and from the text
/// `(null)`, and a trend's period column is `period` (it was `__period`); red team.
#[test]
fn csv_output_tells_null_from_empty_text_and_names_the_period_column() {
    let dir = project_dir(
        "csv-null",
        "dataset t = csv(\"t.csv\")\n\
         dim g = case when t.id == 1 then \"\" when t.id == 3 then \"(null)\" else t.g end\n\
         kpi n = count(t)\n",
        b"id,g\n1,x\n2,\n3,y\n",
    );
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--by", "g", "--format", "csv"]);
    assert_eq!(
        support::stdout(&o),
        "g,item,kind,value,status\n\"\",n,kpi,1,none\n(null),n,kpi,1,none\n,n,kpi,1,none\n"
    );
    let trend = project_dir(
        "csv-period",
        "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n",
        b"t\n2026-01-01T00:00:00Z\n2026-02-01T00:00:00Z\n",
    );
    let o =
        support::kpiblend(trend.path(), &["eval", "t.kpi", "--trend", "month", "--format", "csv"]);
    assert_eq!(
        support::stdout(&o),
        "period,item,kind,value,status\n2026-01-01,n,kpi,1,none\n2026-02-01,n,kpi,1,none\n"
    );
}

/// X07 for trends: the note in the trend view and its JSON.
#[test]
fn x07_trend_notes_are_escaped_in_the_view_and_json() {
    let dir = project_dir(
        "x07w",
        "dataset t = csv(\"t.csv\")\nkpi s = sum(t.x)\nnote 2026-01-06 \"rtl\\u{202e}\\u{7f}\"\n",
        b"at,x\n2026-01-05T09:00:00Z,1\n2026-01-12T09:00:00Z,2\n",
    );
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--trend", "week"]);
    let out = support::stdout(&o);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(out.contains(": rtl\\u{202e}\\u{7f}"), "{out}");
    assert_no_unsafe_chars(&out);
    let o =
        support::kpiblend(dir.path(), &["eval", "t.kpi", "--trend", "week", "--format", "json"]);
    let out = support::stdout(&o);
    assert!(!out.chars().any(is_unsafe_in_json), "{out:?}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["notes"][0]["text"], "rtl\u{202e}\u{7f}");
}

/// X07 for explain-change: a group key shown in its table, and kept in its JSON.
#[test]
fn x07_explain_change_escapes_group_keys() {
    let dir = project_dir(
        "x07x",
        "dataset t = csv(\"t.csv\")\ndim g = t.g\nkpi s = avg(t.x)\n",
        b"at,g,x\n2026-01-05T09:00:00Z,e\x1b[31m\xc2\x9b,1\n2026-01-12T09:00:00Z,e\x1b[31m\xc2\x9b,2\n",
    );
    let args = [
        "explain-change",
        "t.kpi",
        "--kpi",
        "s",
        "--by",
        "g",
        "--from",
        "2026-01-12",
        "--to",
        "2026-01-19",
        "--vs",
        "2026-01-05",
        "2026-01-12",
    ];
    let o = support::kpiblend(dir.path(), &args);
    let out = support::stdout(&o);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert!(out.contains("e\\u{1b}[31m\\u{9b}"), "{out}");
    assert_no_unsafe_chars(&out);
    let o = support::kpiblend(dir.path(), &[&args[..], &["--format", "json"]].concat());
    let out = support::stdout(&o);
    assert!(!out.chars().any(is_unsafe_in_json), "{out:?}");
    assert!(out.contains("e\\u001b[31m\\u009b"), "{out}");
}

/// X07 for `test`: a test name is escaped in the human report, JSON and JUnit.
#[test]
fn x07_test_names_are_escaped_in_every_test_format() {
    let dir = TempDir::new("x07s");
    dir.write(
        "t.kpi",
        "kpi n = count(t)\ndataset t = csv(\"t.csv\")\n\
         test \"n\\u{1b}[2J\\u{7f}\\u{9b}\\u{202e}\" {\n    t = csv \"\"\"\n        a\n        1\n    \"\"\"\n    expect n == 2\n}\n",
    );
    dir.write("t.csv", "a\n1\n");
    let o = support::kpiblend(dir.path(), &["test", "t.kpi"]);
    let out = support::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", support::stderr(&o));
    assert!(out.contains("n\\u{1b}[2J\\u{7f}\\u{9b}\\u{202e}"), "{out}");
    assert_no_unsafe_chars(&out);
    let o = support::kpiblend(dir.path(), &["test", "t.kpi", "--format", "json"]);
    let out = support::stdout(&o);
    assert!(!out.chars().any(is_unsafe_in_json), "{out:?}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["files"][0]["tests"][0]["name"], "n\u{1b}[2J\u{7f}\u{9b}\u{202e}");
    let o = support::kpiblend(dir.path(), &["test", "t.kpi", "--format", "junit"]);
    let out = support::stdout(&o);
    assert!(out.contains("&#x7f;&#x9b;&#x202e;"), "{out}");
    assert_no_unsafe_chars(&out);
}

/// X07 for the REPL: `:explain` shows the label, `:datasets` the path, `:schema` the column
/// names and `:show` a raw U+202E in a string escaped (all printed raw before).
#[test]
fn x07_repl_replies_escape_labels_paths_and_column_names() {
    let dir = TempDir::new("x07r");
    // `s` spells its label with escapes; `r` holds a raw U+202E in its string.
    dir.write(
        "t.kpi",
        "dataset t = csv(\"e\\u{1b}[31m.csv\")\n\
         kpi s \"lab\\u{1b}[31m\\u{9b}\\u{7f}\" = count(t)\n\
         kpi r \"raw\u{202e}\" = count(t)\n",
    );
    std::fs::write(dir.path().join("e\u{1b}[31m.csv"), b"x\x1b[2J\n1\n").unwrap();
    let o = piped_repl(dir.path(), b":explain s\n:datasets\n:schema t\n:show r\n:explain r\n");
    let out = support::stdout(&o);
    assert!(out.contains("kpi s \u{2014} lab\\u{1b}[31m\\u{9b}\\u{7f}"), "{out}");
    let datasets = out.lines().find(|l| l.starts_with("t  1 row  ")).unwrap_or_default();
    assert!(datasets.ends_with("e\\u{1b}[31m.csv"), "{out}");
    assert!(out.contains("x\\u{1b}[2J"), "{out}");
    assert!(out.contains("kpi r \"raw\\u{202e}\" = count(t)\n"), "{out}");
    assert!(out.contains("kpi r \u{2014} raw\\u{202e}\n"), "{out}");
    assert_no_unsafe_chars(&out);
    assert_no_unsafe_chars(&support::stderr(&o));
}

/// X08: no `HOME` (and no other history location): the REPL starts and works.
#[cfg(unix)]
#[test]
fn x08_the_repl_starts_without_home() {
    let dir = project_dir("x08", REPL_KPI, b"a\n1\n2\n");
    let mut p = pty_repl(
        dir.path(),
        &[("HOME", None), ("XDG_STATE_HOME", None), ("KPIBLEND_HISTORY", None)],
    );
    p.exp_string("kb> ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("value").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

/// X08, the rest of the row: with nowhere to keep history, say so once (silent before
/// ca419ae).
#[cfg(unix)]
#[test]
fn x08_without_home_the_repl_warns_once_that_history_is_off() {
    let dir = project_dir("x08w", REPL_KPI, b"a\n1\n2\n");
    let mut p = pty_repl(
        dir.path(),
        &[("HOME", None), ("XDG_STATE_HOME", None), ("KPIBLEND_HISTORY", None)],
    );
    p.exp_string("history").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

// ---- mutation survivors: src/suggest.rs ---------------------------------------------------
//
// `cargo mutants -f src/suggest.rs` left these mutants alive (docs/reliability.md); each test
// names the one it kills.

/// Kills `name.len() > LONGEST` → `>=` and → `==`: a 64-character name still gets a
/// suggestion, a 65-character one never does.
#[test]
fn suggestions_stop_after_64_characters_not_before() {
    use kpiblend::suggest::similar;
    let k64 = "k".repeat(64);
    let typo64 = format!("{}x", "k".repeat(63));
    assert_eq!(similar(&typo64, [k64.as_str()]), Some(k64.as_str()));
    let k65 = "k".repeat(65);
    assert_eq!(similar(&k65, [k64.as_str()]), None, "65 characters: no suggestion");
}

/// Kills `name.chars().count() / 3` → `% 3` and → `* 3`: the typo budget is a third of the
/// name's length, between 1 and 3 edits.
#[test]
fn the_typo_budget_is_a_third_of_the_name() {
    use kpiblend::suggest::similar;
    // 9 characters: 3 edits allowed (9 % 3 would allow 1).
    assert_eq!(similar("abcdefghi", ["xyzdefghi"]), Some("xyzdefghi"));
    assert_eq!(similar("abcdefghi", ["wxyzefghi"]), None, "4 edits");
    // 3 characters: 1 edit allowed (3 * 3 would allow 3).
    assert_eq!(similar("abc", ["xyc"]), None, "2 edits in 3 characters");
    assert_eq!(similar("abc", ["abd"]), Some("abd"));
}

/// Kills `prev[j - 1] + cost` → `prev[j - 1] * cost` in the edit distance: names that only
/// share letters here and there are not typos of each other.
#[test]
fn shared_letters_do_not_make_a_typo() {
    use kpiblend::suggest::similar;
    assert_eq!(similar("queue", ["value"]), None);
    assert_eq!(similar("talk_time", ["wait_time_s"]), None);
    assert_eq!(similar("wiat_s", ["wait_s", "talk_s"]), Some("wait_s"), "a transposition");
    assert_eq!(similar("csta", ["csat", "cost"]), Some("csat"));
}

// ---- promise 5: determinism --------------------------------------------------------------

/// The same report whatever the thread count, line endings or row order (CLI, JSON).
#[test]
fn reports_do_not_depend_on_threads_line_endings_or_row_order() {
    let kpi = "dataset t = csv(\"t.csv\")\ndim q = t.q\nkpi n = count(t)\nkpi w = avg(t.w)\n\
               kpi s = sum(t.w / 3)\nkpi r = rate(t.w > 10)\n";
    let rows: Vec<String> = (0..500).map(|i| format!("q{},{}", i % 7, (i * 37) % 101)).collect();
    let run = |csv: String, threads: &str| {
        let dir = project_dir("det", kpi, csv.as_bytes());
        let o = support::kpiblend(
            dir.path(),
            &["eval", "t.kpi", "--by", "q", "--format", "json", "--threads", threads],
        );
        assert!(o.status.success(), "{}", support::stderr(&o));
        support::stdout(&o)
    };
    let lf = format!("q,w\n{}\n", rows.join("\n"));
    let base = run(lf.clone(), "1");
    assert_eq!(run(lf.clone(), "2"), base, "--threads 2");
    assert_eq!(run(lf.replace('\n', "\r\n"), "2"), base, "CRLF");
    assert_eq!(run(format!("\u{feff}{}", lf.replace('\n', "\r")), "1"), base, "BOM and CR");
    let mut reversed = rows.clone();
    reversed.reverse();
    assert_eq!(run(format!("q,w\n{}\n", reversed.join("\n")), "2"), base, "reversed rows");
}

/// The catalogue in docs/reliability.md tells the truth about gaps: every ignored "known
/// gap" test here names a row that the docs list as a gap, and the rows whose gaps were
/// closed (F07, X01, S08) no longer say "gap".
#[test]
fn the_docs_list_exactly_the_open_gaps() {
    let doc = std::fs::read_to_string(root().join("docs/reliability.md")).unwrap();
    let row = |id: &str| {
        let start = format!("| {id} |");
        doc.lines().find(|l| l.starts_with(&start)).map(str::to_string)
    };
    let source = std::fs::read_to_string(root().join("tests/it/reliability.rs")).unwrap();
    let marker = ["#[ignore = \"known", " gap"].concat();
    for (at, _) in source.match_indices(&marker) {
        let rest = &source[at..];
        let id = rest.split("(RELIABILITY.md ").nth(1).and_then(|r| r.split(')').next());
        let id = id.unwrap_or_else(|| panic!("an ignored gap names no row: {}", &rest[..80]));
        let gap = row(id).is_some_and(|r| r.contains("**gap**"));
        assert!(gap, "{id} has an ignored test but is not listed as a gap in the docs");
    }
    for id in ["F07", "X01", "S08"] {
        let r = row(id).unwrap_or_else(|| panic!("docs/reliability.md has no row {id}"));
        assert!(!r.contains("gap"), "{id} was closed, but the docs say: {r}");
    }
}

/// C02: a header-only export evaluates (counts 0, the rest null) and says it has no rows;
/// S03: a column with no value in any row says so. The same streamed, read carefully, and
/// through the library.
#[test]
fn c02_s03_no_rows_and_empty_columns_are_warned_about() {
    let dir = TempDir::new("c02-s03");
    dir.write("h.csv", "id,wrap_s\n");
    dir.write("e.csv", "id,wrap_s,talk_s\n1,,100\n2,,200\n");
    dir.write(
        "t.kpi",
        "dataset h = csv(\"h.csv\")\ndataset e = csv(\"e.csv\")\n\
         kpi h_n = count(h)\nkpi e_wrap = avg(e.wrap_s)\nkpi e_talk = avg(e.talk_s)\n",
    );
    for extra in [&[][..], &["--bad-rows", "skip"], &["--threads", "1"]] {
        let args: Vec<&str> = ["eval", "t.kpi"].iter().chain(extra).copied().collect();
        let o = support::kpiblend(dir.path(), &args);
        let err = support::stderr(&o);
        assert!(o.status.success(), "{extra:?}: warnings, not errors: {err}");
        assert!(err.contains("warning[KB0510]: `h` has no data rows"), "{extra:?}: {err}");
        assert!(err.contains(" --> h.csv\n"), "{extra:?}: {err}");
        assert!(
            err.contains("warning[KB0511]: column `wrap_s` of `e` has no value in its 2 rows"),
            "{extra:?}: {err}"
        );
        assert!(err.contains(" --> e.csv (column `wrap_s`)"), "{extra:?}: {err}");
        assert_eq!(err.matches("warning[").count(), 2, "`talk_s` has values: {err}");
    }
    // Under a filter that leaves one row, the column is still empty there; under one that
    // leaves none, the dataset's KPIs are empty.
    let o = support::kpiblend(
        dir.path(),
        &["eval", "t.kpi", "--kpi", "e_wrap", "--where", "e.talk_s > 150"],
    );
    assert!(
        support::stderr(&o).contains("has no value in the 1 row that passes the filter"),
        "{}",
        support::stderr(&o)
    );
    let o = support::kpiblend(
        dir.path(),
        &["eval", "t.kpi", "--kpi", "e_talk", "--where", "e.talk_s > 900"],
    );
    assert!(
        support::stderr(&o).contains("warning[KB0510]: no row of `e` passes the filter"),
        "{}",
        support::stderr(&o)
    );
    // Nothing is said about datasets and columns the KPIs asked for do not read.
    let o = support::kpiblend(dir.path(), &["eval", "t.kpi", "--kpi", "e_talk"]);
    assert_eq!(support::stderr(&o), "");
}

/// D08 for text that is not a file: standard input is read up to one byte past the size
/// limit and refused like a file (so `/dev/zero` on standard input ends), and so is text
/// a host hands to the library.
#[test]
fn text_over_the_size_limit_is_refused_from_standard_input_and_from_a_host() {
    let limit = kpiblend::check::MAX_SOURCE_BYTES as usize;
    let o =
        support::kpiblend_with_stdin(&root(), &["check", "--no-data", "-"], &vec![b' '; limit + 1]);
    let out = support::stdout(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.starts_with("error[KB0008]: <stdin> is 8.4 MB; the limit is 8 MiB\n"), "{out}");
    let o = support::kpiblend_with_stdin(&root(), &["check", "--no-data", "-"], &vec![b' '; limit]);
    assert_eq!(o.status.code(), Some(0), "exactly the limit is fine: {}", support::stderr(&o));
    let c = check_text(&" ".repeat(limit + 1));
    assert_eq!(codes(&c), ["KB0008"]);
}

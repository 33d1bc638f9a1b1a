//! REPL sessions, driven through `kpiblend::repl::Session` (no terminal), plus one
//! end-to-end run of the real binary in a pseudo-terminal.

use kpiblend::repl::Session;

use crate::support::{self, root};

/// A session with the example loaded (paths relative to the repository root).
fn loaded() -> Session {
    let mut s = Session::new();
    let reply = s.load(&root().join("examples/contact_center.kpi"));
    assert!(reply.ok, "{}", reply.err);
    s
}

#[track_caller]
fn ok(s: &mut Session, input: &str) -> String {
    let r = s.handle(input);
    assert!(r.ok, "`{input}` failed:\n{}", r.err);
    r.out
}

#[track_caller]
fn fails(s: &mut Session, input: &str) -> String {
    let r = s.handle(input);
    assert!(!r.ok, "`{input}` should fail but printed:\n{}", r.out);
    r.err
}

#[test]
fn load_summarises_definitions_and_data() {
    let mut s = Session::new();
    let r = s.load(&root().join("examples/contact_center.kpi"));
    assert_eq!(
        r.out,
        "loaded 16 kpis, 3 blends, 4 dims, 1 view, 1 param; calls: 5,000 rows, surveys: 1,094 rows\n"
    );
}

#[test]
fn a_kpi_name_is_evaluated_as_a_scorecard_line() {
    let mut s = loaded();
    let out = ok(&mut s, "aht");
    assert!(out.contains("aht  Average handle time  7m 29s  ≤ 6m    ✗ fail  4,732"), "{out}");
}

#[test]
fn a_list_with_by_is_a_grouped_table_with_totals() {
    let mut s = loaded();
    let out = ok(&mut s, "aht, csat, aht_with_csat by site");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["site", "aht", "csat", "aht_with_csat"]
    );
    assert!(lines[1].starts_with("bpo-cairo"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("total")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("(null)")), "null group shown: {out}");
}

#[test]
fn a_bare_expression_is_evaluated_and_labelled_with_its_text() {
    let mut s = loaded();
    s.handle(":format csv");
    let out = ok(&mut s, r#"count(calls where calls.queue == "billing")"#);
    let expected = std::fs::read_to_string(root().join("examples/data/calls.csv")).unwrap();
    let billing =
        expected.lines().skip(1).filter(|l| l.split(',').nth(3) == Some("billing")).count();
    // Rows with a quoted multi-line note would confuse this count; the sample's queue
    // column comes before any note, and notes with newlines continue on lines that do not
    // have "billing" in the fourth field.
    assert_eq!(
        out,
        format!(
            "item,kind,value,status\n\"count(calls where calls.queue == \"\"billing\"\")\",kpi,{billing},none\n"
        )
    );
}

#[test]
fn definitions_define_and_redefine_and_recheck_dependants() {
    let mut s = loaded();
    assert_eq!(
        ok(&mut s, "kpi fast_answer = rate(calls.wait_s <= 10s) target >= 60%"),
        "defined `fast_answer`\n"
    );
    assert_eq!(
        ok(&mut s, "blend fast_answer with csat guard csat >= 4.2"),
        "defined `fast_answer_with_csat`\n"
    );
    let out = ok(&mut s, "kpi handled = count(calls)");
    assert_eq!(out, "redefined `handled` (re-checked `cost_per_contact`)\n");
    let out = ok(&mut s, "fast_answer_with_csat");
    assert!(out.contains("fast_answer_with_csat") && out.contains("pass"), "{out}");
}

#[test]
fn a_bad_definition_is_rejected_with_a_diagnostic_into_the_typed_line() {
    let mut s = loaded();
    let err = fails(&mut s, "kpi broken = avg(calls.wiat_s)");
    assert!(err.contains("error[KB0101]: unknown column `wiat_s` in dataset `calls`"), "{err}");
    assert!(err.contains("--> <input>:1:24"), "{err}");
    assert!(err.contains("did you mean `wait_s`?"), "{err}");
    // Nothing was defined, and the session goes on.
    let err = fails(&mut s, "broken");
    assert!(err.contains("unknown name `broken`"), "{err}");
    ok(&mut s, "aht");
}

#[test]
fn a_redefinition_that_breaks_a_dependant_is_refused() {
    let mut s = loaded();
    let err = fails(&mut s, "kpi csat = count(surveys)");
    // csat is a blend component with a target; redefined without one, the blends break.
    assert!(err.contains("KB0402"), "{err}");
    let out = ok(&mut s, ":show csat");
    assert_eq!(out, "kpi csat = avg(surveys.csat)  target >= 4.2  min 30\n");
}

#[test]
fn multi_line_input_is_incomplete_until_brackets_and_operators_close() {
    let s = loaded();
    assert!(s.is_incomplete("kpi x = avg(calls.wait_s"));
    assert!(s.is_incomplete("kpi x ="));
    assert!(s.is_incomplete("kpi x = avg(calls.wait_s) +"));
    assert!(!s.is_incomplete("kpi x = avg(calls.wait_s))"));
    assert!(!s.is_incomplete(":load ("));
}

#[test]
fn meta_commands() {
    let mut s = loaded();
    assert!(ok(&mut s, ":help").contains(":explain NAME"));
    assert_eq!(
        ok(&mut s, ":list"),
        support::unindent(
            "
            kpis     contacts, handled, aht, fcr, service_level, asa, abandonment, p90_wait, escalation_rate, cost_per_contact, weighted_volume, csat, csat_escalated, nps, ces, speed_vs_satisfaction
            blends   aht_with_csat, effectiveness, access
            dims     site, agent, queue, week
            params   answer_within
            views    weekly_by_site
            datasets calls, surveys
            "
        )
    );
    let schema = ok(&mut s, ":schema surveys");
    assert!(schema.starts_with("surveys: 1,094 rows\n"), "{schema}");
    assert!(schema.contains("csat        int       41 null"), "{schema}");
    let datasets = ok(&mut s, ":datasets");
    assert!(
        datasets.contains("calls    5,000 rows") && datasets.contains("surveys  1,094 rows"),
        "{datasets}"
    );
    assert_eq!(ok(&mut s, ":show answer_within"), "param answer_within = 20s\n");
    let explain = ok(&mut s, ":explain aht");
    assert!(explain.contains("target:   ≤ 6m, warn ≤ 7m (lower is better)"), "{explain}");
    assert!(explain.contains("used by:  speed_vs_satisfaction, aht_with_csat"), "{explain}");
    let explain = ok(&mut s, ":explain effectiveness");
    assert!(explain.contains("60.0%  fcr") && explain.contains("40.0%  nps"), "{explain}");
    assert!(fails(&mut s, ":lst").contains("did you mean `:list`?"));
    assert!(fails(&mut s, ":explain ahtt").contains("did you mean `aht`?"));
}

#[test]
fn set_changes_a_param_and_by_sets_a_default_grouping() {
    let mut s = loaded();
    s.handle(":format csv");
    let before = ok(&mut s, "service_level");
    assert_eq!(ok(&mut s, ":set answer_within = 60s"), "answer_within = 60s\n");
    let after = ok(&mut s, "service_level");
    let value =
        |out: &str| out.lines().nth(1).unwrap().split(',').nth(2).unwrap().parse::<f64>().unwrap();
    assert!(
        value(&after) > value(&before),
        "a longer threshold answers more calls in time: {before} vs {after}"
    );
    assert!(fails(&mut s, ":set answer_within = \"soon\"").contains("KB0508"));
    ok(&mut s, ":by site");
    let grouped = ok(&mut s, "aht");
    assert!(grouped.starts_with("site,item,kind,value,status\nbpo-cairo,aht,"), "{grouped}");
    ok(&mut s, ":by");
    assert!(ok(&mut s, "aht").starts_with("item,kind,value,status\n"));
}

#[test]
fn by_takes_only_the_sessions_dims_each_once() {
    let mut s = loaded();
    ok(&mut s, ":by site");
    let err = fails(&mut s, ":by sit");
    assert_eq!(err, "error: `sit` is not a dim\n  = help: did you mean `site`?\n");
    let err = fails(&mut s, ":by queue, nosuch");
    assert!(err.starts_with("error: `nosuch` is not a dim\n"), "{err}");
    assert_eq!(fails(&mut s, ":by site, site"), "error: dim `site` is given twice\n");
    // A refused `:by` leaves the grouping as it was.
    s.handle(":format csv");
    assert!(ok(&mut s, "aht").starts_with("site,item,"));
    assert_eq!(ok(&mut s, ":by queue, site"), "queries are grouped by queue, site\n");
}

#[test]
fn formats_and_timer() {
    let mut s = loaded();
    ok(&mut s, ":format json");
    let json: serde_json::Value = serde_json::from_str(&ok(&mut s, "handled")).unwrap();
    assert_eq!(json["rows"][0]["cells"][0]["value"], 4732.0);
    ok(&mut s, ":format table");
    ok(&mut s, ":timer on");
    assert!(ok(&mut s, "handled").contains("time: "));
    assert!(fails(&mut s, ":format xml").contains("usage"));
}

/// A copy of `examples/` (the KPI file and its data) in its own project, and a session
/// with the copy loaded.
fn examples_copy(tag: &str) -> (support::TempDir, Session) {
    let dir = support::TempDir::new(tag);
    for file in ["contact_center.kpi", "data/calls.csv", "data/surveys.csv"] {
        dir.write(file, &std::fs::read_to_string(root().join("examples").join(file)).unwrap());
    }
    // The project root, so a file saved in a subdirectory may name `../data`.
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let mut s = Session::new();
    let reply = s.load(&dir.path().join("contact_center.kpi"));
    assert!(reply.ok, "{}", reply.err);
    (dir, s)
}

#[track_caller]
fn checks_clean(path: &std::path::Path) {
    let checked = kpiblend::check::check_path(path, &Default::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
}

#[test]
fn save_writes_a_file_that_loads_back() {
    let (dir, mut s) = examples_copy("repl-save");
    ok(&mut s, "kpi fast_answer = rate(calls.wait_s <= 10s) target >= 60%");
    let path = dir.path().join("session.kpi");
    let out = ok(&mut s, &format!(":save {}", path.display()));
    assert!(out.starts_with("saved 30 definitions"), "{out}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("kpi fast_answer = rate(calls.wait_s <= 10s)  target >= 60%"),
        "saved in the canonical layout:\n{text}"
    );
    checks_clean(&path);
}

#[test]
fn save_never_writes_over_the_sessions_data() {
    let (dir, mut s) = examples_copy("repl-save-data");
    let calls = dir.path().join("data/calls.csv");
    let before = std::fs::read_to_string(&calls).unwrap();
    let err = fails(&mut s, &format!(":save {}", calls.display()));
    assert!(err.contains("is the data of dataset `calls`; nothing was saved"), "{err}");
    // Another spelling of the same file, and `:save!`, are refused too.
    let spelled = dir.path().join("data/../data/./surveys.csv");
    let err = fails(&mut s, &format!(":save! {}", spelled.display()));
    assert!(err.contains("is the data of dataset `surveys`"), "{err}");
    let err = fails(&mut s, &format!(":save! {}", calls.display()));
    assert!(err.contains("is the data of dataset `calls`"), "{err}");
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), before, "the data is untouched");
}

#[test]
fn save_writes_over_another_existing_file_only_with_a_bang() {
    let (dir, mut s) = examples_copy("repl-save-exists");
    let other = dir.write("other.kpi", "# mine\n");
    let err = fails(&mut s, &format!(":save {}", other.display()));
    assert!(err.contains("already exists and is not the loaded file"), "{err}");
    assert!(err.contains(&format!("help: `:save! {}` writes over it", other.display())), "{err}");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "# mine\n");
    ok(&mut s, &format!(":save! {}", other.display()));
    checks_clean(&other);
    // Saving over the loaded file is saving the session's changes.
    ok(&mut s, "kpi fast_answer = rate(calls.wait_s <= 10s)");
    let loaded = dir.path().join("contact_center.kpi");
    ok(&mut s, &format!(":save {}", loaded.display()));
    assert!(std::fs::read_to_string(&loaded).unwrap().contains("kpi fast_answer"));
    assert!(s.handle(":help").out.contains(":save! FILE"), "`:save!` is in the help");
}

#[test]
fn save_in_another_directory_rewrites_relative_paths() {
    let (dir, mut s) = examples_copy("repl-save-elsewhere");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let path = dir.path().join("sub/s.kpi");
    ok(&mut s, &format!(":save {}", path.display()));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("dataset calls = csv(\"../data/calls.csv\")"), "{text}");
    assert!(text.contains("dataset surveys = csv(\"../data/surveys.csv\")"), "{text}");
    checks_clean(&path);
}

#[test]
fn save_in_another_directory_rewrites_imports() {
    let (dir, mut s) = two_files("repl-save-import-elsewhere");
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    ok(&mut s, "import \"other.kpi\"");
    let path = dir.path().join("a/b/saved.kpi");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ok(&mut s, &format!(":save {}", path.display()));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "dataset t = csv(\"../../d.csv\")\n\nimport \"../../other.kpi\"\n"
    );
    checks_clean(&path);
}

#[test]
fn save_refuses_a_place_whose_project_would_not_reach_the_data() {
    // No `.git`: each directory is its own project, so from `elsewhere/` the data file is
    // `../d.csv`, outside the new file's project, which `check` would refuse.
    let (dir, mut s) = two_files("repl-save-outside");
    let path = dir.path().join("elsewhere/saved.kpi");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let err = fails(&mut s, &format!(":save {}", path.display()));
    assert!(
        err.starts_with(&format!(
            "error: {} would read files outside its project: `d.csv` becomes `../d.csv`; nothing was saved\n",
            path.display()
        )),
        "{err}"
    );
    assert!(!path.exists());
    // Where the project reaches the data, the same session saves, and the file checks.
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    ok(&mut s, &format!(":save {}", path.display()));
    checks_clean(&path);
}

#[test]
fn save_writes_only_regular_files() {
    // `:save! /dev/null` renamed a new file over the device; a FIFO stands in for it here.
    let (dir, mut s) = two_files("repl-save-fifo");
    let fifo = dir.path().join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for cmd in [":save", ":save!"] {
        let err = fails(&mut s, &format!("{cmd} {}", fifo.display()));
        assert_eq!(
            err,
            format!("error: {} is not a regular file; nothing was saved\n", fifo.display())
        );
    }
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &std::fs::metadata(&fifo).unwrap().file_type()
    ));
    let err = fails(&mut s, &format!(":save! {}", dir.path().display()));
    assert!(err.contains("is not a regular file"), "{err}");
}

#[test]
fn save_writes_the_param_values_in_force() {
    let (dir, mut s) = examples_copy("repl-save-param");
    ok(&mut s, ":set answer_within = 45s");
    let path = dir.path().join("session.kpi");
    ok(&mut s, &format!(":save {}", path.display()));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("param answer_within = 45s\n"), "{text}");
    assert!(!text.contains("20s"), "{text}");
    checks_clean(&path);
}

#[test]
fn data_and_reload_keep_typed_definitions() {
    let dir = support::TempDir::new("repl-data");
    let csv = dir.write("calls.csv", "contact_id,started_at,channel,queue,site,team,agent_id,wait_s,talk_s,hold_s,acw_s,abandoned,transferred,escalated,resolved_first_contact,repeat_7d,cost,complexity,disposition_note\n1,2026-01-05T08:00:00Z,voice,billing,in-house,ih-a,A001,5,100,0,20,false,false,false,true,false,1.00,low,\n");
    let mut s = loaded();
    ok(&mut s, "kpi fast_answer = rate(calls.wait_s <= 10s) target >= 60%");
    assert_eq!(
        ok(&mut s, &format!(":data calls {}", csv.display())),
        format!("calls: 1 row from {}\n", csv.display())
    );
    s.handle(":format csv");
    assert_eq!(ok(&mut s, "contacts"), "item,kind,value,status\ncontacts,kpi,1,none\n");
    let r = s.handle(":reload");
    assert!(r.ok, "{}", r.err);
    assert!(ok(&mut s, "fast_answer").contains("fast_answer,kpi,"));
}

#[test]
fn quit_ends_and_errors_never_do() {
    let mut s = loaded();
    fails(&mut s, "kpi = ");
    fails(&mut s, "((((");
    fails(&mut s, ":schema nope");
    assert!(s.handle(":quit").quit);
}

#[test]
fn a_piped_script_runs_without_prompts_and_exits_1_when_a_line_failed() {
    use std::io::Write as _;
    let run = |script: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kpiblend"))
            .args(["repl", "examples/contact_center.kpi"])
            .current_dir(root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let good = run(":format csv\r\nkpi x =\r\n  count(calls)\r\nx\r\n");
    assert_eq!(good.status.code(), Some(0), "{}", String::from_utf8_lossy(&good.stderr));
    let out = String::from_utf8_lossy(&good.stdout);
    assert!(!out.contains("kb>"), "no prompt in batch mode: {out}");
    assert!(out.contains("x,kpi,5000,none"), "{out}");
    let bad = run("nope\naht\n");
    assert_eq!(bad.status.code(), Some(1));
    let mut invalid = b"aht\n".to_vec();
    invalid.extend_from_slice(b"\xff\xfe\n");
    let invalid = run(&String::from_utf8_lossy(&invalid));
    assert_eq!(invalid.status.code(), Some(1));
}

/// The real binary in a pseudo-terminal: completion, multi-line input, Ctrl-C.
#[cfg(unix)]
#[test]
fn terminal_session_completes_continues_lines_and_survives_ctrl_c() {
    let dir = support::TempDir::new("repl-pty");
    let history = dir.path().join("history");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kpiblend"));
    cmd.args(["repl", "examples/contact_center.kpi"])
        .current_dir(root())
        .env("KPIBLEND_HISTORY", &history)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string("loaded 16 kpis").unwrap();
    p.exp_string("kb> ").unwrap();
    // Tab completes a unique prefix: `escal` → `escalation_rate`.
    p.send("escal").unwrap();
    p.send("\t").unwrap();
    p.send_line("").unwrap();
    p.exp_string("escalation_rate").unwrap();
    p.exp_string("8.6%").unwrap();
    p.exp_string("kb> ").unwrap();
    // An open bracket continues on the next line.
    p.send_line("kpi two_lines = count(calls").unwrap();
    p.send_line(")").unwrap();
    p.exp_string("defined `two_lines`").unwrap();
    p.exp_string("kb> ").unwrap();
    // Ctrl-C clears the line and the session goes on.
    p.send("half typed").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_line("two_lines").unwrap();
    p.exp_string("5,000").unwrap();
    p.exp_string("kb> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("two_lines"), "history kept: {saved}");
}

#[test]
fn a_query_shows_the_warnings_of_its_evaluation_beside_the_result() {
    let dir = support::TempDir::new("repl-warnings");
    dir.write(
        "calls.csv",
        "id,start,end\n1,2026-03-14T10:00:00Z,2026-03-14T10:05:00Z\n\
         2,2026-03-14T10:00:00Z,2026-03-14T09:59:00Z\n",
    );
    dir.write("surveys.csv", "call,csat\n1,5\n9,3\n");
    let kpi = dir.write(
        "t.kpi",
        "dataset calls = csv(\"calls.csv\") { start: time  end: time }\n\
         dataset surveys = csv(\"surveys.csv\") { call -> calls.id }\n\
         kpi handle = avg(calls.end - calls.start)\n\
         kpi csat = avg(surveys.csat)\n\
         kpi linked_csat = avg(surveys.csat where calls.id is not null)\n",
    );
    let mut s = Session::new();
    let r = s.load(&kpi);
    assert!(r.ok, "{}", r.err);
    s.handle(":format csv");
    // (300 - 60) / 2 = 120 s, and a warning about the negative one.
    let r = s.handle("handle");
    assert!(r.ok, "{}", r.err);
    assert_eq!(r.out, "item,kind,value,status\nhandle,kpi,120,none\n");
    assert!(
        r.err.contains("warning[KB0509]: 1 row of `calls` has a negative duration"),
        "{}",
        r.err
    );
    // Survey 2 names call 9, which does not exist.
    let r = s.handle("linked_csat");
    assert!(r.ok, "{}", r.err);
    assert_eq!(r.out, "item,kind,value,status\nlinked_csat,kpi,5,none\n");
    assert!(
        r.err.contains("warning[KB0505]: 1 row of `surveys` has a `call` not found"),
        "{}",
        r.err
    );
    // Nothing to say, nothing said: `calls` has no link, and its durations are not read.
    let r = s.handle("count(calls)");
    assert_eq!((r.ok, r.err.as_str()), (true, ""));
}

/// A directory with `base.kpi` (a dataset of two rows) and `other.kpi` (a KPI on it).
fn two_files(tag: &str) -> (support::TempDir, Session) {
    let dir = support::TempDir::new(tag);
    dir.write("d.csv", "id,x\n1,2\n3,4\n");
    let base = dir.write("base.kpi", "dataset t = csv(\"d.csv\")\n");
    dir.write("other.kpi", "kpi s = count(t)\n");
    let mut s = Session::new();
    let r = s.load(&base);
    assert!(r.ok, "{}", r.err);
    s.handle(":format csv");
    (dir, s)
}

#[test]
fn an_import_brings_in_the_definitions_of_another_file() {
    let (dir, mut s) = two_files("repl-import");
    assert_eq!(ok(&mut s, "import \"other.kpi\""), "imported \"other.kpi\"\n");
    assert_eq!(ok(&mut s, "s"), "item,kind,value,status\ns,kpi,2,none\n");
    assert_eq!(ok(&mut s, "count(t)"), "item,kind,value,status\ncount(t),kpi,2,none\n");
    let saved = dir.path().join("saved.kpi");
    ok(&mut s, &format!(":save {}", saved.display()));
    let text = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(text, "dataset t = csv(\"d.csv\")\n\nimport \"other.kpi\"\n");
    let checked = kpiblend::check::check_path(&saved, &Default::default());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
}

#[test]
fn a_failed_import_leaves_the_session_as_it_was() {
    let (dir, mut s) = two_files("repl-import-missing");
    let err = fails(&mut s, "import \"missing.kpi\"");
    assert!(err.contains("--> <input>:1:8"), "points at what was typed: {err}");
    assert!(err.contains("1 | import \"missing.kpi\""), "{err}");
    assert_eq!(ok(&mut s, "count(t)"), "item,kind,value,status\ncount(t),kpi,2,none\n");
    let saved = dir.path().join("saved.kpi");
    ok(&mut s, &format!(":save {}", saved.display()));
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "dataset t = csv(\"d.csv\")\n");
}

#[test]
fn redefining_a_dataset_reads_its_new_file() {
    let (dir, mut s) = two_files("repl-redefine-data");
    dir.write("three.csv", "id,x\n1,2\n3,4\n5,6\n");
    assert_eq!(ok(&mut s, "dataset t = csv(\"three.csv\")"), "redefined `t`\n");
    assert_eq!(ok(&mut s, "count(t)"), "item,kind,value,status\ncount(t),kpi,3,none\n");
    let three = dir.path().join("three.csv");
    assert_eq!(ok(&mut s, ":datasets"), format!("t  3 rows  {}\n", three.display()));
    assert_eq!(
        ok(&mut s, ":schema t"),
        "t: 3 rows\n  id  int       0 null\n  x   int       0 null\n"
    );
}

#[test]
fn a_dataset_redefined_to_data_that_cannot_be_read_is_refused() {
    let (dir, mut s) = two_files("repl-redefine-missing");
    let err = fails(&mut s, "dataset t = csv(\"nonexistent.csv\")");
    assert!(err.contains("cannot open ") && err.contains("nonexistent.csv"), "{err}");
    assert!(err.contains("1 | dataset t = csv(\"nonexistent.csv\")"), "shows where: {err}");
    dir.write("bad.csv", "id,x\n1,\"2\n");
    let err = fails(&mut s, "dataset t = csv(\"bad.csv\")");
    assert!(err.contains("bad.csv"), "{err}");
    // The old definition and its rows stay.
    assert_eq!(ok(&mut s, "count(t)"), "item,kind,value,status\ncount(t),kpi,2,none\n");
    let d = dir.path().join("d.csv");
    assert_eq!(ok(&mut s, ":datasets"), format!("t  2 rows  {}\n", d.display()));
    assert_eq!(ok(&mut s, ":show t"), "dataset t = csv(\"d.csv\")\n");
}

#[test]
fn diagnostics_about_loaded_definitions_point_into_their_file() {
    let mut s = loaded();
    let r = s.handle("csat");
    assert!(r.ok, "{}", r.err);
    let file = root().join("examples/contact_center.kpi");
    assert!(r.err.contains(&format!("--> {}:5:5\n", file.display())), "{}", r.err);
    assert!(!r.err.contains("<session>"), "{}", r.err);
}

#[test]
fn query_errors_show_the_line_as_typed() {
    let mut s = loaded();
    let err = fails(&mut s, "aht, nope by site");
    assert!(err.contains("--> <input>:1:6"), "{err}");
    assert!(err.contains("1 | aht, nope by site"), "{err}");
    let err = fails(&mut s, "aht,\n  avg(calls.wiat_s)\nby site");
    assert!(err.contains("--> <input>:2:13"), "{err}");
    assert!(err.contains("2 |   avg(calls.wiat_s)"), "{err}");
    let err = fails(&mut s, "aht by nowhere");
    assert!(err.contains("--> <input>:1:8"), "{err}");
    for err in [&err, &fails(&mut s, "nope")] {
        assert!(!err.contains("__"), "no wrapper text: {err}");
    }
}

#[test]
fn save_keeps_the_comments_of_the_loaded_file() {
    let (dir, mut s) = examples_copy("repl-save-comments");
    let path = dir.path().join("session.kpi");
    ok(&mut s, &format!(":save {}", path.display()));
    let example = std::fs::read_to_string(root().join("examples/contact_center.kpi")).unwrap();
    let formatted = kpiblend::format::format_source("contact_center.kpi", &example).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), formatted, "as `fmt` writes it");
    // Redefining the first statement keeps the comment above it.
    ok(&mut s, "dataset calls = csv(\"data/calls.csv\")");
    ok(&mut s, &format!(":save! {}", path.display()));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# A contact-center scorecard"), "{text}");
}

#[test]
fn loading_a_file_that_is_not_utf8_names_the_first_bad_byte() {
    let dir = support::TempDir::new("repl-not-utf8");
    let path = dir.path().join("bad.kpi");
    std::fs::write(&path, b"kpi a = 1\nkpi \xe9t\xe9 = 2\n").unwrap();
    let r = Session::new().load(&path);
    assert!(!r.ok);
    let at = format!("{}:2:5: file is not valid UTF-8 (byte 0xE9)", path.display());
    assert!(r.err.contains(&at), "{}", r.err);
}

#[test]
fn a_param_override_waits_for_its_definition_without_a_file() {
    // `kpiblend repl --param x=1` with no file: lines before `param x` are not refused
    // for it, and the definition takes the override.
    let mut s = Session::new();
    s.set_overrides(vec![("x".into(), "1".into())], Vec::new());
    ok(&mut s, "kpi k = 1");
    ok(&mut s, "param x = 5");
    ok(&mut s, "kpi j = x * 2");
    s.handle(":format csv");
    assert_eq!(ok(&mut s, "j"), "item,kind,value,status\nj,kpi,2,none\n");
}

#[test]
fn a_data_override_applies_to_the_files_that_define_its_dataset() {
    // `kpiblend repl tour.kpi --data calls=other.csv`, then `:load` of a file without
    // `calls`: the override waits instead of refusing the file, and applies again to a
    // file that defines `calls`.
    let dir = support::TempDir::new("repl-data-override");
    dir.write("calls.csv", "a\n1\n2\n3\n");
    dir.write("t.csv", "a\n1\n");
    dir.write("override.csv", "a\n1\n2\n3\n4\n5\n");
    let tour = dir.write("tour.kpi", "dataset calls = csv(\"calls.csv\")\nkpi n = count(calls)\n");
    let other = dir.write("other.kpi", "dataset t = csv(\"t.csv\")\nkpi m = count(t)\n");
    let mut s = Session::new();
    s.set_overrides(Vec::new(), vec![("calls".into(), dir.path().join("override.csv"))]);
    let r = s.load(&tour);
    assert!(r.ok, "{}", r.err);
    s.handle(":format csv");
    assert_eq!(ok(&mut s, "n"), "item,kind,value,status\nn,kpi,5,none\n");
    let r = s.load(&other);
    assert!(r.ok, "{}", r.err);
    let waits = format!(
        "note: --data calls={} waits: nothing named `calls` is defined yet\n",
        dir.path().join("override.csv").display()
    );
    assert!(r.err.ends_with(&waits), "{}", r.err);
    assert_eq!(ok(&mut s, "m"), "item,kind,value,status\nm,kpi,1,none\n");
    let r = s.load(&tour);
    assert!(r.ok, "{}", r.err);
    assert_eq!(ok(&mut s, "n"), "item,kind,value,status\nn,kpi,5,none\n", "the override again");
}

#[test]
fn save_says_when_a_set_value_belongs_to_an_imported_param() {
    // `:set` of a param from an import changes the session, but the saved file keeps the
    // import, not the value: said, instead of lost without a word (red team).
    let dir = support::TempDir::new("repl-save-imported-param");
    dir.write("d.csv", "x\n1\n5\n9\n");
    dir.write("p.kpi", "param lim = 5\n");
    let main = dir.write(
        "main.kpi",
        "import \"p.kpi\"\ndataset t = csv(\"d.csv\")\nkpi k = count(t where t.x > lim)\n",
    );
    let mut s = Session::new();
    assert!(s.load(&main).ok);
    ok(&mut s, ":set lim = 1");
    let r = s.handle(&format!(":save {}", main.display()));
    assert!(r.ok, "{}", r.err);
    assert_eq!(r.err, "note: `lim = 1` was not saved: `lim` is defined in an imported file\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("p.kpi")).unwrap(), "param lim = 5\n");
}

#[test]
fn save_refuses_a_file_the_session_imports() {
    // `:save! speed.kpi` from a session that imports it wrote the session (which imports
    // `speed.kpi`) over it: its definitions lost, the file importing itself (red team).
    let (dir, mut s) = two_files("repl-save-imported");
    ok(&mut s, "import \"other.kpi\"");
    let other = dir.path().join("other.kpi");
    for cmd in [":save", ":save!"] {
        let err = fails(&mut s, &format!("{cmd} {}", other.display()));
        assert!(err.contains("is imported by the session"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "kpi s = count(t)\n");
}

/// A `kpi` laid out as in a file, a clause to a line, is one definition whether its lines
/// are typed one at a time or piped (red team: the first line was defined alone, and
/// `unit` and `target` were syntax errors, so `:save` wrote the KPI without them).
#[test]
fn clauses_on_their_own_lines_go_on_the_definition_before_them() {
    let mut s = loaded();
    ok(&mut s, "kpi aht2 = avg(calls.talk_s where not calls.abandoned)");
    ok(&mut s, "    unit seconds");
    ok(&mut s, "    target <= 6m  warn <= 7m");
    let shown = ok(&mut s, ":show aht2");
    assert!(shown.contains("unit seconds") && shown.contains("target <= 6m"), "{shown}");
    assert!(ok(&mut s, "aht2").contains("≤ 6m"));
    // At a prompt, `blend … = a` waits for its `with` on the next line.
    assert!(s.is_incomplete("blend both = aht2"));
    assert!(!s.is_incomplete("blend both = aht2 with csat"));
    ok(&mut s, "blend both = aht2\n    with csat");
    ok(&mut s, "    weights 60%, 40%");
    assert!(ok(&mut s, ":show both").contains("weights 60%, 40%"));
    // A comment in between does not end it (red team: piped, the clause was dropped).
    ok(&mut s, "kpi n1 = count(calls)");
    ok(&mut s, "# the target comes next");
    ok(&mut s, "    target >= 1");
    assert!(ok(&mut s, ":show n1").contains("target >= 1"));
    let piped = support::kpiblend_with_stdin(
        &root(),
        &["repl", "examples/contact_center.kpi"],
        b"kpi x = count(calls)\n# a comment\n  target >= 3\n  # another\n  unit \"calls\"\n:show x\n",
    );
    assert_eq!(
        support::stdout(&piped),
        "loaded 16 kpis, 3 blends, 4 dims, 1 view, 1 param; calls: 5,000 rows, surveys: 1,094 rows\n\
         defined `x`\nkpi x = count(calls)\n# a comment\n  target >= 3\n  # another\n  unit \"calls\"\n"
    );
    // A query in between ends the definition: the clause is an error again.
    ok(&mut s, "kpi n2 = count(calls)");
    ok(&mut s, "n2");
    fails(&mut s, "    target >= 1");
    // `min(` starts a query, not a clause.
    ok(&mut s, "kpi n3 = count(calls)");
    assert!(ok(&mut s, "min(calls.wait_s)").contains("min(calls.wait_s)"));

    // Piped, the whole layout is one statement and the script succeeds (a KPI a blend
    // needs with a target fails alone: it must not be handled before its clauses).
    let script = ":load examples/contact_center.kpi\n\
        kpi fcr \"First contact resolution\" =\n    \
        rate(calls.resolved_first_contact where not calls.abandoned)\n    \
        target >= 72%\n    tags north_star\n\
        fcr\n";
    let out = support::kpiblend_with_stdin(&root(), &["repl"], script.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert!(support::stdout(&out).contains("≥ 72%"), "{}", support::stdout(&out));
}

/// `:load` replaces the session's definitions: with typed ones not saved it refuses and
/// names them (`:load!` drops them); after `:save` it loads (red team: typed definitions
/// vanished without a word).
#[test]
fn load_refuses_to_drop_unsaved_typed_definitions() {
    let dir = support::TempDir::new("repl-load-unsaved");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    for f in ["contact_center.kpi", "data/calls.csv", "data/surveys.csv"] {
        std::fs::copy(root().join("examples").join(f), dir.path().join(f)).unwrap();
    }
    let example = dir.path().join("contact_center.kpi");
    let mut s = Session::new();
    assert!(s.load(&example).ok);
    ok(&mut s, "kpi mine = count(calls)");
    let err = fails(&mut s, &format!(":load {}", example.display()));
    assert!(err.contains("would drop the definitions typed in this session (`mine`)"), "{err}");
    assert!(ok(&mut s, "mine").contains("5,000"), "the session is unchanged");
    ok(&mut s, &format!(":save {}", dir.path().join("mine.kpi").display()));
    ok(&mut s, &format!(":load {}", example.display()));
    ok(&mut s, "kpi again = count(calls)");
    ok(&mut s, &format!(":load! {}", example.display()));
    fails(&mut s, "again");
    assert_eq!(ok(&mut s, ":format csv"), "format csv\n");
}

/// Messages about a typed expression name it as typed, not the KPI the REPL made of it
/// (red team: "kpi `__expr_0` is text"); notes are shown as `eval` shows them.
#[test]
fn messages_name_the_typed_expression_and_notes_are_shown() {
    let mut s = loaded();
    let err = fails(&mut s, "\"abc\"");
    assert!(err.starts_with("error[KB0201]: `\"abc\"` is text"), "{err}");
    assert!(!err.contains("__expr"), "{err}");
    let err = fails(&mut s, "aht, count(calls) > 3");
    assert!(err.contains("`count(calls) > 3` is true/false"), "{err}");
    assert!(ok(&mut s, "aht by site").contains("note 2026-03-14: billing outage"));
}

/// A view's name runs the view; `:show` of a param set in the session says the value in
/// force (red team: views could not be run in the REPL, and `:show` gave the file's value).
#[test]
fn a_view_name_runs_the_view_and_show_says_a_params_value_in_force() {
    let mut s = loaded();
    let out = ok(&mut s, "weekly_by_site");
    assert!(out.starts_with("site        week             aht"), "{out}");
    let mut s2 = loaded();
    assert_eq!(ok(&mut s2, "aht, fcr, csat, nps, aht_with_csat by site, week"), out);
    ok(&mut s, ":set answer_within = 30s");
    assert_eq!(
        ok(&mut s, ":show answer_within"),
        "param answer_within = 20s\n  (set to 30s in this session)\n"
    );
}

/// `:data` with a file the definitions do not fit keeps the previous data, as a failed
/// `:load` keeps the session (red team: it swapped anyway, and every later query failed).
#[test]
fn data_that_does_not_fit_the_definitions_leaves_the_session_as_it_was() {
    let dir = support::TempDir::new("repl-data-misfit");
    let narrow = dir.write("narrow.csv", "contact_id,site\n1,x\n");
    let mut s = loaded();
    let err = fails(&mut s, &format!(":data calls {}", narrow.display()));
    assert!(err.contains("error[KB0101]"), "{err}");
    assert!(err.contains("`calls` still reads its previous data"), "{err}");
    assert!(ok(&mut s, "count(calls)").contains("5,000"));
}

/// A data warning is said once a session, not after every query that reads the data (red
/// team: the three orphan surveys were reported after each query).
#[test]
fn a_data_warning_is_said_once() {
    let mut s = loaded();
    assert!(s.handle("csat").err.contains("KB0505"));
    let again = s.handle("csat by site");
    assert!(again.ok && !again.err.contains("KB0505"), "{}", again.err);
}

/// `:show` and `:explain` show a name an imported file defines, with its place (red team:
/// "`aht` is not defined" while `aht` could be queried).
#[test]
fn show_finds_names_defined_in_imported_files() {
    let mut s = Session::new();
    assert!(s.load(&root().join("library/blends.kpi")).ok);
    let aht = ok(&mut s, ":show aht");
    assert!(aht.starts_with("kpi aht \"Average handle time\" =\n"), "{aht}");
    assert!(
        aht.trim_end().ends_with(&format!("{}:29)", root().join("library/speed.kpi").display())),
        "{aht}"
    );
    let param = ok(&mut s, ":explain answer_within");
    assert!(param.starts_with("param answer_within = 20s  ("), "{param}");
    fails(&mut s, ":show nothing_of_that_name");
}

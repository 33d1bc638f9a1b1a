//! Time and insight: periods, trends, period-over-period change, correlation readings,
//! and mix-versus-rate explanations, on small fixtures with hand-checked numbers.

use crate::support::{TempDir, kpiblend, stderr, stdout};

/// Three ISO weeks of calls (Mondays 2026-01-05, -12, -19) and a note in the second.
///   week 1: 100, 200 → aht 150
///   week 2: 300      → aht 300
///   week 3: 120, 180 → aht 150
fn weeks() -> TempDir {
    let dir = TempDir::new("insight-weeks");
    dir.write(
        "calls.csv",
        "contact_id,started_at,queue,talk_s\n\
         1,2026-01-05T09:00:00Z,a,100\n\
         2,2026-01-07T09:00:00Z,b,200\n\
         3,2026-01-13T09:00:00Z,a,300\n\
         4,2026-01-19T09:00:00Z,a,120\n\
         5,2026-01-25T23:59:59Z,b,180\n",
    );
    dir.write(
        "weeks.kpi",
        "dataset calls = csv(\"calls.csv\")\n\
         dim week = week(calls.started_at)\n\
         dim queue = calls.queue\n\
         kpi aht = avg(calls.talk_s) unit seconds target <= 200\n\
         kpi handled = count(calls)\n\
         kpi aht_change = change(aht) over week\n\
         kpi aht_before = previous(aht) over week\n\
         note 2026-01-14 \"new IVR menu\"\n",
    );
    dir
}

fn json(dir: &TempDir, args: &[&str]) -> serde_json::Value {
    let out = kpiblend(dir.path(), args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn trend_gives_each_kpi_its_series_last_value_and_change_said_as_better_or_worse() {
    let dir = weeks();
    let t = json(
        &dir,
        &["eval", "weeks.kpi", "--trend", "week", "--kpi", "aht,handled", "--format", "json"],
    );
    assert_eq!(t["grain"], "week");
    assert_eq!(t["periods"], serde_json::json!(["2026-01-05", "2026-01-12", "2026-01-19"]));
    let aht = &t["items"][0];
    assert_eq!(aht["series"], serde_json::json!([150.0, 300.0, 150.0]));
    assert_eq!(aht["last"], 150.0);
    assert_eq!(aht["previous"], 300.0);
    assert_eq!(aht["change"], -150.0);
    assert_eq!(aht["assessment"], "better", "lower handle time is better");
    assert_eq!(t["items"][1]["series"], serde_json::json!([2.0, 1.0, 2.0]));
    assert_eq!(t["notes"][0]["period"], "2026-01-12", "a note sits beside the week containing it");
    let text =
        stdout(&kpiblend(dir.path(), &["eval", "weeks.kpi", "--trend", "week", "--kpi", "aht"]));
    assert!(text.contains("aht   ▁█▁"), "{text}");
    assert!(text.contains("▼ -2m 30s better"), "{text}");
    assert!(
        text.contains("note 2026-01-14, week of 2026-01-12 (period 2 of 3): new IVR menu"),
        "{text}"
    );
}

#[test]
fn from_and_to_select_a_half_open_period_on_the_time_column() {
    let dir = weeks();
    let r = json(
        &dir,
        &[
            "eval",
            "weeks.kpi",
            "--kpi",
            "aht,handled",
            "--from",
            "2026-01-12",
            "--to",
            "2026-01-19",
            "--format",
            "json",
        ],
    );
    assert_eq!(r["rows"][0]["cells"][0]["value"], 300.0);
    assert_eq!(r["rows"][0]["cells"][1]["value"], 1.0, "2026-01-19T09:00 is not before --to");
    let r = json(
        &dir,
        &[
            "eval",
            "weeks.kpi",
            "--kpi",
            "handled",
            "--from",
            "2026-01-19T09:00:00Z",
            "--format",
            "json",
        ],
    );
    assert_eq!(r["rows"][0]["cells"][0]["value"], 2.0, "--from is included");
    let bad = kpiblend(dir.path(), &["eval", "weeks.kpi", "--from", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--from last tuesday: expected a date"), "{}", stderr(&bad));
}

#[test]
fn change_and_previous_compare_the_last_period_with_the_one_before() {
    let dir = weeks();
    let r =
        json(&dir, &["eval", "weeks.kpi", "--kpi", "aht_change,aht_before", "--format", "json"]);
    assert_eq!(r["rows"][0]["cells"][0]["value"], -150.0, "150 - 300");
    assert_eq!(r["rows"][0]["cells"][1]["value"], 300.0);
    // Grouped: within each queue. Queue a: weeks 1, 2, 3 = 100, 300, 120 → 120 - 300.
    // Queue b: weeks 1 and 3 only = 200, 180 → 180 - 200.
    let r = json(
        &dir,
        &["eval", "weeks.kpi", "--kpi", "aht_change", "--by", "queue", "--format", "json"],
    );
    assert_eq!(r["rows"][0]["key"], serde_json::json!(["a"]));
    assert_eq!(r["rows"][0]["cells"][0]["value"], -180.0);
    assert_eq!(r["rows"][1]["cells"][0]["value"], -20.0);
}

#[test]
fn sort_ranks_groups_best_first_and_leaves_insufficient_ones_unranked() {
    let dir = weeks();
    // a: (100 + 300 + 120) / 3 = 173.3 s, b: (200 + 180) / 2 = 190 s; lower is better.
    let r = json(
        &dir,
        &[
            "eval",
            "weeks.kpi",
            "--kpi",
            "aht",
            "--by",
            "queue",
            "--sort",
            "aht",
            "--format",
            "json",
        ],
    );
    assert_eq!(r["rows"][0]["key"], serde_json::json!(["a"]));
    dir.write(
        "min.kpi",
        &std::fs::read_to_string(dir.path().join("weeks.kpi"))
            .unwrap()
            .replace("target <= 200", "target <= 200 min 3"),
    );
    // With `min 3`, queue b (2 calls) is insufficient: it comes after the ranked queue a
    // even though the order by key alone would be the same; flip the direction to see it.
    dir.write(
        "min2.kpi",
        &std::fs::read_to_string(dir.path().join("min.kpi"))
            .unwrap()
            .replace("target <= 200 min 3", "target >= 200 min 3"),
    );
    let r = json(
        &dir,
        &["eval", "min2.kpi", "--kpi", "aht", "--by", "queue", "--sort", "aht", "--format", "json"],
    );
    assert_eq!(
        r["rows"][0]["key"],
        serde_json::json!(["a"]),
        "b would rank first (190 > 173) but has only 2 calls"
    );
    assert_eq!(r["rows"][1]["cells"][0]["status"], "insufficient");
    // The same for a blend: b's components score higher (190 against 173 of 200), but its
    // verdict is insufficient, so it is not ranked above a.
    dir.write(
        "blend.kpi",
        &(std::fs::read_to_string(dir.path().join("min2.kpi")).unwrap()
            + "kpi volume = count(calls) target >= 1\nblend service = aht with volume\n"),
    );
    let r = json(
        &dir,
        &[
            "eval",
            "blend.kpi",
            "--kpi",
            "service",
            "--by",
            "queue",
            "--sort",
            "service",
            "--format",
            "json",
        ],
    );
    assert_eq!(r["rows"][0]["key"], serde_json::json!(["a"]), "{r}");
    assert_eq!(r["rows"][1]["cells"][0]["verdict"], "insufficient", "{r}");
}

#[test]
fn change_in_a_guard_watches_the_trend() {
    let dir = weeks();
    dir.write("guard.kpi", &(std::fs::read_to_string(dir.path().join("weeks.kpi")).unwrap() + "kpi volume = count(calls) target >= 1\nblend steady = aht with volume guard change(aht) over week <= 0\n"));
    let r = json(&dir, &["eval", "guard.kpi", "--kpi", "steady", "--format", "json"]);
    assert_eq!(r["rows"][0]["cells"][0]["verdict"], "pass", "aht fell by 150 s: the guard holds");
}

/// Two queues, two weeks. Each queue got faster, yet the total got slower, because
/// the volume moved to the slow queue:
///   before: a 90 × 100 s, b 10 × 300 s → 120 s
///   after:  a 10 ×  90 s, b 90 × 280 s → 261 s
///   mix  = (0.1 − 0.9)·100 + (0.9 − 0.1)·300 = +160
///   rate = 0.1·(−10) + 0.9·(−20)            = −19      (160 − 19 = 141 = 261 − 120)
#[test]
fn explain_change_splits_mix_from_rate_and_names_simpsons_paradox() {
    let dir = TempDir::new("insight-simpson");
    let mut csv = String::from("started_at,queue,talk_s\n");
    for (day, queue, talk, n) in [
        ("2026-01-05", "a", 100, 90),
        ("2026-01-06", "b", 300, 10),
        ("2026-01-12", "a", 90, 10),
        ("2026-01-13", "b", 280, 90),
    ] {
        for _ in 0..n {
            csv.push_str(&format!("{day}T10:00:00Z,{queue},{talk}\n"));
        }
    }
    dir.write("calls.csv", &csv);
    dir.write("s.kpi", "dataset calls = csv(\"calls.csv\")\ndim queue = calls.queue\nkpi aht = avg(calls.talk_s) unit seconds target <= 200\n");
    let args = [
        "explain-change",
        "s.kpi",
        "--kpi",
        "aht",
        "--by",
        "queue",
        "--from",
        "2026-01-12",
        "--to",
        "2026-01-19",
        "--vs",
        "2026-01-05",
        "2026-01-12",
    ];
    let e = json(&dir, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(e["before"], 120.0);
    assert_eq!(e["after"], 261.0);
    assert!((e["mix"].as_f64().unwrap() - 160.0).abs() < 1e-9, "{e}");
    assert!((e["rate"].as_f64().unwrap() + 19.0).abs() < 1e-9, "{e}");
    assert!(e["residual"].as_f64().unwrap().abs() < 1e-9);
    assert_eq!(e["simpson"], true);
    let text = stdout(&kpiblend(dir.path(), &args));
    assert!(text.contains("due to mix (volume moving between groups):  +2m 40s"), "{text}");
    assert!(text.contains("due to rate (values changing within groups): -19s"), "{text}");
    assert!(text.contains("Simpson's paradox"), "{text}");
}

/// One group in both periods is not a paradox, nor are groups that come and go (red team:
/// with `a` the only group in both periods, its moving against the total was called
/// "every group moved the other way"; the total moved because `b` left and `c` came).
#[test]
fn explain_change_needs_two_groups_in_both_periods_to_name_a_paradox() {
    let dir = TempDir::new("insight-no-simpson");
    dir.write(
        "ec.csv",
        "t,g,v\n2026-01-01T00:00:00Z,a,10\n2026-01-03T00:00:00Z,b,100\n\
         2026-02-01T00:00:00Z,a,5\n2026-02-02T00:00:00Z,c,200\n",
    );
    dir.write("ec.kpi", "dataset t = csv(\"ec.csv\")\ndim g = t.g\nkpi m = avg(t.v)\n");
    let args = ["explain-change", "ec.kpi", "--kpi", "m", "--by", "g", "--from", "2026-02-01"];
    let args = [&args[..], &["--to", "2026-03-01", "--vs", "2026-01-01", "2026-02-01"]].concat();
    let e = json(&dir, &[&args[..], &["--format", "json"]].concat());
    // 55 → 102.5 while `a` went from 10 to 5.
    assert_eq!((e["before"].as_f64(), e["after"].as_f64()), (Some(55.0), Some(102.5)), "{e}");
    assert_eq!(e["simpson"], false, "{e}");
    assert!(!stdout(&kpiblend(dir.path(), &args)).contains("Simpson"));
}

/// The leftover of mix and rate is labelled with its real cause (found by a red-team run:
/// it always blamed groups in one period only).
#[test]
fn explain_change_names_the_cause_of_what_mix_and_rate_leave_over() {
    let dir = TempDir::new("insight-residual");
    let mut csv = String::from("started_at,queue,talk_s\n");
    for (day, queue, talk, n) in [
        ("2026-01-05", "a", 100, 3),
        ("2026-01-06", "b", 300, 1),
        ("2026-01-12", "a", 90, 1),
        ("2026-01-13", "b", 280, 3),
        ("2026-01-14", "c", 50, 2),
    ] {
        for _ in 0..n {
            csv.push_str(&format!("{day}T10:00:00Z,{queue},{talk}\n"));
        }
    }
    dir.write("calls.csv", &csv);
    dir.write(
        "s.kpi",
        "dataset calls = csv(\"calls.csv\")\ndim queue = calls.queue\nkpi aht = avg(calls.talk_s)\nkpi top = max(calls.talk_s where calls.queue != \"c\")\n",
    );
    let run = |kpi: &str, by: &str, json_out: bool| {
        let mut args = vec![
            "explain-change",
            "s.kpi",
            "--kpi",
            kpi,
            "--by",
            by,
            "--from",
            "2026-01-12",
            "--to",
            "2026-01-19",
            "--vs",
            "2026-01-05",
            "2026-01-12",
        ];
        if json_out {
            args.extend(["--format", "json"]);
            json(&dir, &args).to_string()
        } else {
            stdout(&kpiblend(dir.path(), &args))
        }
    };
    // a maximum with a value for a and b in both periods (c has none): neither the mean of
    // the groups (before 100 and 300 over 3 and 1 rows: 150, not 300) nor their sum
    let text = run("top", "queue", false);
    assert!(
        text.contains(
            "not explained by either (the KPI is not a volume-weighted mean of its groups)"
        ),
        "{text}"
    );
    assert!(!text.contains("one period only"), "{text}");
    // an average with a group in one period only
    let e = run("aht", "queue", true);
    assert!(e.contains(r#""residual_causes":["one_period_groups"]"#), "{e}");
    // mix is (0.75 − 0.25)·100 + (0.25 − 0.75)·100 = 0: said without a sign, never `-0`
    dir.write(
        "calls.csv",
        "started_at,queue,talk_s\n2026-01-05T10:00:00Z,a,100\n2026-01-05T10:00:00Z,b,100\n\
         2026-01-05T10:00:00Z,b,100\n2026-01-05T10:00:00Z,b,100\n2026-01-12T10:00:00Z,a,100\n\
         2026-01-12T10:00:00Z,a,100\n2026-01-12T10:00:00Z,a,100\n2026-01-12T10:00:00Z,b,200\n",
    );
    let text = run("aht", "queue", false);
    assert!(text.contains("due to mix (volume moving between groups):  ±0\n"), "{text}");
    assert!(text.contains("due to rate (values changing within groups): +25\n"), "{text}");
}

/// A count or a sum is the sum of its groups: its change is the sum of theirs, with no mix
/// and rate to split (red team: a count's -94 was split into mix, rate and an unexplained
/// -61.8).
#[test]
fn explain_change_of_a_count_is_the_sum_of_the_groups_changes() {
    let dir = TempDir::new("insight-additive");
    dir.write(
        "c.csv",
        "t,g,v\n2026-01-05T10:00:00Z,a,1\n2026-01-05T10:00:00Z,a,2\n2026-01-05T10:00:00Z,b,3\n\
         2026-01-12T10:00:00Z,a,4\n2026-01-12T10:00:00Z,c,5\n2026-01-12T10:00:00Z,c,6\n",
    );
    dir.write(
        "c.kpi",
        "dataset t = csv(\"c.csv\")\ndim g = t.g\nkpi n = count(t)\nkpi total = sum(t.v)\n",
    );
    for (kpi, change) in [("n", 0.0), ("total", 9.0)] {
        let args = ["explain-change", "c.kpi", "--kpi", kpi, "--by", "g", "--from", "2026-01-12"];
        let args =
            [&args[..], &["--to", "2026-01-19", "--vs", "2026-01-05", "2026-01-12"]].concat();
        let e = json(&dir, &[&args[..], &["--format", "json"]].concat());
        assert_eq!(e["additive"], true, "{e}");
        assert_eq!(
            (e["change"].as_f64(), e["rate"].as_f64(), e["mix"].as_f64()),
            (Some(change), Some(change), Some(0.0)),
            "{e}"
        );
        assert_eq!(e["residual"].as_f64(), Some(0.0), "{e}");
        let text = stdout(&kpiblend(dir.path(), &args));
        assert!(text.contains("the groups add up to the total"), "{text}");
        assert!(!text.contains("due to mix") && !text.contains("not explained"), "{text}");
    }
}

#[test]
fn a_correlation_reads_in_words_with_its_sample() {
    use kpiblend::render::table::correlation_reading;
    assert_eq!(correlation_reading(Some(-0.56), 60, "agent"), "strong negative, n = 60 agents");
    assert_eq!(correlation_reading(Some(0.2), 12, "site"), "weak positive, n = 12 sites");
    assert_eq!(correlation_reading(Some(0.05), 5, "week"), "no correlation, n = 5 weeks");
    assert_eq!(correlation_reading(None, 1, "agent"), "n = 1 agent");
}

#[test]
fn explain_change_says_each_data_warning_once() {
    // The example's surveys hold three contacts not in calls.csv; both periods read them.
    let args = [
        "explain-change",
        "examples/contact_center.kpi",
        "--kpi",
        "csat",
        "--by",
        "site",
        "--from",
        "2026-01-15",
        "--to",
        "2026-02-01",
        "--vs",
        "2026-01-01",
        "2026-01-15",
    ];
    let o = kpiblend(&crate::support::root(), &args);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("warning[KB0505]: 3 rows of `surveys`").count(), 1, "{err}");
}

#[test]
fn explain_change_of_a_blend_is_refused_and_names_its_kpis() {
    let args = [
        "explain-change",
        "examples/contact_center.kpi",
        "--kpi",
        "aht_with_csat",
        "--by",
        "site",
        "--from",
        "2026-03-16",
        "--to",
        "2026-03-30",
        "--vs",
        "2026-03-02",
        "2026-03-16",
    ];
    let o = kpiblend(&crate::support::root(), &args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "a usage error: {err}");
    assert_eq!(stdout(&o), "", "no table of zero volumes");
    assert!(err.contains("`aht_with_csat` is a blend"), "{err}");
    assert!(err.contains("--kpi aht") && err.contains("--kpi csat"), "{err}");
}

#[track_caller]
fn assert_period_refused(args: &[&str], expected: &[&str]) {
    let dir = weeks();
    let o = kpiblend(dir.path(), args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: a usage error: {err}");
    assert_eq!(stdout(&o), "", "{args:?}: no empty result");
    for text in expected {
        assert!(err.contains(text), "{args:?}: expected {text:?} in:\n{err}");
    }
}

#[test]
fn a_period_that_ends_before_it_starts_is_refused_naming_both_dates() {
    let reversed = ["--from", "2030-01-01", "--to", "2020-01-01"];
    assert_period_refused(
        &[&["eval", "weeks.kpi"][..], &reversed[..]].concat(),
        &["--from 2030-01-01 --to 2020-01-01: the start is after the end"],
    );
    let explain = ["explain-change", "weeks.kpi", "--kpi", "aht", "--by", "queue"];
    assert_period_refused(
        &[&explain[..], &reversed[..], &["--vs", "2026-01-05", "2026-01-12"]].concat(),
        &["--from 2030-01-01 --to 2020-01-01: the start is after the end"],
    );
    let vs_reversed =
        ["--from", "2026-01-12", "--to", "2026-01-19", "--vs", "2026-01-12", "2026-01-05"];
    assert_period_refused(
        &[&explain[..], &vs_reversed[..]].concat(),
        &["--vs 2026-01-12 2026-01-05: the start is after the end", "--vs 2026-01-05 2026-01-12"],
    );
}

#[test]
fn a_period_whose_start_equals_its_end_is_empty_and_refused() {
    assert_period_refused(
        &["eval", "weeks.kpi", "--from", "2026-01-05", "--to", "2026-01-05"],
        &["--from 2026-01-05 --to 2026-01-05: the period is empty", "--to 2026-01-06"],
    );
    assert_period_refused(
        &["eval", "weeks.kpi", "--from", "2026-01-05", "--to", "2026-01-05T00:00:00Z"],
        &["the period is empty"],
    );
}

/// Pearson's r over groups, against a value computed by hand: queues a, b, c with x = 1, 2,
/// 3 calls and y = 2, 4, 7 seconds of talk on average. Means 2 and 13/3; deviations
/// (-1, 0, 1) and (-7/3, -1/3, 8/3); r = 5 / sqrt(2 * 38/3) = 0.99339926779878...
#[test]
fn corr_is_pearsons_r_across_the_groups() {
    let dir = TempDir::new("insight-corr");
    dir.write("calls.csv", "queue,talk_s\na,2\nb,4\nb,4\nc,7\nc,7\nc,7\n");
    dir.write(
        "c.kpi",
        "dataset calls = csv(\"calls.csv\")\ndim queue = calls.queue\n\
         kpi volume = count(calls)\nkpi talk = avg(calls.talk_s)\n\
         kpi r = corr(volume, talk) over queue\n",
    );
    let r = json(&dir, &["eval", "c.kpi", "--kpi", "r", "--format", "json"]);
    let got = r["rows"][0]["cells"][0]["value"].as_f64().unwrap();
    let want = 5.0 / (2.0_f64 * 38.0 / 3.0).sqrt();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert_eq!(r["rows"][0]["cells"][0]["n"], 3);
}

/// A note dated by a time belongs to that time's day.
#[test]
fn a_note_at_a_time_is_dated_by_its_day() {
    let dir = weeks();
    dir.write(
        "timed.kpi",
        &std::fs::read_to_string(dir.path().join("weeks.kpi"))
            .unwrap()
            .replace("note 2026-01-14 ", "note 2026-01-14T23:30:00Z "),
    );
    let r = json(&dir, &["eval", "timed.kpi", "--kpi", "handled", "--format", "json"]);
    assert_eq!(r["notes"][0]["date_text"], "2026-01-14", "{r}");
}

/// Weeks without rows are in the trend as gaps: the last week is compared with the week
/// before it (empty here, so no change is claimed), not with the last week that had data.
#[test]
fn a_trend_keeps_empty_periods_as_gaps() {
    let dir = TempDir::new("insight-gaps");
    dir.write(
        "g.csv",
        "at,v\n2026-03-02T10:00:00Z,10\n2026-03-03T10:00:00Z,20\n2026-03-23T10:00:00Z,50\n",
    );
    dir.write("g.kpi", "dataset t = csv(\"g.csv\")\nkpi s = avg(t.v) target >= 1\n");
    let t = json(&dir, &["eval", "g.kpi", "--trend", "week", "--format", "json"]);
    assert_eq!(
        t["periods"],
        serde_json::json!(["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"])
    );
    assert_eq!(t["items"][0]["series"], serde_json::json!([15.0, null, null, 50.0]));
    assert_eq!(t["items"][0]["change"], serde_json::Value::Null);
    let text = stdout(&kpiblend(dir.path(), &["eval", "g.kpi", "--trend", "month"]));
    assert!(text.starts_with("1 month, 2026-03-01 to 2026-03-01\n"), "{text}");
}

/// Every period from the first to the last is shown, so a placeholder date far from the
/// others (1800-01-01) made a trend of 82,000 days: 14 s, 490 MB and a table line too wide
/// to format (a panic). More than `MAX_PERIODS` periods is an error naming the limit and
/// the dates; a coarser grain over the same data works.
#[test]
fn a_trend_of_more_than_ten_thousand_periods_is_refused_with_the_dates() {
    let dir = TempDir::new("insight-periods");
    dir.write("p.csv", "at,v\n1800-01-01T10:00:00Z,10\n2026-03-02T10:00:00Z,20\n");
    dir.write("p.kpi", "dataset t = csv(\"p.csv\")\nkpi n = count(t)\n");
    for format in ["table", "json"] {
        let out = kpiblend(dir.path(), &["eval", "p.kpi", "--trend", "day", "--format", format]);
        assert_eq!(out.status.code(), Some(2), "a data limit: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(
                "error[KB0506]: the trend would have more than 10000 days: \
                 the data runs from 1800-01-01 to 2026-03-02\n"
            ),
            "{err}"
        );
        assert!(err.contains("`--from 2026-03-01 --to 2026-03-03`"), "{err}");
        assert!(err.contains("a coarser grain (`--trend week`)"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let t = json(&dir, &["eval", "p.kpi", "--trend", "quarter", "--format", "json"]);
    let periods = t["periods"].as_array().unwrap();
    // 1800 Q1 to 2026 Q1: 226 years of 4 quarters, and one.
    assert_eq!(periods.len(), 226 * 4 + 1);
    assert_eq!(periods[0], "1800-01-01");
    assert_eq!(periods[periods.len() - 1], "2026-01-01");
}

/// KPIs whose data has no time column cannot be limited to a period: a note names them and
/// says why (it read "cannot be grouped by : backlog", with no dim, red team).
#[test]
fn kpis_a_period_cannot_limit_are_named_with_the_reason() {
    let out = kpiblend(
        &crate::support::root(),
        &["eval", "library/resolution.kpi", "--from", "2026-03-10", "--to", "2026-03-20"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: not shown, as their data cannot be limited to the period: backlog,"),
        "{err}"
    );
}

/// A period without rows shows what each KPI is over no rows, as SQL gives it: a count is
/// 0, an average or a ratio of counts null (it showed null for the count too, red team).
#[test]
fn an_empty_period_counts_zero_and_averages_nothing() {
    let dir = TempDir::new("insight-empty-period");
    dir.write(
        "g.csv",
        "at,v\n2026-03-02T10:00:00Z,10\n2026-03-03T10:00:00Z,20\n2026-03-23T10:00:00Z,50\n",
    );
    dir.write(
        "g.kpi",
        "dataset t = csv(\"g.csv\")\nkpi n = count(t)\nkpi big = count(t where t.v > 15)\n\
         kpi s = avg(t.v)\nkpi share = big / n\n",
    );
    let t = json(&dir, &["eval", "g.kpi", "--trend", "week", "--format", "json"]);
    let series = |i: usize| t["items"][i]["series"].clone();
    assert_eq!(series(0), serde_json::json!([2.0, 0.0, 0.0, 1.0]));
    assert_eq!(series(1), serde_json::json!([1.0, 0.0, 0.0, 1.0]));
    assert_eq!(series(2), serde_json::json!([15.0, null, null, 50.0]));
    assert_eq!(series(3), serde_json::json!([0.5, null, null, 1.0]));
    // The last week is compared with the empty one before it.
    assert_eq!(t["items"][0]["previous"], serde_json::json!(0.0));
    assert_eq!(t["items"][0]["change"], serde_json::json!(1.0));
}

/// `--sort` on a KPI whose target is `== t` ranks the groups closest to `t` first; for
/// `!= t`, those farthest from it (failing groups came first, red team).
#[test]
fn sort_ranks_equality_targets_by_the_distance_to_the_target() {
    let dir = TempDir::new("insight-sort-eq");
    dir.write("s.csv", "site,v\nc,12\na,20\nb,10\nd,\n");
    dir.write(
        "s.kpi",
        "dataset x = csv(\"s.csv\")\ndim site = x.site\n\
         kpi eq = avg(x.v) target == 10\nkpi ne = avg(x.v) target != 10\n",
    );
    let order = |kpi: &str| {
        let r = json(
            &dir,
            &["eval", "s.kpi", "--kpi", kpi, "--by", "site", "--sort", kpi, "--format", "json"],
        );
        r["rows"].as_array().unwrap().iter().map(|row| row["key"][0].clone()).collect::<Vec<_>>()
    };
    // Distances to 10: b 0, c 2, a 10; d has no value and comes last.
    assert_eq!(order("eq"), serde_json::json!(["b", "c", "a", "d"]).as_array().unwrap().clone());
    assert_eq!(order("ne"), serde_json::json!(["a", "c", "b", "d"]).as_array().unwrap().clone());
}

/// The last period of the calendar (9999-12-31) has no next one: a trend over data that
/// reaches it ends there (stepping past it clamped back into the same period, looping to
/// the 10,000-period limit, red team).
#[test]
fn a_trend_ends_at_the_last_period_of_the_calendar() {
    let dir = TempDir::new("insight-9999");
    dir.write("t.csv", "at\n9999-11-02T10:00:00Z\n9999-12-31T10:00:00Z\n");
    dir.write("t.kpi", "dataset t = csv(\"t.csv\")\nkpi n = count(t)\n");
    for (grain, periods) in [("week", 9), ("month", 2), ("quarter", 1)] {
        let t = json(&dir, &["eval", "t.kpi", "--trend", grain, "--format", "json"]);
        assert_eq!(t["periods"].as_array().unwrap().len(), periods, "{grain}: {t}");
    }
}

/// A ratio weighs its groups by what it divides by: `count(ok) / count(all)` is the mean of
/// the groups' shares weighted by their rows, not by their `ok` rows (red team: the volume
/// was the numerator's count, and a false leftover was blamed on the KPI).
#[test]
fn explain_change_weighs_a_ratio_by_its_divisor() {
    let dir = TempDir::new("insight-ratio-volume");
    let mut csv = String::from("t,g,ok\n");
    // a: 4 rows, 1 ok, in both months; b: 4 rows (3 ok) in January, 12 (9 ok) in February.
    for (month, g, rows, ok) in
        [("01", "a", 4, 1), ("02", "a", 4, 1), ("01", "b", 4, 3), ("02", "b", 12, 9)]
    {
        for i in 0..rows {
            csv.push_str(&format!("2026-{month}-10T10:00:00Z,{g},{}\n", i < ok));
        }
    }
    dir.write("mx.csv", &csv);
    dir.write(
        "mx.kpi",
        "dataset c = csv(\"mx.csv\", time: \"t\")\ndim g = c.g\n\
         kpi share = count(c where c.ok) / count(c) * 100\nkpi okr = rate(c.ok)\n\
         kpi same = share\nkpi not_share = 100 - count(c where c.ok) / count(c) * 100\n\
         kpi scaled = count(c where c.ok) * (100 / count(c))\n",
    );
    let explain = |kpi: &str| {
        let args = ["explain-change", "mx.kpi", "--kpi", kpi, "--by", "g", "--from", "2026-02-01"];
        let args =
            [&args[..], &["--to", "2026-03-01", "--vs", "2026-01-01", "2026-02-01"]].concat();
        json(&dir, &[&args[..], &["--format", "json"]].concat())
    };
    // Each group's share is unchanged (25%, 75%): the whole change, 50 → 62.5, is mix
    // (and for its complement, 50 → 37.5, -12.5).
    for kpi in ["share", "same", "not_share", "scaled"] {
        let sign = if kpi == "not_share" { -1.0 } else { 1.0 };
        let e = explain(kpi);
        let volumes: Vec<(f64, f64)> = e["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["volume_before"].as_f64().unwrap(), g["volume_after"].as_f64().unwrap()))
            .collect();
        assert_eq!(volumes, [(4.0, 4.0), (4.0, 12.0)], "{e}");
        assert!((e["mix"].as_f64().unwrap() - sign * 12.5).abs() < 1e-9, "{kpi}: {e}");
        assert!(e["rate"].as_f64().unwrap().abs() < 1e-9, "{e}");
        assert!(e["residual"].as_f64().unwrap().abs() < 1e-9, "{e}");
        assert_eq!(e["residual_causes"], serde_json::json!([]), "{e}");
    }
    // A rate weighs by the values it counts, which is the same here.
    let e = explain("okr");
    assert!((e["mix"].as_f64().unwrap() - 0.125).abs() < 1e-12, "{e}");
}

/// Rows without a time are in no period: the trend's table, JSON, CSV and `--fail-on` all
/// leave them out, and a note says so (red team: the CSV had a row for them, and
/// `--fail-on` failed the run on a period nobody could see).
#[test]
fn a_trend_leaves_rows_without_a_time_out_of_every_format_and_says_so() {
    let dir = TempDir::new("insight-trend-no-time");
    dir.write("c.csv", "id,at,v\n1,2026-03-02T10:00:00Z,5\n2,2026-03-10T10:00:00Z,5\n3,,0\n");
    dir.write("t.kpi", "dataset c = csv(\"c.csv\", time: \"at\")\nkpi q = avg(c.v) target >= 3\n");
    let trend = ["eval", "t.kpi", "--trend", "week", "--fail-on", "fail"];
    for format in ["table", "json", "csv"] {
        let out = kpiblend(dir.path(), &[&trend[..], &["--format", format]].concat());
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert!(stderr(&out).contains("rows that reach no time"), "{}", stderr(&out));
    }
    let csv = stdout(&kpiblend(dir.path(), &[&trend[..], &["--format", "csv"]].concat()));
    assert_eq!(
        csv,
        "period,item,kind,value,status\n2026-03-02,q,kpi,5,ok\n2026-03-09,q,kpi,5,ok\n"
    );
    // Without the trend, the row counts: avg 10/3 passes the target.
    let scorecard = kpiblend(dir.path(), &["eval", "t.kpi", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&scorecard)).unwrap();
    assert_eq!(v["rows"][0]["cells"][0]["n"], 3, "{v}");
    // A period that fails does fail the run.
    dir.write("c.csv", "id,at,v\n1,2026-03-02T10:00:00Z,5\n2,2026-03-10T10:00:00Z,1\n");
    let out = kpiblend(dir.path(), &trend);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(!stderr(&out).contains("no time"), "{}", stderr(&out));
}

/// When a period's divisor is 0 over all its groups, shares are undefined: no mix and rate
/// are given, and the change is left over with that cause (red team: `±0` and `+0.5`).
#[test]
fn explain_change_gives_no_split_when_a_periods_divisor_is_zero() {
    let dir = TempDir::new("insight-zero-volume");
    dir.write(
        "z.csv",
        "t,g,v,w\n2026-03-02T10:00:00Z,a,5,\n2026-03-02T10:00:00Z,b,3,2\n2026-03-02T10:00:00Z,b,4,-2\n\
         2026-03-09T10:00:00Z,a,6,1\n2026-03-09T10:00:00Z,b,2,3\n",
    );
    dir.write("z.kpi", "dataset d = csv(\"z.csv\") { w: int }\ndim g = d.g\nkpi sd = safe_div(sum(d.v), sum(d.w), 0)\n");
    let args = ["explain-change", "z.kpi", "--kpi", "sd", "--by", "g", "--from", "2026-03-09"];
    let args = [&args[..], &["--to", "2026-03-10", "--vs", "2026-03-02", "2026-03-03"]].concat();
    let e = json(&dir, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(e["residual_causes"], serde_json::json!(["no_volume"]), "{e}");
    assert_eq!(
        (e["mix"].as_f64(), e["rate"].as_f64(), e["residual"].as_f64()),
        (Some(0.0), Some(0.0), Some(2.0)),
        "{e}"
    );
    let text = stdout(&kpiblend(dir.path(), &args));
    assert!(!text.contains("due to mix") && text.contains("weigh nothing"), "{text}");
}

/// Notes outside the period asked for are left out, as its rows are, in the scorecard and
/// in a trend (red team: a trend to 2026-03-16 listed a note of 2026-03-28 in a period it
/// did not show).
#[test]
fn notes_outside_the_period_are_left_out() {
    let root = crate::support::root();
    let run = |args: &[&str]| {
        stdout(&kpiblend(
            &root,
            &[&["eval", "examples/contact_center.kpi", "--kpi", "aht"][..], args].concat(),
        ))
    };
    assert!(run(&[]).contains("note 2026-03-14"));
    assert!(run(&["--from", "2026-03-01", "--to", "2026-03-15"]).contains("note 2026-03-14"));
    assert!(!run(&["--from", "2026-03-15"]).contains("note 2026-03-14"));
    assert!(!run(&["--to", "2026-03-14"]).contains("note 2026-03-14"));
    let trend = run(&["--trend", "week", "--to", "2026-03-09", "--format", "json"]);
    assert!(trend.contains("\"notes\": []"), "{trend}");
    assert!(run(&["--trend", "week", "--format", "json"]).contains("billing outage"));
}

#!/usr/bin/env python3
"""Cross-checks `kpiblend eval examples/contact_center.kpi` against DuckDB.

Every KPI of examples/contact_center.kpi is written again here in SQL, independently of
kpiblend's code, from the definitions alone:

    kpi contacts = count(calls)
    kpi handled  = count(calls where not calls.abandoned)
    kpi aht      = avg(calls.talk_s + calls.hold_s + calls.acw_s where not calls.abandoned)
    ...

DuckDB reads the CSV files with explicit column types, surveys reach calls through a
LEFT JOIN (many surveys to one call; a survey whose contact_id has no call gets NULL call
columns), percentiles use quantile_cont, and the correlation over agents is DuckDB's corr()
over the per-agent KPI values. Blend scores, verdicts and KPI statuses are then derived in
Python from the SQL values and the targets written in the KPI file.

Usage:
    crosscheck.py --data DIR --results DIR [--label TEXT]

`--data` holds calls.csv and surveys.csv; `--results` holds kpiblend's JSON output, one file
per evaluation in EVALUATIONS (NAME.json), as `crosscheck.sh` writes them.

Exit status 0 when every value matches (relative difference <= 1e-9, identical nulls,
identical groups in the same order), 1 otherwise.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import duckdb

REL_TOL = 1e-9

# --- the definitions of examples/contact_center.kpi, in SQL ----------------------------------

# dim site = calls.site; dim agent = calls.agent_id; dim queue = calls.queue;
# dim week = week(calls.started_at)  (the Monday starting the ISO week, a date)
DIMS = {
    "site": "c.site",
    "agent": "c.agent_id",
    "queue": "c.queue",
    "week": "CAST(date_trunc('week', c.started_at) AS DATE)",
}

NOT_ABANDONED = "NOT c.abandoned"
HANDLE = "c.talk_s + c.hold_s + c.acw_s"

# rate(x where c) = share of true among rows where c is true and x is not null: avg of x as
# 0/1 skips nulls exactly like that.
CALLS_KPIS = {
    "contacts": "count(*)",
    "handled": f"count(*) FILTER (WHERE {NOT_ABANDONED})",
    "aht": f"avg({HANDLE}) FILTER (WHERE {NOT_ABANDONED})",
    "fcr": f"avg(CAST(c.resolved_first_contact AS INTEGER)) FILTER (WHERE {NOT_ABANDONED})",
    # param answer_within = 20s
    "service_level": "avg(CAST((NOT c.abandoned AND c.wait_s <= 20) AS INTEGER))",
    "asa": f"avg(c.wait_s) FILTER (WHERE {NOT_ABANDONED})",
    "abandonment": "avg(CAST(c.abandoned AS INTEGER))",
    "p90_wait": "quantile_cont(c.wait_s, 0.9)",
    "escalation_rate": f"avg(CAST(c.escalated AS INTEGER)) FILTER (WHERE {NOT_ABANDONED})",
    # sum(calls.cost) / handled; division by zero is null
    "cost_per_contact": (
        f"CAST(sum(c.cost) AS DOUBLE) / NULLIF(count(*) FILTER (WHERE {NOT_ABANDONED}), 0)"
    ),
    "weighted_volume": (
        "sum(CASE c.complexity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 ELSE 4 END)"
    ),
}

SURVEY_KPIS = {
    "csat": "avg(s.csat)",
    # not a KPI: the sample size behind csat, for its `min 30`
    "csat_n": "count(s.csat)",
    "csat_escalated": "avg(s.csat) FILTER (WHERE c.escalated)",
    # 100 * (rate(nps >= 9) - rate(nps <= 6)), both over the non-null nps answers
    "nps": (
        "100 * (avg(CAST(s.nps >= 9 AS INTEGER)) - avg(CAST(s.nps <= 6 AS INTEGER)))"
    ),
    "ces": "avg(s.ces)",
}

# Counts are 0 in a group that has no row of their dataset; everything else is null there.
COUNTS = {"contacts", "handled", "csat_n"}

KPIS = [
    "contacts", "handled", "aht", "fcr", "service_level", "asa", "abandonment", "p90_wait",
    "escalation_rate", "cost_per_contact", "weighted_volume", "csat", "csat_escalated", "nps",
    "ces", "speed_vs_satisfaction",
]

# target, warn, min: (op, value)
TARGETS = {
    "aht": (("<=", 360.0), ("<=", 420.0), None),
    "fcr": ((">=", 0.75), (">=", 0.70), None),
    "service_level": ((">=", 0.80), None, None),
    "asa": (("<=", 30.0), None, None),
    "abandonment": (("<=", 0.05), None, None),
    "escalation_rate": (("<=", 0.10), None, None),
    "cost_per_contact": (("<=", 6.50), None, None),
    "csat": ((">=", 4.2), None, 30),
    "csat_escalated": ((">=", 3.8), None, None),
    "nps": ((">=", 30.0), None, None),
    "ces": ((">=", 5.0), None, None),
}

# blend NAME = components (weights) guard (kpi, op, value)
BLENDS = {
    "aht_with_csat": (["aht", "csat"], [0.5, 0.5], [("csat", ">=", 4.2)]),
    "effectiveness": (["fcr", "nps"], [0.6, 0.4], [("fcr", ">=", 0.70)]),
    "access": (
        ["service_level", "abandonment", "csat"],
        [1 / 3, 1 / 3, 1 / 3],
        [("csat", ">=", 4.0)],
    ),
}

# The evaluations compared: name, kpiblend's --by and --where, and the same filter in SQL
# (applied to calls, and to surveys through the join: a survey without a call is dropped,
# as its condition is null).
EVALUATIONS = [
    ("all", [], None, None),
    ("site", ["site"], None, None),
    ("agent", ["agent"], None, None),
    ("week", ["week"], None, None),
    ("site,week", ["site", "week"], None, None),
    ("queue,agent", ["queue", "agent"], None, None),
    ("voice", [], 'calls.channel == "voice"', "c.channel = 'voice'"),
    ("voice-by-site", ["site"], 'calls.channel == "voice"', "c.channel = 'voice'"),
    # null for calls without an agent: those rows are dropped
    ("not-A001-by-week", ["week"], 'calls.agent_id != "A001"', "c.agent_id <> 'A001'"),
]


# --- SQL ---------------------------------------------------------------------------------------


def load(con, data):
    calls = (data / "calls.csv").as_posix()
    surveys = (data / "surveys.csv").as_posix()
    con.execute(f"""
        CREATE TABLE calls_raw AS SELECT * FROM read_csv('{calls}', header = true,
            auto_detect = false, quote = '"', escape = '"', delim = ',',
            columns = {{
                'contact_id': 'BIGINT', 'started_at': 'VARCHAR', 'channel': 'VARCHAR',
                'queue': 'VARCHAR', 'site': 'VARCHAR', 'team': 'VARCHAR',
                'agent_id': 'VARCHAR', 'wait_s': 'INTEGER', 'talk_s': 'INTEGER',
                'hold_s': 'INTEGER', 'acw_s': 'INTEGER', 'abandoned': 'BOOLEAN',
                'transferred': 'BOOLEAN', 'escalated': 'BOOLEAN',
                'resolved_first_contact': 'BOOLEAN', 'repeat_7d': 'BOOLEAN',
                'cost': 'DECIMAL(18,2)', 'complexity': 'VARCHAR',
                'disposition_note': 'VARCHAR'
            }})
    """)
    # Timestamps are written as UTC with a `Z`.
    con.execute("""
        CREATE TABLE calls AS SELECT * REPLACE (
            strptime(started_at, '%Y-%m-%dT%H:%M:%SZ') AS started_at) FROM calls_raw
    """)
    con.execute(f"""
        CREATE TABLE surveys AS SELECT * FROM read_csv('{surveys}', header = true,
            auto_detect = false, delim = ',',
            columns = {{
                'survey_id': 'BIGINT', 'contact_id': 'BIGINT', 'csat': 'INTEGER',
                'nps': 'INTEGER', 'ces': 'INTEGER'
            }})
    """)
    dup = con.execute(
        "SELECT count(*) - count(DISTINCT contact_id) FROM calls"
    ).fetchone()[0]
    if dup:
        sys.exit(f"calls.csv has {dup} duplicate contact_id values: the link needs unique keys")
    counts = con.execute("""
        SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM surveys),
               (SELECT count(*) FROM surveys s LEFT JOIN calls c USING (contact_id)
                 WHERE c.contact_id IS NULL),
               (SELECT count(*) FROM calls WHERE agent_id IS NULL)
    """).fetchone()
    return counts


def norm_key(v):
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def norm_value(v):
    if v is None:
        return None
    v = float(v)
    # DuckDB's corr() gives NaN for fewer than two pairs or no variance; the definitions say
    # a division by zero is null.
    return None if math.isnan(v) else v


def where_clause(where):
    return f" WHERE {where}" if where else ""


def grouped(con, dims, kpis, source, where):
    cols = [f"{DIMS[d]} AS d{i}" for i, d in enumerate(dims)]
    cols += [f"{expr} AS \"{name}\"" for name, expr in kpis.items()]
    sql = f"SELECT {', '.join(cols)} FROM {source}{where_clause(where)}"
    if dims:
        sql += " GROUP BY ALL"
    out = {}
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    for row in cur.fetchall():
        key = tuple(norm_key(v) for v in row[: len(dims)])
        out[key] = {n: norm_value(v) for n, v in zip(names[len(dims):], row[len(dims):])}
    return out


CALLS_FROM = "calls c"
SURVEYS_FROM = "surveys s LEFT JOIN calls c ON s.contact_id = c.contact_id"


def correlation(con, dims, where):
    """corr(aht, csat) over agent: per (dims, agent) group the two KPIs, then corr() across
    the agent groups of each dims group, over the groups where both are non-null."""
    dcols = [f"{DIMS[d]} AS d{i}" for i, d in enumerate(dims)]
    inner = ", ".join(dcols + ["c.agent_id AS corr_agent"])
    on = " AND ".join(
        [f"a.d{i} IS NOT DISTINCT FROM b.d{i}" for i in range(len(dims))]
        + ["a.corr_agent IS NOT DISTINCT FROM b.corr_agent"]
    )
    outer = ", ".join([f"a.d{i}" for i in range(len(dims))] + ["corr(a.aht, b.csat)"])
    sql = f"""
        WITH a AS (SELECT {inner}, {CALLS_KPIS['aht']} AS aht
                   FROM {CALLS_FROM}{where_clause(where)} GROUP BY ALL),
             b AS (SELECT {inner}, {SURVEY_KPIS['csat']} AS csat
                   FROM {SURVEYS_FROM}{where_clause(where)} GROUP BY ALL)
        SELECT {outer} FROM a JOIN b ON {on}
    """
    if dims:
        sql += " GROUP BY ALL"
    out = {}
    for row in con.execute(sql).fetchall():
        out[tuple(norm_key(v) for v in row[: len(dims)])] = norm_value(row[len(dims)])
    return out


def expected(con, dims, where):
    calls = grouped(con, dims, CALLS_KPIS, CALLS_FROM, where)
    surveys = grouped(con, dims, SURVEY_KPIS, SURVEYS_FROM, where)
    corr = correlation(con, dims, where)
    keys = set(calls) | set(surveys)
    if not dims:
        keys = {()}
    out = {}
    for key in keys:
        values = {}
        for part in (calls, surveys):
            names = CALLS_KPIS if part is calls else SURVEY_KPIS
            row = part.get(key)
            for name in names:
                if row is None:
                    values[name] = 0.0 if name in COUNTS else None
                else:
                    values[name] = row[name]
        values["speed_vs_satisfaction"] = corr.get(key)
        out[key] = values
    return out


# --- statuses and blends, from the SQL values ----------------------------------------------


def holds(op, value, bound):
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound,
            ">": value > bound}[op]


def status(name, values):
    spec = TARGETS.get(name)
    if spec is None:
        return "none"
    target, warn, min_n = spec
    v = values[name]
    if v is None:
        return "insufficient"
    if min_n is not None and values[f"{name}_n"] < min_n:
        return "insufficient"
    if holds(target[0], v, target[1]):
        return "ok"
    if warn is not None and holds(warn[0], v, warn[1]):
        return "warn"
    return "fail"


def component_score(v, op, t):
    if op in (">=", ">"):
        ratio = v / t
    elif v <= 0:
        ratio = 1.0
    else:
        ratio = t / v
    return 100.0 * min(max(ratio, 0.0), 1.0)


def blend(name, values):
    comps, weights, guard = BLENDS[name]
    scores = []
    for k in comps:
        if values[k] is None or status(k, values) == "insufficient":
            return None, "insufficient"
        op, t = TARGETS[k][0]
        scores.append(component_score(values[k], op, t))
    for k, _, _ in guard:
        if values[k] is None or status(k, values) == "insufficient":
            return None, "insufficient"
    if not all(holds(op, values[k], b) for k, op, b in guard):
        return 0.0, "breach"
    return sum(w * s for w, s in zip(weights, scores)), "pass"


# --- comparison --------------------------------------------------------------------------------


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def sort_key(key):
    # null last, then by value (text by code point, dates as ISO text)
    return tuple((k is None, "" if k is None else k) for k in key)


class Tally:
    def __init__(self):
        self.compared = 0
        self.mismatches = []

    def check(self, where, what, got, want):
        self.compared += 1
        if isinstance(got, str) or isinstance(want, str):
            ok = got == want
        else:
            ok = same(got, want)
        if not ok:
            self.mismatches.append((where, what, got, want))


def cells_by_name(report, row):
    out = {}
    for meta, cell in zip(report["items"], row["cells"]):
        out[meta["name"]] = cell
    return out


def compare_row(tally, where, cells, values):
    for name in KPIS:
        cell = cells.get(name)
        if cell is None:
            tally.mismatches.append((where, name, "missing", "present"))
            continue
        tally.check(where, name, cell["value"], values[name])
        tally.check(where, f"{name}.status", cell["status"], status(name, values))
    # the sample size that `min 30` is compared with
    if "csat" in cells:
        tally.check(where, "csat.n", float(cells["csat"]["n"]), values["csat_n"])
    for name in BLENDS:
        cell = cells.get(name)
        if cell is None:
            tally.mismatches.append((where, name, "missing", "present"))
            continue
        score, verdict = blend(name, values)
        tally.check(where, f"{name}.score", cell["score"], score)
        tally.check(where, f"{name}.verdict", cell["verdict"], verdict)


def compare(report, label, dims, want, total, tally):
    got_dims = [d["name"] for d in report["by"]]
    if got_dims != dims:
        tally.mismatches.append((label, "by", got_dims, dims))
        return 0
    rows = report["rows"]
    got_keys = [tuple(r["key"]) for r in rows]
    want_keys = sorted(want, key=sort_key)
    tally.compared += 1
    if got_keys != want_keys:
        missing = set(want_keys) - set(got_keys)
        extra = set(got_keys) - set(want_keys)
        what = "group order" if not missing and not extra else "groups"
        tally.mismatches.append(
            (label, what, f"{len(got_keys)} groups, extra {sorted(extra, key=sort_key)[:5]}",
             f"{len(want_keys)} groups, missing {sorted(missing, key=sort_key)[:5]}")
        )
    for row in rows:
        key = tuple(row["key"])
        if key in want:
            compare_row(tally, f"{label} {list(key)}", cells_by_name(report, row), want[key])
    if dims:
        if report.get("total") is None:
            tally.mismatches.append((label, "total", None, "a total row"))
        else:
            compare_row(tally, f"{label} total", cells_by_name(report, report["total"]), total)
    return len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true",
                    help="print NAME|BY|WHERE for each evaluation, for crosscheck.sh")
    ap.add_argument("--data", type=Path)
    ap.add_argument("--results", type=Path)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if args.list:
        for name, dims, where, _ in EVALUATIONS:
            print(f"{name}|{','.join(dims)}|{where or ''}")
        return 0
    if args.data is None or args.results is None:
        ap.error("--data and --results are required")

    con = duckdb.connect()
    n_calls, n_surveys, orphans, no_agent = load(con, args.data)
    label = args.label or args.data.name
    print(f"{label}: {n_calls} calls ({no_agent} without agent), {n_surveys} surveys "
          f"({orphans} with an unknown contact_id); duckdb {duckdb.__version__}")

    summary = []
    all_mismatches = []
    for name, dims, _, where in EVALUATIONS:
        report = json.loads((args.results / f"{name}.json").read_text())
        tally = Tally()
        total = expected(con, [], where)[()]
        groups = compare(report, name, dims, expected(con, dims, where), total, tally)
        summary.append((name, groups, tally.compared, len(tally.mismatches)))
        all_mismatches += tally.mismatches

    width = max(len(s[0]) for s in summary)
    print(f"  {'evaluation':<{width}}  {'groups':>7}  {'compared':>9}  {'mismatches':>10}")
    for name, groups, compared, bad in summary:
        print(f"  {name:<{width}}  {groups:>7}  {compared:>9}  {bad:>10}")
    compared = sum(s[2] for s in summary)
    print(f"  {'total':<{width}}  {sum(s[1] for s in summary):>7}  {compared:>9}  "
          f"{len(all_mismatches):>10}")
    for where, what, got, want in all_mismatches[:40]:
        print(f"  MISMATCH {where} {what}: kpiblend {got!r}, duckdb {want!r}")
    if len(all_mismatches) > 40:
        print(f"  ... and {len(all_mismatches) - 40} more")
    return 1 if all_mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The examples/contact_center.kpi suite in DuckDB SQL, as one process over the CSV files.

    duckdb_suite.py --calls calls.csv --surveys surveys.csv [--by agent] --out result.json

Every KPI is written in SQL from the definitions in the .kpi file (SQL null semantics: an
aggregate skips nulls, `x where c` is a FILTER, `rate(x)` is the mean of x as 0/1 over the
rows where x is not null). Surveys reach calls through a LEFT JOIN on contact_id (orphan
surveys get null call columns, so they land in the null agent group). Only the calls
columns the KPIs reference are loaded (DuckDB still has to tokenise the others). DuckDB
runs with its defaults (all cores, memory limit 80% of RAM). Blend scores come from
common.py. Result format: see common.py.
"""

import argparse
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

NA = "NOT c.abandoned"
CALLS_KPIS = {
    "contacts": "count(*)",
    "handled": f"count(*) FILTER (WHERE {NA})",
    "aht": f"avg(c.talk_s + c.hold_s + c.acw_s) FILTER (WHERE {NA})",
    "fcr": f"avg(c.resolved_first_contact::INTEGER) FILTER (WHERE {NA})",
    "service_level": "avg((NOT c.abandoned AND c.wait_s <= 20)::INTEGER)",
    "asa": f"avg(c.wait_s) FILTER (WHERE {NA})",
    "abandonment": "avg(c.abandoned::INTEGER)",
    "p90_wait": "quantile_cont(c.wait_s, 0.9)",
    "escalation_rate": f"avg(c.escalated::INTEGER) FILTER (WHERE {NA})",
    "cost_per_contact": f"sum(c.cost) / nullif(count(*) FILTER (WHERE {NA}), 0)",
    "weighted_volume":
        "sum(CASE c.complexity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 ELSE 4 END)",
}
SURVEY_KPIS = {
    "csat": "avg(s.csat)",
    "csat_n": "count(s.csat)",
    "csat_escalated": "avg(s.csat) FILTER (WHERE c.escalated)",
    "nps": "100 * (avg((s.nps >= 9)::INTEGER) - avg((s.nps <= 6)::INTEGER))",
    "ces": "avg(s.ces)",
}
AHT = CALLS_KPIS["aht"]


def load(con, calls, surveys):
    # Types for the referenced columns; the others are left to the sniffer (the extra text
    # columns variant has more of them) and are not kept.
    con.execute(f"""
        CREATE TEMP TABLE calls AS
        SELECT contact_id, agent_id, wait_s, talk_s, hold_s, acw_s, abandoned, escalated,
               resolved_first_contact, cost, complexity
        FROM read_csv('{calls}', header = true, delim = ',', quote = '"', escape = '"',
            types = {{'contact_id': 'BIGINT', 'agent_id': 'VARCHAR', 'wait_s': 'INTEGER',
                      'talk_s': 'INTEGER', 'hold_s': 'INTEGER', 'acw_s': 'INTEGER',
                      'abandoned': 'BOOLEAN', 'escalated': 'BOOLEAN',
                      'resolved_first_contact': 'BOOLEAN', 'cost': 'DOUBLE',
                      'complexity': 'VARCHAR'}})
    """)
    con.execute(f"""
        CREATE TEMP VIEW surveys AS
        SELECT * FROM read_csv('{surveys}', header = true, delim = ',',
            columns = {{'survey_id': 'BIGINT', 'contact_id': 'BIGINT', 'csat': 'INTEGER',
                        'nps': 'INTEGER', 'ces': 'INTEGER'}})
    """)


def select(exprs):
    return ", ".join(f'{e} AS "{n}"' for n, e in exprs.items())


SURVEYS_FROM = "surveys s LEFT JOIN calls c ON s.contact_id = c.contact_id"


def fetch(con, sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def ungrouped(con):
    calls = fetch(con, f"SELECT {select(CALLS_KPIS)} FROM calls c")[0]
    surveys = fetch(con, f"SELECT {select(SURVEY_KPIS)} FROM {SURVEYS_FROM}")[0]
    # corr(aht, csat) over agent: the per-agent KPIs, paired by agent (the null agent is a
    # group too), correlated over the agents where both are non-null.
    corr = fetch(con, f"""
        WITH a AS (SELECT c.agent_id, {AHT} AS aht FROM calls c GROUP BY c.agent_id),
             b AS (SELECT c.agent_id, avg(s.csat) AS csat FROM {SURVEYS_FROM}
                   GROUP BY c.agent_id)
        SELECT corr(a.aht, b.csat) AS r
        FROM a JOIN b ON a.agent_id IS NOT DISTINCT FROM b.agent_id
    """)[0]["r"]
    return [((), {**calls, **surveys, "speed_vs_satisfaction": corr})]


def by_agent(con):
    # One pass per dataset for the agent groups and the total (GROUPING SETS).
    con.execute(f"""
        CREATE TEMP TABLE ck AS
        SELECT c.agent_id, grouping(c.agent_id) AS is_total, {select(CALLS_KPIS)}
        FROM calls c GROUP BY GROUPING SETS ((c.agent_id), ())
    """)
    con.execute(f"""
        CREATE TEMP TABLE sk AS
        SELECT c.agent_id, grouping(c.agent_id) AS is_total, {select(SURVEY_KPIS)}
        FROM {SURVEYS_FROM} GROUP BY GROUPING SETS ((c.agent_id), ())
    """)
    # Within an agent group, `over agent` ranges over that one agent; the total ranges
    # over all agent groups.
    rows = fetch(con, """
        WITH per_agent AS (
            SELECT coalesce(ck.agent_id, sk.agent_id) AS agent_id, ck.aht, sk.csat
            FROM (SELECT * FROM ck WHERE is_total = 0) ck
            FULL JOIN (SELECT * FROM sk WHERE is_total = 0) sk
              ON ck.agent_id IS NOT DISTINCT FROM sk.agent_id),
        corr AS (
            SELECT agent_id, 0 AS is_total, corr(aht, csat) AS speed_vs_satisfaction
            FROM per_agent GROUP BY agent_id
            UNION ALL
            SELECT NULL, 1, corr(aht, csat) FROM per_agent)
        SELECT * EXCLUDE (agent_id, is_total),
               coalesce(ck.agent_id, sk.agent_id) AS key_agent,
               coalesce(ck.is_total, sk.is_total) AS key_total
        FROM ck FULL JOIN sk ON ck.agent_id IS NOT DISTINCT FROM sk.agent_id
                            AND ck.is_total = sk.is_total
        JOIN corr ON corr.agent_id IS NOT DISTINCT FROM coalesce(ck.agent_id, sk.agent_id)
                 AND corr.is_total = coalesce(ck.is_total, sk.is_total)
    """)
    groups, total = [], None
    for row in rows:
        agent, is_total = row.pop("key_agent"), row.pop("key_total")
        if is_total:
            total = row
        else:
            groups.append(((agent,), row))
    # kpiblend's order: by key, null keys last
    groups.sort(key=lambda g: (g[0][0] is None, g[0][0] or ""))
    return groups, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", required=True)
    ap.add_argument("--surveys", required=True)
    ap.add_argument("--by", choices=["agent"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    con = duckdb.connect()
    load(con, args.calls, args.surveys)
    if args.by:
        rows, total = by_agent(con)
    else:
        rows, total = ungrouped(con), None
    common.write(args.out, "duckdb", duckdb.__version__, [args.by] if args.by else [],
                 rows, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())

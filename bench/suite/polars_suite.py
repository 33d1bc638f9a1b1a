#!/usr/bin/env python3
"""The examples/contact_center.kpi suite in Polars (lazy scan_csv), as one process.

    polars_suite.py --calls calls.csv --surveys surveys.csv [--by agent] --out result.json

Every KPI is written as Polars expressions from the definitions in the .kpi file, with
SQL null semantics: aggregates skip nulls, `x where c` is `x.filter(c)` (a null condition
drops the row), `rate(x)` is the mean of x as 0/1 over the non-null x, `and` is Kleene
logic. Surveys reach calls through a left join on contact_id (orphan surveys get null call
columns, so they land in the null agent group; group_by keeps null keys as a group). All
frames are planned lazily and collected together (collect_all) so the CSV scans can be
shared; Polars runs with its defaults. Blend scores come from common.py.
"""

import argparse
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CALLS_TYPES = {
    "contact_id": pl.Int64, "agent_id": pl.String, "wait_s": pl.Int64, "talk_s": pl.Int64,
    "hold_s": pl.Int64, "acw_s": pl.Int64, "abandoned": pl.Boolean,
    "escalated": pl.Boolean, "resolved_first_contact": pl.Boolean, "cost": pl.Float64,
    "complexity": pl.String,
}
SURVEYS_TYPES = {
    "survey_id": pl.Int64, "contact_id": pl.Int64, "csat": pl.Int64, "nps": pl.Int64,
    "ces": pl.Int64,
}

col = pl.col
NA = ~col("abandoned")


def rate(x):
    return x.cast(pl.Float64).mean()


def handled():
    return NA.filter(NA).len()


def aht():
    return (col("talk_s") + col("hold_s") + col("acw_s")).filter(NA).mean()


def calls_kpis():
    n_handled = handled()
    return [
        pl.len().alias("contacts"),
        n_handled.alias("handled"),
        aht().alias("aht"),
        rate(col("resolved_first_contact").filter(NA)).alias("fcr"),
        rate(NA & (col("wait_s") <= 20)).alias("service_level"),
        col("wait_s").filter(NA).mean().alias("asa"),
        rate(col("abandoned")).alias("abandonment"),
        col("wait_s").quantile(0.9, interpolation="linear").alias("p90_wait"),
        rate(col("escalated").filter(NA)).alias("escalation_rate"),
        # sum(cost) / handled: null when there is no cost or no handled contact
        pl.when((col("cost").count() > 0) & (n_handled > 0))
        .then(col("cost").sum() / n_handled).alias("cost_per_contact"),
        pl.when(col("complexity") == "low").then(1)
        .when(col("complexity") == "medium").then(2)
        .otherwise(4).sum().alias("weighted_volume"),
    ]


def survey_kpis():
    return [
        col("csat").mean().alias("csat"),
        col("csat").count().alias("csat_n"),
        col("csat").filter(col("escalated")).mean().alias("csat_escalated"),
        (100 * (rate(col("nps") >= 9) - rate(col("nps") <= 6))).alias("nps"),
        col("ces").mean().alias("ces"),
    ]


def scan(calls_path, surveys_path):
    calls = pl.scan_csv(calls_path, schema_overrides=CALLS_TYPES).select(list(CALLS_TYPES))
    surveys = pl.scan_csv(surveys_path, schema_overrides=SURVEYS_TYPES)
    linked = surveys.join(calls.select("contact_id", "agent_id", "escalated"),
                          on="contact_id", how="left")
    return calls, linked


def per_agent_pairs(aht_by_agent, csat_by_agent):
    """aht and csat per agent group, paired by agent (null agent included)."""
    return aht_by_agent.join(csat_by_agent, on="agent_id", how="full", nulls_equal=True,
                             coalesce=True)


def correlation(pairs):
    both = pairs.drop_nulls(["aht", "csat"])
    return both.select(pl.corr("aht", "csat")).item() if both.height else None


def ungrouped(calls, linked):
    c, s, a, b = pl.collect_all([
        calls.select(calls_kpis()),
        linked.select(survey_kpis()),
        calls.group_by("agent_id").agg(aht().alias("aht")),
        linked.group_by("agent_id").agg(col("csat").mean().alias("csat")),
    ])
    values = {**c.row(0, named=True), **s.row(0, named=True)}
    values["speed_vs_satisfaction"] = correlation(per_agent_pairs(a, b))
    return [((), values)]


def by_agent(calls, linked):
    c, s, ct, st = pl.collect_all([
        calls.group_by("agent_id").agg(calls_kpis()),
        linked.group_by("agent_id").agg(survey_kpis()),
        calls.select(calls_kpis()),
        linked.select(survey_kpis()),
    ])
    groups = per_agent_pairs(c, s).sort("agent_id", nulls_last=True)
    rows = []
    for row in groups.iter_rows(named=True):
        agent = row.pop("agent_id")
        # `over agent` within one agent group ranges over that single agent
        row["speed_vs_satisfaction"] = correlation(pl.DataFrame(
            {"aht": [row["aht"]], "csat": [row["csat"]]}, schema={"aht": pl.Float64,
                                                                   "csat": pl.Float64}))
        rows.append(((agent,), row))
    total = {**ct.row(0, named=True), **st.row(0, named=True)}
    total["speed_vs_satisfaction"] = correlation(groups.select("aht", "csat"))
    return rows, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", required=True)
    ap.add_argument("--surveys", required=True)
    ap.add_argument("--by", choices=["agent"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    calls, linked = scan(args.calls, args.surveys)
    if args.by:
        rows, total = by_agent(calls, linked)
    else:
        rows, total = ungrouped(calls, linked), None
    common.write(args.out, "polars", pl.__version__, [args.by] if args.by else [],
                 rows, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())

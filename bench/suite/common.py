"""Shared by the DuckDB and Polars versions of the examples/contact_center.kpi suite.

The KPI formulas themselves live in duckdb_suite.py (SQL) and polars_suite.py (Polars
expressions); this module holds what both need afterwards: the targets, the blends
(scores computed from the KPI values, exactly as the .kpi file defines them), and the
common JSON result format that compare.py reads:

    {"tool": "duckdb", "version": "...", "by": [] | ["agent"],
     "rows": [{"key": [...], "values": {"contacts": 5000.0, ..., "aht_with_csat": 90.1}}],
     "total": {"key": [], "values": {...}} | null}
"""

import json
import math

# The KPIs of examples/contact_center.kpi, in file order.
KPIS = [
    "contacts", "handled", "aht", "fcr", "service_level", "asa", "abandonment", "p90_wait",
    "escalation_rate", "cost_per_contact", "weighted_volume", "csat", "csat_escalated", "nps",
    "ces", "speed_vs_satisfaction",
]
# Counts are 0 (not null) in a group without rows of their dataset.
COUNTS = {"contacts", "handled", "csat_n"}

# kpi -> (op, target); `min` sample sizes (csat has `min 30`, compared with its count).
TARGETS = {
    "aht": ("<=", 360.0),            # 6m
    "fcr": (">=", 0.75),
    "service_level": (">=", 0.80),
    "asa": ("<=", 30.0),
    "abandonment": ("<=", 0.05),
    "escalation_rate": ("<=", 0.10),
    "cost_per_contact": ("<=", 6.50),
    "csat": (">=", 4.2),
    "csat_escalated": (">=", 3.8),
    "nps": (">=", 30.0),
    "ces": (">=", 5.0),
}
MIN_N = {"csat": ("csat_n", 30)}

# blend name -> (components, weights, guards)
BLENDS = {
    # blend aht with csat guard csat >= 4.2
    "aht_with_csat": (["aht", "csat"], [0.5, 0.5], [("csat", ">=", 4.2)]),
    # blend effectiveness = fcr with nps weights 60%, 40% guard fcr >= 70%
    "effectiveness": (["fcr", "nps"], [0.6, 0.4], [("fcr", ">=", 0.70)]),
    # blend access = service_level with abandonment with csat guard csat >= 4.0
    "access": (["service_level", "abandonment", "csat"], [1 / 3, 1 / 3, 1 / 3],
               [("csat", ">=", 4.0)]),
}


def number(v):
    """A result value as float or None (NaN, e.g. a correlation of fewer than two points,
    is null: the definitions say a division by zero is null)."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def _holds(op, value, bound):
    return value >= bound if op == ">=" else value <= bound


def _sufficient(name, values):
    if values.get(name) is None:
        return False
    if name in MIN_N:
        count_name, min_n = MIN_N[name]
        return (values.get(count_name) or 0) >= min_n
    return True


def component_score(value, op, target):
    """100 * min(value/target, 1) for `>=` targets, 100 * min(target/value, 1) for `<=`."""
    if op == ">=":
        ratio = value / target
    elif value <= 0:
        ratio = 1.0
    else:
        ratio = target / value
    return 100.0 * min(max(ratio, 0.0), 1.0)


def blend_score(name, values):
    """The blend's score: null when a component or guard KPI is insufficient, 0 on a breach
    of the guard, else the weighted mean of the component scores."""
    comps, weights, guards = BLENDS[name]
    if not all(_sufficient(k, values) for k in comps + [g[0] for g in guards]):
        return None
    if not all(_holds(op, values[k], bound) for k, op, bound in guards):
        return 0.0
    scores = [component_score(values[k], *TARGETS[k]) for k in comps]
    return sum(w * s for w, s in zip(weights, scores))


def finish(values):
    """Normalise one group's KPI values and add the blend scores."""
    out = {k: number(v) for k, v in values.items()}
    for k in COUNTS:
        if out.get(k) is None:
            out[k] = 0.0
    for name in BLENDS:
        out[name] = blend_score(name, out)
    return out


def write(path, tool, version, by, rows, total):
    """rows: list of (key tuple, values dict); total: values dict or None."""
    doc = {
        "tool": tool,
        "version": version,
        "by": by,
        "rows": [{"key": list(k), "values": finish(v)} for k, v in rows],
        "total": None if total is None else {"key": [], "values": finish(total)},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)

#!/usr/bin/env python3
"""Checks that kpiblend, DuckDB and Polars computed the same suite.

    compare.py --label TEXT --kpiblend K.json --other duckdb=D.json --other polars=P.json
               [--summary FILE]

kpiblend's JSON (docs/json.md: rows[].key, rows[].cells[].value for KPIs and .score for
blends, total when grouped) is compared with each other tool's result (common.py format):
the same groups in the same order (null keys last), every KPI value and blend score equal
within a relative difference of 1e-9, nulls identical, and the total row. Prints every
mismatch; appends one JSON line per comparison to --summary. Exit status 1 on a mismatch.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REL_TOL = 1e-9
ITEMS = common.KPIS + list(common.BLENDS)


def kpiblend_rows(doc):
    """kpiblend JSON -> (list of (key, {item: value}), total or None)."""
    names = [item["name"] for item in doc["items"]]

    def values(row):
        out = {}
        for name, cell in zip(names, row["cells"]):
            out[name] = cell["score"] if "score" in cell else cell.get("value")
        return out

    rows = [(tuple(r["key"]), values(r)) for r in doc["rows"]]
    total = values(doc["total"]) if doc.get("total") else None
    return rows, total


def other_rows(doc):
    rows = [(tuple(r["key"]), r["values"]) for r in doc["rows"]]
    total = doc["total"]["values"] if doc.get("total") else None
    return rows, total


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def compare(kb, other):
    """-> (number of values compared, list of (group, item, kpiblend value, other value))."""
    mismatches = []
    compared = 0
    kb_rows, kb_total = kb
    ot_rows, ot_total = other
    kb_keys = [k for k, _ in kb_rows]
    ot_keys = [k for k, _ in ot_rows]
    if kb_keys != ot_keys:
        mismatches.append(("groups", "keys", kb_keys, ot_keys))
    pairs = []
    ot_by_key = dict(ot_rows)
    for key, values in kb_rows:
        if key in ot_by_key:
            pairs.append((list(key), values, ot_by_key[key]))
    if (kb_total is None) != (ot_total is None):
        mismatches.append(("total", "presence", kb_total is not None, ot_total is not None))
    elif kb_total is not None:
        pairs.append(("total", kb_total, ot_total))
    for group, a, b in pairs:
        for item in ITEMS:
            compared += 1
            if item not in a:
                mismatches.append((group, item, "missing", b.get(item)))
            elif not same(a[item], b.get(item)):
                mismatches.append((group, item, a[item], b.get(item)))
    return compared, mismatches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--kpiblend", required=True, type=Path)
    ap.add_argument("--other", action="append", default=[], metavar="TOOL=FILE")
    ap.add_argument("--summary", type=Path)
    args = ap.parse_args()
    kb = kpiblend_rows(json.loads(args.kpiblend.read_text()))
    status = 0
    for spec in args.other:
        tool, path = spec.split("=", 1)
        record = {"label": args.label, "tool": tool}
        try:
            other = other_rows(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as e:
            record.update(error=f"no result: {e}", compared=0, mismatches=[])
            print(f"{args.label}: {tool}: no result ({e})")
            status = 1
        else:
            compared, mismatches = compare(kb, other)
            record.update(compared=compared, groups=len(kb[0]),
                          mismatches=[[str(g), i, a, b] for g, i, a, b in mismatches])
            verdict = "all equal" if not mismatches else f"{len(mismatches)} MISMATCHES"
            print(f"{args.label}: kpiblend vs {tool}: {len(kb[0])} groups, "
                  f"{compared} values, {verdict}")
            for g, i, a, b in mismatches[:30]:
                print(f"  MISMATCH {g} {i}: kpiblend {a!r}, {tool} {b!r}")
            if mismatches:
                status = 1
        if args.summary:
            with args.summary.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())

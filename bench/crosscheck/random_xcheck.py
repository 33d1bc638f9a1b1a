#!/usr/bin/env python3
"""Random cross-check of `kpiblend eval` against DuckDB.

For each case (seeded, reproducible) this script generates

  * one CSV table `t` (text column `g`, number columns `a b c`, bool column `f`), or,
    sometimes, two tables where `t.k -> u.id` links many rows of `t` to one row of `u`
    (`u` has `h` text, `y` number, `e` bool); nulls, zero rows, all-null and all-equal
    columns, groups whose values of a column are all null;
  * a .kpi file with declared column types, a `dim g = ...` and 3-8 random KPIs built from
    count / count(x) / count_distinct / sum / avg / min / max / median / percentile /
    stddev / rate, `where` filters, arithmetic between aggregates, coalesce, case, abs,
    round, safe_div, references to other KPIs.

It evaluates the file with `kpiblend eval FILE --format json`, `--by g` and sometimes
`--where COND`, and computes the same values with DuckDB SQL written from the semantics
in docs/language.md (read_csv with explicit types, LEFT JOIN for links, GROUP BY, FILTER
(WHERE ...), quantile_cont, stddev_samp, NULLIF for division by zero, ...). Every value
(both null, or relative difference <= 1e-9, with an absolute floor of 1e-9 for float
noise around zero), the set of groups and their order (by key, null last) are compared.

Usage:
    random_xcheck.py --seed S --cases N [--kpiblend PATH] [--keep] [--out DIR] [-v]

Exit status 0 when nothing mismatched, 1 otherwise. Failing cases are kept under --out
(default ./xcheck-cases) with a `case.json` describing the mismatch.
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb

REL_TOL = 1e-9
ABS_TOL = 1e-9
# --accept-safe-div-default: translate safe_div(null, 0, d) as d (what kpiblend does) instead
# of null (what docs/language.md says), so the known difference does not hide others.
SAFE_DIV_DEFAULT_WINS = False
DUCKDB_STDDEV = False
CHECK_N = False
DUCKDB_ROUND = False
DUCKDB_QUANTILE = False

HERE = Path(__file__).resolve().parent
DEFAULT_KPIBLEND = os.environ.get(
    "KPIBLEND", str(Path(__file__).resolve().parents[2] / "target" / "release" / "kpiblend")
)

# ----------------------------------------------------------------------------------------
#  Expression trees. A node is a tuple whose first element is its kind:
#    ("col", ds, name, ty)         ("lit", value, ty)       ("dim",)
#    ("bin", op, l, r)             ("neg", x)               ("not", x)
#    ("isnull", x, negated)        ("in", x, [lits], negated)
#    ("func", name, [args])        ("case", operand|None, [(w, t)], else|None)
#    ("agg", func, arg|None, filter|None, q|None, root, idx, ds_for_count, qtext, qpos)
#    ("kref", name)
#  ty is one of "num", "text", "bool".
# ----------------------------------------------------------------------------------------

PREC = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<>": 4, "<": 4, "<=": 4, ">": 4,
        ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6}
CMP = {"==", "!=", "<>", "<", "<=", ">", ">="}
SQL_OP = {"==": "=", "!=": "<>", "<>": "<>", "and": "AND", "or": "OR"}
COUNTISH = {"count_rows", "count", "count_distinct"}


def prec(n):
    k = n[0]
    if k == "bin":
        return PREC[n[1]]
    if k == "not":
        return 3
    if k in ("isnull", "in"):
        return 4
    if k == "neg":
        return 7
    if k == "lit" and n[2] == "num" and (n[1] < 0 or (n[1] == 0 and math.copysign(1, n[1]) < 0)):
        return 7
    return 8


def fmt_num(v):
    if isinstance(v, int):
        return str(v)
    if float(v).is_integer():
        return str(int(v)) if random.random() < 0.5 else f"{v:.1f}"
    s = repr(float(v))
    assert "e" not in s, s
    return s


def q_text(q):
    """The percentile level as the language writes it."""
    pct = q * 100
    s = f"{pct:g}%"
    return s


class Renderer:
    """Renders trees as kpiblend text and as DuckDB SQL."""

    def __init__(self, rng, dim_name, dim_sql, agg_sql=None, kpi_sql=None):
        self.rng = rng
        self.dim_name = dim_name
        self.dim_sql = dim_sql
        self.agg_sql = agg_sql or {}
        self.kpi_sql = kpi_sql or {}

    # --- kpiblend text -------------------------------------------------------------------
    def kpi(self, n):
        s = self._kpi(n)
        return s

    def _wrap(self, n, need):
        s = self._kpi(n)
        if need or self.rng.random() < 0.05:
            return f"({s})"
        return s

    def _kpi(self, n):
        k = n[0]
        if k == "col":
            return f"{n[1]}.{n[2]}"
        if k == "dim":
            return self.dim_name
        if k == "lit":
            v, ty = n[1], n[2]
            if ty == "num":
                if v < 0 or (v == 0 and math.copysign(1, v) < 0):
                    return "-" + fmt_num(-v if isinstance(v, int) else abs(v))
                return fmt_num(v)
            if ty == "text":
                return json.dumps(v, ensure_ascii=False)
            if ty == "bool":
                return "true" if v else "false"
            if ty == "null":
                return "null"
        if k == "bin":
            op, l, r = n[1], n[2], n[3]
            p = PREC[op]
            ls = self._wrap(l, prec(l) < p or (op in CMP and prec(l) <= p))
            rs = self._wrap(r, prec(r) <= p)
            return f"{ls} {op} {rs}"
        if k == "neg":
            s = self._wrap(n[1], prec(n[1]) < 7)
            return "-" + (" " + s if s.startswith("-") else s)
        if k == "not":
            return "not " + self._wrap(n[1], prec(n[1]) < 3)
        if k == "isnull":
            return self._wrap(n[1], prec(n[1]) <= 4) + (" is not null" if n[2] else " is null")
        if k == "in":
            items = ", ".join(self._kpi(x) for x in n[2])
            return self._wrap(n[1], prec(n[1]) <= 4) + (" not in (" if n[3] else " in (") + items + ")"
        if k == "func":
            return f"{n[1]}(" + ", ".join(self._kpi(a) for a in n[2]) + ")"
        if k == "case":
            parts = ["case"]
            if n[1] is not None:
                parts.append(self._kpi(n[1]))
            for w, t in n[2]:
                parts += ["when", self._kpi(w), "then", self._kpi(t)]
            if n[3] is not None:
                parts += ["else", self._kpi(n[3])]
            parts.append("end")
            return " ".join(parts)
        if k == "agg":
            func, arg, filt, q, root, idx, cds, qtext, qpos = n[1:]
            where = f" where {self._kpi(filt)}" if filt is not None else ""
            if func == "count_rows":
                return f"count({cds}{where})"
            if func == "percentile":
                if qpos == 0:
                    return f"percentile({self._kpi(arg)}{where}, {qtext})"
                return f"percentile({self._kpi(arg)}, {qtext}{where})"
            return f"{func}({self._kpi(arg)}{where})"
        if k == "kref":
            return n[1]
        raise ValueError(n)

    # --- SQL -----------------------------------------------------------------------------
    def sql(self, n):
        k = n[0]
        if k == "col":
            return f"{n[1]}.{n[2]}"
        if k == "dim":
            return f"({self.dim_sql})"
        if k == "lit":
            v, ty = n[1], n[2]
            if ty == "num":
                return f"CAST({float(v)!r} AS DOUBLE)"
            if ty == "text":
                return "'" + v.replace("'", "''") + "'"
            if ty == "bool":
                return "TRUE" if v else "FALSE"
            return "NULL"
        if k == "bin":
            op, l, r = n[1], self.sql(n[2]), self.sql(n[3])
            if op == "/":
                return f"({l} / NULLIF({r}, 0))"
            return f"({l} {SQL_OP.get(op, op)} {r})"
        if k == "neg":
            return f"(-({self.sql(n[1])}))"
        if k == "not":
            return f"(NOT ({self.sql(n[1])}))"
        if k == "isnull":
            return f"(({self.sql(n[1])}) IS {'NOT ' if n[2] else ''}NULL)"
        if k == "in":
            items = ", ".join(self.sql(x) for x in n[2])
            return f"(({self.sql(n[1])}) {'NOT ' if n[3] else ''}IN ({items}))"
        if k == "func":
            name, args = n[1], [self.sql(a) for a in n[2]]
            if name == "safe_div":
                a, b, d = args
                if SAFE_DIV_DEFAULT_WINS:
                    # kpiblend's behaviour: the default wherever b is 0, even when a is null
                    return (f"(CASE WHEN ({b}) = 0 THEN ({d}) ELSE ({a}) / ({b}) END)")
                # docs/language.md: "a / b, or default where b is 0 (null where a or b is null)"
                return (f"(CASE WHEN ({a}) IS NULL OR ({b}) IS NULL THEN NULL "
                        f"WHEN ({b}) = 0 THEN ({d}) ELSE ({a}) / ({b}) END)")
            if name == "round":
                if len(args) == 1:
                    return f"CAST(round({args[0]}) AS DOUBLE)"
                # round(x, d) on a double: the docs do not say how a tie written in decimal
                # is broken. DuckDB's round(x, d) rounds the binary value (-14.85 is
                # -14.8499999... so -14.8); kpiblend scales first (-14.85 * 10 = -148.5,
                # then half away from zero: -14.9). With --duckdb-round the oracle uses
                # DuckDB's round(x, d); by default it scales as kpiblend does.
                d = int(n[2][1][1])
                if DUCKDB_ROUND:
                    return f"CAST(round({args[0]}, {d}) AS DOUBLE)"
                return f"(CAST(round(({args[0]}) * {10 ** d}.0) AS DOUBLE) / {10 ** d}.0)"
            return f"{name}(" + ", ".join(args) + ")"
        if k == "case":
            parts = ["(CASE"]
            if n[1] is not None:
                parts.append(self.sql(n[1]))
            for w, t in n[2]:
                parts += ["WHEN", self.sql(w), "THEN", self.sql(t)]
            if n[3] is not None:
                parts += ["ELSE", self.sql(n[3])]
            parts.append("END)")
            return " ".join(parts)
        if k == "agg":
            return self.agg_sql[n[6]]
        if k == "kref":
            return f"({self.kpi_sql[n[1]]})"
        raise ValueError(n)


def agg_body_sql(r, n):
    """The aggregate itself, over the rows of its root (FILTER for `where`)."""
    func, arg, filt = n[1], n[2], n[3]
    a = r.sql(arg) if arg is not None else None
    if func == "count_rows":
        body = "count(*)"
    elif func == "count":
        body = f"count({a})"
    elif func == "count_distinct":
        body = f"count(DISTINCT {a})"
    elif func in ("sum", "avg", "min", "max"):
        body = f"{func}({a})"
    elif func in ("median", "percentile") and DUCKDB_QUANTILE:
        body = f"quantile_cont({a}, {0.5 if func == 'median' else n[4]!r})"
    elif func in ("median", "percentile"):
        # quantile_cont interpolates as lo * (1 - d) + hi * d or so, one ulp away from the
        # documented v[i] + d * (v[i+1] - v[i]) (-2.5 + 0.8 * 2.5 = -0.5 exactly, DuckDB
        # -0.4999999999999999, which round() then turns into -0 instead of -1): the
        # documented formula is applied to the sorted values DuckDB collects, unless
        # --duckdb-quantile.
        body = f"list({a})"
    elif func == "stddev":
        # DuckDB's streaming stddev_samp loses ~1e-9 of relative precision when the values
        # sit far from 0 (123456789.1, ...): the sample standard deviation is computed in
        # two passes over the values DuckDB collects with list(), unless --duckdb-stddev.
        body = f"stddev_samp({a})" if DUCKDB_STDDEV else f"list({a})"
    elif func == "rate":
        body = f"avg(CASE WHEN ({a}) THEN 1.0 WHEN NOT ({a}) THEN 0.0 END)"
    else:
        raise ValueError(func)
    if filt is not None:
        body += f" FILTER (WHERE {r.sql(filt)})"
    if func == "stddev" and not DUCKDB_STDDEV:
        return f"CAST(exact_stddev({body}) AS DOUBLE)"
    if func in ("median", "percentile") and not DUCKDB_QUANTILE:
        q = 0.5 if func == "median" else n[4]
        return f"CAST(doc_percentile({body}, {q!r}) AS DOUBLE)"
    return f"CAST({body} AS DOUBLE)"


def reads(n, acc=None):
    """Datasets whose columns a tree reads ("dim" stands for the dim's dataset)."""
    if acc is None:
        acc = set()
    if isinstance(n, tuple) and n and not isinstance(n[0], str):
        n = list(n)  # a (when, then) pair
    if isinstance(n, tuple):
        if n[0] == "col":
            acc.add(n[1])
            return acc
        if n[0] == "dim":
            acc.add("DIM")
            return acc
        for x in n[1:]:
            reads(x, acc)
    elif isinstance(n, list):
        for x in n:
            reads(x, acc)
    return acc


def walk(n):
    if isinstance(n, tuple) and n and not isinstance(n[0], str):
        n = list(n)  # a (when, then) pair
    if isinstance(n, tuple):
        yield n
        for x in n[1:]:
            yield from walk(x)
    elif isinstance(n, list):
        for x in n:
            yield from walk(x)


# ----------------------------------------------------------------------------------------
#  Data
# ----------------------------------------------------------------------------------------

TEXTS = ["a", "b", "c", "B", "x y", "a,b", "é", "ab", "É", "Ab", "b "]
U_TEXTS = ["p", "q", "r", "P"]


def gen_number_column(rng, n):
    style = rng.choices(
        ["int", "dec", "mixed", "allnull", "equal", "zeros", "wide", "offset"],
        [3, 3, 4, 1, 1, 1, 1, 1])[0]
    base = rng.choice([1e6, 123456789, 1e9, -5e7, 0.1])
    null_p = rng.choice([0, 0, 0.1, 0.25, 0.5])
    eq = rng.choice([0, 1, -2, 2.5])
    out = []
    for _ in range(n):
        if style == "allnull" or rng.random() < null_p:
            out.append(None)
            continue
        if style == "int":
            v = rng.randint(-5, 9)
        elif style == "dec":
            v = round(rng.uniform(-20, 20), rng.choice([1, 2]))
        elif style == "equal":
            v = eq
        elif style == "offset":
            v = round(base + rng.choice([0, 0, 0.1, 0.2, -0.3, 1]), 2)
        elif style == "zeros":
            v = rng.choice([0, 0, 0, 1, -1])
        elif style == "wide":
            v = rng.choice([round(rng.uniform(-1000, 1000), 2), rng.randint(-100, 100), 0.1, 0.2, 0.3])
        else:
            v = rng.choice([rng.randint(-3, 5), round(rng.uniform(-5, 5), 1), 0, 0.5, -0.25, 10])
        out.append(v)
    int_only = all(v is None or isinstance(v, int) for v in out)
    return out, int_only


def num_cell(rng, v):
    if v is None:
        return ""
    if isinstance(v, int):
        r = rng.random()
        if v == 0 and r < 0.25:
            return rng.choice(["-0", "0.0", "0e0"])
        if r < 0.05:
            return f"{v}.0"
        if r < 0.08 and v != 0:
            return f"{v}e0"
        return str(v)
    r = rng.random()
    if r < 0.04 and abs(v) < 1000 and "e" not in f"{v * 10:g}":
        return f"{v * 10:g}e-1"
    return repr(v)


def bool_cell(rng, v):
    if v is None:
        return ""
    if rng.random() < 0.1:
        return rng.choice(["TRUE", "True"]) if v else rng.choice(["FALSE", "False"])
    return "true" if v else "false"


def csv_text_cell(v):
    if v is None:
        return ""
    if any(ch in v for ch in ',"\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def gen_data(rng):
    linked = rng.random() < 0.35
    n = rng.choices([0, rng.randint(1, 3), rng.randint(4, 20), rng.randint(20, 60)], [1, 2, 5, 3])[0]
    pool = rng.sample(TEXTS, rng.randint(1, 4))
    g_null = rng.choice([0, 0.1, 0.3])
    t = {"g": [None if rng.random() < g_null else rng.choice(pool) for _ in range(n)]}
    types = {"g": "text"}
    for c in "abc":
        vals, int_only = gen_number_column(rng, n)
        t[c] = vals
        types[c] = "int" if int_only and rng.random() < 0.3 else "number"
    fstyle = rng.choice(["mixed", "mixed", "mixed", "allnull", "alltrue"])
    t["f"] = [None if fstyle == "allnull" or rng.random() < 0.2 else
              (True if fstyle == "alltrue" else rng.random() < 0.5) for _ in range(n)]
    types["f"] = "bool"
    # a group whose values of `a` are all null
    present = [x for x in set(t["g"]) if x is not None]
    if present and rng.random() < 0.4:
        victim = rng.choice(present)
        col = rng.choice("ab")
        t[col] = [None if gg == victim else v for gg, v in zip(t["g"], t[col])]
    u = None
    utypes = None
    if linked:
        m = rng.randint(0, 8)
        ids = rng.sample(range(1, 12), m)
        if m and rng.random() < 0.2:
            ids[rng.randrange(m)] = None  # a null key on the one side: never linked
        u = {"id": ids,
             "h": [None if rng.random() < 0.2 else rng.choice(U_TEXTS) for _ in range(m)]}
        u["y"], _ = gen_number_column(rng, m)
        u["e"] = [None if rng.random() < 0.2 else rng.random() < 0.5 for _ in range(m)]
        utypes = {"id": "int", "h": "text", "y": "number", "e": "bool"}
        t["k"] = [None if rng.random() < 0.15 else rng.randint(1, 12) for _ in range(n)]
        types["k"] = "int"
    return {"n": n, "t": t, "types": types, "u": u, "utypes": utypes, "pool": pool}


def write_csv(path, cols, types, rng, order):
    n = len(cols[order[0]]) if order else 0
    lines = [",".join(order)]
    for i in range(n):
        cells = []
        for c in order:
            v = cols[c][i]
            ty = types[c]
            if ty == "text":
                cells.append(csv_text_cell(v))
            elif ty == "bool":
                cells.append(bool_cell(rng, v))
            elif ty == "int":
                cells.append(str(v) if v is not None else "")
            else:
                cells.append(num_cell(rng, v))
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------
#  Definitions
# ----------------------------------------------------------------------------------------

class Gen:
    def __init__(self, rng, data):
        self.rng = rng
        self.data = data
        self.linked = data["u"] is not None
        r = rng.random()
        if self.linked and r < 0.4:
            self.dim_mode = "uh"
        else:
            self.dim_mode = rng.choices(["tg", "tf", "ta", "tpos", "tlower", "tcoal"],
                                        [10, 1, 1, 1, 1, 1])[0]
        # the dim: (kpi text, SQL, key type, dataset)
        self.dim = {
            "tg": ("t.g", "t.g", "text", "t"),
            "tf": ("t.f", "t.f", "bool", "t"),
            "ta": ("t.a", "t.a", "num", "t"),
            "tpos": ("t.a > 0", "(t.a > 0)", "bool", "t"),
            "tlower": ("lower(t.g)", "lower(t.g)", "text", "t"),
            "tcoal": ('coalesce(t.g, "none")', "coalesce(t.g, 'none')", "text", "t"),
            "uh": ("u.h", "u.h", "text", "u"),
        }[self.dim_mode]
        self.allow_u_root = self.dim_mode == "uh"
        self.aggs = []

    # --- row expressions ------------------------------------------------------------------
    def cols(self, ty, ds_allowed):
        out = []
        if "t" in ds_allowed:
            out += {"num": [("t", "a"), ("t", "b"), ("t", "c")] + ([("t", "k")] if self.linked and self.rng.random() < 0.2 else []),
                    "text": [("t", "g")], "bool": [("t", "f")]}[ty]
        if "u" in ds_allowed and self.linked:
            out += {"num": [("u", "y")], "text": [("u", "h")], "bool": [("u", "e")]}[ty]
        return [("col", ds, c, ty) for ds, c in out]

    def num_lit(self, small=False):
        rng = self.rng
        v = rng.choice([0, 1, 2, -1, 3, 0.5, -2.5, 10, 1.25, 100]) if not small else rng.choice([0, 1, 2, -1, 0.5])
        return ("lit", v, "num")

    def num_row(self, d, ds):
        rng = self.rng
        cols = self.cols("num", ds)
        if d <= 0 or rng.random() < 0.45:
            if rng.random() < 0.85:
                return rng.choice(cols)
            return self.num_lit()
        c = rng.choices(["bin", "neg", "abs", "round", "coalesce", "safe_div", "case", "casev", "dim"],
                        [6, 1, 1, 1, 2, 1, 1, 1, 0.5 if self.dim[2] == "num" else 0])[0]
        if c == "bin":
            op = rng.choice(["+", "-", "*", "/"])
            return ("bin", op, self.num_row(d - 1, ds), self.num_row(d - 1, ds))
        if c == "neg":
            return ("neg", self.num_row(d - 1, ds))
        if c == "abs":
            return ("func", "abs", [self.num_row(d - 1, ds)])
        if c == "round":
            if rng.random() < 0.5:
                return ("func", "round", [self.num_row(d - 1, ds)])
            return ("func", "round", [self.num_row(d - 1, ds), ("lit", rng.choice([0, 1, 2]), "num")])
        if c == "coalesce":
            args = [self.num_row(d - 1, ds), self.num_row(0, ds)]
            if rng.random() < 0.5:
                args.append(self.num_lit())
            return ("func", "coalesce", args)
        if c == "safe_div":
            return ("func", "safe_div", [self.num_row(d - 1, ds), self.num_row(d - 1, ds), self.num_lit(True)])
        if c == "case":
            whens = [(self.bool_row(d - 1, ds), self.num_row(d - 1, ds)) for _ in range(rng.randint(1, 2))]
            other = self.num_row(d - 1, ds) if rng.random() < 0.7 else None
            return ("case", None, whens, other)
        if c == "casev":
            tcol = rng.choice(self.cols("text", ds))
            vals = rng.sample(self.data["pool"] + U_TEXTS[:2], 2)
            whens = [(("lit", v, "text"), self.num_row(0, ds)) for v in vals]
            other = self.num_lit() if rng.random() < 0.7 else None
            return ("case", tcol, whens, other)
        return ("dim",)

    def text_row(self, d, ds):
        rng = self.rng
        cols = self.cols("text", ds)
        if d > 0 and rng.random() < 0.2:
            return ("func", "lower", [rng.choice(cols)])
        if self.dim[2] == "text" and rng.random() < 0.1:
            return ("dim",)
        return rng.choice(cols)

    def text_lit(self):
        return ("lit", self.rng.choice(self.data["pool"] + TEXTS + U_TEXTS), "text")

    def bool_row(self, d, ds):
        rng = self.rng
        c = rng.choices(["col", "cmp", "tcmp", "and", "or", "not", "isnull", "in", "tin", "range", "dim"],
                        [3, 5, 2, 2 if d > 0 else 0, 2 if d > 0 else 0, 1 if d > 0 else 0, 2, 1, 1, 1,
                         0.5 if self.dim[2] in ("bool", "text") else 0])[0]
        if c == "col":
            return rng.choice(self.cols("bool", ds))
        if c == "cmp":
            op = rng.choice(["==", "!=", "<>", "<", "<=", ">", ">="])
            l = self.num_row(d - 1, ds)
            r = self.num_lit() if rng.random() < 0.6 else self.num_row(d - 1, ds)
            return ("bin", op, l, r)
        if c == "tcmp":
            op = rng.choice(["==", "!=", "<", ">="])
            return ("bin", op, self.text_row(d - 1, ds), self.text_lit())
        if c in ("and", "or"):
            return ("bin", c, self.bool_row(d - 1, ds), self.bool_row(d - 1, ds))
        if c == "not":
            return ("not", self.bool_row(d - 1, ds))
        if c == "isnull":
            ty = rng.choice(["num", "text", "bool"])
            x = rng.choice(self.cols(ty, ds))
            return ("isnull", x, rng.random() < 0.5)
        if c == "in":
            items = [self.num_lit() for _ in range(rng.randint(1, 4))]
            return ("in", self.num_row(d - 1, ds), items, rng.random() < 0.3)
        if c == "tin":
            items = [self.text_lit() for _ in range(rng.randint(1, 3))]
            return ("in", self.text_row(d - 1, ds), items, rng.random() < 0.3)
        if c == "range":
            x = rng.choice(self.cols("num", ds))
            lo = rng.choice([-2, -1, 0, 0.5, 1])
            hi = lo + rng.choice([0, 1, 2.5, 5])
            return ("bin", "and", ("bin", rng.choice([">=", ">"]), x, ("lit", lo, "num")),
                    ("bin", rng.choice(["<=", "<"]), x, ("lit", hi, "num")))
        # dim used in a row condition
        if self.dim[2] == "bool":
            return ("dim",) if rng.random() < 0.5 else ("not", ("dim",))
        return ("bin", rng.choice(["==", "!="]), ("dim",), self.text_lit())

    # --- aggregates -----------------------------------------------------------------------
    def agg(self):
        rng = self.rng
        for _ in range(50):
            ds = {"t", "u"} if self.linked else {"t"}
            func = rng.choices(
                ["count_rows", "count", "count_distinct", "sum", "avg", "min", "max", "median",
                 "percentile", "stddev", "rate"], [3, 2, 2, 3, 3, 2, 2, 2, 3, 2, 3])[0]
            cds = None
            arg = None
            if func == "count_rows":
                cds = "u" if (self.allow_u_root and rng.random() < 0.3) else "t"
            elif func in ("count", "count_distinct"):
                ty = rng.choice(["num", "num", "text", "bool"])
                arg = {"num": self.num_row, "text": self.text_row, "bool": self.bool_row}[ty](rng.randint(0, 2), ds)
            elif func == "rate":
                arg = self.bool_row(rng.randint(0, 2), ds)
            else:
                arg = self.num_row(rng.randint(0, 2), ds)
            filt = self.bool_row(rng.randint(0, 2), ds) if rng.random() < 0.5 else None
            q = qtext = None
            qpos = 1
            if func == "percentile":
                q = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0, 0.25, 0.75, 0.333])
                qtext = q_text(q) if rng.random() < 0.85 else repr(q)
                qpos = 0 if rng.random() < 0.3 else 1
            rd = reads([arg, filt])
            if "DIM" in rd:
                rd.discard("DIM")
                rd.add(self.dim[3])
            if func == "count_rows":
                root = cds
                if root == "u" and "t" in rd:
                    continue
            elif not rd:
                continue
            else:
                root = "t" if "t" in rd else "u"
            if root == "u" and not self.allow_u_root:
                continue
            idx = len(self.aggs)
            node = ("agg", func, arg, filt, q, root, idx, cds, qtext, qpos)
            self.aggs.append(node)
            return node
        raise RuntimeError("could not generate an aggregate")

    # --- KPI expressions --------------------------------------------------------------------
    def kpi_expr(self, d, prev):
        rng = self.rng
        if d <= 0 or rng.random() < 0.35:
            if prev and rng.random() < 0.2:
                return ("kref", rng.choice(prev))
            return self.agg()
        c = rng.choices(["bin", "lit", "neg", "abs", "round", "coalesce", "safe_div", "case", "zero"],
                        [8, 2, 1, 1, 1, 2, 1, 2, 2])[0]
        if c == "bin":
            return ("bin", rng.choice(["+", "-", "*", "/", "/"]), self.kpi_expr(d - 1, prev), self.kpi_expr(d - 1, prev))
        if c == "lit":
            e = self.kpi_expr(d - 1, prev)
            lit = self.num_lit()
            op = rng.choice(["+", "-", "*", "/"])
            return ("bin", op, e, lit) if rng.random() < 0.6 else ("bin", op, lit, e)
        if c == "neg":
            return ("neg", self.kpi_expr(d - 1, prev))
        if c == "abs":
            return ("func", "abs", [self.kpi_expr(d - 1, prev)])
        if c == "round":
            if rng.random() < 0.5:
                return ("func", "round", [self.kpi_expr(d - 1, prev)])
            return ("func", "round", [self.kpi_expr(d - 1, prev), ("lit", rng.choice([0, 1, 2]), "num")])
        if c == "coalesce":
            return ("func", "coalesce", [self.kpi_expr(d - 1, prev), self.num_lit(True)])
        if c == "safe_div":
            return ("func", "safe_div", [self.kpi_expr(d - 1, prev), self.kpi_expr(d - 1, prev), self.num_lit(True)])
        if c == "case":
            cond = self.kpi_cond(d - 1, prev)
            other = self.kpi_expr(d - 1, prev) if rng.random() < 0.8 else None
            return ("case", None, [(cond, self.kpi_expr(d - 1, prev))], other)
        # a division that often hits zero
        num = self.kpi_expr(d - 1, prev)
        den = rng.choice([
            lambda: ("bin", "-", self.agg_simple("count_rows"), self.agg_simple("count_rows")),
            lambda: self.agg_simple("count_rows", filt=True),
            lambda: self.agg_simple("sum"),
            lambda: ("bin", "-", self.agg_simple("max"), self.agg_simple("min")),
        ])()
        return ("bin", "/", num, den)

    def agg_simple(self, func, filt=False):
        rng = self.rng
        ds = {"t"}
        cds = "t" if func == "count_rows" else None
        arg = None if func == "count_rows" else rng.choice(self.cols("num", ds))
        f = self.bool_row(1, ds) if filt else None
        node = ("agg", func, arg, f, None, "t", len(self.aggs), cds, None, 1)
        self.aggs.append(node)
        return node

    def kpi_cond(self, d, prev):
        rng = self.rng
        c = rng.choices(["cmp", "isnull", "and", "not"], [5, 1, 1, 1])[0]
        if c == "cmp":
            r = self.num_lit() if rng.random() < 0.6 else self.kpi_expr(d - 1, prev)
            return ("bin", rng.choice(["==", "!=", "<", "<=", ">", ">="]), self.kpi_expr(d - 1, prev), r)
        if c == "isnull":
            return ("isnull", self.kpi_expr(d - 1, prev), rng.random() < 0.5)
        if c == "and":
            return ("bin", rng.choice(["and", "or"]), self.kpi_cond(d - 1, prev), self.kpi_cond(d - 1, prev))
        return ("not", self.kpi_cond(d - 1, prev))

    def where_filter(self):
        """A --where condition over columns every root reaches."""
        roots = {a[5] for a in self.aggs}
        ds = {"u"} if "u" in roots else ({"t", "u"} if self.linked else {"t"})
        for _ in range(20):
            c = self.bool_row(self.rng.randint(0, 2), ds)
            rd = reads(c)
            if "DIM" in rd:
                rd.discard("DIM")
                rd.add(self.dim[3])
            if rd and rd <= ds:
                return c
        return None


# ----------------------------------------------------------------------------------------
#  One case
# ----------------------------------------------------------------------------------------

def unit_of(n, units):
    """The unit kpiblend infers (count, percent, number as the neutral one), or raises
    ValueError where it reports KB0301 (units that cannot be combined)."""
    k = n[0]
    if k == "agg":
        return {"count_rows": "count", "count": "count", "count_distinct": "count",
                "rate": "percent"}.get(n[1], "number")
    if k == "kref":
        return units[n[1]]
    if k == "lit":
        return "number"
    if k in ("neg",):
        return unit_of(n[1], units)
    if k == "not":
        unit_of(n[1], units)
        return "bool"
    if k == "isnull":
        unit_of(n[1], units)
        return "bool"
    if k == "func":
        us = [unit_of(a, units) for a in n[2]]
        if n[1] in ("abs", "round"):
            return us[0]
        if n[1] == "coalesce":
            return join_units(us)
        if n[1] == "safe_div":
            return div_unit(us[0], us[1])
    if k == "case":
        for w, _ in n[2]:
            unit_of(w, units)
        us = [unit_of(t, units) for _, t in n[2]]
        if n[3] is not None:
            us.append(unit_of(n[3], units))
        return join_units(us)
    if k == "bin":
        op = n[1]
        a, b = unit_of(n[2], units), unit_of(n[3], units)
        if op in ("and", "or"):
            return "bool"
        if op in CMP:
            join_units([a, b])
            return "bool"
        if op in ("+", "-"):
            return join_units([a, b])
        if op == "*":
            if a == "number":
                return b
            if b == "number":
                return a
            raise ValueError("unit")
        if op == "/":
            return div_unit(a, b)
    raise ValueError(n)


def join_units(us):
    s = {u for u in us if u != "number"}
    if len(s) > 1:
        raise ValueError("unit")
    return s.pop() if s else "number"


def div_unit(a, b):
    if a == b == "count":
        return "percent"
    if a == b:
        return "number"
    if b == "number":
        return a
    if a == "number":
        raise ValueError("unit")  # unknown: avoid
    raise ValueError("unit")


def build_case(seed, idx):
    rng = random.Random(f"{seed}:{idx}")
    data = gen_data(rng)
    gen = Gen(rng, data)
    nk = rng.randint(3, 8)
    kpis = []  # (name, tree)
    units = {}
    for i in range(nk):
        prev = [n for n, _ in kpis]
        for _ in range(30):
            mark = len(gen.aggs)
            tree = gen.kpi_expr(rng.choice([0, 0, 1, 1, 2, 3]), prev)
            try:
                u = unit_of(tree, units)
                break
            except ValueError:
                del gen.aggs[mark:]
        else:
            tree = gen.agg()
            u = unit_of(tree, units)
        units[f"k{i + 1}"] = u
        kpis.append((f"k{i + 1}", tree))
    where = gen.where_filter() if rng.random() < 0.35 else None
    return rng, data, gen, kpis, where


def render_case(rng, data, gen, kpis, where, outdir):
    outdir.mkdir(parents=True, exist_ok=True)
    t_order = list(data["t"].keys())
    rng.shuffle(t_order)
    write_csv(outdir / "t.csv", data["t"], data["types"], rng, t_order)
    decl = "  ".join(f"{c}: {data['types'][c]}" for c in t_order)
    lines = []
    if data["u"] is not None:
        u_order = list(data["u"].keys())
        write_csv(outdir / "u.csv", data["u"], data["utypes"], rng, u_order)
        udecl = "  ".join(f"{c}: {data['utypes'][c]}" for c in u_order)
        lines.append(f'dataset u = csv("u.csv") {{ {udecl} }}')
        lines.append(f'dataset t = csv("t.csv") {{ {decl}  k -> u.id }}')
    else:
        lines.append(f'dataset t = csv("t.csv") {{ {decl} }}')
    lines.append(f"dim g = {gen.dim[0]}")
    r = Renderer(rng, "g", gen.dim[1])
    stmts = [f"kpi {name} = {r.kpi(tree)}" for name, tree in kpis]
    rng.shuffle(stmts)  # a KPI may use one defined further down
    lines += stmts
    where_text = r.kpi(where) if where is not None else None
    if where_text is not None:
        lines.append(f"view vw = {', '.join(n for n, _ in kpis)} by g where {where_text}")
    (outdir / "case.kpi").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return where_text


def load_tables(con, data, outdir):
    con.execute("DROP TABLE IF EXISTS t")
    con.execute("DROP TABLE IF EXISTS u")
    sqlty = {"text": "VARCHAR", "number": "DOUBLE", "int": "DOUBLE", "bool": "BOOLEAN"}

    def read(name, types, path):
        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        cols = ", ".join(f"'{c}': '{sqlty[types[c]]}'" for c in header)
        con.execute(f"""CREATE TABLE {name} AS SELECT * FROM read_csv('{path.as_posix()}',
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
            columns = {{{cols}}})""")

    read("t", data["types"], outdir / "t.csv")
    if data["u"] is not None:
        read("u", data["utypes"], outdir / "u.csv")


def expected(con, data, gen, kpis, where, grouped, only=None):
    """Per group key, the value of each KPI, computed by DuckDB. With `only` (the KPIs of
    --kpi), the groups come from the rows of the datasets those KPIs read."""
    kdict_all = dict(kpis)

    def agg_ids(name, acc):
        for m in walk(kdict_all[name]):
            if m[0] == "agg":
                acc.add(m[6])
            elif m[0] == "kref":
                agg_ids(m[1], acc)
        return acc

    if only is not None:
        used = set()
        for n in only:
            agg_ids(n, used)
        aggs = [a for a in gen.aggs if a[6] in used]
        kpis = [(n, t) for n, t in kpis if n in only]
    else:
        aggs = list(gen.aggs)
    dim_sql = gen.dim[1]
    roots = sorted({a[5] for a in aggs})
    agg_sql = {}
    for a in gen.aggs:
        col = f"rt_{a[5]}.a{a[6]}"
        agg_sql[a[6]] = f"coalesce({col}, 0)" if a[1] in COUNTISH else col
    r = Renderer(random.Random(0), "g", dim_sql, agg_sql, {})
    kdict = kdict_all
    kpi_sql = {}

    def ksql(name):
        if name not in kpi_sql:
            for n in walk(kdict[name]):
                if n[0] == "kref":
                    ksql(n[1])
            kpi_sql[name] = r.sql(kdict[name])
        return kpi_sql[name]

    r.kpi_sql = kpi_sql
    for name, _ in kpis:
        ksql(name)
    ctes = []
    wsql = f" WHERE {r.sql(where)}" if where is not None else ""
    for root in roots:
        src = "t LEFT JOIN u ON t.k = u.id" if (root == "t" and data["u"] is not None) else root
        bodies = [f"{agg_body_sql(r, a)} AS a{a[6]}" for a in aggs if a[5] == root]
        # the sample size behind each aggregate: rows for count(dataset), else non-null values
        for a in aggs:
            if a[5] == root:
                nb = "count(*)" if a[1] == "count_rows" else f"count({r.sql(a[2])})"
                if a[3] is not None:
                    nb += f" FILTER (WHERE {r.sql(a[3])})"
                bodies.append(f"{nb} AS n{a[6]}")
        if grouped:
            ctes.append(f"rt_{root} AS (SELECT {dim_sql} AS key, {', '.join(bodies)} FROM {src}{wsql} GROUP BY 1)")
        else:
            ctes.append(f"rt_{root} AS (SELECT NULL AS key, {', '.join(bodies)} FROM {src}{wsql})")
    if not roots:
        ctes.append("rt_none AS (SELECT NULL AS key)")
        roots = ["none"]
    ctes.append("keys AS (" + " UNION ".join(f"SELECT key FROM rt_{x}" for x in roots) + ")")
    joins = " ".join(f"LEFT JOIN rt_{x} ON keys.key IS NOT DISTINCT FROM rt_{x}.key" for x in roots)
    sel = ", ".join(f"CAST({kpi_sql[n]} AS DOUBLE) AS {n}" for n, _ in kpis)

    for n, _ in kpis:
        ids = sorted(agg_ids(n, set()))
        parts = [f"coalesce(rt_{gen.aggs[i][5]}.n{i}, 0)" for i in ids]
        sel += ", " + (f"least({', '.join(parts)})" if parts else "NULL") + f" AS n_{n}"
    sql = f"WITH {', '.join(ctes)} SELECT keys.key, {sel} FROM keys {joins}"
    out = {}
    for row in con.execute(sql).fetchall():
        key = norm_key(row[0], gen.dim[2]) if grouped else ()
        out[key] = {n: norm_value(v) for (n, _), v in zip(kpis, row[1:])}
        for (n, _), v in zip(kpis, row[1 + len(kpis):]):
            out[key]["n:" + n] = v
    return out, sql


def norm_key(v, ty):
    if v is None:
        return None
    if ty == "num":
        v = float(v)
        return 0.0 if v == 0 else v
    return v


def norm_value(v):
    if v is None:
        return None
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return ("nonfinite", v)
    return v


def sort_key(k):
    return (k is None, k if k is not None else 0)


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, tuple) or isinstance(b, tuple):
        return False
    return a == b or abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


def run_kpiblend(exe, kpi, args):
    p = subprocess.run([exe, "eval", str(kpi), "--format", "json", "--color", "never"] + args,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def features(gen, kpis, where):
    f = set()
    def kpi_level(n):
        # the KPI-level nodes, and the aggregates (not their insides)
        if isinstance(n, tuple) and n and not isinstance(n[0], str):
            n = list(n)
        if isinstance(n, list):
            for x in n:
                yield from kpi_level(x)
        elif isinstance(n, tuple):
            yield n
            if n[0] != "agg":
                for x in n[1:]:
                    yield from kpi_level(x)

    for _, tree in kpis:
        for n in kpi_level(tree):
            if n[0] == "agg":
                f.add(n[1])
                if n[3] is not None:
                    f.add("where")
                for m in walk([n[2], n[3]]):
                    if m[0] in ("func",):
                        f.add("row:" + m[1])
                    elif m[0] in ("bin",):
                        f.add("row:" + m[1])
                    elif m[0] in ("case", "in", "isnull", "not", "neg", "dim"):
                        f.add("row:" + m[0])
            elif n[0] in ("func",):
                f.add("kpi:" + n[1])
            elif n[0] == "bin":
                f.add("kpi:" + n[1])
            elif n[0] in ("case", "kref", "neg", "isnull"):
                f.add("kpi:" + n[0])
    f.add("dim:" + gen.dim_mode)
    if where is not None:
        f.add("--where")
    if gen.linked:
        f.add("linked")
    return f


def check_case(con, exe, seed, idx, workdir, verbose=False):
    rng, data, gen, kpis, where = build_case(seed, idx)
    casedir = workdir / f"s{seed}_c{idx}"
    if casedir.exists():
        shutil.rmtree(casedir)
    where_text = render_case(rng, data, gen, kpis, where, casedir)
    load_tables(con, data, casedir)
    evals = [("all", [], False)]
    evals.append(("by", ["--by", "g"], True))
    if where_text is not None:
        evals.append(("where-by", ["--by", "g", f"--where={where_text}"], True))
        evals.append(("where", [f"--where={where_text}"], False))
        evals.append(("view", ["--view", "vw"], True))
    result = {"mismatches": [], "rejected": None, "compared": 0, "dir": casedir,
              "features": features(gen, kpis, where), "rows": data["n"]}
    all_names = [n for n, _ in kpis]
    subset = sorted(rng.sample(all_names, rng.randint(1, len(all_names))))
    evals.append(("kpi-subset", ["--by", "g", "--kpi", ",".join(subset)], True))
    for label, args, grouped in evals:
        w = where if (label.startswith("where") or label == "view") else None
        rc, out, err = run_kpiblend(exe, casedir / "case.kpi", args)
        if rc != 0:
            result["rejected"] = (label, rc, err.strip()[:2000])
            (casedir / "rejected.txt").write_text(f"args: {json.dumps(args)}\nexit: {rc}\n{err}")
            break
        rep = json.loads(out)
        only = subset if label == "kpi-subset" else None
        want, sql = expected(con, data, gen, kpis, w, grouped, only)
        item_idx = {it["name"]: i for i, it in enumerate(rep["items"])}
        mism = []
        names = subset if label == "kpi-subset" else all_names
        if [it["name"] for it in rep["items"]] != (subset if label == "kpi-subset" else [it["name"] for it in rep["items"]]):
            mism.append((label, "items", "names", [it["name"] for it in rep["items"]], subset))

        def cmp_row(where_label, cells, values):
            for n in names:
                if n not in item_idx:
                    mism.append((label, where_label, n, "missing", "present"))
                    continue
                got = cells[item_idx[n]]["value"]
                exp = values[n]
                result["compared"] += 1
                if not same(got, exp):
                    mism.append((label, where_label, n, got, exp))
                if CHECK_N and values["n:" + n] is not None:
                    result["compared"] += 1
                    if cells[item_idx[n]]["n"] != values["n:" + n]:
                        mism.append((label, where_label, n + ".n", cells[item_idx[n]]["n"], values["n:" + n]))

        if grouped:
            got_keys = [norm_key(r["key"][0], gen.dim[2]) for r in rep["rows"]]
            want_keys = sorted(want, key=sort_key)
            result["compared"] += 1
            if set(got_keys) != set(want_keys) or len(got_keys) != len(set(got_keys)):
                mism.append((label, "groups", "keys", got_keys, want_keys))
            elif got_keys != want_keys:
                mism.append((label, "group order", "keys", got_keys, want_keys))
            for r_ in rep["rows"]:
                k = norm_key(r_["key"][0], gen.dim[2])
                if k in want:
                    cmp_row(f"[{k!r}]", r_["cells"], want[k])
            # the total row is the ungrouped evaluation
            tot, _ = expected(con, data, gen, kpis, w, False, only)
            if rep.get("total") is None:
                mism.append((label, "total", "row", None, "present"))
            else:
                cmp_row("total", rep["total"]["cells"], tot[()])
        else:
            if len(rep["rows"]) != 1:
                mism.append((label, "rows", "count", len(rep["rows"]), 1))
            else:
                cmp_row("[]", rep["rows"][0]["cells"], want[()])
        if mism:
            result["mismatches"] += mism
            (casedir / f"expected_{label}.sql").write_text(sql + "\n")
            (casedir / f"kpiblend_{label}.json").write_text(out)
            (casedir / f"kpiblend_{label}.args").write_text(json.dumps(args))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--kpiblend", default=DEFAULT_KPIBLEND)
    ap.add_argument("--out", type=Path, default=Path("xcheck-cases"))
    ap.add_argument("--keep", action="store_true", help="keep the files of passing cases too")
    ap.add_argument("--show", type=int, default=30, help="mismatching cases to print")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--accept-safe-div-default", action="store_true",
                    help="expect safe_div(null, 0, d) = d (kpiblend) rather than null (the docs)")
    ap.add_argument("--duckdb-stddev", action="store_true",
                    help="use DuckDB's stddev_samp instead of an exact computation over list()")
    ap.add_argument("--check-n", action="store_true",
                    help="also compare each cell's n (rows or non-null values behind the KPI)")
    ap.add_argument("--duckdb-round", action="store_true",
                    help="translate round(x, d) as DuckDB's round(x, d) rather than round(x * 10^d) / 10^d")
    ap.add_argument("--duckdb-quantile", action="store_true",
                    help="use DuckDB's quantile_cont instead of the documented formula over list()")
    args = ap.parse_args()
    global DUCKDB_QUANTILE
    DUCKDB_QUANTILE = args.duckdb_quantile
    global DUCKDB_ROUND
    DUCKDB_ROUND = args.duckdb_round
    global CHECK_N
    CHECK_N = args.check_n
    global DUCKDB_STDDEV
    DUCKDB_STDDEV = args.duckdb_stddev
    global SAFE_DIV_DEFAULT_WINS
    SAFE_DIV_DEFAULT_WINS = args.accept_safe_div_default

    exe = str(Path(args.kpiblend).resolve())
    workdir = args.out.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads = 1")
    # two-pass sample standard deviation over the values collected by list()
    con.execute("CREATE MACRO nn(l) AS list_filter(coalesce(l, []), lambda x: x IS NOT NULL)")
    con.execute("""CREATE MACRO sd_(l, m) AS CASE WHEN len(l) < 2 THEN NULL
                   ELSE sqrt(list_sum(list_transform(l, lambda x: (x - m) * (x - m))) / (len(l) - 1)) END""")
    # the percentile as docs/language.md defines it, over the sorted non-null values
    con.execute("""CREATE MACRO pct_(v, p) AS CASE WHEN len(v) = 0 THEN NULL
                   WHEN p = floor(p) THEN v[CAST(p AS BIGINT) + 1]
                   ELSE v[CAST(floor(p) AS BIGINT) + 1]
                        + (p - floor(p)) * (v[CAST(floor(p) AS BIGINT) + 2] - v[CAST(floor(p) AS BIGINT) + 1]) END""")
    con.execute("CREATE MACRO doc_percentile(l, q) AS pct_(list_sort(nn(l)), q * (len(nn(l)) - 1))")
    # shifted by the first value: all-equal values give exactly 0, as they should
    con.execute("CREATE MACRO sh(l) AS list_transform(l, lambda x: x - l[1])")
    con.execute("CREATE MACRO exact_stddev(l) AS sd_(sh(nn(l)), list_avg(sh(nn(l))))")

    bad_cases = []
    rejected = Counter()
    rejected_cases = []
    compared = 0
    feat = Counter()
    rows = 0
    for idx in range(args.start, args.start + args.cases):
        res = check_case(con, exe, args.seed, idx, workdir, args.verbose)
        compared += res["compared"]
        rows += res["rows"]
        if res["rejected"]:
            label, rc, err = res["rejected"]
            codes = sorted(set(x.split("]")[0] for x in err.split("[")[1:] if x[:2] == "KB"))
            rejected[(rc, ",".join(codes))] += 1
            rejected_cases.append((res["dir"], err))
            continue
        feat.update(res["features"])
        if res["mismatches"]:
            bad_cases.append(res)
            (res["dir"] / "mismatches.json").write_text(json.dumps(res["mismatches"], indent=1, default=str))
        elif not args.keep:
            shutil.rmtree(res["dir"])

    evaluated = args.cases - sum(rejected.values())
    print(f"seed {args.seed}: {args.cases} cases ({evaluated} evaluated, {sum(rejected.values())} rejected "
          f"by kpiblend), {rows} data rows, {compared} values compared; duckdb {duckdb.__version__}")
    print(f"  mismatching cases: {len(bad_cases)}")
    for res in bad_cases[: args.show]:
        print(f"  CASE {res['dir']}")
        for m in res["mismatches"][:6]:
            print(f"    MISMATCH {m[0]} {m[1]} {m[2]}: kpiblend {m[3]!r}, duckdb {m[4]!r}")
        if len(res["mismatches"]) > 6:
            print(f"    ... and {len(res['mismatches']) - 6} more")
    if rejected:
        print("  rejected by kpiblend (exit code, diagnostics):")
        for (rc, codes), n in rejected.most_common():
            print(f"    rc={rc} {codes or '-'}: {n}")
        if args.verbose:
            for d, err in rejected_cases[:10]:
                print(f"    {d}:\n      " + err.replace("\n", "\n      ")[:1500])
    if args.verbose:
        print("  features exercised (cases):")
        for k, v in sorted(feat.items()):
            print(f"    {k}: {v}")
    return 1 if bad_cases else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the measurements bench/run.sh made.

    report.py --results DIR --runs R --out BENCHMARKS.md

DIR holds times.tsv (one line per timed process), datasets.tsv (file sizes) and
compare.jsonl (compare.py's verdicts). Reported: the median wall time and median peak RSS
per data set, grouping and tool, MB/s (both CSV files' bytes over the median time), and the
ratios DuckDB/kpiblend and Polars/kpiblend.
"""

import argparse
import csv
import json
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

TOOLS = ["kpiblend", "duckdb", "polars"]
MODES = {"all": "ungrouped", "agent": "`--by agent`"}


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": sh("nproc"),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
    }


def versions(results):
    import duckdb
    import polars

    # recorded by run.sh when it built the binary it measured
    rev_file = results / "kpiblend-rev"
    rev = rev_file.read_text().strip() if rev_file.exists() else "?"
    # /proc/loadavg at the start and the end of the timed runs, recorded by run.sh
    load_file = results / "loadavg"
    loads = [line.split()[0] for line in load_file.read_text().splitlines() if line.strip()] \
        if load_file.exists() else []
    load = (f"Load average (1 minute) when the runs started: {loads[0]}, when they ended: "
            f"{loads[-1]} (the benchmark itself keeps it near the core count).") \
        if len(loads) >= 2 else "The load average was not recorded."
    return {
        "load": load,
        "kpiblend": rev,
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "rustc": sh("rustc", "-V"),
        "python": platform.python_version(),
    }


def load(results):
    with (results / "times.tsv").open() as f:
        times = list(csv.DictReader(f, delimiter="\t"))
    with (results / "datasets.tsv").open() as f:
        datasets = list(csv.DictReader(f, delimiter="\t"))
    compares = [json.loads(line) for line in (results / "compare.jsonl").read_text()
                .splitlines() if line.strip()]
    return times, datasets, compares


def fmt_n(n):
    n = int(n)
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


def ds_label(d):
    label = f"{fmt_n(d['calls'])} calls"
    if int(d["extra_columns"]):
        label += f" +{d['extra_columns']} text cols"
    return label


def summarise(times):
    """(dataset, mode, tool) -> dict(median wall, min, max, median rss kB, failures, n)."""
    groups = defaultdict(list)
    for t in times:
        groups[(t["dataset"], t["mode"], t["tool"])].append(t)
    out = {}
    for key, ts in groups.items():
        ok = [t for t in ts if t["exit"] == "0"]
        walls = [float(t["wall_s"]) for t in ok]
        rss = [int(t["max_rss_kb"]) for t in ok]
        out[key] = {
            "wall": statistics.median(walls) if walls else None,
            "min": min(walls) if walls else None,
            "max": max(walls) if walls else None,
            "rss": statistics.median(rss) if rss else None,
            "failed": len(ts) - len(ok),
            "n": len(ts),
        }
    return out


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def table(datasets, stats):
    lines = [
        "| data | grouping | tool | median wall | min – max | peak RSS | MB/s "
        "| time ÷ kpiblend | RSS ÷ kpiblend |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for d in datasets:
        name = d["dataset"]
        mb = (int(d["calls_bytes"]) + int(d["surveys_bytes"])) / 1e6
        for mode, mode_label in MODES.items():
            kb = stats.get((name, mode, "kpiblend"))
            rows = TOOLS + (["wc"] if mode == "all" else [])
            for tool in rows:
                s = stats.get((name, mode, tool))
                if s is None:
                    continue
                tool_label = "`wc -l` (floor)" if tool == "wc" else tool
                if s["wall"] is None:
                    lines.append(f"| {ds_label(d)} ({mb:,.0f} MB) | {mode_label} | "
                                 f"{tool_label} | failed ({s['failed']}/{s['n']}) "
                                 "| | | | | |")
                    continue
                fail = f" ({s['failed']} failed)" if s["failed"] else ""
                lines.append(
                    f"| {ds_label(d)} ({mb:,.0f} MB) | {mode_label} | {tool_label} | "
                    f"{s['wall']:.2f} s{fail} | {s['min']:.2f} – {s['max']:.2f} | "
                    f"{s['rss'] / 1024:,.0f} MB | {mb / s['wall']:,.0f} | "
                    f"{'' if tool == 'kpiblend' else ratio(s['wall'], kb and kb['wall'])} | "
                    f"{'' if tool in ('kpiblend', 'wc') else ratio(s['rss'], kb and kb['rss'])}"
                    " |")
    return "\n".join(lines)


def ratios(datasets, stats):
    lines = [
        "| data | grouping | DuckDB ÷ kpiblend (time) | Polars ÷ kpiblend (time) "
        "| kpiblend RSS ÷ DuckDB RSS | kpiblend RSS ÷ Polars RSS |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for d in datasets:
        for mode, mode_label in MODES.items():
            g = {t: stats.get((d["dataset"], mode, t)) or {} for t in TOOLS}
            kb = g["kpiblend"]
            lines.append(
                f"| {ds_label(d)} | {mode_label} | "
                f"{ratio(g['duckdb'].get('wall'), kb.get('wall'))} | "
                f"{ratio(g['polars'].get('wall'), kb.get('wall'))} | "
                f"{ratio(kb.get('rss'), g['duckdb'].get('rss'))} | "
                f"{ratio(kb.get('rss'), g['polars'].get('rss'))} |")
    return "\n".join(lines)


def targets(datasets, stats):
    plain = [d for d in datasets if not int(d["extra_columns"])]
    if not plain:
        return "No data set without extra columns was measured."
    big = max(plain, key=lambda d: int(d["calls"]))
    out = []

    def get(name, mode, tool, what):
        return (stats.get((name, mode, tool)) or {}).get(what)

    for mode, mode_label in MODES.items():
        kb = get(big["dataset"], mode, "kpiblend", "wall")
        for tool in ("duckdb", "polars"):
            other = get(big["dataset"], mode, tool, "wall")
            if kb and other:
                r = other / kb
                out.append(f"- {ds_label(big)}, {mode_label}: kpiblend is {r:.2f}× as fast as "
                           f"{tool} (target ≥ 2×): **{'met' if r >= 2 else 'not met'}**")
        kb_rss = get(big["dataset"], mode, "kpiblend", "rss")
        dd_rss = get(big["dataset"], mode, "duckdb", "rss")
        if kb_rss and dd_rss:
            r = kb_rss / dd_rss
            out.append(f"- {ds_label(big)}, {mode_label}: kpiblend's peak RSS is {r:.2f} of "
                       f"DuckDB's (target ≤ 0.5): **{'met' if r <= 0.5 else 'not met'}**")
    for d in datasets:
        if not int(d["extra_columns"]):
            continue
        base = next((p for p in plain if p["calls"] == d["calls"]), None)
        if base is None:
            continue
        for mode, mode_label in MODES.items():
            for tool in TOOLS:
                a = get(base["dataset"], mode, tool, "rss")
                b = get(d["dataset"], mode, tool, "rss")
                ta = get(base["dataset"], mode, tool, "wall")
                tb = get(d["dataset"], mode, tool, "wall")
                if a and b and ta and tb:
                    line = (f"- +{d['extra_columns']} unreferenced text columns at "
                            f"{fmt_n(d['calls'])} calls, {mode_label}, {tool}: peak RSS "
                            f"{(b / a - 1) * 100:+.1f}%, wall time {(tb / ta - 1) * 100:+.1f}% "
                            f"(input {int(d['calls_bytes']) / int(base['calls_bytes']):.2f}× "
                            "as large)")
                    if tool == "kpiblend":
                        line += (f" (target: peak RSS only a few percent higher: "
                                 f"**{'met' if b / a - 1 <= 0.05 else 'not met'}**)")
                    out.append(line)
    return "\n".join(out)


def correctness(compares):
    lines = []
    bad = [c for c in compares if c.get("error") or c["mismatches"]]
    total_values = sum(c["compared"] for c in compares)
    if not bad:
        lines.append(f"All {len(compares)} comparisons agree: {total_values:,} values "
                     "(every KPI value and blend score of every group and of the total row), "
                     "relative difference ≤ 1e-9, same nulls, same groups in the same order "
                     "(including the null agent group).")
        return "\n".join(lines)
    lines.append(f"{len(bad)} of {len(compares)} comparisons disagree:\n")
    lines.append("| run | tool | group | item | kpiblend | other tool |")
    lines.append("|---|---|---|---|---:|---:|")
    for c in bad:
        if c.get("error"):
            lines.append(f"| {c['label']} | {c['tool']} | – | {c['error']} | | |")
        for g, item, a, b in c["mismatches"][:20]:
            lines.append(f"| {c['label']} | {c['tool']} | {g} | {item} | {a!r} | {b!r} |")
    return "\n".join(lines)


TEMPLATE = """\
# Benchmarks

`kpiblend eval` on the whole `examples/contact_center.kpi` suite (16 KPIs, including a
percentile, a linked-dataset KPI and a correlation over agents, plus 3 blends), against the
same suite written in DuckDB SQL and in Polars. Generated by `bench/run.sh` on {date}.

## Machine and versions

- {nproc} cores, {cpu}, {ram} RAM, {os}. A machine shared with other work (other
  virtual machines on the same host, at the least) is noisy, so the three tools are
  measured interleaved, run by run, and medians are reported. {load}
- kpiblend {kpiblend} (release build), {rustc}
- DuckDB {duckdb} and Polars {polars} (Python {python}, from PyPI into `bench/.venv`), with
  their defaults (all cores; DuckDB's memory limit 80% of RAM)

## What is measured

Each tool runs as a whole process, so start-up (for DuckDB and Polars, the Python
interpreter and the import), CSV parsing and writing the results are all included:

- **kpiblend**: `target/release/kpiblend eval examples/contact_center.kpi --data
  calls=calls.csv --data surveys=surveys.csv --format json [--by agent]`
- **DuckDB**: `bench/suite/duckdb_suite.py`: loads the referenced calls columns from
  `read_csv` into a temporary table, then the KPIs in SQL (aggregates with `FILTER`,
  `quantile_cont`, the survey KPIs over `surveys LEFT JOIN calls`, `corr` over the
  per-agent KPIs; `GROUPING SETS ((agent_id), ())` for the agent groups and the total).
- **Polars**: `bench/suite/polars_suite.py`: lazy `scan_csv` of both files, the same
  KPIs as expressions, everything collected in one `collect_all`.
- **`wc -l`** over both files, as a floor: the cost of reading the bytes once.

The blend scores are computed from the KPI values in `bench/suite/common.py` for DuckDB and
Polars (negligible time). Both the ungrouped scorecard and `--by agent` (which also
computes the total row) are measured. Data: the repository's seeded generator
(`gen_data --seed 42`), {runs} runs per tool and grouping, interleaved (each run measures
every tool once, in an order that rotates from run to run), warm page cache. Wall time is
the median; peak memory is the median of "Maximum resident set size" from
`/usr/bin/time -v`; MB/s is the size of both CSV files over the median wall time.

## Results

{table}

### Ratios (medians)

{ratios}

### Against the targets

{targets}

## Correctness

After timing, `bench/suite/compare.py` compares kpiblend's JSON (`rows[].key`,
`rows[].cells[].value` for KPIs, `.score` for blends, and `total`) with the DuckDB and
Polars results of the last run.

{correctness}

Semantics worth knowing when reading the SQL and Polars versions: `corr(aht, csat) over
agent` ranges over every agent group, the null agent group included (kpiblend does so too:
with a handled call without agent the null group counts as one more point). On the generated
data the null agent group holds only abandoned calls and orphan surveys, so its aht is null
and it drops out of the correlation either way. Grouped by agent, `over agent` sees a single
agent per group, so the value is null there.

## Reproduce

```sh
bench/run.sh                                  # 1M and 10M calls, 5 runs, +10 text columns at 10M
bench/run.sh --calls 1000000 --runs 3         # quicker
```

The default run took about 8 minutes on the machine above (most of it at 10M calls).

It builds kpiblend in release, creates `bench/.venv` with `duckdb` and `polars` if needed,
generates the data under `bench/data/` (gitignored; sizes in the table above: budget about
7 GB of disk for the default run), measures, checks the results against each other and rewrites this
file. The raw measurements (`times.tsv`), each tool's results and stderr stay in
`bench/data/results-*/`. Needs `cargo`, `python3` with `venv`, and GNU time
(`/usr/bin/time`).
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    times, datasets, compares = load(args.results)
    stats = summarise(times)
    text = TEMPLATE.format(
        date=sh("date", "-u", "+%Y-%m-%d %H:%M UTC"), runs=args.runs,
        table=table(datasets, stats), ratios=ratios(datasets, stats),
        targets=targets(datasets, stats), correctness=correctness(compares),
        **machine(), **versions(args.results))
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

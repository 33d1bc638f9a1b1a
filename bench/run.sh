#!/usr/bin/env bash
# Benchmarks `kpiblend eval` on the full examples/contact_center.kpi suite against the same
# suite in DuckDB SQL and in Polars (bench/suite/), and writes BENCHMARKS.md.
#
#   bench/run.sh [--calls N,N,...] [--runs R] [--extra-at N] [--out FILE]
#
#   --calls     call counts to generate and measure (default 1000000,10000000)
#   --runs      timed runs per tool and grouping, interleaved (default 5)
#   --extra-at  also measure N calls with 10 unreferenced text columns
#               (default: the largest --calls; 0 for none)
#   --out       where the report goes (default BENCHMARKS.md)
#
# For each data set (seeded generator, seed 42, in bench/data/, gitignored) and each run, it
# times `wc -l` over the two CSV files (a floor), then, ungrouped and `--by agent`, each of
# kpiblend, DuckDB and Polars as a whole process (start-up and CSV parsing included), in an
# order that rotates from run to run. Wall time and peak RSS come from `/usr/bin/time -v`
# and the clock. The files are read once beforehand so every run sees a warm page cache.
# Afterwards bench/suite/compare.py checks that the three tools give the same numbers, and
# bench/suite/report.py writes medians, peak memory, MB/s and ratios to the report.
#
# DuckDB and Polars are benchmark tools only: they go into a virtualenv in bench/.venv.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

calls_arg=1000000,10000000
runs=5
extra_at=""
out="$root/BENCHMARKS.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --calls) calls_arg="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --extra-at) extra_at="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
IFS=',' read -r -a calls_list <<< "$calls_arg"
if [ -z "$extra_at" ]; then
    extra_at=$(printf '%s\n' "${calls_list[@]}" | sort -n | tail -1)
fi
extra_columns=10

if [ ! -x /usr/bin/time ]; then
    echo "bench/run.sh: /usr/bin/time (GNU time) is needed for peak memory" >&2
    exit 2
fi

# --- tools ------------------------------------------------------------------------------
venv="$root/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import duckdb, polars' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check duckdb polars
fi
py="$venv/bin/python"

echo "building kpiblend (release)..."
cargo build --release --quiet --bin kpiblend --example gen_data
results="$root/bench/data/results-$(date +%Y%m%dT%H%M%S)"
mkdir -p "$results"
# Private copies: target/ is shared, and a rebuild during the run must not swap binaries.
cp "$root/target/release/kpiblend" "$results/kpiblend"
cp "$root/target/release/examples/gen_data" "$results/gen_data"
kpiblend="$results/kpiblend"
gen_data="$results/gen_data"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock examples 2>/dev/null)" ]; then
    rev="$rev (with uncommitted changes in src/, Cargo.*, examples/)"
fi
echo "$rev" > "$results/kpiblend-rev"
times="$results/times.tsv"
summary="$results/compare.jsonl"
datasets_tsv="$results/datasets.tsv"
printf 'dataset\tmode\ttool\trun\twall_s\tmax_rss_kb\texit\n' > "$times"
printf 'dataset\tcalls\textra_columns\tcalls_bytes\tsurveys_bytes\tcalls_rows\tsurveys_rows\n' \
    > "$datasets_tsv"
: > "$summary"

# --- data -------------------------------------------------------------------------------
datasets=()
for n in "${calls_list[@]}"; do
    datasets+=("$n:0")
    if [ "$n" = "$extra_at" ]; then
        datasets+=("$n:$extra_columns")
    fi
done

dataset_dir() { # CALLS EXTRA
    if [ "$2" = 0 ]; then
        echo "$root/bench/data/bench-calls$1"
    else
        echo "$root/bench/data/bench-calls$1-extra$2"
    fi
}

for ds in "${datasets[@]}"; do
    n="${ds%%:*}"
    extra="${ds##*:}"
    dir=$(dataset_dir "$n" "$extra")
    stamp="gen_data --calls $n --seed 42 --extra-text-columns $extra"
    if [ ! -f "$dir/.generated" ] || [ "$(cat "$dir/.generated")" != "$stamp" ]; then
        echo "generating $dir..."
        rm -f "$dir/.generated"
        "$gen_data" --calls "$n" --seed 42 --extra-text-columns "$extra" --out "$dir"
        echo "$stamp" > "$dir/.generated"
    fi
    # data rows (the calls file has quoted newlines, so these count records, not lines)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$dir")" "$n" "$extra" \
        "$(stat -c %s "$dir/calls.csv")" "$(stat -c %s "$dir/surveys.csv")" "$n" \
        "$(($(wc -l < "$dir/surveys.csv") - 1))" >> "$datasets_tsv"
done

# --- timing -----------------------------------------------------------------------------
# measure DATASET MODE TOOL RUN OUTFILE COMMAND...: runs COMMAND with stdout to OUTFILE and
# appends wall time and peak RSS to times.tsv.
measure() {
    local dataset="$1" mode="$2" tool="$3" run="$4" outfile="$5"
    shift 5
    local tv="$results/time.txt" err="$results/$dataset.$mode.$tool.stderr"
    local start end rc=0
    start=$(date +%s%N)
    /usr/bin/time -v -o "$tv" "$@" > "$outfile" 2> "$err" || rc=$?
    end=$(date +%s%N)
    local rss
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    if [ "$rc" != 0 ]; then
        echo "  $tool $mode run $run FAILED (exit $rc):" >&2
        tail -5 "$err" >&2
    fi
    local wall
    wall=$(awk -v ns=$((end - start)) 'BEGIN {printf "%.4f", ns / 1e9}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$dataset" "$mode" "$tool" "$run" "$wall" \
        "${rss:-0}" "$rc" >> "$times"
    printf '  run %s  %-6s %-9s %8ss  %8s KB%s\n' "$run" "$mode" "$tool" "$wall" "${rss:-?}" \
        "$([ "$rc" = 0 ] || echo "  exit $rc")"
}

tool_command() { # TOOL MODE DIR OUTFILE -> the command, in the array `cmd`
    local tool="$1" mode="$2" dir="$3" outfile="$4" by=()
    if [ "$mode" = agent ]; then by=(--by agent); fi
    case "$tool" in
        kpiblend) cmd=("$kpiblend" eval examples/contact_center.kpi
                       --data "calls=$dir/calls.csv" --data "surveys=$dir/surveys.csv"
                       --format json "${by[@]}") ;;
        duckdb) cmd=("$py" bench/suite/duckdb_suite.py --calls "$dir/calls.csv"
                     --surveys "$dir/surveys.csv" "${by[@]}" --out "$outfile") ;;
        polars) cmd=("$py" bench/suite/polars_suite.py --calls "$dir/calls.csv"
                     --surveys "$dir/surveys.csv" "${by[@]}" --out "$outfile") ;;
    esac
}

tools=(kpiblend duckdb polars)
status=0
cat /proc/loadavg > "$results/loadavg" 2>/dev/null || true
for ds in "${datasets[@]}"; do
    n="${ds%%:*}"
    extra="${ds##*:}"
    dir=$(dataset_dir "$n" "$extra")
    name=$(basename "$dir")
    echo "== $name ($(du -sh "$dir" | cut -f1)), $runs runs"
    cat "$dir/calls.csv" "$dir/surveys.csv" > /dev/null   # warm the page cache
    for ((r = 1; r <= runs; r++)); do
        measure "$name" all wc "$r" /dev/null wc -l "$dir/calls.csv" "$dir/surveys.csv"
        for mode in all agent; do
            for ((t = 0; t < ${#tools[@]}; t++)); do
                tool=${tools[$(((t + r) % ${#tools[@]}))]}
                result="$results/$name.$mode.$tool.json"
                rm -f "$result"
                tool_command "$tool" "$mode" "$dir" "$result"
                if [ "$tool" = kpiblend ]; then
                    measure "$name" "$mode" "$tool" "$r" "$result" "${cmd[@]}"
                else
                    measure "$name" "$mode" "$tool" "$r" /dev/null "${cmd[@]}"
                fi
            done
        done
    done
    for mode in all agent; do
        if ! "$py" bench/suite/compare.py --label "$name $mode" \
            --kpiblend "$results/$name.$mode.kpiblend.json" \
            --other "duckdb=$results/$name.$mode.duckdb.json" \
            --other "polars=$results/$name.$mode.polars.json" --summary "$summary"; then
            status=1
        fi
    done
done

cat /proc/loadavg >> "$results/loadavg" 2>/dev/null || true
"$py" bench/suite/report.py --results "$results" --runs "$runs" --out "$out"
echo "raw measurements: $results; report: $out"
if [ $status -ne 0 ]; then
    echo "bench/run.sh: the tools disagree (see above and the report)" >&2
fi
exit $status

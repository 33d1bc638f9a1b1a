#!/usr/bin/env bash
# Cross-checks kpiblend's evaluation of examples/contact_center.kpi against DuckDB.
#
#   bench/crosscheck/crosscheck.sh [SEED:CALLS ...]      (default: 42:5000 7:200000)
#
# For each SEED:CALLS it generates data with the repository's generator, evaluates the KPI
# file with the release binary (ungrouped, --by site, agent, week, site,week, queue,agent,
# and with --where filters; JSON; the list is `crosscheck.py --list`), and runs
# crosscheck.py, which computes every KPI, status and blend again with SQL in DuckDB and
# compares them value by value (relative difference <= 1e-9, same nulls, same groups in the
# same order). Exits non-zero when any run has a mismatch.
#
# DuckDB comes from PyPI into a virtualenv in bench/.venv; generated data and kpiblend's
# outputs go to bench/data/ (both gitignored).

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# shellcheck source=venv.sh
. "$here/venv.sh"

cargo build --release --quiet --bin kpiblend --example gen_data
kpiblend="$root/target/release/kpiblend"
gen_data="$root/target/release/examples/gen_data"

runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
    runs=(42:5000 7:200000)
fi

status=0
for run in "${runs[@]}"; do
    seed="${run%%:*}"
    calls="${run##*:}"
    dir="$root/bench/data/crosscheck-seed$seed-calls$calls"
    out="$dir/out"
    mkdir -p "$out"
    "$gen_data" --calls "$calls" --seed "$seed" --out "$dir" 2>"$out/gen_data.log"
    while IFS='|' read -r name by where; do
        args=(eval examples/contact_center.kpi
            --data "calls=$dir/calls.csv" --data "surveys=$dir/surveys.csv" --format json)
        if [ -n "$by" ]; then
            args+=(--by "$by")
        fi
        if [ -n "$where" ]; then
            args+=(--where "$where")
        fi
        start=$(date +%s.%N)
        if ! "$kpiblend" "${args[@]}" >"$out/$name.json" 2>"$out/$name.stderr"; then
            echo "kpiblend ${args[*]} failed:" >&2
            cat "$out/$name.stderr" >&2
            exit 2
        fi
        end=$(date +%s.%N)
        printf 'kpiblend %-18s %6.2fs\n' "$name" "$(echo "$end - $start" | bc)"
    done < <("$venv/bin/python" "$here/crosscheck.py" --list)
    if ! "$venv/bin/python" "$here/crosscheck.py" --data "$dir" --results "$out" \
        --label "seed $seed, $calls calls"; then
        status=1
    fi
    echo
done

if [ $status -ne 0 ]; then
    echo "crosscheck: MISMATCHES found" >&2
else
    echo "crosscheck: every value matches"
fi
exit $status

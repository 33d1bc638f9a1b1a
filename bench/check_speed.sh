#!/usr/bin/env bash
# How long `kpiblend check` takes on a generated file of N KPIs (default 5000).
# Prints the median of several runs and the per-KPI cost. Usage: bench/check_speed.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
runs=${2:-11}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
    echo 'dataset calls = csv("calls.csv")'
    echo 'dataset surveys = csv("surveys.csv") { contact_id -> calls.contact_id }'
    echo 'dim site = calls.site'
    for ((i = 0; i < n; i++)); do
        case $((i % 5)) in
            0) echo "kpi k$i \"KPI $i\" = avg(calls.talk_s + calls.hold_s where not calls.abandoned) unit seconds target <= ${i}s warn <= $((i + 60))s" ;;
            1) echo "kpi k$i = rate(calls.wait_s <= 20s and calls.queue == \"q$i\") target >= 80%" ;;
            2) echo "kpi k$i = sum(case calls.complexity when \"low\" then 1 when \"medium\" then 2 else 4 end) / k$((i - 2))" ;;
            3) echo "kpi k$i = avg(surveys.csat where calls.escalated) target >= 4.2 min 30 tags northstar" ;;
            4) echo "blend b$i = k$((i - 4)) with k$((i - 3)) weights 60%, 40% guard k$((i - 3)) >= 70%" ;;
        esac
    done
} > "$dir/many.kpi"
times=()
for ((r = 0; r < runs; r++)); do
    start=$(date +%s%N)
    ./target/release/kpiblend check --no-data "$dir/many.kpi" > /dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
median=${sorted[$((runs / 2))]}
echo "kpiblend check --no-data on $n definitions ($(wc -l < "$dir/many.kpi") lines, $(wc -c < "$dir/many.kpi") bytes): median ${median} µs over $runs runs (min ${sorted[0]}, max ${sorted[$((runs - 1))]})"

#!/usr/bin/env bash
# How fast the REPL answers once data is loaded: a scripted session over N calls
# (default 1,000,000) with `:timer on`; prints each query's time and the median.
# Usage: bench/repl_speed.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
cargo build --release --quiet
dir=bench/data/repl-calls$n
if [ ! -f "$dir/calls.csv" ]; then
    cargo run --release --quiet --example gen_data -- --calls "$n" --out "$dir"
fi
script=$(printf ':timer on\n%s\n' aht aht csat fcr "aht, csat, aht_with_csat by site" "avg(calls.wait_s where calls.queue == \"billing\")" "nps by agent" aht csat fcr)
times=$(printf '%s\n' "$script" | target/release/kpiblend repl examples/contact_center.kpi \
    --data calls="$dir/calls.csv" --data surveys="$dir/surveys.csv" 2>/dev/null | sed -n 's/^time: \([0-9.]*\) ms$/\1/p')
sorted=($(echo "$times" | sort -n))
count=${#sorted[@]}
echo "REPL queries over $n calls: $count queries, median ${sorted[$((count / 2))]} ms, min ${sorted[0]} ms, max ${sorted[$((count - 1))]} ms"

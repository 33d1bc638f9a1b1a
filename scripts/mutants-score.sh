#!/usr/bin/env bash
# The mutation score per area from a `scripts/mutants.sh` run:
#
#   scripts/mutants-score.sh [OUT_DIR]      (default /tmp/kpiblend-mutants)
#
# score = (caught + timed out) / (caught + timed out + missed); mutants that do not compile
# (unviable) do not count. The run tests mutants in random order, so a run stopped early is a
# uniform random sample; the 95% interval (Wilson) says how far the whole may be from it.
set -euo pipefail
dir=${1:-/tmp/kpiblend-mutants}/mutants.out
if [ ! -d "$dir" ]; then
    echo "no cargo-mutants output in $dir" >&2
    exit 2
fi
for kind in caught missed timeout unviable; do
    f=$dir/$kind.txt
    [ -f "$f" ] || continue
    sed "s/^/$kind /" "$f"
done | awk '
    function area(path) {
        if (path ~ /^src\/syntax\//) return "parser (src/syntax)"
        if (path ~ /^src\/check\//) return "checker (src/check)"
        if (path ~ /^src\/eval\//) return "evaluator (src/eval)"
        if (path ~ /^src\/data\//) return "loader (src/data)"
        return "other"
    }
    function wilson(k, n,   z, p, c, h) {
        if (n == 0) return "-"
        z = 1.96; p = k / n
        c = (p + z * z / (2 * n)) / (1 + z * z / n)
        h = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return sprintf("%.1f-%.1f%%", 100 * (c - h), 100 * (c + h))
    }
    {
        a = area($2); seen[a] = 1; seen["all"] = 1
        n[a, $1]++; n["all", $1]++
    }
    END {
        printf "%-22s %7s %7s %7s %9s %7s %13s\n", "area", "caught", "timeout", "missed", "unviable", "score", "95% interval"
        split("parser (src/syntax)|checker (src/check)|evaluator (src/eval)|loader (src/data)|other|all", order, "|")
        for (i = 1; i <= 6; i++) {
            a = order[i]
            if (!(a in seen)) continue
            k = n[a, "caught"] + n[a, "timeout"]; t = k + n[a, "missed"]
            printf "%-22s %7d %7d %7d %9d %6.1f%% %13s\n", a, n[a, "caught"], n[a, "timeout"], \
                n[a, "missed"], n[a, "unviable"], t ? 100 * k / t : 0, wilson(k, t)
        }
    }'

#!/usr/bin/env bash
# Runs one cargo-fuzz target for a given time.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET is parse_check, csv_load or eval_small (see fuzz/fuzz_targets/). The corpus lives
# in fuzz/corpus/TARGET (not committed); it is seeded from examples/, library/, tests/corpus/,
# tests/fixtures/ and the committed findings in tests/fuzz-regressions/TARGET/. A crash or
# timeout lands in fuzz/artifacts/TARGET/: copy it to tests/fuzz-regressions/TARGET/ and add
# a test (see docs/reliability.md).
#
# Environment: SANITIZER (default `none`: kpiblend forbids unsafe code, and without ASan the
# target runs about twice as fast; use `address` for the dependencies' unsafe code),
# CMP (default 0: no comparison tracing, which libFuzzer spends half its time on here, so
# runs go about twice as fast with the same coverage; CMP=1 turns it back on for hunting
# magic values), JOBS (default 1), TIMEOUT (seconds per input before it counts as a hang, default 10),
# RSS_MB (default 2048), KPIBLEND_FUZZ_KNOWN (known bugs to step over; see below).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer options...]" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2
case $target in
    parse_check | csv_load | eval_small) ;;
    *)
        echo "unknown target \`$target\`; expected parse_check, csv_load or eval_small" >&2
        exit 2
        ;;
esac

# Known bugs (listed in docs/reliability.md) that the targets step over, so a run can find
# new ones; set KPIBLEND_FUZZ_KNOWN= (empty) to stop at them too.
export KPIBLEND_FUZZ_KNOWN=${KPIBLEND_FUZZ_KNOWN-}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..." >&2
    cargo install cargo-fuzz
fi
# cargo-fuzz needs a nightly compiler; without one, let stable act as nightly.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi

corpus=corpus/$target
mkdir -p "$corpus" "artifacts/$target"

# Seeds: small files only (libFuzzer truncates long inputs anyway).
seed() {
    local f
    for f in "$@"; do
        if [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ]; then
            cp "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-16)"
        fi
    done
}
shopt -s nullglob globstar
case $target in
    parse_check)
        seed "$root"/examples/*.kpi "$root"/library/*.kpi "$root"/tests/corpus/**/*.kpi \
            "$root"/tests/fixtures/**/*.kpi
        ;;
    csv_load)
        seed "$root"/examples/data/*.csv "$root"/library/data/*.csv \
            "$root"/tests/corpus/**/*.csv "$root"/tests/fixtures/**/*.csv
        ;;
    eval_small)
        # Any bytes decode to a case; files give the fuzzer varied starting points.
        seed "$root"/tests/corpus/valid/*.kpi "$root"/tests/fixtures/eval/fail_on/*
        ;;
esac
seed "$root"/tests/fuzz-regressions/"$target"/*

# Per-target defaults (later options on the command line win).
defaults=()
case $target in
    # A case needs a few hundred bytes of decisions; start there instead of growing to it.
    eval_small) defaults=(-max_len=512 -len_control=0) ;;
    # Keywords and punctuation stand in for the comparison tracing left out by default.
    parse_check) defaults=(-max_len=4096 -dict="$root/fuzz/dict/parse_check.dict") ;;
    *) defaults=(-max_len=4096) ;;
esac
build=(-O -a --sanitizer "${SANITIZER:-none}")
if [ "${CMP:-0}" = 0 ]; then
    build+=(--no-trace-compares)
fi
parallel=()
if [ "${JOBS:-1}" -gt 1 ]; then
    # Each job logs to fuzz-N.log in fuzz/.
    parallel=(-jobs="$JOBS" -workers="$JOBS")
fi
cargo "${toolchain[@]}" fuzz run "${build[@]}" "$target" "$corpus" -- \
    -max_total_time="$seconds" \
    -timeout="${TIMEOUT:-10}" \
    -rss_limit_mb="${RSS_MB:-2048}" \
    -print_final_stats=1 \
    "${defaults[@]}" \
    "${parallel[@]}" \
    "$@"

#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the parser, checker, evaluator and loader, for a given
# time, in random order, so that whatever finishes is a uniform random sample.
#
#   scripts/mutants.sh SECONDS [OUT_DIR]
#
# About 3,600 mutants in all (`src/syntax`, `src/check`, `src/eval`, `src/data`); each takes
# 15-30 s here (an incremental build of the crate and its test binaries, then the unit and
# integration tests through nextest), so a full run is a day on two cores. The run works on
# a fresh clone of the committed HEAD (cargo-mutants copies the tree it tests, and the
# working tree may hold gigabytes of benchmark data or half-made edits), stops after SECONDS,
# and leaves cargo-mutants' caught.txt, missed.txt, timeout.txt and unviable.txt in
# OUT_DIR/mutants.out (default /tmp/kpiblend-mutants). `scripts/mutants-score.sh OUT_DIR`
# then gives the score per area with a 95% interval.
#
# Four tests are left out: they bound time or memory on large inputs (tens of seconds in a
# debug build) and exercise nothing the other tests do not.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 SECONDS [OUT_DIR]" >&2
    exit 2
fi
seconds=$1
out=${2:-/tmp/kpiblend-mutants}
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in cargo-mutants cargo-nextest; do
    if ! command -v "$tool" >/dev/null; then
        echo "installing $tool..." >&2
        cargo install --locked "$tool"
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$root" "$work/kpiblend"
mkdir -p "$out"
cd "$work/kpiblend"

files=()
for f in src/syntax/*.rs src/check/*.rs src/eval/*.rs src/data/*.rs src/data/fast/*.rs; do
    files+=(-f "$f")
done
slow='test(=corpus::fifty_thousand_small_kpis_check_clean) | test(=corpus::ten_thousand_errors_are_cut_to_one_hundred_and_a_summary) | test(=reliability::d07_pathological_inputs_check_quickly) | test(=reliability::c17_clean_files_stream_in_bounded_memory)'

# `timeout` ends the run; the outcome files are appended mutant by mutant.
status=0
CARGO_PROFILE_DEV_DEBUG=0 timeout --foreground "$seconds" \
    cargo mutants "${files[@]}" --shuffle --test-tool nextest -j 1 \
    --timeout 180 --build-timeout 600 -o "$out" \
    -- --lib --test it -E "not ($slow)" || status=$?
# 124: stopped by `timeout`; 2: some mutants were missed; 3: some timed out.
case $status in 0 | 2 | 3 | 124) ;; *) exit "$status" ;; esac
"$root/scripts/mutants-score.sh" "$out"

#!/usr/bin/env bash
# Re-applies one mutant by hand to a clean clone of HEAD and runs the given tests, to see
# that a test written for a surviving mutant kills it:
#
#   scripts/mutant-check.sh FILE OLD NEW -- CARGO_TEST_ARGS...
#
# OLD must occur exactly once in FILE (give enough context); it is replaced by NEW.
# Prints KILLED (with the failing test), SURVIVED or UNVIABLE (does not compile).
# Example:
#   scripts/mutant-check.sh src/data/parse.rs "usize::from(neg || b[0]" "usize::from(neg && b[0]" \
#       -- --lib number_signs
# The clone lives in ${MUTANT_CHECK_DIR:-/tmp/kpiblend-mutant-check} and is refreshed on each
# run; its build directory is kept between runs.
set -uo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
    echo "usage: $0 FILE OLD NEW -- CARGO_TEST_ARGS..." >&2
    exit 2
fi
file=$1 old=$2 new=$3
shift 4
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MUTANT_CHECK_DIR:-/tmp/kpiblend-mutant-check}
if [ ! -d "$dir/.git" ]; then
    git clone --quiet "$root" "$dir" || exit 2
fi
cd "$dir" || exit 2
git fetch --quiet "$root" HEAD && git reset --quiet --hard FETCH_HEAD || exit 2
python3 - "$file" "$old" "$new" <<'PY' || exit 2
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
n = text.count(old)
if n != 1:
    sys.exit(f"{old!r} occurs {n} times in {path}; give more context")
open(path, "w").write(text.replace(old, new))
PY
log=$(mktemp)
cargo test -q "$@" >"$log" 2>&1
rc=$?
git checkout --quiet -- "$file"
if grep -q '^error\[E' "$log"; then
    echo "UNVIABLE"
elif [ $rc -ne 0 ]; then
    echo "KILLED: $(grep -m1 -E 'panicked at|^test .* FAILED' "$log")"
else
    echo "SURVIVED"
fi
rm -f "$log"

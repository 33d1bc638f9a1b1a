#!/usr/bin/env bash
# Random cross-check against DuckDB: generated tables (nulls, empty tables, linked
# datasets) and generated KPI files (every aggregate, where filters, arithmetic, case,
# coalesce, safe_div, round), each evaluated by kpiblend (ungrouped, --by, --where, a view,
# a --kpi subset) and by DuckDB SQL written from docs/language.md; every value compared.
#
#   bench/crosscheck/random.sh [SEED [CASES]]      (default: seed 1, 500 cases)
#
# Exits non-zero on any mismatch; failing cases are kept under bench/data/xcheck-cases/
# with a case.json saying what differed. See random_xcheck.py --help for the options.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# shellcheck source=venv.sh
. "$here/venv.sh"

cargo build --release --quiet --bin kpiblend
exec "$venv/bin/python" "$here/random_xcheck.py" --seed "${1:-1}" --cases "${2:-500}" \
    --kpiblend "$root/target/release/kpiblend" --out "$root/bench/data/xcheck-cases"

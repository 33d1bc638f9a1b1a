# Sourced by the cross-check scripts: a virtualenv in bench/.venv with DuckDB from PyPI
# (both gitignored). Needs `root` (the repository); sets `venv`.
venv="$root/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check duckdb
fi

#!/usr/bin/env bash
# Set everything up, then run the whole check: ruff, mypy on cases/, and the test suite against
# SQLite and PostgreSQL. Extra arguments go to pytest (e.g. scripts/test.sh -k ledger).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/postgres.sh
export ARREARS_TEST_POSTGRES_URL=${ARREARS_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy cases/"
.venv/bin/mypy
echo "== pytest"
# One test process per core (pytest-xdist): the suite is mostly CPU-bound, and on two cores this
# takes it from about 23 to 18 minutes on a slow machine of this kind.
.venv/bin/pytest -n auto "$@"

#!/usr/bin/env bash
# The whole test suite: lint, then pytest against real PostgreSQL, the local endpoint and Airflow.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ruff check .
exec python -m pytest "$@"

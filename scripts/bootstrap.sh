#!/usr/bin/env bash
# Sourced by the other scripts: a virtualenv with the pinned lock, and the environment Airflow reads.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3.11}"
command -v "$PYTHON_BIN" >/dev/null 2>&1 || PYTHON_BIN=python3

if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "Python 3.11 is required (found $("$PYTHON_BIN" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$ROOT/requirements.txt" "$VENV/.installed-requirements.txt"; then
    echo "Installing the pinned requirements into .venv (first run takes a few minutes)..."
    "$PYTHON_BIN" -m venv "$VENV"
    # (The filter hides pip's notes about package folders this machine is configured with but lacks.)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.txt" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    cp "$ROOT/requirements.txt" "$VENV/.installed-requirements.txt"
fi

export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT:$ROOT/plugins:$ROOT/dags${PYTHONPATH:+:$PYTHONPATH}"
export OPENBLAS_NUM_THREADS=1
export PYTHONDONTWRITEBYTECODE=1
cd "$ROOT"

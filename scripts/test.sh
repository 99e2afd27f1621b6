#!/usr/bin/env bash
# The whole test suite: lint, then pytest against real PostgreSQL, the local endpoint and Airflow.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
# The browser tests (tests/ui) drive Debian's Chromium; they fail, never skip, without it.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq chromium
    else
        echo "The browser tests need Chromium. Install it, then run this again:" >&2
        echo "    sudo apt-get install -y chromium      # Debian/Ubuntu (the 'chromium' package)" >&2
        exit 1
    fi
fi
ruff check .
exec python -m pytest "$@"
